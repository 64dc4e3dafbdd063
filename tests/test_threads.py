"""Tests of hf_sched.finetune.threads: a launcher's one-thread default undone, a user's choice kept.

The rule on its own (pure functions), then the real thing: the recipe launched through
``accelerate launch`` with no config on one CPU process (which sets ``OMP_NUM_THREADS=1``)
trains on every core this process may use, and keeps an explicit ``OMP_NUM_THREADS=1``.
"""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path

import pytest
from launched import run_launched

from hf_sched.finetune.threads import available_cores, launcher_default_threads, launcher_name

ROOT = Path(__file__).resolve().parents[1]
RECIPE = ROOT / "recipes" / "finetune_accelerate.py"
ACCELERATE = ["/venv/bin/python", "/venv/bin/accelerate", "launch", "recipe.py"]


@pytest.mark.parametrize(("command", "expected"), [
    (ACCELERATE, "accelerate launch"),
    (["python", "-m", "accelerate.commands.launch", "recipe.py"], "accelerate launch"),
    (["/venv/bin/python", "/venv/bin/torchrun", "--nproc_per_node", "2", "x.py"], "torchrun"),
    (["python", "-m", "torch.distributed.run", "x.py"], "torchrun"),
    (["bash"], None),
    (["python", "recipe.py", "launch"], None),
])
def test_launcher_name(command, expected):
    assert launcher_name(command) == expected


def test_the_launchers_default_is_recognised():
    assert launcher_default_threads({"OMP_NUM_THREADS": "1"}, ACCELERATE, {"PATH": "/bin"}) == "accelerate launch"


@pytest.mark.parametrize(("env", "command", "parent_env"), [
    ({"OMP_NUM_THREADS": "1"}, ACCELERATE, {"OMP_NUM_THREADS": "1"}),  # the user exported it before launching
    ({"OMP_NUM_THREADS": "1"}, ACCELERATE[:3] + ["--num_cpu_threads_per_process", "1", "recipe.py"], {}),
    ({"OMP_NUM_THREADS": "1"}, ACCELERATE[:3] + ["--num_cpu_threads_per_process=1", "recipe.py"], {}),
    ({"OMP_NUM_THREADS": "4"}, ACCELERATE, {}),  # not a one-thread limit
    ({}, ACCELERATE, {}),
    ({"OMP_NUM_THREADS": "1"}, ["bash"], {}),  # `OMP_NUM_THREADS=1 python recipe.py` from a shell
    ({"OMP_NUM_THREADS": "1"}, None, None),  # the parent cannot be read: change nothing
    ({"OMP_NUM_THREADS": "1"}, ACCELERATE, None),
])
def test_a_users_choice_or_an_unknown_parent_is_kept(env, command, parent_env):
    assert launcher_default_threads(env, command, parent_env) is None


def test_available_cores_is_the_affinity_mask():
    assert available_cores() == len(os.sched_getaffinity(0))


# --------------------------------------------------------------------------- through accelerate launch


@pytest.fixture(scope="module")
def tiny_model(tmp_path_factory) -> Path:
    from hf_sched.finetune.model import save_tiny_bert

    return Path(save_tiny_bert(tmp_path_factory.mktemp("threads_model") / "tiny", seed=0))


def launch(tiny_model: Path, output_dir: Path, omp: str | None) -> tuple[subprocess.CompletedProcess, dict]:
    env = {k: v for k, v in os.environ.items()
           if not k.startswith("ACCELERATE_") and k not in ("OMP_NUM_THREADS", "MKL_NUM_THREADS", "WORLD_SIZE", "RANK")}
    env.update(HF_HUB_OFFLINE="1", HF_DATASETS_OFFLINE="1", TRANSFORMERS_OFFLINE="1", PYTHONUNBUFFERED="1")
    if omp is not None:
        env["OMP_NUM_THREADS"] = omp
    command = [sys.executable, "-m", "accelerate.commands.launch", str(RECIPE), "--model", str(tiny_model),
               "--max_train_samples", "32", "--max_eval_samples", "8", "--max_length", "16", "--max_steps", "2",
               "--output_dir", str(output_dir)]
    result = run_launched(command, env=env, cwd=ROOT, timeout=600)
    assert result.returncode == 0, result.stderr[-4000:]
    return result, json.loads((output_dir / "metrics.json").read_text())


@pytest.mark.usefixtures("offline_hf_home")
def test_accelerate_launch_without_config_trains_on_every_core(tiny_model, tmp_path):
    result, metrics = launch(tiny_model, tmp_path / "out", omp=None)
    cores = len(os.sched_getaffinity(0))
    assert metrics["torch_threads"] == cores
    assert f"torch threads per process: {cores} (cpu)" in result.stdout
    if cores > 1:
        assert "notice: accelerate launch set OMP_NUM_THREADS=1 (its default, not yours)" in result.stdout


@pytest.mark.usefixtures("offline_hf_home")
def test_an_explicit_omp_num_threads_1_is_kept(tiny_model, tmp_path):
    result, metrics = launch(tiny_model, tmp_path / "out", omp="1")
    assert metrics["torch_threads"] == 1
    assert "torch threads per process: 1 (cpu)" in result.stdout
    assert "notice: accelerate launch set" not in result.stdout
