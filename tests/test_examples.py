"""The teaching examples run, and what they print is true (checked independently)."""

from __future__ import annotations

import runpy
from pathlib import Path

import numpy as np
import pytest

EXAMPLES = Path(__file__).resolve().parent.parent / "examples"


@pytest.fixture(autouse=True)
def _plots_to_tmp(tmp_path, monkeypatch):
    monkeypatch.setenv("SYMJAC_EXAMPLES_OUT", str(tmp_path))


def _run(name: str) -> dict:
    return runpy.run_path(str(EXAMPLES / name), run_name="example")["main"]()


def test_quickstart_runs():
    runpy.run_path(str(EXAMPLES / "quickstart.py"), run_name="__main__")


def test_linear_approximation_error_is_second_order():
    result = _run("02_linear_approximation.py")
    assert abs(result["slope_linear"] - 2.0) < 0.1
    assert abs(result["slope_constant"] - 1.0) < 0.1
    # independent check of the claim: halving h quarters the linear model's error
    steps, errors = np.array(result["steps"]), np.array(result["linear"])
    ratios = errors[:-1] / errors[1:]
    np.testing.assert_allclose(ratios, (steps[:-1] / steps[1:]) ** 2, rtol=0.05)


def test_newton_converges_quadratically_on_bratu():
    result = _run("04_newton.py")
    res = np.array(result["residuals"])
    assert res[-1] < 1e-10 and len(res) <= 8
    assert result["nnz"] == 5 * result["unknowns"] - 4 * 30  # the 5-point stencil's pattern
    # quadratic: e_{k+1} ≈ C e_k², i.e. log e_{k+1} / log e_k → 2 in the last steps
    tail = res[res < 1e-1]
    orders = np.log(tail[1:]) / np.log(tail[:-1])
    assert orders[-1] > 1.6, orders
    # independent check of the solution: a finite-difference residual in NumPy
    n, u = 30, np.zeros((32, 32))
    u[1:-1, 1:-1] = result["solution"].reshape(n, n)
    lap = (u[:-2, 1:-1] + u[2:, 1:-1] + u[1:-1, :-2] + u[1:-1, 2:] - 4 * u[1:-1, 1:-1]) * 31**2
    assert np.abs(lap + 5.0 * np.exp(u[1:-1, 1:-1])).max() < 1e-8


def test_robot_arm_velocity_singularity_and_inverse_kinematics():
    r = _run("07_robot_arm.py")
    np.testing.assert_allclose(r["velocity"], r["velocity_finite_difference"], atol=1e-8)
    assert r["manipulability"] > 0.1
    assert r["manipulability_straight"] < 1e-7 and r["rank_straight"] == 1
    assert r["ik_errors"][-1] < 1e-10
    # independent forward kinematics in NumPy at the IK solution
    theta = np.cumsum(r["ik_angles"])
    lengths = np.array([1.0, 0.8, 0.5])
    reached = [np.sum(lengths * np.cos(theta)), np.sum(lengths * np.sin(theta))]
    np.testing.assert_allclose(reached, r["target"], atol=1e-9)


def test_stiff_ode_with_the_compiled_jacobian():
    r = _run("05_stiff_ode.py")
    exact, fd = r["runs"]["symjac"], r["runs"]["finite differences"]
    assert exact["success"] and fd["success"]
    # finite differences cost extra f evaluations per Jacobian; the compiled J costs none
    assert fd["nfev"] > exact["nfev"]
    for run in (exact, fd):
        np.testing.assert_allclose(run["final"], r["reference"], rtol=1e-3, atol=1e-8)
    # mass is conserved: y0 + y1 + y2 = 1 (an invariant of the equations, checked independently)
    assert abs(r["reference"].sum() - 1.0) < 1e-9


def test_least_squares_agrees_with_scipy():
    r = _run("06_least_squares.py")
    np.testing.assert_allclose(r["theta"], r["scipy"], rtol=1e-6)
    np.testing.assert_allclose(r["theta"], r["truth"], rtol=0.1)
    assert np.linalg.norm(r["gradient"]) < 1e-8  # Jᵀr = 0 at a least-squares minimum
    costs = np.array(r["costs"])
    assert np.all(np.diff(costs) <= 1e-15)  # accepted steps never increase the cost
    # independent check: the normal equations' gradient by central differences in NumPy
    s, v = r["data"]

    def cost(t):
        return 0.5 * np.sum((t[0] * s / (t[1] + s) - v) ** 2)

    h = 1e-6
    grad = [(cost(r["theta"] + h * e) - cost(r["theta"] - h * e)) / (2 * h) for e in np.eye(2)]
    assert np.abs(grad).max() < 1e-6


def test_change_of_variables():
    import sympy as sp

    out = _run("08_change_of_variables.py")
    r, t = sp.symbols("r theta", positive=True)
    assert sp.simplify(out["det_polar"] - r) == 0
    assert sp.simplify(out["det_spherical"] - r**2 * sp.sin(t)) == 0
    assert abs(out["disc_area"] - np.pi) < 0.02  # Monte-Carlo error ~ 0.004
    assert out["logdet_structure"] == "triangular"
    assert abs(out["flow_total_probability"] - 1.0) < 1e-6
    np.testing.assert_allclose(out["images"], out["grid"], atol=1e-12)  # g(g⁻¹(y)) = y
    # independent: the coupling's det is exp(tanh(a)/2), the derivative of b's image
    a = out["points"][:, 0]
    np.testing.assert_allclose(out["log_abs_det"], np.tanh(a) / 2, rtol=1e-12, atol=1e-14)


def test_chain_rule_and_vector_jacobian_products():
    out = _run("03_chain_rule.py")
    np.testing.assert_allclose(out["J"], out["product"], rtol=1e-13, atol=1e-15)
    np.testing.assert_allclose(out["vjp"], out["w"] @ out["J"], rtol=1e-13, atol=1e-15)
    np.testing.assert_allclose(out["jvp"], out["J"] @ out["v"], rtol=1e-13, atol=1e-15)
    np.testing.assert_allclose(out["rows"], out["cols"], rtol=1e-13, atol=1e-15)
    assert out["products_reverse"] < out["products_forward"]  # m < n: reverse mode is cheaper
    # independent: finite differences of the network written in NumPy
    mod = runpy.run_path(str(EXAMPLES / "03_chain_rule.py"), run_name="example")
    W1, B1, W2 = mod["W1"], mod["B1"], mod["W2"]

    def net(x):
        return W2 @ np.tanh(W1 @ x + B1)

    h = 1e-6
    fd = np.column_stack(
        [(net(out["point"] + h * e) - net(out["point"] - h * e)) / (2 * h) for e in np.eye(6)]
    )
    np.testing.assert_allclose(out["J"], fd, atol=1e-8)


def test_gradients_vanish_or_grow_with_depth():
    out = _run("10_gradient_flow.py")
    small, edge, large = (np.array(out[s]) for s in (0.5, 1.0, 1.5))
    assert small[-1] < 1e-8 and np.all(np.diff(small) < 0)  # vanishing: ≤ 0.5 per layer
    assert small[-1] <= 0.5**30 * 1.0001
    assert large[-1] > small[-1] * 1e6 and large[-1] > 1.0
    assert small[-1] < edge[-1] < large[-1]


def test_sensitivity_along_the_top_singular_vector():
    out = _run("09_sensitivity.py")
    predicted = out["eps"] * out["sigma"][0]
    assert abs(out["along_v1"] - predicted) < 1e-3 * predicted  # first order holds
    assert out["along_v1"] >= out["along_random_max"]  # no direction moves it more
    assert out["penalty_after"] < 0.5 * out["penalty_before"]
    assert out["sigma_max_after"] < out["sigma_max_before"]
