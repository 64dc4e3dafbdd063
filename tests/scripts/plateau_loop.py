"""reduce_lr_on_plateau / greedy with a warmup in a plain Accelerate loop, on 1 process or under ``accelerate launch``.

A small regression model trains for ``STEPS`` optimizer steps with the scheduler prepared by
Accelerate (so ``AcceleratedScheduler`` steps it ``num_processes`` times per call). It is stepped
without a metric after every optimizer step (as a generic loop does) and with an evaluation
metric every ``EVAL_EVERY`` steps. The metrics are a fixed sequence, the same on every process
(what a gathered evaluation gives): the test is about how often the scheduler cuts, so it must
know which evaluations are bad. The main process writes JSON: the LR each optimizer step used
(read from the optimizer after the step), the steps of the evaluations and the scheduler's state.

    python plateau_loop.py OUT.json [greedy]
    accelerate launch --multi_gpu --num_processes 2 ... plateau_loop.py OUT.json [greedy]
"""

from __future__ import annotations

import json
import sys

import torch
from accelerate import Accelerator

from hf_sched import get_scheduler
from hf_sched.finetune.process_group import end_process_group

PEAK = 0.01
STEPS = 24
WARMUP = 4
EVAL_EVERY = 3
# evaluations after steps 3, 6, ..., 24: the one at 3 falls in the warmup
METRICS = [5.0, 1.0, 0.8, 0.8, 0.9, 0.5, 0.5, 0.7]
KWARGS = {
    "reduce_lr_on_plateau": {"patience": 0, "factor": 0.5},
    "greedy": {"patience": 0, "factor": 0.5, "min_lr": 1e-4, "max_lr": 0.05},
}


def main(out: str, name: str) -> None:
    acc = Accelerator(cpu=True)
    torch.manual_seed(0)
    model = torch.nn.Linear(4, 1)
    opt = torch.optim.SGD(model.parameters(), lr=PEAK)
    data = torch.utils.data.TensorDataset(torch.randn(8 * STEPS * acc.num_processes, 4), torch.randn(8 * STEPS * acc.num_processes, 1))
    dl = torch.utils.data.DataLoader(data, batch_size=8)
    sched = get_scheduler(name, opt, warmup=WARMUP, scheduler_specific_kwargs=KWARGS[name])
    model, opt, dl, sched = acc.prepare(model, opt, dl, sched)
    used, evals = [], []
    for step, (x, y) in enumerate(dl, start=1):
        loss = torch.nn.functional.mse_loss(model(x), y)
        acc.backward(loss)
        opt.step()
        used.append(float(opt.param_groups[0]["lr"]))
        sched.step()
        opt.zero_grad()
        if step % EVAL_EVERY == 0:
            evals.append(step)
            sched.step(METRICS[step // EVAL_EVERY - 1])
        if step == STEPS:
            break
    if acc.is_main_process:
        with open(out, "w") as fh:
            json.dump({"num_processes": acc.num_processes, "used": used, "evals": evals,
                       "state": sched.scheduler.state_dict()["step"], "final_lr": float(opt.param_groups[0]["lr"])}, fh)
    end_process_group(acc)


if __name__ == "__main__":
    main(sys.argv[1], sys.argv[2] if len(sys.argv) > 2 else "reduce_lr_on_plateau")
