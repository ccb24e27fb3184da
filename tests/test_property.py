"""Property tests: random expression trees, compiled, against SymPy's 50-digit reference.

Hypothesis draws a few expression trees (depth ≤ 5) over three real symbols and
one parameter from the supported functions, with domain-safe wrappers where a
function would otherwise be undefined on most of the line (``log(1 + u**2)``,
``asin(tanh(u))``, ...), and a few points. The property: the compiled function
and Jacobian equal SymPy's own expression and ``Matrix.jacobian`` evaluated
with mpmath at 50 digits, within the tolerance of ``reference.assert_precise_equal``.

Entries where the reference is not finite, or is ill-conditioned, are left out
of the comparison: an entry is ill-conditioned when a relative perturbation of
the inputs by ~1e-15, or evaluating the reference in 53-bit arithmetic (each
operation correctly rounded, as a double kernel would at best, on SymPy's
expressions as written: ``exp(y) - 1`` cancels there as in a kernel, where the
50-digit reference computes ``expm1(y)``), moves it by more than a tenth of the
tolerance. So are entries whose branch rounding decides
(``SympyReference.decided_by_rounding``): a Heaviside, sign, floor or ceiling
argument, Piecewise condition or atan2 cut that arithmetic in the kernel's
precision could put on the other side of its jump, which Max/Min operand wins
(a near-tie, for the derivatives), a nonzero value that underflows to 0. Those
need not be ill-conditioned in the first sense (a near-tie that 50 digits resolve
but doubles do not switches the derivative's weights between 0, 1/2 and 1 with
no perturbation of the inputs), and either side is a correct kernel. Max/Min
have their own property, so that a problem with them does not hide everything
else.

float32 kernels (``dtype=np.float32``) have the same property at float32's
precision: the points are rounded to float32 first (the reference sees the very
inputs the kernel does), the tolerance is ``TOL32``, branches are decided in 24-bit
arithmetic, and an entry is ill-conditioned when a relative perturbation of the
inputs by ~2**-22, or evaluating the reference at 8 digits, moves it by more than
a tenth of it; values beyond float32's range are left out, and so are entries
whose float32 result is inf or NaN where the reference is finite: an intermediate
value overflowed float32's range (~3.4e38; ``csch(cosh(u)**2)`` at u = 2.8 does),
which symjac does not rescale.

The runs are derandomized and kept small. Derandomized is not independent of the
process, though: Hypothesis (6.131+) also draws numbers from the literals of every
local module imported so far (not those of test files), so the examples depend on
which other modules the process has loaded (``test_float32.py`` imports
``benchmarks/float32_accuracy.py``, whose 1e-30, 0.999, ... join the pool). The
property must hold for any examples: a failure that appears only after other tests
is still a failure of these examples (rerun it alone with ``@example``).
"""

from __future__ import annotations

import numpy as np
import sympy as sp
import sympy.codegen.cfunctions as cf
from hypothesis import HealthCheck, Phase, assume, example, given, note, settings
from hypothesis import strategies as st
from reference import (
    SympyReference,
    assert_precise_equal,
    assert_same_float,
    compile_function,
    compile_jacobian,
    precise_mismatches,
)

X, Y, Z = sp.symbols("x y z", real=True)
A = sp.Symbol("a", real=True)
WRT = (X, Y, Z)
PARAMS = (A,)

TOL = {"rtol": 1e-12, "row_atol": 1e-13}
COND_TOL = {"rtol": 1e-13, "row_atol": 1e-14}
DELTA = 1e-15

SETTINGS = settings(
    max_examples=40,
    deadline=None,
    derandomize=True,
    database=None,
    # no shrinking: each example compiles two kernels, and shrinking a failure takes minutes;
    # the failing example is printed (note) as drawn
    phases=[Phase.explicit, Phase.generate],
    suppress_health_check=[HealthCheck.too_slow],
)

# -- the expression language ---------------------------------------------------------------

CONSTANTS = [
    sp.Integer(2),
    sp.Integer(-3),
    sp.Rational(1, 3),
    sp.Rational(-5, 2),
    sp.Float(0.7),
    sp.pi,
]


def _sq1(u):
    return 1 + u**2


UNARY = [
    ("sin", sp.sin),
    ("cos", sp.cos),
    ("tan(tanh u)", lambda u: sp.tan(sp.tanh(u))),
    ("exp", sp.exp),
    ("log(1+u²)", lambda u: sp.log(_sq1(u))),
    ("sqrt(u²+1)", lambda u: sp.sqrt(_sq1(u))),
    ("1/sqrt(u²+1)", lambda u: 1 / sp.sqrt(_sq1(u))),
    ("atan", sp.atan),
    ("asin(tanh u)", lambda u: sp.asin(sp.tanh(u))),
    ("acos(tanh u)", lambda u: sp.acos(sp.tanh(u))),
    ("sinh", sp.sinh),
    ("cosh", sp.cosh),
    ("tanh", sp.tanh),
    ("asinh", sp.asinh),
    ("acosh(2+u²)", lambda u: sp.acosh(1 + _sq1(u))),
    ("atanh(tanh(u)/2)", lambda u: sp.atanh(sp.tanh(u) / 2)),
    ("sec(tanh u)", lambda u: sp.sec(sp.tanh(u))),
    ("csc(1+tanh²)", lambda u: sp.csc(_sq1(sp.tanh(u)))),
    ("cot(1+tanh/2)", lambda u: sp.cot(1 + sp.tanh(u) / 2)),
    ("sech", sp.sech),
    ("csch(1+u²)", lambda u: sp.csch(_sq1(u))),
    ("coth(1+u²)", lambda u: sp.coth(_sq1(u))),
    ("acot(2+u²)", lambda u: sp.acot(1 + _sq1(u))),
    ("erf", sp.erf),
    ("erfc", sp.erfc),
    ("gamma(1+u²)", lambda u: sp.gamma(_sq1(u))),
    ("gamma(tanh u - 1/2)", lambda u: sp.gamma(sp.tanh(u) - sp.Rational(1, 2))),
    ("loggamma(1/2+u²)", lambda u: sp.loggamma(sp.Rational(1, 2) + u**2)),
    ("polygamma(1, 1/2+u²)", lambda u: sp.polygamma(1, sp.Rational(1, 2) + u**2)),
    ("polygamma(2, tanh u - 1/2)", lambda u: sp.polygamma(2, sp.tanh(u) - sp.Rational(1, 2))),
    ("besselj(2, u)", lambda u: sp.besselj(2, u)),
    ("bessely(1, 1+u²)", lambda u: sp.bessely(1, _sq1(u))),
    ("expm1(tanh u)", lambda u: cf.expm1(sp.tanh(u))),
    ("log1p(u²)", lambda u: cf.log1p(u**2)),
    ("exp2(tanh u)", lambda u: cf.exp2(sp.tanh(u))),
    ("log2(1+u²)", lambda u: cf.log2(_sq1(u))),
    ("log10(1+u²)", lambda u: cf.log10(_sq1(u))),
    ("Cbrt(1+u²)", lambda u: cf.Cbrt(_sq1(u))),
    ("Abs", sp.Abs),
    ("sign", sp.sign),
    ("floor", sp.floor),
    ("ceiling", sp.ceiling),
    ("Heaviside", sp.Heaviside),
    ("u**2", lambda u: u**2),
    ("u**3", lambda u: u**3),
    ("(1+u²)**-2", lambda u: _sq1(u) ** -2),
    ("(1+u²)**(3/2)", lambda u: _sq1(u) ** sp.Rational(3, 2)),
    ("(1+u²)**-0.75", lambda u: _sq1(u) ** sp.Float(-0.75)),
    ("(1+u²)**(1/3)", lambda u: _sq1(u) ** sp.Rational(1, 3)),
    ("-u", lambda u: -u),
    ("u/3", lambda u: u / 3),
]

BINARY = [
    ("+", lambda u, v: u + v),
    ("-", lambda u, v: u - v),
    ("*", lambda u, v: u * v),
    ("u/(1+v²)", lambda u, v: u / _sq1(v)),
    ("atan2", sp.atan2),
    ("hypot", cf.hypot),
    ("(1+u²)**tanh(v)", lambda u, v: _sq1(u) ** sp.tanh(v)),
    ("|u|**(v²/4)", lambda u, v: sp.Abs(u) ** (v**2 / 4)),
    ("Heaviside(u, v)", sp.Heaviside),
    (
        "Piecewise(<, <, True)",
        lambda u, v: sp.Piecewise((u, v > 0), (v * u, v < -1), (u + v, True)),
    ),
    (
        "Piecewise(And/Or/Not)",
        lambda u, v: sp.Piecewise(
            (u * v, sp.And(u > v, v >= -1)), (sp.sin(u), sp.Or(u < 0, sp.Not(v < 1))), (v, True)
        ),
    ),
]

MAX_MIN = [
    ("Max", sp.Max),
    ("Min", sp.Min),
    ("Max3", lambda u, v: sp.Max(u, v, u * v)),
    ("Min3", lambda u, v: sp.Min(u, -v, u + v)),
]

SYMBOLS = st.sampled_from([X, Y, Z, A, X, Y, Z])
LEAVES = st.one_of(SYMBOLS, SYMBOLS, SYMBOLS, st.sampled_from(CONSTANTS))  # 1 in 4 a constant


@st.composite
def trees(draw, depth: int, unary: list, binary: list, leaves=LEAVES) -> sp.Expr:
    """A random expression of depth at most ``depth``."""
    if depth == 0 or draw(st.integers(0, 4)) == 0:
        return draw(leaves)
    if draw(st.integers(0, 2)) < 2:
        _, fn = draw(st.sampled_from(unary))
        return fn(draw(trees(depth - 1, unary, binary, leaves)))
    _, fn = draw(st.sampled_from(binary))
    u = draw(trees(depth - 1, unary, binary, leaves))
    return fn(u, draw(trees(depth - 1, unary, binary, leaves)))


coordinate = st.floats(-3.0, 3.0, allow_nan=False, allow_subnormal=False)
points = st.lists(st.tuples(coordinate, coordinate, coordinate), min_size=1, max_size=3)
param = st.floats(-2.0, 2.0, allow_nan=False, allow_subnormal=False)


def outputs(unary: list, binary: list, depth: int = 5, leaves=LEAVES):
    return st.lists(trees(depth, unary, binary, leaves), min_size=1, max_size=3)


# -- the property --------------------------------------------------------------------------


def _well_conditioned(evaluate, pts: np.ndarray, p: np.ndarray, want: np.ndarray) -> np.ndarray:
    """Mask of the finite entries of ``want`` that are insensitive to rounding."""
    ok = np.isfinite(want)
    # 53-bit arithmetic, every operation rounded, on SymPy's expressions as written
    others = [evaluate(pts, p, dps=15, as_written=True)]
    for sign in (1.0, -1.0):
        direction = sign * np.array([1.0, -1.0, 1.0])
        others.append(evaluate(pts * (1 + DELTA * direction), p * (1 + sign * DELTA)))
    for other in others:
        ok &= ~precise_mismatches(other, want, **COND_TOL)
    return ok


def references(exprs: list, pts: np.ndarray, p: np.ndarray, well_conditioned, dtype) -> tuple:
    """The 50-digit function values (each output its own "row") and Jacobian at ``pts``, and
    the masks of their entries that ``well_conditioned`` keeps and whose branches rounding
    in ``dtype`` does not decide; skips an example with none."""
    assume(any(e.free_symbols & set(WRT) for e in exprs))
    note(f"outputs: {exprs}")
    note(f"points: {pts.tolist()}, a = {p[0]!r}")
    ref = SympyReference(exprs, WRT, PARAMS)

    def ref_f(q, pp, **kw):
        return ref.function(q, pp, **kw)[..., None]

    def ref_j(q, pp, **kw):
        return ref.jacobian(q, pp, **kw)

    want_f, want_j = ref_f(pts, p), ref_j(pts, p)
    ok_f = well_conditioned(ref_f, pts, p, want_f)
    ok_j = well_conditioned(ref_j, pts, p, want_j)
    decided_f, decided_j = ref.decided_by_rounding(pts, p, dtype=dtype)
    ok_f &= ~decided_f[..., None]
    ok_j &= ~decided_j
    assume(ok_f.any() and ok_j.any())
    return want_f, ok_f, want_j, ok_j


def check_against_reference(exprs: list, pts_list: list, a: float) -> None:
    pts = np.array(pts_list, dtype=np.float64)
    p = np.array([a])
    want_f, ok_f, want_j, ok_j = references(exprs, pts, p, _well_conditioned, np.float64)

    f = compile_function(exprs, WRT, PARAMS)
    got_f = f(pts, p)[..., None]
    assert_precise_equal(got_f, want_f, "(function values)", where=ok_f, **TOL)

    jac = compile_jacobian(exprs, WRT, PARAMS)
    got_j = jac(pts, p)
    assert_precise_equal(got_j, want_j, "(Jacobian)", where=ok_j, **TOL)
    # the values kernel is the dense Jacobian at the pattern
    assert_same_float(jac.values(pts, p), got_j[:, jac.pattern.rows, jac.pattern.cols])


@SETTINGS
@given(exprs=outputs(UNARY, BINARY), pts=points, a=param)
def test_compiled_function_and_jacobian_match_sympy(exprs, pts, a) -> None:
    check_against_reference(exprs, pts, a)


def _has_max_min(exprs: list) -> bool:
    return any(e.has(sp.Max, sp.Min) for e in exprs)


@SETTINGS
@st.composite
def max_min_outputs(draw) -> list:
    """One or two outputs, each a Max or Min of random trees, possibly inside one function.

    Symbols only as leaves, shallow trees and no nesting: SymPy's Max/Min constructors
    compare their arguments symbolically, which can take minutes for nested Max/Min or
    complicated constants (and SymPy 1.14 fails to differentiate some nested ones).
    """
    unary, binary = UNARY[:12], BINARY[:4]
    exprs = []
    for _ in range(draw(st.integers(1, 2))):
        _, fn = draw(st.sampled_from(MAX_MIN))
        u = draw(trees(2, unary, binary, SYMBOLS))
        extremum = fn(u, draw(trees(2, unary, binary, SYMBOLS)))
        _, outer = draw(st.sampled_from([("id", lambda e: e), *UNARY[:12]]))
        exprs.append(outer(extremum))
    return exprs


# examples once drawn (which examples are drawn depends on the process: see the module's
# docstring): a near-tie of Min arguments that only 50 digits resolve (the derivative's
# weights are 1/2 in doubles), and exp(y) - 1 at y = -5.5e-110 (0 in doubles, -5.5e-110 exactly)
_S = sp.sinh(Y) / (A**2 * Z**2 + 1)
_C = -sp.cos(X) + 1 / sp.sqrt(A**2 + 1)


@settings(SETTINGS, max_examples=30)
@given(exprs=max_min_outputs(), pts=points, a=param)
@example(
    exprs=[sp.sqrt(sp.Min(-_S, _C, _C + _S) ** 2 + 1)],
    pts=[(-3.0, 3.1696870405504307e-127, 2.9916735863931745), (6.4e-272, 7.3e-47, 3.0)],
    a=1.0296499443956693,
)
@example(
    exprs=[sp.atan(Y), sp.asin(sp.tanh(sp.Min(A - Y + sp.exp(Y), sp.exp(sp.exp(Y)))))],
    pts=[(-5.525327337909083e-110, -5.525327337909083e-110, -2.4833700433765364)],
    a=0.23771560764792676,
)
def test_compiled_max_min_match_sympy(exprs, pts, a) -> None:
    assume(_has_max_min(exprs))
    check_against_reference(exprs, pts, a)


# -- float32 kernels ---------------------------------------------------------------------

TOL32 = {"rtol": 2e-4, "row_atol": 2e-5}
COND_TOL32 = {"rtol": 2e-5, "row_atol": 2e-6}
DELTA32 = 2.0**-22
FLOAT32_MAX = float(np.finfo(np.float32).max)


def _well_conditioned32(evaluate, pts: np.ndarray, p: np.ndarray, want: np.ndarray) -> np.ndarray:
    """As :func:`_well_conditioned`, at float32's scale; and within float32's normal range."""
    ok = np.isfinite(want) & (np.abs(want) < 1e-3 * FLOAT32_MAX)
    scale = np.nanmax(np.abs(np.where(np.isfinite(want), want, np.nan)), axis=-1, initial=0.0)
    ok &= (np.abs(want) > 1e-30) | (np.abs(want) <= 1e-6 * scale[..., None])
    others = [evaluate(pts, p, dps=8, as_written=True)]
    for sign in (1.0, -1.0):
        direction = sign * np.array([1.0, -1.0, 1.0])
        others.append(evaluate(pts * (1 + DELTA32 * direction), p * (1 + sign * DELTA32)))
    for other in others:
        ok &= ~precise_mismatches(other, want, **COND_TOL32)
    return ok


@SETTINGS
# nested Piecewise (the last two binary forms) can become SymPy ITE conditions, which the
# front end refuses whatever the dtype: the float64 property's examples happen not to nest them
@given(exprs=outputs(UNARY, BINARY[:-2], depth=4), pts=points, a=param)
# once drawn: 0.49*a**2 = 1.8e-9 vanishes next to 1 in float32, and Heaviside takes its 0
@example(
    exprs=[X, sp.Heaviside((-Z + sp.besselj(2, sp.Float(0.7))) * cf.log2(0.49 * A**2 + 1))],
    pts=[(0.5, -1.0, 2.0)],
    a=-6.103515625e-05,
)
def test_float32_function_and_jacobian_match_sympy(exprs, pts, a) -> None:
    pts32 = np.array(pts, dtype=np.float32)
    p32 = np.array([a], dtype=np.float32)
    q, pp = pts32.astype(np.float64), p32.astype(np.float64)  # exactly the kernel's inputs
    want_f, ok_f, want_j, ok_j = references(exprs, q, pp, _well_conditioned32, np.float32)

    f = compile_function(exprs, WRT, PARAMS, dtype=np.float32)
    got_f = f(pts32, p32)[..., None]
    jac = compile_jacobian(exprs, WRT, PARAMS, dtype=np.float32)
    got_j = jac(pts32, p32)
    assert got_f.dtype == got_j.dtype == np.float32
    ok_f &= np.isfinite(got_f)  # intermediate overflow (see the module's docstring)
    ok_j &= np.isfinite(got_j)
    assume(ok_f.any() and ok_j.any())
    assert_precise_equal(got_f, want_f, "(float32 values)", where=ok_f, **TOL32)
    assert_precise_equal(got_j, want_j, "(float32 Jacobian)", where=ok_j, **TOL32)
