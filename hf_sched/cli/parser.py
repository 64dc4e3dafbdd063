"""The argument parser of ``hf-sched``: one subparser per subcommand, with examples in ``--help``.

The argument types and their caps live in :mod:`hf_sched.cli.arguments`; the examples in
each epilog are run by the tests, so they stay real commands.

>>> build_parser().parse_args(["steps", "--max-steps", "50"]).max_steps
50
"""

from __future__ import annotations

import argparse
import difflib
import re
from typing import Any

from ..dash_values import accept_dash_values
from .arguments import (
    MAX_DPI,
    MIN_DPI,
    TERMINAL_HEIGHT,
    TERMINAL_WIDTH,
    beta2,
    bounded_int,
    count,
    count_or_amount,
    epochs,
    pixels,
    positive_float,
    schedule_name,
)
from .specs import ADAM_BETA2

__all__ = ["build_parser"]


class _Parser(argparse.ArgumentParser):
    """argparse with a did-you-mean for mistyped subcommands; errors exit with 2; ``--warmup -1ep``
    reaches the argument's own check (:mod:`hf_sched.dash_values`)."""

    def __init__(self, *args: Any, **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        accept_dash_values(self)

    def error(self, message: str) -> Any:
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
  hf-sched show warmupcosine --steps 3000 --steps-per-epoch 1000 --warmup 0.5ep
  hf-sched show warmupcosine --steps "200M tok" --warmup "5M tok"

--warmup: steps (100), a ratio in [0, 1) (0.06), a percentage (6%), epochs (1ep, 0.5ep:
ceil(e x --steps-per-epoch) steps), or auto (2 / (1 - beta2) steps, Ma & Yarats 2019,
capped at --steps). Default: 10% for every schedule with a warmup phase, rounded up as
the Trainer does.
"""

_PLOT_EPILOG = """\
NAME may carry keyword arguments: NAME:key=value,key=value (JSON values, else text).

examples:
  hf-sched plot constantlr warmupconstant warmuplinear warmupcosine \\
      warmupcosinewithhardrestarts noam --steps 1000 --out docs/schedules.png
  hf-sched plot hard-restarts:num_cycles=1 hard-restarts:num_cycles=4 --steps 1000000 --out restarts.png
  hf-sched plot warmuplinear noam --steps 5000 --lr 2e-5 --log-y --out lr.png
  hf-sched plot warmupcosine noam --steps 3000 --steps-per-epoch 1000 --warmup 1ep --out figures/

--out may be a directory (an existing one, or a path ending in /): lr.png is written inside.
"""

_STEPS_EPILOG = """\
examples:
  hf-sched steps --examples 10000 --batch-size 32 --epochs 3
  hf-sched steps --examples 10000 --batch-size 32 --epochs 3 --grad-accum 4 --processes 2
  hf-sched steps --examples 10000 --batch-size 32 --epochs 1.5 --warmup 6%
  hf-sched steps --examples 10000 --batch-size 32 --max-steps 500 --warmup 50
  hf-sched steps --examples 10000 --batch-size 32 --epochs 3 --warmup 0.5ep
  hf-sched steps --examples 10000 --batch-size 64 --processes 4 --split-batches --json
  hf-sched steps --batch-size 16 --processes 8 --max-steps "200M tok" --warmup "5M tok" --tokens-per-example 512

--batch-size is the per-device batch size (the Trainer's per_device_train_batch_size);
with --split-batches it is the global batch that Accelerate splits across processes.
"""


def _add_schedule_args(p: argparse.ArgumentParser) -> None:
    p.add_argument("--steps", type=count_or_amount, default=1000, metavar="N",
                   help="optimizer steps of the run, T, below 2**53 (default 1000); or an amount on a clock in tokens "
                   "or samples ('200M tok', '1M samples'), with --warmup in the same unit or as a ratio")
    p.add_argument("--warmup", default=None, metavar="W",
                   help="warmup: steps (100), ratio (0.1), percent (10%%), epochs (1ep, with --steps-per-epoch) "
                   "or auto (default 10%%)")
    p.add_argument("--steps-per-epoch", type=count, default=None, metavar="E",
                   help="optimizer steps per epoch, for --warmup in epochs (hf-sched steps prints it)")
    p.add_argument("--kwargs", default=None, metavar="JSON",
                   help='schedule keyword arguments as a JSON object, e.g. \'{"num_cycles": 2}\'')
    p.add_argument("--lr", type=positive_float, default=1.0,
                   help="peak LR; 1.0 (default) shows multipliers of the peak, 2e-5 shows absolute LRs")
    p.add_argument("--beta2", type=beta2, default=ADAM_BETA2,
                   help="Adam beta2 for --warmup auto (default 0.999, torch's AdamW)")


def build_parser(prog: str = "hf-sched") -> argparse.ArgumentParser:
    """The argument parser of ``hf-sched`` (one subparser per subcommand).

    >>> build_parser().parse_args(["show", "noam", "--steps", "200"]).steps
    200
    """
    from .. import __version__

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
    p.add_argument("name", type=schedule_name, metavar="NAME", help="schedule name or alias (see: hf-sched list)")
    _add_schedule_args(p)
    out = p.add_mutually_exclusive_group()
    out.add_argument("--csv", action="store_true", help="print step,lr for every step 0..T instead (T <= 10,000,000)")
    out.add_argument("--json", action="store_true", help="print the key numbers as JSON instead")
    p.add_argument("--ascii", action="store_true", help="draw the curve with ASCII characters only")
    p.add_argument("--width", type=bounded_int(*TERMINAL_WIDTH, "characters"), default=60,
                   help=f"curve width in characters, {TERMINAL_WIDTH[0]} to {TERMINAL_WIDTH[1]} (default 60)")
    p.add_argument("--height", type=bounded_int(*TERMINAL_HEIGHT, "lines"), default=12,
                   help=f"curve height in lines, {TERMINAL_HEIGHT[0]} to {TERMINAL_HEIGHT[1]} (default 12)")

    p = sub.add_parser("plot", help="one PNG with several schedules overlaid",
                       description="One image with every named schedule overlaid over the same run,\n"
                       "labelled, with the end of warmup marked (matplotlib).",
                       epilog=_PLOT_EPILOG, formatter_class=fmt)
    p.add_argument("names", nargs="+", type=schedule_name, metavar="NAME", help="schedule names or aliases (at most 50)")
    _add_schedule_args(p)
    p.add_argument("--out", default="lr.png", metavar="PATH",
                   help="image to write (default lr.png; .svg and .pdf work too); a directory gets lr.png inside")
    p.add_argument("--log-y", action="store_true", help="logarithmic LR axis")
    p.add_argument("--title", default=None, help="figure title (default: run length and warmup)")
    p.add_argument("--size", type=pixels, default=None, metavar="WxH",
                   help="image size in pixels, at most 25,000,000 in all (default 1200x675)")
    p.add_argument("--dpi", type=bounded_int(MIN_DPI, MAX_DPI, "dots per inch"), default=None,
                   help=f"dots per inch, {MIN_DPI} to {MAX_DPI} and at most WIDTH/4 and HEIGHT/2 (default 150)")

    p = sub.add_parser("steps", help="exact optimizer and warmup steps of a Trainer / Accelerate run",
                       description="The exact optimizer steps and warmup steps the Trainer and an Accelerate\n"
                       "loop take, with the arithmetic shown.", epilog=_STEPS_EPILOG, formatter_class=fmt)
    p.add_argument("--examples", type=count, default=None, metavar="N", help="training examples")
    p.add_argument("--batch-size", type=count, default=8, metavar="B",
                   help="per-device batch size (default 8, the Trainer's default)")
    p.add_argument("--epochs", type=epochs, default=3.0, metavar="E",
                   help="epochs, may be fractional (default 3, the Trainer's default)")
    p.add_argument("--grad-accum", type=count, default=1, metavar="G",
                   help="gradient accumulation steps (default 1)")
    p.add_argument("--processes", type=count, default=1, metavar="P",
                   help="data-parallel processes / GPUs (default 1)")
    p.add_argument("--max-steps", type=count_or_amount, default=None, metavar="M",
                   help="stop after M optimizer steps (overrides --epochs); or after an amount ('200M tok', "
                   "'1M samples'): its steps at the tokens (--tokens-per-example) or samples of each step")
    p.add_argument("--tokens-per-example", type=count, default=None, metavar="K",
                   help="mean real tokens per example: shows the run in tokens, and turns amounts in tokens "
                   "(--max-steps, --warmup) into steps")
    p.add_argument("--warmup", default=None, metavar="W",
                   help="warmup: steps (100), ratio (0.1), percent (10%%), epochs (1ep, 0.5ep) or auto (default 10%%)")
    p.add_argument("--beta2", type=beta2, default=ADAM_BETA2,
                   help="Adam beta2 for --warmup auto (default 0.999)")
    p.add_argument("--drop-last", action="store_true", help="the dataloader drops the last incomplete batch")
    p.add_argument("--split-batches", action="store_true",
                   help="Accelerate's split_batches: each batch is split across the processes")
    p.add_argument("--json", action="store_true", help="machine-readable output")
    return parser
