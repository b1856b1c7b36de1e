"""Mode-shape comparison kernels: MAC, MPC, MPD and clustering distances.

All kernels take mode shapes as rows: ``phi[i]`` is the shape of pole ``i``
(``(n_poles, n_channels)`` complex128, C-contiguous).  The public wrappers
accept the usual ``(n_channels, n_modes)`` layout and transpose.

References
----------
Allemang, R. J. (2003). The modal assurance criterion - twenty years of use
and abuse. Sound and Vibration 37(8), 14-23.
Pappa, R. S., Elliott, K. B., Schenk, A. (1993). Consistent-mode indicator for
the eigensystem realization algorithm. J. Guid. Control Dyn. 16(5), 852-858.
https://doi.org/10.2514/3.21092
Reynders, E., Houbrechts, J., De Roeck, G. (2012). Fully automated
(operational) modal analysis. Mech. Syst. Signal Process. 29, 228-250.
https://doi.org/10.1016/j.ymssp.2012.01.007
"""

from __future__ import annotations

import numpy as np
from bshm.analysis._numba import kernel

__all__ = ["mac", "mac_matrix", "mpc", "mpd"]


@kernel
def _mac_rows(a: np.ndarray, b: np.ndarray) -> np.ndarray:
    """MAC between every row of ``a`` (m, l) and every row of ``b`` (k, l)."""
    m, nl = a.shape
    k = b.shape[0]
    out = np.empty((m, k))
    na = np.empty(m)
    nb = np.empty(k)
    for i in range(m):
        s = 0.0
        for c in range(nl):
            s += a[i, c].real ** 2 + a[i, c].imag ** 2
        na[i] = s
    for j in range(k):
        s = 0.0
        for c in range(nl):
            s += b[j, c].real ** 2 + b[j, c].imag ** 2
        nb[j] = s
    for i in range(m):
        for j in range(k):
            acc = 0.0j
            for c in range(nl):
                acc += a[i, c].conjugate() * b[j, c]
            den = na[i] * nb[j]
            if den == 0.0:
                out[i, j] = 0.0
            else:  # NaN propagates
                out[i, j] = (acc.real**2 + acc.imag**2) / den
    return out


@kernel
def _second_moments(phi: np.ndarray, i: int) -> tuple[float, float, float]:
    """Sums of Re^2, Im^2 and Re*Im over the entries of row ``i``."""
    sxx = 0.0
    syy = 0.0
    sxy = 0.0
    for c in range(phi.shape[1]):
        x = phi[i, c].real
        y = phi[i, c].imag
        sxx += x * x
        syy += y * y
        sxy += x * y
    return sxx, syy, sxy


@kernel
def _mpc_rows(phi: np.ndarray) -> np.ndarray:
    """Modal phase collinearity |phi^T phi|^2 / (phi^H phi)^2 of each row."""
    m = phi.shape[0]
    out = np.empty(m)
    for i in range(m):
        sxx, syy, sxy = _second_moments(phi, i)
        tot = sxx + syy
        if tot == 0.0:
            out[i] = 0.0
        else:  # NaN propagates
            out[i] = ((sxx - syy) ** 2 + 4.0 * sxy * sxy) / (tot * tot)
    return out


@kernel
def _mpd_rows(phi: np.ndarray) -> np.ndarray:
    """Mean phase deviation (degrees) of each row from its best straight line."""
    m, nl = phi.shape
    out = np.empty(m)
    for i in range(m):
        sxx, syy, sxy = _second_moments(phi, i)
        if not np.isfinite(sxx + syy + sxy):
            out[i] = np.nan
            continue
        # principal direction of the points (Re, Im): total least squares
        theta = 0.5 * np.arctan2(2.0 * sxy, sxx - syy)
        ct = np.cos(theta)
        st = np.sin(theta)
        num = 0.0
        den = 0.0
        for c in range(nl):
            x = phi[i, c].real
            y = phi[i, c].imag
            r = np.sqrt(x * x + y * y)
            if r > 0.0:
                s = abs(y * ct - x * st) / r
                if s > 1.0:
                    s = 1.0
                num += r * np.arcsin(s)
                den += r
        out[i] = np.degrees(num / den) if den > 0.0 else 90.0
    return out


@kernel
def _cluster_distance(freq: np.ndarray, phi: np.ndarray) -> np.ndarray:
    """Condensed distances |df|/max(f) + (1 - MAC) between all pairs of poles."""
    m, nl = phi.shape
    norms = np.empty(m)
    for i in range(m):
        s = 0.0
        for c in range(nl):
            s += phi[i, c].real ** 2 + phi[i, c].imag ** 2
        norms[i] = s
    out = np.empty(m * (m - 1) // 2)
    k = 0
    for i in range(m):
        for j in range(i + 1, m):
            acc = 0.0j
            for c in range(nl):
                acc += phi[i, c].conjugate() * phi[j, c]
            den = norms[i] * norms[j]
            mac = 0.0 if den == 0.0 else (acc.real**2 + acc.imag**2) / den
            fmax = max(freq[i], freq[j])
            df = abs(freq[i] - freq[j]) / fmax if fmax > 0.0 else 0.0
            out[k] = df + 1.0 - mac
            k += 1
    return out


def _as_rows(shapes: np.ndarray, name: str) -> np.ndarray:
    arr = np.asarray(shapes)
    if arr.ndim == 1:
        arr = arr[:, None]
    if arr.ndim != 2:
        raise ValueError(f"{name} must be (n_channels, n_modes), got shape {arr.shape}")
    return np.ascontiguousarray(arr.T, dtype=np.complex128)


def mac_matrix(phi_a: np.ndarray, phi_b: np.ndarray) -> np.ndarray:
    """Modal assurance criterion between two sets of mode shapes.

    Parameters
    ----------
    phi_a : array_like, shape (n_channels, m)
        Mode shapes (real or complex), one per column.
    phi_b : array_like, shape (n_channels, k)
        Mode shapes, one per column.

    Returns
    -------
    ndarray, shape (m, k)
        ``MAC[i, j] = |a_i^H b_j|^2 / ((a_i^H a_i)(b_j^H b_j))`` in [0, 1];
        0 where a shape is all zeros, NaN where a shape holds NaN.

    Raises
    ------
    ValueError
        If the shapes are not 2-D or the channel counts differ.
    """
    a = _as_rows(phi_a, "phi_a")
    b = _as_rows(phi_b, "phi_b")
    if a.shape[1] != b.shape[1]:
        raise ValueError(
            f"mode shapes have different channel counts: {a.shape[1]} and {b.shape[1]}"
        )
    return _mac_rows(a, b)


def mac(phi_a: np.ndarray, phi_b: np.ndarray) -> float:
    """MAC of two single mode shapes (1-D arrays of the same length)."""
    return float(mac_matrix(np.ravel(phi_a), np.ravel(phi_b))[0, 0])


def mpc(shapes: np.ndarray) -> np.ndarray:
    """Modal phase collinearity of each mode shape (1 = real mode).

    Parameters
    ----------
    shapes : array_like, shape (n_channels, n_modes)
        Complex mode shapes.

    Returns
    -------
    ndarray, shape (n_modes,)
        MPC in [0, 1].
    """
    return _mpc_rows(_as_rows(shapes, "shapes"))


def mpd(shapes: np.ndarray) -> np.ndarray:
    """Mean phase deviation of each mode shape (degrees, 0 = real mode).

    Parameters
    ----------
    shapes : array_like, shape (n_channels, n_modes)
        Complex mode shapes.

    Returns
    -------
    ndarray, shape (n_modes,)
        Magnitude-weighted mean angle (degrees, 0..90) between the components
        and the best-fitting straight line through the origin.
    """
    return _mpd_rows(_as_rows(shapes, "shapes"))
