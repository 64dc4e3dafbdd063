"""From the command line to a Schedule: ``NAME[:key=value,...]``, ``--kwargs`` and ``--warmup``.

:func:`build` is what ``show`` and ``plot`` share: it resolves a name spec and the schedule
flags of one run into a :class:`Built` (the Schedule, its registry info, its label), or
raises :class:`~hf_sched.cli.errors.UsageError` with one line naming the flag, the value
and what is allowed.

>>> parse_name_spec("hard-restarts:num_cycles=3")
('hard-restarts', {'num_cycles': 3})
"""

from __future__ import annotations

import argparse
import difflib
import json
import math
import re
from dataclasses import dataclass
from typing import Any

from ..checks import check_kwargs
from .errors import UsageError

__all__ = [
    "ADAM_BETA2",
    "AdamLike",
    "Built",
    "build",
    "parse_name_spec",
    "parse_kwargs",
    "check_warmup_text",
    "resolve_epoch_warmup",
    "about_warmup",
    "as_usage_error",
]

#: torch.optim.AdamW's default beta2, used by ``--warmup auto``.
ADAM_BETA2 = 0.999


class AdamLike:
    """Just enough of an Adam optimizer for ``warmup='auto'`` (it reads ``betas``)."""

    def __init__(self, beta2: float) -> None:
        self.param_groups = [{"betas": (0.9, beta2)}]


def _parse_value(text: str) -> Any:
    try:
        return json.loads(text)
    except RecursionError:
        raise UsageError(f"a NAME:key=value value is nested too deeply to read: {text[:40]!r}...") from None
    except ValueError:
        return text


def parse_name_spec(spec: str) -> tuple[str, dict[str, Any]]:
    """Split ``NAME:key=value,key=value`` into the name and its keyword arguments.

    Values are JSON (``2``, ``0.5``, ``null``, ``"x"``) or else plain text; a key given
    twice is an error.

    >>> parse_name_spec("hard-restarts:num_cycles=3,warmup_shape=cosine")
    ('hard-restarts', {'num_cycles': 3, 'warmup_shape': 'cosine'})
    >>> parse_name_spec("noam")
    ('noam', {})
    """
    name, sep, rest = spec.partition(":")
    kwargs: dict[str, Any] = {}
    if sep:
        for part in filter(None, (p.strip() for p in rest.split(","))):
            key, eq, value = part.partition("=")
            key = key.strip()
            if not eq or not key:
                raise UsageError(
                    f"schedule {spec!r}: expected NAME:key=value[,key=value...], got {part!r} "
                    f"(e.g. warmupcosine:num_cycles=2)"
                )
            if key in kwargs:
                raise UsageError(f"schedule {spec!r}: {key!r} is given twice; give each key once")
            kwargs[key] = _parse_value(value.strip())
    return name.strip(), kwargs


def parse_kwargs(text: str | None) -> dict[str, Any]:
    """``--kwargs`` as a dict: a JSON object, or a UsageError that says why not.

    The checks are :func:`hf_sched.checks.check_kwargs`, shared with ``get_scheduler``
    and the Trainer's ``--lr_scheduler_kwargs``.

    >>> parse_kwargs('{"num_cycles": 2}')
    {'num_cycles': 2}
    """
    try:
        return check_kwargs("--kwargs", text)
    except (TypeError, ValueError) as exc:
        raise UsageError(str(exc)) from None


def check_warmup_text(request: str | None) -> None:
    """Refuse a ``--warmup`` that is a number but not a finite one (``inf``, ``1e400``, ``nan``).

    Everything else is left to :func:`hf_sched.warmup.resolve_warmup`, whose messages name
    the allowed forms and ranges.

    >>> check_warmup_text("10%"), check_warmup_text("100")
    (None, None)
    """
    if request is None:
        return
    try:
        value = float(request)
    except ValueError:
        return
    if not math.isfinite(value):
        raise UsageError(
            f"--warmup {request!r}: must be a whole number of steps, a ratio in [0, 1), a percentage like "
            f"'10%', epochs like '1ep' or 'auto', got a non-finite number"
        )


def resolve_epoch_warmup(args: argparse.Namespace, name: str) -> Any:
    """``--warmup``, with a request in epochs turned into steps by ``--steps-per-epoch``.

    Any other request goes to the registry as it is.
    """
    from ..warmup import is_epoch_request, resolve_warmup

    if not is_epoch_request(args.warmup):
        return args.warmup
    spe = getattr(args, "steps_per_epoch", None)
    if spe is None:
        raise UsageError(
            f"--warmup {args.warmup!r} is given in epochs, which needs the optimizer steps per epoch: give "
            "--steps-per-epoch N (hf-sched steps prints it), or the warmup in steps"
        )
    try:
        return resolve_warmup(args.warmup, args.steps, AdamLike(args.beta2), steps_per_epoch=spe)
    except (ValueError, TypeError) as exc:
        raise as_usage_error(exc, args.warmup, name) from None


def _warmup_on_the_clock(args: argparse.Namespace, name: str) -> Any:
    """``--warmup`` for ``build``: in ``--steps``' unit when the run is in tokens/samples, else as
    :func:`resolve_epoch_warmup` gives it. Mixing a clock with steps is a UsageError naming both flags."""
    from ..clock import clock_units, is_amount

    unit = getattr(args, "unit", None)
    if unit is None and not is_amount(args.warmup):
        return resolve_epoch_warmup(args, name)
    total = f"{args.steps:,} {unit}" if unit else args.steps
    try:
        _, given = clock_units(name, {"--steps": total, "--warmup": args.warmup}, totals=("--steps",),
                               warmups=("--warmup",))
    except ValueError as exc:
        raise UsageError(str(exc)) from None
    return given["--warmup"]


def about_warmup(message: str) -> bool:
    """Whether an error message is about the warmup request (not warmup_start/_shape)."""
    return bool(re.search(r"num_warmup_steps|\bwarmup\b(?!_)", message))


def as_usage_error(exc: Exception, warmup: str | None, name: str = "") -> UsageError:
    """A library error as a UsageError: named after ``--warmup`` when it is about the warmup, else ``name``.

    >>> str(as_usage_error(ValueError("warmup ratio must be in [0, 1), got 1.5"), "1.5"))
    "--warmup '1.5': warmup ratio must be in [0, 1), got 1.5"
    """
    if warmup is not None and about_warmup(str(exc)):
        return UsageError(f"--warmup {warmup!r}: {exc}")
    return UsageError(f"{name}: {exc}" if name else str(exc))


@dataclass
class Built:
    """One schedule of the command line: its spec, canonical name, kwargs, Schedule and info."""

    spec: str
    name: str
    kwargs: dict[str, Any]
    schedule: Any
    info: Any
    label: str = ""


def build(spec: str, args: argparse.Namespace, command: str) -> Built:
    """Resolve ``NAME[:k=v,...]`` plus ``--kwargs``, ``--steps``, ``--warmup``, ``--lr`` into a Schedule.

    Raises UsageError for an unknown name or kwarg, a metric-driven name (no curve), a bad
    value, or a schedule whose LR is not finite at the given ``--lr``.
    """
    from ..plot import sample_steps
    from ..registry import build_schedule, get_info

    raw_name, own = parse_name_spec(spec)
    try:
        info = get_info(raw_name)
    except ValueError as exc:
        raise UsageError(f"{exc} (see: hf-sched list)") from None
    if info.adaptive:
        raise UsageError(
            f"{info.name!r} is metric-driven: it changes the LR from a validation metric while training "
            f"(it delegates to torch/transformers), so it has no curve for '{command}'. "
            "Pick a pure schedule from 'hf-sched list'."
        )
    given = parse_kwargs(args.kwargs)
    clash = sorted(k for k in own if k in given and given[k] != own[k])
    if clash:
        both = "; ".join(f"{k}={own[k]!r} in the name, {given[k]!r} in --kwargs" for k in clash)
        raise UsageError(
            f"{spec!r} and --kwargs {args.kwargs!r} give {', '.join(map(repr, clash))} two values ({both}); "
            "give each argument once, in the name or in --kwargs"
        )
    kwargs = {**given, **own}
    unknown = [k for k in kwargs if k not in info.kwargs]
    if unknown:
        hints = []
        for k in unknown:
            close = difflib.get_close_matches(k, list(info.kwargs), n=1, cutoff=0.6)
            hints.append(f"{k!r}" + (f" (did you mean {close[0]!r}?)" if close else ""))
        accepted = ", ".join(f"{k}={v!r}" for k, v in info.kwargs.items()) or "none"
        raise UsageError(f"schedule {info.name!r} has no argument {', '.join(hints)}; it accepts: {accepted}")
    check_warmup_text(args.warmup)
    warmup = _warmup_on_the_clock(args, info.name)
    try:
        schedule = build_schedule(
            info.name,
            num_training_steps=args.steps,
            num_warmup_steps=warmup,
            lr_init=args.lr,
            optimizer=AdamLike(args.beta2),
            **kwargs,
        )
    except (ValueError, TypeError) as exc:
        raise as_usage_error(exc, args.warmup, info.name) from None
    probe = sample_steps(schedule.num_training_steps, schedule.num_warmup_steps, max_dense=4096)
    values = schedule.values(probe) * args.lr
    bad = ~(abs(values) < math.inf)
    if bad.any():
        step = int(probe[bad.argmax()])
        raise UsageError(
            f"{info.name}: the LR is not a finite number at step {step:,} (--lr {args.lr:g} x the schedule's "
            f"{float(schedule(step))!r}); lower --lr or the schedule's kwargs"
        )
    label = info.name
    if own or kwargs:
        label += "(" + ", ".join(f"{k}={v!r}" for k, v in kwargs.items()) + ")"
    return Built(spec, info.name, kwargs, schedule, info, label)
