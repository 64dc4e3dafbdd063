"""The append-only file of finished runs: one JSON object per line, so a killed study resumes.

Every finished run is appended as one line and flushed to disk (``fsync``) at once; a run
that was in progress when the study was killed leaves nothing, or a last line without its
newline, which :func:`load_runs` drops with a warning. A rerun skips every run whose
``key_id`` is already in the file.

>>> import tempfile, pathlib
>>> path = pathlib.Path(tempfile.mkdtemp()) / "runs.jsonl"
>>> append_run(path, {"key_id": "a", "x": 1}); [r["x"] for r in load_runs(path)]
[1]
"""

from __future__ import annotations

import json
import os
import warnings
from pathlib import Path
from typing import Any

__all__ = ["FORMAT", "key_id", "load_runs", "append_run"]

FORMAT = "hf_sched.schedule_study_v2/1"


def key_id(key: dict[str, Any]) -> str:
    """A stable string for a run key (what resume matches on): its items, sorted, as compact JSON.

    >>> key_id({"seed": 0, "arm": "wsd"})
    '{"arm":"wsd","seed":0}'
    """
    return json.dumps(key, sort_keys=True, separators=(",", ":"))


def load_runs(path: str | os.PathLike) -> list[dict[str, Any]]:
    """Every run in the file (a missing file: none).

    Raises:
        ValueError: a line other than the last is not a JSON object with a ``key_id``
            (the message names the file and the line).
    """
    path = Path(path)
    if not path.exists():
        return []
    text = path.read_text(encoding="utf-8")
    lines = text.split("\n")
    runs = []
    for number, line in enumerate(lines, start=1):
        if not line.strip():
            continue
        last = number == len(lines)  # no newline after it: a write cut short
        try:
            run = json.loads(line)
        except json.JSONDecodeError as exc:
            if last:
                warnings.warn(f"{path}:{number}: dropped an incomplete last line (a run cut short)", stacklevel=2)
                continue
            raise ValueError(f"{path}:{number} is not JSON ({exc}); move the file away or pass another --name") \
                from exc
        if not isinstance(run, dict) or "key_id" not in run:
            raise ValueError(f"{path}:{number} is not a study run (no key_id); pass another --out_dir/--name")
        runs.append(run)
    return runs


def append_run(path: str | os.PathLike, record: dict[str, Any]) -> None:
    """Append one run as one line and fsync it (NaN/inf refused: they are not JSON).

    Raises:
        ValueError: ``record`` has no ``key_id`` or holds NaN/inf.
    """
    if "key_id" not in record:
        raise ValueError("record has no 'key_id': build it from the run key with key_id()")
    line = json.dumps(record, allow_nan=False, separators=(",", ":"))
    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    with path.open("a", encoding="utf-8") as handle:
        handle.write(line + "\n")
        handle.flush()
        os.fsync(handle.fileno())
