"""Tests of the ``hf-sched`` command: list, show, steps, help, the real script and ``python -m``.

Plot tests are in ``test_cli_plot.py``, bad input and the caps in ``test_cli_bad_input.py``;
the helpers that run the command are in ``cli_runner.py``.
"""

from __future__ import annotations

import csv
import io
import os
import json
import re
import shlex
import subprocess
import sys

import numpy as np
import pytest

from cli_runner import ROOT, env, run_cli, run_script, script
from hf_sched.cli import main, parse_name_spec
from hf_sched.registry import build_schedule, iter_schedules


# -- list ---------------------------------------------------------------------------------


def test_list_shows_every_name_alias_kwargs_and_description(capsys):
    code, out, err = run_cli(capsys, "list")
    assert code == 0 and err == ""
    for info in iter_schedules():
        assert re.search(rf"^{re.escape(info.name)}\b", out, re.M), info.name
        for alias in info.aliases:
            assert alias in out
        assert info.description in out
        for key, default in info.kwargs.items():
            assert f"{key}={default!r}" in out
    assert re.search(r"^reduce_lr_on_plateau .*metric-driven, delegates to torch/transformers", out, re.M)
    assert re.search(r"^greedy .*metric-driven", out, re.M)
    assert re.search(r"^constantlr .*\[no warmup\]", out, re.M)
    assert "absolute rate" in out or "d_model" in out  # noam says normalised vs absolute


def test_list_json_matches_the_registry(capsys):
    code, out, _ = run_cli(capsys, "list", "--json")
    assert code == 0
    rows = json.loads(out)
    infos = list(iter_schedules())
    assert [r["name"] for r in rows] == [i.name for i in infos]
    for row, info in zip(rows, infos):
        assert row["aliases"] == list(info.aliases)
        assert row["kwargs"] == info.kwargs
        assert row["adaptive"] is info.adaptive
        assert row["has_warmup"] is info.has_warmup
        assert row["uses_lr"] is info.uses_lr
        assert row["description"] == info.description


# -- show ---------------------------------------------------------------------------------


def test_show_warmupcosine_key_numbers_and_curve(capsys):
    code, out, err = run_cli(capsys, "show", "warmupcosine", "--steps", "1000")
    assert code == 0 and err == ""
    s = build_schedule("warmupcosine", num_training_steps=1000)
    assert "training steps  1,000" in out
    assert "warmup steps    100 = 10% of the run (default 10%, rounded up)" in out
    assert "peak LR         1 at step 100" in out
    assert "final LR        0 (step 1,000 and after)" in out
    mean = float(s.values(np.arange(1000)).mean())
    assert f"mean LR         {mean:.4g} over the 1,000 optimizer steps" in out
    table = {int(m[1].replace(",", "")): m[2] for m in re.finditer(r"^\s+([\d,]+)\s+[\d.]+%\s+(\S+)", out, re.M)}
    assert sorted(table) == [0, 100, 250, 500, 750, 999, 1000]
    for step, text in table.items():
        assert float(text) == pytest.approx(s(step), rel=1e-3, abs=1e-12), step
    assert re.search(r"^\s+100\s+10%\s+1\s+end of warmup; peak$", out, re.M)
    assert re.search(r"^\s+999\s+99\.9%\s+3\.046e-06\s+last optimizer step$", out, re.M)
    # the terminal curve: 12 rows of blocks, the axis with the warmup tick, labels
    lines = out.splitlines()
    chart = [ln for ln in lines if re.match(r"^\s+[\d.e+-]*\s[┤│]", ln)]
    assert len(chart) == 12
    assert "█" in out and "▁" in out
    axis = next(ln for ln in lines if "└" in ln)
    assert axis.count("┴") == 1 and len(axis.split("└")[1]) == 60
    assert "┴ end of warmup: step 100" in out
    assert all(len(ln) <= 100 for ln in lines)


def test_show_with_lr_prints_absolute_values(capsys):
    code, out, _ = run_cli(capsys, "show", "warmuplinear", "--steps", "200", "--lr", "2e-5", "--warmup", "20")
    assert code == 0
    assert "peak LR         2e-05 at step 20" in out
    assert "LR values are absolute, for a peak LR of 2e-05" in out
    assert re.search(r"^\s+100\s+50%\s+1\.111e-05", out, re.M)  # 2e-5 * (200-100)/180
    assert "2e-05 ┤" in out


def test_show_kwargs_json_and_name_spec_agree(capsys):
    _, by_json, _ = run_cli(capsys, "show", "hard-restarts", "--steps", "300", "--kwargs", '{"num_cycles": 3}')
    _, by_spec, _ = run_cli(capsys, "show", "hard-restarts:num_cycles=3", "--steps", "300")
    assert by_json == by_spec
    assert "warmupcosinewithhardrestarts(num_cycles=3, warmup_start=0.0, warmup_shape='linear')" in by_json
    # three restarts: the curve reaches the top three times
    top = next(ln for ln in by_json.splitlines() if "1 ┤" in ln)
    assert len(re.findall(r"█+", top)) == 3


def test_show_name_spec_and_kwargs_combine_and_a_conflict_is_refused(capsys):
    code, out, _ = run_cli(capsys, "show", "warmupcosine:num_cycles=1", "--kwargs", '{"min_lr_ratio": 0.1}')
    assert code == 0
    assert "warmupcosine(num_cycles=1, min_lr_ratio=0.1," in out
    code, out, _ = run_cli(capsys, "show", "warmupcosine:num_cycles=1", "--kwargs", '{"num_cycles": 1}')
    assert code == 0  # the same value twice is no conflict
    code, out, err = run_cli(capsys, "show", "warmupcosine:num_cycles=1", "--kwargs", '{"num_cycles": 2}')
    assert code == 2 and out == ""
    assert "'num_cycles' two values (num_cycles=1 in the name, 2 in --kwargs)" in err


def test_show_a_huge_lr_gives_finite_numbers_or_is_refused(capsys):
    code, out, err = run_cli(capsys, "show", "warmupcosine", "--lr", "1e308", "--json")
    assert code == 0 and err == ""
    numbers = json.loads(out)  # strict JSON: no Infinity
    assert numbers["mean_lr"] == pytest.approx(0.5e308, rel=0.05) and numbers["peak"]["lr"] == 1e308


def test_show_csv_every_step_exact(capsys):
    code, out, err = run_cli(capsys, "show", "noam", "--steps", "250", "--warmup", "25", "--lr", "0.001", "--csv")
    assert code == 0 and err == ""
    rows = list(csv.reader(io.StringIO(out)))
    assert rows[0] == ["step", "lr"]
    assert [int(r[0]) for r in rows[1:]] == list(range(251))
    s = build_schedule("noam", num_training_steps=250, num_warmup_steps=25)
    got = np.array([float(r[1]) for r in rows[1:]])
    np.testing.assert_array_equal(got, s.values(np.arange(251)) * 0.001)  # repr round-trips exactly


def test_show_json(capsys):
    code, out, _ = run_cli(capsys, "show", "cosine", "--steps", "400", "--warmup", "5%", "--json")
    assert code == 0
    data = json.loads(out)
    assert data["name"] == "warmupcosine"
    assert data["num_warmup_steps"] == 20 and data["num_training_steps"] == 400
    assert data["peak"] == {"step": 20, "lr": 1.0}
    assert data["final_lr"] == 0.0
    assert [p["step"] for p in data["points"]] == [0, 20, 100, 200, 300, 399, 400]
    assert data["schedule"]["kind"] == "cosine"


def test_show_ascii_only(capsys):
    code, out, _ = run_cli(capsys, "show", "warmupcosine", "--ascii", "--width", "30", "--height", "6")
    assert code == 0
    chart = out[out.index("\n\n", out.index("step  of run")) :]
    assert chart.isascii()
    assert "+ end of warmup: step 100" in chart
    assert "#" in chart


def test_show_falls_back_to_ascii_when_stdout_cannot_encode_blocks(monkeypatch):
    raw = io.BytesIO()
    stream = io.TextIOWrapper(raw, encoding="ascii")
    monkeypatch.setattr(sys, "stdout", stream)
    assert main(["show", "noam", "--steps", "300"]) == 0
    stream.flush()
    text = raw.getvalue().decode("ascii")  # would have raised UnicodeEncodeError before
    assert "+ end of warmup: step 30" in text and "#" in text


def test_show_noam_absolute_rate_is_labelled(capsys):
    code, out, _ = run_cli(capsys, "show", "noam", "--steps", "8000", "--warmup", "4000", "--kwargs", '{"d_model": 512}')
    assert code == 0
    assert "absolute rate" in out and "optimizer lr=1.0" in out
    assert "peak LR         0.0006988 at step 4,000" in out


def test_show_warmup_auto_uses_beta2(capsys):
    code, out, _ = run_cli(capsys, "show", "warmuplinear", "--steps", "1000", "--warmup", "auto", "--beta2", "0.98")
    assert code == 0
    assert "warmup steps    100 = 10% of the run (auto: 2 / (1 - beta2=0.98) = 100)" in out
    code, out, _ = run_cli(capsys, "show", "warmuplinear", "--steps", "1000", "--warmup", "auto")
    assert "warmup steps    1,000 = 100% of the run (auto: 2 / (1 - beta2=0.999) = 2,000, capped at 1,000)" in out


def test_show_constantlr_has_no_warmup(capsys):
    code, out, _ = run_cli(capsys, "show", "constant", "--steps", "10")
    assert code == 0
    assert "warmup steps    0 (constantlr has no warmup phase)" in out
    assert "end of warmup" not in out


def test_show_a_billion_steps_is_sampled(capsys):
    code, out, _ = run_cli(capsys, "show", "warmuplinear", "--steps", "1e9")
    assert code == 0
    assert "999,999,999  99.9999999%" in out
    assert "even grid of steps" in out


def test_show_output_in_docs_is_current(capsys):
    """docs/cli.md quotes the real output of `hf-sched show warmupcosine --steps 1000`."""
    _, out, _ = run_cli(capsys, "show", "warmupcosine", "--steps", "1000")
    doc = (ROOT / "docs" / "cli.md").read_text(encoding="utf-8")
    block = re.search(r"\$ hf-sched show warmupcosine --steps 1000\n(.*?)```", doc, re.S)
    assert block, "docs/cli.md has no block for `hf-sched show warmupcosine --steps 1000`"
    assert block.group(1) == out


# -- steps --------------------------------------------------------------------------------


def test_steps_arithmetic_and_both_lines(capsys):
    code, out, err = run_cli(capsys, "steps", "--examples", "10000", "--batch-size", "32", "--epochs", "3",
                             "--grad-accum", "4", "--processes", "2")
    assert code == 0 and err == ""
    # by hand: ceil(10000/32)=313 batches, ceil(313/2)=157 per process, ceil(157/4)=40 steps/epoch, 3*40=120
    assert "batches per epoch = ceil(10,000 examples / 32 batch size) = 313" in out
    assert "batches per process per epoch = ceil(313 / 2 processes) = 157" in out
    assert "optimizer steps per epoch = max(1, ceil(157 / 4 grad accum)) = 40" in out
    assert "training steps = ceil(3 epochs * 40) = 120" in out
    assert "warmup steps = 12" in out
    assert "examples per optimizer step = 32 batch size x 2 processes x 4 grad accum = 256" in out
    assert re.search(r"^Trainer\s+num_training_steps = 120\s+num_warmup_steps = 12$", out, re.M)
    assert re.search(r"^Accelerate loop\s+num_training_steps = 120\s+num_warmup_steps = 12$", out, re.M)
    assert "scheduler.step() 2 times per optimizer step" in out
    assert "num_training_steps = 240," in out and "num_warmup_steps = 24)" in out


@pytest.mark.parametrize(
    ("argv", "steps", "warmup"),
    [
        (["--examples", "1000", "--batch-size", "10"], 300, 30),  # defaults: 3 epochs, 10% warmup
        (["--examples", "1001", "--batch-size", "10", "--epochs", "1"], 101, 11),
        (["--examples", "1001", "--batch-size", "10", "--epochs", "1", "--drop-last"], 100, 10),
        (["--examples", "1000", "--batch-size", "10", "--epochs", "1.5", "--grad-accum", "3"], 51, 6),
        (["--examples", "1000", "--batch-size", "10", "--epochs", "1", "--processes", "3"], 34, 4),
        (["--examples", "1000", "--batch-size", "12", "--epochs", "1", "--processes", "3", "--split-batches"], 84, 9),
        (["--examples", "1000", "--batch-size", "10", "--max-steps", "500", "--warmup", "50"], 500, 50),
        (["--max-steps", "77", "--warmup", "0.5"], 77, 39),
        (["--examples", "64", "--batch-size", "8", "--epochs", "1", "--warmup", "auto", "--beta2", "0.5"], 8, 4),
    ],
)
def test_steps_json(capsys, argv, steps, warmup):
    code, out, err = run_cli(capsys, "steps", *argv, "--json")
    assert code == 0, err
    data = json.loads(out)
    assert data["num_training_steps"] == steps
    assert data["num_warmup_steps"] == warmup
    assert data["trainer"] == {"num_training_steps": steps, "num_warmup_steps": warmup}
    assert data["accelerate"]["num_training_steps"] == steps


@pytest.mark.parametrize(
    ("argv", "steps", "warmup"),
    [
        (["--examples", "1000", "--batch-size", "10", "--warmup", "1ep"], 300, 100),  # 100 steps per epoch
        # ceil(100 batches / 3 grad accum) = 34 steps per epoch; ceil(1.5 * 34) = 51; ceil(0.5 * 34) = 17
        (["--examples", "1000", "--batch-size", "10", "--epochs", "1.5", "--grad-accum", "3", "--warmup", "0.5ep"], 51, 17),
        # 2 processes: ceil(100 / 2) = 50 batches each, ceil(50 / 2) = 25 steps per epoch
        (["--examples", "1000", "--batch-size", "10", "--processes", "2", "--grad-accum", "2", "--warmup", "2ep"], 75, 50),
        (["--examples", "1000", "--batch-size", "10", "--max-steps", "500", "--warmup", "0.5 ep"], 500, 50),
    ],
)
def test_steps_warmup_in_epochs(capsys, argv, steps, warmup):
    code, out, err = run_cli(capsys, "steps", *argv, "--json")
    assert code == 0, err
    data = json.loads(out)
    assert (data["num_training_steps"], data["num_warmup_steps"]) == (steps, warmup)
    code, out, err = run_cli(capsys, "steps", *argv)
    assert code == 0, err
    assert re.search(rf"^warmup steps = {warmup} \(request '{re.escape(argv[-1])}'\)", out, re.M), out


def test_show_and_plot_warmup_in_epochs(capsys, tmp_path):
    code, out, err = run_cli(capsys, "show", "warmupcosine", "--steps", "3000", "--steps-per-epoch", "1000",
                             "--warmup", "0.5ep")
    assert code == 0, err
    assert "warmup steps    500 = 16.7% of the run (--warmup 0.5ep of 1,000 steps per epoch, rounded up)" in out
    assert re.search(r"^\s+500\s+16\.67%\s+1\s+end of warmup; peak$", out, re.M)
    code, out, _ = run_cli(capsys, "show", "warmuplinear", "--steps", "10", "--steps-per-epoch", "3",
                           "--warmup", "0.5ep", "--json")
    assert json.loads(out)["num_warmup_steps"] == 2  # ceil(0.5 * 3)
    code, out, err = run_cli(capsys, "plot", "warmupcosine", "noam", "--steps", "3000", "--steps-per-epoch", "1000",
                             "--warmup", "1ep", "--out", str(tmp_path / "lr.png"))
    assert code == 0, err
    assert (tmp_path / "lr.png").stat().st_size > 0


def test_warmup_in_epochs_examples_in_docs_are_current(capsys):
    doc = (ROOT / "docs" / "cli.md").read_text(encoding="utf-8")
    block = re.search(r"```text\n(\$ hf-sched steps [^\n]*--warmup 0\.5ep\n.*?)```", doc, re.S)
    assert block, "docs/cli.md has no block for --warmup in epochs"
    lines = block.group(1).splitlines()
    commands = [i for i, ln in enumerate(lines) if ln.startswith("$ hf-sched ")]
    assert len(commands) == 2
    for i in commands:
        code, out, err = run_cli(capsys, *shlex.split(lines[i].removeprefix("$ hf-sched ")))
        assert code == 0, err
        assert lines[i + 2] in out.splitlines(), lines[i + 2]


def test_steps_max_steps_shows_epochs_run(capsys):
    code, out, _ = run_cli(capsys, "steps", "--examples", "10000", "--batch-size", "32", "--max-steps", "500",
                           "--processes", "4", "--split-batches")
    assert code == 0
    assert "batches per process per epoch = 313 (split_batches)" in out
    assert "max_steps = 500 (overrides epochs)" in out
    assert "epochs run = ceil(500 / 313 steps per epoch) = 2" in out
    assert "examples per optimizer step = 32 (split: 8 per process) x 1 grad accum = 32" in out
    assert "once per optimizer step: split_batches" in out


# -- help and version ---------------------------------------------------------------------


@pytest.mark.parametrize("command", ["list", "show", "plot", "steps"])
def test_help_has_examples_for_each_subcommand(capsys, command):
    code, out, _ = run_cli(capsys, command, "--help")
    assert code == 0
    assert "examples:" in out
    assert f"hf-sched {command}" in out.split("examples:", 1)[1]


@pytest.mark.parametrize("command", ["", "list", "show", "plot", "steps"])
def test_every_example_in_help_runs(capsys, tmp_path, monkeypatch, command):
    """The examples printed by --help are real commands that succeed."""
    monkeypatch.chdir(tmp_path)
    main([command, "--help"] if command else ["--help"])
    text = capsys.readouterr().out.split("examples:", 1)[1].replace("\\\n", " ")
    examples = [ln.strip() for ln in text.splitlines() if ln.strip().startswith("hf-sched ")]
    assert examples
    for line in examples:
        argv = shlex.split(line.split(" > ")[0].split(" | ")[0])[1:]
        code, _, err = run_cli(capsys, *argv)
        assert code == 0, (line, err)


def test_top_level_help_and_version(capsys):
    code, out, _ = run_cli(capsys, "--help")
    assert code == 0 and "examples:" in out and "{list,show,plot,steps}" in out
    code, out, _ = run_cli(capsys, "--version")
    assert code == 0 and re.match(r"hf-sched \d+\.\d+", out)


def test_parse_name_spec():
    assert parse_name_spec("noam") == ("noam", {})
    assert parse_name_spec("wsd:decay_type=linear,num_decay_steps=10, min_lr_ratio=0.1") == (
        "wsd", {"decay_type": "linear", "num_decay_steps": 10, "min_lr_ratio": 0.1})
    assert parse_name_spec("noam:d_model=null") == ("noam", {"d_model": None})


# -- the real console script and python -m ------------------------------------------------


def test_console_script_show_matches_in_process(capsys):
    proc = run_script("show", "warmupcosine", "--steps", "1000")
    assert proc.returncode == 0, proc.stderr
    assert proc.stderr == ""
    _, out, _ = run_cli(capsys, "show", "warmupcosine", "--steps", "1000")
    assert proc.stdout == out


def test_python_dash_m(tmp_path):
    proc = subprocess.run([sys.executable, "-m", "hf_sched", "steps", "--examples", "100", "--batch-size", "10",
                           "--epochs", "2"], capture_output=True, text=True, env=env(), timeout=60)
    assert proc.returncode == 0, proc.stderr
    assert re.search(r"^Trainer\s+num_training_steps = 20\s+num_warmup_steps = 2$", proc.stdout, re.M)
    proc = subprocess.run([sys.executable, "-m", "hf_sched", "show", "nope"], capture_output=True, text=True,
                          env=env(), timeout=60)
    assert proc.returncode == 2 and proc.stderr.startswith("python -m hf_sched show: error: unknown schedule name")


def test_csv_into_a_closed_pipe_exits_quietly():
    proc = subprocess.Popen([script(), "show", "warmuplinear", "--steps", "2000000", "--csv"],
                            stdout=subprocess.PIPE, stderr=subprocess.PIPE, env=env())
    assert proc.stdout.readline() == b"step,lr\n"
    proc.stdout.close()  # like `| head -1`
    _, err = proc.communicate(timeout=60)
    assert proc.returncode == 0  # `set -o pipefail` scripts must not fail on `hf-sched ... | head`
    assert err == b""


@pytest.mark.parametrize("argv", [["list"], ["show", "warmupcosine"], ["steps", "--examples", "100"]])
def test_stdout_on_a_full_device_is_one_line_and_status_1(argv):
    if not os.path.exists("/dev/full"):
        pytest.skip("no /dev/full here")
    with open("/dev/full", "w") as full:
        proc = subprocess.run([script(), *argv], stdout=full, stderr=subprocess.PIPE, env=env(), timeout=60)
    assert proc.returncode == 1
    assert proc.stderr.decode().splitlines() == [
        f"hf-sched {argv[0]}: error: cannot write the output to stdout: No space left on device (errno 28); "
        "write it to a device with space, or to a file"]


def test_list_show_steps_import_neither_torch_nor_matplotlib():
    code = """
import sys, io, contextlib
from hf_sched.cli import main
assert "numpy" not in sys.modules, "import hf_sched.cli is not cheap"
with contextlib.redirect_stdout(io.StringIO()), contextlib.redirect_stderr(io.StringIO()):
    for argv in (["list"], ["list", "--json"], ["show", "warmupcosine"], ["show", "noam", "--csv"],
                 ["steps", "--examples", "100", "--batch-size", "4"], ["show", "nope"]):
        main(argv)
print(sorted(m for m in sys.modules if m.split(".")[0] in ("torch", "transformers", "accelerate", "matplotlib")))
"""
    proc = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, env=env(), timeout=60)
    assert proc.returncode == 0, proc.stderr
    assert proc.stdout.strip() == "[]"

