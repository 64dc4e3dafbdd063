"""DeepSpeed's ``"scheduler"`` and ``"optimizer"`` blocks against an hf_sched schedule: one rule, checked on the config.

A DeepSpeed config may carry its own LR scheduler (``"scheduler": {"type": "WarmupDecayLR", ...}``)
and its own optimizer with its own LR (``"optimizer": {"params": {"lr": 3e-5}}``). transformers
then builds DeepSpeed's scheduler and ignores ``lr_scheduler_type`` without a word, and trains at
the block's LR. The rule, the same in ``SchedTrainer`` (and every Trainer built with
:class:`~hf_sched.integrations.arguments.SchedArgumentsMixin`) and in the Accelerate recipe:

* a ``"scheduler"`` block while an hf_sched name is in force is **refused**, in one line that
  names the block and both ways out: remove the block (hf_sched's name schedules the LR), or
  say that DeepSpeed's scheduler wins (``deepspeed_scheduler=True`` /
  ``--deepspeed_scheduler true`` in the Trainer; the recipe always schedules with hf_sched);
* ``deepspeed_scheduler=True`` with no ``"scheduler"`` block is refused too (nothing would win);
* an ``"optimizer"`` block whose ``lr`` is a number other than ``learning_rate`` is refused:
  the peak that trains must be the one reported. ``"lr": "auto"`` takes ``learning_rate``.
  A tool that builds its own optimizer (the recipe) refuses any ``"optimizer"`` block.

Only the config is read: no DeepSpeed runtime is needed (the check runs before transformers
or Accelerate import DeepSpeed).

>>> config = {"scheduler": {"type": "WarmupDecayLR", "params": {"warmup_num_steps": 10}}}
>>> print(deepspeed_problem(config, lr_scheduler_type="warmupcosine", learning_rate=1e-4))  # doctest: +ELLIPSIS
the DeepSpeed config has a "scheduler" block (WarmupDecayLR) while lr_scheduler_type='warmupcosine' is set: ...
>>> deepspeed_problem({"optimizer": {"type": "AdamW", "params": {"lr": "auto"}}},
...                   lr_scheduler_type="warmupcosine", learning_rate=1e-4) is None
True
"""

from __future__ import annotations

import base64
import binascii
import json
import math
import numbers
import os
from typing import Any

__all__ = ["RECIPE_KEEP", "TRAINER_KEEP", "check_trainer_deepspeed", "deepspeed_problem", "load_deepspeed_config"]

#: how a Trainer user lets DeepSpeed's scheduler win
TRAINER_KEEP = "pass --deepspeed_scheduler true (deepspeed_scheduler=True)"
#: the same for the Accelerate recipe, which always schedules with hf_sched
RECIPE_KEEP = (
    "train with SchedTrainer and --deepspeed_scheduler true (this recipe always schedules the LR with hf_sched)"
)


def load_deepspeed_config(config: Any) -> dict[str, Any]:
    """The config as a dict, from a dict, a JSON file path, a JSON string, base64 JSON or an object with ``.config``.

    >>> load_deepspeed_config('{"train_batch_size": 8}')
    {'train_batch_size': 8}
    """
    if isinstance(config, dict):
        return config
    inner = getattr(config, "config", None)  # transformers' / Accelerate's HfDeepSpeedConfig
    if isinstance(inner, dict):
        return inner
    if isinstance(config, (str, os.PathLike)):
        text = os.fspath(config)
        if os.path.isfile(text):
            with open(text, encoding="utf-8") as fh:
                try:
                    loaded = json.load(fh)
                except json.JSONDecodeError as exc:
                    raise ValueError(f"deepspeed={text!r} is not a JSON DeepSpeed config: {exc}") from None
        else:
            try:
                loaded = json.loads(text) if text.lstrip().startswith("{") else json.loads(base64.urlsafe_b64decode(text))
            except (json.JSONDecodeError, binascii.Error, UnicodeDecodeError, ValueError):
                raise ValueError(
                    f"deepspeed={text!r} is neither a file nor a JSON (or base64 JSON) DeepSpeed config"
                ) from None
        if isinstance(loaded, dict):
            return loaded
    raise ValueError(f"deepspeed={config!r} must be a DeepSpeed config: a dict, a JSON file path or a JSON string")


def _block_type(block: Any) -> str:
    return str(block.get("type", "no type")) if isinstance(block, dict) else type(block).__name__


def deepspeed_problem(
    config: Any,
    *,
    lr_scheduler_type: str,
    learning_rate: float,
    deepspeed_scheduler: bool = False,
    builds_optimizer: bool = False,
    keep: str = TRAINER_KEEP,
) -> str | None:
    """One line saying what is wrong with ``config``'s ``scheduler``/``optimizer`` blocks for this run, or ``None``.

    ``builds_optimizer``: the tool builds its own optimizer (any ``"optimizer"`` block is refused);
    ``keep``: how this tool's user lets DeepSpeed's scheduler win.

    >>> deepspeed_problem({}, lr_scheduler_type="noam", learning_rate=1e-3) is None
    True
    """
    config = load_deepspeed_config(config)
    name = str(getattr(lr_scheduler_type, "value", lr_scheduler_type))
    scheduler = config.get("scheduler")
    if scheduler is not None and not deepspeed_scheduler:
        kind = _block_type(scheduler)
        return (
            f'the DeepSpeed config has a "scheduler" block ({kind}) while lr_scheduler_type={name!r} is set: '
            f"DeepSpeed's {kind} would schedule the LR and {name!r} would be ignored in silence. Remove the "
            f'"scheduler" block to train on {name!r}, or {keep} to let DeepSpeed\'s {kind} schedule the LR'
        )
    if scheduler is None and deepspeed_scheduler:
        return (
            'deepspeed_scheduler=True but the DeepSpeed config has no "scheduler" block: nothing would schedule '
            f"the LR. Add the block, or leave deepspeed_scheduler unset to train on lr_scheduler_type={name!r}"
        )
    optimizer = config.get("optimizer")
    if optimizer is None:
        return None
    kind = _block_type(optimizer)
    if builds_optimizer:
        return (
            f'the DeepSpeed config has an "optimizer" block ({kind}), but this script builds its own optimizer at '
            f"--learning_rate {learning_rate}: remove the block (or use SchedTrainer, which can train with it)"
        )
    params = optimizer.get("params", {}) if isinstance(optimizer, dict) else {}
    lr = params.get("lr", "auto") if isinstance(params, dict) else "auto"
    if lr == "auto":
        return None
    if isinstance(lr, bool) or not isinstance(lr, numbers.Real) or not math.isfinite(lr) or lr < 0:
        return f'the DeepSpeed config\'s "optimizer" block ({kind}) has lr={lr!r}: it must be a finite number >= 0 or "auto"'
    if not math.isclose(float(lr), float(learning_rate), rel_tol=1e-12, abs_tol=0.0):
        return (
            f'the DeepSpeed config\'s "optimizer" block ({kind}) sets lr={lr!r} but learning_rate={learning_rate!r}: '
            f'DeepSpeed would train at {lr!r} while {learning_rate!r} is reported. Set the block\'s "lr" to "auto" '
            "(it then takes learning_rate) or give the same value to both"
        )
    return None


def check_trainer_deepspeed(args: Any) -> None:
    """Raise ``ValueError`` with :func:`deepspeed_problem`'s line for Trainer arguments (``args.deepspeed`` set).

    >>> class Args:
    ...     deepspeed, lr_scheduler_type, learning_rate, deepspeed_scheduler = None, "noam", 1e-3, False
    >>> check_trainer_deepspeed(Args())   # no DeepSpeed config: nothing to check
    """
    config = getattr(args, "deepspeed", None)
    if not config:
        if getattr(args, "deepspeed_scheduler", False):
            raise ValueError("deepspeed_scheduler=True needs a DeepSpeed config (--deepspeed) with a \"scheduler\" block")
        return
    problem = deepspeed_problem(
        config,
        lr_scheduler_type=args.lr_scheduler_type,
        learning_rate=args.learning_rate,
        deepspeed_scheduler=bool(getattr(args, "deepspeed_scheduler", False)),
    )
    if problem is not None:
        raise ValueError(problem)
