"""Optimal control by direct collocation: the brachistochrone, solved by IPOPT.

A bead slides without friction from (0, 0) to (x_f, y_f) (y pointing down) under gravity g;
which curve gets it there soonest? Bernoulli's answer is a cycloid, x = R(φ − sin φ),
y = R(1 − cos φ), reached at time T* = φ_f √(R/g), where (φ_f − sin φ_f)/(1 − cos φ_f) = x_f/y_f.

Direct collocation turns the control problem into one nonlinear program. The state
(x, y, v) and the steering angle θ are unknowns at N nodes of [0, T], and the dynamics
x' = v sin θ, y' = v cos θ, v' = g cos θ hold between nodes by the trapezoidal rule:
s_{i+1} − s_i − h/2 (f_i + f_{i+1}) = 0 with h = T/(N − 1). The unknowns are the 4N node
values and T; the objective is T. With N = 300 that is 1 201 variables and 897 equality
constraints, each touching a few neighbours: the Jacobian and the Hessian of the Lagrangian
are sparse, and ``symjac.nlp`` gives IPOPT both, exactly. For comparison IPOPT also runs
with a limited-memory quasi-Newton Hessian (``hessian_approximation="limited-memory"``),
which needs only first derivatives.

Run with ``python examples/11_optimal_control.py`` (needs ``symjac[ipopt]``); the path and
the KKT matrix's sparsity are drawn into ``$SYMJAC_EXAMPLES_OUT`` (default
``examples/output/``) with matplotlib.
"""

from __future__ import annotations

import time
from pathlib import Path

import numpy as np
import sympy as sp
from scipy.optimize import brentq

import symjac
from symjac import plotting

G = 9.81
X_F, Y_F = 2.0, 1.0
N = 750
OUTPUT = Path(__file__).parent / "output"


def closed_form() -> tuple[float, float, float]:
    """(T*, R, φ_f) of the cycloid through (X_F, Y_F)."""
    phi = brentq(lambda p: (p - np.sin(p)) / (1 - np.cos(p)) - X_F / Y_F, 1e-6, 2 * np.pi - 1e-6)
    radius = Y_F / (1 - np.cos(phi))
    return phi * np.sqrt(radius / G), radius, phi


def transcription(n: int = N):
    """The NLP's variables, objective and defect constraints, in SymPy."""
    x = sp.symbols(f"x0:{n}", real=True)
    y = sp.symbols(f"y0:{n}", real=True)
    v = sp.symbols(f"v0:{n}", real=True)
    th = sp.symbols(f"th0:{n}", real=True)
    T = sp.Symbol("T", positive=True)
    h = T / (n - 1)

    def f(i: int) -> tuple[sp.Expr, sp.Expr, sp.Expr]:
        return v[i] * sp.sin(th[i]), v[i] * sp.cos(th[i]), G * sp.cos(th[i])

    defects = []
    for i in range(n - 1):
        fi, fj = f(i), f(i + 1)
        for s, k in ((x, 0), (y, 1), (v, 2)):
            defects.append(s[i + 1] - s[i] - h / 2 * (fi[k] + fj[k]))
    variables = [*x, *y, *v, *th, T]
    return variables, T, defects


def bounds(n: int = N) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """Lower and upper bounds (the boundary conditions fix the end nodes) and a first guess."""
    lb = np.concatenate([np.full(n, -10.0), np.full(n, -10.0), np.zeros(n),
                         np.full(n, -np.pi), [0.1]])  # fmt: skip
    ub = np.concatenate([np.full(n, 10.0), np.full(n, 10.0), np.full(n, 20.0),
                         np.full(n, np.pi), [10.0]])  # fmt: skip
    for block, start, end in ((0, 0.0, X_F), (1, 0.0, Y_F), (2, 0.0, None)):
        lb[block * n] = ub[block * n] = start
        if end is not None:
            lb[block * n + n - 1] = ub[block * n + n - 1] = end
    s = np.linspace(0, 1, n)
    guess = np.concatenate([X_F * s, Y_F * s, np.sqrt(2 * G * Y_F * s), np.full(n, 1.0), [1.0]])
    return lb, ub, guess


def main() -> dict[str, object]:
    variables, T, defects = transcription()
    t0 = time.perf_counter()
    problem = symjac.nlp(T, variables, defects)
    compile_seconds = time.perf_counter() - t0
    lb, ub, guess = bounds()
    zeros = np.zeros(problem.m)
    runs = {}
    hessians = {"exact Hessian": {}, "limited-memory": {"hessian_approximation": "limited-memory"}}
    for label, options in hessians.items():
        t0 = time.perf_counter()
        res = problem.solve(guess, lb=lb, ub=ub, cl=zeros, cu=zeros,
                            options={"tol": 1e-10, "max_iter": 3000, **options})  # fmt: skip
        runs[label] = {"seconds": time.perf_counter() - t0, "iterations": res.nit,
                       "T": res.x[-1], "success": res.success, "x": res.x}  # fmt: skip
    exact, radius, phi = closed_form()
    rows, cols = problem.jacobianstructure()
    hrows, hcols = problem.hessianstructure()
    print(
        f"{len(variables)} variables, {problem.m} constraints; compiled in {compile_seconds:.2f} s"
    )
    print(f"constraint Jacobian: {len(rows)} nonzeros; Hessian of the Lagrangian: {len(hrows)}")
    for label, run in runs.items():
        print(f"{label:>15}: T = {run['T']:.6f} in {run['iterations']} iterations, "
              f"{run['seconds']:.2f} s")  # fmt: skip
    print(f"     cycloid: T* = {exact:.6f}")
    return {
        "runs": runs,
        "exact": exact,
        "n": N,
        "compile_seconds": compile_seconds,
        "jacobian_nnz": len(rows),
        "hessian_nnz": len(hrows),
        "plots": _plot(runs["exact Hessian"]["x"], radius, phi, (rows, cols), (hrows, hcols)),
    }


def _plot(solution, radius, phi, jac, hess) -> list[Path] | None:
    made = plotting.subplots(1, 2, figsize=(10, 4))
    if made is None:
        return None  # matplotlib is not installed
    fig, (path, spy) = made
    p = np.linspace(0, phi, 200)
    path.plot(radius * (p - np.sin(p)), radius * (1 - np.cos(p)), "k-", label="cycloid")
    path.plot(solution[:N], solution[N : 2 * N], "C1--", label=f"collocation, N = {N}")
    path.invert_yaxis()
    path.set(xlabel="x", ylabel="y (down)", title="Brachistochrone")
    path.legend()
    n, m = len(solution), len(jac[0]) and int(max(jac[0])) + 1
    # KKT matrix [[H, Jᵀ], [J, 0]]: H's lower triangle mirrored, J below it
    kkt_rows = np.concatenate([hess[0], hess[1], jac[0] + n, jac[1]])
    kkt_cols = np.concatenate([hess[1], hess[0], jac[1], jac[0] + n])
    spy.plot(kkt_cols, kkt_rows, ",", color="C0")
    spy.set(xlim=(0, n + m), ylim=(n + m, 0), title=f"KKT sparsity ({n + m}×{n + m})")
    return [plotting.save(fig, "11_optimal_control.png", OUTPUT)]


if __name__ == "__main__":
    main()
