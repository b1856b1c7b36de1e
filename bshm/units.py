"""Units as people read them: ``m/s2`` -> ``m/s²``, ``degC`` -> ``°C``, ``um/m`` -> ``µm/m``.

Stored units stay ASCII (config files, HDF5 attributes, CSV headers are
read by scripts); everything shown to a person (viewer axes, readouts,
the report) goes through :func:`pretty`, so the viewer and the report
write units the same way.
"""

from __future__ import annotations

import re

__all__ = ["pretty", "squared", "psd_unit", "with_unit"]

_WHOLE = {
    "degc": "°C",
    "deg c": "°C",
    "celsius": "°C",
    "degf": "°F",
    "degk": "K",
    "deg": "°",
    "um/m": "µm/m",
    "ustrain": "µm/m",
    "microstrain": "µm/m",
    "ue": "µm/m",
    "με": "µm/m",
    "mm/m": "mm/m",
    "ohm": "Ω",
    "pct": "%",
    "percent": "%",
}
_SUPER = str.maketrans("0123456789-", "⁰¹²³⁴⁵⁶⁷⁸⁹⁻")
_POWER = re.compile(r"(?<=[A-Za-zµ)])(?:\^|\*\*)?(-?\d)(?![\d.])")


def pretty(unit: str | None) -> str:
    """A unit typeset for people: superscripts, °, µ.

    Parameters
    ----------
    unit : str or None
        A unit as stored, e.g. ``"m/s2"``, ``"m/s^2"``, ``"degC"``, ``"um/m"``,
        ``"MPa"``; already typeset units pass through unchanged.

    Returns
    -------
    str
        E.g. ``"m/s²"``, ``"°C"``, ``"µm/m"``; ``""`` for None or blank.

    Examples
    --------
    >>> pretty("m/s2"), pretty("degC"), pretty("um/m"), pretty("m^2/s^-1")
    ('m/s²', '°C', 'µm/m', 'm²/s⁻¹')
    """
    if unit is None:
        return ""
    u = str(unit).strip()
    if not u:
        return ""
    whole = _WHOLE.get(u.lower())
    if whole is not None:
        return whole
    u = re.sub(r"\bdeg ?C\b", "°C", u)
    u = re.sub(r"\bu(?=[mgsVAN]\b|m/)", "µ", u)  # um, ug, us, uV ... (not 'unit')
    return _POWER.sub(lambda m: m.group(1).translate(_SUPER), u)


def squared(unit: str | None) -> str:
    """``pretty(unit)`` squared: ``m/s2`` -> ``(m/s²)²``, ``V`` -> ``V²``."""
    p = pretty(unit)
    if not p:
        return ""
    if re.fullmatch(r"[A-Za-zµ°Ω%]+", p):
        return p + "²"
    return f"({p})²"


def psd_unit(unit: str | None) -> str:
    """Unit of a power spectral density of a signal in ``unit``: ``(m/s²)²/Hz``."""
    s = squared(unit)
    return f"{s}/Hz" if s else "1/Hz"


def with_unit(label: str, unit: str | None) -> str:
    """``"A01 [m/s²]"`` (or just the label when there is no unit)."""
    p = pretty(unit)
    return f"{label} [{p}]" if p else label
