"""The HDF5 results store: one file per station, written by the analysis job.

Layout (schema version :data:`RESULTS_SCHEMA_VERSION`, documented in
``docs/hdf5-schema-results.md``)::

    /                     attrs: bshm_kind="results", schema_version, station, segments
    /windows/             one row per analysis window ever seen (processed or skipped)
    /environment/         per-window environmental means, rows aligned with /windows
    /modes/               every identified mode of every processed window (flat rows)
    /tracks/              tracked modes: one row per judged window (append-only)
    /features/            compensated features per judged window (append-only)
    /indices/             damage indices, limits, conditions and state per judged window
    /alarms/              alarm state changes (append-only, de-duplicated by id)
    /fatigue/<gauge>/     rainflow histograms and Miner damage per gauge window
    /channel_health/      per-channel health rows
    /models/              JSON descriptions of the current models
    /state/               JSON documents: the job's incremental state, alarm states,
                          model versions, the feed outbox

Writes are crash-safe: :class:`ResultsWriter` loads the file into memory
(HDF5 core driver, no backing store), modifies it there, writes the image to
a temporary sibling, fsyncs it and atomically renames it over the original,
all under an exclusive ``flock`` on ``<file>.lock``. A process killed
mid-write, or a full or read-only disk, leaves the previous complete file
untouched and no temporary file; HDF5 itself never writes to the disk (after
a failed write it would crash the process at exit). Readers never see a half-written
file. Appending a window (or alarm, or fatigue window) that is already stored
is a no-op.

The copy stays small however long the history: once the file holds more
than a bound, the rows of its append-only tables move into immutable
segment files beside it (:mod:`bshm.store.results_seg`), so the cost of a
transaction does not grow with the history. :class:`ResultsReader` shows
every table whole.
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

from bshm.errors import DamagedFileError, StoreError
from bshm.store.h5io import disk_full_error, is_checksum_error, short
from bshm.store.results_h5 import (  # noqa: F401 - re-exported for the store's modules
    MIN_READ_VERSION,
    RESULTS_KIND,
    RESULTS_SCHEMA_VERSION,
    _append_rows,
    _check_file,
    _json_default,
    _json_dumps,
    _json_loads,
    _open_in_memory,
    _read_columns,
    _replace_group,
    _str_dtype,
    _test_hook,
    _write_atomic,
)

log = logging.getLogger(__name__)


def results_path(data_dir: str | os.PathLike, station: str) -> Path:
    """Default results file of a station: ``<data_dir>/results/<station>_results.h5``."""
    return Path(data_dir) / "results" / f"{station}_results.h5"


# (the HDF5 helpers live in bshm.store.results_h5)


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
    seal_windows, seal_bytes : int, optional
        Bounds of the head file: when it holds this many windows or bytes,
        the rows of its append-only tables move to a sealed segment at the
        end of the transaction (defaults :attr:`SEAL_WINDOWS`,
        :attr:`SEAL_BYTES`).
    """

    #: Windows in the head that trigger sealing (about 6 weeks of hourly windows).
    SEAL_WINDOWS = 1000
    #: Size of the head (bytes) that triggers sealing.
    SEAL_BYTES = 8 * 1024 * 1024

    def __init__(
        self,
        path: str | os.PathLike,
        station: str = "",
        *,
        seal_windows: int | None = None,
        seal_bytes: int | None = None,
    ) -> None:
        self.path = Path(path)
        self.station = station
        self._lock_fd: int | None = None
        self._tmp = self.path.with_name(self.path.name + ".tmp")
        self._tmp2 = self.path.with_name(self.path.name + ".tmp2")
        self.f: Any = None
        self.seal_windows = int(seal_windows or self.SEAL_WINDOWS)
        self.seal_bytes = int(seal_bytes or self.SEAL_BYTES)

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

        from bshm.store import results_seg as seg

        fcntl.flock(self._lock_fd, fcntl.LOCK_EX)  # short, blocking: writers queue up
        try:
            for t in (self._tmp, self._tmp2):
                t.unlink(missing_ok=True)  # left by a killed writer
            self.f = _open_in_memory(self.path, self.station)
            seg.remove_orphans(self.path, seg.manifest(self.f))
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
        from bshm.store import results_seg as seg

        try:
            self.f.flush()
            image = self.f.id.get_file_image()
            if seg.should_seal(
                self.f,
                seal_windows=self.seal_windows,
                seal_bytes=self.seal_bytes,
                size=len(image),
            ):
                _entry, image = seg.seal(self.f, self.path)
            self.f.close()
            self.f = None
            _write_atomic(self.path, self._tmp, image, hook="results-before-rename")
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
                "or run 'bshm analyze --reprocess' to compute it again",
                path=str(self.path),
            )
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
            for t in (self._tmp, self._tmp2):
                t.unlink(missing_ok=True)
            self._release()

    def _release(self) -> None:
        if self._lock_fd is not None:
            import fcntl

            fcntl.flock(self._lock_fd, fcntl.LOCK_UN)
            os.close(self._lock_fd)
            self._lock_fd = None

    def _group(self, name: str, *, rows: bool = False):
        from bshm.store.results_seg import ROWS_ATTR

        g = self.f.require_group(name)
        if rows and not g.attrs.get(ROWS_ATTR, 0):
            g.attrs[ROWS_ATTR] = 1
        return g

    def _manifest(self) -> list[dict[str, Any]]:
        from bshm.store.results_seg import manifest

        return manifest(self.f)

    # generic row tables -----------------------------------------------------------
    def rows(
        self,
        table: str,
        *,
        start_ns: int | None = None,
        end_ns: int | None = None,
        columns: tuple[str, ...] | None = None,
    ) -> dict[str, np.ndarray]:
        """Every row of a table (sealed segments, then this transaction's file).

        With ``start_ns``/``end_ns`` only rows whose time column lies in
        ``[start_ns, end_ns)`` are returned (and only the segments that may
        hold such rows are opened); ``columns`` limits the columns read.
        """
        return _table_rows(self.f, self.path, table, start_ns, end_ns, columns)

    def append_rows(
        self, table: str, columns: Mapping[str, Any], attrs: Mapping[str, Any] | None = None
    ) -> int:
        """Append rows to an append-only table (e.g. ``tracks``, ``indices``).

        All columns must have the same number of rows and, after the first
        append, the same trailing shape. Attributes are set on the group.

        Returns
        -------
        int
            Rows appended.
        """
        if table in self.f and table in {"tracks", "features", "indices"}:
            from bshm.store.results_seg import ROWS_ATTR

            if not self.f[table].attrs.get(ROWS_ATTR, 0):  # written whole by write_group
                del self.f[table]
        g = self._group(table, rows=True)
        for k, v in (attrs or {}).items():
            g.attrs[k] = v
        cols = {k: np.asarray(v) for k, v in columns.items()}
        _append_rows(g, cols)
        return int(next(iter(cols.values())).shape[0]) if cols else 0

    def delete_group(self, name: str) -> None:
        """Remove a group of the head that is not sealed (e.g. provisional results)."""
        if name in self.f:
            del self.f[name]

    # JSON documents -----------------------------------------------------------------
    def write_json(self, name: str, obj: Any) -> None:
        """Store a JSON document under ``/state/<name>`` (replacing it)."""
        g = self.f.require_group("state")
        if name in g:
            del g[name]
        g.create_dataset(name, data=_json_dumps(obj), dtype=_str_dtype())

    def read_json(self, name: str, default: Any = None) -> Any:
        """The JSON document ``/state/<name>`` (``default`` when absent)."""
        return _read_state(self.f, name, default)

    # windows and modes --------------------------------------------------------
    def window_starts(self, start_ns: int | None = None) -> np.ndarray:
        """Start times (ns) of the windows already stored (processed or skipped), all of
        them or those from ``start_ns`` on (only the segments that may hold them are read)."""
        if "windows" not in self.f or "start_ns" not in self.f["windows"]:
            return np.zeros(0, np.int64)
        cols = self.rows("windows", start_ns=start_ns, columns=("start_ns",))
        return np.asarray(cols.get("start_ns", np.zeros(0)), np.int64)

    def n_windows(self) -> int:
        """Number of stored windows (from the manifest and the head: no segment opened)."""
        from bshm.store.results_seg import count_rows

        if "windows" not in self.f or "start_ns" not in self.f["windows"]:
            return 0
        return count_rows(self._manifest(), "windows") + int(self.f["windows/start_ns"].shape[0])

    def append_windows(
        self, results: Sequence[Any], *, channels: Sequence[str], env_names: Sequence[str]
    ) -> int:
        """Append window results (:class:`bshm.analysis.windows.WindowResult`-like).

        Each result needs ``start_ns, end_ns, status, reason, rms, env`` (dict)
        and, when processed, ``frequencies, damping, shapes, mpc, stability``;
        optionally ``excluded`` (channels left out of the identification) and
        ``detail``. Windows already stored are skipped (idempotent).

        Returns
        -------
        int
            Number of windows actually added.
        """
        if not results:
            return 0
        have = set(self.window_starts(start_ns=min(r.start_ns for r in results)).tolist())
        new = []
        for r in sorted(results, key=lambda r: r.start_ns):
            if r.start_ns in have:
                continue
            have.add(r.start_ns)
            new.append(r)
        if not new:
            return 0
        g = self._group("windows", rows=True)
        if "channels" not in g.attrs:
            g.attrs["channels"] = json.dumps(list(channels))
            self._group("environment", rows=True).attrs["names"] = json.dumps(list(env_names))
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
                "excluded": np.array(
                    [",".join(getattr(r, "excluded", ()) or ()) for r in new], object
                ),
                "detail": np.array([str(getattr(r, "detail", "") or "") for r in new], object),
            },
        )
        env = np.array([[r.env.get(n, np.nan) for n in names] for r in new], np.float64)
        _append_rows(
            self._group("environment", rows=True),
            {
                "start_ns": np.array([r.start_ns for r in new], np.int64),
                "values": env.reshape(len(new), len(names)),
            },
        )
        rows = [r for r in new if len(r.frequencies)]
        if rows:
            n_ch = len(channels)
            _append_rows(
                self._group("modes", rows=True),
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

    # derived groups written whole (provisional results, compatibility) --------
    def write_group(
        self, name: str, arrays: Mapping[str, Any], attrs: Mapping[str, Any] | None = None
    ) -> None:
        """Replace a derived group (``tracks``, ``features``, ``indices``,
        ``tracks_provisional``) entirely.

        Raises
        ------
        StoreError
            If rows of that group are already sealed in a segment (an
            append-only table cannot be rewritten).
        """
        if name not in {"tracks", "features", "indices", "tracks_provisional"}:
            raise ValueError(
                f"{name!r} is not a derived group (tracks, features, indices, tracks_provisional)"
            )
        if any(name in e.get("rows", {}) for e in self._manifest()):
            raise StoreError(f"{self.path}: {name} is sealed in a segment and cannot be rewritten")
        _replace_group(self.f, name, arrays, attrs or {})

    def write_model(self, name: str, model: Mapping[str, Any]) -> None:
        """Store a model description (JSON-serialisable dict) under ``/models``."""
        g = self._group("models")
        g.attrs[name] = json.dumps(model, sort_keys=True, default=_json_default)

    # alarms ---------------------------------------------------------------------
    def append_alarms(self, alarms: Iterable[Any]) -> list[Any]:
        """Append alarms (:class:`bshm.alarms.Alarm` or dicts); duplicates are skipped.

        Two alarms are the same when their ids agree (:attr:`bshm.alarms.Alarm.id`:
        station, kind, index, mode, channel, time, level, subject, event).
        The table keeps the order of insertion, which is the order of
        delivery to the alarm feed (the outbox, see :mod:`bshm.alarms`).

        Returns
        -------
        list
            The alarms actually added.
        """
        from bshm.alarms import Alarm

        g = self._group("alarms")
        have = set(_read_columns(g)["id"].tolist()) if "id" in g else set()
        added = []
        for a in alarms:
            obj = a if isinstance(a, Alarm) else Alarm.from_dict(dict(a))
            if obj.station is None and self.station:
                obj = _with_station(obj, self.station)
            if obj.id in have:
                continue
            have.add(obj.id)
            added.append((a, obj))
        if added:
            objs = [o for _, o in added]
            _append_rows(
                g,
                {
                    "id": np.array([o.id for o in objs], object),
                    "time_ns": np.array([o.time_ns for o in objs], np.int64),
                    "level": np.array([o.level for o in objs], np.int8),
                    "kind": np.array([o.kind for o in objs], object),
                    "subject": np.array([o.subject or "" for o in objs], object),
                    "event": np.array([o.event or "" for o in objs], object),
                    "index": np.array([str(o.index) for o in objs], object),
                    "value": np.array([o.value for o in objs], np.float64),
                    "threshold": np.array([o.threshold for o in objs], np.float64),
                    "mode": np.array([str(o.mode or "") for o in objs], object),
                    "channel": np.array([str(o.channel or "") for o in objs], object),
                    "station": np.array([str(o.station or "") for o in objs], object),
                    "message": np.array([str(o.message) for o in objs], object),
                    "fields": np.array(
                        [_json_dumps(o.fields) if o.fields else "" for o in objs], object
                    ),
                },
            )
        return [a for a, _ in added]

    def n_alarms(self) -> int:
        """Rows of the alarm table (the outbox's length)."""
        if "alarms" in self.f and "id" in self.f["alarms"]:
            return int(self.f["alarms/id"].shape[0])
        return 0

    def alarm_rows(self, first: int = 0) -> list[dict[str, Any]]:
        """Alarm objects of the table from row ``first`` on, in insertion order."""
        return _alarm_objects(self.f, first, sort=False)

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
            Window limits (ns). A window already stored for this gauge is
            skipped (rows sealed in a segment count as stored up to the
            latest sealed window).
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
        from bshm.store.results_seg import sealed_range

        self._group("fatigue")
        g = self._group(f"fatigue/{gauge}", rows=True)
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
        sealed = sealed_range(self._manifest(), f"fatigue/{gauge}")
        keep = np.array(
            [s not in have and (sealed is None or s > sealed[1]) for s in starts.tolist()], bool
        )
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

        ``status`` is a short word ("ok", "suspect", "failed"). Rows whose
        (time_ns, channel, check) are already stored are skipped (rows
        sealed in a segment count as stored up to the latest sealed time).

        Returns
        -------
        int
            Rows added.
        """
        from bshm.store.results_seg import sealed_range

        g = self._group("channel_health", rows=True)
        rows = list(rows)
        have = set()
        if "time_ns" in g and rows:
            # only the stored rows at the times of the new ones can repeat them (reading
            # and decoding every string of the head would cost in proportion to it)
            t = g["time_ns"][()]
            idx = np.flatnonzero(np.isin(t, [int(r["time_ns"]) for r in rows]))
            if idx.size:
                ch = g["channel"][idx] if idx.size < t.size else g["channel"][()]
                ck = g["check"][idx] if idx.size < t.size else g["check"][()]
                dec = [x.decode() if isinstance(x, bytes) else str(x) for x in ch]
                dek = [x.decode() if isinstance(x, bytes) else str(x) for x in ck]
                have = set(zip(t[idx].tolist(), dec, dek))
        sealed = sealed_range(self._manifest(), "channel_health")
        new = []
        for r in rows:
            key = (int(r["time_ns"]), str(r["channel"]), str(r["check"]))
            if key in have or (sealed is not None and key[0] <= sealed[1]):
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


def _with_station(a: Any, station: str) -> Any:
    from dataclasses import replace

    return replace(a, station=station)


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


# --------------------------------------------------------------------------- reading
# (in bshm.store.results_read, re-exported here: the public names stay the same)
from bshm.store.results_read import (  # noqa: E402
    ResultsReader,
    _alarm_objects,
    _read_state,
    _table_rows,
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
