"""Modbus poller benchmark: achieved poll rate, jitter, drift and CPU share.

Run:  .venv/bin/python benchmarks/bench_modbus.py [--seconds 10]

The virtual device (a real pymodbus server) runs in a child process, so the
CPU share measured here is the poller's alone (this process: the driver
thread plus an idle main thread). Rows go to a counting sink (no HDF5).

Cases, each side by side with a peer:

1. TCP, 20 Hz, 10 float32 points over 38 registers (one request): bshm's
   ModbusDriver (absolute monotonic deadlines) vs a naive poller
   (plain pymodbus client, ``sleep(1/rate)`` after each read).
2. RTU, 20 Hz, the same 20-register block, with the virtual line emulating
   115200 baud 8N1 (every chunk held for its transmission time + 3.5
   characters) and on a raw pty (no emulation; a pty ignores baud).
3. RTU capacity: poll_rate far above what the line allows -> achieved rate.
4. Request coalescing on RTU at 115200: time of one poll of 10 float32
   points spread over 38 registers, coalesced (1 request) vs one request
   per point.
"""

from __future__ import annotations

import argparse
import os
import statistics
import subprocess
import sys
import tempfile
import threading
import time
from pathlib import Path

import numpy as np

HERE = Path(__file__).resolve()


def _source(kind, port, rate, *, spread=2, n=10, timeout=0.2):
    from bshm.config import Channel, ModbusSource, Register

    regs = tuple(Register(address=spread * i, function="input",
                          channel=Channel(name=f"S{i}", quantity="strain", unit="um/m"))
                 for i in range(n))
    return ModbusSource(name="bench", kind=kind, port=port, registers=regs,
                        poll_rate=rate, timeout_s=timeout, retries=0)


# ---------------------------------------------------------------- child process
def serve(kind, where, line_timing):
    from bshm.fixtures.virtual_modbus import start_virtual_modbus

    class Ramp:
        def values(self, names, t0_ns, n, fs):
            return np.full((n, len(names)), (t0_ns % 10**9) / 1e6)

    # 10 float32 points 4 registers apart: registers 0..37 are served
    src = _source(kind, 0 if kind == "modbus-tcp" else where, 20.0, spread=4, n=10)
    dev = start_virtual_modbus(src, Ramp(), line_timing=line_timing)
    print(dev.port if kind == "modbus-tcp" else dev.path, flush=True)
    sys.stdin.read()  # until the parent closes our stdin
    dev.stop()


class Child:
    def __init__(self, kind, line_timing=True):
        self.dir = tempfile.TemporaryDirectory()
        where = os.path.join(self.dir.name, "rtu")
        self.p = subprocess.Popen(
            [sys.executable, str(HERE), "--serve", kind, where, str(int(line_timing))],
            stdin=subprocess.PIPE, stdout=subprocess.PIPE, text=True)
        line = self.p.stdout.readline().strip()
        self.port = int(line) if kind == "modbus-tcp" else line

    def close(self):
        self.p.stdin.close()
        self.p.wait(10)
        self.dir.cleanup()


# ---------------------------------------------------------------- measuring
class CountingSink:
    def __init__(self):
        self.times = []
        self.lost = 0

    def write(self, source, data, *, t0_ns=None, times_ns=None, device_t0_ns=None):
        self.times.extend(int(t) for t in times_ns)

    def add_gap(self, *a):
        pass

    def count(self, source, name, n=1):
        if name == "samples_lost":
            self.lost += n


def stats(times_ns, rate):
    t = np.asarray(times_ns, dtype=np.float64)
    period = 1e9 / rate
    k = np.round((t - t[0]) / period)
    dev = (t - t[0]) - k * period
    dev -= np.median(dev)
    iv = np.diff(t)
    span = (t[-1] - t[0]) / 1e9
    tail = np.median(dev[-20:]) - np.median(dev[:20])
    return {
        "rate": (len(t) - 1) / span if span > 0 else 0.0,
        "jitter_med_ms": float(np.median(np.abs(dev))) / 1e6,
        "jitter_p95_ms": float(np.percentile(np.abs(dev), 95)) / 1e6,
        "interval_med_ms": float(np.median(iv)) / 1e6,
        "drift_ms": float(tail) / 1e6,
        "missed": int(k[-1] + 1 - len(t)),
    }


def run_driver(src, seconds):
    from bshm.acquisition.modbus import ModbusDriver

    class Timed(ModbusDriver):
        """Records when each poll starts (monotonic), to measure scheduling alone."""

        starts: list[int] = []

        def _poll_guarded(self):
            self.starts.append(time.monotonic_ns())
            super()._poll_guarded()

    drv, sink, stop = Timed(src), CountingSink(), threading.Event()
    drv.starts = []
    th = threading.Thread(target=drv.run, args=(sink, stop))
    cpu0, wall0 = time.process_time(), time.perf_counter()
    th.start()
    time.sleep(seconds)
    stop.set()
    th.join()
    cpu, wall = time.process_time() - cpu0, time.perf_counter() - wall0
    st = stats(sink.times, src.poll_rate)
    st["cpu_pct"] = 100 * cpu / wall
    st["lost"] = sink.lost
    period = 1e9 / src.poll_rate
    starts = np.asarray(drv.starts, dtype=np.float64) - drv._started_mono
    late = (starts - np.round(starts / period) * period) / 1e6
    st["late_med_ms"] = float(np.median(np.abs(late)))
    st["late_p95_ms"] = float(np.percentile(np.abs(late), 95))
    return st


def run_naive(src, seconds):
    """The usual hand-written loop: read, then sleep one period."""
    from pymodbus.client import ModbusTcpClient

    c = ModbusTcpClient(src.host, port=src.port, timeout=src.timeout_s, retries=0)
    c.connect()
    times = []
    cpu0, wall0 = time.process_time(), time.perf_counter()
    end = time.monotonic() + seconds
    while time.monotonic() < end:
        a = time.time_ns()
        c.read_input_registers(0, count=38, device_id=1)
        times.append((a + time.time_ns()) // 2)
        time.sleep(1 / src.poll_rate)
    cpu, wall = time.process_time() - cpu0, time.perf_counter() - wall0
    c.close()
    st = stats(times, src.poll_rate)
    st["cpu_pct"] = 100 * cpu / wall
    st["lost"] = 0
    return st


def poll_time(src, n=30, max_gap=None):
    """Median seconds per poll of the driver's plan (no schedule)."""
    from bshm.acquisition.modbus import ModbusDriver

    drv = ModbusDriver(src, max_gap=max_gap)
    drv._sink = CountingSink()
    assert drv._ensure_connected()
    times = []
    for _ in range(n):
        t = time.perf_counter()
        assert not isinstance(drv._acquire(), str)
        times.append(time.perf_counter() - t)
    drv._close()
    return statistics.median(times), len(drv.blocks)


def row(label, st):
    sched = (f"  start late med {st['late_med_ms']:.3f} p95 {st['late_p95_ms']:.3f} ms"
             if "late_med_ms" in st else "")
    print(f"{label:<44} {st['rate']:7.2f} Hz  jitter med {st['jitter_med_ms']:6.3f} ms "
          f"p95 {st['jitter_p95_ms']:6.3f} ms  drift {st['drift_ms']:+7.2f} ms  "
          f"missed {st['missed']:3d}  CPU {st['cpu_pct']:5.1f} %{sched}")


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("--seconds", type=float, default=10.0)
    ap.add_argument("--serve", nargs=3, metavar=("KIND", "WHERE", "LINE"))
    a = ap.parse_args()
    if a.serve:
        serve(a.serve[0], a.serve[1], bool(int(a.serve[2])))
        return
    import logging

    import bshm.acquisition.modbus  # noqa: F401
    import pymodbus.client  # noqa: F401 - imported before any CPU time is measured
    import pymodbus.exceptions  # noqa: F401

    logging.basicConfig(level=logging.WARNING)
    cpu = next((ln.split(":", 1)[1].strip() for ln in open("/proc/cpuinfo")
                if ln.startswith("model name")), "?")
    print(f"# {time.strftime('%Y-%m-%d %H:%M', time.gmtime())} UTC, nproc {os.cpu_count()}, {cpu}")
    print(f"# {a.seconds:g} s per case; TCP: 10 float32 points over 38 registers (one read); RTU 20 Hz: 10 adjacent float32 = one 20-register read")
    s = a.seconds

    ch = Child("modbus-tcp")
    try:
        src = _source("modbus-tcp", ch.port, 20.0, spread=4)
        row("TCP 20 Hz  bshm ModbusDriver", run_driver(src, s))
        row("TCP 20 Hz  naive read+sleep loop (peer)", run_naive(src, s))
    finally:
        ch.close()

    for line in (True, False):
        ch = Child("modbus-rtu", line_timing=line)
        tag = "115200 emulated" if line else "raw pty"
        try:
            src = _source("modbus-rtu", ch.port, 20.0, spread=2)
            row(f"RTU 20 Hz  20 regs, {tag}", run_driver(src, s))
            st = run_driver(_source("modbus-rtu", ch.port, 1000.0, spread=2), min(s, 5))
            print(f"{'RTU capacity, 20 regs, ' + tag:<44} {st['rate']:7.1f} polls/s  "
                  f"CPU {st['cpu_pct']:5.1f} %")
            if line:
                spread = _source("modbus-rtu", ch.port, 20.0, spread=4)
                t1, n1 = poll_time(spread)
                t0, n0 = poll_time(spread, max_gap=0)
                print(f"{'RTU 115200, 10 points over 38 regs':<44} coalesced {n1} request: "
                      f"{t1 * 1e3:6.2f} ms/poll; one request per point ({n0}): "
                      f"{t0 * 1e3:6.2f} ms/poll; ratio {t0 / t1:4.1f}x")
        finally:
            ch.close()


if __name__ == "__main__":
    main()
