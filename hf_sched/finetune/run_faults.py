"""What ends a run that is not a bad input, in one line: a full disk, an output directory that went away, Ctrl-C.

torch's checkpoint writer reports a full disk as ``PytorchStreamWriter failed writing file
data/0: file write failed`` and safetensors as ``IoError(Os { code: 28 ...})``; neither says
"disk full" and neither says what to do. :func:`describe_write_fault` looks at the output
directory itself (gone? read-only? how much space is left?) and says the cause and the next
step; :func:`resume_command` is the command that continues an interrupted run.

Example:
    >>> resume_command("recipes/finetune_accelerate.py", ["--output_dir", "runs/a", "--overwrite_output_dir"])
    'python recipes/finetune_accelerate.py --output_dir runs/a --resume_from_checkpoint latest'
"""

from __future__ import annotations

import errno
import os
import shlex
import shutil
from pathlib import Path
from typing import Optional, Sequence

__all__ = ["describe_write_fault", "resume_command"]

_WRITE_FAILURES = ("file write failed", "no space left", "storagefull", "read-only file system", "disk quota")
_WRITE_ERRNOS = {errno.ENOSPC, errno.EROFS, errno.EACCES, errno.EPERM, errno.ENOENT, errno.EDQUOT}


def resume_command(script: str, argv: Sequence[str], checkpoint: str = "latest", *,
                   drop: Sequence[str] = ()) -> str:
    """``python SCRIPT ARGV --resume_from_checkpoint CHECKPOINT`` (``accelerate launch`` on several
    processes), without a previous resume flag,
    ``--overwrite_output_dir`` (which would delete the checkpoints it resumes from) or the flags
    (with their values) named in ``drop``."""
    with_value = {"--resume_from_checkpoint", *drop}
    kept: list[str] = []
    skip = False
    for arg in argv:
        if skip:
            skip = False
            continue
        if arg in with_value:
            skip = True
            continue
        if arg.split("=", 1)[0] in with_value or arg == "--overwrite_output_dir":
            continue
        kept.append(arg)
    launcher = "accelerate launch [your launch options]" if int(os.environ.get("WORLD_SIZE", "1")) > 1 else "python"
    return f"{launcher} " + shlex.join([script, *kept, "--resume_from_checkpoint", checkpoint])


def describe_write_fault(exc: BaseException, output_dir: str | os.PathLike, *, resume: str) -> Optional[str]:
    """One line for a failed write under ``output_dir`` (``None`` if ``exc`` is no write failure).

    ``resume`` is what to run to continue (e.g. :func:`resume_command`).
    """
    text = str(exc).lower()
    code = getattr(exc, "errno", None)
    if not (code in _WRITE_ERRNOS or any(marker in text for marker in _WRITE_FAILURES)):
        return None
    folder = Path(output_dir)
    shown = str(folder)
    if not folder.is_dir():
        return (f"the output directory {shown} was deleted or renamed during the run, so nothing more can be saved "
                f"there; put it back (rename it back) and continue with: {resume} -- or start a new run")
    free = shutil.disk_usage(folder).free
    full = code == errno.ENOSPC or "no space left" in text or "storagefull" in text
    if full or ("file write failed" in text and free < 64 * 2**20):  # torch's writer names no errno
        return (f"the disk holding {shown} is full ({free / 2**20:.1f} MiB free) and a file of the run could not "
                f"be written; free some space (df -h {shlex.quote(shown)}) and continue with: {resume}")
    if code in (errno.EROFS, errno.EACCES, errno.EPERM) or not os.access(folder, os.W_OK):
        return (f"the output directory {shown} became read-only during the run (nothing more can be saved there); "
                f"make it writable again and continue with: {resume}")
    return f"a file of the run could not be written under {shown}: {' '.join(str(exc).split())}; continue with: {resume}"
