"""Benchmark problems, defined once and shared by the benchmark scripts and tests."""

from __future__ import annotations

import sympy as sp


def gray_scott(n: int) -> tuple[list[sp.Expr], list[sp.Symbol], list[sp.Symbol]]:
    """Gray–Scott reaction–diffusion on an n×n periodic grid, 5-point Laplacian.

    2n² states (u and v per cell), 4 parameters (Du, Dv, F, k); the Jacobian has
    6 nonzeros per row: 12n² in all.
    """
    u = sp.symbols(f"u0:{n * n}", real=True)
    v = sp.symbols(f"v0:{n * n}", real=True)
    du, dv, feed, kill = sp.symbols("Du Dv F k", real=True)

    def lap(w: tuple[sp.Symbol, ...], i: int, j: int) -> sp.Expr:
        c = i * n + j
        nb = [
            ((i + 1) % n) * n + j,
            ((i - 1) % n) * n + j,
            i * n + (j + 1) % n,
            i * n + (j - 1) % n,
        ]
        return sum(w[q] for q in nb) - 4 * w[c]

    fu, fv = [], []
    for i in range(n):
        for j in range(n):
            c = i * n + j
            reaction = u[c] * v[c] ** 2
            fu.append(du * lap(u, i, j) - reaction + feed * (1 - u[c]))
            fv.append(dv * lap(v, i, j) + reaction - (feed + kill) * v[c])
    return fu + fv, [*u, *v], [du, dv, feed, kill]
