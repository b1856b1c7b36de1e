"""Per-window trends of a results file, as CSV or JSON, for spreadsheets and platforms.

One row per processed window (the tracked windows of ``/tracks``):

- ``time`` (ISO 8601 UTC, window start) and ``time_ns``;
- each environmental variable of ``/environment`` (window mean, e.g. the
  deck temperature ``T1`` in degC);
- per tracked mode ``M``: ``M_frequency_hz``, ``M_damping`` (ratio),
  ``M_change_pct`` (the temperature-compensated change, ``/features/residual``,
  in %);
- ``t2`` (the novelty index, Hotelling T^2 of the compensated features) and
  ``level`` (0-3, the persistent alarm level).

Values not available (a mode not found in a window, indices before the
baseline is complete) are empty in CSV and ``null`` in JSON.
"""

from __future__ import annotations

import csv
import io
import json
import math
from pathlib import Path
from typing import Any

import numpy as np

from bshm.timeutil import to_iso


def _mode_ids(tr: dict[str, Any], k: int) -> list[str]:
    ids = tr.get("mode_ids")
    if ids is None:
        return [f"M{i + 1}" for i in range(k)]
    return [x.decode() if isinstance(x, bytes) else str(x) for x in list(ids)]


def _aligned(t: np.ndarray, src_t: Any, values: Any) -> np.ndarray | None:
    """``values`` (rows at ``src_t``) at the times ``t``; NaN where absent."""
    if src_t is None or values is None:
        return None
    src_t = np.asarray(src_t, np.int64)
    v = np.asarray(values, dtype=float)
    out = np.full((t.size,) + v.shape[1:], np.nan)
    if src_t.size == 0:
        return out
    i = np.searchsorted(src_t, t)
    i = np.clip(i, 0, src_t.size - 1)
    hit = src_t[i] == t
    out[hit] = v[i[hit]]
    return out


def trends(results_path: str | Path) -> dict[str, Any]:
    """The trends table of a results file.

    Returns
    -------
    dict
        ``{"station", "modes": [ids], "environment": [names], "columns": [...],
        "rows": [[...], ...]}`` with floats (NaN where absent) and ``time``/``time_ns``.

    Raises
    ------
    bshm.errors.StoreError
        Not a results file.
    """
    from bshm.store.results import open_results

    with open_results(results_path) as r:
        station = r.station
        tr = r.tracks()
        ft = r.features()
        ix = r.indices()
        env_names, env_t, env_v = r.environment()
    t = np.asarray(tr.get("time_ns", np.zeros(0, np.int64)), np.int64)
    freq = np.asarray(tr.get("frequency", np.zeros((t.size, 0))), float).reshape(t.size, -1)
    damp = np.asarray(tr.get("damping", np.full(freq.shape, np.nan)), float).reshape(freq.shape)
    ids = _mode_ids(tr, freq.shape[1])
    change = _aligned(t, ft.get("time_ns"), ft.get("residual"))
    t2 = _aligned(t, ix.get("time_ns"), ix.get("t2"))
    level = _aligned(t, ix.get("time_ns"), ix.get("level"))
    env_a = _aligned(t, env_t, env_v) if len(env_names) else None
    env = env_a if env_a is not None else np.zeros((t.size, 0))
    columns = ["time", "time_ns", *env_names]
    for m in ids:
        columns += [f"{m}_frequency_hz", f"{m}_damping", f"{m}_change_pct"]
    columns += ["t2", "level"]
    rows = []
    for w in range(t.size):
        row: list[Any] = [to_iso(int(t[w])), int(t[w])]
        row += [float(x) for x in env[w]]
        for j in range(len(ids)):
            row += [
                float(freq[w, j]),
                float(damp[w, j]),
                float(change[w, j]) if change is not None else math.nan,
            ]
        row += [
            float(t2[w]) if t2 is not None else math.nan,
            float(level[w]) if level is not None else math.nan,
        ]
        rows.append(row)
    return {
        "station": station,
        "modes": ids,
        "environment": list(env_names),
        "columns": columns,
        "rows": rows,
    }


def _cell(v: Any) -> Any:
    if isinstance(v, float) and not math.isfinite(v):
        return None
    return v


def trends_csv(table: dict[str, Any]) -> str:
    """CSV text of :func:`trends` (header row; empty cells where absent)."""
    buf = io.StringIO()
    w = csv.writer(buf, lineterminator="\n")
    w.writerow(table["columns"])
    for row in table["rows"]:
        cells = []
        for c, v in zip(table["columns"], row, strict=True):
            v = _cell(v)
            if v is None:
                cells.append("")
            elif c == "level":
                cells.append(str(int(v)))
            elif isinstance(v, float):
                cells.append(repr(v))
            else:
                cells.append(str(v))
        w.writerow(cells)
    return buf.getvalue()


def trends_json(table: dict[str, Any]) -> dict[str, Any]:
    """JSON-ready form of :func:`trends`: one object per window."""
    n_env = len(table["environment"])
    windows = []
    for row in table["rows"]:
        env = dict(zip(table["environment"], map(_cell, row[2 : 2 + n_env]), strict=True))
        modes = {}
        for j, m in enumerate(table["modes"]):
            f, z, c = row[2 + n_env + 3 * j : 5 + n_env + 3 * j]
            modes[m] = {"frequency_hz": _cell(f), "damping": _cell(z), "change_pct": _cell(c)}
        lv = _cell(row[-1])
        windows.append(
            {
                "time": row[0],
                "time_ns": row[1],
                "environment": env,
                "modes": modes,
                "t2": _cell(row[-2]),
                "level": None if lv is None else int(lv),
            }
        )
    return {"station": table["station"], "modes": table["modes"], "windows": windows}


def write_trends(table: dict[str, Any], path: str | Path) -> Path:
    """Write the table as CSV (``.csv``) or JSON (``.json``), atomically."""
    import os

    out = Path(path)
    text = (
        trends_csv(table)
        if out.suffix.lower() == ".csv"
        else json.dumps(trends_json(table), indent=1)
    )
    tmp = out.with_name(out.name + ".part")
    try:
        with open(tmp, "w", encoding="utf-8", newline="") as f:
            f.write(text)
            f.flush()
            os.fsync(f.fileno())
        os.replace(tmp, out)
    except OSError as exc:
        tmp.unlink(missing_ok=True)
        from bshm.errors import StoreError

        raise StoreError(f"{out}: cannot write ({exc.strerror or exc})") from None
    return out
