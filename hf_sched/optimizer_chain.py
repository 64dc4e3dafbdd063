"""The chain of optimizer objects one optimizer wraps: Accelerate's, DeepSpeed's and schedulefree's wrappers.

Wrappers hold the optimizer they drive under ``.optimizer`` (Accelerate's
``AcceleratedOptimizer``, DeepSpeed's) or ``.base`` (schedulefree's ``ScheduleFreeWrapper``).
:func:`optimizer_chain` lists the given object and everything below it, outermost first, so a
caller can pick the one it needs: the deepest torch optimizer (where step hooks run), or a
schedule-free optimizer anywhere in the chain.

>>> import torch
>>> opt = torch.optim.SGD([torch.nn.Parameter(torch.zeros(1))], lr=0.1)
>>> class Wrapper:
...     def __init__(self, optimizer): self.optimizer = optimizer
>>> [type(o).__name__ for o in optimizer_chain(Wrapper(opt))]
['Wrapper', 'SGD']
>>> deepest_torch_optimizer(Wrapper(opt)) is opt
True
"""

from __future__ import annotations

from typing import Any

import torch

__all__ = ["deepest_torch_optimizer", "optimizer_chain"]

_LINKS = ("optimizer", "base")
_MAX_DEPTH = 8


def optimizer_chain(optimizer: Any) -> list[Any]:
    """``[optimizer, optimizer.optimizer (or .base), ...]``, outermost first, without repeats."""
    chain = [optimizer]
    node = optimizer
    for _ in range(_MAX_DEPTH):
        below = next((getattr(node, link) for link in _LINKS if getattr(node, link, None) is not None), None)
        if below is None or any(below is seen for seen in chain):
            break
        chain.append(below)
        node = below
    return chain


def deepest_torch_optimizer(optimizer: Any) -> torch.optim.Optimizer:
    """The deepest ``torch.optim.Optimizer`` of the chain: the one whose ``step()`` really runs (and its hooks).

    Raises ``TypeError`` when the chain holds none.
    """
    found = [o for o in optimizer_chain(optimizer) if isinstance(o, torch.optim.Optimizer)
             and hasattr(o, "_optimizer_step_pre_hooks")]
    if not found:
        raise TypeError(f"optimizer must be (or wrap) a torch.optim.Optimizer, got {type(optimizer).__name__}")
    return found[-1]
