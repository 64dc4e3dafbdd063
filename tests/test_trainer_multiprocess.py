"""Two processes (torchrun, CPU, gloo) log the same LR curve as one process with the same global batch.

The Trainer steps its scheduler once per optimizer step in any world size and counts its
steps per process (``ceil(len(per-process dataloader) / grad_accum)``), so with the global
batch held fixed (1 x 8 vs 2 x 4) the total, the warmup and every logged LR must match.
"""

from __future__ import annotations

import importlib.util
import json
import os
import shutil
import sys
from pathlib import Path

import pytest
from launched import run_launched

REPO = Path(__file__).resolve().parents[1]
SCRIPT = REPO / "tests" / "scripts" / "trainer_ddp.py"


def _load_script():
    spec = importlib.util.spec_from_file_location("trainer_ddp_script", SCRIPT)
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


def _torchrun() -> list[str]:
    exe = Path(sys.executable).with_name("torchrun")
    if exe.exists():
        return [str(exe)]
    found = shutil.which("torchrun")
    return [found] if found else [sys.executable, "-m", "torch.distributed.run"]


def _run_two_processes(out: Path, *, per_device: int, accum: int, epochs: float, name: str) -> dict:
    env = {**os.environ, "OMP_NUM_THREADS": "1", "HF_HUB_OFFLINE": "1", "PYTHONPATH": str(REPO)}
    cmd = [
        *_torchrun(), "--standalone", "--nproc_per_node", "2", str(SCRIPT), str(out),
        "--per_device_train_batch_size", str(per_device), "--gradient_accumulation_steps", str(accum),
        "--num_train_epochs", str(epochs), "--lr_scheduler_type", name,
    ]
    proc = run_launched(cmd, env=env, timeout=300, cwd=REPO)
    assert proc.returncode == 0, proc.stdout[-3000:] + proc.stderr[-3000:]
    return json.loads((out / "lr_log.json").read_text())


def _compare(tmp_path: Path, *, accum: int, epochs: float, name: str) -> None:
    script = _load_script()
    one = script.run(str(tmp_path / "one"), per_device_train_batch_size=8, gradient_accumulation_steps=accum,
                     num_train_epochs=epochs, lr_scheduler_type=name)
    two = _run_two_processes(tmp_path / "two", per_device=4, accum=accum, epochs=epochs, name=name)
    assert (one["world_size"], two["world_size"]) == (1, 2)
    assert two["num_training_steps"] == one["num_training_steps"] == two["max_steps"]
    assert two["num_warmup_steps"] == one["num_warmup_steps"]
    assert [s for s, _ in two["lrs"]] == list(range(1, two["num_training_steps"] + 1))
    assert [s for s, _ in one["lrs"]] == [s for s, _ in two["lrs"]]
    assert [lr for _, lr in two["lrs"]] == pytest.approx([lr for _, lr in one["lrs"]], rel=1e-12, abs=1e-18)
    assert two["final_lr"] == one["final_lr"]


def test_two_processes_log_the_same_lr_curve(tmp_path):
    # 40 examples: 5 batches of 8 (one process) or 5 per process of 4 (two); accumulation 2,
    # 1.5 epochs -> ceil(1.5 * ceil(5 / 2)) = 5 optimizer steps, warmup 1, ending at 0.
    _compare(tmp_path, accum=2, epochs=1.5, name="warmupcosine")


@pytest.mark.slow
@pytest.mark.parametrize("name, accum, epochs", [("noam", 1, 2.0), ("warmupcosinewithhardrestarts", 3, 2.5)])
def test_two_processes_more_schedules(tmp_path, name, accum, epochs):
    _compare(tmp_path, accum=accum, epochs=epochs, name=name)
