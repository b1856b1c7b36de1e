"""One-pass channel statistics for the SSI front end (Numba kernels).

``channel_scales`` (the unit-free scaling), ``weighting_span`` (the
zero-crossing rate) and ``causal_weights`` (the inverse moving power) each
walked the window several times with NumPy reductions along the sample axis
of a ``(n_samples, n_channels)`` array, plus temporaries; here each is one
or two passes over the rows, with no copy of the window (float32 or
float64, any strides).  The plain NumPy versions they replace live on as
references in ``tests/reference/ssi_stats.py``.
"""

from __future__ import annotations

import numpy as np
from bshm.analysis._numba import kernel

__all__ = [
    "causal_power",
    "chunk_buffers",
    "constant_channels",
    "crossing_counts",
    "scaled_moments",
]


@kernel
def _scaled_moments(data, med):  # type: ignore[no-untyped-def]
    """Per channel: min, max, and the sums of ``z`` and ``z^2``, ``z = (x - med) / peak``.

    ``peak = max(max - med, med - min)`` (``|z| <= 1``: no overflow, no
    cancellation); a channel with ``peak`` 0 or not finite gets NaN sums.
    """
    n, nl = data.shape
    lo = np.full(nl, np.inf)
    hi = np.full(nl, -np.inf)
    nan_seen = np.zeros(nl, dtype=np.bool_)
    for t in range(n):
        for c in range(nl):
            v = np.float64(data[t, c])
            if v < lo[c]:
                lo[c] = v
            if v > hi[c]:
                hi[c] = v
            if v != v:
                nan_seen[c] = True
    inv = np.empty(nl)
    for c in range(nl):
        if nan_seen[c]:
            lo[c] = np.nan
            hi[c] = np.nan
        peak = max(hi[c] - med[c], med[c] - lo[c])
        inv[c] = 1.0 / peak if peak > 0.0 and np.isfinite(peak) else np.nan
    total = np.zeros(nl)
    sq = np.zeros(nl)
    for t in range(n):
        for c in range(nl):
            z = (np.float64(data[t, c]) - med[c]) * inv[c]
            total[c] += z
            sq[c] += z * z
    return lo, hi, total, sq


def scaled_moments(
    data: np.ndarray, med: np.ndarray
) -> tuple[np.ndarray, np.ndarray, np.ndarray, np.ndarray]:
    """Min, max, ``sum z`` and ``sum z^2`` per channel, ``z = (x - med) / peak``.

    Parameters
    ----------
    data : ndarray, shape (n_samples, n_channels), float32 or float64
    med : ndarray, shape (n_channels,)
        A central value of each channel (the median).

    Returns
    -------
    lo, hi, total, sq : ndarray, shape (n_channels,)
        NaN min/max for a channel holding NaN; NaN sums where ``peak`` is 0.
    """
    return _scaled_moments(_rows(data), np.ascontiguousarray(med, dtype=np.float64))


@kernel
def _crossing_counts(y, center):  # type: ignore[no-untyped-def]
    n, nl = y.shape
    out = np.zeros(nl, dtype=np.int64)
    if n == 0:
        return out
    prev = np.empty(nl, dtype=np.bool_)
    for c in range(nl):
        prev[c] = np.signbit(np.float64(y[0, c]) - center[c])
    for t in range(1, n):
        for c in range(nl):
            s = np.signbit(np.float64(y[t, c]) - center[c])
            if s != prev[c]:
                out[c] += 1
            prev[c] = s
    return out


def crossing_counts(y: np.ndarray, center: np.ndarray) -> np.ndarray:
    """Sign changes of ``y - center`` in each channel (int64, shape (n_channels,))."""
    return _crossing_counts(_rows(y), np.ascontiguousarray(center, dtype=np.float64))


@kernel
def _causal_power(y, mean, inv, a, head):  # type: ignore[no-untyped-def]
    """Inverse of the bias-corrected EMA of the row power (see ``causal_weights``)."""
    n, nl = y.shape
    out = np.empty(n)
    tot = 0.0
    acc = 0.0
    for t in range(n):
        e = 0.0
        for c in range(nl):
            z = (np.float64(y[t, c]) - mean[c]) * inv[c]
            e += z * z
        tot += e
        acc = acc + a * (e - acc)  # y_t = a e_t + (1 - a) y_{t-1}, from 0
        out[t] = acc
    if a < 1.0:  # bias correction 1 - (1 - a)^(t + 1)
        lg = np.log1p(-a)
        for t in range(min(n, head)):
            out[t] /= -np.expm1((t + 1) * lg)
    floor = 1e-6 * (tot / n) if n > 0 else 0.0
    if not floor > 0.0:
        floor = 2.2250738585072014e-308
    for t in range(n):
        v = out[t]
        if v < floor:  # (NaN stays NaN)
            v = floor
        out[t] = 1.0 / v
    return out


def causal_power(y: np.ndarray, mean: np.ndarray, inv: np.ndarray, span: float) -> np.ndarray:
    """Weights ``1 / P_t`` of :func:`bshm.analysis.ssi_corr.causal_weights`, one pass.

    Parameters
    ----------
    y : ndarray, shape (n_samples, n_channels)
    mean, inv : ndarray, shape (n_channels,)
        Each channel is taken as ``(y - mean) * inv``.
    span : float
        Time constant of the moving average (samples), >= 1.

    Returns
    -------
    ndarray, shape (n_samples,)
    """
    a = 1.0 / max(1.0, float(span))
    head = int(40.0 / a) + 1
    return _causal_power(
        _rows(y),
        np.ascontiguousarray(mean, dtype=np.float64),
        np.ascontiguousarray(inv, dtype=np.float64),
        a,
        head,
    )


@kernel
def _chunk_buffers(y, start, stop, mean, inv, w, own, seg, refs, buf, pad):  # type: ignore[no-untyped-def]
    """The two FFT inputs of one chunk of ``ssi_corr.output_correlations``, one pass.

    ``buf[i] = (y[start + i] - mean) * inv`` for ``i < stop - start``, 0
    after (``inv[0]`` NaN: no scaling); ``pad[b]`` (length ``nfft``) is the
    reference block ``b`` (rows ``b seg .. b seg + seg - 1`` of ``buf``,
    columns ``refs``), each row ``i`` times ``w[start + i]`` (``w`` empty:
    1) for ``i < own`` and 0 from ``own`` on, reversed in circular time
    (``pad[b, 0] = row 0``, ``pad[b, nfft - j] = row j``), zero elsewhere.
    """
    rows, nl = buf.shape
    nb, nfft, nr = pad.shape
    m = stop - start
    scaled = not np.isnan(inv[0])
    for i in range(rows):
        if i < m:
            for c in range(nl):
                v = np.float64(y[start + i, c]) - mean[c]
                buf[i, c] = v * inv[c] if scaled else v
        else:
            for c in range(nl):
                buf[i, c] = 0.0
    weighted = w.size > 0
    for b in range(nb):
        for j in range(1, nfft - seg + 1):
            for r in range(nr):
                pad[b, j, r] = 0.0
        for j in range(seg):
            i = b * seg + j
            dst = 0 if j == 0 else nfft - j
            if i < own:
                wi = w[start + i] if weighted else 1.0
                for r in range(nr):
                    pad[b, dst, r] = buf[i, refs[r]] * wi if weighted else buf[i, refs[r]]
            else:
                for r in range(nr):
                    pad[b, dst, r] = 0.0 if weighted else buf[i, refs[r]]


def chunk_buffers(
    y: np.ndarray,
    start: int,
    stop: int,
    mean: np.ndarray,
    inv: np.ndarray | None,
    w: np.ndarray | None,
    own: int,
    seg: int,
    refs: np.ndarray,
    rows: int,
    nfft: int,
) -> tuple[np.ndarray, np.ndarray]:
    """``(buf, pad)`` of one chunk of the block-FFT correlations (see :func:`_chunk_buffers`).

    Returns
    -------
    buf : ndarray, shape (rows, n_channels)
    pad : ndarray, shape (rows_of_blocks, nfft, n_refs)
    """
    nl = y.shape[1]
    refs = np.ascontiguousarray(refs, dtype=np.int64)
    buf = np.empty((rows, nl))
    pad = np.empty(((rows - nfft) // seg + 1, nfft, refs.size))
    inv_c = np.full(nl, np.nan) if inv is None else np.ascontiguousarray(inv, dtype=np.float64)
    _chunk_buffers(
        _rows(y),
        int(start),
        int(stop),
        np.ascontiguousarray(mean, dtype=np.float64),
        inv_c,
        np.empty(0) if w is None else np.ascontiguousarray(w, dtype=np.float64),
        int(own),
        int(seg),
        refs,
        buf,
        pad,
    )
    return buf, pad


@kernel
def _constant_channels(data):  # type: ignore[no-untyped-def]
    n, nl = data.shape
    const = np.ones(nl, dtype=np.bool_)
    left = nl
    for t in range(1, n):
        for c in range(nl):
            if const[c] and data[t, c] != data[0, c]:  # NaN differs from everything
                const[c] = False
                left -= 1
        if left == 0:
            break
    if n > 0:
        for c in range(nl):
            if data[0, c] != data[0, c]:
                const[c] = False
    return const


def constant_channels(data: np.ndarray) -> np.ndarray:
    """Channels whose samples all equal the first (bool, shape (n_channels,)).

    The same answer as ``data.max(axis=0) == data.min(axis=0)`` (a channel
    holding NaN is not constant), but it stops at the first row where every
    channel has varied: on real data, after a few samples instead of two
    passes over the window.
    """
    return _constant_channels(_rows(data))


def _rows(x: np.ndarray) -> np.ndarray:
    """float32/float64 2-D array as is (no copy); other dtypes as float64."""
    x = np.asarray(x)
    if x.dtype not in (np.float32, np.float64):
        x = x.astype(np.float64)
    return x
