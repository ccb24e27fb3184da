"""Complex elementary functions in real ops, for :mod:`symjac.passes.complexify`.

Each function takes the real nodes ``(x, y)`` of ``z = x + iy`` and returns those of
its value on the principal branch. The formulas are the numerically careful ones
(Kahan, "Branch cuts for complex elementary functions", 1987, for sqrt, tanh and the
inverse functions); the special values of C99 Annex G (G.6) — signed zeros choosing the
side of a branch cut, infinities, NaN — come from the formulas themselves where IEEE
arithmetic gives them, and from a few selects where it does not. Nothing branches.

The trigonometric functions are the hyperbolic ones rotated, as Annex G defines them:
``sin z = -i sinh(iz)``, ``cos z = cosh(iz)``, ``tan z = -i tanh(iz)``, and likewise
``asin``, ``atan`` from ``asinh``, ``atanh``.
"""

from __future__ import annotations

import decimal
import math
from collections.abc import Callable

from symjac.ir.ops import Op
from symjac.passes._complex_arith import INF, Real

Pair = tuple[int, int]
LN2 = math.log(2.0)
with decimal.localcontext(decimal.Context(prec=50)):
    _LN2_LO = float(decimal.Decimal(2).ln() - decimal.Decimal(LN2))  # ln 2 - LN2
_BIG_SQRT = 2.0**1021  # |x| + hypot(x, y) may overflow above this
_TINY_SQRT = 2.0**-1020  # (|x| + hypot(x, y))/2 is subnormal below this
_BIG_INVERSE = 2.0**28  # asinh z = log 2z + O(1/z²): exact in doubles above this


def sqrt(r: Real, x: int, y: int) -> Pair:
    """Kahan's csqrt: ``t = sqrt((|x| + |z|)/2)``, ``(t, y/2t)`` for x >= 0, else
    ``(|y|/2t, copysign(t, y))``; scaled by 4^k near overflow and underflow."""
    ax, ay = r.abs(x), r.abs(y)
    m = r.f(Op.MAX, ax, ay)
    big, tiny = r.lt(r.k(_BIG_SQRT), m), r.lt(m, r.k(_TINY_SQRT))
    s = r.sel(big, r.k(0.25), r.sel(tiny, r.k(2.0**54), r.k(1.0)))
    back = r.sel(big, r.k(2.0), r.sel(tiny, r.k(2.0**-27), r.k(1.0)))  # 1/sqrt(s)
    xs, ys = r.mul(x, s), r.mul(y, s)
    t = r.f(Op.SQRT, r.mul(r.add(r.abs(xs), r.f(Op.HYPOT, xs, ys)), r.k(0.5)))
    q = r.div(ys, r.add(t, t))
    right = r.le(r.k(0.0), x)  # false for NaN: then both parts are NaN either way
    re = r.mul(r.sel(right, t, r.abs(q)), back)
    im = r.mul(r.sel(right, q, r.copysign(t, ys)), back)
    # Annex G: sqrt(x ± i∞) = +∞ ± i∞ for every x, NaN included; sqrt(±0 ± i0) = +0 ± i0
    y_inf = r.isinf(y)
    re = r.sel(y_inf, r.k(INF), re)
    im = r.sel(r.or_(y_inf, r.eq(t, r.k(0.0))), y, im)
    return re, im


def _cis_scaled(r: Real, x: int, y: int, base2: bool) -> Pair:
    """``e^x (cos y + i sin y)`` (``2^x (cos y ln2 + i sin y ln2)`` for ``base2``), with
    exp(x) split where it alone would overflow: ``exp(x - s)·(cos y)·exp(s)``."""
    if base2:
        big, shift, scale = r.lt(r.k(1020.0), x), 1000.0, 2.0**1000
        e_op = Op.EXP2
    else:
        big, shift, scale = r.lt(r.k(700.0), x), 690.0, math.exp(690.0)
        e_op = Op.EXP
    e = r.f(e_op, r.sel(big, r.sub(x, r.k(shift)), x))  # exact: Sterbenz
    m = r.sel(big, r.k(scale), r.k(1.0))
    c, s = _cos_sin_ln2(r, y) if base2 else (r.f(Op.COS, y), r.f(Op.SIN, y))
    re, im = r.mul(r.mul(e, c), m), r.mul(r.mul(e, s), m)
    # Annex G: exp(x ± i0) = e^x ± i0 for every x; exp(-∞ + iy) = +0·cis y, ±0 for y ∞/NaN;
    # exp(+∞ + iy) = ±∞ + iNaN for y ∞/NaN
    minus_inf, y_finite = r.eq(x, r.k(-INF)), r.finite(y)
    re = r.sel(minus_inf, r.copysign(r.k(0.0), r.sel(y_finite, c, r.k(1.0))), re)
    im = r.sel(minus_inf, r.copysign(r.k(0.0), r.sel(y_finite, s, y)), im)
    re = r.sel(r.and_(r.eq(x, r.k(INF)), r.not_(y_finite)), x, re)
    return re, r.sel(r.eq(y, r.k(0.0)), y, im)


def _cos_sin_ln2(r: Real, y: int) -> Pair:
    """cos and sin of y·ln 2 without the rounding of y·ln 2 (a large error for large y):
    θ = p + e exactly (Dekker's product of y and ln 2's two leading doubles), then
    cos θ ≈ cos p - e sin p, sin θ ≈ sin p + e cos p."""
    hi, lo = LN2, _LN2_LO
    split = 2.0**27 + 1.0
    hh = hi * split - (hi * split - hi)  # Veltkamp: hi = hh + hl, each 26 bits
    hl = hi - hh
    gamma = r.mul(y, r.k(split))
    yh = r.sub(gamma, r.sub(gamma, y))
    yl = r.sub(y, yh)
    p = r.mul(y, r.k(hi))
    err = r.add(
        r.add(r.add(r.sub(r.mul(yh, r.k(hh)), p), r.mul(yh, r.k(hl))), r.mul(yl, r.k(hh))),
        r.mul(yl, r.k(hl)),
    )
    e = r.add(err, r.mul(y, r.k(lo)))
    e = r.sel(r.lt(r.abs(y), r.k(2.0**995)), e, r.k(0.0))  # y·split overflows above
    cp, sp = r.f(Op.COS, p), r.f(Op.SIN, p)
    return r.sub(cp, r.mul(e, sp)), r.add(sp, r.mul(e, cp))


def exp(r: Real, x: int, y: int) -> Pair:
    """cexp: ``e^x (cos y + i sin y)`` with Annex G's special values."""
    return _cis_scaled(r, x, y, base2=False)


def exp2(r: Real, x: int, y: int) -> Pair:
    """``2^z = exp(z ln 2)``, special values as cexp's."""
    return _cis_scaled(r, x, y, base2=True)


def _split(r: Real, v: int) -> Pair:
    """Veltkamp: v = hi + lo with 26 and 27 significant bits, so their products are exact."""
    gamma = r.mul(v, r.k(2.0**27 + 1.0))
    hi = r.sub(gamma, r.sub(gamma, v))
    return hi, r.sub(v, hi)


def _x2y2m1(r: Real, big: int, small: int) -> int:
    """x² + y² - 1 from exact partial products (Dekker), for 1/2 <= |z| <= 2: the leading
    terms M_hi² - 1 and m_hi² cancel exactly near |z| = 1; the error is 2^-80 absolute."""
    (bh, bl), (sh, sl) = _split(r, big), _split(r, small)
    lead = r.add(r.sub(r.mul(bh, bh), r.k(1.0)), r.mul(sh, sh))
    mid = r.add(r.mul(r.add(bh, bh), bl), r.mul(r.add(sh, sh), sl))
    return r.add(lead, r.add(mid, r.add(r.mul(bl, bl), r.mul(sl, sl))))


def log(r: Real, x: int, y: int) -> Pair:
    """clog: ``log|z| + i atan2(y, x)``; for 1/2 <= |z| <= 2 the real part is
    ``log1p(x² + y² - 1)/2`` with x² + y² - 1 computed exactly enough to keep its
    accuracy as |z| → 1 (:func:`_x2y2m1`)."""
    ax, ay = r.abs(x), r.abs(y)
    big, small = r.f(Op.MAX, ax, ay), r.f(Op.MIN, ax, ay)
    # |z| by a power of two where hypot would overflow or round a subnormal
    huge, tiny = r.lt(r.k(2.0**1020), big), r.lt(big, r.k(2.0**-1000))
    s = r.sel(huge, r.k(0.5), r.sel(tiny, r.k(2.0**54), r.k(1.0)))
    h = r.f(Op.HYPOT, r.mul(x, s), r.mul(y, s))
    log_s = r.sel(huge, r.k(LN2), r.sel(tiny, r.k(-54 * LN2), r.k(0.0)))
    near = r.and_(r.le(r.k(0.5), h), r.le(h, r.k(2.0)))
    d = _x2y2m1(r, big, small)
    # log h is never -0, so adding log_s = +0 changes nothing
    re = r.sel(near, r.mul(r.k(0.5), r.f(Op.LOG1P, d)), r.add(r.f(Op.LOG, h), log_s))
    return re, r.f(Op.ATAN2, y, x)


def _scaled(factor: float, fn: Callable[[Real, int, int], Pair]) -> Callable[..., Pair]:
    def scaled(r: Real, x: int, y: int) -> Pair:
        re, im = fn(r, x, y)
        return r.mul(re, r.k(factor)), r.mul(im, r.k(factor))

    scaled.__doc__ = f"{fn.__name__}(z) times {factor!r}"
    return scaled


log2 = _scaled(1 / LN2, log)
log10 = _scaled(1 / math.log(10.0), log)


def _sinh_cosh(r: Real, x: int) -> tuple[int, int, int]:
    """sinh x, cosh x and a factor m: the true values are ``sinh·m``, ``cosh·m``, so that
    ``cosh(x)·cos(y)`` stays finite where cosh x alone overflows (|x| > 710)."""
    big = r.lt(r.k(700.0), r.abs(x))
    xr = r.sel(big, r.sub(x, r.copysign(r.k(690.0), x)), x)  # |xr| >= 10: e^-|xr| negligible
    m = r.sel(big, r.k(math.exp(690.0)), r.k(1.0))
    return r.f(Op.SINH, xr), r.f(Op.COSH, xr), m


def sinh(r: Real, x: int, y: int) -> Pair:
    """csinh: ``sinh x cos y + i cosh x sin y``; Annex G: ``sinh(±0 + i∞/NaN) = ±0 + iNaN``,
    ``sinh(±∞ + i∞/NaN) = +∞ + iNaN`` (the sign is unspecified; glibc's), ``sinh(x ± i0)``
    has imaginary part ±0."""
    sh, ch, m = _sinh_cosh(r, x)
    re = r.mul(r.mul(sh, r.f(Op.COS, y)), m)
    im = r.mul(r.mul(ch, r.f(Op.SIN, y)), m)
    x_inf = r.isinf(x)
    x_zero_or_inf = r.or_(r.eq(x, r.k(0.0)), x_inf)
    re = r.sel(r.and_(x_zero_or_inf, r.not_(r.finite(y))), r.sel(x_inf, r.k(INF), x), re)
    return re, r.sel(r.eq(y, r.k(0.0)), y, im)


def cosh(r: Real, x: int, y: int) -> Pair:
    """ccosh: ``cosh x cos y + i sinh x sin y``; Annex G: ``cosh(±∞ + i∞/NaN) = +∞ + iNaN``,
    ``cosh(±0 + i∞/NaN) = NaN + i0``, ``cosh(x ± i0)`` has imaginary part ±0·sign x."""
    sh, ch, m = _sinh_cosh(r, x)
    re = r.mul(r.mul(ch, r.f(Op.COS, y)), m)
    im = r.mul(r.mul(sh, r.f(Op.SIN, y)), m)
    y_bad = r.not_(r.finite(y))
    re = r.sel(r.and_(r.isinf(x), y_bad), r.k(INF), re)
    im = r.sel(r.and_(r.eq(x, r.k(0.0)), y_bad), r.k(0.0), im)  # sign unspecified: glibc's
    im = r.sel(r.eq(y, r.k(0.0)), r.mul(y, r.copysign(r.k(1.0), x)), im)
    return re, im


def tanh(r: Real, x: int, y: int) -> Pair:
    """Kahan's ctanh: t = tan y, β = 1 + t², s = sinh x, ρ = sqrt(1 + s²);
    ``(βρs + it)/(1 + βs²)``, and ``sign x + i(t/β/s)/s`` for |x| > 22."""
    t = r.f(Op.TAN, y)
    beta = r.add(r.k(1.0), r.mul(t, t))
    s = r.f(Op.SINH, x)
    rho = r.f(Op.SQRT, r.add(r.k(1.0), r.mul(s, s)))
    den = r.add(r.k(1.0), r.mul(beta, r.mul(s, s)))
    big = r.lt(r.k(22.0), r.abs(x))  # tanh x rounds to ±1; βs² may overflow
    re = r.sel(big, r.copysign(r.k(1.0), x), r.div(r.mul(r.mul(beta, rho), s), den))
    im = r.sel(big, r.div(r.div(r.div(t, beta), s), s), r.div(t, den))
    # Annex G: tanh(±∞ + i∞/NaN) = ±1 ± i0; tanh(x ± i0) has imaginary part ±0 (x NaN too)
    y_bad = r.not_(r.finite(y))
    zero_im = r.or_(r.eq(y, r.k(0.0)), r.and_(r.isinf(x), y_bad))
    # tanh(x + i∞/NaN) = NaN + iNaN for finite x, but ±0 + iNaN at x = ±0 (C23, glibc)
    re = r.sel(r.and_(r.finite(x), y_bad), r.sel(r.eq(x, r.k(0.0)), x, r.nan()), re)
    return re, r.sel(zero_im, r.copysign(r.k(0.0), y), im)


def _kahan_roots(r: Real, a: Pair, b: Pair) -> tuple[Pair, Pair]:
    return sqrt(r, *a), sqrt(r, *b)


def _half_log_2z(r: Real, x: int, y: int) -> int:
    """|z|/2 without overflow: asinh(|z|/2) + ln 2 = log 2|z| for |z| > 2^28."""
    return r.f(Op.HYPOT, r.mul(x, r.k(0.5)), r.mul(y, r.k(0.5)))


def _huge(r: Real, x: int, y: int) -> int:
    t = r.k(_BIG_INVERSE)
    return r.or_(r.lt(t, r.abs(x)), r.lt(t, r.abs(y)))  # infinities too, NaN alone not


def asinh(r: Real, x: int, y: int) -> Pair:
    """Kahan's casinh (via casin(iz)): ξ = sqrt(1 + y - ix), η = sqrt(1 - y + ix),
    ``asinh(ξr ηi - ξi ηr) + i atan2(y, ξr ηr - ξi ηi)``; for |z| > 2^28 (infinities too)
    ``±log 2|z| + i atan2(y, |x|)``."""
    one = r.k(1.0)
    (xr, xi), (er, ei) = _kahan_roots(r, (r.add(one, y), r.neg(x)), (r.sub(one, y), x))
    big = _huge(r, x, y)
    a = r.f(Op.ASINH, r.sel(big, _half_log_2z(r, x, y), r.sub(r.mul(xr, ei), r.mul(xi, er))))
    re = r.sel(big, r.copysign(r.add(a, r.k(LN2)), x), a)
    real = r.sub(r.mul(xr, er), r.mul(xi, ei))
    im = r.f(Op.ATAN2, y, r.sel(big, r.abs(x), real))
    # Annex G: asinh(NaN ± i0) = NaN ± i0
    return re, r.sel(r.eq(y, r.k(0.0)), y, im)


def acos(r: Real, x: int, y: int) -> Pair:
    """Kahan's cacos: ξ = sqrt(1 - z), η = sqrt(1 + z), ``2 atan2(ξr, ηr) +
    i asinh(ηr ξi - ηi ξr)``; for |z| > 2^28 ``atan2(|y|, x) ∓ i log 2|z|``."""
    one = r.k(1.0)
    (xr, xi), (er, ei) = _kahan_roots(r, (r.sub(one, x), r.neg(y)), (r.add(one, x), y))
    big = _huge(r, x, y)
    factor = r.sel(big, one, r.k(2.0))
    re = r.mul(factor, r.f(Op.ATAN2, r.sel(big, r.abs(y), xr), r.sel(big, x, er)))
    a = r.f(Op.ASINH, r.sel(big, _half_log_2z(r, x, y), r.sub(r.mul(er, xi), r.mul(ei, xr))))
    im = r.sel(big, r.copysign(r.add(a, r.k(LN2)), r.neg(y)), a)
    # Annex G: acos(±0 + iNaN) = π/2 + iNaN
    re = r.sel(r.and_(r.eq(x, r.k(0.0)), r.isnan(y)), r.k(math.pi / 2), re)
    return re, im


def acosh(r: Real, x: int, y: int) -> Pair:
    """Kahan's cacosh: ξ = sqrt(z - 1), η = sqrt(z + 1), ``asinh(ξr ηr + ξi ηi) +
    2i atan2(ξi, ηr)``; for |z| > 2^28 ``log 2|z| + i atan2(y, x)``."""
    one = r.k(1.0)
    (xr, xi), (er, ei) = _kahan_roots(r, (r.sub(x, one), y), (r.add(x, one), y))
    big = _huge(r, x, y)
    a = r.f(Op.ASINH, r.sel(big, _half_log_2z(r, x, y), r.add(r.mul(xr, er), r.mul(xi, ei))))
    re = r.sel(big, r.add(a, r.k(LN2)), a)
    factor = r.sel(big, one, r.k(2.0))
    im = r.mul(factor, r.f(Op.ATAN2, r.sel(big, y, xi), r.sel(big, x, er)))
    return re, im


def atanh(r: Real, x: int, y: int) -> Pair:
    """catanh with x reflected to |x|: ``log1p(4|x|/((1-|x|)² + y²))/4 +
    i atan2(y, ((1-|x|)(1+|x|) - y²)/2)/2``; ``Re 1/z`` for |z| > 2^500, and
    ``(ln 2 - log|y|)/2`` at x = ±1 where the denominator underflows."""
    ax, ay = r.abs(x), r.abs(y)
    one = r.k(1.0)
    u = r.sub(one, ax)
    d = r.add(r.mul(u, u), r.mul(y, y))
    main = r.mul(r.k(0.25), r.f(Op.LOG1P, r.div(r.mul(r.k(4.0), ax), d)))
    at_one = r.mul(r.k(0.5), r.sub(r.k(LN2), r.f(Op.LOG, ay)))  # x = ±1 exactly
    h = r.f(Op.HYPOT, x, y)
    far = r.div(r.div(ax, h), h)
    limit = r.k(2.0**500)
    big = r.or_(r.lt(limit, ax), r.lt(limit, ay))
    re = r.sel(big, far, r.sel(r.lt(d, r.k(2.0**-600)), at_one, main))
    # Annex G: atanh(±0 + iNaN) = ±0 + iNaN; ±0 real part where x or y is infinite
    zero = r.any(r.eq(ax, r.k(0.0)), r.isinf(x), r.isinf(y))
    re = r.copysign(r.sel(zero, r.k(0.0), re), x)
    im = r.mul(
        r.k(0.5), r.f(Op.ATAN2, y, r.mul(r.sub(r.mul(u, r.add(one, ax)), r.mul(y, y)), r.k(0.5)))
    )
    im = r.sel(r.isinf(y), r.copysign(r.k(math.pi / 2), y), im)
    return re, im


def rotated(fn: Callable[[Real, int, int], Pair], cosine: bool = False) -> Callable[..., Pair]:
    """``f(z) = -i g(iz)`` (sin, tan, asin, atan from their hyperbolic twins), or
    ``g(iz)`` for ``cosine`` (cos = cosh(iz)); iz = (-y, x) exactly, as Annex G means it."""

    def trig(r: Real, x: int, y: int) -> Pair:
        re, im = fn(r, r.neg(y), x)
        return (re, im) if cosine else (im, r.neg(re))

    trig.__doc__ = f"{'' if cosine else '-i '}{fn.__name__}(iz)"
    return trig


sin, cos, tan = rotated(sinh), rotated(cosh, cosine=True), rotated(tanh)
asin, atan = rotated(asinh), rotated(atanh)
