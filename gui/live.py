"""Live mode: follow the HDF5 file an ``acquire`` process is writing.

A :class:`LiveFollower` thread owns its own SWMR reader, calls
``RawReader.refresh()`` a few times a second and queues the new samples.
On the GUI thread a 25 Hz ``QTimer`` drains the queue into a preallocated
:class:`~bshm.gui.ringbuffer.RingBuffer` and calls ``setData`` on views of
it: no allocation per frame, memory bounded by the window, and the reader
never blocks painting.
"""

from __future__ import annotations

import logging
import queue
import threading
import time

import numpy as np
import pyqtgraph as pg
from bshm.gui.plotting import STALE_PEN
from bshm.gui.ringbuffer import RingBuffer, peak_decimate
from bshm.gui.signal_view import pen_for
from pyqtgraph.Qt import QtCore, QtWidgets

from bshm.errors import BshmError
from bshm.units import with_unit

log = logging.getLogger(__name__)

NS = 1_000_000_000
FRAME_MS = 33  # 30 Hz: 20 fps or more even when a frame is slow


class LiveFollower(QtCore.QThread):
    """Poll a growing raw store and queue ``(times_ns, data)`` chunks.

    Parameters
    ----------
    session : bshm.gui.session.RawSession
        The open folder (or ``.h5.part`` file) ``acquire`` writes. Its reader
        is shared under ``session.lock``: HDF5 cannot hold one SWMR file open
        twice in a process.
    source : str
        Source to follow.
    columns : list of int
        Channel columns to keep.
    out : queue.SimpleQueue
        Receives ``(times_ns (n,), data (n, len(columns)))`` tuples.
    backlog_s : float
        How much history to fetch on start (s).
    poll_s : float
        Time between refreshes (s); latency is about this plus one writer flush.
    """

    sig_failed = QtCore.Signal(str)

    def __init__(
        self,
        session,
        source: str,
        columns: list[int],
        out: queue.SimpleQueue,
        *,
        backlog_s: float = 10.0,
        poll_s: float = 0.2,
    ) -> None:
        super().__init__()
        self.session, self.source, self.columns, self.out = session, source, columns, out
        self.backlog_ns = int(backlog_s * NS)
        self.poll_s = poll_s
        self.stop_event = threading.Event()
        self.polls = 0

    def run(self) -> None:  # noqa: D102 - Qt API
        last = None
        try:
            while not self.stop_event.is_set():
                last = self._poll(last)
                self.polls += 1
                self.stop_event.wait(self.poll_s)
        except BshmError as exc:
            self.sig_failed.emit(str(exc))
        except Exception as exc:  # noqa: BLE001 - reported, logged in full
            log.exception("live follower failed")
            self.sig_failed.emit(f"{type(exc).__name__}: {exc}")

    def _poll(self, last: int | None) -> int | None:
        s = self.session
        with s.lock:
            s.refresh()
            try:
                _, end = s.reader.span(self.source)
            except (BshmError, KeyError, ValueError):
                return last  # nothing written yet
            if last is not None and end <= last:
                return last
            start = end - self.backlog_ns if last is None else last + 1
            rec = s.reader.read(self.source, start, end + 1)
        if len(rec.times_ns):
            self.out.put((rec.times_ns, rec.data[:, self.columns]))
            return int(rec.times_ns[-1])
        return last

    def stop(self, wait_ms: int = 5000) -> None:
        """Ask the thread to end and wait for it."""
        self.stop_event.set()
        self.wait(wait_ms)


class LiveView(QtWidgets.QWidget):
    """Scrolling time series of the newest ``window_s`` seconds.

    Signals
    -------
    sig_stats(dict)
        After each frame: ``latency_s``, ``frame_ms``, ``rate_hz``, ``samples``.
    sig_message(str)
        Errors of the follower.
    """

    sig_stats = QtCore.Signal(dict)
    sig_message = QtCore.Signal(str)

    def __init__(self, parent: QtWidgets.QWidget | None = None) -> None:
        super().__init__(parent)
        self.glw = pg.GraphicsLayoutWidget()
        self.info = QtWidgets.QLabel("not following")
        self.source: str | None = None
        self.state = None  # LiveState of the followed source (set by the main window)
        self.stale = False
        lay = QtWidgets.QVBoxLayout(self)
        lay.setContentsMargins(0, 0, 0, 0)
        lay.addWidget(self.info)
        lay.addWidget(self.glw, 1)
        self.queue: queue.SimpleQueue = queue.SimpleQueue()
        self.follower: LiveFollower | None = None
        self.ring: RingBuffer | None = None
        self.plots: list[pg.PlotItem] = []
        self.curves: list[pg.PlotDataItem] = []
        self.window_s = 10.0
        self.fs = 1.0
        self.frames = 0
        self.last_frame_ms = 0.0
        self.latency_s = float("nan")
        self._rate_t0 = time.monotonic()
        self._rate_n = 0
        self.rate_hz = 0.0
        self.timer = QtCore.QTimer(self, interval=FRAME_MS)
        self.timer.setTimerType(QtCore.Qt.TimerType.PreciseTimer)
        self.timer.timeout.connect(self.tick)

    # -- set-up ------------------------------------------------------------
    def configure(self, channels: list[tuple[str, str]], fs: float, window_s: float = 10.0) -> None:
        """Prepare plots and the ring buffer for ``[(name, unit), ...]`` at ``fs`` Hz.

        The x axis is fixed at ``[-window_s, 0]`` seconds before the newest
        sample (an oscilloscope): scrolling moves the data, not the axes, so
        a frame repaints curves only and no linked view ranges propagate.
        """
        self.stop()
        self.window_s, self.fs = float(window_s), float(fs)
        cap = int(self.window_s * self.fs) + 64
        self.ring = RingBuffer(cap, len(channels))
        self._dx = np.empty(cap + 2)
        self._dy = np.empty((cap + 2, len(channels)), dtype=np.float32)
        self.ds = 1
        self.glw.clear()
        self.plots, self.curves = [], []
        for i, (name, unit) in enumerate(channels):
            p = self.glw.addPlot(row=i, col=0)
            left = p.getAxis("left")
            left.enableAutoSIPrefix(False)
            left.setLabel(with_unit(name, unit))
            left.setWidth(70)
            p.setMouseEnabled(x=False, y=False)
            p.disableAutoRange()
            p.setXRange(-self.window_s, 0, padding=0)
            p.setMenuEnabled(False)
            p.hideButtons()
            if i < len(channels) - 1:
                p.hideAxis("bottom")
            else:
                p.setLabel("bottom", "seconds before the newest sample")
            curve = pg.PlotCurveItem(pen=pen_for(i), connect="finite")
            p.addItem(curve)
            self.plots.append(p)
            self.curves.append(curve)
        self._set_downsampling()
        self.frames = 0
        self._y_ranges = [None] * len(channels)

    def _set_downsampling(self) -> None:
        """Peak decimation to one min/max pair per pixel column (see ``tick``)."""
        if self.ring is None:
            return
        px = max(200, self.glw.width() - 90)
        self.ds = max(1, int(self.ring.capacity // px))

    def resizeEvent(self, event) -> None:  # noqa: D102, N802 - Qt API
        super().resizeEvent(event)
        self._set_downsampling()

    def _update_y_ranges(self, y: np.ndarray) -> None:
        """Rescale a lane only when its data leave it or fill under a third of it."""
        with np.errstate(invalid="ignore"):
            lo = np.nanmin(y, axis=0)
            hi = np.nanmax(y, axis=0)
        for i, p in enumerate(self.plots):
            a, b = float(lo[i]), float(hi[i])
            if not (np.isfinite(a) and np.isfinite(b)):
                continue
            if b - a <= 0:
                a, b = a - 1.0, b + 1.0
            cur = self._y_ranges[i]
            if cur is None or a < cur[0] or b > cur[1] or (b - a) < (cur[1] - cur[0]) / 3:
                pad = 0.1 * (b - a)
                self._y_ranges[i] = (a - pad, b + pad)
                p.setYRange(a - pad, b + pad, padding=0)

    def follow(
        self, session, source: str, channels: list[str] | None = None, window_s: float = 10.0
    ) -> None:
        """Start following ``source`` of a :class:`~bshm.gui.session.RawSession`."""
        info = session.sources[source]
        names = [c.name for c in info.channels]
        channels = [c for c in (channels or names) if c in names] or names
        metas = {c.name: c for c in info.channels}
        self.configure([(c, metas[c].unit) for c in channels], info.fs or 1.0, window_s)
        self.follower = LiveFollower(
            session, source, [names.index(c) for c in channels], self.queue, backlog_s=window_s
        )
        self.follower.sig_failed.connect(self.sig_message)
        self.follower.start()
        self.source = source
        self.state = None
        self.stale = False
        self.info.setStyleSheet("")
        self.info.setText(f"following {source} in {session.path}")
        self.timer.start()

    def set_state(self, state) -> None:
        """Show the followed source's live state: grey traces and a red banner
        when its newest samples are old (a :class:`bshm.gui.livehealth.LiveState`)."""
        self.state = state
        stale = state is not None and state.level > 0
        if stale != self.stale:
            self.stale = stale
            for i, curve in enumerate(self.curves):
                curve.setPen(pg.mkPen(STALE_PEN, width=1) if stale else pen_for(i))
        if state is None:
            return
        if stale:
            word = "NO NEW DATA" if state.level >= 2 else "DATA DELAYED"
            self.info.setText(
                f"{word} from {state.source}: {state.state}, newest sample "
                f"{_age(state.age_s)} ago - the grey traces are old"
                + (f" ({state.why})" if state.why else "")
            )
            self.info.setStyleSheet(
                "color: white; background: #c62828; font-weight: bold; padding: 3px"
                if state.level >= 2
                else "color: black; background: #ffb74d; font-weight: bold; padding: 3px"
            )
        else:
            self.info.setStyleSheet("")
            self.info.setText(f"following {state.source}: recording")

    def stop(self) -> None:
        """Stop the follower thread and the frame timer."""
        self.timer.stop()
        if self.follower is not None:
            self.follower.stop()
            self.follower = None
        while not self.queue.empty():
            self.queue.get_nowait()

    @property
    def running(self) -> bool:
        """True while following."""
        return self.timer.isActive()

    # -- data path ---------------------------------------------------------
    def feed(self, times_ns: np.ndarray, data: np.ndarray) -> None:
        """Queue samples for the next frame (thread safe)."""
        self.queue.put((times_ns, data))

    def drain(self) -> int:
        """Move queued chunks into the ring buffer; returns rows added."""
        ring = self.ring
        if ring is None:
            return 0
        added = 0
        gap_s = 1.5 / self.fs
        while True:
            try:
                times_ns, data = self.queue.get_nowait()
            except queue.Empty:
                break
            if len(times_ns) == 0:
                continue
            t = np.asarray(times_ns, dtype=np.int64) / NS
            last = ring.last_time()
            if np.isfinite(last) and t[0] - last > gap_s:
                ring.append(np.array([np.nan]), np.full((1, ring.n_channels), np.nan))
            ring.append(t, data)
            added += len(t)
        return added

    def display_data(self) -> tuple[np.ndarray, np.ndarray]:
        """What a frame draws: x (s before the newest sample) and min/max rows.

        Peak decimation of the ring's window into preallocated buffers, blocks
        aligned to absolute sample numbers; shapes (m,) and (m, c).
        """
        t, y = self.ring.view()
        ds = self.ds
        phase = (-(self.ring.total - len(t))) % ds if ds > 1 else 0
        n = peak_decimate(t, y, ds, phase, self._dx, self._dy)
        x = self._dx[:n]
        x -= self.ring.last_time()
        return x, self._dy[:n]

    def tick(self) -> None:
        """One frame: drain, decimate, ``setData`` on preallocated arrays."""
        t_start = time.perf_counter()
        if self.ring is None:
            return
        self.drain()
        if self.ring.count == 0:
            return
        last = self.ring.last_time()
        x, y = self.display_data()
        for i, curve in enumerate(self.curves):
            curve.setData(x, y[:, i], connect="finite")
        if self.frames % 12 == 0:
            self._update_y_ranges(y)
        self.latency_s = time.time() - last
        self.frames += 1
        self._rate_n += 1
        now = time.monotonic()
        if now - self._rate_t0 >= 1.0:
            self.rate_hz = self._rate_n / (now - self._rate_t0)
            self._rate_t0, self._rate_n = now, 0
        self.last_frame_ms = (time.perf_counter() - t_start) * 1e3
        self.sig_stats.emit(
            {
                "latency_s": self.latency_s,
                "frame_ms": self.last_frame_ms,
                "rate_hz": self.rate_hz,
                "samples": self.ring.total,
            }
        )

    def paint_now(self) -> None:
        """Let Qt paint the pending frame now (benchmarks and soak tests)."""
        QtWidgets.QApplication.processEvents()

    def closeEvent(self, event) -> None:  # noqa: D102, N802 - Qt API
        self.stop()
        super().closeEvent(event)


def _age(age_s: float) -> str:
    from bshm.gui.livehealth import age_text

    return age_text(age_s)
