"""Mean +- sd over seeds, its text form, a study's setting in words, and the machine it ran on.

``sd`` is the sample standard deviation (``n - 1`` in the denominator); it needs 2+ values.

>>> mean_sd([0.8, 0.9])[0], fmt(0.85, 0.0707)
(0.8500000000000001, '0.8500 ± 0.0707')
"""

from __future__ import annotations

import os
import platform
import statistics
from typing import Any, Sequence

__all__ = ["mean_sd", "fmt", "describe_setup", "machine_info"]


def mean_sd(values: Sequence[float]) -> tuple[float, float | None]:
    """``(mean, sample sd)``; sd is ``None`` for a single value.

    Raises:
        ValueError: ``values`` is empty.
    """
    if not values:
        raise ValueError("values is empty: mean_sd needs at least one value")
    mean = statistics.fmean(values)
    return mean, (statistics.stdev(values) if len(values) > 1 else None)


def fmt(mean: float, sd: float | None, digits: int = 4) -> str:
    """``"mean ± sd"`` (just the mean when sd is ``None``)."""
    return f"{mean:.{digits}f} ± {sd:.{digits}f}" if sd is not None else f"{mean:.{digits}f}"


def describe_setup(config: dict[str, Any]) -> str:
    """One sentence on a study's setting (model, data sizes, split seed, max_length, batch, epochs, step cap).

    >>> describe_setup({"model": "m", "train": 2000, "eval": 1000, "data_seed": 0, "max_length": 64,
    ...                 "batch_size": 16, "epochs": 3, "max_steps": None})
    'Model `m`, 2000 train / 1000 validation tweets (data seed 0), max_length 64, batch 16, 3 epoch(s)'
    """
    return (f"Model `{config['model']}`, {config['train']} train / {config['eval']} validation tweets "
            f"(data seed {config['data_seed']}), max_length {config['max_length']}, batch {config['batch_size']}, "
            f"{config['epochs']} epoch(s)" + (f", at most {config['max_steps']} steps" if config["max_steps"] else ""))


def machine_info() -> dict[str, Any]:
    """Platform, Python, torch and transformers versions, CPU count and torch threads."""
    import torch
    import transformers

    return {"platform": platform.platform(), "python": platform.python_version(), "torch": torch.__version__,
            "transformers": transformers.__version__, "cpus": os.cpu_count(),
            "torch_threads": torch.get_num_threads()}
