"""How often does a two-process CPU run hang at exit? Accelerate's own ending against ``end_process_group``.

Each launch is ``accelerate launch --multi_gpu --num_processes 2`` (gloo, CPU, a free port) of
``tests/scripts/process_group_end.py``: a tiny DDP model trained for 4 steps, then one ending:

* ``bare``: ``accelerator.wait_for_everyone(); accelerator.end_training()`` and return, as
  accelerate's examples end; the DDP model is freed as ``main()`` returns;
* ``ours``: ``hf_sched.finetune.process_group.end_process_group(accelerator)`` (frees the DDP
  reducers while the group is registered, then waits and destroys it).

A launch that has not ended after ``--timeout`` seconds (default 60; a good one takes ~5 s)
counts as a hang; every process of it is killed (by an environment tag, since torch's agent
starts each rank in its own session). The two endings alternate, ``--parallel`` launches at a
time (default 2: the hang needs a busy machine, as under ``pytest -n 2``). Prints a table and
writes ``benchmarks/results/teardown_hangs.json``. Sequentially (one launch at a time) the two
endings take about the same time: ``end_process_group`` adds ~0.1-0.2 s (a scan of the live
objects for DDP modules and a garbage collection).

Run::

    python benchmarks/teardown_hangs.py                  # 40 launches per ending, ~10 minutes on 2 cores
    python benchmarks/teardown_hangs.py --quick          # 1 launch per ending, timeout 30 s: a smoke run
"""

from __future__ import annotations

import argparse
import concurrent.futures
import json
import os
import platform
import subprocess
import sys
import time
from pathlib import Path
from typing import Any

HERE = Path(__file__).resolve().parent
ROOT = HERE.parent
WORKER = ROOT / "tests" / "scripts" / "process_group_end.py"
sys.path.insert(0, str(ROOT / "tests"))
from launched import run_launched, two_process_command  # noqa: E402  (kills every process of a launch on a timeout)

__all__ = ["ENDINGS", "launch", "main"]

ENDINGS = ("bare", "ours")


def launch(ending: str, out: str, timeout: float) -> tuple[str, float]:
    """One two-process launch; return ("ok" | "hang" | "exit N", seconds)."""
    started = time.perf_counter()
    try:
        proc = run_launched(two_process_command(WORKER, out, ending), timeout=timeout, cwd=ROOT, env={**os.environ, "OMP_NUM_THREADS": "1"})
    except subprocess.TimeoutExpired:
        return "hang", time.perf_counter() - started
    return ("ok" if proc.returncode == 0 else f"exit {proc.returncode}"), time.perf_counter() - started


def main(argv: list[str] | None = None) -> dict[str, Any]:
    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    ap.add_argument("--launches", type=int, default=40, help="launches per ending")
    ap.add_argument("--parallel", type=int, default=2, help="launches at a time")
    ap.add_argument("--timeout", type=float, default=60.0, help="seconds before a launch counts as hung")
    ap.add_argument("--quick", action="store_true", help="1 launch per ending, timeout 30 s (a smoke run)")
    ap.add_argument("--out", default=None, help="default: results/teardown_hangs.json (_quick.json with --quick)")
    args = ap.parse_args(argv)
    if args.quick:
        args.launches, args.timeout = 1, 30.0
    if args.out is None:
        args.out = str(HERE / "results" / f"teardown_hangs{'_quick' if args.quick else ''}.json")

    jobs = [ENDINGS[i % 2] for i in range(2 * args.launches)]  # alternating
    counts = {e: {} for e in ENDINGS}
    seconds: dict[str, list[float]] = {e: [] for e in ENDINGS}
    tmp = Path(os.environ.get("TMPDIR", "/tmp")) / f"teardown_hangs_{os.getpid()}"
    tmp.mkdir(parents=True, exist_ok=True)
    with concurrent.futures.ThreadPoolExecutor(args.parallel) as pool:
        futures = [pool.submit(launch, e, str(tmp / f"{i}"), args.timeout) for i, e in enumerate(jobs)]
        for i, (ending, fut) in enumerate(zip(jobs, futures), 1):
            result, took = fut.result()
            counts[ending][result] = counts[ending].get(result, 0) + 1
            if result != "hang":
                seconds[ending].append(took)
            print(f"[{i}/{len(jobs)}] {ending}: {result} ({took:.1f} s)", flush=True)

    print(f"\n| ending | launches | hung | other failures | median s (ended) |\n|---|---:|---:|---:|---:|")
    rows = {}
    for e in ENDINGS:
        c = counts[e]
        done = sorted(seconds[e])
        rows[e] = {"launches": sum(c.values()), "hung": c.get("hang", 0),
                   "failed": sum(v for k, v in c.items() if k not in ("ok", "hang")), "outcomes": c,
                   "median_s": done[len(done) // 2] if done else None}
        r = rows[e]
        median = f"{r['median_s']:.1f}" if r["median_s"] is not None else "-"
        print(f"| {e} | {r['launches']} | {r['hung']} | {r['failed']} | {median} |")

    import torch
    result = {"what": "two-process CPU (gloo) launches that hang at exit, by ending",
              "endings": {"bare": "wait_for_everyone(); end_training(); return",
                          "ours": "hf_sched.finetune.process_group.end_process_group(accelerator)"},
              "parallel": args.parallel, "timeout_s": args.timeout, "results": rows,
              "torch": torch.__version__, "python": platform.python_version(), "cpus": os.cpu_count(),
              "date": time.strftime("%Y-%m-%d")}
    Path(args.out).parent.mkdir(parents=True, exist_ok=True)
    Path(args.out).write_text(json.dumps(result, indent=1))
    print(f"wrote {args.out}")
    return result


if __name__ == "__main__":
    main()
