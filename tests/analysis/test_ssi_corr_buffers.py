"""The correlations' FFT inputs in one compiled pass: the bits of the NumPy steps."""

from __future__ import annotations

import numpy as np
import pytest
from bshm.analysis.ssi_corr import output_correlations
from bshm.analysis.ssi_stats import chunk_buffers
from reference import ssi_stats as ref


@pytest.mark.parametrize("dtype", [np.float64, np.float32])
@pytest.mark.parametrize("weighted", [True, False])
@pytest.mark.parametrize("scaled", [True, False])
@pytest.mark.parametrize("last", [True, False])
def test_chunk_buffers_match_reference(rng, dtype, weighted, scaled, last):
    n, nl, max_lag, nfft = 5000, 5, 39, 256
    seg = nfft - max_lag
    y = (rng.standard_normal((n, nl)) * [1, 10, 0.1, 3, 1e3] + 7).astype(dtype)
    mean = y.mean(axis=0, dtype=np.float64)
    inv = 1.0 / y.std(axis=0).astype(np.float64) if scaled else None
    w = rng.uniform(0.1, 2.0, n) if weighted else None
    refs = np.array([0, 2, 3])
    n_blocks = -(-n // seg)
    b0, b1 = (n_blocks - 7, n_blocks) if last else (3, 10)  # the last chunk runs past n
    start, stop = b0 * seg, min(n, b1 * seg + max_lag)
    rows = (b1 - b0 - 1) * seg + nfft
    own = min(n, b1 * seg) - start
    args = (y, start, stop, mean, inv, w, own, seg, refs, rows, nfft)
    got = chunk_buffers(*args)
    want = ref.chunk_buffers_ref(*args)
    for g, e in zip(got, want, strict=True):
        assert g.shape == e.shape
        assert g.tobytes() == e.tobytes()
    assert np.any(got[1] != 0)


@pytest.mark.parametrize("weighting", ["energy", None])
def test_output_correlations_unchanged(rng, weighting):
    """Against the direct sums (what the block FFT computes), refs and scale too."""
    n, nl, max_lag = 3000, 4, 25
    y = rng.standard_normal((n, nl)) @ rng.standard_normal((nl, nl)) + 3.0
    scale = np.array([1.0, 2.0, 0.5, 4.0])
    refs = np.array([1, 3])
    got = output_correlations(y, max_lag, refs, weighting=weighting, span=50, scale=scale)
    z = (y - y.mean(axis=0)) / scale
    if weighting:
        from bshm.analysis.ssi_corr import causal_weights

        w = causal_weights(y, y.mean(axis=0), 50, scale)
    else:
        w = np.ones(n)
    for k in range(max_lag + 1):
        want = (z[k:].T * w[: n - k]) @ z[: n - k, refs] / w[: n - k].sum()
        np.testing.assert_allclose(got[k], want, rtol=1e-10, atol=1e-12)
