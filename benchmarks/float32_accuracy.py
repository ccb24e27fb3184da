"""float32 accuracy: each elementary function's largest error in float32 ulps against mpmath.

For every function with a C library row in the op table, a float32 kernel ``f(x)`` (or
``f(x, y)``) is compiled twice — scalar libm (``vector_libm=False``: ``sinf``, ...) and
libmvec (the default: ``_ZGVeN16v_sinf``, ...) — and evaluated on points spread over the
function's domain (``DOMAINS``: uniform, or log-uniform in magnitude on wide ranges). The
reference is mpmath at 30 digits at the very float32 inputs; the error of an entry is
``|got - exact|`` divided by the float32 spacing at ``|exact|`` (so a correctly rounded
result is at most 0.5 ulp). Results outside float32's normal range are left out. Run from
the repository root::

    python benchmarks/float32_accuracy.py [--points 5000]

It prints a Markdown table (the one in docs/semantics.md) and writes
``benchmarks/results/float32_ulps.json``. ``tests/test_float32.py`` runs the same
measurement on fewer points against the documented bounds.
"""

from __future__ import annotations

import argparse
import json
import platform
from collections.abc import Callable
from pathlib import Path

import mpmath
import numpy as np
import sympy as sp
import sympy.codegen.cfunctions as cf

import symjac

#: digits of the mpmath reference (set where it is used: importing this changes nothing)
DPS = 30
X, Y = sp.symbols("x y", real=True)

#: name → (domain of x, domain of y or None)
DOMAINS: dict[str, tuple[tuple[float, float], tuple[float, float] | None]] = {
    "exp": ((-87.0, 88.0), None),
    "log": ((1e-30, 1e30), None),
    "sin": ((-100.0, 100.0), None),
    "cos": ((-100.0, 100.0), None),
    "tan": ((-1.5, 1.5), None),
    "asin": ((-1.0, 1.0), None),
    "acos": ((-1.0, 1.0), None),
    "atan": ((-1e4, 1e4), None),
    "sinh": ((-88.0, 88.0), None),
    "cosh": ((-88.0, 88.0), None),
    "tanh": ((-9.0, 9.0), None),
    "asinh": ((-1e4, 1e4), None),
    "acosh": ((1.0, 1e4), None),
    "atanh": ((-0.999, 0.999), None),
    "erf": ((-4.0, 4.0), None),
    "erfc": ((-3.0, 9.0), None),
    "gamma": ((0.01, 34.0), None),
    "loggamma": ((0.01, 1e3), None),
    "expm1": ((-20.0, 88.0), None),
    "log1p": ((-0.999, 1e4), None),
    "exp2": ((-126.0, 127.0), None),
    "log2": ((1e-30, 1e30), None),
    "log10": ((1e-30, 1e30), None),
    "cbrt": ((-1e30, 1e30), None),
    "sqrt": ((1e-30, 1e30), None),
    "besselj": ((0.0, 30.0), None),
    "atan2": ((-10.0, 10.0), (-10.0, 10.0)),
    "hypot": ((-1e3, 1e3), (-1e3, 1e3)),
    "pow": ((0.01, 10.0), (-10.0, 10.0)),
}


def sympy_of(name: str) -> Callable[..., sp.Expr]:
    """The SymPy function symjac compiles to the C library function ``name``."""
    special = {
        "cbrt": cf.Cbrt,  # sympy.cbrt is x**(1/3), a pow
        "hypot": cf.hypot,
        "pow": lambda u, v: u**v,
        "besselj": lambda u: sp.besselj(2, u),  # jnf(2, x)
    }
    return special.get(name) or getattr(sp, name, None) or getattr(cf, name)


def mp_reference(name: str, *args: np.ndarray) -> np.ndarray:
    """mpmath's value of ``name`` at each (exact) float32 argument, as doubles."""
    fn = {
        "expm1": mpmath.expm1,
        "log1p": mpmath.log1p,
        "exp2": lambda v: mpmath.power(2, v),
        "log2": lambda v: mpmath.log(v, 2),
        "cbrt": lambda v: mpmath.sign(v) * mpmath.cbrt(abs(v)),
        "loggamma": mpmath.loggamma,
        "besselj": lambda v: mpmath.besselj(2, v),
        "pow": mpmath.power,
    }.get(name) or getattr(mpmath, name)
    points = zip(*(a.tolist() for a in args))
    with mpmath.workdps(DPS):
        return np.array([float(fn(*(mpmath.mpf(v) for v in p))) for p in points])


def sample(lo: float, hi: float, n: int, rng: np.random.Generator) -> np.ndarray:
    """``n`` float32 points over ``[lo, hi]``: uniform, or log-uniform in magnitude on wide
    ranges (so small magnitudes are tested too)."""
    values = rng.uniform(lo, hi, n)
    if lo > 0 and hi / lo > 1e3:
        values = np.exp(rng.uniform(np.log(lo), np.log(hi), n))
    elif hi - lo > 200:
        m = max(abs(lo), abs(hi))
        spread = np.exp(rng.uniform(np.log(1e-6), np.log(m), n)) * rng.choice([-1, 1], n)
        values = np.clip(spread, lo, hi)
    return values.astype(np.float32)


def ulp_errors(got: np.ndarray, exact: np.ndarray) -> np.ndarray:
    """``|got - exact|`` in float32 ulps: the float32 spacing at ``|exact|``."""
    spacing = np.spacing(np.abs(exact).astype(np.float32)).astype(np.float64)
    return np.abs(got.astype(np.float64) - exact) / spacing


def max_ulps(name: str, n: int, seed: int = 0) -> dict[str, float]:
    """The largest error of the float32 kernels of ``name`` on ``n`` points, in ulps: with
    the scalar C library (``"libm"``) and with libmvec (``"libmvec"``)."""
    rng = np.random.default_rng(seed + sum(map(ord, name)))
    x_domain, y_domain = DOMAINS[name]
    args = [sample(*x_domain, n, rng)]
    if y_domain is not None:
        args.append(sample(*y_domain, n, rng))
    wrt = [X, Y][: len(args)]
    exact = mp_reference(name, *args)
    keep = np.isfinite(exact) & (np.abs(exact) > 1.2e-38) & (np.abs(exact) < 3.4e38)
    found = {}
    for label, vector_libm in (("libm", False), ("libmvec", True)):
        f = symjac.function(
            [sympy_of(name)(*wrt)], wrt, dtype=np.float32, vector_libm=vector_libm, cache=False
        )
        got = f(np.stack(args, axis=1))[:, 0]
        found[label] = float(ulp_errors(got[keep], exact[keep]).max())
    return found


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--points", type=int, default=5000)
    args = parser.parse_args()
    rows = {}
    print("| function | domain sampled | max ulp, scalar libm | max ulp, libmvec |")
    print("|---|---|---|---|")
    for name, (x_domain, y_domain) in DOMAINS.items():
        rows[name] = max_ulps(name, args.points)
        domain = f"x in {x_domain}" + (f", y in {y_domain}" if y_domain else "")
        print(f"| {name} | {domain} | {rows[name]['libm']:.2f} | {rows[name]['libmvec']:.2f} |")
    out = Path(__file__).parent / "results" / "float32_ulps.json"
    meta = {"points": args.points, "python": platform.python_version()}
    meta["machine"] = platform.machine()
    out.write_text(json.dumps({"meta": meta, "max_ulps": rows}, indent=1) + "\n")


if __name__ == "__main__":
    main()
