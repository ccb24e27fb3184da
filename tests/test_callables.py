"""Kernels called without Python in the loop: scipy.LowLevelCallable for quad/nquad, and
numba.njit loops. References: the same integrals with Python callables, NumPy."""

from __future__ import annotations

import numpy as np
import pytest
import sympy as sp
from scipy import LowLevelCallable
from scipy.integrate import nquad, quad

import symjac

r, t, a, x, y = sp.symbols("r t a x y", real=True)


def test_quad_with_a_low_level_callable_equals_the_python_callable() -> None:
    f = symjac.function([sp.exp(-a * x**2) * sp.cos(x), sp.log(1 + x**2)], [x], [a])
    fast = f.low_level_callable([0.7], output=0)
    assert isinstance(fast, LowLevelCallable)
    got, _ = quad(fast, -3.0, 2.0, epsabs=1e-13, epsrel=1e-13)
    want, _ = quad(lambda s: f([s], [0.7])[0], -3.0, 2.0, epsabs=1e-13, epsrel=1e-13)
    assert got == pytest.approx(want, rel=1e-12, abs=1e-15)
    other, _ = quad(f.low_level_callable([0.7], output=1), 0.0, 1.0)  # ∫ log(1+x²) dx
    assert other == pytest.approx(np.log(2) - 2 + np.pi / 2, rel=1e-12)


def test_nquad_of_the_change_of_variables_determinant() -> None:
    # |det ∂(r cos t, r sin t)/∂(r, t)| = r: ∫∫ r dr dt over [0, 2] × [0, π/2] = π
    jac = symjac.jacobian([r * sp.cos(t), r * sp.sin(t)], [r, t])
    det = symjac.function([sp.Abs(jac.to_sympy().det())], [r, t])
    got, _ = nquad(det.low_level_callable(), [[0, 2], [0, np.pi / 2]])
    want, _ = nquad(lambda rr, tt: det([rr, tt])[0], [[0, 2], [0, np.pi / 2]])
    assert got == pytest.approx(want, rel=1e-12) and got == pytest.approx(np.pi, rel=1e-12)


def test_low_level_callable_checks_its_arguments() -> None:
    f = symjac.function([a * x], [x], [a])
    with pytest.raises(ValueError, match="output"):
        f.low_level_callable([1.0], output=1)
    with pytest.raises(ValueError, match="parameters"):
        f.low_level_callable()
    # the callable outlives the object it came from (it keeps the kernels alive)
    fast = symjac.function([x**2], [x]).low_level_callable()
    assert quad(fast, 0.0, 3.0)[0] == pytest.approx(9.0, rel=1e-14)


def test_numba_loops_call_the_kernels_without_python() -> None:
    numba = pytest.importorskip("numba")
    import symjac.numba

    jac = symjac.jacobian([x * y * a, sp.sin(x) + y**3], [x, y], [a])
    k = symjac.numba.kernel(jac)
    fn = k.function
    assert (k.n_vars, k.n_params, k.width, k.work) == (2, 1, jac.nnz, 0)

    @numba.njit
    def newton_like(points, p, out):
        for i in range(points.shape[0]):
            fn(points[i].ctypes.data, p.ctypes.data, out[i].ctypes.data, 1, 0, 0)
        return out

    pts = np.random.default_rng(2).uniform(-1, 1, (50, 2))
    p = np.array([1.5])
    got = newton_like(pts, p, np.empty((50, jac.nnz)))
    want = np.column_stack(
        [pts[:, 1] * 1.5, pts[:, 0] * 1.5, np.cos(pts[:, 0]), 3 * pts[:, 1] ** 2]
    )
    np.testing.assert_allclose(got, want, rtol=1e-14)
    with pytest.raises(ValueError, match="no kernel"):
        symjac.numba.kernel(jac, "jvp")
