"""Analysis: signal processing, operational modal analysis, tracking, damage, fatigue.

Public names load lazily so that ``import bshm.analysis`` stays cheap: the
module only holds a table of ``name -> module`` and imports the module the
first time a name is used (PEP 562 module ``__getattr__``).
"""

from __future__ import annotations

import importlib
from typing import TYPE_CHECKING, Any

#: public name -> module that defines it (add names here, nowhere else)
_LAZY: dict[str, str] = {
    "identify": "bshm.analysis.modal",
    "identify_multi_setup": "bshm.analysis.multisetup",
    "ModalResult": "bshm.analysis.modal",
    "StabilizationDiagram": "bshm.analysis.ssi",
    "FDDSpectrum": "bshm.analysis.spectral",
    "mac_matrix": "bshm.analysis.mac",
    "rainflow": "bshm.analysis.rainflow",
}

__all__ = [
    "FDDSpectrum",
    "ModalResult",
    "StabilizationDiagram",
    "identify",
    "identify_multi_setup",
    "mac_matrix",
    "rainflow",
]

if TYPE_CHECKING:  # pragma: no cover
    from bshm.analysis.mac import mac_matrix
    from bshm.analysis.modal import ModalResult, identify
    from bshm.analysis.multisetup import identify_multi_setup
    from bshm.analysis.rainflow import rainflow
    from bshm.analysis.spectral import FDDSpectrum
    from bshm.analysis.ssi import StabilizationDiagram


def __getattr__(name: str) -> Any:
    module = _LAZY.get(name)
    if module is None:
        raise AttributeError(f"module 'bshm.analysis' has no attribute {name!r}")
    value = getattr(importlib.import_module(module), name)
    globals()[name] = value
    return value


def __dir__() -> list[str]:
    return sorted(set(globals()) | set(_LAZY))
