"""A normal (wheel) install and the editable install both carry every part."""

from __future__ import annotations

import os
import subprocess
import sys
import zipfile
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[2]
SUBPACKAGES = ["bshm", "bshm.cli", "bshm.store", "bshm.io", "bshm.delivery",
               "bshm.acquisition", "bshm.analysis", "bshm.gui", "bshm.fixtures"]
PROBE = (
    "import importlib, importlib.resources as r, sys\n"
    "for m in {subs!r}:\n"
    "    mod = importlib.import_module(m)\n"
    "    print(m, mod.__file__)\n"
    "t = r.files('bshm.fixtures').joinpath('data', 'simulated_station.toml').read_text()\n"
    "assert '[station]' in t\n"
    "from bshm.cli import build_parser; build_parser()\n"
)


@pytest.mark.slow
def test_wheel_holds_every_subpackage_and_data(tmp_path):
    out = tmp_path / "dist"
    subprocess.run(
        [sys.executable, "-m", "pip", "wheel", "--no-deps", "--no-build-isolation", "-q",
         "-w", str(out), str(ROOT)],
        check=True, capture_output=True, text=True, cwd=tmp_path,
    )
    (wheel,) = out.glob("bshm-*.whl")
    names = zipfile.ZipFile(wheel).namelist()
    for sub in SUBPACKAGES:
        assert sub.replace(".", "/") + "/__init__.py" in names, sub
    assert "bshm/fixtures/data/simulated_station.toml" in names
    assert not any(n.startswith(("analysis/", "acquisition/", "gui/", "fixtures/")) for n in names)
    # import from the unpacked wheel only (deps from this venv), away from the repo
    site = tmp_path / "site"
    zipfile.ZipFile(wheel).extractall(site)
    env = dict(os.environ, PYTHONPATH=str(site))
    res = subprocess.run([sys.executable, "-P", "-c", PROBE.format(subs=SUBPACKAGES)],
                         env=env, cwd=tmp_path, capture_output=True, text=True)
    assert res.returncode == 0, res.stderr
    for line in res.stdout.splitlines():
        assert line.split()[1].startswith(str(site)), line


def test_editable_install_maps_the_folders(tmp_path):
    res = subprocess.run([sys.executable, "-P", "-c", PROBE.format(subs=SUBPACKAGES)],
                         cwd=tmp_path, capture_output=True, text=True)
    assert res.returncode == 0, res.stderr
    files = dict(line.split(" ", 1) for line in res.stdout.splitlines())
    assert files["bshm.analysis"] == str(ROOT / "analysis" / "__init__.py")
    assert files["bshm.gui"] == str(ROOT / "gui" / "__init__.py")
