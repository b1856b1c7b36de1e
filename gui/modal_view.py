"""Modal view: stabilization diagram of a window, picked modes, mode shapes.

The identification (:func:`bshm.analysis.identify`, SSI-COV with automated
picking) runs on a pool thread; the UI stays responsive and shows the
result when the worker reports back.
"""

from __future__ import annotations

import logging
import math

import numpy as np
import pyqtgraph as pg
from pyqtgraph.Qt import QtCore, QtWidgets

from bshm.errors import AnalysisError, BshmError
from bshm.timeutil import to_iso

log = logging.getLogger(__name__)

NS = 1_000_000_000
MAX_WINDOW_S = 1800.0
MODE_COLOURS = ["#c62828", "#1565c0", "#2e7d32", "#6a1b9a", "#ef6c00", "#00838f", "#4e342e"]


def pick_window(
    runs: list[tuple[int, int]], start_ns: int, end_ns: int, max_s: float = MAX_WINDOW_S
) -> tuple[int, int] | None:
    """The longest gap-free stretch of the runs inside a range, at most ``max_s``.

    Falls back to the last run when the range holds no data.
    """
    best = None
    for a, b in runs:
        lo, hi = max(a, start_ns), min(b, end_ns)
        if hi > lo and (best is None or hi - lo > best[1] - best[0]):
            best = (lo, hi)
    if best is None and runs:
        best = runs[-1]
    if best is None:
        return None
    lo, hi = best
    return lo, min(hi, lo + int(max_s * NS))


def identify_window(data: np.ndarray, fs: float, names: list[str], fmax: float, max_order: int):
    """Run :func:`bshm.analysis.identify` (SSI-COV) on one window (pool thread)."""
    from bshm.analysis import identify

    options = {
        "channel_names": names,
        "nan_policy": "repair",
        "freq_max_hz": fmax,
        "max_order": max_order,
        "detrend": "linear",
    }
    if fs > 3.0 * fmax:
        options["decimate_to_hz"] = 2.5 * fmax
    try:
        return identify(np.asarray(data, dtype=np.float64), fs, **options)
    except ValueError as exc:
        raise AnalysisError(f"modal analysis of this window is not possible: {exc}") from exc


class ModalView(QtWidgets.QWidget):
    """Stabilization diagram, table of modes (f, damping, MPC) and mode shapes.

    Signals
    -------
    sig_result(object)
        A ``ModalResult`` arrived from the worker (also the test hook).
    sig_message(str)
        Progress and errors.
    """

    sig_result = QtCore.Signal(object)
    sig_message = QtCore.Signal(str)

    def __init__(self, runner, parent: QtWidgets.QWidget | None = None) -> None:
        super().__init__(parent)
        self.runner = runner
        self.session = None
        self.source: str | None = None
        self.window: tuple[int, int] | None = None
        self.result = None
        self.channel_x: np.ndarray = np.empty(0)
        self.busy = False
        self.label = QtWidgets.QLabel("open raw data with accelerations")
        self.fmax = QtWidgets.QDoubleSpinBox(minimum=1.0, maximum=500.0, value=20.0, suffix=" Hz")
        self.fmax.setToolTip("highest frequency of interest (data are decimated to 2.5x this)")
        self.order = QtWidgets.QSpinBox(minimum=10, maximum=200, value=60, singleStep=10)
        self.order.setToolTip("highest model order of the stabilization diagram")
        self.button = QtWidgets.QPushButton("Identify (Ctrl+M)")
        self.button.clicked.connect(self.run)
        top = QtWidgets.QHBoxLayout()
        top.addWidget(self.label, 1)
        top.addWidget(QtWidgets.QLabel("f max"))
        top.addWidget(self.fmax)
        top.addWidget(QtWidgets.QLabel("order max"))
        top.addWidget(self.order)
        top.addWidget(self.button)
        self.stab = pg.PlotWidget()
        self.stab.setLabel("bottom", "frequency", units="Hz")
        self.stab.setLabel("left", "model order")
        self.stab.addLegend(offset=(-10, 10))
        self.table = QtWidgets.QTableWidget(0, 5)
        self.table.setHorizontalHeaderLabels(["mode", "f [Hz]", "damping [%]", "MPC", "poles"])
        self.table.verticalHeader().hide()
        self.table.setSelectionBehavior(QtWidgets.QAbstractItemView.SelectionBehavior.SelectRows)
        self.table.setEditTriggers(QtWidgets.QAbstractItemView.EditTrigger.NoEditTriggers)
        self.table.itemSelectionChanged.connect(self._draw_shape)
        self.shape = pg.PlotWidget()
        self.shape.setLabel("bottom", "position along the bridge x", units="m")
        self.shape.setLabel("left", "mode shape (real part)")
        self.shape.showGrid(x=True, y=True, alpha=0.2)
        right = QtWidgets.QSplitter(QtCore.Qt.Orientation.Vertical)
        right.addWidget(self.table)
        right.addWidget(self.shape)
        split = QtWidgets.QSplitter(QtCore.Qt.Orientation.Horizontal)
        split.addWidget(self.stab)
        split.addWidget(right)
        split.setSizes([600, 400])
        lay = QtWidgets.QVBoxLayout(self)
        lay.setContentsMargins(0, 0, 0, 0)
        lay.addLayout(top)
        lay.addWidget(split, 1)

    def export_target(self):
        """The plot exported as PNG for this tab."""
        return self.stab

    # -- inputs ------------------------------------------------------------
    def set_session(self, session) -> None:
        """Use a raw session; picks the first source with accelerations."""
        self.session = session
        self.source = None
        for name, info in session.sources.items():
            if any(c.quantity == "acceleration" for c in info.channels):
                self.source = name
                break
        if self.source is None:
            self.label.setText("no acceleration channels in this data")

    def acc_channels(self) -> list:
        """ChannelMeta of the acceleration channels of the chosen source."""
        info = self.session.sources[self.source]
        return [c for c in info.channels if c.quantity == "acceleration"]

    def set_window(self, start_ns: int, end_ns: int) -> None:
        """Choose the analysis window from a visible range (clipped to data)."""
        if self.session is None or self.source is None:
            return
        self.window = pick_window(self.session.runs(self.source), start_ns, end_ns)
        if self.window is not None:
            a, b = self.window
            self.label.setText(
                f"{self.source}: {to_iso(a, digits=0)} + {(b - a) / NS:.0f} s "
                f"({len(self.acc_channels())} channels)"
            )

    # -- work ----------------------------------------------------------------
    def run(self) -> bool:
        """Start the identification in the background; False if it cannot start."""
        if self.busy:
            self.sig_message.emit("modal analysis already running")
            return False
        if self.session is None or self.source is None or self.window is None:
            self.sig_message.emit("no window with accelerations to analyse")
            return False
        metas = self.acc_channels()
        names = [c.name for c in metas]
        try:
            rec = self.session.read_record(self.source, *self.window, names)
        except BshmError as exc:
            self.sig_message.emit(str(exc))
            return False
        self.channel_x = np.array(
            [
                c.location[0] if c.location and math.isfinite(c.location[0]) else float(i)
                for i, c in enumerate(metas)
            ]
        )
        self.busy = True
        self.button.setEnabled(False)
        self.sig_message.emit(
            f"identifying modes of {len(rec.times_ns)} samples x {len(names)} ch ..."
        )
        self.runner.start(
            identify_window,
            rec.data,
            rec.fs,
            names,
            self.fmax.value(),
            self.order.value(),
            on_done=self._done,
            on_failed=self._failed,
        )
        return True

    def _failed(self, msg: str) -> None:
        self.busy = False
        self.button.setEnabled(True)
        self.sig_message.emit(msg)

    def _done(self, result) -> None:
        self.busy = False
        self.button.setEnabled(True)
        self.result = result
        self._draw_diagram(result)
        self._fill_table(result)
        self.sig_message.emit(f"{len(result.frequencies)} modes identified")
        self.sig_result.emit(result)

    # -- drawing -------------------------------------------------------------
    def _draw_diagram(self, result) -> None:
        self.stab.clear()
        self.stab.plotItem.legend.clear()
        sd = result.stabilization
        if sd is None:
            return
        f, o = np.asarray(sd.frequencies), np.asarray(sd.orders)
        groups = [
            ("new pole", ~np.asarray(sd.stable_frequency), "#bdbdbd", "o", 4),
            (
                "stable frequency",
                np.asarray(sd.stable_frequency) & ~np.asarray(sd.stable),
                "#90caf9",
                "o",
                5,
            ),
            ("stable", np.asarray(sd.stable) & (np.asarray(sd.mode) < 0), "#1565c0", "+", 7),
            ("picked mode", np.asarray(sd.mode) >= 0, "#c62828", "x", 8),
        ]
        for name, mask, colour, symbol, size in groups:
            if mask.any():
                self.stab.plot(
                    f[mask],
                    o[mask],
                    pen=None,
                    symbol=symbol,
                    symbolSize=size,
                    symbolPen=colour,
                    symbolBrush=colour,
                    name=name,
                )
        for k, fk in enumerate(result.frequencies):
            line = pg.InfiniteLine(
                fk,
                angle=90,
                movable=False,
                pen=pg.mkPen(MODE_COLOURS[k % len(MODE_COLOURS)], width=1),
            )
            self.stab.addItem(line)
        self.stab.setXRange(0, self.fmax.value(), padding=0.02)

    def _fill_table(self, result) -> None:
        n = len(result.frequencies)
        self.table.setRowCount(n)
        poles = getattr(result, "n_poles", np.zeros(n, int))
        for k in range(n):
            cells = [
                str(k + 1),
                f"{result.frequencies[k]:.4f}",
                f"{100 * result.damping[k]:.2f}",
                f"{result.mpc[k]:.3f}",
                str(int(poles[k])),
            ]
            for j, text in enumerate(cells):
                item = QtWidgets.QTableWidgetItem(text)
                item.setTextAlignment(
                    QtCore.Qt.AlignmentFlag.AlignRight | QtCore.Qt.AlignmentFlag.AlignVCenter
                )
                self.table.setItem(k, j, item)
        self.table.resizeColumnsToContents()
        if n:
            self.table.selectRow(0)
        else:
            self.shape.clear()

    def shape_curve(self, k: int) -> tuple[np.ndarray, np.ndarray]:
        """Real, normalised shape of mode ``k`` along the sensor positions."""
        phi = np.asarray(self.result.shapes)[:, k]
        ref = phi[np.argmax(np.abs(phi))]
        real = np.real(phi * np.exp(-1j * np.angle(ref)))
        real = real / np.max(np.abs(real))
        order = np.argsort(self.channel_x, kind="stable")
        return self.channel_x[order], real[order]

    def _draw_shape(self) -> None:
        rows = {i.row() for i in self.table.selectedItems()}
        self.shape.clear()
        if self.result is None or not rows:
            return
        self.shape.addItem(pg.InfiniteLine(0, angle=0, pen=pg.mkPen("#888")))
        for k in sorted(rows):
            x, y = self.shape_curve(k)
            colour = MODE_COLOURS[k % len(MODE_COLOURS)]
            self.shape.plot(
                x,
                y,
                pen=pg.mkPen(colour, width=1),
                symbol="o",
                symbolSize=7,
                symbolBrush=colour,
                symbolPen=colour,
            )
        self.shape.setTitle(f"mode {min(rows) + 1}: {self.result.frequencies[min(rows)]:.3f} Hz")
