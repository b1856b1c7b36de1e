"""Sealed segments of a results file: what keeps a transaction's cost bounded.

A results file (the *head*, ``<station>_results.h5``) is rewritten by each
transaction (copy, modify, atomic rename: see :mod:`bshm.store.results`).
To keep that copy small however long the history, the rows of the
append-only *row tables* (groups with the attribute ``bshm_rows``: windows,
environment, modes, tracks, features, indices, channel health, fatigue per
gauge) move, once the head holds more than a bound, into an immutable
*segment* file beside it::

    results/<station>_results.h5            the head (readers open this one)
    results/<station>_results.seg/000001.h5  sealed rows, never modified again
    results/<station>_results.seg/000002.h5

The head's root attribute ``segments`` (JSON) is the manifest: the segment
files in order, with each table's row count and time range. A segment is
written and renamed into place *before* the head that lists it, so a
process killed in between leaves an unlisted (orphan) segment, which the
next writer deletes; readers only ever read listed segments. Readers see
every row table as the concatenation of its rows in the listed segments
then in the head.
"""

from __future__ import annotations

import json
import logging
import os
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import numpy as np

log = logging.getLogger(__name__)

ROWS_ATTR = "bshm_rows"
MANIFEST_ATTR = "segments"
SEGMENT_KIND = "results-segment"
TIME_COLUMNS = ("start_ns", "window_start_ns", "time_ns")


def segment_dir(path: str | os.PathLike) -> Path:
    """Folder of the sealed segments of a results file (``x_results.h5`` -> ``x_results.seg``)."""
    p = Path(path)
    stem = p.name[:-3] if p.name.endswith(".h5") else p.name
    return p.with_name(stem + ".seg")


def manifest(f) -> list[dict[str, Any]]:
    """The segments listed by an open head file (oldest first)."""
    raw = f.attrs.get(MANIFEST_ATTR)
    if raw is None:
        return []
    if isinstance(raw, bytes):
        raw = raw.decode()
    return list(json.loads(raw))


def is_row_group(g) -> bool:
    """True for an append-only row table (its rows may be sealed)."""
    return bool(g.attrs.get(ROWS_ATTR, 0))


def row_groups(f, prefix: str = "") -> Iterator[str]:
    """Paths of every row table of an open file (nested ones included)."""
    import h5py

    for name, obj in f.items():
        if not isinstance(obj, h5py.Group):
            continue
        path = f"{prefix}{name}"
        if is_row_group(obj):
            yield path
        else:
            yield from row_groups(obj, path + "/")


def n_rows(g) -> int:
    """Rows of a row table (0 if it has no dataset yet)."""
    for ds in g.values():
        if hasattr(ds, "shape") and ds.shape:
            return int(ds.shape[0])
    return 0


def time_column(g) -> str | None:
    """Name of the time column of a row table, if any."""
    return next((c for c in TIME_COLUMNS if c in g), None)


def sealed_range(entries: list[dict[str, Any]], table: str) -> tuple[int, int] | None:
    """(min, max) of the time column of ``table`` over the listed segments."""
    ranges = [e["t"][table] for e in entries if table in e.get("t", {})]
    if not ranges:
        return None
    return (min(int(r[0]) for r in ranges), max(int(r[1]) for r in ranges))


def count_rows(entries: list[dict[str, Any]], table: str) -> int:
    """Rows of ``table`` in the listed segments (from the manifest: no file opened)."""
    return sum(int(e.get("rows", {}).get(table, 0)) for e in entries)


def read_segment_columns(
    head_path: Path,
    entries: list[dict[str, Any]],
    table: str,
    *,
    start_ns: int | None = None,
    end_ns: int | None = None,
    columns: tuple[str, ...] | None = None,
) -> list[dict[str, np.ndarray]]:
    """Columns of ``table`` in each listed segment overlapping [start_ns, end_ns].

    Segments whose recorded time range lies outside the interval are not
    opened; ``columns`` limits the datasets read.
    """
    import h5py

    from bshm.errors import StoreError

    out = []
    folder = segment_dir(head_path)
    for e in entries:
        if table not in e.get("rows", {}):
            continue
        r = e.get("t", {}).get(table)
        if r is not None and (
            (start_ns is not None and r[1] < start_ns) or (end_ns is not None and r[0] >= end_ns)
        ):
            continue
        p = folder / e["file"]
        try:
            with h5py.File(p, "r") as f:
                if table not in f:
                    continue
                out.append(_columns(f[table], columns))
        except OSError as exc:
            raise StoreError(
                f"{p}: cannot read this sealed segment of {head_path.name} ({exc}); "
                "restore it from a copy or rerun bshm analyze --reprocess"
            ) from None
    return out


def _columns(group, columns: tuple[str, ...] | None = None) -> dict[str, np.ndarray]:
    out = {}
    for name, ds in group.items():
        if not hasattr(ds, "dtype") or (columns is not None and name not in columns):
            continue
        arr = ds[()]
        if ds.dtype.kind == "O":
            arr = np.array([v.decode() if isinstance(v, bytes) else v for v in arr], dtype=object)
        out[name] = arr
    return out


def concat(parts: list[dict[str, np.ndarray]]) -> dict[str, np.ndarray]:
    """Concatenate column dicts (row order kept; a column missing in a part is skipped)."""
    parts = [p for p in parts if p]
    if not parts:
        return {}
    if len(parts) == 1:
        return parts[0]
    keys = [k for k in parts[-1] if all(k in p for p in parts)]
    return {k: np.concatenate([p[k] for p in parts], axis=0) for k in keys}


def should_seal(f, *, seal_windows: int, seal_bytes: int, size: int) -> bool:
    """True when the head holds enough rows to move them into a segment.

    That is: ``seal_windows`` rows in a per-window table (windows, tracks,
    indices ...), or a head of ``seal_bytes`` with rows in it.
    """
    for t in ("windows", "tracks", "features", "indices"):
        if t in f and is_row_group(f[t]) and n_rows(f[t]) >= seal_windows:
            return True
    if size >= seal_bytes:
        return any(n_rows(f[t]) for t in row_groups(f))
    return False


def _fsync_dir(folder: Path) -> None:
    try:
        fd = os.open(folder, os.O_RDONLY)
    except OSError:  # pragma: no cover - platforms without directory fds
        return
    try:
        os.fsync(fd)
    finally:
        os.close(fd)


def remove_orphans(head_path: Path, entries: list[dict[str, Any]]) -> None:
    """Delete segment files the manifest does not list (left by a killed writer)."""
    folder = segment_dir(head_path)
    if not folder.is_dir():
        return
    keep = {e["file"] for e in entries}
    for p in folder.iterdir():
        if p.name not in keep:
            log.info(
                "removing %s: not listed by %s (left by an interrupted run)", p, head_path.name
            )
            p.unlink(missing_ok=True)


def seal(src, head_path: Path) -> tuple[dict[str, Any], bytes]:
    """Move every row of the row tables of ``src`` (an open h5py file) into a new segment.

    Writes the segment (built in memory, then written, fsync'd and renamed
    into place), then builds in memory the new head: a copy of ``src`` whose
    row tables are empty, with the manifest extended. The caller writes that
    image over the head (the commit point). HDF5 never writes to the disk
    here (see :func:`bshm.store.results._open_in_memory`).

    Returns
    -------
    (dict, bytes)
        The manifest entry of the new segment and the image of the new head.
    """

    from bshm.store.results_h5 import _write_atomic

    entries = manifest(src)
    tables = [t for t in row_groups(src) if n_rows(src[t])]
    seq = 1 + max((int(e["file"].split(".")[0]) for e in entries), default=0)
    folder = segment_dir(head_path)
    folder.mkdir(parents=True, exist_ok=True)
    name = f"{seq:06d}.h5"
    entry: dict[str, Any] = {"file": name, "rows": {}, "t": {}}
    with _in_memory(folder / name) as seg:
        seg.attrs["bshm_kind"] = SEGMENT_KIND
        seg.attrs["schema_version"] = src.attrs["schema_version"]
        seg.attrs["station"] = src.attrs.get("station", "")
        seg.attrs["sequence"] = seq
        for t in tables:
            g = src[t]
            dst = seg.require_group(t)
            for k, ds in g.items():
                if hasattr(ds, "dtype"):
                    g.copy(ds, dst, name=k)
            entry["rows"][t] = n_rows(g)
            tc = time_column(g)
            if tc is not None and g[tc].shape[0]:
                col = g[tc][()]
                entry["t"][t] = [int(col.min()), int(col.max())]
        seg.flush()
        _write_atomic(folder / name, folder / (name + ".tmp"), seg.id.get_file_image())
    _fsync_dir(folder)
    entries.append(entry)
    with _in_memory(head_path) as dst:
        for k, v in src.attrs.items():
            dst.attrs[k] = v
        _copy_without_rows(src, dst)
        dst.attrs[MANIFEST_ATTR] = json.dumps(entries)
        dst.flush()
        image = dst.id.get_file_image()
    return entry, image


def _in_memory(path: Path):
    """A new, empty HDF5 file in memory (nothing is written to ``path``)."""
    import h5py

    return h5py.File(
        f"<{path} being built>", "w", driver="core", backing_store=False, libver="latest"
    )


def _copy_without_rows(src, dst) -> None:
    import h5py

    for name, obj in src.items():
        if isinstance(obj, h5py.Group):
            if is_row_group(obj):
                g = dst.create_group(name)
                for k, v in obj.attrs.items():
                    g.attrs[k] = v
                for k, ds in obj.items():
                    if not hasattr(ds, "dtype"):
                        continue
                    g.create_dataset(
                        k,
                        shape=(0,) + ds.shape[1:],
                        maxshape=(None,) + ds.shape[1:],
                        dtype=ds.dtype,
                        chunks=ds.chunks or True,
                        compression=ds.compression,
                        compression_opts=ds.compression_opts,
                        shuffle=ds.shuffle,
                        fletcher32=ds.fletcher32,
                    )
            else:
                g = dst.create_group(name)
                for k, v in obj.attrs.items():
                    g.attrs[k] = v
                _copy_without_rows(obj, g)
        else:
            src.copy(obj, dst, name=name)
