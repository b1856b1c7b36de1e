"""Universal File export for modal software (ARTeMIS, MEScope, anything reading UFF).

Datasets written (with pyuff, ``bshm[formats]``):

- **15** nodes: one node per distinct sensor location of the station (x, y,
  z in m; an unknown coordinate is 0);
- **55** mode shapes: for each mode, the shape at every node as x/y/z
  components (each channel's value goes to its node and sensing
  direction, with its sign). Normal modes (analysis type 2: real shapes,
  frequency, viscous damping ratio) by default; ``complex_modes`` writes
  complex eigenvalue modes (analysis type 3: eigenvalue
  ``-zeta*w + i*w*sqrt(1-zeta^2)`` in rad/s and complex shapes);
- **58** time series (function type 1): one dataset per channel and
  contiguous run without NaN (UFF has no missing-value marker, and pyuff
  would write NaN as 0); the run's absolute start, ISO 8601 UTC, is in
  ID line 4, as :mod:`bshm.io.uff` reads it back.

UFF ASCII writes 6 significant digits for frequencies, damping and shapes
(format E13.5) and 12 for time series (E20.11).
"""

from __future__ import annotations

import logging
import math
import os
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import numpy as np

from bshm.io._common import need
from bshm.io.uff import QUANTITY_SPEC
from bshm.timeutil import NS_PER_S, to_iso

log = logging.getLogger(__name__)

_AXIS = {
    "x": (0, 1.0),
    "y": (1, 1.0),
    "z": (2, 1.0),
    "-x": (0, -1.0),
    "-y": (1, -1.0),
    "-z": (2, -1.0),
}


@dataclass
class Geometry:
    """Where each channel sits: node numbers, coordinates and sensing axes.

    Attributes
    ----------
    channels : list of str
    node : dict
        channel -> node number (1-based).
    axis : dict
        channel -> (component 0/1/2 for x/y/z, sign +-1).
    coords : list of (int, float, float, float)
        ``(node, x, y, z)`` per node, in node order.
    notes : list of str
        What had to be assumed (missing locations or directions).
    """

    channels: list[str]
    node: dict[str, int] = field(default_factory=dict)
    axis: dict[str, tuple[int, float]] = field(default_factory=dict)
    coords: list[tuple[int, float, float, float]] = field(default_factory=list)
    notes: list[str] = field(default_factory=list)


def geometry(channels: Sequence[str], metas: Mapping[str, Any]) -> Geometry:
    """Nodes and axes of ``channels`` from their metadata (``location``, ``direction``).

    A channel without a direction is taken as ``z`` (vertical), one without
    any coordinate is placed at x = its index (m); both are said in
    ``notes`` (and logged). Channels at the same location share a node
    unless they measure the same axis.
    """
    geo = Geometry(list(channels))
    where: dict[tuple[float, float, float], list[int]] = {}
    used: dict[int, set[int]] = {}
    for i, name in enumerate(channels):
        m = metas.get(name)
        x, y, z = (float(v) for v in getattr(m, "location", (math.nan,) * 3))
        direction = str(getattr(m, "direction", "") or "")
        if direction not in _AXIS:
            geo.notes.append(f"channel {name}: no sensing direction: exported as z")
            direction = "z"
        if all(math.isnan(v) for v in (x, y, z)):
            geo.notes.append(f"channel {name}: no location: placed at x = {i} m")
            x, y, z = float(i), 0.0, 0.0
        loc = (_coord(x), _coord(y), _coord(z))
        comp, sign = _AXIS[direction]
        node = next((n for n in where.get(loc, []) if comp not in used[n]), None)
        if node is None:
            node = len(geo.coords) + 1
            geo.coords.append((node, *loc))
            where.setdefault(loc, []).append(node)
            used[node] = set()
        used[node].add(comp)
        geo.node[name] = node
        geo.axis[name] = (comp, sign)
    for n in geo.notes:
        log.warning("%s", n)
    return geo


def _coord(v: float) -> float:
    return 0.0 if math.isnan(v) else round(v, 6)


def dataset_15(geo: Geometry) -> dict[str, Any]:
    """UFF dataset 15 (nodes) of a geometry."""
    pyuff = need("pyuff", "writing Universal Files")
    nodes = [c[0] for c in geo.coords]
    return pyuff.prepare_15(
        node_nums=nodes,
        def_cs=[0] * len(nodes),
        disp_cs=[0] * len(nodes),
        color=[1] * len(nodes),
        x=[c[1] for c in geo.coords],
        y=[c[2] for c in geo.coords],
        z=[c[3] for c in geo.coords],
    )


def real_shape(shape: np.ndarray) -> np.ndarray:
    """A complex shape as a real normal mode: rotated so that its largest entry is
    real and positive, real part kept, scaled to a largest entry of 1."""
    s = np.asarray(shape, dtype=complex)
    if not np.any(s):
        return np.zeros(s.shape)
    k = int(np.argmax(np.abs(s)))
    r = (s * np.exp(-1j * np.angle(s[k]))).real
    return r / np.max(np.abs(r))


def unit_complex_shape(shape: np.ndarray) -> np.ndarray:
    """A complex shape scaled so that its largest entry is exactly ``1 + 0j``."""
    s = np.asarray(shape, dtype=complex)
    if not np.any(s):
        return s
    return s / s[int(np.argmax(np.abs(s)))]


def modes_55(
    geo: Geometry,
    ids: Sequence[str],
    frequency: np.ndarray,
    damping: np.ndarray,
    shapes: np.ndarray,
    *,
    complex_modes: bool = False,
    title: str = "",
    when: str = "",
) -> list[dict[str, Any]]:
    """UFF datasets 55, one per mode with a finite frequency.

    Parameters
    ----------
    geo : Geometry
    ids : sequence of str
        Mode ids (``"M1"``...), written in ID line 1.
    frequency, damping : (k,) float
        Hz and ratio (NaN damping is written as 0 and said in ID line 4).
    shapes : (k, n_channels) complex
        Rows in the order of ``geo.channels``.
    """
    pyuff = need("pyuff", "writing Universal Files")
    out = []
    n_nodes = len(geo.coords)
    for j, mid in enumerate(ids):
        f = float(frequency[j])
        if not math.isfinite(f) or f <= 0:
            continue
        z = float(damping[j]) if math.isfinite(float(damping[j])) else math.nan
        shape = np.asarray(shapes[j])
        vec = unit_complex_shape(shape) if complex_modes else real_shape(shape)
        r = np.zeros((3, n_nodes), dtype=complex if complex_modes else float)
        for c, name in enumerate(geo.channels):
            comp, sign = geo.axis[name]
            r[comp, geo.node[name] - 1] = sign * vec[c]
        ids_lines = {
            "id1": f"bshm mode {mid}"[:80],
            "id2": (title or "bshm")[:80],
            "id3": (when or "NONE")[:80],
            "id4": (
                f"f = {f:.6g} Hz, damping = {100 * z:.4g} %"
                if math.isfinite(z)
                else f"f = {f:.6g} Hz, damping unknown (written as 0)"
            )[:80],
            "id5": "channels: " + " ".join(geo.channels)[:70],
        }
        common = dict(
            model_type=1,
            data_ch=2,
            spec_data_type=8,
            n_data_per_node=3,
            node_nums=[c[0] for c in geo.coords],
            load_case=1,
            mode_n=j + 1,
            r1=r[0],
            r2=r[1],
            r3=r[2],
            **ids_lines,
        )
        if complex_modes:
            w = 2 * math.pi * f
            zz = z if math.isfinite(z) else 0.0
            eig = complex(-zz * w, w * math.sqrt(max(0.0, 1 - zz * zz)))
            out.append(
                pyuff.prepare_55(
                    analysis_type=3, data_type=5, eig=eig, modal_a=0j, modal_b=0j, **common
                )
            )
        else:
            out.append(
                pyuff.prepare_55(
                    analysis_type=2,
                    data_type=2,
                    freq=f,
                    modal_m=0.0,
                    modal_damp_vis=z if math.isfinite(z) else 0.0,
                    modal_damp_his=0.0,
                    **common,
                )
            )
    return out


def series_58(geo: Geometry, record: Any, *, title: str = "") -> list[dict[str, Any]]:
    """UFF datasets 58 of a stored record: one per channel and run without gaps or NaN.

    Parameters
    ----------
    geo : Geometry
        Must cover the record's channels.
    record : bshm.store.Record
    """
    pyuff = need("pyuff", "writing Universal Files")
    t = np.asarray(record.times_ns, np.int64)
    period = NS_PER_S / float(record.fs)
    out = []
    for j, ch in enumerate(record.channels):
        v = np.asarray(record.data[:, j], dtype=np.float64)
        ok = np.isfinite(v)
        brk = np.r_[True, np.diff(t) > 1.5 * period] if t.size else np.zeros(0, bool)
        starts = ok & (brk | np.r_[True, ~ok[:-1]])
        ends = ok & (np.r_[brk[1:], True] | np.r_[~ok[1:], True])
        for a, b in zip(np.flatnonzero(starts), np.flatnonzero(ends) + 1, strict=True):
            n = int(b - a)
            if n < 2:
                continue
            comp, sign = geo.axis[ch.name]
            out.append(
                pyuff.prepare_58(
                    binary=0,
                    func_type=1,
                    rsp_node=geo.node[ch.name],
                    rsp_dir=int(sign) * (comp + 1),
                    ref_node=0,
                    ref_dir=0,
                    data=v[a:b],
                    x=np.arange(n) / float(record.fs),
                    id1=ch.name[:80],
                    id2=(title or "bshm")[:80],
                    id3=f"{ch.quantity} {ch.unit}"[:80],
                    id4=f"start {to_iso(int(t[a]))}",
                    id5=f"source {record.source}"[:80],
                    rsp_ent_name=ch.name[:10],
                    ref_ent_name="NONE",
                    abscissa_spacing=1,
                    abscissa_spec_data_type=17,
                    abscissa_axis_units_lab="s",
                    ordinate_spec_data_type=QUANTITY_SPEC.get(ch.quantity, 0),
                    ordinate_axis_units_lab=(ch.unit or "NONE")[:20],
                    orddenom_spec_data_type=0,
                    z_axis_spec_data_type=0,
                )
            )
    if not out:
        log.warning("no run of 2 or more finite samples to export as dataset 58")
    return out


def write_uff(path: str | os.PathLike, datasets: Sequence[dict[str, Any]]) -> Path:
    """Write datasets to a UFF file atomically (a ``.part`` file renamed at the end).

    Raises
    ------
    bshm.errors.StoreError
        The file cannot be written (full disk, no permission, pyuff failure).
    """
    from bshm.errors import StoreError

    pyuff = need("pyuff", "writing Universal Files")
    out = Path(path)
    tmp = out.with_name(out.name + ".part")
    try:
        tmp.unlink(missing_ok=True)
        u = pyuff.UFF(str(tmp))
        for ds in datasets:
            u.write_sets(ds, "add")
        with open(tmp, "rb+") as fh:
            os.fsync(fh.fileno())
        os.replace(tmp, out)
    except Exception as exc:  # noqa: BLE001 - pyuff wraps OS errors in bare Exception
        tmp.unlink(missing_ok=True)
        cause = exc.__context__ if isinstance(exc.__context__, OSError) else exc
        raise StoreError(f"{out}: cannot write the Universal File ({cause})") from None
    return out
