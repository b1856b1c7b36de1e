"""Numba kernel of the channel health check (:func:`bshm.analysis.health.check_channel`).

One channel of one window is checked in two compiled passes instead of about
thirty NumPy expressions and a ``scipy.ndimage.median_filter``:

* :func:`_compact`: the finite samples inside the plausible range are copied
  (as float64) with their positions; counts of non-finite and out-of-range
  samples and the out-of-range value of largest magnitude.
* :func:`_checks`: over the kept samples, the extremes, mean and standard
  deviation, the longest run of zero first differences, the isolated spikes,
  the samples pinned at the extremes and the residual of the least-squares
  line (the drift check's robust std is then two exact medians,
  :func:`bshm.analysis.quality_kernels.median`).

The spike check compares each jump with ``spike_k`` times the running
median of ``|diff|`` (``median_filter(|diff|, size, mode="nearest")``). The
running median is not computed everywhere: a jump can only be a spike when
at least ``rank + 1`` values of the median's window are below ``2 jump /
spike_k`` (with a margin far above the rounding error); only then are the
two medians selected exactly and the jump compared with the formula of the
NumPy reference. In noise the test rejects nearly every sample after one
count over the window.

Strict IEEE semantics (``fastmath=False``): statuses and reasons are those of
``tests/reference/health.py``; values agree up to the order of the sums
(mean, std, the drift line).
"""

from __future__ import annotations

import numpy as np
from bshm.analysis._numba import kernel

__all__ = ["channel_pass"]

#: Positions of the float outputs of :func:`_checks`.
F_VMIN, F_VMAX, F_MEAN, F_STD, F_AMAX, F_TREND = range(6)
#: Positions of the integer outputs of :func:`_checks`.
I_SAME, I_LONGEST, I_SPIKES, I_AT_MAX, I_AT_MIN, I_PAIR_MAX, I_PAIR_MIN = range(7)


@kernel(fastmath=False)
def _compact(x, lo, hi, has_range, v, pos):  # pragma: no cover - compiled
    """Copy the finite samples inside ``[lo, hi]`` to ``v`` (positions to ``pos``).

    Returns ``(n_finite, n_kept, worst)``: ``worst`` is the first finite
    out-of-range sample of largest magnitude (0 when there is none).
    """
    n_fin = 0
    m = 0
    worst = 0.0
    wabs = -1.0
    for i in range(x.size):
        s = np.float64(x[i])
        if not np.isfinite(s):
            continue
        n_fin += 1
        if has_range and (s < lo or s > hi):
            if abs(s) > wabs:
                wabs = abs(s)
                worst = s
            continue
        v[m] = s
        pos[m] = i
        m += 1
    return n_fin, m, worst


@kernel(fastmath=False)
def _window_median(a, j, w, rank, buf):  # pragma: no cover - compiled
    """Element of rank ``rank`` in ``a[j - w // 2 : ...][:w]``, edges repeated."""
    nd = a.size
    j0 = j - w // 2
    for k in range(w):
        q = min(max(j0 + k, 0), nd - 1)
        buf[k] = a[q]
    buf[:w].sort()
    return buf[rank]


@kernel(fastmath=False)
def _block_sum(a, lo, n):  # pragma: no cover - compiled
    """A leaf of NumPy's pairwise sum (``n <= 128``): eight partial sums."""
    if n < 8:
        res = 0.0
        for i in range(lo, lo + n):
            res += a[i]
        return res
    r0, r1, r2, r3 = a[lo], a[lo + 1], a[lo + 2], a[lo + 3]
    r4, r5, r6, r7 = a[lo + 4], a[lo + 5], a[lo + 6], a[lo + 7]
    i = 8
    stop = n - (n % 8)
    while i < stop:
        j = lo + i
        r0 += a[j]
        r1 += a[j + 1]
        r2 += a[j + 2]
        r3 += a[j + 3]
        r4 += a[j + 4]
        r5 += a[j + 5]
        r6 += a[j + 6]
        r7 += a[j + 7]
        i += 8
    res = ((r0 + r1) + (r2 + r3)) + ((r4 + r5) + (r6 + r7))
    while i < n:
        res += a[lo + i]
        i += 1
    return res


@kernel(fastmath=False)
def _pairwise_sum(a, lo, n):  # pragma: no cover - compiled
    """``np.add.reduce(a[lo:lo + n])`` bit for bit: NumPy's pairwise summation.

    NumPy halves the range (the first half a multiple of 8) down to blocks of
    at most 128 values; the same tree here with an explicit stack (a cached
    recursive kernel crashed Numba when loaded from its cache).
    """
    slo = np.empty(64, np.int64)
    sn = np.empty(64, np.int64)
    st = np.zeros(64, np.int64)
    left = np.zeros(64)
    right = np.zeros(64)
    sp = 0
    slo[0], sn[0], st[0] = lo, n, 0
    result = 0.0
    while sp >= 0:
        cl, cn = slo[sp], sn[sp]
        if cn <= 128:
            val = _block_sum(a, cl, cn)
            sp -= 1
        elif st[sp] < 2:
            n2 = cn // 2
            n2 -= n2 % 8
            first = st[sp] == 0
            st[sp] += 1
            sp += 1
            slo[sp] = cl if first else cl + n2
            sn[sp] = n2 if first else cn - n2
            st[sp] = 0
            continue
        else:
            val = left[sp] + right[sp]
            sp -= 1
        if sp < 0:
            result = val
        elif st[sp] == 1:
            left[sp] = val
        else:
            right[sp] = val
    return result


@kernel(fastmath=False)
def _n_spikes(v, ad, w, k, amax, buf):  # pragma: no cover - compiled
    """Spikes of the reference: ``jump > k * max((med[i] + med[i+1]) / 2, floor)``.

    ``med`` is the running median of ``ad = |diff(v)|`` over ``w`` values
    (rank ``w // 2``, edges repeated: ``median_filter(mode="nearest")``).
    """
    m = v.size
    nd = ad.size
    rank = w // 2
    need = w - rank  # values above t that put a window's median above t
    floor = max(2.220446049250313e-16 * amax, 1e-300)
    kf = k * floor
    count = 0
    for i in range(m - 2):
        d0 = v[i + 1] - v[i]
        d1 = v[i + 2] - v[i + 1]
        if not ((d0 > 0 and d1 < 0) or (d0 < 0 and d1 > 0)):
            continue  # not out and back in the same direction: jump 0
        jump = min(abs(d0), abs(d1))
        if not jump > kf:
            continue  # k * step >= k * floor
        # a spike needs both medians (windows at i and i + 1) below 2 jump / k
        # (margin 1e-9, far above the rounding error): at least rank + 1 values
        # of each window <= t, i.e. fewer than w - rank above it. The two
        # windows share all but their end values.
        j0 = i - w // 2
        if not k > 0:
            pass  # no bound without a positive limit: the exact medians below
        elif j0 >= 0 and j0 + w < nd:
            # shared values above t, counted 8 at a time until enough to reject
            # both windows (usual in noise: a few blocks)
            t = (2.0 * jump / k) * (1.0 + 1e-9)
            gt = 0
            q = j0 + 1
            stop = j0 + w
            while q + 8 <= stop and gt < need:
                for u in range(q, q + 8):
                    gt += ad[u] > t
                q += 8
            if gt >= need:
                continue
            while q < stop:
                gt += ad[q] > t
                q += 1
            first = ad[j0] > t
            last = ad[j0 + w] > t
            if gt + first >= need or gt + last >= need:
                continue  # a window with fewer than rank + 1 values <= t
        else:
            t = (2.0 * jump / k) * (1.0 + 1e-9)
            gt = 0
            for q in range(j0 + 1, j0 + w):
                gt += ad[min(max(q, 0), nd - 1)] > t
            first = ad[min(max(j0, 0), nd - 1)] > t
            last = ad[min(max(j0 + w, 0), nd - 1)] > t
            if gt + first >= need or gt + last >= need:
                continue
        s0 = _window_median(ad, i, w, rank, buf)
        s1 = _window_median(ad, i + 1, w, rank, buf)
        step = max(0.5 * (s0 + s1), floor)
        if jump > k * step:
            count += 1
    return count


@kernel(fastmath=False)
def _checks(v, pos, fs, w, k, drift, fo, io, tc):  # pragma: no cover - compiled
    """Statistics of the kept samples ``v`` (see the module docstring).

    Sums as NumPy's (pairwise), so that the mean and the std are those of
    the reference's NumPy expressions; ``fo[F_TREND]`` is the time span.
    """
    m = v.size
    vmin = np.inf
    vmax = -np.inf
    amax = 0.0
    for i in range(m):
        x = v[i]
        if x < vmin:
            vmin = x
        if x > vmax:
            vmax = x
        if abs(x) > amax:
            amax = abs(x)
    mean = _pairwise_sum(v, 0, m) / m
    tmp = np.empty(m)
    for i in range(m):
        dx = v[i] - mean
        tmp[i] = dx * dx
    fo[F_VMIN], fo[F_VMAX], fo[F_MEAN], fo[F_AMAX] = vmin, vmax, mean, amax
    fo[F_STD] = np.sqrt(_pairwise_sum(tmp, 0, m) / m)
    # zero differences, pinned extremes, |diff| for the running median
    ad = np.empty(m - 1)
    same = 0
    run = 0
    longest = 0
    pmax = 0
    pmin = 0
    for i in range(m - 1):
        d = v[i + 1] - v[i]
        ad[i] = abs(d)
        if d == 0:
            same += 1
            run += 1
            if run > longest:
                longest = run
            if v[i] == vmax:
                pmax = 1
            if v[i] == vmin:
                pmin = 1
        else:
            run = 0
    at_max = 0
    at_min = 0
    for i in range(m):
        at_max += v[i] == vmax
        at_min += v[i] == vmin
    io[I_SAME], io[I_LONGEST] = same, longest
    io[I_AT_MAX], io[I_AT_MIN], io[I_PAIR_MAX], io[I_PAIR_MIN] = at_max, at_min, pmax, pmin
    io[I_SPIKES] = _n_spikes(v, ad, w, k, amax, np.empty(w))
    if drift:  # the centred times of the drift line (the dot products in NumPy)
        for i in range(m):
            tc[i] = pos[i] / fs
        tm = _pairwise_sum(tc, 0, m) / m
        for i in range(m):
            tc[i] = tc[i] - tm
        fo[F_TREND] = pos[m - 1] / fs - pos[0] / fs


@kernel(fastmath=False)
def _residual(v, tc, a, b, r):  # pragma: no cover - compiled
    """``r = v - (a * tc + b)``."""
    for i in range(v.size):
        r[i] = v[i] - (a * tc[i] + b)


def channel_pass(
    x: np.ndarray,
    fs: float,
    valid_range: tuple[float, float] | None,
) -> tuple[int, int, float, np.ndarray, np.ndarray]:
    """The finite, plausible samples of one channel and their positions.

    Parameters
    ----------
    x : ndarray, shape (n,)
        Samples (any float dtype, any stride).
    fs : float
    valid_range : (float, float) or None

    Returns
    -------
    n_finite, n_kept : int
    worst : float
        Out-of-range sample of largest magnitude (0.0 when none).
    v : ndarray, shape (n_kept,), float64
    pos : ndarray, shape (n_kept,), int64
        Positions of ``v`` in ``x``.
    """
    if x.dtype not in (np.float64, np.float32):
        x = np.asarray(x, np.float64)
    v = np.empty(x.size)
    pos = np.empty(x.size, np.int64)
    lo, hi = (float(valid_range[0]), float(valid_range[1])) if valid_range else (0.0, 0.0)
    n_fin, m, worst = _compact(x, lo, hi, valid_range is not None, v, pos)
    return int(n_fin), int(m), float(worst), v[:m], pos[:m]


def kept_stats(
    v: np.ndarray, pos: np.ndarray, fs: float, window: int, k: float, drift: bool
) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """Float and integer statistics of the kept samples, and the drift residual.

    ``v`` has at least 3 samples. Returns ``(fo, io, r)`` indexed by the
    ``F_*`` and ``I_*`` constants; with ``drift``, ``fo[F_TREND]`` is the
    trend of the least-squares line over the window (absolute slope times the
    time span) and ``r`` the residual of the line (empty without ``drift``).
    """
    fo = np.zeros(6)
    io = np.zeros(7, np.int64)
    tc = np.empty(v.size if drift else 0)
    _checks(v, pos, float(fs), int(window), float(k), bool(drift), fo, io, tc)
    if not drift:
        return fo, io, tc
    # the closed-form line of np.polyfit(tc, v, 1) with the reference's BLAS dot
    a = float(tc @ v) / float(tc @ tc)
    fo[F_TREND] = abs(a) * fo[F_TREND]
    r = np.empty(v.size)
    _residual(v, tc, a, float(fo[F_MEAN]), r)
    return fo, io, r
