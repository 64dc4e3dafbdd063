"""Who frees the process group at the end of a run: torch.distributed, or the DDP model's reducer? (2 processes)

``python -m accelerate.commands.launch --multi_gpu --num_processes 2 ... process_group_end.py OUT MODE``
trains a tiny DDP model for a few steps, then ends the run one of two ways:

* ``ours``: ``hf_sched.finetune.process_group.end_process_group(accelerator)``;
* ``plain``: ``accelerator.wait_for_everyone(); accelerator.end_training()``;
* ``bare``: the same, then return at once, as an ordinary script does: the DDP model is freed
  right away (``benchmarks/teardown_hangs.py`` counts how often that hangs; nothing recorded).

With the DDP model still alive, it records whether the model still holds its C++ reducer,
the one holder of the process group that frees it with the GIL held (the teardown hang), and
whether the group is still registered. Each rank writes ``OUT.rank<r>.json``.
"""

from __future__ import annotations

import json
import sys
import time
from pathlib import Path

import torch
from accelerate import Accelerator

from hf_sched import get_scheduler
from hf_sched.finetune.process_group import end_process_group


def main(out: str, mode: str) -> None:
    acc = Accelerator(cpu=True)
    model = torch.nn.Linear(3, 1)
    opt = torch.optim.AdamW(model.parameters(), lr=0.01)
    sched = get_scheduler("warmuplinear", opt, num_training_steps=4)
    model, opt, sched = acc.prepare(model, opt, sched)
    for _ in range(4):
        acc.backward(model(torch.randn(2, 3)).sum())
        opt.step()
        sched.step()
        opt.zero_grad()
    rank = acc.process_index
    if mode == "bare":
        acc.wait_for_everyone()
        acc.end_training()
        return
    if mode == "ours":
        end_process_group(acc)
    else:
        acc.wait_for_everyone()
        acc.end_training()
    result = {"rank": rank, "ddp_model_alive": type(model).__name__, "reducer_left": "reducer" in model.__dict__,
              "group_initialized": torch.distributed.is_initialized()}
    Path(f"{out}.rank{rank}.json").write_text(json.dumps(result))
    if mode == "plain":
        time.sleep(0.5)  # the last barrier's work is released long before the model is freed


if __name__ == "__main__":
    main(sys.argv[1], sys.argv[2])
