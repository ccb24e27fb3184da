"""AC circuits: a filter's frequency response, Newton on complex nodal equations, sensitivities.

Drive a circuit with a sinusoid of angular frequency ω and, once it has settled, every voltage
is a sinusoid of the same frequency: a *phasor*, one complex number V = |V|·e^{iφ} holding
amplitude and phase. Capacitors and inductors then obey algebraic laws with s = iω — a
capacitor passes the current sC·V, an inductor V/(sL) — and Kirchhoff's current law (the
currents leaving a node sum to zero) gives complex equations f(V; s, R, L, C) = 0.

The circuit is a doubly terminated third-order Butterworth low-pass: source resistance Rs,
shunt capacitor C1 at node 1, series inductor L2 from node 1 to node 2, shunt capacitor C3
and load RL at node 2. With Rs = RL = 1 Ω, C1 = C3 = 1 F, L2 = 2 H its cutoff is 1 rad/s and
its transfer function H = V2/Vs has |H(iω)|² = (1/4)/(1 + ω⁶).

What the complex Jacobian means here:

1. J = ∂f/∂V: how much more current leaves each node when a node voltage rises. For a linear
   circuit f = Y·V − b, so J *is* the nodal admittance matrix Y(s), and Newton's step
   V ← V − J⁻¹f lands on the solution at once. With a nonlinear but holomorphic element (a
   soft limiter g·tanh(V2) across the load) J depends on V and Newton takes a few steps,
   converging quadratically. (A nonlinear element acting on phasors is a toy: a real
   nonlinear circuit makes harmonics, which harmonic-balance solvers follow with Jacobians of
   exactly this complex kind.) A frequency sweep is one batch: 400 frequencies, 400 complex
   2×2 Newton systems per step, in one call.
2. ∂H/∂(Rs, C1, L2, C3, RL). The components are real, but H(s; Rs, C1, ...) is a rational
   function of them with complex coefficients, holomorphic in each. A holomorphic function has
   one derivative, the same along every direction of the complex plane — along the real axis
   too — so the complex kernel's ∂H/∂L2 at a real L2 *is* the ordinary derivative of the
   complex-valued function L2 ↦ H. We check it against central finite differences, and the
   derivative of the real quantity |H|² against the *complex step*: for G real on the real
   axis, G'(x) = Im G(x + ih)/h + O(h²) with no subtraction, so h = 1e-20 keeps every digit.
   For real components |H(iω)|² = H(iω)·H(−iω), and that is such a G.
3. float32: |H(iω)|² written as a real rational function of ω, evaluated at 10⁵ frequencies by
   a float32 kernel and a float64 one.

Run with ``python examples/12_ac_circuit.py``; the response and the sensitivities are drawn
into ``$SYMJAC_EXAMPLES_OUT`` (default ``examples/output/``) when matplotlib is installed.
"""

from __future__ import annotations

from pathlib import Path

import numpy as np
import sympy as sp

import symjac
from symjac import plotting

# SymPy symbols without assumptions are complex, as the complex kernels treat every symbol
s, vs, g = sp.symbols("s vs g")  # s = iω, the source phasor, the limiter's strength
COMPONENTS = sp.symbols("Rs C1 L2 C3 RL")
Rs, C1, L2, C3, RL = COMPONENTS
NODES = sp.symbols("V1 V2")
V1, V2 = NODES
BUTTERWORTH = np.array([1.0, 1.0, 2.0, 1.0, 1.0])  # Rs, C1, L2, C3, RL
NAMES = [c.name for c in COMPONENTS]

# Kirchhoff's current law: the currents leaving node 1 and node 2 through their branches
KCL = [
    (V1 - vs) / Rs + s * C1 * V1 + (V1 - V2) / (s * L2),
    (V2 - V1) / (s * L2) + s * C3 * V2 + V2 / RL + g * sp.tanh(V2),
]
PARAMS = [s, vs, g, *COMPONENTS]
OUTPUT = Path(__file__).parent / "output"


def transfer_function() -> sp.Expr:
    """H = V2/Vs of the linear filter (g = 0): solve Y(s)·V = b symbolically."""
    linear = [e.subs(g, 0) for e in KCL]
    admittance = sp.Matrix(linear).jacobian(NODES)  # J of a linear circuit: Y(s)
    b = -sp.Matrix(linear).subs({V1: 0, V2: 0})  # the source's current into node 1
    return sp.cancel(admittance.LUsolve(b)[1] / vs)


def h_by_hand(theta: np.ndarray, s_value: complex) -> complex:
    """H from the nodal equations solved by hand — no SymPy, no symjac: the independent check.

    With Ya = 1/Rs + sC1 (node 1 to the source and to ground), Yc = sC3 + 1/RL (node 2 to ground)
    and 1/(sL2) between them, eliminating V1 gives H = 1 / (Rs·(Ya + Yc + sL2·Ya·Yc)).
    """
    rs, c1, l2, c3, rl = theta
    ya, yc = 1 / rs + s_value * c1, s_value * c3 + 1 / rl
    return 1 / (rs * (ya + yc + s_value * l2 * ya * yc))


def mag2_by_hand(theta: np.ndarray, omega: float) -> complex:
    """|H(iω)|² in real arithmetic: D = Ya + Yc + iωL2·Ya·Yc split into real and imaginary
    parts by hand, so that complex ``theta`` carries only the complex step."""
    rs, c1, l2, c3, rl = theta
    p = 1 / (rs * rl) - omega**2 * c1 * c3  # Ya·Yc = p + iq
    q = omega * (c1 / rl + c3 / rs)
    d_re = 1 / rs + 1 / rl - omega * l2 * q
    d_im = omega * (c1 + c3) + omega * l2 * p
    return 1 / (rs**2 * (d_re**2 + d_im**2))


def newton_sweep(omega: np.ndarray, strength: float) -> tuple[np.ndarray, list[float], np.ndarray]:
    """Solve KCL at every frequency at once by Newton: the node voltages, max |f| per step and
    the last Jacobians."""
    fj = symjac.function_and_jacobian(KCL, NODES, PARAMS, sparse=False, dtype=np.complex128)
    n = len(omega)
    # one row of parameters per frequency: s = iω varies, the circuit does not
    params = np.column_stack(
        [1j * omega, np.ones(n), np.full(n, strength), np.tile(BUTTERWORTH, (n, 1))]
    ).astype(np.complex128)
    v = np.zeros((n, 2), dtype=np.complex128)
    residuals = []
    for _ in range(20):
        f, J = fj(v, params)  # f: (n, 2) node currents, J: (n, 2, 2) = ∂f/∂V per frequency
        residuals.append(float(np.abs(f).max()))
        if residuals[-1] < 1e-13:
            break
        v = v - np.linalg.solve(J, f[..., None])[..., 0]  # n complex 2×2 solves at once
    return v, residuals, J


def sensitivity_kernel() -> symjac.CompiledFunctionAndJacobian:
    """H and ∂H/∂(Rs, C1, L2, C3, RL): the components are the complex kernel's ``wrt``, s its
    parameter. Called with real component values (stored as complex128), it returns the
    ordinary derivatives of the complex-valued H."""
    return symjac.function_and_jacobian(
        [transfer_function()], COMPONENTS, [s], sparse=False, dtype=np.complex128
    )


def check_at(omega: float, fj: symjac.CompiledFunctionAndJacobian) -> list[dict[str, object]]:
    """∂H/∂θ and ∂|H|²/∂θ at one frequency: symjac, complex step and finite differences."""
    h, dh = fj(BUTTERWORTH.astype(np.complex128), [1j * omega])
    h, dh = complex(h[0]), dh[0]
    rows = []
    for j, name in enumerate(NAMES):
        step = np.zeros(5)
        step[j] = 1.0
        hc = 1e-20  # the complex step: no subtraction, so it can be this small
        complex_step = mag2_by_hand(BUTTERWORTH + 1j * hc * step, omega).imag / hc
        hf = 1e-6 * BUTTERWORTH[j]  # central differences: error O(hf²) + rounding/hf
        up, down = BUTTERWORTH + hf * step, BUTTERWORTH - hf * step
        fd_h = (h_by_hand(up, 1j * omega) - h_by_hand(down, 1j * omega)) / (2 * hf)
        fd_mag2 = (mag2_by_hand(up, omega) - mag2_by_hand(down, omega)) / (2 * hf)
        rows.append(
            {
                "component": name,
                "dH": complex(dh[j]),
                "dH_fd": complex(fd_h),
                # d|H|²/dθ = 2 Re(conj(H) ∂H/∂θ): the real derivative from the complex one
                "dmag2": float(2 * (np.conj(h) * dh[j]).real),
                "dmag2_complex_step": float(complex_step),
                "dmag2_fd": float(fd_mag2),
            }
        )
    return rows


def magnitude_squared() -> sp.Expr:
    """|H(iω)|² as a real rational function of a real ω: N(iω)N(−iω) / D(iω)D(−iω)."""
    omega = sp.Symbol("omega", real=True)
    num, den = sp.fraction(transfer_function())

    def times_conjugate(poly):
        # for real components, conj(P(iω)) = P(−iω): the product is real, the i's cancel
        return sp.expand(poly.subs(s, sp.I * omega) * poly.subs(s, -sp.I * omega))

    result = times_conjugate(num) / times_conjugate(den)
    assert not result.has(sp.I)
    return result


def main() -> dict[str, object]:
    omega = np.logspace(-1, 1, 400)

    # 1. Newton on the nodal equations: linear (one step) and with the soft limiter
    v_linear, newton_linear, J = newton_sweep(omega, 0.0)
    _, newton_limiter, _ = newton_sweep(omega, 0.5)
    sw = 1j * omega
    series = 1 / (sw * BUTTERWORTH[2])
    by_hand = np.empty((len(omega), 2, 2), dtype=np.complex128)  # Y(s), written out
    by_hand[:, 0, 0] = 1 / BUTTERWORTH[0] + sw * BUTTERWORTH[1] + series
    by_hand[:, 0, 1] = by_hand[:, 1, 0] = -series
    by_hand[:, 1, 1] = series + sw * BUTTERWORTH[3] + 1 / BUTTERWORTH[4]
    closed = 0.25 / (1 + omega**6)

    # 2. sensitivities of H to the components, checked at three frequencies
    fj = sensitivity_kernel()
    theta = np.tile(BUTTERWORTH, (len(omega), 1)).astype(np.complex128)  # one row per ω
    h, dh = fj(theta, (1j * omega)[:, None])  # (400, 1) and (400, 1, 5)
    h, dh = h[:, 0], dh[:, 0, :]
    checks = {w: check_at(w, fj) for w in (0.5, 1.0, 2.0)}
    # relative sensitivities S_θ = ∂ln|H|/∂ln θ = Re(θ/H · ∂H/∂θ). Scaling every impedance by
    # k (R → kR, L → kL, C → C/k) leaves a voltage ratio unchanged, so S_Rs + S_L2 + S_RL
    # − S_C1 − S_C3 = 0 at every frequency: a physical check on the whole Jacobian
    # In the passband the L and C curves stay near 0: a doubly terminated lossless ladder is
    # insensitive to its L and C where it passes the most power (Orchard 1966; here at ω = 0,
    # kept flat by the Butterworth response) — the reason filters are built this way
    relative = (BUTTERWORTH * dh / h[:, None]).real
    impedance_scaling = relative @ np.array([1.0, -1.0, 1.0, -1.0, 1.0])

    # 3. |H|² at 10⁵ frequencies, float32 against float64
    mag2 = magnitude_squared()
    w = sp.Symbol("omega", real=True)
    f64 = symjac.function([mag2], [w], COMPONENTS)
    f32 = symjac.function([mag2], [w], COMPONENTS, dtype=np.float32)
    many = np.logspace(-2, 2, 100_000)
    in64 = f64(many[:, None], BUTTERWORTH)[:, 0]
    in32 = f32(many[:, None].astype(np.float32), BUTTERWORTH.astype(np.float32))[:, 0]

    return {
        "omega": omega,
        "H": h,
        "dH": dh,
        "V_linear": v_linear,
        "newton_linear": newton_linear,
        "newton_limiter": newton_limiter,
        "admittance_max_diff": float(np.abs(J - by_hand).max()),
        "closed_form_max_rel_err": float(np.abs(np.abs(h) ** 2 / closed - 1).max()),
        "newton_vs_transfer_max_diff": float(np.abs(v_linear[:, 1] - h).max()),
        "checks": checks,
        "complex_step_max_rel_diff": _largest(checks, "dmag2", "dmag2_complex_step"),
        "finite_differences_max_rel_diff": max(
            _largest(checks, "dmag2", "dmag2_fd"), _largest(checks, "dH", "dH_fd")
        ),
        "relative": relative,
        "impedance_scaling_max": float(np.abs(impedance_scaling).max()),
        "float32_dtype": str(in32.dtype),
        "float32_max_rel_diff": float(np.abs(in32 / in64 - 1).max()),
        "float64_closed_form_max_rel_err": float(np.abs(in64 * 4 * (1 + many**6) - 1).max()),
        "plots": _plot(omega, h, closed, relative),
    }


def _largest(checks: dict[float, list[dict[str, object]]], mine: str, other: str) -> float:
    """The largest |mine − other| / |other| over the components and frequencies checked."""
    return max(abs(r[mine] - r[other]) / abs(r[other]) for rows in checks.values() for r in rows)


def _plot(omega, h, closed, relative) -> list[Path] | None:
    made = plotting.subplots(1, 2, figsize=(10, 4))
    if made is None:
        return None  # matplotlib is not installed
    fig, (left, right) = made
    left.semilogx(omega, 20 * np.log10(np.abs(h)), label="|H(iω)|, symjac complex kernel")
    left.semilogx(omega, 10 * np.log10(closed), "k--", label="(1/4)/(1 + ω⁶), closed form")
    left.set_xlabel("ω (rad/s)")
    left.set_ylabel("gain (dB)")
    left.set_title("third-order Butterworth low-pass")
    left.legend()
    for j, name in enumerate(NAMES):
        # C1 and C3 coincide (the filter is symmetric); C3 dashed so both show
        right.semilogx(omega, relative[:, j], "--" if name == "C3" else "-", label=name)
    right.set_xlabel("ω (rad/s)")
    right.set_ylabel("∂ ln|H| / ∂ ln θ")
    right.set_title("a 1 % change in θ moves |H| by this many %")
    right.legend()
    return [plotting.save(fig, "12_ac_circuit.png", OUTPUT)]


if __name__ == "__main__":
    out = main()
    print(f"J = ∂f/∂V against Y(s) written out: max difference {out['admittance_max_diff']:.1e}")
    print("Newton, linear filter, max |f| per step:", [f"{r:.0e}" for r in out["newton_linear"]])
    print("Newton with the limiter (g = 0.5):", [f"{r:.0e}" for r in out["newton_limiter"]])
    print(f"V2 from Newton against H: max difference {out['newton_vs_transfer_max_diff']:.1e}")
    print(f"|H|² against (1/4)/(1 + ω⁶): max relative error {out['closed_form_max_rel_err']:.1e}")
    head = ("∂H/∂θ symjac", "finite differences", "∂|H|²/∂θ symjac", "complex step", "fin. diff.")
    for w, rows in out["checks"].items():
        print(f"\nω = {w} rad/s\n{'':4}{head[0]:>32}{head[1]:>28}", end="")
        print("".join(f"{c:>18}" for c in head[2:]))
        for r in rows:
            print(
                f"{r['component']:4}{r['dH']:>32.12f}{r['dH_fd']:>28.9f}"
                f"{r['dmag2']:>18.12f}{r['dmag2_complex_step']:>18.12f}{r['dmag2_fd']:>18.9f}"
            )
    print(
        f"\nlargest relative differences: complex step {out['complex_step_max_rel_diff']:.1e}, "
        f"finite differences {out['finite_differences_max_rel_diff']:.1e}"
    )
    print(
        f"S_Rs + S_L2 + S_RL − S_C1 − S_C3 (impedance scaling): {out['impedance_scaling_max']:.1e}"
    )
    print(
        f"|H|² at 10⁵ frequencies in {out['float32_dtype']}: max relative difference to float64 "
        f"{out['float32_max_rel_diff']:.1e} (float64 to the closed form: "
        f"{out['float64_closed_form_max_rel_err']:.1e})"
    )
    print(plotting.describe(out["plots"]))
