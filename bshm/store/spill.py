"""What :class:`bshm.store.RawWriter` needs to survive a full disk.

* :func:`check_space`: a free-space check before every write to HDF5, so
  that HDF5 itself normally never meets ENOSPC (after a failed write HDF5's
  state of that file cannot be trusted: a chunk whose write failed may be
  dropped while the index that points at it is written later).
* Pending entries: a write the writer could not place in a file yet (no
  file can be created on the full disk, or the samples of an abandoned
  file) is kept as a small tuple, replayed in order once space returns:
  ``("r", source, data, t0_ns, k0, device_t0_ns)`` (regular block),
  ``("t", source, data, times_ns)`` (timestamped block),
  ``("g", source, start_ns, end_ns, reason)`` (gap).
* :class:`FullEpisode`: the log lines and figures of one disk-full episode.
* :class:`LossKeeping`: the writer's methods that bound the memory, drop
  and account for samples, give up at close, and abandon a file HDF5 failed
  to write (a mixin of :class:`~bshm.store.RawWriter`).
"""

from __future__ import annotations

import errno
import logging
import os
import shutil
import time
from collections import deque
from pathlib import Path

import numpy as np

from bshm.errors import DiskFullError, StoreError
from bshm.store import schema as S
from bshm.store.livefile import LiveFile
from bshm.timeutil import now_ns

log = logging.getLogger("bshm.store.writer")

#: Counter that a writer buffering on a full disk adds to every source: samples
#: it could not keep (also counted in ``samples_lost``).
DISK_FULL_COUNTER = "samples_lost_disk_full"
#: Gap reason of samples not kept because the disk was full.
REASON_DROPPED = "disk full: not kept (memory buffer full)"
REASON_AT_CLOSE = "disk full: in memory when the writer closed"
#: Room a file needs per source besides its samples (partly filled chunks
#: rewritten, chunk index, metadata), bytes.
SLACK_PER_SOURCE = 128 * 1024
#: Room a flush of gaps and counters only needs per source, bytes.
META_SLACK = 16 * 1024


def check_space(directory: Path, need: int, reserve: int) -> None:
    """Raise :class:`DiskFullError` unless ``need + reserve`` bytes are free.

    Also refuses a read-only file system (EROFS) where ``os.statvfs`` tells.
    A file system that reports no size at all is not checked (HDF5's own
    errors still tell, see the writer).
    """
    try:
        if hasattr(os, "statvfs"):
            st = os.statvfs(directory)
            if st.f_flag & getattr(os, "ST_RDONLY", 1):
                raise DiskFullError(f"cannot write {directory}: the file system is read-only",
                                    path=str(directory), errno=errno.EROFS)
            if not st.f_blocks:  # a file system that tells nothing (some FUSE mounts)
                return
            free = st.f_bavail * st.f_frsize
        else:  # pragma: no cover - Windows
            free = shutil.disk_usage(directory).free
    except OSError as exc:  # the folder vanished, the medium went away ...
        code = exc.errno if exc.errno in (errno.ENOSPC, errno.EROFS) else errno.ENOSPC
        raise DiskFullError(f"cannot write {directory}: {exc.strerror or exc}",
                            path=str(directory), errno=code) from exc
    if free < need + reserve:
        raise DiskFullError(
            f"cannot write {directory}: the disk is full ({_size(free)} free, "
            f"{_size(need + reserve)} needed)", path=str(directory), errno=errno.ENOSPC)


def entry_nbytes(e: tuple) -> int:
    """Memory held by an entry's samples (0 for a gap)."""
    if e[0] == "r":
        return int(e[2].nbytes)
    if e[0] == "t":
        return int(e[2].nbytes + e[3].nbytes)
    return 0


def entry_samples(e: tuple) -> int:
    """Samples (rows) of an entry (0 for a gap)."""
    return 0 if e[0] == "g" else int(e[2].shape[0])


def entry_span(e: tuple, fs: float) -> tuple[int, int]:
    """``[first sample, just after the last)`` of a data entry (ns).

    Regular blocks end where the next sample of their grid would be;
    timestamped ones 1 ns after their last sample, so that the span never
    holds a sample that was kept.
    """
    if e[0] == "r":
        _, _, data, t0, k0, _ = e
        n = data.shape[0]
        return int(S.grid_times(t0, k0, fs)), int(S.grid_times(t0, k0 + n, fs))
    times = e[3]
    return int(times[0]), int(times[-1]) + 1


def _size(n: float) -> str:
    for unit in ("B", "KiB", "MiB", "GiB"):
        if abs(n) < 1024 or unit == "GiB":
            return f"{n:.0f} {unit}" if unit == "B" else f"{n:.1f} {unit}"
        n /= 1024
    return f"{n:.1f} GiB"  # pragma: no cover


def size_text(n: float) -> str:
    """Bytes for a log line: ``"64.0 MiB"``."""
    return _size(n)


class DropGap:
    """``[start, end)`` of samples a source could not keep, and why."""

    __slots__ = ("start", "end", "reason")

    def __init__(self, start: int, end: int, reason: str) -> None:
        self.start, self.end, self.reason = start, end, reason


class SourceState:
    """Per-source writer state that survives rollover."""

    def __init__(self, spec: S.SourceSpec) -> None:
        self.spec = spec
        self.nch = len(spec.channels)
        self.last_ns: int | None = None  # time of the last sample placed in a file
        self.accepted_ns: int | None = None  # ... accepted (placed, pending or dropped)
        self.pending_gaps: list[tuple[int, int, bytes]] = []
        self.counters = np.zeros(len(spec.counters), dtype=np.int64)  # current file
        self.counters_dirty = False
        self.drop_gap: DropGap | None = None  # open record of dropped samples
        self.dropped = 0  # samples not kept because the disk was full (whole life)

    def add_count(self, name: str, n: int) -> None:
        if name in self.spec.counters and n:
            self.counters[self.spec.counters.index(name)] += int(n)
            self.counters_dirty = True



class FullEpisode:
    """One stretch of time during which the disk refused the writer's data."""

    def __init__(self, exc: DiskFullError, max_buffer_bytes: int, retry_s: float) -> None:
        self.error = exc
        self.since = time.monotonic()
        self.since_ns = now_ns()
        self.kept = 0  # samples accepted into memory meanwhile
        self.dropped: dict[str, int] = {}
        self.bound_logged = False
        log.warning("%s: keeping new samples in memory (up to %s) and trying again every "
                    "%g s", exc, _size(max_buffer_bytes), retry_s)

    def note_bound(self, buffered: int, max_buffer_bytes: int) -> None:
        """Log once that the memory bound is reached."""
        if not self.bound_logged:
            self.bound_logged = True
            log.warning(
                "disk still full after %.0f s: the memory buffer is full (%s of %s); new "
                "samples are dropped and recorded as gaps \"disk full\" until space returns",
                time.monotonic() - self.since, _size(buffered), _size(max_buffer_bytes))

    def end(self, written: int) -> None:
        """Log the recovery line."""
        lost = sum(self.dropped.values())
        more = "" if not lost else (
            f"; {lost} samples could not be kept (" + ", ".join(
                f"{k}: {v}" for k, v in sorted(self.dropped.items()) if v)
            + "), recorded as gaps \"disk full\" and in samples_lost")
        log.info("disk space is back after %.1f s: wrote %d samples kept in memory%s",
                 time.monotonic() - self.since, written, more)



def after(e: tuple, last_ns: int, fs: float) -> tuple | None:
    """The part of a data entry after ``last_ns`` (None if nothing is left)."""
    if e[0] == "r":
        _, src, data, t0, k0, dev = e
        i = S.grid_index(t0, k0, fs, last_ns + 1)
        return None if i >= data.shape[0] else ("r", src, data[i:], t0, k0 + i, dev)
    if e[0] == "t":
        _, src, data, times = e
        i = int(np.searchsorted(times, last_ns, side="right"))
        return None if i >= times.shape[0] else ("t", src, data[i:], times[i:])
    return e


def on_disk(path: Path, specs) -> dict[str, tuple[int | None, int, np.ndarray | None]]:
    """What a raw file holds per source: (time of its last readable sample or
    None, number of gap records, counters)."""
    from bshm.store.fileindex import OpenFile, block_table, n_timestamped

    of = OpenFile(path)
    try:
        out = {}
        for spec in specs:
            if spec.timing == "regular":
                lasts = block_table(of, spec.name, spec.fs)[5]
                last = int(lasts[-1]) if lasts.size else None
            else:
                n = n_timestamped(of, spec.name)
                last = int(of.require(spec.name, S.TIME)[n - 1]) if n else None
            g = of.dataset(spec.name, S.GAPS)
            c = of.dataset(spec.name, S.COUNTERS)
            out[spec.name] = (last, 0 if g is None else int(g.shape[0]),
                              None if c is None else np.asarray(c[...], np.int64))
        return out
    finally:
        of.close()


class LossKeeping:
    """The part of :class:`bshm.store.RawWriter` that keeps, drops and accounts
    for samples while the disk is full (a mixin: it works on the writer's
    state, declared here for the type checker)."""

    _src: dict[str, SourceState]
    _backlog: deque[tuple]
    _full: FullEpisode | None
    _current: LiveFile | None
    _older: list[LiveFile]
    _specs: list[S.SourceSpec]
    paths: list[Path]
    directory: Path
    on_disk_full: str
    max_buffer_bytes: int
    flush_interval_s: float

    def _accept(self, entries: list[tuple]) -> None:  # pragma: no cover - the writer's
        raise NotImplementedError

    def buffered_bytes(self) -> int:  # pragma: no cover - the writer's (locked)
        raise NotImplementedError

    def _over_bound(self, entry: tuple) -> bool:
        """Once an entry does not fit in the memory bound, every new sample of
        every source is dropped until the disk takes data again."""
        ep = self._full
        if self.on_disk_full != "buffer" or ep is None:
            return False
        if ep.bound_logged:
            return True
        buffered = self.buffered_bytes()
        if buffered + entry_nbytes(entry) <= self.max_buffer_bytes:
            return False
        ep.note_bound(buffered, self.max_buffer_bytes)
        return True

    def _drop(self, st: SourceState, entry: tuple, reason: str = REASON_DROPPED) -> None:
        """Give up a data entry: a gap over its samples and the loss counters."""
        n = entry_samples(entry)
        a, b = entry_span(entry, st.spec.fs)
        g = st.drop_gap
        if g is not None and g.reason == reason and a <= g.end + 2 * S.period_ns(st.spec.fs):
            g.end = max(g.end, b)
        else:
            self._close_drop_gap(st)
            st.drop_gap = DropGap(a, b, reason)
        st.dropped += n
        st.add_count("samples_lost", n)
        st.add_count(DISK_FULL_COUNTER, n)
        if self._full is not None:
            d = self._full.dropped
            d[st.spec.name] = d.get(st.spec.name, 0) + n

    def _close_drop_gap(self, st: SourceState) -> None:
        g, st.drop_gap = st.drop_gap, None
        if g is not None:
            self._accept([("g", st.spec.name, g.start, g.end, S.encode_reason(g.reason))])

    def _disk_full(self, exc: DiskFullError) -> None:
        """The disk refused a write: raise, or start (or go on with) an episode."""
        if self.on_disk_full == "raise":
            raise exc
        if self._full is None:
            self._full = FullEpisode(exc, self.max_buffer_bytes, self.flush_interval_s)
        self._full.error = exc

    def _end_episode(self, written: int) -> None:
        ep, self._full = self._full, None
        for st in self._src.values():
            self._close_drop_gap(st)
        if ep is not None:
            ep.end(written)

    def _give_up_buffered(self) -> dict[str, int]:
        """Close time on a full disk: every sample still in memory becomes a gap."""
        lost: dict[str, int] = {}
        entries = []
        for lf in self._older + ([self._current] if self._current else []):
            for name, fsrc in lf.src.items():
                entries += [(e[0], name, *e[1:]) for e in fsrc.uncommitted()]
            lf.discard_uncommitted()
        entries += list(self._backlog)
        self._backlog.clear()
        for e in entries:
            st = self._src[e[1]]
            if e[0] == "g":
                st.pending_gaps.append(e[2:])
                continue
            self._drop(st, e, REASON_AT_CLOSE)
            lost[e[1]] = lost.get(e[1], 0) + entry_samples(e)
        for st in self._src.values():
            g, st.drop_gap = st.drop_gap, None
            if g is not None:
                st.pending_gaps.append((g.start, g.end, S.encode_reason(g.reason)))
        log.error("disk full when closing %s: %s samples kept in memory are not written "
                  "(%s)", self.directory, sum(lost.values()),
                  ", ".join(f"{k}: {v}" for k, v in sorted(lost.items())) or "none")
        return lost

    def _flush_meta_at_close(self) -> None:
        """Put the loss into the file as far as the disk allows: the counters are
        rewritten in place (no new space needed), the gap records only if a
        little space is left (they may need a new chunk). A write HDF5 fails
        leaves the file as its last flush left it."""
        cur = self._current
        if cur is None:
            log.error("disk full: the lost samples are not recorded in any file (none "
                      "could be created)")
            return
        gaps = {n: st.pending_gaps for n, st in self._src.items() if st.pending_gaps}
        try:
            cur.flush(None, {n: st.counters for n, st in self._src.items()})
        except StoreError as exc:  # HDF5 failed: its state of the file is unreliable
            log.error("disk full: the lost samples are not recorded in %s (%s)", cur.path, exc)
            self._abandon(cur)
            return
        for st in self._src.values():
            st.counters_dirty = False
        if not gaps:
            return
        try:
            check_space(self.directory, len(self._specs) * META_SLACK, 0)
            cur.flush(gaps, None)
        except StoreError as exc:
            log.error("disk full: the gap records of the lost samples are not written in "
                      "%s (%s); its counters samples_lost include them", cur.path, exc)
            if getattr(exc, "path", None) == str(cur.path):  # HDF5 failed, not the check
                self._abandon(cur)
            return
        for st in self._src.values():
            st.pending_gaps = []

    def _abandon(self, lf: LiveFile) -> None:
        """HDF5 failed to write ``lf``: keep it as its last flush left it, and
        put the samples it had not written yet back in line for a new file.

        A failed flush may still have put part of its samples, gaps and
        counters on disk (it is not atomic; SWMR only keeps the file
        consistent), so the abandoned file is read back and only what it does
        not hold goes to the new file: nothing is stored twice.
        """
        pending = {name: fsrc.uncommitted() for name, fsrc in lf.src.items()}
        path = lf.abandon()
        self.paths.append(path)
        try:
            disk = on_disk(path, self._specs)
        except Exception as exc:  # noqa: BLE001 - unreadable: it holds no readable sample
            log.warning("cannot read back the abandoned %s (%s): its samples since the "
                        "last flush go to a new file", path, exc)
            disk = {}
        entries = []
        for name, es in pending.items():
            st, fsrc = self._src[name], lf.src[name]
            last, n_gaps, counts = disk.get(name, (None, fsrc.gaps_written, None))
            entries += [(e[0], name, *e[1:]) for e in es]
            if last is not None:
                entries = [x for x in (after(e, last, st.spec.fs) if e[1] == name
                                       else e for e in entries) if x is not None]
            if lf is self._current:  # its counters and gaps: what the file holds
                st.counters -= counts if counts is not None else fsrc.counters_written
                st.counters_dirty = True
                del st.pending_gaps[:max(0, n_gaps - fsrc.gaps_written)]
        if lf is self._current:
            self._current = None
        elif lf in self._older:
            self._older.remove(lf)
        self._backlog.extendleft(reversed(entries))

    def _buffered_samples(self) -> int:
        files = self._older + ([self._current] if self._current else [])
        return (sum(s.pending_rows for lf in files for s in lf.src.values())
                + sum(entry_samples(e) for e in self._backlog))
