"""``hf-sched``: what does this schedule do to my run? Answered in seconds, no optimizer.

Subcommands::

    hf-sched list [--json]                                  every name, aliases, kwargs
    hf-sched show NAME --steps 1000 [--warmup 10%] [--kwargs JSON] [--lr 2e-5] [--csv|--json]
    hf-sched plot NAME [NAME ...] --steps N --out lr.png [--log-y]
    hf-sched steps --examples N --batch-size B --epochs E [--grad-accum G] [--processes P]
                   [--max-steps M] [--warmup 10%]

A ``NAME`` may carry its own keyword arguments, ``NAME:key=value,key=value`` (values are
read as JSON, else as text), so one plot can compare ``hard-restarts:num_cycles=1`` with
``hard-restarts:num_cycles=3``; ``--kwargs '{"num_cycles": 2}'`` applies to every name.

Bad input (unknown name, unknown kwarg, bad number, bad JSON, warmup longer than the run,
adaptive name in ``show``/``plot``...) prints one message on stderr that names the
parameter, the value and what is allowed, and exits with status 2. The CLI never imports
torch; matplotlib is imported by ``plot`` only.

>>> main(["show", "warmuplinear", "--steps", "10", "--csv"])  # doctest: +ELLIPSIS
step,lr
0,0.0
1,1.0
2,0.888...
0
"""

from __future__ import annotations

import argparse
import difflib
import json
import math
import re
import sys
import time
from dataclasses import dataclass
from pathlib import Path
from typing import Any, Callable, Sequence

__all__ = [
    "main",
    "build_parser",
    "parse_name_spec",
    "UsageError",
    "EXIT_OK",
    "EXIT_FAILURE",
    "EXIT_USAGE",
]

EXIT_OK = 0
#: The environment failed (a missing optional dependency, a broken pipe).
EXIT_FAILURE = 1
#: Bad input: unknown name or kwarg, bad number, bad JSON, impossible warmup...
EXIT_USAGE = 2

_ADAM_BETA2 = 0.999  # torch.optim.AdamW's default, used by --warmup auto


class UsageError(Exception):
    """Bad input from the command line; reported on stderr with exit status 2."""


# -- argument types ---------------------------------------------------------------------


def _whole(text: str, minimum: int) -> int:
    """``"1000"``, ``"1_000"``, ``"1e6"`` -> int >= minimum, else ArgumentTypeError."""
    value: float | int
    try:
        value = int(text.replace(",", ""))
    except ValueError:
        try:
            value = float(text)
        except ValueError:
            raise argparse.ArgumentTypeError(f"must be a whole number >= {minimum}, got {text!r}") from None
        if not math.isfinite(value) or value != int(value):
            raise argparse.ArgumentTypeError(f"must be a whole number >= {minimum}, got {text!r}") from None
        value = int(value)
    if value < minimum:
        raise argparse.ArgumentTypeError(f"must be a whole number >= {minimum}, got {text!r}")
    return int(value)


def _positive_int(text: str) -> int:
    return _whole(text, 1)


def _positive_float(text: str) -> float:
    try:
        value = float(text)
    except ValueError:
        raise argparse.ArgumentTypeError(f"must be a number > 0, got {text!r}") from None
    if not math.isfinite(value) or value <= 0:
        raise argparse.ArgumentTypeError(f"must be a finite number > 0, got {text!r}")
    return value


def _beta2(text: str) -> float:
    try:
        value = float(text)
    except ValueError:
        raise argparse.ArgumentTypeError(f"must be a number in [0, 1), got {text!r}") from None
    if not 0.0 <= value < 1.0:
        raise argparse.ArgumentTypeError(f"must be a number in [0, 1), got {text!r}")
    return value


def _pixels(text: str) -> tuple[int, int]:
    m = re.fullmatch(r"\s*(\d+)\s*[xX*,]\s*(\d+)\s*", text)
    if not m or int(m.group(1)) < 100 or int(m.group(2)) < 100:
        raise argparse.ArgumentTypeError(f"must be WIDTHxHEIGHT in pixels, each >= 100 (e.g. 1200x675), got {text!r}")
    return int(m.group(1)), int(m.group(2))


def _name(text: str) -> str:
    if not text.strip():
        raise argparse.ArgumentTypeError("a schedule name may not be empty (see: hf-sched list)")
    return text


# -- parser -----------------------------------------------------------------------------


class _Parser(argparse.ArgumentParser):
    """argparse with a did-you-mean for mistyped subcommands; errors exit with 2."""

    def error(self, message: str) -> Any:  # type: ignore[override]
        m = re.search(r"invalid choice: '?([^'\s(]+)'?", message)
        if m and "(choose from" in message:
            choices = re.findall(r"[\w-]+", message.split("(choose from", 1)[1])
            close = difflib.get_close_matches(m.group(1), choices, n=1, cutoff=0.5)
            if close:
                message += f"; did you mean {close[0]!r}?"
        return super().error(message)


_MAIN_EPILOG = """\
examples:
  hf-sched list
  hf-sched show warmupcosine --steps 1000
  hf-sched show noam --steps 20000 --warmup 4000 --lr 5e-4
  hf-sched plot warmuplinear warmupcosine noam --steps 1000 --out lr.png
  hf-sched steps --examples 50000 --batch-size 32 --epochs 3 --grad-accum 2 --processes 4

Names are case-insensitive and ignore '-', '_' and spaces (warmup-cosine = WarmupCosine).
Bad input exits with status 2 and one message on stderr.
"""

_LIST_EPILOG = """\
examples:
  hf-sched list
  hf-sched list --json | python -c "import json,sys; print([s['name'] for s in json.load(sys.stdin)])"
"""

_SHOW_EPILOG = """\
NAME may carry keyword arguments: NAME:key=value,key=value (JSON values, else text).

examples:
  hf-sched show warmupcosine --steps 1000
  hf-sched show warmupcosine --steps 1000 --warmup 5% --kwargs '{"num_cycles": 1.5}'
  hf-sched show hard-restarts:num_cycles=3 --steps 3000 --lr 2e-5
  hf-sched show polynomial --steps 1000 --lr 1e-4 --kwargs '{"power": 2, "lr_end": 1e-6}'
  hf-sched show noam --steps 20000 --warmup auto --beta2 0.98
  hf-sched show warmuplinear --steps 500 --csv > lr.csv

--warmup: steps (100), a ratio in [0, 1) (0.06), a percentage (6%), or auto
(2 / (1 - beta2) steps, Ma & Yarats 2019, capped at --steps). Default: 10% for every
schedule with a warmup phase, rounded up as the Trainer does.
"""

_PLOT_EPILOG = """\
NAME may carry keyword arguments: NAME:key=value,key=value (JSON values, else text).

examples:
  hf-sched plot constantlr warmupconstant warmuplinear warmupcosine \\
      warmupcosinewithhardrestarts noam --steps 1000 --out docs/schedules.png
  hf-sched plot hard-restarts:num_cycles=1 hard-restarts:num_cycles=4 --steps 1000000 --out restarts.png
  hf-sched plot warmuplinear noam --steps 5000 --lr 2e-5 --log-y --out lr.png
"""

_STEPS_EPILOG = """\
examples:
  hf-sched steps --examples 10000 --batch-size 32 --epochs 3
  hf-sched steps --examples 10000 --batch-size 32 --epochs 3 --grad-accum 4 --processes 2
  hf-sched steps --examples 10000 --batch-size 32 --epochs 1.5 --warmup 6%
  hf-sched steps --examples 10000 --batch-size 32 --max-steps 500 --warmup 50
  hf-sched steps --examples 10000 --batch-size 64 --processes 4 --split-batches --json

--batch-size is the per-device batch size (the Trainer's per_device_train_batch_size);
with --split-batches it is the global batch that Accelerate splits across processes.
"""


def _add_schedule_args(p: argparse.ArgumentParser) -> None:
    p.add_argument("--steps", type=_positive_int, default=1000, metavar="N",
                   help="optimizer steps of the run, T (default 1000)")
    p.add_argument("--warmup", default=None, metavar="W",
                   help="warmup: steps (100), ratio (0.1), percent (10%%) or auto (default 10%%)")
    p.add_argument("--kwargs", default=None, metavar="JSON",
                   help='schedule keyword arguments as a JSON object, e.g. \'{"num_cycles": 2}\'')
    p.add_argument("--lr", type=_positive_float, default=1.0,
                   help="peak LR; 1.0 (default) shows multipliers of the peak, 2e-5 shows absolute LRs")
    p.add_argument("--beta2", type=_beta2, default=_ADAM_BETA2,
                   help="Adam beta2 for --warmup auto (default 0.999, torch's AdamW)")


def build_parser(prog: str = "hf-sched") -> argparse.ArgumentParser:
    """The argument parser of ``hf-sched`` (one subparser per subcommand).

    >>> build_parser().parse_args(["show", "noam", "--steps", "200"]).steps
    200
    """
    from . import __version__

    fmt = argparse.RawDescriptionHelpFormatter
    parser = _Parser(
        prog=prog,
        description="Learning-rate schedules with warmup: list them, look at one, plot several,\n"
        "and count the optimizer steps of a run.",
        epilog=_MAIN_EPILOG,
        formatter_class=fmt,
    )
    parser.add_argument("--version", action="version", version=f"%(prog)s {__version__}")
    sub = parser.add_subparsers(dest="command", metavar="{list,show,plot,steps}", parser_class=_Parser)
    sub.required = True

    p = sub.add_parser("list", help="every schedule name, its aliases, kwargs and what it does",
                       description="Every schedule name with its aliases, keyword arguments (with defaults)\n"
                       "and one line on what it does.", epilog=_LIST_EPILOG, formatter_class=fmt)
    p.add_argument("--json", action="store_true", help="machine-readable output")

    p = sub.add_parser("show", help="key numbers and a terminal curve of one schedule",
                       description="The key numbers of one schedule over a run (warmup steps, peak, LR at\n"
                       "25/50/75/100%, final) and a small curve drawn in the terminal.",
                       epilog=_SHOW_EPILOG, formatter_class=fmt)
    p.add_argument("name", type=_name, metavar="NAME", help="schedule name or alias (see: hf-sched list)")
    _add_schedule_args(p)
    out = p.add_mutually_exclusive_group()
    out.add_argument("--csv", action="store_true", help="print step,lr for every step 0..T instead")
    out.add_argument("--json", action="store_true", help="print the key numbers as JSON instead")
    p.add_argument("--ascii", action="store_true", help="draw the curve with ASCII characters only")
    p.add_argument("--width", type=_positive_int, default=60, help="curve width in characters (default 60)")
    p.add_argument("--height", type=_positive_int, default=12, help="curve height in lines (default 12)")

    p = sub.add_parser("plot", help="one PNG with several schedules overlaid",
                       description="One image with every named schedule overlaid over the same run,\n"
                       "labelled, with the end of warmup marked (matplotlib).",
                       epilog=_PLOT_EPILOG, formatter_class=fmt)
    p.add_argument("names", nargs="+", type=_name, metavar="NAME", help="schedule names or aliases")
    _add_schedule_args(p)
    p.add_argument("--out", default="lr.png", metavar="PATH",
                   help="image to write (default lr.png; .svg and .pdf work too)")
    p.add_argument("--log-y", action="store_true", help="logarithmic LR axis")
    p.add_argument("--title", default=None, help="figure title (default: run length and warmup)")
    p.add_argument("--size", type=_pixels, default=None, metavar="WxH",
                   help="image size in pixels (default 1200x675)")
    p.add_argument("--dpi", type=_positive_int, default=None, help="dots per inch (default 150)")

    p = sub.add_parser("steps", help="exact optimizer and warmup steps of a Trainer / Accelerate run",
                       description="The exact optimizer steps and warmup steps the Trainer and an Accelerate\n"
                       "loop take, with the arithmetic shown.", epilog=_STEPS_EPILOG, formatter_class=fmt)
    p.add_argument("--examples", type=_positive_int, default=None, metavar="N", help="training examples")
    p.add_argument("--batch-size", type=_positive_int, default=8, metavar="B",
                   help="per-device batch size (default 8, the Trainer's default)")
    p.add_argument("--epochs", type=_positive_float, default=3.0, metavar="E",
                   help="epochs, may be fractional (default 3, the Trainer's default)")
    p.add_argument("--grad-accum", type=_positive_int, default=1, metavar="G",
                   help="gradient accumulation steps (default 1)")
    p.add_argument("--processes", type=_positive_int, default=1, metavar="P",
                   help="data-parallel processes / GPUs (default 1)")
    p.add_argument("--max-steps", type=_positive_int, default=None, metavar="M",
                   help="stop after M optimizer steps (overrides --epochs)")
    p.add_argument("--warmup", default=None, metavar="W",
                   help="warmup: steps (100), ratio (0.1), percent (10%%) or auto (default 10%%)")
    p.add_argument("--beta2", type=_beta2, default=_ADAM_BETA2,
                   help="Adam beta2 for --warmup auto (default 0.999)")
    p.add_argument("--drop-last", action="store_true", help="the dataloader drops the last incomplete batch")
    p.add_argument("--split-batches", action="store_true",
                   help="Accelerate's split_batches: each batch is split across the processes")
    p.add_argument("--json", action="store_true", help="machine-readable output")
    return parser


# -- shared helpers ---------------------------------------------------------------------


class _AdamLike:
    """Just enough of an Adam optimizer for ``warmup='auto'`` (it reads ``betas``)."""

    def __init__(self, beta2: float) -> None:
        self.param_groups = [{"betas": (0.9, beta2)}]


def _parse_value(text: str) -> Any:
    try:
        return json.loads(text)
    except ValueError:
        return text


def parse_name_spec(spec: str) -> tuple[str, dict[str, Any]]:
    """Split ``NAME:key=value,key=value`` into the name and its keyword arguments.

    Values are JSON (``2``, ``0.5``, ``null``, ``"x"``) or else plain text.

    >>> parse_name_spec("hard-restarts:num_cycles=3,warmup_shape=cosine")
    ('hard-restarts', {'num_cycles': 3, 'warmup_shape': 'cosine'})
    >>> parse_name_spec("noam")
    ('noam', {})
    """
    name, sep, rest = spec.partition(":")
    kwargs: dict[str, Any] = {}
    if sep:
        for part in filter(None, (p.strip() for p in rest.split(","))):
            key, eq, value = part.partition("=")
            if not eq or not key.strip():
                raise UsageError(
                    f"schedule {spec!r}: expected NAME:key=value[,key=value...], got {part!r} "
                    f"(e.g. warmupcosine:num_cycles=2)"
                )
            kwargs[key.strip()] = _parse_value(value.strip())
    return name.strip(), kwargs


def _parse_kwargs(text: str | None) -> dict[str, Any]:
    if text is None:
        return {}
    try:
        value = json.loads(text)
    except json.JSONDecodeError as exc:
        raise UsageError(
            f"--kwargs must be a JSON object such as '{{\"num_cycles\": 2}}', got {text!r}: {exc.msg} "
            f"(line {exc.lineno} column {exc.colno})"
        ) from None
    if not isinstance(value, dict):
        raise UsageError(
            f"--kwargs must be a JSON object such as '{{\"num_cycles\": 2}}', got a {type(value).__name__}: {text!r}"
        )
    return value


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


@dataclass
class _Built:
    spec: str
    name: str
    kwargs: dict[str, Any]
    schedule: Any
    info: Any
    label: str = ""


def _build(spec: str, args: argparse.Namespace, command: str) -> _Built:
    """Resolve ``NAME[:k=v,...]`` plus ``--kwargs`` into a Schedule, or raise UsageError."""
    from .registry import build_schedule, get_info

    raw_name, own = parse_name_spec(spec)
    try:
        info = get_info(raw_name)
    except ValueError as exc:
        raise UsageError(f"{exc} (see: hf-sched list)") from None
    if info.adaptive:
        raise UsageError(
            f"{info.name!r} is metric-driven: it changes the LR from a validation metric while training "
            f"(it delegates to torch/transformers), so it has no curve for '{command}'. "
            "Pick a pure schedule from 'hf-sched list'."
        )
    kwargs = {**_parse_kwargs(args.kwargs), **own}
    unknown = [k for k in kwargs if k not in info.kwargs]
    if unknown:
        hints = []
        for k in unknown:
            close = difflib.get_close_matches(k, list(info.kwargs), n=1, cutoff=0.6)
            hints.append(f"{k!r}" + (f" (did you mean {close[0]!r}?)" if close else ""))
        accepted = ", ".join(f"{k}={v!r}" for k, v in info.kwargs.items()) or "none"
        raise UsageError(f"schedule {info.name!r} has no argument {', '.join(hints)}; it accepts: {accepted}")
    try:
        schedule = build_schedule(
            info.name,
            num_training_steps=args.steps,
            num_warmup_steps=args.warmup,
            lr_init=args.lr,
            optimizer=_AdamLike(args.beta2),
            **kwargs,
        )
    except (ValueError, TypeError) as exc:
        if args.warmup is not None and _about_warmup(str(exc)):
            raise UsageError(f"--warmup {args.warmup!r}: {exc}") from None
        raise UsageError(f"{info.name}: {exc}") from None
    label = info.name
    if own or kwargs:
        label += "(" + ", ".join(f"{k}={v!r}" for k, v in kwargs.items()) + ")"
    return _Built(spec, info.name, kwargs, schedule, info, label)


def _about_warmup(message: str) -> bool:
    """Whether an error message is about the warmup request (not warmup_start/_shape)."""
    return bool(re.search(r"num_warmup_steps|\bwarmup\b(?!_)", message))


def _describe_warmup(request: str | None, w: int, t: int, info: Any, beta2: float) -> str:
    pct = f"{100.0 * w / t:.3g}% of the run"
    if not info.has_warmup and request is None:
        return f"0 ({info.name} has no warmup phase)"
    if request is None:
        return f"{w:,} = {pct} (default 10%, rounded up)"
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


# -- subcommands ------------------------------------------------------------------------


def _cmd_list(args: argparse.Namespace) -> int:
    from .registry import iter_schedules

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


def _show_numbers(built: _Built, args: argparse.Namespace) -> dict[str, Any]:
    """The key numbers of ``show`` as plain data (also the ``--json`` output)."""
    import numpy as np

    from .plot import sample_steps

    s = built.schedule
    t, w, lr = s.num_training_steps, s.num_warmup_steps, args.lr
    x = sample_steps(t, w)
    y = s.values(x) * lr
    k = int(np.argmax(y))
    peak_step, peak = int(x[k]), float(y[k])
    run = y[x < t]
    mean = float(run.mean()) if run.size else float(y[0])

    marks: dict[int, list[str]] = {}

    def mark(step: int, what: str) -> None:
        marks.setdefault(step, []).append(what)

    mark(0, "first optimizer step")
    if w > 0:
        mark(w, "end of warmup")
    mark(peak_step, "peak")
    for q in (1, 2, 3):
        mark(t * q // 4, "")
    if t > 1:
        mark(t - 1, "last optimizer step")
    mark(t, "final (held after the run)")
    points = []
    for step in sorted(marks):
        what = "; ".join(m for m in dict.fromkeys(marks[step]) if m)
        points.append({"step": step, "progress": step / t, "lr": float(s(step)) * lr, "what": what})
    return {
        "name": built.name,
        "kwargs": built.kwargs,
        "schedule": s.to_dict(),
        "lr": lr,
        "num_training_steps": t,
        "num_warmup_steps": w,
        "peak": {"step": peak_step, "lr": peak},
        "mean_lr": mean,
        "final_lr": float(s.final_value()) * lr,
        "points": points,
        "sampled": bool(len(x) < t + 1),
    }


def _print_csv(schedule: Any, lr: float) -> None:
    import numpy as np

    t = schedule.num_training_steps
    write = sys.stdout.write
    write("step,lr\n")
    chunk = 200_000
    for a in range(0, t + 1, chunk):
        steps = np.arange(a, min(t + 1, a + chunk), dtype=np.int64)
        vals = schedule.values(steps) * lr
        write("".join(f"{i},{v!r}\n" for i, v in zip(steps.tolist(), vals.tolist())))


def _cmd_show(args: argparse.Namespace) -> int:
    from .plot import terminal_plot

    built = _build(args.name, args, "show")
    s, info = built.schedule, built.info
    if args.csv:
        _print_csv(s, args.lr)
        return EXIT_OK
    numbers = _show_numbers(built, args)
    if args.json:
        print(json.dumps(numbers, indent=2, default=repr))
        return EXIT_OK

    t, w = s.num_training_steps, s.num_warmup_steps
    lines = []
    head = info.name + (f"  (alias{'es' if len(info.aliases) > 1 else ''}: {', '.join(info.aliases)})" if info.aliases else "")
    lines.append(head)
    lines.append(f"  {info.description}")
    lines.append(f"  {_signature(info.name, info.kwargs, built.kwargs)}")
    lines.append("")
    lines.append(f"  training steps  {t:,}")
    lines.append(f"  warmup steps    {_describe_warmup(args.warmup, w, t, info, args.beta2)}")
    peak = numbers["peak"]
    lines.append(f"  peak LR         {_fmt(peak['lr'])} at step {peak['step']:,}")
    lines.append(f"  mean LR         {_fmt(numbers['mean_lr'])} over the {t:,} optimizer steps")
    lines.append(f"  final LR        {_fmt(numbers['final_lr'])} (step {t:,} and after)")
    lines.append(f"  {_values_note(s, args.lr)}")
    lines.append("")
    rows = [(f"{p['step']:,}", _percent(p["step"], t), _fmt(p["lr"]), p["what"]) for p in numbers["points"]]
    heads = ("step", "of run", "LR", "")
    widths = [max(len(r[i]) for r in [*rows, heads]) for i in range(3)]
    lines.append(f"  {heads[0]:>{widths[0]}}  {heads[1]:>{widths[1]}}  {heads[2]}")
    for r in rows:
        lines.append(f"  {r[0]:>{widths[0]}}  {r[1]:>{widths[1]}}  {r[2]:<{widths[2]}}  {r[3]}".rstrip())
    lines.append("")
    ascii_only = args.ascii or not _can_encode("▁█┴└│┤")
    chart = terminal_plot(s, lr=args.lr, width=max(10, args.width), height=max(2, args.height), ascii_only=ascii_only)
    lines.extend("  " + row for row in chart.splitlines())
    if numbers["sampled"]:
        lines.append("  (a run this long is evaluated on an even grid of steps, not every step)")
    print("\n".join(lines))
    return EXIT_OK


def _can_encode(text: str) -> bool:
    encoding = getattr(sys.stdout, "encoding", None) or "ascii"
    try:
        text.encode(encoding)
    except (UnicodeEncodeError, LookupError):
        return False
    return True


def _cmd_plot(args: argparse.Namespace) -> int:
    started = time.perf_counter()
    built = [_build(spec, args, "plot") for spec in args.names]
    out = Path(args.out)
    if not out.suffix:
        out = out.with_suffix(".png")
    imported = time.perf_counter()
    try:
        from matplotlib.backend_bases import FigureCanvasBase
        from matplotlib.backends.backend_agg import FigureCanvasAgg  # noqa: F401  (timed apart from the plot)
        from matplotlib.figure import Figure  # noqa: F401
    except ImportError:
        print("hf-sched plot: error: plotting needs matplotlib: pip install matplotlib", file=sys.stderr)
        return EXIT_FAILURE
    formats = FigureCanvasBase.get_supported_filetypes()
    fmt = out.suffix[1:].lower()
    if fmt not in formats:
        raise UsageError(f"--out {args.out!r}: unknown image format {fmt!r}; use one of {', '.join(sorted(formats))}")
    from .plot import DEFAULT_DPI, DEFAULT_SIZE, plot_schedules

    import_s = time.perf_counter() - imported

    schedules: dict[str, Any] = {}
    for b in built:
        label, n = b.label, 2
        while label in schedules:
            label, n = f"{b.label} #{n}", n + 1
        schedules[label] = b.schedule
    size = args.size or DEFAULT_SIZE
    dpi = args.dpi or DEFAULT_DPI
    try:
        out.parent.mkdir(parents=True, exist_ok=True)
        plot_schedules(schedules, steps=args.steps, lr=args.lr, log_y=args.log_y, out=out,
                       title=args.title, size=size, dpi=dpi)
    except OSError as exc:
        raise UsageError(f"--out {args.out!r}: cannot write the image: {exc.strerror or exc}") from None
    elapsed = time.perf_counter() - started - import_s
    pixels = f"{size[0]}x{size[1]} px, " if fmt == "png" else ""
    print(f"wrote {out} ({pixels}{len(schedules)} schedule{'s' if len(schedules) > 1 else ''} "
          f"over {args.steps:,} steps in {elapsed:.2f} s, plus {import_s:.2f} s to import matplotlib)")
    return EXIT_OK


class _Loader:
    """Stands in for a DataLoader in :func:`hf_sched.budget.compute_budget` (len and drop_last)."""

    def __init__(self, num_batches: int, drop_last: bool) -> None:
        self.num_batches = num_batches
        self.drop_last = drop_last

    def __len__(self) -> int:
        return self.num_batches


def _cmd_steps(args: argparse.Namespace) -> int:
    from .budget import compute_budget

    n, b, p, g = args.examples, args.batch_size, args.processes, args.grad_accum
    if n is None and args.max_steps is None:
        raise UsageError("give --examples (with --batch-size and --epochs) or --max-steps")
    if args.split_batches and b % p:
        raise UsageError(
            f"--batch-size {b} must be a multiple of --processes {p} with --split-batches "
            "(Accelerate splits every batch evenly across the processes)"
        )
    lines: list[str] = []
    num_batches = None
    if n is not None:
        if args.drop_last:
            num_batches = n // b
            lines.append(f"batches per epoch = floor({n:,} examples / {b} batch size) = {num_batches:,} (drop_last)")
            if num_batches == 0:
                raise UsageError(f"--examples {n} is fewer than --batch-size {b} with --drop-last: no full batch")
        else:
            num_batches = -(-n // b)
            lines.append(f"batches per epoch = ceil({n:,} examples / {b} batch size) = {num_batches:,}")
        if not args.split_batches and p > 1:
            per = num_batches // p if args.drop_last else -(-num_batches // p)
            if per < 1:
                raise UsageError(
                    f"--processes {p} is more than the {num_batches} batches of an epoch: "
                    "each process would get no batch"
                )
    try:
        budget = compute_budget(
            _Loader(num_batches, args.drop_last) if num_batches is not None else None,
            num_epochs=args.epochs,
            gradient_accumulation_steps=g,
            max_steps=args.max_steps,
            num_processes=p,
            dataloader_prepared=False,
            split_batches=args.split_batches,
            warmup=args.warmup,
            optimizer=_AdamLike(args.beta2),
        )
    except (ValueError, TypeError) as exc:
        if args.warmup is not None and _about_warmup(str(exc)):
            raise UsageError(f"--warmup {args.warmup!r}: {exc}") from None
        raise UsageError(str(exc)) from None
    t, w = budget.num_training_steps, budget.num_warmup_steps
    explained = budget.explanation.splitlines()
    if args.max_steps is not None and num_batches is not None:
        # the core stops at max_steps; show the epoch arithmetic too, and how many epochs that is
        one = compute_budget(_Loader(num_batches, args.drop_last), num_epochs=1, gradient_accumulation_steps=g,
                             num_processes=p, dataloader_prepared=False, split_batches=args.split_batches)
        spe = int(one.steps_per_epoch or 1)
        lines.extend(one.explanation.splitlines()[:2])
        lines.append(explained[0])
        lines.append(f"epochs run = ceil({t:,} / {spe:,} steps per epoch) = {-(-t // spe):,} (the last one may be partial)")
        explained = explained[1:]
    if args.warmup is not None and args.warmup.strip().lower() == "auto":
        raw = int(round(2.0 / (1.0 - args.beta2)))
        cap = f", capped at {t:,} training steps" if raw > t else ""
        explained[-1] += f": 2 / (1 - beta2={args.beta2:g}) = {raw:,}{cap}"
    lines.extend(explained)
    if args.split_batches and p > 1:
        per_proc = b // p
        eff = b * g
        lines.append(f"examples per optimizer step = {b} (split: {per_proc} per process) x {g} grad accum = {eff:,}")
    else:
        eff = b * p * g
        lines.append(f"examples per optimizer step = {b} batch size x {p} processes x {g} grad accum = {eff:,}")
    ticks = 1 if (args.split_batches or p == 1) else p
    accel = {
        "num_training_steps": t,
        "num_warmup_steps": w,
        "scheduler_steps_per_optimizer_step": ticks,
        "prepared_transformers_scheduler": {"num_training_steps": t * ticks, "num_warmup_steps": w * ticks},
    }
    if args.json:
        out = {
            "inputs": {
                "examples": n, "batch_size": b, "epochs": args.epochs, "grad_accum": g, "processes": p,
                "max_steps": args.max_steps, "warmup": args.warmup, "drop_last": args.drop_last,
                "split_batches": args.split_batches,
            },
            "num_batches": num_batches,
            **budget.to_dict(),
            "examples_per_optimizer_step": eff,
            "trainer": {"num_training_steps": t, "num_warmup_steps": w},
            "accelerate": accel,
        }
        print(json.dumps(out, indent=2))
        return EXIT_OK
    print("\n".join(lines))
    print()
    print(f"Trainer          num_training_steps = {t:,}   num_warmup_steps = {w:,}")
    print("                 (the Trainer steps its scheduler once per optimizer step)")
    print(f"Accelerate loop  num_training_steps = {t:,}   num_warmup_steps = {w:,}")
    if ticks > 1:
        print(f"                 (AcceleratedScheduler calls scheduler.step() {ticks} times per optimizer step:")
        print("                 hf_sched.get_scheduler(..., accelerator=accelerator) accounts for it; a transformers")
        print(f"                 scheduler passed to accelerator.prepare needs num_training_steps = {t * ticks:,},")
        print(f"                 num_warmup_steps = {w * ticks:,})")
    else:
        why = "split_batches" if args.split_batches and p > 1 else "one process"
        print(f"                 (AcceleratedScheduler steps the scheduler once per optimizer step: {why})")
    return EXIT_OK


_COMMANDS: dict[str, Callable[[argparse.Namespace], int]] = {
    "list": _cmd_list,
    "show": _cmd_show,
    "plot": _cmd_plot,
    "steps": _cmd_steps,
}


def main(argv: Sequence[str] | None = None, *, prog: str = "hf-sched") -> int:
    """Run ``hf-sched`` with ``argv`` (default ``sys.argv[1:]``); return the exit status.

    0: done; 2: bad input (message on stderr); 1: the environment failed (e.g. no
    matplotlib for ``plot``). Never raises ``SystemExit`` (``--help`` returns 0).

    >>> main(["show", "nope"])
    2
    """
    parser = build_parser(prog)
    try:
        args = parser.parse_args(None if argv is None else list(argv))
    except SystemExit as exc:  # argparse: --help, --version (0) or a usage error (2)
        return exc.code if isinstance(exc.code, int) else (EXIT_OK if exc.code is None else EXIT_USAGE)
    try:
        return _COMMANDS[args.command](args)
    except UsageError as exc:
        print(f"{prog} {args.command}: error: {exc}", file=sys.stderr)
        return EXIT_USAGE
    except BrokenPipeError:  # e.g. `hf-sched show x --csv | head`
        try:
            import os

            devnull = os.open(os.devnull, os.O_WRONLY)
            os.dup2(devnull, sys.stdout.fileno())
        except (OSError, ValueError, AttributeError):
            pass
        return EXIT_FAILURE
