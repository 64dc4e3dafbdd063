"""Step decays (hf_sched.step_decays): Factor against d2l's FactorScheduler and torch StepLR /
ExponentialLR, MultiStep against torch MultiStepLR; errors.

Index convention: see tests/lr_reference.py.
"""

from __future__ import annotations


import pytest
from torch.optim import lr_scheduler as tls

from hf_sched.registry import build_schedule
from hf_sched.schedules import Factor, MultiStep
from lr_reference import assert_seq_close, torch_lrs


class D2LFactor:
    """d2l: the stateful recursion ``lr <- max(stop_factor_lr, lr * factor)`` on each call."""

    def __init__(self, factor: float, stop_factor_lr: float, base_lr: float) -> None:
        self.factor, self.stop, self.lr = factor, stop_factor_lr, base_lr

    def __call__(self, num_update: int) -> float:
        self.lr = max(self.stop, self.lr * self.factor)
        return self.lr


def test_factor_matches_d2l_recursion_with_floor():
    # The book's example: FactorScheduler(factor=0.9, stop_factor_lr=1e-2, base_lr=2.0).
    # d2l's LR after n updates: base_lr, then the value its n-th call returns.
    base = 2.0
    ref = D2LFactor(factor=0.9, stop_factor_lr=1e-2, base_lr=base)
    want = [base] + [ref(k) for k in range(80)]
    s = build_schedule(
        "factor", num_training_steps=80, num_warmup_steps=0, factor=0.9, stop_factor_lr=1e-2, lr_init=base
    )
    assert_seq_close([base * s(k) for k in range(81)], want)
    assert s.min_lr_ratio == pytest.approx(1e-2 / base, abs=0) and s(80) == s.min_lr_ratio
    # the same floor as a ratio
    t = build_schedule("factor", num_training_steps=80, num_warmup_steps=0, factor=0.9, min_lr_ratio=0.005)
    assert t == s


def test_factor_step_size_matches_torch_steplr_and_exponentiallr():
    lr, n = 0.3, 60
    s = build_schedule("factor", num_training_steps=n, num_warmup_steps=0, factor=0.5, step_size=7)
    want = torch_lrs(lambda o: tls.StepLR(o, step_size=7, gamma=0.5), n, lr)
    assert_seq_close([lr * s(k) for k in range(n + 1)], want)
    e = build_schedule("exponential_decay", num_training_steps=n, num_warmup_steps=0, factor=0.95)
    want = torch_lrs(lambda o: tls.ExponentialLR(o, gamma=0.95), n, lr)
    assert_seq_close([lr * e(k) for k in range(n + 1)], want)


def test_factor_default_reaches_one_percent_of_the_peak_at_T():
    s = build_schedule("factor", num_training_steps=1100)
    assert s.num_warmup_steps == 110 and s.factor == 0.01 ** (1 / 990)
    assert s(110) == 1.0 and abs(s(1100) - 0.01) < 1e-13
    k = build_schedule("factor", num_training_steps=100, num_warmup_steps=0, step_size=25)
    assert k.factor == 0.01 ** 0.25 and [k(x) for x in (24, 25)] == [1.0, k.factor] and abs(k(100) - 0.01) < 1e-15


def test_factor_after_warmup():
    s = Factor(num_training_steps=20, num_warmup_steps=4, factor=0.5, min_lr_ratio=0.1)
    assert [s(k) for k in range(10)] == [0.0, 0.25, 0.5, 0.75, 1.0, 0.5, 0.25, 0.125, 0.1, 0.1]


@pytest.mark.parametrize(
    "milestones, torch_milestones",
    [([15, 30], [15, 30]), ([0.3, 0.6], [15, 30]), ([40, 10, 10], [10, 10, 40]), ([50], [50]), ([], [])],
)
def test_multistep_matches_torch_multisteplr(milestones, torch_milestones):
    # d2l's own example: MultiStepLR(trainer, milestones=[15, 30], gamma=0.5), 50 steps.
    lr, n = 0.5, 50
    s = build_schedule("multistep", num_training_steps=n, num_warmup_steps=0, milestones=milestones, gamma=0.5)
    want = torch_lrs(lambda o: tls.MultiStepLR(o, milestones=torch_milestones, gamma=0.5), n + 3, lr)
    assert_seq_close([lr * s(k) for k in range(n + 4)][: n + 1], want[: n + 1])
    assert s.milestones == tuple(sorted(torch_milestones))


def test_multistep_fractions_are_progress_after_warmup():
    # without warmup a float is a fraction of T: ceil(0.75 * 30) = 23 (exact decimal rounding)
    s0 = build_schedule("multistep", num_training_steps=30, num_warmup_steps=0, milestones=[0.5, 0.75])
    assert s0.milestones == (15, 23)
    # with warmup it is the progress p after warmup: W + ceil(m (T - W)); ints stay absolute steps
    s = build_schedule("multistep", num_training_steps=30, milestones=[0.5, 0.75, 29], gamma=0.1)
    assert s.num_warmup_steps == 3 and s.milestones == (3 + 14, 3 + 21, 29)
    assert [s(k) for k in (0, 1, 2, 3, 16)] == [0.0, 1 / 3, 2 / 3, 1.0, 1.0]
    assert s(17) == 0.1 and s(23) == 0.1 and s(24) == pytest.approx(0.01, rel=1e-15)
    assert s(29) == pytest.approx(0.001, rel=1e-15) and s(99) == s(30)
    assert build_schedule("multistep", num_training_steps=10, num_warmup_steps=0, milestones=4).milestones == (4,)
    # the registry's default: x0.1 at 50% and 75% of the steps after warmup (valid for any warmup)
    d = build_schedule("multistep", num_training_steps=110)
    assert d.num_warmup_steps == 11 and d.milestones == (11 + 50, 11 + 75) and d.gamma == 0.1
    assert build_schedule("multistep", num_training_steps=110, num_warmup_steps=10).milestones == (60, 85)
    assert build_schedule("multistep", num_training_steps=10, num_warmup_steps=9).milestones == (10, 10)
    assert build_schedule("multistep", num_training_steps=10, num_warmup_steps=10).milestones == ()  # all warmup


# ---- errors: each names the parameter, the value and what is allowed ---------------------

ERRORS = [
    (lambda: Factor(10, factor=0.0), ValueError, r"factor must be a number in \(0, 1\], got 0.0"),
    (lambda: Factor(10, factor=1.5), ValueError, r"factor must be a number in \(0, 1\], got 1.5"),
    (lambda: Factor(10, factor="0.9"), TypeError, r"factor must be a number, got '0.9' \(str\)"),
    (lambda: Factor(10, factor=0.9, step_size=0), ValueError, r"step_size must be an integer >= 1, got 0"),
    (lambda: Factor(10, factor=0.9, min_lr_ratio=2), ValueError, r"min_lr_ratio must be a number in \[0, 1\], got 2"),
    (lambda: MultiStep(10, 2, milestones=(2,)), ValueError, r"milestones\[0\] must be a step in \[3, 10\] .*got 2"),
    (lambda: MultiStep(10, milestones=(5, 11)), ValueError, r"milestones\[1\] must be a step in \[1, 10\] .*got 11"),
    (lambda: MultiStep(10, milestones=(0.0,)), ValueError, r"milestones\[0\] as a float is a fraction in \(0, 1\] \(of 10 steps\), got 0.0"),
    (lambda: MultiStep(10, milestones=(5.0,)), ValueError, r"got 5.0 \(pass an int for a number of steps\)"),
    (lambda: MultiStep(10, milestones=("5",)), TypeError, r"milestones\[0\] must be an int number of steps or a float"),
    (lambda: MultiStep(10, milestones=5), TypeError, r"milestones must be a list of steps \(int\) or fractions"),
    (lambda: MultiStep(10, milestones=(5,), gamma=0), ValueError, r"gamma must be a number in \(0, 1\], got 0"),
]


@pytest.mark.parametrize("make, exc, message", ERRORS)
def test_bad_arguments_raise_clear_errors(make, exc, message):
    with pytest.raises(exc, match=message):
        make()
