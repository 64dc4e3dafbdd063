"""Classic schedules (issue 7): golden values against independent references, properties, errors.

Index convention. Our ``f(s)`` is the multiplier for the optimizer step that follows ``s``
steps already taken. A torch scheduler, after ``k`` calls of ``.step()``, holds in
``group["lr"]`` the LR for the next optimizer step, i.e. the one after ``k`` steps taken.
So ``torch_lrs(...)[k]`` (read before the ``k+1``-th ``optimizer.step()``) is compared with
``peak * f(k)``: the same index, no shift. References written out here from their
definitions (d2l's classes, BERT's TF code, timm's cycle rule) use the index each
definition names, as stated next to each.
"""

from __future__ import annotations

import json
import math
import pickle
import warnings
from typing import Any, Callable

import pytest
import torch
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from torch.optim import lr_scheduler as tls

from hf_sched import get_scheduler
from hf_sched.classic_schedules import Bert, CosineRestarts, Factor, MultiStep, OneCycle, SquareRoot
from hf_sched.registry import available_schedules, build_schedule, canonical_name, get_info
from hf_sched.schedules import Constant, Cosine, schedule_from_dict

TOL = 1e-12


def close(a: float, b: float, tol: float = TOL) -> bool:
    """``|a - b| <= tol * max(1, |b|)``: relative for large values, absolute near 0."""
    return abs(a - b) <= tol * max(1.0, abs(b))


def assert_seq_close(got: list[float], want: list[float], tol: float = TOL) -> None:
    assert len(got) == len(want)
    bad = [(i, g, w) for i, (g, w) in enumerate(zip(got, want)) if not close(g, w, tol)]
    assert not bad, f"first mismatches (index, got, want): {bad[:5]}"


def _optimizer(lr: float = 0.1, kind: str = "sgd") -> torch.optim.Optimizer:
    p = [torch.nn.Parameter(torch.zeros(2))]
    if kind == "adamw":
        return torch.optim.AdamW(p, lr=lr)
    return torch.optim.SGD(p, lr=lr, momentum=0.9)


def torch_lrs(make: Callable[[torch.optim.Optimizer], Any], n: int, lr: float = 0.1) -> list[float]:
    """LR in the group after ``k`` scheduler steps, ``k = 0..n`` (the LR of optimizer step ``k+1``)."""
    opt = _optimizer(lr)
    sched = make(opt)
    out = [float(opt.param_groups[0]["lr"])]
    for _ in range(n):
        opt.step()
        sched.step()
        out.append(float(opt.param_groups[0]["lr"]))
    return out


# ----------------------------------------------------------------------------------------
# d2l's schedulers, written out from the book's definitions ("Learning Rate Scheduling").
# ----------------------------------------------------------------------------------------


class D2LSquareRoot:
    """d2l: ``lr * (num_update + 1) ** -0.5`` (stateless)."""

    def __init__(self, lr: float) -> None:
        self.lr = lr

    def __call__(self, num_update: int) -> float:
        return self.lr * (num_update + 1.0) ** -0.5


class D2LFactor:
    """d2l: the stateful recursion ``lr <- max(stop_factor_lr, lr * factor)`` on each call."""

    def __init__(self, factor: float, stop_factor_lr: float, base_lr: float) -> None:
        self.factor, self.stop, self.lr = factor, stop_factor_lr, base_lr

    def __call__(self, num_update: int) -> float:
        self.lr = max(self.stop, self.lr * self.factor)
        return self.lr


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


# ---- squareroot -------------------------------------------------------------------------


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


# ---- factor ------------------------------------------------------------------------------


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


# ---- multistep ---------------------------------------------------------------------------


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


# ---- d2l cosine --------------------------------------------------------------------------


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
    opt = _optimizer(0.3)
    sched = get_scheduler("d2lcosine", opt, num_training_steps=20, num_warmup_steps=5, final_lr=0.01)
    ref = D2LCosine(20, 0.3, 0.01, 5, 0.0)
    got = []
    for k in range(21):
        got.append(opt.param_groups[0]["lr"])
        opt.step()
        sched.step()
    assert_seq_close(got, [ref(k) for k in range(21)])


# ---- bert --------------------------------------------------------------------------------


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


# ---- onecycle ----------------------------------------------------------------------------

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
    opt_a, opt_b = _optimizer(0.01), _optimizer(0.01)
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


# ---- cosine restarts (SGDR) -------------------------------------------------------------


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


# ---- warmup_stable_decay parity with transformers ---------------------------------------


def hf_wsd_lrs(n: int, lr: float, **kw: Any) -> list[float]:
    from transformers.optimization import get_wsd_schedule

    return torch_lrs(lambda o: get_wsd_schedule(o, **kw), n, lr)


@pytest.mark.parametrize("decay_type", ["linear", "cosine", "1-sqrt"])
@pytest.mark.parametrize("warmup_type", ["linear", "cosine", "1-sqrt"])
@pytest.mark.parametrize("min_lr_ratio, num_cycles", [(0.0, 0.5), (0.1, 0.5), (0.05, 0.3)])
def test_wsd_matches_transformers_get_wsd_schedule(decay_type, warmup_type, min_lr_ratio, num_cycles):
    lr, t, w, d = 0.02, 60, 7, 15
    opt = _optimizer(lr)
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


# ---- warmup shapes: golden values --------------------------------------------------------


def test_warmup_shape_golden_values():
    lin = Constant(20, 4, 0.0, "linear")
    assert [lin(k) for k in range(6)] == [0.0, 0.25, 0.5, 0.75, 1.0, 1.0]
    const = Constant(20, 4, 0.1, "constant")
    assert [const(k) for k in range(6)] == [0.1, 0.1, 0.1, 0.1, 1.0, 1.0]
    # exponential: 1 - exp(-(s + 1) / tau), tau = W / 5 = 2
    exp = Constant(20, 10, 0.0, "exponential")
    golden = [0.3934693402873666, 0.6321205588285577, 0.7768698398515702, 0.8646647167633873, 0.9179150013761012,
              0.950212931632136, 0.9698026165776815, 0.9816843611112658, 0.9888910034617577, 0.9932620530009145]
    assert_seq_close([exp(k) for k in range(10)], golden, 1e-15)
    assert_seq_close(golden, [1 - math.exp(-(k + 1) / 2.0) for k in range(10)], 1e-15)
    assert exp(10) == 1.0
    started = Constant(20, 10, 0.2, "exponential")
    assert_seq_close([started(k) for k in range(10)], [0.2 + 0.8 * g for g in golden], 1e-15)
    cos = Constant(20, 4, 0.0, "cosine")
    assert_seq_close([cos(k) for k in range(5)], [0.0, 0.1464466094067262, 0.5, 0.8535533905932737, 1.0], 1e-15)
    sq = Constant(20, 4, 0.0, "1-sqrt")
    assert_seq_close([sq(k) for k in range(5)], [0.0, 1 - math.sqrt(0.75), 1 - math.sqrt(0.5), 0.5, 1.0], 1e-15)
    for s in (lin, const, exp, started, cos, sq):
        assert_seq_close(s.values(range(22)).tolist(), [s(k) for k in range(22)], 1e-15)


@pytest.mark.parametrize("name", ["squareroot", "factor", "multistep", "bert", "cosine_restarts", "warmupcosine"])
def test_exponential_warmup_applies_to_the_new_schedules(name):
    kw = {"factor": 0.99} if name == "factor" else {"milestones": [0.9]} if name == "multistep" else {}
    if name != "bert":
        kw["warmup_shape"] = "exponential"
    s = build_schedule(name, num_training_steps=100, num_warmup_steps=10, **kw)
    if name != "bert":
        assert close(s(0), 1 - math.exp(-0.5)) and s.warmup_shape == "exponential"


# ---- warmup="auto" reads beta2 from the optimizer ---------------------------------------


@pytest.mark.parametrize("name", ["warmupcosine", "bert", "squareroot", "cosine_restarts", "d2lcosine"])
def test_auto_warmup_is_2_over_1_minus_beta2_capped_at_T(name):
    adamw = torch.optim.AdamW([torch.nn.Parameter(torch.zeros(1))], lr=1e-3, betas=(0.9, 0.999))
    assert get_scheduler(name, adamw, num_training_steps=5000, warmup="auto").schedules[0].num_warmup_steps == 2000
    assert build_schedule(name, num_training_steps=1500, num_warmup_steps="auto", optimizer=adamw).num_warmup_steps == 1500
    adam98 = torch.optim.Adam([torch.nn.Parameter(torch.zeros(1))], lr=1e-3, betas=(0.9, 0.98))
    assert get_scheduler(name, adam98, num_training_steps=5000, num_warmup_steps="auto").schedules[0].num_warmup_steps == 100
    with pytest.raises(ValueError, match="warmup='auto' needs an Adam-family optimizer with betas; SGD has none"):
        get_scheduler(name, _optimizer(), num_training_steps=5000, warmup="auto")


# ---- registry ----------------------------------------------------------------------------

NEW_NAMES = ["squareroot", "factor", "multistep", "d2lcosine", "bert", "onecycle", "cosine_restarts"]


def test_every_new_name_is_registered_with_a_description_and_in_the_docs_table():
    from pathlib import Path

    table = (Path(__file__).resolve().parents[1] / "docs" / "schedules_table.md").read_text()
    names = available_schedules()
    for name in NEW_NAMES:
        assert name in names
        assert len(get_info(name).description) > 20
        assert f"`{name}`" in table
    assert canonical_name("SGDR") == "cosine_restarts"
    assert canonical_name("OneCycleLR") == "onecycle"
    assert canonical_name("multi-step") == "multistep"
    assert canonical_name("cosine") == "warmupcosine"  # transformers' alias stays; d2l's is d2lcosine
    assert get_info("onecycle").has_warmup is False


def test_onecycle_refuses_a_warmup_request():
    with pytest.raises(ValueError, match="has no warmup phase, got num_warmup_steps=5"):
        build_schedule("onecycle", num_training_steps=50, num_warmup_steps=5)


# ---- properties --------------------------------------------------------------------------


@st.composite
def new_schedules(draw: Any) -> Any:
    t = draw(st.integers(1, 400))
    kind = draw(st.sampled_from(["squareroot", "factor", "multistep", "bert", "onecycle", "sgdr", "d2lcosine"]))
    w = 0 if kind == "onecycle" else draw(st.integers(0, t))
    start = draw(st.sampled_from([0.0, 0.1, 0.5]))
    shape = draw(st.sampled_from(["linear", "constant", "exponential", "cosine", "1-sqrt"]))
    base = (t, w, start, shape)
    if kind == "squareroot":
        return SquareRoot(*base)
    if kind == "factor":
        return Factor(*base, factor=draw(st.floats(0.01, 1.0)), step_size=draw(st.integers(1, 20)),
                      min_lr_ratio=draw(st.floats(0.0, 1.0)))
    if kind == "multistep":
        ms = draw(st.lists(st.integers(w + 1, t), max_size=3)) if w < t else []
        ms += draw(st.lists(st.floats(0.001, 1.0), max_size=2))  # progress points after warmup
        return MultiStep(*base, milestones=tuple(ms), gamma=draw(st.floats(0.01, 1.0)))
    if kind == "bert":
        return Bert(*base, power=draw(st.floats(0.1, 4.0)), end_ratio=draw(st.floats(0.0, 0.99)))
    if kind == "onecycle":
        three = draw(st.booleans())
        return OneCycle(t, pct_start=draw(st.floats(0.0, 0.5 if three else 1.0)), three_phase=three,
                        anneal_strategy=draw(st.sampled_from(["cos", "linear"])),
                        div_factor=draw(st.floats(1.0, 100.0)), final_div_factor=draw(st.floats(1.0, 1e4)))
    if kind == "sgdr":
        return CosineRestarts(*base, cycle_steps=draw(st.integers(1, 60)), cycle_mul=draw(st.sampled_from([1.0, 1.5, 2.0, 3.0])),
                              cycle_decay=draw(st.floats(0.1, 1.0)), cycle_limit=draw(st.one_of(st.none(), st.integers(1, 5))),
                              min_lr_ratio=draw(st.floats(0.0, 0.5)))
    return Cosine(t, w, start, "linear", min_lr_ratio=draw(st.floats(0.0, 1.0)))  # d2lcosine's schedule


@settings(max_examples=150, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(new_schedules())
def test_properties_of_the_new_schedules(s):
    t, w = s.num_training_steps, s.num_warmup_steps
    vals = [s(k) for k in range(t + 3)]
    assert all(math.isfinite(v) and 0.0 <= v <= 1.0 + 1e-12 for v in vals)
    # warmup never goes down (including into the first main value, unless the jump is by design)
    ramp = vals[: w + 1] if s.continuous_warmup else vals[:w]
    assert all(b >= a - 1e-12 for a, b in zip(ramp, ramp[1:]))
    # the final value is reached at T and held
    assert vals[t] == vals[t + 1] == vals[t + 2] == s(10 * t + 7) == s.final_value()
    # the vectorised path agrees with the per-step one
    assert_seq_close(s.values(range(t + 3)).tolist(), vals)
    # plain-JSON round trip and pickling
    assert schedule_from_dict(json.loads(json.dumps(s.to_dict()))) == s
    assert pickle.loads(pickle.dumps(s)) == s


# ---- errors: each names the parameter, the value and what is allowed ---------------------

ERRORS = [
    (lambda: Factor(10, factor=0.0), ValueError, r"factor must be a number in \(0, 1\], got 0.0"),
    (lambda: Factor(10, factor=1.5), ValueError, r"factor must be a number in \(0, 1\], got 1.5"),
    (lambda: Factor(10, factor="0.9"), TypeError, r"factor must be a number, got '0.9' \(str\)"),
    (lambda: Factor(10, factor=0.9, step_size=0), ValueError, r"step_size must be an integer >= 1, got 0"),
    (lambda: build_schedule("factor", num_training_steps=10, step_size=0), ValueError, r"step_size must be an integer >= 1, got 0"),
    (lambda: Factor(10, factor=0.9, min_lr_ratio=2), ValueError, r"min_lr_ratio must be a number in \[0, 1\], got 2"),
    (lambda: build_schedule("factor", num_training_steps=10, factor=0.9, stop_factor_lr=0.1, min_lr_ratio=0.1),
     ValueError, r"give only one of stop_factor_lr \(0.1, an absolute LR\) and min_lr_ratio \(0.1"),
    (lambda: build_schedule("factor", num_training_steps=10, factor=0.9, stop_factor_lr=1e-3), ValueError,
     r"stop_factor_lr=0.001 is an absolute LR and needs lr_init"),
    (lambda: build_schedule("factor", num_training_steps=10, factor=0.9, stop_factor_lr=2.0, lr_init=1.0), ValueError,
     r"stop_factor_lr must be at most the peak LR lr_init=1.0, got 2.0"),
    (lambda: MultiStep(10, 2, milestones=(2,)), ValueError, r"milestones\[0\] must be a step in \[3, 10\] .*got 2"),
    (lambda: MultiStep(10, milestones=(5, 11)), ValueError, r"milestones\[1\] must be a step in \[1, 10\] .*got 11"),
    (lambda: MultiStep(10, milestones=(0.0,)), ValueError, r"milestones\[0\] as a float is a fraction in \(0, 1\] \(of 10 steps\), got 0.0"),
    (lambda: MultiStep(10, milestones=(5.0,)), ValueError, r"got 5.0 \(pass an int for a number of steps\)"),
    (lambda: MultiStep(10, milestones=("5",)), TypeError, r"milestones\[0\] must be an int number of steps or a float"),
    (lambda: MultiStep(10, milestones=5), TypeError, r"milestones must be a list of steps \(int\) or fractions"),
    (lambda: MultiStep(10, milestones=(5,), gamma=0), ValueError, r"gamma must be a number in \(0, 1\], got 0"),
    (lambda: Bert(10, power=0), ValueError, r"power must be a number > 0, got 0"),
    (lambda: Bert(10, end_ratio=1.0), ValueError, r"end_ratio must be a number in \[0, 1\), got 1.0"),
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
    (lambda: build_schedule("d2lcosine", num_training_steps=10, final_lr=0.01), ValueError,
     r"final_lr=0.01 is an absolute LR and needs lr_init"),
    (lambda: build_schedule("d2lcosine", num_training_steps=10, final_lr=0.5, lr_init=0.1), ValueError,
     r"final_lr must be at most the peak LR lr_init=0.1, got 0.5"),
    (lambda: build_schedule("d2lcosine", num_training_steps=10, warmup_begin_lr=-1.0), ValueError,
     r"warmup_begin_lr must be a number >= 0, got -1.0"),
    (lambda: build_schedule("bert", num_training_steps=10, decay="x"), ValueError,
     r"schedule 'bert' got unknown argument\(s\) 'decay'; it accepts: power \(default 1.0\), end_ratio"),
    (lambda: SquareRoot(10, 11), ValueError, r"num_warmup_steps must be in \[0, num_training_steps=10\], got 11"),
]


@pytest.mark.parametrize("make, exc, message", ERRORS)
def test_bad_arguments_raise_clear_errors(make, exc, message):
    with pytest.raises(exc, match=message):
        make()
