"""Trained conditions, stated and extended (issue 16, item 3).

A compressed simulated year that starts in winter (40 days: winter, spring,
summer, autumn; a record every 6 h), analysed as cron would, every 4 days.
The models trained on the winter say when a window lies outside the
conditions they know; the baseline is extended through spring and summer
(``--extend-baseline``, new model versions, earlier ones kept); a 10 %
stiffness loss in autumn is then flagged within 72 h and nothing structural
is flagged before it. A period whose structural state was not normal is
refused. The full year runs in the ``slow`` test at the end.
"""

from __future__ import annotations

import sys
from pathlib import Path

import numpy as np
import pytest
from bshm.analysis.job import run_analysis

from bshm.errors import ConfigError
from bshm.store.results import open_results

sys.path.insert(0, str(Path(__file__).parent))
from test_job_support import (  # noqa: E402
    HOUR_NS,
    START_NS,
    copy_raw,
    end_ns,
    write_history,
    write_station,
)

EVERY_H = 6.0
DAYS = 40
N_REC = int(DAYS * 24 / EVERY_H)
DAMAGE_DAY = 32
DAY_NS = 24 * HOUR_NS
EXTENSIONS = {16: "2026-01-07..2026-01-16T12:00", 28: "2026-01-17..2026-01-27"}


def season(k: int) -> float:
    """Deck temperature: winter 0..6 degC, spring to 15, summer 15..25, autumn 18 to 8."""
    day = k * EVERY_H / 24.0
    mean = np.interp(day, [0, 8, 16, 26, 40], [3.0, 4.0, 15.0, 20.0, 8.0])
    return float(mean + 3.0 * np.sin(2 * np.pi * (k * EVERY_H - 9.0) / 24.0))


@pytest.fixture(scope="module")
def year(tmp_path_factory) -> Path:
    from bshm.fixtures.bridge import Damage

    out = tmp_path_factory.mktemp("season")
    dmg = Damage(x_m=35.0, length_m=8.0, severity=0.10, time_ns=START_NS + DAMAGE_DAY * DAY_NS)
    write_history(out, N_REC, every_h=EVERY_H, damage=dmg, seed=51, temp_fn=season)
    write_station(out, baseline_days=6.0)
    return out


@pytest.fixture(scope="module")
def cron(year, tmp_path_factory):
    """Runs every 4 days, extending the baseline after spring and after summer."""
    site = tmp_path_factory.mktemp("season-site")
    alarms, notes = [], []
    for day in range(4, DAYS + 1, 4):
        n = min(N_REC, int(day * 24 / EVERY_H))
        copy_raw(year, site, n_files=n)
        s = run_analysis(
            site, progress=False, now_ns=end_ns(n, EVERY_H), extend_baseline=EXTENSIONS.get(day)
        )
        alarms += s.alarms
        notes += s.notes
    return site, alarms, notes, s


def test_a_loss_in_autumn_is_flagged_within_72_h_and_nothing_before(cron):
    _, alarms, _, s = cron
    t_dmg = START_NS + DAMAGE_DAY * DAY_NS
    structural = [a for a in alarms if a["kind"] == "structural"]
    assert structural, alarms
    assert all(a["time_ns"] >= t_dmg for a in structural), structural
    first = min(a["time_ns"] for a in structural if a["level"] >= 1)
    assert first - t_dmg <= 72 * HOUR_NS
    assert s.state["subjects"]["structural"]["active"]


def test_outside_the_trained_conditions_is_said_and_extensions_are_versions(cron):
    site, alarms, notes, s = cron
    cond = [a for a in alarms if a["subject"] == "monitoring:conditions"]
    assert [a["event"] for a in cond] == ["raised", "cleared"]
    raised, cleared = cond
    assert raised["kind"] == "monitoring" and raised["level"] == 1
    assert "T1 =" in raised["message"] and "trained" in raised["message"]
    assert START_NS + 6 * DAY_NS < raised["time_ns"] < START_NS + 16 * DAY_NS  # in spring
    assert START_NS + 27 * DAY_NS < cleared["time_ns"] < START_NS + DAMAGE_DAY * DAY_NS
    assert sum("baseline extended" in n for n in notes) == 2
    assert s.models["version"] == 3
    with open_results(s.results_path) as r:
        versions = r.model_versions()
        ix = r.indices()
    assert [v["version"] for v in versions] == [1, 2, 3]
    assert [len(v["periods"]) for v in versions] == [1, 2, 3]
    lo, hi = versions[0]["chain"][0]["conditions"]["vars"]["T1"]
    lo3, hi3 = versions[2]["chain"][0]["conditions"]["vars"]["T1"]
    assert hi < 10 and hi3 > 20 and lo3 == lo  # the summer was learnt
    # every window records the version that judged it, in time order
    mv = ix["model_version"]
    assert np.all(np.diff(mv) >= 0) and set(mv.tolist()) == {1, 2, 3}
    spring = (ix["time_ns"] > START_NS + 12 * DAY_NS) & (ix["time_ns"] < START_NS + 16 * DAY_NS)
    assert not ix["inside"][spring].any()  # the winter models did not know spring
    autumn = ix["time_ns"] > START_NS + 30 * DAY_NS
    assert ix["inside"][autumn].all()


def test_a_period_with_an_active_alarm_is_not_learnt(cron, tmp_path):
    import shutil

    site = tmp_path / "site"
    shutil.copytree(cron[0], site)
    with pytest.raises(ConfigError, match="not normal"):
        run_analysis(
            site,
            progress=False,
            now_ns=end_ns(N_REC, EVERY_H),
            extend_baseline="2026-01-30..2026-02-09",
        )
    with pytest.raises(ConfigError, match="not judged yet"):
        run_analysis(
            site,
            progress=False,
            now_ns=end_ns(N_REC, EVERY_H),
            extend_baseline="2026-02-05..2026-03-01",
        )
    with open_results(next((site / "results").glob("*_results.h5"))) as r:
        assert len(r.model_versions()) == 3  # nothing learnt


@pytest.mark.slow
@pytest.mark.timeout(7200)
def test_a_simulated_year_starting_in_winter(tmp_path):
    """The full year: the simulator's seasonal temperature, a record every 6 h, runs every
    week, automatic baseline extension; a 10 % loss on 15 October is flagged within 72 h
    and nothing structural is flagged before it."""
    from bshm.fixtures.bridge import Damage
    from bshm.fixtures.temperature import TemperatureModel

    tm = TemperatureModel(4, mean_c=12.0, seasonal_amp_c=9.0)
    every = 6.0
    n_rec = int(365 * 24 / every)
    t_dmg = START_NS + 287 * DAY_NS  # 15 October

    def temp(k: int) -> float:
        return float(tm.temperature_at(START_NS + int(k * every * HOUR_NS))[0])

    src = tmp_path / "year"
    write_history(
        src,
        n_rec,
        every_h=every,
        seed=61,
        temp_fn=temp,
        damage=Damage(x_m=35.0, length_m=8.0, severity=0.10, time_ns=t_dmg),
    )
    write_station(src, baseline_days=21.0)
    site = tmp_path / "site"
    structural = []
    for day in range(7, 366, 7):
        n = min(n_rec, int(day * 24 / every))
        copy_raw(src, site, n_files=n)
        s = run_analysis(site, progress=False, now_ns=end_ns(n, every), extend_baseline="auto")
        structural += [a for a in s.alarms if a["kind"] == "structural"]
    assert s.models["version"] >= 2  # spring and summer were learnt automatically
    assert structural and all(a["time_ns"] >= t_dmg for a in structural), structural
    assert min(a["time_ns"] for a in structural) - t_dmg <= 72 * HOUR_NS
