"""Mode tracking: reference set, optimal assignment, missing and closely spaced modes."""

from __future__ import annotations

import numpy as np
import pytest
from bshm.analysis.tracking import (
    ReferenceSet,
    TrackSettings,
    WindowModes,
    build_reference,
    mac_matrix,
    normalize_shapes,
    track,
)

from bshm.errors import AnalysisError

N_CH = 8
X = np.linspace(0.05, 0.95, N_CH)
# two closely spaced modes (2.00 / 2.06 Hz: 3 % apart) with different shapes,
# plus two well-separated ones
F0 = np.array([2.00, 2.06, 4.5, 7.8])
SHAPES = np.array(
    [np.sin(np.pi * X), np.cos(np.pi * X), np.sin(2 * np.pi * X), np.sin(3 * np.pi * X)]
)
PRESENT = np.array([0.4, 0.9, 0.95, 0.85])  # probability of being found in a window


def synthetic(rng, n=300, drift=0.03):
    """Windows whose modes drift together (temperature), go missing, come shuffled."""
    wins, truth = [], np.full((n, 4), np.nan)
    for i in range(n):
        fac = 1 + drift * np.sin(2 * np.pi * i / 40)  # slow environmental drift
        f = F0 * fac * (1 + 0.001 * rng.standard_normal(4))
        keep = rng.random(4) < PRESENT
        truth[i, keep] = f[keep]
        sh = SHAPES + 0.05 * rng.standard_normal(SHAPES.shape)
        sh = sh * np.exp(1j * rng.uniform(0, 2 * np.pi, 4))[:, None]  # arbitrary phase
        ff, ss = list(f[keep]), list(sh[keep])
        if rng.random() < 0.3:  # a spurious mode with a random shape
            ff.append(rng.uniform(1.5, 9))
            ss.append(rng.standard_normal(N_CH))
        order = rng.permutation(len(ff))
        wins.append(
            WindowModes(
                i * 10**12,
                np.array(ff)[order],
                np.full(len(ff), 0.01),
                np.array(ss).reshape(-1, N_CH)[order].T,
            )
        )
    return wins, truth


def test_mac_and_normalize(rng):
    a = rng.standard_normal((3, N_CH)) + 1j * rng.standard_normal((3, N_CH))
    m = mac_matrix(a, a * (2 - 1j))
    np.testing.assert_allclose(np.diag(m), 1.0)
    assert np.all((m >= 0) & (m <= 1 + 1e-12))
    n = normalize_shapes(a)
    np.testing.assert_allclose(np.linalg.norm(n, axis=1), 1.0)
    big = n[np.arange(3), np.argmax(np.abs(n), axis=1)]
    np.testing.assert_allclose(big.imag, 0.0, atol=1e-12)
    assert np.all(big.real > 0)


def test_reference_finds_every_mode_including_a_40_percent_one(rng):
    wins, _ = synthetic(rng)
    ref = build_reference(wins[:120])
    assert len(ref.ids) == 4, ref.frequency
    np.testing.assert_allclose(ref.frequency, F0, rtol=0.03)
    assert ref.availability[0] == pytest.approx(0.4, abs=0.12)


def test_tracking_no_label_swaps_and_missing_modes(rng):
    wins, truth = synthetic(rng)
    ref = build_reference(wins[:120])
    tr = track(wins, ref)
    found = np.isfinite(tr.frequency)
    # every assignment is the right physical mode (never the close neighbour)
    ok = found & np.isfinite(truth)
    np.testing.assert_allclose(tr.frequency[ok], truth[ok], rtol=1e-12)
    # no mode invented where it was missing
    assert not np.any(found & ~np.isfinite(truth))
    # recall: almost every present mode is found, the 40 % one too
    recall = ok.sum(axis=0) / np.isfinite(truth).sum(axis=0)
    assert np.all(recall > 0.95), recall
    assert tr.availability[0] == pytest.approx(0.4, abs=0.08)
    assert np.all(tr.mac[found] > 0.7)


def test_tracking_is_causal(rng):
    """The tracks of the first windows do not depend on the windows after them."""
    wins, _ = synthetic(rng, n=120)
    ref = build_reference(wins)
    full = track(wins, ref)
    part = track(wins[:60], ref)
    np.testing.assert_array_equal(full.frequency[:60], part.frequency)


def test_reference_round_trip_and_errors(rng):
    wins, _ = synthetic(rng, n=60)
    ref = build_reference(wins)
    back = ReferenceSet.from_dict(ref.to_dict())
    np.testing.assert_array_equal(back.frequency, ref.frequency)
    np.testing.assert_allclose(back.shape, ref.shape)
    with pytest.raises(AnalysisError, match="no processed window"):
        build_reference([])
    sparse = [WindowModes(0, np.array([3.0]), np.array([0.01]), np.ones((N_CH, 1)))] + [
        WindowModes(i, np.zeros(0), np.zeros(0), np.zeros((N_CH, 0))) for i in range(1, 20)
    ]
    with pytest.raises(AnalysisError, match="at least 20%"):
        build_reference(sparse, TrackSettings(min_availability=0.2))


def test_channel_mismatch_is_a_clear_error(rng):
    wins, _ = synthetic(rng, n=30)
    ref = build_reference(wins)
    bad = [WindowModes(0, np.array([2.0]), np.array([0.01]), np.ones((N_CH - 1, 1)))]
    with pytest.raises(ValueError, match="channels"):
        track(bad, ref)
