"""``identify``: natural frequencies, damping and mode shapes of one window.

The public entry point of the modal analysis: validation and preprocessing
(:mod:`bshm.analysis.preprocess`), then SSI-COV with automated picking
(:mod:`bshm.analysis.ssi`, :mod:`bshm.analysis.picking`) or FDD/EFDD
(:mod:`bshm.analysis.spectral`).  See ``docs/modal-analysis.md``.
"""

from __future__ import annotations

import logging
from dataclasses import dataclass, field
from typing import Any

import numpy as np

__all__ = ["METHODS", "ModalResult", "identify"]

log = logging.getLogger(__name__)

METHODS = ("ssi-cov", "fdd", "efdd")


@dataclass(frozen=True)
class ModalResult:
    """Identified modes of one window, sorted by frequency.

    Attributes
    ----------
    frequencies : ndarray, shape (n_modes,)
        Natural frequencies (Hz).
    damping : ndarray, shape (n_modes,)
        Damping ratios (1 = critical); NaN where the method gives none (FDD).
    shapes : ndarray, shape (n_channels, n_modes), complex
        Mode shapes, largest component 1.
    freq_std, damping_std : ndarray, shape (n_modes,)
        Spread (standard deviation) across the poles supporting each mode
        (SSI-COV); for FDD the bin width / sqrt(12) and NaN.
    mpc : ndarray, shape (n_modes,)
        Modal phase collinearity (0..1, 1 = real mode).
    mpd : ndarray, shape (n_modes,)
        Mean phase deviation (degrees).
    n_poles : ndarray, shape (n_modes,), int
        Stable poles (one per model order) supporting each mode (0 for FDD).
    stabilization : StabilizationDiagram or None
        All poles of all model orders (SSI-COV), with ``mode`` labels.
    spectrum : FDDSpectrum or None
        Singular values of the CPSD matrix (FDD/EFDD).
    method : str
    fs : float
        Sampling rate (Hz) the identification ran at (after decimation).
    channels : tuple of str
    notes : tuple of str
        What preprocessing did to the data.
    options : dict
        The options used (defaults filled in).
    """

    frequencies: np.ndarray
    damping: np.ndarray
    shapes: np.ndarray
    freq_std: np.ndarray
    damping_std: np.ndarray
    mpc: np.ndarray
    mpd: np.ndarray
    n_poles: np.ndarray
    stabilization: Any = None
    spectrum: Any = None
    method: str = "ssi-cov"
    fs: float = float("nan")
    channels: tuple[str, ...] = ()
    notes: tuple[str, ...] = ()
    options: dict[str, Any] = field(default_factory=dict)

    @property
    def n_modes(self) -> int:
        """Number of identified modes."""
        return int(self.frequencies.size)

    def to_dict(self) -> dict[str, Any]:
        """JSON-ready summary (shapes as [re, im] pairs per channel and mode)."""
        return {
            "method": self.method,
            "fs": self.fs,
            "channels": list(self.channels),
            "frequencies_hz": self.frequencies.tolist(),
            "damping": [None if np.isnan(z) else float(z) for z in self.damping],
            "freq_std_hz": self.freq_std.tolist(),
            "damping_std": [None if np.isnan(z) else float(z) for z in self.damping_std],
            "mpc": self.mpc.tolist(),
            "mpd_deg": self.mpd.tolist(),
            "n_poles": self.n_poles.tolist(),
            "shapes": [[[float(v.real), float(v.imag)] for v in row] for row in self.shapes],
            "notes": list(self.notes),
        }


_SSI_DEFAULTS: dict[str, Any] = {
    "time_lag": 40,
    "max_order": 80,
    "min_order": 2,
    "order_step": 2,
    "refs": None,
    "stability": (0.01, 0.2, 0.02),
    "max_damping": 0.1,
    "min_mpc": 0.8,
    "max_mpd": 20.0,
    "min_fraction": 0.3,
    "cutoff": None,
    "multi_order": True,
    "weighting": "energy",
}
_FDD_DEFAULTS: dict[str, Any] = {
    "nperseg": None,
    "overlap": 0.5,
    "prominence": 0.5,
    "mac_threshold": 0.8,
}
_PREP_DEFAULTS: dict[str, Any] = {
    "channel_names": None,
    "channels": None,
    "nan_policy": "refuse",
    "max_gap_s": 0.5,
    "detrend": None,
    "band_hz": None,
    "decimate_to_hz": None,
    "freq_min_hz": 0.0,
    "freq_max_hz": None,
}


def _options(method: str, options: dict[str, Any]) -> dict[str, Any]:
    if method not in METHODS:
        raise ValueError(f"method must be one of {', '.join(METHODS)}, got {method!r}")
    allowed = dict(_PREP_DEFAULTS)
    allowed.update(_SSI_DEFAULTS if method == "ssi-cov" else _FDD_DEFAULTS)
    unknown = sorted(set(options) - set(allowed))
    if unknown:
        raise ValueError(
            f"unknown option(s) for method {method!r}: {', '.join(unknown)}; "
            f"allowed: {', '.join(sorted(allowed))}"
        )
    allowed.update(options)
    return allowed


def _check_ssi(n: int, nl: int, fs: float, opt: dict[str, Any]) -> None:
    p = opt["time_lag"]
    if not isinstance(p, (int, np.integer)) or p < 2:
        raise ValueError(f"time_lag must be an integer >= 2, got {p!r}")
    need = 40 * int(p)
    if n < need:
        raise ValueError(
            f"window of {n} samples ({n / fs:.3g} s) is too short for time_lag={p}: "
            f"need at least {need} samples (40 x time_lag); lower time_lag or use a "
            "longer window"
        )
    refs = opt["refs"]
    nr = nl if refs is None else len(refs)
    if refs is not None:
        bad = [r for r in refs if not 0 <= int(r) < nl]
        if bad or nr == 0 or len(set(refs)) != nr:
            raise ValueError(f"refs must be distinct channel indices in 0..{nl - 1}, got {refs}")
    mo, step, lo = opt["max_order"], opt["order_step"], opt["min_order"]
    if not all(isinstance(v, (int, np.integer)) and v >= 1 for v in (mo, step, lo)):
        raise ValueError("max_order, min_order and order_step must be integers >= 1")
    limit = min((p - 1) * nl, p * nr)
    if mo > limit:
        raise ValueError(
            f"max_order={mo} exceeds {limit}, the most that time_lag={p} with {nl} "
            f"channels and {nr} reference(s) supports; lower max_order or raise time_lag"
        )
    if max(lo, step) > mo:
        raise ValueError(f"no model order between min_order={lo} and max_order={mo}")


def identify(data: Any, fs: float, *, method: str = "ssi-cov", **options: Any) -> ModalResult:
    """Identify natural frequencies, damping ratios and mode shapes of a window.

    Parameters
    ----------
    data : array_like, shape (n_samples, n_channels)
        Accelerations (or any response) of one window; float32 or float64.
    fs : float
        Sampling rate (Hz).
    method : {"ssi-cov", "fdd", "efdd"}
        SSI-COV with automated mode picking (default), or FDD / enhanced FDD.
    **options
        Preprocessing (all methods): ``channel_names`` (sequence of str),
        ``channels`` (names or indices to keep), ``nan_policy``
        ("refuse" | "repair"), ``max_gap_s`` (0.5), ``detrend`` (None |
        "linear" | "constant"), ``band_hz`` ((low, high) zero-phase
        Butterworth), ``decimate_to_hz``, ``freq_min_hz`` (0) and
        ``freq_max_hz`` (default 0.45 fs) bound the reported modes.

        SSI-COV: ``time_lag`` (40 block rows; correlations to lag 2 p - 1),
        ``max_order`` (80), ``min_order`` (2), ``order_step`` (2), ``refs``
        (reference channel indices, SSI-COV/ref), ``stability`` ((0.01,
        0.2, 0.02): relative frequency, relative damping, 1 - MAC),
        ``max_damping`` (0.1), ``min_mpc`` (0.8), ``max_mpd`` (20 degrees),
        ``min_fraction`` (0.3), ``cutoff`` (None = from the data),
        ``multi_order`` (True), ``weighting`` ("energy": each block of the
        correlation estimate weighted by its inverse power, so traffic
        bursts do not dominate; None: plain estimate).

        FDD/EFDD: ``nperseg`` (about 100 s), ``overlap`` (0.5),
        ``prominence`` (0.5 decades), ``mac_threshold`` (0.8, EFDD bell).

    Returns
    -------
    ModalResult

    Raises
    ------
    ValueError
        Wrong shape or dtype, non-finite data (unless ``nan_policy="repair"``
        and the gaps are short), a window too short for ``time_lag``, orders
        the Hankel matrix cannot support, unknown options.

    Examples
    --------
    >>> res = identify(acc, 100.0, decimate_to_hz=50, freq_max_hz=20)  # doctest: +SKIP
    >>> res.frequencies, res.damping, res.shapes.shape                  # doctest: +SKIP
    """
    from bshm.analysis.preprocess import prepare

    opt = _options(method, options)
    prep = prepare(
        data,
        fs,
        channel_names=opt["channel_names"],
        channels=opt["channels"],
        nan_policy=opt["nan_policy"],
        max_gap_s=opt["max_gap_s"],
        detrend_kind=opt["detrend"],
        band_hz=opt["band_hz"],
        decimate_to_hz=opt["decimate_to_hz"],
    )
    n, nl = prep.data.shape
    fmin = float(opt["freq_min_hz"] or 0.0)
    fmax = float(opt["freq_max_hz"] or 0.45 * prep.fs)
    if method == "ssi-cov":
        _check_ssi(n, nl, prep.fs, opt)
        return _identify_ssi(prep, opt, fmin, fmax)
    return _identify_fdd(prep, opt, fmin, fmax, enhanced=method == "efdd")


def _identify_ssi(prep: Any, opt: dict[str, Any], fmin: float, fmax: float) -> ModalResult:
    from dataclasses import replace

    from bshm.analysis.picking import pick_modes
    from bshm.analysis.ssi import ssi_cov

    refs = None if opt["refs"] is None else np.asarray(opt["refs"], dtype=np.intp)
    diag = ssi_cov(
        prep.data,
        prep.fs,
        time_lag=int(opt["time_lag"]),
        max_order=int(opt["max_order"]),
        min_order=int(opt["min_order"]),
        order_step=int(opt["order_step"]),
        refs=refs,
        multi_order=bool(opt["multi_order"]),
        weighting=opt["weighting"],
        stability=tuple(opt["stability"]),
    )
    picked = pick_modes(
        diag,
        freq_min=fmin,
        freq_max=fmax,
        max_damping=float(opt["max_damping"]),
        min_mpc=float(opt["min_mpc"]),
        max_mpd=float(opt["max_mpd"]),
        min_fraction=float(opt["min_fraction"]),
        cutoff=opt["cutoff"],
    )
    diag = replace(diag, mode=picked.labels)
    log.debug("identify ssi-cov: %s modes", picked.frequencies.size)
    return ModalResult(
        frequencies=picked.frequencies,
        damping=picked.damping,
        shapes=picked.shapes,
        freq_std=picked.freq_std,
        damping_std=picked.damping_std,
        mpc=picked.mpc,
        mpd=picked.mpd,
        n_poles=picked.cluster_size,
        stabilization=diag,
        method="ssi-cov",
        fs=prep.fs,
        channels=prep.channels,
        notes=prep.notes,
        options={**opt, "freq_min_hz": fmin, "freq_max_hz": fmax, "cutoff": picked.cutoff},
    )


def _identify_fdd(
    prep: Any, opt: dict[str, Any], fmin: float, fmax: float, *, enhanced: bool
) -> ModalResult:
    from bshm.analysis.mac import mpc, mpd
    from bshm.analysis.spectral import fdd

    modes, spec = fdd(
        prep.data,
        prep.fs,
        enhanced=enhanced,
        nperseg=opt["nperseg"],
        overlap=float(opt["overlap"]),
        freq_min=fmin,
        freq_max=fmax,
        prominence=float(opt["prominence"]),
        mac_threshold=float(opt["mac_threshold"]),
    )
    notes = list(prep.notes)
    if enhanced:  # a peak whose bell gives no decaying correlation is not a mode
        bad = np.isnan(modes["damping"]) | ~(modes["damping"] > 0)
        notes += [f"efdd: dropped peak at {f:.4g} Hz (no decay)" for f in modes["frequencies"][bad]]
        modes = {k: (v[:, ~bad] if v.ndim == 2 else v[~bad]) for k, v in modes.items()}
    nm = modes["frequencies"].size
    shapes = modes["shapes"]
    return ModalResult(
        frequencies=modes["frequencies"],
        damping=modes["damping"],
        shapes=shapes,
        freq_std=modes["freq_std"],
        damping_std=np.full(nm, np.nan),
        mpc=mpc(shapes),
        mpd=mpd(shapes),
        n_poles=np.zeros(nm, dtype=np.int64),
        spectrum=spec,
        method="efdd" if enhanced else "fdd",
        fs=prep.fs,
        channels=prep.channels,
        notes=tuple(notes),
        options={**opt, "freq_min_hz": fmin, "freq_max_hz": fmax},
    )
