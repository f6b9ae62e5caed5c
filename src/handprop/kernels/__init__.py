"""Numba kernels for what BLAS does not do, each beside a plain-NumPy reference."""
