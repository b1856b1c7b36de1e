"""Screenshots of every viewer view (for docs/screenshots), made with
``bshm view PATH --export-png FILE --tab TAB``: the same pictures a
technician sees, rendered offscreen.

Usage::

    python scripts/screenshots.py --demo DEMO_OUT [--out docs/screenshots] [--campaign DIR]

``DEMO_OUT`` is the folder ``bshm demo --out DEMO_OUT`` wrote (its
``history/`` holds 60 days of raw files and ``history/results/`` the
analysis). The live view follows a simulated recorder that this script runs
for a few seconds: one picture while it records, one after its device went
silent (greyed traces, the red/orange state), as a technician would see it.

``--campaign DIR`` (a data folder holding the ``campaign.json`` of ``bshm
campaign``) adds ``modal_campaign.png``: the Modes tab's Campaign view with
the global mode shapes on the deck. The demo has no campaign; e.g.
``tests/analysis/test_report_state.py::build_campaign`` makes one on the
simulated bridge (3 roving setups).
"""

from __future__ import annotations

import argparse
import os
import subprocess
import sys
import tempfile
import threading
import time
from pathlib import Path

NS = 10**9

SHOTS = [
    # (file, tab, extra arguments, what it shows)
    (
        "signals",
        "signals",
        ["--time", "2026-02-10T05:58..2026-02-10T06:12", "--channels", "A03,A04,A05,A06"],
        "a record, 4 channels",
    ),
    (
        "signals_overview",
        "signals",
        ["--time", "2026-01-01..2026-03-02", "--channels", "T1,T2"],
        "two months of temperature",
    ),
    ("spectra", "spectra", ["--time", "2026-02-20T06:00..2026-02-20T06:10"], "PSD, spectrogram"),
    ("modal", "modal", ["--time", "2026-02-20T06:00..2026-02-20T06:10"], "modes on the bridge"),
    ("trends", "trends", [], "compensated change (%) and T2"),
    ("trends_frequencies", "trends-frequencies", [], "one panel per mode"),
    ("trends_frequency_temperature", "trends-temperature", [], "coloured by date"),
    ("trends_fatigue", "trends-fatigue", [], "Miner damage"),
    ("alarms", "alarms", [], "alarms to work through"),
]


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
            # the device goes silent: the file stays open, nothing new arrives
            stop.wait(60)

    th = threading.Thread(target=run, daemon=True)
    th.start()
    return th


def export(path: Path, out: Path, tab: str, extra: list[str]) -> None:
    """One ``bshm view --export-png`` run (raises on failure)."""
    cmd = [
        sys.executable,
        "-m",
        "bshm",
        "view",
        str(path),
        "--export-png",
        str(out),
        "--tab",
        tab,
        *extra,
    ]
    run = subprocess.run(cmd, capture_output=True, text=True, timeout=900)
    if run.returncode != 0:
        raise SystemExit(f"{' '.join(cmd)} failed:\n{run.stderr[-2000:]}")


def main(argv: list[str] | None = None) -> int:
    """Make the screenshots; returns an exit code."""
    p = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    p.add_argument("--demo", type=Path, required=True, help="output folder of 'bshm demo'")
    p.add_argument("--out", type=Path, default=Path("docs/screenshots"))
    p.add_argument(
        "--campaign",
        type=Path,
        help="data folder with a campaign.json (adds modal_campaign.png)",
    )
    p.add_argument(
        "--no-live", action="store_true", help="skip the two live pictures (they take ~30 s)"
    )
    args = p.parse_args(argv)
    hist = args.demo / "history"
    if not (hist / "results").is_dir():
        print(f"{hist}/results not found: run 'bshm demo --out {args.demo}' first", file=sys.stderr)
        return 2
    os.environ.setdefault("QT_QPA_PLATFORM", "offscreen")
    args.out.mkdir(parents=True, exist_ok=True)
    for name, tab, extra, what in SHOTS:
        out = args.out / f"{name}.png"
        export(hist, out, tab, extra)
        print(f"{out}: {what}")
    if args.campaign is not None:
        out = args.out / "modal_campaign.png"
        export(args.campaign, out, "modal-campaign", [])
        print(f"{out}: global mode shapes of a roving-sensor campaign")
    if args.no_live:
        return 0
    # live: a recorder writes 8 s, then its device goes silent
    tmp = Path(tempfile.mkdtemp(prefix="bshm-shots-"))
    live = tmp / "live"
    stop = threading.Event()
    th = live_writer(live, 8.0, stop)
    end = time.monotonic() + 30
    while not any(live.glob("*.h5.part")) and time.monotonic() < end:
        time.sleep(0.1)
    time.sleep(3.0)  # pacing a real-time writer, not synchronisation
    out = args.out / "live.png"
    export(live, out, "live", [])
    print(f"{out}: live, recording")
    time.sleep(12.0)  # the 8 s are written, then about 10 s of silence
    out = args.out / "live_stale.png"
    export(live, out, "live", [])
    print(f"{out}: live, a source that went silent (stale, greyed)")
    stop.set()
    th.join(30)
    return 0


if __name__ == "__main__":
    sys.exit(main())
