"""The ``transformers`` Trainer integration: every hf_sched name through ``TrainingArguments``.

Three pieces, each usable on its own:

* :class:`SchedTrainingArguments` - a ``TrainingArguments`` subclass whose
  ``lr_scheduler_type`` takes any registry name (``warmupcosine``, ``noam``, ... and every
  transformers name), with ``warmup_ratio`` back (default ``0.1``), an ``int``-only
  ``warmup_steps`` where *unset* means "use the ratio", a ``warmup`` field for ``"auto"``
  and ``"10%"``, and ``lr_scheduler_kwargs`` (dict or JSON) checked against the schedule
  when the arguments are made.
* :class:`SchedTrainer` - a ``Trainer`` whose ``create_scheduler`` builds a
  :class:`~hf_sched.lr_scheduler.ScheduledLR` from the registry with the Trainer's own
  step count, and which refuses a resume whose schedule differs from the checkpoint's.
* :class:`LRCurveCallback` - saves the LR curve actually used (from
  ``state.log_history``) as ``lr_curve.png`` in ``output_dir`` at the end of training;
  works on a stock ``Trainer`` too.

The LR of optimizer step ``k`` (1-based, as the Trainer logs it) is
``learning_rate * f(k - 1)`` with ``f`` the named schedule over ``T`` optimizer steps,
``T`` the Trainer's own total (``max_steps``, or ``ceil(epochs * ceil(batches / grad_accum))``).
The Trainer steps its scheduler once per optimizer step in any world size, so ``T`` and
the curve are the same on 1 and on N processes with the same global batch.

Warmup, from the first of these that is set:

==========================  ==========================================================
``warmup_steps=N``          exactly ``N`` steps (an ``int``; ``0`` = no warmup)
``warmup="auto"|"10%"|..``  any request :func:`hf_sched.warmup.resolve_warmup` takes
``warmup_ratio=r``          ``ceil(r * T)`` steps (default ``r = 0.1``)
==========================  ==========================================================

Schedules without a warmup phase (``constantlr``, ``reduce_lr_on_plateau``, ``greedy``)
ignore the default ratio; an explicit request for them warns.

Command line::

    python train.py --lr_scheduler_type warmupcosine --warmup_ratio 0.1 \\
        --lr_scheduler_kwargs '{"num_cycles": 2}'

>>> from transformers import HfArgumentParser
>>> (args,) = HfArgumentParser(SchedTrainingArguments).parse_args_into_dataclasses(
...     ["--lr_scheduler_type", "warmupcosine", "--lr_scheduler_kwargs", '{"num_cycles": 2}',
...      "--output_dir", "/tmp/hf_sched_doc", "--report_to", "none"])
>>> args.lr_scheduler_type, args.lr_scheduler_type.value, args.lr_scheduler_kwargs
('warmupcosine', 'warmupcosine', {'num_cycles': 2})
>>> args.warmup_request(), args.get_warmup_steps(100)
(0.1, 10)
"""

import json
import math
import numbers
import os
import warnings
from dataclasses import dataclass, field
from typing import Any, Optional, Union

import torch
from transformers import Trainer, TrainerCallback, TrainingArguments
from transformers.trainer_utils import SchedulerType
from transformers.utils import logging as hf_logging

from .lr_scheduler import ScheduledLR, describe_spec_change, get_scheduler
from .registry import available_schedules, canonical_name, check_schedule_kwargs, get_info, normalize_name
from .warmup import DEFAULT_WARMUP_RATIO, resolve_warmup

__all__ = [
    "SchedulerName",
    "SchedTrainingArguments",
    "SchedTrainer",
    "LRCurveCallback",
    "lr_curve_from_log_history",
    "save_lr_curve",
]

logger = hf_logging.get_logger(__name__)

_SCHEDULER_FILE = "scheduler.pt"  # the name the Trainer saves its scheduler state under
_TRANSFORMERS_NAMES = {normalize_name(t.value): t.value for t in SchedulerType}
# Total steps used to check schedule arguments before the real total is known.
_PROBE_TOTAL = 1_000_000


class SchedulerName(str):
    """A schedule name stored in ``TrainingArguments.lr_scheduler_type``.

    A plain ``str`` (it compares, hashes, pickles and serialises as one) that also has the
    ``.value`` of transformers' ``SchedulerType`` enum, which ``transformers.modelcard``
    and other code read. Transformers' own names keep their spelling (``"linear"``,
    ``"reduce_lr_on_plateau"``), so the Trainer's checks against ``SchedulerType`` still
    match; other names are stored in their canonical form (``"hard-restarts"`` ->
    ``"warmupcosinewithhardrestarts"``).

    >>> SchedulerName.parse("Warmup-Cosine"), SchedulerName.parse("cosine").value
    ('warmupcosine', 'cosine')
    >>> SchedulerName.parse("reduce_lr_on_plateau") == SchedulerType.REDUCE_ON_PLATEAU
    True
    """

    __slots__ = ()

    @property
    def value(self) -> str:
        """The name as a plain ``str`` (what ``SchedulerType.value`` gives)."""
        return str.__str__(self)

    @property
    def canonical(self) -> str:
        """The registry's canonical name (``"linear"`` -> ``"warmuplinear"``)."""
        return canonical_name(self.value)

    @classmethod
    def parse(cls, name: Any) -> "SchedulerName":
        """Validate ``name`` (a str or a ``SchedulerType``) and return its stored form.

        Raises ``ValueError`` naming ``lr_scheduler_type``, the value, the closest match
        and every available name.
        """
        try:
            key = normalize_name(name)
            canonical = canonical_name(name)
        except (TypeError, ValueError) as exc:
            raise ValueError(f"lr_scheduler_type={name!r} is invalid: {exc}") from None
        return cls(_TRANSFORMERS_NAMES.get(key, canonical))

    def __repr__(self) -> str:
        return repr(self.value)

    def __reduce__(self) -> tuple[Any, tuple[str]]:
        return (SchedulerName, (self.value,))


def _names_help() -> str:
    try:
        return ", ".join(available_schedules())
    except Exception:  # a broken plugin must not break the argument parser  # pragma: no cover
        return "see `hf-sched list`"


@dataclass
class SchedTrainingArguments(TrainingArguments):
    """``TrainingArguments`` that take every hf_sched schedule name and warmup request.

    Differences from ``transformers.TrainingArguments`` (everything else is unchanged):

    * ``lr_scheduler_type`` (``str``, default ``"linear"``): any registry name or alias,
      case-insensitive, ``-``/``_`` ignored. Stored as a :class:`SchedulerName`.
    * ``lr_scheduler_kwargs`` (``dict`` or JSON string): checked at construction against
      the arguments the schedule accepts, and by building it once on a probe run, so a
      typo fails here, not an hour into training.
    * ``warmup_steps`` (``int`` or ``None``, default ``None``): ``None`` means "use
      ``warmup``/``warmup_ratio``"; ``0`` means no warmup; floats are refused (use
      ``warmup_ratio``: transformers' "``< 1`` is a ratio, ``1.0`` is one step" rule does
      not apply here).
    * ``warmup_ratio`` (``float`` in ``[0, 1)``, default ``0.1``): ``ceil(ratio * T)``
      warmup steps, the default for schedules with a warmup phase.
    * ``warmup`` (``str``, default ``None``): one request of any kind: ``"auto"``
      (``2 / (1 - beta2)`` steps for Adam-family optimizers), ``"10%"``, ``"0.06"``
      (ratio) or ``"100"`` (steps). Wins over ``warmup_ratio``; not with ``warmup_steps``.
    * ``lr_scheduler_strict_resume`` (``bool``, default ``True``): refuse to resume from a
      checkpoint whose schedule (total or warmup steps, name, arguments) differs; with
      ``False``, warn and continue this run's schedule from the checkpoint's step.
    * ``save_lr_curve`` (``bool``, default ``True``): :class:`SchedTrainer` adds an
      :class:`LRCurveCallback` that writes ``lr_curve.png`` to ``output_dir``.
    * ``layer_decay`` (``float`` in ``(0, 1]``, default ``None``): :class:`SchedTrainer`
      builds its optimizer from :func:`hf_sched.optim.param_groups`: encoder layer ``i``
      of ``L`` gets ``learning_rate * d ** (L - i)``, the embeddings ``d ** (L + 1)``,
      the head the full LR (and the schedule multiplies every group alike).

    The warmup is resolved once, by :meth:`get_warmup_steps` (which
    :class:`SchedTrainer` and transformers' integrations call) - transformers' float
    reading of ``warmup_steps`` is never applied on top.

    >>> args = SchedTrainingArguments(output_dir="/tmp/hf_sched_doc", lr_scheduler_type="noam",
    ...                               warmup="5%", report_to=[])
    >>> args.lr_scheduler_type, args.get_warmup_steps(200)
    ('noam', 10)
    >>> SchedTrainingArguments(output_dir="/tmp/hf_sched_doc", warmup_steps=0.1)
    Traceback (most recent call last):
    ...
    ValueError: warmup_steps=0.1 is invalid: it must be a whole number of steps (int >= 0) or None; for a ratio of the training steps use warmup_ratio=0.1 (or warmup='10%')
    """

    lr_scheduler_type: str = field(
        default="linear",
        metadata={
            "help": "The learning-rate schedule: any hf_sched name or alias (case-insensitive, '-'/'_' ignored): "
            + _names_help()
        },
    )
    warmup_steps: Optional[int] = field(
        default=None,
        metadata={
            "help": "Warmup as an exact number of optimizer steps (0 = no warmup). Unset: use --warmup or "
            "--warmup_ratio. Whole numbers only (a ratio goes in --warmup_ratio)."
        },
    )
    warmup_ratio: float = field(
        default=DEFAULT_WARMUP_RATIO,
        metadata={"help": "Warmup as a ratio of the training steps, in [0, 1): ceil(ratio * total) steps."},
    )
    warmup: Optional[str] = field(
        default=None,
        metadata={
            "help": "Warmup as one request: 'auto' (2/(1-beta2) steps for Adam), a percentage '10%%', a ratio "
            "'0.06' or steps '100'. Overrides --warmup_ratio; cannot be combined with --warmup_steps."
        },
    )
    lr_scheduler_strict_resume: bool = field(
        default=True,
        metadata={
            "help": "Refuse to resume from a checkpoint whose LR schedule (total/warmup steps, name, arguments) "
            "differs from this run's. False: warn and continue this run's schedule from the checkpoint's step."
        },
    )
    save_lr_curve: bool = field(
        default=True,
        metadata={"help": "Save the LR curve used (from the log history) as lr_curve.png in output_dir."},
    )
    layer_decay: Optional[float] = field(
        default=None,
        metadata={
            "help": "Layer-wise LR decay in (0, 1]: encoder layer i gets learning_rate * d**(L - i), the "
            "embeddings d**(L + 1), the head the full LR (hf_sched.optim.param_groups). Unset: no layer decay."
        },
    )

    def __post_init__(self) -> None:
        self.lr_scheduler_type = SchedulerName.parse(self.lr_scheduler_type)
        self.lr_scheduler_kwargs = _parse_scheduler_kwargs(self.lr_scheduler_kwargs)
        info = get_info(self.lr_scheduler_type)
        try:
            check_schedule_kwargs(info.name, self.lr_scheduler_kwargs)
        except ValueError as exc:
            raise ValueError(f"lr_scheduler_kwargs={self.lr_scheduler_kwargs!r} is invalid: {exc}") from None
        self._check_warmup_fields(info)
        if self.layer_decay is not None:
            d = self.layer_decay
            if isinstance(d, bool) or not isinstance(d, numbers.Real) or not (math.isfinite(d) and 0.0 < d <= 1.0):
                raise ValueError(
                    f"layer_decay={d!r} is invalid: it must be a number in (0, 1] (the LR factor per layer, "
                    "e.g. 0.9; 1 = no decay) or None"
                )
            self.layer_decay = float(d)

        # TrainingArguments.__post_init__ turns lr_scheduler_type into a SchedulerType and
        # compares warmup_steps with 0: hand it values it knows, then put ours back.
        name, warmup_steps = self.lr_scheduler_type, self.warmup_steps
        self.lr_scheduler_type = name.value if name.value in _TRANSFORMERS_NAMES.values() else "linear"
        self.warmup_steps = 0 if warmup_steps is None else warmup_steps
        super().__post_init__()
        self.lr_scheduler_type, self.warmup_steps = name, warmup_steps

        self._probe_schedule(info)

    # -- validation -------------------------------------------------------------------

    def _check_warmup_fields(self, info: Any) -> None:
        steps = self.warmup_steps
        if steps is not None:
            if isinstance(steps, bool) or not isinstance(steps, numbers.Integral):
                hint = ""
                if isinstance(steps, numbers.Real) and not isinstance(steps, bool) and 0 <= float(steps) < 1:
                    hint = f"; for a ratio of the training steps use warmup_ratio={float(steps)!r} (or warmup='{float(steps) * 100:g}%')"
                elif isinstance(steps, numbers.Real) and not isinstance(steps, bool):
                    hint = "; a float is refused so that 1.0 cannot silently mean one step"
                raise ValueError(
                    f"warmup_steps={steps!r} is invalid: it must be a whole number of steps (int >= 0) or None{hint}"
                )
            if steps < 0:
                raise ValueError(f"warmup_steps={steps!r} is invalid: it must be an int >= 0 (0 = no warmup) or None")
            self.warmup_steps = int(steps)
        ratio = self.warmup_ratio
        if isinstance(ratio, bool) or not isinstance(ratio, numbers.Real) or not 0.0 <= float(ratio) < 1.0:
            hint = " (for a number of steps use warmup_steps)" if isinstance(ratio, numbers.Real) and ratio >= 1 else ""
            raise ValueError(f"warmup_ratio={ratio!r} is invalid: it must be a number in [0, 1){hint}")
        self.warmup_ratio = float(ratio)
        if self.warmup is not None:
            if self.warmup_steps is not None:
                raise ValueError(
                    f"give the warmup once: warmup_steps={self.warmup_steps!r} and warmup={self.warmup!r} are both set"
                )
            if isinstance(self.warmup, bool) or not isinstance(self.warmup, (str, numbers.Real)):
                raise ValueError(
                    f"warmup={self.warmup!r} is invalid: it must be 'auto', a percentage like '10%', "
                    "a ratio in [0, 1) or a number of steps"
                )
            if not (isinstance(self.warmup, str) and self.warmup.strip().lower() == "auto"):
                try:
                    resolve_warmup(self.warmup, _PROBE_TOTAL)
                except (TypeError, ValueError) as exc:
                    raise ValueError(
                        f"warmup={self.warmup!r} is invalid: {exc}. Allowed: 'auto', a percentage in [0, 100) "
                        "like '10%', a ratio in [0, 1) or a whole number of steps"
                    ) from None
        explicit = self.warmup_steps is not None or self.warmup is not None
        if explicit and self.warmup_ratio != DEFAULT_WARMUP_RATIO:
            which = "warmup_steps" if self.warmup_steps is not None else "warmup"
            warnings.warn(
                f"warmup_ratio={self.warmup_ratio!r} is ignored: {which}={getattr(self, which)!r} is set and wins",
                stacklevel=3,
            )
        if not info.has_warmup or info.adaptive:
            asked = (self.warmup_steps or 0) > 0 or self.warmup_ratio not in (0.0, DEFAULT_WARMUP_RATIO)
            if self.warmup is not None:
                text = str(self.warmup).strip().lower()
                asked = asked or text == "auto" or resolve_warmup(self.warmup, _PROBE_TOTAL) > 0
            if asked:
                warnings.warn(
                    f"lr_scheduler_type={self.lr_scheduler_type.value!r} has no warmup phase; ignoring the warmup "
                    "request. Use 'warmupconstant' for warmup then a constant LR",
                    stacklevel=3,
                )

    def _probe_schedule(self, info: Any) -> None:
        """Build the schedule once on a throw-away optimizer to check the argument values."""
        total = self.max_steps if self.max_steps and self.max_steps > 0 else _PROBE_TOTAL
        # The optimizer's own checks (lr > 0, betas < 1) are not this check's business:
        # build it with valid values, then write the arguments' values in.
        probe = torch.optim.AdamW([torch.nn.Parameter(torch.zeros(1))], lr=1.0)
        probe.defaults["lr"] = probe.param_groups[0]["lr"] = float(self.learning_rate)
        probe.param_groups[0]["betas"] = (self.adam_beta1, self.adam_beta2)
        try:
            with warnings.catch_warnings():
                warnings.simplefilter("ignore")
                get_scheduler(
                    info.name,
                    probe,
                    num_warmup_steps=self.warmup_request(),
                    num_training_steps=None if info.adaptive else total,
                    scheduler_specific_kwargs=self.lr_scheduler_kwargs,
                )
        except (TypeError, ValueError) as exc:
            where = f" with max_steps={self.max_steps}" if total == self.max_steps else ""
            raise ValueError(
                f"lr_scheduler_type={self.lr_scheduler_type.value!r} cannot be built from these arguments{where} "
                f"(warmup {self.warmup_request()!r}, lr_scheduler_kwargs={self.lr_scheduler_kwargs!r}): {exc}"
            ) from None

    # -- warmup -----------------------------------------------------------------------

    def warmup_request(self) -> Union[int, float, str, None]:
        """The one warmup request passed to the schedule (``None``: the schedule has no warmup).

        ``warmup_steps`` if set, else ``warmup`` if set, else ``warmup_ratio``.

        >>> SchedTrainingArguments(output_dir="/tmp/hf_sched_doc", warmup_steps=0).warmup_request()
        0
        """
        info = get_info(self.lr_scheduler_type)
        if not info.has_warmup or info.adaptive:
            return None
        if self.warmup_steps is not None:
            return self.warmup_steps
        if self.warmup is not None:
            return self.warmup
        return self.warmup_ratio

    def get_warmup_steps(self, num_training_steps: int, optimizer: Optional[torch.optim.Optimizer] = None) -> int:
        """Warmup steps for a run of ``num_training_steps`` optimizer steps.

        Resolves :meth:`warmup_request` with :func:`hf_sched.warmup.resolve_warmup`
        (``"auto"`` needs ``optimizer``). Replaces transformers' float rule.

        >>> SchedTrainingArguments(output_dir="/tmp/hf_sched_doc", warmup="10%").get_warmup_steps(35)
        4
        """
        request = self.warmup_request()
        if request is None:
            return 0
        return resolve_warmup(request, num_training_steps, optimizer)

    def set_lr_scheduler(  # type: ignore[override]
        self,
        name: Any = "linear",
        num_epochs: float = 3.0,
        max_steps: int = -1,
        warmup_steps: Optional[int] = None,
        warmup_ratio: Optional[float] = None,
        warmup: Optional[str] = None,
        kwargs: Optional[dict[str, Any]] = None,
    ) -> "SchedTrainingArguments":
        """Set the schedule fields together, with the same checks as the constructor.

        >>> args = SchedTrainingArguments(output_dir="/tmp/hf_sched_doc")
        >>> args.set_lr_scheduler("warmupcosine", max_steps=50, warmup="auto").lr_scheduler_type
        'warmupcosine'
        """
        self.lr_scheduler_type = SchedulerName.parse(name)
        self.num_train_epochs = num_epochs
        self.max_steps = max_steps
        self.warmup_steps = warmup_steps
        self.warmup = warmup
        if warmup_ratio is not None:
            self.warmup_ratio = warmup_ratio
        self.lr_scheduler_kwargs = _parse_scheduler_kwargs(kwargs)
        info = get_info(self.lr_scheduler_type)
        try:
            check_schedule_kwargs(info.name, self.lr_scheduler_kwargs)
        except ValueError as exc:
            raise ValueError(f"lr_scheduler_kwargs={self.lr_scheduler_kwargs!r} is invalid: {exc}") from None
        self._check_warmup_fields(info)
        self._probe_schedule(info)
        return self

    # -- serialisation ----------------------------------------------------------------

    def to_dict(self) -> dict[str, Any]:
        """As ``TrainingArguments.to_dict``, with ``lr_scheduler_type`` a plain ``str``."""
        d = super().to_dict()
        d["lr_scheduler_type"] = str.__str__(self.lr_scheduler_type)
        return d


def _parse_scheduler_kwargs(value: Any) -> dict[str, Any]:
    """``None``, a dict, or a JSON object string -> a dict (errors name the parameter)."""
    if value is None:
        return {}
    if isinstance(value, str):
        try:
            value = json.loads(value) if value.strip() else {}
        except json.JSONDecodeError as exc:
            raise ValueError(
                f"lr_scheduler_kwargs={value!r} is not valid JSON ({exc.msg} at character {exc.pos}); "
                'give a JSON object such as \'{"num_cycles": 2}\''
            ) from None
    if not isinstance(value, dict):
        raise ValueError(
            f"lr_scheduler_kwargs={value!r} is invalid: it must be a dict or a JSON object string such as "
            '\'{"num_cycles": 2}\''
        )
    bad = [k for k in value if not isinstance(k, str)]
    if bad:
        raise ValueError(f"lr_scheduler_kwargs keys must be strings, got {bad!r}")
    return dict(value)


# ---------------------------------------------------------------------------- Trainer


class SchedTrainer(Trainer):
    """A ``transformers.Trainer`` whose LR scheduler comes from the hf_sched registry.

    ``create_scheduler(num_training_steps, optimizer)`` builds
    ``hf_sched.get_scheduler(args.lr_scheduler_type, optimizer, warmup, T, kwargs)`` with
    the Trainer's own ``T``, for whatever optimizer the Trainer made (or was given with
    ``optimizers=(opt, None)``); a scheduler given in ``optimizers`` is used as is.
    Metric-driven names (``reduce_lr_on_plateau``, ``greedy``) give the torch/transformers
    objects the Trainer steps with the eval metric.

    With plain ``TrainingArguments`` it reads transformers' fields with transformers'
    meaning (``warmup_steps`` < 1 is a ratio) and gives the stock Trainer's LR values.

    On ``train(resume_from_checkpoint=...)``, the checkpoint's ``scheduler.pt`` is compared
    with this run's schedule first: a different total (changed batch size, epochs,
    ``max_steps``, processes, data), warmup, name or argument raises ``ValueError`` that
    says what changed, unless ``args.lr_scheduler_strict_resume`` is ``False`` (then a
    warning, and this run's schedule continues from the checkpoint's step).

    Example (a tiny random BERT on made-up tokens; LR at step ``k`` is ``1e-3 * f(k-1)``):

    >>> import tempfile, torch
    >>> from transformers import BertConfig, BertForSequenceClassification, PrinterCallback
    >>> model = BertForSequenceClassification(BertConfig(vocab_size=50, hidden_size=32,
    ...     num_hidden_layers=2, num_attention_heads=2, intermediate_size=64))
    >>> data = [{"input_ids": torch.randint(1, 50, (8,)), "labels": i % 2} for i in range(40)]
    >>> args = SchedTrainingArguments(output_dir=tempfile.mkdtemp(), lr_scheduler_type="warmupcosine",
    ...     learning_rate=1e-3, per_device_train_batch_size=4, num_train_epochs=1, logging_steps=1,
    ...     save_strategy="no", report_to=[], use_cpu=True, disable_tqdm=True)
    >>> trainer = SchedTrainer(model=model, args=args, train_dataset=data)
    >>> trainer.remove_callback(PrinterCallback)  # keep this example quiet
    >>> _ = trainer.train()
    >>> [round(h["learning_rate"], 7) for h in trainer.state.log_history if "learning_rate" in h][:3]
    [0.0, 0.001, 0.0009698]
    >>> trainer.lr_scheduler.schedules[0].num_training_steps, trainer.lr_scheduler.get_last_lr()  # 2 groups
    (10, [0.0, 0.0])
    """

    def __init__(self, *args: Any, **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        if getattr(self.args, "save_lr_curve", False) and not any(
            isinstance(cb, LRCurveCallback) for cb in self.callback_handler.callbacks
        ):
            self.add_callback(LRCurveCallback())

    # -- optimizer --------------------------------------------------------------------

    def create_optimizer(self, model: Optional[torch.nn.Module] = None) -> torch.optim.Optimizer:
        """The Trainer's optimizer; with ``args.layer_decay`` set, over layer-wise param groups.

        The optimizer class and its arguments are the Trainer's (``args.optim``,
        betas, eps, ...); only the param groups change, to
        ``hf_sched.optim.param_groups(model, args.weight_decay, layer_decay=d, lr=args.learning_rate)``:
        group LR ``learning_rate * d ** (L + 1 - k)`` at depth ``k`` (0 = embeddings,
        ``L + 1`` = head), no weight decay for norms and biases.
        """
        layer_decay = getattr(self.args, "layer_decay", None)
        if layer_decay is None or self.optimizer is not None:
            return super().create_optimizer(model)
        from transformers.trainer_optimizer import is_optimizer_factory

        from .optim import param_groups

        opt_model = self.model if model is None else model
        optimizer_cls, optimizer_kwargs = (
            self.optimizer_cls_and_kwargs
            if self.optimizer_cls_and_kwargs is not None
            else self.get_optimizer_cls_and_kwargs(self.args, opt_model)
        )
        special = sorted({"params", "model", "optimizer_dict"} & set(optimizer_kwargs))
        if is_optimizer_factory(optimizer_cls) or special:
            raise ValueError(
                f"layer_decay={layer_decay!r} cannot be used with optim={getattr(self.args.optim, 'value', self.args.optim)!r}: "
                "that optimizer builds its own parameter groups. Use a plain optimizer (adamw_torch, sgd, "
                "adafactor, ...) or leave layer_decay unset"
            )
        groups = param_groups(
            opt_model, weight_decay=self.args.weight_decay, layer_decay=layer_decay, lr=self.args.learning_rate
        )
        self.optimizer = optimizer_cls(groups, **optimizer_kwargs)
        return self.optimizer

    # -- scheduler --------------------------------------------------------------------

    def _schedule_request(self, num_training_steps: int) -> tuple[str, Any, dict[str, Any], bool]:
        """(name, warmup request, schedule kwargs, strict) from the arguments."""
        args = self.args
        if isinstance(args, SchedTrainingArguments):
            return (
                args.lr_scheduler_type.value,
                args.warmup_request(),
                dict(args.lr_scheduler_kwargs or {}),
                bool(args.lr_scheduler_strict_resume),
            )
        # Stock TrainingArguments: transformers' meaning of every field.
        name = getattr(args.lr_scheduler_type, "value", args.lr_scheduler_type)
        info = get_info(name)
        request = None if info.adaptive else args.get_warmup_steps(num_training_steps)
        kwargs = args.lr_scheduler_kwargs
        if isinstance(kwargs, str):
            kwargs = _parse_scheduler_kwargs(kwargs)
        return name, request, dict(kwargs or {}), True

    def create_scheduler(
        self, num_training_steps: int, optimizer: Optional[torch.optim.Optimizer] = None
    ) -> Any:
        """Build the scheduler from the registry for a run of ``num_training_steps`` steps.

        ``lr(k) = base_lr_g * f(k - 1)`` for optimizer step ``k`` and param group ``g``,
        ``f`` the schedule named by ``args.lr_scheduler_type`` with ``T =
        num_training_steps`` and the resolved warmup. Stepped once per optimizer step by
        the Trainer (no ``ticks_per_step``: the Trainer does not hand its scheduler to
        Accelerate). Does nothing if a scheduler already exists.
        """
        if self.lr_scheduler is None:
            optimizer = self.optimizer if optimizer is None else optimizer
            if optimizer is None:
                raise ValueError(
                    "create_scheduler needs an optimizer: call create_optimizer() first or pass optimizer="
                )
            name, request, kwargs, strict = self._schedule_request(num_training_steps)
            self.lr_scheduler = get_scheduler(
                name,
                optimizer,
                num_warmup_steps=request,
                num_training_steps=num_training_steps,
                scheduler_specific_kwargs=kwargs,
                strict=strict,
            )
            self._created_lr_scheduler = True
            if isinstance(self.lr_scheduler, ScheduledLR):
                s = self.lr_scheduler.schedules[0]
                logger.info(
                    f"hf_sched: {name} over {s.num_training_steps} optimizer steps, {s.num_warmup_steps} warmup steps"
                )
        return self.lr_scheduler

    # -- model card -------------------------------------------------------------------

    def create_model_card(self, *args: Any, **kwargs: Any) -> None:
        """transformers' model card, with the warmup steps this run actually used.

        transformers reads ``args.warmup_steps`` for the card; with
        :class:`SchedTrainingArguments` that field may be unset (the ratio applied), so
        the resolved number of warmup steps is shown instead.
        """
        saved = getattr(self.args, "warmup_steps", None)
        sched = self.lr_scheduler
        if not isinstance(self.args, SchedTrainingArguments):
            return super().create_model_card(*args, **kwargs)
        if isinstance(sched, ScheduledLR):
            shown: Any = sched.schedules[0].num_warmup_steps
        elif saved is not None:
            shown = saved
        else:
            shown = 0 if self.args.warmup_request() is None else self.args.warmup_request()
        self.args.warmup_steps = shown
        try:
            return super().create_model_card(*args, **kwargs)
        finally:
            self.args.warmup_steps = saved

    # -- resume -----------------------------------------------------------------------

    def _load_optimizer_and_scheduler(self, checkpoint: Optional[str]) -> None:
        sched = self.lr_scheduler
        if checkpoint is None or not isinstance(sched, ScheduledLR):
            super()._load_optimizer_and_scheduler(checkpoint)
            return
        mine = [s.to_dict() for s in sched.schedules]
        keep_mine = self._check_resume_schedule(checkpoint, sched)
        if not keep_mine:
            super()._load_optimizer_and_scheduler(checkpoint)
            return
        # Opted out of the strict check: load the step (and LRs) without the check, then
        # continue with the schedule built for this run (the Trainer trains its own T).
        strict, sched.strict = sched.strict, False
        try:
            super()._load_optimizer_and_scheduler(checkpoint)
            with warnings.catch_warnings():
                warnings.simplefilter("ignore", UserWarning)  # the swap back is what was asked for
                sched.load_state_dict({**sched.state_dict(), "schedules": mine}, strict=False)
        finally:
            sched.strict = strict

    def _check_resume_schedule(self, checkpoint: str, sched: ScheduledLR) -> bool:
        """Compare the checkpoint's schedule with this run's; True if they differ (and allowed)."""
        path = os.path.join(checkpoint, _SCHEDULER_FILE)
        if not os.path.isfile(path):
            return False
        state = torch.load(path, map_location="cpu", weights_only=True)
        if not isinstance(state, dict) or "schedules" not in state or "format" not in state:
            keys = sorted(state) if isinstance(state, dict) else type(state).__name__
            raise ValueError(
                f"cannot resume the LR schedule from {path}: it was written by another scheduler (state keys {keys}), "
                "not by hf_sched's ScheduledLR. Resume it with the Trainer that wrote it, or start a new run"
            )
        theirs = state["schedules"]
        mine = [s.to_dict() for s in sched.schedules]
        if len(theirs) != len(mine):
            raise ValueError(
                f"cannot resume from {checkpoint}: its scheduler has {len(theirs)} param groups, this run's optimizer "
                f"has {len(mine)}"
            )
        old_lrs = [float(b) for b in state.get("base_lrs", [])]
        if old_lrs and old_lrs != [float(b) for b in sched.base_lrs]:
            logger.warning(
                f"the peak learning rates differ from the checkpoint's ({old_lrs} -> {list(sched.base_lrs)}); "
                "the checkpoint's are used, as its optimizer state holds them"
            )
        changes = [(i, describe_spec_change(a, b)) for i, (a, b) in enumerate(zip(theirs, mine)) if a != b]
        if not changes:
            return False
        if all(c == changes[0][1] for _, c in changes):
            what = changes[0][1]
        else:
            what = "; ".join(f"group {i}: {c}" for i, c in changes)
        msg = (
            f"the LR schedule of this run differs from the one in {checkpoint} (checkpoint -> now): {what}. "
            f"The total comes from num_train_epochs/max_steps, per_device_train_batch_size, "
            f"gradient_accumulation_steps, the number of processes and the dataset size (now "
            f"T={sched.schedules[0].num_training_steps}); one of them changed"
        )
        if sched.strict:
            raise ValueError(
                f"cannot resume: {msg}. Resuming would silently stretch or cut the schedule. Resume with the "
                "same settings, or pass --lr_scheduler_strict_resume false (lr_scheduler_strict_resume=False) to "
                "continue this run's schedule from the checkpoint's step"
            )
        warnings.warn(
            f"resuming anyway (lr_scheduler_strict_resume=False): {msg}. Continuing this run's schedule from "
            f"step {int(state.get('step', 0))}",
            UserWarning,
            stacklevel=4,
        )
        logger.warning(f"hf_sched: {msg}; continuing this run's schedule (lr_scheduler_strict_resume=False)")
        return True


# ---------------------------------------------------------------------------- LR curve


def lr_curve_from_log_history(log_history: list[dict[str, Any]]) -> list[tuple[int, float]]:
    """``(step, learning_rate)`` of every log entry that has a learning rate, in order.

    The Trainer logs ``learning_rate`` after ``optimizer.step()`` and before
    ``scheduler.step()``: the LR logged at step ``k`` is the one step ``k`` used.
    A step logged twice (a resumed run) keeps its last value.

    >>> lr_curve_from_log_history([{"loss": 1.0, "learning_rate": 0.0, "step": 1},
    ...                            {"eval_loss": 0.5, "step": 1}, {"learning_rate": 1e-3, "step": 2}])
    [(1, 0.0), (2, 0.001)]
    """
    points: dict[int, float] = {}
    for entry in log_history:
        if "learning_rate" in entry and "step" in entry:
            points[int(entry["step"])] = float(entry["learning_rate"])
    return sorted(points.items())


def save_lr_curve(
    points: list[tuple[int, float]],
    path: str,
    *,
    planned: Optional[tuple[list[int], list[float]]] = None,
    title: str = "learning rate",
) -> str:
    """Plot ``points`` (step, LR) to ``path`` (PNG) with matplotlib's Agg canvas; return ``path``.

    ``planned`` (steps, LRs) adds the schedule's own curve, dashed, for comparison.
    Raises ``ImportError`` if matplotlib is not installed.

    >>> import os, tempfile
    >>> p = save_lr_curve([(1, 0.0), (2, 1e-3), (3, 5e-4)], os.path.join(tempfile.mkdtemp(), "lr.png"))
    >>> open(p, "rb").read(8) == b"\\x89PNG\\r\\n\\x1a\\n"
    True
    """
    from matplotlib.backends.backend_agg import FigureCanvasAgg
    from matplotlib.figure import Figure

    fig = Figure(figsize=(7, 3.5), dpi=100)
    FigureCanvasAgg(fig)
    ax = fig.add_subplot(1, 1, 1)
    if planned is not None:
        ax.plot(planned[0], planned[1], linestyle="--", linewidth=1.0, color="0.6", label="schedule")
    steps = [s for s, _ in points]
    lrs = [lr for _, lr in points]
    ax.plot(steps, lrs, marker="." if len(points) <= 200 else None, linewidth=1.5, label="logged")
    ax.set_xlabel("optimizer step")
    ax.set_ylabel("learning rate")
    ax.set_title(title)
    ax.grid(True, alpha=0.3)
    if planned is not None:
        ax.legend(loc="best")
    fig.tight_layout()
    os.makedirs(os.path.dirname(os.path.abspath(path)), exist_ok=True)
    fig.savefig(path, format="png")
    return path


class LRCurveCallback(TrainerCallback):
    """Save the LR curve actually used as a PNG in ``args.output_dir`` when training ends.

    Reads ``(step, learning_rate)`` from ``state.log_history`` (so the curve has one point
    per logging step: use ``logging_steps=1`` for every step) and, when the scheduler is a
    :class:`~hf_sched.lr_scheduler.ScheduledLR`, draws its planned curve dashed behind it.
    Written by the main process only; skipped (with a log message) when matplotlib is not
    installed or nothing was logged. Works on a stock ``Trainer``:

    >>> from transformers import Trainer
    >>> callback = LRCurveCallback(filename="lr_curve.png")
    >>> # Trainer(model=..., args=..., train_dataset=..., callbacks=[callback]).train()

    After training, ``callback.path`` is the file written (or ``None``).
    """

    def __init__(self, filename: str = "lr_curve.png") -> None:
        if not isinstance(filename, str) or not filename.lower().endswith(".png"):
            raise ValueError(f"filename={filename!r} is invalid: it must be a file name ending in .png")
        self.filename = filename
        self.path: Optional[str] = None

    def on_train_end(self, args: TrainingArguments, state: Any, control: Any, **kwargs: Any) -> None:
        if not state.is_world_process_zero:
            return
        points = lr_curve_from_log_history(state.log_history)
        if not points:
            logger.warning("LRCurveCallback: no learning_rate in the log history; lr curve not saved")
            return
        try:
            import matplotlib  # noqa: F401
        except ImportError:
            logger.info("LRCurveCallback: matplotlib is not installed; lr curve not saved")
            return
        planned = None
        title = "learning rate"
        sched = kwargs.get("lr_scheduler")
        if isinstance(sched, ScheduledLR):
            s = sched.schedules[0]
            total = s.num_training_steps
            if total <= 1_000_000:
                import numpy as np

                values = s.values(np.arange(total)) * sched.base_lrs[0]
                planned = (list(range(1, total + 1)), values.tolist())
            title = f"{s.kind}: {total} steps, {s.num_warmup_steps} warmup"
        path = os.path.join(args.output_dir, self.filename)
        self.path = save_lr_curve(points, path, planned=planned, title=title)
        logger.info(f"LRCurveCallback: saved {self.path}")
