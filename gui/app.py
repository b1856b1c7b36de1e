"""Start the viewer: ``bshm view [PATH]`` and ``python -m bshm.gui.app``."""

from __future__ import annotations

import logging
import sys
from pathlib import Path

log = logging.getLogger(__name__)


def make_app(argv: list[str] | None = None):
    """The QApplication (created once), with the viewer's names set."""
    import pyqtgraph as pg
    from pyqtgraph.Qt import QtWidgets

    app = QtWidgets.QApplication.instance()
    if app is None:
        app = QtWidgets.QApplication(list(argv or sys.argv[:1]))
    app.setOrganizationName("bshm")
    app.setApplicationName("viewer")
    pg.setConfigOptions(antialias=False, background="w", foreground="k")
    return app


def apply_theme(dark: bool) -> None:
    """Light or dark colours for the whole application (Fusion style palette)
    and for plots created from now on (see :func:`bshm.gui.plotting.apply_plot_theme`
    for plots that exist)."""
    import pyqtgraph as pg
    from pyqtgraph.Qt import QtGui, QtWidgets

    from bshm.gui.plotting import DARK, LIGHT

    app = QtWidgets.QApplication.instance()
    if app is None:
        return
    c = DARK if dark else LIGHT
    pg.setConfigOptions(background=c["background"], foreground=c["foreground"])
    if not dark:
        if getattr(app, "_bshm_light_palette", None) is not None:
            app.setPalette(app._bshm_light_palette)
        return
    if getattr(app, "_bshm_light_palette", None) is None:
        app._bshm_light_palette = QtGui.QPalette(app.palette())
    app.setStyle("Fusion")
    R = QtGui.QPalette.ColorRole
    pal = QtGui.QPalette()
    for role, colour in (
        (R.Window, "#2b2d30"),
        (R.WindowText, "#e0e0e0"),
        (R.Base, "#1e1f22"),
        (R.AlternateBase, "#26282b"),
        (R.ToolTipBase, "#3c3f41"),
        (R.ToolTipText, "#e0e0e0"),
        (R.Text, "#e0e0e0"),
        (R.Button, "#3c3f41"),
        (R.ButtonText, "#e0e0e0"),
        (R.BrightText, "#ff5252"),
        (R.Highlight, "#2f65ca"),
        (R.HighlightedText, "#ffffff"),
        (R.PlaceholderText, "#9e9e9e"),
    ):
        pal.setColor(role, QtGui.QColor(colour))
    app.setPalette(pal)


def run_viewer(
    path: str | Path | None = None,
    *,
    settings_path: str | None = None,
    exit_after_ms: int | None = None,
) -> int:
    """Open the main window (on ``path`` if given) and run the event loop.

    Parameters
    ----------
    path : path-like, optional
        A raw folder/file or a results file to open.
    settings_path : str, optional
        INI file for layout and recent files instead of the user's settings.
    exit_after_ms : int, optional
        Quit after this many ms (smoke tests and screenshots).

    Returns
    -------
    int
        The event loop's exit code.
    """
    from bshm.gui.main_window import MainWindow
    from bshm.gui.settings import make_settings
    from pyqtgraph.Qt import QtCore

    app = make_app()
    win = MainWindow(make_settings(settings_path))
    win.show()
    if path is not None:
        QtCore.QTimer.singleShot(0, lambda: win.open_path(path))
    if exit_after_ms is not None:
        QtCore.QTimer.singleShot(exit_after_ms, win.close)
    return int(app.exec())


if __name__ == "__main__":  # pragma: no cover
    sys.exit(run_viewer(sys.argv[1] if len(sys.argv) > 1 else None))
