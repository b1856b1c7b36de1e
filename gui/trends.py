"""Trend views from a results file.

* **Change (%)** (shown first): each mode's temperature-compensated
  frequency change against the alarm limits, and the novelty index T²
  against its limits: a 2 % drop stands out here, while on a shared
  2-15 Hz frequency axis it is invisible.
* **Frequencies**: one panel per mode (each with its own scale) and the
  temperatures.
* **Frequency vs temperature**: one panel per mode, points coloured by date
  (dark = early, yellow = late), so a shift at the same temperature shows
  as a separate cloud.
* **Fatigue**: Miner damage per gauge and its accumulation.

On every time plot the windows judged **outside the trained conditions**
(the job's ``inside`` flag) are shaded orange and the **training periods**
of the model versions green (legend entries on the change plot), the same
spans as the report's charts (:mod:`bshm.analysis.report_state`).

Mode colours come from :mod:`bshm.palette`, as in the report.
"""

from __future__ import annotations

import logging
from pathlib import Path

import numpy as np
import pyqtgraph as pg
from bshm.analysis.report_state import (
    OUTSIDE_COLOUR,
    OUTSIDE_LABEL,
    TRAINING_COLOUR,
    outside_spans,
    training_periods,
)
from bshm.gui import results as R
from bshm.gui.plotting import UtcAxis, fmt, iso, mode_pen, nearest
from bshm.gui.signal_view import pen_for
from pyqtgraph.Qt import QtCore, QtGui, QtWidgets

from bshm.errors import BshmError
from bshm.palette import LEVEL_COLOURS, LEVEL_NAMES, date_colour, mode_colour
from bshm.units import pretty

log = logging.getLogger(__name__)

NS = 1_000_000_000
temperature_at = R.temperature_at  # kept importable from here


def load_results(path) -> dict:
    """:func:`bshm.gui.results.load_results` (kept for callers of the old name)."""
    return R.load_results(path)


class TrendsView(QtWidgets.QWidget):
    """Long-term results of a station.

    Signals
    -------
    sig_jump(object)
        Show the signals of the analysis window starting at this time (int ns).
    sig_cursor(str)
        Crosshair readout: date and each mode's value there.
    sig_message(str)
        Something to tell the user.
    """

    sig_jump = QtCore.Signal(object)
    sig_cursor = QtCore.Signal(str)
    sig_message = QtCore.Signal(str)

    def __init__(self, parent: QtWidgets.QWidget | None = None) -> None:
        super().__init__(parent)
        self.results: dict | None = None
        self.path: Path | None = None
        self.label = QtWidgets.QLabel(
            "open a results file (<station>_results.h5) or a data folder with results/"
        )
        self.label.setWordWrap(True)
        self.inner = QtWidgets.QTabWidget()
        # change (%) and T2
        self.change_plots = pg.GraphicsLayoutWidget()
        self.p_change = self.change_plots.addPlot(
            row=0, col=0, axisItems={"bottom": UtcAxis(show_label=False)}
        )
        self.p_index = self.change_plots.addPlot(row=1, col=0, axisItems={"bottom": UtcAxis()})
        self.p_change.setLabel("left", "frequency change [%]")
        self.p_change.setTitle("temperature-compensated frequency change per mode")
        self.p_index.setLabel("left", "novelty index T²")
        self.p_index.setLogMode(y=True)
        self.p_index.getAxis("left").enableAutoSIPrefix(False)
        self.p_change.getAxis("left").enableAutoSIPrefix(False)
        self.p_index.setXLink(self.p_change)
        for p in (self.p_change, self.p_index):
            p.showGrid(x=True, y=True, alpha=0.2)
            p.getAxis("left").setWidth(70)
        self.p_change.addLegend(offset=(-10, 10), colCount=5)
        # frequencies, one panel per mode, and temperatures
        self.freq_plots = pg.GraphicsLayoutWidget()
        self.mode_panels: list[pg.PlotItem] = []
        self.p_temp: pg.PlotItem | None = None
        # frequency vs temperature
        self.ft_plots = pg.GraphicsLayoutWidget()
        self.ft_panels: list[pg.PlotItem] = []
        # fatigue
        self.fatigue_plot = pg.GraphicsLayoutWidget()
        self.p_miner = self.fatigue_plot.addPlot(row=0, col=0)
        self.p_miner.setLabel("left", "Miner damage (total)")
        self.p_cum = self.fatigue_plot.addPlot(row=1, col=0, axisItems={"bottom": UtcAxis()})
        self.p_cum.setLabel("left", "cumulative damage")
        self.p_cum.addLegend(offset=(10, 10))
        self.inner.addTab(self.change_plots, "Change (%)")
        self.inner.addTab(self.freq_plots, "Frequencies")
        self.inner.addTab(self.ft_plots, "Frequency vs temperature")
        self.inner.addTab(self.fatigue_plot, "Fatigue")
        lay = QtWidgets.QVBoxLayout(self)
        lay.setContentsMargins(0, 0, 0, 0)
        lay.addWidget(self.label)
        lay.addWidget(self.inner, 1)
        self.change_curves: list[pg.PlotDataItem] = []
        self.freq_curves: list[pg.PlotDataItem] = []
        self.ft_scatters: list[pg.ScatterPlotItem] = []
        self.index_scatter: pg.ScatterPlotItem | None = None
        self.miner_totals: dict[str, float] = {}
        self._alarm_lines: list[tuple[pg.PlotItem, pg.InfiniteLine]] = []
        self._cross: list[tuple[pg.PlotItem, pg.InfiniteLine]] = []
        #: (plot, region, "outside" or "training") of every shaded span drawn
        self.shaded: list[tuple[pg.PlotItem, pg.LinearRegionItem, str]] = []
        self._proxies = [
            pg.SignalProxy(w.scene().sigMouseMoved, rateLimit=30, slot=self._on_mouse)
            for w in (self.change_plots, self.freq_plots)
        ]

    def export_target(self):
        """The plot exported as PNG for this tab."""
        return self.inner.currentWidget()

    # -- data --------------------------------------------------------------------
    def open(self, path) -> None:
        """Read a results file and draw every view."""
        self.set_results(R.load_results(path))

    def set_results(self, results: dict | None) -> None:
        """Draw :func:`bshm.gui.results.load_results` output (None clears)."""
        self.results = results
        self._alarm_lines = []
        self._cross = []
        self.shaded = []
        if results is None:
            self.path = None
            self.label.setText(
                "open a results file (<station>_results.h5) or a data folder with results/"
            )
            for p in (self.p_change, self.p_index, self.p_miner, self.p_cum):
                p.clear()
            self.freq_plots.clear()
            self.ft_plots.clear()
            return
        self.path = Path(results["path"])
        tr = results["tracks"]
        n_w = len(tr.get("time_ns", []))
        self.label.setText(
            f"{results['station']}: {self.path.name}, {n_w} windows tracked, "
            f"{len(results['alarms'])} alarms. Mode colours are the same as in the report."
        )
        outside, train = self.spans()
        if outside or train:
            self.label.setText(
                self.label.text()
                + f" Shaded: green = training period of the models, orange = {len(outside)} "
                "stretch(es) of windows outside the trained conditions."
            )
        self._draw_change()
        self._draw_frequencies()
        self._draw_ft()
        self._draw_fatigue()
        self.inner.setCurrentIndex(0)

    def mode_ids(self) -> list[str]:
        """Tracked mode ids, in the results' order (mode j has colour j)."""
        tr = self.results["tracks"] if self.results else {}
        return [str(m) for m in tr.get("mode_ids", [])]

    def spans(self) -> tuple[list[tuple[int, int]], list[tuple[int, int]]]:
        """(outside-trained-conditions spans, training periods) as (start_ns, end_ns)."""
        r = self.results or {}
        out = outside_spans(r.get("indices"), r.get("windows"))
        train = [(p["start_ns"], p["end_ns"]) for p in training_periods(r.get("model_versions"))]
        return out, train

    def _shade(self, p: pg.PlotItem, legend=None) -> None:
        """Shade the training periods and the windows outside the trained conditions."""
        outside, train = self.spans()
        for kind, spans, colour in (
            ("training", train, TRAINING_COLOUR),
            ("outside", outside, OUTSIDE_COLOUR),
        ):
            c = QtGui.QColor(colour)
            c.setAlpha(60)
            for a, b in spans:
                reg = pg.LinearRegionItem(
                    (a / NS, b / NS), movable=False, brush=pg.mkBrush(c), pen=pg.mkPen(None)
                )
                reg.setZValue(-20)
                reg.setToolTip(
                    OUTSIDE_LABEL if kind == "outside" else "training period of the models"
                )
                p.addItem(reg, ignoreBounds=True)
                self.shaded.append((p, reg, kind))
            if legend is not None and spans:
                sample = pg.BarGraphItem(x=[0], height=[0], width=0, brush=pg.mkBrush(c))
                legend.addItem(sample, OUTSIDE_LABEL if kind == "outside" else "training period")

    def _crosshair(self, p: pg.PlotItem) -> None:
        line = pg.InfiniteLine(angle=90, movable=False, pen=pg.mkPen("#888", width=1))
        p.addItem(line, ignoreBounds=True)
        self._cross.append((p, line))

    def _alarm_line(self, p: pg.PlotItem) -> None:
        line = pg.InfiniteLine(angle=90, movable=False, pen=pg.mkPen("#c62828", width=2))
        line.hide()
        p.addItem(line, ignoreBounds=True)
        self._alarm_lines.append((p, line))

    # -- change (%) and T2 ------------------------------------------------------
    def _draw_change(self) -> None:
        r = self.results
        for p in (self.p_change, self.p_index):
            p.clear()
        self.p_change.legend.clear()
        self.change_curves = []
        self.index_scatter = None
        ind = r["indices"]
        ids = self.mode_ids()
        if not ind or "time_ns" not in ind:
            self.p_change.setTitle("no damage indices yet (the baseline period is not complete)")
            return
        self.p_change.setTitle("temperature-compensated frequency change per mode")
        t = np.asarray(ind["time_ns"], dtype=np.float64) / NS
        shift = ind.get("shift_avg_pct", ind.get("freq_shift_pct"))
        raw = ind.get("freq_shift_pct")
        if shift is not None:
            shift = np.asarray(shift, np.float64)
            for j in range(shift.shape[1]):
                name = ids[j] if j < len(ids) else f"mode {j + 1}"
                if raw is not None and "shift_avg_pct" in ind:
                    self.p_change.plot(
                        t,
                        np.asarray(raw, np.float64)[:, j],
                        pen=None,
                        symbol="o",
                        symbolSize=3,
                        symbolPen=None,
                        symbolBrush=pg.mkBrush(QtGui.QColor(mode_colour(j)).lighter(150)),
                    )
                self.change_curves.append(
                    self.p_change.plot(
                        t, shift[:, j], pen=mode_pen(j, 2), name=name, connect="finite"
                    )
                )
        limits = list((r.get("limits") or {}).get("frequency_shift_pct") or [])
        for k, v in enumerate(limits[:3]):
            pen = pg.mkPen(LEVEL_COLOURS[k + 1], style=QtCore.Qt.PenStyle.DashLine)
            for sign in (-1, 1):
                self.p_change.addItem(
                    pg.InfiniteLine(
                        sign * float(v),
                        angle=0,
                        movable=False,
                        pen=pen,
                        label=f"{sign * float(v):+g} % {LEVEL_NAMES[k + 1]}" if sign < 0 else None,
                        labelOpts={"position": 0.08, "color": LEVEL_COLOURS[k + 1]},
                    )
                )
        self.p_change.addItem(pg.InfiniteLine(0, angle=0, pen=pg.mkPen("#9e9e9e")))
        if "t2" in ind:
            t2 = np.asarray(ind["t2"], dtype=np.float64)
            level = np.asarray(ind.get("level", np.zeros(len(t2))), dtype=int)
            brushes = [pg.mkBrush(LEVEL_COLOURS.get(int(lv), "#000")) for lv in level]
            self.p_index.plot(t, t2, pen=pg.mkPen("#bdbdbd"), connect="finite")
            # a PlotDataItem (not a bare ScatterPlotItem): it follows the log y axis
            self.index_scatter = self.p_index.plot(
                t, t2, pen=None, symbol="o", symbolSize=5, symbolPen=None, symbolBrush=brushes
            )
            limits_t2 = np.asarray(ind.get("t2_limits", []), dtype=float)
            self.index_limits = limits_t2
            lim = limits_t2[-1] if limits_t2.ndim == 2 and limits_t2.size else limits_t2
            for k, v in enumerate(np.ravel(lim)[:3]):
                if np.isfinite(v) and v > 0:
                    self.p_index.addItem(
                        pg.InfiniteLine(
                            np.log10(v),
                            angle=0,
                            movable=False,
                            pen=pg.mkPen(LEVEL_COLOURS[k + 1], style=QtCore.Qt.PenStyle.DashLine),
                            label=f"{LEVEL_NAMES[k + 1]} limit",
                            labelOpts={"position": 0.06 + 0.14 * k},
                        )
                    )
        self._shade(self.p_change, self.p_change.legend)
        self._shade(self.p_index)
        for p in (self.p_change, self.p_index):
            self._crosshair(p)
            self._alarm_line(p)

    # -- frequencies per mode ------------------------------------------------------
    def _draw_frequencies(self) -> None:
        r = self.results
        self.freq_plots.clear()
        self.mode_panels, self.freq_curves = [], []
        tr = r["tracks"]
        ids = self.mode_ids()
        first = None
        row = 0
        if tr and "frequency" in tr:
            t = np.asarray(tr["time_ns"], dtype=np.float64) / NS
            freq = np.asarray(tr["frequency"], dtype=np.float64)
            for j in range(freq.shape[1]):
                p = self.freq_plots.addPlot(
                    row=row, col=0, axisItems={"bottom": UtcAxis(show_label=False)}
                )
                row += 1
                p.getAxis("bottom").setStyle(showValues=False)
                p.getAxis("left").setWidth(70)
                p.showGrid(x=True, y=True, alpha=0.2)
                name = ids[j] if j < len(ids) else f"mode {j + 1}"
                mean = np.nanmean(freq[:, j]) if np.isfinite(freq[:, j]).any() else float("nan")
                p.setLabel("left", f"{name} [Hz]", color=mode_colour(j))
                p.setTitle(f"{name}: {fmt(mean)} Hz on average", color=mode_colour(j), size="9pt")
                c = p.plot(
                    t,
                    freq[:, j],
                    pen=mode_pen(j, 1),
                    symbol="o",
                    symbolSize=3,
                    symbolPen=None,
                    symbolBrush=mode_colour(j),
                    connect="finite",
                )
                self.freq_curves.append(c)
                self.mode_panels.append(p)
                if first is None:
                    first = p
                else:
                    p.setXLink(first)
        self.p_temp = self.freq_plots.addPlot(row=row, col=0, axisItems={"bottom": UtcAxis()})
        self.p_temp.getAxis("left").setWidth(70)
        self.p_temp.showGrid(x=True, y=True, alpha=0.2)
        self.p_temp.setLabel("left", f"temperature [{pretty('degC')}]")
        self.p_temp.addLegend(offset=(-10, 10))
        if first is not None:
            self.p_temp.setXLink(first)
        names, start, values = r["env"]
        for i, name in enumerate(names):
            self.p_temp.plot(
                np.asarray(start, np.float64) / NS,
                values[:, i],
                pen=pen_for(i + 3),
                name=name,
                connect="finite",
            )
        for p in [*self.mode_panels, self.p_temp]:
            self._shade(p)  # the legend entries are on Change (%); the header says it
            self._crosshair(p)
            self._alarm_line(p)
        # give the mode panels room, the temperature a bit less
        for k in range(row):
            self.freq_plots.ci.layout.setRowStretchFactor(k, 2)
        self.freq_plots.ci.layout.setRowStretchFactor(row, 2)

    # -- frequency against temperature, coloured by date ------------------------------
    def _draw_ft(self) -> None:
        r = self.results
        self.ft_plots.clear()
        self.ft_panels, self.ft_scatters = [], []
        tr = r["tracks"]
        if not tr or "frequency" not in tr:
            return
        t_ns = np.asarray(tr["time_ns"])
        name, temp = R.temperature_at(r["env"], t_ns)
        freq = np.asarray(tr["frequency"], dtype=np.float64)
        ids = self.mode_ids()
        t0, t1 = (float(t_ns.min()), float(t_ns.max())) if t_ns.size else (0.0, 1.0)
        frac = (t_ns.astype(np.float64) - t0) / ((t1 - t0) or 1.0)
        n = freq.shape[1]
        cols = 3 if n > 4 else 2 if n > 1 else 1
        for j in range(n):
            p = self.ft_plots.addPlot(row=j // cols, col=j % cols)
            p.showGrid(x=True, y=True, alpha=0.2)
            mid = ids[j] if j < len(ids) else f"mode {j + 1}"
            p.setTitle(mid, color=mode_colour(j), size="10pt")
            p.setLabel("left", "frequency [Hz]")
            p.setLabel("bottom", f"temperature {name} [{pretty('degC')}]")
            ok = np.isfinite(temp) & np.isfinite(freq[:, j])
            brushes = [pg.mkBrush(*date_colour(f), 200) for f in frac[ok]]
            sc = pg.ScatterPlotItem(
                temp[ok], freq[ok, j], size=5, pen=None, brush=brushes, data=t_ns[ok]
            )
            p.addItem(sc)
            self.ft_panels.append(p)
            self.ft_scatters.append(sc)
        # the date scale: what the colours mean
        bar = self.ft_plots.addPlot(
            row=(n - 1) // cols + 1,
            col=0,
            colspan=cols,
            axisItems={"bottom": UtcAxis(show_label=False)},
        )
        bar.setMaximumHeight(70)
        bar.hideAxis("left")
        bar.setMouseEnabled(x=False, y=False)
        bar.setMenuEnabled(False)
        bar.hideButtons()
        k = np.linspace(0, 1, 64)
        img = np.array([[date_colour(f) for f in k]], dtype=np.uint8)  # (1, 64, 3)
        item = pg.ImageItem(np.transpose(img, (1, 0, 2)))
        item.setRect(QtCore.QRectF(t0 / NS, 0, (t1 - t0) / NS or 1.0, 1))
        bar.addItem(item)
        bar.setXRange(t0 / NS, t1 / NS, padding=0)
        bar.setTitle("colour = date of the window (UTC)", size="9pt")
        self.date_bar = bar

    # -- fatigue --------------------------------------------------------------------
    def _draw_fatigue(self) -> None:
        fat = self.results["fatigue"]
        self.p_miner.clear()
        self.p_cum.clear()
        self.p_cum.legend.clear()
        gauges = sorted(fat)
        self.miner_totals = {}
        if not gauges:
            self.p_miner.setTitle("no fatigue results in this file")
            return
        totals = [float(np.nansum(fat[g]["miner_damage"])) for g in gauges]
        self.miner_totals = dict(zip(gauges, totals))
        self.p_miner.addItem(
            pg.BarGraphItem(x=np.arange(len(gauges)), height=totals, width=0.6, brush="#1565c0")
        )
        self.p_miner.getAxis("bottom").setTicks([list(enumerate(gauges))])
        self.p_miner.setTitle("Palmgren-Miner damage per gauge (1 = design life used up)")
        for k, g in enumerate(gauges):
            order = np.argsort(fat[g]["window_start_ns"])
            t = np.asarray(fat[g]["window_end_ns"], dtype=np.float64)[order] / NS
            self.p_cum.plot(
                t, np.cumsum(np.asarray(fat[g]["miner_damage"])[order]), pen=pen_for(k), name=g
            )

    # -- readouts and alarms ----------------------------------------------------------
    def readout(self, x: float) -> str:
        """Date (UTC) and each mode's change and frequency nearest to ``x`` (epoch s)."""
        r = self.results
        if r is None:
            return ""
        parts = [f"{iso(x, 0)} UTC"]
        ids = self.mode_ids()
        ind = r["indices"]
        if ind and "time_ns" in ind:
            t = np.asarray(ind["time_ns"], np.float64) / NS
            shift = ind.get("shift_avg_pct", ind.get("freq_shift_pct"))
            if shift is not None:
                sh = np.asarray(shift, np.float64)
                for j in range(sh.shape[1]):
                    parts.append(
                        f"{ids[j] if j < len(ids) else j} {fmt(nearest(t, sh[:, j], x))} %"
                    )
            if "t2" in ind:
                parts.append(f"T² {fmt(nearest(t, np.asarray(ind['t2'], float), x))}")
        tr = r["tracks"]
        if tr and "frequency" in tr and self.inner.currentIndex() == 1:
            t = np.asarray(tr["time_ns"], np.float64) / NS
            f = np.asarray(tr["frequency"], np.float64)
            parts = parts[:1] + [
                f"{ids[j] if j < len(ids) else j} {fmt(nearest(t, f[:, j], x))} Hz"
                for j in range(f.shape[1])
            ]
        return "  ".join(parts)

    def _on_mouse(self, event) -> None:
        pos = event[0]
        for p, _ in self._cross:
            if p.scene() is not None and p.sceneBoundingRect().contains(pos):
                x = p.vb.mapSceneToView(pos).x()
                for q, line in self._cross:
                    if q.scene() is p.scene():
                        line.setPos(x)
                self.sig_cursor.emit(self.readout(x))
                return

    def mark_alarm(self, alarm: dict | None) -> None:
        """Mark an alarm's time on every time plot (None hides the marks)."""
        for _, line in self._alarm_lines:
            if alarm is None:
                line.hide()
            else:
                line.setPos(int(alarm["time_ns"]) / NS)
                line.show()


def safe_open(view: TrendsView, path) -> str | None:
    """Open a results file in a view; the error text or None."""
    try:
        view.open(path)
    except BshmError as exc:
        return str(exc)
    return None
