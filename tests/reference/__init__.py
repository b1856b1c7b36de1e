"""Plain NumPy reference implementations that the Numba kernels are tested against."""
