"""Faults a hostile user (or a full disk, or kill -9) inflicts on recipe runs, and what we promise.

One real run of ``recipes/finetune_accelerate.py`` (tiny random BERT, 48 real tweets, 6
optimizer steps, a checkpoint every 2) is made once; each test copies its output directory
and damages the newest checkpoint (``step_6``) one way: flipped bytes and a truncation of
``model.safetensors``, random bytes in ``scheduler.bin``, a missing ``random_states_0.pkl``,
a truncated ``training_state.json``. We assert that the damage is detected and named, that
``--resume_from_checkpoint latest`` falls back to ``step_4`` with a notice (and then finishes
with exactly the weights of the uninterrupted run), that naming the damaged checkpoint is
refused, and that no message suggests ``weights_only=False``. Then the output-directory lock
with a live and a stale PID, and a resume with a changed learning rate or weight decay.

The recipe runs in this process (``main(argv)``), so a run costs no new interpreter: the
whole file takes about 30-60 s here.
"""

from __future__ import annotations

import importlib.util
import json
import math
import os
import random
import shlex
import shutil
import signal
import subprocess
import sys
from pathlib import Path
from typing import Any

import pytest

from hf_sched.finetune.checkpoint import (
    MANIFEST,
    CheckpointError,
    _check_loadable,
    choose_checkpoint,
    verify_checkpoint,
    write_manifest,
)
from hf_sched.finetune.run_lock import LOCK_NAME, RunLock, RunLockError, pid_alive

ROOT = Path(__file__).resolve().parents[1]
RECIPE = ROOT / "recipes" / "finetune_accelerate.py"

pytestmark = pytest.mark.usefixtures("offline_hf_home")


class _Recipe:
    """The recipe as a module; ``main`` starts from a fresh Accelerate state (several runs per process)."""

    def __init__(self) -> None:
        spec = importlib.util.spec_from_file_location("finetune_accelerate_faults", RECIPE)
        self.module = importlib.util.module_from_spec(spec)
        spec.loader.exec_module(self.module)

    def main(self, argv: list[str]) -> dict:
        from accelerate.state import AcceleratorState, GradientState

        AcceleratorState._reset_state(reset_partial_state=True)
        GradientState._reset_state()
        return self.module.main(argv)


def recipe_module() -> _Recipe:
    return _Recipe()


@pytest.fixture(scope="module")
def tiny_model(tmp_path_factory) -> Path:
    from hf_sched.finetune.model import save_tiny_bert

    return Path(save_tiny_bert(tmp_path_factory.mktemp("faults_model") / "tiny", seed=0))


@pytest.fixture(scope="module")
def run_args(tiny_model) -> list[str]:
    return ["--model", str(tiny_model), "--max_train_samples", "48", "--max_eval_samples", "16",
            "--max_length", "16", "--batch_size", "8", "--max_steps", "6", "--checkpointing_steps", "2",
            "--seed", "3", "--optim", "adamw_torch", "--learning_rate", "5e-5"]


@pytest.fixture(scope="module")
def straight_run(tmp_path_factory, run_args) -> Path:
    """The uninterrupted run: checkpoints step_2, step_4, step_6 and the final model."""
    output_dir = tmp_path_factory.mktemp("faults") / "straight"
    recipe_module().main([*run_args, "--output_dir", str(output_dir)])
    assert sorted(p.name for p in output_dir.glob("step_*")) == ["step_2", "step_4", "step_6"]
    return output_dir


def copy_run(straight_run: Path, tmp_path: Path) -> Path:
    target = tmp_path / "run"
    shutil.copytree(straight_run, target)
    return target


def flip_bytes(path: Path) -> None:
    data = bytearray(path.read_bytes())
    middle = len(data) // 2
    data[middle:middle + 64] = bytes(b ^ 0xFF for b in data[middle:middle + 64])
    path.write_bytes(bytes(data))


def truncate(path: Path) -> None:
    path.write_bytes(path.read_bytes()[: path.stat().st_size // 2])


def random_bytes(path: Path, seed: int = 0) -> None:
    """Seeded, so a failure reproduces: torch raises other errors for other random bytes."""
    rng = random.Random(seed)
    path.write_bytes(bytes(rng.getrandbits(8) for _ in range(path.stat().st_size)))


# damage, file, the problem verify_checkpoint must name
FAULTS = [
    pytest.param(flip_bytes, "model.safetensors", "model.safetensors: its SHA-256 differs from the manifest",
                 id="flipped-bytes-model"),
    pytest.param(truncate, "model.safetensors", "model.safetensors has", id="truncated-model"),
    pytest.param(random_bytes, "scheduler.bin", "scheduler.bin: its SHA-256 differs from the manifest",
                 id="random-bytes-scheduler"),
    pytest.param(Path.unlink, "random_states_0.pkl", "random_states_0.pkl is missing", id="missing-rng"),
    pytest.param(truncate, "training_state.json", "training_state.json has", id="truncated-state"),
]


@pytest.mark.parametrize(("damage", "name", "problem"), FAULTS)
def test_damage_is_detected_named_and_latest_falls_back(damage, name, problem, straight_run, tmp_path):
    run = copy_run(straight_run, tmp_path)
    assert verify_checkpoint(run / "step_6") == []
    damage(run / "step_6" / name)
    problems = verify_checkpoint(run / "step_6")
    assert len(problems) == 1 and problems[0].startswith(problem), problems
    if "has" in problem:
        assert "truncated" in problems[0]

    notices: list[str] = []
    chosen = choose_checkpoint(run, "latest", announce=notices.append)
    assert chosen == run / "step_4"
    assert notices[0].startswith("notice: --resume_from_checkpoint latest: skipping step_6, it is not complete: ")
    assert problem in notices[0] and notices[1].endswith("the newest complete checkpoint, step_4")

    with pytest.raises(CheckpointError) as refused:  # named explicitly: refused, never used
        choose_checkpoint(run, str(run / "step_6"))
    message = str(refused.value)
    assert f"--resume_from_checkpoint {str(run / 'step_6')!r} is not a complete checkpoint: {problem}" in message
    assert "weights_only" not in message and "\n" not in message


def test_latest_falls_back_and_then_resumes_exactly(straight_run, run_args, tmp_path, capsys):
    from safetensors.torch import load_file

    run = copy_run(straight_run, tmp_path)
    flip_bytes(run / "step_6" / "model.safetensors")
    (run / "metrics.json").unlink()
    recipe_module().main([*run_args, "--output_dir", str(run), "--resume_from_checkpoint", "latest"])
    out = capsys.readouterr().out
    assert "skipping step_6, it is not complete: model.safetensors: its SHA-256 differs" in out
    assert f"resumed from {run / 'step_4'} after 4 optimizer steps" in out
    ours, reference = load_file(str(run / "model.safetensors")), load_file(str(straight_run / "model.safetensors"))
    import torch

    assert all(torch.equal(ours[k], reference[k]) for k in reference)
    assert (run / "lr_log.jsonl").read_text() == (straight_run / "lr_log.jsonl").read_text()
    assert verify_checkpoint(run / "step_6") == []  # rewritten whole by the resumed run


def test_explicitly_named_damaged_checkpoint_exits_2_with_one_line(straight_run, run_args, tmp_path, capsys):
    run = copy_run(straight_run, tmp_path)
    random_bytes(run / "step_6" / "scheduler.bin")
    with pytest.raises(SystemExit) as exited:
        recipe_module().main([*run_args, "--output_dir", str(run), "--resume_from_checkpoint", str(run / "step_6")])
    assert exited.value.code == 2
    err = capsys.readouterr().err.strip()
    assert err.count("\n") == 0
    assert err.startswith("finetune_accelerate.py: error: --resume_from_checkpoint")
    assert "scheduler.bin: its SHA-256 differs from the manifest (the file is corrupt)" in err
    assert "weights_only" not in err


def test_a_corrupt_file_the_manifest_vouches_for_is_named_not_unpickled(straight_run, run_args, tmp_path, capsys):
    # Damage from before the manifest was written (e.g. a bad disk): the digest matches, the load fails.
    run = copy_run(straight_run, tmp_path)
    folder = run / "step_6"
    random_bytes(folder / "scheduler.bin")
    manifest = json.loads((folder / MANIFEST).read_text())
    write_manifest(folder, manifest["signature"], manifest["completed_steps"])
    assert verify_checkpoint(folder) == []
    with pytest.raises(SystemExit) as exited:
        recipe_module().main([*run_args, "--output_dir", str(run), "--resume_from_checkpoint", str(folder)])
    assert exited.value.code == 2
    err = capsys.readouterr().err
    assert "scheduler.bin is corrupt" in err and "does not unpickle" in err
    assert "weights_only" not in err


@pytest.mark.parametrize("seed", range(40))
def test_random_bytes_in_a_pickle_are_described_alike_whatever_torch_raises(seed, tmp_path):
    # torch raises UnpicklingError (advising weights_only=False), IndexError, KeyError or
    # UnicodeDecodeError depending on the bytes; the message is ours every time.
    folder = tmp_path / "step_1"
    folder.mkdir()
    (folder / "random_states_0.pkl").write_bytes(b"")
    (folder / "scheduler.bin").write_bytes(b"0" * 600)
    random_bytes(folder / "scheduler.bin", seed)
    with pytest.raises(CheckpointError) as caught:
        _check_loadable(folder, {"files": ["scheduler.bin"]}, 0)
    message = str(caught.value)
    assert "scheduler.bin is corrupt (" in message and "it does not unpickle as plain tensors and numbers" in message
    assert "weights_only" not in message


def test_latest_with_no_complete_checkpoint_is_refused(straight_run, tmp_path):
    run = copy_run(straight_run, tmp_path)
    for folder in run.glob("step_*"):
        (folder / "random_states_0.pkl").unlink()
    with pytest.raises(CheckpointError, match=r"no complete checkpoint in .*step_6: random_states_0.pkl is missing"):
        choose_checkpoint(run, "latest")


def test_a_checkpoint_without_manifest_is_not_complete(tmp_path):
    folder = tmp_path / "step_3"
    folder.mkdir()
    (folder / "training_state.json").write_text("{}")
    assert verify_checkpoint(folder)[0].startswith("no manifest.json")


# --------------------------------------------------------------------------- changed settings


@pytest.mark.parametrize(("flag", "value", "change"), [
    ("--learning_rate", "1e-4", "learning_rate: 5e-05 -> 0.0001"),
    ("--weight_decay", "0.1", "weight_decay: 0.01 -> 0.1"),
])
def test_resume_with_a_changed_lr_or_weight_decay_is_refused(flag, value, change, straight_run, run_args, tmp_path,
                                                             capsys):
    run = copy_run(straight_run, tmp_path)
    (run / "metrics.json").unlink()
    with pytest.raises(SystemExit) as exited:
        recipe_module().main([*run_args, flag, value, "--output_dir", str(run), "--resume_from_checkpoint", "latest"])
    assert exited.value.code == 2
    err = capsys.readouterr().err
    assert "cannot resume from" in err and "written with other settings" in err and change in err
    assert not (run / "metrics.json").exists()


def test_metrics_record_the_lr_and_weight_decay_used(straight_run):
    metrics = json.loads((straight_run / "metrics.json").read_text())
    assert metrics["learning_rate"] == 5e-5 and metrics["weight_decay"] == 0.01
    assert metrics["last_step_lr"] == metrics["lr_log"][-1]["lr"] > 0


# --------------------------------------------------------------------------- the lock


def _lock_holder(out: Path) -> subprocess.Popen:
    """Another process that takes the run lock of ``out``, says 'locked' and holds it for a minute."""
    return subprocess.Popen(
        [sys.executable, "-c",
         "import sys, time; from hf_sched.finetune.run_lock import RunLock; "
         "lock = RunLock(sys.argv[1]); lock.acquire(); print('locked', flush=True); time.sleep(60)", str(out)],
        stdout=subprocess.PIPE, text=True, cwd=ROOT, env={**os.environ, "PYTHONPATH": str(ROOT)},
    )


def test_the_lock_refuses_a_second_run_while_the_first_lives(tmp_path):
    out = tmp_path / "out"
    holder = _lock_holder(out)
    try:
        assert holder.stdout.readline().strip() == "locked"
        with pytest.raises(RunLockError) as refused:
            RunLock(out).acquire()
        assert f"--output_dir {str(out)!r} is in use by another run (PID {holder.pid}" in str(refused.value)
        # the recipe says so in one line and exits 2, before loading anything
        result = subprocess.run([sys.executable, str(RECIPE), "--output_dir", str(out)], capture_output=True,
                                text=True, cwd=ROOT, timeout=300)
        assert result.returncode == 2
        assert result.stderr.strip().count("\n") == 0
        assert f"error: --output_dir {str(out)!r} is in use by another run (PID {holder.pid}" in result.stderr
    finally:
        holder.send_signal(signal.SIGKILL)
        holder.wait()
    # killed: its lock file stays, but the lock is gone; the next run takes it over with a notice
    assert (out / LOCK_NAME).is_file() and not pid_alive(holder.pid)
    notices: list[str] = []
    with RunLock(out, announce=notices.append):
        assert json.loads((out / LOCK_NAME).read_text())["pid"] == os.getpid()
    assert len(notices) == 1 and f"PID {holder.pid}" in notices[0] and "is gone" in notices[0]
    assert "taking the lock over" in notices[0]
    assert not (out / LOCK_NAME).exists()  # released


def test_a_stale_lock_file_is_taken_over_by_the_recipe(straight_run, run_args, tmp_path, capsys):
    run = copy_run(straight_run, tmp_path)
    (run / "metrics.json").unlink()
    dead = subprocess.Popen([sys.executable, "-c", "pass"])
    dead.wait()
    (run / LOCK_NAME).write_text(json.dumps({"pid": dead.pid, "host": os.uname().nodename, "started": "then"}))
    recipe_module().main([*run_args, "--output_dir", str(run), "--resume_from_checkpoint", "latest"])
    out = capsys.readouterr().out
    assert f"PID {dead.pid}" in out and "is gone); taking the lock over" in out
    assert (run / "metrics.json").is_file() and not (run / LOCK_NAME).exists()


def test_a_refused_run_leaves_no_output_dir(tmp_path):
    out = tmp_path / "new"
    with pytest.raises(CheckpointError):
        with RunLock(out):
            assert out.is_dir()
            raise CheckpointError("refused")
    assert not out.exists()


# --------------------------------------------------------------------------- a run that diverges


def strict_json(path: Path) -> Any:
    """``json.loads`` that refuses NaN and Infinity (Python's json accepts them by default)."""
    def refuse(constant: str) -> None:
        raise AssertionError(f"{path.name} holds {constant}: not strict JSON")

    return json.loads(path.read_text(), parse_constant=refuse)


def test_a_diverged_run_stops_with_one_line_strict_json_and_a_resumable_checkpoint(run_args, tmp_path, capsys):
    """--learning_rate 1e30 with no warmup: step 1 is finite, step 2's loss is NaN. The run stops before
    step 2 is taken (exit 1, one line), metrics.json is strict JSON, step_1 is whole, and resuming from it
    continues exactly (the same step diverges again, at the same LR)."""
    output_dir = tmp_path / "diverged"
    argv = [*run_args, "--learning_rate", "1e30", "--warmup", "0", "--checkpointing_steps", "1",
            "--output_dir", str(output_dir)]
    with pytest.raises(SystemExit) as stopped:
        recipe_module().main(argv)
    assert stopped.value.code == 1
    err = capsys.readouterr().err.strip().splitlines()
    assert err[-1] == (
        "finetune_accelerate.py: error: training diverged at optimizer step 2: the loss is nan and the gradient "
        "norm is nan (LR 8.33e+29); the step was not taken, the weights are those after step 1. Try a lower "
        "--learning_rate, a longer --warmup or --max_grad_norm 1 in a fresh run (--overwrite_output_dir); the last "
        f"checkpoint, {output_dir / 'step_1'}, is whole (it resumes with these settings)")
    metrics = strict_json(output_dir / "metrics.json")
    assert metrics["diverged"] == {"step": 2, "loss": None, "grad_norm": None, "lr": pytest.approx(1e30 * 5 / 6),
                                   "last_good_step": 1, "last_checkpoint": str(output_dir / "step_1")}
    assert [e["step"] for e in metrics["lr_log"]] == [1] and math.isfinite(metrics["lr_log"][0]["loss"])
    assert [json.loads(line)["step"] for line in (output_dir / "lr_log.jsonl").read_text().splitlines()] == [1]
    assert sorted(p.name for p in output_dir.glob("step_*")) == ["step_1"]
    assert verify_checkpoint(output_dir / "step_1") == []
    from safetensors.torch import load_file

    weights = load_file(str(output_dir / "step_1" / "model.safetensors"))
    assert all(bool(t.isfinite().all()) for t in weights.values())

    with pytest.raises(SystemExit) as again:
        recipe_module().main([*argv, "--resume_from_checkpoint", "latest"])
    out, err = capsys.readouterr()
    assert again.value.code == 1
    assert f"resumed from {output_dir / 'step_1'} after 1 optimizer steps" in out
    assert "training diverged at optimizer step 2: the loss is nan and the gradient norm is nan (LR 8.33e+29)" in err


# --------------------------------------------------------------------------- faults mid-run: one line, what to do


def test_the_lock_names_the_process_that_holds_it_not_the_pid_in_the_file(tmp_path):
    out = tmp_path / "out"
    holder = _lock_holder(out)
    try:
        assert holder.stdout.readline().strip() == "locked"
        (out / LOCK_NAME).write_text(json.dumps({"pid": 1, "host": os.uname().nodename, "started": "then"}))
        with pytest.raises(RunLockError) as refused:
            RunLock(out).acquire()
    finally:
        holder.send_signal(signal.SIGKILL)
        holder.wait()
        holder.stdout.close()
    if not Path("/proc/locks").is_file():
        pytest.skip("no /proc/locks here: the PID in the file is all there is")
    assert f"is in use by another run (PID {holder.pid}; the lock file names PID 1)" in str(refused.value)


def _env() -> dict[str, str]:
    env = {k: v for k, v in os.environ.items() if not k.startswith("ACCELERATE_")}
    env.update(OMP_NUM_THREADS="1", HF_HUB_OFFLINE="1", HF_DATASETS_OFFLINE="1", TRANSFORMERS_OFFLINE="1",
               TOKENIZERS_PARALLELISM="false", PYTHONUNBUFFERED="1", PYTHONPATH=str(ROOT))
    return env


def _start(argv: list[str]) -> subprocess.Popen:
    return subprocess.Popen([sys.executable, str(RECIPE), *argv], env=_env(), cwd=ROOT, stdout=subprocess.PIPE,
                            stderr=subprocess.PIPE, text=True)


def _wait_for(condition, process: subprocess.Popen, what: str, timeout: float = 300) -> None:
    import time

    deadline = time.monotonic() + timeout
    while not condition():
        if process.poll() is not None:
            out, err = process.communicate()
            pytest.fail(f"the run ended (status {process.returncode}) before {what}: {out[-2000:]} {err[-2000:]}")
        if time.monotonic() > deadline:
            process.kill()
            process.communicate()
            pytest.fail(f"no {what} after {timeout} s")
        time.sleep(0.1)


def _error_line(err: str) -> str:
    errors = [line for line in err.splitlines() if ": error: " in line]
    assert len(errors) == 1, err[-3000:]
    assert "Traceback" not in err, err[-3000:]
    return errors[0]


def _logged_steps(output_dir: Path) -> int:
    try:
        return len((output_dir / "lr_log.jsonl").read_text().splitlines())
    except FileNotFoundError:
        return 0


def test_ctrl_c_ends_in_one_line_with_the_command_that_continues_it_exactly(run_args, tmp_path):
    output_dir = tmp_path / "interrupted"
    process = _start([*run_args, "--output_dir", str(output_dir), "--stall_after_step", "3"])
    _wait_for(lambda: (output_dir / "step_2" / "manifest.json").is_file() and _logged_steps(output_dir) >= 3,
              process, "step 3")
    process.send_signal(signal.SIGINT)
    _, err = process.communicate(timeout=120)
    assert process.returncode == 130
    line = _error_line(err)
    prefix = f"finetune_accelerate.py: error: interrupted (Ctrl-C); the last whole checkpoint is {output_dir / 'step_2'}; to continue: python "
    assert line.startswith(prefix), line
    command = shlex.split(line[len(prefix) - len("python "):])
    assert command[0] == "python" and command[-2:] == ["--resume_from_checkpoint", "latest"]
    assert "--stall_after_step" not in command  # the test hook is no flag of the user's run
    resumed = subprocess.run([sys.executable, *command[1:]], env=_env(), cwd=ROOT, capture_output=True, text=True,
                             timeout=300)
    assert resumed.returncode == 0, resumed.stderr[-3000:]
    assert f"resumed from {output_dir / 'step_2'} after 2 optimizer steps" in resumed.stdout
    # the uninterrupted reference as a subprocess too: the same environment (one torch thread) as the
    # interrupted and continued runs, since another thread count changes the losses in their last bits
    reference = tmp_path / "straight"
    subprocess.run([sys.executable, str(RECIPE), *run_args, "--output_dir", str(reference)], env=_env(), cwd=ROOT,
                   check=True, capture_output=True, timeout=300)
    ours, straight = (json.loads((d / "metrics.json").read_text())["lr_log"] for d in (output_dir, reference))
    assert ours == straight  # the same LRs and losses, step for step


@pytest.mark.slow  # a subprocess run of the recipe (the generated table holds an in-process one)
def test_an_output_dir_renamed_mid_run_ends_in_one_line(run_args, tmp_path):
    output_dir = tmp_path / "renamed"
    process = _start([*run_args, "--output_dir", str(output_dir), "--stall_after_step", "3", "--stall_seconds", "3"])
    _wait_for(lambda: _logged_steps(output_dir) >= 3, process, "step 3")
    output_dir.rename(tmp_path / "elsewhere")
    _, err = process.communicate(timeout=120)
    assert process.returncode == 1
    assert _error_line(err).startswith(
        f"finetune_accelerate.py: error: the output directory {output_dir} was deleted or renamed during the run, "
        "so nothing more can be saved there; put it back (rename it back) and continue with: python ")


def _mount_tmpfs(where: Path, size: str) -> None:
    where.mkdir()
    if os.geteuid() != 0 or subprocess.run(["mount", "-t", "tmpfs", "-o", f"size={size}", "tmpfs", str(where)],
                                           capture_output=True).returncode != 0:
        pytest.skip("mounting a small file system needs root (a full or read-only disk cannot be made otherwise)")


@pytest.mark.slow  # a subprocess run of the recipe on a small tmpfs (root only)
def test_a_full_disk_ends_in_one_line_with_what_to_do(run_args, tmp_path):
    disk = tmp_path / "small-disk"
    _mount_tmpfs(disk, "2m")  # the lock and the LR log fit; the first checkpoint (about 8 MB) does not
    try:
        output_dir = disk / "out"
        result = subprocess.run([sys.executable, str(RECIPE), *run_args, "--output_dir", str(output_dir)],
                                env=_env(), cwd=ROOT, capture_output=True, text=True, timeout=300)
    finally:
        subprocess.run(["umount", str(disk)], check=True)
    assert result.returncode == 1
    line = _error_line(result.stderr)
    assert line.startswith(f"finetune_accelerate.py: error: the disk holding {output_dir} is full ("), line
    assert f"free some space (df -h {output_dir}) and continue with: python " in line
    assert line.endswith(f"--output_dir {output_dir} --resume_from_checkpoint latest"), line


@pytest.mark.slow  # a subprocess run of the recipe on a small tmpfs (root only)
def test_an_output_dir_made_read_only_mid_run_ends_in_one_line(run_args, tmp_path):
    """Mid-run, a read-only file system is mounted over the output directory (what the run sees when
    its disk is remounted read-only): the next write fails with EROFS."""
    if os.geteuid() != 0:
        pytest.skip("mounting a read-only file system needs root")
    output_dir = tmp_path / "out"
    process = _start([*run_args, "--output_dir", str(output_dir), "--stall_after_step", "3", "--stall_seconds", "3"])
    mounted = False
    try:
        _wait_for(lambda: _logged_steps(output_dir) >= 3, process, "step 3")
        mounted = subprocess.run(["mount", "-t", "tmpfs", "-o", "ro,size=1m", "tmpfs", str(output_dir)],
                                 capture_output=True).returncode == 0
        if not mounted:
            process.kill()
        _, err = process.communicate(timeout=120)
    finally:
        if process.poll() is None:
            process.kill()
            process.communicate()
        if mounted:
            subprocess.run(["umount", str(output_dir)], check=True)
    if not mounted:
        pytest.skip("this machine does not let root mount a tmpfs")
    assert process.returncode == 1
    assert _error_line(err).startswith(
        f"finetune_accelerate.py: error: the output directory {output_dir} became read-only during the run "
        "(nothing more can be saved there); make it writable again and continue with: python ")
