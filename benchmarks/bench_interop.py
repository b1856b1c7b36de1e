"""Interop speed: importers against their own libraries, UFF export, alarm delivery.

Run::

    .venv/bin/python benchmarks/bench_interop.py [--repeats 3] [--alarms 200]

Import (1 h of 6 channels at 100 Hz, 2.16 M samples): ``bshm import``
(read + every check + write to the raw store) against the format's own
library reading the same file into NumPy (npTDMS ``TdmsFile.read``, ObsPy
``read`` of Steim2 MiniSEED, pyuff ``read_sets`` of ASCII UFF 58). The
ratio is what bshm's checks, alignment and HDF5 writing cost on top.

Export: ``bshm export --raw ... --out x.uff`` of 10 min x 6 channels
(ASCII dataset 58) against pyuff writing the same arrays.

Delivery: alarms per second to a local Mosquitto (QoS 1, one in flight,
cursor fsync'd per alarm) and to a local HTTP server, against a bare paho
loop publishing the same payloads at QoS 1 one at a time.

Prints medians of ``--repeats`` runs and the ratios.
"""

from __future__ import annotations

import argparse
import contextlib
import io
import platform
import shutil
import socket
import statistics
import subprocess
import sys
import tempfile
import threading
import time
import warnings
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path

import numpy as np

from bshm.cli import main
from bshm.timeutil import parse_time, to_iso

T0 = parse_time("2026-03-01T12:00:00Z")
FS, NCH, SECONDS = 100.0, 6, 3600


def _data(seconds: int = SECONDS) -> np.ndarray:
    rng = np.random.default_rng(1)
    return rng.integers(-2_000_000, 2_000_000, (int(seconds * FS), NCH)).astype(np.int32)


def _timed(fn, repeats: int) -> float:
    ts = []
    for _ in range(repeats):
        t = time.perf_counter()
        fn()
        ts.append(time.perf_counter() - t)
    return statistics.median(ts)


def _quiet(argv: list[str]) -> int:
    with contextlib.redirect_stdout(io.StringIO()):
        return main(argv)


def _bshm_import(path: Path, tmp: Path) -> None:
    out = tmp / "raw"
    shutil.rmtree(out, ignore_errors=True)
    assert _quiet(["-q", "import", str(path), "--out", str(out), "--station", "b"]) == 0


def bench_import(tmp: Path, repeats: int) -> list[tuple[str, float, float]]:
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", DeprecationWarning)
        from obspy import Stream, Trace, UTCDateTime, read
    import pyuff
    from nptdms import ChannelObject, GroupObject, TdmsFile, TdmsWriter

    d = _data()
    rows = []
    tdms = tmp / "a.tdms"
    props = {"wf_start_time": np.datetime64(T0 // 1000, "us"), "wf_increment": 1 / FS,
             "unit_string": "m/s^2"}
    with TdmsWriter(str(tdms)) as w:
        w.write_segment([GroupObject("Acc")] + [
            ChannelObject("Acc", f"A{j}", d[:, j].astype(np.float64), properties=props)
            for j in range(NCH)])
    lib = _timed(lambda: [c[:] for g in TdmsFile.read(tdms).groups() for c in g.channels()],
                 repeats)
    rows.append(("TDMS", _timed(lambda: _bshm_import(tdms, tmp), repeats), lib))
    ms = tmp / "a.mseed"
    trs = []
    for j, cha in enumerate(("HNE", "HNN", "HNZ", "HN1", "HN2", "HN3")):
        tr = Trace(d[:, j].copy())
        tr.stats.station, tr.stats.channel, tr.stats.sampling_rate = "BR1", cha, FS
        tr.stats.starttime = UTCDateTime(ns=T0)
        trs.append(tr)
    Stream(trs).write(str(ms), format="MSEED", encoding="STEIM2", reclen=4096)
    lib = _timed(lambda: read(str(ms)), repeats)
    rows.append(("MiniSEED (Steim2)", _timed(lambda: _bshm_import(ms, tmp), repeats), lib))
    uff = tmp / "a.uff"
    u = pyuff.UFF(str(uff))
    short = d[: int(600 * FS)]  # ASCII UFF: 10 min (the usual modal-test length)
    for j in range(NCH):
        u.write_sets(pyuff.prepare_58(
            binary=0, func_type=1, rsp_node=j + 1, rsp_dir=3, ref_node=0, ref_dir=0,
            data=short[:, j].astype(float), x=np.arange(short.shape[0]) / FS, id1=f"A{j}",
            id4=f"start {to_iso(T0)}", rsp_ent_name=f"A{j}", ref_ent_name="NONE",
            abscissa_spacing=1, abscissa_spec_data_type=17, ordinate_spec_data_type=12,
            orddenom_spec_data_type=0, z_axis_spec_data_type=0), "add")
    lib = _timed(lambda: pyuff.UFF(str(uff)).read_sets(), repeats)
    rows.append(("UFF 58 ASCII (10 min)", _timed(lambda: _bshm_import(uff, tmp), repeats), lib))
    return rows


def bench_export(tmp: Path, repeats: int) -> tuple[float, float]:
    import pyuff

    from bshm.store import ChannelMeta, RawWriter, SourceSpec

    d = _data(600).astype(np.float32)
    raw = tmp / "exp"
    spec = SourceSpec("acc", "serial", FS, tuple(
        ChannelMeta(f"A{j}", "acceleration", "m/s2", (float(j), 0.0, 0.0), "z")
        for j in range(NCH)))
    with RawWriter(raw, "b", [spec]) as w:
        w.write("acc", d, t0_ns=T0)
    span = f"{T0}..{T0 + 600 * 10**9}"
    ours = _timed(lambda: _quiet(["-q", "export", "--raw", str(raw), "--time", span,
                                "--out", str(tmp / "x.uff")]), repeats)

    def plain() -> None:
        p = tmp / "plain.uff"
        p.unlink(missing_ok=True)
        u = pyuff.UFF(str(p))
        for j in range(NCH):
            u.write_sets(pyuff.prepare_58(
                binary=0, func_type=1, rsp_node=j + 1, rsp_dir=3, ref_node=0, ref_dir=0,
                data=d[:, j].astype(float), x=np.arange(d.shape[0]) / FS, id1=f"A{j}",
                abscissa_spacing=1, abscissa_spec_data_type=17, ordinate_spec_data_type=12,
                orddenom_spec_data_type=0, z_axis_spec_data_type=0), "add")

    return ours, _timed(plain, repeats)


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def bench_delivery(tmp: Path, n: int) -> dict[str, float]:
    import paho.mqtt.client as mqtt

    from bshm.alarms import Alarm, AlarmFeed
    from bshm.config import load_station
    from bshm.delivery import deliver_station

    mosq = shutil.which("mosquitto") or "/usr/sbin/mosquitto"
    port, hport = _free_port(), _free_port()
    conf = tmp / "m.conf"
    conf.write_text(f"user root\nlistener {port} 127.0.0.1\nallow_anonymous true\n")
    proc = subprocess.Popen([mosq, "-c", str(conf)], stderr=subprocess.DEVNULL)

    class H(BaseHTTPRequestHandler):
        def do_POST(self):  # noqa: N802
            self.rfile.read(int(self.headers["Content-Length"]))
            self.send_response(200)
            self.send_header("Content-Length", "0")
            self.end_headers()

        def log_message(self, *a):
            pass

    srv = ThreadingHTTPServer(("127.0.0.1", hport), H)
    threading.Thread(target=srv.serve_forever, daemon=True).start()
    try:
        deadline = time.monotonic() + 20
        while True:
            try:
                socket.create_connection(("127.0.0.1", port), 0.2).close()
                break
            except OSError:
                if time.monotonic() > deadline:
                    raise
                time.sleep(0.05)
        out = {}
        alarms = [Alarm(T0 + i * 10**9, 1 + i % 3, "t2", 1.0, 2.0, "M1", f"alarm {i}",
                        station="b") for i in range(n)]
        for kind, key in (("mqtt", f'mqtt = "mqtt://127.0.0.1:{port}/b/alarms"'),
                          ("webhook", f'webhook = "http://127.0.0.1:{hport}/x"')):
            d = tmp / kind
            d.mkdir()
            cfg = d / "station.toml"
            cfg.write_text(f'[station]\nname = "b"\n[alarms]\n{key}\n[[sources]]\nname = "a"\n'
                           'kind = "serial"\nport = "p"\nfs = 10.0\n[[sources.channels]]\nname = "A1"\n'
                           'quantity = "acceleration"\nunit = "m/s2"\n')
            st = load_station(cfg)
            AlarmFeed(st.alarms.feed).append(alarms)
            t = time.perf_counter()
            (rep,) = deliver_station(st)
            out[kind] = n / (time.perf_counter() - t)
            assert rep.delivered == n, rep
        c = mqtt.Client(mqtt.CallbackAPIVersion.VERSION2)
        c.connect("127.0.0.1", port)
        c.loop_start()
        payloads = [f'{{"id": "{i}"}}'.encode() for i in range(n)]
        t = time.perf_counter()
        for p in payloads:
            c.publish("b/raw", p, qos=1).wait_for_publish(10)
        out["bare paho"] = n / (time.perf_counter() - t)
        c.disconnect()
        c.loop_stop()
        return out
    finally:
        srv.shutdown()
        srv.server_close()
        proc.kill()
        proc.wait()


def main_(argv=None) -> int:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--repeats", type=int, default=3)
    ap.add_argument("--alarms", type=int, default=200)
    a = ap.parse_args(argv)
    with open("/proc/loadavg") as f:
        load = f.read().split()[:3]
    print(f"# {time.strftime('%Y-%m-%d')} {platform.machine()} {platform.python_version()}, "
          f"load {' '.join(load)}, repeats {a.repeats}")
    with tempfile.TemporaryDirectory() as t:
        tmp = Path(t)
        print("\n| import (1 h, 6 ch, 100 Hz) | bshm import | library read | ratio |")
        print("| --- | --- | --- | --- |")
        for name, ours, lib in bench_import(tmp, a.repeats):
            print(f"| {name} | {ours:.2f} s | {lib:.2f} s | {ours / lib:.2f}x |")
        ours, plain = bench_export(tmp, a.repeats)
        print(f"\nexport 10 min x 6 ch as UFF 58: bshm {ours:.2f} s, pyuff alone {plain:.2f} s "
              f"({ours / plain:.2f}x)")
        rates = bench_delivery(tmp, a.alarms)
        print("\n| delivery | alarms/s |\n| --- | --- |")
        for k, v in rates.items():
            print(f"| {k} | {v:.0f} |")
    return 0


if __name__ == "__main__":
    sys.exit(main_())
