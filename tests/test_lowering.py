"""The shape of the lowered code: one body per tape, SIMD groups through transposes, schedules.

Results are compared bit for bit between code paths that must agree exactly:
SIMD groups with scalar libm against the scalar kernel, every batch size
around the lane count, ``out=`` views, the one-lane build of a large system
against its SIMD build, loops over shared values against straight-line code.
IR-size bounds keep the code shape from silently growing again.
"""

from __future__ import annotations

import functools
import importlib

import numpy as np
import pytest
import symjac.codegen.llvm.build
import sympy as sp
from symjac.codegen import lower
from symjac.codegen.llvm.jit import host_vector

import symjac
import symjac.driver
import symjac.options
from symjac.ir.graph import Graph
from symjac.ir.ops import LEAVES
from symjac.ir.tape import KernelSpec, Tape
from symjac.passes.rules import rewrite
from symjac.passes.schedule import SPILL, schedule, trees

lowering = importlib.import_module("symjac.codegen.llvm.lower")
transposing = importlib.import_module("symjac.codegen.llvm.transpose")
LANES = host_vector()[0]


def bits(a):
    return np.ascontiguousarray(a).view(np.int64)


def chemistry():
    """A small mass-action network: 6 species, 7 reactions, rate constants as parameters."""
    y = sp.symbols("y0:6", real=True)
    k = sp.symbols("k0:7", real=True)
    rates = [
        k[0] * y[0],
        k[1] * y[1] * y[2],
        k[2] * y[1] ** 2,
        k[3] * y[3] * y[0],
        k[4] * y[4],
        k[5] * y[5] * y[2],
        k[6] * sp.exp(-y[3]) * y[4],
    ]
    stoich = [
        (-1, 1, 0, -1, 0, 0),
        (1, -1, -1, 0, 0, 1),
        (0, -1, 0, 1, 0, 0),
        (-1, 0, 0, -1, 1, 0),
        (0, 0, 1, 0, -1, 0),
        (0, 0, -1, 0, 0, 1),
        (0, 1, 0, 0, -1, 0),
    ]
    f = [sum(s[i] * r for s, r in zip(stoich, rates)) for i in range(6)]
    return f, list(y), list(k)


@pytest.fixture(scope="module")
def chem_pair():
    f, y, k = chemistry()
    simd = symjac.jacobian(f, y, k, vector_libm=False, cache=False, sparse=False)
    scalar = symjac.jacobian(f, y, k, simd=False, cache=False, sparse=False)
    return simd, scalar, len(y), len(k)


def test_every_batch_size_around_the_lanes_matches_the_scalar_kernel(chem_pair):
    """Full groups, the partial last group and single points: all equal the scalar path."""
    simd, scalar, n, m = chem_pair
    rng = np.random.default_rng(3)
    for count in [*range(0, 3 * LANES + 2), 64, 101]:
        x = rng.uniform(0.1, 2.0, (count, n))
        p = rng.uniform(0.1, 1.0, m)
        assert bits(simd.values(x, p)).tolist() == bits(scalar.values(x, p)).tolist(), count
        assert np.array_equal(bits(simd.dense(x, p)), bits(scalar.dense(x, p))), count
        per_point = rng.uniform(0.1, 1.0, (count, m))  # one parameter row per point
        assert np.array_equal(bits(simd.values(x, per_point)), bits(scalar.values(x, per_point)))


def test_out_views_get_exactly_their_rows(chem_pair):
    simd, scalar, n, m = chem_pair
    rng = np.random.default_rng(4)
    x = rng.uniform(0.1, 2.0, (2 * LANES + 3, n))
    p = rng.uniform(0.1, 1.0, m)
    big = np.full((len(x) + 4, simd.nnz), np.nan)
    view = big[2:-2]  # a contiguous view inside a larger buffer
    simd.values(x, p, out=view)
    assert np.array_equal(bits(view), bits(scalar.values(x, p)))
    assert np.isnan(big[:2]).all() and np.isnan(big[-2:]).all()  # nothing written outside
    dense = np.full((len(x) + 2, *simd.shape), np.nan)
    simd.dense(x, p, out=dense[1:-1])
    assert np.array_equal(bits(dense[1:-1]), bits(scalar.dense(x, p)))
    assert np.isnan(dense[0]).all() and np.isnan(dense[-1]).all()


@pytest.mark.skipif(LANES == 1, reason="the host has no SIMD lanes")
@pytest.mark.parametrize("rows", ["transposed", "direct", "tiles"])
def test_simd_groups_write_exactly_their_rows_for_every_count(rows, monkeypatch):
    """Groups whose outputs are transposed out of the frame (block by block in place, or
    tile by tile straight to the rows: lower.TILED_BYTES), or stored lane by lane straight
    to their rows (wide outputs, lower.DIRECT_ROWS), equal the one-lane kernels bit for bit
    for every batch size around the lanes, and write nothing outside their rows."""
    if rows != "transposed":
        monkeypatch.setattr(lowering, "DIRECT_ROWS", 0)
    if rows == "tiles":  # wide, but rows whose lines would share an L1 set: transposed
        monkeypatch.setattr(lowering, "DIRECT_SHARING", 0)
        monkeypatch.setattr(lowering, "TILED_BYTES", 0)
        monkeypatch.setattr(transposing, "UNROLLED", 0)  # every block in a loop, by its name
    f, y, k = chemistry()
    one = symjac.jacobian(f, y, k, cache=False)._kernels
    simd = symjac.codegen.llvm.build.build_kernels(one.specs, one.build, lanes=LANES)
    lane_stores = simd.jit.ir_text.count("store double")  # a store per output and lane?
    nnz = next(spec.width for spec in one.specs if spec.name == "values")
    assert (lane_stores >= LANES * nnz) == (rows == "direct"), lane_stores
    assert ('"out.tiles.loop"' in simd.jit.ir_text) == (rows == "tiles")
    rng = np.random.default_rng(11)
    p = rng.uniform(0.1, 1.0, len(k))
    for name in ("values", "dense"):
        width = next(spec.width for spec in one.specs if spec.name == name)
        for count in range(0, 3 * LANES + 2):
            x = rng.uniform(0.1, 2.0, (count, len(y)))
            got = []
            for kernels in (one, simd):
                out = np.full((count + 2, width), np.nan)
                work = np.empty(max(kernels.work_sizes[name], 1))
                kernels.jit.kernel(name)(
                    x.ctypes.data, p.ctypes.data, out[1:].ctypes.data, count, 0, work.ctypes.data
                )
                assert np.isnan(out[0]).all() and np.isnan(out[-1]).all(), (name, count)
                got.append(bits(out[1:-1]))
            assert np.array_equal(*got), (name, count)


def stencil(cells):
    """A 1-D reaction–diffusion system: shared partial sums, shared exp(-u_i)."""
    u = sp.symbols(f"u0:{cells}", real=True)
    d = sp.Symbol("d", real=True)
    f = []
    for i in range(cells):
        left, right = u[i - 1], u[(i + 1) % cells]
        f.append(d * (left + right - 2 * u[i]) + u[i] ** 2 * sp.exp(-u[i]) - sp.sin(u[i]) * right)
    return f, list(u), [d]


def test_a_large_system_is_built_one_lane_first_and_its_simd_build_agrees():
    f, u, d = stencil(700)
    jac = symjac.jacobian(f, u, d, cache=False)
    kernels = jac._kernels
    assert kernels.lanes == 1 and kernels.simd_lanes == LANES
    rng = np.random.default_rng(5)
    x = rng.uniform(-1.0, 1.0, (symjac.codegen.llvm.build.SIMD_BATCH + 3, len(u)))
    p = np.array([0.3])
    singles = np.stack([jac.values(row, p) for row in x])
    assert not kernels._batched  # single points never built the SIMD kernels
    one_lane = jac.values(x, p)
    assert not kernels._batched  # one short batch has not paid for the SIMD build
    assert np.array_equal(bits(one_lane), bits(singles))
    kernels.charge(10**6, 10 * symjac.codegen.llvm.build.SIMD_BUILD_RATIO * kernels.build_seconds)
    batch = jac.values(x, p)
    assert kernels._batched and kernels.batched().lanes == LANES
    assert np.array_equal(bits(batch), bits(singles))
    eager = symjac.codegen.llvm.build.build_kernels(kernels.specs, kernels.build, lanes=LANES)
    out = np.empty_like(batch)
    work = np.empty(max(eager.work_sizes["values"], 1))
    eager.jit.kernel("values")(
        x.ctypes.data, p.ctypes.data, out.ctypes.data, len(x), 0, work.ctypes.data
    )
    assert np.array_equal(bits(out), bits(batch))


@pytest.mark.skipif(LANES == 1, reason="the host has no SIMD lanes")
@pytest.mark.parametrize("simd_wins", [True, False])
def test_the_simd_build_is_kept_only_if_its_batches_were_faster(simd_wins):
    f, y, k = chemistry()
    jac = symjac.jacobian(f, y, k, cache=False)
    kernels = jac._kernels
    n = symjac.codegen.llvm.build.SIMD_BATCH
    seconds = 10 * symjac.codegen.llvm.build.SIMD_BUILD_RATIO * kernels.build_seconds
    kernels.charge(round(seconds * 1e6), seconds)  # one lane: 1 us a point, the build paid
    simd = kernels.for_batch(n)
    assert simd is kernels.batched() and simd.lanes == LANES
    rate = 0.5e-6 if simd_wins else 2e-6
    m = round(simd.build_seconds / rate)  # batches long enough to end the trial
    for _ in range(symjac.codegen.llvm.build.SIMD_TRIAL):
        assert kernels.for_batch(n) is simd  # on trial
        simd.charge(m, rate * m)
    chosen = kernels.for_batch(n)
    assert chosen is (simd if simd_wins else kernels)
    assert kernels.for_batch(n) is chosen  # decided once
    x = np.random.default_rng(3).uniform(0.5, 1.5, (n + 5, len(y)))
    p = np.linspace(0.5, 1.5, len(k))
    assert np.array_equal(bits(jac.values(x, p)), bits(np.stack([jac.values(r, p) for r in x])))


def test_loops_over_shared_values_equal_straight_line_code():
    """Every shared exp(-u_i), sin(u_i) and partial sum is computed once and read back."""
    f, u, d = stencil(96)
    with pytest.MonkeyPatch.context() as mp:
        mp.setattr(symjac.codegen.llvm.build, "lower", functools.partial(lower, templates=False))
        plain = symjac.jacobian(f, u, d, cache=False, sparse=False)
    looped = symjac.jacobian(f, u, d, cache=False, sparse=False)
    assert ".template" in looped._kernels.jit.ir_text
    assert ".template" not in plain._kernels.jit.ir_text
    rng = np.random.default_rng(6)
    for count in (1, LANES - 1, 3 * LANES + 1):
        x = rng.uniform(-1.0, 1.0, (count, len(u)))
        assert np.array_equal(bits(looped.values(x, [0.7])), bits(plain.values(x, [0.7])))


def test_packed_tables_equal_typed_tables():
    """The JIT's byte-string tables hold exactly what the portable typed arrays hold."""
    f, u, d = stencil(96)

    def typed(*args, **options):
        return lower(*args, **{**options, "packed_tables": False})

    with pytest.MonkeyPatch.context() as mp:
        mp.setattr(symjac.codegen.llvm.build, "lower", typed)
        portable = symjac.jacobian(f, u, d, cache=False, sparse=False)
    packed = symjac.jacobian(f, u, d, cache=False, sparse=False)
    assert 'x i8] c"' in packed._kernels.jit.ir_text
    assert 'x i8] c"' not in portable._kernels.jit.ir_text
    assert "x i32] [i32" in portable._kernels.jit.ir_text
    rng = np.random.default_rng(8)
    for count in (1, 2 * LANES + 3, symjac.codegen.llvm.build.SIMD_BATCH + 1):
        x = rng.uniform(-1.0, 1.0, (count, len(u)))
        for call in ("values", "dense"):  # dense scatters through a positions table
            got, want = getattr(packed, call)(x, [0.7]), getattr(portable, call)(x, [0.7])
            assert np.array_equal(bits(got), bits(want)), (call, count)


def test_a_schedule_reads_only_values_computed_before_it():
    """Levels: every hole a step reads is an input, a constant or a slot an earlier step wrote."""
    g = Graph(rewrite)
    n = 300  # groups worth a loop
    x = [g.var(i) for i in range(n + 1)]
    pair = [g.add(x[i], x[i + 1]) for i in range(n)]
    s = [g.sin(pair[i]) for i in range(n)]
    outs = [g.mul(s[i], pair[i]) for i in range(n)] + [
        g.mul(s[i], s[(i + 1) % n]) for i in range(n)
    ]
    outs += s[:3] + [x[0]] * 300  # outputs that are shared values, inputs
    tape = Tape.from_graph(g, outs, n + 1, 0)
    plan = schedule(tape)
    assert len(plan.steps) == 3 and all(step.loops for step in plan.steps)  # pairs, sines, products
    written: set[int] = set()
    columns: set[int] = set()

    def readable(r):
        return tape.ops[r] in LEAVES or plan.slots.get(r) in written

    for step in plan.steps:
        stores = list(step.items)
        for loop in step.loops:
            for t, r in enumerate(loop.registers):
                stores.append((r, loop.region, loop.slots[t]))
                for kind, value in zip(loop.kinds, loop.bindings[t]):
                    if kind in ("r", "b"):
                        assert plan.slots[value] in written
        for r, _, _ in step.items:
            if r not in step.computes:
                assert readable(r)
        for _, region, slot in stores:
            (written if region == SPILL else columns).add(slot)
    assert columns == set(range(len(outs)))


def test_the_kernel_does_the_tapes_arithmetic_exactly():
    """Each operation of the tape is in exactly one tree of the schedule."""
    f, u, d = stencil(64)
    pipe = symjac.driver.Pipeline(symjac.options.Options())
    prob = pipe.front_end(f, u, d)
    grads = pipe.differentiate(prob, prob.roots)
    _, tape = pipe.tapes(prob, [e for g in grads for e in g.values()])
    plan = schedule(tape)
    count = 0
    for step in plan.steps:
        count += len(trees(tape, plan.is_hole, step.computes))
        for loop in step.loops:
            ops = sum(op is not None for op, _, _ in loop.program)
            count += ops * len(loop.registers)
    assert count == sum(op not in LEAVES for op in tape.ops)


def ir_size(exprs, wrt, params=(), **options):
    compiled = symjac.jacobian(exprs, wrt, params, cache=False, **options)
    return len(compiled._kernels.jit.ir_text)


def test_small_kernels_stay_small():
    """The IR of a small Jacobian grows with its operations, not with lanes × entries.

    Before the transposes and the shared body, the 3-species Robertson Jacobian
    (7 nonzeros) had 53 KB of IR with 8 lanes and HIRES (8 species, 27 nonzeros)
    155 KB; now they are ~47 KB, most of it the two Python-object entry points.
    """
    y = sp.symbols("y0:3", real=True)
    k = sp.symbols("k0:3", real=True)
    robertson = [
        -k[0] * y[0] + k[1] * y[1] * y[2],
        k[0] * y[0] - k[1] * y[1] * y[2] - k[2] * y[1] ** 2,
        k[2] * y[1] ** 2,
    ]
    assert ir_size(robertson, y, k) < 50_000
    x = sp.symbols("x0:8", real=True)
    chain = [sp.sin(x[i]) * x[(i + 1) % 8] + sp.exp(x[i] * x[(i + 3) % 8]) for i in range(8)]
    small = ir_size(chain, x, simd=False)
    # SIMD costs a constant (transposes), not a copy of the body per lane
    assert ir_size(chain, x) < small + 30_000
    wide = [sum(sp.cos(x[j]) * x[i] for j in range(8)) for i in range(8)]
    assert ir_size(wide, x) < 45_000


@pytest.mark.skipif(LANES == 1, reason="the host has no SIMD lanes")
def test_a_small_simd_frame_lives_in_registers():
    """SROA promotes a small group's frame only where every access has a constant offset.

    An unfolded ``mul i64 0, 8`` in one transposition's offsets kept HIRES's frame in
    memory (stores and reloads of every slot): 1.3x slower batches than lane-by-lane code.
    """
    f, y, k = chemistry()
    jac = symjac.jacobian(f, y, k, cache=False)
    simd = jac._kernels.batched()
    assert simd.lanes == LANES
    optimised = simd.jit.optimised_ir()
    values = optimised[optimised.index("@values(") :]
    values = values[: values.index("\n}")]
    frames = sorted(
        line.split("alloca ")[1].split(",")[0] for line in values.splitlines() if "alloca" in line
    )
    # only the staging rows of a partial group (inputs, outputs), indexed by lane, stay in memory
    assert frames == sorted(f"[{LANES * n} x double]" for n in (len(y), jac.nnz))


def test_one_body_per_tape():
    """The dense kernel runs the packed body and scatters: the tape is lowered once."""
    g = Graph(rewrite)
    x = [g.var(i) for i in range(3)]
    outs = [g.sin(g.mul(x[0], x[1])), g.sq(x[2])]
    tape = Tape.from_graph(g, outs, 3, 0)
    specs = [
        KernelSpec("values", tape, 2, (0, 1)),
        KernelSpec("dense", tape, 6, (1, 5), (2, 3)),
    ]
    text = str(lower(specs, lanes=LANES, vector_libm=True).module)
    assert text.count("_sin") == 2  # the declaration and the one call
    assert 'call void @"values"' in text
