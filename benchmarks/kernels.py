"""Kernel speed on the benchmark corpus: compile time, latency and throughput of Jacobian values.

Every tool evaluates the same list of nonzero Jacobian entries (symjac's pattern order),
starting from the same SymPy expressions; values are checked against symjac before anything is
timed. Run from the repository root::

    python -m pip install -e ".[bench]" && python benchmarks/kernels.py

``--quick`` runs three small problems at two sizes with short budgets (a try-out, about a
minute); ``--problems chem20 kin7 ...`` (see ``benchmarks/problems.py``), ``--tools symjac
symengine symbolica casadi casadi_c jax sympy`` (default: all but sympy), ``--sizes 1000 10000
100000``, ``--fresh-tools ...`` (default: all but sympy and jax) or ``--no-fresh``. A peer that
is not installed is skipped; one that fails or disagrees on a problem is reported, not fatal.
JAX is not run where the dense Jacobian has more than ``JAX_MAX_ENTRIES`` entries. The whole
corpus takes about half an hour on two cores.

Measured per problem:

* **compile**: from SymPy expressions to the first single-point result and a first batch of 16
  points (a peer's own conversion and differentiation included; symjac with ``cache=False``),
  in this process after every tool has compiled a small problem (warm), and in a fresh
  subprocess that imports the tool first (``import symjac`` included; the SymPy model is built
  before the clock starts);
* **first batch**: the first call on 1000 points (a build done on first use shows here);
  then symjac's SIMD build, which batches make once they have run long enough to pay for it,
  is made (its time reported), so that throughput is measured in the steady state;
* **latency**: one point, ``jac.values(x, p, out=buf)`` for symjac;
* **throughput** at each N: symjac ``jac.values(X, p)`` and ``jac.values(X, p, out=buf)`` with
  one thread (``jac.threads = 1``) and the default; each peer as it runs (see ``NOTES``), with
  and without a preallocated output where it takes one. A system whose output of N points would
  exceed 1 GB is measured at the largest N that fits;
* **store floor**: ``out.fill(1.0)`` on an array of the output's shape, one thread.

Timing: after a warm-up call, the minimum over interleaved repetitions (every repetition times
each tool once, in rotating order, so machine noise hits all alike). Results go to
``benchmarks/results/corpus.json`` and Markdown tables on stdout; ``python benchmarks/plot.py``
draws them.
"""

from __future__ import annotations

import argparse
import ctypes
import functools
import importlib.util
import json
import operator
import os
import platform
import shutil
import subprocess
import sys
import tempfile
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path

import numpy as np
import sympy as sp

HERE = Path(__file__).resolve().parent
sys.path.insert(0, str(HERE))

from problems import CORPUS, corpus_problems  # noqa: E402

Evaluator = Callable[[np.ndarray, np.ndarray], np.ndarray]

#: how each tool runs a batch (printed under the tables)
NOTES = {
    "symjac": "`jac.values`; `1t`: `jac.threads = 1`, `def`: the default threads",
    "sympy": "`lambdify(cse=True)` to NumPy, serial",
    "symengine": "`Lambdify(backend='llvm', cse=True)`, derivatives by SymEngine, serial",
    "symbolica": "`evaluator_multiple(jit_compile=True)`, derivatives by `Expression.derivative`;"
    " the free (unlicensed) instance is restricted to one thread",
    "casadi": "SX virtual machine, derivatives by `ca.jacobian`, `map(N, 'thread', 2)`",
    "casadi_c": "CasADi's `generate`d C, gcc -O3 -march=native, ctypes, serial loop over points",
    "jax": "`jit(vmap(jacfwd))` on the CSE'd function, XLA CPU (its own threads)",
}
MODULES = {
    "sympy": "sympy",
    "symengine": "symengine",
    "symbolica": "symbolica",
    "casadi": "casadi",
    "casadi_c": "casadi",
    "jax": "jax",
}
DEFAULT_TOOLS = ["symjac", "symengine", "symbolica", "casadi", "casadi_c", "jax"]
QUICK_PROBLEMS = ["chem20", "kin7", "flow16"]
MAX_OUTPUT_BYTES = 10**9
JAX_MAX_DENSE_BYTES = 2 * 10**9  # jacfwd builds the dense m×n Jacobian of every point first
#: above this m·n, JAX is not run: XLA compiles jacfwd of a 1000-equation system for ~30 s per
#: batch shape, and a batch of the dense Jacobians it builds fits in memory only for a few
#: hundred points (dense60, m·n = 3600: about a minute per shape)
JAX_MAX_ENTRIES = 10**4


#: every problem's compiled tools, kept until the process exits: releasing a JAX-compiled
#: function in this process sometimes segfaults (seen in 1 of 3 runs with jax 0.10.2 beside
#: symjac's thread pool and the other JITs), which would end a half-hour run
KEPT: list[dict[str, object]] = []


class Skipped(Exception):
    """A tool not run on a problem, for a stated reason (reported in the tables as "skipped")."""


@dataclass
class Tool:
    """A compiled Jacobian-nonzeros evaluator: one point, a batch, a batch into ``out``."""

    single: Evaluator
    batch: Evaluator
    batch_out: Callable[[np.ndarray, np.ndarray, np.ndarray], np.ndarray] | None = None
    info: dict[str, object] = field(default_factory=dict)


# --------------------------------------------------------------------------------------------
# SymPy -> other systems: one walk over the expression DAG, each distinct node converted once
# (SymPy shares subexpressions; a tree walk would be exponential on flow16).
# --------------------------------------------------------------------------------------------


def convert(exprs, leaf: Callable, number: Callable, ops: dict[str, Callable]) -> list:
    """Rebuild ``exprs`` bottom-up: ``leaf(symbol)``, ``number(number)``, ``ops[name](*args)``.

    ``ops`` needs "Add", "Mul", "Pow" (given the converted base and exponent, and the SymPy
    exponent) and every function that occurs, by SymPy class name.
    """
    memo: dict[sp.Basic, object] = {}
    for root in exprs:
        stack = [(sp.sympify(root), False)]
        while stack:
            node, ready = stack.pop()
            if node in memo:
                continue
            if node.is_Symbol:
                memo[node] = leaf(node)
            elif node.is_Number or node.is_NumberSymbol:
                memo[node] = number(node)
            elif not ready:
                stack.append((node, True))
                stack.extend((a, False) for a in node.args if a not in memo)
            elif node.is_Pow:
                memo[node] = ops["Pow"](memo[node.base], memo[node.exp], node.exp)
            else:
                name = type(node).__name__
                if name not in ops:
                    raise NotImplementedError(f"no conversion for {name}")
                memo[node] = ops[name](*(memo[a] for a in node.args))
    return [memo[sp.sympify(e)] for e in exprs]


def _functions(module: object, names: str) -> dict[str, Callable]:
    return {n: getattr(module, n) for n in names.split()}


ELEMENTARY = "exp log sin cos tan sinh cosh tanh asin acos atan"


def _pattern_entries(rows, cols) -> list[tuple[int, int]]:
    return [(int(i), int(j)) for i, j in zip(rows, cols)]


# --------------------------------------------------------------------------------------------
# The tools
# --------------------------------------------------------------------------------------------


def build_symjac(exprs, x, p, pattern=None, **options) -> Tool:
    """``symjac.jacobian(..., **options)`` (e.g. ``dtype``), uncached, dense results."""
    import symjac

    jac = symjac.jacobian(exprs, x, p, sparse=False, cache=False, **options)
    buffer = np.empty(jac.nnz, dtype=jac.dtype)

    def single(pt, par):
        return jac.values(pt, par, out=buffer)

    def batch(pts, par):
        return jac.values(pts, par)

    def batch_out(pts, par, out):
        return jac.values(pts, par, out=out)

    info = {"jac": jac, "pattern": (jac.pattern.rows, jac.pattern.cols)}
    return Tool(single, batch, batch_out, info)


def _entries(exprs, x, pattern):
    # only the nonzeros: a dense SymPy Jacobian of a 2048-state system takes minutes
    return [sp.diff(exprs[int(i)], x[int(j)]) for i, j in zip(*pattern)]


def build_sympy(exprs, x, p, pattern) -> Tool:
    fn = sp.lambdify([*x, *p], _entries(exprs, x, pattern), modules="numpy", cse=True)

    def single(pt, par):
        return np.asarray(fn(*pt, *par), dtype=float)

    def batch(pts, par):
        cols = [pts[:, j] for j in range(pts.shape[1])]
        values = fn(*cols, *par)
        return np.column_stack([np.broadcast_to(v, (len(pts),)) for v in values])

    return Tool(single, batch)


def _with_params(pts: np.ndarray, par: np.ndarray) -> np.ndarray:
    return np.hstack([pts, np.broadcast_to(par, (len(pts), len(par)))])


def build_symengine(exprs, x, p, pattern) -> Tool:
    import symengine as se

    def number(v):
        if v.is_Integer:
            return se.Integer(int(v))
        if v.is_Rational:
            return se.Rational(int(v.p), int(v.q))
        if v is sp.pi:
            return se.pi
        if v is sp.E:
            return se.E
        return se.RealDouble(float(v))

    ops = {
        "Add": se.Add,
        "Mul": se.Mul,
        "Pow": lambda b, e, _: se.Pow(b, e),
        **_functions(se, ELEMENTARY),
    }

    def leaf(s):
        return se.Symbol(s.name)

    fs = convert(exprs, leaf, number, ops)
    xs = [leaf(s) for s in x]
    entries = [fs[i].diff(xs[j]) for i, j in _pattern_entries(*pattern)]
    fn = se.Lambdify([*xs, *(leaf(s) for s in p)], entries, backend="llvm", cse=True)

    def single(pt, par):
        return np.asarray(fn(np.concatenate([pt, par])))

    def batch(pts, par):
        return np.asarray(fn(_with_params(pts, par)))

    def batch_out(pts, par, out):
        return fn(_with_params(pts, par), out=out)

    return Tool(single, batch, batch_out)


def build_symbolica(exprs, x, p, pattern, complex_: bool = False) -> Tool:
    """Symbolica's derivatives in one ``evaluator_multiple``, JIT-compiled by SymJIT on the
    first evaluation (``complex_``: complex double arithmetic, ``evaluate_complex``)."""
    from symbolica import Expression, S

    def number(v):
        if v.is_Integer:
            return Expression.num(int(v))
        if v.is_Rational:
            return Expression.num(int(v.p)) / Expression.num(int(v.q))
        if v is sp.pi:
            return Expression.PI
        if v is sp.E:
            return Expression.E
        return Expression.num(float(v))

    ops = {
        "Add": lambda *a: functools.reduce(operator.add, a),
        "Mul": lambda *a: functools.reduce(operator.mul, a),
        "Pow": lambda b, e, _: b**e,
        "ImaginaryUnit": lambda: Expression.I,  # an atom with no arguments: convert calls it
        **{n: getattr(Expression, n) for n in ELEMENTARY.split()},
    }

    def leaf(s):
        return S(s.name)

    fs = convert(exprs, leaf, number, ops)
    xs = [leaf(s) for s in x]
    entries = [fs[i].derivative(xs[j]) for i, j in _pattern_entries(*pattern)]
    params = [*xs, *(leaf(s) for s in p)]
    ev = Expression.evaluator_multiple(entries, params, n_cores=1, jit_compile=True)
    evaluate = ev.evaluate_complex if complex_ else ev.evaluate

    def single(pt, par):
        return evaluate(np.concatenate([pt, par])[None, :])[0]

    def batch(pts, par):
        return evaluate(_with_params(pts, par))

    return Tool(single, batch)


def _casadi_function(exprs, x, p, pattern, name="J"):
    """A CasADi SX Function (x, p) -> the nonzeros in symjac's order, differentiated by CasADi."""
    import casadi as ca

    xs, ps = ca.SX.sym("x", len(x)), ca.SX.sym("p", len(p))
    leaves = {s: xs[i] for i, s in enumerate(x)} | {s: ps[i] for i, s in enumerate(p)}

    ops = {
        "Add": lambda *a: functools.reduce(operator.add, a),
        "Mul": lambda *a: functools.reduce(operator.mul, a),
        "Pow": lambda b, e, _: b**e,  # a constant exponent is a float: x**2 becomes sq(x)
        **_functions(ca, ELEMENTARY),
    }
    f = ca.vertcat(*convert(exprs, leaves.__getitem__, float, ops))
    jac = ca.jacobian(f, xs)
    rows, cols = jac.sparsity().get_triplet()
    where = {(r, c): k for k, (r, c) in enumerate(zip(rows, cols))}
    nz = jac.nonzeros()
    picked = [nz[where[ij]] if ij in where else ca.SX(0) for ij in _pattern_entries(*pattern)]
    return ca.Function(name, [xs, ps], [ca.densify(ca.vertcat(*picked))])


def build_casadi(exprs, x, p, pattern) -> Tool:
    fn = _casadi_function(exprs, x, p, pattern)
    maps: dict[int, object] = {}

    def single(pt, par):
        return np.asarray(fn(pt, par)).ravel()

    def batch(pts, par):
        n = len(pts)
        if n not in maps:
            maps[n] = fn.map(n, "thread", 2)
        return np.asarray(maps[n](pts.T, np.asarray(par)[:, None])).T

    return Tool(single, batch)


CASADI_C_WRAPPER = """
#include "{name}.c"

/* a serial loop over points, each one call of the generated function */
int bench_work(casadi_int* sizes) {{
    return {name}_work(&sizes[0], &sizes[1], &sizes[2], &sizes[3]);
}}

int bench_batch(casadi_int n, const casadi_real* x, casadi_int nx, const casadi_real* p,
                casadi_real* out, casadi_int nout, const casadi_real** arg, casadi_real** res,
                casadi_int* iw, casadi_real* w) {{
    for (casadi_int i = 0; i < n; ++i) {{
        arg[0] = x + i * nx;
        arg[1] = p;
        res[0] = out + i * nout;
        if ({name}(arg, res, iw, w, 0)) return 1;
    }}
    return 0;
}}
"""


def build_casadi_c(exprs, x, p, pattern, gcc_timeout: float = 900.0) -> Tool:
    import casadi as ca

    name = "jac_nz"
    fn = _casadi_function(exprs, x, p, pattern, name)
    work = Path(tempfile.mkdtemp(prefix="casadi_c_"))
    gen = ca.CodeGenerator(f"{name}.c", {"with_header": False})
    gen.add(fn)
    gen.generate(str(work) + os.sep)
    (work / "wrapper.c").write_text(CASADI_C_WRAPPER.format(name=name))
    lib = work / f"lib{name}.so"
    cmd = ["gcc", "-O3", "-march=native", "-shared", "-fPIC", "-o", str(lib), "wrapper.c", "-lm"]
    t0 = time.perf_counter()
    subprocess.run(cmd, cwd=work, check=True, timeout=gcc_timeout, capture_output=True)
    gcc_seconds = time.perf_counter() - t0
    so = ctypes.CDLL(str(lib))
    c_bytes = (work / f"{name}.c").stat().st_size
    shutil.rmtree(work)  # the loaded library stays mapped
    sizes = np.zeros(4, dtype=np.int64)
    so.bench_work(ctypes.c_void_p(sizes.ctypes.data))
    arg = np.zeros(max(int(sizes[0]), 2), dtype=np.uintp)
    res = np.zeros(max(int(sizes[1]), 1), dtype=np.uintp)
    iw = np.zeros(max(int(sizes[2]), 1), dtype=np.int64)
    w = np.zeros(max(int(sizes[3]), 1))
    kernel = so.bench_batch
    kernel.restype = ctypes.c_int
    kernel.argtypes = [ctypes.c_longlong, ctypes.c_void_p, ctypes.c_longlong, ctypes.c_void_p]
    kernel.argtypes += [ctypes.c_void_p, ctypes.c_longlong] + [ctypes.c_void_p] * 4
    scratch = (arg.ctypes.data, res.ctypes.data, iw.ctypes.data, w.ctypes.data)
    nx, nnz = len(x), len(pattern[0])
    dummy = np.zeros(1)
    buffer = np.empty(nnz)

    def run(pts, par, out):
        pts = np.ascontiguousarray(pts, dtype=float)
        par = np.ascontiguousarray(par, dtype=float) if len(par) else dummy
        n = 1 if pts.ndim == 1 else len(pts)
        if kernel(n, pts.ctypes.data, nx, par.ctypes.data, out.ctypes.data, nnz, *scratch):
            raise RuntimeError("the CasADi function reported an error")
        return out

    def single(pt, par):
        return run(pt, par, buffer)

    def batch(pts, par):
        return run(pts, par, np.empty((len(pts), nnz)))

    info = {"gcc_s": gcc_seconds, "c_bytes": c_bytes}
    return Tool(single, batch, run, info)


def build_jax(exprs, x, p, pattern) -> Tool:
    """``jit(vmap(jacfwd(f)))`` on the function lambdified to jax.numpy, nonzeros taken after."""
    if len(exprs) * len(x) > JAX_MAX_ENTRIES:
        raise Skipped(f"dense Jacobian of m·n = {len(exprs) * len(x)} > {JAX_MAX_ENTRIES} entries")
    import jax

    jax.config.update("jax_enable_x64", True)
    import jax.numpy as jnp

    f = sp.lambdify([x, p], list(exprs), modules="jax", cse=True)
    rows, cols = (np.asarray(a) for a in pattern)

    def entries(pt, par):
        return jax.jacfwd(lambda v: jnp.stack(f(list(v), list(par))))(pt)[rows, cols]

    one = jax.jit(entries)
    many = jax.jit(jax.vmap(entries, in_axes=(0, None)))
    dense_bytes = 8 * len(exprs) * len(x)

    def single(pt, par):
        return np.asarray(one(pt, par))

    def batch(pts, par):
        if len(pts) * dense_bytes > JAX_MAX_DENSE_BYTES:
            raise MemoryError(f"jacfwd would build {len(pts) * dense_bytes / 1e9:.0f} GB")
        return np.asarray(many(pts, par))

    return Tool(single, batch)


PEERS: dict[str, Callable[..., Tool]] = {
    "sympy": build_sympy,
    "symengine": build_symengine,
    "symbolica": build_symbolica,
    "casadi": build_casadi,
    "casadi_c": build_casadi_c,
    "jax": build_jax,
}


def _installed(tools: list[str]) -> list[str]:
    return [t for t in tools if t == "symjac" or importlib.util.find_spec(MODULES[t]) is not None]


def build(tool: str, exprs, x, p, pattern, pt, par, pts) -> Tool:
    """Build ``tool`` and evaluate it once at a point and once on a small batch (all of it is
    the compile: JIT compilers compile on the first call)."""
    made = build_symjac(exprs, x, p) if tool == "symjac" else PEERS[tool](exprs, x, p, pattern)
    made.single(pt, par)
    made.batch(pts, par)
    return made


# --------------------------------------------------------------------------------------------
# Timing
# --------------------------------------------------------------------------------------------


def interleaved(
    cases: dict[str, Callable[[], object]], reps: int, sample: float, slow: float
) -> tuple[dict[str, float], set[str], dict[str, str]]:
    """Seconds per call of each case: the minimum over ``reps`` interleaved repetitions.

    Each repetition times every case once (``number`` calls, about ``sample`` seconds), the
    order rotating between repetitions. A case whose single call takes over ``slow`` seconds is
    timed twice only and returned in the second set; one that raises, in the third (with why).
    """
    best: dict[str, float] = {}
    number: dict[str, int] = {}
    slow_ones: set[str] = set()
    failed: dict[str, str] = {}
    for name, fn in cases.items():
        try:
            fn()  # warm-up
        except Exception as exc:  # e.g. a peer out of memory on a big batch
            failed[name] = f"failed: {type(exc).__name__}"
            continue
        t0 = time.perf_counter()
        fn()
        once = max(time.perf_counter() - t0, 1e-8)
        best[name] = once
        if once > slow:
            slow_ones.add(name)
        number[name] = max(1, int(sample / once))
    order = [n for n in best if n not in slow_ones]
    for rep in range(reps):
        k = rep % len(order) if order else 0
        for name in order[k:] + order[:k]:
            fn, count = cases[name], number[name]
            t0 = time.perf_counter()
            for _ in range(count):
                fn()
            best[name] = min(best[name], (time.perf_counter() - t0) / count)
    return best, slow_ones, failed


def agree(got: np.ndarray, expect: np.ndarray) -> float:
    """The largest error relative to max(|expect|, 1e-300) scaled by the array's magnitude."""
    got, expect = np.asarray(got, dtype=float), np.asarray(expect, dtype=float)
    if got.shape != expect.shape:
        return float("inf")
    scale = np.maximum(np.abs(expect), 1e-3 * max(float(np.abs(expect).max()), 1e-300))
    with np.errstate(invalid="ignore"):
        err = np.abs(got - expect) / scale
    return float(np.nanmax(err)) if np.isfinite(got).all() == np.isfinite(expect).all() else 1.0


TOLERANCE = 1e-9


# --------------------------------------------------------------------------------------------
# Fresh-process compile: a child process builds the SymPy model, then imports the tool and
# compiles (the import counted), and prints the seconds.
# --------------------------------------------------------------------------------------------


def fresh_child(tool: str, problem: str, pattern_file: str) -> None:
    """In a fresh process: build the SymPy model, then time import + compile + first calls.

    symjac writes its sparsity pattern to ``pattern_file``; a peer reads it from there.
    """
    exprs, x, p, scale = corpus_problems([problem])[problem]
    pattern = None
    if tool != "symjac":
        saved = json.loads(Path(pattern_file).read_text())
        pattern = (saved["rows"], saved["cols"])
    rng = np.random.default_rng(0)
    pt = rng.uniform(0.1, 1.0, len(x)) * scale
    par = rng.uniform(0.1, 1.0, len(p))
    pts = rng.uniform(0.1, 1.0, (16, len(x))) * scale
    t0 = time.perf_counter()
    try:
        made = build(tool, exprs, x, p, pattern, pt, par, pts)
    except Skipped as exc:
        print(json.dumps({"skipped": str(exc)}))
        return
    seconds = time.perf_counter() - t0
    if tool == "symjac":
        rows, cols = made.info["pattern"]
        Path(pattern_file).write_text(json.dumps({"rows": rows.tolist(), "cols": cols.tolist()}))
    print(json.dumps({"seconds": seconds}))


def fresh_compile(tool: str, problem: str, pattern_file: str, timeout: float) -> object:
    """Seconds of :func:`fresh_child` in a subprocess (or why there is no number)."""
    cmd = [sys.executable, __file__, "--fresh-child", tool, problem, pattern_file]
    try:
        out = subprocess.run(cmd, capture_output=True, text=True, timeout=timeout)
    except subprocess.TimeoutExpired:
        return f"> {timeout:.0f} s"
    if out.returncode:
        said = [ln.strip("│ ") for ln in (out.stderr + out.stdout).splitlines() if ln.strip("│ ")]
        return f"failed: exit {out.returncode}: {said[-1][:100] if said else ''}"
    said = json.loads(out.stdout.strip().splitlines()[-1])
    return said["seconds"] if "seconds" in said else f"skipped: {said['skipped']}"


def fresh_compiles(problems: list[str], tools: list[str], args) -> dict[str, dict[str, object]]:
    """Fresh-process compile of every (problem, tool), before this process starts any tool
    (the free Symbolica instance refuses a second process while one holds it)."""
    results: dict[str, dict[str, object]] = {}
    for name in problems:
        row = results.setdefault(name, {})
        with tempfile.TemporaryDirectory() as tmp:
            pattern_file = str(Path(tmp) / "pattern.json")
            row["symjac_fresh_compile"] = fresh_compile("symjac", name, pattern_file, args.timeout)
            if not isinstance(row["symjac_fresh_compile"], float):
                continue
            for tool in tools:
                if tool != "symjac" and tool in args.fresh_tools:
                    seconds = fresh_compile(tool, name, pattern_file, args.timeout)
                    row[f"{tool}_fresh_compile"] = seconds
        print(f"{name}: fresh-process compiles {row}", flush=True)
    return results


def symbolica_usable() -> str | None:
    """None if a Symbolica process can start now, else what it said."""
    code = "from symbolica import E; E('x + 1')"
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True)
    if out.returncode == 0:
        return None
    said = [ln.strip("│ ") for ln in (out.stderr + out.stdout).splitlines() if ln.strip("│ ")]
    return said[-1] if said else f"exit {out.returncode}"


# --------------------------------------------------------------------------------------------
# The benchmark
# --------------------------------------------------------------------------------------------


def _warm_up(tools: list[str], args) -> None:
    """Compile a small problem with every tool, so the timed compiles run in a warm process."""
    exprs, x, p, _ = corpus_problems(["robertson"])["robertson"]
    pt, par, pts = np.full(3, 0.5), np.full(3, 0.5), np.full((16, 3), 0.5)
    ref = build("symjac", exprs, x, p, None, pt, par, pts)
    for tool in tools:
        if tool != "symjac":
            try:
                build(tool, exprs, x, p, ref.info["pattern"], pt, par, pts)
            except Exception as exc:  # reported again on the real problems
                print(f"warm-up of {tool} failed: {exc!r}", file=sys.stderr)


def _timed_build(tool, exprs, x, p, pattern, pt, par, pts, repeats: int) -> tuple[Tool, float]:
    """Build ``tool``; rebuild while it is fast (up to ``repeats`` builds), keep the quickest."""
    best, made = float("inf"), None
    for _ in range(repeats):
        t0 = time.perf_counter()
        made = build(tool, exprs, x, p, pattern, pt, par, pts)
        best = min(best, time.perf_counter() - t0)
        if best > 1.0:
            break
    assert made is not None
    return made, best


def _threaded(jac, threads: int, fn: Callable[[], object]) -> Callable[[], object]:
    """``fn`` run with ``jac.threads = threads`` (set on every call: cases interleave)."""

    def call():
        jac.threads = threads
        return fn()

    return call


def _batches(
    made: dict[str, Tool], pts: np.ndarray, par: np.ndarray, slow_tools: set[str], args
) -> dict[str, object]:
    """Points per second of every case on the batch ``pts`` (or why there is no number).

    A tool that fails, disagrees or is slow here joins ``slow_tools`` (not run on larger sizes).
    """
    mine = made["symjac"]
    jac = mine.info["jac"]
    default_threads = jac.threads
    out = np.empty((len(pts), len(mine.info["pattern"][0])))
    out_mine = np.empty_like(out)
    expect = mine.batch(pts[:5], par)
    cases = {
        "symjac_1t": _threaded(jac, 1, lambda: mine.batch(pts, par)),
        "symjac_1t_out": _threaded(jac, 1, lambda: mine.batch_out(pts, par, out_mine)),
        "symjac": _threaded(jac, default_threads, lambda: mine.batch(pts, par)),
        "symjac_out": _threaded(jac, default_threads, lambda: mine.batch_out(pts, par, out_mine)),
    }
    result: dict[str, object] = {}
    for tool, t in made.items():
        if tool == "symjac" or tool in slow_tools:
            continue
        try:
            err = agree(t.batch(pts[:5], par), expect)
        except Exception as exc:
            result[tool] = f"failed: {type(exc).__name__}"
            slow_tools.add(tool)
            continue
        if not err <= TOLERANCE:
            result[tool] = f"disagrees: {err:.1e}"
            slow_tools.add(tool)
            continue
        cases[tool] = lambda t=t: t.batch(pts, par)
        if t.batch_out is not None:
            cases[f"{tool}_out"] = lambda t=t: t.batch_out(pts, par, out)
    cases["floor"] = lambda: out.fill(1.0)
    try:
        best, slow, failed = interleaved(cases, args.reps, args.sample, args.slow)
    finally:
        jac.threads = default_threads
    for case, seconds in best.items():
        result[case] = len(pts) / seconds
    for case, why in failed.items():
        result[case] = why
    for case in [*slow, *failed]:
        slow_tools.add(case.removesuffix("_out"))
    return result


def run_problem(name: str, problem, tools: list[str], args) -> dict[str, object]:
    exprs, x, p, scale = problem
    rng = np.random.default_rng(0)
    pt = rng.uniform(0.1, 1.0, len(x)) * scale
    par = rng.uniform(0.1, 1.0, len(p))
    small = rng.uniform(0.1, 1.0, (16, len(x))) * scale
    row: dict[str, object] = {"problem": name, "n": len(x), "m": len(exprs), "k": len(p)}
    mine, seconds = _timed_build("symjac", exprs, x, p, None, pt, par, small, args.compile_reps)
    jac = mine.info["jac"]
    pattern = mine.info["pattern"]
    nnz = len(pattern[0])
    row.update(nnz=nnz, symjac_compile=seconds)
    row["symjac_stages"] = {k: round(v, 4) for k, v in jac.stats.timings.items()}
    reference = mine.single(pt, par).copy()
    made: dict[str, Tool] = {"symjac": mine}
    for tool in tools:
        if tool == "symjac":
            continue
        try:
            made[tool], seconds = _timed_build(
                tool, exprs, x, p, pattern, pt, par, small, args.compile_reps
            )
        except Skipped as exc:
            row[f"{tool}_compile"] = f"skipped: {exc}"
            continue
        except Exception as exc:  # a peer that cannot handle a problem is reported, not fatal
            row[f"{tool}_compile"] = f"failed: {type(exc).__name__}: {str(exc)[:80]}"
            print(f"{name}: {tool} failed: {exc!r}"[:300], file=sys.stderr, flush=True)
            continue
        row[f"{tool}_compile"] = seconds
        for key, value in made[tool].info.items():
            row[f"{tool}_{key}"] = value
        err = max(
            agree(made[tool].single(pt, par), reference),
            agree(made[tool].batch(small, par), mine.batch(small, par)),
        )
        row[f"{tool}_max_rel_err"] = err
        if not err <= TOLERANCE:
            row[f"{tool}_compile"] = f"disagrees: relative error {err:.1e}"
            print(f"{name}: {tool} disagrees with symjac ({err:.1e})", file=sys.stderr)
            del made[tool]
    print(f"{name}: compiled", flush=True)

    # the first call on 1000 points: lazy builds (symjac's SIMD kernel, JAX's per-shape jit)
    first = rng.uniform(0.1, 1.0, (1000, len(x))) * scale
    for tool, t in made.items():
        t0 = time.perf_counter()
        try:
            t.batch(first, par)
            row[f"{tool}_first_batch_s"] = time.perf_counter() - t0
        except Exception as exc:
            row[f"{tool}_first_batch_s"] = f"failed: {type(exc).__name__}"
    # throughput in the steady state: symjac's SIMD build, which batches buy once they have
    # run long enough to pay for it (Kernels.for_batch), made now and its time reported
    if "symjac" in made:
        t0 = time.perf_counter()
        jac._kernels.batched()
        row["symjac_simd_build_s"] = time.perf_counter() - t0
        # ... and its trial against the one-lane kernels, which decides the one to keep
        deadline = time.perf_counter() + 10.0
        while not jac._kernels._kept and time.perf_counter() < deadline:
            made["symjac"].batch(first, par)
        row["symjac_simd_kept"] = bool(jac._kernels._kept and jac._kernels._kept[0])

    # single point
    cases = {t: (lambda t=t: made[t].single(pt, par)) for t in made}
    cases["symjac_call"] = lambda: jac(pt, par)
    scratch = np.empty_like(pt)
    cases["numpy_add"] = lambda: np.add(pt, pt, out=scratch)
    best, _, _ = interleaved(cases, args.reps, args.sample, args.slow)
    for t in made:
        row[f"{t}_latency_us"] = best[t] * 1e6
    row["symjac_call_us"] = best["symjac_call"] * 1e6
    row["numpy_add_us"] = best["numpy_add"] * 1e6

    # batches
    largest = max(1, MAX_OUTPUT_BYTES // (8 * nnz))
    slow_tools: set[str] = set()
    done: dict[int, dict[str, object]] = {}
    for size in args.sizes:
        points = min(size, largest)
        row[f"points_{size}"] = points
        if points not in done:
            pts = rng.uniform(0.1, 1.0, (points, len(x))) * scale
            done[points] = _batches(made, pts, par, slow_tools, args)
            print(f"{name}: {points} points done", flush=True)
        for case, value in done[points].items():
            row[f"{case}_{size}_pts_per_s"] = value
    KEPT.append(made)
    return row


def machine() -> dict[str, object]:
    cpu = platform.processor()
    try:
        for line in Path("/proc/cpuinfo").read_text().splitlines():
            if line.startswith("model name"):
                cpu = line.split(":", 1)[1].strip()
                break
    except OSError:
        pass
    from importlib import metadata

    versions = {}
    for dist in ("symjac", "sympy", "numpy", "llvmlite", "symengine", "symbolica", "casadi", "jax"):
        try:
            versions[dist] = metadata.version(dist)
        except metadata.PackageNotFoundError:
            versions[dist] = None
    gcc = subprocess.run(["gcc", "--version"], capture_output=True, text=True).stdout.split("\n")[0]
    git = ["git", "-C", str(HERE), "describe", "--always", "--dirty"]
    commit = subprocess.run(git, capture_output=True, text=True).stdout.strip()
    return {
        "commit": commit,  # the symjac being measured (an editable install: this checkout)
        "cpu": cpu,
        "cores": len(os.sched_getaffinity(0)),
        "python": platform.python_version(),
        "gcc": gcc,
        "versions": versions,
        "date": time.strftime("%Y-%m-%d %H:%M"),
    }


def problem_child(args) -> None:
    """One problem in its own process: warm every tool up, measure, write the row."""
    _warm_up(args.tools, args)
    name = args.problems[0]
    t0 = time.perf_counter()
    problem = corpus_problems([name])[name]
    print(f"{name}: SymPy model built in {time.perf_counter() - t0:.2f} s", flush=True)
    row = run_problem(name, problem, args.tools, args)
    args.problem_child.write_text(json.dumps(row))
    sys.stdout.flush()
    os._exit(0)  # no interpreter teardown: releasing the JITs' objects has crashed


def warm_process(name: str, tools: list[str], args) -> dict[str, object]:
    """Run :func:`problem_child` for ``name`` in a subprocess (a crash loses one problem, not
    the run). A process that crashes is retried once, then without JAX (JAX's compiles have
    segfaulted in a process holding all the tools: see ``KEPT``)."""
    attempts = [tools, tools] + ([[t for t in tools if t != "jax"]] if "jax" in tools else [])
    crashes = []
    for attempt in attempts:
        with tempfile.TemporaryDirectory() as tmp:
            out = Path(tmp) / "row.json"
            cmd = [sys.executable, "-X", "faulthandler", __file__, "--problems", name]
            cmd += ["--tools", *attempt, "--sizes", *map(str, args.sizes)]
            cmd += ["--reps", str(args.reps), "--sample", str(args.sample)]
            cmd += ["--slow", str(args.slow), "--compile-reps", str(args.compile_reps)]
            cmd += ["--problem-child", str(out)]
            done = subprocess.run(cmd)
            if done.returncode == 0 and out.exists():
                row = json.loads(out.read_text())
                if crashes:
                    row["crashes"] = crashes
                    if "jax" in tools and "jax" not in attempt:
                        row["jax_compile"] = "crashed: the process died twice with JAX in it"
                return row
        crashes.append(f"exit {done.returncode} with tools {' '.join(attempt)}")
        print(f"{name}: the measuring process failed ({crashes[-1]})", file=sys.stderr)
    return {"problem": name, "crashes": crashes}


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--problems", nargs="+", default=None, choices=list(CORPUS))
    parser.add_argument("--tools", nargs="+", default=None, choices=["symjac", *PEERS])
    parser.add_argument("--sizes", nargs="+", type=int, default=None)
    parser.add_argument("--quick", action="store_true", help="3 problems, 2 sizes, short budgets")
    parser.add_argument("--reps", type=int, default=None, help="interleaved repetitions")
    parser.add_argument("--sample", type=float, default=None, help="seconds per timed sample")
    parser.add_argument("--slow", type=float, default=1.0, help="a call over this: timed twice")
    parser.add_argument("--compile-reps", type=int, default=None, help="builds per compile time")
    parser.add_argument("--no-fresh", dest="fresh", action="store_false")
    parser.add_argument("--fresh-tools", nargs="+", default=None)
    parser.add_argument("--timeout", type=float, default=900.0, help="per fresh-process compile")
    parser.add_argument("--output", type=Path, default=HERE / "results" / "corpus.json")
    parser.add_argument("--fresh-child", nargs=3, help=argparse.SUPPRESS)
    parser.add_argument("--problem-child", type=Path, help=argparse.SUPPRESS)
    args = parser.parse_args()
    if args.fresh_child:
        fresh_child(*args.fresh_child)
        return
    if args.problem_child:
        problem_child(args)
        return
    quick = args.quick
    args.problems = args.problems or (QUICK_PROBLEMS if quick else list(CORPUS))
    args.sizes = sorted(args.sizes or ([1000, 10_000] if quick else [1000, 10_000, 100_000]))
    args.reps = args.reps or (3 if quick else 7)
    args.sample = args.sample or (0.005 if quick else 0.02)
    args.compile_reps = args.compile_reps or (1 if quick else 3)
    tools = _installed(args.tools or DEFAULT_TOOLS)
    if "symjac" not in tools:
        tools.insert(0, "symjac")
    # JAX is left out of the fresh-process compiles by default: its XLA compiles take a minute
    # on the dense problems, and its warm compile is reported anyway
    args.fresh_tools = args.fresh_tools or [t for t in tools if t not in ("sympy", "jax")]
    skipped = sorted(set(args.tools or DEFAULT_TOOLS) - set(tools))
    if skipped:
        print(f"not installed, skipped: {skipped}", file=sys.stderr)
    if "symbolica" in tools:
        refused = symbolica_usable()
        if refused:
            print(f"symbolica cannot start, not run: {refused}", file=sys.stderr)
            tools.remove("symbolica")
            NOTES["symbolica"] = f"not run: {refused}"
    meta = {"machine": machine(), "tools": tools, "sizes": args.sizes, "notes": NOTES}
    fresh = fresh_compiles(args.problems, tools, args) if args.fresh else {}
    results = []
    for name in args.problems:
        row = warm_process(name, tools, args)
        row.update(fresh.get(name, {}))
        results.append(row)
        print(json.dumps(row), flush=True)
        args.output.parent.mkdir(exist_ok=True)
        args.output.write_text(json.dumps({"meta": meta, "results": results}, indent=1))
    print()
    print(markdown(results, tools, args.sizes, meta))


# --------------------------------------------------------------------------------------------
# Tables
# --------------------------------------------------------------------------------------------


def _table(head: list[str], rows: list[list[str]]) -> list[str]:
    lines = ["| " + " | ".join(head) + " |", "|" + "---|" * len(head)]
    return lines + ["| " + " | ".join(r) + " |" for r in rows]


def _num(v: object) -> float | None:
    return float(v) if isinstance(v, (int, float)) and not isinstance(v, bool) else None


def _fmt(v: object, spec: str = "{:.3g}") -> str:
    x = _num(v)
    if x is not None:
        return spec.format(x)
    return "-" if v is None else str(v).split(":")[0]


def _ratio(a: object, b: object) -> str:
    x, y = _num(a), _num(b)
    return f"{x / y:.2f}" if x is not None and y else "-"


def markdown(
    results: list[dict[str, object]],
    tools: list[str],
    sizes: list[int],
    meta: dict[str, object] | None = None,
) -> str:
    """Compile, latency and throughput tables, absolute and as ratios symjac/peer."""
    peers = [t for t in tools if t != "symjac"]
    out: list[str] = []
    if meta:
        m = meta["machine"]
        out.append(
            f"Machine: {m['cpu']}, {m['cores']} cores; {m['date']}; symjac at {m.get('commit')};"
            f" {m['versions']}\n"
        )

    out.append("**Compile** (s): SymPy expressions → first point and first 16-point batch; warm")
    out.append("process (`w`) and fresh process, import included (`f`).\n")
    head = ["problem", "n", "m", "nnz"]
    head += [f"{t} {k}" for t in tools for k in ("w", "f")]
    rows = []
    for r in results:
        cells = [str(r["problem"])] + [str(r.get(k, "-")) for k in ("n", "m", "nnz")]
        for t in tools:
            cells += [_fmt(r.get(f"{t}_compile")), _fmt(r.get(f"{t}_fresh_compile"))]
        rows.append(cells)
    out += _table(head, rows)

    out.append("\n**First call on 1000 points** (s; includes builds done on first use).\n")
    head = ["problem", *tools]
    rows = [
        [str(r["problem"])] + [_fmt(r.get(f"{t}_first_batch_s")) for t in tools] for r in results
    ]
    out += _table(head, rows)

    out.append("\n**Single point** (µs): symjac `jac.values(x, p, out=buf)`; `jac(x,p)` dense.\n")
    head = ["problem", *tools, "symjac jac(x,p)", "np.add"]
    rows = []
    for r in results:
        cells = [str(r["problem"])] + [_fmt(r.get(f"{t}_latency_us")) for t in tools]
        cells += [_fmt(r.get("symjac_call_us")), _fmt(r.get("numpy_add_us"))]
        rows.append(cells)
    out += _table(head, rows)

    variants = ["symjac_1t", "symjac_1t_out", "symjac", "symjac_out"]
    variants += [v for t in peers for v in (t, f"{t}_out")]
    variants = [
        v for v in variants if any(f"{v}_{s}_pts_per_s" in r for r in results for s in sizes)
    ]
    label = {"symjac_1t": "symjac 1t", "symjac_1t_out": "symjac 1t out=", "symjac": "symjac def"}
    label["symjac_out"] = "symjac def out="
    for size in sizes:
        out.append(f"\n**Throughput at N = {size}** (M points/s; `out=`: preallocated output).\n")
        head = ["problem", "N"] + [label.get(v, v.replace("_out", " out=")) for v in variants]
        head.append("store floor")
        rows = []
        for r in results:
            cells = [str(r["problem"]), str(r.get(f"points_{size}", size))]
            for v in [*variants, "floor"]:
                x = _num(r.get(f"{v}_{size}_pts_per_s"))
                cells.append(
                    _fmt(x / 1e6) if x is not None else _fmt(r.get(f"{v}_{size}_pts_per_s"))
                )
            rows.append(cells)
        out += _table(head, rows)

    out.append("\n**Ratios symjac/peer**, compile and one point: symjac's time / the peer's")
    out.append("(< 1: symjac faster; `f`: fresh process).\n")
    fresh_peers = [t for t in peers if any(f"{t}_fresh_compile" in r for r in results)]
    head = ["problem"] + [f"compile ÷{t}" for t in peers] + [f"compile f ÷{t}" for t in fresh_peers]
    head += [f"1-pt ÷{t}" for t in peers]
    rows = []
    for r in results:
        cells = [str(r["problem"])]
        cells += [_ratio(r.get("symjac_compile"), r.get(f"{t}_compile")) for t in peers]
        cells += [
            _ratio(r.get("symjac_fresh_compile"), r.get(f"{t}_fresh_compile")) for t in fresh_peers
        ]
        cells += [_ratio(r.get("symjac_latency_us"), r.get(f"{t}_latency_us")) for t in peers]
        rows.append(cells)
    out += _table(head, rows)

    out.append("\n**Throughput ratios symjac/peer**: symjac's points/s (default threads, no")
    out.append("`out=`) / the peer's (no `out=`) (> 1: symjac faster);")
    out.append("`def/1t`: symjac's default threads / one thread (with `out=`); `floor`: symjac")
    out.append("(one thread, `out=`) / the store floor.\n")
    head = ["problem"] + [f"N={s} ÷{t}" for s in sizes for t in peers]
    head += [f"def/1t N={s}" for s in sizes] + [f"floor N={s}" for s in sizes]
    rows = []
    for r in results:
        cells = [str(r["problem"])]
        for s in sizes:
            for t in peers:
                cells.append(_ratio(r.get(f"symjac_{s}_pts_per_s"), r.get(f"{t}_{s}_pts_per_s")))
        for s in sizes:
            a, b = r.get(f"symjac_out_{s}_pts_per_s"), r.get(f"symjac_1t_out_{s}_pts_per_s")
            cells.append(_ratio(a, b))
        for s in sizes:
            a, b = r.get(f"symjac_1t_out_{s}_pts_per_s"), r.get(f"floor_{s}_pts_per_s")
            cells.append(_ratio(a, b))
        rows.append(cells)
    out += _table(head, rows)
    out.append("\nHow each tool runs:\n")
    out += [f"* {t}: {NOTES[t]}" for t in tools]
    return "\n".join(out)


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


if __name__ == "__main__":
    main()
