"""The Schedule frame (hf_sched.schedule): warmup prefix shapes, what a step may be, the kind table."""

from __future__ import annotations

import math
import subprocess
import sys
from dataclasses import dataclass
from fractions import Fraction
from typing import ClassVar

import numpy as np
import pytest

from hf_sched.schedule import SCHEDULE_KINDS, Schedule, schedule_from_dict
from hf_sched.schedules import Constant, Cosine, Linear, MultiStep
from lr_reference import assert_seq_close


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


# ---- what a step may be -------------------------------------------------------------------


@pytest.mark.parametrize("step", ["5", b"5", None, [3], True, False, complex(1, 0), object()])
def test_a_step_that_is_not_a_number_is_a_type_error_naming_step(step):
    s = Cosine(num_training_steps=10, num_warmup_steps=2)
    with pytest.raises(TypeError, match=r"step must be an int >= 0 or a finite float >= 0 \(the optimizer steps taken\), got "):
        s(step)


@pytest.mark.parametrize("step, shown", [(float("nan"), "nan"), (float("inf"), "inf"), (-float("inf"), "-inf"),
                                         (np.float64("nan"), "nan")])
def test_a_step_that_is_not_finite_is_a_value_error(step, shown):
    with pytest.raises(ValueError, match=rf"step must be an int >= 0 or a finite float >= 0 .*got (np.float64\()?{shown}"):
        Cosine(num_training_steps=10)(step)


@pytest.mark.parametrize("step, shown", [(-1, "-1"), (-0.5, "-0.5"), (np.int64(-3), "-3"), (-10**30, str(-10**30))])
def test_a_negative_step_is_a_value_error(step, shown):
    with pytest.raises(ValueError, match=rf"step must be >= 0, got {shown} \(the optimizer steps taken\)"):
        Linear(num_training_steps=10, num_warmup_steps=3)(step)
    with pytest.raises(ValueError, match=rf"step must be >= 0, got {shown} "):
        Linear(num_training_steps=10)(step)  # no warmup: refused all the same


def test_numeric_steps_of_other_types_give_the_int_value():
    s = Cosine(num_training_steps=100, num_warmup_steps=10)
    for k in (0, 5, 10, 37, 100, 150):
        assert s(np.int64(k)) == s(k) == s(float(k)) == s(np.float32(k)) == s(Fraction(k))
    assert s(2.5) == 0.25  # a fractional step is allowed (plots sample between steps)
    assert s(10**30) == s(100) == 0.0  # any int past T holds the final value


@pytest.mark.parametrize("steps, exc, message", [
    ([0, float("nan")], ValueError, r"steps must all be >= 0 and finite \(optimizer steps taken\), got nan at index 1"),
    ([1, 2, float("inf")], ValueError, r"got inf at index 2"),
    ([0, -2], ValueError, r"steps must all be >= 0"),
    (np.array([[0, 1], [2, -1]]), ValueError, r"got -1.0 at index 3"),
    (["5", "6"], TypeError, r"steps must be numbers of optimizer steps \(ints or finite floats >= 0\), got an array of <U1"),
    ("56", TypeError, r"steps must be numbers of optimizer steps \(ints or floats\), got '56' \(str\)"),
    ([True, False], TypeError, r"got an array of bool"),
    ([0, None], TypeError, r"got an array of object"),
])
def test_values_refuses_the_same_steps_as_a_call(steps, exc, message):
    with pytest.raises(exc, match=message):
        Cosine(num_training_steps=10).values(steps)


def test_values_accepts_every_numeric_dtype_and_the_empty_array():
    s = Cosine(num_training_steps=10, num_warmup_steps=2)
    want = [s(k) for k in range(12)]
    for dtype in (np.int8, np.uint16, np.int64, np.float32, np.float64):
        assert_seq_close(s.values(np.arange(12, dtype=dtype)).tolist(), want, 1e-15)
    assert s.values([]).shape == (0,)


def test_the_int_fast_path_and_the_checked_path_agree_on_every_shape():
    for s in (Linear(30, 5), Cosine(30, 5, min_lr_ratio=0.1), MultiStep(30, 3, milestones=(10, 20))):
        assert [s(k) for k in range(35)] == [s(np.int32(k)) for k in range(35)] == [s(float(k)) for k in range(35)]


# ---- the kind table -----------------------------------------------------------------------


def test_every_built_in_kind_is_known_after_importing_hf_sched_schedules_alone():
    code = ("import hf_sched.schedules as s, json; print(json.dumps(sorted(s.SCHEDULE_KINDS)));"
            "print(s.schedule_from_dict({'kind': 'product', 'num_training_steps': 4, 'factors': "
            "[{'kind': 'multistep', 'num_training_steps': 4, 'milestones': [2]}, {'kind': 'onecycle', 'num_training_steps': 2}]})(3))")
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True).stdout.split("\n")
    kinds = set(__import__("json").loads(out[0]))
    assert kinds == {"constant", "linear", "cosine", "cosine_hard_restarts", "polynomial", "inverse_sqrt", "noam",
                     "cosine_warmup_min_lr", "warmup_stable_decay", "squareroot", "factor", "multistep", "bert",
                     "onecycle", "cosine_restarts", "join", "product", "rescaled"}
    assert float(out[1]) == pytest.approx(0.1 * (1 / 25 / 1e4))


def test_a_subclass_registers_its_kind_where_it_is_defined():
    @dataclass(frozen=True)
    class Half(Schedule):
        kind: ClassVar[str] = "test_half"

        def _main(self, s):
            return 0.5

        def _main_v(self, s):
            return np.full_like(s, 0.5)

    try:
        assert SCHEDULE_KINDS["test_half"] is Half
        assert schedule_from_dict(Half(10, 2).to_dict()) == Half(10, 2)
        assert Schedule.from_dict({"kind": "test_half", "num_training_steps": 3})(3) == 0.5
        with pytest.raises(ValueError, match=r"schedule kind 'test_half' is already taken by .*Half; give .*Other another kind"):
            @dataclass(frozen=True)
            class Other(Half):
                kind: ClassVar[str] = "test_half"
    finally:
        del SCHEDULE_KINDS["test_half"]


def test_an_unknown_kind_names_the_known_ones_and_where_they_come_from():
    with pytest.raises(ValueError, match=r"unknown schedule kind 'zigzag'; known kinds: .*constant.*hf_sched.schedules imports every built-in one"):
        schedule_from_dict({"kind": "zigzag", "num_training_steps": 3})
    with pytest.raises(ValueError, match=r"unknown schedule kind \['x'\]"):
        schedule_from_dict({"kind": ["x"], "num_training_steps": 3})
