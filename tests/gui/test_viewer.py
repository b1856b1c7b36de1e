"""The viewer on real HDF5 files: plotted arrays equal the store's data."""

from __future__ import annotations

import json

import numpy as np
import pytest

from bshm.store import open_raw
from bshm.units import pretty

NS = 10**9


def _finite(curve):
    x, y = curve.xData, curve.yData
    ok = np.isfinite(x)
    return x[ok], y[ok]


def test_open_shows_tree_status_and_store_data(window, sim_dir):
    assert window.open_path(sim_dir), window.last_error
    sv = window.signals
    with open_raw(sim_dir) as r:
        assert sv.source in r.sources
        tr = sv.trace
        assert tr.kind == "raw"
        rec = r.read(sv.source, tr.start_ns, tr.end_ns, channels=list(tr.channels))
        assert len(rec.times_ns) > 1000
        for i, curve in enumerate(sv.curves):
            t, y = tr.finite(i)  # what was read for the view is what is stored
            np.testing.assert_array_equal(y, rec.data[:, i])
            np.testing.assert_allclose(t, rec.times_ns / NS, rtol=0, atol=1e-6)
            # what is drawn (12,000 samples on ~1,000 pixels): the same extremes
            x, yd = curve.getData()
            assert np.nanmax(yd) == rec.data[:, i].max()
            assert np.nanmin(yd) == rec.data[:, i].min()
        # tree: every source and channel with its unit and location
        root = window.tree.topLevelItem(0)
        assert root.text(0).startswith(r.station)
        assert root.childCount() == len(r.sources)
        acc = window.tree.source_item("acc")
        metas = r.sources["acc"].channels
        assert acc.childCount() == len(metas)
        for k, meta in enumerate(metas):
            item = acc.child(k)
            assert item.text(0).startswith(meta.name)
            assert item.text(2) == pretty(meta.unit)  # typeset: m/s²
            if np.isfinite(meta.location[0]):
                assert f"x={meta.location[0]:g}" in item.text(3)
            assert item.text(1) == "ok"
    assert "recorded" == window.mode_label.text()
    assert "Hz" in window.rate_label.text()
    assert str(sim_dir) in window.file_label.text()
    assert ".." in window.span_label.text()


def test_narrow_range_and_crosshair(window, sim_dir):
    assert window.open_path(sim_dir)
    sv = window.signals
    a, _ = sv.default_range("acc")
    sv.set_range(a + 10 * NS, a + 12 * NS)
    with open_raw(sim_dir) as r:
        rec = r.read("acc", a + 10 * NS, a + 12 * NS, channels=sv.channels)
    x, y = _finite(sv.curves[0])
    inside = (x >= (a + 10 * NS) / NS) & (x < (a + 12 * NS) / NS)
    np.testing.assert_array_equal(y[inside], rec.data[:, 0])
    text = sv.readout((a + 11 * NS) / NS)
    k = int(np.searchsorted(rec.times_ns, a + 11 * NS))
    assert f"{sv.channels[0]}={rec.data[k, 0]:.5g}" in text


def test_gaps_are_breaks_and_overview_matches_minmax(window, sim_dir, qtbot, monkeypatch):
    from bshm.gui import data as D

    assert window.open_path(sim_dir)
    sv = window.signals
    # whole span as raw: the pauses between records are NaN breaks
    sv.show_all()
    assert sv.trace.kind == "raw"
    runs = window.session.runs("acc")
    assert len(runs) == 3
    assert np.isnan(sv.curves[0].yData).sum() == len(runs) - 1
    # force the overview and check it against the samples
    monkeypatch.setattr(D, "RAW_POINT_LIMIT", 1000)
    sv.trace = None
    sv.show_all()
    qtbot.waitUntil(lambda: sv.trace.kind == "overview" and sv.trace.complete, timeout=20000)
    y = sv.curves[1].yData
    with open_raw(sim_dir) as r:
        data = r.read("acc", channels=[sv.channels[1]]).data[:, 0]
    assert np.nanmin(y) == pytest.approx(float(data.min()))
    assert np.nanmax(y) == pytest.approx(float(data.max()))
    assert np.isnan(y).sum() == len(runs) - 1  # one break between runs
    # saved for the next session, which shows it without recomputing
    from bshm.gui.session import RawSession

    again = RawSession(sim_dir)
    try:
        assert again.missing_overview("acc", *again.span("acc")) == []
        tr = again.read_overview("acc", *again.span("acc"), [sv.channels[1]])
        np.testing.assert_array_equal(tr.y[:, 0], sv.trace.y[:, 1])
    finally:
        again.close()
    assert window.open_path(sim_dir)  # a new session: the overview shows at once
    window.signals.show_all()
    assert window.signals.trace.kind == "overview"
    assert window.signals.trace.complete
    assert not window.signals._overview_busy


def test_switch_views_and_spectra_peak(window, sim_dir, qtbot):
    assert window.open_path(sim_dir)
    for i in range(5):
        window.tabs.setCurrentIndex(i)
        qtbot.wait(10)
        assert window.tabs.currentIndex() == i
    window.tabs.setCurrentWidget(window.spectra)
    sp = window.spectra
    assert sp.freqs.size > 10
    assert len(sp.curves) == len(window.signals.channels)
    assert sp.image.image is not None
    # the PSD peak of the (mid-span) accelerations is a bridge mode
    truth = json.loads((sim_dir / "truth.json").read_text())
    freqs = _truth_frequencies(truth)
    band = (sp.freqs > 0.5) & (sp.freqs < 20)
    k = np.argmax(sp.psd[band].sum(axis=1))
    f_peak = sp.freqs[band][k]
    assert min(abs(f_peak - f) / f for f in freqs) < 0.05, (f_peak, freqs)


def _truth_frequencies(truth: dict) -> list[float]:
    """Frequencies (Hz) from truth.json, whatever its nesting."""
    found: list[float] = []

    def walk(o):
        if isinstance(o, dict):
            for k, v in o.items():
                if k in ("frequencies", "frequencies_hz") and isinstance(v, list):
                    found.extend(float(x) for x in v if isinstance(x, (int, float)))
                else:
                    walk(v)
        elif isinstance(o, list):
            for v in o:
                walk(v)

    walk(truth)
    assert found, "truth.json holds no frequencies"
    return found


def test_export_png_and_csv(window, sim_dir, tmp_path):
    assert window.open_path(sim_dir)
    png = window.export_png(tmp_path / "plot")
    assert png.suffix == ".png"
    assert png.read_bytes()[:8] == b"\x89PNG\r\n\x1a\n"
    sv = window.signals
    a, _ = sv.default_range("acc")
    sv.set_range(a, a + 5 * NS)
    out, n = window.export_csv(tmp_path / "sel.csv")
    lines = out.read_text().splitlines()
    assert lines[0].split(",")[:2] == ["time_utc", "time_ns"]
    assert len(lines) == n + 1
    with open_raw(sim_dir) as r:
        rec = r.read("acc", a, a + 5 * NS, channels=sv.channels)
    assert n == len(rec.times_ns)
    first = lines[1].split(",")
    assert int(first[1]) == rec.times_ns[0]
    assert float(first[2]) == pytest.approx(float(rec.data[0, 0]), rel=1e-6)


def test_unreadable_files_give_clear_messages(window, tmp_path):
    bad = tmp_path / "broken.h5"
    bad.write_bytes(b"this is not HDF5" * 10)
    assert not window.open_path(bad)
    assert "broken.h5" in window.last_error
    assert not window.open_path(tmp_path / "missing")
    assert "missing" in window.last_error
    assert "no such" in window.last_error
    empty = tmp_path / "empty"
    empty.mkdir()
    assert not window.open_path(empty)
    assert "empty" in window.last_error


def test_settings_remember_recent_and_layout(qtbot, settings, sim_dir):
    from bshm.gui.main_window import MainWindow
    from bshm.gui.settings import recent_files

    win = MainWindow(settings)
    qtbot.addWidget(win)
    win.show()
    assert win.open_path(sim_dir)
    win.tabs.setCurrentIndex(1)
    win.resize(780, 560)
    win.close()
    assert recent_files(settings)[0] == str(sim_dir.resolve())
    win2 = MainWindow(settings)
    qtbot.addWidget(win2)
    assert (win2.width(), win2.height()) == (780, 560)
    assert win2.tabs.currentIndex() == 1
    assert [a.text() for a in win2.recent_menu.actions()][0] == str(sim_dir.resolve())


def test_fits_small_screen(window):
    window.resize(1366, 768)
    assert window.minimumSizeHint().width() <= 1366
    assert window.minimumSizeHint().height() <= 768
    assert window.minimumWidth() <= 1366
    assert window.minimumHeight() <= 768


def test_keyboard_shortcuts(window, sim_dir, qtbot):
    from pyqtgraph.Qt import QtCore

    assert window.open_path(sim_dir)
    window.activateWindow()
    window.tabs.setCurrentIndex(0)
    a0, b0 = window.signals.view_range_ns()
    actions = {a.shortcut().toString(): a for a in window.actions()}
    for key in (
        "Ctrl+1",
        "Ctrl+2",
        "Ctrl+3",
        "Ctrl+4",
        "Ctrl+5",
        "Ctrl+E",
        "Ctrl+L",
        "F5",
        "+",
        "-",
        "Home",
        "End",
        "Ctrl+M",
        "Ctrl+Q",
    ):
        assert key in actions, key
    actions["Ctrl+2"].trigger()
    assert window.tabs.currentWidget() is window.spectra
    actions["Ctrl+1"].trigger()
    actions["+"].trigger()
    a1, b1 = window.signals.view_range_ns()
    assert (b1 - a1) == pytest.approx((b0 - a0) / 2, rel=1e-6)
    assert QtCore.Qt.Key.Key_Plus  # the shortcut text above maps to this key


def test_health_markers_and_recorded_gaps(window, tmp_path, rng):
    from bshm.store import ChannelMeta, RawWriter, SourceSpec

    chans = tuple(ChannelMeta(n, "acceleration", "m/s2") for n in ("good", "flat", "drop"))
    t0 = 1_790_000_000 * NS
    with RawWriter(tmp_path, "st", [SourceSpec("acc", "serial", 100.0, chans)]) as w:
        for k in (0, 2):  # 20 s of data, a 10-s hole, 20 s of data
            x = rng.standard_normal((2000, 3)).astype(np.float32)
            x[:, 1] = 0.25
            x[::7, 2] = np.nan
            w.write("acc", x, t0_ns=t0 + k * 15 * NS)
        w.add_gap("acc", t0 + 20 * NS, t0 + 30 * NS, "device silent")
        w.count("acc", "timeouts", 3)
    assert window.open_path(tmp_path), window.last_error
    src = window.tree.source_item("acc")
    texts = {src.child(i).text(0): src.child(i).text(1) for i in range(3)}
    # the words of the user guide and the report: ok / suspect / failed
    assert texts["good"] == "ok"
    assert texts["flat"].startswith("failed: flat at 0.25")
    assert texts["drop"].startswith("suspect: ") and texts["drop"].endswith("% NaN")
    assert src.text(1) == "failed: 1 channel…"
    detail = src.toolTip(1)  # the whole story on hover
    assert "1 gap" in detail and "3 timeouts" in detail and "1 channel" in detail
    assert window.tree.text_fits() == []  # nothing cut off in the health column
    labels = [p.getAxis("left").labelText for p in window.signals.plots]
    assert labels[0] == "good [m/s²]"
    assert "flat at 0.25" in labels[1]
    sv = window.signals
    sv.set_range(t0, t0 + 50 * NS)
    regions = [r.getRegion() for _, r in sv._gap_items]
    assert (t0 / NS + 20, t0 / NS + 30) in regions
    x, y = sv.curves[0].xData, sv.curves[0].yData
    k = int(np.flatnonzero(np.isnan(y))[0])
    assert np.isnan(x[k])
    assert x[k - 1] < t0 / NS + 20 < x[k + 1]
    # a live source whose newest sample is old is reported silent
    h, _ = window.session.health("acc", now_ns=t0 + 60 * NS)
    assert h.level == 2
    assert "silent for 10 s" in h.text
    h, _ = window.session.health("acc", now_ns=t0 + 52 * NS)
    assert "silent" not in h.text


def test_channel_health_rules():
    from bshm.gui.data import channel_health

    assert channel_health(np.full(200, 3.0)).level == 2
    assert channel_health(np.full(200, 3.0), can_be_flat=True).text == "ok"
    assert channel_health(np.full(10, 3.0)).text == "ok"  # too few samples to judge
    assert channel_health(np.array([])).text == "failed: no data"
    assert channel_health(np.full(5, np.nan)).text == "failed: all NaN"
    v = np.arange(100.0)
    v[:25] = np.nan
    assert channel_health(v).text == "suspect: 25% NaN"


def test_reopen_while_overview_computes(window, sim_dir, qtbot, monkeypatch):
    from bshm.gui import data as D

    assert window.open_path(sim_dir)
    monkeypatch.setattr(D, "RAW_POINT_LIMIT", 1000)
    old = window.session
    window.signals.trace = None
    window.signals.show_all()
    assert window.signals._overview_busy
    assert window.open_path(sim_dir)  # closes the old session under the worker
    assert old.cancelled.is_set()
    assert window.session is not old
    qtbot.waitUntil(lambda: not window.runner.busy, timeout=30000)
    assert window.last_error == ""


def test_damaged_overview_cache_is_ignored(sim_dir):
    from bshm.gui.session import RawSession

    s = RawSession(sim_dir)
    try:
        path = s._cache_file("acc")
        path.parent.mkdir(parents=True, exist_ok=True)
        path.write_bytes(b"not an npz file at all")
        assert s.load_overview_cache("acc") == 0
        runs = s.runs("acc")
        assert s.compute_overview("acc", runs) == len(runs)
        assert path.stat().st_size > 1000  # rewritten, readable again
        s2 = RawSession(sim_dir)
        assert s2.load_overview_cache("acc") == len(runs)
        s2.close()
    finally:
        s.close()


def test_crafted_station_name_cannot_escape_the_cache(tmp_path, rng, monkeypatch):
    """Issue 11 item 8: the cache file name comes from the data file: sanitised."""
    import h5py
    from bshm.gui.session import RawSession, cache_dir

    from bshm.store import ChannelMeta, RawWriter, SourceSpec

    monkeypatch.setenv("BSHM_CACHE_DIR", str(tmp_path / "cache"))
    data = tmp_path / "data"
    chans = (ChannelMeta("A", "acceleration", "m/s2"),)
    with RawWriter(data, "st", [SourceSpec("acc", "serial", 100.0, chans)]) as w:
        w.write("acc", rng.standard_normal((3000, 1)).astype(np.float32), t0_ns=1_790_000_000 * NS)
    (f,) = data.glob("*.h5")
    evil = "../../../../" + str(tmp_path).lstrip("/") + "/evil/x"
    with h5py.File(f, "r+") as h:
        h.attrs["station"] = evil
    s = RawSession(data)
    try:
        assert s.station == evil  # the file really says so
        root = cache_dir().resolve()
        for source in ("acc", "../../up", "/etc/passwd", "..", "a\x00b"):
            p = s._cache_file(source)
            assert p.parent.resolve() == root, p
            assert p.name.endswith(".npz") and not p.name.startswith(".")
            assert "/" not in p.name and "\\" not in p.name and "\x00" not in p.name
        assert s.compute_overview("acc", s.runs("acc")) == 1
        written = list(root.glob("*.npz"))
        assert len(written) == 1 and written[0].parent == root
        assert not (tmp_path / "evil").exists()
        # distinct names stay distinct after sanitising
        assert s._cache_file("a/b") != s._cache_file("a_b")
    finally:
        s.close()


def test_readouts_and_cursors_everywhere(window, sim_dir, qtbot):
    """Defect 4: cursors with values on signals and spectra, typeset units, UTC dates."""
    assert window.open_path(sim_dir)
    sv = window.signals
    a, _ = sv.default_range("acc")
    sv.set_range(a + 10 * NS, a + 20 * NS)
    sv.cursor_button.setChecked(True)
    for line_a, line_b in sv.cursors.lines:
        assert line_a.isVisible() and line_b.isVisible()
    sv.cursors.lines[0][0].setPos((a + 12 * NS) / NS)  # drag cursor A in the first plot
    sv.cursors.lines[-1][1].setPos((a + 14.5 * NS) / NS)  # and B in the last
    assert sv.cursors.lines[-1][0].value() == pytest.approx((a + 12 * NS) / NS)  # moved together
    text = sv.cursor_text.text()
    assert "Δt = 2.5 s" in text and "1/Δt = 0.4 Hz" in text
    with open_raw(sim_dir) as r:
        rec = r.read("acc", a + 12 * NS, a + 12 * NS + NS // 50, channels=sv.channels[:1])
    assert f"A {rec.data[0, 0]:.5g}" in text.split(sv.channels[0] + ":")[1]
    assert "m/s²" in text and "m/s2" not in text
    # the crosshair writes each channel's value into its own plot (never cut off)
    sv._show_values((a + 12 * NS) / NS)
    assert all(
        lb.toPlainText().startswith(ch + " = ") for lb, ch in zip(sv._value_labels, sv.channels)
    )
    axis = sv.plots[-1].getAxis("bottom")
    qtbot.wait(20)
    assert axis.label_text.startswith("time (UTC), 20")
    # spectra: unit typeset in the axis label, cursors with Δf, hover readout
    window.tabs.setCurrentWidget(window.spectra)
    sp = window.spectra
    assert sp.psd_plot.getPlotItem().getAxis("left").labelText == "PSD [(m/s²)²/Hz]"
    sp.cursor_button.setChecked(True)
    sp.cursors.lines[0][0].setPos(2.0)
    sp.cursors.lines[0][1].setPos(5.5)
    text = sp.cursor_text.text()
    assert "Δf = 3.5 Hz" in text and "(m/s²)²/Hz" in text
    k = int(np.argmin(np.abs(sp.freqs - 2.0)))
    assert f"A {sp.psd[k, 0]:.5g}" in text
    assert sp.readout(2.0).startswith("f = 2 Hz")
    # the readout of another tab does not linger in the status bar
    window.cursor_label.setText("cursor 2026 UTC")
    window.tabs.setCurrentWidget(window.modal)
    assert window.cursor_label.text() == ""
