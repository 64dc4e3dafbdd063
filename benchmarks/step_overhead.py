"""How much does one scheduler ``step()`` cost? ScheduledLR against the alternatives.

Times, in the same run and interleaved round by round (the machine is noisy), the
per-step cost of a warmup + cosine schedule over 2 param groups for:

* ``ScheduledLR`` (hf_sched.get_scheduler("warmupcosine", ...));
* transformers' ``get_cosine_schedule_with_warmup`` (a ``LambdaLR``);
* timm's ``CosineLRScheduler.step_update`` (timm's package import needs torchvision, which
  does not install beside the CPU torch here, so its scheduler modules are loaded from the
  timm wheel without the package ``__init__``; the row is skipped if that fails);
* torch ``SequentialLR(LinearLR, CosineAnnealingLR)``;
* a bare loop that computes the same cosine and writes ``group["lr"]`` by hand.

It also times ``Schedule.values()`` over 1,000,000 steps against a Python loop over
transformers' lambda. Targets: ScheduledLR <= 0.4x transformers and <= 1.5x the bare loop;
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


def _opt() -> torch.optim.Optimizer:
    groups = [{"params": [torch.nn.Parameter(torch.zeros(4))], "lr": 1e-3},
              {"params": [torch.nn.Parameter(torch.zeros(4))], "lr": 2e-3}]
    return torch.optim.AdamW(groups, lr=1e-3)


def make_runners(total: int, warmup: int) -> dict[str, Callable[[int], None]]:
    """name -> run(n): builds a fresh scheduler and takes n steps."""
    import transformers

    from hf_sched import get_scheduler

    def hf_sched_run(n: int) -> None:
        s = get_scheduler("warmupcosine", _opt(), num_training_steps=total, num_warmup_steps=warmup)
        step = s.step
        for _ in range(n):
            step()

    def transformers_run(n: int) -> None:
        s = transformers.get_cosine_schedule_with_warmup(_opt(), warmup, total)
        step = s.step
        for _ in range(n):
            step()

    def sequential_run(n: int) -> None:
        opt = _opt()
        lin = torch.optim.lr_scheduler.LinearLR(opt, start_factor=1e-8, end_factor=1.0, total_iters=warmup)
        cos = torch.optim.lr_scheduler.CosineAnnealingLR(opt, T_max=total - warmup)
        s = torch.optim.lr_scheduler.SequentialLR(opt, [lin, cos], milestones=[warmup])
        step = s.step
        for _ in range(n):
            step()

    def bare_run(n: int) -> None:
        opt = _opt()
        groups = opt.param_groups
        bases = [g["lr"] for g in groups]
        span = max(1, total - warmup)
        for s in range(1, n + 1):
            if s < warmup:
                f = s / warmup
            else:
                f = max(0.0, 0.5 * (1.0 + math.cos(math.pi * (min(s, total) - warmup) / span)))
            for g, b in zip(groups, bases):
                g["lr"] = b * f

    runners = {
        "hf_sched ScheduledLR": hf_sched_run,
        "transformers LambdaLR": transformers_run,
        "torch SequentialLR": sequential_run,
        "bare loop": bare_run,
    }
    try:
        timm_cls = _load_timm_cosine()

        def timm_run(n: int) -> None:
            s = timm_cls(_opt(), t_initial=total - warmup, warmup_t=warmup, warmup_lr_init=0.0,
                         t_in_epochs=False, warmup_prefix=True)
            upd = s.step_update
            for i in range(1, n + 1):
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
    print(f"timing {len(runners)} schedulers: {args.rounds} rounds x {args.steps} steps, 2 param groups", flush=True)
    samples = time_steps(runners, args.steps, args.rounds)
    med = {k: statistics.median(v) for k, v in samples.items()}
    ours, tf, bare = med["hf_sched ScheduledLR"], med["transformers LambdaLR"], med["bare loop"]
    vals = time_values(1_000_000 if not args.quick else 100_000, 3 if not args.quick else 1)

    print(f"\n{'scheduler':<38}{'us/step':>10}{'vs ScheduledLR':>16}")
    for name, us in sorted(med.items(), key=lambda kv: kv[1]):
        print(f"{name:<38}{us:>10.2f}{us / ours:>15.2f}x")
    r_tf, r_bare = ours / tf, ours / bare
    speedup = vals["python_loop_s"] / vals["values_s"]
    print(f"\nScheduledLR / transformers = {r_tf:.2f}x (target <= 0.4x): {'PASS' if r_tf <= 0.4 else 'MISS'}")
    print(f"ScheduledLR / bare loop    = {r_bare:.2f}x (target <= 1.5x): {'PASS' if r_bare <= 1.5 else 'MISS'}")
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
        "ratios": {"scheduledlr_vs_transformers": r_tf, "scheduledlr_vs_bare": r_bare},
        "targets_met": {"vs_transformers_le_0.4": r_tf <= 0.4, "vs_bare_le_1.5": r_bare <= 1.5,
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
