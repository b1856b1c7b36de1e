"""Rainflow cycle counting (ASTM E1049-85, section 5.4.4), with a Numba kernel.

:func:`rainflow` counts a whole record. :class:`RainflowCounter` counts a
record that arrives in pieces (one analysis window after another) and keeps
the *residue* -- the reversals whose cycles are not closed yet -- as explicit,
saveable state. Feeding a record in any number of pieces and then calling
:meth:`RainflowCounter.finish` yields exactly the same cycles, in the same
order and with the same sample indices, as :func:`rainflow` on the whole
record.

The semantics follow the ``rainflow`` package (version 3.2, Piotr Janiszewski)
exactly, so results agree to the last bit on float64 input:

* reversals are the points where the first difference changes sign; repeated
  values (plateaus) are skipped and a plateau's reversal carries the index of
  its *last* sample;
* the first and the last sample are reversals; a record of fewer than three
  samples has at most one reversal and hence no cycles;
* when the three most recent reversals give ranges ``X`` (newest) and ``Y``
  with ``X >= Y``: if ``Y`` contains the oldest reversal still held, ``Y`` is
  counted as a half cycle and that reversal discarded; otherwise ``Y`` is a
  full cycle and its two reversals are discarded;
* at the end, every range left in the residue is counted as a half cycle.

Reference: ASTM E1049-85 (reapproved 2017), *Standard Practices for Cycle
Counting in Fatigue Analysis*, section 5.4.4. doi:10.1520/E1049-85R17.

This module is callable: ``bshm.analysis.rainflow(series)`` works whether the
name resolves to this module or to the function :func:`rainflow` in it.
"""

from __future__ import annotations

import sys
import threading
import types
from collections.abc import Iterator, Sequence
from dataclasses import dataclass
from typing import Any

import numpy as np
from bshm.analysis._numba import kernel

__all__ = ["Cycles", "RainflowCounter", "rainflow"]


# --------------------------------------------------------------------- kernel
@kernel(fastmath=False)  # exact IEEE: results must match the package bit for bit
def _push_reversal(
    value, index, stk_v, stk_i, nstk, out_rng, out_mean, out_cnt, out_i0, out_i1, nc
):  # pragma: no cover - compiled; checked against tests/reference/rainflow.py
    """Push one reversal and apply the counting rule; returns ``(nc, nstk)``."""
    stk_v[nstk] = value
    stk_i[nstk] = index
    nstk += 1
    while nstk >= 3:
        big_x = abs(stk_v[nstk - 1] - stk_v[nstk - 2])
        big_y = abs(stk_v[nstk - 2] - stk_v[nstk - 3])
        if big_x < big_y:
            break
        if nstk == 3:
            # Y holds the oldest reversal: half cycle, drop that reversal
            a = stk_v[0]
            b = stk_v[1]
            out_rng[nc] = abs(a - b)
            out_mean[nc] = 0.5 * (a + b)
            out_cnt[nc] = 0.5
            out_i0[nc] = stk_i[0]
            out_i1[nc] = stk_i[1]
            nc += 1
            stk_v[0] = stk_v[1]
            stk_i[0] = stk_i[1]
            stk_v[1] = stk_v[2]
            stk_i[1] = stk_i[2]
            nstk = 2
        else:
            # full cycle Y: drop its two reversals, keep the newest
            a = stk_v[nstk - 3]
            b = stk_v[nstk - 2]
            out_rng[nc] = abs(a - b)
            out_mean[nc] = 0.5 * (a + b)
            out_cnt[nc] = 1.0
            out_i0[nc] = stk_i[nstk - 3]
            out_i1[nc] = stk_i[nstk - 2]
            nc += 1
            stk_v[nstk - 3] = stk_v[nstk - 1]
            stk_i[nstk - 3] = stk_i[nstk - 1]
            nstk -= 2
    return nc, nstk


@kernel(fastmath=False)  # exact IEEE: results must match the package bit for bit
def _rainflow_kernel(
    x, pos0, state, stk_v, stk_i, nstk, out_rng, out_mean, out_cnt, out_i0, out_i1
):  # pragma: no cover - compiled; checked against tests/reference/rainflow.py
    """Feed ``x`` (float64) to the reversal detector and the cycle stack.

    ``state`` is float64 ``[first_value, current_value, d_last]``; ``pos0`` the
    global index of ``x[0]``. The stack ``stk_v``/``stk_i`` holds ``nstk``
    reversals and must have room for ``nstk + len(x) + 1``; so must the
    ``out_*`` arrays. Returns ``(n_cycles, nstk)``.

    Two passes per block of samples: a branch-free reversal scan (noisy
    signals make the "is this a reversal" branch unpredictable), then the
    counting rule of :func:`_push_reversal`, written out inline because this
    is the hot path.
    """
    n = x.shape[0]
    nc = 0
    k0 = 0
    if pos0 == 0 and n > 0:
        state[0] = x[0]
        stk_v[0] = x[0]
        stk_i[0] = 0
        nstk = 1
        k0 = 1
    if pos0 + k0 == 1 and k0 < n:
        state[1] = x[k0]
        state[2] = x[k0] - state[0]
        k0 += 1
    cur = state[1]
    d_last = state[2]
    block = 65536
    m = max(1, min(n, block))
    rv = np.empty(m, dtype=np.float64)
    ri = np.empty(m, dtype=np.int64)
    for b0 in range(k0, n, block):
        b1 = min(n, b0 + block)
        nr = 0
        for k in range(b0, b1):
            v = x[k]
            d = v - cur
            # candidate written always, kept only if the slope changes sign;
            # a plateau (d == 0) neither counts nor updates the slope
            rv[nr] = cur
            ri[nr] = pos0 + k - 1
            nr += d_last * d < 0
            if v != cur:
                d_last = d
            cur = v
        for r in range(nr):
            stk_v[nstk] = rv[r]
            stk_i[nstk] = ri[r]
            nstk += 1
            while nstk >= 3:
                big_x = abs(stk_v[nstk - 1] - stk_v[nstk - 2])
                big_y = abs(stk_v[nstk - 2] - stk_v[nstk - 3])
                if big_x < big_y:
                    break
                if nstk == 3:
                    a = stk_v[0]
                    b = stk_v[1]
                    out_rng[nc] = abs(a - b)
                    out_mean[nc] = 0.5 * (a + b)
                    out_cnt[nc] = 0.5
                    out_i0[nc] = stk_i[0]
                    out_i1[nc] = stk_i[1]
                    nc += 1
                    stk_v[0] = stk_v[1]
                    stk_i[0] = stk_i[1]
                    stk_v[1] = stk_v[2]
                    stk_i[1] = stk_i[2]
                    nstk = 2
                else:
                    a = stk_v[nstk - 3]
                    b = stk_v[nstk - 2]
                    out_rng[nc] = abs(a - b)
                    out_mean[nc] = 0.5 * (a + b)
                    out_cnt[nc] = 1.0
                    out_i0[nc] = stk_i[nstk - 3]
                    out_i1[nc] = stk_i[nstk - 2]
                    nc += 1
                    stk_v[nstk - 3] = stk_v[nstk - 1]
                    stk_i[nstk - 3] = stk_i[nstk - 1]
                    nstk -= 2
    state[1] = cur
    state[2] = d_last
    return nc, nstk


@kernel(fastmath=False)  # exact IEEE: results must match the package bit for bit
def _finish_kernel(
    stk_v, stk_i, nstk, value, index, push, out_rng, out_mean, out_cnt, out_i0, out_i1
):  # pragma: no cover - compiled; checked against tests/reference/rainflow.py
    """End of record: push the last sample (if ``push``), then count the
    residue as half cycles. Modifies the stack buffers; returns the number of
    cycles written to ``out_*`` (room for ``nstk + 2`` needed)."""
    nc = 0
    if push:
        nc, nstk = _push_reversal(
            value,
            index,
            stk_v,
            stk_i,
            nstk,
            out_rng,
            out_mean,
            out_cnt,
            out_i0,
            out_i1,
            0,
        )
    for j in range(nstk - 1):
        a = stk_v[j]
        b = stk_v[j + 1]
        out_rng[nc] = abs(a - b)
        out_mean[nc] = 0.5 * (a + b)
        out_cnt[nc] = 0.5
        out_i0[nc] = stk_i[j]
        out_i1[nc] = stk_i[j + 1]
        nc += 1
    return nc


# ---------------------------------------------------------------- result type
@dataclass(frozen=True)
class Cycles:
    """Rainflow cycles, in the order they were counted.

    Attributes
    ----------
    range : ndarray, shape (n,), float64
        Cycle range (peak to valley), in the unit of the series.
    mean : ndarray, shape (n,), float64
        Cycle mean, in the unit of the series.
    count : ndarray, shape (n,), float64
        1.0 for a full cycle, 0.5 for a half cycle.
    i_start, i_end : ndarray, shape (n,), int64
        Sample indices of the two reversals of the cycle (global indices
        when counted with :class:`RainflowCounter`).

    Iterating yields ``(range, mean, count, i_start, i_end)`` tuples like
    ``rainflow.extract_cycles``.
    """

    range: np.ndarray
    mean: np.ndarray
    count: np.ndarray
    i_start: np.ndarray
    i_end: np.ndarray

    def __len__(self) -> int:
        return int(self.range.shape[0])

    def __iter__(self) -> Iterator[tuple[float, float, float, int, int]]:
        yield from zip(
            self.range.tolist(),
            self.mean.tolist(),
            self.count.tolist(),
            self.i_start.tolist(),
            self.i_end.tolist(),
        )

    @property
    def total(self) -> float:
        """Number of cycles (half cycles count 0.5)."""
        return float(self.count.sum())

    @classmethod
    def empty(cls) -> Cycles:
        """No cycles."""
        f = np.zeros(0, dtype=np.float64)
        i = np.zeros(0, dtype=np.int64)
        return cls(f, f.copy(), f.copy(), i, i.copy())

    @classmethod
    def concatenate(cls, parts: list[Cycles]) -> Cycles:
        """Join cycle lists in order."""
        if not parts:
            return cls.empty()
        return cls(
            np.concatenate([p.range for p in parts]),
            np.concatenate([p.mean for p in parts]),
            np.concatenate([p.count for p in parts]),
            np.concatenate([p.i_start for p in parts]),
            np.concatenate([p.i_end for p in parts]),
        )


def _as_series(series: Any, name: str = "series") -> np.ndarray:
    try:
        x = np.asarray(series, dtype=np.float64)
    except (TypeError, ValueError) as exc:
        raise TypeError(f"{name}: cannot convert to a float array ({exc})") from exc
    if x.ndim != 1:
        raise ValueError(f"{name}: expected a 1-D series, got shape {x.shape}")
    if x.size and not np.all(np.isfinite(x)):
        bad = int(np.flatnonzero(~np.isfinite(x))[0])
        raise ValueError(
            f"{name}: non-finite value at index {bad}; drop NaN dropouts first "
            "(e.g. x[np.isfinite(x)])"
        )
    return np.ascontiguousarray(x)


# ------------------------------------------------------------ streaming counter
class RainflowCounter:
    """Rainflow counting of a record delivered in pieces, with residue state.

    Examples
    --------
    >>> rc = RainflowCounter()
    >>> closed = [rc.feed(piece) for piece in pieces]   # doctest: +SKIP
    >>> tail = rc.finish()                              # doctest: +SKIP

    ``Cycles.concatenate(closed + [tail])`` equals ``rainflow(whole_record)``.
    Between pieces, :meth:`residue` gives the open reversals and
    :meth:`residue_cycles` the half cycles they would add if the record ended
    now; :meth:`state` / :meth:`from_state` save and restore the counter
    (plain numbers and arrays, e.g. for HDF5 attributes).
    """

    def __init__(self) -> None:
        self._n = 0  # samples seen
        self._state = np.zeros(3, dtype=np.float64)  # first, current, d_last
        self._stk_v = np.zeros(0, dtype=np.float64)
        self._stk_i = np.zeros(0, dtype=np.int64)
        self._finished = False

    @property
    def n_samples(self) -> int:
        """Samples fed so far."""
        return self._n

    def feed(self, series: Any) -> Cycles:
        """Count the next piece of the record.

        Parameters
        ----------
        series : array_like, shape (n,)
            The next samples (finite values; drop NaN dropouts first).

        Returns
        -------
        Cycles
            Cycles closed by this piece (full cycles and the half cycles that
            the standard counts when the oldest reversal drops out).

        Raises
        ------
        ValueError
            Non-finite samples, wrong shape, or the counter was finished.
        """
        if self._finished:
            raise ValueError("RainflowCounter: feed() after finish(); make a new one")
        x = _as_series(series)
        m = x.shape[0]
        if m == 0:
            return Cycles.empty()
        nstk = self._stk_v.shape[0]
        stk_v, stk_i, *out = _buffers(nstk + m + 2)
        stk_v[:nstk] = self._stk_v
        stk_i[:nstk] = self._stk_i
        nc, nstk = _rainflow_kernel(x, self._n, self._state, stk_v, stk_i, nstk, *out)
        self._n += m
        self._stk_v = stk_v[:nstk].copy()
        self._stk_i = stk_i[:nstk].copy()
        return _cycles(out, nc)

    def residue(self) -> tuple[np.ndarray, np.ndarray]:
        """Open reversals held now: ``(values, sample indices)``.

        The last sample is not included: it becomes a reversal only when the
        next piece shows the slope changing (or at :meth:`finish`).
        """
        return self._stk_v.copy(), self._stk_i.copy()

    def residue_cycles(self) -> Cycles:
        """Cycles that :meth:`finish` would add now (without finishing).

        These are the cycles the last sample closes plus the half cycles of
        the residue. Use them for a provisional "damage so far" estimate.
        """
        nstk = self._stk_v.shape[0]
        cap = nstk + 2
        stk_v = np.empty(cap, dtype=np.float64)
        stk_i = np.empty(cap, dtype=np.int64)
        stk_v[:nstk] = self._stk_v
        stk_i[:nstk] = self._stk_i
        out = _alloc(cap)
        nc = _finish_kernel(stk_v, stk_i, nstk, self._state[1], self._n - 1, self._n >= 3, *out)
        return _cycles(out, nc)

    def finish(self) -> Cycles:
        """End the record: count the last sample and the residue.

        Returns
        -------
        Cycles
            The cycles the last sample closes, then the residue's half
            cycles.

        Raises
        ------
        ValueError
            If called twice.
        """
        if self._finished:
            raise ValueError("RainflowCounter: finish() called twice")
        tail = self.residue_cycles()
        self._finished = True
        return tail

    # -------------------------------------------------------------- state
    def state(self) -> dict[str, Any]:
        """Saveable state: plain ints/floats and 1-D arrays.

        Returns
        -------
        dict
            ``n_samples`` (int), ``first``, ``current``, ``d_last`` (float),
            ``residue_values`` (float64 array), ``residue_indices`` (int64
            array).
        """
        return {
            "n_samples": int(self._n),
            "first": float(self._state[0]),
            "current": float(self._state[1]),
            "d_last": float(self._state[2]),
            "residue_values": self._stk_v.copy(),
            "residue_indices": self._stk_i.copy(),
        }

    @classmethod
    def from_state(cls, state: dict[str, Any]) -> RainflowCounter:
        """Rebuild a counter from :meth:`state` output.

        Raises
        ------
        ValueError
            A key is missing or the arrays are inconsistent.
        """
        try:
            rc = cls()
            rc._n = int(state["n_samples"])
            rc._state[:] = (
                float(state["first"]),
                float(state["current"]),
                float(state["d_last"]),
            )
            rc._stk_v = np.asarray(state["residue_values"], dtype=np.float64).copy()
            rc._stk_i = np.asarray(state["residue_indices"], dtype=np.int64).copy()
        except KeyError as exc:
            raise ValueError(f"rainflow state: missing key {exc}") from exc
        if rc._stk_v.shape != rc._stk_i.shape or rc._stk_v.ndim != 1:
            raise ValueError("rainflow state: residue values/indices do not match")
        if rc._n < 0 or (rc._n > 0 and rc._stk_v.size == 0):
            raise ValueError("rainflow state: inconsistent n_samples and residue")
        return rc


def _alloc(cap: int) -> tuple[np.ndarray, ...]:
    return (
        np.empty(cap, dtype=np.float64),
        np.empty(cap, dtype=np.float64),
        np.empty(cap, dtype=np.float64),
        np.empty(cap, dtype=np.int64),
        np.empty(cap, dtype=np.int64),
    )


def _cycles(out: Sequence[np.ndarray], nc: int) -> Cycles:
    # views, not copies: untouched pages of the buffers cost no memory, and
    # copying is slow where page faults are expensive
    return Cycles(*(a[:nc] for a in out))


# ------------------------------------------------------------------- public
_POOL = threading.local()
_POOL_MAX = 1 << 21  # samples: larger records get fresh buffers, never pooled


def _buffers(cap: int) -> list[np.ndarray]:
    """Work and output buffers of at least ``cap`` elements.

    Returned cycles are views into the output buffers, so a buffer can be
    reused only once no result refers to it any more. The last buffers of
    each thread are kept and reused when free: repeated calls then write
    into memory that is already mapped (fresh multi-megabyte allocations
    cost page faults, which were a third of the run time for 10^6 samples).
    """
    bufs = getattr(_POOL, "bufs", None)
    if bufs is not None and bufs[0].shape[0] >= cap:
        # referrers: the pool's list, the getrefcount argument; a live result
        # adds its views' references
        if all(sys.getrefcount(bufs[k]) <= 2 for k in range(len(bufs))):
            return [b[:cap] for b in bufs]
    new = [
        np.empty(cap, dtype=np.float64),
        np.empty(cap, dtype=np.int64),
        *_alloc(cap),
    ]
    _POOL.bufs = new if cap <= _POOL_MAX else None
    return [b[:cap] for b in new]


def rainflow(series: Any) -> Cycles:
    """Count the cycles of a whole record (ASTM E1049-85, 5.4.4).

    Parameters
    ----------
    series : array_like, shape (n,)
        Load, stress or strain history (any unit; finite values). Computed
        in float64.

    Returns
    -------
    Cycles
        ``range``, ``mean`` (unit of the series), ``count`` (1.0 or 0.5),
        ``i_start``, ``i_end`` (sample indices), in the order counted:
        identical to ``rainflow.extract_cycles`` (package version 3.2).

    Raises
    ------
    ValueError
        If ``series`` is not 1-D or holds NaN/inf.

    Notes
    -----
    ASTM E1049-85 (2017), doi:10.1520/E1049-85R17. Cost O(n).
    """
    x = _as_series(series)
    m = x.shape[0]
    stk_v, stk_i, *out = _buffers(m + 3)
    state = np.zeros(3, dtype=np.float64)
    nc, nstk = _rainflow_kernel(x, 0, state, stk_v, stk_i, 0, *out)
    nc += _finish_kernel(stk_v, stk_i, nstk, state[1], m - 1, m >= 3, *(a[nc:] for a in out))
    return _cycles(out, nc)


class _CallableModule(types.ModuleType):
    """Lets ``bshm.analysis.rainflow(series)`` work when it names the module."""

    def __call__(self, series: Any) -> Cycles:
        return rainflow(series)


sys.modules[__name__].__class__ = _CallableModule
