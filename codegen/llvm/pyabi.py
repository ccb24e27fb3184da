"""Native methods (:mod:`symjac.codegen.llvm.pycall`): the object layout they read, and making them.

:func:`layout_ok` checks, once, on real objects, that the field offsets and
flag bits compiled into the native method are this NumPy's and this
CPython's; if they are not, no native method is made and every call takes
the Python path. :func:`native_method` makes one: a builtin function (like a
method written in C) that runs a one-lane kernel on one point, and calls a
Python fallback for anything else.
"""

from __future__ import annotations

import ctypes
import functools
import sys
from collections.abc import Callable
from typing import Any

import numpy as np
from symjac.codegen.llvm.jit import JitModule
from symjac.codegen.llvm.pycall import (
    FIELDS,
    GLOBALS,
    METHOD,
    OFFSETS,
    READABLE,
    TUPLE_ITEMS,
    TUPLE_SIZE,
    WRITEABLE,
    caller_module,
)

_FLOAT64 = np.dtype(np.float64)
#: CPython's METH_FASTCALL | METH_KEYWORDS (stable since 3.7 / 3.10)
_FASTCALL_KEYWORDS = 0x0080 | 0x0002


def _read(address: int, ctype: type) -> int:
    return int(ctype.from_address(address).value)  # type: ignore[attr-defined]


@functools.lru_cache(maxsize=1)
def layout_ok() -> bool:
    """True when NumPy's and CPython's object layouts are the ones the native method reads.

    >>> layout_ok()
    True
    """
    if ctypes.sizeof(ctypes.c_void_p) != 8 or not hasattr(ctypes, "pythonapi"):
        return False
    try:
        for a in (np.zeros((3, 2)), np.zeros(5)[::2], np.zeros(4).reshape(2, 2).T):
            base = id(a)
            if _read(base + OFFSETS["type"], ctypes.c_void_p) != id(np.ndarray):
                return False
            if _read(base + OFFSETS["data"], ctypes.c_void_p) != a.ctypes.data:
                return False
            if _read(base + OFFSETS["nd"], ctypes.c_int32) != a.ndim:
                return False
            dims = _read(base + OFFSETS["dimensions"], ctypes.c_void_p)
            if [_read(dims + 8 * k, ctypes.c_int64) for k in range(a.ndim)] != list(a.shape):
                return False
            if _read(base + OFFSETS["descr"], ctypes.c_void_p) != id(a.dtype):
                return False
            flags = _read(base + OFFSETS["flags"], ctypes.c_int32)
            readable = a.flags.c_contiguous and a.flags.aligned
            if bool(flags & READABLE == READABLE) != readable:
                return False
            if bool(flags & WRITEABLE) != a.flags.writeable:
                return False
        frozen = np.zeros(2)
        frozen.flags.writeable = False
        if _read(id(frozen) + OFFSETS["flags"], ctypes.c_int32) & WRITEABLE:
            return False
        items = ("first", 2.5, None)
        if _read(id(items) + TUPLE_SIZE, ctypes.c_ssize_t) != len(items):
            return False
        return all(
            _read(id(items) + TUPLE_ITEMS + 8 * k, ctypes.c_void_p) == id(item)
            for k, item in enumerate(items)
        )
    except (ValueError, OSError, AttributeError):
        return False


def addresses() -> tuple[int, ...]:
    """The values of the native method's :data:`~symjac.codegen.llvm.pycall.GLOBALS`, in order.

    >>> addresses()[:2] == (id(np.ndarray), id(None))
    True
    """
    api = ctypes.pythonapi
    functions = [
        ctypes.cast(f, ctypes.c_void_p).value for f in (api.Py_IncRef, api.PyObject_Vectorcall)
    ]
    objects = (np.ndarray, None, sys.intern("out"), np.empty)
    return (*map(id, objects), *(int(f or 0) for f in functions))


class _MethodDef(ctypes.Structure):
    """CPython's ``PyMethodDef``."""

    _fields_ = [
        ("ml_name", ctypes.c_char_p),
        ("ml_meth", ctypes.c_void_p),
        ("ml_flags", ctypes.c_int),
        ("ml_doc", ctypes.c_char_p),
    ]


@functools.lru_cache(maxsize=1)
def _caller() -> tuple[JitModule, int]:
    """The process's one compiled native method (~8 ms, once).

    No IR passes and LLVM's fast instruction selector: measured, the method's call
    (~60 ns) is no slower than with ``-O2`` code, which takes ~20 ms to build.
    """
    jit = JitModule(caller_module(), opt_level=0, codegen_level=0)
    for name, value in zip(GLOBALS, addresses()):
        jit.set_global(name, value)
    return jit, jit.address(METHOD)


@functools.lru_cache(maxsize=1)
def _new_function() -> Any:
    """CPython's ``PyCFunction_NewEx(definition, self, module)``, returning the object."""
    make = ctypes.pythonapi.PyCFunction_NewEx
    make.restype = ctypes.py_object
    make.argtypes = [ctypes.c_void_p, ctypes.py_object, ctypes.c_void_p]
    return make


def native_method(
    kernel: int,
    owner: object,
    n_vars: int,
    n_params: int,
    shape: tuple[int, ...],
    work: int,
    fallback: Callable[..., Any],
    name: str,
    dtype: np.dtype[Any] = _FLOAT64,
) -> Any:
    """A builtin function ``name(x, p=None, *, out=None)`` that runs one point of a kernel.

    ``kernel`` is the address of a one-lane kernel of ``owner`` (kept alive by the
    result), reading ``n_vars`` inputs and ``n_params`` parameters and writing the
    ``shape`` result (one or two axes), all of ``dtype``; ``work`` values of scratch
    space are kept with it. Calls that are not one exact point of ``dtype`` (NumPy's
    builtin dtype object: native byte order) go to ``fallback`` unchanged.

    >>> import sympy as sp, symjac
    >>> x = sp.Symbol("x")
    >>> f = symjac.function([x * x], wrt=[x], cache=False)
    >>> k = f._kernels
    >>> square = native_method(
    ...     k.jit.address("function"), k.jit, 1, 0, (1,), 0, lambda *a, **kw: "python", "square"
    ... )
    >>> square(np.array([3.0])).tolist(), square([3.0]), square.__name__
    ([9.0], 'python', 'square')
    """
    if len(shape) not in (1, 2):
        raise ValueError(f"a native method's result has one or two axes, not {shape!r}")
    jit, address = _caller()
    dtype = np.dtype(dtype.name)  # the builtin object, which arrays of this type point to
    buffer = np.empty(work, dtype=dtype) if work else None
    dims = (shape[0], shape[1] if len(shape) == 2 else 1)
    values = {"kernel": kernel, "n_vars": n_vars, "n_params": n_params, "out_nd": len(shape)}
    values.update(dim0=dims[0], dim1=dims[1], dtype=id(dtype), itemsize=dtype.itemsize, busy=0)
    values["work"] = 0 if buffer is None else buffer.ctypes.data
    descriptor = np.array([values[f] for f in FIELDS], dtype=np.int64)
    definition = _MethodDef(name.encode(), address, _FASTCALL_KEYWORDS, None)
    # what the compiled code reads comes first (pycall.SELF_ITEMS); the rest is kept alive:
    # the method definition CPython points to, the scratch buffer, the kernel's engine
    me = (descriptor, fallback, tuple(shape), dtype, definition, buffer, owner, jit)
    return _new_function()(ctypes.addressof(definition), me, None)
