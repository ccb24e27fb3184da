"""The operations of symjac's IR, with the facts every stage needs about them.

This module is the vocabulary shared by the front end, the passes and the back
ends. It imports nothing from SymPy or llvmlite, so ``symjac.codegen`` can use it.

Every operation works on IEEE-754 doubles (``real``) or on truth values
(``bool``, produced by comparisons and consumed by ``SELECT``). Leaves carry
their payload in the node's ``attr``: a float for ``CONST``, an index for
``VAR``/``PARAM``, ``True``/``False`` for ``BOOL``, the exponent for ``POWI``.
"""

from __future__ import annotations

import enum
import operator
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any


class Op(enum.IntEnum):
    """One IR operation. The integer values are part of the cache key format.

    >>> Op.ADD, int(Op.SIN), Op["ATAN2"]
    (<Op.ADD: 11>, 22, <Op.ATAN2: 38>)
    """

    # leaves
    CONST = 0
    VAR = 1
    PARAM = 2
    BOOL = 3
    # arithmetic
    NEG = 10
    ADD = 11
    SUB = 12
    MUL = 13
    DIV = 14
    POWI = 15  # attr: integer exponent; lowered to a multiply chain
    POW = 16
    SQRT = 17
    # elementary functions (libm)
    EXP = 20
    LOG = 21
    SIN = 22
    COS = 23
    TAN = 24
    ASIN = 25
    ACOS = 26
    ATAN = 27
    SINH = 28
    COSH = 29
    TANH = 30
    ASINH = 31
    ACOSH = 32
    ATANH = 33
    ERF = 34
    ERFC = 35
    GAMMA = 36
    LGAMMA = 37  # log|Γ(x)|, as C's lgamma
    ATAN2 = 38
    HYPOT = 39
    EXPM1 = 70  # C99 functions (sympy.codegen.cfunctions)
    LOG1P = 71
    EXP2 = 72
    LOG2 = 73
    LOG10 = 74
    CBRT = 75
    COPYSIGN = 76  # (magnitude, sign): used by the complex lowering (passes/complexify.py)
    BESSELJ = 80  # (n, x): Bessel functions of the first and second kind, integer order n
    BESSELY = 81
    # piecewise-smooth functions, lowered inline
    ABS = 40
    SIGN = 41
    FLOOR = 42
    CEIL = 43
    MAX = 44
    MIN = 45
    HEAVISIDE = 46  # (x, value at 0)
    # composite functions, expanded into the ops above before lowering
    LOGGAMMA = 50  # real branch of log Γ(x): NaN where Γ(x) < 0
    DIGAMMA = 51
    ACOT = 52  # SymPy's real acot: atan(1/x), pi/2 at 0
    POLYGAMMA = 53  # (n, x) for a constant integer n >= 1 (n = 0 is DIGAMMA)
    # truth values
    LT = 60
    LE = 61
    EQ = 62
    NE = 63
    AND = 64
    OR = 65
    NOT = 66
    SELECT = 67  # (condition, value if true, value if false)


@dataclass(frozen=True)
class OpInfo:
    """Everything symjac knows about one operation: a row of :data:`INFO`.

    Each stage reads its column and nothing else defines an op: the front end
    converts the SymPy functions in ``sympy``, :mod:`symjac.passes.diff`
    differentiates by the formulas in ``d``, :mod:`symjac.ir.scalar` evaluates
    ``libm`` (the reference that constant folding uses), the LLVM back end calls
    ``libm`` — in vector form where ``vector`` says libmvec has it — and the C
    printer writes ``libm``. Ops without ``libm`` are arithmetic or inline code,
    and every back end has a test that it covers them all.

    >>> INFO[Op.HYPOT].libm, INFO[Op.HYPOT].d, INFO[Op.HYPOT].commutative
    ('hypot', ('a/f', 'b/f'), True)
    >>> INFO[Op.LT].result, OpInfo(1).libm
    ('bool', None)
    """

    arity: int
    commutative: bool = False
    result: str = "real"  # "real" or "bool"
    operands: str = "real"  # "real", "bool" or "select"
    #: the C99 <math.h> function that computes it, if any
    libm: str | None = None
    #: glibc's libmvec (x86-64, glibc >= 2.35) has ``libm`` in vector form
    vector: bool = False
    #: SymPy functions that are this op, as "name" (``sympy.name``) or "module:name";
    #: the first one is how :meth:`to_sympy` writes it
    sympy: tuple[str, ...] = ()
    #: partial derivatives, one formula per argument (``None``: structurally zero) over the
    #: arguments ``a``, ``b`` and the op's own value ``f`` (:mod:`symjac.passes.formula`);
    #: an empty tuple means the rule is code in :mod:`symjac.passes.diff`
    d: tuple[str | None, ...] = ()
    #: arguments that are constant integers (an order): the front end refuses anything else,
    #: and ``libm`` takes them as C ``int``
    integer_args: tuple[int, ...] = ()
    #: complex128 kernels compile it: holomorphic where defined, with ``d`` its complex
    #: derivative (principal branches), lowered to real arithmetic by
    #: :mod:`symjac.passes.complexify`; the front end refuses every other op there
    holomorphic: bool = False
    #: ``d`` in complex kernels, where the real formula is not the complex derivative
    d_complex: tuple[str | None, ...] = ()


def _fn(
    libm: str,
    d: str | None,
    *sympy: str,
    vector: bool = True,
    holomorphic: bool = True,
    d_complex: str | None = None,
) -> OpInfo:
    """A one-argument function of the C library (holomorphic unless said otherwise)."""
    complex_d = () if d_complex is None else (d_complex,)
    return OpInfo(
        1, libm=libm, vector=vector, sympy=sympy, d=(d,), holomorphic=holomorphic,
        d_complex=complex_d,
    )  # fmt: skip


_CF = "sympy.codegen.cfunctions:"

#: The op table. Comments on ``d`` say why a formula is written the way it is.
INFO: dict[Op, OpInfo] = {
    # leaves
    Op.CONST: OpInfo(0),
    Op.VAR: OpInfo(0),
    Op.PARAM: OpInfo(0),
    Op.BOOL: OpInfo(0, result="bool"),
    # arithmetic: derivatives are sparse sums in diff.py
    Op.NEG: OpInfo(1, d=("-1",), holomorphic=True),
    Op.ADD: OpInfo(2, commutative=True, holomorphic=True),
    Op.SUB: OpInfo(2, holomorphic=True),
    Op.MUL: OpInfo(2, commutative=True, holomorphic=True),
    Op.DIV: OpInfo(2, holomorphic=True),
    Op.POWI: OpInfo(1, holomorphic=True),  # attr: the integer exponent
    Op.POW: OpInfo(2, libm="pow", vector=True, holomorphic=True),
    Op.SQRT: OpInfo(1, libm="sqrt", sympy=("sqrt", _CF + "Sqrt"), d=("1/(2*f)",), holomorphic=True),
    # elementary functions
    Op.EXP: _fn("exp", "f", "exp"),
    Op.LOG: _fn("log", "1/a", "log"),
    Op.SIN: _fn("sin", "cos(a)", "sin"),
    Op.COS: _fn("cos", "-sin(a)", "cos"),
    Op.TAN: _fn("tan", "1 + f^2", "tan"),
    # complex: 1/cos(asin a), which is sqrt(1 - a²) on the principal branch (Re cos ≥ 0
    # there) without a² overflowing for |a| > 1e154
    Op.ASIN: _fn("asin", "1/sqrt(1 - a^2)", "asin", d_complex="1/cos(f)"),
    Op.ACOS: _fn("acos", "-1/sqrt(1 - a^2)", "acos", d_complex="-1/sin(f)"),
    Op.ATAN: _fn("atan", "1/(1 + a^2)", "atan"),
    Op.SINH: _fn("sinh", "cosh(a)", "sinh"),
    Op.COSH: _fn("cosh", "sinh(a)", "cosh"),
    # 1/cosh², not 1 - tanh²: the difference cancels for large |a|
    Op.TANH: _fn("tanh", "1/cosh(a)^2", "tanh"),
    # 1/hypot(a, 1), not 1/sqrt(a² + 1): a² overflows for |a| > 1e154
    # (complex: hypot is not holomorphic; 1/cosh(asinh a) is 1/sqrt(1 + a²) on the principal
    # branch, where Re cosh ≥ 0, without a² overflowing for |a| > 1e154)
    Op.ASINH: _fn("asinh", "1/hypot(a, 1)", "asinh", d_complex="1/cosh(f)"),
    # sqrt(a-1)·sqrt(a+1), not sqrt(a²-1): NaN for a < 1, where acosh itself is NaN
    Op.ACOSH: _fn("acosh", "1/(sqrt(a - 1)*sqrt(a + 1))", "acosh"),
    Op.ATANH: _fn("atanh", "1/(1 - a^2)", "atanh"),
    Op.ERF: _fn("erf", "2/sqrt(pi)*exp(-a^2)", "erf", holomorphic=False),
    Op.ERFC: _fn("erfc", "-2/sqrt(pi)*exp(-a^2)", "erfc", holomorphic=False),
    Op.GAMMA: _fn("tgamma", "f*digamma(a)", "gamma", vector=False, holomorphic=False),
    # log|Γ(a)|, as C's lgamma
    Op.LGAMMA: _fn("lgamma", "digamma(a)", vector=False, holomorphic=False),
    # (complex kernels: no complex lowering of expm1/log1p in passes.complexify yet)
    Op.EXPM1: _fn("expm1", "exp(a)", _CF + "expm1", holomorphic=False),
    Op.LOG1P: _fn("log1p", "1/(1 + a)", _CF + "log1p", holomorphic=False),
    Op.EXP2: _fn("exp2", "f*log(2)", _CF + "exp2"),
    Op.LOG2: _fn("log2", "1/(a*log(2))", _CF + "log2"),
    Op.LOG10: _fn("log10", "1/(a*log(10))", _CF + "log10"),
    # 1/(3·f²), not a^(-2/3)/3: exact at ±inf and for negative a (pow is NaN there)
    Op.CBRT: _fn("cbrt", "1/(3*f^2)", _CF + "Cbrt", holomorphic=False),  # real cube root
    # |a| with the sign bit of b; libmvec has no copysign (the LLVM back end uses its intrinsic).
    # d/da: sign(a)·sign(f) is ±1 with the sign b gives, 0 at the kink a = 0 (the mean);
    # the jump at b = 0 contributes nothing (docs/semantics.md)
    Op.COPYSIGN: OpInfo(2, libm="copysign", d=("sign(a)*sign(f)", None)),
    # atan2(a, b) = atan2(y, x): b/(a² + b²) as (b/r)/r, r = hypot(b, a): no overflow of squares
    Op.ATAN2: OpInfo(
        2,
        libm="atan2",
        vector=True,
        sympy=("atan2",),
        d=("b/hypot(b, a)/hypot(b, a)", "-(a/hypot(b, a)/hypot(b, a))"),
    ),
    Op.HYPOT: OpInfo(
        2, commutative=True, libm="hypot", vector=True, sympy=(_CF + "hypot",), d=("a/f", "b/f")
    ),
    # POSIX jn/yn (not C99); J_-n = (-1)^n J_n, so the derivative's n - 1 may be negative
    Op.BESSELJ: OpInfo(
        2,
        libm="jn",
        sympy=("besselj",),
        d=(None, "(besselj(a - 1, b) - besselj(a + 1, b))/2"),
        integer_args=(0,),
    ),
    Op.BESSELY: OpInfo(
        2,
        libm="yn",
        sympy=("bessely",),
        d=(None, "(bessely(a - 1, b) - bessely(a + 1, b))/2"),
        integer_args=(0,),
    ),
    # piecewise-smooth functions; at a kink the derivative is the mean of both sides and
    # a jump contributes 0 (docs/semantics.md)
    Op.ABS: OpInfo(1, libm="fabs", sympy=("Abs",), d=("sign(a)",)),
    Op.SIGN: OpInfo(1, sympy=("sign",), d=(None,)),
    Op.FLOOR: OpInfo(1, libm="floor", sympy=("floor",), d=(None,)),
    Op.CEIL: OpInfo(1, libm="ceil", sympy=("ceiling",), d=(None,)),
    # IEEE 754-2019 maximum/minimum: NaN-propagating, so the order of operands is irrelevant;
    # n-ary Max/Min differentiate over all their operands (diff.py)
    Op.MAX: OpInfo(2, commutative=True, sympy=("Max",)),
    Op.MIN: OpInfo(2, commutative=True, sympy=("Min",)),
    # (a, value at 0): the value at 0 can depend on the variables; elsewhere the step is flat
    Op.HEAVISIDE: OpInfo(2, sympy=("Heaviside",), d=(None, "select(eq(a, 0), 1, 0)")),
    # composites, expanded into the ops above before lowering (passes/composites.py)
    Op.LOGGAMMA: OpInfo(1, sympy=("loggamma",), d=("digamma(a)",)),  # NaN where Γ(a) < 0
    Op.DIGAMMA: OpInfo(1, d=("polygamma(1, a)",)),  # polygamma(0, a)
    Op.POLYGAMMA: OpInfo(2, d=(None, "polygamma(a + 1, b)"), integer_args=(0,)),
    Op.ACOT: OpInfo(1, sympy=("acot",), d=("-1/(1 + a^2)",)),  # atan(1/a), pi/2 at 0
    # truth values
    Op.LT: OpInfo(2, result="bool"),
    Op.LE: OpInfo(2, result="bool"),
    Op.EQ: OpInfo(2, commutative=True, result="bool"),
    Op.NE: OpInfo(2, commutative=True, result="bool"),
    Op.AND: OpInfo(2, commutative=True, result="bool", operands="bool"),
    Op.OR: OpInfo(2, commutative=True, result="bool", operands="bool"),
    Op.NOT: OpInfo(1, result="bool", operands="bool"),
    Op.SELECT: OpInfo(3, operands="select"),  # (condition, value if true, value if false)
}

#: The arithmetic ops as Python's operators, for any number type that has them (complex
#: constants, SymPy expressions); real kernels' reference semantics divide by IEEE rules.
OPERATORS: dict[Op, Callable[..., Any]] = {
    Op.NEG: operator.neg,
    Op.ADD: operator.add,
    Op.SUB: operator.sub,
    Op.MUL: operator.mul,
    Op.DIV: operator.truediv,
    Op.POW: operator.pow,
}

#: Operations that a back end must implement (composites are expanded first).
COMPOSITE: frozenset[Op] = frozenset({Op.LOGGAMMA, Op.DIGAMMA, Op.POLYGAMMA, Op.ACOT})

#: Leaves: they read an input or hold a constant.
LEAVES: frozenset[Op] = frozenset({Op.CONST, Op.VAR, Op.PARAM, Op.BOOL})


@dataclass(frozen=True)
class PowiChain:
    """How every back end computes ``x**n`` for an integer n (``POWI``): square-and-multiply.

    Value 0 is x; step k computes value k + 1 as ``values[i] * values[j]`` for
    ``(i, j) = steps[k]``; the result is ``values[result]``, or ``1 / values[result]``
    when ``reciprocal`` (n < 0), or 1.0 when ``result`` is None (n = 0). One schedule,
    so the reference, the JIT and the C code round alike (no ``llvm.powi``, whose
    schedule is LLVM's).

    >>> powi_chain(5)   # x², x⁴, x⁴·x
    PowiChain(steps=((0, 0), (1, 1), (0, 2)), result=3, reciprocal=False)
    >>> powi_chain(-2).reciprocal, powi_chain(0).result is None
    (True, True)
    """

    steps: tuple[tuple[int, int], ...]
    result: int | None
    reciprocal: bool


def powi_chain(n: int) -> PowiChain:
    """The square-and-multiply schedule of ``x**n`` (see :class:`PowiChain`).

    >>> powi_chain(3).steps   # x·x, then x²·x
    ((0, 0), (0, 1))
    """
    steps: list[tuple[int, int]] = []
    base, result = 0, None
    m = abs(n)
    while m:
        if m & 1:
            if result is None:
                result = base
            else:
                steps.append((result, base))
                result = len(steps)
        m >>= 1
        if m:
            steps.append((base, base))
            base = len(steps)
    return PowiChain(tuple(steps), result, n < 0)


def is_bool(op: Op) -> bool:
    """True when ``op`` produces a truth value rather than a double.

    >>> is_bool(Op.LT), is_bool(Op.ADD)
    (True, False)
    """
    return INFO[op].result == "bool"
