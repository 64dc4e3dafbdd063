"""Shared pieces of the schedule studies (``benchmarks/schedule_study.py`` and ``schedule_study_v2.py``).

Not part of the ``hf_sched`` package: the study scripts put ``benchmarks/`` on ``sys.path``
and import these modules as ``study.<module>``.

* :mod:`study.divergence` - did a run diverge; moving averages.
* :mod:`study.loop` - one fine-tuning run (plain PyTorch loop, evaluation as it goes).
* :mod:`study.cli_types` - argparse value types shared by the scripts.
* :mod:`study.stats` - mean +- sd and its formatting; the machine a study ran on.
* :mod:`study.arms` - the arms of study v2 (optimizer + schedule + LR) and their run order.
* :mod:`study.tasks` - the two tasks of study v2 (binary and three-class tweets).
* :mod:`study.store` - the append-only JSONL file of finished runs (resume).
* :mod:`study.target` - steps (and seconds) to a target accuracy.
* :mod:`study.report` - study v2's summary JSON, markdown and PNGs.
"""

__all__: list[str] = []
