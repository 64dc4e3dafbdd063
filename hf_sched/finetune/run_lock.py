"""One run per output directory: a lock file held for the whole run.

:class:`RunLock` creates ``<output_dir>/.run.lock``, takes an exclusive ``flock`` on it and
writes its PID, host and start time into it. A second run into the same directory finds
the lock taken and refuses (:class:`RunLockError`, naming the PID that holds it). The
kernel drops a ``flock`` when its process dies, so the file left by a killed run
(``kill -9``) is no lock: the next run takes it over and announces whose it was and that
that PID is gone. Where ``fcntl`` does not exist (Windows), the file is created
exclusively and a stale one is recognised by its PID no longer running.

In a multi-process run only the main process locks (``enabled=``): the lock is per run,
not per process. Releasing removes the file, and the directory too if the lock created it
and nothing else was written there (a run refused for a bad input leaves no trace).

Example:
    >>> import tempfile
    >>> folder = tempfile.mkdtemp()
    >>> with RunLock(folder):
    ...     try:
    ...         RunLock(folder).acquire()
    ...     except RunLockError as exc:
    ...         print("is in use by another run" in str(exc))
    True
"""

from __future__ import annotations

import json
import os
import socket
import time
from pathlib import Path
from typing import Any, Callable

try:  # POSIX
    import fcntl
except ImportError:  # pragma: no cover - Windows
    fcntl = None  # type: ignore[assignment]

__all__ = ["LOCK_NAME", "RunLock", "RunLockError", "flock_holder_pid", "pid_alive"]

LOCK_NAME = ".run.lock"


class RunLockError(RuntimeError):
    """The output directory is in use by another run."""


def pid_alive(pid: int) -> bool:
    """Whether a process with this PID exists on this machine (signal 0 probes without sending).

    Example:
        >>> pid_alive(os.getpid())
        True
    """
    if pid <= 0:
        return False
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    except PermissionError:  # it exists, owned by someone else
        return True
    except OSError:  # pragma: no cover - e.g. Windows for a PID that does not exist
        return False
    return True


def flock_holder_pid(path: str | os.PathLike) -> int | None:
    """The PID of the process holding a ``flock`` on ``path``, from Linux's ``/proc/locks`` (``None`` elsewhere).

    This is the kernel's word, not the PID a run wrote into the file (a file can outlive or be
    overwritten under its writer). ``/proc/locks`` rows read ``1: FLOCK ADVISORY WRITE <pid> <maj>:<min>:<inode> 0 EOF``.

    Example:
        >>> flock_holder_pid(os.devnull) is None
        True
    """
    try:
        st = os.stat(path)
        rows = Path("/proc/locks").read_text().splitlines()
    except OSError:
        return None
    device = f"{os.major(st.st_dev):02x}:{os.minor(st.st_dev):02x}:{st.st_ino}"
    for row in rows:
        fields = row.split()
        if "->" in fields:  # a waiter, not the holder
            continue
        if len(fields) >= 6 and fields[1] == "FLOCK" and fields[5] == device and fields[4].isdigit():
            return int(fields[4])
    return None


class RunLock:
    """An exclusive lock on ``directory`` for the lifetime of a run (a context manager).

    Args:
        directory: the run's output directory (created if needed).
        enabled: ``False`` makes every method a no-op (processes other than the main one).
        announce: where the take-over notice of a stale lock goes (default ``print``).
    """

    def __init__(self, directory: str | os.PathLike, *, enabled: bool = True,
                 announce: Callable[[str], None] = print) -> None:
        self.directory = Path(directory)
        self.path = self.directory / LOCK_NAME
        self.enabled = enabled
        self.announce = announce
        self._fd: int | None = None
        self._created_directory = False

    # -- the holder's record ------------------------------------------------------------

    def _read_holder(self) -> dict[str, Any]:
        try:
            holder = json.loads(self.path.read_text() or "{}")
        except (OSError, ValueError):
            return {}
        return holder if isinstance(holder, dict) else {}

    @staticmethod
    def _describe(holder: dict[str, Any]) -> str:
        pid = holder.get("pid", "?")
        mine = " (this process)" if pid == os.getpid() else ""
        started = holder.get("started")
        when = f", started {started}" if started else ""
        host = holder.get("host")
        where = f" on {host}" if host and host != socket.gethostname() else ""
        note = f"; {holder['note']}" if holder.get("note") else ""
        return f"PID {pid}{where}{when}{mine}{note}"

    def _record(self) -> bytes:
        return json.dumps({
            "pid": os.getpid(),
            "host": socket.gethostname(),
            "started": time.strftime("%Y-%m-%dT%H:%M:%S%z"),
        }).encode()

    def _refuse(self, holder: dict[str, Any]) -> RunLockError:
        real = flock_holder_pid(self.path)
        if real is not None and real != holder.get("pid"):  # the file's record is stale or was overwritten
            written = holder.get("pid")
            holder = {"pid": real, "note": f"the lock file names PID {written}" if written is not None else ""}
        return RunLockError(
            f"--output_dir {str(self.directory)!r} is in use by another run ({self._describe(holder)}); "
            f"wait for it to finish, or choose another --output_dir"
        )

    def _take_over_notice(self, holder: dict[str, Any]) -> None:
        pid = holder.get("pid")
        if not isinstance(pid, int) or pid == os.getpid():
            return
        state = "is gone" if not pid_alive(pid) else "no longer holds it"
        self.announce(
            f"notice: {self.path} was left by a run that did not finish ({self._describe(holder)}; that process "
            f"{state}); taking the lock over"
        )

    # -- acquire / release --------------------------------------------------------------

    def acquire(self) -> None:
        """Take the lock, or raise :class:`RunLockError` if a live run holds it."""
        if not self.enabled or self._fd is not None:
            return
        self._created_directory = not self.directory.exists()
        self.directory.mkdir(parents=True, exist_ok=True)
        try:
            self._fd = self._acquire_flock() if fcntl is not None else self._acquire_exclusive()
        except BaseException:
            self._remove_directory_if_created()
            raise

    def _acquire_flock(self) -> int:
        while True:
            fd = os.open(self.path, os.O_RDWR | os.O_CREAT, 0o644)
            try:
                fcntl.flock(fd, fcntl.LOCK_EX | fcntl.LOCK_NB)
            except OSError:
                os.close(fd)
                raise self._refuse(self._read_holder()) from None
            try:
                same_file = os.fstat(fd).st_ino == os.stat(self.path).st_ino
            except FileNotFoundError:
                same_file = False
            if same_file:
                break
            os.close(fd)  # the holder released and removed the file between our open and flock: retry
        self._take_over_notice(self._read_holder())
        os.ftruncate(fd, 0)
        os.write(fd, self._record())
        os.fsync(fd)
        return fd

    def _acquire_exclusive(self) -> int:  # pragma: no cover - only where fcntl is missing
        for _ in range(2):
            try:
                fd = os.open(self.path, os.O_RDWR | os.O_CREAT | os.O_EXCL, 0o644)
            except FileExistsError:
                holder = self._read_holder()
                pid = holder.get("pid")
                if isinstance(pid, int) and pid_alive(pid):
                    raise self._refuse(holder) from None
                self._take_over_notice(holder)
                self.path.unlink(missing_ok=True)
                continue
            os.write(fd, self._record())
            return fd
        raise self._refuse(self._read_holder())

    def release(self) -> None:
        """Remove the lock file (and the directory, if this lock made it and it is empty)."""
        if self._fd is None:
            return
        try:
            self.path.unlink(missing_ok=True)
        except OSError:  # the directory went away or became read-only: the run's own error says so
            pass
        finally:
            os.close(self._fd)
            self._fd = None
        self._remove_directory_if_created()

    def _remove_directory_if_created(self) -> None:
        if self._created_directory:
            try:
                self.directory.rmdir()  # only succeeds when empty
            except OSError:
                pass

    def __enter__(self) -> "RunLock":
        self.acquire()
        return self

    def __exit__(self, *exc_info: Any) -> None:
        self.release()
