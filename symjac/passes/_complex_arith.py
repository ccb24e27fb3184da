"""Complex arithmetic in real ops: the values and arithmetic of :mod:`symjac.passes.complexify`.

A complex value is a pair of real graph nodes :class:`Cx` ``(re, im)``; ``im`` is
None for a *real operand* (a real constant of the complex tape), which C99 Annex G
(G.5.1) combines with a complex one componentwise: ``2*z`` is ``(2x, 2y)`` and
``c + z`` is ``(c + x, y)`` — no ``0*inf`` NaN, no recovery code.

Complex × complex is the textbook formula plus the recovery of C's ``__muldc3``
where both parts come out NaN; complex / complex is Smith's algorithm with the
scaling and subnormal-ratio branch of GCC's ``__divdc3`` and its recovery of
infinities and zeros. Every branch is a select, so the code stays vectorisable.
"""

from __future__ import annotations

import math
from typing import NamedTuple

from symjac.ir.graph import Graph
from symjac.ir.ops import Op, powi_chain

INF = math.inf
_DBL_MAX = 1.7976931348623157e308
_DBL_MIN = 2.2250738585072014e-308
_EPS = 2.220446049250313e-16
# __divdc3's thresholds (libgcc2.c): scale away overflow of the denominator and loss of
# accuracy to underflow in the quotients
_RBIG = _DBL_MAX / 2
_RMIN2 = _EPS
_RMINSCAL = 1 / _EPS
_RMAX2 = _RBIG * _RMIN2


class Cx(NamedTuple):
    """A complex value as real nodes; ``im`` None: a real operand (Annex G G.5.1)."""

    re: int
    im: int | None


class Real:
    """Real ops on a :class:`Graph`, with truth values folded where they are constants.

    >>> g = Graph(); r = Real(g); x = g.var(0)
    >>> r.sel(r.and_(r.isnan(x), g.boolean(False)), x, r.k(1.0)) == r.k(1.0)
    True
    """

    def __init__(self, g: Graph, recover: bool = True) -> None:
        self.g = g
        #: whether complex × and ÷ recover infinities where both parts come out NaN
        #: (Annex G); without, they are __muldc3's and __divdc3's first steps only
        self.recover = recover

    def k(self, value: float) -> int:
        return self.g.const(value)

    def add(self, a: int, b: int) -> int:
        return self.g.make(Op.ADD, (a, b))

    def sub(self, a: int, b: int) -> int:
        return self.g.make(Op.SUB, (a, b))

    def mul(self, a: int, b: int) -> int:
        return self.g.make(Op.MUL, (a, b))

    def div(self, a: int, b: int) -> int:
        return self.g.make(Op.DIV, (a, b))

    def neg(self, a: int) -> int:
        return self.g.make(Op.NEG, (a,))

    def f(self, op: Op, *args: int) -> int:
        return self.g.make(op, args)

    def abs(self, a: int) -> int:
        return self.g.make(Op.ABS, (a,))

    def copysign(self, a: int, b: int) -> int:
        return self.g.make(Op.COPYSIGN, (a, b))

    def lt(self, a: int, b: int) -> int:
        return self.g.make(Op.LT, (a, b))

    def le(self, a: int, b: int) -> int:
        return self.g.make(Op.LE, (a, b))

    def eq(self, a: int, b: int) -> int:
        return self.g.make(Op.EQ, (a, b))

    def _known(self, p: int) -> bool | None:
        return bool(self.g.attrs[p]) if self.g.ops[p] is Op.BOOL else None

    def and_(self, p: int, q: int) -> int:
        for a, b in ((p, q), (q, p)):
            known = self._known(a)
            if known is not None:
                return b if known else a
        return self.g.make(Op.AND, (p, q))

    def or_(self, p: int, q: int) -> int:
        for a, b in ((p, q), (q, p)):
            known = self._known(a)
            if known is not None:
                return a if known else b
        return self.g.make(Op.OR, (p, q))

    def any(self, *ps: int) -> int:
        out = ps[0]
        for p in ps[1:]:
            out = self.or_(out, p)
        return out

    def not_(self, p: int) -> int:
        return self.g.make(Op.NOT, (p,))

    def sel(self, c: int, a: int, b: int) -> int:
        known = self._known(c)
        if known is not None:
            return a if known else b
        return a if a == b else self.g.select(c, a, b)

    def nan(self) -> int:
        return self.g.nan()

    def isnan(self, a: int) -> int:
        return self.g.make(Op.NE, (a, a))  # true only for NaN

    def isinf(self, a: int) -> int:
        return self.eq(self.abs(a), self.k(INF))

    def finite(self, a: int) -> int:
        return self.lt(self.abs(a), self.k(INF))  # false for NaN


def promote(r: Real, z: Cx) -> tuple[int, int]:
    """A real operand as a complex number: ``c + 0i`` (C converts a real argument so)."""
    return z.re, r.k(0.0) if z.im is None else z.im


def add(r: Real, a: Cx, b: Cx) -> Cx:
    """``a + b``; a real operand adds to the real part only."""
    im = b.im if a.im is None else a.im if b.im is None else r.add(a.im, b.im)
    return Cx(r.add(a.re, b.re), im)


def sub(r: Real, a: Cx, b: Cx) -> Cx:
    """``a - b``; ``c - z`` is ``(c - x, -y)``."""
    if b.im is None:
        im = a.im
    else:
        im = r.neg(b.im) if a.im is None else r.sub(a.im, b.im)
    return Cx(r.sub(a.re, b.re), im)


def neg(r: Real, a: Cx) -> Cx:
    return Cx(r.neg(a.re), None if a.im is None else r.neg(a.im))


def _box(r: Real, v: int) -> int:
    """__muldc3's ``copysign(isinf(v) ? 1 : 0, v)``."""
    return r.copysign(r.sel(r.isinf(v), r.k(1.0), r.k(0.0)), v)


def _unnan(r: Real, v: int) -> int:
    """__muldc3's ``isnan(v) ? copysign(0, v) : v``."""
    return r.sel(r.isnan(v), r.copysign(r.k(0.0), v), v)


def mul(r: Real, a: Cx, b: Cx) -> Cx:
    """``a * b``: componentwise by a real operand, else the textbook formula and, where
    both parts are NaN, __muldc3's recovery of infinities (Annex G G.5.1)."""
    if a.im is None or b.im is None:
        real, z = (a, b) if a.im is None else (b, a)
        return Cx(r.mul(real.re, z.re), None if z.im is None else r.mul(real.re, z.im))
    x1, y1, x2, y2 = a.re, a.im, b.re, b.im
    ac, bd, ad, bc = r.mul(x1, x2), r.mul(y1, y2), r.mul(x1, y2), r.mul(y1, x2)
    re, im = r.sub(ac, bd), r.add(ad, bc)
    if not r.recover:
        return Cx(re, im)
    inf_a = r.or_(r.isinf(x1), r.isinf(y1))
    inf_b = r.or_(r.isinf(x2), r.isinf(y2))
    overflow = r.any(r.isinf(ac), r.isinf(bd), r.isinf(ad), r.isinf(bc))
    recalc = r.any(inf_a, inf_b, overflow)
    # an infinite operand becomes its unit box (±1 or ±0 per part), NaNs elsewhere ±0;
    # with neither operand infinite (overflow) only the NaNs change
    p, q = (r.sel(inf_a, _box(r, v), _unnan(r, v)) for v in (x1, y1))
    s, t = (r.sel(inf_b, _box(r, v), _unnan(r, v)) for v in (x2, y2))
    inf = r.k(INF)
    re2 = r.mul(inf, r.sub(r.mul(p, s), r.mul(q, t)))
    im2 = r.mul(inf, r.add(r.mul(p, t), r.mul(q, s)))
    redo = r.and_(r.and_(r.isnan(re), r.isnan(im)), recalc)
    return Cx(r.sel(redo, re2, re), r.sel(redo, im2, im))


def div(r: Real, a: Cx, b: Cx) -> Cx:
    """``a / b``: componentwise by a real divisor, else Smith's algorithm with the scaling
    and the subnormal-ratio branch of GCC's __divdc3, and its Annex G recovery."""
    if b.im is None:
        return Cx(r.div(a.re, b.re), None if a.im is None else r.div(a.im, b.re))
    x, y = promote(r, a)
    c, d = b.re, b.im
    ax, ay, ac, ad = r.abs(x), r.abs(y), r.abs(c), r.abs(d)
    swap = r.lt(ac, ad)  # |c| < |d|: divide through by d
    ap = r.sel(swap, ad, ac)  # |p|, p the larger part of the divisor
    # scale numerator and divisor by a power of two (exact): halve near overflow, and
    # scale up a tiny divisor or a tiny numerator part (__divdc3's conditions)
    kmax2 = r.k(_RMAX2)
    tiny_a = r.and_(r.lt(ax, r.k(_DBL_MIN)), r.lt(ay, kmax2))
    tiny_b = r.and_(r.lt(ay, r.k(_DBL_MIN)), r.lt(ax, kmax2))
    up = r.or_(r.lt(ap, r.k(_RMIN2)), r.and_(r.lt(ap, kmax2), r.or_(tiny_a, tiny_b)))
    scale = r.sel(r.le(r.k(_RBIG), ap), r.k(0.5), r.sel(up, r.k(_RMINSCAL), r.k(1.0)))
    x, y, c, d = (r.mul(v, scale) for v in (x, y, c, d))
    p, q = r.sel(swap, d, c), r.sel(swap, c, d)
    ratio = r.div(q, p)
    denom = r.add(r.mul(q, ratio), p)
    # x·ratio loses accuracy when the ratio is subnormal: q·(x/p) instead
    normal = r.lt(r.k(_DBL_MIN), r.abs(ratio))
    xr = r.sel(normal, r.mul(x, ratio), r.mul(q, r.div(x, p)))
    yr = r.sel(normal, r.mul(y, ratio), r.mul(q, r.div(y, p)))
    # |c| >= |d|: ((y·r + x) + i(y - x·r))/denom;  |c| < |d|: ((x·r + y) + i(y·r - x))/denom
    re = r.div(r.add(r.sel(swap, xr, yr), r.sel(swap, y, x)), denom)
    im = r.div(r.sub(r.sel(swap, yr, y), r.sel(swap, x, xr)), denom)
    if not r.recover:
        return Cx(re, im)
    return Cx(*_div_recovery(r, (x, y, c, d), re, im))


def _div_recovery(r: Real, xycd: tuple[int, ...], re: int, im: int) -> tuple[int, int]:
    """__divdc3's recovery where both parts are NaN: a nonzero over zero is infinite, an
    infinite over a finite infinite, a finite over an infinite zero (Annex G G.5.1).
    Its tests see the scaled operands, as __divdc3's do: a part that overflowed when
    scaled up counts as infinite."""
    x, y, c, d = xycd
    zero, inf = r.k(0.0), r.k(INF)
    nan_both = r.and_(r.isnan(re), r.isnan(im))
    # 1. divisor zero, dividend not NaN+iNaN: copysign(inf, c)·(x + iy)
    by_zero = r.and_(r.and_(r.eq(c, zero), r.eq(d, zero)), r.not_(r.and_(r.isnan(x), r.isnan(y))))
    sinf = r.copysign(inf, c)
    re1, im1 = r.mul(sinf, x), r.mul(sinf, y)
    # 2. infinite dividend, finite divisor
    inf_a = r.and_(r.or_(r.isinf(x), r.isinf(y)), r.and_(r.finite(c), r.finite(d)))
    bx, by = _box(r, x), _box(r, y)
    re2 = r.mul(inf, r.add(r.mul(bx, c), r.mul(by, d)))
    im2 = r.mul(inf, r.sub(r.mul(by, c), r.mul(bx, d)))
    # 3. finite dividend, infinite divisor
    inf_b = r.and_(r.or_(r.isinf(c), r.isinf(d)), r.and_(r.finite(x), r.finite(y)))
    bc, bd = _box(r, c), _box(r, d)
    re3 = r.mul(zero, r.add(r.mul(x, bc), r.mul(y, bd)))
    im3 = r.mul(zero, r.sub(r.mul(y, bc), r.mul(x, bd)))
    for cond, fix_re, fix_im in ((inf_b, re3, im3), (inf_a, re2, im2), (by_zero, re1, im1)):
        hit = r.and_(nan_both, cond)
        # the last fix applied wins: __divdc3 tests the cases in the order 1, 2, 3
        re, im = r.sel(hit, fix_re, re), r.sel(hit, fix_im, im)
    return re, im


def powi(r: Real, z: Cx, n: int) -> Cx:
    """``z**n`` by :func:`symjac.ir.ops.powi_chain` with complex multiplies; n < 0 is the
    reciprocal of ``z**-n`` (a complex division), ``z**0`` is 1."""
    chain = powi_chain(n)
    if chain.result is None:
        return Cx(r.k(1.0), None)
    values = [z]
    for i, j in chain.steps:
        values.append(mul(r, values[i], values[j]))
    result = values[chain.result]
    return div(r, Cx(r.k(1.0), None), result) if chain.reciprocal else result
