"""Tests of schedule study v2 (``benchmarks/schedule_study_v2.py``) and its modules in ``benchmarks/study/``.

End-to-end runs use a tiny random BERT base model (no classification head, like the
MiniLM, so both the two- and the three-class head are created) with 64 train / 32
validation tweets per task and a handful of steps per run: seconds on two busy cores.
"""

from __future__ import annotations

import importlib.util
import json
import math
import sys
import warnings
from pathlib import Path
from types import ModuleType

import pytest

ROOT = Path(__file__).resolve().parents[1]
BENCHMARKS = ROOT / "benchmarks"
PNG_SIGNATURE = b"\x89PNG\r\n\x1a\n"
if str(BENCHMARKS) not in sys.path:
    sys.path.insert(0, str(BENCHMARKS))

from study import arms, loop, report, store, target, tasks  # noqa: E402


@pytest.fixture(scope="module")
def v2() -> ModuleType:
    spec = importlib.util.spec_from_file_location("bench_schedule_study_v2", BENCHMARKS / "schedule_study_v2.py")
    module = importlib.util.module_from_spec(spec)
    sys.modules[spec.name] = module
    spec.loader.exec_module(module)
    return module


@pytest.fixture(scope="module")
def tiny_base(tmp_path_factory: pytest.TempPathFactory) -> str:
    """A tiny random BertModel (no head) with the MiniLM tokenizer."""
    from transformers import AutoTokenizer, BertConfig, BertModel

    from hf_sched.finetune.model import default_model_path

    path = tmp_path_factory.mktemp("tiny_base")
    tokenizer = AutoTokenizer.from_pretrained(default_model_path(), local_files_only=True)
    config = BertConfig(vocab_size=len(tokenizer), hidden_size=32, num_hidden_layers=2, num_attention_heads=2,
                        intermediate_size=37, max_position_embeddings=64)
    BertModel(config).save_pretrained(path)
    tokenizer.save_pretrained(path)
    return str(path)


# --------------------------------------------------------------------------- target


def test_steps_to_target_first_hit_and_miss() -> None:
    evals = [{"step": 25, "accuracy": 0.80, "train_s": 9.0, "wall_s": 12.0},
             {"step": 50, "accuracy": 0.85, "train_s": 18.0, "wall_s": 25.0},
             {"step": 75, "accuracy": 0.90, "train_s": 27.0, "wall_s": 38.0}]
    assert target.steps_to_target(evals, 0.85) == {"step": 50, "train_s": 18.0, "wall_s": 25.0}  # >= counts
    assert target.steps_to_target(evals, 0.5)["step"] == 25
    assert target.steps_to_target(evals, 0.9000001) is None
    assert target.steps_to_target([], 0.5) is None
    for bad in (float("nan"), None, "0.8", True):
        with pytest.raises(ValueError, match="target=.* is invalid"):
            target.steps_to_target(evals, bad)


def test_task_targets_mean_of_reference_arm() -> None:
    runs = [{"task": "binary", "arm": "trainer-default", "seed": 1, "final": {"accuracy": 0.86}},
            {"task": "binary", "arm": "trainer-default", "seed": 0, "final": {"accuracy": 0.88}},
            {"task": "binary", "arm": "wsd", "seed": 0, "final": {"accuracy": 0.99}},
            {"task": "three_class", "arm": "wsd", "seed": 0, "final": {"accuracy": 0.7}}]
    out = target.task_targets(runs, "trainer-default")
    assert out == {"binary": {"target": pytest.approx(0.87), "seeds": [0, 1]}}


# --------------------------------------------------------------------------- store


def test_store_appends_resumes_and_checks(tmp_path: Path) -> None:
    path = tmp_path / "runs.jsonl"
    assert store.load_runs(path) == []
    store.append_run(path, {"key_id": store.key_id({"b": 1, "a": 2}), "x": 1})
    store.append_run(path, {"key_id": "k2", "x": 2})
    assert [r["x"] for r in store.load_runs(path)] == [1, 2]
    assert store.load_runs(path)[0]["key_id"] == '{"a":2,"b":1}'  # sorted: the same key gives the same id
    with pytest.raises(ValueError, match="no 'key_id'"):
        store.append_run(path, {"x": 3})
    with pytest.raises(ValueError):
        store.append_run(path, {"key_id": "k", "x": float("nan")})
    # a run cut short mid-write leaves an incomplete last line: dropped with a warning
    with path.open("a") as handle:
        handle.write('{"key_id": "k3", "x"')
    with warnings.catch_warnings(record=True) as caught:
        warnings.simplefilter("always")
        assert [r["x"] for r in store.load_runs(path)] == [1, 2]
    assert any("incomplete last line" in str(w.message) for w in caught)
    # a broken line in the middle is an error naming the line
    bad = tmp_path / "bad.jsonl"
    bad.write_text('{"key_id": "a"}\n{oops\n{"key_id": "b"}\n')
    with pytest.raises(ValueError, match=r"bad.jsonl:2 is not JSON"):
        store.load_runs(bad)
    other = tmp_path / "other.jsonl"
    other.write_text('{"x": 1}\n')
    with pytest.raises(ValueError, match="other.jsonl:1 is not a study run"):
        store.load_runs(other)


# --------------------------------------------------------------------------- arms and plan


def test_arms_lrs_and_plan_order(v2: ModuleType) -> None:
    assert arms.check_arms(["wsd", "constant", "wsd"]) == ["wsd", "constant"]
    with pytest.raises(ValueError, match=r"arm\(s\) \['cosine'\] unknown; the arms are: trainer-default"):
        arms.check_arms(["cosine"])
    # the Trainer default only runs at 5e-5, even when the study's LRs do not include it
    assert arms.arm_lrs(["trainer-default", "wsd"], [2e-4]) == [("trainer-default", 5e-5), ("wsd", 2e-4)]
    plan = v2.binary_plan(list(arms.ARMS), [5e-5, 2e-4], [0, 1, 2])
    assert len(plan) == 3 * (1 + 6 * 2) == 39
    first = plan[:13]
    assert {p[3] for p in first} == {0} and first[0] == ("binary", "trainer-default", 5e-5, 0)
    assert {(p[1], p[2]) for p in first} == {(a, lr) for a, lr in arms.arm_lrs(list(arms.ARMS), [5e-5, 2e-4])}
    assert [p[3] for p in plan] == sorted(p[3] for p in plan)  # seed-major
    assert [(p[1], p[2]) for p in plan[:3]] == [("trainer-default", 5e-5), ("warmupcosine", 2e-4),
                                                ("schedulefree", 2e-4)]  # the comparisons that matter first
    assert plan[13:26] == [("binary", a, lr, 1) for _, a, lr, _ in plan[:13]]  # each seed in the same order
    assert arms.warmup_steps(375) == 38 and arms.warmup_steps(10) == 1
    with pytest.raises(ValueError, match="lr=-1 is invalid"):
        arms.builder(arms.ARMS["wsd"], -1)
    with pytest.raises(ValueError, match="optimizer='sgd' is invalid"):
        arms.builder(arms.Arm("x", None, optimizer="sgd"), 1e-3)


def test_parse_arm_lr(v2: ModuleType) -> None:
    import argparse

    assert v2.parse_arm_lr("warmupcosine@2e-4") == ("warmupcosine", 2e-4)
    for text, message in (("warmupcosine", "is not ARM@LR"), ("cosine@1e-4", "unknown"),
                          ("wsd@-3", "positive finite")):
        with pytest.raises(argparse.ArgumentTypeError, match=message):
            v2.parse_arm_lr(text)


# --------------------------------------------------------------------------- report pieces


def _run(task: str, arm: str, lr: float, seed: int, accs: list[float], final_f1: float = 0.5) -> dict:
    evals = [{"step": 25 * (i + 1), "accuracy": a, "f1": final_f1, "train_s": 10.0 * (i + 1),
              "wall_s": 12.0 * (i + 1)} for i, a in enumerate(accs)]
    return {"task": task, "arm": arm, "lr": lr, "seed": seed, "diverged": False, "evals": evals,
            "final": {"accuracy": accs[-1], "f1": final_f1}, "best": {"accuracy": max(accs)}, "wall_time_s": 60.0}


def test_summarise_steps_to_target_and_ratio() -> None:
    runs = [_run("binary", "trainer-default", 5e-5, 0, [0.80, 0.84, 0.86]),
            _run("binary", "trainer-default", 5e-5, 1, [0.80, 0.85, 0.88]),
            _run("binary", "wsd", 2e-4, 0, [0.87, 0.88, 0.89]),
            _run("binary", "wsd", 2e-4, 1, [0.85, 0.86, 0.90]),
            _run("binary", "constant", 2e-4, 0, [0.70, 0.71, 0.72])]
    rows = report.summarise(runs, {"binary": 0.87})
    assert [r["arm"] for r in rows] == ["trainer-default", "constant", "wsd"]  # the arms' order
    by = {r["arm"]: r for r in rows}
    assert by["trainer-default"]["reached"] == 1 and by["trainer-default"]["steps_to_target"] == 75.0
    assert by["wsd"]["reached"] == 2 and by["wsd"]["steps_to_target"] == pytest.approx(50.0)  # 25 and 75
    assert by["wsd"]["train_s_to_target"] == pytest.approx(20.0)
    assert by["wsd"]["steps_vs_default"] == pytest.approx(50 / 75)
    assert by["constant"]["reached"] == 0 and by["constant"]["steps_to_target"] is None
    assert by["constant"]["steps_vs_default"] is None
    assert by["wsd"]["final_accuracy"] == pytest.approx(0.895) and by["wsd"]["final_accuracy_sd"] > 0
    no_target = report.summarise(runs, {})
    assert all(r["reached"] is None for r in no_target)


def test_paired_difference_against_the_default_on_the_same_seeds() -> None:
    runs = [_run("binary", "trainer-default", 5e-5, 0, [0.86]), _run("binary", "trainer-default", 5e-5, 1, [0.88]),
            _run("binary", "wsd", 2e-4, 0, [0.89]), _run("binary", "wsd", 2e-4, 1, [0.87]),
            _run("binary", "wsd", 2e-4, 2, [0.99]),  # seed 2 has no default run: not paired
            _run("binary", "constant", 2e-4, 3, [0.70])]
    by = {r["arm"]: r for r in report.summarise(runs, {"binary": 0.87})}
    assert by["wsd"]["paired_delta"] == pytest.approx((0.03 - 0.01) / 2)
    assert (by["wsd"]["paired_wins"], by["wsd"]["paired_n"]) == (1, 2) and by["wsd"]["paired_delta_sd"] > 0
    assert by["trainer-default"]["paired_delta"] is None and by["constant"]["paired_n"] == 0
    md = report.render_markdown(list(by.values()), {"model": "m", "train": 1, "eval": 1, "data_seed": 0,
                                                    "max_length": 8, "batch_size": 1, "epochs": 1,
                                                    "max_steps": None, "eval_every": 1},
                                {"binary": {"target": 0.87, "seeds": [0, 1]}}, [])
    assert "| +0.0100 ± 0.0283 (1/2 higher) |" in md


def test_pick_three_class_arms_and_missing() -> None:
    runs = [_run("binary", "trainer-default", 5e-5, 0, [0.86]),
            _run("binary", "wsd", 2e-4, 0, [0.89]), _run("binary", "warmupcosine", 2e-4, 0, [0.90]),
            _run("binary", "constant", 5e-5, 0, [0.88]), _run("binary", "schedulefree", 5e-5, 0, [0.87]),
            _run("binary", "schedulefree", 2e-4, 0, [0.91])]
    rows = report.summarise(runs, {"binary": 0.86})
    assert report.pick_three_class_arms(rows) == [("trainer-default", 5e-5), ("warmupcosine", 2e-4),
                                                  ("wsd", 2e-4), ("schedulefree", 2e-4)]
    with pytest.raises(ValueError, match="needs binary runs of trainer-default, 2 schedule arms and schedulefree"):
        report.pick_three_class_arms(rows[:2])
    plan = [("binary", "wsd", 2e-4, s) for s in (0, 1, 2)] + [("binary", "constant", 5e-5, 0)]
    missing = report.missing_runs(plan, {("binary", "wsd", 2e-4, 0), ("binary", "constant", 5e-5, 0)})
    assert missing == [{"task": "binary", "arm": "wsd", "lr": 2e-4, "seeds": [1, 2]}]


# --------------------------------------------------------------------------- data


def test_three_class_task_keeps_neutral() -> None:
    data = tasks.load_task("three_class", train=300, eval=100, data_seed=0)
    assert data.label_names == ("negative", "neutral", "positive") and data.num_labels == 3
    labels = set(data.train["label"])
    assert labels == {0, 1, 2}
    texts = list(data.train["text"]) + list(data.validation["text"])
    assert len(set(texts)) == len(texts)  # deduplicated, no text in both splits
    binary = tasks.load_task("binary", train=50, eval=20, data_seed=0)
    assert binary.label_names == ("negative", "positive")
    with pytest.raises(ValueError, match=r"task\(s\) \['four'\] unknown"):
        tasks.load_task("four", train=1, eval=1, data_seed=0)


# --------------------------------------------------------------------------- the loop with schedule-free


def test_schedule_free_is_evaluated_in_eval_mode(tiny_base: str) -> None:
    """The recorded final accuracy and loss are those of schedule-free's eval-mode (averaged) weights."""
    import torch
    from torch.utils.data import DataLoader
    from transformers import DataCollatorWithPadding

    from hf_sched.finetune.data import tokenize_splits

    data = tasks.load_task("binary", train=64, eval=32, data_seed=0)
    held: dict = {}
    make = arms.builder(arms.ARMS["schedulefree"], 3e-3)

    def build(model, total):
        optimizer, scheduler, info = make(model, total)
        held.update(model=model, optimizer=optimizer)
        return optimizer, scheduler, info

    def tokens(tokenizer):
        held["tokens"] = tokenize_splits(data, tokenizer, max_length=32)
        held["tokenizer"] = tokenizer
        return held["tokens"]

    settings = {"batch_size": 8, "eval_batch_size": 16, "epochs": 2, "max_steps": None, "eval_every": 4,
                "max_grad_norm": 1.0, "max_class_share": 0.99}
    torch.manual_seed(0)
    record = loop.train_run(seed=0, tokens=tokens, model_source=tiny_base, num_labels=2, label_names=None,
                            settings=settings, build=build, desc="sf", progress=False)
    assert record["num_training_steps"] == 16 and record["num_warmup_steps"] == 2 and record["optimizer"] == "schedulefree"
    assert record["lr_curve"][:3] == [pytest.approx(1.5e-3), pytest.approx(3e-3), pytest.approx(3e-3)]
    assert [e["step"] for e in record["evals"]] == [4, 8, 12, 16]
    assert all(e["train_s"] <= e["wall_s"] for e in record["evals"])
    loader = DataLoader(held["tokens"]["validation"], batch_size=16, collate_fn=DataCollatorWithPadding(held["tokenizer"]))
    optimizer, model = held["optimizer"], held["model"]
    optimizer.eval()
    in_eval, _ = loop.evaluate(model, loader, 2)
    optimizer.train()
    in_train, _ = loop.evaluate(model, loader, 2)
    assert in_eval["eval_loss"] == pytest.approx(record["final"]["eval_loss"], rel=1e-6)
    assert in_train["eval_loss"] != pytest.approx(record["final"]["eval_loss"], rel=1e-6)  # the modes differ


# --------------------------------------------------------------------------- end to end


def _argv(model: str, out: Path, *extra: str) -> list[str]:
    return ["--model", model, "--arms", "trainer-default", "constant", "warmupcosine", "schedulefree",
            "--lrs", "5e-5", "1e-3", "--seeds", "0", "1", "--train", "64", "--eval", "32", "--max_length", "32",
            "--epochs", "1", "--eval_every", "2", "--threads", "1", "--no_progress", "--out_dir", str(out), *extra]


def test_study_v2_runs_resumes_and_reports(v2: ModuleType, tiny_base: str, tmp_path: Path,
                                           capsys: pytest.CaptureFixture[str]) -> None:
    out = tmp_path / "results"
    result = v2.main(_argv(tiny_base, out))
    binary_runs = 2 * (1 + 3 * 2)
    assert result["trained"] == binary_runs + 2 * 4 and result["skipped"] == 0
    printed = capsys.readouterr().out
    assert "[binary 1/14] binary trainer-default lr=5e-05 seed=0 step 2/4 acc=" in printed  # a line per eval
    runs = store.load_runs(out / "schedule_study_v2_runs.jsonl")
    assert len(runs) == binary_runs + 8
    assert [r["seed"] for r in runs[:7]] == [0] * 7 and runs[0]["arm"] == "trainer-default"
    by = {(r["task"], r["arm"], r["lr"], r["seed"]): r for r in runs}
    default = by[("binary", "trainer-default", 5e-5, 0)]
    # the Trainer default: linear decay from the peak, no warmup, no weight decay (T = 4 steps)
    assert default["lr_curve"] == pytest.approx([5e-5, 3.75e-5, 2.5e-5, 1.25e-5])
    assert default["weight_decay"] == 0.0 and default["num_warmup_steps"] == 0
    assert by[("binary", "constant", 1e-3, 1)]["lr_curve"] == [1e-3] * 4
    assert by[("binary", "warmupcosine", 1e-3, 0)]["lr_curve"][0] == 0.0
    free = by[("binary", "schedulefree", 1e-3, 0)]
    assert free["optimizer"] == "schedulefree" and free["num_warmup_steps"] == 1 and free["schedule_spec"] is None
    for r in runs:
        assert [e["step"] for e in r["evals"]] == [2, 4] and r["steps_done"] == 4
        assert {"train_s", "wall_s", "accuracy", "f1"} <= set(r["evals"][0])
    three = [r for r in runs if r["task"] == "three_class"]
    assert {r["arm"] for r in three} == {"trainer-default", "constant", "warmupcosine", "schedulefree"}
    assert all(r["label_names"] == ["negative", "neutral", "positive"] for r in three)

    summary = json.loads((out / "schedule_study_v2.json").read_text())
    assert summary["runs_done"] == 22 and summary["runs_planned_not_done"] == 0
    assert summary["three_class_arms"]["arms"][0] == ["trainer-default", 5e-5]
    finals = [by[("binary", "trainer-default", 5e-5, s)]["final"]["accuracy"] for s in (0, 1)]
    assert summary["targets"]["binary"]["target"] == pytest.approx(sum(finals) / 2)
    per = {(r["task"], r["arm"], r["lr"], r["seed"]): r for r in summary["runs"]}
    for k, r in per.items():
        expected = target.steps_to_target(by[k]["evals"], summary["targets"][k[0]]["target"])
        assert r["steps_to_target"] == (expected and expected["step"])
    md = (out / "schedule_study_v2.md").read_text()
    assert "## binary (F1 (positive class); target" in md and "## three_class (macro-F1; target" in md
    assert "| trainer-default | 5e-05 | 2 |" in md and "Nothing: every planned run is in the results." in md
    for png in ("schedule_study_v2_accuracy.png", "schedule_study_v2_curves.png"):
        assert (out / png).read_bytes()[:8] == PNG_SIGNATURE

    # resume: nothing trains, the runs file is untouched
    raw = (out / "schedule_study_v2_runs.jsonl").read_bytes()
    again = v2.main(_argv(tiny_base, out))
    assert (again["trained"], again["skipped"]) == (0, 22)
    assert (out / "schedule_study_v2_runs.jsonl").read_bytes() == raw

    # a third seed: only its runs train; the report says nothing is missing afterwards
    (out / "schedule_study_v2.md").unlink()
    only_binary = v2.main(_argv(tiny_base, out, "--tasks", "binary") + ["--seeds", "2"])
    assert only_binary["trained"] == 7
    rebuilt = v2.main(_argv(tiny_base, out, "--report-only"))
    assert rebuilt["trained"] == 0 and rebuilt["summary"]["runs_done"] == 29
    assert "| trainer-default | 5e-05 | 2 |" in (out / "schedule_study_v2.md").read_text()  # seeds 0, 1 only


def test_study_v2_partial_run_lists_what_is_missing(v2: ModuleType, tiny_base: str, tmp_path: Path) -> None:
    v2.main(["--model", tiny_base, "--arms", "trainer-default", "constant", "--lrs", "5e-5", "--seeds", "0",
             "--train", "32", "--eval", "16", "--max_length", "16", "--max_steps", "2", "--eval_every", "1",
             "--threads", "1", "--no_progress", "--out_dir", str(tmp_path), "--tasks", "binary"])
    argv = ["--model", tiny_base, "--arms", "trainer-default", "constant", "--lrs", "5e-5", "--seeds", "0", "1",
            "--train", "32", "--eval", "16", "--max_length", "16", "--max_steps", "2", "--eval_every", "1",
            "--out_dir", str(tmp_path), "--report-only"]
    summary = v2.main(argv)["summary"]
    assert summary["runs_done"] == 2
    assert {"task": "binary", "arm": "constant", "lr": 5e-5, "seeds": [1]} in summary["missing"]
    md = (tmp_path / "schedule_study_v2.md").read_text()
    assert "* binary / constant @ 5e-05: seeds [1]" in md
    assert "Three-class task: not started (the binary runs are not all done yet)" in md


def test_study_v2_cli_errors(v2: ModuleType, tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    for argv, message in ((["--arms", "cosine"], "--arms/--tasks: arm(s) ['cosine'] unknown"),
                          (["--tasks", "four"], "task(s) ['four'] unknown"),
                          (["--three_class_arms", "wsd"], "--three_class_arms: 'wsd' is not ARM@LR"),
                          (["--lrs", "0"], "positive finite"), (["--max_class_share", "0"], "--max_class_share"),
                          (["--model", str(tmp_path / "missing")], "is not a model directory"),
                          (["--report-only"], "holds no runs; run the study first")):
        with pytest.raises(SystemExit) as info:
            v2.main([*argv, "--out_dir", str(tmp_path)])
        assert info.value.code == 2
        assert message in capsys.readouterr().err
    assert not any(tmp_path.iterdir())


def test_mean_sd_and_cli_types() -> None:
    import argparse

    from study import cli_types, stats

    assert stats.mean_sd([1.0]) == (1.0, None)
    assert stats.mean_sd([1.0, 3.0])[1] == pytest.approx(math.sqrt(2))
    with pytest.raises(ValueError, match="values is empty"):
        stats.mean_sd([])
    assert stats.fmt(0.5, None) == "0.5000"
    for parse, text, message in ((cli_types.positive_int, "0", ">= 1"), (cli_types.seed, "-1", "[0, 2**32)"),
                                 (cli_types.learning_rate, "inf", "positive finite")):
        with pytest.raises(argparse.ArgumentTypeError, match=message.replace("[", r"\[").replace("(", r"\(")
                           .replace("*", r"\*").replace(")", r"\)")):
            parse(text)
