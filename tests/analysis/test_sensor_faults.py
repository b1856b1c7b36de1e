"""Sensor faults never become statements about the bridge (issue 11, item 3).

Each fault of the issue is appended, for a day, to a damaged history whose
structural alarm is already raised: the structural alarm level must hold
(a window that cannot be assessed never lowers it), a *sensor* alarm must
name the channel, the failed channel must be excluded (compensation falls
back to another temperature or the output-only model), and Miner damage
must never become absurd. No assessable window for a day raises
"monitoring interrupted"; so does no new raw data.
"""

from __future__ import annotations

import shutil
import sys
from pathlib import Path

import numpy as np
import pytest
from bshm.analysis.job import run_analysis

from bshm.store.results import open_results

sys.path.insert(0, str(Path(__file__).parent))
from test_job_support import (  # noqa: E402
    HOUR_NS,
    START_NS,
    end_ns,
    write_history,
    write_station,
)

N_BASE, EVERY_H, DAMAGE_REC, DAY = 26, 2.0, 13, 12  # 12 records of 2 h = one day
SEED = 17


def _damage():
    from bshm.fixtures.bridge import Damage

    return Damage(
        x_m=35.0,
        length_m=4.0,
        severity=0.45,
        time_ns=START_NS + int(DAMAGE_REC * EVERY_H * HOUR_NS),
    )


def _results(d: Path):
    return open_results(d / "results" / "sim-bridge_results.h5")


@pytest.fixture(scope="module")
def alarmed(tmp_path_factory) -> tuple[Path, int, float]:
    """A damaged history, analysed: the structural alarm is raised."""
    d = tmp_path_factory.mktemp("alarmed")
    write_history(d, N_BASE, every_h=EVERY_H, damage=_damage(), strain=True, seed=SEED)
    write_station(d, strain=True)
    run_analysis(d, progress=False, now_ns=end_ns(N_BASE, EVERY_H))
    with _results(d) as r:
        level = r.alarm_state()["subjects"]["structural"]["level"]
        damage = float(np.sum(r.fatigue()["S1"]["miner_damage"]))
    assert level >= 2
    return d, level, damage


def _continue(alarmed, tmp_path, fault, n_more: int = DAY):
    """Append ``n_more`` records with ``fault`` applied to a copy of the alarmed history, analyse."""
    d = tmp_path / "site"
    shutil.copytree(alarmed[0], d)
    n = N_BASE + n_more
    write_history(
        d,
        n,
        first=N_BASE,
        every_h=EVERY_H,
        damage=_damage(),
        strain=True,
        seed=SEED,
        fault=fault,
    )
    s = run_analysis(d, progress=False, now_ns=end_ns(n, EVERY_H))
    return d, s


def _nan_temperature(k, data):
    data["env"][:, 0] = np.nan


def _temperature_1e30(k, data):
    data["env"][:, 0] = 1e30


def _strain_1e30(k, data):
    data["strain"][:, 0] *= 1e30


def _acc_1e30(k, data):
    data["acc"][:, 2] *= 1e30


def _acc_dead(k, data):
    data["acc"][:, 2] = 0.0


def _acc_flat(k, data):
    data["acc"][:, 2] = 0.0123


def _acc_clipped(k, data):
    m = 0.3 * np.abs(data["acc"][:, 2]).max()
    data["acc"][:, 2] = np.clip(data["acc"][:, 2], -m, m)


@pytest.mark.parametrize(
    ("fault", "channel", "check"),
    [
        (_nan_temperature, "T1", "dropouts"),
        (_temperature_1e30, "T1", "range"),
        (_strain_1e30, "S1", "range"),
        (_acc_1e30, "A03", "range"),
        (_acc_dead, "A03", "dead"),
        (_acc_flat, "A03", "dead"),
        (_acc_clipped, "A03", "clipping"),
    ],
    ids=["T-nan", "T-1e30", "strain-x1e30", "acc-x1e30", "acc-dead", "acc-flat", "acc-clipped"],
)
def test_a_failed_sensor_raises_a_sensor_alarm_and_the_structural_alarm_holds(
    alarmed, tmp_path, fault, channel, check
):
    _, level_before, damage_before = alarmed
    d, s = _continue(alarmed, tmp_path, fault)
    # the structural state holds: never lowered by the fault windows
    structural = [a for a in s.alarms if a["kind"] == "structural"]
    assert not [a for a in structural if a["event"] in ("cleared", "de-escalated")], structural
    assert s.state["subjects"]["structural"]["level"] >= level_before
    # a sensor alarm names the channel; nothing else calls it the bridge
    sensor = [a for a in s.alarms if a["kind"] == "sensor"]
    assert [(a["subject"], a["channel"], a["event"], a["level"]) for a in sensor] == [
        (f"sensor:{channel}", channel, "raised", 2)
    ], sensor
    assert sensor[0]["index"] == check
    assert channel in sensor[0]["message"]
    assert s.state["kinds"]["sensor"]["subjects"] == [f"sensor:{channel}"]
    assert not [a for a in s.alarms if a["kind"] == "threshold"]
    with _results(d) as r:
        ix = r.indices()
        ft = r.features()
        fat = r.fatigue()
        w = r.windows()
    new = ix["time_ns"] >= START_NS + int(N_BASE * EVERY_H * HOUR_NS)
    # the day's windows were judged (the failed channel excluded), not skipped
    assert new.sum() == DAY
    assert ix["assessable"][new].all()
    names = ft["compensation_names"]
    if channel == "T1":  # compensation fell back to the other temperature
        assert {names[c] for c in ft["compensation"][new]} == {"mlr:T2"}
    else:
        assert {names[c] for c in ft["compensation"][new]} == {"mlr:T1"}
    if channel.startswith("A"):
        assert set(w["excluded"][-DAY:]) == {channel}
    # Miner damage stays plausible: the failed gauge's windows are not counted
    total = float(np.sum(fat["S1"]["miner_damage"]))
    assert np.isfinite(total)
    assert damage_before <= total <= 1.6 * damage_before


def test_no_assessable_window_for_a_day_raises_monitoring_interrupted(alarmed, tmp_path):
    def all_dead(k, data):
        data["acc"][:] = 0.0

    _, level_before, _ = alarmed
    d, s = _continue(alarmed, tmp_path, all_dead, n_more=14)
    assert s.skipped == {"flat": 14}
    mon = [a for a in s.alarms if a["subject"] == "monitoring:assessment"]
    assert [(a["event"], a["level"]) for a in mon] == [("raised", 2)]
    assert "no assessable window" in mon[0]["message"]
    assert s.state["subjects"]["structural"]["level"] == level_before  # never lowered
    assert {a["subject"] for a in s.alarms if a["kind"] == "sensor"} == {
        f"sensor:A0{i}" for i in range(1, 9)
    }
    # the accelerometers recover: monitoring resumes, the damage is still reported
    write_history(
        d, N_BASE + 20, first=N_BASE + 14, every_h=EVERY_H, damage=_damage(), strain=True, seed=SEED
    )
    s = run_analysis(d, progress=False, now_ns=end_ns(N_BASE + 20, EVERY_H))
    assert ("monitoring:assessment", "cleared") in {(a["subject"], a["event"]) for a in s.alarms}
    assert s.state["subjects"]["structural"]["level"] >= level_before


def test_no_new_raw_data_raises_monitoring_interrupted(alarmed, tmp_path):
    d = tmp_path / "quiet"
    shutil.copytree(alarmed[0], d)
    later = end_ns(N_BASE, EVERY_H) + 30 * HOUR_NS  # a day and more without data
    s = run_analysis(d, progress=False, now_ns=later)
    mon = [a for a in s.alarms if a["subject"] == "monitoring:data"]
    assert [(a["event"], a["level"]) for a in mon] == [("raised", 2)]
    assert "no new raw data since" in mon[0]["message"]
    assert s.state["kinds"]["monitoring"]["active"]
    s = run_analysis(d, progress=False, now_ns=later + HOUR_NS)
    assert s.alarms == []  # one state: not raised again
    write_history(
        d, N_BASE + 16, first=N_BASE, every_h=EVERY_H, damage=_damage(), strain=True, seed=SEED
    )
    s = run_analysis(d, progress=False, now_ns=end_ns(N_BASE + 16, EVERY_H))
    assert [(a["subject"], a["event"]) for a in s.alarms if a["subject"] == "monitoring:data"] == [
        ("monitoring:data", "cleared")
    ]
    assert not s.state["subjects"]["monitoring:data"]["active"]
