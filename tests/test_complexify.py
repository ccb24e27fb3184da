"""The complex → real lowering (``symjac.passes.complexify``) against independent references.

* Special values and signs of zero: C99 Annex G as implemented by glibc's ``<complex.h>``
  (a small C program, compiled here) and Python's ``cmath`` (which follows Annex G's
  tables but raises where C signals invalid/overflow). A result passes when it matches
  either, bit for bit up to NaN payloads; where Annex G writes the sign of a zero or an
  infinity as "±" — always next to a NaN in the other part — only the magnitude counts.
* Multiplication and division: GCC's ``__muldc3``/``__divdc3`` (C's ``z * w``, ``z / w``).
* Accuracy: mpmath with enough working digits for 30 correct ones in each part.

Every lowered tape is run three ways: the reference interpreter (``symjac.ir.scalar``), the
JIT with the scalar C library, and the JIT's SIMD build with glibc's vector library.
"""

from __future__ import annotations

import cmath
import ctypes
import functools
import math
import shutil
import subprocess

import mpmath
import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st
from symjac.codegen.llvm.build import Build, build_kernels

from symjac.ir import scalar
from symjac.ir.graph import Graph
from symjac.ir.ops import INFO, LEAVES, Op
from symjac.ir.tape import KernelSpec, Tape
from symjac.passes.complexify import LOWERINGS, lower_complex

inf, nan = math.inf, math.nan
ULP = 2.0**-52
DBL_MAX = 1.7976931348623157e308
CC = shutil.which("cc") or shutil.which("gcc")
needs_cc = pytest.mark.skipif(CC is None, reason="no C compiler (cc or gcc) on PATH")

#: op → (glibc function, cmath function, mpmath function)
FUNCTIONS = {
    Op.SQRT: ("csqrt", cmath.sqrt, mpmath.sqrt),
    Op.EXP: ("cexp", cmath.exp, mpmath.exp),
    Op.LOG: ("clog", cmath.log, mpmath.log),
    Op.SIN: ("csin", cmath.sin, mpmath.sin),
    Op.COS: ("ccos", cmath.cos, mpmath.cos),
    Op.TAN: ("ctan", cmath.tan, mpmath.tan),
    Op.SINH: ("csinh", cmath.sinh, mpmath.sinh),
    Op.COSH: ("ccosh", cmath.cosh, mpmath.cosh),
    Op.TANH: ("ctanh", cmath.tanh, mpmath.tanh),
    Op.ASIN: ("casin", cmath.asin, mpmath.asin),
    Op.ACOS: ("cacos", cmath.acos, mpmath.acos),
    Op.ATAN: ("catan", cmath.atan, mpmath.atan),
    Op.ASINH: ("casinh", cmath.asinh, mpmath.asinh),
    Op.ACOSH: ("cacosh", cmath.acosh, mpmath.acosh),
    Op.ATANH: ("catanh", cmath.atanh, mpmath.atanh),
}
#: functions without a C99 counterpart: mpmath only
EXTRA = {
    Op.EXP2: lambda z: mpmath.power(2, z),
    Op.LOG2: lambda z: mpmath.log(z) / mpmath.log(2),
    Op.LOG10: lambda z: mpmath.log(z) / mpmath.log(10),
}
MPMATH = {**{op: f[2] for op, f in FUNCTIONS.items()}, **EXTRA}


def _cmath_log(base: float):
    def log(z: complex) -> complex:
        w = cmath.log(z)
        return complex(w.real / math.log(base), w.imag / math.log(base))

    return log


#: cmath's value, for the sides of branch cuts
CMATH = {
    **{op: f[1] for op, f in FUNCTIONS.items()},
    Op.LOG2: _cmath_log(2),
    Op.LOG10: _cmath_log(10),
}
#: |x|, |y| bounds of the random points where the function does not overflow
RANGE = {Op.EXP: 700.0, Op.EXP2: 1000.0, Op.SIN: 700.0, Op.COS: 700.0, Op.SINH: 700.0}
RANGE |= {Op.COSH: 700.0}
#: measured worst componentwise errors are 2.4 ulp (scalar libm) and 2.7 ulp (libmvec, whose
#: functions are good to 4 ulp); these bounds leave room and still catch a wrong formula
TOL = {"scalar": 6.0, "simd": 12.0}
#: the real part of log within 1e-8 of |z| = 1 off the axes has an absolute error of 2^-80
NORMWISE_FLOOR = {Op.LOG: 2.0**-40, Op.LOG2: 2.0**-40, Op.LOG10: 2.0**-40}

SHIM = r"""
#include <complex.h>
#define UN(f) void j_##f(const double *in, double *out, long n) { for (long i = 0; i < n; i++) { \
  double complex w = f(CMPLX(in[2*i], in[2*i+1])); out[2*i] = creal(w); out[2*i+1] = cimag(w); } }
UN(csqrt) UN(cexp) UN(clog) UN(csin) UN(ccos) UN(ctan) UN(csinh) UN(ccosh) UN(ctanh)
UN(casin) UN(cacos) UN(catan) UN(casinh) UN(cacosh) UN(catanh)
#define BIN(f, e) void j_##f(const double *a, const double *b, double *out, long n) { \
  for (long i = 0; i < n; i++) { double complex z = CMPLX(a[2*i], a[2*i+1]); \
  double complex v = CMPLX(b[2*i], b[2*i+1]); double complex w = e; \
  out[2*i] = creal(w); out[2*i+1] = cimag(w); } }
BIN(mul, z * v) BIN(div, z / v) BIN(cpow, cpow(z, v))
"""


@pytest.fixture(scope="module")
def glibc(tmp_path_factory: pytest.TempPathFactory):
    """``glibc(name, *arrays)``: C's complex function or operator ``name``, point by point."""
    if CC is None:
        pytest.skip("no C compiler (cc or gcc) on PATH")
    work = tmp_path_factory.mktemp("c99")
    (work / "shim.c").write_text(SHIM)
    lib = work / "libshim.so"
    # -O0 and no -ffast-math: * and / call __muldc3/__divdc3 (full Annex G)
    cmd = [str(CC), "-O0", "-std=c11", "-shared", "-fPIC", str(work / "shim.c"), "-o", str(lib)]
    subprocess.run([*cmd, "-lm"], check=True)
    dll = ctypes.CDLL(str(lib))

    def call(name: str, *arrays: np.ndarray) -> np.ndarray:
        args = [np.ascontiguousarray(a, dtype=np.complex128) for a in arrays]
        out = np.empty_like(args[0])
        ptr = ctypes.POINTER(ctypes.c_double)
        fn = getattr(dll, "j_" + name)
        fn(*(a.ctypes.data_as(ptr) for a in args), out.ctypes.data_as(ptr), ctypes.c_long(len(out)))
        return out

    return call


# -- building and running ---------------------------------------------------------------------


def complex_tape(op: Op, arity: int = 1, attr: object = None) -> Tape:
    g = Graph()  # no rules: the tape holds exactly the op
    node = g.make(op, tuple(g.var(i) for i in range(arity)), attr)
    return Tape.from_graph(g, [node], arity, 0)


@functools.cache
def lowered(op: Op, arity: int = 1, attr: object = None) -> Tape:
    return lower_complex(complex_tape(op, arity, attr))


@functools.cache
def _kernels(tape: Tape, mode: str):
    spec = KernelSpec("f", tape, len(tape.outputs), tuple(range(len(tape.outputs))))
    one = build_kernels([spec], Build(vector_libm=mode == "simd"), lanes=1)
    return one.batched() if mode == "simd" else one


def run(tape: Tape, z: np.ndarray, mode: str) -> np.ndarray:
    """The lowered tape at complex points ``z`` (one row of complex inputs per point):
    ``mode`` "reference" (the interpreter), "scalar" (JIT, libm) or "simd" (JIT, libmvec)."""
    x = np.ascontiguousarray(np.asarray(z, dtype=np.complex128).reshape(len(z), -1))
    rows = x.view(np.float64)  # NumPy's complex layout is the lowered tape's
    if mode == "reference":
        out = np.array([scalar.run(tape, row.tolist()) for row in rows], dtype=np.float64)
    else:
        out = np.full((len(rows), len(tape.outputs)), 1.25)
        _kernels(tape, mode).jit.kernel("f")(
            rows.ctypes.data, None, out.ctypes.data, len(rows), 0, None
        )
    return out.view(np.complex128)


MODES = ["reference", "scalar", "simd"]


# -- comparing ----------------------------------------------------------------------------------


def _same(a: float, b: float) -> bool:
    return (math.isnan(a) and math.isnan(b)) or (
        a == b and math.copysign(1, a) == math.copysign(1, b)
    )


def _part_ok(got: float, want: float, other_nan: bool, tol: float) -> bool:
    if math.isfinite(want) and want != 0 and math.isfinite(got):
        return abs(got - want) <= tol * ULP * abs(want)
    if other_nan and abs(got) == abs(want):
        return True  # Annex G: "±0"/"±∞" beside a NaN, the sign is unspecified
    return _same(got, want)


def matches(got: complex, want: complex, tol: float = 8.0) -> bool:
    """``got`` is ``want``: special values and zeros exactly (signs included), finite
    nonzero parts within ``tol`` ulp."""
    return _part_ok(got.real, want.real, math.isnan(want.imag), tol) and _part_ok(
        got.imag, want.imag, math.isnan(want.real), tol
    )


def reference(fn, z: complex) -> mpmath.mpc:
    """mpmath's value with 30 correct digits in each part: the working precision grows with
    the spread of the magnitudes involved."""
    spread = sum(abs(math.log10(abs(v))) for v in (z.real, z.imag) if v != 0)
    with mpmath.workdps(40 + 2 * int(spread)):
        w = fn(mpmath.mpc(z.real, z.imag))
        return mpmath.mpc(w)


def error_ulps(got: complex, want: mpmath.mpc, floor: float = 0.0) -> float:
    """The larger relative error of the two parts in ulp (2^-52), each relative to
    ``max(|part|, floor·|want|, smallest normal)``."""
    worst = 0.0
    for g, w in ((got.real, want.real), (got.imag, want.imag)):
        if abs(w) > DBL_MAX:  # the part itself overflows: an infinity of its sign
            worst = max(worst, 0.0 if g == math.copysign(inf, w) else inf)
            continue
        scale = max(abs(w), floor * abs(want), mpmath.mpf(2) ** -1022)
        worst = max(worst, float(abs(mpmath.mpf(g) - w) / scale / ULP))
    return worst


# -- the contract -------------------------------------------------------------------------------


def test_layout_is_numpys_complex128():
    g = Graph()
    z0, z1, p = g.var(0), g.var(1), g.param(0)
    tape = Tape.from_graph(g, [g.mul(z0, p), g.add(z1, p), z0], 2, 1)
    real = lower_complex(tape)
    assert (real.n_vars, real.n_params, len(real.outputs)) == (4, 2, 6)
    z = np.array([1 + 2j, -3 + 0.5j])
    pv = np.array([0.25 - 1j])
    out = scalar.run(real, z.view(np.float64).tolist(), pv.view(np.float64).tolist())
    got = np.array(out).view(np.complex128)
    assert got.tolist() == [z[0] * pv[0], z[1] + pv[0], z[0]]


def test_real_constants_are_real_operands():
    # Annex G G.5.1: a real operand combines componentwise, without recovery code
    g = Graph()
    z = g.var(0)
    two, three = g.const(2.0), g.const(3.0)
    outs = [g.mul(two, z), g.add(three, z), g.sub(three, z), g.div(z, two), g.sub(z, three)]
    real = lower_complex(Tape.from_graph(g, outs, 1, 0))
    assert real.op_counts() == {"ADD": 1, "DIV": 2, "MUL": 2, "NEG": 1, "SUB": 2}
    for x, y in [(inf, 0.0), (1.5, -0.0), (nan, 2.0), (0.0, inf)]:
        got = np.array(scalar.run(real, [x, y])).view(np.complex128)
        want = [complex(2 * x, 2 * y), complex(3 + x, y), complex(3 - x, -y)]
        want += [complex(x / 2, y / 2), complex(x - 3, y)]
        assert all(matches(a, b, 0) for a, b in zip(got, want)), (x, y, got)


def test_complex_constants_use_the_full_arithmetic():
    tape = Tape(1, 0, (Op.VAR, Op.CONST, Op.MUL), ((), (), (0, 1)), (0, 2j, None), (2,))
    real = lower_complex(tape)
    assert "SELECT" in real.op_counts()  # (0 + 2i)·z: __muldc3's recovery is kept
    got = complex(*scalar.run(real, [inf, 1.0]))
    assert math.isinf(got.imag)  # an infinite operand times a nonzero: infinite


def test_integer_powers_and_the_power_function():
    for n in (-3, -1, 0, 1, 2, 5, 8):
        z = np.array([0.7 - 1.3j, -2.0 + 0.1j, 1e-3 + 4j])
        got = run(lowered(Op.POWI, 1, n), z, "reference")[:, 0]
        for a, b in zip(got, z):
            want = reference(functools.partial(mpmath.power, y=n), b)
            assert error_ulps(a, want, 1.0) <= 4 * max(abs(n), 1)
    assert lowered(Op.POWI, 1, 0).op_counts() == {}  # z**0 = 1 + 0i
    zw = np.array([[0.7 - 1.3j, 0.5 + 0.25j], [2.0 + 0.5j, -1.5 + 0j], [-3 + 1e-3j, 2.5 - 1j]])
    got = run(lowered(Op.POW, 2), zw, "scalar")[:, 0]
    for a, (b, w) in zip(got, zw):
        want = reference(functools.partial(mpmath.power, y=mpmath.mpc(w.real, w.imag)), b)
        assert error_ulps(a, want, 1.0) <= 32  # exp(w log z) amplifies log's rounding


@pytest.mark.parametrize("op", [op for op in Op if op not in LEAVES and op not in LOWERINGS])
def test_other_ops_are_refused_by_name(op):
    g = Graph()
    args = tuple(g.var(i) for i in range(INFO[op].arity))
    tape = Tape(
        INFO[op].arity,
        0,
        (*(Op.VAR,) * len(args), op),
        (*((),) * len(args), tuple(range(len(args)))),
        (*range(len(args)), 3 if op is Op.POWI else None),
        (len(args),),
    )
    with pytest.raises(
        NotImplementedError, match=f"{op.name.lower()} is not supported for complex"
    ):
        lower_complex(tape)


# -- special values: C99 Annex G ------------------------------------------------------------------

SPECIAL = [0.0, -0.0, 1.0, -1.0, 0.5, 2.0, -2.0, 1e-310, 1e300, -1e300, inf, -inf, nan]
GRID = np.array([complex(a, b) for a in SPECIAL for b in SPECIAL])


@needs_cc
@pytest.mark.parametrize("mode", MODES)
@pytest.mark.parametrize("op", list(FUNCTIONS), ids=lambda op: op.name)
def test_special_values_follow_annex_g(op, mode, glibc):
    got = run(lowered(op), GRID, mode)[:, 0]
    want = glibc(FUNCTIONS[op][0], GRID)
    bad = []
    for z, a, w in zip(GRID, got, want):
        try:
            c = FUNCTIONS[op][1](z)
        except (ValueError, OverflowError):  # cmath raises where C signals invalid/overflow
            c = None
        if not (matches(a, w) or (c is not None and matches(a, c))):
            bad.append((z, a, w, c))
    assert not bad, f"{op.name} ({mode}): {bad[:4]}"


@needs_cc
@pytest.mark.parametrize("mode", ["reference", "scalar", "simd"])
@pytest.mark.parametrize("name", ["mul", "div"])
def test_multiplication_and_division_are_c99s(name, mode, glibc):
    values = [0.0, -0.0, 1.0, -2.5, 1e-310, 1e308, -1e308, 1e-300, inf, -inf, nan]
    zs = [complex(a, b) for a in values for b in values]
    pairs = np.array([(u, v) for u in zs for v in zs])
    if mode == "reference":
        pairs = pairs[::7]  # the interpreter is slow; every 7th pair still covers each class
    got = run(lowered(Op.MUL if name == "mul" else Op.DIV, 2), pairs, mode)[:, 0]
    want = glibc(name, pairs[:, 0], pairs[:, 1])
    bad = [(p, a, w) for p, a, w in zip(pairs, got, want) if not matches(a, w, 0)]
    assert not bad, f"{name} ({mode}) differs from C on {len(bad)} pairs: {bad[:4]}"


@needs_cc
def test_the_power_function_is_cpows_formula(glibc):
    values = [0.0, -0.0, 0.5, -2.0, inf, -inf, nan]
    zs = [complex(a, b) for a in values for b in values]
    pairs = np.array([(u, v) for u in zs for v in zs])
    got = run(lowered(Op.POW, 2), pairs, "scalar")[:, 0]
    want = glibc("cpow", pairs[:, 0], pairs[:, 1])
    bad = [(p, a, w) for p, a, w in zip(pairs, got, want) if not matches(a, w, 64)]
    assert len(bad) <= len(pairs) // 50, f"{len(bad)} of {len(pairs)} differ: {bad[:4]}"


# -- branch cuts: the sign of zero picks the side ------------------------------------------------

CUTS = {
    Op.SQRT: [-4.0, -0.5],
    Op.LOG: [-2.0, -0.25],
    Op.ASIN: [1.5, -3.0],
    Op.ACOS: [1.5, -3.0],
    Op.ATANH: [1.5, -3.0],
    Op.ACOSH: [0.5, -0.5, -3.0],
    Op.ASINH: [1.5j, -3j],
    Op.ATAN: [1.5j, -3j],
}


#: whether z lies exactly on the op's branch cut (the sign of a zero part picks the side)
ON_CUT = {
    Op.SQRT: lambda z: z.imag == 0 and z.real < 0,
    Op.LOG: lambda z: z.imag == 0 and z.real < 0,
    Op.LOG2: lambda z: z.imag == 0 and z.real < 0,
    Op.LOG10: lambda z: z.imag == 0 and z.real < 0,
    Op.ASIN: lambda z: z.imag == 0 and abs(z.real) > 1,
    Op.ACOS: lambda z: z.imag == 0 and abs(z.real) > 1,
    Op.ATANH: lambda z: z.imag == 0 and abs(z.real) > 1,
    Op.ACOSH: lambda z: z.imag == 0 and z.real < 1,
    Op.ASINH: lambda z: z.real == 0 and abs(z.imag) > 1,
    Op.ATAN: lambda z: z.real == 0 and abs(z.imag) > 1,
}


@pytest.mark.parametrize("mode", MODES)
@pytest.mark.parametrize("op", list(CUTS), ids=lambda op: op.name)
def test_signed_zeros_choose_the_side_of_a_branch_cut(op, mode):
    points = []
    for c in CUTS[op]:
        c = complex(c)
        for s in (0.0, -0.0):  # the zero part takes either sign
            points.append(complex(c.real, s) if c.imag == 0 else complex(s, c.imag))
    got = run(lowered(op), np.array(points), mode)[:, 0]
    for z, a in zip(points, got):
        want = FUNCTIONS[op][1](z)
        assert matches(a, want, 4), (op.name, z, a, want)
        assert math.copysign(1, a.imag) == math.copysign(1, want.imag)


# -- accuracy ----------------------------------------------------------------------------------


def _points(op: Op, seed: int) -> np.ndarray:
    """Every quadrant, magnitudes from 1e-3 to 10 and from 1e-20 to 1e20, and points within
    1e-8 of both axes."""
    rng = np.random.default_rng(seed)

    def cloud(n: int, lo: float, hi: float) -> np.ndarray:
        m = 10.0 ** rng.uniform(lo, hi, (n, 2)) * rng.choice([-1.0, 1.0], (n, 2))
        return m[:, 0] + 1j * m[:, 1]

    near_axes = [cloud(40, -2, 1).real + 1j * cloud(40, -30, -8).imag]
    near_axes += [cloud(40, -30, -8).real + 1j * cloud(40, -2, 1).imag]
    z = np.concatenate([cloud(160, -3, 1), cloud(80, -20, 20), *near_axes])
    bound = RANGE.get(op, inf)
    return z[(np.abs(z.real) < bound) & (np.abs(z.imag) < bound)]


@pytest.mark.parametrize("mode", ["scalar", "simd"])
@pytest.mark.parametrize("op", list(MPMATH), ids=lambda op: op.name)
def test_accuracy_against_mpmath(op, mode):
    z = _points(op, seed=int(op))
    got = run(lowered(op), z, mode)[:, 0]
    floor = NORMWISE_FLOOR.get(op, 0.0)
    errors = [error_ulps(a, reference(MPMATH[op], b), floor) for a, b in zip(got, z)]
    worst = int(np.argmax(errors))
    assert errors[worst] <= TOL[mode], f"{op.name}: {errors[worst]:.1f} ulp at {z[worst]!r}"
    # the interpreter computes the same bits as the one-lane JIT (both call libm)
    sample = z[::10]
    assert np.array_equal(
        run(lowered(op), sample, "reference"), run(lowered(op), sample, "scalar"), equal_nan=True
    )


@pytest.mark.parametrize("op", [Op.MUL, Op.DIV], ids=lambda op: op.name)
def test_arithmetic_is_accurate_and_survives_extreme_magnitudes(op):
    rng = np.random.default_rng(7)
    mags = 10.0 ** rng.uniform(-300, 300, (400, 4)) * rng.choice([-1.0, 1.0], (400, 4))
    pairs = np.stack([mags[:, 0] + 1j * mags[:, 1], mags[:, 2] + 1j * mags[:, 3]], axis=1)
    got = run(lowered(op, 2), pairs, "scalar")[:, 0]
    combine = mpmath.fmul if op is Op.MUL else mpmath.fdiv
    for a, (u, v) in zip(got, pairs):
        want = reference(functools.partial(combine, y=mpmath.mpc(v.real, v.imag)), u)
        if not mpmath.mpf(2) ** -1000 < abs(want) < mpmath.mpf(2) ** 1000:
            continue  # the quotient itself over- or underflows
        assert error_ulps(a, want, 1.0) <= 4, (u, v, a)  # normwise: as C's


HUGE_TINY = {
    Op.SQRT: [1.7e308 + 1.7e308j, -1.7e308 + 1e-300j, 3e-320 - 4e-320j, -5e-324 + 0j],
    Op.EXP: [710.0 + 1.5707963267948966j, 705 - 3.0j, -745.0 + 1j],
    Op.COSH: [711.0 + 1.5707963267948966j, -715.0 + 0.5j],
    Op.SINH: [711.0 + 1.5707963267948966j, -715.0 - 0.5j],
    Op.LOG: [1.7e308 + 1.7e308j, 5e-324 + 5e-324j, 1 + 1e-300j, 1 + 2e-16j],
    Op.TANH: [30 + 1.5707963267948966j, 400 + 1j, -700 - 2j, 1e-300 + 1e-300j],
    Op.ASIN: [1e300 + 1e300j, 1.7e308 - 1e-300j, 1e-300 + 1e-300j, 1 + 1e-300j],
    Op.ACOS: [1e300 + 1e300j, -1.7e308 + 1e-300j, 1e-300 - 1e-300j, -1 + 1e-300j],
    Op.ACOSH: [1e300 + 1e300j, 1.7e308 - 1.7e308j, 1 + 1e-300j, 1e-300 + 1e-300j],
    Op.ASINH: [1e300 - 1e300j, -1.7e308 + 1.7e308j, 1e-300j + 1, 1e-300 + 1e-300j],
    Op.ATANH: [1 + 1e-300j, -1 + 1e-200j, 1e300 + 1e-300j, 1e-300 + 1e300j, 1 + 1e-160j],
    Op.ATAN: [1e-300 + 1j, 1e300 + 1e300j, 1e-300 - 1e300j],
}


@pytest.mark.parametrize("op", list(HUGE_TINY), ids=lambda op: op.name)
def test_no_spurious_overflow_or_underflow(op):
    z = np.array(HUGE_TINY[op])
    got = run(lowered(op), z, "scalar")[:, 0]
    for a, b in zip(got, z):
        want = reference(MPMATH[op], b)
        assert error_ulps(a, want, NORMWISE_FLOOR.get(op, 0.0)) <= TOL["scalar"], (b, a, want)


# -- properties (hypothesis) ----------------------------------------------------------------------

finite = st.floats(min_value=-1e6, max_value=1e6, allow_nan=False, allow_infinity=False)
points = st.builds(complex, finite, finite).filter(lambda z: z != 0)


@pytest.mark.parametrize("op", list(MPMATH), ids=lambda op: op.name)
@settings(max_examples=40, deadline=None)
@given(z=points)
def test_property_random_points_agree_with_mpmath(op, z):
    if op in RANGE and max(abs(z.real), abs(z.imag)) >= RANGE[op]:
        return
    got = run(lowered(op), np.array([z]), "scalar")[0, 0]
    if ON_CUT.get(op, lambda z: False)(z):  # mpmath's side of a cut need not be C's
        assert matches(got, CMATH[op](z), TOL["scalar"] + 4), (z, got)
        return
    want = reference(MPMATH[op], z)
    assert error_ulps(got, want, NORMWISE_FLOOR.get(op, 0.0)) <= TOL["scalar"], (z, got, want)


def _composed(outer: Op, inner: Op) -> Tape:
    g = Graph()
    return lower_complex(Tape.from_graph(g, [g.call(outer, g.call(inner, g.var(0)))], 1, 0))


@settings(max_examples=60, deadline=None)
@given(z=points)
def test_property_identities(z):
    x = np.array([z])
    assume_ok = 1e-4 < abs(z) < 1e4
    if assume_ok and abs(z.imag) < 3.0:  # exp(log z) = z (log z's imaginary part is exact-ish)
        back = run(lower_exp_log(), x, "scalar")[0, 0]
        assert abs(back - z) <= 16 * ULP * abs(z) * max(1.0, abs(math.log(abs(z)))), (z, back)
    root = run(lowered(Op.SQRT), x, "scalar")[0, 0]
    assert root.real >= 0  # the principal branch
    if abs(z) > 1e-150:  # root·root itself would underflow below
        assert abs(root * root - z) <= 8 * ULP * abs(z), (z, root)
    s, c = (run(lowered(op), x, "scalar")[0, 0] for op in (Op.SIN, Op.COS))
    if abs(z.imag) < 20:
        assert abs(s * s + c * c - 1) <= 64 * ULP * max(1.0, abs(s) ** 2 + abs(c) ** 2), z


@functools.cache
def lower_exp_log() -> Tape:
    return _composed(Op.EXP, Op.LOG)
