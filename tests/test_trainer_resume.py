"""SchedTrainer runs that change on resume: rescale, replan, a new peak, a horizon, a decay from here.

Real Trainer runs on the tiny random BERT of ``tests/test_trainer.py`` (48 examples, per-device
batch 4, 2 epochs = 24 optimizer steps, a checkpoint at step 6). The LR the Trainer logs at
optimizer step ``k`` is ``peak * f(k - 1)``; the expected curves are the closed forms of
``tests/test_trainer.py`` and the warp written out here.
"""

from __future__ import annotations

import pytest
from hf_versions import RESTORES_BATCH_SIZE
from test_trainer import PEAK, closed_form, logged, make_args, make_data, make_trainer, parse

pytestmark = pytest.mark.usefixtures("frozen_gc")

TOTAL, CUT = 24, 6


def _run(out, **overrides):
    kw = dict(lr_scheduler_type="warmupcosine", num_train_epochs=2)
    kw.update(overrides)
    return make_trainer(make_args(out, **kw), data=make_data(48))


@pytest.fixture(scope="module")
def checkpoint(tmp_path_factory):
    """checkpoint-6 of a 24-step warmupcosine run (warmup 3)."""
    out = tmp_path_factory.mktemp("resume_modes_run")
    _run(out, save_strategy="steps", save_steps=CUT).train()
    return str(out / f"checkpoint-{CUT}")


@pytest.mark.skipif(RESTORES_BATCH_SIZE, reason="transformers 4.x resumes with the checkpoint's per-device batch")
def test_doubled_per_device_batch_with_rescale_keeps_the_lr_continuous_and_ends_at_the_final_value(
        tmp_path, checkpoint, capsys):
    trainer = _run(tmp_path, per_device_train_batch_size=8, lr_scheduler_resume="rescale")
    trainer.train(resume_from_checkpoint=checkpoint)
    f_old = closed_form("warmupcosine", TOTAL, 3)
    new_total = TOTAL // 2
    # the Trainer keeps its global_step (6) and runs to its new total (12): x(s) = 6 + (s - 6) * 18 / 6
    got = logged(trainer)[CUT:]
    assert [k for k, _ in got] == list(range(CUT + 1, new_total + 1))
    assert [lr for _, lr in got] == pytest.approx([PEAK * f_old(CUT + (k - 1 - CUT) * 3) for k in range(7, 13)],
                                                  rel=1e-12, abs=1e-18)
    assert got[0][1] == pytest.approx(PEAK * f_old(CUT), rel=1e-12)  # continuous: the uninterrupted step-7 LR
    sched = trainer.lr_scheduler
    assert sched.optimizer_step == new_total and sched.get_last_lr()[0] == pytest.approx(0.0, abs=1e-18)
    err = capsys.readouterr().err
    line = next(x for x in err.splitlines() if x.startswith("hf_sched: resume='rescale'"))
    assert "continues over this run's 12 steps from step 6 (where the caller resumes)" in line
    assert line.endswith("; the global batch changed (4 -> 8 examples per step): the Trainer resumes its data at step "
                         "6, skipping 6 batches of the new size (48 examples; the checkpoint's run had seen 24)")


def test_doubled_epochs_with_replan_prints_the_jump_and_follows_the_new_plan(tmp_path, checkpoint, capsys):
    trainer = _run(tmp_path, num_train_epochs=4, lr_scheduler_resume="replan")
    trainer.train(resume_from_checkpoint=checkpoint)
    f_old, f_new = closed_form("warmupcosine", TOTAL, 3), closed_form("warmupcosine", 48, 5)
    got = logged(trainer)[CUT:]
    assert [k for k, _ in got] == list(range(7, 49))
    assert [lr for _, lr in got] == pytest.approx([PEAK * f_new(k - 1) for k in range(7, 49)], rel=1e-12, abs=1e-18)
    line = f"LR {PEAK * f_old(CUT):.3g} -> {PEAK * f_new(CUT):.3g} at step 6"
    assert trainer.lr_scheduler.resume_note == line
    assert f"hf_sched: {line}\n" in capsys.readouterr().err


def test_a_new_peak_is_refused_by_strict_applied_by_replan_never_silent(tmp_path, checkpoint, capsys):
    with pytest.raises(ValueError) as err:
        _run(tmp_path / "strict", learning_rate=2 * PEAK).train(resume_from_checkpoint=checkpoint)
    msg = str(err.value)
    assert msg.startswith(f"cannot resume: the LR schedule of this run differs from the one in {checkpoint} "
                          "(checkpoint -> now): peak LR: 0.001 -> 0.002. ")
    assert "--lr_scheduler_resume replan (this run's schedule, peak LR and weight decay" in msg

    replanned = _run(tmp_path / "replan", learning_rate=2 * PEAK, lr_scheduler_resume="replan")
    replanned.train(resume_from_checkpoint=checkpoint)
    f = closed_form("warmupcosine", TOTAL, 3)
    assert [lr for _, lr in logged(replanned)[CUT:]] == pytest.approx(
        [2 * PEAK * f(k - 1) for k in range(7, 25)], rel=1e-12, abs=1e-18)
    assert f"hf_sched: LR {PEAK * f(CUT):.3g} -> {2 * PEAK * f(CUT):.3g} at step 6" in capsys.readouterr().err

    with pytest.warns(UserWarning, match=r"resuming anyway \(lr_scheduler_resume=checkpoint\): .*peak LR: 0.001 -> "
                                         r"0.002; continuing with the checkpoint's schedule from step 6"):
        kept = _run(tmp_path / "checkpoint", learning_rate=2 * PEAK, lr_scheduler_resume="checkpoint")
        kept.train(resume_from_checkpoint=checkpoint)
    assert [lr for _, lr in logged(kept)[CUT:]] == pytest.approx(
        [PEAK * f(k - 1) for k in range(7, 25)], rel=1e-12, abs=1e-18)


def test_a_100_step_debug_run_on_a_10000_step_horizon(tmp_path):
    args = make_args(tmp_path, lr_scheduler_type="warmupcosine", max_steps=100, lr_scheduler_horizon=10_000,
                     logging_steps=10)
    trainer = make_trainer(args, data=make_data(400))
    trainer.train()
    assert trainer.state.global_step == 100  # the Trainer's max_steps stops the run
    sched = trainer.lr_scheduler
    assert (sched.schedules[0].num_training_steps, sched.schedules[0].num_warmup_steps) == (10_000, 1000)
    f = closed_form("warmupcosine", 10_000, 1000)
    assert logged(trainer) == [(k, pytest.approx(PEAK * f(k - 1), rel=1e-12)) for k in range(10, 101, 10)]


def test_a_wsd_cooldown_started_at_the_checkpoint(tmp_path, capsys):
    kw = dict(lr_scheduler_type="wsd", lr_scheduler_kwargs={"decay_type": "linear"})
    _run(tmp_path / "first", save_strategy="steps", save_steps=CUT, **kw).train()
    trainer = _run(tmp_path / "second", lr_scheduler_decay_from_here="1.0", **kw)  # all that is left: 18 steps
    trainer.train(resume_from_checkpoint=str(tmp_path / "first" / f"checkpoint-{CUT}"))
    got = [lr for _, lr in logged(trainer)[CUT:]]
    assert got == pytest.approx([PEAK * (1 - (k - 1 - CUT) / 18) for k in range(7, 25)], rel=1e-12, abs=1e-18)
    assert trainer.lr_scheduler.get_last_lr()[0] == 0.0
    assert ("decay_from_here='1.0': the checkpoint's warmup_stable_decay schedule decays from step 6 over 18 steps "
            "(to step 24)") in capsys.readouterr().err


@pytest.mark.parametrize("argv, expected", [
    (["--lr_scheduler_resume", "re-scale"], ("rescale", None)),
    (["--lr_scheduler_strict_resume", "false"], ("checkpoint", False)),
    (["--lr_scheduler_resume", "checkpoint", "--lr_scheduler_strict_resume", "false"], ("checkpoint", False)),
    ([], ("strict", True)),
])
def test_parser_resume_flags(argv, expected):
    args = parse(argv)
    assert (args.lr_scheduler_resume, args.lr_scheduler_strict_resume) == expected
    again = type(args)(**{k: v for k, v in args.to_dict().items() if k in type(args).__dataclass_fields__ and
                          type(args).__dataclass_fields__[k].init})
    assert (again.lr_scheduler_resume, again.lr_scheduler_strict_resume) == expected


@pytest.mark.parametrize("argv, expected", [
    (["--lr_scheduler_resume", "rescaled"], r"^lr_scheduler_resume='rescaled' is not a resume mode; allowed: "),
    (["--lr_scheduler_resume", "rescale", "--lr_scheduler_strict_resume", "true"],
     r"^lr_scheduler_strict_resume=True and lr_scheduler_resume='rescale' contradict each other"),
    (["--lr_scheduler_horizon", "50", "--max_steps", "100"],
     r"^lr_scheduler_horizon=50 is shorter than the run's 100 optimizer steps"),
    (["--lr_scheduler_decay_from_here", "soon"], r"^lr_scheduler_decay_from_here='soon' is invalid: give steps"),
])
def test_parser_resume_flags_bad_input(argv, expected):
    with pytest.raises(ValueError, match=expected):
        parse(argv)


def test_a_horizon_shorter_than_the_trainers_total_is_refused_at_train(tmp_path):
    trainer = _run(tmp_path, lr_scheduler_horizon=10)  # 24 steps from the data: known only at train()
    with pytest.raises(ValueError, match=r"^lr_scheduler_horizon=10 is shorter than the run's 24 optimizer steps"):
        trainer.train()
