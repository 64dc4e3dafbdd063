"""Accuracy as an offline ``evaluate`` metric module.

The module is self-contained (it only needs ``numpy``, ``datasets`` and ``evaluate``)
so that ``evaluate.load("<this directory>")`` works without network access. Load it with
``hf_sched.metrics.load_metric("accuracy")``.

Formula: ``accuracy = sum_i w_i * [pred_i == ref_i] / sum_i w_i`` with ``w_i = 1`` unless
``sample_weight`` is given; with ``normalize=False`` the (weighted) number of correct
predictions is returned instead of the fraction.
"""

from __future__ import annotations

import datasets
import evaluate
import numpy as np

_DESCRIPTION = """\
Accuracy is the fraction of predictions that equal their reference label:
accuracy = (number of correct predictions) / (number of predictions).
With `sample_weight`, each example counts with its weight. With `normalize=False`
the (weighted) count of correct predictions is returned instead of the fraction.
"""

_INPUTS_DESCRIPTION = """
Args:
    predictions (`list` of `int`): predicted class ids.
    references (`list` of `int`): true class ids, same length as `predictions`.
    normalize (`bool`, default `True`): return the fraction of correct predictions;
        `False` returns the (weighted) number of correct predictions.
    sample_weight (`list` of `float`, optional): one non-negative weight per example.

Returns:
    accuracy (`float`): in [0, 1] when `normalize=True`, else in [0, sum(weights)].

Example:
    >>> from hf_sched.metrics import load_metric
    >>> accuracy = load_metric("accuracy")
    >>> accuracy.compute(predictions=[0, 1, 1, 0], references=[0, 1, 0, 0])
    {'accuracy': 0.75}
"""

_CITATION = ""


def _weights(sample_weight, n: int) -> np.ndarray:
    if sample_weight is None:
        return np.ones(n, dtype=np.float64)
    weights = np.asarray(sample_weight, dtype=np.float64).reshape(-1)
    if weights.shape[0] != n:
        raise ValueError(
            f"sample_weight has {weights.shape[0]} values but there are {n} predictions; "
            "give exactly one weight per prediction"
        )
    if not np.all(np.isfinite(weights)) or np.any(weights < 0):
        raise ValueError("sample_weight must hold finite, non-negative numbers")
    return weights


class Accuracy(evaluate.Metric):
    """Fraction (or weighted count) of predictions equal to their reference."""

    def _info(self) -> evaluate.MetricInfo:
        return evaluate.MetricInfo(
            description=_DESCRIPTION,
            citation=_CITATION,
            inputs_description=_INPUTS_DESCRIPTION,
            features=datasets.Features(
                {
                    "predictions": datasets.Value("int64"),
                    "references": datasets.Value("int64"),
                }
            ),
        )

    def _compute(self, predictions, references, normalize: bool = True, sample_weight=None):
        preds = np.asarray(predictions).reshape(-1)
        refs = np.asarray(references).reshape(-1)
        if preds.shape != refs.shape:
            raise ValueError(
                f"predictions ({preds.shape[0]}) and references ({refs.shape[0]}) differ in length"
            )
        if preds.shape[0] == 0:
            raise ValueError("accuracy needs at least one prediction; got none")
        weights = _weights(sample_weight, preds.shape[0])
        correct = float(np.sum(weights * (preds == refs)))
        if not normalize:
            return {"accuracy": correct}
        total = float(np.sum(weights))
        if total == 0.0:
            raise ValueError("sample_weight sums to 0: accuracy is undefined")
        return {"accuracy": correct / total}
