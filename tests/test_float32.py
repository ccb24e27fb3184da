"""float32 kernels (``dtype=np.float32``): the option, the conversions, the arithmetic.

References are independent of the code under test: mpmath at 30 digits for the
accuracy of each elementary function (in float32 ulps of the correctly rounded
result), the C library's float functions called through ctypes for special values,
NumPy float32 arithmetic for constants and integer powers, float64 kernels for whole
Jacobians (error relative to each row's scale), and gcc-compiled emitted C for the
scalar path bit for bit.
"""

from __future__ import annotations

import ctypes
import importlib
import math
import sys
from pathlib import Path

import numpy as np
import pytest
import sympy as sp
import sympy.codegen.cfunctions as cf
from reference import assert_same_float, precise_mismatches
from test_emit import CC, STRICT, needs_cc
from test_functions import UNARY
from test_functions import x as plain_x

sys.path.insert(0, str(Path(__file__).resolve().parent.parent / "benchmarks"))
from float32_accuracy import DOMAINS, max_ulps, sympy_of
from symjac.codegen.llvm.jit import host_vector

import symjac
from symjac import warmstart
from symjac.ir.dtypes import FLOAT32
from symjac.options import Options
from symjac.standalone import emit

F32 = np.float32
x, y, a = sp.symbols("x y a", real=True)
LIBM = ctypes.CDLL("libm.so.6")


def compile32(exprs, wrt=(x,), params=(), **kw):
    return symjac.function(list(exprs), list(wrt), list(params), dtype=F32, cache=False, **kw)


# -- the option -------------------------------------------------------------------------


@pytest.mark.parametrize("spelling", [np.float32, "float32", np.dtype("f4"), "f4", "single"])
def test_every_numpy_spelling_is_one_canonical_name(spelling) -> None:
    assert Options(dtype=spelling).dtype == "float32"
    assert Options(dtype=spelling) == Options(dtype="float32")


@pytest.mark.parametrize(
    "spelling, error", [("int32", ValueError), (np.float16, ValueError), (None, TypeError),
                        ("not a type", TypeError), (">f4", ValueError), (True, TypeError)]
)  # fmt: skip
def test_other_dtypes_are_refused_naming_the_choices(spelling, error) -> None:
    with pytest.raises(error, match="float64, float32, complex128"):
        Options(dtype=spelling)
    with pytest.raises(error):
        symjac.jacobian([x], [x], dtype=spelling)


def test_complex128_is_an_option_and_logdet_refuses_it() -> None:
    assert Options(dtype=np.complex128).dtype == "complex128"
    assert Options(dtype=np.complex128).build().dtype == "float64"  # over (re, im) pairs
    with pytest.raises(TypeError, match="logdet"):
        symjac.logdet([x * x], [x], dtype=np.complex128)


def test_the_dtype_is_part_of_both_cache_keys(tmp_path: Path) -> None:
    key = warmstart.key("jacobian", [x * y], [x, y], [], Options())
    assert key != warmstart.key("jacobian", [x * y], [x, y], [], Options(dtype=F32))
    same = warmstart.key("jacobian", [x * y], [x, y], [], Options(dtype="f4"))
    assert same == warmstart.key("jacobian", [x * y], [x, y], [], Options(dtype=np.float32))
    j64 = symjac.jacobian([sp.sin(x) * y], [x, y], cache=str(tmp_path))
    j32 = symjac.jacobian([sp.sin(x) * y], [x, y], cache=str(tmp_path), dtype=F32)
    assert j64._kernels.jit.cache_key != j32._kernels.jit.cache_key
    again = symjac.jacobian([sp.sin(x) * y], [x, y], cache=str(tmp_path), dtype=F32)
    assert again.stats.warm and again.dtype == np.float32
    assert again.values([1.0, 2.0]).dtype == np.float32


def test_the_object_shows_its_dtype() -> None:
    jac = symjac.jacobian([x * y], [x, y], dtype=F32)
    assert jac.dtype == np.dtype(np.float32) and "dtype=float32" in repr(jac)
    assert jac.stages.dtype == "float32" and "float32" in jac.stages.summary()
    assert "float" in jac.stages.llvm_ir() and "double" not in jac.stages.llvm_ir()
    assert symjac.jacobian([x * y], [x, y]).dtype == np.dtype(np.float64)


# -- conversions ------------------------------------------------------------------------


def test_inputs_are_rounded_to_float32_and_results_are_float32() -> None:
    f = compile32([x * a], params=[a])
    got = f(np.array([0.1]), [3.0])  # float64 arrays: rounded to nearest float32 first
    assert got.dtype == np.float32 and got[0] == F32(0.1) * F32(3.0)
    assert f([1e39], 1.0)[0] == np.inf  # beyond float32's range: inf, as a conversion
    assert f([2**24 + 1], 1)[0] == F32(2**24)  # ints round too (ties to even)
    batch = f(np.arange(6.0).reshape(6, 1), [2.0])
    assert batch.dtype == np.float32 and batch.shape == (6, 1)


def test_complex_inputs_and_foreign_outs_are_refused() -> None:
    f = compile32([x * 2])
    with pytest.raises(TypeError, match="real numbers"):
        f(np.array([1j]))
    with pytest.raises(TypeError, match="float32"):
        f(np.array([1.0], np.float32), out=np.empty(1))
    with pytest.raises(TypeError, match="float32"):
        f(np.ones((3, 1), np.float32), out=np.empty((3, 1), np.float16))
    out = np.empty(1, np.float32)
    assert f(np.array([1.5], np.float32), out=out) is out and out[0] == 3.0


def test_the_native_one_point_path_checks_the_float32_dtype() -> None:
    jac = symjac.jacobian([x * y, sp.sin(x)], [x, y], dtype=F32)
    point = np.array([0.5, 2.0], np.float32)
    native = jac.values(point)
    assert native.dtype == np.float32
    out = np.empty(jac.nnz, np.float32)
    assert jac.values(point, out=out) is out
    # float64 points and outs leave the native path: converted, or refused
    assert np.array_equal(jac.values(point.astype(np.float64)), native)
    with pytest.raises(TypeError):
        jac.values(point, out=np.empty(jac.nnz))
    dense = jac(point)
    assert dense.dtype == np.float32 and dense.shape == (2, 2)


# -- arithmetic -------------------------------------------------------------------------


def test_constants_are_rounded_to_float32_once() -> None:
    # 1/3 and pi each become the float32 nearest to them; 2*pi is folded in double, then
    # rounded once (not float32(2) * float32(pi), which happens to be the same here)
    f = compile32([sp.Rational(1, 3) * x, sp.pi * x, x / 3, sp.Float("0.1") + x])
    got = f(np.array([1.0], np.float32))
    want = [F32(1 / 3), F32(math.pi), F32(1) / F32(3), F32(0.1) + F32(1)]
    assert got.tolist() == [float(w) for w in want]


def test_integer_powers_and_selects_are_float32() -> None:
    f = compile32([x**5, x**-3, sp.Piecewise((x, x < 1), (x**2, True)), sp.Max(x, 2 * x)])
    pts = np.array([[1.1], [3.0], [-2.5], [1e20]], np.float32)
    got = f(pts)
    p = pts[:, 0]
    with np.errstate(over="ignore"):
        x2 = p * p
        x4 = x2 * x2
        assert np.array_equal(got[:, 0], x4 * p)  # the square-and-multiply chain, in float
        assert np.array_equal(got[:, 1], F32(1) / (x2 * p))
    assert np.array_equal(got[:, 2], np.where(p < 1, p, x2))  # 1e40 overflows to inf
    assert np.isinf(got[3, 2]) and np.array_equal(got[:, 3], np.maximum(p, F32(2) * p))


def _libmf(name: str):
    fn = getattr(LIBM, name + "f")
    fn.restype = ctypes.c_float
    fn.argtypes = [ctypes.c_float]
    return fn


SPECIAL32 = [0.0, -0.0, math.inf, -math.inf, math.nan, 1e-45, -1e-45, 1.17549435e-38,
             3.4028235e38, -3.4028235e38, 88.72, 89.0, -103.9, 1.0, -1.0, 0.5]  # fmt: skip
SCALAR_FUNCTIONS = ["exp", "log", "sin", "cos", "tan", "asin", "acos", "atan", "sinh", "cosh",
                    "tanh", "asinh", "acosh", "atanh", "erf", "erfc", "expm1", "log1p", "exp2",
                    "log2", "log10", "cbrt"]  # fmt: skip


def test_special_values_equal_the_c_librarys_float_functions() -> None:
    """±0, ±inf, NaN, subnormals, overflow and underflow thresholds, one lane, scalar libm:
    exactly ``sinf``, ``expf``, ... of the C library the kernels link."""
    exprs = [sympy_of(name)(x) for name in SCALAR_FUNCTIONS]
    f = compile32(exprs, vector_libm=False)
    pts = np.array(SPECIAL32, np.float32).reshape(-1, 1)
    got = f(pts)
    for k, name in enumerate(SCALAR_FUNCTIONS):
        want = np.array([_libmf(name)(float(v)) for v in pts[:, 0]], np.float32)
        same = (got[:, k].view(np.int32) == want.view(np.int32)) | (
            np.isnan(got[:, k]) & np.isnan(want)
        )
        assert same.all(), (name, pts[~same, 0], got[~same, k], want[~same])
    # and arithmetic: overflow to inf, gradual underflow, signed zeros, NaN
    g = compile32([x * x, x * F32(1e-30), -x, x + 1], vector_libm=False)
    assert g(np.array([2e19], np.float32)).tolist()[0] == math.inf
    assert g(np.array([1e-10], np.float32))[1] == F32(1e-10) * F32(1e-30)  # a subnormal
    assert math.copysign(1, g(np.array([0.0], np.float32))[2]) == -1
    assert np.isnan(g(np.array([math.nan], np.float32))[3])


def test_vector_libm_special_values_agree_with_the_scalar_library() -> None:
    exprs = [sympy_of(name)(x) for name in SCALAR_FUNCTIONS]
    vec = compile32(exprs)(np.array(SPECIAL32, np.float32).reshape(-1, 1))
    one = compile32(exprs, vector_libm=False)(np.array(SPECIAL32, np.float32).reshape(-1, 1))
    assert np.array_equal(np.isnan(vec), np.isnan(one))
    assert np.array_equal(np.isinf(vec), np.isinf(one))
    finite = np.isfinite(one) & (np.abs(one) > 1e-37)
    ulps = np.abs(vec[finite].astype(np.float64) - one[finite]) / np.spacing(np.abs(one[finite]))
    assert ulps.max() <= 8


# -- accuracy in ulps -------------------------------------------------------------------

#: the one-argument functions of the accuracy measurement (benchmarks/float32_accuracy.py)
ELEMENTARY = sorted(
    name for name, (_, second) in DOMAINS.items() if second is None and name != "besselj"
)


@pytest.mark.parametrize("name", [*ELEMENTARY, "atan2", "hypot", "pow"])
def test_each_function_is_within_its_documented_ulps_of_mpmath(name: str) -> None:
    """glibc documents its float functions to a few ulp and libmvec to 4; the measured maxima
    on many more points are in docs/semantics.md (benchmarks/float32_accuracy.py)."""
    found = max_ulps(name, 300)
    assert found["libm"] <= 3.5 and found["libmvec"] <= 4.5, found


def test_the_jacobian_is_float32_close_to_the_float64_one() -> None:
    """A kinetics-like Jacobian: float32 against float64 kernels at the same (float32)
    points, the error relative to each row's largest entry (its scale)."""
    u = sp.symbols("u0:4", real=True)
    k = sp.symbols("k0:3", real=True)
    exprs = [
        -k[0] * u[0] + k[2] * u[1] * u[2],
        k[0] * u[0] - k[1] * u[1] ** 2,
        sp.exp(-u[3]) * sp.sin(u[0] * u[2]),
        sp.log(1 + u[1] ** 2) / (1 + u[3] ** 2),
    ]
    j32 = symjac.jacobian(exprs, u, k, dtype=F32, sparse=False)
    j64 = symjac.jacobian(exprs, u, k, sparse=False)
    rng = np.random.default_rng(1)
    pts = rng.uniform(-2, 2, (5000, 4)).astype(np.float32)
    p = np.array([0.04, 3e7, 1e4], np.float32)
    got, want = j32(pts, p), j64(pts.astype(np.float64), p.astype(np.float64))
    assert got.dtype == np.float32
    scale = np.abs(want).max(axis=2, keepdims=True)
    assert (np.abs(got - want) <= 1e-5 * scale).all()
    # the mismatch helper of the float64 tests, at float32's tolerances, agrees
    assert not precise_mismatches(got, want, rtol=1e-5, row_atol=1e-6).any()


# -- a point's bits: alone, in a batch, in C --------------------------------------------


def test_a_batch_equals_its_points_one_at_a_time_bit_for_bit() -> None:
    exprs = [sp.sin(a * x) * sp.exp(y), sp.atan2(x, y) + sp.erf(x) * y**3, cf.hypot(x, y) ** 0.3]
    jac = symjac.jacobian(exprs, [x, y], [a], dtype=F32, sparse=False)
    rng = np.random.default_rng(2)
    pts = rng.normal(size=(1003, 2)).astype(np.float32)  # a partial last SIMD group
    p = np.array([0.7], np.float32)
    one_lane = jac.values(pts, p)
    simd = jac._kernels.batched()
    assert simd.lanes == host_vector(FLOAT32)[0] == 2 * host_vector()[0]
    for _ in range(6):  # the SIMD build's trial
        batch = jac.values(pts, p)
    singles = np.array([jac.values(pt, p) for pt in pts[:40]])
    assert batch.dtype == np.float32
    assert np.array_equal(batch.view(np.int32), one_lane.view(np.int32))
    assert np.array_equal(singles.view(np.int32), batch[:40].view(np.int32))
    jac.threads = 1
    assert np.array_equal(jac.values(pts, p).view(np.int32), batch.view(np.int32))


def test_wide_outputs_stored_row_by_row_are_float32_rows() -> None:
    """Past a frame of 32 KB a SIMD group stores each lane's outputs straight to its row
    (lower.DIRECT_ROWS): rows of 4-byte values, not 8."""
    exprs = [sp.sin(k * x) + y / k for k in range(1, 700)]
    f = compile32(exprs, wrt=(x, y))
    pts = np.random.default_rng(4).normal(size=(517, 2)).astype(np.float32)
    simd = f._kernels.batched()
    assert simd.lanes * len(exprs) * 4 > 8 * 4096
    guard = np.full((pts.shape[0] + 1, len(exprs)), 7.0, np.float32)
    for _ in range(6):
        f(pts, out=guard[:-1])
    assert (guard[-1] == 7.0).all()  # nothing written past the output
    singles = np.array([f(pt) for pt in pts[::37]])
    assert_same_float(guard[:-1][::37], singles)
    want = symjac.function(exprs, [x, y])(pts.astype(np.float64))
    assert np.allclose(guard[:-1], want, atol=1e-3)  # sin(699 x): float32 rounds 699 x


@pytest.mark.skipif(host_vector(FLOAT32)[0] == 1, reason="the host has no SIMD lanes")
def test_rows_of_4_kb_are_transposed_out_and_equal_their_points() -> None:
    """Rows a multiple of 4 KB long put every lane's line at one column in one L1 set: past
    lower.DIRECT_SHARING lanes the group transposes its outputs out of the frame instead of
    storing lane by lane (16 float32 lanes with AVX-512); the bits are the same."""
    exprs = [x * k + y / k for k in range(1, 1025)]  # 1024 float32: 4 KB a row
    f = compile32(exprs, wrt=(x, y))
    pts = np.random.default_rng(6).normal(size=(3 * 16 + 5, 2)).astype(np.float32)
    simd = f._kernels.batched()
    direct = simd.lanes <= importlib.import_module("symjac.codegen.llvm.lower").DIRECT_SHARING
    lane_stores = simd.jit.ir_text.count("store float")  # a store per output and lane?
    assert (lane_stores >= simd.lanes * len(exprs)) == direct, lane_stores
    guard = np.full((pts.shape[0] + 1, len(exprs)), 7.0, np.float32)
    for _ in range(6):
        f(pts, out=guard[:-1])
    assert (guard[-1] == 7.0).all()
    singles = np.array([f(pt) for pt in pts])
    assert_same_float(guard[:-1], singles)


def _load_c(directory: Path, name: str) -> ctypes.CDLL:
    import subprocess

    assert CC is not None
    lib = directory / f"lib{name}.so"
    src = directory / f"{name}.c"
    done = subprocess.run(
        [CC, *STRICT, "-fPIC", "-shared", "-o", str(lib), str(src), "-lm"],
        capture_output=True,
        text=True,
    )
    assert done.returncode == 0, done.stderr
    return ctypes.CDLL(str(lib))


@needs_cc
def test_emitted_float32_c_compiles_with_werror_and_equals_the_scalar_jit(tmp_path) -> None:
    cases = [case.expr for case in UNARY]
    u = plain_x
    exprs = [*cases, sp.besselj(2, u) * sp.bessely(1, 1 + u**2), sp.Max(u, -u) ** 3 / 7]
    f = symjac.function(exprs, [u], dtype=F32, simd=False)
    emit(f, tmp_path, "unary32")
    text = (tmp_path / "unary32.c").read_text()
    assert "double" not in text.replace("IEEE-754", "") and "sinf(" in text
    lib = _load_c(tmp_path, "unary32")
    values = sorted({*SPECIAL32, *(float(pt) for case in UNARY for pt in case.points)})
    pts = np.array(values, np.float32).reshape(-1, 1)
    out = np.full((len(pts), len(exprs)), -7.0, np.float32)
    lib.unary32_function(
        ctypes.c_void_p(pts.ctypes.data), None, ctypes.c_void_p(out.ctypes.data),
        ctypes.c_int64(len(pts)), ctypes.c_int64(0), None,
    )  # fmt: skip
    assert_same_float(out, f(pts))  # NaN equals NaN whatever its sign bit


@needs_cc
def test_the_float32_python_package_equals_the_scalar_jit(tmp_path) -> None:
    jac = symjac.jacobian([x**2 * sp.sin(y), sp.exp(x * y)], [x, y], dtype=F32, simd=False)
    emit(jac, tmp_path, "pkg32", target="python")
    sys.path.insert(0, str(tmp_path))
    try:
        pkg = importlib.import_module("pkg32")
    finally:
        sys.path.remove(str(tmp_path))
    pts = np.random.default_rng(3).normal(size=(100, 2))  # float64: rounded by both
    got = pkg.kernel.values(pts)
    assert pkg.kernel.dtype == np.float32 and got.dtype == np.float32
    assert np.array_equal(got.view(np.int32), jac.values(pts).view(np.int32))
    with pytest.raises(TypeError, match="float32"):
        pkg.kernel.values(pts, out=np.empty((100, jac.nnz)))


@needs_cc
def test_a_float64_object_emits_float32_code(tmp_path) -> None:
    f64 = symjac.function([sp.cos(x) / 3], [x])
    emit(f64, tmp_path, "as32", dtype=np.float32)
    header = (tmp_path / "as32.h").read_text()
    assert "const float *x" in header and "single precision" in header
    lib = _load_c(tmp_path, "as32")
    pts = np.array([[0.25], [2.0]], np.float32)
    out = np.empty((2, 1), np.float32)
    lib.as32_function(
        ctypes.c_void_p(pts.ctypes.data), None, ctypes.c_void_p(out.ctypes.data),
        ctypes.c_int64(2), ctypes.c_int64(0), None,
    )  # fmt: skip
    f32 = symjac.function([sp.cos(x) / 3], [x], dtype=F32, simd=False)
    assert np.array_equal(out, f32(pts))
