"""``hf-sched show`` and ``hf-sched steps`` on a clock in tokens or samples."""

from __future__ import annotations

import json
import math

import pytest
from cli_runner import run_cli, run_script

from hf_sched.schedules import Cosine


def test_show_speaks_tokens(capsys):
    code, out, err = run_cli(capsys, "show", "warmupcosine", "--steps", "200M tok", "--warmup", "5M tok")
    assert code == 0 and not err
    assert "  training tokens 200,000,000\n" in out
    assert "  warmup tokens   5,000,000 = 2.5% of the run (--warmup 5M tok)\n" in out
    assert "  peak LR         1 at tokens seen 5,000,000\n" in out
    assert "  final LR        0 (tokens seen 200,000,000 and after)\n" in out
    assert "       tokens  of run  LR" in out and "last optimizer step" not in out


def test_show_json_and_csv_are_the_closed_form_in_samples(capsys):
    code, out, _ = run_cli(capsys, "show", "warmupcosine", "--steps", "2k samples", "--warmup", "10%", "--json")
    data = json.loads(out)
    assert code == 0 and data["clock"] == "samples"
    assert (data["num_training_steps"], data["num_warmup_steps"]) == (2000, 200)
    code, out, _ = run_cli(capsys, "show", "warmupcosine", "--steps", "2k samples", "--warmup", "200 samples", "--csv")
    rows = out.splitlines()
    assert rows[0] == "samples,lr" and len(rows) == 2002
    f = Cosine(num_training_steps=2000, num_warmup_steps=200)
    for row in rows[1::97]:
        c, lr = row.split(",")
        expected = int(c) / 200 if int(c) < 200 else 0.5 * (1 + math.cos(math.pi * (int(c) - 200) / 1800))
        assert float(lr) == pytest.approx(expected, abs=1e-12) and float(lr) == pytest.approx(f(int(c)), abs=1e-15)


def test_steps_turns_amounts_into_steps_and_shows_the_run_in_tokens(capsys):
    code, out, _ = run_cli(capsys, "steps", "--batch-size", "16", "--processes", "8", "--max-steps", "200M tok",
                           "--warmup", "5M tok", "--tokens-per-example", "512", "--json")
    data = json.loads(out)
    assert code == 0
    assert data["clock"] == {"unit": "tokens", "per_step": 65_536, "num_training": 3052 * 65_536,
                             "num_warmup": 77 * 65_536}
    assert (data["num_training_steps"], data["num_warmup_steps"]) == (math.ceil(200e6 / 65_536), math.ceil(5e6 / 65_536))
    assert data["inputs"]["max_steps"] == "200000000 tokens" and data["inputs"]["warmup"] == "5M tok"
    code, out, _ = run_cli(capsys, "steps", "--examples", "10000", "--batch-size", "32", "--epochs", "3",
                           "--tokens-per-example", "100")
    assert "tokens per optimizer step = 100 tokens per example x 32 examples = 3,200\n" in out
    assert "training tokens = 939 steps x 3,200 tokens per step = 3,004,800; warmup tokens = 94 x 3,200 = 300,800" in out
    code, out, _ = run_cli(capsys, "steps", "--batch-size", "32", "--max-steps", "1M samples", "--warmup", "10k samples")
    assert "--max-steps 1,000,000 samples = ceil(1,000,000 / 32) = 31,250 optimizer steps" in out
    assert "Trainer          num_training_steps = 31,250   num_warmup_steps = 313" in out


@pytest.mark.parametrize("argv, expected", [
    (["show", "warmupcosine", "--steps", "1000", "--warmup", "5M tok"],
     "--warmup='5M tok' is in tokens but --steps=1000 counts optimizer steps: give both in tokens"),
    (["show", "warmupcosine", "--steps", "1M tok", "--warmup", "50"],
     "--warmup=50 is a number of optimizer steps, but 'warmupcosine' runs on a clock in tokens"),
    (["show", "warmupcosine", "--steps", "1M tok", "--warmup", "1ep", "--steps-per-epoch", "10"],
     "--warmup='1ep' counts optimizer steps or epochs, but 'warmupcosine' runs on a clock in tokens"),
    (["show", "warmupcosine", "--steps", "1M tok", "--warmup", "2M tok"],
     "--warmup='2M tok' (2,000,000 tokens) is longer than --steps='1,000,000 tokens' (1,000,000 tokens)"),
    (["show", "warmupcosine", "--steps", "1.5 tok"],
     "argument --steps: '1.5 tok' is not a whole number of tokens (1.5)"),
    (["show", "warmupcosine", "--steps", "0 tok"], "argument --steps: must be an amount of at least 1"),
    (["steps", "--max-steps", "200M tok"],
     "--max-steps '200,000,000 tokens' is in tokens: give --tokens-per-example K"),
    (["steps", "--max-steps", "1M samples", "--warmup", "10k tok", "--tokens-per-example", "4"],
     "are in different units: a run has one clock"),
])
def test_mixed_or_bad_units_exit_2_with_one_line(capsys, argv, expected):
    code, out, err = run_cli(capsys, *argv)
    assert code == 2 and not out
    assert expected in err and err.count("\n") == (1 if "argument --steps" not in expected else err.count("\n")), err


def test_the_console_script_speaks_tokens():
    done = run_script("show", "warmuplinear", "--steps", "1k tok", "--warmup", "100 tok", "--csv")
    assert done.returncode == 0 and done.stdout.splitlines()[:3] == ["tokens,lr", "0,0.0", "1,0.01"]


def test_plot_and_the_terminal_curve_label_the_unit(capsys, tmp_path):
    out = tmp_path / "tokens.png"
    code, printed, _ = run_cli(capsys, "plot", "warmupcosine", "--steps", "200M tok", "--warmup", "5M tok",
                               "--out", str(out))
    assert code == 0 and "2 schedules" not in printed and "over 200,000,000 tokens in" in printed
    assert out.read_bytes()[:8] == b"\x89PNG\r\n\x1a\n"
    code, printed, _ = run_cli(capsys, "show", "warmupcosine", "--steps", "200M tok", "--warmup", "5M tok")
    assert "end of warmup: tokens 5,000,000" in printed and "even grid of tokens" in printed
