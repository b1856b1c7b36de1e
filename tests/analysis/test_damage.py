"""Damage indices: T^2 limits and their false-alarm rate, persistence, grading, COMAC."""

from __future__ import annotations

import numpy as np
import pytest
from bshm.analysis.damage import (
    comac,
    compute_indices,
    fit_novelty,
    grade_alarms,
    persistence_rate,
    t2_limit,
)

from bshm.errors import AnalysisError

ALPHA = (1e-2, 1e-3, 1e-4)
MAC_DROP = (0.05, 0.10, 0.20)
IDS = ("M1", "M2", "M3")
CHANNELS = tuple(f"A0{i}" for i in range(1, 7))
REF_SHAPE = np.array([np.sin(np.pi * k * np.linspace(0.1, 0.9, 6)) for k in (1, 2, 3)]).astype(
    complex
)


def residual_series(rng, n=600, n_base=150, shift=None, start=400):
    cov = np.array([[1.0, 0.5, 0.2], [0.5, 1.0, 0.3], [0.2, 0.3, 1.0]]) * 0.1**2
    r = rng.multivariate_normal(np.zeros(3), cov, size=n)
    if shift is not None:
        r[start:] += shift
    mac = np.clip(0.99 + 0.004 * rng.standard_normal((n, 3)), 0, 1)
    shapes = np.repeat(REF_SHAPE[None], n, axis=0)
    base = np.arange(n) < n_base
    return np.arange(n, dtype=np.int64) * 10**12, r, mac, shapes, base


def _graded(t, r, mac, shapes, base, **fit_options):
    """Fit the novelty model on the baseline, compute the indices, grade the alarms."""
    model = fit_novelty(r, mac, base, **fit_options)
    ix = compute_indices(t, r, mac, shapes, REF_SHAPE, model, ALPHA, MAC_DROP)
    alarms, level = grade_alarms(
        ix,
        IDS,
        np.array([2.0, 4.0, 8.0]),
        CHANNELS,
        freq_levels=(1, 2, 4),
        novelty_alpha=ALPHA,
        k=3,
        n=5,
        n_avg=model.average,
    )
    return alarms, level, model


def test_t2_limit_matches_the_empirical_false_alarm_rate(rng):
    """The Phase II limit gives the stated rate on new Gaussian data (Monte Carlo)."""
    p, n = 3, 100
    exceed = {a: 0 for a in ALPHA[:2]}
    limits = {a: t2_limit(a, p, n) for a in exceed}
    trials = 4000
    for _ in range(trials // 200):
        base = rng.standard_normal((n, p))
        mu, cov = base.mean(axis=0), np.cov(base, rowvar=False)
        inv = np.linalg.inv(cov)
        new = rng.standard_normal((200, p)) - mu
        t2 = np.einsum("ij,jk,ik->i", new, inv, new)
        for a in exceed:
            exceed[a] += int(np.sum(t2 > limits[a]))
    assert exceed[1e-2] / trials == pytest.approx(1e-2, abs=6e-3)
    assert exceed[1e-3] / trials < 4e-3
    assert t2_limit(1e-3, 5, 4) == np.inf


def test_persistence_rate():
    assert persistence_rate(0.5, 1, 1) == pytest.approx(0.5)
    assert persistence_rate(1e-2, 3, 5) == pytest.approx(10 * 1e-6, rel=0.02)
    assert persistence_rate(0.1, 0, 5) == pytest.approx(1.0)


def test_no_alarm_on_normal_data_and_graded_alarm_after_a_shift(rng):
    t, r, mac, shapes, base = residual_series(rng)
    alarms, level, _model = _graded(t, r, mac, shapes, base)
    assert not [a for a in alarms if a.level >= 2]
    assert level.max() <= 1
    # a 0.5 % drop of M1 (5 standard deviations of its residual) is caught by T^2
    t, r, mac, shapes, base = residual_series(rng, shift=np.array([-0.5, 0.0, 0.0]))
    alarms, level, _model = _graded(t, r, mac, shapes, base)
    high = [a for a in alarms if a.level >= 2]
    assert high, alarms
    first = min(a.time_ns for a in high)
    assert 400 * 10**12 <= first <= 410 * 10**12  # within a few windows of the change
    a = next(a for a in high if a.index == "t2")
    assert a.value > a.threshold
    assert "Frequency residuals: M1 -" in a.message  # the largest contribution first
    assert "false-alarm rate" in a.message
    assert level[:400].max() <= 1
    assert level[420:].min() >= 2


def test_frequency_shift_levels_and_back_to_normal(rng):
    t, r, mac, shapes, base = residual_series(rng, n=300)
    r[200:220, 1] -= 2.5  # 2.5 % drop of M2 for 20 windows, then back
    alarms, _, _model = _graded(t, r, mac, shapes, base)
    fs = [a for a in alarms if a.index == "frequency_shift"]
    assert [a.level for a in fs] == [2, 0]
    assert fs[0].mode == "M2"
    assert fs[0].threshold == 2.0
    assert "lower than expected" in fs[0].message
    assert "stiffness" in fs[0].message
    assert fs[1].time_ns > 220 * 10**12


def test_persistence_suppresses_isolated_outliers(rng):
    t, r, mac, shapes, base = residual_series(rng, n=300)
    r[[200, 230, 260], 0] -= 5.0  # isolated wrong picks
    alarms, _, _model = _graded(t, r, mac, shapes, base)
    assert alarms == []


def test_missing_modes_use_the_marginal_distribution(rng):
    t, r, mac, shapes, base = residual_series(rng)
    r[::3, 2] = np.nan
    model = fit_novelty(r, mac, base)
    ix = compute_indices(t, r, mac, shapes, REF_SHAPE, model, ALPHA, MAC_DROP)
    assert np.all(np.isfinite(ix.t2))
    assert np.all(ix.t2_limits[::3, 0] < ix.t2_limits[1::3, 0])  # 2 modes: lower limit
    assert set(ix.n_present.tolist()) == {2, 3}


def test_comac_points_at_the_changed_channel():
    cur = REF_SHAPE.copy()
    cur[:, 3] *= np.array([0.5, 1.4, 0.8])  # a local change alters each mode differently
    c = comac(cur, REF_SHAPE)
    assert int(np.argmin(c)) == 3
    np.testing.assert_allclose(comac(REF_SHAPE, REF_SHAPE), 1.0)


def test_mac_drop_alarm_and_too_short_baseline(rng):
    t, r, mac, shapes, base = residual_series(rng, n=300)
    mac[200:, 2] = 0.85  # the shape of M3 changed (drop 0.14)
    alarms, _, _model = _graded(t, r, mac, shapes, base)
    m = [a for a in alarms if a.index == "mac"]
    assert m
    assert m[0].mode == "M3"
    assert m[0].level == 2
    with pytest.raises(AnalysisError, match="baseline"):
        fit_novelty(r[:3], mac[:3], np.ones(3, bool))


def test_moving_mean_matches_a_plain_loop(rng):
    from bshm.analysis.damage import moving_mean

    x = rng.standard_normal((50, 3))
    x[rng.random(x.shape) < 0.3] = np.nan
    got, cnt = moving_mean(x, 4)
    for i in range(50):
        blk = x[max(0, i - 3) : i + 1]
        for j in range(3):
            v = blk[np.isfinite(blk[:, j]), j]
            assert cnt[i, j] == v.size
            if v.size:
                assert got[i, j] == pytest.approx(v.mean())
            else:
                assert np.isnan(got[i, j])


def test_averaged_t2_finds_a_small_lasting_shift(rng):
    """A 1.5-sigma shift of one mode: invisible window by window, clear on the 8-window mean."""
    t, r, mac, shapes, base = residual_series(rng, shift=np.array([-0.15, 0.0, 0.0]))
    alarms, level, model = _graded(t, r, mac, shapes, base, average=8)
    assert model.average == 8
    assert all(k >= 1 for k in model.kappa)
    assert level[:400].max() <= 1
    hits = [a for a in alarms if a.index == "t2_avg" and a.level >= 2]
    assert hits
    assert hits[0].time_ns <= 430 * 10**12
    assert "mean of the last 8 windows" in hits[0].message
    assert not [a for a in alarms if a.index == "t2" and a.level >= 2 and a.time_ns < 400 * 10**12]
