"""A preallocated ring buffer whose last ``capacity`` rows are always contiguous.

Each row is written twice (at ``i`` and ``i + capacity``), so the newest
window is a plain slice of one array: the live view hands it to
``setData`` without copying or allocating, and memory never grows.
"""

from __future__ import annotations

import numpy as np


class RingBuffer:
    """The newest ``capacity`` samples of ``n_channels`` channels plus their times.

    Parameters
    ----------
    capacity : int
        Rows kept (samples per channel), e.g. ``window_s * fs``.
    n_channels : int
        Columns of the data.
    dtype : numpy dtype, optional
        Data type of the samples (float32 default, as the store).
    """

    def __init__(self, capacity: int, n_channels: int, dtype: type = np.float32) -> None:
        if capacity < 1 or n_channels < 1:
            raise ValueError(
                f"ring buffer needs capacity >= 1 and n_channels >= 1, got {capacity}, {n_channels}"
            )
        self.capacity = int(capacity)
        self.n_channels = int(n_channels)
        self._t = np.full(2 * self.capacity, np.nan)
        self._y = np.full((2 * self.capacity, self.n_channels), np.nan, dtype=dtype)
        self._head = 0  # next write position in [0, capacity)
        self.count = 0  # valid rows (<= capacity)
        self.total = 0  # rows ever appended

    def append(self, t: np.ndarray, y: np.ndarray) -> None:
        """Append rows: ``t`` (n,) float seconds, ``y`` (n, n_channels)."""
        t = np.asarray(t, dtype=np.float64).reshape(-1)
        y = np.asarray(y).reshape(len(t), self.n_channels)
        n = len(t)
        if n == 0:
            return
        if n > self.capacity:
            t, y = t[-self.capacity :], y[-self.capacity :]
            self.total += n - self.capacity
            n = self.capacity
        cap = self.capacity
        pos = self._head
        first = min(n, cap - pos)
        for dst in (pos, pos + cap):
            self._t[dst : dst + first] = t[:first]
            self._y[dst : dst + first] = y[:first]
        rest = n - first
        if rest:
            for dst in (0, cap):
                self._t[dst : dst + rest] = t[first:]
                self._y[dst : dst + rest] = y[first:]
        self._head = (pos + n) % cap
        self.count = min(cap, self.count + n)
        self.total += n

    def view(self) -> tuple[np.ndarray, np.ndarray]:
        """The valid rows, oldest first, as views (no copy): ``t`` (m,), ``y`` (m, c)."""
        end = self._head + self.capacity
        start = end - self.count
        return self._t[start:end], self._y[start:end]

    def last_time(self) -> float:
        """Time of the newest row (NaN when empty)."""
        if self.count == 0:
            return float("nan")
        return float(self._t[self._head + self.capacity - 1])

    @property
    def nbytes(self) -> int:
        """Memory held by the buffer (bytes); constant over its life."""
        return int(self._t.nbytes + self._y.nbytes)


def peak_decimate(
    t: np.ndarray, y: np.ndarray, ds: int, phase: int, out_t: np.ndarray, out_y: np.ndarray
) -> int:
    """Min/max of each block of ``ds`` rows, interleaved, into preallocated outputs.

    Parameters
    ----------
    t : ndarray, shape (n,)
        Times of the rows.
    y : ndarray, shape (n, c)
        Values; a NaN row (a break) makes its block NaN, so the break stays visible.
    ds : int
        Rows per block (1 copies the input).
    phase : int
        Rows skipped at the start so blocks stay aligned to absolute sample
        numbers from frame to frame (peaks do not flicker while scrolling).
    out_t : ndarray, shape (>= 2 * n // ds + 2,)
        Receives each block's first time, twice.
    out_y : ndarray, shape (>= 2 * n // ds + 2, c)
        Receives min, max of each block.

    Returns
    -------
    int
        Rows written to the outputs.
    """
    if ds <= 1:
        n = len(t)
        out_t[:n] = t
        out_y[:n] = y
        return n
    y = y[phase:]
    t = t[phase:]
    nb = len(t) // ds
    if nb == 0:
        return 0
    blocks = y[: nb * ds].reshape(nb, ds, y.shape[1])
    np.min(blocks, axis=1, out=out_y[0 : 2 * nb : 2])
    np.max(blocks, axis=1, out=out_y[1 : 2 * nb : 2])
    starts = t[: nb * ds : ds]
    out_t[0 : 2 * nb : 2] = starts
    out_t[1 : 2 * nb : 2] = starts
    return 2 * nb
