"""Modbus register codecs and read planning (pure, no I/O)."""

from __future__ import annotations

import math
import struct

import pytest
from bshm.acquisition.modbus_codec import (
    MAX_READ_COUNT,
    RegisterCodec,
    plan_reads,
    register_count,
    split_block,
)
from hypothesis import given
from hypothesis import strategies as st

from bshm.config import Channel, Register

# float32 1.5 = 0x3FC00000 (A B C D = 3F C0 00 00); float64 / int32 likewise.
WIRE_TABLE = [
    # type, value, byte_order, word_order, registers on the wire (lowest address first)
    ("float32", 1.5, "big", "big", [0x3FC0, 0x0000]),
    ("float32", 1.5, "big", "little", [0x0000, 0x3FC0]),
    ("float32", 1.5, "little", "big", [0xC03F, 0x0000]),
    ("float32", 1.5, "little", "little", [0x0000, 0xC03F]),
    ("int32", 0x01020304, "big", "big", [0x0102, 0x0304]),
    ("int32", 0x01020304, "big", "little", [0x0304, 0x0102]),
    ("int32", 0x01020304, "little", "big", [0x0201, 0x0403]),
    ("int32", 0x01020304, "little", "little", [0x0403, 0x0201]),
    ("uint32", 0xFFFFFFFE, "big", "big", [0xFFFF, 0xFFFE]),
    ("int32", -2, "big", "little", [0xFFFE, 0xFFFF]),
    ("int16", -2, "big", "big", [0xFFFE]),
    ("int16", 0x0102, "little", "big", [0x0201]),
    ("uint16", 0xABCD, "big", "little", [0xABCD]),
    ("uint16", 0xABCD, "little", "little", [0xCDAB]),
    ("float64", 1.0, "big", "big", [0x3FF0, 0, 0, 0]),
    ("float64", 1.0, "big", "little", [0, 0, 0, 0x3FF0]),
    ("float64", 1.0, "little", "big", [0xF03F, 0, 0, 0]),
    ("float64", 1.0, "little", "little", [0, 0, 0, 0xF03F]),
]


@pytest.mark.parametrize(("type_", "value", "bo", "wo", "regs"), WIRE_TABLE)
def test_wire_table(type_, value, bo, wo, regs):
    codec = RegisterCodec(type_, bo, wo)
    assert codec.encode(value) == regs
    assert codec.decode(regs) == value
    assert codec.decode([7, 7, *regs], offset=2) == value


def test_register_counts_and_bad_names():
    assert [register_count(t) for t in ("int16", "uint16", "int32", "uint32", "float32",
                                        "float64")] == [1, 1, 2, 2, 2, 4]
    with pytest.raises(ValueError, match="flaot32"):
        register_count("flaot32")
    with pytest.raises(ValueError, match="word_order 'middle'"):
        RegisterCodec("int32", "big", "middle")
    with pytest.raises(ValueError, match="needs 2 registers"):
        RegisterCodec("int32").decode([1])
    with pytest.raises(ValueError, match="int16"):
        RegisterCodec("int16").encode(40000)
    with pytest.raises(ValueError, match="uint16"):
        RegisterCodec("uint16").encode(1.5)


ORDERS = st.sampled_from(["big", "little"])


@given(st.integers(-(2**31), 2**31 - 1), ORDERS, ORDERS)
def test_int32_round_trip(value, bo, wo):
    codec = RegisterCodec("int32", bo, wo)
    regs = codec.encode(value)
    assert all(0 <= r <= 0xFFFF for r in regs)
    assert codec.decode(regs) == value


@given(st.floats(allow_nan=False, width=32), ORDERS, ORDERS)
def test_float32_round_trip(value, bo, wo):
    codec = RegisterCodec("float32", bo, wo)
    assert codec.decode(codec.encode(value)) == value


@given(st.floats(allow_nan=False), ORDERS, ORDERS)
def test_float64_round_trip_matches_struct(value, bo, wo):
    codec = RegisterCodec("float64", bo, wo)
    regs = codec.encode(value)
    assert codec.decode(regs) == value
    if bo == "big" and wo == "big":
        assert struct.pack(">4H", *regs) == struct.pack(">d", value)


def test_raw_from_physical_saturates_and_inverts_scale():
    c = RegisterCodec("int16")
    assert c.raw_from_physical(12.34, 0.01, 0.0) == 1234
    assert c.raw_from_physical(1e9, 0.01, 0.0) == 32767
    assert c.raw_from_physical(-1e9, 0.01, 0.0) == -32768
    assert c.raw_from_physical(math.nan, 1.0, 0.0) == 0
    u = RegisterCodec("uint16")
    assert u.raw_from_physical(-50.0, 0.01, -100.0) == 5000  # (degC + 100) * 100
    f = RegisterCodec("float32")
    assert f.raw_from_physical(5.0, 2.0, 1.0) == 2.0


def _reg(address, type_="float32", unit=1, function="holding", name=None):
    return Register(address=address, type=type_, unit_id=unit, function=function,
                    channel=Channel(name=name or f"c{unit}{function[0]}{address}",
                                    quantity="strain", unit="um/m"))


def test_plan_coalesces_adjacent_and_bridges_small_gaps():
    regs = [_reg(0), _reg(2), _reg(4, "int16"), _reg(13, "uint16"), _reg(30)]
    blocks = plan_reads(regs, max_gap=8)
    # 0..4 contiguous, 13 is 8 unused registers after 5 -> bridged, 30 is 16 after 14
    assert [(b.address, b.count) for b in blocks] == [(0, 14), (30, 2)]
    assert blocks[0].bridged
    assert not blocks[1].bridged
    assert [s.offset for s in blocks[0].slots] == [0, 2, 4, 13]
    assert [s.column for s in blocks[0].slots] == [0, 1, 2, 3]
    assert [(b.address, b.count) for b in plan_reads(regs, max_gap=0)] == [
        (0, 5), (13, 1), (30, 2)]


def test_plan_separates_units_and_functions_and_sorts():
    regs = [_reg(10, unit=2), _reg(0, function="input"), _reg(0), _reg(2, unit=2)]
    blocks = plan_reads(regs)
    assert [(b.unit_id, b.function, b.address, b.count) for b in blocks] == [
        (1, "holding", 0, 2), (1, "input", 0, 2), (2, "holding", 2, 10)]
    assert blocks[2].names == ("c2h2", "c2h10")
    assert blocks[2].label == "unit 2 holding 2-11"


def test_plan_respects_125_registers():
    regs = [_reg(4 * i, "float64") for i in range(70)]  # 280 registers, contiguous
    blocks = plan_reads(regs)
    assert all(b.count <= MAX_READ_COUNT for b in blocks)
    assert [b.count for b in blocks] == [124, 124, 32]
    assert sum(len(b.slots) for b in blocks) == 70
    with pytest.raises(ValueError, match="max_count"):
        plan_reads(regs, max_count=126)


def test_split_block_keeps_every_point():
    regs = [_reg(0), _reg(2), _reg(6, "int16"), _reg(7, "int16"), _reg(12)]
    (block,) = plan_reads(regs, max_gap=8)
    parts = split_block(block)
    assert [(p.address, p.count) for p in parts] == [(0, 4), (6, 2), (12, 2)]
    assert not any(p.bridged for p in parts)
    assert sorted(s.column for p in parts for s in p.slots) == [0, 1, 2, 3, 4]
    regs_values = list(range(14))
    for p in parts:
        for s in p.slots:
            orig = next(o for o in block.slots if o.column == s.column)
            sub = regs_values[p.address : p.address + p.count]
            assert s.codec.decode(sub, s.offset) == orig.codec.decode(regs_values, orig.offset)


TYPES = ["int16", "uint16", "int32", "uint32", "float32", "float64"]


@st.composite
def point_maps(draw):
    """Non-overlapping points of random types, units and functions."""
    regs, nxt = [], {}
    for i in range(draw(st.integers(1, 25))):
        unit = draw(st.integers(1, 2))
        function = draw(st.sampled_from(["holding", "input"]))
        type_ = draw(st.sampled_from(TYPES))
        start = nxt.get((unit, function), 0) + draw(st.integers(0, 20))
        regs.append(_reg(start, type_, unit, function, name=f"p{i}"))
        nxt[(unit, function)] = start + register_count(type_)
    return regs


def _optimal_count(points, max_count, max_gap):
    """Fewest requests by dynamic programming over the sorted points (reference)."""
    pts = sorted((r.address, r.address + register_count(r.type)) for r in points)
    best = [0] + [10**9] * len(pts)
    for j in range(1, len(pts) + 1):
        for i in range(j):  # points i..j-1 in one request
            run = pts[i:j]
            ok = run[-1][1] - run[0][0] <= max_count and all(
                b[0] - a[1] <= max_gap for a, b in zip(run, run[1:]))
            if ok:
                best[j] = min(best[j], best[i] + 1)
    return best[-1]


@given(point_maps(), st.integers(2, 125), st.integers(0, 10))
def test_plan_covers_every_point_within_limits_with_fewest_requests(regs, max_count, max_gap):
    max_count = max(max_count, 4)
    blocks = plan_reads(regs, max_count=max_count, max_gap=max_gap)
    seen = sorted(s.column for b in blocks for s in b.slots)
    assert seen == list(range(len(regs)))
    for b in blocks:
        assert 1 <= b.count <= max_count
        slots = sorted(b.slots, key=lambda s: s.offset)
        assert slots[0].offset == 0
        assert slots[-1].offset + slots[-1].codec.count == b.count
        for a, c in zip(slots, slots[1:]):
            assert 0 <= c.offset - (a.offset + a.codec.count) <= max_gap
        for s in slots:
            r = regs[s.column]
            assert (r.unit_id, r.function, r.address) == (b.unit_id, b.function, b.address + s.offset)
    for key in {(r.unit_id, r.function) for r in regs}:
        group = [r for r in regs if (r.unit_id, r.function) == key]
        n = sum(1 for b in blocks if (b.unit_id, b.function) == key)
        assert n == _optimal_count(group, max_count, max_gap)
