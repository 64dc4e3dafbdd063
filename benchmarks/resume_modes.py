"""What LR does each resume mode give a run that moves from 1 to 2 processes, or starts its cooldown now?

A real plain loop (a small linear model, AdamW, ``get_scheduler`` over a DataLoader, real
optimizer steps; states through ``torch.save`` / ``torch.load(weights_only=True)``):

* **1 -> 2 processes.** A ``warmupcosine`` run of ``EPOCHS`` epochs over ``N`` examples with a
  per-device batch ``B`` on one process is stopped at 40% of its steps and resumed with the
  same per-device batch on two processes (twice the global batch: half the steps). Each mode's
  LR is recorded against the examples seen and compared with the uninterrupted one-process
  curve at the same examples. ``strict`` refuses (its line is printed).
* **Decay from here.** A ``wsd`` run (decay planned over the last 10%) stopped at 40% resumes
  with ``decay_from_here=0.25`` (a quarter of what is left).

Prints a table, writes ``benchmarks/results/resume_modes.json`` and ``resume_modes.png``
(``--out DIR`` to write elsewhere; ``--quick`` for fewer steps).
"""

from __future__ import annotations

import argparse
import contextlib
import io
import json
import platform
import sys
import warnings
from pathlib import Path
from typing import Any

import torch

from hf_sched import get_scheduler

ROOT = Path(__file__).resolve().parents[1]
PEAK = 1e-3


def _loop(processes: int, n: int, batch: int, epochs: int, name: str, **kw: Any) -> tuple[Any, Any, Any]:
    torch.manual_seed(0)
    model = torch.nn.Linear(8, 1)
    opt = torch.optim.AdamW(model.parameters(), lr=PEAK)
    loader = torch.utils.data.DataLoader(range(n), batch_size=batch)
    sched = get_scheduler(name, opt, dataloader=loader, num_epochs=epochs, num_processes=processes, **kw)
    return model, opt, sched


def _train(model: Any, opt: Any, sched: Any, steps: int, batch: int) -> list[tuple[int, float]]:
    """``steps`` real optimizer steps; (examples seen before the step, LR the step used) for each."""
    out = []
    for _ in range(steps):
        out.append((int(sched.examples_seen), float(opt.param_groups[0]["lr"])))
        model(torch.randn(batch, 8)).pow(2).mean().backward()
        opt.step()
        opt.zero_grad()
        sched.step()
    return out


def _saved(opt: Any, sched: Any) -> tuple[dict, dict]:
    buf = io.BytesIO()
    torch.save([opt.state_dict(), sched.state_dict()], buf)
    buf.seek(0)
    opt_state, state = torch.load(buf, weights_only=True)
    return opt_state, state


def run(n: int, batch: int, epochs: int) -> dict[str, Any]:
    """Every mode after a 1 -> 2 process move, and a WSD decay from here: LR curves and summaries."""
    model, opt, sched = _loop(1, n, batch, epochs, "warmupcosine")
    total = sched.schedules[0].num_training_steps
    stop = int(total * 0.4)
    reference = _train(model, opt, sched, total, batch)  # the uninterrupted 1-process run
    old_lr = dict(reference)  # examples seen -> LR

    model, opt, sched = _loop(1, n, batch, epochs, "warmupcosine")
    before = _train(model, opt, sched, stop, batch)
    opt_state, state = _saved(opt, sched)
    rows, curves = [], {"1 process, uninterrupted": reference}
    for mode in ("strict", "checkpoint", "rescale", "replan"):
        model2, opt2, sched2 = _loop(2, n, batch, epochs, "warmupcosine", resume=mode)
        opt2.load_state_dict(opt_state)
        err = io.StringIO()
        try:
            with warnings.catch_warnings(record=True) as caught, contextlib.redirect_stderr(err):
                warnings.simplefilter("always")
                sched2.load_state_dict(state)
        except ValueError as exc:
            rows.append({"mode": mode, "said": f"ValueError: {str(exc)[:140]}..."})
            continue
        said = (err.getvalue().strip() or "; ".join(str(w.message) for w in caught))
        resumed_at = sched2.optimizer_step
        # the data left decides how long the 2-process loop runs: (total - stop) / 2 steps of twice the batch
        with warnings.catch_warnings(record=True) as past:
            warnings.simplefilter("always")
            after = _train(model2, opt2, sched2, (total - stop) // 2, 2 * batch)
        if past:
            said += f" [then: {str(past[0].message)[:90]}...]"
        curves[mode] = before + after
        gaps = [abs(lr - old_lr[e]) for e, lr in after if e in old_lr]
        rows.append({"mode": mode, "resumed_at_step": resumed_at,
                     "lr_after_resume": after[0][1] if after else None,
                     "lr_at_last_step": after[-1][1] if after else None,
                     "last_lr_written": float(opt2.param_groups[0]["lr"]),
                     "examples_at_end": int(sched2.examples_seen),
                     "max_gap_to_1_process_curve": max(gaps) if gaps else None, "said": said[:300]})

    # decay from here: a WSD run stopped in its stable phase
    model, opt, sched = _loop(1, n, batch, epochs, "wsd")
    wsd_ref = _train(model, opt, sched, total, batch)
    model, opt, sched = _loop(1, n, batch, epochs, "wsd")
    wsd_before = _train(model, opt, sched, stop, batch)
    opt_state, state = _saved(opt, sched)
    model, opt, sched = _loop(1, n, batch, epochs, "wsd", decay_from_here=0.25)
    opt.load_state_dict(opt_state)
    err = io.StringIO()
    with contextlib.redirect_stderr(err):
        sched.load_state_dict(state)
    d = sched.schedules[0].num_decay_steps
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")  # past the decay's end it trains at the floor, as asked (said once)
        wsd_after = _train(model, opt, sched, total - stop, batch)
    rows.append({"mode": "decay_from_here=0.25 (wsd)", "resumed_at_step": stop, "lr_after_resume": wsd_after[0][1],
                 "lr_at_last_step": wsd_after[d - 1][1], "last_lr_written": float(opt.param_groups[0]["lr"]),
                 "examples_at_end": int(sched.examples_seen), "max_gap_to_1_process_curve": None,
                 "said": err.getvalue().strip()[:300]})
    curves["wsd, uninterrupted"] = wsd_ref
    curves["wsd, decay_from_here=0.25"] = wsd_before + wsd_after
    return {"total_steps_1_process": total, "stopped_at_step": stop, "rows": rows, "curves": curves}


def plot(result: dict[str, Any], path: Path) -> None:
    """Two panels: the 1 -> 2 process modes against examples seen; WSD with a decay from here."""
    from matplotlib.backends.backend_agg import FigureCanvasAgg
    from matplotlib.figure import Figure

    fig = Figure(figsize=(12, 4.5), dpi=100)
    FigureCanvasAgg(fig)
    left, right = fig.subplots(1, 2)
    styles = {"1 process, uninterrupted": ("0.6", "-", 4.0), "checkpoint": ("tab:red", "-", 1.6),
              "rescale": ("tab:blue", "--", 1.8), "replan": ("tab:green", "-", 1.6),
              "wsd, uninterrupted": ("0.6", "-", 4.0), "wsd, decay_from_here=0.25": ("tab:purple", "-", 1.6)}
    stop_examples = result["curves"]["1 process, uninterrupted"][result["stopped_at_step"]][0]
    for name, points in result["curves"].items():
        ax = right if name.startswith("wsd") else left
        color, line, width = styles[name]
        xs, ys = zip(*points)
        ax.plot(xs, ys, color=color, linestyle=line, linewidth=width, label=name)
    for ax, title in ((left, "1 -> 2 processes at 40% (same per-device batch)"),
                      (right, "WSD: start the cooldown at 40%")):
        ax.axvline(stop_examples, color="0.3", linewidth=0.8, linestyle=":")
        ax.set_title(title)
        ax.set_xlabel("examples seen")
        ax.set_ylabel("learning rate")
        ax.legend(loc="upper right" if ax is left else "center right", fontsize=9)
    fig.tight_layout()
    fig.savefig(path)


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--quick", action="store_true", help="fewer steps (a smoke run)")
    parser.add_argument("--out", type=Path, default=ROOT / "benchmarks" / "results", help="output folder")
    args = parser.parse_args(argv)
    n, batch, epochs = (640, 8, 2) if args.quick else (3200, 8, 4)
    result = run(n, batch, epochs)
    print(f"warmupcosine over {result['total_steps_1_process']} steps on 1 process, stopped at step "
          f"{result['stopped_at_step']}, resumed on 2 processes (same per-device batch {batch})\n")
    print(f"| {'mode':<28} | {'LR after resume':>15} | {'LR last step':>12} | {'examples at end':>15} | "
          f"{'max gap to 1-process curve':>27} |")
    print(f"|{'-' * 30}|{'-' * 16}:|{'-' * 13}:|{'-' * 16}:|{'-' * 28}:|")
    for row in result["rows"]:
        if "lr_after_resume" not in row:
            print(f"| {row['mode']:<28} | {'refused':>15} | {'':>12} | {'':>15} | {'':>27} |")
            continue
        gap = "" if row["max_gap_to_1_process_curve"] is None else f"{row['max_gap_to_1_process_curve']:.1e}"
        print(f"| {row['mode']:<28} | {row['lr_after_resume']:>15.3e} | {row['lr_at_last_step']:>12.3e} | "
              f"{row['examples_at_end']:>15} | {gap:>27} |")
    print()
    for row in result["rows"]:
        print(f"{row['mode']}: {row['said']}")
    args.out.mkdir(parents=True, exist_ok=True)
    png = args.out / "resume_modes.png"
    plot(result, png)
    machine = {"python": platform.python_version(), "torch": torch.__version__}
    # the curves every 4th step (and the last), on one line each: the figure's data, not a log
    thin = {name: [p for i, p in enumerate(points) if i % 4 == 0 or i == len(points) - 1]
            for name, points in result["curves"].items()}
    summary = {"machine": machine, "examples": n, "per_device_batch": batch, "epochs": epochs,
               **{k: v for k, v in result.items() if k != "curves"}}
    text = json.dumps(summary, indent=1)[:-2] + ',\n "curves_every_4th_step": {\n' + ",\n".join(
        f"  {json.dumps(name)}: {json.dumps(points)}" for name, points in thin.items()) + "\n }\n}\n"
    (args.out / "resume_modes.json").write_text(text)
    print(f"\nwrote {args.out / 'resume_modes.json'} and {png}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
