"""Stop a training run whose loss or gradients turn non-finite, in one line that says what to try.

A run with too high a learning rate (or a bad batch, or fp16 overflow without loss scaling)
can turn its weights to NaN and go on "training" for hours: the loss is NaN, the accuracy is
the majority class, and nothing fails. :class:`DivergenceGuard` is the check a loop makes once
per optimizer step, **after** ``backward()`` and **before** ``optimizer.step()``:

* the rule: the first optimizer step whose loss (the mean of its micro-batches) or gradient
  norm ``sqrt(sum_p ||grad_p||^2)`` is NaN or infinite stops the run: no patience, since a
  non-finite step written into the weights cannot be undone, and one such step makes every
  later one non-finite too;
* the step is refused *before* the optimizer applies it, so the weights (and every
  checkpoint saved so far) are those of the last good step, finite and resumable;
* under fp16 loss scaling an infinite gradient norm is no divergence (``GradScaler`` skips
  that step and lowers its scale): pass ``grad_norm=None`` there, and the loss is checked alone.

It raises :class:`DivergenceError`, whose message is one line: what diverged, at which
optimizer step (1-based, the step that was refused), at which LR, and what to try.

Example (a plain PyTorch loop)::

    guard = DivergenceGuard()
    for step, batch in enumerate(loader, start=1):
        loss = model(**batch).loss
        loss.backward()
        guard.check(step, loss=loss, grad_norm=gradient_norm(model.parameters()),
                    lr=optimizer.param_groups[0]["lr"])      # raises DivergenceError
        optimizer.step(); scheduler.step(); optimizer.zero_grad()

>>> guard = DivergenceGuard()
>>> guard.check(1, loss=0.69, grad_norm=3.2)
>>> guard.last_good_step
1
>>> try:
...     guard.check(2, loss=float("nan"), grad_norm=float("inf"), lr=1e30)
... except DivergenceError as exc:
...     print(exc)
training diverged at optimizer step 2: the loss is nan and the gradient norm is inf (LR 1e+30); the step was
not taken, the weights are those after step 1. Try a lower learning rate, a longer warmup or gradient
clipping, from a checkpoint saved before this step or from the start
"""

from __future__ import annotations

import math
from typing import Any, Iterable, Optional

__all__ = ["DivergenceError", "DivergenceGuard", "gradient_norm", "DEFAULT_ADVICE"]

#: What the message advises when the caller gives no advice of its own (a recipe names its flags).
DEFAULT_ADVICE = ("Try a lower learning rate, a longer warmup or gradient clipping, from a checkpoint saved before "
                  "this step or from the start")


class DivergenceError(RuntimeError):
    """A training step whose loss or gradient norm is not finite (raised before the step is taken).

    Attributes: ``step`` (1-based optimizer step refused), ``loss`` and ``grad_norm`` (floats,
    ``None`` where not given), ``lr`` (or ``None``), ``last_good_step`` (``step - 1``).
    """

    def __init__(self, message: str, *, step: int, loss: Optional[float], grad_norm: Optional[float],
                 lr: Optional[float]) -> None:
        super().__init__(message)
        self.step = step
        self.loss = loss
        self.grad_norm = grad_norm
        self.lr = lr
        self.last_good_step = step - 1


def _as_float(name: str, value: Any) -> Optional[float]:
    """A Python float from a number or a one-element tensor (``None`` stays ``None``)."""
    if value is None:
        return None
    if hasattr(value, "detach"):  # a torch tensor: one value, the loss or the norm
        if value.numel() != 1:
            raise ValueError(f"{name} must be one number (a 1-element tensor), got a tensor of shape "
                             f"{tuple(value.shape)}")
        value = value.detach().float().item()
    if isinstance(value, bool) or not isinstance(value, (int, float)) and not hasattr(value, "__float__"):
        raise TypeError(f"{name} must be a number or a 1-element tensor, got {value!r} ({type(value).__name__})")
    return float(value)


def _describe(name: str, value: Optional[float]) -> Optional[str]:
    return None if value is None or math.isfinite(value) else f"the {name} is {value}"


class DivergenceGuard:
    """Checks each optimizer step's loss and gradient norm; raises :class:`DivergenceError` at the first non-finite one.

    ``advice`` replaces :data:`DEFAULT_ADVICE` in the message (a recipe names its own flags).
    ``last_good_step`` is the last step that passed (0 before any).

    >>> DivergenceGuard(advice="Lower --learning_rate").check(1, loss=float("inf"))
    Traceback (most recent call last):
    ...
    hf_sched.divergence.DivergenceError: training diverged at optimizer step 1: the loss is inf; the step was
    not taken, the weights are those before training. Lower --learning_rate
    """

    def __init__(self, advice: str = DEFAULT_ADVICE) -> None:
        if not isinstance(advice, str) or not advice.strip():
            raise ValueError(f"advice must be a non-empty string (what the user should try), got {advice!r}")
        self.advice = advice.strip()
        self.last_good_step = 0

    def check(self, step: int, *, loss: Any = None, grad_norm: Any = None, lr: Any = None) -> None:
        """Refuse optimizer step ``step`` (1-based) if ``loss`` or ``grad_norm`` is NaN or infinite.

        Call it after ``backward()`` (and after clipping, which returns the norm) and before
        ``optimizer.step()``. ``lr`` only goes into the message.
        """
        if isinstance(step, bool) or not isinstance(step, int) or step < 1:
            raise ValueError(f"step must be the 1-based optimizer step (an int >= 1), got {step!r}")
        loss_value, norm_value = _as_float("loss", loss), _as_float("grad_norm", grad_norm)
        problems = [p for p in (_describe("loss", loss_value), _describe("gradient norm", norm_value)) if p]
        if not problems:
            self.last_good_step = step
            return
        lr_value = _as_float("lr", lr)
        at = f" (LR {lr_value:.3g})" if lr_value is not None else ""
        before = f"after step {step - 1}" if step > 1 else "before training"
        message = (f"training diverged at optimizer step {step}: {' and '.join(problems)}{at}; the step was not "
                   f"taken, the weights are those {before}. {self.advice}")
        raise DivergenceError(message, step=step, loss=loss_value, grad_norm=norm_value, lr=lr_value)


def gradient_norm(parameters: Iterable[Any]) -> float:
    """The L2 norm of all gradients, ``sqrt(sum_p ||grad_p||^2)``, as a float (NaN and inf propagate).

    Parameters without a gradient are skipped; no gradient at all gives 0.0.

    >>> import torch
    >>> p = torch.nn.Parameter(torch.zeros(2)); p.grad = torch.tensor([3.0, 4.0])
    >>> gradient_norm([p])
    5.0
    """
    import torch

    norms = [p.grad.detach().float().norm() for p in parameters if getattr(p, "grad", None) is not None]
    if not norms:
        return 0.0
    return float(torch.stack([n.to(norms[0].device) for n in norms]).norm())
