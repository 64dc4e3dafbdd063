"""The built-in names (hf_sched.catalog): registered with descriptions, in the docs table, warmup
requests (shapes, "auto") through every name, and the errors of the name-level arguments.
"""

from __future__ import annotations

import math

import pytest
import torch

from hf_sched import get_scheduler
from hf_sched.registry import available_schedules, build_schedule, canonical_name, get_info
from lr_reference import close, make_optimizer


@pytest.mark.parametrize("name", ["squareroot", "factor", "multistep", "bert", "cosine_restarts", "warmupcosine"])
def test_exponential_warmup_applies_to_the_new_schedules(name):
    kw = {"factor": 0.99} if name == "factor" else {"milestones": [0.9]} if name == "multistep" else {}
    if name != "bert":
        kw["warmup_shape"] = "exponential"
    s = build_schedule(name, num_training_steps=100, num_warmup_steps=10, **kw)
    if name != "bert":
        assert close(s(0), 1 - math.exp(-0.5)) and s.warmup_shape == "exponential"


@pytest.mark.parametrize("name", ["warmupcosine", "bert", "squareroot", "cosine_restarts", "d2lcosine"])
def test_auto_warmup_is_2_over_1_minus_beta2_capped_at_T(name):
    adamw = torch.optim.AdamW([torch.nn.Parameter(torch.zeros(1))], lr=1e-3, betas=(0.9, 0.999))
    assert get_scheduler(name, adamw, num_training_steps=5000, warmup="auto").schedules[0].num_warmup_steps == 2000
    assert build_schedule(name, num_training_steps=1500, num_warmup_steps="auto", optimizer=adamw).num_warmup_steps == 1500
    adam98 = torch.optim.Adam([torch.nn.Parameter(torch.zeros(1))], lr=1e-3, betas=(0.9, 0.98))
    assert get_scheduler(name, adam98, num_training_steps=5000, num_warmup_steps="auto").schedules[0].num_warmup_steps == 100
    with pytest.raises(ValueError, match="warmup='auto' needs an Adam-family optimizer with betas; SGD has none"):
        get_scheduler(name, make_optimizer(), num_training_steps=5000, warmup="auto")


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


# ---- errors: each names the parameter, the value and what is allowed ---------------------

ERRORS = [
    (lambda: build_schedule("factor", num_training_steps=10, step_size=0), ValueError, r"step_size must be an integer >= 1, got 0"),
    (lambda: build_schedule("factor", num_training_steps=10, factor=0.9, stop_factor_lr=0.1, min_lr_ratio=0.1),
     ValueError, r"give only one of stop_factor_lr \(0.1, an absolute LR\) and min_lr_ratio \(0.1"),
    (lambda: build_schedule("factor", num_training_steps=10, factor=0.9, stop_factor_lr=1e-3), ValueError,
     r"stop_factor_lr=0.001 is an absolute LR and needs lr_init"),
    (lambda: build_schedule("factor", num_training_steps=10, factor=0.9, stop_factor_lr=2.0, lr_init=1.0), ValueError,
     r"stop_factor_lr must be at most the peak LR lr_init=1.0, got 2.0"),
    (lambda: build_schedule("d2lcosine", num_training_steps=10, final_lr=0.01), ValueError,
     r"final_lr=0.01 is an absolute LR and needs lr_init"),
    (lambda: build_schedule("d2lcosine", num_training_steps=10, final_lr=0.5, lr_init=0.1), ValueError,
     r"final_lr must be at most the peak LR lr_init=0.1, got 0.5"),
    (lambda: build_schedule("d2lcosine", num_training_steps=10, warmup_begin_lr=-1.0), ValueError,
     r"warmup_begin_lr must be a number >= 0, got -1.0"),
    (lambda: build_schedule("bert", num_training_steps=10, decay="x"), ValueError,
     r"schedule 'bert' got unknown argument\(s\) 'decay'; it accepts: power \(default 1.0\), end_ratio"),
]


@pytest.mark.parametrize("make, exc, message", ERRORS)
def test_bad_arguments_raise_clear_errors(make, exc, message):
    with pytest.raises(exc, match=message):
        make()
