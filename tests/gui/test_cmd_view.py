"""``bshm view``: starts, reports missing Qt and bad paths on one line."""

from __future__ import annotations

import os
import subprocess
import sys

import pytest

from bshm.cli import main


def test_help_names_the_extra(capsys):
    with pytest.raises(SystemExit) as info:
        main(["view", "--help"])
    assert info.value.code == 0
    out = capsys.readouterr().out
    assert 'pip install -e ".[gui]"' in out
    assert "PATH" in out.upper()
    for opt in ("--export-png", "--tab", "--time", "--channels"):
        assert opt in out


def test_missing_path_is_one_line(tmp_path, capsys):
    assert main(["view", str(tmp_path / "nowhere")]) == 1
    err = capsys.readouterr().err.strip().splitlines()
    assert len(err) == 1
    assert "nowhere" in err[0]
    assert "no such" in err[0]


def test_missing_qt_is_one_line_naming_the_extra():
    code = (
        "import sys; sys.modules['pyqtgraph'] = None\n"
        "from bshm.cli import main; sys.exit(main(['view']))"
    )
    run = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, timeout=60)
    assert run.returncode == 1
    lines = run.stderr.strip().splitlines()
    assert len(lines) == 1, run.stderr
    assert 'pip install -e ".[gui]"' in lines[0]


def test_view_opens_and_exits(sim_dir, tmp_path):
    env = dict(os.environ, QT_QPA_PLATFORM="offscreen")
    run = subprocess.run(
        [
            sys.executable,
            "-m",
            "bshm",
            "view",
            str(sim_dir),
            "--exit-after",
            "2",
            "--settings",
            str(tmp_path / "v.ini"),
        ],
        env=env,
        capture_output=True,
        text=True,
        timeout=120,
        cwd=tmp_path,
    )
    assert run.returncode == 0, run.stderr
    assert str(sim_dir.resolve()) in (tmp_path / "v.ini").read_text()


NS = 10**9


def _image(path):
    from pyqtgraph.Qt import QtGui

    img = QtGui.QImage(str(path))
    assert not img.isNull(), path
    return img


def _has_colour(img, hex_colour: str, tol: int = 10) -> int:
    """How many sampled pixels are within ``tol`` of a colour."""
    from pyqtgraph.Qt import QtGui

    c = QtGui.QColor(hex_colour)
    n = 0
    for x in range(0, img.width(), 2):
        for y in range(0, img.height(), 2):
            p = QtGui.QColor(img.pixel(x, y))
            if (
                abs(p.red() - c.red()) + abs(p.green() - c.green()) + abs(p.blue() - c.blue())
                <= tol
            ):
                n += 1
    return n


def test_export_png_of_chosen_channels_and_time(sim_dir, tmp_path, capsys):
    from bshm.gui.signal_view import PENS

    from bshm.store import open_raw

    with open_raw(sim_dir) as r:
        a, b = r.records("acc")[1]
        names = [c.name for c in r.sources["acc"].channels]
    t0 = a + 10 * NS
    from bshm.timeutil import to_iso

    rng = f"{to_iso(t0)}..{to_iso(t0 + 30 * NS)}"
    out = tmp_path / "sig.png"
    code = main(
        [
            "view",
            str(sim_dir),
            "--export-png",
            str(out),
            "--tab",
            "signals",
            "--time",
            rng,
            "--channels",
            f"{names[0]},{names[1]}",
        ]
    )
    assert code == 0
    assert capsys.readouterr().out.strip() == str(out)
    img = _image(out)
    assert (img.width(), img.height()) == (1366, 768)
    assert _has_colour(img, PENS[0]) > 50  # the first chosen channel is drawn
    assert _has_colour(img, PENS[1]) > 50
    assert _has_colour(img, PENS[2]) == 0  # a third channel is not


@pytest.mark.parametrize(
    ("args", "words"),
    [
        (["--tab", "signals", "--time", "yesterday"], ["--time", "FROM..TO"]),
        (["--tab", "signals", "--time", "2020-01-01..2020-01-02"], ["--time", "no data"]),
        (["--channels", "NOPE"], ["--channels", "NOPE"]),
        (["--tab", "trends"], ["--tab trends", "no results"]),
        (["--size", "big"], ["--size"]),
    ],
)
def test_export_png_bad_input_is_one_line(sim_dir, tmp_path, capsys, args, words):
    code = main(["view", str(sim_dir), "--export-png", str(tmp_path / "x.png"), *args])
    assert code == 2
    err = capsys.readouterr().err.strip().splitlines()
    assert len(err) == 1, err
    for w in words:
        assert w in err[0]
    assert not (tmp_path / "x.png").exists()


def test_export_options_need_export_png(sim_dir, capsys):
    assert main(["view", str(sim_dir), "--tab", "spectra"]) == 2
    assert "--export-png" in capsys.readouterr().err


@pytest.mark.parametrize("tab", ["spectra", "modal", "live"])
def test_export_png_other_tabs(sim_dir, tmp_path, tab):
    out = tmp_path / f"{tab}.png"
    assert main(["view", str(sim_dir), "--export-png", str(out), "--tab", tab]) == 0
    img = _image(out)
    colours = {
        img.pixel(x, y) for x in range(0, img.width(), 23) for y in range(0, img.height(), 17)
    }
    assert len(colours) > 20, "the export is blank"
