"""Where a recipe run stands in its data, in examples seen, and where a resumed run picks it up.

A run's place in its data is an epoch ``e`` and the examples ``k`` it has taken from that
epoch's order (``0 <= k < N``, ``N`` examples per epoch); **examples seen** are ``e * N + k``.
The recipe counts ``k`` from the micro-batches it drew: every process draws micro-batches of
``b`` examples (``b * P`` per micro-batch of the run over ``P`` processes; the batch itself with
``split_batches``), taken in the epoch's order one after another, so ``k = min(N, m * b * P)``
after ``m`` micro-batches per process (the last batch of an epoch may be short; an epoch drawn
to its end is ``(e + 1, 0)``).

A run resumed with other batches (other processes, per-device batch or gradient accumulation)
continues at the same examples seen, rounded down to a whole optimizer step of its own:
``m' = floor(k / (b' P'))`` micro-batches into epoch ``e``, less ``m' mod A'`` (``A'``
micro-batches per optimizer step), and its optimizer step is ``e * S' + m' / A'`` (``S'``
steps per epoch). Where that is not exactly the examples seen (the checkpoint lies inside
one of this run's optimizer steps), the examples in between are trained on again, and
:func:`resume_place` says so. Where the epoch's order itself differs (batches grouped by length
for another batch size, a dataset of another length), :func:`order_change` says so.

Example:
    >>> here = position_after(0, 8, examples_per_micro_batch=16, epoch_examples=250)
    >>> here.examples_seen, here.to_dict()["epoch"]
    (128, 0)
    >>> place = resume_place(here.examples_seen, epoch_examples=250, examples_per_micro_batch=32,
    ...                      gradient_accumulation_steps=2, steps_per_epoch=4)
    >>> place.epoch, place.skip, place.step, place.note is None
    (0, 4, 2, True)
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

__all__ = ["DataPosition", "ResumePlace", "position_after", "resume_place", "order_change", "place_resumed_run"]


def _count(name: str, value: Any, minimum: int) -> int:
    if isinstance(value, bool) or not isinstance(value, int) or value < minimum:
        raise ValueError(f"{name}={value!r} is invalid: it must be an integer >= {minimum}")
    return value


@dataclass(frozen=True)
class DataPosition:
    """Epoch ``epoch``, ``examples`` taken from its order, of ``epoch_examples`` per epoch.

    ``order`` holds what the epoch's order depends on besides the seed (the recipe records
    whether batches are grouped by length and the sampler's batch size).
    """

    epoch: int
    examples: int
    epoch_examples: int
    order: dict[str, Any]

    @property
    def examples_seen(self) -> int:
        """``epoch * epoch_examples + examples``: every example taken since the run began."""
        return self.epoch * self.epoch_examples + self.examples

    def to_dict(self) -> dict[str, Any]:
        """Plain JSON types, with ``examples_seen`` spelled out (the checkpoint's ``training_state.json``)."""
        return {"epoch": self.epoch, "examples": self.examples, "epoch_examples": self.epoch_examples,
                "examples_seen": self.examples_seen, "order": dict(self.order)}

    @classmethod
    def from_dict(cls, data: dict[str, Any]) -> DataPosition:
        """The inverse of :meth:`to_dict`; a field of the wrong kind raises ``ValueError`` naming it."""
        if not isinstance(data, dict):
            raise ValueError(f"data_position={data!r} is invalid: it must be a JSON object")
        order = data.get("order", {})
        if not isinstance(order, dict):
            raise ValueError(f"data_position['order']={order!r} is invalid: it must be a JSON object")
        position = cls(_count("data_position['epoch']", data.get("epoch"), 0),
                       _count("data_position['examples']", data.get("examples"), 0),
                       _count("data_position['epoch_examples']", data.get("epoch_examples"), 1), order)
        if position.examples >= position.epoch_examples:
            raise ValueError(f"data_position['examples']={position.examples} is invalid: it must be less than "
                             f"epoch_examples ({position.epoch_examples})")
        return position


def position_after(epoch: int, micro_batches: int, *, examples_per_micro_batch: int, epoch_examples: int,
                   order: dict[str, Any] | None = None) -> DataPosition:
    """The position after ``micro_batches`` micro-batches per process of epoch ``epoch``.

    ``k = min(N, micro_batches * examples_per_micro_batch)``; ``k = N`` is the next epoch's start.

    Example:
        >>> position_after(0, 16, examples_per_micro_batch=16, epoch_examples=250).to_dict()["epoch"]
        1
    """
    _count("epoch", epoch, 0)
    _count("micro_batches", micro_batches, 0)
    _count("examples_per_micro_batch", examples_per_micro_batch, 1)
    _count("epoch_examples", epoch_examples, 1)
    taken = min(epoch_examples, micro_batches * examples_per_micro_batch)
    if taken == epoch_examples:
        return DataPosition(epoch + 1, 0, epoch_examples, dict(order or {}))
    return DataPosition(epoch, taken, epoch_examples, dict(order or {}))


@dataclass(frozen=True)
class ResumePlace:
    """Where a resumed run starts: ``epoch``, ``skip`` micro-batches per process into it, at
    optimizer step ``step`` of its own budget, ``examples_seen`` examples in; ``note`` says why
    it is not exactly the checkpoint's examples seen (``None`` when it is)."""

    epoch: int
    skip: int
    step: int
    examples_seen: int
    note: str | None


def resume_place(examples_seen: int, *, epoch_examples: int, examples_per_micro_batch: int,
                 gradient_accumulation_steps: int, steps_per_epoch: int) -> ResumePlace:
    """Where a run with these batches continues a run that saw ``examples_seen`` examples.

    ``e, k = divmod(examples_seen, N)``, ``m = floor(k / b) - floor(k / b) mod A`` micro-batches
    in, step ``e * S + m / A``; it resumes at ``e * N + m * b`` examples seen.

    Example:
        >>> place = resume_place(160, epoch_examples=250, examples_per_micro_batch=32,
        ...                      gradient_accumulation_steps=2, steps_per_epoch=4)
        >>> place.step, place.skip, place.examples_seen
        (2, 4, 128)
        >>> print(place.note)  # doctest: +NORMALIZE_WHITESPACE
        the checkpoint's 160 examples seen lie inside an optimizer step of this run (64 examples per step):
        it continues from 128 examples seen (step 2), so 32 examples are trained on again
    """
    _count("examples_seen", examples_seen, 0)
    _count("epoch_examples", epoch_examples, 1)
    _count("examples_per_micro_batch", examples_per_micro_batch, 1)
    _count("gradient_accumulation_steps", gradient_accumulation_steps, 1)
    _count("steps_per_epoch", steps_per_epoch, 1)
    epoch, taken = divmod(examples_seen, epoch_examples)
    micro = taken // examples_per_micro_batch
    micro -= micro % gradient_accumulation_steps
    place = epoch * epoch_examples + micro * examples_per_micro_batch
    step = epoch * steps_per_epoch + micro // gradient_accumulation_steps
    note = None
    if place != examples_seen:
        note = (f"the checkpoint's {examples_seen} examples seen lie inside an optimizer step of this run "
                f"({examples_per_micro_batch * gradient_accumulation_steps} examples per step): it continues from "
                f"{place} examples seen (step {step}), so {examples_seen - place} examples are trained on again")
    return ResumePlace(epoch, micro, step, place, note)


def order_change(saved: DataPosition, epoch_examples: int, order: dict[str, Any]) -> str | None:
    """Why this run's epochs are ordered otherwise than the checkpoint's (``None``: the same order).

    ``order`` is what the order depends on besides the seed, as the run records it (the recipe:
    ``{"group_by_length": True, "batch_size": 16}``; a random order does not depend on the batch).

    Example:
        >>> saved = DataPosition(0, 128, 250, {"group_by_length": True, "batch_size": 16})
        >>> print(order_change(saved, 250, {"group_by_length": True, "batch_size": 8}))  # doctest: +NORMALIZE_WHITESPACE
        the epochs' order differs from the checkpoint's (batch_size: 16 -> 8), so from here this run's
        batches hold other examples than the interrupted run's would have
        >>> order_change(saved, 250, {"group_by_length": True, "batch_size": 16}) is None
        True
    """
    changes = [f"{key}: {saved.order.get(key)} -> {order.get(key)}"
               for key in sorted(set(order) | set(saved.order)) if saved.order.get(key) != order.get(key)]
    if epoch_examples != saved.epoch_examples:
        changes.append(f"examples per epoch: {saved.epoch_examples} -> {epoch_examples}")
    if not changes:
        return None
    return (f"the epochs' order differs from the checkpoint's ({', '.join(changes)}), so from here this run's "
            "batches hold other examples than the interrupted run's would have")


def place_resumed_run(state: dict[str, Any], *, epoch_examples: int, examples_per_micro_batch: int,
                      gradient_accumulation_steps: int, steps_per_epoch: int,
                      order: dict[str, Any]) -> tuple[ResumePlace, list[str]]:
    """Where a run with these batches continues a checkpoint's recipe state, and the notices to print.

    A state with a ``data_position`` is placed by its examples seen (:func:`resume_place`; the
    notices: a place inside one of this run's steps, an epoch order of its own). One without
    (an older recipe's, resumed with the same settings) is placed by its optimizer steps.

    Example:
        >>> state = {"completed_steps": 4, "data_position": {"epoch": 0, "examples": 128, "epoch_examples": 250}}
        >>> place, notes = place_resumed_run(state, epoch_examples=250, examples_per_micro_batch=32,
        ...                                  gradient_accumulation_steps=2, steps_per_epoch=4, order={})
        >>> place.step, place.skip, notes
        (2, 4, [])
    """
    if "data_position" not in state:
        steps = state["completed_steps"]
        epoch, skip = steps // steps_per_epoch, steps % steps_per_epoch * gradient_accumulation_steps
        here = position_after(epoch, skip, examples_per_micro_batch=examples_per_micro_batch,
                              epoch_examples=epoch_examples)
        return ResumePlace(epoch, skip, steps, here.examples_seen, None), []
    saved = DataPosition.from_dict(state["data_position"])
    place = resume_place(saved.examples_seen, epoch_examples=epoch_examples,
                         examples_per_micro_batch=examples_per_micro_batch,
                         gradient_accumulation_steps=gradient_accumulation_steps, steps_per_epoch=steps_per_epoch)
    return place, [note for note in (place.note, order_change(saved, epoch_examples, order)) if note]
