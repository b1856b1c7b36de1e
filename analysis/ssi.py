"""Covariance-driven stochastic subspace identification (SSI-COV, SSI-COV/ref).

Pipeline: output correlations up to lag ``2p - 1`` (block FFT, exact and
unbiased), block Hankel matrix of ``p`` block rows, its leading left singular
subspace (the observability matrix), and the system matrices of *every* model
order from a single QR factorisation (Döhler & Mevel 2012), then the poles of
each order, their MPC/MPD, and their stability against the previous order.

References
----------
Peeters, B., De Roeck, G. (1999). Reference-based stochastic subspace
identification for output-only modal analysis. Mech. Syst. Signal Process.
13(6), 855-878. https://doi.org/10.1006/mssp.1999.1249
Döhler, M., Mevel, L. (2012). Fast multi-order computation of system matrices
in subspace-based system identification. Control Eng. Pract. 20(9), 882-894.
https://doi.org/10.1016/j.conengprac.2012.05.005
"""

from __future__ import annotations

import logging
from dataclasses import dataclass

import numpy as np
import scipy.fft
import scipy.linalg
from bshm.analysis._numba import kernel
from bshm.analysis.mac import _mpc_rows, _mpd_rows

__all__ = [
    "StabilizationDiagram",
    "block_hankel",
    "multi_order_matrices",
    "observability",
    "output_correlations",
    "ssi_cov",
]

log = logging.getLogger(__name__)


@dataclass(frozen=True)
class StabilizationDiagram:
    """Every pole of every model order, for plotting and for mode picking.

    Attributes
    ----------
    orders : ndarray, shape (n_poles,), int
        Model order each pole came from.
    frequencies : ndarray, shape (n_poles,)
        Undamped natural frequency (Hz).
    damping : ndarray, shape (n_poles,)
        Damping ratio (1 = critical; negative for unstable poles).
    shapes : ndarray, shape (n_channels, n_poles), complex
        Mode shapes, largest component scaled to 1.
    mpc, mpd : ndarray, shape (n_poles,)
        Modal phase collinearity (0..1) and mean phase deviation (degrees).
    stable_frequency : ndarray, shape (n_poles,), bool
        Frequency within the tolerance of a pole of the previous order.
    stable : ndarray, shape (n_poles,), bool
        Frequency, damping and MAC all within tolerance of that pole.
    match_distance : ndarray, shape (n_poles,)
        ``|df|/f + 1 - MAC`` to the nearest pole of the previous order
        (``inf`` for the first order).
    mode : ndarray, shape (n_poles,), int
        Index of the identified mode this pole supports, or -1.
    model_orders : ndarray, int
        The model orders that were computed.
    fs : float
        Sampling rate (Hz) of the data the poles come from.
    """

    orders: np.ndarray
    frequencies: np.ndarray
    damping: np.ndarray
    shapes: np.ndarray
    mpc: np.ndarray
    mpd: np.ndarray
    stable_frequency: np.ndarray
    stable: np.ndarray
    match_distance: np.ndarray
    mode: np.ndarray
    model_orders: np.ndarray
    fs: float

    @property
    def n_poles(self) -> int:
        """Number of poles in the diagram."""
        return int(self.orders.size)

    def at_order(self, order: int) -> np.ndarray:
        """Indices of the poles of one model order."""
        return np.flatnonzero(self.orders == order)


# --------------------------------------------------------------------------
# correlations and Hankel matrix
# --------------------------------------------------------------------------


def output_correlations(
    y: np.ndarray,
    max_lag: int,
    refs: np.ndarray | None = None,
    *,
    block: int = 0,
    weighting: str | None = None,
    span: int = 6000,
) -> np.ndarray:
    """Unbiased output correlations ``R_k = E[y_{t+k} y_ref,t^T]`` by block FFT.

    The mean of each channel is removed first.  The record is cut into blocks
    of ``L`` samples; each block is correlated with the following ``L + max_lag``
    samples by one FFT of length ``L + max_lag``, and the cross spectra are
    summed before one inverse FFT per channel pair.  The result equals the
    direct sum ``sum_t y[t+k] y[t] / (N - k)`` to rounding, at a cost of
    ``O(N l r)`` and with memory bounded by a few blocks.

    Parameters
    ----------
    y : ndarray, shape (n_samples, n_channels)
        Data (any float dtype).
    max_lag : int
        Largest lag (samples).
    refs : ndarray of int, optional
        Reference channel indices (default: all channels).
    block : int, optional
        FFT length; 0 picks a power of two of about ``6 * max_lag``.
    weighting : {None, "energy"}
        ``"energy"`` weights each block by the inverse of the mean power of
        the data around it (a moving average over ``span`` samples), so that
        bursts (a heavy vehicle crossing) do not dominate the estimate;
        ``None`` is the plain (exact) estimate.  The span must be long
        against the modes' decay times, or the weights follow the modal
        amplitude and bias the damping upwards.
    span : int
        Length (samples) of the power average for ``"energy"``.

    Returns
    -------
    ndarray, shape (max_lag + 1, n_channels, n_refs)
    """
    if weighting not in (None, "energy"):
        raise ValueError(f"weighting must be None or 'energy', got {weighting!r}")
    n, nl = y.shape
    ref_idx = np.arange(nl) if refs is None else np.asarray(refs, dtype=np.intp)
    nr = ref_idx.size
    nfft = block or int(2 ** np.ceil(np.log2(6 * (max_lag + 1))))
    seg = nfft - max_lag
    n_blocks = -(-n // seg)
    mean = y.mean(axis=0, dtype=np.float64)
    nfreq = nfft // 2 + 1
    acc = np.zeros((nfreq, nl, nr), dtype=np.complex128)
    wsum = 0.0
    weights = _block_weights(y, mean, seg, n_blocks, span) if weighting else None
    per_chunk = max(1, 2**18 // (nfft * nl))  # ~ 2 MB of float64 per chunk
    for b0 in range(0, n_blocks, per_chunk):
        b1 = min(n_blocks, b0 + per_chunk)
        start = b0 * seg
        stop = min(n, b1 * seg + max_lag)
        buf = np.zeros(((b1 - b0 - 1) * seg + nfft, nl))
        buf[: stop - start] = y[start:stop]
        buf[: stop - start] -= mean
        frames = np.lib.stride_tricks.as_strided(
            buf,
            shape=(b1 - b0, nfft, nl),
            strides=(seg * buf.strides[0], buf.strides[0], buf.strides[1]),
            writeable=False,
        )
        fa = scipy.fft.rfft(frames, axis=1)  # (nb, nfreq, l)
        fb = scipy.fft.rfft(frames[:, :seg, ref_idx], n=nfft, axis=1)
        if weights is not None:
            valid = np.clip(n - np.arange(b0, b1) * seg, 0, seg)
            w = weights[b0:b1]
            fb *= w[:, None, None]
            wsum += float(np.dot(w, valid))
        # sum_j conj(B_j) x A_j per frequency: (f, l, nb) @ (f, nb, r)
        acc += np.matmul(fa.transpose(1, 2, 0), fb.conj().transpose(1, 0, 2))
    corr = scipy.fft.irfft(acc, n=nfft, axis=0)[: max_lag + 1]
    corr /= (n - np.arange(max_lag + 1))[:, None, None]
    if weighting == "energy":
        corr *= n / wsum
    return corr


def _block_weights(
    y: np.ndarray, mean: np.ndarray, seg: int, n_blocks: int, span: int
) -> np.ndarray:
    """Inverse of the moving-average power (all channels) around each block."""
    n = y.shape[0]
    power = np.zeros(n_blocks)
    count = np.zeros(n_blocks)
    step = max(seg, (2**20 // max(1, y.shape[1])) // seg * seg)
    for s0 in range(0, n, step):
        part = np.asarray(y[s0 : s0 + step], dtype=np.float64) - mean
        e = np.einsum("tc,tc->t", part, part)
        idx = (s0 + np.arange(e.size)) // seg
        power += np.bincount(idx, e, minlength=n_blocks)
        count += np.bincount(idx, minlength=n_blocks)
    half = max(0, int(span) // seg // 2)
    kern = np.ones(2 * half + 1)
    smooth = np.convolve(power, kern, "same") / np.convolve(count, kern, "same")
    return np.divide(1.0, smooth, out=np.zeros_like(smooth), where=smooth > 0)


def block_hankel(corr: np.ndarray, time_lag: int) -> np.ndarray:
    """Block Hankel matrix ``H[i, j] = R_{i + j + 1}`` of ``time_lag`` block rows.

    Parameters
    ----------
    corr : ndarray, shape (>= 2 * time_lag, n_channels, n_refs)
        Correlations from lag 0.
    time_lag : int
        Number of block rows and columns ``p``.

    Returns
    -------
    ndarray, shape (p * n_channels, p * n_refs)
    """
    p = time_lag
    _, nl, nr = corr.shape
    idx = np.arange(p)[:, None] + np.arange(p)[None, :] + 1
    return corr[idx].transpose(0, 2, 1, 3).reshape(p * nl, p * nr)


def observability(hankel: np.ndarray, n_max: int) -> tuple[np.ndarray, np.ndarray]:
    """Observability matrix ``U_n S_n^{1/2}`` of the ``n_max`` leading directions.

    The left singular subspace is obtained from the symmetric eigenproblem
    of ``H H^T`` restricted to its ``n_max`` largest eigenvalues (about
    twice as fast as a full SVD for the sizes used here).

    Returns
    -------
    obs : ndarray, shape (n_rows, n_max)
    sv : ndarray, shape (n_max,)
        Singular values of ``H``, descending.
    """
    m = hankel.shape[0]
    gram = hankel @ hankel.T
    w, v = scipy.linalg.eigh(
        gram, subset_by_index=[m - n_max, m - 1], driver="evr", check_finite=False
    )
    w = np.clip(w[::-1], 0.0, None)
    sv = np.sqrt(w)
    return v[:, ::-1] * np.sqrt(sv), sv


def multi_order_matrices(
    obs: np.ndarray, n_channels: int
) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """One QR for all orders (Döhler & Mevel 2012).

    With ``O_up = Q R`` (the observability matrix without its last block row)
    and ``S = Q^T O_down``, the least-squares system matrix of order ``n`` is
    ``A_n = R[:n, :n]^{-1} S[:n, :n]``, because the leading ``n`` columns of a
    QR factorisation are the QR factorisation of the leading ``n`` columns.

    Returns
    -------
    r : ndarray, shape (n_max, n_max)
        Upper-triangular factor.
    s : ndarray, shape (n_max, n_max)
    c : ndarray, shape (n_channels, n_max)
        Output matrix of the largest order (``C_n = c[:, :n]``).
    """
    q, r = np.linalg.qr(obs[:-n_channels])
    s = q.T @ obs[n_channels:]
    return r, s, obs[:n_channels]


# --------------------------------------------------------------------------
# poles
# --------------------------------------------------------------------------


@kernel
def _extract_poles(lam, phi, counts, orders, fs):  # type: ignore[no-untyped-def]
    """Continuous-time poles with positive imaginary part, shapes max-normalised.

    lam (K, n_max) complex discrete eigenvalues, phi (K, n_max, l) complex
    shapes C v, counts (K,) eigenvalues per order, orders (K,).
    """
    k_tot, _ = lam.shape
    nl = phi.shape[2]
    m = 0
    for k in range(k_tot):
        for i in range(counts[k]):
            if lam[k, i].imag > 0.0 and abs(lam[k, i]) > 0.0:
                m += 1
    order = np.empty(m, dtype=np.int64)
    freq = np.empty(m)
    damp = np.empty(m)
    shapes = np.empty((m, nl), dtype=np.complex128)
    j = 0
    for k in range(k_tot):
        for i in range(counts[k]):
            mu = lam[k, i]
            if not (mu.imag > 0.0 and abs(mu) > 0.0):
                continue
            lc = np.log(mu) * fs
            wn = abs(lc)
            order[j] = orders[k]
            freq[j] = wn / (2.0 * np.pi)
            damp[j] = -lc.real / wn
            big = 0
            bmax = -1.0
            for c in range(nl):
                a = abs(phi[k, i, c])
                if a > bmax:
                    bmax = a
                    big = c
            ref = phi[k, i, big]
            for c in range(nl):
                shapes[j, c] = phi[k, i, c] / ref if bmax > 0.0 else 0.0
            j += 1
    return order, freq, damp, shapes


@kernel
def _stability(order, freq, damp, shapes, tol_f, tol_d, tol_mac):  # type: ignore[no-untyped-def]
    """Match each pole to the nearest-frequency pole of the previous order.

    Poles must be grouped by ascending order.  Returns (stable_freq, stable,
    distance) where distance = |df|/f + 1 - MAC to the match.
    """
    m, nl = shapes.shape
    st_f = np.zeros(m, dtype=np.bool_)
    st = np.zeros(m, dtype=np.bool_)
    dist = np.full(m, np.inf)
    prev0 = 0
    prev1 = 0
    i = 0
    while i < m:
        cur1 = i
        while cur1 < m and order[cur1] == order[i]:
            cur1 += 1
        for a in range(i, cur1):
            best = -1
            bdf = np.inf
            for b in range(prev0, prev1):
                df = abs(freq[a] - freq[b]) / freq[a]
                if df < bdf:
                    bdf = df
                    best = b
            if best < 0:
                continue
            na = 0.0
            nb = 0.0
            acc = 0.0j
            for c in range(nl):
                na += shapes[a, c].real ** 2 + shapes[a, c].imag ** 2
                nb += shapes[best, c].real ** 2 + shapes[best, c].imag ** 2
                acc += shapes[a, c].conjugate() * shapes[best, c]
            mac = (acc.real**2 + acc.imag**2) / (na * nb) if na * nb > 0.0 else 0.0
            dist[a] = bdf + 1.0 - mac
            ok_f = bdf <= tol_f
            st_f[a] = ok_f
            dd = abs(damp[a] - damp[best])
            ok_d = dd <= tol_d * abs(damp[best])
            st[a] = ok_f and ok_d and mac >= 1.0 - tol_mac
        prev0 = i
        prev1 = cur1
        i = cur1
    return st_f, st, dist


def _orders(min_order: int, max_order: int, order_step: int) -> np.ndarray:
    first = max(min_order, order_step)
    return np.arange(first, max_order + 1, order_step, dtype=np.int64)


def poles_of_orders(
    obs: np.ndarray,
    n_channels: int,
    orders: np.ndarray,
    fs: float,
    *,
    multi_order: bool = True,
) -> tuple[np.ndarray, np.ndarray, np.ndarray, np.ndarray]:
    """Poles of every model order in ``orders`` from one observability matrix.

    Parameters
    ----------
    obs : ndarray, shape (p * n_channels, n_max)
        Observability matrix.
    n_channels : int
    orders : ndarray of int
        Model orders (ascending, each <= n_max).
    fs : float
        Sampling rate (Hz).
    multi_order : bool, default True
        Use the single QR of Döhler & Mevel; ``False`` solves one least-squares
        problem per order (the straightforward way, for comparison).

    Returns
    -------
    order, frequency (Hz), damping, shapes (n_poles, n_channels) complex
    """
    n_max = int(orders[-1])
    lam = np.zeros((orders.size, n_max), dtype=np.complex128)
    phi = np.zeros((orders.size, n_max, n_channels), dtype=np.complex128)
    counts = orders.astype(np.int64)
    if multi_order:
        r, s, c = multi_order_matrices(obs[:, :n_max], n_channels)
    else:
        c = obs[:n_channels, :n_max]
    solve = scipy.linalg.solve_triangular
    for k, n in enumerate(orders):
        if multi_order:
            a = solve(r[:n, :n], s[:n, :n], check_finite=False)
        else:
            a = np.linalg.lstsq(obs[:-n_channels, :n], obs[n_channels:, :n], rcond=None)[0]
        w, v = np.linalg.eig(a)
        lam[k, :n] = w
        phi[k, :n] = (c[:, :n] @ v).T
    return _extract_poles(lam, phi, counts, orders, float(fs))


def ssi_cov(
    data: np.ndarray,
    fs: float,
    *,
    time_lag: int = 40,
    max_order: int = 80,
    min_order: int = 2,
    order_step: int = 2,
    refs: np.ndarray | None = None,
    multi_order: bool = True,
    stability: tuple[float, float, float] = (0.01, 0.2, 0.02),
    weighting: str | None = "energy",
) -> StabilizationDiagram:
    """SSI-COV poles of all model orders, with their stability.

    Parameters
    ----------
    data : ndarray, shape (n_samples, n_channels)
        Validated, finite data (see :func:`bshm.analysis.identify` for checks).
    fs : float
        Sampling rate (Hz).
    time_lag : int, default 40
        Block rows ``p`` of the Hankel matrix; correlations up to lag ``2p-1``.
    max_order, min_order, order_step : int
        Model orders ``min_order, min_order + order_step, ..., max_order``.
    refs : array of int, optional
        Reference channels (SSI-COV/ref); default all.
    multi_order : bool, default True
        Fast multi-order system matrices (see :func:`multi_order_matrices`).
    stability : (float, float, float)
        Tolerances: relative frequency, relative damping, ``1 - MAC``.
    weighting : {"energy", None}
        Block weighting of the correlations (see :func:`output_correlations`),
        with the power averaged over 40 s.

    Returns
    -------
    StabilizationDiagram
    """
    n, nl = data.shape
    corr = output_correlations(
        data, 2 * time_lag - 1, refs, weighting=weighting, span=int(40.0 * fs)
    )
    hank = block_hankel(corr, time_lag)
    orders = _orders(min_order, max_order, order_step)
    obs, _ = observability(hank, int(orders[-1]))
    order, freq, damp, shapes = poles_of_orders(obs, nl, orders, fs, multi_order=multi_order)
    st_f, st, dist = _stability(order, freq, damp, shapes, *map(float, stability))
    log.debug("ssi-cov: %s poles from %s orders", order.size, orders.size)
    return StabilizationDiagram(
        orders=order,
        frequencies=freq,
        damping=damp,
        shapes=np.ascontiguousarray(shapes.T),
        mpc=_mpc_rows(shapes),
        mpd=_mpd_rows(shapes),
        stable_frequency=st_f,
        stable=st,
        match_distance=dist,
        mode=np.full(order.size, -1, dtype=np.int64),
        model_orders=orders,
        fs=float(fs),
    )
