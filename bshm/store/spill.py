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
"""

from __future__ import annotations

import errno
import logging
import os
import shutil
import time
from pathlib import Path

import numpy as np

from bshm.errors import DiskFullError
from bshm.store import schema as S
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
    """
    try:
        if hasattr(os, "statvfs"):
            st = os.statvfs(directory)
            if st.f_flag & getattr(os, "ST_RDONLY", 1):
                raise DiskFullError(f"cannot write {directory}: the file system is read-only",
                                    path=str(directory), errno=errno.EROFS)
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
