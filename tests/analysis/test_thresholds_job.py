"""monitor_raw: fatigue, thresholds and health over a real raw store, rerun-safe."""

from __future__ import annotations

from types import SimpleNamespace

import numpy as np
import pytest
from bshm.analysis.fatigue import en1993_curve, strain_to_stress
from bshm.analysis.rainflow import rainflow
from bshm.analysis.thresholds import monitor_raw

from bshm.config import FatigueSettings, Thresholds

T0 = 1_767_225_600_000_000_000
DAY = 86_400 * 10**9


def _station(th: dict) -> SimpleNamespace:
    chans = [SimpleNamespace(name=n, thresholds=t) for n, t in th.items()]
    return SimpleNamespace(
        name="jobbridge",
        sources=(SimpleNamespace(channels=tuple(chans)),),
        fatigue=FatigueSettings(detail_category=36.0),
        analysis=SimpleNamespace(temperature="T1", baseline_days=1.0),
    )


def test_monitor_raw_is_complete_and_rerun_safe(tmp_path, rng: np.random.Generator) -> None:
    from bshm.store import ChannelMeta, RawWriter, SourceSpec
    from bshm.store.results import open_results, results_path

    strain = SourceSpec("strain", "simulated", 20.0, (ChannelMeta("S1", "strain", "um/m"),))
    env = SourceSpec("env", "simulated", 1.0, (ChannelMeta("T1", "temperature", "degC"),))
    n_rec, rec_s = 8, 1300
    temps = 10.0 + 8.0 * np.sin(np.arange(n_rec) * 2 * np.pi / 4)
    pieces = []
    with RawWriter(tmp_path, "jobbridge", [strain, env], rollover_s=86400) as w:
        for k in range(n_rec):
            t0 = T0 + k * DAY // 4
            t = np.arange(rec_s * 20) / 20.0
            amp = rng.uniform(5.0, 30.0, t.size // 200 + 1).repeat(200)[: t.size]
            e = 12.0 * temps[k] + amp * np.sin(2 * np.pi * 0.5 * t) + rng.normal(0, 1.0, t.size)
            if k == n_rec - 1:
                e += 150.0  # the gauge jumps: change from the baseline
            pieces.append(e.astype(np.float32).astype(np.float64))
            w.write("strain", e[:, None], t0_ns=t0)
            w.write("env", np.full((rec_s, 1), temps[k]), t0_ns=t0)
    st = _station({"S1": Thresholds(change=(60.0, 120.0, 200.0))})
    feed = tmp_path / "alarms.jsonl"
    s1 = monitor_raw(tmp_path, st, window_s=600.0, feed=feed)
    # 2 full windows + a 100 s tail per record; the last record's tail waits
    # for more data (the record may still grow)
    assert s1.fatigue_windows == 3 * n_rec - 1
    assert s1.baseline
    assert s1.baseline["S1"]["slope"] == pytest.approx(12.0, abs=2.0)
    # the last record's 2 windows exceed the level-2 limit: one state change, raised
    # at the first of them (not one alarm per window), nothing before
    assert [(a.index, a.level, a.channel, a.event) for a in s1.alarms] == [
        ("change", 2, "S1", "raised")
    ]
    assert s1.alarms[0].kind == "threshold"
    assert s1.alarms[0].subject == "threshold:S1:change"
    assert s1.alarms[0].time_ns >= T0 + (n_rec - 1) * DAY // 4
    assert s1.health_rows > 0
    from bshm.alarms import AlarmFeed

    lines = AlarmFeed(feed).read()
    assert [(a["index"], a["id"]) for a in lines] == [("change", s1.alarms[0].id)]
    s2 = monitor_raw(tmp_path, st, window_s=600.0, feed=feed)
    assert len(AlarmFeed(feed).read()) == 1  # nothing appended twice
    assert (s2.fatigue_windows, len(s2.alarms), s2.health_rows, s2.windows) == (0, 0, 0, 0)
    with open_results(results_path(tmp_path, "jobbridge")) as r:
        state = r.alarm_state()
    assert state["subjects"]["threshold:S1:change"]["level"] == 2
    assert state["kinds"]["threshold"]["active"]
    with open_results(results_path(tmp_path, "jobbridge")) as r:
        fat = r.fatigue()["S1"]
        assert fat["miner_damage"].size == 3 * n_rec - 1
    # damage so far equals counting the joined records whole, minus the open tail
    whole = np.concatenate(pieces)[: -100 * 20]
    c = rainflow(strain_to_stress(whole, "um/m", 210.0))
    curve = en1993_curve(36.0)
    from bshm.analysis.fatigue import load_fatigue_state

    with open_results(results_path(tmp_path, "jobbridge")) as r:
        g = load_fatigue_state(r.fatigue())["S1"]
    assert g.cumulative_damage() == pytest.approx(curve.damage(c.range, c.count), rel=1e-9)
