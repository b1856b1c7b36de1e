"""Viewer benchmark: live frame time at 16 ch x 1 kHz, time to open 30 days.

Usage::

    .venv/bin/python benchmarks/bench_gui.py --history DIR [--frames 400]

``DIR`` is a simulated history (``bshm simulate history --days 30 --out DIR``,
a 10-minute record every hour at 100 Hz). Without ``--history`` only the
live parts run. Runs offscreen. Prints medians and ratios side by side with
the naive peer (what a straightforward pyqtgraph program does).
"""

from __future__ import annotations

import argparse
import os
import subprocess
import sys
import tempfile
import time
from pathlib import Path

os.environ.setdefault("QT_QPA_PLATFORM", "offscreen")

import numpy as np  # noqa: E402

NS = 10**9
N_CH, FS, WINDOW_S = 16, 1000.0, 10.0
PER_FRAME = 40  # samples per channel per 25 Hz frame


def bench_ours(app, frames: int) -> list[float]:
    """Our LiveView: ring buffer views, fixed x axis, fixed peak decimation."""
    from bshm.gui.live import LiveView

    v = LiveView()
    v.resize(1030, 700)
    v.show()
    v.configure([(f"A{k:02d}", "m/s2") for k in range(N_CH)], FS, WINDOW_S)
    return _run(app, v.feed, lambda: (v.tick(), app.processEvents()), frames, v)


def bench_naive(app, frames: int) -> list[float]:
    """The peer: a growing-then-rolled array, DateAxis scrolled with linked x,
    auto-range, auto-downsampling and clip-to-view (pyqtgraph defaults)."""
    import pyqtgraph as pg

    glw = pg.GraphicsLayoutWidget()
    glw.resize(1030, 700)
    glw.show()
    plots, curves = [], []
    for k in range(N_CH):
        p = glw.addPlot(row=k, col=0, axisItems={"bottom": pg.DateAxisItem(utcOffset=0)})
        p.setDownsampling(auto=True, mode="peak")
        p.setClipToView(True)
        if plots:
            p.setXLink(plots[0])
        plots.append(p)
        curves.append(p.plot([], [], pen=pg.mkPen(pg.intColor(k), width=1)))
    state = {"t": np.empty(0), "y": np.empty((0, N_CH), np.float32)}
    cap = int(WINDOW_S * FS)

    def feed(times, data):
        state["t"] = np.concatenate([state["t"], times / 1e9])[-cap:]
        state["y"] = np.concatenate([state["y"], data])[-cap:]

    def frame():
        t, y = state["t"], state["y"]
        for k, c in enumerate(curves):
            c.setData(t, y[:, k])
        plots[0].setXRange(t[-1] - WINDOW_S, t[-1], padding=0)
        app.processEvents()

    return _run(app, feed, frame, frames, glw)


def _run(app, feed, frame, frames: int, widget) -> list[float]:
    t0 = 1_790_000_000 * NS
    rng = np.random.default_rng(1)
    noise = rng.standard_normal((PER_FRAME, N_CH)).astype(np.float32)
    times, cpu = [], []
    warm = int(WINDOW_S * FS / PER_FRAME) + 10  # fill the window first
    for i in range(warm + frames):
        ts = t0 + (i * PER_FRAME + np.arange(PER_FRAME, dtype=np.int64)) * (NS // int(FS))
        a, c = time.perf_counter(), time.process_time()
        feed(ts, noise * (1 + 0.2 * np.sin(i / 7)))
        frame()
        if i >= warm:
            times.append(time.perf_counter() - a)
            cpu.append(time.process_time() - c)
    widget.close()
    return times, cpu


def bench_follow(app, seconds: float) -> dict:
    """The real thing: a writer process at 16 ch x 1 kHz, the main window following."""
    from bshm.gui.main_window import MainWindow
    from bshm.gui.settings import make_settings

    here = Path(__file__).resolve().parents[1] / "tests" / "gui" / "live_writer.py"
    tmp = Path(tempfile.mkdtemp(prefix="bshm-bench-live-"))
    proc = subprocess.Popen(
        [sys.executable, str(here), str(tmp), str(seconds + 6)], stdout=subprocess.PIPE, text=True
    )
    try:
        proc.stdout.readline()
        win = MainWindow(make_settings(tmp / "v.ini"))
        win.resize(1366, 768)
        win.show()
        win.open_path(tmp)
        lat, end = [], time.monotonic() + 2
        while time.monotonic() < end:
            app.processEvents()
            time.sleep(0.002)
        f0, t_start = win.live.frames, time.monotonic()
        while time.monotonic() - t_start < seconds:
            app.processEvents()
            lat.append(win.live.latency_s)
            time.sleep(0.002)
        fps = (win.live.frames - f0) / (time.monotonic() - t_start)
        total = win.live.ring.total
        win.close()
    finally:
        proc.wait(60)
        proc.stdout.close()
    return {
        "fps": fps,
        "latency_median_s": float(np.nanmedian(lat)),
        "latency_max_s": float(np.nanmax(lat)),
        "samples": total,
    }


def bench_acquire(app, seconds: float) -> dict:
    """Follow a real ``bshm acquire`` of the simulated station (virtual devices)."""
    import shutil
    import signal

    from bshm.gui.main_window import MainWindow
    from bshm.gui.settings import make_settings

    bshm = shutil.which("bshm") or str(Path(sys.executable).with_name("bshm"))
    tmp = Path(tempfile.mkdtemp(prefix="bshm-bench-acq-"))
    subprocess.run(
        [bshm, "new-station", str(tmp / "st"), "--simulated"], check=True, capture_output=True
    )
    cfg = str(tmp / "st" / "station.toml")
    dev = subprocess.Popen(
        [bshm, "simulate", "devices", cfg], stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL
    )
    acq = None
    try:
        time.sleep(3)  # devices come up; the recorder reconnects anyway
        acq = subprocess.Popen(
            [bshm, "acquire", cfg, "--duration", str(seconds + 10)],
            stdout=subprocess.DEVNULL,
            stderr=subprocess.DEVNULL,
        )
        data = tmp / "st" / "data"
        end = time.monotonic() + 30
        while time.monotonic() < end and not list(data.glob("*.h5.part")):
            time.sleep(0.1)
        time.sleep(2)
        win = MainWindow(make_settings(tmp / "v.ini"))
        win.resize(1366, 768)
        win.show()
        assert win.open_path(data), win.last_error
        info = win.session.sources[win.tree.current_source]
        lat, f0, t0 = [], win.live.frames, time.monotonic()
        while time.monotonic() - t0 < seconds:
            app.processEvents()
            lat.append(win.live.latency_s)
            time.sleep(0.002)
        fps = (win.live.frames - f0) / (time.monotonic() - t0)
        win.close()
    finally:
        if acq is not None:
            acq.wait(60)
        dev.send_signal(signal.SIGINT)
        dev.wait(30)
    return {
        "fps": fps,
        "latency_median_s": float(np.nanmedian(lat)),
        "latency_max_s": float(np.nanmax(lat)),
        "channels": len(info.channels),
        "fs": info.fs,
    }


def bench_open(app, history: Path) -> dict:
    """Time to open a long history and to show its whole span."""
    from bshm.gui.main_window import MainWindow
    from bshm.gui.settings import make_settings

    tmp = Path(tempfile.mkdtemp(prefix="bshm-bench-open-"))
    win = MainWindow(make_settings(tmp / "v.ini"))
    win.resize(1366, 768)
    win.show()
    a = time.perf_counter()
    ok = win.open_path(history)
    app.processEvents()
    t_open = time.perf_counter() - a
    assert ok, win.last_error
    sv = win.signals
    span = win.session.span("acc")
    a = time.perf_counter()
    sv.show_all()
    app.processEvents()
    t_all_first = time.perf_counter() - a
    while sv._overview_busy or not sv.trace.complete:
        app.processEvents()
        time.sleep(0.01)
    t_overview = time.perf_counter() - a
    a = time.perf_counter()
    sv.trace = None
    sv.show_all()
    app.processEvents()
    t_all_cached = time.perf_counter() - a
    a = time.perf_counter()
    mid = (span[0] + span[1]) // 2
    sv.set_range(mid, mid + 600 * NS)
    app.processEvents()
    t_zoom = time.perf_counter() - a
    runs = len(win.session.runs("acc"))
    win.close()
    # a new session finds the overview in the disk cache
    win = MainWindow(make_settings(tmp / "v2.ini"))
    win.resize(1366, 768)
    win.show()
    win.open_path(history)
    app.processEvents()
    sv = win.signals
    a = time.perf_counter()
    sv.show_all()
    app.processEvents()
    while sv._overview_busy or not sv.trace.complete:
        app.processEvents()
        time.sleep(0.01)
    t_disk = time.perf_counter() - a
    win.close()
    # the naive peer reads every sample: time one day, scale to the span
    from bshm.store import open_raw

    with open_raw(history) as r:
        a = time.perf_counter()
        rec = r.read("acc", span[0], span[0] + 86400 * NS)
        t_day = time.perf_counter() - a
        n_day = rec.data.nbytes
    days = (span[1] - span[0]) / (86400 * NS)
    return {
        "open_s": t_open,
        "whole_span_first_paint_s": t_all_first,
        "overview_complete_cold_s": t_overview,
        "whole_span_cached_s": t_all_cached,
        "zoom_10min_s": t_zoom,
        "whole_span_next_session_s": t_disk,
        "records": runs,
        "days": days,
        "naive_read_all_s": t_day * days,
        "naive_read_all_mb": n_day * days / 1e6,
    }


def main() -> int:
    """Run the benchmarks and print a table."""
    p = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    p.add_argument("--history", type=Path)
    p.add_argument("--frames", type=int, default=400)
    p.add_argument("--follow-s", type=float, default=10.0)
    p.add_argument(
        "--acquire",
        action="store_true",
        help="also follow a real 'bshm acquire' of the simulated station",
    )
    args = p.parse_args()
    from bshm.gui.app import make_app

    os.environ["BSHM_CACHE_DIR"] = tempfile.mkdtemp(prefix="bshm-bench-cache-")  # cold
    app = make_app()
    ours, ours_cpu = (np.array(x) * 1e3 for x in bench_ours(app, args.frames))
    naive, naive_cpu = (np.array(x) * 1e3 for x in bench_naive(app, args.frames))
    print(
        f"live frame (update + paint), {N_CH} ch x {FS:g} Hz, {WINDOW_S:g} s window, "
        f"{args.frames} frames"
    )
    print(f"  {'':8s} {'median ms':>10s} {'p95 ms':>8s} {'CPU ms':>8s} {'max fps':>8s}")
    for name, t, c in (("bshm", ours, ours_cpu), ("naive", naive, naive_cpu)):
        print(
            f"  {name:8s} {np.median(t):10.1f} {np.percentile(t, 95):8.1f} "
            f"{np.median(c):8.1f} {1e3 / np.median(t):8.0f}"
        )
    print(
        f"  ratio naive/bshm: median wall {np.median(naive) / np.median(ours):.1f}x, "
        f"median CPU {np.median(naive_cpu) / np.median(ours_cpu):.1f}x"
    )
    f = bench_follow(app, args.follow_s)
    print(
        f"follow a writer process at {N_CH} ch x {FS:g} Hz for {args.follow_s:g} s: "
        f"{f['fps']:.1f} fps, latency median {f['latency_median_s']:.2f} s, "
        f"max {f['latency_max_s']:.2f} s, {f['samples']} samples"
    )
    if args.acquire:
        a = bench_acquire(app, args.follow_s)
        print(
            f"follow 'bshm acquire' of the simulated station ({a['channels']} ch x "
            f"{a['fs']:g} Hz, virtual serial + Modbus devices) for {args.follow_s:g} s: "
            f"{a['fps']:.1f} fps, latency median {a['latency_median_s']:.2f} s, "
            f"max {a['latency_max_s']:.2f} s"
        )
    if args.history is not None:
        o = bench_open(app, args.history)
        print(
            f"open {o['days']:.0f}-day history ({o['records']} records): "
            f"{o['open_s']:.2f} s to the first plot"
        )
        print(
            f"  whole span: first paint {o['whole_span_first_paint_s']:.2f} s, overview complete "
            f"(cold) {o['overview_complete_cold_s']:.1f} s, again (cached) "
            f"{o['whole_span_cached_s']:.2f} s; zoom to 10 min {o['zoom_10min_s']:.2f} s; "
            f"next session (disk cache) {o['whole_span_next_session_s']:.2f} s"
        )
        print(
            f"  naive peer (read every sample): {o['naive_read_all_s']:.1f} s, "
            f"{o['naive_read_all_mb']:.0f} MB (1 day timed, scaled)"
        )
    return 0


if __name__ == "__main__":
    sys.exit(main())
