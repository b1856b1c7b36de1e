"""Spectral tools: Welch PSD and CPSD matrix, FDD and EFDD.

References
----------
Welch, P. (1967). The use of fast Fourier transform for the estimation of
power spectra. IEEE Trans. Audio Electroacoust. 15(2), 70-73.
https://doi.org/10.1109/TAU.1967.1161901
Brincker, R., Zhang, L., Andersen, P. (2001). Modal identification of
output-only systems using frequency domain decomposition. Smart Mater.
Struct. 10(3), 441-445. https://doi.org/10.1088/0964-1726/10/3/303
Brincker, R., Ventura, C. E., Andersen, P. (2001). Damping estimation by
frequency domain decomposition. Proc. IMAC XIX, 698-703 (EFDD).
"""

from __future__ import annotations

import logging
from dataclasses import dataclass

import numpy as np
from bshm.analysis.mac import _mac_rows

__all__ = [
    "FDDSpectrum",
    "cpsd_matrix",
    "default_nperseg",
    "efdd_mode",
    "fdd",
    "fdd_peaks",
    "fdd_svd",
    "welch_psd",
]

log = logging.getLogger(__name__)


@dataclass(frozen=True)
class FDDSpectrum:
    """Singular values of the CPSD matrix (the FDD spectrum), for plotting.

    Attributes
    ----------
    frequencies : ndarray, shape (n_freq,)
        Hz.
    singular_values : ndarray, shape (n_freq, n_channels)
        Descending at each frequency (units^2/Hz; from ``identify`` the data
        are unit-free, each channel divided by its standard deviation, so 1/Hz).
    first_vectors : ndarray, shape (n_freq, n_channels), complex
        First singular vector at each frequency.
    peaks : ndarray of int
        Indices of the picked peaks.
    """

    frequencies: np.ndarray
    singular_values: np.ndarray
    first_vectors: np.ndarray
    peaks: np.ndarray


def default_nperseg(n_samples: int, fs: float) -> int:
    """A power of two near 100 s of data, at most an eighth of the window."""
    target = min(fs * 100.0, n_samples / 8.0)
    return int(2 ** max(6, int(np.floor(np.log2(max(target, 64))))))


def cpsd_matrix(
    data: np.ndarray,
    fs: float,
    *,
    nperseg: int | None = None,
    overlap: float = 0.5,
    window: str = "hann",
) -> tuple[np.ndarray, np.ndarray]:
    """One-sided cross power spectral density matrix by Welch averaging.

    ``G[k, a, b] = 2 E[X_a(f_k) conj(X_b(f_k))] / (fs sum(w^2))`` (the DC and
    Nyquist bins are not doubled), i.e. the convention of
    ``scipy.signal.csd(x_b, x_a)`` with a linear detrend-free mean removal.

    Parameters
    ----------
    data : ndarray, shape (n_samples, n_channels)
    fs : float
        Sampling rate (Hz).
    nperseg : int, optional
        Segment length (default :func:`default_nperseg`).
    overlap : float
        Fraction of overlap of consecutive segments, in [0, 1).
    window : str
        Window name for :func:`scipy.signal.get_window`.

    Returns
    -------
    freqs : ndarray, shape (n_freq,)
    g : ndarray, shape (n_freq, n_channels, n_channels), complex (Hermitian)
    """
    import scipy.fft
    import scipy.signal

    n, nl = data.shape
    nper = int(nperseg or default_nperseg(n, fs))
    if nper > n:
        raise ValueError(f"nperseg={nper} exceeds the window length ({n} samples)")
    if not 0 <= overlap < 1:
        raise ValueError(f"overlap must be in [0, 1), got {overlap}")
    step = max(1, int(round(nper * (1 - overlap))))
    win = scipy.signal.get_window(window, nper)
    n_seg = 1 + (n - nper) // step
    nfreq = nper // 2 + 1
    g = np.zeros((nfreq, nl, nl), dtype=np.complex128)
    chunk = max(1, 2**19 // (nper * nl))
    for s0 in range(0, n_seg, chunk):
        s1 = min(n_seg, s0 + chunk)
        seg = np.lib.stride_tricks.as_strided(
            data[s0 * step :],
            shape=(s1 - s0, nper, nl),
            strides=(step * data.strides[0], data.strides[0], data.strides[1]),
            writeable=False,
        )
        seg = seg - seg.mean(axis=1, keepdims=True)
        x = scipy.fft.rfft(seg * win[None, :, None], axis=1)  # (ns, f, l)
        g += np.matmul(x.transpose(1, 2, 0), x.conj().transpose(1, 0, 2))
    scale = 1.0 / (fs * np.sum(win**2) * n_seg)
    g *= scale
    g[1 : nfreq - (1 if nper % 2 == 0 else 0)] *= 2.0
    return np.fft.rfftfreq(nper, 1.0 / fs), g


def welch_psd(data: np.ndarray, fs: float, **kwargs: object) -> tuple[np.ndarray, np.ndarray]:
    """Auto power spectral densities (the diagonal of :func:`cpsd_matrix`).

    Returns
    -------
    freqs : ndarray, shape (n_freq,)
    psd : ndarray, shape (n_freq, n_channels)
        units^2/Hz.
    """
    f, g = cpsd_matrix(data, fs, **kwargs)  # type: ignore[arg-type]
    return f, np.real(np.einsum("kii->ki", g))


def fdd_svd(g: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """Singular values (descending) and first singular vectors of each CPSD matrix.

    The CPSD matrices are Hermitian positive semi-definite, so their SVD is
    their eigendecomposition (computed batched with ``eigh``).

    Returns
    -------
    s : ndarray, shape (n_freq, n_channels)
    u1 : ndarray, shape (n_freq, n_channels), complex
    """
    w, v = np.linalg.eigh(g)
    return np.clip(w[:, ::-1], 0.0, None), np.ascontiguousarray(v[:, :, -1])


def fdd_peaks(
    freqs: np.ndarray,
    s: np.ndarray,
    u1: np.ndarray,
    *,
    freq_min: float = 0.0,
    freq_max: float = np.inf,
    prominence: float = 0.5,
    min_mac: float = 0.9,
) -> np.ndarray:
    """Automated FDD peak picking on the first singular value.

    A peak is kept if its prominence in ``log10(s1)`` is at least
    ``prominence`` (decades), it lies in the band, and the first singular
    vectors of its two neighbour bins agree with its own (MAC >= ``min_mac``:
    one mode dominates there).

    Returns
    -------
    ndarray of int
        Bin indices, ascending.
    """
    import scipy.signal

    s1 = np.log10(np.maximum(s[:, 0], np.finfo(float).tiny))
    idx, _ = scipy.signal.find_peaks(s1, prominence=prominence)
    keep = []
    for k in idx:
        if not freq_min <= freqs[k] <= freq_max or k == 0 or k + 1 >= freqs.size:
            continue
        mac = _mac_rows(u1[k : k + 1], u1[k - 1 : k + 2])[0]
        if mac.min() >= min_mac:
            keep.append(k)
    return np.asarray(keep, dtype=np.int64)


def efdd_mode(
    freqs: np.ndarray,
    s1: np.ndarray,
    u1: np.ndarray,
    peak: int,
    *,
    window: np.ndarray | None = None,
    mac_threshold: float = 0.8,
    envelope: tuple[float, float] = (0.8, 0.2),
) -> tuple[float, float, np.ndarray, np.ndarray]:
    """Frequency and damping of one mode from its SDOF bell (EFDD).

    The bell holds the contiguous bins around ``peak`` whose first singular
    vector has MAC >= ``mac_threshold`` with the peak's.  Its inverse FFT is
    the mode's correlation function; when ``window`` (the Welch window) is
    given the correlation is divided by the window's normalised
    autocorrelation, which removes the leakage bias of the damping.
    The damped frequency comes from a straight-line fit of the zero crossing
    times, the logarithmic decrement from a fit of the log extrema between
    ``envelope[0]`` and ``envelope[1]`` of the first one.

    Returns
    -------
    frequency (Hz), damping ratio, shape (n_channels,), bell mask (n_freq,)
    """
    mac = _mac_rows(u1[peak : peak + 1], u1)[0]
    lo = peak
    while lo > 0 and mac[lo - 1] >= mac_threshold:
        lo -= 1
    hi = peak
    while hi + 1 < freqs.size and mac[hi + 1] >= mac_threshold:
        hi += 1
    bell = np.zeros(freqs.size, dtype=bool)
    bell[lo : hi + 1] = True
    nfft = 2 * (freqs.size - 1)
    r = np.fft.irfft(np.where(bell, s1, 0.0), n=nfft)[: nfft // 2]
    if window is not None:
        wc = np.correlate(window, window, mode="full")[window.size - 1 :][: r.size]
        r = r / (wc / wc[0])
    r = r / r[0]
    dt = 1.0 / (2.0 * freqs[-1])
    sign = np.signbit(r)
    cross = np.flatnonzero(sign[1:] != sign[:-1])
    ext = []
    for a, b in zip(cross[:-1], cross[1:], strict=True):
        seg = np.abs(r[a + 1 : b + 1])
        ext.append((a + 1 + int(np.argmax(seg)), float(seg.max())))
    ext_arr = np.array(ext) if ext else np.empty((0, 2))
    hi_e, lo_e = envelope
    use = (ext_arr[:, 1] <= hi_e) & (ext_arr[:, 1] >= lo_e)
    shape = u1[peak] / u1[peak][np.argmax(np.abs(u1[peak]))]
    if np.count_nonzero(use) < 3 or cross.size < 3:
        return float(freqs[peak]), float("nan"), shape, bell
    k = np.flatnonzero(use)
    slope = np.polyfit(k, np.log(ext_arr[k, 1]), 1)[0]  # per half cycle
    # zero-crossing times with linear interpolation, over the used range
    t0 = cross + r[cross] / (r[cross] - r[cross + 1])
    c_use = cross[: k[-1] + 2]
    tz = t0[: c_use.size] * dt
    half_period = np.polyfit(np.arange(tz.size), tz, 1)[0]
    fd = 1.0 / (2.0 * half_period)
    delta = -2.0 * slope
    zeta = delta / np.sqrt(4.0 * np.pi**2 + delta**2)
    return float(fd / np.sqrt(1.0 - zeta**2)), float(zeta), shape, bell


def fdd(
    data: np.ndarray,
    fs: float,
    *,
    enhanced: bool = True,
    nperseg: int | None = None,
    overlap: float = 0.5,
    freq_min: float = 0.0,
    freq_max: float = np.inf,
    prominence: float = 0.5,
    mac_threshold: float = 0.8,
) -> tuple[dict[str, np.ndarray], FDDSpectrum]:
    """FDD (peak frequencies and shapes) or EFDD (also damping) of a window.

    Returns
    -------
    modes : dict
        ``frequencies``, ``damping`` (NaN for plain FDD), ``shapes``
        (n_channels, n_modes), ``mpc``, ``freq_std`` (the bin width / sqrt(12)).
    spectrum : FDDSpectrum
    """
    import scipy.signal

    nper = int(nperseg or default_nperseg(data.shape[0], fs))
    f, g = cpsd_matrix(data, fs, nperseg=nper, overlap=overlap)
    s, u1 = fdd_svd(g)
    peaks = fdd_peaks(f, s, u1, freq_min=freq_min, freq_max=freq_max, prominence=prominence)
    win = scipy.signal.get_window("hann", nper)
    nm = peaks.size
    fr = f[peaks].astype(float)
    zt = np.full(nm, np.nan)
    shapes = np.empty((data.shape[1], nm), dtype=np.complex128)
    for i, k in enumerate(peaks):
        shapes[:, i] = u1[k] / u1[k][np.argmax(np.abs(u1[k]))]
        if enhanced:
            fr[i], zt[i], shapes[:, i], _ = efdd_mode(
                f, s[:, 0], u1, int(k), window=win, mac_threshold=mac_threshold
            )
    modes = {
        "frequencies": fr,
        "damping": zt,
        "shapes": shapes,
        "freq_std": np.full(nm, (f[1] - f[0]) / np.sqrt(12.0)),
    }
    return modes, FDDSpectrum(f, s, u1, peaks)
