"""Star coloring of symmetric (Hessian) patterns: validity, recovery, and use with a Hessian."""

from __future__ import annotations

import numpy as np
import pytest
import sympy as sp
from hypothesis import given, settings
from hypothesis import strategies as st

import symjac
from symjac.sparsity.pattern import SparsityPattern


def _adjacency(n, rows, cols):
    adj = [set() for _ in range(n)]
    for i, j in zip(rows.tolist(), cols.tolist()):
        if i != j:
            adj[i].add(j)
            adj[j].add(i)
    return adj


def _is_star_coloring(colors, adj):
    """Proper, and no path on four vertices uses only two colors (checked exhaustively)."""
    n = len(adj)
    for v in range(n):
        for w in adj[v]:
            if colors[v] == colors[w]:
                return False
            for x in adj[w] - {v}:
                for y in adj[x] - {w, v}:
                    if colors[v] == colors[x] and colors[w] == colors[y]:
                        return False
    return True


@st.composite
def symmetric_patterns(draw):
    n = draw(st.integers(1, 14))
    mask = np.array(draw(st.lists(st.booleans(), min_size=n * n, max_size=n * n))).reshape(n, n)
    mask = mask | mask.T
    np.fill_diagonal(mask, True)
    rows, cols = np.nonzero(np.tril(mask))
    return n, mask, SparsityPattern((n, n), list(zip(rows.tolist(), cols.tolist())))


@settings(max_examples=150, deadline=None, derandomize=True, database=None)
@given(symmetric_patterns(), st.integers(0, 2**32 - 1))
def test_star_coloring_is_valid_and_recovers_the_matrix(case, seed):
    n, mask, pattern = case
    coloring = pattern.star_coloring()
    assert _is_star_coloring(coloring.colors, _adjacency(n, pattern.rows, pattern.cols))
    values = np.where(mask, np.random.default_rng(seed).normal(size=(n, n)), 0.0)
    sym = values + values.T
    recovered = coloring.decompress(sym @ coloring.seed())
    np.testing.assert_array_equal(recovered, sym[pattern.rows, pattern.cols])


def test_star_coloring_needs_few_colors_on_known_patterns():
    n = 30
    tri = SparsityPattern((n, n), [(i, i) for i in range(n)] + [(i + 1, i) for i in range(n - 1)])
    assert tri.star_coloring().n_colors == 3
    arrow = SparsityPattern((n, n), [(i, 0) for i in range(n)] + [(i, i) for i in range(n)])
    assert arrow.star_coloring().n_colors == 2  # a column coloring needs n
    diag = SparsityPattern((n, n), [(i, i) for i in range(n)])
    assert diag.star_coloring().n_colors == 1


def test_star_coloring_rejects_non_lower_patterns():
    with pytest.raises(ValueError, match="lower triangle"):
        SparsityPattern((2, 2), [(0, 1)]).star_coloring()
    with pytest.raises(ValueError, match="lower triangle"):
        SparsityPattern((2, 3), [(1, 0)]).star_coloring()


def test_hessian_from_compressed_hessian_vector_products():
    """A compiled Hessian recovered from n_colors Hessian-vector products, against SymPy."""
    x = sp.symbols("x0:12", real=True)
    f = sum(sp.sin(x[i]) * x[i + 1] ** 2 for i in range(11)) + x[0] * x[11] ** 3
    hess = symjac.hessian(f, wrt=x)
    coloring = hess.pattern.star_coloring()
    assert coloring.n_colors < 12
    point = np.linspace(0.1, 1.2, 12)
    products = np.column_stack([hess.jvp(point, s) for s in coloring.seed().T])
    reference = np.array(sp.hessian(f, x).subs(dict(zip(x, point))).evalf(30), dtype=float)
    np.testing.assert_allclose(
        coloring.decompress(products),
        reference[hess.pattern.rows, hess.pattern.cols],
        rtol=1e-13,
        atol=1e-14,
    )
