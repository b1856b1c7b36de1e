"""The Modbus poller against real pymodbus servers (TCP on 127.0.0.1, RTU on a pty)."""

from __future__ import annotations

import dataclasses
import itertools
import threading
import time

import numpy as np
import pytest
from bshm.acquisition.modbus import ModbusDriver
from bshm.fixtures.virtual_modbus import ModbusFaults, start_virtual_modbus

from bshm.config import Channel, ModbusSource, Register
from bshm.store import open_raw
from bshm.store.writer import RawWriter

ORDERS = list(itertools.product(["big", "little"], ["big", "little"]))
# Values exactly representable in float32 (the store's sample type).
TYPE_VALUES = {
    "int16": -12345,
    "uint16": 54321,
    "int32": -7654321,
    "uint32": 4_000_000_000,
    "float32": -1234.5625,
    "float64": 98765.25,
}


class MemorySink:
    """A Sink keeping everything in memory (thread-safe)."""

    def __init__(self) -> None:
        self.lock = threading.Lock()
        self.blocks: list[np.ndarray] = []
        self.times: list[np.ndarray] = []
        self.gaps: list[tuple[int, int, str]] = []
        self.counters: dict[str, int] = {}

    def write(self, source, data, *, t0_ns=None, times_ns=None, device_t0_ns=None):
        assert t0_ns is None
        assert times_ns is not None
        with self.lock:
            self.blocks.append(np.asarray(data, dtype=np.float32))
            self.times.append(np.asarray(times_ns, dtype=np.int64))

    def add_gap(self, source, start_ns, end_ns, reason):
        assert end_ns > start_ns
        with self.lock:
            self.gaps.append((start_ns, end_ns, reason))

    def count(self, source, name, n=1):
        with self.lock:
            self.counters[name] = self.counters.get(name, 0) + n

    @property
    def data(self) -> np.ndarray:
        with self.lock:
            return np.vstack(self.blocks) if self.blocks else np.empty((0, 0), np.float32)

    @property
    def t(self) -> np.ndarray:
        with self.lock:
            return np.concatenate(self.times) if self.times else np.empty(0, np.int64)


def _reason(g):
    return g.reason if hasattr(g, "reason") else g[2]


def _device_gaps(gaps):
    """Gaps opened by device trouble (not by a scheduling overrun of a busy machine)."""
    return [g for g in gaps if not _reason(g).startswith("modbus overrun")]


def _only_overruns(sink):
    """No gap but scheduling overruns (a busy CI machine may delay a poll)."""
    assert not _device_gaps(sink.gaps), sink.gaps
    return True


def _ch(name, **kw):
    return Channel(name=name, quantity="strain", unit="um/m", **kw)


def _source(kind, registers, tmp_path=None, **kw):
    port = 0 if kind == "modbus-tcp" else str(tmp_path / "rtu")
    kw.setdefault("poll_rate", 20.0)
    kw.setdefault("timeout_s", 0.1)
    return ModbusSource(name="mb", kind=kind, port=port, registers=tuple(registers), **kw)


def _served(src, dev):
    """The config pointing at the running device (TCP: its ephemeral port)."""
    return dataclasses.replace(src, port=dev.port) if src.kind == "modbus-tcp" else src


class Running:
    """Run a driver in a thread; stop it on exit."""

    def __init__(self, driver, sink):
        self.driver, self.sink, self.stop = driver, sink, threading.Event()
        self.thread = threading.Thread(target=driver.run, args=(sink, self.stop), daemon=True)

    def __enter__(self):
        self.thread.start()
        return self

    def wait(self, cond, timeout=10.0):
        end = time.monotonic() + timeout
        while not cond():
            if time.monotonic() > end:
                raise AssertionError(f"condition not met in {timeout} s: {self.driver.status()}")
            time.sleep(0.005)

    def rows(self):
        return self.driver.status()["rows"]

    def __exit__(self, *exc):
        self.stop.set()
        self.thread.join(10)
        assert not self.thread.is_alive()


@pytest.fixture
def tcp_device():
    devs = []

    def start(registers, stream=None, **kw):
        src = _source("modbus-tcp", registers, **kw.pop("src", {}))
        dev = start_virtual_modbus(src, stream, **kw)
        devs.append(dev)
        return _served(src, dev), dev

    yield start
    for d in devs:
        d.stop()


def test_every_type_and_order_decodes_exactly_over_tcp(tcp_device):
    regs, expect, address = [], [], 0
    for (type_, value), (bo, wo) in itertools.product(TYPE_VALUES.items(), ORDERS):
        regs.append(Register(address=address, type=type_, byte_order=bo, word_order=wo,
                             channel=_ch(f"{type_}_{bo}_{wo}")))
        expect.append(value)
        address += regs[-1].count
    src, dev = tcp_device(regs)
    for r, v in zip(regs, expect, strict=True):
        dev.set_raw(r.channel.name, v)
    sink = MemorySink()
    with Running(ModbusDriver(src), sink) as run:
        run.wait(lambda: run.rows() >= 3)
    got = sink.data
    assert got.shape[1] == len(regs) == 24
    np.testing.assert_array_equal(got, np.tile(np.float32(expect), (got.shape[0], 1)))
    assert sink.counters.get("modbus_errors", 0) == 0
    assert _only_overruns(sink)


def test_scale_and_offset_and_every_order_over_rtu(tmp_path):
    regs = [Register(address=4 * i, type="int32", byte_order=bo, word_order=wo, unit_id=1,
                     channel=_ch(f"c{i}", scale=0.5, offset=-10.0))
            for i, (bo, wo) in enumerate(ORDERS)]
    src = _source("modbus-rtu", regs, tmp_path, poll_rate=20.0)
    with start_virtual_modbus(src) as dev:
        for i, r in enumerate(regs):
            dev.set_raw(r.channel.name, -100000 - i)
        sink = MemorySink()
        with Running(ModbusDriver(src), sink) as run:
            run.wait(lambda: run.rows() >= 2)
    assert (tmp_path / "rtu").is_symlink() is False  # removed on stop
    expect = np.float32([0.5 * (-100000 - i) - 10.0 for i in range(4)])
    np.testing.assert_array_equal(sink.data[0], expect)


def test_coalescing_sends_the_planned_requests(tcp_device):
    # unit 1 holding: 0,2 (float32), 4 (int16), 20 (gap of 15 > 8: new request);
    # unit 1 input: 0; unit 2 holding: 0..3 as two float32 (unit ids on TCP = gateway).
    regs = [Register(address=0, channel=_ch("a")), Register(address=2, channel=_ch("b")),
            Register(address=4, type="int16", channel=_ch("c")),
            Register(address=20, channel=_ch("d")),
            Register(address=0, function="input", channel=_ch("e")),
            Register(address=0, unit_id=2, channel=_ch("f")),
            Register(address=2, unit_id=2, channel=_ch("g"))]
    src, dev = tcp_device(regs)
    drv = ModbusDriver(src)
    planned = {(b.unit_id, 3 if b.function == "holding" else 4, b.address, b.count)
               for b in drv.blocks}
    assert planned == {(1, 3, 0, 5), (1, 3, 20, 2), (1, 4, 0, 2), (2, 3, 0, 4)}
    dev.clear_requests()
    with Running(drv, MemorySink()) as run:
        run.wait(lambda: run.rows() >= 5)
    n_polls = drv.status()["polls"]
    got = [(r.unit_id, r.function_code, r.address, r.count) for r in dev.requests()]
    assert set(got) == planned
    assert n_polls * 4 - 4 <= len(got) <= n_polls * 4  # 4 requests per poll, nothing else


def test_bridged_gap_answered_illegal_address_is_split(tcp_device):
    regs = [Register(address=0, channel=_ch("a")), Register(address=6, channel=_ch("b"))]
    src, dev = tcp_device(regs, contiguous=False)  # registers 2..5 do not exist
    dev.set_raw("a", 1.25)
    dev.set_raw("b", -2.5)
    drv = ModbusDriver(src)
    assert [(b.address, b.count) for b in drv.blocks] == [(0, 8)]
    sink = MemorySink()
    with Running(drv, sink) as run:
        run.wait(lambda: run.rows() >= 3)
    assert [(b.address, b.count) for b in drv.blocks] == [(0, 2), (6, 2)]
    np.testing.assert_array_equal(sink.data, np.tile(np.float32([1.25, -2.5]), (len(sink.data), 1)))
    assert sink.counters["modbus_errors"] == 1
    assert _only_overruns(sink)


def _store_run(tmp_path, src, act, *, rows_before=5):
    """Run the driver into a real RawWriter; ``act(run)`` injects and clears a fault."""
    out = tmp_path / "data"
    with RawWriter(out, "st", [src.spec()], flush_interval_s=0.2) as writer:
        drv = ModbusDriver(src)
        with Running(drv, writer) as run:
            run.wait(lambda: run.rows() >= rows_before)
            act(run)
    return drv, open_raw(out)


def test_timeouts_make_a_gap_and_the_poller_recovers(tmp_path, tcp_device):
    src, dev = tcp_device([Register(address=0, channel=_ch("a"))],
                          src={"poll_rate": 50.0, "timeout_s": 0.05, "retries": 1})
    dev.set_raw("a", 3.0)
    marks = {}

    def act(run):
        marks["t0"] = time.time_ns()
        dev.faults.no_response = True
        run.wait(lambda: run.driver.status()["timeouts"] >= 6)
        marks["t1"] = time.time_ns()
        dev.faults.clear()
        n = run.rows()
        run.wait(lambda: run.rows() >= n + 5)

    drv, reader = _store_run(tmp_path, src, act)
    with reader:
        rec = reader.read("mb")
        gaps = reader.gaps("mb")
        counters = reader.counters("mb")
    assert counters["timeouts"] >= 6
    assert counters["samples_lost"] >= 3
    assert counters["timeouts"] == drv.status()["timeouts"]
    g = _device_gaps(gaps)[0]
    assert "no response" in g.reason
    # a request in flight when the fault switched (at most one 50 ms timeout old)
    # may land on either side of it
    assert marks["t0"] - 50_000_000 <= g.start_ns <= marks["t1"]
    assert g.end_ns >= marks["t1"] - 50_000_000
    # no sample inside the gap, samples on both sides, all good values
    assert not np.any((rec.times_ns >= g.start_ns) & (rec.times_ns < g.end_ns))
    assert rec.times_ns[0] < g.start_ns
    assert rec.times_ns[-1] >= g.end_ns
    assert np.all(rec.data == 3.0)


def test_single_timeout_is_retried_without_losing_the_sample(tcp_device):
    src, dev = tcp_device([Register(address=0, channel=_ch("a"))],
                          src={"poll_rate": 20.0, "timeout_s": 0.05, "retries": 1})
    sink = MemorySink()
    with Running(ModbusDriver(src), sink) as run:
        run.wait(lambda: run.rows() >= 2)
        dev.faults.no_response, dev.faults.remaining = True, 1
        run.wait(lambda: run.driver.status()["timeouts"] >= 1)
        n = run.rows()
        run.wait(lambda: run.rows() >= n + 3)
    assert sink.counters["timeouts"] == 1
    assert _only_overruns(sink)


def test_exception_response_on_one_unit_gives_nan_and_a_partial_gap(tmp_path, tcp_device):
    regs = [Register(address=0, unit_id=1, channel=_ch("a")),
            Register(address=0, unit_id=2, channel=_ch("b"))]
    src, dev = tcp_device(regs)
    dev.set_raw("a", 1.0)
    dev.set_raw("b", 2.0)

    def act(run):
        dev.faults.exception_code, dev.faults.units = 4, frozenset({2})
        run.wait(lambda: run.driver.status()["modbus_errors"] >= 5)
        dev.faults.clear()
        n = run.rows()
        run.wait(lambda: run.rows() >= n + 3)

    drv, reader = _store_run(tmp_path, src, act)
    with reader:
        rec, gaps, counters = reader.read("mb"), reader.gaps("mb"), reader.counters("mb")
    bad = np.isnan(rec.data[:, 1])
    assert bad.sum() >= 5
    assert not np.isnan(rec.data[:, 0]).any()
    assert np.all(rec.data[:, 0] == 1.0)
    assert np.all(rec.data[~bad, 1] == 2.0)
    assert counters["modbus_errors"] == bad.sum()
    partial = [g for g in gaps if "partial" in g.reason]
    assert partial
    assert not _device_gaps([g for g in gaps if g not in partial])  # no poll lost
    for g in partial:
        assert "NaN in b (" in g.reason
        assert "exception 4" in g.reason
    inside = np.zeros(len(rec.times_ns), bool)
    for g in partial:
        inside |= (rec.times_ns >= g.start_ns) & (rec.times_ns < g.end_ns)
    np.testing.assert_array_equal(inside, bad)  # the partial gaps cover exactly the NaN rows


def test_exception_on_every_request_loses_the_poll(tcp_device):
    src, dev = tcp_device([Register(address=0, channel=_ch("a"))])
    sink = MemorySink()
    with Running(ModbusDriver(src), sink) as run:
        run.wait(lambda: run.rows() >= 2)
        dev.faults.exception_code = 6
        run.wait(lambda: run.driver.status()["samples_lost"] >= 3)
        dev.faults.clear()
        n = run.rows()
        run.wait(lambda: run.rows() >= n + 2)
    assert not np.isnan(sink.data).any()
    assert 3 <= sink.counters["modbus_errors"] <= sink.counters["samples_lost"]
    (g,) = _device_gaps(sink.gaps)
    assert "exception 6 (device busy)" in g[2]


def test_dropped_tcp_connection_reconnects_without_loss(tcp_device):
    src, dev = tcp_device([Register(address=0, channel=_ch("a"))])
    sink = MemorySink()
    with Running(ModbusDriver(src), sink) as run:
        for i in range(3):
            n = run.rows()
            run.wait(lambda n=n: run.rows() >= n + 3)
            assert dev.drop_connections() == 1
            run.wait(lambda i=i: run.driver.status()["reconnects"] >= i + 1)
        n = run.rows()
        run.wait(lambda: run.rows() >= n + 3)
    assert sink.counters["reconnects"] == 3
    assert _only_overruns(sink)


def test_server_down_then_back_reconnects_with_backoff(tmp_path):
    src = _source("modbus-tcp", [Register(address=0, channel=_ch("a"))],
                  reconnect_max_s=0.2)
    dev = start_virtual_modbus(src)
    src = _served(src, dev)
    sink = MemorySink()
    with Running(ModbusDriver(src), sink) as run:
        run.wait(lambda: run.rows() >= 3)
        dev.stop()
        run.wait(lambda: run.driver.status()["samples_lost"] >= 10)
        assert not run.driver.status()["connected"]
        dev = start_virtual_modbus(src)  # same port
        try:
            n = run.rows()
            run.wait(lambda: run.rows() >= n + 3)
        finally:
            dev.stop()
    assert sink.counters["reconnects"] == 1
    (g,) = _device_gaps(sink.gaps)
    assert "not connected" in g[2] or "connection lost" in g[2]
    t = sink.t
    assert not np.any((t >= g[0]) & (t < g[1]))
    lost = sink.counters["samples_lost"]
    assert abs(lost - (g[1] - g[0]) * src.poll_rate / 1e9) <= 2  # one per missed poll


def test_slow_responses_overrun_and_skip_ahead(tcp_device):
    src, dev = tcp_device([Register(address=0, channel=_ch("a"))],
                          src={"poll_rate": 50.0, "timeout_s": 0.5})
    sink = MemorySink()
    with Running(ModbusDriver(src), sink) as run:
        run.wait(lambda: run.rows() >= 3)
        dev.faults.delay_s = 0.07  # 3.5 periods
        n = run.rows()
        run.wait(lambda: run.rows() >= n + 4)
        dev.faults.clear()
        n = run.rows()
        run.wait(lambda: run.rows() >= n + 5)
    assert sink.counters["samples_lost"] >= 4
    assert any("overrun" in g[2] for g in sink.gaps)
    t = sink.t
    assert np.all(np.diff(t) > 0)
    for a, b, _ in sink.gaps:
        assert not np.any((t >= a) & (t < b))


def test_schedule_does_not_drift_over_100_polls(tcp_device):
    src, _dev = tcp_device([Register(address=0, channel=_ch("a"))], src={"poll_rate": 50.0})
    sink = MemorySink()
    with Running(ModbusDriver(src), sink) as run:
        run.wait(lambda: run.rows() >= 101, timeout=20)
    t = sink.t[:101].astype(np.float64)
    period = 20e6
    k = np.round((t - t[0]) / period)
    assert k[-1] - len(k) + 1 <= 10  # a few polls may be skipped on a very busy machine
    dev_ms = (t - t[0] - k * period) / 1e6
    # absolute deadlines: the offset at the end equals the offset at the start
    # (a read-then-sleep loop would be late by >= 100 request times here, ~30 ms+)
    drift = np.median(dev_ms[-10:]) - np.median(dev_ms[:10])
    assert abs(drift) < 5.0, drift
    assert np.median(np.abs(dev_ms - np.median(dev_ms))) < 2.0


def test_rtu_two_units_on_one_bus(tmp_path):
    regs = [Register(address=0, unit_id=2, type="int16", channel=_ch("T1", scale=0.01)),
            Register(address=10, unit_id=3, type="uint16",
                     channel=_ch("T2", scale=0.01, offset=-100.0)),
            Register(address=11, unit_id=3, type="float32", channel=_ch("D1"))]
    src = _source("modbus-rtu", regs, tmp_path, poll_rate=20.0)
    with start_virtual_modbus(src) as dev:
        dev.set_raw("T1", 1234)
        dev.set_raw("T2", 11234)
        dev.set_raw("D1", 0.75)
        sink = MemorySink()
        with Running(ModbusDriver(src), sink) as run:
            run.wait(lambda: run.rows() >= 3)
            dev.faults.no_response, dev.faults.units = True, frozenset({3})
            run.wait(lambda: run.driver.status()["partial"] >= 2)
            dev.faults.clear()
            n = run.rows()
            run.wait(lambda: run.rows() >= n + 2)
        reqs = {(r.unit_id, r.function_code, r.address, r.count) for r in dev.requests()}
    assert reqs == {(2, 3, 0, 1), (3, 3, 10, 3)}
    d = sink.data
    np.testing.assert_allclose(d[:, 0], 12.34, rtol=0, atol=1e-5)  # unit 2 never lost
    ok = ~np.isnan(d[:, 1])
    assert (~ok).sum() >= 2
    assert np.all(np.isnan(d[~ok, 2]))
    np.testing.assert_allclose(d[ok, 1], 12.34, atol=1e-4)
    np.testing.assert_array_equal(d[ok, 2], np.float32(0.75))
    assert any("partial" in g[2] and "T2" in g[2] and "D1" in g[2] for g in sink.gaps)


def test_driver_never_raises_when_the_port_does_not_exist(tmp_path):
    src = _source("modbus-rtu", [Register(address=0, channel=_ch("a"))], tmp_path,
                  reconnect_max_s=0.05)
    sink = MemorySink()
    with Running(ModbusDriver(src), sink) as run:
        run.wait(lambda: run.driver.status()["samples_lost"] >= 5)
        assert "cannot" in run.driver.status()["last_error"]
    assert sink.counters["samples_lost"] >= 5
    assert len(sink.gaps) == 1
    assert sink.data.size == 0


def test_status_and_spec():
    src = _source("modbus-tcp", [Register(address=0, channel=_ch("a"))], poll_rate=5.0)
    drv = ModbusDriver(src)
    assert drv.name == "mb"
    assert drv.spec().timing == "timestamped"
    assert drv.spec().fs == 5.0
    st = drv.status()
    for key in ("rate", "connected", "timeouts", "modbus_errors", "reconnects",
                "samples_lost", "gaps", "last_sample_ns", "requests_per_poll"):
        assert key in st
    with pytest.raises(ValueError, match="not Modbus"):
        ModbusDriver(dataclasses.replace(src, kind="serial"))


def test_faults_dataclass_limits_by_unit_and_count():
    f = ModbusFaults(exception_code=2, units=frozenset({5}), remaining=2)
    assert f._take(1) is None
    assert f._take(5) == (False, 2, 0.0)
    assert f._take(5) is not None
    assert f._take(5) is None


def test_faults_parse_for_the_command_line():
    f = ModbusFaults.parse("exception=4, delay=0.05,units=2;3,remaining=7")
    assert (f.exception_code, f.delay_s, f.units, f.remaining) == (4, 0.05, frozenset({2, 3}), 7)
    assert ModbusFaults.parse("no_response=1").no_response
    assert ModbusFaults.parse(None) == ModbusFaults()
    with pytest.raises(ValueError, match="'exceptoin' is unknown"):
        ModbusFaults.parse("exceptoin=4")
    with pytest.raises(ValueError, match="delay='slow'"):
        ModbusFaults.parse("delay=slow")


def test_rtu_port_vanishes_and_comes_back(tmp_path):
    src = _source("modbus-rtu", [Register(address=0, channel=_ch("a"))], tmp_path,
                  reconnect_max_s=0.1)
    dev = start_virtual_modbus(src)
    dev.set_raw("a", 4.0)
    sink = MemorySink()
    with Running(ModbusDriver(src), sink) as run:
        run.wait(lambda: run.rows() >= 3)
        dev.stop()  # adapter unplugged: the pty closes and the port path disappears
        run.wait(lambda: run.driver.status()["samples_lost"] >= 5)
        assert not (tmp_path / "rtu").exists()
        dev = start_virtual_modbus(src)  # plugged in again (a new pty at the same path)
        try:
            dev.set_raw("a", 5.0)
            run.wait(lambda: run.driver.status()["reconnects"] >= 1)
            n = run.rows()
            run.wait(lambda: run.rows() >= n + 3)
        finally:
            dev.stop()
    d = sink.data[:, 0]
    assert set(np.unique(d)) == {4.0, 5.0}
    assert sink.counters["reconnects"] == 1
    t = sink.t
    last_old, first_new = t[d == 4.0].max(), t[d == 5.0].min()
    assert last_old < first_new
    outage = [g for g in _device_gaps(sink.gaps) if last_old < g[0] and g[1] <= first_new]
    assert len(outage) == 1
    assert "connection lost" in outage[0][2] or "not connected" in outage[0][2]
    assert outage[0][1] - outage[0][0] >= 5 / src.poll_rate * 1e9 * 0.8  # >= 5 polls lost


class FailingSink(MemorySink):
    def write(self, *a, **kw):
        raise OSError("disk full")


def test_store_errors_are_not_swallowed_and_the_port_is_closed(tcp_device):
    src, dev = tcp_device([Register(address=0, channel=_ch("a"))])
    drv = ModbusDriver(src)
    stop = threading.Event()
    threading.Timer(0.5, stop.set).start()
    with pytest.raises(OSError, match="disk full"):
        drv.run(FailingSink(), stop)
    assert drv._client is None
    assert not drv.status()["connected"]


def test_silent_rtu_unit_row_time_and_one_gap_record(tmp_path):
    """docs/modbus.md: a row is stamped at the midpoint between sending the poll's
    first request and receiving its last response; consecutive polls with the same
    trouble share one gap record. Unit 3 silent at 5 Hz with timeout 0.3 s and one
    retry: every poll takes about 0.6 s, so the rows of unit 2 are stamped at unit
    2's answer (they were about 300 ms late, in the middle of the timeouts), and
    the silent spell is ONE gap record (it was two per poll, one of them 1 ns)."""
    regs = [Register(address=0, unit_id=2, type="int16", channel=_ch("T1", scale=0.01)),
            Register(address=10, unit_id=3, type="int16", channel=_ch("T2", scale=0.01))]
    src = _source("modbus-rtu", regs, tmp_path, poll_rate=5.0, timeout_s=0.3, retries=1)
    with start_virtual_modbus(src) as dev:
        dev.set_raw("T1", 1234)
        dev.set_raw("T2", 2345)
        sink = MemorySink()
        with Running(ModbusDriver(src), sink) as run:
            run.wait(lambda: run.rows() >= 3)
            dev.faults.no_response, dev.faults.units = True, frozenset({3})
            run.wait(lambda: run.driver.status()["partial"] >= 6, timeout=30)
            dev.faults.clear()
            n = run.rows()
            run.wait(lambda: run.rows() >= n + 3)
        unit2 = np.array([r.t_ns for r in dev.requests() if r.unit_id == 2], np.int64)
    d, t = sink.data, sink.t
    partial = np.isnan(d[:, 1])
    assert partial.sum() >= 6
    np.testing.assert_allclose(d[:, 0], 12.34, atol=1e-5)
    # each row is stamped next to unit 2's request of its poll (the server saw it a
    # moment after it was sent); 50 ms leaves room for a loaded machine
    nearest = np.min(np.abs(t[:, None] - unit2[None, :]), axis=1)
    assert np.all(nearest < 50_000_000), (nearest / 1e6).round(1)
    assert all(b - a >= 1_000_000 for a, b, _ in sink.gaps), sink.gaps
    spell = [g for g in sink.gaps if "partial" in g[2]]
    assert len(spell) == 1, sink.gaps
    a, b, why = spell[0]
    assert "T2" in why and "no response" in why and "overrun" in why
    # it covers exactly the NaN rows, and only gaps of a busy machine lie outside it
    inside = (t >= a) & (t < b)
    np.testing.assert_array_equal(inside, partial)
    assert not _device_gaps([g for g in sink.gaps if g is not spell[0]])
    assert sink.counters["samples_lost"] == run.driver.status()["samples_lost"] > 0
