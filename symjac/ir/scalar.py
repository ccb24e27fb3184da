"""Scalar reference semantics of every primitive op, in plain Python.

Constant folding uses these functions, so a folded constant is bit-for-bit the
value the compiled kernel would have computed: elementary functions are called
in the C math library (the same ``libm`` the JIT links against) and arithmetic
follows IEEE-754 (division by zero gives ±inf or NaN instead of raising).
"""

from __future__ import annotations

import ctypes
import ctypes.util
import math
from collections.abc import Callable

from symjac.ir.ops import Op


def _load_libm() -> ctypes.CDLL | None:
    for name in (ctypes.util.find_library("m"), "libm.so.6", "libm.dylib"):
        if not name:
            continue
        try:
            return ctypes.CDLL(name)
        except OSError:
            continue
    return None


_LIBM = _load_libm()


def _libm_unary(name: str, fallback: Callable[[float], float]) -> Callable[[float], float]:
    if _LIBM is not None and hasattr(_LIBM, name):
        fn = getattr(_LIBM, name)
        fn.restype = ctypes.c_double
        fn.argtypes = [ctypes.c_double]
        return fn  # type: ignore[no-any-return,unused-ignore]

    def guarded(x: float) -> float:  # pragma: no cover - only without a C libm
        try:
            return fallback(x)
        except (ValueError, OverflowError):
            return math.nan

    return guarded


def _libm_binary(
    name: str, fallback: Callable[[float, float], float]
) -> Callable[[float, float], float]:
    if _LIBM is not None and hasattr(_LIBM, name):
        fn = getattr(_LIBM, name)
        fn.restype = ctypes.c_double
        fn.argtypes = [ctypes.c_double, ctypes.c_double]
        return fn  # type: ignore[no-any-return,unused-ignore]

    def guarded(x: float, y: float) -> float:  # pragma: no cover - only without a C libm
        try:
            return fallback(x, y)
        except (ValueError, OverflowError):
            return math.nan

    return guarded


def ieee_div(a: float, b: float) -> float:
    """``a / b`` with IEEE-754 results for a zero divisor.

    >>> ieee_div(1.0, -0.0), ieee_div(0.0, 0.0) != ieee_div(0.0, 0.0)
    (-inf, True)
    """
    if b != 0.0:
        return a / b
    if a != a or a == 0.0:
        return math.nan
    return math.copysign(math.inf, a) * math.copysign(1.0, b)


def powi(a: float, n: int) -> float:
    """``a**n`` by the same square-and-multiply chain the back ends emit.

    >>> powi(3.0, 4), powi(2.0, -2)
    (81.0, 0.25)
    """
    if n == 0:
        return 1.0
    result: float | None = None
    base = a
    m = abs(n)
    while m:
        if m & 1:
            result = base if result is None else result * base
        m >>= 1
        if m:
            base = base * base
    assert result is not None
    return ieee_div(1.0, result) if n < 0 else result


def sign(x: float) -> float:
    """SymPy's ``sign`` on reals; NaN stays NaN and ±0 stays ±0.

    >>> sign(-2.5), sign(0.0)
    (-1.0, 0.0)
    """
    if x > 0.0:
        return 1.0
    if x < 0.0:
        return -1.0
    return x


def heaviside(x: float, h0: float) -> float:
    """Heaviside step with value ``h0`` at zero; NaN stays NaN.

    >>> heaviside(-1.0, 0.5), heaviside(0.0, 0.5), heaviside(3.0, 0.5)
    (0.0, 0.5, 1.0)
    """
    if x > 0.0:
        return 1.0
    if x < 0.0:
        return 0.0
    return h0 if x == 0.0 else x


def maximum(a: float, b: float) -> float:
    """IEEE 754-2019 ``maximum``: NaN if either is NaN, and +0 > -0.

    >>> maximum(-0.0, 0.0), maximum(1.0, float("nan")) != 1.0
    (0.0, True)
    """
    if a != a or b != b:
        return math.nan
    if a == b:
        return b if math.copysign(1.0, a) < 0 else a
    return a if a > b else b


def minimum(a: float, b: float) -> float:
    """IEEE 754-2019 ``minimum``: NaN if either is NaN, and -0 < +0.

    >>> minimum(-0.0, 0.0)
    -0.0
    """
    if a != a or b != b:
        return math.nan
    if a == b:
        return a if math.copysign(1.0, a) < 0 else b
    return a if a < b else b


def _fail(*_: float) -> float:
    raise AssertionError("composite ops are expanded before they are evaluated")


#: Python implementations of every real-valued op, keyed by op.
REAL: dict[Op, Callable[..., float]] = {
    Op.NEG: lambda a: -a,
    Op.ADD: lambda a, b: a + b,
    Op.SUB: lambda a, b: a - b,
    Op.MUL: lambda a, b: a * b,
    Op.DIV: ieee_div,
    Op.POW: _libm_binary("pow", math.pow),
    Op.SQRT: _libm_unary("sqrt", math.sqrt),
    Op.EXP: _libm_unary("exp", math.exp),
    Op.LOG: _libm_unary("log", math.log),
    Op.SIN: _libm_unary("sin", math.sin),
    Op.COS: _libm_unary("cos", math.cos),
    Op.TAN: _libm_unary("tan", math.tan),
    Op.ASIN: _libm_unary("asin", math.asin),
    Op.ACOS: _libm_unary("acos", math.acos),
    Op.ATAN: _libm_unary("atan", math.atan),
    Op.SINH: _libm_unary("sinh", math.sinh),
    Op.COSH: _libm_unary("cosh", math.cosh),
    Op.TANH: _libm_unary("tanh", math.tanh),
    Op.ASINH: _libm_unary("asinh", math.asinh),
    Op.ACOSH: _libm_unary("acosh", math.acosh),
    Op.ATANH: _libm_unary("atanh", math.atanh),
    Op.ERF: _libm_unary("erf", math.erf),
    Op.ERFC: _libm_unary("erfc", math.erfc),
    Op.GAMMA: _libm_unary("tgamma", math.gamma),
    Op.LGAMMA: _libm_unary("lgamma", math.lgamma),
    Op.ATAN2: _libm_binary("atan2", math.atan2),
    Op.HYPOT: _libm_binary("hypot", math.hypot),
    Op.ABS: abs,
    Op.SIGN: sign,
    Op.FLOOR: _libm_unary("floor", math.floor),
    Op.CEIL: _libm_unary("ceil", math.ceil),
    Op.MAX: maximum,
    Op.MIN: minimum,
    Op.HEAVISIDE: heaviside,
    Op.LOGGAMMA: _fail,
    Op.DIGAMMA: _fail,
    Op.ACOT: _fail,
    Op.SELECT: lambda c, a, b: a if c else b,
}

#: Python implementations of the ops that produce truth values.
BOOL: dict[Op, Callable[..., bool]] = {
    Op.LT: lambda a, b: a < b,
    Op.LE: lambda a, b: a <= b,
    Op.EQ: lambda a, b: a == b,
    Op.NE: lambda a, b: a != b,
    Op.AND: lambda a, b: a and b,
    Op.OR: lambda a, b: a or b,
    Op.NOT: lambda a: not a,
}
