"""``hf-sched plot NAME [NAME ...]``: one image with several schedules overlaid (matplotlib).

``--out`` names the image; its suffix picks the format (``.png`` when there is none). An
existing directory, or a path that ends in ``/``, gets ``lr.png`` inside it. The image is
``--size`` pixels at ``--dpi`` (both capped, see :mod:`hf_sched.cli.arguments`).

>>> resolve_out("runs/lr.svg"), resolve_out("runs/lr"), resolve_out("runs/")
(PosixPath('runs/lr.svg'), PosixPath('runs/lr.png'), PosixPath('runs/lr.png'))
"""

from __future__ import annotations

import argparse
import os
import sys
import time
from pathlib import Path
from typing import Any

from .arguments import MAX_PLOT_NAMES, MIN_FIGURE_INCHES, max_dpi
from .errors import EXIT_FAILURE, EXIT_OK, UsageError
from .specs import build

__all__ = ["DEFAULT_NAME", "resolve_out", "run_plot"]

#: The file written when ``--out`` is a directory.
DEFAULT_NAME = "lr.png"


def resolve_out(text: str) -> Path:
    """The image path for ``--out text``: a directory gets :data:`DEFAULT_NAME`, no suffix gets ``.png``.

    A directory is one that exists, or a path written with a trailing ``/``.
    """
    if not text.strip():
        raise UsageError(f"--out {text!r}: give an image path such as lr.png, or a directory to write {DEFAULT_NAME} into")
    out = Path(text)
    if text.endswith(("/", os.sep)) or out.is_dir():
        return out / DEFAULT_NAME
    if not out.suffix:
        out = out.with_suffix(".png")
    return out


def run_plot(args: argparse.Namespace) -> int:
    """``hf-sched plot``: build every named schedule, draw them in one figure, write it to ``--out``."""
    started = time.perf_counter()
    if len(args.names) > MAX_PLOT_NAMES:
        raise UsageError(
            f"{len(args.names)} schedule names: plot draws at most {MAX_PLOT_NAMES} in one figure; "
            "split them over several plots"
        )
    built = [build(spec, args, "plot") for spec in args.names]
    out = resolve_out(args.out)
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
    from ..plot import DEFAULT_DPI, DEFAULT_SIZE, plot_schedules

    import_s = time.perf_counter() - imported
    size = args.size or DEFAULT_SIZE
    dpi = args.dpi or DEFAULT_DPI
    if dpi > max_dpi(size):
        w_in, h_in = MIN_FIGURE_INCHES
        given = "" if args.size else " (the default)"
        raise UsageError(
            f"--dpi {dpi} with --size {size[0]}x{size[1]}{given}: the figure would be {size[0] / dpi:.3g} x "
            f"{size[1] / dpi:.3g} inches and its text (sized in points) would fill it; for this size use "
            f"--dpi <= {max_dpi(size)} (at least {w_in} x {h_in} inches), or a larger --size"
        )

    schedules: dict[str, Any] = {}
    for b in built:
        label, n = b.label, 2
        while label in schedules:
            label, n = f"{b.label} #{n}", n + 1
        schedules[label] = b.schedule
    try:
        out.parent.mkdir(parents=True, exist_ok=True)
        plot_schedules(schedules, steps=args.steps, lr=args.lr, log_y=args.log_y, out=out,
                       title=args.title, size=size, dpi=dpi, unit=args.unit)
    except ValueError as exc:  # matplotlib cannot parse the title as mathtext ("$x^$")
        if args.title and "$" in args.title:
            raise UsageError(
                f"--title {args.title!r}: matplotlib cannot read the math text between its $ signs; "
                "write a literal dollar sign as \\$"
            ) from None
        lines = [ln for ln in str(exc).splitlines() if ln.strip()] or [type(exc).__name__]
        raise UsageError(f"cannot draw the figure: {lines[-1]}") from None
    except OSError as exc:
        blocker = next((p for p in out.parents if p.exists() and not p.is_dir()), None)
        why = f"{str(blocker)!r} is a file, not a directory" if blocker else (exc.strerror or str(exc))
        raise UsageError(f"--out {args.out!r}: cannot write the image {str(out)!r}: {why}") from None
    elapsed = time.perf_counter() - started - import_s
    pixels = f"{size[0]}x{size[1]} px, " if fmt == "png" else ""
    print(f"wrote {out} ({pixels}{len(schedules)} schedule{'s' if len(schedules) > 1 else ''} "
          f"over {args.steps:,} {args.unit or 'steps'} in {elapsed:.2f} s, plus {import_s:.2f} s to import matplotlib)")
    return EXIT_OK
