"""``SchedulerName``: a schedule name that is a ``str`` and also looks like transformers' ``SchedulerType``.

``TrainingArguments.lr_scheduler_type`` is a ``SchedulerType`` enum in transformers, and code
around the Trainer reads ``args.lr_scheduler_type.value`` (the model card) or compares it with
the enum (metric-driven schedules). hf_sched names are not enum members, so the arguments
mixin stores a :class:`SchedulerName` instead: equal to the enum for transformers' own names,
with ``.value``, and a plain ``str`` everywhere else (JSON, pickles, ``to_dict``).

>>> SchedulerName.parse("hard-restarts"), SchedulerName.parse("hard-restarts").value
('warmupcosinewithhardrestarts', 'warmupcosinewithhardrestarts')
"""

from __future__ import annotations

import functools
from typing import Any

from ..registry import canonical_name, normalize_name

__all__ = ["SchedulerName", "transformers_names"]


@functools.lru_cache(maxsize=1)
def transformers_names() -> dict[str, str]:
    """transformers' ``SchedulerType`` values, keyed by their normalised spelling."""
    from transformers.trainer_utils import SchedulerType

    return {normalize_name(t.value): t.value for t in SchedulerType}


class SchedulerName(str):
    """A schedule name stored in ``TrainingArguments.lr_scheduler_type``.

    A plain ``str`` (it compares, hashes, pickles and serialises as one) that also has the
    ``.value`` of transformers' ``SchedulerType`` enum, which ``transformers.modelcard``
    and other code read. Transformers' own names keep their spelling (``"linear"``,
    ``"reduce_lr_on_plateau"``), so the Trainer's checks against ``SchedulerType`` still
    match; other names are stored in their canonical form (``"hard-restarts"`` ->
    ``"warmupcosinewithhardrestarts"``).

    >>> from transformers.trainer_utils import SchedulerType
    >>> SchedulerName.parse("Warmup-Cosine"), SchedulerName.parse("cosine").value
    ('warmupcosine', 'cosine')
    >>> SchedulerName.parse("reduce_lr_on_plateau") == SchedulerType.REDUCE_ON_PLATEAU
    True
    """

    __slots__ = ()

    @property
    def value(self) -> str:
        """The name as a plain ``str`` (what ``SchedulerType.value`` gives)."""
        return str.__str__(self)

    @property
    def canonical(self) -> str:
        """The registry's canonical name (``"linear"`` -> ``"warmuplinear"``)."""
        return canonical_name(self.value)

    @classmethod
    def parse(cls, name: Any) -> "SchedulerName":
        """Validate ``name`` (a str or a ``SchedulerType``) and return its stored form.

        Raises ``ValueError`` naming ``lr_scheduler_type``, the value, the closest match
        and every available name.
        """
        try:
            key = normalize_name(name)
            canonical = canonical_name(name)
        except (TypeError, ValueError) as exc:
            raise ValueError(f"lr_scheduler_type={name!r} is invalid: {exc}") from None
        return cls(transformers_names().get(key, canonical))

    def __repr__(self) -> str:
        return repr(self.value)

    def __reduce__(self) -> tuple[Any, tuple[str]]:
        return (SchedulerName, (self.value,))
