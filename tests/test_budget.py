"""The step budget equals the optimizer steps real Trainer and Accelerate loops take."""

from __future__ import annotations

import json
import math
import os
import subprocess
import sys
from pathlib import Path

import pytest
from launched import run_launched, two_process_command
import torch

from hf_sched import compute_budget, get_scheduler, training_steps
from hf_sched.budget import batches_per_process, steps_per_epoch

SCRIPT = Path(__file__).parent / "scripts" / "budget_loop.py"


def test_arithmetic():
    assert steps_per_epoch(10, 3) == 4
    assert steps_per_epoch(0, 3) == 1
    assert batches_per_process(7, num_processes=2) == 4
    assert batches_per_process(7, num_processes=2, drop_last=True) == 3
    assert batches_per_process(7, num_processes=2, split_batches=True) == 7
    assert batches_per_process(7, num_processes=2, prepared=True) == 7
    assert training_steps(num_batches=10, num_epochs=1.5, gradient_accumulation_steps=3) == 6
    assert training_steps(num_batches=10, num_epochs=3, max_steps=7) == 7
    assert training_steps(num_batches=10, num_epochs=3, max_steps=-1) == 30  # Trainer's "unset"


def test_explanation_shows_the_arithmetic():
    b = compute_budget(num_batches=125, num_epochs=2, gradient_accumulation_steps=4, num_processes=2, warmup="10%")
    assert (b.num_training_steps, b.num_warmup_steps, b.steps_per_epoch, b.batches_per_process) == (32, 4, 16, 63)
    assert "ceil(125 / 2 processes) = 63" in b.explanation
    assert "ceil(63 / 4 grad accum)) = 16" in b.explanation
    assert "ceil(2 epochs * 16) = 32" in b.explanation


def test_iterable_dataset_needs_max_steps():
    class Stream(torch.utils.data.IterableDataset):
        def __iter__(self):
            return iter(range(10))

    dl = torch.utils.data.DataLoader(Stream(), batch_size=2)
    with pytest.raises(ValueError, match="has no length .*pass max_steps"):
        training_steps(dl, num_epochs=1)
    assert training_steps(dl, max_steps=12) == 12


def test_dataloader_with_drop_last():
    dl = torch.utils.data.DataLoader(range(50), batch_size=4, drop_last=True)  # 12 batches
    assert training_steps(dl, num_epochs=1, num_processes=5) == 2
    assert training_steps(dl, num_epochs=1, num_processes=5, split_batches=True) == 12


# --- a real Trainer ------------------------------------------------------------------------

TRAINER_GRID = [
    # examples, per-device batch, grad accum, epochs, max_steps
    (37, 4, 1, 1, None),
    (37, 4, 2, 2, None),
    (37, 4, 3, 1.5, None),
    (64, 8, 3, 2, None),
    (21, 5, 2, 1.5, None),
    (50, 4, 2, 1, 7),
    (30, 4, 1, 1, 40),
]


class _Tiny(torch.nn.Module):
    def __init__(self):
        super().__init__()
        self.lin = torch.nn.Linear(3, 1)

    def forward(self, x, labels=None):
        out = self.lin(x)
        loss = torch.nn.functional.mse_loss(out, labels) if labels is not None else None
        return {"loss": loss, "logits": out}


class _Data(torch.utils.data.Dataset):
    def __init__(self, n):
        g = torch.Generator().manual_seed(n)
        self.x, self.y = torch.randn(n, 3, generator=g), torch.randn(n, 1, generator=g)

    def __len__(self):
        return len(self.x)

    def __getitem__(self, i):
        return {"x": self.x[i], "labels": self.y[i]}


@pytest.mark.parametrize("n,bs,ga,epochs,max_steps", TRAINER_GRID)
def test_budget_equals_a_real_trainer(tmp_path, n, bs, ga, epochs, max_steps):
    from transformers import Trainer, TrainerCallback, TrainingArguments

    counted = []

    class Count(TrainerCallback):
        def on_step_end(self, args, state, control, **kw):
            counted.append(state.global_step)

    ours = training_steps(num_batches=-(-n // bs), num_epochs=epochs, gradient_accumulation_steps=ga,
                          max_steps=max_steps)

    class WithOurs(Trainer):
        def create_scheduler(self, num_training_steps, optimizer=None):
            self.lr_scheduler = get_scheduler("warmuplinear", optimizer or self.optimizer,
                                              num_training_steps=ours)
            return self.lr_scheduler

    args = TrainingArguments(
        output_dir=str(tmp_path), per_device_train_batch_size=bs, gradient_accumulation_steps=ga,
        num_train_epochs=epochs, max_steps=max_steps if max_steps is not None else -1, use_cpu=True,
        report_to=[], save_strategy="no", logging_strategy="no", disable_tqdm=True, learning_rate=0.01,
        dataloader_drop_last=False,
    )
    trainer = WithOurs(model=_Tiny(), args=args, train_dataset=_Data(n), callbacks=[Count()])
    trainer.train()
    assert trainer.state.global_step == ours == len(counted)
    assert trainer.state.max_steps == ours
    sched = trainer.lr_scheduler
    assert sched.optimizer_step == ours
    assert trainer.optimizer.param_groups[0]["lr"] == 0.01 * sched.schedules[0].final_value() == 0.0


# --- a real Accelerate loop, on 1 and on 2 processes -----------------------------------------


def _check_rows(result):
    assert result["rows"], "the script trained nothing"
    for row in result["rows"]:
        assert row["counted"] == row["budget"] == row["budget_prepared"], row["setting"]
        assert not row["epochs_exhausted"], row["setting"]
        assert row["scheduler_step"] == row["budget"], row["setting"]
        assert row["lrs"] == pytest.approx(row["expected_lrs"], abs=1e-15), row["setting"]
        assert row["final_lr"] == row["expected_final"] == 0.0, row["setting"]


def _env():
    env = dict(os.environ, OMP_NUM_THREADS="1", ACCELERATE_USE_CPU="true")
    env.pop("CUDA_VISIBLE_DEVICES", None)
    return env


def test_budget_equals_a_real_accelerate_loop_one_process(tmp_path):
    out = tmp_path / "one.json"
    subprocess.run([sys.executable, str(SCRIPT), str(out)], check=True, env=_env(), timeout=300)
    result = json.loads(out.read_text())
    assert result["num_processes"] == 1
    _check_rows(result)


@pytest.mark.parametrize(
    "split,after_prepare",
    [(False, False), pytest.param(True, False, marks=pytest.mark.slow), (False, True)],
    ids=["sharded", "split_batches", "built_after_prepare_no_accelerator_arg"],
)
def test_budget_equals_a_real_accelerate_loop_two_processes(tmp_path, split, after_prepare):
    """On 2 processes AcceleratedScheduler steps the scheduler twice per optimizer step: the
    LR still follows the optimizer's steps, with or without ``accelerator=``."""
    out = tmp_path / "two.json"
    cmd = two_process_command(SCRIPT, str(out), *(["--split_batches"] if split else []),
                              *(["--after_prepare"] if after_prepare else []))
    proc = run_launched(cmd, env=_env(), timeout=900)  # a busy 2-core box is slow
    assert proc.returncode == 0, proc.stderr[-3000:]
    result = json.loads(out.read_text())
    assert result["num_processes"] == 2
    _check_rows(result)
    for r in result["rows"]:
        n, bs, ga, epochs, max_steps = r["setting"]
        if max_steps is None:
            # per process: ceil(raw batches / 2) (or all of them with split batches), ceil(/ga) steps per epoch
            per_proc = r["raw_len"] if split else -(-r["raw_len"] // 2)
            assert r["budget"] == math.ceil(epochs * -(-per_proc // ga)), r["setting"]
