"""One fine-tuning run of a schedule study: a plain PyTorch loop that evaluates as it goes.

The loop is the same for every arm of both studies; what differs is what
``build(model, num_training_steps)`` returns: the optimizer (AdamW, or schedule-free
AdamW), the LR scheduler (or ``None``: a fixed LR) and what to record about them.

Per optimizer step ``s`` (1-based) the loop records the training loss and the LR that
step used (read before ``optimizer.step()``: hf_sched's scheduler moves the LR from an
optimizer step hook; for schedule-free AdamW its ``scheduled_lr``, its own warmup, which
the step sets). After each step in
:func:`evaluation_steps` it evaluates on the validation split. An optimizer that has
``eval()`` / ``train()`` (schedule-free AdamW) is switched to ``eval()`` before each
evaluation, so the model is evaluated at the averaged weights, and back to ``train()``
after it; the final accuracy therefore is that of the eval-mode weights.

Each evaluation row holds ``step``, ``epoch``, ``accuracy``, ``f1``, ``eval_loss``,
``train_s`` (seconds of training, evaluations excluded, up to this step) and ``wall_s``
(seconds since the run started: model load and earlier evaluations included).

>>> sorted(evaluation_steps(375, 125, 3, 25))[:3], len(evaluation_steps(375, 125, 3, 25))
([25, 50, 75], 15)
"""

from __future__ import annotations

import datetime as _dt
import math
import time
from typing import Any, Callable, Sequence

from .divergence import detect_divergence

__all__ = ["Built", "evaluation_steps", "sort_by_length", "evaluate", "utc_now", "train_run"]

#: What ``build(model, num_training_steps)`` returns: ``(optimizer, scheduler or None, info)``;
#: ``info`` (plain JSON types) is merged into the run's record (e.g. ``schedule_spec``,
#: ``num_warmup_steps``).
Built = tuple[Any, Any, dict[str, Any]]


def evaluation_steps(total: int, steps_per_epoch: int, epochs: int, eval_every: int | None) -> set[int]:
    """Optimizer steps after which a run evaluates (1-based).

    Every ``eval_every`` steps (default ``steps_per_epoch // 4``, i.e. 4 evaluations per
    epoch), at the end of every epoch and at the last step. For 125 steps per epoch that is
    steps 31, 62, 93, 124 and 125 (the first study's runs).

    >>> sorted(evaluation_steps(125, 125, 1, None)), sorted(evaluation_steps(10, 4, 3, 3))
    ([31, 62, 93, 124, 125], [3, 4, 6, 8, 9, 10])
    """
    every = eval_every or max(1, steps_per_epoch // 4)
    steps = set(range(every, total + 1, every)) | {total}
    steps |= {e * steps_per_epoch for e in range(1, epochs + 1)}
    return {s for s in steps if s <= total}


def sort_by_length(split: Any) -> Any:
    """The split ordered by token count, so evaluation batches carry little padding (metrics do not change)."""
    lengths = [len(ids) for ids in split["input_ids"]]
    return split.select(sorted(range(len(lengths)), key=lengths.__getitem__))


def utc_now() -> str:
    """The current UTC time, ISO 8601 to the second."""
    return _dt.datetime.now(_dt.timezone.utc).isoformat(timespec="seconds")


def _finite_or_none(value: float) -> float | None:
    return float(value) if value is not None and math.isfinite(float(value)) else None


def evaluate(model: Any, loader: Any, num_labels: int) -> tuple[dict[str, Any], list[int]]:
    """Accuracy, F1 (binary for 2 classes, macro otherwise) and mean loss over ``loader``; and the predictions."""
    import torch

    from hf_sched.finetune.metrics import compute_metrics

    model.eval()
    preds: list[int] = []
    refs: list[int] = []
    loss_sum, count = 0.0, 0
    with torch.no_grad():
        for batch in loader:
            out = model(**batch)
            n = int(batch["labels"].shape[0])
            loss_sum += float(out.loss) * n
            count += n
            preds += out.logits.argmax(dim=-1).tolist()
            refs += batch["labels"].tolist()
    model.train()
    scores = compute_metrics(preds, refs, num_labels=num_labels)
    return {**scores, "eval_loss": _finite_or_none(loss_sum / max(count, 1))}, preds


def _set_mode(optimizer: Any, mode: str) -> None:
    """``optimizer.train()`` / ``optimizer.eval()`` where the optimizer has them (schedule-free AdamW)."""
    switch = getattr(optimizer, mode, None)
    if callable(switch):
        switch()


def _step_lr(optimizer: Any, planned: float) -> float:
    """The LR a step used: ``planned`` (read before it), or schedule-free's own ``scheduled_lr`` (set by the step)."""
    own = [float(g["scheduled_lr"]) for g in optimizer.param_groups if "scheduled_lr" in g]
    return max(own) if own else planned


def train_run(
    *,
    seed: int,
    tokens: Any,
    model_source: str | None,
    num_labels: int,
    label_names: Sequence[str] | None,
    settings: dict[str, Any],
    build: Callable[[Any, int], Built],
    desc: str,
    progress: bool = True,
    on_eval: Callable[[dict[str, Any], int], None] | None = None,
) -> dict[str, Any]:
    """Fine-tune once and return the run's record.

    ``tokens`` is the tokenised ``DatasetDict`` (``train``/``validation``), or a callable that
    takes the tokenizer the run loads and returns it (tokenise once, on the first run).
    ``settings`` holds ``batch_size``, ``eval_batch_size``, ``epochs``, ``max_steps``,
    ``eval_every``, ``max_grad_norm`` and ``max_class_share``. ``on_eval(row, total)`` is
    called after every evaluation (for a progress line). The record holds the step counts,
    ``final`` / ``best`` metrics, every evaluation (``evals``), the majority fraction,
    divergence, the loss and LR of every step, threads, times and timestamps, plus ``info``.
    """
    import torch
    from torch.utils.data import DataLoader
    from transformers import DataCollatorWithPadding, set_seed

    from hf_sched.finetune.model import load_model_and_tokenizer

    started_at, t_start = utc_now(), time.perf_counter()
    set_seed(seed)
    model, tokenizer = load_model_and_tokenizer(model_source, num_labels, label_names=label_names)
    if callable(tokens):
        tokens = tokens(tokenizer)
    collator = DataCollatorWithPadding(tokenizer)
    generator = torch.Generator().manual_seed(seed)
    train_loader = DataLoader(tokens["train"], batch_size=settings["batch_size"], shuffle=True,
                              collate_fn=collator, generator=generator)
    eval_loader = DataLoader(tokens["validation"], batch_size=settings["eval_batch_size"], shuffle=False,
                             collate_fn=collator)
    steps_per_epoch = len(train_loader)
    total = steps_per_epoch * settings["epochs"]
    if settings["max_steps"] is not None:
        total = min(total, settings["max_steps"])
    eval_steps = evaluation_steps(total, steps_per_epoch, settings["epochs"], settings["eval_every"])
    optimizer, scheduler, info = build(model, total)
    load_time = time.perf_counter() - t_start

    from tqdm.auto import tqdm

    bar = tqdm(total=total, desc=desc, unit="step", leave=False, disable=None if progress else True)
    losses: list[float | None] = []
    lrs: list[float] = []
    evals: list[dict[str, Any]] = []
    last_preds: list[int] = []
    train_time = eval_time = 0.0
    step = 0
    stopped_early = False
    model.train()
    _set_mode(optimizer, "train")
    for _epoch in range(settings["epochs"]):
        if step >= total or stopped_early:
            break
        t0 = time.perf_counter()
        for batch in train_loader:
            loss = model(**batch).loss
            loss.backward()
            if settings["max_grad_norm"] > 0:
                torch.nn.utils.clip_grad_norm_(model.parameters(), settings["max_grad_norm"])
            planned = max(float(g["lr"]) for g in optimizer.param_groups)  # before hf_sched's step hook moves it
            optimizer.step()
            lrs.append(_step_lr(optimizer, planned))
            if scheduler is not None:
                scheduler.step()
            optimizer.zero_grad(set_to_none=True)
            value = float(loss.detach())
            losses.append(value if math.isfinite(value) else None)
            step += 1
            bar.update(1)
            bar.set_postfix(loss=f"{value:.4f}", lr=f"{lrs[-1]:.2g}")
            if not math.isfinite(value):
                stopped_early = True  # NaN weights from here on: nothing more to learn
            if step in eval_steps or stopped_early:
                train_time += time.perf_counter() - t0
                t1 = time.perf_counter()
                _set_mode(optimizer, "eval")
                scores, last_preds = evaluate(model, eval_loader, num_labels)
                _set_mode(optimizer, "train")
                eval_time += time.perf_counter() - t1
                row = {"step": step, "epoch": round(step / steps_per_epoch, 4), **scores,
                       "train_s": round(train_time, 3), "wall_s": round(time.perf_counter() - t_start, 3)}
                evals.append(row)
                if on_eval is not None:
                    on_eval(row, total)
                t0 = time.perf_counter()
            if step >= total or stopped_early:
                break
        train_time += time.perf_counter() - t0
    bar.close()

    labels = list(tokens["validation"]["labels"])
    majority = max(labels.count(k) for k in set(labels)) / len(labels)
    final = evals[-1]
    best_acc = max(evals, key=lambda e: e["accuracy"])
    best_f1 = max(evals, key=lambda e: e["f1"])
    divergence = detect_divergence(losses, last_preds, max_class_share=settings["max_class_share"])
    return {
        **info,
        "num_training_steps": total,
        "steps_per_epoch": steps_per_epoch,
        "steps_done": step,
        "final": {"accuracy": final["accuracy"], "f1": final["f1"], "eval_loss": final["eval_loss"],
                  "step": final["step"]},
        "best": {"accuracy": best_acc["accuracy"], "accuracy_step": best_acc["step"],
                 "f1": best_f1["f1"], "f1_step": best_f1["step"]},
        "evals": evals,
        "majority_fraction": majority,
        "diverged": divergence["diverged"],
        "divergence": divergence,
        "train_loss": [None if v is None else round(v, 6) for v in losses],
        "lr_curve": [float(f"{v:.6g}") for v in lrs],
        "threads": torch.get_num_threads(),
        "wall_time_s": round(time.perf_counter() - t_start, 3),
        "load_time_s": round(load_time, 3),
        "train_time_s": round(train_time, 3),
        "eval_time_s": round(eval_time, 3),
        "started_at": started_at,
        "finished_at": utc_now(),
    }
