"""Study v2's report: summary rows (mean +- sd over seeds), the markdown tables and two PNGs.

Per (task, arm, peak LR): final and best validation accuracy, final F1 (binary task: of the
positive class; three-class task: macro), diverged/stuck runs, and **steps to target**
(:mod:`study.target`): how many seeds reached the task's target (the Trainer default's mean
final accuracy), the mean first step at which they did, and the mean training / wall
seconds to it. ``vs default`` is that mean step over the Trainer default's own. **Paired
difference**: the seed fixes the head's init, dropout and the data order, so an arm's final
accuracy minus the Trainer default's *on the same seed*, averaged over the seeds both ran, is
less noisy than the difference of the means; ``wins`` counts the seeds where the arm ended higher.

>>> rows = summarise([{"task": "binary", "arm": "wsd", "lr": 2e-4, "seed": 0, "diverged": False,
...     "final": {"accuracy": 0.9, "f1": 0.8}, "best": {"accuracy": 0.91}, "wall_time_s": 10.0,
...     "evals": [{"step": 25, "accuracy": 0.9, "train_s": 5.0, "wall_s": 7.0}]}], {"binary": 0.88})
>>> rows[0]["reached"], rows[0]["steps_to_target"]
(1, 25.0)
"""

from __future__ import annotations

import os
from typing import Any, Sequence

from .arms import ARMS, SCHEDULE_FREE, TRAINER_DEFAULT
from .stats import describe_setup, fmt, mean_sd
from .target import steps_to_target
from .tasks import F1_NAMES, TASKS

__all__ = ["summarise", "pick_three_class_arms", "missing_runs", "render_markdown", "plot_accuracy",
           "plot_curves"]


def _order(row: dict[str, Any]) -> tuple[int, int, float]:
    arms = list(ARMS)
    task = TASKS.index(row["task"]) if row["task"] in TASKS else len(TASKS)
    return (task, arms.index(row["arm"]) if row["arm"] in arms else len(arms), row["lr"])


def summarise(runs: Sequence[dict[str, Any]], targets: dict[str, float]) -> list[dict[str, Any]]:
    """One row per (task, arm, LR); ``targets`` maps a task to its target accuracy (missing: no target yet)."""
    groups: dict[tuple[str, str, float], list[dict[str, Any]]] = {}
    for run in runs:
        groups.setdefault((run["task"], run["arm"], float(run["lr"])), []).append(run)
    rows = []
    for (task, arm, lr), members in groups.items():
        row: dict[str, Any] = {"task": task, "arm": arm, "lr": lr, "n": len(members),
                               "seeds": sorted(r["seed"] for r in members),
                               "diverged": sum(bool(r["diverged"]) for r in members)}
        for name, get in (("final_accuracy", lambda r: r["final"]["accuracy"]),
                          ("best_accuracy", lambda r: r["best"]["accuracy"]),
                          ("final_f1", lambda r: r["final"]["f1"]),
                          ("wall_time_s", lambda r: r["wall_time_s"])):
            row[name], row[name + "_sd"] = mean_sd([float(get(r)) for r in members])
        target = targets.get(task)
        hits = [steps_to_target(r["evals"], target) for r in members] if target is not None else []
        reached = [h for h in hits if h is not None]
        row["target"] = target
        row["reached"] = len(reached) if target is not None else None
        for name in ("step", "train_s", "wall_s"):
            values = [float(h[name]) for h in reached if h.get(name) is not None]
            mean, sd = mean_sd(values) if values else (None, None)
            key = "steps_to_target" if name == "step" else f"{name}_to_target"
            row[key], row[key + "_sd"] = mean, sd
        rows.append(row)
    rows.sort(key=_order)
    for row in rows:
        ref = next((r for r in rows if r["task"] == row["task"] and r["arm"] == TRAINER_DEFAULT), None)
        ok = ref is not None and ref["steps_to_target"] and row["steps_to_target"] is not None
        row["steps_vs_default"] = row["steps_to_target"] / ref["steps_to_target"] if ok else None
        _paired(row, groups, ref)
    return rows


def _paired(row: dict[str, Any], groups: dict[tuple[str, str, float], list[dict[str, Any]]],
            ref: dict[str, Any] | None) -> None:
    """Add ``paired_delta`` (+ ``_sd``), ``paired_wins`` and ``paired_n``: final accuracy minus the
    Trainer default's on the same seeds (``None`` for the default itself or without shared seeds)."""
    row["paired_delta"] = row["paired_delta_sd"] = row["paired_wins"] = None
    row["paired_n"] = 0
    if ref is None or row is ref:
        return
    mine = {r["seed"]: r["final"]["accuracy"] for r in groups[(row["task"], row["arm"], row["lr"])]}
    theirs = {r["seed"]: r["final"]["accuracy"] for r in groups[(ref["task"], ref["arm"], ref["lr"])]}
    diffs = [mine[s] - theirs[s] for s in sorted(mine) if s in theirs]
    if diffs:
        row["paired_delta"], row["paired_delta_sd"] = mean_sd(diffs)
        row["paired_wins"], row["paired_n"] = sum(d > 0 for d in diffs), len(diffs)


def pick_three_class_arms(rows: Sequence[dict[str, Any]], count: int = 2) -> list[tuple[str, float]]:
    """The three-class arms from the binary rows: the Trainer default, the ``count`` best schedule
    arms (each at its better LR) by mean final accuracy, and schedule-free at its better LR.

    Raises:
        ValueError: the binary rows lack the Trainer default, ``count`` schedule pairs or schedule-free.
    """
    binary = [r for r in rows if r["task"] == "binary"]
    default = [r for r in binary if r["arm"] == TRAINER_DEFAULT]
    best: dict[str, dict[str, Any]] = {}  # each schedule arm at its better LR: two different schedules
    for r in binary:
        if r["arm"] not in (TRAINER_DEFAULT, SCHEDULE_FREE) and (
                r["arm"] not in best or r["final_accuracy"] > best[r["arm"]]["final_accuracy"]):
            best[r["arm"]] = r
    schedules = sorted(best.values(), key=lambda r: -r["final_accuracy"])
    free = sorted((r for r in binary if r["arm"] == SCHEDULE_FREE), key=lambda r: -r["final_accuracy"])
    if not default or len(schedules) < count or not free:
        raise ValueError(f"choosing the three-class arms needs binary runs of {TRAINER_DEFAULT}, {count} schedule "
                         f"arms and {SCHEDULE_FREE}; the binary results have {sorted({r['arm'] for r in binary})}")
    return [(TRAINER_DEFAULT, default[0]["lr"]), *((r["arm"], r["lr"]) for r in schedules[:count]),
            (SCHEDULE_FREE, free[0]["lr"])]


def missing_runs(plan: Sequence[tuple[str, str, float, int]], done: set[tuple[str, str, float, int]]
                 ) -> list[dict[str, Any]]:
    """Planned ``(task, arm, lr, seed)`` runs not done, grouped per (task, arm, LR) with their seeds."""
    out: dict[tuple[str, str, float], list[int]] = {}
    for task, arm, lr, seed in plan:
        if (task, arm, float(lr), seed) not in done:
            out.setdefault((task, arm, float(lr)), []).append(seed)
    return [{"task": t, "arm": a, "lr": lr, "seeds": s} for (t, a, lr), s in out.items()]


def _signed(value: float, sd: float | None) -> str:
    """``+0.0057 ± 0.0050`` (the sign always shown)."""
    return f"{value:+.4f}" + ("" if sd is None else f" ± {sd:.4f}")


def _opt(value: float | None, sd: float | None, digits: int) -> str:
    return "–" if value is None else fmt(value, sd, digits)


def render_markdown(rows: Sequence[dict[str, Any]], config: dict[str, Any], targets: dict[str, dict[str, Any]],
                    missing: Sequence[dict[str, Any]], notes: Sequence[str] = ()) -> str:
    """The markdown report: one table per task, then what is missing."""
    lines = [
        "# Schedule study v2",
        "",
        describe_setup(config) + f", the same on each task; evaluation every {config['eval_every']} steps.",
        "Mean ± sd over seeds (sd needs 2+ seeds); diverged runs are included in the means. "
        "**Target** = the Trainer default's mean final accuracy on the task; **steps to target** = the first "
        "evaluated step at or above it (mean over the seeds that reached it, `k/n` = seeds that did); "
        "**vs default** = that over the Trainer default's own steps to target; **train s** = training seconds "
        "to it (evaluations excluded), **wall s** = from the run's start. **Δ vs default (paired)** = final "
        "accuracy minus the Trainer default's on the same seed (same init, dropout and data order), mean ± sd "
        "over the seeds both ran, and on how many of them the arm ended higher.",
        *notes,
    ]
    for task in [t for t in TASKS if any(r["task"] == t for r in rows)]:
        target = targets.get(task)
        head = f"target {target['target']:.4f} (seeds {target['seeds']})" if target else "no target yet"
        lines += ["", f"## {task} ({F1_NAMES[task]}; {head})", "",
                  f"| arm | peak LR | runs | final acc | Δ vs default (paired) | best acc | final {F1_NAMES[task]} | "
                  "reached | steps to target | vs default | train s to target | wall s to target | run wall (s) | "
                  "diverged |",
                  "|---|---:|---:|---:|---:|---:|---:|---:|---:|---:|---:|---:|---:|---:|"]
        for r in (r for r in rows if r["task"] == task):
            reached = "–" if r["reached"] is None else f"{r['reached']}/{r['n']}"
            ratio = "–" if r["steps_vs_default"] is None else f"{r['steps_vs_default']:.2f}x"
            paired = ("–" if r.get("paired_delta") is None else
                      f"{_signed(r['paired_delta'], r['paired_delta_sd'])} ({r['paired_wins']}/{r['paired_n']} higher)")
            lines.append(
                f"| {r['arm']} | {r['lr']:g} | {r['n']} | {fmt(r['final_accuracy'], r['final_accuracy_sd'])} | "
                f"{paired} | {fmt(r['best_accuracy'], r['best_accuracy_sd'])} | {fmt(r['final_f1'], r['final_f1_sd'])} | "
                f"{reached} | {_opt(r['steps_to_target'], r['steps_to_target_sd'], 0)} | {ratio} | "
                f"{_opt(r['train_s_to_target'], r['train_s_to_target_sd'], 0)} | "
                f"{_opt(r['wall_s_to_target'], r['wall_s_to_target_sd'], 0)} | "
                f"{fmt(r['wall_time_s'], r['wall_time_s_sd'], 0)} | {r['diverged']}/{r['n']} |")
    lines += ["", "## Not run yet", ""]
    if missing:
        lines += [f"* {m['task']} / {m['arm']} @ {m['lr']:g}: seeds {m['seeds']}" for m in missing]
    else:
        lines.append("Nothing: every planned run is in the results.")
    return "\n".join(lines) + "\n"


def _plt() -> Any:
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    return plt


def _colour(plt: Any, arm: str) -> Any:
    arms = list(ARMS)
    return plt.get_cmap("tab10")(arms.index(arm) if arm in arms else len(arms))


def plot_accuracy(path: str | os.PathLike, rows: Sequence[dict[str, Any]], targets: dict[str, dict[str, Any]],
                  majority: dict[str, float]) -> None:
    """Bars: final accuracy and final F1 (mean, sd error bars) per arm and LR, one panel per task; target dashed."""
    plt = _plt()
    tasks = [t for t in TASKS if any(r["task"] == t for r in rows)]
    sizes = [sum(r["task"] == t for r in rows) for t in tasks]
    fig, axes = plt.subplots(1, len(tasks), figsize=(max(5.0, 0.62 * sum(sizes) + 2.5 * len(tasks)), 5.0),
                             squeeze=False, gridspec_kw={"width_ratios": [max(s, 3) for s in sizes]})
    width = 0.4
    for ax, task in zip(axes[0], tasks):
        mine = [r for r in rows if r["task"] == task]
        xs = list(range(len(mine)))
        for offset, key, hatch, text in ((-width / 2, "final_accuracy", "", "final accuracy"),
                                         (width / 2, "final_f1", "//", f"final {F1_NAMES[task]}")):
            ax.bar([x + offset for x in xs], [r[key] for r in mine], width,
                   yerr=[r[key + "_sd"] or 0.0 for r in mine], capsize=3, hatch=hatch, edgecolor="white",
                   color=[_colour(plt, r["arm"]) for r in mine], label=text)
        for x, r in zip(xs, mine):
            ax.annotate(f"n={r['n']}", (x, 0.01), xycoords=("data", "axes fraction"), ha="center", fontsize=7)
        if task in targets:
            ax.axhline(targets[task]["target"], color="black", linestyle="--", linewidth=1,
                       label=f"target (Trainer default) {targets[task]['target']:.3f}")
        if task in majority:
            ax.axhline(majority[task], color="grey", linestyle=":", linewidth=1,
                       label=f"majority class {majority[task]:.3f}")
        ax.set_xticks(xs)
        ax.set_xticklabels([f"{r['arm']}\n{r['lr']:g}" for r in mine], rotation=45, ha="right", fontsize=8)
        lows = [r[k] - (r[k + "_sd"] or 0.0) for r in mine for k in ("final_accuracy", "final_f1")]
        ax.set_ylim(max(0.0, min(lows) - 0.05), 1.0)
        ax.set_title(f"{task}: final accuracy (solid)\nand {F1_NAMES[task]} (hatched)", fontsize=9)  # narrow panels
        ax.grid(axis="y", alpha=0.3)
        ax.legend(fontsize=7, loc="upper right")
    axes[0][0].set_ylabel("validation score (mean ± sd over seeds)")
    fig.tight_layout()
    fig.savefig(path, dpi=110)
    plt.close(fig)


def plot_curves(path: str | os.PathLike, runs: Sequence[dict[str, Any]], targets: dict[str, dict[str, Any]]) -> None:
    """Validation accuracy against optimizer steps, mean over seeds, one line per arm; the target dashed.

    One panel per (binary task, peak LR), with the Trainer default drawn in each, and one for the
    three-class task (its arms at their LRs).
    """
    plt = _plt()
    panels: list[tuple[str, float | None]] = []
    binary_lrs = sorted({float(r["lr"]) for r in runs if r["task"] == "binary" and r["arm"] != TRAINER_DEFAULT})
    if any(r["task"] == "binary" for r in runs):
        panels += [("binary", lr) for lr in (binary_lrs or [None])]
    if any(r["task"] == "three_class" for r in runs):
        panels.append(("three_class", None))
    fig, axes = plt.subplots(1, len(panels), figsize=(6.0 * len(panels), 4.8), squeeze=False, sharey=False)
    for ax, (task, lr) in zip(axes[0], panels):
        mine = [r for r in runs if r["task"] == task and (lr is None or r["arm"] == TRAINER_DEFAULT
                                                          or float(r["lr"]) == lr)]
        groups: dict[tuple[str, float], list[dict[str, Any]]] = {}
        for r in mine:
            groups.setdefault((r["arm"], float(r["lr"])), []).append(r)
        arms = list(ARMS)
        low, high = 1.0, 0.0
        for (arm, arm_lr), members in sorted(groups.items(), key=lambda kv: arms.index(kv[0][0])
                                             if kv[0][0] in arms else len(arms)):
            steps = sorted({e["step"] for r in members for e in r["evals"]})
            mean = []
            for s in steps:
                vals = [e["accuracy"] for r in members for e in r["evals"] if e["step"] == s]
                mean.append(sum(vals) / len(vals))
            low = min(low, *(mean[1:] or mean))  # the first evaluation may sit far below the rest
            high = max(high, *mean)
            text = f"{arm} {arm_lr:g} (n={len(members)})"
            style = {"linestyle": "--"} if arm == TRAINER_DEFAULT else {}
            ax.plot(steps, mean, marker=".", color=_colour(plt, arm), label=text, linewidth=1.4, **style)
        if task in targets:
            ax.axhline(targets[task]["target"], color="black", linestyle=":", linewidth=1.2,
                       label=f"target {targets[task]['target']:.3f}")
        title = f"{task}" + (f", peak LR {lr:g}" if lr is not None else "")
        ax.set_title(f"{title}: validation accuracy (mean over seeds)", fontsize=9)
        ax.set_xlabel("optimizer step")
        if high > 0.0:
            ax.set_ylim(max(0.0, low - 0.03), min(1.0, high + 0.02))
        ax.grid(alpha=0.3)
        ax.legend(fontsize=7, loc="lower right")
    axes[0][0].set_ylabel("validation accuracy")
    fig.tight_layout()
    fig.savefig(path, dpi=110)
    plt.close(fig)
