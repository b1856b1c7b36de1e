"""Units typeset for people (viewer and report use the same function)."""

from __future__ import annotations

import pytest

from bshm.palette import MODE_COLOURS, date_colour, mode_colour
from bshm.units import pretty, psd_unit, with_unit


@pytest.mark.parametrize(
    ("stored", "shown"),
    [
        ("m/s2", "m/s²"),
        ("m/s^2", "m/s²"),
        ("m/s**2", "m/s²"),
        ("degC", "°C"),
        ("um/m", "µm/m"),
        ("ustrain", "µm/m"),
        ("MPa", "MPa"),
        ("Hz", "Hz"),
        ("m^2/s^-1", "m²/s⁻¹"),
        ("m/s²", "m/s²"),  # already typeset: unchanged
        ("", ""),
        (None, ""),
        ("unit", "unit"),  # a word, not micro-nit
    ],
)
def test_pretty(stored, shown):
    assert pretty(stored) == shown


def test_psd_and_label():
    assert psd_unit("m/s2") == "(m/s²)²/Hz"
    assert psd_unit("V") == "V²/Hz"
    assert psd_unit("") == "1/Hz"
    assert with_unit("A01", "m/s2") == "A01 [m/s²]"
    assert with_unit("T2", "") == "T2"


def test_palette_is_stable():
    assert mode_colour(0) == MODE_COLOURS[0]
    assert mode_colour(len(MODE_COLOURS)) == MODE_COLOURS[0]
    assert date_colour(0.0) != date_colour(1.0)
    assert date_colour(float("nan")) == date_colour(0.0)
