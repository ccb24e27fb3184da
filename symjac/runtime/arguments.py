"""Validation and conversion of the arrays passed to compiled kernels.

Nothing reaches native code unless it is a C-contiguous, native-endian array
of the kernel's dtype (float64 by default, or float32) of exactly the expected
shape. The rules (also in the README):

* points ``x``: ``(n,)`` for one point, ``(N, n)`` for a batch. NumPy arrays,
  lists and tuples are accepted. For a float64 kernel, integer and
  float16/float32 arrays are converted to float64 (exactly; integers beyond
  2**53 are a ``ValueError``). For a float32 kernel, float64, float16 and
  integer arrays (and lists) are converted to float32 by rounding each value to
  the nearest float32, ties to even (NumPy's ``astype``; beyond float32's range:
  ±inf). Byte-swapped or non-contiguous arrays of the kernel's dtype are copied.
  Complex, bool, object, string and long-double arrays are a ``TypeError``
  whatever the kernel's dtype; a scalar or a wrong shape is a ``ValueError``.
* parameters ``p``: the same conversions; ``(k,)`` is shared by all points,
  ``(N, k)`` pairs row by row with a batch of ``N`` points. A dict maps
  parameter symbols (or their names) to values. A bare number is accepted
  when there is exactly one parameter. Omit ``p`` when there are none.
* ``out``: must already be a writeable, C-contiguous, native array of exactly
  the kernel's dtype and the result's exact shape that does not overlap ``x``
  or ``p``; it is never converted (a converted copy would silently receive the
  result): a float64 ``out`` for a float32 kernel is a ``TypeError``.
"""

from __future__ import annotations

import ctypes
import numbers
from collections.abc import Mapping, Sequence
from typing import Any

import numpy as np
import numpy.typing as npt

F64 = np.dtype(np.float64)
Array = npt.NDArray[Any]


def _as_array(value: Any, what: str, dtype: np.dtype[Any]) -> Array:
    if isinstance(value, np.ndarray):
        arr = value
    elif isinstance(value, (list, tuple)):
        try:
            arr = np.asarray(value)
        except ValueError as exc:  # ragged nesting
            raise ValueError(f"{what} must be a rectangular array of numbers: {exc}") from None
    elif isinstance(value, (numbers.Number, np.generic)) and not isinstance(value, bool):
        arr = np.asarray(value)
    else:
        raise TypeError(
            f"{what} must be a NumPy array (or a list of numbers), not {type(value).__name__}"
        )
    kind = arr.dtype.kind
    if dtype.kind == "c":
        return _as_complex(arr, what, dtype)
    exact = dtype == F64  # float64 kernels convert exactly; float32 kernels round
    if exact and kind in "iu" and arr.size:
        if max(abs(int(arr.max())), abs(int(arr.min()))) > 2**53:
            raise ValueError(
                f"{what} holds integers beyond 2**53, which float64 cannot represent exactly; "
                "convert them explicitly if rounding is acceptable"
            )
    if (kind == "f" and arr.dtype.itemsize <= 8) or kind in "iu":
        if arr.dtype != dtype or not arr.flags.c_contiguous:
            # exact into float64; to nearest into float32 (overflow to ±inf is the
            # conversion's documented result, not an error); copies
            with np.errstate(over="ignore"):
                arr = np.ascontiguousarray(arr, dtype=dtype)
        return arr
    if kind == "f":
        raise TypeError(
            f"{what} has dtype {arr.dtype}, which {dtype} cannot hold exactly; "
            f"convert it explicitly with .astype(np.{dtype})"
        )
    raise TypeError(f"{what} must hold real numbers ({dtype}), not dtype {arr.dtype}")


def _as_complex(arr: Array, what: str, dtype: np.dtype[Any]) -> Array:
    """``arr`` for a complex128 kernel: real, integer and complex64 arrays are converted
    exactly (a real value has imaginary part +0); wider types are a ``TypeError``."""
    kind, size = arr.dtype.kind, arr.dtype.itemsize
    if kind in "iu" and arr.size and max(abs(int(arr.max())), abs(int(arr.min()))) > 2**53:
        raise ValueError(
            f"{what} holds integers beyond 2**53, which complex128 cannot represent exactly; "
            "convert them explicitly if rounding is acceptable"
        )
    if kind in "iu" or (kind == "f" and size <= 8) or (kind == "c" and size <= 16):
        if arr.dtype != dtype or not arr.flags.c_contiguous:
            arr = np.ascontiguousarray(arr, dtype=dtype)  # exact for these types; copies
        return arr
    if kind in "fc":
        raise TypeError(
            f"{what} has dtype {arr.dtype}, which {dtype} cannot hold exactly; "
            f"convert it explicitly with .astype(np.{dtype})"
        )
    raise TypeError(f"{what} must hold numbers ({dtype}), not dtype {arr.dtype}")


def as_points(
    x: Any, n_vars: int, what: str = "x", dtype: np.dtype[Any] = F64
) -> tuple[Array, bool]:
    """``x`` as a C-contiguous ``(N, n_vars)`` array of ``dtype``, and whether it was a batch.

    >>> pts, batched = as_points([1, 2], 2)
    >>> pts.shape, pts.dtype.name, batched
    ((1, 2), 'float64', False)
    >>> as_points([0.1, 1e39], 2, dtype=np.dtype(np.float32))[0]   # rounded to nearest
    array([[0.1, inf]], dtype=float32)
    """
    arr = _as_array(x, what, dtype)
    if arr.ndim == 1 and arr.shape[0] == n_vars:
        return arr.reshape(1, n_vars), False
    if arr.ndim == 2 and arr.shape[1] == n_vars:
        return arr, True
    raise ValueError(
        f"{what} must have shape ({n_vars},) for one point or (N, {n_vars}) for a batch, "
        f"got shape {arr.shape}"
    )


def as_params(
    p: Any,
    symbols: Sequence[Any],
    names: Sequence[str],
    n_points: int,
    batched: bool,
    dtype: np.dtype[Any] = F64,
) -> tuple[Array | None, int]:
    """Parameters as a C-contiguous array of ``dtype`` and the row stride (0 = shared).

    >>> import sympy as sp
    >>> a, b = sp.symbols("a b")
    >>> as_params({"b": 2, a: 1}, [a, b], ["a", "b"], 1, False)  # by symbol or by name
    (array([1., 2.]), 0)
    >>> arr, stride = as_params(np.ones((3, 2)), [a, b], ["a", "b"], 3, True)
    >>> arr.shape, stride  # one row of parameters per point
    ((3, 2), 2)
    >>> as_params(None, [], [], 1, False)
    (None, 0)
    """
    k = len(names)
    if p is None:
        if k:
            raise ValueError(f"this kernel needs values for its parameters {', '.join(names)}")
        return None, 0
    if isinstance(p, Mapping):
        return _params_from_mapping(p, symbols, names, dtype), 0
    if k == 1 and isinstance(p, (numbers.Number, np.generic)) and not isinstance(p, bool):
        p = [p]
    arr = _as_array(p, "p", dtype)
    if arr.ndim == 1 and arr.shape[0] == k:
        return (arr if k else None), 0
    if arr.ndim == 2 and arr.shape[1] == k:
        if not batched:
            raise ValueError(
                "a batch of parameters (N, k) needs a batch of points (N, n); "
                "to evaluate one point for many parameters, repeat it: np.tile(x, (N, 1))"
            )
        if arr.shape[0] != n_points:
            raise ValueError(
                f"p has {arr.shape[0]} rows but x has {n_points} points; they pair row by row"
            )
        return (arr if k else None), k
    raise ValueError(
        f"p must have shape ({k},) or (N, {k}) for the parameters ({', '.join(names)}), "
        f"got shape {arr.shape}"
    )


def _params_from_mapping(
    p: Mapping[Any, Any], symbols: Sequence[Any], names: Sequence[str], dtype: np.dtype[Any]
) -> Array:
    values: list[Any] = [None] * len(names)
    for key, value in p.items():
        index = _param_index(key, symbols, names)
        if index is None:
            raise ValueError(
                f"{key!r} is not a parameter of this kernel (parameters: {', '.join(names)})"
            )
        if values[index] is not None:
            raise ValueError(f"parameter {names[index]} is given twice (as a symbol and by name)")
        real = dtype.kind != "c"
        if (
            isinstance(value, (bool, np.bool_))
            or not isinstance(value, (numbers.Number, np.number))
            or (real and not isinstance(value, (numbers.Real, np.floating, np.integer)))
        ):
            kind = "a real" if real else "a complex"
            raise TypeError(f"the value of parameter {names[index]} must be {kind} number")
        if not isinstance(value, (int, float, complex, np.number)):  # SymPy's numbers, ...
            value = float(value) if real else complex(value)  # type: ignore[arg-type,call-overload]
        # one value converted as an array is (exactness, rounding, wide types refused)
        values[index] = _as_array(np.asarray(value), f"parameter {names[index]}", dtype).flat[0]
    missing = [n for n, v in zip(names, values) if v is None]
    if missing:
        raise ValueError(f"no value given for the parameters {', '.join(missing)}")
    return np.array(values, dtype=dtype)


def _param_index(key: Any, symbols: Sequence[Any], names: Sequence[str]) -> int | None:
    for i, (sym, name) in enumerate(zip(symbols, names)):
        if (
            key is sym
            or (isinstance(key, str) and key == name)
            or (not isinstance(key, str) and key == sym)
        ):
            return i
    return None


def address(arr: Array) -> int:
    """The address of an array's first byte, quickly.

    A ctypes view of a writeable buffer costs a quarter of ``arr.ctypes.data``;
    read-only or empty arrays take the slow way.

    >>> a = np.zeros(3)
    >>> address(a) == a.ctypes.data
    True
    """
    try:
        return ctypes.addressof(ctypes.c_char.from_buffer(arr))  # type: ignore[arg-type]
    except (TypeError, ValueError, BufferError):
        return int(arr.ctypes.data)


def check_out(
    out: Any, shape: tuple[int, ...], inputs: Sequence[Array | None], dtype: np.dtype[Any] = F64
) -> Array:
    """Validate a caller's output array (``dtype``, exactly); never converts it.

    >>> x = np.zeros(2); out = np.empty((2, 2))
    >>> check_out(out, (2, 2), [x]) is out
    True
    >>> check_out(np.empty((2, 2), dtype=np.float32), (2, 2), [x])
    Traceback (most recent call last):
    ...
    TypeError: out must have dtype float64 (native byte order), not float32
    >>> check_out(out, (2, 2), [x], np.dtype(np.float32))
    Traceback (most recent call last):
    ...
    TypeError: out must have dtype float32 (native byte order), not float64
    >>> check_out(x, (2,), [x])
    Traceback (most recent call last):
    ...
    ValueError: out must not overlap the inputs
    """
    if not isinstance(out, np.ndarray):
        raise TypeError(f"out must be a NumPy array, not {type(out).__name__}")
    if out.dtype != dtype or not out.dtype.isnative:
        raise TypeError(f"out must have dtype {dtype} (native byte order), not {out.dtype}")
    if out.shape != shape:
        raise ValueError(f"out must have shape {shape}, got {out.shape}")
    if not out.flags.c_contiguous:
        raise ValueError("out must be C-contiguous")
    if not out.flags.writeable:
        raise ValueError("out is read-only")
    for arr in inputs:
        if arr is not None and np.may_share_memory(out, arr):
            raise ValueError("out must not overlap the inputs")
    return out
