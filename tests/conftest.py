"""Shared pytest fixtures."""

from __future__ import annotations

import numpy as np
import pytest


@pytest.fixture
def rng() -> np.random.Generator:
    """A seeded random generator: tests are deterministic."""
    return np.random.default_rng(20261127)


@pytest.fixture(autouse=True, scope="session")
def _private_store_cache(tmp_path_factory):
    """Keep the raw store's per-folder summary cache out of the user's home."""
    import os

    old = os.environ.get("BSHM_CACHE_DIR")
    os.environ["BSHM_CACHE_DIR"] = str(tmp_path_factory.mktemp("bshm-cache"))
    yield
    if old is None:
        os.environ.pop("BSHM_CACHE_DIR", None)
    else:
        os.environ["BSHM_CACHE_DIR"] = old
