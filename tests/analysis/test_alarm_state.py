"""One alarm state per subject, with hysteresis (issue 16, item 2).

The rule on hand-made windows, its rates against the binomial formulas
(Monte Carlo), and the real job on simulated histories: a persisting change
never clears, an undamaged history never raises.
"""

from __future__ import annotations

import sys
from pathlib import Path

import numpy as np
import pytest
from bshm.analysis.alarm_state import NO_CLEAR, Rule, SubjectState, binomial_tail

sys.path.insert(0, str(Path(__file__).parent))
from test_job_support import HOUR_NS, START_NS, copy_raw, end_ns, write_history, write_station  # noqa: E402

RULE = Rule(3, 5, 10, 12)


def _run(w, c=None, rule=RULE):
    s = SubjectState("structural", "structural")
    c = w if c is None else c
    out = []
    for i, (a, b) in enumerate(zip(w, c)):
        ch = s.feed(i, a, b, rule)
        if ch is not None:
            out.append((i, ch.event, ch.old, ch.new))
    return out, s


def test_raised_on_k_of_n_not_on_isolated_windows():
    ev, _ = _run([1, 0, 0, 0, 1, 0, 0, 0, 1, 0, 1, 0])
    assert ev == []  # never 3 of the last 5
    ev, s = _run([1, 0, 1, 0, 1])
    assert ev == [(4, "raised", 0, 1)]
    assert (s.level, s.since_ns) == (1, 4)


def test_escalates_at_once_and_clears_only_on_m_of_n():
    w = [2, 2, 2, 3, 3, 3] + [0] * 14
    ev, s = _run(w)
    assert ev[:2] == [(2, "raised", 0, 2), (5, "escalated", 2, 3)]
    # 10 of the last 12 windows below the clear limit: cleared at the 10th quiet window
    assert ev[2:] == [(15, "cleared", 3, 0)]
    assert s.level == 0


def test_de_escalates_step_by_step_and_never_below_the_evidence():
    # raised to 3, then windows clear of level 3 but not of level 2 (c = 2)
    w = [3, 3, 3] + [1] * 20
    c = [3, 3, 3] + [2] * 20
    ev, s = _run(w, c)
    assert ev == [(2, "raised", 0, 3), (12, "de-escalated", 3, 2)]
    assert s.level == 2  # c = 2 keeps it there: not clear of level 2


def test_windows_outside_the_trained_conditions_never_clear():
    w = [2, 2, 2] + [0] * 30
    c = [2, 2, 2] + [NO_CLEAR] * 30
    ev, s = _run(w, c)
    assert ev == [(2, "raised", 0, 2)]
    assert s.level == 2
    # evidence again: clears after 10 sound windows
    for i in range(10):
        ch = s.feed(100 + i, 0, 0, RULE)
    assert ch is not None and ch.event == "cleared"


def test_state_round_trips_through_json():
    import json

    _, s = _run([2, 2, 2, 0, 0])
    s2 = SubjectState.from_dict(json.loads(json.dumps(s.to_dict())))
    for i in range(12):
        a, b = s.feed(10 + i, 0, 0, RULE), s2.feed(10 + i, 0, 0, RULE)
        assert (a, s.level) == (b, s2.level)
    with pytest.raises(ValueError, match="impossible"):
        Rule(4, 3, 1, 1)


def test_false_alarm_and_false_clear_rates_match_the_binomial_formulas(rng):
    """The rates documented in docs/monitoring.md, checked by Monte Carlo."""
    n = 400_000
    # undamaged: each window exceeds the level-1 raise limit with p = 0.05
    p = 0.05
    w = (rng.random(n) < p).astype(int)
    hit = np.convolve(w, np.ones(5, int), "valid") >= 3  # 3 of the last 5
    assert hit.mean() == pytest.approx(binomial_tail(p, 3, 5), rel=0.15)
    # a persisting change: each window is below the clear limit with q = 0.3
    q = 0.3
    c = (rng.random(n) < q).astype(int)
    clear = np.convolve(c, np.ones(12, int), "valid") >= 10  # 10 of the last 12
    assert clear.mean() == pytest.approx(binomial_tail(q, 10, 12), rel=0.5)
    assert binomial_tail(q, 10, 12) < 3e-4
    assert binomial_tail(0.01, 3, 5) == pytest.approx(9.85e-6, rel=1e-3)


# ---------------------------------------------------------------- the real job
EVERY_H = 2.0


def _history(root: Path, n: int, damage_rec: int | None, seed: int) -> Path:
    from bshm.fixtures.bridge import Damage

    dmg = None
    if damage_rec is not None:
        dmg = Damage(
            x_m=35.0,
            length_m=8.0,
            severity=0.10,
            time_ns=START_NS + int(damage_rec * EVERY_H * HOUR_NS),
        )
    write_history(root, n, every_h=EVERY_H, damage=dmg, seed=seed, temp_fn=_mild)
    write_station(root)
    return root


def _mild(k: int) -> float:
    """Daily cycle only: stays inside the trained conditions."""
    return 4.0 + 4.0 * np.sin(2 * np.pi * (k * EVERY_H - 9.0) / 24.0)


def test_a_persisting_change_never_clears(tmp_path):
    """A 10 % stiffness loss over 8 m (M1 -1.6 %) from day 2 on, three more days of runs."""
    from bshm.analysis.job import run_analysis

    d = _history(tmp_path / "dmg", 60, damage_rec=24, seed=31)
    events = []
    for n in (30, 36, 42, 48, 54, 60):
        part = copy_raw(d, tmp_path / "site", n_files=n)
        s = run_analysis(part, progress=False, now_ns=end_ns(n, EVERY_H))
        events += [
            (a["time_ns"], a["event"], a["level"]) for a in s.alarms if a["kind"] == "structural"
        ]
    t_dmg = START_NS + int(24 * EVERY_H * HOUR_NS)
    assert events and events[0][1] == "raised"
    assert events[0][0] >= t_dmg  # nothing before the damage
    assert events[0][0] <= t_dmg + 24 * HOUR_NS
    assert not [e for e in events if e[1] in ("cleared", "de-escalated")], events
    assert s.state["subjects"]["structural"]["active"]


def test_an_undamaged_history_never_raises(tmp_path):
    from bshm.analysis.job import run_analysis

    d = _history(tmp_path / "ok", 60, damage_rec=None, seed=32)
    s = run_analysis(d, progress=False, now_ns=end_ns(60, EVERY_H))
    assert s.judged == 60
    assert [a for a in s.alarms if a["kind"] == "structural"] == []
    from bshm.store.results import open_results

    with open_results(s.results_path) as r:
        ix = r.indices()
    assert int(ix["level"].max()) == 0
    assert ix["inside"][12:].mean() > 0.9  # the mild history stays in its conditions
