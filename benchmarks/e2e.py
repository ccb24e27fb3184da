"""End to end: SymPy expressions -> compiled f and J -> ``solve_ivp(method="BDF")``, per tool.

Two stiff models, each solved with scipy's BDF using the compiled right-hand side and Jacobian:

* ``chem20``: the POLLU air-pollution mechanism (20 species, 25 reactions, Jacobian 82 nonzeros;
  ``benchmarks/problems.py``) with its published rates and initial state, to t = 60 (dense J);
* ``bruss32``: the 2-D Brusselator on a 32×32 periodic grid (2 048 states, 12 288 nonzeros),
  A = 1, B = 3.4, α = 0.1 (D = αN² = 102.4), the initial state of Hairer & Wanner's BRUSS
  (u = 22 y (1-y)^1.5, v = 27 x (1-x)^1.5), to t = 11.5 (sparse J in CSC/CSR form).

Tools: ``symjac`` (``symjac.function`` and ``symjac.jacobian``, ``cache=False``; ``sparse=True``
for the 2-D model) and ``symengine`` (``Lambdify(backend="llvm", cse=True)`` of f and of J —
all m×n entries for the small model, the structurally nonzero ones put into a
``scipy.sparse.csc_matrix`` for the 2-D model; derivatives by SymEngine). Each (model, tool)
runs in a fresh process, so its compile time includes importing the tool and its first compile;
the SymPy model is built before the clock starts. The same process then compiles again (warm
compile) and solves again (warm solve). Both tools' solutions must agree (rtol 1e-4).

    python benchmarks/e2e.py [--models chem20 bruss32] [--tools symjac symengine]

Results go to ``benchmarks/results/e2e.json`` and a Markdown table on stdout.
"""

from __future__ import annotations

import argparse
import json
import subprocess
import sys
import tempfile
import time
from pathlib import Path

import numpy as np

HERE = Path(__file__).resolve().parent
sys.path.insert(0, str(HERE))

RTOL_AGREE = 1e-4


def model(name: str):
    """(exprs, states, params, parameter values, y0, t_end, solver tolerances, sparse J?)."""
    import problems

    if name == "chem20":
        exprs, y, k = problems.pollu()
        y0 = np.array([problems.POLLU_Y0.get(s, 0.0) for s in problems.POLLU_SPECIES])
        tol = {"rtol": 1e-6, "atol": 1e-12}
        return exprs, y, k, np.array(problems.POLLU_RATES), y0, 60.0, tol, False
    if name == "bruss32":
        n = 32
        exprs, x, p = problems.brusselator(n)
        grid = np.arange(n) / n
        gy, gx = np.meshgrid(grid, grid, indexing="ij")  # cell (i, j): y = i/n, x = j/n
        u0 = 22 * gy * (1 - gy) ** 1.5
        v0 = 27 * gx * (1 - gx) ** 1.5
        y0 = np.concatenate([u0.ravel(), v0.ravel()])
        values = np.array([1.0, 3.4, 0.1 * n * n])
        tol = {"rtol": 1e-6, "atol": 1e-8}
        return exprs, x, p, values, y0, 11.5, tol, True
    raise KeyError(name)


def compile_symjac(exprs, x, p, sparse: bool):
    import symjac

    f = symjac.function(exprs, x, p, cache=False)
    jac = symjac.jacobian(exprs, x, p, sparse=sparse, cache=False)

    def rhs(y, pv):
        return f(y, pv)

    def jacobian(y, pv):
        return jac(y, pv)

    return rhs, jacobian, jac.nnz


def compile_symengine(exprs, x, p, sparse: bool):
    import scipy.sparse
    import symengine as se

    fs = [se.sympify(e) for e in exprs]
    xs = [se.sympify(s) for s in x]
    args = [*xs, *(se.sympify(s) for s in p)]
    f = se.Lambdify(args, fs, backend="llvm", cse=True)
    n = len(x)
    if sparse:  # the structurally nonzero entries, column by column (CSC order)
        index = {s: j for j, s in enumerate(xs)}
        by_col: list[list[int]] = [[] for _ in range(n)]
        for i, e in enumerate(fs):
            for s in e.free_symbols:
                if s in index:
                    by_col[index[s]].append(i)
        rows = [sorted(c) for c in by_col]
        entries = [fs[i].diff(xs[j]) for j in range(n) for i in rows[j]]
        indices = np.array([i for c in rows for i in c], dtype=np.int32)
        indptr = np.cumsum([0] + [len(c) for c in rows]).astype(np.int32)
    else:
        entries = [e.diff(s) for e in fs for s in xs]
    jac = se.Lambdify(args, entries, backend="llvm", cse=True)
    z = np.empty(len(args))

    def rhs(y, pv):
        z[:n], z[n:] = y, pv
        return np.asarray(f(z))

    def jacobian(y, pv):
        z[:n], z[n:] = y, pv
        values = np.asarray(jac(z))
        if sparse:
            return scipy.sparse.csc_matrix((values, indices, indptr), shape=(n, n))
        return values.reshape(n, n)

    return rhs, jacobian, len(entries)


COMPILERS = {"symjac": compile_symjac, "symengine": compile_symengine}


def solve(rhs, jacobian, pv, y0, t_end, tol, t_eval):
    from scipy.integrate import solve_ivp

    t0 = time.perf_counter()
    sol = solve_ivp(
        lambda t, y: rhs(y, pv),
        (0.0, t_end),
        y0,
        method="BDF",
        jac=lambda t, y: jacobian(y, pv),
        t_eval=t_eval,
        **tol,
    )
    seconds = time.perf_counter() - t0
    if not sol.success:
        raise RuntimeError(f"solve_ivp failed: {sol.message}")
    return sol, seconds


def child(name: str, tool: str, out: str) -> None:
    exprs, x, p, pv, y0, t_end, tol, sparse = model(name)
    t_eval = np.linspace(0.0, t_end, 7)
    t0 = time.perf_counter()
    rhs, jacobian, nnz = COMPILERS[tool](exprs, x, p, sparse)
    compile_s = time.perf_counter() - t0
    sol, solve_s = solve(rhs, jacobian, pv, y0, t_end, tol, t_eval)
    t0 = time.perf_counter()
    rhs2, jacobian2, _ = COMPILERS[tool](exprs, x, p, sparse)
    warm_compile_s = time.perf_counter() - t0
    _, warm_solve_s = solve(rhs2, jacobian2, pv, y0, t_end, tol, t_eval)
    result = {
        "model": name,
        "tool": tool,
        "states": len(x),
        "jacobian_entries": nnz,
        "compile_s": compile_s,
        "solve_s": solve_s,
        "total_s": compile_s + solve_s,
        "warm_compile_s": warm_compile_s,
        "warm_solve_s": warm_solve_s,
        "nfev": int(sol.nfev),
        "njev": int(sol.njev),
        "nlu": int(sol.nlu),
        "t_end": t_end,
        "y": sol.y.T.tolist(),
    }
    Path(out).write_text(json.dumps(result))


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--models", nargs="+", default=["chem20", "bruss32"])
    parser.add_argument("--tools", nargs="+", default=list(COMPILERS), choices=list(COMPILERS))
    parser.add_argument("--timeout", type=float, default=1800.0)
    parser.add_argument("--output", type=Path, default=HERE / "results" / "e2e.json")
    parser.add_argument("--child", nargs=3, help=argparse.SUPPRESS)
    args = parser.parse_args()
    if args.child:
        child(*args.child)
        return
    rows = []
    for name in args.models:
        solutions: dict[str, np.ndarray] = {}
        for tool in args.tools:
            with tempfile.NamedTemporaryFile(suffix=".json") as fh:
                cmd = [sys.executable, __file__, "--child", name, tool, fh.name]
                try:
                    done = subprocess.run(cmd, capture_output=True, text=True, timeout=args.timeout)
                except subprocess.TimeoutExpired:
                    rows.append({"model": name, "tool": tool, "error": f"> {args.timeout:.0f} s"})
                    continue
                if done.returncode:
                    why = (done.stderr.strip().splitlines() or ["?"])[-1]
                    rows.append({"model": name, "tool": tool, "error": why[:120]})
                    print(f"{name} {tool} failed: {done.stderr[-2000:]}", file=sys.stderr)
                    continue
                row = json.loads(Path(fh.name).read_text())
            solutions[tool] = np.asarray(row.pop("y"))
            rows.append(row)
            print(
                f"{name} {tool}: compile {row['compile_s']:.3f} s + solve {row['solve_s']:.3f} s",
                flush=True,
            )
        if "symjac" in solutions:
            ref = solutions["symjac"]
            for row in rows:
                if row["model"] == name and row["tool"] in solutions:
                    got = solutions[row["tool"]]
                    scale = RTOL_AGREE * np.abs(ref).max()
                    err = np.abs(got - ref) / (np.abs(ref) + scale)
                    row["max_rel_diff_vs_symjac"] = float(err.max())
                    row["agrees"] = bool(np.allclose(got, ref, rtol=RTOL_AGREE, atol=scale))
    args.output.parent.mkdir(exist_ok=True)
    args.output.write_text(json.dumps(rows, indent=1))
    print()
    print(markdown(rows))
    bad = [r for r in rows if r.get("agrees") is False or "error" in r]
    if bad:
        raise SystemExit(f"disagreement or failure: {[(r['model'], r['tool']) for r in bad]}")


def markdown(rows: list[dict[str, object]]) -> str:
    head = [
        "model",
        "states",
        "J entries",
        "tool",
        "compile s (fresh process)",
        "solve s",
        "total s",
        "total ÷ symengine",
        "warm compile s",
        "warm solve s",
        "nfev",
        "njev",
        "agrees (max rel diff)",
    ]
    lines = ["| " + " | ".join(head) + " |", "|" + "---|" * len(head)]
    totals = {(r["model"], r["tool"]): r.get("total_s") for r in rows}
    for r in rows:
        if "error" in r:
            lines.append(f"| {r['model']} | | | {r['tool']} | failed: {r['error']} |" + " |" * 8)
            continue
        base = totals.get((r["model"], "symengine"))
        ratio = f"{r['total_s'] / base:.2f}" if isinstance(base, float) else "-"
        agree = r.get("agrees")
        cells = [
            str(r["model"]),
            str(r["states"]),
            str(r["jacobian_entries"]),
            str(r["tool"]),
            f"{r['compile_s']:.3f}",
            f"{r['solve_s']:.3f}",
            f"{r['total_s']:.3f}",
            ratio,
            f"{r['warm_compile_s']:.3f}",
            f"{r['warm_solve_s']:.3f}",
            str(r["nfev"]),
            str(r["njev"]),
            "-"
            if agree is None
            else f"{'yes' if agree else 'NO'} ({r['max_rel_diff_vs_symjac']:.1e})",
        ]
        lines.append("| " + " | ".join(cells) + " |")
    return "\n".join(lines)


if __name__ == "__main__":
    main()
