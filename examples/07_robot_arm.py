"""Robot arm kinematics: the Jacobian maps joint velocities to end-effector velocities.

A planar arm with three links: the hand is at p(q) = Σ Lᵢ (cos θᵢ, sin θᵢ),
θᵢ = q₀ + … + qᵢ. Its Jacobian J(q) = ∂p/∂q gives ẋ = J(q)·q̇; the manipulability
√det(J Jᵀ) measures how freely the hand moves and vanishes at a singular pose
(the arm stretched straight: the hand cannot move along the arm). Resolved-rate
inverse kinematics steps q by damped least squares,
δq = Jᵀ (J Jᵀ + μ² I)⁻¹ (target − p), until the hand reaches the target.

Run with ``python examples/07_robot_arm.py``.
"""

from __future__ import annotations

import numpy as np
import sympy as sp

import symjac

q = sp.symbols("q0:3", real=True)
L = sp.symbols("L0:3", positive=True)
LENGTHS = np.array([1.0, 0.8, 0.5])


def hand():
    angle, x, y = sp.S.Zero, sp.S.Zero, sp.S.Zero
    for i in range(3):
        angle += q[i]
        x += L[i] * sp.cos(angle)
        y += L[i] * sp.sin(angle)
    return [x, y]


def main() -> dict[str, object]:
    p = symjac.function(hand(), q, L)
    jac = symjac.jacobian(hand(), q, L)
    q0, qdot = np.array([0.3, 0.7, -0.4]), np.array([0.5, -0.2, 0.9])
    J = jac(q0, LENGTHS)
    velocity = J @ qdot
    h = 1e-6
    moved = (p(q0 + h * qdot, LENGTHS) - p(q0 - h * qdot, LENGTHS)) / (2 * h)

    def manipulability(angles: np.ndarray) -> float:
        Jq = jac(angles, LENGTHS)
        return float(np.sqrt(max(np.linalg.det(Jq @ Jq.T), 0.0)))

    straight = np.array([0.4, 0.0, 0.0])
    target = np.array([0.9, 1.2])
    angles, errors = q0.copy(), []
    for _ in range(200):
        error = target - p(angles, LENGTHS)
        errors.append(float(np.linalg.norm(error)))
        if errors[-1] < 1e-10:
            break
        Jq = jac(angles, LENGTHS)
        angles = angles + Jq.T @ np.linalg.solve(Jq @ Jq.T + 1e-4 * np.eye(2), error)
    return {
        "velocity": velocity,
        "velocity_finite_difference": moved,
        "manipulability": manipulability(q0),
        "manipulability_straight": manipulability(straight),
        "rank_straight": int(np.linalg.matrix_rank(jac(straight, LENGTHS), tol=1e-10)),
        "ik_errors": errors,
        "ik_angles": angles,
        "target": target,
    }


if __name__ == "__main__":
    r = main()
    print("hand velocity J·q̇      =", np.round(r["velocity"], 10))
    print("finite differences      =", np.round(r["velocity_finite_difference"], 10))
    print(f"manipulability at q0    = {r['manipulability']:.6f}")
    print(
        f"stretched arm: manipulability {r['manipulability_straight']:.2e}, "
        f"rank {r['rank_straight']}"
    )
    print(
        f"IK: error {r['ik_errors'][0]:.3f} -> {r['ik_errors'][-1]:.2e} "
        f"in {len(r['ik_errors']) - 1} steps"
    )
