"""Store tests keep the reader's summary cache in a temporary folder."""

from __future__ import annotations

import pytest


@pytest.fixture(autouse=True)
def _summary_cache_dir(tmp_path_factory, monkeypatch):
    """Point ``BSHM_CACHE_DIR`` at a per-session temp folder (not ~/.cache)."""
    monkeypatch.setenv("BSHM_CACHE_DIR", str(tmp_path_factory.getbasetemp() / "bshm-cache"))
