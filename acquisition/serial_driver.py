"""Serial driver: a digitizer on a serial port into a sink (the store).

Transport (pyserial, timeouts, reconnect with back-off) -> framing (pure
decoders of :mod:`bshm.acquisition.framing_binary` / ``framing_line``) ->
calibration (``physical = scale * raw + offset`` per channel) -> timing
(device clock aligned to host time, :mod:`bshm.acquisition.timing`) ->
blocks, gaps and counters into the sink.

Timing of the stored blocks: the start time of a block is decided when it
is written (every ~0.25 s), from the clock estimate at that moment (the
first block waits for 10 clock observations). A block that follows the
previous one without a sequence gap continues its regular grid exactly
while the aligned device time stays within 2 ms of it; beyond that the grid
jumps forward, or slews back by at most half a sample period per block
(never to or before a stored sample). Each block also stores the raw device
time of its first sample (``device_t0_ns``).
"""

from __future__ import annotations

import logging
import threading
import time
from collections import deque

import numpy as np
from bshm.acquisition.framing_binary import BinaryDecoder, Frame
from bshm.acquisition.framing_line import LineDecoder
from bshm.acquisition.timing import ClockAligner

from bshm.errors import ConfigError
from bshm.timeutil import NS_PER_S, now_ns, to_iso

log = logging.getLogger(__name__)

BLOCK_S = 0.25  # contiguous frames are written in blocks of about this length
SLEW_TOL_NS = 2_000_000  # grid kept while the aligned time is within this
GAP_LOG_S = 10.0
RATE_WINDOW_S = 5.0  # status(): samples per second over about this window
WARM_OBS = 10  # the first block waits for this many clock observations ...
WARM_MAX_S = 2.0  # ... or this much data
BACKOFF_MIN_S = 0.1
SEQ_MOD = 1 << 32
#: Frames without a device time: a frame arriving more than this many sample
#: periods after its slot on the grid starts a new block at its arrival time.
ARRIVAL_LATE = 1.5
#: A device not reachable since the recording started is recorded as a gap in
#: pieces of this many seconds while the outage lasts.
OUTAGE_RECORD_S = 60.0


def make_decoder(source):
    """The frame decoder a serial source's config asks for."""
    if source.protocol == "binary":
        return BinaryDecoder()
    if source.protocol == "line":
        cols = [c.column for c in source.channels]
        if any(c is None for c in cols):
            missing = [c.name for c in source.channels if c.column is None]
            raise ConfigError(
                f"sources.{source.name}: line protocol needs a 'column' for every "
                f"channel; missing for {', '.join(missing)}"
            )
        return LineDecoder(
            cols,
            time_column=source.time_column,
            delimiter=source.delimiter,
            checksum=source.checksum,
        )
    raise ConfigError(f"sources.{source.name}.protocol: {source.protocol!r} is not binary or line")


class SerialDriver:
    """Reads one serial source of a station config.

    Parameters
    ----------
    source : bshm.config.SerialSource
        Port settings, protocol, channels with calibration.
    """

    def __init__(self, source) -> None:
        self.source = source
        self.name = source.name
        self.fs = float(source.fs)
        self._decoder = make_decoder(source)
        self._scale = np.array([c.scale for c in source.channels], dtype=np.float64)
        self._offset = np.array([c.offset for c in source.channels], dtype=np.float64)
        self._nch = len(source.channels)
        self._period_ns = NS_PER_S / self.fs
        self.aligner = ClockAligner()
        self._lock = threading.Lock()
        self._pushed: dict[str, int] = {}
        self.counts = dict(timeouts=0, reconnects=0, samples_lost=0)
        self.gaps = 0
        self.samples = 0
        self.connected = False
        self.last_sample_ns: int | None = None
        self._last_seq: int | None = None
        self._last_dev_next: int | None = None  # device time of the next expected sample
        self._next_t: int | None = None  # host time of the next expected sample
        self._block: list[np.ndarray] = []  # calibrated frames of the pending block
        self._block_dev_t0 = 0  # device (or arrival) time of its first sample
        self._block_has_dev = False
        self._block_rel: tuple[str, int, int] = ("first", 0, -1)
        self._block_n = 0
        self._sink = None
        self._n_obs = 0  # clock observations so far
        self._gap_log_t = -1e9
        self._history: deque[tuple[float, int]] = deque([(time.monotonic(), 0)])
        self._gaps_unlogged = 0
        self._recent: deque[bytes] = deque(maxlen=8)  # raw reads, logged on trouble
        self._warned: set[str] = set()
        self._last_error = ""
        self._outage: int | None = None  # start of an unrecorded never-connected spell
        self._connected_at: int | None = None
        self._outage_silent = False  # the outage: the port was open but nothing came

    # -- Driver protocol -----------------------------------------------------------
    def spec(self):
        """The store description of this source."""
        return self.source.spec()

    def status(self) -> dict:
        """Counters and state: connected, rate_hz (samples/s per channel over the
        last ~5 s), samples, frames ok/bad, bytes skipped, gaps, samples lost,
        timeouts, reconnects, last_sample_ns."""
        d = self._decoder
        now = time.monotonic()
        with self._lock:
            hist = self._history
            hist.append((now, self.samples))
            while len(hist) > 2 and now - hist[1][0] >= RATE_WINDOW_S:
                hist.popleft()
            t_old, n_old = hist[0]
            rate = (self.samples - n_old) / (now - t_old) if now > t_old else 0.0
            return dict(
                name=self.name,
                connected=self.connected,
                rate=rate,
                rate_hz=rate,
                samples=self.samples,
                frames_ok=d.frames_ok,
                frames_bad=d.frames_bad,
                bytes_skipped=d.bytes_skipped,
                gaps=self.gaps,
                last_sample_ns=self.last_sample_ns,
                last_error=self._last_error,
                **self.counts,
            )

    def run(self, sink, stop: threading.Event) -> None:
        """Read frames until ``stop`` is set; reconnect with back-off on trouble."""
        started = now_ns()
        if isinstance(self._decoder, BinaryDecoder):
            from bshm.acquisition.framing_binary import warm_up

            warm_up()  # JIT load before the port opens, not while data waits
        backoff = BACKOFF_MIN_S
        had_connection = False
        lost_at: int | None = None
        while not stop.is_set():
            ser = self._open(quiet=lost_at is not None)
            if ser is None:
                if lost_at is None:
                    lost_at = now_ns()
                if not had_connection:
                    if self._outage is None:  # from the start of the recording
                        self._outage = started
                    self._record_outage(sink, final=False)
                stop.wait(backoff)
                backoff = min(backoff * 2, self.source.reconnect_max_s)
                continue
            if not had_connection and self._outage is not None:
                self._connected_at = now_ns()
                log.info("%s: %s is open (first time since the recording started)",
                         self.name, self.source.port)
            if had_connection:
                self.counts["reconnects"] += 1
                log.info("%s: reconnected to %s", self.name, self.source.port)
            had_connection = True
            lost_at = None
            backoff = BACKOFF_MIN_S
            self._set_connected(True)
            try:
                self._read_loop(ser, sink, stop)
            finally:
                self._set_connected(False)
                self._flush_block(sink)
                try:
                    ser.close()
                except Exception:  # noqa: BLE001 - closing a vanished port may fail
                    log.debug("%s: error closing the port", self.name, exc_info=True)
                self._decoder.reset()  # an unfinished frame is lost with the connection
                self._push_counters(sink)
            if self._next_t is None and not stop.is_set():
                self._silent_since(started)  # open, but not one sample since the start
                self._record_outage(sink, final=False)
            if not stop.is_set():
                lost_at = now_ns()
                stop.wait(BACKOFF_MIN_S)
        self._flush_block(sink)
        if self._next_t is None:
            self._silent_since(started)
        end = now_ns()
        if lost_at is not None and self._next_t is not None and end > self._next_t:
            self._gap(sink, self._next_t, end, "device lost until the recording stopped",
                      lost=int((end - self._next_t) // self._period_ns))
        self._record_outage(sink, final=True, end=end)
        self._push_counters(sink)

    def _silent_since(self, started: int) -> None:
        """No sample has come since the recording started although the port may
        open: an outage from the start (recorded like a device never connected)."""
        if self._outage is None:
            self._outage = started
            self._outage_silent = self._connected_at is None

    def _outage_reason(self, *, until_open: bool = False) -> str:
        """Why the outage since the start (``until_open``: the gap ends where the port opened)."""
        if self._outage_silent:
            return "no data since the recording started (the port is open, the device silent)"
        if self._connected_at is not None and not until_open:  # opened, but no data came
            return "no data since the recording started (port opened late, then silent)"
        return f"device not connected since the recording started: {self._last_error}"

    def _record_outage(self, sink, *, final: bool, end: int | None = None) -> None:
        """Record the time the device has not been reachable since the recording
        started: in pieces of OUTAGE_RECORD_S while it lasts (so a killed recorder
        still leaves most of it on disk), up to its first data, or to the end."""
        start = self._outage
        if start is None:
            return
        end = now_ns() if end is None else end
        if not final and end - start < OUTAGE_RECORD_S * NS_PER_S:
            return
        lost = int(round((end - start) / self._period_ns))
        self._gap(sink, start, end, self._outage_reason(), lost=lost)
        self._outage = None if final else end
        self._push_counters(sink)

    # -- transport -------------------------------------------------------------------
    def _open(self, quiet: bool):
        import serial

        s = self.source
        try:
            return serial.Serial(
                port=s.port,
                baudrate=s.baudrate,
                bytesize=s.bytesize,
                parity=s.parity,
                stopbits=s.stopbits,
                timeout=s.timeout_s,
                exclusive=True,  # a second recorder on the same port would split the data
            )
        except (serial.SerialException, OSError, ValueError) as exc:
            self._last_error = f"cannot open {s.port} ({exc})"
            (log.debug if quiet else log.warning)(
                "%s: cannot open %s (%s); retrying with back-off up to %.0f s",
                self.name, s.port, exc, s.reconnect_max_s,
            )
            return None

    def _set_connected(self, value: bool) -> None:
        with self._lock:
            self.connected = value

    def _read_loop(self, ser, sink, stop: threading.Event) -> None:
        import serial

        silence_ns = int(self.source.silence_timeout_s * NS_PER_S)
        last_ok = time.monotonic_ns()  # last valid frame
        alive = last_ok  # last valid frame, or bytes arriving for a frame still undecided
        last_push = last_ok
        while not stop.is_set():
            try:
                data = ser.read(ser.in_waiting or 1)
                if data:
                    more = ser.in_waiting
                    if more:
                        data += ser.read(more)
            except (serial.SerialException, OSError) as exc:
                log.warning("%s: port %s lost (%s)", self.name, self.source.port, exc)
                self._log_recent()
                return
            host_ns = now_ns()
            mono = time.monotonic_ns()
            if data:
                self._recent.append(bytes(data[-256:]))
                frames = self._decoder.feed(data)
                if frames:
                    last_ok = alive = mono
                    self._handle(frames, host_ns, sink)
                elif getattr(self._decoder, "awaiting_frame", False):
                    # a header claims a long frame: its bytes are still arriving, so
                    # the device is not silent; the decision is only delayed (a
                    # reconnect would throw away the valid frames held behind it)
                    alive = mono
            if mono - alive > silence_ns:
                self.counts["timeouts"] += 1
                self._last_error = f"no valid frame for {(mono - last_ok) / 1e9:.1f} s"
                log.warning(
                    "%s: no valid frame for %.1f s on %s; reconnecting",
                    self.name, (mono - last_ok) / 1e9, self.source.port,
                )
                self._log_recent()
                return
            ready = self._n_obs >= WARM_OBS or self._next_t is not None
            if self._block and (
                (ready and self._block_n >= BLOCK_S * self.fs)
                or self._block_n >= WARM_MAX_S * self.fs
                or mono - last_ok > BLOCK_S * NS_PER_S
            ):
                self._flush_block(sink)
            if mono - last_push > NS_PER_S:
                self._push_counters(sink)
                last_push = mono

    def _log_recent(self) -> None:
        if log.isEnabledFor(logging.DEBUG) and self._recent:
            log.debug("%s: last bytes received: %s", self.name,
                      b"".join(self._recent)[-512:].hex(" "))

    # -- frames -> blocks -------------------------------------------------------------
    def _handle(self, frames: list[Frame], host_ns: int, sink) -> None:
        # clock observation: the newest frame's last sample arrived at host_ns
        last = frames[-1]
        if last.device_time_ns is not None:
            n = last.samples.shape[0]
            self.aligner.update(
                last.device_time_ns + int(round((n - 1) * self._period_ns)), host_ns
            )
            self._n_obs += 1
        # frames without a device time: the newest arrived by host_ns, and the
        # ones read with it were sent before it, one sample period apart
        after = sum(fr.samples.shape[0] for fr in frames)
        for fr in frames:
            after -= fr.samples.shape[0]
            arrival = host_ns - int(round((after + fr.samples.shape[0] - 1) * self._period_ns))
            if fr.samples.shape[1] != self._nch:
                self._warn_once(
                    "nch",
                    "%s: frame with %s channels, config has %s: frame dropped (check the "
                    "channel list of the source)", self.name, fr.samples.shape[1], self._nch,
                )
                continue  # the sequence jump at the next good frame records the loss
            if fr.fmt not in ("line", self.source.sample_format):
                self._warn_once(
                    "fmt", "%s: device sends %s samples, config says %s (decoded as sent)",
                    self.name, fr.fmt, self.source.sample_format,
                )
            self._add_frame(fr, arrival, sink)

    def _warn_once(self, key: str, msg: str, *args) -> None:
        if key not in self._warned:
            self._warned.add(key)
            log.warning(msg, *args)

    def _relation(self, fr: Frame, dev_t0: int) -> tuple[str, int]:
        """How a frame follows the previous one: ("continue"|"lost"|"restart", samples lost)."""
        n = fr.samples.shape[0]
        if self._last_dev_next is None:
            return "first", 0
        if fr.seq >= 0 and self._last_seq is not None:
            jump = (fr.seq - self._last_seq - 1) % SEQ_MOD
            if jump == 0:
                return "continue", 0
            if jump < SEQ_MOD // 2:
                return "lost", jump * n
            return "restart", 0
        diff = dev_t0 - self._last_dev_next
        if fr.device_time_ns is None:  # host arrival times: only a long silence is a gap
            if diff > max(5 * self._period_ns, 0.25 * NS_PER_S):
                return "lost", int(round(diff / self._period_ns))
            if diff > max(SLEW_TOL_NS, ARRIVAL_LATE * self._period_ns):
                return "late", 0  # a shorter silence: re-anchored at arrival, no gap
            return "continue", 0
        if abs(diff) <= 0.5 * self._period_ns:
            return "continue", 0
        if diff > 0:
            return "lost", int(round(diff / self._period_ns))
        return "restart", 0

    def _add_frame(self, fr: Frame, arrival_ns: int, sink) -> None:
        n = fr.samples.shape[0]
        dev_t0 = fr.device_time_ns
        if dev_t0 is None:  # no device clock: the host's arrival time stands in
            dev_t0 = arrival_ns
        rel, lost = self._relation(fr, dev_t0)
        if rel != "continue" or not self._block:
            self._flush_block(sink)
            self._block_rel = (rel, lost, fr.seq)
            self._block_dev_t0 = dev_t0
            self._block_has_dev = fr.device_time_ns is not None
        self._block.append(fr.samples * self._scale + self._offset)
        self._block_n += n
        self._last_seq = fr.seq if fr.seq >= 0 else None
        self._last_dev_next = dev_t0 + int(round(n * self._period_ns))

    def _continue_or_anchor(self, expected: int, aligned: int) -> int:
        """Start time of a block that should follow at ``expected``.

        Within 2 ms of the aligned device time the regular grid goes on exactly.
        Later than that, the grid jumps forward to the aligned time. Earlier (the
        clock estimate improved), it slews back by at most half a sample period
        per block, so no sample is ever stored at or before the previous one.
        """
        if abs(aligned - expected) <= SLEW_TOL_NS:
            return expected
        if aligned > expected:
            log.debug("%s: time re-anchored by %+.3f ms", self.name, (aligned - expected) / 1e6)
            return aligned
        step = min(expected - aligned, int(self._period_ns // 2))
        log.debug("%s: time slewed back by %.3f ms", self.name, step / 1e6)
        return expected - step

    def _block_t0(self) -> int:
        """Host time of the pending block, decided when it is written."""
        dev = self._block_dev_t0
        aligned = self.aligner.to_host(dev) if self._block_has_dev else dev
        rel, lost, seq = self._block_rel
        if self._next_t is None:
            return aligned
        period = self._period_ns
        if rel in ("first", "continue", "late"):
            return self._continue_or_anchor(self._next_t, aligned)
        if rel == "lost":
            t0 = self._continue_or_anchor(self._next_t + int(round(lost * period)), aligned)
            what = (f"sequence jump to {seq}: {lost} sample(s) lost" if seq >= 0
                    else f"no samples for {(t0 - self._next_t) / 1e9:.3f} s")
            self._gap(sink=None, start=self._next_t, end=t0, reason=what, lost=lost)
            return t0
        t0 = max(aligned, self._next_t)
        if t0 - self._next_t > 1.5 * period:
            self._gap(sink=None, start=self._next_t, end=t0,
                      reason=f"device restarted (sequence -> {seq})",
                      lost=int(round((t0 - self._next_t) / period)))
        return t0

    def _gap(self, sink, start: int, end: int, reason: str, lost: int) -> None:
        sink = sink if sink is not None else self._sink
        if end <= start:
            return
        now = time.monotonic()
        if now - self._gap_log_t >= GAP_LOG_S:  # at most one warning per 10 s
            more = f" (+{self._gaps_unlogged} more gaps since the last warning)" if (
                self._gaps_unlogged) else ""
            log.warning("%s: gap %s .. %s (%s)%s", self.name, to_iso(start), to_iso(end),
                        reason, more)
            self._gap_log_t, self._gaps_unlogged = now, 0
        else:
            self._gaps_unlogged += 1
            log.debug("%s: gap %s .. %s (%s)", self.name, to_iso(start), to_iso(end), reason)
        sink.add_gap(self.name, start, end, reason)
        with self._lock:
            self.gaps += 1
            self.counts["samples_lost"] += int(lost)

    def _flush_block(self, sink) -> None:
        if not self._block:
            return
        self._sink = sink
        data = np.concatenate(self._block) if len(self._block) > 1 else self._block[0]
        t0 = self._block_t0()
        if self._outage is not None:  # first data after a spell without the device
            opened = self._connected_at if not self._outage_silent else None
            end = min(t0, opened if opened is not None else t0)
            if end > self._outage:
                self._gap(sink, self._outage, end, self._outage_reason(until_open=True),
                          lost=int(round((end - self._outage) / self._period_ns)))
            self._outage = None
            self._outage_silent = False
        dev = self._block_dev_t0 if self._block_has_dev else None
        sink.write(self.name, data, t0_ns=t0, device_t0_ns=dev)
        n = data.shape[0]
        with self._lock:
            self.samples += n
            self.last_sample_ns = t0 + int(round((n - 1) * self._period_ns))
        self._next_t = t0 + int(round(n * self._period_ns))
        self._block = []
        self._block_n = 0

    def _push_counters(self, sink) -> None:
        d = self._decoder
        now = dict(frames_ok=d.frames_ok, frames_bad=d.frames_bad,
                   bytes_skipped=d.bytes_skipped, **self.counts)
        for key, value in now.items():
            delta = value - self._pushed.get(key, 0)
            if delta:
                sink.count(self.name, key, delta)
                self._pushed[key] = value
