"""The built-in named schedules: :data:`BUILTINS`, registered by :mod:`hf_sched.registry` when it loads.

Each name is a small factory that turns the registry's arguments (steps, warmup, absolute
LRs given by the user) into one of the pure shapes of :mod:`hf_sched.schedules`. First
transformers' and sentence-transformers' names, then the d2l / BERT / one-cycle / SGDR ones.
The module is long because every factory sits next to its line of the table below; each
is a few lines.

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
squareroot                         ``(s - W + 1) ** -0.5`` (d2l ``SquareRootScheduler``)
factor                             ``max(r, factor ** floor((s - W) / k))`` (d2l, ``StepLR``)
multistep                          ``gamma ** #{milestones <= s}`` (default 50%, 75%)
d2lcosine                          d2l ``CosineScheduler``: cosine, ``final_lr`` as a ratio
bert                               linear warmup, then ``1 - s / T`` (google-research/bert)
onecycle                           torch ``OneCycleLR`` over ``max_lr`` (its own warmup)
cosine_restarts (sgdr)             SGDR cycles with ``cycle_mul``, ``cycle_decay``, ``cycle_limit``
=================================  ==========================================================

>>> from hf_sched.registry import build_schedule
>>> build_schedule("noam", num_training_steps=100, num_warmup_steps=4)(16)
0.5
"""

from __future__ import annotations

from typing import Any

from .checks import check_float, check_int
from .schedules import (
    Bert,
    Constant,
    Cosine,
    CosineHardRestarts,
    CosineRestarts,
    CosineWarmupMinLR,
    Factor,
    InverseSqrt,
    Linear,
    MultiStep,
    Noam,
    OneCycle,
    Polynomial,
    SquareRoot,
    WarmupStableDecay,
)

__all__ = ["BUILTINS", "builtin"]

#: ``(name, factory, options)`` of every built-in name, in listing order; ``options`` are
#: the keyword arguments of :func:`hf_sched.registry.register`, which registers them all
#: when it is imported. (This module imports no registry: the registry imports it.)
BUILTINS: list[tuple[str, Any, dict[str, Any]]] = []


def builtin(name: str, factory: Any, **options: Any) -> None:
    """Add a built-in name: ``register(name, factory, **options)`` once the registry loads.

    >>> [name for name, _, _ in BUILTINS][:3]
    ['constantlr', 'warmupconstant', 'warmuplinear']
    >>> BUILTINS[0][2]["aliases"]
    ('constant',)
    """
    BUILTINS.append((name, factory, options))


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
    """Warmup, then linear decay over the steps after warmup to min_lr_ratio * peak (0 by default)."""
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


builtin("constantlr", _constantlr, aliases=("constant",), has_warmup=False, needs_total=False)
builtin("warmupconstant", _warmupconstant, aliases=("constant_with_warmup",), needs_total=False)
builtin("warmuplinear", _warmuplinear, aliases=("linear",))
builtin("warmupcosine", _warmupcosine, aliases=("cosine",))
builtin(
    "warmupcosinewithhardrestarts", _hard_restarts, aliases=("hard-restarts", "cosine_with_restarts", "cosine_hard_restarts")
)
builtin("noam", _noam, needs_total=False)
builtin("polynomial", _polynomial)
builtin("inverse_sqrt", _inverse_sqrt, needs_total=False)
builtin("cosine_with_min_lr", _cosine_with_min_lr)
builtin("cosine_warmup_with_min_lr", _cosine_warmup_with_min_lr)
builtin("warmup_stable_decay", _warmup_stable_decay, aliases=("wsd",), needs_total=False)
builtin("reduce_lr_on_plateau", _reduce_lr_on_plateau, has_warmup=False, adaptive=True, needs_total=False)
builtin("greedy", _greedy, has_warmup=False, adaptive=True, needs_total=False)


# -- d2l, BERT, one-cycle and SGDR names (formulas and references with the shapes; the table
# of every name in docs/schedules_table.md) ------------------------------------------------


def _absolute_to_ratio(name: str, value: float, lr_init: float | None) -> float:
    """``value / lr_init`` for an absolute LR given by the user (``0`` needs no ``lr_init``)."""
    value = check_float(name, value, minimum=0.0)
    if value == 0.0:
        return 0.0
    if lr_init is None:
        raise ValueError(
            f"{name}={value!r} is an absolute LR and needs lr_init (the optimizer's peak LR) to become a ratio; "
            "get_scheduler passes it from the optimizer"
        )
    lr_init = check_float("lr_init", lr_init, minimum=0.0, min_inclusive=False)
    if value > lr_init:
        raise ValueError(f"{name} must be at most the peak LR lr_init={lr_init!r}, got {value!r}")
    return value / lr_init


def _squareroot(
    *, num_training_steps: int, num_warmup_steps: int, warmup_start: float = 0.0, warmup_shape: str = "linear"
) -> SquareRoot:
    """Warmup, then d2l's square-root decay (s - W + 1)**-0.5: 1 at the end of warmup, 0.1 after 99 more steps."""
    return SquareRoot(num_training_steps, num_warmup_steps, warmup_start, warmup_shape)


def _factor(
    *,
    num_training_steps: int,
    num_warmup_steps: int,
    factor: float | None = None,
    step_size: int = 1,
    stop_factor_lr: float | None = None,
    min_lr_ratio: float | None = None,
    lr_init: float | None = None,
    warmup_start: float = 0.0,
    warmup_shape: str = "linear",
) -> Factor:
    """Warmup, then the LR times factor every step_size steps (default: to 1% of the peak at T), floored at stop_factor_lr or min_lr_ratio (d2l FactorScheduler)."""
    step_size = check_int("step_size", step_size, minimum=1)
    if factor is None:
        # the factor that brings the LR to 1% of the peak at the end of training
        factor = 0.01 ** (step_size / max(1, num_training_steps - num_warmup_steps))
    if stop_factor_lr is not None and min_lr_ratio is not None:
        raise ValueError(
            f"give only one of stop_factor_lr ({stop_factor_lr!r}, an absolute LR) and "
            f"min_lr_ratio ({min_lr_ratio!r}, a ratio of the peak LR)"
        )
    ratio = 0.0 if min_lr_ratio is None else min_lr_ratio
    if stop_factor_lr is not None:
        ratio = _absolute_to_ratio("stop_factor_lr", stop_factor_lr, lr_init)
    return Factor(
        num_training_steps, num_warmup_steps, warmup_start, warmup_shape,
        factor=factor, step_size=step_size, min_lr_ratio=ratio,
    )


def _multistep(
    *,
    num_training_steps: int,
    num_warmup_steps: int,
    milestones: Any = None,
    gamma: float = 0.1,
    warmup_start: float = 0.0,
    warmup_shape: str = "linear",
) -> MultiStep:
    """Warmup, then the LR times gamma at each milestone: steps, or floats = progress after warmup (default [0.5, 0.75]); torch MultiStepLR."""
    if milestones is None:
        milestones = (0.5, 0.75)
    if isinstance(milestones, (int, float)) and not isinstance(milestones, bool):
        milestones = [milestones]
    return MultiStep(
        num_training_steps, num_warmup_steps, warmup_start, warmup_shape, milestones=milestones, gamma=gamma
    )


def _d2lcosine(
    *,
    num_training_steps: int,
    num_warmup_steps: int,
    final_lr: float = 0.0,
    warmup_begin_lr: float = 0.0,
    lr_init: float | None = None,
) -> Cosine:
    """d2l CosineScheduler: linear warmup from warmup_begin_lr, then a half cosine from the peak to final_lr (absolute LRs)."""
    # d2l CosineScheduler(max_update=T, base_lr=lr_init, final_lr, warmup_steps=W, warmup_begin_lr)
    # is exactly Cosine(T, W, warmup_start=warmup_begin_lr/base_lr, min_lr_ratio=final_lr/base_lr).
    return Cosine(
        num_training_steps,
        num_warmup_steps,
        _absolute_to_ratio("warmup_begin_lr", warmup_begin_lr, lr_init),
        "linear",
        num_cycles=0.5,
        min_lr_ratio=_absolute_to_ratio("final_lr", final_lr, lr_init),
    )


def _bert(*, num_training_steps: int, num_warmup_steps: int, power: float = 1.0, end_ratio: float = 0.0) -> Bert:
    """BERT (google-research/bert): linear warmup, then (1 - s/T)**power over the total steps (0.9 right after a 10% warmup)."""
    return Bert(num_training_steps, num_warmup_steps, power=power, end_ratio=end_ratio)


def _onecycle(
    *,
    num_training_steps: int,
    num_warmup_steps: int = 0,
    pct_start: float = 0.3,
    div_factor: float = 25.0,
    final_div_factor: float = 1e4,
    anneal_strategy: str = "cos",
    three_phase: bool = False,
) -> OneCycle:
    """One-cycle (torch OneCycleLR over max_lr = the optimizer's lr): up from 1/div_factor for pct_start, down to 1/(div_factor*final_div_factor)."""
    return OneCycle(
        num_training_steps, num_warmup_steps,
        pct_start=pct_start, div_factor=div_factor, final_div_factor=final_div_factor,
        anneal_strategy=anneal_strategy, three_phase=three_phase,
    )


def _cosine_restarts(
    *,
    num_training_steps: int,
    num_warmup_steps: int,
    cycle_steps: int | float | None = None,
    cycle_mul: float = 1.0,
    cycle_decay: float = 1.0,
    cycle_limit: int | None = None,
    min_lr_ratio: float = 0.0,
    warmup_start: float = 0.0,
    warmup_shape: str = "linear",
) -> CosineRestarts:
    """Warmup, then SGDR cosine cycles of cycle_steps growing by cycle_mul, peaks times cycle_decay (timm; torch CosineAnnealingWarmRestarts)."""
    return CosineRestarts(
        num_training_steps, num_warmup_steps, warmup_start, warmup_shape,
        cycle_steps=cycle_steps, cycle_mul=cycle_mul, cycle_decay=cycle_decay,
        cycle_limit=cycle_limit, min_lr_ratio=min_lr_ratio,
    )


builtin("squareroot", _squareroot, aliases=("sqrt_decay",))
builtin("factor", _factor, aliases=("exponential_decay", "step_decay"))
builtin("multistep", _multistep, aliases=("multisteplr", "multifactor", "piecewise_constant"))
builtin("d2lcosine", _d2lcosine)
builtin("bert", _bert, aliases=("bert_linear",))
builtin("onecycle", _onecycle, aliases=("onecyclelr", "superconvergence"), has_warmup=False)
builtin(
    "cosine_restarts", _cosine_restarts, aliases=("sgdr", "cosine_annealing_warm_restarts", "cosine_warm_restarts")
)
