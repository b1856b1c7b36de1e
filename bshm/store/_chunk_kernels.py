"""Numba kernels that undo HDF5's Fletcher32, LZF and shuffle filters on one chunk.

Used by :mod:`bshm.store.chunkread` only (imported on the first large read,
so importing the store or ``bshm --help`` never loads Numba). The kernels
are integer code: ``@njit(cache=True)`` without fastmath (the project's
decorator, ``bshm.analysis._numba.kernel``, lives in the analysis package,
which the core must not import; its fastmath flags concern floating point
only). Each is tested against HDF5 itself and against a plain NumPy/Python
reference in ``tests/store/test_store_chunkread.py``.

The formats, as HDF5 and h5py implement them:

- Fletcher32 (``H5_checksum_fletcher32``): 16-bit big-endian words summed
  in blocks of at most 360 words with a 16-bit fold after each block, an
  odd last byte as the high byte of a word, one more fold; the 4-byte sum
  is stored after the chunk's bytes, little-endian.
- LZF (liblzf ``lzf_decompress``, the filter h5py registers as 32000): a
  control byte below 32 starts a literal run of ``ctrl + 1`` bytes;
  otherwise a back reference of length ``(ctrl >> 5) + 2`` (``7`` means one
  more length byte follows) at distance ``((ctrl & 31) << 8) + next + 1``.
- shuffle: byte ``k`` of element ``j`` is stored at ``k * n + j``.
"""

from __future__ import annotations

import numba
import numpy as np

__all__ = ["fletcher32", "lzf_decode", "unshuffle4"]


@numba.njit(cache=True)
def fletcher32(data, length):  # pragma: no cover - compiled
    """HDF5's Fletcher32 of ``data[:length]`` (uint8), as an int.

    Each block of at most 360 words adds ``sum(w)`` to ``sum1`` and
    ``tlen * sum1 + sum((tlen - k) * w_k)`` to ``sum2``: exactly what the
    word-by-word loop adds (no fold happens inside a block), in a form the
    compiler vectorises.
    """
    sum1 = np.int64(0)
    sum2 = np.int64(0)
    nw = length // 2
    i = 0
    while nw > 0:
        tlen = 360 if nw > 360 else nw
        nw -= tlen
        s1 = np.int64(0)
        s2 = np.int64(0)
        for k in range(tlen):
            w = (np.int64(data[i + 2 * k]) << 8) | np.int64(data[i + 2 * k + 1])
            s1 += w
            s2 += (tlen - k) * w
        i += 2 * tlen
        sum2 += tlen * sum1 + s2
        sum1 += s1
        sum1 = (sum1 & 0xFFFF) + (sum1 >> 16)
        sum2 = (sum2 & 0xFFFF) + (sum2 >> 16)
    if length % 2:
        sum1 += np.int64(data[i]) << 8
        sum2 += sum1
        sum1 = (sum1 & 0xFFFF) + (sum1 >> 16)
        sum2 = (sum2 & 0xFFFF) + (sum2 >> 16)
    sum1 = (sum1 & 0xFFFF) + (sum1 >> 16)
    sum2 = (sum2 & 0xFFFF) + (sum2 >> 16)
    return (sum2 << 16) | sum1


@numba.njit(cache=True)
def lzf_decode(src, n, dst):  # pragma: no cover - compiled
    """Decode ``src[:n]`` into ``dst``; the number of bytes written, or -1
    when the input is not valid LZF or does not fit ``dst``."""
    ip = 0
    op = 0
    m = dst.shape[0]
    while ip < n:
        ctrl = np.int64(src[ip])
        ip += 1
        if ctrl < 32:
            ln = ctrl + 1
            if op + ln > m or ip + ln > n:
                return -1
            for k in range(ln):
                dst[op + k] = src[ip + k]
            op += ln
            ip += ln
        else:
            ln = ctrl >> 5
            ref = op - ((ctrl & 0x1F) << 8) - 1
            if ln == 7:
                if ip >= n:
                    return -1
                ln += np.int64(src[ip])
                ip += 1
            if ip >= n:
                return -1
            ref -= np.int64(src[ip])
            ip += 1
            ln += 2
            if op + ln > m or ref < 0:
                return -1
            for k in range(ln):  # byte by byte: the reference may overlap the output
                dst[op + k] = dst[ref + k]
            op += ln
    return op


@numba.njit(cache=True)
def unshuffle4(src, out32):  # pragma: no cover - compiled
    """Undo the shuffle of ``out32.shape[0]`` 4-byte elements (``src``: their
    bytes, byte planes one after the other) into ``out32`` (uint32, native
    little-endian order of the bytes)."""
    n = out32.shape[0]
    for i in range(n):
        out32[i] = (np.uint32(src[i]) | (np.uint32(src[n + i]) << 8)
                    | (np.uint32(src[2 * n + i]) << 16) | (np.uint32(src[3 * n + i]) << 24))
