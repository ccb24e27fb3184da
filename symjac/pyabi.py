"""The NumPy object layout the native entry points read (:mod:`symjac.codegen.pycall`).

:func:`layout_ok` checks, once, on real arrays, that the field offsets and flag
bits compiled into the entry points are this NumPy's; if they are not, the
entry points are not used and every call takes the general path.
"""

from __future__ import annotations

import ctypes
import functools

import numpy as np

from .codegen.pycall import OFFSETS, READABLE, WRITEABLE


def _read(address: int, ctype: type) -> int:
    return int(ctype.from_address(address).value)  # type: ignore[attr-defined]


@functools.lru_cache(maxsize=1)
def layout_ok() -> bool:
    """True when NumPy's ``PyArrayObject`` layout is the one the entry points assume.

    >>> layout_ok()
    True
    """
    if ctypes.sizeof(ctypes.c_void_p) != 8:
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
        return not _read(id(frozen) + OFFSETS["flags"], ctypes.c_int32) & WRITEABLE
    except (ValueError, OSError):
        return False


def addresses() -> tuple[int, int, int]:
    """What the entry points compare against: ``numpy.ndarray``, the float64 dtype, ``None``.

    >>> addresses() == (id(np.ndarray), id(np.dtype(np.float64)), id(None))
    True
    """
    return id(np.ndarray), id(np.dtype(np.float64)), id(None)
