"""Run a launcher (``accelerate launch``, ``torchrun``, a DDP script) so that a timeout leaves no process behind.

``subprocess.run(..., timeout=)`` kills only the process it started: the ranks a launcher
started live on as orphans (one did here, for hours, after a hung two-process test). This
starts the command in its own session and, on a timeout, kills the whole process group
before raising ``subprocess.TimeoutExpired`` with what the command had printed.
"""

from __future__ import annotations

import os
import signal
import subprocess
from typing import Any, Sequence

__all__ = ["run_launched"]


def run_launched(command: Sequence[str], *, timeout: float, **kwargs: Any) -> subprocess.CompletedProcess:
    """``subprocess.run(command, capture_output=True, text=True, timeout=timeout, **kwargs)``, group-safe."""
    with subprocess.Popen(list(command), stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True,
                          start_new_session=True, **kwargs) as proc:
        try:
            out, err = proc.communicate(timeout=timeout)
        except subprocess.TimeoutExpired:
            os.killpg(proc.pid, signal.SIGKILL)
            out, err = proc.communicate()
            raise subprocess.TimeoutExpired(proc.args, timeout, output=out, stderr=err) from None
    return subprocess.CompletedProcess(proc.args, proc.returncode, out, err)
