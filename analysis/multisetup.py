"""Multi-setup (roving sensor) OMA: global mode shapes by PoSER.

A bridge campaign rarely has enough sensors for every point at once: a few
*reference* sensors stay in place while the others are moved through several
*setups*.  Each setup is identified on its own (:func:`bshm.analysis.identify`,
the full automated SSI-COV), the modes of the setups are paired, and each
setup's shape is rescaled so that its reference components agree with those
of the other setups; the rescaled parts are then glued into one global shape
over every measured point (PoSER, "post separate estimation re-scaling").

Why PoSER and not PreGER (merging the setups' correlations or spectra before
a single identification): the ambient excitation changes between setups
(wind, traffic, hours apart), which PreGER must normalise away through the
references before it can merge anything, and a single identification
stretches one model order over the channels of all setups.  PoSER keeps each
setup's identification exactly what ``identify`` gives on a single record
(automated picking, the quality notes, scale-proof), needs only the
references to be shared, and shows per setup what was found (a mode missing
in one setup is reported, not smeared).  Its weak point, pairing closely
spaced modes across setups, is handled with frequency *and* the MAC of the
reference components.

References
----------
Döhler, M., Andersen, P., Mevel, L. (2010). Data merging for multi-setup
operational modal analysis with data-driven SSI. Proc. IMAC XXVIII,
443-452. https://doi.org/10.1007/978-1-4419-9834-7_41
Rainieri, C., Fabbrocino, G. (2014). Operational Modal Analysis of Civil
Engineering Structures, ch. 4.6 (multi-setup). Springer.
https://doi.org/10.1007/978-1-4939-0767-0
"""

from __future__ import annotations

import logging
from collections.abc import Mapping, Sequence
from typing import Any

import numpy as np
from bshm.analysis.modal import ModalResult

__all__ = ["identify_multi_setup"]

log = logging.getLogger(__name__)

#: Below this share of a setup shape's norm in the reference components, the
#: references hardly move in that mode and the setup's scale is unreliable.
MIN_REF_SHARE = 0.05


def _check_setups(
    setups: Sequence[Any], references: Sequence[str]
) -> list[tuple[Any, tuple[str, ...]]]:
    if isinstance(references, str) or not len(references):
        raise ValueError("references must be a non-empty list of channel names")
    if len(set(references)) != len(references):
        raise ValueError(f"references repeat a channel: {list(references)}")
    out = []
    if not len(setups):
        raise ValueError("no setup given: pass a list of (data, channel_names) pairs")
    for k, item in enumerate(setups):
        try:
            data, names = item
        except (TypeError, ValueError):
            raise ValueError(f"setup {k}: expected a (data, channel_names) pair") from None
        names = tuple(str(n) for n in names)
        if len(set(names)) != len(names):
            raise ValueError(f"setup {k}: channel names repeat: {list(names)}")
        missing = [r for r in references if r not in names]
        if missing:
            raise ValueError(
                f"setup {k}: reference channel(s) {', '.join(missing)} not in its channels "
                f"({', '.join(names)}); every setup must record every reference"
            )
        out.append((data, names))
    return out


def _pair(
    results: list[ModalResult], refs: list[np.ndarray], freq_tol: float, min_ref_mac: float
) -> list[dict[int, int]]:
    """Groups of (setup -> mode index), one mode per setup, best supported first."""
    from bshm.analysis.mac import mac_matrix

    items = [(s, k) for s, r in enumerate(results) for k in range(r.n_modes)]
    items.sort(key=lambda sk: -int(results[sk[0]].n_poles[sk[1]]))
    used: set[tuple[int, int]] = set()
    groups = []
    for s0, k0 in items:
        if (s0, k0) in used:
            continue
        f0 = results[s0].frequencies[k0]
        r0 = results[s0].shapes[refs[s0], k0]
        group = {s0: k0}
        used.add((s0, k0))
        for s, res in enumerate(results):
            if s == s0 or res.n_modes == 0:
                continue
            df = np.abs(res.frequencies / f0 - 1.0)
            macs = mac_matrix(res.shapes[refs[s]], r0[:, None])[:, 0]
            ok = [
                k
                for k in np.argsort(df)
                if df[k] <= freq_tol and (s, k) not in used and macs[k] >= min_ref_mac
            ]
            if ok:
                group[s] = int(ok[0])
                used.add((s, int(ok[0])))
        groups.append(group)
    return groups


def _merge(
    group: dict[int, int],
    results: list[ModalResult],
    refs: list[np.ndarray],
    glob: dict[str, int],
    notes: list[str],
) -> np.ndarray:
    """Rescale each member onto the references of the member that sees them best."""
    nl = len(glob)
    acc = np.zeros(nl, dtype=np.complex128)
    cnt = np.zeros(nl)
    tiny = np.finfo(float).tiny
    shares = {
        s: float(
            np.linalg.norm(results[s].shapes[refs[s], k])
            / max(np.linalg.norm(results[s].shapes[:, k]), tiny)
        )
        for s, k in group.items()
    }
    s0 = max(shares, key=lambda s: shares[s])
    anchor = results[s0].shapes[refs[s0], group[s0]]
    f = results[s0].frequencies[group[s0]]
    for s, k in group.items():
        phi = results[s].shapes[:, k]
        rp = phi[refs[s]]
        share = shares[s]
        if share < MIN_REF_SHARE:
            notes.append(
                f"mode at {f:.4g} Hz, setup {s}: the references carry only {share:.1%} of "
                "the shape (near a node): its part of the global shape is unreliable"
            )
        den = np.vdot(rp, rp)
        alpha = np.vdot(rp, anchor) / den if den != 0 else 0.0
        for c, name in enumerate(results[s].channels):
            acc[glob[name]] += alpha * phi[c]
            cnt[glob[name]] += 1
    shape = np.where(cnt > 0, acc / np.maximum(cnt, 1), np.nan + 0j)
    finite = np.isfinite(shape)
    big = int(np.argmax(np.where(finite, np.abs(shape), -1.0)))
    return shape / shape[big] if shape[big] != 0 else shape


def identify_multi_setup(
    setups: Sequence[tuple[Any, Sequence[str]]],
    fs: float | Sequence[float],
    references: Sequence[str],
    *,
    quantities: Mapping[str, str] | None = None,
    locations: Mapping[str, Sequence[float]] | None = None,
    freq_tol: float = 0.02,
    min_ref_mac: float = 0.8,
    min_setups: int | None = None,
    **options: Any,
) -> ModalResult:
    """Identify global modes of a roving-sensor campaign (PoSER).

    Parameters
    ----------
    setups : sequence of (data, channel_names)
        One pair per setup: ``data`` of shape ``(n_samples, n_channels)``
        and the name of each column.  A name is a measured point: the same
        name in two setups is the same point (the references at least).
    fs : float or sequence of float
        Sampling rate (Hz), or one per setup.
    references : sequence of str
        Channels recorded in every setup.
    quantities : mapping of str to str, optional
        Quantity of each channel name (see ``identify``'s ``quantities``).
    locations : mapping of str to (x, y, z), optional
        Position of each point (m), returned as ``ModalResult.locations``.
    freq_tol : float, default 0.02
        Largest relative frequency difference of one mode between setups.
    min_ref_mac : float, default 0.8
        Smallest MAC of the reference components of one mode between setups.
    min_setups : int, optional
        Keep a global mode found in at least this many setups (default: all,
        so every global shape is complete; lower it to get partial shapes,
        NaN where a setup did not see the mode).
    **options
        Passed to :func:`bshm.analysis.identify` for every setup (e.g.
        ``freq_max_hz``, ``decimate_to_hz``).

    Returns
    -------
    ModalResult
        ``frequencies``/``damping``: means over the setups that found the
        mode, ``freq_std``/``damping_std``: their spread (0 for one setup),
        ``shapes``: global shapes ``(n_points, n_modes)`` in the order of
        ``channel_names`` (first appearance over the setups), largest
        component 1, ``n_poles``: supporting poles summed over the setups,
        ``mpc``/``mpd`` of the global shapes, ``options["setups"]``: per
        setup its channels and frequencies, ``method``:
        ``"ssi-cov multi-setup (PoSER)"``.

    Raises
    ------
    ValueError
        A setup lacks a reference (naming the setup), bad pairs, or any
        ``identify`` error, prefixed with the setup.
    """
    from bshm.analysis.modal import identify

    pairs = _check_setups(setups, references)
    if isinstance(fs, (int, float, np.number)):
        rates = [float(fs)] * len(pairs)
    else:
        rates = [float(v) for v in fs]
    if len(rates) != len(pairs):
        raise ValueError(f"{len(rates)} sampling rates given for {len(pairs)} setups")
    need = len(pairs) if min_setups is None else int(min_setups)
    if not 1 <= need <= len(pairs):
        raise ValueError(f"min_setups must be in 1..{len(pairs)}, got {min_setups}")
    results = []
    for k, ((data, names), rate) in enumerate(zip(pairs, rates)):
        q = None if quantities is None else [quantities.get(n) for n in names]
        try:
            results.append(identify(data, rate, channel_names=names, quantities=q, **options))
        except ValueError as exc:
            raise ValueError(f"setup {k}: {exc}") from exc
    glob: dict[str, int] = {}
    for _, names in pairs:
        for n in names:
            glob.setdefault(n, len(glob))
    refs = [np.array([r.channels.index(c) for c in references]) for r in results]
    notes = [
        f"setup {k}: {r.n_modes} modes ({', '.join(f'{f:.4g}' for f in r.frequencies)} Hz)"
        for k, r in enumerate(results)
    ]
    groups = _pair(results, refs, float(freq_tol), float(min_ref_mac))
    kept = [g for g in groups if len(g) >= need]
    for g in groups:
        if len(g) < need:
            s, k = next(iter(g.items()))
            notes.append(
                f"mode at {results[s].frequencies[k]:.4g} Hz found in {len(g)} of "
                f"{len(pairs)} setups: left out (min_setups={need})"
            )
    return _result(kept, results, refs, glob, notes, locations, options, pairs)


def _result(
    kept: list[dict[int, int]],
    results: list[ModalResult],
    refs: list[np.ndarray],
    glob: dict[str, int],
    notes: list[str],
    locations: Mapping[str, Sequence[float]] | None,
    options: dict[str, Any],
    pairs: list[tuple[Any, tuple[str, ...]]],
) -> ModalResult:
    from bshm.analysis.mac import mpc, mpd

    def per(g: dict[int, int], attr: str) -> np.ndarray:
        return np.array([getattr(results[s], attr)[k] for s, k in g.items()], dtype=float)

    kept.sort(key=lambda g: float(per(g, "frequencies").mean()))
    nm = len(kept)
    shapes = np.empty((len(glob), nm), dtype=np.complex128)
    for j, g in enumerate(kept):
        shapes[:, j] = _merge(g, results, refs, glob, notes)
    freq = np.array([per(g, "frequencies").mean() for g in kept])
    damp = np.array([per(g, "damping").mean() for g in kept])
    fstd = np.array([per(g, "frequencies").std(ddof=1) if len(g) > 1 else 0.0 for g in kept])
    zstd = np.array([per(g, "damping").std(ddof=1) if len(g) > 1 else 0.0 for g in kept])
    filled = np.where(np.isfinite(shapes), shapes, 0.0)
    loc = None
    if locations is not None:
        loc = np.full((len(glob), 3), np.nan)
        for name, i in glob.items():
            if name in locations:
                loc[i] = np.asarray(locations[name], dtype=float)[:3]
    setup_info = [
        {
            "channels": list(names),
            "frequencies_hz": [
                float(results[s].frequencies[g[s]]) if s in g else None for g in kept
            ],
        }
        for s, (_, names) in enumerate(pairs)
    ]
    return ModalResult(
        frequencies=freq,
        damping=damp,
        shapes=shapes,
        freq_std=fstd,
        damping_std=zstd,
        mpc=mpc(filled) if nm else np.empty(0),
        mpd=mpd(filled) if nm else np.empty(0),
        n_poles=np.array([int(per(g, "n_poles").sum()) for g in kept], dtype=np.int64),
        method="ssi-cov multi-setup (PoSER)",
        fs=float(results[0].fs),
        channels=tuple(glob),
        notes=tuple(notes),
        options={
            **options,
            "references": [results[0].channels[i] for i in refs[0]],
            "setups": setup_info,
        },
        locations=loc,
    )
