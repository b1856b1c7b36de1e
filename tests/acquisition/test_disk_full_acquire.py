"""The recorder and ``bshm acquire`` on a real full disk (a small tmpfs).

Never an endless loop, ``--duration`` and SIGTERM honoured, one clear line
when the disk fills and one when it recovers, samples kept in memory and
written bit for bit with their exact times once space returns, the rest
counted and recorded as gaps "disk full".
"""

from __future__ import annotations

import logging
import queue
import signal
import subprocess
import sys
import threading
import time
from pathlib import Path

import numpy as np
import pytest
from acq_disk import Filler, LineWatch, tmpfs
from bshm.acquisition.recorder import Recorder
from bshm.fixtures.stream import BridgeStream
from bshm.fixtures.virtual_serial import VirtualSerialDevice

from bshm.config import load_station, parse_station
from bshm.store import open_raw
from bshm.timeutil import parse_time, sample_times

T0 = parse_time("2026-03-01T10:00:00Z")
BLOCK = 100


def station_toml(data_dir: Path, port: str = "dev/acc") -> str:
    lines = ["[station]", 'name = "df"', 'description = "disk full"',
             f'data_dir = "{data_dir}"', "", "[[sources]]", 'name = "acc"', 'kind = "serial"',
             f'port = "{port}"', "fs = 100.0", "silence_timeout = 5.0"]
    for i in range(3):
        lines += ["[[sources.channels]]", f'name = "A{i}"', 'quantity = "acceleration"',
                  'unit = "m/s2"', "scale = 1e-6"]
    return "\n".join(lines) + "\n"


def block(k: int) -> np.ndarray:
    r = np.arange(k * BLOCK, (k + 1) * BLOCK, dtype=np.float64)[:, None]
    return (r + np.arange(3)[None, :] / 8.0).astype(np.float32)


class ScriptedDriver:
    """Writes block k (1 s at 100 Hz) when the test pushes k."""

    name = "acc"

    def __init__(self, spec) -> None:
        self._spec = spec
        self.todo: queue.Queue = queue.Queue()
        self.n = 0

    def spec(self):
        return self._spec

    def status(self):
        return {"samples": self.n, "connected": True}

    def push(self, ks) -> None:
        for k in ks:
            self.todo.put(k)

    def run(self, sink, stop) -> None:
        while not stop.is_set():
            try:
                k = self.todo.get(timeout=0.05)
            except queue.Empty:
                continue
            sink.write("acc", block(k), t0_ns=T0 + k * 1_000_000_000)
            self.n += BLOCK


def wait_until(cond, what: str, timeout: float = 120.0) -> None:
    # generous: under a load average of 8 a 30 s wait for a log line once ran out
    deadline = time.monotonic() + timeout
    while not cond():
        if time.monotonic() > deadline:
            raise AssertionError(f"timed out waiting for {what}")
        time.sleep(0.02)


def logged(caplog, text: str) -> list[str]:
    return [r.getMessage() for r in caplog.records if text in r.getMessage()]


class Running:
    def __init__(self, rec: Recorder) -> None:
        self.rec, self.code = rec, None
        self.thread = threading.Thread(target=self._run)

    def _run(self) -> None:
        self.code = self.rec.run()

    def __enter__(self) -> Running:
        self.thread.start()
        return self

    def stop(self) -> int | None:
        self.rec.stop()
        self.thread.join(60)
        assert not self.thread.is_alive()
        return self.code

    def __exit__(self, *exc) -> None:
        if self.thread.is_alive():
            self.stop()


def _recorder(mnt: Path, **kw) -> tuple[Recorder, ScriptedDriver]:
    (mnt / "data").mkdir()
    st = parse_station(station_toml(mnt / "data"), base_dir=mnt)
    drv = ScriptedDriver(st.source("acc").spec())
    return Recorder(st, drivers=[drv], status_interval_s=0.2, **kw), drv


def test_recorder_keeps_recording_through_a_full_disk(tmp_path, caplog):
    with tmpfs(tmp_path / "mnt") as mnt, caplog.at_level(logging.INFO):
        rec, drv = _recorder(mnt)
        filler = Filler(mnt)
        with Running(rec) as run:
            drv.push(range(3))
            wait_until(lambda: rec.writer is not None and rec.samples_written["acc"] == 300
                       and rec.writer.n_flushes > 0 and rec.writer.buffered_bytes() == 0,
                       "the first blocks on disk")
            filler.fill()
            drv.push(range(3, 13))
            wait_until(lambda: logged(caplog, "disk is full"), "the disk-full line")
            wait_until(lambda: logged(caplog, "DISK FULL:"), "a status line saying so")
            wait_until(lambda: rec.samples_written["acc"] == 1300, "blocks in memory")
            filler.free()
            wait_until(lambda: logged(caplog, "disk space is back"), "the recovery line")
            drv.push(range(13, 15))
            wait_until(lambda: rec.samples_written["acc"] == 1500, "the last blocks")
            code = run.stop()
        assert code == 0
        assert len(logged(caplog, "disk is full")) == 1
        assert len(logged(caplog, "disk space is back")) == 1
        with open_raw(mnt / "data") as r:
            rec_acc, gaps, counters = r.read("acc"), r.gaps("acc"), r.counters("acc")
    np.testing.assert_array_equal(rec_acc.data, np.concatenate([block(k) for k in range(15)]))
    np.testing.assert_array_equal(rec_acc.times_ns, sample_times(T0, 1500, 100.0))
    assert gaps == []
    assert counters["samples_lost"] == counters["samples_lost_disk_full"] == 0


def test_recorder_memory_bound_drops_and_exit_code_1(tmp_path, caplog):
    with tmpfs(tmp_path / "mnt") as mnt, caplog.at_level(logging.INFO):
        rec, drv = _recorder(mnt, disk_buffer_bytes=4 * BLOCK * 3 * 4)
        filler = Filler(mnt)
        with Running(rec) as run:
            drv.push(range(2))
            wait_until(lambda: rec.writer is not None and rec.samples_written["acc"] == 200
                       and rec.writer.buffered_bytes() == 0, "the first blocks on disk")
            filler.fill()
            drv.push([2])
            wait_until(lambda: logged(caplog, "disk is full"), "the disk-full line")
            drv.push(range(3, 12))  # the bound (4 blocks) is known from now on
            wait_until(lambda: rec.samples_written["acc"] == 1200, "blocks handed over")
            wait_until(lambda: logged(caplog, "memory buffer is full"), "the bound line")
            filler.free()
            wait_until(lambda: logged(caplog, "disk space is back"), "the recovery line")
            code = run.stop()
        assert code == 1
        (line,) = logged(caplog, "samples not kept because the disk was full")
        with open_raw(mnt / "data") as r:
            data, gaps, counters = r.read("acc").data, r.gaps("acc"), r.counters("acc")
    lost = counters["samples_lost_disk_full"]
    assert f"acc {lost}" in line
    assert lost == counters["samples_lost"] > 0
    assert data.shape[0] + lost == 1200
    n = data.shape[0] // BLOCK
    np.testing.assert_array_equal(data, np.concatenate([block(k) for k in range(n)]))
    (g,) = gaps
    assert (g.start_ns, g.end_ns) == (T0 + n * 1_000_000_000, T0 + 12 * 1_000_000_000)


def test_recorder_stopped_while_the_disk_is_full(tmp_path, caplog):
    """Stop while full: bounded, exit code 1, one line with what was lost."""
    with tmpfs(tmp_path / "mnt") as mnt, caplog.at_level(logging.INFO):
        rec, drv = _recorder(mnt)
        filler = Filler(mnt)
        with Running(rec) as run:
            drv.push(range(2))
            wait_until(lambda: rec.writer is not None and rec.samples_written["acc"] == 200
                       and rec.writer.buffered_bytes() == 0, "the first blocks on disk")
            filler.fill()
            drv.push(range(2, 5))
            wait_until(lambda: rec.samples_written["acc"] == 500, "blocks in memory")
            wait_until(lambda: logged(caplog, "disk is full"), "the disk-full line")
            code = run.stop()
        assert code == 1
        assert logged(caplog, "samples kept in memory and not written: 300 of acc")
        names = [p.name for p in (mnt / "data").iterdir()]
        assert len(names) == 1 and names[0].endswith(".h5"), names
        filler.free()
        with open_raw(mnt / "data") as r:
            assert r.read("acc").data.shape[0] == 200
            assert r.counters("acc")["samples_lost_disk_full"] == 300


# -- bshm acquire as a real process, a virtual digitizer on a real pty ---------------

def _acquire(cwd: Path, *args: str) -> subprocess.Popen:
    return subprocess.Popen([sys.executable, "-m", "bshm", "acquire", "station.toml", *args],
                            cwd=cwd, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)


def _finish(proc: subprocess.Popen, err: LineWatch) -> tuple[str, str]:
    """Kill if still running; the whole stderr and stdout; pipes closed."""
    if proc.poll() is None:
        proc.kill()
        proc.wait(30)
    text = err.text()
    out = proc.stdout.read()
    proc.stdout.close()
    proc.stderr.close()
    return text, out


def _setup(tmp_path: Path, mnt: Path):
    (mnt / "data").mkdir()
    cfg = tmp_path / "station.toml"
    cfg.write_text(station_toml(mnt / "data"))
    src = load_station(cfg).source("acc")
    dev = VirtualSerialDevice.from_source(src, BridgeStream(seed=4), samples_per_frame=5)
    return src, dev


@pytest.mark.parametrize("stop", ["duration", "SIGTERM"])
def test_acquire_on_a_full_disk_stops_cleanly_with_one_line(tmp_path, stop):
    """A disk full from the start: no endless loop, no litter, --duration or SIGTERM
    honoured, one line when the disk fills, exit code 1 saying what was lost."""
    with tmpfs(tmp_path / "mnt") as mnt:
        _src, dev = _setup(tmp_path, mnt)
        Filler(mnt).fill()
        with dev:
            args = ("--duration", "4") if stop == "duration" else ()
            proc = _acquire(tmp_path, "--status-interval", "1", *args)
            err = LineWatch(proc.stderr)
            try:
                err.wait_for("disk is full", 60)
                if stop == "SIGTERM":
                    err.wait_for("DISK FULL:", 30)
                    proc.send_signal(signal.SIGTERM)
                proc.wait(timeout=60)
            finally:
                text, out = _finish(proc, err)
        assert proc.returncode == 1, text
        assert "Traceback" not in text
        assert sum("disk is full" in line and "keeping new samples" in line
                   for line in text.splitlines()) == 1, text
        assert "samples kept in memory and not written" in text
        assert list((mnt / "data").iterdir()) == []  # nothing could be created: no litter
        assert out.strip() == ""


def test_acquire_resumes_when_space_returns(tmp_path):
    """Full at the start, space freed while recording: every frame the device
    delivered is stored exactly, nothing counted lost, exit code 0."""
    with tmpfs(tmp_path / "mnt") as mnt:
        src, dev = _setup(tmp_path, mnt)
        filler = Filler(mnt).fill()
        with dev:
            proc = _acquire(tmp_path, "--status-interval", "1")
            err = LineWatch(proc.stderr)
            try:
                assert dev.wait_listener(60)
                err.wait_for("disk is full", 60)
                err.wait_for("DISK FULL:", 30)  # a few seconds in memory
                filler.free()
                err.wait_for("disk space is back", 30)
                n = len(dev.ledger.ok())
                wait_until(lambda: len(dev.ledger.ok()) >= n + 20, "frames after recovery")
                assert dev.halt()
                sent = sum(f.raw.shape[0] for f in dev.ledger.ok())

                def stored() -> int:
                    try:
                        with open_raw(mnt / "data") as r:
                            return r.read("acc").data.shape[0]
                    except Exception:  # noqa: BLE001 - the file may be mid-flush
                        return -1

                wait_until(lambda: stored() >= sent, "everything on disk")
                proc.send_signal(signal.SIGTERM)
                proc.wait(timeout=60)
            finally:
                text, _ = _finish(proc, err)
        assert proc.returncode == 0, text
        assert text.count("disk space is back") == 1
        ok = dev.ledger.ok()
        with open_raw(mnt / "data") as r:
            rec, gaps, counters = r.read("acc"), r.gaps("acc"), r.counters("acc")
    scale = np.array([c.scale for c in src.channels])
    want = (np.concatenate([f.raw for f in ok]) * scale).astype(np.float32)
    np.testing.assert_array_equal(rec.data, want)
    assert counters["samples_lost_disk_full"] == 0
    assert counters["samples_lost"] == dev.ledger.expected_counters()["samples_lost"] == 0
    assert gaps == []
    t_true = np.concatenate([f.t0_ns + np.arange(f.raw.shape[0]) * 10_000_000 for f in ok])
    assert np.max(np.abs(rec.times_ns - t_true)) < 20_000_000
