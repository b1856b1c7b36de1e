"""Acquisition: device drivers (serial, Modbus) and the recorder feeding the store."""
