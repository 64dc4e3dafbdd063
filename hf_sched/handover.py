"""What hf_sched hands to a scheduler that is not its own: the warmup in steps, and LRs written in place.

Used where another part decides the LR (:mod:`hf_sched.schedule_free`,
:mod:`hf_sched.metric_schedulers`): the warmup request is resolved the way every hf_sched name
resolves it (:func:`hf_sched.warmup.resolve_warmup`), except that a run with no total
(``num_training_steps=None``) needs whole steps, and ``None`` means :data:`default`.

>>> handover_warmup("10%", 200, owner="'greedy'")
20
>>> handover_warmup(None, None, owner="'greedy'", default=0)
0
"""

from __future__ import annotations

import numbers
import warnings
from typing import Any

from .checks import check_int
from .warmup import resolve_warmup

__all__ = ["checkpoint_lrs", "checkpoint_warmup", "handover_warmup", "set_group_lr"]


def handover_warmup(request: Any, num_training_steps: int | None, optimizer: Any = None, *, owner: str,
                    default: int | None = None) -> int:
    """Warmup steps for ``request`` over ``num_training_steps`` (``None``: a run with no total).

    ``request=None`` gives ``default`` when it is set, else the 10% default of
    :func:`~hf_sched.warmup.resolve_warmup`. Errors start with ``warmup=<request> for <owner>``.

    >>> handover_warmup(7, None, owner="x")
    7
    """
    if request is None and default is not None:
        return default
    if num_training_steps is None:
        if isinstance(request, bool) or not isinstance(request, numbers.Integral):
            raise ValueError(
                f"warmup={request!r} for {owner} without num_training_steps: give the warmup as a whole number of "
                "optimizer steps (a ratio or percentage needs the run's total: pass num_training_steps, or a "
                "dataloader with num_epochs)"
            )
        return check_int("warmup", request, minimum=0)
    try:
        return resolve_warmup(request, num_training_steps, optimizer)
    except (TypeError, ValueError) as exc:
        raise ValueError(f"warmup={request!r} for {owner}: {exc}") from None


def set_group_lr(group: dict[str, Any], lr: float) -> None:
    """``group["lr"] = lr``; a tensor LR is filled in place (a compiled optimizer step does not recompile).

    >>> g = {"lr": 1.0}; set_group_lr(g, 0.5); g
    {'lr': 0.5}
    """
    cur = group["lr"]
    if hasattr(cur, "fill_"):
        cur.fill_(lr)
    else:
        group["lr"] = lr


def checkpoint_lrs(state: dict[str, Any], optimizer: Any) -> list[float]:
    """The inner LRs a checkpoint holds (``state["inner_lrs"]``), one per param group of ``optimizer``.

    >>> import torch
    >>> checkpoint_lrs({"inner_lrs": [0.5]}, torch.optim.SGD([torch.nn.Parameter(torch.zeros(1))], lr=1.0))
    [0.5]
    """
    lrs = [float(x) for x in state["inner_lrs"]]
    if len(lrs) != len(optimizer.param_groups):
        raise ValueError(f"the checkpoint has LRs for {len(lrs)} param groups, the optimizer has "
                         f"{len(optimizer.param_groups)}")
    return lrs


def checkpoint_warmup(state: dict[str, Any], mine: int, strict: bool, *, what: str = "warmup") -> int:
    """The warmup to resume with: ``state["num_warmup_steps"]`` if it equals ``mine``; else refuse, or warn and take it.

    >>> checkpoint_warmup({"num_warmup_steps": 4}, 4, True)
    4
    """
    theirs = check_int("num_warmup_steps", state.get("num_warmup_steps"), minimum=0)
    if theirs != mine:
        msg = f"the checkpoint's {what} is {theirs} steps, this run's {mine}"
        if strict:
            raise ValueError(msg + ": rebuild the same warmup, or load with strict=False to keep the checkpoint's")
        warnings.warn(msg + "; continuing with the checkpoint's (strict=False)", UserWarning, stacklevel=3)
    return theirs
