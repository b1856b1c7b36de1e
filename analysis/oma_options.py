"""Options of :func:`bshm.analysis.identify`: defaults, checks, automatic SSI settings.

When ``time_lag``, ``max_order`` or ``refs`` are not given they are chosen
from the number of channels, the window length, the band and the sampling
rate, so the defaults work from 1 to 100 channels; the choice is written to
``ModalResult.notes``.  Values that are given are checked and never changed.
"""

from __future__ import annotations

import math
from typing import Any

import numpy as np

__all__ = ["METHODS", "check_fdd", "check_ssi", "choose_ssi_settings", "merge_options"]

METHODS = ("ssi-cov", "fdd", "efdd")

SSI_DEFAULTS: dict[str, Any] = {
    "time_lag": None,
    "max_order": None,
    "min_order": 2,
    "order_step": 2,
    "refs": None,
    "stability": (0.01, 0.2, 0.02),
    "max_damping": 0.1,
    "min_mpc": 0.8,
    "max_mpd": 20.0,
    "min_fraction": None,
    "cutoff": None,
    "multi_order": True,
    "weighting": "energy",
    "weighting_span_s": None,
}
FDD_DEFAULTS: dict[str, Any] = {
    "nperseg": None,
    "overlap": 0.5,
    "prominence": 0.5,
    "mac_threshold": 0.8,
}
PREP_DEFAULTS: dict[str, Any] = {
    "channel_names": None,
    "channels": None,
    "quantities": None,
    "shape_quantity": None,
    "nan_policy": "refuse",
    "max_gap_s": 0.5,
    "detrend": None,
    "band_hz": None,
    "decimate_to_hz": None,
    "freq_min_hz": 0.0,
    "freq_max_hz": None,
}

#: Default highest model order (enough for ~20 modes in the band plus noise).
DEFAULT_MAX_ORDER = 80
#: Default block rows of the Hankel matrix for several channels.
DEFAULT_TIME_LAG = 40
#: Above this many channels, references are chosen automatically.
AUTO_REFS_ABOVE = 24
#: Number of automatically chosen references.
AUTO_REFS = 12
#: Default ``min_fraction`` with a single channel (see :func:`choose_ssi_settings`).
SINGLE_CHANNEL_MIN_FRACTION = 0.65
#: A window must hold this many samples per block row.
SAMPLES_PER_LAG = 40


def merge_options(method: str, options: dict[str, Any]) -> dict[str, Any]:
    """Defaults of ``method`` updated with ``options`` (unknown names refused).

    Raises
    ------
    ValueError
        Unknown method or option.
    """
    if method not in METHODS:
        raise ValueError(f"method must be one of {', '.join(METHODS)}, got {method!r}")
    allowed = dict(PREP_DEFAULTS)
    allowed.update(SSI_DEFAULTS if method == "ssi-cov" else FDD_DEFAULTS)
    unknown = sorted(set(options) - set(allowed))
    if unknown:
        raise ValueError(
            f"unknown option(s) for method {method!r}: {', '.join(unknown)}; "
            f"allowed: {', '.join(sorted(allowed))}"
        )
    allowed.update(options)
    return allowed


def _is_int(v: Any) -> bool:
    return isinstance(v, (int, np.integer)) and not isinstance(v, bool)


def choose_refs(z: np.ndarray, n_refs: int) -> np.ndarray:
    """Reference channels that together see the most of the data's dynamics.

    Greedy column-pivoted QR of the lag-1..4 correlation matrix of the
    unit-free data (each column: one candidate reference's correlations with
    every channel): it picks the channel that explains most, then the one
    that adds most that is new, and so on, so references do not all sit at
    a node of the same mode.

    Parameters
    ----------
    z : ndarray, shape (n_samples, n_channels)
        Unit-free data (zero mean, unit variance), contiguous (its first
        20,000 samples are used).
    n_refs : int

    Returns
    -------
    ndarray of int, sorted
    """
    import scipy.linalg

    sub = z[:20000]
    m = sub.shape[0]
    blocks = [sub[k:].T @ sub[: m - k] / (m - k) for k in (1, 2, 3, 4)]
    _, _, piv = scipy.linalg.qr(np.vstack(blocks), mode="economic", pivoting=True)
    return np.sort(piv[:n_refs]).astype(np.intp)


#: Shortest time constant of the correlation weights (s).
MIN_WEIGHTING_SPAN_S = 0.25


def weighting_span(y: np.ndarray, center: np.ndarray, fs: float) -> float:
    """Time constant of the causal correlation weights: 0.25 s or half a dominant period.

    Short spans follow a vehicle's burst quickly (best on the bridge's
    traffic records: 0.1-0.25 s), but weights that vary within one cycle of
    the dominant response add variance (not bias): a span of half the
    period of the zero-crossing frequency (Rice's mean frequency, the median
    over the channels) keeps that cost within about 2x the plain estimate's.

    Parameters
    ----------
    y : ndarray, shape (n_samples, n_channels)
        The window.
    center : ndarray, shape (n_channels,)
        Mean of each channel.
    fs : float
        Sampling rate (Hz).

    Returns
    -------
    float
        Seconds.
    """
    from bshm.analysis.ssi_stats import crossing_counts

    n, nl = y.shape
    crossings = crossing_counts(y, center)
    f_zc = float(np.median(crossings)) / (2.0 * max(1, n - 1) / fs)
    half_period = 0.5 / f_zc if f_zc > 0 else MIN_WEIGHTING_SPAN_S
    return float(max(MIN_WEIGHTING_SPAN_S, half_period))


def choose_ssi_settings(
    y: np.ndarray,
    center: np.ndarray,
    scales: np.ndarray,
    fs: float,
    opt: dict[str, Any],
) -> tuple[dict[str, Any], list[str]]:
    """Fill ``time_lag``, ``max_order`` and ``refs`` when they are not given.

    Rules (each written to the notes when it applies):

    * ``refs``: all channels up to ``AUTO_REFS_ABOVE`` channels, else the
      ``AUTO_REFS`` channels chosen by :func:`choose_refs` (the Hankel
      matrix stays ``p l x p r``, cheap for 100 channels).
    * ``max_order``: 80, or what ``p`` supports.
    * ``time_lag`` ``p``: 40, raised so that the orders fit
      (``max_order <= (p - 1) l`` and ``<= p r``: 81 for one channel, 41
      for two).  Longer lags for a low ``freq_min_hz`` were tried and gave
      more spurious modes with one and two channels, so the band enters
      through ``decimate_to_hz`` (automatic for oversampled records) and
      not through ``p``.
    * a window too short for ``40 p`` samples lowers ``p`` (and the orders
      with it) instead of failing.
    * ``weighting_span_s``: :func:`weighting_span`.
    * ``min_fraction``: 0.65 for one channel, else 0.3.  With one channel
      the MAC cannot take part in the stability check, and noise poles form
      stable clusters of 25-35 of the 40 orders where the true modes have
      35-40 (measured on synthetic and simulated-bridge records).

    Parameters
    ----------
    y : ndarray, shape (n_samples, n_channels)
        The window.
    center, scales : ndarray, shape (n_channels,)
        Mean and standard deviation of each channel.
    fs : float
        Sampling rate (Hz).
    opt : dict
        Options (``None`` where not given).

    Returns
    -------
    settings : dict
        ``opt`` with ``time_lag``, ``max_order``, ``refs`` filled.
    notes : list of str
    """
    n, nl = y.shape
    out = dict(opt)
    notes: list[str] = []
    auto = [k for k in ("time_lag", "max_order", "refs") if opt[k] is None]
    if opt["refs"] is None and nl > AUTO_REFS_ABOVE:
        head = (np.asarray(y[:20000], dtype=np.float64) - center) / scales
        out["refs"] = choose_refs(head, AUTO_REFS)
    refs = out["refs"]
    if refs is not None and (isinstance(refs, (str, bytes)) or not hasattr(refs, "__len__")):
        raise ValueError(f"refs must be a list of channel indices, got {refs!r}")
    nr = nl if refs is None else max(1, len(refs))
    n_max = opt["max_order"] if _is_int(opt["max_order"]) else DEFAULT_MAX_ORDER
    if opt["time_lag"] is None:
        p = max(DEFAULT_TIME_LAG, math.ceil(n_max / nl) + 1, math.ceil(n_max / nr))
        if SAMPLES_PER_LAG * p > n:
            p = max(2, n // SAMPLES_PER_LAG)
        out["time_lag"] = int(p)
    p = int(out["time_lag"])
    if opt["max_order"] is None and _is_int(p):
        n_max = min(n_max, (p - 1) * nl, p * nr)
        n_max -= n_max % max(1, int(opt["order_step"]) if _is_int(opt["order_step"]) else 1)
        out["max_order"] = int(max(n_max, 1))
    if opt["weighting_span_s"] is None:
        out["weighting_span_s"] = weighting_span(y, center, fs)
        if opt["weighting"] == "energy":
            auto.append(f"weighting_span_s={out['weighting_span_s']:.3g}")
    if opt["min_fraction"] is None:
        out["min_fraction"] = SINGLE_CHANNEL_MIN_FRACTION if nl == 1 else 0.3
        if nl == 1:
            auto.append(f"min_fraction={SINGLE_CHANNEL_MIN_FRACTION}")
    if auto:
        refs = "all" if out["refs"] is None else ", ".join(map(str, list(out["refs"])))
        notes.append(
            f"ssi-cov settings for {nl} channel(s), {n} samples at {fs:g} Hz: "
            f"time_lag={out['time_lag']}, max_order={out['max_order']}, refs={refs} "
            f"(chosen: {', '.join(auto)})"
        )
    return out, notes


def check_ssi(n: int, nl: int, fs: float, opt: dict[str, Any]) -> None:
    """Check SSI-COV settings against the window.

    Raises
    ------
    ValueError
        Naming the setting and the fix.
    """
    p = opt["time_lag"]
    if not _is_int(p) or p < 2:
        raise ValueError(f"time_lag must be an integer >= 2, got {p!r}")
    need = SAMPLES_PER_LAG * int(p)
    if n < need:
        raise ValueError(
            f"window of {n} samples ({n / fs:.3g} s) is too short for time_lag={p}: "
            f"need at least {need} samples (40 x time_lag); lower time_lag or use a "
            "longer window"
        )
    refs = opt["refs"]
    nr = nl if refs is None else len(refs)
    if refs is not None:
        bad = [r for r in refs if not (_is_int(r) and 0 <= int(r) < nl)]
        if bad or nr == 0 or len(set(int(r) for r in refs)) != nr:
            raise ValueError(f"refs must be distinct channel indices in 0..{nl - 1}, got {refs}")
    mo, step, lo = opt["max_order"], opt["order_step"], opt["min_order"]
    if not all(_is_int(v) and v >= 1 for v in (mo, step, lo)):
        raise ValueError("max_order, min_order and order_step must be integers >= 1")
    limit = min((p - 1) * nl, p * nr)
    if mo > limit:
        raise ValueError(
            f"max_order={mo} exceeds {limit}, the most that time_lag={p} with {nl} "
            f"channel(s) and {nr} reference(s) supports; lower max_order or raise time_lag"
        )
    if max(lo, step) > mo:
        raise ValueError(f"no model order between min_order={lo} and max_order={mo}")
    if not _is_int(opt["min_order"]):
        raise ValueError("min_order must be an integer")
    span = opt.get("weighting_span_s")
    if span is not None and not (_is_num(span) and span > 0):
        raise ValueError(f"weighting_span_s must be a positive number of seconds, got {span!r}")
    stab = opt["stability"]
    if not (isinstance(stab, (tuple, list)) and len(stab) == 3 and all(_is_num(x) for x in stab)):
        raise ValueError(
            "stability must be 3 numbers (relative frequency, relative damping, 1 - MAC), "
            f"got {stab!r}"
        )
    for key in ("max_damping", "min_mpc", "max_mpd", "min_fraction"):
        if not _is_num(opt[key]):
            raise ValueError(f"{key} must be a number, got {opt[key]!r}")
    if opt["cutoff"] is not None and not (_is_num(opt["cutoff"]) and opt["cutoff"] > 0):
        raise ValueError(f"cutoff must be a positive number or None, got {opt['cutoff']!r}")
    if opt["weighting"] not in (None, "energy"):
        raise ValueError(f"weighting must be None or 'energy', got {opt['weighting']!r}")


def check_fdd(opt: dict[str, Any]) -> None:
    """Check the FDD/EFDD options.

    Raises
    ------
    ValueError
        Naming the option.
    """
    nper = opt["nperseg"]
    if nper is not None and not (_is_int(nper) and nper >= 16):
        raise ValueError(f"nperseg must be an integer >= 16 or None, got {nper!r}")
    if not (_is_num(opt["overlap"]) and 0 <= opt["overlap"] < 1):
        raise ValueError(f"overlap must be in [0, 1), got {opt['overlap']!r}")
    for key in ("prominence", "mac_threshold"):
        if not _is_num(opt[key]):
            raise ValueError(f"{key} must be a number, got {opt[key]!r}")


def _is_num(v: Any) -> bool:
    return (
        isinstance(v, (int, float, np.integer, np.floating))
        and not isinstance(v, bool)
        and bool(np.isfinite(v))
    )
