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
    assert "pip install 'bshm[gui]'" in out
    assert "PATH" in out.upper()


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
    assert "pip install 'bshm[gui]'" in lines[0]


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
