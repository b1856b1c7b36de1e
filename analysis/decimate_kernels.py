"""Linear detrend and zero-phase FIR decimation of a window in one compiled pass.

The preprocessing of :func:`bshm.analysis.windows.process_window` before
``identify``: each channel minus its least-squares line, then
``scipy.signal.decimate(x, q, ftype="fir", axis=0, zero_phase=True)``, i.e.
``resample_poly(x, 1, q, window=firwin(20 q + 1, 1 / q, window="hamming"))``:
output sample ``k`` is ``sum_j h[j] x[q k + 10 q - j]`` with zeros outside
the record (the filter centred on input sample ``q k``).

SciPy's path makes five window-sized temporaries (the float64 copy, the
centred copy, the detrended copy, the padded filter output) and runs its
polyphase filter channel by channel; here the detrended samples are made
once and the filter runs over rows, all channels at a time. The numbers are
SciPy's up to the order of the sums (``tests/analysis/test_windows_decimate.py``
compares them, and the modes identified from both).
"""

from __future__ import annotations

from functools import lru_cache

import numpy as np
from bshm.analysis._numba import kernel

__all__ = ["detrend_decimate", "fir_taps"]


@lru_cache(maxsize=8)
def fir_taps(q: int) -> np.ndarray:
    """The FIR taps of ``scipy.signal.decimate(..., ftype="fir")`` for factor ``q``."""
    from scipy.signal import firwin

    h = firwin(20 * q + 1, 1.0 / q, window="hamming")
    h.setflags(write=False)
    return h


@kernel(fastmath=False)
def _detrend(x, cols, y):  # pragma: no cover - compiled
    """``y[:, j] = x[:, cols[j]]`` minus its least-squares line (float64)."""
    n = x.shape[0]
    nc = cols.size
    mean = np.zeros(nc)
    for i in range(n):
        for j in range(nc):
            mean[j] += x[i, cols[j]]
    for j in range(nc):
        mean[j] /= n
    half = 0.5 * (n - 1)
    ty = np.zeros(nc)
    tt = 0.0
    for i in range(n):
        t = i - half
        tt += t * t
        for j in range(nc):
            v = x[i, cols[j]] - mean[j]
            y[i, j] = v
            ty[j] += t * v
    if tt > 0:
        for j in range(nc):
            ty[j] /= tt
        for i in range(n):
            t = i - half
            for j in range(nc):
                y[i, j] -= t * ty[j]


@kernel(fastmath=False)
def _fir_down(y, h, q, out):  # pragma: no cover - compiled
    """``out[k] = sum_j h[j] y[q k + half - j]`` (zeros outside ``y``), all channels."""
    n, nc = y.shape
    half = (h.size - 1) // 2
    acc = np.empty(nc)
    for k in range(out.shape[0]):
        c0 = q * k + half
        acc[:] = 0.0
        if c0 - (h.size - 1) >= 0 and c0 < n:  # inside the record
            for j in range(h.size):
                hj = h[j]
                i = c0 - j
                for c in range(nc):
                    acc[c] += hj * y[i, c]
        else:
            for j in range(h.size):
                i = c0 - j
                if i < 0 or i >= n:
                    continue
                hj = h[j]
                for c in range(nc):
                    acc[c] += hj * y[i, c]
        for c in range(nc):
            out[k, c] = acc[c]


def detrend_decimate(data: np.ndarray, q: int, cols: np.ndarray | None = None) -> np.ndarray:
    """Detrend the columns ``cols`` of ``data`` and decimate them by ``q``.

    Parameters
    ----------
    data : ndarray, shape (n, n_channels), float32 or float64
    q : int
        Decimation factor, >= 1 (1: detrend only).
    cols : ndarray of int, optional
        Columns to keep (default: all).

    Returns
    -------
    ndarray, shape (ceil(n / q), len(cols)), float64
    """
    x = np.ascontiguousarray(data)
    if x.dtype not in (np.float32, np.float64):
        x = x.astype(np.float64)
    if x.ndim != 2:
        raise ValueError(f"expected (n, n_channels) samples, got shape {x.shape}")
    idx = np.arange(x.shape[1]) if cols is None else np.asarray(cols, np.int64)
    y = np.empty((x.shape[0], idx.size))
    _detrend(x, idx.astype(np.int64), y)
    if q <= 1:
        return y
    n_out = -(-x.shape[0] // q)
    out = np.empty((n_out, idx.size))
    _fir_down(y, fir_taps(int(q)), int(q), out)
    return out
