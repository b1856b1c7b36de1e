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
    from bshm.gui.plotting import DARK, LIGHT
    from pyqtgraph.Qt import QtGui, QtWidgets

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


EXPORT_TABS = {
    "signals": ("Signals", None),
    "spectra": ("Spectra", None),
    "live": ("Live", None),
    "modal": ("Modal", None),
    "modal-campaign": ("Modal", "campaign"),
    "trends": ("Trends", 0),
    "trends-frequencies": ("Trends", 1),
    "trends-temperature": ("Trends", 2),
    "trends-fatigue": ("Trends", 3),
    "alarms": ("Alarms", None),
}


def _wait(app, cond, timeout_s: float) -> bool:
    """Process events until ``cond()`` is true or ``timeout_s`` passed."""
    import time

    from pyqtgraph.Qt import QtCore

    end = time.monotonic() + timeout_s
    while time.monotonic() < end:
        app.processEvents(QtCore.QEventLoop.ProcessEventsFlag.AllEvents, 50)
        if cond():
            return True
        QtCore.QThread.msleep(20)
    return False


def select_channels(win, names: list[str]) -> str:
    """Tick only ``names`` (all of one source) in the tree; returns the source.

    Raises
    ------
    bshm.errors.ConfigError
        Unknown channel, or channels of several sources.
    """
    from pyqtgraph.Qt import QtCore

    from bshm.errors import ConfigError

    sources = win.session.sources
    owner = {}
    for src, info in sources.items():
        for c in info.channels:
            owner.setdefault(c.name, src)
    unknown = [n for n in names if n not in owner]
    if unknown:
        raise ConfigError(
            f"--channels: no channel {', '.join(unknown)} in {win.session.path} "
            f"(channels: {', '.join(owner)})"
        )
    srcs = {owner[n] for n in names}
    if len(srcs) > 1:
        raise ConfigError(
            f"--channels: give channels of one source (these span {', '.join(sorted(srcs))})"
        )
    src = srcs.pop()
    item = win.tree.source_item(src)
    win.tree._updating = True
    for i in range(item.childCount()):
        child = item.child(i)
        on = child.data(0, QtCore.Qt.ItemDataRole.UserRole)[2] in names
        child.setCheckState(
            0, QtCore.Qt.CheckState.Checked if on else QtCore.Qt.CheckState.Unchecked
        )
    win.tree._updating = False
    win.tree.select_source(src)
    return src


def export_view(
    path: str | Path,
    out: str | Path,
    *,
    tab: str = "signals",
    time_range: tuple[int, int] | None = None,
    channels: list[str] | None = None,
    size: tuple[int, int] = (1366, 768),
    dark: bool = False,
    settings_path: str | None = None,
    timeout_s: float = 600.0,
) -> Path:
    """Render one view of the viewer offscreen (or on the display) and save it as PNG.

    The picture is the whole main window, as a technician sees it: station
    tree, the view, the status bar; time axes in UTC with their dates.

    Raises
    ------
    bshm.errors.ConfigError
        Unknown tab or channel, a time range without data.
    bshm.errors.BshmError
        The data cannot be opened or the PNG cannot be written.
    """
    import tempfile

    from bshm.gui.main_window import TABS, MainWindow
    from bshm.gui.settings import make_settings, set_dark_theme

    from bshm.errors import BshmError, ConfigError

    if tab not in EXPORT_TABS:
        raise ConfigError(f"--tab {tab!r}: one of {', '.join(EXPORT_TABS)}")
    tab_name, inner = EXPORT_TABS[tab]
    app = make_app()
    if settings_path is None:
        settings_path = str(Path(tempfile.mkdtemp(prefix="bshm-export-")) / "viewer.ini")
    settings = make_settings(settings_path)
    set_dark_theme(settings, dark)
    win = MainWindow(settings)
    win.resize(*size)
    win.show()
    try:
        if not win.open_path(path):
            raise BshmError(win.last_error)
        needs_raw = tab_name in ("Signals", "Spectra", "Live", "Modal")
        if needs_raw and win.session is None:
            raise ConfigError(f"--tab {tab}: {path} has no raw data files to show")
        if tab_name in ("Trends", "Alarms") and win.results is None:
            raise ConfigError(f"--tab {tab}: {path} has no results file (run 'bshm analyze')")
        if win.session is not None:
            if channels:
                select_channels(win, channels)
            if time_range is not None:
                a, b = time_range
                src = win.signals.source
                lo, hi = win.session.span(src)
                if b <= lo or a >= hi:
                    raise ConfigError(
                        f"--time: no data of {src} in that range (data from "
                        f"{_iso(lo)} to {_iso(hi)})"
                    )
                win.signals.set_range(a, b)
        win.tabs.setCurrentIndex(TABS.index(tab_name))
        if isinstance(inner, int):
            win.trends.inner.setCurrentIndex(inner)
        sv = win.signals
        if tab_name in ("Signals", "Spectra", "Modal"):
            _wait(
                app,
                lambda: sv.trace is not None and sv.trace.complete and not sv._overview_busy,
                timeout_s,
            )
        if tab_name == "Spectra":
            win._update_spectra()
        elif tab_name == "Modal":
            win.run_modal()
            if not _wait(app, lambda: not win.modal.busy, timeout_s):
                raise BshmError("the modal analysis did not finish in time")
            win.modal.bridge.stop()
            if inner == "campaign":
                if not win.modal.campaign:
                    raise ConfigError(
                        f"--tab {tab}: no campaign.json beside {path} (run 'bshm campaign')"
                    )
                win.modal.shape_tabs.setCurrentIndex(win.modal.shape_tabs.count() - 1)
                win.modal.right_split.setSizes([110, 640])  # room for the campaign
                win.modal.campaign_split.setSizes([170, 400])
                _wait(app, lambda: False, 0.2)
                win.modal.campaign_view.stop()
        elif tab_name == "Live":
            if not win.live.running:
                win.start_live()
            from bshm.gui import livehealth as LH

            if win.monitor is None:
                win.monitor = LH.LiveMonitor(win.session)
            _wait(app, lambda: win.live.ring is not None and win.live.ring.count > 0, 20)
            win.update_live_states()
            _wait(app, lambda: False, 0.5)
        _wait(app, lambda: False, 0.6)  # let the plots settle and repaint
        out = Path(out)
        if out.suffix.lower() != ".png":
            out = out.with_suffix(".png")
        try:
            out.parent.mkdir(parents=True, exist_ok=True)
        except OSError as exc:
            raise BshmError(f"{out}: cannot create the folder ({exc.strerror})") from exc
        if not win.grab().save(str(out), "PNG"):
            raise BshmError(f"{out}: could not write the PNG (is the folder writable?)")
        return out
    finally:
        win.live.stop()
        win.close()


def _iso(ns: int) -> str:
    from bshm.timeutil import to_iso

    return to_iso(int(ns), digits=0)
