"""The LR of every real torch step under Accelerate + DeepSpeed ZeRO, against ``peak * f(s)``.

Run (DeepSpeed installed, no GPU needed)::

    DS_ACCELERATOR=cpu accelerate launch --use_deepspeed --num_processes 2 --main_process_port 0 \\
        tests/scripts/deepspeed_check.py STAGE [--groups] [--after] [--sub N] --out result.json

Two param groups (peaks 1e-3 and 5e-4) with ``--groups``; ``--after`` builds the scheduler
after ``accelerator.prepare`` (from DeepSpeed's optimizer wrapper); ``--sub N`` sets ZeRO-3's
``sub_group_size``. A pre-hook on the user's AdamW records the LR of each group at each real
``step()`` call (DeepSpeed steps inside ``accelerator.backward``, once per group).
"""

from __future__ import annotations

import argparse
import json
import warnings

import torch
from accelerate import Accelerator, DeepSpeedPlugin
from accelerate.utils import InitProcessGroupKwargs

import hf_sched


def main() -> None:
    ap = argparse.ArgumentParser()
    ap.add_argument("stage", type=int, choices=[1, 2, 3])
    ap.add_argument("--groups", action="store_true")
    ap.add_argument("--after", action="store_true")
    ap.add_argument("--sub", type=int, default=None)
    ap.add_argument("--out", required=True)
    args = ap.parse_args()
    plugin = DeepSpeedPlugin(zero_stage=args.stage, gradient_accumulation_steps=1)
    if args.sub is not None:
        plugin.deepspeed_config["zero_optimization"]["sub_group_size"] = args.sub
    # gloo: without a backend Accelerate does not see the second process under DeepSpeed on CPU
    acc = Accelerator(deepspeed_plugin=plugin, kwargs_handlers=[InitProcessGroupKwargs(backend="gloo")])
    torch.manual_seed(0)
    model = torch.nn.Sequential(torch.nn.Linear(8, 16), torch.nn.ReLU(), torch.nn.Linear(16, 1))
    params = list(model.parameters())
    peaks = [1e-3, 5e-4] if args.groups else [1e-3]
    groups = [{"params": params[::2]}, {"params": params[1::2], "lr": peaks[-1]}] if args.groups else params
    opt = torch.optim.AdamW(groups, lr=peaks[0])
    data = [(torch.randn(8), torch.randn(1)) for _ in range(24 * acc.num_processes)]
    dl = torch.utils.data.DataLoader(data, batch_size=2)
    build = lambda o: hf_sched.get_scheduler("warmupcosine", o, num_training_steps=12, num_warmup_steps=3)  # noqa: E731
    if args.after:
        model, opt, dl = acc.prepare(model, opt, dl)
        sched = acc.prepare(build(opt))
    else:
        sched = build(opt)
        model, opt, dl, sched = acc.prepare(model, opt, dl, sched)
    node, user_opt = opt, None
    while node is not None:  # Accelerate's wrapper -> DeepSpeed's ZeRO optimizer -> the AdamW
        if isinstance(node, torch.optim.AdamW):
            user_opt = node
        node = getattr(node, "optimizer", None)
    known, seen = list(user_opt.param_groups), []

    def record(o, a, k):
        seen.append({next(i for i, h in enumerate(known) if h is g): g["lr"] for g in o.param_groups if g["params"]})

    user_opt.register_step_pre_hook(record)
    used, calls = [], 0
    with warnings.catch_warnings(record=True) as caught:
        warnings.simplefilter("always")
        for x, y in dl:
            acc.backward(torch.nn.functional.mse_loss(model(x).float(), y))
            opt.step()
            sched.step()
            opt.zero_grad()
            step = {}
            for d in seen[calls:]:
                step.update(d)
            calls = len(seen)
            used.append([step.get(g) for g in range(len(peaks))])
    inner = getattr(sched, "scheduler", sched)
    f = inner.schedules[0]
    diff = max(abs(u - pk * f(s)) for s, row in enumerate(used) for u, pk in zip(row, peaks) if u is not None)
    if acc.is_main_process:
        with open(args.out, "w") as fh:
            json.dump({"stage": args.stage, "groups": len(peaks), "after_prepare": args.after,
                       "sub_group_size": args.sub, "steps": len(used), "torch_steps_per_iter": len(seen) / len(used),
                       "count": inner.optimizer_step, "max_abs_diff": diff,
                       "warnings": sorted({str(w.message) for w in caught if "param group" in str(w.message)})}, fh)
    acc.end_training()


if __name__ == "__main__":
    main()
