"""The registry of named schedules: names, aliases, normalisation, did-you-mean, plugins.

Names match ignoring case, ``-``, ``_`` and spaces. A factory is called as
``factory(*, num_training_steps, num_warmup_steps, **kwargs)`` (plus ``lr_init`` if it takes it;
an ``adaptive`` one as ``factory(optimizer, **kwargs)``); its keyword arguments are read from its
signature. Built-ins come from :data:`hf_sched.catalog.BUILTINS`, plugins from the entry-point
group ``hf_sched.schedules``.
"""

from __future__ import annotations

import difflib
import inspect
import warnings
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field
from typing import Any

from .catalog import BUILTINS
from .schedules import Schedule
from .warmup import schedule_warmup

__all__ = [
    "ENTRY_POINT_GROUP", "ScheduleInfo", "available_schedules", "build_resolved", "build_schedule", "canonical_name",
    "check_schedule_kwargs", "get_info", "iter_schedules", "normalize_name", "register", "unregister"
]

ENTRY_POINT_GROUP = "hf_sched.schedules"
_RESERVED = ("num_training_steps", "num_warmup_steps", "lr_init", "optimizer")


def normalize_name(name: str) -> str:
    """Lower-case and drop ``-``, ``_`` and spaces.

    >>> normalize_name("Cosine_With-Restarts ")
    'cosinewithrestarts'
    """
    if not isinstance(name, str):
        name = getattr(name, "value", name)  # a transformers SchedulerType
    if not isinstance(name, str):
        raise TypeError(f"schedule name must be a string, got {name!r} ({type(name).__name__})")
    return "".join(ch for ch in name.lower() if ch not in "-_ \t")


@dataclass(frozen=True)
class ScheduleInfo:
    """What the registry knows about one name (``adaptive``: a metric-driven torch scheduler).

    >>> info = get_info("cosine")
    >>> info.name, info.aliases, info.has_warmup
    ('warmupcosine', ('cosine',), True)
    """

    name: str
    factory: Callable[..., Any]
    aliases: tuple[str, ...] = ()
    description: str = ""
    has_warmup: bool = True
    adaptive: bool = False
    needs_total: bool = True
    kwargs: dict[str, Any] = field(default_factory=dict)
    #: whether the factory takes ``lr_init`` (the optimizer's peak LR)
    uses_lr: bool = False

    def signature(self) -> str:
        """``name(kw=default, ...)`` for listings.

        >>> get_info("noam").signature()
        "noam(d_model=None, factor=1.0, warmup_start=0.0, warmup_shape='linear')"
        """
        args = ", ".join(f"{k}={v!r}" for k, v in self.kwargs.items())
        return f"{self.name}({args})"


_REGISTRY: dict[str, ScheduleInfo] = {}
_LOOKUP: dict[str, str] = {}
_PLUGINS_LOADED = False


def _factory_kwargs(name: str, factory: Callable[..., Any], adaptive: bool) -> tuple[inspect.Signature, dict[str, Any]]:
    """The factory's signature, checked against how the registry calls it (``TypeError`` if it cannot work),
    and the keyword arguments it takes with their defaults."""
    what = f"factory {getattr(factory, '__qualname__', factory)!r} for schedule {name!r}"
    try:
        sig = inspect.signature(factory)
    except (TypeError, ValueError) as exc:
        raise TypeError(f"{what} has no readable signature ({exc}); register a Python function or class") from None
    params = list(sig.parameters.values())
    var_kw = any(p.kind is p.VAR_KEYWORD for p in params)
    shape = "factory(optimizer, **kwargs)" if adaptive else "factory(*, num_training_steps, num_warmup_steps, **kwargs)"
    positional = [p for p in params if p.kind in (p.POSITIONAL_ONLY, p.POSITIONAL_OR_KEYWORD)]
    if adaptive:
        if not positional and not any(p.kind is p.VAR_POSITIONAL for p in params):
            raise TypeError(f"{what} is adaptive and is called as {shape}, but its signature {sig} takes no positional "
                            "argument for the optimizer")
        rest = params[1:] if positional and params[0] is positional[0] else params
    else:
        rest = params
        for key in ("num_training_steps", "num_warmup_steps"):
            p = sig.parameters.get(key)
            if p is None and not var_kw:
                raise TypeError(f"{what} must accept the keyword argument {key!r} (it is called as {shape}); "
                                f"its signature is {sig}")
            if p is not None and p.kind is p.POSITIONAL_ONLY:
                raise TypeError(f"{what} takes {key!r} positional-only, but it is passed by keyword ({shape})")
        if "optimizer" in sig.parameters and sig.parameters["optimizer"].default is inspect.Parameter.empty:
            raise TypeError(f"{what} requires 'optimizer', which only adaptive factories receive; "
                            "register it with adaptive=True, or give optimizer a default")
    for p in rest:
        if p.kind is p.POSITIONAL_ONLY and p.default is p.empty:
            raise TypeError(f"{what} has the required positional-only parameter {p.name!r}, which the registry cannot "
                            f"pass (it is called as {shape}); its signature is {sig}")
    return sig, {p.name: None if p.default is p.empty else p.default for p in rest
                 if p.name not in _RESERVED and p.kind not in (p.VAR_POSITIONAL, p.VAR_KEYWORD)}


def register(name: str, factory: Callable[..., Any] | None = None, *, aliases: tuple[str, ...] | list[str] = (),
             description: str = "", has_warmup: bool = True, adaptive: bool = False, needs_total: bool = True,
             overwrite: bool = False) -> Any:
    """Register ``factory`` under ``name`` (usable as a decorator).

    ``factory(*, num_training_steps, num_warmup_steps, **kwargs) -> Schedule`` (``adaptive``:
    ``factory(optimizer, **kwargs)``); a signature the registry cannot call is a ``TypeError``.

    >>> from hf_sched.schedules import Linear
    >>> @register("halfway-linear", description="linear decay to half the peak")
    ... def halfway(*, num_training_steps, num_warmup_steps):
    ...     return Linear(num_training_steps, num_warmup_steps, min_lr_ratio=0.5)
    >>> build_schedule("halfway_linear", num_training_steps=10, num_warmup_steps=0)(10)
    0.5
    >>> unregister("halfway-linear")
    """
    if factory is None:
        return lambda f: register(name, f, aliases=aliases, description=description, has_warmup=has_warmup,
                                  adaptive=adaptive, needs_total=needs_total, overwrite=overwrite) or f
    if not callable(factory):
        raise TypeError(f"factory for schedule {name!r} must be callable, got {factory!r}")
    sig, kwargs = _factory_kwargs(name, factory, adaptive)
    keys = [normalize_name(name)] + [normalize_name(a) for a in aliases]
    if not keys[0]:
        raise ValueError(f"schedule name must contain a letter or digit, got {name!r}")
    for key in keys:
        owner = _LOOKUP.get(key)
        if owner is not None and owner != name and not overwrite:
            raise ValueError(f"schedule name {key!r} is already registered as {owner!r}; pass overwrite=True to "
                             "replace it")
    if name in _REGISTRY:
        if not overwrite:
            raise ValueError(f"schedule {name!r} is already registered; pass overwrite=True to replace it")
        unregister(name)
    _add(ScheduleInfo(
        name, factory, tuple(aliases), description or (inspect.getdoc(factory) or "").split("\n")[0],
        has_warmup, adaptive, needs_total, kwargs, "lr_init" in sig.parameters,
    ))
    return None


def _add(info: ScheduleInfo) -> None:
    _REGISTRY[info.name] = info
    for key in (info.name, *info.aliases):
        _LOOKUP[normalize_name(key)] = info.name


def unregister(name: str) -> None:
    """Remove a schedule and its aliases (by its name or any alias).

    >>> from hf_sched.schedules import Constant
    >>> register("flat", lambda **kw: Constant(kw["num_training_steps"]), aliases=("level",))
    >>> unregister("level"); "flat" in available_schedules()
    False
    """
    canonical = canonical_name(name)
    del _REGISTRY[canonical]
    for key in [k for k, v in _LOOKUP.items() if v == canonical]:
        del _LOOKUP[key]


def _load_plugins() -> None:
    global _PLUGINS_LOADED
    if _PLUGINS_LOADED:
        return
    _PLUGINS_LOADED = True
    from importlib.metadata import entry_points

    for ep in entry_points(group=ENTRY_POINT_GROUP):
        if normalize_name(ep.name) in _LOOKUP:
            continue
        factory = ep.load()
        try:
            register(ep.name, factory, aliases=tuple(getattr(factory, "aliases", ())),
                     description=getattr(factory, "description", ""), has_warmup=getattr(factory, "has_warmup", True))
        except (TypeError, ValueError) as exc:
            # one broken plugin must not make every name unusable: say so and skip it
            warnings.warn(f"skipping the hf_sched plugin {ep.name!r} ({ep.value}): {exc}", stacklevel=2)


def canonical_name(name: str) -> str:
    """The canonical name for ``name`` or an alias (unknown: ``ValueError`` with did-you-mean).

    >>> canonical_name("LINEAR"), canonical_name("cosine_with_restarts")
    ('warmuplinear', 'warmupcosinewithhardrestarts')
    """
    key = normalize_name(name)
    if key not in _LOOKUP:
        _load_plugins()
    if key not in _LOOKUP:
        names = available_schedules()
        close = difflib.get_close_matches(key, list(_LOOKUP), n=1, cutoff=0.5)
        hint = f" Did you mean {_LOOKUP[close[0]]!r}?" if close else ""
        raise ValueError(f"unknown schedule name {name!r}.{hint} Available: {', '.join(names)}")
    return _LOOKUP[key]


def get_info(name: str) -> ScheduleInfo:
    """The :class:`ScheduleInfo` of a name or alias (any spelling, see :func:`normalize_name`).

    >>> get_info("Hard-Restarts").name
    'warmupcosinewithhardrestarts'
    """
    return _REGISTRY[canonical_name(name)]


def available_schedules() -> list[str]:
    """Canonical names, in registration order (built-ins first).

    >>> "warmupcosine" in available_schedules()
    True
    """
    _load_plugins()
    return list(_REGISTRY)


def iter_schedules() -> Iterator[ScheduleInfo]:
    """Every :class:`ScheduleInfo`, built-ins first.

    >>> [i.name for i in iter_schedules() if i.adaptive]
    ['reduce_lr_on_plateau', 'greedy']
    """
    for name in available_schedules():
        yield _REGISTRY[name]


def check_schedule_kwargs(name: str, kwargs: dict[str, Any] | None) -> dict[str, Any]:
    """Return ``kwargs`` if the schedule accepts every key, else raise ``ValueError``.

    >>> check_schedule_kwargs("warmupcosine", {"num_cycles": 2})
    {'num_cycles': 2}
    """
    info = get_info(name)
    kwargs = dict(kwargs or {})
    unknown = sorted(set(kwargs) - set(info.kwargs))
    if unknown:
        accepted = ", ".join(f"{k} (default {v!r})" for k, v in info.kwargs.items()) or "none"
        raise ValueError(f"schedule {info.name!r} got unknown argument(s) {', '.join(map(repr, unknown))}; "
                         f"it accepts: {accepted}")
    return kwargs


def build_schedule(name: str, *, num_training_steps: int, num_warmup_steps: Any = None, lr_init: float | None = None,
                   optimizer: Any = None, **kwargs: Any) -> Schedule:
    """Build the pure schedule named ``name``.

    ``num_warmup_steps``: any warmup request (:func:`hf_sched.warmup.schedule_warmup`).

    >>> s = build_schedule("warmuplinear", num_training_steps=1000, num_warmup_steps="5%")
    >>> s.num_warmup_steps, s(50), s(1000)
    (50, 1.0, 0.0)
    """
    info = get_info(name)
    if info.adaptive:
        raise ValueError(f"{info.name!r} is an adaptive (metric-driven) scheduler, not a pure schedule; "
                         "build it with hf_sched.get_scheduler(name, optimizer, ...)")
    kwargs = check_schedule_kwargs(info.name, kwargs)
    warmup = schedule_warmup(info.name, info.has_warmup, num_warmup_steps, num_training_steps, optimizer)
    return build_resolved(info, num_training_steps, warmup, lr_init, kwargs)


def build_resolved(info: ScheduleInfo, total: int, warmup: int, lr_init: float | None,
                   kwargs: dict[str, Any]) -> Schedule:
    """``info``'s schedule for a resolved run: ``total`` steps, ``warmup`` steps, checked ``kwargs``."""
    extra = {"lr_init": lr_init} if info.uses_lr else {}
    return info.factory(num_training_steps=total, num_warmup_steps=warmup, **extra, **kwargs)


for _row in BUILTINS:
    _add(ScheduleInfo(_row.name, _row.build, _row.aliases, _row.description, _row.has_warmup, _row.adaptive,
                      _row.needs_total, _row.kwargs, _row.uses_lr))
