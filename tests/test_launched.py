"""The launcher helper of the multi-process tests leaves no process behind on a timeout."""

from __future__ import annotations

import subprocess
import uuid

import pytest
from launched import kill_tagged, run_launched


def test_a_timeout_kills_the_children_too():
    marker = f"sleep 3{uuid.uuid4().int % 1000:03d}"  # a command line no other test uses
    with pytest.raises(subprocess.TimeoutExpired):
        run_launched(["bash", "-c", f"{marker} & {marker}; echo never"], timeout=1)
    left = subprocess.run(["pgrep", "-f", marker], capture_output=True, text=True).stdout.split()
    assert left == []


def test_output_and_return_code_like_subprocess_run():
    result = run_launched(["bash", "-c", "echo out; echo err >&2; exit 3"], timeout=30)
    assert (result.returncode, result.stdout, result.stderr) == (3, "out\n", "err\n")


def test_a_timeout_kills_a_child_in_its_own_session_whose_parent_has_exited():
    # torch's elastic agent starts each rank with setsid; a rank can outlive its launcher
    marker = f"sleep 4{uuid.uuid4().int % 1000:03d}"
    with pytest.raises(subprocess.TimeoutExpired):
        run_launched(["bash", "-c", f"setsid {marker} & sleep 0.2; echo started"], timeout=2)
    left = subprocess.run(["pgrep", "-f", marker], capture_output=True, text=True).stdout.split()
    assert left == []


def test_kill_tagged_finds_only_the_tagged_processes():
    keep = subprocess.Popen(["sleep", "30"])
    try:
        assert kill_tagged(uuid.uuid4().hex) == []
        assert keep.poll() is None
    finally:
        keep.kill()
        keep.wait()
