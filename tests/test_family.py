"""The derivative family: f and J together, J·v and wᵀ·J, and Hessians.

References are SymPy's own ``Matrix.jacobian`` and ``sympy.hessian`` evaluated
with ``lambdify``, and finite differences of a compiled gradient.
"""

from __future__ import annotations

import numpy as np
import pytest
import scipy.sparse
import sympy as sp

import symjac
import symjac.compiled
from symjac import SparsityPattern

X, Y, Z = sp.symbols("x y z", real=True)
A, B = sp.symbols("a b", real=True)
L0, L1, L2 = sp.symbols("l0 l1 l2", real=True)
WRT = [X, Y, Z]
PARAMS = [A, B]

# four outputs, three inputs, two parameters; structural zeros in rows 2 and 3
EXPRS = [
    X**2 * Y + A * sp.sin(Z),
    sp.exp(X * Z) - Y**3 * B,
    sp.log(1 + Y**2) * A,
    sp.atan(X) + sp.sqrt(2 + Z**2),
]


def lambdify_matrix(matrix, wrt, params):
    fn = sp.lambdify((list(wrt), list(params)), matrix, "numpy")

    def evaluate(pt, p):
        return np.asarray(fn(list(pt), list(p)), dtype=float)

    return evaluate


def batched(evaluate, pts, ps):
    ps = np.broadcast_to(np.asarray(ps, dtype=float), (len(pts), np.shape(ps)[-1]))
    return np.array([evaluate(q, p) for q, p in zip(pts, ps)])


REF_J = lambdify_matrix(sp.Matrix(EXPRS).jacobian(WRT), WRT, PARAMS)
REF_F = lambdify_matrix(sp.Matrix(EXPRS), WRT, PARAMS)


def ref_f(pt, p):
    return REF_F(pt, p).reshape(-1)


def points(n, dim, seed):
    return np.random.default_rng(seed).uniform(-1.5, 1.5, size=(n, dim))


@pytest.fixture(scope="module")
def fj():
    return symjac.function_and_jacobian(EXPRS, wrt=WRT, params=PARAMS)


@pytest.fixture(scope="module")
def fun():
    return symjac.function(EXPRS, wrt=WRT, params=PARAMS)


@pytest.fixture(scope="module")
def jac():
    return symjac.jacobian(EXPRS, wrt=WRT, params=PARAMS)


# -- function_and_jacobian -------------------------------------------------------------------


def test_function_and_jacobian_single_point(fj, fun, jac):
    pt, p = np.array([0.3, -1.2, 0.8]), np.array([1.5, -0.25])
    f, J = fj(pt, p)
    assert f.shape == (4,) and J.shape == (4, 3)
    assert isinstance(J, np.ndarray)
    np.testing.assert_allclose(f, ref_f(pt, p), rtol=1e-15, atol=1e-300)
    np.testing.assert_allclose(J, REF_J(pt, p), rtol=1e-15, atol=1e-300)
    np.testing.assert_allclose(f, fun(pt, p), rtol=1e-15)
    np.testing.assert_allclose(J, jac(pt, p), rtol=1e-15)
    assert fj.pattern == jac.pattern
    assert fj.shape == jac.shape == (4, 3) and fj.nnz == jac.nnz == 9


def test_function_and_jacobian_batch_with_batched_params(fj, fun, jac):
    pts = points(11, 3, seed=1)
    ps = np.random.default_rng(2).normal(size=(11, 2))
    f, J = fj(pts, ps)
    assert f.shape == (11, 4) and J.shape == (11, 4, 3)
    np.testing.assert_allclose(f, batched(ref_f, pts, ps), rtol=1e-14, atol=1e-15)
    np.testing.assert_allclose(J, batched(REF_J, pts, ps), rtol=1e-14, atol=1e-15)
    np.testing.assert_allclose(f, fun(pts, ps), rtol=1e-15)
    np.testing.assert_allclose(J, jac(pts, ps), rtol=1e-15)
    np.testing.assert_allclose(fj.dense(pts, ps), J, rtol=1e-15)
    for i in (0, 5, 10):
        fi, Ji = fj(pts[i], ps[i])
        np.testing.assert_array_equal(fi, f[i])
        np.testing.assert_array_equal(Ji, J[i])


def test_function_and_jacobian_values(fj, jac):
    pts = points(6, 3, seed=3)
    p = [0.4, 2.0]
    f, nz = fj.values(pts, p)
    assert f.shape == (6, 4) and nz.shape == (6, fj.nnz)
    dense = batched(REF_J, pts, p)
    np.testing.assert_allclose(nz, dense[:, fj.pattern.rows, fj.pattern.cols], rtol=1e-14)
    np.testing.assert_allclose(f, batched(ref_f, pts, p), rtol=1e-14, atol=1e-15)
    np.testing.assert_allclose(nz, jac.values(pts, p), rtol=1e-15)
    f1, nz1 = fj.values(pts[2], p)
    assert f1.shape == (4,) and nz1.shape == (fj.nnz,)
    np.testing.assert_array_equal(nz1, nz[2])
    # out= is the whole (m + nnz) row
    out = np.full((6, 4 + fj.nnz), np.nan)
    f2, nz2 = fj.values(pts, p, out=out)
    assert np.shares_memory(f2, out) and np.shares_memory(nz2, out)
    np.testing.assert_array_equal(out[:, :4], f)
    np.testing.assert_array_equal(out[:, 4:], nz)


def test_function_and_jacobian_refuses_out_on_call(fj):
    with pytest.raises(TypeError):
        fj(np.zeros(3), [1.0, 1.0], out=np.empty((4, 3)))


def test_function_and_jacobian_dense_out(fj):
    pt, p = np.array([0.1, 0.2, 0.3]), [1.0, 1.0]
    out = np.full((4, 3), np.nan)
    assert fj.dense(pt, p, out=out) is out
    np.testing.assert_allclose(out, REF_J(pt, p), rtol=1e-15, atol=1e-300)


def test_function_and_jacobian_sparse_method(fj):
    """``sparse()`` is documented on every Jacobian object: J alone as a csr_array."""
    pt, p = np.array([0.3, -1.2, 0.8]), np.array([1.5, -0.25])
    result = fj.sparse(pt, p)
    assert isinstance(result, scipy.sparse.csr_array)
    np.testing.assert_allclose(result.toarray(), REF_J(pt, p), rtol=1e-15, atol=1e-300)


def test_function_and_jacobian_sparse_output():
    fjs = symjac.function_and_jacobian(EXPRS, wrt=WRT, params=PARAMS, sparse=True)
    pt, p = np.array([-0.7, 0.9, 0.2]), np.array([0.3, 1.1])
    f, J = fjs(pt, p)
    assert isinstance(J, scipy.sparse.csr_array)
    np.testing.assert_allclose(f, ref_f(pt, p), rtol=1e-15)
    np.testing.assert_allclose(J.toarray(), REF_J(pt, p), rtol=1e-15, atol=1e-300)
    with pytest.raises(ValueError):
        fjs(points(2, 3, seed=4), p)


# -- jvp and vjp -----------------------------------------------------------------------------


@pytest.mark.parametrize("which", ["jac", "fj"])
def test_jvp_and_vjp_single_point(which, jac, fj):
    obj = {"jac": jac, "fj": fj}[which]
    pt, p = np.array([0.6, -0.4, 1.3]), [0.9, -1.4]
    v = np.array([0.5, -2.0, 1.25])
    w = np.array([1.0, -0.5, 3.0, 0.25])
    J = REF_J(pt, p)
    jv = obj.jvp(pt, v, p)
    wj = obj.vjp(pt, w, p)
    assert jv.shape == (4,) and wj.shape == (3,)
    np.testing.assert_allclose(jv, J @ v, rtol=1e-14, atol=1e-15)
    np.testing.assert_allclose(wj, w @ J, rtol=1e-14, atol=1e-15)
    # unit vectors pick out columns and rows
    for j in range(3):
        np.testing.assert_allclose(obj.jvp(pt, np.eye(3)[j], p), J[:, j], rtol=1e-15)
    for i in range(4):
        np.testing.assert_allclose(obj.vjp(pt, np.eye(4)[i], p), J[i], rtol=1e-15)


def test_jvp_and_vjp_batches(jac):
    pts = points(9, 3, seed=5)
    ps = np.random.default_rng(6).normal(size=(9, 2))
    vs = np.random.default_rng(7).normal(size=(9, 3))
    ws = np.random.default_rng(8).normal(size=(9, 4))
    Js = batched(REF_J, pts, ps)
    jv = jac.jvp(pts, vs, ps)
    wj = jac.vjp(pts, ws, ps)
    assert jv.shape == (9, 4) and wj.shape == (9, 3)
    np.testing.assert_allclose(jv, np.einsum("kij,kj->ki", Js, vs), rtol=1e-13, atol=1e-14)
    np.testing.assert_allclose(wj, np.einsum("ki,kij->kj", ws, Js), rtol=1e-13, atol=1e-14)


def test_one_direction_is_broadcast_over_a_batch(jac):
    pts = points(5, 3, seed=9)
    p = [1.2, 0.3]
    v = np.array([0.1, 0.2, -0.3])
    w = np.array([2.0, 0.0, -1.0, 0.5])
    Js = batched(REF_J, pts, p)
    np.testing.assert_allclose(jac.jvp(pts, v, p), Js @ v, rtol=1e-13, atol=1e-14)
    np.testing.assert_allclose(jac.vjp(pts, w, p), w @ Js, rtol=1e-13, atol=1e-14)


def test_direction_errors(jac):
    p = [1.0, 1.0]
    with pytest.raises(ValueError):
        jac.jvp(np.zeros(3), np.ones((4, 3)), p)  # a batch of directions, one point
    with pytest.raises(ValueError):
        jac.vjp(np.zeros(3), np.ones((4, 4)), p)
    with pytest.raises(ValueError):
        jac.jvp(np.zeros((5, 3)), np.ones((4, 3)), p)  # 4 directions for 5 points
    with pytest.raises(ValueError):
        jac.jvp(np.zeros(3), np.ones(4), p)  # v has m entries, not n
    with pytest.raises(ValueError):
        jac.vjp(np.zeros(3), np.ones(3), p)  # w has n entries, not m


@pytest.mark.parametrize("which", ["jac", "fj"])
def test_one_float64_point_takes_the_native_path_with_the_same_results(which, jac, fj, monkeypatch):
    obj = {"jac": jac, "fj": fj}[which]
    pt, p = np.array([0.6, -0.4, 1.3]), np.array([0.9, -1.4])
    v, w = np.array([0.5, -2.0, 1.25]), np.array([1.0, -0.5, 3.0, 0.25])
    for kind, d, width in (("jvp", v, 4), ("vjp", w, 3)):
        call = getattr(obj, kind)
        batch = call(pt[None], d[None], p[None])[0]  # the general path
        np.testing.assert_array_equal(call(pt, d, p), batch)
        out = np.full(width, np.nan)
        assert call(pt, d, p, out=out) is out
        np.testing.assert_array_equal(out, batch)
        ints = np.arange(1, len(d) + 1)  # an integer direction goes the converting way
        np.testing.assert_array_equal(call(pt, ints, p), call(pt, ints.astype(np.float64), p))
        np.testing.assert_array_equal(call(list(pt), list(d), list(p)), batch)  # converted
        with pytest.raises(ValueError):
            call(pt, d, p, out=np.empty(width + 1))
        with pytest.raises(ValueError):
            call(pt, d, p, out=np.empty((1, width)))
        with pytest.raises(ValueError):
            call(pt, d, np.array([0.9]))  # one parameter short
        with pytest.raises(ValueError):
            call(np.r_[pt, 0.0], d[:-1], p)  # lengths that add up, but each wrong
    # the one-point native path really is taken: the general argument parser is never called
    expected = obj.jvp(pt[None], v[None], p[None])[0]

    def general_path(*args, **kwargs):
        raise AssertionError("took the general path")

    monkeypatch.setattr(symjac.compiled, "as_points", general_path)
    np.testing.assert_array_equal(obj.jvp(pt, v, p), expected)
    monkeypatch.undo()
    # out may be the point itself: it is read before anything is written
    x = pt.copy()
    np.testing.assert_array_equal(obj.vjp(x, w, p, out=x), obj.vjp(pt, w, p))


def test_jvp_out(jac):
    pts = points(3, 3, seed=10)
    p = [0.5, 0.5]
    v = np.array([1.0, 2.0, 3.0])
    out = np.full((3, 4), np.nan)
    assert jac.jvp(pts, v, p, out=out) is out
    np.testing.assert_allclose(out, batched(REF_J, pts, p) @ v, rtol=1e-13, atol=1e-14)


# -- Hessians --------------------------------------------------------------------------------

W = sp.Symbol("w", real=True)
HWRT = [X, Y, Z, W]
# (w, x) and (w, y) and (z, x) are structural zeros of the Hessian; (w, w) is not
SCALAR = X**2 * Y * sp.sin(Y) + A * sp.exp(X * Y) + Y**4 / (1 + Z**2) + B * W**3 + sp.cos(Z * W)


@pytest.fixture(scope="module")
def hess():
    return symjac.hessian(SCALAR, wrt=HWRT, params=PARAMS)


@pytest.fixture(scope="module")
def grad():
    return symjac.jacobian([SCALAR], wrt=HWRT, params=PARAMS)


REF_H = lambdify_matrix(sp.hessian(SCALAR, HWRT), HWRT, PARAMS)


def test_hessian_against_sympy(hess):
    pts = points(7, 4, seed=11)
    p = [0.8, -1.3]
    H = hess(pts, p)
    assert H.shape == (7, 4, 4)
    np.testing.assert_allclose(H, batched(REF_H, pts, p), rtol=1e-13, atol=1e-14)
    single = hess(pts[3], p)
    assert single.shape == (4, 4) == hess.shape
    np.testing.assert_array_equal(single, H[3])


def test_hessian_against_finite_differences_of_the_gradient(hess, grad):
    pt, p = np.array([0.4, -0.7, 0.9, 0.5]), [0.8, -1.3]
    h = 1e-5
    fd = np.empty((4, 4))
    for j in range(4):
        e = np.zeros(4)
        e[j] = h
        fd[:, j] = (grad(pt + e, p)[0] - grad(pt - e, p)[0]) / (2 * h)
    np.testing.assert_allclose(hess(pt, p), fd, rtol=1e-7, atol=1e-7)


def test_hessian_is_exactly_symmetric(hess):
    pts = points(20, 4, seed=12)
    H = hess(pts, [2.5, 0.1])
    assert np.array_equal(H, np.transpose(H, (0, 2, 1)))
    for k in (0, 19):
        assert np.array_equal(H[k], H[k].T)


def test_hessian_pattern_is_the_lower_triangle(hess):
    ref = sp.hessian(SCALAR, HWRT)
    lower = [(i, j) for i in range(4) for j in range(i + 1) if ref[i, j] != 0]
    assert list(zip(hess.pattern.rows.tolist(), hess.pattern.cols.tolist())) == lower
    assert (hess.pattern.rows >= hess.pattern.cols).all()
    assert hess.nnz == len(lower)
    full = [(i, j) for i in range(4) for j in range(4) if ref[i, j] != 0]
    assert hess.full_pattern == SparsityPattern((4, 4), full)
    # values follow the lower-triangle pattern
    pt, p = np.array([0.2, 0.3, -0.4, 0.5]), [1.0, 2.0]
    H = REF_H(pt, p)
    np.testing.assert_allclose(
        hess.values(pt, p), H[hess.pattern.rows, hess.pattern.cols], rtol=1e-14
    )
    np.testing.assert_allclose(hess.sparse(pt, p).toarray(), H, rtol=1e-14, atol=1e-300)


def test_hessian_vector_product(hess):
    pts = points(4, 4, seed=13)
    p = [0.6, 0.9]
    v = np.array([1.0, -2.0, 0.5, 3.0])
    Hs = batched(REF_H, pts, p)
    np.testing.assert_allclose(hess.jvp(pts, v, p), Hs @ v, rtol=1e-13, atol=1e-13)
    np.testing.assert_allclose(hess.jvp(pts[1], v, p), Hs[1] @ v, rtol=1e-13, atol=1e-13)
    np.testing.assert_allclose(hess.vjp(pts[1], v, p), v @ Hs[1], rtol=1e-13, atol=1e-13)


MULTI = [X**2 * Y, sp.sin(X * Z) + A * Y**3, sp.exp(Y * Z) * W]


@pytest.fixture(scope="module")
def weighted():
    return symjac.hessian(MULTI, wrt=HWRT, params=[A], weights=[L0, L1, L2])


def test_symbolic_weights_become_parameters_after_params(weighted):
    assert weighted.params == (A, L0, L1, L2)
    lam = sp.Matrix([L0, L1, L2])
    lagrangian = sum(lam[i] * MULTI[i] for i in range(3))
    ref = lambdify_matrix(sp.hessian(lagrangian, HWRT), HWRT, [A, L0, L1, L2])
    pts = points(5, 4, seed=14)
    ps = np.random.default_rng(15).normal(size=(5, 4))
    H = weighted(pts, ps)
    np.testing.assert_allclose(H, batched(ref, pts, ps), rtol=1e-13, atol=1e-14)
    # by name, as a dict
    d = {"a": ps[0, 0], "l0": ps[0, 1], "l1": ps[0, 2], "l2": ps[0, 3]}
    np.testing.assert_array_equal(weighted(pts[0], d), H[0])
    # a single weight turned on gives the Hessian of that expression alone
    for k in range(3):
        e = np.zeros(3)
        e[k] = 1.0
        only = lambdify_matrix(sp.hessian(MULTI[k], HWRT), HWRT, [A])
        np.testing.assert_allclose(
            weighted(pts[1], [0.7, *e]), only(pts[1], [0.7]), rtol=1e-13, atol=1e-14
        )


def test_numeric_weights():
    weights = [2.0, -0.5, sp.Rational(1, 3)]
    h = symjac.hessian(MULTI, wrt=HWRT, params=[A], weights=weights)
    assert h.params == (A,)
    lagrangian = sum(sp.nsimplify(w) * e for w, e in zip(weights, MULTI))
    ref = lambdify_matrix(sp.hessian(lagrangian, HWRT), HWRT, [A])
    pts = points(4, 4, seed=16)
    np.testing.assert_allclose(h(pts, [1.1]), batched(ref, pts, [1.1]), rtol=1e-13, atol=1e-14)


def test_weights_on_a_single_expression():
    h = symjac.hessian(SCALAR, wrt=HWRT, params=PARAMS, weights=[3])
    pt, p = np.array([0.1, 0.2, 0.3, 0.4]), [0.5, 0.6]
    np.testing.assert_allclose(h(pt, p), 3 * REF_H(pt, p), rtol=1e-14, atol=1e-14)


def test_hessian_errors():
    with pytest.raises(ValueError):
        symjac.hessian(MULTI, wrt=HWRT, params=[A])  # several expressions, no weights
    with pytest.raises(ValueError):
        symjac.hessian(MULTI, wrt=HWRT, params=[A], weights=[L0, L1])
    with pytest.raises(ValueError):
        symjac.hessian(MULTI, wrt=HWRT, params=[A], weights=[1.0, 2.0, 3.0, 4.0])
    with pytest.raises(TypeError):
        symjac.hessian(MULTI, wrt=HWRT, params=[A], weights=[L0, 2.0, L2])
    with pytest.raises(TypeError):
        symjac.hessian(SCALAR, wrt=HWRT, params=PARAMS, weights=L0)
    with pytest.raises(ValueError):
        # a weight that is also an input
        symjac.hessian(MULTI, wrt=HWRT, params=[A], weights=[L0, X, L2])
    with pytest.raises(ValueError):
        symjac.hessian(MULTI, wrt=HWRT, params=[A], weights=[L0, A, L2])


def test_hessian_dense_out_and_batch_sparse_error(hess):
    pt, p = np.array([0.3, 0.1, -0.2, 0.6]), [1.0, -1.0]
    out = np.full((4, 4), np.nan)
    assert hess.dense(pt, p, out=out) is out
    np.testing.assert_allclose(out, REF_H(pt, p), rtol=1e-13, atol=1e-14)
    with pytest.raises(ValueError):
        hess.sparse(points(2, 4, seed=17), p)


def test_large_sparse_hessian_returns_a_symmetric_sparse_matrix():
    n = 110  # 12 100 entries, tridiagonal: sparse="auto" gives SciPy output
    u = sp.symbols(f"h0:{n}", real=True)
    f = sum(sp.cos(u[i]) * u[i + 1] for i in range(n - 1)) + sum(v**4 for v in u)
    h = symjac.hessian(f, wrt=u)
    assert h.sparse_output
    pt = np.random.default_rng(18).uniform(-1.0, 1.0, n)
    result = h(pt)
    assert scipy.sparse.issparse(result)
    ref = np.zeros((n, n))
    for i in range(n):
        ref[i, i] = 12 * pt[i] ** 2
        if i < n - 1:
            ref[i, i] += -np.cos(pt[i]) * pt[i + 1]
            ref[i, i + 1] = ref[i + 1, i] = -np.sin(pt[i])
    dense = result.toarray()
    np.testing.assert_allclose(dense, ref, rtol=1e-14, atol=1e-14)
    assert np.array_equal(dense, dense.T)
    assert h.nnz == 2 * n - 1
