"""A stiff ODE: implicit solvers need the Jacobian, and an exact one saves work.

Robertson's chemical kinetics has rate constants from 0.04 to 3·10⁷: explicit
methods crawl, implicit ones (BDF, Radau) solve (I − hγJ)·δ = r at each step.
Without ``jac=`` SciPy estimates J by finite differences (extra evaluations of
f per estimate); with symjac's compiled J it calls it directly. We compare the
work and check the answer against a tight-tolerance reference.

Run with ``python examples/05_stiff_ode.py``; the three concentrations are drawn on a log
time axis into ``$SYMJAC_EXAMPLES_OUT`` (default ``examples/output/``) with matplotlib.
"""

from __future__ import annotations

import time
from pathlib import Path

import numpy as np
import sympy as sp
from scipy.integrate import solve_ivp

import symjac
from symjac import plotting

y = sp.symbols("y0:3", real=True)
k1, k2, k3 = 0.04, 3e7, 1e4
RHS = [
    -k1 * y[0] + k3 * y[1] * y[2],
    k1 * y[0] - k3 * y[1] * y[2] - k2 * y[1] ** 2,
    k2 * y[1] ** 2,
]
Y0, SPAN = np.array([1.0, 0.0, 0.0]), (0.0, 1e5)
OUTPUT = Path(__file__).parent / "output"


def main() -> dict[str, object]:
    f = symjac.function(RHS, y)
    jac = symjac.jacobian(RHS, y)

    calls = [0]

    def rhs(t, state):
        calls[0] += 1  # counted here: SciPy's nfev leaves out the finite-difference calls
        return f(state)

    def jacobian(t, state):
        return jac(state)

    runs = {}
    for label, j in (("symjac", jacobian), ("finite differences", None)):
        t0, calls[0] = time.perf_counter(), 0
        sol = solve_ivp(rhs, SPAN, Y0, method="BDF", jac=j, rtol=1e-6, atol=1e-10)
        runs[label] = {
            "seconds": time.perf_counter() - t0,
            "nfev": calls[0],
            "njev": int(sol.njev),
            "final": sol.y[:, -1],
            "success": bool(sol.success),
            "t": sol.t,
            "y": sol.y,
        }
    reference = solve_ivp(rhs, SPAN, Y0, method="Radau", jac=jacobian, rtol=1e-11, atol=1e-14)
    return {"runs": runs, "reference": reference.y[:, -1], "plots": _plot(runs["symjac"])}


def _plot(run: dict) -> list[Path] | None:
    made = plotting.subplots(figsize=(6, 4))
    if made is None:
        return None  # matplotlib is not installed
    fig, ax = made
    t, (a, b, c) = run["t"][1:], run["y"][:, 1:]  # t = 0 has no place on a log axis
    ax.semilogx(t, a, label="y0")
    ax.semilogx(t, 1e4 * b, label="y1 × 10⁴ (fast, tiny: the stiffness)")
    ax.semilogx(t, c, label="y2")
    ax.set_xlabel("t")
    ax.set_ylabel("concentration")
    ax.set_title(f"Robertson kinetics, BDF with the compiled J: {len(t)} steps")
    ax.legend()
    return [plotting.save(fig, "05_stiff_ode.png", OUTPUT)]


if __name__ == "__main__":
    r = main()
    for label, run in r["runs"].items():
        err = np.abs(run["final"] - r["reference"]).max()
        print(
            f"{label:20s} f evaluations {run['nfev']:5d}, Jacobians {run['njev']:3d}, "
            f"{run['seconds'] * 1e3:6.1f} ms, max error vs reference {err:.1e}"
        )
    print(plotting.describe(r["plots"]))
