"""Every Python block of docs/optimizers_and_clocks.md runs as it stands and prints what it promises."""

from __future__ import annotations

import contextlib
import io
import re
from pathlib import Path

import pytest

from hf_sched.integrations.token_clock import counts_non_padding

DOC = Path(__file__).resolve().parents[1] / "docs" / "optimizers_and_clocks.md"
BLOCKS = re.findall(r"```python\n(.*?)```", DOC.read_text(), flags=re.S)

pytestmark = pytest.mark.usefixtures("frozen_gc")


def run_block(index: int) -> tuple[str, dict]:
    """What block ``index`` prints, and its variables."""
    out, namespace = io.StringIO(), {"__name__": f"doc_block_{index}"}
    with contextlib.redirect_stdout(out):
        exec(compile(BLOCKS[index], f"{DOC.name} block {index}", "exec"), namespace)
    return out.getvalue(), namespace


def test_the_doc_has_its_four_examples():
    assert len(BLOCKS) == 4


def test_muon_and_adamw_in_a_loop():
    printed, _ = run_block(0)
    assert re.fullmatch(r"loss \d+\.\d{4}; checkpoint at step 10\n", printed), printed


def test_muon_and_adamw_with_the_trainer(tmp_path, monkeypatch):
    monkeypatch.chdir(tmp_path)
    printed, ns = run_block(1)
    assert "OptimizerSet(Muon, AdamW) took 12 steps\nMuon LR logged at each step: ['0', " in printed, printed
    trainer, f = ns["trainer"], ns["scheduler"].schedules[0]
    assert (f.num_training_steps, f.num_warmup_steps) == (12, 3)
    logs = [h for h in trainer.state.log_history if "learning_rate" in h]
    # the Trainer logs the first group's (Muon's) LR of step k: 0.02 * f(k - 1)
    assert [h["learning_rate"] for h in logs] == pytest.approx([0.02 * f(k) for k in range(12)], rel=1e-12)
    muon, adamw = ns["optimizer"].members
    assert [g["lr"] for g in muon.param_groups + adamw.param_groups] == [0.02 * f(12), 1e-3 * f(12)]
    assert all(0 < h["loss"] < 1.0 for h in logs)


def test_tokens_clock_in_a_loop():
    printed, _ = run_block(2)
    m = re.fullmatch(r"(\d+) steps, clock at ([\d,]+) tokens\n", printed)
    assert m and int(m.group(2).replace(",", "")) >= 100_000 and 50 <= int(m.group(1)) <= 200, printed


def test_tokens_with_the_trainer(tmp_path, monkeypatch):
    monkeypatch.chdir(tmp_path)
    if not counts_non_padding():  # transformers 4.x: the example's "non_padding" is refused in one line, as documented
        with pytest.raises(ValueError, match=r"^include_num_input_tokens_seen='non_padding': transformers \S+ has no "
                                             r"such count"):
            run_block(3)
        return
    printed, ns = run_block(3)
    seen = ns["trainer"].state.num_input_tokens_seen
    assert f"{seen} real tokens in 12 steps; the clock is at {seen}" in printed, printed
    logs = [h for h in ns["trainer"].state.log_history if "learning_rate" in h]
    f = ns["scheduler"].schedules[0]
    assert (f.num_training_steps, f.num_warmup_steps) == (700, 70) and logs
