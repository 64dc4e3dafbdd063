"""CPU threads for training: undo a launcher's one-thread default, keep a user's choice.

``accelerate launch`` without a config (and without ``--num_cpu_threads_per_process``)
starts its processes with ``OMP_NUM_THREADS=1``, one process included; ``torchrun`` does
the same for several processes. On CPU, torch then trains on one thread however many
cores the process may use (measured here: 38.7 s against 26.6 s for 40 steps on 2 cores).

The rule of :func:`use_available_cores`: when this process trains on the CPU, its
``OMP_NUM_THREADS`` is ``1``, its parent process is a launcher (``accelerate launch`` or
``torchrun``), and the launcher's own environment had no ``OMP_NUM_THREADS`` and its
command line no ``--num_cpu_threads_per_process``, then the ``1`` came from the launcher,
not from the user: torch gets ``cores // processes on this machine`` threads (at least 1),
with a printed notice. Anything the user set is kept, ``OMP_NUM_THREADS=1`` included.
The launcher's environment is read from ``/proc/<parent>/environ`` (the environment it was
started with); where that cannot be read (not Linux, another user), nothing is changed.
Cores are those this process may run on (``os.sched_getaffinity``), else ``os.cpu_count()``.

Example:
    >>> launcher_default_threads({"OMP_NUM_THREADS": "1"}, ["accelerate", "launch", "train.py"], {})
    'accelerate launch'
    >>> launcher_default_threads({"OMP_NUM_THREADS": "1"}, ["accelerate", "launch", "train.py"],
    ...                          {"OMP_NUM_THREADS": "1"}) is None    # the user's own 1
    True
"""

from __future__ import annotations

import os
from typing import Callable, Mapping, Sequence

__all__ = ["available_cores", "launcher_name", "launcher_default_threads", "use_available_cores"]


def available_cores() -> int:
    """CPU cores this process may run on (its affinity mask), at least 1.

    Example:
        >>> available_cores() >= 1
        True
    """
    try:
        return max(1, len(os.sched_getaffinity(0)))
    except (AttributeError, OSError):  # pragma: no cover - not Linux
        return max(1, os.cpu_count() or 1)


def launcher_name(command: Sequence[str]) -> str | None:
    """``"accelerate launch"`` or ``"torchrun"`` if ``command`` runs one of them, else ``None``.

    Example:
        >>> launcher_name(["/usr/bin/python", "-m", "accelerate.commands.launch", "x.py"])
        'accelerate launch'
        >>> launcher_name(["bash"]) is None
        True
    """
    words = [os.path.basename(w) for w in command[:4]]
    if "accelerate.commands.launch" in words or ("accelerate" in words and "launch" in words):
        return "accelerate launch"
    if "torchrun" in words or "torch.distributed.run" in words or "torch.distributed.launch" in words:
        return "torchrun"
    return None


def launcher_default_threads(
    env: Mapping[str, str], parent_command: Sequence[str] | None, parent_env: Mapping[str, str] | None
) -> str | None:
    """The launcher that imposed ``OMP_NUM_THREADS=1`` on this process, or ``None``.

    ``None`` as well when the value is not 1, the parent is no launcher, the parent's
    environment or command line cannot be read, or the user chose the thread count there.
    """
    if env.get("OMP_NUM_THREADS", "").strip() != "1" or parent_command is None or parent_env is None:
        return None
    launcher = launcher_name(parent_command)
    if launcher is None or "OMP_NUM_THREADS" in parent_env:
        return None
    if any(arg.startswith("--num_cpu_threads_per_process") for arg in parent_command):
        return None
    return launcher


def _read_nul_separated(path: str) -> list[str] | None:
    try:
        with open(path, "rb") as handle:
            data = handle.read()
    except OSError:
        return None
    return [part.decode(errors="replace") for part in data.split(b"\0") if part]


def _parent() -> tuple[list[str] | None, dict[str, str] | None]:
    parent = os.getppid()
    command = _read_nul_separated(f"/proc/{parent}/cmdline")
    environ = _read_nul_separated(f"/proc/{parent}/environ")
    if environ is None:
        return command, None
    return command, dict(item.split("=", 1) for item in environ if "=" in item)


def use_available_cores(
    on_cpu: bool, processes_on_this_machine: int = 1, announce: Callable[[str], None] | None = print
) -> int:
    """Give torch ``cores // processes`` threads if a launcher, not the user, limited it to one.

    Args:
        on_cpu: whether this process trains on the CPU (GPU runs are left alone).
        processes_on_this_machine: training processes sharing this machine's cores.
        announce: where the notice goes when the count changes (``None``: silent).

    Returns:
        The number of threads torch uses now (``torch.get_num_threads()``).
    """
    import torch

    if on_cpu:
        command, environ = _parent()
        launcher = launcher_default_threads(os.environ, command, environ)
        if launcher is not None:
            cores = available_cores()
            wanted = max(1, cores // max(1, processes_on_this_machine))
            if wanted > torch.get_num_threads():
                torch.set_num_threads(wanted)
                if announce is not None:
                    per = f"{cores} cores / {processes_on_this_machine} process" + (
                        "es" if processes_on_this_machine > 1 else "")
                    announce(
                        f"notice: {launcher} set OMP_NUM_THREADS=1 (its default, not yours); training on {wanted} "
                        f"threads ({per}). Set OMP_NUM_THREADS or --num_cpu_threads_per_process to choose."
                    )
    return torch.get_num_threads()
