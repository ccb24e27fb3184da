"""Large batches split across threads give exactly the serial results."""

from __future__ import annotations

import numpy as np
import pytest
import sympy as sp

import symjac
from symjac import parallel

X = sp.symbols("x0:40", real=True)
A = sp.Symbol("a", real=True)
# long enough to be outlined into chunks with a work buffer, and with a dense scatter
EXPRS = [
    sp.sin(X[i]) * X[(i + 1) % 40] ** 2 + A * sp.exp(-X[i] * X[(i + 7) % 40]) for i in range(40)
]


@pytest.fixture(scope="module")
def jac():
    return symjac.jacobian(EXPRS, X, [A], sparse=False)


def _both(compiled, method, *args):
    compiled.threads = 1
    serial = getattr(compiled, method)(*args).copy()
    compiled.threads = 2
    threaded = getattr(compiled, method)(*args)
    return serial, threaded


@pytest.mark.parametrize("method", ["values", "dense"])
def test_threaded_batches_equal_serial(jac, method):
    rng = np.random.default_rng(3)
    n = 3001  # odd, so the blocks differ in size
    pts, ps = rng.normal(size=(n, 40)), rng.normal(size=(n, 1))
    assert len(parallel.blocks(n, jac._kernels.cost(method), 2)) == 2
    serial, threaded = _both(jac, method, pts, ps)
    np.testing.assert_array_equal(serial, threaded)
    shared_serial, shared_threaded = _both(jac, method, pts, [0.25])
    np.testing.assert_array_equal(shared_serial, shared_threaded)
    # an independent check of a few rows: the single-point path
    for i in (0, 1500, n - 1):
        one = getattr(jac, method)(pts[i], ps[i])
        np.testing.assert_array_equal(threaded[i], one)


def test_threaded_out_buffer_is_filled_completely(jac):
    pts = np.random.default_rng(4).normal(size=(2000, 40))
    out = np.full((2000, jac.nnz), np.nan)
    assert len(parallel.blocks(2000, jac._kernels.cost("values"), 2)) == 2
    jac.threads = 2
    jac.values(pts, [0.5], out=out)
    assert not np.isnan(out).any()


def test_blocks_cover_every_point_once():
    for n in (1, 2, 7, 1000, 65_537):
        for threads in (1, 2, 3, 8):
            parts = parallel.blocks(n, 64, threads)
            covered = [i for start, count in parts for i in range(start, start + count)]
            assert covered == list(range(n))
    assert parallel.blocks(100, 1, 8) == [(0, 100)]  # small work stays serial
