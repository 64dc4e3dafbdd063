"""How much does one training step's scheduling cost? ScheduledLR against the alternatives.

Times, in the same run and interleaved round by round (the machine is noisy), the cost per
optimizer step of a warmup + cosine schedule over 2 param groups. Every row takes the same
optimizer step of a no-op optimizer (a ``torch.optim.Optimizer`` subclass whose update does
nothing: its step pre- and post-hooks run as in ``optimizer.step()``, see ``_hooks_only_step``,
without the update's arithmetic and the profiler context that would drown the difference)
followed by the scheduler's update, and a row takes the optimizer step alone, so the
scheduling part of a step is each row minus that one:

* ``ScheduledLR`` (hf_sched.get_scheduler("warmupcosine", ...)): counts the step in the
  optimizer's post-hook and writes the next LR; its ``step()`` only refreshes ``get_last_lr``;
* transformers' ``get_cosine_schedule_with_warmup`` (a ``LambdaLR``);
* timm's ``CosineLRScheduler.step_update`` (timm's package import needs torchvision, which
  does not install beside the CPU torch here, so its scheduler modules are loaded from the
  timm wheel without the package ``__init__``; the row is skipped if that fails);
* torch ``SequentialLR(LinearLR, CosineAnnealingLR)``;
* a bare loop: the optimizer step, then the same cosine computed and written into
  ``group["lr"]`` by hand;
* ``ScheduledLR`` on a token clock: ``consume(tokens=n)`` of a varying ``n``, the step, ``step()``;
* the same two groups in two optimizers (Muon + AdamW's shape): one ``ScheduledLR`` over their
  ``OptimizerSet`` against one ``ScheduledLR`` per optimizer; these rows subtract both
  optimizers' steps alone.

It also times ``Schedule.values()`` over 1,000,000 steps against a Python loop over
transformers' lambda. Targets: ScheduledLR <= 0.2x transformers and <= 1.3x the bare loop;
``values()`` >= 10x faster than the loop.

Run: ``python benchmarks/step_overhead.py`` (``--quick`` for a smoke run). Writes
``benchmarks/results/step_overhead.json``.
"""

from __future__ import annotations

import argparse
import json
import math
import platform
import statistics
import subprocess
import sys
import time
import types
from functools import partial
from pathlib import Path
from typing import Any, Callable

import torch

RESULTS = Path(__file__).parent / "results"
OPTIMIZER_ONLY = "optimizer.step() alone (no schedule)"
TWO_ONLY = "2 optimizers' step() alone (no schedule)"
TWO_SET = "hf_sched ScheduledLR over 2 optimizers (OptimizerSet)"
TWO_EACH = "hf_sched ScheduledLR per optimizer (2 schedulers)"
TOKEN_CLOCK = "hf_sched ScheduledLR, token clock (consume + step)"
#: the rows timed on two optimizers (one group each) take their optimizer part from TWO_ONLY
ON_TWO = (TWO_SET, TWO_EACH)
TIMM_DIR = Path(__file__).parent / ".timm"


def _load_timm_cosine() -> Any:
    """timm's CosineLRScheduler, imported without timm's heavy package __init__."""
    try:
        from timm.scheduler.cosine_lr import CosineLRScheduler  # type: ignore

        return CosineLRScheduler
    except Exception:
        pass
    if not (TIMM_DIR / "timm").exists():
        wheel_dir = TIMM_DIR / "wheel"
        subprocess.run([sys.executable, "-m", "pip", "download", "-q", "--no-deps", "timm", "-d", str(wheel_dir)],
                       check=True, capture_output=True)
        import zipfile

        (wheel,) = wheel_dir.glob("timm-*.whl")
        zipfile.ZipFile(wheel).extractall(TIMM_DIR)
    for key in [k for k in sys.modules if k == "timm" or k.startswith("timm.")]:
        del sys.modules[key]
    pkg = types.ModuleType("timm")
    pkg.__path__ = [str(TIMM_DIR / "timm")]  # type: ignore[attr-defined]
    sys.modules["timm"] = pkg
    from timm.scheduler.cosine_lr import CosineLRScheduler  # type: ignore

    return CosineLRScheduler


class _NoOpOptimizer(torch.optim.Optimizer):
    """An optimizer whose update does nothing: torch's step wrapper and hooks still run."""

    def __init__(self, groups: list[dict[str, Any]]) -> None:
        super().__init__(groups, {"lr": 1e-3})

    def step(self, closure: Any = None) -> None:  # type: ignore[override]
        return self.update()

    def update(self) -> None:
        """The parameter update: nothing."""
        return None


def _hooks_only_step(opt: torch.optim.Optimizer) -> None:
    """What ``opt.step()`` does around the update, minus its profiler context: run the step
    pre-hooks, the (no-op) update, then the post-hooks (where ScheduledLR counts the step).
    The profiler's ``record_function`` costs ~25 us here, more than any scheduler, and the
    same in every row: timing it only adds noise."""
    for pre in opt._optimizer_step_pre_hooks.values():
        pre(opt, (), {})
    _NoOpOptimizer.update(opt)  # the update itself (nothing); not opt.step: schedulers may wrap it
    opt._opt_called = True  # what torch's LRScheduler wrapper of opt.step records (no order warning)
    for post in opt._optimizer_step_post_hooks.values():
        post(opt, (), {})


def _two_opts() -> list[torch.optim.Optimizer]:
    """The same two groups as :func:`_opt`, one per optimizer (Muon + AdamW's shape, without their arithmetic)."""
    return [_NoOpOptimizer([{"params": [torch.nn.Parameter(torch.zeros(4))], "lr": lr}]) for lr in (1e-3, 2e-3)]


def _opt() -> torch.optim.Optimizer:
    groups = [{"params": [torch.nn.Parameter(torch.zeros(4))], "lr": 1e-3},
              {"params": [torch.nn.Parameter(torch.zeros(4))], "lr": 2e-3}]
    return _NoOpOptimizer(groups)


def make_runners(total: int, warmup: int) -> dict[str, Callable[[int], None]]:
    """name -> run(n): builds a fresh scheduler and takes n steps."""
    import transformers

    from hf_sched import get_scheduler

    def hf_sched_run(n: int) -> None:
        opt = _opt()
        s = get_scheduler("warmupcosine", opt, num_training_steps=total, num_warmup_steps=warmup)
        opt_step, step = partial(_hooks_only_step, opt), s.step
        for _ in range(n):
            opt_step()
            step()

    def transformers_run(n: int) -> None:
        opt = _opt()
        s = transformers.get_cosine_schedule_with_warmup(opt, warmup, total)
        opt_step, step = partial(_hooks_only_step, opt), s.step
        for _ in range(n):
            opt_step()
            step()

    def sequential_run(n: int) -> None:
        opt = _opt()
        lin = torch.optim.lr_scheduler.LinearLR(opt, start_factor=1e-8, end_factor=1.0, total_iters=warmup)
        cos = torch.optim.lr_scheduler.CosineAnnealingLR(opt, T_max=total - warmup)
        s = torch.optim.lr_scheduler.SequentialLR(opt, [lin, cos], milestones=[warmup])
        opt_step, step = partial(_hooks_only_step, opt), s.step
        for _ in range(n):
            opt_step()
            step()

    def optimizer_only_run(n: int) -> None:
        opt_step = partial(_hooks_only_step, _opt())
        for _ in range(n):
            opt_step()

    def bare_run(n: int) -> None:
        opt = _opt()
        opt_step = partial(_hooks_only_step, opt)
        groups = opt.param_groups
        bases = [g["lr"] for g in groups]
        span = max(1, total - warmup)
        for s in range(1, n + 1):
            opt_step()
            if s < warmup:
                f = s / warmup
            else:
                f = max(0.0, 0.5 * (1.0 + math.cos(math.pi * (min(s, total) - warmup) / span)))
            for g, b in zip(groups, bases):
                g["lr"] = b * f

    def two_only_run(n: int) -> None:
        a, b = _two_opts()
        for _ in range(n):
            _hooks_only_step(a)
            _hooks_only_step(b)

    def two_set_run(n: int) -> None:
        a, b = _two_opts()
        s = get_scheduler("warmupcosine", [a, b], num_training_steps=total, num_warmup_steps=warmup)
        step = s.step
        for _ in range(n):
            _hooks_only_step(a)  # what OptimizerSet.step() does: each member steps; the set counts one step
            _hooks_only_step(b)
            step()

    def two_each_run(n: int) -> None:
        a, b = _two_opts()
        sa = get_scheduler("warmupcosine", a, num_training_steps=total, num_warmup_steps=warmup)
        sb = get_scheduler("warmupcosine", b, num_training_steps=total, num_warmup_steps=warmup)
        for _ in range(n):
            _hooks_only_step(a)
            _hooks_only_step(b)
            sa.step()
            sb.step()

    def token_clock_run(n: int) -> None:
        opt = _opt()
        s = get_scheduler("warmupcosine", opt, num_training_steps=f"{total * 1000} tok",
                          warmup=f"{warmup * 1000} tok")
        opt_step, step, consume = partial(_hooks_only_step, opt), s.step, s.consume
        for i in range(n):
            consume(tokens=500 + i % 1000)  # varying batches, about 1,000 tokens a step
            opt_step()
            step()

    runners = {
        "hf_sched ScheduledLR": hf_sched_run,
        TOKEN_CLOCK: token_clock_run,
        TWO_SET: two_set_run,
        TWO_EACH: two_each_run,
        TWO_ONLY: two_only_run,
        "transformers LambdaLR": transformers_run,
        "torch SequentialLR": sequential_run,
        "bare loop": bare_run,
        OPTIMIZER_ONLY: optimizer_only_run,
    }
    try:
        timm_cls = _load_timm_cosine()

        def timm_run(n: int) -> None:
            opt = _opt()
            s = timm_cls(opt, t_initial=total - warmup, warmup_t=warmup, warmup_lr_init=0.0,
                         t_in_epochs=False, warmup_prefix=True)
            opt_step, upd = partial(_hooks_only_step, opt), s.step_update
            for i in range(1, n + 1):
                opt_step()
                upd(num_updates=i)

        runners["timm CosineLRScheduler.step_update"] = timm_run
    except Exception as exc:  # noqa: BLE001 - report and go on without the row
        print(f"timm row skipped: {type(exc).__name__}: {exc}", file=sys.stderr)
    return runners


def time_steps(runners: dict[str, Callable[[int], None]], n: int, rounds: int) -> dict[str, list[float]]:
    """Microseconds per step, one sample per round per runner, interleaved."""
    samples: dict[str, list[float]] = {k: [] for k in runners}
    for name, run in runners.items():  # warm up
        run(min(n, 1000))
    for _ in range(rounds):
        for name, run in runners.items():
            t0 = time.perf_counter()
            run(n)
            samples[name].append((time.perf_counter() - t0) / n * 1e6)
    return samples


def time_values(n: int, rounds: int) -> dict[str, float]:
    """Seconds to evaluate n steps: Schedule.values() vs a Python loop over transformers' lambda."""
    import numpy as np
    from transformers.optimization import _get_cosine_schedule_with_warmup_lr_lambda

    from hf_sched import build_schedule

    warmup = n // 10
    sched = build_schedule("warmupcosine", num_training_steps=n, num_warmup_steps=warmup)
    lam = partial(_get_cosine_schedule_with_warmup_lr_lambda, num_warmup_steps=warmup, num_training_steps=n,
                  num_cycles=0.5)
    steps = np.arange(n)
    vec, loop = [], []
    for _ in range(rounds):
        t0 = time.perf_counter()
        v = sched.values(steps)
        vec.append(time.perf_counter() - t0)
        t0 = time.perf_counter()
        ref = [lam(i) for i in range(n)]
        loop.append(time.perf_counter() - t0)
    assert np.allclose(v, ref, atol=1e-12)
    return {"values_s": statistics.median(vec), "python_loop_s": statistics.median(loop)}


def main(argv: list[str] | None = None) -> dict[str, Any]:
    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    ap.add_argument("--steps", type=int, default=20_000, help="steps per timed round")
    ap.add_argument("--rounds", type=int, default=7)
    ap.add_argument("--quick", action="store_true", help="a few seconds, for a smoke test")
    ap.add_argument("--out", default=str(RESULTS / "step_overhead.json"))
    args = ap.parse_args(argv)
    if args.quick:
        args.steps, args.rounds = 2000, 2
    total = max(args.steps, 1000)
    runners = make_runners(total, total // 10)
    print(f"timing {len(runners)} schedulers: {args.rounds} rounds x {args.steps} optimizer steps, 2 param groups",
          flush=True)
    samples = time_steps(runners, args.steps, args.rounds)
    med = {k: statistics.median(v) for k, v in samples.items()}
    base = med[OPTIMIZER_ONLY]
    # the scheduling part of a step: the row minus its optimizers' steps alone
    cost = {k: v - (med[TWO_ONLY] if k in ON_TWO else base) for k, v in med.items() if k not in (OPTIMIZER_ONLY, TWO_ONLY)}
    ours, tf, bare = cost["hf_sched ScheduledLR"], cost["transformers LambdaLR"], cost["bare loop"]
    vals = time_values(1_000_000 if not args.quick else 100_000, 3 if not args.quick else 1)

    print(f"\n{'scheduler':<52}{'us/step':>10}{'scheduling us':>15}{'vs ScheduledLR':>16}")
    print(f"{OPTIMIZER_ONLY:<52}{base:>10.2f}{0.0:>15.2f}{'':>16}")
    print(f"{TWO_ONLY:<52}{med[TWO_ONLY]:>10.2f}{0.0:>15.2f}{'':>16}")
    for name, us in sorted(cost.items(), key=lambda kv: kv[1]):
        print(f"{name:<52}{med[name]:>10.2f}{us:>15.2f}{us / ours:>15.2f}x")
    r_tf, r_bare = ours / tf, ours / bare
    whole_tf, whole_bare = med["hf_sched ScheduledLR"] / med["transformers LambdaLR"], med["hf_sched ScheduledLR"] / med["bare loop"]
    speedup = vals["python_loop_s"] / vals["values_s"]
    print("\nscheduling us = the row's time per step minus optimizer.step() alone (the same no-op optimizer; the "
          "rows over 2 optimizers minus both optimizers' steps)")
    print(f"2 optimizers: one ScheduledLR over the set = {cost[TWO_SET] / cost[TWO_EACH]:.2f}x the cost of one "
          f"scheduler per optimizer; token clock = {cost[TOKEN_CLOCK] / ours:.2f}x the step clock")
    print(f"ScheduledLR / transformers = {r_tf:.2f}x scheduling cost, {whole_tf:.2f}x whole step "
          f"(target <= 0.2x): {'PASS' if r_tf <= 0.2 else 'MISS'}")
    print(f"ScheduledLR / bare loop    = {r_bare:.2f}x scheduling cost, {whole_bare:.2f}x whole step "
          f"(target <= 1.3x): {'PASS' if r_bare <= 1.3 else 'MISS'}")
    print(f"values() over {('1,000,000' if not args.quick else '100,000')} steps: {vals['values_s'] * 1e3:.1f} ms vs "
          f"Python loop over transformers' lambda {vals['python_loop_s'] * 1e3:.0f} ms = {speedup:.0f}x "
          f"(target >= 10x): {'PASS' if speedup >= 10 else 'MISS'}")
    result = {
        "benchmark": "step_overhead",
        "machine": {"platform": platform.platform(), "python": platform.python_version(), "torch": torch.__version__,
                    "cpus": __import__("os").cpu_count()},
        "settings": {"steps_per_round": args.steps, "rounds": args.rounds, "param_groups": 2, "quick": args.quick},
        "us_per_step_median": med,
        "us_per_step_samples": samples,
        "scheduling_us_per_step": cost,
        "ratios": {"scheduledlr_vs_transformers": r_tf, "scheduledlr_vs_bare": r_bare,
                   "optimizer_set_vs_scheduler_per_optimizer": cost[TWO_SET] / cost[TWO_EACH],
                   "token_clock_vs_step_clock": cost[TOKEN_CLOCK] / ours,
                   "whole_step_vs_transformers": whole_tf, "whole_step_vs_bare": whole_bare},
        "what_a_step_is": "optimizer.step() of a no-op torch Optimizer subclass (hooks run) + the scheduler update",
        "targets_met": {"vs_transformers_le_0.2": r_tf <= 0.2, "vs_bare_le_1.3": r_bare <= 1.3,
                        "values_speedup_ge_10": speedup >= 10},
        "values": {**vals, "speedup": speedup, "steps": 1_000_000 if not args.quick else 100_000},
    }
    out = Path(args.out)
    out.parent.mkdir(parents=True, exist_ok=True)
    out.write_text(json.dumps(result, indent=2))
    print(f"\nwrote {out}")
    return result


if __name__ == "__main__":
    main()
