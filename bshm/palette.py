"""One set of colours for the viewer and the report (no Qt, no plotting).

Mode ``j`` (the j-th tracked mode, in the results' order) has the same
colour in every plot of the viewer and of the report, and alarm levels and
health states have one colour each. Colours are hex strings so Qt, SVG and
CSS can all use them.
"""

from __future__ import annotations

__all__ = [
    "MODE_COLOURS",
    "LEVEL_COLOURS",
    "LEVEL_NAMES",
    "STATE_COLOURS",
    "mode_colour",
    "date_colour",
]

#: Colour-blind-safe qualitative palette (Okabe-Ito order, then Tableau).
MODE_COLOURS = (
    "#0072b2",  # blue
    "#d55e00",  # vermillion
    "#009e73",  # bluish green
    "#cc79a7",  # reddish purple
    "#e69f00",  # orange
    "#56b4e9",  # sky blue
    "#8c564b",  # brown
    "#7f7f7f",  # grey
    "#bcbd22",  # olive
    "#17becf",  # cyan
)

#: Alarm levels 0 normal .. 3 critical.
LEVEL_COLOURS = {0: "#2e7d32", 1: "#f9a825", 2: "#ef6c00", 3: "#c62828"}
LEVEL_NAMES = {0: "normal", 1: "advisory", 2: "warning", 3: "critical"}

#: Live states and health levels shown as words in the viewer.
STATE_COLOURS = {
    "recording": "#2e7d32",
    "ok": "#2e7d32",
    "stale": "#ef6c00",
    "suspect": "#ef6c00",
    "reconnecting": "#ef6c00",
    "lost": "#c62828",
    "failed": "#c62828",
    "active": "#c62828",
    "acknowledged": "#6d4c41",
    "cleared": "#2e7d32",
    "stopped": "#616161",
}

# viridis at 6 stops (start, ..., end of a period): dates from dark blue to yellow
_DATE_STOPS = (
    (68, 1, 84),
    (65, 68, 135),
    (42, 120, 142),
    (34, 168, 132),
    (122, 209, 81),
    (253, 231, 37),
)


def mode_colour(j: int) -> str:
    """Colour of the j-th mode (0-based), the same in the viewer and the report."""
    return MODE_COLOURS[int(j) % len(MODE_COLOURS)]


def date_colour(f: float) -> tuple[int, int, int]:
    """RGB of a position ``f`` in [0, 1] along a period (viridis: early dark, late yellow)."""
    f = min(1.0, max(0.0, float(f))) if f == f else 0.0
    pos = f * (len(_DATE_STOPS) - 1)
    i = min(len(_DATE_STOPS) - 2, int(pos))
    t = pos - i
    a, b = _DATE_STOPS[i], _DATE_STOPS[i + 1]
    return (
        round(a[0] + (b[0] - a[0]) * t),
        round(a[1] + (b[1] - a[1]) * t),
        round(a[2] + (b[2] - a[2]) * t),
    )
