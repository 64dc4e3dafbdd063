"""The arms of schedule study v2: what optimizer, which schedule, which warmup, at which peak LRs.

An **arm** is one way to train; with a peak LR and a seed it makes one run. Every arm uses
AdamW (betas 0.9/0.999, eps 1e-8) with no weight decay on biases and LayerNorm weights and
gradient clipping at 1.0; they differ in:

=================  ===============================================================  =============
arm                optimizer and LR over steps ``s = 0 .. T-1``                     peak LRs
=================  ===============================================================  =============
trainer-default    what ``transformers.Trainer`` does with no flags: linear decay     5e-5 only
                   ``peak * (T - s) / T``, no warmup, weight decay 0.0
constant           no scheduler: ``peak`` at every step                              all
warmupconstant     linear warmup over ``W = ceil(T / 10)`` steps, then ``peak``       all
warmuplinear       warmup, then linear decay to 0                                     all
warmupcosine       warmup, then half a cosine to 0                                    all
wsd                warmup, flat at ``peak``, cosine decay over the last 10% of steps  all
schedulefree       ``schedulefree.AdamWScheduleFree`` with ``warmup_steps = W``, no   all
                   scheduler; evaluated in its ``eval()`` mode (averaged weights)
=================  ===============================================================  =============

All but ``trainer-default`` use weight decay 0.01 (the first study's setting).

>>> [a.name for a in ARMS.values()][:3], ARMS["trainer-default"].lrs
(['trainer-default', 'constant', 'warmupconstant'], (5e-05,))
>>> [(a, lr) for a, lr in arm_lrs(["trainer-default", "wsd"], [5e-5, 2e-4])]
[('trainer-default', 5e-05), ('wsd', 5e-05), ('wsd', 0.0002)]
"""

from __future__ import annotations

import math
from dataclasses import dataclass
from typing import Any, Callable, Sequence

__all__ = ["Arm", "ARMS", "TRAINER_DEFAULT", "SCHEDULE_FREE", "PRIORITY", "check_arms", "arm_lrs", "by_priority",
           "builder", "warmup_steps"]

TRAINER_DEFAULT = "trainer-default"
SCHEDULE_FREE = "schedulefree"


@dataclass(frozen=True)
class Arm:
    """One way to train.

    Attributes:
        name: the arm's label in tables and plots.
        schedule: a registry schedule name, or ``None`` for no scheduler (fixed LR, or
            schedule-free AdamW, which schedules itself).
        optimizer: ``"adamw"`` (``torch.optim.AdamW``) or ``"schedulefree"``
            (``schedulefree.AdamWScheduleFree``).
        warmup: warmup steps passed to the schedule (``0`` = none), or ``None`` for the
            registry default (10% of the steps, rounded up).
        weight_decay: AdamW weight decay (not on biases / LayerNorm weights).
        lrs: the only peak LRs this arm runs at, or ``None`` for every LR of the study.
    """

    name: str
    schedule: str | None
    optimizer: str = "adamw"
    warmup: int | None = None
    weight_decay: float = 0.01
    lrs: tuple[float, ...] | None = None


ARMS: dict[str, Arm] = {a.name: a for a in (
    Arm(TRAINER_DEFAULT, "linear", warmup=0, weight_decay=0.0, lrs=(5e-5,)),
    Arm("constant", None),
    Arm("warmupconstant", "warmupconstant"),
    Arm("warmuplinear", "warmuplinear"),
    Arm("warmupcosine", "warmupcosine"),
    Arm("wsd", "wsd"),
    Arm(SCHEDULE_FREE, None, optimizer="schedulefree"),
)}


def check_arms(names: Sequence[str]) -> list[str]:
    """The arm names, deduplicated in order.

    Raises:
        ValueError: an unknown arm; the message lists the known ones.

    >>> check_arms(["wsd", "constant", "wsd"])
    ['wsd', 'constant']
    """
    unknown = [n for n in names if n not in ARMS]
    if unknown:
        raise ValueError(f"arm(s) {unknown} unknown; the arms are: {', '.join(ARMS)}")
    return list(dict.fromkeys(names))


def arm_lrs(arms: Sequence[str], lrs: Sequence[float]) -> list[tuple[str, float]]:
    """``(arm, peak LR)`` pairs, LR-major: for each LR of ``lrs``, each arm that runs at it, in order.

    An arm with its own ``lrs`` (the Trainer default: 5e-5) runs at those of its LRs that are
    in ``lrs``, or at its first one when none is.
    """
    lrs = [float(x) for x in dict.fromkeys(lrs)]
    pairs: list[tuple[str, float]] = []
    for name in arms:
        own = ARMS[name].lrs
        if own is not None and not any(x in lrs for x in own):
            pairs.append((name, own[0]))
    for lr in lrs:
        pairs += [(name, lr) for name in arms if ARMS[name].lrs is None or lr in ARMS[name].lrs]
    return pairs


#: The order in which one seed's (arm, LR) pairs run, so that a study stopped early holds the
#: comparisons it is about: the Trainer default, the first study's best (warmupcosine at 2e-4)
#: and schedule-free, a constant LR, the main job's current default (warmupcosine at 5e-5), then
#: the rest. Pairs not listed run after these, in their :func:`arm_lrs` order.
PRIORITY: tuple[tuple[str, float], ...] = (
    (TRAINER_DEFAULT, 5e-5), ("warmupcosine", 2e-4), (SCHEDULE_FREE, 2e-4), ("constant", 2e-4),
    ("warmupcosine", 5e-5), (SCHEDULE_FREE, 5e-5), ("wsd", 2e-4), ("warmuplinear", 2e-4), ("constant", 5e-5),
    ("wsd", 5e-5), ("warmuplinear", 5e-5), ("warmupconstant", 2e-4), ("warmupconstant", 5e-5),
)


def by_priority(pairs: Sequence[tuple[str, float]]) -> list[tuple[str, float]]:
    """``pairs`` in :data:`PRIORITY` order; pairs not in it follow, in the order given.

    >>> by_priority([("wsd", 5e-5), ("constant", 1e-3), ("trainer-default", 5e-5)])
    [('trainer-default', 5e-05), ('wsd', 5e-05), ('constant', 0.001)]
    """
    rank = {pair: i for i, pair in enumerate(PRIORITY)}
    order = sorted(range(len(pairs)), key=lambda i: (rank.get((pairs[i][0], float(pairs[i][1])), len(rank)), i))
    return [pairs[i] for i in order]


def warmup_steps(total: int) -> int:
    """The study's default warmup: ``ceil(T / 10)`` steps (the registry's default), for schedule-free too.

    >>> warmup_steps(375), warmup_steps(3)
    (38, 1)
    """
    return -(-int(total) // 10)


def builder(arm: Arm, lr: float) -> Callable[[Any, int], tuple[Any, Any, dict[str, Any]]]:
    """``build(model, total)`` for :func:`study.loop.train_run`: the arm's optimizer, scheduler and record info.

    The info holds ``optimizer``, ``weight_decay``, ``schedule_spec`` (the registry spec, or
    ``None``) and ``num_warmup_steps``.
    """

    def build(model: Any, total: int) -> tuple[Any, Any, dict[str, Any]]:
        from hf_sched import get_scheduler
        from hf_sched.optim import param_groups

        groups = param_groups(model, weight_decay=arm.weight_decay, lr=lr)
        info: dict[str, Any] = {"optimizer": arm.optimizer, "weight_decay": arm.weight_decay}
        if arm.optimizer == "schedulefree":
            from schedulefree import AdamWScheduleFree

            warm = warmup_steps(total)
            optimizer = AdamWScheduleFree(groups, lr=lr, warmup_steps=warm)
            return optimizer, None, {**info, "schedule_spec": None, "num_warmup_steps": warm}
        import torch

        optimizer = torch.optim.AdamW(groups, lr=lr)
        if arm.schedule is None:
            return optimizer, None, {**info, "schedule_spec": None, "num_warmup_steps": 0}
        scheduler = get_scheduler(arm.schedule, optimizer, num_training_steps=total, num_warmup_steps=arm.warmup)
        spec = scheduler.schedules[0].to_dict()
        return optimizer, scheduler, {**info, "schedule_spec": spec,
                                      "num_warmup_steps": int(spec.get("num_warmup_steps", 0))}

    if arm.optimizer not in ("adamw", "schedulefree"):
        raise ValueError(f"arm {arm.name!r}: optimizer={arm.optimizer!r} is invalid: use 'adamw' or 'schedulefree'")
    if not (isinstance(lr, (int, float)) and not isinstance(lr, bool) and math.isfinite(lr) and lr > 0):
        raise ValueError(f"lr={lr!r} is invalid: it must be a positive finite number")
    return build
