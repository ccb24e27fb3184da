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
from dataclasses import dataclass


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
    """Static facts about one operation.

    >>> INFO[Op.HYPOT]
    OpInfo(arity=2, commutative=True, result='real', operands='real', libm='hypot')
    >>> INFO[Op.LT].result, OpInfo(1).libm
    ('bool', None)
    """

    arity: int
    commutative: bool = False
    result: str = "real"  # "real" or "bool"
    operands: str = "real"  # "real", "bool" or "select"
    libm: str | None = None  # the C99 <math.h> function that computes it, if any


_UNARY_LIBM = {
    Op.EXP: "exp",
    Op.LOG: "log",
    Op.SIN: "sin",
    Op.COS: "cos",
    Op.TAN: "tan",
    Op.ASIN: "asin",
    Op.ACOS: "acos",
    Op.ATAN: "atan",
    Op.SINH: "sinh",
    Op.COSH: "cosh",
    Op.TANH: "tanh",
    Op.ASINH: "asinh",
    Op.ACOSH: "acosh",
    Op.ATANH: "atanh",
    Op.ERF: "erf",
    Op.ERFC: "erfc",
    Op.GAMMA: "tgamma",
    Op.LGAMMA: "lgamma",
}

INFO: dict[Op, OpInfo] = {
    Op.CONST: OpInfo(0),
    Op.VAR: OpInfo(0),
    Op.PARAM: OpInfo(0),
    Op.BOOL: OpInfo(0, result="bool"),
    Op.NEG: OpInfo(1),
    Op.ADD: OpInfo(2, commutative=True),
    Op.SUB: OpInfo(2),
    Op.MUL: OpInfo(2, commutative=True),
    Op.DIV: OpInfo(2),
    Op.POWI: OpInfo(1),
    Op.POW: OpInfo(2, libm="pow"),
    Op.SQRT: OpInfo(1, libm="sqrt"),
    **{op: OpInfo(1, libm=name) for op, name in _UNARY_LIBM.items()},
    Op.ATAN2: OpInfo(2, libm="atan2"),
    Op.HYPOT: OpInfo(2, commutative=True, libm="hypot"),
    Op.ABS: OpInfo(1, libm="fabs"),
    Op.SIGN: OpInfo(1),
    Op.FLOOR: OpInfo(1, libm="floor"),
    Op.CEIL: OpInfo(1, libm="ceil"),
    # IEEE 754-2019 maximum/minimum: NaN-propagating, so the order of operands is irrelevant
    Op.MAX: OpInfo(2, commutative=True),
    Op.MIN: OpInfo(2, commutative=True),
    Op.HEAVISIDE: OpInfo(2),
    Op.LOGGAMMA: OpInfo(1),
    Op.DIGAMMA: OpInfo(1),
    Op.ACOT: OpInfo(1),
    Op.LT: OpInfo(2, result="bool"),
    Op.LE: OpInfo(2, result="bool"),
    Op.EQ: OpInfo(2, commutative=True, result="bool"),
    Op.NE: OpInfo(2, commutative=True, result="bool"),
    Op.AND: OpInfo(2, commutative=True, result="bool", operands="bool"),
    Op.OR: OpInfo(2, commutative=True, result="bool", operands="bool"),
    Op.NOT: OpInfo(1, result="bool", operands="bool"),
    Op.SELECT: OpInfo(3, operands="select"),
}

#: Operations that a back end must implement (composites are expanded first).
COMPOSITE: frozenset[Op] = frozenset({Op.LOGGAMMA, Op.DIGAMMA, Op.ACOT})

#: Leaves: they read an input or hold a constant.
LEAVES: frozenset[Op] = frozenset({Op.CONST, Op.VAR, Op.PARAM, Op.BOOL})


def is_bool(op: Op) -> bool:
    """True when ``op`` produces a truth value rather than a double.

    >>> is_bool(Op.LT), is_bool(Op.ADD)
    (True, False)
    """
    return INFO[op].result == "bool"
