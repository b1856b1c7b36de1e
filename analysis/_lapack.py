"""LAPACK from inside Numba kernels, without Python between the calls.

SciPy exports its LAPACK as C functions (:mod:`scipy.linalg.cython_lapack`,
Fortran calling convention: every argument is a pointer).  A Numba kernel
that calls them through a ``ctypes`` function object cannot be cached (the
address is a "dynamic global", frozen into the machine code and different in
every process), so the kernels here take the functions' addresses as an
ordinary ``int64`` array argument and call them through :func:`fcall`, an
intrinsic that turns the address into a function pointer at run time: the
compiled code holds no address and ``cache=True`` works.

Every argument of :func:`fcall` is an array (a scalar argument is a
one-element array: ``int32`` for Fortran ``INTEGER`` and ``LOGICAL``,
``uint8`` for ``CHARACTER``) and is passed as its data pointer.  The caller
keeps the arrays alive and must pass exactly the arguments the LAPACK
routine takes (see ``cython_lapack.pxd``); nothing is checked.

:func:`addresses` returns the addresses of the routines, in a fixed order
(:data:`ROUTINES`), for one process.  :func:`fence` orders the memory
accesses of kernels that share flags across threads.
"""

from __future__ import annotations

import numpy as np
from llvmlite import ir
from numba import types
from numba.core import cgutils
from numba.extending import intrinsic

__all__ = ["ROUTINES", "addresses", "fcall", "fence"]

#: The LAPACK routines whose addresses :func:`addresses` returns, in this order.
ROUTINES: tuple[str, ...] = ("dgehrd", "dorghr", "dgebal", "dhseqr", "dlahqr", "dormhr")

_ADDR: dict[str, np.ndarray] = {}


def addresses() -> np.ndarray:
    """Addresses of :data:`ROUTINES` in SciPy's LAPACK (``int64``, cached per process)."""
    got = _ADDR.get("lapack")
    if got is None:
        from numba.extending import get_cython_function_address

        got = np.array(
            [get_cython_function_address("scipy.linalg.cython_lapack", r) for r in ROUTINES],
            dtype=np.int64,
        )
        _ADDR["lapack"] = got
    return got


@intrinsic
def fcall(typingctx, addr, args):  # type: ignore[no-untyped-def]
    """Call the C function at ``addr`` with the data pointers of the arrays ``args`` (a tuple)."""
    if not isinstance(addr, types.Integer) or not isinstance(args, types.BaseTuple):
        return None
    if not all(isinstance(t, types.Array) for t in args):
        return None
    sig = types.void(addr, args)

    def codegen(context, builder, signature, llargs):  # type: ignore[no-untyped-def]
        fn_addr, tup = llargs
        ptrs = []
        for i, ty in enumerate(signature.args[1]):
            arr = context.make_array(ty)(context, builder, builder.extract_value(tup, i))
            ptrs.append(builder.bitcast(arr.data, cgutils.voidptr_t))
        fnty = ir.FunctionType(ir.VoidType(), [cgutils.voidptr_t] * len(ptrs))
        fn = builder.inttoptr(fn_addr, fnty.as_pointer())
        builder.call(fn, ptrs)
        return context.get_dummy_value()

    return sig, codegen


@intrinsic
def fence(typingctx):  # type: ignore[no-untyped-def]
    """A sequentially consistent memory fence (also a compiler barrier).

    For kernels that share flags with a kernel running in another thread:
    stores before it are visible to the other thread before stores after
    it, and no load or store is moved across it.
    """
    sig = types.void()

    def codegen(context, builder, signature, llargs):  # type: ignore[no-untyped-def]
        builder.fence("seq_cst")
        return context.get_dummy_value()

    return sig, codegen
