"""bshm: bridge structural health monitoring.

The top-level namespace stays cheap to import: heavy parts (HDF5, Numba,
Qt) load lazily when their names are first used.
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

from bshm._version import __version__

if TYPE_CHECKING:  # pragma: no cover
    from bshm.config import Station

__all__ = ["__version__", "load_station"]


def load_station(path: Any) -> Station:
    """Load and validate a station config (TOML).

    Parameters
    ----------
    path : str or os.PathLike
        Path of the ``station.toml`` file.

    Returns
    -------
    Station
        The validated, frozen station description.

    Raises
    ------
    bshm.errors.ConfigError
        Listing every problem found, each with its key path and a hint.
    """
    from bshm.config import load_station as _load

    return _load(path)
