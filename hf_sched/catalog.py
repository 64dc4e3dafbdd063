"""The built-in named schedules (registered on import by :mod:`hf_sched.registry`).

=================================  ==========================================================
name (aliases)                     multiplier ``f(s)`` after warmup, ``p = (s-W)/(T-W)``
=================================  ==========================================================
constantlr (constant)              ``1``, no warmup
warmupconstant                     ``1``
warmuplinear (linear)              ``1 - p`` (to ``min_lr_ratio``)
warmupcosine (cosine)              ``(1 + cos(2 pi c p)) / 2``, ``c = 0.5``
warmupcosinewithhardrestarts       ``(1 + cos(pi ((c p) mod 1))) / 2``, ``c = 1``
noam                               ``sqrt(W / s)`` (peak 1), or absolute with ``d_model``
polynomial                         ``(1 - e) (1 - p)**power + e``, ``e = lr_end / lr``
inverse_sqrt                       ``1 / sqrt((s + tau - W) / tau)``
cosine_with_min_lr                 cosine to ``min_lr`` / ``min_lr_rate``
cosine_warmup_with_min_lr          transformers' one-step-shifted cosine to a min LR
warmup_stable_decay (wsd)          ``1`` then a decay over the last ``num_decay_steps``
reduce_lr_on_plateau               torch's ``ReduceLROnPlateau`` (metric-driven)
greedy                             transformers' ``GreedyLR`` (metric-driven)
=================================  ==========================================================

>>> from hf_sched.registry import build_schedule
>>> build_schedule("noam", num_training_steps=100, num_warmup_steps=4)(16)
0.5
"""

from __future__ import annotations

from typing import Any

from .checks import check_float, check_int
from .registry import register
from .schedules import (
    Constant,
    Cosine,
    CosineHardRestarts,
    CosineWarmupMinLR,
    InverseSqrt,
    Linear,
    Noam,
    Polynomial,
    WarmupStableDecay,
)

__all__: list[str] = []


def _constantlr(*, num_training_steps: int, num_warmup_steps: int = 0) -> Constant:
    """Constant LR, no warmup (sentence-transformers' constantlr, transformers' constant)."""
    return Constant(num_training_steps, 0)


def _warmupconstant(
    *, num_training_steps: int, num_warmup_steps: int, warmup_start: float = 0.0, warmup_shape: str = "linear"
) -> Constant:
    """Warmup, then constant at the peak LR."""
    return Constant(num_training_steps, num_warmup_steps, warmup_start, warmup_shape)


def _warmuplinear(
    *,
    num_training_steps: int,
    num_warmup_steps: int,
    min_lr_ratio: float = 0.0,
    warmup_start: float = 0.0,
    warmup_shape: str = "linear",
) -> Linear:
    """Warmup, then linear decay to min_lr_ratio * peak (0 by default): BERT's schedule."""
    return Linear(num_training_steps, num_warmup_steps, warmup_start, warmup_shape, min_lr_ratio=min_lr_ratio)


def _warmupcosine(
    *,
    num_training_steps: int,
    num_warmup_steps: int,
    num_cycles: float = 0.5,
    min_lr_ratio: float = 0.0,
    warmup_start: float = 0.0,
    warmup_shape: str = "linear",
) -> Cosine:
    """Warmup, then cosine decay (num_cycles=0.5: one half-wave to min_lr_ratio)."""
    return Cosine(
        num_training_steps, num_warmup_steps, warmup_start, warmup_shape, num_cycles=num_cycles, min_lr_ratio=min_lr_ratio
    )


def _hard_restarts(
    *,
    num_training_steps: int,
    num_warmup_steps: int,
    num_cycles: float = 1.0,
    warmup_start: float = 0.0,
    warmup_shape: str = "linear",
) -> CosineHardRestarts:
    """Warmup, then num_cycles cosine decays to 0, each restarting at the peak."""
    return CosineHardRestarts(num_training_steps, num_warmup_steps, warmup_start, warmup_shape, num_cycles=num_cycles)


def _noam(
    *,
    num_training_steps: int,
    num_warmup_steps: int,
    d_model: int | None = None,
    factor: float = 1.0,
    warmup_start: float = 0.0,
    warmup_shape: str = "linear",
) -> Noam:
    """Noam: warmup, then sqrt(W/s); normalised peak 1, or absolute with d_model (use lr=1)."""
    return Noam(num_training_steps, num_warmup_steps, warmup_start, warmup_shape, d_model=d_model, factor=factor)


def _polynomial(
    *,
    num_training_steps: int,
    num_warmup_steps: int,
    power: float = 1.0,
    lr_end: float = 1e-7,
    lr_init: float | None = None,
    warmup_start: float = 0.0,
    warmup_shape: str = "linear",
) -> Polynomial:
    """Warmup, then polynomial decay to the absolute LR lr_end (needs the peak LR)."""
    lr_end = check_float("lr_end", lr_end, minimum=0.0)
    if lr_init is None:
        raise ValueError(
            "polynomial needs lr_init (the optimizer's peak LR) to turn lr_end into a ratio; "
            "get_scheduler passes it from the optimizer"
        )
    lr_init = check_float("lr_init", lr_init, minimum=0.0, min_inclusive=False)
    if not lr_init > lr_end:
        raise ValueError(f"lr_end ({lr_end}) must be smaller than the initial lr ({lr_init})")
    return Polynomial(
        num_training_steps, num_warmup_steps, warmup_start, warmup_shape, power=power, end_ratio=lr_end / lr_init
    )


def _inverse_sqrt(
    *,
    num_training_steps: int,
    num_warmup_steps: int,
    timescale: int | None = None,
    warmup_start: float = 0.0,
    warmup_shape: str = "linear",
) -> InverseSqrt:
    """Warmup, then 1/sqrt((s + timescale - W) / timescale), as transformers' inverse_sqrt."""
    return InverseSqrt(num_training_steps, num_warmup_steps, warmup_start, warmup_shape, timescale=timescale)


def _min_lr_rate(min_lr: float | None, min_lr_rate: float | None, lr_init: float | None) -> float:
    if min_lr is not None and min_lr_rate is not None:
        raise ValueError(f"give only one of min_lr ({min_lr!r}) and min_lr_rate ({min_lr_rate!r})")
    if min_lr is not None:
        min_lr = check_float("min_lr", min_lr, minimum=0.0)
        if lr_init is None:
            raise ValueError("min_lr needs lr_init (the optimizer's peak LR); or give min_lr_rate instead")
        return min_lr / check_float("lr_init", lr_init, minimum=0.0, min_inclusive=False)
    if min_lr_rate is None:
        raise ValueError("this schedule needs one of min_lr (an absolute LR) or min_lr_rate (a ratio of the peak LR)")
    return check_float("min_lr_rate", min_lr_rate, minimum=0.0, maximum=1.0)


def _cosine_with_min_lr(
    *,
    num_training_steps: int,
    num_warmup_steps: int,
    num_cycles: float = 0.5,
    min_lr: float | None = None,
    min_lr_rate: float | None = None,
    lr_init: float | None = None,
    warmup_start: float = 0.0,
    warmup_shape: str = "linear",
) -> Cosine:
    """Warmup, then cosine decay to min_lr (absolute) or min_lr_rate (ratio); one is required."""
    rate = _min_lr_rate(min_lr, min_lr_rate, lr_init)
    return Cosine(num_training_steps, num_warmup_steps, warmup_start, warmup_shape, num_cycles=num_cycles, min_lr_ratio=rate)


def _cosine_warmup_with_min_lr(
    *,
    num_training_steps: int,
    num_warmup_steps: int,
    num_cycles: float = 0.5,
    min_lr: float | None = None,
    min_lr_rate: float | None = None,
    warmup_lr_rate: float | None = None,
    lr_init: float | None = None,
) -> CosineWarmupMinLR:
    """transformers' cosine_warmup_with_min_lr: warmup (s+1)/W, cosine to a min LR, one step ahead."""
    rate = _min_lr_rate(min_lr, min_lr_rate, lr_init)
    return CosineWarmupMinLR(
        num_training_steps, num_warmup_steps, num_cycles=num_cycles, min_lr_ratio=rate, warmup_lr_rate=warmup_lr_rate
    )


def _warmup_stable_decay(
    *,
    num_training_steps: int,
    num_warmup_steps: int,
    num_decay_steps: int | None = None,
    decay_ratio: float | None = None,
    num_stable_steps: int | None = None,
    warmup_type: str = "linear",
    decay_type: str = "cosine",
    min_lr_ratio: float = 0.0,
    num_cycles: float = 0.5,
) -> WarmupStableDecay:
    """Warmup from min_lr_ratio, flat at the peak, then decay over the last steps (10% by default)."""
    if num_decay_steps is not None and decay_ratio is not None:
        raise ValueError(f"give only one of num_decay_steps ({num_decay_steps!r}) and decay_ratio ({decay_ratio!r})")
    if num_decay_steps is None:
        ratio = 0.1 if decay_ratio is None else check_float("decay_ratio", decay_ratio, minimum=0.0, maximum=1.0)
        from .warmup import _ceil_ratio

        num_decay_steps = min(_ceil_ratio(ratio, num_training_steps), num_training_steps - num_warmup_steps)
    num_decay_steps = check_int("num_decay_steps", num_decay_steps, minimum=0)
    return WarmupStableDecay(
        num_training_steps,
        num_warmup_steps,
        min_lr_ratio,
        warmup_type,
        num_decay_steps=num_decay_steps,
        num_stable_steps=num_stable_steps,
        decay_type=decay_type,
        min_lr_ratio=min_lr_ratio,
        num_cycles=num_cycles,
    )


def _reduce_lr_on_plateau(
    optimizer: Any,
    *,
    mode: str = "min",
    factor: float = 0.1,
    patience: int = 10,
    threshold: float = 1e-4,
    threshold_mode: str = "rel",
    cooldown: int = 0,
    min_lr: float = 0.0,
    eps: float = 1e-8,
) -> Any:
    """Metric-driven: torch's ReduceLROnPlateau (call step(metric)); no warmup."""
    from torch.optim.lr_scheduler import ReduceLROnPlateau

    return ReduceLROnPlateau(
        optimizer, mode=mode, factor=factor, patience=patience, threshold=threshold,
        threshold_mode=threshold_mode, cooldown=cooldown, min_lr=min_lr, eps=eps,
    )


def _greedy(
    optimizer: Any,
    *,
    mode: str = "min",
    factor: float = 0.95,
    patience: int = 10,
    threshold: float = 1e-6,
    threshold_mode: str = "abs",
    cooldown: int = 0,
    warmup: int = 0,
    min_lr: float = 1e-3,
    max_lr: float = 1.0,
    eps: float = 1e-8,
    smooth: bool = False,
    window_size: int = 50,
    reset_start: int = 500,
) -> Any:
    """Metric-driven: transformers' GreedyLR (raises on improvement, cuts on plateau); no warmup."""
    from transformers.optimization import GreedyLR

    return GreedyLR(
        optimizer, mode=mode, factor=factor, patience=patience, threshold=threshold, threshold_mode=threshold_mode,
        cooldown=cooldown, warmup=warmup, min_lr=min_lr, max_lr=max_lr, eps=eps, smooth=smooth,
        window_size=window_size, reset_start=reset_start,
    )


register("constantlr", _constantlr, aliases=("constant",), has_warmup=False)
register("warmupconstant", _warmupconstant, aliases=("constant_with_warmup",))
register("warmuplinear", _warmuplinear, aliases=("linear",))
register("warmupcosine", _warmupcosine, aliases=("cosine",))
register(
    "warmupcosinewithhardrestarts", _hard_restarts, aliases=("hard-restarts", "cosine_with_restarts", "cosine_hard_restarts")
)
register("noam", _noam)
register("polynomial", _polynomial)
register("inverse_sqrt", _inverse_sqrt, needs_total=False)
register("cosine_with_min_lr", _cosine_with_min_lr)
register("cosine_warmup_with_min_lr", _cosine_warmup_with_min_lr)
register("warmup_stable_decay", _warmup_stable_decay, aliases=("wsd",))
register("reduce_lr_on_plateau", _reduce_lr_on_plateau, has_warmup=False, adaptive=True, needs_total=False)
register("greedy", _greedy, has_warmup=False, adaptive=True, needs_total=False)
