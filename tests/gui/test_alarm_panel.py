"""Defect 3: alarms a technician can work through.

Real results file, real alarm feed, real acknowledgement file; the table is
a real Qt widget at the screen sizes the defect was seen at.
"""

from __future__ import annotations

import json

import numpy as np
import pytest

from bshm.alarms import AckLog, Alarm, AlarmFeed, ack_path

NS = 10**9
T0 = 1_790_000_000 * NS
H = 3600 * NS
LONG = (
    "Mode M1 (2.172 Hz): natural frequency 2.40 % lower than expected for the measured "
    "temperature (mean of the last 12 windows), in at least 3 of the last 5 windows."
)


@pytest.fixture
def site(tmp_path, sim_dir):
    """Raw data, a results file with alarms of every kind and state, and the feed."""
    import shutil
    from types import SimpleNamespace

    from bshm.store.results import ResultsWriter

    data = tmp_path / "site"
    shutil.copytree(sim_dir, data)
    path = data / "results" / "sim-bridge_results.h5"
    path.parent.mkdir()
    alarms = [
        Alarm(T0, 2, "frequency_shift", 2.4, 2.0, "M1", LONG, station="sim-bridge"),
        Alarm(
            T0 + 3 * H,
            0,
            "frequency_shift",
            0.3,
            1.0,
            "M1",
            "M1 back to normal",
            station="sim-bridge",
        ),  # clears the first
        Alarm(
            T0 + 6 * H,
            3,
            "t2",
            211.5,
            30.0,
            None,
            "novelty T2 above critical",
            station="sim-bridge",
        ),
        Alarm(
            T0 + 7 * H,
            1,
            "peak",
            1.7,
            1.5,
            None,
            "peak acceleration above advisory",
            channel="A05",
            station="sim-bridge",
            kind="threshold",
        ),
        Alarm(
            T0 + 8 * H,
            2,
            "flat",
            0.0,
            0.0,
            None,
            "A03 flat: sensor failed",
            channel="A03",
            station="sim-bridge",
            kind="sensor",
            subject="sensor:A03",
            event="raised",
        ),
    ]
    windows = [
        SimpleNamespace(
            start_ns=int(T0 + k * H),
            end_ns=int(T0 + k * H + 120 * NS),
            status="skipped",
            reason="test",
            rms=0.0,
            env={},
            frequencies=[],
        )
        for k in range(10)
    ]
    with ResultsWriter(path, station="sim-bridge") as w:
        w.append_windows(windows, channels=["A01"], env_names=[])
        w.append_alarms(alarms)
    AlarmFeed(data / "alarms.jsonl").append(alarms)
    return data, path, alarms


def test_states_kinds_and_ids(window, site):
    data, path, alarms = site
    assert window.open_path(path), window.last_error
    res = window.results
    by_index = {(a["index"], a["level"]): a for a in res["alarms"]}
    assert by_index[("frequency_shift", 2)]["state"] == "cleared"
    assert by_index[("t2", 3)]["state"] == "active"
    assert by_index[("peak", 1)]["kind"] == "threshold"
    assert by_index[("flat", 2)]["kind"] == "sensor"  # from the feed: results lack kind
    assert by_index[("flat", 2)]["subject"] == "sensor:A03"
    # the ids are the feed's, so acknowledgements match what others read
    feed_ids = {d["id"] for d in AlarmFeed(data / "alarms.jsonl").read()}
    assert {a["id"] for a in res["alarms"]} == feed_ids
    assert window.tabs.tabText(5) == "Alarms (3)"  # active and not acknowledged


def test_filters(window, site):
    _, path, _ = site
    assert window.open_path(path)
    p = window.alarms
    assert p.table.rowCount() == 5
    p.level.setCurrentIndex(2)  # warning and above
    assert sorted(a["level"] for a in p.shown) == [2, 2, 3]
    p.level.setCurrentIndex(0)
    p.kind.setCurrentText("sensor")
    assert [a["index"] for a in p.shown] == ["flat"]
    p.kind.setCurrentIndex(0)
    p.state.setCurrentIndex(1)  # active
    assert sorted(a["index"] for a in p.shown) == ["flat", "peak", "t2"]
    p.state.setCurrentText("superseded")  # nothing superseded: no stored state, older rule
    assert p.shown == []
    p.state.setCurrentText("cleared")
    assert sorted(a["level"] for a in p.shown) == [0, 2]
    assert p.count.text().startswith("2 of 5 shown; 3 active, 3 not acknowledged")


def test_acknowledge_asks_name_and_comment_and_is_kept_beside_the_feed(
    window, site, qtbot, settings
):
    from pyqtgraph.Qt import QtCore, QtWidgets

    data, path, _ = site
    assert window.open_path(path)
    p = window.alarms
    row = next(i for i, a in enumerate(p.shown) if a["index"] == "t2")
    p.table.selectRow(row)
    alarm = p.selected()
    feed_before = (data / "alarms.jsonl").read_bytes()

    def fill():
        dlg = p._dialog
        assert not dlg.ok.isEnabled()  # a name is required
        dlg.name.setText("J. Doe")
        dlg.comment.setPlainText("checked on site: traffic jam, no damage")
        assert dlg.ok.isEnabled()
        dlg.ok.click()

    QtCore.QTimer.singleShot(200, fill)
    p.ask_acknowledge()
    assert (data / "alarms.jsonl").read_bytes() == feed_before  # never in the feed
    acks = AckLog(ack_path(data / "alarms.jsonl")).read()
    assert acks[alarm["id"]]["by"] == "J. Doe"
    assert acks[alarm["id"]]["comment"] == "checked on site: traffic jam, no damage"
    assert p.selected()["id"] == alarm["id"]
    assert p.table.item(row, 0).text() == "active, acknowledged"
    assert "J. Doe" in p.details.text()
    assert window.tabs.tabText(5) == "Alarms (2)"
    assert settings.value("ack_name") == "J. Doe"  # offered next time
    # another viewer (and the report) reads the same file
    from bshm.gui.results import load_results

    again = load_results(path)
    a2 = next(a for a in again["alarms"] if a["id"] == alarm["id"])
    assert a2["ack"]["by"] == "J. Doe"
    p.state.setCurrentIndex(2)  # active, not acknowledged
    assert alarm["id"] not in {a["id"] for a in p.shown}
    # an empty name is refused, nothing written
    with pytest.raises(ValueError):
        p.acknowledge(a2, "  ", "x")
    assert len(ack_path(data / "alarms.jsonl").read_text().splitlines()) == 1
    assert isinstance(QtWidgets.QApplication.instance(), QtWidgets.QApplication)


@pytest.mark.parametrize("width", [1366, 1600])
def test_every_column_is_on_screen(window, site, qtbot, width):
    _, path, _ = site
    window.resize(width, 768 if width == 1366 else 900)
    assert window.open_path(path)
    window.tabs.setCurrentWidget(window.alarms)
    qtbot.wait(50)
    t = window.alarms.table
    head = t.horizontalHeader()
    vw = t.viewport().width()
    for j in range(t.columnCount()):
        right = head.sectionViewportPosition(j) + head.sectionSize(j)
        assert right <= vw + 1, (j, right, vw)
    msg = t.columnCount() - 1
    assert head.sectionSize(msg) > 300  # the message has room to be read
    row = next(
        i
        for i in range(t.rowCount())
        if t.item(i, 4).text() == "frequency_shift M1" and t.item(i, 1).text().startswith("2")
    )
    assert t.item(row, msg).toolTip() == LONG  # the whole text on hover and below


def test_damaged_feed_and_no_feed(window, site, tmp_path):
    data, path, _ = site
    (data / "alarms.jsonl").write_text('{"broken": \n{"also": broken}\n')
    assert window.open_path(path), window.last_error  # results alarms still shown
    assert window.alarms.table.rowCount() == 5
    (data / "alarms.jsonl").unlink()
    assert window.open_path(path)
    a = window.alarms.shown[0]
    window.alarms.acknowledge(a, "tech", "")
    assert json.loads(ack_path(data / "alarms.jsonl").read_text())["id"] == a["id"]
    assert np.isfinite(a["time_ns"])
