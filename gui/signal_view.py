"""Time series of a chosen source and time range: zoom, pan, crosshair, gaps.

Only the visible slice is read from HDF5 (plus a margin). Ranges with more
than :data:`bshm.gui.data.RAW_POINT_LIMIT` samples per channel show the
per-run min/max overview instead, computed lazily in a pool thread and
cached; the view fills in as runs arrive.
"""

from __future__ import annotations

import logging

import numpy as np
import pyqtgraph as pg
from bshm.gui import data as D
from bshm.gui.plotting import TwoCursors, UtcAxis, fmt, iso, nearest
from bshm.gui.station_tree import HEALTH_COLOURS
from pyqtgraph.Qt import QtCore, QtWidgets

from bshm.errors import BshmError
from bshm.units import pretty, with_unit

log = logging.getLogger(__name__)

NS = D.NS
PENS = ["#1565c0", "#2e7d32", "#6a1b9a", "#c62828", "#ef6c00", "#00838f", "#4e342e", "#37474f"]
GAP_BRUSH = (229, 57, 53, 50)
MAX_GAP_ITEMS = 200


def pen_for(i: int):
    """Thin (width 1) pen of the i-th channel: wider pens are 5x slower."""
    return pg.mkPen(PENS[i % len(PENS)], width=1)


class SignalView(QtWidgets.QWidget):
    """Stacked time series (one plot per channel, x linked) and a navigator.

    Signals
    -------
    sig_cursor(str)
        Crosshair readout: time and the value of each channel there.
    sig_range_changed(int, int)
        The visible range after a reload (ns).
    sig_loaded()
        A (re)load finished; ``trace`` holds what is plotted.
    sig_message(str)
        Something the user should know (errors, progress).
    """

    sig_cursor = QtCore.Signal(str)
    sig_range_changed = QtCore.Signal(object, object)
    sig_loaded = QtCore.Signal()
    sig_message = QtCore.Signal(str)

    def __init__(self, runner, parent: QtWidgets.QWidget | None = None) -> None:
        super().__init__(parent)
        self.runner = runner
        self.session = None
        self.source: str | None = None
        self.channels: list[str] = []
        self.trace: D.Trace | None = None
        self.plots: list[pg.PlotItem] = []
        self.curves: list[pg.PlotDataItem] = []
        self._lines: list[pg.InfiniteLine] = []
        self._gap_items: list[tuple[pg.PlotItem, pg.LinearRegionItem]] = []
        self._overview_busy = False
        self._block = False
        self.glw = pg.GraphicsLayoutWidget()
        self.cursor_button = QtWidgets.QPushButton("Cursors A/B")
        self.cursor_button.setCheckable(True)
        self.cursor_button.setToolTip(
            "two cursors to measure a time difference (drag them; values at each cursor)"
        )
        self.cursor_button.toggled.connect(self.show_cursors)
        self.cursor_text = QtWidgets.QLabel("")
        self.cursor_text.setWordWrap(True)
        self.cursor_text.setTextInteractionFlags(
            QtCore.Qt.TextInteractionFlag.TextSelectableByMouse
        )
        self.cursors: TwoCursors | None = None
        self._value_labels: list[pg.TextItem] = []
        self.nav = pg.PlotWidget(axisItems={"bottom": UtcAxis(show_label=False)})
        self.nav.setMaximumHeight(90)
        self.nav.setMouseEnabled(x=False, y=False)
        self.nav.hideAxis("left")
        self.nav.setMenuEnabled(False)
        self.nav_runs = self.nav.plot(
            [], [], pen=None, fillLevel=0, brush=(21, 101, 192, 150), stepMode="center"
        )
        self.nav_cover = np.empty(0)
        self.nav_region = pg.LinearRegionItem(brush=(255, 193, 7, 60))
        self.nav_region.setZValue(10)
        self.nav.addItem(self.nav_region)
        self.nav_region.sigRegionChangeFinished.connect(self._on_nav_region)
        top = QtWidgets.QHBoxLayout()
        top.setContentsMargins(4, 2, 4, 0)
        top.addWidget(self.cursor_button)
        top.addWidget(self.cursor_text, 1)
        lay = QtWidgets.QVBoxLayout(self)
        lay.setContentsMargins(0, 0, 0, 0)
        lay.addLayout(top)
        lay.addWidget(self.glw, 1)
        lay.addWidget(self.nav)
        self._reload_timer = QtCore.QTimer(self, singleShot=True, interval=120)
        self._reload_timer.timeout.connect(self.reload)
        self._mouse_proxy = pg.SignalProxy(
            self.glw.scene().sigMouseMoved, rateLimit=30, slot=self._on_mouse
        )

    # -- set-up ------------------------------------------------------------
    def set_session(self, session) -> None:
        """Use a :class:`bshm.gui.session.RawSession` (or None to clear)."""
        self.session = session
        self.trace = None
        self.source = None
        self._clear_plots()

    def show_source(
        self,
        source: str,
        channels: list[str] | None = None,
        start_ns: int | None = None,
        end_ns: int | None = None,
    ) -> None:
        """Plot channels of a source; default range: the last record run."""
        if self.session is None:
            return
        names = self.session.channel_names(source)
        channels = [c for c in (channels or names) if c in names] or names[:1]
        same = source == self.source and channels == self.channels and self.plots
        self.source, self.channels = source, channels
        if not same:
            self._build_plots()
        self._update_navigator()
        if start_ns is None or end_ns is None:
            if same and self.trace is not None:
                start_ns, end_ns = self.view_range_ns()
            else:
                start_ns, end_ns = self.default_range(source)
        self.set_range(start_ns, end_ns)

    def default_range(self, source: str) -> tuple[int, int]:
        """The last contiguous run (at most 10 minutes)."""
        runs = self.session.runs(source)
        if runs:
            a, b = runs[-1]
        else:
            a, b = self.session.span(source)
        return max(a, b - 600 * NS), b

    def _clear_plots(self) -> None:
        self.glw.clear()
        self.plots, self.curves, self._lines, self._gap_items = [], [], [], []
        self._value_labels = []
        self.cursors = None
        self.cursor_text.setText("")

    def _build_plots(self) -> None:
        self._clear_plots()
        first = None
        for i, name in enumerate(self.channels):
            meta = self.session.channel_meta(self.source, name)
            axis = UtcAxis(show_label=i == len(self.channels) - 1)
            p = self.glw.addPlot(row=i, col=0, axisItems={"bottom": axis})
            p.setLabel("left", name, units=None)
            p.getAxis("left").setWidth(78)
            p.getAxis("left").enableAutoSIPrefix(False)
            p.setTitle(None)
            p.showGrid(x=True, y=True, alpha=0.2)
            # no pyqtgraph clip-to-view/auto-downsampling: they assume increasing x
            # without NaN and drop every record after the first (see data.view_arrays)
            p.enableAutoRange(x=False, y=True)
            p.setAutoVisible(y=True)
            p.getAxis("left").setLabel(with_unit(name, meta.unit))
            if i < len(self.channels) - 1:
                p.getAxis("bottom").setStyle(showValues=False)
            curve = p.plot([], [], pen=pen_for(i), connect="finite")
            line = pg.InfiniteLine(angle=90, movable=False, pen=pg.mkPen("#888", width=1))
            p.addItem(line, ignoreBounds=True)
            label = pg.TextItem("", color=PENS[i % len(PENS)], anchor=(0, 0))
            label.setZValue(30)
            p.addItem(label, ignoreBounds=True)
            self._value_labels.append(label)
            if first is None:
                first = p
                p.sigXRangeChanged.connect(self._on_range_changed)
            else:
                p.setXLink(first)
            self.plots.append(p)
            self.curves.append(curve)
            self._lines.append(line)
        self.cursors = TwoCursors(self.plots, self.describe_cursors)
        self.cursors.sig_text.connect(self.cursor_text.setText)
        if self.cursor_button.isChecked():
            QtCore.QTimer.singleShot(0, lambda: self.show_cursors(True))

    def _update_navigator(self) -> None:
        """The strip under the plots: how much of each stretch of time was recorded.

        One bar per pixel column (about 400 over the span), its height the
        share of the column's time covered by records, at least a quarter
        when anything was recorded: a 10-minute record in 60 days is a
        hundredth of a pixel and would otherwise not be drawn at all.
        """
        runs = self.session.runs(self.source)
        if not runs:
            return
        a = np.array([r[0] for r in runs], np.float64) / NS
        b = np.array([r[1] for r in runs], np.float64) / NS
        t0, t1 = float(a.min()), float(b.max())
        n = 400
        edges = np.linspace(t0, t1 + 1e-9, n + 1)
        cover = np.zeros(n)
        width = edges[1] - edges[0]
        for lo, hi in zip(a, b):
            i0 = int(np.clip((lo - t0) // width, 0, n - 1))
            i1 = int(np.clip((hi - t0) // width, 0, n - 1))
            for i in range(i0, i1 + 1):
                cover[i] += max(0.0, min(hi, edges[i + 1]) - max(lo, edges[i]))
        frac = np.clip(cover / width, 0, 1)
        frac = np.where(frac > 0, np.maximum(frac, 0.25), 0.0)
        self.nav_runs.setData(edges, frac, stepMode="center")
        self.nav_cover = frac
        self.nav.setXRange(t0, t1, padding=0.01)
        self.nav.setYRange(0, 1.05, padding=0)

    # -- range and loading -------------------------------------------------
    def view_range_ns(self) -> tuple[int, int]:
        """Visible x range in ns."""
        if not self.plots:
            return (0, 0)
        x0, x1 = self.plots[0].viewRange()[0]
        return int(x0 * NS), int(x1 * NS)

    def set_range(self, start_ns: int, end_ns: int) -> None:
        """Show a time range (ns) and load what it needs."""
        if not self.plots:
            return
        if end_ns <= start_ns:
            end_ns = start_ns + NS
        self._block = True
        self.plots[0].setXRange(start_ns / NS, end_ns / NS, padding=0)
        self._block = False
        self.reload()

    def _on_range_changed(self, *_args) -> None:
        if not self._block:
            self._reload_timer.start()

    def _on_nav_region(self) -> None:
        if self._block:
            return
        a, b = self.nav_region.getRegion()
        self.set_range(int(a * NS), int(b * NS))

    def reload(self) -> None:
        """Read what the visible range needs and update the curves."""
        if self.session is None or not self.plots:
            return
        start, end = self.view_range_ns()
        tr = self.trace
        if (
            tr is not None
            and tr.kind == "raw"
            and tr.source == self.source
            and tuple(self.channels) == tr.channels
            and tr.start_ns <= start
            and end <= tr.end_ns
        ):
            self.redraw()
            self._after_load(start, end)
            return
        margin = (end - start) // 4
        try:
            trace = self.session.load(self.source, start - margin, end + margin, self.channels)
        except BshmError as exc:
            self.sig_message.emit(str(exc))
            return
        self.set_trace(trace)
        if trace.kind == "overview" and not trace.complete:
            self._request_overview(start - margin, end + margin)
        self._after_load(start, end)

    def set_trace(self, trace: D.Trace) -> None:
        """Hand a trace to the curves (one column per plot)."""
        self.trace = trace
        self.redraw()

    def plot_width_px(self) -> int:
        """Pixel columns of the plots (the envelope resolution)."""
        if not self.plots:
            return 1000
        return max(200, int(self.plots[0].vb.width()))

    def redraw(self) -> None:
        """Draw every record of the trace in the visible range (+ a quarter each side).

        Each curve gets its samples, or a per-pixel min/max envelope where a
        record holds more samples than pixels (:func:`bshm.gui.data.view_arrays`).
        """
        tr = self.trace
        if tr is None or not self.plots:
            return
        x0, x1 = self.plots[0].viewRange()[0]
        w = x1 - x0
        px = self.plot_width_px()
        prep = tr.prepared()
        for i, curve in enumerate(self.curves):
            x, y = D.view_arrays(tr.t, tr.y[:, i], x0 - w / 4, x1 + w / 4, int(px * 1.5), prep)
            curve.setData(x, y, connect="finite")

    def _after_load(self, start: int, end: int) -> None:
        self._draw_gaps(start, end)
        self._block = True
        self.nav_region.setRegion((start / NS, end / NS))
        self._block = False
        self.sig_range_changed.emit(start, end)
        self.sig_loaded.emit()

    def _request_overview(self, start: int, end: int) -> None:
        if self._overview_busy:
            return
        missing = self.session.missing_overview(self.source, start, end)
        if not missing:
            return
        self._overview_busy = True
        self.sig_message.emit(f"computing overview of {len(missing)} records ...")
        self.runner.start(
            self.session.compute_overview,
            self.source,
            missing,
            on_done=self._overview_done,
            on_failed=self._overview_failed,
            on_progress=self._overview_progress,
        )

    def _overview_progress(self, n: int) -> None:
        """Show the runs computed so far (the view fills in progressively)."""
        tr = self.trace
        if tr is None or tr.kind != "overview" or self.session is None:
            return
        try:
            self.set_trace(
                self.session.read_overview(tr.source, tr.start_ns, tr.end_ns, tr.channels)
            )
        except BshmError as exc:
            self.sig_message.emit(str(exc))
            return
        self.sig_message.emit(f"computing overview ... {n} records done")

    def _overview_done(self, n: int) -> None:
        self._overview_busy = False
        self.sig_message.emit(f"overview ready ({n} records)")
        self.trace = None
        self.reload()

    def _overview_failed(self, msg: str) -> None:
        self._overview_busy = False
        self.sig_message.emit(f"overview failed: {msg}")

    def _draw_gaps(self, start: int, end: int) -> None:
        for plot, item in self._gap_items:
            plot.removeItem(item)
        self._gap_items = []
        try:
            gaps = self.session.gaps(self.source, start, end)
        except (BshmError, KeyError):
            gaps = []
        for g in gaps[:MAX_GAP_ITEMS]:
            for plot in self.plots:
                item = pg.LinearRegionItem(
                    (g.start_ns / NS, g.end_ns / NS), movable=False, brush=GAP_BRUSH
                )
                item.setToolTip(f"gap: {g.reason}")
                plot.addItem(item, ignoreBounds=True)
                self._gap_items.append((plot, item))

    def set_health(self, per_channel: dict) -> None:
        """Colour the axis label of a channel that is not healthy (orange/red)."""
        for p, name in zip(self.plots, self.channels):
            h = per_channel.get(name)
            label = with_unit(name, self.session.channel_meta(self.source, name).unit)
            if h is not None and h.level:
                p.getAxis("left").setLabel(
                    f"{label} {h.text}", color=HEALTH_COLOURS.get(h.level, "#000")
                )
            else:
                p.getAxis("left").setLabel(label)

    # -- crosshair and cursors ----------------------------------------------
    def _on_mouse(self, event) -> None:
        pos = event[0]
        for p in self.plots:
            if p.sceneBoundingRect().contains(pos):
                x = p.vb.mapSceneToView(pos).x()
                # the values are written in each plot (never cut off); the bar gets the time
                self.sig_cursor.emit(f"cursor {iso(x)} UTC")
                for line in self._lines:
                    line.setPos(x)
                self._show_values(x)
                return

    def values_at(self, x: float) -> list[float]:
        """Each plotted channel's stored value nearest to ``x`` (epoch s)."""
        tr = self.trace
        if tr is None or len(tr.t) == 0:
            return []
        return [nearest(tr.t, tr.y[:, k], x) for k in range(len(tr.channels))]

    def _show_values(self, x: float) -> None:
        """Write each channel's value at the crosshair into its own plot."""
        vals = self.values_at(x)
        for k, (p, label) in enumerate(zip(self.plots, self._value_labels)):
            if k >= len(vals):
                label.setText("")
                continue
            unit = pretty(self.session.channel_meta(self.source, self.channels[k]).unit)
            label.setText(f"{self.channels[k]} = {fmt(vals[k])} {unit}")
            (x0, _), (_, y1) = p.viewRange()
            label.setPos(x0, y1)

    def readout(self, x: float) -> str:
        """Time (UTC) and the value of each channel nearest to ``x`` (epoch s)."""
        vals = self.values_at(x)
        if not vals:
            return ""
        parts = [f"{iso(x)} UTC"]
        for name, v in zip(self.trace.channels, vals):
            unit = pretty(self.session.channel_meta(self.source, name).unit)
            parts.append(f"{name}={fmt(v)} {unit}")
        return "  ".join(parts)

    def show_cursors(self, on: bool = True) -> None:
        """Show the two measuring cursors at 1/3 and 2/3 of the view (or hide them)."""
        if self.cursors is None:
            return
        if not on:
            self.cursors.hide()
            return
        if not self.cursor_button.isChecked():
            self.cursor_button.setChecked(True)
            return  # toggled() calls back
        x0, x1 = self.plots[0].viewRange()[0]
        self.cursors.show_at(x0 + (x1 - x0) / 3, x0 + 2 * (x1 - x0) / 3)

    def describe_cursors(self, xa: float, xb: float) -> str:
        """Readout of the cursors: times, Δt, 1/Δt and each channel at A and B."""
        dt = xb - xa
        head = f"A {iso(xa)}  B {iso(xb)} UTC   Δt = {dt:.6g} s"
        if dt:
            head += f"  (1/Δt = {1 / abs(dt):.4g} Hz)"
        va, vb = self.values_at(xa), self.values_at(xb)
        rows = []
        for name, a, b in zip(self.channels, va, vb):
            unit = pretty(self.session.channel_meta(self.source, name).unit)
            d = b - a if np.isfinite(a) and np.isfinite(b) else float("nan")
            rows.append(f"{name}: A {fmt(a)}, B {fmt(b)}, Δ {fmt(d)} {unit}")
        return head + "\n" + "   ".join(rows)

    # -- keyboard-friendly navigation ---------------------------------------
    def zoom(self, factor: float) -> None:
        """Zoom about the centre (factor < 1 zooms in)."""
        a, b = self.view_range_ns()
        c, half = (a + b) // 2, int((b - a) * factor / 2)
        self.set_range(c - half, c + half)

    def pan(self, fraction: float) -> None:
        """Move the view by a fraction of its width."""
        a, b = self.view_range_ns()
        d = int((b - a) * fraction)
        self.set_range(a + d, b + d)

    def show_all(self) -> None:
        """The whole span of the source."""
        if self.session is not None and self.source:
            self.set_range(*self.session.span(self.source))
