"""The launcher helper of the multi-process tests leaves no process behind on a timeout."""

from __future__ import annotations

import subprocess
import uuid

import pytest
from launched import run_launched


def test_a_timeout_kills_the_children_too():
    marker = f"sleep 3{uuid.uuid4().int % 1000:03d}"  # a command line no other test uses
    with pytest.raises(subprocess.TimeoutExpired):
        run_launched(["bash", "-c", f"{marker} & {marker}; echo never"], timeout=1)
    left = subprocess.run(["pgrep", "-f", marker], capture_output=True, text=True).stdout.split()
    assert left == []


def test_output_and_return_code_like_subprocess_run():
    result = run_launched(["bash", "-c", "echo out; echo err >&2; exit 3"], timeout=30)
    assert (result.returncode, result.stdout, result.stderr) == (3, "out\n", "err\n")
