"""Sparsity patterns, sparse outputs and column coloring, against independent references.

The pattern of a compiled Jacobian is compared with the nonzero mask of SymPy's own
``Matrix.jacobian``; the CSR/CSC views of :class:`symjac.SparsityPattern` with SciPy's
own conversions of the same matrix; colorings with an exhaustive check of the
distance-2 condition; sparse ODE solves with a dense-Jacobian solve.
"""

from __future__ import annotations

import itertools

import numpy as np
import pytest
import scipy.integrate
import scipy.sparse
import sympy as sp
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from reference import lambdified_jacobian, sympy_jacobian

import symjac
from symjac import SparsityPattern

X, Y, Z, W = sp.symbols("x y z w", real=True)
A = sp.Symbol("a", real=True)


# -- helpers ---------------------------------------------------------------------------------


def sympy_mask(exprs, wrt):
    jac = sympy_jacobian(exprs, wrt)
    return np.array([[jac[i, j] != 0 for j in range(jac.cols)] for i in range(jac.rows)])


def pairs(pattern):
    return list(zip(pattern.rows.tolist(), pattern.cols.tolist()))


def random_pattern(rng, m, n, density):
    mask = rng.random((m, n)) < density
    return SparsityPattern((m, n), list(zip(*np.nonzero(mask)))), mask


def assert_valid_coloring(pattern, coloring):
    """Exhaustive distance-2 check: no two columns that share a row share a color."""
    m, n = pattern.shape
    colors = np.asarray(coloring.colors)
    assert colors.shape == (n,)
    assert coloring.n_colors == (int(colors.max()) + 1 if n else 0)
    assert ((colors >= 0) & (colors < max(coloring.n_colors, 1))).all()
    dense = pattern.to_dense()
    for i in range(m):
        cols = np.flatnonzero(dense[i])
        for j, k in itertools.combinations(cols.tolist(), 2):
            assert colors[j] != colors[k], (
                f"columns {j} and {k} share row {i} and color {colors[j]}"
            )


def assert_decompression_recovers(pattern, coloring, values):
    dense = pattern.to_scipy(values).toarray()
    seed = coloring.seed()
    assert seed.shape == (pattern.shape[1], coloring.n_colors)
    assert set(np.unique(seed).tolist()) <= {0.0, 1.0}
    np.testing.assert_array_equal(seed.sum(axis=1), np.ones(pattern.shape[1]))
    recovered = coloring.decompress(dense @ seed)
    np.testing.assert_array_equal(recovered, values)


def tridiagonal_system(n):
    u = sp.symbols(f"u0:{n}", real=True)
    exprs = []
    for i in range(n):
        e = -2 * u[i] + u[i] ** 3
        if i > 0:
            e += u[i - 1] * A
        if i < n - 1:
            e += sp.sin(u[i + 1])
        exprs.append(e)
    return exprs, list(u)


def stencil_pattern(nx, ny):
    """The non-periodic 2-D 5-point stencil on an nx × ny grid."""
    entries = []
    for i in range(nx):
        for j in range(ny):
            r = i * ny + j
            entries.append((r, r))
            for di, dj in ((1, 0), (-1, 0), (0, 1), (0, -1)):
                a, b = i + di, j + dj
                if 0 <= a < nx and 0 <= b < ny:
                    entries.append((r, a * ny + b))
    return SparsityPattern((nx * ny, nx * ny), entries)


# -- SparsityPattern itself ------------------------------------------------------------------


def test_entries_are_sorted_row_major_and_deduplicated():
    p = SparsityPattern(
        (3, 4), [(2, 1), (0, 3), (np.int64(0), np.int32(1)), (2, 0), (0, 3), (1, 2)]
    )
    assert pairs(p) == [(0, 1), (0, 3), (1, 2), (2, 0), (2, 1)]
    assert p.nnz == 5
    assert p.shape == (3, 4)
    assert p.rows.dtype == np.int64 and p.cols.dtype == np.int64
    assert p.density == pytest.approx(5 / 12)
    # a generator works as well as a list
    assert SparsityPattern((3, 4), (e for e in pairs(p))) == p


@pytest.mark.parametrize(
    "shape, entries",
    [
        ((2, 2), [(2, 0)]),
        ((2, 2), [(0, 2)]),
        ((2, 2), [(-1, 0)]),
        ((-1, 2), []),
        ((0, 3), [(0, 0)]),
    ],
)
def test_invalid_entries_and_shapes_are_value_errors(shape, entries):
    with pytest.raises(ValueError):
        SparsityPattern(shape, entries)


def test_every_array_is_read_only():
    p = SparsityPattern((3, 3), [(0, 0), (1, 2), (2, 1)])
    for name in ("rows", "cols", "indptr", "indices", "csc_indptr", "csc_indices", "csc_order"):
        arr = getattr(p, name)
        assert not arr.flags.writeable, name
        with pytest.raises(ValueError):
            arr[0] = 7
    # the pattern did not change
    assert pairs(p) == [(0, 0), (1, 2), (2, 1)]
    # to_dense is a fresh, writable mask
    mask = p.to_dense()
    mask[0, 1] = True
    assert not p.to_dense()[0, 1]


def test_equality_and_hashing():
    a = SparsityPattern((3, 3), [(0, 0), (2, 1), (1, 1)])
    b = SparsityPattern((3, 3), [(1, 1), (0, 0), (2, 1), (2, 1)])
    assert a == b and hash(a) == hash(b)
    assert len({a, b}) == 1
    assert {a: "x"}[b] == "x"
    assert a != SparsityPattern((3, 4), [(0, 0), (2, 1), (1, 1)])  # shape differs
    assert a != SparsityPattern((3, 3), [(0, 0), (2, 1)])  # entries differ
    assert a != SparsityPattern((3, 3), [(0, 0), (1, 2), (1, 1)])  # transposed entry
    assert a != "not a pattern"
    assert not (a == (3, 3))
    assert SparsityPattern((0, 0), []) == SparsityPattern((0, 0), [])


@pytest.mark.parametrize("seed", range(6))
def test_csr_and_csc_views_match_scipy(seed):
    rng = np.random.default_rng(seed)
    m, n = int(rng.integers(1, 13)), int(rng.integers(1, 13))
    p, mask = random_pattern(rng, m, n, density=[0.0, 0.15, 0.4, 1.0, 0.3, 0.6][seed])
    # distinct values make every permutation visible
    values = rng.permutation(p.nnz).astype(float) + 1.0
    dense = np.zeros((m, n))
    dense[mask] = values  # boolean indexing is row-major: the pattern order
    np.testing.assert_array_equal(p.to_dense(), mask)
    np.testing.assert_array_equal(p.flat_positions(), np.flatnonzero(mask))

    csr = scipy.sparse.csr_array(dense)
    csr.sort_indices()
    np.testing.assert_array_equal(p.indptr, csr.indptr)
    np.testing.assert_array_equal(p.indices, csr.indices)
    np.testing.assert_array_equal(values, csr.data)
    assert p.indptr.shape == (m + 1,)

    csc = scipy.sparse.csc_array(dense)
    csc.sort_indices()
    np.testing.assert_array_equal(p.csc_indptr, csc.indptr)
    np.testing.assert_array_equal(p.csc_indices, csc.indices)
    np.testing.assert_array_equal(values[p.csc_order], csc.data)
    assert p.csc_indptr.shape == (n + 1,)

    for fmt, kind in (("csr", scipy.sparse.csr_array), ("csc", scipy.sparse.csc_array)):
        mat = p.to_scipy(values, format=fmt)
        assert isinstance(mat, kind)
        assert mat.shape == (m, n)
        assert mat.nnz == p.nnz
        np.testing.assert_array_equal(mat.toarray(), dense)
        ones = p.to_scipy(format=fmt)
        np.testing.assert_array_equal(ones.toarray(), mask.astype(float))


def test_to_scipy_rejects_bad_values_and_formats():
    p = SparsityPattern((2, 2), [(0, 0), (1, 1)])
    with pytest.raises(ValueError):
        p.to_scipy([1.0, 2.0, 3.0])
    with pytest.raises(ValueError):
        p.to_scipy(np.ones((2, 1)))
    with pytest.raises(ValueError):
        p.to_scipy([1.0, 2.0], format="coo")


def test_to_scipy_does_not_alias_the_pattern():
    p = SparsityPattern((2, 3), [(0, 0), (1, 2)])
    mat = p.to_scipy([1.0, 2.0])
    mat.indices[0] = 1  # scipy arrays are writable; the pattern must not see this
    assert pairs(p) == [(0, 0), (1, 2)]


def test_spy_text():
    p = SparsityPattern((3, 4), [(0, 0), (1, 2), (2, 3), (2, 0)])
    assert p.spy() == "#...\n..#.\n#..#"
    assert str(p) == p.spy()
    assert "(3, 4)" in repr(p) and "nnz=4" in repr(p)
    # downsampled: a 130 x 70 matrix in blocks of 33 x 18 -> 4 x 4 characters
    big = SparsityPattern((130, 70), [(0, 0), (129, 69), (64, 35)])
    assert big.spy(max_size=4) == "#...\n.#..\n....\n...#"
    lines = big.spy().split("\n")
    assert len(lines) <= 64 and all(len(line) <= 64 for line in lines)
    assert sum(line.count("#") for line in lines) == 3
    assert SparsityPattern((2, 2), []).spy() == "..\n.."


@settings(max_examples=60, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(
    m=st.integers(0, 9),
    n=st.integers(0, 9),
    data=st.data(),
)
def test_random_patterns_csr_csc_roundtrip(m, n, data):
    cells = [(i, j) for i in range(m) for j in range(n)]
    entries = data.draw(st.lists(st.sampled_from(cells), max_size=40)) if cells else []
    p = SparsityPattern((m, n), entries)
    expected = sorted(set(entries))
    assert pairs(p) == expected
    values = np.arange(1.0, p.nnz + 1.0)
    dense = np.zeros((m, n))
    for (i, j), v in zip(expected, values):
        dense[i, j] = v
    np.testing.assert_array_equal(p.to_scipy(values, format="csr").toarray(), dense)
    np.testing.assert_array_equal(p.to_scipy(values, format="csc").toarray(), dense)
    # the CSC arrays walk the same entries column by column
    for j in range(n):
        rows = p.csc_indices[p.csc_indptr[j] : p.csc_indptr[j + 1]]
        assert rows.tolist() == [i for i, jj in expected if jj == j]
    for i in range(m):
        cols = p.indices[p.indptr[i] : p.indptr[i + 1]]
        assert cols.tolist() == [j for ii, j in expected if ii == i]


# -- the pattern of compiled Jacobians is exact ---------------------------------------------

MIXED = [
    X * Y - Y * X + Z,  # SymPy already cancels x*y - y*x
    sp.sign(X) * Y + W,  # d/dx: a jump, structural zero
    sp.floor(Z) * X + sp.ceiling(Y),  # d/dz, d/dy: structural zeros
    sp.Heaviside(X) * Z + Y**2,  # d/dx: structural zero
    sp.Abs(X) * Z,  # d|x| = sign(x): not a zero
    sp.Piecewise((X**2, X < Y), (W, True)),
    sp.Max(X, W) + sp.Min(Y, 2 * Z),
    sp.Integer(7),
    sp.exp(X) * sp.sin(Y) * Z * W,
    0 * X + A * Y,  # SymPy drops 0*x
    sp.Add(3 * Z, Y, -Y, evaluate=False),  # y - y, unevaluated
    sp.atan2(Y, W) + sp.log(1 + X**2),
]


@pytest.fixture(scope="module")
def mixed_jac():
    return symjac.jacobian(MIXED, wrt=[X, Y, Z, W], params=[A])


def test_pattern_equals_sympys_nonzero_mask(mixed_jac):
    expected = sympy_mask(MIXED, [X, Y, Z, W])
    # the mask of the reference itself is what the structure says
    assert not expected[0, 0] and not expected[1, 0] and not expected[3, 0]
    assert not expected[2, 2] and not expected[2, 1] and expected[4, 0]
    assert not expected[7].any() and not expected[9, 0] and not expected[10, 1]
    np.testing.assert_array_equal(mixed_jac.pattern.to_dense(), expected)
    assert mixed_jac.pattern.shape == (len(MIXED), 4)


def test_values_and_structural_zeros_of_the_mixed_system(mixed_jac):
    rng = np.random.default_rng(11)
    pts = rng.uniform(0.3, 2.0, size=(6, 4)) * rng.choice([-1.0, 1.0], size=(6, 4))
    ref = lambdified_jacobian(MIXED, [X, Y, Z, W], [A])
    dense = mixed_jac.dense(pts, [1.3])
    np.testing.assert_allclose(dense, ref(pts, [1.3]), rtol=1e-14, atol=1e-15)
    mask = mixed_jac.pattern.to_dense()
    assert (dense[:, ~mask] == 0).all()
    # a structural zero is exactly 0 even at NaN and infinite inputs
    for bad in (np.nan, np.inf, -np.inf):
        at = mixed_jac.dense(np.full(4, bad), [bad])
        np.testing.assert_array_equal(at[~mask], 0.0)
        assert not np.signbit(at[~mask]).any()


def random_sparse_system(seed, m, n):
    rng = np.random.default_rng(seed)
    u = sp.symbols(f"r0:{n}", real=True)
    funcs = [sp.sin, sp.exp, sp.cos, sp.atan, lambda v: v**3, lambda v: sp.sqrt(2 + v**2)]
    exprs = []
    for _ in range(m):
        k = int(rng.integers(0, 4))
        chosen = rng.choice(n, size=k, replace=False)
        terms = [funcs[int(rng.integers(len(funcs)))](u[j]) * (j + 1) for j in chosen]
        if k >= 2 and rng.random() < 0.5:
            terms.append(u[chosen[0]] * u[chosen[1]])
        exprs.append(sp.Add(*terms) if terms else sp.Float(0.5))
    return exprs, list(u)


@pytest.mark.parametrize("seed", [1, 2])
def test_pattern_of_random_sparse_systems(seed):
    exprs, u = random_sparse_system(seed, 15, 12)
    jac = symjac.jacobian(exprs, wrt=u)
    expected = sympy_mask(exprs, u)
    np.testing.assert_array_equal(jac.pattern.to_dense(), expected)
    pts = np.random.default_rng(seed).uniform(-1.5, 1.5, size=(4, 12))
    np.testing.assert_allclose(jac(pts), lambdified_jacobian(exprs, u)(pts), rtol=1e-14, atol=1e-14)


# -- sparse outputs --------------------------------------------------------------------------

SMALL = [X * Y + A * sp.sin(Z), sp.exp(X) - Z**2, Y**3, sp.Integer(2)]


@pytest.fixture(scope="module")
def sparse_small():
    return symjac.jacobian(SMALL, wrt=[X, Y, Z], params=[A], sparse=True)


@pytest.fixture(scope="module")
def auto_small():
    return symjac.jacobian(SMALL, wrt=[X, Y, Z], params=[A])


def test_sparse_true_returns_a_csr_array_equal_to_dense(sparse_small):
    assert sparse_small.sparse_output
    pt = np.array([0.4, -1.2, 2.5])
    result = sparse_small(pt, [0.7])
    assert isinstance(result, scipy.sparse.csr_array)
    assert result.shape == (4, 3)
    assert result.nnz == sparse_small.nnz == 6
    ref = lambdified_jacobian(SMALL, [X, Y, Z], [A])(pt, [0.7])
    np.testing.assert_allclose(result.toarray(), ref, rtol=1e-15, atol=1e-300)
    np.testing.assert_array_equal(result.toarray(), sparse_small.dense(pt, [0.7]))
    np.testing.assert_array_equal(result.indptr, sparse_small.pattern.indptr)
    np.testing.assert_array_equal(result.indices, sparse_small.pattern.indices)


def test_sparse_true_refuses_batches_and_out(sparse_small):
    with pytest.raises(ValueError):
        sparse_small(np.zeros((3, 3)), [0.7])
    with pytest.raises(ValueError):
        sparse_small.sparse(np.zeros((3, 3)), [0.7])
    with pytest.raises(TypeError):
        sparse_small(np.zeros(3), [0.7], out=np.empty((4, 3)))


def test_dense_sparse_csc_and_batched_values(sparse_small, auto_small):
    assert not auto_small.sparse_output
    rng = np.random.default_rng(3)
    pts = rng.uniform(-2.0, 2.0, size=(7, 3))
    ref = lambdified_jacobian(SMALL, [X, Y, Z], [A])(pts, [-0.4])
    for jac in (sparse_small, auto_small):
        dense = jac.dense(pts, [-0.4])
        assert isinstance(dense, np.ndarray) and dense.shape == (7, 4, 3)
        np.testing.assert_allclose(dense, ref, rtol=1e-15, atol=1e-300)
        vals = jac.values(pts, [-0.4])
        assert vals.shape == (7, jac.nnz)
        np.testing.assert_array_equal(vals, dense[:, jac.pattern.rows, jac.pattern.cols])
        csc = jac.sparse(pts[2], [-0.4], format="csc")
        assert isinstance(csc, scipy.sparse.csc_array)
        np.testing.assert_array_equal(csc.toarray(), dense[2])
        csr = jac.sparse(pts[2], [-0.4])
        assert isinstance(csr, scipy.sparse.csr_array)
        np.testing.assert_array_equal(csr.toarray(), dense[2])
        with pytest.raises(ValueError):
            jac.sparse(pts[2], [-0.4], format="dok")
    # auto, small: the call is dense
    single = auto_small(pts[0], [-0.4])
    assert isinstance(single, np.ndarray)
    np.testing.assert_allclose(single, ref[0], rtol=1e-15, atol=1e-300)
    # a point's result does not depend on whether it came alone or in a batch
    np.testing.assert_array_equal(single, auto_small.dense(pts, [-0.4])[0])


@pytest.fixture(scope="module")
def tridiagonal_200():
    exprs, u = tridiagonal_system(200)
    return exprs, u, symjac.jacobian(exprs, wrt=u, params=[A])


def test_auto_is_sparse_for_a_large_sparse_jacobian(tridiagonal_200):
    _, _, jac = tridiagonal_200
    assert jac.shape == (200, 200) and jac.nnz == 3 * 200 - 2
    assert jac.sparse_output  # 40 000 entries > 10 000, density 0.015 < 0.25
    pt = np.random.default_rng(4).uniform(-1.0, 1.0, 200)
    result = jac(pt, [0.6])
    assert isinstance(result, scipy.sparse.csr_array)
    # reference: the hand-written tridiagonal Jacobian
    ref = np.diag(-2.0 + 3.0 * pt**2) + np.diag(np.full(199, 0.6), -1) + np.diag(np.cos(pt[1:]), 1)
    np.testing.assert_allclose(result.toarray(), ref, rtol=1e-15, atol=1e-300)
    np.testing.assert_array_equal(jac.dense(pt, [0.6]), result.toarray())
    expected = [(i, j) for i in range(200) for j in range(200) if abs(i - j) <= 1]
    assert pairs(jac.pattern) == expected


@pytest.mark.parametrize("n, sparse", [(100, False), (101, True)])
def test_auto_threshold_is_more_than_10000_entries(n, sparse):
    exprs, u = tridiagonal_system(n)
    jac = symjac.jacobian(exprs, wrt=u, params=[A])
    assert jac.sparse_output is sparse
    pt = np.linspace(-1.0, 1.0, n)
    result = jac(pt, [0.5])
    assert scipy.sparse.issparse(result) is sparse
    dense = result.toarray() if sparse else result
    np.testing.assert_array_equal(dense, jac.dense(pt, [0.5]))


def test_auto_is_dense_when_a_quarter_or_more_can_be_nonzero():
    u = sp.symbols("d0:100", real=True)
    # 101 x 100 = 10 100 entries > 10 000, but 26 of 100 per row: density 0.26 >= 0.25
    exprs = [sp.Add(*(u[(i + k) % 100] * (k + 1) for k in range(26))) for i in range(101)]
    jac = symjac.jacobian(exprs, wrt=u)
    assert jac.pattern.density == pytest.approx(0.26)
    assert not jac.sparse_output
    result = jac(np.full(100, 0.01))
    assert isinstance(result, np.ndarray) and result.shape == (101, 100)
    expected = np.zeros((101, 100))
    for i in range(101):
        for k in range(26):
            expected[i, (i + k) % 100] = k + 1
    np.testing.assert_array_equal(result, expected)


# -- coloring --------------------------------------------------------------------------------


def test_coloring_of_the_compiled_tridiagonal_needs_three_colors(tridiagonal_200):
    _, _, jac = tridiagonal_200
    coloring = jac.pattern.coloring()
    assert coloring.n_colors == 3
    assert_valid_coloring(jac.pattern, coloring)
    # J @ seed through jvp (one directional derivative per color) recovers every nonzero
    pt = np.random.default_rng(5).uniform(-1.0, 1.0, 200)
    seed = coloring.seed()
    compressed = np.stack([jac.jvp(pt, seed[:, c], [0.6]) for c in range(3)], axis=1)
    np.testing.assert_allclose(
        coloring.decompress(compressed), jac.values(pt, [0.6]), rtol=1e-15, atol=1e-300
    )


def test_coloring_of_a_two_dimensional_stencil():
    p = stencil_pattern(12, 12)
    coloring = p.coloring()
    assert_valid_coloring(p, coloring)
    # a centre and its four neighbours share the centre's row: 5 is also a lower bound
    assert coloring.n_colors <= 5
    values = np.random.default_rng(6).normal(size=p.nnz)
    assert_decompression_recovers(p, coloring, values)


def test_coloring_of_a_diagonal_is_one_color():
    p = SparsityPattern((9, 9), [(i, i) for i in range(9)])
    coloring = p.coloring()
    assert coloring.n_colors == 1
    np.testing.assert_array_equal(coloring.colors, np.zeros(9))
    assert_decompression_recovers(p, coloring, np.arange(1.0, 10.0))


def test_coloring_of_a_full_row_needs_one_color_per_column():
    p = SparsityPattern((3, 5), [(1, j) for j in range(5)] + [(0, 0)])
    coloring = p.coloring()
    assert coloring.n_colors == 5
    assert_valid_coloring(p, coloring)


@pytest.mark.parametrize("methods", [("dsatur",), ("largest_first",), ("largest_first", "dsatur")])
def test_each_coloring_method_is_valid(methods):
    p, _ = random_pattern(np.random.default_rng(8), 30, 25, 0.12)
    coloring = p.coloring(methods=methods)
    assert_valid_coloring(p, coloring)
    assert_decompression_recovers(p, coloring, np.random.default_rng(9).normal(size=p.nnz))


@pytest.mark.parametrize("methods", [(), ("greedy",), ("dsatur", "bogus")])
def test_unknown_coloring_methods_are_value_errors(methods):
    with pytest.raises(ValueError):
        SparsityPattern((2, 2), [(0, 0)]).coloring(methods=methods)


def test_decompress_checks_the_shape():
    coloring = SparsityPattern((3, 3), [(i, i) for i in range(3)]).coloring()
    with pytest.raises(ValueError):
        coloring.decompress(np.zeros((3, 2)))


def test_coloring_of_a_compiled_jacobian_through_jvp(mixed_jac):
    coloring = mixed_jac.pattern.coloring()
    assert_valid_coloring(mixed_jac.pattern, coloring)
    pt = np.array([0.7, -1.1, 1.9, 0.4])
    seed = coloring.seed()
    compressed = np.stack(
        [mixed_jac.jvp(pt, seed[:, c], [2.0]) for c in range(coloring.n_colors)], axis=1
    )
    np.testing.assert_allclose(
        coloring.decompress(compressed), mixed_jac.values(pt, [2.0]), rtol=1e-15, atol=1e-300
    )


@settings(max_examples=80, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(
    m=st.integers(1, 25),
    n=st.integers(1, 25),
    density=st.floats(0.0, 0.5),
    seed=st.integers(0, 2**32 - 1),
)
def test_random_patterns_get_valid_colorings(m, n, density, seed):
    rng = np.random.default_rng(seed)
    p, _ = random_pattern(rng, m, n, density)
    coloring = p.coloring()
    assert_valid_coloring(p, coloring)
    assert coloring.n_colors <= n
    # at least as many colors as the fullest row has nonzeros
    if p.nnz:
        assert coloring.n_colors >= int(np.diff(p.indptr).max())
    values = rng.normal(size=p.nnz)
    assert_decompression_recovers(p, coloring, values)


# -- with scipy.integrate.solve_ivp ----------------------------------------------------------


@pytest.fixture(scope="module")
def reaction_diffusion():
    """u' = D·Δu − u³ + s·(1 − u) on 30 cells with zero Dirichlet ends: stiff for D = 400."""
    n = 30
    u = sp.symbols(f"c0:{n}", real=True)
    d, s = sp.symbols("D s", real=True)
    exprs = []
    for i in range(n):
        left = u[i - 1] if i > 0 else 0
        right = u[i + 1] if i < n - 1 else 0
        exprs.append(d * (left - 2 * u[i] + right) - u[i] ** 3 + s * (1 - u[i]))
    f = symjac.function(exprs, wrt=u, params=[d, s])
    jac = symjac.jacobian(exprs, wrt=u, params=[d, s], sparse=True)
    dense_ref = sp.lambdify((list(u), [d, s]), sp.Matrix(exprs).jacobian(u), "numpy")
    return f, jac, dense_ref, n


def test_solve_ivp_bdf_with_the_sparse_jacobian(reaction_diffusion):
    f, jac, dense_ref, n = reaction_diffusion
    p = np.array([400.0, 2.0])
    y0 = np.sin(np.linspace(0.0, np.pi, n)) + 0.5
    pattern = jac.pattern.to_scipy()
    assert isinstance(pattern, scipy.sparse.csr_array)
    np.testing.assert_array_equal(pattern.toarray(), jac.pattern.to_dense().astype(float))

    kw = dict(method="BDF", rtol=1e-8, atol=1e-10, t_span=(0.0, 6.0), y0=y0)
    sparse_sol = scipy.integrate.solve_ivp(
        lambda t, y: f(y, p), jac=lambda t, y: jac(y, p), jac_sparsity=pattern, **kw
    )
    dense_sol = scipy.integrate.solve_ivp(
        lambda t, y: f(y, p), jac=lambda t, y: np.asarray(dense_ref(list(y), list(p))), **kw
    )
    # finite differences grouped by symjac's pattern (scipy colors the columns itself)
    fd_sol = scipy.integrate.solve_ivp(lambda t, y: f(y, p), jac_sparsity=pattern, **kw)
    for sol in (sparse_sol, dense_sol, fd_sol):
        assert sol.success, sol.message
    assert sparse_sol.njev >= 1
    np.testing.assert_allclose(sparse_sol.y[:, -1], dense_sol.y[:, -1], rtol=1e-6, atol=1e-9)
    np.testing.assert_allclose(fd_sol.y[:, -1], dense_sol.y[:, -1], rtol=1e-6, atol=1e-9)
    # near the steady state: a solution of D·Δu − u³ + s(1 − u) = 0
    assert np.abs(f(dense_sol.y[:, -1], p)).max() < 1e-4


def test_solve_ivp_robertson_with_the_pattern():
    y1, y2, y3 = sp.symbols("y1 y2 y3", real=True)
    k1, k2, k3 = sp.symbols("k1 k2 k3", real=True)
    exprs = [
        -k1 * y1 + k3 * y2 * y3,
        k1 * y1 - k2 * y2**2 - k3 * y2 * y3,
        k2 * y2**2,
    ]
    wrt = [y1, y2, y3]
    f = symjac.function(exprs, wrt=wrt, params=[k1, k2, k3])
    jac = symjac.jacobian(exprs, wrt=wrt, params=[k1, k2, k3])
    expected = sympy_mask(exprs, wrt)
    np.testing.assert_array_equal(jac.pattern.to_dense(), expected)
    assert not expected[2, 0] and not expected[2, 2]
    p = np.array([0.04, 3e7, 1e4])
    ref_jac = sp.lambdify((wrt, [k1, k2, k3]), sp.Matrix(exprs).jacobian(wrt), "numpy")
    kw = dict(method="BDF", rtol=1e-8, atol=[1e-10, 1e-14, 1e-10], t_span=(0.0, 40.0))
    kw["y0"] = [1.0, 0.0, 0.0]
    ours = scipy.integrate.solve_ivp(
        lambda t, y: f(y, p),
        jac=lambda t, y: jac.sparse(y, p, format="csc"),
        jac_sparsity=jac.pattern.to_scipy(),
        **kw,
    )
    theirs = scipy.integrate.solve_ivp(
        lambda t, y: f(y, p), jac=lambda t, y: np.asarray(ref_jac(list(y), list(p))), **kw
    )
    assert ours.success and theirs.success
    np.testing.assert_allclose(ours.y[:, -1], theirs.y[:, -1], rtol=1e-6, atol=1e-12)
    # the classical values at t = 40
    np.testing.assert_allclose(ours.y[:, -1], [0.7158, 9.185e-6, 0.2842], rtol=1e-3)
    np.testing.assert_allclose(ours.y[:, -1].sum(), 1.0, rtol=1e-8)
