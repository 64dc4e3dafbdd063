"""Tests of the ``hf-sched`` command: every subcommand, every bad input, the real script.

Most tests call :func:`hf_sched.cli.main` in-process (fast); a few run the installed
console script ``hf-sched`` and ``python -m hf_sched`` in a subprocess, to prove the entry
point, the exit codes and stderr are what a user sees.
"""

from __future__ import annotations

import csv
import io
import json
import math
import os
import re
import shlex
import shutil
import subprocess
import sys
from pathlib import Path

import numpy as np
import pytest

from hf_sched.cli import main, parse_name_spec
from hf_sched.registry import build_schedule, iter_schedules

ROOT = Path(__file__).resolve().parents[1]
PNG_SIGNATURE = b"\x89PNG\r\n\x1a\n"
SIX = ["constantlr", "warmupconstant", "warmuplinear", "warmupcosine", "warmupcosinewithhardrestarts", "noam"]


def _script() -> str:
    """The installed console script (next to the interpreter, else on PATH)."""
    here = Path(sys.executable).with_name("hf-sched")
    found = str(here) if here.exists() else shutil.which("hf-sched")
    if not found:
        pytest.fail("the hf-sched console script is not installed: run `pip install -e .`")
    return found


def _env() -> dict[str, str]:
    return {**os.environ, "PYTHONIOENCODING": "utf-8", "COLUMNS": "100"}


def run_script(*args: str, timeout: float = 60) -> subprocess.CompletedProcess:
    return subprocess.run([_script(), *args], capture_output=True, text=True, encoding="utf-8",
                          env=_env(), timeout=timeout, cwd=ROOT)


def run_cli(capsys: pytest.CaptureFixture, *argv: str) -> tuple[int, str, str]:
    code = main(list(argv))
    out, err = capsys.readouterr()
    return code, out, err


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


def test_show_name_spec_overrides_kwargs(capsys):
    code, out, _ = run_cli(capsys, "show", "warmupcosine:num_cycles=1", "--kwargs", '{"num_cycles": 2, "min_lr_ratio": 0.1}')
    assert code == 0
    assert "warmupcosine(num_cycles=1, min_lr_ratio=0.1," in out


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


# -- plot ---------------------------------------------------------------------------------


def _png_size(path: Path) -> tuple[int, int]:
    data = path.read_bytes()
    assert data[:8] == PNG_SIGNATURE
    return int.from_bytes(data[16:20], "big"), int.from_bytes(data[20:24], "big")


def test_plot_writes_a_valid_png_of_the_expected_size(capsys, tmp_path):
    import matplotlib.image

    out = tmp_path / "lr.png"
    code, text, err = run_cli(capsys, "plot", "warmuplinear", "warmupcosine", "noam", "--steps", "1000", "--out", str(out))
    assert code == 0 and err == ""
    assert f"wrote {out} (1200x675 px, 3 schedules over 1,000 steps" in text
    assert _png_size(out) == (1200, 675)
    img = matplotlib.image.imread(out)
    assert img.shape == (675, 1200, 4)
    assert 0.2 < float(img[..., :3].mean()) < 0.99  # not blank: white background with curves


def test_plot_size_dpi_log_y_and_title(capsys, tmp_path):
    out = tmp_path / "sub" / "dir" / "small.png"  # parent folders are created
    code, _, err = run_cli(capsys, "plot", "cosine", "--steps", "100", "--lr", "3e-4", "--log-y",
                           "--size", "640x360", "--dpi", "80", "--title", "mine", "--out", str(out))
    assert code == 0, err
    assert _png_size(out) == (640, 360)


def test_plot_without_suffix_writes_png_and_svg_works(capsys, tmp_path):
    code, text, _ = run_cli(capsys, "plot", "noam", "--out", str(tmp_path / "curve"))
    assert code == 0 and (tmp_path / "curve.png").exists()
    code, text, _ = run_cli(capsys, "plot", "noam", "--out", str(tmp_path / "curve.svg"))
    assert code == 0
    assert (tmp_path / "curve.svg").read_text(encoding="utf-8").lstrip().startswith("<?xml")
    assert "px" not in text  # the pixel size is only reported for PNGs


def test_plot_same_name_twice_with_different_kwargs(capsys, tmp_path):
    out = tmp_path / "restarts.png"
    code, text, _ = run_cli(capsys, "plot", "hard-restarts:num_cycles=1", "hard-restarts:num_cycles=4",
                            "hard-restarts:num_cycles=4", "--steps", "5000", "--out", str(out))
    assert code == 0
    assert "3 schedules" in text


def test_docs_image_is_the_six_canonical_schedules():
    path = ROOT / "docs" / "schedules.png"
    assert _png_size(path) == (1200, 675)


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


# -- bad input: exit code 2, one clear message on stderr, nothing on stdout ----------------

BAD_INPUTS = [
    # unknown names, with a did-you-mean
    (["show", "warmupcosin"], ["unknown schedule name 'warmupcosin'", "Did you mean 'warmupcosine'?", "Available:"]),
    (["plot", "noam", "warmup-linaer", "--out", "x.png"], ["unknown schedule name 'warmup-linaer'", "'warmuplinear'"]),
    (["shwo", "noam"], ["invalid choice: 'shwo'", "did you mean 'show'?"]),
    (["frobnicate"], ["invalid choice: 'frobnicate'"]),
    ([], ["required"]),
    # adaptive names have no curve
    (["show", "reduce_lr_on_plateau"], ["'reduce_lr_on_plateau' is metric-driven", "no curve for 'show'"]),
    (["plot", "noam", "greedy", "--out", "x.png"], ["'greedy' is metric-driven", "no curve for 'plot'"]),
    # kwargs
    (["show", "warmupcosine", "--kwargs", "{num_cycles: 2}"], ["--kwargs must be a JSON object", "line 1 column 2"]),
    (["show", "warmupcosine", "--kwargs", "[2]"], ["--kwargs must be a JSON object", "got a list"]),
    (["show", "warmupcosine", "--kwargs", '{"num_cycle": 2}'],
     ["has no argument 'num_cycle' (did you mean 'num_cycles'?)", "it accepts: num_cycles=0.5"]),
    (["show", "constantlr", "--kwargs", '{"num_cycles": 2}'], ["'constantlr' has no argument 'num_cycles'", "accepts: none"]),
    (["show", "hard-restarts:num_cycles"], ["expected NAME:key=value"]),
    (["show", "warmupcosine", "--kwargs", '{"num_cycles": -1}'], ["num_cycles must be a number > 0, got -1"]),
    (["show", "warmupcosine", "--kwargs", '{"num_cycles": "two"}'], ["num_cycles must be a number, got 'two'"]),
    (["show", "warmupcosine", "--kwargs", '{"warmup_shape": "zigzag"}'], ["warmup_shape must be one of", "'zigzag'"]),
    (["show", "cosine_with_min_lr"], ["needs one of min_lr", "min_lr_rate"]),
    # numbers
    (["show", "noam", "--steps", "-5"], ["argument --steps: must be a whole number >= 1, got '-5'"]),
    (["show", "noam", "--steps", "0"], ["argument --steps: must be a whole number >= 1, got '0'"]),
    (["show", "noam", "--steps", "12.5"], ["argument --steps", "got '12.5'"]),
    (["show", "noam", "--steps", "many"], ["argument --steps", "got 'many'"]),
    (["show", "noam", "--lr", "0"], ["argument --lr: must be a finite number > 0, got '0'"]),
    (["show", "noam", "--lr=-1e-5"], ["argument --lr: must be a finite number > 0, got '-1e-5'"]),
    (["show", "noam", "--lr", "-1e-5"], ["argument --lr"]),  # argparse reads -1e-5 as an option here
    (["show", "noam", "--lr", "nan"], ["argument --lr", "got 'nan'"]),
    (["show", "noam", "--beta2", "1"], ["argument --beta2: must be a number in [0, 1), got '1'"]),
    (["show", "noam", "--width", "0"], ["argument --width"]),
    # warmup
    (["show", "warmupcosine", "--warmup", "1.0"], ["--warmup '1.0'", "warmup ratio must be in [0, 1), got 1.0", "pass an int"]),
    (["show", "warmupcosine", "--warmup", "1.5"], ["--warmup '1.5'", "warmup ratio must be in [0, 1), got 1.5"]),
    (["show", "warmupcosine", "--steps", "1000", "--warmup", "2000"],
     ["--warmup '2000'", "warmup of 2000 steps is longer than the 1000 training steps"]),
    (["show", "warmupcosine", "--warmup", "-3"], ["--warmup '-3'", "warmup steps must be >= 0, got -3"]),
    (["show", "warmupcosine", "--warmup", "150%"], ["--warmup '150%'", "[0, 100)", "150"]),
    (["show", "warmupcosine", "--warmup", "lots"], ["--warmup 'lots'", "'10%' or 'auto'"]),
    (["show", "constantlr", "--warmup", "10"], ["--warmup '10'", "'constantlr' has no warmup phase"]),
    (["show", "noam", "--warmup", "0"], ["--warmup '0'", "noam needs num_warmup_steps >= 1"]),
    (["steps", "--examples", "100", "--warmup", "1.2"], ["--warmup '1.2'", "warmup ratio must be in [0, 1)"]),
    (["steps", "--max-steps", "10", "--warmup", "20"], ["--warmup '20'", "longer than the 10 training steps"]),
    # plot output
    (["plot", "noam", "--out", "lr.xyz"], ["--out 'lr.xyz'", "unknown image format 'xyz'", "png"]),
    (["plot", "noam", "--size", "12x"], ["argument --size", "WIDTHxHEIGHT"]),
    (["plot", "--steps", "100"], ["required", "NAME"]),
    # steps
    (["steps"], ["give --examples", "--max-steps"]),
    (["steps", "--examples", "0"], ["argument --examples: must be a whole number >= 1, got '0'"]),
    (["steps", "--examples", "100", "--batch-size", "-2"], ["argument --batch-size", "got '-2'"]),
    (["steps", "--examples", "100", "--epochs", "0"], ["argument --epochs", "got '0'"]),
    (["steps", "--examples", "100", "--grad-accum", "0"], ["argument --grad-accum", "got '0'"]),
    (["steps", "--examples", "100", "--processes", "0"], ["argument --processes", "got '0'"]),
    (["steps", "--examples", "100", "--max-steps", "-1"], ["argument --max-steps", "got '-1'"]),
    (["steps", "--examples", "10", "--batch-size", "32", "--drop-last"], ["fewer than --batch-size 32", "no full batch"]),
    (["steps", "--examples", "100", "--batch-size", "30", "--processes", "4", "--split-batches"],
     ["--batch-size 30 must be a multiple of --processes 4"]),
    (["steps", "--examples", "40", "--batch-size", "8", "--processes", "8", "--drop-last"],
     ["--processes 8 is more than the 5 batches"]),
    (["show", "noam", "--csv", "--json"], ["not allowed with argument"]),
]


@pytest.mark.parametrize(("argv", "expected"), BAD_INPUTS, ids=[" ".join(a) or "<none>" for a, _ in BAD_INPUTS])
def test_bad_input_exits_2_with_a_clear_message(capsys, tmp_path, monkeypatch, argv, expected):
    monkeypatch.chdir(tmp_path)  # a plot that wrongly succeeded would not litter the repo
    code, out, err = run_cli(capsys, *argv)
    assert code == 2
    assert out == ""
    assert "Traceback" not in err
    for text in expected:
        assert text in err, f"{text!r} not in {err!r}"
    assert not list(tmp_path.iterdir())


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


def test_console_script_bad_inputs_exit_2():
    proc = run_script("show", "warmup-cosin", "--steps", "-5")
    assert proc.returncode == 2 and proc.stdout == ""
    assert "hf-sched show: error: argument --steps: must be a whole number >= 1, got '-5'" in proc.stderr
    proc = run_script("show", "warmup-cosin", "--kwargs", '{"num_cycles": 2}')
    assert proc.returncode == 2 and proc.stdout == ""
    assert proc.stderr.startswith("hf-sched show: error: unknown schedule name 'warmup-cosin'. Did you mean 'warmupcosine'?")
    assert "Traceback" not in proc.stderr


def test_console_script_plot_a_million_steps_without_torch(tmp_path):
    """The real script writes a valid PNG of the expected size, and imports no torch."""
    import matplotlib.image

    out = tmp_path / "million.png"
    proc = subprocess.run(
        [_script(), "plot", *SIX, "--steps", "1000000", "--out", str(out)],
        capture_output=True, text=True, encoding="utf-8", timeout=120,
        env={**_env(), "PYTHONPROFILEIMPORTTIME": "1"},  # -X importtime: every import on stderr
    )
    assert proc.returncode == 0, proc.stderr[-2000:]
    assert "6 schedules over 1,000,000 steps" in proc.stdout
    assert _png_size(out) == (1200, 675)
    assert matplotlib.image.imread(out).shape == (675, 1200, 4)
    imported = {line.rsplit("|", 1)[-1].strip() for line in proc.stderr.splitlines() if line.startswith("import time:")}
    assert "matplotlib" in imported and "hf_sched.plot" in imported  # the profile did record imports
    assert not {m for m in imported if m.split(".")[0] in ("torch", "transformers", "accelerate")}


def test_python_dash_m(tmp_path):
    proc = subprocess.run([sys.executable, "-m", "hf_sched", "steps", "--examples", "100", "--batch-size", "10",
                           "--epochs", "2"], capture_output=True, text=True, env=_env(), timeout=60)
    assert proc.returncode == 0, proc.stderr
    assert re.search(r"^Trainer\s+num_training_steps = 20\s+num_warmup_steps = 2$", proc.stdout, re.M)
    proc = subprocess.run([sys.executable, "-m", "hf_sched", "show", "nope"], capture_output=True, text=True,
                          env=_env(), timeout=60)
    assert proc.returncode == 2 and proc.stderr.startswith("python -m hf_sched show: error: unknown schedule name")


def test_csv_into_a_closed_pipe_exits_quietly():
    proc = subprocess.Popen([_script(), "show", "warmuplinear", "--steps", "2000000", "--csv"],
                            stdout=subprocess.PIPE, stderr=subprocess.PIPE, env=_env())
    assert proc.stdout.readline() == b"step,lr\n"
    proc.stdout.close()  # like `| head -1`
    _, err = proc.communicate(timeout=60)
    assert proc.returncode == 1
    assert b"Traceback" not in err


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
    proc = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, env=_env(), timeout=60)
    assert proc.returncode == 0, proc.stderr
    assert proc.stdout.strip() == "[]"
