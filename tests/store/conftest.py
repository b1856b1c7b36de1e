"""Fixtures of the store tests."""

from __future__ import annotations

import pytest
from store_helpers import acc_spec, env_spec

from bshm.store import SourceSpec


@pytest.fixture
def specs() -> list[SourceSpec]:
    return [acc_spec(), env_spec()]
