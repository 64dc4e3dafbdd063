"""hf_sched.divergence: the guard a plain PyTorch loop calls once per optimizer step (real loops, no mocks)."""

from __future__ import annotations

import math

import pytest
import torch

from hf_sched import DivergenceError, DivergenceGuard, get_scheduler, gradient_norm


def _loop(lr: float, steps: int = 8, guard: DivergenceGuard | None = None,
          seen: list | None = None) -> tuple[torch.nn.Module, list[float]]:
    """A real regression loop (Linear on seeded data) with AdamW and warmuplinear; the guard before each step."""
    torch.manual_seed(0)
    model = torch.nn.Sequential(torch.nn.Linear(4, 16), torch.nn.Tanh(), torch.nn.Linear(16, 1))
    x, y = torch.randn(64, 4), torch.randn(64, 1)
    if seen is not None:
        seen.append(model)
    optimizer = torch.optim.AdamW(model.parameters(), lr=lr)
    scheduler = get_scheduler("warmuplinear", optimizer, num_warmup_steps=0, num_training_steps=steps)
    losses = []
    for step in range(1, steps + 1):
        loss = torch.nn.functional.mse_loss(model(x), y)
        loss.backward()
        if guard is not None:
            guard.check(step, loss=loss, grad_norm=gradient_norm(model.parameters()),
                        lr=optimizer.param_groups[0]["lr"])
        optimizer.step()
        scheduler.step()
        optimizer.zero_grad()
        losses.append(loss.item())
    return model, losses


def test_without_the_guard_the_loop_trains_on_through_nan():
    model, losses = _loop(lr=1e30)
    assert not math.isfinite(losses[-1])
    assert not all(bool(p.isfinite().all()) for p in model.parameters())


def test_the_guard_stops_before_the_first_non_finite_step_and_the_weights_stay_finite():
    guard, seen = DivergenceGuard(), []
    with pytest.raises(DivergenceError) as stopped:
        _loop(lr=1e30, guard=guard, seen=seen)
    assert all(bool(p.isfinite().all()) for p in seen[0].parameters())
    exc = stopped.value
    assert exc.step == 2 and exc.last_good_step == exc.step - 1 == guard.last_good_step
    assert str(exc).startswith(f"training diverged at optimizer step {exc.step}: the loss is ")
    assert "\n" not in str(exc) and "Try a lower learning rate" in str(exc)


def test_the_guard_passes_a_healthy_run():
    guard = DivergenceGuard()
    _, losses = _loop(lr=1e-3, guard=guard)
    assert guard.last_good_step == 8 and all(math.isfinite(v) for v in losses)


def test_gradient_norm_is_the_l2_norm_of_every_gradient_and_propagates_nan():
    a, b, c = (torch.nn.Parameter(torch.zeros(2)) for _ in range(3))
    a.grad, b.grad = torch.tensor([3.0, 0.0]), torch.tensor([0.0, 4.0])  # c has no gradient
    assert gradient_norm([a, b, c]) == 5.0
    assert gradient_norm([c]) == 0.0
    b.grad[0] = math.inf
    assert gradient_norm([a, b]) == math.inf
    b.grad[0] = math.nan
    assert math.isnan(gradient_norm([a, b]))


@pytest.mark.parametrize("call,expected", [
    (lambda g: g.check(0, loss=1.0), "step must be the 1-based optimizer step (an int >= 1), got 0"),
    (lambda g: g.check(1, loss="nan"), "loss must be a number or a 1-element tensor, got 'nan' (str)"),
    (lambda g: g.check(1, loss=torch.zeros(3)), "loss must be one number (a 1-element tensor), got a tensor of shape (3,)"),
    (lambda g: DivergenceGuard(advice=""), "advice must be a non-empty string (what the user should try), got ''"),
])
def test_bad_arguments_are_named(call, expected):
    with pytest.raises((TypeError, ValueError)) as raised:
        call(DivergenceGuard())
    assert str(raised.value) == expected


def test_only_the_values_given_are_checked_fp16_passes_no_gradient_norm():
    guard = DivergenceGuard()
    guard.check(1, loss=torch.tensor(0.5), grad_norm=None)  # GradScaler's inf gradients are not divergence
    with pytest.raises(DivergenceError, match=r"at optimizer step 2: the gradient norm is inf \(LR 0.001\)"):
        guard.check(2, loss=0.5, grad_norm=math.inf, lr=1e-3)
