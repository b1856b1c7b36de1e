"""``bshm analyze``: --json contract, exit codes, lock, inferred settings."""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path

import pytest
from bshm.analysis.job import job_lock

from bshm.cli import main

sys.path.insert(0, str(Path(__file__).resolve().parents[1] / "analysis"))
from test_job_support import HOUR_NS, START_NS, copy_raw, write_history, write_station  # noqa: E402

BSHM = str(Path(sys.executable).with_name("bshm"))
N_REC, EVERY_H, DAMAGE_REC = 16, 2.0, 12


@pytest.fixture(scope="module")
def history(tmp_path_factory) -> Path:
    from bshm.fixtures.bridge import Damage

    out = tmp_path_factory.mktemp("clihist")
    dmg = Damage(
        x_m=35.0,
        length_m=4.0,
        severity=0.45,
        time_ns=START_NS + int(DAMAGE_REC * EVERY_H * HOUR_NS),
    )
    write_history(out, N_REC, every_h=EVERY_H, damage=dmg, seed=11)
    write_station(out)
    return out


def test_json_contract_and_fail_on_alarm(history, tmp_path, capsys):
    d = copy_raw(history, tmp_path / "a")
    code = main(["analyze", str(d), "--json", "--fail-on-alarm", "warning"])
    out = json.loads(capsys.readouterr().out)
    assert code == 3  # the damage raised a warning (level 2) or worse in this run
    assert out["windows"]["processed"] == N_REC
    assert out["windows"]["skipped"] == {}
    for m in out["tracked_modes"]:
        assert set(m) == {"id", "mean_frequency_hz", "availability"}
        assert 0 < m["availability"] <= 1
    assert out["alarms"]
    for a in out["alarms"]:
        assert {
            "time_ns",
            "time",
            "level",
            "index",
            "value",
            "threshold",
            "mode",
            "message",
        } <= set(a)
        assert 0 <= a["level"] <= 3
        assert a["time"].endswith("Z")
    assert max(a["level"] for a in out["alarms"]) >= 2
    # second run: nothing new, exit 0 even with --fail-on-alarm
    assert main(["analyze", str(d), "--json", "--fail-on-alarm", "1"]) == 0
    again = json.loads(capsys.readouterr().out)
    assert again["windows"]["processed"] == 0
    assert again["alarms"] == []
    feed = (d / "alarms.jsonl").read_text().splitlines()
    assert len(feed) == len(out["alarms"])


def test_text_output_and_lock_exit_75(history, tmp_path, capsys):
    d = copy_raw(history, tmp_path / "b", n_files=3)
    with job_lock(d / "results" / "sim-bridge.analyze.lock"):
        r = subprocess.run([BSHM, "analyze", str(d)], capture_output=True, text=True, timeout=120)
    assert r.returncode == 75, r.stderr
    assert "another bshm analyze is running" in r.stderr
    assert main(["analyze", str(d), "--no-progress"]) == 0
    text = capsys.readouterr().out
    assert "3 windows processed, 0 skipped" in text
    assert "baseline incomplete" in text
    assert "tracked modes:" in text
    toml = d / "station.toml"
    toml.write_text(toml.read_text().replace("max_order = 30", "max_order = 32"))
    assert main(["analyze", str(d)]) == 2  # settings changed: no silent mixing
    assert "max_order" in capsys.readouterr().err
    assert main(["analyze", str(d), "--reprocess", "--no-progress"]) == 0
    assert "3 windows processed" in capsys.readouterr().out


def test_usage_and_config_errors_exit_2(history, tmp_path, capsys):
    d = copy_raw(history, tmp_path / "c", n_files=1)
    assert main(["analyze", str(d), "--baseline", "yesterday"]) == 2
    assert "FROM..TO" in capsys.readouterr().err
    assert main(["analyze", str(d), "--baseline", "2026-01-02..2026-01-01"]) == 2
    assert main(["analyze", str(tmp_path / "nothing-here")]) == 2
    err = capsys.readouterr().err
    assert "no such folder" in err
    assert "Traceback" not in err
    assert main(["analyze", str(d), "--config", str(tmp_path / "missing.toml")]) == 2
    assert main(["analyze", str(d), "--workers", "0"]) == 2


def test_settings_inferred_without_station_toml(history, tmp_path, capsys):
    d = copy_raw(history, tmp_path / "d", n_files=2)
    (d / "station.toml").unlink()
    assert main(["analyze", str(d)]) == 0
    out = capsys.readouterr().out
    assert "no station.toml" in out
    assert "inferred" in out
    assert "source 'acc'" in out
    assert "temperature T1" in out
    # 600 s windows do not fit the 120 s records: nothing to process, said plainly
    assert "0 windows processed" in out
