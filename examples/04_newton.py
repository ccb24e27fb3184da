"""Newton's method on a nonlinear PDE, with the compiled sparse Jacobian.

The Bratu problem Δu + λ·eᵘ = 0 on the unit square, u = 0 on the boundary,
discretised with the 5-point stencil on an n×n interior grid: n² equations
F(u) = 0. Newton's step solves J(u)·δ = -F(u) with J sparse (5 nonzeros per
row), so we never build the dense n²×n² matrix. Near the solution the residual
is squared at every step: quadratic convergence.

Run with ``python examples/04_newton.py``; the residuals and the spy plot of J are drawn
into ``$SYMJAC_EXAMPLES_OUT`` (default ``examples/output/``) when matplotlib is installed.
"""

from __future__ import annotations

from pathlib import Path

import numpy as np
import scipy.sparse.linalg
import sympy as sp

import symjac
from symjac import plotting

N = 30  # interior points per side
LAMBDA = 5.0
OUTPUT = Path(__file__).parent / "output"


def bratu(n: int = N):
    u = sp.symbols(f"u0:{n * n}", real=True)
    lam = sp.Symbol("lambda", real=True)
    h2 = sp.Rational(1, (n + 1) ** 2)

    def at(i: int, j: int):
        return u[i * n + j] if 0 <= i < n and 0 <= j < n else 0

    F = [
        (at(i - 1, j) + at(i + 1, j) + at(i, j - 1) + at(i, j + 1) - 4 * at(i, j)) / h2
        + lam * sp.exp(at(i, j))
        for i in range(n)
        for j in range(n)
    ]
    return F, list(u), [lam]


def main() -> dict[str, object]:
    """Residual norms of Newton's iterations from u = 0."""
    F, u, params = bratu()
    f = symjac.function(F, u, params)
    jac = symjac.jacobian(F, u, params)
    x = np.zeros(len(u))
    residuals = [float(np.linalg.norm(f(x, LAMBDA)))]
    while residuals[-1] > 1e-10 and len(residuals) < 20:
        step = scipy.sparse.linalg.spsolve(jac.sparse(x, LAMBDA, format="csc"), -f(x, LAMBDA))
        x = x + step
        residuals.append(float(np.linalg.norm(f(x, LAMBDA))))
    return {
        "residuals": residuals,
        "nnz": jac.nnz,
        "unknowns": len(u),
        "max_u": float(x.max()),
        "solution": x,
        "plots": _plot(residuals, jac.pattern),
    }


def _plot(residuals: list[float], pattern: symjac.SparsityPattern) -> list[Path] | None:
    made = plotting.subplots(1, 2, figsize=(9, 4))
    if made is None:
        return None  # matplotlib is not installed
    fig, (left, right) = made
    left.semilogy(range(len(residuals)), residuals, "o-")
    left.set_xticks(range(len(residuals)))
    left.set_xlabel("Newton iteration")
    left.set_ylabel("|F(u)|")
    left.set_title("quadratic convergence: the exponent doubles")
    pattern.plot(ax=right, markersize=0.3)
    right.set_title(f"J: {pattern.nnz} nonzeros of {pattern.shape[0]}² (5 diagonals)")
    return [plotting.save(fig, "04_newton.png", OUTPUT)]


if __name__ == "__main__":
    result = main()
    print(f"{result['unknowns']} unknowns, {result['nnz']} nonzeros in J")
    for k, r in enumerate(result["residuals"]):
        print(f"iteration {k}: |F(u)| = {r:.3e}")
    print(f"max u = {result['max_u']:.6f}")
    print(plotting.describe(result["plots"]))
