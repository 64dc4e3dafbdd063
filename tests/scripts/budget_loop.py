"""Count the optimizer steps a plain Accelerate loop really takes, for a grid of settings.

Run on 1 process (``python budget_loop.py OUT``) or on N (``accelerate launch ...``);
``--after_prepare`` builds the scheduler from the prepared dataloader without ``accelerator=``
(as accelerate's own examples do). For
each setting it trains a tiny model with ``accelerator.accumulate``, counting optimizer
steps, with a prepared hf_sched scheduler, and writes (on the main process) a JSON list of
{setting, counted steps, budget, the last step's LR, the schedule's LR at T-1, final LR}.
"""

from __future__ import annotations

import json
import math
import sys

import torch
from accelerate import Accelerator
from accelerate.utils import DataLoaderConfiguration

from hf_sched import get_scheduler, training_steps
from hf_sched.finetune.process_group import end_process_group

GRID = [
    # examples, batch size, grad accum, epochs, max_steps
    (37, 4, 1, 1, None),
    (37, 4, 2, 2, None),
    (37, 4, 3, 1.5, None),
    (64, 8, 3, 2, None),
    (50, 4, 2, 1, 5),
    (50, 4, 1, 3, 20),
]


def main(out: str, split_batches: bool, after_prepare: bool = False) -> None:
    acc = Accelerator(cpu=True, dataloader_config=DataLoaderConfiguration(split_batches=split_batches))
    rows = []
    for n, bs, ga, epochs, max_steps in GRID:
        torch.manual_seed(0)
        acc.gradient_accumulation_steps = ga
        model = torch.nn.Linear(3, 1)
        opt = torch.optim.AdamW(model.parameters(), lr=0.01)
        data = torch.utils.data.TensorDataset(torch.randn(n, 3), torch.randn(n, 1))
        dl = torch.utils.data.DataLoader(data, batch_size=bs, shuffle=True)
        raw_len = len(dl)
        if after_prepare:
            # accelerate's nlp_example.py way: prepare first, then build the scheduler from the
            # prepared (per-process) dataloader, no accelerator=, and prepare it too
            model, opt, dl = acc.prepare(model, opt, dl)
            sched = get_scheduler("warmuplinear", opt, dataloader=dl, num_epochs=epochs, max_steps=max_steps,
                                  gradient_accumulation_steps=ga)
            budget = sched.schedules[0].num_training_steps
            sched = acc.prepare(sched)
        else:
            sched = get_scheduler("warmuplinear", opt, dataloader=dl, num_epochs=epochs, max_steps=max_steps,
                                  gradient_accumulation_steps=ga, accelerator=acc)
            budget = sched.schedules[0].num_training_steps
            model, opt, dl, sched = acc.prepare(model, opt, dl, sched)
        # the same number from the prepared dataloader (per-process length)
        budget_prepared = training_steps(dl, num_epochs=epochs, max_steps=max_steps, gradient_accumulation_steps=ga)
        steps, lrs = 0, []
        # Whole epochs run to exhaustion (no early stop), so the count proves the budget;
        # fractional epochs and max_steps stop at the budget, as a real loop does.
        limit = budget if (max_steps is not None or epochs != int(epochs)) else None
        for _epoch in range(math.ceil(epochs) if max_steps is None else 10**6):
            for x, y in dl:
                with acc.accumulate(model):
                    loss = torch.nn.functional.mse_loss(model(x), y)
                    acc.backward(loss)
                    if acc.sync_gradients:
                        lrs.append(opt.param_groups[0]["lr"])
                    opt.step()
                    sched.step()
                    opt.zero_grad()
                if acc.sync_gradients:
                    steps += 1
                    if limit is not None and steps >= limit:
                        break
            if limit is not None and steps >= limit:
                break
        f = sched.scheduler.schedules[0]
        rows.append({
            "setting": [n, bs, ga, epochs, max_steps], "raw_len": raw_len, "counted": steps,
            "budget": budget, "budget_prepared": budget_prepared,
            "epochs_exhausted": steps < budget,
            "lrs": lrs, "expected_lrs": [0.01 * f(s) for s in range(len(lrs))],
            "final_lr": opt.param_groups[0]["lr"], "expected_final": 0.01 * f.final_value(),
            "scheduler_step": sched.scheduler.optimizer_step,
        })
    if acc.is_main_process:
        with open(out, "w") as fh:
            json.dump({"num_processes": acc.num_processes, "rows": rows}, fh)
    end_process_group(acc)


if __name__ == "__main__":
    main(sys.argv[1], split_batches="--split_batches" in sys.argv, after_prepare="--after_prepare" in sys.argv)
