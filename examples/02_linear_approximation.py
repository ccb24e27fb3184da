"""The Jacobian is the best linear approximation: f(x + h·d) ≈ f(x) + J(x)·h·d.

The error of the linear model shrinks like h² (the next Taylor term), while the
error of the constant model f(x + h·d) ≈ f(x) shrinks only like h. We measure
both on a log–log scale and print the slopes: ≈ 2 and ≈ 1.

Run with ``python examples/02_linear_approximation.py``; a plot is written to
``$SYMJAC_EXAMPLES_OUT`` (default ``examples/output/``) when matplotlib is installed.
"""

from __future__ import annotations

from pathlib import Path

import numpy as np
import sympy as sp

import symjac
from symjac import plotting

x, y, z = sp.symbols("x y z", real=True)
F = [sp.sin(x * y) + z**2, sp.exp(x - z) * sp.cos(y), sp.log(1 + x**2 + y**2) * z]
WRT = [x, y, z]
OUTPUT = Path(__file__).parent / "output"


def main() -> dict[str, object]:
    """Errors of the constant and linear models for shrinking steps, and their slopes."""
    f = symjac.function(F, WRT)
    jac = symjac.jacobian(F, WRT)
    x0 = np.array([0.4, -1.1, 0.7])
    direction = np.array([1.0, 2.0, -0.5]) / np.linalg.norm([1.0, 2.0, -0.5])
    steps = np.logspace(-1, -4, 13)
    J = jac(x0)
    constant = [np.linalg.norm(f(x0 + h * direction) - f(x0)) for h in steps]
    linear = [np.linalg.norm(f(x0 + h * direction) - f(x0) - J @ (h * direction)) for h in steps]
    slope_constant = np.polyfit(np.log(steps), np.log(constant), 1)[0]
    slope_linear = np.polyfit(np.log(steps), np.log(linear), 1)[0]
    return {
        "slope_constant": float(slope_constant),
        "slope_linear": float(slope_linear),
        "error_linear_at_smallest_step": float(linear[-1]),
        "steps": steps.tolist(),
        "linear": [float(e) for e in linear],
        "plots": _plot(steps, constant, linear),
    }


def _plot(steps: np.ndarray, constant: list[float], linear: list[float]) -> list[Path] | None:
    made = plotting.subplots(figsize=(5, 4))
    if made is None:
        return None  # matplotlib is not installed
    fig, ax = made
    ax.loglog(steps, constant, "o-", label="f(x+hd) - f(x)  (slope 1)")
    ax.loglog(steps, linear, "s-", label="f(x+hd) - f(x) - J hd  (slope 2)")
    ax.set_xlabel("step h")
    ax.set_ylabel("error")
    ax.legend()
    return [plotting.save(fig, "02_linear_approximation.png", OUTPUT)]


if __name__ == "__main__":
    result = main()
    print(f"constant model: error ~ h^{result['slope_constant']:.3f}")
    print(f"linear model:   error ~ h^{result['slope_linear']:.3f}")
    print(plotting.describe(result["plots"]))
