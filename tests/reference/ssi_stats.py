"""Plain NumPy references for :mod:`bshm.analysis.ssi_stats` (the versions it replaced)."""

from __future__ import annotations

import numpy as np
import scipy.signal


def scaled_moments_ref(data, med):
    """Min, max, sum z and sum z^2 with NumPy reductions, z = (x - med) / peak."""
    x = np.asarray(data, dtype=np.float64)
    lo, hi = x.min(axis=0), x.max(axis=0)
    peak = np.maximum(hi - med, med - lo)
    with np.errstate(divide="ignore", invalid="ignore"):
        inv = np.where((peak > 0) & np.isfinite(peak), 1.0 / peak, np.nan)
        z = (x - med) * inv
    return lo, hi, z.sum(axis=0), (z * z).sum(axis=0)


def crossing_counts_ref(y, center):
    sign = np.signbit(np.asarray(y, dtype=np.float64) - center)
    return np.count_nonzero(sign[1:] != sign[:-1], axis=0)


def causal_weights_ref(y, mean, span, scale=None):
    """Inverse EMA of the power by scipy.signal.lfilter, bias-corrected, floored."""
    n = y.shape[0]
    inv = 1.0 if scale is None else 1.0 / np.asarray(scale, dtype=np.float64)
    part = (np.asarray(y, dtype=np.float64) - mean) * inv
    e = np.einsum("tc,tc->t", part, part)
    a = 1.0 / max(1.0, float(span))
    ema = scipy.signal.lfilter([a], [1.0, -(1.0 - a)], e)
    if a < 1.0:
        head = min(n, int(40.0 / a) + 1)
        ema[:head] /= 1.0 - (1.0 - a) ** np.arange(1, head + 1)
    floor = 1e-6 * float(e.mean())
    ema = np.maximum(ema, floor if floor > 0 else np.finfo(float).tiny)
    return 1.0 / ema


def constant_channels_ref(data):
    x = np.asarray(data)
    return x.max(axis=0) == x.min(axis=0)


def chunk_buffers_ref(y, start, stop, mean, inv, w, own, seg, refs, rows, nfft):
    """The NumPy steps ``ssi_corr.output_correlations`` took for one chunk's FFT inputs."""
    nl = y.shape[1]
    nb = (rows - nfft) // seg + 1
    buf = np.empty((rows, nl))
    buf[stop - start :] = 0.0
    np.subtract(y[start:stop], mean, out=buf[: stop - start])
    if inv is not None:
        buf[: stop - start] *= inv
    rb = buf[: nb * seg][:, refs].reshape(nb, seg, len(refs))
    pad = np.zeros((nb, nfft, len(refs)))
    if w is not None:
        ww = np.zeros(nb * seg)
        ww[:own] = w[start : start + own]
        wb = ww.reshape(nb, seg)[:, :, None]
        np.multiply(rb[:, :1], wb[:, :1], out=pad[:, :1])
        np.multiply(rb[:, :0:-1], wb[:, :0:-1], out=pad[:, nfft - seg + 1 :])
    else:
        pad[:, :1] = rb[:, :1]
        pad[:, nfft - seg + 1 :] = rb[:, :0:-1]
    return buf, pad
