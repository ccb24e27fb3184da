"""Change of variables: densities transform with |det J|.

If x = g(u), then ∫ f(x) dx = ∫ f(g(u)) |det J_g(u)| du. For polar coordinates
|det J| = r, for spherical r² sin θ — derived here symbolically by symjac. We
check the formula with a Monte-Carlo integral, then use it the way normalising
flows do: push a standard normal through an invertible map (an affine coupling
layer: triangular Jacobian, so log|det J| is a sum) and compute the density of
the result with ``symjac.logdet``; it integrates to one.

Run with ``python examples/08_change_of_variables.py``.
"""

from __future__ import annotations

import numpy as np
import sympy as sp

import symjac

r, t, p = sp.symbols("r theta phi", positive=True)
a, b = sp.symbols("a b", real=True)


def coupling():
    """y = (a, b·exp(s(a)) + m(a)): invertible, triangular Jacobian."""
    s = sp.tanh(a) / 2
    m = sp.sin(a)
    return [a, b * sp.exp(s) + m]


def main() -> dict[str, object]:
    polar = symjac.jacobian([r * sp.cos(t), r * sp.sin(t)], [r, t])
    spherical = symjac.jacobian(
        [r * sp.sin(t) * sp.cos(p), r * sp.sin(t) * sp.sin(p), r * sp.cos(t)], [r, t, p]
    )
    det_polar = sp.simplify(polar.to_sympy().det())
    det_spherical = sp.simplify(spherical.to_sympy().det())

    # Monte-Carlo: area of the unit disc = ∫∫ r dr dθ over [0,1]×[0,2π]
    rng = np.random.default_rng(0)
    u = rng.uniform([0, 0], [1, 2 * np.pi], (200_000, 2))
    dets = np.abs(np.linalg.det(polar(u)))
    disc_area = float(dets.mean() * 2 * np.pi)

    # a flow: x ~ N(0, I) in the (a, b) plane, y = g(x); density of y by change of variables
    flow = symjac.function(coupling(), [a, b])
    logdet = symjac.logdet(coupling(), [a, b])
    # p_y(y) = p_x(g⁻¹(y)) / |det J(g⁻¹(y))|, summed over a grid in y-space
    y1, y2 = np.meshgrid(np.linspace(-8, 8, 321), np.linspace(-12, 12, 481), indexing="ij")
    a_inv = y1.ravel()
    b_inv = (y2.ravel() - np.sin(a_inv)) * np.exp(-np.tanh(a_inv) / 2)  # g⁻¹, by hand
    xs = np.column_stack([a_inv, b_inv])
    ys = flow(xs)  # = the grid again (checked in the test)
    _, log_abs_det = logdet(xs)
    log_px = -0.5 * (xs**2).sum(axis=1) - np.log(2 * np.pi)
    density_y = np.exp(log_px - log_abs_det)
    cell = (16 / 320) * (24 / 480)
    total = float(density_y.sum() * cell)
    grid_y = np.column_stack([y1.ravel(), y2.ravel()])
    return {
        "det_polar": det_polar,
        "det_spherical": det_spherical,
        "disc_area": disc_area,
        "flow_total_probability": total,
        "logdet_structure": logdet.structure,
        "log_abs_det": log_abs_det,
        "points": xs,
        "images": ys,
        "grid": grid_y,
    }


if __name__ == "__main__":
    out = main()
    print(f"polar:     det J = {out['det_polar']}")
    print(f"spherical: det J = {out['det_spherical']}")
    print(f"Monte-Carlo area of the unit disc: {out['disc_area']:.4f} (pi = {np.pi:.4f})")
    print(
        f"coupling layer: log|det J| structure {out['logdet_structure']}, "
        f"density integrates to {out['flow_total_probability']:.6f}"
    )
