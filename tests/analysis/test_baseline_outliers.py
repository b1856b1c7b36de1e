"""One file dated 1970 or 2099 does not move the default baseline (issue 11, item 5).

The default baseline is the first ``baseline_days`` of the station's main
recording period: windows separated from it by a long gap are not part of
it, windows dated after the wall clock are ignored, and the run says what
it chose.
"""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path

import numpy as np
from bshm.analysis.job_derive import default_baseline

sys.path.insert(0, str(Path(__file__).parent))
from test_job_support import HOUR_NS, START_NS, STATION, _model, write_history, write_station  # noqa: E402

BSHM = str(Path(sys.executable).with_name("bshm"))
DAY = 24 * HOUR_NS


def _one_record(folder: Path, t0: int, seed: int = 99) -> None:
    from bshm.store import ChannelMeta, RawWriter, SourceSpec

    model = _model()
    acc = tuple(
        ChannelMeta(nm, "acceleration", "m/s2", (float(x), 0.0, 0.0), "z")
        for nm, x in zip(model.sensor_names, model.sensor_x)
    )
    env = (ChannelMeta("T1", "temperature", "degC"), ChannelMeta("T2", "temperature", "degC"))
    specs = [SourceSpec("acc", "simulated", 50.0, acc), SourceSpec("env", "simulated", 1.0, env)]
    rec = model.simulate(
        120.0, 50.0, temperature_c=3.0, traffic=False, rng=np.random.default_rng(seed)
    )
    with RawWriter(folder, STATION, specs, rollover_s=7200.0) as w:
        w.write("acc", rec.acc, t0_ns=t0)
        w.write("env", np.full((120, 2), 3.0), t0_ns=t0)


def test_default_baseline_picks_the_main_period():
    t = START_NS + np.arange(30) * 2 * HOUR_NS
    e = t + 120 * 10**9
    early = np.array([86_400 * 10**9])  # 1970-01-02
    b0, b1, complete, note = default_baseline(np.r_[early, t], np.r_[early + 1, e], 1.0)
    assert (b0, b1, complete) == (START_NS, START_NS + DAY, True)
    assert "far outside" in note and "1970-01-02" in note
    # a short commissioning period before a long pause does not hold a baseline either
    short = START_NS - 90 * DAY + np.arange(3) * HOUR_NS
    b0, _, _, _ = default_baseline(np.r_[short, t], np.r_[short + 1, e], 1.0)
    assert b0 == START_NS
    # before the main period is long enough: incomplete, from its start
    b0, _, complete, _ = default_baseline(np.r_[early, t[:5]], np.r_[early + 1, e[:5]], 1.0)
    assert (b0, complete) == (START_NS, False)


def test_files_dated_1970_and_2099_do_not_stop_the_analysis(tmp_path):
    d = tmp_path / "site"
    write_history(d, 20, every_h=2.0, seed=41)
    write_station(d)
    _one_record(d, 86_400 * 10**9)  # 1970-01-02: a logger that lost its clock
    _one_record(d, 4_084_646_400 * 10**9)  # 2099-06-09
    r = subprocess.run(
        [BSHM, "analyze", str(d), "--json", "--no-progress"],
        capture_output=True,
        text=True,
        timeout=600,
    )
    assert r.returncode == 0, r.stderr
    out = json.loads(r.stdout)
    assert out["baseline"]["start_ns"] == START_NS
    assert out["baseline"]["complete"]
    assert out["windows"]["ignored"] == {"future": 1}
    notes = " ".join(out["notes"])
    assert "1970-01-02" in notes and "far outside" in notes
    assert "2099-06-09" in notes and "clock" in notes
    assert out["models"]["baseline_windows"] == 12
    assert out["windows"]["processed"] == 21  # the 1970 window is stored, never in the baseline
    assert not [a for a in out["alarms"] if a["kind"] == "structural"]
