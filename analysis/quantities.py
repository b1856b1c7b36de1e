"""Mixed sensor quantities in one identification: comparable, real mode shapes.

A mode with continuous-time pole ``lambda`` and shape ``phi`` (displacements)
appears in a displacement channel as ``phi_c``, in a velocity channel as
``lambda phi_c`` and in an acceleration channel as ``lambda^2 phi_c``.  A
record mixing velocity and acceleration channels therefore gives complex
shapes whose components are 90 degrees apart, every pole fails the MPC/MPD
criteria and no mode survives.  The correction is exact and costs nothing:
each identified pole's shape component of channel ``c`` is multiplied by
``lambda^(e_target - e_c)`` with ``e = 0, 1, 2`` for displacement, velocity,
acceleration, using that pole's own ``lambda``.  Strain and tilt move in
phase with the displacement (``e = 0``).

Inside the identification only the phase ``(lambda / |lambda|)^(e_target -
e_c)`` is applied (the shapes stay unit-free there, see
:func:`bshm.analysis.preprocess.normalise_channels`); the magnitude
``|lambda|^(e_target - e_c)`` and the channel scales are applied to the
reported shapes by :func:`to_physical`.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass

import numpy as np

__all__ = ["KINEMATIC", "QuantityPlan", "plan_quantities", "to_physical"]

#: Exponent of each kinematic quantity (order of time derivative of displacement).
KINEMATIC: dict[str, int] = {"displacement": 0, "velocity": 1, "acceleration": 2}
#: Quantities that move in phase with the displacement.
_LIKE_DISPLACEMENT = ("strain", "tilt")
#: Quantities with no known relation to the motion: left as they are.
_UNRELATED = ("other", "voltage", "temperature")


@dataclass(frozen=True)
class QuantityPlan:
    """How each channel's shape component is brought to one quantity.

    Attributes
    ----------
    target : str
        Quantity of the reported shapes.
    expo : ndarray of int, shape (n_channels,)
        ``e_target - e_c`` per channel (0: no change).
    notes : tuple of str
    """

    target: str
    expo: np.ndarray
    notes: tuple[str, ...] = ()

    @property
    def mixed(self) -> bool:
        """Whether any channel is converted."""
        return bool(np.any(self.expo != 0))


def _exponent(q: str) -> int | None:
    if q in KINEMATIC:
        return KINEMATIC[q]
    if q in _LIKE_DISPLACEMENT:
        return 0
    return None


def plan_quantities(
    quantities: Sequence[str | None] | None,
    names: Sequence[str],
    shape_quantity: str | None = None,
) -> QuantityPlan:
    """Choose the quantity of the shapes and the per-channel exponents.

    Parameters
    ----------
    quantities : sequence of str or None, optional
        Quantity of each channel: ``"acceleration"``, ``"velocity"``,
        ``"displacement"``, ``"strain"`` or ``"tilt"`` (in phase with the
        displacement), or ``"other"``/``"voltage"``/``None`` (unknown: left as
        is).  ``None`` for all: every channel is taken as the same quantity.
    names : sequence of str
        Channel names (for messages).
    shape_quantity : {"acceleration", "velocity", "displacement"}, optional
        Quantity of the reported shapes; default: the channels' common
        quantity when they share one, else acceleration.

    Returns
    -------
    QuantityPlan

    Raises
    ------
    ValueError
        An unknown quantity name (naming the channel), or a bad ``shape_quantity``.
    """
    nl = len(names)
    if shape_quantity is not None and shape_quantity not in KINEMATIC:
        raise ValueError(
            f"shape_quantity must be one of {', '.join(KINEMATIC)}, got {shape_quantity!r}"
        )
    if quantities is None:
        return QuantityPlan(shape_quantity or "acceleration", np.zeros(nl, dtype=np.int64))
    known = set(KINEMATIC) | set(_LIKE_DISPLACEMENT) | set(_UNRELATED)
    expo_c: list[int | None] = []
    for name, q in zip(names, quantities):
        if q is not None and q not in known:
            raise ValueError(
                f"channel {name}: quantity {q!r} is not one of {', '.join(sorted(known))}"
            )
        expo_c.append(None if q is None else _exponent(q))
    present = {e for e in expo_c if e is not None}
    if shape_quantity is not None:
        target = shape_quantity
    elif len(present) == 1:
        target = {v: k for k, v in KINEMATIC.items()}[present.pop()]
    else:
        target = "acceleration"
    et = KINEMATIC[target]
    expo = np.array([0 if e is None else et - e for e in expo_c], dtype=np.int64)
    notes = []
    unknown = [n for n, e in zip(names, expo_c) if e is None]
    if unknown and len(unknown) < nl:
        notes.append(f"quantity unknown for {', '.join(unknown)}: taken as {target} in the shapes")
    conv = [f"{n} ({q})" for n, q, e in zip(names, quantities, expo) if e != 0 and q is not None]
    if conv:
        notes.append(f"shapes brought to {target} (phase and frequency factor): {', '.join(conv)}")
    return QuantityPlan(target, expo, tuple(notes))


def to_physical(
    shapes: np.ndarray,
    scales: np.ndarray,
    expo: np.ndarray,
    frequencies: np.ndarray,
) -> np.ndarray:
    """Bring unit-free, phase-aligned shapes back to the channels' units.

    Component ``c`` of mode ``k`` is multiplied by ``scales[c] * (2 pi
    f_k)^expo[c]``; each shape is then divided by its largest component
    (which becomes 1).

    Parameters
    ----------
    shapes : ndarray, shape (n_channels, n_modes), complex
    scales : ndarray, shape (n_channels,)
        Standard deviation of each channel (its units).
    expo : ndarray of int, shape (n_channels,)
    frequencies : ndarray, shape (n_modes,)
        Natural frequencies (Hz).

    Returns
    -------
    ndarray, shape (n_channels, n_modes), complex
    """
    w = 2.0 * np.pi * np.asarray(frequencies, dtype=np.float64)
    fac = np.asarray(scales, dtype=np.float64)[:, None] * w[None, :] ** expo[:, None]
    out = np.asarray(shapes, dtype=np.complex128) * fac
    if out.size == 0:
        return out
    big = np.abs(out).argmax(axis=0)
    ref = out[big, np.arange(out.shape[1])]
    return np.divide(out, ref, out=np.zeros_like(out), where=ref != 0)
