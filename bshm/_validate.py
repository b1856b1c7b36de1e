"""A small validator for nested TOML tables.

It walks a parsed document, converts values, and collects every problem
as ``"key.path: what is wrong (hint)"`` instead of stopping at the first.
"""

from __future__ import annotations

import difflib
import math
import re
from collections.abc import Iterable, Sequence
from typing import Any

from bshm.timeutil import parse_duration

_MISSING = object()

#: Every number read from a config must be finite and plausible: at most this
#: large in magnitude (unless the key sets its own maximum) ...
PLAUSIBLE_MAX = 1e12
#: ... and, when not zero, at least this large (a 1e-300 is a typo, not a value).
PLAUSIBLE_MIN = 1e-12
#: Integers: at most this large in magnitude unless the key sets a maximum.
INT_MAX = 10**9
#: Durations: at most ten years unless the key sets a maximum.
DURATION_MAX_S = 10 * 365.25 * 86400
#: Locations (m): coordinates along the bridge or of a map projection.
LOCATION_MAX_M = 1e7


class Table:
    """A TOML table with its key path and the keys already consumed."""

    def __init__(self, data: Any, path: str) -> None:
        self.data = data if isinstance(data, dict) else {}
        self.path = path
        self.used: set[str] = set()

    def key(self, name: str) -> str:
        """Key path of ``name`` inside this table."""
        return f"{self.path}.{name}" if self.path else name

    def get(self, name: str) -> Any:
        """Value of ``name`` (marks it used) or the missing sentinel."""
        self.used.add(name)
        return self.data.get(name, _MISSING)


def _type_name(value: Any) -> str:
    if isinstance(value, bool):
        return "a boolean"
    if isinstance(value, int):
        return "an integer"
    if isinstance(value, float):
        return "a number"
    if isinstance(value, str):
        return "a string"
    if isinstance(value, list):
        return "a list"
    if isinstance(value, dict):
        return "a table"
    return type(value).__name__


class Validator:
    """Collects problems while reading values out of :class:`Table` objects."""

    def __init__(self) -> None:
        self.problems: list[str] = []

    # -- reporting ---------------------------------------------------------
    def problem(self, key: str, what: str, hint: str | None = None) -> None:
        """Record one problem."""
        msg = f"{key}: {what}"
        if hint:
            msg += f" ({hint})"
        self.problems.append(msg)

    @staticmethod
    def suggest(word: str, choices: Iterable[str]) -> str:
        """A hint naming the closest choice, or all choices."""
        choices = list(choices)
        close = difflib.get_close_matches(str(word), choices, n=1, cutoff=0.6)
        if close:
            return f"did you mean {close[0]!r}?"
        return "known: " + ", ".join(choices) if choices else ""

    def no_unknown(self, t: Table) -> None:
        """Report every key of ``t`` that no reader asked for."""
        for k in t.data:
            if k not in t.used:
                known = sorted(t.used)
                self.problem(t.key(k), "unknown key", self.suggest(k, known))

    # -- structure -----------------------------------------------------------
    def table(self, t: Table, name: str, *, required: bool = False) -> Table:
        """A sub-table (an empty one when absent or wrong)."""
        value = t.get(name)
        if value is _MISSING:
            if required:
                self.problem(t.key(name), "missing table", f"add a [{t.key(name)}] section")
            return Table({}, t.key(name))
        if not isinstance(value, dict):
            self.problem(t.key(name), f"must be a table, not {_type_name(value)}")
            return Table({}, t.key(name))
        return Table(value, t.key(name))

    def table_list(self, t: Table, name: str, *, required: bool = False) -> list[Table]:
        """An array of tables (``[[name]]``)."""
        value = t.get(name)
        if value is _MISSING:
            if required:
                self.problem(t.key(name), "missing", f"add at least one [[{t.key(name)}]] entry")
            return []
        if not isinstance(value, list) or not all(isinstance(x, dict) for x in value):
            self.problem(
                t.key(name), "must be an array of tables", f"write each entry as [[{t.key(name)}]]"
            )
            return []
        return [Table(x, f"{t.key(name)}[{i}]") for i, x in enumerate(value)]

    # -- scalars -------------------------------------------------------------
    def _value(self, t: Table, name: str, required: bool, default: Any) -> Any:
        value = t.get(name)
        if value is _MISSING:
            if required:
                self.problem(t.key(name), "missing", "this key is required")
            return _MISSING if required else default
        return value

    def string(
        self,
        t: Table,
        name: str,
        *,
        required: bool = False,
        default: str | None = None,
        pattern: str | None = None,
        hint: str | None = None,
    ) -> str | None:
        """A string value."""
        value = self._value(t, name, required, default)
        if value is _MISSING or value is None:
            return None
        if not isinstance(value, str):
            self.problem(
                t.key(name),
                f"must be a string, not {_type_name(value)}",
                f'write it in quotes, e.g. {name} = "..."',
            )
            return None
        if required and not value.strip():
            self.problem(t.key(name), "must not be empty")
            return None
        if pattern and not re.fullmatch(pattern, value):
            self.problem(t.key(name), f"{value!r} is not allowed", hint)
            return None
        return value

    def choice(
        self,
        t: Table,
        name: str,
        choices: Sequence[str],
        *,
        required: bool = False,
        default: str | None = None,
    ) -> str | None:
        """A string among ``choices``."""
        value = self.string(t, name, required=required, default=default)
        if value is None:
            return None
        if value not in choices:
            self.problem(
                t.key(name),
                f"{value!r} is not one of {', '.join(repr(c) if c == '' else c for c in choices)}",
                self.suggest(value, [c for c in choices if c]),
            )
            return None
        return value

    def boolean(self, t: Table, name: str, *, default: bool = False) -> bool:
        """A boolean value."""
        value = self._value(t, name, False, default)
        if not isinstance(value, bool):
            self.problem(t.key(name), f"must be true or false, not {_type_name(value)}")
            return default
        return value

    def number(
        self,
        t: Table,
        name: str,
        *,
        required: bool = False,
        default: float | None = None,
        minimum: float | None = None,
        maximum: float | None = None,
        below: float | None = None,
        positive: bool = False,
    ) -> float | None:
        """A real number (int or float) with optional bounds."""
        value = self._value(t, name, required, default)
        if value is _MISSING or value is None:
            return None
        if isinstance(value, bool) or not isinstance(value, (int, float)):
            self.problem(
                t.key(name), f"must be a number, not {_type_name(value)}", "write it without quotes"
            )
            return None
        try:
            x = float(value)
        except OverflowError:  # an integer beyond float range
            x = math.inf
        if not math.isfinite(x):
            self.problem(t.key(name), f"{value} is not a finite number",
                         "give a plain number such as 12.5")
            return None
        if not self._plausible(t.key(name), x, minimum, maximum):
            return None
        if positive and x <= 0:
            self.problem(t.key(name), f"{value} must be > 0")
            return None
        if minimum is not None and x < minimum:
            self.problem(t.key(name), f"{value} is below the minimum {minimum:g}")
            return None
        if maximum is not None and x > maximum:
            self.problem(t.key(name), f"{value} is above the maximum {maximum:g}")
            return None
        if below is not None and x >= below:
            self.problem(t.key(name), f"{value} must be < {below:g}")
            return None
        return x

    def _plausible(self, key: str, x: float, minimum: float | None,
                   maximum: float | None) -> bool:
        """Reject magnitudes no sensor, device or bridge has (e.g. 1e308, 1e-300)."""
        hi = PLAUSIBLE_MAX if maximum is None else max(PLAUSIBLE_MAX, abs(maximum))
        if abs(x) > hi:
            self.problem(key, f"{x:g} is implausibly large", f"values up to {hi:g} are accepted")
            return False
        lo = PLAUSIBLE_MIN if minimum is None or minimum <= 0 else min(PLAUSIBLE_MIN, minimum)
        if x != 0 and abs(x) < lo:
            self.problem(key, f"{x:g} is implausibly small",
                         f"use 0 or a magnitude of at least {lo:g}")
            return False
        return True

    def integer(
        self,
        t: Table,
        name: str,
        *,
        required: bool = False,
        default: int | None = None,
        minimum: int | None = None,
        maximum: int | None = None,
    ) -> int | None:
        """An integer with optional bounds."""
        value = self._value(t, name, required, default)
        if value is _MISSING or value is None:
            return None
        if isinstance(value, bool) or not isinstance(value, int):
            self.problem(t.key(name), f"must be an integer, not {_type_name(value)}")
            return None
        if maximum is None and abs(value) > INT_MAX:
            self.problem(t.key(name), f"{value} is implausibly large",
                         f"integers up to {INT_MAX} are accepted")
            return None
        if minimum is not None and value < minimum:
            self.problem(t.key(name), f"{value} is below the minimum {minimum}")
            return None
        if maximum is not None and value > maximum:
            self.problem(t.key(name), f"{value} is above the maximum {maximum}")
            return None
        return value

    def duration(
        self,
        t: Table,
        name: str,
        *,
        default: float,
        minimum: float | None = None,
        maximum: float | None = None,
    ) -> float:
        """A duration in seconds, given as a number of seconds or ``"10min"``."""
        value = self._value(t, name, False, default)
        if isinstance(value, bool) or not isinstance(value, (int, float, str)):
            self.problem(
                t.key(name),
                f"must be a duration, not {_type_name(value)}",
                'e.g. "10min", "1h" or a number of seconds',
            )
            return default
        if isinstance(value, float) and not math.isfinite(value):
            self.problem(t.key(name), f"{value} is not a finite duration",
                         'e.g. "10min", "1h" or a number of seconds')
            return default
        longest = DURATION_MAX_S if maximum is None else maximum
        try:
            seconds = parse_duration(value) / 1e9
        except ValueError as exc:
            self.problem(t.key(name), str(exc))
            return default
        except OverflowError:
            seconds = math.inf
        if not seconds <= longest:
            self.problem(t.key(name), f"{value!r} is longer than {_seconds_text(longest)}",
                         f"give at most {_seconds_text(longest)}")
            return default
        if minimum is not None and seconds < minimum:
            self.problem(t.key(name), f"{value!r} is shorter than {minimum:g} s")
            return default
        return seconds

    # -- lists ---------------------------------------------------------------
    def string_list(
        self, t: Table, name: str, *, default: tuple = (), length: int | None = None
    ) -> tuple[str, ...]:
        """A list of strings."""
        value = self._value(t, name, False, default)
        if not isinstance(value, (list, tuple)) or not all(isinstance(x, str) for x in value):
            self.problem(t.key(name), "must be a list of strings", 'e.g. ["A01", "A02"]')
            return tuple(default)
        if length is not None and value and len(value) != length:
            self.problem(t.key(name), f"must have {length} entries, not {len(value)}")
            return tuple(default)
        return tuple(value)

    def float_list(
        self,
        t: Table,
        name: str,
        *,
        default: tuple = (),
        length: int | None = None,
        positive: bool = False,
        allow_none: bool = False,
    ) -> tuple:
        """A list of numbers (``allow_none``: the string "auto" stands for None)."""
        value = self._value(t, name, False, default)
        if value is default:
            return tuple(default)
        if not isinstance(value, list):
            self.problem(t.key(name), f"must be a list of numbers, not {_type_name(value)}")
            return tuple(default)
        out: list[float | None] = []
        for x in value:
            if allow_none and x == "auto":
                out.append(None)
            elif isinstance(x, bool) or not isinstance(x, (int, float)) or not math.isfinite(x):
                self.problem(
                    t.key(name),
                    f"{x!r} is not a number",
                    "write numbers without quotes" + (' or "auto"' if allow_none else ""),
                )
                return tuple(default)
            elif not self._plausible(t.key(name), float(x), None, None):
                return tuple(default)
            elif positive and x <= 0:
                self.problem(t.key(name), f"{x} must be > 0")
                return tuple(default)
            else:
                out.append(float(x))
        if length is not None and len(out) != length:
            self.problem(t.key(name), f"must have {length} entries, not {len(out)}")
            return tuple(default)
        return tuple(out)

    def levels(
        self, t: Table, name: str, *, default: tuple | None = None, decreasing: bool = False
    ) -> tuple[float, float, float] | None:
        """Three alarm limits for levels 1, 2, 3, strictly monotonic."""
        value = self._value(t, name, False, default)
        if value is default:
            return default
        if (
            not isinstance(value, list)
            or len(value) != 3
            or not all(isinstance(x, (int, float)) and not isinstance(x, bool) for x in value)
        ):
            self.problem(
                t.key(name),
                "must be a list of 3 numbers (limits of levels 1, 2, 3)",
                f"e.g. {name} = [1.0, 2.0, 4.0]",
            )
            return default
        a, b, c = (float(x) for x in value)
        if not all(math.isfinite(x) and abs(x) <= PLAUSIBLE_MAX for x in (a, b, c)):
            self.problem(t.key(name), f"{value} must be finite numbers",
                         f"limits up to {PLAUSIBLE_MAX:g} are accepted")
            return default
        ok = (a > b > c) if decreasing else (a < b < c)
        if not ok:
            order = "decrease" if decreasing else "increase"
            self.problem(t.key(name), f"{value} must strictly {order} from level 1 to 3")
            return default
        return (a, b, c)

    def location(self, t: Table, name: str) -> tuple[float, float, float]:
        """A location: x along the bridge (m), or [x, y, z]."""
        value = self._value(t, name, False, None)
        nan = math.nan
        if value is None:
            return (nan, nan, nan)
        scalar = isinstance(value, (int, float)) and not isinstance(value, bool)
        if scalar:
            value = [value]
        if (
            isinstance(value, list)
            and 1 <= len(value) <= 3
            and all(isinstance(x, (int, float)) and not isinstance(x, bool) for x in value)
        ):
            xs = [float(x) for x in value]
            if not all(math.isfinite(x) and abs(x) <= LOCATION_MAX_M for x in xs):
                shown = value[0] if scalar else value
                self.problem(t.key(name), f"{shown} is not a location on a bridge",
                             f"give finite distances in m, at most {LOCATION_MAX_M:g}")
                return (nan, nan, nan)
            xs += [nan] * (3 - len(xs))
            return (xs[0], xs[1], xs[2])
        self.problem(
            t.key(name),
            "must be a distance along the bridge in m, or [x, y, z]",
            "e.g. location = 12.5 or location = [12.5, -3.0, 0.0]",
        )
        return (nan, nan, nan)


def _seconds_text(s: float) -> str:
    if s >= 86400 * 365:
        return f"{s / (86400 * 365.25):.3g} years"
    if s >= 86400:
        return f"{s / 86400:g} d"
    if s >= 3600:
        return f"{s / 3600:g} h"
    return f"{s:g} s"
