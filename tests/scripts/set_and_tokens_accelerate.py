"""Muon + AdamW as one OptimizerSet, on a clock in tokens, in a plain Accelerate loop (1 or N processes).

Run: ``python set_and_tokens_accelerate.py OUT_DIR`` or ``accelerate launch ... set_and_tokens_accelerate.py
OUT_DIR``. Every process trains the same tiny MLP on its shard of examples of varying token
length, with gradient accumulation 2; each micro-batch reports the tokens of the whole step
(gathered over the processes) with ``scheduler.consume``. Each process writes
``OUT_DIR/rank{r}.json``: per optimizer step, the clock position before it, both groups' LRs, and
at the end the optimizer steps the schedule counted.
"""

from __future__ import annotations

import json
import sys
from pathlib import Path

import torch
from accelerate import Accelerator

from hf_sched import OptimizerSet, get_scheduler
from hf_sched.finetune.process_group import end_process_group

NUM_EXAMPLES, BATCH, ACCUM = 96, 4, 2
TOTAL, WARMUP = "9k tok", "900 tok"  # the 3 epochs hold about 8,700 tokens


def main(out_dir: str) -> None:
    acc = Accelerator(cpu=True, gradient_accumulation_steps=ACCUM)
    torch.manual_seed(0)
    model = torch.nn.Sequential(torch.nn.Linear(6, 12), torch.nn.Tanh(), torch.nn.Linear(12, 3))
    muon = torch.optim.Muon([p for p in model.parameters() if p.ndim == 2], lr=0.02, weight_decay=0.0)
    adamw = torch.optim.AdamW([p for p in model.parameters() if p.ndim != 2], lr=1e-3)
    scheduler = get_scheduler("warmupcosine", OptimizerSet([muon, adamw]), num_training_steps=TOTAL, warmup=WARMUP)
    g = torch.Generator().manual_seed(1)
    data = [(torch.randn(6, generator=g), int(torch.randint(5, 60, (1,), generator=g))) for _ in range(NUM_EXAMPLES)]
    loader = torch.utils.data.DataLoader(data, batch_size=BATCH)
    model, optimizer, loader, prepared = acc.prepare(model, scheduler.optimizer, loader, scheduler)
    records = []
    for _epoch in range(3):
        for x, lengths in loader:
            with acc.accumulate(model):
                step_tokens = int(acc.gather(lengths.sum().reshape(1)).sum())  # the step's tokens, all processes
                scheduler.consume(tokens=step_tokens)
                if not records or records[-1]["done"]:
                    records.append({"position": scheduler.last_epoch,
                                    "lrs": [g["lr"] for g in scheduler.optimizer.param_groups], "done": False})
                loss = model(x).pow(2).mean()
                acc.backward(loss)
                optimizer.step()
                prepared.step()
                optimizer.zero_grad()
                if acc.sync_gradients:
                    records[-1]["done"] = True
    out = {"records": records, "optimizer_step": scheduler.optimizer_step, "position": scheduler.last_epoch,
           "schedule": scheduler.schedules[0].to_dict(), "state": scheduler.state_dict()}
    Path(out_dir, f"rank{acc.process_index}.json").write_text(json.dumps(out))
    end_process_group(acc)


if __name__ == "__main__":
    main(sys.argv[1])
