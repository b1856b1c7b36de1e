"""channel_scales' medians by column_medians: the bits of np.median(axis=0).

The SSI divides each channel by a scale derived from two medians of a
subsample; ``column_medians`` replaced ``np.median(a, axis=0)`` there and
must give exactly the same numbers (so identify's results do not move).
"""

from __future__ import annotations

import numpy as np
import pytest
from bshm.analysis.preprocess import channel_scales, column_medians


@pytest.mark.parametrize("rows", [1, 2, 3, 7, 2048, 2049, 10_000, 10_001])
def test_column_medians_equal_numpy_bit_for_bit(rng, rows):
    a = rng.standard_normal((rows, 5)) * np.logspace(-6, 6, 5) + np.array([0, 1e8, -3, 0, 5])
    np.testing.assert_array_equal(column_medians(a), np.median(a, axis=0))
    # heavy ties (a 16-bit digitiser) and sorted / reversed columns
    q = np.round(a * 100) / 100
    np.testing.assert_array_equal(column_medians(q), np.median(q, axis=0))
    s = np.sort(a, axis=0)[::-1]
    np.testing.assert_array_equal(column_medians(s), np.median(s, axis=0))


def test_column_medians_of_an_empty_array_follow_numpy():
    with pytest.warns(RuntimeWarning):
        m = column_medians(np.empty((0, 3)))
    assert m.shape == (3,) and np.isnan(m).all()


def test_channel_scales_unchanged(rng):
    # the scales as computed with np.median before (same formula, written out)
    x = rng.standard_normal((30_000, 12)) * np.logspace(-3, 3, 12) + 9.81
    x[::5, 3] = np.round(x[::5, 3], 1)
    center, scales = channel_scales(x, [f"A{i}" for i in range(12)])
    from bshm.analysis.ssi_stats import scaled_moments

    sub = x[:: max(1, x.shape[0] // 8192)]
    med = np.median(sub, axis=0)
    lo, hi, total, sq = scaled_moments(x, med)
    peak = np.maximum(hi - med, med - lo)
    mu = total / x.shape[0]
    np.testing.assert_array_equal(center, med + mu * peak)
    np.testing.assert_array_equal(scales, peak * np.sqrt(np.maximum(sq / x.shape[0] - mu * mu, 0)))
    y = x.copy()
    y[77, 2] = 1e30  # a decoding error: still named with its sample
    with pytest.raises(ValueError, match="channel A2: sample 77"):
        channel_scales(y, [f"A{i}" for i in range(12)])
