"""Running ``hf-sched`` in tests: in-process through :func:`hf_sched.cli.main`, or as the real script.

Shared by ``tests/test_cli*.py``. Most tests call :func:`run_cli` (fast); a few run the
installed console script with :func:`run_script`, to prove the entry point, the exit codes
and stderr are what a user sees.
"""

from __future__ import annotations

import os
import shutil
import subprocess
import sys
from pathlib import Path

import pytest

from hf_sched.cli import main

__all__ = ["ROOT", "PNG_SIGNATURE", "SIX", "script", "env", "run_script", "run_cli", "png_size"]

ROOT = Path(__file__).resolve().parents[1]
PNG_SIGNATURE = b"\x89PNG\r\n\x1a\n"
SIX = ["constantlr", "warmupconstant", "warmuplinear", "warmupcosine", "warmupcosinewithhardrestarts", "noam"]


def script() -> str:
    """The installed console script (next to the interpreter, else on PATH)."""
    here = Path(sys.executable).with_name("hf-sched")
    found = str(here) if here.exists() else shutil.which("hf-sched")
    if not found:
        pytest.fail("the hf-sched console script is not installed: run `pip install -e .`")
    return found


def env() -> dict[str, str]:
    return {**os.environ, "PYTHONIOENCODING": "utf-8", "COLUMNS": "100"}


def run_script(*args: str, timeout: float = 60) -> subprocess.CompletedProcess:
    return subprocess.run([script(), *args], capture_output=True, text=True, encoding="utf-8",
                          env=env(), timeout=timeout, cwd=ROOT)


def run_cli(capsys: pytest.CaptureFixture, *argv: str) -> tuple[int, str, str]:
    code = main(list(argv))
    out, err = capsys.readouterr()
    return code, out, err




def png_size(path: Path) -> tuple[int, int]:
    """``(width, height)`` from a PNG's header (and a check that it is a PNG)."""
    data = path.read_bytes()
    assert data[:8] == PNG_SIGNATURE
    return int.from_bytes(data[16:20], "big"), int.from_bytes(data[20:24], "big")
