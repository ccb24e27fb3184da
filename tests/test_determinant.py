"""symjac.logdet against numpy.linalg.slogdet on the dense Jacobian, for every structure."""

from __future__ import annotations

import numpy as np
import pytest
import sympy as sp
from hypothesis import assume, given, settings
from hypothesis import strategies as st

import symjac
from symjac.sparsity.blocks import blocks

X = sp.symbols("x0:4", real=True)
SYSTEMS = {
    # lower triangular after reordering: x3 depends on nothing else, x0 on x3, ...
    "triangular": [X[0] * X[3] + sp.exp(X[0]), sp.sin(X[1]) + X[0] ** 2, X[2] ** 3 + X[1], X[3]],
    # two coupled pairs, one feeding the other
    "block-triangular": [X[0] * X[1], X[0] + X[1] ** 2, X[2] - X[3] * X[0], X[2] * X[3] + 2],
    "general": [X[0] + X[1] * X[2], X[1] * X[3], X[2] + X[3] * X[0], sp.tanh(X[3] + X[0])],
}


@pytest.fixture(scope="module", params=list(SYSTEMS))
def case(request):
    return request.param, symjac.logdet(SYSTEMS[request.param], X)


def test_structure_is_detected(case):
    name, ld = case
    assert ld.structure == name


@settings(max_examples=40, deadline=None)
@given(st.lists(st.floats(-2, 2), min_size=4, max_size=4))
def test_one_point_equals_numpy(case, point):
    _, ld = case
    x = np.array(point)
    dense = ld.jacobian.dense(x)
    # a different elimination order rounds differently: compare where J is not near-singular
    assume(np.linalg.cond(dense) < 1e10)
    want_sign, want = np.linalg.slogdet(dense)
    sign, value = ld(x)
    assert sign == want_sign
    if want_sign != 0:
        np.testing.assert_allclose(value, want, rtol=1e-12, atol=1e-12)
    else:
        assert value == -np.inf


def test_batches_equal_one_point_at_a_time(case):
    _, ld = case
    pts = np.random.default_rng(2).normal(size=(25, 4))
    sign, value = ld(pts)
    assert sign.shape == value.shape == (25,)
    for i in range(25):
        s, v = ld(pts[i])
        assert s == sign[i] and v == value[i]


def test_singular_points_give_sign_zero_and_minus_infinity():
    ld = symjac.logdet([X[0] * X[1], X[1]], X[:2])  # det = x1²: singular at x1 = 0
    sign, value = ld(np.array([3.0, 0.0]))
    assert sign == 0 and value == -np.inf
    missing = symjac.logdet([X[1], X[0] + X[1]], X[:2])  # structurally zero diagonal entry
    sign, value = missing(np.array([1.0, 2.0]))
    assert sign == -1 and np.isclose(value, 0.0)


def test_non_square_is_rejected():
    with pytest.raises(ValueError, match="square"):
        symjac.logdet([X[0], X[1]], X[:3])


def test_sparse_option_is_refused_clearly():
    with pytest.raises(TypeError, match="no 'sparse' option"):
        symjac.logdet([X[0], X[1]], X[:2], sparse=True)


def test_blocks_are_the_strongly_connected_components():
    jac = symjac.jacobian(SYSTEMS["block-triangular"], X)
    assert sorted(sorted(b) for b in blocks(jac.pattern)) == [[0, 1], [2, 3]]
    # a 3000-long chain: no recursion limit, one block per variable
    chain = sp.symbols("c0:3000", real=True)
    big = symjac.jacobian([chain[0], *[chain[i] * chain[i - 1] for i in range(1, 3000)]], chain)
    assert len(blocks(big.pattern)) == 3000
