"""The checks both fine-tuning recipes make on their inputs before anything loads (one copy, two recipes).

``recipes/finetune_accelerate.py`` (argparse) and ``recipes/finetune_trainer.py``
(``HfArgumentParser``) name some flags differently (``--num_epochs`` / ``--num_train_epochs``),
so each check takes the flag as the user wrote it and raises ``ValueError`` with one line:
``argument --flag: got VALUE; what is allowed``. Each recipe turns that into its
``error:`` line with exit status 2. :func:`read_args_file` reads the one file of arguments
the Trainer recipe accepts (JSON or YAML).

Example:
    >>> check_fraction("--validation_split", 0.2)
    >>> check_fraction("--validation_split", 1.5)
    Traceback (most recent call last):
    ...
    ValueError: argument --validation_split: got 1.5; it must be strictly between 0 and 1
"""

from __future__ import annotations

import json
import math
import os
from pathlib import Path
from typing import Any, Optional, Sequence

__all__ = [
    "MIN_MAX_LENGTH", "MAX_STEPS_PLANNED", "check_positive_number", "check_non_negative_number", "check_count",
    "check_fraction", "check_text_columns", "check_model", "check_output_dir", "check_resume_path",
    "check_auto_warmup_optimizer", "check_mixed_precision", "check_planned_steps", "read_args_file",
]

#: The shortest ``--max_length`` (a [CLS] and [SEP] and a few tokens of text).
MIN_MAX_LENGTH = 8
#: The most optimizer steps a recipe plans: 10**9 steps are decades at a second a step; more is a typo
#: (``--num_epochs 1e18``), and planning it would first fill the memory.
MAX_STEPS_PLANNED = 10**9


def _refuse(flag: str, value: Any, allowed: str) -> ValueError:
    return ValueError(f"argument {flag}: got {value!r}; {allowed}")


def check_positive_number(flag: str, value: Any) -> None:
    """A finite number > 0 (a learning rate, epochs)."""
    if isinstance(value, bool) or not isinstance(value, (int, float)) or not math.isfinite(value) or value <= 0:
        raise _refuse(flag, value, "it must be a finite number > 0")


def check_non_negative_number(flag: str, value: Any) -> None:
    """A finite number >= 0 (weight decay, gradient clipping)."""
    if isinstance(value, bool) or not isinstance(value, (int, float)) or not math.isfinite(value) or value < 0:
        raise _refuse(flag, value, "it must be a finite number >= 0")


def check_count(flag: str, value: Any, minimum: int = 1, *, unset: str = "") -> None:
    """A whole number >= ``minimum``; ``None`` is allowed when ``unset`` says what it means."""
    if value is None and unset:
        return
    if isinstance(value, bool) or not isinstance(value, int) or value < minimum:
        also = f" (or leave it out: {unset})" if unset else ""
        raise _refuse(flag, value, f"it must be a whole number >= {minimum}{also}")


def check_fraction(flag: str, value: Any) -> None:
    """A number strictly between 0 and 1.

    >>> check_fraction("--validation_split", 0)
    Traceback (most recent call last):
    ...
    ValueError: argument --validation_split: got 0; it must be strictly between 0 and 1
    """
    if isinstance(value, bool) or not isinstance(value, (int, float)) or not 0 < value < 1:
        raise ValueError(f"argument {flag}: got {value!r}; it must be strictly between 0 and 1")


def check_text_columns(flag: str, columns: Optional[Sequence[str]]) -> None:
    """One text column or two (a text pair); ``None`` finds them by name."""
    if columns is not None and not 1 <= len(columns) <= 2:
        raise ValueError(f"argument {flag}: got {len(columns)} columns {list(columns)}; give one (single texts) "
                         "or two (text pairs)")


def _looks_like_missing_path(model: str) -> bool:
    """True when ``model`` is clearly meant as a local path (not a Hub id) and is no model directory."""
    if os.path.isdir(model):
        return False
    return os.path.exists(model) or model.startswith((".", "~", os.sep)) or "\\" in model or model.count("/") > 1


def check_model(flag: str, model: Optional[str]) -> None:
    """A local model directory or something that can be a Hub id (``None``: the offline default)."""
    if model is not None and _looks_like_missing_path(model):
        what = "is a file, not a model directory" if os.path.exists(model) else "does not exist"
        raise ValueError(f"argument {flag}: {model!r} {what}; give a local model directory (with config.json) "
                         "or a Hub id like 'bert-base-uncased'")


def check_output_dir(flag: str, path: Any) -> None:
    """A directory the run can write: not empty text, not a file, and writable where it exists.

    >>> check_output_dir("--output_dir", "")
    Traceback (most recent call last):
    ...
    ValueError: argument --output_dir: got ''; give a directory to write the run into (an empty path would
    write into the current directory)
    """
    if not isinstance(path, (str, os.PathLike)) or not str(path).strip():
        raise ValueError(f"argument {flag}: got {path!r}; give a directory to write the run into (an empty path "
                         "would write into the current directory)")
    folder = Path(path)
    if folder.exists() and not folder.is_dir():
        raise ValueError(f"argument {flag}: {str(path)!r} is a file; give a directory")
    existing = folder
    while not existing.exists() and existing != existing.parent:
        existing = existing.parent
    if not os.access(existing, os.W_OK | os.X_OK):
        where = "it" if existing == folder else f"its parent {str(existing)!r}"
        raise ValueError(f"argument {flag}: cannot write to {str(path)!r} ({where} is read-only for this user); "
                         "choose a writable directory")


def check_resume_path(flag: str, path: Optional[str], *, latest: bool = True) -> None:
    """A checkpoint folder that exists (or ``'latest'`` where the recipe finds the newest)."""
    if path is None or (latest and path == "latest"):
        return
    if not os.path.isdir(path):
        also = " or 'latest'" if latest else ""
        raise ValueError(f"argument {flag}: {path!r} is not a directory; give a checkpoint folder{also}")


def check_auto_warmup_optimizer(warmup: Any, optim: str) -> None:
    """``--warmup auto`` is ``2 / (1 - beta2)`` steps: it needs an Adam-family optimizer."""
    if isinstance(warmup, str) and warmup.strip().lower() == "auto" and "adam" not in str(optim).lower():
        raise ValueError(f"argument --warmup: 'auto' is 2 / (1 - beta2) steps of an Adam-family optimizer, but "
                         f"--optim {optim} has no beta2; give the warmup in steps (100), a ratio (0.1) or a "
                         "percentage ('10%'), or an AdamW --optim")


def check_mixed_precision(flag: str, mixed_precision: Optional[str], *, has_gpu: bool) -> None:
    """fp8 needs a GPU that has it (Accelerate cannot emulate it on a CPU)."""
    if mixed_precision == "fp8" and not has_gpu:
        raise ValueError(f"argument {flag}: got 'fp8', which needs a GPU with fp8 support (and transformer-engine or "
                         "torchao); this machine has none: use bf16 or no")


def check_planned_steps(total: int, what: str) -> None:
    """Refuse a run of more than :data:`MAX_STEPS_PLANNED` optimizer steps (``what`` names the flags that gave it)."""
    if total > MAX_STEPS_PLANNED:
        raise ValueError(f"{what} gives {total:,} optimizer steps, more than the {MAX_STEPS_PLANNED:,} this recipe "
                         "plans (years of training); give fewer epochs or --max_steps")


def read_args_file(path: str) -> dict[str, Any]:
    """The arguments in one ``.json`` or ``.yaml`` file: an object of ``flag: value`` (without the dashes).

    >>> import tempfile, pathlib
    >>> f = pathlib.Path(tempfile.mkdtemp()) / "args.json"
    >>> _ = f.write_text('["--max_steps", "5"]')
    >>> read_args_file(str(f))  # doctest: +ELLIPSIS
    Traceback (most recent call last):
    ...
    ValueError: ...args.json holds a JSON list; it must hold one object of arguments, like {"output_dir":
    "runs/x", "max_steps": 100}
    """
    kind = "YAML" if path.lower().endswith((".yaml", ".yml")) else "JSON"
    example = '{"output_dir": "runs/x", "max_steps": 100}' if kind == "JSON" else "output_dir: runs/x"
    try:
        text = Path(path).read_text(encoding="utf-8")
    except FileNotFoundError:
        raise ValueError(f"{path}: no such file; give the path of a {kind} file of arguments") from None
    except (OSError, UnicodeDecodeError) as exc:
        raise ValueError(f"{path}: cannot read it as a text file of arguments: {exc}") from None
    if not text.strip():
        raise ValueError(f"{path} is empty; it must hold one object of arguments, like {example}")
    try:
        if kind == "YAML":
            import yaml  # type: ignore[import-untyped]  # PyYAML ships no stubs; only safe_load is used

            data = yaml.safe_load(text)
        else:
            data = json.loads(text)
    except Exception as exc:  # json.JSONDecodeError, yaml.YAMLError
        raise ValueError(f"{path} is not valid {kind}: {' '.join(str(exc).split())}") from None
    if not isinstance(data, dict):
        raise ValueError(f"{path} holds a {kind} {type(data).__name__.replace('dict', 'object')}; it must hold one "
                         f"object of arguments, like {example}")
    return data
