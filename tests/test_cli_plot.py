"""Tests of ``hf-sched plot``: real PNG/SVG files of the expected size, ``--out`` paths, a million steps."""

from __future__ import annotations

import subprocess

import pytest

from cli_runner import ROOT, SIX, env, png_size, run_cli, script


# -- plot ---------------------------------------------------------------------------------


def test_plot_writes_a_valid_png_of_the_expected_size(capsys, tmp_path):
    import matplotlib.image

    out = tmp_path / "lr.png"
    code, text, err = run_cli(capsys, "plot", "warmuplinear", "warmupcosine", "noam", "--steps", "1000", "--out", str(out))
    assert code == 0 and err == ""
    assert f"wrote {out} (1200x675 px, 3 schedules over 1,000 steps" in text
    assert png_size(out) == (1200, 675)
    img = matplotlib.image.imread(out)
    assert img.shape == (675, 1200, 4)
    assert 0.2 < float(img[..., :3].mean()) < 0.99  # not blank: white background with curves


def test_plot_size_dpi_log_y_and_title(capsys, tmp_path):
    out = tmp_path / "sub" / "dir" / "small.png"  # parent folders are created
    code, _, err = run_cli(capsys, "plot", "cosine", "--steps", "100", "--lr", "3e-4", "--log-y",
                           "--size", "640x360", "--dpi", "80", "--title", "mine", "--out", str(out))
    assert code == 0, err
    assert png_size(out) == (640, 360)


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
    assert png_size(path) == (1200, 675)



def test_console_script_plot_a_million_steps_without_torch(tmp_path):
    """The real script writes a valid PNG of the expected size, and imports no torch."""
    import matplotlib.image

    out = tmp_path / "million.png"
    proc = subprocess.run(
        [script(), "plot", *SIX, "--steps", "1000000", "--out", str(out)],
        capture_output=True, text=True, encoding="utf-8", timeout=120,
        env={**env(), "PYTHONPROFILEIMPORTTIME": "1"},  # -X importtime: every import on stderr
    )
    assert proc.returncode == 0, proc.stderr[-2000:]
    assert "6 schedules over 1,000,000 steps" in proc.stdout
    assert png_size(out) == (1200, 675)
    assert matplotlib.image.imread(out).shape == (675, 1200, 4)
    imported = {line.rsplit("|", 1)[-1].strip() for line in proc.stderr.splitlines() if line.startswith("import time:")}
    assert "matplotlib" in imported and "hf_sched.plot" in imported  # the profile did record imports
    assert not {m for m in imported if m.split(".")[0] in ("torch", "transformers", "accelerate")}




def test_plot_out_directory_writes_lr_png_inside(capsys, tmp_path):
    """Issue 15: `--out <a directory>` used to write `<directory>.png` beside it."""
    folder = tmp_path / "figures"
    folder.mkdir()
    code, text, err = run_cli(capsys, "plot", "noam", "--steps", "100", "--out", str(folder))
    assert code == 0, err
    assert text.startswith(f"wrote {folder / 'lr.png'} (1200x675 px")
    assert png_size(folder / "lr.png") == (1200, 675)
    assert sorted(p.name for p in tmp_path.iterdir()) == ["figures"]  # nothing beside it


def test_plot_out_with_a_trailing_slash_is_a_new_directory(capsys, tmp_path):
    code, text, err = run_cli(capsys, "plot", "noam", "--steps", "100", "--out", f"{tmp_path / 'new'}/")
    assert code == 0, err
    assert png_size(tmp_path / "new" / "lr.png") == (1200, 675)
    assert sorted(p.name for p in tmp_path.iterdir()) == ["new"]


def test_plot_schedules_refuses_a_directory(tmp_path):
    from hf_sched.plot import plot_schedules

    with pytest.raises(ValueError, match=r"out '.*' is a directory; give a file path such as '.*lr\.png'"):
        plot_schedules(["noam"], steps=100, out=tmp_path)
    with pytest.raises(ValueError, match="is a directory"):
        plot_schedules(["noam"], steps=100, out=str(tmp_path))
    assert list(tmp_path.iterdir()) == [] and not tmp_path.with_suffix(".png").exists()
