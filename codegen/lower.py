"""Lowering: :class:`~symjac.tape.KernelSpec` → LLVM IR, built with ``llvmlite.ir``.

Each kernel becomes one function with the C signature::

    void NAME(const double *x, const double *p, double *out, int64_t n, int64_t p_stride,
              double *work)

It loops over the ``n`` points natively: point ``i`` reads
``x[i*n_vars : (i+1)*n_vars]`` and ``p[i*p_stride : i*p_stride + n_params]``
(``p_stride`` is 0 when all points share one parameter vector) and writes the
``width`` doubles of ``out`` row ``i`` — every one of them, zeros included.
``out`` must not overlap ``x`` or ``p`` (the runtime checks; the IR says
``noalias``). ``work`` is scratch space of ``Lowered.work_sizes[NAME]`` doubles
(NULL when that is 0), used by large tapes split into outlined chunks.

With ``lanes = W > 1`` the points are processed W at a time in SIMD lanes
(:mod:`.emitter`); the ``n mod W`` points left over (and a single-point call)
go through one-lane code that calls the same vector elementary functions, on
a splat. Arithmetic is IEEE and lane-independent, so a point's result is the
same bits whether it was computed in a lane or alone: it does not depend on
where it sits in the batch, on ``n``, or on how a batch is split between threads.

Floating-point semantics are IEEE unless ``fastmath`` is asked for: no
fast-math flags, no FTZ/DAZ, no change of rounding mode. Elementary functions
are calls into the C math library, declared ``readnone`` (we never read
``errno``), which lets LLVM share and hoist them.
"""

from __future__ import annotations

import contextlib
from collections.abc import Iterator, Sequence
from dataclasses import dataclass
from typing import Any

from llvmlite import ir

from symjac.ops import LEAVES, Op, is_bool
from symjac.tape import KernelSpec, Tape, select_outputs

from .emitter import BOOL, DOUBLE, I64, PTR, Emitter, Rows, Soa, element_at
from .templates import Template, find_templates

#: the kernel signature: (x, p, out, n, p_stride, work)
KERNEL_TYPE = ir.FunctionType(ir.VoidType(), [PTR, PTR, PTR, I64, I64, PTR])
#: work buffers up to this many doubles live on the kernel's stack instead of the caller's heap
STACK_WORK = 4096


RowPair = tuple[Rows, Rows]  # (x rows, p rows), one pointer per lane


def _leaf_or_local(
    b: ir.IRBuilder,
    lw: Emitter,
    tape: Tape,
    regs: dict[int, ir.Value],
    r: int,
    rows: RowPair,
    spilled: dict[int, int],
    work: ir.Value | None,
) -> ir.Value:
    """The value of register ``r`` inside the current function, loading it if needed."""
    value = regs.get(r)
    if value is not None:
        return value
    op = tape.ops[r]
    if op in LEAVES:
        value = lw.instruction(b, op, (), tape.attrs[r], rows)
    else:  # computed by an earlier chunk and spilled to the work buffer
        assert work is not None
        value = lw.unspill(b, work, spilled[r], is_bool(op))
    regs[r] = value
    return value


def _emit_registers(
    b: ir.IRBuilder,
    lw: Emitter,
    tape: Tape,
    chunk: Sequence[int],
    rows: RowPair,
    spilled: dict[int, int],
    work: ir.Value | None,
) -> dict[int, ir.Value]:
    """Emit the instructions ``chunk`` (non-leaf registers, in order); spill what others need."""
    regs: dict[int, ir.Value] = {}
    for r in chunk:
        vals = [_leaf_or_local(b, lw, tape, regs, a, rows, spilled, work) for a in tape.args[r]]
        regs[r] = lw.instruction(b, tape.ops[r], vals, tape.attrs[r], rows)
        if r in spilled and work is not None:
            lw.spill(b, regs[r], work, spilled[r], is_bool(tape.ops[r]))
    return regs


class _Body:
    """How one group of points of a tape is computed: inline, or as outlined chunks.

    Large tapes are split into chunks of at most ``chunk_size`` instructions,
    each a ``noinline`` function; registers that cross chunks go through the
    work buffer (``lanes`` doubles per register), and the chunks write their
    outputs to a staging buffer, ``lanes`` doubles per output (for one lane
    with the identity layout: the output row itself). LLVM's optimiser and code
    generator are superlinear in the size of a function, so this keeps compile
    time linear in the tape.
    """

    def __init__(self, lw: Emitter, tape: Tape, chunk_size: int, tag: str):
        self.lw, self.tape = lw, tape
        self.chunks, self.stores = _partition(tape, chunk_size)
        self.spilled: dict[int, int] = {}
        self.functions: list[ir.Function] = []
        if len(self.chunks) > 1:
            self._outline(tag)

    @property
    def work_size(self) -> int:
        """Doubles of work buffer for the spilled registers."""
        return self.lw.lanes * len(self.spilled)

    def _outline(self, tag: str) -> None:
        tape, lw = self.tape, self.lw
        owner = {r: c for c, chunk in enumerate(self.chunks) for r in chunk}
        for c, chunk in enumerate(self.chunks):
            for r in chunk:
                for a in tape.args[r]:
                    if owner.get(a, c) != c and a not in self.spilled:
                        self.spilled[a] = len(self.spilled)
            for k in self.stores[c]:
                r = tape.outputs[k]
                if owner.get(r, c) != c and r not in self.spilled:
                    self.spilled[r] = len(self.spilled)
        # (x, p, staging, work): x and p are the point's rows for one lane, the group's
        # inputs transposed (Soa) for several
        fnty = ir.FunctionType(ir.VoidType(), [PTR, PTR, PTR, PTR])
        for c, chunk in enumerate(self.chunks):
            fn = ir.Function(lw.module, fnty, f"{tag}.chunk{c}")
            fn.linkage = "internal"
            fn.attributes.add("noinline")
            fn.attributes.add("nounwind")
            x_in, p_in, staging, work = fn.args
            # the buffers never overlap where written (staging and the spill slots are
            # disjoint), which lets LLVM schedule the thousands of loads and stores freely
            for arg in fn.args:
                arg.add_attribute("noalias")
            b = ir.IRBuilder(fn.append_basic_block("entry"))
            rows: RowPair = (Soa(x_in), Soa(p_in))
            regs = _emit_registers(b, lw, tape, chunk, rows, self.spilled, work)
            for k in self.stores[c]:
                value = _leaf_or_local(b, lw, tape, regs, tape.outputs[k], rows, self.spilled, work)
                lw.spill(b, value, staging, k, False)
            b.ret_void()
            self.functions.append(fn)


def _partition(tape: Tape, chunk_size: int) -> tuple[list[list[int]], list[list[int]]]:
    """Split the computed registers into chunks of about ``chunk_size`` instructions + stores.

    Returns the chunks (registers, in order) and, per chunk, the outputs it stores.
    An output is stored by the chunk that computes it; an output that is a leaf
    (an input or a constant) goes with the output before it, so stores stay spread out.
    """
    anchored: dict[int, list[int]] = {}
    anchor = -1
    for k, r in enumerate(tape.outputs):
        if tape.ops[r] not in LEAVES:
            anchor = r
        anchored.setdefault(anchor, []).append(k)
    chunks: list[list[int]] = [[]]
    stores: list[list[int]] = [list(anchored.get(-1, []))]
    cost = len(stores[0])
    for r, op in enumerate(tape.ops):
        if op in LEAVES:
            continue
        if cost >= chunk_size:
            chunks.append([])
            stores.append([])
            cost = 0
        chunks[-1].append(r)
        here = anchored.get(r, [])
        stores[-1].extend(here)
        cost += 1 + len(here)
    return chunks, stores


@dataclass
class _Plan:
    """How a tape is emitted: template loops for repeated shapes, a body for the rest."""

    templates: list[Template]
    rest: tuple[int, ...]  # indices of the outputs the body computes
    body: _Body


def _plan(lw: Emitter, tape: Tape, chunk_size: int, tag: str, use_templates: bool) -> _Plan:
    templates = find_templates(tape) if use_templates else []
    looped = {k for t in templates for k in t.outputs}
    rest = tuple(k for k in range(len(tape.outputs)) if k not in looped)
    body_tape = select_outputs(tape, rest) if looped else tape
    return _Plan(templates, rest, _Body(lw, body_tape, chunk_size, tag))


def _emit_template(
    b: ir.IRBuilder,
    lw: Emitter,
    tape: Tape,
    template: Template,
    positions: Sequence[int],
    rows: RowPair,
    out_rows: Rows,
    name: str,
) -> None:
    """``out[positions[t]] = tree(x[bindings[t]])`` for every member t, as a loop."""
    count, holes = len(template.outputs), template.holes
    where = _table(lw.module, f"{name}.positions", [positions[k] for k in template.outputs])
    flat = [i for binding in template.bindings for i in binding]
    table = _table(lw.module, f"{name}.bindings", flat) if holes else None

    with for_range(b, ir.Constant(I64, count), name) as t:
        inputs = []
        for h in range(holes):
            assert table is not None
            at = b.add(b.mul(t, ir.Constant(I64, holes)), ir.Constant(I64, h))
            inputs.append(lw.load(b, rows[0], b.load(_element(b, table, at), typ=I64)))
        value = _tree(b, lw, tape, template.root, iter(inputs), rows)
        lw.store(b, value, out_rows, b.load(_element(b, where, t), typ=I64))


def _tree(b: ir.IRBuilder, lw: Emitter, tape: Tape, r: int, feed: Any, rows: RowPair) -> ir.Value:
    """Emit register ``r`` as a tree (templates are small), inputs taken from ``feed`` in order."""
    op = tape.ops[r]
    if op is Op.VAR:
        return next(feed)
    vals = [_tree(b, lw, tape, a, feed, rows) for a in tape.args[r]]
    return lw.instruction(b, op, vals, tape.attrs[r], rows)


def _table(module: ir.Module, name: str, values: Sequence[int]) -> ir.GlobalVariable:
    kind = ir.ArrayType(I64, len(values))
    table = ir.GlobalVariable(module, kind, name)
    table.initializer = ir.Constant(kind, list(values))
    table.global_constant = True
    table.linkage = "internal"
    return table


def _element(b: ir.IRBuilder, table: ir.GlobalVariable, index: ir.Value) -> ir.Value:
    return b.gep(table, [ir.Constant(I64, 0), index], source_etype=table.value_type, inbounds=True)


def _emit_kernel(spec: KernelSpec, plans: Sequence[tuple[Emitter, _Plan]]) -> int:
    """Emit the batched entry point for ``spec``; returns the work buffer size it needs.

    ``plans`` hold one way of computing the tape per lane count, widest first:
    full groups of points go through the widest, the rest through the next.
    """
    module = plans[0][0].module
    fn = ir.Function(module, KERNEL_TYPE, spec.name)
    for arg, name in zip(fn.args, ("x", "p", "out", "n", "p_stride", "work")):
        arg.name = name
    x, p, out, n, p_stride, work = fn.args
    for arg in (x, p, out, work):
        arg.add_attribute("noalias")  # out and work are written; x and p are only read
    work_size = max(_work_size(lw, spec, plan) for lw, plan in plans)
    b = ir.IRBuilder(fn.append_basic_block("entry"))
    on_stack = 0 < work_size <= STACK_WORK
    if on_stack:  # small scratch: no need to make the caller allocate it
        scratch = b.alloca(ir.ArrayType(DOUBLE, work_size), name="work")
        scratch.align = 64
        # llvmlite types an alloca as [N x double]*; LLVM's pointers are opaque, and so is the
        # caller's buffer this stands in for (vector loads and stores need an untyped pointer)
        scratch.type = PTR
        work = scratch
    start: ir.Value = _i64(0)
    for lw, plan in plans:
        lanes = lw.lanes
        count = b.sub(n, start) if lanes == 1 else b.sdiv(b.sub(n, start), _i64(lanes))
        with for_range(b, count, f"group{lanes}") as g:
            first = b.add(start, b.mul(g, _i64(lanes)) if lanes > 1 else g)
            points = [b.add(first, _i64(lane)) if lane else first for lane in range(lanes)]
            buffers = (x, p, out, p_stride, work)
            _emit_group(b, lw, spec, plan, buffers, points)
        start = b.add(start, b.mul(count, _i64(lanes))) if lanes > 1 else n
    b.ret_void()
    return 0 if on_stack else work_size


def _staging(lw: Emitter, spec: KernelSpec, plan: _Plan) -> bool:
    """Whether outlined chunks write to a staging buffer (scattered after) or the output row."""
    n_out = len(plan.body.tape.outputs)
    positions = tuple(spec.positions[k] for k in plan.rest)
    identity = n_out == spec.width and positions == tuple(range(n_out))
    return bool(plan.body.functions) and not (identity and lw.lanes == 1)


def _work_size(lw: Emitter, spec: KernelSpec, plan: _Plan) -> int:
    """Spill slots, then the staged outputs, then (several lanes) the transposed inputs."""
    if not _staging(lw, spec, plan):
        return plan.body.work_size
    tape = plan.body.tape
    inputs = tape.n_vars + tape.n_params if lw.lanes > 1 else 0
    return plan.body.work_size + lw.lanes * (len(tape.outputs) + inputs)


def _emit_group(
    b: ir.IRBuilder,
    lw: Emitter,
    spec: KernelSpec,
    plan: _Plan,
    buffers: tuple[ir.Value, ir.Value, ir.Value, ir.Value, ir.Value],
    points: Sequence[ir.Value],
) -> None:
    """One group of ``lw.lanes`` points (indices ``points``): clear, compute, store."""
    x, p, out, p_stride, work = buffers
    body = plan.body
    tape = body.tape
    positions = tuple(spec.positions[k] for k in plan.rest)

    def row(base: ir.Value, stride: ir.Value) -> list[ir.Value]:
        return [b.gep(base, [b.mul(i, stride)], source_etype=DOUBLE, inbounds=True) for i in points]

    rows = (row(x, _i64(tape.n_vars)), row(p, p_stride))
    out_rows = row(out, _i64(spec.width))
    if len(spec.positions) < spec.width:
        # structural zeros: clear the rows, then write the nonzeros
        memset = lw.module.declare_intrinsic("llvm.memset", [PTR, I64])
        zero_byte, no = ir.Constant(ir.IntType(8), 0), ir.Constant(BOOL, 0)
        for out_row in out_rows:
            b.call(memset, [out_row, zero_byte, _i64(8 * spec.width), no])
    if body.functions:
        staging = _staging(lw, spec, plan)
        if lw.lanes == 1:
            inputs = [rows[0][0], rows[1][0]]
        else:  # transpose the group's inputs once: the chunks then load whole vectors
            inputs = []
            at = body.work_size + lw.lanes * len(tape.outputs)
            for lane_rows, count, name in (
                (rows[0], tape.n_vars, "x"),
                (rows[1], tape.n_params, "p"),
            ):
                soa = element_at(b, work, _i64(at))
                with for_range(b, _i64(count), f"transpose.{name}") as k:
                    value = lw.load(b, lane_rows, k)
                    b.store(value, element_at(b, soa, b.mul(k, _i64(lw.lanes))), align=8)
                inputs.append(soa)
                at += lw.lanes * count
        if staging:
            target = b.gep(work, [_i64(body.work_size)], source_etype=DOUBLE, inbounds=True)
        else:
            target = out_rows[0]
        for chunk in body.functions:
            b.call(chunk, [*inputs, target, work])
        if staging:
            identity = positions == tuple(range(len(positions)))
            name = f"{spec.name}.positions.w{lw.lanes}"
            table = None if identity else _table(lw.module, name, positions)
            _scatter_loop(b, lw, table, target, out_rows, len(tape.outputs))
    else:
        chunk = body.chunks[0] if body.chunks else []
        regs = _emit_registers(b, lw, tape, chunk, rows, {}, None)
        values = [_leaf_or_local(b, lw, tape, regs, r, rows, {}, None) for r in tape.outputs]
        # row after row: sequential stores stream to memory far better than a column
        # across the group's rows (measured 2.6x on HIRES at 10^5 points)
        for lane, out_row in enumerate(out_rows):
            for value, pos in zip(values, positions):
                b.store(lw.lane(b, value, lane), element_at(b, out_row, _i64(pos)))
    for index, template in enumerate(plan.templates):
        name = f"{spec.name}.template{index}.w{lw.lanes}"
        _emit_template(b, lw, spec.tape, template, spec.positions, rows, out_rows, name)


def _i64(value: int) -> ir.Constant:
    return ir.Constant(I64, value)


@contextlib.contextmanager
def for_range(b: ir.IRBuilder, count: ir.Value, name: str) -> Iterator[ir.Value]:
    """``for i in range(count)``: emits the loop around the body written in the ``with`` block.

    The builder is left after the loop. ``count`` may be 0 (or negative): then the body never runs.

    >>> m = ir.Module()
    >>> fn = ir.Function(m, ir.FunctionType(ir.VoidType(), [I64]), "loop")
    >>> b = ir.IRBuilder(fn.append_basic_block("entry"))
    >>> with for_range(b, fn.args[0], "i") as i:
    ...     twice = b.add(i, i)
    >>> _ = b.ret_void()
    >>> [block.name for block in fn.blocks], b.block.name
    (['entry', 'i.loop', 'i.done'], 'i.done')
    >>> 'icmp sgt i64 %".1", 0' in str(m)   # the guard: no iteration unless count > 0
    True
    """
    fn = b.function
    head = b.block
    body = fn.append_basic_block(f"{name}.loop")
    after = fn.append_basic_block(f"{name}.done")
    zero = ir.Constant(I64, 0)
    b.cbranch(b.icmp_signed(">", count, zero), body, after)
    b.position_at_end(body)
    i = b.phi(I64, name=name)
    i.add_incoming(zero, head)
    yield i
    i_next = b.add(i, ir.Constant(I64, 1))
    i.add_incoming(i_next, b.block)
    b.cbranch(b.icmp_signed("<", i_next, count), body, after)
    b.position_at_end(after)


def _scatter_loop(
    b: ir.IRBuilder,
    lw: Emitter,
    table: ir.GlobalVariable | None,
    staging: ir.Value,
    out_rows: Rows,
    count: int,
) -> None:
    """``out_rows[lane][table[k]] = staging[k][lane]`` for k < count (``table=None``: k).

    Row after row, so the stores into the caller's array are sequential.
    """
    for lane, out_row in enumerate(out_rows):
        with for_range(b, ir.Constant(I64, count), f"scatter{lane}") as k:
            where = k if table is None else b.load(_element(b, table, k), typ=I64)
            slot = b.add(b.mul(k, _i64(lw.lanes)), _i64(lane)) if lw.lanes > 1 else k
            value = b.load(b.gep(staging, [slot], source_etype=DOUBLE, inbounds=True), typ=DOUBLE)
            b.store(value, b.gep(out_row, [where], source_etype=DOUBLE, inbounds=True))


@dataclass
class Lowered:
    """An LLVM module and, per kernel, the number of doubles its ``work`` buffer needs.

    >>> from symjac.graph import Graph
    >>> g = Graph(); x = g.var(0)
    >>> spec = KernelSpec("f", Tape.from_graph(g, [g.sin(x)], 1, 0), 1, (0,))
    >>> low = lower([spec])
    >>> low.work_sizes, low.outlined, low.lanes
    ({'f': 0}, False, 1)
    >>> 'define void @"f"(' in str(low.module)
    True
    """

    module: ir.Module
    work_sizes: dict[str, int]
    #: True when some tape was split into outlined chunks (a large module)
    outlined: bool = False
    #: points computed together in SIMD lanes
    lanes: int = 1


#: instructions per outlined chunk; see :class:`_Body`
CHUNK_SIZE = 256


def lower(
    specs: Sequence[KernelSpec],
    module_name: str = "symjac",
    fastmath: bool = False,
    chunk_size: int = CHUNK_SIZE,
    templates: bool = True,
    lanes: int = 1,
    vector_libm: bool = False,
) -> Lowered:
    """Build an LLVM module with one batched entry point per spec.

    Specs that share a :class:`Tape` object share its outlined chunks. With
    ``templates``, outputs that repeat one small expression shape become loops
    over index tables (:mod:`.templates`). ``lanes`` points are computed at
    once in SIMD vectors; ``vector_libm`` calls glibc's libmvec for elementary
    functions on them (see :mod:`.emitter`). The defaults give portable scalar code.

    >>> from symjac.graph import Graph
    >>> g = Graph(); x = g.var(0)
    >>> tape = Tape.from_graph(g, [g.sin(x)], n_vars=1, n_params=0)
    >>> 'call double @"sin"' in str(lower([KernelSpec("f", tape, 1, (0,))]).module)
    True
    >>> text = str(lower([KernelSpec("f", tape, 1, (0,))], lanes=8, vector_libm=True).module)
    >>> 'call <8 x double> @"_ZGVeN8v_sin"' in text
    True
    """
    if chunk_size < 1:
        raise ValueError("chunk_size must be positive")
    module = ir.Module(name=module_name)
    width = lanes if vector_libm and lanes > 1 else 0
    emitters = [Emitter(module, fastmath, 1, width)]
    if lanes > 1:
        emitters.insert(0, Emitter(module, fastmath, lanes, width))
    plans: dict[tuple[int, int], _Plan] = {}
    work_sizes: dict[str, int] = {}
    for spec in specs:
        chosen = []
        for lw in emitters:
            key = (id(spec.tape), lw.lanes)
            plan = plans.get(key)
            if plan is None:
                tag = f"body{len(plans)}.w{lw.lanes}"
                plan = plans[key] = _plan(lw, spec.tape, chunk_size, tag, templates)
            chosen.append((lw, plan))
        work_sizes[spec.name] = _emit_kernel(spec, chosen)
    outlined = any(plan.body.functions for plan in plans.values())
    return Lowered(module, work_sizes, outlined, lanes)
