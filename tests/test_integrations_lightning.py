"""Lightning with hf_sched: ``lr_scheduler_config`` in ``configure_optimizers``, end to end on the CPU.

A ``Linear(4, 1)`` regression on 48 fixed random rows, batch 4, 2 epochs: 24 optimizer
steps. The LR of each optimizer step is recorded in ``on_before_optimizer_step`` (the LR
that step uses) and compared with the closed form.
"""

from __future__ import annotations

import importlib.util
import json
import os
import sys
import time
from pathlib import Path

import pytest
from optional import require
from launched import run_launched
import torch

require("lightning")

import lr_closed_forms as cf  # noqa: E402
from hf_sched.integrations.lightning import lr_scheduler_config  # noqa: E402

REPO = Path(__file__).resolve().parents[1]
SCRIPT = REPO / "tests" / "scripts" / "lightning_run.py"
_spec = importlib.util.spec_from_file_location("lightning_run", SCRIPT)
lr_run = importlib.util.module_from_spec(_spec)
_spec.loader.exec_module(lr_run)
PEAK = lr_run.PEAK


def fit(out, model, *, batch_size=4, ckpt_path=None, **trainer_kwargs):
    trainer = lr_run.make_trainer(str(out), **trainer_kwargs)
    trainer.fit(model, train_dataloaders=lr_run.loader(batch_size), ckpt_path=ckpt_path)
    return trainer


def test_warmupcosine_default_warmup_every_step(tmp_path):
    model = lr_run.Regressor("warmupcosine")
    trainer = fit(tmp_path, model)
    total, warmup = 24, cf.default_warmup(24)
    sched = trainer.lr_scheduler_configs[0].scheduler
    assert trainer.lr_scheduler_configs[0].interval == "step"
    assert (sched.schedules[0].num_training_steps, sched.schedules[0].num_warmup_steps) == (total, warmup)
    f = cf.warmupcosine(total, warmup)
    assert [s for s, _ in model.lrs] == list(range(1, total + 1))
    assert [lr for _, lr in model.lrs] == pytest.approx([PEAK * f(k) for k in range(total)], rel=1e-12, abs=1e-18)
    assert sched.optimizer_step == total and sched.get_last_lr()[0] == pytest.approx(0.0, abs=1e-18)


def test_hard_restarts_with_kwargs_accumulation_and_limit_train_batches(tmp_path):
    # 12 batches per epoch, limited to 10, accumulated by 3: ceil(10 / 3) = 4 steps per epoch, 8 in all
    model = lr_run.Regressor("hard-restarts", scheduler_kwargs={"num_cycles": 2})
    trainer = fit(tmp_path, model, accumulate_grad_batches=3, limit_train_batches=10)
    total = trainer.global_step
    assert total == trainer.lr_scheduler_configs[0].scheduler.schedules[0].num_training_steps == 8
    f = cf.hard_restarts(total, cf.default_warmup(total), num_cycles=2)
    assert [lr for _, lr in model.lrs] == pytest.approx([PEAK * f(k) for k in range(total)], rel=1e-12, abs=1e-18)


def test_lightning_default_interval_does_not_train_at_lr_zero(tmp_path):
    """Lightning's default interval is "epoch" (scheduler.step() once per epoch); the LR still
    follows every optimizer step, since ScheduledLR counts the optimizer's own steps."""
    model = lr_run.Regressor("warmupcosine", default_interval=True)
    trainer = fit(tmp_path, model)
    assert trainer.lr_scheduler_configs[0].interval == "epoch"
    f = cf.warmupcosine(24, 3)
    assert [lr for _, lr in model.lrs] == pytest.approx([PEAK * f(k) for k in range(24)], rel=1e-12, abs=1e-18)
    assert max(lr for _, lr in model.lrs) == pytest.approx(PEAK)


@pytest.fixture(scope="module")
def uninterrupted(tmp_path_factory):
    out = tmp_path_factory.mktemp("lightning_full")
    model = lr_run.Regressor("warmupcosine")
    fit(out, model, checkpoint_every_epoch=True)
    return out, model


def test_resume_from_ckpt_path_is_exact(tmp_path, uninterrupted):
    out, full = uninterrupted
    ckpt = out / "epoch=0-step=12.ckpt"
    assert ckpt.is_file()
    model = lr_run.Regressor("warmupcosine")
    trainer = fit(tmp_path, model, ckpt_path=str(ckpt))
    assert trainer.global_step == 24
    assert model.lrs == full.lrs[12:]
    for name, value in model.state_dict().items():
        assert torch.allclose(value, full.state_dict()[name], rtol=1e-6, atol=1e-7), name


def test_a_changed_batch_size_is_refused_in_lightnings_terms(tmp_path, uninterrupted):
    out, _ = uninterrupted
    ckpt = out / "epoch=0-step=12.ckpt"
    with pytest.raises(ValueError) as err:
        fit(tmp_path, lr_run.Regressor("warmupcosine"), batch_size=8, ckpt_path=str(ckpt))
    msg = str(err.value)
    assert msg.startswith(f"cannot resume: the LR schedule of this run differs from the one in ckpt_path={str(ckpt)!r}")
    assert "num_training_steps: 24 -> 12" in msg and "trainer.estimated_stepping_batches" in msg
    assert 'resume="rescale" in lr_scheduler_config() (' in msg and 'resume="checkpoint" in lr_scheduler_config()' in msg
    assert "the checkpoint's schedule and peak LR from its step" in msg


def test_rescale_on_twice_the_batch_follows_the_old_curve_at_the_same_examples_seen(tmp_path, uninterrupted, capsys):
    """Batch 4 -> 8 at the end of epoch 0 (step 12 of 24): Lightning trains epoch 1 in 6 steps; the scheduler
    resumes at step 6 of 12 (the same fraction) and each LR is the old curve's at the same examples seen."""
    out, _ = uninterrupted
    model = lr_run.Regressor("warmupcosine", resume="rescale")
    trainer = fit(tmp_path, model, batch_size=8, ckpt_path=str(out / "epoch=0-step=12.ckpt"))
    sched = trainer.lr_scheduler_configs[0].scheduler
    f = cf.warmupcosine(24, 3)
    assert [s for s, _ in model.lrs] == list(range(13, 19))  # Lightning's own step count goes on from 12
    assert [lr for _, lr in model.lrs] == pytest.approx([PEAK * f(2 * s) for s in range(6, 12)], rel=1e-12, abs=1e-18)
    assert sched.optimizer_step == 12 and sched.get_last_lr()[0] == pytest.approx(0.0, abs=1e-18)
    assert "hf_sched: resume='rescale': the checkpoint's schedule (step 12 of 24) continues over this run's 12 " \
           "steps from step 6 (the same fraction of the steps)" in capsys.readouterr().err


def test_replan_and_an_unknown_mode_in_lightnings_words(tmp_path, uninterrupted, capsys):
    out, _ = uninterrupted
    model = lr_run.Regressor("warmuplinear", resume="replan")
    fit(tmp_path, model, ckpt_path=str(out / "epoch=0-step=12.ckpt"))
    old, new = cf.warmupcosine(24, 3), cf.warmuplinear(24, 3)
    assert f"hf_sched: LR {PEAK * old(12):.3g} -> {PEAK * new(12):.3g} at step 12" in capsys.readouterr().err
    assert [lr for _, lr in model.lrs] == pytest.approx([PEAK * new(k) for k in range(12, 24)], rel=1e-12, abs=1e-18)
    opt = torch.optim.SGD([torch.nn.Parameter(torch.zeros(1))], lr=0.1)
    trainer = lr_run.make_trainer(str(tmp_path / "bad"))
    with pytest.raises(ValueError, match=r"^resume='again' is not a resume mode; allowed: 'strict': "):
        lr_scheduler_config(trainer, opt, resume="again")
    with pytest.raises(ValueError, match=r"^strict_resume=True and resume='rescale' contradict each other"):
        lr_scheduler_config(trainer, opt, strict_resume=True, resume="rescale")


def test_strict_resume_false_continues_with_the_checkpoints_schedule(tmp_path, uninterrupted, caplog):
    out, full = uninterrupted
    model = lr_run.Regressor("warmupcosine", strict_resume=False)
    with caplog.at_level("WARNING", logger="hf_sched"):
        trainer = fit(tmp_path, model, batch_size=8, ckpt_path=str(out / "epoch=0-step=12.ckpt"), max_epochs=3)
    said = [r.getMessage() for r in caplog.records if "resuming anyway" in r.getMessage()]
    assert len(said) == 1 and said[0].startswith("resuming anyway (strict_resume=False)")
    sched = trainer.lr_scheduler_configs[0].scheduler
    assert sched.schedules[0].num_training_steps == 24  # the checkpoint's schedule
    # 2 more epochs of 6 batches: steps 13..24 at the checkpoint's LRs
    f = cf.warmupcosine(24, 3)
    assert [s for s, _ in model.lrs] == list(range(13, 25))
    assert [lr for _, lr in model.lrs] == pytest.approx([PEAK * f(k - 1) for k in range(13, 25)], rel=1e-12, abs=1e-18)


def test_one_scheduler_hooks_the_optimizer_and_it_pickles():
    import pickle

    opt = torch.optim.SGD([torch.nn.Parameter(torch.zeros(1))], lr=1.0)
    config = lr_scheduler_config(lr_run.make_trainer("unused_out"), opt, "warmuplinear", num_training_steps=10)
    assert len(opt._optimizer_step_post_hooks) == 1
    opt.step()
    assert config["scheduler"].optimizer_step == 1 and opt.param_groups[0]["lr"] == pytest.approx(1.0)  # warmup 1
    opt2, sched2 = pickle.loads(pickle.dumps((opt, config["scheduler"])))
    opt2.step()
    assert sched2.optimizer_step == 2 and opt2.param_groups[0]["lr"] == pytest.approx(8 / 9)


def test_bad_arguments_name_the_parameter():
    opt = torch.optim.SGD([torch.nn.Parameter(torch.zeros(1))], lr=1.0)
    trainer = lr_run.make_trainer("unused_out", max_epochs=1)
    with pytest.raises(TypeError, match="trainer must be a lightning Trainer or a LightningModule attached to one"):
        lr_scheduler_config(object(), opt)
    with pytest.raises(ValueError, match=r"name='warmupcosin' is invalid: .*Did you mean 'warmupcosine'"):
        lr_scheduler_config(trainer, opt, "warmupcosin", num_training_steps=10)
    with pytest.raises(ValueError, match="name='reduce_lr_on_plateau' is metric-driven"):
        lr_scheduler_config(trainer, opt, "reduce_lr_on_plateau", num_training_steps=10)
    with pytest.raises(ValueError, match=r"num_training_steps=0 is invalid: it must be an int >= 1"):
        lr_scheduler_config(trainer, opt, num_training_steps=0)
    with pytest.raises(ValueError, match="got unknown argument.*'cycles'"):
        lr_scheduler_config(trainer, opt, scheduler_kwargs={"cycles": 2}, num_training_steps=10)
    with pytest.raises(ValueError, match="frequency=0 is invalid"):
        lr_scheduler_config(trainer, opt, num_training_steps=10, frequency=0)


@pytest.mark.slow
def test_two_processes_ddp_gloo_give_the_same_curve(tmp_path):
    """2 CPU processes (DDP over gloo), batch 2 each, against 1 process with batch 4.

    Slow: about 40 s on the 2-core CI machine (two interpreters importing torch and
    Lightning, gloo set-up), for a few milliseconds of training."""
    one = lr_run.Regressor("warmupcosine")
    fit(tmp_path / "one", one)
    env = {**os.environ, "OMP_NUM_THREADS": "1", "PYTHONPATH": str(REPO)}
    start = time.time()
    proc = run_launched([sys.executable, str(SCRIPT), str(tmp_path / "two"), "--devices", "2", "--batch_size", "2"],
                        env=env, timeout=300, cwd=tmp_path)
    assert proc.returncode == 0, proc.stdout[-3000:] + proc.stderr[-3000:]
    two = json.loads((tmp_path / "two" / "lrs.json").read_text())
    print(f"two-process Lightning run: {time.time() - start:.1f} s")
    assert two["world_size"] == 2
    assert (two["num_training_steps"], two["num_warmup_steps"], two["global_step"]) == (24, 3, 24)
    assert [s for s, _ in two["lrs"]] == [s for s, _ in one.lrs] == list(range(1, 25))
    assert [lr for _, lr in two["lrs"]] == pytest.approx([lr for _, lr in one.lrs], rel=1e-12, abs=1e-18)
