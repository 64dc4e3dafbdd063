"""Optimizers stepped one param group at a time (DeepSpeed ZeRO) still get one step per training step.

DeepSpeed is not installed here (it needs its own venv and a CPU accelerator set up; see
docs/integrations.md), so the first tests drive a real ``torch.optim.AdamW`` exactly the way
DeepSpeed's ZeRO optimizers do (deepspeed 0.19.8, read from its source):

* stage 1/2, ``DeepSpeedZeroOptimizer._optimizer_step(i)``: ``param_groups = [group_i]``,
  ``step()``, then the full list back, for each group in turn;
* stage 3, ``DeepSpeedZeroOptimizerStage3._optimizer_step``: every group's ``params`` is
  empty but the one being stepped (set to its flat partition), ``step()``, emptied again.

Before hf_sched knew these protocols, two groups counted two steps per training step (the
schedule ran twice as fast) and group 0's LR was written into group 1. The last test runs
real DeepSpeed when it is importable (``DS_ACCELERATOR=cpu``, two processes).
"""

from __future__ import annotations

import importlib.util
import json
import os
import subprocess
import sys
import warnings
from pathlib import Path

import pytest
import torch

from hf_sched import get_scheduler
from hf_sched.group_steps import PER_GROUP, WHOLE
from launched import launch_port

SCRIPT = Path(__file__).parent / "scripts" / "deepspeed_check.py"
PEAKS = (1e-3, 5e-4)


def _two_groups():
    torch.manual_seed(0)
    model = torch.nn.Sequential(torch.nn.Linear(4, 8), torch.nn.Linear(8, 1))
    weights = [model[0].weight, model[1].weight]
    biases = [model[0].bias, model[1].bias]
    opt = torch.optim.AdamW([{"params": weights}, {"params": biases, "lr": PEAKS[1]}], lr=PEAKS[0])
    return model, opt


def _zero12_step(opt):
    """What ZeRO 1/2 does in one training step: each group alone, in turn."""
    original = opt.param_groups
    for i in range(len(original)):
        opt.param_groups = [original[i]]
        opt.step()
        opt.param_groups = original


def _zero3_init(opt):
    """ZeRO-3 takes the params out of every group when it wraps the optimizer; returns them."""
    stash = [list(g["params"]) for g in opt.param_groups]
    for group in opt.param_groups:
        group["params"] = []
    return stash


def _zero3_step(opt, stash, parts=1):
    """What ZeRO-3 does: one group's params present (in ``parts`` sub-groups), the others empty."""
    for group, params in zip(opt.param_groups, stash):
        size = -(-len(params) // parts)
        for k in range(0, len(params), size):
            group["params"] = params[k:k + size]
            opt.step()
            group["params"] = []


class _Recorder:
    """The LR each group really trains with at each of its steps (a pre-hook on the optimizer)."""

    def __init__(self, opt):
        self.groups = list(opt.param_groups)
        self.lrs: list[list[float]] = [[] for _ in self.groups]
        opt.register_step_pre_hook(self._record)

    def _record(self, opt, args, kwargs):
        for group in opt.param_groups:
            if group["params"]:
                i = next(j for j, g in enumerate(self.groups) if g is group)
                self.lrs[i].append(float(group["lr"]))


def _train(opt, model, protocol, steps, sched, stash=None, parts=1, g=None):
    g = g if g is not None else torch.Generator().manual_seed(1)
    for _ in range(steps):
        model(torch.randn(2, 4, generator=g)).pow(2).mean().backward()
        if protocol == "zero12":
            _zero12_step(opt)
        else:
            _zero3_step(opt, stash, parts)
        sched.step()
        model.zero_grad()


@pytest.mark.parametrize("protocol", ["zero12", "zero3"])
def test_each_group_gets_its_own_lr_once_per_training_step(protocol):
    model, opt = _two_groups()
    sched = get_scheduler("warmupcosine", opt, num_training_steps=12, num_warmup_steps=3)
    stash = _zero3_init(opt) if protocol == "zero3" else None
    rec = _Recorder(opt)
    _train(opt, model, protocol, 15, sched, stash)
    f = sched.schedules[0]
    for i, peak in enumerate(PEAKS):
        assert rec.lrs[i] == pytest.approx([peak * f(s) for s in range(15)], abs=1e-15), i
    assert sched.optimizer_step == 15 and sched._protocol == PER_GROUP
    assert sched.get_last_lr() == pytest.approx([p * f.final_value() for p in PEAKS])


def test_a_plain_optimizer_is_judged_whole_and_takes_the_fast_path():
    model, opt = _two_groups()
    sched = get_scheduler("warmuplinear", opt, num_training_steps=10)
    for _ in range(3):
        model(torch.randn(2, 4)).pow(2).mean().backward()
        opt.step()
        sched.step()
    assert sched._protocol == WHOLE and sched.optimizer_step == 3


def test_resume_in_the_middle_of_a_per_group_run_is_exact():
    def run(split_at=None):
        model, opt = _two_groups()
        sched = get_scheduler("warmupcosine", opt, num_training_steps=12, num_warmup_steps=3)
        rec = _Recorder(opt)
        data = torch.Generator().manual_seed(1)
        if split_at is None:
            _train(opt, model, "zero12", 12, sched, g=data)
            return rec.lrs, [p.detach().clone() for p in model.parameters()]
        _train(opt, model, "zero12", split_at, sched, g=data)
        state = (model.state_dict(), opt.state_dict(), sched.state_dict())
        model2, opt2 = _two_groups()
        sched2 = get_scheduler("warmupcosine", opt2, num_training_steps=12, num_warmup_steps=3)
        model2.load_state_dict(state[0])
        opt2.load_state_dict(state[1])
        sched2.load_state_dict(state[2])
        rec2 = _Recorder(opt2)
        _train(opt2, model2, "zero12", 12 - split_at, sched2, g=data)
        return [a + b for a, b in zip(rec.lrs, rec2.lrs)], [p.detach().clone() for p in model2.parameters()]

    lrs, weights = run()
    lrs_resumed, weights_resumed = run(split_at=5)
    assert lrs_resumed == lrs
    assert all(torch.equal(a, b) for a, b in zip(weights, weights_resumed))


@pytest.mark.parametrize("groups", [1, 2])
def test_a_group_stepped_in_parts_is_reported_not_trained_silently_wrong(groups):
    model, opt = _two_groups()
    if groups == 1:
        opt = torch.optim.AdamW(model.parameters(), lr=1e-3)
    sched = get_scheduler("warmupcosine", opt, num_training_steps=12)
    stash = _zero3_init(opt)
    with pytest.warns(RuntimeWarning, match=r"stepped in parts .* sub_group_size"):
        _train(opt, model, "zero3", 2, sched, stash, parts=2)


def test_a_group_the_scheduler_does_not_know_is_named():
    model, opt = _two_groups()
    sched = get_scheduler("warmupcosine", opt, num_training_steps=12)
    stranger = {**opt.param_groups[1]}
    original = opt.param_groups
    model(torch.randn(2, 4)).pow(2).mean().backward()
    opt.param_groups = [stranger]
    with pytest.raises(RuntimeError, match=r"not one of those the scheduler was built for \(2 groups\)"):
        opt.step()
    opt.param_groups = original
    del sched


def test_pickled_scheduler_judges_the_protocol_again():
    import pickle

    model, opt = _two_groups()
    sched = get_scheduler("warmupcosine", opt, num_training_steps=12, num_warmup_steps=3)
    _train(opt, model, "zero12", 2, sched)
    sched2 = pickle.loads(pickle.dumps(sched))
    assert sched2._protocol is None and sched2.optimizer_step == 2


@pytest.mark.skipif(importlib.util.find_spec("deepspeed") is None,
                    reason="deepspeed is not installed (pip install -e '.[deepspeed]' in its own venv; docs/integrations.md)")
@pytest.mark.parametrize("stage", [1, 2, 3])
def test_real_deepspeed_two_processes_two_groups(stage, tmp_path):
    env = {**os.environ, "DS_ACCELERATOR": "cpu", "OMP_NUM_THREADS": "1"}
    cmd = [sys.executable, "-m", "accelerate.commands.launch", "--use_deepspeed", "--num_processes", "2",
           "--main_process_port", launch_port(), str(SCRIPT), str(stage), "--groups", "--out", str(tmp_path / "r.json")]
    proc = subprocess.run(cmd, env=env, capture_output=True, text=True, timeout=600)
    assert proc.returncode == 0, proc.stderr[-3000:]
    result = json.loads((tmp_path / "r.json").read_text())
    assert result["torch_steps_per_iter"] == 2.0  # DeepSpeed really steps each group on its own
    assert result["count"] == result["steps"] == 12
    assert result["max_abs_diff"] == 0.0
