"""The alarm feed is an outbox: a real ``bshm analyze`` killed with SIGKILL at chosen points.

``BSHM_TEST_KILL_AT`` makes the process kill itself with SIGKILL at an exact
point of a real run (``after-results``: the results and their alarms are
saved, the feed is not written; ``after-feed``: the feed is written, the
delivery is not committed). The next run must deliver every stored alarm
exactly once, list it in ``--json`` and count it in the exit code.
"""

from __future__ import annotations

import json
import os
import signal
import subprocess
import sys
from pathlib import Path

import pytest

from bshm.store.results import open_results

sys.path.insert(0, str(Path(__file__).parent))
from test_job_support import HOUR_NS, START_NS, copy_raw, write_history, write_station  # noqa: E402

BSHM = str(Path(sys.executable).with_name("bshm"))
N_REC, EVERY_H, DAMAGE_REC = 22, 2.0, 15


@pytest.fixture(scope="module")
def history(tmp_path_factory) -> Path:
    from bshm.fixtures.bridge import Damage

    out = tmp_path_factory.mktemp("outbox-hist")
    dmg = Damage(
        x_m=35.0,
        length_m=4.0,
        severity=0.45,
        time_ns=START_NS + int(DAMAGE_REC * EVERY_H * HOUR_NS),
    )
    write_history(out, N_REC, every_h=EVERY_H, damage=dmg, seed=5)
    write_station(out)
    return out


def _analyze(d: Path, *args: str, kill_at: str | None = None) -> subprocess.CompletedProcess:
    env = dict(os.environ)
    env.pop("BSHM_TEST_KILL_AT", None)
    if kill_at:
        env["BSHM_TEST_KILL_AT"] = kill_at
    return subprocess.run(
        [BSHM, "analyze", str(d), "--no-progress", *args],
        capture_output=True,
        text=True,
        timeout=600,
        env=env,
    )


def _feed(d: Path) -> list[dict]:
    p = d / "alarms.jsonl"
    return [json.loads(x) for x in p.read_text().splitlines()] if p.exists() else []


def _stored(d: Path) -> list[dict]:
    with open_results(d / "results" / "sim-bridge_results.h5") as r:
        return r.alarms()


def test_killed_after_results_the_next_run_delivers_and_counts(history, tmp_path):
    d = copy_raw(history, tmp_path / "a")
    r = _analyze(d, "--json", kill_at="after-results")
    assert r.returncode == -signal.SIGKILL, r.stderr
    stored = _stored(d)
    assert stored, "the killed run saved its results and alarms"
    assert any(a["kind"] == "structural" and a["level"] >= 2 for a in stored)
    assert _feed(d) == []  # ... but never wrote the feed
    r = _analyze(d, "--json", "--fail-on-alarm", "1")
    assert r.returncode == 3, r.stderr
    out = json.loads(r.stdout)
    assert out["windows"]["processed"] == 0  # nothing left to identify
    assert [a["id"] for a in out["alarms"]] == [a["id"] for a in stored]
    feed = _feed(d)
    assert sorted(a["id"] for a in feed) == sorted(a["id"] for a in stored)
    assert all(a["id"] and a["kind"] for a in feed)
    assert out["state"]["kinds"]["structural"]["active"]
    # delivered once: the next run has nothing to deliver and exits 0
    r = _analyze(d, "--json", "--fail-on-alarm", "1")
    assert r.returncode == 0, r.stderr
    assert json.loads(r.stdout)["alarms"] == []
    assert len(_feed(d)) == len(stored)


def test_killed_after_the_feed_nothing_is_written_twice(history, tmp_path):
    d = copy_raw(history, tmp_path / "b")
    r = _analyze(d, "--json", kill_at="after-feed")
    assert r.returncode == -signal.SIGKILL, r.stderr
    first = _feed(d)
    assert first and len({a["id"] for a in first}) == len(first)
    r = _analyze(d, "--json", "--fail-on-alarm", "warning")
    assert r.returncode == 3, r.stderr  # never reported by the killed run: reported now
    out = json.loads(r.stdout)
    assert {a["id"] for a in out["alarms"]} == {a["id"] for a in first}
    assert _feed(d) == first  # not written again


def test_a_torn_feed_line_is_cut_and_delivered_again(history, tmp_path):
    d = copy_raw(history, tmp_path / "c")
    r = _analyze(d, kill_at="after-feed")
    assert r.returncode == -signal.SIGKILL
    text = (d / "alarms.jsonl").read_text()
    lines = text.splitlines(keepends=True)
    torn = "".join(lines[:-1]) + lines[-1][: len(lines[-1]) // 2]  # a crash mid-line
    (d / "alarms.jsonl").write_text(torn)
    r = _analyze(d, "--json")
    assert r.returncode == 0, r.stderr
    feed = _feed(d)  # every line parses again
    assert [a["id"] for a in feed] == [json.loads(x)["id"] for x in lines]
