"""Modal view: stabilization diagram of a window, picked modes, mode shapes.

The identification (:func:`bshm.analysis.identify`, SSI-COV with automated
picking) runs on a pool thread; the UI stays responsive and shows the
result when the worker reports back.

The **Campaign** tab shows the global mode shapes of a roving-sensor
campaign (``campaign.json`` that ``bshm campaign`` writes into the data
folder) on the same deck sketch, at the measured points' positions.
"""

from __future__ import annotations

import logging
import math
from pathlib import Path

import numpy as np
import pyqtgraph as pg
from bshm.gui import results as R
from bshm.gui.bridge_view import BridgeView
from pyqtgraph.Qt import QtCore, QtWidgets

from bshm.errors import AnalysisError, BshmError
from bshm.palette import mode_colour
from bshm.timeutil import to_iso

log = logging.getLogger(__name__)

NS = 1_000_000_000
MAX_WINDOW_S = 1800.0


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


def first_singular_value(data: np.ndarray, fs: float, fmax: float):
    """Frequencies (Hz, up to ``fmax``) and the first singular value of the CPSD
    matrix (the FDD spectrum, units²/Hz) of one window, NaN-repaired by zeros."""
    from bshm.analysis.spectral import cpsd_matrix, default_nperseg, fdd_svd

    x = np.asarray(data, np.float64)
    x = np.where(np.isfinite(x), x, 0.0)
    x = x - x.mean(axis=0)
    nper = min(default_nperseg(x.shape[0], fs), max(64, x.shape[0] // 4))
    f, g = cpsd_matrix(x, fs, nperseg=nper)
    keep = f <= fmax * 1.05
    s, _ = fdd_svd(g[keep])
    return f[keep], s[:, 0]


def identify_and_spectrum(data, fs, names, fmax, max_order):
    """:func:`identify_window` and :func:`first_singular_value` (pool thread)."""
    result = identify_window(data, fs, names, fmax, max_order)
    try:
        spec = first_singular_value(data, fs, fmax)
    except (ValueError, np.linalg.LinAlgError) as exc:
        log.warning("no FDD spectrum behind the stabilization diagram: %s", exc)
        spec = None
    return result, spec


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
    sig_cursor = QtCore.Signal(str)

    def __init__(self, runner, parent: QtWidgets.QWidget | None = None) -> None:
        super().__init__(parent)
        self.runner = runner
        self.session = None
        self.source: str | None = None
        self.window: tuple[int, int] | None = None
        self.result = None
        self.channel_x: np.ndarray = np.empty(0)
        self.shape_names: list[str] = []
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
        self.stab.setLabel("bottom", "frequency [Hz]")
        self.stab.setLabel("left", "model order")
        self.stab.addLegend(offset=(-10, 10))
        # the FDD spectrum (first singular value of the CPSD) behind the poles
        pi = self.stab.getPlotItem()
        self.sv_box = pg.ViewBox()
        pi.showAxis("right")
        pi.scene().addItem(self.sv_box)
        pi.getAxis("right").linkToView(self.sv_box)
        pi.getAxis("right").setLabel("1st singular value [dB]", color="#8d6e63")
        self.sv_box.setXLink(pi)
        self.sv_box.setZValue(-10)
        self.sv_curve = pg.PlotCurveItem(
            pen=pg.mkPen("#8d6e63", width=1), fillLevel=None, brush=None
        )
        self.sv_box.addItem(self.sv_curve)
        pi.vb.sigResized.connect(self._sync_sv_box)
        self.spectrum: tuple[np.ndarray, np.ndarray] | None = None
        self._mouse_proxy = pg.SignalProxy(
            self.stab.scene().sigMouseMoved, rateLimit=30, slot=self._on_mouse
        )
        self.table = QtWidgets.QTableWidget(0, 5)
        self.table.setHorizontalHeaderLabels(["mode", "f [Hz]", "damping [%]", "MPC", "poles"])
        self.table.verticalHeader().hide()
        self.table.setSelectionBehavior(QtWidgets.QAbstractItemView.SelectionBehavior.SelectRows)
        self.table.setEditTriggers(QtWidgets.QAbstractItemView.EditTrigger.NoEditTriggers)
        self.table.itemSelectionChanged.connect(self._draw_shape)
        self.bridge = BridgeView()
        self.mac_choice = QtWidgets.QComboBox()
        self.mac_choice.addItems(["between the identified modes", "against the baseline reference"])
        self.mac_choice.currentIndexChanged.connect(self._draw_mac)
        self.mac_plot = pg.PlotWidget()
        self.mac_plot.setAspectLocked(False)
        self.mac_plot.invertY(True)
        self.mac_image = pg.ImageItem(axisOrder="row-major")
        self.mac_image.setColorMap(pg.colormap.get("viridis"))
        self.mac_plot.addItem(self.mac_image)
        self.mac_texts: list[pg.TextItem] = []
        self.mac_values = np.empty((0, 0))
        mac_box = QtWidgets.QWidget()
        ml = QtWidgets.QVBoxLayout(mac_box)
        ml.setContentsMargins(0, 0, 0, 0)
        ml.addWidget(self.mac_choice)
        ml.addWidget(self.mac_plot, 1)
        self.shape_tabs = QtWidgets.QTabWidget()
        self.shape_tabs.addTab(self.bridge, "Shapes on the bridge")
        self.shape_tabs.addTab(mac_box, "MAC")
        # the global shapes of a roving-sensor campaign (campaign.json)
        self.campaign: dict = {}
        self.campaign_label = QtWidgets.QLabel("")
        self.campaign_label.setWordWrap(True)
        self.campaign_table = QtWidgets.QTableWidget(0, 5)
        self.campaign_table.setHorizontalHeaderLabels(
            ["mode", "f [Hz]", "damping [%]", "MPC", "points"]
        )
        self.campaign_table.verticalHeader().hide()
        self.campaign_table.setSelectionBehavior(
            QtWidgets.QAbstractItemView.SelectionBehavior.SelectRows
        )
        self.campaign_table.setEditTriggers(QtWidgets.QAbstractItemView.EditTrigger.NoEditTriggers)
        head = self.campaign_table.horizontalHeader()
        head.setSectionResizeMode(QtWidgets.QHeaderView.ResizeMode.ResizeToContents)
        head.setStretchLastSection(True)
        self.campaign_table.verticalHeader().setDefaultSectionSize(20)
        self.campaign_table.itemSelectionChanged.connect(self._select_campaign)
        self.campaign_view = BridgeView()
        camp_box = QtWidgets.QWidget()
        cl = QtWidgets.QVBoxLayout(camp_box)
        cl.setContentsMargins(0, 0, 0, 0)
        cl.addWidget(self.campaign_label)
        self.campaign_split = QtWidgets.QSplitter(QtCore.Qt.Orientation.Vertical)
        self.campaign_split.addWidget(self.campaign_table)
        self.campaign_split.addWidget(self.campaign_view)
        self.campaign_split.setSizes([120, 300])
        cl.addWidget(self.campaign_split, 1)
        self.shape_tabs.addTab(camp_box, "Campaign")
        self._show_campaign()
        right = QtWidgets.QSplitter(QtCore.Qt.Orientation.Vertical)
        self.right_split = right
        right.addWidget(self.table)
        right.addWidget(self.shape_tabs)
        right.setSizes([200, 400])
        split = QtWidgets.QSplitter(QtCore.Qt.Orientation.Horizontal)
        split.addWidget(self.stab)
        split.addWidget(right)
        split.setSizes([560, 520])
        self.results: dict | None = None
        self.station = R.StationInfo()
        lay = QtWidgets.QVBoxLayout(self)
        lay.setContentsMargins(0, 0, 0, 0)
        lay.addLayout(top)
        lay.addWidget(split, 1)

    def export_target(self):
        """What a PNG export of this tab shows: the whole tab."""
        return self

    def readout(self, f: float, order: float) -> str:
        """Frequency and order under the mouse, the FDD spectrum there and the nearest mode."""
        parts = [f"f = {f:.4g} Hz, order {order:.0f}"]
        if self.spectrum is not None and len(self.spectrum[0]):
            fr, s1 = self.spectrum
            k = int(np.argmin(np.abs(np.asarray(fr) - f)))
            if s1[k] > 0:
                parts.append(f"1st singular value {10 * np.log10(s1[k]):.1f} dB")
        if self.result is not None and len(self.result.frequencies):
            fk = np.asarray(self.result.frequencies)
            k = int(np.argmin(np.abs(fk - f)))
            zeta = 100 * float(self.result.damping[k])
            parts.append(f"nearest mode {k + 1}: {fk[k]:.4f} Hz, damping {zeta:.2f} %")
        return "   ".join(parts)

    def _on_mouse(self, event) -> None:
        pos = event[0]
        pi = self.stab.getPlotItem()
        if not pi.sceneBoundingRect().contains(pos):
            return
        pt = pi.vb.mapSceneToView(pos)
        self.sig_cursor.emit(self.readout(pt.x(), pt.y()))

    def _sync_sv_box(self) -> None:
        self.sv_box.setGeometry(self.stab.getPlotItem().vb.sceneBoundingRect())
        self.sv_box.linkedViewChanged(self.stab.getPlotItem().vb, self.sv_box.XAxis)

    def set_results(self, results: dict | None) -> None:
        """Results of the station: baseline reference shapes for the MAC and the sketch."""
        self.results = results
        if self.result is None:
            self._show_reference()
        self._draw_mac()
        if results is not None and not self.campaign:
            self.load_campaign(Path(results["path"]).parent)

    def set_station(self, session) -> None:
        """Bridge spans and sensor positions for the sketch (from station.toml and the files)."""
        self.station = R.station_info(session.path, session.sources)
        self._update_geometry()
        self.load_campaign(session.path)

    # -- campaign ------------------------------------------------------------------
    def load_campaign(self, folder) -> bool:
        """Show ``campaign.json`` of a data folder (or its parent); False when there is none."""
        from bshm.analysis.report_state import load_campaign

        self.campaign = load_campaign(folder)
        if self.campaign and not self.station.spans_m:
            self.station = R.station_info(Path(folder))
        self._show_campaign()
        return bool(self.campaign)

    def campaign_matrix(self) -> tuple[list[str], np.ndarray, np.ndarray, np.ndarray]:
        """(points, x (m), shapes (n_points x n_modes, complex, NaN where no value),
        frequencies) of the campaign, as stored."""
        c = self.campaign or {}
        names = [str(n) for n in c.get("channels") or []]
        x = np.full(len(names), np.nan)
        for i, loc in enumerate((c.get("locations") or [])[: len(names)]):
            if loc and loc[0] is not None:
                x[i] = float(loc[0])
        freqs = np.array(
            [np.nan if f is None else float(f) for f in c.get("frequencies_hz") or []], float
        )
        shapes = np.full((len(names), freqs.size), np.nan + 0j)
        for i, row in enumerate((c.get("shapes") or [])[: len(names)]):
            for k, v in enumerate((row or [])[: freqs.size]):
                if v is not None and None not in v:
                    shapes[i, k] = complex(float(v[0]), float(v[1]))
        return names, x, shapes, freqs

    def _show_campaign(self) -> None:
        names, x, shapes, freqs = self.campaign_matrix()
        self.campaign_table.setRowCount(freqs.size)
        if not self.campaign:
            self.campaign_label.setText(
                "No campaign in this data folder. 'bshm campaign station.toml' identifies "
                "the setups of a roving-sensor campaign and writes campaign.json here; "
                "its global mode shapes are then shown on the bridge."
            )
            self.campaign_view.set_modes(np.empty((0, 0)), np.empty(0))
            return
        damping = self.campaign.get("damping") or []
        mpc = self.campaign.get("mpc") or []
        for k in range(freqs.size):
            d = damping[k] if k < len(damping) and damping[k] is not None else np.nan
            m = mpc[k] if k < len(mpc) and mpc[k] is not None else np.nan
            n_pts = int(np.sum(np.isfinite(shapes[:, k]) & np.isfinite(x)))
            cells = [str(k + 1), f"{freqs[k]:.4f}", f"{100 * d:.2f}", f"{m:.3f}", str(n_pts)]
            for j, text in enumerate(cells):
                self.campaign_table.setItem(k, j, QtWidgets.QTableWidgetItem(text))
        setups = self.campaign.get("setups") or []
        refs = ", ".join(str(r) for r in self.campaign.get("references") or [])
        self.campaign_label.setText(
            f"{freqs.size} global modes over {len(names)} points from {len(setups)} setups "
            f"(references {refs}), {Path(self.campaign.get('path', 'campaign.json')).name}. "
            "Select modes in the table to draw them."
        )
        dirs = [self.station.channel_dir.get(n, "") for n in names]
        self.campaign_view.set_geometry(self.station.spans_m, names, x, dirs)
        self.campaign_view.set_modes(
            shapes, freqs, [f"mode {k + 1}" for k in range(freqs.size)], list(range(freqs.size))
        )
        self.campaign_view.select(list(range(min(3, freqs.size))))

    def _select_campaign(self) -> None:
        rows = sorted({i.row() for i in self.campaign_table.selectedItems()})
        if rows:
            self.campaign_view.select(rows)

    def reference(self) -> tuple[np.ndarray, list[str], list[str], np.ndarray] | None:
        """Baseline reference shapes (n_ch x n_modes), their channel names, mode ids and
        frequencies, from the results (None when there are none)."""
        r = self.results
        if not r:
            return None
        tr = r["tracks"]
        ref = tr.get("ref_shape")
        if ref is None or np.size(ref) == 0:
            return None
        ref = np.asarray(ref, np.complex128)  # (n_modes, n_ch)
        chans = [str(c) for c in (tr.get("channels") or r.get("channels") or [])]
        ids = [str(m) for m in tr.get("mode_ids", range(ref.shape[0]))]
        f = np.asarray(tr.get("ref_frequency", np.full(ref.shape[0], np.nan)), np.float64)
        return ref.T, chans, ids, f

    def _update_geometry(self, names: list[str] | None = None) -> None:
        if names is None:
            if self.session is not None and self.source is not None:
                names = [c.name for c in self.acc_channels()]
            else:
                ref = self.reference()
                names = ref[1] if ref else []
        x = np.array([self.station.channel_x.get(n, np.nan) for n in names], np.float64)
        dirs = [self.station.channel_dir.get(n, "") for n in names]
        self.bridge.set_geometry(self.station.spans_m, names, x, dirs)

    def _show_reference(self) -> None:
        """Before any identification: the baseline modes of the results on the sketch."""
        ref = self.reference()
        if ref is None:
            return
        shapes, chans, ids, f = ref
        if self.session is None:
            self.station = R.station_info(Path(self.results["path"]).parent.parent)
        self._update_geometry(chans)
        self.bridge.set_modes(shapes, f, [f"{m} (baseline)" for m in ids], list(range(len(ids))))
        self.bridge.select(list(range(min(3, len(ids)))))
        self.shape_names = chans

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
        self.shape_names = names
        self.runner.start(
            identify_and_spectrum,
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

    def _done(self, out) -> None:
        self.busy = False
        self.button.setEnabled(True)
        result, spec = out if isinstance(out, tuple) else (out, None)
        self.result = result
        self.spectrum = spec
        self._draw_diagram(result)
        self._draw_spectrum()
        self._update_geometry(self.shape_names)
        n = len(result.frequencies)
        self.bridge.set_modes(
            np.asarray(result.shapes),
            np.asarray(result.frequencies),
            [f"mode {k + 1}" for k in range(n)],
            list(range(n)),
        )
        self._fill_table(result)
        self._draw_mac()
        self.sig_message.emit(f"{len(result.frequencies)} modes identified")
        self.sig_result.emit(result)

    # -- drawing -------------------------------------------------------------
    def _draw_spectrum(self) -> None:
        if self.spectrum is None:
            self.sv_curve.setData([], [])
            return
        f, s1 = self.spectrum
        with np.errstate(divide="ignore"):
            db = 10 * np.log10(np.maximum(s1, np.finfo(float).tiny))
        self.sv_curve.setData(f, db)
        ok = np.isfinite(db)
        if ok.any():
            lo, hi = float(np.percentile(db[ok], 1)), float(db[ok].max())
            self.sv_box.setYRange(lo, hi + 0.05 * (hi - lo), padding=0)
        self._sync_sv_box()

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
                pen=pg.mkPen(mode_colour(k), width=1),
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
        if n:  # the first three modes on the sketch (click rows to choose others)
            sel = self.table.selectionModel()
            flags = (
                QtCore.QItemSelectionModel.SelectionFlag.Select
                | QtCore.QItemSelectionModel.SelectionFlag.Rows
            )
            self.table.selectRow(0)
            for k in range(1, min(3, n)):
                sel.select(self.table.model().index(k, 0), flags)
        else:
            self.bridge.select([])

    def shape_curve(self, k: int) -> tuple[np.ndarray, np.ndarray]:
        """Real, normalised shape of mode ``k`` along the sensor positions."""
        phi = np.asarray(self.result.shapes)[:, k]
        ref = phi[np.argmax(np.abs(phi))]
        real = np.real(phi * np.exp(-1j * np.angle(ref)))
        real = real / np.max(np.abs(real))
        order = np.argsort(self.channel_x, kind="stable")
        return self.channel_x[order], real[order]

    def _draw_shape(self) -> None:
        rows = sorted({i.row() for i in self.table.selectedItems()})
        if self.result is None or not rows:
            return
        self.bridge.select(rows)

    # -- MAC ---------------------------------------------------------------------
    def mac_matrix(self) -> tuple[np.ndarray, list[str], list[str]]:
        """The MAC shown: (values (rows x cols), row labels, column labels)."""
        against_ref = self.mac_choice.currentIndex() == 1
        ref = self.reference()
        if self.result is not None:
            shapes = np.asarray(self.result.shapes)
            labels = [f"{k + 1}: {f:.2f} Hz" for k, f in enumerate(self.result.frequencies)]
            names = list(getattr(self, "shape_names", []))
        elif ref is not None:
            shapes, names = ref[0], ref[1]
            labels = [f"{m}: {f:.2f} Hz" for m, f in zip(ref[2], ref[3])]
        else:
            return np.empty((0, 0)), [], []
        if not against_ref:
            return R.mac(shapes, shapes), labels, labels
        if ref is None:
            return np.empty((0, 0)), labels, []
        rshapes, rnames, rids, rf = ref
        common = [n for n in names if n in rnames]
        if not common:
            return np.empty((0, 0)), labels, []
        a = shapes[[names.index(n) for n in common]]
        b = rshapes[[rnames.index(n) for n in common]]
        return R.mac(a, b), labels, [f"{m} ({f:.2f} Hz)" for m, f in zip(rids, rf)]

    def _draw_mac(self, *_args) -> None:
        for t in self.mac_texts:
            self.mac_plot.removeItem(t)
        self.mac_texts = []
        m, rows, cols = self.mac_matrix()
        self.mac_values = m
        if m.size == 0:
            self.mac_image.clear()
            why = (
                "no baseline reference in the results"
                if self.mac_choice.currentIndex() == 1
                else "identify modes first (Ctrl+M)"
            )
            self.mac_plot.setTitle(why)
            return
        self.mac_plot.setTitle(
            "MAC: 1 = same shape, 0 = unrelated"
            + (
                " (rows: identified, columns: baseline)"
                if self.mac_choice.currentIndex() == 1
                else ""
            )
        )
        self.mac_image.setImage(np.nan_to_num(m), levels=(0, 1))
        self.mac_image.setRect(QtCore.QRectF(0, 0, m.shape[1], m.shape[0]))
        for i in range(m.shape[0]):
            for j in range(m.shape[1]):
                v = m[i, j]
                t = pg.TextItem(
                    "-" if not np.isfinite(v) else f"{v:.2f}",
                    anchor=(0.5, 0.5),
                    color="#000000" if v > 0.6 else "#ffffff",
                )
                t.setPos(j + 0.5, i + 0.5)
                self.mac_plot.addItem(t)
                self.mac_texts.append(t)
        self.mac_plot.getAxis("left").setTicks([[(i + 0.5, r) for i, r in enumerate(rows)]])
        self.mac_plot.getAxis("bottom").setTicks([[(j + 0.5, c) for j, c in enumerate(cols)]])
        self.mac_plot.setXRange(0, m.shape[1], padding=0)
        self.mac_plot.setYRange(0, m.shape[0], padding=0)
