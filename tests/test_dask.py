"""symjac.dask: compiled objects over Dask arrays, threaded and in worker processes."""

from __future__ import annotations

import numpy as np
import pytest
import sympy as sp

import symjac

da = pytest.importorskip("dask.array")
import symjac.dask  # noqa: E402

X = sp.symbols("x0:3", real=True)
K = sp.Symbol("k", real=True)
EXPRS = [sp.sin(X[0] * X[1]) + K * X[2] ** 2, sp.exp(-X[1]) * X[2], K * sp.tanh(X[0])]


@pytest.fixture(scope="module")
def jac():
    return symjac.jacobian(EXPRS, X, [K])


@pytest.mark.parametrize("scheduler", ["threads", "processes"])
def test_values_over_blocks_equal_one_call(jac, scheduler):
    pts = np.random.default_rng(0).normal(size=(1001, 3))
    lazy = symjac.dask.values(jac, da.from_array(pts, chunks=(250, 1)), [0.4])
    assert lazy.shape == (1001, jac.nnz)
    np.testing.assert_array_equal(lazy.compute(scheduler=scheduler), jac.values(pts, [0.4]))


def test_per_point_parameters_and_functions(jac):
    rng = np.random.default_rng(1)
    pts, ps = rng.normal(size=(300, 3)), rng.normal(size=(300, 1))
    got = symjac.dask.values(jac, da.from_array(pts, chunks=100), da.from_array(ps, chunks=70))
    np.testing.assert_array_equal(got.compute(), jac.values(pts, ps))
    f = symjac.function(EXPRS, X, [K])
    np.testing.assert_array_equal(
        symjac.dask.values(f, da.from_array(pts, chunks=64), [0.4]).compute(), f(pts, [0.4])
    )


def test_wrong_shapes_are_rejected(jac):
    with pytest.raises(ValueError, match=r"\(N, 3\)"):
        symjac.dask.values(jac, da.zeros((5, 2)))
