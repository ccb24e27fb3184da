"""Write the Robertson Jacobian as standalone C99 (``robertson.c`` + ``robertson.h``).

    python examples/standalone_c/emit_robertson.py build/
    cc -std=c99 -O2 -I build examples/standalone_c/main.c build/robertson.c -lm -o robertson
    ./robertson 1.0 2e-5 0.3

``main.c`` evaluates the Jacobian's nonzeros at the point given on its command line
with the rate constants below and prints them with their (row, column); this script
prints the same values from the JIT-compiled kernel, for comparison.
"""

from __future__ import annotations

import sys

import numpy as np
import sympy as sp

import symjac

# the classic stiff chemical kinetics problem (Robertson 1966)
y1, y2, y3 = sp.symbols("y1 y2 y3", real=True)
k1, k2, k3 = sp.symbols("k1 k2 k3", real=True)
RHS = [
    -k1 * y1 + k3 * y2 * y3,
    k1 * y1 - k2 * y2**2 - k3 * y2 * y3,
    k2 * y2**2,
]
RATES = [0.04, 3e7, 1e4]  # main.c passes the same constants


def main(directory: str) -> None:
    jac = symjac.jacobian(RHS, wrt=[y1, y2, y3], params=[k1, k2, k3])
    for path in symjac.emit(jac, directory, "robertson", target="c"):
        print(f"wrote {path}", file=sys.stderr)
    point = np.array([1.0, 2e-5, 0.3])
    for i, j, v in zip(jac.pattern.rows, jac.pattern.cols, jac.values(point, RATES)):
        print(f"J[{i}][{j}] = {float(v)!r}")


if __name__ == "__main__":
    main(sys.argv[1] if len(sys.argv) > 1 else "build")
