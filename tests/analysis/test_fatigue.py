"""Fatigue: S-N curves (hand-computed values), Miner damage, histograms,
window-by-window accounting with residue carry-over, results-store round trip."""

from __future__ import annotations

import json
import math
from dataclasses import dataclass

import numpy as np
import pytest
from bshm.analysis.fatigue import (
    GaugeFatigue,
    SNCurve,
    en1993_curve,
    load_fatigue_state,
    process_strain_window,
    range_mean_histogram,
    remaining_life_years,
    save_fatigue,
    strain_to_stress,
)
from bshm.analysis.rainflow import rainflow


@dataclass(frozen=True)
class _Meta:
    name: str
    quantity: str
    unit: str


def test_en1993_curve_hand_values() -> None:
    c = en1993_curve(71.0)
    # delta sigma_D = (2/5)^(1/3) * 71 = 52.3 MPa; delta sigma_L = (5/100)^(1/5) * D = 28.7
    sd = 71.0 * (2.0 / 5.0) ** (1.0 / 3.0)
    sl = sd * (5e6 / 1e8) ** 0.2
    assert c.knee_ranges[0] == pytest.approx(52.31, abs=0.01)
    assert c.cutoff_range == pytest.approx(28.73, abs=0.01)
    n = c.cycles_to_failure([71.0, 100.0, 40.0, sd, sl * 1.0001, 20.0, 0.0])
    assert n[0] == pytest.approx(2e6)
    assert n[1] == pytest.approx(2e6 * 0.71**3)  # 715 822
    assert n[1] == pytest.approx(715822.0, rel=1e-6)
    assert n[2] == pytest.approx(5e6 * (sd / 40.0) ** 5)
    assert n[3] == pytest.approx(5e6)
    assert n[4] == pytest.approx(1e8, rel=1e-3)
    assert math.isinf(n[5])
    assert math.isinf(n[6])
    # Miner: 1000 cycles at 100 MPa + 1e5 cycles at 40 MPa + anything below cut-off
    d = c.damage([100.0, 40.0, 20.0], [1000.0, 1e5, 1e9])
    assert d == pytest.approx(1000 / (2e6 * 0.71**3) + 1e5 / (5e6 * (sd / 40.0) ** 5))


def test_gamma_mf_and_custom_curve() -> None:
    c = en1993_curve(90.0, gamma_mf=1.35)
    assert c.cycles_to_failure([90.0 / 1.35])[0] == pytest.approx(2e6)
    # single-slope curve without cut-off: N = 1e6 (100 / S)^4
    s = SNCurve(
        "custom", ref_range=100.0, ref_cycles=1e6, slopes=(4.0,), knees=(), cutoff_cycles=None
    )
    assert s.cycles_to_failure([50.0])[0] == pytest.approx(16e6)
    assert s.cycles_to_failure([1.0])[0] == pytest.approx(1e14)
    assert SNCurve.from_dict(s.to_dict()) == s
    with pytest.raises(ValueError, match="slopes"):
        SNCurve("bad", ref_range=100.0, slopes=(3.0,), knees=(5e6,))
    with pytest.raises(ValueError, match="detail_category"):
        en1993_curve(0.0)


def test_per_gauge_modulus() -> None:
    chans = [_Meta("S1", "strain", "um/m"), _Meta("S2", "strain", "um/m")]
    x = np.tile([0.0, 100.0], 50)[:, None].repeat(2, axis=1)
    res, _ = process_strain_window(x, chans, start_ns=0, end_ns=10**9, moduli={"S2": 70.0})
    by = {r.gauge: r for r in res}
    assert by["S1"].max_range_mpa == pytest.approx(21.0)
    assert by["S2"].max_range_mpa == pytest.approx(7.0)


def test_gauge_with_a_bad_unit_is_skipped_not_fatal(caplog) -> None:
    chans = [_Meta("S1", "strain", "mV/V"), _Meta("S2", "strain", "um/m")]
    x = np.tile([0.0, 100.0], 50)[:, None].repeat(2, axis=1)
    res, state = process_strain_window(x, chans, start_ns=0, end_ns=10**9)
    assert [r.gauge for r in res] == ["S2"]
    assert "S1" not in state
    assert "S1" in caplog.text
    assert "mV/V" in caplog.text


def test_strain_to_stress_units() -> None:
    np.testing.assert_allclose(strain_to_stress([100.0, -50.0], "um/m", 210.0), [21.0, -10.5])
    assert strain_to_stress(0.1, "mm/m", 200.0) == pytest.approx(20.0)
    with pytest.raises(ValueError, match="unknown strain unit"):
        strain_to_stress(1.0, "furlong", 210.0)


def test_range_mean_histogram_keeps_every_cycle() -> None:
    h = range_mean_histogram(
        [1.0, 3.0, 500.0],
        [0.0, -5.0, 0.0],
        [1.0, 0.5, 1.0],
        [0.0, 2.0, 4.0, 6.0],
        [-10.0, 0.0, 10.0],
    )
    assert h.shape == (3, 2)
    assert h.sum() == pytest.approx(2.5)
    assert h[0, 1] == 1.0
    assert h[1, 0] == 0.5
    assert h[2, 1] == 1.0


def test_remaining_life_hand_value() -> None:
    # 0.001 damage in half a year -> rate 0.002/yr; (1 - 0.1 - 0.001)/0.002 = 449.5 yr
    yr = 365.25 * 86400
    assert remaining_life_years(0.001, 0.5 * yr, prior_damage=0.1) == pytest.approx(449.5)
    assert math.isinf(remaining_life_years(0.0, yr))
    assert remaining_life_years(2.0, yr) == 0.0


def test_constant_amplitude_window_damage_hand_computed() -> None:
    # 500 um/m peak-to-peak sine at steel modulus = 105 MPa stress range
    n_cyc = 200
    t = np.linspace(0, n_cyc, 40 * n_cyc + 1)
    eps = 250.0 * np.sin(2 * np.pi * t)
    chans = [_Meta("S1", "strain", "um/m"), _Meta("T1", "temperature", "degC")]
    data = np.column_stack([eps, np.zeros_like(eps)])
    res, state = process_strain_window(data, chans, start_ns=0, end_ns=10**9 * 3600)
    assert [r.gauge for r in res] == ["S1"]
    r = res[0]
    rng = 500e-6 * 210e3  # 105 MPa
    n_fail = 2e6 * (71.0 / rng) ** 3
    # 199 full cycles close in the window; the residue holds the rest
    assert r.range_counts.sum() == pytest.approx(n_cyc - 1, abs=0.5)
    assert r.damage == pytest.approx((n_cyc - 1) / n_fail, rel=1e-3)
    assert r.cumulative_damage == pytest.approx(n_cyc / n_fail, rel=2e-3)
    assert r.max_range_mpa == pytest.approx(rng, rel=1e-6)
    assert r.stats["max"] == pytest.approx(250.0)
    assert r.remaining_life_years == pytest.approx(
        (1 - r.cumulative_damage) / (r.cumulative_damage * 365.25 * 24), rel=1e-9
    )
    # the same window again is ignored (rerun of the job)
    again, _ = process_strain_window(data, chans, start_ns=0, end_ns=10**9 * 3600, state=state)
    assert again == []
    with pytest.raises(ValueError, match="overlaps"):
        process_strain_window(data, chans, start_ns=10**9, end_ns=10**9 * 7200, state=state)


def test_windows_with_saved_state_equal_whole_record(rng: np.random.Generator, tmp_path) -> None:
    n, fs = 24000, 20.0
    eps = np.cumsum(rng.normal(0, 3.0, n)) + 40 * np.sin(np.arange(n) / 900.0)
    eps[5000:5020] = np.nan  # a dropout: removed and joined
    chans = [_Meta("S1", "strain", "um/m")]
    curve = en1993_curve(36.0)
    state: dict[str, GaugeFatigue] = {}
    pieces = np.array_split(np.arange(n), 10)
    window_damage = []
    path = tmp_path / "res.h5"
    for _k, idx in enumerate(pieces):
        t0 = int(idx[0] / fs * 1e9)
        t1 = int((idx[-1] + 1) / fs * 1e9)
        res, state = process_strain_window(
            eps[idx, None], chans, start_ns=t0, end_ns=t1, state=state, curve=curve
        )
        window_damage.append(res[0].damage)
        save_fatigue(path, res, state, station="sim")
        # reload the state from the results file, as the next job run would
        from bshm.store.results import open_results

        with open_results(path) as rd:
            state = load_fatigue_state(rd.fatigue())
    stress = strain_to_stress(eps[np.isfinite(eps)], "um/m", 210.0)
    whole = rainflow(stress)
    d_whole = curve.damage(whole.range, whole.count)
    g = state["S1"]
    assert g.cumulative_damage() == pytest.approx(d_whole, rel=1e-12)
    h_whole = range_mean_histogram(
        whole.range, whole.mean, whole.count, g.range_edges, g.mean_edges
    )
    tail = g.counter.residue_cycles()
    h_tail = range_mean_histogram(tail.range, tail.mean, tail.count, g.range_edges, g.mean_edges)
    np.testing.assert_allclose(g.histogram + h_tail, h_whole, atol=1e-12)
    with open_results(path) as rd:
        fat = rd.fatigue()["S1"]
    assert fat["counts"].shape == (10, g.range_edges.size - 1)
    np.testing.assert_allclose(fat["miner_damage"], window_damage)
    assert json.loads(fat["curve"])["ref_range"] == 36.0


def test_bad_gauge_and_shape() -> None:
    chans = [_Meta("S1", "strain", "um/m")]

    @dataclass(frozen=True)
    class _Settings:
        gauges: tuple = ("S9",)
        modulus_gpa: float = 210.0
        detail_category: float = 71.0

    # a configured gauge of another source is not counted here (and no error)
    res, state = process_strain_window(
        np.zeros((10, 1)), chans, start_ns=0, end_ns=1, settings=_Settings()
    )
    assert res == []
    assert state == {}
    with pytest.raises(ValueError, match="expected"):
        process_strain_window(np.zeros((10, 2)), chans, start_ns=0, end_ns=1)
    with pytest.raises(ValueError, match="missing key"):
        GaugeFatigue.from_state({"gauge": "S1"})
