"""Numba kernels of the per-window data-quality checks (:mod:`bshm.analysis.windows`).

The kernels behind the checks of one window of shape ``(n, n_channels)``:

* :func:`channel_stats`: per channel, in one fused pass over the rows, the
  number of non-finite samples, of samples outside the plausible range,
  whether the channel is constant, the longest run of zero first
  differences, the largest absolute value and the number of samples within
  ``1e-6`` of it (clipping).
* :func:`spike_zmax`: per channel, the largest robust z-score of the second
  difference ``x[i] - (x[i-1] + x[i+1]) / 2`` (median and 1.4826 x MAD),
  with an exact :func:`median` that sorts only the few per cent of values
  that a strided sample brackets (about 4x faster than ``np.median``).
* :func:`welch_mean`: the channel-mean Welch spectrum of the excitation
  check, segments built by one kernel and transformed in one ``rfft`` call
  (``scipy.signal.welch`` detrends each segment in Python).

They compile with strict IEEE semantics (``fastmath=False``): the checks'
decisions must be those of the NumPy formulas in
``tests/reference/quality.py`` bit for bit (a fused multiply-add would change
a second difference in its last bit and could move a value across a limit).
"""

from __future__ import annotations

import numpy as np
from bshm.analysis._numba import kernel

__all__ = ["channel_stats", "median", "spike_zmax", "welch_mean"]


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
def _bracket(a, lo, hi, buf):  # pragma: no cover - compiled
    """Count ``a < lo`` and copy the values in ``[lo, hi]`` to ``buf`` (branch-free)."""
    below = 0
    m = 0
    for i in range(a.size):
        v = a[i]
        below += v < lo
        buf[m] = v
        m += (v >= lo) & (v <= hi)
    return below, m


@kernel(fastmath=False)
def _second_differences(x):  # pragma: no cover - compiled
    n, nc = x.shape
    m = n - 2
    d2 = np.empty((nc, m))
    for i in range(m):
        for c in range(nc):
            d2[c, i] = x[i + 1, c] - 0.5 * (x[i, c] + x[i + 2, c])
    return d2


@kernel(fastmath=False)
def _hann_block(xc, win, step, s0, out):  # pragma: no cover - compiled
    """Welch segments ``s0, s0 + 1, ...`` of every channel (row ``(s - s0) * nc + c``
    of ``out``), each minus its mean, times the window."""
    n, nc = xc.shape
    nper = win.size
    mu = np.empty(nc)
    for k in range(out.shape[0] // nc):
        i0 = (s0 + k) * step
        mu[:] = 0.0
        for j in range(nper):  # rows in memory order: the window is (n, n_channels)
            for c in range(nc):
                mu[c] += xc[i0 + j, c]
        for c in range(nc):
            mu[c] = mu[c] / nper
        for j in range(nper):
            w = win[j]
            for c in range(nc):
                out[k * nc + c, j] = (xc[i0 + j, c] - mu[c]) * w


@kernel(fastmath=False)
def _add_power(spec, p):  # pragma: no cover - compiled
    """``p += sum over the rows of |spec|**2``."""
    rows, nf = spec.shape
    for r in range(rows):
        for j in range(nf):
            v = spec[r, j]
            p[j] += v.real * v.real + v.imag * v.imag


def welch_mean(xc: np.ndarray, fs: float, nper: int) -> tuple[np.ndarray, np.ndarray]:
    """Welch spectrum averaged over the channels, without the density factor.

    The numbers of ``scipy.signal.welch(xc, fs, nperseg=nper, axis=0)[1]
    .mean(axis=1)`` (periodic Hann window, half overlap, constant detrend per
    segment, one-sided) up to rounding and one constant factor, which cancels
    in the excitation check's ratio.

    Parameters
    ----------
    xc : ndarray, shape (n, n_channels)
    fs : float
    nper : int
        Segment length, <= n.

    Returns
    -------
    f, p : ndarray, shape (nper // 2 + 1,)
    """
    xc = np.ascontiguousarray(xc, np.float64)
    n = xc.shape[0]
    step = nper - nper // 2
    nseg = (n - nper) // step + 1
    win = 0.5 - 0.5 * np.cos(2.0 * np.pi * np.arange(nper) / nper)
    nc = xc.shape[1]
    # blocks of segments of about 1 MB: they stay in the cache, and no window-sized
    # temporary is allocated (page faults cost as much as the FFTs)
    per = max(1, (1 << 17) // (nper * nc))
    buf = np.empty((per * nc, nper))
    p = np.zeros(nper // 2 + 1)
    for s0 in range(0, nseg, per):
        rows = min(per, nseg - s0) * nc
        _hann_block(xc, win, step, s0, buf[:rows])
        _add_power(np.fft.rfft(buf[:rows], axis=-1), p)
    p /= nseg * nc
    if nper % 2:
        p[1:] *= 2.0
    else:
        p[1:-1] *= 2.0
    return np.fft.rfftfreq(nper, 1.0 / fs), p


def _median(a: np.ndarray, buf: np.ndarray) -> float:
    """Exact median of a finite 1-D array (NumPy's: mean of the two middle values).

    A strided sample (sorted) brackets the middle ranks; one compiled pass
    counts the values below the bracket and copies those inside it, a few
    per cent of the array, which NumPy sorts.  When the bracket misses the
    middle ranks (an unlucky sample) the whole array is sorted: the result
    is exact either way, about 4x faster than ``np.median`` when it hits.
    """
    n = a.size
    r_lo, r_hi = (n - 1) // 2, n // 2
    k = max(1, n // 2048)
    smp = np.sort(a[::k])
    ns = smp.size
    margin = 2 * int(np.sqrt(ns)) + 4
    i_lo = (r_lo * ns) // n - margin
    i_hi = (r_hi * ns) // n + margin
    lo = smp[i_lo] if i_lo >= 0 else -np.inf
    hi = smp[i_hi] if i_hi < ns else np.inf
    below, m = _bracket(a, lo, hi, buf)
    if below <= r_lo and r_hi < below + m:
        mid = np.sort(buf[:m])
        x_lo, x_hi = mid[r_lo - below], mid[r_hi - below]
    else:
        full = np.sort(a)
        x_lo, x_hi = full[r_lo], full[r_hi]
    if r_lo == r_hi:
        return float(x_lo)
    return float((x_lo + x_hi) / 2.0)


def median(a: np.ndarray) -> float:
    """Exact median of a finite, non-empty 1-D array (see :func:`_median`)."""
    a = np.ascontiguousarray(a, np.float64)
    if a.size == 0:
        raise ValueError("median of an empty array")
    return _median(a, np.empty(a.size))


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
        ``max |d2 - median(d2)| / (1.4826 * MAD)``, 0 where the MAD is 0
        (``max(a) / mad == max(a / mad)``: correctly rounded division is
        monotone).
    """
    x = np.ascontiguousarray(x, np.float64)
    z = np.zeros(x.shape[1])
    if x.shape[0] < 3:
        return z
    d2 = _second_differences(x)
    buf = np.empty(d2.shape[1])
    dev = np.empty(d2.shape[1])
    for c in range(d2.shape[0]):
        row = d2[c]
        np.abs(row - _median(row, buf), out=dev)
        mad = 1.4826 * _median(dev, buf)
        z[c] = float(dev.max()) / mad if mad > 0 else 0.0
    return z
