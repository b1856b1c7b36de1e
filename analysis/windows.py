"""Analysis windows: cut the raw store, check data quality, identify modes.

A window is identified by its start time (ns). The job plans the windows
from the contiguous runs of the acceleration source (``RawReader.records``):
each run is cut into windows of ``window_s`` seconds with the configured
overlap; a partial window at the end of a run is not used. Each window is
checked before identification and *skipped with a recorded reason* when the
data cannot give trustworthy modes:

=================  ==========================================================
reason             when
=================  ==========================================================
``gap``            a recorded gap overlaps the window, or samples are missing
``nan``            a sample is NaN or infinite
``flat``           a channel is constant, or repeats the same value for
                   ``flat_run_s`` seconds (stuck sensor, dead digitizer)
``clipping``       a channel sits at its extreme value in many samples
                   (saturated sensor or ADC)
``spikes``         isolated samples far outside the local signal (second
                   difference > ``spike_z`` robust standard deviations)
``low_excitation`` the spectrum in the analysis band is not above the noise
                   floor (no structural response), or the RMS is below
                   ``min_rms``
``identification`` the identification failed or found no mode
``implausible``    values outside the channel's plausible range
=================  ==========================================================

The ``nan``, ``flat``, ``clipping`` and ``implausible`` checks are made per
channel first: a faulty channel is *excluded* (named in
``WindowResult.excluded``) and the modes are identified from the others,
with the excluded channels' shape components left NaN. The window is skipped
only when fewer than half of the channels (and fewer than two) remain; the
sensor alarm that names the channel comes from the channel-health checks of
the job (:mod:`bshm.analysis.health`).
"""

from __future__ import annotations

import logging
import math
from collections.abc import Sequence
from dataclasses import dataclass, field
from typing import Any

import numpy as np

log = logging.getLogger(__name__)

__all__ = [
    "QualitySettings",
    "WindowConfig",
    "WindowResult",
    "check_quality",
    "plan_windows",
    "process_batch",
    "process_window",
]

REASONS = (
    "gap",
    "nan",
    "flat",
    "clipping",
    "spikes",
    "low_excitation",
    "identification",
    "implausible",
)


@dataclass(frozen=True)
class QualitySettings:
    """Limits of the data-quality checks (see the module docstring).

    Attributes
    ----------
    flat_run_s : float
        Longest tolerated run of identical values (s).
    clip_fraction : float
        Fraction of samples at a channel's extreme value that counts as clipping.
    spike_z : float
        Robust z-score of the second difference that counts as a spike.
    min_band_ratio : float
        Smallest ratio between the spectral peak in the analysis band and the
        median spectral level (white noise gives about 2).
    min_rms : float
        Smallest RMS of the median channel (physical unit), 0 = no check.
    """

    flat_run_s: float = 1.0
    clip_fraction: float = 5e-4
    spike_z: float = 40.0
    min_band_ratio: float = 6.0
    min_rms: float = 0.0


@dataclass(frozen=True)
class WindowConfig:
    """Everything a worker needs to process windows (picklable).

    Attributes
    ----------
    data_dir : str
        Folder of the raw files.
    source : str
        Acceleration source.
    channels : tuple of str
        Channels used for identification.
    env : tuple of (str, str)
        (source, channel) of each environmental variable averaged per window.
    window_s : float
    decimate_to_hz : float or None
    freq_min_hz, freq_max_hz : float, float or None
    method : str
    max_order, time_lag : int
    quality : QualitySettings
    valid_ranges : tuple of (float, float) or None
        Plausible range of each identification channel (empty: no check).
    env_ranges : tuple of (float, float) or None
        Plausible range of each environmental variable (empty: no check):
        implausible samples are left out of the window mean, which is NaN
        when fewer than half of the samples remain.
    """

    data_dir: str
    source: str
    channels: tuple[str, ...]
    env: tuple[tuple[str, str], ...] = ()
    window_s: float = 600.0
    decimate_to_hz: float | None = None
    freq_min_hz: float = 0.3
    freq_max_hz: float | None = None
    method: str = "ssi-cov"
    max_order: int = 80
    time_lag: int = 40
    quality: QualitySettings = field(default_factory=QualitySettings)
    valid_ranges: tuple[tuple[float, float] | None, ...] = ()
    env_ranges: tuple[tuple[float, float] | None, ...] = ()

    @property
    def env_names(self) -> tuple[str, ...]:
        """Names of the environmental variables (channel names)."""
        return tuple(c for _, c in self.env)


@dataclass
class WindowResult:
    """Outcome of one window.

    Attributes
    ----------
    start_ns, end_ns : int
    status : str
        ``"processed"`` or ``"skipped"``.
    reason : str
        Skip reason (one of ``REASONS``), empty when processed.
    rms : float
        Median channel RMS of the acceleration (physical unit).
    env : dict of str to float
        Environmental means over the window.
    frequencies, damping, mpc : ndarray, shape (m,)
    shapes : ndarray, shape (n_channels, m), complex
    stability : ndarray of int, shape (m,)
        Number of model orders supporting each mode.
    detail : str
        Human-readable detail of a skip, or of the channels excluded.
    excluded : tuple of str
        Channels left out of the identification (their shape components are NaN).
    health : bshm.analysis.health.PackedHealth or None
        The channel health of the source's record over the window (every
        channel of the source), when the job asked for it
        (:func:`process_window` ``health_ranges``): the strain part uses it
        instead of reading and checking the record again. Not stored.
    """

    start_ns: int
    end_ns: int
    status: str
    reason: str = ""
    rms: float = float("nan")
    env: dict[str, float] = field(default_factory=dict)
    frequencies: np.ndarray = field(default_factory=lambda: np.zeros(0))
    damping: np.ndarray = field(default_factory=lambda: np.zeros(0))
    shapes: np.ndarray = field(default_factory=lambda: np.zeros((0, 0), complex))
    mpc: np.ndarray = field(default_factory=lambda: np.zeros(0))
    stability: np.ndarray = field(default_factory=lambda: np.zeros(0, np.int32))
    detail: str = ""
    excluded: tuple[str, ...] = ()
    health: Any = None  # PackedHealth of the source's record, for the strain part


def plan_windows(
    runs: Sequence[tuple[int, int]], window_s: float, overlap: float = 0.0, fs: float = 100.0
) -> list[tuple[int, int]]:
    """Cut contiguous runs into windows.

    Parameters
    ----------
    runs : sequence of (start_ns, end_ns)
        Contiguous runs (end exclusive), e.g. ``RawReader.records(source)``.
    window_s : float
        Window length (s).
    overlap : float
        Fraction of overlap between consecutive windows, 0 <= overlap < 1.
    fs : float
        Sampling rate (Hz): a window may end up to half a sample after its run.

    Returns
    -------
    list of (start_ns, end_ns)
        In time order, end exclusive.
    """
    if not window_s > 0:
        raise ValueError(f"window_s must be > 0, got {window_s}")
    if not 0 <= overlap < 1:
        raise ValueError(f"overlap must be in [0, 1), got {overlap}")
    w = int(round(window_s * 1e9))
    step = max(1, int(round(w * (1.0 - overlap))))
    tol = int(0.5e9 / fs)
    out = []
    for a, b in sorted(runs):
        s = int(a)
        while s + w <= int(b) + tol:
            out.append((s, s + w))
            s += step
    return out


def _stats(x: np.ndarray, ranges: Sequence[tuple[float, float] | None] = ()) -> dict:
    """Per-channel counts of the checks (one Numba pass, :mod:`.quality_kernels`)."""
    from bshm.analysis.quality_kernels import channel_stats

    return channel_stats(x, tuple(ranges))


def _subset(stats: dict, cols: Sequence[int]) -> dict:
    idx = np.asarray(cols, np.intp)
    return {k: v[idx] for k, v in stats.items()}


def _band_ratio(xc: np.ndarray, fs: float, band: tuple[float, float]) -> float:
    """Peak of the channel-mean Welch spectrum in ``band`` over its median level.

    The same numbers as ``scipy.signal.welch(xc, fs, nperseg=nper, axis=0)``
    (periodic Hann window, half overlap, constant detrend per segment,
    one-sided density) averaged over the channels, without its per-segment
    Python overhead; the density's constant factor cancels in the ratio.
    """
    from bshm.analysis.quality_kernels import welch_mean

    n = xc.shape[0]
    nper = int(min(n, max(256, 2 ** int(np.log2(fs * 10)))))
    f, p = welch_mean(xc, fs, nper)
    inb = (f >= band[0]) & (f <= band[1])
    return float(p[inb].max() / np.median(p[1:])) if inb.any() else 0.0


def check_quality(
    data: np.ndarray,
    fs: float,
    q: QualitySettings,
    *,
    band: tuple[float, float] | None = None,
    _stats_of: dict | None = None,
    _centred: tuple[np.ndarray, np.ndarray] | None = None,
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
    st = _stats_of if _stats_of is not None else _stats(x)
    bad = int(st["n_bad"].sum())
    if bad:
        return "nan", f"{bad} NaN/infinite samples"
    n = x.shape[0]
    max_run = max(2, int(q.flat_run_s * fs))
    for c in range(x.shape[1]):
        if st["flat"][c] or int(st["longest"][c]) + 1 >= max_run:
            return "flat", f"channel {c} is flat"
        k = int(st["n_at_max"][c])
        if k >= max(4, q.clip_fraction * n):
            return "clipping", f"channel {c}: {k} samples at {float(st['amax'][c]):g}"
    from bshm.analysis.quality_kernels import spike_zmax

    zc = spike_zmax(x)
    if np.any(zc > q.spike_z):
        c = int(np.argmax(zc))
        return "spikes", f"channel {c}: second difference {np.max(zc):.0f} sigma"
    # the centred data and channel RMS of process_window (the same numbers) or computed here
    xc, ch_rms = _centred if _centred is not None else _centre(x)
    rms = float(np.median(ch_rms))
    if q.min_rms and rms < q.min_rms:
        return "low_excitation", f"median RMS {rms:g} < {q.min_rms:g}"
    if band is not None and q.min_band_ratio > 0:
        ratio = _band_ratio(xc, fs, band)
        if ratio < q.min_band_ratio:
            return "low_excitation", f"spectral peak only {ratio:.1f} x the noise floor"
    return "", ""


def _centre(x: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """``x`` minus its column means, and each column's RMS about its mean.

    The RMS has the bits of ``np.std(x, axis=0)`` (the same mean, difference,
    product and sum passes; tested), so the window keeps its stored ``rms``.
    """
    xc = x - x.mean(axis=0)
    return xc, np.sqrt(np.mean(xc**2, axis=0))


def channel_faults(
    data: np.ndarray,
    fs: float,
    q: QualitySettings,
    ranges: Sequence[tuple[float, float] | None] = (),
    *,
    _stats_of: dict | None = None,
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
    st = _stats_of if _stats_of is not None else _stats(x, ranges)
    n = x.shape[0]
    max_run = max(2, int(q.flat_run_s * fs))
    out = []
    for c in range(x.shape[1]):
        if st["n_bad"][c]:
            out.append((c, "nan", f"{int(st['n_bad'][c])} NaN/infinite samples"))
            continue
        if c < len(ranges) and ranges[c] is not None:
            lo, hi = ranges[c]  # type: ignore[misc]
            if st["n_off"][c]:
                out.append(
                    (c, "implausible", f"{int(st['n_off'][c])} samples outside {lo:g}..{hi:g}")
                )
                continue
        if st["flat"][c] or int(st["longest"][c]) + 1 >= max_run:
            out.append((c, "flat", "flat or stuck"))
            continue
        k = int(st["n_at_max"][c])
        if k >= max(4, q.clip_fraction * n):
            out.append((c, "clipping", f"{k} samples at {float(st['amax'][c]):g}"))
    return out


def _preprocess(
    data: np.ndarray,
    fs: float,
    decimate_to_hz: float | None,
    cols: Sequence[int] | None = None,
) -> tuple[np.ndarray, float]:
    """Detrended (and decimated) columns ``cols`` of ``data``, and their rate.

    The numbers of each column's least-squares line removed and
    ``scipy.signal.decimate(x, q, ftype="fir", axis=0, zero_phase=True)`` up
    to rounding, in one compiled
    pass over the recorded (float32) samples (:mod:`.decimate_kernels`).
    """
    from bshm.analysis.decimate_kernels import detrend_decimate

    q = 1
    if decimate_to_hz and decimate_to_hz < fs:
        q = max(1, int(round(fs / decimate_to_hz)))
    x = detrend_decimate(data, q, None if cols is None else np.asarray(cols, np.int64))
    return x, (fs / q if q > 1 else fs)


def _identify(
    x: np.ndarray,
    fs: float,
    cfg: WindowConfig,
    names: Sequence[str] | None = None,
    quantities: Sequence[str] | None = None,
):
    from bshm.analysis import identify

    fmax = cfg.freq_max_hz or 0.4 * fs
    opts: dict = {
        "freq_min_hz": cfg.freq_min_hz,
        "freq_max_hz": fmax,
        "channel_names": list(cfg.channels if names is None else names),
        "quantities": quantities,  # the station's, so mixed sensor types give real shapes
    }
    if cfg.method == "ssi-cov":
        opts.update(time_lag=cfg.time_lag, max_order=cfg.max_order)
    return identify(x, fs, method=cfg.method, **opts)


def _stability_count(res, n_modes: int) -> np.ndarray:
    for name in ("stability", "n_stable", "stability_count", "cluster_size", "n_poles"):
        v = getattr(res, name, None)
        if v is not None and np.size(v) == n_modes:
            return np.asarray(v, np.int32)
    return np.zeros(n_modes, np.int32)


def process_window(
    reader,
    cfg: WindowConfig,
    start_ns: int,
    end_ns: int,
    health_ranges: dict | None = None,
) -> WindowResult:
    """Read, check and identify one window.

    Parameters
    ----------
    reader : bshm.store.RawReader
    cfg : WindowConfig
    start_ns, end_ns : int
        Window limits (end exclusive).
    health_ranges : dict, optional
        Channel name -> plausible range of every channel of the source (the
        strain part's, :func:`bshm.analysis.strain_job._ranges`): also check
        the health of every channel of the source's record over the window,
        exactly as the strain part would (``WindowResult.health``), before
        any check of the window may skip it.

    Returns
    -------
    WindowResult
        Never raises for bad data: the reason is recorded instead.
    """
    out = WindowResult(int(start_ns), int(end_ns), "skipped")
    for i, (src, ch) in enumerate(cfg.env):
        rng = cfg.env_ranges[i] if i < len(cfg.env_ranges) else None
        try:
            r = reader.read(src, start_ns, end_ns, channels=[ch])
            out.env[ch] = _env_mean(r.data[:, 0], rng)
        except (ValueError, KeyError):
            out.env[ch] = float("nan")
    if health_ranges is None:
        rec = reader.read(cfg.source, start_ns, end_ns, channels=list(cfg.channels))
    else:
        rec = _read_with_health(reader, cfg, start_ns, end_ns, health_ranges, out)
    fs = rec.fs
    expected = int(round((end_ns - start_ns) * fs / 1e9))
    if rec.gaps or rec.data.shape[0] < expected - 1:
        out.reason = "gap"
        out.detail = f"{rec.data.shape[0]} of {expected} samples, {len(rec.gaps)} gaps"
        return out
    fmax = cfg.freq_max_hz or 0.4 * (cfg.decimate_to_hz or fs)
    x = rec.data.astype(np.float64)
    n_ch = x.shape[1]
    stats = _stats(x, cfg.valid_ranges)
    faults = channel_faults(x, fs, cfg.quality, cfg.valid_ranges, _stats_of=stats)
    bad = {c for c, _, _ in faults}
    keep_ch = [c for c in range(n_ch) if c not in bad]
    if faults:
        out.excluded = tuple(cfg.channels[c] for c in sorted(bad))
        out.detail = "; ".join(f"{cfg.channels[c]}: {why} ({d})" for c, why, d in faults)
    if len(keep_ch) < min(n_ch, max(2, -(-n_ch // 2))):
        out.reason = faults[0][1] if faults else "nan"
        return out
    xk = x[:, keep_ch]
    centred = _centre(xk)  # once for the checks and the stored rms (was np.std: a second pass)
    reason, detail = check_quality(
        xk,
        fs,
        cfg.quality,
        band=(cfg.freq_min_hz, fmax),
        _stats_of=_subset(stats, keep_ch),
        _centred=centred,
    )
    out.rms = float(np.median(centred[1]))
    if reason:
        out.reason = reason
        out.detail = "; ".join(d for d in (detail, out.detail) if d)
        return out
    xk, fs2 = _preprocess(rec.data, fs, cfg.decimate_to_hz, keep_ch)
    try:
        res = _identify(
            xk,
            fs2,
            cfg,
            [cfg.channels[c] for c in keep_ch],
            [rec.channels[c].quantity for c in keep_ch],
        )
    except Exception as exc:  # noqa: BLE001 - any numerical failure skips the window
        log.debug("window %s: identification failed: %s", start_ns, exc)
        out.reason, out.detail = "identification", f"{type(exc).__name__}: {exc}"
        return out
    f = np.asarray(res.frequencies, float)
    keep = (f >= cfg.freq_min_hz) & (f <= fmax) & np.isfinite(f)
    if not keep.any():
        out.reason, out.detail = "identification", "no mode found"
        return out
    out.status = "processed"
    out.frequencies = f[keep]
    out.damping = np.asarray(res.damping, float)[keep]
    shapes = np.full((n_ch, int(keep.sum())), np.nan + 0j, np.complex128)
    shapes[keep_ch] = np.asarray(res.shapes, np.complex128)[:, keep]
    out.shapes = shapes
    mpc = getattr(res, "mpc", None)
    out.mpc = np.asarray(mpc, float)[keep] if mpc is not None else np.full(keep.sum(), np.nan)
    out.stability = _stability_count(res, f.size)[keep]
    return out


def _read_with_health(reader, cfg: WindowConfig, a: int, b: int, ranges: dict, out):
    """The record of ``cfg.channels``, and the health of all the source's channels in ``out``.

    The strain part reads ``reader.read(source, a, b)`` (every channel) and
    checks it with :func:`bshm.analysis.strain_job._health_of`; the same
    read and the same call here give the same health. When the
    identification uses a subset of the channels, its columns are taken from
    that read (the values ``read(..., channels=...)`` gives, bit for bit).
    """
    from dataclasses import replace

    from bshm.analysis.health import pack_health
    from bshm.analysis.strain_job import _health_of

    whole = reader.read(cfg.source, a, b)
    names = [c.name for c in whole.channels]
    if names == list(cfg.channels):
        rec = whole
    else:
        cols = [names.index(c) for c in cfg.channels]  # ValueError as read() would raise
        rec = replace(
            whole,
            channels=tuple(whole.channels[j] for j in cols),
            data=np.ascontiguousarray(whole.data[:, cols]),
        )
    n = int(whole.data.shape[0])
    full = not whole.gaps and n == int(round((b - a) * whole.fs / 1e9))
    try:
        out.health = pack_health(_health_of(whole, a, b, ranges) if n >= 3 else None, n, full)
    except Exception as exc:  # noqa: BLE001 - the strain part checks it again (and reports)
        log.debug("window %s: health not checked here: %s", a, exc)
        out.health = None
    return rec


def _env_mean(values: np.ndarray, valid: tuple[float, float] | None) -> float:
    """Mean of the finite, plausible samples; NaN when fewer than half are."""
    v = np.asarray(values, np.float64)
    ok = np.isfinite(v)
    if valid is not None:
        with np.errstate(invalid="ignore"):
            ok &= (v >= valid[0]) & (v <= valid[1])
    if v.size == 0 or ok.sum() < 0.5 * v.size:
        return float("nan")
    return float(v[ok].mean())


def _files_for(folder, start_ns: int, end_ns: int) -> list | None:
    """Raw files that may hold samples in [start_ns, end_ns), from their names.

    Returns None when a name carries no start time (then the whole folder is used).
    """
    from bshm.analysis.job_files import listing

    files = listing(folder)  # sorted by name start time
    if any(s is None for _, s in files):
        return None
    return batch_files(files, _rollover_ns(f for f, _ in reversed(files)), start_ns, end_ns)


def plan_batch_files(folder, batches: Sequence[Sequence[tuple[int, int]]]) -> list:
    """:func:`_files_for` of every batch from one listing of the folder.

    The job lists the folder and reads the rollover period once for all its
    batches (a year of hourly files: ~0.25 s per listing) and passes each
    batch its files (:func:`process_batch` ``planned=True``).
    """
    from bshm.analysis.job_files import listing

    files = listing(folder)
    if any(s is None for _, s in files):
        return [None for _ in batches]
    period = _rollover_ns(f for f, _ in reversed(files))
    out: list[list | None] = []
    for b in batches:
        if not b:
            out.append([])
            continue
        lo = min(s for s, _ in b)
        hi = max(e for _, e in b)
        out.append(batch_files(files, period, lo, hi))
    return out


def batch_files(files: Sequence[tuple], period: int | None, start_ns: int, end_ns: int) -> list:
    """The files of a sorted listing that may hold samples in [start_ns, end_ns).

    Parameters
    ----------
    files : sequence of (path, start_ns)
        A folder's raw files sorted by their names' start times (none None).
    period : int or None
        The rollover period (ns) of the newest file.
    """
    from bisect import bisect_left
    from pathlib import Path

    starts = [int(s) for _, s in files]
    top = bisect_left(starts, end_ns)  # files from here on start at or after the end
    keep = []
    nxt = starts[top] if top < len(starts) else None  # next start strictly after
    for i in range(top - 1, -1, -1):
        s = starts[i]
        if nxt is None or nxt > start_ns:
            keep.append(Path(files[i][0]))
        elif period and (s // period + 1) * period > start_ns:
            # a file of a rollover period the batch touches: it may overlap one kept
            # (a clock set back), and the reader must see both to exclude it
            keep.append(Path(files[i][0]))
        else:
            break  # earlier files start earlier still: none of them is kept
        if i == 0 or starts[i - 1] < s:
            nxt = s
    return keep[::-1]


def _rollover_ns(files) -> int | None:
    """Rollover period (ns) of the first readable file of ``files`` (newest first), or None."""
    from pathlib import Path

    from bshm.store.h5io import open_read

    for p in files:
        try:
            f, _ = open_read(Path(p))
            with f:
                r = float(f.attrs["rollover_s"])
        except (OSError, RuntimeError, ValueError, KeyError, TypeError):
            continue
        return int(round(r * 1e9)) if math.isfinite(r) and r > 0 else None
    return None


def process_batch(
    cfg: WindowConfig,
    windows: Sequence[tuple[int, int]],
    files: Sequence[Any] | None = None,
    *,
    planned: bool = False,
    health_ranges: dict | None = None,
) -> list[WindowResult]:
    """Process a batch of windows with one reader (the unit of work of the executors).

    Only the raw files whose names say they may overlap the batch are opened
    (``open_raw(..., files=...)``), so the cost of a batch
    does not grow with the length of the history.

    Parameters
    ----------
    cfg : WindowConfig
    windows : sequence of (start_ns, end_ns)
    files : sequence of path, optional
        With ``planned``: the batch's files from :func:`plan_batch_files`
        (None: the whole folder); without it the folder is listed here.
    planned : bool
    health_ranges : dict, optional
        Also check the health of the source's records (:func:`process_window`).

    Returns
    -------
    list of WindowResult
        In the order of ``windows``.
    """
    from bshm.store import open_raw

    if not windows:
        return []
    lo = min(s for s, _ in windows)
    hi = max(e for _, e in windows)
    if not planned:
        files = _files_for(cfg.data_dir, lo, hi)
    # only the batch's files, without listing or summarising the rest of the folder; no
    # summary cache for a subset (a year's cache is one large file, too slow to load per batch)
    subset = list(files) if files else None
    with open_raw(cfg.data_dir, files=subset, use_cache=subset is None) as reader:
        return [process_window(reader, cfg, s, e, health_ranges) for s, e in windows]
