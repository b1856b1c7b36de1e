"""The HDF5 raw store (and, later, the results store)."""
