"""One plan, two back ends: the LLVM lowering and the C printer cut a tape into the same
chunks and spill the same registers to the same slots (``symjac.passes.chunks``); the
emitted object is optimised as the JIT's one-lane kernels are (``build.pipeline``)."""

from __future__ import annotations

import re
import sys
from pathlib import Path

import numpy as np
from symjac.codegen import JitModule, lower
from symjac.codegen.artefact import Artefact
from symjac.codegen.c import C_FILES, tape_code
from symjac.codegen.llvm import build, native
from symjac.codegen.llvm.lower import KERNEL_TYPE
from test_emit import STRICT, build_c, needs_cc, run_kernel, scalar_reference

import symjac
from symjac.ir.graph import Graph
from symjac.ir.ops import Op
from symjac.ir.tape import KernelSpec, Tape
from symjac.passes import chunks
from symjac.runtime.abi import KERNEL_ARGS, c_prototype
from symjac.standalone import artefact, emit

sys.path.insert(0, str(Path(__file__).resolve().parent.parent / "benchmarks"))
from problems import gray_scott

#: sines s_i, and outputs s_i * (s_0 + ... + s_N-1): every sine is read again after the sum
N = 1300

#: per chunk function: (spill slots written, spill slots read, output columns stored)
Rendered = list[tuple[set[int], set[int], set[int]]]


def long_tape() -> Tape:
    """~7 800 instructions (more than STACK_WORK), 31 chunks, ~1 400 values crossing them,
    one of them a truth value (crossing as 0.0/1.0)."""
    g = Graph()
    x, y = g.var(0), g.var(1)
    sines = [g.sin(g.add(g.mul(x, g.const(1.0 + i / N)), y)) for i in range(N)]
    less = g.call(Op.LT, sines[3], sines[-4])
    outs = [g.select(less, sines[0], x)]
    total = g.sum(sines)
    outs += [g.mul(s, total) for s in sines]
    outs.append(g.select(less, y, sines[-1]))
    return Tape.from_graph(g, outs, 2, 0)


def c_rendered(code: str) -> Rendered:
    """What each chunk function of the C printer does with the scratch array and ``out``."""
    found = []
    for body in code.split("\nstatic ")[0:]:
        written = {int(s) for s in re.findall(r"^    w\[(\d+)\] = ", body, re.M)}
        read = {int(s) for s in re.findall(r"[ (]w\[(\d+)\](?! =)", body)}
        stored = {int(k) for k in re.findall(r"out\[pos\[(\d+)\]\] = ", body)}
        found.append((written, read, stored))
    return found


def llvm_rendered(text: str) -> Rendered:
    """The same for each outlined chunk function of the LLVM IR (its 3rd argument is the
    output row, its 4th the frame of spill slots)."""
    found = []
    pattern = r'^define internal void @"body0\.step0\.chunk\d+"'
    for body in re.split(pattern, text, flags=re.M)[1:]:
        body = body[: body.index("\n}")]
        gep = r'(%"\.\d+") = getelementptr inbounds double, ptr (%"\.\d"), i64 (\d+)'
        at = {name: (base, int(k)) for name, base, k in re.findall(gep, body)}
        stores = [at[a] for a in re.findall(r'store double %"\.\d+", ptr (%"\.\d+")', body)]
        loads = [at[a] for a in re.findall(r'load double, ptr (%"\.\d+")', body)]
        written = {k for base, k in stores if base == '%".4"'}
        read = {k for base, k in loads if base == '%".4"'}
        stored = {k for base, k in stores if base == '%".3"'}
        found.append((written, read, stored))
    return found


def test_c_and_llvm_render_the_same_chunks_and_spill_slots(monkeypatch) -> None:
    monkeypatch.setattr(chunks, "STACK_WORK", 64)  # the ~650 slots go to the caller's work
    tape = long_tape()
    plan = chunks.plan(tape, templates=False)
    (body,) = plan.bodies
    assert plan.outlined and len(body.chunks) > 10 and len(body.spills) > 300
    spec = KernelSpec("f", tape, len(tape.outputs), tuple(range(len(tape.outputs))))
    low = lower([spec], templates=False)
    c = tape_code("t", "tape0", tape, templates=False)
    ir_chunks, c_chunks = llvm_rendered(str(low.module)), c_rendered(c.code)
    assert len(ir_chunks) == len(c_chunks) == len(body.chunks)
    assert ir_chunks == c_chunks
    # ... and both are the plan: its spills, its stores, its frame and work buffer
    for (written, _, stored), chunk in zip(c_chunks, body.chunks):
        assert written == {body.spills[r] for r in chunk.registers if r in body.spills}
        assert stored == {k for _, _, k in chunk.stores}
    assert set().union(*(read for _, read, _ in c_chunks)) == set(body.spills.values())
    assert low.work_sizes["f"] == c.scratch == plan.slots == len(body.spills)


def test_c_and_llvm_render_the_same_template_loops() -> None:
    tape = long_tape()
    plan = chunks.plan(tape)
    loops = [loop for step in plan.schedule.steps for loop in step.loops]
    assert loops and len(loops[0].registers) == N  # s_i * total, for every i
    spec = KernelSpec("f", tape, len(tape.outputs), tuple(range(len(tape.outputs))))
    text = str(lower([spec]).module)
    c = tape_code("t", "tape0", tape)
    assert len(set(re.findall(r"step\d+\.template\d+", text))) == len(loops)
    assert c.code.count("for (t = 0; t < ") == len(loops)
    assert len(c.chunks) == len(loops) + sum(len(body.chunks) for body in plan.bodies)


@needs_cc
def test_c_longer_than_stack_work_compiles_strictly_and_equals_the_jit(tmp_path: Path) -> None:
    tape = long_tape()
    assert len(tape) > chunks.STACK_WORK
    width = len(tape.outputs) + 3  # positions with structural zeros between
    spec = KernelSpec("values", tape, width, tuple(range(1, len(tape.outputs) + 1)))
    art = Artefact("big", "function", (spec,), ("x", "y"), (), (width,))
    for suffix, printer in C_FILES.items():
        (tmp_path / f"big{suffix}").write_text(printer(art))
    lib = build_c(tmp_path, ["big"])  # STRICT: -Werror -pedantic
    assert "-Werror" in STRICT
    rng = np.random.default_rng(5)
    pts = np.vstack([rng.uniform(-3, 3, (20, 2)), [[np.nan, 0.0], [np.inf, -0.0]]])
    low = lower([spec])
    jit = JitModule(low.module)
    want = run_kernel(jit.kernel("values"), width, pts, None, low.work_sizes["values"])
    got = run_kernel(lib.big_values, width, pts)
    np.testing.assert_array_equal(got.view(np.int64), want.view(np.int64))


@needs_cc
def test_c_template_loops_of_a_stencil_equal_the_jit(tmp_path: Path) -> None:
    exprs, states, params = gray_scott(10)
    fj = symjac.function_and_jacobian(exprs, states, params)
    emit(fj, tmp_path, "gs")
    text = (tmp_path / "gs.c").read_text()
    assert text.count("for (t = 0; t < ") >= 2 and "static const int64_t gs_tape0_" in text
    lib = build_c(tmp_path, ["gs"])  # STRICT
    art = artefact(fj, "gs")
    rng = np.random.default_rng(2)
    pts, p = rng.uniform(0, 1, (9, len(states))), rng.uniform(0, 1, len(params))
    ref, _keep = scalar_reference(art.specs)
    for spec in art.specs:
        got = run_kernel(getattr(lib, art.symbol(spec)), spec.width, pts, p)
        fn, work = ref[spec.name]
        want = run_kernel(fn, spec.width, pts, p, work)
        np.testing.assert_array_equal(got.view(np.int64), want.view(np.int64))


def test_the_kernel_abi_is_one_table() -> None:
    assert [str(t) for t in KERNEL_TYPE.args] == [
        "ptr" if a.pointer else "i64" for a in KERNEL_ARGS
    ]
    spec = KernelSpec("f", Tape.from_graph(Graph(), [], 0, 0), 0, ())
    art = Artefact("abi", "function", (spec,), (), (), (0,))
    assert c_prototype("abi_f") in C_FILES[".c"](art)
    assert c_prototype("abi_f", indent=4) + ";" in C_FILES[".h"](art)


def _small_spec() -> KernelSpec:
    """Arithmetic only: one-lane JIT kernels call libmvec where the object calls libm."""
    g = Graph()
    x, y, p = g.var(0), g.var(1), g.param(0)
    outs = [g.div(g.add(g.mul(x, y), p), g.sub(x, g.const(2.0))), g.mul(g.sq(y), x), y]
    return KernelSpec("values", Tape.from_graph(g, outs, 2, 1), 3, (0, 1, 2))


def _same_module(text: str, name: str) -> str:
    """IR text without what names the module or prefixes the kernel."""
    text = text.replace(f"@{name}_values", "@values").replace(f'@"{name}_values"', "@values")
    return "\n".join(
        line for line in text.splitlines() if not line.startswith(("; ModuleID", "source_filename"))
    )


def test_the_object_is_optimised_as_the_jits_full_pipeline(monkeypatch) -> None:
    """The object runs the JIT's pipeline without the fast code generator, whatever its size
    (the JIT keeps FastISel and no IR passes for small one-lane kernels: its batches move
    to the SIMD build, an emitted object's cannot)."""
    spec = _small_spec()
    how = build.pipeline([spec], 3, lanes=1)
    assert (how.ir_level, how.codegen_level) == (0, 0)  # the JIT's choice for a small kernel
    assert build.pipeline([spec], 3, lanes=1, fast_codegen=False).codegen_level == 3
    art = Artefact("obj", "function", (spec,), ("x", "y"), ("p",), (3,))
    object_ir = native.optimised_ir(art)
    monkeypatch.setattr(build, "FAST_CODEGEN", 0)  # the JIT's full pipeline, for comparison
    jit = build.build_kernels([spec], build.Build(opt_level=3), cache=None)
    assert _same_module(object_ir, "obj") == _same_module(jit.jit.optimised_ir(), "obj")
