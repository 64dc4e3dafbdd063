"""The arguments half of the one mechanism: hf_sched fields for any ``TrainingArguments`` subclass.

:class:`SchedArgumentsMixin` is a dataclass mixin. Put it **first** in the bases of a
dataclass that also derives from ``TrainingArguments`` (or any subclass of it:
``Seq2SeqTrainingArguments``, ``SentenceTransformerTrainingArguments``, TRL's ``SFTConfig``,
...) and the combined class takes every hf_sched schedule name and warmup request, on the
command line (``HfArgumentParser``) and in code::

    @dataclass
    class MyArgs(SchedArgumentsMixin, SFTConfig):
        pass

Fields it adds or redeclares (everything else is the base class's):

==============================  ==================================================================
``lr_scheduler_type``           any registry name or alias (stored as a
                                :class:`~hf_sched.integrations.scheduler_name.SchedulerName`)
``lr_scheduler_kwargs``         dict or JSON, checked against the schedule when the args are made
``warmup_steps``                transformers 5.x's meaning: ``>= 1`` steps, ``< 1`` a ratio
                                ``ceil(r * T)``; unset (``None``) = use ``warmup``/``warmup_ratio``
``warmup_ratio``                ``ceil(r * T)`` steps, default ``0.1`` (gone from transformers 5.x)
``warmup``                      one request of any kind: ``"auto"``, ``"10%"``, ``"0.06"``, ``"100"``
``lr_scheduler_resume``         what a resume whose schedule changed does: ``strict`` (refuse, the
                                default), ``checkpoint``, ``rescale`` or ``replan``
                                (:mod:`hf_sched.resume_modes`)
``lr_scheduler_strict_resume``  ``False``: the older spelling of ``--lr_scheduler_resume checkpoint``
``lr_scheduler_horizon``        the schedule's own total when the run stops earlier (``max_steps``)
``lr_scheduler_decay_from_here``  on resume, start the checkpoint's decay at its step: steps, a
                                ratio of what is left or ``"20%"`` (WSD, constant)
``save_lr_curve``               write ``lr_curve.png`` to ``output_dir`` at the end of training
``layer_decay``                 layer-wise LR decay ``d`` in ``(0, 1]`` for the optimizer's groups
``lr_mapping``                  ``{regex: lr}`` / ``{regex: "x16"}`` (dict or JSON) for the optimizer's groups
``loraplus_lr_ratio``           LoRA+: PEFT's LoRA B matrices at this ratio times the LR
==============================  ==================================================================

The three LR rules compose (:func:`hf_sched.optim.param_groups`): a parameter's peak is
``(its regex's LR, or learning_rate) * layer factor * (loraplus_lr_ratio for LoRA B)``.
sentence-transformers' own ``learning_rate_mapping`` has the same meaning and is read as
``lr_mapping``; setting both is refused.

Warmup, from the first of these that is set: ``warmup_steps``, ``warmup``, ``warmup_ratio``.
``constantlr`` has no warmup phase: it ignores the default ratio, and an explicit request warns.
The metric-driven ``reduce_lr_on_plateau`` and ``greedy`` take an explicit warmup prefix
(``warmup_steps``, ``warmup`` or a non-default ``warmup_ratio``) and have none by default
(:mod:`hf_sched.metric_schedulers`).

>>> from dataclasses import dataclass
>>> from transformers import HfArgumentParser, TrainingArguments
>>> @dataclass
... class Args(SchedArgumentsMixin, TrainingArguments):
...     pass
>>> (args,) = HfArgumentParser(Args).parse_args_into_dataclasses(
...     ["--lr_scheduler_type", "hard-restarts", "--lr_scheduler_kwargs", '{"num_cycles": 2}',
...      "--warmup_steps", "0.05", "--output_dir", "/tmp/hf_sched_doc", "--report_to", "none"])
>>> args.lr_scheduler_type, args.lr_scheduler_type.value, args.get_warmup_steps(100)
('warmupcosinewithhardrestarts', 'warmupcosinewithhardrestarts', 5)
"""

from __future__ import annotations

import math
import numbers
import warnings
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any, Optional, Union

from ..checks import check_kwargs
from ..deepspeed_config import check_trainer_deepspeed
from ..horizon import check_decay_request, with_horizon
from ..lr_rules import check_loraplus_ratio, parse_lr_mapping
from ..registry import available_schedules, check_schedule_kwargs, get_info
from ..resume_modes import resolve_mode
from ..schedule_free import check_schedule_free_arguments
from ..warmup import DEFAULT_WARMUP_RATIO, epochs_to_steps, is_epoch_request, resolve_warmup
from .scheduler_name import SchedulerName, transformers_names

__all__ = ["SchedArgumentsMixin", "parse_scheduler_kwargs", "RESUME_FLAG", "STRICT_RESUME_FLAG"]

# Total steps used to check schedule arguments before the real total is known.
_PROBE_TOTAL = 1_000_000
# Run lengths a schedule is tried on before training, when max_steps does not give the total:
# arguments that fit none of them are wrong for any run.
_PROBE_TOTALS = [_PROBE_TOTAL, 10**4, 1000, 100, 10, 2]
STRICT_RESUME_FLAG = "--lr_scheduler_strict_resume false (lr_scheduler_strict_resume=False)"
#: how a Trainer user types a resume mode
RESUME_FLAG = "--lr_scheduler_resume {mode}"


def _names_help() -> str:
    try:
        return ", ".join(available_schedules())
    except Exception:  # a broken plugin must not break the argument parser  # pragma: no cover
        return "see `hf-sched list`"


def parse_scheduler_kwargs(value: Any) -> dict[str, Any]:
    """``None``, a dict, or a JSON object string -> a dict (errors name ``lr_scheduler_kwargs``).

    >>> parse_scheduler_kwargs('{"num_cycles": 2}'), parse_scheduler_kwargs(None)
    ({'num_cycles': 2}, {})
    """
    if isinstance(value, str) and not value.strip():
        return {}
    try:
        return check_kwargs("lr_scheduler_kwargs", value)
    except (TypeError, ValueError) as exc:
        raise ValueError(str(exc)) from None


def _check_warmup_steps(steps: Any) -> Union[int, float, None]:
    """transformers 5.x's ``warmup_steps``: ``>= 1`` whole steps, ``[0, 1)`` a ratio; ``None`` unset."""
    if steps is None:
        return None
    if isinstance(steps, bool) or not isinstance(steps, numbers.Real) or not math.isfinite(float(steps)):
        raise ValueError(
            f"warmup_steps={steps!r} is invalid: it must be a whole number of steps >= 1, a ratio of the "
            "training steps in [0, 1) (as in transformers 5.x), or None"
        )
    if steps < 0:
        raise ValueError(
            f"warmup_steps={steps!r} is invalid: it must be >= 0 (a whole number of steps >= 1, a ratio in "
            "[0, 1), 0 = no warmup) or None"
        )
    if steps < 1:
        return 0 if steps == 0 else float(steps)
    if not float(steps).is_integer():
        raise ValueError(
            f"warmup_steps={steps!r} is invalid: a value >= 1 is a number of steps and must be whole "
            f"(transformers would silently use {int(float(steps))}); values below 1 are a ratio of the training steps"
        )
    return int(float(steps))


def _checked_mapping(value: Any, param: str) -> Optional[dict[str, Any]]:
    """A regex map (dict or JSON string) checked by :func:`hf_sched.lr_rules.parse_lr_mapping`, as a dict or ``None``."""
    rules = parse_lr_mapping(value, param=param)
    return {r.pattern: r.spelling() for r in rules} or None


def _base_has_warmup_ratio() -> bool:
    """Whether ``transformers.TrainingArguments`` has ``warmup_ratio`` (4.x; removed in 5.0)."""
    import dataclasses

    from transformers import TrainingArguments

    return any(f.name == "warmup_ratio" for f in dataclasses.fields(TrainingArguments))


def _check_mixin_first(cls: type, mixin: type, base: type) -> None:
    """Refuse ``class C(Base, Mixin)``: the mixin must come before every ``base`` class in the MRO.

    Put second, the base's fields and methods would win over hf_sched's in silence.
    """
    mro = cls.__mro__
    late = [c for c in mro[: mro.index(mixin)] if issubclass(c, base) and not issubclass(c, mixin)]
    if late:
        raise TypeError(
            f"{cls.__name__}: put {mixin.__name__} first in the bases, before {late[0].__name__} "
            f"(e.g. class {cls.__name__}({mixin.__name__}, {late[0].__name__})); after it, {late[0].__name__}'s "
            f"fields and methods would override hf_sched's"
        )


@dataclass
class SchedArgumentsMixin:
    """hf_sched's schedule fields for any ``TrainingArguments`` subclass (put it first in the bases).

    * ``lr_scheduler_type`` (``str``, default ``"linear"``): any registry name or alias,
      case-insensitive, ``-``/``_`` ignored. Stored as a
      :class:`~hf_sched.integrations.scheduler_name.SchedulerName`.
    * ``lr_scheduler_kwargs`` (``dict`` or JSON string): checked at construction against
      the arguments the schedule accepts, and by building it once on a probe run, so a
      typo fails here, not an hour into training.
    * ``warmup_steps`` (``float`` or ``None``, default ``None``): transformers 5.x's rule,
      ``>= 1`` is a whole number of steps, ``< 1`` a ratio (``ceil(r * T)`` steps), ``0``
      no warmup; ``None`` means "use ``warmup``/``warmup_ratio``".
    * ``warmup_ratio`` (``float`` in ``[0, 1)``, default ``0.1``): ``ceil(ratio * T)``
      warmup steps, the default for schedules with a warmup phase.
    * ``warmup`` (``str``, default ``None``): ``"auto"`` (``2 / (1 - beta2)`` steps for
      Adam-family optimizers), ``"10%"``, ``"0.06"`` (ratio) or ``"100"`` (steps). Wins
      over ``warmup_ratio``; not with ``warmup_steps``.
    * ``lr_scheduler_resume`` (``str``, default ``"strict"``): what a resume from a checkpoint
      whose schedule (total or warmup steps, name, arguments), peak LR or weight decay differs
      does: ``strict`` refuses, ``checkpoint`` continues the checkpoint's schedule from its
      step, ``rescale`` the checkpoint's plan over this run's steps (from the Trainer's
      ``global_step``), ``replan`` this run's schedule, peak and weight decay (the LR jump is
      printed). ``lr_scheduler_strict_resume`` (``bool``) is the older spelling of
      ``strict``/``checkpoint``; after construction both fields agree.
    * ``lr_scheduler_horizon`` (``int``): the schedule's total when the run is shorter.
    * ``lr_scheduler_decay_from_here`` (``str``): on resume, decay from the resumed step
      (:func:`hf_sched.horizon.decay_from_here`).
    * ``save_lr_curve`` (``bool``, default ``True``): the trainer adds an
      :class:`~hf_sched.integrations.lr_curve.LRCurveCallback`.
    * ``layer_decay`` (``float`` in ``(0, 1]``, default ``None``): encoder layer ``i`` of
      ``L`` gets ``learning_rate * d ** (L - i)``, the embeddings ``d ** (L + 1)``, the head
      the full LR (:func:`hf_sched.optim.param_groups`).
    * ``lr_mapping`` (``dict`` or JSON string, default ``None``): regex on parameter names
      (``re.search``) -> an LR, or ``"x<f>"`` for ``f * learning_rate``; e.g.
      ``--lr_mapping '{"classifier": 1e-3}'``. A regex that matches no trainable parameter,
      or two regexes for one parameter, fail when the optimizer is made.
    * ``loraplus_lr_ratio`` (``float > 0``, default ``None``): LoRA+, PEFT's ``lora_B`` /
      ``lora_embedding_B`` at ``ratio * `` their LR (e.g. ``16``).

    The warmup is resolved once, by :meth:`get_warmup_steps` (which the trainer mixin and
    transformers' integrations call).

    >>> from hf_sched.integrations.transformers import SchedTrainingArguments
    >>> args = SchedTrainingArguments(output_dir="/tmp/hf_sched_doc", lr_scheduler_type="noam",
    ...                               warmup="5%", report_to=[])
    >>> args.lr_scheduler_type, args.get_warmup_steps(200)
    ('noam', 10)
    >>> SchedTrainingArguments(output_dir="/tmp/hf_sched_doc", warmup_steps=0.1).get_warmup_steps(35)
    4
    """

    if TYPE_CHECKING:  # TrainingArguments' field, which this mixin reads and normalises to a dict
        lr_scheduler_kwargs: Any = None

    lr_scheduler_type: str = field(
        default="linear",
        metadata={
            "help": "The learning-rate schedule: any hf_sched name or alias (case-insensitive, '-'/'_' ignored): "
            + _names_help()
        },
    )
    warmup_steps: Optional[float] = field(
        default=None,
        metadata={
            "help": "Warmup as in transformers 5.x: >= 1 is a whole number of optimizer steps, < 1 a ratio of the "
            "training steps (ceil(ratio * total)); 0 = no warmup. Unset: use --warmup or --warmup_ratio."
        },
    )
    warmup_ratio: float = field(
        default=DEFAULT_WARMUP_RATIO,
        metadata={"help": "Warmup as a ratio of the training steps, in [0, 1): ceil(ratio * total) steps."},
    )
    warmup: Optional[str] = field(
        default=None,
        metadata={
            "help": "Warmup as one request: 'auto' (2/(1-beta2) steps for Adam), a percentage '10%%', epochs "
            "'1ep' or '0.5ep', a ratio '0.06' or steps '100'. Overrides --warmup_ratio; cannot be combined with "
            "--warmup_steps."
        },
    )
    lr_scheduler_resume: Optional[str] = field(
        default=None,
        metadata={
            "help": "What a resume does when the LR schedule, peak LR or weight decay differ from the checkpoint's: "
            "strict (refuse; the default), checkpoint (the checkpoint's schedule and peak from its step), rescale "
            "(the checkpoint's plan over this run's steps, at the same fraction of training: other hardware or "
            "batch size), replan (this run's schedule, peak LR and weight decay from the checkpoint's step; the LR "
            "jump is printed)."
        },
    )
    lr_scheduler_strict_resume: Optional[bool] = field(
        default=None,
        metadata={
            "help": "The older spelling of --lr_scheduler_resume: true = strict (the default), false = checkpoint "
            "(warn and continue with the checkpoint's schedule from its step)."
        },
    )
    lr_scheduler_horizon: Optional[int] = field(
        default=None,
        metadata={
            "help": "The schedule's own total in optimizer steps when the run is shorter (a debug run of "
            "--max_steps 100 on a 10000-step curve): max_steps stops training, the schedule keeps this total."
        },
    )
    lr_scheduler_decay_from_here: Optional[str] = field(
        default=None,
        metadata={
            "help": "On resume from a checkpoint in a stable phase (warmup_stable_decay, constantlr, "
            "warmupconstant), start the decay at the resumed step: over N steps ('2000'), a ratio of the steps "
            "left ('0.2') or a percentage ('20%%')."
        },
    )
    save_lr_curve: bool = field(
        default=True,
        metadata={"help": "Save the LR curve used (from the log history) as lr_curve.png in output_dir."},
    )
    deepspeed_scheduler: bool = field(  # hf_sched/deepspeed_config.py
        default=False,
        metadata={
            "help": "Let the DeepSpeed config's \"scheduler\" block schedule the LR (lr_scheduler_type is then unused). "
            "Without it, a DeepSpeed config with a scheduler block is refused."
        },
    )
    layer_decay: Optional[float] = field(
        default=None,
        metadata={
            "help": "Layer-wise LR decay in (0, 1]: encoder layer i gets learning_rate * d**(L - i), the "
            "embeddings d**(L + 1), the head the full LR (hf_sched.optim.param_groups). Unset: no layer decay."
        },
    )

    lr_mapping: Union[dict, str, None] = field(
        default=None,
        metadata={
            "help": 'LRs by parameter name, a JSON object of regex -> LR or "x<factor>" of --learning_rate, e.g. '
            '\'{"classifier": 1e-3, "pooler": "x2"}\' (re.search; one regex per parameter). Composes with '
            "--layer_decay and --loraplus_lr_ratio (hf_sched.optim.param_groups)."
        },
    )
    loraplus_lr_ratio: Optional[float] = field(
        default=None,
        metadata={
            "help": "LoRA+: the LR of PEFT's LoRA B matrices (lora_B, lora_embedding_B) is this ratio times their "
            "LR (e.g. 16). The model must have LoRA parameters (peft.get_peft_model)."
        },
    )

    def __init_subclass__(cls, **kwargs: Any) -> None:
        super().__init_subclass__(**kwargs)
        from transformers import TrainingArguments

        _check_mixin_first(cls, SchedArgumentsMixin, TrainingArguments)

    def __post_init__(self) -> None:
        self._check_resume_fields()
        self.lr_scheduler_type = SchedulerName.parse(self.lr_scheduler_type)
        self.lr_scheduler_kwargs = parse_scheduler_kwargs(self.lr_scheduler_kwargs)
        info = get_info(self.lr_scheduler_type)
        try:
            check_schedule_kwargs(info.name, self.lr_scheduler_kwargs)
        except ValueError as exc:
            raise ValueError(f"lr_scheduler_kwargs={self.lr_scheduler_kwargs!r} is invalid: {exc}") from None
        self._check_warmup_fields(info)
        check_trainer_deepspeed(self)  # DeepSpeed's scheduler/optimizer blocks
        check_schedule_free_arguments(getattr(self, "optim", None), self.lr_scheduler_type)  # schedule_free.py
        if self.layer_decay is not None:
            d = self.layer_decay
            if isinstance(d, bool) or not isinstance(d, numbers.Real) or not (math.isfinite(d) and 0.0 < d <= 1.0):
                raise ValueError(
                    f"layer_decay={d!r} is invalid: it must be a number in (0, 1] (the LR factor per layer, "
                    "e.g. 0.9; 1 = no decay) or None"
                )
            self.layer_decay = float(d)
        self._check_lr_rules()

        # The base classes' __post_init__ turn lr_scheduler_type into a SchedulerType, compare
        # warmup_steps with 0, and (sentence-transformers) move warmup_ratio into warmup_steps:
        # hand them values they know, then put ours back.
        saved = (self.lr_scheduler_type, self.warmup_steps, self.warmup_ratio)
        name = saved[0]
        self.lr_scheduler_type = name.value if name.value in transformers_names().values() else "linear"
        self.warmup_steps = 0
        # transformers 4.x checks its own warmup_ratio (a number); 5.x has none, and sentence-
        # transformers' (5.x) would move a number into warmup_steps: None there.
        self.warmup_ratio = 0.0 if _base_has_warmup_ratio() else None  # type: ignore[assignment]
        super().__post_init__()  # type: ignore[misc]
        self.lr_scheduler_type, self.warmup_steps, self.warmup_ratio = saved
        self._check_lr_mapping_once()

        self._probe_schedule(info)

    # -- validation -------------------------------------------------------------------

    def _check_lr_rules(self) -> None:
        """``lr_mapping`` (dict or JSON) -> a checked dict; ``loraplus_lr_ratio`` -> a float > 0 or None."""
        self.lr_mapping = _checked_mapping(self.lr_mapping, "lr_mapping")
        self.loraplus_lr_ratio = check_loraplus_ratio(self.loraplus_lr_ratio)

    def _check_lr_mapping_once(self) -> None:
        """sentence-transformers' ``learning_rate_mapping`` (parsed by its own ``__post_init__``) or ours, not both."""
        theirs = getattr(self, "learning_rate_mapping", None)
        if theirs and self.lr_mapping:
            raise ValueError(
                f"give the regex map once: lr_mapping={self.lr_mapping!r} and sentence-transformers' "
                f"learning_rate_mapping={theirs!r} are both set; hf_sched reads learning_rate_mapping as lr_mapping "
                "(same meaning: regex -> LR), so keep one of them"
            )
        if theirs:  # a dict from here on (sentence-transformers before 5.1 leaves a JSON string as it is)
            self.learning_rate_mapping = _checked_mapping(theirs, "learning_rate_mapping")

    def param_group_rules(self) -> dict[str, Any]:
        """The LR rules for :func:`hf_sched.optim.param_groups`, or ``{}`` when none is set.

        ``lr_mapping`` (or sentence-transformers' ``learning_rate_mapping``),
        ``loraplus_lr_ratio`` and ``layer_decay``, with ``lr=learning_rate`` and the
        arguments' ``weight_decay``.

        >>> from hf_sched.integrations.transformers import SchedTrainingArguments
        >>> args = SchedTrainingArguments(output_dir="/tmp/hf_sched_doc", lr_mapping='{"classifier": 1e-3}')
        >>> args.param_group_rules()["lr_mapping"], SchedTrainingArguments(output_dir="/tmp/hf_sched_doc").param_group_rules()
        ({'classifier': 0.001}, {})
        """
        mapping = self.lr_mapping or getattr(self, "learning_rate_mapping", None) or None
        if mapping is None and self.loraplus_lr_ratio is None and self.layer_decay is None:
            return {}
        return {
            "lr": self.learning_rate,  # type: ignore[attr-defined]
            "weight_decay": self.weight_decay,  # type: ignore[attr-defined]
            "layer_decay": self.layer_decay,
            "lr_mapping": mapping,
            "loraplus_lr_ratio": self.loraplus_lr_ratio,
        }

    def _check_resume_fields(self) -> None:
        """One resume mode from ``lr_scheduler_resume`` / ``lr_scheduler_strict_resume``; horizon and decay checked."""
        mode = resolve_mode(self.lr_scheduler_strict_resume, self.lr_scheduler_resume,
                            strict_name="lr_scheduler_strict_resume", resume_name="lr_scheduler_resume")
        # both stored consistently, so the arguments rebuild from to_dict(): strict/checkpoint have a bool spelling
        self.lr_scheduler_resume = mode
        self.lr_scheduler_strict_resume = {"strict": True, "checkpoint": False}.get(mode)
        if self.lr_scheduler_horizon is not None:
            max_steps = getattr(self, "max_steps", -1)
            self.lr_scheduler_horizon = with_horizon(self.lr_scheduler_horizon, max_steps if max_steps > 0 else None,
                                                     name="lr_scheduler_horizon")
        if self.lr_scheduler_decay_from_here is not None:
            check_decay_request(self.lr_scheduler_decay_from_here, name="lr_scheduler_decay_from_here")

    def _check_warmup_fields(self, info: Any) -> None:
        self.warmup_steps = _check_warmup_steps(self.warmup_steps)
        ratio = self.warmup_ratio
        if ratio is None:  # what sentence-transformers' own default looks like
            ratio = DEFAULT_WARMUP_RATIO
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
                    if is_epoch_request(self.warmup):  # its steps are known once the dataloader is
                        epochs_to_steps(self.warmup, 1)
                    else:
                        resolve_warmup(self.warmup, _PROBE_TOTAL)
                except (TypeError, ValueError) as exc:
                    raise ValueError(
                        f"warmup={self.warmup!r} is invalid: {exc}. Allowed: 'auto', a percentage in [0, 100) "
                        "like '10%', epochs like '1ep' or '0.5ep', a ratio in [0, 1) or a whole number of steps"
                    ) from None
        explicit = self.warmup_steps is not None or self.warmup is not None
        if explicit and self.warmup_ratio != DEFAULT_WARMUP_RATIO:
            which = "warmup_steps" if self.warmup_steps is not None else "warmup"
            warnings.warn(
                f"warmup_ratio={self.warmup_ratio!r} is ignored: {which}={getattr(self, which)!r} is set and wins",
                stacklevel=4,
            )
        if not info.has_warmup and not info.adaptive:  # metric-driven names take a warmup
            asked = (self.warmup_steps or 0) > 0 or self.warmup_ratio not in (0.0, DEFAULT_WARMUP_RATIO)
            if self.warmup is not None:
                text = str(self.warmup).strip().lower()
                asked = asked or text == "auto" or is_epoch_request(text) or resolve_warmup(self.warmup, _PROBE_TOTAL) > 0
            if asked:
                warnings.warn(
                    f"lr_scheduler_type={self.lr_scheduler_type.value!r} has no warmup phase; ignoring the warmup "
                    "request. Use 'warmupconstant' for warmup then a constant LR",
                    stacklevel=4,
                )

    def _probe_schedule(self, info: Any) -> None:
        """Check the schedule's arguments as far as they can be checked before training.

        With ``max_steps`` the run's total is known: the schedule is built once on a
        throw-away optimizer with it, so every value is checked. Without it the total comes
        from the dataloader in ``create_scheduler``, where the schedule is built against the
        real budget; here it is built for a range of totals, and refused only if it fits none
        (so step milestones such as ``[50, 75]`` wait for the real total instead of being
        judged against a made-up one).
        """
        import torch

        from ..finetune.input_checks import check_positive_number
        from ..lr_scheduler import get_scheduler

        # the peak itself first, in the recipes' words (the schedule's own check would blame the schedule)
        check_positive_number("--learning_rate", self.learning_rate)  # type: ignore[attr-defined]
        max_steps = getattr(self, "max_steps", -1)
        known = bool(max_steps and max_steps > 0)
        totals = [max_steps] if known else _PROBE_TOTALS
        warmup = self.schedule_warmup_request()
        if is_epoch_request(warmup):
            warmup = None  # its steps need the dataloader: resolved in create_scheduler
        # The optimizer's own checks (lr > 0, betas < 1) are not this check's business:
        # build it with valid values, then write the arguments' values in.
        probe = torch.optim.AdamW([torch.nn.Parameter(torch.zeros(1))], lr=1.0)
        probe.defaults["lr"] = probe.param_groups[0]["lr"] = float(self.learning_rate)  # type: ignore[attr-defined]
        probe.param_groups[0]["betas"] = (self.adam_beta1, self.adam_beta2)  # type: ignore[attr-defined]
        first: Exception | None = None
        for total in totals:
            try:
                with warnings.catch_warnings():
                    warnings.simplefilter("ignore")
                    get_scheduler(
                        info.name,
                        probe,
                        num_warmup_steps=warmup,
                        num_training_steps=total,  # metric-driven names too
                        scheduler_specific_kwargs=self.lr_scheduler_kwargs,
                    )
                return  # fits a run of this length: the real total decides in create_scheduler
            except (TypeError, ValueError) as exc:
                first = first or exc
                if info.adaptive:
                    break
        where = f" with max_steps={max_steps}" if known else ""
        raise ValueError(
            f"lr_scheduler_type={str.__str__(self.lr_scheduler_type)!r} cannot be built from these arguments{where} "
            f"(warmup {self.warmup_request()!r}, lr_scheduler_kwargs={self.lr_scheduler_kwargs!r}): {first}"
        ) from None

    # -- warmup -----------------------------------------------------------------------

    def warmup_request(self) -> Union[int, float, str, None]:
        """The one warmup request passed to the schedule (``None``: the schedule has no warmup).

        ``warmup_steps`` if set, else ``warmup`` if set, else ``warmup_ratio``.

        >>> from hf_sched.integrations.transformers import SchedTrainingArguments
        >>> SchedTrainingArguments(output_dir="/tmp/hf_sched_doc", warmup_steps=0).warmup_request()
        0
        """
        info = get_info(self.lr_scheduler_type)
        if info.adaptive:  # an explicit warmup prefix, none by default
            ratio = None if self.warmup_ratio == DEFAULT_WARMUP_RATIO else self.warmup_ratio
            return next((r for r in (self.warmup_steps, self.warmup, ratio) if r is not None), None)
        if not info.has_warmup:
            return None
        if self.warmup_steps is not None:
            return self.warmup_steps
        if self.warmup is not None:
            return self.warmup
        return self.warmup_ratio

    def schedule_warmup_request(self) -> Union[int, float, str, None]:
        """What the schedule is given: :meth:`warmup_request`, or ``None`` when no warmup
        field was touched, which means the default 10% but never the whole run (so a
        ``max_steps=1`` run trains at the peak LR, not at LR 0).

        >>> from hf_sched.integrations.transformers import SchedTrainingArguments
        >>> a = SchedTrainingArguments(output_dir="/tmp/hf_sched_doc")
        >>> a.warmup_request(), a.schedule_warmup_request(), a.get_warmup_steps(1), a.get_warmup_steps(30)
        (0.1, None, 0, 3)
        """
        request = self.warmup_request()
        untouched = self.warmup_steps is None and self.warmup is None and self.warmup_ratio == DEFAULT_WARMUP_RATIO
        return None if untouched and request == DEFAULT_WARMUP_RATIO else request

    def get_warmup_steps(self, num_training_steps: int, optimizer: Any = None) -> int:
        """Warmup steps for a run of ``num_training_steps`` optimizer steps.

        Resolves :meth:`warmup_request` with :func:`hf_sched.warmup.resolve_warmup`
        (``"auto"`` needs ``optimizer``): a ratio ``r`` gives ``ceil(r * T)`` on the exact
        decimal, a whole number ``n >= 1`` gives ``n``.

        >>> from hf_sched.integrations.transformers import SchedTrainingArguments
        >>> SchedTrainingArguments(output_dir="/tmp/hf_sched_doc", warmup="10%").get_warmup_steps(35)
        4
        """
        if self.warmup_request() is None:
            return 0
        return resolve_warmup(self.schedule_warmup_request(), num_training_steps, optimizer)

    def set_lr_scheduler(
        self,
        name: Any = "linear",
        num_epochs: float = 3.0,
        max_steps: int = -1,
        warmup_steps: Optional[float] = None,
        warmup_ratio: Optional[float] = None,
        warmup: Optional[str] = None,
        kwargs: Optional[dict[str, Any]] = None,
    ) -> Any:
        """Set the schedule fields together, with the same checks as the constructor.

        >>> from hf_sched.integrations.transformers import SchedTrainingArguments
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
        self.lr_scheduler_kwargs = parse_scheduler_kwargs(kwargs)
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
        d = super().to_dict()  # type: ignore[misc]
        d["lr_scheduler_type"] = str.__str__(self.lr_scheduler_type)
        return d
