"""Tests of :mod:`hf_sched.plot`: point reduction, figures, PNG output, terminal curve."""

from __future__ import annotations

import subprocess
import sys
import time

import numpy as np
import pytest

from hf_sched.plot import curve_points, plot_schedules, resolve_schedules, sample_steps, terminal_plot
from hf_sched.registry import build_schedule
from hf_sched.schedules import CosineHardRestarts, Linear, Noam

SIX = ["constantlr", "warmupconstant", "warmuplinear", "warmupcosine", "warmupcosinewithhardrestarts", "noam"]


# -- sampling and reduction ---------------------------------------------------------------


def test_sample_steps_dense_then_grid_with_exact_boundaries():
    assert sample_steps(3).tolist() == [0, 1, 2, 3]
    x = sample_steps(10_000_000, warmup=123_457, max_dense=1000)
    assert np.all(np.diff(x) > 0) and x.dtype == np.int64
    assert {0, 123_456, 123_457, 123_458, 9_999_999, 10_000_000} <= set(x.tolist())
    assert 1000 <= len(x) <= 1006
    with pytest.raises(ValueError, match="steps must be an integer >= 1, got 0"):
        sample_steps(0)


def test_curve_points_small_run_is_every_step():
    s = build_schedule("warmupcosine", num_training_steps=50)
    x, y = curve_points(s, lr=2.0)
    assert x.tolist() == list(range(51))
    np.testing.assert_array_equal(y, 2.0 * s.values(np.arange(51)))


def test_curve_points_million_steps_keeps_boundaries_and_envelope():
    t = 1_000_000
    s = CosineHardRestarts(num_training_steps=t, num_warmup_steps=33_333, num_cycles=50)
    x, y = curve_points(s, max_points=4000)
    assert len(x) <= 4000 + 8
    assert np.all(np.diff(x) > 0)
    for step in (0, 33_332, 33_333, 33_334, t - 1, t):
        assert step in x
    np.testing.assert_array_equal(y, s.values(x))  # every kept point is an exact value
    # all 50 restarts survive the reduction: the curve still touches 1 after each restart
    full = s.values(np.arange(t + 1))
    restarts = np.flatnonzero(np.diff(full) > 0.5) + 1
    assert len(restarts) == 49
    for r in restarts:
        assert r in x and y[np.searchsorted(x, r)] == pytest.approx(1.0)
    assert y.min() == full.min() and y.max() == full.max()


def test_curve_points_longer_range_shows_the_hold():
    x, y = curve_points(Linear(num_training_steps=10), steps=20)
    assert x[-1] == 20 and y[-1] == 0.0 and np.all(y[x >= 10] == 0.0)


def test_curve_points_rejects_bad_arguments():
    s = Linear(num_training_steps=10)
    with pytest.raises(ValueError, match="lr must be a number > 0, got 0"):
        curve_points(s, lr=0)
    with pytest.raises(ValueError, match="max_points must be an integer >= 16"):
        curve_points(s, max_points=3)


# -- figures ------------------------------------------------------------------------------


def _lines(fig):
    return [ln for ln in fig.axes[0].get_lines() if not ln.get_label().startswith("_")]


def test_plot_six_canonical_schedules_labelled_with_warmup_marked():
    fig = plot_schedules(SIX, steps=1000)
    ax = fig.axes[0]
    labels = [ln.get_label() for ln in _lines(fig)]
    assert labels[0] == "constantlr (no warmup)"
    assert labels[1:4] == ["warmupconstant", "warmuplinear", "warmupcosine"]
    assert labels[4] == "warmupcosinewithhardrestarts\n  (same curve as warmupcosine)"
    assert labels[5] == "noam"
    legend = [t.get_text() for t in ax.get_legend().get_texts()]
    assert "warmup: 100 steps (10%)" in legend
    vlines = [ln for ln in ax.get_lines() if ln.get_label().startswith("_") and list(ln.get_xdata()) == [100, 100]]
    assert len(vlines) == 1  # the end of warmup
    assert any("end of warmup" in t.get_text() and "100" in t.get_text() for t in ax.texts)
    assert ax.get_xlim() == (0.0, 1000.0)
    assert "1,000 optimizer steps" in ax.get_title(loc="left")
    # each curve is drawn through its exact values at 0, W and T
    for line, name in zip(_lines(fig), SIX):
        s = build_schedule(name, num_training_steps=1000)
        x, y = np.asarray(line.get_xdata()), np.asarray(line.get_ydata())
        for step in (0, s.num_warmup_steps, 1000):
            assert y[np.searchsorted(x, step)] == s(step)


def test_plot_a_million_steps_is_fast_and_draws_few_points():
    plot_schedules(["warmupcosine"], steps=1000)  # warm up matplotlib's imports and fonts
    start = time.perf_counter()
    fig = plot_schedules(SIX, steps=1_000_000)
    fig.canvas.draw()
    elapsed = time.perf_counter() - start
    assert all(len(ln.get_xdata()) <= 4008 for ln in _lines(fig))
    assert elapsed < 5.0  # typically ~0.3 s; generous for a loaded CI machine


def test_plot_dict_of_schedules_with_different_warmups_and_lr(tmp_path):
    scheds = {
        "short": Linear(num_training_steps=100, num_warmup_steps=5),
        "long": Noam(num_training_steps=200, num_warmup_steps=50),
    }
    fig = plot_schedules(scheds, lr=3e-4)
    ax = fig.axes[0]
    assert [ln.get_label() for ln in _lines(fig)] == ["short (warmup 5)", "long (warmup 50)"]
    assert ax.get_xlim() == (0.0, 200.0)  # the longest run
    assert "3e-04" in ax.get_ylabel() or "0.0003" in ax.get_ylabel()
    marks = sorted(ln.get_xdata()[0] for ln in ax.get_lines() if ln.get_label().startswith("_"))
    assert marks == [5, 50]
    assert max(np.max(ln.get_ydata()) for ln in _lines(fig)) == pytest.approx(3e-4)


def test_plot_writes_png_of_exact_size(tmp_path):
    import matplotlib.image

    out = tmp_path / "lr.png"
    plot_schedules(["warmuplinear", "noam"], steps=300, out=out, size=(800, 450), dpi=100, log_y=True)
    assert out.read_bytes()[:8] == b"\x89PNG\r\n\x1a\n"
    assert matplotlib.image.imread(out).shape == (450, 800, 4)


def test_plot_log_y_leaves_zeros_out():
    fig = plot_schedules(["warmuplinear"], steps=100, log_y=True)
    y = np.asarray(_lines(fig)[0].get_ydata())
    assert np.isnan(y[0]) and np.isnan(y[-1]) and np.nanmin(y) > 0
    assert fig.axes[0].get_yscale() == "log"


def test_resolve_schedules_errors():
    with pytest.raises(ValueError, match="steps"):
        resolve_schedules(["noam"])
    with pytest.raises(ValueError, match="no schedules to plot"):
        resolve_schedules([])
    with pytest.raises(TypeError, match="must be a hf_sched Schedule"):
        resolve_schedules({"x": 3})
    with pytest.raises(ValueError, match="unknown schedule name 'nome'"):
        plot_schedules(["nome"], steps=10)
    assert list(resolve_schedules(["cosine", "warmup-cosine"], steps=10)) == ["warmupcosine", "warmupcosine #2"]


def test_import_is_cheap():
    code = "import sys, hf_sched.plot; print('matplotlib' in sys.modules, 'torch' in sys.modules)"
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True).stdout
    assert out.split() == ["False", "False"]


# -- terminal curve -----------------------------------------------------------------------


def test_terminal_plot_shape_and_marks():
    s = build_schedule("warmuplinear", num_training_steps=1000)
    text = terminal_plot(s, width=60, height=12)
    rows = text.splitlines()
    assert len(rows) == 12 + 3  # chart, axis, x labels, warmup legend
    assert rows[0].startswith("  1 ┤") and rows[6].startswith("0.5 ┤")
    axis = rows[12]
    assert axis.startswith("  0 └") and len(axis) == len("  0 └") + 60
    assert axis.index("┴") - axis.index("└") - 1 == 6  # step 100 of 0..1000 is in column 6 of 60
    assert rows[13].split() == ["0", "100", "1,000"]
    assert rows[14].strip() == "┴ end of warmup: step 100"
    # a linear decay: column heights fall monotonically after the peak
    heights = [sum(" ▁▂▃▄▅▆▇█".index(r[5 + c]) if len(r) > 5 + c else 0 for r in rows[:12]) for c in range(60)]
    assert heights[6] == max(heights) == 96
    assert all(a >= b for a, b in zip(heights[6:], heights[7:]))


def test_terminal_plot_ascii_no_warmup_and_tiny_runs():
    text = terminal_plot(build_schedule("constantlr", num_training_steps=3), width=12, height=3, ascii_only=True)
    assert text.isascii() and "end of warmup" not in text
    assert text.splitlines()[0].lstrip() == "1 +############"
    text = terminal_plot(build_schedule("warmupcosine", num_training_steps=1), width=10, height=2)
    assert "end of warmup" not in text  # W = T = 1: the boundary is the end


def test_terminal_plot_lr_labels():
    text = terminal_plot(build_schedule("noam", num_training_steps=100), lr=2e-5, width=20, height=4)
    assert text.splitlines()[0].startswith("2e-05 ┤")
    assert text.splitlines()[2].startswith("1e-05 ┤")
