"""Station config: valid samples load; every bad config gets a precise message."""

from __future__ import annotations

import math
from pathlib import Path

import pytest
from bshm.fixtures.stations import simulated_station_toml, station_template_toml

import bshm
from bshm.config import parse_station
from bshm.errors import ConfigError

BASE = """
[station]
name = "b1"
[[sources]]
name = "acc"
kind = "serial"
port = "/dev/ttyUSB0"
fs = 100
[[sources.channels]]
name = "A01"
quantity = "acceleration"
unit = "m/s2"
"""

TCP = """
[[sources]]
name = "st"
kind = "modbus-tcp"
port = 502
poll_rate = 10
[[sources.registers]]
name = "S1"
quantity = "strain"
unit = "um/m"
address = 0
type = "float32"
"""


def problems(text: str) -> list[str]:
    with pytest.raises(ConfigError) as info:
        parse_station(text, base_dir=Path("/tmp"))
    return info.value.problems


def test_samples_load_and_are_typed(tmp_path):
    p = tmp_path / "station.toml"
    p.write_text(simulated_station_toml("data"))
    st = bshm.load_station(p)
    assert st.name == "sim-bridge"
    assert [s.name for s in st.sources] == ["acc", "strain", "env"]
    assert st.data_dir == (tmp_path / "data").resolve()
    acc = st.source("acc")
    assert acc.port == str(tmp_path.resolve() / "dev/acc")
    assert len(acc.channels) == 8 and acc.fs == 100.0
    assert acc.channels[4].thresholds.peak == (1.5, 2.5, 4.0)
    env = st.source("env")
    assert {r.unit_id for r in env.registers} == {2, 3}
    t2 = env.registers[1]
    assert (t2.type, t2.channel.scale, t2.channel.offset, t2.count) == ("uint16", 0.01, -100.0, 1)
    assert st.source("strain").registers[3].count == 2
    assert st.analysis.temperature == "T1" and st.analysis.window_s == 600.0
    assert st.fatigue.gauges == ("S1", "S2", "S3", "S4")
    assert st.alarms.feed == (tmp_path / "data" / "alarms.jsonl").resolve()
    src, ch = st.channel("S3")
    assert src.name == "strain" and ch.location[0] == 35.0 and math.isnan(ch.location[1])
    # frozen objects
    with pytest.raises(AttributeError):
        st.name = "x"  # type: ignore[misc]
    parse_station(station_template_toml())


def test_sensitivity_becomes_scale():
    st = parse_station(BASE.replace('unit = "m/s2"', 'unit = "m/s2"\nsensitivity = 4.0'))
    assert st.sources[0].channels[0].scale == 0.25


def test_store_spec_from_config():
    st = parse_station(BASE + TCP)
    specs = st.specs()
    assert specs[0].timing == "regular" and specs[1].timing == "timestamped"
    assert specs[1].fs == 10 and specs[1].channels[0].unit == "um/m"


BAD = [
    # (description, text, expected fragment, expected key path)
    ("not toml", "[station\nname='x'", "not valid TOML", None),
    ("missing station", BASE.replace('[station]\nname = "b1"', ""), "missing table", "station"),
    ("missing name", BASE.replace('name = "b1"', 'description = "x"'), "missing", "station.name"),
    ("bad station name", BASE.replace('"b1"', '"my bridge/1"'), "is not usable in a file name",
     "station.name"),
    ("station name too long", BASE.replace('"b1"', '"' + "b" * 101 + '"'),
     "is 101 bytes long (at most 100)", "station.name"),
    ("station name dot-dot", BASE.replace('"b1"', '".."'), "is not usable in a file name",
     "station.name"),
    ("source name too long", BASE.replace('name = "acc"', 'name = "' + "a" * 120 + '"'),
     "is 120 bytes long", "sources[0].name"),
    ("channel name unsafe", BASE.replace('"A01"', '"../A01"'), "is not usable in a file name",
     "sources[0].channels[0].name"),
    ("rollover inf", BASE.replace('name = "b1"', 'name = "b1"\nrollover = inf'),
     "is not a finite duration", "station.rollover"),
    ("rollover 1e300", BASE.replace('name = "b1"', 'name = "b1"\nrollover = 1e300'),
     "is longer than 1 d", "station.rollover"),
    ("rollover huge text", BASE.replace('name = "b1"', 'name = "b1"\nrollover = "99999999999d"'),
     "is longer than 1 d", "station.rollover"),
    ("window inf", BASE + "[analysis]\nwindow = inf\n", "is not a finite duration",
     "analysis.window"),
    ("window 1e300", BASE + "[analysis]\nwindow = 1e300\n", "is longer than 1 d",
     "analysis.window"),
    ("fs 1e-300", BASE.replace("fs = 100", "fs = 1e-300"), "implausibly small",
     "sources[0].fs"),
    ("fs nan", BASE.replace("fs = 100", "fs = nan"), "is not a finite number", "sources[0].fs"),
    ("scale 1e308", BASE.replace('unit = "m/s2"', 'unit = "m/s2"\nscale = 1e308'),
     "implausibly large", "sources[0].channels[0].scale"),
    ("offset -inf", BASE.replace('unit = "m/s2"', 'unit = "m/s2"\noffset = -inf'),
     "is not a finite number", "sources[0].channels[0].offset"),
    ("location inf", BASE.replace('unit = "m/s2"', 'unit = "m/s2"\nlocation = inf'),
     "is not a location on a bridge", "sources[0].channels[0].location"),
    ("location list nan", BASE.replace('unit = "m/s2"', 'unit = "m/s2"\nlocation = [1, nan]'),
     "is not a location on a bridge", "sources[0].channels[0].location"),
    ("threshold inf", BASE.replace('unit = "m/s2"', 'unit = "m/s2"\n[sources.channels.thresholds]\n'
                                   'peak = [1.0, 2.0, inf]'), "must be finite numbers",
     "sources[0].channels[0].thresholds.peak"),
    ("huge integer", BASE + "[alarms]\npersistence_n = 100000000000000000000\n",
     "is above the maximum", "alarms.persistence_n"),
    ("poll rate tiny", TCP.replace("poll_rate = 10", "poll_rate = 1e-9").replace(
        "[[sources]]", '[station]\nname = "b1"\n[[sources]]', 1), "is below the minimum 0.001",
     "sources[0].poll_rate"),
    ("unknown station key", BASE.replace('name = "b1"', 'name = "b1"\nnmae = 2'), "unknown key",
     "station.nmae"),
    ("bad rollover", BASE.replace('name = "b1"', 'name = "b1"\nrollover = "1 fortnight"'),
     "not a duration", "station.rollover"),
    ("short rollover", BASE.replace('name = "b1"', 'name = "b1"\nrollover = "10s"'),
     "shorter than", "station.rollover"),
    ("no sources", '[station]\nname = "b1"\n', "add at least one", "sources"),
    ("bad kind", BASE.replace('kind = "serial"', 'kind = "seriall"'), "did you mean 'serial'",
     "sources[0].kind"),
    ("fs string", BASE.replace("fs = 100", 'fs = "100"'), "must be a number", "sources[0].fs"),
    ("fs negative", BASE.replace("fs = 100", "fs = -5"), "must be > 0", "sources[0].fs"),
    ("bad parity", BASE.replace("fs = 100", 'fs = 100\nparity = "X"'), "is not one of",
     "sources[0].parity"),
    ("bad stopbits", BASE.replace("fs = 100", "fs = 100\nstopbits = 3"), "not one of 1, 1.5, 2",
     "sources[0].stopbits"),
    ("bad quantity", BASE.replace('"acceleration"', '"acceleraton"'),
     "did you mean 'acceleration'", "sources[0].channels[0].quantity"),
    ("missing unit", BASE.replace('unit = "m/s2"', ""), "missing", "sources[0].channels[0].unit"),
    ("scale and sensitivity", BASE.replace('unit = "m/s2"', 'unit = "m/s2"\nscale = 1.0\nsensitivity = 2.0'),
     "either scale or sensitivity", "sources[0].channels[0].sensitivity"),
    ("zero scale", BASE.replace('unit = "m/s2"', 'unit = "m/s2"\nscale = 0'), "must not be 0",
     "sources[0].channels[0].scale"),
    ("bad direction", BASE.replace('unit = "m/s2"', 'unit = "m/s2"\ndirection = "up"'),
     "is not one of", "sources[0].channels[0].direction"),
    ("bad location", BASE.replace('unit = "m/s2"', 'unit = "m/s2"\nlocation = "midspan"'),
     "distance along the bridge", "sources[0].channels[0].location"),
    ("unknown channel key", BASE.replace('unit = "m/s2"', 'unit = "m/s2"\nsensitivty = 2'),
     "did you mean 'sensitivity'", "sources[0].channels[0].sensitivty"),
    ("thresholds not increasing", BASE.replace('unit = "m/s2"', 'unit = "m/s2"\nthresholds = { peak = [2, 1, 3] }'),
     "strictly increase", "sources[0].channels[0].thresholds.peak"),
    ("thresholds wrong length", BASE.replace('unit = "m/s2"', 'unit = "m/s2"\nthresholds = { rms = [1, 2] }'),
     "list of 3 numbers", "sources[0].channels[0].thresholds.rms"),
    ("duplicate channel", BASE + BASE[BASE.index("[[sources]]"):].replace('name = "acc"', 'name = "acc2"'),
     "already used", "sources[1].channels[0].name"),
    ("duplicate source", BASE + BASE[BASE.index("[[sources]]"):].replace('"A01"', '"A02"'),
     "source name 'acc' is already used", "sources[1].name"),
    ("line without column", BASE.replace('fs = 100', 'fs = 100\nprotocol = "line"'),
     "0-based column", "sources[0].channels[0].column"),
    ("delimiter on binary", BASE.replace('fs = 100', 'fs = 100\ndelimiter = ";"'),
     'only applies to protocol = "line"', "sources[0].delimiter"),
    ("register type typo", BASE + TCP.replace('type = "float32"', 'type = "flaot32"'),
     "'flaot32' is not one of int16, uint16, int32, uint32, float32, float64", "sources[1].registers[0].type"),
    ("register address too big", BASE + TCP.replace("address = 0", "address = 70000"),
     "above the maximum 65535", "sources[1].registers[0].address"),
    ("register runs past the end", BASE + TCP.replace("address = 0", "address = 65535"),
     "would end at register 65536", "sources[1].registers[0].address"),
    ("overlapping registers", BASE + TCP + TCP[TCP.index("[[sources.registers]]"):]
     .replace('"S1"', '"S2"').replace("address = 0", "address = 1"),
     "overlaps 'S1'", "sources[1].registers[1].address"),
    ("tcp port string", BASE + TCP.replace("port = 502", 'port = "502"'), "must be a TCP port number",
     "sources[1].port"),
    ("tcp port range", BASE + TCP.replace("port = 502", "port = 70000"), "is not a TCP port",
     "sources[1].port"),
    ("missing poll rate", BASE + TCP.replace("poll_rate = 10", ""), "missing", "sources[1].poll_rate"),
    ("bad register function", BASE + TCP.replace('type = "float32"', 'type = "float32"\nfunction = "coil"'),
     "is not one of holding, input", "sources[1].registers[0].function"),
    ("bad unit id", BASE + TCP.replace("poll_rate = 10", "poll_rate = 10\nunit_id = 300"),
     "above the maximum 247", "sources[1].unit_id"),
    ("analysis source unknown", BASE + '[analysis]\nsource = "accel"\n', "no source named 'accel'",
     "analysis.source"),
    ("analysis temperature not temp", BASE + '[analysis]\ntemperature = "A01"\n',
     "measures acceleration", "analysis.temperature"),
    ("overlap 1", BASE + "[analysis]\noverlap = 1.0\n", "must be < 1", "analysis.overlap"),
    ("empty freq range", BASE + "[analysis]\nfreq_range = [10.0, 2.0]\n", "is empty",
     "analysis.freq_range"),
    ("bad method", BASE + '[analysis]\nmethod = "ssi"\n', "is not one of ssi-cov, fdd, efdd",
     "analysis.method"),
    ("baseline backwards", BASE + '[analysis]\nbaseline = ["2026-02-01", "2026-01-01"]\n',
     "ends before it starts", "analysis.baseline"),
    ("baseline not time", BASE + '[analysis]\nbaseline = ["yesterday", "2026-01-01"]\n',
     "is not a time", "analysis.baseline"),
    ("persistence k > n", BASE + "[alarms]\npersistence_k = 6\npersistence_n = 5\n",
     "can never happen", "alarms.persistence_k"),
    ("alpha increasing", BASE + "[alarms]\nnovelty_alpha = [0.001, 0.01, 0.1]\n",
     "strictly decrease", "alarms.novelty_alpha"),
    ("fatigue gauge not strain", BASE + '[fatigue]\ngauges = ["A01"]\n',
     "fatigue gauges must be strain channels", "fatigue.gauges[0]"),
    ("unknown section", BASE + "[alarm]\nfeed = 'x'\n", "unknown key", "alarm"),
    ("sources not array", '[station]\nname = "b1"\n[sources]\nname = "x"\n', "array of tables",
     "sources"),
]


@pytest.mark.parametrize("desc,text,fragment,key", BAD, ids=[b[0] for b in BAD])
def test_bad_config_message(desc, text, fragment, key):
    found = problems(text)
    matching = [p for p in found if fragment in p]
    assert matching, f"{desc}: no problem mentions {fragment!r}: {found}"
    if key is not None:
        assert any(p.startswith(key + ":") for p in matching), (desc, found)


def test_every_problem_reported_at_once():
    text = BASE.replace("fs = 100", 'fs = "x"\nparity = "Q"').replace(
        '"acceleration"', '"accel"'
    ) + TCP.replace('type = "float32"', 'type = "flaot32"')
    found = problems(text)
    keys = {p.split(":")[0] for p in found}
    assert {"sources[0].fs", "sources[0].parity", "sources[0].channels[0].quantity",
            "sources[1].registers[0].type"} <= keys


def test_config_error_names_the_file(tmp_path):
    p = tmp_path / "station.toml"
    p.write_text(BASE.replace("fs = 100", "fs = -1"))
    with pytest.raises(ConfigError) as info:
        bshm.load_station(p)
    assert str(p) in str(info.value) and "sources[0].fs" in str(info.value)
    with pytest.raises(ConfigError, match="file not found"):
        bshm.load_station(tmp_path / "nope.toml")
    with pytest.raises(ConfigError, match="is a folder"):
        bshm.load_station(tmp_path)


def test_unknown_register_key():
    found = problems(BASE + TCP.replace('type = "float32"', 'type = "float32"\ncolumn = 3'))
    assert any(p.startswith("sources[1].registers[0].column: unknown key") for p in found)


RTU = """
[[sources]]
name = "env"
kind = "modbus-rtu"
port = "/dev/ttyUSB1"
poll_rate = 1
[[sources.registers]]
name = "T1"
quantity = "temperature"
unit = "degC"
address = 0
type = "int16"
"""


@pytest.mark.parametrize(
    "text,fragment,key",
    [
        (BASE + RTU.replace('type = "int16"', 'type = "int16"\nunit_id = 0'), "broadcast address",
         "sources[1].registers[0].unit_id"),
        (BASE + RTU.replace("poll_rate = 1", "poll_rate = 1\nunit_id = 0"), "below the minimum 1",
         "sources[1].unit_id"),
        (BASE + RTU + RTU.replace('"env"', '"env2"').replace('"T1"', '"T2"'), "is already used by sources[1]",
         "sources[2].port"),
        (BASE + RTU.replace('"/dev/ttyUSB1"', '"/dev/ttyUSB0"'), "is already used by sources[0]",
         "sources[1].port"),
        (BASE + TCP + TCP.replace('"st"', '"st2"').replace('"S1"', '"S2"'), "127.0.0.1:502 is already used",
         "sources[2].port"),
        (BASE + TCP.replace("poll_rate = 10", "poll_rate = 10\nmax_gap = 200"), "above the maximum 124",
         "sources[1].max_gap"),
    ],
)
def test_modbus_bus_rules(text, fragment, key):
    found = problems(text)
    assert any(p.startswith(key + ":") and fragment in p for p in found), found


def test_max_gap_and_tcp_unit_zero():
    st = parse_station(BASE + TCP.replace("poll_rate = 10", "poll_rate = 10\nmax_gap = 0\nunit_id = 0"))
    src = st.source("st")
    assert src.max_gap == 0 and src.registers[0].unit_id == 0


def test_deeply_nested_toml_is_one_clear_problem():
    text = BASE + "x = " + "[" * 5000 + "]" * 5000 + "\n"
    found = problems(text)
    assert found == ["not a station config: its tables or arrays are nested too deeply to read"]


def test_plausible_values_still_load():
    st = parse_station(BASE.replace('unit = "m/s2"', 'unit = "m/s2"\nscale = 1.2e-9\n'
                                    'offset = 0\nlocation = [512000.0, 5400000.0, 12.5]')
                       .replace('name = "b1"', 'name = "b1"\nrollover = "1d"'))
    ch = st.sources[0].channels[0]
    assert ch.scale == 1.2e-9 and ch.location == (512000.0, 5400000.0, 12.5)
    assert st.rollover_s == 86400.0
    assert parse_station(BASE.replace('"b1"', '"' + "b" * 100 + '"')).name == "b" * 100
