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
