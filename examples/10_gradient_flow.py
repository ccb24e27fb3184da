"""Gradients through depth: the Jacobian of a deep network is a product of layer Jacobians.

For x_{k+1} = tanh(σ·W_k x_k) with random orthogonal W_k, the layer Jacobian is
diag(1 − x_{k+1}²)·σW_k, and ∂x_L/∂x_0 is the product of L of them. Its singular
values shrink geometrically with depth when σ is small (vanishing gradients) and
grow when σ is large enough that the tanh stays unsaturated (exploding) — the
reason deep networks need careful initialisation. One symjac Jacobian of a layer,
with the weights as parameters, serves every layer.

Run with ``python examples/10_gradient_flow.py``.
"""

from __future__ import annotations

import numpy as np
import sympy as sp

import symjac

WIDTH = 8
x = sp.symbols(f"x0:{WIDTH}", real=True)
w = sp.symbols(f"w0:{WIDTH * WIDTH}", real=True)
LAYER = [sp.tanh(sum(w[i * WIDTH + j] * x[j] for j in range(WIDTH))) for i in range(WIDTH)]


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
    return {scale: largest_singular_values(scale, 30) for scale in (0.5, 1.0, 1.5)}


if __name__ == "__main__":
    for scale, values in main().items():
        print(
            f"sigma = {scale}: largest singular value after 1, 10, 30 layers: "
            f"{values[0]:.3g}, {values[9]:.3g}, {values[29]:.3g}"
        )
