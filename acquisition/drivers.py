"""Driver factory: one driver per source of a station config, chosen by kind."""

from __future__ import annotations

from bshm.acquisition.base import Driver

from bshm.errors import ConfigError


def make_driver(source_cfg) -> Driver:
    """Build the driver of a config source.

    Parameters
    ----------
    source_cfg : bshm.config.SerialSource or bshm.config.ModbusSource
        ``kind`` selects the driver: "serial" -> :class:`SerialDriver`,
        "modbus-tcp"/"modbus-rtu" -> ``bshm.acquisition.modbus.ModbusDriver``.

    Raises
    ------
    bshm.errors.ConfigError
        For a kind no driver reads, naming the source.
    """
    kind = getattr(source_cfg, "kind", None)
    if kind == "serial":
        from bshm.acquisition.serial_driver import SerialDriver

        return SerialDriver(source_cfg)
    if kind in ("modbus-tcp", "modbus-rtu"):
        try:
            from bshm.acquisition.modbus import ModbusDriver
        except ImportError as exc:
            raise ConfigError(
                f"sources.{source_cfg.name}: the Modbus driver is not available ({exc})"
            ) from exc
        return ModbusDriver(source_cfg)
    raise ConfigError(
        f"sources.{getattr(source_cfg, 'name', '?')}.kind: {kind!r} cannot be acquired "
        "(serial, modbus-tcp, modbus-rtu)"
    )
