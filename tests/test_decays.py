"""Decays (hf_sched.decays): BERT's schedule against its TF code, d2l's CosineScheduler (the
``d2lcosine`` name), warmup-stable-decay against transformers; errors.

Index convention: see tests/lr_reference.py.
"""

from __future__ import annotations

import math
import warnings
from typing import Any

import pytest

from hf_sched import get_scheduler
from hf_sched.registry import build_schedule
from hf_sched.schedules import Bert, Cosine
from lr_reference import assert_seq_close, make_optimizer, torch_lrs


class D2LCosine:
    """d2l CosineScheduler(max_update, base_lr, final_lr, warmup_steps, warmup_begin_lr)."""

    def __init__(self, max_update: int, base_lr: float, final_lr: float, warmup_steps: int, warmup_begin_lr: float):
        self.base, self.final, self.max_update = base_lr, final_lr, max_update
        self.warm, self.begin = warmup_steps, warmup_begin_lr
        self.decay_steps = max_update - warmup_steps
        self.current = base_lr

    def __call__(self, epoch: int) -> float:
        if epoch < self.warm:
            return self.begin + (self.base - self.begin) * epoch / self.warm
        if epoch <= self.max_update:
            cos_term = 1 + math.cos(math.pi * (epoch - self.warm) / self.decay_steps)
            self.current = self.final + (self.base - self.final) * cos_term / 2
        return self.current


@pytest.mark.parametrize("warmup, begin", [(0, 0.0), (5, 0.0), (5, 0.05)])
def test_d2lcosine_matches_d2l_cosine_scheduler(warmup, begin):
    # The book's examples: CosineScheduler(max_update=20, base_lr=0.3, final_lr=0.01[, warmup_steps=5]).
    base, final, t = 0.3, 0.01, 20
    ref = D2LCosine(t, base, final, warmup, begin)
    want = [ref(k) for k in range(t + 6)]
    s = build_schedule(
        "d2lcosine", num_training_steps=t, num_warmup_steps=warmup, final_lr=final, warmup_begin_lr=begin, lr_init=base
    )
    assert_seq_close([base * s(k) for k in range(t + 6)], want)
    # The mapping, explicitly: it is the Cosine schedule with the two LRs as ratios of the peak.
    assert s == Cosine(t, warmup, begin / base, "linear", num_cycles=0.5, min_lr_ratio=final / base)


def test_d2lcosine_through_get_scheduler_reads_the_peak_from_the_optimizer():
    opt = make_optimizer(0.3)
    sched = get_scheduler("d2lcosine", opt, num_training_steps=20, num_warmup_steps=5, final_lr=0.01)
    ref = D2LCosine(20, 0.3, 0.01, 5, 0.0)
    got = []
    for k in range(21):
        got.append(opt.param_groups[0]["lr"])
        opt.step()
        sched.step()
    assert_seq_close(got, [ref(k) for k in range(21)])


def bert_reference_lr(step: int, init_lr: float, t: int, w: int, power: float = 1.0, end_lr: float = 0.0) -> float:
    """google-research/bert optimization.py, written out (``global_step`` = steps taken).

    polynomial_decay(init_lr, global_step, decay_steps=t, end_lr, power, cycle=False), then
    for global_step < w: init_lr * global_step / w.
    """
    g = min(step, t)
    decayed = (init_lr - end_lr) * (1 - g / t) ** power + end_lr
    if w and step < w:
        return init_lr * step / w
    return decayed


@pytest.mark.parametrize("t, w, power, end", [(100, 10, 1.0, 0.0), (1000, 100, 1.0, 0.0), (57, 6, 2.0, 1e-6)])
def test_bert_matches_the_tf_reference(t, w, power, end):
    lr = 5e-5
    s = build_schedule("bert", num_training_steps=t, num_warmup_steps=w, power=power, end_ratio=end / lr)
    assert_seq_close([lr * s(k) for k in range(t + 5)], [bert_reference_lr(k, lr, t, w, power, end) for k in range(t + 5)])


def test_bert_steps_down_to_0_9_after_a_10_percent_warmup():
    s = build_schedule("bert", num_training_steps=1000)
    assert s.num_warmup_steps == 100 and not s.continuous_warmup
    assert s(99) == 0.99 and s(100) == 0.9 and s(1000) == 0.0
    assert Bert.continuous_warmup is False and Cosine.continuous_warmup is True


def hf_wsd_lrs(n: int, lr: float, **kw: Any) -> list[float]:
    from transformers.optimization import get_wsd_schedule

    return torch_lrs(lambda o: get_wsd_schedule(o, **kw), n, lr)


@pytest.mark.parametrize("decay_type", ["linear", "cosine", "1-sqrt"])
@pytest.mark.parametrize("warmup_type", ["linear", "cosine", "1-sqrt"])
@pytest.mark.parametrize("min_lr_ratio, num_cycles", [(0.0, 0.5), (0.1, 0.5), (0.05, 0.3)])
def test_wsd_matches_transformers_get_wsd_schedule(decay_type, warmup_type, min_lr_ratio, num_cycles):
    lr, t, w, d = 0.02, 60, 7, 15
    opt = make_optimizer(lr)
    sched = get_scheduler(
        "wsd", opt, num_warmup_steps=w, num_training_steps=t, num_decay_steps=d, warmup_type=warmup_type,
        decay_type=decay_type, min_lr_ratio=min_lr_ratio, num_cycles=num_cycles,
    )
    got = []
    for _ in range(t + 4):
        got.append(opt.param_groups[0]["lr"])
        opt.step()
        sched.step()
    want = hf_wsd_lrs(
        t + 3, lr, num_warmup_steps=w, num_decay_steps=d, num_training_steps=t, warmup_type=warmup_type,
        decay_type=decay_type, min_lr_ratio=min_lr_ratio, num_cycles=num_cycles,
    )
    assert_seq_close(got, want)


@pytest.mark.parametrize("t, w, ratio", [(103, 10, 0.2), (100, 10, None), (10, 9, 0.5), (50, 0, 1.0)])
def test_wsd_decay_ratio_is_ceil_of_ratio_times_T_capped_at_T_minus_W(t, w, ratio):
    kw = {} if ratio is None else {"decay_ratio": ratio}
    s = build_schedule("wsd", num_training_steps=t, num_warmup_steps=w, decay_type="linear", **kw)
    d = min(math.ceil((0.1 if ratio is None else ratio) * t - 1e-9), t - w)
    assert s.num_decay_steps == d
    want = hf_wsd_lrs(t, 1.0, num_warmup_steps=w, num_decay_steps=d, num_training_steps=t, decay_type="linear")
    assert_seq_close([s(k) for k in range(t + 1)], want)


def test_wsd_explicit_stable_steps_then_min_lr():
    s = build_schedule("wsd", num_training_steps=40, num_warmup_steps=5, num_decay_steps=10, num_stable_steps=10,
                       min_lr_ratio=0.1, decay_type="cosine")
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")  # transformers warns when both T and num_stable_steps are given
        want = hf_wsd_lrs(40, 1.0, num_warmup_steps=5, num_decay_steps=10, num_stable_steps=10, num_training_steps=40,
                          min_lr_ratio=0.1)
    assert_seq_close([s(k) for k in range(41)], want)
    assert s(30) == 0.1 and s(40) == 0.1


def test_wsd_decay_ratio_errors():
    with pytest.raises(ValueError, match=r"give only one of num_decay_steps \(5\) and decay_ratio \(0.2\)"):
        build_schedule("wsd", num_training_steps=50, num_decay_steps=5, decay_ratio=0.2)
    with pytest.raises(ValueError, match=r"decay_ratio must be a number in \[0, 1\], got 1.5"):
        build_schedule("wsd", num_training_steps=50, decay_ratio=1.5)


# ---- errors: each names the parameter, the value and what is allowed ---------------------

ERRORS = [
    (lambda: Bert(10, power=0), ValueError, r"power must be a number > 0, got 0"),
    (lambda: Bert(10, end_ratio=1.0), ValueError, r"end_ratio must be a number in \[0, 1\), got 1.0"),
]


@pytest.mark.parametrize("make, exc, message", ERRORS)
def test_bad_arguments_raise_clear_errors(make, exc, message):
    with pytest.raises(exc, match=message):
        make()
