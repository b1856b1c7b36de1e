"""`bshm demo` runs every step end to end (small settings to stay fast)."""

from __future__ import annotations

import json

import pytest

from bshm.cli import main
from bshm.store import open_raw


@pytest.mark.slow
def test_demo_small_end_to_end(tmp_path, capsys):
    out = tmp_path / "demo"
    rc = main(["demo", "--out", str(out), "--days", "2", "--every", "12h",
               "--record-length", "10min", "--damage-day", "1", "--live-seconds", "3",
               "--workers", "1"])
    text = capsys.readouterr().out
    assert rc == 0, text
    for step in ("live acquisition", "simulated history", "analysis", "report"):
        assert step in text
    # live step: every source of the simulated station was recorded
    with open_raw(out / "live" / "data") as r:
        assert set(r.sources) == {"acc", "strain", "env"}
        for name in r.sources:
            assert len(r.read(name).data) > 0, name
    # history step: 2 days x 2 records
    with open_raw(out / "history") as r:
        assert len(r.records("acc")) == 4
    assert (out / "history" / "results").is_dir()
    html = (out / "report.html").read_text()
    assert "<svg" in html and "sim-bridge" in html
    truth = json.loads((out / "history" / "truth.json").read_text())
    assert truth["damage"] is not None


@pytest.mark.slow
def test_demo_goes_on_when_a_live_device_is_silent_and_says_so(tmp_path, capsys, monkeypatch):
    """A silent accelerometer in the live step (a slow laptop, a stuck device): the demo
    still runs the history, the analysis and the report, names the problem and exits 1."""
    import functools

    import bshm.fixtures.devices as devices
    from bshm.fixtures.virtual_serial import FaultConfig

    silent = FaultConfig(pause=1.0, pause_s=600.0)  # every frame starts a 10-min silence
    monkeypatch.setattr(
        devices, "start_devices", functools.partial(devices.start_devices, faults=silent)
    )
    out = tmp_path / "demo"
    rc = main(["demo", "--out", str(out), "--days", "1", "--every", "12h",
               "--record-length", "10min", "--damage-day", "0.5", "--live-seconds", "3",
               "--workers", "1"])
    text = capsys.readouterr().out
    assert rc == 1, text
    assert "PROBLEM: the live acquisition ended with code 1" in text
    assert "the live acquisition step had a problem (code 1)" in text
    assert (out / "report.html").exists()  # the rest of the chain ran
    with open_raw(out / "live" / "data") as r:
        gaps = r.gaps("acc") if "acc" in r.sources else []
    assert "acc" not in r.sources or len(gaps) > 0  # the silence is recorded, never hidden
