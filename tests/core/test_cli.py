"""The command line: help, version, exit codes, one-line errors."""

from __future__ import annotations

import subprocess
import sys
import time
from pathlib import Path

import pytest

from bshm import __version__
from bshm.cli import build_parser, main

BSHM = str(Path(sys.executable).with_name("bshm"))


def test_version_and_help(capsys):
    with pytest.raises(SystemExit) as e:
        main(["--version"])
    assert e.value.code == 0 and __version__ in capsys.readouterr().out
    with pytest.raises(SystemExit) as e:
        main(["--help"])
    out = capsys.readouterr().out
    assert e.value.code == 0 and "new-station" in out


def test_every_command_has_help(capsys):
    parser = build_parser()
    sub = next(a for a in parser._actions if a.dest == "command")
    for name, p in sub.choices.items():
        text = p.format_help()
        assert len(text) > 80, name


def test_usage_errors_exit_2(capsys):
    with pytest.raises(SystemExit) as e:
        main(["no-such-command"])
    assert e.value.code == 2
    assert main([]) == 2


def test_config_error_is_one_line_exit_2(tmp_path, capsys):
    (tmp_path / "station.toml").write_text("x")
    rc = main(["new-station", str(tmp_path)])  # exists -> failure, exit 1
    assert rc == 1
    err = capsys.readouterr().err
    assert err.count("\n") == 1 and "Traceback" not in err and "--force" in err


def test_new_station_writes_loadable_config(tmp_path, capsys):
    import bshm

    assert main(["new-station", str(tmp_path / "s"), "--simulated"]) == 0
    st = bshm.load_station(tmp_path / "s" / "station.toml")
    assert {s.kind for s in st.sources} == {"serial", "modbus-tcp", "modbus-rtu"}
    assert main(["new-station", str(tmp_path / "r")]) == 0
    assert bshm.load_station(tmp_path / "r" / "station.toml").sources[0].kind == "serial"


def test_installed_entry_point_starts_fast():
    t0 = time.perf_counter()
    out = subprocess.run([BSHM, "--help"], capture_output=True, text=True, check=True)
    elapsed = time.perf_counter() - t0
    assert "COMMAND" in out.stdout
    # lazy imports: --help must not load numba, h5py or Qt
    probe = subprocess.run(
        [sys.executable, "-c",
         "import sys; from bshm.cli import build_parser; build_parser();"
         "print(sorted(m for m in ('numba','h5py','PySide6','scipy','pymodbus') if m in sys.modules))"],
        capture_output=True, text=True, check=True)
    assert probe.stdout.strip() == "[]"
    assert elapsed < 30  # a sanity bound only; speed is measured in benchmarks
