"""Quickstart: compile a Jacobian, evaluate it at one point and at many, and look at its sparsity.

Run with ``python examples/quickstart.py``.
"""

import numpy as np
import sympy as sp

import symjac

# A small reaction-diffusion-like system f: R^4 -> R^4 with one parameter.
u = sp.symbols("u0:4", real=True)
k = sp.Symbol("k", real=True)
f = [k * (u[(i - 1) % 4] - 2 * u[i] + u[(i + 1) % 4]) + u[i] ** 2 * sp.exp(-u[i]) for i in range(4)]
f[0] += sp.sin(u[2])  # one long-range coupling, to make the pattern interesting

jac = symjac.jacobian(f, wrt=u, params=[k])
print(jac)
print()
print("Symbolic Jacobian, entry by entry (as derived by symjac):")
J = jac.to_sympy()
for i, j in zip(jac.pattern.rows, jac.pattern.cols):
    print(f"  J[{i},{j}] = {J[i, j]}")

x = np.array([0.1, 0.2, 0.3, 0.4])
print("\nJ(x; k=0.5) =")
print(jac(x, [0.5]))

print(f"\nSparsity pattern: {jac.nnz} nonzeros of {jac.shape[0] * jac.shape[1]}")
print(jac.pattern)
print("rows:", jac.pattern.rows.tolist())
print("cols:", jac.pattern.cols.tolist())
print("values at x:", np.round(jac.values(x, [0.5]), 6).tolist())

# Many points in one call: the loop over points runs in native code.
points = np.random.default_rng(0).random((100_000, 4))
batch = jac(points, [0.5])
print(f"\nA batch of {len(points)} points -> array of shape {batch.shape}")

# Check against central finite differences of the compiled function itself.
fun = symjac.function(f, wrt=u, params=[k])
h = 1e-6
fd = np.column_stack([(fun(x + h * e, [0.5]) - fun(x - h * e, [0.5])) / (2 * h) for e in np.eye(4)])
print(f"max |J - finite differences| = {np.abs(jac(x, [0.5]) - fd).max():.2e}")
print(f"\n{jac.stats}")
print("operations in the compiled tape:", jac.stats.op_counts)
