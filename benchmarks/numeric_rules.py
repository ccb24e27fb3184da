"""What the ``numeric`` rule set costs: per-op costs (``--ops``) and kernels with and without it.

``--ops`` measures the cost table of :data:`symjac.passes.rules.COST`: for each op, a kernel
``prod_k (op(u_k) + v_k)`` of 32 independent copies (``u_k, v_k`` affine in two inputs), minus
the same kernel without the op, divided by 32 — one point (``f(x, out=buf)``) and per point of
a batch of 4096 in the steady state (the SIMD build), with ``vector_libm`` on and off.

Without ``--ops``: problems that contain the patterns the set rewrites, compiled with
``rules=("algebraic",)``, ``("algebraic", "numeric")`` and ``("algebraic", "accurate")``
(every numeric rule, whatever it costs); the function and its Jacobian, one point and a batch
of 10 000 points (one thread). Timing: a warm-up call, then the minimum over interleaved
repetitions. Run from the repository root::

    python benchmarks/numeric_rules.py --ops
    python benchmarks/numeric_rules.py
"""

from __future__ import annotations

import argparse
import functools
import sys
import time
from pathlib import Path
from typing import Any

import numpy as np
import sympy as sp
from sympy.codegen.cfunctions import expm1, hypot, log1p

import symjac

sys.path.insert(0, str(Path(__file__).resolve().parent))
from before_after import _best

K = 32
RULES = {
    "algebraic": ("algebraic",),
    "numeric": ("algebraic", "numeric"),
    "accurate": ("algebraic", "accurate"),
}


def _steady(obj: Any, f: Any, pts: np.ndarray, buf: np.ndarray) -> None:
    """Run batches until the SIMD build is made and its trial decided (see Kernels.for_batch)."""
    f(pts, out=buf)
    obj._kernels.batched()
    t0 = time.perf_counter()
    while not obj._kernels._kept and time.perf_counter() - t0 < 5:
        f(pts, out=buf)


def _measure(objects: dict[str, Any], pt: np.ndarray, pts: np.ndarray, rounds: int) -> dict:
    """Minimum over ``rounds`` interleaved repetitions: one point (ns), batch (ns a point)."""
    bufs = {}
    calls = {}
    for name, obj in objects.items():
        obj.threads = 1
        # a Jacobian's kernel is its values (no scatter into a dense matrix)
        f = calls[name] = obj.values if hasattr(obj, "nnz") else obj
        bufs[name] = (np.empty(f(pt).shape), np.empty(f(pts).shape))
        _steady(obj, f, pts, bufs[name][1])
    times = {name: [np.inf, np.inf] for name in objects}
    for _ in range(rounds):
        for name, f in calls.items():
            one, many = bufs[name]
            t = times[name]
            t[0] = min(t[0], _best(functools.partial(f, pt, out=one)) * 1e9)
            t[1] = min(t[1], _best(functools.partial(f, pts, out=many)) / len(pts) * 1e9)
    return times


def op_costs(rounds: int) -> None:
    x, y = sp.symbols("x y")
    us = [sp.Rational(k + 16, 32) * x + sp.Rational(2 * K - k, 96) * y for k in range(K)]
    vs = [sp.Rational(k + 8, 64) * x + sp.Rational(k + 24, 48) * y for k in range(K)]

    def kernel(op: Any) -> sp.Expr:
        return sp.Mul(*[op(u, v) + v for u, v in zip(us, vs)])

    ops = {
        "base": lambda u, v: u,
        "ADD": lambda u, v: u + 1,
        "SQRT": lambda u, v: sp.sqrt(u),
        "LOG": lambda u, v: sp.log(u),
        "LOG1P": lambda u, v: log1p(u),
        "EXP": lambda u, v: sp.exp(u),
        "EXPM1": lambda u, v: expm1(u),
        "HYPOT": lambda u, v: hypot(u, v),
    }
    rng = np.random.default_rng(0)
    pts = rng.uniform(0.5, 1.5, (4096, 2))
    for vector_libm in (True, False):
        objects = {
            name: symjac.function(
                [kernel(op)], [x, y], cache=False, vector_libm=vector_libm, rules=("algebraic",)
            )
            for name, op in ops.items()
        }
        times = _measure(objects, pts[0].copy(), pts, rounds)
        base = times["base"]
        print(f"vector_libm={vector_libm}: ns per op and point (kernel minus base, / {K})")
        print("| op | one point | batch |\n|---|---|---|")
        for name in ops:
            if name != "base":
                one, batch = ((times[name][i] - base[i]) / K for i in (0, 1))
                print(f"| {name} | {one:.2f} | {batch:.2f} |")


def problems() -> dict[str, tuple[list[sp.Expr], list[sp.Symbol], tuple[float, float]]]:
    """Small models with the patterns the numeric set rewrites, and their input ranges."""
    n = 16
    x = list(sp.symbols(f"x0:{n}"))
    w = [sp.Rational(i + 3, 7) for i in range(n)]
    out: dict[str, tuple[list[sp.Expr], list[sp.Symbol], tuple[float, float]]] = {}
    # logistic loss / softplus: log(1 + exp(w·x)) per sample
    out["softplus"] = (
        [sp.log(1 + sp.exp(w[i] * x[i] - x[(i + 1) % n])) for i in range(n)],
        x,
        (-3.0, 3.0),
    )
    # log-likelihood of Bernoulli probabilities: log(1 - p) terms
    out["bernoulli"] = (
        [x[i] * sp.log(x[(i + 1) % n]) + sp.log(1 - x[i] * x[(i + 1) % n]) for i in range(n)],
        x,
        (0.01, 0.99),
    )
    # diode chain (Shockley): I = Is (exp(V/Vt) - 1), Is a variable (a number would be
    # distributed over the sum by SymPy, and there would be no exp(u) - 1 left)
    out["diodes"] = (
        [(sp.exp(w[i] * (x[i] - x[(i + 1) % n])) - 1) * x[(i + 2) % n] - x[i] for i in range(n)],
        x,
        (-0.5, 0.5),
    )
    # particles in the plane: a spring potential over pair distances sqrt(dx² + dy²)
    m = n // 2
    px, py = x[:m], x[m:]
    out["springs"] = (
        [
            (sp.sqrt((px[i] - px[j]) ** 2 + (py[i] - py[j]) ** 2) - 1) ** 2
            for i in range(m)
            for j in range(i + 1, m)
        ],
        x,
        (-2.0, 2.0),
    )
    return out


def kernel_times(rounds: int) -> None:
    rng = np.random.default_rng(1)
    print("| problem | kernel | rules | ops | one point (ns) | batch (ns/point) |")
    print("|---|---|---|---|---|---|")
    for name, (exprs, wrt, (lo, hi)) in problems().items():
        pts = rng.uniform(lo, hi, (10_000, len(wrt)))
        for kind, build in (("function", symjac.function), ("jacobian", symjac.jacobian)):
            objects = {r: build(exprs, wrt, cache=False, rules=rs) for r, rs in RULES.items()}
            ops = {r: obj.stats.op_counts for r, obj in objects.items()}
            times = _measure(objects, pts[0].copy(), pts, rounds)
            for r in RULES:
                special = {
                    k: v
                    for k, v in ops[r].items()
                    if k not in ("ADD", "SUB", "MUL", "DIV", "NEG", "POWI")
                }
                print(
                    f"| {name} | {kind} | {r} | {special} | {times[r][0]:.0f} "
                    f"| {times[r][1]:.2f} |",
                    flush=True,
                )


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--ops", action="store_true", help="measure the per-op cost table")
    parser.add_argument("--rounds", type=int, default=5)
    args = parser.parse_args()
    if args.ops:
        op_costs(args.rounds)
    else:
        kernel_times(args.rounds)


if __name__ == "__main__":
    main()
