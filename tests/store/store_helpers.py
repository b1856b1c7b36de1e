"""Helpers shared by the store tests (imported as ``store_helpers``)."""

from __future__ import annotations

import numpy as np

from bshm.store import ChannelMeta, SourceSpec
from bshm.timeutil import parse_time

T0 = parse_time("2026-03-01T10:00:00Z")
HOUR = 3600 * 10**9


def acc_spec(fs: float = 100.0, n: int = 3, name: str = "acc") -> SourceSpec:
    """A regular source with ``n`` acceleration channels."""
    chans = tuple(
        ChannelMeta(f"A{i:02d}", "acceleration", "m/s2", (6.0 * i, 0.0, 0.0), "z",
                    f"scale={i}e-06 offset=0")
        for i in range(1, n + 1)
    )
    return SourceSpec(name, "simulated", fs, chans)


def env_spec(fs: float = 1.0) -> SourceSpec:
    """A timestamped source with two temperatures."""
    chans = (ChannelMeta("T1", "temperature", "degC"), ChannelMeta("T2", "temperature", "degC"))
    return SourceSpec("env", "modbus-tcp", fs, chans, timing="timestamped")


def det_block(first_row: int, n: int, nch: int) -> np.ndarray:
    """Deterministic float32 samples: row r, column c -> r + c / 8 (exact in float32 for r < 2**20)."""
    r = np.arange(first_row, first_row + n, dtype=np.float64)[:, None]
    c = np.arange(nch, dtype=np.float64)[None, :] / 8.0
    return (r + c).astype(np.float32)


def flip_byte(path, offset: int, mask: int = 0x10) -> None:
    """Flip bits of one byte of a file in place (a real bit flip, as on a bad disk)."""
    with open(path, "r+b") as fh:
        fh.seek(offset)
        b = fh.read(1)
        fh.seek(offset)
        fh.write(bytes([b[0] ^ mask]))


def chunk_offset(path, dataset: str, index: int = 0) -> int:
    """Byte offset in the file of chunk ``index`` of ``dataset`` (h5py get_chunk_info)."""
    import h5py

    with h5py.File(path, "r") as f:
        info = f[dataset].id.get_chunk_info(index)
        return int(info.byte_offset)


def header_offset(path, name: str) -> int:
    """Byte offset of the object header of group/dataset ``name`` (checksummed metadata)."""
    import h5py

    swmr = str(path).endswith(".part")  # a live file opens only as a SWMR reader
    with h5py.File(path, "r", swmr=swmr) as f:
        return int(h5py.h5o.get_info(f[name].id).addr)


def strip_checksums(src, dst) -> None:
    """Copy a raw file without any dataset filter: a file as written before checksums."""
    import h5py

    with h5py.File(src, "r") as a, h5py.File(dst, "w", libver="latest") as b:
        b.attrs.update(dict(a.attrs))

        def copy(name, obj):
            if isinstance(obj, h5py.Group):
                g = b.require_group(name)
                g.attrs.update(dict(obj.attrs))
            else:
                kw = {"chunks": obj.chunks, "maxshape": obj.maxshape} if obj.chunks else {}
                d = b.create_dataset(name, data=obj[()], dtype=obj.dtype, **kw)
                d.attrs.update(dict(obj.attrs))

        a.visititems(copy)
