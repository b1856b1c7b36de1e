"""Append samples of a station's sources to hourly SWMR HDF5 raw files.

The writer keeps one live file (``<station>_<stamp>.h5.part``) per rollover
period. Every dataset and attribute is created first, then the file switches
to SWMR mode so readers (viewer, jobs) can follow it. Samples are buffered in
memory and written at each flush (at least every ``flush_interval_s``): data
first, flushed, then the index (block table or time dataset) that points at
it, so a reader or a crash never sees an index entry without its data.
"""

from __future__ import annotations

import logging
import os
import threading
import time
from collections.abc import Sequence
from pathlib import Path
from typing import Any

import h5py
import numpy as np

from bshm._version import __version__
from bshm.errors import StoreError
from bshm.store import schema as S
from bshm.timeutil import NS_PER_S, now_ns, to_iso

log = logging.getLogger(__name__)

_COMPRESSIONS = ("lzf", "gzip", None)
_CHUNK_BYTES = 64 * 1024
_MAX_PENDING_ROWS_BYTES = 8 * 1024 * 1024


class _SourceState:
    """Per-source writer state (survives rollover for ordering checks)."""

    def __init__(self, spec: S.SourceSpec) -> None:
        self.spec = spec
        self.nch = len(spec.channels)
        self.last_ns: int | None = None  # time of the last accepted sample
        self.reset_file()

    def reset_file(self) -> None:
        self.pending: list[np.ndarray] = []
        self.pending_rows = 0
        self.rows = 0  # rows in the data dataset
        self.blocks: list[tuple[int, int, int, int, int]] = []  # in memory, this file
        self.blocks_written = 0  # rows of the blocks dataset
        self.first_dirty_block: int | None = None
        self.pending_times: list[np.ndarray] = []
        self.times_written = 0
        self.pending_gaps: list[tuple[int, int, bytes]] = []
        self.gaps_written = 0
        self.counters = np.zeros(len(self.spec.counters), dtype=np.int64)
        self.counters_dirty = False
        self.ds: dict[str, Any] = {}


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

    Raises
    ------
    ValueError
        On an invalid source, compression or rollover.
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
        if not (rollover_s > 0 and rollover_s * NS_PER_S >= 1):
            raise ValueError(f"rollover_s must be > 0, got {rollover_s!r}")
        if not station or "/" in station or station.startswith("."):
            raise ValueError(f"station name {station!r} is not usable in a file name")
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
        self.directory.mkdir(parents=True, exist_ok=True)
        self.station = station
        self.rollover_ns = int(round(rollover_s * NS_PER_S))
        self.rollover_s = float(rollover_s)
        self.compression = compression
        self.flush_interval_s = float(flush_interval_s)
        self.attrs = dict(attrs or {})
        reserved = {S.ATTR_VERSION, S.ATTR_KIND, "station", "start_ns", "rollover_s",
                    "created_ns", "period_start_ns", "period_end_ns", "writer"}
        clash = sorted(reserved & set(self.attrs))
        if clash:
            raise ValueError(f"attrs may not set reserved root attributes {clash}")
        self._src = {s.name: _SourceState(s) for s in sources}
        self._file: h5py.File | None = None
        self._period_end: int | None = None
        self.current_path: Path | None = None
        self.paths: list[Path] = []
        self._last_flush = time.monotonic()
        self._lock = threading.RLock()
        self._closed = False
        self._pending_wo_file = False

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
        times_ns : array_like of int64, shape (n,)
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
                if n:
                    self._write_regular(st, arr, int(t0_ns), device_t0_ns)
            else:
                if times_ns is None or t0_ns is not None or device_t0_ns is not None:
                    raise ValueError(f"source {source!r} is timestamped: pass times_ns (not t0_ns)")
                t = np.asarray(times_ns)
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
            if self._file is not None and self._period_end is not None and start_ns >= self._period_end:
                self._close_file()
            st.pending_gaps.append((start_ns, end_ns, S.encode_reason(reason)))
            if self._file is None:
                self._pending_wo_file = True
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
            if self._file is None:
                self._pending_wo_file = True
            self._maybe_flush()

    def flush(self) -> None:
        """Write buffered samples, then their index, gaps and counters, and flush."""
        with self._lock:
            if self._file is None and self._pending_wo_file and not self._closed:
                self._open_file(self._earliest_pending())
            self._flush_file()
            self._last_flush = time.monotonic()

    def close(self) -> None:
        """Flush, close the live file and rename it from ``*.h5.part`` to ``*.h5``."""
        with self._lock:
            if self._closed:
                return
            try:
                self.flush()
            finally:
                self._close_file()
                self._closed = True

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
        arr = np.asarray(data, dtype=np.float32)
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
                       dev: int | None, k0: int = 0) -> None:
        fs = st.spec.fs
        n = arr.shape[0]
        first = int(S.grid_times(t0, k0, fs))
        self._check_order(st, first)
        while n:
            self._ensure_file(first)
            end = self._period_end
            last = int(S.grid_times(t0, k0 + n - 1, fs))
            m = n if last < end else S.grid_index(t0, k0, fs, end)
            if m:
                self._append_block(st, arr[:m], t0, k0, dev)
                st.last_ns = int(S.grid_times(t0, k0 + m - 1, fs))
            arr, n, k0 = arr[m:], n - m, k0 + m
            if n:
                self._close_file()
                first = int(S.grid_times(t0, k0, fs))

    def _append_block(self, st: _SourceState, arr: np.ndarray, t0: int, k0: int,
                      dev: int | None) -> None:
        devv = S.NO_DEVICE_TIME if dev is None else int(dev)
        n = arr.shape[0]
        fs = st.spec.fs
        if st.blocks and devv == S.NO_DEVICE_TIME:
            fb, fn, ft0, fk0, fdev = st.blocks[-1]
            if fdev == S.NO_DEVICE_TIME and fb + fn == st.rows + st.pending_rows:
                mine = S.grid_times(t0, np.arange(k0, k0 + n), fs)
                cont = S.grid_times(ft0, np.arange(fk0 + fn, fk0 + fn + n), fs)
                if np.array_equal(mine, cont):  # continues the grid exactly: merge
                    st.blocks[-1] = (fb, fn + n, ft0, fk0, fdev)
                    idx = len(st.blocks) - 1
                    if st.first_dirty_block is None or idx < st.first_dirty_block:
                        st.first_dirty_block = idx
                    self._buffer(st, arr)
                    return
        st.blocks.append((st.rows + st.pending_rows, n, t0, k0, devv))
        if st.first_dirty_block is None:
            st.first_dirty_block = len(st.blocks) - 1
        self._buffer(st, arr)

    def _write_timestamped(self, st: _SourceState, arr: np.ndarray, t: np.ndarray) -> None:
        if t.shape[0] > 1 and not np.all(np.diff(t) > 0):
            raise StoreError(f"source {st.spec.name!r}: times_ns must be strictly increasing")
        self._check_order(st, int(t[0]))
        while t.shape[0]:
            self._ensure_file(int(t[0]))
            m = int(np.searchsorted(t, self._period_end, side="left"))
            if m:
                st.pending_times.append(t[:m])
                self._buffer(st, arr[:m])
                st.last_ns = int(t[m - 1])
            arr, t = arr[m:], t[m:]
            if t.shape[0]:
                self._close_file()

    def _buffer(self, st: _SourceState, arr: np.ndarray) -> None:
        st.pending.append(np.ascontiguousarray(arr))
        st.pending_rows += arr.shape[0]
        if st.pending_rows * st.nch * 4 > _MAX_PENDING_ROWS_BYTES:
            self._flush_file()

    def _maybe_flush(self) -> None:
        if time.monotonic() - self._last_flush >= self.flush_interval_s:
            self.flush()

    def _earliest_pending(self) -> int:
        starts = [g[0] for st in self._src.values() for g in st.pending_gaps]
        return min(starts) if starts else now_ns()

    # ------------------------------------------------------------ files

    def _ensure_file(self, t_ns: int) -> None:
        if self._file is not None and self._period_end is not None:
            start = self._period_end - self.rollover_ns
            if start <= t_ns < self._period_end:
                return
            self._close_file()
        self._open_file(t_ns)

    def _open_file(self, t_ns: int) -> None:
        period_start = (t_ns // self.rollover_ns) * self.rollover_ns
        seq = 0
        while True:
            final = self.directory / S.file_name(self.station, t_ns, seq)
            part = self.directory / S.file_name(self.station, t_ns, seq, part=True)
            if not final.exists() and not part.exists():
                try:
                    f = h5py.File(part, "x", libver="latest")
                    break
                except FileExistsError:
                    pass
                except OSError as exc:
                    if part.exists():
                        continue
                    raise StoreError(f"cannot create {part}: {exc}") from exc
            seq += 1
        try:
            self._init_file(f, t_ns, period_start)
            f.swmr_mode = True
        except Exception as exc:
            f.close()
            raise StoreError(f"cannot initialise {part}: {exc}") from exc
        self._file = f
        self._period_end = period_start + self.rollover_ns
        self.current_path = part
        self._pending_wo_file = False
        log.info("raw file %s opened", part)

    def _init_file(self, f: h5py.File, t_ns: int, period_start: int) -> None:
        a = f.attrs
        a[S.ATTR_VERSION] = np.int64(S.SCHEMA_VERSION)
        a[S.ATTR_KIND] = S.KIND
        a["station"] = self.station
        a["start_ns"] = np.int64(t_ns)
        a["period_start_ns"] = np.int64(period_start)
        a["period_end_ns"] = np.int64(period_start + self.rollover_ns)
        a["rollover_s"] = self.rollover_s
        a["created_ns"] = np.int64(now_ns())
        a["writer"] = f"bshm {__version__}"
        for k, v in self.attrs.items():
            a[k] = v
        root = f.create_group(S.SOURCES_GROUP)
        comp = {}
        if self.compression == "lzf":
            comp = {"compression": "lzf", "shuffle": True}
        elif self.compression == "gzip":
            comp = {"compression": "gzip", "compression_opts": 4, "shuffle": True}
        for st in self._src.values():
            st.reset_file()
            self._init_source(root, st, comp)

    def _init_source(self, root: h5py.Group, st: _SourceState, comp: dict) -> None:
        spec = st.spec
        g = root.create_group(spec.name)
        g.attrs["kind"] = spec.kind
        g.attrs["fs"] = float(spec.fs)
        g.attrs["timing"] = spec.timing
        g.attrs["n_channels"] = np.int64(st.nch)
        ch = spec.channels
        g.attrs["channel_names"] = [c.name for c in ch]
        g.attrs["channel_quantities"] = [c.quantity for c in ch]
        g.attrs["channel_units"] = [c.unit for c in ch]
        g.attrs["channel_locations"] = np.array([tuple(map(float, c.location)) for c in ch],
                                                dtype=np.float64).reshape(-1, 3)
        g.attrs["channel_directions"] = [c.direction for c in ch]
        g.attrs["channel_calibrations"] = [c.calibration for c in ch]
        rows = max(64, min(16384, _CHUNK_BYTES // (4 * st.nch)))
        d = g.create_dataset(S.DATA, shape=(0, st.nch), maxshape=(None, st.nch),
                             dtype=np.float32, chunks=(rows, st.nch), **comp)
        d.attrs["units"] = [c.unit for c in ch]
        st.ds["data"] = d
        if spec.timing == "regular":
            st.ds["index"] = g.create_dataset(S.BLOCKS, shape=(0,), maxshape=(None,),
                                              dtype=S.BLOCK_DTYPE, chunks=(512,))
        else:
            st.ds["index"] = g.create_dataset(S.TIME, shape=(0,), maxshape=(None,),
                                              dtype=np.int64, chunks=(8192,), **comp)
        st.ds["gaps"] = g.create_dataset(S.GAPS, shape=(0,), maxshape=(None,),
                                         dtype=S.GAP_DTYPE, chunks=(64,))
        c = g.create_dataset(S.COUNTERS, data=np.zeros(len(spec.counters), np.int64))
        c.attrs["names"] = list(spec.counters)
        st.ds["counters"] = c

    def _flush_file(self) -> None:
        f = self._file
        if f is None:
            return
        try:
            srcs = list(self._src.values())
            for st in srcs:  # 1. data
                if st.pending_rows:
                    d = st.ds["data"]
                    block = np.concatenate(st.pending) if len(st.pending) > 1 else st.pending[0]
                    d.resize(st.rows + st.pending_rows, axis=0)
                    d[st.rows:] = block
                    st.rows += st.pending_rows
                    st.pending, st.pending_rows = [], 0
                    d.flush()
            for st in srcs:  # 2. the index pointing at the data
                self._flush_index(st)
            for st in srcs:  # 3. gaps and counters
                if st.pending_gaps:
                    g = st.ds["gaps"]
                    arr = np.array(st.pending_gaps, dtype=S.GAP_DTYPE)
                    g.resize(st.gaps_written + arr.shape[0], axis=0)
                    g[st.gaps_written:] = arr
                    st.gaps_written += arr.shape[0]
                    st.pending_gaps = []
                    g.flush()
                if st.counters_dirty:
                    c = st.ds["counters"]
                    c[...] = st.counters
                    st.counters_dirty = False
                    c.flush()
            f.flush()
        except (OSError, RuntimeError, ValueError) as exc:
            raise StoreError(f"cannot write {self.current_path}: {exc}") from exc

    def _flush_index(self, st: _SourceState) -> None:
        ds = st.ds["index"]
        if st.spec.timing == "regular":
            i0 = st.first_dirty_block
            if i0 is None:
                return
            arr = np.array(st.blocks[i0:], dtype=S.BLOCK_DTYPE)
            if len(st.blocks) > st.blocks_written:
                ds.resize(len(st.blocks), axis=0)
            ds[i0:] = arr
            st.blocks_written = len(st.blocks)
            st.first_dirty_block = None
        else:
            if not st.pending_times:
                return
            t = np.concatenate(st.pending_times)
            ds.resize(st.times_written + t.shape[0], axis=0)
            ds[st.times_written:] = t
            st.times_written += t.shape[0]
            st.pending_times = []
        ds.flush()

    def _close_file(self) -> None:
        f = self._file
        if f is None:
            return
        part = self.current_path
        try:
            self._flush_file()
        finally:
            self._file = None
            self._period_end = None
            self.current_path = None
            try:
                f.close()
            except Exception as exc:  # pragma: no cover - h5py close failure
                log.error("closing %s failed: %s", part, exc)
            for st in self._src.values():
                st.reset_file()
        if part is not None:
            self.paths.append(_finalize(part))


def _finalize(part: Path) -> Path:
    """Rename ``x.h5.part`` to ``x.h5`` without overwriting an existing file."""
    final = part.with_name(part.name[: -len(".part")])
    cand = final
    seq = 0
    while True:
        try:
            os.link(part, cand)
        except FileExistsError:
            seq += 1
            cand = final.with_name(final.name[:-3] + f"-{seq}.h5")
            continue
        except OSError:  # no hard links on this file system
            if cand.exists():
                seq += 1
                cand = final.with_name(final.name[:-3] + f"-{seq}.h5")
                continue
            os.replace(part, cand)
            break
        os.unlink(part)
        break
    log.info("raw file %s closed", cand)
    return cand
