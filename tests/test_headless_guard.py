"""Headless guard: importing every bshm module except ``bshm.gui`` loads no Qt.

The core, acquisition, analysis and fixtures must run on servers without
Qt (DESIGN.md: "Core and analysis never import Qt").
"""

from __future__ import annotations

import json
import subprocess
import sys

SCRIPT = r"""
import importlib, json, pkgutil, sys
import bshm
optional = {"dask", "distributed", "tqdm", "pyoma2", "rainflow"}
seen, failed = [], {}
def walk(pkg):
    for info in pkgutil.walk_packages(pkg.__path__, pkg.__name__ + "."):
        name = info.name
        if name == "bshm.gui" or name.startswith("bshm.gui.") or name.endswith("__main__"):
            continue
        try:
            importlib.import_module(name)
            seen.append(name)
        except ModuleNotFoundError as exc:
            if (exc.name or "").split(".")[0] not in optional:
                failed[name] = repr(exc)
        except Exception as exc:
            failed[name] = repr(exc)
walk(bshm)
for sub in ("acquisition", "analysis", "fixtures"):
    try:
        walk(importlib.import_module("bshm." + sub))
    except Exception as exc:
        failed["bshm." + sub] = repr(exc)
qt = sorted(m for m in sys.modules
            if m.split(".")[0] in {"PySide6", "PySide2", "PyQt5", "PyQt6", "pyqtgraph", "shiboken6"})
print(json.dumps({"seen": seen, "failed": failed, "qt": qt}))
"""


def test_no_qt_outside_the_gui():
    run = subprocess.run(
        [sys.executable, "-c", SCRIPT], capture_output=True, text=True, timeout=240
    )
    assert run.returncode == 0, run.stderr[-3000:]
    report = json.loads(run.stdout.strip().splitlines()[-1])
    assert "bshm.cli.cmd_view" in report["seen"]
    assert "bshm.store.reader" in report["seen"]
    assert len(report["seen"]) > 20, report["seen"]
    assert report["qt"] == [], f"Qt loaded outside bshm.gui: {report['qt']}"
    assert report["failed"] == {}, f"modules that do not import: {report['failed']}"
