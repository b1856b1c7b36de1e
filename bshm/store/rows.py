"""Rows of a raw file's source over a time span, and their sample times.

The reader's arithmetic between times and rows (:class:`bshm.store.reader.RawReader`):
which rows of one file hold ``[s, e)`` and at which times, for regular
(grid) and for timestamped sources, and the time span of a range of rows.
"""

from __future__ import annotations

import numpy as np

from bshm.store import schema as S
from bshm.store.fileindex import OpenFile, block_table, n_timestamped, row_span, search

__all__ = ["read_span", "rows_regular", "rows_timestamped"]


def read_span(of: OpenFile, finfo: S.SourceInfo, r0: int, r1: int, a: int,
              t: np.ndarray) -> tuple[int, int]:
    """Time span ``[first, last + period)`` of data rows ``[r0, r1)``."""
    span = row_span(of, finfo, r0, r1)
    if span is not None:
        return span
    lo = min(max(r0 - a, 0), t.shape[0] - 1)
    hi = min(max(r1 - 1 - a, 0), t.shape[0] - 1)
    return int(t[lo]), int(t[hi]) + S.period_ns(finfo.fs)  # the rows read, at least


def rows_regular(of: OpenFile, name: str, fs: float, s: int,
                 e: int) -> tuple[int, int, np.ndarray]:
    """Rows ``[a, b)`` of a regular source ``name`` holding ``[s, e)``, and their times."""
    fsamp, n, t0, k0, first, last, _ = block_table(of, name, fs)
    b_lo = int(np.searchsorted(last, s, side="left"))
    b_hi = int(np.searchsorted(first, e, side="left"))
    if b_lo >= b_hi:
        return 0, 0, np.zeros(0, np.int64)
    i_lo = S.grid_index(int(t0[b_lo]), int(k0[b_lo]), fs, s) if s > first[b_lo] else 0
    bl = b_hi - 1
    i_hi = S.grid_index(int(t0[bl]), int(k0[bl]), fs, e) if e <= last[bl] else int(n[bl])
    a = int(fsamp[b_lo]) + i_lo
    b = int(fsamp[bl]) + i_hi
    if b_hi - b_lo > 8:
        rows = np.arange(a, b, dtype=np.int64)
        bi = np.searchsorted(fsamp[b_lo:b_hi], rows, side="right") - 1 + b_lo
        t = S.grid_times(t0[bi], k0[bi] + rows - fsamp[bi], fs)
        return a, b, t
    # a few blocks (contiguous blocks are stored merged): the same times block
    # by block, without mapping every row to its block
    t = np.empty(max(b - a, 0), np.int64)
    for j in range(b_lo, b_hi):
        lo = max(a, int(fsamp[j]))
        hi = min(b, int(fsamp[j + 1])) if j + 1 < b_hi else b
        if hi > lo:
            k = np.arange(lo - int(fsamp[j]), hi - int(fsamp[j]), dtype=np.int64)
            k += k0[j]
            t[lo - a:hi - a] = S.grid_times(t0[j], k, fs)
    return a, b, t


def rows_timestamped(of: OpenFile, name: str, s: int,
                     e: int) -> tuple[int, int, np.ndarray]:
    """Rows ``[a, b)`` of a timestamped source ``name`` holding ``[s, e)``, and their times."""
    n = n_timestamped(of, name)
    if n == 0:
        return 0, 0, np.zeros(0, np.int64)
    ds = of.require(name, S.TIME)
    a = 0 if s <= int(ds[0]) else search(ds, s, n)
    b = n if e > int(ds[n - 1]) else search(ds, e, n)
    if b <= a:
        return 0, 0, np.zeros(0, np.int64)
    return a, b, ds[a:b].astype(np.int64)
