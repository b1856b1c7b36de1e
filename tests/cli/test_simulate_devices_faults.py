"""`simulate devices --modbus-faults` reaches the Modbus devices."""

from __future__ import annotations

import socket

from bshm.fixtures.devices import start_devices
from bshm.fixtures.stations import simulated_station_toml
from pymodbus.client import ModbusTcpClient

from bshm.config import load_station


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def test_modbus_exception_fault_is_served(tmp_path):
    port = _free_port()
    cfg = tmp_path / "station.toml"
    cfg.write_text(simulated_station_toml("data").replace("port = 15020", f"port = {port}"))
    station = load_station(cfg)
    with start_devices(station, modbus_faults="exception=4,units=1") as devices:
        assert any("modbus-tcp" in line for line in devices.describe())
        client = ModbusTcpClient("127.0.0.1", port=port, timeout=2)
        assert client.connect()
        try:
            rr = client.read_input_registers(0, count=8, device_id=1)
            assert rr.isError() and rr.exception_code == 4
        finally:
            client.close()
    # without faults the same read succeeds
    with start_devices(station) as devices:
        client = ModbusTcpClient("127.0.0.1", port=port, timeout=2)
        assert client.connect()
        try:
            rr = client.read_input_registers(0, count=8, device_id=1)
            assert not rr.isError() and len(rr.registers) == 8
        finally:
            client.close()
