"""Sensitivity and robustness: the singular values of J say how much inputs move outputs.

For a small model y = f(x) (a tanh layer of 4 inputs → 3 outputs), the largest
singular value σ₁ of J(x) is the most any unit input change can move the output
(to first order), along the first right singular vector v₁. A small step ε·v₁ is
the first-order "adversarial" perturbation: its effect ‖f(x + εv₁) − f(x)‖ ≈ εσ₁,
larger than along any other direction. Penalising ‖J‖²_F while fitting (Jacobian
regularisation) lowers σ₁: the model becomes less sensitive. (Here the penalty
is minimised alone, with no data-fitting term, so it drives σ₁ towards zero; in
practice it is a term added to the training loss.)

Run with ``python examples/09_sensitivity.py``; the singular values before and after are
drawn into ``$SYMJAC_EXAMPLES_OUT`` (default ``examples/output/``) when matplotlib is installed.
"""

from __future__ import annotations

from pathlib import Path

import numpy as np
import sympy as sp

import symjac
from symjac import plotting

x = sp.symbols("x0:4", real=True)
W = sp.symbols("w0:12", real=True)
MODEL = [sp.tanh(sum(W[4 * i + j] * x[j] for j in range(4))) for i in range(3)]
OUTPUT = Path(__file__).parent / "output"


def main() -> dict[str, object]:
    rng = np.random.default_rng(5)
    f = symjac.function(MODEL, x, W)
    jac = symjac.jacobian(MODEL, x, W)
    weights = rng.normal(0, 1.0, 12)
    point = rng.normal(0, 0.3, 4)
    J = jac(point, weights)
    _, sigma, vt = np.linalg.svd(J)
    eps = 1e-4
    along_v1 = float(np.linalg.norm(f(point + eps * vt[0], weights) - f(point, weights)))
    random_dirs = rng.normal(size=(200, 4))
    random_dirs /= np.linalg.norm(random_dirs, axis=1, keepdims=True)
    along_random = [
        float(np.linalg.norm(f(point + eps * d, weights) - f(point, weights))) for d in random_dirs
    ]

    # Jacobian regularisation: gradient descent on ‖J(x; w)‖²_F over a batch of inputs,
    # its gradient with respect to w by central differences of the compiled Jacobian
    inputs = rng.normal(0, 0.3, (64, 4))

    def penalty(w: np.ndarray) -> float:
        return float((jac(inputs, w) ** 2).sum() / len(inputs))

    w, h = weights.copy(), 1e-6
    for _ in range(60):
        grad = np.array([(penalty(w + h * e) - penalty(w - h * e)) / (2 * h) for e in np.eye(12)])
        w -= 0.05 * grad
    sigma_after = np.linalg.svd(jac(point, w), compute_uv=False)
    return {
        "sigma": sigma,
        "eps": eps,
        "along_v1": along_v1,
        "along_random_max": max(along_random),
        "penalty_before": penalty(weights),
        "penalty_after": penalty(w),
        "sigma_max_before": float(sigma[0]),
        "sigma_max_after": float(sigma_after[0]),
        "sigma_after": sigma_after,
        "plots": _plot(sigma, sigma_after),
    }


def _plot(before: np.ndarray, after: np.ndarray) -> list[Path] | None:
    made = plotting.subplots(figsize=(5, 4))
    if made is None:
        return None  # matplotlib is not installed
    fig, ax = made
    index = np.arange(1, len(before) + 1)
    ax.bar(index - 0.2, before, 0.4, label="before")
    ax.bar(index + 0.2, after, 0.4, label="after Jacobian regularisation")
    ax.set_xticks(index, [f"σ{i}" for i in index])
    ax.set_yscale("log")  # after: about a hundredth of before
    ax.set_ylim(top=20)  # room for the legend
    ax.set_ylabel("singular value of J(x)")
    ax.legend()
    return [plotting.save(fig, "09_sensitivity.png", OUTPUT)]


if __name__ == "__main__":
    out = main()
    print("singular values of J:", np.round(out["sigma"], 6))
    print(
        f"step {out['eps']} along v1 moves the output {out['along_v1']:.3e} "
        f"(predicted {out['eps'] * out['sigma'][0]:.3e}); "
        f"the most over 200 random directions: {out['along_random_max']:.3e}"
    )
    print(
        f"Jacobian regularisation: ‖J‖²_F {out['penalty_before']:.3f} -> "
        f"{out['penalty_after']:.3f}, σ_max {out['sigma_max_before']:.3f} -> "
        f"{out['sigma_max_after']:.3f}"
    )
    print(plotting.describe(out["plots"]))
