"""The teaching examples run, and what they print is true (checked independently)."""

from __future__ import annotations

import functools
import importlib.util
import os
import runpy
import sys
from pathlib import Path

import numpy as np
import pytest

EXAMPLES = Path(__file__).resolve().parent.parent / "examples"
PNG_SIGNATURE = b"\x89PNG\r\n\x1a\n"
HAVE_MATPLOTLIB = importlib.util.find_spec("matplotlib") is not None


@pytest.fixture(autouse=True)
def _plots_to_tmp(tmp_path_factory, monkeypatch):
    # one directory for the session: _run caches each example's result across tests
    monkeypatch.setenv("SYMJAC_EXAMPLES_OUT", str(tmp_path_factory.getbasetemp() / "plots"))


@functools.cache
def _main(name: str) -> dict:
    return runpy.run_path(str(EXAMPLES / name), run_name="example")["main"]()


def _run(name: str, plots: bool = True) -> dict:
    """The result of the example's main() (run once per session), its plots checked."""
    result = _main(name)
    if plots:
        _check_plots(result["plots"], name)
    return result


def _check_plots(plots, name: str) -> None:
    """Each plot is a non-empty PNG in $SYMJAC_EXAMPLES_OUT, named after its example."""
    if not HAVE_MATPLOTLIB:
        assert plots is None
        return
    assert plots, f"{name} wrote no plot"
    for path in plots:
        path = Path(path)
        assert path.parent == Path(os.environ["SYMJAC_EXAMPLES_OUT"])
        assert path.name.startswith(name.split("_")[0])
        data = path.read_bytes()
        assert data.startswith(PNG_SIGNATURE) and len(data) > 1000, path


def test_examples_run_without_matplotlib(monkeypatch, tmp_path):
    monkeypatch.setenv("SYMJAC_EXAMPLES_OUT", str(tmp_path))
    # None in sys.modules makes `import matplotlib` raise ImportError, even if already imported
    for module in ("matplotlib", "matplotlib.pyplot"):
        monkeypatch.setitem(sys.modules, module, None)
    result = runpy.run_path(str(EXAMPLES / "02_linear_approximation.py"), run_name="example")
    out = result["main"]()
    assert out["plots"] is None
    assert abs(out["slope_linear"] - 2.0) < 0.1  # and the example still does its work
    assert not any(tmp_path.iterdir())  # nothing written


def test_quickstart_prints_entries_pattern_and_op_counts(capsys):
    runpy.run_path(str(EXAMPLES / "quickstart.py"), run_name="__main__")
    printed = capsys.readouterr().out
    assert "J[0,2] = " in printed and "13 nonzeros of 16" in printed
    assert "operations in the compiled tape: {" in printed and "'EXP': 4" in printed


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


def _ur5_frames(q: np.ndarray) -> list[np.ndarray]:
    """Base-to-frame-i transforms of the UR5 (standard DH, CB3 series 3), written in NumPy."""
    d = [0.089159, 0, 0, 0.10915, 0.09465, 0.0823]
    a = [0, -0.425, -0.39225, 0, 0, 0]
    alpha = [np.pi / 2, 0, 0, np.pi / 2, -np.pi / 2, 0]
    frames = [np.eye(4)]
    for i in range(6):
        ct, st, ca, sa = np.cos(q[i]), np.sin(q[i]), np.cos(alpha[i]), np.sin(alpha[i])
        A = np.array(
            [
                [ct, -st * ca, st * sa, a[i] * ct],
                [st, ct * ca, -ct * sa, a[i] * st],
                [0, sa, ca, d[i]],
                [0, 0, 0, 1],
            ]
        )
        frames.append(frames[-1] @ A)
    return frames


def test_ur5_geometric_jacobian_and_wrist_singularity():
    ur5 = _run("07_robot_arm.py")["ur5"]
    for q, J in ((ur5["q"], ur5["J"]), (ur5["q_wrist"], ur5["J_wrist"])):
        frames = _ur5_frames(q)
        tool = frames[-1][:3, 3]
        # textbook revolute columns: [z_{i-1} × (p_tool − p_{i-1}); z_{i-1}]
        z = [F[:3, 2] for F in frames[:-1]]
        expected = np.array([[*np.cross(zi, tool - F[:3, 3]), *zi] for zi, F in zip(z, frames)]).T
        np.testing.assert_allclose(J, expected, atol=1e-12)
        h = 1e-6  # and the position rows by central differences of the NumPy kinematics
        fd = [
            (_ur5_frames(q + h * e)[-1][:3, 3] - _ur5_frames(q - h * e)[-1][:3, 3]) / (2 * h)
            for e in np.eye(6)
        ]
        np.testing.assert_allclose(J[:3], np.array(fd).T, atol=1e-8)
    sigma = np.linalg.svd(ur5["J"], compute_uv=False)
    assert np.linalg.matrix_rank(ur5["J"]) == 6 and sigma[-1] > 0.1
    sigma_wrist = np.linalg.svd(ur5["J_wrist"], compute_uv=False)
    assert np.linalg.matrix_rank(ur5["J_wrist"]) == 5 and sigma_wrist[-1] < 1e-12
    assert ur5["rank_wrist"] == 5


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


def test_stiff_brusselator_sparse_jacobian_saves_function_calls():
    b = _run("05_stiff_ode.py")["brusselator"]
    n = 100
    assert b["nnz"] == 2 * (3 * n - 2) + 2 * n  # two tridiagonal blocks and two diagonals
    exact, dense, colored = b["runs"]
    assert all(run["success"] for run in b["runs"])
    # a dense finite-difference J costs a call per column (200), a colored one a call per color
    assert dense["nfev"] >= exact["nfev"] + 2 * n
    assert exact["nfev"] < colored["nfev"] < exact["nfev"] + 2 * n
    for run in b["runs"]:
        np.testing.assert_allclose(run["final"], b["reference"], rtol=1e-3, atol=1e-6)
    # independent: the model itself — the right-hand side written in NumPy equals the
    # compiled one (at the reference end state)
    mod = runpy.run_path(str(EXAMPLES / "05_stiff_ode.py"), run_name="example")
    import symjac

    f = symjac.function(mod["BRUSSELATOR"], [*mod["u"], *mod["v"]])
    state = b["reference"]
    uu, vv = np.r_[1.0, state[:n], 1.0], np.r_[3.0, state[n:], 3.0]
    c = (n + 1) ** 2 / 50
    du = 1 + uu[1:-1] ** 2 * vv[1:-1] - 4 * uu[1:-1] + c * (uu[:-2] - 2 * uu[1:-1] + uu[2:])
    dv = 3 * uu[1:-1] - uu[1:-1] ** 2 * vv[1:-1] + c * (vv[:-2] - 2 * vv[1:-1] + vv[2:])
    np.testing.assert_allclose(f(state), np.r_[du, dv], rtol=1e-12, atol=1e-10)


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
    # the radial flow: det J = (1 + βh)^(d−1)(1 + βh + βh′r), h = 1/(α + r), in NumPy
    radial = out["radial"]
    mod = runpy.run_path(str(EXAMPLES / "08_change_of_variables.py"), run_name="example")
    alpha, beta, x0 = mod["ALPHA"], mod["BETA"], mod["X0"]
    assert beta > -alpha  # invertible
    dist = np.linalg.norm(radial["points"] - x0, axis=1)
    h, dh = 1 / (alpha + dist), -1 / (alpha + dist) ** 2
    closed = np.log(1 + beta * h) + np.log(1 + beta * h + beta * dh * dist)
    np.testing.assert_allclose(radial["log_abs_det"], closed, rtol=1e-12, atol=1e-13)
    assert radial["structure"] == "general"  # a full 2×2 Jacobian
    np.testing.assert_allclose(radial["images"], radial["targets"], atol=1e-12)  # g(g⁻¹(y)) = y
    assert abs(radial["total_probability"] - 1.0) < 1e-10
    ball = out["ball"]  # nquad: LowLevelCallable and Python callable, against 4π/3
    assert ball["low_level"] == pytest.approx(ball["python"], rel=1e-12)
    assert ball["low_level"] == pytest.approx(4 * np.pi / 3, rel=1e-12)


def test_chain_rule_and_vector_jacobian_products():
    out = _run("03_chain_rule.py", plots=False)
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


def test_chain_rule_costs_reverse_for_a_loss_forward_for_a_curve():
    out = _run("03_chain_rule.py", plots=False)["shapes"]
    loss, curve = out["loss m=1, n=100"], out["curve m=100, n=1"]
    assert (loss["products_reverse"], loss["products_forward"]) == (1, 100)
    assert (curve["products_reverse"], curve["products_forward"]) == (100, 1)
    for shape in (loss, curve):  # rows of vjp and columns of jvp give the same J
        np.testing.assert_allclose(shape["reverse"], shape["forward"], rtol=1e-13, atol=1e-15)
        np.testing.assert_allclose(shape["reverse"], shape["J"], rtol=1e-13, atol=1e-15)
        assert (
            shape["seconds_reverse"] > 0 and shape["seconds_forward"] > 0
        )  # timings: printed only
    # independent: ∇ log Σ exp(z) = softmax(z), and d sin((k+1)t)/dt = (k+1) cos((k+1)t)
    z = np.linspace(-1, 1, 100)
    np.testing.assert_allclose(loss["J"][0], np.exp(z) / np.exp(z).sum(), rtol=1e-13)
    k = np.arange(1, 101)
    np.testing.assert_allclose(curve["J"][:, 0], k * np.cos(k * 0.3), rtol=1e-12, atol=1e-13)


def test_gradients_vanish_or_grow_with_depth():
    out = _run("10_gradient_flow.py")["sigma_max"]
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
    plain, regularised = out["fits"][0.0], out["fits"][0.1]
    # the trade-off: the penalised fit is less sensitive and fits the data less closely
    assert regularised["jacobian_norm2"] < 0.6 * plain["jacobian_norm2"]
    assert regularised["sigma_max"] < 0.8 * plain["sigma_max"]
    assert regularised["mse"] > plain["mse"]
    # independent: both fits' mean loss and its weight-gradient in NumPy, with the tanh
    # layer's Jacobian diag(1 - tanh²(Wx))·W written by hand and central differences in w
    X, T = out["data"]

    def mean_loss(w, reg):
        Wm = w.reshape(3, 4)
        y = np.tanh(X @ Wm.T)
        J = (1 - y**2)[:, :, None] * Wm[None]
        return np.mean(((y - T) ** 2).sum(axis=1) + reg * (J**2).sum(axis=(1, 2)))

    mod = runpy.run_path(str(EXAMPLES / "09_sensitivity.py"), run_name="example")
    gradient = mod["_loss_gradient"]()
    for reg, fit in out["fits"].items():
        w = fit["weights"]
        assert abs(mean_loss(w, 0.0) - fit["mse"]) < 1e-12
        samples = np.column_stack([X, T, np.full(len(X), reg)])
        compiled = gradient(np.tile(w, (len(X), 1)), samples)[:, 0, :].mean(axis=0)
        h = 1e-6
        fd = [(mean_loss(w + h * e, reg) - mean_loss(w - h * e, reg)) / (2 * h) for e in np.eye(12)]
        np.testing.assert_allclose(compiled, fd, atol=1e-7)


def test_brachistochrone_by_collocation_reaches_the_cycloid_time():
    pytest.importorskip("cyipopt")
    out = _run("11_optimal_control.py")
    n = out["n"]
    h = out["exact"] / (n - 1)
    for label, run in out["runs"].items():
        assert run["success"], label
        # the trapezoidal rule is second order: the error shrinks like h² (h ≈ 1e-3 here)
        assert abs(run["T"] - out["exact"]) < 10 * h**2, (label, run["T"], out["exact"])
        x = run["x"]
        assert x[0] == 0.0 and x[n - 1] == pytest.approx(2.0) and x[2 * n - 1] == pytest.approx(1.0)
    exact, lbfgs = out["runs"]["exact Hessian"], out["runs"]["limited-memory"]
    assert exact["iterations"] < lbfgs["iterations"]  # second derivatives pay in iterations
    assert out["jacobian_nnz"] < 0.01 * (3 * (n - 1)) * (4 * n + 1)  # sparse: < 1 % dense


def test_ac_circuit_complex_jacobian_and_sensitivities():
    out = _run("12_ac_circuit.py")
    # the nodal Jacobian of a linear circuit is its admittance matrix, written out by hand
    assert out["admittance_max_diff"] < 1e-12
    # the transfer function squared against its closed form (1/4)/(1 + ω⁶)
    assert out["closed_form_max_rel_err"] < 1e-13
    assert out["newton_vs_transfer_max_diff"] < 1e-12
    # holomorphic derivatives at real component values: the complex step (an independent
    # real-arithmetic reference) and finite differences agree
    assert out["complex_step_max_rel_diff"] < 1e-12
    assert out["finite_differences_max_rel_diff"] < 1e-6
    assert out["impedance_scaling_max"] < 1e-12  # Σ sensitivities of a scale-free network
    assert out["float32_dtype"] == "float32" and out["float32_max_rel_diff"] < 1e-5
    for residuals in (out["newton_linear"], out["newton_limiter"]):
        assert residuals[-1] < 1e-10 * max(residuals[0], 1.0)
