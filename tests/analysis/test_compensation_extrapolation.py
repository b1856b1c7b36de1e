"""Novelty indices outside the baseline temperature range (the demo's false alarms).

A smooth frost transition (as real bearings and surfacing freeze gradually)
bends the temperature effect near 0 degC, so the bilinear regression's edge
slopes are biased. Outside the trained range that bias grows with the
distance and is common to all modes and to all averaged windows: the T^2
indices must account for it instead of calling it novelty.
"""

from __future__ import annotations

import numpy as np
from bshm.analysis.compensation import CompensationModel, fit_compensation
from bshm.analysis.damage import compute_indices, fit_novelty, grade_windows

H = 3_600_000_000_000
ALPHA = (1e-2, 1e-3, 1e-4)
F0 = np.array([2.1, 4.0, 4.7, 7.8, 13.5])
SHAPE = np.array([np.sin(np.pi * k * np.linspace(0.1, 0.9, 6)) for k in range(1, 6)]).astype(
    complex
)


def stiffness(temp):
    """Linear softening and a smooth (1 degC wide) frost stiffening, like fixtures.bridge."""
    return (1 - 0.0024 * (temp - 10)) * (1 + 0.017 * np.logaddexp(0.0, -temp))


def history(rng, n_base=112, n_after=200):
    i = np.arange(n_base + n_after)
    daily = 2.5 * np.sin(2 * np.pi * i / 8)
    temp = np.where(i < n_base, -1.0 + daily + 1.5 * np.sin(2 * np.pi * i / 40), 0.0)
    after = i >= n_base
    # after the baseline: a warm spell up to +8 degC, then a cold one down to -9 degC
    ramp = np.sin(np.pi * (i - n_base) / n_after * 2)
    temp = np.where(after, 0.5 + 7.0 * ramp + daily, temp)
    freq = F0[None, :] * np.sqrt(stiffness(temp))[:, None]
    freq = freq * (1 + 0.002 * rng.standard_normal(freq.shape))
    return i.astype(np.int64) * 3 * H, temp, freq, ~after


def indices(t, temp, freq, base, *, corrected: bool):
    env = {"T1": temp, "time_ns": t}
    comp = fit_compensation(t, freq, {"T1": temp}, base, temperatures=["T1"])
    nov = fit_novelty(comp.residual, np.ones(freq.shape), base, 12)
    extra = {}
    if corrected:
        extra = {
            "leverage": comp.model.excess_leverage(freq, env, 12),
            "model_error": comp.model.extrapolation_error(freq, env, 12),
        }
    shapes = np.repeat(SHAPE[None], t.size, axis=0)
    ix = compute_indices(
        t,
        comp.residual,
        np.ones(freq.shape),
        shapes,
        SHAPE,
        nov,
        ALPHA,
        (0.05, 0.1, 0.2),
        **extra,
    )
    return comp, ix


def test_error_scales_are_zero_inside_the_range_and_grow_outside(rng):
    t, temp, freq, base = history(rng)
    comp = fit_compensation(t, freq, {"T1": temp}, base, temperatures=["T1"])
    env = {"T1": temp, "time_ns": t}
    h1, ha = comp.model.excess_leverage(freq, env, 12)
    u1, ua = comp.model.extrapolation_error(freq, env, 12)
    lo, hi = comp.model.t_range
    inside = (temp >= lo) & (temp <= hi)
    assert np.all(h1[base] == 0) and np.all(u1[inside] == 0)
    far = temp > hi + 3
    assert far.any() and np.all(h1[far] > 0) and np.all(u1[far] > 0)
    # u = |sensitivity| * distance: larger further out, and averaged like the windows
    hot = np.flatnonzero(temp > hi)
    j = hot[np.argmax(temp[hot])]
    near = hot[np.argmin(temp[hot])]
    assert np.all(u1[j] > u1[near])
    assert np.all(ha >= 0) and np.all(ua <= u1.max(axis=0) + 1e-12)
    # a model stored before these fields existed gives no correction
    d = comp.model.to_dict()
    d.pop("xtx_inv"), d.pop("leverage_max")
    old = CompensationModel.from_dict(d)
    assert not old.excess_leverage(freq, env, 12)[0].any()
    assert CompensationModel.from_dict(comp.model.to_dict()).leverage_max == comp.model.leverage_max


def _max_level(ix, base):
    """Highest level of the structural alarm state over the windows after the baseline."""
    from bshm.analysis.alarm_state import Rule, SubjectState
    from bshm.analysis.job_derive import _slice

    after = _slice(ix, ~base)
    g = grade_windows(after, [f"M{j}" for j in range(1, 6)], freq_levels=(1.0, 2.0, 4.0))
    s = SubjectState("structural", "structural")
    top = 0
    for i in range(after.t2.size):
        if g.assessable[i]:
            s.feed(i, int(g.w[i]), int(g.c[i]), Rule(3, 5, 10, 12))
        top = max(top, s.level)
    return top


def test_extrapolation_no_longer_raises_warnings(rng):
    t, temp, freq, base = history(rng)
    lo, hi = fit_compensation(t, freq, {"T1": temp}, base, temperatures=["T1"]).model.t_range
    assert temp[~base].max() > hi + 3 and temp[~base].min() < lo - 2
    _, naive = indices(t, temp, freq, base, corrected=False)
    assert _max_level(naive, base) >= 2  # the bug: the model's bias looked like damage
    _, ix = indices(t, temp, freq, base, corrected=True)
    assert _max_level(ix, base) <= 1


def test_a_local_stiffness_loss_is_still_found_outside_the_range(rng):
    """A shift of one mode is not the common temperature pattern: still detected."""
    t, temp, freq, base = history(rng)
    hot = np.flatnonzero(~base & (temp > 5))
    start = hot[0]
    dmg = freq.copy()
    dmg[start:, 0] *= 1 - 0.01  # mode 1 -1 %, the others unchanged
    _, ix = indices(t, temp, dmg, base, corrected=True)
    after = np.arange(t.size) >= start
    assert np.nanmax(ix.t2_avg[after][:24] / ix.t2_avg_limits[after][:24, 1]) > 1.0
