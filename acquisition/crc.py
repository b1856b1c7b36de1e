"""CRC-32/ISO-HDLC (the zlib/Ethernet CRC) as a table-driven Numba kernel.

Parameters of the CRC (Rocksoft model): width 32, poly 0x04C11DB7,
init 0xFFFFFFFF, refin true, refout true, xorout 0xFFFFFFFF,
check ("123456789") 0xCBF43926. The reflected table uses 0xEDB88320.

The kernel works on a ``uint8`` array slice so the binary frame scanner can
check a frame in place, without copying it out of the receive buffer.
"""

from __future__ import annotations

import numpy as np
from numba import njit

POLY_REFLECTED = 0xEDB88320
CHECK_VALUE = 0xCBF43926


def make_table() -> np.ndarray:
    """Return the 256-entry reflected CRC-32 table, ``uint32`` shape (256,)."""
    table = np.zeros(256, dtype=np.uint32)
    for byte in range(256):
        crc = byte
        for _ in range(8):
            crc = (crc >> 1) ^ POLY_REFLECTED if crc & 1 else crc >> 1
        table[byte] = crc
    return table


TABLE = make_table()
TABLE.setflags(write=False)


@njit(cache=True)
def crc32_kernel(table, buf, start, end):  # pragma: no cover - compiled
    """CRC-32/ISO-HDLC of ``buf[start:end]`` (uint8 array) with ``table``."""
    crc = np.uint32(0xFFFFFFFF)
    for i in range(start, end):
        crc = table[(crc ^ buf[i]) & np.uint32(0xFF)] ^ (crc >> np.uint32(8))
    return crc ^ np.uint32(0xFFFFFFFF)


def crc32(data: bytes | bytearray | memoryview | np.ndarray) -> int:
    """Return the CRC-32/ISO-HDLC of ``data`` as an int in [0, 2**32).

    Parameters
    ----------
    data : bytes-like or uint8 ndarray
        The bytes to check.
    """
    arr = np.frombuffer(data, dtype=np.uint8) if not isinstance(data, np.ndarray) else data
    arr = np.ascontiguousarray(arr, dtype=np.uint8)
    return int(crc32_kernel(TABLE, arr, 0, arr.size))
