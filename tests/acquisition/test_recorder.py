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


def test_recorder_survives_a_missing_device(tmp_path, caplog):
    """No device at all: the recorder keeps retrying and stops cleanly."""
    st = parse_station(TOML, base_dir=tmp_path)
    rec = Recorder(st, duration_s=1.0, status_interval_s=0.3)
    with caplog.at_level(logging.INFO):
        assert rec.run() == 0
    assert "cannot open" in caplog.text
    assert "NOT connected" in caplog.text
    assert rec.paths == []  # nothing recorded, no empty file


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
