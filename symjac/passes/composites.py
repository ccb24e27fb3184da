"""Expansion of composite functions (real log-gamma, digamma, polygamma) into primitive ops.

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
from collections.abc import Callable, Sequence
from fractions import Fraction

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


# B_2, B_4, ..., B_18: the asymptotic series of polygamma
_BERNOULLI = tuple(
    Fraction(p, q)
    for p, q in ((1, 6), (-1, 30), (1, 42), (-1, 30), (5, 66), (-691, 2730), (7, 6), (-3617, 510))
)
_B18 = Fraction(43867, 798)  # the first term left out: it sets the shift


def _polygamma_shift(n: int) -> int:
    """The smallest shift S >= 10 for which the series' first omitted term, at z >= S, is
    below 2^-56 of its leading term (n - 1)!/z^n: more for large n, whose terms grow faster."""
    k = len(_BERNOULLI) + 1
    omitted = abs(_B18) * math.factorial(2 * k + n - 1) / math.factorial(2 * k)
    shift = 10
    while omitted / shift ** (2 * k) > math.factorial(n - 1) * 2.0**-56:
        shift += 1
    return shift


def _cot_derivative(n: int) -> list[int]:
    """Coefficients (constant first) of P_n with d^n/dx^n cot(x) = P_n(cot x):
    P_0 = c, P_(k+1) = -(1 + c²) P_k'(c)."""
    p = [0, 1]
    for _ in range(n):
        dp = [i * a for i, a in enumerate(p)][1:] or [0]
        nxt = [0] * (len(dp) + 2)
        for i, a in enumerate(dp):
            nxt[i] -= a
            nxt[i + 2] -= a
        p = nxt
    return p


def _horner(g: Graph, coefs: Sequence[float], t: int) -> int:
    """sum(coefs[i] * t**i) by Horner's scheme."""
    acc = g.const(coefs[-1])
    for coef in reversed(coefs[:-1]):
        acc = g.add(g.const(coef), g.mul(t, acc))
    return acc


def _cot_pi(g: Graph, x: int) -> int:
    """cot(πx) to a few ulp even where it is near 0: π·0.5 is not π/2 in doubles (cot would
    be 6e-17, not 0), so the middle of the period uses tan(π(1/2 - t)), with t = x - floor(x);
    1/2 - t and t - 1 are exact (Sterbenz)."""
    c = g.const
    t = g.sub(x, g.call(Op.FLOOR, x))
    middle = g.call(Op.LT, g.call(Op.ABS, g.sub(t, c(0.5))), c(0.25))
    near = g.select(g.call(Op.LT, c(0.5), t), g.sub(t, c(1.0)), t)  # within 1/4 of an integer
    inverse = g.div(c(1.0), g.call(Op.TAN, g.mul(c(math.pi), near)))
    return g.select(middle, g.call(Op.TAN, g.mul(c(math.pi), g.sub(c(0.5), t))), inverse)


def _polygamma(g: Graph, order: int, x: int) -> int:
    """ψ⁽ⁿ⁾(x) for n >= 1: a shift by S, the asymptotic series, reflection for x < 0.

    For y >= 0: ψ⁽ⁿ⁾(y) = (-1)^(n+1) [n! Σ_{k<S} (y+k)^-(n+1) + z^-n ((n-1)! + n!/(2z)
    + Σ_k B_2k (2k+n-1)!/(2k)! z^-2k)] with z = y + S; for x < 0,
    ψ⁽ⁿ⁾(x) = (-1)^n ψ⁽ⁿ⁾(1 - x) - π^(n+1) P_n(cot πx). NaN at the poles 0, -1, -2, ...;
    checked against mpmath in the tests.
    """
    c = g.const
    if not g.is_const(order) or not g.value(order).is_integer() or g.value(order) < 1:
        raise ValueError("polygamma's order must be a constant integer >= 1")
    n = int(g.value(order))
    shift = _polygamma_shift(n)
    reflect = g.call(Op.LT, x, c(0.0))
    y = g.select(reflect, g.sub(c(1.0), x), x)
    z = g.add(y, c(float(shift)))
    w = g.div(c(1.0), g.sq(z))
    terms = [
        float(b * math.factorial(2 * k + n - 1) / math.factorial(2 * k))
        for k, b in enumerate(_BERNOULLI, start=1)
    ]
    series = g.mul(w, _horner(g, terms, w))
    head = g.add(c(float(math.factorial(n - 1))), g.div(c(math.factorial(n) / 2), z))
    asymptotic = g.div(g.add(head, series), g.powi(z, n))
    shifted = g.sum([g.div(c(1.0), g.powi(g.add(y, c(float(k))), n + 1)) for k in range(shift)])
    inner = g.add(g.mul(c(float(math.factorial(n))), shifted), asymptotic)
    psi_y = inner if n % 2 else g.neg(inner)
    cot = _cot_pi(g, x)
    p_n = _horner(g, [float(a) for a in _cot_derivative(n)], cot)
    mirrored = g.sub(psi_y if n % 2 == 0 else g.neg(psi_y), g.mul(c(math.pi ** (n + 1)), p_n))
    value = g.select(reflect, mirrored, psi_y)
    pole = g.call(Op.AND, g.call(Op.LE, x, c(0.0)), g.call(Op.EQ, g.call(Op.FLOOR, x), x))
    return g.select(pole, g.nan(), value)


_EXPANSIONS: dict[Op, Callable[..., int]] = {
    Op.DIGAMMA: _digamma,
    Op.LOGGAMMA: _loggamma,
    Op.ACOT: _acot,
    Op.POLYGAMMA: _polygamma,
}


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
            new[node] = _EXPANSIONS[op](g, *args)
        elif args == g.args[node]:
            new[node] = node
        else:
            new[node] = g.make(op, args, g.attrs[node])
    return [new[r] for r in roots]
