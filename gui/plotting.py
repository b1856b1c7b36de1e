"""Shared plot parts: a UTC time axis with dates, crosshair readouts, two
measuring cursors, and the light/dark plot colours.

Every time axis of the viewer is a :class:`UtcAxis`: ISO dates
(``02-10``, ``2026-02``) instead of weekday names, and an axis label that
says ``time (UTC)`` with the date(s) shown, so an exported PNG can always
be dated.
"""

from __future__ import annotations

import math
from collections.abc import Callable, Sequence
from datetime import UTC, datetime

import numpy as np
import pyqtgraph as pg
from pyqtgraph.graphicsItems import DateAxisItem as _dai
from pyqtgraph.Qt import QtCore

from bshm.palette import mode_colour

LIGHT = {"background": "#ffffff", "foreground": "#202020", "grid": 0.2, "cursor": "#555555"}
DARK = {"background": "#1e1f22", "foreground": "#e0e0e0", "grid": 0.25, "cursor": "#bbbbbb"}
STALE_PEN = "#9e9e9e"


def _levels() -> list:
    Z, T = _dai.ZoomLevel, _dai.TickSpec
    day, hour, minute = _dai.DAY_SPACING, _dai.HOUR_SPACING, _dai.MINUTE_SPACING
    return [
        Z(
            [
                T(_dai.YEAR_SPACING, _dai.makeYStepper(1), "%Y", autoSkip=[1, 5, 10, 25]),
                T(_dai.MONTH_SPACING, _dai.makeMStepper(1), "%Y-%m"),
            ],
            "2026-00",
        ),
        Z(  # days only: month ticks between day ticks would overlap them
            [T(day, _dai.makeSStepper(day), "%m-%d", autoSkip=[1, 2, 5, 10])],
            "00-00 ",
        ),
        Z(
            [
                T(day, _dai.makeSStepper(day), "%m-%d"),
                T(hour, _dai.makeSStepper(hour), "%H:%M", autoSkip=[1, 3, 6]),
            ],
            "00:00 ",
        ),
        Z(
            [
                T(day, _dai.makeSStepper(day), "%m-%d"),
                T(minute, _dai.makeSStepper(minute), "%H:%M", autoSkip=[1, 5, 15, 30]),
            ],
            "00:00 ",
        ),
        Z(
            [T(_dai.SECOND_SPACING, _dai.makeSStepper(1), "%H:%M:%S", autoSkip=[1, 5, 15, 30])],
            "99:99:99",
        ),
        Z(
            [
                T(minute, _dai.makeSStepper(minute), "%H:%M:%S"),
                T(
                    _dai.MS_SPACING,
                    _dai.makeMSStepper(_dai.MS_SPACING),
                    "%S.%f",
                    autoSkip=[1, 5, 10, 25],
                ),
            ],
            "99:99:99",
        ),
    ]


def date_span_text(t0: float, t1: float) -> str:
    """``2026-02-10`` or ``2026-02-10 to 2026-03-01`` for epoch seconds (UTC)."""
    try:
        a = datetime.fromtimestamp(t0, tz=UTC).strftime("%Y-%m-%d")
        b = datetime.fromtimestamp(t1, tz=UTC).strftime("%Y-%m-%d")
    except (OverflowError, OSError, ValueError):
        return ""
    return a if a == b else f"{a} to {b}"


class UtcAxis(pg.DateAxisItem):
    """A date axis in UTC with ISO-style ticks and the dates in its label."""

    def __init__(self, orientation: str = "bottom", *, show_label: bool = True, **kw) -> None:
        super().__init__(orientation, utcOffset=0, **kw)
        keys = list(self.zoomLevels)
        self.zoomLevels = dict(zip(keys, _levels()))
        self.show_label = show_label
        self._label_text = ""
        if show_label:
            self.setLabel("time (UTC)")

    def linkedViewChanged(self, view, newRange=None) -> None:  # noqa: D102, N802 - Qt API
        super().linkedViewChanged(view, newRange)
        if not self.show_label or view is None:
            return
        lo, hi = view.viewRange()[0] if newRange is None else newRange
        span = date_span_text(lo, hi)
        text = f"time (UTC), {span}" if span else "time (UTC)"
        if text != self._label_text:
            self._label_text = text
            self.setLabel(text)

    @property
    def label_text(self) -> str:
        """The axis label as shown (``time (UTC), 2026-02-10``)."""
        return self._label_text or "time (UTC)"


def iso(t_s: float, digits: int = 3) -> str:
    """``2026-02-10 06:00:00.123`` (UTC) for epoch seconds."""
    if not math.isfinite(t_s):
        return "-"
    d = datetime.fromtimestamp(t_s, tz=UTC)
    s = d.strftime("%Y-%m-%d %H:%M:%S")
    if digits:
        s += f".{d.microsecond:06d}"[: digits + 1]
    return s


def nearest(x: np.ndarray, y: np.ndarray, at: float) -> float:
    """The value of ``y`` at the finite ``x`` nearest to ``at`` (NaN if none)."""
    x = np.asarray(x, np.float64)
    ok = np.isfinite(x)
    if not ok.any():
        return math.nan
    xf, yf = x[ok], np.asarray(y)[ok]
    i = int(np.clip(np.searchsorted(xf, at), 0, xf.size - 1))
    if i > 0 and abs(xf[i - 1] - at) < abs(xf[i] - at):
        i -= 1
    return float(yf[i])


def fmt(v: float) -> str:
    """A readout number: 5 significant digits, '-' for NaN."""
    return "-" if v is None or not math.isfinite(v) else f"{v:.5g}"


class TwoCursors(QtCore.QObject):
    """Two draggable vertical cursors (A, B) on x-linked plots, with a readout.

    Parameters
    ----------
    plots : sequence of PlotItem
        Plots sharing the x axis (one line pair in each).
    describe : callable (xa, xb) -> str
        The readout text for the cursor positions.

    Signals
    -------
    sig_text(str)
        The readout after a cursor moved.
    """

    sig_text = QtCore.Signal(str)

    def __init__(self, plots: Sequence, describe: Callable[[float, float], str]) -> None:
        super().__init__()
        self.describe = describe
        self.lines: list[tuple[pg.InfiniteLine, pg.InfiniteLine]] = []
        self.visible = False
        self._sync = False
        for p in plots:
            a = pg.InfiniteLine(
                angle=90,
                movable=True,
                pen=pg.mkPen("#d81b60", width=1),
                label="A",
                labelOpts={"position": 0.95, "color": "#d81b60"},
            )
            b = pg.InfiniteLine(
                angle=90,
                movable=True,
                pen=pg.mkPen("#1e88e5", width=1),
                label="B",
                labelOpts={"position": 0.95, "color": "#1e88e5"},
            )
            for ln in (a, b):
                ln.setZValue(20)
                ln.hide()
                p.addItem(ln, ignoreBounds=True)
                ln.sigPositionChanged.connect(self._moved)
            self.lines.append((a, b))

    def show_at(self, xa: float, xb: float) -> None:
        """Show both cursors at ``xa`` and ``xb``."""
        self.visible = True
        self._sync = True
        for a, b in self.lines:
            a.setPos(xa)
            b.setPos(xb)
            a.show()
            b.show()
        self._sync = False
        self._moved()

    def hide(self) -> None:
        """Hide the cursors."""
        self.visible = False
        for a, b in self.lines:
            a.hide()
            b.hide()
        self.sig_text.emit("")

    def positions(self) -> tuple[float, float]:
        """(xa, xb) of the cursors."""
        if not self.lines:
            return (math.nan, math.nan)
        a, b = self.lines[0]
        return float(a.value()), float(b.value())

    def _moved(self, line=None) -> None:
        if self._sync:
            return
        if line is not None:  # keep the lines of every plot together
            is_a = any(line is a for a, _ in self.lines)
            self._sync = True
            for a, b in self.lines:
                other = a if is_a else b
                if other is not line:
                    other.setPos(line.value())
            self._sync = False
        if self.visible:
            self.sig_text.emit(self.describe(*self.positions()))


def apply_plot_theme(widget, dark: bool) -> None:
    """Colour every pyqtgraph plot below ``widget`` for the light or dark theme."""
    c = DARK if dark else LIGHT
    fg = pg.mkColor(c["foreground"])
    views = list(widget.findChildren(pg.GraphicsView))
    if isinstance(widget, pg.GraphicsView):
        views.append(widget)
    for gv in views:
        gv.setBackground(c["background"])
        scene = gv.scene()
        if scene is None:
            continue
        for item in scene.items():
            if isinstance(item, pg.AxisItem):
                item.setPen(fg)
                item.setTextPen(fg)
                if item.label is not None:
                    item.label.setDefaultTextColor(fg)
            elif isinstance(item, pg.LabelItem):
                item.setText(item.text, color=c["foreground"])


def mode_pen(j: int, width: float = 1.5):
    """The pen of mode ``j`` (same colour as the report)."""
    return pg.mkPen(mode_colour(j), width=width)
