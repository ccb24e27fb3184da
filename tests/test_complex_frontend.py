"""The symbolic side of complex kernels: conversion, refusals, derivatives, constants.

Complex derivatives are checked against SymPy's own ``diff`` evaluated at complex points
(principal branches, away from the cuts); the kernels' numbers are tested in
tests/test_complex.py.
"""

from __future__ import annotations

import cmath
import math

import pytest
import sympy as sp

from symjac.frontend.convert import to_graph
from symjac.frontend.tosympy import tape_to_sympy
from symjac.ir import serial
from symjac.ir.graph import Graph
from symjac.ir.ops import INFO, Op
from symjac.ir.tape import KernelSpec, Tape
from symjac.passes.diff import PARTIALS, gradients
from symjac.passes.rules import fold_complex, rewriter

z, w = sp.symbols("z w")
HOLOMORPHIC_FUNCTIONS = [
    sp.exp, sp.log, sp.sqrt, sp.sin, sp.cos, sp.tan, sp.asin, sp.acos, sp.atan, sp.sinh,
    sp.cosh, sp.tanh, sp.asinh, sp.acosh, sp.atanh, sp.sec, sp.csc, sp.cot, sp.sech, sp.csch,
    sp.coth,
]  # fmt: skip
#: points off every branch cut, one per quadrant, near and far from the origin
POINTS = [0.3 + 0.4j, -0.7 + 0.2j, -0.25 - 0.6j, 0.8 - 0.3j, 2.5 + 1.5j, -3.0 - 2.0j]


def complex_graph() -> Graph:
    return Graph(rewriter(("algebraic", "numeric"), complex_=True))


def derivative(expr: sp.Expr) -> sp.Expr:
    """d expr/dz as symjac builds it (complex graph, complex derivative rules), in SymPy."""
    g = complex_graph()
    g, (root,) = to_graph([expr], [z], [], g, complex_=True)
    (grad,) = gradients(g, [root], 1, complex_=True)
    tape = Tape.from_graph(g, [grad[0]], 1, 0, allow_composite=True)
    (d,) = tape_to_sympy(tape, [z], [])
    return d


@pytest.mark.parametrize("fn", HOLOMORPHIC_FUNCTIONS, ids=lambda f: f.__name__)
def test_derivatives_are_the_complex_derivatives(fn):
    expr = fn(z**2 + (1 + 2 * sp.I) * z / 3)
    ours, theirs = derivative(expr), sp.diff(expr, z)
    for point in POINTS:
        got = complex(ours.evalf(30, subs={z: point}))
        expect = complex(theirs.evalf(30, subs={z: point}))
        assert cmath.isclose(got, expect, rel_tol=1e-12), (fn, point, got, expect)


def test_asinh_derivative_is_not_the_real_hypot_form():
    # 1/hypot(z, 1) is |1 + z²|^(-1/2) for complex z: right modulus, wrong phase
    ours = derivative(sp.asinh(z))
    assert not ours.has(sp.Abs)
    got = complex(ours.evalf(30, subs={z: 0.5 + 0.5j}))
    assert cmath.isclose(got, 1 / cmath.sqrt(1 + (0.5 + 0.5j) ** 2), rel_tol=1e-14)


@pytest.mark.parametrize("fn", [sp.asin, sp.acos, sp.asinh])
def test_inverse_function_derivatives_do_not_overflow_for_large_arguments(fn):
    # 1/sqrt(1 ± z²) would square z: 0 (or NaN) for |z| > 1e154; the derivative is ~ ±1/(iz)
    import numpy as np

    import symjac

    jac = symjac.jacobian([fn(z)], [z], dtype=np.complex128, cache=False)
    for point in (3e200 + 1e200j, -2e250 + 5e249j, 1e-3 + 4e170j):
        got = complex(jac(np.array([point]))[0, 0])
        want = complex(sp.diff(fn(z), z).evalf(30, subs={z: point}))
        assert cmath.isclose(got, want, rel_tol=1e-13), (point, got, want)


@pytest.mark.parametrize(
    "expr, name",
    [
        (sp.Abs(z), "Abs"),
        (sp.re(z), "re"),
        (sp.im(z), "im"),
        (sp.conjugate(z), "conjugate"),
        (sp.arg(z), "arg"),
        (sp.sign(z), "sign"),
        (sp.floor(z), "floor"),
        (sp.ceiling(z), "ceiling"),
        (sp.Max(z, w), "Max"),
        (sp.Min(z, 1), "Min"),
        (sp.Heaviside(z), "Heaviside"),
        (sp.Piecewise((z, z > 0), (w, True)), "Piecewise"),
        (sp.atan2(z, w), "atan2"),
        (sp.erf(z), "erf"),
        (sp.gamma(z), "gamma"),
        (z * sp.Abs(w) + 1, "Abs"),
    ],
)
def test_non_holomorphic_functions_are_refused_by_name(expr, name):
    with pytest.raises(NotImplementedError, match=rf"complex128 kernels cannot compile {name}\b"):
        to_graph([expr], [z, w], [], complex_graph(), complex_=True)


def test_real_kernels_still_take_them():
    g, roots = to_graph([sp.Abs(z), sp.Max(z, w)], [z, w], [])
    assert [g.ops[r] for r in roots] == [Op.ABS, Op.MAX]


def test_constants_keep_their_imaginary_parts():
    g = complex_graph()
    exprs = [sp.I * z, (2 + 3 * sp.I) * z, sp.exp(sp.I * sp.pi / 3) + z, sp.log(-2) * z, 2 * z]
    g, roots = to_graph(exprs, [z], [], g, complex_=True)
    tape = Tape.from_graph(g, roots, 1, 0)
    consts = {a for op, a in zip(tape.ops, tape.attrs) if op is Op.CONST}
    assert 1j in consts and 2 + 3j in consts and 2.0 in consts
    assert complex(math.log(2), math.pi) in consts
    e = cmath.exp(1j * math.pi / 3)
    assert any(type(c) is complex and cmath.isclose(c, e, rel_tol=1e-15) for c in consts)
    # a real constant is a float: a real operand (2*z scales both parts, Annex G G.5.1)
    assert type(next(c for c in consts if c == 2.0)) is float


def test_real_kernels_keep_computing_nan_for_imaginary_constants():
    with pytest.warns(RuntimeWarning, match="imaginary unit"):
        g, (root,) = to_graph([sp.I * z], [z], [])
    assert any(g.ops[n] is Op.CONST and math.isnan(g.attrs[n]) for n in g.cone([root]))


@pytest.mark.parametrize(
    "op, args, expect",
    [
        (Op.SQRT, (-4.0,), 2j),
        (Op.LOG, (-1.0,), complex(0, math.pi)),
        (Op.MUL, (1j, 1j), -1.0),
        (Op.ADD, (0.5, 0.25), 0.75),
        (Op.ACOS, (2.0,), cmath.acos(2.0)),
        (Op.EXP, (1.0,), math.exp(1.0)),
    ],
)
def test_constant_folding_is_complex(op, args, expect):
    g = Graph()
    node = fold_complex(g, op, tuple(g.const(a) for a in args), None)
    assert node is not None and g.ops[node] is Op.CONST
    value = g.attrs[node]
    assert value == expect
    assert type(value) is type(expect)  # real results are real constants


def test_folding_leaves_what_python_cannot_compute_to_the_kernel():
    g = Graph()
    assert fold_complex(g, Op.DIV, (g.const(1j), g.const(0.0)), None) is None
    assert fold_complex(g, Op.DIV, (g.const(1.0), g.const(0.0)), None) is not None  # real: inf


def test_graph_tells_real_from_complex_constants():
    g = Graph()
    assert g.const(1.0) != g.const(1 + 0j) != g.const(complex(1, -0.0))
    assert g.const(complex(0.0, -0.0)) != g.const(0j)


def test_complex_constants_survive_the_warm_start_record():
    g = Graph()
    x = g.var(0)
    outputs = [g.mul(g.const(1.5 - 2j), x), g.add(g.const(complex(-0.0, math.inf)), x)]
    tape = Tape.from_graph(g, outputs, 1, 0)
    spec = KernelSpec("f", tape, 2, (0, 1))
    (got,), _, _, _ = serial.loads(serial.dumps([tape], [spec], {}))
    assert [(type(a), repr(a)) for a in got.attrs] == [(type(a), repr(a)) for a in tape.attrs]


def test_holomorphic_rows_have_complex_forms():
    for op, info in INFO.items():
        if info.holomorphic and info.arity:
            assert op in (Op.NEG, Op.ADD, Op.SUB, Op.MUL, Op.DIV) or op in PARTIALS or info.d, op


def test_the_op_table_and_the_complex_lowering_agree_on_what_is_holomorphic():
    from symjac.passes.complexify import LOWERINGS

    holomorphic = {op for op, info in INFO.items() if info.holomorphic}
    assert holomorphic == set(LOWERINGS)
