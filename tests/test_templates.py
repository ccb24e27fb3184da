"""Template loops: many outputs with one small expression shape, compiled as one loop.

Each system is compiled twice — with templates (the default) and with
``symjac.codegen.llvm.lower.lower(..., templates=False)`` — and both are compared with
SymPy's own Jacobian evaluated by ``lambdify``, and with each other bit for bit.
:func:`find_templates` is unit-tested on hand-built tapes.
"""

from __future__ import annotations

import functools
import math
import sys
from pathlib import Path

import numpy as np
import pytest
import symjac.codegen.llvm.build
import sympy as sp

import symjac
import symjac.driver
import symjac.options
from symjac import codegen
from symjac.ir.graph import Graph
from symjac.ir.ops import Op
from symjac.ir.tape import KernelSpec, Tape, select_outputs
from symjac.passes import templates
from symjac.passes.rules import rewrite

sys.path.insert(0, str(Path(__file__).resolve().parent.parent / "benchmarks"))
from problems import gray_scott

JitModule, lower, tpl = codegen.JitModule, codegen.lower, templates

D, K = sp.symbols("D k", real=True)


# -- helpers -----------------------------------------------------------------------------------


def build_all(exprs, wrt, params, templates, **options):
    """Jacobian, function and function-and-Jacobian, compiled with or without templates."""
    with pytest.MonkeyPatch.context() as mp:
        chunk_size = options.pop("chunk_size", None)
        if not templates or options:
            patched = functools.partial(lower, templates=templates, **options)
            mp.setattr(symjac.codegen.llvm.build, "lower", patched)
        if chunk_size is not None:  # one-lane kernels' own chunks (ONE_LANE_CHUNK)
            mp.setattr(symjac.codegen.llvm.build, "ONE_LANE_CHUNK", chunk_size)
            mp.setattr(symjac.codegen.llvm.build, "FAST_CHUNK", chunk_size)
        return {
            "jac": symjac.jacobian(exprs, wrt, params, sparse=False, cache=False),
            "fun": symjac.function(exprs, wrt, params, cache=False),
            "fj": symjac.function_and_jacobian(exprs, wrt, params, sparse=False, cache=False),
        }


def ir_text(compiled):
    return compiled._kernels.jit.ir_text


class Reference:
    """SymPy's function and Jacobian, lambdified (entry by entry: the systems are sparse)."""

    def __init__(self, exprs, wrt, params):
        wrt, params = list(wrt), list(params)
        index = {w: j for j, w in enumerate(wrt)}
        self.shape = (len(exprs), len(wrt))
        self.entries = []
        for i, e in enumerate(exprs):
            for j in sorted(index[s] for s in e.free_symbols if s in index):
                d = sp.diff(e, wrt[j])
                if d != 0:
                    self.entries.append((i, j, d))
        self.mask = np.zeros(self.shape, dtype=bool)
        for i, j, _ in self.entries:
            self.mask[i, j] = True
        self.f = sp.lambdify((wrt, params), list(exprs), "numpy")
        self.j = sp.lambdify((wrt, params), [d for _, _, d in self.entries], "numpy")

    @staticmethod
    def _columns(fn, pts, ps):
        pts, ps = np.asarray(pts, dtype=float), np.asarray(ps, dtype=float).reshape(len(pts), -1)
        values = fn(list(pts.T), list(ps.T))
        return np.stack([np.broadcast_to(np.asarray(v, dtype=float), len(pts)) for v in values], 1)

    def function(self, pts, ps):
        return self._columns(self.f, pts, ps)

    def jacobian(self, pts, ps):
        dense = np.zeros((len(pts), *self.shape))
        rows = [i for i, _, _ in self.entries]
        cols = [j for _, j, _ in self.entries]
        dense[:, rows, cols] = self._columns(self.j, pts, ps)
        return dense


def stencil_1d(n):
    """u_i' = D·(u_{i-1} − 2u_i + u_{i+1}) + k·u_i²·sin(u_i) − u_i·u_{i+1}/2, open ends."""
    u = sp.symbols(f"u0:{n}", real=True)
    exprs = []
    for i in range(n):
        left = u[i - 1] if i > 0 else 0
        right = u[i + 1] if i < n - 1 else 0
        exprs.append(
            D * (left - 2 * u[i] + right) + K * u[i] ** 2 * sp.sin(u[i]) - u[i] * right / 2
        )
    return exprs, list(u), [D, K]


def stencil_2d(n):
    """Δu + k·u·e^(−u) on an n×n grid, reflecting edges: edge and corner rows differ."""
    u = sp.symbols(f"w0:{n * n}", real=True)
    exprs = []
    for i in range(n):
        for j in range(n):
            c = i * n + j
            total = 0
            for a, b in ((i + 1, j), (i - 1, j), (i, j + 1), (i, j - 1)):
                total += u[a * n + b] if 0 <= a < n and 0 <= b < n else u[c]
            exprs.append(total - 4 * u[c] + K * u[c] * sp.exp(-u[c]))
    return exprs, list(u), [K]


SYSTEMS = {
    "stencil_1d": stencil_1d(80),
    "stencil_2d": stencil_2d(9),
    "gray_scott": gray_scott(8),
}


@pytest.fixture(scope="module", params=list(SYSTEMS))
def system(request):
    name = request.param
    exprs, wrt, params = SYSTEMS[name]
    return {
        "name": name,
        "n": len(wrt),
        "k": len(params),
        "ref": Reference(exprs, wrt, params),
        "on": build_all(exprs, wrt, params, templates=True),
        "off": build_all(exprs, wrt, params, templates=False),
    }


def sample(system, count, seed):
    rng = np.random.default_rng(seed)
    pts = rng.uniform(0.1, 1.2, size=(count, system["n"]))
    ps = rng.uniform(0.02, 0.3, size=(count, system["k"]))
    return pts, ps


def bitwise_equal(a, b):
    a, b = np.asarray(a, dtype=np.float64), np.asarray(b, dtype=np.float64)
    return bool(((a.view(np.int64) == b.view(np.int64)) | (np.isnan(a) & np.isnan(b))).all())


# -- whole systems -----------------------------------------------------------------------------


def test_templates_are_used_only_when_enabled(system):
    # the Jacobians' entries repeat one shape hundreds of times; a function of 81 cells may
    # not (its one-operation partial sums are not cut, so its cells have several shapes)
    for kind in ("jac", "fj"):
        assert ".template0" in ir_text(system["on"][kind]), kind
    for kind in ("jac", "fun", "fj"):
        assert ".template" not in ir_text(system["off"][kind]), kind


def test_values_kernel(system):
    pts, ps = sample(system, 4, seed=1)
    on, off = system["on"]["jac"], system["off"]["jac"]
    assert on.pattern == off.pattern
    np.testing.assert_array_equal(on.pattern.to_dense(), system["ref"].mask)
    got = on.values(pts, ps)
    assert bitwise_equal(got, off.values(pts, ps))
    ref = system["ref"].jacobian(pts, ps)
    np.testing.assert_allclose(
        got, ref[:, on.pattern.rows, on.pattern.cols], rtol=1e-13, atol=1e-14
    )


def test_dense_kernel_writes_every_entry(system):
    pts, ps = sample(system, 3, seed=2)
    on, off = system["on"]["jac"], system["off"]["jac"]
    m, n = on.shape
    out_on = np.full((3, m, n), np.nan)
    out_off = np.full((3, m, n), np.nan)
    assert on.dense(pts, ps, out=out_on) is out_on
    off.dense(pts, ps, out=out_off)
    assert not np.isnan(out_on).any()
    assert bitwise_equal(out_on, out_off)
    assert (out_on[:, ~on.pattern.to_dense()] == 0.0).all()
    np.testing.assert_allclose(out_on, system["ref"].jacobian(pts, ps), rtol=1e-13, atol=1e-14)
    # a single point, with one parameter vector
    single = np.full((m, n), np.nan)
    on.dense(pts[1], ps[1], out=single)
    assert bitwise_equal(single, out_on[1])


def test_function_kernel(system):
    pts, ps = sample(system, 5, seed=3)
    on, off = system["on"]["fun"], system["off"]["fun"]
    out = np.full((5, on.shape[0]), np.nan)
    on(pts, ps, out=out)
    assert bitwise_equal(out, off(pts, ps))
    np.testing.assert_allclose(out, system["ref"].function(pts, ps), rtol=1e-13, atol=1e-14)


def test_function_and_jacobian_kernel(system):
    pts, ps = sample(system, 3, seed=4)
    on, off = system["on"]["fj"], system["off"]["fj"]
    f_on, j_on = on(pts, ps)
    f_off, j_off = off(pts, ps)
    assert bitwise_equal(f_on, f_off) and bitwise_equal(j_on, j_off)
    np.testing.assert_allclose(f_on, system["ref"].function(pts, ps), rtol=1e-13, atol=1e-14)
    np.testing.assert_allclose(j_on, system["ref"].jacobian(pts, ps), rtol=1e-13, atol=1e-14)
    fv, nz = on.values(pts, ps)
    assert bitwise_equal(fv, f_on)
    assert bitwise_equal(nz, j_on[:, on.pattern.rows, on.pattern.cols])


def test_a_batch_with_one_shared_parameter_vector(system):
    pts, ps = sample(system, 16, seed=5)
    on = system["on"]["jac"]
    p = ps[0]
    got = on.values(pts, p)
    assert bitwise_equal(got, system["off"]["jac"].values(pts, p))
    ref = system["ref"].jacobian(pts, np.broadcast_to(p, ps.shape))
    np.testing.assert_allclose(
        got, ref[:, on.pattern.rows, on.pattern.cols], rtol=1e-13, atol=1e-14
    )
    # each row equals its own single-point call
    for i in (0, 7, 15):
        assert bitwise_equal(on.values(pts[i], p), got[i])


def test_jvp_of_a_templated_jacobian(system):
    pts, ps = sample(system, 2, seed=6)
    v = np.random.default_rng(7).normal(size=system["n"])
    on = system["on"]["jac"]
    ref = system["ref"].jacobian(pts, ps)
    np.testing.assert_allclose(on.jvp(pts, v, ps), ref @ v, rtol=1e-12, atol=1e-12)


def test_gray_scott_templates_cover_the_jacobian():
    """6 nonzeros per row, 6 shapes: each group is a template (the body is empty)."""
    exprs, wrt, params = SYSTEMS["gray_scott"]
    pipe = symjac.driver.Pipeline(symjac.options.Options())
    prob = pipe.front_end(exprs, wrt, params)
    grads = pipe.differentiate(prob, prob.roots)
    _, tape = pipe.tapes(prob, [d for g in grads for d in g.values()])
    found = tpl.find_templates(tape)
    assert sum(len(t.outputs) for t in found) == len(tape.outputs) == 12 * 64
    sizes = sorted(len(t.outputs) for t in found)
    assert sizes == [64, 64, 64, 64, 512]  # Du and Dv: one copy loop over parameters
    for t in found:
        assert len(set(t.outputs)) == len(t.outputs)
        assert all(len(b) == t.holes for b in t.bindings)


# -- mixed systems -----------------------------------------------------------------------------


def mixed_system():
    """A templated stencil plus irregular outputs, large enough to be split into chunks."""
    exprs, u, params = stencil_1d(70)
    extra = [
        sp.sin(u[i] * (i + 2)) * sp.exp(u[(3 * i) % 70] / (i + 3))
        + sp.atan(u[i + 1] * u[i + 2] + i)
        for i in range(40)
    ]
    return exprs + extra, u, params


@pytest.fixture(scope="module")
def mixed():
    exprs, wrt, params = mixed_system()
    return (
        Reference(exprs, wrt, params),
        # small chunks: the straight-line steps are split into outlined functions
        build_all(exprs, wrt, params, templates=True, chunk_size=16),
        build_all(exprs, wrt, params, templates=False),
    )


def test_mixed_system_templates_and_straight_line_code(mixed):
    ref, on, off = mixed
    text = ir_text(on["jac"])
    assert ".template0" in text and ".chunk1" in text  # loops and outlined code together
    rng = np.random.default_rng(8)
    pts = rng.uniform(-1.0, 1.0, size=(3, 70))
    ps = rng.uniform(0.1, 0.5, size=(3, 2))
    jac = on["jac"]
    out = np.full((3, *jac.shape), np.nan)
    jac.dense(pts, ps, out=out)
    assert bitwise_equal(out, off["jac"].dense(pts, ps))
    np.testing.assert_allclose(out, ref.jacobian(pts, ps), rtol=1e-13, atol=1e-14)
    vals = jac.values(pts, ps)
    assert bitwise_equal(vals, off["jac"].values(pts, ps))
    assert bitwise_equal(vals, out[:, jac.pattern.rows, jac.pattern.cols])
    f = on["fun"](pts, ps)
    assert bitwise_equal(f, off["fun"](pts, ps))
    np.testing.assert_allclose(f, ref.function(pts, ps), rtol=1e-13, atol=1e-14)
    fv, J = on["fj"](pts, ps)
    assert bitwise_equal(fv, f) or np.allclose(fv, f, rtol=1e-15)
    np.testing.assert_allclose(J, ref.jacobian(pts, ps), rtol=1e-13, atol=1e-14)


def test_max_in_a_large_jacobian():
    """Comparisons feed selects; in a tape split into chunks they must cross chunk borders."""
    n = 80
    x = sp.symbols(f"m0:{n + 1}", real=True)
    exprs = [sp.Max(x[i], x[i + 1]) * (i + 2) + sp.sin(x[i] * (i + 3)) for i in range(n)]
    jac = symjac.jacobian(exprs, wrt=x)
    pts = np.random.default_rng(9).normal(size=(2, n + 1))
    ref = Reference(exprs, x, [])
    np.testing.assert_allclose(jac(pts), ref.jacobian(pts, [[], []]), rtol=1e-13, atol=1e-14)


def test_shared_piecewise_condition_in_a_large_function():
    n = 40
    x = sp.symbols(f"q0:{n}", real=True)
    cond = x[0] < x[1]
    exprs = [
        sp.Piecewise(
            (sp.sin(x[i]) * sp.exp(x[i]) + sp.cos(x[i] * (i + 2)), cond), (sp.atan(x[i]), True)
        )
        for i in range(n)
    ]
    f = symjac.function(exprs, wrt=x)
    pts = np.random.default_rng(10).normal(size=(4, n))
    pts[0, :2] = [-1.0, 1.0]  # the condition holds
    pts[1, :2] = [1.0, -1.0]  # it does not
    ref = Reference(exprs, x, [])
    np.testing.assert_allclose(f(pts), ref.function(pts, [[]] * 4), rtol=1e-14, atol=1e-15)


# -- find_templates on hand-built tapes --------------------------------------------------------


def var_leaves(tape, reg):
    """The input indices of the tree rooted at ``reg``, left to right."""
    if tape.ops[reg] is Op.VAR:
        return [tape.attrs[reg]]
    return [i for a in tape.args[reg] for i in var_leaves(tape, a)]


def test_find_templates_groups_and_binds_left_to_right():
    g = Graph(rewrite)
    outs = [g.mul(g.var(i), g.sin(g.var(i + 1))) for i in range(40)]
    (t,) = tpl.find_templates(Tape.from_graph(g, outs, 41, 0))
    assert t.outputs == tuple(range(40))
    assert t.holes == 2
    # the MUL's arguments are canonically ordered by node: the hole order follows the tree
    tape = Tape.from_graph(g, outs, 41, 0)
    for k, binding in enumerate(t.bindings):
        assert binding == tuple(var_leaves(tape, tape.outputs[k]))
        assert sorted(binding) == [k, k + 1]
    assert tape.outputs[t.outputs[0]] == t.root


def test_min_group_is_the_threshold():
    assert tpl.MIN_GROUP == 32
    for count, expected in ((tpl.MIN_GROUP - 1, 0), (tpl.MIN_GROUP, 1)):
        g = Graph(rewrite)
        outs = [g.call(Op.EXP, g.var(i)) for i in range(count)]
        assert len(tpl.find_templates(Tape.from_graph(g, outs, count, 0))) == expected


def test_shapes_distinguish_ops_and_exponents_but_not_constants_or_params():
    """Constants and parameters are holes: their values come from tables, not the shape."""
    g = Graph()
    n = 40
    # leaves first: commutative arguments are ordered by node, and the order is part of a shape
    for i in range(n + 1):
        g.var(i)
    groups = {
        "times c": [g.mul(g.var(i), g.const(2.0 + i % 2)) for i in range(n)],
        "plus ±0": [g.add(g.var(i), g.const(0.0 if i % 2 else -0.0)) for i in range(n)],
        "p x": [g.mul(g.param(i % 2), g.var(i)) for i in range(n)],
        "x^2": [g.powi(g.var(i), 2) for i in range(n)],
        "x^3": [g.powi(g.var(i), 3) for i in range(n)],
        "x - y": [g.sub(g.var(i), g.var(i + 1)) for i in range(n)],
        "x / y": [g.div(g.var(i), g.var(i + 1)) for i in range(n)],
    }
    outs = [o for members in groups.values() for o in members]
    tape = Tape.from_graph(g, outs, n + 1, 2)
    found = sorted(tpl.find_templates(tape), key=lambda t: t.outputs)
    assert [t.outputs for t in found] == [tuple(range(k * n, (k + 1) * n)) for k in range(7)]
    times, plus, px = found[0], found[1], found[2]
    assert times.kinds == ("x", "c") and [b[1] for b in times.bindings[:2]] == [2.0, 3.0]
    # the sign of a zero constant survives in the table
    assert [math.copysign(1.0, b[1]) for b in plus.bindings[:2]] == [-1.0, 1.0]
    assert sorted(px.kinds) == ["p", "x"]
    assert [b[px.kinds.index("p")] for b in px.bindings[:2]] == [0, 1]


def test_leaf_outputs_and_repeated_holes():
    g = Graph(rewrite)
    n = 33
    bare = [g.var(i) for i in range(n)]  # outputs that are inputs
    const = [g.const(2.5)] * n  # one register, many outputs
    square = [g.mul(g.var(i), g.var(i)) for i in range(n)]  # x·x: the same input twice
    mixed = [g.mul(g.var(i), g.var(i + 1)) for i in range(n)]  # same shape as x·x
    tape = Tape.from_graph(g, bare + const + square + mixed, n + 1, 0)
    found = {t.outputs[0]: t for t in tpl.find_templates(tape)}
    assert sorted(found) == [0, n, 2 * n]
    assert found[0].bindings == tuple((i,) for i in range(n))
    assert found[0].program == ((None, 0, ()),)  # a copy
    assert found[n].kinds == ("c",) and set(found[n].bindings) == {(2.5,)}
    products = found[2 * n]
    assert len(products.outputs) == 2 * n
    assert products.bindings[:n] == tuple((i, i) for i in range(n))
    assert sorted(products.bindings[n]) == [0, 1]


def chain(g, x, length):
    for _ in range(length):
        x = g.sin(x)
    return x


def test_max_nodes_counts_the_tree_holes_included():
    n = 32
    for length, expected in ((tpl.MAX_NODES - 1, 1), (tpl.MAX_NODES, 0)):
        g = Graph(rewrite)
        outs = [chain(g, g.var(i), length) for i in range(n)]  # length + 1 nodes
        assert len(tpl.find_templates(Tape.from_graph(g, outs, n, 0))) == expected, length


def test_shared_registers_are_holes_computed_once():
    """A subtree used twice is one register: a hole, not recomputed by the loop."""
    g = Graph(rewrite)
    n = 32
    shared = [chain(g, g.var(i), 11) for i in range(n)]
    outs = [g.mul(s, s) for s in shared]
    tape = Tape.from_graph(g, outs, n, 0)
    (t,) = tpl.find_templates(tape)
    assert t.kinds == ("r", "r") and t.program[-1][0] is Op.MUL
    assert {tape.ops[r] for r in t.registers()} == {Op.SIN}
    assert len(t.registers()) == n
    assert [b[0] for b in t.bindings] == [b[1] for b in t.bindings]


def test_a_shape_that_is_sometimes_shared_is_always_a_hole():
    """Partial results shared by some outputs only: the cut keeps one shape for all of them."""
    g = Graph(rewrite)
    n = 64
    pair = [g.sq(g.add(g.var(i), g.var(i + 1))) for i in range(n)]
    # every even output reuses the pair of its odd neighbour: pairs are shared only sometimes
    outs = [g.mul(g.sin(pair[i]), pair[i | 1]) for i in range(n)]
    tape = Tape.from_graph(g, outs, n + 1, 0)
    found = tpl.find_templates(tape)
    assert [len(t.outputs) for t in found] == [n]
    assert found[0].kinds == ("r", "r")


def test_a_one_operation_shape_is_a_hole_only_where_shared():
    """Cutting ``x_i + x_{i+1}`` everywhere would store and reload what one addition computes."""
    g = Graph(rewrite)
    n = 64
    pair = [g.add(g.var(i), g.var(i + 1)) for i in range(n)]
    outs = [g.mul(g.sin(pair[i]), pair[i | 1]) for i in range(n)]
    tape = Tape.from_graph(g, outs, n + 1, 0)
    found = sorted(tpl.find_templates(tape), key=lambda t: t.outputs)
    # even outputs add inline (their pair is theirs alone); odd ones read the shared pair
    assert [t.outputs for t in found] == [tuple(range(0, n, 2)), tuple(range(1, n, 2))]
    assert [sorted(t.kinds) for t in found] == [["r", "x", "x"], ["r", "r"]]
    straight, looped = arithmetic(tape, found)
    assert looped == straight  # and no more arithmetic than the straight-line tape


def arithmetic(tape, templates):
    """(arithmetic of the straight-line tape, arithmetic with the templates' loops)."""
    from symjac.ir.ops import LEAVES

    looped = {k for t in templates for k in t.outputs}
    rest = [k for k in range(len(tape.outputs)) if k not in looped]
    shared = sorted({r for t in templates for r in t.registers()})
    extended = Tape(
        tape.n_vars, tape.n_params, tape.ops, tape.args, tape.attrs, (*tape.outputs, *shared)
    )
    body = select_outputs(extended, [*rest, *range(len(tape.outputs), len(extended.outputs))])
    count = sum(op not in LEAVES for op in body.ops)
    for t in templates:
        count += len(t.outputs) * sum(op is not None and op not in LEAVES for op, _, _ in t.program)
    return sum(op not in LEAVES for op in tape.ops), count


@pytest.mark.parametrize("name", list(SYSTEMS))
def test_templates_never_do_more_arithmetic_than_the_tape(name):
    exprs, wrt, params = SYSTEMS[name]
    pipe = symjac.driver.Pipeline(symjac.options.Options())
    prob = pipe.front_end(exprs, wrt, params)
    grads = pipe.differentiate(prob, prob.roots)
    for roots, loops in ((prob.roots, False), ([d for g in grads for d in g.values()], True)):
        _, tape = pipe.tapes(prob, roots)
        found = tpl.find_templates(tape)
        assert found or not loops  # a small function's cells may have too few of each shape
        straight, looped = arithmetic(tape, found)
        assert looped <= straight


# -- lowering a hand-built tape: positions, params, selects, leaves ---------------------------


def test_lowered_templates_scatter_to_the_right_positions():
    g = Graph(rewrite)
    n = 300  # groups large enough to be worth a loop (schedule.LOOP_MIN_WORK)
    p0 = g.param(0)
    outs = []
    outs += [g.mul(g.var(i), g.sin(g.var(i + 1))) for i in range(n)]  # 2 holes
    outs += [g.var(i) for i in range(n)]  # bare inputs
    outs += [g.const(2.5)] * n  # constants
    outs += [g.mul(p0, g.powi(g.var(i), 3)) for i in range(n)]  # a parameter inside
    lt = [g.call(Op.LT, g.var(i), g.var(i + 1)) for i in range(n)]
    outs += [g.select(lt[i], g.var(i), g.neg(g.var(i + 1))) for i in range(n)]  # a select
    outs += [g.call(Op.COSH, g.var(i)) for i in range(31)]  # 31: too few for a loop
    outs += [g.add(g.var(0), g.call(Op.ATAN, g.var(5)))]  # irregular
    tape = Tape.from_graph(g, outs, n + 1, 1)
    assert len(tpl.find_templates(tape)) == 5
    width = len(outs) + 17
    positions = tuple(np.random.default_rng(11).permutation(width)[: len(outs)].tolist())
    specs = [
        KernelSpec("packed", tape, len(outs), tuple(range(len(outs)))),
        KernelSpec("scattered", tape, width, positions),
    ]

    def run(templates):
        lowered = lower(specs, templates=templates)
        jit = JitModule(lowered.module)
        results = {}
        for spec in specs:
            out = np.full((len(pts), spec.width), np.nan)
            size = lowered.work_sizes[spec.name]
            work = np.empty(max(size, 1))
            jit.kernel(spec.name)(
                pts.ctypes.data, ps.ctypes.data, out.ctypes.data, len(pts), 1, work.ctypes.data
            )
            results[spec.name] = out
        return results, str(lowered.module)

    rng = np.random.default_rng(12)
    pts = np.ascontiguousarray(rng.normal(size=(5, n + 1)))
    ps = np.ascontiguousarray(rng.normal(size=(5, 1)))
    on, text = run(True)
    off, text_off = run(False)
    assert ".template4" in text and ".template" not in text_off

    x = pts
    expected = np.concatenate(
        [
            x[:, :n] * np.sin(x[:, 1:]),
            x[:, :n],
            np.full((5, n), 2.5),
            ps[:, :1] * x[:, :n] ** 3,
            np.where(x[:, :n] < x[:, 1:], x[:, :n], -x[:, 1:]),
            np.cosh(x[:, :31]),
            (x[:, 0] + np.arctan(x[:, 5]))[:, None],
        ],
        axis=1,
    )
    np.testing.assert_allclose(on["packed"], expected, rtol=1e-15, atol=1e-300)
    assert bitwise_equal(on["packed"], off["packed"])
    scattered = np.zeros((5, width))
    scattered[:, list(positions)] = expected
    np.testing.assert_allclose(on["scattered"], scattered, rtol=1e-15, atol=1e-300)
    assert bitwise_equal(on["scattered"], off["scattered"])
    unused = sorted(set(range(width)) - set(positions))
    assert (on["scattered"][:, unused] == 0.0).all()
    assert not any(math.copysign(1.0, v) < 0 for v in on["scattered"][:, unused].ravel())
