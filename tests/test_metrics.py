"""Tests of hf_sched.finetune.metrics: the offline evaluate metric modules and compute_metrics."""

from __future__ import annotations

import os
import sys
from pathlib import Path

import numpy as np
import pytest
from optional import require

from hf_sched.finetune import metrics as fd
from hf_sched.finetune.metrics import METRIC_NAMES, load_metric, metric_path


pytestmark = pytest.mark.usefixtures("offline_hf_home")


@pytest.fixture(scope="module")
def accuracy():
    # In memory: a compute() that raises leaves no file lock behind for the next test.
    return load_metric("accuracy", keep_in_memory=True)


@pytest.fixture(scope="module")
def f1():
    return load_metric("f1", keep_in_memory=True)


# ----------------------------------------------------------------- metric_path / load_metric


@pytest.mark.parametrize("name", METRIC_NAMES)
def test_metric_path_is_a_local_module_dir(name):
    path = Path(metric_path(name))
    assert path.is_dir()
    assert path.name == name
    assert (path / f"{name}.py").is_file()


def test_metric_path_ignores_case_and_spaces():
    assert metric_path(" Accuracy ") == metric_path("accuracy")
    assert metric_path("F1") == metric_path("f1")


@pytest.mark.parametrize("name", ["bleu", "acc", "", "f2"])
def test_metric_path_unknown_name_lists_available(name):
    with pytest.raises(ValueError, match=rf"unknown metric name='{name}'; available metrics: accuracy, f1"):
        metric_path(name)


def test_load_metric_unknown_name_fails_before_evaluate():
    with pytest.raises(ValueError, match="available metrics: accuracy, f1"):
        load_metric("precision")


def test_load_metric_passes_kwargs_to_evaluate_load():
    metric = load_metric("accuracy", keep_in_memory=True, experiment_id="kwargs-test")
    assert metric.experiment_id == "kwargs-test"
    assert metric.compute(predictions=[1, 1], references=[1, 0]) == {"accuracy": 0.5}


def test_load_metric_works_offline_and_caches_under_hf_home(accuracy, offline_hf_home):
    import evaluate

    assert os.environ["HF_HUB_OFFLINE"] == "1"
    assert accuracy.name == "accuracy"
    # evaluate copied the module into its cache: the copy is what ran, not the Hub script.
    cached = list(Path(evaluate.config.HF_MODULES_CACHE).rglob("accuracy.py"))
    assert cached, "evaluate did not copy the module into its cache"
    assert cached[0].read_text() == (Path(metric_path("accuracy")) / "accuracy.py").read_text()


# ----------------------------------------------------------------- accuracy

PREDS = [0, 1, 1, 0, 1]
REFS = [0, 1, 0, 0, 0]  # correct at 0, 1, 3: 3 of 5


def test_accuracy_hand_computed(accuracy):
    assert accuracy.compute(predictions=PREDS, references=REFS) == {"accuracy": pytest.approx(0.6)}


def test_accuracy_unnormalised_counts_correct(accuracy):
    assert accuracy.compute(predictions=PREDS, references=REFS, normalize=False) == {"accuracy": 3.0}


def test_accuracy_sample_weight(accuracy):
    weights = [1, 2, 3, 4, 5]  # correct weights 1 + 2 + 4 = 7 of 15
    result = accuracy.compute(predictions=PREDS, references=REFS, sample_weight=weights)
    assert result["accuracy"] == pytest.approx(7 / 15)
    result = accuracy.compute(predictions=PREDS, references=REFS, sample_weight=weights, normalize=False)
    assert result["accuracy"] == pytest.approx(7.0)


def test_accuracy_extremes_and_numpy_input(accuracy):
    assert accuracy.compute(predictions=np.array([3, 4]), references=np.array([3, 4]))["accuracy"] == 1.0
    assert accuracy.compute(predictions=[1, 1], references=[0, 0])["accuracy"] == 0.0


def test_accuracy_sample_weight_wrong_length(accuracy):
    with pytest.raises(ValueError, match="sample_weight has 2 values but there are 5 predictions"):
        accuracy.compute(predictions=PREDS, references=REFS, sample_weight=[1, 2])


def test_accuracy_sample_weight_negative(accuracy):
    with pytest.raises(ValueError, match="sample_weight must hold finite, non-negative numbers"):
        accuracy.compute(predictions=PREDS, references=REFS, sample_weight=[1, 1, 1, 1, -1])


def test_accuracy_zero_total_weight(accuracy):
    with pytest.raises(ValueError, match="sample_weight sums to 0"):
        accuracy.compute(predictions=PREDS, references=REFS, sample_weight=[0] * 5)


def test_accuracy_length_mismatch(accuracy):
    with pytest.raises(ValueError, match="Mismatch in the number of predictions"):
        accuracy.compute(predictions=[1, 0], references=[1])


def test_accuracy_add_batch_accumulates(accuracy):
    accuracy.add_batch(predictions=PREDS[:2], references=REFS[:2])
    accuracy.add_batch(predictions=PREDS[2:], references=REFS[2:])
    assert accuracy.compute() == {"accuracy": pytest.approx(0.6)}


# ----------------------------------------------------------------- f1

# Multi-class case, by hand (index: pred/ref):
#   class 0: TP 2 (0, 3), FP 1 (4), FN 0        -> F1 = 4/5 = 0.8, support 2
#   class 1: TP 1 (5),    FP 1 (2), FN 2 (1, 4) -> F1 = 2/5 = 0.4, support 3
#   class 2: TP 0,        FP 1 (1), FN 1 (2)    -> F1 = 0,         support 1
MC_PREDS = [0, 2, 1, 0, 0, 1]
MC_REFS = [0, 1, 2, 0, 1, 1]


def test_f1_binary_hand_computed(f1):
    # pos_label 1: TP 1 (1), FP 2 (2, 4), FN 0 -> 2 / (2 + 2) = 0.5
    assert f1.compute(predictions=PREDS, references=REFS) == {"f1": pytest.approx(0.5)}


def test_f1_binary_pos_label(f1):
    # pos_label 0: TP 2 (0, 3), FP 0, FN 2 (2, 4) -> 4 / 6
    assert f1.compute(predictions=PREDS, references=REFS, pos_label=0)["f1"] == pytest.approx(4 / 6)


def test_f1_binary_sample_weight(f1):
    # TP weight 2, FP weight 1, FN weight 3 -> 4 / (4 + 1 + 3) = 0.5
    result = f1.compute(predictions=[1, 1, 0, 0], references=[1, 0, 1, 0], sample_weight=[2, 1, 3, 1])
    assert result["f1"] == pytest.approx(0.5)


def test_f1_binary_without_positives_is_zero(f1):
    assert f1.compute(predictions=[0, 0], references=[0, 0])["f1"] == 0.0


@pytest.mark.parametrize(
    ("average", "expected"),
    [("macro", 0.4), ("micro", 0.5), ("weighted", (0.8 * 2 + 0.4 * 3 + 0.0 * 1) / 6)],
)
def test_f1_multiclass_hand_computed(f1, average, expected):
    result = f1.compute(predictions=MC_PREDS, references=MC_REFS, average=average)
    assert result["f1"] == pytest.approx(expected)


def test_f1_micro_equals_accuracy_for_single_label(f1, accuracy):
    micro = f1.compute(predictions=MC_PREDS, references=MC_REFS, average="micro")["f1"]
    assert micro == pytest.approx(accuracy.compute(predictions=MC_PREDS, references=MC_REFS)["accuracy"])


def test_f1_unknown_average(f1):
    with pytest.raises(ValueError, match=r"average='samples' is not supported; use one of binary, macro, micro, weighted"):
        f1.compute(predictions=PREDS, references=REFS, average="samples")


def test_f1_binary_rejects_three_classes(f1):
    with pytest.raises(ValueError, match=r"average='binary' needs at most two classes but found 3 \(\[0, 1, 2\]\)"):
        f1.compute(predictions=MC_PREDS, references=MC_REFS)


def test_f1_binary_rejects_absent_pos_label(f1):
    with pytest.raises(ValueError, match=r"pos_label=1 is not one of the classes \[2, 3\]"):
        f1.compute(predictions=[2, 3], references=[3, 2])


def test_f1_sample_weight_wrong_length(f1):
    with pytest.raises(ValueError, match="sample_weight has 1 values but there are 5 predictions"):
        f1.compute(predictions=PREDS, references=REFS, sample_weight=[1.0])


# ----------------------------------------------------------------- parity with scikit-learn


@pytest.mark.parametrize("weighted", [False, True])
@pytest.mark.parametrize("seed", [0, 1, 2])
def test_parity_with_sklearn(accuracy, f1, weighted, seed):
    sk_metrics = require("sklearn.metrics")
    rng = np.random.default_rng(seed)
    refs = rng.integers(0, 4, size=200)
    preds = np.where(rng.random(200) < 0.6, refs, rng.integers(0, 4, size=200))
    weights = rng.random(200) if weighted else None
    got = accuracy.compute(predictions=preds, references=refs, sample_weight=weights)["accuracy"]
    assert got == pytest.approx(sk_metrics.accuracy_score(refs, preds, sample_weight=weights))
    for average in ("macro", "micro", "weighted"):
        got = f1.compute(predictions=preds, references=refs, average=average, sample_weight=weights)["f1"]
        assert got == pytest.approx(sk_metrics.f1_score(refs, preds, average=average, sample_weight=weights))
    binary_refs, binary_preds = refs % 2, preds % 2
    for pos_label in (0, 1):
        got = f1.compute(
            predictions=binary_preds, references=binary_refs, pos_label=pos_label, sample_weight=weights
        )["f1"]
        expected = sk_metrics.f1_score(binary_refs, binary_preds, pos_label=pos_label, sample_weight=weights)
        assert got == pytest.approx(expected)


# ----------------------------------------------------------------- compute_metrics


def test_compute_metrics_class_ids():
    # accuracy 3/4; f1 of class 1: TP 1, FP 1, FN 0 -> 2/3
    result = fd.compute_metrics([0, 1, 1, 0], [0, 1, 0, 0])
    assert result == {"accuracy": pytest.approx(0.75), "f1": pytest.approx(2 / 3)}


def test_compute_metrics_logits_and_eval_prediction():
    from transformers import EvalPrediction

    logits = np.array([[2.0, -1.0], [0.1, 0.3], [0.5, 0.2], [-1.0, 1.0]])  # -> 0, 1, 0, 1
    labels = np.array([0, 1, 1, 1])  # accuracy 3/4; f1: TP 2, FN 1 -> 4/5
    expected = {"accuracy": pytest.approx(0.75), "f1": pytest.approx(0.8)}
    assert fd.compute_metrics(logits, labels) == expected
    assert fd.compute_metrics(EvalPrediction(predictions=logits, label_ids=labels)) == expected
    assert fd.compute_metrics(EvalPrediction(predictions=(logits, np.zeros((4, 3))), label_ids=labels)) == expected


def test_compute_metrics_multiclass_is_macro():
    # Same numbers as the metric tests: accuracy 3/6, macro F1 (0.8 + 0.4 + 0) / 3
    result = fd.compute_metrics([0, 2, 1, 0, 0, 1], [0, 1, 2, 0, 1, 1])
    assert result == {"accuracy": pytest.approx(0.5), "f1": pytest.approx(0.4)}
    three_way = fd.compute_metrics([0, 1], [0, 1], num_labels=3)
    assert three_way == {"accuracy": 1.0, "f1": 1.0}


def test_compute_metrics_errors():
    with pytest.raises(ValueError, match=r"predictions \(3\) and references \(2\) differ in length"):
        fd.compute_metrics([0, 1, 1], [0, 1])
    with pytest.raises(ValueError, match="references is None"):
        fd.compute_metrics([0, 1])
    with pytest.raises(ValueError, match=r"got shape \(1, 2, 2\)"):
        fd.compute_metrics(np.zeros((1, 2, 2)), [0])
