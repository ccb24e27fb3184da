"""symjac.ode: fun/jac/jac_sparsity as solve_ivp calls them, against hand-written NumPy and a
closed-form solution of a non-autonomous system."""

from __future__ import annotations

import numpy as np
import pytest
import scipy.sparse
import sympy as sp
from scipy.integrate import solve_ivp

import symjac

t, a, b = sp.symbols("t a b", real=True)
Y = sp.symbols("y0:3", real=True)
# Robertson's kinetics with a time-dependent forcing on the first species
RHS = [
    -a * Y[0] + b * Y[1] * Y[2] + sp.Rational(1, 100) * sp.sin(t) ** 2,
    a * Y[0] - b * Y[1] * Y[2] - 3e7 * Y[1] ** 2,
    3e7 * Y[1] ** 2,
]
P = np.array([0.04, 1e4])


def hand_fun(tt, y, p):
    ka, kb = p
    return np.array(
        [
            -ka * y[0] + kb * y[1] * y[2] + 0.01 * np.sin(tt) ** 2,
            ka * y[0] - kb * y[1] * y[2] - 3e7 * y[1] ** 2,
            3e7 * y[1] ** 2,
        ]
    )


def hand_jac(tt, y, p):
    ka, kb = p
    return np.array(
        [
            [-ka, kb * y[2], kb * y[1]],
            [ka, -kb * y[2] - 6e7 * y[1], -kb * y[1]],
            [0.0, 6e7 * y[1], 0.0],
        ]
    )


@pytest.fixture(scope="module")
def robertson():
    return symjac.ode(RHS, t, Y, [a, b])


def test_fun_and_jac_equal_hand_written_numpy(robertson) -> None:
    rng = np.random.default_rng(5)
    for _ in range(20):
        tt, y = rng.uniform(0, 10), rng.uniform(0, 1, 3)
        np.testing.assert_allclose(robertson.fun(tt, y, P), hand_fun(tt, y, P), rtol=1e-14)
        np.testing.assert_allclose(robertson.jac(tt, y, P), hand_jac(tt, y, P), rtol=1e-14)
    assert robertson.jac_sparsity.toarray().tolist() == [[1, 1, 1], [1, 1, 1], [0, 1, 0]]


def test_solve_ivp_with_jac_and_with_jac_sparsity_agree_with_hand_written(robertson) -> None:
    y0 = [1.0, 0.0, 0.0]
    kw = {"method": "BDF", "rtol": 1e-8, "atol": 1e-12, "args": (P,)}
    ours = solve_ivp(robertson.fun, (0, 40), y0, jac=robertson.jac, **kw)
    theirs = solve_ivp(hand_fun, (0, 40), y0, jac=hand_jac, **kw)
    sparse = solve_ivp(robertson.fun, (0, 40), y0, jac_sparsity=robertson.jac_sparsity, **kw)
    assert ours.success and theirs.success and sparse.success
    np.testing.assert_allclose(ours.y[:, -1], theirs.y[:, -1], rtol=1e-6, atol=1e-12)
    np.testing.assert_allclose(sparse.y[:, -1], theirs.y[:, -1], rtol=1e-5, atol=1e-11)
    np.testing.assert_allclose(ours.y[:, -1].sum(), 1.0 + 0.01 * (20 - np.sin(80) / 4), rtol=1e-6)


def test_a_non_autonomous_system_matches_its_closed_form() -> None:
    # u' = -2u + v·t, v' = -v: v = v0 e^-t, u by variation of constants
    u, v = sp.symbols("u v", real=True)
    o = symjac.ode([-2 * u + v * t, -v], t, [u, v])
    sol = solve_ivp(o.fun, (0, 3), [1.0, 2.0], method="Radau", jac=o.jac, rtol=1e-11, atol=1e-13)
    tt = 3.0
    # u = e^{-2t} (u0 + v0 ∫ s e^{s} ds) = e^{-2t} (u0 + v0 ((t - 1) e^t + 1))
    exact_u = np.exp(-2 * tt) * (1.0 + 2.0 * ((tt - 1) * np.exp(tt) + 1))
    np.testing.assert_allclose(sol.y[:, -1], [exact_u, 2.0 * np.exp(-tt)], rtol=1e-8)


def test_vectorized_fun_equals_column_by_column(robertson) -> None:
    ys = np.random.default_rng(1).uniform(0, 1, (3, 7))
    got = robertson.fun(0.5, ys, P)
    assert got.shape == (3, 7)
    for k in range(7):
        np.testing.assert_array_equal(got[:, k], robertson.fun(0.5, ys[:, k], P))
    sol = solve_ivp(
        robertson.fun, (0, 1), [1, 0, 0], method="BDF", vectorized=True, args=(P,), rtol=1e-6
    )
    assert sol.success


def test_large_sparse_systems_get_sparse_jacobians() -> None:
    n = 200
    u = sp.symbols(f"u0:{n}", real=True)
    rhs = [(u[i - 1] if i else 0) - 2 * u[i] + (u[i + 1] if i < n - 1 else 0) for i in range(n)]
    o = symjac.ode(rhs, t, u)
    J = o.jac(0.0, np.ones(n))
    assert scipy.sparse.issparse(J) and J.nnz == 3 * n - 2
    dense = symjac.ode(rhs, t, u, sparse=False).jac(0.0, np.ones(n))
    np.testing.assert_array_equal(J.toarray(), dense)


def test_bad_calls_say_what_was_expected(robertson) -> None:
    y = np.ones(3)
    with pytest.raises(TypeError, match="args=\\(p,\\)"):
        robertson.fun(0.0, y)
    with pytest.raises(ValueError, match="2 parameters"):
        robertson.fun(0.0, y, [1.0])
    with pytest.raises(ValueError, match="shape"):
        robertson.fun(0.0, np.ones((4, 2)), P)
    with pytest.raises(TypeError, match="no parameters"):
        symjac.ode([-Y[0]], t, [Y[0]]).fun(0.0, [1.0], P)
    with pytest.raises(TypeError, match="time Symbol"):
        symjac.ode(RHS, [t], Y, [a, b])
    with pytest.raises(ValueError, match="3 expressions for 2 states"):
        symjac.ode(RHS, t, Y[:2], [a, b])
