"""Extending the baseline: new seasons into the training set, safely.

``bshm analyze --extend-baseline FROM..TO`` adds the period to the training
set of the compensation and novelty models and trains a new *model
version* on the union of the periods, but only when

* the models are trained and the whole period has already been judged;
* the structural alarm state was normal (level 0) throughout the period,
  and at its start;
* the period holds at least :data:`MIN_WINDOWS` assessable windows.

The reference modal set (the mode ids) is kept. Earlier versions stay in
``/state/model_versions``; windows judged from now on record the new
version (``/indices/model_version``). Results already reported do not change.

``--extend-baseline auto`` proposes the period from the end of the last
training period to :data:`AUTO_GUARD_DAYS` before the latest judged window,
and extends only when it is at least :data:`AUTO_MIN_DAYS` long, normal
throughout, and holds at least :data:`AUTO_MIN_OUTSIDE` windows outside the
current trained conditions (new conditions worth learning). Automatic
extension can absorb a change that develops slowly enough to stay below
the limits for the guard period: it is off unless asked for.
"""

from __future__ import annotations

import json
import logging
from typing import Any

import numpy as np
from bshm.analysis.job_models import ModelVersion, in_periods, train_chain

from bshm.errors import ConfigError

log = logging.getLogger(__name__)

DAY_NS = 86_400 * 1_000_000_000
MIN_WINDOWS = 10
AUTO_GUARD_DAYS = 3.0
AUTO_MIN_DAYS = 7.0
AUTO_MIN_OUTSIDE = 10


def extend(w: Any, st: Any, text: str, now_ns: int) -> list[str]:
    """Extend the training set with a period (or ``"auto"``); return notes for the user.

    Raises
    ------
    ConfigError
        The request is refused (explicit period only); the message says why.
    """
    from bshm.analysis.job_config import parse_baseline

    from bshm.timeutil import to_iso

    job = w.read_json("job", {}) or {}
    auto = text.strip().lower() == "auto"
    if not job.get("trained"):
        if auto:  # nothing to extend yet: the baseline period itself is still training
            return []
        raise ConfigError(
            "--extend-baseline: the models are not trained yet (the baseline period is not "
            "complete), there is nothing to extend"
        )
    ix = w.rows("indices")
    if auto:
        period = _auto_period(job, ix)
        if period is None:
            return []
    else:
        a, b = parse_baseline(text)
        if a is None:
            raise ConfigError("--extend-baseline: give the start of the period, FROM..TO")
        period = (int(a), int(b) if b is not None else int(job["last_start"]) + 1)
    why = _refusal(job, ix, period)
    span = f"{to_iso(period[0], digits=0)}..{to_iso(period[1], digits=0)}"
    if why:
        if auto:
            return [f"automatic baseline extension over {span} not done: {why}"]
        raise ConfigError(f"--extend-baseline {span}: refused: {why}")
    mv = _train_version(w, st, job, period, now_ns)
    job["periods"] = mv.periods
    w.write_json("job", job)
    msg = (
        f"baseline extended with {span} ({'automatically, ' if auto else ''}"
        f"{mv.n_windows} training windows in all): model version {mv.version}, trained "
        f"conditions {mv.conditions_text()}; it judges the windows from the next run on"
    )
    log.info("%s", msg)
    return [msg]


def _refusal(job: dict[str, Any], ix: dict[str, np.ndarray], period: tuple[int, int]) -> str:
    from bshm.timeutil import to_iso

    a, b = period
    if b <= a:
        return "the period is empty"
    last = job.get("last_start")
    if last is None or b > int(last) + 1:
        return (
            "the period is not judged yet (latest judged window "
            f"{to_iso(int(last), digits=0) if last is not None else 'none'})"
        )
    if not ix:
        return "no judged window"
    t = ix["time_ns"]
    sel = (t >= a) & (t < b)
    before = np.flatnonzero(t < a)
    lv = ix["level"][sel]
    if before.size and int(ix["level"][before[-1]]) > 0:
        lv0 = int(ix["level"][before[-1]])
        return f"the structural alarm was active (level {lv0}) at its start"
    if lv.size and int(lv.max()) > 0:
        first = t[sel][np.argmax(lv > 0)]
        return (
            f"the structural alarm state was not normal in it (level {int(lv.max())} from "
            f"{to_iso(int(first), digits=0)}): a period that may hold a change is not learnt"
        )
    ok = ix["assessable"][sel] if "assessable" in ix else np.ones(int(sel.sum()), bool)
    if int(ok.sum()) < MIN_WINDOWS:
        return f"only {int(ok.sum())} assessable windows in it (at least {MIN_WINDOWS} needed)"
    return ""


def _auto_period(job: dict[str, Any], ix: dict[str, np.ndarray]) -> tuple[int, int] | None:
    if not ix or job.get("last_start") is None:
        return None
    start = max(int(p[1]) for p in job["periods"])
    end = int(job["last_start"]) - int(AUTO_GUARD_DAYS * DAY_NS)
    if end - start < AUTO_MIN_DAYS * DAY_NS:
        return None
    t = ix["time_ns"]
    sel = (t >= start) & (t < end)
    if "inside" in ix and int((~ix["inside"][sel].astype(bool)).sum()) < AUTO_MIN_OUTSIDE:
        return None  # nothing new to learn
    return start, end


def _train_version(
    w: Any, st: Any, job: dict[str, Any], period: tuple[int, int], now_ns: int
) -> ModelVersion:
    """Train a new version on the union of the training periods and store it."""
    from bshm.analysis.job_derive import _write_current_models

    periods = [list(map(int, p)) for p in job["periods"]] + [list(map(int, period))]
    lo = min(p[0] for p in periods) - DAY_NS  # a day before: the lagged temperatures
    hi = max(p[1] for p in periods)
    tr = w.rows("tracks", start_ns=lo, end_ns=hi)
    win = w.rows("windows", start_ns=lo, end_ns=hi)
    env_rows = w.rows("environment", start_ns=lo, end_ns=hi)
    names = json.loads(w.f["environment"].attrs["names"])
    t = tr["time_ns"]
    order = np.argsort(win["start_ns"])
    pos = np.searchsorted(win["start_ns"][order], t)
    rms = win["rms"][order][pos]
    eo = np.argsort(env_rows["start_ns"])
    epos = np.searchsorted(env_rows["start_ns"][eo], t)
    vals = env_rows["values"][eo][epos]
    env = {n: vals[:, i].astype(float) for i, n in enumerate(names)}
    base = in_periods(t, periods)
    notes: list[str] = []
    chain = train_chain(t, tr["frequency"], tr["mac"], env, rms, base, st, notes)
    versions = w.read_json("model_versions", [])
    mv = ModelVersion(
        len(versions) + 1, int(now_ns), periods, chain, int(base.sum()), "; ".join(notes)
    )
    versions.append(mv.to_dict())
    w.write_json("model_versions", versions)
    _write_current_models(w, st, mv)
    return mv
