"""Change of variables: densities transform with |det J|.

If x = g(u), then ∫ f(x) dx = ∫ f(g(u)) |det J_g(u)| du. For polar coordinates
|det J| = r, for spherical r² sin θ — derived here symbolically by symjac. We
check the formula with a Monte-Carlo integral, then use it the way normalising
flows do: push a standard normal through an invertible map (an affine coupling
layer: triangular Jacobian, so log|det J| is a sum) and compute the density of
the result with ``symjac.logdet``; it integrates to one. The unit ball's volume is then
integrated by ``scipy.integrate.nquad`` with |det J| compiled into a ``LowLevelCallable``
(``f.low_level_callable()``: no Python per evaluation) and, for comparison, as a Python
callable. A radial flow
(Rezende & Mohamed 2015) y = x + β·h(r)·(x − x₀), h = 1/(α + r), r = |x − x₀|, has a full
Jacobian with the closed form det J = (1 + βh)^(d−1)·(1 + βh + βh′r); its density is
integrated in polar coordinates about x₀ (|det J| = ρ again) and also gives one.

Run with ``python examples/08_change_of_variables.py``; the two flows' densities are drawn
into ``$SYMJAC_EXAMPLES_OUT`` (default ``examples/output/``) when matplotlib is installed.
"""

from __future__ import annotations

import time
from pathlib import Path

import numpy as np
import sympy as sp

import symjac
from symjac import plotting

r, t, p = sp.symbols("r theta phi", positive=True)
a, b = sp.symbols("a b", real=True)
ALPHA, BETA, X0 = 1.0, 2.0, np.array([0.96, 0.48])  # β > −α: invertible; x₀ off the grid
N_RHO, N_PHI = 100, 64  # quadrature nodes in ρ and φ
OUTPUT = Path(__file__).parent / "output"


def coupling():
    """y = (a, b·exp(s(a)) + m(a)): invertible, triangular Jacobian."""
    s = sp.tanh(a) / 2
    m = sp.sin(a)
    return [a, b * sp.exp(s) + m]


def radial():
    """y = x + β h(r) (x − x₀), h = 1/(α + r): pushes mass away from x₀ (β > 0)."""
    r = sp.sqrt((a - X0[0]) ** 2 + (b - X0[1]) ** 2)
    return [a + BETA * (a - X0[0]) / (ALPHA + r), b + BETA * (b - X0[1]) / (ALPHA + r)]


def radial_inverse(y: np.ndarray) -> np.ndarray:
    """x from y: |y − x₀| = r(1 + β/(α + r)) is a quadratic in r (its positive root)."""
    rho = np.linalg.norm(y - X0, axis=1)
    c = ALPHA + BETA - rho
    r = 2 * ALPHA * rho / (c + np.sqrt(c * c + 4 * ALPHA * rho))  # no cancellation
    return X0 + (r / rho)[:, None] * (y - X0)


def density(logdet, xs: np.ndarray) -> np.ndarray:
    """p_y(g(x)) = p_x(x) / |det J_g(x)| for a standard normal p_x."""
    return np.exp(-0.5 * (xs**2).sum(axis=1) - np.log(2 * np.pi) - logdet(xs)[1])


def ball_volume(det_spherical: sp.Expr) -> dict[str, float]:
    """The unit ball's volume ∫∫∫ |det J| dr dθ dφ by adaptive quadrature (scipy's nquad), once
    with the compiled |det J| as a LowLevelCallable (no Python per evaluation), once
    calling the compiled object from Python."""
    from scipy.integrate import nquad

    volume = symjac.function([sp.Abs(det_spherical)], [r, t, p])
    box = [[0, 1], [0, np.pi], [0, 2 * np.pi]]
    t0 = time.perf_counter()
    fast, _ = nquad(volume.low_level_callable(), box)
    t1 = time.perf_counter()
    slow, _ = nquad(lambda rr, tt, pp: volume([rr, tt, pp])[0], box)
    t2 = time.perf_counter()
    print(f"unit ball: {fast:.15f} (LowLevelCallable, {t1 - t0:.3f} s), "
          f"{slow:.15f} (Python callable, {t2 - t1:.3f} s); "
          f"4π/3 = {4 * np.pi / 3:.15f}")  # fmt: skip
    return {"low_level": fast, "python": slow, "low_level_seconds": t1 - t0,
            "python_seconds": t2 - t1}  # fmt: skip


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
    density_y = density(logdet, xs)
    cell = (16 / 320) * (24 / 480)
    total = float(density_y.sum() * cell)
    grid_y = np.column_stack([y1.ravel(), y2.ravel()])

    # the radial flow, integrated in polar coordinates about x₀, where p_y is smooth:
    # ∫ p_y dy = ∫∫ p_y(x₀ + ρ(cos φ, sin φ)) ρ dρ dφ; Gauss–Legendre in ρ, trapezoid in φ
    radial_logdet = symjac.logdet(radial(), [a, b])
    nodes, weights = np.polynomial.legendre.leggauss(N_RHO)
    rho, phi = 6 * (nodes + 1), np.linspace(0, 2 * np.pi, N_PHI, endpoint=False)  # ρ < 12
    R, F = np.meshgrid(rho, phi, indexing="ij")
    targets = X0 + np.column_stack([(R * np.cos(F)).ravel(), (R * np.sin(F)).ravel()])
    x_radial = radial_inverse(targets)
    p_polar = density(radial_logdet, x_radial).reshape(R.shape) * R
    radial_total = float(6 * weights @ p_polar.sum(axis=1) * 2 * np.pi / N_PHI)
    ball = ball_volume(det_spherical)
    return {
        "ball": ball,
        "det_polar": det_polar,
        "det_spherical": det_spherical,
        "disc_area": disc_area,
        "flow_total_probability": total,
        "logdet_structure": logdet.structure,
        "log_abs_det": log_abs_det,
        "points": xs,
        "images": ys,
        "grid": grid_y,
        "radial": {
            "points": x_radial,
            "images": symjac.function(radial(), [a, b])(x_radial),
            "targets": targets,
            "log_abs_det": radial_logdet(x_radial)[1],
            "structure": radial_logdet.structure,
            "total_probability": radial_total,
        },
        "plots": _plot(y1, y2, density_y, density(radial_logdet, radial_inverse(grid_y))),
    }


def _plot(y1, y2, coupling: np.ndarray, radial: np.ndarray) -> list[Path] | None:
    made = plotting.subplots(1, 2, figsize=(9, 4.5), sharey=True)
    if made is None:
        return None  # matplotlib is not installed
    fig, axes = made
    for ax, values, title in zip(axes, (coupling, radial), ("affine coupling", "radial flow")):
        ax.pcolormesh(y1, y2, values.reshape(y1.shape), shading="auto")
        ax.set(xlim=(-4, 4), ylim=(-4, 4), aspect="equal", title=f"{title}: p_y(y)")
    axes[1].plot(*X0, "w+")  # the radial flow's centre: mass is pushed away from it
    return [plotting.save(fig, "08_change_of_variables.png", OUTPUT)]


if __name__ == "__main__":
    out = main()
    print(f"polar:     det J = {out['det_polar']}")
    print(f"spherical: det J = {out['det_spherical']}")
    print(f"Monte-Carlo area of the unit disc: {out['disc_area']:.4f} (pi = {np.pi:.4f})")
    print(
        f"coupling layer: log|det J| structure {out['logdet_structure']}, "
        f"density integrates to {out['flow_total_probability']:.6f}"
    )
    radial = out["radial"]
    print(
        f"radial flow: log|det J| structure {radial['structure']}, "
        f"density integrates to {radial['total_probability']:.12f}"
    )
    print(plotting.describe(out["plots"]))
