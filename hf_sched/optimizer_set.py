"""Several optimizers under one schedule: :class:`OptimizerSet`, one ``torch.optim.Optimizer`` made of members.

Muon for the 2-D weights and AdamW for the rest is two optimizers, but one training step and
one LR plan. An :class:`OptimizerSet` is a torch ``Optimizer`` whose ``param_groups`` are its
members' group dicts (the same objects, in member order), whose ``step()`` steps every member
once, and whose ``state_dict()`` is its members' state dicts. A step of the set (every member
stepped once since the last one) runs the set's step hooks once, so
:class:`~hf_sched.lr_scheduler.ScheduledLR` hooked to the set counts ``s`` = steps of the whole
set and writes ``lr_g = base_lr_g * f(s)`` into every member's groups, each from its own peak.

``get_scheduler(name, [muon, adamw], ...)`` builds the set for you (``scheduler.optimizer``).

>>> import torch
>>> w, b = torch.nn.Parameter(torch.ones(2, 2)), torch.nn.Parameter(torch.zeros(2))
>>> opts = OptimizerSet([torch.optim.SGD([w], lr=0.1), torch.optim.AdamW([b], lr=1e-3)])
>>> [g["lr"] for g in opts.param_groups], opts.param_groups[1] is opts.members[1].param_groups[0]
([0.1, 0.001], True)
>>> seen = []
>>> _ = opts.register_step_post_hook(lambda opt, args, kwargs: seen.append("step"))
>>> opts.step(); seen                    # both members stepped: one step of the set
['step']
"""

from __future__ import annotations

from collections import OrderedDict
from collections.abc import Callable, Sequence
from typing import Any

import torch
from torch.optim import Optimizer

from .optimizer_chain import deepest_torch_optimizer

__all__ = ["OptimizerSet", "as_optimizer"]

_STATE_FORMAT = "hf_sched.OptimizerSet/1"


def _check_members(optimizers: Any) -> list[Optimizer]:
    """The members as a list: torch optimizers, at least one, none twice, no parameter in two."""
    if not isinstance(optimizers, (list, tuple)):
        raise TypeError(f"optimizers must be a list or tuple of torch.optim.Optimizer, got {type(optimizers).__name__}")
    if not optimizers:
        raise ValueError("optimizers is an empty list: give at least one torch.optim.Optimizer (e.g. [muon, adamw])")
    for i, opt in enumerate(optimizers):
        if not isinstance(opt, Optimizer):
            raise TypeError(f"optimizers[{i}] must be a torch.optim.Optimizer, got {opt!r} ({type(opt).__name__})")
        if isinstance(opt, OptimizerSet):
            raise TypeError(f"optimizers[{i}] is itself an OptimizerSet: list its members instead (sets do not nest)")
    owner: dict[int, int] = {}
    for i, opt in enumerate(optimizers):
        first = next((j for j in range(i) if optimizers[j] is opt), None)
        if first is not None:
            raise ValueError(f"optimizers[{i}] is optimizers[{first}] again ({type(opt).__name__}): give each "
                             "optimizer once, or it would step twice per training step")
        for group in opt.param_groups:
            for p in group["params"]:
                j = owner.setdefault(id(p), i)
                if j != i:
                    raise ValueError(f"a parameter of shape {tuple(p.shape)} is in optimizers[{j}] "
                                     f"({type(optimizers[j]).__name__}) and in optimizers[{i}] ({type(opt).__name__}): "
                                     "each parameter must belong to one optimizer, or it is updated twice per step")
    return list(optimizers)


class OptimizerSet(Optimizer):
    """Several torch optimizers stepped as one: ``step()`` steps each member once (in order).

    ``param_groups`` is ``[*members[0].param_groups, *members[1].param_groups, ...]`` (the
    members' own dicts, read live), ``state_dict()`` is ``{"format", "members": [each member's
    state dict]}``. The set's step hooks run once per step of the whole set: when every member
    has stepped since the last one (``set.step()``, or each member's own ``step()`` in any
    order; a member stepped twice in one round counts once). ``zero_grad`` clears every member.

    >>> import torch
    >>> a = torch.optim.SGD([torch.nn.Parameter(torch.zeros(1))], lr=0.1)
    >>> OptimizerSet([a, a])
    Traceback (most recent call last):
    ...
    ValueError: optimizers[1] is optimizers[0] again (SGD): give each optimizer once, or it would step twice per training step
    """

    def __init__(self, optimizers: Sequence[Optimizer]) -> None:  # noqa: D107 - the class says it
        # Optimizer.__init__ would copy the params into new groups: the set keeps its members' own.
        self.members: list[Optimizer] = _check_members(optimizers)
        self.defaults: dict[str, Any] = {}  # the members' defaults differ; each group carries its own
        self._optimizer_step_pre_hooks: OrderedDict[int, Callable[..., Any]] = OrderedDict()
        self._optimizer_step_post_hooks: OrderedDict[int, Callable[..., Any]] = OrderedDict()
        self._optimizer_state_dict_pre_hooks: OrderedDict[int, Callable[..., Any]] = OrderedDict()
        self._optimizer_state_dict_post_hooks: OrderedDict[int, Callable[..., Any]] = OrderedDict()
        self._optimizer_load_state_dict_pre_hooks: OrderedDict[int, Callable[..., Any]] = OrderedDict()
        self._optimizer_load_state_dict_post_hooks: OrderedDict[int, Callable[..., Any]] = OrderedDict()
        self._zero_grad_profile_name = "Optimizer.zero_grad#OptimizerSet.zero_grad"
        self._warned_capturable_if_run_uncaptured = True
        self._hook_members()

    def _hook_members(self) -> None:
        """Watch each member's steps (on the torch optimizer that really steps, below any wrapper)."""
        self._stepped = 0  # bit i: member i has stepped since the set's last step
        self._all = (1 << len(self.members)) - 1
        self._member_handles = [deepest_torch_optimizer(m).register_step_post_hook(self._member_post_hook(i))
                                for i, m in enumerate(self.members)]

    def _member_post_hook(self, i: int) -> Callable[[Any, Any, Any], None]:
        bit = 1 << i

        def stepped(optimizer: Any, args: Any, kwargs: Any) -> None:
            self._stepped |= bit
            if self._stepped == self._all:  # every member has stepped: one step of the set
                self._stepped = 0
                for hook in list(self._optimizer_step_post_hooks.values()):
                    hook(self, (), {})

        return stepped

    @property
    def param_groups(self) -> list[dict[str, Any]]:  # type: ignore[override]
        """Every member's param groups (the same dicts), member by member."""
        return [g for m in self.members for g in m.param_groups]

    @property
    def state(self) -> dict[Any, Any]:  # type: ignore[override]
        """Every member's per-parameter state (read-only view: a new dict)."""
        return {p: s for m in self.members for p, s in m.state.items()}

    def step(self, closure: Callable[[], Any] | None = None) -> Any:
        """Step every member once; a ``closure`` is evaluated once (with grad) and its loss returned."""
        loss = None
        if closure is not None:
            with torch.enable_grad():
                loss = closure()
        for hook in list(self._optimizer_step_pre_hooks.values()):
            hook(self, (), {})
        for m in self.members:
            m.step()
        return loss

    def zero_grad(self, set_to_none: bool = True) -> None:
        """``zero_grad`` of every member."""
        for m in self.members:
            m.zero_grad(set_to_none=set_to_none)

    def add_param_group(self, param_group: dict[str, Any]) -> None:
        """Refused: say which member takes the group (``set.members[i].add_param_group(...)``)."""
        raise TypeError("OptimizerSet.add_param_group: a set cannot tell which member should take the group; call "
                        "set.members[i].add_param_group(group) on the member that should train it")

    def state_dict(self) -> dict[str, Any]:
        """``{"format", "members": [m.state_dict() for m in members]}``: one state for the whole set."""
        return {"format": _STATE_FORMAT, "members": [m.state_dict() for m in self.members]}

    def load_state_dict(self, state_dict: dict[str, Any]) -> None:
        """Load each member's state; then the set's load hooks run (a scheduler learns the new group dicts)."""
        if not isinstance(state_dict, dict) or state_dict.get("format") != _STATE_FORMAT:
            keys = sorted(map(str, state_dict)) if isinstance(state_dict, dict) else type(state_dict).__name__
            raise ValueError(f"state_dict is not an OptimizerSet state (format {_STATE_FORMAT!r}); got keys {keys}")
        members = state_dict.get("members")
        if not isinstance(members, (list, tuple)) or len(members) != len(self.members):
            got = len(members) if isinstance(members, (list, tuple)) else repr(members)
            raise ValueError(f"state_dict['members'] must hold one state per member ({len(self.members)}: "
                             f"{[type(m).__name__ for m in self.members]}), got {got}")
        for hook in list(self._optimizer_load_state_dict_pre_hooks.values()):
            hook(self, state_dict)
        for m, s in zip(self.members, members):
            m.load_state_dict(s)
        for hook in list(self._optimizer_load_state_dict_post_hooks.values()):
            hook(self)

    def __getstate__(self) -> dict[str, Any]:
        return {"members": self.members}

    def __setstate__(self, state: dict[str, Any]) -> None:
        self.__init__(state["members"])  # type: ignore[misc]

    def __repr__(self) -> str:
        return f"OptimizerSet({', '.join(type(m).__name__ for m in self.members)})"


def as_optimizer(optimizer: Any) -> Any:
    """``optimizer`` itself, or an :class:`OptimizerSet` of a list or tuple of optimizers.

    >>> import torch
    >>> sgd = torch.optim.SGD([torch.nn.Parameter(torch.zeros(1))], lr=0.1)
    >>> as_optimizer(sgd) is sgd, as_optimizer([sgd])
    (True, OptimizerSet(SGD))
    """
    return OptimizerSet(optimizer) if isinstance(optimizer, (list, tuple)) else optimizer
