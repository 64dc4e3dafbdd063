"""Run a launcher (``accelerate launch``, ``torchrun``, a DDP script) so that a timeout leaves no process behind.

``subprocess.run(..., timeout=)`` kills only the process it started: the ranks a launcher
started live on as orphans (one did here, for hours, after a hung two-process test). Killing
the launcher's process group is not enough either: torch's elastic agent starts every rank in
a session of its own, and a rank that outlives its launcher is re-parented to init. So every
command gets a tag in its environment, which all its descendants inherit; on a timeout every
process carrying the tag is killed (read from ``/proc/<pid>/environ``), then the launcher's
group, and ``subprocess.TimeoutExpired`` is raised with what the command had printed.
"""

from __future__ import annotations

import os
import signal
import subprocess
import uuid
from pathlib import Path
from typing import Any, Sequence

__all__ = ["TAG_VARIABLE", "launch_port", "two_process_command", "run_launched", "kill_tagged"]

#: the environment variable that marks every process of one launch
TAG_VARIABLE = "HF_SCHED_TEST_LAUNCH"


def launch_port() -> str:
    """A ``--main_process_port`` for one launch, so that two at once (``pytest -n 2``) never meet on 29500.

    ``"0"`` (the launcher picks a free port) on accelerate >= 1.7; below 1.7 accelerate takes 0
    literally and the launch hangs, so a port the OS just handed out (and freed) is used.

    >>> int(launch_port()) >= 0
    True
    """
    import socket
    from importlib.metadata import version

    from packaging.version import Version

    if Version(version("accelerate")) >= Version("1.7"):
        return "0"
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return str(sock.getsockname()[1])


def two_process_command(script: str | os.PathLike, *args: str) -> list[str]:
    """``accelerate launch`` of ``script`` on 2 CPU processes (gloo), on a free port (:func:`launch_port`).

    >>> two_process_command("x.py", "out")[-2:]
    ['x.py', 'out']
    """
    import sys

    return [sys.executable, "-m", "accelerate.commands.launch", "--multi_gpu", "--num_processes", "2",
            "--num_machines", "1", "--main_process_port", launch_port(), "--mixed_precision", "no", "--dynamo_backend", "no",
            str(script), *args]


def kill_tagged(tag: str) -> list[int]:
    """SIGKILL every process whose environment holds ``TAG_VARIABLE=tag``; return their PIDs."""
    needle = f"{TAG_VARIABLE}={tag}".encode()
    killed = []
    for entry in Path("/proc").iterdir():
        if not entry.name.isdigit() or int(entry.name) == os.getpid():
            continue
        try:
            environ = (entry / "environ").read_bytes()
        except OSError:  # gone meanwhile, or not ours
            continue
        if needle in environ.split(b"\0"):
            try:
                os.kill(int(entry.name), signal.SIGKILL)
                killed.append(int(entry.name))
            except ProcessLookupError:
                pass
    return killed


def run_launched(command: Sequence[str], *, timeout: float, **kwargs: Any) -> subprocess.CompletedProcess:
    """``subprocess.run(command, capture_output=True, text=True, timeout=timeout, **kwargs)``, tree-safe."""
    tag = uuid.uuid4().hex
    env = {**(kwargs.pop("env", None) or os.environ), TAG_VARIABLE: tag}
    with subprocess.Popen(list(command), stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True,
                          start_new_session=True, env=env, **kwargs) as proc:
        try:
            out, err = proc.communicate(timeout=timeout)
        except subprocess.TimeoutExpired:
            kill_tagged(tag)
            try:
                os.killpg(proc.pid, signal.SIGKILL)
            except ProcessLookupError:
                pass
            out, err = proc.communicate(timeout=60)
            raise subprocess.TimeoutExpired(proc.args, timeout, output=out, stderr=err) from None
    return subprocess.CompletedProcess(proc.args, proc.returncode, out, err)
