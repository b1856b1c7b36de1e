"""Damage indices: T^2 limits and their false-alarm rate, grading, the structural state, COMAC."""

from __future__ import annotations

import numpy as np
import pytest
from bshm.analysis.alarm_state import Rule, SubjectState
from bshm.analysis.damage import (
    comac,
    compute_indices,
    fit_novelty,
    grade_windows,
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
    """Fit the novelty model on the baseline, compute the indices, feed the structural state.

    Returns the state changes (after the baseline), the structural level after
    each window, the grades and the model.
    """
    model = fit_novelty(r, mac, base, **fit_options)
    ix = compute_indices(t, r, mac, shapes, REF_SHAPE, model, ALPHA, MAC_DROP)
    g = grade_windows(ix, IDS, freq_levels=(1, 2, 4))
    state = SubjectState("structural", "structural")
    changes, level = [], np.zeros(t.size, np.int8)
    for i in range(t.size):
        if not base[i] and g.assessable[i]:
            ch = state.feed(int(t[i]), int(g.w[i]), int(g.c[i]), Rule(3, 5, 10, 12))
            if ch is not None:
                changes.append((i, ch, g.driver[i]))
        level[i] = state.level
    return changes, level, g, model


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
    changes, level, _, _model = _graded(t, r, mac, shapes, base)
    assert level.max() <= 1
    assert not [c for _, c, _ in changes if c.new >= 2]
    # a 0.5 % drop of M1 (5 standard deviations of its residual) is caught by T^2
    t, r, mac, shapes, base = residual_series(rng, shift=np.array([-0.5, 0.0, 0.0]))
    changes, level, g, _model = _graded(t, r, mac, shapes, base)
    high = [(i, c, d) for i, c, d in changes if c.new >= 2]
    assert high, changes
    i, first, driver = high[0]
    assert 400 <= i <= 410  # within a few windows of the change
    assert first.event in {"raised", "escalated"}
    assert driver[0] in {"t2", "t2_avg", "frequency_shift"}
    assert level[:400].max() <= 1
    assert level[420:].min() >= 2
    # one state for the bridge: it rises (and may escalate), it never flaps back
    assert [c.event for _, c, _ in changes if c.time_ns >= t[400]] in (
        ["raised"],
        ["raised", "escalated"],
        ["raised", "escalated", "escalated"],
    )


def test_frequency_shift_raises_then_clears_after_m_of_n(rng):
    t, r, mac, shapes, base = residual_series(rng, n=300)
    r[200:220, 1] -= 2.5  # 2.5 % drop of M2 for 20 windows, then back
    changes, level, g, _model = _graded(t, r, mac, shapes, base)
    events = [(c.event, c.new) for _, c, _ in changes]
    assert events[0][0] == "raised" and events[0][1] >= 2
    assert events[-1] == ("cleared", 0)
    i_clear = changes[-1][0]
    assert i_clear >= 220 + 10  # clear only after 10 of 12 windows below the clear limit
    assert level[205:220].min() >= 2
    assert changes[0][2][0] in {"t2", "t2_avg", "frequency_shift"}
    # no state change while the shift lasts but the indices hover around their limits
    assert all(c.event != "cleared" for _, c, _ in changes if c.time_ns < t[220])


def test_persistence_suppresses_isolated_outliers(rng):
    t, r, mac, shapes, base = residual_series(rng, n=300)
    r[[200, 230, 260], 0] -= 5.0  # isolated wrong picks
    changes, level, _, _model = _graded(t, r, mac, shapes, base)
    assert changes == []
    assert level.max() == 0


def test_clear_limits_are_below_the_raise_limits(rng):
    t, r, mac, shapes, base = residual_series(rng)
    model = fit_novelty(r, mac, base)
    ix = compute_indices(t, r, mac, shapes, REF_SHAPE, model, ALPHA, MAC_DROP)
    g = grade_windows(ix, IDS, freq_levels=(1, 2, 4))
    assert np.all(g.c >= g.w)
    # T^2 between 0.49 and 1 x the level-1 limit: clear level 1, raise level 0
    mid = (ix.t2 > 0.49 * ix.t2_limits[:, 0]) & (ix.t2 < ix.t2_limits[:, 0])
    assert mid.any()
    assert np.all(g.c[mid] >= 1)


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
    changes, level, g, _model = _graded(t, r, mac, shapes, base)
    assert changes
    i, ch, driver = changes[0]
    assert driver[:2] == ("mac", "M3")
    assert ch.new == 2
    assert level[-1] == 2
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
    changes, level, g, model = _graded(t, r, mac, shapes, base, average=8)
    assert model.average == 8
    assert all(k >= 1 for k in model.kappa)
    assert level[:400].max() <= 1
    hits = [(i, c, d) for i, c, d in changes if c.new >= 2]
    assert hits
    assert hits[0][0] <= 430
    assert hits[0][2][0] == "t2_avg" or any(d[0] == "t2_avg" for _, _, d in hits)
    assert level[440:].min() >= 1  # the lasting shift never clears


def test_moving_mean_is_the_same_computed_in_pieces(rng):
    from bshm.analysis.damage import moving_mean

    x = rng.standard_normal((200, 3)) * 1e3
    x[rng.random(x.shape) < 0.2] = np.nan
    whole, cnt = moving_mean(x, 12)
    piece, cnt2 = moving_mean(x[150 - 11 :], 12)
    np.testing.assert_array_equal(piece[11:], whole[150:])  # bit-identical
    np.testing.assert_array_equal(cnt2[11:], cnt[150:])
