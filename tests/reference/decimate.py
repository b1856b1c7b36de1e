"""Plain NumPy reference of the detrend before the decimation of a window.

``bshm.analysis.decimate_kernels.detrend_decimate`` removes each column's
least-squares line in its compiled pass; this is that line in NumPy.
"""

from __future__ import annotations

import numpy as np


def detrend_linear_ref(x: np.ndarray) -> np.ndarray:
    """Remove each column's least-squares line (closed form, one matrix-vector product).

    The same line as ``scipy.signal.detrend(x, axis=0, type="linear")``
    (which solves a least-squares problem per call) up to rounding.
    """
    n = x.shape[0]
    t = np.arange(n, dtype=np.float64) - 0.5 * (n - 1)
    y = x - x.mean(axis=0)
    tt = float(t @ t)
    if tt > 0:
        y -= t[:, None] * ((t @ y) / tt)[None, :]
    return y
