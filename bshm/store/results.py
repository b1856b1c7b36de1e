"""The HDF5 results store: one file per station, written by the analysis job.

Layout (schema version :data:`RESULTS_SCHEMA_VERSION`, documented in
``docs/hdf5-schema-results.md``)::

    /                     attrs: bshm_kind="results", schema_version, station
    /windows/             one row per analysis window ever seen (processed or skipped)
    /environment/         per-window environmental means, rows aligned with /windows
    /modes/               every identified mode of every processed window (flat rows)
    /tracks/              tracked modes: one column per tracked mode (derived)
    /features/            compensated features: residual per tracked mode (derived)
    /indices/             damage indices and their thresholds (derived)
    /alarms/              alarms raised (append-only, de-duplicated)
    /fatigue/<gauge>/     rainflow histograms and Miner damage per gauge window
    /channel_health/      per-channel health rows
    /models/              JSON descriptions of the reference set and models

Writes are crash-safe: :class:`ResultsWriter` loads the file into memory
(HDF5 core driver, no backing store), modifies it there, writes the image to
a temporary sibling, fsyncs it and atomically renames it over the original,
all under an exclusive ``flock`` on ``<file>.lock``. A process killed
mid-write, or a full or read-only disk, leaves the previous complete file
untouched and no temporary file; HDF5 itself never writes to the disk (after
a failed write it would crash the process at exit). Readers never see a half-written
file. Appending a window (or alarm, or fatigue window) that is already stored
is a no-op.
"""

from __future__ import annotations

import json
import logging
import os
from collections.abc import Iterable, Iterator, Mapping, Sequence
from contextlib import contextmanager
from pathlib import Path
from typing import Any

import numpy as np

from bshm.errors import DamagedFileError, SchemaVersionError, StoreError
from bshm.store.h5io import disk_full_error, is_checksum_error, short

log = logging.getLogger(__name__)

RESULTS_SCHEMA_VERSION = 1
RESULTS_KIND = "results"

_STR = None  # h5py string dtype, created lazily


def _str_dtype():
    global _STR
    if _STR is None:
        import h5py

        _STR = h5py.string_dtype("utf-8")
    return _STR


def results_path(data_dir: str | os.PathLike, station: str) -> Path:
    """Default results file of a station: ``<data_dir>/results/<station>_results.h5``."""
    return Path(data_dir) / "results" / f"{station}_results.h5"


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
    out = {}
    for name, ds in group.items():
        if not hasattr(ds, "dtype"):
            continue
        arr = ds[()]
        if ds.dtype.kind == "O":
            arr = np.array([v.decode() if isinstance(v, bytes) else v for v in arr], dtype=object)
        out[name] = arr
    return out


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
            g.create_dataset(k, data=arr, compression="gzip" if arr.size > 64 else None,
                             chunks=True, fletcher32=True)
    for k, v in attrs.items():
        g.attrs[k] = v


def _check_file(f, path) -> None:
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


# --------------------------------------------------------------------------- writer


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
        f = h5py.File(f"<{path} in memory>", "w", driver="core", backing_store=False,
                      libver="latest")
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
        _check_file(f, path)
    except BaseException:
        f.close()
        raise
    return f


def _write_atomic(path: Path, tmp: Path, image: bytes) -> None:
    """Write ``image`` to ``tmp``, fsync, rename over ``path``; no ``tmp`` is
    left on failure."""
    try:
        fd = os.open(tmp, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o644)
        try:
            view = memoryview(image)
            while view:
                view = view[os.write(fd, view):]
            os.fsync(fd)
        finally:
            os.close(fd)
        os.replace(tmp, path)
    except BaseException:
        tmp.unlink(missing_ok=True)
        raise


class ResultsWriter:
    """Write access to a results file, crash-safe (copy, modify, atomic rename).

    Use as a context manager; the changes become visible only when the
    ``with`` block ends without an exception.

    Parameters
    ----------
    path : str or os.PathLike
        The results file (created with its folder if missing).
    station : str
        Station name, stored as an attribute of a new file.
    """

    def __init__(self, path: str | os.PathLike, station: str = "") -> None:
        self.path = Path(path)
        self.station = station
        self._lock_fd: int | None = None
        self._tmp = self.path.with_name(self.path.name + ".tmp")
        self.f: Any = None

    # context management -------------------------------------------------------
    def __enter__(self) -> ResultsWriter:
        try:
            self.path.parent.mkdir(parents=True, exist_ok=True)
            self._lock_fd = os.open(
                self.path.with_name(self.path.name + ".lock"), os.O_RDWR | os.O_CREAT, 0o644
            )
        except OSError as exc:
            raise self._os_error(exc, self.path.parent, "write to") from None
        import fcntl  # (Unix only: imported here so that readers work on Windows)

        fcntl.flock(self._lock_fd, fcntl.LOCK_EX)  # short, blocking: writers queue up
        try:
            if self._tmp.exists():
                self._tmp.unlink()  # left by a killed writer
            self.f = _open_in_memory(self.path, self.station)
        except BaseException as exc:
            self._abort()
            if isinstance(exc, Exception) and not isinstance(exc, StoreError):
                converted = self._convert(exc)
                if converted is not None:
                    raise converted from None
            raise
        return self

    def __exit__(self, exc_type, exc, tb) -> None:
        if exc_type is not None:
            self._abort()
            if isinstance(exc, Exception) and not isinstance(exc, StoreError):
                converted = self._convert(exc)
                if converted is not None:
                    raise converted from None
            return
        try:
            self.f.flush()
            image = self.f.id.get_file_image()
            self.f.close()
            self.f = None
            _write_atomic(self.path, self._tmp, image)
        except Exception as err:
            self._abort()
            converted = self._convert(err)
            if converted is not None:
                raise converted from None
            raise
        finally:
            self._release()

    def _convert(self, exc: Exception) -> StoreError | None:
        """One clear error for a full or read-only disk, or a damaged file."""
        full = disk_full_error(exc, self.path, "write")
        if full is not None:
            return full
        if is_checksum_error(exc):
            return DamagedFileError(
                f"{self.path}: damaged results file ({short(exc)}); restore it from a backup, "
                "or run 'bshm analyze --reprocess' to compute it again", path=str(self.path))
        if isinstance(exc, OSError) and exc.errno is not None:
            return self._os_error(exc, self.path, "write")
        return None

    @staticmethod
    def _os_error(exc: OSError, path: Path, what: str) -> StoreError:
        full = disk_full_error(exc, path, what)
        if full is not None:
            return full
        return StoreError(f"cannot {what} {path}: {short(exc)}")

    def _abort(self) -> None:
        """Drop the changes (the in-memory file) and any temporary file."""
        try:
            if self.f is not None:
                self.f.close()  # in memory: closing cannot fail on the disk
        except Exception as exc:  # noqa: BLE001 - nothing to keep anyway
            log.debug("closing the in-memory copy of %s: %s", self.path, short(exc))
        finally:
            self.f = None
            self._tmp.unlink(missing_ok=True)
            self._release()

    def _release(self) -> None:
        if self._lock_fd is not None:
            import fcntl

            fcntl.flock(self._lock_fd, fcntl.LOCK_UN)
            os.close(self._lock_fd)
            self._lock_fd = None

    def _group(self, name: str):
        return self.f.require_group(name)

    # windows and modes --------------------------------------------------------
    def window_starts(self) -> np.ndarray:
        """Start times (ns) of every window already stored (processed or skipped)."""
        if "windows" in self.f and "start_ns" in self.f["windows"]:
            return self.f["windows/start_ns"][()]
        return np.zeros(0, np.int64)

    def append_windows(
        self, results: Sequence[Any], *, channels: Sequence[str], env_names: Sequence[str]
    ) -> int:
        """Append window results (:class:`bshm.analysis.windows.WindowResult`-like).

        Each result needs ``start_ns, end_ns, status, reason, rms, env`` (dict)
        and, when processed, ``frequencies, damping, shapes, mpc, stability``.
        Windows already stored are skipped (idempotent).

        Returns
        -------
        int
            Number of windows actually added.
        """
        have = set(self.window_starts().tolist())
        new = []
        for r in sorted(results, key=lambda r: r.start_ns):
            if r.start_ns in have:
                continue
            have.add(r.start_ns)
            new.append(r)
        if not new:
            return 0
        g = self._group("windows")
        if "channels" not in g.attrs:
            g.attrs["channels"] = json.dumps(list(channels))
            self._group("environment").attrs["names"] = json.dumps(list(env_names))
        else:
            stored = json.loads(g.attrs["channels"])
            if stored != list(channels):
                raise StoreError(
                    f"{self.path}: results were computed for channels {stored}, "
                    f"not {list(channels)}; use --reprocess or a new results file"
                )
        names = json.loads(self.f["environment"].attrs["names"])
        _append_rows(
            g,
            {
                "start_ns": np.array([r.start_ns for r in new], np.int64),
                "end_ns": np.array([r.end_ns for r in new], np.int64),
                "processed": np.array([r.status == "processed" for r in new], np.bool_),
                "reason": np.array([r.reason for r in new], object),
                "rms": np.array([r.rms for r in new], np.float64),
                "n_modes": np.array([len(r.frequencies) for r in new], np.int32),
            },
        )
        env = np.array([[r.env.get(n, np.nan) for n in names] for r in new], np.float64)
        _append_rows(self._group("environment"), {"values": env.reshape(len(new), len(names))})
        rows = [r for r in new if len(r.frequencies)]
        if rows:
            n_ch = len(channels)
            _append_rows(
                self._group("modes"),
                {
                    "window_start_ns": np.concatenate(
                        [np.full(len(r.frequencies), r.start_ns, np.int64) for r in rows]
                    ),
                    "frequency": np.concatenate([r.frequencies for r in rows]).astype(np.float64),
                    "damping": np.concatenate([r.damping for r in rows]).astype(np.float64),
                    "mpc": np.concatenate([r.mpc for r in rows]).astype(np.float64),
                    "stability": np.concatenate([r.stability for r in rows]).astype(np.int32),
                    "shape": np.concatenate(
                        [np.asarray(r.shapes).T.reshape(-1, n_ch) for r in rows]
                    ).astype(np.complex64),
                },
            )
        return len(new)

    # derived groups (rewritten in full by each run; deterministic) -----------
    def write_group(
        self, name: str, arrays: Mapping[str, Any], attrs: Mapping[str, Any] | None = None
    ) -> None:
        """Replace a derived group (``tracks``, ``features``, ``indices``) entirely."""
        if name not in {"tracks", "features", "indices"}:
            raise ValueError(f"{name!r} is not a derived group (tracks, features, indices)")
        _replace_group(self.f, name, arrays, attrs or {})

    def write_model(self, name: str, model: Mapping[str, Any]) -> None:
        """Store a model description (JSON-serialisable dict) under ``/models``."""
        g = self._group("models")
        g.attrs[name] = json.dumps(model, sort_keys=True, default=_json_default)

    # alarms ---------------------------------------------------------------------
    def append_alarms(self, alarms: Iterable[Any]) -> list[Any]:
        """Append alarms (:class:`bshm.alarms.Alarm` or dicts); duplicates are skipped.

        Two alarms are the same when time, index, mode, channel and level agree.

        Returns
        -------
        list
            The alarms actually added (to forward to the alarm feed).
        """
        g = self._group("alarms")
        have = set()
        if "time_ns" in g:
            cols = _read_columns(g)
            have = {
                (int(t), i, m, c, int(lv))
                for t, i, m, c, lv in zip(
                    cols["time_ns"], cols["index"], cols["mode"], cols["channel"], cols["level"]
                )
            }
        added = []
        for a in alarms:
            d = a.to_dict() if hasattr(a, "to_dict") else dict(a)
            key = (
                int(d["time_ns"]),
                str(d["index"]),
                str(d.get("mode") or ""),
                str(d.get("channel") or ""),
                int(d["level"]),
            )
            if key in have:
                continue
            have.add(key)
            added.append((a, d))
        if added:
            _append_rows(
                g,
                {
                    "time_ns": np.array([d["time_ns"] for _, d in added], np.int64),
                    "level": np.array([d["level"] for _, d in added], np.int8),
                    "index": np.array([str(d["index"]) for _, d in added], object),
                    "value": np.array([d["value"] for _, d in added], np.float64),
                    "threshold": np.array([d["threshold"] for _, d in added], np.float64),
                    "mode": np.array([str(d.get("mode") or "") for _, d in added], object),
                    "channel": np.array([str(d.get("channel") or "") for _, d in added], object),
                    "message": np.array([str(d["message"]) for _, d in added], object),
                },
            )
        return [a for a, _ in added]

    # fatigue and channel health (written by the strain/fatigue part) -----------
    def append_fatigue(
        self,
        gauge: str,
        *,
        window_start_ns: Sequence[int],
        window_end_ns: Sequence[int],
        range_edges: np.ndarray,
        counts: np.ndarray,
        miner_damage: Sequence[float],
        unit: str = "MPa",
        attrs: Mapping[str, Any] | None = None,
    ) -> int:
        """Append rainflow histograms and Miner damage of one gauge, per window.

        Parameters
        ----------
        gauge : str
            Strain channel name.
        window_start_ns, window_end_ns : sequence of int, shape (n,)
            Window limits (ns). A window already stored for this gauge is skipped.
        range_edges : ndarray, shape (n_bins + 1,)
            Stress-range bin edges (``unit``); must match earlier appends.
        counts : ndarray, shape (n, n_bins)
            Cycle counts per bin (half cycles count 0.5).
        miner_damage : sequence of float, shape (n,)
            Palmgren-Miner damage increment of each window (dimensionless).
        unit : str
            Unit of the ranges (default MPa).
        attrs : mapping, optional
            Extra attributes for the gauge group (detail category, modulus ...).

        Returns
        -------
        int
            Windows added.
        """
        g = self._group("fatigue").require_group(gauge)
        edges = np.asarray(range_edges, np.float64)
        counts = np.asarray(counts, np.float64)
        starts = np.asarray(window_start_ns, np.int64)
        if counts.ndim != 2 or counts.shape != (starts.size, edges.size - 1):
            raise ValueError(
                f"fatigue {gauge}: counts must have shape "
                f"({starts.size}, {edges.size - 1}), got {counts.shape}"
            )
        if "range_edges" in g.attrs:
            if not np.array_equal(g.attrs["range_edges"], edges):
                raise StoreError(
                    f"{self.path}: fatigue/{gauge}: range bin edges differ from the stored ones"
                )
        else:
            g.attrs["range_edges"] = edges
            g.attrs["unit"] = unit
        for k, v in (attrs or {}).items():
            g.attrs[k] = v
        have = set(g["window_start_ns"][()].tolist()) if "window_start_ns" in g else set()
        keep = np.array([s not in have for s in starts.tolist()], bool)
        # de-duplicate inside the batch as well
        _, first = np.unique(starts, return_index=True)
        mask = np.zeros(starts.size, bool)
        mask[first] = True
        keep &= mask
        if not keep.any():
            return 0
        _append_rows(
            g,
            {
                "window_start_ns": starts[keep],
                "window_end_ns": np.asarray(window_end_ns, np.int64)[keep],
                "counts": counts[keep],
                "miner_damage": np.asarray(miner_damage, np.float64)[keep],
            },
        )
        return int(keep.sum())

    def append_channel_health(self, rows: Iterable[Mapping[str, Any]]) -> int:
        """Append channel-health rows.

        Each row is a dict with ``time_ns, channel, check, value, status, message``.

        ``status`` is a short word ("ok", "warning", "fault"). Rows whose
        (time_ns, channel, check) are already stored are skipped.

        Returns
        -------
        int
            Rows added.
        """
        g = self._group("channel_health")
        have = set()
        if "time_ns" in g:
            c = _read_columns(g)
            have = set(zip(c["time_ns"].tolist(), c["channel"].tolist(), c["check"].tolist()))
        new = []
        for r in rows:
            key = (int(r["time_ns"]), str(r["channel"]), str(r["check"]))
            if key in have:
                continue
            have.add(key)
            new.append(r)
        if new:
            _append_rows(
                g,
                {
                    "time_ns": np.array([r["time_ns"] for r in new], np.int64),
                    "channel": np.array([str(r["channel"]) for r in new], object),
                    "check": np.array([str(r["check"]) for r in new], object),
                    "value": np.array([float(r.get("value", np.nan)) for r in new], np.float64),
                    "status": np.array([str(r.get("status", "")) for r in new], object),
                    "message": np.array([str(r.get("message", "")) for r in new], object),
                },
            )
        return len(new)


def _json_default(o):
    if isinstance(o, np.ndarray):
        return o.tolist()
    if isinstance(o, (np.integer,)):
        return int(o)
    if isinstance(o, (np.floating,)):
        return float(o)
    if isinstance(o, Path):
        return str(o)
    raise TypeError(f"cannot store {type(o).__name__} in a model description")


@contextmanager
def _writer(path, station="") -> Iterator[ResultsWriter]:
    with ResultsWriter(path, station) as w:
        yield w


def append_alarms(
    path: str | os.PathLike, alarms: Iterable[Any], *, station: str = ""
) -> list[Any]:
    """Append alarms to a results file (see :meth:`ResultsWriter.append_alarms`)."""
    with _writer(path, station) as w:
        return w.append_alarms(alarms)


def append_fatigue(path: str | os.PathLike, gauge: str, *, station: str = "", **kw: Any) -> int:
    """Append fatigue windows of one gauge (see :meth:`ResultsWriter.append_fatigue`)."""
    with _writer(path, station) as w:
        return w.append_fatigue(gauge, **kw)


def append_channel_health(
    path: str | os.PathLike, rows: Iterable[Mapping[str, Any]], *, station: str = ""
) -> int:
    """Append channel-health rows (see :meth:`ResultsWriter.append_channel_health`)."""
    with _writer(path, station) as w:
        return w.append_channel_health(rows)


# --------------------------------------------------------------------------- reader

# (in their own module, which uses the helpers above)
from bshm.store.results_reader import (  # noqa: E402
    ResultsReader,
    is_results_file,
    open_results,
    summarize,
)

__all__ = [
    "RESULTS_KIND",
    "RESULTS_SCHEMA_VERSION",
    "ResultsReader",
    "ResultsWriter",
    "append_alarms",
    "append_channel_health",
    "append_fatigue",
    "is_results_file",
    "open_results",
    "results_path",
    "summarize",
]
