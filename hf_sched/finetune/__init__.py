"""Support code for the fine-tuning recipes and benchmarks (not part of the schedule API).

One module per concept, each imported on its own (``import hf_sched`` imports none of them,
and none imports torch, transformers, datasets or evaluate at module level, except
:mod:`~hf_sched.finetune.classification_metrics`, which only ``evaluate.load`` imports):

* :mod:`hf_sched.finetune.data` - text-classification data: the offline tweets, local
  files or Hub datasets, split and tokenised.
* :mod:`hf_sched.finetune.model` - the offline MiniLM classifier and a tiny random BERT.
* :mod:`hf_sched.finetune.length_grouping` - length-grouped training batches (seeded, resumable)
  and the count of their padding.
* :mod:`hf_sched.finetune.metrics` - offline ``evaluate`` metrics and ``compute_metrics``.
* :mod:`hf_sched.finetune.arguments` - the Accelerate recipe's flags, checked before anything loads.
* :mod:`hf_sched.finetune.input_checks` - the checks both recipes make on their inputs (one copy).
* :mod:`hf_sched.finetune.run_faults` - a full disk, a vanished output directory, Ctrl-C: one line.
* :mod:`hf_sched.finetune.strict_json` - outputs without NaN (``null`` instead).
* :mod:`hf_sched.finetune.checkpoint` - checkpoint manifests: written last, verified on resume.
* :mod:`hf_sched.finetune.run_lock` - one run per output directory.
* :mod:`hf_sched.finetune.threads` - undo a launcher's one-thread default on CPU.
* :mod:`hf_sched.finetune.process_group` - end a multi-process run without gloo's teardown hang.
* :mod:`hf_sched.finetune.lr_curve` - the LR-curve PNG of a run.

Example:
    >>> from hf_sched.finetune.metrics import compute_metrics
    >>> compute_metrics([0, 1, 1, 0], [0, 1, 0, 0])
    {'accuracy': 0.75, 'f1': 0.6666666666666666}
"""

__all__: list[str] = []
