"""Tests of the benchmark scripts: the schedule study on a tiny BERT, throughput's pieces, step_overhead --quick.

The study runs in-process (``main(argv)``) on a tiny random BERT with 64 train / 32
validation examples, max_length 32 and 3 steps per run, so the whole file stays well under
a minute on two busy cores. The full throughput smoke run (two child processes) is ``slow``.
"""

from __future__ import annotations

import importlib.util
import json
import math
import os
import subprocess
import sys
from pathlib import Path
from types import ModuleType

import pytest

ROOT = Path(__file__).resolve().parents[1]
BENCHMARKS = ROOT / "benchmarks"
PNG_SIGNATURE = b"\x89PNG\r\n\x1a\n"


def _load(name: str) -> ModuleType:
    spec = importlib.util.spec_from_file_location(f"bench_{name}", BENCHMARKS / f"{name}.py")
    assert spec is not None and spec.loader is not None
    module = importlib.util.module_from_spec(spec)
    sys.modules[spec.name] = module
    spec.loader.exec_module(module)
    return module


@pytest.fixture(scope="module")
def study() -> ModuleType:
    return _load("schedule_study")


@pytest.fixture(scope="module")
def throughput() -> ModuleType:
    return _load("throughput")


@pytest.fixture(scope="module")
def tiny_model(tmp_path_factory: pytest.TempPathFactory) -> str:
    from hf_sched.finetune.model import save_tiny_bert

    return save_tiny_bert(tmp_path_factory.mktemp("tiny_bert"))


def _strict_json(path: Path) -> dict:
    """Parse JSON, refusing NaN/Infinity (which json.dumps would write but is not valid JSON)."""

    def refuse(token: str) -> None:
        raise ValueError(f"{path} holds the non-JSON constant {token}")

    return json.loads(path.read_text(), parse_constant=refuse)


# --------------------------------------------------------------------------- divergence detector


def test_detect_divergence_nonfinite_loss(study: ModuleType) -> None:
    for bad in (float("nan"), float("inf"), None):
        verdict = study.detect_divergence([0.69, 0.5, bad, 0.4], [0, 1, 0, 1])
        assert verdict["diverged"] is True
        assert verdict["reason"] == "nonfinite_loss"
        assert verdict["nonfinite_loss_step"] == 3


def test_detect_divergence_single_class(study: ModuleType) -> None:
    refs_majority = [0] * 70 + [1] * 30
    verdict = study.detect_divergence([0.7, 0.65, 0.62], [0] * 100)
    assert verdict == {"diverged": True, "reason": "single_class", "nonfinite_loss_step": None,
                       "top_class": 0, "top_class_share": 1.0, "max_class_share": 0.99}
    # stuck on the majority class: the accuracy is exactly the majority fraction
    accuracy = sum(p == r for p, r in zip([0] * 100, refs_majority)) / 100
    assert accuracy == 0.7
    # collapsed onto the minority class counts as well
    assert study.detect_divergence([0.7], [1] * 50)["top_class"] == 1
    # the threshold: 995 of 1000 predictions in one class is collapsed, 980 is not
    assert study.detect_divergence([0.3], [0] * 995 + [1] * 5)["diverged"] is True
    assert study.detect_divergence([0.3], [0] * 980 + [1] * 20)["diverged"] is False
    assert study.detect_divergence([0.3], [0] * 980 + [1] * 20, max_class_share=0.98)["diverged"] is True


def test_detect_divergence_healthy_and_edge_cases(study: ModuleType) -> None:
    verdict = study.detect_divergence([0.69, 0.41, 0.22], [0, 1, 1, 0, 0])
    assert verdict["diverged"] is False and verdict["reason"] is None
    assert verdict["top_class"] == 0 and verdict["top_class_share"] == pytest.approx(0.6)
    assert study.detect_divergence([0.5], None)["diverged"] is False  # no evaluation: only the loss decides
    assert study.detect_divergence([], [])["diverged"] is False
    # NaN loss wins over a collapsed prediction
    assert study.detect_divergence([float("nan")], [0, 0])["reason"] == "nonfinite_loss"
    for bad in (0.0, 1.5, True, "0.9"):
        with pytest.raises(ValueError, match="max_class_share"):
            study.detect_divergence([0.5], [0, 1], max_class_share=bad)


def test_smooth(study: ModuleType) -> None:
    assert study.smooth([1.0, 3.0, None, 5.0], 2) == [1.0, 2.0, 3.0, 5.0]
    out = study.smooth([None, float("nan")], 3)
    assert all(math.isnan(v) for v in out)
    with pytest.raises(ValueError, match="window"):
        study.smooth([1.0], 0)


# --------------------------------------------------------------------------- names, keys, summary


def test_resolve_schedule_names(study: ModuleType) -> None:
    assert study.resolve_schedule("constant") == "constant"  # no scheduler, not the registry alias
    assert study.resolve_schedule("Constant_LR") == "constantlr"
    assert study.resolve_schedule("hard-restarts") == "warmupcosinewithhardrestarts"
    assert study.label("warmupcosinewithhardrestarts") == "hard-restarts"
    with pytest.raises(ValueError, match="Did you mean 'warmupcosine'"):
        study.resolve_schedule("warmupcosin")
    defaults = study.default_schedules()
    assert defaults[: len(study.BASE_SCHEDULES)] == list(study.BASE_SCHEDULES)


def test_schedule_kwargs_avoid_duplicate_arms(study: ModuleType) -> None:
    import numpy as np

    from hf_sched import build_schedule

    steps = np.arange(126)
    cosine = build_schedule("warmupcosine", num_training_steps=125).values(steps)
    restarts = build_schedule("hard-restarts", num_training_steps=125,
                              **study.schedule_kwargs("warmupcosinewithhardrestarts", 3e-5)).values(steps)
    assert not np.allclose(cosine, restarts)


def test_summarise_mean_and_sd(study: ModuleType) -> None:
    def run(seed: int, acc: float, diverged: bool) -> dict:
        return {"lr": 1e-3, "schedule": "noam", "seed": seed, "diverged": diverged, "wall_time_s": 10.0 + seed,
                "final": {"accuracy": acc, "f1": acc / 2}, "best": {"accuracy": acc + 0.1, "f1": acc}}

    rows = study.summarise([run(0, 0.6, False), run(1, 0.8, True)])
    assert len(rows) == 1
    row = rows[0]
    assert row["n"] == 2 and row["diverged"] == 1 and row["seeds"] == [0, 1]
    assert row["final_accuracy"] == pytest.approx(0.7)
    assert row["final_accuracy_sd"] == pytest.approx(math.sqrt(0.02))
    assert row["best_accuracy"] == pytest.approx(0.8)
    single = study.summarise([run(0, 0.6, False)])[0]
    assert single["final_accuracy_sd"] is None
    text = study.render_markdown(rows, {"model": "m", "train": 1, "eval": 1, "data_seed": 0, "max_length": 8,
                                        "batch_size": 1, "epochs": 1, "max_steps": None, "warmup": None}, 0.7)
    assert "| noam | 2 | 0.7000 ± 0.1414 |" in text and "1/2" in text


def test_evaluation_steps(study: ModuleType) -> None:
    # the committed study's runs evaluated at these steps: keep them, so new seeds are comparable
    assert sorted(study.evaluation_steps(125, 125, 1, None)) == [31, 62, 93, 124, 125]
    assert sorted(study.evaluation_steps(8, 4, 2, None)) == list(range(1, 9))
    assert sorted(study.evaluation_steps(3, 4, 1, None)) == [1, 2, 3]  # capped by max_steps, always the last
    assert sorted(study.evaluation_steps(10, 4, 3, 3)) == [3, 4, 6, 8, 9, 10]  # every 3 and each epoch's end


def test_sort_by_length(study: ModuleType) -> None:
    import datasets

    split = datasets.Dataset.from_dict({"input_ids": [[1, 2, 3], [1], [1, 2]], "labels": [0, 1, 0]})
    ordered = study.sort_by_length(split)
    assert ordered["labels"] == [1, 0, 0] and [len(x) for x in ordered["input_ids"]] == [1, 2, 3]


def test_save_results_is_atomic_and_load_checks(study: ModuleType, tmp_path: Path) -> None:
    path = tmp_path / "s.json"
    assert study.load_results(path)["runs"] == []
    data = study.load_results(path)
    data["runs"].append({"x": 1})
    study.save_results(path, data)
    assert [p.name for p in tmp_path.iterdir()] == ["s.json"]  # no temporary file left behind
    assert study.load_results(path)["runs"] == [{"x": 1}]
    (tmp_path / "bad.json").write_text("{not json")
    with pytest.raises(ValueError, match="not readable JSON"):
        study.load_results(tmp_path / "bad.json")
    (tmp_path / "other.json").write_text('{"benchmark": "step_overhead"}')
    with pytest.raises(ValueError, match="not a schedule-study JSON"):
        study.load_results(tmp_path / "other.json")


# --------------------------------------------------------------------------- the study end to end


def _argv(model: str, out_dir: Path, schedules: list[str]) -> list[str]:
    return ["--model", model, "--schedules", *schedules, "--seeds", "0", "--lrs", "1e-3", "--train", "64",
            "--eval", "32", "--max_length", "32", "--max_steps", "3", "--eval_every", "2", "--smooth", "2",
            "--threads", "1", "--no_progress", "--out_dir", str(out_dir)]


RUN_KEYS = {
    "key", "key_id", "schedule", "registry_name", "schedule_kwargs", "schedule_spec", "lr", "seed",
    "num_training_steps", "num_warmup_steps", "steps_per_epoch", "steps_done", "final", "best", "evals",
    "majority_fraction", "diverged", "divergence", "train_loss", "lr_curve", "wall_time_s", "load_time_s",
    "train_time_s", "eval_time_s", "started_at", "finished_at",
}


def test_study_runs_resumes_and_reports(study: ModuleType, tiny_model: str, tmp_path: Path,
                                        capsys: pytest.CaptureFixture[str]) -> None:
    out = tmp_path / "results"
    json_path = out / "schedule_study.json"

    # 1. one run
    first = study.main(_argv(tiny_model, out, ["constant"]))
    assert (first["trained"], first["skipped"]) == (1, 0)
    before = _strict_json(json_path)["runs"][0]

    # 2. a second schedule: the finished run is skipped, not retrained
    second = study.main(_argv(tiny_model, out, ["constant", "warmuplinear"]))
    assert (second["trained"], second["skipped"]) == (1, 1)
    printed = capsys.readouterr().out
    assert "[1/2] constant lr=0.001 seed=0: already in the JSON" in printed
    assert "[2/2] warmuplinear lr=0.001 seed=0: acc=" in printed and "time=" in printed
    data = _strict_json(json_path)
    assert data["format"] == study.FORMAT and data["benchmark"] == "schedule_study"
    assert {"machine", "data", "updated_at"} <= set(data)
    runs = {r["schedule"]: r for r in data["runs"]}
    assert sorted(runs) == ["constant", "warmuplinear"]
    assert runs["constant"] == before  # same timestamps, same numbers: untouched

    for name, run in runs.items():
        assert RUN_KEYS <= set(run), RUN_KEYS - set(run)
        assert run["key"]["schedule"] == ("constant" if name == "constant" else "warmuplinear")
        assert {"lr", "seed", "train", "eval", "epochs", "model"} <= set(run["key"])
        assert run["key"]["train"] == 64 and run["key"]["eval"] == 32 and run["key"]["model"] == tiny_model
        assert run["steps_done"] == run["num_training_steps"] == 3
        assert len(run["train_loss"]) == len(run["lr_curve"]) == 3
        assert [e["step"] for e in run["evals"]] == [2, 3]
        assert run["final"]["step"] == 3
        for field in ("accuracy", "f1"):
            assert 0.0 <= run["final"][field] <= run["best"][field] <= 1.0
        assert isinstance(run["diverged"], bool)
        assert run["divergence"]["reason"] in (None, "nonfinite_loss", "single_class")
        assert 0.5 <= run["majority_fraction"] <= 1.0
        assert run["wall_time_s"] > 0
    assert runs["constant"]["lr_curve"] == [1e-3] * 3 and runs["constant"]["schedule_spec"] is None
    assert runs["warmuplinear"]["lr_curve"][0] == 0.0  # warmup from 0, as transformers
    assert runs["warmuplinear"]["schedule_spec"]["kind"] == "linear"

    # 3. everything done: nothing trains and the JSON is not rewritten
    raw = json_path.read_bytes()
    third = study.main(_argv(tiny_model, out, ["constant", "warmuplinear"]))
    assert (third["trained"], third["skipped"]) == (0, 2)
    assert json_path.read_bytes() == raw

    md = (out / "schedule_study.md").read_text()
    assert "| schedule | runs | final acc | best acc | final F1 | best F1 | diverged or stuck | wall (s) |" in md
    assert "| constant | 1 |" in md and "| warmuplinear | 1 |" in md and "## LR 0.001" in md
    for png in ("schedule_study_accuracy.png", "schedule_study_loss.png"):
        assert (out / png).read_bytes()[:8] == PNG_SIGNATURE

    # 4. --report-only rebuilds the md and PNGs from the JSON alone
    for name in ("schedule_study.md", "schedule_study_accuracy.png", "schedule_study_loss.png"):
        (out / name).unlink()
    report = study.main(_argv(tiny_model, out, ["constant"]) + ["--report-only"])
    assert report["trained"] == 0 and len(report["rows"]) == 2
    assert (out / "schedule_study.md").read_text() == md
    for png in ("schedule_study_accuracy.png", "schedule_study_loss.png"):
        assert (out / png).read_bytes()[:8] == PNG_SIGNATURE
    assert json_path.read_bytes() == raw


def test_nan_loss_run_stops_early_and_is_flagged(study: ModuleType, tiny_model: str, tmp_path: Path,
                                               capsys: pytest.CaptureFixture[str]) -> None:
    argv = _argv(tiny_model, tmp_path, ["constant"])
    argv[argv.index("--lrs") + 1] = "1e30"  # overflows the weights after one step
    result = study.main([*argv, "--max_grad_norm", "0"])
    assert result["trained"] == 1
    run = _strict_json(tmp_path / "schedule_study.json")["runs"][0]  # valid JSON: NaN stored as null
    assert run["diverged"] is True and run["divergence"]["reason"] == "nonfinite_loss"
    step = run["divergence"]["nonfinite_loss_step"]
    assert run["steps_done"] == step < 3 and run["train_loss"][step - 1] is None
    assert run["evals"][-1]["step"] == step
    assert "DIVERGED (non-finite loss at step" in capsys.readouterr().out
    assert (tmp_path / "schedule_study_loss.png").read_bytes()[:8] == PNG_SIGNATURE


def test_report_only_without_json_fails(study: ModuleType, tmp_path: Path,
                                        capsys: pytest.CaptureFixture[str]) -> None:
    with pytest.raises(SystemExit) as info:
        study.main(["--report-only", "--out_dir", str(tmp_path)])
    assert info.value.code == 2
    assert "does not exist; run the study first" in capsys.readouterr().err


def test_unknown_schedule_is_a_clear_cli_error(study: ModuleType, tmp_path: Path,
                                               capsys: pytest.CaptureFixture[str]) -> None:
    with pytest.raises(SystemExit) as info:
        study.main(["--schedules", "constant", "warmupcosin", "--out_dir", str(tmp_path)])
    assert info.value.code == 2
    err = capsys.readouterr().err
    assert "--schedules" in err and "Did you mean 'warmupcosine'" in err
    assert not any(tmp_path.iterdir())  # nothing trained, nothing written


def test_bad_cli_values_are_reported(study: ModuleType, tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    for argv, message in ((["--lrs", "-1"], "positive"), (["--seeds", "x"], "not an integer"),
                          (["--train", "0"], ">= 1"), (["--max_class_share", "2"], "--max_class_share"),
                          (["--warmup", "soon"], "--warmup"),
                          (["--model", str(tmp_path / "missing")], "is not a model directory")):
        with pytest.raises(SystemExit):
            study.main([*argv, "--out_dir", str(tmp_path)])
        assert message in capsys.readouterr().err


# --------------------------------------------------------------------------- throughput pieces


CFG = {"model": None, "train": 2000, "eval": 1000, "max_length": 64, "steps": 40, "batch_size": 16,
       "lr": 5e-5, "seed": 0, "device": "cpu", "bf16": False, "trainer_optim": None}


def test_recipe_args_are_accepted_by_the_recipe(throughput: ModuleType, tmp_path: Path) -> None:
    spec = importlib.util.spec_from_file_location("recipe_for_bench_test", throughput.RECIPE)
    recipe = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(recipe)
    args = recipe.parse_args(throughput.recipe_args(CFG, str(tmp_path / "out")))
    assert args.max_steps == 40 and args.batch_size == 16 and args.max_length == 64
    assert args.max_train_samples == 2000 and args.max_eval_samples == 1000
    assert args.lr_scheduler_type == "warmuplinear" and args.learning_rate == 5e-5 and args.cpu


def test_trainer_settings_build_training_arguments(throughput: ModuleType, tmp_path: Path) -> None:
    from transformers import TrainingArguments

    args = TrainingArguments(**throughput.trainer_settings(CFG, str(tmp_path)))
    assert args.max_steps == 40 and args.per_device_train_batch_size == 16
    assert str(args.lr_scheduler_type.value) == "linear"
    assert args.get_warmup_steps(40) == 4  # ceil(0.1 * 40): the recipe's default 10%


def test_throughput_summary_and_ratio(throughput: ModuleType) -> None:
    raw = {"loop_start": 10.0, "stamps": [11.0, 11.5, 12.0], "tokens": [320, 160, 160], "examples": [16, 16, 16]}
    s = throughput.summarise_child(raw, batch_size=16)
    assert s["steps"] == 3 and s["train_loop_s"] == 2.0 and s["first_step_s"] == 1.0
    assert s["loop_examples_per_s"] == 24.0 and s["steady_examples_per_s"] == 32.0
    assert s["steady_tokens_per_s"] == 320.0 and s["mean_padded_length"] == pytest.approx(640 / 48)
    with pytest.raises(ValueError, match="no optimizer steps"):
        throughput.summarise_child({"loop_start": 0.0, "stamps": []}, batch_size=16)

    def run(kind: str, eps: float, tokens: list[int]) -> dict:
        return {"kind": kind, "loop_examples_per_s": eps, "steady_examples_per_s": eps, "steady_tokens_per_s": eps,
                "train_loop_s": 1 / eps, "total_wall_s": 5.0, "peak_rss_mib": 100.0, "tokens_per_step": tokens}

    result = throughput.compare([run("recipe", 9.0, [1]), run("trainer", 10.0, [1]),
                                 run("trainer", 12.0, [1]), run("recipe", 13.0, [1])])
    assert result["median"]["recipe"]["loop_examples_per_s"] == 11.0
    assert result["ratio"]["loop_examples_per_s"] == 1.0 and result["target_met"] is True
    assert result["same_batches"] is True
    assert throughput.compare([run("recipe", 9.0, [1]), run("trainer", 10.0, [2])])["same_batches"] is False
    stated = throughput.compare([{**run("recipe", 9.0, [1]), "torch_threads": 2},
                                 {**run("trainer", 9.0, [1]), "torch_threads": 1}])
    assert stated["torch_threads"] == {"recipe": [2], "trainer": [1]}  # each side's threads, in the same run


def test_throughput_child_command_and_env(throughput: ModuleType) -> None:
    cmd = throughput.child_command("trainer", CFG, "/tmp/r.json")
    assert cmd[0] == sys.executable and "--_child" in cmd and json.loads(cmd[-1]) == CFG
    with pytest.raises(ValueError, match="kind"):
        throughput.child_command("deepspeed", CFG, "/tmp/r.json")
    env = throughput.child_env(3)
    assert env["OMP_NUM_THREADS"] == "3" and env["HF_HUB_OFFLINE"] == "1"


def test_throughput_rejects_steps_beyond_one_epoch(throughput: ModuleType,
                                                   capsys: pytest.CaptureFixture[str]) -> None:
    with pytest.raises(SystemExit):
        throughput.main(["--steps", "200", "--train", "100"])
    assert "--steps 200 must be <=" in capsys.readouterr().err


@pytest.mark.slow
def test_throughput_quick_end_to_end(tmp_path: Path) -> None:
    out = tmp_path / "throughput.json"
    env = {**os.environ, "OMP_NUM_THREADS": "1"}
    proc = subprocess.run([sys.executable, str(BENCHMARKS / "throughput.py"), "--quick", "--threads", "1",
                           "--out", str(out)], capture_output=True, text=True, env=env, cwd=ROOT, timeout=600)
    assert proc.returncode == 0, proc.stderr[-3000:]
    data = _strict_json(out)
    assert [r["kind"] for r in data["runs"]] == ["recipe", "trainer"]
    for run in data["runs"]:
        assert run["steps"] == 6 and run["peak_rss_mib"] > 50 and run["loop_examples_per_s"] > 0
        assert run["torch_threads"] == 1  # each side states the threads it trained with (--threads 1)
    assert data["torch_threads"] == {"recipe": [1], "trainer": [1]}
    assert data["ratio"]["loop_examples_per_s"] > 0 and "recipe / Trainer" in proc.stdout


def test_both_sides_draw_random_batches_unless_grouping_is_asked_for(throughput: ModuleType, tmp_path: Path) -> None:
    from transformers import TrainingArguments

    spec = importlib.util.spec_from_file_location("recipe_for_grouping_test", throughput.RECIPE)
    recipe = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(recipe)
    for grouped in (False, True):
        cfg = {**CFG, "group_by_length": grouped}
        assert recipe.parse_args(throughput.recipe_args(cfg, str(tmp_path / "out"))).group_by_length is grouped
        args = TrainingArguments(**throughput.trainer_settings(cfg, str(tmp_path)))
        trainer_grouped = (getattr(args, "train_sampling_strategy", None) == "group_by_length"  # transformers 5.x
                           or getattr(args, "group_by_length", False))  # 4.x
        assert trainer_grouped is grouped
    assert recipe.parse_args(throughput.recipe_args(CFG, str(tmp_path / "out"))).group_by_length is False


# --------------------------------------------------------------------------- grouped_throughput


@pytest.fixture(scope="module")
def grouped() -> ModuleType:
    return _load("grouped_throughput")


def test_grouped_throughput_flops_ratios_and_table(grouped: ModuleType) -> None:
    shape = {"layers": 6, "width": 384, "params": 10_765_056}
    assert grouped.batch_flops(shape, 16, 54) == 6 * 10_765_056 * 16 * 54 + 12 * 6 * 384 * 16 * 54**2
    run = {"tokens_per_step": [16 * 60, 16 * 30, 8 * 10], "examples_per_step": [16, 16, 8]}
    assert grouped.run_flops(run, shape) == grouped.batch_flops(shape, 16, 30) + grouped.batch_flops(shape, 8, 10)
    runs = [{"variant": v, "padded_token_fraction": f, "steady_real_tokens_per_s": r, "model_gflops": 50.0,
             "train_loop_s": t} for v, f, r, t in [("recipe grouped", 0.03, 1000.0, 20.0),
                                                  ("recipe random", 0.39, 640.0, 32.0),
                                                  ("Trainer grouped", 0.04, 800.0, 25.0),
                                                  ("Trainer random", 0.39, 640.0, 32.0)]]
    summary = grouped.summarise(runs, [90.0, 110.0, 100.0])
    assert summary["matmul_gflops"]["median"] == 100.0
    assert summary["ratios"]["recipe: grouped / random training-loop time"] == 0.625
    assert summary["ratios"]["grouped: recipe / Trainer real tokens/s"] == 1.25
    assert summary["ratios"]["Trainer random: model arithmetic / matmul ceiling"] == 0.5
    text = grouped.render(summary, "test")
    assert "| recipe grouped | 0.030 | 1000 | 50.0 | 0.50 | 20.0 |" in text
    partial = grouped.summarise(runs[:1], [100.0])  # a sitting cut short: the missing ratios are None
    assert partial["ratios"]["recipe: grouped / random real tokens/s"] is None and "| - |" in grouped.render(partial, "x")


def test_grouped_throughput_bad_arguments(grouped: ModuleType, capsys: pytest.CaptureFixture[str]) -> None:
    for argv, message in ((["--steps", "1"], "--steps 1 must be >= 2"), (["--repeats", "0"], "--repeats 0 must be >= 1"),
                          (["--steps", "500"], "--steps 500 must be <= 125")):
        with pytest.raises(SystemExit):
            grouped.main(argv)
        assert message in capsys.readouterr().err


@pytest.mark.slow
def test_grouped_throughput_quick_end_to_end(tmp_path: Path) -> None:
    out = tmp_path / "grouped.json"
    proc = subprocess.run([sys.executable, str(BENCHMARKS / "grouped_throughput.py"), "--quick", "--threads", "1",
                           "--out", str(out)], capture_output=True, text=True, cwd=ROOT, timeout=900,
                          env={**os.environ, "OMP_NUM_THREADS": "1"})
    assert proc.returncode == 0, proc.stderr[-3000:]
    data = _strict_json(out)
    assert data["complete"] is True and sorted(r["variant"] for r in data["runs"]) == sorted(data["median"])
    assert all(0 <= r["padded_token_fraction"] < 1 and r["model_gflops"] > 0 for r in data["runs"])
    assert data["matmul_gflops"]["median"] > 0 and (tmp_path / "grouped.md").read_text().startswith("# Length-grouped")


# --------------------------------------------------------------------------- step_overhead


def test_step_overhead_quick_writes_json(tmp_path: Path) -> None:
    out = tmp_path / "step_overhead.json"
    env = {**os.environ, "OMP_NUM_THREADS": "1"}
    proc = subprocess.run([sys.executable, str(BENCHMARKS / "step_overhead.py"), "--quick", "--out", str(out)],
                          capture_output=True, text=True, env=env, cwd=ROOT, timeout=300)
    assert proc.returncode == 0, proc.stderr[-3000:]
    data = _strict_json(out)
    assert data["benchmark"] == "step_overhead" and data["settings"]["quick"] is True
    assert "hf_sched ScheduledLR" in data["us_per_step_median"]
    assert {"scheduledlr_vs_transformers", "scheduledlr_vs_bare", "optimizer_set_vs_scheduler_per_optimizer",
            "token_clock_vs_step_clock"} <= set(data["ratios"])
    assert {"hf_sched ScheduledLR over 2 optimizers (OptimizerSet)", "hf_sched ScheduledLR per optimizer (2 schedulers)",
            "hf_sched ScheduledLR, token clock (consume + step)"} <= set(data["scheduling_us_per_step"])
    assert "ScheduledLR / transformers" in proc.stdout and "2 optimizers: one ScheduledLR over the set" in proc.stdout


# --------------------------------------------------------------------------- main_job_defaults


def test_main_job_defaults_quick_runs_the_recipe_per_seed_and_resumes(tmp_path: Path) -> None:
    env = {**os.environ, "OMP_NUM_THREADS": "1"}
    command = [sys.executable, str(BENCHMARKS / "main_job_defaults.py"), "--quick", "--seeds", "3", "4",
               "--out_dir", str(tmp_path)]
    proc = subprocess.run(command, capture_output=True, text=True, env=env, cwd=ROOT, timeout=600)
    assert proc.returncode == 0, proc.stderr[-3000:]
    data = _strict_json(tmp_path / "main_job_defaults_quick.json")
    assert data["configs"]["old"]["seeds"] == data["configs"]["new"]["seeds"] == [3, 4]
    assert data["paired"]["seeds"] == [3, 4] and len(data["paired"]["differences"]) == 2
    runs = (tmp_path / "main_job_defaults_quick_runs.jsonl").read_text().splitlines()
    assert len(runs) == 4 and all(json.loads(r)["num_training_steps"] == 2 for r in runs)
    assert "| `new`: 3 epochs, warmuplinear" in (tmp_path / "main_job_defaults_quick.md").read_text()
    again = subprocess.run(command, capture_output=True, text=True, env=env, cwd=ROOT, timeout=600)
    assert again.returncode == 0 and "0 runs to go, 4 already in" in again.stdout


# --------------------------------------------------------------------------- teardown_hangs


def test_teardown_hangs_one_launch_per_ending_writes_the_table(tmp_path: Path) -> None:
    out = tmp_path / "teardown.json"
    proc = subprocess.run([sys.executable, str(BENCHMARKS / "teardown_hangs.py"), "--quick", "--out", str(out)],
                          capture_output=True, text=True, cwd=ROOT, timeout=600)
    assert proc.returncode == 0, proc.stderr[-3000:]
    data = _strict_json(out)
    assert set(data["results"]) == {"bare", "ours"}
    assert all(r["launches"] == 1 and r["failed"] == 0 for r in data["results"].values())
    assert data["results"]["ours"]["hung"] == 0   # the bare ending may hang (that is what it measures)
    assert "| ours | 1 | 0 | 0 |" in proc.stdout


def test_resume_modes_quick_writes_its_table_json_and_figure(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    """The resume-modes benchmark on a small run: rescale follows the 1-process curve exactly, the others do not."""
    assert _load("resume_modes").main(["--quick", "--out", str(tmp_path)]) == 0
    result = _strict_json(tmp_path / "resume_modes.json")
    rows = {row["mode"]: row for row in result["rows"]}
    assert rows["strict"]["said"].startswith("ValueError: the schedule differs from the checkpoint's")
    assert rows["rescale"]["max_gap_to_1_process_curve"] <= 1e-12 and rows["rescale"]["last_lr_written"] == 0.0
    assert rows["checkpoint"]["max_gap_to_1_process_curve"] > 1e-5 and rows["checkpoint"]["last_lr_written"] > 1e-5
    assert rows["replan"]["said"].startswith("hf_sched: LR ")
    assert (tmp_path / "resume_modes.png").read_bytes()[:8] == PNG_SIGNATURE
    assert "| rescale " in capsys.readouterr().out
