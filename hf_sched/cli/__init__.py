"""``hf-sched``: what does this schedule do to my run? Answered in seconds, no optimizer.

Subcommands (one module each)::

    hf-sched list [--json]                                  every name, aliases, kwargs
    hf-sched show NAME --steps 1000 [--warmup 10%|1ep --steps-per-epoch E] [--kwargs JSON]
                  [--lr 2e-5] [--csv|--json]
    hf-sched plot NAME [NAME ...] --steps N --out lr.png|DIR/ [--log-y]
    hf-sched steps --examples N --batch-size B --epochs E [--grad-accum G] [--processes P]
                   [--max-steps M] [--warmup 10%|0.5ep]

A ``NAME`` may carry its own keyword arguments, ``NAME:key=value,key=value`` (values are
read as JSON, else as text), so one plot can compare ``hard-restarts:num_cycles=1`` with
``hard-restarts:num_cycles=3``; ``--kwargs '{"num_cycles": 2}'`` applies to every name.

Bad input (unknown name, unknown kwarg, bad number, bad JSON, warmup longer than the run,
adaptive name in ``show``/``plot``, a size over a cap...) prints one message on stderr
that names the parameter, the value and what is allowed, and exits with status 2. The CLI
never imports torch; matplotlib is imported by ``plot`` only.

The rooms: :mod:`.parser` (argparse, help and examples), :mod:`.arguments` (argument types
and the caps on sizes), :mod:`.specs` (``NAME:key=value``, ``--kwargs`` and ``--warmup`` into a
Schedule), :mod:`.errors` (exit statuses, :class:`UsageError`), and one module per
subcommand: :mod:`.list_cmd`, :mod:`.show_cmd`, :mod:`.plot_cmd`, :mod:`.steps_cmd`.

>>> main(["show", "warmuplinear", "--steps", "10", "--csv"])  # doctest: +ELLIPSIS
step,lr
0,0.0
1,1.0
2,0.888...
0
"""

from __future__ import annotations

import argparse
import sys
import warnings
from typing import Any, Callable, Sequence

from .errors import EXIT_FAILURE, EXIT_OK, EXIT_USAGE, UsageError
from .list_cmd import run_list
from .parser import build_parser
from .plot_cmd import run_plot
from .show_cmd import run_show
from .specs import parse_name_spec
from .steps_cmd import run_steps

__all__ = [
    "main",
    "build_parser",
    "parse_name_spec",
    "UsageError",
    "EXIT_OK",
    "EXIT_FAILURE",
    "EXIT_USAGE",
]

_COMMANDS: dict[str, Callable[[argparse.Namespace], int]] = {
    "list": run_list,
    "show": run_show,
    "plot": run_plot,
    "steps": run_steps,
}


def _one_line_warning(where: str) -> Callable[..., None]:
    """A ``warnings.showwarning`` that prints ``<where>: warning: <message>`` (no source line)."""

    def show(message: Any, category: Any, filename: str, lineno: int, file: Any = None, line: Any = None) -> None:
        print(f"{where}: warning: {message}", file=sys.stderr if file is None else file)

    return show


def main(argv: Sequence[str] | None = None, *, prog: str = "hf-sched") -> int:
    """Run ``hf-sched`` with ``argv`` (default ``sys.argv[1:]``); return the exit status.

    0: done (also when the reader of a pipe closed it early: ``hf-sched list | head``);
    2: bad input (message on stderr); 1: the environment failed (no matplotlib for
    ``plot``, stdout on a full device), in one line. Never raises ``SystemExit``
    (``--help`` returns 0).

    >>> main(["show", "nope"])
    2
    """
    parser = build_parser(prog)
    try:
        args = parser.parse_args(None if argv is None else list(argv))
    except SystemExit as exc:  # argparse: --help, --version (0) or a usage error (2)
        return exc.code if isinstance(exc.code, int) else (EXIT_OK if exc.code is None else EXIT_USAGE)
    _split_amount(args)
    try:
        with warnings.catch_warnings():
            warnings.showwarning = _one_line_warning(f"{prog} {args.command}")
            status = _COMMANDS[args.command](args)
        sys.stdout.flush()  # a full device fails here, not later in the interpreter's exit
        return status
    except UsageError as exc:
        print(f"{prog} {args.command}: error: {exc}", file=sys.stderr)
        return EXIT_USAGE
    except BrokenPipeError:  # `hf-sched list | head`: the reader has what it wanted; not a failure
        _silence_stdout()
        return EXIT_OK
    except OSError as exc:  # stdout on a full device (/dev/full), a vanished file system...
        _silence_stdout()
        why = exc.strerror or str(exc)
        print(f"{prog} {args.command}: error: cannot write the output to stdout: {why} (errno {exc.errno}); "
              "write it to a device with space, or to a file", file=sys.stderr)
        return EXIT_FAILURE


def _split_amount(args: argparse.Namespace) -> None:
    """``--steps '200M tok'`` as ``args.steps = 200000000`` and ``args.unit = 'tokens'`` (``None``: steps)."""
    steps = getattr(args, "steps", None)
    args.unit = getattr(steps, "unit", None)
    if steps is not None and args.unit is not None:
        args.steps = steps.value


def _silence_stdout() -> None:
    """Point stdout at the null device, so that the interpreter's flush at exit cannot fail again."""
    import os

    try:
        devnull = os.open(os.devnull, os.O_WRONLY)
        os.dup2(devnull, sys.stdout.fileno())
    except (OSError, ValueError, AttributeError):  # stdout is not a file (a StringIO in tests)
        pass
