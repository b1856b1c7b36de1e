"""docs/scheduling.md: the cron line and the systemd units are valid."""

from __future__ import annotations

import configparser
import re
import shutil
import subprocess
import sys
from pathlib import Path

import pytest

DOC = Path(__file__).resolve().parents[2] / "docs" / "scheduling.md"


def blocks(lang: str) -> list[str]:
    return re.findall(rf"```{lang}\n(.*?)```", DOC.read_text(), flags=re.S)


def _field_ok(field: str, lo: int, hi: int) -> bool:
    for part in field.split(","):
        m = re.fullmatch(r"(\*|(\d+)(?:-(\d+))?)(?:/(\d+))?", part)
        if not m:
            return False
        if m.group(2) is not None:
            a = int(m.group(2))
            b = int(m.group(3)) if m.group(3) else a
            if not (lo <= a <= b <= hi):
                return False
        if m.group(4) is not None and int(m.group(4)) < 1:
            return False
    return True


def test_cron_line_is_valid():
    lines = [
        ln for b in blocks("cron") for ln in b.splitlines() if ln.strip() and not ln.startswith("#")
    ]
    assert len(lines) == 1
    fields = lines[0].split()
    ranges = [(0, 59), (0, 23), (1, 31), (1, 12), (0, 7)]
    assert all(_field_ok(f, lo, hi) for f, (lo, hi) in zip(fields[:5], ranges)), fields[:5]
    assert fields[5].endswith("/bshm")
    assert "analyze" in fields[6:]
    assert not _field_ok("61", 0, 59)
    assert not _field_ok("*/0", 0, 59)


def _units(tmp_path: Path) -> list[Path]:
    ini = blocks("ini")
    assert len(ini) == 2
    bshm = Path(sys.executable).with_name("bshm")
    paths = []
    for name, text in zip(("bshm-analyze@test.service", "bshm-analyze@test.timer"), ini):
        text = text.replace("/opt/bshm/.venv/bin/bshm", str(bshm))
        text = re.sub(r"^(User|Group)=.*$", "", text, flags=re.M)  # no such user here
        p = tmp_path / name
        p.write_text(text)
        paths.append(p)
    return paths


def test_units_parse(tmp_path):
    service, timer = _units(tmp_path)
    for p, sections in ((service, {"Unit", "Service"}), (timer, {"Unit", "Timer", "Install"})):
        cp = configparser.ConfigParser(strict=True, interpolation=None)
        cp.optionxform = str
        cp.read(p)
        assert set(cp.sections()) == sections
    cp = configparser.ConfigParser(interpolation=None)
    cp.optionxform = str
    cp.read(service)
    assert cp["Service"]["Type"] == "oneshot"
    assert cp["Service"]["SuccessExitStatus"] == "75"
    assert " analyze /data/%i" in cp["Service"]["ExecStart"]


def _verify(paths: list[Path]) -> list[str]:
    r = subprocess.run(
        ["systemd-analyze", "verify", "--man=no", *map(str, paths)],
        capture_output=True,
        text=True,
        timeout=60,
    )
    # systemd-analyze exits 0 even for unknown keys or bad values: read its messages
    return [ln for ln in (r.stdout + r.stderr).splitlines() if any(p.name in ln for p in paths)]


@pytest.mark.skipif(shutil.which("systemd-analyze") is None, reason="systemd-analyze not installed")
def test_units_verify_with_systemd(tmp_path):
    service, timer = _units(tmp_path)
    assert _verify([service, timer]) == []
    bad = tmp_path / "bshm-bad.service"
    bad.write_text(service.read_text().replace("Type=oneshot", "Type=oneshoot"))
    assert _verify([bad])  # the check does catch a mistake
