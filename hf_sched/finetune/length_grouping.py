"""Length-grouped batches: examples of similar length share a batch, so little of it is padding.

With dynamic padding (``DataCollatorWithPadding``) every batch is padded to its longest
example. Random batches of 16 tweets are 39% padding (mean 33 real tokens, 54 after padding);
the model computes on the padding all the same. :class:`LengthGroupedSampler` orders an
epoch so that each run of ``batch_size`` consecutive indices holds examples of similar length,
keeping the randomness of a shuffle (the idea of the Trainer's ``group_by_length``):

1. a random permutation of the examples, seeded by ``(seed, epoch)``;
2. cut into megabatches of ``m * batch_size`` examples, ``m = min(megabatch_batches,
   max(1, n // (4 * batch_size)))`` (at least 4 megabatches where the data allows); the last
   one holds what is left (2,000 tweets in batches of 16: four of 496 and one of 16, whose one
   batch is as mixed as a random one and holds about a fifth of the epoch's padding, 3.3% of
   its tokens in all, measured with seed 0);
3. each megabatch sorted by length, longest first (ties keep the permutation's order);
4. the sorted sequence cut into batches of ``batch_size``; the full batches are shuffled
   (same generator), the one partial batch (``n % batch_size`` examples) stays last.

So an epoch holds every example exactly once and ``ceil(n / batch_size)`` batches, as a
random order does (the step budget does not change), and the same ``(seed, epoch)`` gives the
same order in every process and after every restart. Give the sampler to a ``DataLoader``
with the same ``batch_size`` (and ``drop_last=False``); Accelerate then shards whole batches
between processes (process ``p`` of ``N`` takes batches ``p, p + N, ...``), calls
:meth:`LengthGroupedSampler.set_epoch` through ``DataLoaderShard.set_epoch`` and skips the
first batches of an epoch on resume (``skip_first_batches``), so a resumed run sees the same
batches as an uninterrupted one.

:func:`padded_token_fraction` says what a batch order costs in padding:
``1 - sum(lengths) / sum(len(batch) * max length in batch)``; :class:`TokenCount` counts the
real and padded tokens of the batches a run trained on (the recipes' ``metrics.json``).

Example:
    >>> lengths = [5, 30, 6, 29, 7, 31, 8, 28]
    >>> order = grouped_order(lengths, batch_size=2, seed=0, epoch=0)
    >>> sorted(order) == list(range(8)), len(order)
    (True, 8)
    >>> padded_token_fraction(lengths, order, 2) < padded_token_fraction(lengths, range(8), 2)
    True
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any, Iterator, Sequence

__all__ = ["MEGABATCH_BATCHES", "LengthGroupedSampler", "TokenCount", "grouped_order", "megabatch_size",
           "padded_token_fraction"]

#: Batches per megabatch (at most): larger groups pad less, smaller ones keep more randomness.
MEGABATCH_BATCHES = 50


def _check_count(name: str, value: object, minimum: int) -> int:
    if isinstance(value, bool) or not isinstance(value, int) or value < minimum:
        raise ValueError(f"{name}={value!r} is invalid: it must be an integer >= {minimum}")
    return value


def megabatch_size(num_examples: int, batch_size: int, megabatch_batches: int = MEGABATCH_BATCHES) -> int:
    """Examples per megabatch: ``batch_size * min(megabatch_batches, max(1, n // (4 * batch_size)))``.

    Example:
        >>> megabatch_size(2000, 16), megabatch_size(100_000, 16), megabatch_size(10, 16)
        (496, 800, 16)
    """
    _check_count("num_examples", num_examples, 0)
    _check_count("batch_size", batch_size, 1)
    _check_count("megabatch_batches", megabatch_batches, 1)
    return batch_size * min(megabatch_batches, max(1, num_examples // (4 * batch_size)))


def grouped_order(
    lengths: Sequence[int],
    batch_size: int,
    *,
    seed: int,
    epoch: int = 0,
    megabatch_batches: int = MEGABATCH_BATCHES,
) -> list[int]:
    """One epoch's example order: batches of similar lengths, in a seeded random order.

    The steps are those of the module docstring. Every index ``0..n-1`` appears once; slices
    ``[k * batch_size, (k + 1) * batch_size)`` are the batches.

    Args:
        lengths: the token count of every example (``len(input_ids)``), each >= 0.
        batch_size: examples per batch, >= 1 (the ``DataLoader``'s).
        seed: seeds the order, an integer in ``[0, 2**63)``; with ``epoch`` it fixes the order.
        epoch: the epoch, >= 0: each epoch has its own order.
        megabatch_batches: at most this many batches per megabatch (>= 1).

    Raises:
        ValueError: a bad argument; the message names it, its value and what is allowed.

    Example:
        >>> lengths = [i % 10 for i in range(80)]  # 80 examples: 4 megabatches of 5 batches of 4
        >>> order = grouped_order(lengths, batch_size=4, seed=1)
        >>> [lengths[i] for i in order[:12]]  # the first three batches
        [9, 9, 8, 8, 7, 6, 6, 6, 1, 1, 0, 0]
        >>> order == grouped_order(lengths, batch_size=4, seed=1), sorted(order) == list(range(80))
        (True, True)
        >>> round(padded_token_fraction(lengths, order, 4), 3), round(padded_token_fraction(lengths, range(80), 4), 3)
        (0.143, 0.318)
    """
    import numpy as np

    _check_count("batch_size", batch_size, 1)
    _check_count("epoch", epoch, 0)
    if isinstance(seed, bool) or not isinstance(seed, int) or not 0 <= seed < 2**63:
        raise ValueError(f"seed={seed!r} is invalid: it must be an integer in [0, 2**63)")
    sizes = np.asarray(lengths)
    if sizes.ndim != 1 or (sizes.size and (not np.issubdtype(sizes.dtype, np.integer) or sizes.min() < 0)):
        raise ValueError(f"lengths must be a sequence of integers >= 0 (token counts); got {_preview(lengths)}")
    n = len(sizes)
    rng = np.random.default_rng([seed, epoch])
    permutation = rng.permutation(n)
    mega = megabatch_size(n, batch_size, megabatch_batches)
    pieces = []
    for start in range(0, n, mega):
        chunk = permutation[start:start + mega]
        pieces.append(chunk[np.argsort(-sizes[chunk], kind="stable")])
    ordered = np.concatenate(pieces) if pieces else permutation
    full = n // batch_size
    batches = ordered[:full * batch_size].reshape(full, batch_size)[rng.permutation(full)]
    return [int(i) for i in np.concatenate([batches.reshape(-1), ordered[full * batch_size:]])]


def _preview(values: Sequence[object]) -> str:
    text = repr(list(values)[:5]) if hasattr(values, "__iter__") else repr(values)
    return text if len(text) < 80 else text[:77] + "..."


def padded_token_fraction(lengths: Sequence[int], order: Sequence[int], batch_size: int) -> float:
    """Share of the tokens that are padding when ``order`` is cut into batches padded to their longest.

    ``1 - sum(real tokens) / sum(batch size * longest length in the batch)``; 0.0 for no tokens.

    Example:
        >>> padded_token_fraction([1, 3, 2, 2], [0, 1, 2, 3], batch_size=2)  # (1+3+2+2) / (2*3 + 2*2)
        0.19999999999999996
    """
    _check_count("batch_size", batch_size, 1)
    order = list(order)
    real = padded = 0
    for start in range(0, len(order), batch_size):
        batch = [lengths[i] for i in order[start:start + batch_size]]
        real += sum(batch)
        padded += len(batch) * max(batch)
    return 1.0 - real / padded if padded else 0.0


class LengthGroupedSampler:
    """A ``torch.utils.data.Sampler`` of length-grouped batches, seeded, epoch by epoch.

    Iterating yields :func:`grouped_order` for the current epoch (set by :meth:`set_epoch`,
    which Accelerate's prepared dataloaders call; 0 until then). Its length is the number of
    examples. Use it as ``DataLoader(dataset, batch_size=batch_size, sampler=sampler)``.

    Args:
        lengths: token count of every example, e.g. ``[len(x) for x in dataset["input_ids"]]``.
        batch_size: the ``DataLoader``'s batch size (per process; the global one with
            Accelerate's ``split_batches``).
        seed: seeds every epoch's order.
        megabatch_batches: at most this many batches are sorted together.

    Example:
        >>> sampler = LengthGroupedSampler([4, 40, 5, 41, 6, 42], batch_size=2, seed=0)
        >>> first = list(sampler); sampler.set_epoch(1)
        >>> len(sampler), sorted(first) == sorted(sampler), list(sampler) == list(sampler)
        (6, True, True)
    """

    def __init__(self, lengths: Sequence[int], batch_size: int, *, seed: int,
                 megabatch_batches: int = MEGABATCH_BATCHES) -> None:
        self.lengths = [int(x) for x in lengths]
        self.batch_size = batch_size
        self.seed = seed
        self.megabatch_batches = megabatch_batches
        self.epoch = 0
        grouped_order(self.lengths[:1], batch_size, seed=seed, megabatch_batches=megabatch_batches)  # check args

    def set_epoch(self, epoch: int) -> None:
        """Order the next iteration as epoch ``epoch`` (>= 0)."""
        self.epoch = _check_count("epoch", epoch, 0)

    def __len__(self) -> int:
        return len(self.lengths)

    def __iter__(self) -> Iterator[int]:
        return iter(grouped_order(self.lengths, self.batch_size, seed=self.seed, epoch=self.epoch,
                                  megabatch_batches=self.megabatch_batches))


@dataclass
class TokenCount:
    """Tokens of the batches a run trained on: ``real`` (the attention mask's ones) and ``total``.

    ``padded_fraction = 1 - real / total`` (``None`` before any batch); ``real / seconds`` is
    the real tokens per second.

    Example:
        >>> import torch
        >>> count = TokenCount()
        >>> count.add(torch.ones(2, 4, dtype=torch.long), torch.tensor([[1, 1, 1, 1], [1, 0, 0, 0]]))
        >>> count.real, count.total, count.padded_fraction
        (5, 8, 0.375)
    """

    real: int = 0
    total: int = 0

    def add(self, input_ids: Any, attention_mask: Any = None) -> None:
        """Count one batch: ``input_ids.numel()`` tokens, of which ``attention_mask.sum()`` real (all without a mask)."""
        size = int(input_ids.numel())
        self.total += size
        self.real += int(attention_mask.sum()) if attention_mask is not None else size

    @property
    def padded_fraction(self) -> float | None:
        """The share of the counted tokens that were padding."""
        return 1.0 - self.real / self.total if self.total else None
