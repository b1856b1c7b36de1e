"""Append samples of a station's sources to hourly SWMR HDF5 raw files.

The writer keeps one live file (``<station>_<stamp>.h5.part``) for the
current rollover period, plus the previous period's file while a slower
source may still deliver samples of it. Every dataset and attribute is
created first, then the file switches to SWMR mode so readers (viewer,
jobs) can follow it. Samples are buffered in memory and written at each
flush (at least every ``flush_interval_s``): data first, flushed, then the
index (block table or time dataset) that points at it, so a reader or a
crash never sees an index entry without its data. All public methods are
thread-safe (one lock).
"""

from __future__ import annotations

import atexit
import logging
import math
import threading
import time
import weakref
from collections.abc import Sequence
from pathlib import Path
from typing import Any

import numpy as np

from bshm.errors import StoreError
from bshm.store import schema as S
from bshm.store.fileindex import FileSummary, index_closed_files
from bshm.store.h5io import discard, disk_full_error
from bshm.store.livefile import RESERVED_ATTRS, LiveFile
from bshm.timeutil import NS_PER_S, now_ns, to_iso

log = logging.getLogger(__name__)

_COMPRESSIONS = ("lzf", "gzip", None)
_MAX_PENDING_BYTES = 8 * 1024 * 1024
#: Longest wall-clock time (s) a superseded file stays open for sources that
#: lag behind the others (a dead device must not keep it open for an hour).
_LINGER_S = 30.0
#: Longest rollover period (s): one file per year at most.
_MAX_ROLLOVER_S = 366 * 86400.0


class _SourceState:
    """Per-source writer state that survives rollover."""

    def __init__(self, spec: S.SourceSpec) -> None:
        self.spec = spec
        self.nch = len(spec.channels)
        self.last_ns: int | None = None  # time of the last accepted sample
        self.pending_gaps: list[tuple[int, int, bytes]] = []
        self.counters = np.zeros(len(spec.counters), dtype=np.int64)  # current file
        self.counters_dirty = False


class RawWriter:
    """Write a station's samples into rolling SWMR HDF5 raw files.

    Parameters
    ----------
    directory : str or os.PathLike
        Folder of the raw files (created if missing).
    station : str
        Station name; first part of every file name.
    sources : sequence of SourceSpec
        Every source of the station (one group per source in each file).
    rollover_s : float, optional
        Period of a file (s); files start at multiples of it in UTC
        (default one hour).
    compression : {"lzf", "gzip", None}, optional
        Filter of the sample and time datasets (with byte shuffle).
    flush_interval_s : float, optional
        Longest time buffered samples stay unflushed (s), checked in every
        ``write``/``add_gap``/``count`` call.
    attrs : dict, optional
        Extra root attributes (str, numbers or arrays) written in every file.

    Attributes
    ----------
    current_path : pathlib.Path or None
        The live ``*.h5.part`` file, or None before the first sample and
        after close.
    paths : list of pathlib.Path
        Final paths of the files this writer closed.
    n_flushes : int
        Number of completed flushes (explicit or automatic): every sample
        written before the latest one is on disk.

    Raises
    ------
    ValueError
        On an invalid source, compression, rollover or attribute.
    bshm.errors.StoreError
        If the folder cannot be created.
    """

    def __init__(
        self,
        directory: Any,
        station: str,
        sources: Sequence[S.SourceSpec],
        *,
        rollover_s: float = 3600.0,
        compression: str | None = "lzf",
        flush_interval_s: float = 1.0,
        attrs: dict | None = None,
    ) -> None:
        if compression not in _COMPRESSIONS:
            raise ValueError(f"compression {compression!r} is not one of lzf, gzip, None")
        if not (isinstance(rollover_s, (int, float)) and math.isfinite(rollover_s)
                and 1e-9 <= rollover_s <= _MAX_ROLLOVER_S):
            raise ValueError(
                f"rollover_s must be 1 ns .. {_MAX_ROLLOVER_S:g} s, got {rollover_s!r}")
        S.check_name(station, "station name")
        sources = list(sources)
        if not sources:
            raise ValueError("a RawWriter needs at least one source")
        names = [s.name for s in sources]
        for spec in sources:
            S.validate_spec(spec)
        dup = sorted({n for n in names if names.count(n) > 1})
        if dup:
            raise ValueError(f"duplicate source names {dup}")
        self.directory = Path(directory)
        try:
            self.directory.mkdir(parents=True, exist_ok=True)
        except OSError as exc:
            full = disk_full_error(exc, self.directory, "create the data folder")
            if full is not None:
                raise full from None
            raise StoreError(f"cannot create the data folder {self.directory}: "
                             f"{exc.strerror or exc}") from None
        self.station = station
        self.rollover_ns = int(round(rollover_s * NS_PER_S))
        self.rollover_s = float(rollover_s)
        self.compression = compression
        self.flush_interval_s = float(flush_interval_s)
        self.attrs = dict(attrs or {})
        clash = sorted(RESERVED_ATTRS & set(self.attrs))
        if clash:
            raise ValueError(f"attrs may not set reserved root attributes {clash}")
        ok = (str, bytes, int, float, bool, np.generic, np.ndarray, list, tuple)
        bad = sorted(k for k, v in self.attrs.items() if not isinstance(v, ok))
        if bad:
            raise ValueError(f"attrs {bad}: values must be strings, numbers or arrays")
        self._src = {s.name: _SourceState(s) for s in sources}
        self._specs = sources
        self._current: LiveFile | None = None
        self._older: list[LiveFile] = []  # superseded files a lagging source may still fill
        self.paths: list[Path] = []
        # closed files (and their summaries) not yet in the reader cache
        self._to_index: list[tuple[Path, FileSummary | None]] = []
        self._index_t = -math.inf
        self._last_flush = time.monotonic()
        self.n_flushes = 0
        self._lock = threading.RLock()
        self._closed = False
        _OPEN.add(self)  # closed (flushed, renamed) at interpreter exit if still open

    # ------------------------------------------------------------ public API

    def __enter__(self) -> RawWriter:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()

    def write(
        self,
        source: str,
        data: Any,
        *,
        t0_ns: int | None = None,
        times_ns: Any = None,
        device_t0_ns: int | None = None,
    ) -> None:
        """Append a block of samples of one source.

        Parameters
        ----------
        source : str
            Source name.
        data : array_like
            ``(n, n_channels)`` samples (converted to float32); ``(n,)`` is
            accepted for a one-channel source.
        t0_ns : int
            Regular sources: host-aligned time of ``data[0]`` (ns).
        times_ns : array_like of int64 or datetime64, shape (n,)
            Timestamped sources: strictly increasing time of each sample (ns).
        device_t0_ns : int, optional
            Regular sources: the device's own clock at ``data[0]`` (ns).

        Raises
        ------
        ValueError
            Unknown source, wrong shape, or missing/extra time arguments.
        bshm.errors.StoreError
            If the block starts at or before the last stored sample of the
            source, or the file cannot be written.
        """
        with self._lock:
            st = self._state(source)
            arr = self._as_block(st, data)
            n = arr.shape[0]
            if st.spec.timing == "regular":
                if t0_ns is None or times_ns is not None:
                    raise ValueError(f"source {source!r} is regular: pass t0_ns (not times_ns)")
                t0 = _as_ns(source, "t0_ns", t0_ns)
                dev = None if device_t0_ns is None else _as_ns(source, "device_t0_ns", device_t0_ns)
                if n:
                    self._write_regular(st, arr, t0, dev)
            else:
                if times_ns is None or t0_ns is not None or device_t0_ns is not None:
                    raise ValueError(f"source {source!r} is timestamped: pass times_ns (not t0_ns)")
                t = np.asarray(times_ns)
                if np.issubdtype(t.dtype, np.datetime64):
                    t = t.astype("datetime64[ns]").view(np.int64)
                if t.shape != (n,) or not (np.issubdtype(t.dtype, np.integer)):
                    raise ValueError(
                        f"source {source!r}: times_ns must be {n} integers (ns), got "
                        f"shape {t.shape} dtype {t.dtype}"
                    )
                if n:
                    self._write_timestamped(st, arr, t.astype(np.int64))
            self._maybe_flush()

    def add_gap(self, source: str, start_ns: int, end_ns: int, reason: str) -> None:
        """Record that ``source`` has no data in ``[start_ns, end_ns)``.

        Raises
        ------
        ValueError
            Unknown source or ``end_ns < start_ns``.
        """
        with self._lock:
            st = self._state(source)
            start_ns, end_ns = int(start_ns), int(end_ns)
            if end_ns < start_ns:
                raise ValueError(
                    f"gap of {source!r}: end {to_iso(end_ns)} is before start {to_iso(start_ns)}"
                )
            cur = self._current
            if cur is not None and start_ns >= cur.period_end:
                self._supersede()  # the gap belongs to a later period
            st.pending_gaps.append((start_ns, end_ns, S.encode_reason(reason)))
            self._maybe_flush()

    def count(self, source: str, name: str, n: int = 1) -> None:
        """Add ``n`` to the quality counter ``name`` of ``source``.

        Raises
        ------
        ValueError
            Unknown source or counter.
        """
        with self._lock:
            st = self._state(source)
            try:
                i = st.spec.counters.index(name)
            except ValueError:
                raise ValueError(
                    f"source {source!r} has no counter {name!r}; counters: "
                    f"{', '.join(st.spec.counters)}"
                ) from None
            st.counters[i] += int(n)
            st.counters_dirty = True
            self._maybe_flush()

    def flush(self) -> None:
        """Write buffered samples, then their index, gaps and counters, and flush.

        Gaps reported before any sample open a file named after the earliest
        gap; counters alone wait in memory for a file (or for ``close``).
        """
        with self._lock:
            if self._closed:
                return
            self._flush(final=False)

    def _flush(self, final: bool) -> None:
        if self._current is None and self._has_meta(counters=final):
            self._current = self._new_file(self._earliest_pending())
        for lf in self._older:
            lf.flush()
        if self._current is not None:
            self._flush_current()
        self._close_finished()
        self._last_flush = time.monotonic()
        self.n_flushes += 1

    def close(self) -> None:
        """Flush, close the live file and rename it from ``*.h5.part`` to ``*.h5``."""
        with self._lock:
            if self._closed:
                return
            try:
                self._flush(final=True)
            finally:
                files = self._older + ([self._current] if self._current else [])
                self._older, self._current = [], None
                self._closed = True
                _OPEN.discard(self)
                for lf in files:
                    self._closed_file(lf.close())
                self._save_index(force=True)

    def abandon(self) -> list[Path]:
        """Stop without finishing and remove every file this writer created.

        For all-or-nothing batch writers (``bshm import``) after a failure,
        e.g. a full disk: open files are discarded without a final flush
        (truncated first, so HDF5 can let go of them; see
        :func:`bshm.store.h5io.discard`) and closed ones are deleted. Never
        raises; the writer is closed afterwards.

        Returns
        -------
        list of pathlib.Path
            The files removed.
        """
        with self._lock:
            files = self._older + ([self._current] if self._current else [])
            self._older, self._current = [], None
            self._closed = True
            _OPEN.discard(self)
            removed = []
            for lf in files:
                discard(lf.f, lf.path)
                removed.append(lf.path)
            for p in self.paths:
                try:
                    p.unlink()
                    removed.append(p)
                except OSError as exc:
                    log.warning("cannot remove %s: %s", p, exc.strerror or exc)
            self._to_index = []
            return removed

    @property
    def current_path(self) -> Path | None:
        """The live ``*.h5.part`` file of the latest period, or None."""
        return self._current.path if self._current is not None else None

    # ------------------------------------------------------------ internals

    def _state(self, source: str) -> _SourceState:
        if self._closed:
            raise StoreError(f"RawWriter for {self.directory} is closed")
        try:
            return self._src[source]
        except KeyError:
            raise ValueError(
                f"unknown source {source!r}; sources: {', '.join(self._src)}"
            ) from None

    def _as_block(self, st: _SourceState, data: Any) -> np.ndarray:
        try:
            with np.errstate(over="ignore", invalid="ignore"):  # too large -> inf, as stored
                arr = np.asarray(data, dtype=np.float32)
        except (TypeError, ValueError) as exc:
            raise ValueError(f"source {st.spec.name!r}: data is not numeric ({exc})") from None
        if arr.ndim == 1 and st.nch == 1:
            arr = arr.reshape(-1, 1)
        if arr.ndim != 2 or arr.shape[1] != st.nch:
            raise ValueError(
                f"source {st.spec.name!r}: data must be (n, {st.nch}), got shape {arr.shape}"
            )
        return arr

    def _check_order(self, st: _SourceState, first_ns: int) -> None:
        if st.last_ns is not None and first_ns <= st.last_ns:
            raise StoreError(
                f"source {st.spec.name!r}: block starts at {to_iso(first_ns, digits=9)}, "
                f"not after the last stored sample {to_iso(st.last_ns, digits=9)} "
                "(times must increase)"
            )

    def _write_regular(self, st: _SourceState, arr: np.ndarray, t0: int,
                       dev: int | None) -> None:
        fs = st.spec.fs
        devv = S.NO_DEVICE_TIME if dev is None else int(dev)
        k0, n = 0, arr.shape[0]
        self._check_order(st, t0)
        while n:
            lf = self._file_for(int(S.grid_times(t0, k0, fs)))
            last = int(S.grid_times(t0, k0 + n - 1, fs))
            m = n if last < lf.period_end else S.grid_index(t0, k0, fs, lf.period_end)
            lf.src[st.spec.name].append_block(arr[:m], t0, k0, devv)
            st.last_ns = int(S.grid_times(t0, k0 + m - 1, fs))
            arr, n, k0 = arr[m:], n - m, k0 + m
            self._check_size(lf)

    def _write_timestamped(self, st: _SourceState, arr: np.ndarray, t: np.ndarray) -> None:
        if t.shape[0] > 1 and not np.all(np.diff(t) > 0):
            raise StoreError(f"source {st.spec.name!r}: times_ns must be strictly increasing")
        self._check_order(st, int(t[0]))
        while t.shape[0]:
            lf = self._file_for(int(t[0]))
            m = int(np.searchsorted(t, lf.period_end, side="left"))
            lf.src[st.spec.name].append_times(arr[:m], t[:m])
            st.last_ns = int(t[m - 1])
            arr, t = arr[m:], t[m:]
            self._check_size(lf)

    def _check_size(self, lf: LiveFile) -> None:
        if lf.pending_bytes() > _MAX_PENDING_BYTES:
            if lf is self._current:
                self._flush_current()
            else:
                lf.flush()

    def _maybe_flush(self) -> None:
        if time.monotonic() - self._last_flush >= self.flush_interval_s:
            self.flush()

    def _has_meta(self, counters: bool) -> bool:
        return any(st.pending_gaps or (counters and st.counters_dirty)
                   for st in self._src.values())

    def _earliest_pending(self) -> int:
        starts = [g[0] for st in self._src.values() for g in st.pending_gaps]
        return min(starts) if starts else now_ns()

    # ------------------------------------------------------------ files

    def _file_for(self, t_ns: int) -> LiveFile:
        """The open file whose period holds ``t_ns`` (opening one if needed)."""
        cur = self._current
        if cur is not None and cur.contains(t_ns):
            return cur
        for lf in self._older:
            if lf.contains(t_ns):
                return lf
        if cur is None or t_ns >= cur.period_end:
            self._supersede()
            self._current = self._new_file(t_ns)
            return self._current
        # a source lagging by more than one period: give it a file of its own
        self._close_finished()  # (e.g. its previous lagging file, now passed)
        lf = self._new_file(t_ns)
        lf.superseded_at = time.monotonic()
        self._older.append(lf)
        return lf

    def _new_file(self, t_ns: int) -> LiveFile:
        return LiveFile(self.directory, self.station, self._specs, t_ns, self.rollover_ns,
                        self.compression, self.attrs)

    def _flush_current(self) -> None:
        cur = self._current
        assert cur is not None
        gaps = {n: st.pending_gaps for n, st in self._src.items() if st.pending_gaps}
        counts = {n: st.counters for n, st in self._src.items() if st.counters_dirty}
        cur.flush(gaps, counts)
        for st in self._src.values():
            st.pending_gaps = []
            st.counters_dirty = False

    def _supersede(self) -> None:
        """Retire the current file: it keeps only samples of lagging sources."""
        cur = self._current
        if cur is None:
            return
        self._flush_current()
        for st in self._src.values():
            st.counters[:] = 0
        cur.superseded_at = time.monotonic()
        self._current = None
        for lf in self._older:  # keep at most one period behind open
            lf.superseded_at = -math.inf
        self._older.append(cur)
        self._close_finished()

    def _closed_file(self, closed: tuple[Path, FileSummary | None]) -> None:
        self.paths.append(closed[0])
        self._to_index.append(closed)
        self._save_index(force=False)

    def _save_index(self, force: bool) -> None:
        """Summaries of closed files into the folder's reader cache, at most
        once a minute (and at close): readers then open none of them."""
        if not self._to_index or not (force or time.monotonic() - self._index_t > 60.0):
            return
        index_closed_files(self.directory, self._to_index)
        self._to_index = []
        self._index_t = time.monotonic()

    def _close_finished(self) -> None:
        """Close superseded files no source can still write into."""
        keep = []
        now = time.monotonic()
        for lf in self._older:
            # sources that never delivered anything are not waited for
            done = all(st.last_ns is None or st.last_ns >= lf.period_end - 1
                       for st in self._src.values())
            if done or now - (lf.superseded_at or 0.0) > _LINGER_S:
                lf.flush()
                self._closed_file(lf.close())
            else:
                keep.append(lf)
        self._older = keep



def _as_ns(source: str, what: str, value: Any) -> int:
    """An integer time in ns; a float is refused (seconds? lost precision?)."""
    if isinstance(value, (bool, np.bool_)) or not isinstance(value, (int, np.integer)):
        raise ValueError(
            f"source {source!r}: {what} must be an integer of ns since the epoch, "
            f"got {value!r} ({type(value).__name__})"
        )
    return int(value)

_OPEN: weakref.WeakSet[RawWriter] = weakref.WeakSet()


@atexit.register
def _close_all_at_exit() -> None:
    for w in list(_OPEN):
        try:
            w.close()
        except Exception as exc:  # noqa: BLE001 - nothing else can be done at exit
            log.error("closing the raw writer of %s at exit failed: %s", w.directory, exc)
