"""``hf_sched.finetune.checkpoint.resume_changes``: which setting changes each ``--lr_scheduler_resume`` mode accepts.

(The checkpoints themselves, damaged and whole, are exercised through the recipe in
``tests/test_recipe_accelerate.py``, ``tests/test_faults.py`` and ``tests/reliability_cases.py``.)
"""

from __future__ import annotations

import pytest

from hf_sched.finetune.checkpoint import CheckpointError, resume_changes

BUDGET = ("num_processes", "batch_size", "num_epochs")
PLAN = ("learning_rate", "weight_decay")
SAVED = {"model": "tiny", "num_processes": 1, "batch_size": 16, "num_epochs": 1.5, "learning_rate": 5e-5,
         "weight_decay": 0.01}


def changes(resume: str, **current):
    return resume_changes("run/step_4", SAVED, {**SAVED, **current}, resume=resume, budget_keys=BUDGET,
                          plan_keys=PLAN)


def refusal(resume: str, **current) -> str:
    with pytest.raises(CheckpointError) as info:
        changes(resume, **current)
    return str(info.value)


@pytest.mark.parametrize("resume", ["strict", "checkpoint", "rescale", "replan"])
def test_the_same_settings_resume_in_every_mode(resume):
    assert changes(resume) == []


def test_strict_refuses_any_change_and_lists_the_other_modes():
    message = refusal("strict", num_processes=2)
    assert message.startswith("cannot resume from 'run/step_4': it was written with other settings "
                              "(num_processes: 1 -> 2), so the run would not continue the same curve")
    for mode in ("--lr_scheduler_resume checkpoint (", "--lr_scheduler_resume rescale (",
                 "--lr_scheduler_resume replan ("):
        assert mode in message
    assert "\n" not in message


@pytest.mark.parametrize("resume", ["checkpoint", "rescale", "replan"])
def test_other_hardware_and_budget_resume_in_the_other_modes(resume):
    assert changes(resume, num_processes=2, batch_size=8, num_epochs=3.0) == [
        "num_processes: 1 -> 2", "batch_size: 16 -> 8", "num_epochs: 1.5 -> 3.0"]


@pytest.mark.parametrize("resume", ["checkpoint", "rescale"])
def test_a_new_peak_lr_is_applied_only_by_replan(resume):
    assert refusal(resume, learning_rate=1e-4) == (
        f"cannot resume from 'run/step_4' with --lr_scheduler_resume {resume}: learning_rate: 5e-05 -> 0.0001 is a "
        "new plan, which only --lr_scheduler_resume replan applies (it prints the LR jump); resume with the "
        "checkpoint's value or with --lr_scheduler_resume replan")
    assert changes("replan", learning_rate=1e-4, weight_decay=0.1) == [
        "learning_rate: 5e-05 -> 0.0001", "weight_decay: 0.01 -> 0.1"]


@pytest.mark.parametrize("resume", ["checkpoint", "rescale", "replan"])
def test_another_model_is_refused_in_every_mode(resume):
    assert refusal(resume, model="other", batch_size=8).startswith(
        "cannot resume from 'run/step_4': it was written with another model: 'tiny' -> 'other', which no "
        "--lr_scheduler_resume mode changes")
