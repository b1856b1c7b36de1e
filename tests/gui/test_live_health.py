"""Defect 2: a lost device is impossible to miss.

A real writer process keeps its file open but stops writing (a silent
device); the clock is injected so the test does not wait for it.
"""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

import pytest

HERE = Path(__file__).parent
NS = 10**9


@pytest.fixture
def silent_writer(tmp_path):
    proc = subprocess.Popen(
        [sys.executable, str(HERE / "live_writer.py"), str(tmp_path), "1.5", "100", "3", "--hold"],
        stdin=subprocess.PIPE,
        stdout=subprocess.PIPE,
        text=True,
    )
    assert proc.stdout.readline().strip() == "started"
    yield tmp_path, proc
    if proc.poll() is None:
        proc.stdin.write("quit\n")
        proc.stdin.flush()
    proc.wait(timeout=30)
    proc.stdin.close()
    proc.stdout.close()


def _say(proc, line: str, expect: str) -> None:
    proc.stdin.write(line + "\n")
    proc.stdin.flush()
    assert proc.stdout.readline().strip() == expect


def test_recording_stale_lost_and_back(window, silent_writer, qtbot):
    folder, proc = silent_writer
    assert proc.stdout.readline().strip() == "written"
    assert window.open_path(folder), window.last_error
    assert window.session.live and window.live.running
    window.notify_action.setChecked(True)
    window.session.refresh()
    last = window.session.span("acc")[1]
    lost = []
    window.sig_source_lost.connect(lost.append)
    src = window.tree.source_item("acc")

    states = window.update_live_states(now_ns=last + NS // 2)
    assert states["acc"].state == "recording"
    assert window.mode_label.text() == "● LIVE"
    assert src.text(1).startswith("recording")
    assert window.state_label.text() == "all 1 sources recording"
    assert not window.live.stale

    states = window.update_live_states(now_ns=last + 10 * NS)
    assert states["acc"].state == "stale"
    assert src.text(1) == "stale 10 s"
    assert window.state_label.text() == "stale 10 s: acc"
    assert "#ffb74d" in window.state_label.styleSheet()
    assert window.mode_label.text() == "LIVE: DELAYED"
    # traces greyed, banner in the live view, channel rows no longer "ok"
    assert window.live.stale
    assert all(c.opts["pen"].color().name() == "#9e9e9e" for c in window.live.curves)
    assert "DATA DELAYED" in window.live.info.text()
    assert {src.child(i).text(1) for i in range(src.childCount())} == {"suspect: no new data"}

    states = window.update_live_states(now_ns=last + 45 * NS)
    assert states["acc"].state == "lost"
    assert src.text(1) == "LOST 45 s"
    assert "#c62828" in window.state_label.styleSheet()
    assert window.mode_label.text() == "LIVE: NO NEW DATA"
    assert "NO NEW DATA from acc" in window.live.info.text()
    assert "45 s" in window.live.info.text()
    assert lost == ["acc"] and len(window.notifications) == 1
    window.update_live_states(now_ns=last + 50 * NS)
    assert lost == ["acc"]  # told once, not every second
    assert window.tree.text_fits() == []

    # the recorder logs a reconnect: "reconnecting", not just stale
    _say(proc, "reconnect", "ok")
    window.session.refresh()
    states = window.update_live_states(now_ns=last + 12 * NS)
    assert states["acc"].state == "reconnecting"

    # data again: recording, colours back
    states = window.update_live_states(now_ns=last + NS // 2)
    assert states["acc"].state == "recording"
    assert not window.live.stale
    assert window.live.curves[0].opts["pen"].color().name() != "#9e9e9e"


def test_closed_file_is_lost(window, silent_writer, qtbot):
    folder, proc = silent_writer
    assert proc.stdout.readline().strip() == "written"
    assert window.open_path(folder), window.last_error
    window.live.stop()  # the state timer then refreshes the files itself
    window.session.refresh()
    last = window.session.span("acc")[1]
    proc.stdin.write("quit\n")
    proc.stdin.flush()
    proc.wait(timeout=30)
    qtbot.waitUntil(lambda: not any(folder.glob("*.part")), timeout=20000)
    states = window.update_live_states(now_ns=last + 5 * NS)
    assert states["acc"].state == "lost"
    assert "closed its file" in states["acc"].why
    assert window.mode_label.text() == "LIVE: NO NEW DATA"


def test_classify_rules():
    from bshm.gui.livehealth import classify, summary

    assert classify("a", 0.5, 100.0).state == "recording"
    assert classify("slow", 4.5, 1.0).state == "recording"  # 1 Hz: two periods of slack
    assert classify("a", 6.0, 100.0).state == "stale"
    assert classify("a", 6.0, 100.0, reconnecting=True).state == "reconnecting"
    assert classify("a", 31.0, 100.0).state == "lost"
    assert classify("a", float("inf"), 100.0).state == "lost"
    assert classify("a", 6.0, 100.0, writing=False).state == "lost"
    lvl, text = summary({"a": classify("a", 40, 100.0), "b": classify("b", 0.1, 100.0)})
    assert lvl == 2 and text == "LOST 40 s: a"
    lvl, text = summary(
        {"a": classify("a", 40, 1.0), "c": classify("c", 90, 1.0), "b": classify("b", 6, 100.0)}
    )
    assert text == "LOST 90 s: a, c · stale 6.0 s: b"
