"""Counting optimizer steps when the optimizer is stepped one param group at a time.

DeepSpeed's ZeRO optimizers call the torch optimizer's ``step()`` once per param group (stage
1/2: ``param_groups = [group_i]``; stage 3: every other group's ``params`` emptied). Here each
group's steps are counted: group ``g`` trains its ``k``-th step at ``base_g * f_g(k - 1)``, the
scheduler's step is the largest count. A group stepped in parts (ZeRO-3 sub-groups) is warned.

>>> groups = [{"params": [1], "lr": 0.0}, {"params": [2], "lr": 0.0}]
>>> protocol_of(groups, 2), protocol_of(groups[:1], 2), protocol_of([{"params": []}, {"params": [7]}], 2)
('whole', 'per_group', 'per_group')
"""

from __future__ import annotations

import warnings
from collections.abc import Sequence
from typing import Any

__all__ = ["PARTS_WARNING", "PER_GROUP", "WHOLE", "GroupStepCounter", "protocol_of", "tensor_ids"]

#: every ``step()`` call steps every group: one call is one training step
WHOLE = "whole"
#: each ``step()`` call steps some of the groups (DeepSpeed ZeRO): count per group
PER_GROUP = "per_group"

PARTS_WARNING = (
    "param group {group} of the optimizer was stepped in parts (different tensors in successive step() calls): "
    "DeepSpeed ZeRO-3 splits a group larger than zero_optimization.sub_group_size into sub-groups and steps "
    "each one, so hf_sched counts more optimizer steps than were taken and the schedule runs ahead. Set "
    "sub_group_size above the largest param group's size (e.g. 1e9, DeepSpeed's default) or build the "
    "scheduler with interval='epoch' and call step() once per training step"
)


def protocol_of(groups: Sequence[dict[str, Any]], num_groups: int) -> str:
    """How the optimizer is being stepped, judged in the post-hook of its first ``step()``.

    Fewer groups than ``num_groups`` (ZeRO 1/2), or exactly one of several with parameters (ZeRO-3),
    is :data:`PER_GROUP`; anything else :data:`WHOLE`.
    """
    if len(groups) < num_groups:
        return PER_GROUP
    if num_groups > 1 and sum(1 for g in groups if g["params"]) == 1:
        return PER_GROUP
    return WHOLE


def tensor_ids(groups: Sequence[dict[str, Any]]) -> tuple[int, ...]:
    """The identities of the tensors in ``groups`` (what one ``step()`` call stepped).

    >>> a, b = object(), object()
    >>> tensor_ids([{"params": [a]}]) == tensor_ids([{"params": [a]}]) != tensor_ids([{"params": [b]}])
    True
    """
    return tuple(id(p) for g in groups for p in g["params"])


class GroupStepCounter:
    """Per-group step counts for an optimizer stepped group by group.

    ``groups``: the full ``param_groups`` (matched by identity); ``start``: steps already taken.

    >>> g0, g1 = {"params": [1], "lr": 0.0}, {"params": [2], "lr": 0.0}
    >>> c = GroupStepCounter([g0, g1], start=0)
    >>> [i for i, _ in c.step([g0])], c.counts, c.in_step     # ZeRO 1/2: one group per call
    ([0], [1, 0], True)
    >>> [i for i, _ in c.step([g1])], c.counts, c.count, c.in_step
    ([1], [1, 1], 1, False)
    """

    def __init__(self, groups: Sequence[dict[str, Any]], start: int) -> None:
        self._index = {id(g): i for i, g in enumerate(groups)}
        self.counts = [int(start)] * len(groups)
        self._tensors: list[tuple[int, ...] | None] = [None] * len(groups)
        self._warned = False

    @property
    def count(self) -> int:
        """The scheduler's step: the most steps any group has taken."""
        return max(self.counts)

    @property
    def in_step(self) -> bool:
        """Whether some groups have stepped and others not yet (inside one training step)."""
        return min(self.counts) != max(self.counts)

    def step(self, groups: Sequence[dict[str, Any]]) -> list[tuple[int, dict[str, Any]]]:
        """Count a ``step()`` call that stepped the active ones of ``groups``; return ``(index, group)`` of each."""
        stepped = []
        for group in groups:
            if not group["params"]:
                continue
            i = self._index.get(id(group))
            if i is None:
                raise RuntimeError("the optimizer stepped a param group that is not one of those the scheduler was "
                                   f"built for ({len(self.counts)} groups): build the scheduler after the optimizer's "
                                   "groups are final (after accelerator.prepare / deepspeed.initialize)")
            ids = tensor_ids([group])
            seen = self._tensors[i]
            if seen is None:
                self._tensors[i] = ids
            elif seen != ids and not self._warned:
                self._warned = True
                warnings.warn(PARTS_WARNING.format(group=i), RuntimeWarning, stacklevel=4)
            self.counts[i] += 1
            stepped.append((i, group))
        return stepped
