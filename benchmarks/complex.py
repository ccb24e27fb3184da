"""Complex128 Jacobians: symjac against JAX, Symbolica and SymPy's lambdify on complex models.

Three models of ``benchmarks/problems.py``, every symbol complex and the Jacobian holomorphic
(∂f/∂z): an RLC ladder's nodal equations with a soft limiter (``rlc_ladder``), AC power flow
in current-injection form with W = conj(V) as an unknown of its own (``power_flow``), and a
programmable interferometer of exp(iθ) phase shifters and couplers (``phase_mesh``). Every
tool evaluates the same list of nonzero entries (symjac's pattern when symjac has complex
kernels, else the structural nonzeros of SymPy's Jacobian), from the same SymPy expressions.
Run from the repository root::

    python -m pip install -e ".[bench]" && python benchmarks/complex.py

``--quick`` runs the small size of each model with short budgets; ``--problems ladder20
mesh8 ...`` (``COMPLEX_PROBLEMS`` in problems.py), ``--tools symjac jax symbolica sympy``,
``--sizes 1000 10000 100000``. A tool that is not installed, refuses (symjac without
``dtype=np.complex128``: "symjac has no complex128 support in this checkout") or disagrees
with the reference is reported and left out of the timings; the others still run.

Measured per model:

* **compile**: from the SymPy expressions to the first one-point result and a first batch of
  16 points, the tool's own differentiation included (symjac with ``cache=False``), in a
  process where every tool has already compiled a small complex model;
* **agreement**: the largest relative error of each tool's entries, at three points, against
  SymPy's own derivatives evaluated by mpmath at 30 digits (``lambdify(modules="mpmath")``);
* **latency**: one point (symjac ``jac.values(z, p, out=buf)``);
* **throughput** at each N, one core per tool where the tool lets us choose (see ``NOTES``;
  JAX keeps XLA's default CPU threads); a batch whose output would exceed 1 GB is measured at
  the largest N that fits. **store floor**: ``out.fill(1)`` on a complex output of that shape.

Timing is :func:`kernels.interleaved`: after a warm-up call, the minimum over interleaved
repetitions. Results go to ``benchmarks/results/complex.json`` and Markdown tables on stdout.
"""

from __future__ import annotations

import argparse
import importlib.util
import json
import os
import sys
import time
from collections.abc import Callable
from pathlib import Path

import numpy as np
import sympy as sp

HERE = Path(__file__).resolve().parent
sys.path.insert(0, str(HERE))

from kernels import (  # noqa: E402
    JAX_MAX_DENSE_BYTES,
    KEPT,
    MAX_OUTPUT_BYTES,
    Skipped,
    Tool,
    _entries,
    _fmt,
    _table,
    interleaved,
    machine,
    symbolica_usable,
)
from kernels import build_symbolica as build_symbolica_real  # noqa: E402
from kernels import build_symjac as build_symjac_real  # noqa: E402
from problems import COMPLEX_PROBLEMS, rlc_ladder  # noqa: E402

Pattern = tuple[np.ndarray, np.ndarray]
Model = tuple[list[sp.Expr], list[sp.Symbol], list[sp.Symbol]]

NOTES = {
    "symjac": "`symjac.jacobian(..., dtype=np.complex128)`, `jac.values`, `jac.threads = 1`",
    "jax": "`jit(vmap(jacfwd(f, holomorphic=True)))` on the CSE'd function (x64), XLA CPU with"
    " its default threads; nonzeros taken from the dense m×n Jacobian; batches whose dense"
    f" Jacobians exceed {JAX_MAX_DENSE_BYTES / 1e9:.0f} GB run in equal chunks",
    "symbolica": "`evaluator_multiple(jit_compile=True)` then `evaluate_complex` (SymJIT,"
    " complex double), derivatives by `Expression.derivative`; the free instance has one thread",
    "sympy": "`lambdify(modules='numpy', cse=True)` on complex arrays, serial",
}
MODULES = {"symjac": "symjac", "jax": "jax", "symbolica": "symbolica", "sympy": "sympy"}
TOOLS = ["symjac", "jax", "symbolica", "sympy"]
QUICK_PROBLEMS = ["ladder20", "powerflow4", "mesh4"]
ITEM = np.dtype(np.complex128).itemsize
TOLERANCE = 1e-9
UNSUPPORTED = "symjac has no complex128 support in this checkout"


# --------------------------------------------------------------------------------------------
# Pattern, points and the reference values
# --------------------------------------------------------------------------------------------


def structural_pattern(exprs: list[sp.Expr], x: list[sp.Symbol]) -> Pattern:
    """The nonzeros of ``sympy.Matrix(exprs).jacobian(x)``, row by row.

    Only the inputs that occur in a row are differentiated: an entry whose input does not
    occur is exactly zero, so this is Matrix.jacobian's set of nonzeros at linear cost.
    """
    column = {s: j for j, s in enumerate(x)}
    rows, cols = [], []
    for i, e in enumerate(exprs):
        for j in sorted(column[s] for s in e.free_symbols if s in column):
            if sp.diff(e, x[j]) != 0:
                rows.append(i)
                cols.append(j)
    return np.array(rows, dtype=np.int64), np.array(cols, dtype=np.int64)


def complex_points(rng: np.random.Generator, *shape: int) -> np.ndarray:
    """Points with real and imaginary parts in [0.1, 1): every model is regular there (the
    ladder's R + sL and the power flow's V, W stay away from 0, tanh from its poles at
    ±iπ/2, and |exp(iθ)| ≤ 1)."""
    return rng.uniform(0.1, 1.0, shape) + 1j * rng.uniform(0.1, 1.0, shape)


def reference(model: Model, pattern: Pattern, pts: np.ndarray, par: np.ndarray, dps: int):
    """SymPy's derivatives at ``pts`` (rows), evaluated by mpmath with ``dps`` digits."""
    import mpmath

    exprs, x, p = model
    fn = sp.lambdify([*x, *p], _entries(exprs, x, pattern), modules="mpmath", cse=True)
    out = np.empty((len(pts), len(pattern[0])), dtype=np.complex128)
    with mpmath.workdps(dps):
        for k, pt in enumerate(pts):
            # a double converts to an mpf exactly: the reference sees the very same inputs
            args = [mpmath.mpc(z.real, z.imag) for z in (*pt, *par)]
            out[k] = [complex(v) for v in fn(*args)]
    return out


def agree_complex(got: np.ndarray, expect: np.ndarray) -> float:
    """The largest |got - expect| relative to max(|expect|, 1e-3 max |expect|).

    :func:`kernels.agree` casts to float (it would drop the imaginary parts); this is the
    same measure on complex moduli.
    """
    got, expect = np.asarray(got), np.asarray(expect)
    if got.shape != expect.shape or not np.isfinite(got).all():
        return float("inf")
    scale = np.maximum(np.abs(expect), 1e-3 * max(float(np.abs(expect).max()), 1e-300))
    return float((np.abs(got - expect) / scale).max())


# --------------------------------------------------------------------------------------------
# The tools: each builds, from the SymPy model, an evaluator of the nonzeros in pattern order
# --------------------------------------------------------------------------------------------


def build_symjac(exprs, x, p, pattern: Pattern | None = None) -> Tool:
    """symjac's complex128 kernel (one thread); :class:`kernels.Skipped` where there is none."""
    try:
        tool = build_symjac_real(exprs, x, p, dtype=np.complex128)
    except (TypeError, NotImplementedError) as exc:
        # TypeError: no ``dtype`` keyword (a checkout before issue 14)
        raise Skipped(f"{UNSUPPORTED} ({type(exc).__name__}: {exc})") from exc
    tool.info["jac"].threads = 1
    return tool


def build_sympy(exprs, x, p, pattern: Pattern) -> Tool:
    """``lambdify`` to NumPy of SymPy's derivatives, called on complex arrays."""
    fn = sp.lambdify([*x, *p], _entries(exprs, x, pattern), modules="numpy", cse=True)

    def single(pt, par):
        return np.asarray(fn(*pt, *par), dtype=np.complex128)

    def batch(pts, par):
        values = fn(*pts.T, *par)
        # an entry that does not depend on the inputs comes back as a scalar
        return np.column_stack([np.broadcast_to(v, (len(pts),)) for v in values])

    return Tool(single, batch)


def build_symbolica(exprs, x, p, pattern: Pattern) -> Tool:
    """Symbolica's derivatives in one ``evaluator_multiple``, JIT-compiled by SymJIT on the
    first ``evaluate_complex`` (complex double arithmetic): kernels.py's builder."""
    return build_symbolica_real(exprs, x, p, pattern, complex_=True)


def build_jax(exprs, x, p, pattern: Pattern) -> Tool:
    """``jit(vmap(jacfwd(f, holomorphic=True)))``, the nonzeros taken from the dense result."""
    import jax

    jax.config.update("jax_enable_x64", True)
    import jax.numpy as jnp

    f = sp.lambdify([x, p], list(exprs), modules="jax", cse=True)
    rows, cols = (np.asarray(a) for a in pattern)

    def entries(pt, par):
        full = jax.jacfwd(lambda v: jnp.stack(f(list(v), list(par))), holomorphic=True)(pt)
        return full[rows, cols]

    one = jax.jit(entries)
    many = jax.jit(jax.vmap(entries, in_axes=(0, None)))
    # jacfwd builds every point's dense m×n Jacobian: big batches go in chunks of a power of
    # ten points (one compiled shape for N = 10^k), each under JAX_MAX_DENSE_BYTES
    dense_bytes = ITEM * len(exprs) * len(x)
    chunk = 10 ** max(0, int(np.log10(max(JAX_MAX_DENSE_BYTES // dense_bytes, 1))))

    def single(pt, par):
        return np.asarray(one(pt, par))

    def batch(pts, par):
        if len(pts) <= chunk:
            return np.asarray(many(pts, par))
        return np.concatenate(
            [np.asarray(many(pts[k : k + chunk], par)) for k in range(0, len(pts), chunk)]
        )

    return Tool(single, batch, info={"chunk": chunk})


BUILDERS: dict[str, Callable[..., Tool]] = {
    "symjac": build_symjac,
    "jax": build_jax,
    "symbolica": build_symbolica,
    "sympy": build_sympy,
}


def build(tool: str, model: Model, pattern: Pattern, pt, par, pts) -> Tool:
    """Build ``tool`` and evaluate it at one point and on a small batch (JITs compile on the
    first call, so all of this is the compile)."""
    made = BUILDERS[tool](*model, pattern)
    made.single(pt, par)
    made.batch(pts, par)
    return made


def _timed_build(tool, model, pattern, pt, par, pts, repeats: int) -> tuple[Tool, float]:
    """Build ``tool`` up to ``repeats`` times while builds are quick; the quickest time."""
    best, made = float("inf"), None
    for _ in range(repeats):
        t0 = time.perf_counter()
        made = build(tool, model, pattern, pt, par, pts)
        best = min(best, time.perf_counter() - t0)
        if best > 1.0:
            break
    assert made is not None
    return made, best


def _warm_up(tools: list[str]) -> dict[str, str]:
    """Compile a 2-section ladder with every tool, so that imports and first JIT set-ups are
    not in the first timed compile. Returns why each tool that refused did (symjac without
    complex kernels); failures are reported on stderr and again on the real models."""
    model = rlc_ladder(2)
    pattern = structural_pattern(model[0], model[1])
    rng = np.random.default_rng(1)
    pt, par = complex_points(rng, 2), complex_points(rng, len(model[2]))
    refused = {}
    for tool in tools:
        try:
            build(tool, model, pattern, pt, par, complex_points(rng, 16, 2))
        except Skipped as exc:
            refused[tool] = str(exc)
            print(f"{tool}: skipped: {exc}", file=sys.stderr)
        except Exception as exc:
            print(f"warm-up of {tool} failed: {exc!r}"[:300], file=sys.stderr)
    return refused


# --------------------------------------------------------------------------------------------
# One model
# --------------------------------------------------------------------------------------------


def _steady(jac, call: Callable[[], object], row: dict[str, object]) -> None:
    """Bring symjac to its steady state before timing throughput: its SIMD build, which
    batches make once they have run long enough to pay for it (as in kernels.py)."""
    kernels = getattr(jac, "_kernels", None)
    if kernels is None or not hasattr(kernels, "batched"):
        return
    t0 = time.perf_counter()
    kernels.batched()
    row["symjac_simd_build_s"] = time.perf_counter() - t0
    deadline = time.perf_counter() + 10.0
    while not getattr(kernels, "_kept", True) and time.perf_counter() < deadline:
        call()


def run_problem(name: str, tools: list[str], args) -> dict[str, object]:
    """Build, check and time every tool on the model ``name``; one result row."""
    t0 = time.perf_counter()
    model = COMPLEX_PROBLEMS[name]()
    exprs, x, p = model
    row: dict[str, object] = {"problem": name, "n": len(x), "m": len(exprs), "k": len(p)}
    row["model_s"] = time.perf_counter() - t0
    t0 = time.perf_counter()
    pattern = structural_pattern(exprs, x)
    row["sympy_pattern_s"] = time.perf_counter() - t0
    row["nnz"] = len(pattern[0])
    rng = np.random.default_rng(0)
    pt, par = complex_points(rng, len(x)), complex_points(rng, len(p))
    small = complex_points(rng, 16, len(x))

    made: dict[str, Tool] = {}
    for tool in tools:
        try:
            made[tool], seconds = _timed_build(
                tool, model, pattern, pt, par, small, args.compile_reps
            )
        except Skipped as exc:
            row[f"{tool}_compile"] = f"skipped: {exc}"
            continue
        except Exception as exc:  # a peer that cannot handle a model is reported, not fatal
            row[f"{tool}_compile"] = f"failed: {type(exc).__name__}: {str(exc)[:80]}"
            print(f"{name}: {tool} failed: {exc!r}"[:300], file=sys.stderr, flush=True)
            continue
        row[f"{tool}_compile"] = seconds
        if tool == "symjac":
            # symjac's pattern is the one every tool evaluates (as in kernels.py); the peers
            # built before it are rebuilt on it when it differs from SymPy's
            mine = made[tool].info["pattern"]
            same = len(mine[0]) == len(pattern[0]) and all(map(np.array_equal, mine, pattern))
            row["symjac_pattern_is_sympys"] = same
            if not same:
                pattern = mine
                row["nnz"] = len(pattern[0])
                for other in list(made)[:-1]:
                    made[other], row[f"{other}_compile"] = _timed_build(
                        other, model, pattern, pt, par, small, args.compile_reps
                    )
    nnz = int(row["nnz"])
    print(f"{name}: compiled {sorted(made)}", flush=True)

    # agreement with mpmath at three points: each tool's one-point call and its batch
    t0 = time.perf_counter()
    check = complex_points(rng, 3, len(x))
    expect = reference(model, pattern, check, par, args.dps)
    row["reference_s"] = time.perf_counter() - t0
    for tool, t in list(made.items()):
        try:
            err = max(
                # a copy per point: symjac's one-point call returns the same buffer each time
                agree_complex(np.array([t.single(c, par).copy() for c in check]), expect),
                agree_complex(t.batch(check, par), expect),
            )
        except Exception as exc:
            err, row[f"{tool}_compile"] = float("inf"), f"failed: {type(exc).__name__}"
        row[f"{tool}_max_rel_err"] = err
        if not err <= TOLERANCE:
            row[f"{tool}_compile"] = f"disagrees: relative error {err:.1e}"
            print(f"{name}: {tool} disagrees with the reference ({err:.1e})", file=sys.stderr)
            del made[tool]

    if "symjac" in made:
        first = complex_points(rng, 1000, len(x))
        _steady(made["symjac"].info["jac"], lambda: made["symjac"].batch(first, par), row)

    # one point
    cases = {t: (lambda t=t: made[t].single(pt, par)) for t in made}
    best, _, _ = interleaved(cases, args.reps, args.sample, args.slow)
    for t in best:
        row[f"{t}_latency_us"] = best[t] * 1e6

    # batches, one core each where the tool lets us choose
    largest = max(1, MAX_OUTPUT_BYTES // (ITEM * nnz))
    slow_tools: set[str] = set()
    for size in args.sizes:
        points = min(size, largest)
        row[f"points_{size}"] = points
        pts = complex_points(rng, points, len(x))
        out = np.empty((points, nnz), dtype=np.complex128)
        cases = {}
        for tool, t in made.items():
            if tool in slow_tools:
                row[f"{tool}_{size}_pts_per_s"] = "not run: over --slow s a call at a smaller N"
                continue
            cases[tool] = lambda t=t, pts=pts: t.batch(pts, par)
            if t.batch_out is not None:
                cases[f"{tool}_out"] = lambda t=t, pts=pts, out=out: t.batch_out(pts, par, out)
        cases["floor"] = lambda out=out: out.fill(1.0)
        best, slow, failed = interleaved(cases, args.reps, args.sample, args.slow)
        for case, seconds in best.items():
            row[f"{case}_{size}_pts_per_s"] = points / seconds
        for case, why in failed.items():
            row[f"{case}_{size}_pts_per_s"] = why
        # a tool slower than --slow per call here is not run on the larger sizes
        slow_tools |= {c.removesuffix("_out") for c in [*slow, *failed]}
        print(f"{name}: {points} points done", flush=True)
    KEPT.append(made)  # released at exit only: see kernels.KEPT
    return row


# --------------------------------------------------------------------------------------------
# Tables
# --------------------------------------------------------------------------------------------


def markdown(
    results: list[dict[str, object]], tools: list[str], sizes: list[int], meta: dict | None
) -> str:
    """The models, compile, agreement, latency and throughput tables."""
    out: list[str] = []
    if meta:
        m = meta["machine"]
        out.append(
            f"Machine: {m['cpu']}, {m['cores']} cores; {m['date']}; symjac at {m.get('commit')};"
            f" {m['versions']}\n"
        )
    out.append("**Models** (n inputs, m outputs, k parameters, nnz Jacobian nonzeros).\n")
    keys = ("n", "m", "k", "nnz")
    out += _table(
        ["problem", *keys], [[str(r["problem"])] + [str(r.get(k)) for k in keys] for r in results]
    )
    out.append("\n**Compile** (s): SymPy model → first point and first 16-point batch.\n")
    out += _table(
        ["problem", *tools],
        [[str(r["problem"])] + [_fmt(r.get(f"{t}_compile")) for t in tools] for r in results],
    )
    out.append("\n**Agreement**: largest relative error against mpmath at 30 digits.\n")
    out += _table(
        ["problem", *tools],
        [
            [str(r["problem"])] + [_fmt(r.get(f"{t}_max_rel_err"), "{:.1e}") for t in tools]
            for r in results
        ],
    )
    out.append("\n**One point** (µs).\n")
    out += _table(
        ["problem", *tools],
        [[str(r["problem"])] + [_fmt(r.get(f"{t}_latency_us")) for t in tools] for r in results],
    )
    variants = [v for t in tools for v in (t, f"{t}_out")] + ["floor"]
    variants = [
        v for v in variants if any(f"{v}_{s}_pts_per_s" in r for r in results for s in sizes)
    ]
    for size in sizes:
        out.append(f"\n**Throughput at N = {size}** (M points/s; `out=`: preallocated).\n")
        head = ["problem", "N"] + [v.replace("_out", " out=") for v in variants]
        rows = []
        for r in results:
            cells = [str(r["problem"]), str(r.get(f"points_{size}", size))]
            for v in variants:
                value = r.get(f"{v}_{size}_pts_per_s")
                rate = value / 1e6 if isinstance(value, float) else value
                cells.append(_fmt(rate))
            rows.append(cells)
        out += _table(head, rows)
    if any(isinstance(r.get(f"symjac_{s}_pts_per_s"), float) for r in results for s in sizes):
        peers = [t for t in tools if t != "symjac"]
        out.append("\n**symjac / peer**: throughput ratio (> 1: symjac faster).\n")
        head = ["problem"] + [f"N={s} ÷{t}" for s in sizes for t in peers]
        rows = []
        for r in results:
            cells = [str(r["problem"])]
            for s in sizes:
                for t in peers:
                    a, b = r.get(f"symjac_{s}_pts_per_s"), r.get(f"{t}_{s}_pts_per_s")
                    ok = isinstance(a, float) and isinstance(b, float)
                    cells.append(f"{a / b:.2f}" if ok else "-")
            rows.append(cells)
        out += _table(head, rows)
    out.append("\nHow each tool runs:\n")
    notes = meta["notes"] if meta else NOTES
    out += [f"* {t}: {notes[t]}" for t in tools]
    return "\n".join(out)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--problems", nargs="+", default=None, choices=list(COMPLEX_PROBLEMS))
    parser.add_argument("--tools", nargs="+", default=None, choices=TOOLS)
    parser.add_argument("--sizes", nargs="+", type=int, default=None)
    parser.add_argument("--quick", action="store_true", help="small models, short budgets")
    parser.add_argument("--reps", type=int, default=None, help="interleaved repetitions")
    parser.add_argument("--sample", type=float, default=None, help="seconds per timed sample")
    parser.add_argument("--slow", type=float, default=1.0, help="a call over this: timed twice")
    parser.add_argument("--compile-reps", type=int, default=None, help="builds per compile time")
    parser.add_argument("--dps", type=int, default=30, help="mpmath digits of the reference")
    parser.add_argument("--output", type=Path, default=HERE / "results" / "complex.json")
    args = parser.parse_args()
    quick = args.quick
    args.problems = args.problems or (QUICK_PROBLEMS if quick else list(COMPLEX_PROBLEMS))
    args.sizes = sorted(args.sizes or ([1000, 10_000] if quick else [1000, 10_000, 100_000]))
    args.reps = args.reps or (3 if quick else 7)
    args.sample = args.sample or (0.005 if quick else 0.02)
    args.compile_reps = args.compile_reps or (1 if quick else 3)
    wanted = args.tools or TOOLS
    tools = [t for t in wanted if importlib.util.find_spec(MODULES[t]) is not None]
    if set(wanted) - set(tools):
        print(f"not installed, skipped: {sorted(set(wanted) - set(tools))}", file=sys.stderr)
    if "symbolica" in tools:
        refused = symbolica_usable()
        if refused:  # the free instance refuses while another process holds it
            print(f"symbolica cannot start, not run: {refused}", file=sys.stderr)
            tools.remove("symbolica")
    # a tool that refuses stays in the tables, each model saying "skipped" (and why)
    refused = _warm_up(tools)
    notes = {t: f"not run: {refused[t]}" if t in refused else NOTES[t] for t in tools}
    meta = {"machine": machine(), "tools": tools, "sizes": args.sizes, "notes": notes}
    results = []
    for name in args.problems:
        row = run_problem(name, tools, args)
        results.append(row)
        print(json.dumps(row), flush=True)
        args.output.parent.mkdir(exist_ok=True)
        args.output.write_text(json.dumps({"meta": meta, "results": results}, indent=1))
    print()
    print(markdown(results, tools, args.sizes, meta))
    sys.stdout.flush()
    sys.stderr.flush()
    os._exit(0)  # no interpreter teardown: releasing the JITs' objects has crashed (KEPT)


if __name__ == "__main__":
    main()
