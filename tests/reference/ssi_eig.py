"""Plain NumPy references for :mod:`bshm.analysis.ssi_eig` and the shape selection.

Nothing here is fast: eigenvectors come from the null space of
``A - lambda I`` (its smallest right singular vector), a different route
from the kernel's inverse iteration on a Hessenberg form.
"""

from __future__ import annotations

import numpy as np


def eigvec_ref(a: np.ndarray, lam: complex) -> np.ndarray:
    """Unit eigenvector of ``a`` for the eigenvalue ``lam`` (SVD null space)."""
    n = a.shape[0]
    _, _, vh = np.linalg.svd(np.asarray(a, complex) - lam * np.eye(n))
    return vh[-1].conj()


def shape_mask_ref(lam, fs, freq_min, freq_max, max_damping, tol_f, tol_d) -> np.ndarray:
    """The poles the picking can use, one at a time with cmath-like scalars."""
    out = np.zeros(len(lam), bool)
    for i, mu in enumerate(lam):
        if not (mu.imag > 0 and np.isfinite(mu) and abs(mu) > 0):
            continue
        s = np.log(complex(mu)) * fs
        f = abs(s) / (2 * np.pi)
        z = -s.real / abs(s)
        zmax = max_damping / (1 - 2 * tol_d) if 2 * tol_d < 1 else np.inf
        out[i] = freq_min * (1 - 2 * tol_f) <= f <= freq_max * (1 + 2 * tol_f) and 0 < z < zmax
    return out
