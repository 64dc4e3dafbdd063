"""Reference LR sequences from torch schedulers, and closeness checks, for the schedule tests.

Index convention. Our ``f(s)`` is the multiplier for the optimizer step that follows ``s``
steps already taken. A torch scheduler, after ``k`` calls of ``.step()``, holds in
``group["lr"]`` the LR for the next optimizer step, i.e. the one after ``k`` steps taken.
So ``torch_lrs(...)[k]`` (read before the ``k+1``-th ``optimizer.step()``) is compared with
``peak * f(k)``: the same index, no shift. References written out in the tests from their
definitions (d2l's classes, BERT's TF code, timm's cycle rule) use the index each
definition names, as stated next to each.
"""

from __future__ import annotations

from typing import Any, Callable

import torch

__all__ = ["TOL", "close", "assert_seq_close", "make_optimizer", "torch_lrs"]


TOL = 1e-12


def close(a: float, b: float, tol: float = TOL) -> bool:
    """``|a - b| <= tol * max(1, |b|)``: relative for large values, absolute near 0."""
    return abs(a - b) <= tol * max(1.0, abs(b))


def assert_seq_close(got: list[float], want: list[float], tol: float = TOL) -> None:
    assert len(got) == len(want)
    bad = [(i, g, w) for i, (g, w) in enumerate(zip(got, want)) if not close(g, w, tol)]
    assert not bad, f"first mismatches (index, got, want): {bad[:5]}"


def make_optimizer(lr: float = 0.1, kind: str = "sgd") -> torch.optim.Optimizer:
    p = [torch.nn.Parameter(torch.zeros(2))]
    if kind == "adamw":
        return torch.optim.AdamW(p, lr=lr)
    return torch.optim.SGD(p, lr=lr, momentum=0.9)


def torch_lrs(make: Callable[[torch.optim.Optimizer], Any], n: int, lr: float = 0.1) -> list[float]:
    """LR in the group after ``k`` scheduler steps, ``k = 0..n`` (the LR of optimizer step ``k+1``)."""
    opt = make_optimizer(lr)
    sched = make(opt)
    out = [float(opt.param_groups[0]["lr"])]
    for _ in range(n):
        opt.step()
        sched.step()
        out.append(float(opt.param_groups[0]["lr"]))
    return out
