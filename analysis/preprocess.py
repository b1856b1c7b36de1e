"""Preprocessing of an analysis window: checks, gaps, detrend, filters, decimation.

Every repair is recorded: :class:`Prepared` carries a ``notes`` tuple with
one line per thing that was done to the data (never silently).
"""

from __future__ import annotations

import functools
import logging
from collections.abc import Sequence
from dataclasses import dataclass

import numpy as np

__all__ = [
    "Prepared",
    "bandpass",
    "check_window",
    "decimate",
    "detrend",
    "channel_scales",
    "normalise_channels",
    "prepare",
    "repair_gaps",
    "select_channels",
]

log = logging.getLogger(__name__)


@dataclass(frozen=True)
class Prepared:
    """A window ready for identification.

    Attributes
    ----------
    data : ndarray, shape (n_samples, n_channels), float64
    fs : float
        Sampling rate (Hz) after decimation.
    channels : tuple of str
        Names of the kept channels (``ch0``, ``ch1``... when none were given).
    notes : tuple of str
        What was done to the data, one line per step that changed it.
    quantities : tuple of str or None
        Quantity of each kept channel (``None``: not given).
    """

    data: np.ndarray
    fs: float
    channels: tuple[str, ...]
    notes: tuple[str, ...] = ()
    quantities: tuple[str | None, ...] | None = None


def _names(n: int, names: Sequence[str] | None) -> tuple[str, ...]:
    if names is None:
        return tuple(f"ch{i}" for i in range(n))
    if len(names) != n:
        raise ValueError(f"{len(names)} channel names given for {n} data columns")
    return tuple(str(s) for s in names)


def check_window(
    data: object,
    fs: object,
    *,
    allow_nan: bool = False,
    names: Sequence[str] | None = None,
) -> tuple[np.ndarray, float]:
    """Validate a window: a 2-D real array (n_samples, n_channels) and fs > 0.

    Parameters
    ----------
    data : array_like
        Samples, one column per channel.
    fs : float
        Sampling rate (Hz).
    allow_nan : bool
        Accept NaN (gaps to be repaired); infinities are always refused.
    names : sequence of str, optional
        Channel names, for the messages.

    Returns
    -------
    data : ndarray (float64, or float32 kept as is), fs : float

    Raises
    ------
    ValueError
        Wrong shape, too few samples, complex or non-numeric data, bad fs,
        non-finite values.
    """
    try:
        fs_f = float(fs)  # type: ignore[arg-type]
    except (TypeError, ValueError) as exc:
        raise ValueError(f"fs must be a number in Hz, got {fs!r}") from exc
    if not (np.isfinite(fs_f) and fs_f > 0):
        raise ValueError(f"fs must be a finite rate > 0 Hz, got {fs!r}")
    arr = np.asarray(data)
    if arr.dtype.kind not in "fiu":
        raise ValueError(f"data must be real numbers, got dtype {arr.dtype}")
    if arr.ndim != 2:
        raise ValueError(
            f"data must be 2-D (n_samples, n_channels), got shape {arr.shape}; "
            "use data[:, None] for one channel"
        )
    n, nl = arr.shape
    if nl < 1 or n < 2:
        raise ValueError(f"data has shape {arr.shape}: need samples and channels")
    if n < nl:
        raise ValueError(
            f"data has {n} rows and {nl} columns: expected (n_samples, n_channels); pass data.T"
        )
    if arr.dtype != np.float32:
        arr = arr.astype(np.float64, copy=False)
    bad = ~np.isfinite(arr)
    if bad.any():
        cols = np.flatnonzero(bad.any(axis=0))
        n_inf = int(np.isinf(arr).sum())
        if n_inf or not allow_nan:
            what = f"{int(bad.sum())} non-finite values" + (f" ({n_inf} infinite)" if n_inf else "")
            named = ""
            if names is not None and len(names) == nl:
                named = " (" + ", ".join(str(names[int(c)]) for c in cols) + ")"
            raise ValueError(
                f"{what} in channel(s) {cols.tolist()}{named}: pass nan_policy='repair' to "
                "interpolate short NaN gaps, or cut the window around them"
            )
    return arr, fs_f


def select_channels(
    data: np.ndarray, names: Sequence[str], wanted: Sequence[str | int]
) -> tuple[np.ndarray, tuple[str, ...]]:
    """Keep the channels named (or indexed) in ``wanted``, in that order.

    Raises
    ------
    ValueError
        If a name is unknown or an index is out of range.
    """
    idx = channel_indices(names, wanted)
    return data[:, idx], tuple(names[i] for i in idx)


def channel_indices(names: Sequence[str], wanted: Sequence[str | int]) -> list[int]:
    """Column indices of the channels named (or indexed) in ``wanted``."""
    idx = []
    for w in wanted:
        if isinstance(w, (int, np.integer)):
            if not 0 <= int(w) < len(names):
                raise ValueError(f"channel index {w} out of range 0..{len(names) - 1}")
            idx.append(int(w))
        elif w in names:
            idx.append(list(names).index(w))
        else:
            raise ValueError(f"unknown channel {w!r}; have {', '.join(names)}")
    if not idx:
        raise ValueError("no channels selected")
    return idx


#: A sample more than this many robust standard deviations from a channel's
#: median is refused as a gross outlier (a decoding error such as 1e30): no
#: converter has that dynamic range (24 bits is 1.7e7), so real signals,
#: bursts included, always pass.
MAX_PEAK_RATIO = 1e9


def column_medians(a: np.ndarray) -> np.ndarray:
    """``np.median(a, axis=0)`` of a finite 2-D array, exactly, about 4x faster.

    Each column by the bracketing median of :mod:`.quality_kernels` (exact:
    the same middle values and the same mean of the two, tested bit for bit
    against NumPy); 1.3 -> 0.33 ms for 10,000 x 12, measured.
    """
    from bshm.analysis.quality_kernels import _median

    if a.ndim != 2 or a.shape[0] == 0:
        return np.median(a, axis=0)
    cols = np.ascontiguousarray(np.asarray(a, np.float64).T)
    buf = np.empty(cols.shape[1])
    return np.array([_median(c, buf) for c in cols])


def channel_scales(data: np.ndarray, names: Sequence[str]) -> tuple[np.ndarray, np.ndarray]:
    """Mean and standard deviation of each channel, checked, without copying the window.

    The identification divides each channel by its standard deviation, so it
    sees unit-free data whatever the channels' units or gains (one sensor in
    mm/s2 among others in m/s2, a sensor near a support), and the results do
    not depend on them; the shapes are multiplied back by ``scales``.
    Overflow-safe: the sums run on each channel divided by its largest
    deviation from the median (one Numba pass over the rows,
    :func:`bshm.analysis.ssi_stats.scaled_moments`).

    Parameters
    ----------
    data : ndarray, shape (n_samples, n_channels), finite
    names : sequence of str
        Channel names (for the error message).

    Returns
    -------
    center : ndarray, shape (n_channels,)
        Mean of each channel.
    scales : ndarray, shape (n_channels,)
        Standard deviation of each channel (> 0).

    Raises
    ------
    ValueError
        A channel holds a sample more than ``MAX_PEAK_RATIO`` robust standard
        deviations from its median (naming the channel and the sample), or is
        constant.
    """
    from bshm.analysis.ssi_stats import scaled_moments

    n, nl = data.shape
    sub = np.asarray(data[:: max(1, n // 8192)], dtype=np.float64)
    med = column_medians(sub)
    dev = np.abs(sub - med)
    robust = 1.4826 * column_medians(dev)
    robust = np.where(robust > 0, robust, dev.mean(axis=0))
    # one Numba pass for min/max, one for the sums (no copy, no temporaries)
    lo, hi, total, sq = scaled_moments(data, med)
    peak = np.maximum(hi - med, med - lo)
    for c in map(int, np.flatnonzero((robust > 0) & (peak > MAX_PEAK_RATIO * robust))):
        i = int(np.argmax(np.abs(np.asarray(data[:, c], dtype=np.float64) - med[c])))
        raise ValueError(
            f"channel {names[c]}: sample {i} ({float(data[i, c]):.6g}) is "
            f"{peak[c] / robust[c]:.2g} times the channel's typical amplitude "
            "(a decoding error or a broken sensor): remove it or cut the window around it"
        )
    flat = [names[int(c)] for c in np.flatnonzero(~(peak > 0))]
    if flat:
        raise ValueError(f"constant channel(s) {', '.join(flat)}: drop them with channels=")
    mu = total / n  # mean of (x - med) / peak: |z| <= 1, no overflow, no cancellation
    var = np.maximum(sq / n - mu * mu, 0.0)
    return med + mu * peak, peak * np.sqrt(var)


def normalise_channels(data: np.ndarray, names: Sequence[str]) -> tuple[np.ndarray, np.ndarray]:
    """Unit-free copy of a window: each channel minus its mean, over its standard deviation.

    See :func:`channel_scales` (which the SSI uses without making this copy).

    Returns
    -------
    z : ndarray, shape (n_samples, n_channels), float64
        Zero mean, unit standard deviation.
    scales : ndarray, shape (n_channels,)
        Standard deviation of each channel (its units): ``data ~ z * scales + mean``.

    Raises
    ------
    ValueError
        As :func:`channel_scales`.
    """
    center, scales = channel_scales(data, names)
    z = np.asarray(data, dtype=np.float64) - center
    z *= 1.0 / scales
    return z, scales


def repair_gaps(
    data: np.ndarray, fs: float, names: Sequence[str], *, max_gap_s: float = 0.5
) -> tuple[np.ndarray, list[str]]:
    """Fill NaN runs of at most ``max_gap_s`` by linear interpolation.

    Returns
    -------
    data : ndarray
        A float64 copy with the gaps filled (the input is not modified).
    notes : list of str
        One line per repaired channel.

    Raises
    ------
    ValueError
        If a NaN run is longer than ``max_gap_s`` or a channel is all NaN.
    """
    out = np.array(data, dtype=np.float64)
    notes = []
    limit = max(1, int(round(max_gap_s * fs)))
    t = np.arange(out.shape[0])
    for c in range(out.shape[1]):
        bad = np.isnan(out[:, c])
        if not bad.any():
            continue
        if bad.all():
            raise ValueError(f"channel {names[c]} has no valid sample in the window")
        edges = np.diff(np.concatenate([[0], bad.view(np.int8), [0]]))
        starts, ends = np.flatnonzero(edges == 1), np.flatnonzero(edges == -1)
        longest = int((ends - starts).max())
        if longest > limit:
            raise ValueError(
                f"channel {names[c]}: a gap of {longest / fs:.3g} s at sample "
                f"{int(starts[np.argmax(ends - starts)])} exceeds max_gap_s={max_gap_s}; "
                "cut the window around it"
            )
        out[bad, c] = np.interp(t[bad], t[~bad], out[~bad, c])
        notes.append(
            f"{names[c]}: interpolated {int(bad.sum())} NaN samples in {starts.size} gap(s)"
        )
    return out, notes


def detrend(data: np.ndarray, kind: str = "linear") -> np.ndarray:
    """Remove the mean (``"constant"``) or a straight line (``"linear"``) per channel."""
    import scipy.signal

    if kind not in ("linear", "constant"):
        raise ValueError(f"detrend must be 'linear' or 'constant', got {kind!r}")
    return scipy.signal.detrend(np.asarray(data, dtype=np.float64), axis=0, type=kind)


def bandpass(
    data: np.ndarray, fs: float, low_hz: float | None, high_hz: float | None, *, order: int = 4
) -> np.ndarray:
    """Zero-phase Butterworth band-, high- or low-pass (``sosfiltfilt``).

    Parameters
    ----------
    data : ndarray, shape (n_samples, n_channels)
    fs : float
        Sampling rate (Hz).
    low_hz, high_hz : float or None
        Corner frequencies (Hz); ``None`` leaves that side open.
    order : int
        Filter order per side.
    """
    import scipy.signal

    nyq = fs / 2.0
    if low_hz is not None and not 0 < low_hz < nyq:
        raise ValueError(f"low corner {low_hz} Hz must be in (0, {nyq}) Hz")
    if high_hz is not None and not 0 < high_hz < nyq:
        raise ValueError(f"high corner {high_hz} Hz must be in (0, {nyq}) Hz")
    if low_hz and high_hz and low_hz >= high_hz:
        raise ValueError(f"band {low_hz}..{high_hz} Hz is empty")
    if not (low_hz or high_hz):
        return np.asarray(data, dtype=np.float64)
    sos = _butter_sos(int(order), float(low_hz or 0.0), float(high_hz or 0.0), float(fs))
    return scipy.signal.sosfiltfilt(sos.copy(), data, axis=0)  # (sosfiltfilt needs it writable)


@functools.lru_cache(maxsize=32)
def _butter_sos(order: int, low_hz: float, high_hz: float, fs: float) -> np.ndarray:
    """Butterworth second-order sections (0 = open side), designed once per setting.

    Every window of a station uses the same band: ``scipy.signal.butter``
    (about 1.4 ms) runs once.  The array is read-only (shared by the cache;
    :func:`bandpass` passes a copy of a few dozen numbers to the filter).
    """
    import scipy.signal

    if low_hz and high_hz:
        sos = scipy.signal.butter(order, [low_hz, high_hz], "bandpass", fs=fs, output="sos")
    elif low_hz:
        sos = scipy.signal.butter(order, low_hz, "highpass", fs=fs, output="sos")
    else:
        sos = scipy.signal.butter(order, high_hz, "lowpass", fs=fs, output="sos")
    sos.setflags(write=False)
    return sos


def decimate(data: np.ndarray, fs: float, target_hz: float) -> tuple[np.ndarray, float]:
    """Resample to ``target_hz`` with a zero-phase anti-alias FIR (polyphase).

    The rate ratio is approximated by a fraction ``up / down`` with
    ``down <= 64`` (:func:`scipy.signal.resample_poly`, Kaiser window); the
    returned rate is ``fs * up / down``.  The filter is flat to 0.2 % up to
    0.8 of the new Nyquist frequency (an IIR ``scipy.signal.decimate`` was
    found to split a mode at 0.7 Nyquist into two poles).

    Returns
    -------
    data : ndarray, fs_new : float

    Raises
    ------
    ValueError
        If ``target_hz`` is not in (0, fs] or the window becomes too short.
    """
    from fractions import Fraction

    import scipy.signal

    if not 0 < target_hz <= fs:
        raise ValueError(f"decimate_to_hz must be in (0, fs={fs}] Hz, got {target_hz}")
    ratio = Fraction(float(target_hz) / float(fs)).limit_denominator(64)
    up, down = ratio.numerator, ratio.denominator
    out = np.asarray(data, dtype=np.float64)
    if up == down or up == 0:
        return out, fs
    if out.shape[0] * up // down < 64:
        raise ValueError(f"window too short to resample {fs} -> {target_hz} Hz")
    out = scipy.signal.resample_poly(out, up, down, axis=0)
    return np.ascontiguousarray(out), fs * up / down


def prepare(
    data: object,
    fs: float,
    *,
    channel_names: Sequence[str] | None = None,
    channels: Sequence[str | int] | None = None,
    nan_policy: str = "refuse",
    max_gap_s: float = 0.5,
    detrend_kind: str | None = None,
    band_hz: tuple[float | None, float | None] | None = None,
    decimate_to_hz: float | None = None,
    quantities: Sequence[str | None] | None = None,
) -> Prepared:
    """Validate and condition one window for identification.

    Parameters
    ----------
    data : array_like, shape (n_samples, n_channels)
    fs : float
        Sampling rate (Hz).
    channel_names : sequence of str, optional
        Names of the columns (for messages and selection).
    channels : sequence of str or int, optional
        Keep only these channels.
    nan_policy : {"refuse", "repair"}
        ``"refuse"`` raises on any NaN; ``"repair"`` interpolates NaN runs up to
        ``max_gap_s`` and records it in ``notes`` (longer gaps still raise).
    max_gap_s : float
        Longest gap ``"repair"`` may fill (s).
    detrend_kind : {"linear", "constant"} or None
        Trend removal (the correlation step always removes the mean).
    band_hz : (low, high), optional
        Zero-phase Butterworth filter corners (Hz), either may be None.
    decimate_to_hz : float, optional
        Decimate (with anti-alias filter) to at least this rate.
    quantities : sequence of str or None, optional
        Quantity of each column of ``data``; kept with the selected channels.

    Returns
    -------
    Prepared

    Raises
    ------
    ValueError
        Bad shape, non-finite data that the policy refuses, unknown channels.
    """
    if nan_policy not in ("refuse", "repair"):
        raise ValueError(f"nan_policy must be 'refuse' or 'repair', got {nan_policy!r}")
    arr, fs = check_window(data, fs, allow_nan=nan_policy == "repair", names=channel_names)
    names = _names(arr.shape[1], channel_names)
    notes: list[str] = []
    quant = None
    if quantities is not None:
        if isinstance(quantities, str) or len(quantities) != arr.shape[1]:
            got = 1 if isinstance(quantities, str) else len(quantities)
            raise ValueError(
                f"{got} quantities given for {arr.shape[1]} data columns: "
                "give one per column (e.g. ['acceleration', 'velocity'])"
            )
        quant = tuple(quantities)
    if channels is not None:
        idx = channel_indices(names, channels)
        arr, names = arr[:, idx], tuple(names[i] for i in idx)
        quant = None if quant is None else tuple(quant[i] for i in idx)
    if nan_policy == "repair" and np.isnan(arr).any():
        arr, fixed = repair_gaps(arr, fs, names, max_gap_s=max_gap_s)
        notes += fixed
        log.info("repaired gaps: %s", "; ".join(fixed))
    # every sample equal to the first: stops at the first differing row (Numba)
    from bshm.analysis.ssi_stats import constant_channels

    const = constant_channels(arr)
    flat = [names[i] for i in np.flatnonzero(const)]
    if flat:
        raise ValueError(f"constant channel(s) {', '.join(flat)}: drop them with channels=")
    if detrend_kind is not None:
        arr = detrend(arr, detrend_kind)
        notes.append(f"detrend {detrend_kind}")
    if band_hz is not None and (band_hz[0] or band_hz[1]):
        arr = bandpass(arr, fs, band_hz[0], band_hz[1])
        notes.append(f"band-pass {band_hz[0]}..{band_hz[1]} Hz")
    if decimate_to_hz is not None:
        fs0 = fs
        arr, fs = decimate(arr, fs, decimate_to_hz)
        if fs != fs0:
            notes.append(f"decimated {fs0:g} -> {fs:g} Hz")
    return Prepared(data=arr, fs=fs, channels=names, notes=tuple(notes), quantities=quant)
