"""Pure schedules: golden tables, properties of every registered schedule, serialisation."""

from __future__ import annotations

import json
import math
import pickle

from typing import Any

import numpy as np
import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from hf_sched import build_schedule, iter_schedules
from hf_sched.schedules import (
    Bert,
    Constant,
    Cosine,
    CosineHardRestarts,
    CosineRestarts,
    Factor,
    InverseSqrt,
    Linear,
    MultiStep,
    Noam,
    OneCycle,
    Polynomial,
    Schedule,
    SquareRoot,
    WarmupStableDecay,
    schedule_from_dict,
)
from lr_reference import assert_seq_close

# Arguments some schedules need to be built at all (an LR for absolute-LR kwargs, ...).
REQUIRED = {
    "polynomial": {"lr_init": 1e-3},
    "cosine_with_min_lr": {"min_lr_rate": 0.1},
    "cosine_warmup_with_min_lr": {"min_lr_rate": 0.1},
}
NEEDS_WARMUP = {"noam"}


def _build(name: str, total: int, warmup: int) -> Schedule:
    kw = dict(REQUIRED.get(name, {}))
    lr_init = kw.pop("lr_init", 1e-3)
    info = next(i for i in iter_schedules() if i.name == name)
    return build_schedule(
        name, num_training_steps=total, num_warmup_steps=warmup if info.has_warmup else None, lr_init=lr_init, **kw
    )


PURE = [i.name for i in iter_schedules() if not i.adaptive]

# --- golden tables (values worked out by hand) -------------------------------------------

GOLDEN = {
    # name, kwargs, T, W: {step: value}
    ("constantlr", (), 100, None): {0: 1.0, 50: 1.0, 100: 1.0, 500: 1.0},
    ("warmupconstant", (), 100, 10): {0: 0.0, 5: 0.5, 10: 1.0, 100: 1.0, 101: 1.0},
    ("warmuplinear", (), 110, 10): {0: 0.0, 1: 0.1, 10: 1.0, 35: 0.75, 60: 0.5, 110: 0.0, 200: 0.0},
    ("warmupcosine", (), 110, 10): {5: 0.5, 10: 1.0, 35: 0.5 + 0.5 * math.cos(math.pi / 4), 60: 0.5, 110: 0.0},
    ("warmupcosine", (("num_cycles", 1.0),), 110, 10): {60: 0.0, 110: 1.0},
    ("warmupcosine", (("min_lr_ratio", 0.1),), 110, 10): {60: 0.55, 110: 0.1, 999: 0.1},
    ("warmupcosinewithhardrestarts", (), 110, 10): {10: 1.0, 60: 0.5, 110: 0.0},
    ("warmupcosinewithhardrestarts", (("num_cycles", 2),), 110, 10): {35: 0.5, 59: 0.5 * (1 + math.cos(math.pi * 0.98)), 60: 1.0, 85: 0.5, 110: 0.0},
    ("noam", (), 64, 4): {0: 0.0, 2: 0.5, 4: 1.0, 16: 0.5, 64: 0.25, 1000: 0.25},
    ("noam", (("d_model", 512),), 16000, 4000): {4000: 512**-0.5 * 4000**-0.5, 16000: 512**-0.5 * 16000**-0.5, 2000: 0.5 * 512**-0.5 * 4000**-0.5},
    ("inverse_sqrt", (), 100, 4): {2: 0.5, 4: 1.0, 16: 0.5, 100: 0.2, 400: 0.2},
    ("polynomial", (("power", 2.0), ("lr_end", 0.0)), 110, 10): {10: 1.0, 60: 0.25, 110: 0.0},
    ("warmup_stable_decay", (("num_decay_steps", 20), ("decay_type", "linear")), 100, 10): {5: 0.5, 10: 1.0, 79: 1.0, 80: 1.0, 90: 0.5, 100: 0.0},
}


@pytest.mark.parametrize("key", list(GOLDEN), ids=lambda k: f"{k[0]}{dict(k[1])}")
def test_golden(key):
    name, kwargs, total, warmup = key
    s = build_schedule(name, num_training_steps=total, num_warmup_steps=warmup, lr_init=1e-3, **dict(kwargs))
    for step, expected in GOLDEN[key].items():
        assert s(step) == pytest.approx(expected, abs=1e-12, rel=1e-12), (name, step)
        assert s.values([step])[0] == pytest.approx(expected, abs=1e-12, rel=1e-12), (name, step)


def test_default_warmup_is_ten_percent_rounded_up():
    assert build_schedule("warmupcosine", num_training_steps=1000).num_warmup_steps == 100
    assert build_schedule("warmupcosine", num_training_steps=95).num_warmup_steps == 10
    assert build_schedule("warmupcosine", num_training_steps=30).num_warmup_steps == 3
    assert build_schedule("warmupcosine", num_training_steps=100, num_warmup_steps=0.07).num_warmup_steps == 7
    assert build_schedule("constantlr", num_training_steps=30).num_warmup_steps == 0
    assert build_schedule("warmuplinear", num_training_steps=30, num_warmup_steps=0).num_warmup_steps == 0


def test_warmup_start_lifts_the_first_step():
    s = build_schedule("warmuplinear", num_training_steps=100, num_warmup_steps=10, warmup_start=0.1)
    assert s(0) == pytest.approx(0.1)
    assert s(5) == pytest.approx(0.55)
    assert s(10) == 1.0


# --- properties of every registered schedule ----------------------------------------------


@settings(max_examples=60, deadline=None)
@given(name=st.sampled_from(PURE), total=st.integers(1, 3000), frac=st.floats(0.0, 0.99))
def test_properties(name, total, frac):
    warmup = int(frac * total)
    if name in NEEDS_WARMUP:
        warmup = max(1, warmup)
    s = _build(name, total, warmup)
    w = s.num_warmup_steps
    steps = np.arange(0, total + 6)
    v = s.values(steps)
    assert np.isfinite(v).all(), name
    assert (v >= 0).all(), name
    if s.normalised:
        assert (v <= 1.0 + 1e-12).all(), name
    # warmup non-decreasing (into the peak, for schedules continuous at the boundary)
    end = w + 1 if type(s).continuous_warmup else w
    assert (np.diff(v[:end]) >= -1e-12).all(), name
    # continuous at the boundary: the warmup formula extended to s = W meets the shape
    if w > 0 and type(s).continuous_warmup:
        assert s._warm(w) == pytest.approx(s(w), abs=1e-9), name
    # final value at T, held after
    fin = s.final_value()
    assert v[total] == pytest.approx(fin, abs=1e-15)
    assert np.allclose(v[total:], fin, atol=0, rtol=0), name
    assert s(total + 10**6) == fin
    # scalar path == vector path at every step
    scalar = np.array([s(int(k)) for k in steps])
    assert np.allclose(scalar, v, atol=1e-12, rtol=1e-12), name


@pytest.mark.parametrize("name", PURE)
def test_serialisation_round_trips(name):
    s = _build(name, 50, 5)
    d = s.to_dict()
    assert json.loads(json.dumps(d)) == d  # plain JSON types only
    assert schedule_from_dict(d) == s
    assert pickle.loads(pickle.dumps(s)) == s
    assert hash(s) == hash(schedule_from_dict(d))


def test_values_are_vectorised_and_fast_for_a_million_steps():
    s = Cosine(num_training_steps=1_000_000, num_warmup_steps=10_000)
    v = s.values(np.arange(1_000_001))
    assert v.shape == (1_000_001,)
    assert v[10_000] == 1.0 and v[-1] == 0.0


def test_schedules_are_frozen_and_compare_by_value():
    a = Linear(num_training_steps=10, num_warmup_steps=1)
    b = Linear(num_training_steps=10, num_warmup_steps=1)
    assert a == b and a is not b
    with pytest.raises(Exception):
        a.num_training_steps = 5  # type: ignore[misc]
    assert Linear(10, 1) != Cosine(10, 1)


def test_direct_classes_match_registry():
    assert build_schedule("warmuplinear", num_training_steps=10, num_warmup_steps=2) == Linear(10, 2)
    assert build_schedule("hard-restarts", num_training_steps=10, num_warmup_steps=2) == CosineHardRestarts(10, 2)
    assert build_schedule("constantlr", num_training_steps=10) == Constant(10, 0)
    assert build_schedule("noam", num_training_steps=10, num_warmup_steps=2) == Noam(10, 2)
    assert build_schedule("inverse_sqrt", num_training_steps=10, num_warmup_steps=2) == InverseSqrt(10, 2, timescale=2)
    p = build_schedule("polynomial", num_training_steps=10, num_warmup_steps=2, lr_init=1e-3, lr_end=1e-4)
    assert p == Polynomial(10, 2, power=1.0, end_ratio=0.1)
    assert isinstance(build_schedule("wsd", num_training_steps=10, num_warmup_steps=0), WarmupStableDecay)


def test_noam_absolute_matches_annotated_transformer_formula():
    d, w = 512, 4000
    s = Noam(num_training_steps=20000, num_warmup_steps=w, d_model=d, factor=2.0)
    for step in (1, 10, 3999, 4000, 4001, 12345, 20000):
        ref = 2.0 * d**-0.5 * min(step**-0.5, step * w**-1.5)
        assert s(step) == pytest.approx(ref, rel=1e-12)
    assert not s.normalised
    assert Noam(num_training_steps=10, num_warmup_steps=2).normalised


# --- properties of the shapes from d2l, BERT, one-cycle and SGDR, drawn directly ------------


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
