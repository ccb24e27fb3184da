"""Compile-time scaling on Gray–Scott systems: symjac against SymPy, SymEngine and CasADi.

Each (tool, N) pair runs in a fresh subprocess (so peak memory is its own and a
slow peer can be stopped), builds the N×N Gray–Scott Jacobian from scratch and
evaluates it once; the values are checked against symjac's before anything is
reported. Run from the repository root::

    python -m pip install -e ".[bench]" && python benchmarks/scale.py

"casadi" builds its SX model natively (its Jacobian function is a virtual
machine, not native code); "casadi_from_sympy" starts from the same SymPy
expressions symjac starts from. Compile times exclude building the SymPy model.

Options: ``--sizes 16 32 64 128``, ``--tools symjac sympy symengine casadi``,
``--timeout 300``. Results go to ``benchmarks/results/scale.json`` and a
Markdown table on stdout.
"""

from __future__ import annotations

import argparse
import json
import os
import resource
import subprocess
import sys
import time
from pathlib import Path

import numpy as np

HERE = Path(__file__).resolve().parent
sys.path.insert(0, str(HERE))

from problems import gray_scott, gray_scott_rhs  # noqa: E402

PARAMS = [0.16, 0.08, 0.035, 0.065]


def _point(n_states: int) -> np.ndarray:
    return np.random.default_rng(1).random(n_states)


def run_symjac(n: int) -> dict[str, object]:
    import symjac

    t0 = time.perf_counter()
    exprs, x, p = gray_scott(n)
    t1 = time.perf_counter()
    jac = symjac.jacobian(exprs, x, p)
    t2 = time.perf_counter()
    values = jac.values(_point(len(x)), PARAMS)
    stages = {k: round(v, 3) for k, v in jac.stats.timings.items()}
    return {
        "model": t1 - t0,
        "compile": t2 - t1,
        "nnz": jac.nnz,
        "stages": stages,
        "values": values.tolist(),
        "rows": jac.pattern.rows.tolist(),
        "cols": jac.pattern.cols.tolist(),
    }


def _entries(n: int) -> tuple[list[int], list[int]]:
    reference = json.loads((HERE / "results" / f"symjac-{n}.json").read_text())
    return reference["rows"], reference["cols"]


def run_sympy(n: int) -> dict[str, object]:
    import sympy as sp

    t0 = time.perf_counter()
    exprs, x, p = gray_scott(n)
    t1 = time.perf_counter()
    jac = sp.Matrix(exprs).jacobian(x)
    rows, cols = _entries(n)
    nonzeros = [jac[i, j] for i, j in zip(rows, cols)]
    fn = sp.lambdify([x, p], nonzeros, modules="numpy", cse=True)
    t2 = time.perf_counter()
    values = np.asarray(fn(_point(len(x)), PARAMS), dtype=float)
    return {"model": t1 - t0, "compile": t2 - t1, "values": values.tolist()}


def run_symengine(n: int) -> dict[str, object]:
    import symengine as se

    t0 = time.perf_counter()
    exprs, x, p = gray_scott(n)
    t1 = time.perf_counter()
    fs = se.Matrix([se.sympify(e) for e in exprs])
    xs = [se.sympify(s) for s in x]
    jac = fs.jacobian(se.Matrix(xs))
    rows, cols = _entries(n)
    nonzeros = [jac[i, j] for i, j in zip(rows, cols)]
    fn = se.Lambdify([*xs, *(se.sympify(s) for s in p)], nonzeros, backend="llvm", cse=True)
    t2 = time.perf_counter()
    values = np.asarray(fn(np.concatenate([_point(len(x)), PARAMS])), dtype=float).ravel()
    return {"model": t1 - t0, "compile": t2 - t1, "values": values.tolist()}


def run_casadi(n: int) -> dict[str, object]:
    import casadi as ca

    t0 = time.perf_counter()
    u = ca.SX.sym("u", n * n)
    v = ca.SX.sym("v", n * n)
    p = ca.SX.sym("p", 4)
    du, dv, feed, kill = p[0], p[1], p[2], p[3]

    f = ca.vertcat(*gray_scott_rhs(n, u, v, du, dv, feed, kill))
    x = ca.vertcat(u, v)
    t1 = time.perf_counter()
    jac = ca.jacobian(f, x)
    fn = ca.Function("J", [x, p], [jac])
    t2 = time.perf_counter()
    sparse = fn(_point(2 * n * n), PARAMS).sparse()
    rows, cols = _entries(n)
    values = np.asarray(sparse[rows, cols]).ravel()
    return {"model": t1 - t0, "compile": t2 - t1, "values": values.tolist()}


def run_casadi_from_sympy(n: int) -> dict[str, object]:
    """CasADi starting where symjac starts: from the SymPy expressions (via lambdify)."""
    import casadi as ca
    import sympy as sp

    t0 = time.perf_counter()
    exprs, x, p = gray_scott(n)
    t1 = time.perf_counter()
    xs, ps = ca.SX.sym("x", len(x)), ca.SX.sym("p", len(p))
    to_casadi = sp.lambdify([x, p], exprs, modules=[{"exp": ca.exp, "sin": ca.sin}, "math"])
    f = ca.vertcat(*to_casadi([xs[i] for i in range(len(x))], [ps[i] for i in range(len(p))]))
    fn = ca.Function("J", [xs, ps], [ca.jacobian(f, xs)])
    t2 = time.perf_counter()
    sparse = fn(_point(len(x)), PARAMS).sparse()
    rows, cols = _entries(n)
    values = np.asarray(sparse[rows, cols]).ravel()
    return {"model": t1 - t0, "compile": t2 - t1, "values": values.tolist()}


RUNNERS = {
    "symjac": run_symjac,
    "sympy": run_sympy,
    "symengine": run_symengine,
    "casadi": run_casadi,
    "casadi_from_sympy": run_casadi_from_sympy,
}


def _child(tool: str, n: int) -> None:
    result = RUNNERS[tool](n)
    result["peak_mb"] = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024
    out = HERE / "results" / f"{tool}-{n}.json"
    out.write_text(json.dumps(result))


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--sizes", type=int, nargs="+", default=[16, 32, 64, 128])
    parser.add_argument("--tools", nargs="+", default=list(RUNNERS))
    parser.add_argument("--timeout", type=float, default=300.0)
    parser.add_argument("--child", nargs=2, help=argparse.SUPPRESS)
    args = parser.parse_args()
    if args.child:
        _child(args.child[0], int(args.child[1]))
        return
    (HERE / "results").mkdir(exist_ok=True)
    table = []
    gave_up: set[str] = set()  # a tool that timed out is not run on larger systems
    for n in args.sizes:
        row: dict[str, object] = {"N": n, "states": 2 * n * n}
        reference = None
        for tool in ["symjac", *(t for t in args.tools if t != "symjac")]:
            if tool in gave_up:
                row[tool] = f"> {args.timeout:.0f} s"
                continue
            path = HERE / "results" / f"{tool}-{n}.json"
            path.unlink(missing_ok=True)
            cmd = [sys.executable, __file__, "--child", tool, str(n)]
            try:
                subprocess.run(cmd, check=True, timeout=args.timeout, env=os.environ.copy())
            except subprocess.TimeoutExpired:
                row[tool] = f"> {args.timeout:.0f} s"
                gave_up.add(tool)
                continue
            except subprocess.CalledProcessError as exc:
                row[tool] = f"failed ({exc.returncode})"
                continue
            result = json.loads(path.read_text())
            values = np.asarray(result["values"])
            if tool == "symjac":
                reference = values
                row["nnz"] = result["nnz"]
                row["stages"] = result["stages"]
            elif reference is not None and not np.allclose(
                values, reference, rtol=1e-12, atol=1e-12
            ):
                raise SystemExit(f"{tool} disagrees with symjac at N={n}")
            row[tool] = result["compile"]
            row[f"{tool}_peak_mb"] = round(result["peak_mb"])
            print(
                f"N={n} {tool}: {result['compile']:.2f} s, peak {result['peak_mb']:.0f} MB",
                flush=True,
            )
        table.append(row)
    (HERE / "results" / "scale.json").write_text(json.dumps(table, indent=1))
    print(markdown(table, args.tools))


def markdown(table: list[dict[str, object]], tools: list[str]) -> str:
    def cell(v: object) -> str:
        return f"{v:.2f} s" if isinstance(v, float) else str(v)

    head = "| N | states | nnz | " + " | ".join(tools) + " | symjac peak memory |"
    lines = [head, "|" + "---|" * (4 + len(tools))]
    for row in table:
        cells = [cell(row.get(t, "-")) for t in tools]
        lines.append(
            f"| {row['N']} | {row['states']} | {row.get('nnz', '-')} | "
            + " | ".join(cells)
            + f" | {row.get('symjac_peak_mb', '-')} MB |"
        )
    sj = [(r["states"], r["symjac"]) for r in table if isinstance(r.get("symjac"), float)]
    if len(sj) >= 2:
        s, t = np.log([a for a, _ in sj]), np.log([b for _, b in sj])
        lines.append(f"\nsymjac compile time grows as states^{np.polyfit(s, t, 1)[0]:.2f}")
    return "\n".join(lines)


if __name__ == "__main__":
    main()
