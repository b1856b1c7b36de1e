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

A full disk (or a read-only one) never corrupts a file: the free space is
checked before HDF5 is asked to write, and a flush HDF5 itself fails is
undone in the writer's bookkeeping and the file is abandoned exactly as its
last good flush left it (its samples since then go to a new file). With
``on_disk_full="buffer"`` (the recorder) nothing is raised: samples stay in
memory up to ``max_buffer_bytes`` and are written, bit for bit, when space
returns; beyond that bound new samples are dropped and recorded as gaps
``"disk full: ..."`` plus the counters ``samples_lost`` and
``samples_lost_disk_full``. See ``docs/reliability.md (Acquisition)``.
"""

from __future__ import annotations

import atexit
import dataclasses
import logging
import math
import threading
import time
import weakref
from collections import deque
from collections.abc import Sequence
from pathlib import Path
from typing import Any

import numpy as np

from bshm.errors import DiskFullError, StoreError
from bshm.store import schema as S
from bshm.store import spill
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
#: What a writer does when the disk is full: raise, or keep samples in memory.
DISK_FULL_MODES = ("raise", "buffer")
#: Default bound of the memory kept while the disk is full (bytes of samples).
DEFAULT_BUFFER_BYTES = 64 * 1024 * 1024
#: Default free space left untouched on the disk (bytes).
DEFAULT_MIN_FREE_BYTES = 1024 * 1024


class _Unplaced(Exception):
    """An entry (or its rest) could not go into a file: the disk is full."""

    def __init__(self, entry: tuple, cause: DiskFullError) -> None:
        super().__init__(str(cause))
        self.entry = entry
        self.cause = cause


class RawWriter(spill.LossKeeping):
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
        ``write``/``add_gap``/``count`` call; while the disk is full, the
        interval between attempts to write again.
    attrs : dict, optional
        Extra root attributes (str, numbers or arrays) written in every file.
    on_disk_full : {"raise", "buffer"}, optional
        ``"raise"`` (default): :meth:`write`, :meth:`flush` raise
        :class:`~bshm.errors.DiskFullError` when the disk is full or
        read-only (everything not written stays buffered). ``"buffer"``:
        nothing is raised before :meth:`close`; samples stay in memory and are
        written when space returns (one log line when the disk fills, one
        when it recovers); every source gets the counter
        ``samples_lost_disk_full``.
    max_buffer_bytes : int, optional
        ``"buffer"`` mode: most bytes of samples kept in memory while the disk
        is full (default 64 MiB); later samples are dropped and recorded as
        gaps "disk full" and in ``samples_lost``/``samples_lost_disk_full``.
    min_free_bytes : int, optional
        Free space left untouched on the disk (default 1 MiB); a flush that
        would need more than the free space minus this waits (disk full).
    check_free_space : bool, optional
        Check the free space before writing (default True). Without it only
        HDF5's own ENOSPC tells (tests of that path).

    Attributes
    ----------
    current_path : pathlib.Path or None
        The live ``*.h5.part`` file, or None before the first sample and
        after close.
    paths : list of pathlib.Path
        Final paths of the files this writer closed, and of files it left as
        ``*.h5.part`` after a write failed (readable up to their last flush).
    n_flushes : int
        Number of completed flushes (explicit or automatic): every sample
        written before the latest one is on disk.
    dropped : dict of str to int
        Samples per source not kept because the disk was full.

    Raises
    ------
    ValueError
        On an invalid source, compression, rollover, mode or attribute.
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
        on_disk_full: str = "raise",
        max_buffer_bytes: int = DEFAULT_BUFFER_BYTES,
        min_free_bytes: int = DEFAULT_MIN_FREE_BYTES,
        check_free_space: bool = True,
    ) -> None:
        if compression not in _COMPRESSIONS:
            raise ValueError(f"compression {compression!r} is not one of lzf, gzip, None")
        if not (isinstance(rollover_s, (int, float)) and math.isfinite(rollover_s)
                and 1e-9 <= rollover_s <= _MAX_ROLLOVER_S):
            raise ValueError(
                f"rollover_s must be 1 ns .. {_MAX_ROLLOVER_S:g} s, got {rollover_s!r}")
        S.check_name(station, "station name")
        if on_disk_full not in DISK_FULL_MODES:
            raise ValueError(f"on_disk_full {on_disk_full!r} is not one of raise, buffer")
        if not (max_buffer_bytes >= 0 and min_free_bytes >= 0):
            raise ValueError("max_buffer_bytes and min_free_bytes must be >= 0")
        sources = list(sources)
        if not sources:
            raise ValueError("a RawWriter needs at least one source")
        if on_disk_full == "buffer":
            sources = [s if spill.DISK_FULL_COUNTER in s.counters else dataclasses.replace(
                s, counters=(*s.counters, spill.DISK_FULL_COUNTER)) for s in sources]
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
        self.on_disk_full = on_disk_full
        self.max_buffer_bytes = int(max_buffer_bytes)
        self.min_free_bytes = int(min_free_bytes)
        self.check_free_space = bool(check_free_space)
        self.attrs = dict(attrs or {})
        clash = sorted(RESERVED_ATTRS & set(self.attrs))
        if clash:
            raise ValueError(f"attrs may not set reserved root attributes {clash}")
        ok = (str, bytes, int, float, bool, np.generic, np.ndarray, list, tuple)
        bad = sorted(k for k, v in self.attrs.items() if not isinstance(v, ok))
        if bad:
            raise ValueError(f"attrs {bad}: values must be strings, numbers or arrays")
        self._src = {s.name: spill.SourceState(s) for s in sources}
        self._specs = sources
        self._current: LiveFile | None = None
        self._older: list[LiveFile] = []  # superseded files a lagging source may still fill
        self.paths: list[Path] = []
        # closed files (and their summaries) not yet in the reader cache
        self._to_index: list[tuple[Path, FileSummary | None]] = []
        self._index_t = -math.inf
        self._last_flush = time.monotonic()
        self.n_flushes = 0
        self._backlog: deque[tuple] = deque()  # entries not in a file yet (see spill)
        self._replaying = False
        self._full: spill.FullEpisode | None = None
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
            source, or the file cannot be written (``on_disk_full="raise"``:
            :class:`~bshm.errors.DiskFullError`, the block stays buffered).
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
                if not n:
                    return
                self._check_order(st, t0)
                entry: tuple = ("r", source, arr, t0, 0,
                                S.NO_DEVICE_TIME if dev is None else dev)
                last = int(S.grid_times(t0, n - 1, st.spec.fs))
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
                if not n:
                    return
                t = t.astype(np.int64)
                if n > 1 and not np.all(np.diff(t) > 0):
                    raise StoreError(f"source {source!r}: times_ns must be strictly increasing")
                self._check_order(st, int(t[0]))
                entry = ("t", source, arr, t)
                last = int(t[-1])
            st.accepted_ns = last
            if self._full is not None and self._over_bound(entry):
                self._attempt(final=False)  # the disk may take data again: try first
            if self._full is not None and self._over_bound(entry):
                self._drop(st, entry)
            else:
                self._close_drop_gap(st)
                if self._full is not None:
                    self._full.kept += n
                self._accept([entry])
            self._maybe_flush()

    def add_gap(self, source: str, start_ns: int, end_ns: int, reason: str) -> None:
        """Record that ``source`` has no data in ``[start_ns, end_ns)``.

        Raises
        ------
        ValueError
            Unknown source or ``end_ns < start_ns``.
        """
        with self._lock:
            self._state(source)
            start_ns, end_ns = int(start_ns), int(end_ns)
            if end_ns < start_ns:
                raise ValueError(
                    f"gap of {source!r}: end {to_iso(end_ns)} is before start {to_iso(start_ns)}"
                )
            self._accept([("g", source, start_ns, end_ns, S.encode_reason(reason))])
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

        Raises
        ------
        bshm.errors.DiskFullError
            ``on_disk_full="raise"`` only: the disk is full or read-only;
            nothing is lost from memory, a later call tries again.
        """
        with self._lock:
            if self._closed:
                return
            self._attempt(final=False)

    def close(self) -> None:
        """Flush, close the files and rename them from ``*.h5.part`` to ``*.h5``.

        On a full disk, the samples still in memory are given up: they are
        recorded as gaps ("disk full: in memory when the writer closed") and
        in ``samples_lost`` where the disk still takes that much, the files
        are closed as their last flush left them, and
        :class:`~bshm.errors.DiskFullError` says how many samples were lost.
        """
        with self._lock:
            if self._closed:
                return
            error: DiskFullError | None = None
            lost: dict[str, int] = {}
            episode, self._full = self._full, None
            buffered = self._buffered_samples()
            try:
                for st in self._src.values():
                    self._close_drop_gap(st)  # into the last flush
                try:
                    self._flush(final=True)
                except DiskFullError as exc:
                    error = exc
                    lost = self._give_up_buffered()
                    self._flush_meta_at_close()
                if episode is not None and error is None:
                    episode.end(buffered)
            finally:
                files = self._older + ([self._current] if self._current else [])
                self._older, self._current = [], None
                self._closed = True
                _OPEN.discard(self)
                for lf in files:
                    self._close_file(lf)
                self._save_index(force=True)
            if error is not None:
                what = ", ".join(f"{n} of {k}" for k, n in sorted(lost.items()) if n)
                raise DiskFullError(
                    f"{error}; samples kept in memory and not written: {what or 'none'}",
                    path=error.path, errno=error.errno) from error

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

    @property
    def disk_full(self) -> bool:
        """True while writes wait for disk space (``"buffer"`` mode)."""
        return self._full is not None

    @property
    def dropped(self) -> dict[str, int]:
        """Samples per source not kept because the disk was full."""
        return {n: st.dropped for n, st in self._src.items()}

    def buffered_bytes(self) -> int:
        """Bytes of samples held in memory, not yet on disk."""
        with self._lock:
            files = self._older + ([self._current] if self._current else [])
            return (sum(lf.pending_bytes() for lf in files)
                    + sum(spill.entry_nbytes(e) for e in self._backlog))

    # ------------------------------------------------------------ internals

    def _state(self, source: str) -> spill.SourceState:
        if self._closed:
            raise StoreError(f"RawWriter for {self.directory} is closed")
        try:
            return self._src[source]
        except KeyError:
            raise ValueError(
                f"unknown source {source!r}; sources: {', '.join(self._src)}"
            ) from None

    def _as_block(self, st: spill.SourceState, data: Any) -> np.ndarray:
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

    def _check_order(self, st: spill.SourceState, first_ns: int) -> None:
        if st.accepted_ns is not None and first_ns <= st.accepted_ns:
            raise StoreError(
                f"source {st.spec.name!r}: block starts at {to_iso(first_ns, digits=9)}, "
                f"not after the last stored sample {to_iso(st.accepted_ns, digits=9)} "
                "(times must increase)"
            )

    # -- placing entries into files ------------------------------------------------

    def _accept(self, entries: list[tuple]) -> None:
        """Place entries in files, or keep them (in order) for later."""
        if self._backlog:
            self._backlog.extend(entries)
            return
        for i, e in enumerate(entries):
            try:
                self._place(e)
            except _Unplaced as u:
                self._backlog.append(u.entry)
                self._backlog.extend(entries[i + 1:])
                self._disk_full(u.cause)
                return

    def _place(self, e: tuple) -> None:
        if e[0] == "r":
            self._place_regular(*e[1:])
        elif e[0] == "t":
            self._place_times(*e[1:])
        else:
            self._place_gap(*e[1:])

    def _defer(self) -> bool:
        return bool(self._backlog) and not self._replaying

    def _file_or_unplaced(self, t_ns: int, rest: tuple) -> LiveFile:
        if self._defer():  # older entries wait: keep the order
            raise _Unplaced(rest, self._full.error if self._full else DiskFullError("full"))
        try:
            return self._file_for(t_ns)
        except DiskFullError as exc:
            raise _Unplaced(rest, exc) from exc

    def _place_regular(self, source: str, arr: np.ndarray, t0: int, k0: int, dev: int) -> None:
        st = self._src[source]
        fs = st.spec.fs
        n = arr.shape[0]
        while n:
            lf = self._file_or_unplaced(int(S.grid_times(t0, k0, fs)),
                                        ("r", source, arr, t0, k0, dev))
            last = int(S.grid_times(t0, k0 + n - 1, fs))
            m = n if last < lf.period_end else S.grid_index(t0, k0, fs, lf.period_end)
            lf.src[source].append_block(arr[:m], t0, k0, dev)
            st.last_ns = int(S.grid_times(t0, k0 + m - 1, fs))
            arr, n, k0 = arr[m:], n - m, k0 + m
            self._check_size(lf)

    def _place_times(self, source: str, arr: np.ndarray, t: np.ndarray) -> None:
        st = self._src[source]
        while t.shape[0]:
            lf = self._file_or_unplaced(int(t[0]), ("t", source, arr, t))
            m = int(np.searchsorted(t, lf.period_end, side="left"))
            lf.src[source].append_times(arr[:m], t[:m])
            st.last_ns = int(t[m - 1])
            arr, t = arr[m:], t[m:]
            self._check_size(lf)

    def _place_gap(self, source: str, start_ns: int, end_ns: int, reason: bytes) -> None:
        if self._defer():
            raise _Unplaced(("g", source, start_ns, end_ns, reason),
                            self._full.error if self._full else DiskFullError("full"))
        cur = self._current
        if cur is not None and start_ns >= cur.period_end:
            try:
                self._supersede()  # the gap belongs to a later period
            except DiskFullError as exc:
                raise _Unplaced(("g", source, start_ns, end_ns, reason), exc) from exc
        self._src[source].pending_gaps.append((start_ns, end_ns, reason))

    def _check_size(self, lf: LiveFile) -> None:
        if (lf.pending_bytes() <= _MAX_PENDING_BYTES or self._full is not None
                or self._replaying or self._backlog):
            return
        try:
            self._flush_file(lf, meta=lf is self._current)
        except DiskFullError as exc:
            self._disk_full(exc)

    # -- flushing --------------------------------------------------------------------

    def _maybe_flush(self) -> None:
        if time.monotonic() - self._last_flush >= self.flush_interval_s:
            self._attempt(final=False)

    def _attempt(self, final: bool) -> None:
        """One flush; a full disk raises or starts/continues an episode."""
        self._last_flush = time.monotonic()
        buffered = self._buffered_samples() if self._full is not None else 0
        try:
            self._flush(final)
        except DiskFullError as exc:
            self._disk_full(exc)
            return
        if self._full is not None:
            self._end_episode(buffered)

    def _flush(self, final: bool) -> None:
        self._replay_backlog()
        if self._current is None and self._has_meta(counters=final):
            self._current = self._new_file(self._earliest_pending())
        for lf in list(self._older):
            if lf in self._older:
                self._flush_file(lf, meta=False)
        if self._current is not None:
            self._flush_file(self._current, meta=True)
        self._close_finished()
        self._last_flush = time.monotonic()
        self.n_flushes += 1

    def _replay_backlog(self) -> None:
        """Place the entries kept while no file could take them, in order."""
        self._replaying = True
        try:
            while self._backlog:
                e = self._backlog.popleft()
                n = len(self._backlog)
                try:
                    self._place(e)
                except _Unplaced as u:
                    # after the samples of a file abandoned meanwhile (older: first)
                    self._backlog.insert(len(self._backlog) - n, u.entry)
                    raise u.cause from None
        finally:
            self._replaying = False

    def _flush_file(self, lf: LiveFile, meta: bool) -> None:
        """Flush one file after checking the space; a write HDF5 fails abandons it."""
        if self.check_free_space:
            spill.check_space(self.directory,
                              2 * lf.pending_bytes() + len(lf.src) * spill.SLACK_PER_SOURCE,
                              self.min_free_bytes)
        try:
            if meta:
                self._flush_current()
            else:
                lf.flush()
        except DiskFullError:
            self._abandon(lf)
            raise

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
        if self.check_free_space:
            spill.check_space(self.directory, len(self._specs) * spill.SLACK_PER_SOURCE,
                              self.min_free_bytes)
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
        self._flush_file(cur, meta=True)
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

    def _close_file(self, lf: LiveFile) -> None:
        """Close and rename one file; a failure is logged, the others go on."""
        try:
            self._closed_file(lf.close())
        except DiskFullError as exc:
            log.error("%s stays %s: %s", lf.path, lf.path.name, exc)
            self.paths.append(lf.path)
        except Exception as exc:  # noqa: BLE001 - close every other file anyway
            log.error("closing %s failed: %s", lf.path, exc)
            self.paths.append(lf.path)

    def _save_index(self, force: bool) -> None:
        """Summaries of closed files into the folder's reader cache, at most
        once a minute (and at close): readers then open none of them."""
        if not self._to_index or not (force or time.monotonic() - self._index_t > 60.0):
            return
        try:
            index_closed_files(self.directory, self._to_index)
        except (OSError, StoreError) as exc:  # a cache: readers rebuild it
            log.debug("reader cache of %s not updated: %s", self.directory, exc)
            return
        self._to_index = []
        self._index_t = time.monotonic()

    def _close_finished(self) -> None:
        """Close superseded files no source can still write into."""
        now = time.monotonic()
        for lf in list(self._older):
            if lf not in self._older:
                continue  # abandoned meanwhile
            # sources that never delivered anything are not waited for
            done = all(st.last_ns is None or st.last_ns >= lf.period_end - 1
                       for st in self._src.values())
            if not (done or now - (lf.superseded_at or 0.0) > _LINGER_S):
                continue
            if self._backlog and not self._replaying:
                continue  # samples for it may still wait in line
            self._flush_file(lf, meta=False)
            self._older.remove(lf)
            self._closed_file(lf.close())


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
