"""Composition: join / product / scale / with_warmup, nested specs, and exact resume of WarmupScheduler.

Index convention as in test_step_decays and test_cycles: the LR read from ``group["lr"]`` after ``k``
scheduler steps is the LR of optimizer step ``k + 1`` and is compared with ``f(k)``.
"""

from __future__ import annotations

import io
import json
import math
import pickle
import warnings
from typing import Any, Callable

import pytest
import torch
from hypothesis import given, settings
from hypothesis import strategies as st
from torch.optim import lr_scheduler as tls

from hf_sched import ScheduledLR
from hf_sched.compose import Join, Product, join, product, scale, with_warmup
from hf_sched.schedules import Constant, Cosine, Linear, MultiStep, OneCycle, SquareRoot, schedule_from_dict
from hf_sched.warmup import warmup_factor
from hf_sched.warmup_scheduler import WarmupScheduler

TOL = 1e-12


def assert_seq_close(got: list[float], want: list[float], tol: float = TOL) -> None:
    assert len(got) == len(want)
    bad = [(i, g, w) for i, (g, w) in enumerate(zip(got, want)) if abs(g - w) > tol * max(1.0, abs(w))]
    assert not bad, f"first mismatches (index, got, want): {bad[:5]}"


# ---- join --------------------------------------------------------------------------------


def test_join_switches_at_boundaries_and_offsets_each_part():
    parts = [Constant(10, 5), Cosine(20), Linear(5, min_lr_ratio=0.2)]
    j = join(parts, [10, 30])
    assert j.num_training_steps == 35 and j.boundaries == (10, 30)
    want = [parts[0](s) if s < 10 else parts[1](s - 10) if s < 30 else parts[2](s - 30) for s in range(36)]
    assert [j(s) for s in range(36)] == want
    assert j(9) == 1.0 and j(10) == 1.0 and j(20) == pytest.approx(0.5, abs=1e-15) and j(29) > 0.0
    assert j(30) == 1.0 and j(35) == 0.2 and j(100) == 0.2 == j.final_value()
    assert_seq_close(j.values(range(40)).tolist(), [j(s) for s in range(40)])


def test_join_part_shorter_than_its_stretch_holds_longer_is_cut():
    j = join([Linear(4), Linear(100)], [10])  # the first part ends at 4 and holds 0 until 10
    assert [j(s) for s in range(11)] == [1.0, 0.75, 0.5, 0.25, 0.0, 0.0, 0.0, 0.0, 0.0, 0.0, 1.0]
    k = join([Linear(100), Constant(5)], [3])  # the first part is cut at 3
    assert [k(s) for s in range(5)] == [1.0, 0.99, 0.98, 1.0, 1.0] and k.num_training_steps == 8


def test_join_of_one_schedule_is_that_schedule():
    j = join([Cosine(50, 5)], [])
    assert [j(s) for s in range(55)] == [Cosine(50, 5)(s) for s in range(55)]


def test_nested_specs_round_trip_through_json_and_pickle():
    inner = join([Constant(10, 3), SquareRoot(40)], [10])
    s = join([product(inner, Cosine(50), 0.5), MultiStep(30, milestones=(0.5,), gamma=0.3)], [50])
    spec = s.to_dict()
    assert spec["kind"] == "join" and spec["schedules"][0]["kind"] == "product"
    assert spec["schedules"][0]["factors"][0]["kind"] == "join"
    text = json.dumps(spec)  # plain JSON types only
    again = schedule_from_dict(json.loads(text))
    assert again == s and hash(again) == hash(s)
    assert pickle.loads(pickle.dumps(s)) == s
    assert [again(k) for k in range(85)] == [s(k) for k in range(85)]


def test_scheduledlr_with_a_join_resumes_exactly_and_rebuilds_from_the_checkpoint():
    sched_spec = join([Constant(20, 5), Cosine(30, min_lr_ratio=0.1)], [20])

    def run(n: int, state: dict | None = None, spec: Any = sched_spec, strict: bool = True) -> tuple[list, Any, Any]:
        opt = torch.optim.SGD([torch.nn.Parameter(torch.zeros(1))], lr=0.5)
        sched = ScheduledLR(opt, spec, strict=strict)
        if state is not None:
            with warnings.catch_warnings():
                warnings.simplefilter("ignore")
                sched.load_state_dict(state)
        out = []
        for _ in range(n):
            out.append(opt.param_groups[0]["lr"])
            opt.step()
            sched.step()
        return out, sched, opt

    full, _, _ = run(50)
    first, sched, _ = run(23)
    buf = io.BytesIO()
    torch.save(sched.state_dict(), buf)
    buf.seek(0)
    state = torch.load(buf, weights_only=True)
    rest, _, _ = run(27, state)
    assert first + rest == full
    # A different schedule refuses the checkpoint; strict=False rebuilds the checkpoint's join.
    with pytest.raises(ValueError, match="the schedule differs from the checkpoint's"):
        run(1, state, spec=Cosine(50))
    _, rebuilt, _ = run(0, state, spec=Cosine(50), strict=False)
    assert rebuilt.schedules[0] == sched_spec


# ---- product / scale ---------------------------------------------------------------------


def test_product_and_scale():
    a, b = Linear(10), Cosine(20, 4)
    p = product(a, b, 0.5, 2.0)
    assert p.num_training_steps == 20 and p.scale == 1.0 and p.normalised
    assert [p(s) for s in range(25)] == [a(s) * b(s) for s in range(25)]
    assert_seq_close(p.values(range(25)).tolist(), [p(s) for s in range(25)])
    c = scale(b, 0.25)
    assert [c(s) for s in range(22)] == [0.25 * b(s) for s in range(22)] and c.normalised
    assert not scale(b, 3.0).normalised and scale(b, 3.0)(4) == 3.0
    assert isinstance(p, Product) and schedule_from_dict(p.to_dict()) == p


def test_with_warmup_on_a_schedule_multiplies_a_ramp():
    s = with_warmup(Cosine(100), 10, 0.1, "cosine")
    want = [Cosine(100)(k) * (warmup_factor(k, 10, 0.1, "cosine") if k < 10 else 1.0) for k in range(105)]
    assert [s(k) for k in range(105)] == want
    assert with_warmup(Linear(200), "5%")(5) == Linear(200)(5) * 0.5
    assert with_warmup(Linear(200), 0.1) == with_warmup(Linear(200), 20)


@settings(max_examples=40, deadline=None)
@given(
    st.lists(st.integers(1, 60), min_size=1, max_size=4),
    st.lists(st.integers(1, 40), min_size=3, max_size=3),
    st.floats(0.0, 2.0),
)
def test_join_and_product_properties(lengths, gaps, c):
    parts = [Cosine(n, min(n, 3)) for n in lengths]
    bounds = [sum(gaps[: i + 1]) for i in range(len(parts) - 1)]
    j = join(parts, bounds)
    p = product(j, c)
    t = j.num_training_steps
    vals = [j(s) for s in range(t + 3)]
    assert all(math.isfinite(v) and 0.0 <= v <= 1.0 for v in vals)
    assert vals[t] == vals[t + 2] == j.final_value()
    starts = [0, *bounds]
    for s in range(t + 3):
        i = max(k for k, b in enumerate(starts) if b <= s)
        assert vals[s] == parts[i](s - starts[i])
    assert_seq_close(j.values(range(t + 3)).tolist(), vals)
    assert_seq_close([p(s) for s in range(t + 3)], [c * v for v in vals])
    assert schedule_from_dict(json.loads(json.dumps(p.to_dict()))) == p


# ---- with_warmup around torch schedulers -------------------------------------------------

INNER: dict[str, Callable[[torch.optim.Optimizer], Any]] = {
    "StepLR": lambda o: tls.StepLR(o, step_size=4, gamma=0.5),
    "MultiStepLR": lambda o: tls.MultiStepLR(o, milestones=[3, 9, 15], gamma=0.3),
    "ExponentialLR": lambda o: tls.ExponentialLR(o, gamma=0.9),
    "CosineAnnealingLR": lambda o: tls.CosineAnnealingLR(o, T_max=25, eta_min=1e-3),
    "OneCycleLR": lambda o: tls.OneCycleLR(o, max_lr=0.1, total_steps=30),
    "CosineAnnealingWarmRestarts": lambda o: tls.CosineAnnealingWarmRestarts(o, T_0=5, T_mult=2),
}
N = 29  # steps; OneCycleLR's total is 30


def _model_and_opt(lr: Any = 0.1) -> tuple[torch.nn.Module, torch.optim.Optimizer]:
    torch.manual_seed(0)
    model = torch.nn.Linear(3, 1)
    return model, torch.optim.AdamW(model.parameters(), lr=lr, betas=(0.9, 0.999))


def _train_step(model: torch.nn.Module, opt: torch.optim.Optimizer) -> None:
    opt.zero_grad()
    model(torch.ones(2, 3)).pow(2).mean().backward()
    opt.step()


def _bare_lrs(name: str, n: int) -> list[float]:
    model, opt = _model_and_opt()
    sched = INNER[name](opt)
    out = []
    for _ in range(n):
        out.append(float(opt.param_groups[0]["lr"]))
        _train_step(model, opt)
        sched.step()
    return out


@pytest.mark.parametrize("name", list(INNER))
@pytest.mark.parametrize("w, start, shape", [(6, 0.0, "linear"), (10, 0.1, "exponential"), (1, 0.0, "linear")])
def test_with_warmup_multiplies_the_inner_closed_form_without_compounding(name, w, start, shape):
    model, opt = _model_and_opt()
    sched = with_warmup(INNER[name](opt), w, start, shape)
    got = []
    for _ in range(N):
        got.append(float(opt.param_groups[0]["lr"]))
        assert sched.get_last_lr() == [got[-1]]
        _train_step(model, opt)
        sched.step()
    bare = _bare_lrs(name, N)
    want = [lr * (warmup_factor(k, w, start, shape) if k < w else 1.0) for k, lr in enumerate(bare)]
    assert_seq_close(got, want)
    assert sched.inner_lrs == [float(sched.scheduler.get_last_lr()[0])]


def _checkpoint(obj: dict) -> dict:
    buf = io.BytesIO()
    torch.save(obj, buf)
    buf.seek(0)
    return torch.load(buf, weights_only=True)


def _resumed_lrs(name: str, cut: int, w: int, load_scheduler_first: bool = False) -> list[float]:
    model, opt = _model_and_opt()
    sched = with_warmup(INNER[name](opt), w)
    out = []
    for _ in range(cut):
        out.append(float(opt.param_groups[0]["lr"]))
        _train_step(model, opt)
        sched.step()
    state = _checkpoint({"model": model.state_dict(), "opt": opt.state_dict(), "sched": sched.state_dict()})
    del model, opt, sched
    model, opt = _model_and_opt()  # fresh everything, as a new process would build
    sched = with_warmup(INNER[name](opt), w)
    model.load_state_dict(state["model"])
    if load_scheduler_first:
        sched.load_state_dict(state["sched"])
        opt.load_state_dict(state["opt"])
    else:
        opt.load_state_dict(state["opt"])
        sched.load_state_dict(state["sched"])
    for _ in range(N - cut):
        out.append(float(opt.param_groups[0]["lr"]))
        _train_step(model, opt)
        sched.step()
    return out


def _uninterrupted(name: str, w: int) -> list[float]:
    model, opt = _model_and_opt()
    sched = with_warmup(INNER[name](opt), w)
    out = []
    for _ in range(N):
        out.append(float(opt.param_groups[0]["lr"]))
        _train_step(model, opt)
        sched.step()
    return out


@pytest.mark.parametrize("name", list(INNER))
@pytest.mark.parametrize("cut", [3, 8, 17])  # mid-warmup, just after it, mid-decay
def test_with_warmup_resume_continues_identically(name, cut):
    w = 8
    full = _uninterrupted(name, w)
    assert _resumed_lrs(name, cut, w) == full
    assert _resumed_lrs(name, cut, w, load_scheduler_first=True) == full


def test_restoring_only_the_inner_counters_is_not_enough():
    # What a GradualWarmupScheduler-style wrapper does on resume: the inner scheduler's state
    # comes back, but the fresh optimizer's LR stays in the groups and StepLR builds on it.
    name, w, cut = "StepLR", 2, 6
    full = _uninterrupted(name, w)
    model, opt = _model_and_opt()
    sched = with_warmup(INNER[name](opt), w)
    for _ in range(cut):
        _train_step(model, opt)
        sched.step()
    state = _checkpoint(sched.state_dict())
    model, opt = _model_and_opt()
    naive = with_warmup(INNER[name](opt), w)
    naive.scheduler.load_state_dict(state["inner"])
    naive.last_epoch = state["step"]
    out = []
    for _ in range(N - cut):
        out.append(float(opt.param_groups[0]["lr"]))
        _train_step(model, opt)
        naive.step()
    assert out != full[cut:]


def test_with_warmup_tensor_lr_is_filled_in_place():
    lr = torch.tensor(0.1)
    model, opt = _model_and_opt(lr)
    sched = with_warmup(tls.StepLR(opt, step_size=3, gamma=0.5), 4)
    tensor = opt.param_groups[0]["lr"]
    seen = []
    for _ in range(8):
        seen.append(float(opt.param_groups[0]["lr"]))
        _train_step(model, opt)
        sched.step()
    assert opt.param_groups[0]["lr"] is tensor
    assert_seq_close(seen, [0.0, 0.025, 0.05, 0.0375, 0.05, 0.05, 0.025, 0.025], 1e-7)


def test_with_warmup_around_reduce_lr_on_plateau_passes_the_metric():
    model, opt = _model_and_opt(1.0)
    sched = with_warmup(tls.ReduceLROnPlateau(opt, factor=0.5, patience=0), 4)
    got = []
    for _ in range(6):
        got.append(float(opt.param_groups[0]["lr"]))
        _train_step(model, opt)
        sched.step(1.0)  # no improvement after the first: the inner LR halves from the 2nd step on
    inner = [1.0, 1.0, 0.5, 0.25, 0.125, 0.0625]
    assert got == [lr * min(1.0, k / 4) for k, lr in enumerate(inner)] == [0.0, 0.25, 0.25, 0.1875, 0.125, 0.0625]


def test_with_warmup_auto_reads_beta2_and_is_capped_by_total_steps():
    _, opt = _model_and_opt()  # AdamW(beta2=0.999)
    assert with_warmup(tls.StepLR(opt, 10), "auto").warmup_steps == 2000
    _, opt = _model_and_opt()
    assert with_warmup(tls.OneCycleLR(opt, max_lr=0.1, total_steps=500), "auto").warmup_steps == 500
    _, opt = _model_and_opt()
    assert with_warmup(tls.StepLR(opt, 10), "auto", num_training_steps=1200).warmup_steps == 1200
    _, opt = _model_and_opt()
    assert with_warmup(tls.OneCycleLR(opt, max_lr=0.1, total_steps=500), 0.1).warmup_steps == 50


def test_warmup_scheduler_state_is_plain_and_checked_on_load():
    _, opt = _model_and_opt()
    sched = with_warmup(tls.StepLR(opt, 3), 5, 0.1, "cosine")
    for _ in range(2):
        opt.step()
        sched.step()
    state = _checkpoint(sched.state_dict())
    assert state["format"] == "hf_sched.WarmupScheduler/1" and state["step"] == 2 and state["inner_type"] == "StepLR"
    assert "WarmupScheduler(StepLR, step=2" in repr(sched)
    _, opt2 = _model_and_opt()
    other = with_warmup(tls.StepLR(opt2, 3), 6)
    with pytest.raises(ValueError, match=r"the warmup differs from the checkpoint's \(checkpoint -> now\): "
                                         r"warmup_steps: 5 -> 6, warmup_start: 0.1 -> 0.0, warmup_shape: 'cosine' -> 'linear'"):
        other.load_state_dict(state)
    with pytest.warns(UserWarning, match="continuing with the checkpoint's warmup"):
        other.load_state_dict(state, strict=False)
    assert (other.warmup_steps, other.warmup_start, other.warmup_shape) == (5, 0.1, "cosine")
    assert other.get_last_lr() == sched.get_last_lr()
    _, opt3 = _model_and_opt()
    with pytest.raises(ValueError, match=r"the checkpoint wraps a 'StepLR' scheduler, this WarmupScheduler wraps a 'ExponentialLR'"):
        with_warmup(tls.ExponentialLR(opt3, 0.9), 5, 0.1, "cosine").load_state_dict(state)
    with pytest.raises(ValueError, match=r"state_dict is not a WarmupScheduler state .* got keys \[.*'base_lrs'"):
        other.load_state_dict(tls.StepLR(opt3, 3).state_dict())


# ---- errors ------------------------------------------------------------------------------

ERRORS = [
    (lambda: join([Linear(5), Linear(5)], []), ValueError,
     r"boundaries must hold one step fewer than schedules: 2 schedules need 1 boundaries, got 0"),
    (lambda: join([Linear(5), Linear(5), Linear(5)], [4, 4]), ValueError,
     r"boundaries must increase strictly, got boundaries\[0\]=4 and boundaries\[1\]=4"),
    (lambda: join([Linear(5), Linear(5)], [0]), ValueError, r"boundaries\[0\] must be an integer >= 1, got 0"),
    (lambda: join([Linear(5), Linear(5)], [2.5]), ValueError, r"boundaries\[0\] must be a whole number, got 2.5"),
    (lambda: join([], []), ValueError, r"schedules must hold at least one schedule, got an empty list"),
    (lambda: join([Linear(5), "cosine"], [2]), TypeError, r"schedules\[1\] must be an hf_sched Schedule .*got 'cosine'"),
    (lambda: join(Linear(5), []), TypeError, r"schedules must be a list of schedules"),
    (lambda: join([Linear(5)], 3), TypeError, r"boundaries must be a list of steps \(int\), got 3"),
    (lambda: Join(7, schedules=(Linear(5), Linear(5)), boundaries=(3,)), ValueError,
     r"num_training_steps of a join must be the last boundary plus the last schedule's steps, 8, got 7"),
    (lambda: Join(5, 2, schedules=(Linear(5),)), ValueError, r"a join has no warmup of its own .*num_warmup_steps=2"),
    (lambda: product(0.5), ValueError, r"product needs at least one Schedule among its factors, got \[0.5\]"),
    (lambda: product(Linear(5), -1), ValueError, r"factors\[1\] must be a number >= 0, got -1"),
    (lambda: product(Linear(5), "x"), TypeError, r"factors\[1\] must be a Schedule or a number >= 0, got 'x' \(str\)"),
    (lambda: Product(9, factors=(Linear(5),)), ValueError, r"num_training_steps of a product must be its longest factor's, 5, got 9"),
    (lambda: scale(Linear(5), -0.5), ValueError, r"factor must be a number >= 0, got -0.5"),
    (lambda: scale(Linear(5), "2"), TypeError, r"factor must be a number >= 0, got '2' \(str\)"),
    (lambda: scale("linear", 2), TypeError, r"schedule must be an hf_sched Schedule, got 'linear' \(str\)"),
    (lambda: with_warmup(Linear(5), 6), ValueError, r"warmup of 6 steps is longer than the 5 training steps"),
    (lambda: with_warmup(Linear(5), 2, 1.5), ValueError, r"warmup_start must be a number in \[0, 1\], got 1.5"),
    (lambda: with_warmup(Linear(5), 2, 0.0, "quadratic"), ValueError, r"warmup_shape must be one of 'linear'.*got 'quadratic'"),
    (lambda: with_warmup(object(), 2), TypeError, r"scheduler must be a torch LR scheduler \(with .optimizer and .step\(\)\), got object"),
    (lambda: with_warmup(tls.StepLR(_model_and_opt()[1], 3), 0.1), ValueError,
     r"warmup_steps=0.1 is a ratio or percentage, which needs num_training_steps"),
    (lambda: with_warmup(tls.StepLR(_model_and_opt()[1], 3), -2), ValueError, r"warmup_steps must be an integer >= 0, got -2"),
    (lambda: with_warmup(tls.StepLR(_model_and_opt()[1], 3), 2, 0.0, "quadratic"), ValueError,
     r"warmup_shape must be one of 'linear'.*got 'quadratic'"),
    (lambda: with_warmup(with_warmup(tls.StepLR(_model_and_opt()[1], 3), 2), 2), TypeError,
     r"scheduler is already a WarmupScheduler"),
    (lambda: with_warmup(tls.StepLR(torch.optim.SGD([torch.nn.Parameter(torch.zeros(1))], lr=0.1), 3), "auto"),
     ValueError, r"warmup='auto' needs an Adam-family optimizer with betas; SGD has none"),
]


@pytest.mark.parametrize("make, exc, message", ERRORS)
def test_bad_arguments_raise_clear_errors(make, exc, message):
    with pytest.raises(exc, match=message):
        make()


def test_warmup_scheduler_is_an_lrscheduler():
    _, opt = _model_and_opt()
    sched = WarmupScheduler(tls.StepLR(opt, 3), 2)
    assert isinstance(sched, tls.LRScheduler) and sched.optimizer is opt and sched.base_lrs == [0.1]
    assert sched.warmup_multiplier(1) == 0.5 and sched.get_lr() == [0.0]
    assert isinstance(OneCycle(10), OneCycle)  # imported schedule kinds stay registered
