"""The HDF5 stores of bshm: raw samples (this package) and results.

The raw store writes one SWMR HDF5 file per station and rollover period
(:class:`RawWriter`) and reads any time range of a file or a folder of files
(:func:`open_raw`). The layout is documented in ``docs/hdf5-schema.md``.

Importing this package is cheap: the record types come from
:mod:`bshm.store.schema` (NumPy only); the writer and reader (h5py) load on
first use.
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

from bshm.store.schema import (
    SCHEMA_VERSION,
    ChannelMeta,
    Gap,
    Record,
    SourceInfo,
    SourceSpec,
)

if TYPE_CHECKING:  # pragma: no cover
    from bshm.store.reader import RawReader, open_raw
    from bshm.store.writer import RawWriter

__all__ = [
    "SCHEMA_VERSION",
    "ChannelMeta",
    "Gap",
    "RawReader",
    "RawWriter",
    "Record",
    "SourceInfo",
    "SourceSpec",
    "open_raw",
]

_LAZY = {
    "RawWriter": "bshm.store.writer",
    "RawReader": "bshm.store.reader",
    "open_raw": "bshm.store.reader",
}


def __getattr__(name: str) -> Any:
    mod = _LAZY.get(name)
    if mod is None:
        raise AttributeError(f"module 'bshm.store' has no attribute {name!r}")
    import importlib

    value = getattr(importlib.import_module(mod), name)
    globals()[name] = value
    return value
