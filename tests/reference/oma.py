"""Slow, obviously correct references for the OMA kernels, and synthetic data.

Nothing here is fast; everything here is written for clarity, with
different formulas from the kernels where a textbook offers one.
"""

from __future__ import annotations

import numpy as np
import scipy.signal


def mac_matrix_ref(phi_a: np.ndarray, phi_b: np.ndarray) -> np.ndarray:
    """MAC between columns of ``phi_a`` (l, m) and ``phi_b`` (l, k)."""
    a = np.atleast_2d(np.asarray(phi_a, dtype=complex))
    b = np.atleast_2d(np.asarray(phi_b, dtype=complex))
    out = np.zeros((a.shape[1], b.shape[1]))
    for i in range(a.shape[1]):
        for j in range(b.shape[1]):
            den = np.vdot(a[:, i], a[:, i]).real * np.vdot(b[:, j], b[:, j]).real
            out[i, j] = 0.0 if den == 0 else abs(np.vdot(a[:, i], b[:, j])) ** 2 / den
    return out


def mpc_ref(phi: np.ndarray) -> float:
    """MPC from the singular values of the 2 x l matrix [Re; Im]."""
    m = np.vstack([np.real(phi), np.imag(phi)])
    if not np.isfinite(m).all():
        return float("nan")
    s = np.linalg.svd(m, compute_uv=False)
    s2 = s**2
    if s2.sum() == 0:
        return 0.0
    return float(((s2[0] - s2[1]) / (s2[0] + s2[1])) ** 2)


def mpd_ref(phi: np.ndarray) -> float:
    """MPD (degrees) as Reynders et al. (2012) define it, via the SVD of [Re Im]."""
    phi = np.asarray(phi, dtype=complex)
    if not np.isfinite(phi).all():
        return float("nan")
    _, _, vt = np.linalg.svd(np.column_stack([phi.real, phi.imag]))
    v12, v22 = vt.T[0, 1], vt.T[1, 1]
    w = np.abs(phi)
    if w.sum() == 0:
        return 90.0
    num = 0.0
    for p in phi:
        if abs(p) == 0:
            continue
        c = abs(p.real * v22 - p.imag * v12) / (np.hypot(v12, v22) * abs(p))
        num += abs(p) * np.arccos(min(c, 1.0))
    return float(np.degrees(num / w.sum()))


def correlations_ref(y: np.ndarray, max_lag: int, refs=None) -> np.ndarray:
    """Direct unbiased correlations sum_t y[t+k] y_ref[t]^T / (N - k)."""
    y = np.asarray(y, dtype=float) - np.mean(y, axis=0)
    r = y if refs is None else y[:, refs]
    n = y.shape[0]
    return np.stack([y[k:].T @ r[: n - k] / (n - k) for k in range(max_lag + 1)])


def poles_ref(obs: np.ndarray, n_channels: int, orders, fs: float, expo=None):
    """Poles per order by an explicit least-squares solve and a loop over poles.

    ``expo`` (per channel): component ``c`` multiplied by ``(lambda/|lambda|) ** expo[c]``.
    """
    e = np.zeros(n_channels, dtype=int) if expo is None else np.asarray(expo)
    rows = []
    for n in orders:
        up, down = obs[:-n_channels, :n], obs[n_channels:, :n]
        a = np.linalg.pinv(up) @ down
        w, v = np.linalg.eig(a)
        c = obs[:n_channels, :n]
        for i in range(n):
            if w[i].imag <= 0:
                continue
            lc = np.log(w[i]) * fs
            shape = (c @ v[:, i]) * (lc / abs(lc)) ** e
            shape = shape / shape[np.argmax(np.abs(shape))]
            rows.append((n, abs(lc) / 2 / np.pi, -lc.real / abs(lc), shape))
    return rows


def stability_ref(order, freq, damp, shapes, tol_f, tol_d, tol_mac):
    """Nearest-frequency match in the previous order, with a Python loop.

    A pole without a shape (NaN: not computed, see ``ssi_cov(shapes_for=)``)
    is judged on frequency and damping only, its distance is the frequency's.
    """
    m = len(order)
    st_f = np.zeros(m, bool)
    st = np.zeros(m, bool)
    dist = np.full(m, np.inf)
    levels = sorted(set(order.tolist()))
    for a in range(m):
        li = levels.index(order[a])
        if li == 0:
            continue
        prev = np.flatnonzero(order == levels[li - 1])
        if prev.size == 0:
            continue
        b = prev[np.argmin(np.abs(freq[a] - freq[prev]) / freq[a])]
        df = abs(freq[a] - freq[b]) / freq[a]
        st_f[a] = df <= tol_f
        ok_d = abs(damp[a] - damp[b]) <= tol_d * abs(damp[b])
        if np.isnan(shapes[a]).any():
            dist[a] = df
            st[a] = st_f[a] and ok_d
            continue
        mac = mac_matrix_ref(shapes[a][:, None], shapes[b][:, None])[0, 0]
        dist[a] = df + 1 - mac
        st[a] = bool(st_f[a] and ok_d and mac >= 1 - tol_mac)
    return st_f, st, dist


def cluster_distance_ref(freq: np.ndarray, phi_rows: np.ndarray) -> np.ndarray:
    """Condensed |df|/max(f) + 1 - MAC, in scipy's pdist order."""
    m = len(freq)
    mac = mac_matrix_ref(phi_rows.T, phi_rows.T)
    out = []
    for i in range(m):
        for j in range(i + 1, m):
            out.append(abs(freq[i] - freq[j]) / max(freq[i], freq[j]) + 1 - mac[i, j])
    return np.array(out)


def modal_response(
    rng: np.random.Generator,
    fs: float,
    duration_s: float,
    freqs,
    damping,
    shapes: np.ndarray,
    noise: float = 0.02,
) -> np.ndarray:
    """Outputs of uncoupled white-noise-driven modes, exactly discretised.

    Each modal coordinate is white noise through the two-pole filter whose
    poles are exp(lambda / fs) for lambda = -zeta w +- i w sqrt(1 - zeta^2),
    so the discrete poles are known exactly.  ``shapes`` is (n_channels,
    n_modes), real.  Measurement noise is ``noise`` times each channel's RMS.
    """
    n = int(round(duration_s * fs))
    shapes = np.asarray(shapes, dtype=float)
    y = np.zeros((n, shapes.shape[0]))
    for k, (f, z) in enumerate(zip(freqs, damping)):
        w = 2 * np.pi * f
        lam = -z * w + 1j * w * np.sqrt(1 - z * z)
        mu = np.exp(lam / fs)
        a = [1.0, -2 * mu.real, abs(mu) ** 2]
        q = scipy.signal.lfilter([1.0], a, rng.standard_normal(n + 2000))[2000:]
        q /= q.std()
        y += np.outer(q, shapes[:, k])
    y += noise * y.std(axis=0) * rng.standard_normal(y.shape)
    return y
