"""Hostile arguments to compiled kernels: every one is either converted exactly or refused.

The rules under test are the docstring of ``symjac/runtime/arguments.py`` (and the
README): points and parameters accept NumPy arrays, lists and tuples; integer
and float16/float32 arrays are converted to float64 exactly; byte-swapped or
non-contiguous float64 arrays are copied; complex, bool, object, string and
long-double arrays are a ``TypeError``; a scalar or a wrong shape is a
``ValueError``; ``out`` is never converted and must be a writeable, C-contiguous,
native float64 array of the exact shape that does not overlap the inputs.
"""

from __future__ import annotations

import ctypes
import ctypes.util
import math

import numpy as np
import pytest
import sympy as sp
from reference import assert_precise_equal

import symjac

X, Y = sp.symbols("x y", real=True)
A, B = sp.symbols("a b", real=True)
inf, nan = math.inf, math.nan
SENTINEL = -12345.5


def ref2(x, y, a):
    """Jacobian of [x²y, sin(ax) + e^y] by hand."""
    return np.array([[2 * x * y, x * x], [a * math.cos(a * x), math.exp(y)]])


@pytest.fixture(scope="module")
def jac():
    """Two variables, one parameter."""
    return symjac.jacobian([X**2 * Y, sp.sin(A * X) + sp.exp(Y)], wrt=[X, Y], params=[A])


@pytest.fixture(scope="module")
def jac_ab():
    """Two variables, two parameters: J = [[a, 0], [0, b·2y], [y, x]]."""
    return symjac.jacobian([A * X, B * Y**2, X * Y], wrt=[X, Y], params=[A, B])


@pytest.fixture(scope="module")
def fun():
    """No parameters, two outputs (so ``out`` has the shape of ``x``)."""
    return symjac.function([X * Y, X - Y], wrt=[X, Y])


PT = np.array([0.75, -1.25])
REF = ref2(0.75, -1.25, 0.5)


# -- points: shapes ------------------------------------------------------------------------


@pytest.mark.parametrize(
    "x",
    [1.0, 2, np.float64(1.0), np.float32(1.0), np.int64(3), np.array(1.0), np.array(2)],
    ids=["float", "int", "f64", "f32", "i64", "0d-f64", "0d-int"],
)
def test_scalar_point_is_a_value_error(jac, x):
    with pytest.raises(ValueError):
        jac(x, [0.5])
    with pytest.raises(ValueError):
        jac.values(x, [0.5])


@pytest.mark.parametrize("shape", [(1, 1, 2), (2, 1, 2), (0, 3, 2), (2, 2, 2), (1, 2, 1, 2)])
def test_three_or_more_dimensions_is_a_value_error(jac, shape):
    with pytest.raises(ValueError):
        jac(np.ones(shape), [0.5])


@pytest.mark.parametrize("shape", [(0,), (1,), (3,), (4, 3), (2, 1), (2, 0), (0, 3), (1, 4)])
def test_wrong_length_is_a_value_error(jac, shape):
    with pytest.raises(ValueError, match="shape"):
        jac(np.ones(shape), [0.5])
    with pytest.raises(ValueError):
        jac.values(np.ones(shape), [0.5])


# -- points: dtypes ------------------------------------------------------------------------


@pytest.mark.parametrize(
    "dtype",
    [np.float16, np.float32, "<f4", ">f4", np.int8, np.int16, np.int32, np.int64, ">i8"],
)
def test_signed_numeric_dtypes_are_converted_exactly(jac, dtype):
    x = (np.array([0.1, -1.7]) if np.dtype(dtype).kind == "f" else np.array([3, -7])).astype(dtype)
    exact = x.astype(np.float64)
    result = jac(x, [0.5])
    assert result.dtype == np.float64
    np.testing.assert_array_equal(result, jac(exact, [0.5]))
    np.testing.assert_allclose(result, ref2(*exact, 0.5), rtol=1e-15)


@pytest.mark.parametrize("dtype", [np.uint8, np.uint16, np.uint32, np.uint64, ">u2"])
def test_unsigned_dtypes_are_converted_exactly(jac, dtype):
    x = np.array([3, 7], dtype=dtype)
    np.testing.assert_allclose(jac(x, [0.5]), ref2(3.0, 7.0, 0.5), rtol=1e-15)


def test_float32_batch_is_converted_exactly(jac):
    x = np.random.default_rng(0).normal(size=(6, 2)).astype(np.float32)
    result = jac(x, [0.5])
    np.testing.assert_array_equal(result, jac(x.astype(np.float64), [0.5]))
    # not the float32-rounded result: every value is the float64 one
    assert result[0, 1, 0] == 0.5 * math.cos(0.5 * float(x[0, 0]))


@pytest.mark.parametrize(
    "values",
    [
        np.array([2**53 + 1, 1], dtype=np.int64),
        np.array([-(2**62) - 1, 1], dtype=np.int64),
        np.array([2**64 - 1, 1], dtype=np.uint64),
        [2**53 + 1, 1],
    ],
    ids=["int64-2**53+1", "int64-large-negative", "uint64-max", "list-2**53+1"],
)
def test_integers_that_float64_cannot_hold_are_not_silently_rounded(values):
    """Integer arrays are documented to convert *exactly*; 2**53 + 1 has no float64.

    f(x, y) = x·y is the product of the integers given, so any float result here would
    be a silently rounded one: the only correct outcome is a refusal.
    """
    f = symjac.function([X * Y], wrt=[X, Y])
    with pytest.raises((TypeError, ValueError)):
        f(values)


REJECTED = {
    "complex128": np.array([1.0, 2.0], dtype=np.complex128),
    "complex64-real-valued": np.array([1.0, 2.0], dtype=np.complex64),
    "object": np.array([1.0, 2.0], dtype=object),
    "bool": np.array([True, False]),
    "str": np.array(["1.0", "2.0"]),
    "bytes": np.array([b"1", b"2"]),
    "longdouble": np.array([1.0, 2.0], dtype=np.longdouble),
    "datetime64": np.array(["2020-01-01", "2020-01-02"], dtype="datetime64[D]"),
    "timedelta64": np.array([1, 2], dtype="timedelta64[s]"),
    "structured": np.zeros(2, dtype=[("a", "f8")]),
    "complex-list": [1 + 0j, 2.0],
    "bool-list": [True, False],
    "str-list": ["1", "2"],
    "none-list": [1.0, None],
}


@pytest.mark.parametrize("name", list(REJECTED))
def test_unconvertible_points_are_a_type_error(jac, name):
    if name == "longdouble" and np.dtype(np.longdouble).itemsize <= 8:
        pytest.skip("long double is double on this platform")
    with pytest.raises(TypeError):
        jac(REJECTED[name], [0.5])
    with pytest.raises(TypeError):
        jac.values(REJECTED[name], [0.5])


@pytest.mark.parametrize(
    "x", [None, "1.0 2.0", b"12", {1.0, 2.0}, memoryview(b"12345678"), object()]
)
def test_non_array_points_are_a_type_error(jac, x):
    with pytest.raises(TypeError):
        jac(x, [0.5])


def test_big_endian_float64_is_converted(jac):
    x = PT.astype(">f8")
    assert not x.dtype.isnative
    np.testing.assert_allclose(jac(x, [0.5]), REF, rtol=1e-15)
    batch = np.array([PT, PT[::-1]]).astype(">f8")
    result = jac(batch, [0.5])
    np.testing.assert_allclose(result[1], ref2(-1.25, 0.75, 0.5), rtol=1e-15)
    np.testing.assert_array_equal(result[0], jac(PT, [0.5]))


def test_lists_and_tuples_are_converted(jac):
    np.testing.assert_allclose(jac([0.75, -1.25], [0.5]), REF, rtol=1e-15)
    np.testing.assert_allclose(jac((0.75, -1.25), (0.5,)), REF, rtol=1e-15)
    np.testing.assert_allclose(jac([3, 7], [0.5]), ref2(3.0, 7.0, 0.5), rtol=1e-15)
    batch = jac([[0.75, -1.25], [3, 7]], [0.5])
    assert batch.shape == (2, 2, 2)
    np.testing.assert_allclose(batch[1], ref2(3.0, 7.0, 0.5), rtol=1e-15)
    np.testing.assert_allclose(jac([np.float32(0.75), -1.25], [0.5]), REF, rtol=1e-15)


def test_ragged_list_is_a_value_error(jac):
    with pytest.raises(ValueError):
        jac([[1.0, 2.0], [3.0]], [0.5])


# -- points: layouts -----------------------------------------------------------------------


def _layouts():
    rng = np.random.default_rng(1)
    base = rng.uniform(-2, 2, size=(5, 2))
    wide = np.zeros((5, 4))
    wide[:, 1:3] = base
    rep = np.repeat(base, 2, axis=0)
    yield "strided-point", np.array([0.75, 9.0, -1.25])[::2]
    yield "reversed-point", np.array([-1.25, 0.75])[::-1]
    yield "column-of-a-wider-batch", wide[:, 1:3]
    yield "every-other-row", rep[::2]
    yield "reversed-rows", base[::-1]
    yield "reversed-columns", base[:, ::-1]
    yield "fortran", np.asfortranarray(base)
    yield "broadcast-stride-0", np.broadcast_to(PT, (4, 2))
    readonly = base.copy()
    readonly.flags.writeable = False
    yield "read-only", readonly


LAYOUTS = dict(_layouts())


@pytest.mark.parametrize("name", list(LAYOUTS))
def test_non_contiguous_points_are_copied_and_correct(jac, name):
    x = LAYOUTS[name]
    before = np.array(x, copy=True)
    result = jac(x, [0.5])
    pts = np.atleast_2d(before)
    expected = np.array([ref2(a, b, 0.5) for a, b in pts])
    np.testing.assert_allclose(result.reshape(expected.shape), expected, rtol=1e-15)
    assert result.shape == ((2, 2) if x.ndim == 1 else (len(x), 2, 2))
    np.testing.assert_array_equal(x, before)  # the caller's array is never written


def test_inputs_are_not_modified(jac_ab):
    x = np.array([[1.0, 2.0], [3.0, 4.0]])
    p = np.array([[0.5, 0.25], [2.0, 3.0]])
    x0, p0 = x.copy(), p.copy()
    jac_ab(x, p)
    jac_ab.values(x, p)
    np.testing.assert_array_equal(x, x0)
    np.testing.assert_array_equal(p, p0)


# -- out -----------------------------------------------------------------------------------


def _readonly():
    out = np.full((2, 2), SENTINEL)
    out.flags.writeable = False
    return out


BAD_OUTS = {
    "read-only": _readonly,
    "wrong-shape": lambda: np.full((2, 3), SENTINEL),
    "flat": lambda: np.full(4, SENTINEL),
    "batch-shape-for-one-point": lambda: np.full((1, 2, 2), SENTINEL),
    "transposed-shape": lambda: np.full((2, 2, 1), SENTINEL),
    "float32": lambda: np.full((2, 2), SENTINEL, dtype=np.float32),
    "int64": lambda: np.full((2, 2), -12345, dtype=np.int64),
    "complex": lambda: np.full((2, 2), SENTINEL, dtype=np.complex128),
    "longdouble": lambda: np.full((2, 2), SENTINEL, dtype=np.longdouble),
    "object": lambda: np.full((2, 2), SENTINEL, dtype=object),
    "non-contiguous": lambda: np.full((2, 4), SENTINEL)[:, ::2],
    "fortran-transpose": lambda: np.full((2, 2), SENTINEL).T[:, ::-1],
    "big-endian": lambda: np.full((2, 2), SENTINEL, dtype=">f8"),
    "list": lambda: [[SENTINEL, SENTINEL], [SENTINEL, SENTINEL]],
    "tuple": lambda: (SENTINEL,) * 4,
}


@pytest.mark.parametrize("name", list(BAD_OUTS))
def test_bad_out_is_refused_and_left_untouched(jac, name):
    out = BAD_OUTS[name]()
    before = out.copy() if isinstance(out, np.ndarray) else out
    with pytest.raises((TypeError, ValueError), match="out"):
        jac(PT, [0.5], out=out)
    if isinstance(out, np.ndarray):
        np.testing.assert_array_equal(out, before)
    else:
        assert out == before


def test_fortran_ordered_batch_out_is_refused(jac):
    out = np.asfortranarray(np.full((3, 2, 2), SENTINEL))
    assert not out.flags.c_contiguous
    with pytest.raises(ValueError, match="out"):
        jac(np.ones((3, 2)), [0.5], out=out)
    assert (out == SENTINEL).all()


def test_out_of_the_dense_shape_for_values_is_refused(jac):
    out = np.full((2, 2), SENTINEL)
    with pytest.raises(ValueError, match="out"):
        jac.values(PT, [0.5], out=out)
    assert (out == SENTINEL).all()


def test_out_overlapping_the_points_is_refused(jac, fun):
    buf = np.full(8, SENTINEL)
    buf[:2] = PT
    x = buf[:2]
    out = buf[1:5].reshape(2, 2)
    before = buf.copy()
    with pytest.raises(ValueError, match="out"):
        jac(x, [0.5], out=out)
    np.testing.assert_array_equal(buf, before)
    # the same array as input and output
    pts = np.array([[1.0, 2.0], [3.0, 4.0]])
    with pytest.raises(ValueError, match="out"):
        fun(pts, out=pts)
    np.testing.assert_array_equal(pts, [[1.0, 2.0], [3.0, 4.0]])


def test_out_overlapping_the_parameters_is_refused(jac):
    buf = np.full(12, SENTINEL)
    params = buf[:3].reshape(3, 1)
    params[:, 0] = [0.5, 1.0, 1.5]
    out = buf.reshape(3, 2, 2)  # its first three doubles are the parameters
    before = buf.copy()
    with pytest.raises(ValueError, match="out"):
        jac(np.ones((3, 2)), params, out=out)
    np.testing.assert_array_equal(buf, before)


def test_out_for_a_batch_of_the_wrong_length_is_refused(jac):
    out = np.full((4, 2, 2), SENTINEL)
    with pytest.raises(ValueError, match="out"):
        jac(np.ones((3, 2)), [0.5], out=out)
    assert (out == SENTINEL).all()


# -- parameters ----------------------------------------------------------------------------


def test_missing_parameters(jac, jac_ab):
    for call in (jac, jac.values):
        with pytest.raises(ValueError, match="a"):
            call(PT)
        with pytest.raises(ValueError):
            call(PT, None)
    with pytest.raises(ValueError):
        jac_ab(PT)


@pytest.mark.parametrize("p", [[0.5, 1.0], [], np.ones(3), np.ones((1, 2))])
def test_wrong_parameter_length_one_parameter(jac, p):
    with pytest.raises(ValueError):
        jac(PT, p)


@pytest.mark.parametrize("p", [[1.0], [1.0, 2.0, 3.0], 1.0, np.ones((1, 3)), np.ones((2, 2, 2))])
def test_wrong_parameter_length_two_parameters(jac_ab, p):
    with pytest.raises(ValueError):
        jac_ab(PT, p)


def test_parameters_for_a_kernel_without_any(fun):
    with pytest.raises(ValueError):
        fun(PT, [1.0])
    with pytest.raises(ValueError):
        fun(PT, 1.0)


@pytest.mark.parametrize(
    "p",
    [{A: 1.0}, {"b": 1.0}, {}],
    ids=["only-a", "only-b-by-name", "empty"],
)
def test_dict_with_missing_keys(jac_ab, p):
    with pytest.raises(ValueError, match=r"\b[ab]\b"):
        jac_ab(PT, p)


@pytest.mark.parametrize(
    "p",
    [
        {A: 1.0, B: 2.0, "c": 3.0},
        {"a": 1.0, "B": 2.0},
        {A: 1.0, sp.Symbol("zz", real=True): 2.0, B: 1.0},
        {0: 1.0, 1: 2.0},
    ],
    ids=["extra-name", "wrong-case", "extra-symbol", "integer-keys"],
)
def test_dict_with_unknown_keys(jac_ab, p):
    with pytest.raises(ValueError):
        jac_ab(PT, p)


@pytest.mark.parametrize("value", [1j, "1.0", None, [1.0], np.ones(1), True])
def test_dict_values_must_be_real_numbers(jac, value):
    with pytest.raises(TypeError):
        jac(PT, {A: value})


def test_dict_naming_one_parameter_twice_with_different_values_is_refused(jac):
    """{a: 1, "a": 5} gives the parameter a two values; silently picking one is a guess."""
    with pytest.raises(ValueError):
        jac(PT, {A: 1.0, "a": 5.0})


@pytest.mark.parametrize(
    "p",
    [True, 1j, "0.5", b"x", np.array([True]), np.array([0.5j]), np.array([0.5], dtype=object)],
    ids=["bool", "complex", "str", "bytes", "bool-array", "complex-array", "object-array"],
)
def test_unconvertible_parameters(jac, p):
    with pytest.raises(TypeError):
        jac(PT, p)


def test_two_dimensional_parameters_need_a_batch_of_points(jac):
    for p in ([[0.5]], np.array([[0.5]]), np.ones((3, 1))):
        with pytest.raises(ValueError):
            jac(PT, p)


@pytest.mark.parametrize("n_points, n_params", [(3, 2), (3, 4), (3, 1), (0, 1), (1, 0), (2, 3)])
def test_mismatched_batch_sizes(jac, n_points, n_params):
    with pytest.raises(ValueError):
        jac(np.ones((n_points, 2)), np.full((n_params, 1), 0.5))


def test_parameter_batch_layouts_pair_correctly(jac_ab):
    pts = np.array([[1.0, 2.0], [3.0, -4.0], [0.5, 0.25]])
    params = np.array([[0.5, 0.25], [2.0, 3.0], [-1.0, 7.0]])
    expected = np.array(
        [[[a, 0.0], [0.0, 2 * b * y], [y, x]] for (x, y), (a, b) in zip(pts, params)]
    )
    for p in (
        params,
        np.asfortranarray(params),
        params.astype(">f8"),
        params.astype(np.float32),
        params.tolist(),
        np.repeat(params, 2, axis=0)[::2],
    ):
        np.testing.assert_array_equal(jac_ab(pts, p), expected)
    np.testing.assert_array_equal(jac_ab(pts[::-1], params[::-1]), expected[::-1])


# -- NaN and infinity ----------------------------------------------------------------------


def _bits_equal(a, b):
    a, b = np.asarray(a, dtype=np.float64), np.asarray(b, dtype=np.float64)
    same_nan = np.isnan(a) & np.isnan(b)
    return bool(np.all(same_nan | (a.view(np.int64) == b.view(np.int64))))


@pytest.fixture(scope="module", params=[False, True], ids=["libm", "libmvec"])
def ieee_function(request):
    return symjac.function(
        [X * Y, X + Y, sp.exp(X), 1 / X, sp.sqrt(X), sp.log(X), X - Y],
        wrt=[X, Y],
        vector_libm=request.param,
    )


@pytest.mark.parametrize(
    "point, expected",
    [
        ((inf, 0.0), [nan, inf, inf, 0.0, inf, inf, inf]),
        ((-inf, inf), [-inf, nan, 0.0, -0.0, nan, nan, -inf]),
        ((-0.0, -0.0), [0.0, -0.0, 1.0, -inf, -0.0, -inf, 0.0]),
        ((0.0, -0.0), [-0.0, 0.0, 1.0, inf, 0.0, -inf, 0.0]),
        ((nan, 1.0), [nan, nan, nan, nan, nan, nan, nan]),
        ((-1.0, inf), [-inf, inf, math.exp(-1.0), -1.0, nan, nan, -inf]),
        ((inf, inf), [inf, inf, inf, 0.0, inf, inf, nan]),
    ],
)
def test_nan_and_inf_propagate_as_ieee(ieee_function, point, expected):
    got = ieee_function(np.array(point))
    # libmvec's elementary functions are within 4 ulp; everything else is exact, and every
    # NaN, infinity and signed zero is exactly IEEE's either way
    assert_precise_equal(got, expected, str(point), rtol=0.0, row_atol=0.0, ulps=4)
    finite = np.isfinite(expected)
    assert _bits_equal(np.where(finite, 0.0, got), np.where(finite, 0.0, expected))
    assert np.array_equal(np.signbit(got[got == 0]), np.signbit(np.array(expected)[got == 0]))


def test_nan_and_inf_in_jacobians(jac):
    got = jac(np.array([inf, 1.0]), [0.5])
    assert got[0, 0] == inf and got[0, 1] == inf and math.isnan(got[1, 0])
    assert_precise_equal(got[1, 1], math.e, rtol=0.0, row_atol=0.0, ulps=4)  # libmvec exp
    got = jac(np.array([inf, 0.0]), [0.5])
    assert math.isnan(got[0, 0])  # 2·inf·0
    got = jac(np.array([1.0, 2.0]), [nan])
    assert math.isnan(got[1, 0])
    np.testing.assert_array_equal(got[0], [4.0, 1.0])
    assert_precise_equal(got[1, 1], math.exp(2.0), rtol=0.0, row_atol=0.0, ulps=4)


def test_structural_zeros_stay_zero_at_nan_and_inf():
    j = symjac.jacobian([X * Y, Y**2, sp.exp(X)], wrt=[X, Y])
    got = j(np.array([nan, inf]))
    assert got[1, 0] == 0.0 and not np.signbit(got[1, 0])
    assert got[2, 1] == 0.0 and not np.signbit(got[2, 1])
    assert got[0, 0] == inf and math.isnan(got[0, 1])
    assert math.isnan(got[2, 0]) and got[1, 1] == inf


# -- the floating-point environment --------------------------------------------------------

_LIBM = ctypes.CDLL(ctypes.util.find_library("m") or "libm.so.6")


def _assert_ieee_environment():
    smallest = np.float64(5e-324)
    assert smallest * 1.0 != 0  # no denormals-are-zero
    assert np.nextafter(0.0, 1.0) > 0
    assert np.float64(2.2250738585072014e-308) / 2 == np.float64(1.1125369292536007e-308)
    assert np.float64(1e-160) * np.float64(1e-160) > 0  # no flush-to-zero
    assert np.float64(1e-10) * np.float64(1e-300) != 0
    # round to nearest, ties to even
    one = np.float64(1.0)
    assert one + np.float64(2.0**-53) == one
    assert one + np.float64(3 * 2.0**-53) == one + np.float64(2.0**-51)
    assert one - np.float64(2.0**-54) == one
    assert -one - np.float64(2.0**-54) == -one
    assert np.float64(0.1) + np.float64(0.2) == 0.30000000000000004


def test_compiling_and_calling_leave_the_fp_environment_alone():
    _assert_ieee_environment()
    rounding = _LIBM.fegetround()
    jac_plain = symjac.jacobian([sp.sin(X) * Y, X / Y], wrt=[X, Y])
    _assert_ieee_environment()
    jac_fast = symjac.jacobian([sp.sin(X) * Y, X / Y], wrt=[X, Y], fastmath=True)
    _assert_ieee_environment()
    pts = np.random.default_rng(2).uniform(0.5, 2.0, size=(100, 2))
    for j in (jac_plain, jac_fast):
        j(pts)
        j.values(pts[0])
        _assert_ieee_environment()
    assert _LIBM.fegetround() == rounding


def test_kernels_compute_subnormals():
    f = symjac.function([X * sp.Float(1e-300), X * A, 2 * X], wrt=[X], params=[A])
    got = f(np.array([1e-10]), [1e-300])
    expected = 1e-10 * 1e-300
    assert 0 < expected < np.finfo(np.float64).tiny  # a subnormal
    assert got[0] == expected and got[1] == expected
    tiny = f(np.array([5e-324]), [1.0])
    assert tiny[1] == 5e-324 and tiny[2] == 1e-323  # subnormal inputs are not zero
    _assert_ieee_environment()
