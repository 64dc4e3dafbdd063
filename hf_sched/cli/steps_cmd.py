"""``hf-sched steps``: the exact optimizer and warmup steps a Trainer and an Accelerate loop take.

The arithmetic is :func:`hf_sched.budget.compute_budget`'s, shown line by line, plus what
Accelerate does to a scheduler on several processes. Every count it prints is below
``2**53`` (:data:`~hf_sched.cli.arguments.MAX_COUNT`); a run that would be longer is refused.

>>> from hf_sched.cli import main
>>> main(["steps", "--examples", "100", "--batch-size", "10", "--epochs", "2", "--json"])  # doctest: +ELLIPSIS
{
  "inputs": {
...
0
"""

from __future__ import annotations

import argparse
import json
from typing import Any

from ..clock import Amount, parse_amount
from ..warmup import is_epoch_request
from .arguments import MAX_COUNT
from .errors import EXIT_OK, UsageError
from .specs import AdamLike, as_usage_error, check_warmup_text

__all__ = ["run_steps"]


class _Loader:
    """Stands in for a DataLoader in :func:`hf_sched.budget.compute_budget` (len and drop_last)."""

    def __init__(self, num_batches: int, drop_last: bool) -> None:
        self.num_batches = num_batches
        self.drop_last = drop_last

    def __len__(self) -> int:
        return self.num_batches


def run_steps(args: argparse.Namespace) -> int:
    """``hf-sched steps``: the optimizer and warmup steps of a run, with the arithmetic shown."""
    from ..budget import compute_budget

    n, b, p, g = args.examples, args.batch_size, args.processes, args.grad_accum
    if n is None and args.max_steps is None:
        raise UsageError("give --examples (with --batch-size and --epochs) or --max-steps")
    if args.split_batches and b % p:
        raise UsageError(
            f"--batch-size {b} must be a multiple of --processes {p} with --split-batches "
            "(Accelerate splits every batch evenly across the processes)"
        )
    check_warmup_text(args.warmup)
    eff = b * g if args.split_batches and p > 1 else b * p * g
    given_max, given_warmup = _shown(args.max_steps), args.warmup  # as typed, for --json
    clock_lines, clock = _in_steps(args, eff)
    if n is None and is_epoch_request(args.warmup):
        raise UsageError(
            f"--warmup {args.warmup!r} is given in epochs, which needs the steps per epoch: "
            "give --examples (and --batch-size), or the warmup in steps"
        )
    lines: list[str] = list(clock_lines)
    num_batches = None
    if n is not None:
        if args.drop_last:
            num_batches = n // b
            lines.append(f"batches per epoch = floor({n:,} examples / {b} batch size) = {num_batches:,} (drop_last)")
            if num_batches == 0:
                raise UsageError(f"--examples {n} is fewer than --batch-size {b} with --drop-last: no full batch")
        else:
            num_batches = -(-n // b)
            lines.append(f"batches per epoch = ceil({n:,} examples / {b} batch size) = {num_batches:,}")
        if not args.split_batches and p > 1:
            per = num_batches // p if args.drop_last else -(-num_batches // p)
            if per < 1:
                raise UsageError(
                    f"--processes {p} is more than the {num_batches} batches of an epoch: "
                    "each process would get no batch"
                )
    try:
        budget = compute_budget(
            _Loader(num_batches, args.drop_last) if num_batches is not None else None,
            num_epochs=args.epochs,
            gradient_accumulation_steps=g,
            max_steps=args.max_steps,
            num_processes=p,
            dataloader_prepared=False,
            split_batches=args.split_batches,
            warmup=args.warmup,
            optimizer=AdamLike(args.beta2),
        )
    except (ValueError, TypeError) as exc:
        raise as_usage_error(exc, args.warmup) from None
    t, w = budget.num_training_steps, budget.num_warmup_steps
    ticks = 1 if (args.split_batches or p == 1) else p
    _check_counts(args, t, ticks, eff, budget.steps_per_epoch)
    explained = budget.explanation.splitlines()
    if args.max_steps is not None and num_batches is not None:
        # the run stops at max_steps; show the epoch arithmetic too, and how many epochs that is
        at = next((i for i, ln in enumerate(explained) if ln.startswith("optimizer steps per epoch")), None)
        spe = budget.steps_per_epoch
        if at is None or spe is None:  # a budget that stops at max_steps without counting epochs
            one = compute_budget(_Loader(num_batches, args.drop_last), num_epochs=1, gradient_accumulation_steps=g,
                                 num_processes=p, dataloader_prepared=False, split_batches=args.split_batches)
            spe = int(one.steps_per_epoch or 1)
            explained = explained[:1] + one.explanation.splitlines()[:2] + explained[1:]
            at = 2
        explained.insert(at + 1, f"epochs run = ceil({t:,} / {spe:,} steps per epoch) = {-(-t // spe):,} "
                                 "(the last one may be partial)")
    if args.warmup is not None and args.warmup.strip().lower() == "auto":
        raw = int(round(2.0 / (1.0 - args.beta2)))
        cap = f", capped at {t:,} training steps" if raw > t else ""
        explained[-1] += f": 2 / (1 - beta2={args.beta2:g}) = {raw:,}{cap}"
    lines.extend(explained)
    if args.split_batches and p > 1:
        per_proc = b // p
        lines.append(f"examples per optimizer step = {b} (split: {per_proc} per process) x {g} grad accum = {eff:,}")
    else:
        lines.append(f"examples per optimizer step = {b} batch size x {p} processes x {g} grad accum = {eff:,}")
    if clock is not None:
        unit, per = clock["unit"], clock["per_step"]
        clock.update(num_training=t * per, num_warmup=w * per)
        lines.append(f"training {unit} = {t:,} steps x {per:,} {unit} per step = {t * per:,}; warmup {unit} = "
                     f"{w:,} x {per:,} = {w * per:,}")
    accel = {
        "num_training_steps": t,
        "num_warmup_steps": w,
        "scheduler_steps_per_optimizer_step": ticks,
        "prepared_transformers_scheduler": {"num_training_steps": t * ticks, "num_warmup_steps": w * ticks},
    }
    if args.json:
        out = {
            "inputs": {
                "examples": n, "batch_size": b, "epochs": args.epochs, "grad_accum": g, "processes": p,
                "max_steps": given_max, "warmup": given_warmup, "drop_last": args.drop_last,
                "tokens_per_example": args.tokens_per_example,
                "split_batches": args.split_batches,
            },
            "num_batches": num_batches,
            **budget.to_dict(),
            "examples_per_optimizer_step": eff,
            "clock": clock,
            "trainer": {"num_training_steps": t, "num_warmup_steps": w},
            "accelerate": accel,
        }
        print(json.dumps(out, indent=2))
        return EXIT_OK
    print("\n".join(lines))
    print()
    print(f"Trainer          num_training_steps = {t:,}   num_warmup_steps = {w:,}")
    print("                 (the Trainer steps its scheduler once per optimizer step)")
    print(f"Accelerate loop  num_training_steps = {t:,}   num_warmup_steps = {w:,}")
    if ticks > 1:
        print(f"                 (AcceleratedScheduler calls scheduler.step() {ticks} times per optimizer step:")
        print("                 hf_sched.get_scheduler(..., accelerator=accelerator) accounts for it; a transformers")
        print(f"                 scheduler passed to accelerator.prepare needs num_training_steps = {t * ticks:,},")
        print(f"                 num_warmup_steps = {w * ticks:,})")
    else:
        why = "split_batches" if args.split_batches and p > 1 else "one process"
        print(f"                 (AcceleratedScheduler steps the scheduler once per optimizer step: {why})")
    return EXIT_OK


def _shown(value: Any) -> Any:
    """A count as JSON: an amount as ``"200000000 tokens"``."""
    return f"{value.value} {value.unit}" if isinstance(value, Amount) else value


def _in_steps(args: argparse.Namespace, eff: int) -> tuple[list[str], dict[str, Any] | None]:
    """Amounts in tokens/samples (``--max-steps``, ``--warmup``) as optimizer steps, in place on ``args``.

    A step takes ``eff`` examples, ``eff * --tokens-per-example`` tokens. Returns the arithmetic's
    lines and the clock (``None`` when neither flag is an amount and no ``--tokens-per-example``).
    """
    amounts = {flag: a for flag, a in (("--max-steps", args.max_steps),
                                       ("--warmup", parse_amount(args.warmup, "--warmup"))) if a is not None}
    amounts = {k: a for k, a in amounts.items() if isinstance(a, Amount)}
    units = {a.unit for a in amounts.values()}
    if len(units) > 1:
        raise UsageError(f"--max-steps {_shown(args.max_steps)!r} and --warmup {args.warmup!r} are in different units: "
                         "a run has one clock")
    tpe = args.tokens_per_example
    unit = units.pop() if units else ("tokens" if tpe is not None else None)
    if unit is None:
        return [], None
    if unit == "tokens" and tpe is None:
        flag, a = next(iter(amounts.items()))
        raise UsageError(f"{flag} '{a.value:,} tokens' is in tokens: give --tokens-per-example K (the mean real tokens "
                         "of an example) to count the optimizer steps it takes")
    per = eff * tpe if unit == "tokens" else eff
    how = f"{tpe:,} tokens per example x {eff:,} examples" if unit == "tokens" else f"{eff:,} examples"
    lines = [f"{unit} per optimizer step = {how} = {per:,}"]
    if per > MAX_COUNT:
        raise UsageError(f"--tokens-per-example {tpe:,} x {eff:,} examples per step = {per:.4g} tokens per step, at or "
                         "above 2**53: give smaller counts")
    for flag, a in amounts.items():
        steps = -(-a.value // per)
        lines.append(f"{flag} {a.value:,} {unit} = ceil({a.value:,} / {per:,}) = {steps:,} optimizer steps"
                     + (" (a clock in tokens follows what the steps really hold)" if unit == "tokens" else ""))
        if flag == "--max-steps":
            args.max_steps = steps
        else:
            args.warmup = str(steps)
    return lines, {"unit": unit, "per_step": per}


def _check_counts(args: argparse.Namespace, t: int, ticks: int, eff: int, spe: int | None) -> None:
    """Refuse a run whose computed counts reach ``2**53`` (the cap on every count the CLI prints)."""
    if t > MAX_COUNT:
        if args.max_steps is None and spe is not None:
            why = f"--epochs {args.epochs:g} x {spe:,} optimizer steps per epoch"
        else:
            why = "the given counts"
        raise UsageError(
            f"{why} is a run of {t:.4g} optimizer steps; runs must be below 2**53 "
            f"({MAX_COUNT + 1:,}) steps: give fewer --epochs or --max-steps"
        )
    if t * ticks > MAX_COUNT:
        raise UsageError(
            f"--processes {args.processes:,}: a transformers scheduler prepared by Accelerate would need "
            f"{args.processes:,} x {t:,} = {t * ticks:.4g} scheduler steps, at or above 2**53 ({MAX_COUNT + 1:,}): "
            "give fewer --processes or a shorter run"
        )
    if eff > MAX_COUNT:
        raise UsageError(
            f"--batch-size {args.batch_size:,} x --processes {args.processes:,} x --grad-accum {args.grad_accum:,} "
            f"= {eff:.4g} examples per optimizer step, at or above 2**53 ({MAX_COUNT + 1:,}): give smaller counts"
        )
