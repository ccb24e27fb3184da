"""Scalar reference semantics of every primitive op, in plain Python, and a tape interpreter.

Constant folding uses these functions, so a folded constant is bit-for-bit the
value the compiled kernel would have computed: elementary functions are called
in the C math library (the same ``libm`` the JIT links against) and arithmetic
follows IEEE-754 (division by zero gives ±inf or NaN instead of raising).
"""

from __future__ import annotations

import cmath
import ctypes
import ctypes.util
import math
from collections.abc import Callable, Sequence

from symjac.ir.ops import COMPOSITE, INFO, OPERATORS, Op, OpInfo, powi_chain
from symjac.ir.tape import Tape


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
    """``a**n`` by the square-and-multiply chain every back end emits (:func:`powi_chain`).

    >>> powi(3.0, 4), powi(2.0, -2), powi(float("nan"), 0)
    (81.0, 0.25, 1.0)
    """
    chain = powi_chain(n)
    if chain.result is None:
        return 1.0
    values = [a]
    for i, j in chain.steps:
        values.append(values[i] * values[j])
    return ieee_div(1.0, values[chain.result]) if chain.reciprocal else values[chain.result]


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


#: Python's name for a libm function where it differs (the fallback without a C libm)
_PYTHON_NAME = {"tgamma": "gamma"}


def _from_libm(info: OpInfo) -> Callable[..., float]:
    """The C library's ``info.libm``, its integer arguments (an order) passed as C ints."""
    name, ints = str(info.libm), info.integer_args
    if _LIBM is not None and hasattr(_LIBM, name):
        fn = getattr(_LIBM, name)
        fn.restype = ctypes.c_double
        fn.argtypes = [ctypes.c_int if i in ints else ctypes.c_double for i in range(info.arity)]
        if not ints:
            return fn  # type: ignore[no-any-return,unused-ignore]
        return lambda *args: fn(*(int(a) if i in ints else a for i, a in enumerate(args)))
    fallback = getattr(math, _PYTHON_NAME.get(name, name), None)

    def guarded(*args: float) -> float:  # pragma: no cover - only without a C libm
        try:
            return math.nan if fallback is None else float(fallback(*args))
        except (ValueError, OverflowError):
            return math.nan

    return guarded


#: Python implementations of every real-valued op: the C library's function where the op
#: table names one (``INFO[op].libm``), else the definitions above.
REAL: dict[Op, Callable[..., float]] = {
    **{op: _from_libm(info) for op, info in INFO.items() if info.libm and op is not Op.ABS},
    Op.NEG: lambda a: -a,
    Op.ADD: lambda a, b: a + b,
    Op.SUB: lambda a, b: a - b,
    Op.MUL: lambda a, b: a * b,
    Op.DIV: ieee_div,
    Op.ABS: abs,  # exact, and cheaper than a call into libm's fabs
    Op.SIGN: sign,
    Op.MAX: maximum,
    Op.MIN: minimum,
    Op.HEAVISIDE: heaviside,
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


_LN2 = math.log(2.0)
_TRIGONOMETRIC: tuple[Op, ...] = (Op.SIN, Op.COS, Op.TAN, Op.ASIN, Op.ACOS, Op.ATAN)
_TRIGONOMETRIC += (Op.SINH, Op.COSH, Op.TANH, Op.ASINH, Op.ACOSH, Op.ATANH)

#: Complex kernels' ops on complex numbers (Python's arithmetic and :mod:`cmath`, which
#: follows C99 Annex G): what folds their constants. An op missing here is not folded.
COMPLEX: dict[Op, Callable[..., complex]] = {
    **OPERATORS,
    Op.SQRT: cmath.sqrt,
    Op.EXP: cmath.exp,
    Op.LOG: cmath.log,
    Op.EXP2: lambda a: cmath.exp(a * _LN2),
    Op.LOG2: lambda a: cmath.log(a) / _LN2,
    Op.LOG10: cmath.log10,
    # cmath's functions share the C library's names
    **{op: getattr(cmath, str(INFO[op].libm)) for op in _TRIGONOMETRIC},
}


def apply_complex(op: Op, values: Sequence[complex], attr: object = None) -> complex | None:
    """``op`` on complex values, or None where Python raises (a zero divisor, an overflow)
    or the op is not in :data:`COMPLEX`: the constant is then left to the kernel.

    >>> apply_complex(Op.SQRT, [-4.0]), apply_complex(Op.POWI, [1j], 2)
    (2j, (-1+0j))
    >>> apply_complex(Op.DIV, [1j, 0j]) is None
    True
    """
    try:
        if op is Op.POWI:
            chain = powi_chain(attr)  # type: ignore[arg-type]
            if chain.result is None:
                return 1 + 0j
            regs = [complex(values[0])]
            for i, j in chain.steps:
                regs.append(regs[i] * regs[j])
            return 1 / regs[chain.result] if chain.reciprocal else regs[chain.result]
        fn = COMPLEX.get(op)
        return None if fn is None else complex(fn(*values))
    except (ArithmeticError, ValueError):
        return None


def apply(op: Op, values: Sequence[object], attr: object = None) -> object:
    """``op`` on the values of its arguments: a double, or a truth value for comparisons.

    >>> apply(Op.HYPOT, [3.0, 4.0]), apply(Op.POWI, [2.0], -2), apply(Op.LT, [1.0, 2.0])
    (5.0, 0.25, True)
    """
    if op is Op.POWI:
        return powi(values[0], attr)  # type: ignore[arg-type]
    if op in BOOL:
        return BOOL[op](*values)
    if op in COMPOSITE:
        raise ValueError(f"{op.name} is a composite op: expand it before evaluating")
    return REAL[op](*values)


def run(tape: Tape, x: Sequence[float] = (), p: Sequence[float] = ()) -> list[object]:
    """The outputs of ``tape`` at one point, instruction by instruction: the reference
    every back end is tested against (tinygrad's ``ops_python`` is the model).

    >>> from symjac.ir.graph import Graph
    >>> g = Graph(); x = g.var(0)
    >>> outputs = [g.mul(x, g.const(3.0)), g.call(Op.LT, x, g.const(0.0))]
    >>> run(Tape.from_graph(g, outputs, 1, 0), [2.0])
    [6.0, False]
    """
    regs: list[object] = []
    for op, args, attr in zip(tape.ops, tape.args, tape.attrs):
        if op is Op.CONST or op is Op.BOOL:
            regs.append(attr)
        elif op is Op.VAR:
            regs.append(x[int(attr)])  # type: ignore[call-overload]
        elif op is Op.PARAM:
            regs.append(p[int(attr)])  # type: ignore[call-overload]
        else:
            regs.append(apply(op, [regs[a] for a in args], attr))
    return [regs[r] for r in tape.outputs]
