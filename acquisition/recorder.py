"""The recorder: every source of a station, concurrently, into one set of HDF5 files.

One thread per driver reads its source and puts blocks into a bounded
queue through a :class:`QueueSink`; ONE writer thread owns the
:class:`bshm.store.RawWriter` (all sources in the same hourly files, each at
its own rate). Nothing is dropped silently: if the queue is full (the disk
stalls), the block is not written, the log says so, and the loss is recorded
as ``samples_lost`` plus a gap covering exactly the missing samples. A full
(or read-only) disk does not stall the queue: the writer keeps the samples in
memory up to ``disk_buffer_bytes`` and writes them when space returns; what
it cannot keep it records as gaps "disk full" (see the writer). Gaps and
counters never wait for the queue (they are small and kept aside until the
writer takes them). A status line per source is logged every few seconds.
SIGINT/SIGTERM stop the drivers, the writer drains the queue, flushes and
closes the files (``*.h5.part`` renamed to ``*.h5``).
"""

from __future__ import annotations

import logging
import queue
import signal
import threading
import time
from typing import Any

import numpy as np

from bshm.timeutil import NS_PER_S

log = logging.getLogger(__name__)

_STOP = object()


class QueueSink:
    """A :class:`~bshm.acquisition.base.Sink` that hands blocks to the writer thread.

    Parameters
    ----------
    q : queue.Queue
        Bounded queue of blocks read by the writer thread.
    fs : dict
        Nominal rate (Hz) of each source, to size the gap of a lost block.
    """

    def __init__(self, q: queue.Queue, fs: dict[str, float]) -> None:
        self._q = q
        self._fs = dict(fs)
        self._lock = threading.Lock()
        self._gaps: list[tuple[str, int, int, str]] = []
        self._counts: dict[tuple[str, str], int] = {}
        self.blocks_lost = 0
        self.samples_lost = 0
        self._last_warn = 0.0

    def write(self, source, data, *, t0_ns=None, times_ns=None, device_t0_ns=None) -> None:
        """Queue a block; if the queue is full, record its loss (never blocks)."""
        arr = np.asarray(data, dtype=np.float32)
        item = (source, arr, t0_ns, None if times_ns is None else np.asarray(times_ns),
                device_t0_ns)
        try:
            self._q.put_nowait(item)
        except queue.Full:
            self._overflow(source, arr, t0_ns, times_ns)

    def add_gap(self, source, start_ns, end_ns, reason) -> None:
        """Keep a gap for the writer thread."""
        with self._lock:
            self._gaps.append((source, int(start_ns), int(end_ns), str(reason)))

    def count(self, source, name, n=1) -> None:
        """Add to a quality counter (summed until the writer takes it)."""
        with self._lock:
            key = (source, name)
            self._counts[key] = self._counts.get(key, 0) + int(n)

    def take(self) -> tuple[list, dict]:
        """Gaps and counter increments accumulated since the last call."""
        with self._lock:
            gaps, counts = self._gaps, self._counts
            self._gaps, self._counts = [], {}
        return gaps, counts

    def _overflow(self, source, arr, t0_ns, times_ns) -> None:
        n = int(arr.shape[0])
        if times_ns is not None:
            t = np.asarray(times_ns, dtype=np.int64)
            start = int(t[0])
            end = int(t[-1]) + int(NS_PER_S / self._fs.get(source, 1.0))
        else:
            start = int(t0_ns)
            end = start + int(round(n * NS_PER_S / self._fs.get(source, 1.0)))
        with self._lock:
            self.blocks_lost += 1
            self.samples_lost += n
            self._gaps.append((source, start, end, "recorder queue full (disk too slow)"))
            self._counts[(source, "samples_lost")] = (
                self._counts.get((source, "samples_lost"), 0) + n
            )
        now = time.monotonic()
        if now - self._last_warn > 5.0:
            self._last_warn = now
            log.warning(
                "writer queue full (%s blocks): %s block(s), %s samples not written so far; "
                "recorded as gaps and samples_lost", self._q.maxsize, self.blocks_lost,
                self.samples_lost,
            )


class Recorder:
    """Record every source of a station until stopped or for a duration.

    Parameters
    ----------
    station : bshm.config.Station
    duration_s : float, optional
        Stop after this many seconds (default: until SIGINT/SIGTERM or :meth:`stop`).
    status_interval_s : float
        Seconds between status log lines.
    queue_blocks : int
        Capacity of the writer queue (blocks of about 0.25 s each).
    drivers : list of Driver, optional
        Use these instead of building them from the config (tests).
    disk_buffer_bytes : int
        Most bytes of samples kept in memory while the disk is full (default
        64 MiB); later samples are dropped and recorded as gaps "disk full".
    """

    def __init__(
        self,
        station,
        *,
        duration_s: float | None = None,
        status_interval_s: float = 5.0,
        queue_blocks: int = 2000,
        drivers: list | None = None,
        disk_buffer_bytes: int = 64 * 1024 * 1024,
    ) -> None:
        from bshm.acquisition.drivers import make_driver

        self.station = station
        self.duration_s = duration_s
        self.disk_buffer_bytes = int(disk_buffer_bytes)
        self.status_interval_s = float(status_interval_s)
        self.drivers = drivers if drivers is not None else [
            make_driver(s) for s in station.sources
        ]
        self.queue: queue.Queue = queue.Queue(maxsize=int(queue_blocks))
        self.sink = QueueSink(self.queue, {d.name: float(d.spec().fs) for d in self.drivers})
        self._stop = threading.Event()
        self.writer: Any = None
        self.paths: list = []
        self._write_errors = 0
        self._driver_failed = False
        self.sources_without_data: list[str] = []
        #: samples per source not kept because the disk was full (after run())
        self.samples_dropped: dict[str, int] = {}
        #: samples of each source handed to the writer
        self.samples_written: dict[str, int] = {d.name: 0 for d in self.drivers}

    def stop(self) -> None:
        """Ask the recorder to stop (thread-safe, signal-safe)."""
        self._stop.set()

    def run(self) -> int:
        """Record; return the exit code (0: clean stop, 1: a driver or the writer failed)."""
        from bshm.store import RawWriter

        st = self.station
        specs = [d.spec() for d in self.drivers]
        self.writer = RawWriter(st.data_dir, st.name, specs, rollover_s=st.rollover_s,
                                on_disk_full="buffer", max_buffer_bytes=self.disk_buffer_bytes)
        old = self._install_signals()
        threads = [
            threading.Thread(target=self._drive, args=(d,), name=f"driver-{d.name}", daemon=True)
            for d in self.drivers
        ]
        wthread = threading.Thread(target=self._write_loop, name="writer", daemon=True)
        log.info(
            "recording station %s (%s) into %s%s", st.name,
            ", ".join(f"{d.name}@{d.spec().fs:g}Hz" for d in self.drivers), st.data_dir,
            f" for {self.duration_s:g} s" if self.duration_s else "",
        )
        wthread.start()
        for t in threads:
            t.start()
        t_start = time.monotonic()
        try:
            self._supervise(t_start)
        finally:
            self._stop.set()
            for t in threads:
                t.join(timeout=15)
                if t.is_alive():
                    log.error("%s did not stop in time", t.name)
            self.queue.put(_STOP)
            wthread.join()
            self._close_writer()
            self.paths = list(self.writer.paths)
            self._restore_signals(old)
            elapsed = time.monotonic() - t_start
            self._log_status(elapsed, final=True)
            self.sources_without_data = self._check_sources(elapsed)
        self.samples_dropped = {k: v for k, v in self.writer.dropped.items() if v}
        if self.samples_dropped:
            log.error("samples not kept because the disk was full: %s (stored as gaps "
                      "\"disk full\" and in samples_lost where the disk allowed)",
                      ", ".join(f"{k} {v}" for k, v in sorted(self.samples_dropped.items())))
        return 1 if (self._driver_failed or self._write_errors or self.samples_dropped
                     or self.sources_without_data) else 0

    def _close_writer(self) -> None:
        """Close the files; on a full disk the samples still in memory are lost
        (the writer records them as far as the disk allows): one ERROR line."""
        from bshm.errors import DiskFullError

        try:
            self.writer.close()
        except DiskFullError as exc:
            self._write_errors += 1
            log.error("%s", exc)

    def _check_sources(self, elapsed: float) -> list[str]:
        """Sources that stored no sample at all: a station whose device never came
        up is not a successful recording (one ERROR line each; exit code 1)."""
        dead = []
        for d in self.drivers:
            if self.samples_written.get(d.name, 0):
                continue
            dead.append(d.name)
            why = d.status().get("last_error") or "the device sent no valid data"
            log.error("%s: no sample recorded in %.1f s (%s); the outage is stored as a gap",
                      d.name, elapsed, why)
        return dead

    # -- threads -------------------------------------------------------------------
    def _drive(self, driver) -> None:
        try:
            driver.run(self.sink, self._stop)
        except Exception:
            self._driver_failed = True
            log.exception("driver %s failed; the other sources go on", driver.name)

    def _write_loop(self) -> None:
        w = self.writer
        last_flush = time.monotonic()
        while True:
            try:
                item = self.queue.get(timeout=0.2)
            except queue.Empty:
                item = None
            self._apply_side()
            if item is _STOP:
                self._apply_side()
                return
            if item is not None:
                source, arr, t0, times, dev_t0 = item
                try:
                    if times is not None:
                        w.write(source, arr, times_ns=times)
                    else:
                        w.write(source, arr, t0_ns=t0, device_t0_ns=dev_t0)
                    self.samples_written[source] = self.samples_written.get(source, 0) + len(arr)
                except Exception as exc:  # noqa: BLE001 - keep recording the rest
                    self._write_errors += 1
                    log.error("%s: block of %s samples not stored: %s", source, len(arr), exc)
                    self.sink.count(source, "samples_lost", len(arr))
            if time.monotonic() - last_flush >= 1.0:
                try:
                    w.flush()
                except Exception as exc:  # noqa: BLE001
                    self._write_errors += 1
                    log.error("flush failed: %s", exc)
                last_flush = time.monotonic()

    def _apply_side(self) -> None:
        gaps, counts = self.sink.take()
        for source, a, b, reason in gaps:
            try:
                self.writer.add_gap(source, a, b, reason)
            except Exception as exc:  # noqa: BLE001
                self._write_errors += 1
                log.error("%s: gap not stored: %s", source, exc)
        for (source, name), n in counts.items():
            try:
                self.writer.count(source, name, n)
            except Exception as exc:  # noqa: BLE001
                self._write_errors += 1
                log.error("%s: counter %s not stored: %s", source, name, exc)

    # -- supervision ------------------------------------------------------------------
    def _supervise(self, t_start: float) -> None:
        last_status = t_start
        self._prev: dict[str, tuple[float, int]] = {}
        while not self._stop.wait(0.1):
            now = time.monotonic()
            if self.duration_s is not None and now - t_start >= self.duration_s:
                log.info("duration of %g s reached", self.duration_s)
                return
            if now - last_status >= self.status_interval_s:
                self._log_status(now - t_start)
                last_status = now

    def _log_status(self, elapsed: float, final: bool = False) -> None:
        now = time.monotonic()
        prev = getattr(self, "_prev", {})
        for d in self.drivers:
            s = d.status()
            samples = int(s.get("samples", 0))
            t_prev, n_prev = prev.get(d.name, (now - max(elapsed, 1e-9), 0))
            rate = (samples - n_prev) / max(now - t_prev, 1e-9)
            prev[d.name] = (now, samples)
            if s.get("connected"):
                link = "connected"
            elif samples:
                link = "NOT connected"
            else:
                link = f"NOT connected, no data yet ({s.get('last_error') or 'no answer'})"
            log.info(
                "%s%s: %.1f samples/s, frames ok %s bad %s, gaps %s, lost %s, %s; queue %s/%s%s",
                "final " if final else "", d.name, rate if not final else samples / max(
                    elapsed, 1e-9), s.get("frames_ok", "-"), s.get("frames_bad", "-"),
                s.get("gaps", 0), s.get("samples_lost", 0), link,
                self.queue.qsize(), self.queue.maxsize, self._disk_status(),
            )
        self._prev = prev

    def _disk_status(self) -> str:
        w = self.writer
        if w is None or not w.disk_full:
            return ""
        from bshm.store.spill import size_text

        return (f"; DISK FULL: {size_text(w.buffered_bytes())} in memory of "
                f"{size_text(self.disk_buffer_bytes)}")

    def _install_signals(self):
        if threading.current_thread() is not threading.main_thread():
            return None
        old = {}
        for sig in (signal.SIGINT, signal.SIGTERM):
            old[sig] = signal.signal(sig, self._on_signal)
        return old

    def _on_signal(self, signum, frame) -> None:  # noqa: ARG002 - signal API
        log.info("%s received: stopping", signal.Signals(signum).name)
        self._stop.set()

    @staticmethod
    def _restore_signals(old) -> None:
        if old:
            for sig, handler in old.items():
                signal.signal(sig, handler)
