"""The alarms of the monitoring job's alarm states (:mod:`bshm.analysis.job_derive`):
the structural state, the trained conditions and the assessment (monitoring
interrupted), each with its plain-language message.
"""

from __future__ import annotations

from bshm.analysis.damage import structural_message, window_fields


def structural_alarm(ch, ixn, i, grades, ref, st, outside: bool):
    from bshm.alarms import Alarm

    name, mid, value, thr = grades.driver[i]
    if ch.new == 0:
        name, mid = "structural", None
    msg = structural_message(
        ch.new,
        ch.event,
        ixn,
        i,
        list(ref.ids),
        ref.frequency,
        st.window.channels,
        grades,
        k=st.persistence_k,
        n=st.persistence_n,
        m=st.clear_m,
        n_clear=st.clear_n,
        channel_x=st.channel_x or None,
        n_avg=st.average_windows,
        outside=outside,
    )
    fields = window_fields(ixn, i, list(ref.ids), grades)
    fields["from_level"] = ch.old
    return Alarm(
        ch.time_ns,
        ch.new,
        name or "structural",
        value,
        thr,
        mid,
        msg,
        None,
        st.station,
        kind="structural",
        subject="structural",
        event=ch.event,
        fields=fields,
    )


def conditions_alarm(ch, st, mv, env_new, i, why, chosen, new, proc):
    from bshm.alarms import Alarm

    cond = mv.chain[max(chosen, 0)].conditions
    vals = ", ".join(
        f"{n} = {env_new[n][i]:.1f} °C (trained {cond['vars'][n][0]:.1f}..{cond['vars'][n][1]:.1f})"
        for n in why
        if n in cond.get("vars", {}) and n in env_new
    )
    if "excitation" in why:
        vals = (vals + ", " if vals else "") + "excitation outside its trained range"
    if ch.new:
        msg = (
            "Outside the conditions the models were trained on"
            + (f": {vals}" if vals else "")
            + f" (model version {mv.version}). The structural judgement of these windows "
            "is less sensitive and cannot lower a structural alarm; extend the baseline "
            "with bshm analyze --extend-baseline FROM..TO once such a period is known to be "
            "normal."
        )
    else:
        msg = f"Back inside the trained conditions (model version {mv.version})."
    val = float(env_new[why[0]][i]) if why and why[0] in env_new else float("nan")
    return Alarm(
        ch.time_ns,
        ch.new,
        "conditions",
        val,
        float("nan"),
        None,
        msg,
        None,
        st.station,
        kind="monitoring",
        subject="monitoring:conditions",
        event=ch.event,
        fields={"outside": list(why), "model_version": mv.version},
    )


def assessment_alarm(ch, st, t, last, reason: str = ""):
    from bshm.alarms import Alarm
    from bshm.timeutil import to_iso

    hours = st.interrupted_after_s / 3600.0
    if ch.new:
        msg = (
            f"Monitoring interrupted: no assessable window for {hours:g} h"
            + (f" (since {to_iso(last, digits=0)})" if last is not None else "")
            + (f"; latest windows skipped: {reason}" if reason else "")
            + ". The structural state cannot be confirmed; check the sensors and the data."
        )
    else:
        msg = "Monitoring resumed: an assessable window again."
    return Alarm(
        ch.time_ns,
        ch.new,
        "assessment",
        float("nan"),
        hours,
        None,
        msg,
        None,
        st.station,
        kind="monitoring",
        subject="monitoring:assessment",
        event=ch.event,
    )
