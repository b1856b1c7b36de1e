"""Threshold levels and alarms on simulated faults."""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
import pytest
from bshm.analysis.thresholds import (
    StrainBaseline,
    check_channel,
    evaluate_window,
    level_of,
    thresholds_of,
)

from bshm.alarms import AlarmFeed
from bshm.config import Thresholds

FS = 20.0
T0 = 1_767_225_600_000_000_000  # 2026-01-01


@dataclass(frozen=True)
class _Meta:
    name: str
    quantity: str
    unit: str


def _times(n: int, fs: float = FS) -> np.ndarray:
    return T0 + np.round(np.arange(n) * 1e9 / fs).astype(np.int64)


def test_level_of() -> None:
    np.testing.assert_array_equal(
        level_of([0.5, 1.0, 1.5, 2.5, 9.0, np.nan], (1, 2, 3)), [0, 0, 1, 2, 3, 0]
    )
    np.testing.assert_array_equal(
        level_of([5.0, -1.0, -6.0, -11.0], (0, -5, -10), decreasing=True), [0, 1, 2, 3]
    )
    assert level_of([100.0], None).tolist() == [0]
    with pytest.raises(ValueError, match="3 values"):
        level_of([1.0], (1.0, 2.0))


def test_single_sample_exceedance_is_caught(rng: np.random.Generator) -> None:
    n = 12000
    x = rng.normal(0, 5.0, n)
    x[7777] = 260.0  # one strain sample above the advisory limit
    th = Thresholds(high=(250.0, 300.0, 350.0), low=(-250.0, -300.0, -350.0))
    res = {r.kind: r for r in check_channel(x, _times(n), "S1", th)}
    assert res["high"].level == 1
    assert res["high"].n_exceed == 1
    assert res["high"].time_ns == _times(n)[7777]
    assert res["high"].value == 260.0
    assert res["high"].threshold == 250.0
    assert res["low"].level == 0


def test_peak_and_rms_of_acceleration(rng: np.random.Generator) -> None:
    n = 6000
    acc = rng.normal(0, 0.02, (n, 2)) + 0.5  # offset does not count in RMS
    acc[3000, 0] = 0.5 + 2.2  # spike: peak 2.7 m/s2
    acc[:, 1] = 0.5 + rng.normal(0, 0.25, n)  # strong vibration
    chans = [_Meta("A01", "acceleration", "m/s2"), _Meta("A02", "acceleration", "m/s2")]
    th = {c.name: Thresholds(peak=(1.0, 2.0, 2.5), rms=(0.05, 0.1, 0.2)) for c in chans}
    w = evaluate_window(acc, _times(n, 100.0), chans, th, station="sim")
    by = {(r.channel, r.kind): r for r in w.results}
    assert by[("A01", "peak")].level == 3
    assert by[("A01", "rms")].level == 0
    assert by[("A02", "rms")].level == 3
    assert by[("A02", "rms")].value == pytest.approx(0.25, rel=0.05)
    assert w.max_level == 3
    a = [x for x in w.alarms if x.channel == "A01"][0]
    assert a.index == "peak"
    assert a.level == 3
    assert a.station == "sim"
    assert "critical limit 2.5 m/s2" in a.message
    assert a.time_ns == _times(n, 100.0)[3000]


def test_strain_drift_against_temperature_corrected_baseline(rng: np.random.Generator) -> None:
    k = 11.0  # um/m per degC
    # reference period: window means at various temperatures
    temps = rng.uniform(-5, 25, 60)
    means = 20.0 + k * temps + rng.normal(0, 1.0, 60)
    base = StrainBaseline.fit(means, temps)
    assert base.slope == pytest.approx(k, abs=0.2)
    n = 12000
    t_env = np.array([T0, T0 + 600 * 10**9])
    temp_series = (t_env, np.array([30.0, 31.0]))  # hotter than any baseline day
    traffic = rng.normal(0, 3.0, n)
    healthy = 20.0 + k * np.linspace(30.0, 31.0, n) + traffic
    th = {"S2": Thresholds(change=(30.0, 60.0, 90.0))}
    ch = [_Meta("S2", "strain", "um/m")]
    ok = evaluate_window(
        healthy[:, None], _times(n), ch, th, temperature=temp_series, baselines={"S2": base}
    )
    assert ok.max_level == 0
    assert ok.alarms == []
    # zero drift of the gauge (or a change in the structure): +70 um/m
    drifted = healthy + np.linspace(0, 70.0, n)
    bad = evaluate_window(
        drifted[:, None], _times(n), ch, th, temperature=temp_series, baselines={"S2": base}
    )
    assert bad.max_level == 2
    (alarm,) = bad.alarms
    assert alarm.index == "change"
    assert alarm.channel == "S2"
    assert "temperature-corrected baseline" in alarm.message
    # without temperature the change check is skipped, not guessed
    assert evaluate_window(drifted[:, None], _times(n), ch, th).results == []


def test_temperature_and_alarm_feed(tmp_path, rng: np.random.Generator) -> None:
    n = 600
    temp = np.column_stack([np.linspace(20, 47, n), np.linspace(3, -12, n)])
    chans = [_Meta("T1", "temperature", "degC"), _Meta("T2", "temperature", "degC")]
    th = {"T1": Thresholds(high=(40.0, 45.0, 50.0)), "T2": Thresholds(low=(0.0, -10.0, -20.0))}
    w = evaluate_window(temp, _times(n, 1.0), chans, th, station="sim")
    levels = {a.channel: a.level for a in w.alarms}
    assert levels == {"T1": 2, "T2": 2}
    feed = AlarmFeed(tmp_path / "alarms.jsonl")
    assert feed.append(w.alarms) == 2
    got = feed.read()
    assert {g["index"] for g in got} == {"high", "low"}
    assert all(g["level"] == 2 for g in got)
    from bshm.store.results import append_alarms, open_results

    append_alarms(tmp_path / "res.h5", w.alarms, station="sim")
    with open_results(tmp_path / "res.h5") as r:
        assert len(r.alarms()) == 2


def test_thresholds_of_sample_station() -> None:
    import pathlib

    import bshm
    from bshm import fixtures

    cfg = pathlib.Path(fixtures.__file__).parent / "data" / "simulated_station.toml"
    st = bshm.load_station(cfg)
    th = thresholds_of(st)
    assert th  # the sample station sets limits on some channels
    for name, t in th.items():
        assert t.any()
        st.channel(name)  # raises if unknown


def test_bad_shapes() -> None:
    with pytest.raises(ValueError, match="expected data"):
        evaluate_window(np.zeros((5, 2)), _times(5), [_Meta("A", "strain", "")], {})
    with pytest.raises(ValueError, match="at least 3"):
        StrainBaseline.fit([1.0, 2.0, 3.0], [5.0, 5.0, 5.0])


def test_change_ignores_passing_vehicles(rng: np.random.Generator) -> None:
    n = 12000  # 10 min at 20 Hz
    base = StrainBaseline(intercept=50.0, slope=10.0, t_ref=10.0)
    x = 50.0 + rng.normal(0, 1.0, n)
    for s in range(500, n - 100, 1500):  # a lorry every 75 s: +150 um/m for 3 s
        x[s : s + 60] += 150.0 * np.hanning(60)
    th = Thresholds(change=(60.0, 120.0, 200.0), high=(120.0, 300.0, 500.0))
    res = {
        r.kind: r for r in check_channel(x, _times(n), "S1", th, temperature=10.0, baseline=base)
    }
    assert res["change"].level == 0  # quasi-static strain is on its baseline
    assert res["high"].level == 1  # the vehicles themselves are seen by "high"
