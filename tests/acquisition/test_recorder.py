"""Recorder: several sources into one file, bounded queue with no silent drops."""

from __future__ import annotations

import logging
import queue
import threading
import time

import numpy as np
import pytest
from bshm.acquisition.base import Driver, Sink
from bshm.acquisition.drivers import make_driver
from bshm.acquisition.recorder import QueueSink, Recorder
from bshm.acquisition.serial_driver import SerialDriver
from bshm.fixtures.devices import start_devices

from bshm.config import Channel, SerialSource, Station, parse_station
from bshm.errors import ConfigError
from bshm.store import RawWriter, open_raw

TOML = """
[station]
name = "rec"
description = "two serial digitizers"
data_dir = "data"

[[sources]]
name = "fast"
kind = "serial"
port = "dev/fast"
fs = 400.0
silence_timeout = 1.0
[[sources.channels]]
name = "X1"
quantity = "acceleration"
unit = "m/s2"
scale = 1e-6
[[sources.channels]]
name = "X2"
quantity = "acceleration"
unit = "m/s2"
scale = 1e-6

[[sources]]
name = "slow"
kind = "serial"
port = "dev/slow"
protocol = "line"
delimiter = "whitespace"
checksum = true
time_column = 0
fs = 20.0
silence_timeout = 1.0
[[sources.channels]]
name = "Y1"
quantity = "temperature"
unit = "degC"
column = 1
"""


def test_queue_sink_counts_what_it_cannot_queue(caplog):
    q: queue.Queue = queue.Queue(maxsize=2)
    sink = QueueSink(q, {"a": 100.0, "b": 10.0})
    assert isinstance(sink, Sink)
    block = np.ones((50, 3))
    with caplog.at_level(logging.WARNING):
        for k in range(4):
            sink.write("a", block, t0_ns=k * 500_000_000)
        sink.write("b", np.ones((3, 1)), times_ns=np.array([0, 100_000_000, 200_000_000]))
    assert q.qsize() == 2
    assert sink.blocks_lost == 3
    assert sink.samples_lost == 103
    gaps, counts = sink.take()
    assert gaps == [
        ("a", 1_000_000_000, 1_500_000_000, "recorder queue full (disk too slow)"),
        ("a", 1_500_000_000, 2_000_000_000, "recorder queue full (disk too slow)"),
        ("b", 0, 300_000_000, "recorder queue full (disk too slow)"),
    ]
    assert counts == {("a", "samples_lost"): 100, ("b", "samples_lost"): 3}
    assert "queue full" in caplog.text
    assert sink.take() == ([], {})


def test_make_driver_by_kind(tmp_path):
    st = parse_station(TOML, base_dir=tmp_path)
    drv = make_driver(st.source("fast"))
    assert isinstance(drv, SerialDriver)
    assert isinstance(drv, Driver)
    assert drv.spec().fs == 400.0
    bad = SerialSource(name="x", port="p", channels=(Channel("c", "other", "V"),),
                       kind="carrier-pigeon")
    with pytest.raises(ConfigError, match="carrier-pigeon"):
        make_driver(bad)
    line = SerialSource(name="x", port="p", channels=(Channel("c", "other", "V"),),
                        protocol="line")
    with pytest.raises(ConfigError, match="column"):
        make_driver(line)


def test_two_sources_one_file_each_at_its_rate(tmp_path):
    st: Station = parse_station(TOML, base_dir=tmp_path)
    with start_devices(st, seed=2) as devs:
        rec = Recorder(st, status_interval_s=0.5)
        th = threading.Thread(target=rec.run)
        th.start()
        try:
            for d in devs.serial.values():
                assert d.wait_listener(20)
            deadline = time.monotonic() + 20
            while time.monotonic() < deadline and (
                len(devs.serial["slow"].ledger.ok()) < 30
                or len(devs.serial["fast"].ledger.ok()) < 30
            ):
                time.sleep(0.05)
            for d in devs.serial.values():
                assert d.halt()
            drivers = {d.name: d for d in rec.drivers}

            def all_written():
                return all(
                    drivers[n].status()["samples"]
                    == sum(f.raw.shape[0] for f in devs.serial[n].ledger.ok())
                    for n in ("fast", "slow")
                )

            deadline = time.monotonic() + 10
            while not all_written() and time.monotonic() < deadline:
                time.sleep(0.05)
        finally:
            rec.stop()
            th.join(30)
    assert not th.is_alive()
    assert len(rec.paths) == 1  # one file for both sources
    with open_raw(rec.paths[0]) as r:
        assert set(r.sources) == {"fast", "slow"}
        for name in ("fast", "slow"):
            ok = devs.serial[name].ledger.ok()
            data = r.read(name)
            assert data.fs == st.source(name).fs
            assert data.data.shape[0] == sum(f.raw.shape[0] for f in ok)
            assert r.counters(name)["frames_ok"] == len(ok)
            sent = np.concatenate([f.raw for f in ok])
            scale = np.array([c.scale for c in st.source(name).channels])
            np.testing.assert_array_equal(data.data, (sent * scale).astype(np.float32))
            dt = np.diff(data.times_ns)
            assert np.all(dt > 0)


def test_a_device_that_never_connects_is_recorded_and_fails_the_run(tmp_path, caplog):
    """No device at all: the recorder keeps retrying, stops cleanly, and does not
    call that a success. The outage is in the file (a gap per source with its
    reason and samples_lost), so inspect and the analysis see the device was down."""
    st = parse_station(TOML, base_dir=tmp_path)
    rec = Recorder(st, duration_s=1.0, status_interval_s=0.3)
    t0 = time.time_ns()
    with caplog.at_level(logging.INFO):
        assert rec.run() == 1
    t1 = time.time_ns()
    assert "cannot open" in caplog.text
    assert "NOT connected, no data yet (cannot open" in caplog.text
    assert rec.sources_without_data == ["fast", "slow"]
    errors = [r for r in caplog.records if r.levelno == logging.ERROR]
    assert sorted(r.getMessage().split(":")[0] for r in errors) == ["fast", "slow"]
    assert all("no sample recorded" in r.getMessage() for r in errors)
    (path,) = rec.paths
    with open_raw(path) as r:
        for name in ("fast", "slow"):
            assert r.read(name).data.shape[0] == 0
            (g,) = r.gaps(name)
            assert t0 <= g.start_ns < g.end_ns <= t1
            assert g.end_ns - g.start_ns > 0.9e9  # the whole recording
            assert "not connected" in g.reason and "cannot open" in g.reason
            fs = st.source(name).fs
            assert r.counters(name)["samples_lost"] == round((g.end_ns - g.start_ns) * fs / 1e9)


def test_a_long_outage_is_recorded_in_pieces_while_it_lasts(tmp_path, monkeypatch):
    """A device that stays away is recorded while the recording runs (every
    OUTAGE_RECORD_S), so a killed recorder leaves most of the outage on disk."""
    from bshm.acquisition import serial_driver

    monkeypatch.setattr(serial_driver, "OUTAGE_RECORD_S", 0.4)
    st = parse_station(TOML, base_dir=tmp_path)
    rec = Recorder(st, duration_s=2.5, status_interval_s=5.0)
    assert rec.run() == 1
    with open_raw(rec.paths[0]) as r:
        gaps = r.gaps("fast")
        lost = r.counters("fast")["samples_lost"]
    assert len(gaps) >= 2  # a piece at a retry (back-off 0.1 s doubling) + the last one
    for a, b in zip(gaps, gaps[1:]):
        assert a.end_ns == b.start_ns  # contiguous pieces, no overlap
    assert lost == sum(round((g.end_ns - g.start_ns) * 400 / 1e9) for g in gaps)


def test_one_dead_device_does_not_stop_the_others(tmp_path, caplog):
    """"fast" streams; "slow" never appears: fast is stored exactly, slow's outage is
    a gap, and the run ends with exit code 1 naming slow."""
    st = parse_station(TOML, base_dir=tmp_path)
    from bshm.fixtures.stream import BridgeStream
    from bshm.fixtures.virtual_serial import VirtualSerialDevice

    dev = VirtualSerialDevice.from_source(st.source("fast"), BridgeStream(seed=1))
    with dev:
        rec = Recorder(st, status_interval_s=0.5)
        th = threading.Thread(target=rec.run)
        with caplog.at_level(logging.INFO):
            th.start()
            try:
                assert dev.wait_listener(20)
                deadline = time.monotonic() + 20
                while len(dev.ledger.ok()) < 30 and time.monotonic() < deadline:
                    time.sleep(0.05)
                assert dev.halt()
                want = sum(f.raw.shape[0] for f in dev.ledger.ok())
                fast = next(d for d in rec.drivers if d.name == "fast")
                while fast.status()["samples"] < want and time.monotonic() < deadline:
                    time.sleep(0.05)
            finally:
                rec.stop()
                th.join(30)
    assert rec.sources_without_data == ["slow"]
    assert "slow: no sample recorded" in caplog.text
    with open_raw(rec.paths[0]) as r:
        sent = np.concatenate([f.raw for f in dev.ledger.ok()])
        scale = np.array([c.scale for c in st.source("fast").channels])
        np.testing.assert_array_equal(r.read("fast").data, (sent * scale).astype(np.float32))
        (g,) = r.gaps("slow")
        assert "not connected" in g.reason


def test_writer_errors_are_reported_not_fatal(tmp_path, caplog):
    """A block the store refuses (time going backwards) is logged and counted."""
    st = parse_station(TOML, base_dir=tmp_path)

    class Backwards:
        name = "fast"

        def __init__(self):
            self.n = 0

        def spec(self):
            return st.source("fast").spec()

        def status(self):
            return {"samples": self.n}

        def run(self, sink, stop):
            sink.write("fast", np.zeros((4, 2)), t0_ns=10_000_000_000)
            sink.write("fast", np.zeros((4, 2)), t0_ns=5_000_000_000)  # before the first
            sink.count("fast", "frames_ok", 2)
            self.n = 8
            stop.wait()

    rec = Recorder(st, duration_s=0.5, drivers=[Backwards()])
    with caplog.at_level(logging.ERROR):
        assert rec.run() == 1
    assert "not stored" in caplog.text
    with open_raw(rec.paths[0]) as r:
        assert r.read("fast").data.shape == (4, 2)
        c = r.counters("fast")
        assert c["frames_ok"] == 2
        assert c["samples_lost"] == 4


def test_raw_writer_is_a_sink(tmp_path):
    st = parse_station(TOML, base_dir=tmp_path)
    with RawWriter(tmp_path / "w", "x", st.specs()) as w:
        assert isinstance(w, Sink)


def test_stalled_disk_loses_nothing_silently(tmp_path, caplog, monkeypatch):
    """The writer stalls (slow disk): every block is either stored or a counted gap."""
    st = parse_station(TOML, base_dir=tmp_path)
    fs = st.source("fast").fs

    class Burst:
        name = "fast"

        def spec(self):
            return st.source("fast").spec()

        def status(self):
            return {"samples": 0}

        def run(self, sink, stop):
            for k in range(40):  # 40 blocks of 0.1 s, much faster than the "disk"
                sink.write("fast", np.full((40, 2), k, dtype=float),
                           t0_ns=10**18 + int(k * 40 * 1e9 / fs))
            stop.wait()

    rec = Recorder(st, duration_s=2.0, queue_blocks=3, drivers=[Burst()])
    real_write = RawWriter.write

    def slow_write(self, *args, **kw):
        time.sleep(0.02)  # the stalled disk
        return real_write(self, *args, **kw)

    monkeypatch.setattr(RawWriter, "write", slow_write)
    with caplog.at_level(logging.WARNING):
        assert rec.run() == 0
    assert "queue full" in caplog.text
    with open_raw(rec.paths[0]) as r:
        data = r.read("fast").data
        lost = r.counters("fast")["samples_lost"]
        gaps = r.gaps("fast")
    assert lost > 0
    assert data.shape[0] + lost == 40 * 40
    assert sum(g.end_ns - g.start_ns for g in gaps) == pytest.approx(lost / fs * 1e9, abs=len(gaps))
    stored_blocks = set(np.unique(data[:, 0]).astype(int))
    assert len(stored_blocks) * 40 == data.shape[0]  # whole blocks, never torn


def test_a_modbus_device_that_never_answers_fails_the_run(tmp_path, caplog):
    """A Modbus TCP conditioner that refuses every connection: one gap record for the
    whole recording, samples_lost per missed poll, exit code 1 naming it."""
    import socket

    with socket.socket() as s:  # a free port nobody listens on
        s.bind(("127.0.0.1", 0))
        port = s.getsockname()[1]
    toml = f"""
[station]
name = "mb"
description = "one dead conditioner"
data_dir = "data"

[[sources]]
name = "strain"
kind = "modbus-tcp"
host = "127.0.0.1"
port = {port}
poll_rate = 10.0
timeout = 0.1
reconnect_max = 0.2
[[sources.registers]]
name = "S1"
quantity = "strain"
unit = "um/m"
address = 0
"""
    st = parse_station(toml, base_dir=tmp_path)
    rec = Recorder(st, duration_s=1.5, status_interval_s=0.5)
    with caplog.at_level(logging.INFO):
        assert rec.run() == 1
    assert "strain: no sample recorded" in caplog.text
    assert f"cannot connect to 127.0.0.1:{port}" in caplog.text
    with open_raw(rec.paths[0]) as r:
        (g,) = r.gaps("strain")
        lost = r.counters("strain")["samples_lost"]
    assert "not connected" in g.reason
    status = rec.drivers[0].status()
    assert lost == status["samples_lost"] >= 3  # one per missed poll (10 Hz)
    assert status["rows"] == 0
    assert g.end_ns - g.start_ns >= (lost - 1) * 100_000_000  # from the first missed poll
