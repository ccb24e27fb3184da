"""complex128 kernels end to end: the holomorphic Jacobian against independent references.

References: SymPy's own ``Matrix.jacobian`` (and the expressions) evaluated by mpmath at 30
digits at the exact double inputs; central differences of the compiled function along a
real step (for a holomorphic f, (f(z + h) - f(z - h)) / 2h → f'(z)); :mod:`cmath` (C99
Annex G) on the branch cuts, where the sign of a zero picks the side.
"""

from __future__ import annotations

import cmath
import ctypes
import importlib
import math
import sys

import mpmath
import numpy as np
import pytest
import sympy as sp
from hypothesis import assume, example, given, note, settings
from hypothesis import strategies as st
from reference import assert_same_float
from test_emit import build_c, needs_cc

import symjac
from symjac.standalone import emit

C128 = np.complex128
z, w, c = sp.symbols("z w c")
MODEL = [
    sp.exp(sp.I * z) * w + c * z**3,
    sp.asinh(z) / w + sp.sqrt(z * w + 2),
    sp.log(z + 3) * sp.atan(w / 2) - sp.tan(z / 4) * c,
    sp.cosh(z) * sp.acos(w / 3) + sp.atanh(z / 5) + (1 + 2 * sp.I) * z * w,
    (z**2 + 1) ** sp.Rational(1, 3) + sp.asin(w / 4) * sp.acosh(z + 3) + w ** (c / 2),
]
#: one point per quadrant for each of z, w, and the parameter c
POINTS = np.array(
    [
        [0.3 + 0.4j, -1.2 + 0.5j],
        [-0.7 - 0.2j, 0.9 - 1.1j],
        [1.5 - 0.6j, -0.4 - 0.8j],
        [-0.25 + 1.3j, 2.0 + 0.1j],
    ]
)
PARAM = np.array([0.6 - 0.35j])


def mp_eval(exprs, symbols, values, dps=30):
    """``exprs`` at ``values`` (exact doubles), by mpmath at ``dps`` digits, as complex128."""
    with mpmath.workdps(dps):
        fn = sp.lambdify(symbols, exprs, modules="mpmath")
        args = [mpmath.mpc(v.real, v.imag) for v in values]
        return np.array([complex(v) for v in np.ravel(fn(*args))], dtype=C128)


def reference_jacobian(exprs, wrt, params, x, p=()):
    matrix = sp.Matrix(exprs).jacobian(wrt)
    out = mp_eval(list(matrix), [*wrt, *params], [*x, *p])
    return out.reshape(matrix.shape)


def assert_close(got, want, rtol=4e-14, what=""):
    """Each entry within ``rtol`` of the reference, relative to the entry or its row."""
    got, want = np.asarray(got), np.asarray(want)
    assert got.dtype == C128 and got.shape == want.shape, (got.dtype, got.shape, want.shape)
    scale = np.maximum(np.abs(want), 1e-3 * np.abs(want).max(axis=-1, keepdims=True))
    bad = np.abs(got - want) > rtol * scale
    assert not bad.any(), f"{what}: got {got[bad]}, want {want[bad]}"


@pytest.fixture(scope="module")
def jac():
    return symjac.jacobian(MODEL, [z, w], [c], dtype=C128, sparse=False, cache=False)


def test_the_jacobian_is_sympys_at_points_in_every_quadrant(jac) -> None:
    assert jac.dtype == C128 and jac.shape == (5, 2)
    for point in POINTS:
        got = jac(point, PARAM)
        assert_close(got, reference_jacobian(MODEL, [z, w], [c], point, PARAM), what=str(point))


def test_function_and_jacobian_and_central_differences_agree() -> None:
    fj = symjac.function_and_jacobian(MODEL, [z, w], [c], dtype=C128, cache=False)
    f = symjac.function(MODEL, [z, w], [c], dtype=C128, cache=False)
    for point in POINTS:
        values, J = fj(point, PARAM)
        assert_close(values, mp_eval(MODEL, [z, w, c], [*point, *PARAM]), what="f")
        assert np.array_equal(values, f(point, PARAM))
        for j in range(2):  # a real step: the holomorphic derivative along any direction
            h = np.zeros(2, C128)
            h[j] = 1e-5
            central = (f(point + h, PARAM) - f(point - h, PARAM)) / 2e-5
            assert np.allclose(J[:, j], central, rtol=1e-8, atol=1e-9)
            h[j] = 1e-5j  # and along the imaginary axis: f'(z)·i h
            central = (f(point + h, PARAM) - f(point - h, PARAM)) / 2e-5j
            assert np.allclose(J[:, j], central, rtol=1e-8, atol=1e-9)


def test_a_batch_equals_its_points_one_at_a_time_bit_for_bit(jac) -> None:
    rng = np.random.default_rng(5)
    pts = rng.normal(size=(1003, 2)) + 1j * rng.normal(size=(1003, 2))
    params = rng.normal(size=(1003, 1)) + 1j * rng.normal(size=(1003, 1))
    one_lane = jac.values(pts, params)
    jac._kernels.batched()  # the SIMD build, and its trial
    for _ in range(6):
        batch = jac.values(pts, params)
    assert batch.dtype == C128 and batch.shape == (1003, jac.nnz)
    singles = np.array([jac.values(pts[i], params[i]) for i in range(40)])
    bits = batch.view(np.int64)
    assert np.array_equal(one_lane.view(np.int64), bits)
    assert np.array_equal(singles.view(np.int64), bits[:40])
    jac.threads = 1
    assert np.array_equal(jac.values(pts, params).view(np.int64), bits)
    dense = jac(pts[:5], params[:5])
    assert np.array_equal(dense[:, jac.pattern.rows, jac.pattern.cols], batch[:5])


def test_hessian_is_complex_and_symmetric() -> None:
    f = sp.exp(z * w) + sp.sin(z) * w**3
    hess = symjac.hessian([f], [z, w], dtype=C128, cache=False)
    point = np.array([0.4 - 0.3j, -0.8 + 0.6j])
    got = hess(point)
    want = mp_eval(list(sp.hessian(f, [z, w])), [z, w], point).reshape(2, 2)
    assert_close(got, want)
    assert got[0, 1] == got[1, 0]


def test_jvp_vjp_and_sparse_results(jac) -> None:
    point, v, u = POINTS[1], np.array([1 - 2j, 0.5j]), np.arange(5) * (1 - 1j)
    J = jac(point, PARAM)
    assert np.allclose(jac.jvp(point, v, PARAM), J @ v, rtol=1e-14)
    assert np.allclose(jac.vjp(point, u, PARAM), u @ J, rtol=1e-14)  # wᵀJ: no conjugate
    assert jac.jvp(point, v, PARAM).dtype == C128
    sparse = symjac.jacobian(MODEL, [z, w], [c], dtype=C128, sparse=True, cache=False)
    S = sparse(point, PARAM)
    assert S.dtype == C128 and np.array_equal(S.toarray(), J)


@pytest.mark.parametrize(
    "fn, ref",
    [
        (sp.sqrt, cmath.sqrt),
        (sp.log, cmath.log),
        (sp.asin, cmath.asin),
        (sp.acos, cmath.acos),
        (sp.atan, cmath.atan),
        (sp.asinh, cmath.asinh),
        (sp.acosh, cmath.acosh),
        (sp.atanh, cmath.atanh),
    ],
)
def test_signed_zeros_choose_the_side_of_a_branch_cut(fn, ref) -> None:
    f = symjac.function([fn(z)], [z], dtype=C128, cache=False)
    cuts = [-4.0, -2.0, -0.5, 0.5, 2.0, 4.0]
    pts = [complex(x, s) for x in cuts for s in (0.0, -0.0)]
    pts += [complex(s, y) for y in cuts for s in (0.0, -0.0)]
    got = f(np.array(pts)[:, None])[:, 0]
    for point, value in zip(pts, got):
        want = ref(point)
        assert cmath.isclose(value, want, rel_tol=1e-14, abs_tol=1e-300), (point, value, want)
        for part, ref_part in ((value.real, want.real), (value.imag, want.imag)):
            if part == 0 and ref_part == 0:
                assert math.copysign(1, part) == math.copysign(1, ref_part), (point, value)


def test_derivatives_near_branch_cuts_match_mpmath() -> None:
    exprs = [sp.log(z), sp.sqrt(z), sp.asin(z), sp.atanh(z)]
    jac = symjac.jacobian(exprs, [z], dtype=C128, cache=False)
    for point in (-2 + 1e-9j, -2 - 1e-9j, 2 + 1e-9j, 2 - 1e-9j, 1e-9 + 3j):
        got = jac(np.array([point]))
        assert_close(got, reference_jacobian(exprs, [z], [], [point]), what=str(point))


def test_real_inputs_are_converted_exactly_and_results_are_complex(jac) -> None:
    real = np.array([0.5, -1.5])
    assert np.array_equal(jac(real, [0.25]), jac(real.astype(C128), np.array([0.25 + 0j])))
    assert jac([1, 2], {c: 1j}).dtype == C128  # lists, ints, a mapping with a complex value
    assert np.array_equal(
        jac(real.astype(np.complex64), PARAM.astype(np.complex64)),
        jac(real.astype(C128), PARAM.astype(np.complex64).astype(C128)),
    )


def test_bad_arrays_are_refused(jac) -> None:
    with pytest.raises(TypeError, match="out must have dtype complex128"):
        jac(POINTS[0], PARAM, out=np.empty((5, 2)))
    with pytest.raises(ValueError, match="shape"):
        jac(np.zeros(4, C128), PARAM)  # a complex point is 2 values, not 4 doubles
    with pytest.raises(TypeError, match="cannot hold exactly"):
        jac(np.zeros(2, np.clongdouble), PARAM)
    out = np.empty((5, 2), C128)
    assert jac(POINTS[0], PARAM, out=out) is out
    real = symjac.jacobian([z * w], [z, w], cache=False)
    with pytest.raises(TypeError, match="real numbers"):
        real(POINTS[0])
    with pytest.raises(TypeError, match="a real number"):
        symjac.jacobian([z * c], [z], [c], cache=False)([1.0], {c: 1j})


def test_what_complex_kernels_refuse() -> None:
    with pytest.raises(NotImplementedError, match="complex128 kernels cannot compile Abs"):
        symjac.jacobian([sp.Abs(z)], [z], dtype=C128)
    with pytest.raises(NotImplementedError, match="cannot compile Piecewise"):
        symjac.function([sp.Piecewise((z, z > 0), (w, True))], [z, w], dtype=C128)
    with pytest.raises(TypeError, match="logdet"):
        symjac.logdet([z * w, z + w], [z, w], dtype=C128)


def test_the_warm_start_gives_the_same_bits(tmp_path) -> None:
    cold = symjac.jacobian(MODEL, [z, w], [c], dtype=C128, cache=tmp_path)
    warm = symjac.jacobian(MODEL, [z, w], [c], dtype=C128, cache=tmp_path)
    assert not cold.stats.warm and warm.stats.warm
    values = [j.values(POINTS, PARAM) for j in (cold, warm)]
    assert np.array_equal(values[0].view(np.int64), values[1].view(np.int64))
    # the twins come back too (kept as complex specs, lowered when a NaN first shows)
    twin_cold = symjac.jacobian(TWIN_MODEL, [z, w], dtype=C128, cache=tmp_path)
    twin_warm = symjac.jacobian(TWIN_MODEL, [z, w], dtype=C128, cache=tmp_path)
    assert twin_warm.stats.warm and len(twin_warm._kernels.deferred) == 2
    pts = _special_grid()
    bits = [j.values(pts).view(np.int64) for j in (twin_cold, twin_warm)]
    assert np.array_equal(*bits)
    # the same expressions compiled as float64 are another record, not this one
    plain = symjac.jacobian([z * w], [z, w], dtype=np.float64, cache=tmp_path)
    cplx = symjac.jacobian([z * w], [z, w], dtype=C128, cache=tmp_path)
    assert not cplx.stats.warm and plain.dtype == np.float64 and cplx.dtype == C128


def test_stages_and_to_sympy_show_the_complex_kernel(jac) -> None:
    assert "complex128" in repr(jac)
    entries = jac.to_sympy()
    assert entries[0, 0].has(sp.I)  # exp(I*z)*I*w + ...: the complex derivative, exactly
    assert jac.stages.dtype == "complex128"
    assert "float64 over (re, im) pairs of complex128" in jac.stages.summary()


# -- property: random holomorphic expressions ----------------------------------------------

UNARY = [sp.exp, sp.sin, sp.cos, sp.tanh, sp.atan, sp.asinh, lambda u: u**2, lambda u: 1 / u]
UNARY += [lambda u: sp.sqrt(u + 2), lambda u: sp.log(u + 3), lambda u: (2 - sp.I) * u]
BINARY = [lambda u, v: u + v, lambda u, v: u * v, lambda u, v: u / (v**2 + 3), lambda u, v: u - v]


@st.composite
def holomorphic(draw, depth: int = 4):
    if depth == 0 or draw(st.integers(0, 3)) == 0:
        return draw(st.sampled_from([z, w, z, w, c, sp.Rational(1, 3), sp.I / 2]))
    if draw(st.booleans()):
        return draw(st.sampled_from(UNARY))(draw(holomorphic(depth - 1)))
    fn = draw(st.sampled_from(BINARY))
    return fn(draw(holomorphic(depth - 1)), draw(holomorphic(depth - 1)))


part = st.floats(-1.5, 1.5, allow_nan=False, allow_subnormal=False)


@settings(max_examples=40, deadline=None, derandomize=True, database=None)
@example(exprs=[z * sp.atan(1 / w)], parts=[0.0, 0.0, 0.0, 0.5, 0.0, 0.0])  # on atan's cut
@given(
    exprs=st.lists(holomorphic(), min_size=1, max_size=2),
    parts=st.lists(part, min_size=6, max_size=6),
)
def test_random_holomorphic_jacobians_match_sympy(exprs, parts) -> None:
    exprs = [e + 0 * z for e in exprs]
    point = np.array([complex(parts[0], parts[1]), complex(parts[2], parts[3])])
    p = np.array([complex(parts[4], parts[5])])
    note(f"{exprs} at {point}, c = {p}")
    try:
        want = reference_jacobian(exprs, [z, w], [c], point, p)
        # entries whose value moves a lot under a relative perturbation of 1e-9, along the
        # real and the imaginary direction, are ill-conditioned or on a branch cut (where
        # mpmath has no signed zeros to pick the side): compare only the others
        others = [
            reference_jacobian(exprs, [z, w], [c], point * (1 + d), p * (1 - d))
            for d in (1e-9, 1e-9j, -1e-9j)
        ]
    except (ZeroDivisionError, ValueError):  # at a pole mpmath raises; nothing to compare
        assume(False)
    ok = np.isfinite(want)
    for other in others:
        ok &= np.abs(other - want) <= 1e-6 * np.abs(want) + 1e-12
    if not ok.any():
        return
    jac = symjac.jacobian(exprs, [z, w], [c], dtype=C128, sparse=False, cache=False)
    got = jac(point, p)
    bad = ok & (np.abs(got - want) > 1e-11 * np.abs(want) + 1e-13)
    assert not bad.any(), (got[bad], want[bad])


# -- emitted code ----------------------------------------------------------------------------


@needs_cc
def test_emitted_c_takes_double_complex_and_equals_the_scalar_jit(tmp_path) -> None:
    exprs = [*MODEL, sp.sqrt(z) * sp.log(w), sp.acosh(z) / sp.atanh(w)]
    jac = symjac.jacobian(exprs, [z, w], [c], dtype=C128, simd=False, sparse=False, cache=False)
    emit(jac, tmp_path, "cjac")
    header = (tmp_path / "cjac.h").read_text()
    assert "#include <complex.h>" in header
    assert "void cjac_values(const double complex *x, const double complex *p," in header
    lib = build_c(tmp_path, ["cjac"])  # -std=c99 -Wall -Wextra -Werror -pedantic
    rng = np.random.default_rng(8)
    pts = rng.normal(size=(64, 2)) + 1j * rng.normal(size=(64, 2))
    special = [[-2, 0.5], [complex(-2, -0.0), 0.5], [0, 1j], [np.inf, 1], [np.nan, 1], [1, 1e300]]
    pts[:6] = special
    params = rng.normal(size=(64, 1)) + 1j * rng.normal(size=(64, 1))
    out = np.full((64, jac.nnz), complex(-7, -7))
    lib.cjac_values(
        ctypes.c_void_p(pts.ctypes.data),
        ctypes.c_void_p(params.ctypes.data),
        ctypes.c_void_p(out.ctypes.data),
        ctypes.c_int64(64),
        ctypes.c_int64(2),
        None,
    )  # fmt: skip  (p_stride counts doubles: one complex parameter is two)
    want = jac.values(pts, params)
    assert_same_float(out.view(np.float64), want.view(np.float64))
    with pytest.raises(ValueError, match="complex128 object is emitted as complex128"):
        emit(jac, tmp_path, "cjac64", dtype=np.float64)


@needs_cc
def test_the_emitted_python_package_is_complex_too(tmp_path) -> None:
    fj = symjac.function_and_jacobian(MODEL, [z, w], [c], dtype=C128, simd=False, cache=False)
    emit(fj, tmp_path, "cpkg", target="python")
    sys.path.insert(0, str(tmp_path))
    try:
        pkg = importlib.import_module("cpkg")
    finally:
        sys.path.remove(str(tmp_path))
    assert pkg.kernel.dtype == C128
    got_f, got_j = pkg.kernel(POINTS, np.tile(PARAM, (4, 1)))
    want_f, want_j = fj(POINTS, np.tile(PARAM, (4, 1)))
    assert got_j.dtype == C128 and np.array_equal(got_j, want_j) and np.array_equal(got_f, want_f)
    with pytest.raises(TypeError, match="complex128"):
        pkg.kernel.values(POINTS, PARAM, out=np.empty((4, 15)))


def _special_grid() -> np.ndarray:
    parts = [0.0, -0.0, 1.5, -2.0, 1e308, -1e-310, np.inf, -np.inf, np.nan]
    values = [complex(a, b) for a in parts for b in parts]
    rng = np.random.default_rng(11)
    return np.array([[values[i], values[j]] for i, j in rng.integers(0, len(values), (600, 2))])


TWIN_MODEL = [z * w / (z + w), (1 + 2j) * z**2 / w**3, sp.exp(z * w) * sp.sqrt(z / w), z**-2]


def test_points_with_a_nan_are_computed_again_with_annex_g_recovery() -> None:
    jac = symjac.jacobian(TWIN_MODEL, [z, w], dtype=C128, sparse=False, cache=False)
    kernels = jac._kernels
    assert [spec.name for spec in kernels.specs] == ["values", "dense"]
    assert [spec.name for spec in kernels.deferred] == ["values_exact", "dense_exact"]
    fast, exact = kernels.specs[0].tape, kernels.deferred[0].spec().tape
    assert len(fast) * 2 < len(exact)  # the recovery is most of the code
    jac.values(POINTS)  # no NaN: the twins are not even compiled
    assert not kernels._deferred
    pts = _special_grid()
    got = jac.values(pts)
    assert kernels._deferred  # compiled on first need
    # the recovering tape alone, on every point: what the fast tape and its twin must equal
    want = jac._execute("values_exact", (jac.nnz,), pts, True, None, None)
    assert np.array_equal(got.view(np.int64), want.view(np.int64))
    # one point at a time: the native one-point method, then the twin where a NaN shows
    singles = np.array([jac.values(pt) for pt in pts[:80]])
    assert "values" in jac._natives and jac._natives["values"] is not None
    assert np.array_equal(singles.view(np.int64), got[:80].view(np.int64))
    # and the recovery matters here: the fast tape alone leaves NaN where it gives infinities
    jac._twin = lambda name: None  # type: ignore[method-assign]
    raw = jac.values(pts)
    ok = ~np.isnan(raw)  # where the fast tape has no NaN, it is the recovering tape
    assert np.array_equal(raw[ok].view(np.int64), got[ok].view(np.int64))
    assert np.isnan(raw).sum() > np.isnan(got).sum() and np.isinf(got).any()


@needs_cc
def test_emitted_c_computes_nan_rows_again_like_the_runtime(tmp_path) -> None:
    jac = symjac.jacobian(TWIN_MODEL, [z, w], dtype=C128, simd=False, sparse=False, cache=False)
    emit(jac, tmp_path, "twin")
    lib = build_c(tmp_path, ["twin"])
    pts = _special_grid()
    out = np.full((len(pts), jac.nnz), complex(-7, -7))
    lib.twin_values(
        ctypes.c_void_p(pts.ctypes.data), None, ctypes.c_void_p(out.ctypes.data),
        ctypes.c_int64(len(pts)), ctypes.c_int64(0), None,
    )  # fmt: skip
    # bit for bit but for NaN's sign and payload, which C compilers do not keep
    assert_same_float(out.view(np.float64), jac.values(pts).view(np.float64))


def test_a_pickled_complex_object_keeps_its_twins() -> None:
    import pickle

    jac = symjac.jacobian(TWIN_MODEL, [z, w], dtype=C128, cache=False)
    again = pickle.loads(pickle.dumps(jac))
    pts = _special_grid()[:200]
    assert again.dtype == C128 and len(again._kernels.deferred) == 2
    assert np.array_equal(again.values(pts).view(np.int64), jac.values(pts).view(np.int64))


@pytest.mark.parametrize(
    "fn, value",
    [(sp.asin, 2), (sp.acos, 2), (sp.atanh, 3), (sp.asinh, -2 * sp.I), (sp.atan, -2 * sp.I)],
)
def test_a_constant_on_a_branch_cut_is_on_the_parameters_side(fn, value) -> None:
    # SymPy evaluates asin(2), atanh(3), ... on the other side of the cut than C99/cmath
    f = symjac.function([z * fn(value), z * fn(c)], [z], [c], dtype=C128, cache=False)
    constant, parameter = f([1 + 0j], [complex(value)])
    # the same side (folding and the kernel may differ in the last bit, not in sign)
    assert cmath.isclose(constant, parameter, rel_tol=1e-15)
    assert cmath.isclose(constant, getattr(cmath, fn.__name__)(complex(value)), rel_tol=1e-15)


def test_hessian_weights_may_be_complex_numbers() -> None:
    exprs = [z**2 * w, sp.exp(z * w)]
    point = np.array([0.3 + 0.1j, -0.5 + 0.2j])
    lagrangian = (1 + 2 * sp.I) * exprs[0] + 3 * sp.I * exprs[1]
    want = mp_eval(list(sp.hessian(lagrangian, [z, w])), [z, w], point).reshape(2, 2)
    for weights in ([1 + 2j, 3j], [1 + 2 * sp.I, 3 * sp.I]):
        hess = symjac.hessian(exprs, [z, w], weights=weights, dtype=C128, cache=False)
        assert_close(hess(point), want)


def test_parameters_in_a_dict_are_checked_as_arrays_are() -> None:
    a = sp.Symbol("a")
    f = symjac.function([z * a], [z], [a], dtype=C128, cache=False)
    assert f([1 + 0j], {"a": 2j})[0] == 2j and f([1 + 0j], {a: sp.Integer(3)})[0] == 3
    for bad, error in [
        (np.str_("1"), TypeError),
        (np.bool_(True), TypeError),
        (np.clongdouble(1 + 1e-30j), TypeError),  # wider than complex128
        (2**60 + 1, ValueError),  # beyond 2**53: not exact
    ]:
        with pytest.raises(error):
            f([1 + 0j], {"a": bad})
