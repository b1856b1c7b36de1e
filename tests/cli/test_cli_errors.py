"""Item 6 of issue 11: every error one line, with its exit code (config side).

(The analyze, import and new-station cases on full, read-only or damaged
storage are in test_analyze_faults.py and test_import_faults.py.)"""

from __future__ import annotations

from pathlib import Path

import pytest

from bshm.cli import main

GOOD = """\
[station]
name = "b1"
{extra}
[[sources]]
name = "acc"
kind = "serial"
port = "/dev/ttyUSB0"
fs = {fs}
[[sources.channels]]
name = "A01"
quantity = "acceleration"
unit = "m/s2"
{chan}
{tail}
"""


def _toml(tmp_path: Path, *, extra="", fs="100", chan="", tail="", name="b1") -> Path:
    p = tmp_path / "station.toml"
    p.write_text(GOOD.format(extra=extra, fs=fs, chan=chan, tail=tail).replace('"b1"',
                                                                             f'"{name}"'))
    return p


CASES = [
    ("rollover inf", {"extra": "rollover = inf"}, "station.rollover: inf is not a finite duration"),
    ("rollover 1e300", {"extra": "rollover = 1e300"}, "station.rollover: 1e+300 is longer than"),
    ("window inf", {"tail": "[analysis]\nwindow = inf"}, "analysis.window: inf is not a finite"),
    ("window 1e300", {"tail": "[analysis]\nwindow = 1e300"}, "analysis.window: 1e+300 is longer"),
    ("fs 1e-300", {"fs": "1e-300"}, "sources[0].fs: 1e-300 is implausibly small"),
    ("scale 1e308", {"chan": "scale = 1e308"}, "scale: 1e+308 is implausibly large"),
    ("location inf", {"chan": "location = inf"}, "location: inf is not a location on a bridge"),
    ("name 101 bytes", {"name": "n" * 101}, "station.name: 'nnnnnnnn"),
    ("name unsafe", {"name": "a/../b"}, "is not usable in a file name"),
    ("nested TOML", {"tail": "x = " + "[" * 3000 + "]" * 3000},
     "nested too deeply to read"),
]


@pytest.mark.parametrize(("desc", "kw", "fragment"), CASES, ids=[c[0] for c in CASES])
def test_config_problem_is_one_line_exit_2(tmp_path, capsys, desc, kw, fragment):
    cfg = _toml(tmp_path, **kw)
    data = tmp_path / "data"
    data.mkdir()
    assert main(["analyze", str(data), "--config", str(cfg)]) == 2
    err = capsys.readouterr().err
    assert err.count("\n") == 1, err
    assert fragment in err and str(cfg) in err and "Traceback" not in err
