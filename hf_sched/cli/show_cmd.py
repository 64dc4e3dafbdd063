"""``hf-sched show NAME``: the key numbers of one schedule over a run and a curve in the terminal.

The key numbers are the warmup steps, the peak, the mean, the LR at 0/25/50/75/100% of
the run and the final value; ``--json`` prints them as data, ``--csv`` prints ``step,lr``
for every step ``0..T`` (at most :data:`~hf_sched.cli.arguments.MAX_CSV_ROWS` rows).

>>> from hf_sched.cli import main
>>> main(["show", "warmuplinear", "--steps", "4", "--warmup", "1", "--csv"])
step,lr
0,0.0
1,1.0
2,0.6666666666666666
3,0.3333333333333333
4,0.0
0
"""

from __future__ import annotations

import argparse
import json
import math
import sys
from typing import Any

from ..warmup import is_epoch_request
from .arguments import MAX_CSV_ROWS
from .errors import EXIT_OK, UsageError
from .specs import Built, build

__all__ = ["run_show"]


def _show_numbers(built: Built, args: argparse.Namespace) -> dict[str, Any]:
    """The key numbers of ``show`` as plain data (also the ``--json`` output)."""
    import numpy as np

    from ..plot import sample_steps

    s = built.schedule
    t, w, lr = s.num_training_steps, s.num_warmup_steps, args.lr
    x = sample_steps(t, w)
    m = s.values(x)  # multipliers: their mean cannot overflow where the LRs' sum would (--lr 1e308)
    y = m * lr
    k = int(np.argmax(y))
    peak_step, peak = int(x[k]), float(y[k])
    run = m[x < t]
    mean = float(run.mean() if run.size else m[0]) * lr

    marks: dict[int, list[str]] = {}

    def mark(step: int, what: str) -> None:
        marks.setdefault(step, []).append(what)

    mark(0, "first optimizer step")
    unit = getattr(args, "unit", None)
    if w > 0:
        mark(w, "end of warmup")
    mark(peak_step, "peak")
    for q in (1, 2, 3):
        mark(t * q // 4, "")
    if t > 1 and unit is None:
        mark(t - 1, "last optimizer step")
    mark(t, "final (held after the run)")
    points = []
    for step in sorted(marks):
        what = "; ".join(m for m in dict.fromkeys(marks[step]) if m)
        points.append({"step": step, "progress": step / t, "lr": float(s(step)) * lr, "what": what})
    for what, value in (("peak", peak), ("mean", mean), ("final", float(s.final_value()) * lr)):
        if not math.isfinite(value):
            raise UsageError(f"--lr {lr:g}: the {what} LR of {built.label} would be {value} (not a finite number); "
                             "give a smaller --lr")
    return {
        "name": built.name,
        "kwargs": built.kwargs,
        "schedule": s.to_dict(),
        "lr": lr,
        "clock": unit or "optimizer steps",
        "num_training_steps": t,
        "num_warmup_steps": w,
        "peak": {"step": peak_step, "lr": peak},
        "mean_lr": mean,
        "final_lr": float(s.final_value()) * lr,
        "points": points,
        "sampled": bool(len(x) < t + 1),
    }


def _print_csv(schedule: Any, lr: float, unit: str | None = None) -> None:
    import numpy as np

    t = schedule.num_training_steps
    write = sys.stdout.write
    write(f"{unit or 'step'},lr\n")
    chunk = 200_000
    for a in range(0, t + 1, chunk):
        steps = np.arange(a, min(t + 1, a + chunk), dtype=np.int64)
        vals = schedule.values(steps) * lr
        write("".join(f"{i},{v!r}\n" for i, v in zip(steps.tolist(), vals.tolist())))


def run_show(args: argparse.Namespace) -> int:
    """``hf-sched show NAME``: the key numbers and a terminal curve (or ``--csv``, ``--json``)."""
    from ..plot import terminal_plot

    if args.csv and args.steps + 1 > MAX_CSV_ROWS:
        raise UsageError(
            f"--steps {args.steps:,} with --csv would print {args.steps + 1:,} rows; --csv prints at most "
            f"{MAX_CSV_ROWS:,} rows (--steps <= {MAX_CSV_ROWS - 1:,}): use --json or 'hf-sched plot' for longer runs"
        )
    built = build(args.name, args, "show")
    s, info = built.schedule, built.info
    if args.csv:
        _print_csv(s, args.lr, args.unit)
        return EXIT_OK
    numbers = _show_numbers(built, args)
    if args.json:
        print(json.dumps(numbers, indent=2, default=repr, allow_nan=False))
        return EXIT_OK

    t, w = s.num_training_steps, s.num_warmup_steps
    lines = []
    head = info.name + (f"  (alias{'es' if len(info.aliases) > 1 else ''}: {', '.join(info.aliases)})" if info.aliases else "")
    lines.append(head)
    lines.append(f"  {info.description}")
    lines.append(f"  {_signature(info.name, info.kwargs, built.kwargs)}")
    lines.append("")
    unit = args.unit  # None: optimizer steps; "tokens"/"samples": a clock in that unit
    what, at = (unit, f"{unit} seen") if unit else ("steps", "step")
    lines.append(f"  training {what:<7}{t:,}")
    lines.append(f"  warmup {what:<9}{_describe_warmup(args.warmup, w, t, info, args.beta2, args.steps_per_epoch)}")
    peak = numbers["peak"]
    lines.append(f"  peak LR         {_fmt(peak['lr'])} at {at} {peak['step']:,}")
    lines.append(f"  mean LR         {_fmt(numbers['mean_lr'])} over the {t:,} {unit or 'optimizer steps'}")
    lines.append(f"  final LR        {_fmt(numbers['final_lr'])} ({at} {t:,} and after)")
    if unit:
        lines.append(f"  each step trains at the LR of the {unit} the steps before it consumed (scheduler.consume)")
    lines.append(f"  {_values_note(s, args.lr)}")
    lines.append("")
    rows = [(f"{p['step']:,}", _percent(p["step"], t), _fmt(p["lr"]), p["what"]) for p in numbers["points"]]
    heads = (unit or "step", "of run", "LR", "")
    widths = [max(len(r[i]) for r in [*rows, heads]) for i in range(3)]
    lines.append(f"  {heads[0]:>{widths[0]}}  {heads[1]:>{widths[1]}}  {heads[2]}")
    for r in rows:
        lines.append(f"  {r[0]:>{widths[0]}}  {r[1]:>{widths[1]}}  {r[2]:<{widths[2]}}  {r[3]}".rstrip())
    lines.append("")
    ascii_only = args.ascii or not _can_encode("▁█┴└│┤")
    chart = terminal_plot(s, lr=args.lr, width=args.width, height=args.height, ascii_only=ascii_only, unit=args.unit)
    lines.extend("  " + row for row in chart.splitlines())
    if numbers["sampled"]:
        lines.append(f"  (a run this long is evaluated on an even grid of {args.unit or 'steps'}, not every one)")
    print("\n".join(lines))
    return EXIT_OK


def _can_encode(text: str) -> bool:
    encoding = getattr(sys.stdout, "encoding", None) or "ascii"
    try:
        text.encode(encoding)
    except (UnicodeEncodeError, LookupError):
        return False
    return True


def _fmt(v: float) -> str:
    """Numbers for people: ``1``, ``0.933``, ``2e-05``, ``1.866e-05``."""
    if v == 0:
        return "0"
    return f"{v:.4g}"


def _percent(step: int, total: int) -> str:
    """``step / total`` as a percentage that reads ``100%`` only at the end.

    >>> _percent(250, 1000), _percent(19_999, 20_000), _percent(1000, 1000)
    ('25%', '99.995%', '100%')
    """
    for digits in (4, 6, 9, 12):
        text = f"{100.0 * step / total:.{digits}g}"
        if step == total or text != "100":
            return text + "%"
    return text + "%"


def _signature(name: str, defaults: dict[str, Any], given: dict[str, Any]) -> str:
    merged = {**defaults, **given}
    return f"{name}({', '.join(f'{k}={v!r}' for k, v in merged.items())})"


def _describe_warmup(request: str | None, w: int, t: int, info: Any, beta2: float, spe: int | None = None) -> str:
    pct = f"{100.0 * w / t:.3g}% of the run"
    if not info.has_warmup and request is None:
        return f"0 ({info.name} has no warmup phase)"
    if request is None:
        return f"{w:,} = {pct} (default 10%, rounded up)"
    if is_epoch_request(request) and spe is not None:
        return f"{w:,} = {pct} (--warmup {request} of {spe:,} steps per epoch, rounded up)"
    if request.strip().lower() == "auto":
        raw = int(round(2.0 / (1.0 - beta2)))
        capped = f", capped at {t:,}" if raw > t else ""
        return f"{w:,} = {pct} (auto: 2 / (1 - beta2={beta2:g}) = {raw:,}{capped})"
    return f"{w:,} = {pct} (--warmup {request})"


def _values_note(schedule: Any, lr: float) -> str:
    if not getattr(schedule, "normalised", True):
        if lr == 1.0:
            return "LR values are the absolute rate this schedule computes (use it with optimizer lr=1.0)"
        return f"LR values are lr={lr:g} x the absolute rate (note: this schedule is meant for optimizer lr=1.0)"
    if lr == 1.0:
        return "LR values are multipliers of the peak LR (pass --lr 2e-5 to see absolute LRs)"
    return f"LR values are absolute, for a peak LR of {lr:g}"
