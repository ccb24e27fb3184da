"""Lowering: :class:`~symjac.ir.tape.KernelSpec` → LLVM IR, built with ``llvmlite.ir``.

Each kernel becomes one function with the kernel ABI's signature
(:data:`symjac.runtime.abi.KERNEL_ARGS`)::

    void NAME(const double *x, const double *p, double *out, int64_t n, int64_t p_stride,
              double *work)

It loops over the ``n`` points natively: point ``i`` reads
``x[i*n_vars : (i+1)*n_vars]`` and ``p[i*p_stride : i*p_stride + n_params]``
(``p_stride`` is 0 when all points share one parameter vector) and writes the
``width`` doubles of ``out`` row ``i`` — every one of them, zeros included.
``out`` must not overlap ``x`` or ``p`` (the runtime checks; the IR says
``noalias``). ``work`` is scratch space of ``Lowered.work_sizes[NAME]`` doubles
(NULL when that is 0).

**One body per tape.** A tape is computed by one function, its *body
kernel*, which writes the outputs packed (output ``k`` to column ``k``).
Every other kernel of the same tape (a dense Jacobian, a function-and-Jacobian
layout) is a small wrapper that calls the body on a block of points and
scatters the packed rows to their positions: the tape's code is compiled once.

**SIMD groups.** With ``lanes = W > 1`` the body processes ``W`` points at
once, every register a ``<W x double>``. A group's inputs are transposed into
a *frame* (a scratch buffer of slots of ``W`` doubles: inputs, parameters,
outputs, spilled registers) with whole-vector loads and in-register
transposes (:mod:`.transpose`), the tape reads and writes slots with vector
loads and stores, and the outputs are transposed back out. The last,
partial group repeats its last point in the unused lanes and stores only the
lanes it owns; a single point is a group of one. So every point, alone or in
a batch, is computed by the same vector code: its bits do not depend on where
it sits in the batch, on ``n``, or on how a batch is split between threads.
There is no second, one-lane copy of the code.

**Large tapes** are split into outlined chunks as :func:`symjac.passes.chunks.plan`
says (LLVM is superlinear in the size of a function); registers that cross
chunks are spilled to the frame slots the plan gives them — the same chunks and
slots the C printer renders. **Templates** (:mod:`symjac.passes.templates`):
outputs that share one small shape become loops over index tables, reading
their holes — inputs, parameters, constants and shared registers computed
once by the straight-line part — from the frame and tables.

Floating-point semantics are IEEE unless ``fastmath`` is asked for: no
fast-math flags, no FTZ/DAZ, no change of rounding mode. Elementary functions
are calls into the C math library (or libmvec), declared ``readnone`` (we
never read ``errno``), which lets LLVM share and hoist them.
"""

from __future__ import annotations

from collections import Counter
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from typing import Any

import numpy as np
from llvmlite import ir
from symjac.codegen.llvm.emitter import (
    BOOL,
    I32,
    I64,
    PTR,
    Emitter,
    Soa,
    element_at,
    for_range,
    scalar_type,
)
from symjac.codegen.llvm.transpose import rows_to_soa, soa_to_rows

from symjac.ir.dtypes import FLOAT64, DType
from symjac.ir.ops import LEAVES, is_bool
from symjac.ir.tape import KernelSpec, Tape
from symjac.passes import chunks
from symjac.passes.chunks import CHUNK_SIZE, Body, Plan
from symjac.passes.chunks import plan as chunk_plan
from symjac.passes.recurrences import Run
from symjac.passes.schedule import OUT, SPILL, Loop, Schedule
from symjac.runtime.abi import KERNEL_ARGS

__all__ = ["KERNEL_TYPE", "Lowered", "for_range", "lower"]

#: the kernel signature (:data:`symjac.runtime.abi.KERNEL_ARGS`): (x, p, out, n, p_stride, work)
KERNEL_TYPE = ir.FunctionType(ir.VoidType(), [PTR if a.pointer else I64 for a in KERNEL_ARGS])
#: most points a wrapper kernel stages through its body at once
WRAPPER_BLOCK = 64
#: a SIMD group whose outputs are more doubles than this (32 KB, a typical L1 data cache)
#: stores each lane's results straight to its row instead of transposing them out of the
#: frame, which would then stream through L2 twice. Measured with 8 lanes, per point:
#: tridiag1000 (2 998 outputs) 2.26 -> 1.72 us, dense50 3.21 -> 2.54 us, the 12 288-entry
#: stencil 10.5 -> 7.5 us; below it the transposes win (a 400-entry layer 237 against 271 ns,
#: an 82-entry Jacobian 16.6 against 24.2 ns) and compile faster
DIRECT_ROWS = chunks.STACK_WORK
#: an L1 data cache picks a line's set by the address bits below 4 KB (it is indexed within a
#: page), so lines a multiple of 4 KB apart compete for one set's ways: 8 in the smallest x86
#: L1s, 12 from Ice Lake on. Storing straight to rows keeps the line of each lane's row at one
#: column busy at once: when more lanes' lines than this share a set (16 float32 lanes on
#: rows of 2^k entries: the stencils' 12 288 and 20 480), the stores evict each other and
#: every one misses, so the group transposes its outputs out of the frame instead. Measured
#: (AVX-512, 12-way L1), us a point, direct / transposed: gray_scott32 float32 (16 lanes in
#: one set) 41.6 / 9.0, stencil20k float32 70.1 / 15.3; with 8 lanes a set (rows padded by
#: 2 KB) 9.8 direct. float64 (8 lanes in one set) stays direct: gray_scott32 20.1 direct,
#: 19.2 transposed, stencil20k 31.5 / 32.0, both within the noise of this 2-core machine
DIRECT_SHARING = 8
#: the span of addresses over which an L1 data cache's sets repeat: a page
L1_PAGE = 4096
#: a SIMD group transposing more output bytes than this out of its frame sends each tile
#: straight to the rows (see soa_to_rows): its frame no longer fits the L2 cache with room
#: to spare, and a second pass over it would come from L3. Measured, float32, us a point,
#: in place then rows / tiles: stencil20k (1.3 MB of outputs a group) 17.7 / 14.5-15.1;
#: gray_scott32 (786 KB) 10.3 / 10.8-13.8, stencil12k (786 KB) 10.0 / 9.8-10.9
TILED_BYTES = 1 << 20

#: the four regions a body reads and writes: inputs, parameters, outputs, spilled registers
Bases = tuple[ir.Value, ir.Value, ir.Value, ir.Value]
X, P = 0, 1
assert (OUT, SPILL) == (2, 3)


def _i64(value: int) -> ir.Constant:
    return ir.Constant(I64, value)


def _padded(count: int, lanes: int) -> int:
    return -(-count // lanes) * lanes


class _Body:
    """One step's straight-line code, rendered from its :class:`~symjac.passes.chunks.Body`:
    inline, or as ``noinline`` chunk functions of the four region pointers.

    Holes that this step does not compute are read from their spill slots
    (``schedule.slots``); values that cross chunks, from the body's ``spills``.
    """

    def __init__(self, lw: Emitter, tape: Tape, plan: Plan, body: Body, tag: str, out_stride: int):
        self.lw, self.tape, self.schedule, self.body = lw, tape, plan.schedule, body
        self.out_stride = out_stride
        self.functions: list[ir.Function] = []
        self.tag = tag

    def outline(self) -> None:
        """Emit the chunks as ``noinline`` functions (the kernel then calls them in order)."""
        if self.body.chunks and not self.functions:
            self._outline(self.tag)

    def _outline(self, tag: str) -> None:
        fnty = ir.FunctionType(ir.VoidType(), [PTR] * 4)
        for c in range(len(self.body.chunks)):
            fn = ir.Function(self.lw.module, fnty, f"{tag}.chunk{c}")
            fn.linkage = "internal"
            fn.attributes.add("noinline")
            fn.attributes.add("nounwind")
            # the regions never overlap where written (outputs and spill slots are disjoint),
            # which lets LLVM schedule the thousands of loads and stores freely
            for arg in fn.args:
                arg.add_attribute("noalias")
            b = ir.IRBuilder(fn.append_basic_block("entry"))
            self._emit_chunk(b, c, (fn.args[0], fn.args[1], fn.args[2], fn.args[3]))
            b.ret_void()
            self.functions.append(fn)

    def emit(self, b: ir.IRBuilder, bases: Bases) -> None:
        """Compute the step for one group whose regions start at ``bases``."""
        if self.functions:
            for fn in self.functions:
                b.call(fn, list(bases))
        elif self.body.chunks:
            self._emit_chunk(b, 0, bases)

    def _emit_chunk(self, b: ir.IRBuilder, c: int, bases: Bases) -> None:
        tape, lw, spills = self.tape, self.lw, self.body.spills
        rows = (Soa(bases[X]), Soa(bases[P]))
        regs: dict[int, ir.Value] = {}

        def value(r: int) -> ir.Value:
            v = regs.get(r)
            if v is None:
                boolean = is_bool(tape.ops[r])
                if tape.ops[r] in LEAVES:
                    v = lw.instruction(b, tape.ops[r], (), tape.attrs[r], rows)
                else:  # computed by an earlier chunk, or an earlier step
                    slot = spills[r] if r in spills else self.schedule.slots[r]
                    v = lw.unspill(b, bases[SPILL], slot, boolean)
                regs[r] = v
            return v

        chunk = self.body.chunks[c]
        runs = {run.start: run for run in chunk.runs}
        registers = chunk.registers
        i = 0
        while i < len(registers):
            run = runs.get(i)
            if run is not None:
                self._emit_run(b, registers, run, value, regs, rows)
                i = run.end
                for r in registers[i - run.period : i]:  # the last instance's values
                    if r in spills:
                        lw.spill(b, regs[r], bases[SPILL], spills[r], is_bool(tape.ops[r]))
                continue
            r = registers[i]
            vals = [value(a) for a in tape.args[r]]
            regs[r] = lw.instruction(b, tape.ops[r], vals, tape.attrs[r], rows)
            if r in spills:
                lw.spill(b, regs[r], bases[SPILL], spills[r], is_bool(tape.ops[r]))
            i += 1
        out = _out_rows(b, lw, bases, self.out_stride)
        for r, region, slot in chunk.stores:
            if region == OUT and out is not None:
                lw.store(b, value(r), out, _i64(slot))
            else:
                boolean = region == SPILL and is_bool(tape.ops[r])
                lw.spill(b, value(r), bases[region], slot, boolean)

    def _emit_run(
        self,
        b: ir.IRBuilder,
        registers: Sequence[int],
        run: Run,
        value: Callable[[int], ir.Value],
        regs: dict[int, ir.Value],
        rows: tuple[Soa, Soa],
    ) -> None:
        """A :class:`~symjac.passes.recurrences.Run` as one loop of ``run.count`` iterations,
        each one instance; the values the next instance reads are carried in phis.

        The body is instance 0's instructions: an argument in instance 0 is this
        iteration's value, one in the previous instance the carried value (seeded by the
        straight-line registers before the run), any other a loop invariant, read before
        the loop. Afterwards ``regs`` holds the last instance's values.
        """
        tape, lw = self.tape, self.lw
        first = registers[run.start : run.start + run.period]
        current = {r: q for q, r in enumerate(first)}
        previous = {r: q for q, r in enumerate(run.previous)}
        carried = sorted({previous[a] for r in first for a in tape.args[r] if a in previous})
        seeds = {q: value(run.previous[q]) for q in carried}
        for r in first:  # loop invariants, computed (or loaded) before the loop
            for a in tape.args[r]:
                if a not in current and a not in previous:
                    value(a)
        before = b.block
        loop = b.append_basic_block("run")
        after = b.append_basic_block("run.end")
        b.branch(loop)
        b.position_at_end(loop)
        k = b.phi(I64, "k")
        k.add_incoming(_i64(0), before)
        phis = {}
        for q in carried:
            phi = phis[q] = b.phi(seeds[q].type)
            phi.add_incoming(seeds[q], before)
        body: list[ir.Value] = []
        for r in first:
            vals = []
            for a in tape.args[r]:
                if a in current:
                    vals.append(body[current[a]])
                elif a in previous:
                    vals.append(phis[previous[a]])
                else:
                    vals.append(regs[a])
            body.append(lw.instruction(b, tape.ops[r], vals, tape.attrs[r], rows))
        latch = b.block
        following = b.add(k, _i64(1))
        k.add_incoming(following, latch)
        for q, phi in phis.items():
            phi.add_incoming(body[q], latch)
        b.cbranch(b.icmp_signed("<", following, _i64(run.count)), loop, after)
        b.position_at_end(after)
        for q, r in enumerate(registers[run.end - run.period : run.end]):
            regs[r] = body[q]


def _out_rows(b: ir.IRBuilder, lw: Emitter, bases: Bases, stride: int) -> list[ir.Value] | None:
    """Each lane's output row when a SIMD group writes its rows directly (``stride``: their
    length), else None: outputs go to the frame's slots."""
    if not stride or lw.lanes == 1:
        return None
    return [element_at(b, bases[OUT], _i64(lane * stride), lw.scalar) for lane in range(lw.lanes)]


@dataclass
class _Plan:
    """How a tape is emitted: its :class:`~symjac.passes.chunks.Plan`, a body per step."""

    tape: Tape
    plan: Plan
    bodies: list[_Body]
    #: the row length when SIMD groups store outputs straight to rows, else 0 (the frame)
    out_stride: int

    @property
    def schedule(self) -> Schedule:
        """The tape's steps and the spill slots of the values they share."""
        return self.plan.schedule

    @property
    def slots(self) -> int:
        """Spill slots the frame needs (see :attr:`~symjac.passes.chunks.Plan.slots`)."""
        return self.plan.slots


def _large(lw: Emitter, width: int) -> bool:
    """Whether a SIMD group's outputs (``width`` a point) are more than :data:`DIRECT_ROWS`."""
    # DIRECT_ROWS is a size in doubles (bytes / 8)
    return lw.lanes > 1 and lw.lanes * width * lw.dtype.itemsize > 8 * DIRECT_ROWS


def _sharing(row_bytes: int, lanes: int) -> int:
    """The most of ``lanes`` rows ``row_bytes`` apart whose lines at one column fall in one
    L1 set (see :data:`DIRECT_SHARING`).

    >>> _sharing(12288 * 4, 16), _sharing(12288 * 4 + 2048, 16), _sharing(2998 * 4, 16)
    (16, 8, 1)
    >>> _sharing(12288 * 8, 8), _sharing(2500 * 8, 8)
    (8, 1)
    """
    sets = Counter(lane * row_bytes % L1_PAGE // 64 for lane in range(lanes))
    return max(sets.values())


def _plan(
    lw: Emitter, tape: Tape, chunk_size: int, tag: str, use_templates: bool, recurrences: bool
) -> _Plan:
    plan = chunk_plan(tape, chunk_size, use_templates, recurrences)
    width = len(tape.outputs)
    row_bytes = width * lw.dtype.itemsize
    direct = _large(lw, width) and _sharing(row_bytes, lw.lanes) <= DIRECT_SHARING
    out_stride = width if direct else 0
    bodies = [
        _Body(lw, tape, plan, body, f"{tag}.step{s}", out_stride)
        for s, body in enumerate(plan.bodies)
    ]
    if plan.outlined:  # LLVM is superlinear in the size of a function: outline every step
        for body in bodies:
            body.outline()
    return _Plan(tape, plan, bodies, out_stride)


#: what a table holds: indices (None; stored as i32, read as i64), or constants of a dtype
Entries = DType | None


def _table(
    module: ir.Module, name: str, values: Sequence[object], kind: Entries, packed: bool
) -> ir.Value:
    """A constant table of ``values``: indices as i32 (``kind`` None), or constants rounded
    to dtype ``kind``.

    ``packed`` writes it as one byte string in this host's byte order: llvmlite formats a
    typed array element by element and LLVM parses each back (packing took a dense 50x50
    Jacobian's lowering from 720 to 456 ms and its LLVM parse from 599 to 144 ms). Only for
    code that runs here: IR for another target, or target-neutral text, takes typed arrays.
    """
    element = I32 if kind is None else scalar_type(kind)
    if kind is None:
        data = np.asarray(values, dtype=np.int32)
    else:  # each double rounded once to the dtype, to nearest (as DType.round)
        data = np.asarray([kind.round(float(v)) for v in values], dtype=kind.numpy)  # type: ignore[arg-type]
    if packed:
        typ = ir.ArrayType(ir.IntType(8), data.nbytes)
        initializer = ir.Constant(typ, bytearray(data.tobytes()))
    else:
        typ = ir.ArrayType(element, len(values))
        initializer = ir.Constant(typ, data.tolist())
    table = ir.GlobalVariable(module, typ, name)
    table.initializer = initializer
    table.global_constant = True
    table.linkage = "internal"
    table.align = 8
    return table


def _element(b: ir.IRBuilder, table: ir.Value, index: ir.Value, kind: Entries) -> ir.Value:
    """Entry ``index`` of a :func:`_table` of ``kind``, packed or not (indices as i64)."""
    element = I32 if kind is None else scalar_type(kind)
    at = b.gep(table, [index], source_etype=element, inbounds=True)
    value = b.load(at, typ=element)
    return b.zext(value, I64) if kind is None else value


def _emit_loop(
    b: ir.IRBuilder, lw: Emitter, plan: _Plan, loop: Loop, bases: Bases, name: str, packed: bool
) -> None:
    """``target[t] = tree(holes of member t)`` for every member, as one loop over index tables.

    A column that is an arithmetic sequence (a stencil's cells in order, a constant shared by
    every member) is computed from ``t`` instead of loaded from a table.
    """
    module = lw.module
    where = _column(module, f"{name}.slots", loop.slots, None, packed)
    columns: list[Column] = []
    for h, kind in enumerate(loop.kinds):
        entries: list[Any] = [binding[h] for binding in loop.bindings]
        if kind in ("r", "b"):  # shared values: their spill slots
            entries = [plan.schedule.slots[v] for v in entries]
        entry_kind = lw.dtype if kind == "c" else None
        columns.append(_column(module, f"{name}.hole{h}", entries, entry_kind, packed))
    region = {"x": X, "p": P, "r": SPILL, "b": SPILL}
    rows = (Soa(bases[X]), Soa(bases[P]))
    out_rows = _out_rows(b, lw, bases, plan.out_stride) if loop.region == OUT else None
    target = Soa(bases[loop.region]) if out_rows is None else out_rows
    with for_range(b, _i64(len(loop.registers)), name) as t:
        values: list[ir.Value] = []
        for op, attr, args in loop.program:
            if op is not None:
                values.append(lw.instruction(b, op, [values[a] for a in args], attr, rows))
                continue
            hole_index = int(attr)  # type: ignore[call-overload]
            kind, column = loop.kinds[hole_index], columns[hole_index]
            if kind == "c":
                values.append(lw.splat(b, column(b, t)))
                continue
            hole = lw.load(b, Soa(bases[region[kind]]), column(b, t))
            values.append(b.fcmp_unordered("!=", hole, lw.const(0.0)) if kind == "b" else hole)
        result = values[-1]
        if loop.region == SPILL and result.type == lw.bool_ty:  # truth values as 0.0 / 1.0
            result = b.uitofp(result, lw.ty)
        lw.store(b, result, target, where(b, t))


#: entry ``t`` of a loop's column, emitted at the loop counter ``t``
Column = Callable[[ir.IRBuilder, ir.Value], ir.Value]


def _column(
    module: ir.Module, name: str, values: Sequence[Any], kind: Entries, packed: bool
) -> Column:
    """Entry ``t`` of ``values`` for a loop counter ``t``: ``start + step * t`` when the values
    are an arithmetic sequence (step 0 for constants), else a load from a :func:`_table`."""
    first = values[0]
    if kind is not None:
        if all(float(v).hex() == float(first).hex() for v in values):  # bit for bit
            constant = ir.Constant(scalar_type(kind), kind.round(float(first)))
            return lambda b, t: constant
    else:
        step = values[1] - first if len(values) > 1 else 0
        if all(v == first + step * k for k, v in enumerate(values)):
            return lambda b, t: b.add(_i64(int(first)), b.mul(t, _i64(int(step))))
    table = _table(module, name, values, kind, packed)
    return lambda b, t: _element(b, table, t, kind)


def _frame(b: ir.IRBuilder, size: int, work: ir.Value, element: ir.Type) -> tuple[ir.Value, int]:
    """Scratch space of ``size`` values of ``element``: on the stack when small, else the
    caller's ``work``.

    Returns the buffer and how many values the caller must provide.
    """
    work_size = chunks.work_size(size)
    if size and not work_size:
        scratch = b.alloca(ir.ArrayType(element, size), name="frame")
        scratch.align = 64
        # llvmlite types an alloca as [N x double]*; LLVM's pointers are opaque, and so is the
        # caller's buffer this stands in for (vector loads and stores need an untyped pointer)
        scratch.type = PTR
        return scratch, 0
    return work, work_size


def _new_kernel(module: ir.Module, name: str, internal: bool) -> tuple[ir.Function, ir.IRBuilder]:
    fn = ir.Function(module, KERNEL_TYPE, name)
    for arg, abi in zip(fn.args, KERNEL_ARGS):
        arg.name = abi.name
        if abi.pointer:  # out and work are written; x and p are only read
            arg.add_attribute("noalias")
    if internal:
        fn.linkage = "internal"
    return fn, ir.IRBuilder(fn.append_basic_block("entry"))


def _emit_body_kernel(
    lw: Emitter, plan: _Plan, name: str, internal: bool, packed: bool
) -> tuple[int, int]:
    """The packed kernel of ``plan``'s tape; returns the work buffer and frame sizes (values)."""
    tape, lanes = plan.tape, lw.lanes
    n_vars, width = tape.n_vars, len(tape.outputs)
    fn, b = _new_kernel(lw.module, name, internal)
    x, p, out, n, p_stride, work = fn.args
    spill_slots = plan.slots
    if lanes == 1:
        frame, work_size = _frame(b, spill_slots, work, lw.scalar)
        with for_range(b, n, "group") as g:
            row = lambda base, stride: b.gep(base, [b.mul(g, stride)], source_etype=lw.scalar)  # noqa: E731
            bases: Bases = (row(x, _i64(n_vars)), row(p, p_stride), row(out, _i64(width)), frame)
            _emit_steps(b, lw, plan, bases, name, packed)
        b.ret_void()
        return work_size, spill_slots
    return _emit_simd_body(b, lw, plan, name, packed, fn.args)


def _emit_steps(
    b: ir.IRBuilder, lw: Emitter, plan: _Plan, bases: Bases, name: str, packed: bool
) -> None:
    """The tape's steps for one group whose regions start at ``bases``."""
    for s, (step, body) in enumerate(zip(plan.schedule.steps, plan.bodies)):
        body.emit(b, bases)
        for index, loop in enumerate(step.loops):
            _emit_loop(b, lw, plan, loop, bases, f"{name}.step{s}.template{index}", packed)


def _emit_simd_body(
    b: ir.IRBuilder, lw: Emitter, plan: _Plan, name: str, packed: bool, args: Sequence[ir.Value]
) -> tuple[int, int]:
    """The SIMD body: groups of ``lanes`` points through a frame of slots.

    A group's rows are transposed into the frame (inputs, parameters) and out of it
    (outputs) by the same code whether the group is full or not: a partial group
    (the batch's tail, or one point) first copies its rows into *staging* rows,
    repeating its last point, and its results are written to staging rows that are
    then copied to the rows it owns. So every access to the inputs', parameters' and
    outputs' slots has a constant offset, and LLVM keeps them in registers when the
    frame is small enough to live on the stack (SROA); the partial group's
    dynamically indexed copies touch only the staging rows.
    """
    tape, lanes = plan.tape, lw.lanes
    n_vars, n_params, width = tape.n_vars, tape.n_params, len(tape.outputs)
    x, p, out, n, p_stride, work = args
    offsets = [0, _padded(n_vars, lanes), _padded(n_params, lanes), _padded(width, lanes)]
    for i in (1, 2, 3):
        offsets[i] += offsets[i - 1]
    direct = plan.out_stride > 0  # outputs stored lane by lane to their rows: no out slots
    sizes = [
        lanes * offsets[OUT if direct else 3],
        lanes * plan.slots,
        lanes * n_vars,
        lanes * width,
    ]
    if not chunks.work_size(sum(sizes)):  # separate stack buffers: one that is indexed dynamically
        # (spill slots of template loops, staging rows) does not keep the others in memory
        io, spills, rows_in, rows_out = (_stack(b, max(size, 1), lw.scalar) for size in sizes)
        work_size = 0
    else:  # one scratch buffer from the caller, carved up
        at = [sum(sizes[:k]) for k in range(4)]
        io, spills, rows_in, rows_out = (element_at(b, work, _i64(a), lw.scalar) for a in at)
        work_size = sum(sizes)
    groups = b.sdiv(b.add(n, _i64(lanes - 1)), _i64(lanes))
    shared_p = b.icmp_signed("==", p_stride, _i64(0))
    dtype, element = lw.dtype, lw.scalar
    p_soa = element_at(b, io, _i64(lanes * offsets[P]), element)
    if n_params:
        # one parameter vector for every point (the usual case): transposed once, not per group
        with b.if_then(b.and_(shared_p, b.icmp_signed(">", n, _i64(0)))):
            rows_to_soa(b, [p] * lanes, p_soa, n_params, "p.shared", dtype)
    last = b.sub(n, _i64(1))
    with for_range(b, groups, "group") as g:
        first = b.mul(g, _i64(lanes))
        whole = b.icmp_signed("<=", b.add(first, _i64(lanes)), n)
        at = [element_at(b, io, _i64(lanes * o), element) for o in offsets[:3]]
        bases: Bases = (at[0], at[1], at[2], spills)

        def rows(base: ir.Value, stride: ir.Value, clamp: bool) -> list[ir.Value]:
            # lane l reads or writes point first + l; clamped: the batch's last point past its
            # end (unclamped addresses past the end are computed for full groups only)
            found = []
            for lane in range(lanes):
                point = b.add(first, _i64(lane))
                if clamp:
                    point = b.select(b.icmp_signed("<", point, n), point, last)
                found.append(b.gep(base, [b.mul(point, stride)], source_etype=element))
            return found

        def staged(base: ir.Value, count: int) -> list[ir.Value]:
            return [element_at(b, base, _i64(lane * count), element) for lane in range(lanes)]

        with b.if_then(b.not_(whole)):  # the batch's tail, or one point: stage its rows
            for row, stage in zip(rows(x, _i64(n_vars), True), staged(rows_in, n_vars)):
                _copy(b, row, stage, n_vars, "x.stage", element)
        x_rows = rows(x, _i64(n_vars), False)
        x_from = [b.select(whole, r, s) for r, s in zip(x_rows, staged(rows_in, n_vars))]
        rows_to_soa(b, x_from, bases[X], n_vars, "x", dtype)
        if n_params:
            with b.if_then(b.not_(shared_p)):  # a parameter row per point
                rows_to_soa(b, rows(p, p_stride, True), bases[P], n_params, "p", dtype)
        if direct:  # lane 0's row; lane l's is width values further (staged rows too)
            row = b.gep(out, [b.mul(first, _i64(width))], source_etype=element)
            bases = (*bases[:OUT], b.select(whole, row, rows_out), bases[SPILL])
        _emit_steps(b, lw, plan, bases, name, packed)
        if not direct:
            out_rows = rows(out, _i64(width), False)
            out_to = [b.select(whole, r, s) for r, s in zip(out_rows, staged(rows_out, width))]
            tiles = lanes * width * dtype.itemsize > TILED_BYTES
            soa_to_rows(b, bases[OUT], out_to, width, "out", dtype, tiles)
        with b.if_then(b.not_(whole)):  # store only the rows the group owns
            with for_range(b, b.sub(n, first), "lane") as lane:
                source = element_at(b, rows_out, b.mul(lane, _i64(width)), element)
                point = b.add(first, lane)
                target = b.gep(out, [b.mul(point, _i64(width))], source_etype=element)
                _copy(b, source, target, width, "out.row", element)
    b.ret_void()
    return work_size, sum(sizes)


def _stack(b: ir.IRBuilder, size: int, element: ir.Type) -> ir.Value:
    """``size`` values of ``element`` on the stack, 64-byte aligned, as an opaque pointer."""
    with b.goto_entry_block():
        scratch = b.alloca(ir.ArrayType(element, size), name="frame")
    scratch.align = 64
    scratch.type = PTR  # see _frame
    return scratch


def _copy(
    b: ir.IRBuilder, source: ir.Value, target: ir.Value, count: int, name: str, element: ir.Type
) -> None:
    """``target[f] = source[f]`` for ``f < count``, a value of ``element`` at a time."""
    with for_range(b, _i64(count), name) as f:
        value = b.load(element_at(b, source, f, element), typ=element)
        b.store(value, element_at(b, target, f, element))


def _emit_wrapper(
    lw: Emitter, spec: KernelSpec, body: ir.Function, body_work: int, packed: bool
) -> int:
    """Kernel ``spec`` as its tape's body kernel on blocks of points, scattered to positions."""
    tape, module, element = spec.tape, lw.module, lw.scalar
    count = len(spec.positions)
    block = max(1, min(WRAPPER_BLOCK, chunks.STACK_WORK // max(count, 1)))
    fn, b = _new_kernel(module, spec.name, internal=False)
    x, p, out, n, p_stride, work = fn.args
    staged, work_size = _frame(b, block * count, work, element)
    inner = work if work_size == 0 else element_at(b, work, _i64(work_size), element)
    identity = spec.positions == tuple(range(count))
    name = f"{spec.name}.positions"
    positions = None if identity else _table(module, name, spec.positions, None, packed)
    memset = module.declare_intrinsic("llvm.memset", [PTR, I64])
    blocks = b.sdiv(b.add(n, _i64(block - 1)), _i64(block))
    with for_range(b, blocks, "block") as k:
        start = b.mul(k, _i64(block))
        left = b.sub(n, start)
        points = b.select(b.icmp_signed("<", left, _i64(block)), left, _i64(block))
        x_at = b.gep(x, [b.mul(start, _i64(tape.n_vars))], source_etype=element)
        p_at = b.gep(p, [b.mul(start, p_stride)], source_etype=element) if tape.n_params else p
        b.call(body, [x_at, p_at, staged, points, p_stride, inner])
        with for_range(b, points, "point") as i:
            row = b.gep(out, [b.mul(b.add(start, i), _i64(spec.width))], source_etype=element)
            if count < spec.width:  # structural zeros: clear the row, then write the nonzeros
                zero_byte, no = ir.Constant(ir.IntType(8), 0), ir.Constant(BOOL, 0)
                b.call(memset, [row, zero_byte, _i64(lw.dtype.itemsize * spec.width), no])
            src = b.gep(staged, [b.mul(i, _i64(count))], source_etype=element)
            with for_range(b, _i64(count), "scatter") as j:
                at = j if positions is None else _element(b, positions, j, None)
                value = b.load(element_at(b, src, j, element), typ=element)
                b.store(value, element_at(b, row, at, element))
    b.ret_void()
    return work_size + body_work


@dataclass
class Lowered:
    """An LLVM module and, per kernel, the number of values (of the kernel's dtype) its
    ``work`` buffer needs.

    >>> from symjac.ir.graph import Graph
    >>> g = Graph(); x = g.var(0)
    >>> spec = KernelSpec("f", Tape.from_graph(g, [g.sin(x)], 1, 0), 1, (0,))
    >>> low = lower([spec])
    >>> low.work_sizes, low.outlined, low.lanes, low.frames
    ({'f': 0}, False, 1, {'f': 0})
    >>> 'define void @"f"(' in str(low.module)
    True
    """

    module: ir.Module
    work_sizes: dict[str, int]
    #: True when some tape was split into outlined chunks (a large module)
    outlined: bool = False
    #: points computed together in SIMD lanes
    lanes: int = 1
    #: values of scratch memory one group of points streams through, per kernel
    frames: dict[str, int] = field(default_factory=dict)


def lower(
    specs: Sequence[KernelSpec],
    module_name: str = "symjac",
    fastmath: bool = False,
    chunk_size: int = CHUNK_SIZE,
    templates: bool = True,
    lanes: int = 1,
    vector_libm: bool = False,
    libm_width: int | None = None,
    packed_tables: bool = False,
    recurrences: bool = True,
    dtype: DType = FLOAT64,
) -> Lowered:
    """Build an LLVM module with one batched entry point per spec.

    Specs that share a :class:`Tape` object share its body kernel. With
    ``templates``, outputs that repeat one small expression shape become loops
    over index tables (:mod:`symjac.passes.templates`). ``lanes`` points are computed at
    once in SIMD vectors; ``vector_libm`` calls glibc's libmvec for elementary
    functions on them (see :mod:`.emitter`); ``libm_width`` calls them on that
    many lanes instead (one-lane kernels whose bits match a SIMD kernel's).
    ``packed_tables`` writes index and constant tables as byte strings in this
    host's byte order (see :func:`_table`): for code that runs here, as the JIT's.
    ``recurrences``: runs of one body repeated instance after instance become loops
    (:mod:`symjac.passes.recurrences`), as the C printer renders them; without,
    straight-line code. ``dtype`` is what the kernels compute in and read and write
    (:mod:`symjac.ir.dtypes`): arrays, registers and constants (each rounded once).
    The defaults give portable scalar code.

    >>> from symjac.ir.graph import Graph
    >>> g = Graph(); x = g.var(0)
    >>> tape = Tape.from_graph(g, [g.sin(x)], n_vars=1, n_params=0)
    >>> 'call double @"sin"' in str(lower([KernelSpec("f", tape, 1, (0,))]).module)
    True
    >>> text = str(lower([KernelSpec("f", tape, 1, (0,))], lanes=8, vector_libm=True).module)
    >>> 'call <8 x double> @"_ZGVeN8v_sin"' in text
    True
    >>> from symjac.ir.dtypes import FLOAT32
    >>> spec = KernelSpec("f", tape, 1, (0,))
    >>> text = str(lower([spec], lanes=16, vector_libm=True, dtype=FLOAT32).module)
    >>> 'call <16 x float> @"_ZGVeN16v_sinf"' in text
    True
    """
    module = ir.Module(name=module_name)
    width = (libm_width or lanes) if vector_libm else 0
    lw = Emitter(module, fastmath, lanes, width if width > 1 else 0, dtype)
    plans: dict[int, _Plan] = {}
    bodies: dict[int, tuple[ir.Function, int, int]] = {}
    work_sizes: dict[str, int] = {}
    frames: dict[str, int] = {}

    def body_of(tape: Tape, name: str, internal: bool) -> tuple[ir.Function, int, int]:
        key = id(tape)
        if key not in bodies:
            tag = f"body{len(plans)}"
            plan = plans[key] = _plan(lw, tape, chunk_size, tag, templates, recurrences)
            sizes = _emit_body_kernel(lw, plan, name, internal, packed_tables)
            bodies[key] = (module.get_global(name), *sizes)
        return bodies[key]

    def packed(spec: KernelSpec) -> bool:
        return spec.width == len(spec.positions) and spec.positions == tuple(range(spec.width))

    for spec in specs:  # packed kernels first: they are their tape's body
        if packed(spec) and id(spec.tape) not in bodies:
            _, work_sizes[spec.name], frames[spec.name] = body_of(spec.tape, spec.name, False)
    for spec in specs:
        if spec.name not in work_sizes:
            body, work, frames[spec.name] = body_of(spec.tape, f"{spec.name}.body", True)
            work_sizes[spec.name] = _emit_wrapper(lw, spec, body, work, packed_tables)
    outlined = any(plan.plan.outlined for plan in plans.values())
    return Lowered(module, work_sizes, outlined, lanes, frames)
