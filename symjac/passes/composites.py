"""Expansion of composite functions (real log-gamma, digamma) into primitive ops.

C's math library has no digamma, and its ``lgamma`` is ``log|Γ(x)|`` rather
than the real branch of ``log Γ(x)``. This pass rewrites both into branch-free
primitive ops (selects rather than branches), so every back end — the JIT and
the C emitter alike — gets them without special code, and the result stays
vectorisable.

Before: the cone of ``roots`` may contain ``LOGGAMMA`` and ``DIGAMMA``.
After: it contains neither; every other node is unchanged (the same ids).
"""

from __future__ import annotations

import math
from collections.abc import Sequence

from symjac.ir.graph import Graph
from symjac.ir.ops import COMPOSITE, Op

# B_2k / (2k) for k = 1..7: the asymptotic series of digamma
_DIGAMMA_SERIES = (
    1.0 / 12.0,
    -1.0 / 120.0,
    1.0 / 252.0,
    -1.0 / 240.0,
    1.0 / 132.0,
    -691.0 / 32760.0,
    1.0 / 12.0,
)
_SHIFT = 10  # psi(y) = psi(y + 10) - sum 1/(y + k): the series is accurate to ~1e-17 for z >= 10


def _digamma(g: Graph, x: int) -> int:
    """ψ(x) by reflection (x < 1/2), a shift by 10 and the asymptotic series.

    Absolute error ~1e-15 near ψ's root (1.4616...), relative ~1e-15 elsewhere;
    NaN at the poles (0, -1, -2, ...). Checked against mpmath in the tests.
    """
    c = g.const
    reflect = g.call(Op.LT, x, c(0.5))
    y = g.select(reflect, g.sub(c(1.0), x), x)
    z = g.add(y, c(float(_SHIFT)))
    w = g.div(c(1.0), g.sq(z))
    series = c(_DIGAMMA_SERIES[-1])
    for coef in reversed(_DIGAMMA_SERIES[:-1]):
        series = g.add(c(coef), g.mul(w, series))
    psi_z = g.sub(
        g.sub(g.call(Op.LOG, z), g.div(c(0.5), z)),
        g.mul(w, series),
    )
    shift_sum = g.sum([g.div(c(1.0), g.add(y, c(float(k)))) for k in range(_SHIFT)])
    psi_y = g.sub(psi_z, shift_sum)
    # reflection: psi(x) = psi(1 - x) - pi / tan(pi x); tan has period pi, so use the
    # exact fractional part of x to keep pi*x small and accurate
    frac = g.sub(x, g.call(Op.FLOOR, x))
    cot_term = g.div(c(math.pi), g.call(Op.TAN, g.mul(c(math.pi), frac)))
    value = g.select(reflect, g.sub(psi_y, cot_term), psi_y)
    pole = g.call(Op.AND, g.call(Op.LE, x, c(0.0)), g.call(Op.EQ, g.call(Op.FLOOR, x), x))
    return g.select(pole, g.nan(), value)


def _loggamma(g: Graph, x: int) -> int:
    """Real log Γ(x): ``lgamma`` where Γ(x) > 0 or at a pole (+inf), NaN where Γ(x) < 0."""
    c = g.const
    fl = g.call(Op.FLOOR, x)
    even_floor = g.call(Op.EQ, g.mul(c(2.0), g.call(Op.FLOOR, g.mul(x, c(0.5)))), fl)
    positive = g.call(
        Op.OR, g.call(Op.LT, c(0.0), x), g.call(Op.OR, even_floor, g.call(Op.EQ, fl, x))
    )
    return g.select(positive, g.call(Op.LGAMMA, x), g.nan())


def _acot(g: Graph, x: int) -> int:
    """SymPy's acot on the reals: atan(1/x), with acot(0) = pi/2 (also for -0)."""
    at_zero = g.call(Op.EQ, x, g.const(0.0))
    return g.select(at_zero, g.const(math.pi / 2), g.call(Op.ATAN, g.div(g.const(1.0), x)))


_EXPANSIONS = {Op.DIGAMMA: _digamma, Op.LOGGAMMA: _loggamma, Op.ACOT: _acot}


def expand_composites(g: Graph, roots: Sequence[int]) -> list[int]:
    """Rewrite the cone of ``roots`` without composite ops; returns the new roots.

    >>> g = Graph(); x = g.var(0)
    >>> (r,) = expand_composites(g, [g.call(Op.DIGAMMA, x)])
    >>> any(g.ops[n] in COMPOSITE for n in g.cone([r]))
    False
    """
    order = g.cone(roots)
    if not any(g.ops[n] in COMPOSITE for n in order):
        return list(roots)
    new: dict[int, int] = {}
    for node in order:
        op = g.ops[node]
        args = tuple(new[a] for a in g.args[node])
        if op in COMPOSITE:
            new[node] = _EXPANSIONS[op](g, args[0])
        elif args == g.args[node]:
            new[node] = node
        else:
            new[node] = g.make(op, args, g.attrs[node])
    return [new[r] for r in roots]
