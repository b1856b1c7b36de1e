"""``bshm view [PATH]``: the desktop viewer (and offscreen PNG export)."""

from __future__ import annotations

import argparse

NAME = "view"
GROUP = None
HELP = "the desktop viewer (raw data, live acquisition, modal analysis, trends, alarms)"
DESCRIPTION = """Open the pyqtgraph/Qt viewer.

PATH may be a raw data folder (live: the folder 'bshm acquire' writes),
a raw .h5/.h5.part file, or a results file (<station>_results.h5).
Needs the 'gui' extra: pip install -e ".[gui]" (in the bshm folder).

With --export-png FILE the viewer renders one view without showing a
window (offscreen; works over SSH and in scripts), saves it as PNG and
exits: the same picture a technician sees, with UTC dates on the time
axes. Choose the view with --tab, the time range with --time and the
channels with --channels, e.g.

  bshm view data --export-png acc.png --tab signals \\
       --time 2026-02-10T06:00..2026-02-10T06:20 --channels A03,A04,A05
  bshm view data/results/site_results.h5 --export-png trends.png --tab trends
  bshm view data --export-png campaign.png --tab modal-campaign

The Modes tab also shows the global mode shapes of a roving-sensor campaign
(campaign.json in the data folder, written by 'bshm campaign'); the Trends
tab shades the windows outside the trained conditions; the Alarms tab starts
with the monitoring job's current alarm state per subject.

Keys: Ctrl+1..6 switch views, +/- zoom, Left/Right pan, Home/End whole
span/latest, Ctrl+L follow live, Ctrl+K cursors, Ctrl+D dark theme,
Ctrl+E export PNG, F1 all shortcuts."""

TAB_NAMES = (
    "signals",
    "spectra",
    "live",
    "modal",
    "modal-campaign",
    "trends",
    "trends-frequencies",
    "trends-temperature",
    "trends-fatigue",
    "alarms",
)


def configure(parser: argparse.ArgumentParser) -> None:
    """Arguments of ``bshm view``."""
    parser.add_argument("path", nargs="?", help="raw folder or file, or a results file")
    parser.add_argument(
        "--settings", metavar="INI", help="keep layout and recent files in this INI file"
    )
    parser.add_argument(
        "--export-png", metavar="FILE", help="render one view offscreen, save it as PNG, exit"
    )
    parser.add_argument(
        "--tab",
        default="signals",
        choices=TAB_NAMES,
        metavar="TAB",
        help=f"view to export: {', '.join(TAB_NAMES)} (default: signals)",
    )
    parser.add_argument(
        "--time",
        metavar="FROM..TO",
        help="time range of the Signals view (ISO 8601 UTC), "
        "e.g. 2026-02-10T06:00..2026-02-10T07:00",
    )
    parser.add_argument(
        "--channels", metavar="A,B,...", help="channels to show (all of one source)"
    )
    parser.add_argument(
        "--size",
        default="1366x768",
        metavar="WxH",
        help="window size of the export (default 1366x768)",
    )
    parser.add_argument("--dark", action="store_true", help="export with the dark theme")
    parser.add_argument("--exit-after", type=float, metavar="S", help=argparse.SUPPRESS)


def _time_range(text: str) -> tuple[int, int]:
    from bshm.errors import ConfigError
    from bshm.timeutil import parse_time

    if ".." not in text:
        raise ConfigError(f"--time {text!r}: use FROM..TO, e.g. 2026-02-10T06:00..2026-02-10T07:00")
    a, b = text.split("..", 1)
    try:
        start, end = parse_time(a.strip()), parse_time(b.strip())
    except ValueError as exc:
        raise ConfigError(f"--time: {exc}") from None
    if end <= start:
        raise ConfigError(f"--time {text!r}: the end must be after the start")
    return start, end


def _size(text: str) -> tuple[int, int]:
    from bshm.errors import ConfigError

    try:
        w, h = (int(v) for v in text.lower().split("x"))
    except ValueError:
        raise ConfigError(f"--size {text!r}: use WIDTHxHEIGHT, e.g. 1366x768") from None
    if not (320 <= w <= 8000 and 240 <= h <= 8000):
        raise ConfigError(f"--size {text!r}: between 320x240 and 8000x8000")
    return w, h


def run(args: argparse.Namespace) -> int:
    """Start the viewer (or export a PNG); exit code 1 with a one-line hint when Qt is missing."""
    import os

    from bshm.errors import BshmError, ConfigError

    export = args.export_png is not None
    if not export and any(
        (args.time, args.channels, args.tab != "signals", args.dark, args.size != "1366x768")
    ):
        raise ConfigError("--tab, --time, --channels, --size and --dark go with --export-png FILE")
    if export:
        if args.path is None:
            raise ConfigError("--export-png needs a PATH to show")
        time_range = _time_range(args.time) if args.time else None
        size = _size(args.size)
        channels = (
            [c.strip() for c in args.channels.split(",") if c.strip()] if args.channels else None
        )
        has_display = os.environ.get("DISPLAY") or os.environ.get("WAYLAND_DISPLAY")
        if not os.environ.get("QT_QPA_PLATFORM") and not has_display:
            os.environ["QT_QPA_PLATFORM"] = "offscreen"
    try:
        import pyqtgraph  # noqa: F401
        from pyqtgraph.Qt import QtWidgets  # noqa: F401
    except Exception as exc:  # noqa: BLE001 - ImportError, or Qt failing to load its libraries
        raise BshmError(
            f"the viewer needs Qt and pyqtgraph ({exc}); install them with: "
            'pip install -e ".[gui]" (in the bshm folder)'
        ) from exc
    if args.path is not None:
        from pathlib import Path

        from bshm.gui.data import classify_path

        classify_path(Path(args.path))  # unreadable paths fail here with one line
    if export:
        from bshm.gui.app import export_view

        out = export_view(
            args.path,
            args.export_png,
            tab=args.tab,
            time_range=time_range,
            channels=channels,
            size=size,
            dark=args.dark,
            settings_path=args.settings,
        )
        print(out)
        return 0
    from bshm.gui.app import run_viewer

    exit_ms = None if args.exit_after is None else int(args.exit_after * 1000)
    return run_viewer(args.path, settings_path=args.settings, exit_after_ms=exit_ms)
