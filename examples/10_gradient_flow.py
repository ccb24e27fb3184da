"""Gradients through depth: the Jacobian of a deep network is a product of layer Jacobians.

For x_{k+1} = tanh(σ·W_k x_k) with random orthogonal W_k, the layer Jacobian is
diag(1 − x_{k+1}²)·σW_k, and ∂x_L/∂x_0 is the product of L of them. Its singular
values shrink geometrically with depth when σ is small (vanishing gradients) and
grow when σ is large enough that the tanh stays unsaturated (exploding) — the
reason deep networks need careful initialisation. One symjac Jacobian of a layer,
with the weights as parameters, serves every layer.

Run with ``python examples/10_gradient_flow.py``; σ_max against depth is drawn into
``$SYMJAC_EXAMPLES_OUT`` (default ``examples/output/``) when matplotlib is installed.
"""

from __future__ import annotations

from pathlib import Path

import numpy as np
import sympy as sp

import symjac
from symjac import plotting

WIDTH = 8
x = sp.symbols(f"x0:{WIDTH}", real=True)
w = sp.symbols(f"w0:{WIDTH * WIDTH}", real=True)
LAYER = [sp.tanh(sum(w[i * WIDTH + j] * x[j] for j in range(WIDTH))) for i in range(WIDTH)]
SCALES, DEPTH = (0.5, 1.0, 1.5), 30
OUTPUT = Path(__file__).parent / "output"


def largest_singular_values(scale: float, depth: int, seed: int = 0) -> list[float]:
    """σ_max of ∂x_k/∂x_0 for k = 1..depth."""
    rng = np.random.default_rng(seed)
    f = symjac.function(LAYER, x, w)
    jac = symjac.jacobian(LAYER, x, w)
    state = rng.normal(size=WIDTH) * 0.1
    product = np.eye(WIDTH)
    out = []
    for _ in range(depth):
        q, _ = np.linalg.qr(rng.normal(size=(WIDTH, WIDTH)))
        weights = (scale * q).ravel()
        product = jac(state, weights) @ product
        state = f(state, weights)
        out.append(float(np.linalg.svd(product, compute_uv=False)[0]))
    return out


def main() -> dict[str, object]:
    """σ_max per depth for each weight scale, and the plots."""
    curves = {scale: largest_singular_values(scale, DEPTH) for scale in SCALES}
    return {"sigma_max": curves, "plots": _plot(curves)}


def _plot(curves: dict[float, list[float]]) -> list[Path] | None:
    made = plotting.subplots(figsize=(5, 4))
    if made is None:
        return None  # matplotlib is not installed
    fig, ax = made
    for scale in SCALES:
        ax.semilogy(range(1, DEPTH + 1), curves[scale], "o-", ms=3, label=f"σ = {scale}")
    ax.set_xlabel("depth L")
    ax.set_ylabel("largest singular value of ∂x_L/∂x_0")
    ax.legend()
    return [plotting.save(fig, "10_gradient_flow.png", OUTPUT)]


if __name__ == "__main__":
    out = main()
    for scale in SCALES:
        values = out["sigma_max"][scale]
        print(
            f"sigma = {scale}: largest singular value after 1, 10, 30 layers: "
            f"{values[0]:.3g}, {values[9]:.3g}, {values[29]:.3g}"
        )
    print(plotting.describe(out["plots"]))
