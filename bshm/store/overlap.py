"""Duplicated and overlapping raw files: which samples the reader trusts.

Within one source, sample times strictly increase, so two files never hold
samples of the same source at the same time unless something went wrong:
a file was copied (``x.h5`` and ``x-1.h5`` or ``copy of x.h5``), the host
clock was stepped back between two recordings, or two recorders wrote to
one folder. Merging such files sample by sample garbles the signal (a copy
interleaved with itself halves every frequency), so the reader never does.

The rule, per source:

1. Two files *overlap* for a source when a contiguous run of samples of
   one intersects a run of the other (their runs, not just their periods:
   files of one period holding disjoint samples, e.g. two imports of
   different hours, are fine).
2. Of overlapping files, the one **written first** (root attribute
   ``created_ns``, then the modification time, then the name) is kept; the other file's samples of
   that source are excluded as a whole, never merged.
3. An excluded source whose samples have exactly the time span and count
   of the kept one is a **duplicate** (nothing is lost; no gap). Any other
   exclusion is recorded as a gap over the excluded file's span of that
   source, with the reason, so analysis windows there are skipped as not
   assessable instead of mixing two clocks.

Whole files whose every source is a duplicate are listed as skipped
duplicates. Nothing is written: the decision is remade from the file
summaries each time a folder is read, so removing the offending file
restores everything.
"""

from __future__ import annotations

from collections import defaultdict
from dataclasses import dataclass
from pathlib import Path

from bshm.store import schema as S
from bshm.store.fileindex import FileSummary, SrcSummary
from bshm.timeutil import to_iso


@dataclass(frozen=True)
class Exclusion:
    """Samples of one source of one file that the reader does not read.

    Attributes
    ----------
    path : pathlib.Path
        The excluded file.
    source : str
        The source whose samples are excluded.
    kept : pathlib.Path
        The earlier-written file it overlaps.
    duplicate : bool
        Same time span and sample count as the kept file's source.
    start_ns, end_ns : int
        The excluded span: first sample time, last sample time plus one
        period (exclusive).
    overlap_ns : int
        How much of the two files' runs intersect (ns).
    reason : str
        One line for people.
    """

    path: Path
    source: str
    kept: Path
    duplicate: bool
    start_ns: int
    end_ns: int
    overlap_ns: int
    reason: str

    def gap(self) -> S.Gap | None:
        """The gap recorded for this exclusion (None for a duplicate)."""
        if self.duplicate:
            return None
        return S.Gap(self.start_ns, self.end_ns, self.reason)


def _intersection_ns(a: list[tuple[int, int]], b: list[tuple[int, int]]) -> int | None:
    """Total intersection of two sorted lists of inclusive runs; None when disjoint."""
    i = j = 0
    total = 0
    hit = False
    while i < len(a) and j < len(b):
        lo = max(a[i][0], b[j][0])
        hi = min(a[i][1], b[j][1])
        if lo <= hi:
            hit = True
            total += hi - lo
        if a[i][1] < b[j][1]:
            i += 1
        else:
            j += 1
    return total if hit else None


def _precedence(s: FileSummary) -> tuple[int, int, str]:
    """Written first: ``created_ns``; a copy keeps it, so then the older
    modification time (``cp`` without ``-p`` makes a newer one), then the
    name without its ``.h5``/``.h5.part`` ending (``x`` before ``x-1``)."""
    stem = s.path.name.split(".h5")[0]
    return (s.created_ns, s.stat[0], stem)


def find_exclusions(summaries: list[FileSummary]) -> list[Exclusion]:
    """Apply the rule of this module to the summaries of one folder.

    Parameters
    ----------
    summaries : list of FileSummary
        The readable files of one station.

    Returns
    -------
    list of Exclusion
        One per excluded (file, source), in file-precedence order.
    """
    nodes: dict[str, list[tuple[FileSummary, SrcSummary]]] = defaultdict(list)
    for s in summaries:
        for name, ss in s.sources.items():
            if ss.n and ss.runs:
                nodes[name].append((s, ss))
    out: list[Exclusion] = []
    for source, lst in nodes.items():
        conflicts = _conflicts(lst)
        if not conflicts:
            continue
        kept: set[Path] = set()
        for s, ss in sorted(lst, key=lambda x: _precedence(x[0])):
            hit = [(o, oss, ov) for o, oss, ov in conflicts.get(s.path, []) if o.path in kept]
            if not hit:
                kept.add(s.path)
                continue
            o, oss, ov = min(hit, key=lambda h: _precedence(h[0]))
            out.append(_exclusion(s, ss, o, oss, ov, source))
    return out


def _conflicts(lst: list[tuple[FileSummary, SrcSummary]]
               ) -> dict[Path, list[tuple[FileSummary, SrcSummary, int]]]:
    """Pairs of files whose runs intersect (sweep over the first sample times)."""
    order = sorted(lst, key=lambda x: x[1].first_ns)
    active: list[tuple[FileSummary, SrcSummary]] = []
    out: dict[Path, list[tuple[FileSummary, SrcSummary, int]]] = defaultdict(list)
    for s, ss in order:
        active = [(o, oss) for o, oss in active if oss.last_ns >= ss.first_ns]
        for o, oss in active:
            ov = _intersection_ns(oss.runs, ss.runs)
            if ov is not None:
                out[s.path].append((o, oss, ov))
                out[o.path].append((s, ss, ov))
        active.append((s, ss))
    return out


def _exclusion(s: FileSummary, ss: SrcSummary, o: FileSummary, oss: SrcSummary, ov: int,
               source: str) -> Exclusion:
    dup = (ss.n == oss.n and ss.first_ns == oss.first_ns and ss.last_ns == oss.last_ns
           and ss.runs == oss.runs)
    end = ss.last_ns + S.period_ns(ss.info.fs)
    if dup:
        why = (f"{s.path.name}: source {source!r} holds the same samples as {o.path.name} "
               "(a copy?): not read twice")
    else:
        why = (f"{s.path.name}: source {source!r} overlaps {o.path.name} by {ov / 1e9:.6g} s "
               f"(clock stepped back, or two recorders?): its samples {to_iso(ss.first_ns)} .. "
               f"{to_iso(ss.last_ns)} are not read")
    return Exclusion(s.path, source, o.path, dup, ss.first_ns, end, ov, why)
