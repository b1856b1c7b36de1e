"""``bshm acquire`` as a real subprocess against virtual devices on real ptys."""

from __future__ import annotations

import os
import signal
import subprocess
import sys
import time
from pathlib import Path

import numpy as np
import pytest
from bshm.fixtures.stream import BridgeStream
from bshm.fixtures.virtual_serial import FaultConfig, VirtualSerialDevice

from bshm.config import load_station
from bshm.store import open_raw

CHANNELS = [("A01", 2.4e-6, 0.0), ("A05", 2.4e-6, 0.01), ("S2", 0.05, -3.0)]


def write_config(folder: Path, *, fs: float = 100.0, extra: str = "",
                 silence: float = 1.0) -> Path:
    lines = [
        "[station]", 'name = "cli"', 'description = "acquire test"', 'data_dir = "data"',
        'rollover = "1h"', "", "[[sources]]", 'name = "acc"', 'kind = "serial"',
        'port = "dev/acc"', 'protocol = "binary"', 'sample_format = "int24"', f"fs = {fs}",
        f"silence_timeout = {silence}", extra,
    ]
    for name, scale, offset in CHANNELS:
        q, unit = ("strain", "um/m") if name.startswith("S") else ("acceleration", "m/s2")
        lines += ["[[sources.channels]]", f'name = "{name}"', f'quantity = "{q}"',
                  f'unit = "{unit}"', f"scale = {scale}", f"offset = {offset}"]
    path = folder / "station.toml"
    path.write_text("\n".join(lines) + "\n")
    return path


def bshm(*args: str, cwd: Path) -> subprocess.Popen:
    return subprocess.Popen(
        [sys.executable, "-m", "bshm", *args], cwd=cwd, stdout=subprocess.PIPE,
        stderr=subprocess.PIPE, text=True,
    )


def wait_for(cond, timeout: float, what: str) -> None:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if cond():
            return
        time.sleep(0.05)
    raise AssertionError(f"timed out waiting for {what}")


def stored_samples(data_dir: Path) -> int:
    try:
        with open_raw(data_dir) as r:
            return r.read("acc").data.shape[0]
    except Exception:  # noqa: BLE001 - the file may not exist yet
        return -1


@pytest.fixture
def station(tmp_path):
    return load_station(write_config(tmp_path))


def test_acquire_records_exactly_what_the_device_sent(tmp_path):
    """1 % of the bytes on the wire corrupted: every intact frame is stored exactly,
    at its time, and the counters in the file match the injected faults."""
    # a long silence timeout: the halted device must not count as lost before SIGTERM
    src = load_station(write_config(tmp_path, silence=10.0)).source("acc")
    dev = VirtualSerialDevice.from_source(src, BridgeStream(seed=5), samples_per_frame=5,
                                          faults=FaultConfig(byte_error=0.01, seed=8))
    with dev:
        proc = bshm("acquire", "station.toml", "--status-interval", "1", cwd=tmp_path)
        try:
            assert dev.wait_listener(30), "acquire never opened the port"
            wait_for(lambda: len(dev.ledger.ok()) >= 40, 20, "frames")
            assert dev.halt()
            n_sent = sum(f.raw.shape[0] for f in dev.ledger.ok())
            wait_for(lambda: stored_samples(tmp_path / "data") >= n_sent, 10, "flush")
            proc.send_signal(signal.SIGTERM)
            out, err = proc.communicate(timeout=20)
        finally:
            if proc.poll() is None:
                proc.kill()
    assert proc.returncode == 0, err
    assert "frames ok" in err  # status lines
    files = sorted((tmp_path / "data").iterdir())
    assert files
    assert all(f.suffix == ".h5" for f in files)
    assert str(files[0]) in out
    ok = dev.ledger.ok()
    scale = np.array([c.scale for c in src.channels])
    offset = np.array([c.offset for c in src.channels])
    with open_raw(tmp_path / "data") as r:
        rec = r.read("acc")
        counters = r.counters("acc")
        gaps = r.gaps("acc")
    want = dev.ledger.expected_counters()
    assert want["frames_bad"] > 5  # the faults happened
    for key in ("frames_ok", "frames_bad", "bytes_skipped", "samples_lost"):
        assert counters[key] == want[key], key
    seqs = [f.seq for f in ok]  # one gap per run of frames missing between intact ones
    assert len(gaps) == sum(1 for a, b in zip(seqs, seqs[1:]) if b != a + 1)
    assert all("sequence jump" in g.reason for g in gaps)
    assert [c.name for c in rec.channels] == [c[0] for c in CHANNELS]
    sent = np.concatenate([f.raw for f in ok]).astype(np.float64)
    np.testing.assert_array_equal(rec.data, (sent * scale + offset).astype(np.float32))
    t_true = np.concatenate(
        [f.t0_ns + np.arange(f.raw.shape[0]) * 10_000_000 for f in ok]
    )
    # host-aligned: within a few ms (the pty latency floor; 20 ms leaves room for a
    # loaded CI machine, typical is < 1 ms)
    assert np.max(np.abs(rec.times_ns - t_true)) < 20_000_000


def test_sigkill_leaves_a_readable_file(tmp_path, station):
    dev = VirtualSerialDevice.from_source(station.source("acc"), BridgeStream(seed=6),
                                          faults=FaultConfig(garbage=0.05, seed=1))
    with dev:
        proc = bshm("acquire", "station.toml", cwd=tmp_path)
        try:
            assert dev.wait_listener(30)
            wait_for(lambda: stored_samples(tmp_path / "data") >= 150, 20, "data on disk")
        finally:
            proc.send_signal(signal.SIGKILL)
            proc.communicate(timeout=10)
    (part,) = (tmp_path / "data").glob("*.h5.part")
    with open_raw(part) as r:
        rec = r.read("acc")
    assert rec.data.shape[0] >= 150
    first = np.concatenate([f.raw for f in dev.ledger.ok()])[: rec.data.shape[0]]
    src = station.source("acc")
    scale = np.array([c.scale for c in src.channels])
    offset = np.array([c.offset for c in src.channels])
    np.testing.assert_array_equal(rec.data, (first * scale + offset).astype(np.float32))


def test_bad_config_exits_2_with_the_message(tmp_path):
    cfg = write_config(tmp_path, extra='parity = "Q"')
    proc = bshm("acquire", str(cfg), "--duration", "1", cwd=tmp_path)
    out, err = proc.communicate(timeout=60)
    assert proc.returncode == 2
    assert "parity" in err
    assert "Traceback" not in err
    proc = bshm("acquire", str(tmp_path / "missing.toml"), cwd=tmp_path)
    _, err = proc.communicate(timeout=60)
    assert proc.returncode == 2
    assert "missing.toml" in err
    proc = bshm("acquire", str(cfg), "--duration", "soon", cwd=tmp_path)
    _, err = proc.communicate(timeout=60)
    assert proc.returncode == 2
    assert "--duration" in err


def test_simulate_devices_then_acquire_with_duration(tmp_path):
    write_config(tmp_path, fs=50.0)
    devs = bshm("simulate", "devices", "station.toml", "--faults", "bit_flip=0.05,seed=3",
                cwd=tmp_path)
    link = tmp_path / "dev" / "acc"
    try:
        wait_for(link.exists, 30, "the device symlink")
        assert os.readlink(link).startswith("/dev/pts/")
        acq = bshm("acquire", "station.toml", "--duration", "6", cwd=tmp_path)
        out, err = acq.communicate(timeout=60)
        assert acq.returncode == 0, err
        with open_raw(tmp_path / "data") as r:
            rec = r.read("acc")
            counters = r.counters("acc")
        assert rec.data.shape[0] > 25
        assert counters["frames_ok"] > 0
        assert np.all(np.diff(rec.times_ns) > 0)
    finally:
        devs.send_signal(signal.SIGTERM)
        out, err = devs.communicate(timeout=20)
    assert devs.returncode == 0, err
    assert "acc: serial binary at" in out
    assert not link.exists()
    assert not link.is_symlink()


def test_sigint_stops_cleanly_without_a_device(tmp_path, station):
    """No device (the port never appears): Ctrl-C still stops cleanly, the outage is
    in the file, and the exit code says the station did not record (1)."""
    proc = bshm("acquire", "station.toml", cwd=tmp_path)
    try:
        assert proc.stderr is not None
        for line in proc.stderr:  # wait until the port was tried (signal handlers set)
            if "cannot open" in line:
                break
        proc.send_signal(signal.SIGINT)
        _, err = proc.communicate(timeout=20)
    finally:
        if proc.poll() is None:
            proc.kill()
    assert proc.returncode == 1, err
    assert "SIGINT received" in err
    assert "Traceback" not in err
    assert "acc: no sample recorded" in err
    with open_raw(tmp_path / "data") as r:
        (g,) = r.gaps("acc")
        assert "not connected" in g.reason
        assert r.counters("acc")["samples_lost"] > 0
