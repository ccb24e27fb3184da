"""IR → SymPy, for inspection (``jac.to_sympy()``).

The conversion follows the kernels' conventions: symbols are real, and a
derivative at a kink is what the kernel computes (``Abs`` → ``sign``). It
walks the tape in order, so it never recurses.
"""

from __future__ import annotations

import math
from collections.abc import Callable, Sequence
from typing import Any

import sympy as sp

from symjac.frontend.convert import sympy_function
from symjac.ir.ops import INFO, OPERATORS, Op
from symjac.ir.tape import Tape

#: constants the derivative rules introduce, shown exactly rather than as 17 digits
_KNOWN = {
    float(e): e
    for e in (
        2 / sp.sqrt(sp.pi),
        -2 / sp.sqrt(sp.pi),
        sp.pi,
        -sp.pi,
        sp.E,
        sp.Rational(1, 2),
        -sp.Rational(1, 2),
        sp.log(2),  # d exp2, d log2, d log10
        1 / sp.log(2),
        sp.log(10),
        1 / sp.log(10),
    )
}


def _number(value: float | complex) -> sp.Expr:
    if isinstance(value, complex):  # a complex kernel's constant
        return _number(value.real) + sp.I * _number(value.imag)
    if value in _KNOWN:
        return _KNOWN[value]
    if math.isnan(value):
        return sp.nan
    if math.isinf(value):
        return sp.oo if value > 0 else -sp.oo
    if value == int(value) and abs(value) < 2**53:
        return sp.Integer(int(value))
    return sp.Float(repr(value), 17)


def _select(c: Any, a: sp.Expr, b: sp.Expr) -> sp.Expr:
    if c is sp.true:
        return a
    if c is sp.false:
        return b
    return sp.Piecewise((a, c), (b, True))


#: how each op is written in SymPy: the op table's first SymPy function (``INFO[op].sympy``),
#: and for the rest these
_BUILD: dict[Op, Callable[..., Any]] = {
    **{op: sympy_function(i.sympy[0]) for op, i in INFO.items() if i.sympy},
    **OPERATORS,
    Op.LGAMMA: lambda a: sp.log(sp.Abs(sp.gamma(a))),
    # derivative rules bring hypot in (d asinh, d atan2): shown as what SymPy simplifies
    Op.HYPOT: lambda a, b: sp.sqrt(a**2 + b**2),
    # SymPy has no signed zero: copysign(a, ±0) is shown as |a|
    Op.COPYSIGN: lambda a, b: sp.Piecewise((sp.Abs(a), b >= 0), (-sp.Abs(a), True)),
    Op.DIGAMMA: lambda a: sp.polygamma(0, a),
    Op.POLYGAMMA: sp.polygamma,
    Op.LT: lambda a, b: sp.Lt(a, b),
    Op.LE: lambda a, b: sp.Le(a, b),
    Op.EQ: lambda a, b: sp.Eq(a, b),
    Op.NE: lambda a, b: sp.Ne(a, b),
    Op.AND: sp.And,
    Op.OR: sp.Or,
    Op.NOT: sp.Not,
    Op.SELECT: _select,
}


def tape_to_sympy(
    tape: Tape, wrt: Sequence[sp.Symbol], params: Sequence[sp.Symbol]
) -> list[sp.Expr]:
    """The outputs of ``tape`` as SymPy expressions in the user's symbols.

    >>> from symjac.ir.graph import Graph
    >>> g = Graph(); x = sp.Symbol("x")
    >>> tape = Tape.from_graph(g, [g.mul(g.const(2.0), g.sin(g.var(0)))], 1, 0)
    >>> tape_to_sympy(tape, [x], [])
    [2*sin(x)]
    """
    values: list[Any] = []
    for op, args, attr in zip(tape.ops, tape.args, tape.attrs):
        if op is Op.CONST:
            values.append(_number(attr))  # type: ignore[arg-type]
        elif op is Op.VAR:
            values.append(wrt[int(attr)])  # type: ignore[call-overload]
        elif op is Op.PARAM:
            values.append(params[int(attr)])  # type: ignore[call-overload]
        elif op is Op.BOOL:
            values.append(sp.true if attr else sp.false)
        elif op is Op.POWI:
            values.append(values[args[0]] ** int(attr))  # type: ignore[call-overload]
        else:
            assert INFO[op].arity == len(args)
            values.append(_BUILD[op](*(values[a] for a in args)))
    return [values[r] for r in tape.outputs]
