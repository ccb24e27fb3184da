"""Rule sets (symjac.passes.rules): each numeric rule on its own, the cost gate, the option,
accuracy against mpmath at 50 digits, and the algebraic set's value preservation (hypothesis).

The algebraic rules one by one are in test_ir.py (RULE_CASES) and, end to end through LLVM,
in test_simplify.py.
"""

from __future__ import annotations

import dataclasses
import math

import mpmath
import numpy as np
import pytest
import sympy as sp
from hypothesis import given, settings
from hypothesis import strategies as st
from reference import assert_same_float

import symjac
from symjac.frontend.convert import to_graph
from symjac.ir import scalar
from symjac.ir.graph import Graph
from symjac.ir.ops import Op
from symjac.ir.tape import Tape
from symjac.options import Options
from symjac.passes import rules

NUMERIC = rules.rewriter(["algebraic", "accurate"])  # every numeric rule, ungated


def _sq(g, a, form):
    return g.intern(Op.POWI, (a,), 2) if form == "powi" else g.intern(Op.MUL, (a, a))


# name -> (op, builder of the arguments (sub-nodes interned: only the top rule is tested),
#          attr, the op of the result, or None: the rule must not fire)
NUMERIC_CASES = {
    "log(1 + x)": (Op.LOG, lambda g, x, y: (g.intern(Op.ADD, (g.const(1.0), x)),), Op.LOG1P),
    "log(x + 1)": (Op.LOG, lambda g, x, y: (g.intern(Op.ADD, (x, g.const(1.0))),), Op.LOG1P),
    "log(2 + x) (kept)": (Op.LOG, lambda g, x, y: (g.intern(Op.ADD, (x, g.const(2.0))),), None),
    "log(1 - x)": (Op.LOG, lambda g, x, y: (g.intern(Op.SUB, (g.const(1.0), x)),), Op.LOG1P),
    "log(x - 1) (kept)": (Op.LOG, lambda g, x, y: (g.intern(Op.SUB, (x, g.const(1.0))),), None),
    "log(exp(x))": (Op.LOG, lambda g, x, y: (g.intern(Op.EXP, (x,)),), Op.VAR),
    "exp(x) + -1": (Op.ADD, lambda g, x, y: (g.intern(Op.EXP, (x,)), g.const(-1.0)), Op.EXPM1),
    "-1 + exp(x)": (Op.ADD, lambda g, x, y: (g.const(-1.0), g.intern(Op.EXP, (x,))), Op.EXPM1),
    "exp(x) + 1 (kept)": (Op.ADD, lambda g, x, y: (g.intern(Op.EXP, (x,)), g.const(1.0)), None),
    "exp(x) - 1": (Op.SUB, lambda g, x, y: (g.intern(Op.EXP, (x,)), g.const(1.0)), Op.EXPM1),
    "1 - exp(x)": (Op.SUB, lambda g, x, y: (g.const(1.0), g.intern(Op.EXP, (x,))), Op.NEG),
    "exp(x) - 2 (kept)": (Op.SUB, lambda g, x, y: (g.intern(Op.EXP, (x,)), g.const(2.0)), None),
    "sqrt(x**2 + y**2)": (
        Op.SQRT,
        lambda g, x, y: (g.intern(Op.ADD, (_sq(g, x, "powi"), _sq(g, y, "powi"))),),
        Op.HYPOT,
    ),
    "sqrt(x*x + y*y)": (
        Op.SQRT,
        lambda g, x, y: (g.intern(Op.ADD, (_sq(g, x, "mul"), _sq(g, y, "mul"))),),
        Op.HYPOT,
    ),
    "sqrt(x**2 + 1)": (
        Op.SQRT,
        lambda g, x, y: (g.intern(Op.ADD, (_sq(g, x, "powi"), g.const(1.0))),),
        Op.HYPOT,
    ),
    "sqrt(x**2 + 2) (kept: sqrt(2) is not exact)": (
        Op.SQRT,
        lambda g, x, y: (g.intern(Op.ADD, (_sq(g, x, "powi"), g.const(2.0))),),
        None,
    ),
    "sqrt(x**2 - y**2) (kept)": (
        Op.SQRT,
        lambda g, x, y: (g.intern(Op.SUB, (_sq(g, x, "powi"), _sq(g, y, "powi"))),),
        None,
    ),
    "sqrt(x**3 + y**2) (kept)": (
        Op.SQRT,
        lambda g, x, y: (g.intern(Op.ADD, (g.intern(Op.POWI, (x,), 3), _sq(g, y, "powi"))),),
        None,
    ),
    "sqrt(x*y + y*y) (kept)": (
        Op.SQRT,
        lambda g, x, y: (g.intern(Op.ADD, (g.intern(Op.MUL, (x, y)), _sq(g, y, "mul"))),),
        None,
    ),
}


def test_every_numeric_rule_has_a_case():
    g = Graph(NUMERIC)
    x, y = g.var(0), g.var(1)
    fired = set()
    for op, build, _ in NUMERIC_CASES.values():
        for r in rules.ACCURATE.rules:
            if r.op is op and r.fn(g, build(g, x, y), None) is not None:
                fired.add(r.name)
    assert fired == {r.name for r in rules.ACCURATE.rules}


@pytest.mark.parametrize("name", list(NUMERIC_CASES))
def test_numeric_rule_fires_where_it_should_and_only_there(name):
    op, build, result = NUMERIC_CASES[name]
    g = Graph(NUMERIC)
    x, y = g.var(0), g.var(1)
    args = build(g, x, y)
    made = g.make(op, args)
    if result is None:
        assert made == g.intern(op, args), f"{name}: a rule fired"
        return
    assert g.ops[made] is result, (name, g.ops[made])
    # the value agrees with the naive form where the naive form is accurate
    raw = g.intern(op, args)
    for point in ([0.3, 0.7], [0.75, -1.5], [-0.4, 2.0]):
        tape = Tape.from_graph(g, [raw, made], 2, 0)
        want, got = scalar.run(tape, point)
        if math.isfinite(want):  # type: ignore[arg-type]
            assert got == pytest.approx(want, rel=1e-15, abs=1e-300), (name, point)


def test_algebraic_set_has_no_numeric_rule():
    g = Graph(rules.rewrite)
    x = g.var(0)
    naive = g.call(Op.LOG, g.add(x, g.const(1.0)))
    assert g.ops[naive] is Op.LOG


def test_rule_sets_are_listable_with_one_line_docs():
    assert list(rules.SETS) == ["algebraic", "numeric", "accurate"]
    names = [r.name for s in rules.SETS.values() for r in s.rules]
    assert len(set(names)) == len(rules.ALGEBRAIC.rules) + len(rules.ACCURATE.rules)
    for s in rules.SETS.values():
        for r in s.rules:
            assert "→" in r.doc and "\n" not in r.doc, r.name
    text = rules.describe()
    assert all(r.name in text for r in rules.ACCURATE.rules)
    assert "x*1 → x" in text and "log(1 + x) → log1p(x)" in text


def test_cost_gate_reads_the_table(monkeypatch):
    """A rule is in ``numeric`` exactly when the cost table says it is not slower."""
    table = {op: (1.0, 1.0) for op in rules.COST["libmvec"]}
    monkeypatch.setitem(rules.COST, "libmvec", table)
    assert rules.log1p_add.extra_cost() == (-1.0, -1.0)  # log1p replaces log and add
    assert rules.log1p_add in rules.NUMERIC.active()
    table[Op.LOG1P] = (5.0, 0.5)  # slower one point, faster in batches: off
    assert rules.log1p_add not in rules.NUMERIC.active()
    assert rules.log1p_add in rules.ACCURATE.active()  # whatever it costs
    assert rules.log_exp in rules.NUMERIC.active()  # removes two calls: always free


def test_options_validate_and_normalise_rule_sets():
    assert Options().rules == rules.DEFAULT_SETS
    assert Options(rules=["numeric", "algebraic"]).rules == ("algebraic", "numeric")
    assert Options(rules=()).rules == ()
    with pytest.raises(ValueError, match=r"unknown rule set 'fast'.*'algebraic', 'numeric'"):
        Options(rules=("algebraic", "fast"))
    with pytest.raises(TypeError, match="tuple of rule-set names"):
        Options(rules="numeric")  # type: ignore[arg-type]
    x = sp.Symbol("x")
    with pytest.raises(ValueError, match="unknown rule set"):
        symjac.jacobian([x], [x], rules=("algebric",))


def test_rule_sets_change_the_cache_key(tmp_path):
    """The on-disk cache is keyed by the LLVM IR, which the numeric rules change."""
    x = sp.Symbol("x")
    a = symjac.function([sp.log(1 + x)], [x], cache=tmp_path, rules=("algebraic",))
    b = symjac.function([sp.log(1 + x)], [x], cache=tmp_path, rules=("algebraic", "accurate"))
    assert a(np.array([1e-10]))[0] != b(np.array([1e-10]))[0]
    assert len(list(tmp_path.glob("*.o"))) == 2
    # the same kernel again is found in the cache, and its result is the numeric one
    c = symjac.function([sp.log(1 + x)], [x], cache=tmp_path, rules=("algebraic", "accurate"))
    assert c(np.array([1e-10]))[0] == b(np.array([1e-10]))[0]
    assert len(list(tmp_path.glob("*.o"))) == 2


# -- accuracy: compiled kernels against mpmath at 50 digits ------------------------------------

x_, y_ = sp.symbols("x y")
# expression, its exact value by mpmath, points where the naive form loses accuracy
ACCURACY = {
    "log(1 + x)": (sp.log(1 + x_), lambda x, y: mpmath.log1p(x), [1e-10, -3e-9, 1e-17, 0.5]),
    "log(1 - x)": (sp.log(1 - x_), lambda x, y: mpmath.log1p(-x), [2e-11, -1e-13, 1e-300]),
    "exp(x) - 1": (sp.exp(x_) - 1, lambda x, y: mpmath.expm1(x), [1e-10, -2e-12, 3e-200, 0.25]),
    "1 - exp(x)": (1 - sp.exp(x_), lambda x, y: -mpmath.expm1(x), [1e-10, -7e-14]),
    "sqrt(x**2 + y**2)": (
        sp.sqrt(x_**2 + y_**2),
        lambda x, y: mpmath.sqrt(mpmath.mpf(x) ** 2 + mpmath.mpf(y) ** 2),
        [1e200, 3e-170, 1.5],
    ),
    "log(exp(x))": (sp.log(sp.exp(x_)), lambda x, y: mpmath.mpf(x), [800.0, -800.0, 0.1]),
}


def _ulps(got: float, want: float) -> float:
    return abs(got - want) / math.ulp(want)


def _exact(fn, x, y):
    with mpmath.workdps(50):
        return float(fn(mpmath.mpf(x), mpmath.mpf(y)))


@pytest.mark.parametrize("name", list(ACCURACY))
def test_numeric_rules_are_accurate_to_a_few_ulp(name):
    expr, exact, xs = ACCURACY[name]
    pts = np.array([[x, 0.75 * x] for x in xs])
    accurate = symjac.function([expr], [x_, y_], cache=False, rules=("algebraic", "accurate"))
    naive = symjac.function([expr], [x_, y_], cache=False, rules=("algebraic",))
    worst_naive = 0.0
    for q in pts:
        want = _exact(exact, *q)
        assert _ulps(float(accurate(q)[0]), want) <= 4, (name, q, accurate(q)[0], want)
        worst_naive = max(worst_naive, _ulps(float(naive(q)[0]), want))
    assert worst_naive > 1e3, f"{name}: the naive form was accurate here: bad test points"
    # batches (the SIMD build) compute every point with the same bits
    assert accurate(np.repeat(pts, 40, axis=0))[::40].tolist() == accurate(pts).tolist()


@pytest.mark.filterwarnings("ignore:overflow")  # 1e200**2 in the reference interpreter
@pytest.mark.parametrize("name", list(ACCURACY))
def test_without_the_numeric_set_kernels_are_the_naive_evaluation_bit_for_bit(name):
    expr, _, xs = ACCURACY[name]
    g, roots = to_graph([expr], [x_, y_], [], Graph())  # no rules: the expression as written
    tape = Tape.from_graph(g, roots, 2, 0)
    pts = np.array([[x, 0.75 * x] for x in [*xs, 0.3, -0.6]])
    # the scalar C library, as the reference interpreter calls it
    naive = symjac.function([expr], [x_, y_], cache=False, rules=("algebraic",), vector_libm=False)
    for q in pts:
        (want,) = scalar.run(tape, q)
        got = float(naive(q)[0])
        assert got == want or (math.isnan(got) and math.isnan(want)), (name, q, got, want)  # type: ignore[arg-type]
    # the vector library: the same bits as the graph compiled without any rule
    vector = symjac.function([expr], [x_, y_], cache=False, rules=("algebraic",))
    as_written = symjac.function([expr], [x_, y_], cache=False, simplify="none")
    assert_same_float(vector(pts), as_written(pts))


@pytest.mark.parametrize(
    "expr", [sp.log(1 + x_ * y_) * y_, (sp.exp(x_ * y_) - 1) / y_, sp.sqrt(x_**2 + y_**2) * x_]
)
def test_jacobians_through_the_rewritten_ops_match_sympy(expr):
    jac = symjac.jacobian([expr], [x_, y_], cache=False, rules=("algebraic", "accurate"))
    ops = jac.stats.op_counts
    assert {"LOG1P", "EXPM1", "HYPOT"} & set(ops), ops
    ref = sp.lambdify([x_, y_], sp.Matrix([expr]).jacobian([x_, y_]), "mpmath")
    for q in ([0.3, 0.7], [1.5, 0.2], [-0.5, 1.25]):  # well-conditioned derivatives
        got = jac(np.array(q))
        with mpmath.workdps(50):
            want = np.array(ref(mpmath.mpf(q[0]), mpmath.mpf(q[1])).tolist(), dtype=float)
        np.testing.assert_allclose(got, want, rtol=1e-14, atol=1e-300)


def test_numeric_set_follows_the_cost_table_by_default():
    x = sp.Symbol("x")
    f = symjac.function([sp.log(1 + x), sp.log(sp.exp(x)) * x], [x], cache=False)
    libm = "libmvec" if Options().build().lanes()[1] else "libm"
    ops = f.stats.op_counts
    assert "EXP" not in ops  # log(exp(x)) → x is always free
    assert ("LOG1P" in ops) == (rules.log1p_add in rules.NUMERIC.active(libm)), ops


# -- the algebraic set never changes a value --------------------------------------------------

_CONSTS = st.sampled_from([0.0, -0.0, 1.0, -1.0, 2.5, math.inf, -math.inf, math.nan])
_POINT = st.floats(allow_nan=True, allow_infinity=True, width=64)
_UNARY = [Op.NEG, Op.EXP, Op.LOG, Op.SQRT, Op.SIN]
_BINARY = [Op.ADD, Op.SUB, Op.MUL, Op.DIV]


@st.composite
def _trees(draw, depth=4):
    if depth == 0 or draw(st.integers(0, 4)) == 0:
        if draw(st.booleans()):
            return ("var", draw(st.integers(0, 1)))
        return ("const", draw(_CONSTS))
    kind = draw(st.integers(0, 3))
    if kind == 0:
        return (draw(st.sampled_from(_UNARY)), None, draw(_trees(depth - 1)))
    if kind == 1:
        return (Op.POWI, draw(st.integers(-2, 3)), draw(_trees(depth - 1)))
    return (draw(st.sampled_from(_BINARY)), None, draw(_trees(depth - 1)), draw(_trees(depth - 1)))


def _build(g, tree):
    if tree[0] == "var":
        return g.var(tree[1])
    if tree[0] == "const":
        return g.const(tree[1])
    op, attr, *children = tree
    return g.make(op, tuple(_build(g, c) for c in children), attr)


def _same(a: float, b: float) -> bool:
    if math.isnan(a) or math.isnan(b):
        return math.isnan(a) and math.isnan(b)
    return a == b  # -0.0 == 0.0: the documented x + 0 exception


def _spied_algebraic() -> tuple[object, list[bool]]:
    """The algebraic set, noting when ``x + (+0) → x`` fired: the documented exception,
    whose -0 for +0 can grow into any difference downstream (``1/x``: -inf for +inf)."""
    fired: list[bool] = []

    def add_zero(g, args, attr):
        node = rules.add_zero.fn(g, args, attr)
        if node is not None and any(
            g.is_const(a, 0.0) and math.copysign(1.0, g.attrs[a]) > 0 for a in args
        ):
            fired.append(True)
        return node

    spied = tuple(
        dataclasses.replace(r, fn=add_zero) if r is rules.add_zero else r
        for r in rules.ALGEBRAIC.rules
    )
    return rules.compose([rules.RuleSet("spied", "", spied)]), fired


@settings(max_examples=300, deadline=None)
@given(tree=_trees(), x=_POINT, y=_POINT)
def test_algebraic_set_never_changes_a_value(tree, x, y):
    rewrite, plus_zero = _spied_algebraic()
    ruled, plain = Graph(rewrite), Graph()
    a, b = _build(ruled, tree), _build(plain, tree)
    if plus_zero:  # the documented exception (tests/test_simplify.py tests it on its own)
        return
    (got,) = scalar.run(Tape.from_graph(ruled, [a], 2, 0), [x, y])
    (want,) = scalar.run(Tape.from_graph(plain, [b], 2, 0), [x, y])
    assert _same(got, want), (tree, x, y, got, want)  # type: ignore[arg-type]
