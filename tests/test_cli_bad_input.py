"""Bad input to ``hf-sched``: exit status 2, one clear line on stderr, nothing on stdout, no file.

Every case names the flag, the value and what is allowed; the caps on sizes
(:mod:`hf_sched.cli.arguments`) are tested at and just past each limit.
"""

from __future__ import annotations

import json
import shlex
from pathlib import Path

import pytest

from cli_runner import ROOT, png_size, run_cli, run_script
from hf_sched.cli.arguments import (
    MAX_COUNT,
    MAX_CSV_ROWS,
    MAX_DPI,
    MAX_PIXELS,
    MAX_PLOT_NAMES,
    MAX_SIDE,
    MIN_DPI,
    MIN_FIGURE_INCHES,
    MIN_SIDE,
    TERMINAL_HEIGHT,
    TERMINAL_WIDTH,
    max_dpi,
)


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
    (["show", "warmupcosine", "--warmup", "lots"], ["--warmup 'lots'", "'10%'", "epochs like '1ep'", "'auto'"]),
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
    # caps: counts below 2**53 (issue 15: these ended in tracebacks, MemoryError or a hang)
    (["show", "noam", "--steps", "1e12", "--csv"],
     ["--steps 1,000,000,000,000 with --csv would print 1,000,000,000,001 rows", "at most 10,000,001 rows",
      "(--steps <= 10,000,000)"]),
    (["show", "noam", "--steps", "10000001", "--csv"], ["would print 10,000,002 rows", "at most 10,000,001 rows"]),
    (["show", "noam", "--steps", "1e23"],
     ["argument --steps: must be a whole number below 2**53 (9,007,199,254,740,992), the cap on counts, got '1e23'"]),
    (["show", "noam", "--steps", str(2**63 - 1)], ["argument --steps: must be a whole number below 2**53", f"got '{2**63 - 1}'"]),
    (["show", "noam", "--steps", str(2**53)], ["argument --steps: must be a whole number below 2**53", f"got '{2**53}'"]),
    (["show", "noam", "--steps", "2**63-1"], ["argument --steps: must be a whole number >= 1, got '2**63-1'"]),
    (["show", "noam", "--steps", "nan"], ["argument --steps", "got 'nan'"]),
    (["show", "noam", "--steps", "inf"], ["argument --steps", "got 'inf'"]),
    (["show", "noam", "--steps", ""], ["argument --steps", "got ''"]),
    (["plot", "noam", "--steps", "1e23", "--out", "x.png"], ["argument --steps: must be a whole number below 2**53", "got '1e23'"]),
    (["steps", "--examples", "1e29"], ["argument --examples: must be a whole number below 2**53", "got '1e29'"]),
    (["steps", "--max-steps", str(2**53)], ["argument --max-steps: must be a whole number below 2**53", f"got '{2**53}'"]),
    (["steps", "--examples", "100", "--batch-size", "1e20"], ["argument --batch-size: must be a whole number below 2**53"]),
    (["steps", "--examples", "100", "--epochs", "1e300"],
     ["argument --epochs: must be a number of epochs below 2**53 (9,007,199,254,740,992), got '1e300'"]),
    (["steps", "--examples", "100", "--epochs", "inf"], ["argument --epochs: must be a finite number > 0, got 'inf'"]),
    (["steps", "--examples", "100", "--epochs", "nan"], ["argument --epochs", "got 'nan'"]),
    (["steps", "--examples", "100", "--epochs", "1e15"],
     ["--epochs 1e+15 x 13 optimizer steps per epoch is a run of 1.3e+16 optimizer steps",
      "runs must be below 2**53 (9,007,199,254,740,992) steps"]),
    (["steps", "--max-steps", "1e15", "--processes", "10"],
     ["--processes 10: a transformers scheduler prepared by Accelerate would need 10 x 1,000,000,000,000,000",
      "at or above 2**53"]),
    (["steps", "--examples", "10", "--batch-size", "1e15", "--grad-accum", "1e15"],
     ["--batch-size 1,000,000,000,000,000 x --processes 1 x --grad-accum 1,000,000,000,000,000",
      "= 1e+30 examples per optimizer step, at or above 2**53"]),
    # caps: the terminal curve
    (["show", "noam", "--width", "100000000"], ["argument --width: must be a whole number <= 1,000 characters, got '100000000'"]),
    (["show", "noam", "--width", "9"], ["argument --width: must be a whole number >= 10, got '9'"]),
    (["show", "noam", "--height", "201"], ["argument --height: must be a whole number <= 200 lines, got '201'"]),
    (["show", "noam", "--height", "1"], ["argument --height: must be a whole number >= 2, got '1'"]),
    # caps: image pixels and dpi
    (["plot", "noam", "--size", "100000x100000"],
     ["argument --size: must be WIDTHxHEIGHT in pixels, each side in [100, 20,000] and at most 25,000,000 pixels",
      "got '100000x100000'"]),
    (["plot", "noam", "--size", "20000x20000"], ["at most 25,000,000 pixels in all", "got '20000x20000' (400,000,000 pixels)"]),
    (["plot", "noam", "--size", "5001x5000"], ["got '5001x5000' (25,005,000 pixels)"]),
    (["plot", "noam", "--size", "20001x100"], ["each side in [100, 20,000]", "got '20001x100'"]),
    (["plot", "noam", "--size=-1200x675"], ["argument --size", "got '-1200x675'"]),
    (["plot", "noam", "--dpi", "100000"], ["argument --dpi: must be a whole number <= 1,200 dots per inch, got '100000'"]),
    (["plot", "noam", "--dpi", "9"], ["argument --dpi: must be a whole number >= 10, got '9'"]),
    (["plot", "noam", "--dpi", "301", "--out", "x.png"],
     ["--dpi 301 with --size 1200x675 (the default): the figure would be 3.99 x 2.24 inches", "use --dpi <= 300"]),
    (["plot", "noam", "--size", "400x300", "--dpi", "101", "--out", "x.png"],
     ["--dpi 101 with --size 400x300:", "use --dpi <= 100 (at least 4 x 2 inches)"]),
    # other hostile input
    (["plot", "noam", "--out", ""], ["--out '': give an image path such as lr.png, or a directory to write lr.png into"]),
    (["show", "noam", "--warmup", "inf"], ["--warmup 'inf': must be a whole number of steps", "got a non-finite number"]),
    (["show", "noam", "--warmup", "1e400"], ["--warmup '1e400'", "got a non-finite number"]),
    (["show", "noam", "--warmup", "nan"], ["--warmup 'nan'", "got a non-finite number"]),
    (["steps", "--max-steps", "10", "--warmup=-inf"], ["--warmup '-inf'", "got a non-finite number"]),
    (["show", "noam", "--kwargs", ""], ["--kwargs must be a JSON object", "got ''"]),
    (["show", "noam", "--kwargs", "null"], ["--kwargs must be a JSON object", "got a NoneType: 'null'"]),
    (["show", "warmupcosine", "--kwargs", '{"num_cycles": NaN}'], ["num_cycles must be a finite number, got nan"]),
    (["show", "noam:d_model=1,d_model=2"], ["schedule 'noam:d_model=1,d_model=2': 'd_model' is given twice"]),
    (["show", "noam", "--kwargs", '{"d_model": 1, "factor": 1e300}', "--lr", "1e300"],
     ["noam: the LR is not a finite number at step 1 (--lr 1e+300 x the schedule's 1e+297)", "lower --lr"]),
    (["show", ":"], ["unknown schedule name ''", "(see: hf-sched list)"]),
    (["show", " "], ["argument NAME: a schedule name may not be empty"]),
    (["show", "noam", "--lr", "inf"], ["argument --lr: must be a finite number > 0, got 'inf'"]),
    (["show", "noam", "--beta2", "nan"], ["argument --beta2: must be a number in [0, 1), got 'nan'"]),
    (["plot", "noam", "--title", "$x^$", "--out", "x.png"],
     ["--title '$x^$': matplotlib cannot read the math text between its $ signs", "literal dollar sign as \\$"]),
    # warmup in epochs
    (["show", "warmupcosine", "--warmup", "1ep"],
     ["--warmup '1ep' is given in epochs, which needs the optimizer steps per epoch: give --steps-per-epoch N"]),
    (["plot", "noam", "--warmup", "1ep", "--out", "x.png"], ["--warmup '1ep' is given in epochs", "--steps-per-epoch"]),
    (["steps", "--max-steps", "100", "--warmup", "1ep"],
     ["--warmup '1ep' is given in epochs, which needs the steps per epoch: give --examples"]),
    (["show", "warmupcosine", "--steps", "3000", "--steps-per-epoch", "1000", "--warmup", "4ep"],
     ["--warmup '4ep'", "warmup of 4000 steps", "longer than the 3000 training steps"]),
    (["steps", "--examples", "100", "--batch-size", "10", "--epochs", "1", "--warmup", "2ep"],
     ["--warmup '2ep'", "warmup of 20 steps", "longer than the 10 training steps"]),
    (["show", "warmupcosine", "--steps-per-epoch", "100", "--warmup", "xep"], ["--warmup 'xep'", "like '1ep' or '0.5ep'"]),
    (["show", "warmupcosine", "--steps-per-epoch", "100", "--warmup=-1ep"], ["--warmup '-1ep'", "finite number of epochs >= 0"]),
    (["steps", "--examples", "100", "--warmup", "infep"], ["--warmup 'infep'", "finite number of epochs >= 0"]),
    (["show", "warmupcosine", "--steps-per-epoch", "0", "--warmup", "1ep"], ["argument --steps-per-epoch: must be a whole number >= 1"]),
    (["show", "constantlr", "--steps-per-epoch", "100", "--warmup", "1ep"], ["--warmup '1ep'", "'constantlr' has no warmup phase"]),
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



def test_console_script_bad_inputs_exit_2():
    proc = run_script("show", "warmup-cosin", "--steps", "-5")
    assert proc.returncode == 2 and proc.stdout == ""
    assert "hf-sched show: error: argument --steps: must be a whole number >= 1, got '-5'" in proc.stderr
    proc = run_script("show", "warmup-cosin", "--kwargs", '{"num_cycles": 2}')
    assert proc.returncode == 2 and proc.stdout == ""
    assert proc.stderr.startswith("hf-sched show: error: unknown schedule name 'warmup-cosin'. Did you mean 'warmupcosine'?")
    assert "Traceback" not in proc.stderr




# -- the caps: just inside each limit works, just past it is refused ----------------------


def test_steps_just_below_2_to_the_53_work(capsys):
    top = 2**53 - 1
    code, out, err = run_cli(capsys, "show", "warmuplinear", "--steps", str(top), "--json")
    assert code == 0, err
    data = json.loads(out)
    assert data["num_training_steps"] == top and data["sampled"] is True
    assert data["points"][-1]["step"] == top and data["final_lr"] == 0.0
    code, out, err = run_cli(capsys, "steps", "--examples", str(top), "--batch-size", "1", "--epochs", "1", "--json")
    assert code == 0, err
    assert json.loads(out)["num_training_steps"] == top
    code, out, err = run_cli(capsys, "steps", "--max-steps", str(top), "--json")
    assert code == 0, err
    assert json.loads(out)["num_training_steps"] == top


def test_csv_rows_cap_at_and_past_the_limit(capsys, monkeypatch):
    """The rule, with the cap lowered so the test is fast: T + 1 rows pass up to the cap, not one more."""
    from hf_sched.cli import show_cmd

    assert show_cmd.MAX_CSV_ROWS == MAX_CSV_ROWS == 10_000_001
    monkeypatch.setattr(show_cmd, "MAX_CSV_ROWS", 11)
    code, out, err = run_cli(capsys, "show", "warmuplinear", "--steps", "10", "--csv")
    assert code == 0, err
    assert len(out.splitlines()) == 1 + 11  # header + steps 0..10
    code, out, err = run_cli(capsys, "show", "warmuplinear", "--steps", "11", "--csv")
    assert code == 2 and out == ""
    assert "would print 12 rows; --csv prints at most 11 rows (--steps <= 10)" in err


def test_largest_image_and_dpi_are_written(capsys, tmp_path):
    """25,000,000 pixels at the largest dpi that size allows: a real PNG of that size."""
    out = tmp_path / "big.png"
    code, text, err = run_cli(capsys, "plot", "noam", "--steps", "100", "--size", "5000x5000", "--dpi", "1200",
                              "--out", str(out))
    assert code == 0, err
    assert png_size(out) == (5000, 5000)
    out = tmp_path / "dpi.png"
    code, _, err = run_cli(capsys, "plot", "noam", "--steps", "100", "--dpi", "300", "--out", str(out))
    assert code == 0, err  # 1200x675 at 300 dpi is exactly 4 x 2.25 inches
    assert png_size(out) == (1200, 675)


def test_plot_names_cap(capsys, tmp_path):
    names = [f"noam:d_model={i}" for i in range(1, MAX_PLOT_NAMES + 2)]
    code, out, err = run_cli(capsys, "plot", *names, "--out", str(tmp_path / "many.png"))
    assert code == 2 and out == "" and not list(tmp_path.iterdir())
    assert err == "hf-sched plot: error: 51 schedule names: plot draws at most 50 in one figure; split them over several plots\n"
    code, out, err = run_cli(capsys, "plot", *names[:MAX_PLOT_NAMES], "--steps", "100", "--out", str(tmp_path / "many.png"))
    assert code == 0, err
    assert "50 schedules over 100 steps" in out


def test_dpi_limit_follows_the_size():
    assert [max_dpi(s) for s in [(1200, 675), (400, 300), (100, 100), (20_000, 1250), (5000, 5000)]] == [
        300, 100, 25, 625, 1200]


def test_every_cap_is_in_the_docs():
    """docs/cli.md states each cap with the number the code enforces."""
    doc = (ROOT / "docs" / "cli.md").read_text(encoding="utf-8")
    section = doc.split("## Limits", 1)[1].split("\n## ", 1)[0]
    for text in [f"{MAX_CSV_ROWS:,} rows", f"{MAX_PIXELS:,} pixels", f"[{MIN_SIDE}, {MAX_SIDE:,}]",
                 f"[{MIN_DPI}, {MAX_DPI:,}]", "2**53", f"{MAX_COUNT + 1:,}",
                 f"[{TERMINAL_WIDTH[0]}, {TERMINAL_WIDTH[1]:,}]", f"[{TERMINAL_HEIGHT[0]}, {TERMINAL_HEIGHT[1]}]",
                 f"WIDTH / {MIN_FIGURE_INCHES[0]}", f"HEIGHT / {MIN_FIGURE_INCHES[1]}",
                 f"at most {MAX_PLOT_NAMES} schedules"]:
        assert text in section, text


def test_an_unwritable_out_is_one_line(capsys, tmp_path):
    blocker = tmp_path / "a-file"
    blocker.write_text("not a folder")
    code, out, err = run_cli(capsys, "plot", "noam", "--out", str(blocker / "sub" / "lr.png"))
    assert code == 2 and out == ""
    assert err.count("\n") == 1 and "Traceback" not in err
    assert f"cannot write the image {str(blocker / 'sub' / 'lr.png')!r}: {str(blocker)!r} is a file, not a directory" in err
    assert sorted(p.name for p in tmp_path.iterdir()) == ["a-file"]


@pytest.mark.skipif(not Path("/proc/self").is_dir(), reason="needs Linux /proc (not writable, even by root)")
def test_out_under_proc_is_one_line(capsys):
    code, out, err = run_cli(capsys, "plot", "noam", "--out", "/proc/hf-sched-test/lr.png")
    assert code == 2 and out == ""
    assert err.startswith("hf-sched plot: error: --out '/proc/hf-sched-test/lr.png': cannot write the image")
    assert err.count("\n") == 1


def test_a_warning_is_one_line_on_stderr(capsys, monkeypatch):
    """A warning from the library (e.g. a warmup that covers the whole run) reads like an error line."""
    import warnings

    import hf_sched.cli as cli

    def warns(args):
        warnings.warn("warmup 100 covers all 100 training steps", UserWarning, stacklevel=2)
        return 0

    monkeypatch.setitem(cli._COMMANDS, "list", warns)
    code, out, err = run_cli(capsys, "list")
    assert code == 0 and out == ""
    assert err == "hf-sched list: warning: warmup 100 covers all 100 training steps\n"


def test_limit_examples_in_the_docs_are_current(capsys, tmp_path, monkeypatch):
    """Each `$ hf-sched ...` in the docs' Limits section prints the error line shown under it."""
    monkeypatch.chdir(tmp_path)
    doc = (ROOT / "docs" / "cli.md").read_text(encoding="utf-8")
    block = doc.split("## Limits", 1)[1].split("```text\n", 1)[1].split("```", 1)[0].splitlines()
    pairs = [(block[i], block[i + 1]) for i in range(0, len(block), 2)]
    assert len(pairs) == 3
    for command, shown in pairs:
        code, out, err = run_cli(capsys, *shlex.split(command.removeprefix("$ hf-sched ")))
        assert code == 2 and out == ""
        assert err.splitlines()[-1] == shown


@pytest.mark.parametrize(
    ("argv", "expected"),
    [
        (["show", "noam", "--kwargs", "[" * 100_000 + "]" * 100_000], "cannot read '[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[['...: nested too deeply"),
        (["show", "noam:d_model=" + "[" * 100_000], "value is nested too deeply to read"),
        (["show", "noam", "--kwargs", '{"d_model": ' + "9" * 5000 + "}"], "Exceeds the limit (4300 digits)"),
    ],
    ids=["deep --kwargs", "deep NAME:key=value", "5000-digit kwarg"],
)
def test_huge_json_is_one_line(capsys, argv, expected):
    """JSON nested 100,000 deep (a RecursionError) or an int of 5,000 digits: one line, exit 2."""
    code, out, err = run_cli(capsys, *argv)
    assert code == 2 and out == ""
    assert err.count("\n") == 1 and "Traceback" not in err
    assert expected in err
