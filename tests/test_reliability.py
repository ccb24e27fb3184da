"""Reliability that comes with speed: threads, memory, fork, pickling, SIMD consistency.

* the same compiled object called from 16 threads at once gives the serial results;
* compiling and dropping hundreds of kernels keeps native memory bounded;
* compiled objects work in forked children and pickle to spawned ones;
* SIMD kernels: without libmvec they equal the scalar kernels bit for bit; with it, a
  point's result is the same bits alone or anywhere in a batch, and libmvec stays within
  its documented 4 ulp of mpmath;
* the native one-point methods pass anything unusual, untouched, to the Python path; they
  return the right objects with the right reference counts and keep their engine alive.
"""

from __future__ import annotations

import gc
import multiprocessing
import pickle
import sys
import threading
import weakref

import mpmath
import numpy as np
import pytest
import sympy as sp
from reference import mp_to_float, ulp_distance
from symjac.codegen.llvm.build import Build, build_kernels
from symjac.codegen.llvm.jit import host_vector

import symjac
from symjac.ir.graph import Graph
from symjac.ir.ops import INFO, Op
from symjac.ir.tape import KernelSpec, Tape
from symjac.passes.rules import rewrite

X = sp.symbols("x0:6", real=True)
K = sp.Symbol("k", real=True)
EXPRS = [
    sp.sin(X[0] * X[1]) + K * X[2] ** 2,
    sp.exp(-X[1]) * sp.cos(X[3]) - X[4] / (1 + X[5] ** 2),
    sp.tanh(X[0] + X[5]) * sp.log(1 + X[2] ** 2),
    sp.atan2(X[3], 1 + X[4] ** 2) + sp.sqrt(1 + X[0] ** 2),
]


@pytest.fixture(scope="module")
def jac():
    return symjac.jacobian(EXPRS, X, [K], sparse=False)


def _points(n: int, seed: int = 0) -> np.ndarray:
    return np.random.default_rng(seed).uniform(-2, 2, (n, len(X)))


# -- threads ----------------------------------------------------------------------------------


def test_sixteen_threads_at_once_give_the_serial_results(jac):
    pts = _points(40_000)
    jac.threads = 1
    serial_batch = jac.values(pts, [0.3])
    serial_points = np.array([jac.values(pt, [0.3]) for pt in pts[:200]])
    jac.threads = 2
    results: dict[int, tuple[np.ndarray, np.ndarray]] = {}
    barrier = threading.Barrier(16)

    def work(t: int) -> None:
        batch_out = np.empty_like(serial_batch)
        point_out = np.empty_like(serial_points)
        p = np.array([0.3])
        barrier.wait()
        for _ in range(3):
            jac.values(pts, p, out=batch_out)
            for i in range(len(point_out)):
                jac.values(pts[i], p, out=point_out[i])
        results[t] = (batch_out, point_out)

    threads = [threading.Thread(target=work, args=(t,)) for t in range(16)]
    for th in threads:
        th.start()
    for th in threads:
        th.join()
    assert len(results) == 16
    for batch_out, point_out in results.values():
        np.testing.assert_array_equal(batch_out, serial_batch)
        np.testing.assert_array_equal(point_out, serial_points)


# -- memory -----------------------------------------------------------------------------------


def _rss_mb() -> float:
    with open("/proc/self/statm") as f:
        return int(f.read().split()[1]) * 4096 / 1e6


def test_compiling_and_dropping_kernels_keeps_memory_bounded():
    g = Graph(rewrite)
    x = g.var(0)
    tape = Tape.from_graph(g, [g.sin(g.mul(x, x)), g.call(Op.EXP, x)], 1, 0)
    specs = [KernelSpec("f", tape, 2, (0, 1))]
    probe = build_kernels(specs, Build())
    alive = weakref.ref(probe.jit)
    del probe
    gc.collect()
    assert alive() is None  # the JIT module (and its engine) is freed with its kernels

    def compile_and_call(times: int) -> float:
        for _ in range(times):
            k = build_kernels(specs, Build())
            out = np.empty(2)
            assert k.native("f", _no_fallback)(np.array([0.5]), out=out) is out
        del k
        gc.collect()
        return _rss_mb()

    # RSS rises by ~50 MB over the first couple of hundred compiles and calls (allocator
    # arenas, LLVM's interned types, ...) and then grows only slowly: measure that slope
    before = compile_and_call(300)
    growth = compile_and_call(400) - before
    # measured ~5.6 KB per compile (LLVM's instcombine, llvmlite 0.50): ~2.2 MB here; LLVM's
    # O3 pipeline, which leaks 50-80 KB per compile, would grow by 20-32 MB
    assert growth < 10, f"native memory grew {growth:.1f} MB over 400 compiles"


# -- processes and pickling -------------------------------------------------------------------

_INHERITED = {}


def _evaluate_inherited(seed: int) -> np.ndarray:
    return _INHERITED["jac"].values(_points(50, seed), [0.3])


def _evaluate_given(args) -> np.ndarray:
    compiled, seed = args
    return compiled.values(_points(50, seed), [0.3])


def test_kernels_survive_fork(jac):
    if "fork" not in multiprocessing.get_all_start_methods():
        pytest.skip("no fork on this platform")
    _INHERITED["jac"] = jac
    with multiprocessing.get_context("fork").Pool(2) as pool:
        got = pool.map(_evaluate_inherited, [1, 2, 3])
    for seed, values in zip([1, 2, 3], got):
        np.testing.assert_array_equal(values, jac.values(_points(50, seed), [0.3]))


def test_kernels_pickle_to_spawned_workers(jac):
    with multiprocessing.get_context("spawn").Pool(1) as pool:
        got = pool.map(_evaluate_given, [(jac, 4), (jac, 5)])
    for seed, values in zip([4, 5], got):
        np.testing.assert_array_equal(values, jac.values(_points(50, seed), [0.3]))


def test_every_kind_of_compiled_object_round_trips_through_pickle(jac):
    x = _points(9)
    objects = [
        (jac, lambda c: c.values(x, [0.3])),
        (symjac.function(EXPRS, X, [K]), lambda c: c(x, [0.3])),
        (symjac.function_and_jacobian(EXPRS, X, [K]), lambda c: c.values(x[0], [0.3])[1]),
        (symjac.hessian(EXPRS[0], X, [K]), lambda c: c.values(x, [0.3])),
    ]
    for compiled, evaluate in objects:
        clone = pickle.loads(pickle.dumps(compiled))
        np.testing.assert_array_equal(evaluate(clone), evaluate(compiled))
    clone = pickle.loads(pickle.dumps(jac))
    v, w = np.linspace(-1, 1, len(X)), np.linspace(1, 2, len(EXPRS))
    np.testing.assert_array_equal(clone.jvp(x[0], v, [0.3]), jac.jvp(x[0], v, [0.3]))
    np.testing.assert_array_equal(clone.vjp(x[0], w, [0.3]), jac.vjp(x[0], w, [0.3]))


# -- SIMD consistency -------------------------------------------------------------------------


@pytest.mark.parametrize("n", [1, 7, 8, 9, 17, 100])
def test_simd_without_libmvec_equals_scalar_bit_for_bit(n):
    pts = _points(n, n)
    scalar = symjac.jacobian(EXPRS, X, [K], simd=False, sparse=False)
    lanes = symjac.jacobian(EXPRS, X, [K], vector_libm=False, sparse=False)
    np.testing.assert_array_equal(lanes.values(pts, [0.7]), scalar.values(pts, [0.7]))
    np.testing.assert_array_equal(lanes.dense(pts, [0.7]), scalar.dense(pts, [0.7]))


def test_a_points_bits_do_not_depend_on_its_place_in_the_batch(jac):
    pts = _points(37, 9)
    whole = jac.values(pts, [0.3])
    for k in (1, 3, 8, 13):
        np.testing.assert_array_equal(jac.values(pts[k:], [0.3]), whole[k:])
    for i in range(len(pts)):
        np.testing.assert_array_equal(jac.values(pts[i], [0.3]), whole[i])


def test_outlined_simd_bodies_equal_scalar_bit_for_bit():
    # a tape far over the 256-instruction chunk size: outlined chunks, spills, staging
    xs = sp.symbols("y0:12", real=True)
    exprs = [sp.sin(xs[i] * xs[(i + 1) % 12]) * sp.exp(xs[(i + 5) % 12] / 3) for i in range(12)]
    exprs = [e + sum(sp.cos(xs[j] + i) for j in range(12)) for i, e in enumerate(exprs)]
    scalar = symjac.jacobian(exprs, xs, simd=False, sparse=False)
    lanes = symjac.jacobian(exprs, xs, vector_libm=False, sparse=False)
    assert scalar.stats.sizes["tape"] > 256
    for n in (1, 8, 9, 31):
        pts = np.random.default_rng(n).uniform(-1, 1, (n, 12))
        np.testing.assert_array_equal(lanes.dense(pts), scalar.dense(pts))
        np.testing.assert_array_equal(lanes.values(pts), scalar.values(pts))


_MP = {
    Op.EXP: (mpmath.exp, -700, 700),
    Op.LOG: (mpmath.log, 1e-300, 1e300),
    Op.SIN: (mpmath.sin, -1e4, 1e4),
    Op.COS: (mpmath.cos, -1e4, 1e4),
    Op.TAN: (mpmath.tan, -1e3, 1e3),
    Op.ASIN: (mpmath.asin, -1, 1),
    Op.ATAN: (mpmath.atan, -1e6, 1e6),
    Op.SINH: (mpmath.sinh, -700, 700),
    Op.TANH: (mpmath.tanh, -20, 20),
    Op.ASINH: (mpmath.asinh, -1e6, 1e6),
    Op.ERF: (mpmath.erf, -6, 6),
    Op.ACOS: (mpmath.acos, -1, 1),
    Op.COSH: (mpmath.cosh, -700, 700),
    Op.ACOSH: (mpmath.acosh, 1, 1e300),
    Op.ATANH: (mpmath.atanh, -1, 1),
    Op.ERFC: (mpmath.erfc, -6, 26),
    Op.EXPM1: (mpmath.expm1, -700, 700),
    Op.LOG1P: (mpmath.log1p, 1e-300, 1e300),
    Op.EXP2: (lambda v: mpmath.power(2, v), -1000, 1000),
    Op.LOG2: (lambda v: mpmath.log(v, 2), 1e-300, 1e300),
    Op.LOG10: (mpmath.log10, 1e-300, 1e300),
    Op.CBRT: (lambda v: mpmath.sign(v) * mpmath.cbrt(abs(v)), -1e300, 1e300),  # the real root
}


def test_every_vector_function_of_the_op_table_is_checked_against_mpmath():
    vector = {op for op, info in INFO.items() if info.vector and info.arity == 1}
    assert vector <= set(_MP), sorted(op.name for op in vector - set(_MP))


@pytest.mark.skipif(not host_vector()[1], reason="this host has no usable libmvec")
@pytest.mark.parametrize("op", list(_MP), ids=lambda op: op.name)
def test_libmvec_within_four_ulp_of_mpmath(op):
    f, lo, hi = _MP[op]
    rng = np.random.default_rng(op.value)
    if lo > 0:
        pts = np.exp(rng.uniform(np.log(lo), np.log(hi), 400))
    else:
        pts = rng.uniform(lo, hi, 400) * 10.0 ** rng.uniform(-6, 0, 400)
    g = Graph(rewrite)
    tape = Tape.from_graph(g, [g.make(op, (g.var(0),))], 1, 0)
    kernels = build_kernels([KernelSpec("f", tape, 1, (0,))], Build())
    assert "_ZGV" in kernels.jit.optimised_ir()  # the vector library really is called
    out = np.empty((len(pts), 1))
    kernels.jit.kernel("f")(pts.ctypes.data, None, out.ctypes.data, len(pts), 0, None)
    with mpmath.workdps(40):
        ref = np.array([mp_to_float(f(mpmath.mpf(float(v)))) for v in pts])
    assert int(ulp_distance(out[:, 0], ref).max()) <= 4


# -- the native one-point methods ------------------------------------------------------------


def _no_fallback(*args, **kwargs):
    raise AssertionError(f"the native method declined {args!r} {kwargs!r}")


class _Recorder:
    """A fallback that records what it was given."""

    def __init__(self):
        self.calls = []

    def __call__(self, *args, **kwargs):
        self.calls.append((args, kwargs))
        return "fallback"


def _native(jac, fallback):
    return jac._kernels.native("values", fallback)


def test_native_method_runs_one_exact_point(jac):
    native = _native(jac, _no_fallback)
    good_x, good_p = _points(1)[0], np.array([0.3])
    expected = jac.values(good_x.tolist(), 0.3)
    np.testing.assert_array_equal(native(good_x, good_p), expected)
    out = np.full(jac.nnz, -7.0)
    assert native(good_x, good_p, out=out) is out
    np.testing.assert_array_equal(out, expected)
    # references: a fresh result is owned by the caller alone; out= gains exactly one
    fresh = native(good_x, good_p)
    assert sys.getrefcount(fresh) == 2
    before = sys.getrefcount(out)
    kept = [native(good_x, good_p, out=out) for _ in range(100)]
    assert sys.getrefcount(out) == before + 100
    del kept
    assert sys.getrefcount(out) == before


def test_native_method_passes_unusual_calls_on_untouched(jac):
    good_x, good_p = _points(1)[0], np.array([0.3])
    buffer = np.zeros(jac.nnz + len(X))
    frozen = np.full(jac.nnz, -7.0)
    frozen.flags.writeable = False
    cases = [
        ((good_x.astype(np.float32), good_p), None),
        ((_points(2)[:, 0], good_p), None),
        ((np.concatenate([good_x, good_x])[::2], good_p), None),
        ((good_x[None, :], good_p), None),
        ((good_x.tolist(), good_p), None),
        ((good_x, np.array([0.3, 0.4])), None),
        ((good_x, [0.3]), None),
        ((good_x, None), None),
        ((good_x,), None),
        ((good_x, good_p), np.full(jac.nnz + 1, -7.0)),
        ((good_x, good_p), np.full(jac.nnz, -7.0, dtype=np.float32)),
        ((good_x, good_p), np.full(2 * jac.nnz, -7.0)[::2]),
        ((good_x, good_p), np.full((1, jac.nnz), -7.0)),
        ((buffer[: len(X)], good_p), buffer[2 : 2 + jac.nnz]),  # out overlaps x
        ((good_x, good_p), frozen),
    ]
    for args, bad_out in cases:
        target = np.full(jac.nnz, -7.0) if bad_out is None else bad_out
        before = target.copy()
        recorder = _Recorder()
        assert _native(jac, recorder)(*args, out=target) == "fallback", args
        assert len(recorder.calls) == 1
        passed, kwargs = recorder.calls[0]
        assert len(passed) == len(args) and all(a is b for a, b in zip(passed, args))
        assert kwargs == {"out": target} and kwargs["out"] is target
        np.testing.assert_array_equal(target, before)
    # calls the native method does not parse: other keywords, too many arguments, none
    for args, kwargs in [
        ((good_x,), {"p": good_p}),
        ((good_x, good_p), {"output": None}),
        ((good_x, good_p, None), {}),
        ((), {}),
        ((good_x, good_p), {"out": None, "p": good_p}),
    ]:
        recorder = _Recorder()
        assert _native(jac, recorder)(*args, **kwargs) == "fallback"
        assert recorder.calls == [(args, kwargs)]


def test_native_method_of_a_kernel_without_parameters():
    x, y = sp.symbols("x y")
    f = symjac.function([x * y, x + y], wrt=[x, y], cache=False)
    native = f._kernels.native("function", _Recorder())
    pt = np.array([2.0, 3.0])
    assert native(pt).tolist() == [6.0, 5.0]
    assert native(pt, None).tolist() == [6.0, 5.0]
    assert native(pt, np.empty(0)).tolist() == [6.0, 5.0]
    assert native(pt, np.ones(1)) == "fallback"


def test_native_method_keeps_its_engine_alive():
    x = sp.Symbol("x")
    f = symjac.function([x * x + 1], wrt=[x], cache=False)
    native = f._kernels.native("function", _no_fallback)
    engine = weakref.ref(f._kernels.jit)
    del f
    gc.collect()
    assert engine() is not None
    assert native(np.array([0.5])).tolist() == [1.25]
    del native
    gc.collect()
    assert engine() is None


def test_native_method_with_a_scratch_buffer_from_many_threads(monkeypatch):
    # small chunks spill registers, and a frame of any size goes to the work buffer: the
    # native method must take its buffer atomically (the batch path uses per-thread ones)
    monkeypatch.setattr("symjac.codegen.llvm.build.FAST_CODEGEN", 0)
    monkeypatch.setattr("symjac.codegen.llvm.build.ONE_LANE_CHUNK", 8)
    monkeypatch.setattr("symjac.codegen.llvm.build.FAST_CHUNK", 8)
    monkeypatch.setattr("symjac.passes.chunks.STACK_WORK", 0)
    jac = symjac.jacobian(EXPRS, X, [K], cache=False)
    assert jac._kernels.work_sizes["values"] > 0
    pts = np.concatenate([_points(1, seed=3)[0], [0.3]])[:7]
    pts, k = pts[:6], pts[6:]
    expected = jac.values(pts[None, :], k)[0]
    results = []

    def worker():
        results.append([jac.values(pts, k) for _ in range(300)])

    threads = [threading.Thread(target=worker) for _ in range(4)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    for batch in results:
        for r in batch:
            np.testing.assert_array_equal(r, expected)


def test_the_public_call_still_validates(jac):
    good_x, good_p = _points(1)[0], np.array([0.3])
    buffer = np.zeros(jac.nnz + len(X))
    frozen = np.full(jac.nnz, -7.0)
    frozen.flags.writeable = False
    np.testing.assert_array_equal(
        jac.values(good_x.astype(np.float32), good_p),
        jac.values(good_x.astype(np.float32).astype(float), good_p),
    )
    with pytest.raises(ValueError):
        jac.values(good_x, good_p, out=np.empty(jac.nnz + 1))
    with pytest.raises((TypeError, ValueError)):
        jac.values(good_x, good_p, out=frozen)
    with pytest.raises(ValueError):
        jac.values(buffer[: len(X)], good_p, out=buffer[2 : 2 + jac.nnz])


def test_without_native_methods_every_call_takes_the_python_path(monkeypatch):
    # an object layout the native code does not know (another NumPy or CPython): same results
    x, y, a = sp.symbols("x y a")
    exprs = [a * sp.sin(x) * y, sp.exp(x - y)]
    with_native = symjac.jacobian(exprs, [x, y], [a], cache=False)
    monkeypatch.setattr("symjac.codegen.llvm.pyabi.layout_ok", lambda: False)
    without = symjac.jacobian(exprs, [x, y], [a], cache=False)
    assert without._kernels.native("values", _no_fallback) is None
    pt, p = np.array([0.3, -1.2]), np.array([2.0])
    out = np.empty(without.nnz)
    assert without.values(pt, p, out=out) is out
    np.testing.assert_array_equal(out, with_native.values(pt, p))
    np.testing.assert_array_equal(without(pt, p), with_native(pt, p))
    assert without._natives == {"values": None, "dense": None}
