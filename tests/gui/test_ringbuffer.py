"""Ring buffer and peak decimation of the live view against plain references."""

from __future__ import annotations

import numpy as np
import pytest
from bshm.gui.ringbuffer import RingBuffer, peak_decimate


def reference_decimate(t, y, ds, phase):
    """Obviously correct min/max per block (loops)."""
    t, y = t[phase:], y[phase:]
    xs, ys = [], []
    for b in range(len(t) // ds):
        blk = y[b * ds : (b + 1) * ds]
        lo = [np.nan if np.isnan(blk[:, c]).any() else blk[:, c].min() for c in range(y.shape[1])]
        hi = [np.nan if np.isnan(blk[:, c]).any() else blk[:, c].max() for c in range(y.shape[1])]
        xs += [t[b * ds]] * 2
        ys += [lo, hi]
    return np.array(xs), np.array(ys, dtype=np.float32).reshape(-1, y.shape[1])


@pytest.mark.parametrize("chunks", [[7, 3, 11, 1, 20], [50], [1] * 40, [13, 13, 13, 13]])
def test_ring_keeps_the_newest_rows_in_order(chunks, rng):
    ring = RingBuffer(16, 3)
    all_t, all_y = [], []
    k = 0
    for n in chunks:
        t = np.arange(k, k + n, dtype=float)
        y = rng.standard_normal((n, 3)).astype(np.float32)
        ring.append(t, y)
        all_t.append(t)
        all_y.append(y)
        k += n
        tv, yv = ring.view()
        ref_t = np.concatenate(all_t)[-16:]
        np.testing.assert_array_equal(tv, ref_t)
        np.testing.assert_array_equal(yv, np.vstack(all_y)[-16:])
        assert ring.last_time() == ref_t[-1]
    assert ring.total == sum(chunks)
    assert ring.nbytes == 32 * 8 + 32 * 3 * 4


def test_ring_rejects_nonsense():
    with pytest.raises(ValueError, match="capacity"):
        RingBuffer(0, 2)


@pytest.mark.parametrize(("n", "ds", "phase"), [(100, 1, 0), (100, 7, 3), (64, 8, 0), (5, 8, 0)])
def test_peak_decimate_matches_reference(n, ds, phase, rng):
    t = np.arange(n, dtype=float) * 0.001
    y = rng.standard_normal((n, 4)).astype(np.float32)
    y[n // 2, :] = np.nan  # a break
    y[3:9, 2] = 5.0  # a constant stretch
    out_t = np.empty(2 * n + 2)
    out_y = np.empty((2 * n + 2, 4), dtype=np.float32)
    m = peak_decimate(t, y, ds, phase, out_t, out_y)
    if ds == 1:
        np.testing.assert_array_equal(out_t[:m], t)
        np.testing.assert_array_equal(out_y[:m], y)
        return
    rt, ry = reference_decimate(t, y, ds, phase)
    assert m == len(rt)
    np.testing.assert_array_equal(out_t[:m], rt)
    np.testing.assert_array_equal(out_y[:m], ry)
