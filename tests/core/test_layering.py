"""Code rules that keep the layers honest (checked on the source, by AST)."""

from __future__ import annotations

import ast
from pathlib import Path

ROOT = Path(__file__).resolve().parents[2]
PRODUCT = ["bshm", "acquisition", "analysis", "gui", "fixtures"]


def _modules(*folders):
    for folder in folders:
        for p in sorted((ROOT / folder).rglob("*.py")):
            if "__pycache__" not in p.parts:
                yield p, ast.parse(p.read_text(encoding="utf-8"), filename=str(p))


def _imports(tree):
    for node in ast.walk(tree):
        if isinstance(node, ast.Import):
            for a in node.names:
                yield node, a.name
        elif isinstance(node, ast.ImportFrom) and node.module and node.level == 0:
            yield node, node.module


def test_no_hard_coded_fastmath():
    bad = []
    for p, tree in _modules(*PRODUCT):
        for node in ast.walk(tree):
            if isinstance(node, ast.keyword) and node.arg == "fastmath":
                if isinstance(node.value, ast.Constant) and node.value.value is True:
                    bad.append(f"{p.relative_to(ROOT)}:{node.value.lineno}")
    assert not bad, f"fastmath=True (use the flags of analysis/_numba.py): {bad}"


def test_no_print_in_library_code():
    bad = []
    for p, tree in _modules("bshm", "acquisition", "analysis", "gui"):
        rel = p.relative_to(ROOT)
        if rel.parts[:2] == ("bshm", "cli"):
            continue  # commands print their results
        for node in ast.walk(tree):
            if isinstance(node, ast.Call) and getattr(node.func, "id", None) == "print":
                bad.append(f"{rel}:{node.lineno}")
    assert not bad, f"print() in library code (use logging): {bad}"


def test_core_analysis_acquisition_never_import_qt():
    qt = ("PySide6", "PyQt5", "PyQt6", "pyqtgraph", "shiboken6")
    bad = []
    for p, tree in _modules("bshm", "acquisition", "analysis"):
        if p.relative_to(ROOT).parts[:2] == ("bshm", "cli"):
            continue  # `bshm view` loads the viewer lazily, inside run()
        for node, name in _imports(tree):
            if name.split(".")[0] in qt:
                bad.append(f"{p.relative_to(ROOT)}:{node.lineno} imports {name}")
    assert not bad, bad


def test_product_does_not_import_fixtures_or_gui_upwards():
    """Only the CLI's demo/simulate/new-station commands may import bshm.fixtures;
    analysis and acquisition never import the gui; core never imports upward at
    module level (the CLI imports parts lazily inside run())."""
    bad = []
    for p, tree in _modules("bshm", "acquisition", "analysis"):
        rel = p.relative_to(ROOT)
        for node, name in _imports(tree):
            if name.startswith("bshm.gui") and rel.parts[:2] != ("bshm", "cli"):
                bad.append(f"{rel}:{node.lineno} imports {name}")
            if name.startswith("bshm.fixtures") and rel.parts[:2] != ("bshm", "cli"):
                bad.append(f"{rel}:{node.lineno} imports {name}")
    # module-level imports of the parts from the core (outside the CLI) are not allowed
    for p, tree in _modules("bshm"):
        rel = p.relative_to(ROOT)
        if rel.parts[:2] == ("bshm", "cli"):
            continue
        for node in tree.body:
            if isinstance(node, (ast.Import, ast.ImportFrom)):
                names = [a.name for a in node.names] if isinstance(node, ast.Import) else [node.module or ""]
                for n in names:
                    if n.startswith(("bshm.analysis", "bshm.acquisition", "bshm.gui")):
                        bad.append(f"{rel}:{node.lineno} imports {n} at module level")
    assert not bad, bad


def test_modules_stay_reasonably_small():
    big = [f"{p.relative_to(ROOT)} ({n} lines)" for p, _ in _modules(*PRODUCT)
           if (n := len(p.read_text(encoding="utf-8").splitlines())) > 800]
    assert not big, f"split these modules: {big}"
