"""Benchmark problems, defined once and shared by the benchmark scripts and tests."""

from __future__ import annotations

import numpy as np
import sympy as sp


def gray_scott(n: int) -> tuple[list[sp.Expr], list[sp.Symbol], list[sp.Symbol]]:
    """Gray–Scott reaction–diffusion on an n×n periodic grid, 5-point Laplacian.

    2n² states (u and v per cell), 4 parameters (Du, Dv, F, k); the Jacobian has
    6 nonzeros per row: 12n² in all.
    """
    u = sp.symbols(f"u0:{n * n}", real=True)
    v = sp.symbols(f"v0:{n * n}", real=True)
    du, dv, feed, kill = sp.symbols("Du Dv F k", real=True)

    return gray_scott_rhs(n, u, v, du, dv, feed, kill), [*u, *v], [du, dv, feed, kill]


def gray_scott_rhs(n: int, u, v, du, dv, feed, kill) -> list:
    """The Gray–Scott right-hand side for any symbolic type that indexes and does arithmetic
    (SymPy symbols here; CasADi SX in benchmarks/scale.py)."""

    def lap(w, i: int, j: int):
        nb = [
            ((i + 1) % n) * n + j,
            ((i - 1) % n) * n + j,
            i * n + (j + 1) % n,
            i * n + (j - 1) % n,
        ]
        return w[nb[0]] + w[nb[1]] + w[nb[2]] + w[nb[3]] - 4 * w[i * n + j]

    fu, fv = [], []
    for i in range(n):
        for j in range(n):
            c = i * n + j
            reaction = u[c] * v[c] ** 2
            fu.append(du * lap(u, i, j) - reaction + feed * (1 - u[c]))
            fv.append(dv * lap(v, i, j) + reaction - (feed + kill) * v[c])
    return fu + fv


def _robertson():
    y = sp.symbols("y0:3", real=True)
    k = sp.symbols("k0:3", real=True)
    f = [
        -k[0] * y[0] + k[1] * y[1] * y[2],
        k[0] * y[0] - k[1] * y[1] * y[2] - k[2] * y[1] ** 2,
        k[2] * y[1] ** 2,
    ]
    return f, list(y), list(k), 1.0


def _hires():
    y = sp.symbols("y0:8", real=True)
    f = [
        -sp.Float("1.71") * y[0]
        + sp.Float("0.43") * y[1]
        + sp.Float("8.32") * y[2]
        + sp.Float("0.0007"),
        sp.Float("1.71") * y[0] - sp.Float("8.75") * y[1],
        -sp.Float("10.03") * y[2] + sp.Float("0.43") * y[3] + sp.Float("0.035") * y[4],
        sp.Float("8.32") * y[1] + sp.Float("1.71") * y[2] - sp.Float("1.12") * y[3],
        -sp.Float("1.745") * y[4] + sp.Float("0.43") * y[5] + sp.Float("0.43") * y[6],
        -280 * y[5] * y[7]
        + sp.Float("0.69") * y[3]
        + sp.Float("1.71") * y[4]
        - sp.Float("0.43") * y[5]
        + sp.Float("0.69") * y[6],
        280 * y[5] * y[7] - sp.Float("1.81") * y[6],
        -280 * y[5] * y[7] + sp.Float("1.81") * y[6],
    ]
    return f, list(y), [], 1.0


def _arm(links: int = 6):
    """Forward kinematics of a planar arm: end-effector x, y and heading."""
    q = sp.symbols(f"q0:{links}", real=True)
    lengths = sp.symbols(f"L0:{links}", positive=True)
    angle, px, py = sp.S.Zero, sp.S.Zero, sp.S.Zero
    for i in range(links):
        angle = angle + q[i]
        px += lengths[i] * sp.cos(angle)
        py += lengths[i] * sp.sin(angle)
    return [px, py, angle], list(q), list(lengths), 3.0


def _dense(n: int = 50):
    x = sp.symbols(f"x0:{n}", real=True)
    rng = np.random.default_rng(7)
    c = rng.uniform(0.5, 1.5, (n, n)).round(3)
    d = rng.uniform(-1, 1, (n, n)).round(3)
    f = []
    for i in range(n):
        quad = sum(sp.Float(str(c[i, j])) * x[j] ** 2 for j in range(n)) / n
        lin = sum(sp.Float(str(d[i, j])) * x[j] for j in range(n))
        f.append(sp.exp(-quad) * sp.cos(lin))
    return f, list(x), [], 1.0


def _banded(n: int = 1000):
    u = sp.symbols(f"u0:{n}", real=True)
    k = sp.Symbol("k", real=True)
    f = []
    for i in range(n):
        left = u[i - 1] if i else 0
        right = u[i + 1] if i < n - 1 else 0
        f.append(k * (left - 2 * u[i] + right) + u[i] ** 2 * sp.exp(-u[i]) - sp.sin(u[i]) * right)
    return f, list(u), [k], 1.0


def _nn_layer(n: int = 20):
    x = sp.symbols(f"x0:{n}", real=True)
    rng = np.random.default_rng(11)
    w = rng.normal(0, 1 / np.sqrt(n), (n, n)).round(4)
    b = rng.normal(0, 0.1, n).round(4)
    f = [
        sp.tanh(sum(sp.Float(str(w[i, j])) * x[j] for j in range(n)) + sp.Float(str(b[i])))
        for i in range(n)
    ]
    return f, list(x), [], 1.0


def kernel_problems() -> dict[str, tuple[list[sp.Expr], list[sp.Symbol], list[sp.Symbol], float]]:
    """The kernel-speed problems: (outputs, inputs, parameters, scale of the inputs)."""
    gs_exprs, gs_x, gs_p = gray_scott(32)
    return {
        "robertson": _robertson(),
        "hires": _hires(),
        "arm6": _arm(),
        "dense50": _dense(),
        "banded1000": _banded(),
        "gray_scott32": (gs_exprs, gs_x, gs_p, 1.0),
        "nn_layer20": _nn_layer(),
    }
