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


# ---------------------------------------------------------------------------------------------
# The corpus: the seven problems above and ten more, of the kinds users bring (issue 11).
# ---------------------------------------------------------------------------------------------

# POLLU: the chemical part of the air-pollution model of the Dutch National Institute of Public
# Health and Environmental Protection (RIVM), J. G. Verwer, "Gauss-Seidel iteration for stiff ODEs
# from chemical kinetics", SIAM J. Sci. Comput. 15 (1994) 1243-1259; problem POLLU of the Bari
# "Test Set for IVP Solvers" (Mazzia & Iavernaro). 20 species, 25 mass-action reactions, rate
# constants from 1.3e-4 to 4.4e11 (min⁻¹, ppm⁻¹ min⁻¹): very stiff. Written out here as data.
POLLU_SPECIES = (
    "NO2 NO O3P O3 HO2 OH HCHO CO ALD MEO2 C2O3 CO2 PAN CH3O HNO3 O1D SO2 SO4 NO3 N2O5".split()
)
POLLU_REACTIONS = (  # (reactants, products), species repeated for a stoichiometry of 2
    ("NO2", "NO O3P"),
    ("NO O3", "NO2"),
    ("HO2 NO", "NO2 OH"),
    ("HCHO", "HO2 HO2 CO"),
    ("HCHO", "CO"),
    ("HCHO OH", "HO2 CO"),
    ("ALD", "MEO2 HO2 CO"),
    ("ALD OH", "C2O3"),
    ("C2O3 NO", "NO2 MEO2 CO2"),
    ("C2O3 NO2", "PAN"),
    ("PAN", "C2O3 NO2"),
    ("MEO2 NO", "CH3O NO2"),
    ("CH3O", "HCHO HO2"),
    ("NO2 OH", "HNO3"),
    ("O3P", "O3"),
    ("O3", "O1D"),
    ("O3", "O3P"),
    ("O1D", "OH OH"),
    ("O1D", "O3P"),
    ("SO2 OH", "SO4 HO2"),
    ("NO3", "NO"),
    ("NO3", "NO2 O3P"),
    ("NO2 O3", "NO3"),
    ("NO3 NO2", "N2O5"),
    ("N2O5", "NO3 NO2"),
)
POLLU_RATES = (
    *(0.35, 26.6, 1.23e4, 8.6e-4, 8.2e-4, 1.5e4, 1.3e-4, 2.4e4, 1.65e4, 9.0e3, 0.022, 1.2e4),
    *(1.88, 1.63e4, 4.8e6, 3.5e-4, 0.0175, 1.0e8, 4.44e11, 1240.0, 2.1, 5.78, 0.0474, 1780.0),
    3.12,
)
POLLU_Y0 = {"NO": 0.2, "O3": 0.04, "HCHO": 0.1, "CO": 0.3, "ALD": 0.01, "SO2": 0.007}


def pollu() -> tuple[list[sp.Expr], list[sp.Symbol], list[sp.Symbol]]:
    """POLLU as mass-action kinetics: dy/dt for 20 species, the 25 rate constants as parameters.

    The Jacobian has 82 nonzeros. Real rates: ``POLLU_RATES``; initial state: ``POLLU_Y0``
    (zero elsewhere); the test set integrates to t = 60 (minutes).
    """
    y = {s: sp.Symbol(s, real=True) for s in POLLU_SPECIES}
    k = sp.symbols(f"k1:{len(POLLU_REACTIONS) + 1}", real=True)
    rhs = dict.fromkeys(POLLU_SPECIES, sp.S.Zero)
    for kr, (reactants, products) in zip(k, POLLU_REACTIONS):
        rate = kr * sp.Mul(*(y[s] for s in reactants.split()))
        for s in reactants.split():
            rhs[s] -= rate
        for s in products.split():
            rhs[s] += rate
    return [rhs[s] for s in POLLU_SPECIES], list(y.values()), list(k)


def _chem20():
    exprs, y, k = pollu()
    return exprs, y, k, 1.0


# Franka Emika Panda, 7 revolute joints: forward kinematics with the modified (Craig)
# Denavit-Hartenberg parameters published in Franka's "Robot and interface specifications"
# (a, d in metres; alpha in radians), flange included.
PANDA_DH = (  # (a_{i-1}, d_i, alpha_{i-1})
    ("0", "0.333", 0),
    ("0", "0", -sp.pi / 2),
    ("0", "0.316", sp.pi / 2),
    ("0.0825", "0", sp.pi / 2),
    ("-0.0825", "0.384", -sp.pi / 2),
    ("0", "0", sp.pi / 2),
    ("0.088", "0", sp.pi / 2),
)
PANDA_FLANGE_D = "0.107"


def _mdh(a, d, alpha, theta) -> sp.Matrix:
    """Craig's link transform RotX(alpha) · TransX(a) · RotZ(theta) · TransZ(d)."""
    ca, sa, ct, st = sp.cos(alpha), sp.sin(alpha), sp.cos(theta), sp.sin(theta)
    return sp.Matrix(
        [
            [ct, -st, 0, a],
            [st * ca, ct * ca, -sa, -d * sa],
            [st * sa, ct * sa, ca, d * ca],
            [0, 0, 0, 1],
        ]
    )


def _kin7():
    q = sp.symbols("q1:8", real=True)
    t = sp.eye(4)
    for qi, (a, d, alpha) in zip(q, PANDA_DH):
        t = t * _mdh(sp.Rational(a), sp.Rational(d), alpha, qi)
    t = t * _mdh(0, sp.Rational(PANDA_FLANGE_D), 0, 0)
    position = [t[i, 3] for i in range(3)]
    rotation = [t[i, j] for i in range(3) for j in range(3)]
    return position + rotation, list(q), [], 3.0


# A planar 4-link pendulum (point masses at the link ends, hinged at a fixed pivot, gravity along
# -y), built with sympy.physics.mechanics' KanesMethod as in SymPy's n-link pendulum examples; the
# first-order right-hand side [q'; u'] from mass_matrix_full \ forcing_full by LU, unsimplified.
def pendulum(links: int = 4) -> tuple[list[sp.Expr], list[sp.Symbol], list[sp.Symbol]]:
    """f(q, u) = M_full(q)⁻¹ F_full(q, u), states [q, u], parameters [m, l, g]."""
    import sympy.physics.mechanics as me

    q = me.dynamicsymbols(f"q0:{links}")
    u = me.dynamicsymbols(f"u0:{links}")
    m = sp.symbols(f"m0:{links}", positive=True)
    length = sp.symbols(f"l0:{links}", positive=True)
    g = sp.Symbol("g", positive=True)
    frame = me.ReferenceFrame("N")
    pivot = me.Point("O")
    pivot.set_vel(frame, 0)
    particles, loads, kinematic = [], [], []
    previous = pivot
    for i in range(links):
        link = me.ReferenceFrame(f"A{i}")
        link.orient_axis(frame, frame.z, q[i])
        link.set_ang_vel(frame, u[i] * frame.z)
        point = previous.locatenew(f"P{i}", length[i] * link.x)
        point.v2pt_theory(previous, frame, link)
        particles.append(me.Particle(f"Pa{i}", point, m[i]))
        loads.append((point, -m[i] * g * frame.y))
        kinematic.append(q[i].diff(me.dynamicsymbols._t) - u[i])
        previous = point
    kane = me.KanesMethod(frame, q_ind=q, u_ind=u, kd_eqs=kinematic)
    kane.kanes_equations(particles, loads)
    qs = sp.symbols(f"q0:{links}", real=True)
    us = sp.symbols(f"u0:{links}", real=True)
    plain = dict(zip([*q, *u], [*qs, *us]))
    mass = kane.mass_matrix_full.xreplace(plain)
    forcing = kane.forcing_full.xreplace(plain)
    rhs = mass.LUsolve(forcing)
    return list(rhs), [*qs, *us], [*m, *length, g]


def _pendulum4():
    exprs, x, p = pendulum(4)
    return exprs, x, p, 1.0


# A planar normalising flow (Rezende & Mohamed, "Variational inference with normalizing flows",
# ICML 2015): 16 layers z <- z + u tanh(w·z + b) on R², weights from a seeded generator.
def _flow16(layers: int = 16):
    z0 = sp.symbols("z0:2", real=True)
    rng = np.random.default_rng(16)
    w = rng.normal(0, 1, (layers, 2)).round(4)
    u = rng.normal(0, 0.5, (layers, 2)).round(4)
    b = rng.normal(0, 0.5, layers).round(4)
    z = list(z0)
    for k in range(layers):
        pre = sp.Float(str(w[k, 0])) * z[0] + sp.Float(str(w[k, 1])) * z[1] + sp.Float(str(b[k]))
        h = sp.tanh(pre, evaluate=False)  # tanh's automatic checks walk the whole tree
        z = [z[0] + sp.Float(str(u[k, 0])) * h, z[1] + sp.Float(str(u[k, 1])) * h]
    return z, list(z0), [], 1.0


# A dense transcendental system (synthetic, seeded): f_i = Σ_j a_ij sin(x_j) x_i + exp(-b_i x_i).
# Every Jacobian entry is nonzero; off the diagonal it is a_ij cos(x_j) x_i, so the 60 sines and
# cosines are shared by whole columns.
def _dense60(n: int = 60):
    x = sp.symbols(f"x0:{n}", real=True)
    rng = np.random.default_rng(60)
    a = rng.uniform(-1, 1, (n, n)).round(3)
    a[a == 0] = 0.001  # every entry nonzero: a dense Jacobian
    b = rng.uniform(0.5, 1.5, n).round(3)
    f = [
        sum(sp.Float(str(a[i, j])) * sp.sin(x[j]) * x[i] for j in range(n))
        + sp.exp(-sp.Float(str(b[i])) * x[i])
        for i in range(n)
    ]
    return f, list(x), [], 1.0


# The Bratu problem u'' + λ exp(u) = 0 on (0, 1), u(0) = u(1) = 0, by central differences on
# n interior points (e.g. Mittelmann & Weber 1980; a standard nonlinear-solver test): tridiagonal.
def _tridiag(n: int = 1000):
    u = sp.symbols(f"u0:{n}", real=True)
    lam = sp.Symbol("lam", real=True)
    inv_h2 = (n + 1) ** 2
    f = []
    for i in range(n):
        left = u[i - 1] if i else 0
        right = u[i + 1] if i < n - 1 else 0
        f.append(inv_h2 * (left - 2 * u[i] + right) + lam * sp.exp(u[i]))
    return f, list(u), [lam], 1.0


# The 2-D Brusselator (Prigogine & Lefever 1968; in 2-D as BRUSS of Hairer & Wanner, "Solving
# ODEs II", IV.10) on an n×n periodic grid, 5-point Laplacian: 2n² states, 12n² nonzeros.
def brusselator(n: int) -> tuple[list[sp.Expr], list[sp.Symbol], list[sp.Symbol]]:
    """u' = A + u²v - (B+1)u + D Δu, v' = Bu - u²v + D Δv; parameters [A, B, D] (D = α/h²)."""
    u = sp.symbols(f"u0:{n * n}", real=True)
    v = sp.symbols(f"v0:{n * n}", real=True)
    a, b, d = sp.symbols("A B D", real=True)

    def lap(w, i, j):
        c = i * n + j
        nb = (
            ((i + 1) % n) * n + j,
            ((i - 1) % n) * n + j,
            i * n + (j + 1) % n,
            i * n + (j - 1) % n,
        )
        return w[nb[0]] + w[nb[1]] + w[nb[2]] + w[nb[3]] - 4 * w[c]

    fu, fv = [], []
    for i in range(n):
        for j in range(n):
            c = i * n + j
            react = u[c] ** 2 * v[c]
            fu.append(a + react - (b + 1) * u[c] + d * lap(u, i, j))
            fv.append(b * u[c] - react + d * lap(v, i, j))
    return fu + fv, [*u, *v], [a, b, d]


def _stencil12k():
    exprs, x, p = brusselator(32)
    return exprs, x, p, 1.0


# The Schnakenberg model (J. Schnakenberg, "Simple chemical reaction systems with limit cycle
# behaviour", J. Theor. Biol. 81 (1979) 389-400), u' = a - u + u²v + Du Δu, v' = b - u²v + Dv Δv,
# on an n×n periodic grid with the isotropic 9-point Laplacian (4·edges + corners - 20·centre)/6
# (Patra & Karttunen, Numer. Methods PDE 22 (2006) 936): 2n² states, 20n² nonzeros.
def _stencil9(n: int = 32):
    u = sp.symbols(f"u0:{n * n}", real=True)
    v = sp.symbols(f"v0:{n * n}", real=True)
    a, b, du, dv = sp.symbols("a b Du Dv", real=True)

    def lap(w, i, j):
        def at(di, dj):
            return w[((i + di) % n) * n + (j + dj) % n]

        edges = at(1, 0) + at(-1, 0) + at(0, 1) + at(0, -1)
        corners = at(1, 1) + at(1, -1) + at(-1, 1) + at(-1, -1)
        return (4 * edges + corners - 20 * at(0, 0)) / 6

    fu, fv = [], []
    for i in range(n):
        for j in range(n):
            c = i * n + j
            react = u[c] ** 2 * v[c]
            fu.append(a - u[c] + react + du * lap(u, i, j))
            fv.append(b - react + dv * lap(v, i, j))
    return fu + fv, [*u, *v], [a, b, du, dv], 1.0


def _gray_scott32():
    exprs, x, p = gray_scott(32)
    return exprs, x, p, 1.0


OLD_PROBLEMS = {  # the same seven as kernel_problems(), one builder each
    "robertson": _robertson,
    "hires": _hires,
    "arm6": _arm,
    "dense50": _dense,
    "banded1000": _banded,
    "gray_scott32": _gray_scott32,
    "nn_layer20": _nn_layer,
}
NEW_PROBLEMS = {
    "chem20": _chem20,
    "kin7": _kin7,
    "pendulum4": _pendulum4,
    "flow16": _flow16,
    "dense60": _dense60,
    "tridiag1000": _tridiag,
    "stencil12k": _stencil12k,
    "stencil20k": _stencil9,
}
CORPUS = {**OLD_PROBLEMS, **NEW_PROBLEMS}


def corpus_problems(
    names: list[str] | None = None,
) -> dict[str, tuple[list[sp.Expr], list[sp.Symbol], list[sp.Symbol], float]]:
    """All problems: the seven of ``kernel_problems()``, then the ten new ones.

    ``names`` builds only those, in the corpus's order (a big SymPy model takes seconds).
    """
    unknown = set(names or []) - set(CORPUS)
    if unknown:
        raise KeyError(f"unknown problems {sorted(unknown)}; known: {list(CORPUS)}")
    return {name: build() for name, build in CORPUS.items() if names is None or name in names}


# ---------------------------------------------------------------------------------------------
# Complex models (issue 14): every symbol complex, the Jacobian holomorphic (∂f/∂z). Each
# builder returns (outputs, inputs, parameters) and is parameterised by its size.
# ---------------------------------------------------------------------------------------------


def rlc_ladder(n: int) -> tuple[list[sp.Expr], list[sp.Symbol], list[sp.Symbol]]:
    """Nodal equations of an n-section RLC ladder in the frequency domain, with a soft limiter.

    Section k joins node k-1 to node k through R_k + s L_k and shunts node k to ground through
    s C_k; node 0 is the source ``vin``, node n is loaded by ``rload``. Every node also has a
    saturating shunt ``g tanh(V_k)`` (holomorphic, so ∂f/∂V depends on V). Kirchhoff's current
    law at each node: f_k = Σ currents leaving node k = 0. Inputs V_1..V_n; parameters
    [s, vin, g, rload, R_1..R_n, L_1..L_n, C_1..C_n] (s = iω at a real frequency). The
    Jacobian is tridiagonal: 3n - 2 nonzeros.

    >>> f, v, p = rlc_ladder(3)
    >>> len(f), len(v), len(p)
    (3, 3, 13)
    """
    v = sp.symbols(f"V1:{n + 1}")
    s, vin, g, rload = sp.symbols("s vin g rload")
    r = sp.symbols(f"R1:{n + 1}")
    ind = sp.symbols(f"L1:{n + 1}")
    cap = sp.symbols(f"C1:{n + 1}")
    node = [vin, *v]  # node[k] is V_k, node[0] the source
    # the admittance of each series branch, shared by the two nodes it joins
    series = [1 / (r[k] + s * ind[k]) for k in range(n)]
    f = []
    for k in range(1, n + 1):
        current = series[k - 1] * (node[k] - node[k - 1]) + s * cap[k - 1] * node[k]
        current += g * sp.tanh(node[k])
        current += series[k] * (node[k] - node[k + 1]) if k < n else node[k] / rload
        f.append(current)
    return f, list(v), [s, vin, g, rload, *r, *ind, *cap]


def _grid_lines(side: int) -> list[tuple[int, int]]:
    """The edges of a side×side grid of buses numbered row by row."""
    lines = []
    for i in range(side):
        for j in range(side):
            k = i * side + j
            if j + 1 < side:
                lines.append((k, k + 1))
            if i + 1 < side:
                lines.append((k, k + side))
    return lines


def power_flow(side: int) -> tuple[list[sp.Expr], list[sp.Symbol], list[sp.Symbol]]:
    """AC power flow on a side×side grid, current-injection form, holomorphic in (V, W).

    The power balance S_k = V_k conj(I_k) is not holomorphic (conj is not), so it has no
    complex derivative in V. Written with W_k as an independent unknown that stands for
    conj(V_k) — Wirtinger's device, the one the holomorphic embedding load flow also uses —
    both the equations and their conjugates are holomorphic in (V, W)::

        f_k = Σ_l y_l (V_k - V_other) - Sbar_k / W_k      (Σ_j Y_kj V_j = I_k = conj(S_k / V_k))
        g_k = Σ_l ybar_l (W_k - W_other) - S_k / V_k      (its conjugate)

    At a physical point (W = conj V, ybar = conj y, Sbar = conj S) g_k = conj(f_k), and Newton
    in (V, W) is Newton-Raphson in the real coordinates. Bus 0 is the slack (V_0 = ``vs``,
    W_0 = ``vsbar``, parameters); buses 1..side²-1 are PQ. Inputs [V_1.., W_1..]; parameters
    [vs, vsbar, y_lines.., ybar_lines.., S_1.., Sbar_1..].

    >>> f, x, p = power_flow(3)
    >>> len(f), len(x), len(p)
    (16, 16, 42)
    """
    buses = side * side
    lines = _grid_lines(side)
    vs, vsbar = sp.symbols("vs vsbar")
    v = [vs, *sp.symbols(f"V1:{buses}")]
    w = [vsbar, *sp.symbols(f"W1:{buses}")]
    y = sp.symbols(f"y0:{len(lines)}")
    ybar = sp.symbols(f"ybar0:{len(lines)}")
    load = [None, *sp.symbols(f"S1:{buses}")]
    loadbar = [None, *sp.symbols(f"Sbar1:{buses}")]
    f, g = [], []
    for k in range(1, buses):
        into_v, into_w = sp.S.Zero, sp.S.Zero
        for line, (a, b) in enumerate(lines):
            if k in (a, b):
                other = b if k == a else a
                into_v += y[line] * (v[k] - v[other])
                into_w += ybar[line] * (w[k] - w[other])
        f.append(into_v - loadbar[k] / w[k])
        g.append(into_w - load[k] / v[k])
    params = [vs, vsbar, *y, *ybar, *load[1:], *loadbar[1:]]
    return f + g, [*v[1:], *w[1:]], params


def phase_mesh(modes: int) -> tuple[list[sp.Expr], list[sp.Symbol], list[sp.Symbol]]:
    """A programmable interferometer: ``modes`` layers of phase shifters and 50:50 couplers.

    Layer l multiplies mode j's amplitude by exp(i θ_lj), then mixes the pairs (j, j+1),
    j ≡ l (mod 2), with a balanced coupler (a, b) → ((a + ib), (ia + b))/√2 — the mesh
    (Clements et al. 2016) that programmable photonic circuits and quantum-control
    pulse sequences are built of. Inputs: the modes² phases θ; parameters: the input
    amplitudes. Outputs: the output amplitudes, sums over paths of products of exp(iθ). A
    phase reaches the outputs in its light cone, so the Jacobian is nearly dense: 48 of 64
    entries for 4 modes, 368 of 512 for 8.

    >>> f, theta, a = phase_mesh(4)
    >>> len(f), len(theta), len(a)
    (4, 16, 4)
    """
    theta = sp.symbols(f"theta0:{modes * modes}")
    amp_in = sp.symbols(f"a0:{modes}")
    amp = list(amp_in)
    half = 1 / sp.sqrt(2)
    for layer in range(modes):
        amp = [amp[j] * sp.exp(sp.I * theta[layer * modes + j]) for j in range(modes)]
        for j in range(layer % 2, modes - 1, 2):
            a, b = amp[j], amp[j + 1]
            amp[j], amp[j + 1] = half * (a + sp.I * b), half * (sp.I * a + b)
    return amp, list(theta), list(amp_in)


#: the complex models of benchmarks/complex.py at their default sizes
COMPLEX_PROBLEMS = {
    "ladder20": lambda: rlc_ladder(20),
    "ladder100": lambda: rlc_ladder(100),
    "powerflow4": lambda: power_flow(4),
    "powerflow8": lambda: power_flow(8),
    "mesh4": lambda: phase_mesh(4),
    "mesh8": lambda: phase_mesh(8),
}
