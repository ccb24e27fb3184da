"""symjac.nlp: cyipopt's protocol against finite differences, and published optima solved by
both IPOPT and trust-constr with their KKT conditions checked."""

from __future__ import annotations

import sys

import numpy as np
import pytest
import scipy.sparse
import sympy as sp
from scipy.optimize import approx_fprime, check_grad

import symjac

X = sp.symbols("x0:4", real=True)
# Hock–Schittkowski 71 (the IPOPT tutorial problem): published optimum
HS071 = {
    "objective": X[0] * X[3] * (X[0] + X[1] + X[2]) + X[2],
    "constraints": [X[0] * X[1] * X[2] * X[3], sum(x**2 for x in X)],
    "x0": [1.0, 5.0, 5.0, 1.0],
    "bounds": {"lb": 1.0, "ub": 5.0, "cl": [25.0, 40.0], "cu": [np.inf, 40.0]},
    "fun": 17.0140172891,
    "x": [1.0, 4.74299963, 3.82114998, 1.37940829],
}
SOLVERS = ["ipopt", "trust-constr"]


@pytest.fixture(scope="module")
def hs071():
    return symjac.nlp(HS071["objective"], X, HS071["constraints"])


def _dense_jacobian(prob, x):
    rows, cols = prob.jacobianstructure()
    J = np.zeros((prob.m, prob.n))
    J[rows, cols] = prob.jacobian(x)
    return J


def _full_hessian(prob, x, lam, sigma):
    rows, cols = prob.hessianstructure()
    H = np.zeros((prob.n, prob.n))
    H[rows, cols] = prob.hessian(x, lam, sigma)
    H[cols, rows] = prob.hessian(x, lam, sigma)
    return H


def test_protocol_methods_against_finite_differences(hs071) -> None:
    rng = np.random.default_rng(3)
    for _ in range(5):
        x = rng.uniform(1, 5, 4)
        assert check_grad(hs071.objective, hs071.gradient, x) < 1e-5 * np.linalg.norm(
            hs071.gradient(x)
        )
        numeric = np.array(
            [approx_fprime(x, lambda z, i=i: hs071.constraints(z)[i], 1e-7) for i in range(2)]
        )
        np.testing.assert_allclose(_dense_jacobian(hs071, x), numeric, rtol=1e-5, atol=1e-5)
        lam, sigma = rng.normal(size=2), rng.uniform(0.5, 2)

        def lagrangian_gradient(z, lam=lam, sigma=sigma):
            return sigma * hs071.gradient(z) + _dense_jacobian(hs071, z).T @ lam

        numeric_h = np.array(
            [approx_fprime(x, lambda z, i=i: lagrangian_gradient(z)[i], 1e-7) for i in range(4)]
        )
        np.testing.assert_allclose(
            _full_hessian(hs071, x, lam, sigma), numeric_h, rtol=1e-5, atol=1e-4
        )
    rows, cols = hs071.hessianstructure()
    assert (rows >= cols).all()  # the lower triangle, as IPOPT wants


def _kkt_residual(prob, res) -> float:
    """‖∇f + Jᵀλ − z_L + z_U‖∞ at the solution (IPOPT's convention)."""
    J = _dense_jacobian(prob, res.x) if prob.m else np.zeros((0, prob.n))
    return float(
        np.max(np.abs(prob.gradient(res.x) + J.T @ res.multipliers - res.z_lower + res.z_upper))
    )


@pytest.mark.parametrize("solver", SOLVERS)
def test_hs071_reaches_its_published_optimum(hs071, solver) -> None:
    res = hs071.solve(HS071["x0"], solver=solver, **HS071["bounds"])
    assert res.success, res.message
    assert res.fun == pytest.approx(HS071["fun"], rel=1e-7)
    np.testing.assert_allclose(res.x, HS071["x"], rtol=1e-6)
    assert _kkt_residual(hs071, res) < 1e-6
    assert res.nit > 0 and res.solver == solver


@pytest.mark.parametrize("solver", SOLVERS)
def test_hs006_an_equality_constraint(solver) -> None:
    x1, x2 = X[:2]
    prob = symjac.nlp((1 - x1) ** 2, [x1, x2], [10 * (x2 - x1**2)])
    res = prob.solve([-1.2, 1.0], cl=0.0, cu=0.0, solver=solver)
    assert res.success, res.message
    np.testing.assert_allclose(res.x, [1.0, 1.0], atol=1e-6)
    assert res.fun == pytest.approx(0.0, abs=1e-10)
    assert _kkt_residual(prob, res) < 1e-6


def test_both_solvers_agree_on_multipliers_and_parameters() -> None:
    x, y = X[:2]
    a = sp.Symbol("a", real=True)
    prob = symjac.nlp((x - a) ** 2 + (y + 1) ** 2, [x, y], [x + y], params=[a])
    ip = prob.solve([0, 0], lb=[-np.inf, 0.0], ub=[1.0, np.inf], cu=[0.5], p=[3.0])
    tc = prob.solve(
        [0, 0], lb=[-np.inf, 0.0], ub=[1.0, np.inf], cu=[0.5], p=[3.0], solver="trust-constr"
    )
    # trust-constr's barrier approaches an active bound slowly: a looser tolerance for it
    for res, tol in ((ip, 1e-8), (tc, 1e-5)):
        assert res.success
        np.testing.assert_allclose(res.x, [0.5, 0.0], atol=tol)  # x + y ≤ 0.5 and y ≥ 0 bind
        assert _kkt_residual(prob, res) < 1e-6
    np.testing.assert_allclose(ip.multipliers, [5.0], atol=1e-6)  # ∂f/∂x = 2(0.5 − 3) = −5
    np.testing.assert_allclose(ip.z_lower, [0.0, 7.0], atol=1e-6)  # z_L = ∂f/∂y + λ = 2 + 5
    np.testing.assert_allclose(tc.multipliers, ip.multipliers, atol=1e-4)
    np.testing.assert_allclose(tc.z_lower, ip.z_lower, atol=1e-4)
    np.testing.assert_allclose(tc.z_upper, ip.z_upper, atol=1e-4)


def test_an_unconstrained_problem_and_sparse_structure() -> None:
    n = 30
    z = sp.symbols(f"z0:{n}", real=True)
    rosen = sum(100 * (z[i + 1] - z[i] ** 2) ** 2 + (1 - z[i]) ** 2 for i in range(n - 1))
    prob = symjac.nlp(rosen, z)
    rows, _cols = prob.hessianstructure()
    assert len(rows) == 2 * n - 1  # tridiagonal: the lower triangle
    for solver in SOLVERS:
        res = prob.solve(np.full(n, -0.5), solver=solver)
        assert res.success
        np.testing.assert_allclose(res.x, np.ones(n), atol=1e-5)
    assert scipy.sparse.issparse(prob._full_hessian(np.ones(n), [], 1.0))


def test_bad_input_says_what_was_expected(hs071, monkeypatch) -> None:
    with pytest.raises(ValueError, match="4 entries"):
        hs071.solve([1, 2, 3])
    with pytest.raises(ValueError, match="lb > ub"):
        hs071.solve(HS071["x0"], lb=[1, 1, 6, 1], ub=5)
    with pytest.raises(ValueError, match="cl > cu"):
        hs071.solve(HS071["x0"], cl=[30, 40], cu=[25, 40])
    with pytest.raises(ValueError, match="2 entries"):
        hs071.solve(HS071["x0"], cl=[1, 2, 3])
    with pytest.raises(ValueError, match="solver must be"):
        hs071.solve(HS071["x0"], solver="snopt")
    with pytest.raises(ValueError, match="one scalar expression"):
        symjac.nlp([X[0], X[1]], X)
    with pytest.raises(ValueError, match="needs p"):
        symjac.nlp(X[0] ** 2 * X[1], [X[0]], params=[X[1]]).solve([1.0])
    with pytest.raises(TypeError, match="sparse"):
        symjac.nlp(X[0] ** 2, [X[0]], sparse=True)
    monkeypatch.setitem(sys.modules, "cyipopt", None)  # as if not installed
    with pytest.raises(ImportError, match=r"symjac\[ipopt\]"):
        hs071.solve(HS071["x0"], solver="ipopt")
