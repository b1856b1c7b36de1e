"""The one place where bshm's Numba kernels get their decorator.

Every kernel of ``bshm.analysis`` is compiled with :func:`kernel`, which
applies ``@njit(cache=True)`` and the fastmath flags of :data:`FASTMATH`.
The flags are a subset of LLVM's fast-math *without* ``nnan`` and ``ninf``:
NaN marks dropouts in bshm data and must propagate, so the compiler may not
assume that NaN and infinity never occur.  Passing fastmath as ``True`` to a
kernel is not allowed: it would imply ``nnan``/``ninf``.

Numba is imported only when this module is imported, i.e. when the first
kernel module loads, so ``import bshm.analysis`` stays cheap.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any, TypeVar

import numba

__all__ = ["FASTMATH", "kernel"]

#: Fast-math flags allowed in bshm kernels (no ``nnan``, no ``ninf``).
FASTMATH: frozenset[str] = frozenset({"nsz", "arcp", "contract", "afn", "reassoc"})

F = TypeVar("F", bound=Callable[..., Any])


def kernel(func: F | None = None, *, fastmath: bool = True, nogil: bool = False) -> Any:
    """Compile ``func`` with ``numba.njit(cache=True)`` and bshm's fastmath flags.

    Parameters
    ----------
    func : callable, optional
        The kernel; when omitted the decorator is returned (``@kernel(...)``).
    fastmath : bool, default True
        ``False`` compiles with strict IEEE semantics (for kernels whose
        result depends on the order of operations, e.g. compensated sums).
    nogil : bool, default False
        Release the GIL while the kernel runs (for kernels that run in a
        helper thread, or beside one).

    Returns
    -------
    numba.core.registry.CPUDispatcher or callable
        The compiled kernel, or a decorator.
    """
    flags: Any = set(FASTMATH) if fastmath else False

    def wrap(f: F) -> Any:
        return numba.njit(cache=True, fastmath=flags, nogil=nogil)(f)

    if func is None:
        return wrap
    return wrap(func)
