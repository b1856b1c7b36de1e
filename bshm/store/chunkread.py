"""Read rows of a finished raw file's sample dataset chunk by chunk, filters undone here.

A raw file's ``sources/<name>/data`` is float32, chunked by rows over all
channels, with byte shuffle + LZF and Fletcher32 (``docs/hdf5-schema.md``).
Reading 10 minutes of 12 channels at 100 Hz (2.9 MB, 44 chunks) through
h5py costs ~5.5-6.5 ms of CPU, nearly all in HDF5's filter pipeline. Here
the stored chunks are read as they are (``read_direct_chunk``) and the
filters are undone by Numba kernels (:mod:`bshm.store._chunk_kernels`)
straight into the returned array: the same bytes, ~35 % less CPU
(``docs/bench/store.md``).

This path never decides anything on its own: whenever a chunk is not
exactly what it expects (another filter or dtype, a chunk not written, a
checksum that does not match, LZF that does not decode to the chunk's
size, any error from h5py), :func:`read_rows_fast` returns None and the
caller reads the rows through h5py as before, which then gives the same
values, gaps and error messages as without this module. Live (SWMR) files
are never read here.
"""

from __future__ import annotations

import logging
import sys
from typing import Any

import h5py
import numpy as np

log = logging.getLogger(__name__)

FILTER_SHUFFLE = 2
FILTER_FLETCHER32 = 3
FILTER_LZF = 32000
#: Reads smaller than this go through h5py (no Numba import for a few rows).
MIN_BYTES = 1 << 20

_kernels: Any = None  # the kernel module, False when Numba is not usable


def _get_kernels() -> Any:
    global _kernels
    if _kernels is None:
        k: Any
        try:
            from bshm.store import _chunk_kernels as k
        except ImportError as exc:  # pragma: no cover - Numba is a dependency
            log.debug("chunk kernels unavailable: %s", exc)
            k = False
        _kernels = k
    return _kernels


def pipeline(ds: h5py.Dataset) -> tuple[int, ...] | None:
    """The dataset's filters (in pipeline order) when this module can read
    it, else None: 2-D little-endian float32, chunks of whole rows, filters
    among shuffle, LZF, Fletcher32 in the order the writer sets them."""
    if sys.byteorder != "little" or ds.dtype != np.dtype("<f4") or len(ds.shape) != 2:
        return None
    chunks = ds.chunks
    if not chunks or chunks[1] != ds.shape[1]:
        return None
    plist = ds.id.get_create_plist()
    codes = tuple(int(plist.get_filter(i)[0]) for i in range(plist.get_nfilters()))
    order = [c for c in (FILTER_SHUFFLE, FILTER_LZF, FILTER_FLETCHER32) if c in codes]
    if list(codes) != order:
        return None
    return codes


def read_rows_fast(ds: h5py.Dataset, a: int, b: int) -> np.ndarray | None:
    """``ds[a:b]`` (rows of a finished file's sample dataset), or None when
    this path cannot give exactly that (the caller then uses h5py)."""
    try:
        return _read(ds, a, b)
    except (OSError, RuntimeError, ValueError, KeyError, TypeError, MemoryError) as exc:
        # (h5py raises MemoryError for a chunk that was never written)
        log.debug("chunk read of %s rows %d..%d left to h5py: %s", ds.name, a, b, exc)
        return None


def _read(ds: h5py.Dataset, a: int, b: int) -> np.ndarray | None:
    n_rows, n_cols = ds.shape
    a, b, _ = slice(a, b).indices(n_rows)
    if b <= a or (b - a) * n_cols * 4 < MIN_BYTES:
        return None
    codes = pipeline(ds)
    k = _get_kernels() if codes is not None else None
    if not k or codes is None:
        return None
    cr = int(ds.chunks[0])
    per_chunk = cr * n_cols  # elements (whole chunks are stored, also at the end)
    nbytes = per_chunk * 4
    bit = {c: 1 << i for i, c in enumerate(codes)}
    out = np.empty((b - a, n_cols), np.float32)
    flat = out.reshape(-1).view(np.uint32)
    tmp = np.empty(nbytes, np.uint8)  # LZF output
    part = np.empty(per_chunk, np.uint32)  # a chunk only partly inside a:b
    dsid = ds.id
    for r0 in range(a - a % cr, b, cr):
        mask, raw = dsid.read_direct_chunk((r0, 0))
        src = np.frombuffer(raw, np.uint8)
        n = src.shape[0]
        if FILTER_FLETCHER32 in bit and not mask & bit[FILTER_FLETCHER32]:
            if n < 4:
                return None
            n -= 4
            stored = int(src[n]) | int(src[n + 1]) << 8 | int(src[n + 2]) << 16 \
                | int(src[n + 3]) << 24
            if int(k.fletcher32(src, n)) != stored:
                return None  # damaged (or stored the old way): h5py decides
        if FILTER_LZF in bit and not mask & bit[FILTER_LZF]:
            if k.lzf_decode(src, n, tmp) != nbytes:
                return None
            plain = tmp
        else:
            if n != nbytes:
                return None
            plain = src[:n]
        lo, hi = max(a, r0), min(b, r0 + cr)
        whole = lo == r0 and hi == r0 + cr
        dst = flat[(lo - a) * n_cols:(hi - a) * n_cols] if whole else part
        if FILTER_SHUFFLE in bit and not mask & bit[FILTER_SHUFFLE]:
            k.unshuffle4(plain, dst)
        else:
            dst[:] = plain.view(np.uint32)
        if not whole:
            flat[(lo - a) * n_cols:(hi - a) * n_cols] = part[(lo - r0) * n_cols:(hi - r0) * n_cols]
    return out
