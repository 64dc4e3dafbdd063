"""hf_sched in transformers' own trainers: ``Trainer`` and ``Seq2SeqTrainer``.

Each class is the one mechanism (:class:`~hf_sched.integrations.arguments.SchedArgumentsMixin`
and :class:`~hf_sched.integrations.trainer_mixin.SchedTrainerMixin`) applied to a
transformers class; nothing else is added.

=================================  ===============================================
``SchedTrainingArguments``         ``SchedArgumentsMixin`` + ``TrainingArguments``
``SchedTrainer``                   ``SchedTrainerMixin`` + ``Trainer``
``SchedSeq2SeqTrainingArguments``  ``SchedArgumentsMixin`` + ``Seq2SeqTrainingArguments``
``SchedSeq2SeqTrainer``            ``SchedTrainerMixin`` + ``Seq2SeqTrainer``
=================================  ===============================================

In a script in the style of transformers' ``run_classification.py`` / ``run_glue.py``,
one import line changes::

    from hf_sched import SchedTrainer as Trainer, SchedTrainingArguments as TrainingArguments

and ``--lr_scheduler_type warmupcosine --warmup_ratio 0.1`` (or ``--warmup_steps 0.1``,
transformers 5.x's ratio) works.

>>> from transformers import HfArgumentParser
>>> (args,) = HfArgumentParser(SchedTrainingArguments).parse_args_into_dataclasses(
...     ["--lr_scheduler_type", "warmupcosine", "--lr_scheduler_kwargs", '{"num_cycles": 2}',
...      "--output_dir", "/tmp/hf_sched_doc", "--report_to", "none"])
>>> args.lr_scheduler_type, args.lr_scheduler_type.value, args.lr_scheduler_kwargs
('warmupcosine', 'warmupcosine', {'num_cycles': 2})
>>> args.warmup_request(), args.get_warmup_steps(100)
(0.1, 10)
"""

from __future__ import annotations

from dataclasses import dataclass

from transformers import Seq2SeqTrainer, Seq2SeqTrainingArguments, Trainer, TrainingArguments

from .arguments import SchedArgumentsMixin
from .trainer_mixin import SchedTrainerMixin

__all__ = ["SchedTrainingArguments", "SchedTrainer", "SchedSeq2SeqTrainingArguments", "SchedSeq2SeqTrainer"]


@dataclass
# (mypy [misc] ignored on the next line: hf_sched redeclares warmup_steps (None: unset) and lr_scheduler_kwargs on purpose.)
class SchedTrainingArguments(SchedArgumentsMixin, TrainingArguments):  # type: ignore[misc]
    """``TrainingArguments`` that take every hf_sched schedule name and warmup request.

    See :class:`~hf_sched.integrations.arguments.SchedArgumentsMixin` for the fields.

    >>> args = SchedTrainingArguments(output_dir="/tmp/hf_sched_doc", lr_scheduler_type="noam",
    ...                               warmup="5%", report_to=[])
    >>> args.lr_scheduler_type, args.get_warmup_steps(200)
    ('noam', 10)
    """


class SchedTrainer(SchedTrainerMixin, Trainer):
    """A ``transformers.Trainer`` whose LR scheduler comes from the hf_sched registry.

    See :class:`~hf_sched.integrations.trainer_mixin.SchedTrainerMixin`. The LR logged at
    optimizer step ``k`` is ``learning_rate * f(k - 1)``, ``f`` the named schedule over
    the Trainer's own total ``T`` (``max_steps``, or ``ceil(epochs * ceil(batches / grad_accum))``).

    Example (a tiny random BERT on made-up tokens):

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
    """


@dataclass
# (mypy [misc] ignored on the next line: hf_sched redeclares warmup_steps (None: unset) and lr_scheduler_kwargs on purpose.)
class SchedSeq2SeqTrainingArguments(SchedArgumentsMixin, Seq2SeqTrainingArguments):  # type: ignore[misc]
    """``Seq2SeqTrainingArguments`` (``predict_with_generate``, ``generation_max_length``, ...)
    with every hf_sched schedule name and warmup request.

    >>> args = SchedSeq2SeqTrainingArguments(output_dir="/tmp/hf_sched_doc", lr_scheduler_type="hard-restarts",
    ...     lr_scheduler_kwargs={"num_cycles": 2}, predict_with_generate=True, report_to=[])
    >>> args.lr_scheduler_type, args.predict_with_generate
    ('warmupcosinewithhardrestarts', True)
    """


class SchedSeq2SeqTrainer(SchedTrainerMixin, Seq2SeqTrainer):
    """transformers' ``Seq2SeqTrainer`` (generation in evaluate/predict) with hf_sched's scheduler.

    Use it with :class:`SchedSeq2SeqTrainingArguments`; see
    :class:`~hf_sched.integrations.trainer_mixin.SchedTrainerMixin` for what changes.
    """
