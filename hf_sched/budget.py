"""The step budget: how many optimizer steps a run really takes, and its warmup.

With ``B`` batches per process per epoch (``len`` of a prepared dataloader, else ``ceil(len / N)``
for ``N`` processes, ``floor`` with ``drop_last``, ``len`` with ``split_batches``) and accumulation
``G``: steps per epoch ``E = max(1, ceil(B / G))``, ``T = max_steps`` or ``ceil(epochs * E)``.

>>> training_steps(num_batches=100, num_epochs=3, gradient_accumulation_steps=3)
102
"""

from __future__ import annotations

import math
import numbers
from dataclasses import dataclass
from typing import Any

from .checks import check_float, check_int
from .warmup import UNBOUNDED_STEPS, epochs_to_steps, is_epoch_request, resolve_warmup

__all__ = [
    "StepBudget", "batches_per_process", "compute_budget", "examples_per_step", "has_len", "is_prepared_dataloader",
    "kwargs_in_steps", "run_steps", "steps_per_epoch", "total_without_one", "training_steps"
]


def is_prepared_dataloader(dataloader: Any) -> bool:
    """True if ``dataloader`` was returned by ``accelerator.prepare`` (already per-process)."""
    return any(c.__name__ == "DataLoaderStateMixin" for c in type(dataloader).__mro__)


def batches_per_process(num_batches: int, *, num_processes: int = 1, prepared: bool = False,
                        split_batches: bool = False, drop_last: bool = False) -> int:
    """Batches each process sees per epoch (Accelerate's sharding, ``even_batches=True``).

    >>> batches_per_process(7, num_processes=2), batches_per_process(7, num_processes=2, drop_last=True)
    (4, 3)
    """
    num_batches = check_int("num_batches (len(dataloader))", num_batches, minimum=0)
    n = check_int("num_processes", num_processes, minimum=1)
    if prepared or split_batches or n == 1:
        return num_batches
    return num_batches // n if drop_last else -(-num_batches // n)


def steps_per_epoch(batches: int, gradient_accumulation_steps: int = 1) -> int:
    """Optimizer steps per epoch: ``max(1, ceil(batches / G))``.

    >>> steps_per_epoch(10, 3)
    4
    """
    g = check_int("gradient_accumulation_steps", gradient_accumulation_steps, minimum=1)
    return max(1, -(-batches // g))


@dataclass(frozen=True)
class StepBudget:
    """The resolved budget of a run, with the arithmetic that led to it.

    >>> b = compute_budget(num_batches=63, num_epochs=1.5, gradient_accumulation_steps=2)
    >>> b.num_training_steps, b.steps_per_epoch, b.num_warmup_steps
    (48, 32, 5)
    """

    num_training_steps: int
    num_warmup_steps: int
    steps_per_epoch: int | None
    batches_per_process: int | None
    num_epochs: float | None
    explanation: str

    def to_dict(self) -> dict[str, Any]:
        """Plain types, for JSON."""
        return dict(self.__dict__)


def _resolve(dataloader: Any, num_batches: int | None, num_epochs: float | None, gradient_accumulation_steps: int,
             max_steps: int | None, num_processes: int, dataloader_prepared: bool | None,
             split_batches: bool) -> tuple[int, int | None, int | None, list[str]]:
    lines: list[str] = []
    has_max = max_steps is not None and max_steps != -1
    if has_max:
        t = check_int("max_steps", max_steps, minimum=1)
        lines.append(f"max_steps = {t} (overrides epochs)")
        # steps per epoch still matter for warmup in epochs, when the data has a length
        if num_batches is None and (dataloader is None or not has_len(dataloader)):
            return t, None, None, lines
    elif dataloader is None and num_batches is None:
        raise ValueError("cannot compute the number of training steps: pass num_training_steps, max_steps, "
                         "or a dataloader (or num_batches) with num_epochs")
    drop_last = False
    if dataloader is not None:
        if num_batches is not None:
            raise ValueError("give either dataloader or num_batches, not both")
        if not has_len(dataloader):
            raise ValueError(f"the dataloader ({type(dataloader).__name__}) has no length (an IterableDataset?): "
                             "pass max_steps to say how many optimizer steps the run takes")
        num_batches = len(dataloader)
        if dataloader_prepared is None:
            dataloader_prepared = is_prepared_dataloader(dataloader)
        drop_last = bool(getattr(dataloader, "drop_last", False))
    num_batches = check_int("num_batches (len(dataloader))", num_batches, minimum=1)
    epochs = check_float("num_epochs", 1.0 if num_epochs is None else num_epochs, minimum=0.0, min_inclusive=False)
    b = batches_per_process(num_batches, num_processes=num_processes, prepared=bool(dataloader_prepared),
                            split_batches=split_batches, drop_last=drop_last)
    if b < 1:
        raise ValueError(f"the dataloader has {num_batches} batches, fewer than num_processes={num_processes}: "
                         "each process would get no batch")
    spe = steps_per_epoch(b, gradient_accumulation_steps)
    if dataloader_prepared:
        lines.append(f"batches per process per epoch = len(prepared dataloader) = {b}")
    elif split_batches or num_processes == 1:
        why = "split_batches" if split_batches and num_processes > 1 else "one process"
        lines.append(f"batches per process per epoch = {num_batches} ({why})")
    else:
        op = "floor" if drop_last else "ceil"
        lines.append(f"batches per process per epoch = {op}({num_batches} / {num_processes} processes) = {b}")
    lines.append(f"optimizer steps per epoch = max(1, ceil({b} / {gradient_accumulation_steps} grad accum)) = {spe}")
    if has_max:
        return t, spe, b, lines
    t = math.ceil(epochs * spe)
    lines.append(f"training steps = ceil({epochs:g} epochs * {spe}) = {t}")
    return t, spe, b, lines


def has_len(dataloader: Any) -> bool:
    """Whether ``len(dataloader)`` works (an ``IterableDataset``'s loader or a streaming dataset has none).

    >>> has_len([1, 2]), has_len(iter([1, 2]))
    (True, False)
    """
    try:
        len(dataloader)
    except TypeError:
        return False
    return True


def training_steps(dataloader: Any = None, *, num_batches: int | None = None, num_epochs: float | None = 1.0,
                   gradient_accumulation_steps: int = 1, max_steps: int | None = None, num_processes: int = 1,
                   dataloader_prepared: bool | None = None, split_batches: bool = False) -> int:
    """The exact number of optimizer steps of a run: ``max_steps``, or ``ceil(epochs * E)`` (module docs).

    >>> training_steps(num_batches=125, num_epochs=2, gradient_accumulation_steps=4, num_processes=2)
    32
    """
    return _resolve(dataloader, num_batches, num_epochs, gradient_accumulation_steps, max_steps, num_processes,
                    dataloader_prepared, split_batches)[0]


def compute_budget(dataloader: Any = None, *, num_batches: int | None = None, num_epochs: float | None = 1.0,
                   gradient_accumulation_steps: int = 1, max_steps: int | None = None, num_processes: int = 1,
                   dataloader_prepared: bool | None = None, split_batches: bool = False, warmup: Any = None,
                   optimizer: Any = None) -> StepBudget:
    """:func:`training_steps` plus the warmup steps, with the arithmetic spelled out.

    ``warmup`` is any :func:`hf_sched.warmup.resolve_warmup` request (epochs in this budget's ``E``).

    >>> print(compute_budget(num_batches=10, num_epochs=1).explanation)
    batches per process per epoch = 10 (one process)
    optimizer steps per epoch = max(1, ceil(10 / 1 grad accum)) = 10
    training steps = ceil(1 epochs * 10) = 10
    warmup steps = 1 (request None -> default 10%)
    """
    t, spe, b, lines = _resolve(dataloader, num_batches, num_epochs, gradient_accumulation_steps, max_steps,
                                num_processes, dataloader_prepared, split_batches)
    w = resolve_warmup(warmup, t, optimizer, steps_per_epoch=spe)
    shown = "None -> default 10%" if warmup is None else repr(warmup)
    lines.append(f"warmup steps = {w} (request {shown})")
    epochs = None if spe is None or max_steps not in (None, -1) else float(1.0 if num_epochs is None else num_epochs)
    return StepBudget(t, w, spe, b, epochs, "\n".join(lines))


def run_steps(
    name: str, needs_total: bool, num_training_steps: int | None, *, dataloader: Any = None,
    num_batches: int | None = None, num_epochs: float | None = None, gradient_accumulation_steps: int = 1,
    max_steps: int | None = None, num_processes: int | None = None, split_batches: bool | None = None,
    dataloader_prepared: bool | None = None, steps_per_epoch: int | None = None, accelerator: Any = None,
) -> tuple[int | None, int | None]:
    """``(T, E)`` of ``get_scheduler``'s arguments: the run's optimizer steps and steps per epoch.

    ``T`` is ``num_training_steps``, :func:`training_steps` of the data, or ``None`` (no length, no
    ``max_steps``: only if not ``needs_total``). An ``accelerator`` gives processes and ``split_batches``.

    >>> run_steps("warmupcosine", True, None, num_batches=10, num_epochs=2, gradient_accumulation_steps=3)
    (8, 4)
    >>> run_steps("noam", False, None)
    (None, None)
    """
    if accelerator is not None:
        n = getattr(accelerator, "num_processes", None)
        if isinstance(n, bool) or not isinstance(n, numbers.Integral) or n < 1:
            raise TypeError("accelerator must be an accelerate.Accelerator (with num_processes >= 1), got an object "
                            f"of type {type(accelerator).__name__} (num_processes={n!r})")
        num_processes = int(n) if num_processes is None else num_processes
        split_batches = bool(getattr(accelerator, "split_batches", False)) if split_batches is None else split_batches
    if num_training_steps is not None:
        if dataloader is not None or num_batches is not None or max_steps is not None:
            raise ValueError(f"num_training_steps={num_training_steps!r} was given together with a "
                             "dataloader/num_batches/max_steps: give one or the other")
        return num_training_steps, steps_per_epoch
    no_len = dataloader is not None and not has_len(dataloader)
    if max_steps is None and (no_len or (dataloader is None and num_batches is None)):
        if needs_total:
            where = f"the dataloader ({type(dataloader).__name__}) has no length, so " if no_len else ""
            raise ValueError(f"schedule {name!r} needs the run's total steps: {where}pass max_steps (or "
                             "num_training_steps), or a dataloader with a length (or num_batches) with num_epochs. "
                             "Schedules that run without a total: constantlr, warmupconstant, inverse_sqrt, noam, "
                             "warmup_stable_decay (with num_stable_steps and num_decay_steps)")
        return None, steps_per_epoch
    t, spe, _, _ = _resolve(dataloader, num_batches, num_epochs, gradient_accumulation_steps, max_steps,
                            1 if num_processes is None else num_processes, dataloader_prepared, bool(split_batches))
    return t, spe if steps_per_epoch is None else steps_per_epoch


def kwargs_in_steps(kwargs: dict[str, Any], steps_per_epoch: int | None) -> dict[str, Any]:
    """Schedule arguments with ``"2ep"`` entries of ``milestones``, ``num_stable_steps``, ``num_decay_steps`` in steps.

    >>> kwargs_in_steps({"milestones": ["1ep", 30], "gamma": 0.5}, 20)
    {'milestones': [20, 30], 'gamma': 0.5}
    """
    out = dict(kwargs)
    value = out.get("milestones")
    if isinstance(value, (list, tuple)) and any(is_epoch_request(m) for m in value):
        out["milestones"] = [epochs_to_steps(m, steps_per_epoch, name=f"milestones[{i}]") if is_epoch_request(m)
                             else m for i, m in enumerate(value)]
    for key in ("num_stable_steps", "num_decay_steps"):
        if is_epoch_request(out.get(key)):
            out[key] = epochs_to_steps(out[key], steps_per_epoch, name=key)
    return out


def total_without_one(name: str, warmup: int, kwargs: dict[str, Any]) -> int:
    """The total of a run built without one: unbounded, or WSD's warmup + stable + decay steps.

    >>> total_without_one("warmup_stable_decay", 10, {"num_stable_steps": 80, "num_decay_steps": 20})
    110
    """
    if name != "warmup_stable_decay":
        return UNBOUNDED_STEPS
    stable, decay = kwargs.get("num_stable_steps"), kwargs.get("num_decay_steps")
    if stable is None or decay is None:
        raise ValueError("warmup_stable_decay without num_training_steps needs num_stable_steps and num_decay_steps "
                         f"(got num_stable_steps={stable!r}, num_decay_steps={decay!r}), as in transformers")
    for key, value in {"num_stable_steps": stable, "num_decay_steps": decay}.items():
        if isinstance(value, bool) or not isinstance(value, numbers.Integral) or value < 0:
            raise ValueError(f"warmup_stable_decay without num_training_steps needs {key} as an integer >= 0, got {value!r}")
    return warmup + int(stable) + int(decay)


def examples_per_step(dataloader: Any, *, gradient_accumulation_steps: int = 1, num_processes: int | None = None,
                      split_batches: bool | None = None, accelerator: Any = None) -> int | None:
    """The global batch in examples of one optimizer step, or ``None`` when the loader does not say.

    ``b * N * G``: ``b`` the loader's ``batch_size`` (``b * N`` is Accelerate's ``total_batch_size``
    of a prepared loader), ``N`` the processes (1 with ``split_batches``), ``G`` the accumulation.

    >>> import torch
    >>> examples_per_step(torch.utils.data.DataLoader(range(100), batch_size=8), gradient_accumulation_steps=2,
    ...                   num_processes=2)
    32
    """
    g = check_int("gradient_accumulation_steps", gradient_accumulation_steps, minimum=1)
    total = getattr(dataloader, "total_batch_size", None) if is_prepared_dataloader(dataloader) else None
    if isinstance(total, numbers.Integral) and not isinstance(total, bool) and int(total) > 0:
        return int(total) * g
    if accelerator is not None:
        num_processes = getattr(accelerator, "num_processes", 1) if num_processes is None else num_processes
        split_batches = bool(getattr(accelerator, "split_batches", False)) if split_batches is None else split_batches
    b = getattr(dataloader, "batch_size", None)
    if b is None:
        b = getattr(getattr(dataloader, "batch_sampler", None), "batch_size", None)
    if isinstance(b, bool) or not isinstance(b, numbers.Integral) or int(b) < 1:
        return None
    n = 1 if split_batches or num_processes is None else check_int("num_processes", num_processes, minimum=1)
    return int(b) * n * g
