"""A station with one serial and two Modbus sources (TCP and RTU) under ``bshm acquire``."""

from __future__ import annotations

import socket
import subprocess
import sys
import time
from pathlib import Path

import numpy as np
import pytest
from bshm.fixtures.stations import simulated_station_toml

from bshm.config import load_station
from bshm.store import open_raw

DURATION_S = 6.0


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


@pytest.mark.slow
def test_acquire_records_serial_and_both_modbus_sources(tmp_path):
    from bshm.fixtures.devices import start_devices
    from bshm.fixtures.stream import BridgeStream
    from bshm.fixtures.temperature import temperature_at

    text = simulated_station_toml("data").replace("port = 15020", f"port = {_free_port()}")
    cfg = tmp_path / "station.toml"
    cfg.write_text(text)
    station = load_station(cfg)
    kinds = {s.name: s.kind for s in station.sources}
    assert kinds == {"acc": "serial", "strain": "modbus-tcp", "env": "modbus-rtu"}
    stream = BridgeStream(seed=0)  # same seed as other tests: the model is cached per process
    with start_devices(station, stream=stream):
        t_start = time.time_ns()
        proc = subprocess.run(
            [str(Path(sys.executable).with_name("bshm")), "acquire", str(cfg),
             "--duration", str(DURATION_S), "--status-interval", "1"],
            capture_output=True, text=True, timeout=60, cwd=tmp_path,
        )
        t_end = time.time_ns()
    assert proc.returncode == 0, proc.stderr[-2000:]
    with open_raw(tmp_path / "data") as raw:
        assert set(raw.sources) == {"acc", "strain", "env"}
        recs = {name: raw.read(name) for name in raw.sources}
        counters = {name: raw.counters(name) for name in raw.sources}
        gaps = {name: raw.gaps(name) for name in raw.sources}
    for name, rec in recs.items():
        t = rec.times_ns
        assert len(t) > 0, name
        assert np.all(np.diff(t) > 0), name
        assert t_start <= t[0], name
        assert t[-1] <= t_end, name
        assert not np.isnan(rec.data).any(), name
    # the sources were recorded together (the serial driver may start a little later)
    overlap = (min(r.times_ns[-1] for r in recs.values())
               - max(r.times_ns[0] for r in recs.values()))
    assert overlap > 1e9

    # consistent times across sources: the accelerations (serial, regular) match
    # the same simulated bridge at their own times, best at lag 0 (+- 2 samples)
    acc = recs["acc"]
    acc_names = [c.name for c in acc.channels]
    truth = stream.values(acc_names, int(acc.times_ns[0]), len(acc.times_ns), 100.0)
    lags = range(-10, 11)
    err = [np.median(np.abs(acc.data[10:-10] - np.roll(truth, lag, axis=0)[10:-10]))
           for lag in lags]
    assert abs(lags[int(np.argmin(err))]) <= 2, err

    strain, env = recs["strain"], recs["env"]
    span_s = (strain.times_ns[-1] - strain.times_ns[0]) / 1e9
    lost = counters["strain"]["samples_lost"]
    # every 20 Hz poll is either in the file or counted lost (a loaded CI machine
    # may stall the poller; then the skipped polls are gaps, never silent holes)
    assert abs(len(strain.times_ns) + lost - (20 * span_s + 1)) <= 2
    assert lost <= 0.25 * 20 * span_s  # a heavily loaded CI machine may stall the poller
    assert abs(np.median(np.diff(strain.times_ns)) / 1e6 - 50.0) < 2.0
    assert counters["env"]["samples_lost"] == 0
    assert len(env.times_ns) >= DURATION_S - 2

    # consistent times: each stored strain equals the bridge's strain near its own
    # time stamp: the device refreshes its registers at 40 Hz from the 20 Hz grid, so
    # the match is at 0 or -1 grid steps (a loaded machine may delay a refresh).
    names = [c.name for c in strain.channels]
    grid = 1e9 / 20.0
    lags = np.arange(-8, 3)
    best = []
    for t, row in zip(strain.times_ns, strain.data, strict=True):
        err = [np.max(np.abs(np.float32(stream.values(names, int(t + j * grid), 1, 20.0)[0])
                             - row)) for j in lags]
        best.append(lags[int(np.argmin(err))] if min(err) < 1e-3 else 99)
    best = np.asarray(best)
    assert np.mean((best >= -1) & (best <= 0)) >= 0.8, best
    assert np.all(best != 99), best  # every value is the bridge's, never garbage
    # temperatures: 0.01 degC registers, read at the stored times
    structural, air = temperature_at(env.times_ns)
    t1 = env.data[:, [c.name for c in env.channels].index("T1")]
    t2 = env.data[:, [c.name for c in env.channels].index("T2")]
    assert np.max(np.abs(t1 - structural)) < 0.02
    assert np.max(np.abs(t2 - air)) < 0.02
    assert not gaps["strain"] or all("overrun" in g.reason for g in gaps["strain"])
