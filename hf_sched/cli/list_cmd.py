"""``hf-sched list``: every schedule name with its aliases, keyword arguments and one line on it.

>>> import argparse
>>> run_list(argparse.Namespace(json=False))  # doctest: +ELLIPSIS
Schedule names (case-insensitive; '-', '_' and spaces are ignored):
...
0
"""

from __future__ import annotations

import argparse
import json

from .errors import EXIT_OK

__all__ = ["run_list"]


def run_list(args: argparse.Namespace) -> int:
    """``hf-sched list [--json]``: every name, its aliases, kwargs (with defaults) and what it does."""
    from ..registry import iter_schedules

    infos = list(iter_schedules())
    if args.json:
        rows = [
            {
                "name": i.name,
                "aliases": list(i.aliases),
                "description": i.description,
                "kwargs": i.kwargs,
                "has_warmup": i.has_warmup,
                "adaptive": i.adaptive,
                "needs_total": i.needs_total,
                "uses_lr": i.uses_lr,
            }
            for i in infos
        ]
        print(json.dumps(rows, indent=2, default=repr))
        return EXIT_OK
    print("Schedule names (case-insensitive; '-', '_' and spaces are ignored):\n")
    for i in infos:
        head = i.name
        if i.aliases:
            head += f"  (alias{'es' if len(i.aliases) > 1 else ''}: {', '.join(i.aliases)})"
        if i.adaptive:
            head += "  [metric-driven, delegates to torch/transformers; no curve for show/plot]"
        elif not i.has_warmup:
            head += "  [no warmup]"
        print(head)
        print(f"    {i.description}")
        kw = ", ".join(f"{k}={v!r}" for k, v in i.kwargs.items()) or "none"
        print(f"    kwargs: {kw}")
        if i.uses_lr:
            print("    takes the peak LR from --lr (its LR arguments are absolute)")
    print("\nWarmup defaults to 10% of the training steps (rounded up) for every schedule with a warmup phase.")
    return EXIT_OK
