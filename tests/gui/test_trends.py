"""Trend views from a results file written by the real results store."""

from __future__ import annotations

import numpy as np
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
        w.write_group(
            "indices",
            {"time_ns": t, "t2": t2, "t2_limits": np.array([10.0, 20.0, 25.0]), "level": level},
        )
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
    assert len(tv.freq_curves) == 2
    for j, c in enumerate(tv.freq_curves):
        np.testing.assert_array_equal(c.yData, freq[:, j])
        np.testing.assert_array_equal(c.xData, t / NS)
    np.testing.assert_array_equal(tv.index_scatter.data["y"], t2)
    limits = sorted(i.value() for i in tv.p_index.items if hasattr(i, "value") and i.angle == 0)
    assert limits == [10.0, 20.0, 25.0]
    assert tv.alarms.item(0, 1).text() == "2 warning"
    assert tv.miner_totals == pytest.approx({"S1": 5e-6, "S3": 15e-6})
    assert tv.alarms.rowCount() == 2
    assert tv.alarms.item(1, 1).text().startswith("3")
    # clicking an alarm jumps the signal view to its time
    with qtbot.waitSignal(tv.sig_jump) as blocker:
        tv._on_alarm_clicked(1)
    assert blocker.args[0] == int(t[36])
    assert window.tabs.currentWidget() is window.signals
    a, b = window.signals.view_range_ns()
    assert a <= int(t[36]) <= b


def test_frequency_against_temperature(window, results_file):
    path, t, freq, _, temp = results_file
    assert window.open_path(path)
    items = window.trends.ft_plot.listDataItems()
    assert len(items) == 2
    np.testing.assert_allclose(items[0].xData, temp)
    np.testing.assert_array_equal(items[0].yData, freq[:, 0])
    ok = np.isfinite(freq[:, 1])  # the window where M2 was not found is left out
    np.testing.assert_allclose(items[1].xData, temp[ok])
    np.testing.assert_array_equal(items[1].yData, freq[ok, 1])
    temps = window.trends.p_temp.listDataItems()
    assert [i.name() for i in temps] == ["T1", "T2"]


def test_bad_results_file_message(window, tmp_path):
    import h5py

    bad = tmp_path / "x_results.h5"
    with h5py.File(bad, "w") as f:
        f.attrs["bshm_kind"] = "results"
    assert not window.open_path(bad)
    assert "x_results.h5" in window.last_error
