"""Trend views from a results file: tracked frequencies with temperature,
frequency against temperature, damage indices with limits, alarms, fatigue.
"""

from __future__ import annotations

import logging
from pathlib import Path

import numpy as np
import pyqtgraph as pg
from bshm.gui.signal_view import pen_for
from pyqtgraph.Qt import QtCore, QtGui, QtWidgets

from bshm.errors import BshmError, StoreError

log = logging.getLogger(__name__)

NS = 1_000_000_000
LEVEL_COLOURS = {0: "#2e7d32", 1: "#f9a825", 2: "#ef6c00", 3: "#c62828"}
LEVEL_NAMES = {0: "normal", 1: "advisory", 2: "warning", 3: "critical"}  # as bshm.alarms


def load_results(path) -> dict:
    """Everything the trend views plot, read once from a results file.

    Returns
    -------
    dict
        ``station``, ``tracks``, ``env`` (names, start_ns, values), ``indices``,
        ``alarms`` (list of dicts), ``fatigue`` (gauge -> dict).

    Raises
    ------
    bshm.errors.StoreError
        Not a readable results file.
    """
    from bshm.store.results import open_results

    try:
        with open_results(path) as r:
            names, start, values = r.environment()
            return {
                "station": r.station,
                "tracks": r.tracks(),
                "indices": r.indices(),
                "env": (list(names), np.asarray(start), np.asarray(values)),
                "alarms": r.alarms(),
                "fatigue": r.fatigue(),
            }
    except (OSError, KeyError) as exc:
        raise StoreError(f"{path}: cannot read as a bshm results file ({exc})") from exc


def temperature_at(env: tuple, times_ns: np.ndarray) -> tuple[str, np.ndarray]:
    """The structural (else first) temperature interpolated at ``times_ns``."""
    names, start, values = env
    if not names or values.size == 0:
        return "", np.full(len(times_ns), np.nan)
    pick = next((i for i, n in enumerate(names) if n.upper() == "T1"), None)
    if pick is None:
        pick = next((i for i, n in enumerate(names) if "t" in n.lower()), 0)
    col = values[:, pick]
    ok = np.isfinite(col)
    if not ok.any():
        return names[pick], np.full(len(times_ns), np.nan)
    t = np.asarray(times_ns, dtype=np.float64)
    return names[pick], np.interp(
        t, start[ok].astype(np.float64), col[ok], left=np.nan, right=np.nan
    )


class TrendsView(QtWidgets.QWidget):
    """Long-term results of a station.

    Signals
    -------
    sig_jump(object)
        An alarm was clicked: its time (int ns).
    sig_message(str)
        Something to tell the user.
    """

    sig_jump = QtCore.Signal(object)
    sig_message = QtCore.Signal(str)

    def __init__(self, parent: QtWidgets.QWidget | None = None) -> None:
        super().__init__(parent)
        self.results: dict | None = None
        self.path: Path | None = None
        self.label = QtWidgets.QLabel(
            "open a results file (<station>_results.h5) or a data folder with results/"
        )
        self.inner = QtWidgets.QTabWidget()
        self.time_plots = pg.GraphicsLayoutWidget()
        self.p_freq = self.time_plots.addPlot(
            row=0, col=0, axisItems={"bottom": pg.DateAxisItem(utcOffset=0)}
        )
        self.p_temp = self.time_plots.addPlot(
            row=1, col=0, axisItems={"bottom": pg.DateAxisItem(utcOffset=0)}
        )
        self.p_index = self.time_plots.addPlot(
            row=2, col=0, axisItems={"bottom": pg.DateAxisItem(utcOffset=0)}
        )
        self.p_freq.setLabel("left", "frequency [Hz]")
        self.p_temp.setLabel("left", "temperature [degC]")
        self.p_index.setLabel("left", "damage index T2")
        for p in (self.p_temp, self.p_index):
            p.setXLink(self.p_freq)
        for p in (self.p_freq, self.p_temp, self.p_index):
            p.showGrid(x=True, y=True, alpha=0.2)
            p.getAxis("left").setWidth(70)
        self.p_freq.addLegend(offset=(-10, 10))
        self.ft_plot = pg.PlotWidget()
        self.ft_plot.setLabel("bottom", "temperature [degC]")
        self.ft_plot.setLabel("left", "frequency [Hz]")
        self.ft_plot.showGrid(x=True, y=True, alpha=0.2)
        self.ft_plot.addLegend(offset=(-10, 10))
        self.fatigue_plot = pg.GraphicsLayoutWidget()
        self.p_miner = self.fatigue_plot.addPlot(row=0, col=0)
        self.p_miner.setLabel("left", "Miner damage (total)")
        self.p_cum = self.fatigue_plot.addPlot(
            row=1, col=0, axisItems={"bottom": pg.DateAxisItem(utcOffset=0)}
        )
        self.p_cum.setLabel("left", "cumulative damage")
        self.p_cum.addLegend(offset=(10, 10))
        self.inner.addTab(self.time_plots, "Over time")
        self.inner.addTab(self.ft_plot, "Frequency vs temperature")
        self.inner.addTab(self.fatigue_plot, "Fatigue")
        self.alarms = QtWidgets.QTableWidget(0, 6)
        self.alarms.setHorizontalHeaderLabels(
            ["time (UTC)", "level", "index", "mode", "value", "message"]
        )
        self.alarms.verticalHeader().hide()
        self.alarms.setSelectionBehavior(QtWidgets.QAbstractItemView.SelectionBehavior.SelectRows)
        self.alarms.setEditTriggers(QtWidgets.QAbstractItemView.EditTrigger.NoEditTriggers)
        self.alarms.cellClicked.connect(self._on_alarm_clicked)
        self.alarms.cellActivated.connect(self._on_alarm_clicked)
        split = QtWidgets.QSplitter(QtCore.Qt.Orientation.Horizontal)
        split.addWidget(self.inner)
        box = QtWidgets.QWidget()
        bl = QtWidgets.QVBoxLayout(box)
        bl.setContentsMargins(0, 0, 0, 0)
        bl.addWidget(QtWidgets.QLabel("Alarms (click to see the signals at that time)"))
        bl.addWidget(self.alarms)
        split.addWidget(box)
        split.setSizes([700, 350])
        lay = QtWidgets.QVBoxLayout(self)
        lay.setContentsMargins(0, 0, 0, 0)
        lay.addWidget(self.label)
        lay.addWidget(split, 1)
        self.freq_curves: list[pg.PlotDataItem] = []
        self.alarm_line = pg.InfiniteLine(angle=90, movable=False, pen=pg.mkPen("#c62828"))

    def export_target(self):
        """The plot exported as PNG for this tab."""
        return self.inner.currentWidget()

    def open(self, path) -> None:
        """Read a results file and draw every view."""
        self.path = Path(path)
        self.results = load_results(self.path)
        tr = self.results["tracks"]
        n_w = len(tr.get("time_ns", []))
        self.label.setText(
            f"{self.results['station']}: {self.path.name}, {n_w} windows tracked, "
            f"{len(self.results['alarms'])} alarms"
        )
        self._draw_time()
        self._draw_ft()
        self._draw_fatigue()
        self._fill_alarms()

    def _draw_time(self) -> None:
        r = self.results
        for p in (self.p_freq, self.p_temp, self.p_index):
            p.clear()
        self.p_freq.legend.clear()
        self.freq_curves = []
        tr = r["tracks"]
        if tr:
            t = np.asarray(tr["time_ns"], dtype=np.float64) / NS
            freq = np.asarray(tr["frequency"], dtype=np.float64)
            for j, mid in enumerate(tr["mode_ids"]):
                c = self.p_freq.plot(
                    t,
                    freq[:, j],
                    pen=pen_for(j),
                    symbol="o",
                    symbolSize=3,
                    symbolPen=None,
                    symbolBrush=pen_for(j).color(),
                    name=str(mid),
                    connect="finite",
                )
                self.freq_curves.append(c)
        names, start, values = r["env"]
        for i, name in enumerate(names):
            self.p_temp.plot(
                np.asarray(start, np.float64) / NS,
                values[:, i],
                pen=pen_for(i + 3),
                name=name,
                connect="finite",
            )
        ind = r["indices"]
        if ind and "t2" in ind:
            t = np.asarray(ind["time_ns"], dtype=np.float64) / NS
            t2 = np.asarray(ind["t2"], dtype=np.float64)
            level = np.asarray(ind.get("level", np.zeros(len(t2))), dtype=int)
            brushes = [pg.mkBrush(LEVEL_COLOURS.get(int(lv), "#000")) for lv in level]
            self.p_index.plot(t, t2, pen=pg.mkPen("#9e9e9e"), connect="finite")
            self.index_scatter = pg.ScatterPlotItem(t, t2, size=5, pen=None, brush=brushes)
            self.p_index.addItem(self.index_scatter)
            limits = np.asarray(ind.get("t2_limits", []), dtype=float)
            self.index_limits = limits
            for k in range(limits.shape[-1] if limits.size else 0):
                pen = pg.mkPen(LEVEL_COLOURS[k + 1], style=QtCore.Qt.PenStyle.DashLine)
                if limits.ndim == 1:  # one limit per level
                    if np.isfinite(limits[k]):
                        self.p_index.addItem(
                            pg.InfiniteLine(
                                limits[k],
                                angle=0,
                                movable=False,
                                pen=pen,
                                label=f"{LEVEL_NAMES[k + 1]}",
                                labelOpts={"position": 0.05},
                            )
                        )
                else:  # limits per window (n_w, 3)
                    self.p_index.plot(
                        t,
                        limits[:, k],
                        pen=pen,
                        connect="finite",
                        name=f"limit {LEVEL_NAMES[k + 1]}",
                    )
        self.p_freq.addItem(self.alarm_line, ignoreBounds=True)
        self.alarm_line.hide()

    def _draw_ft(self) -> None:
        r = self.results
        self.ft_plot.clear()
        self.ft_plot.plotItem.legend.clear()
        tr = r["tracks"]
        if not tr:
            return
        name, temp = temperature_at(r["env"], np.asarray(tr["time_ns"]))
        self.ft_plot.setLabel("bottom", f"temperature {name} [degC]")
        freq = np.asarray(tr["frequency"], dtype=np.float64)
        for j, mid in enumerate(tr["mode_ids"]):
            ok = np.isfinite(temp) & np.isfinite(freq[:, j])
            self.ft_plot.plot(
                temp[ok],
                freq[ok, j],
                pen=None,
                symbol="o",
                symbolSize=4,
                symbolPen=None,
                symbolBrush=pen_for(j).color(),
                name=str(mid),
            )

    def _draw_fatigue(self) -> None:
        fat = self.results["fatigue"]
        self.p_miner.clear()
        self.p_cum.clear()
        self.p_cum.legend.clear()
        gauges = sorted(fat)
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

    def _fill_alarms(self) -> None:
        alarms = self.results["alarms"]
        self.alarms.setRowCount(len(alarms))
        for i, a in enumerate(alarms):
            cells = [
                a["time"][:19].replace("T", " "),
                f"{a['level']} {LEVEL_NAMES.get(a['level'], '')}",
                a["index"],
                a.get("mode") or a.get("channel") or "",
                f"{a['value']:.4g} / {a['threshold']:.4g}",
                a["message"],
            ]
            for j, text in enumerate(cells):
                item = QtWidgets.QTableWidgetItem(text)
                if j == 1:
                    item.setForeground(
                        QtGui.QBrush(QtGui.QColor(LEVEL_COLOURS.get(a["level"], "#000")))
                    )
                self.alarms.setItem(i, j, item)
        self.alarms.resizeColumnsToContents()

    def _on_alarm_clicked(self, row: int, _col: int = 0) -> None:
        if self.results is None or not 0 <= row < len(self.results["alarms"]):
            return
        t_ns = int(self.results["alarms"][row]["time_ns"])
        self.alarm_line.setPos(t_ns / NS)
        self.alarm_line.show()
        self.sig_jump.emit(t_ns)


def safe_open(view: TrendsView, path) -> str | None:
    """Open a results file in a view; the error text or None."""
    try:
        view.open(path)
    except BshmError as exc:
        return str(exc)
    return None
