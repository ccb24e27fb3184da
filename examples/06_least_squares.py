"""Nonlinear least squares: Gauss–Newton uses JᵀJ as the curvature.

Fit Michaelis–Menten kinetics v = Vmax·s / (Km + s) to noisy rates. The
residuals r(θ) = model(θ) − data have a Jacobian J = ∂r/∂θ (one row per
measurement, one column per parameter); Levenberg–Marquardt solves
(JᵀJ + μI)·δ = −Jᵀr at each step. Here the data points are the compiled
object's *parameters* and θ its inputs, so one kernel serves any data set.
We compare with ``scipy.optimize.least_squares(jac=...)``.

Run with ``python examples/06_least_squares.py``; the data and the fitted curve are drawn
into ``$SYMJAC_EXAMPLES_OUT`` (default ``examples/output/``) when matplotlib is installed.
"""

from __future__ import annotations

from pathlib import Path

import numpy as np
import sympy as sp
from scipy.optimize import least_squares

import symjac
from symjac import plotting

M = 25
vmax, km = sp.symbols("Vmax Km", real=True)
s = sp.symbols(f"s0:{M}", real=True)
v = sp.symbols(f"v0:{M}", real=True)
RESIDUALS = [vmax * s[i] / (km + s[i]) - v[i] for i in range(M)]
OUTPUT = Path(__file__).parent / "output"


def main() -> dict[str, object]:
    rng = np.random.default_rng(42)
    substrate = np.linspace(0.1, 5.0, M)
    truth = np.array([2.0, 0.7])
    rates = truth[0] * substrate / (truth[1] + substrate) + rng.normal(0, 0.02, M)
    data = np.concatenate([substrate, rates])
    r = symjac.function(RESIDUALS, [vmax, km], [*s, *v])
    jac = symjac.jacobian(RESIDUALS, [vmax, km], [*s, *v])

    theta, mu, costs = np.array([1.0, 1.0]), 1e-3, []
    for _ in range(100):
        res, J = r(theta, data), jac(theta, data)
        costs.append(0.5 * float(res @ res))
        step = np.linalg.solve(J.T @ J + mu * np.eye(2), -J.T @ res)
        trial = theta + step
        if 0.5 * float(r(trial, data) @ r(trial, data)) < costs[-1]:
            theta, mu = trial, mu / 3
        else:
            mu *= 4
        if np.linalg.norm(step) < 1e-12:
            break
    scipy_fit = least_squares(lambda t: r(t, data), [1.0, 1.0], jac=lambda t: jac(t, data))
    return {
        "theta": theta,
        "scipy": scipy_fit.x,
        "truth": truth,
        "costs": costs,
        "gradient": jac(theta, data).T @ r(theta, data),
        "data": (substrate, rates),
        "plots": _plot(substrate, rates, theta, truth),
    }


def _plot(substrate, rates, theta, truth) -> list[Path] | None:
    made = plotting.subplots(figsize=(5, 4))
    if made is None:
        return None  # matplotlib is not installed
    fig, ax = made
    s_fine = np.linspace(0, substrate.max(), 200)
    ax.plot(substrate, rates, "o", label="data")
    for (vm, k), label, style in ((theta, "fit", "-"), (truth, "truth", "--")):
        ax.plot(
            s_fine, vm * s_fine / (k + s_fine), style, label=f"{label}: Vmax {vm:.3f}, Km {k:.3f}"
        )
    ax.set_xlabel("substrate s")
    ax.set_ylabel("rate v")
    ax.legend(loc="lower right")
    return [plotting.save(fig, "06_least_squares.png", OUTPUT)]


if __name__ == "__main__":
    out = main()
    print(f"Levenberg–Marquardt: Vmax = {out['theta'][0]:.6f}, Km = {out['theta'][1]:.6f}")
    print(f"scipy least_squares: Vmax = {out['scipy'][0]:.6f}, Km = {out['scipy'][1]:.6f}")
    print(f"truth:               Vmax = {out['truth'][0]:.6f}, Km = {out['truth'][1]:.6f}")
    print(plotting.describe(out["plots"]))
