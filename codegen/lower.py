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

**Large tapes** are split into outlined chunks of about ``chunk_size``
instructions (LLVM is superlinear in the size of a function); registers that
cross chunks are spilled to the frame. **Templates** (:mod:`.templates`):
outputs that share one small shape become loops over index tables, reading
their holes — inputs, parameters, constants and shared registers computed
once by the straight-line part — from the frame and tables.

Floating-point semantics are IEEE unless ``fastmath`` is asked for: no
fast-math flags, no FTZ/DAZ, no change of rounding mode. Elementary functions
are calls into the C math library (or libmvec), declared ``readnone`` (we
never read ``errno``), which lets LLVM share and hoist them.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass

from llvmlite import ir

from symjac.ops import LEAVES, is_bool
from symjac.tape import KernelSpec, Tape, select_outputs

from .emitter import BOOL, DOUBLE, I64, PTR, Emitter, Soa, element_at, for_range
from .templates import Template, find_templates
from .transpose import rows_to_soa, soa_to_rows

__all__ = ["CHUNK_SIZE", "KERNEL_TYPE", "STACK_WORK", "Lowered", "for_range", "lower"]

#: the kernel signature: (x, p, out, n, p_stride, work)
KERNEL_TYPE = ir.FunctionType(ir.VoidType(), [PTR, PTR, PTR, I64, I64, PTR])
#: scratch buffers up to this many doubles live on the kernel's stack instead of the caller's heap
STACK_WORK = 4096
#: instructions per outlined chunk; see :class:`_Body`
CHUNK_SIZE = 256
#: most points a wrapper kernel stages through its body at once
WRAPPER_BLOCK = 64

#: the four regions a body reads and writes: inputs, parameters, outputs, spilled registers
Bases = tuple[ir.Value, ir.Value, ir.Value, ir.Value]
X, P, OUT, SPILL = range(4)


def _i64(value: int) -> ir.Constant:
    return ir.Constant(I64, value)


def _padded(count: int, lanes: int) -> int:
    return -(-count // lanes) * lanes


class _Body:
    """The straight-line part of a tape: its instructions, inline or as outlined chunks.

    ``targets[k]`` is where body output ``k`` goes: ``(OUT, column)`` or
    ``(SPILL, slot)`` (a shared register a template reads). Registers that
    cross chunks get spill slots from ``first_spill`` on. Each chunk is a
    ``noinline`` function of the four region pointers.
    """

    def __init__(
        self,
        lw: Emitter,
        tape: Tape,
        targets: Sequence[tuple[int, int]],
        first_spill: int,
        chunk_size: int,
        tag: str,
    ):
        self.lw, self.tape, self.targets = lw, tape, targets
        self.chunks, self.stores = _partition(tape, chunk_size)
        self.spilled: dict[int, int] = {}
        self.slots = first_spill
        self.functions: list[ir.Function] = []
        if len(self.chunks) > 1:
            self._outline(tag)

    def _outline(self, tag: str) -> None:
        tape, lw = self.tape, self.lw
        owner = {r: c for c, chunk in enumerate(self.chunks) for r in chunk}

        def cross(r: int, c: int) -> None:
            if owner.get(r, c) != c and r not in self.spilled:
                self.spilled[r] = self.slots
                self.slots += 1

        for c, chunk in enumerate(self.chunks):
            for r in chunk:
                for a in tape.args[r]:
                    cross(a, c)
            for k in self.stores[c]:
                cross(tape.outputs[k], c)
        fnty = ir.FunctionType(ir.VoidType(), [PTR] * 4)
        for c, chunk in enumerate(self.chunks):
            fn = ir.Function(lw.module, fnty, f"{tag}.chunk{c}")
            fn.linkage = "internal"
            fn.attributes.add("noinline")
            fn.attributes.add("nounwind")
            # the regions never overlap where written (outputs and spill slots are disjoint),
            # which lets LLVM schedule the thousands of loads and stores freely
            for arg in fn.args:
                arg.add_attribute("noalias")
            b = ir.IRBuilder(fn.append_basic_block("entry"))
            self._emit_chunk(b, c, tuple(fn.args))  # type: ignore[arg-type]
            b.ret_void()
            self.functions.append(fn)

    def emit(self, b: ir.IRBuilder, bases: Bases) -> None:
        """Compute the body for one group whose regions start at ``bases``."""
        if self.functions:
            for fn in self.functions:
                b.call(fn, list(bases))
        else:
            self._emit_chunk(b, 0, bases)

    def _emit_chunk(self, b: ir.IRBuilder, c: int, bases: Bases) -> None:
        tape, lw = self.tape, self.lw
        rows = (Soa(bases[X]), Soa(bases[P]))
        regs: dict[int, ir.Value] = {}

        def value(r: int) -> ir.Value:
            v = regs.get(r)
            if v is None:
                if tape.ops[r] in LEAVES:
                    v = lw.instruction(b, tape.ops[r], (), tape.attrs[r], rows)
                else:  # computed by an earlier chunk
                    v = lw.unspill(b, bases[SPILL], self.spilled[r], is_bool(tape.ops[r]))
                regs[r] = v
            return v

        for r in self.chunks[c] if self.chunks else ():
            regs[r] = lw.instruction(b, tape.ops[r], [value(a) for a in tape.args[r]], tape.attrs[r], rows)
            if r in self.spilled:
                lw.spill(b, regs[r], bases[SPILL], self.spilled[r], is_bool(tape.ops[r]))
        for k in self.stores[c] if self.stores else ():
            region, slot = self.targets[k]
            r = tape.outputs[k]
            lw.spill(b, value(r), bases[region], slot, region == SPILL and is_bool(tape.ops[r]))


def _partition(tape: Tape, chunk_size: int) -> tuple[list[list[int]], list[list[int]]]:
    """Split the computed registers into chunks of about ``chunk_size`` instructions + stores.

    Returns the chunks (registers, in order) and, per chunk, the outputs it stores.
    An output is stored by the chunk that computes it; an output that is a leaf
    (an input or a constant) goes with the output before it, so stores stay spread out.

    >>> from symjac.graph import Graph
    >>> g = Graph(); x = g.var(0)
    >>> _partition(Tape.from_graph(g, [x, g.sin(x), g.cos(x)], 1, 0), 2)
    ([[1], [2]], [[0, 1], [2]])
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
    """How a tape is computed: template loops for repeated shapes, a body for the rest."""

    tape: Tape
    templates: list[Template]
    body: _Body
    slot_of: dict[int, int]  # shared register a template reads → its spill slot


def _plan(lw: Emitter, tape: Tape, chunk_size: int, tag: str, use_templates: bool) -> _Plan:
    templates = find_templates(tape) if use_templates else []
    looped = {k for t in templates for k in t.outputs}
    rest = [k for k in range(len(tape.outputs)) if k not in looped]
    shared = sorted({r for t in templates for r in t.registers()})
    slot_of = {r: s for s, r in enumerate(shared)}
    targets = [(OUT, k) for k in rest] + [(SPILL, s) for s in range(len(shared))]
    if looped:
        # the body computes the other outputs and the shared registers the loops read
        extended = Tape(
            tape.n_vars, tape.n_params, tape.ops, tape.args, tape.attrs, (*tape.outputs, *shared)
        )
        keep = [*rest, *range(len(tape.outputs), len(tape.outputs) + len(shared))]
        body_tape = select_outputs(extended, keep)
    else:
        body_tape = tape
    body = _Body(lw, body_tape, targets, len(shared), chunk_size, tag)
    return _Plan(tape, templates, body, slot_of)


def _table(module: ir.Module, name: str, values: Sequence[object], typ: ir.Type) -> ir.Value:
    kind = ir.ArrayType(typ, len(values))
    table = ir.GlobalVariable(module, kind, name)
    table.initializer = ir.Constant(kind, list(values))
    table.global_constant = True
    table.linkage = "internal"
    return table


def _element(b: ir.IRBuilder, table: ir.Value, index: ir.Value, typ: ir.Type) -> ir.Value:
    at = b.gep(table, [_i64(0), index], source_etype=table.value_type, inbounds=True)
    return b.load(at, typ=typ)


def _emit_template(
    b: ir.IRBuilder, lw: Emitter, plan: _Plan, template: Template, bases: Bases, name: str
) -> None:
    """``out[k] = tree(holes of k)`` for every member ``k``, as one loop over index tables."""
    module = lw.module
    columns = _table(module, f"{name}.outputs", template.outputs, I64)
    tables = []
    for h, kind in enumerate(template.kinds):
        values = [binding[h] for binding in template.bindings]
        if kind == "c":
            tables.append(_table(module, f"{name}.hole{h}", [float(v) for v in values], DOUBLE))  # type: ignore[arg-type]
        else:
            if kind in ("r", "b"):
                values = [plan.slot_of[int(v)] for v in values]  # type: ignore[call-overload]
            tables.append(_table(module, f"{name}.hole{h}", values, I64))
    region = {"x": X, "p": P, "r": SPILL, "b": SPILL}
    rows = (Soa(bases[X]), Soa(bases[P]))
    with for_range(b, _i64(len(template.outputs)), name) as t:
        values = []
        for (op, attr, args) in template.program:
            if op is not None:
                vals = [values[a] for a in args]
                values.append(lw.instruction(b, op, vals, attr, rows))
                continue
            kind = template.kinds[attr]  # type: ignore[index]
            table = tables[attr]  # type: ignore[index]
            if kind == "c":
                values.append(lw.splat(b, _element(b, table, t, DOUBLE)))
            else:
                hole = lw.load(b, Soa(bases[region[kind]]), _element(b, table, t, I64))
                if kind == "b":
                    hole = b.fcmp_unordered("!=", hole, lw.const(0.0))
                values.append(hole)
        lw.store(b, values[-1], Soa(bases[OUT]), _element(b, columns, t, I64))


def _frame(b: ir.IRBuilder, size: int, work: ir.Value) -> tuple[ir.Value, int]:
    """Scratch space of ``size`` doubles: on the stack when small, else the caller's ``work``.

    Returns the buffer and how many doubles the caller must provide.
    """
    if 0 < size <= STACK_WORK:
        scratch = b.alloca(ir.ArrayType(DOUBLE, size), name="frame")
        scratch.align = 64
        # llvmlite types an alloca as [N x double]*; LLVM's pointers are opaque, and so is the
        # caller's buffer this stands in for (vector loads and stores need an untyped pointer)
        scratch.type = PTR
        return scratch, 0
    return work, size


def _new_kernel(module: ir.Module, name: str, internal: bool) -> tuple[ir.Function, ir.IRBuilder]:
    fn = ir.Function(module, KERNEL_TYPE, name)
    for arg, arg_name in zip(fn.args, ("x", "p", "out", "n", "p_stride", "work")):
        arg.name = arg_name
    for arg in (fn.args[0], fn.args[1], fn.args[2], fn.args[5]):
        arg.add_attribute("noalias")  # out and work are written; x and p are only read
    if internal:
        fn.linkage = "internal"
    return fn, ir.IRBuilder(fn.append_basic_block("entry"))


def _emit_body_kernel(lw: Emitter, plan: _Plan, name: str, internal: bool) -> int:
    """The packed kernel of ``plan``'s tape; returns the work buffer size it needs."""
    tape, lanes = plan.tape, lw.lanes
    n_vars, n_params, width = tape.n_vars, tape.n_params, len(tape.outputs)
    fn, b = _new_kernel(lw.module, name, internal)
    x, p, out, n, p_stride, work = fn.args
    spill_slots = plan.body.slots
    if lanes == 1:
        frame, work_size = _frame(b, spill_slots, work)
    else:
        offsets = [0, _padded(n_vars, lanes), _padded(n_params, lanes), _padded(width, lanes)]
        for i in (1, 2, 3):
            offsets[i] += offsets[i - 1]
        frame, work_size = _frame(b, lanes * (offsets[3] + spill_slots), work)
    groups = n if lanes == 1 else b.sdiv(b.add(n, _i64(lanes - 1)), _i64(lanes))
    with for_range(b, groups, "group") as g:
        if lanes == 1:
            row = lambda base, stride: b.gep(base, [b.mul(g, stride)], source_etype=DOUBLE)  # noqa: E731
            bases: Bases = (row(x, _i64(n_vars)), row(p, p_stride), row(out, _i64(width)), frame)
        else:
            # the last group repeats its last point in the lanes past n: same values, same stores
            first, last = b.mul(g, _i64(lanes)), b.sub(n, _i64(1))
            points = []
            for lane in range(lanes):
                i = b.add(first, _i64(lane)) if lane else first
                points.append(b.select(b.icmp_signed("<", i, n), i, last) if lane else i)

            def rows(base: ir.Value, stride: ir.Value) -> list[ir.Value]:
                return [b.gep(base, [b.mul(i, stride)], source_etype=DOUBLE) for i in points]

            bases = tuple(element_at(b, frame, _i64(lanes * o)) for o in offsets)  # type: ignore[assignment]
            rows_to_soa(b, rows(x, _i64(n_vars)), bases[X], n_vars, "x")
            if n_params:
                rows_to_soa(b, rows(p, p_stride), bases[P], n_params, "p")
        plan.body.emit(b, bases)
        for index, template in enumerate(plan.templates):
            _emit_template(b, lw, plan, template, bases, f"{name}.template{index}")
        if lanes > 1:
            whole = b.icmp_signed("<=", b.add(first, _i64(lanes)), n)
            with b.if_else(whole) as (full, partial):
                with full:
                    soa_to_rows(b, bases[OUT], rows(out, _i64(width)), width, "out")
                with partial:  # a single point or the batch's tail: store only the lanes it owns
                    _lanes_to_rows(b, bases[OUT], out, first, b.sub(n, first), width, lanes)
    b.ret_void()
    return work_size


def _lanes_to_rows(
    b: ir.IRBuilder,
    soa: ir.Value,
    out: ir.Value,
    first: ir.Value,
    active: ir.Value,
    width: int,
    lanes: int,
) -> None:
    """``out[first + lane][f] = soa[f * lanes + lane]`` for the ``active`` lanes, one by one.

    Cheaper than a whole transpose when most lanes are copies (one point: 1/8 of the stores).
    """
    with for_range(b, active, "lane") as lane:
        row = b.gep(out, [b.mul(b.add(first, lane), _i64(width))], source_etype=DOUBLE)
        with for_range(b, _i64(width), "column") as f:
            at = b.add(b.mul(f, _i64(lanes)), lane)
            b.store(b.load(element_at(b, soa, at), typ=DOUBLE), element_at(b, row, f))


def _emit_wrapper(module: ir.Module, spec: KernelSpec, body: ir.Function, body_work: int) -> int:
    """Kernel ``spec`` as its tape's body kernel on blocks of points, scattered to positions."""
    tape = spec.tape
    count = len(spec.positions)
    block = max(1, min(WRAPPER_BLOCK, STACK_WORK // max(count, 1)))
    fn, b = _new_kernel(module, spec.name, internal=False)
    x, p, out, n, p_stride, work = fn.args
    staged, work_size = _frame(b, block * count, work)
    inner = work if work_size == 0 else element_at(b, work, _i64(work_size))
    identity = spec.positions == tuple(range(count))
    table = None if identity else _table(module, f"{spec.name}.positions", spec.positions, I64)
    memset = module.declare_intrinsic("llvm.memset", [PTR, I64])
    blocks = b.sdiv(b.add(n, _i64(block - 1)), _i64(block))
    with for_range(b, blocks, "block") as k:
        start = b.mul(k, _i64(block))
        left = b.sub(n, start)
        points = b.select(b.icmp_signed("<", left, _i64(block)), left, _i64(block))
        x_at = b.gep(x, [b.mul(start, _i64(tape.n_vars))], source_etype=DOUBLE)
        p_at = b.gep(p, [b.mul(start, p_stride)], source_etype=DOUBLE) if tape.n_params else p
        b.call(body, [x_at, p_at, staged, points, p_stride, inner])
        with for_range(b, points, "point") as i:
            row = b.gep(out, [b.mul(b.add(start, i), _i64(spec.width))], source_etype=DOUBLE)
            if count < spec.width:  # structural zeros: clear the row, then write the nonzeros
                zero_byte, no = ir.Constant(ir.IntType(8), 0), ir.Constant(BOOL, 0)
                b.call(memset, [row, zero_byte, _i64(8 * spec.width), no])
            src = b.gep(staged, [b.mul(i, _i64(count))], source_etype=DOUBLE)
            with for_range(b, _i64(count), "scatter") as j:
                at = j if table is None else _element(b, table, j, I64)
                value = b.load(element_at(b, src, j), typ=DOUBLE)
                b.store(value, element_at(b, row, at))
    b.ret_void()
    return work_size + body_work


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

    Specs that share a :class:`Tape` object share its body kernel. With
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
    lw = Emitter(module, fastmath, lanes, lanes if vector_libm and lanes > 1 else 0)
    plans: dict[int, _Plan] = {}
    bodies: dict[int, tuple[ir.Function, int]] = {}
    work_sizes: dict[str, int] = {}

    def body_of(tape: Tape, name: str, internal: bool) -> tuple[ir.Function, int]:
        key = id(tape)
        if key not in bodies:
            tag = f"body{len(plans)}"
            plan = plans[key] = _plan(lw, tape, chunk_size, tag, templates)
            work = _emit_body_kernel(lw, plan, name, internal)
            bodies[key] = (module.get_global(name), work)
        return bodies[key]

    def packed(spec: KernelSpec) -> bool:
        return spec.width == len(spec.positions) and spec.positions == tuple(range(spec.width))

    for spec in specs:  # packed kernels first: they are their tape's body
        if packed(spec) and id(spec.tape) not in bodies:
            work_sizes[spec.name] = body_of(spec.tape, spec.name, internal=False)[1]
    for spec in specs:
        if spec.name not in work_sizes:
            body, work = body_of(spec.tape, f"{spec.name}.body", internal=True)
            work_sizes[spec.name] = _emit_wrapper(module, spec, body, work)
    outlined = any(plan.body.functions for plan in plans.values())
    return Lowered(module, work_sizes, outlined, lanes)
