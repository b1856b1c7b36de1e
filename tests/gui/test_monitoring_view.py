"""The viewer shows the job's stored alarm state and the windows outside the trained conditions.

A real ``bshm analyze --json`` on a short simulated history (10 % stiffness
loss, a warm spell outside the baseline's temperatures); the real main
window opens the folder; what the widgets show is compared with what the
results file stores and with what ``--json`` printed.
"""

from __future__ import annotations

import sys
from pathlib import Path

import numpy as np
import pytest

sys.path.insert(0, str(Path(__file__).parents[1] / "analysis"))
from test_report_state import build_monitored  # noqa: E402

NS = 1_000_000_000


@pytest.fixture(scope="module")
def monitored(tmp_path_factory):
    return build_monitored(tmp_path_factory.mktemp("monitored") / "site")


def _stored(root: Path):
    from bshm.store.results import open_results

    with open_results(next((root / "results").glob("*_results.h5"))) as r:
        return r.alarm_state(), r.indices(), r.model_versions()


def test_alarm_panel_shows_the_stored_state(window, monitored):
    root, json_state = monitored
    state, _, _ = _stored(root)
    assert window.open_path(root)
    panel = window.alarms
    shown = {r["subject"]: r["level"] for r in panel.current_rows}
    assert shown == {k: v["level"] for k, v in state["subjects"].items()}
    assert shown == {k: v["level"] for k, v in json_state["subjects"].items()}
    text = panel.current.text()
    assert "Current state" in text
    for r in panel.current_rows:
        if r["active"]:
            assert f"{r['label']}: {r['level_name']}</b>" in text
        else:  # the normal ones grouped after "normal:"
            assert r["label"].split(" ", 1)[-1] in text.split("normal:")[1]
    assert panel.current_rows[0]["subject"] == "structural"  # the bridge first
    # the table: the subject's current alarm active, its earlier alarms superseded
    cur = state["subjects"]["structural"]["alarm_id"]
    rows = {}
    for i in range(panel.table.rowCount()):
        a = panel.shown[i]
        if a.get("subject") == "structural":
            rows[a["id"]] = panel.table.item(i, 0).text()
    assert len(rows) >= 2
    for aid, st in rows.items():
        assert st == ("active" if aid == cur else "superseded"), (aid, st)
    # the state filter "superseded" shows exactly those
    panel.state.setCurrentText("superseded")
    assert {a["id"] for a in panel.shown} == {aid for aid in rows if aid != cur}


def test_trends_shade_the_windows_outside_the_trained_conditions(window, monitored):
    root, _ = monitored
    _, ix, versions = _stored(root)
    assert window.open_path(root)
    trends = window.trends
    t = np.asarray(ix["time_ns"], np.int64)
    inside = np.asarray(ix["inside"], bool)
    assert (~inside).any() and inside.any()
    plots = {id(p): p for p, _, _ in trends.shaded}
    assert trends.p_change in plots.values() and trends.p_index in plots.values()
    assert all(p in plots.values() for p in trends.mode_panels)
    for p in plots.values():
        outside = [reg.getRegion() for q, reg, k in trends.shaded if q is p and k == "outside"]
        drawn = np.array([any(a <= x / NS < b for a, b in outside) for x in t])
        np.testing.assert_array_equal(drawn, ~inside)
        train = [reg.getRegion() for q, reg, k in trends.shaded if q is p and k == "training"]
        want = [(a / NS, b / NS) for v in versions for a, b in v["periods"]]
        np.testing.assert_allclose(train, want)
    names = [lab.text for _, lab in trends.p_change.legend.items]
    assert "outside trained conditions" in names
    assert "training period" in names


# ------------------------------------------------------------------ campaign
@pytest.fixture(scope="module")
def campaign(tmp_path_factory):
    from test_report_state import build_campaign

    return build_campaign(tmp_path_factory.mktemp("campaign") / "roving")


def test_modes_tab_draws_the_campaign_global_shapes(window, campaign):
    from test_report_state import stored_global_shapes

    assert window.open_path(campaign)
    modal = window.modal
    assert modal.campaign, "campaign.json not found"
    view = modal.campaign_view
    want = stored_global_shapes(campaign)
    assert modal.campaign_table.rowCount() == len(want) >= 5
    assert view.spans == (20.0, 30.0, 20.0)  # the deck from [bridge] spans
    modal.campaign_view.stop()
    view.phase = 0.0
    view.amp.setValue(100)
    modal.campaign_table.selectRow(0)
    for k in range(len(want)):
        modal.campaign_table.selectRow(k)
        assert view.selected == [k]
        ((x, y),) = view.frame_lines()
        curve_x, curve_y = view.curves[0].getData()
        np.testing.assert_allclose(curve_x, x)
        np.testing.assert_allclose(curve_y, y)
        # at every point with a value: the stored global shape (no supports pinned:
        # the campaign says no direction), scaled to max |.| = 1 at amplitude 100 %
        wx, wy = want[k]
        at = np.array([np.flatnonzero(np.isclose(x, v))[0] for v in wx])
        assert len(x) == len(wx)
        np.testing.assert_allclose(y[at], wy, atol=1e-9)
    assert "global modes" in modal.campaign_label.text()


def test_modes_tab_without_campaign_says_how_to_make_one(window, sim_dir):
    assert window.open_path(sim_dir)
    assert not window.modal.campaign
    assert "bshm campaign" in window.modal.campaign_label.text()
    assert window.modal.campaign_table.rowCount() == 0


def test_export_png_of_the_campaign_and_a_clear_line_without_one(campaign, sim_dir, tmp_path):
    from bshm.gui.app import export_view
    from pyqtgraph.Qt import QtGui

    from bshm.errors import ConfigError

    out = export_view(campaign, tmp_path / "campaign.png", tab="modal-campaign")
    img = QtGui.QImage(str(out))
    assert not img.isNull() and img.width() == 1366
    with pytest.raises(ConfigError, match="no campaign.json"):
        export_view(sim_dir, tmp_path / "none.png", tab="modal-campaign")


def test_status_bar_says_the_bridge_state(window, monitored):
    root, _ = monitored
    state, _, _ = _stored(root)
    assert window.open_path(root)
    text = window.alarm_state_label.text()
    assert f"bridge: {state['subjects']['structural']['level_name']}" in text
    n_other = sum(1 for k, v in state["subjects"].items() if v["active"] and k != "structural")
    assert f"{n_other} other(s) above normal" in text
