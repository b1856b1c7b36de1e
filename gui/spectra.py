"""Power spectral density (Welch) and spectrogram of the visible signal.

Both are computed from the longest gap-free stretch of the time range the
signal view shows (raw samples only: an overview envelope has no spectrum).
"""

from __future__ import annotations

import logging

import numpy as np
import pyqtgraph as pg
from bshm.gui.plotting import TwoCursors, fmt, iso, nearest
from bshm.gui.signal_view import pen_for
from pyqtgraph.Qt import QtCore, QtWidgets

from bshm.units import pretty, psd_unit

log = logging.getLogger(__name__)

MIN_SAMPLES = 64


def longest_finite_run(t: np.ndarray, y: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """The longest stretch of rows between NaN breaks (``t`` (n,), ``y`` (n, c))."""
    ok = np.isfinite(t) & np.all(np.isfinite(y), axis=1)
    if ok.all():
        return t, y
    edges = np.flatnonzero(np.diff(np.concatenate(([0], ok.view(np.int8), [0]))))
    starts, stops = edges[0::2], edges[1::2]
    if len(starts) == 0:
        return t[:0], y[:0]
    k = int(np.argmax(stops - starts))
    return t[starts[k] : stops[k]], y[starts[k] : stops[k]]


def welch_psd(y: np.ndarray, fs: float, seg_s: float = 20.0) -> tuple[np.ndarray, np.ndarray]:
    """Welch PSD of each column: ``f`` (m,) Hz and ``p`` (m, c) in unit**2/Hz.

    Hann windows of ``seg_s`` seconds (at most the record) with 50 % overlap,
    linear detrend.
    """
    from scipy.signal import welch

    n = len(y)
    nper = int(min(n, max(MIN_SAMPLES, round(seg_s * fs))))
    f, p = welch(y, fs=fs, nperseg=nper, detrend="linear", axis=0)
    return f, p


def spectrogram(y: np.ndarray, fs: float, seg_s: float = 4.0):
    """Spectrogram of one channel: ``f`` (m,), ``t`` (k,) s from start, ``sxx`` (m, k)."""
    from scipy.signal import spectrogram as _spec

    nper = int(min(len(y), max(MIN_SAMPLES, round(seg_s * fs))))
    return _spec(y, fs=fs, nperseg=nper, noverlap=nper // 2, detrend="linear")


class SpectraView(QtWidgets.QWidget):
    """PSD of every plotted channel and the spectrogram of one."""

    sig_message = QtCore.Signal(str)
    sig_cursor = QtCore.Signal(str)

    def __init__(self, parent: QtWidgets.QWidget | None = None) -> None:
        super().__init__(parent)
        self.units: list[str] = []
        self.channels: list[str] = []
        self.choice = QtWidgets.QComboBox()
        self.choice.currentIndexChanged.connect(self._draw_spectrogram)
        self.note = QtWidgets.QLabel("")
        top = QtWidgets.QHBoxLayout()
        top.addWidget(QtWidgets.QLabel("Spectrogram of:"))
        top.addWidget(self.choice)
        top.addWidget(self.note, 1)
        self.cursor_button = QtWidgets.QPushButton("Cursors A/B")
        self.cursor_button.setCheckable(True)
        self.cursor_button.setToolTip("two cursors to measure a frequency difference")
        top.addWidget(self.cursor_button)
        self.cursor_text = QtWidgets.QLabel("")
        self.cursor_text.setWordWrap(True)
        self.psd_plot = pg.PlotWidget()
        self.psd_plot.setLogMode(x=False, y=True)
        self.psd_plot.setLabel("bottom", "frequency [Hz]")
        self.psd_plot.setLabel("left", "PSD")
        self.psd_plot.getAxis("left").enableAutoSIPrefix(False)
        self.psd_plot.showGrid(x=True, y=True, alpha=0.2)
        self.psd_plot.addLegend(offset=(-10, 10))
        self.spec_plot = pg.PlotWidget()
        self.spec_plot.setLabel("bottom", "time from the start of the stretch [s]")
        self.spec_plot.setLabel("left", "frequency [Hz]")
        self.image = pg.ImageItem(axisOrder="row-major")
        self.image.setColorMap(pg.colormap.get("viridis"))
        self.spec_plot.addItem(self.image)
        split = QtWidgets.QSplitter(QtCore.Qt.Orientation.Vertical)
        split.addWidget(self.psd_plot)
        split.addWidget(self.spec_plot)
        lay = QtWidgets.QVBoxLayout(self)
        lay.setContentsMargins(0, 0, 0, 0)
        lay.addLayout(top)
        lay.addWidget(self.cursor_text)
        lay.addWidget(split, 1)
        self.cursors = TwoCursors([self.psd_plot.getPlotItem()], self.describe_cursors)
        self.cursors.sig_text.connect(self.cursor_text.setText)
        self.cursor_button.toggled.connect(self.show_cursors)
        self.hover = pg.TextItem("", anchor=(0, 0), color="#202020")
        self.hover.setZValue(30)
        self._mouse_proxy = pg.SignalProxy(
            self.psd_plot.scene().sigMouseMoved, rateLimit=30, slot=self._on_mouse
        )
        self.curves: list[pg.PlotDataItem] = []
        self.freqs = np.empty(0)
        self.psd = np.empty((0, 0))
        self._y = np.empty((0, 0))
        self._fs = 1.0
        self._t0 = 0.0

    def set_trace(self, trace, units: list[str]) -> bool:
        """Compute both views from a :class:`bshm.gui.data.Trace`; False if impossible."""
        if trace is None or trace.kind != "raw":
            self._clear("zoom in: spectra need raw samples, not the overview")
            return False
        t, y = longest_finite_run(trace.t, trace.y)
        if len(t) < MIN_SAMPLES:
            self._clear(f"too few gap-free samples ({len(t)}) in the view for a spectrum")
            return False
        self._y, self._fs, self._t0 = np.asarray(y, dtype=np.float64), trace.fs, float(t[0])
        self.freqs, self.psd = welch_psd(self._y, trace.fs)
        for c in self.curves:
            self.psd_plot.removeItem(c)
        self.curves = []
        self.psd_plot.plotItem.legend.clear()
        self.units, self.channels = list(units), list(trace.channels)
        shown = {pretty(u) for u in units}
        if len(shown) == 1:
            self.psd_plot.setLabel("left", f"PSD [{psd_unit(units[0])}]")
        else:  # mixed units: each curve's legend entry says its unit
            self.psd_plot.setLabel("left", "PSD [unit²/Hz of each channel, see legend]")
        for i, name in enumerate(trace.channels):
            p = np.where(self.psd[:, i] > 0, self.psd[:, i], np.nan)
            self.curves.append(
                self.psd_plot.plot(
                    self.freqs,
                    p,
                    pen=pen_for(i),
                    name=name if len(shown) == 1 else f"{name} [{psd_unit(units[i])}]",
                    connect="finite",
                )
            )
        if self.hover.scene() is None:
            self.psd_plot.addItem(self.hover, ignoreBounds=True)
        self.note.setText(
            f"{len(t) / trace.fs:.0f} s gap-free at {trace.fs:g} Hz from {iso(float(t[0]), 0)} UTC"
        )
        keep = self.choice.currentIndex()
        self.choice.blockSignals(True)
        self.choice.clear()
        self.choice.addItems(list(trace.channels))
        self.choice.setCurrentIndex(keep if 0 <= keep < len(trace.channels) else 0)
        self.choice.blockSignals(False)
        self._draw_spectrogram()
        return True

    def _clear(self, why: str) -> None:
        for c in self.curves:
            self.psd_plot.removeItem(c)
        self.curves = []
        self.freqs = np.empty(0)
        self.psd = np.empty((0, 0))
        self.image.clear()
        self.note.setText(why)

    def _draw_spectrogram(self, *_args) -> None:
        k = self.choice.currentIndex()
        if k < 0 or self._y.size == 0:
            return
        f, tt, sxx = spectrogram(self._y[:, k], self._fs)
        with np.errstate(divide="ignore"):
            img = np.log10(np.maximum(sxx, np.finfo(float).tiny))
        self.image.setImage(img, autoLevels=True)
        dt = tt[1] - tt[0] if len(tt) > 1 else len(self._y) / self._fs
        df = f[1] - f[0] if len(f) > 1 else 1.0
        self.image.setRect(QtCore.QRectF(tt[0] - dt / 2, f[0] - df / 2, dt * len(tt), df * len(f)))
        self.spec_plot.autoRange()

    # -- readouts -------------------------------------------------------------
    def values_at(self, f: float) -> list[float]:
        """PSD of each channel at the frequency bin nearest to ``f`` (Hz)."""
        if self.freqs.size == 0:
            return []
        return [nearest(self.freqs, self.psd[:, i], f) for i in range(self.psd.shape[1])]

    def readout(self, f: float) -> str:
        """Frequency and each channel's PSD there, with units."""
        vals = self.values_at(f)
        if not vals:
            return ""
        parts = [f"f = {f:.4g} Hz"]
        for name, u, v in zip(self.channels, self.units, vals):
            parts.append(f"{name} {fmt(v)} {psd_unit(u)}")
        return "  ".join(parts)

    def _on_mouse(self, event) -> None:
        pos = event[0]
        p = self.psd_plot.getPlotItem()
        if not p.sceneBoundingRect().contains(pos) or self.freqs.size == 0:
            return
        pt = p.vb.mapSceneToView(pos)
        text = self.readout(pt.x())
        self.hover.setText(text.replace("  ", "\n"))
        (x0, _), (_, y1) = p.viewRange()
        self.hover.setPos(x0, y1)
        self.sig_cursor.emit(text)

    def show_cursors(self, on: bool = True) -> None:
        """Two cursors at 1/3 and 2/3 of the frequency range (or hide them)."""
        if not on:
            self.cursors.hide()
            return
        x0, x1 = self.psd_plot.getPlotItem().viewRange()[0]
        self.cursors.show_at(x0 + (x1 - x0) / 3, x0 + 2 * (x1 - x0) / 3)

    def describe_cursors(self, fa: float, fb: float) -> str:
        """Readout of the cursors: frequencies, Δf and each channel's PSD at A and B."""
        df = fb - fa
        head = f"A {fa:.4g} Hz  B {fb:.4g} Hz   Δf = {df:.4g} Hz"
        if df:
            head += f"  (1/Δf = {1 / abs(df):.4g} s)"
        va, vb = self.values_at(fa), self.values_at(fb)
        rows = [
            f"{n}: A {fmt(a)}, B {fmt(b)} {psd_unit(u)}"
            for n, u, a, b in zip(self.channels, self.units, va, vb)
        ]
        return head + "\n" + "   ".join(rows)
