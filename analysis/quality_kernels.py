"""Numba kernels of the per-window data-quality checks (:mod:`bshm.analysis.windows`).

Two kernels, each one pass over a window of shape ``(n, n_channels)``:

* :func:`channel_stats`: per channel, in one fused pass over the rows, the
  number of non-finite samples, of samples outside the plausible range,
  whether the channel is constant, the longest run of zero first
  differences, the largest absolute value and the number of samples within
  ``1e-6`` of it (clipping).
* :func:`spike_zmax`: per channel, the largest robust z-score of the second
  difference ``x[i] - (x[i-1] + x[i+1]) / 2`` (median and 1.4826 x MAD).

Both compile with strict IEEE semantics (``fastmath=False``): the checks'
decisions must be bit-for-bit those of the NumPy formulas in
``tests/reference/quality.py`` (a fused multiply-add would change a second
difference in its last bit and could move a value across a limit).
"""

from __future__ import annotations

import numpy as np
from bshm.analysis._numba import kernel

__all__ = ["channel_stats", "spike_zmax"]


@kernel(fastmath=False)
def _stats_kernel(
    x, lo, hi, has_range, n_bad, n_off, flat, longest, amax, n_at_max
):  # pragma: no cover - compiled
    n, nc = x.shape
    vmin = np.empty(nc)
    vmax = np.empty(nc)
    run = np.zeros(nc, np.int64)
    for c in range(nc):
        n_bad[c] = 0
        n_off[c] = 0
        longest[c] = 0
        amax[c] = 0.0
        n_at_max[c] = 0
        vmin[c] = np.inf
        vmax[c] = -np.inf
    for i in range(n):
        for c in range(nc):
            v = x[i, c]
            if not np.isfinite(v):
                n_bad[c] += 1
            else:
                if has_range[c] and (v < lo[c] or v > hi[c]):
                    n_off[c] += 1
                if v < vmin[c]:
                    vmin[c] = v
                if v > vmax[c]:
                    vmax[c] = v
                a = abs(v)
                if a > amax[c]:
                    amax[c] = a
            if i > 0:
                if x[i, c] - x[i - 1, c] == 0:
                    run[c] += 1
                    if run[c] > longest[c]:
                        longest[c] = run[c]
                else:
                    run[c] = 0
    for c in range(nc):
        flat[c] = n > 0 and vmax[c] - vmin[c] == 0
    for i in range(n):
        for c in range(nc):
            m = amax[c]
            if abs(abs(x[i, c]) - m) <= 1e-6 * m:
                n_at_max[c] += 1


@kernel(fastmath=False)
def _spike_kernel(x, zmax):  # pragma: no cover - compiled
    n, nc = x.shape
    m = n - 2
    d2 = np.empty((nc, m))
    for i in range(m):
        for c in range(nc):
            d2[c, i] = x[i + 1, c] - 0.5 * (x[i, c] + x[i + 2, c])
    dev = np.empty(m)
    for c in range(nc):
        med = np.median(d2[c])
        top = 0.0
        for i in range(m):
            a = abs(d2[c, i] - med)
            dev[i] = a
            if a > top:
                top = a
        mad = 1.4826 * np.median(dev)
        # max(a) / mad == max(a / mad): correctly rounded division is monotone
        zmax[c] = top / mad if mad > 0 else 0.0


def channel_stats(x: np.ndarray, ranges: tuple | list = ()) -> dict[str, np.ndarray]:
    """Per-channel counts of one window in one pass (see the module docstring).

    Parameters
    ----------
    x : ndarray, shape (n, n_channels), float64
    ranges : sequence of (float, float) or None
        Plausible range per channel (missing or None: no check).

    Returns
    -------
    dict of str to ndarray, each of shape (n_channels,)
        ``n_bad`` (non-finite), ``n_off`` (finite samples outside the range),
        ``flat`` (bool: every finite sample equal), ``longest`` (longest run of
        zero first differences), ``amax`` (largest finite absolute value) and
        ``n_at_max`` (samples whose absolute value is within ``1e-6 * amax``
        of ``amax``). ``flat``, ``amax`` and ``n_at_max`` mean what the checks
        use only for a channel without non-finite samples.
    """
    x = np.ascontiguousarray(x, np.float64)
    nc = x.shape[1]
    lo = np.zeros(nc)
    hi = np.zeros(nc)
    has = np.zeros(nc, np.bool_)
    for c, r in enumerate(ranges[:nc]):
        if r is not None:
            lo[c], hi[c], has[c] = float(r[0]), float(r[1]), True
    out = {
        "n_bad": np.zeros(nc, np.int64),
        "n_off": np.zeros(nc, np.int64),
        "flat": np.zeros(nc, np.bool_),
        "longest": np.zeros(nc, np.int64),
        "amax": np.zeros(nc),
        "n_at_max": np.zeros(nc, np.int64),
    }
    _stats_kernel(
        x,
        lo,
        hi,
        has,
        out["n_bad"],
        out["n_off"],
        out["flat"],
        out["longest"],
        out["amax"],
        out["n_at_max"],
    )
    return out


def spike_zmax(x: np.ndarray) -> np.ndarray:
    """Largest robust z-score of the second difference, per channel.

    Parameters
    ----------
    x : ndarray, shape (n, n_channels), finite float64, n >= 3

    Returns
    -------
    ndarray, shape (n_channels,)
        ``max |d2 - median(d2)| / (1.4826 * MAD)``, 0 where the MAD is 0.
    """
    x = np.ascontiguousarray(x, np.float64)
    z = np.zeros(x.shape[1])
    if x.shape[0] >= 3:
        _spike_kernel(x, z)
    return z
