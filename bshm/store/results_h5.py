"""HDF5 helpers of the results store (:mod:`bshm.store.results`): row tables,
file checks, the in-memory transaction file and its atomic write.

Split from :mod:`bshm.store.results`, which imports these names back.
"""

from __future__ import annotations

import json
import os
from collections.abc import Mapping
from pathlib import Path
from typing import Any

import numpy as np

from bshm.errors import SchemaVersionError, StoreError

RESULTS_SCHEMA_VERSION = 2
#: Oldest schema the reader understands (the writer only writes the current one).
MIN_READ_VERSION = 1
RESULTS_KIND = "results"

_STR = None  # h5py string dtype, created lazily


def _str_dtype():
    global _STR
    if _STR is None:
        import h5py

        _STR = h5py.string_dtype("utf-8")
    return _STR


# --------------------------------------------------------------------------- helpers


def _append_rows(group, columns: Mapping[str, np.ndarray]) -> None:
    """Append rows to the parallel resizable datasets of ``group``."""
    n_new = None
    for name, values in columns.items():
        arr = np.asarray(values)
        if n_new is None:
            n_new = arr.shape[0]
        elif arr.shape[0] != n_new:
            raise StoreError(f"{group.name}/{name}: {arr.shape[0]} rows, expected {n_new}")
    if not n_new:
        return
    have = {k for k, v in group.items() if hasattr(v, "dtype")}
    if have and have != set(columns) and group.attrs.get("bshm_rows", 0):
        raise StoreError(
            f"{group.name}: rows with columns {sorted(columns)} do not fit the stored "
            f"{sorted(have)} (written by another bshm version? rerun with --reprocess)"
        )
    for name, values in columns.items():
        arr = np.asarray(values)
        if arr.dtype.kind in "UO":
            arr = arr.astype(object)
            dtype = _str_dtype()
        else:
            dtype = arr.dtype
        if name not in group:
            numeric = arr.dtype.kind not in "O"
            group.create_dataset(
                name,
                data=arr,
                dtype=dtype,
                maxshape=(None,) + arr.shape[1:],
                chunks=True,
                compression="gzip" if numeric else None,
                fletcher32=numeric,  # HDF5 cannot filter variable-length strings
            )
            continue
        ds = group[name]
        if ds.shape[1:] != arr.shape[1:]:
            raise StoreError(
                f"{ds.name}: rows of shape {arr.shape[1:]} do not fit the stored "
                f"{ds.shape[1:]} (channel list changed? use a new results file)"
            )
        n0 = ds.shape[0]
        ds.resize(n0 + n_new, axis=0)
        ds[n0:] = arr


def _read_columns(group) -> dict[str, np.ndarray]:
    """Every dataset of ``group`` as an array (strings decoded)."""
    from bshm.store.results_seg import _columns

    return _columns(group)


def _replace_group(f, name: str, arrays: Mapping[str, Any], attrs: Mapping[str, Any]) -> None:
    if name in f:
        del f[name]
    g = f.create_group(name)
    for k, v in arrays.items():
        arr = np.asarray(v)
        if arr.dtype.kind in "UO":
            g.create_dataset(k, data=arr.astype(object), dtype=_str_dtype())
        elif arr.ndim == 0 or arr.size == 0:
            g.create_dataset(k, data=arr)  # (scalars and empty arrays cannot be chunked)
        else:
            g.create_dataset(
                k,
                data=arr,
                compression="gzip" if arr.size > 64 else None,
                chunks=True,
                fletcher32=True,
            )
    for k, v in attrs.items():
        g.attrs[k] = v


def _check_file(f, path, *, writing: bool = False) -> None:
    kind = f.attrs.get("bshm_kind")
    if isinstance(kind, bytes):
        kind = kind.decode()
    if kind != RESULTS_KIND:
        raise StoreError(f"{path}: not a bshm results file (bshm_kind={kind!r})")
    ver = f.attrs.get("schema_version")
    if ver is None or int(ver) > RESULTS_SCHEMA_VERSION:
        raise SchemaVersionError(
            f"{path}: results schema version {ver!r} is not supported "
            f"(this bshm reads up to {RESULTS_SCHEMA_VERSION}); upgrade bshm"
        )
    if writing and int(ver) < RESULTS_SCHEMA_VERSION:
        raise SchemaVersionError(
            f"{path}: results schema version {int(ver)} was written by an older bshm; "
            "run bshm analyze --reprocess to recompute it in the current schema "
            f"({RESULTS_SCHEMA_VERSION})"
        )


def _json_dumps(obj: Any) -> str:
    return json.dumps(obj, sort_keys=True, default=_json_default, allow_nan=True)


def _json_loads(raw: Any) -> Any:
    if isinstance(raw, bytes):
        raw = raw.decode()
    return json.loads(raw)


def _open_in_memory(path: Path, station: str):
    """The results file as an HDF5 file in memory (a new one if ``path`` is missing).

    HDF5 never writes to the disk here: a full or read-only disk can then
    only fail the plain write of the finished image (:func:`_write_atomic`),
    never inside HDF5 (which, after a failed write, crashes the process at
    exit).
    """
    import h5py

    if not path.exists():
        # libver "latest": checksummed object headers and B-trees, so damaged
        # metadata is detected as well as damaged chunks
        f = h5py.File(
            f"<{path} in memory>", "w", driver="core", backing_store=False, libver="latest"
        )
        f.attrs["bshm_kind"] = RESULTS_KIND
        f.attrs["schema_version"] = RESULTS_SCHEMA_VERSION
        f.attrs["station"] = station
        from bshm._version import __version__

        f.attrs["bshm_version"] = __version__
        return f
    fapl = h5py.h5p.create(h5py.h5p.FILE_ACCESS)
    fapl.set_fapl_core(1 << 20, False)
    fapl.set_file_image(path.read_bytes())  # (HDF5 keeps its own copy)
    fid = h5py.h5f.open(os.fsencode(f"<{path} in memory>"), h5py.h5f.ACC_RDWR, fapl=fapl)
    f = h5py.File(fid)
    try:
        _check_file(f, path, writing=True)
    except BaseException:
        f.close()
        raise
    return f


def _write_atomic(path: Path, tmp: Path, image: bytes, hook: str | None = None) -> None:
    """Write ``image`` to ``tmp``, fsync, rename over ``path``; no ``tmp`` is
    left on failure. (``hook``: a fault-injection point, see :func:`_test_hook`.)"""
    try:
        fd = os.open(tmp, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o644)
        try:
            view = memoryview(image)
            while view:
                view = view[os.write(fd, view) :]
            os.fsync(fd)
        finally:
            os.close(fd)
        if hook:
            _test_hook(hook)
        os.replace(tmp, path)
    except BaseException:
        tmp.unlink(missing_ok=True)
        raise


def _test_hook(point: str) -> None:
    """Kill this process with SIGKILL at ``point`` when ``BSHM_TEST_KILL_AT`` names it.

    Only for the fault-injection tests (a real kill at an exact point of a
    real run); without the environment variable it does nothing.
    """
    if os.environ.get("BSHM_TEST_KILL_AT") == point:
        import signal

        os.kill(os.getpid(), signal.SIGKILL)


def _json_default(o):
    if isinstance(o, np.ndarray):
        return o.tolist()
    if isinstance(o, (np.integer,)):
        return int(o)
    if isinstance(o, (np.floating,)):
        return float(o)
    if isinstance(o, (np.bool_,)):
        return bool(o)
    if isinstance(o, Path):
        return str(o)
    raise TypeError(f"cannot store {type(o).__name__} in a model description")
