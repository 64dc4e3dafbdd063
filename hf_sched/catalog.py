"""The built-in names: one table (:data:`BUILTINS`) of the schedule class each name builds.

A row converts a name's own terms (absolute LRs, a decay ratio) to the class's fields once;
its ``description`` is its line of ``hf-sched list``. :mod:`hf_sched.registry` registers every row.

>>> from hf_sched.registry import build_schedule
>>> build_schedule("noam", num_training_steps=100, num_warmup_steps=4)(16)
0.5
"""

from __future__ import annotations

import dataclasses
import importlib
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any

from .checks import check_float, check_int
from .compose import WarmupStableDecay
from .cycles import CosineHardRestarts, CosineRestarts, OneCycle
from .decays import Bert, Constant, Cosine, CosineWarmupMinLR, Linear, Polynomial
from .inverse_sqrt import InverseSqrt, Noam, SquareRoot
from .schedule import Schedule
from .step_decays import Factor, MultiStep
from .warmup import _ceil_ratio

__all__ = ["BUILTINS", "Named"]

_FRAME = {f.name for f in dataclasses.fields(Schedule)}
_RAMP = {"warmup_start": 0.0, "warmup_shape": "linear"}


@dataclass(frozen=True)
class Named:
    """One built-in name: ``build(T, W, **kw) = cls(T, W, **convert(kw))``.

    ``cls`` is a Schedule class, or for ``adaptive`` rows ``"module:Class"`` of a torch scheduler
    (``Class(optimizer, **kw)``); ``args`` default to the class's own fields (plus ``warmup_start``
    and ``warmup_shape`` when ``ramp``); ``convert(kw, lr_init, T, W)`` maps them to fields.

    >>> row = BUILTINS[3]
    >>> row.name, row.kwargs
    ('warmupcosine', {'num_cycles': 0.5, 'min_lr_ratio': 0.0, 'warmup_start': 0.0, 'warmup_shape': 'linear'})
    >>> row.build(num_training_steps=10, num_warmup_steps=1, num_cycles=1.0)(10)
    1.0
    """

    name: str
    cls: Any
    description: str
    aliases: tuple[str, ...] = ()
    args: dict[str, Any] | None = None
    ramp: bool = True
    convert: Callable[..., dict[str, Any]] | None = None
    uses_lr: bool = False
    has_warmup: bool = True
    needs_total: bool = True
    adaptive: bool = False
    kwargs: dict[str, Any] = field(init=False, compare=False)

    def __post_init__(self) -> None:
        own = self.args if self.args is not None else {
            f.name: f.default for f in dataclasses.fields(self.cls) if f.name not in _FRAME}
        object.__setattr__(self, "kwargs", {**own, **(_RAMP if self.ramp else {})})

    def build(self, *args: Any, num_training_steps: int | None = None, num_warmup_steps: int = 0,
              lr_init: float | None = None, **kw: Any) -> Any:
        """The schedule (or, for an adaptive row, the torch scheduler of the optimizer in ``args``)."""
        if self.adaptive:
            module, _, cls = self.cls.partition(":")
            found = getattr(importlib.import_module(module), cls, None)
            if found is None:  # GreedyLR came in transformers 5.4
                from importlib.metadata import version

                top = module.partition(".")[0]
                raise ValueError(f"schedule {self.name!r} needs {module}.{cls}, which {top} {version(top)} does not "
                                 f"have (GreedyLR came in transformers 5.4): upgrade {top}, or use reduce_lr_on_plateau")
            return found(*args, **{**self.kwargs, **kw})
        t, w = num_training_steps, num_warmup_steps
        return self.cls(t, w, **(self.convert(kw, lr_init, t, w) if self.convert else kw))


def _absolute_to_ratio(name: str, value: float, lr_init: float | None) -> float:
    """``value / lr_init`` for an absolute LR given by the user (``0`` needs no ``lr_init``)."""
    value = check_float(name, value, minimum=0.0)
    if value == 0.0:
        return 0.0
    if lr_init is None:
        raise ValueError(f"{name}={value!r} is an absolute LR and needs lr_init (the optimizer's peak LR) to become a "
                         "ratio; get_scheduler passes it from the optimizer")
    lr_init = check_float("lr_init", lr_init, minimum=0.0, min_inclusive=False)
    if value > lr_init:
        raise ValueError(f"{name} must be at most the peak LR lr_init={lr_init!r}, got {value!r}")
    return value / lr_init


def _polynomial(kw: dict[str, Any], lr_init: float | None, t: int, w: int) -> dict[str, Any]:
    lr_end = check_float("lr_end", kw.pop("lr_end", 1e-7), minimum=0.0)
    if lr_init is None:
        raise ValueError("polynomial needs lr_init (the optimizer's peak LR) to turn lr_end into a ratio; "
                         "get_scheduler passes it from the optimizer")
    lr_init = check_float("lr_init", lr_init, minimum=0.0, min_inclusive=False)
    if not lr_init > lr_end:
        raise ValueError(f"lr_end ({lr_end}) must be smaller than the initial lr ({lr_init})")
    return {**kw, "end_ratio": lr_end / lr_init}


def _min_lr(kw: dict[str, Any], lr_init: float | None, t: int, w: int) -> dict[str, Any]:
    """``min_lr`` (absolute) or ``min_lr_rate`` (a ratio), exactly one, as ``min_lr_ratio``."""
    min_lr, rate = kw.pop("min_lr", None), kw.pop("min_lr_rate", None)
    if min_lr is not None and rate is not None:
        raise ValueError(f"give only one of min_lr ({min_lr!r}) and min_lr_rate ({rate!r})")
    if min_lr is not None:
        min_lr = check_float("min_lr", min_lr, minimum=0.0)
        if lr_init is None:
            raise ValueError("min_lr needs lr_init (the optimizer's peak LR); or give min_lr_rate instead")
        rate = min_lr / check_float("lr_init", lr_init, minimum=0.0, min_inclusive=False)
    elif rate is None:
        raise ValueError("this schedule needs one of min_lr (an absolute LR) or min_lr_rate (a ratio of the peak LR)")
    else:
        rate = check_float("min_lr_rate", rate, minimum=0.0, maximum=1.0)
    return {**kw, "min_lr_ratio": rate}


def _wsd(kw: dict[str, Any], lr_init: float | None, t: int, w: int) -> dict[str, Any]:
    """transformers' arguments: a decay ratio (default 10%), its warmup starting at ``min_lr_ratio``."""
    decay, ratio = kw.pop("num_decay_steps", None), kw.pop("decay_ratio", None)
    if decay is not None and ratio is not None:
        raise ValueError(f"give only one of num_decay_steps ({decay!r}) and decay_ratio ({ratio!r})")
    if decay is None:
        ratio = 0.1 if ratio is None else check_float("decay_ratio", ratio, minimum=0.0, maximum=1.0)
        decay = min(_ceil_ratio(ratio, t), t - w)
    shape = kw.pop("warmup_type", "linear")
    return {**kw, "num_decay_steps": check_int("num_decay_steps", decay, minimum=0),
            "warmup_shape": shape, "warmup_start": kw.get("min_lr_ratio", 0.0)}


def _factor(kw: dict[str, Any], lr_init: float | None, t: int, w: int) -> dict[str, Any]:
    step_size = check_int("step_size", kw.pop("step_size", 1), minimum=1)
    factor = kw.pop("factor", None)
    if factor is None:  # the factor that brings the LR to 1% of the peak at the end of training
        factor = 0.01 ** (step_size / max(1, t - w))
    stop, ratio = kw.pop("stop_factor_lr", None), kw.pop("min_lr_ratio", None)
    if stop is not None and ratio is not None:
        raise ValueError(f"give only one of stop_factor_lr ({stop!r}, an absolute LR) and "
                         f"min_lr_ratio ({ratio!r}, a ratio of the peak LR)")
    if stop is not None:
        ratio = _absolute_to_ratio("stop_factor_lr", stop, lr_init)
    return {**kw, "factor": factor, "step_size": step_size, "min_lr_ratio": 0.0 if ratio is None else ratio}


def _multistep(kw: dict[str, Any], lr_init: float | None, t: int, w: int) -> dict[str, Any]:
    milestones = kw.pop("milestones", None)
    milestones = (0.5, 0.75) if milestones is None else milestones
    if isinstance(milestones, (int, float)) and not isinstance(milestones, bool):
        milestones = [milestones]
    return {**kw, "milestones": milestones}


def _d2lcosine(kw: dict[str, Any], lr_init: float | None, t: int, w: int) -> dict[str, Any]:
    # d2l CosineScheduler(max_update=T, base_lr=lr_init, final_lr, warmup_steps=W, warmup_begin_lr)
    # is exactly Cosine(T, W, warmup_start=warmup_begin_lr/base_lr, min_lr_ratio=final_lr/base_lr).
    return {"warmup_start": _absolute_to_ratio("warmup_begin_lr", kw.get("warmup_begin_lr", 0.0), lr_init),
            "min_lr_ratio": _absolute_to_ratio("final_lr", kw.get("final_lr", 0.0), lr_init)}


_MIN_LR = {"num_cycles": 0.5, "min_lr": None, "min_lr_rate": None}

#: Every built-in name, in listing order (transformers' and sentence-transformers' first).
BUILTINS: list[Named] = [
    Named("constantlr", Constant, "Constant LR, no warmup (sentence-transformers' constantlr, transformers' constant).",
          ("constant",), ramp=False, has_warmup=False, needs_total=False),
    Named("warmupconstant", Constant, "Warmup, then constant at the peak LR.", ("constant_with_warmup",),
          needs_total=False),
    Named("warmuplinear", Linear,
          "Warmup, then linear decay over the steps after warmup to min_lr_ratio * peak (0 by default).", ("linear",)),
    Named("warmupcosine", Cosine, "Warmup, then cosine decay (num_cycles=0.5: one half-wave to min_lr_ratio).",
          ("cosine",)),
    Named("warmupcosinewithhardrestarts", CosineHardRestarts,
          "Warmup, then num_cycles cosine decays to 0, each restarting at the peak.",
          ("hard-restarts", "cosine_with_restarts", "cosine_hard_restarts")),
    Named("noam", Noam, "Noam: warmup, then sqrt(W/s); normalised peak 1, or absolute with d_model (use lr=1).",
          needs_total=False),
    Named("polynomial", Polynomial, "Warmup, then polynomial decay to the absolute LR lr_end (needs the peak LR).",
          args={"power": 1.0, "lr_end": 1e-7}, convert=_polynomial, uses_lr=True),
    Named("inverse_sqrt", InverseSqrt,
          "Warmup, then 1/sqrt((s + timescale - W) / timescale), as transformers' inverse_sqrt.", needs_total=False),
    Named("cosine_with_min_lr", Cosine,
          "Warmup, then cosine decay to min_lr (absolute) or min_lr_rate (ratio); one is required.",
          args=_MIN_LR, convert=_min_lr, uses_lr=True),
    Named("cosine_warmup_with_min_lr", CosineWarmupMinLR,
          "transformers' cosine_warmup_with_min_lr: warmup (s+1)/W, cosine to a min LR, one step ahead.",
          args={**_MIN_LR, "warmup_lr_rate": None}, ramp=False, convert=_min_lr, uses_lr=True),
    Named("warmup_stable_decay", WarmupStableDecay,
          "Warmup from min_lr_ratio, flat at the peak, then decay over the last steps (10% by default).", ("wsd",),
          args={"num_decay_steps": None, "decay_ratio": None, "num_stable_steps": None, "warmup_type": "linear",
                "decay_type": "cosine", "min_lr_ratio": 0.0, "num_cycles": 0.5},
          ramp=False, convert=_wsd, needs_total=False),
    Named("reduce_lr_on_plateau", "torch.optim.lr_scheduler:ReduceLROnPlateau",
          "Metric-driven: torch's ReduceLROnPlateau (call step(metric)) after a linear warmup (0 steps by default).",
          args={"mode": "min", "factor": 0.1, "patience": 10, "threshold": 1e-4, "threshold_mode": "rel",
                "cooldown": 0, "min_lr": 0.0, "eps": 1e-8},
          ramp=False, has_warmup=False, needs_total=False, adaptive=True),
    Named("greedy", "transformers.optimization:GreedyLR",
          "Metric-driven: transformers' GreedyLR (raises on improvement, cuts on plateau) after a linear warmup "
          "(0 steps by default).",
          args={"mode": "min", "factor": 0.95, "patience": 10, "threshold": 1e-6, "threshold_mode": "abs",
                "cooldown": 0, "warmup": 0, "min_lr": 1e-3, "max_lr": 1.0, "eps": 1e-8, "smooth": False,
                "window_size": 50, "reset_start": 500},
          ramp=False, has_warmup=False, needs_total=False, adaptive=True),
    Named("squareroot", SquareRoot,
          "Warmup, then d2l's square-root decay (s - W + 1)**-0.5: 1 at the end of warmup, 0.1 after 99 more steps.",
          ("sqrt_decay",)),
    Named("factor", Factor,
          "Warmup, then the LR times factor every step_size steps (default: to 1% of the peak at T), floored at "
          "stop_factor_lr or min_lr_ratio (d2l FactorScheduler).", ("exponential_decay", "step_decay"),
          args={"factor": None, "step_size": 1, "stop_factor_lr": None, "min_lr_ratio": None},
          convert=_factor, uses_lr=True),
    Named("multistep", MultiStep,
          "Warmup, then the LR times gamma at each milestone: steps, or floats = progress after warmup (default "
          "[0.5, 0.75]); torch MultiStepLR.", ("multisteplr", "multifactor", "piecewise_constant"),
          args={"milestones": None, "gamma": 0.1}, convert=_multistep),
    Named("d2lcosine", Cosine,
          "d2l CosineScheduler: linear warmup from warmup_begin_lr, then a half cosine from the peak to final_lr "
          "(absolute LRs).", args={"final_lr": 0.0, "warmup_begin_lr": 0.0}, ramp=False, convert=_d2lcosine,
          uses_lr=True),
    Named("bert", Bert,
          "BERT (google-research/bert): linear warmup, then (1 - s/T)**power over the total steps (0.9 right after "
          "a 10% warmup).", ("bert_linear",), ramp=False),
    Named("onecycle", OneCycle,
          "One-cycle (torch OneCycleLR over max_lr = the optimizer's lr): up from 1/div_factor for pct_start, down "
          "to 1/(div_factor*final_div_factor).", ("onecyclelr", "superconvergence"), ramp=False, has_warmup=False),
    Named("cosine_restarts", CosineRestarts,
          "Warmup, then SGDR cosine cycles of cycle_steps growing by cycle_mul, peaks times cycle_decay (timm; torch "
          "CosineAnnealingWarmRestarts).", ("sgdr", "cosine_annealing_warm_restarts", "cosine_warm_restarts")),
]
