"""Cycles (hf_sched.cycles): OneCycle against torch OneCycleLR, CosineRestarts against torch
CosineAnnealingWarmRestarts and timm's cycle rule; errors.

Index convention: see tests/lr_reference.py.
"""

from __future__ import annotations

import math

import pytest
from torch.optim import lr_scheduler as tls

from hf_sched import get_scheduler
from hf_sched.registry import build_schedule
from hf_sched.schedules import Cosine, CosineRestarts, OneCycle, schedule_from_dict
from lr_reference import assert_seq_close, close, make_optimizer, torch_lrs


ONECYCLE_CASES = [
    (t, pct, anneal, three, div, fdiv)
    for t in (10, 37, 100)
    for pct, three in ((0.3, False), (0.25, True), (0.5, False), (0.45, True), (0.05, False))
    for anneal in ("cos", "linear")
    for div, fdiv in ((25.0, 1e4), (10.0, 3.0))
]


@pytest.mark.parametrize("t, pct, anneal, three, div, fdiv", ONECYCLE_CASES)
def test_onecycle_matches_torch_onecyclelr_over_max_lr(t, pct, anneal, three, div, fdiv):
    max_lr = 0.7
    s = OneCycle(t, pct_start=pct, anneal_strategy=anneal, three_phase=three, div_factor=div, final_div_factor=fdiv)
    want = torch_lrs(
        lambda o: tls.OneCycleLR(
            o, max_lr=max_lr, total_steps=t, pct_start=pct, anneal_strategy=anneal, three_phase=three,
            div_factor=div, final_div_factor=fdiv,
        ),
        t - 1,
    )
    got = [max_lr * s(k) for k in range(t)]
    assert_seq_close(got, want)
    # the final value (reached at s = T - 1) is held at and after T (torch extrapolates at T)
    final = 1.0 / div / fdiv
    assert close(s(t - 1), final) and s(t) == s(t - 1) == s(t + 50) == s.final_value()
    assert s.values(range(t + 3)).tolist() == pytest.approx([s(k) for k in range(t + 3)], abs=1e-15)


def test_onecycle_via_get_scheduler_equals_torch_end_to_end():
    opt_a, opt_b = make_optimizer(0.01), make_optimizer(0.01)
    ours = get_scheduler("onecycle", opt_a, num_training_steps=50, pct_start=0.2, anneal_strategy="linear")
    ref = tls.OneCycleLR(opt_b, max_lr=0.01, total_steps=50, pct_start=0.2, anneal_strategy="linear")
    assert ours.schedules[0].num_warmup_steps == 0
    for _ in range(49):
        assert close(opt_a.param_groups[0]["lr"], opt_b.param_groups[0]["lr"])
        opt_a.step(), opt_b.step()
        ours.step(), ref.step()


def test_onecycle_zero_length_phase_gives_its_end_value():
    # pct_start * T = 1: torch divides by zero at s = 0; we give the peak.
    s = OneCycle(10, pct_start=0.1)
    assert s(0) == 1.0 and s(9) == pytest.approx(1 / 25 / 1e4, rel=1e-12)


@pytest.mark.parametrize("t0, mult, eta_ratio", [(5, 1, 0.0), (3, 2, 0.0), (4, 3, 0.01), (7, 1, 0.1), (1, 2, 0.0)])
def test_cosine_restarts_matches_torch_cosineannealingwarmrestarts(t0, mult, eta_ratio):
    lr, t = 0.2, 150
    s = build_schedule(
        "sgdr", num_training_steps=t, num_warmup_steps=0, cycle_steps=t0, cycle_mul=mult, min_lr_ratio=eta_ratio
    )
    want = torch_lrs(lambda o: tls.CosineAnnealingWarmRestarts(o, T_0=t0, T_mult=mult, eta_min=eta_ratio * lr), t - 1, lr)
    assert_seq_close([lr * s(k) for k in range(t)], want)
    assert_seq_close(s.values(range(t + 3)).tolist(), [s(k) for k in range(t + 3)])


def test_cosine_restarts_does_not_restart_exactly_at_T():
    # 20 cycles of 5 steps end exactly at T = 100: torch would restart to the peak there.
    s = CosineRestarts(100, cycle_steps=5, min_lr_ratio=0.05)
    assert s(95) == 1.0 and s(99) > 0.05 and s(100) == 0.05 == s(1000) == s.final_value()
    assert s.values([95, 100, 1000]).tolist() == [1.0, 0.05, 0.05]


def timm_reference(t: int, t_initial: int, mul: float, decay: float, limit: int, lr_min: float, lr: float) -> float:
    """timm CosineLRScheduler's rule (warmup_prefix=True, k_decay=1), cycles walked one by one."""
    i, start, length = 0, 0.0, float(t_initial)
    while t >= start + length:
        start, length, i = start + length, length * mul, i + 1
    if i >= limit:
        return lr_min
    peak = lr * decay**i
    return lr_min + 0.5 * (peak - lr_min) * (1 + math.cos(math.pi * (t - start) / length))


@pytest.mark.parametrize(
    "t0, mul, decay, limit, ratio, warm",
    [(10, 1.0, 0.5, 3, 0.0, 0), (8, 1.5, 0.7, 10**9, 0.05, 7), (6, 2.0, 0.8, 2, 0.01, 3), (25, 1.0, 1.0, 1, 0.0, 5)],
)
def test_cosine_restarts_matches_timm_cycle_rule(t0, mul, decay, limit, ratio, warm):
    lr, t = 0.1, 120
    s = CosineRestarts(
        t, warm, cycle_steps=t0, cycle_mul=mul, cycle_decay=decay,
        cycle_limit=None if limit == 10**9 else limit, min_lr_ratio=ratio,
    )
    want = [timm_reference(k - warm, t0, mul, decay, limit, ratio * lr, lr) for k in range(warm, t)]
    assert_seq_close([lr * s(k) for k in range(warm, t)], want)
    assert [s(k) for k in range(warm)] == [k / warm for k in range(warm)]
    assert_seq_close(s.values(range(t + 2)).tolist(), [s(k) for k in range(t + 2)])


def test_cosine_restarts_defaults_and_fractions():
    s = build_schedule("cosine_restarts", num_training_steps=110)
    assert s.num_warmup_steps == 11 and s.cycle_steps == 99  # one cosine over T - W by default
    assert [s(k) for k in (11, 110)] == [1.0, 0.0]
    assert close(s(60), Cosine(110, 11)(60))
    f = CosineRestarts(110, 10, cycle_steps=0.25)
    assert f.cycle_steps == 25 and f(35) == 1.0 and schedule_from_dict(f.to_dict()) == f


# ---- errors: each names the parameter, the value and what is allowed ---------------------

ERRORS = [
    (lambda: OneCycle(10, 2), ValueError, r"onecycle has its own warmup .* num_warmup_steps must be 0, got 2"),
    (lambda: OneCycle(10, pct_start=1.5), ValueError, r"pct_start must be a number in \[0, 1\], got 1.5"),
    (lambda: OneCycle(10, pct_start=0.6, three_phase=True), ValueError,
     r"pct_start \(with three_phase=True\) must be a number in \[0, 0.5\], got 0.6"),
    (lambda: OneCycle(10, div_factor=0.5), ValueError, r"div_factor must be a number >= 1, got 0.5"),
    (lambda: OneCycle(10, final_div_factor=0), ValueError, r"final_div_factor must be a number >= 1, got 0"),
    (lambda: OneCycle(10, anneal_strategy="cosine"), ValueError, r"anneal_strategy must be one of 'cos', 'linear', got 'cosine'"),
    (lambda: OneCycle(10, three_phase="yes"), TypeError, r"three_phase must be a bool, got 'yes'"),
    (lambda: CosineRestarts(10, cycle_steps=0), ValueError, r"cycle_steps must be an integer >= 1, got 0"),
    (lambda: CosineRestarts(10, cycle_steps=-3), ValueError, r"cycle_steps must be an integer >= 1, got -3"),
    (lambda: CosineRestarts(10, cycle_steps=1.5), ValueError, r"cycle_steps as a float is a fraction in \(0, 1\] \(of 10 steps\), got 1.5"),
    (lambda: CosineRestarts(10, cycle_mul=0.5), ValueError, r"cycle_mul must be a number >= 1, got 0.5"),
    (lambda: CosineRestarts(10, cycle_decay=0), ValueError, r"cycle_decay must be a number in \(0, 1\], got 0"),
    (lambda: CosineRestarts(10, cycle_limit=0), ValueError, r"cycle_limit must be an integer >= 1, got 0"),
    (lambda: CosineRestarts(10, min_lr_ratio=-0.1), ValueError, r"min_lr_ratio must be a number in \[0, 1\], got -0.1"),
]


@pytest.mark.parametrize("make, exc, message", ERRORS)
def test_bad_arguments_raise_clear_errors(make, exc, message):
    with pytest.raises(exc, match=message):
        make()
