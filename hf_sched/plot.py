"""Pictures of schedules: PNG figures (matplotlib) and a small curve for the terminal.

Both evaluate a schedule with the vectorised :meth:`~hf_sched.schedules.Schedule.values`
(one numpy call for every step of the run) and then reduce the points to draw:

* :func:`curve_points` keeps, per bin of steps, the first, last, lowest and highest point
  (the "M4" reduction, so a line drawn through the points looks like the line through
  every step, restarts and spikes included), plus the exact steps ``0``, ``W - 1``,
  ``W`` (end of warmup), ``T - 1`` and ``T``. At most about ``max_points`` points remain,
  which is what makes a million-step plot fast.
* :func:`plot_schedules` overlays several schedules in one matplotlib figure, marks the
  warmup boundary and writes a PNG (Agg backend, no pyplot, no global state).
* :func:`terminal_plot` draws one schedule as a block-character area chart (no
  matplotlib).

matplotlib is imported only inside :func:`plot_schedules`, so importing this module (and
``hf-sched show``) stays cheap.

>>> from hf_sched.registry import build_schedule
>>> s = build_schedule("warmuplinear", num_training_steps=1_000_000)
>>> x, y = curve_points(s)
>>> len(x) <= 4_100, int(x[0]), int(x[-1]), 100_000 in x
(True, 0, 1000000, True)
"""

from __future__ import annotations

import os
from typing import TYPE_CHECKING, Any, Mapping, Sequence

from .checks import check_float, check_int
from .schedules import Schedule

if TYPE_CHECKING:  # pragma: no cover
    import numpy as np
    from matplotlib.figure import Figure

__all__ = [
    "DEFAULT_SIZE",
    "DEFAULT_DPI",
    "MAX_POINTS",
    "DENSE_LIMIT",
    "sample_steps",
    "curve_points",
    "resolve_schedules",
    "plot_schedules",
    "terminal_plot",
]

#: Default PNG size in pixels (width, height).
DEFAULT_SIZE: tuple[int, int] = (1200, 675)
#: Default resolution: 1200x675 px is 8x4.5 inches at 150 dpi.
DEFAULT_DPI: int = 150
#: Default upper bound on the points drawn per schedule.
MAX_POINTS: int = 4000
#: Runs with more steps than this are evaluated on an even grid of this many steps
#: (plus the warmup boundary and the ends) instead of at every step.
DENSE_LIMIT: int = 4_000_000

_BLOCKS = " ▁▂▃▄▅▆▇█"
_ASCII_BLOCKS = "    ..::#"  # index = eighths of a cell filled


def _key_steps(total: int, warmup: int) -> list[int]:
    """Steps every picture keeps exactly: the ends and both sides of the warmup boundary."""
    keys = {0, total, max(total - 1, 0)}
    if warmup > 0:
        keys.update({warmup - 1, warmup, min(warmup + 1, total)})
    return sorted(k for k in keys if 0 <= k <= total)


def sample_steps(total: int, warmup: int = 0, max_dense: int = DENSE_LIMIT) -> "np.ndarray":
    """The steps to evaluate for a picture of ``0..total``: all of them, or an even grid.

    Up to ``max_dense`` steps, every step ``0, 1, ..., total``; beyond, ``max_dense``
    evenly spaced steps plus the exact warmup boundary and ends (sorted, unique, int64).

    >>> sample_steps(5).tolist()
    [0, 1, 2, 3, 4, 5]
    >>> sample_steps(100, warmup=7, max_dense=5).tolist()
    [0, 6, 7, 8, 25, 50, 75, 99, 100]
    """
    import numpy as np

    total = check_int("steps", total, minimum=1)
    max_dense = check_int("max_dense", max_dense, minimum=2)
    if total + 1 <= max_dense:
        return np.arange(total + 1, dtype=np.int64)
    grid = np.rint(np.linspace(0, total, max_dense)).astype(np.int64)
    keys = np.asarray(_key_steps(total, warmup), dtype=np.int64)
    return _sorted_unique(np.concatenate([grid, keys]))


def _sorted_unique(a: "np.ndarray") -> "np.ndarray":
    """``np.unique`` for int arrays via a sort (much faster on millions of nearly sorted steps)."""
    import numpy as np

    a = np.sort(a, kind="stable")
    if len(a) < 2:
        return a
    keep = np.empty(len(a), dtype=bool)
    keep[0] = True
    np.not_equal(a[1:], a[:-1], out=keep[1:])
    return a[keep]


def _m4_indices(y: "np.ndarray", nbins: int) -> "np.ndarray":
    """Indices of the first, last, min and max point of each of ``nbins`` equal bins."""
    import numpy as np

    n = len(y)
    k = -(-n // nbins)  # points per bin
    nb = -(-n // k)
    padded = np.empty(nb * k, dtype=y.dtype)
    padded[:n] = y
    padded[n:] = y[-1]
    blocks = padded.reshape(nb, k)
    offsets = np.arange(nb, dtype=np.int64) * k
    idx = np.concatenate(
        [offsets, np.minimum(offsets + k - 1, n - 1), offsets + blocks.argmin(axis=1), offsets + blocks.argmax(axis=1)]
    )
    return _sorted_unique(np.minimum(idx, n - 1))


def curve_points(
    schedule: Schedule,
    steps: int | None = None,
    lr: float = 1.0,
    max_points: int = MAX_POINTS,
) -> tuple["np.ndarray", "np.ndarray"]:
    """Steps and LRs to draw ``lr * schedule(s)`` for ``s = 0..steps``, at most ~``max_points``.

    ``steps`` defaults to the schedule's ``num_training_steps``; a longer range shows the
    value held after the run. The result always contains the steps ``0``, ``W - 1``,
    ``W``, ``T - 1`` and ``T`` with their exact values, and the lowest and highest value
    of every bin of steps, so nothing the eye would see is lost.

    >>> from hf_sched.schedules import Linear
    >>> x, y = curve_points(Linear(num_training_steps=4, num_warmup_steps=2), lr=2.0)
    >>> x.tolist(), y.tolist()
    ([0, 1, 2, 3, 4], [0.0, 1.0, 2.0, 1.0, 0.0])
    """
    import numpy as np

    total = schedule.num_training_steps if steps is None else check_int("steps", steps, minimum=1)
    lr = check_float("lr", lr, minimum=0.0, min_inclusive=False)
    max_points = check_int("max_points", max_points, minimum=16)
    warmup = min(schedule.num_warmup_steps, total)
    x = sample_steps(total, warmup)
    y = schedule.values(x)
    if lr != 1.0:
        y = y * lr
    if len(x) <= max_points:
        return x, y
    keep = _m4_indices(y, max(1, (max_points - 8) // 4))
    keys = np.searchsorted(x, np.asarray(_key_steps(total, warmup), dtype=np.int64))
    keep = _sorted_unique(np.concatenate([keep, keys]))
    return x[keep], y[keep]


def resolve_schedules(
    schedules: Mapping[str, Schedule] | Sequence[str | Schedule] | Schedule,
    steps: int | None = None,
    warmup: Any = None,
) -> dict[str, Schedule]:
    """``{label: Schedule}`` from a mapping, a schedule, or names built for ``steps``.

    Names go through :func:`hf_sched.registry.build_schedule` with ``num_training_steps
    = steps`` and ``num_warmup_steps = warmup`` (default 10% for schedules with warmup);
    the label of a name is its canonical name.

    >>> list(resolve_schedules(["cosine", "noam"], steps=100))
    ['warmupcosine', 'noam']
    """
    from .registry import build_schedule, canonical_name

    if isinstance(schedules, Schedule):
        return {type(schedules).__name__: schedules}
    if isinstance(schedules, Mapping):
        out = dict(schedules)
    else:
        out = {}
        for item in schedules:
            if isinstance(item, Schedule):
                label = type(item).__name__
                sched = item
            else:
                if steps is None:
                    raise ValueError(f"steps (the number of training steps) is needed to build {item!r} by name")
                label = canonical_name(item)
                sched = build_schedule(item, num_training_steps=steps, num_warmup_steps=warmup)
            base, n = label, 2
            while label in out:
                label, n = f"{base} #{n}", n + 1
            out[label] = sched
    if not out:
        raise ValueError("no schedules to plot: give at least one name or Schedule")
    for label, sched in out.items():
        if not isinstance(sched, Schedule):
            raise TypeError(f"schedule {label!r} must be a hf_sched Schedule, got {type(sched).__name__}")
    return out


def _step_formatter(total: int) -> Any:
    from matplotlib.ticker import FuncFormatter

    def fmt(v: float, _pos: Any = None) -> str:
        if total < 10_000:
            return f"{v:,.0f}"
        for div, suffix in ((1e9, "G"), (1e6, "M"), (1e3, "k")):
            if abs(v) >= div:
                return f"{v / div:g}{suffix}"
        return f"{v:g}"

    return FuncFormatter(fmt)


def plot_schedules(
    schedules: Mapping[str, Schedule] | Sequence[str | Schedule] | Schedule,
    steps: int | None = None,
    lr: float = 1.0,
    log_y: bool = False,
    out: Any = None,
    *,
    warmup: Any = None,
    title: str | None = None,
    size: tuple[int, int] = DEFAULT_SIZE,
    dpi: int = DEFAULT_DPI,
    max_points: int = MAX_POINTS,
    unit: str | None = None,
) -> "Figure":
    """One figure with every schedule overlaid: ``lr * f(s)`` against the optimizer step.

    Args:
        schedules: ``{label: Schedule}``, or a list of registry names (built for
            ``steps`` with ``warmup``) and/or Schedules.
        steps: the x range ``0..steps`` (default: the longest ``num_training_steps``);
            required for names.
        lr: peak LR; ``1.0`` plots multipliers.
        log_y: logarithmic y axis (zeros are left out).
        out: if given, a path the figure is saved to (format from the suffix, PNG by
            default), exactly ``size`` pixels; a directory is an error.
        warmup: warmup request for names (steps, ratio, ``"10%"``; default 10%).
        title: figure title (default: the run length and warmup).
        size: ``(width, height)`` in pixels.
        dpi: dots per inch (font size in pixels scales with it).
        max_points: at most about this many points drawn per schedule.
        unit: the x axis' unit on a clock in tokens or samples (``"tokens"``); None: optimizer steps.

    The end of warmup (``s = W``) is marked by a dashed vertical line and a shaded
    warmup span; each curve is drawn from the exact values at ``0``, ``W`` and ``T``.
    Uses matplotlib's Agg canvas directly: no pyplot, no display needed.

    >>> fig = plot_schedules(["warmuplinear", "noam"], steps=1000)
    >>> [line.get_label() for line in fig.axes[0].get_lines()][:2]
    ['warmuplinear', 'noam']
    """
    import numpy as np

    try:
        from matplotlib.backends.backend_agg import FigureCanvasAgg
        from matplotlib.figure import Figure
    except ImportError as exc:  # pragma: no cover - depends on the environment
        raise ImportError("plotting needs matplotlib: pip install matplotlib (or hf_sched[hf])") from exc

    scheds = resolve_schedules(schedules, steps, warmup)
    total = max(s.num_training_steps for s in scheds.values()) if steps is None else check_int("steps", steps, minimum=1)
    lr = check_float("lr", lr, minimum=0.0, min_inclusive=False)
    width, height = (check_int("width (pixels)", size[0], minimum=100), check_int("height (pixels)", size[1], minimum=100))
    dpi = check_int("dpi", dpi, minimum=10)
    if isinstance(out, (str, os.PathLike)) and os.path.isdir(out):
        # savefig would append ".png" and write a file beside the directory
        raise ValueError(f"out {os.fspath(out)!r} is a directory; give a file path such as "
                         f"{os.path.join(os.fspath(out), 'lr.png')!r}")

    fig = Figure(figsize=(width / dpi, height / dpi), dpi=dpi)
    FigureCanvasAgg(fig)
    ax = fig.add_subplot()

    warmups = {s.num_warmup_steps for s in scheds.values() if s.num_warmup_steps > 0}
    shared_warmup = next(iter(warmups)) if len(warmups) == 1 else None
    styles = ["-", "--", "-.", ":", (0, (5, 1.5, 1, 1.5, 1, 1.5))]
    n = len(scheds)
    # Curves that coincide (e.g. warmupcosine and hard restarts with one cycle) say so in
    # the legend, since one hides the other.
    probe = sample_steps(total, 0, max_dense=4096)
    seen: list[tuple[str, "np.ndarray"]] = []
    ymax = 0.0
    for i, (label, sched) in enumerate(scheds.items()):
        x, y = curve_points(sched, total, lr, max_points)
        fingerprint = sched.values(probe)
        twin = next((other for other, fp in seen if np.allclose(fp, fingerprint, rtol=1e-9, atol=1e-12)), None)
        seen.append((label, fingerprint))
        ymax = max(ymax, float(np.max(y)))
        if log_y:
            y = np.where(y > 0, y, np.nan)
        if sched.num_warmup_steps == 0 and warmups:
            label = f"{label} (no warmup)"
        elif shared_warmup is None and sched.num_warmup_steps > 0:
            label = f"{label} (warmup {sched.num_warmup_steps:,})"
        if len(label) > 30 and "(" in label:  # long names with kwargs: kwargs on a second line
            head, _, tail = label.partition("(")
            label = f"{head}\n  ({tail}"
        if twin is not None:
            label = f"{label}\n  (same curve as {twin})"
        ax.plot(
            x,
            y,
            label=label,
            color=f"C{i % 10}",
            linestyle=styles[i % len(styles)],
            # Earlier curves are wider, so a curve hidden under a later one still shows at its edges.
            linewidth=max(1.5, 3.4 - 1.9 * i / max(1, n - 1)) if n > 1 else 2.2,
            zorder=2 + i,
        )

    for w in sorted(warmups):
        ax.axvline(w, color="0.3", linestyle=(0, (4, 3)), linewidth=1.0, zorder=1.5)
        text = f"end of warmup\n{unit or 'step'} {w:,}" if shared_warmup is not None else f"W={w:,}"
        ax.annotate(
            text,
            xy=(w, 0.0),
            xycoords=("data", "axes fraction"),
            xytext=(4, 4),
            textcoords="offset points",
            ha="left",
            va="bottom",
            fontsize="small",
            color="0.25",
        )
    if shared_warmup is not None:
        pct = 100.0 * shared_warmup / total
        ax.axvspan(0, shared_warmup, color="0.5", alpha=0.12, linewidth=0, zorder=0,
                   label=f"warmup: {shared_warmup:,} {unit or 'steps'} ({pct:.3g}%)")

    ax.set_xlim(0, total)
    if log_y:
        ax.set_yscale("log")
    else:
        ax.set_ylim(0, ymax * 1.06 if ymax > 0 else 1.0)
    ax.xaxis.set_major_formatter(_step_formatter(total))
    ax.set_xlabel(f"{unit} consumed  c  (LR of the next step)" if unit else "optimizer step  s  (LR used by step s+1)")
    normalised = all(getattr(s, "normalised", True) for s in scheds.values())
    if lr != 1.0:
        ax.set_ylabel(f"learning rate  (peak lr = {lr:g})")
    elif normalised:
        ax.set_ylabel("LR multiplier  (x peak LR)")
    else:
        ax.set_ylabel("LR multiplier / absolute rate")
    ax.grid(True, alpha=0.3, which="major")
    if title is None:
        title = f"LR schedules over {total:,} {unit or 'optimizer steps'}"
        if shared_warmup is not None:
            title += f", warmup {shared_warmup:,} {unit or 'steps'} ({100.0 * shared_warmup / total:.3g}%)"
    ax.set_title(title, loc="left")
    legend = ax.legend(loc="upper left", bbox_to_anchor=(1.0, 1.0), fontsize="small", frameon=False)
    _fit_margins(fig, legend, log_y=log_y)
    if out is not None:
        fig.savefig(out, dpi=dpi)
    return fig


def _fit_margins(fig: Any, legend: Any, *, log_y: bool) -> None:
    """Fixed margins (in font sizes) plus room on the right for the legend.

    Measuring only the legend is much cheaper than a constrained layout (which draws the
    whole figure once more), and keeps the PNG exactly the requested size.
    """
    from matplotlib import rcParams

    w_px, h_px = fig.get_size_inches() * fig.dpi
    em = float(rcParams["font.size"]) * fig.dpi / 72.0  # one font size in pixels
    legend_px = legend.get_window_extent(fig.canvas.get_renderer()).width
    left = (6.2 if log_y else 5.6) * em
    right = legend_px + 0.8 * em
    fig.subplots_adjust(
        left=min(0.3, left / w_px),
        right=max(0.45, 1.0 - right / w_px),
        bottom=min(0.3, 3.6 * em / h_px),
        top=1.0 - min(0.2, 2.4 * em / h_px),
    )


def terminal_plot(
    schedule: Schedule,
    steps: int | None = None,
    lr: float = 1.0,
    *,
    width: int = 60,
    height: int = 12,
    ascii_only: bool = False,
    unit: str | None = None,
) -> str:
    """A block-character area chart of ``lr * schedule(s)`` for ``s = 0..steps``.

    Each of the ``width`` columns covers an equal share of the steps and is filled up to
    the highest value in it, in eighths of a row (``▁▂▃▄▅▆▇█``; ``ascii_only`` uses
    ``.:#``). The y axis runs from 0 to the peak; the x axis marks the end of warmup
    with ``┴`` (``+`` in ASCII).

    >>> from hf_sched.schedules import Linear
    >>> print(terminal_plot(Linear(num_training_steps=100, num_warmup_steps=20), width=10, height=3))
        1 ┤ ▇█▅▂
    0.667 ┤▃████▇▄▁
          │████████▆▃
        0 └──┴───────
           0 20   100
           ┴ end of warmup: step 20
    """
    import numpy as np

    width = check_int("width", width, minimum=10)
    height = check_int("height", height, minimum=2)
    total = schedule.num_training_steps if steps is None else check_int("steps", steps, minimum=1)
    w = min(schedule.num_warmup_steps, total)
    x = sample_steps(total, w)
    y = schedule.values(x) * lr
    n = len(x)
    # Column c covers the points x[starts[c]:starts[c + 1]] (at least one point each).
    starts = np.minimum((np.arange(width) * n) // width, n - 1)
    col = np.maximum.reduceat(y, starts)
    top = float(np.max(y))
    if top > 0:
        eighths = np.rint(col / top * height * 8).astype(np.int64)
    else:
        eighths = np.zeros(width, dtype=np.int64)

    blocks = _ASCII_BLOCKS if ascii_only else _BLOCKS
    if ascii_only:
        bar, ytick, corner, axis, tick = "|", "+", "+", "-", "+"
    else:
        bar, ytick, corner, axis, tick = "│", "┤", "└", "─", "┴"
    mid = height // 2
    labels = {0: _fmt(top), mid: _fmt(top * (height - mid) / height)}
    margin = max(len(v) for v in [*labels.values(), "0"])

    rows = []
    for r in range(height):
        level = (height - 1 - r) * 8
        cells = "".join(blocks[min(8, max(0, int(e) - level))] for e in eighths)
        label = labels.get(r, "")
        rows.append(f"{label:>{margin}} {ytick if label else bar}{cells.rstrip()}")

    axis_row = [axis] * width
    wcol = None
    if 0 < w < total:
        iw = int(np.searchsorted(x, w))  # index of step W among the evaluated steps
        wcol = int(np.searchsorted(starts, iw, side="left"))
        if wcol == width or starts[wcol] != iw:
            wcol -= 1
        axis_row[wcol] = tick
    rows.append(f"{'0':>{margin}} {corner}{''.join(axis_row)}")

    xlabels = [" "] * width
    end = f"{total:,}"
    _put(xlabels, 0, "0")
    _put(xlabels, width - len(end), end)
    if wcol is not None:
        wl = f"{w:,}"
        at = min(max(wcol - len(wl) // 2, 2), width - len(end) - len(wl) - 1)
        if at >= 2:
            _put(xlabels, at, wl)
    pad = " " * (margin + 2)
    rows.append(pad + "".join(xlabels).rstrip())
    if wcol is not None:
        rows.append(pad + f"{tick} end of warmup: {unit or 'step'} {w:,}")
    return "\n".join(rows)


def _put(buf: list[str], at: int, text: str) -> None:
    for i, ch in enumerate(text):
        if 0 <= at + i < len(buf):
            buf[at + i] = ch


def _fmt(v: float) -> str:
    """Short number: ``1``, ``0.5``, ``2e-05``."""
    if v == 0:
        return "0"
    return f"{v:.3g}"
