"""Kernel speed: single-point latency and batched throughput of Jacobian values, against peers.

Every tool evaluates the same list of nonzero Jacobian entries (symjac's pattern
order); values are checked against symjac before anything is timed. Run from
the repository root::

    python -m pip install -e ".[bench]" && python benchmarks/kernels.py

Options: ``--problems robertson arm ...``, ``--tools symjac sympy symengine casadi jax``,
``--sizes 10000 100000``; a peer that is not installed is skipped. The store floor is
the time NumPy alone takes to write an output array of the same size (``out.fill``): the
physical limit. ``python benchmarks/plot.py`` draws ``results/kernels.json`` as a PNG.
"""

from __future__ import annotations

import argparse
import json
import sys
import time
import timeit
from collections.abc import Callable
from pathlib import Path

import numpy as np
import sympy as sp

HERE = Path(__file__).resolve().parent
sys.path.insert(0, str(HERE))

from problems import kernel_problems  # noqa: E402

Evaluator = Callable[[np.ndarray, np.ndarray], np.ndarray]


def _best(fn: Callable[[], object], budget: float = 0.3) -> float:
    """Best per-call time in seconds, repeating for about ``budget`` seconds."""
    fn()
    t0 = time.perf_counter()
    fn()
    once = max(time.perf_counter() - t0, 1e-7)
    if once > budget:  # slow (a peer on a big batch): two calls are enough
        return once
    number = max(1, int(budget / once / 5))
    return min(timeit.repeat(fn, number=number, repeat=5)) / number


def build_symjac(exprs, x, p):
    import symjac

    jac = symjac.jacobian(exprs, x, p, sparse=False)
    rows, cols = jac.pattern.rows, jac.pattern.cols
    buffer = np.empty(jac.nnz)

    def single(pt, par):
        return jac.values(pt, par, out=buffer)

    def batch(pts, par):
        return jac.values(pts, par)

    def call(pt, par):
        return jac(pt, par)

    return single, batch, (rows, cols), call


def _entries(exprs, x, pattern):
    # only the nonzeros: a dense SymPy Jacobian of a 2048-state system takes minutes
    return [sp.diff(exprs[int(i)], x[int(j)]) for i, j in zip(*pattern)]


def build_sympy(exprs, x, p, pattern):
    fn = sp.lambdify([*x, *p], _entries(exprs, x, pattern), modules="numpy", cse=True)

    def single(pt, par):
        return np.asarray(fn(*pt, *par), dtype=float)

    def batch(pts, par):
        cols = [pts[:, j] for j in range(pts.shape[1])]
        values = fn(*cols, *par)
        return np.column_stack([np.broadcast_to(v, (len(pts),)) for v in values])

    return single, batch


def build_symengine(exprs, x, p, pattern):
    import symengine as se

    entries = [se.sympify(e) for e in _entries(exprs, x, pattern)]
    args = [se.sympify(s) for s in [*x, *p]]
    fn = se.Lambdify(args, entries, backend="llvm", cse=True)

    def single(pt, par):
        return np.asarray(fn(np.concatenate([pt, par])))

    def batch(pts, par):
        full = np.hstack([pts, np.broadcast_to(par, (len(pts), len(par)))])
        return np.asarray(fn(full))

    return single, batch


def build_casadi(exprs, x, p, pattern):
    import casadi as ca

    xs, ps = ca.SX.sym("x", len(x)), ca.SX.sym("p", len(p))
    names = {"exp": ca.exp, "sin": ca.sin, "cos": ca.cos, "tanh": ca.tanh, "sqrt": ca.sqrt}
    to_ca = sp.lambdify([x, p], _entries(exprs, x, pattern), modules=[names, "math"])
    out = ca.vertcat(*to_ca([xs[i] for i in range(len(x))], [ps[i] for i in range(len(p))]))
    fn = ca.Function("J", [xs, ps], [out])
    maps: dict[int, ca.Function] = {}

    def single(pt, par):
        return np.asarray(fn(pt, par)).ravel()

    def batch(pts, par):
        n = len(pts)
        if n not in maps:
            maps[n] = fn.map(n, "thread", 2)
        return np.asarray(maps[n](pts.T, np.asarray(par)[:, None])).T

    return single, batch


def build_jax(exprs, x, p, pattern):
    """``jit(vmap(jacfwd(f)))`` on the function lambdified to jax.numpy, nonzeros taken after."""
    import jax

    jax.config.update("jax_enable_x64", True)
    import jax.numpy as jnp

    f = sp.lambdify([x, p], list(exprs), modules="jax")
    rows, cols = (np.asarray(a) for a in pattern)

    def entries(pt, par):
        return jax.jacfwd(lambda v: jnp.stack(f(list(v), list(par))))(pt)[rows, cols]

    one = jax.jit(entries)
    many = jax.jit(jax.vmap(entries, in_axes=(0, None)))

    def single(pt, par):
        return np.asarray(one(pt, par))

    def batch(pts, par):
        return np.asarray(many(pts, par))

    return single, batch


PEERS = {
    "sympy": build_sympy,
    "symengine": build_symengine,
    "casadi": build_casadi,
    "jax": build_jax,
}


def _installed(peers: dict[str, object]) -> list[str]:
    import importlib.util

    modules = {"sympy": "sympy", "symengine": "symengine", "casadi": "casadi", "jax": "jax"}
    return [t for t in peers if importlib.util.find_spec(modules[t]) is not None]


def main() -> None:
    problems = kernel_problems()
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--problems", nargs="+", default=list(problems))
    parser.add_argument("--tools", nargs="+", default=["symjac", *_installed(PEERS)])
    parser.add_argument("--sizes", nargs="+", type=int, default=[10_000, 100_000])
    args = parser.parse_args()
    rng = np.random.default_rng(0)
    results = []
    for name in args.problems:
        exprs, x, p, scale = problems[name]
        pt = rng.uniform(0.1, 1.0, len(x)) * scale
        par = rng.uniform(0.1, 1.0, len(p))
        row: dict[str, object] = {"problem": name, "n": len(x), "m": len(exprs)}
        t0 = time.perf_counter()
        single, batch, pattern, call = build_symjac(exprs, x, p)
        row["symjac_compile"] = time.perf_counter() - t0
        row["nnz"] = len(pattern[0])
        reference = single(pt, par).copy()
        tools: dict[str, tuple[Evaluator, Evaluator]] = {"symjac": (single, batch)}
        for tool in args.tools:
            if tool == "symjac":
                continue
            try:
                t0 = time.perf_counter()
                tools[tool] = PEERS[tool](exprs, x, p, pattern)
                row[f"{tool}_compile"] = time.perf_counter() - t0
            except Exception as exc:  # a peer that cannot handle a problem is reported, not fatal
                row[f"{tool}_compile"] = f"failed: {type(exc).__name__}"
                continue
            got = np.asarray(tools[tool][0](pt, par), dtype=float).ravel()
            if not np.allclose(got, reference, rtol=1e-11, atol=1e-11):
                raise SystemExit(f"{tool} disagrees with symjac on {name}")
        for tool, (one, many) in tools.items():
            row[f"{tool}_latency_us"] = _best(lambda one=one, pt=pt, par=par: one(pt, par)) * 1e6
            for size in args.sizes:
                if row.get(f"{tool}_slow"):
                    continue  # a batch call already took over a second: spare the larger sizes
                pts = rng.uniform(0.1, 1.0, (size, len(x))) * scale
                if tool == "symjac":
                    check = many(pts[:5], par)
                else:
                    check = np.asarray(many(pts[:5], par), dtype=float)
                    expect = batch(pts[:5], par)
                    if not np.allclose(check, expect, rtol=1e-11, atol=1e-11):
                        raise SystemExit(f"{tool} batch disagrees with symjac on {name}")
                try:
                    seconds = _best(lambda many=many, pts=pts, par=par: many(pts, par), budget=1.0)
                except Exception as exc:  # e.g. JAX running out of memory on dense50
                    row[f"{tool}_{size}_pts_per_s"] = f"failed: {type(exc).__name__}"
                    row[f"{tool}_slow"] = True
                    continue
                row[f"{tool}_{size}_pts_per_s"] = size / seconds
                row[f"{tool}_slow"] = seconds > 1.0
        for size in args.sizes:
            out = np.empty((size, row["nnz"]))
            row[f"floor_{size}_pts_per_s"] = size / _best(lambda out=out: out.fill(1.0))
        row["symjac_call_us"] = _best(lambda call=call, pt=pt, par=par: call(pt, par)) * 1e6
        scratch = np.empty_like(pt)
        row["numpy_add_us"] = _best(lambda pt=pt, s=scratch: np.add(pt, pt, out=s)) * 1e6
        results.append(row)
        print(json.dumps(row), flush=True)
    (HERE / "results").mkdir(exist_ok=True)
    (HERE / "results" / "kernels.json").write_text(json.dumps(results, indent=1))
    print(markdown(results, args.tools, args.sizes))


def markdown(results: list[dict[str, object]], tools: list[str], sizes: list[int]) -> str:
    """Two tables: absolute numbers, then symjac's advantage over each peer."""
    big = sizes[-1]
    head = ["problem", "n", "nnz", "symjac compile s"]
    head += [f"{t} 1-pt µs" for t in tools] + ["symjac `jac(x,p)` µs"]
    head += [f"{t} Mpts/s @{big}" for t in tools] + [f"store floor Mpts/s @{big}"]
    lines = ["| " + " | ".join(head) + " |", "|" + "---|" * len(head)]
    for r in results:
        cells = [str(r["problem"]), str(r["n"]), str(r["nnz"]), _fmt(r["symjac_compile"], "{:.2f}")]
        cells += [_fmt(r.get(f"{t}_latency_us"), "{:.1f}") for t in tools]
        cells.append(_fmt(r.get("symjac_call_us"), "{:.1f}"))
        cells += [_fmt(_per_million(r.get(f"{t}_{big}_pts_per_s")), "{:.2f}") for t in tools]
        cells.append(_fmt(_per_million(r.get(f"floor_{big}_pts_per_s")), "{:.2f}"))
        lines.append("| " + " | ".join(cells) + " |")
    peers = [t for t in tools if t != "symjac"]
    head = ["problem"] + [f"× {t} latency" for t in peers]
    head += [f"× {t} throughput @{s}" for t in peers for s in sizes] + [f"% of store floor @{big}"]
    lines += ["", "| " + " | ".join(head) + " |", "|" + "---|" * len(head)]
    for r in results:
        ratios = speedups(r, peers, sizes)
        cells = [str(r["problem"])]
        cells += [_fmt(ratios.get((t, "latency")), "{:.1f}") for t in peers]
        cells += [_fmt(ratios.get((t, s)), "{:.1f}") for t in peers for s in sizes]
        cells.append(
            _fmt(100 * ratios[("floor", big)], "{:.0f}") if ("floor", big) in ratios else "-"
        )
        lines.append("| " + " | ".join(cells) + " |")
    return "\n".join(lines)


def speedups(row: dict[str, object], peers: list[str], sizes: list[int]) -> dict[tuple, float]:
    """symjac's speed-up over each peer (>1: symjac faster); ``("floor", N)``: fraction of floor."""
    out: dict[tuple, float] = {}
    mine = row.get("symjac_latency_us")
    for t in peers:
        theirs = row.get(f"{t}_latency_us")
        if isinstance(mine, float) and isinstance(theirs, float):
            out[(t, "latency")] = theirs / mine
        for size in sizes:
            a, b = row.get(f"symjac_{size}_pts_per_s"), row.get(f"{t}_{size}_pts_per_s")
            if isinstance(a, float) and isinstance(b, float):
                out[(t, size)] = a / b
    for size in sizes:
        a, b = row.get(f"symjac_{size}_pts_per_s"), row.get(f"floor_{size}_pts_per_s")
        if isinstance(a, float) and isinstance(b, float):
            out[("floor", size)] = a / b
    return out


def _per_million(v: object) -> object:
    return v / 1e6 if isinstance(v, float) else v


def _fmt(v: object, spec: str) -> str:
    return spec.format(v) if isinstance(v, float) else "-"


if __name__ == "__main__":
    main()
