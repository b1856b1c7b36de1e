"""Names that reach file names: check_name refuses, safe_name makes any name safe."""

from __future__ import annotations

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from bshm.store.fileindex import cache_dir, cache_path
from bshm.store.schema import MAX_NAME_BYTES, check_name, name_problem, safe_name


@pytest.mark.parametrize("name", ["north-bridge", "B1", "st.2026", "a" * MAX_NAME_BYTES])
def test_good_names_pass_unchanged(name):
    assert name_problem(name) == ""
    assert check_name(name) == name
    assert safe_name(name) == name


@pytest.mark.parametrize(("name", "why"), [
    ("", "is empty"),
    ("a" * 101, "101 bytes long"),
    ("é" * 51, "102 bytes long"),
    ("../x", "not usable in a file name"),
    ("a/b", "not usable"),
    (".hidden", "not usable"),
    ("-rf", "not usable"),
    ("a b", "not usable"),
    ("C:\\x", "not usable"),
    ("x\0y", "not usable"),
])
def test_bad_names_are_refused_with_the_reason(name, why):
    assert why in name_problem(name)
    with pytest.raises(ValueError, match="station name"):
        check_name(name, "station name")


@settings(max_examples=300, deadline=None)
@given(st.text(min_size=0, max_size=400))
def test_safe_name_is_always_one_safe_component(name):
    s = safe_name(name)
    assert name_problem(s) == ""  # ASCII letters, digits, - _ ., no separator, <= 100 bytes
    assert s not in (".", "..") and "/" not in s and "\\" not in s
    if name_problem(name) == "":
        assert s == name


def test_different_unsafe_names_stay_different():
    assert safe_name("a/b") != safe_name("a_b") != safe_name("a:b")
    assert safe_name("x" * 300) != safe_name("x" * 301)


def test_cache_file_of_a_crafted_folder_name_stays_in_the_cache(tmp_path):
    evil = tmp_path / "..%2f..%2fetc" / "a b\\..\\c"
    p = cache_path(evil)
    assert p.parent == cache_dir()
    assert name_problem(p.name[: -len(".json")][:MAX_NAME_BYTES]) == ""
