"""hf_sched.finetune.strict_json: a run's JSON never holds NaN or Infinity."""

from __future__ import annotations

import json
import math

from hf_sched.finetune.strict_json import dumps_strict, finite_or_none


def test_non_finite_floats_become_null_at_any_depth_and_the_rest_stays():
    value = {"loss": math.nan, "log": [{"lr": math.inf, "step": 1}, (-math.inf, 2.5)], "name": "x", "ok": True}
    text = dumps_strict(value)

    def refuse(constant):
        raise AssertionError(constant)

    assert json.loads(text, parse_constant=refuse) == {"loss": None, "log": [{"lr": None, "step": 1}, [None, 2.5]],
                                                        "name": "x", "ok": True}
    assert finite_or_none(3) == 3 and finite_or_none(None) is None
