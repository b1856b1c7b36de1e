"""Plain NumPy reference of the channel health check.

The statistics of ``bshm.analysis.health.check_channel`` as they were
computed before the fused Numba kernel of ``bshm.analysis.health_kernels``:
one NumPy expression per statistic (``scipy.ndimage.median_filter`` for the
running median of the spike check, ``np.median`` for the drift check's
robust std), judged by the same ``judge_channel``. The kernel must give the
same statistics, hence the same statuses, reasons and values.
"""

from __future__ import annotations

from typing import Any

import numpy as np
from bshm.analysis.health import ChannelHealth, HealthSettings, KeptStats, judge_channel


def _longest_run(mask: np.ndarray) -> int:
    """Length of the longest run of True."""
    if not mask.any():
        return 0
    m = np.concatenate([[False], mask, [False]]).astype(np.int8)
    d = np.diff(m)
    starts = np.flatnonzero(d == 1)
    ends = np.flatnonzero(d == -1)
    return int((ends - starts).max())


def _runs_at(x: np.ndarray, value: float, min_len: int) -> int:
    """Samples in runs of at least ``min_len`` consecutive ``x == value``."""
    m = np.concatenate([[False], x == value, [False]]).astype(np.int8)
    d = np.diff(m)
    lens = np.flatnonzero(d == -1) - np.flatnonzero(d == 1)
    return int(lens[lens >= min_len].sum())


def _mad_std(r: np.ndarray) -> float:
    dev = np.abs(r - np.median(r))
    return float(1.4826 * np.median(dev))


def check_channel_ref(
    x: Any,
    fs: float,
    *,
    name: str = "",
    quantity: str = "other",
    gap_fraction: float = 0.0,
    settings: HealthSettings | None = None,
    valid_range: tuple[float, float] | None = None,
) -> ChannelHealth:
    """``check_channel`` with the statistics from plain NumPy expressions.

    The statuses and reasons come from the same
    :func:`bshm.analysis.health.judge_channel`; what this checks is the
    kernel's statistics.
    """
    from scipy.ndimage import median_filter

    s = settings or HealthSettings()
    x = np.asarray(x, dtype=np.float64)
    if x.ndim != 1:
        raise ValueError(f"{name}: expected 1-D samples, got shape {x.shape}")
    if not fs > 0:
        raise ValueError(f"{name}: fs must be > 0, got {fs!r}")
    finite = np.isfinite(x)
    n_finite = int(finite.sum())
    v = x[finite]
    worst = 0.0
    if valid_range is not None and v.size:
        lo, hi = valid_range
        bad = (v < lo) | (v > hi)
        worst = float(v[bad][np.argmax(np.abs(v[bad]))]) if bad.any() else 0.0
        v = v[~bad]
        finite = finite.copy()
        finite[np.flatnonzero(finite)[bad]] = False
    kept = None
    if v.size >= 3:
        same = np.diff(v) == 0
        # spikes: a jump away from both neighbours in the same direction, the
        # smaller of the two against the running median of |diff|
        d = np.diff(v)
        out_jump = d[:-1]
        back_jump = -d[1:]
        jump = np.minimum(np.abs(out_jump), np.abs(back_jump))
        jump[np.sign(out_jump) != np.sign(back_jump)] = 0.0
        step = median_filter(np.abs(d), size=s.spike_window, mode="nearest")
        step = np.maximum(
            0.5 * (step[:-1] + step[1:]),
            max(np.finfo(float).eps * float(np.abs(v).max()), 1e-300),
        )
        extremes = []
        for ext in (float(v.max()), float(v.min())):
            extremes.append((int(np.count_nonzero(v == ext)), bool(_runs_at(v, ext, 2))))
        trend = noise = 0.0
        if quantity not in s.no_drift_check:
            t = np.flatnonzero(finite) / fs
            tc = t - t.mean()
            # the least-squares line of np.polyfit(tc, v, 1) in closed form
            a = float(tc @ v) / float(tc @ tc)
            b = float(v.mean())
            trend = abs(a) * (t[-1] - t[0])
            noise = _mad_std(v - (a * tc + b))
        kept = KeptStats(
            first=float(v[0]),
            vmin=float(v.min()),
            vmax=float(v.max()),
            std=float(v.std()),
            n_same=int(same.sum()),
            longest_same=_longest_run(same),
            n_spikes=int(np.count_nonzero(jump > s.spike_k * step)),
            at_max=extremes[0],
            at_min=extremes[1],
            trend=trend,
            noise=noise,
        )
    return judge_channel(
        fs,
        n=x.size,
        n_finite=n_finite,
        n_kept=int(v.size),
        worst=worst,
        kept=kept,
        name=name,
        quantity=quantity,
        gap_fraction=gap_fraction,
        settings=s,
        valid_range=valid_range,
    )
