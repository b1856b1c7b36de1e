"""Mode tracking: label the modes of every window with persistent mode ids.

A *reference modal set* (frequency and shape of each physical mode) is
built from the modes of a baseline period, or given. Every window's modes
are then assigned to the reference modes by an optimal assignment
(Hungarian algorithm, :func:`scipy.optimize.linear_sum_assignment`) on a
cost that combines the relative frequency distance and the mode-shape
distance ``1 - MAC``, with gates on both: a mode that is not close enough
to any reference mode stays unassigned, and a reference mode with no match
in a window is simply missing there (NaN), which is normal.

Closely spaced modes keep their labels because the shape term dominates
whenever two candidates have similar frequencies, and because the expected
frequency of each tracked mode follows its own recent history (the median
of its last few assignments), so slow environmental drift does not move a
mode into its neighbour's gate.

References
----------
Magalhaes, F., Cunha, A., Caetano, E. (2012). Vibration based structural
health monitoring of an arch bridge: from automated OMA to damage detection.
Mech. Syst. Signal Process. 28, 212-228. https://doi.org/10.1016/j.ymssp.2011.06.011
Kuhn, H. W. (1955). The Hungarian method for the assignment problem. Naval
Research Logistics Quarterly 2, 83-97. https://doi.org/10.1002/nav.3800020109
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass, field
from typing import Any

import numpy as np

__all__ = [
    "ReferenceSet",
    "TrackSettings",
    "Tracks",
    "WindowModes",
    "build_reference",
    "mac_matrix",
    "normalize_shapes",
    "track",
]

_BIG = 1e6


@dataclass(frozen=True)
class WindowModes:
    """The modes identified in one window.

    Attributes
    ----------
    time_ns : int
        Window start (ns).
    frequencies : ndarray, shape (m,)
        Natural frequencies (Hz).
    damping : ndarray, shape (m,)
        Damping ratios.
    shapes : ndarray, shape (n_channels, m), complex
        Mode shapes (columns).
    """

    time_ns: int
    frequencies: np.ndarray
    damping: np.ndarray
    shapes: np.ndarray


@dataclass(frozen=True)
class TrackSettings:
    """Gates and weights of the assignment.

    Attributes
    ----------
    freq_tol : float
        Largest relative distance between a mode and the expected frequency
        of a tracked mode (default 0.06 = 6 %).
    min_mac : float
        Smallest MAC between a mode and the reference shape (default 0.7).
    history : int
        Number of recent assignments whose median gives the expected
        frequency of a tracked mode (default 8).
    min_availability : float
        A cluster of the baseline becomes a reference mode when it is found in
        at least this fraction of the baseline windows (default 0.2; a mode
        present in 40 % of the windows is tracked).
    cluster_freq_tol : float
        Frequency gate while building the reference (default 0.04).
    max_damping : float
        Modes with a larger damping ratio are ignored (poorly identified).
    damping_factor : float
        A mode whose damping exceeds this multiple of its reference damping
        is ignored in that window (an unreliable estimate).
    """

    freq_tol: float = 0.06
    min_mac: float = 0.7
    history: int = 8
    min_availability: float = 0.2
    cluster_freq_tol: float = 0.04
    max_damping: float = 0.05
    damping_factor: float = 3.0


@dataclass(frozen=True)
class ReferenceSet:
    """The reference modal set.

    Attributes
    ----------
    ids : tuple of str
        Mode ids ``"M1"``, ``"M2"`` ... in increasing frequency.
    frequency : ndarray, shape (k,)
        Reference frequencies (Hz, median over the baseline).
    shape : ndarray, shape (k, n_channels), complex
        Unit-norm reference shapes (rows).
    availability : ndarray, shape (k,)
        Fraction of baseline windows in which each mode was found.
    """

    ids: tuple[str, ...]
    frequency: np.ndarray
    shape: np.ndarray
    availability: np.ndarray
    damping: np.ndarray | None = None

    def to_dict(self) -> dict[str, Any]:
        """JSON-ready description (complex shapes split in real/imag)."""
        return {
            "ids": list(self.ids),
            "frequency": self.frequency.tolist(),
            "shape_real": self.shape.real.tolist(),
            "shape_imag": self.shape.imag.tolist(),
            "availability": self.availability.tolist(),
            "damping": None if self.damping is None else self.damping.tolist(),
        }

    @classmethod
    def from_dict(cls, d: dict[str, Any]) -> ReferenceSet:
        """Rebuild from :meth:`to_dict` output."""
        shape = np.asarray(d["shape_real"], float) + 1j * np.asarray(d["shape_imag"], float)
        damp = d.get("damping")
        return cls(
            tuple(d["ids"]),
            np.asarray(d["frequency"], float),
            shape.reshape(len(d["ids"]), -1),
            np.asarray(d["availability"], float),
            None if damp is None else np.asarray(damp, float),
        )


@dataclass
class Tracks:
    """Tracked-mode series.

    Attributes
    ----------
    time_ns : ndarray, shape (n_w,)
    ids : tuple of str
    frequency, damping, mac : ndarray, shape (n_w, k)
        NaN where the mode was not found in a window.
    shape : ndarray, shape (n_w, k, n_channels), complex
        Zero where not found.
    """

    time_ns: np.ndarray
    ids: tuple[str, ...]
    frequency: np.ndarray
    damping: np.ndarray
    mac: np.ndarray
    shape: np.ndarray
    extra: dict[str, Any] = field(default_factory=dict)

    @property
    def availability(self) -> np.ndarray:
        """Fraction of windows in which each mode was found, shape (k,)."""
        if not self.frequency.shape[0]:
            return np.zeros(self.frequency.shape[1])
        return np.isfinite(self.frequency).mean(axis=0)


def normalize_shapes(shapes: np.ndarray) -> np.ndarray:
    """Rows of unit norm, rotated so that the largest component is real positive.

    Parameters
    ----------
    shapes : ndarray, shape (m, n_channels)

    Returns
    -------
    ndarray, shape (m, n_channels), complex128
    """
    s = np.asarray(shapes, np.complex128).copy()
    if s.size == 0:
        return s
    idx = np.argmax(np.abs(s), axis=1)
    piv = s[np.arange(s.shape[0]), idx]
    rot = np.where(np.abs(piv) > 0, np.conj(piv) / np.maximum(np.abs(piv), 1e-300), 1.0)
    s *= rot[:, None]
    n = np.linalg.norm(s, axis=1)
    s /= np.where(n > 0, n, 1.0)[:, None]
    return s


def mac_matrix(a: np.ndarray, b: np.ndarray) -> np.ndarray:
    """MAC between rows of ``a`` (m, n_ch) and rows of ``b`` (k, n_ch), shape (m, k)."""
    a = np.asarray(a, np.complex128)
    b = np.asarray(b, np.complex128)
    num = np.abs(np.conj(a) @ b.T) ** 2
    den = np.outer(np.sum(np.abs(a) ** 2, axis=1), np.sum(np.abs(b) ** 2, axis=1))
    with np.errstate(invalid="ignore", divide="ignore"):
        out = np.where(den > 0, num / np.where(den > 0, den, 1.0), 0.0)
    return out


def _cost(
    freq, shapes, exp_freq, ref_freq, ref_shapes, freq_tol, min_mac, strong_mac=0.9, wide=3.0
):
    """Assignment cost (m, k) and the MAC matrix; gated pairs cost _BIG.

    A pair is allowed when the MAC reaches ``min_mac`` and the frequency is
    within ``freq_tol`` of the expected (recent) frequency, or, for a
    strong shape match (MAC >= ``strong_mac``), within ``wide * freq_tol`` of
    the reference frequency: a fast environmental jump (frost) then does not
    lose the mode.
    """
    df = np.abs(freq[:, None] - exp_freq[None, :]) / exp_freq[None, :]
    dref = np.abs(freq[:, None] - ref_freq[None, :]) / ref_freq[None, :]
    mac = mac_matrix(shapes, ref_shapes)
    ok = (mac >= min_mac) & ((df <= freq_tol) | ((mac >= strong_mac) & (dref <= wide * freq_tol)))
    cost = (np.minimum(df, 2 * freq_tol) / freq_tol) ** 2 + ((1.0 - mac) / (1.0 - min_mac)) ** 2
    return np.where(ok, cost, _BIG), mac


def _assign(cost: np.ndarray) -> list[tuple[int, int]]:
    from scipy.optimize import linear_sum_assignment

    if cost.size == 0:
        return []
    rows, cols = linear_sum_assignment(cost)
    return [(int(r), int(c)) for r, c in zip(rows, cols) if cost[r, c] < _BIG]


def _merge(cl_f, cl_s, cl_w, st: TrackSettings, merge_mac: float = 0.9) -> None:
    """Merge clusters of one physical mode split by a fast environmental change.

    Two clusters are the same mode when their shapes agree (MAC >= 0.9), their
    frequencies are within the wide gate, and they rarely occur in the same
    window (at most 20 %: a duplicate pick of one mode). Closely spaced
    modes occur together and differ in shape.
    """
    while True:
        order = sorted(range(len(cl_f)), key=lambda j: -len(cl_f[j]))
        done = True
        shapes = normalize_shapes(np.array(cl_s)) if cl_s else np.zeros((0, 0))
        med = [float(np.median(c)) for c in cl_f]
        for ia, a in enumerate(order):
            for b in order[ia + 1 :]:
                if abs(med[a] - med[b]) / med[a] > 3 * st.freq_tol:
                    continue
                if mac_matrix(shapes[a : a + 1], shapes[b : b + 1])[0, 0] < merge_mac:
                    continue
                if len(cl_w[a] & cl_w[b]) > 0.2 * min(len(cl_w[a]), len(cl_w[b])):
                    continue
                phase = np.vdot(cl_s[a], cl_s[b])
                cl_s[a] = cl_s[a] + cl_s[b] * (np.conj(phase) / abs(phase) if abs(phase) > 0 else 1)
                cl_f[a] = cl_f[a] + cl_f[b]
                cl_w[a] |= cl_w[b]
                del cl_f[b], cl_s[b], cl_w[b]
                done = False
                break
            if not done:
                break
        if done:
            return


def build_reference(
    windows: Sequence[WindowModes],
    settings: TrackSettings | None = None,
) -> ReferenceSet:
    """Build the reference modal set from the modes of a baseline period.

    Modes are clustered window by window (each window's modes are assigned
    optimally to the clusters found so far; unmatched modes open new
    clusters), then clusters found in at least ``min_availability`` of the
    windows become reference modes, and a second pass re-assigns every
    window to the refined centroids.

    Parameters
    ----------
    windows : sequence of WindowModes
        Modes of the baseline windows, in time order.
    settings : TrackSettings, optional

    Returns
    -------
    ReferenceSet

    Raises
    ------
    bshm.errors.AnalysisError
        If no mode is stable enough to become a reference mode.
    """
    from bshm.errors import AnalysisError

    st = settings or TrackSettings()
    n_w = len(windows)
    if n_w == 0:
        raise AnalysisError(
            "cannot build a reference modal set: no processed window in the baseline"
        )
    cl_f: list[list[float]] = []
    cl_s: list[np.ndarray] = []  # running sums of aligned shapes
    cl_w: list[set[int]] = []  # windows of each cluster
    for n, w in enumerate(windows):
        good = np.asarray(w.damping, float) <= st.max_damping
        if not good.any() or not np.all(np.isfinite(np.asarray(w.shapes))):
            continue  # (a window with an excluded channel does not shape the reference)
        sh = normalize_shapes(np.asarray(w.shapes).T[good])
        f = np.asarray(w.frequencies, float)[good]
        if cl_f:
            exp_f = np.array([np.median(c[-st.history :]) for c in cl_f])
            ref_f = np.array([np.median(c) for c in cl_f])
            ref_sh = normalize_shapes(np.array(cl_s))
            cost, _ = _cost(f, sh, exp_f, ref_f, ref_sh, st.cluster_freq_tol, st.min_mac)
            pairs = _assign(cost)
        else:
            pairs = []
        used = set()
        for i, j in pairs:
            used.add(i)
            cl_w[j].add(n)
            cl_f[j].append(f[i])
            phase = np.vdot(cl_s[j], sh[i])
            cl_s[j] = cl_s[j] + sh[i] * (np.conj(phase) / abs(phase) if abs(phase) > 0 else 1.0)
        for i in range(f.size):
            if i not in used:
                cl_f.append([f[i]])
                cl_s.append(sh[i].copy())
                cl_w.append({n})
    _merge(cl_f, cl_s, cl_w, st)
    avail = np.array([len(c) / n_w for c in cl_f])
    keep = np.flatnonzero(avail >= st.min_availability)
    if keep.size == 0:
        raise AnalysisError(
            f"cannot build a reference modal set: no mode was found in at least "
            f"{st.min_availability:.0%} of the {n_w} baseline windows"
        )
    freq = np.array([np.median(cl_f[j]) for j in keep])
    shape = normalize_shapes(np.array([cl_s[j] for j in keep]))
    order = np.argsort(freq)
    ref = ReferenceSet(
        tuple(f"M{i + 1}" for i in range(keep.size)), freq[order], shape[order], avail[keep][order]
    )
    # second pass: re-assign to the refined centroids
    tr = track(
        windows,
        ref,
        TrackSettings(freq_tol=st.cluster_freq_tol, min_mac=st.min_mac, history=st.history),
    )
    f2 = np.array(
        [
            np.nanmedian(c) if np.isfinite(c).any() else f0
            for c, f0 in zip(tr.frequency.T, ref.frequency)
        ]
    )
    sh2 = []
    for j in range(len(ref.ids)):
        ok = np.isfinite(tr.frequency[:, j])
        if ok.any():
            s = tr.shape[ok, j, :]
            phase = s @ np.conj(ref.shape[j])
            s = s * (np.conj(phase) / np.maximum(np.abs(phase), 1e-300))[:, None]
            sh2.append(s.mean(axis=0))
        else:
            sh2.append(ref.shape[j])
    d2 = np.array([np.nanmedian(c) if np.isfinite(c).any() else np.nan for c in tr.damping.T])
    order = np.argsort(f2)
    return ReferenceSet(
        ref.ids,
        f2[order],
        normalize_shapes(np.array(sh2))[order],
        tr.availability[order],
        d2[order],
    )


def track(
    windows: Sequence[WindowModes],
    reference: ReferenceSet,
    settings: TrackSettings | None = None,
    recent: Sequence[Sequence[float]] | None = None,
) -> Tracks:
    """Assign every window's modes to the reference modes.

    Parameters
    ----------
    windows : sequence of WindowModes
        In time order (the expected frequencies follow the past only, so the
        result for a window never depends on later windows). Shape rows that
        are NaN (a channel excluded from that window's identification) are
        left out of the MAC of that window.
    reference : ReferenceSet
    settings : TrackSettings, optional
    recent : sequence of sequences of float, optional
        The last assigned frequencies of each tracked mode before these
        windows (``Tracks.extra["recent"]`` of the previous call): tracking
        window by window, or in pieces, then gives the same result as in one
        call.

    Returns
    -------
    Tracks
        Frequency, damping, MAC (to the reference) and shape per tracked
        mode; ``extra["recent"]`` carries the state for the next call.
    """
    st = settings or TrackSettings()
    k = len(reference.ids)
    n_w = len(windows)
    n_ch = reference.shape.shape[1]
    freq = np.full((n_w, k), np.nan)
    damp = np.full((n_w, k), np.nan)
    macs = np.full((n_w, k), np.nan)
    shapes = np.zeros((n_w, k, n_ch), np.complex64)
    recent_: list[list[float]] = (
        [list(map(float, r))[-st.history :] for r in recent]
        if recent is not None and len(recent) == k
        else [[] for _ in range(k)]
    )
    dlim = np.full(k, st.max_damping)
    if reference.damping is not None:
        dlim = np.minimum(
            dlim, np.nan_to_num(st.damping_factor * reference.damping, nan=st.max_damping)
        )
    for n, w in enumerate(windows):
        f = np.asarray(w.frequencies, float)
        if f.size == 0 or k == 0:
            continue
        dw = np.asarray(w.damping, float)
        raw = np.asarray(w.shapes).T
        if raw.shape[1] != n_ch:
            raise ValueError(
                f"window {w.time_ns}: shapes have {raw.shape[1]} channels, the reference {n_ch}"
            )
        have = np.all(np.isfinite(raw), axis=0)  # channels identified in this window
        if not have.any():
            continue
        sh = normalize_shapes(raw[:, have])
        ref_sh = reference.shape if have.all() else normalize_shapes(reference.shape[:, have])
        exp_f = np.array(
            [
                np.median(r[-st.history :]) if r else f0
                for r, f0 in zip(recent_, reference.frequency)
            ]
        )
        cost, mac = _cost(f, sh, exp_f, reference.frequency, ref_sh, st.freq_tol, st.min_mac)
        cost = np.where(dw[:, None] > dlim[None, :], _BIG, cost)  # unreliable estimates
        for i, j in _assign(cost):
            freq[n, j] = f[i]
            damp[n, j] = float(np.asarray(w.damping)[i])
            macs[n, j] = mac[i, j]
            phase = np.vdot(ref_sh[j], sh[i])
            full = np.full(n_ch, np.nan + 0j, np.complex128)
            full[have] = sh[i] * (np.conj(phase) / abs(phase) if abs(phase) > 0 else 1.0)
            shapes[n, j] = full
            recent_[j].append(f[i])
            del recent_[j][: -st.history]
    return Tracks(
        np.array([w.time_ns for w in windows], np.int64),
        reference.ids,
        freq,
        damp,
        macs,
        shapes,
        extra={"recent": [list(r) for r in recent_]},
    )
