"""Plain NumPy reference of the channel health check.

The formulas of ``bshm.analysis.health.check_channel`` as they were before
the fused Numba kernel of ``bshm.analysis.health_kernels``: one NumPy
expression per check (``scipy.ndimage.median_filter`` for the running median
of the spike check, ``np.median`` for the drift check's robust std). The
kernel's checks must give the same statuses and reasons, and the same values
up to rounding (sums in another order).
"""

from __future__ import annotations

from typing import Any

import numpy as np
from bshm.analysis.health import _RANK, FAILED, OK, SUSPECT, ChannelHealth, HealthSettings


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
    """Data-quality checks of one channel over one window.

    Parameters
    ----------
    x : array_like, shape (n,)
        Samples in the channel's unit, NaN for dropouts.
    fs : float
        Sampling rate (Hz), > 0.
    name, quantity : str
        Channel name and quantity (``acceleration``, ``strain``, ...).
    gap_fraction : float
        Share of the window lost in recorded gaps (counted as dropouts).
    settings : HealthSettings, optional
    valid_range : (float, float), optional
        Plausible values; samples outside are implausible and left out of
        the other checks. None: no range check.

    """
    from scipy.ndimage import median_filter

    s = settings or HealthSettings()
    x = np.asarray(x, dtype=np.float64)
    if x.ndim != 1:
        raise ValueError(f"{name}: expected 1-D samples, got shape {x.shape}")
    if not fs > 0:
        raise ValueError(f"{name}: fs must be > 0, got {fs!r}")
    checks: dict[str, tuple[float, str]] = {}
    reasons: list[str] = []

    def flag(check: str, value: float, status: str, why: str = "") -> None:
        checks[check] = (float(value), status)
        if status != OK:
            reasons.append(f"{check}: {why}")

    n = x.size
    finite = np.isfinite(x)
    lost = (1.0 - (finite.mean() if n else 0.0)) * (1.0 - gap_fraction) + gap_fraction
    st = FAILED if lost >= s.nan_failed else SUSPECT if lost >= s.nan_suspect else OK
    flag("dropouts", lost, st, f"{100 * lost:.1f} % of the window missing (NaN or gaps)")
    v = x[finite]
    if valid_range is not None and v.size:
        lo, hi = valid_range
        bad = (v < lo) | (v > hi)
        share = float(bad.mean())
        st = FAILED if share >= s.range_failed else SUSPECT if share > 0 else OK
        worst = float(v[bad][np.argmax(np.abs(v[bad]))]) if bad.any() else 0.0
        flag(
            "range",
            share,
            st,
            f"{100 * share:.1f} % of the samples outside the plausible range "
            f"{lo:g}..{hi:g} (e.g. {worst:.6g}): a failed sensor, not the structure",
        )
        v = v[~bad]
        finite = finite.copy()
        finite[np.flatnonzero(finite)[bad]] = False
    if v.size < 3:
        flag("dead", 0.0, FAILED, "no valid samples in the window")
        return _result(name, quantity, checks, reasons)

    # dead / flat ---------------------------------------------------------
    constant = bool(v.max() == v.min())
    std = 0.0 if constant else float(v.std())
    floor = s.min_std.get(quantity)
    same = np.diff(v) == 0
    run_s = (_longest_run(same) + 1) / fs if same.any() else 1.0 / fs
    flat_share = float(same.mean())
    if quantity in s.no_flat_check:
        flag("dead", std, OK)
        flag("flat", run_s, OK)
    elif std == 0.0:
        flag("dead", std, FAILED, f"constant value {v[0]:.6g} over the whole window")
    elif floor is not None and std < floor:
        flag(
            "dead",
            std,
            FAILED,
            f"no signal: std {std:.3g} below the noise floor {floor:.3g} of a live sensor",
        )
    else:
        flag("dead", std, OK)
    if quantity in s.no_flat_check:
        pass
    elif std > 0.0:
        if flat_share >= s.flat_failed_fraction:
            st = FAILED
        elif run_s >= s.flat_suspect_s and run_s * fs >= s.flat_min_samples:
            st = SUSPECT
        else:
            st = OK
        flag(
            "flat",
            run_s,
            st,
            f"value frozen for {run_s:.1f} s "
            f"({100 * flat_share:.0f} % of samples repeat the previous one)",
        )
    else:
        flag("flat", run_s, FAILED, "the whole window is one value")
        return _result(name, quantity, checks, reasons)

    # spikes --------------------------------------------------------------
    # a spike jumps away from both neighbours in the same direction; the jump
    # (the smaller of the two) is compared with the local typical step, the
    # running median of |diff|. Vehicle arrivals bend the signal (a kink), they
    # do not jump out and back, so they stay low on this scale.
    d = np.diff(v)
    out_jump = d[:-1]
    back_jump = -d[1:]
    jump = np.minimum(np.abs(out_jump), np.abs(back_jump))
    jump[np.sign(out_jump) != np.sign(back_jump)] = 0.0
    step = median_filter(np.abs(d), size=s.spike_window, mode="nearest")
    step = np.maximum(
        0.5 * (step[:-1] + step[1:]), max(np.finfo(float).eps * float(np.abs(v).max()), 1e-300)
    )
    n_spikes = int(np.count_nonzero(jump > s.spike_k * step))
    st = FAILED if n_spikes >= s.spike_failed else SUSPECT if n_spikes else OK
    flag(
        "spikes",
        n_spikes,
        st,
        f"{n_spikes} isolated spike(s), jumps above {s.spike_k:g} x the "
        "typical sample-to-sample step",
    )

    # clipping ------------------------------------------------------------
    # samples pinned at the window's extremes: a live signal reaches its
    # maximum once; a saturated one sits there (in runs, or again and again)
    if constant or quantity in s.no_clip_check:
        clipped = 0
    else:
        clipped = 0
        for ext in (float(v.max()), float(v.min())):
            at = int(np.count_nonzero(v == ext))
            if at >= 2 and (at >= s.clip_run or _runs_at(v, ext, 2)):
                clipped += at
        if clipped < s.clip_run:
            clipped = 0
    flag(
        "clipping",
        clipped,
        FAILED if clipped >= s.clip_failed * v.size else SUSPECT if clipped else OK,
        f"{clipped} samples pinned at the extreme value "
        f"(max {v.max():.6g} / min {v.min():.6g}): saturated sensor or input range",
    )

    # drift ---------------------------------------------------------------
    if quantity not in s.no_drift_check:
        t = np.flatnonzero(finite) / fs
        tc = t - t.mean()
        # the least-squares line of np.polyfit(tc, v, 1) in closed form (tc has
        # zero mean): a third of this check's time went to polyfit's lstsq
        a = float(tc @ v) / float(tc @ tc)
        b = float(v.mean())
        trend = abs(a) * (t[-1] - t[0])
        noise = _mad_std(v - (a * tc + b))
        ratio = trend / noise if noise > 0 else (np.inf if trend > 0 else 0.0)
        flag(
            "drift",
            ratio,
            SUSPECT if ratio >= s.drift_ratio else OK,
            f"trend of {trend:.3g} over the window, {ratio:.1f} x the signal's variability",
        )
    return _result(name, quantity, checks, reasons)


def _result(
    name: str, quantity: str, checks: dict[str, tuple[float, str]], reasons: list[str]
) -> ChannelHealth:
    status = max((st for _, st in checks.values()), key=_RANK.__getitem__, default=OK)
    return ChannelHealth(name, quantity, status, tuple(reasons), checks)
