"""HTML of the station report: page frame, CSS, tables and badges.

The sections themselves are in :mod:`bshm.analysis.report_sections`.
Every section is a ``<section id="...">`` with a heading, a short
explanation of what the numbers mean, and its figures (inline SVG) and
tables. The CSS is embedded; there is no JavaScript.
"""

from __future__ import annotations

import math
from collections.abc import Sequence
from html import escape
from typing import Any

from bshm.analysis.report_svg import LEVEL_COLORS

from bshm.timeutil import to_iso

SECTIONS = (
    "summary",
    "sensors",
    "availability",
    "frequencies",
    "campaign",
    "damage",
    "alarms",
    "strain",
    "fatigue",
    "glossary",
)
_LEVEL = {0: "normal", 1: "advisory", 2: "warning", 3: "critical"}
_STATUS = {
    "ok": "#2e7d32",
    "suspect": "#ef6c00",
    "warning": "#ef6c00",
    "failed": "#c62828",
    "fault": "#c62828",
}

CSS = """
body{font-family:Segoe UI,Helvetica,Arial,sans-serif;margin:0;color:#222;background:#fafafa}
main{max-width:1000px;margin:auto;padding:16px 28px;background:#fff}
h1{margin:8px 0 2px}h2{border-bottom:2px solid #1f4e79;color:#1f4e79;padding-bottom:3px;
margin-top:34px}h3{margin:18px 0 6px}
p.explain{background:#eef4fa;border-left:4px solid #1f4e79;padding:8px 12px;margin:8px 0}
table{border-collapse:collapse;margin:8px 0;font-size:13px}
th,td{border:1px solid #ccc;padding:3px 7px;text-align:left;vertical-align:top}
th{background:#f0f0f0}td.num{text-align:right;font-variant-numeric:tabular-nums}
.badge{display:inline-block;padding:1px 8px;border-radius:9px;color:#fff;font-size:12px}
svg.chart{display:inline-block;vertical-align:top;margin:6px 6px 6px 0;background:#fff}
svg text{font-size:11px;fill:#333}
svg text.title{font-size:13px;font-weight:bold}svg text.nodata{fill:#888;font-style:italic}
svg .grid{stroke:#e6e6e6}svg .frame{fill:none;stroke:#999}
.cards{display:flex;flex-wrap:wrap;gap:10px}.card{border:1px solid #ddd;border-radius:6px;
padding:8px 12px;min-width:170px}.card b{font-size:20px;display:block}
.note{color:#666;font-size:13px}nav a{margin-right:10px}
table.headline{font-size:15px;width:100%}table.headline th{background:#1f4e79;color:#fff;
vertical-align:top}table.headline td{background:#fffdf0}
svg.chart{max-width:100%;height:auto}
@page{size:A4;margin:14mm 12mm}
@media print{main{max-width:none;padding:0}body{background:#fff}
section{page-break-inside:auto}svg.chart,table.headline{page-break-inside:avoid}
h2{page-break-after:avoid}}
"""


def badge(text: str, color: str) -> str:
    """A coloured label."""
    return f'<span class="badge" style="background:{color}">{escape(text)}</span>'


def level_badge(level: int) -> str:
    """Badge of an alarm level."""
    return badge(_LEVEL.get(int(level), str(level)), LEVEL_COLORS.get(int(level), "#777"))


def table(headers: Sequence[str], rows: Sequence[Sequence[Any]], num: Sequence[int] = ()) -> str:
    """An HTML table; cells are escaped unless they are ``Markup`` (str subclass)."""
    head = "".join(f"<th>{escape(h)}</th>" for h in headers)
    body = []
    for r in rows:
        cells = []
        for j, c in enumerate(r):
            txt = c if isinstance(c, Markup) else escape(_num(c))
            cls = ' class="num"' if j in num else ""
            cells.append(f"<td{cls}>{txt}</td>")
        body.append("<tr>" + "".join(cells) + "</tr>")
    return f"<table><thead><tr>{head}</tr></thead><tbody>{''.join(body)}</tbody></table>"


class Markup(str):
    """A string that is already HTML."""


def _num(v: Any) -> str:
    if isinstance(v, float):
        if not math.isfinite(v):
            return "-" if math.isnan(v) else ("infinite" if v > 0 else "-infinite")
        return f"{v:.4g}"
    return str(v)


def _day(ns: int) -> str:
    return to_iso(int(ns))[:10]


def _time(ns: int | None) -> str:
    return "-" if ns is None else to_iso(int(ns))[:19].replace("T", " ")


def _section(sid: str, title: str, explain: str, body: str) -> str:
    return (
        f'<section id="{sid}"><h2>{escape(title)}</h2>'
        f'<p class="explain">{explain}</p>{body}</section>'
    )


def render(d: Any) -> str:
    """Render a :class:`bshm.analysis.report.ReportData` as one HTML page."""
    from bshm.analysis.report_sections import SECTION_FUNCTIONS

    parts = [fn(d) for _, fn in SECTION_FUNCTIONS]
    shown = {sid for sid, _ in SECTION_FUNCTIONS}
    parts = [p for p in parts if p]
    nav = "".join(
        f'<a href="#{s}">{s}</a>'
        for s in SECTIONS
        if s in shown and (s != "campaign" or getattr(d, "campaign", None))
    )
    title = f"Monitoring report - {d.station}"
    return (
        f'<!DOCTYPE html><html lang="en"><head><meta charset="utf-8">'
        f'<meta name="viewport" content="width=device-width, initial-scale=1">'
        f"<title>{escape(title)}</title><style>{CSS}</style></head><body><main>"
        f'<h1>{escape(title)}</h1><p class="note">Period {_day(d.start_ns)} to '
        f"{_day(d.end_ns - 1)} (UTC) &middot; generated {_time(d.generated_ns)} UTC &middot; "
        f"results file {escape(d.results_path)}</p><nav>{nav}</nav>"
        + "".join(parts)
        + "</main></body></html>"
    )
