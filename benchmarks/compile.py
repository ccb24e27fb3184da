"""Compile time from the same SymPy model: cold, warm (a second process) and at scale.

For each (problem, tool) a fresh subprocess builds the SymPy model (not timed), then
compiles the Jacobian's structurally nonzero entries (timed) and evaluates them once; the
values are checked against symjac's. symjac runs twice with one new cache directory:
``cold`` (nothing cached) and ``warm`` (a second process: the warm-start cache). Peers
have no on-disk cache, so their second process costs what their first did: each runs
once. Peers start from the SymPy expressions, converted by benchmarks/kernels.py's
converters (timed: that is what a SymPy user pays): SymEngine ``Lambdify(backend="llvm",
cse=True)``, Symbolica ``evaluator_multiple(jit_compile=True)``, CasADi SX (``jacobian``
and a ``Function``; its virtual machine, no C compiler). Their sparsity pattern is
symjac's, handed over before the clock starts.

Problems: Gray–Scott on n×n grids (``gs16`` … ``gs128``: 512 to 32 768 states), the 2-D
Brusselator ``bruss32`` (2 048 states), a dense 50×50 system ``dense50`` and a chain of
10 000 nested ``sin`` (``chain10k``).

    python -m pip install -e ".[bench]" && python benchmarks/compile.py \
        [--problems gs16 gs32 ...] [--tools symjac symengine symbolica casadi] [--timeout 300]

Results go to ``benchmarks/results/compile.json`` and Markdown tables on stdout: seconds
per compile (the tool is imported before the clock starts; that time is recorded apart),
symjac's stages and peak memory (MB, the child's maximum resident set), and the growth
exponent of symjac's cold compile time in the number of states.
"""

from __future__ import annotations

import argparse
import json
import os
import resource
import subprocess
import sys
import tempfile
import time
from pathlib import Path

import numpy as np

HERE = Path(__file__).resolve().parent
sys.path.insert(0, str(HERE))

TOOLS = ["symjac", "symengine", "symbolica", "casadi"]
PROBLEMS = ["gs16", "gs32", "gs64", "gs128", "bruss32", "dense50", "chain10k"]


def problem(name: str):
    """(exprs, wrt, params, parameter values)."""
    import problems
    import sympy as sp

    if name.startswith("gs"):
        exprs, x, p = problems.gray_scott(int(name[2:]))
        return exprs, x, p, np.array([0.16, 0.08, 0.035, 0.065])
    if name == "bruss32":
        exprs, x, p = problems.brusselator(32)
        return exprs, x, p, np.array([1.0, 3.4, 102.4])
    if name == "dense50":
        exprs, x, p, _ = problems._dense(50)
        return exprs, x, p, np.array([])
    if name == "chain10k":
        x, y = sp.symbols("x y", real=True)
        e = x
        for _ in range(10_000):
            e = sp.sin(e, evaluate=False)
            assert e.is_commutative  # asked level by level: SymPy's own query would recurse
        return [y * e, e + y], [x, y], [], np.array([])
    raise KeyError(name)


def _point(n: int) -> np.ndarray:
    return np.random.default_rng(1).uniform(0.1, 0.9, n)


def child(name: str, tool: str, cache: str, out: str) -> None:
    """One compile in this process; writes its figures to ``out`` (JSON)."""
    exprs, x, p, values = problem(name)
    pattern = json.loads(Path(cache, "pattern.json").read_text()) if tool != "symjac" else None
    start = time.perf_counter()
    if tool == "symjac":
        import symjac
        import symjac.api  # loaded lazily by the first call: imported before the clock
    else:
        import kernels

        module = {"symengine": "symengine", "symbolica": "symbolica", "casadi": "casadi"}[tool]
        __import__(module)
    imported = time.perf_counter() - start
    start = time.perf_counter()
    if tool == "symjac":
        jac = symjac.jacobian(exprs, x, p, cache=cache, sparse=False)
        seconds = time.perf_counter() - start
        result = jac.values(_point(len(x)), values)
        figures: dict[str, object] = {
            "stages": {k: round(v, 4) for k, v in jac.stats.timings.items()},
            "warm": jac.stats.warm,
            "nnz": jac.nnz,
        }
        Path(cache, "pattern.json").write_text(
            json.dumps([jac.pattern.rows.tolist(), jac.pattern.cols.tolist()])
        )
    else:
        built = {
            "symengine": kernels.build_symengine,
            "symbolica": kernels.build_symbolica,
            "casadi": kernels.build_casadi,
        }[tool](exprs, x, p, (np.array(pattern[0]), np.array(pattern[1])))
        seconds = time.perf_counter() - start
        result = np.asarray(built.single(_point(len(x)), values), dtype=float)
        figures = {}
    figures.update(
        seconds=seconds,
        import_seconds=imported,
        peak_mb=resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024,
        values=np.asarray(result).ravel().tolist(),
        states=len(x),
    )
    Path(out).write_text(json.dumps(figures))


def run(name: str, tool: str, cache: str, timeout: float) -> dict[str, object] | None:
    with tempfile.NamedTemporaryFile(suffix=".json", delete=False) as f:
        out = f.name
    env = {**os.environ, "PYTHONDONTWRITEBYTECODE": ""}  # as users run: bytecode cached
    try:
        done = subprocess.run(
            [sys.executable, __file__, "--child", name, tool, cache, out],
            timeout=timeout,
            capture_output=True,
            text=True,
            env=env,
        )
    except subprocess.TimeoutExpired:
        print(f"{name} {tool}: over {timeout:.0f} s, stopped", file=sys.stderr)
        return {"timeout": timeout}
    if done.returncode != 0:
        print(f"{name} {tool}: failed\n{done.stderr[-2000:]}", file=sys.stderr)
        return None
    return json.loads(Path(out).read_text())


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--problems", nargs="+", default=PROBLEMS)
    parser.add_argument("--tools", nargs="+", default=TOOLS)
    parser.add_argument("--timeout", type=float, default=300.0)
    parser.add_argument("--child", nargs=4, help=argparse.SUPPRESS)
    args = parser.parse_args()
    if args.child:
        child(*args.child)
        return
    rows = []
    for name in args.problems:
        with tempfile.TemporaryDirectory() as cache:
            row: dict[str, object] = {"problem": name}
            row["cold"] = run(name, "symjac", cache, args.timeout)
            row["warm"] = run(name, "symjac", cache, args.timeout)
            reference = np.array((row["cold"] or {}).get("values", []))
            for tool in args.tools:
                if tool == "symjac":
                    continue
                got = run(name, tool, cache, args.timeout)
                if got and "values" in got:
                    ok = np.allclose(got["values"], reference, rtol=1e-9, atol=1e-12)
                    got["agrees"] = bool(ok)
                    if not ok:
                        print(f"{name} {tool}: values differ from symjac's", file=sys.stderr)
                row[tool] = got
            rows.append(row)
            print(_line(row, args.tools), file=sys.stderr)
    (HERE / "results").mkdir(exist_ok=True)
    # the values were for the cross-check only: a 196 608-entry row is 400 000 lines of JSON
    for row in rows:
        for figures in row.values():
            if isinstance(figures, dict):
                figures.pop("values", None)
    (HERE / "results" / "compile.json").write_text(json.dumps(rows, indent=1))
    print(markdown(rows, args.tools))


def _seconds(figures: object) -> str:
    if not isinstance(figures, dict):
        return "failed"
    if "timeout" in figures:
        return f"> {figures['timeout']:.0f}"
    mark = "" if figures.get("agrees", True) else " (differs)"
    return f"{figures['seconds']:.3g}{mark}"


def _line(row: dict[str, object], tools: list[str]) -> str:
    cells = [f"{t}={_seconds(row.get(t))}" for t in ("cold", "warm", *tools) if t != "symjac"]
    return f"{row['problem']}: " + ", ".join(cells)


def markdown(rows: list[dict[str, object]], tools: list[str]) -> str:
    peers = [t for t in tools if t != "symjac"]
    lines = [
        "| problem | states | nnz | symjac cold | symjac warm | warm/cold | "
        + "".join(f"{peer} | " for peer in peers)
        + "symjac peak MB |",
        "|---" * (7 + len(peers)) + "|",
    ]
    scale = []
    for row in rows:
        cold, warm = row.get("cold"), row.get("warm")
        if not isinstance(cold, dict) or "seconds" not in cold:
            continue
        ratio = (
            f"{warm['seconds'] / cold['seconds']:.3f}"
            if isinstance(warm, dict) and "seconds" in warm
            else "-"
        )
        lines.append(
            f"| {row['problem']} | {cold['states']} | {cold['nnz']} | {_seconds(cold)} | "
            f"{_seconds(warm)} | {ratio} | "
            + "".join(f"{_seconds(row.get(t))} | " for t in peers)
            + f"{cold['peak_mb']:.0f} |"
        )
        if str(row["problem"]).startswith("gs"):
            scale.append((cold["states"], cold["seconds"]))
    lines.append("")
    lines.append("symjac's stages, cold (seconds):")
    lines.append("")
    for row in rows:
        cold = row.get("cold")
        if isinstance(cold, dict) and "stages" in cold:
            stages = ", ".join(f"{k} {v:.3f}" for k, v in cold["stages"].items())
            lines.append(f"* {row['problem']}: {stages}")
    if len(scale) >= 2:
        logs = np.log([s for s, _ in scale]), np.log([t for _, t in scale])
        slope = float(np.polyfit(*logs, 1)[0])
        lines.append("")
        lines.append(f"symjac cold compile time grows as states^{slope:.2f} (Gray–Scott sizes)")
    return "\n".join(lines)


if __name__ == "__main__":
    main()
