"""Trend views from a results file written by the real results store."""

from __future__ import annotations

import numpy as np
import pyqtgraph as pg
import pytest

NS = 10**9
T0 = 1_790_000_000 * NS


@pytest.fixture
def results_file(tmp_path, sim_dir):
    """A results file next to a copy of the simulated raw data."""
    import shutil

    from bshm.store.results import ResultsWriter

    data = tmp_path / "site"
    shutil.copytree(sim_dir, data)
    path = data / "results" / "sim-bridge_results.h5"
    path.parent.mkdir()
    n_w = 40
    t = T0 + np.arange(n_w, dtype=np.int64) * 3 * 3600 * NS
    temp = 10 + 8 * np.sin(np.arange(n_w) / 5)
    freq = np.column_stack([2.0 - 0.004 * temp, 5.1 - 0.01 * temp])
    freq[7, 1] = np.nan  # mode 2 not found in one window
    t2 = np.linspace(1, 30, n_w)
    level = np.digitize(t2, [10, 20, 25])
    from types import SimpleNamespace

    windows = [
        SimpleNamespace(
            start_ns=int(ti),
            end_ns=int(ti) + 600 * NS,
            status="skipped",
            reason="test",
            rms=0.0,
            env={"T1": float(te), "T2": 5.0},
            frequencies=[],
        )
        for ti, te in zip(t, temp)
    ]
    with ResultsWriter(path, station="sim-bridge") as w:
        w.append_windows(windows, channels=["A01"], env_names=["T1", "T2"])
        w.write_group(
            "tracks",
            {
                "time_ns": t,
                "frequency": freq,
                "damping": np.full_like(freq, 0.01),
                "mac": np.ones_like(freq),
            },
            {"mode_ids": '["M1", "M2"]'},
        )
        shift = np.zeros((n_w, 2))
        shift[25:, 0] = -2.2  # a 2 % drop of M1: invisible on a shared 1.9-5.1 Hz axis
        w.write_group(
            "indices",
            {
                "time_ns": t,
                "t2": t2,
                "t2_limits": np.array([10.0, 20.0, 25.0]),
                "level": level,
                "freq_shift_pct": shift,
            },
        )
        w.write_model("limits", {"frequency_shift_pct": [1.0, 2.0, 4.0]})
        w.append_alarms(
            [
                {
                    "time_ns": int(t[30]),
                    "level": 2,
                    "index": "t2",
                    "value": 21.0,
                    "threshold": 20.0,
                    "mode": None,
                    "message": "novelty T2 above level 2",
                },
                {
                    "time_ns": int(t[36]),
                    "level": 3,
                    "index": "freq_shift",
                    "value": 4.2,
                    "threshold": 4.0,
                    "mode": "M1",
                    "message": "M1 dropped 4.2 %",
                },
            ]
        )
        edges = np.linspace(0, 50, 11)
        for g, scale in (("S1", 1e-6), ("S3", 3e-6)):
            w.append_fatigue(
                g,
                window_start_ns=t[:5],
                window_end_ns=t[:5] + 600 * NS,
                range_edges=edges,
                counts=np.ones((5, 10)),
                miner_damage=np.full(5, scale),
            )
    return path, t, freq, t2, temp


def test_trends_show_the_results(window, results_file, qtbot):
    path, t, freq, t2, _ = results_file
    assert window.open_path(path), window.last_error
    tv = window.trends
    assert window.tabs.currentWidget() is tv
    assert window.session is not None  # the raw folder next to results/ opened too
    # the default view is the compensated change, where the 2 % drop shows
    assert tv.inner.currentIndex() == 0
    assert len(tv.change_curves) == 2
    x, y = tv.change_curves[0].getData()
    np.testing.assert_array_equal(x, t / NS)
    assert y[30] == pytest.approx(-2.2)
    lo, hi = tv.p_change.viewRange()[1]
    assert hi - lo < 20  # a % scale, not a 2-15 Hz one
    limits = sorted(
        round(i.value(), 6)
        for i in tv.p_change.items
        if isinstance(i, pg.InfiniteLine) and i.angle == 0 and i.value() != 0
    )
    assert limits == [-4.0, -2.0, -1.0, 1.0, 2.0, 4.0]
    np.testing.assert_array_equal(tv.index_scatter.getOriginalDataset()[1], t2)
    t2_lines = sorted(
        round(10 ** i.value(), 6)
        for i in tv.p_index.items
        if isinstance(i, pg.InfiniteLine) and i.angle == 0
    )
    assert t2_lines == [10.0, 20.0, 25.0]
    # one panel per mode, each with its own scale and the report's colour
    from bshm.palette import mode_colour

    assert len(tv.mode_panels) == len(tv.freq_curves) == 2
    for j, c in enumerate(tv.freq_curves):
        np.testing.assert_array_equal(c.yData, freq[:, j])
        np.testing.assert_array_equal(c.xData, t / NS)
        assert c.opts["pen"].color().name() == mode_colour(j)
    tv.inner.setCurrentIndex(1)
    qtbot.wait(20)
    r0, r1 = (p.viewRange()[1] for p in tv.mode_panels)
    assert r0[1] < 2.1 and r1[0] > 4.9  # not one shared axis
    assert tv.miner_totals == pytest.approx({"S1": 5e-6, "S3": 15e-6})
    # time axes say UTC and the date
    tv.inner.setCurrentIndex(0)
    qtbot.wait(50)
    axis = tv.p_index.getAxis("bottom")
    assert axis.label_text.startswith("time (UTC), 2026-"), axis.label_text
    # crosshair readout on the trends too
    text = tv.readout(float(t[30]) / NS)
    assert "M1 -2.2 %" in text and "UTC" in text


def test_alarm_click_centres_its_window(window, results_file, qtbot):
    path, t, *_ = results_file
    assert window.open_path(path), window.last_error
    panel = window.alarms
    assert panel.table.rowCount() == 2
    # newest first; the level-3 alarm of M1 at t[36]
    assert panel.table.item(0, 1).text() == "3 critical"
    assert panel.table.item(1, 1).text() == "2 warning"
    with qtbot.waitSignal(panel.sig_jump) as blocker:
        panel.jump_row(0, True)
    s, e = blocker.args[0], blocker.args[1]
    assert (s, e) == (int(t[36]), int(t[36]) + 600 * NS)  # its analysis window
    assert window.tabs.currentWidget() is window.signals
    a, b = window.signals.view_range_ns()
    assert a < s and e < b
    assert abs((a + b) / 2 - (s + e) / 2) < 0.01 * (b - a)  # centred, not starting there


def test_frequency_against_temperature(window, results_file):
    path, t, freq, _, temp = results_file
    assert window.open_path(path)
    tv = window.trends
    assert len(tv.ft_scatters) == 2
    x, y = tv.ft_scatters[0].getData()
    np.testing.assert_allclose(x, temp)
    np.testing.assert_array_equal(y, freq[:, 0])
    ok = np.isfinite(freq[:, 1])  # the window where M2 was not found is left out
    x1, y1 = tv.ft_scatters[1].getData()
    np.testing.assert_allclose(x1, temp[ok])
    np.testing.assert_array_equal(y1, freq[ok, 1])
    # coloured by date: the first point dark (early), the last yellow (late)
    from bshm.palette import date_colour

    brushes = [b.color().getRgb()[:3] for b in tv.ft_scatters[0].data["brush"]]
    assert brushes[0] == date_colour(0.0)
    assert brushes[-1] == date_colour(1.0)
    assert len(set(brushes)) > 10
    temps = tv.p_temp.listDataItems()
    assert [i.name() for i in temps] == ["T1", "T2"]


def test_bad_results_file_message(window, tmp_path):
    import h5py

    bad = tmp_path / "x_results.h5"
    with h5py.File(bad, "w") as f:
        f.attrs["bshm_kind"] = "results"
    assert not window.open_path(bad)
    assert "x_results.h5" in window.last_error
