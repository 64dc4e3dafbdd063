"""Does the main job's default hold on other data splits? The old and the new default, seed by seed.

Schedule study v2 chose the main job's defaults (``warmuplinear``, peak LR 5e-5, 3 epochs) on
one data split (``--data_seed 0``). The recipe's ``--seed`` draws the split, the head's init and
the data order together, and its default seed (42) draws another split. This runs the recipe
itself (``recipes/finetune_accelerate.py``, one process, its defaults otherwise) for each
configuration and seed, and compares them seed by seed (same split, same init):

* ``old``: 1 epoch, ``warmupcosine``, peak LR 2e-4 (the default before study v2);
* ``new``: 3 epochs, ``warmuplinear``, peak LR 5e-5 (the default since study v2);
* ``grouped``: ``new`` with length-grouped batches (the default since issue 29).

``old`` and ``new`` ran with random batches (``--no_group_by_length``), as the recipe did then.
Every finished run is appended to ``<name>_runs.jsonl`` (a rerun skips it); ``<name>.json`` and
``.md`` hold the table: accuracy and F1 per seed, mean ± sd, and each configuration against the
first one (``--configs``) paired by seed: the difference in accuracy and the ratio of the
training times (the recipe's ``train_time_s``; a ratio means something only for runs of one
sitting, which the plan interleaves seed by seed).

Run::

    python benchmarks/main_job_defaults.py                     # old vs new, seeds 42 0 1 2: ~20 minutes on 2 cores
    python benchmarks/main_job_defaults.py --configs new grouped --name main_job_grouping   # one sitting
    python benchmarks/main_job_defaults.py --seeds 42 0 --quick   # a tiny random BERT, 2 steps (smoke run)
"""

from __future__ import annotations

import argparse
import json
import os
import subprocess
import sys
import tempfile
import time
from pathlib import Path
from typing import Any, Sequence

HERE = Path(__file__).resolve().parent
if str(HERE) not in sys.path:  # the shared study modules live beside this script
    sys.path.insert(0, str(HERE))

from study.stats import fmt, mean_sd  # noqa: E402
from study.store import append_run, key_id, load_runs  # noqa: E402

RECIPE = HERE.parent / "recipes" / "finetune_accelerate.py"
RESULTS = HERE / "results"

__all__ = ["CONFIGS", "recipe_command", "summarise", "render_markdown", "main"]

#: name -> (what it is, the recipe flags)
CONFIGS: dict[str, tuple[str, list[str]]] = {
    "old": ("1 epoch, warmupcosine, peak LR 2e-4 (the default before study v2)",
            ["--no_group_by_length", "--num_epochs", "1", "--lr_scheduler_type", "warmupcosine", "--learning_rate",
             "2e-4"]),
    "new": ("3 epochs, warmuplinear, peak LR 5e-5 (the default since study v2), random batches",
            ["--no_group_by_length", "--num_epochs", "3", "--lr_scheduler_type", "warmuplinear", "--learning_rate",
             "5e-5"]),
    "grouped": ("the same, with length-grouped batches (the default since issue 29)",
                ["--group_by_length", "--num_epochs", "3", "--lr_scheduler_type", "warmuplinear", "--learning_rate",
                 "5e-5"]),
}


def recipe_command(config: str, seed: int, output_dir: str, extra: Sequence[str] = ()) -> list[str]:
    """The recipe's command line for one run.

    >>> recipe_command("new", 0, "/tmp/x")[-6:]
    ['--learning_rate', '5e-5', '--seed', '0', '--output_dir', '/tmp/x']
    """
    return [sys.executable, str(RECIPE), *CONFIGS[config][1], *extra, "--seed", str(seed), "--output_dir", output_dir]


def _mean_sd(values: Sequence[float]) -> tuple[float | None, float | None]:
    return mean_sd(values) if values else (None, None)


def summarise(runs: Sequence[dict[str, Any]], configs: Sequence[str] = ("old", "new")) -> dict[str, Any]:
    """Per configuration: accuracy per seed, mean ± sd; each later one against the first on the seeds both ran.

    ``paired`` is the second configuration against the first (``versus`` holds every later one):
    accuracy differences, how many seeds were higher, and the training-time ratios.

    >>> s = summarise([{"config": "old", "seed": 1, "accuracy": 0.8, "f1": 0.5, "wall_time_s": 9.0},
    ...                {"config": "new", "seed": 1, "accuracy": 0.9, "f1": 0.6, "wall_time_s": 30.0}])
    >>> round(s["paired"]["mean"], 6), s["paired"]["higher"], s["configs"]["new"]["accuracy_mean"]
    (0.1, 1, 0.9)
    """
    out: dict[str, Any] = {"configs": {}, "paired": None, "versus": {}}
    for name in configs:
        mine = sorted((r for r in runs if r["config"] == name), key=lambda r: r["seed"])
        acc_mean, acc_sd = _mean_sd([r["accuracy"] for r in mine])
        f1_mean, f1_sd = _mean_sd([r["f1"] for r in mine])
        wall_mean, _ = _mean_sd([r["wall_time_s"] for r in mine])
        out["configs"][name] = {"what": CONFIGS[name][0], "seeds": [r["seed"] for r in mine],
                                "accuracy": {r["seed"]: r["accuracy"] for r in mine}, "accuracy_mean": acc_mean,
                                "accuracy_sd": acc_sd, "f1_mean": f1_mean, "f1_sd": f1_sd, "wall_time_s_mean": wall_mean,
                                "train_time_s": {r["seed"]: r.get("train_time_s") for r in mine}}
    base = out["configs"][configs[0]]
    for name in configs[1:]:
        other = out["configs"][name]
        seeds = [s for s in other["accuracy"] if s in base["accuracy"]]
        if not seeds:
            continue
        diffs = [other["accuracy"][s] - base["accuracy"][s] for s in seeds]
        mean, sd = _mean_sd(diffs)
        times = [other["train_time_s"][s] / base["train_time_s"][s] for s in seeds
                 if other["train_time_s"][s] and base["train_time_s"][s]]
        out["versus"][name] = {"baseline": configs[0], "seeds": seeds, "differences": diffs, "mean": mean, "sd": sd,
                               "higher": sum(d > 0 for d in diffs), "train_time_ratios": times,
                               "train_time_ratio_mean": _mean_sd(times)[0] if times else None}
    out["paired"] = out["versus"].get(configs[1]) if len(configs) > 1 else None
    return out


def render_markdown(summary: dict[str, Any]) -> str:
    """The table: one row per configuration, one column per seed."""
    seeds = sorted({s for c in summary["configs"].values() for s in c["seeds"]})
    lines = ["# Main job defaults, seed by seed", "",
             "`recipes/finetune_accelerate.py` (one process, its defaults otherwise: the offline MiniLM, 2,000 / "
             "1,000 tweets, batch 16). `--seed` draws the data split, the head's init and the data order; "
             "42 is the recipe's default. Final validation accuracy:", "",
             "| configuration | " + " | ".join(f"seed {s}" for s in seeds) + " | mean ± sd | F1 mean | wall s (mean) |",
             "|---|" + "---:|" * (len(seeds) + 3)]
    for name, c in summary["configs"].items():
        cells = [f"{c['accuracy'][s]:.3f}" if s in c["accuracy"] else "–" for s in seeds]
        mean = "–" if c["accuracy_mean"] is None else fmt(c["accuracy_mean"], c["accuracy_sd"])
        f1 = "–" if c["f1_mean"] is None else f"{c['f1_mean']:.4f}"
        wall = "–" if c["wall_time_s_mean"] is None else f"{c['wall_time_s_mean']:.0f}"
        lines.append(f"| `{name}`: {c['what']} | " + " | ".join(cells) + f" | {mean} | {f1} | {wall} |")
    for name, p in summary.get("versus", {}).items():
        sd = "" if p["sd"] is None else f" ± {p['sd']:.4f}"
        lines += ["", f"{name} - {p['baseline']}, paired by seed: {p['mean']:+.4f}{sd} over seeds {p['seeds']} "
                      f"({name} higher on {p['higher']} of {len(p['differences'])})."]
        if p["train_time_ratio_mean"] is not None:
            ratios = ", ".join(f"{r:.2f}" for r in p["train_time_ratios"])
            lines.append(f"Training time {name} / {p['baseline']}, seed by seed: {ratios} (mean "
                         f"{p['train_time_ratio_mean']:.2f}x; compare only runs of one sitting).")
    return "\n".join(lines) + "\n"


def main(argv: list[str] | None = None) -> dict[str, Any]:
    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    ap.add_argument("--seeds", nargs="+", type=int, default=[42, 0, 1, 2])
    ap.add_argument("--configs", nargs="+", choices=list(CONFIGS), default=["old", "new"],
                    help="the first is the baseline the others are paired with")
    ap.add_argument("--quick", action="store_true", help="a tiny random BERT, 2 steps: a smoke run")
    ap.add_argument("--out_dir", default=str(RESULTS))
    ap.add_argument("--name", default="main_job_defaults", help="the run store and table: <out_dir>/<name>[_quick]")
    args = ap.parse_args(argv)
    out_dir = Path(args.out_dir)
    out_dir.mkdir(parents=True, exist_ok=True)
    name = f"{args.name}_quick" if args.quick else args.name
    runs_path = out_dir / f"{name}_runs.jsonl"
    runs = load_runs(runs_path)
    done = {(r["config"], r["seed"]) for r in runs}
    scratch = tempfile.mkdtemp(prefix="main_job_defaults_")
    extra: list[str] = []
    if args.quick:
        sys.path.insert(0, str(HERE.parent))
        from hf_sched.finetune.model import save_tiny_bert

        extra = ["--model", str(save_tiny_bert(os.path.join(scratch, "tiny"), seed=0)), "--max_steps", "2",
                 "--max_train_samples", "32", "--max_eval_samples", "16", "--max_length", "16"]
    env = {**os.environ, "HF_HUB_OFFLINE": "1", "HF_DATASETS_OFFLINE": "1", "TRANSFORMERS_OFFLINE": "1"}
    plan = [(c, s) for s in args.seeds for c in args.configs if (c, s) not in done]
    print(f"main job defaults: {len(plan)} runs to go, {len(done)} already in {runs_path}", flush=True)
    for i, (config, seed) in enumerate(plan, start=1):
        output_dir = os.path.join(scratch, f"{config}_{seed}")
        start = time.perf_counter()
        proc = subprocess.run(recipe_command(config, seed, output_dir, extra), capture_output=True, text=True, env=env)
        if proc.returncode != 0:
            raise SystemExit(f"{config} seed {seed}: the recipe failed (exit {proc.returncode}):\n{proc.stderr[-3000:]}")
        metrics = json.loads(Path(output_dir, "metrics.json").read_text())
        run = {"key_id": key_id({"config": config, "seed": seed}), "config": config, "seed": seed, "accuracy": metrics["accuracy"], "f1": metrics["f1"],
               "wall_time_s": round(time.perf_counter() - start, 1), "train_time_s": metrics.get("train_time_s"),
               "num_training_steps": metrics["num_training_steps"], "torch_threads": metrics.get("torch_threads"),
               "majority_fraction": metrics.get("majority_baseline_accuracy"),
               "group_by_length": metrics.get("group_by_length"),
               "padded_token_fraction": metrics.get("padded_token_fraction"),
               "train_tokens_per_s": metrics.get("train_tokens_per_s")}
        append_run(runs_path, run)
        runs.append(run)
        print(f"[{i}/{len(plan)}] {config} seed {seed}: accuracy {run['accuracy']:.4f}, f1 {run['f1']:.4f}, "
              f"{run['num_training_steps']} steps, {run['wall_time_s']:.0f} s", flush=True)
    summary = summarise(runs, args.configs)
    (out_dir / f"{name}.json").write_text(json.dumps({"benchmark": "main_job_defaults", **summary}, indent=1) + "\n")
    markdown = render_markdown(summary)
    (out_dir / f"{name}.md").write_text(markdown)
    print("\n" + markdown, flush=True)
    return summary


if __name__ == "__main__":
    main()
