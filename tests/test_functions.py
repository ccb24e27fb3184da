"""Every supported function: compiled values and Jacobians against independent references.

For each function symjac supports, the compiled *function value* and compiled
*Jacobian* are compared with SymPy's own expression and Jacobian evaluated with
mpmath at 50 digits (``reference.SympyReference``) at a few ordinary points, and
the Jacobian with a fourth-order finite difference of the compiled function.
Special values (±0, ±inf, NaN, domain edges, poles) are checked against
expectations derived from the mathematics and C99/IEEE-754 (Annex F), never
against symjac's own output.

To keep the file fast, all one-argument functions are compiled into one vector
function and one Jacobian (a module-scoped fixture); each function is still its
own parametrized case, reading its own row.
"""

from __future__ import annotations

import math
import subprocess
import sys
import textwrap
from dataclasses import dataclass
from fractions import Fraction

import mpmath
import numpy as np
import pytest
import sympy as sp
import sympy.codegen.cfunctions as cf
from reference import (
    SympyReference,
    assert_precise_equal,
    assert_same_float,
    central_difference,
    compile_function,
    compile_jacobian,
    exact_float,
)

import symjac

inf, nan = math.inf, math.nan
PI = math.pi
EULER = float(mpmath.euler)  # correctly rounded Euler–Mascheroni constant

# finite differences are an approximation: a looser tolerance than the exact reference
FD_TOL = {"rtol": 1e-7, "row_atol": 1e-7}

# `x` has no assumptions on purpose: symjac treats every symbol as real
x = sp.Symbol("x")
X, Y, Z = sp.symbols("x y z", real=True)
A, H = sp.symbols("a h", real=True)


# -- helpers -----------------------------------------------------------------------------


def check_values_agree_with_dense(jac: symjac.CompiledJacobian, pts, p=None) -> None:
    """``jac.values`` is the dense Jacobian at ``jac.pattern``; the rest of ``jac(...)`` is 0."""
    dense = jac(pts, p) if p is not None else jac(pts)
    vals = jac.values(pts, p) if p is not None else jac.values(pts)
    rows, cols = jac.pattern.rows, jac.pattern.cols
    assert_same_float(dense[:, rows, cols], vals)
    outside = ~jac.pattern.to_dense()
    assert np.all(dense[:, outside] == 0.0)


@dataclass(frozen=True)
class Problem:
    """Several outputs over ``wrt``/``params``, and points at which to check them."""

    id: str
    exprs: tuple
    wrt: tuple
    params: tuple
    points: tuple  # of tuples, one per point
    pvals: tuple = ()
    fd_points: tuple | None = None  # where finite differences make sense (default: points)
    allow_nonfinite: bool = False  # the reference itself may be NaN/inf at some points


def check_problem(prob: Problem, *, jacobian: bool = True) -> None:
    """Compiled function (and Jacobian) against the 50-digit reference, plus finite differences."""
    ref = SympyReference(list(prob.exprs), prob.wrt, prob.params)
    pts = np.array(prob.points, dtype=np.float64)
    p = np.array(prob.pvals, dtype=np.float64) if prob.params else None
    want_f = ref.function(pts, p)
    if not prob.allow_nonfinite:
        assert np.isfinite(want_f).all(), "the reference should be finite at ordinary points"
    f = compile_function(list(prob.exprs), prob.wrt, prob.params)
    got_f = f(pts, p) if p is not None else f(pts)
    assert_precise_equal(got_f, want_f, f"(function values of {prob.id})")
    if not jacobian:
        return
    want_j = ref.jacobian(pts, p)
    if not prob.allow_nonfinite:
        assert np.isfinite(want_j).all(), "the reference should be finite at ordinary points"
    jac = compile_jacobian(list(prob.exprs), prob.wrt, prob.params)
    assert jac.shape == (len(prob.exprs), len(prob.wrt))
    got_j = jac(pts, p) if p is not None else jac(pts)
    assert_precise_equal(got_j, want_j, f"(Jacobian of {prob.id})")
    check_values_agree_with_dense(jac, pts, p)
    # every entry that is not identically zero must be in the sparsity pattern
    assert np.all(jac.pattern.to_dense() | ref.is_structurally_zero())
    for point in prob.fd_points if prob.fd_points is not None else prob.points:
        fd = central_difference(f, np.array(point, dtype=np.float64), p)
        exact = jac(np.array(point, dtype=np.float64), p) if p is not None else jac(np.array(point))
        assert_precise_equal(exact, fd, f"(finite differences of {prob.id} at {point})", **FD_TOL)


# -- one-argument functions ----------------------------------------------------------------

TRIG = (-2.1, -0.4, 0.3, 1.2, 5.5)
HYP = (-3.0, -0.6, 0.25, 1.1, 4.0)
UNIT = (-0.9, -0.3, 0.1, 0.5, 0.85)
WIDE = (-10.0, -0.7, 0.2, 1.5, 40.0)
REALS = (-1.7, -0.4, 0.3, 1.1, 2.5)
POSITIVE = (0.2, 1.3, 4.0, 17.0)
STEPS = (-2.5, -0.3, 0.7, 3.2)


@dataclass(frozen=True)
class Unary:
    id: str
    expr: sp.Expr
    points: tuple
    differentiable: bool = True  # False: symjac.jacobian raises NotImplementedError
    step: bool = False  # piecewise constant: a structural zero in the Jacobian


UNARY = [
    Unary("exp", sp.exp(x), (-3.5, -0.7, 0.3, 1.9, 7.25)),
    Unary("log", sp.log(x), (0.01, 0.5, 1.7, 3.0, 1e5)),
    Unary("sin", sp.sin(x), TRIG),
    Unary("cos", sp.cos(x), TRIG),
    Unary("tan", sp.tan(x), TRIG),
    Unary("asin", sp.asin(x), UNIT),
    Unary("acos", sp.acos(x), UNIT),
    Unary("atan", sp.atan(x), WIDE),
    Unary("sinh", sp.sinh(x), HYP),
    Unary("cosh", sp.cosh(x), HYP),
    Unary("tanh", sp.tanh(x), HYP),
    Unary("asinh", sp.asinh(x), (-5.0, -0.5, 0.1, 2.0, 30.0)),
    Unary("acosh", sp.acosh(x), (1.1, 1.5, 2.0, 5.0, 50.0)),
    Unary("atanh", sp.atanh(x), (-0.9, -0.4, 0.05, 0.3, 0.8)),
    Unary("sec", sp.sec(x), TRIG),
    Unary("csc", sp.csc(x), TRIG),
    Unary("cot", sp.cot(x), TRIG),
    Unary("sech", sp.sech(x), HYP),
    Unary("csch", sp.csch(x), HYP),
    Unary("coth", sp.coth(x), HYP),
    Unary("acot", sp.acot(x), WIDE),
    Unary("erf", sp.erf(x), (-2.0, -0.5, 0.1, 0.8, 1.5)),
    Unary("erfc", sp.erfc(x), (-2.0, -0.5, 0.1, 0.8, 1.5, 4.0)),
    Unary("gamma", sp.gamma(x), (-2.5, -0.5, 0.3, 1.5, 4.2, 10.5)),
    Unary("loggamma", sp.loggamma(x), (-3.5, -1.5, 0.05, 0.3, 4.2, 20.0)),
    Unary("digamma", sp.polygamma(0, x), (-2.7, -0.5, 0.3, 1.2, 3.7, 25.0)),
    Unary("trigamma", sp.polygamma(1, x), (-2.7, -0.5, 0.01, 0.3, 1.2, 3.7, 25.0)),
    Unary("polygamma(2,x)", sp.polygamma(2, x), (-3.5, -0.5, 0.3, 1.2, 3.7, 25.0)),
    Unary("polygamma(5,x)", sp.polygamma(5, x), (-1.5, -0.5, 0.6, 1.2, 3.7, 25.0)),
    Unary("besselj(0,x)", sp.besselj(0, x), (-7.0, -0.3, 0.2, 1.1, 3.0, 30.0)),
    Unary("besselj(1,x)", sp.besselj(1, x), (-7.0, -0.3, 0.2, 1.1, 3.0, 30.0)),
    Unary("besselj(4,x)", sp.besselj(4, x), (-6.0, 0.9, 2.0, 5.0, 12.0)),
    Unary("besselj(-3,x)", sp.besselj(-3, x), (-6.0, 0.9, 2.0, 5.0, 12.0)),
    Unary("bessely(0,x)", sp.bessely(0, x), (0.1, 1.1, 2.0, 5.0, 30.0)),
    Unary("bessely(1,x)", sp.bessely(1, x), (0.1, 1.1, 2.0, 5.0, 30.0)),
    Unary("bessely(3,x)", sp.bessely(3, x), (0.7, 1.1, 2.0, 6.0, 30.0)),
    Unary("expm1", cf.expm1(x), (-3.5, -1e-9, 2e-12, 0.3, 1.9, 7.25)),
    Unary("log1p", cf.log1p(x), (-0.9, -1e-10, 3e-13, 0.5, 1.7, 1e5)),
    Unary("exp2", cf.exp2(x), (-3.5, -0.7, 0.3, 1.9, 30.0)),
    Unary("log2", cf.log2(x), (0.01, 0.5, 1.7, 3.0, 1e5)),
    Unary("log10", cf.log10(x), (0.01, 0.5, 1.7, 3.0, 1e5)),
    Unary("cbrt", cf.Cbrt(x), (-1e4, -0.3, 0.01, 0.5, 2.0, 27.0)),
    Unary("Sqrt", cf.Sqrt(x), (0.01, 0.5, 2.0, 1e4)),
    Unary("Abs", sp.Abs(x), REALS),
    Unary("sqrt", sp.sqrt(x), (0.01, 0.5, 2.0, 1e4)),
    Unary("1/sqrt", 1 / sp.sqrt(x), (0.01, 0.5, 2.0, 1e4)),
    Unary("x**2", x**2, REALS),
    Unary("x**3", x**3, REALS),
    Unary("x**25", x**25, REALS),
    Unary("x**-1", x**-1, REALS),
    Unary("x**-2", x**-2, REALS),
    Unary("x**-3", x**-3, REALS),
    Unary("x**-7", x**-7, REALS),
    Unary("x**2.5", x**2.5, POSITIVE),
    Unary("x**-0.75", x ** sp.Float(-0.75), POSITIVE),
    Unary("x**(1/3)", x ** sp.Rational(1, 3), POSITIVE),
    Unary("x**(3/2)", x ** sp.Rational(3, 2), POSITIVE),
    Unary("x**(-5/2)", x ** sp.Rational(-5, 2), POSITIVE),
    Unary("x**(7/3)", x ** sp.Rational(7, 3), POSITIVE),
    Unary("sign", sp.sign(x), STEPS, step=True),
    Unary("floor", sp.floor(x), STEPS, step=True),
    Unary("ceiling", sp.ceiling(x), STEPS, step=True),
    Unary("Heaviside", sp.Heaviside(x), STEPS, step=True),
    Unary("Heaviside(x,0)", sp.Heaviside(x, 0), STEPS, step=True),
    Unary("Heaviside(x,1)", sp.Heaviside(x, 1), STEPS, step=True),
]
UNARY_BY_ID = {case.id: case for case in UNARY}
DIFFERENTIABLE = [case for case in UNARY if case.differentiable]


@dataclass
class UnaryKernels:
    f: symjac.CompiledFunction
    jac: symjac.CompiledJacobian
    row_f: dict  # case id -> output index of f
    row_j: dict  # case id -> row of jac

    def value(self, case_id: str, pts) -> np.ndarray:
        out = self.f(np.asarray(pts, dtype=np.float64).reshape(-1, 1))
        return out[:, self.row_f[case_id]].reshape(-1, 1)

    def derivative(self, case_id: str, pts) -> np.ndarray:
        out = self.jac(np.asarray(pts, dtype=np.float64).reshape(-1, 1))
        return out[:, self.row_j[case_id], :]


@pytest.fixture(scope="module")
def unary() -> UnaryKernels:
    f = compile_function([case.expr for case in UNARY], [x])
    jac = compile_jacobian([case.expr for case in DIFFERENTIABLE], [x])
    return UnaryKernels(
        f,
        jac,
        {case.id: i for i, case in enumerate(UNARY)},
        {case.id: i for i, case in enumerate(DIFFERENTIABLE)},
    )


def _ids(cases):
    return [case.id for case in cases]


@pytest.mark.parametrize("case", UNARY, ids=_ids(UNARY))
def test_unary_value(unary: UnaryKernels, case: Unary) -> None:
    pts = np.array(case.points).reshape(-1, 1)
    want = SympyReference([case.expr], [x]).function(pts)
    assert np.isfinite(want).all()
    assert_precise_equal(unary.value(case.id, pts), want, f"({case.id})")


@pytest.mark.parametrize("case", DIFFERENTIABLE, ids=_ids(DIFFERENTIABLE))
def test_unary_jacobian(unary: UnaryKernels, case: Unary) -> None:
    pts = np.array(case.points).reshape(-1, 1)
    want = SympyReference([case.expr], [x]).jacobian(pts)[:, 0, :]
    assert np.isfinite(want).all()
    assert_precise_equal(unary.derivative(case.id, pts), want, f"(d/dx {case.id})")
    row = unary.row_j[case.id]
    in_pattern = bool(np.any(unary.jac.pattern.rows == row))
    # piecewise-constant functions have a structurally zero derivative, the others do not
    assert in_pattern is not case.step


@pytest.mark.parametrize("case", DIFFERENTIABLE, ids=_ids(DIFFERENTIABLE))
def test_unary_finite_difference(unary: UnaryKernels, case: Unary) -> None:
    for point in case.points:
        fd = central_difference(unary.f, np.array([point]))[unary.row_f[case.id]]
        got = unary.derivative(case.id, [point])[0]
        assert_precise_equal(got, fd, f"({case.id} at {point})", **FD_TOL)


def test_unary_values_kernel_agrees_with_dense(unary: UnaryKernels) -> None:
    pts = np.linspace(0.05, 0.95, 7).reshape(-1, 1)
    check_values_agree_with_dense(unary.jac, pts)
    assert unary.jac.nnz == sum(not case.step for case in DIFFERENTIABLE)


@pytest.mark.parametrize(
    "expr, name",
    [
        (sp.polygamma(sp.Rational(1, 2), X), "polygamma"),
        (sp.polygamma(Y, X), "polygamma"),
        (sp.besselj(sp.Rational(1, 2), X), "besselj"),
        (sp.bessely(Y, X), "bessely"),
        (sp.besselj(2.5, X), "besselj"),
    ],
    ids=["half", "symbolic", "besselj-half", "bessely-symbolic", "besselj-float"],
)
def test_orders_that_are_not_integer_constants_are_refused(expr, name) -> None:
    with pytest.raises(NotImplementedError, match=name):
        symjac.function([expr], [X, Y])


def test_hessians_of_gamma_models_use_polygamma() -> None:
    exprs = (sp.loggamma(X) * Y + sp.gamma(X * Y) + sp.polygamma(1, X + Y**2),)
    prob = Problem("gamma-hessian", exprs, (X, Y), (), ((1.3, 0.7), (2.5, 1.1), (4.0, 0.2)))
    check_problem(prob)
    h = symjac.hessian(exprs[0], [X, Y])
    pts = np.array(prob.points)
    ref = SympyReference(list(sp.Matrix(exprs).jacobian([X, Y])), [X, Y])
    assert_precise_equal(h(pts), ref.jacobian(pts), "(Hessian of a gamma model)")


# special values: (case, x, value, derivative); derivative None = not checked
# (one-sided limits disagree or the convention is not documented), NONFINITE = ±inf or NaN
NONFINITE = "nonfinite"
SPECIAL = [
    ("exp", -inf, 0.0, 0.0),
    ("exp", inf, inf, inf),
    ("exp", 0.0, 1.0, 1.0),
    ("exp", -0.0, 1.0, 1.0),
    ("exp", 710.0, inf, inf),
    ("log", 0.0, -inf, inf),
    ("log", -0.0, -inf, None),
    ("log", 1.0, 0.0, 1.0),
    ("log", inf, inf, 0.0),
    ("log", -1.0, nan, None),
    ("log", -inf, nan, None),
    ("sqrt", 0.0, 0.0, inf),
    ("sqrt", -1.0, nan, nan),
    ("sqrt", inf, inf, 0.0),
    ("sqrt", -inf, nan, nan),
    ("1/sqrt", 0.0, inf, -inf),
    ("1/sqrt", inf, 0.0, 0.0),
    ("1/sqrt", -1.0, nan, nan),
    ("sin", inf, nan, nan),
    ("sin", -inf, nan, nan),
    ("cos", inf, nan, nan),
    ("tan", inf, nan, nan),
    ("asin", 1.0, PI / 2, inf),
    ("asin", -1.0, -PI / 2, inf),
    ("asin", 1.5, nan, nan),
    ("asin", -inf, nan, nan),
    ("acos", 1.0, 0.0, -inf),
    ("acos", -1.0, PI, -inf),
    ("acos", -1.5, nan, nan),
    ("atan", inf, PI / 2, 0.0),
    ("atan", -inf, -PI / 2, 0.0),
    ("atan", 0.0, 0.0, 1.0),
    ("sinh", inf, inf, inf),
    ("sinh", -inf, -inf, inf),
    ("cosh", inf, inf, inf),
    ("cosh", -inf, inf, -inf),
    ("tanh", inf, 1.0, 0.0),
    ("tanh", -inf, -1.0, 0.0),
    ("tanh", 0.0, 0.0, 1.0),
    ("asinh", inf, inf, 0.0),
    ("asinh", -inf, -inf, 0.0),
    ("acosh", 1.0, 0.0, inf),
    ("acosh", 0.5, nan, nan),
    ("acosh", -inf, nan, nan),
    ("acosh", inf, inf, 0.0),
    ("atanh", 1.0, inf, inf),
    ("atanh", -1.0, -inf, inf),
    ("atanh", 1.5, nan, None),
    ("atanh", 0.0, 0.0, 1.0),
    ("acot", 0.0, PI / 2, -1.0),  # SymPy: acot(0) = pi/2; both one-sided slopes are -1
    ("acot", inf, 0.0, 0.0),
    ("erf", inf, 1.0, 0.0),
    ("erf", -inf, -1.0, 0.0),
    ("erf", 0.0, 0.0, 2 / math.sqrt(PI)),
    ("erfc", inf, 0.0, 0.0),
    ("erfc", -inf, 2.0, 0.0),
    ("erfc", 30.0, 0.0, 0.0),  # underflows
    ("gamma", 1.0, 1.0, -EULER),
    ("gamma", 0.0, inf, None),
    ("gamma", -0.0, -inf, None),
    ("gamma", -1.0, nan, NONFINITE),  # poles: no limit (±inf from either side)
    ("gamma", -2.0, nan, NONFINITE),
    ("gamma", -inf, nan, None),
    ("gamma", inf, inf, inf),
    ("gamma", 200.0, inf, inf),  # overflows
    ("loggamma", 1.0, 0.0, -EULER),
    ("loggamma", 2.0, 0.0, 1.0 - EULER),
    ("loggamma", 0.0, inf, None),  # poles: log|Γ| → +inf
    ("loggamma", -1.0, inf, None),
    ("loggamma", -2.0, inf, None),
    ("loggamma", -0.5, nan, None),  # Γ(-0.5) < 0: no real logarithm
    ("loggamma", -2.5, nan, None),
    ("loggamma", inf, inf, inf),
    ("digamma", 1.0, -EULER, PI**2 / 6),
    ("trigamma", 1.0, PI**2 / 6, -2 * float(mpmath.zeta(3))),
    ("trigamma", 0.5, PI**2 / 2, -14 * float(mpmath.zeta(3))),
    ("trigamma", 0.0, nan, None),  # poles: NaN, as digamma's
    ("trigamma", -2.0, nan, None),
    ("trigamma", inf, 0.0, -0.0),
    ("trigamma", -inf, nan, None),
    ("polygamma(2,x)", 1.0, -2 * float(mpmath.zeta(3)), PI**4 / 15),
    ("besselj(0,x)", 0.0, 1.0, -0.0),  # J0'(0) = -J1(0) = -0 (the difference of -J1 and J1)
    ("besselj(0,x)", inf, 0.0, 0.0),
    ("besselj(0,x)", -inf, 0.0, -0.0),
    ("besselj(1,x)", 0.0, 0.0, 0.5),
    ("besselj(1,x)", -0.0, -0.0, 0.5),
    ("besselj(4,x)", 0.0, 0.0, 0.0),
    ("bessely(0,x)", 0.0, -inf, None),  # the one-sided limit: Y0' → +inf, but Y1(0) = -inf
    ("bessely(0,x)", -1.0, nan, nan),
    ("bessely(1,x)", -inf, nan, nan),
    ("bessely(0,x)", inf, 0.0, 0.0),
    ("digamma", 0.0, nan, None),
    ("digamma", -1.0, nan, None),
    ("digamma", -3.0, nan, None),
    ("digamma", inf, inf, None),
    ("expm1", 0.0, 0.0, 1.0),
    ("expm1", -0.0, -0.0, 1.0),
    ("expm1", 1e-300, 1e-300, 1.0),  # exp(x) - 1 would be 0 here
    ("expm1", -inf, -1.0, 0.0),
    ("expm1", inf, inf, inf),
    ("expm1", 710.0, inf, inf),
    ("log1p", 0.0, 0.0, 1.0),
    ("log1p", -0.0, -0.0, 1.0),
    ("log1p", 1e-300, 1e-300, 1.0),  # log(1 + x) would be 0 here
    ("log1p", -1.0, -inf, inf),
    ("log1p", -2.0, nan, None),
    ("log1p", inf, inf, 0.0),
    ("exp2", 0.0, 1.0, math.log(2)),
    ("exp2", 10.0, 1024.0, 1024.0 * math.log(2)),
    ("exp2", -1074.0, 5e-324, None),  # the smallest subnormal, exactly
    ("exp2", 1024.0, inf, inf),
    ("exp2", -inf, 0.0, 0.0),
    ("log2", 1024.0, 10.0, 1.0 / (1024.0 * math.log(2))),
    ("log2", 0.0, -inf, inf),
    ("log2", 5e-324, -1074.0, None),
    ("log2", -1.0, nan, None),
    ("log2", inf, inf, 0.0),
    ("log10", 1000.0, 3.0, 1.0 / (1000.0 * math.log(10))),
    ("log10", 0.0, -inf, inf),
    ("log10", -1.0, nan, None),
    ("log10", inf, inf, 0.0),
    ("cbrt", -8.0, -2.0, 1.0 / 12.0),  # the real cube root, unlike x**(1/3)
    ("cbrt", 27.0, 3.0, 1.0 / 27.0),
    ("cbrt", 0.0, 0.0, inf),
    ("cbrt", -0.0, -0.0, inf),
    ("cbrt", inf, inf, 0.0),
    ("cbrt", -inf, -inf, 0.0),
    ("cbrt", 5e-324, exact_float(sp.cbrt(sp.Float(5e-324, 50))), None),
    ("Abs", 0.0, 0.0, 0.0),  # d|x|/dx = sign(x) = 0 at 0
    ("Abs", -0.0, 0.0, 0.0),
    ("Abs", inf, inf, 1.0),
    ("Abs", -inf, inf, -1.0),
    ("sign", 0.0, 0.0, 0.0),
    ("sign", -0.0, 0.0, 0.0),
    ("sign", inf, 1.0, 0.0),
    ("sign", -inf, -1.0, 0.0),
    ("floor", -0.5, -1.0, 0.0),
    ("floor", 2.0, 2.0, 0.0),
    ("floor", inf, inf, 0.0),
    ("floor", -inf, -inf, 0.0),
    ("ceiling", -0.5, 0.0, 0.0),
    ("ceiling", 2.0, 2.0, 0.0),
    ("ceiling", -inf, -inf, 0.0),
    ("Heaviside", 0.0, 0.5, 0.0),
    ("Heaviside", -0.0, 0.5, 0.0),
    ("Heaviside", inf, 1.0, 0.0),
    ("Heaviside", -inf, 0.0, 0.0),
    ("Heaviside(x,0)", 0.0, 0.0, 0.0),
    ("Heaviside(x,1)", 0.0, 1.0, 0.0),
    ("x**2", inf, inf, inf),
    ("x**2", -inf, inf, -inf),
    ("x**3", -inf, -inf, inf),
    ("x**25", 1e13, inf, inf),  # overflows
    ("x**25", -1e13, -inf, inf),
    ("x**25", 0.0, 0.0, 0.0),
    ("x**-1", 0.0, inf, -inf),
    ("x**-1", -0.0, -inf, -inf),
    ("x**-1", inf, 0.0, 0.0),
    ("x**-2", 0.0, inf, NONFINITE),  # -2/x**3: no two-sided limit
    ("x**-2", -0.0, inf, NONFINITE),
    ("x**-3", 0.0, inf, -inf),  # -3/x**4 → -inf from both sides
    ("x**-3", -0.0, -inf, -inf),
    ("x**2.5", 0.0, 0.0, 0.0),
    ("x**2.5", -1.0, nan, nan),
    ("x**2.5", inf, inf, inf),
    ("x**(1/3)", 0.0, 0.0, inf),
    ("x**(1/3)", -8.0, nan, nan),  # principal (complex) root: not real
    ("x**(3/2)", 0.0, 0.0, 0.0),
    ("x**(-5/2)", 0.0, inf, -inf),
]


@pytest.mark.parametrize(
    ("case_id", "point", "value", "derivative"),
    SPECIAL,
    ids=[f"{c}-at-{p!r}" for c, p, _, _ in SPECIAL],
)
def test_unary_special_value(unary: UnaryKernels, case_id, point, value, derivative) -> None:
    got = unary.value(case_id, [point])
    assert_precise_equal(got, [[value]], f"({case_id} at {point!r})")
    if derivative is None or not UNARY_BY_ID[case_id].differentiable:
        return
    got_d = unary.derivative(case_id, [point])
    if derivative == NONFINITE:
        assert not np.isfinite(got_d).any(), f"d/dx {case_id} at {point!r}: got {got_d}"
    else:
        assert_precise_equal(got_d, [[derivative]], f"(d/dx {case_id} at {point!r})")


@pytest.mark.parametrize("case", UNARY, ids=_ids(UNARY))
def test_unary_nan_propagates(unary: UnaryKernels, case: Unary) -> None:
    assert np.isnan(unary.value(case.id, [nan])).all()
    if case.differentiable:
        d = unary.derivative(case.id, [nan])
        if case.step:
            assert np.all(d == 0.0)  # structural zero
        else:
            assert np.isnan(d).all()


ODD = ["sin", "tan", "asin", "atan", "sinh", "tanh", "asinh", "atanh", "erf", "x**3"]
ODD += ["expm1", "log1p", "cbrt"]


@pytest.mark.parametrize("case_id", [*ODD, "floor", "ceiling"])
def test_unary_odd_functions_keep_the_sign_of_zero(unary: UnaryKernels, case_id: str) -> None:
    # IEEE 754 / C99 Annex F: f(±0) = ±0 for odd functions that vanish at 0
    assert_same_float(unary.value(case_id, [0.0, -0.0]), [[0.0], [-0.0]])


def test_sqrt_and_abs_of_signed_zero(unary: UnaryKernels) -> None:
    assert_same_float(unary.value("sqrt", [-0.0]), [[-0.0]])  # IEEE 754 squareRoot(-0) = -0
    assert_same_float(unary.value("Abs", [-0.0]), [[0.0]])
    assert_same_float(unary.value("x**2", [-0.0]), [[0.0]])


# -- accuracy where the function is well-conditioned ----------------------------------------


def test_tanh_and_coth_derivatives_are_accurate_for_large_arguments() -> None:
    # tanh'(x) = sech(x)**2 and coth'(x) = -csch(x)**2 are well-conditioned for large |x|
    # (condition number ~2|x|), so a double kernel can get them to ~1e-14; 1 - tanh(x)**2
    # cancels catastrophically (1e-8 relative error at x = 10, 0 instead of 1.7e-17 at 20)
    exprs = [sp.tanh(X), sp.coth(X)]
    pts = np.array([[5.0], [10.0], [15.0], [20.0], [-20.0], [30.0]])
    want = SympyReference(exprs, [X]).jacobian(pts)
    assert np.all(np.isfinite(want) & (want != 0))
    jac = compile_jacobian(exprs, [X])
    assert_precise_equal(jac(pts).reshape(-1, 1), want.reshape(-1, 1))


def test_derivative_rules_do_not_overflow_for_large_or_tiny_arguments() -> None:
    # the inputs and the exact derivatives are ordinary doubles; only a naive x**2 + y**2
    # or a**2 + 1 inside the derivative rule overflows or underflows
    exprs = [sp.asinh(X), sp.atan2(Y, X), sp.acosh(X)]
    pts = np.array([[3e200, 4e200], [3e-200, 4e-200], [3e200, -1e-300], [1e150, 1e150]])
    want = SympyReference(exprs, [X, Y]).jacobian(pts)
    assert np.isfinite(want[:, :2]).all()
    jac = compile_jacobian(exprs, [X, Y])
    assert_precise_equal(jac(pts), want)


# -- numbers -------------------------------------------------------------------------------


def _wide_doubles(n: int, seed: int, max_exp: int = 300) -> np.ndarray:
    rng = np.random.default_rng(seed)
    mant = rng.uniform(1.0, 2.0, n) * rng.choice([-1.0, 1.0], n)
    vals = np.ldexp(mant, rng.integers(-max_exp, max_exp, n))
    return np.concatenate([vals, [1.0, 3.0, -3.0, 0.1, 1e-310, 5e-324, 1e300]])


def test_rational_one_third_times_x_is_x_divided_by_three() -> None:
    f = compile_function([X * sp.Rational(1, 3), X / 3], [X])
    xs = _wide_doubles(2000, seed=1)
    got = f(xs.reshape(-1, 1))
    want = np.array([float(Fraction(v) / 3) for v in xs])  # correctly rounded x/3
    assert_same_float(got[:, 0], xs / 3.0)  # IEEE division: bit for bit
    assert_same_float(got[:, 0], want)
    assert_same_float(got[:, 1], want)


def test_rational_coefficient_is_one_correctly_rounded_division() -> None:
    # documented: p/q * x is (p*x)/q, exact p*x then one division — correctly rounded
    # (2*x is exact, so 2/3 * x is correctly rounded; 5*x is not, so -5/7 * x is -(5*x)/7)
    f = compile_function([sp.Rational(2, 3) * X, sp.Rational(-5, 7) * X], [X])
    xs = _wide_doubles(1000, seed=2, max_exp=290)
    got = f(xs.reshape(-1, 1))
    assert_same_float(got[:, 0], [float(Fraction(v) * Fraction(2, 3)) for v in xs])
    assert_same_float(got[:, 1], -(5.0 * xs) / 7.0)
    exact = [float(Fraction(v) * Fraction(-5, 7)) for v in xs]
    assert_precise_equal(got[:, 1:], np.reshape(exact, (-1, 1)), rtol=3e-16)


CONSTANTS = [
    sp.Rational(1, 3),
    sp.Rational(-7, 3),
    sp.Rational(1, 10),
    sp.Rational(7, 10**25),
    sp.Integer(2**60 + 1),
    sp.Integer(-12345),
    sp.Float("0.1"),
    sp.Float("0.1", 40),
    sp.Float("1.2345678901234567890123456789e-200", 30),
    sp.pi,
    sp.E,
    sp.pi / 7,
    sp.sqrt(2),
    sp.log(2),
    sp.exp(sp.Rational(1, 2)),
    sp.EulerGamma,
    sp.GoldenRatio,
    sp.cos(1) ** 2,
]


@pytest.mark.parametrize("const", CONSTANTS, ids=[str(c) for c in CONSTANTS])
def test_constant_is_the_correctly_rounded_double(const) -> None:
    f = compile_function([const, X + const], [X])
    got = f(np.array([0.0]))
    assert_same_float(got, [exact_float(const)] * 2)


def test_constants_sympy_cannot_evaluate_are_computed_by_the_kernel() -> None:
    # sympy.codegen.cfunctions.Cbrt(2) has no numerical evaluation (N(Cbrt(2)) is Cbrt(2)):
    # it was a NaN constant; now the kernel's own cbrt folds it
    consts = [cf.Cbrt(2), cf.Cbrt(sp.Float(-1.49)), sp.sin(cf.Cbrt(3)) ** 2]
    exact = [
        exact_float(sp.cbrt(2)),
        -exact_float(sp.cbrt(sp.Float(1.49))),
        exact_float(sp.sin(sp.cbrt(3)) ** 2),
    ]
    f = compile_function([X * c for c in consts], [X])
    assert_precise_equal(f(np.array([2.0])), [2 * e for e in exact], rtol=4e-16)
    jac = compile_jacobian([X * c for c in consts], [X])
    assert_precise_equal(jac(np.array([2.0]))[:, 0], exact, rtol=4e-16)


def test_numbers_inside_expressions() -> None:
    exprs = (
        sp.pi * X,
        X / sp.E,
        sp.Float("0.1") * X + sp.Rational(3, 7),
        X ** sp.Integer(2) * sp.Rational(-1, 3),
        sp.sqrt(3) * Y - X * sp.Integer(10**20),
        sp.Rational(1, 10**30) * X * Y,
    )
    check_problem(Problem("numbers", exprs, (X, Y), (), ((1.5, -2.25), (-0.3, 7.0), (1e3, 1e-3))))


NON_REAL_CONSTANTS = [
    ("log(-2)", sp.log(-2)),
    ("log(-2) unevaluated", sp.log(-2, evaluate=False)),
    ("zoo", sp.zoo),
    ("sqrt(-2)", sp.sqrt(-2)),
    ("asin(2)", sp.asin(2)),
]


@pytest.mark.filterwarnings("ignore::RuntimeWarning")  # symjac may warn about I; allowed
@pytest.mark.parametrize(
    "const", [c for _, c in NON_REAL_CONSTANTS], ids=[i for i, _ in NON_REAL_CONSTANTS]
)
def test_non_real_constants_become_nan(const) -> None:
    assert math.isnan(exact_float(const))  # the reference agrees: not a real number
    f = compile_function([X + const, X * const], [X])
    assert np.isnan(f(np.array([1.5]))).all()
    jac = compile_jacobian([X * const], [X])
    assert np.isnan(jac(np.array([1.5]))).all()


# -- functions of several arguments -------------------------------------------------------

ARITHMETIC = Problem(
    "arithmetic",
    (
        X * Y - A * Z,
        X / Y + Y / Z,
        (X + 2 * Y) * (Z - A) / (X**2 + 1),
        -X,
        X - Y,
        X * Y * Z * A,
        (X + Y + Z) ** 3 - X ** sp.Rational(-3) * Y,
    ),
    (X, Y, Z),
    (A,),
    ((1.5, -2.0, 0.75), (-0.3, 4.0, 2.5), (2.0, 0.5, -1.25)),
    (0.7,),
)

POWERS = Problem(
    "x**y",
    (X**Y, X**A, Y**X, (X**2 + 1) ** (Y / 3)),
    (X, Y),
    (A,),
    ((0.5, 1.7), (2.0, 0.3), (3.1, 2.0), (1.2, 10.0)),
    (2.5,),
)

ATAN2 = Problem(
    "atan2",
    (sp.atan2(Y, X), sp.atan2(X * Y, A), sp.atan2(Y - 1, X + Y)),
    (X, Y),
    (A,),
    ((1.0, 2.0), (-1.0, 2.0), (1.0, -2.0), (-1.0, -2.0), (3.0, 0.5), (-2.0, 1e-3)),
    (-0.5,),
)

HEAVISIDE_PARAM = Problem(
    "Heaviside(x, h)",
    (sp.Heaviside(X, H) + Y, sp.Heaviside(X - Y, H) * Y, sp.Heaviside(X * Y - 1, H)),
    (X, Y),
    (H,),
    ((0.0, 2.0), (1.0, 1.0), (-1.0, 0.5), (2.0, 0.5), (0.5, 0.5)),
    (0.25,),
    fd_points=((-1.0, 0.5), (0.5, 0.25)),
)

HEAVISIDE_VARIABLE_H0 = Problem(
    "Heaviside(x - y, z)",  # d/dz is [x == y]
    (sp.Heaviside(X - Y, Z), sp.Heaviside(X, Z) * Z),
    (X, Y, Z),
    (),
    ((1.0, 1.0, 0.3), (2.0, 1.0, 0.3), (0.0, -1.0, 0.7), (-1.0, 2.0, 0.7)),
    fd_points=((2.0, 1.0, 0.3), (-1.0, 2.0, 0.7)),
)

PIECEWISE_CHAIN = Problem(
    "Piecewise chain",
    (
        sp.Piecewise((X**2, X < 0), (sp.sin(X), X <= 1), (sp.exp(X), True)),
        sp.Piecewise((0, X < 0), (X, True)),
        sp.Piecewise((X * A, X < A), (X**2 * Y, True)),
    ),
    (X, Y),
    (A,),
    ((-1.5, 2.0), (-0.2, 2.0), (0.3, -1.0), (1.0, 3.0), (2.0, 0.5), (0.0, 1.0), (0.5, 1.0)),
    (0.5,),
    fd_points=((-1.5, 2.0), (-0.2, 2.0), (0.3, -1.0), (2.0, 0.5)),
)

PIECEWISE_LOGIC = Problem(
    "Piecewise And/Or/Not/Eq/Ne",
    (
        sp.Piecewise(
            (X * Y, sp.And(X > 0, Y > 0)),
            (X + Y, sp.Or(X < -1, sp.Not(Y < 2))),
            (X**2 - Y, sp.Eq(X, Y)),
            (X * Y**2, sp.Ne(X, sp.Rational(-1, 2))),
        ),
        sp.Piecewise((X - Y, X >= Y), (Y**2, True)),
        sp.Piecewise((sp.cos(X * Y), sp.Or(sp.And(X > 1, Y < 1), sp.Not(X > -3))), (X, True)),
    ),
    (X, Y),
    (),
    # branch 1, 2 (x<-1), 2 (not y<2), 3 (x == y), 4, nothing matches (NaN)
    ((1.0, 2.0), (-2.0, 0.5), (-0.5, 3.0), (-0.7, -0.7), (0.0, 1.0), (-0.5, 1.0), (-4.0, 1.0)),
    fd_points=((1.0, 2.0), (-2.0, 0.5), (-0.5, 3.0), (2.0, 0.5), (-4.0, 1.0)),
    allow_nonfinite=True,
)

SEVERAL = [ARITHMETIC, POWERS, ATAN2, HEAVISIDE_PARAM, HEAVISIDE_VARIABLE_H0]
SEVERAL += [PIECEWISE_CHAIN, PIECEWISE_LOGIC]


@pytest.mark.parametrize("prob", SEVERAL, ids=[p.id for p in SEVERAL])
def test_several_arguments(prob: Problem) -> None:
    check_problem(prob)


def test_piecewise_first_true_branch_wins_and_no_match_is_nan() -> None:
    pw = sp.Piecewise((1 + X, X > 0), (2 + X, X > -1), (3 * X, X < -5))
    f = compile_function([pw], [X])
    jac = compile_jacobian([pw], [X])
    xs = np.array([0.5, 2.0, 0.0, -0.5, -2.0, -6.0, -5.0])
    # written out by hand: the first branch whose condition holds
    want = [1.5, 3.0, 2.0, 1.5, nan, -18.0, nan]
    want_d = [1.0, 1.0, 1.0, 1.0, nan, 3.0, nan]
    assert_precise_equal(f(xs.reshape(-1, 1))[:, 0], want)
    assert_precise_equal(jac(xs.reshape(-1, 1))[:, 0, 0], want_d)


def test_piecewise_relational_boundaries() -> None:
    exprs = [
        sp.Piecewise((1, X < Y), (0, True)),
        sp.Piecewise((1, X <= Y), (0, True)),
        sp.Piecewise((1, X > Y), (0, True)),
        sp.Piecewise((1, X >= Y), (0, True)),
        sp.Piecewise((1, sp.Eq(X, Y)), (0, True)),
        sp.Piecewise((1, sp.Ne(X, Y)), (0, True)),
    ]
    f = compile_function(exprs, [X, Y])
    pts = np.array([[1.0, 2.0], [2.0, 2.0], [3.0, 2.0], [-0.0, 0.0]])
    want = [[1, 1, 0, 0, 0, 1], [0, 1, 0, 1, 1, 0], [0, 0, 1, 1, 0, 1], [0, 1, 0, 1, 1, 0]]
    assert_same_float(f(pts), np.array(want, dtype=float))


def test_atan2_special_values() -> None:
    # C99 Annex F.9.1.4
    f = compile_function([sp.atan2(Y, X)], [X, Y])
    cases = [
        ((1.0, 0.0), 0.0),
        ((1.0, -0.0), -0.0),
        ((-1.0, 0.0), PI),
        ((-1.0, -0.0), -PI),
        ((0.0, 0.0), 0.0),
        ((-0.0, 0.0), PI),
        ((0.0, 1.0), PI / 2),
        ((-0.0, -1.0), -PI / 2),
        ((inf, inf), PI / 4),
        ((-inf, -inf), -3 * PI / 4),
        ((inf, 2.0), 0.0),
        ((-inf, 2.0), PI),
        ((nan, 1.0), nan),
    ]
    pts = np.array([pt for pt, _ in cases])
    assert_same_float(f(pts)[:, 0], [v for _, v in cases])
    jac = compile_jacobian([sp.atan2(Y, X)], [X, Y])
    assert np.isnan(jac(np.array([0.0, 0.0]))).all()  # no derivative at the origin


def test_atan2_with_a_zero_argument_is_piecewise_constant_in_the_other() -> None:
    # atan2(y, 0) = ±π/2 and atan2(0, x) = 0 or π: jumps, whose Dirac part is dropped
    # (as for sign), so the entries are structural zeros even at the origin, as in SymPy
    jac = compile_jacobian([sp.atan2(Y, 0) + X, sp.atan2(0, X) + Y], [X, Y])
    assert jac.pattern.to_dense().tolist() == [[True, False], [False, True]]
    pts = np.array([[0.0, 0.0], [-0.0, 2.0], [1.5, -0.0]])
    assert_same_float(jac(pts), np.broadcast_to(np.eye(2), (3, 2, 2)))


HYPOT = Problem(
    "hypot",
    (cf.hypot(X, Y), cf.hypot(X * Y, A), cf.hypot(Y - 1, X + Y) * X),
    (X, Y),
    (A,),
    ((1.0, 2.0), (-1.0, 2.0), (3.0, -4.0), (-2.0, 1e-3), (1e150, 1e-160)),
    (-0.5,),
    fd_points=((1.0, 2.0), (-1.0, 2.0), (3.0, -4.0)),
)


def test_hypot_values_and_jacobian() -> None:
    check_problem(HYPOT)


def test_hypot_special_values() -> None:
    # C99 Annex F.9.4.3: an infinite argument gives +inf even with a NaN; no overflow of x²
    f = compile_function([cf.hypot(X, Y)], [X, Y])
    cases = [
        ((3.0, 4.0), 5.0),
        ((-3.0, -4.0), 5.0),
        ((0.0, -0.0), 0.0),
        ((inf, nan), inf),
        ((nan, -inf), inf),
        ((nan, 1.0), nan),
        ((1e300, 1e300), 1e300 * math.sqrt(2.0)),
        ((5e-324, 0.0), 5e-324),
    ]
    pts = np.array([pt for pt, _ in cases])
    assert_precise_equal(f(pts)[:, 0], [v for _, v in cases])
    jac = compile_jacobian([cf.hypot(X, Y)], [X, Y])
    assert_precise_equal(jac(np.array([3.0, -4.0])), [[0.6, -0.8]])
    assert np.isnan(jac(np.array([0.0, 0.0]))).all()  # 0/0: no derivative at the origin


def test_pow_with_negative_base() -> None:
    jac = compile_jacobian([X**Y], [X, Y])
    f = compile_function([X**Y], [X, Y])
    # (-2)**3 = -8 is real, d/dx = 3*(-2)**2 = 12, d/dy = (-2)**3*log(-2) is not real
    assert_precise_equal(f(np.array([-2.0, 3.0])), [-8.0])
    assert_precise_equal(jac(np.array([-2.0, 3.0])), [[12.0, nan]])
    # (-2)**0.5 is not real
    assert np.isnan(f(np.array([-2.0, 0.5]))).all()
    assert np.isnan(jac(np.array([-2.0, 0.5]))).all()
    # x**0 == 1 everywhere, even at 0 and inf (as SymPy and C99 pow)
    assert_same_float(f(np.array([[0.0, 0.0], [inf, 0.0], [-3.0, 0.0]]))[:, 0], [1.0, 1.0, 1.0])


# -- Max and Min ---------------------------------------------------------------------------


def test_max_min_jacobian_of_two_arguments() -> None:
    # (the derivative of a two-argument Max/Min needs comparisons only, not the maximum)
    exprs = [sp.Max(X, Y), sp.Min(X, Y), sp.Max(X, 0)]
    pts = ((1.0, 2.0), (3.0, 2.0), (-1.0, 0.5), (2.0, 2.0), (0.0, 1.5), (-0.0, 0.0))
    ref = SympyReference(exprs, [X, Y])
    jac = compile_jacobian(exprs, [X, Y])
    # at a tie the derivative is the mean of the two one-sided derivatives (1/2 each)
    assert_precise_equal(jac(np.array(pts)), ref.jacobian(np.array(pts)))
    assert_precise_equal(jac(np.array([2.0, 2.0]))[:2], [[0.5, 0.5], [0.5, 0.5]])


def test_max_min_nan_arguments_give_nan_derivatives() -> None:
    jac = compile_jacobian([sp.Max(X, Y), sp.Min(X, Y)], [X, Y])
    for pt in ([nan, 1.0], [1.0, nan], [nan, nan]):
        assert np.isnan(jac(np.array(pt))).all(), pt


MAX_MIN = Problem(
    "Max/Min",
    (
        sp.Max(X, Y),
        sp.Min(X, Y),
        sp.Max(X, Y, Z),
        sp.Min(X, 2 * Y, Z - 1),
        sp.Max(X, 0) * Y,
        sp.sin(sp.Max(X, Y)),
        sp.Min(X**2, Y * Z, A),
    ),
    (X, Y, Z),
    (A,),
    # ordinary points, then two-way ties (x = y, x = z, x = 2y, max(x, 0) at 0)
    (
        *((1.0, 2.0, 3.0), (3.0, 2.0, 1.0), (-1.2, 0.5, 2.0)),
        *((2.0, 2.0, 1.0), (1.0, 0.5, 1.0), (1.0, 0.5, 3.0), (0.0, 1.0, -1.0)),
    ),
    (1.5,),
    fd_points=((1.0, 2.0, 3.0), (3.0, 2.0, 1.0), (-1.2, 0.5, 2.0)),
)


def test_max_min_values_and_jacobian() -> None:
    check_problem(MAX_MIN)


def test_max_min_special_values() -> None:
    f = compile_function([sp.Max(X, Y), sp.Min(X, Y), sp.Max(X, Y, Z)], [X, Y, Z])
    assert_precise_equal(f(np.array([inf, 1.0, 0.0])), [inf, 1.0, inf])
    assert_precise_equal(f(np.array([-inf, 1.0, 0.0])), [1.0, -inf, 1.0])
    assert np.isnan(f(np.array([nan, 1.0, 0.0]))).all()
    assert np.isnan(f(np.array([1.0, 2.0, nan])))[2]


def test_max_min_three_way_tie() -> None:
    # at x = y = z, increasing any one argument raises Max with slope 1 and decreasing it
    # leaves Max unchanged: the mean of the one-sided partial derivatives is 1/2 for each,
    # which is also SymPy's sum of Heaviside(a_i - max of the others) with H(0) = 1/2;
    # Min likewise. (A left-to-right fold of the two-argument rule gives 1/4, 1/4, 1/2.)
    exprs = [sp.Max(X, Y, Z), sp.Min(X, Y, Z)]
    jac = compile_jacobian(exprs, [X, Y, Z])
    want = SympyReference(exprs, [X, Y, Z]).jacobian(np.array([[1.0, 1.0, 1.0]]))[0]
    assert_precise_equal(want, np.full((2, 3), 0.5))
    assert_precise_equal(jac(np.array([1.0, 1.0, 1.0])), want)


# -- structural zeros ----------------------------------------------------------------------


def test_piecewise_constant_functions_are_structural_zeros() -> None:
    exprs = [
        sp.sign(X) + Y,
        sp.floor(X * Y),
        sp.ceiling(X) * Z,
        sp.Heaviside(X - Y),
        sp.Heaviside(X, sp.Rational(3, 10)) * Z,
        sp.sign(X) * sp.floor(Y) * sp.Heaviside(Z),
        sp.floor(sp.sin(X)) + sp.ceiling(Y**2),
    ]
    ref = SympyReference(exprs, [X, Y, Z])
    want_pattern = ~ref.is_structurally_zero()
    jac = compile_jacobian(exprs, [X, Y, Z])
    assert np.array_equal(jac.pattern.to_dense(), want_pattern), str(jac.pattern)
    pts = np.array([[0.5, -1.5, 2.0], [-2.0, 0.25, -0.5], [0.0, 0.0, 0.0]])
    assert_precise_equal(jac(pts), ref.jacobian(pts))
    check_values_agree_with_dense(jac, pts)


def test_a_bare_symbol_is_a_valid_output() -> None:
    # the identity map and a symbol that SymPy simplifies to (Abs(t) for positive t)
    t = sp.Symbol("t", positive=True)
    f = compile_function([X, Y, sp.Abs(t)], [X, Y, t])
    assert_same_float(f(np.array([1.5, -2.0, 3.0])), [1.5, -2.0, 3.0])
    jac = compile_jacobian([X, Y, sp.Abs(t)], [X, Y, t])
    assert_same_float(jac(np.array([1.5, -2.0, 3.0])), np.eye(3))


def test_abs_derivative_is_sign() -> None:
    # d|x|/dx = sign(x), 0 at 0; for a symbol with or without real=True
    for sym in (sp.Symbol("t"), sp.Symbol("t", real=True), sp.Symbol("t", integer=True)):
        jac = compile_jacobian([sp.Abs(sym), sp.Abs(sym**3 - 1)], [sym])
        got = jac(np.array([[-2.0], [0.0], [0.5], [1.0], [3.0]]))
        want = [[[-1.0], [-12.0]], [[0.0], [0.0]], [[1.0], [-0.75]], [[1.0], [0.0]]]
        want += [[[1.0], [27.0]]]
        assert_precise_equal(got, want, f"(assumptions {sym.assumptions0})")


# -- process-level sanity ------------------------------------------------------------------


def test_freeing_a_compiled_kernel_does_not_break_later_compilations() -> None:
    # Compile, drop the result, compile again: a real program does this all the time.
    code = textwrap.dedent(
        """
        import gc, math
        import numpy as np, sympy as sp, symjac
        x = sp.Symbol("x")
        for i in range(30):
            f = symjac.function([sp.sin(x) + i], [x])
            assert abs(f(np.array([0.5]))[0] - (math.sin(0.5) + i)) < 1e-12
            jac = symjac.jacobian([sp.sin(x) * i], [x])
            assert abs(jac(np.array([0.5]))[0, 0] - math.cos(0.5) * i) < 1e-12
            del f, jac
            gc.collect()
        print("ok")
        """
    )
    proc = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, timeout=300)
    assert proc.returncode == 0 and proc.stdout.strip() == "ok", (
        f"exit status {proc.returncode}; stderr: {proc.stderr[-2000:]}"
    )
