"""The viewer's main window: station tree, views in tabs, status bar."""

from __future__ import annotations

import logging
import time
from pathlib import Path

from bshm.gui import livehealth as LH
from bshm.gui import settings as S
from bshm.gui.alarms import AlarmPanel
from bshm.gui.data import classify_path, find_results, raw_for_results
from bshm.gui.live import LiveView
from bshm.gui.signal_view import SignalView
from bshm.gui.spectra import SpectraView
from bshm.gui.station_tree import StationTree
from bshm.gui.workers import TaskRunner
from pyqtgraph.Qt import QtCore, QtGui, QtWidgets

from bshm.errors import BshmError
from bshm.timeutil import to_iso

log = logging.getLogger(__name__)

TABS = ("Signals", "Spectra", "Live", "Modal", "Trends", "Alarms")
SHORTCUT_HELP = """<table>
<tr><td>Ctrl+O / Ctrl+Shift+O</td><td>open a file / a folder</td></tr>
<tr><td>Ctrl+1 ... Ctrl+6</td><td>Signals, Spectra, Live, Modal, Trends, Alarms</td></tr>
<tr><td>+ / -</td><td>zoom in / out</td></tr>
<tr><td>Left / Right</td><td>pan by a quarter of the view</td></tr>
<tr><td>Home / End</td><td>whole span / latest record</td></tr>
<tr><td>Ctrl+L</td><td>follow live (start / stop)</td></tr>
<tr><td>F5</td><td>refresh (pick up new data)</td></tr>
<tr><td>Ctrl+E / Ctrl+Shift+E</td><td>export plot as PNG / visible range as CSV</td></tr>
<tr><td>Ctrl+M</td><td>run the modal analysis of the visible window</td></tr>
<tr><td>Ctrl+K</td><td>two measuring cursors (Signals, Spectra)</td></tr>
<tr><td>Ctrl+D</td><td>dark theme on/off (remembered)</td></tr>
<tr><td>F1</td><td>this list</td></tr>
<tr><td>Ctrl+Q</td><td>quit</td></tr></table>"""


class MainWindow(QtWidgets.QMainWindow):
    """The bshm viewer.

    Parameters
    ----------
    settings : QSettings, optional
        Where layout and recent files are remembered (tests pass an INI file).
    """

    sig_opened = QtCore.Signal(str)
    sig_source_lost = QtCore.Signal(str)

    def __init__(self, settings: QtCore.QSettings | None = None) -> None:
        super().__init__()
        from bshm.gui.modal_view import ModalView
        from bshm.gui.trends import TrendsView

        self.setWindowTitle("bshm viewer")
        self.settings = settings if settings is not None else S.make_settings()
        self.dark = S.dark_theme(self.settings)
        from bshm.gui.app import apply_theme

        apply_theme(self.dark)
        self.runner = TaskRunner(self)
        self.session = None
        self.health: dict[str, dict] = {}
        self.results: dict | None = None
        self.monitor: LH.LiveMonitor | None = None
        self.live_states: dict[str, LH.LiveState] = {}
        self.lost_notified: set[str] = set()
        self.results_path: Path | None = None
        self.path: Path | None = None
        self.last_error = ""
        self.notifications: list[str] = []
        self.tree = StationTree()
        dock = QtWidgets.QDockWidget("Station", self)
        dock.setObjectName("station_dock")
        dock.setWidget(self.tree)
        self.tree.setMinimumWidth(380)
        self.addDockWidget(QtCore.Qt.DockWidgetArea.LeftDockWidgetArea, dock)
        self.signals = SignalView(self.runner)
        self.spectra = SpectraView()
        self.live = LiveView()
        self.modal = ModalView(self.runner)
        self.trends = TrendsView()
        self.alarms = AlarmPanel(self.settings)
        self.tabs = QtWidgets.QTabWidget()
        views = (self.signals, self.spectra, self.live, self.modal, self.trends, self.alarms)
        for name, w in zip(TABS, views):
            self.tabs.addTab(w, name)
        self.setCentralWidget(self.tabs)
        self._make_status()
        self._make_actions()
        self.tree.sig_selection_changed.connect(self._on_selection)
        self.signals.sig_cursor.connect(self._cursor_from(self.signals))
        self.spectra.sig_cursor.connect(self._cursor_from(self.spectra))
        self.trends.sig_cursor.connect(self._cursor_from(self.trends))
        self.modal.sig_cursor.connect(self._cursor_from(self.modal))
        self.signals.sig_message.connect(self.status_message)
        self.signals.sig_loaded.connect(self._on_signals_loaded)
        self.live.sig_stats.connect(self._on_live_stats)
        self.live.sig_message.connect(self.show_error)
        self.modal.sig_message.connect(self.status_message)
        self.trends.sig_message.connect(self.status_message)
        self.trends.sig_jump.connect(self.jump_to)
        self.alarms.sig_jump.connect(self.jump_window)
        self.alarms.sig_selected.connect(self.trends.mark_alarm)
        self.alarms.sig_message.connect(self.status_message)
        self.alarms.sig_changed.connect(self._update_alarm_tab)
        self.tabs.currentChanged.connect(self._on_tab)
        self.health_timer = QtCore.QTimer(self, interval=5000)
        self.health_timer.timeout.connect(self.refresh_health)
        self.state_timer = QtCore.QTimer(self, interval=1000)
        self.state_timer.timeout.connect(lambda: self.update_live_states())
        self.resize(1280, 720)
        self.setMinimumSize(720, 480)
        S.restore_layout(self.settings, self)

    # -- construction ------------------------------------------------------
    def _make_status(self) -> None:
        bar = self.statusBar()
        self.file_label = QtWidgets.QLabel("no file")
        self.span_label = QtWidgets.QLabel("")
        self.mode_label = QtWidgets.QLabel("")
        self.rate_label = QtWidgets.QLabel("")
        self.cursor_label = QtWidgets.QLabel("")
        self.state_label = QtWidgets.QLabel("")
        self.state_label.setToolTip("live state of every source (recording / stale / lost)")
        self.alarm_state_label = QtWidgets.QLabel("")
        self.alarm_state_label.setToolTip(
            "the monitoring job's current alarm state (details: Alarms tab)"
        )
        for w in (self.file_label, self.span_label, self.mode_label, self.rate_label):
            bar.addPermanentWidget(w)
        bar.addWidget(self.alarm_state_label)
        bar.addWidget(self.state_label)
        bar.addWidget(self.cursor_label, 1)

    def _action(self, menu, text: str, slot, shortcut: str | None = None) -> QtGui.QAction:
        act = QtGui.QAction(text, self)
        if shortcut:
            act.setShortcut(QtGui.QKeySequence(shortcut))
            act.setShortcutContext(QtCore.Qt.ShortcutContext.WindowShortcut)
        act.triggered.connect(lambda _checked=False: slot())
        menu.addAction(act)
        self.addAction(act)
        return act

    def _make_actions(self) -> None:
        mb = self.menuBar()
        f = mb.addMenu("&File")
        self._action(f, "Open file...", self._ask_open_file, "Ctrl+O")
        self._action(f, "Open folder...", self._ask_open_folder, "Ctrl+Shift+O")
        self.recent_menu = f.addMenu("Recent")
        self._fill_recent()
        f.addSeparator()
        self._action(f, "Export plot as PNG...", self._ask_export_png, "Ctrl+E")
        self._action(f, "Export visible range as CSV...", self._ask_export_csv, "Ctrl+Shift+E")
        f.addSeparator()
        self._action(f, "Quit", self.close, "Ctrl+Q")
        v = mb.addMenu("&View")
        for i, name in enumerate(TABS):
            self._action(v, name, lambda i=i: self.tabs.setCurrentIndex(i), f"Ctrl+{i + 1}")
        v.addSeparator()
        self._action(v, "Zoom in", lambda: self.signals.zoom(0.5), "+")
        self._action(v, "Zoom out", lambda: self.signals.zoom(2.0), "-")
        self._action(v, "Pan left", lambda: self.signals.pan(-0.25), "Left")
        self._action(v, "Pan right", lambda: self.signals.pan(0.25), "Right")
        self._action(v, "Whole span", self.signals.show_all, "Home")
        self._action(v, "Latest record", self._show_latest, "End")
        self._action(v, "Follow live", self.toggle_live, "Ctrl+L")
        self._action(v, "Refresh", self.refresh, "F5")
        self._action(v, "Measuring cursors", self.toggle_cursors, "Ctrl+K")
        v.addSeparator()
        self.dark_action = self._action(v, "Dark theme", lambda: None, "Ctrl+D")
        self.dark_action.setCheckable(True)
        self.dark_action.setChecked(self.dark)
        self.dark_action.toggled.connect(self.set_dark)
        self.notify_action = self._action(
            v, "Notify when a source is lost (sound, desktop message)", lambda: None
        )
        self.notify_action.setCheckable(True)
        self.notify_action.setChecked(S.notify_lost(self.settings))
        self.notify_action.toggled.connect(lambda on: S.set_notify_lost(self.settings, on))
        a = mb.addMenu("&Analysis")
        self._action(a, "Modal analysis of the visible window", self.run_modal, "Ctrl+M")
        h = mb.addMenu("&Help")
        self._action(h, "Keyboard shortcuts", self._show_shortcuts, "F1")

    def _fill_recent(self) -> None:
        self.recent_menu.clear()
        for p in S.recent_files(self.settings):
            act = self.recent_menu.addAction(p)
            act.triggered.connect(lambda _c=False, p=p: self.open_path(p))

    # -- opening -----------------------------------------------------------
    def open_path(self, path) -> bool:
        """Open a raw folder/file or a results file; False (and a message) on failure."""
        path = Path(path)
        try:
            kind = classify_path(path)
            if kind == "raw":
                raw, results = path, find_results(path)
            else:
                results = path if path.is_file() else find_results(path)
                raw = raw_for_results(results) if results is not None else None
            if raw is not None:
                self._open_raw(raw)
            else:
                self._close_session()
                self.tree.clear()
                self.file_label.setText(str(path))
            self.results_path = None
            self.results = None
            if results is not None:
                self.open_results(results, raw)
            else:
                self.trends.set_results(None)
                self.alarms.set_results(None)
                self.modal.set_results(None)
            if kind == "results":
                self.tabs.setCurrentWidget(self.trends)
        except BshmError as exc:
            self.show_error(str(exc))
            return False
        self.path = path
        S.add_recent(self.settings, path)
        self._fill_recent()
        self.setWindowTitle(f"bshm viewer - {path.name}")
        self.sig_opened.emit(str(path))
        return True

    def open_results(self, path: Path, raw: Path | None = None) -> None:
        """Read a results file (and the feed, acknowledgements and station
        config beside it) once, and hand it to the views that show it."""
        from bshm.gui.results import load_results

        sources = self.session.sources if self.session is not None else None
        data_dir = raw if raw is not None else None
        res = load_results(path, data_dir=data_dir, sources=sources)
        self.results = res
        self.results_path = Path(path)
        self.trends.set_results(res)
        self.alarms.set_results(res)
        self.modal.set_results(res)
        self._update_alarm_tab()

    def _update_alarm_tab(self) -> None:
        """``Alarms (3)``: how many are active and not acknowledged."""
        alarms = self.results["alarms"] if self.results else []
        n_open = sum(
            1 for a in alarms if a["state"] == "active" and a["level"] and not a.get("ack")
        )
        self.tabs.setTabText(TABS.index("Alarms"), f"Alarms ({n_open})" if n_open else "Alarms")
        self.alarm_state_label.setText(self.alarm_state_text())

    def alarm_state_text(self) -> str:
        """Status-bar summary of the stored alarm state: the bridge's level and how
        many other subjects are above normal ("" without a stored state)."""
        from bshm.gui.results import current_state_rows

        from bshm.palette import LEVEL_COLOURS

        rows = current_state_rows((self.results or {}).get("alarm_state"))
        if not rows:
            return ""
        bridge = next((r for r in rows if r["subject"] == "structural"), None)
        others = [r for r in rows if r["active"] and r["subject"] != "structural"]
        parts = []
        if bridge is not None:
            col = LEVEL_COLOURS.get(bridge["level"], "#000")
            parts.append(f'<b style="color:{col}">bridge: {bridge["level_name"]}</b>')
        if others:
            top = max(r["level"] for r in others)
            col = LEVEL_COLOURS.get(top, "#000")
            parts.append(f'<span style="color:{col}">{len(others)} other(s) above normal</span>')
        return " &middot; ".join(parts)

    def _close_session(self) -> None:
        self.live.stop()
        self.health_timer.stop()
        self.state_timer.stop()
        self.monitor = None
        self.live_states = {}
        self.lost_notified = set()
        self.state_label.setText("")
        self.state_label.setStyleSheet("")
        if self.session is not None:
            self.session.cancelled.set()
            self.runner.wait(30000)
            self.session.close()
            self.session = None

    def _open_raw(self, path: Path) -> None:
        from bshm.gui.session import RawSession

        session = RawSession(path)
        self._close_session()
        self.session = session
        self.tree.populate(session.station, session.sources, live=session.live)
        self.signals.set_session(session)
        self.modal.set_session(session)
        self.refresh_health()
        first = self.tree.current_source
        self.signals.show_source(first, self.tree.checked_channels(first))
        self.signals.set_health(self.health.get(first, {}))
        self.modal.set_station(self.session)
        self._update_status(first)
        if session.live:
            self.monitor = LH.LiveMonitor(session)
            self.update_live_states()
            self.state_timer.start()
            self.start_live()

    def refresh_health(self) -> None:
        """Judge every source and channel again (every 5 s while live)."""
        s = self.session
        if s is None:
            return
        now = time.time_ns() if s.live else None
        self.health = {}
        for name in s.sources:
            try:
                h, per = s.health(name, now_ns=now)
            except BshmError as exc:
                log.warning("health of %s: %s", name, exc)
                continue
            self.tree.set_health(name, h, per)
            self.health[name] = per
        if self.signals.source in self.health:
            self.signals.set_health(self.health[self.signals.source])

    def _update_status(self, source: str) -> None:
        s = self.session
        self.file_label.setText(f"{s.path}  ({len(s.reader.files)} file(s))")
        try:
            a, b = s.span()
            self.span_label.setText(f"{to_iso(a, digits=0)} .. {to_iso(b, digits=0)}")
        except BshmError:
            self.span_label.setText("empty")
        self._paint_mode_label()
        info = s.sources[source]
        self.rate_label.setText(f"{source}: {info.fs:g} Hz" if info.fs else f"{source}: irregular")

    def refresh(self) -> None:
        """Pick up data appended since opening."""
        if self.session is None:
            return
        try:
            self.session.refresh()
        except BshmError as exc:
            self.show_error(str(exc))
            return
        src = self.tree.current_source
        self.signals.trace = None
        self.signals.show_source(src, self.tree.checked_channels(src))
        self._update_status(src)

    # -- reactions -----------------------------------------------------------
    def _on_selection(self, source: str, channels: list) -> None:
        if self.session is None:
            return
        self.signals.show_source(source, channels)
        self.signals.set_health(self.health.get(source, {}))
        self._update_status(source)
        if self.live.running:
            self.start_live()

    def _on_signals_loaded(self) -> None:
        if self.tabs.currentWidget() is self.spectra:
            self._update_spectra()

    def _cursor_from(self, view):
        """A slot that shows a view's cursor text only while that view is shown."""

        def show(text: str) -> None:
            if self.tabs.currentWidget() is view:
                self.cursor_label.setText(text)

        return show

    def toggle_cursors(self) -> None:
        """Show/hide the two measuring cursors of the current tab."""
        w = self.tabs.currentWidget()
        if hasattr(w, "cursor_button"):
            w.cursor_button.toggle()

    def set_dark(self, on: bool) -> None:
        """Switch the dark theme on or off (remembered for the next start)."""
        from bshm.gui.app import apply_theme
        from bshm.gui.plotting import apply_plot_theme

        self.dark = bool(on)
        S.set_dark_theme(self.settings, self.dark)
        apply_theme(self.dark)
        apply_plot_theme(self, self.dark)
        if self.dark_action.isChecked() != self.dark:
            self.dark_action.setChecked(self.dark)

    def _on_tab(self, _index: int) -> None:
        self.cursor_label.setText("")  # a readout belongs to the tab it came from
        if self.tabs.currentWidget() is self.spectra:
            self._update_spectra()
        elif self.tabs.currentWidget() is self.modal and self.session is not None:
            self.modal.set_window(*self.signals.view_range_ns())

    def _update_spectra(self) -> None:
        tr = self.signals.trace
        if tr is None or self.session is None:
            return
        units = [self.session.channel_meta(tr.source, c).unit for c in tr.channels]
        self.spectra.set_trace(tr, units)

    def _on_live_stats(self, stats: dict) -> None:
        lat = stats["latency_s"]
        text = (
            f"live {stats['rate_hz']:.0f} fps, latency {LH.age_text(lat)}, "
            f"frame {stats['frame_ms']:.0f} ms"
        )
        self.rate_label.setText(text)
        late = lat == lat and lat > 5.0  # new data take < 2 s normally
        self.rate_label.setStyleSheet("color: #c62828; font-weight: bold" if late else "")

    # -- live health -------------------------------------------------------------
    def _paint_mode_label(self) -> None:
        s = self.session
        if s is None:
            self.mode_label.setText("")
            return
        if not s.live and not self.live_states:
            self.mode_label.setText("recorded")
            self.mode_label.setStyleSheet("")
            return
        worst = max((st.level for st in self.live_states.values()), default=0)
        if worst == 0:
            self.mode_label.setText("● LIVE")
            self.mode_label.setStyleSheet("color: #2e7d32; font-weight: bold")
        else:
            self.mode_label.setText("LIVE: NO NEW DATA" if worst >= 2 else "LIVE: DELAYED")
            self.mode_label.setStyleSheet(
                "color: white; background: #c62828; font-weight: bold; padding: 0 4px"
                if worst >= 2
                else "color: black; background: #ffb74d; font-weight: bold; padding: 0 4px"
            )

    def update_live_states(self, now_ns: int | None = None) -> dict:
        """Judge every source's live state now; update tree, status bar and live view.

        ``now_ns`` replaces the clock (tests). Returns ``{source: LiveState}``.
        """
        if self.session is None or self.monitor is None:
            return {}
        try:
            states = self.monitor.update(now_ns, refresh=not self.live.running)
        except BshmError as exc:
            log.warning("live state: %s", exc)
            return self.live_states
        self.live_states = states
        for name, st in states.items():
            self.tree.set_live_state(name, st)
        level, text = LH.summary(states)
        self.state_label.setText(text)
        self.state_label.setToolTip("\n".join(st.text for st in states.values()))
        self.state_label.setStyleSheet(
            ""
            if level == 0
            else "color: white; background: #c62828; font-weight: bold; padding: 0 6px"
            if level >= 2
            else "color: black; background: #ffb74d; font-weight: bold; padding: 0 6px"
        )
        if level == 0:
            self.state_label.setStyleSheet("color: #2e7d32")
        self._paint_mode_label()
        followed = self.live.source
        if followed in states:
            self.live.set_state(states[followed])
        for name, st in states.items():
            if st.state == "lost" and name not in self.lost_notified:
                self.lost_notified.add(name)
                self.sig_source_lost.emit(name)
                self._notify(st)
            elif st.state == "recording":
                self.lost_notified.discard(name)
        return states

    def _notify(self, st: LH.LiveState) -> None:
        """Sound and a desktop message when a source is lost (if switched on)."""
        if not self.notify_action.isChecked():
            return
        QtWidgets.QApplication.beep()
        if QtWidgets.QSystemTrayIcon.isSystemTrayAvailable():
            if getattr(self, "_tray", None) is None:
                self._tray = QtWidgets.QSystemTrayIcon(self.windowIcon(), self)
                self._tray.show()
            self._tray.showMessage(
                "bshm: source lost", st.text, QtWidgets.QSystemTrayIcon.MessageIcon.Warning
            )
        self.notifications.append(st.text)

    def jump_to(self, t_ns: int) -> None:
        """Show the signals of the analysis window starting at ``t_ns``, centred."""
        from bshm.gui.results import window_of

        a, b = window_of(self.results or {}, int(t_ns))
        self.jump_window(a, b, True)

    def jump_window(self, start_ns: int, end_ns: int, switch: bool = True) -> None:
        """Centre the Signals view on ``[start_ns, end_ns)`` with a margin of 20 % each side."""
        if self.session is None:
            self.status_message(f"{to_iso(start_ns)}: open the raw data folder to see the signals")
            return
        pad = max(10 * 10**9, (end_ns - start_ns) // 5)
        if switch:
            self.tabs.setCurrentWidget(self.signals)
        self.signals.set_range(start_ns - pad, end_ns + pad)

    def _show_latest(self) -> None:
        if self.session is not None and self.signals.source:
            self.signals.set_range(*self.signals.default_range(self.signals.source))

    # -- live ----------------------------------------------------------------
    def start_live(self) -> None:
        """Follow the current source of the open folder."""
        if self.session is None:
            return
        src = self.tree.current_source
        self.live.follow(self.session, src, self.tree.checked_channels(src))
        self.tabs.setCurrentWidget(self.live)
        self.health_timer.start()

    def toggle_live(self) -> None:
        """Start or stop following."""
        if self.live.running:
            self.live.stop()
            self.health_timer.stop()
        else:
            self.start_live()

    # -- analysis ------------------------------------------------------------
    def run_modal(self) -> None:
        """Identify modes in the visible window of the signal view."""
        if self.session is None:
            self.show_error("open raw data first")
            return
        self.modal.set_window(*self.signals.view_range_ns())
        self.tabs.setCurrentWidget(self.modal)
        self.modal.run()

    # -- messages and files ----------------------------------------------------
    def status_message(self, text: str) -> None:
        """A transient message in the status bar."""
        self.statusBar().showMessage(text, 8000)

    def show_error(self, text: str) -> None:
        """A clear, non-blocking message box (and the status bar)."""
        self.last_error = text
        log.warning("%s", text)
        self.status_message(text)
        box = QtWidgets.QMessageBox(
            QtWidgets.QMessageBox.Icon.Warning,
            "bshm viewer",
            text,
            QtWidgets.QMessageBox.StandardButton.Ok,
            self,
        )
        box.setAttribute(QtCore.Qt.WidgetAttribute.WA_DeleteOnClose)
        box.open()

    def _ask_open_file(self) -> None:
        p, _ = QtWidgets.QFileDialog.getOpenFileName(
            self, "Open raw or results file", "", "HDF5 (*.h5 *.h5.part *.hdf5);;All (*)"
        )
        if p:
            self.open_path(p)

    def _ask_open_folder(self) -> None:
        p = QtWidgets.QFileDialog.getExistingDirectory(self, "Open raw data folder")
        if p:
            self.open_path(p)

    def current_plot(self):
        """The plot widget of the current tab (for PNG export)."""
        w = self.tabs.currentWidget()
        for attr in ("glw", "export_target"):
            if hasattr(w, attr):
                t = getattr(w, attr)
                return t() if callable(t) else t
        return w

    def export_png(self, path) -> Path:
        """Save the current tab's plot as PNG."""
        from bshm.gui.export import export_png

        return export_png(self.current_plot(), path)

    def export_csv(self, path) -> tuple[Path, int]:
        """Save the visible range of the signal view as CSV."""
        from bshm.gui.export import export_csv

        return export_csv(self.session, self.signals.trace, *self.signals.view_range_ns(), path)

    def _ask_export_png(self) -> None:
        p, _ = QtWidgets.QFileDialog.getSaveFileName(self, "Export plot", "plot.png", "PNG (*.png)")
        if p:
            try:
                self.status_message(f"saved {self.export_png(p)}")
            except BshmError as exc:
                self.show_error(str(exc))

    def _ask_export_csv(self) -> None:
        p, _ = QtWidgets.QFileDialog.getSaveFileName(
            self, "Export CSV", "selection.csv", "CSV (*.csv)"
        )
        if p:
            try:
                out, n = self.export_csv(p)
                self.status_message(f"saved {n} rows to {out}")
            except BshmError as exc:
                self.show_error(str(exc))

    def _show_shortcuts(self) -> None:
        QtWidgets.QMessageBox.information(self, "Keyboard shortcuts", SHORTCUT_HELP)

    def closeEvent(self, event) -> None:  # noqa: D102, N802 - Qt API
        S.save_layout(self.settings, self)
        self._close_session()
        self.runner.wait(10000)
        super().closeEvent(event)
