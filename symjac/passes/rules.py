"""Cheap rewrite rules applied while nodes are built.

Every rule keeps the IEEE value for every input, so none of them needs a
guard: ``x*1 → x`` and ``x-0 → x`` are exact, but ``x*0 → 0`` is not (it is
NaN for infinite x) and is therefore absent. The single exception is
``x+0 → x``, which may turn ``-0.0 + 0.0 = +0.0`` into ``-0.0``; SymPy drops
``+ 0`` the same way, and the two zeros compare equal.

A rule is a function ``(graph, args, attr) -> node | None``; ``None`` means
"no rewrite, intern the node as asked". Rules are collected per op in
:data:`RULES`, so each can be tested on its own.
"""

from __future__ import annotations

import math
from collections.abc import Callable
from typing import TYPE_CHECKING

from symjac.ir import scalar
from symjac.ir.ops import COMPOSITE, INFO, Op

if TYPE_CHECKING:
    from symjac.ir.graph import Graph

Rule = Callable[["Graph", tuple[int, ...], object], "int | None"]


def fold_constants(g: Graph, op: Op, args: tuple[int, ...], attr: object) -> int | None:
    """Evaluate ``op`` when all its arguments are constants (with the kernel's own libm).

    >>> from symjac.ir.graph import Graph
    >>> g = Graph(); two, x = g.const(2.0), g.var(0)
    >>> g.value(fold_constants(g, Op.SQRT, (two,), None)) == 2.0**0.5
    True
    >>> g.value(fold_constants(g, Op.POWI, (two,), 3))
    8.0
    >>> fold_constants(g, Op.MUL, (two, x), None) is None  # x is not a constant
    True
    """
    ops = g.ops
    for a in args:
        if ops[a] is not Op.CONST and ops[a] is not Op.BOOL:
            return None
    if not args:
        return None
    if op in COMPOSITE:
        return None  # composites: expanded later, folded then
    values = [g.attrs[a] for a in args]
    if op is Op.SELECT:
        return args[1] if values[0] else args[2]
    value = scalar.apply(op, values, attr)
    return g.boolean(value) if INFO[op].result == "bool" else g.const(value)  # type: ignore[arg-type]


def _add(g: Graph, args: tuple[int, ...], attr: object) -> int | None:
    a, b = args
    if g.is_const(b, 0.0):
        return a
    if g.is_const(a, 0.0):
        return b
    if g.ops[b] is Op.NEG:
        return g.sub(a, g.args[b][0])
    if g.ops[a] is Op.NEG:
        return g.sub(b, g.args[a][0])
    return None


def _sub(g: Graph, args: tuple[int, ...], attr: object) -> int | None:
    a, b = args
    if g.is_const(b, 0.0) and math.copysign(1.0, g.value(b)) > 0:
        return a  # x - (+0) == x exactly; x - (-0) is x + 0, which turns -0 into +0
    if g.is_const(a, 0.0) and math.copysign(1.0, g.value(a)) < 0:
        return g.neg(b)  # -0 - b == -b exactly
    if g.ops[b] is Op.NEG:
        return g.add(a, g.args[b][0])
    return None


def _mul(g: Graph, args: tuple[int, ...], attr: object) -> int | None:
    a, b = args
    for c, x in ((a, b), (b, a)):
        if g.is_const(c, 1.0):
            return x
        if g.is_const(c, -1.0):
            return g.neg(x)
        if g.is_const(c) and g.ops[x] is Op.NEG:
            return g.mul(g.const(-g.value(c)), g.args[x][0])
    if g.ops[a] is Op.NEG and g.ops[b] is Op.NEG:
        return g.mul(g.args[a][0], g.args[b][0])
    return None


def _div(g: Graph, args: tuple[int, ...], attr: object) -> int | None:
    a, b = args
    if g.is_const(b, 1.0):
        return a
    if g.is_const(b, -1.0):
        return g.neg(a)
    return None


def _neg(g: Graph, args: tuple[int, ...], attr: object) -> int | None:
    (a,) = args
    if g.ops[a] is Op.NEG:
        return g.args[a][0]
    return None


def _powi(g: Graph, args: tuple[int, ...], attr: object) -> int | None:
    (a,) = args
    if attr == 1:
        return a
    if attr == 0:
        return g.const(1.0)  # IEEE pow(x, 0) is 1 even for NaN, as in SymPy
    if attr == -1:
        return g.div(g.const(1.0), a)  # one correctly rounded division
    return None


def _select(g: Graph, args: tuple[int, ...], attr: object) -> int | None:
    c, a, b = args
    if a == b:
        return a
    if g.ops[c] is Op.BOOL:
        return a if g.attrs[c] else b
    if g.ops[c] is Op.NOT:
        return g.select(g.args[c][0], b, a)
    return None


def _not(g: Graph, args: tuple[int, ...], attr: object) -> int | None:
    (c,) = args
    return g.args[c][0] if g.ops[c] is Op.NOT else None


RULES: dict[Op, Rule] = {
    Op.ADD: _add,
    Op.SUB: _sub,
    Op.MUL: _mul,
    Op.DIV: _div,
    Op.NEG: _neg,
    Op.POWI: _powi,
    Op.SELECT: _select,
    Op.NOT: _not,
}


def rewrite(g: Graph, op: Op, args: tuple[int, ...], attr: object) -> int | None:
    """Apply constant folding, then the rule for ``op``; ``None`` if nothing applies.

    >>> from symjac.ir.graph import Graph
    >>> g = Graph(); x, one = g.var(0), g.const(1.0)
    >>> rewrite(g, Op.MUL, (x, one), None) == x  # x*1 -> x
    True
    >>> g.value(rewrite(g, Op.ADD, (one, one), None))  # folded
    2.0
    >>> rewrite(g, Op.MUL, (x, x), None) is None  # nothing applies
    True
    """
    node = fold_constants(g, op, args, attr)
    if node is not None:
        return node
    rule = RULES.get(op)
    return rule(g, args, attr) if rule is not None else None
