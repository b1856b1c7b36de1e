"""Mode shapes on a sketch of the bridge: deck, supports, sensors, animated.

The deck is drawn from the station's ``[bridge] spans`` (supports at 0 and
at the end of every span) and the sensors at their ``location`` x with
their ``direction``. Each mode's shape is drawn through the sensors (and
through zero at the supports, for vertical modes), animated as
``Re(phi * exp(i w t))`` with play/pause and an amplitude slider; several
modes at once, with a legend in the mode colours the report uses.
"""

from __future__ import annotations

import math

import numpy as np
import pyqtgraph as pg
from pyqtgraph.Qt import QtCore, QtWidgets

from bshm.palette import mode_colour


def normalised_shape(phi: np.ndarray) -> np.ndarray:
    """A complex shape rotated so its largest entry is real positive, max |.| = 1."""
    phi = np.asarray(phi, np.complex128)
    ok = np.isfinite(phi)
    if not ok.any():
        return np.full(phi.shape, np.nan + 0j)
    k = int(np.argmax(np.where(ok, np.abs(phi), -1)))
    ref = phi[k]
    if abs(ref) == 0:
        return np.zeros_like(phi)
    return phi * np.exp(-1j * np.angle(ref)) / abs(ref)


def deck_line(
    x_sensors: np.ndarray, values: np.ndarray, supports: np.ndarray, pin: bool = True
) -> tuple[np.ndarray, np.ndarray]:
    """Points of a shape along the deck: the sensors, plus zero at the supports
    when ``pin`` (vertical modes: the deck does not move over a support)."""
    x = np.asarray(x_sensors, np.float64)
    v = np.asarray(values, np.float64)
    ok = np.isfinite(x) & np.isfinite(v)
    x, v = x[ok], v[ok]
    if pin and supports.size:
        keep = ~np.isin(np.round(supports, 6), np.round(x, 6))
        x = np.concatenate([x, supports[keep]])
        v = np.concatenate([v, np.zeros(int(keep.sum()))])
    order = np.argsort(x, kind="stable")
    return x[order], v[order]


class BridgeView(QtWidgets.QWidget):
    """The deck sketch with animated mode shapes.

    Call :meth:`set_geometry` with the spans and the sensors, then
    :meth:`set_modes` with shapes (n_channels x n_modes) and frequencies.
    """

    def __init__(self, parent: QtWidgets.QWidget | None = None) -> None:
        super().__init__(parent)
        self.plot = pg.PlotWidget()
        self.plot.setLabel("bottom", "position along the bridge [m]")
        self.plot.setLabel("left", "mode shape (scaled)")
        self.plot.showGrid(x=True, y=False, alpha=0.15)
        self.plot.setMouseEnabled(y=False)
        self.legend = self.plot.addLegend(offset=(10, 10))
        self.play = QtWidgets.QPushButton("Pause")
        self.play.setCheckable(True)
        self.play.setToolTip("animate the mode shapes (play / pause)")
        self.play.toggled.connect(self._on_play)
        self.amp = QtWidgets.QSlider(QtCore.Qt.Orientation.Horizontal)
        self.amp.setRange(5, 100)
        self.amp.setValue(80)
        self.amp.setToolTip("amplitude of the drawn shapes (a drawing scale, not a measurement)")
        self.amp.valueChanged.connect(lambda _v: self.draw_frame())
        self.note = QtWidgets.QLabel("")
        self.note.setWordWrap(True)
        bar = QtWidgets.QHBoxLayout()
        bar.addWidget(self.play)
        bar.addWidget(QtWidgets.QLabel("amplitude"))
        bar.addWidget(self.amp)
        bar.addWidget(self.note, 1)
        lay = QtWidgets.QVBoxLayout(self)
        lay.setContentsMargins(0, 0, 0, 0)
        lay.addLayout(bar)
        lay.addWidget(self.plot, 1)
        self.spans: tuple[float, ...] = ()
        self.supports = np.empty(0)
        self.names: list[str] = []
        self.x = np.empty(0)
        self.directions: list[str] = []
        self.shapes = np.empty((0, 0), np.complex128)
        self.freqs = np.empty(0)
        self.labels: list[str] = []
        self.selected: list[int] = []
        self.colour_index: list[int] = []
        self.curves: list[pg.PlotDataItem] = []
        self.phase = 0.0
        self.timer = QtCore.QTimer(self, interval=40)
        self.timer.timeout.connect(self._step)
        self._static: list = []

    # -- inputs -----------------------------------------------------------------
    def set_geometry(
        self, spans: tuple[float, ...], names: list[str], x: np.ndarray, directions: list[str]
    ) -> None:
        """Deck from the spans (m), sensors ``names`` at ``x`` (m) with ``directions``."""
        self.spans = tuple(float(s) for s in spans)
        self.supports = (
            np.concatenate(([0.0], np.cumsum(self.spans))) if self.spans else np.empty(0)
        )
        self.names, self.x = list(names), np.asarray(x, np.float64)
        self.directions = list(directions) + [""] * (len(names) - len(directions))
        self._draw_static()
        self.draw_frame()

    def set_modes(
        self,
        shapes: np.ndarray,
        freqs: np.ndarray,
        labels: list[str] | None = None,
        colour_index: list[int] | None = None,
    ) -> None:
        """Shapes (n_channels x n_modes, complex, rows as the sensors) and frequencies (Hz)."""
        self.shapes = np.asarray(shapes, np.complex128)
        self.freqs = np.asarray(freqs, np.float64)
        n = self.shapes.shape[1] if self.shapes.ndim == 2 else 0
        self.labels = labels or [f"mode {k + 1}" for k in range(n)]
        self.colour_index = colour_index or list(range(n))
        self.selected = list(range(min(n, 1)))
        self.draw_frame()

    def select(self, modes: list[int]) -> None:
        """Which modes to draw (indices into the shapes' columns)."""
        n = self.shapes.shape[1] if self.shapes.ndim == 2 else 0
        self.selected = [k for k in modes if 0 <= k < n]
        self.draw_frame()

    # -- drawing ------------------------------------------------------------------
    def _draw_static(self) -> None:
        for item in self._static:
            self.plot.removeItem(item)
        self._static = []
        if self.spans:
            x0, x1 = 0.0, float(self.supports[-1])
            note = " + ".join(f"{s:g}" for s in self.spans) + " m spans"
        elif self.x.size and np.isfinite(self.x).any():
            x0, x1 = float(np.nanmin(self.x)) - 2.0, float(np.nanmax(self.x)) + 2.0
            note = "no [bridge] spans in station.toml: supports not drawn"
        else:
            x0, x1 = 0.0, 1.0
            note = "no sensor locations: shapes drawn at channel numbers"
        deck = self.plot.plot([x0, x1], [0, 0], pen=pg.mkPen("#616161", width=3))
        self._static.append(deck)
        if self.supports.size:
            sup = pg.ScatterPlotItem(
                self.supports,
                np.full(self.supports.size, -0.12),
                symbol="t1",
                size=16,
                pen=pg.mkPen("#424242"),
                brush=pg.mkBrush("#9e9e9e"),
            )
            self.plot.addItem(sup)
            self._static.append(sup)
        ok = np.isfinite(self.x)
        sens = pg.ScatterPlotItem(
            self.x[ok],
            np.zeros(int(ok.sum())),
            symbol="s",
            size=8,
            pen=pg.mkPen("#212121"),
            brush=pg.mkBrush("#ffffff"),
        )
        self.plot.addItem(sens)
        self._static.append(sens)
        same_dir = len(set(self.directions)) == 1
        for name, xv, d in zip(self.names, self.x, self.directions):
            if not math.isfinite(xv):
                continue
            label = name if same_dir or not d else f"{name} ({d})"
            t = pg.TextItem(label, anchor=(0.5, 0), color="#424242")
            t.setPos(xv, -0.22)
            self.plot.addItem(t)
            self._static.append(t)
        if same_dir and self.directions and self.directions[0]:
            note += f"; sensors measure along {self.directions[0]}"
        self.note.setText(note)
        self.plot.setXRange(x0, x1, padding=0.03)
        self.plot.setYRange(-1.3, 1.3, padding=0)

    def frame_lines(self) -> list[tuple[np.ndarray, np.ndarray]]:
        """The (x, y) of each selected mode at the current phase (tests, export)."""
        out = []
        amp = self.amp.value() / 100.0
        x = self.x if self.x.size else np.arange(self.shapes.shape[0], dtype=float)
        for k in self.selected:
            phi = normalised_shape(self.shapes[:, k])
            y = amp * np.real(phi * np.exp(1j * self.phase))
            vertical = (
                sum(1 for d in self.directions if d.lstrip("-") == "z") >= len(self.directions) / 2
            )
            out.append(deck_line(x, y, self.supports, pin=vertical))
        return out

    def draw_frame(self) -> None:
        """Redraw the selected shapes at the current phase."""
        for c in self.curves:
            self.plot.removeItem(c)
        self.curves = []
        self.legend.clear()
        if self.shapes.ndim != 2 or self.shapes.size == 0:
            return
        for k, (x, y) in zip(self.selected, self.frame_lines()):
            colour = mode_colour(self.colour_index[k] if k < len(self.colour_index) else k)
            f = self.freqs[k] if k < len(self.freqs) else float("nan")
            c = self.plot.plot(
                x,
                y,
                pen=pg.mkPen(colour, width=2),
                symbol="o",
                symbolSize=6,
                symbolBrush=colour,
                symbolPen=None,
                name=f"{self.labels[k]}  {f:.3f} Hz",
            )
            self.curves.append(c)

    def _on_play(self, paused: bool) -> None:
        self.play.setText("Play" if paused else "Pause")
        if paused:
            self.timer.stop()
        else:
            self.timer.start()

    def start(self) -> None:
        """Animate (unless paused)."""
        if not self.play.isChecked():
            self.timer.start()

    def stop(self) -> None:
        """Stop animating."""
        self.timer.stop()

    def _step(self) -> None:
        self.phase = (self.phase + 2 * math.pi / 40) % (2 * math.pi)
        self.draw_frame()

    def hideEvent(self, event) -> None:  # noqa: D102, N802 - Qt API
        self.timer.stop()
        super().hideEvent(event)

    def showEvent(self, event) -> None:  # noqa: D102, N802 - Qt API
        super().showEvent(event)
        self.start()
