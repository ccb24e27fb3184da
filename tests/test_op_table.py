"""The op table (``symjac.ir.ops.INFO``) and every stage that reads it, op by op.

Each stage has a completeness test: a new row that a stage does not cover fails
here, naming the op. The reference semantics (``symjac.ir.scalar.run``, the tape
interpreter) is the oracle: the LLVM kernels, scalar and SIMD, must compute
every primitive op with the same bits at ordinary and special values, and the
derivative formulas must agree with finite differences of the reference.
"""

from __future__ import annotations

import itertools
import math
import subprocess
import sys

import numpy as np
import pytest
import sympy as sp
import sympy.codegen.cfunctions as cf
from reference import SympyReference, assert_precise_equal
from symjac.codegen import c as c_printer
from symjac.codegen.llvm.build import Build, build_kernels

import symjac
from symjac.frontend.convert import sympy_function, to_graph
from symjac.frontend.tosympy import _BUILD
from symjac.ir import scalar
from symjac.ir.graph import Graph
from symjac.ir.ops import COMPOSITE, INFO, LEAVES, Op, is_bool
from symjac.ir.tape import KernelSpec, Tape
from symjac.passes import diff, formula
from symjac.passes.composites import expand_composites
from symjac.passes.rules import rewrite

inf, nan = math.inf, math.nan
PRIMITIVE = [op for op in Op if op not in LEAVES and op not in COMPOSITE]
#: derivatives written as code in diff.py (sparse sums, branches, n-ary extrema)
BY_CODE = {Op.ADD, Op.SUB, Op.MUL, Op.DIV, Op.SELECT, Op.MAX, Op.MIN, *diff.PARTIALS}
SPECIAL = [0.0, -0.0, 0.5, -1.5, 2.0, 3.0, 1e-310, 710.0, inf, -inf, nan]


def _ids(op: Op) -> str:
    return op.name


def test_every_op_has_one_row():
    assert set(INFO) == set(Op)
    for op, info in INFO.items():
        assert info.arity == (0 if op in LEAVES else info.arity) >= 0
        assert not info.vector or info.libm, f"{op.name}: vector without a libm name"
        assert len(info.d) in (0, info.arity), f"{op.name}: one formula per argument"


@pytest.mark.parametrize("op", [op for op in Op if INFO[op].d], ids=_ids)
def test_every_formula_parses_and_uses_only_its_arguments(op):
    bound = {"a", "b"}.intersection("ab"[: INFO[op].arity]) | {"f"}
    for text in INFO[op].d:
        if text is None:
            continue
        tree = formula.parse(text)
        stack, used = [tree], set()
        while stack:
            t = stack.pop()
            if t[0] == "var":
                used.add(t[1])
            elif t[0] == "call":
                stack.extend(t[2])
            elif t[0] in ("neg", "^"):
                stack.append(t[1])
            elif t[0] != "num":
                stack.extend(t[1:])
        assert used <= bound, f"{op.name}: {text!r} uses {used - bound}"


def test_formula_errors_say_what_is_wrong():
    with pytest.raises(ValueError, match="no op named 'sine'"):
        formula.parse("sine(a)")
    with pytest.raises(ValueError, match="takes 2 arguments"):
        formula.parse("hypot(a)")
    with pytest.raises(ValueError, match="must be an integer"):
        formula.parse("a^b")
    with pytest.raises(ValueError, match="expected \\)"):
        formula.parse("cos(a")


@pytest.mark.parametrize("op", [op for op in Op if op not in LEAVES], ids=_ids)
def test_every_real_op_can_be_differentiated(op):
    if is_bool(op):
        return  # truth values have no derivative; a select differentiates its branches
    assert INFO[op].d or op in BY_CODE or op is Op.DIGAMMA, f"no derivative rule for {op.name}"


@pytest.mark.parametrize("op", PRIMITIVE, ids=_ids)
def test_the_reference_evaluates_every_primitive_op(op):
    values = {Op.AND: [True, False], Op.OR: [True, False], Op.NOT: [True]}.get(op, [0.5, 2.0, 3.0])
    if op is Op.SELECT:
        values = [True, 1.0, 2.0]
    result = scalar.apply(op, values[: INFO[op].arity], 3)
    assert isinstance(result, bool) == is_bool(op)


def test_composites_are_refused_by_the_reference():
    with pytest.raises(ValueError, match="composite"):
        scalar.apply(Op.DIGAMMA, [1.0])


@pytest.mark.parametrize("op", [op for op in Op if INFO[op].sympy], ids=_ids)
def test_the_front_end_converts_every_sympy_name(op):
    symbols = sp.symbols("u v", real=True)
    args = [2 if i in INFO[op].integer_args else s for i, s in enumerate(symbols)]  # an order
    for name in INFO[op].sympy:
        fn = sympy_function(name)
        expr = fn(*args[: INFO[op].arity])
        g, (root,) = to_graph([expr], symbols, [], Graph())
        assert g.ops[root] is op, f"{expr} became {g.ops[root]}"


@pytest.mark.parametrize(
    "op", [op for op in Op if op not in LEAVES and op is not Op.POWI], ids=_ids
)
def test_to_sympy_writes_every_op(op):
    assert op in _BUILD


@pytest.mark.parametrize("op", PRIMITIVE, ids=_ids)
def test_the_c_printer_covers_every_primitive_op(op):
    assert c_printer.supported(op)


def _tape_of(op: Op) -> tuple[Tape, int]:
    """``op`` applied to inputs x0, x1, x2 (comparisons of them where it wants truth values),
    its truth value written as 1.0/0.0; returns the tape and how many inputs it reads."""
    g = Graph()  # no rules: the tape holds exactly the op under test
    arity, ints = INFO[op].arity, INFO[op].integer_args
    x = [g.var(i) for i in range(3)]
    if ints:  # an order: a constant (2), the other arguments read x0, x1, ...
        x = [g.const(2.0) if i in ints else x[i - sum(k < i for k in ints)] for i in range(3)]
    if INFO[op].operands == "bool":
        args = (g.call(Op.LT, x[0], x[1]), g.call(Op.LE, x[1], x[2]))[:arity]
    elif op is Op.SELECT:
        args = (g.call(Op.LT, x[0], x[1]), x[1], x[2])
    else:
        args = tuple(x[:arity])
    node = g.make(op, args, 3 if op is Op.POWI else None)
    if is_bool(op):
        node = g.select(node, g.const(1.0), g.const(0.0))
    n_vars = 3 if INFO[op].operands in ("bool", "select") else arity - len(ints)
    return Tape.from_graph(g, [node], n_vars, 0), n_vars


def _same_bits(a: np.ndarray, b: np.ndarray) -> np.ndarray:
    both_nan = np.isnan(a) & np.isnan(b)
    return both_nan | (a.view(np.int64) == b.view(np.int64))


@pytest.mark.parametrize("op", PRIMITIVE, ids=_ids)
def test_llvm_kernels_compute_every_primitive_op_as_the_reference(op):
    tape, n_vars = _tape_of(op)
    points = np.array(list(itertools.product(SPECIAL, repeat=n_vars)), dtype=np.float64)
    want = np.array([scalar.run(tape, row.tolist()) for row in points], dtype=np.float64)
    spec = KernelSpec("f", tape, 1, (0,))
    one = build_kernels([spec], Build(vector_libm=False), lanes=1)
    for kernels in (one, one.batched()):  # one lane, and every lane of the SIMD build
        out = np.full((len(points), 1), 1.25)
        kernels.jit.kernel("f")(points.ctypes.data, None, out.ctypes.data, len(points), 0, None)
        bad = ~_same_bits(out, want)
        assert not bad.any(), (
            f"{op.name} at {points[bad.any(axis=1)][:3]}: {out[bad][:3]} != {want[bad][:3]}"
        )


#: where each op is smooth, for finite differences (default: 0.3 and 0.7 in every argument)
SMOOTH = {Op.ACOSH: (1.5, 2.5), Op.LOG: (0.3, 1.7), Op.GAMMA: (0.3, 2.5), Op.LGAMMA: (0.3, 2.5)}


@pytest.mark.parametrize("op", [op for op in Op if INFO[op].d], ids=_ids)
def test_every_formula_agrees_with_finite_differences_of_the_reference(op):
    g = Graph(rewrite)
    arity, ints = INFO[op].arity, INFO[op].integer_args
    x = [g.const(2.0) if i in ints else g.var(i) for i in range(arity)]  # an order: 2
    node = g.make(op, tuple(x))
    (grad,) = diff.gradients(g, [node], arity)
    roots = expand_composites(g, [node, *(grad.get(i, g.const(0.0)) for i in range(arity))])
    tape = Tape.from_graph(g, roots, arity, 0)
    lo, hi = SMOOTH.get(op, (0.3, 0.7))
    for point in itertools.product((lo, hi), repeat=arity):
        _, *derivative = scalar.run(tape, point)
        for i in range(arity):
            if INFO[op].d[i] is None:
                assert i not in grad, f"{op.name}: a structural zero has an entry"
                continue
            assert i not in ints, f"{op.name}: an order has no derivative"
            h = 1e-6 * max(1.0, abs(point[i]))
            up, down = list(point), list(point)
            up[i] += h
            down[i] -= h
            fd = (scalar.run(tape, up)[0] - scalar.run(tape, down)[0]) / (2 * h)
            assert derivative[i] == pytest.approx(fd, rel=1e-6, abs=1e-8), (op.name, point, i)


def test_c99_functions_of_sympy_are_found_whenever_their_module_is_imported():
    # sympy.codegen.cfunctions is resolved on first sight of one of its classes, not
    # imported with the front end: a fresh process that imports it afterwards still works
    code = (
        "import symjac.frontend.convert as c, sys\n"
        "assert 'sympy.codegen.cfunctions' not in sys.modules\n"
        "import sympy as sp, symjac\n"
        "from sympy.codegen.cfunctions import log1p\n"
        "x = sp.Symbol('x')\n"
        "print(symjac.jacobian([log1p(x)], [x])([1.0])[0, 0])\n"
    )
    done = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True)
    assert done.returncode == 0, done.stderr
    assert float(done.stdout) == 0.5


def test_a_hessian_of_the_c99_functions_agrees_with_sympy():
    x, y, a = sp.symbols("x y a", real=True)
    objective = (
        cf.expm1(x * y) + cf.log1p(x**2) + cf.Cbrt(x - 2 * y) + cf.hypot(x, a)
        + cf.exp2(y) * cf.log10(1 + x**2) + cf.log2(2 + y**2)
    )  # fmt: skip
    h = symjac.hessian(objective, [x, y], [a])
    gradient = list(sp.Matrix([objective]).jacobian([x, y]))
    ref = SympyReference(gradient, [x, y], [a])
    rng = np.random.default_rng(5)
    pts = rng.uniform(-2.0, 2.0, (40, 2))
    pts[:, 0] = np.abs(pts[:, 0]) + 2.0 * np.abs(pts[:, 1]) + 0.1  # x - 2y > 0: a real reference
    pts[:, 1] = -np.abs(pts[:, 1])
    assert_precise_equal(h(pts, [0.7]), ref.jacobian(pts, [0.7]), "(Hessian)")
