"""Inverse-square-root decays (hf_sched.inverse_sqrt): SquareRoot against d2l's SquareRootScheduler.

Index convention: see tests/lr_reference.py.
"""

from __future__ import annotations


import pytest

from hf_sched.registry import build_schedule
from hf_sched.schedules import SquareRoot
from lr_reference import assert_seq_close


class D2LSquareRoot:
    """d2l: ``lr * (num_update + 1) ** -0.5`` (stateless)."""

    def __init__(self, lr: float) -> None:
        self.lr = lr

    def __call__(self, num_update: int) -> float:
        return self.lr * (num_update + 1.0) ** -0.5


def test_squareroot_matches_d2l_class_semantics():
    # f(s) * lr == SquareRootScheduler(lr)(num_update=s): num_update = optimizer steps taken.
    lr = 0.1
    ref = D2LSquareRoot(lr)
    s = build_schedule("squareroot", num_training_steps=500, num_warmup_steps=0)
    assert_seq_close([lr * s(k) for k in range(501)], [ref(k) for k in range(501)])
    assert (s(0), s(3), s(99), s(500), s(10_000)) == (1.0, 0.5, 0.1, s(500), s(500))


def test_squareroot_after_warmup_counts_from_the_end_of_warmup():
    w = 10
    s = build_schedule("squareroot", num_training_steps=200, num_warmup_steps=w)
    ref = D2LSquareRoot(1.0)
    assert [s(k) for k in range(w)] == [k / w for k in range(w)]
    assert_seq_close([s(k) for k in range(w, 201)], [ref(k - w) for k in range(w, 201)])
    assert s.num_warmup_steps == w and build_schedule("squareroot", num_training_steps=200).num_warmup_steps == 20


# ---- errors: each names the parameter, the value and what is allowed ---------------------

ERRORS = [
    (lambda: SquareRoot(10, 11), ValueError, r"num_warmup_steps must be in \[0, num_training_steps=10\], got 11"),
]


@pytest.mark.parametrize("make, exc, message", ERRORS)
def test_bad_arguments_raise_clear_errors(make, exc, message):
    with pytest.raises(exc, match=message):
        make()
