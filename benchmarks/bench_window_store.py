r"""The store's share of an analysis worker's window: ``run_batch`` with two store versions.

Same batches as ``benchmarks/bench_window_batch.py`` (a folder of hourly
files with its ``station.toml``, 16 windows per batch), alternated batch by
batch in one process, CPU per window (medians over the batches):

* ``old``: another version of ``bshm/store`` (e.g. main's) as the package
  ``bshm_oldstore`` in ``--old-store PKGDIR`` (see ``benchmarks/bench_store.py``
  for the command that makes it), swapped in as ``bshm.store.open_raw``;
* ``new``: this checkout's store, ``process_batch`` unchanged (a temporary
  folder of symbolic links per batch);
* ``new, files=``: this store with ``process_batch`` opening its files as
  ``open_raw(cfg.data_dir, files=files, use_cache=False)`` instead of the
  temporary folder (the one-line change proposed for ``analysis/windows.py``;
  emulated here by wrapping ``open_raw``, ``analysis/`` is not edited).

The ``WindowResult`` of every window is checked identical (field by field)
across the variants before timing.

Usage::

    .venv/bin/python benchmarks/bench_window_store.py DIR --old-store PKGDIR [--reps 3]
"""

from __future__ import annotations

import argparse
import dataclasses
import importlib
import os
import pickle
import statistics
import sys
import time
from pathlib import Path


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("folder", type=Path)
    ap.add_argument("--old-store", required=True, metavar="PKGDIR")
    ap.add_argument("--reps", type=int, default=3)
    a = ap.parse_args()
    sys.path.insert(0, str(Path(__file__).parent))
    sys.path.insert(0, a.old_store)
    import bench_window_batch as bwb
    from bshm.analysis.job_exec import run_batch

    import bshm.store as store
    from bshm.store import reader as new_reader

    old_reader = importlib.import_module("bshm_oldstore.reader")
    cfg, batches, plans = bwb.setup(a.folder)
    data_dir = str(cfg.data_dir)

    def files_open_raw(path, **kw):
        """``open_raw`` as process_batch would call it with files=: the
        temporary folder's links are replaced by the real files."""
        p = Path(path)
        if str(p) != data_dir and p.name.startswith("bshm-batch-"):
            files = [Path(os.readlink(q)) for q in sorted(p.iterdir())]
            return new_reader.open_raw(data_dir, files=files, use_cache=False)
        return new_reader.open_raw(path, **kw)

    variants = {"old": old_reader.open_raw, "new": new_reader.open_raw,
                "new, files=": files_open_raw}

    def use(fn):
        store.open_raw = fn  # process_batch imports it from bshm.store at each call

    def dump(results):
        return pickle.dumps([dataclasses.asdict(r) for r in results])

    first = None
    for name, fn in variants.items():  # warm-up and check
        use(fn)
        got = dump([r for b, p in zip(batches, plans, strict=True) for r in run_batch(cfg, b, p)])
        if first is None:
            first = got
        elif got != first:
            raise SystemExit(f"{name}: WindowResults differ from the old store's")
    cpu: dict[str, list[float]] = {k: [] for k in variants}
    for _ in range(a.reps):
        for b, p in zip(batches, plans, strict=True):
            for name, fn in variants.items():
                use(fn)
                c = time.process_time()
                run_batch(cfg, b, p)
                cpu[name].append((time.process_time() - c) / len(b) * 1e3)
    use(new_reader.open_raw)
    base = statistics.median(cpu["old"])
    print(f"# load average {os.getloadavg()[0]:.2f}, UTC {time.strftime('%H:%M', time.gmtime())}; "
          f"{sum(len(b) for b in batches)} windows, medians of {len(cpu['old'])} batches; "
          "WindowResults identical")
    for name, v in cpu.items():
        m = statistics.median(v)
        print(f"  run_batch CPU per window, {name:<12} {m:6.1f} ms  ratio {m / base:5.3f}  "
              f"(batches: {', '.join(f'{x:.1f}' for x in v)})")


if __name__ == "__main__":
    main()
