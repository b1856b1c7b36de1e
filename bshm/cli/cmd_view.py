"""``bshm view [PATH]``: the desktop viewer."""

from __future__ import annotations

import argparse

NAME = "view"
GROUP = None
HELP = "the desktop viewer (raw data, live acquisition, modal analysis, trends)"
DESCRIPTION = """Open the pyqtgraph/Qt viewer.

PATH may be a raw data folder (live: the folder 'bshm acquire' writes),
a raw .h5/.h5.part file, or a results file (<station>_results.h5).
Needs the 'gui' extra: pip install 'bshm[gui]'.

Keys: Ctrl+1..5 switch views, +/- zoom, Left/Right pan, Home/End whole
span/latest, Ctrl+L follow live, Ctrl+E export PNG, F1 all shortcuts."""


def configure(parser: argparse.ArgumentParser) -> None:
    """Arguments of ``bshm view``."""
    parser.add_argument("path", nargs="?", help="raw folder or file, or a results file")
    parser.add_argument(
        "--settings", metavar="INI", help="keep layout and recent files in this INI file"
    )
    parser.add_argument("--exit-after", type=float, metavar="S", help=argparse.SUPPRESS)


def run(args: argparse.Namespace) -> int:
    """Start the viewer; exit code 1 with a one-line hint when Qt is missing."""
    from bshm.errors import BshmError

    try:
        import pyqtgraph  # noqa: F401
        from pyqtgraph.Qt import QtWidgets  # noqa: F401
    except Exception as exc:  # noqa: BLE001 - ImportError, or Qt failing to load its libraries
        raise BshmError(
            f"the viewer needs Qt and pyqtgraph ({exc}); install them with: pip install 'bshm[gui]'"
        ) from exc
    if args.path is not None:
        from pathlib import Path

        from bshm.gui.data import classify_path

        classify_path(Path(args.path))  # unreadable paths fail here with one line
    from bshm.gui.app import run_viewer

    exit_ms = None if args.exit_after is None else int(args.exit_after * 1000)
    return run_viewer(args.path, settings_path=args.settings, exit_after_ms=exit_ms)
