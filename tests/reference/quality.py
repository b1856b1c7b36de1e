"""Plain NumPy reference of the per-window data-quality checks.

The formulas of ``bshm.analysis.windows.check_quality`` and
``channel_faults`` as they were before the Numba kernels of
``bshm.analysis.quality_kernels``: obviously correct, one NumPy expression per
check. The kernels' checks must give the same reasons and details.
"""

from __future__ import annotations

from collections.abc import Sequence

import numpy as np
from bshm.analysis.windows import QualitySettings


def _longest_run(eq: np.ndarray) -> int:
    """Longest run of True in a 1-D bool array."""
    if not eq.any():
        return 0
    d = np.diff(np.concatenate([[0], eq.view(np.int8), [0]]))
    starts, ends = np.flatnonzero(d == 1), np.flatnonzero(d == -1)
    return int((ends - starts).max())


def check_quality_ref(
    data: np.ndarray, fs: float, q: QualitySettings, *, band: tuple[float, float] | None = None
) -> tuple[str, str]:
    """Data-quality checks of one window.

    Parameters
    ----------
    data : ndarray, shape (n, n_channels)
    fs : float
        Sampling rate (Hz).
    q : QualitySettings
    band : (float, float), optional
        Analysis band (Hz) for the excitation check.

    Returns
    -------
    (reason, detail) : (str, str)
        ``("", "")`` when the window is fit for identification.
    """
    x = np.asarray(data, np.float64)
    if not np.all(np.isfinite(x)):
        bad = int(np.sum(~np.isfinite(x)))
        return "nan", f"{bad} NaN/infinite samples"
    n = x.shape[0]
    max_run = max(2, int(q.flat_run_s * fs))
    for c in range(x.shape[1]):
        col = x[:, c]
        if np.ptp(col) == 0 or _longest_run(np.diff(col) == 0) + 1 >= max_run:
            return "flat", f"channel {c} is flat"
        m = np.max(np.abs(col))
        at_max = np.abs(np.abs(col) - m) <= 1e-6 * m
        if at_max.sum() >= max(4, q.clip_fraction * n):
            return "clipping", f"channel {c}: {int(at_max.sum())} samples at {m:g}"
    d2 = x[1:-1] - 0.5 * (x[:-2] + x[2:])
    med = np.median(d2, axis=0)
    mad = 1.4826 * np.median(np.abs(d2 - med), axis=0)
    z = np.abs(d2 - med) / np.where(mad > 0, mad, np.inf)
    if np.any(z > q.spike_z):
        c = int(np.argmax(np.max(z, axis=0)))
        return "spikes", f"channel {c}: second difference {np.max(z):.0f} sigma"
    xc = x - x.mean(axis=0)
    rms = float(np.median(np.sqrt(np.mean(xc**2, axis=0))))
    if q.min_rms and rms < q.min_rms:
        return "low_excitation", f"median RMS {rms:g} < {q.min_rms:g}"
    if band is not None and q.min_band_ratio > 0:
        from scipy.signal import welch

        nper = int(min(n, max(256, 2 ** int(np.log2(fs * 10)))))
        f, p = welch(xc, fs=fs, nperseg=nper, axis=0)
        p = p.mean(axis=1)
        inb = (f >= band[0]) & (f <= band[1])
        ratio = float(p[inb].max() / np.median(p[1:])) if inb.any() else 0.0
        if ratio < q.min_band_ratio:
            return "low_excitation", f"spectral peak only {ratio:.1f} x the noise floor"
    return "", ""


def channel_faults_ref(
    data: np.ndarray,
    fs: float,
    q: QualitySettings,
    ranges: Sequence[tuple[float, float] | None] = (),
) -> list[tuple[int, str, str]]:
    """Channels that cannot take part in the identification.

    Parameters
    ----------
    data : ndarray, shape (n, n_channels)
    fs : float
    q : QualitySettings
    ranges : sequence of (float, float) or None
        Plausible range per channel (empty: no check).

    Returns
    -------
    list of (channel index, reason, detail)
        ``reason`` is ``nan``, ``implausible``, ``flat`` or ``clipping``.
    """
    x = np.asarray(data, np.float64)
    n = x.shape[0]
    max_run = max(2, int(q.flat_run_s * fs))
    out = []
    for c in range(x.shape[1]):
        col = x[:, c]
        bad = ~np.isfinite(col)
        if bad.any():
            out.append((c, "nan", f"{int(bad.sum())} NaN/infinite samples"))
            continue
        if c < len(ranges) and ranges[c] is not None:
            lo, hi = ranges[c]  # type: ignore[misc]
            off = (col < lo) | (col > hi)
            if off.any():
                out.append((c, "implausible", f"{int(off.sum())} samples outside {lo:g}..{hi:g}"))
                continue
        if np.ptp(col) == 0 or _longest_run(np.diff(col) == 0) + 1 >= max_run:
            out.append((c, "flat", "flat or stuck"))
            continue
        m = np.max(np.abs(col))
        at_max = np.abs(np.abs(col) - m) <= 1e-6 * m
        if at_max.sum() >= max(4, q.clip_fraction * n):
            out.append((c, "clipping", f"{int(at_max.sum())} samples at {m:g}"))
    return out
