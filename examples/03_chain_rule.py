"""The chain rule is backpropagation: J of a composition is the product of the Jacobians.

A two-layer network y = W₂·tanh(W₁·x + b₁), written in SymPy. symjac derives the
Jacobian of the whole composition; it equals J_layer2 · J_layer1 evaluated at the
layer's input. A vector–Jacobian product wᵀJ (reverse mode, what backpropagation
computes) gives the gradient of w·y without forming J; a Jacobian–vector product
Jv (forward mode) gives a directional derivative. Forming J column by column costs
n forward products, row by row m reverse products: reverse wins when m ≪ n
(a loss, m = 1), forward when n ≪ m — shown on a log-sum-exp loss of 100
inputs and on a curve of 100 outputs of one input, with measured times (each
product is one call here, so the time follows the number of products).

Run with ``python examples/03_chain_rule.py``.
"""

from __future__ import annotations

import time

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

WIDE = 100
z = sp.symbols(f"z0:{WIDE}", real=True)
t = sp.Symbol("t", real=True)
SHAPES = {  # name: (expressions, inputs, point)
    "loss m=1, n=100": ([sp.log(sum(sp.exp(zi) for zi in z))], z, np.linspace(-1, 1, WIDE)),
    "curve m=100, n=1": ([sp.sin((k + 1) * t) for k in range(WIDE)], [t], np.array([0.3])),
}


def costs(exprs, wrt, point) -> dict[str, object]:
    """J by m reverse products (rows) and by n forward products (columns), and their times."""
    jac = symjac.jacobian(exprs, wrt)
    m, n = jac.shape
    jac.vjp(point, np.ones(m))  # compile both kernels before timing them
    jac.jvp(point, np.ones(n))
    out: dict[str, object] = {"products_reverse": m, "products_forward": n, "J": jac(point)}
    for mode, size, product in (("reverse", m, jac.vjp), ("forward", n, jac.jvp)):
        seconds = []
        for _ in range(5):  # the best of five runs: the least disturbed by the machine
            t0 = time.perf_counter()
            stacked = np.array([product(point, e) for e in np.eye(size)])
            seconds.append(time.perf_counter() - t0)
        out[mode] = stacked if mode == "reverse" else stacked.T
        out[f"seconds_{mode}"] = min(seconds)
    return out


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
        "shapes": {name: costs(*shape) for name, shape in SHAPES.items()},
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
    for name, c in out["shapes"].items():
        print(
            f"{name}: {c['products_reverse']} vjp ({c['seconds_reverse'] * 1e6:.0f} us) "
            f"or {c['products_forward']} jvp ({c['seconds_forward'] * 1e6:.0f} us) form J; "
            f"equal: {np.allclose(c['reverse'], c['forward'])}"
        )
