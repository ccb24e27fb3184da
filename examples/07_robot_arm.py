"""Robot arm kinematics: the Jacobian maps joint velocities to end-effector velocities.

A planar arm with three links: the hand is at p(q) = Σ Lᵢ (cos θᵢ, sin θᵢ),
θᵢ = q₀ + … + qᵢ. Its Jacobian J(q) = ∂p/∂q gives ẋ = J(q)·q̇; the manipulability
√det(J Jᵀ) measures how freely the hand moves and vanishes at a singular pose
(the arm stretched straight: the hand cannot move along the arm). Resolved-rate
inverse kinematics steps q by damped least squares,
δq = Jᵀ (J Jᵀ + μ² I)⁻¹ (target − p), until the hand reaches the target.

Then a 6-joint arm, the UR5, from its published Denavit–Hartenberg parameters (Universal
Robots, CB3 manual, UR5 series 3). symjac differentiates the tool's position p and rotation R
(12 outputs); the angular velocity ω = vee(Ṙ Rᵀ) gives the 6×6 geometric Jacobian, whose
rank drops to 5 at the wrist singularity q₅ = 0 (joints 4 and 6 turn about parallel axes).

Run with ``python examples/07_robot_arm.py``; a plot of the arm and the IK path is
written to ``$SYMJAC_EXAMPLES_OUT`` (default ``examples/output/``) with matplotlib.
"""

from __future__ import annotations

from pathlib import Path

import numpy as np
import sympy as sp

import symjac
from symjac import plotting

q = sp.symbols("q0:3", real=True)
L = sp.symbols("L0:3", positive=True)
LENGTHS = np.array([1.0, 0.8, 0.5])
OUTPUT = Path(__file__).parent / "output"

# UR5 standard DH parameters (theta_i = q_i): d, a in metres, alpha in radians
UR5_D = [0.089159, 0, 0, 0.10915, 0.09465, 0.0823]
UR5_A = [0, -0.425, -0.39225, 0, 0, 0]
UR5_ALPHA = [sp.pi / 2, 0, 0, sp.pi / 2, -sp.pi / 2, 0]
Q6 = sp.symbols("q1:7", real=True)


def hand():
    angle, x, y = sp.S.Zero, sp.S.Zero, sp.S.Zero
    for i in range(3):
        angle += q[i]
        x += L[i] * sp.cos(angle)
        y += L[i] * sp.sin(angle)
    return [x, y]


def ur5_pose():
    """Position (3) and rotation matrix (9, row-major) of the UR5's tool frame."""
    T = sp.eye(4)
    for theta, d, a, alpha in zip(Q6, UR5_D, UR5_A, UR5_ALPHA):
        ct, st, ca, sa = sp.cos(theta), sp.sin(theta), sp.cos(alpha), sp.sin(alpha)
        T = T * sp.Matrix(
            [
                [ct, -st * ca, st * sa, a * ct],
                [st, ct * ca, -ct * sa, a * st],
                [0, sa, ca, d],
                [0, 0, 0, 1],
            ]
        )
    return [*T[:3, 3], *T[:3, :3]]


def ur5_geometric_jacobian(pose, jac, angles: np.ndarray) -> np.ndarray:
    """[∂p/∂q; ω columns], ω_j = vee(∂R/∂q_j · Rᵀ) (a skew-symmetric matrix's axial vector)."""
    J, R = jac(angles), pose(angles)[3:].reshape(3, 3)
    W = np.einsum("ikj,lk->ilj", J[3:].reshape(3, 3, 6), R)  # W[:, :, j] = ∂R/∂q_j Rᵀ
    return np.vstack([J[:3], W[2, 1], W[0, 2], W[1, 0]])


def main() -> dict[str, object]:
    p = symjac.function(hand(), q, L)
    jac = symjac.jacobian(hand(), q, L)
    q0, qdot = np.array([0.3, 0.7, -0.4]), np.array([0.5, -0.2, 0.9])
    velocity = jac(q0, LENGTHS) @ qdot
    h = 1e-6
    moved = (p(q0 + h * qdot, LENGTHS) - p(q0 - h * qdot, LENGTHS)) / (2 * h)

    def manipulability(angles: np.ndarray) -> float:
        Jq = jac(angles, LENGTHS)
        return float(np.sqrt(max(np.linalg.det(Jq @ Jq.T), 0.0)))

    straight, target = np.array([0.4, 0.0, 0.0]), np.array([0.9, 1.2])
    path, errors = [q0.copy()], []
    for _ in range(200):
        error = target - p(path[-1], LENGTHS)
        errors.append(float(np.linalg.norm(error)))
        if errors[-1] < 1e-10:
            break
        error *= min(1.0, 0.2 / errors[-1])  # resolved rate: at most 0.2 towards the target
        Jq = jac(path[-1], LENGTHS)
        path.append(path[-1] + Jq.T @ np.linalg.solve(Jq @ Jq.T + 1e-4 * np.eye(2), error))

    pose, pose_jac = symjac.function(ur5_pose(), Q6), symjac.jacobian(ur5_pose(), Q6)
    ur5_q = np.array([0.3, -1.2, 1.5, -0.8, 0.9, 0.4])
    wrist = ur5_q * [1, 1, 1, 1, 0, 1]  # q5 = 0: joints 4 and 6 aligned
    ur5 = {"q": ur5_q, "q_wrist": wrist}
    for key, angles in (("J", ur5_q), ("J_wrist", wrist)):
        ur5[key] = ur5_geometric_jacobian(pose, pose_jac, angles)
        ur5[f"sigma_{key}"] = np.linalg.svd(ur5[key], compute_uv=False)
    ur5["rank_wrist"] = np.linalg.matrix_rank(ur5["J_wrist"])
    return {
        "velocity": velocity,
        "velocity_finite_difference": moved,
        "manipulability": manipulability(q0),
        "manipulability_straight": manipulability(straight),
        "rank_straight": int(np.linalg.matrix_rank(jac(straight, LENGTHS), tol=1e-10)),
        "ik_errors": errors,
        "ik_angles": path[-1],
        "target": target,
        "ur5": ur5,
        "plots": _plot(path, target),
    }


def joints(angles: np.ndarray) -> np.ndarray:
    """The planar arm's shoulder, elbows and hand, in NumPy (for the plot)."""
    theta = np.cumsum(angles)
    links = LENGTHS[:, None] * np.column_stack([np.cos(theta), np.sin(theta)])
    return np.vstack([[0.0, 0.0], np.cumsum(links, axis=0)])


def _plot(path: list[np.ndarray], target: np.ndarray) -> list[Path] | None:
    made = plotting.subplots(figsize=(5, 5))
    if made is None:
        return None  # matplotlib is not installed
    fig, ax = made
    for angles in path[1:-1]:
        ax.plot(*joints(angles).T, "o-", color="0.8")
    ax.plot(*joints(path[0]).T, "o-", lw=3, label="start q0")
    ax.plot(*joints(path[-1]).T, "o-", lw=3, label="IK solution")
    ax.plot(*np.array([joints(a)[-1] for a in path]).T, "k.--", label="hand during IK")
    ax.plot(*target, "r*", ms=15, label="target")
    ax.set_aspect("equal")
    ax.legend()
    ax.set_title(f"resolved-rate IK: {len(path) - 1} steps")
    return [plotting.save(fig, "07_robot_arm.png", OUTPUT)]


if __name__ == "__main__":
    r = main()
    print("hand velocity J·q̇      =", np.round(r["velocity"], 10))
    print("finite differences      =", np.round(r["velocity_finite_difference"], 10))
    print(f"manipulability at q0    = {r['manipulability']:.6f}")
    print(
        f"stretched: manipulability {r['manipulability_straight']:.2e}, rank {r['rank_straight']}"
    )
    errors = r["ik_errors"]
    print(f"IK: error {errors[0]:.3f} -> {errors[-1]:.2e} in {len(errors) - 1} steps")
    print("UR5 geometric J (6x6), singular values:", np.round(r["ur5"]["sigma_J"], 4))
    wrist = r["ur5"]["sigma_J_wrist"]
    print(
        f"at the wrist singularity q5 = 0: smallest {wrist[-1]:.1e}, rank {r['ur5']['rank_wrist']}"
    )
    print(plotting.describe(r["plots"]))
