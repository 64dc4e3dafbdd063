"""hf_sched.finetune.run_faults: the one line for a failed write, read from the output directory itself."""

from __future__ import annotations

import errno
import os

import pytest

from hf_sched.finetune.run_faults import describe_write_fault, resume_command


def test_resume_command_leaves_out_a_previous_resume_overwrite_and_the_hooks_named():
    argv = ["--output_dir", "runs/a b", "--resume_from_checkpoint", "runs/a b/step_2", "--overwrite_output_dir",
            "--stall_after_step", "3", "--stall_seconds=1", "--max_steps", "6"]
    assert resume_command("recipes/finetune_accelerate.py", argv, drop=("--stall_after_step", "--stall_seconds")) == (
        "python recipes/finetune_accelerate.py --output_dir 'runs/a b' --max_steps 6 --resume_from_checkpoint latest")
    assert resume_command("recipes/finetune_trainer.py", [], "out/checkpoint-4").endswith(
        "--resume_from_checkpoint out/checkpoint-4")


def test_a_vanished_directory_a_full_disk_and_other_errors(tmp_path):
    gone = tmp_path / "gone"
    line = describe_write_fault(FileNotFoundError(errno.ENOENT, "No such file or directory"), gone, resume="CMD")
    assert line == (f"the output directory {gone} was deleted or renamed during the run, so nothing more can be saved "
                    "there; put it back (rename it back) and continue with: CMD -- or start a new run")
    full = describe_write_fault(OSError(errno.ENOSPC, "No space left on device"), tmp_path, resume="CMD")
    assert full.startswith(f"the disk holding {tmp_path} is full (") and full.endswith(
        f"MiB free) and a file of the run could not be written; free some space (df -h {tmp_path}) and continue with: CMD")
    # torch's writer names no errno; with plenty of space left it is not called a full disk
    torch_says = RuntimeError("[enforce fail at inline_container.cc:626] . PytorchStreamWriter failed writing file "
                              "data/0: file write failed")
    other = describe_write_fault(torch_says, tmp_path, resume="CMD")
    assert other.startswith(f"a file of the run could not be written under {tmp_path}: [enforce fail")
    assert describe_write_fault(ValueError("not a write"), tmp_path, resume="CMD") is None
    assert describe_write_fault(KeyError("x"), tmp_path, resume="CMD") is None


def test_a_read_only_directory(tmp_path):
    line = describe_write_fault(OSError(errno.EROFS, "Read-only file system"), tmp_path, resume="CMD")
    assert line == (f"the output directory {tmp_path} became read-only during the run (nothing more can be saved "
                    "there); make it writable again and continue with: CMD")


@pytest.mark.skipif(not os.path.exists("/dev/full"), reason="no /dev/full")
def test_a_real_enospc_is_described_as_a_full_disk(tmp_path):
    try:
        with open("/dev/full", "w") as full:
            full.write("x" * 10)
            full.flush()
    except OSError as exc:
        line = describe_write_fault(exc, tmp_path, resume="CMD")
    assert line.startswith(f"the disk holding {tmp_path} is full (")
