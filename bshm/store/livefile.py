"""One raw file being written: creation, buffered appends, ordered flushes.

Internal to :class:`bshm.store.writer.RawWriter`. A :class:`LiveFile`
builds a raw file with every group, dataset and attribute in memory, writes
it under a hidden name, opens it, switches SWMR on and only then gives it
its ``.h5.part`` name. Appends are buffered in memory; :meth:`LiveFile.flush`
writes the samples first, flushes them, and only then writes and flushes
the index (block table or time dataset) that points at them, then gaps and
counters; a flush that fails leaves the bookkeeping as it was before it
(:meth:`LiveFile.abandon` then closes the file without writing more).
"""

from __future__ import annotations

import io
import logging
import os
from pathlib import Path
from typing import Any

import h5py
import numpy as np

from bshm._version import __version__
from bshm.errors import StoreError
from bshm.store import schema as S
from bshm.store.fileindex import FileSummary, OpenFile, summarize_file
from bshm.store.h5io import (  # noqa: F401 - DISK_FULL_ERRNOS re-exported
    DISK_FULL_ERRNOS,
    disk_full_error,
    let_go,
    short,
)
from bshm.timeutil import now_ns

log = logging.getLogger(__name__)

_CHUNK_BYTES = 64 * 1024
RESERVED_ATTRS = frozenset({
    S.ATTR_VERSION, S.ATTR_KIND, "station", "start_ns", "rollover_s", "created_ns",
    "period_start_ns", "period_end_ns", "writer",
})


class FileSource:
    """Per-file state of one source: dataset handles, positions, buffers."""

    def __init__(self, spec: S.SourceSpec, ds: dict[str, h5py.Dataset]) -> None:
        self.spec = spec
        self.ds = ds
        self.pending: list[np.ndarray] = []
        self.pending_rows = 0
        self.rows = 0
        self.blocks: list[tuple[int, int, int, int, int]] = []  # not yet final
        self.block_base = 0  # dataset row of blocks[0]
        self.first_dirty: int | None = None
        self.pending_times: list[np.ndarray] = []
        self.times_written = 0
        self.gaps_written = 0
        self.counters_written = np.zeros(len(spec.counters), np.int64)
        self.committed = self.snapshot()  # the state the file holds after its last flush

    _STATE = ("pending", "pending_rows", "rows", "blocks", "block_base", "first_dirty",
              "pending_times", "times_written", "gaps_written", "counters_written")

    def snapshot(self) -> tuple:
        """The bookkeeping state (lists copied, arrays shared: they are never
        modified in place)."""
        return tuple(list(v) if isinstance(v, list) else v
                     for v in (getattr(self, k) for k in self._STATE))

    def restore(self, state: tuple) -> None:
        """Go back to a :meth:`snapshot` (after a failed flush)."""
        for k, v in zip(self._STATE, state, strict=True):
            setattr(self, k, list(v) if isinstance(v, list) else v)

    def uncommitted(self) -> list[tuple]:
        """Samples buffered since the last successful flush, as they were appended:
        ``("r", data, t0, k0, device_t0)`` per regular block (part),
        ``("t", data, times)`` for timestamped ones."""
        if not self.pending_rows:
            return []
        data = np.concatenate(self.pending) if len(self.pending) > 1 else self.pending[0]
        if self.spec.timing != "regular":
            return [("t", data, np.concatenate(self.pending_times))]
        out = []
        for fb, fn, t0, k0, dev in self.blocks:
            lo = max(fb, self.rows)
            if fb + fn > lo:
                out.append(("r", data[lo - self.rows : fb + fn - self.rows], t0,
                            k0 + lo - fb, dev))
        return out

    @property
    def nbytes_pending(self) -> int:
        return self.pending_rows * len(self.spec.channels) * 4

    def append_block(self, arr: np.ndarray, t0: int, k0: int, dev: int) -> None:
        """Buffer a regular block; merge it into the previous one when it
        continues that block's time grid exactly, and its device-time grid
        too (or neither block has a device time): no time is lost."""
        n = arr.shape[0]
        fs = self.spec.fs
        if self.blocks and (dev == S.NO_DEVICE_TIME) == (self.blocks[-1][4] == S.NO_DEVICE_TIME):
            fb, fn, ft0, fk0, fdev = self.blocks[-1]
            k_new = np.arange(k0, k0 + n)
            k_old = np.arange(fk0 + fn, fk0 + fn + n)
            same = np.array_equal(S.grid_times(t0, k_new, fs), S.grid_times(ft0, k_old, fs))
            if same and dev != S.NO_DEVICE_TIME:
                same = np.array_equal(S.grid_times(dev, k_new, fs), S.grid_times(fdev, k_old, fs))
            if same:
                self.blocks[-1] = (fb, fn + n, ft0, fk0, fdev)
                i = len(self.blocks) - 1
                if self.first_dirty is None or i < self.first_dirty:
                    self.first_dirty = i
                self._buffer(arr)
                return
        self.blocks.append((self.rows + self.pending_rows, n, t0, k0, dev))
        if self.first_dirty is None:
            self.first_dirty = len(self.blocks) - 1
        self._buffer(arr)

    def append_times(self, arr: np.ndarray, t: np.ndarray) -> None:
        """Buffer a timestamped block."""
        self.pending_times.append(t)
        self._buffer(arr)

    def _buffer(self, arr: np.ndarray) -> None:
        self.pending.append(np.ascontiguousarray(arr))
        self.pending_rows += arr.shape[0]

    def flush_data(self) -> None:
        if not self.pending_rows:
            return
        d = self.ds[S.DATA]
        block = np.concatenate(self.pending) if len(self.pending) > 1 else self.pending[0]
        d.resize(self.rows + self.pending_rows, axis=0)
        d[self.rows:] = block
        self.rows += self.pending_rows
        self.pending, self.pending_rows = [], 0
        d.flush()

    def flush_index(self) -> None:
        if self.spec.timing == "regular":
            ds = self.ds[S.BLOCKS]
            i0 = self.first_dirty
            if i0 is None:
                return
            total = self.block_base + len(self.blocks)
            if total > ds.shape[0]:
                ds.resize(total, axis=0)
            ds[self.block_base + i0:total] = np.array(self.blocks[i0:], dtype=S.BLOCK_DTYPE)
            self.first_dirty = None
            # only the last block can still be merged into: forget the others
            self.block_base += len(self.blocks) - 1
            self.blocks = self.blocks[-1:]
        else:
            if not self.pending_times:
                return
            ds = self.ds[S.TIME]
            t = np.concatenate(self.pending_times)
            ds.resize(self.times_written + t.shape[0], axis=0)
            ds[self.times_written:] = t
            self.times_written += t.shape[0]
            self.pending_times = []
        # the data this index points at was flushed before it was written; the
        # index is flushed on its own too: if its chunk cannot be written, HDF5
        # stops before its new extent (a file flush would write the extent
        # anyway, over an unwritten chunk: entries of zeros)
        ds.flush()

    def flush_gaps(self, gaps: list[tuple[int, int, bytes]]) -> None:
        if not gaps:
            return
        g = self.ds[S.GAPS]
        arr = np.array(gaps, dtype=S.GAP_DTYPE)
        g.resize(self.gaps_written + arr.shape[0], axis=0)
        g[self.gaps_written:] = arr
        self.gaps_written += arr.shape[0]
        g.flush()  # as the index: never an extent over an unwritten chunk

    def flush_counters(self, counts: np.ndarray) -> None:
        self.ds[S.COUNTERS][...] = counts
        self.counters_written = counts.copy()


class LiveFile:
    """A raw file of one rollover period, open for SWMR writing.

    Parameters
    ----------
    directory : pathlib.Path
        Folder of the files.
    station : str
        Station name.
    specs : list of SourceSpec
        The station's sources.
    t_ns : int
        Time of the first sample (names the file).
    rollover_ns : int
        Length of a period (ns); the file holds ``[period_start, period_end)``.
    compression : str or None
        ``"lzf"``, ``"gzip"`` or None.
    attrs : dict
        Extra root attributes.
    """

    def __init__(self, directory: Path, station: str, specs: list[S.SourceSpec], t_ns: int,
                 rollover_ns: int, compression: str | None, attrs: dict[str, Any]) -> None:
        self.period = t_ns // rollover_ns
        self.period_start = self.period * rollover_ns
        self.period_end = self.period_start + rollover_ns
        self.superseded_at: float | None = None
        image = _initial_image(station, t_ns, self.period_start, rollover_ns, attrs, specs,
                               compression)
        tmp = _write_new(directory, station, t_ns, image)
        try:
            f = h5py.File(tmp, "r+", libver="latest")
        except Exception as exc:
            tmp.unlink(missing_ok=True)  # holds no sample yet: leave no litter
            raise _write_error(exc, tmp, "open") from exc
        try:
            root = f[S.SOURCES_GROUP]
            self.src = {s.name: FileSource(s, _source_datasets(root[s.name], s)) for s in specs}
            f.swmr_mode = True
            self.path = _publish(tmp, directory, station, t_ns)
        except Exception as exc:
            # a file HDF5 failed to write cannot be closed cleanly (the half-closed
            # file crashes the next garbage collection): detach it first
            let_go(f, tmp)
            tmp.unlink(missing_ok=True)
            if isinstance(exc, StoreError):
                raise
            raise _write_error(exc, tmp, "initialise") from exc
        self.f = f
        log.info("raw file %s opened", self.path)

    def contains(self, t_ns: int) -> bool:
        return self.period_start <= t_ns < self.period_end

    def flush(self, gaps: dict[str, list] | None = None,
              counters: dict[str, np.ndarray] | None = None) -> None:
        """Write buffered samples, then their index, then gaps and counters.

        All or nothing for the bookkeeping: if any step fails, every source
        goes back to its state before the call (its samples stay buffered, no
        index entry is counted as written). After a failure HDF5's own state
        for this file cannot be trusted (a chunk whose write failed may be
        dropped): the caller abandons the file (:meth:`abandon`).
        """
        srcs = list(self.src.values())
        before = [s.snapshot() for s in srcs]
        try:
            for s in srcs:
                s.flush_data()
            for s in srcs:
                s.flush_index()
            for s in srcs:
                if gaps:
                    s.flush_gaps(gaps.get(s.spec.name, []))
                if counters is not None and s.spec.name in counters:
                    s.flush_counters(counters[s.spec.name])
            self.f.flush()
        except (OSError, RuntimeError, ValueError, TypeError) as exc:
            for s, state in zip(srcs, before, strict=True):
                s.restore(state)
            full = disk_full_error(exc, self.path, "write")
            if full is not None:
                raise full from exc
            raise StoreError(f"cannot write {self.path}: {short(exc)}") from exc
        for s in srcs:
            s.committed = s.snapshot()

    def discard_uncommitted(self) -> None:
        """Forget what was buffered since the last successful flush."""
        for s in self.src.values():
            s.restore(s.committed)

    def abandon(self) -> Path:
        """Close without writing anything more (after a failed flush).

        The open descriptor is pointed at ``/dev/null`` before HDF5 closes the
        file, so the file on disk stays exactly as its last successful flush
        left it (like after a crash: it keeps its ``.part`` name and opens with
        ``swmr=True``); HDF5's unreliable in-memory state goes nowhere.
        """
        let_go(self.f, self.path)
        log.warning("raw file %s left as written by its last successful flush", self.path)
        return self.path


    def pending_bytes(self) -> int:
        return sum(s.nbytes_pending for s in self.src.values())

    def close(self) -> tuple[Path, FileSummary | None]:
        """Close (after a flush by the caller) and rename ``.part`` -> ``.h5``.

        Returns the final path and the file's reader summary, made from the
        still-open file (None if that failed; readers then make it).
        """
        summ = None
        try:
            summ = summarize_file(OpenFile(self.path, self.f))
        except (StoreError, OSError, KeyError, ValueError) as exc:
            log.debug("no summary of %s: %s", self.path, exc)
        try:
            self.f.flush()  # (a failed close would leave h5py's objects half released)
            self.f.close()
        except Exception as exc:  # noqa: BLE001 - e.g. a full or read-only disk
            # its last writes cannot be made: let go of it (no crash at exit) and keep
            # the .part name, as for the file of a killed writer (what was flushed reads)
            log.error("closing %s failed (%s): left as it was at its last flush",
                      self.path, short(exc))
            let_go(self.f, self.path)
            return self.path, None
        _fsync(self.path)  # on disk before it is called complete: a power cut
        final = finalize(self.path)  # after the rename cannot damage a closed file
        _fsync(final.parent)
        return final, summ


def _fsync(path: Path) -> None:
    """Push a file's (or a folder's) data to the disk; best effort."""
    try:
        fd = os.open(path, os.O_RDONLY)
    except OSError as exc:
        log.debug("cannot open %s to sync it: %s", path, exc)
        return
    try:
        os.fsync(fd)
    except OSError as exc:  # e.g. folders on Windows
        log.debug("cannot sync %s: %s", path, exc)
    finally:
        os.close(fd)


_MAX_NAME_ATTEMPTS = 1000


def _write_error(exc: BaseException, path: Path, what: str) -> StoreError:
    full = disk_full_error(exc, path, what)
    return full if full is not None else StoreError(f"cannot {what} {path}: {short(exc)}")


def _initial_image(station: str, t_ns: int, period_start: int, rollover_ns: int,
                   attrs: dict[str, Any], specs: list[S.SourceSpec],
                   compression: str | None) -> bytes:
    """The bytes of a new raw file (every group, dataset and attribute), built in
    memory: a full disk then fails one plain write, never HDF5 half-way through
    creating the file (which leaves HDF5 in a state that crashes the process)."""
    buf = io.BytesIO()
    with h5py.File(buf, "w", libver="latest") as f:
        _write_root_attrs(f, station, t_ns, period_start, rollover_ns, attrs)
        root = f.create_group(S.SOURCES_GROUP)
        for s in specs:
            _create_source(root, s, compression)
    return buf.getvalue()


def _write_new(directory: Path, station: str, t_ns: int, image: bytes) -> Path:
    """Write ``image`` to a hidden new file (readers do not look at it yet).

    A full or read-only file system raises :class:`DiskFullError` at once,
    and the file that could not be written whole is removed.
    """
    first = S.file_name(station, t_ns, 0, part=True)
    for k in range(_MAX_NAME_ATTEMPTS):
        tmp = directory / f".{first}.{os.getpid()}-{k}.new"
        try:
            fd = os.open(tmp, os.O_WRONLY | os.O_CREAT | os.O_EXCL | getattr(os, "O_BINARY", 0),
                         0o644)
        except FileExistsError:  # left by a killed writer with our pid: try the next
            continue
        except OSError as exc:
            raise _write_error(exc, directory / first, "create") from exc
        try:
            view = memoryview(image)
            while view:
                view = view[os.write(fd, view):]
            os.fsync(fd)
        except OSError as exc:
            os.close(fd)
            tmp.unlink(missing_ok=True)
            raise _write_error(exc, directory / first, "create") from exc
        os.close(fd)
        return tmp
    raise StoreError(f"cannot create a raw file in {directory}: {_MAX_NAME_ATTEMPTS} "
                     f"temporary names for {first} are taken")


def _publish(tmp: Path, directory: Path, station: str, t_ns: int) -> Path:
    """Give the new file (open, in SWMR mode) a ``.h5.part`` name no file has.

    A bounded number of names is tried; the name appears atomically (a hard
    link), so a reader never sees the file before it is ready to be followed.
    """
    for seq in range(_MAX_NAME_ATTEMPTS):
        final = directory / S.file_name(station, t_ns, seq)
        part = directory / S.file_name(station, t_ns, seq, part=True)
        if final.exists() or part.exists():
            continue
        try:
            os.link(tmp, part)
        except FileExistsError:
            continue
        except OSError as exc:
            raise _write_error(exc, part, "create") from exc
        try:
            tmp.unlink()
        except OSError as exc:  # e.g. Windows will not remove an open file's name
            log.debug("temporary name %s of %s stays: %s", tmp, part, exc)
        return part
    raise StoreError(
        f"cannot create a raw file in {directory}: {_MAX_NAME_ATTEMPTS} names for "
        f"{S.file_name(station, t_ns, 0)} are taken"
    )


def _write_root_attrs(f: h5py.File, station: str, t_ns: int, period_start: int,
                      rollover_ns: int, attrs: dict[str, Any]) -> None:
    a = f.attrs
    a[S.ATTR_VERSION] = np.int64(S.SCHEMA_VERSION)
    a[S.ATTR_KIND] = S.KIND
    a["station"] = station
    a["start_ns"] = np.int64(t_ns)
    a["period_start_ns"] = np.int64(period_start)
    a["period_end_ns"] = np.int64(period_start + rollover_ns)
    a["rollover_s"] = rollover_ns / 1e9
    a["created_ns"] = np.int64(now_ns())
    a["writer"] = f"bshm {__version__}"
    for k, v in attrs.items():
        a[k] = v


def _filters(compression: str | None) -> dict[str, Any]:
    """Dataset filters: compression, and a Fletcher32 checksum per chunk
    (a flipped bit then fails the read instead of returning wrong data)."""
    if compression == "lzf":
        return {"compression": "lzf", "shuffle": True, "fletcher32": True}
    if compression == "gzip":
        return {"compression": "gzip", "compression_opts": 4, "shuffle": True,
                "fletcher32": True}
    return {"fletcher32": True}


def _create_source(root: h5py.Group, spec: S.SourceSpec,
                   compression: str | None) -> dict[str, h5py.Dataset]:
    comp = _filters(compression)
    nch = len(spec.channels)
    g = root.create_group(spec.name)
    ga = g.attrs
    ga["kind"] = spec.kind
    ga["fs"] = float(spec.fs)
    ga["timing"] = spec.timing
    ga["n_channels"] = np.int64(nch)
    ch = spec.channels
    ga["channel_names"] = [c.name for c in ch]
    ga["channel_quantities"] = [c.quantity for c in ch]
    ga["channel_units"] = [c.unit for c in ch]
    ga["channel_locations"] = np.array(
        [tuple(float(v) for v in c.location) for c in ch], dtype=np.float64).reshape(-1, 3)
    ga["channel_directions"] = [c.direction for c in ch]
    ga["channel_calibrations"] = [c.calibration for c in ch]
    rows = max(64, min(16384, _CHUNK_BYTES // (4 * nch)))
    ds: dict[str, h5py.Dataset] = {}
    d = g.create_dataset(S.DATA, shape=(0, nch), maxshape=(None, nch), dtype=np.float32,
                         chunks=(rows, nch), **comp)
    d.attrs["units"] = [c.unit for c in ch]
    ds[S.DATA] = d
    if spec.timing == "regular":
        ds[S.BLOCKS] = g.create_dataset(S.BLOCKS, shape=(0,), maxshape=(None,),
                                        dtype=S.BLOCK_DTYPE, chunks=(512,), fletcher32=True)
    else:
        ds[S.TIME] = g.create_dataset(S.TIME, shape=(0,), maxshape=(None,), dtype=np.int64,
                                      chunks=(8192,), **comp)
    ds[S.GAPS] = g.create_dataset(S.GAPS, shape=(0,), maxshape=(None,), dtype=S.GAP_DTYPE,
                                  chunks=(64,), fletcher32=True)
    nc = len(spec.counters)
    c = g.create_dataset(S.COUNTERS, data=np.zeros(nc, np.int64),
                         **({"chunks": (nc,), "fletcher32": True} if nc else {}))
    c.attrs["names"] = list(spec.counters)
    ds[S.COUNTERS] = c
    return ds


def _source_datasets(g: h5py.Group, spec: S.SourceSpec) -> dict[str, h5py.Dataset]:
    """The datasets :func:`_create_source` made for ``spec``, from an open file."""
    names = [S.DATA, S.BLOCKS if spec.timing == "regular" else S.TIME, S.GAPS, S.COUNTERS]
    return {n: g[n] for n in names}


def finalize(part: Path) -> Path:
    """Rename ``x.h5.part`` to ``x.h5`` without overwriting an existing file."""
    final = part.with_name(part.name[: -len(".part")])
    for seq in range(_MAX_NAME_ATTEMPTS):
        cand = final if seq == 0 else final.with_name(final.name[:-3] + f"-{seq}.h5")
        try:
            os.link(part, cand)
        except FileExistsError:
            continue
        except OSError as exc:
            full = disk_full_error(exc, cand, "rename to")
            if full is not None:
                raise full from exc
            if cand.exists():  # no hard links on this file system
                continue
            os.replace(part, cand)
            break
        os.unlink(part)
        break
    else:
        raise StoreError(f"cannot rename {part}: {_MAX_NAME_ATTEMPTS} final names are taken")
    log.info("raw file %s closed", cand)
    return cand
