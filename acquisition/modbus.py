"""Modbus TCP / RTU poller: the driver of ``modbus-tcp`` and ``modbus-rtu`` sources.

Built on pymodbus (no hand-written framing). One :class:`ModbusDriver` per
config source; it polls every register point of the source at
``poll_rate`` and hands one row per poll to the sink, timestamped.

Behaviour (documented for technicians in ``docs/modbus.md``):

* **Requests.** Points are coalesced per unit id and function into as few
  reads as allowed (:func:`bshm.acquisition.modbus_codec.plan_reads`: at
  most 125 registers, unused gaps of up to 8 registers bridged). A bridged
  request answered with exception 2 (illegal data address) is split into
  gap-free requests at once, for good.
* **Schedule.** Poll ``k`` is due at ``t0 + k / poll_rate`` on the monotonic
  clock (absolute deadlines: no drift). A poll that starts late runs at
  once; if a later deadline has also passed (the previous poll or the
  machine was too slow), the polls due before the latest passed deadline
  are skipped, each counted in ``samples_lost`` and covered by a gap
  ("overrun"), and the latest one runs at once.
* **Time stamp.** Host wall-clock time (int64 ns) of the midpoint between
  sending the poll's first answered request and receiving its last answer
  (a silent unit's timeouts do not move it: the values in the row were
  measured when the answered requests were).
* **Failures.** A timeout (``ModbusIOException``) is retried ``retries``
  times after a short back-off (5 ms, doubling) and counted in
  ``timeouts``; an exception response (``isError()``) counts in
  ``modbus_errors`` and is not retried. After a timeout the other requests
  of that unit are skipped for this poll (the unit is silent), so one dead
  unit on an RS-485 bus does not starve the others. A closed port or a
  dropped TCP connection (``ConnectionException``) triggers one immediate
  reconnect and re-send; if that fails the driver reconnects with
  exponential back-off (0.1 s doubling to ``reconnect_max_s``) while every
  due poll is lost.
* **Partial polls.** If some requests of a poll fail and others succeed,
  the row is written with NaN in the failed channels and a gap record
  names those channels ("partial"); good channels are never thrown away.
  If every request fails the poll is lost (no row, ``samples_lost`` + 1).
  Consecutive polls with the same failure share one gap record
  ``[first failed poll, first poll after it that is not in that state)``;
  polls skipped while a partial failure lasts (a silent unit's timeouts
  outlast the period) are counted in ``samples_lost`` and noted in that
  same record, not in records of their own.
"""

from __future__ import annotations

import logging
import threading
import time
from typing import Any

import numpy as np
from bshm.acquisition.modbus_codec import (
    DEFAULT_MAX_GAP,
    ReadBlock,
    plan_reads,
    split_block,
)

log = logging.getLogger(__name__)

_FLUSH_S = 0.2  # rows and counters go to the sink at least this often
_FLUSH_ROWS = 256
_RETRY_PAUSE_S = 0.005
_RECONNECT_MIN_S = 0.1
_EXC_NAMES = {
    1: "illegal function",
    2: "illegal data address",
    3: "illegal data value",
    4: "device failure",
    5: "acknowledge",
    6: "device busy",
    8: "memory parity error",
    10: "gateway path unavailable",
    11: "gateway target failed to respond",
}


class _Failure:
    """Why one block of a poll produced no data."""

    __slots__ = ("kind", "text")

    def __init__(self, kind: str, text: str) -> None:
        self.kind = kind  # "timeout" | "exception" | "error" | "connection" | "skipped"
        self.text = text


class _Disconnected(Exception):
    """The link is down; the rest of the poll is lost."""


class ModbusDriver:
    """Poll one Modbus TCP or RTU source into a sink (the Driver protocol).

    Parameters
    ----------
    source_cfg : bshm.config.ModbusSource
        The source: transport settings, ``poll_rate`` (Hz), ``timeout_s``,
        ``retries``, ``reconnect_max_s`` and the register points.
    max_gap : int, optional
        Most unused registers bridged inside one request; default
        ``source_cfg.max_gap`` if the config has it, else 8.
    """

    def __init__(self, source_cfg: Any, *, max_gap: int | None = None) -> None:
        if source_cfg.kind not in ("modbus-tcp", "modbus-rtu"):
            raise ValueError(f"source {source_cfg.name!r}: kind {source_cfg.kind!r} is not Modbus")
        if not source_cfg.poll_rate > 0:
            raise ValueError(f"source {source_cfg.name!r}: poll_rate must be > 0")
        self.cfg = source_cfg
        self.name: str = source_cfg.name
        if max_gap is None:
            max_gap = getattr(source_cfg, "max_gap", DEFAULT_MAX_GAP)
        self.blocks: list[ReadBlock] = plan_reads(source_cfg.registers, max_gap=max_gap)
        if source_cfg.kind == "modbus-rtu" and any(b.unit_id == 0 for b in self.blocks):
            log.warning("%s: unit id 0 is the RTU broadcast address; no device answers it",
                        self.name)
        self.n_channels = len(source_cfg.registers)
        self._client: Any = None
        self._connected = False
        self._ever_connected = False
        self._next_connect_ns = 0
        self._backoff_s = 0.0
        self._sink: Any = None
        self._rows: list[np.ndarray] = []
        self._times: list[int] = []
        self._last_flush = 0.0
        self._pending: dict[str, int] = {}
        self._gap: tuple[object, int, list[str]] | None = None
        self._stats = {
            "polls": 0, "rows": 0, "partial": 0, "requests": 0, "frames_ok": 0,
            "modbus_errors": 0, "timeouts": 0, "reconnects": 0, "samples_lost": 0,
            "gaps": 0,
        }
        self._last_sample_ns: int | None = None
        self._last_error = ""
        self._started_mono: int | None = None
        self._floor_ns = 0
        self._io_ns = (0, 0)  # send and answer times of the last successful request
        _quiet_pymodbus()

    # ------------------------------------------------------------ protocol
    def spec(self):
        """The store description of this source (timing "timestamped")."""
        return self.cfg.spec()

    def status(self) -> dict:
        """Health snapshot: achieved rate (Hz), counters, last sample time, link state."""
        st: dict[str, Any] = dict(self._stats)
        elapsed = (
            (time.monotonic_ns() - self._started_mono) / 1e9 if self._started_mono else 0.0
        )
        st.update(
            name=self.name,
            kind=self.cfg.kind,
            connected=self._connected,
            poll_rate=float(self.cfg.poll_rate),
            rate=st["rows"] / elapsed if elapsed > 0 else 0.0,
            samples=st["rows"],
            frames_bad=st["requests"] - st["frames_ok"],
            requests_per_poll=len(self.blocks),
            last_sample_ns=self._last_sample_ns,
            last_error=self._last_error,
        )
        return st

    def run(self, sink: Any, stop: threading.Event) -> None:
        """Poll until ``stop`` is set. Device trouble is counted, never raised.

        Parameters
        ----------
        sink : Sink
            Receives rows (``write`` with ``times_ns``), gaps and counters.
        stop : threading.Event
            Set it to end the loop; the driver flushes and closes the port.
        """
        self._sink = sink
        period = 1e9 / float(self.cfg.poll_rate)
        self._ensure_connected()  # imports pymodbus and opens the link before the clock starts
        t0 = time.monotonic_ns()
        self._started_mono = t0
        wall_offset = time.time_ns() - t0
        self._last_flush = time.monotonic()
        k = 0
        try:
            while True:
                deadline = t0 + round(k * period)
                wait_ns = deadline - time.monotonic_ns()
                if wait_ns > 0 and stop.wait(wait_ns / 1e9):
                    break
                if stop.is_set():
                    break
                self._poll_guarded()
                k += 1
                now = time.monotonic_ns()
                # Behind schedule: poll the latest due deadline now, skip the older ones.
                latest = (now - t0) // period
                if latest > k:
                    first = t0 + round(k * period)
                    self._lose_skipped(int(latest - k), wall_offset + first, (now - first) / 1e6)
                    k = int(latest)
                if time.monotonic() - self._last_flush >= _FLUSH_S:
                    self._flush()
        finally:
            try:
                self._set_state(None, time.time_ns(), "")
                self._flush()
            finally:
                self._close()

    # ------------------------------------------------------------ polling
    def _poll_guarded(self) -> None:
        """One poll; device trouble is recorded, sink (store) errors propagate."""
        self._stats["polls"] += 1
        t_start = time.time_ns()
        try:
            outcome = self._acquire()
        except Exception as exc:  # never let device trouble end the recording
            log.exception("%s: unexpected error while polling", self.name)
            self._count("modbus_errors")
            self._last_error = f"unexpected: {exc!r}"
            self._disconnect()
            outcome = f"unexpected error: {exc!r}"
        if isinstance(outcome, str):  # the whole poll is lost
            self._lost(t_start, "down", outcome)
            return
        values, failures, (t_sent, t_answer) = outcome
        # The store needs increasing times: a wall clock stepped back is clamped.
        stamp = max((t_sent + t_answer) // 2, self._floor_ns)
        if failures:
            self._stats["partial"] += 1
            names = sorted({n for b, _ in failures for n in b.names})
            why = f"partial: NaN in {','.join(names)} ({_describe(failures)})"
            self._set_state(("partial", tuple(names)), stamp, why)
        else:
            self._set_state(None, stamp, "")
        self._rows.append(values.astype(np.float32))
        self._times.append(stamp)
        self._floor_ns = max(self._floor_ns, stamp + 1)
        self._stats["rows"] += 1
        self._last_sample_ns = stamp
        if len(self._rows) >= _FLUSH_ROWS:
            self._flush()

    def _acquire(
        self,
    ) -> str | tuple[np.ndarray, list[tuple[ReadBlock, _Failure]], tuple[int, int]]:
        """Send the poll's requests.

        Returns (values, failures, (time the first answered request was sent,
        time the last answer came)) or, if nothing was read, why all is lost.
        Timeouts of a silent unit do not move the row's time: its values were
        measured when the answered requests were.
        """
        if not self._ensure_connected():
            return f"not connected: {self._last_error}"
        values = np.full(self.n_channels, np.nan, dtype=np.float64)
        failures: list[tuple[ReadBlock, _Failure]] = []
        silent_units: set[int] = set()
        first_sent: int | None = None
        last_answer = 0
        i = 0
        try:
            while i < len(self.blocks):
                block = self.blocks[i]
                i += 1
                if block.unit_id in silent_units:
                    failures.append((block, _Failure("skipped", "unit silent this poll")))
                    continue
                result = self._read(block)
                if isinstance(result, list):
                    for slot in block.slots:
                        values[slot.column] = slot.value(result)
                    sent, last_answer = self._io_ns
                    first_sent = sent if first_sent is None else first_sent
                elif result.kind == "split":
                    parts = split_block(block)
                    log.warning("%s: %s answered 'illegal data address'; reading it as %d "
                                "gap-free requests from now on", self.name, block.label,
                                len(parts))
                    self.blocks[i - 1 : i] = parts
                    i -= 1
                else:
                    failures.append((block, result))
                    if result.kind == "timeout":
                        silent_units.add(block.unit_id)
        except _Disconnected as exc:
            return str(exc)
        if len(failures) == len(self.blocks) or first_sent is None:
            return _describe(failures)
        return values, failures, (first_sent, last_answer)

    def _read(self, block: ReadBlock) -> list[int] | _Failure:
        """One request with retries; returns the registers or why it failed."""
        from pymodbus.exceptions import ConnectionException, ModbusException, ModbusIOException

        attempt = 0
        reconnected = False
        while True:
            self._stats["requests"] += 1
            t_send = time.time_ns()
            try:
                if block.function == "input":
                    rr = self._client.read_input_registers(
                        block.address, count=block.count, device_id=block.unit_id)
                else:
                    rr = self._client.read_holding_registers(
                        block.address, count=block.count, device_id=block.unit_id)
            except ModbusIOException as exc:
                self._count("timeouts")
                self._last_error = f"{block.label}: no response ({exc})"
                if attempt < int(self.cfg.retries):
                    time.sleep(_RETRY_PAUSE_S * 2**attempt)
                    attempt += 1
                    continue
                return _Failure("timeout", f"{block.label}: no response after {attempt + 1} tries")
            except (ConnectionException, OSError) as exc:
                self._last_error = f"connection lost: {exc}"
                self._disconnect()
                if not reconnected and self._ensure_connected(force=True):
                    reconnected = True
                    continue
                raise _Disconnected(f"connection lost ({block.label})") from exc
            except ModbusException as exc:
                self._count("modbus_errors")
                self._last_error = f"{block.label}: {exc}"
                return _Failure("error", f"{block.label}: {exc}")
            if rr.isError():
                code = int(getattr(rr, "exception_code", 0) or 0)
                self._count("modbus_errors")
                what = f"exception {code} ({_EXC_NAMES.get(code, 'unknown')})"
                self._last_error = f"{block.label}: {what}"
                if code == 2 and block.bridged:
                    return _Failure("split", what)
                return _Failure("exception", f"{block.label}: {what}")
            regs = rr.registers
            if len(regs) < block.count:
                self._count("modbus_errors")
                self._last_error = f"{block.label}: short response ({len(regs)} registers)"
                return _Failure("error", self._last_error)
            self._count("frames_ok")
            self._io_ns = (t_send, time.time_ns())
            return regs

    # ------------------------------------------------------------ link
    def _ensure_connected(self, force: bool = False) -> bool:
        if self._connected:
            return True
        now = time.monotonic_ns()
        if not force and now < self._next_connect_ns:
            return False
        if self._client is None:
            self._client = _make_client(self.cfg)
        try:
            ok = bool(self._client.connect())
        except Exception as exc:  # pyserial raises assorted errors
            self._last_error = f"cannot open: {exc}"
            ok = False
        if ok:
            if self._ever_connected:
                self._count("reconnects")
                log.info("%s: reconnected", self.name)
            self._connected = self._ever_connected = True
            self._backoff_s = 0.0
            return True
        if not self._last_error.startswith("cannot open"):
            self._last_error = f"cannot connect to {_where(self.cfg)}"
        self._backoff_s = min(
            max(self._backoff_s * 2, _RECONNECT_MIN_S), float(self.cfg.reconnect_max_s)
        )
        self._next_connect_ns = time.monotonic_ns() + int(self._backoff_s * 1e9)
        log.debug("%s: %s; next try in %.1f s", self.name, self._last_error, self._backoff_s)
        return False

    def _disconnect(self) -> None:
        self._connected = False
        if self._client is not None:
            try:
                self._client.close()
            except Exception:  # closing a broken port may fail; it is gone anyway
                log.debug("%s: error closing the port", self.name, exc_info=True)

    def _close(self) -> None:
        self._disconnect()
        self._client = None

    # ------------------------------------------------------------ bookkeeping
    def _count(self, name: str, n: int = 1) -> None:
        self._stats[name] += n
        self._pending[name] = self._pending.get(name, 0) + n

    def _lost(self, t_ns: int, kind: str, reason: str) -> None:
        self._count("samples_lost")
        self._set_state("lost", t_ns, reason)

    def _lose_skipped(self, n: int, first_wall_ns: int, late_ms: float) -> None:
        self._count("samples_lost", n)
        if self._gap is not None and self._gap[0] != "lost":
            # the trouble of the open record (e.g. a silent unit whose timeouts
            # outlast the poll period) also makes the polls late: one record
            reasons = self._gap[2]
            if len(reasons) < 3 and not any(r.startswith("overrun") for r in reasons):
                reasons.append("overrun: polls skipped")
            return
        self._set_state("lost", first_wall_ns,
                        f"overrun: {n} poll(s) skipped, polling fell {late_ms:.0f} ms "
                        "behind schedule")

    def _set_state(self, key: object, t_ns: int, reason: str) -> None:
        """Open, extend or close the current gap record."""
        if self._gap is not None:
            gkey, start, reasons = self._gap
            if gkey == key:
                if reason not in reasons and len(reasons) < 3:
                    reasons.append(reason)
                return
            end = max(t_ns, start + 1)
            self._sink.add_gap(self.name, start, end, "modbus " + "; ".join(reasons))
            self._stats["gaps"] += 1
            self._floor_ns = max(self._floor_ns, end)
            self._gap = None
        if key is not None:
            # Never start before the last sample or the last gap's end.
            self._gap = (key, max(t_ns, self._floor_ns), [reason])

    def _flush(self) -> None:
        self._last_flush = time.monotonic()
        if self._rows:
            data = np.vstack(self._rows)
            times = np.asarray(self._times, dtype=np.int64)
            self._rows, self._times = [], []
            self._sink.write(self.name, data, times_ns=times)
        if self._pending:
            pending, self._pending = self._pending, {}
            for name, n in pending.items():
                self._sink.count(self.name, name, n)


def _quiet_pymodbus() -> None:
    """pymodbus logs every timeout at ERROR with a frame dump; the driver counts
    and reports them itself, so unless the application chose a level for the
    "pymodbus" logger, only its critical messages are let through."""
    lg = logging.getLogger("pymodbus")
    if lg.level == logging.NOTSET:
        lg.setLevel(logging.CRITICAL)


def _describe(failures: list[tuple[ReadBlock, _Failure]]) -> str:
    texts: list[str] = []
    for _, f in failures:
        if f.kind != "skipped" and f.text not in texts:
            texts.append(f.text)
    return "; ".join(texts[:3]) or "no data"


def _where(cfg: Any) -> str:
    if cfg.kind == "modbus-tcp":
        return f"{cfg.host}:{cfg.port}"
    return str(cfg.port)


def _make_client(cfg: Any) -> Any:
    """A pymodbus sync client for the source (pymodbus retries off: we retry)."""
    if cfg.kind == "modbus-tcp":
        from pymodbus.client import ModbusTcpClient

        return ModbusTcpClient(cfg.host, port=int(cfg.port), timeout=float(cfg.timeout_s),
                               retries=0)
    from pymodbus import FramerType
    from pymodbus.client import ModbusSerialClient

    stopbits = cfg.stopbits if cfg.stopbits == 1.5 else int(cfg.stopbits)
    return ModbusSerialClient(
        str(cfg.port), framer=FramerType.RTU, baudrate=int(cfg.baudrate),
        bytesize=int(cfg.bytesize), parity=cfg.parity, stopbits=stopbits,
        timeout=float(cfg.timeout_s), retries=0,
    )
