"""Every bad input raises an error that names the parameter, the value and what is allowed."""

from __future__ import annotations

import math

import pytest
import torch

from hf_sched import ScheduledLR, build_schedule, compute_budget, get_scheduler, resolve_warmup, training_steps
from hf_sched.schedules import Cosine, Linear, Noam, schedule_from_dict


def _opt():
    return torch.optim.AdamW([torch.nn.Parameter(torch.zeros(1))], lr=1e-3)


CASES = [
    # (callable, exception, message regex)
    (lambda: build_schedule("warmupcosine", num_training_steps=0), ValueError,
     r"num_training_steps must be an integer >= 1, got 0"),
    (lambda: build_schedule("warmupcosine", num_training_steps=-5), ValueError,
     r"num_training_steps must be an integer >= 1, got -5"),
    (lambda: build_schedule("warmupcosine", num_training_steps=10.5), ValueError,
     r"num_training_steps must be a whole number, got 10.5"),
    (lambda: build_schedule("warmupcosine", num_training_steps="100"), TypeError,
     r"num_training_steps must be an integer, got '100' \(str\)"),
    (lambda: build_schedule("warmupcosine", num_training_steps=math.nan), ValueError,
     r"num_training_steps must be a whole number, got nan"),
    (lambda: build_schedule("warmupcosine", num_training_steps=10, num_warmup_steps=11), ValueError,
     r"warmup of 11 steps is longer than the 10 training steps"),
    (lambda: Linear(num_training_steps=10, num_warmup_steps=11), ValueError,
     r"num_warmup_steps must be in \[0, num_training_steps=10\], got 11"),
    (lambda: build_schedule("warmupcosine", num_training_steps=10, num_warmup_steps=-1), ValueError,
     r"warmup steps must be >= 0, got -1"),
    (lambda: build_schedule("warmupcosine", num_training_steps=10, num_warmup_steps=1.0), ValueError,
     r"warmup ratio must be in \[0, 1\), got 1.0 \(pass an int for a number of steps\)"),
    (lambda: build_schedule("warmupcosine", num_training_steps=10, num_warmup_steps=-0.1), ValueError,
     r"warmup ratio must be in \[0, 1\), got -0.1"),
    (lambda: build_schedule("warmupcosine", num_training_steps=10, num_warmup_steps=math.nan), ValueError,
     r"warmup ratio must be in \[0, 1\), got nan"),
    (lambda: build_schedule("warmupcosine", num_training_steps=10, num_warmup_steps="150%"), ValueError,
     r"warmup \(percent\) must be a number in \[0, 100\), got 150.0"),
    (lambda: build_schedule("warmupcosine", num_training_steps=10, num_warmup_steps="ten percent"), ValueError,
     r"warmup must be a number of steps \(int\), a ratio in \[0, 1\), a percentage like '10%', epochs like '1ep' or 'auto', got 'ten percent'"),
    (lambda: build_schedule("warmupcosine", num_training_steps=10, num_warmup_steps=True), TypeError,
     r"warmup must be an int \(steps\).*got True \(bool\)"),
    (lambda: build_schedule("warmupcosine", num_training_steps=10, num_warmup_steps="auto"), ValueError,
     r"warmup='auto' needs the optimizer"),
    (lambda: build_schedule("warmupcosin", num_training_steps=10), ValueError,
     r"unknown schedule name 'warmupcosin'. Did you mean 'warmupcosine'\? Available: constantlr, "),
    (lambda: build_schedule("cosine-annealing-xyz", num_training_steps=10), ValueError,
     r"unknown schedule name 'cosine-annealing-xyz'.*Available: .*warmupcosine"),
    (lambda: build_schedule(3, num_training_steps=10), TypeError,
     r"schedule name must be a string, got 3 \(int\)"),
    (lambda: build_schedule("warmuplinear", num_training_steps=10, num_cycles=2), ValueError,
     r"schedule 'warmuplinear' got unknown argument\(s\) 'num_cycles'; it accepts: min_lr_ratio \(default 0.0\)"),
    (lambda: get_scheduler("linear", _opt(), 1, 10, {"min_lr": 1e-5}), ValueError,
     r"schedule 'warmuplinear' got unknown argument\(s\) 'min_lr'"),
    (lambda: build_schedule("cosine_with_min_lr", num_training_steps=10), ValueError,
     r"needs one of min_lr \(an absolute LR\) or min_lr_rate"),
    (lambda: build_schedule("cosine_with_min_lr", num_training_steps=10, min_lr=1e-5, min_lr_rate=0.1), ValueError,
     r"give only one of min_lr \(1e-05\) and min_lr_rate \(0.1\)"),
    (lambda: build_schedule("warmupcosine", num_training_steps=10, num_cycles=0), ValueError,
     r"num_cycles must be a number > 0, got 0"),
    (lambda: build_schedule("warmupcosine", num_training_steps=10, min_lr_ratio=1.5), ValueError,
     r"min_lr_ratio must be a number in \[0, 1\], got 1.5"),
    (lambda: build_schedule("warmupcosine", num_training_steps=10, warmup_start=-0.5), ValueError,
     r"warmup_start must be a number in \[0, 1\], got -0.5"),
    (lambda: build_schedule("warmupcosine", num_training_steps=10, warmup_shape="quadratic"), ValueError,
     r"warmup_shape must be one of 'linear', 'constant', 'exponential', 'cosine', '1-sqrt', got 'quadratic'"),
    (lambda: build_schedule("noam", num_training_steps=10, num_warmup_steps=2, d_model=0), ValueError,
     r"d_model must be an integer >= 1, got 0"),
    (lambda: build_schedule("noam", num_training_steps=10, num_warmup_steps=2, d_model=-512), ValueError,
     r"d_model must be an integer >= 1, got -512"),
    (lambda: Noam(num_training_steps=10, num_warmup_steps=0), ValueError,
     r"noam needs num_warmup_steps >= 1"),
    (lambda: build_schedule("noam", num_training_steps=10, num_warmup_steps=2, factor=2.0), ValueError,
     r"factor only applies with d_model"),
    (lambda: build_schedule("polynomial", num_training_steps=10, lr_init=1e-3, lr_end=1e-2), ValueError,
     r"lr_end \(0.01\) must be smaller than the initial lr \(0.001\)"),
    (lambda: build_schedule("polynomial", num_training_steps=10, lr_init=1e-3, power=-1), ValueError,
     r"power must be a number > 0, got -1"),
    (lambda: build_schedule("wsd", num_training_steps=10, num_warmup_steps=2, decay_type="exp"), ValueError,
     r"decay_type must be one of 'linear', 'cosine', '1-sqrt', got 'exp'"),
    (lambda: build_schedule("wsd", num_training_steps=10, num_warmup_steps=2, num_decay_steps=9), ValueError,
     r"num_decay_steps must be an integer in \[0, 8\], got 9"),
    (lambda: build_schedule("reduce_lr_on_plateau", num_training_steps=10), ValueError,
     r"'reduce_lr_on_plateau' is an adaptive \(metric-driven\) scheduler"),
    (lambda: build_schedule("constantlr", num_training_steps=10, num_warmup_steps=3), ValueError,
     r"schedule 'constantlr' has no warmup phase, got num_warmup_steps=3"),
    (lambda: get_scheduler("warmupcosine", _opt()), ValueError,
     r"schedule 'warmupcosine' needs the run's total steps: pass max_steps \(or num_training_steps\), or a dataloader"),
    (lambda: get_scheduler("warmupcosine", _opt(), num_warmup_steps=3, warmup=0.1, num_training_steps=10), ValueError,
     r"give the warmup once: num_warmup_steps=3 and warmup=0.1 were both set"),
    (lambda: get_scheduler("warmupcosine", _opt(), num_training_steps=10, max_steps=10), ValueError,
     r"num_training_steps=10 was given together with a dataloader/num_batches/max_steps"),
    (lambda: get_scheduler("warmupcosine", _opt(), num_training_steps=10,
                           scheduler_specific_kwargs={"num_cycles": 1}, num_cycles=2), ValueError,
     r"schedule argument\(s\) \['num_cycles'\] given both"),
    (lambda: get_scheduler("inverse_sqrt", _opt()), ValueError,
     r"'inverse_sqrt' without num_training_steps needs num_warmup_steps as a number of steps \(int\)"),
    (lambda: training_steps(num_batches=10, num_epochs=0), ValueError,
     r"num_epochs must be a number > 0, got 0"),
    (lambda: training_steps(num_batches=10, num_epochs=-1), ValueError,
     r"num_epochs must be a number > 0, got -1"),
    (lambda: training_steps(num_batches=10, gradient_accumulation_steps=0), ValueError,
     r"gradient_accumulation_steps must be an integer >= 1, got 0"),
    (lambda: training_steps(num_batches=10, max_steps=0), ValueError,
     r"max_steps must be an integer >= 1, got 0"),
    (lambda: training_steps(num_batches=0), ValueError,
     r"num_batches \(len\(dataloader\)\) must be an integer >= 1, got 0"),
    (lambda: training_steps(num_batches=10, num_processes=0), ValueError,
     r"num_processes must be an integer >= 1, got 0"),
    (lambda: training_steps(num_batches=1, num_processes=2, drop_last=True) if False else
     training_steps(torch.utils.data.DataLoader(range(4), batch_size=4, drop_last=True), num_processes=2), ValueError,
     r"the dataloader has 1 batches, fewer than num_processes=2"),
    (lambda: training_steps(), ValueError, r"cannot compute the number of training steps"),
    (lambda: compute_budget(num_batches=10, warmup=20), ValueError,
     r"warmup of 20 steps is longer than the 10 training steps"),
    (lambda: resolve_warmup(0.1, 0), ValueError, r"num_training_steps must be an integer >= 1, got 0"),
    (lambda: ScheduledLR("not an optimizer", Linear(10)), TypeError,
     r"optimizer must be a torch.optim.Optimizer, got str"),
    (lambda: ScheduledLR(_opt(), lambda s: 1.0), TypeError, r"schedule must be an hf_sched Schedule or a list of them \(one per param group\), got function"),
    (lambda: ScheduledLR(_opt(), Linear(10), interval="optimizer"), ValueError,
     r"interval must be 'step' \(count optimizer steps, the default\) or 'epoch' \(count step\(\) calls\), got 'optimizer'"),
    (lambda: ScheduledLR(_opt(), Linear(10), last_epoch=-2), ValueError, r"last_epoch must be an integer >= -1, got -2"),
    (lambda: ScheduledLR(_opt(), Linear(10)).step(3), TypeError, r"ScheduledLR.step\(\) takes no epoch"),
    (lambda: Cosine(10)(-1), ValueError, r"step must be >= 0, got -1"),
    (lambda: Cosine(10).values([0, -2]), ValueError, r"steps must all be >= 0"),
    (lambda: schedule_from_dict({"kind": "zigzag", "num_training_steps": 3}), ValueError,
     r"unknown schedule kind 'zigzag'; known kinds: "),
    (lambda: schedule_from_dict({"kind": "linear", "num_training_steps": 3, "bogus": 1}), ValueError,
     r"schedule kind 'linear' has no field\(s\) \['bogus'\]"),
    (lambda: schedule_from_dict([1, 2]), ValueError, r"a schedule spec must be a dict with a 'kind' key"),
]


@pytest.mark.parametrize("call,exc,message", CASES, ids=[f"case{i}" for i in range(len(CASES))])
def test_bad_input_message(call, exc, message):
    with pytest.raises(exc, match=message):
        call()


def test_there_are_many_cases():
    assert len(CASES) >= 20
