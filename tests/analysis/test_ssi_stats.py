"""One-pass channel statistics of the SSI front end against the NumPy references."""

from __future__ import annotations

import numpy as np
import pytest
from bshm.analysis import ssi_stats
from bshm.analysis.oma_options import weighting_span
from bshm.analysis.preprocess import channel_scales
from bshm.analysis.ssi_corr import causal_weights
from reference import ssi_stats as sref


@pytest.mark.parametrize("dtype", [np.float64, np.float32])
@pytest.mark.parametrize("shape", [(1, 1), (7, 3), (5000, 6), (3001, 12)])
def test_scaled_moments_match_reference(rng, dtype, shape):
    x = (rng.standard_normal(shape) * rng.uniform(1e-6, 1e6, shape[1]) + 3.0).astype(dtype)
    med = np.median(x.astype(np.float64), axis=0)
    got = ssi_stats.scaled_moments(x, med)
    want = sref.scaled_moments_ref(x, med)
    for g, w in zip(got, want, strict=True):
        np.testing.assert_allclose(g, w, rtol=1e-10, atol=1e-9 * shape[0])


def test_scaled_moments_strided_view_and_faults(rng):
    big = rng.standard_normal((4000, 8))
    view = big[::3, 1::2]  # no copy: any strides
    med = np.median(view, axis=0)
    for g, w in zip(ssi_stats.scaled_moments(view, med), sref.scaled_moments_ref(view, med)):
        np.testing.assert_allclose(g, w, rtol=1e-10, atol=1e-9)
    bad = big[:100].copy()
    bad[5, 0] = np.nan  # NaN propagates to min/max and the sums
    bad[:, 1] = 2.5  # constant: peak 0, NaN sums (no division by zero)
    bad[7, 2] = 1e30  # a decoding error stays finite in the sums (|z| <= 1)
    lo, hi, tot, sq = ssi_stats.scaled_moments(bad, np.median(bad, axis=0))
    assert np.isnan(lo[0]) and np.isnan(hi[0]) and np.isnan(tot[0])
    assert lo[1] == hi[1] == 2.5 and np.isnan(tot[1]) and np.isnan(sq[1])
    assert hi[2] == 1e30 and np.isfinite(sq[2]) and 0 < sq[2] <= 100


def test_channel_scales_unchanged_with_any_units(rng):
    x = rng.standard_normal((20000, 4)) * [1e-6, 1.0, 1e3, 1e6] + [0.0, 5.0, -1e4, 1e7]
    center, scale = channel_scales(x, list("abcd"))
    np.testing.assert_allclose(center, x.mean(axis=0), rtol=1e-12, atol=1e-12 * np.abs(x).max())
    np.testing.assert_allclose(scale, x.std(axis=0), rtol=1e-10)
    x[123, 2] = 1e30
    with pytest.raises(ValueError, match="channel c: sample 123"):
        channel_scales(x, list("abcd"))
    x[123, 2] = 0.0
    x[:, 3] = 7.0
    with pytest.raises(ValueError, match="constant channel"):
        channel_scales(x, list("abcd"))


@pytest.mark.parametrize("dtype", [np.float64, np.float32])
def test_crossing_counts_match_reference(rng, dtype):
    y = rng.standard_normal((10001, 5)).astype(dtype)
    y[:50, 1] = 0.0  # exact zeros: sign bit of +0 (no crossing)
    c = np.array([0.0, 0.0, 0.3, -0.2, 5.0])
    np.testing.assert_array_equal(ssi_stats.crossing_counts(y, c), sref.crossing_counts_ref(y, c))
    assert ssi_stats.crossing_counts(y[:1], c).tolist() == [0] * 5
    assert ssi_stats.crossing_counts(y[:0], c).tolist() == [0] * 5
    assert weighting_span(y, c, 100.0) >= 0.25


@pytest.mark.parametrize("span", [1, 2, 25, 400])
@pytest.mark.parametrize("scaled", [False, True])
def test_causal_weights_match_reference(rng, span, scaled):
    y = rng.standard_normal((6000, 4)) * [1.0, 2.0, 0.5, 3.0]
    y[2000:2300] *= 30.0  # a burst
    y[4000:4100] = 0.0  # a dead stretch: floored, not infinite
    mean = y.mean(axis=0)
    scale = y.std(axis=0) if scaled else None
    got = causal_weights(y, mean, span, scale)
    want = sref.causal_weights_ref(y, mean, span, scale)
    np.testing.assert_allclose(got, want, rtol=1e-9)
    assert np.all(np.isfinite(got)) and np.all(got > 0)


def test_causal_weights_nan_and_float32(rng):
    y = rng.standard_normal((500, 3)).astype(np.float32)
    w = causal_weights(y, y.mean(axis=0, dtype=np.float64), 10)
    want = sref.causal_weights_ref(y, y.mean(axis=0, dtype=np.float64), 10)
    np.testing.assert_allclose(w, want, rtol=1e-6)
    y64 = y.astype(np.float64)
    y64[100, 1] = np.nan
    w = causal_weights(y64, np.zeros(3), 10)
    assert np.all(np.isfinite(w[:100])) and np.isnan(w[100])


@pytest.mark.parametrize("dtype", [np.float64, np.float32])
def test_constant_channels_match_reference(rng, dtype):
    x = rng.standard_normal((300, 6)).astype(dtype)
    x[:, 1] = 4.0  # constant
    x[:, 2] = 0.0
    x[-1, 2] = 1e-30  # varies only at the last sample
    x[:, 3] = np.nan  # all NaN: not constant (max == min is False)
    x[:, 4] = 2.0
    x[0, 4] = np.nan  # NaN first, then constant
    got = ssi_stats.constant_channels(x)
    np.testing.assert_array_equal(got, sref.constant_channels_ref(x))
    assert got.tolist() == [False, True, False, False, False, False]
    assert ssi_stats.constant_channels(x[:1]).tolist() == [True, True, True, False, False, True]


def test_kernels_go_through_the_project_decorator():
    from bshm.analysis._numba import FASTMATH

    for k in (
        ssi_stats._scaled_moments,
        ssi_stats._crossing_counts,
        ssi_stats._causal_power,
        ssi_stats._constant_channels,
    ):
        assert type(k._cache).__name__ != "NullCache", k
        assert set(k.targetoptions["fastmath"]) == set(FASTMATH), k


def test_bandpass_filter_design_is_cached_and_unchanged(rng):
    import scipy.signal
    from bshm.analysis import preprocess

    x = rng.standard_normal((4000, 3))
    preprocess._butter_sos.cache_clear()
    for low, high, kind, wn in [
        (0.5, 15.0, "bandpass", [0.5, 15.0]),
        (0.5, None, "highpass", 0.5),
        (None, 15.0, "lowpass", 15.0),
    ]:
        got = preprocess.bandpass(x, 100.0, low, high)
        sos = scipy.signal.butter(4, wn, kind, fs=100.0, output="sos")
        np.testing.assert_array_equal(got, scipy.signal.sosfiltfilt(sos, x, axis=0))
        preprocess.bandpass(x, 100.0, low, high)
    info = preprocess._butter_sos.cache_info()
    assert info.misses == 3 and info.hits == 3
    with pytest.raises(ValueError, match="read-only"):
        preprocess._butter_sos(4, 0.5, 15.0, 100.0)[0, 0] = 1.0
    with pytest.raises(ValueError, match="empty"):
        preprocess.bandpass(x, 100.0, 15.0, 0.5)
