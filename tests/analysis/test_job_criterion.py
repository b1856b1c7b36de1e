"""The acceptance criterion of the monitoring issue, end to end (slow: ~6 min on 2 cores).

A 60-day simulated history (3-hourly 10-minute records, January-February:
daily and seasonal temperature swings with frost), a local stiffness loss
of 10 % over 2 m at mid-span injected at day 40.5 (largest frequency shift
0.46 %, mode 1). With the default settings (14-day baseline, 3-of-5
persistence, alpha 1e-2/1e-3/1e-4): no alarm above level 1 between the end
of the baseline and the damage, and an alarm of level 2 or more within 48 h
of the damage.
"""

from __future__ import annotations

import numpy as np
import pytest
from bshm.analysis.job import run_analysis

DAY_NS = 86_400 * 10**9
START_NS = 1_767_225_600_000_000_000  # 2026-01-01


@pytest.mark.slow
@pytest.mark.timeout(3600)
def test_sixty_days_no_false_alarm_and_damage_found_within_48h(tmp_path):
    from bshm.fixtures.bridge import BridgeModel, Damage
    from bshm.fixtures.history import simulate_history

    t_dmg = START_NS + int(40.5 * DAY_NS)
    dmg = Damage(x_m=35.0, length_m=2.0, severity=0.1, time_ns=t_dmg)
    m = BridgeModel()
    f0 = m.modal_truth(10.0).frequencies
    f1 = m.modal_truth(10.0, dmg).frequencies
    assert 0.3 < np.max(100 * (f0 - f1) / f0) <= 0.5  # a shift of 0.5 % or less
    simulate_history(
        tmp_path,
        60,
        start_ns=START_NS,
        every_s=3 * 3600,
        record_s=600,
        damage=dmg,
        seed=0,
        workers=2,
    )
    # analysed as if live at the end of the history (no "no new data" alarm)
    s = run_analysis(tmp_path, workers=2, progress=False, now_ns=START_NS + 60 * DAY_NS)
    assert s.processed >= 470
    assert s.baseline_complete
    baseline_end = s.baseline[1]
    structural = [a for a in s.alarms if a["kind"] == "structural"]
    false = [a for a in structural if baseline_end <= a["time_ns"] < t_dmg and a["level"] > 1]
    assert not false, false
    hits = [a for a in structural if a["time_ns"] >= t_dmg and a["level"] > 1]
    assert hits, s.alarms
    assert min(a["time_ns"] for a in hits) - t_dmg <= 2 * DAY_NS
