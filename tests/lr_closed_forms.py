"""Closed forms of the schedules the integration tests check, written out independently of hf_sched.

``f(s)`` is the multiplier of the peak LR after ``s`` optimizer steps; a trainer that logs
the LR used by optimizer step ``k`` (1-based) logs ``peak * f(k - 1)``.
"""

from __future__ import annotations

import math


def warmupcosine(total: int, warmup: int, num_cycles: float = 0.5):
    def f(s: int) -> float:
        if s < warmup:
            return s / warmup
        p = min(1.0, (s - warmup) / max(1, total - warmup))
        return max(0.0, 0.5 * (1 + math.cos(math.pi * 2 * num_cycles * p)))

    return f


def warmuplinear(total: int, warmup: int):
    def f(s: int) -> float:
        if s < warmup:
            return s / warmup
        return max(0.0, 1.0 - (s - warmup) / max(1, total - warmup))

    return f


def hard_restarts(total: int, warmup: int, num_cycles: float = 1.0):
    def f(s: int) -> float:
        if s < warmup:
            return s / warmup
        p = (s - warmup) / max(1, total - warmup)
        return 0.0 if p >= 1 else 0.5 * (1 + math.cos(math.pi * ((num_cycles * p) % 1.0)))

    return f


def default_warmup(total: int) -> int:
    """10% of the steps, rounded up (exact integer arithmetic)."""
    return -(-total // 10)


def warmup_stable_linear_decay(warmup: int, decay_start: int, decay_steps: int):
    """Linear warmup over ``warmup`` steps, 1 until ``decay_start``, then linear to 0 over ``decay_steps``."""

    def f(s: int) -> float:
        if s < warmup:
            return s / warmup
        if s < decay_start:
            return 1.0
        return max(0.0, 1.0 - (s - decay_start) / decay_steps)

    return f
