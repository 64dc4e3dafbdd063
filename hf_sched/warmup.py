"""Warmup requests: turning what a user asks for into a number of warmup steps, in one place.

A request (:func:`resolve_warmup`) is steps, a ratio, ``"10%"``, epochs ``"1ep"``, ``"auto"``
or ``None`` (10%, never the whole run); the ramps are :func:`hf_sched.schedule.warmup_ramp`.

>>> resolve_warmup(None, 30), resolve_warmup(None, 1)
(3, 0)
"""

from __future__ import annotations

import math
import numbers
import warnings
from fractions import Fraction
from typing import Any

from .checks import check_float, check_int
from .schedule import WARMUP_SHAPES, warmup_ramp

__all__ = [
    "DEFAULT_WARMUP_RATIO", "UNBOUNDED_STEPS", "WARMUP_SHAPES", "auto_warmup_steps", "epochs_to_steps",
    "is_epoch_request", "resolve_warmup", "schedule_warmup", "warmup_factor", "warmup_factors"
]

DEFAULT_WARMUP_RATIO = 0.1
#: the total of a run that has none (streaming data, no ``max_steps``): a schedule's ``T``
UNBOUNDED_STEPS = 2**62


def warmup_factor(step: float, warmup_steps: int, start: float = 0.0, shape: str = "linear") -> float:
    """The warmup ramp at ``step < warmup_steps`` (:func:`~hf_sched.schedule.warmup_ramp`).

    >>> warmup_factor(5, 10), warmup_factor(0, 10, start=0.1)
    (0.5, 0.1)
    """
    return warmup_ramp(step, warmup_steps, start, shape)


def warmup_factors(steps: Any, warmup_steps: int, start: float = 0.0, shape: str = "linear") -> Any:
    """The warmup ramp over a numpy array of steps.

    >>> import numpy as np
    >>> warmup_factors(np.array([0.0, 5.0]), 10).tolist()
    [0.0, 0.5]
    """
    import numpy as np

    return warmup_ramp(np.asarray(steps, dtype=np.float64), warmup_steps, start, shape, np)


def _ceil_ratio(ratio: float, total: int) -> int:
    # repr() gives the shortest decimal that round-trips, so 0.07 -> Fraction(7, 100) exactly.
    return math.ceil(Fraction(repr(float(ratio))) * total)


def auto_warmup_steps(optimizer: Any, total: int | None = None) -> int:
    """``round(2 / (1 - beta2))`` steps for an Adam-family optimizer, capped at ``total`` (Ma & Yarats 2019).

    Every param group with ``betas`` counts and the largest ``beta2`` (the slowest second-moment
    estimate) sets the warmup, so a set such as Muon + AdamW (``hf_sched.OptimizerSet``) warms up for
    its Adam part; groups without betas (Muon, SGD) share the warmup.

    >>> import torch
    >>> opt = torch.optim.AdamW([torch.nn.Parameter(torch.zeros(1))], betas=(0.9, 0.999))
    >>> auto_warmup_steps(opt), auto_warmup_steps(opt, total=500)
    (2000, 500)
    """
    if optimizer is None:
        raise ValueError("warmup='auto' needs the optimizer (it reads beta2 from an Adam-family optimizer); "
                         "pass optimizer= or use a ratio such as 0.1 or a number of steps")
    groups = getattr(optimizer, "param_groups", None) or [getattr(optimizer, "defaults", {})]
    beta2s = [float(g["betas"][1]) for g in groups if g.get("betas") is not None]
    if not beta2s:
        raise ValueError(f"warmup='auto' needs an Adam-family optimizer with betas; {type(optimizer).__name__} has "
                         "none in any param group. Use a ratio such as 0.1 or a number of steps")
    for beta2 in beta2s:
        if not 0.0 <= beta2 < 1.0:
            raise ValueError(f"warmup='auto' needs beta2 in [0, 1), the optimizer has beta2={beta2!r}")
    steps = round(2.0 / (1.0 - max(beta2s)))
    return min(steps, total) if total is not None else steps


def is_epoch_request(request: Any) -> bool:
    """True for a request given in epochs: a string ending in ``ep`` (``"1ep"``, ``"0.5 ep"``).

    >>> is_epoch_request("1ep"), is_epoch_request("10%"), is_epoch_request(3)
    (True, False, False)
    """
    return isinstance(request, str) and request.strip().lower().endswith("ep")


def epochs_to_steps(request: str, steps_per_epoch: int | None, *, name: str = "warmup") -> int:
    """``ceil(e * E)`` optimizer steps for a request ``"<e>ep"`` and ``E`` steps per epoch.

    >>> epochs_to_steps("1ep", 125), epochs_to_steps("0.5ep", 125), epochs_to_steps("0.3ep", 10)
    (125, 63, 3)
    """
    text = request.strip().lower()[:-2].strip()
    try:
        epochs = float(text)
    except ValueError:
        raise ValueError(
            f"{name} in epochs must be a number followed by 'ep', like '1ep' or '0.5ep', got {request!r}"
        ) from None
    if not math.isfinite(epochs) or epochs < 0:
        raise ValueError(f"{name} in epochs must be a finite number of epochs >= 0, like '1ep' or '0.5ep', got {request!r}")
    if steps_per_epoch is None:
        raise ValueError(f"{name}={request!r} is given in epochs, which needs the optimizer steps per epoch: pass a "
                         "dataloader with a length (or num_batches) to get_scheduler/compute_budget, or "
                         "steps_per_epoch=; an IterableDataset or streaming dataset has no epochs, so give the warmup "
                         "in steps")
    spe = check_int("steps_per_epoch", steps_per_epoch, minimum=1)
    return _ceil_ratio(epochs, spe)


def resolve_warmup(request: Any, total: int, optimizer: Any = None, *, steps_per_epoch: int | None = None) -> int:
    """Turn a warmup request into a number of warmup steps for ``total`` training steps.

    ``None``: ``min(ceil(total / 10), total - 1)``; an ``int``: steps (at most ``total``); a ratio
    ``r`` in ``[0, 1)``: ``ceil(r * total)`` on the exact decimal; ``"10%"``; ``"1ep"`` (with
    ``steps_per_epoch``); ``"auto"``; or a number as text. All of ``total`` warns.

    >>> resolve_warmup(100, 1000), resolve_warmup(0.1, 1000), resolve_warmup("5%", 1000)
    (100, 100, 50)
    >>> resolve_warmup("1ep", 1000, steps_per_epoch=250)
    250
    """
    total = check_int("num_training_steps", total, minimum=1)
    if request is None:
        return min(_ceil_ratio(DEFAULT_WARMUP_RATIO, total), total - 1)
    steps = _resolve_request(request, total, optimizer, steps_per_epoch)
    if steps > total:
        asked = "" if str(request).strip() == str(steps) or is_epoch_request(request) else f" (request {request!r})"
        raise ValueError(f"warmup of {steps} steps{asked} is longer than the {total} training steps; "
                         f"use at most {total} warmup steps or a ratio in [0, 1)")
    if steps == total and total > 1:
        warnings.warn(f"warmup {request!r} covers all {total} training steps: the run never reaches the peak LR "
                      "(and its first step is at the warmup start, 0 by default)",
                      UserWarning, stacklevel=3)
    return steps


def schedule_warmup(name: str, has_warmup: bool, request: Any, total: int | None, optimizer: Any = None, *,
                    steps_per_epoch: int | None = None, ignore: bool = False) -> int:
    """The warmup steps of schedule ``name``: the one place where a warmup request meets a schedule.

    :func:`resolve_warmup` for a schedule with a warmup phase; ``0`` without one (a request is an
    error, or with ``ignore=True`` a warning). ``total=None``: the request must be steps or epochs.

    >>> schedule_warmup("warmupcosine", True, None, 100), schedule_warmup("constantlr", False, None, 100)
    (10, 0)
    """
    if total is None:  # a run without a total: only a number of steps (or epochs) can say its warmup
        if is_epoch_request(request):
            request = epochs_to_steps(request, steps_per_epoch, name="warmup")
        if has_warmup and (isinstance(request, bool) or not isinstance(request, numbers.Integral)):
            got = "none was given" if request is None else f"got {request!r}"
            raise ValueError(f"{name!r} without num_training_steps needs num_warmup_steps as a number of steps (int), "
                             f"as in transformers; {got}: a ratio of an unbounded run is undefined")
        total = UNBOUNDED_STEPS
    if has_warmup:
        return resolve_warmup(request, total, optimizer, steps_per_epoch=steps_per_epoch)
    steps = 0 if request is None else resolve_warmup(request, total, optimizer, steps_per_epoch=steps_per_epoch)
    if steps and ignore:
        warnings.warn(f"schedule {name!r} has no warmup phase; ignoring the warmup request {request!r} "
                      "(as transformers does). Use 'warmupconstant' for warmup then a constant LR",
                      stacklevel=3)
    elif steps:
        raise ValueError(f"schedule {name!r} has no warmup phase, got num_warmup_steps={steps}; "
                         "use 'warmupconstant' for a constant LR after warmup")
    return 0


def _resolve_request(request: Any, total: int, optimizer: Any, steps_per_epoch: int | None) -> int:
    if isinstance(request, str):
        text = request.strip().lower()
        if text == "auto":
            return auto_warmup_steps(optimizer, total)
        if is_epoch_request(text):
            return epochs_to_steps(request, steps_per_epoch)
        if text.endswith("%"):
            try:
                pct = float(text[:-1])
            except ValueError:
                raise ValueError(f"warmup must be like '10%', got {request!r}") from None
            pct = check_float("warmup (percent)", pct, minimum=0.0, maximum=100.0, max_inclusive=False)
            return _ceil_ratio(pct / 100.0, total)
        try:
            number: Any = int(text)
        except ValueError:
            try:
                number = float(text)
            except ValueError:
                raise ValueError(f"warmup must be a number of steps (int), a ratio in [0, 1), a percentage like '10%', "
                                 f"epochs like '1ep' or 'auto', got {request!r}") from None
        return _resolve_request(number, total, optimizer, steps_per_epoch)
    if isinstance(request, bool) or not isinstance(request, numbers.Real):
        raise TypeError("warmup must be an int (steps), a float ratio in [0, 1), a string like '10%', '1ep' or "
                        f"'auto', got {request!r} ({type(request).__name__})")
    if isinstance(request, numbers.Integral):
        steps = int(request)
        if steps < 0:
            raise ValueError(f"warmup steps must be >= 0, got {steps}")
        return steps
    ratio = float(request)
    if not (math.isfinite(ratio) and 0.0 <= ratio < 1.0):
        hint = " (pass an int for a number of steps)" if math.isfinite(ratio) and ratio >= 1.0 and ratio == int(ratio) else ""
        raise ValueError(f"warmup ratio must be in [0, 1), got {request!r}{hint}")
    return _ceil_ratio(ratio, total)
