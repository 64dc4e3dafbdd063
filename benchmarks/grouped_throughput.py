"""Length-grouped batches against random ones, and both against this machine's own matmul ceiling.

One sitting, on the same threads, alternating:

* **the matmul ceiling**: a plain ``n x n`` fp32 matmul (``--matmul_size``, default 1024) in
  this process with ``torch.set_num_threads(--threads)``, measured right before every training
  child (best of 3 bursts of 10, ``2 n**3`` flops each), because this machine's ceiling itself
  moves by 3x within an hour;
* **the recipe** (``recipes/finetune_accelerate.py``) with ``--group_by_length`` and with
  ``--no_group_by_length``; **the stock Trainer** with ``train_sampling_strategy="group_by_length"``
  (its ``group_by_length``) and with its default random sampler. Each is a fresh child of
  ``benchmarks/throughput.py`` (same model, data, batch 16, max_length 64, ``--steps`` optimizer
  steps, time stamps on every step; see that file).

Per run, over steps 2..N (the steady part): the share of the batches' tokens that were padding,
real tokens per second (the work the job wants), and the **model arithmetic per second**: the
forward and backward flops of the batches as padded, ``6 * P * b * s + 12 * L * d * b * s**2`` per
batch of ``b`` sequences of ``s`` tokens (``P`` the encoder's and head's matmul weights, ``L``
layers of width ``d``; embeddings are look-ups), which is what the cores compute, padding
included. Medians per variant, and the ratios: grouped / random (real tokens per second,
training-loop time), recipe / Trainer, model arithmetic / matmul ceiling.

Run::

    python benchmarks/grouped_throughput.py             # MiniLM, 40 steps, 3 alternating repeats: ~10 min quiet
    python benchmarks/grouped_throughput.py --quick     # tiny random BERT, 6 steps, 1 repeat: a smoke run

Writes ``benchmarks/results/grouped_throughput.json`` (``_quick`` with ``--quick``).
"""

from __future__ import annotations

import argparse
import json
import os
import platform
import shutil
import statistics
import sys
import tempfile
import time
from pathlib import Path
from typing import Any, Sequence

HERE = Path(__file__).resolve().parent
if str(HERE) not in sys.path:  # throughput.py lives beside this script
    sys.path.insert(0, str(HERE))

import throughput  # noqa: E402

__all__ = ["VARIANTS", "matmul_gflops", "model_shape", "batch_flops", "run_flops", "summarise", "render", "main"]

RESULTS = HERE / "results"
#: name -> (child kind, group_by_length)
VARIANTS: dict[str, tuple[str, bool]] = {
    "recipe grouped": ("recipe", True),
    "recipe random": ("recipe", False),
    "Trainer grouped": ("trainer", True),
    "Trainer random": ("trainer", False),
}


def matmul_gflops(size: int = 1024, threads: int = 2, bursts: int = 3, per_burst: int = 10) -> float:
    """GFLOP/s of a plain ``size x size`` fp32 matmul on ``threads`` threads: the best of ``bursts`` bursts.

    >>> matmul_gflops(64, threads=1, bursts=1, per_burst=2) > 0
    True
    """
    import torch

    before = torch.get_num_threads()
    torch.set_num_threads(threads)
    try:
        a, b = torch.randn(size, size), torch.randn(size, size)
        torch.mm(a, b)  # warm-up
        best = float("inf")
        for _ in range(bursts):
            start = time.perf_counter()
            for _ in range(per_burst):
                torch.mm(a, b)
            best = min(best, (time.perf_counter() - start) / per_burst)
    finally:
        torch.set_num_threads(before)
    return 2 * size**3 / best / 1e9


def model_shape(model: str | None) -> dict[str, int]:
    """Layers, width, feed-forward width and the matmul weights ``P`` of a BERT-like classifier.

    ``P = L * (4 d**2 + 2 d i) + d**2 + 2 d`` (attention Q, K, V, output; the two feed-forward
    matrices; the pooler; a 2-class head).

    >>> model_shape(None)["params"]
    10765056
    """
    from transformers import AutoConfig

    from hf_sched.finetune.model import default_model_path

    config = AutoConfig.from_pretrained(model or default_model_path())
    layers, width, inner = config.num_hidden_layers, config.hidden_size, config.intermediate_size
    return {"layers": layers, "width": width, "inner": inner,
            "params": layers * (4 * width**2 + 2 * width * inner) + width**2 + 2 * width}


def batch_flops(shape: dict[str, int], batch: int, seq: int) -> float:
    """Forward + backward flops of one batch: ``6 P b s + 12 L d b s**2``.

    >>> batch_flops({"layers": 1, "width": 2, "params": 10}, batch=1, seq=3)
    396.0
    """
    return 6.0 * shape["params"] * batch * seq + 12.0 * shape["layers"] * shape["width"] * batch * seq**2


def run_flops(run: dict[str, Any], shape: dict[str, int]) -> float:
    """The model's flops over the steady steps (2..N) of one child run (from its per-forward shapes)."""
    tokens, examples = run["tokens_per_step"], run["examples_per_step"]
    return sum(batch_flops(shape, b, t // b) for t, b in zip(tokens[1:], examples[1:]))


def _median(values: Sequence[float | None]) -> float | None:
    present = [v for v in values if v is not None]
    return statistics.median(present) if present else None


def summarise(runs: Sequence[dict[str, Any]], ceilings: Sequence[float]) -> dict[str, Any]:
    """Medians per variant and the ratios between them.

    >>> runs = [{"variant": v, "padded_token_fraction": f, "steady_real_tokens_per_s": r, "model_gflops": g,
    ...          "train_loop_s": t} for v, f, r, g, t in [("recipe grouped", 0.03, 900.0, 60.0, 20.0),
    ...          ("recipe random", 0.39, 600.0, 62.0, 30.0), ("Trainer grouped", 0.03, 880.0, 59.0, 21.0),
    ...          ("Trainer random", 0.39, 590.0, 61.0, 31.0)]]
    >>> s = summarise(runs, [100.0])
    >>> s["ratios"]["recipe: grouped / random real tokens/s"], s["ratios"]["recipe grouped: model arithmetic / matmul ceiling"]
    (1.5, 0.6)
    """
    fields = ("padded_token_fraction", "steady_real_tokens_per_s", "model_gflops", "train_loop_s")
    median = {v: {f: _median([r.get(f) for r in runs if r["variant"] == v]) for f in fields} for v in VARIANTS}
    ceiling = _median(list(ceilings))

    def ratio(a: str, b: str, field: str) -> float | None:
        x, y = median[a][field], median[b][field]
        return x / y if x is not None and y else None

    ratios: dict[str, float | None] = {}
    for side in ("recipe", "Trainer"):
        ratios[f"{side}: grouped / random real tokens/s"] = ratio(f"{side} grouped", f"{side} random",
                                                                  "steady_real_tokens_per_s")
        ratios[f"{side}: grouped / random training-loop time"] = ratio(f"{side} grouped", f"{side} random",
                                                                       "train_loop_s")
    for grouping in ("grouped", "random"):
        ratios[f"{grouping}: recipe / Trainer real tokens/s"] = ratio(f"recipe {grouping}", f"Trainer {grouping}",
                                                                      "steady_real_tokens_per_s")
    for v in VARIANTS:
        g = median[v]["model_gflops"]
        ratios[f"{v}: model arithmetic / matmul ceiling"] = g / ceiling if g is not None and ceiling else None
    return {"median": median, "matmul_gflops": {"median": ceiling, "min": min(ceilings, default=None),
                                                "max": max(ceilings, default=None), "all": list(ceilings)},
            "ratios": ratios}


def _f(value: float | None, spec: str) -> str:
    return "-" if value is None else format(value, spec)


def render(summary: dict[str, Any], setting: str) -> str:
    """The tables (markdown) of one sitting."""
    m, c = summary["median"], summary["matmul_gflops"]
    lines = [f"# Length-grouped batches: one sitting ({setting})", "",
             f"Matmul ceiling (plain fp32 matmul, same threads, measured before every run): median "
             f"{_f(c['median'], '.1f')} GFLOP/s (min {_f(c['min'], '.1f')}, max {_f(c['max'], '.1f')}).", "",
             "| variant (medians) | padding share | real tokens/s | model GFLOP/s | / matmul ceiling | training loop s |",
             "|---|---:|---:|---:|---:|---:|"]
    for v in VARIANTS:
        g = m[v]["model_gflops"]
        share = g / c["median"] if g is not None and c["median"] else None
        lines.append(f"| {v} | {_f(m[v]['padded_token_fraction'], '.3f')} | "
                     f"{_f(m[v]['steady_real_tokens_per_s'], '.0f')} | {_f(g, '.1f')} | {_f(share, '.2f')} | "
                     f"{_f(m[v]['train_loop_s'], '.1f')} |")
    lines += ["", "| ratio | value |", "|---|---:|"]
    lines += [f"| {name} | {_f(value, '.2f')} |" for name, value in summary["ratios"].items()]
    return "\n".join(lines) + "\n"


def main(argv: list[str] | None = None) -> dict[str, Any]:
    """Run the sitting; returns what is written to the JSON."""
    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    ap.add_argument("--steps", type=int, default=None, help="optimizer steps per run (default 40; 6 with --quick)")
    ap.add_argument("--repeats", type=int, default=None, help="runs per variant, alternating (default 3; 1 --quick)")
    ap.add_argument("--threads", type=int, default=2, help="torch threads of the children and of the matmul")
    ap.add_argument("--matmul_size", type=int, default=1024)
    ap.add_argument("--seed", type=int, default=0)
    ap.add_argument("--timeout", type=float, default=1800.0, help="seconds before a child is killed")
    ap.add_argument("--quick", action="store_true", help="tiny random BERT, 6 steps, 1 repeat: a smoke run")
    ap.add_argument("--out", default=None, help="JSON path (default benchmarks/results/grouped_throughput[_quick].json)")
    args = ap.parse_args(argv)
    steps = args.steps if args.steps is not None else (6 if args.quick else 40)
    repeats = args.repeats if args.repeats is not None else (1 if args.quick else 3)
    for name, value, low in (("--steps", steps, 2), ("--repeats", repeats, 1), ("--threads", args.threads, 1),
                             ("--matmul_size", args.matmul_size, 16)):
        if value < low:
            ap.error(f"{name} {value} must be >= {low}")
    scratch = Path(tempfile.mkdtemp(prefix="grouped_throughput_"))
    model = None
    if args.quick:
        from hf_sched.finetune.model import save_tiny_bert

        model = str(save_tiny_bert(scratch / "tiny_bert", seed=0))
    train = 96 if args.quick else 2000
    if steps > train // 16:
        ap.error(f"--steps {steps} must be <= {train // 16}: the recipe evaluates at the end of an epoch")
    base = {"model": model, "train": train, "eval": 32 if args.quick else 1000, "max_length": 64, "steps": steps,
            "batch_size": 16, "lr": 5e-5, "seed": args.seed, "device": "cpu", "bf16": False}
    shape = model_shape(model)
    setting = (f"{'tiny random BERT' if args.quick else 'offline MiniLM'}, {steps} steps x batch 16, max_length 64, "
               f"{args.threads} threads, {repeats} alternating repeat(s)")
    print(f"grouped throughput: {setting}", flush=True)
    out = Path(args.out) if args.out else RESULTS / f"grouped_throughput{'_quick' if args.quick else ''}.json"
    out.parent.mkdir(parents=True, exist_ok=True)
    runs: list[dict[str, Any]] = []
    ceilings: list[float] = []
    names = list(VARIANTS)
    payload: dict[str, Any] = {}
    try:
        for repeat in range(repeats):
            order = names[repeat % len(names):] + names[:repeat % len(names)]  # each variant first in turn
            for variant in order:
                ceilings.append(matmul_gflops(args.matmul_size, args.threads))
                kind, grouped = VARIANTS[variant]
                run = throughput.run_child(kind, {**base, "group_by_length": grouped}, threads=args.threads,
                                           log_dir=scratch, index=len(runs), timeout_s=args.timeout)
                raw = json.loads((scratch / f"{len(runs):02d}_{kind}.json").read_text())
                run.update(variant=variant, repeat=repeat, matmul_gflops_before=ceilings[-1],
                           examples_per_step=raw["examples"], real_tokens_per_step=raw["real_tokens"])
                run["padded_token_fraction"] = 1 - sum(raw["real_tokens"]) / sum(raw["tokens"])
                run["steady_real_tokens_per_s"] = sum(raw["real_tokens"][1:steps]) / run["steady_s"]
                run["model_gflops"] = run_flops(run, shape) / run["steady_s"] / 1e9
                runs.append(run)
                print(f"[{len(runs)}/{repeats * len(names)}] {variant:<16} matmul {ceilings[-1]:6.1f} GFLOP/s | "
                      f"padding {run['padded_token_fraction']:.3f}, {run['steady_real_tokens_per_s']:7.0f} real "
                      f"tokens/s, model {run['model_gflops']:5.1f} GFLOP/s, loop {run['train_loop_s']:5.1f}s",
                      flush=True)
                payload = _write(out, runs, ceilings, setting, shape, complete=len(runs) == repeats * len(names))
    except RuntimeError as exc:
        print(f"error: {exc}", file=sys.stderr)
        raise SystemExit(1) from None
    finally:
        shutil.rmtree(scratch, ignore_errors=True)
    print("\n" + render(payload, setting), flush=True)
    print(f"wrote {out} and {out.with_suffix('.md').name}")
    return payload


def _write(out: Path, runs: list[dict[str, Any]], ceilings: list[float], setting: str, shape: dict[str, int],
           complete: bool) -> dict[str, Any]:
    """Write the JSON and the table after every run, so an interrupted sitting keeps what it measured."""
    import torch

    summary = summarise(runs, ceilings)
    payload = {"benchmark": "grouped_throughput", "setting": setting, "complete": complete,
               "machine": {"platform": platform.platform(), "python": platform.python_version(),
                           "torch": torch.__version__, "cpus": os.cpu_count()},
               "model_shape": shape, "flops_per_batch": "6 * params * b * s + 12 * layers * width * b * s**2",
               **summary, "runs": runs}
    out.write_text(json.dumps(payload, indent=1) + "\n")
    out.with_suffix(".md").write_text(render(summary, setting if complete else f"{setting}; partial: {len(runs)} runs"))
    return payload


if __name__ == "__main__":
    main()
