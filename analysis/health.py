"""Data quality per channel: is this sensor telling the truth?

Each window of each channel gets a status -- ``ok``, ``suspect`` or
``failed`` -- with plain-language reasons, so a technician knows which
sensor to check. The checks:

========== ==================================================================
dropouts   share of NaN samples and of time lost in recorded gaps
flat line  longest run of identical consecutive samples (a frozen ADC or a
           stuck conditioner repeats its last value)
dead       constant, all-missing, or no signal above the channel's noise
           floor (``min_std``) over the whole window
spikes     samples that jump away from both neighbours and back, by more
           than ``spike_k`` times the local typical step (running median
           of ``|diff|``)
clipping   runs of samples pinned at the window's extreme value (the
           conditioner or the ADC saturates); failed when at least
           ``clip_failed`` of the samples are pinned
range      samples outside the channel's plausible range (``valid_range``
           of the config, else :func:`default_valid_range` of its quantity:
           temperature -60..+80 degC, strain +-5,000 um/m, acceleration
           +-50 m/s2): an open-circuit probe reading 1e30, a gain error
drift      a linear trend over the window much larger than the
           signal's own variability (robust std of the detrended signal);
           temperature channels are exempt (they drift by nature)
========== ==================================================================

The thresholds are in :class:`HealthSettings`. Rows for the results store
come from :meth:`ChannelHealth.rows`.
"""

from __future__ import annotations

import logging
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from typing import Any

import numpy as np

log = logging.getLogger(__name__)

OK, SUSPECT, FAILED = "ok", "suspect", "failed"
_RANK = {OK: 0, SUSPECT: 1, FAILED: 2}

#: Plausible range per quantity, in a reference unit: (low, high, unit).
DEFAULT_VALID_RANGES: dict[str, tuple[float, float, str]] = {
    "temperature": (-60.0, 80.0, "degC"),
    "strain": (-5000.0, 5000.0, "um/m"),
    "acceleration": (-50.0, 50.0, "m/s2"),
}
_UNIT_FACTORS = {  # unit -> factor to the reference unit of its quantity
    "degc": 1.0, "c": 1.0, "°c": 1.0,
    "um/m": 1.0, "µm/m": 1.0, "ustrain": 1.0, "microstrain": 1.0, "ue": 1.0, "µε": 1.0,
    "mm/m": 1e3, "m/m": 1e6, "strain": 1e6,
    "m/s2": 1.0, "m/s^2": 1.0, "m/s²": 1.0, "g": 9.80665, "mg": 9.80665e-3,
}


def default_valid_range(quantity: str, unit: str) -> tuple[float, float] | None:
    """Plausible range of a quantity in ``unit`` (None when no default applies).

    Defaults: temperature -60..+80 degC, strain +-5,000 um/m, acceleration
    +-50 m/s2, converted to the channel's unit when it is a known one
    (e.g. +-5.1 g); other quantities and unknown units get none.
    """
    d = DEFAULT_VALID_RANGES.get(quantity)
    if d is None:
        return None
    f = _UNIT_FACTORS.get(str(unit).strip().lower())
    if f is None:
        return None
    return (d[0] / f, d[1] / f)


def valid_range_of(channel: Any) -> tuple[float, float] | None:
    """The plausible range of a channel: its config's ``valid_range``, else the default."""
    vr = getattr(channel, "valid_range", None)
    if vr is not None:
        return (float(vr[0]), float(vr[1]))
    return default_valid_range(getattr(channel, "quantity", ""), getattr(channel, "unit", ""))


@dataclass(frozen=True)
class HealthSettings:
    """Limits of the data-quality checks.

    Parameters
    ----------
    nan_suspect, nan_failed : float
        Fraction of missing samples (NaN or gap time) that makes a channel
        suspect / failed.
    flat_suspect_s : float
        Longest run of identical samples (s) that makes it suspect (and at
        least ``flat_min_samples`` samples).
    flat_failed_fraction : float
        Share of the window inside identical-sample runs that makes it failed.
    spike_k : float
        Spike limit: a sample that jumps away from both neighbours (same
        direction) by more than ``spike_k`` times the running median of
        ``|diff|`` over ``spike_window`` samples.
    spike_failed : int
        Spikes per window that make a channel failed (fewer: suspect).
    clip_run : int
        Samples at the window's extreme value (in runs, or repeated) that
        count as clipping.
    drift_ratio : float
        Trend over the window / robust std of the detrended signal that
        makes a channel suspect.
    min_std : mapping
        Noise floor per quantity (channel unit): a smaller standard deviation
        means the sensor is dead. Quantities not listed are not checked.
    no_drift_check : tuple of str
        Quantities exempt from the drift check.
    no_flat_check : tuple of str
        Quantities exempt from the flat-line and constant-value checks: a
        quantised temperature probe legitimately repeats its value for many
        minutes (a broken one reads NaN or an absurd value: use limits).
    clip_failed : float
        Share of the samples pinned at the extremes that makes a channel
        failed (fewer: suspect).
    no_clip_check : tuple of str
        Quantities exempt from the clipping check (a quantised temperature
        repeats its extreme value on a calm day).
    range_failed : float
        Share of the finite samples outside the plausible range that makes a
        channel failed (fewer, but at least one: suspect).
    """

    nan_suspect: float = 0.02
    nan_failed: float = 0.5
    flat_suspect_s: float = 2.0
    flat_min_samples: int = 20
    flat_failed_fraction: float = 0.9
    spike_k: float = 30.0
    spike_window: int = 51
    spike_failed: int = 50
    clip_run: int = 5
    drift_ratio: float = 8.0
    min_std: Mapping[str, float] = field(default_factory=lambda: {"acceleration": 1e-5})
    no_drift_check: tuple[str, ...] = ("temperature",)
    no_flat_check: tuple[str, ...] = ("temperature",)
    clip_failed: float = 0.01
    range_failed: float = 0.01
    no_clip_check: tuple[str, ...] = ("temperature",)


@dataclass(frozen=True)
class ChannelHealth:
    """Health of one channel over one window.

    Attributes
    ----------
    channel, quantity : str
    status : str
        ``ok``, ``suspect`` or ``failed`` (the worst of the checks).
    reasons : tuple of str
        One plain sentence per failed or suspect check.
    checks : dict
        Check name -> ``(value, status)``; values: ``dropouts`` (fraction),
        ``flat`` (longest identical run, s), ``dead`` (std, unit), ``spikes``
        (count), ``clipping`` (samples at the extremes), ``drift`` (ratio).
    """

    channel: str
    quantity: str
    status: str
    reasons: tuple[str, ...]
    checks: dict[str, tuple[float, str]]

    def rows(self, time_ns: int, *, every_check: bool = False) -> list[dict[str, Any]]:
        """Rows for :func:`bshm.store.results.append_channel_health`.

        One ``status`` row (value 0 ok, 1 suspect, 2 failed; message: all
        reasons), plus one row per check that is not ok (or per check when
        ``every_check``).
        """
        out = [
            {
                "time_ns": int(time_ns),
                "channel": self.channel,
                "check": "status",
                "value": float(_RANK[self.status]),
                "status": self.status,
                "message": "; ".join(self.reasons),
            }
        ]
        for name, (value, status) in self.checks.items():
            if status == OK and not every_check:
                continue
            msg = next((r for r in self.reasons if r.startswith(f"{name}:")), "")
            out.append(
                {
                    "time_ns": int(time_ns),
                    "channel": self.channel,
                    "check": name,
                    "value": float(value),
                    "status": status,
                    "message": msg,
                }
            )
        return out


def _mad_std(r: np.ndarray) -> float:
    # the exact median of the quality kernels: np.median's value, about 4x faster
    from bshm.analysis.quality_kernels import median

    dev = np.abs(r - median(r))
    return float(1.4826 * median(dev))


@dataclass(frozen=True)
class KeptStats:
    """Statistics of a channel's kept samples (finite and plausible, at least 3).

    Computed by the fused kernel (:func:`check_channel`) or by a plain NumPy
    reference; :func:`judge_channel` turns them into statuses and reasons.
    """

    first: float  # the first kept sample
    vmin: float
    vmax: float
    std: float  # population std (not used when vmin == vmax)
    n_same: int  # consecutive kept samples equal to the previous one
    longest_same: int  # longest run of those
    n_spikes: int
    at_max: tuple[int, bool]  # samples at the maximum, and whether two are adjacent
    at_min: tuple[int, bool]
    trend: float = 0.0  # |slope| x time span of the least-squares line (drift check)
    noise: float = 0.0  # robust std of the detrended samples (drift check)


def _validated(x: Any, fs: float, name: str, s: HealthSettings) -> np.ndarray:
    x = np.asarray(x)
    if x.dtype not in (np.float64, np.float32):
        x = np.asarray(x, dtype=np.float64)
    if x.ndim != 1:
        raise ValueError(f"{name}: expected 1-D samples, got shape {x.shape}")
    if not fs > 0:
        raise ValueError(f"{name}: fs must be > 0, got {fs!r}")
    if not (s.spike_k > 0 and s.spike_window >= 1):
        raise ValueError(
            f"{name}: health settings spike_k must be > 0 and spike_window >= 1, got "
            f"{s.spike_k!r} and {s.spike_window!r}"
        )
    return x


def check_channel(
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

    Returns
    -------
    ChannelHealth

    Raises
    ------
    ValueError
        ``x`` not 1-D, ``fs`` not positive, or ``spike_k`` / ``spike_window``
        of the settings not positive.
    """
    from bshm.analysis import health_kernels as hk

    s = settings or HealthSettings()
    x = _validated(x, fs, name, s)
    n_fin, m, worst, v, pos = hk.channel_pass(x, fs, valid_range)
    kept = None
    if m >= 3:
        drift = quantity not in s.no_drift_check
        fo, io, r = hk.kept_stats(v, pos, fs, s.spike_window, s.spike_k, drift)
        kept = KeptStats(
            first=float(v[0]),
            vmin=float(fo[hk.F_VMIN]),
            vmax=float(fo[hk.F_VMAX]),
            std=float(fo[hk.F_STD]),
            n_same=int(io[hk.I_SAME]),
            longest_same=int(io[hk.I_LONGEST]),
            n_spikes=int(io[hk.I_SPIKES]),
            at_max=(int(io[hk.I_AT_MAX]), bool(io[hk.I_PAIR_MAX])),
            at_min=(int(io[hk.I_AT_MIN]), bool(io[hk.I_PAIR_MIN])),
            # the least-squares line in closed form (time centred), in the kernel
            trend=float(fo[hk.F_TREND]) if drift else 0.0,
            noise=_mad_std(r) if drift else 0.0,
        )
    return judge_channel(
        fs,
        n=x.size,
        n_finite=n_fin,
        n_kept=m,
        worst=worst,
        kept=kept,
        name=name,
        quantity=quantity,
        gap_fraction=gap_fraction,
        settings=s,
        valid_range=valid_range,
    )


def judge_channel(
    fs: float,
    *,
    n: int,
    n_finite: int,
    n_kept: int,
    worst: float,
    kept: KeptStats | None,
    name: str,
    quantity: str,
    gap_fraction: float,
    settings: HealthSettings,
    valid_range: tuple[float, float] | None,
) -> ChannelHealth:
    """Statuses and reasons of one channel from its statistics.

    ``n`` samples, ``n_finite`` of them finite, ``n_kept`` of those
    plausible; ``kept`` the statistics of the kept samples (None when fewer
    than 3); ``worst`` the implausible sample furthest from zero.
    """
    s = settings
    checks: dict[str, tuple[float, str]] = {}
    reasons: list[str] = []

    def flag(check: str, value: float, status: str, why: str = "") -> None:
        checks[check] = (float(value), status)
        if status != OK:
            reasons.append(f"{check}: {why}")

    lost = (1.0 - (n_finite / n if n else 0.0)) * (1.0 - gap_fraction) + gap_fraction
    st = FAILED if lost >= s.nan_failed else SUSPECT if lost >= s.nan_suspect else OK
    flag("dropouts", lost, st, f"{100 * lost:.1f} % of the window missing (NaN or gaps)")
    if valid_range is not None and n_finite:
        lo, hi = valid_range
        share = (n_finite - n_kept) / n_finite
        st = FAILED if share >= s.range_failed else SUSPECT if share > 0 else OK
        flag(
            "range",
            share,
            st,
            f"{100 * share:.1f} % of the samples outside the plausible range "
            f"{lo:g}..{hi:g} (e.g. {worst:.6g}): a failed sensor, not the structure",
        )
    if kept is None:
        flag("dead", 0.0, FAILED, "no valid samples in the window")
        return _result(name, quantity, checks, reasons)

    # dead / flat ---------------------------------------------------------
    m, vmin, vmax = n_kept, kept.vmin, kept.vmax
    constant = vmax == vmin
    std = 0.0 if constant else kept.std
    floor = s.min_std.get(quantity)
    n_same = kept.n_same
    run_s = (kept.longest_same + 1) / fs if n_same else 1.0 / fs
    flat_share = n_same / (m - 1)
    if quantity in s.no_flat_check:
        flag("dead", std, OK)
        flag("flat", run_s, OK)
    elif std == 0.0:
        flag("dead", std, FAILED, f"constant value {kept.first:.6g} over the whole window")
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
    # running median of |diff| (in the kernel). Vehicle arrivals bend the
    # signal (a kink), they do not jump out and back, so they stay low on this scale.
    n_spikes = kept.n_spikes
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
    clipped = 0
    if not (constant or quantity in s.no_clip_check):
        for at, pair in (kept.at_max, kept.at_min):
            if at >= 2 and (at >= s.clip_run or pair):
                clipped += at
        if clipped < s.clip_run:
            clipped = 0
    flag(
        "clipping",
        clipped,
        FAILED if clipped >= s.clip_failed * m else SUSPECT if clipped else OK,
        f"{clipped} samples pinned at the extreme value "
        f"(max {vmax:.6g} / min {vmin:.6g}): saturated sensor or input range",
    )

    # drift ---------------------------------------------------------------
    if quantity not in s.no_drift_check:
        trend, noise = kept.trend, kept.noise
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


def check_record(
    data: Any,
    fs: float,
    channels: Sequence[Any],
    *,
    gap_fraction: float | Sequence[float] = 0.0,
    settings: HealthSettings | None = None,
    valid_ranges: Mapping[str, tuple[float, float] | None] | None = None,
) -> list[ChannelHealth]:
    """Health of every channel of a window (e.g. a ``bshm.store.Record``).

    Parameters
    ----------
    data : array_like, shape (n, n_channels)
    fs : float
    channels : sequence of ChannelMeta-like (``name``, ``quantity``)
    gap_fraction : float or sequence
        Share of the window lost in gaps (one value, or one per channel).
    settings : HealthSettings, optional
    valid_ranges : mapping, optional
        Channel name -> plausible range (None: no check); channels not in
        it get :func:`valid_range_of` (the default of their quantity).
    """
    arr = np.asarray(data)
    if arr.dtype not in (np.float64, np.float32):  # the kernel reads float32 as it is
        arr = np.asarray(arr, dtype=np.float64)
    if arr.ndim != 2 or arr.shape[1] != len(channels):
        raise ValueError(f"expected (n, {len(channels)}) samples, got {np.shape(arr)}")
    gf = np.broadcast_to(np.asarray(gap_fraction, np.float64), (len(channels),))
    return [
        check_channel(
            arr[:, j],
            fs,
            name=c.name,
            quantity=c.quantity,
            gap_fraction=float(gf[j]),
            settings=settings,
            valid_range=(
                valid_ranges[c.name]
                if valid_ranges is not None and c.name in valid_ranges
                else valid_range_of(c)
            ),
        )
        for j, c in enumerate(channels)
    ]


def gap_fraction(gaps: Sequence[Any], start_ns: int, end_ns: int) -> float:
    """Share of ``[start_ns, end_ns)`` covered by gaps (objects with start_ns/end_ns)."""
    if end_ns <= start_ns:
        return 0.0
    lost = 0
    for g in gaps:
        lost += max(0, min(end_ns, g.end_ns) - max(start_ns, g.start_ns))
    return min(1.0, lost / (end_ns - start_ns))


# --------------------------------------------------------------- compact hand-over

#: The checks of :func:`judge_channel` in the order it makes them (a channel
#: has a subsequence of these: ``range`` and ``drift`` only when they apply,
#: the later ones not after an early verdict).
CHECKS = ("dropouts", "range", "dead", "flat", "spikes", "clipping", "drift")
_STATUSES = (OK, SUSPECT, FAILED)


@dataclass(frozen=True)
class PackedHealth:
    """The health of every channel of one record window, compact (a hand-over).

    The window worker of the job checks the record it already holds and hands
    this to the strain part (:func:`bshm.analysis.strain_job.monitor_raw`),
    which then need not read and check that record again. About 0.8 kB for
    12 channels instead of about 12 kB of :class:`ChannelHealth` objects.

    Attributes
    ----------
    n_rows : int
        Samples read (the strain part ignores windows of fewer than 3).
    channels, quantities : tuple of str
        Per channel, in the record's order (empty when ``n_rows < 3``).
    values : ndarray, shape (n_channels, len(CHECKS)), float64
        Each check's value, NaN where the check was not made.
    codes : ndarray, shape (n_channels, len(CHECKS)), int8
        -1 check not made, 0 ok, 1 suspect, 2 failed.
    reasons : tuple of (int, tuple of str)
        The reasons of the channels that have some.
    full : bool
        The record had every sample of the window and no gap (its data
        cannot change any more).
    """

    n_rows: int
    channels: tuple[str, ...]
    quantities: tuple[str, ...]
    values: np.ndarray
    codes: np.ndarray
    reasons: tuple[tuple[int, tuple[str, ...]], ...] = ()
    full: bool = False

    def unpack(self) -> list[ChannelHealth] | None:
        """The :class:`ChannelHealth` of each channel (None when fewer than 3 rows)."""
        if self.n_rows < 3:
            return None
        why = dict(self.reasons)
        out = []
        for j, (name, q) in enumerate(zip(self.channels, self.quantities, strict=True)):
            codes = self.codes[j]
            checks = {
                c: (float(self.values[j, k]), _STATUSES[codes[k]])
                for k, c in enumerate(CHECKS)
                if codes[k] >= 0
            }
            status = _STATUSES[int(codes.max())] if checks else OK
            out.append(ChannelHealth(name, q, status, tuple(why.get(j, ())), checks))
        return out


def pack_health(
    health: Sequence[ChannelHealth] | None, n_rows: int, full: bool = False
) -> PackedHealth | None:
    """The compact form of a window's health (:class:`PackedHealth`).

    Returns None when a channel's checks are not in the order of
    :data:`CHECKS` or its status is not the worst of them (not made by
    :func:`check_channel`): the receiver then checks the record itself.
    """
    k = len(CHECKS)
    if health is None or n_rows < 3:
        e = np.zeros((0, k))
        return PackedHealth(int(n_rows), (), (), e, e.astype(np.int8), (), bool(full))
    values = np.full((len(health), k), np.nan)
    codes = np.full((len(health), k), -1, np.int8)
    reasons = []
    for j, h in enumerate(health):
        names = list(h.checks)
        if names != [c for c in CHECKS if c in h.checks]:
            return None
        for c, (v, st) in h.checks.items():
            i = CHECKS.index(c)
            values[j, i] = v
            codes[j, i] = _RANK[st]
        worst = _STATUSES[int(codes[j].max())] if names else OK
        if worst != h.status:
            return None
        if h.reasons:
            reasons.append((j, tuple(h.reasons)))
    return PackedHealth(
        int(n_rows),
        tuple(h.channel for h in health),
        tuple(h.quantity for h in health),
        values,
        codes,
        tuple(reasons),
        bool(full),
    )
