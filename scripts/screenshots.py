"""Screenshots of every viewer view on simulated data (for docs/screenshots).

Usage::

    python scripts/screenshots.py [--demo DEMO_OUT] [--out docs/screenshots]

With ``--demo`` (the folder ``bshm demo --out DEMO_OUT`` wrote), the views
show the demo's 60-day history and its results; without it a short history
is simulated into a temporary folder (the trend view then needs a results
file and is skipped). The live view always follows a simulated recorder
writing the bridge's response in real time. Runs offscreen (no display).
"""

from __future__ import annotations

import argparse
import os
import sys
import tempfile
import threading
import time
from pathlib import Path

os.environ.setdefault("QT_QPA_PLATFORM", "offscreen")

NS = 10**9


def live_writer(out: Path, seconds: float, stop: threading.Event) -> threading.Thread:
    """Write the simulated bridge's accelerations into ``out`` in real time (a thread)."""
    from bshm.fixtures.bridge import BridgeModel
    from bshm.fixtures.history import history_specs

    from bshm.store import RawWriter

    specs = history_specs(100.0)
    acc = next(s for s in specs if s.name == "acc")
    rec = BridgeModel(seed=5).simulate(seconds, 100.0, temperature_c=12.0, traffic=900.0)

    def run() -> None:
        t0 = time.time_ns() // 10**8 * 10**8
        with RawWriter(out, "sim-bridge", [acc], flush_interval_s=0.2) as w:
            for k in range(int(seconds * 10)):
                if stop.is_set():
                    break
                start = t0 + k * 10**8
                delay = (start + 10**8 - time.time_ns()) / 1e9
                if delay > 0:
                    stop.wait(delay)
                w.write("acc", rec.acc[k * 10 : (k + 1) * 10], t0_ns=start)

    th = threading.Thread(target=run, daemon=True)
    th.start()
    return th


def wait_for(app, cond, timeout_s: float) -> bool:
    """Process events until ``cond()`` or the timeout."""
    end = time.monotonic() + timeout_s
    while time.monotonic() < end:
        app.processEvents()
        if cond():
            return True
        time.sleep(0.02)
    return False


def main(argv: list[str] | None = None) -> int:
    """Make the screenshots; returns an exit code."""
    p = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    p.add_argument("--demo", type=Path, help="output folder of 'bshm demo'")
    p.add_argument("--out", type=Path, default=Path("docs/screenshots"))
    args = p.parse_args(argv)
    from bshm.gui.app import make_app
    from bshm.gui.main_window import MainWindow
    from bshm.gui.settings import make_settings

    app = make_app()
    tmp = Path(tempfile.mkdtemp(prefix="bshm-shots-"))
    if args.demo is not None:
        raw = args.demo / "history"
        if not raw.is_dir():
            raw = args.demo
    else:
        from bshm.fixtures.history import simulate_history

        raw = tmp / "history"
        simulate_history(
            raw,
            0.5,
            start_ns=1_790_000_000 * NS,
            every_s=3600,
            record_s=600,
            seed=3,
            write_station=False,
        )
    args.out.mkdir(parents=True, exist_ok=True)
    win = MainWindow(make_settings(tmp / "viewer.ini"))
    win.resize(1366, 768)
    win.show()
    if not win.open_path(raw):
        print(f"cannot open {raw}: {win.last_error}", file=sys.stderr)
        return 1
    shots = {}

    def shoot(name: str) -> None:
        wait_for(app, lambda: False, 0.4)
        path = args.out / f"{name}.png"
        win.grab().save(str(path), "PNG")
        shots[name] = path

    sv = win.signals
    win.tabs.setCurrentWidget(sv)
    a, b = sv.default_range("acc")
    sv.set_range(a, a + 120 * NS)
    shoot("signals")
    sv.show_all()
    wait_for(app, lambda: sv.trace is not None and sv.trace.complete and not sv._overview_busy, 120)
    shoot("signals_overview")
    sv.set_range(a, b)
    win.tabs.setCurrentWidget(win.spectra)
    shoot("spectra")
    win.run_modal()
    wait_for(app, lambda: win.modal.result is not None, 180)
    shoot("modal")
    if win.results_path is not None:
        win.tabs.setCurrentWidget(win.trends)
        shoot("trends")
        win.trends.inner.setCurrentIndex(1)
        shoot("trends_frequency_temperature")
        win.trends.inner.setCurrentIndex(2)
        shoot("trends_fatigue")
    stop = threading.Event()
    live_dir = tmp / "live"
    th = live_writer(live_dir, 20.0, stop)
    wait_for(app, lambda: any(live_dir.glob("*.h5.part")), 30)
    wait_for(app, lambda: False, 1.0)
    win.open_path(live_dir)
    wait_for(app, lambda: win.live.ring is not None and win.live.ring.count > 600, 30)
    shoot("live")
    win.live.stop()
    stop.set()
    th.join(30)
    win.close()
    for name, path in shots.items():
        print(f"{name}: {path}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
