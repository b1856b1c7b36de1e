"""Readers for the ``[[sources]]`` part of a station config."""

from __future__ import annotations

from pathlib import Path

from bshm._validate import _MISSING, Table, Validator
from bshm.config import (
    DELIMITERS,
    DIRECTIONS,
    ORDERS,
    PARITIES,
    PROTOCOLS,
    QUANTITIES,
    REGISTER_FUNCTIONS,
    REGISTER_TYPES,
    REGISTER_WIDTH,
    SAMPLE_FORMATS,
    SOURCE_KINDS,
    Channel,
    ModbusSource,
    Register,
    SerialSource,
    Source,
    Thresholds,
    read_name,
)

MAX_REGISTER_ADDRESS = 65535
#: Slowest sampling or poll rate accepted (Hz): one sample every ~17 minutes.
MIN_RATE_HZ = 1e-3


def read_sources(v: Validator, root: Table, base: Path) -> list[Source]:
    """Read and cross-check every ``[[sources]]`` entry."""
    sources: list[Source] = []
    seen_ports: dict[str, str] = {}
    seen_sources: dict[str, str] = {}
    seen_channels: dict[str, str] = {}
    for t in v.table_list(root, "sources", required=True):
        src = _read_source(v, t, base)
        name = t.data.get("name")
        if isinstance(name, str):
            if name in seen_sources:
                v.problem(
                    t.key("name"),
                    f"source name {name!r} is already used by {seen_sources[name]}",
                    "source names must be unique",
                )
            seen_sources.setdefault(name, t.path)
        if src is None:
            continue
        device = (
            f"{src.host}:{src.port}"
            if isinstance(src, ModbusSource) and src.kind == "modbus-tcp"
            else str(src.port)
        )
        if device in seen_ports:
            v.problem(
                t.key("port"),
                f"{device} is already used by {seen_ports[device]}",
                "one port per source: put several Modbus units of one RS-485 bus in one "
                "source (registers with their own unit_id)",
            )
        seen_ports.setdefault(device, t.path)
        for i, ch in enumerate(src.channels):
            where = f"{t.path}.{'registers' if isinstance(src, ModbusSource) else 'channels'}[{i}]"
            if ch.name in seen_channels:
                v.problem(
                    f"{where}.name",
                    f"channel name {ch.name!r} is already used by {seen_channels[ch.name]}",
                    "channel names must be unique in a station",
                )
            seen_channels.setdefault(ch.name, where)
        sources.append(src)
    return sources


def _read_source(v: Validator, t: Table, base: Path) -> Source | None:
    name = read_name(v, t, "name", "it names a group of the data files")
    kind = v.choice(t, "kind", SOURCE_KINDS, required=True)
    if kind is None:
        # Consume everything so the only message is about the kind.
        t.used.update(t.data)
        return None
    if kind == "serial":
        src: Source | None = _read_serial(v, t, name or "", base)
    else:
        src = _read_modbus(v, t, name or "", kind, base)
    v.no_unknown(t)
    return src if name else None


def _port_settings(v: Validator, t: Table) -> dict:
    return {
        "baudrate": v.integer(t, "baudrate", default=115200, minimum=50, maximum=12_000_000),
        "bytesize": v.integer(t, "bytesize", default=8, minimum=5, maximum=8),
        "parity": v.choice(t, "parity", PARITIES, default="N"),
        "stopbits": _stopbits(v, t),
    }


def _stopbits(v: Validator, t: Table) -> float:
    value = v.number(t, "stopbits", default=1)
    if value is not None and value not in (1, 1.5, 2):
        v.problem(t.key("stopbits"), f"{value:g} is not one of 1, 1.5, 2")
        return 1
    return value if value is not None else 1


def _device_path(v: Validator, t: Table, base: Path) -> str | None:
    port = v.string(t, "port", required=True)
    if port is None:
        return None
    if port.startswith(("socket://", "loop://", "rfc2217://")) or port.upper().startswith("COM"):
        return port
    p = Path(port).expanduser()
    return str(p if p.is_absolute() else (base / p))


def _read_serial(v: Validator, t: Table, name: str, base: Path) -> SerialSource | None:
    port = _device_path(v, t, base)
    settings = _port_settings(v, t)
    timeout = v.number(t, "timeout", default=0.2, positive=True, maximum=60.0)
    protocol = v.choice(t, "protocol", PROTOCOLS, default="binary")
    fs = v.number(t, "fs", required=True, positive=True, minimum=MIN_RATE_HZ, maximum=1e6)
    fmt = v.choice(t, "sample_format", SAMPLE_FORMATS, default="int24")
    delimiter = v.choice(t, "delimiter", DELIMITERS, default=",")
    time_column = v.integer(t, "time_column", default=None, minimum=0, maximum=10_000)
    checksum = v.boolean(t, "checksum", default=False)
    silence = v.number(t, "silence_timeout", default=2.0, positive=True, maximum=3600.0)
    backoff = v.number(t, "reconnect_max", default=30.0, positive=True, maximum=86400.0)
    channels = []
    columns: dict[int, str] = {}
    for ct in v.table_list(t, "channels", required=True):
        ch = _read_channel(v, ct, allow_column=True)
        if ch is None:
            continue
        if protocol == "line":
            if ch.column is None:
                v.problem(
                    ct.key("column"),
                    "missing",
                    "the line protocol needs the 0-based column of each channel",
                )
            elif ch.column in columns:
                v.problem(
                    ct.key("column"),
                    f"column {ch.column} is already used by {columns[ch.column]!r}",
                )
            elif time_column is not None and ch.column == time_column:
                v.problem(ct.key("column"), f"column {ch.column} is the time_column")
            else:
                columns[ch.column] = ch.name
        channels.append(ch)
    if protocol != "line":
        for key in ("delimiter", "time_column", "checksum"):
            if key in t.data:
                v.problem(
                    t.key(key), f'only applies to protocol = "line" (this source is {protocol})'
                )
    if port is None or fs is None or not channels:
        return None
    return SerialSource(
        name=name,
        port=port,
        channels=tuple(channels),
        timeout_s=timeout or 0.2,
        protocol=protocol or "binary",
        fs=fs,
        sample_format=fmt or "int24",
        delimiter=delimiter or ",",
        time_column=time_column,
        checksum=checksum,
        silence_timeout_s=silence or 2.0,
        reconnect_max_s=backoff or 30.0,
        **{k: val for k, val in settings.items() if val is not None},
    )


def _read_modbus(v: Validator, t: Table, name: str, kind: str, base: Path) -> ModbusSource | None:
    port: int | str | None
    host = "127.0.0.1"
    settings: dict = {}
    if kind == "modbus-tcp":
        host = v.string(t, "host", default="127.0.0.1") or "127.0.0.1"
        raw = t.get("port")
        if raw is _MISSING:
            v.problem(t.key("port"), "missing", "the TCP port of the device, e.g. port = 502")
            port = None
        elif isinstance(raw, bool) or not isinstance(raw, int):
            v.problem(t.key("port"), f"must be a TCP port number, not {raw!r}", "e.g. port = 502")
            port = None
        elif not 1 <= raw <= 65535:
            v.problem(t.key("port"), f"{raw} is not a TCP port", "use 1..65535 (usually 502)")
            port = None
        else:
            port = raw
    else:
        port = _device_path(v, t, base)
        settings = _port_settings(v, t)
    rate = v.number(t, "poll_rate", required=True, positive=True, minimum=MIN_RATE_HZ,
                    maximum=1000)
    timeout = v.number(t, "timeout", default=0.2, positive=True, maximum=60.0)
    retries = v.integer(t, "retries", default=1, minimum=0, maximum=10)
    backoff = v.number(t, "reconnect_max", default=30.0, positive=True, maximum=86400.0)
    max_gap = v.integer(t, "max_gap", default=8, minimum=0, maximum=124)
    min_unit = 1 if kind == "modbus-rtu" else 0
    default_unit = v.integer(t, "unit_id", default=1, minimum=min_unit, maximum=247)
    registers = []
    for rt in v.table_list(t, "registers", required=True):
        reg = _read_register(v, rt, default_unit if default_unit is not None else 1)
        if reg is not None:
            if kind == "modbus-rtu" and reg.unit_id == 0:
                v.problem(
                    rt.key("unit_id"),
                    "0 is the RTU broadcast address, which no device answers",
                    "use the device's unit id, 1..247",
                )
                continue
            registers.append((rt, reg))
    _check_overlaps(v, registers)
    if port is None or rate is None or not registers:
        return None
    return ModbusSource(
        name=name,
        kind=kind,
        port=port,
        host=host,
        registers=tuple(r for _, r in registers),
        poll_rate=rate,
        timeout_s=timeout or 0.2,
        retries=retries if retries is not None else 1,
        reconnect_max_s=backoff or 30.0,
        max_gap=max_gap if max_gap is not None else 8,
        **{k: val for k, val in settings.items() if val is not None},
    )


def _read_register(v: Validator, t: Table, default_unit: int) -> Register | None:
    address = v.integer(t, "address", required=True, minimum=0, maximum=MAX_REGISTER_ADDRESS)
    function = v.choice(t, "function", REGISTER_FUNCTIONS, default="holding")
    rtype = v.choice(t, "type", REGISTER_TYPES, default="float32")
    byte_order = v.choice(t, "byte_order", ORDERS, default="big")
    word_order = v.choice(t, "word_order", ORDERS, default="big")
    unit = v.integer(t, "unit_id", default=default_unit, minimum=0, maximum=247)
    ch = _read_channel(v, t, allow_column=False)
    v.no_unknown(t)
    if address is not None and rtype is not None:
        last = address + REGISTER_WIDTH[rtype] - 1
        if last > MAX_REGISTER_ADDRESS:
            v.problem(
                t.key("address"),
                f"a {rtype} at {address} would end at register {last}",
                f"the last register address is {MAX_REGISTER_ADDRESS}",
            )
            return None
    if (
        address is None
        or function is None
        or rtype is None
        or byte_order is None
        or word_order is None
        or unit is None
        or ch is None
    ):
        return None
    return Register(
        address=address,
        channel=ch,
        function=function,
        type=rtype,
        byte_order=byte_order,
        word_order=word_order,
        unit_id=unit,
    )


def _check_overlaps(v: Validator, registers: list[tuple[Table, Register]]) -> None:
    taken: dict[tuple[int, str, int], tuple[str, str]] = {}
    for t, r in registers:
        for a in range(r.address, r.address + r.count):
            key = (r.unit_id, r.function, a)
            if key in taken:
                other_path, other_name = taken[key]
                v.problem(
                    t.key("address"),
                    f"{r.type} at {r.address} ({r.channel.name!r}) overlaps "
                    f"{other_name!r} ({other_path}) at register {a} of unit "
                    f"{r.unit_id} ({r.function})",
                    "each register may belong to one point only",
                )
                break
            taken[key] = (t.path, r.channel.name)


def _read_channel(v: Validator, t: Table, *, allow_column: bool) -> Channel | None:
    name = read_name(v, t, "name", "channel names appear in files and reports")
    quantity = v.choice(t, "quantity", QUANTITIES, required=True)
    unit = v.string(t, "unit", required=True)
    scale = v.number(t, "scale", default=None)
    sensitivity = v.number(t, "sensitivity", default=None)
    offset = v.number(t, "offset", default=0.0)
    if scale is not None and sensitivity is not None:
        v.problem(
            t.key("sensitivity"),
            "give either scale or sensitivity, not both",
            "scale = physical units per count; sensitivity = counts per physical unit",
        )
    if sensitivity == 0:
        v.problem(t.key("sensitivity"), "must not be 0")
        sensitivity = None
    if scale == 0:
        v.problem(t.key("scale"), "must not be 0", "a zero scale would record only the offset")
    location = v.location(t, "location")
    direction = v.choice(t, "direction", DIRECTIONS, default="")
    column = v.integer(t, "column", default=None, minimum=0, maximum=10_000) if allow_column \
        else None
    thresholds = _read_thresholds(v, v.table(t, "thresholds"))
    valid = v.float_list(t, "valid_range", default=(), length=2)
    if valid and not valid[0] < valid[1]:
        v.problem(t.key("valid_range"), f"{list(valid)} is empty", "give [low, high], low < high")
        valid = ()
    if allow_column:
        v.no_unknown(t)  # registers check their table after reading the point
    if None in (name, quantity, unit):
        return None
    if sensitivity is not None:
        scale = 1.0 / sensitivity
    return Channel(
        name=name,  # type: ignore[arg-type]
        quantity=quantity,  # type: ignore[arg-type]
        unit=unit,  # type: ignore[arg-type]
        scale=scale if scale is not None else 1.0,
        offset=offset or 0.0,
        location=location,
        direction=direction or "",
        column=column,
        thresholds=thresholds,
        valid_range=(valid[0], valid[1]) if valid else None,
    )


def _read_thresholds(v: Validator, t: Table) -> Thresholds:
    out = Thresholds(
        peak=v.levels(t, "peak"),
        rms=v.levels(t, "rms"),
        high=v.levels(t, "high"),
        low=v.levels(t, "low", decreasing=True),
        change=v.levels(t, "change"),
    )
    v.no_unknown(t)
    return out
