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
