"""The chain rule is backpropagation: J of a composition is the product of the Jacobians.

A two-layer network y = W₂·tanh(W₁·x + b₁), written in SymPy. symjac derives the
Jacobian of the whole composition; it equals J_layer2 · J_layer1 evaluated at the
layer's input. A vector–Jacobian product wᵀJ (reverse mode, what backpropagation
computes) gives the gradient of w·y without forming J; a Jacobian–vector product
Jv (forward mode) gives a directional derivative. Forming J column by column costs
n forward products, row by row m reverse products: reverse wins when m ≪ n
(a loss, m = 1), forward when n ≪ m.

Run with ``python examples/03_chain_rule.py``.
"""

from __future__ import annotations

import numpy as np
import sympy as sp

import symjac

N_IN, N_HIDDEN, N_OUT = 6, 5, 2
rng = np.random.default_rng(3)
W1 = rng.normal(0, 0.6, (N_HIDDEN, N_IN)).round(3)
B1 = rng.normal(0, 0.1, N_HIDDEN).round(3)
W2 = rng.normal(0, 0.6, (N_OUT, N_HIDDEN)).round(3)

x = sp.symbols(f"x0:{N_IN}", real=True)
h = sp.symbols(f"h0:{N_HIDDEN}", real=True)


def _affine(W, v, b=None):
    return [
        sum(sp.Float(str(W[i, j])) * v[j] for j in range(len(v)))
        + (sp.Float(str(b[i])) if b is not None else 0)
        for i in range(W.shape[0])
    ]


LAYER1 = [sp.tanh(e) for e in _affine(W1, x, B1)]  # x -> h
LAYER2 = _affine(W2, h)  # h -> y
NETWORK = [e.subs(dict(zip(h, LAYER1))) for e in LAYER2]  # x -> y


def main() -> dict[str, object]:
    whole = symjac.jacobian(NETWORK, x)
    first = symjac.jacobian(LAYER1, x)
    second = symjac.jacobian(LAYER2, h)
    hidden = symjac.function(LAYER1, x)
    point = rng.normal(size=N_IN)
    J = whole(point)
    product = second(hidden(point)) @ first(point)
    w = np.array([1.0, -2.0])
    v = rng.normal(size=N_IN)
    rows = np.array([whole.vjp(point, e) for e in np.eye(N_OUT)])  # m reverse products
    cols = np.array([whole.jvp(point, e) for e in np.eye(N_IN)]).T  # n forward products
    return {
        "J": J,
        "product": product,
        "vjp": whole.vjp(point, w),
        "w": w,
        "jvp": whole.jvp(point, v),
        "v": v,
        "rows": rows,
        "cols": cols,
        "point": point,
        "products_reverse": N_OUT,
        "products_forward": N_IN,
    }


if __name__ == "__main__":
    out = main()
    print("J of the network == J2 · J1:", np.allclose(out["J"], out["product"], rtol=1e-14))
    print("wᵀJ by a vjp == wᵀ(J):     ", np.allclose(out["vjp"], out["w"] @ out["J"]))
    print(
        f"J from {out['products_reverse']} reverse products (rows) or "
        f"{out['products_forward']} forward products (columns): equal:",
        np.allclose(out["rows"], out["cols"]),
    )
