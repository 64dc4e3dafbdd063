"""hf_sched in TRL: ``SFTTrainer``, ``DPOTrainer`` and ``RewardTrainer`` with every schedule name.

TRL's configs subclass ``TrainingArguments`` and its trainers subclass ``Trainer``, so the
one mechanism (:mod:`hf_sched.integrations.trainer_mixin`) applies unchanged: each class
here is the mixin put first in the bases of TRL's class. Packing, completion-only loss,
chat templates, PEFT, the reference model of DPO and TRL's model cards keep working.

==========================  ==========================  =========================
TRL                          hf_sched config             hf_sched trainer
==========================  ==========================  =========================
``SFTConfig/SFTTrainer``     ``SchedSFTConfig``          ``SchedSFTTrainer``
``DPOConfig/DPOTrainer``     ``SchedDPOConfig``          ``SchedDPOTrainer``
``RewardConfig/Trainer``     ``SchedRewardConfig``       ``SchedRewardTrainer``
==========================  ==========================  =========================

The other TRL trainers that build their scheduler through ``Trainer.create_scheduler``
(``KTOTrainer``, ``GRPOTrainer``, ``RLOOTrainer``, ``DistillationTrainer``) take the same
two lines (``SchedArgumentsMixin`` + their config, ``SchedTrainerMixin`` + their trainer): in
TRL 1.16 none of them overrides ``create_scheduler``. SFT, DPO and Reward are the ones tested here.

>>> args = SchedSFTConfig(output_dir="/tmp/hf_sched_doc", lr_scheduler_type="hard-restarts",
...     lr_scheduler_kwargs='{"num_cycles": 2}', max_length=32, use_cpu=True, report_to=[])
>>> args.lr_scheduler_type, args.lr_scheduler_kwargs, args.max_length
('warmupcosinewithhardrestarts', {'num_cycles': 2}, 32)
"""

from __future__ import annotations

from dataclasses import dataclass

from trl import DPOConfig, DPOTrainer, RewardConfig, RewardTrainer, SFTConfig, SFTTrainer

from .arguments import SchedArgumentsMixin
from .trainer_mixin import SchedTrainerMixin

__all__ = [
    "SchedSFTConfig",
    "SchedSFTTrainer",
    "SchedDPOConfig",
    "SchedDPOTrainer",
    "SchedRewardConfig",
    "SchedRewardTrainer",
]


@dataclass
# (mypy [misc] ignored on the next line: hf_sched redeclares warmup_steps (None: unset) and lr_scheduler_kwargs on purpose.)
class SchedSFTConfig(SchedArgumentsMixin, SFTConfig):  # type: ignore[misc]
    """TRL's ``SFTConfig`` with every hf_sched schedule name and warmup request."""


class SchedSFTTrainer(SchedTrainerMixin, SFTTrainer):
    """TRL's ``SFTTrainer`` whose LR scheduler comes from the hf_sched registry."""


@dataclass
# (mypy [misc] ignored on the next line: hf_sched redeclares warmup_steps (None: unset) and lr_scheduler_kwargs on purpose.)
class SchedDPOConfig(SchedArgumentsMixin, DPOConfig):  # type: ignore[misc]
    """TRL's ``DPOConfig`` with every hf_sched schedule name and warmup request."""


class SchedDPOTrainer(SchedTrainerMixin, DPOTrainer):
    """TRL's ``DPOTrainer`` whose LR scheduler comes from the hf_sched registry."""


@dataclass
# (mypy [misc] ignored on the next line: hf_sched redeclares warmup_steps (None: unset) and lr_scheduler_kwargs on purpose.)
class SchedRewardConfig(SchedArgumentsMixin, RewardConfig):  # type: ignore[misc]
    """TRL's ``RewardConfig`` with every hf_sched schedule name and warmup request."""


class SchedRewardTrainer(SchedTrainerMixin, RewardTrainer):
    """TRL's ``RewardTrainer`` whose LR scheduler comes from the hf_sched registry."""
