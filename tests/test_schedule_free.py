"""Schedule-free optimizers (schedulefree 1.4): hf_sched hands its resolved warmup over and keeps the LR constant.

Real runs: the Trainer with ``optim="schedule_free_adamw"`` on a tiny random BERT, and plain
loops with schedulefree's AdamW / SGD / RAdam and its wrapper. The LR the parameters see is
read from the optimizer (``scheduled_lr``, which schedulefree writes at each step, or the
base optimizer's ``lr`` for the wrapper) and compared with ``peak * min(1, k / W)`` for
optimizer step ``k`` (1-based), written out here.
"""

from __future__ import annotations

import pytest
import schedulefree
import torch
from test_trainer import PEAK, logged, make_args, make_data, make_trainer
from transformers import TrainerCallback

from hf_sched import get_scheduler
from hf_sched.integrations.transformers import SchedTrainer
from hf_sched.registry import get_info
from hf_sched.schedule_free import ScheduleFreeLR, averaged_weights

pytestmark = pytest.mark.usefixtures("frozen_gc")


def one_warmup(peak: float, warmup: int, steps: int) -> list[float]:
    """The LR of optimizer steps 1..steps: a linear warmup over ``warmup`` steps, then the peak, no decay."""
    return [peak * (1.0 if warmup == 0 or k >= warmup else k / warmup) for k in range(1, steps + 1)]


class OptimizerLR(TrainerCallback):
    """The LR the optimizer used at each step, read from the optimizer itself."""

    def __init__(self) -> None:
        self.lrs: list[float] = []

    def on_step_end(self, args, state, control, optimizer=None, **kwargs):
        self.lrs.append(float(optimizer.param_groups[0]["scheduled_lr"]))


# ------------------------------------------------------------------------------ Trainer


@pytest.mark.parametrize("warmup, expected", [
    ({}, 3),                           # unset: the 10% default of 30 steps
    ({"warmup_steps": 0.1}, 3),        # a ratio, transformers 5.x's meaning of warmup_steps < 1
    ({"warmup": "10%"}, 3),
    ({"warmup": "1ep"}, 10),           # 40 examples / batch 4 = 10 steps per epoch
    ({"warmup_steps": 20}, 20),
], ids=["none", "ratio_0.1", "10%", "1ep", "20_steps"])
def test_trainer_hands_the_resolved_warmup_to_the_optimizer(tmp_path, warmup, expected):
    args = make_args(tmp_path, optim="schedule_free_adamw", num_train_epochs=3, lr_scheduler_type="warmupconstant",
                     **warmup)
    seen = OptimizerLR()
    trainer = make_trainer(args, callbacks=[seen])
    trainer.train()
    assert isinstance(trainer.lr_scheduler, ScheduleFreeLR)
    assert trainer.lr_scheduler.num_warmup_steps == expected
    assert {g["warmup_steps"] for g in trainer.optimizer.param_groups} == {expected}
    want = one_warmup(PEAK, expected, 30)
    assert seen.lrs == pytest.approx(want, rel=1e-12)             # what the parameters saw
    assert [lr for _, lr in logged(trainer)] == pytest.approx(want, rel=1e-12)  # what was logged


def test_trainer_default_linear_becomes_constant_with_a_warning(tmp_path):
    args = make_args(tmp_path, optim="schedule_free_adamw", max_steps=12)  # lr_scheduler_type left at "linear"
    trainer = make_trainer(args)
    with pytest.warns(UserWarning, match=r"'linear' \(the Trainer's default\) is not applied on top of the schedule-free"):
        trainer.train()
    assert [lr for _, lr in logged(trainer)] == pytest.approx(one_warmup(PEAK, 2, 12), rel=1e-12)


def test_trainer_refuses_a_decaying_name_for_a_schedule_free_optimizer_it_was_given(tmp_path):
    from test_trainer import ddp_script

    model = ddp_script.make_model()
    opt = schedulefree.AdamWScheduleFree(model.parameters(), lr=PEAK)
    args = make_args(tmp_path, max_steps=6, lr_scheduler_type="warmupcosine")
    trainer = SchedTrainer(model=model, args=args, train_dataset=make_data(), optimizers=(opt, None))
    with pytest.raises(ValueError, match=r"lr_scheduler_type='warmupcosine' changes the LR during training, but "
                                         r"AdamWScheduleFree is a schedule-free optimizer"):
        trainer.train()


def test_trainer_saves_the_averaged_weights_and_resumes_exactly(tmp_path):
    def trainer():
        return make_trainer(make_args(tmp_path / "run", optim="schedule_free_adamw", max_steps=12,
                                      lr_scheduler_type="warmupconstant", save_strategy="steps", save_steps=6))

    from safetensors.torch import load_file

    full = trainer()
    full.train()
    sf, name = full.lr_scheduler.optimizer, "classifier.weight"
    train_weights = full.model.state_dict()[name].clone()
    full.save_model(str(tmp_path / "final"))
    assert sf.param_groups[0]["train_mode"]  # back in train mode after saving
    assert torch.equal(full.model.state_dict()[name], train_weights)
    with averaged_weights(full.optimizer):
        averaged = full.model.state_dict()[name].clone()
    assert torch.equal(load_file(str(tmp_path / "final" / "model.safetensors"))[name], averaged)
    assert not torch.equal(averaged, train_weights)  # x and y differ: the averaged ones were saved

    resumed = trainer()
    resumed.train(resume_from_checkpoint=str(tmp_path / "run" / "checkpoint-6"))
    assert logged(resumed) == logged(full)  # steps 1-6 from the checkpoint's log, 7-12 trained again
    for k, v in full.model.state_dict().items():
        assert torch.allclose(resumed.model.state_dict()[k], v, rtol=1e-6, atol=1e-7), k  # as test_trainer's resume


# ------------------------------------------------------------------------------ plain loops


def _model():
    torch.manual_seed(0)
    return torch.nn.Linear(4, 1)


def _loop(opt, sched, steps: int) -> list[float]:
    """Train ``steps`` steps; return the LR each step used, read from the optimizer after the step."""
    model_params = [p for g in opt.param_groups for p in g["params"]]
    opt.train()
    used = []
    for _ in range(steps):
        loss = sum((p ** 2).sum() for p in model_params)
        loss.backward()
        opt.step()
        used.append(float(opt.param_groups[0]["scheduled_lr"]))
        assert sched.get_last_lr()[0] == used[-1]
        sched.step()
        sched.step()  # Accelerate on 2 processes calls it twice: harmless
        opt.zero_grad()
    return used


@pytest.mark.parametrize("cls", [schedulefree.AdamWScheduleFree, schedulefree.SGDScheduleFree])
@pytest.mark.parametrize("name, warmup, expected", [
    ("warmupconstant", None, 4), ("warmupconstant", 0.25, 10), ("warmupconstant", "5%", 2),
    ("constant_with_warmup", 7, 7), ("constantlr", None, 0),
])
def test_plain_loop(cls, name, warmup, expected):
    opt = cls(_model().parameters(), lr=0.01)
    loader = torch.utils.data.DataLoader(range(40), batch_size=4)  # 10 batches x 4 epochs = 40 steps
    sched = get_scheduler(name, opt, warmup=warmup, dataloader=loader, num_epochs=4)
    assert opt.param_groups[0]["warmup_steps"] == expected
    assert _loop(opt, sched, 40) == pytest.approx(one_warmup(0.01, expected, 40), rel=1e-12)


def test_plain_loop_auto_and_epoch_warmup():
    opt = schedulefree.AdamWScheduleFree(_model().parameters(), lr=0.01, betas=(0.9, 0.9))
    assert get_scheduler("warmupconstant", opt, warmup="auto", num_training_steps=100).num_warmup_steps == 20
    loader = torch.utils.data.DataLoader(range(30), batch_size=2)
    assert get_scheduler("warmupconstant", opt, warmup="0.5ep", dataloader=loader, num_epochs=2).num_warmup_steps == 8


def test_wrapper_gets_the_warmup_through_the_base_lr():
    base = torch.optim.SGD(_model().parameters(), lr=0.1, momentum=0)
    opt = schedulefree.ScheduleFreeWrapper(base, momentum=0.9)
    sched = get_scheduler("warmupconstant", opt, num_training_steps=30)  # the 10% default: 3 steps
    assert sched.num_warmup_steps == 3
    assert _loop(opt, sched, 8) == pytest.approx(one_warmup(0.1, 3, 8), rel=1e-12)
    assert base.param_groups[0]["lr"] == pytest.approx(0.1)


def test_radam_takes_no_warmup():
    opt = schedulefree.RAdamScheduleFree(_model().parameters(), lr=0.01)
    assert get_scheduler("constant", opt, num_training_steps=20).num_warmup_steps == 0
    assert get_scheduler("warmupconstant", opt, warmup=0, num_training_steps=20).num_warmup_steps == 0
    with pytest.raises(ValueError, match=r"warmup of 5 steps cannot be given to RAdamScheduleFree: it has no warmup"):
        get_scheduler("warmupconstant", opt, warmup=5, num_training_steps=20)


def test_state_dict_round_trip_and_refusal():
    opt = schedulefree.AdamWScheduleFree(_model().parameters(), lr=0.01)
    sched = get_scheduler("warmupconstant", opt, warmup=5, num_training_steps=50)
    state = sched.state_dict()
    torch.save(state, "/dev/null")
    other = get_scheduler("warmupconstant", opt, warmup=6, num_training_steps=50)
    with pytest.raises(ValueError, match="the checkpoint's schedule-free warmup is 5 steps, this run's 6"):
        other.load_state_dict(state)
    with pytest.warns(UserWarning, match="continuing with the checkpoint's"):
        other.load_state_dict(state, strict=False)
    assert opt.param_groups[0]["warmup_steps"] == 5


# ------------------------------------------------------------------------------ bad input


@pytest.mark.parametrize("name", ["warmupcosine", "linear", "noam", "reduce_lr_on_plateau"])
def test_decaying_names_are_refused_in_one_line(name):
    opt = schedulefree.AdamWScheduleFree(_model().parameters(), lr=0.01)
    with pytest.raises(ValueError) as err:
        get_scheduler(name, opt, num_training_steps=50)
    msg = str(err.value)
    assert "\n" not in msg and f"lr_scheduler_type={get_info(name).name!r} changes the LR during training" in msg
    assert "'warmupconstant'" in msg


def test_warmup_longer_than_the_run_is_refused():
    opt = schedulefree.AdamWScheduleFree(_model().parameters(), lr=0.01)
    with pytest.raises(ValueError, match=r"warmup=60 for the schedule-free AdamWScheduleFree: warmup of 60 steps is "
                                         r"longer than the 50 training steps"):
        get_scheduler("warmupconstant", opt, warmup=60, num_training_steps=50)


def test_schedule_kwargs_are_refused():
    opt = schedulefree.AdamWScheduleFree(_model().parameters(), lr=0.01)
    with pytest.raises(ValueError, match=r"lr_scheduler_kwargs=\{'warmup_start': 0.1\} cannot be used with the "
                                         "schedule-free AdamWScheduleFree"):
        get_scheduler("warmupconstant", opt, num_training_steps=50, warmup_start=0.1)


def test_unbounded_run_needs_whole_steps():
    opt = schedulefree.AdamWScheduleFree(_model().parameters(), lr=0.01)
    assert get_scheduler("warmupconstant", opt, num_warmup_steps=8).num_warmup_steps == 8
    with pytest.raises(ValueError, match=r"warmup='10%' for the schedule-free AdamWScheduleFree without num_training"):
        get_scheduler("warmupconstant", opt, warmup="10%")


def test_stock_transformers_gets_it_wrong(tmp_path):
    """Why: the stock Trainer hands the optimizer ``warmup_steps`` unconverted.

    transformers 5.x: a ratio ``warmup_steps=0.1`` arrives as 0.1 steps (10x the peak at step 1);
    4.x: ``warmup_ratio=0.1`` never reaches the optimizer (no warmup at all: the peak at step 1).
    """
    from hf_versions import RATIO_IN_WARMUP_STEPS
    from transformers import Trainer, TrainingArguments

    ratio = {"warmup_steps": 0.1} if RATIO_IN_WARMUP_STEPS else {"warmup_ratio": 0.1}
    args = make_args(tmp_path, cls=TrainingArguments, optim="schedule_free_adamw", max_steps=4,
                     lr_scheduler_type="constant", **ratio)
    seen = OptimizerLR()
    trainer = make_trainer(args, trainer_cls=Trainer, callbacks=[seen])
    trainer.train()
    assert seen.lrs[0] == pytest.approx(10 * PEAK if RATIO_IN_WARMUP_STEPS else PEAK)


def test_trainer_arguments_refuse_a_decaying_name_before_anything_loads():
    with pytest.raises(ValueError, match=r"^lr_scheduler_type='cosine' changes the LR during training, but "
                                         r"SGDScheduleFree is a schedule-free optimizer"):
        make_args("unused_out", optim="schedule_free_sgd", lr_scheduler_type="cosine")
    make_args("unused_out", optim="schedule_free_sgd")  # the Trainer's default 'linear' passes (warned at train)
