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

Floating-point semantics are IEEE unless ``fastmath`` is asked for: no
fast-math flags, no FTZ/DAZ, no change of rounding mode. Elementary functions
are calls into the C math library, declared ``readnone`` (we never read
``errno``), which lets LLVM share and hoist them.
"""

from __future__ import annotations

import contextlib
from collections.abc import Callable, Iterator, Sequence
from dataclasses import dataclass
from typing import Any

from llvmlite import ir

from symjac.ops import INFO, LEAVES, Op, is_bool
from symjac.tape import KernelSpec, Tape, select_outputs

from .templates import Template, find_templates

DOUBLE = ir.DoubleType()
BOOL = ir.IntType(1)
I64 = ir.IntType(64)
PTR = ir.PointerType()

#: the kernel signature: (x, p, out, n, p_stride, work)
KERNEL_TYPE = ir.FunctionType(ir.VoidType(), [PTR, PTR, PTR, I64, I64, PTR])

_INTRINSICS = {
    Op.SQRT: "llvm.sqrt",
    Op.ABS: "llvm.fabs",
    Op.FLOOR: "llvm.floor",
    Op.CEIL: "llvm.ceil",
    Op.MAX: "llvm.maximum",  # IEEE 754-2019: NaN-propagating, -0 < +0
    Op.MIN: "llvm.minimum",
}
_ARITH = {Op.ADD: "fadd", Op.SUB: "fsub", Op.MUL: "fmul", Op.DIV: "fdiv"}
_COMPARE = {Op.LT: "<", Op.LE: "<=", Op.EQ: "=="}


class _Lowerer:
    """Emits the body of one point into a builder; shared by all kernels of a module."""

    def __init__(self, module: ir.Module, fastmath: bool):
        self.module = module
        self.flags: tuple[str, ...] = ("fast",) if fastmath else ()
        self._functions: dict[str, ir.Function] = {}

    def libm(self, name: str, arity: int) -> ir.Function:
        fn = self._functions.get(name)
        if fn is None:
            fn = ir.Function(self.module, ir.FunctionType(DOUBLE, [DOUBLE] * arity), name)
            # libm only reads its arguments (we never look at errno): lets LLVM CSE and hoist
            fn.attributes.add("nounwind")
            fn.attributes.add("readnone")
            self._functions[name] = fn
        return fn

    def intrinsic(self, name: str, arity: int = 1) -> ir.Function:
        fn = self._functions.get(name)
        if fn is None:
            fnty = ir.FunctionType(DOUBLE, [DOUBLE] * arity)
            fn = self.module.declare_intrinsic(name, [DOUBLE], fnty)
            self._functions[name] = fn
        return fn

    def instruction(
        self,
        b: ir.IRBuilder,
        op: Op,
        vals: Sequence[ir.Value],
        attr: object,
        x_row: ir.Value,
        p_row: ir.Value,
    ) -> ir.Value:
        f = self.flags
        if op is Op.CONST:
            return ir.Constant(DOUBLE, attr)
        if op is Op.BOOL:
            return ir.Constant(BOOL, int(bool(attr)))
        if op is Op.VAR or op is Op.PARAM:
            row = x_row if op is Op.VAR else p_row
            addr = b.gep(row, [ir.Constant(I64, attr)], source_etype=DOUBLE, inbounds=True)
            return b.load(addr, typ=DOUBLE)
        if op in _ARITH:
            return getattr(b, _ARITH[op])(vals[0], vals[1], flags=f)
        if op is Op.NEG:
            return b.fneg(vals[0], flags=f)
        if op is Op.POWI:
            return self.powi(b, vals[0], int(attr))  # type: ignore[call-overload]
        if op in _INTRINSICS:
            return b.call(self.intrinsic(_INTRINSICS[op], len(vals)), list(vals), fastmath=f)
        if op in _INLINE:
            return _INLINE[op](self, b, vals)
        info = INFO[op]
        if info.libm is not None:
            return b.call(self.libm(info.libm, info.arity), list(vals), fastmath=f)
        raise NotImplementedError(f"the LLVM back end has no lowering for {op.name}")

    def powi(self, b: ir.IRBuilder, base: ir.Value, n: int) -> ir.Value:
        """Square-and-multiply, the same chain as :func:`symjac.scalar.powi` (no ``__powidf2``)."""
        result = None
        m = abs(n)
        while m:
            if m & 1:
                result = base if result is None else b.fmul(result, base, flags=self.flags)
            m >>= 1
            if m:
                base = b.fmul(base, base, flags=self.flags)
        if result is None:
            return ir.Constant(DOUBLE, 1.0)
        if n < 0:
            return b.fdiv(ir.Constant(DOUBLE, 1.0), result, flags=self.flags)
        return result


def _cmp(b: ir.IRBuilder, op: str, a: ir.Value, c: ir.Value) -> ir.Value:
    return b.fcmp_ordered(op, a, c)


def _sign(lw: _Lowerer, b: ir.IRBuilder, vals: Sequence[ir.Value]) -> ir.Value:
    (x,) = vals
    zero, one = ir.Constant(DOUBLE, 0.0), ir.Constant(DOUBLE, 1.0)
    # ±0 and NaN pass through unchanged
    inner = b.select(_cmp(b, "<", x, zero), ir.Constant(DOUBLE, -1.0), x)
    return b.select(_cmp(b, ">", x, zero), one, inner)


def _heaviside(lw: _Lowerer, b: ir.IRBuilder, vals: Sequence[ir.Value]) -> ir.Value:
    x, h0 = vals
    zero, one = ir.Constant(DOUBLE, 0.0), ir.Constant(DOUBLE, 1.0)
    at_zero = b.select(_cmp(b, "==", x, zero), h0, x)  # NaN stays NaN
    below = b.select(_cmp(b, "<", x, zero), zero, at_zero)
    return b.select(_cmp(b, ">", x, zero), one, below)


_INLINE: dict[Op, Callable[[_Lowerer, ir.IRBuilder, Sequence[ir.Value]], ir.Value]] = {
    Op.SIGN: _sign,
    Op.HEAVISIDE: _heaviside,
    **{
        op: (lambda s: lambda lw, b, v: _cmp(b, s, v[0], v[1]))(sym) for op, sym in _COMPARE.items()
    },
    Op.NE: lambda lw, b, v: b.fcmp_unordered("!=", v[0], v[1]),  # true for NaN, as in C
    Op.AND: lambda lw, b, v: b.and_(v[0], v[1]),
    Op.OR: lambda lw, b, v: b.or_(v[0], v[1]),
    Op.NOT: lambda lw, b, v: b.not_(v[0]),
    Op.SELECT: lambda lw, b, v: b.select(v[0], v[1], v[2]),
}


def _leaf_or_local(
    b: ir.IRBuilder,
    lw: _Lowerer,
    tape: Tape,
    regs: dict[int, ir.Value],
    r: int,
    rows: tuple[ir.Value, ir.Value],
    spilled: dict[int, int],
    work: ir.Value | None,
) -> ir.Value:
    """The value of register ``r`` inside the current function, loading it if needed."""
    value = regs.get(r)
    if value is not None:
        return value
    op = tape.ops[r]
    if op in LEAVES:
        value = lw.instruction(b, op, (), tape.attrs[r], rows[0], rows[1])
    else:  # computed by an earlier chunk and spilled to the work buffer
        assert work is not None
        value = b.load(_slot(b, work, spilled[r]), typ=DOUBLE)
        if is_bool(op):  # truth values travel through the work buffer as 0.0 / 1.0
            value = b.fcmp_unordered("!=", value, ir.Constant(DOUBLE, 0.0))
    regs[r] = value
    return value


def _slot(b: ir.IRBuilder, base: ir.Value, index: int) -> ir.Value:
    return b.gep(base, [ir.Constant(I64, index)], source_etype=DOUBLE, inbounds=True)


def _emit_registers(
    b: ir.IRBuilder,
    lw: _Lowerer,
    tape: Tape,
    chunk: Sequence[int],
    rows: tuple[ir.Value, ir.Value],
    spilled: dict[int, int],
    work: ir.Value | None,
) -> dict[int, ir.Value]:
    """Emit the instructions ``chunk`` (non-leaf registers, in order); spill what others need."""
    regs: dict[int, ir.Value] = {}
    for r in chunk:
        vals = [_leaf_or_local(b, lw, tape, regs, a, rows, spilled, work) for a in tape.args[r]]
        regs[r] = lw.instruction(b, tape.ops[r], vals, tape.attrs[r], rows[0], rows[1])
        if r in spilled and work is not None:
            value = regs[r]
            if is_bool(tape.ops[r]):
                value = b.uitofp(value, DOUBLE)
            b.store(value, _slot(b, work, spilled[r]))
    return regs


class _Body:
    """How one point of a tape is computed: inline, or as a sequence of outlined chunks.

    Large tapes are split into chunks of at most ``chunk_size`` instructions,
    each a ``noinline`` function; registers that cross chunks go through the
    caller's work buffer. LLVM's optimiser and code generator are superlinear
    in the size of a function, so this keeps compile time linear in the tape.
    """

    def __init__(self, lw: _Lowerer, tape: Tape, chunk_size: int, tag: str):
        self.lw, self.tape = lw, tape
        self.chunks, self.stores = _partition(tape, chunk_size)
        self.spilled: dict[int, int] = {}
        self.functions: list[ir.Function] = []
        if len(self.chunks) > 1:
            self._outline(tag)

    @property
    def work_size(self) -> int:
        return len(self.spilled)

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
        fnty = ir.FunctionType(ir.VoidType(), [PTR, PTR, PTR, PTR])
        for c, chunk in enumerate(self.chunks):
            fn = ir.Function(lw.module, fnty, f"{tag}.chunk{c}")
            fn.linkage = "internal"
            fn.attributes.add("noinline")
            fn.attributes.add("nounwind")
            x_row, p_row, vals, work = fn.args
            # the four rows never overlap where written (the scratch row lies past the
            # spill slots), which lets LLVM schedule the thousands of loads and stores freely
            for arg in fn.args:
                arg.add_attribute("noalias")
            b = ir.IRBuilder(fn.append_basic_block("entry"))
            rows = (x_row, p_row)
            regs = _emit_registers(b, lw, tape, chunk, rows, self.spilled, work)
            for k in self.stores[c]:
                value = _leaf_or_local(b, lw, tape, regs, tape.outputs[k], rows, self.spilled, work)
                b.store(value, _slot(b, vals, k))
            b.ret_void()
            self.functions.append(fn)

    def emit(
        self, b: ir.IRBuilder, rows: tuple[ir.Value, ir.Value], work: ir.Value | None
    ) -> Store:
        """Emit one point's computation; returns ``store(b, base, positions)`` for the outputs.

        Outlined bodies can only store contiguously (``positions`` must be ``0..m-1``).
        """
        if self.functions:

            def store_outlined(b: ir.IRBuilder, base: ir.Value, positions: Sequence[int]) -> None:
                assert list(positions) == list(range(len(self.tape.outputs)))
                for fn in self.functions:
                    b.call(fn, [rows[0], rows[1], base, work])

            return store_outlined
        chunk = self.chunks[0] if self.chunks else []
        regs = _emit_registers(b, self.lw, self.tape, chunk, rows, {}, None)
        tape, lw = self.tape, self.lw

        def store_inline(b: ir.IRBuilder, base: ir.Value, positions: Sequence[int]) -> None:
            for r, pos in zip(tape.outputs, positions):
                value = _leaf_or_local(b, lw, tape, regs, r, rows, {}, None)
                b.store(value, _slot(b, base, pos))

        return store_inline


Store = Callable[[ir.IRBuilder, ir.Value, Sequence[int]], None]


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


def _plan(lw: _Lowerer, tape: Tape, chunk_size: int, tag: str, use_templates: bool) -> _Plan:
    templates = find_templates(tape) if use_templates else []
    looped = {k for t in templates for k in t.outputs}
    rest = tuple(k for k in range(len(tape.outputs)) if k not in looped)
    body_tape = select_outputs(tape, rest) if looped else tape
    return _Plan(templates, rest, _Body(lw, body_tape, chunk_size, tag))


def _emit_template(
    b: ir.IRBuilder,
    lw: _Lowerer,
    tape: Tape,
    template: Template,
    positions: Sequence[int],
    rows: tuple[ir.Value, ir.Value],
    base: ir.Value,
    name: str,
) -> None:
    """``base[positions[t]] = tree(x[bindings[t]])`` for every member t, as a loop."""
    count, holes = len(template.outputs), template.holes
    where = _table(lw.module, f"{name}.positions", [positions[k] for k in template.outputs])
    flat = [i for binding in template.bindings for i in binding]
    table = _table(lw.module, f"{name}.bindings", flat) if holes else None

    with for_range(b, ir.Constant(I64, count), name) as t:
        inputs = []
        for h in range(holes):
            assert table is not None
            at = b.add(b.mul(t, ir.Constant(I64, holes)), ir.Constant(I64, h))
            index = b.load(_element(b, table, at), typ=I64)
            inputs.append(
                b.load(b.gep(rows[0], [index], source_etype=DOUBLE, inbounds=True), typ=DOUBLE)
            )
        value = _tree(b, lw, tape, template.root, iter(inputs), rows)
        dest = b.load(_element(b, where, t), typ=I64)
        b.store(value, b.gep(base, [dest], source_etype=DOUBLE, inbounds=True))


def _tree(
    b: ir.IRBuilder, lw: _Lowerer, tape: Tape, r: int, feed: Any, rows: tuple[ir.Value, ir.Value]
) -> ir.Value:
    """Emit register ``r`` as a tree (templates are small), inputs taken from ``feed`` in order."""
    op = tape.ops[r]
    if op is Op.VAR:
        return next(feed)
    vals = [_tree(b, lw, tape, a, feed, rows) for a in tape.args[r]]
    return lw.instruction(b, op, vals, tape.attrs[r], rows[0], rows[1])


def _table(module: ir.Module, name: str, values: Sequence[int]) -> ir.GlobalVariable:
    kind = ir.ArrayType(I64, len(values))
    table = ir.GlobalVariable(module, kind, name)
    table.initializer = ir.Constant(kind, list(values))
    table.global_constant = True
    table.linkage = "internal"
    return table


def _element(b: ir.IRBuilder, table: ir.GlobalVariable, index: ir.Value) -> ir.Value:
    return b.gep(table, [ir.Constant(I64, 0), index], source_etype=table.value_type, inbounds=True)


def _emit_kernel(lw: _Lowerer, spec: KernelSpec, plan: _Plan) -> int:
    """Emit the batched entry point for ``spec``; returns the work buffer size it needs."""
    body = plan.body
    fn = ir.Function(lw.module, KERNEL_TYPE, spec.name)
    for arg, name in zip(fn.args, ("x", "p", "out", "n", "p_stride", "work")):
        arg.name = name
    x, p, out, n, p_stride, work = fn.args
    for arg in (x, p, out, work):
        arg.add_attribute("noalias")  # out and work are written; x and p are only read
    tape = body.tape
    n_out = len(tape.outputs)
    positions = tuple(spec.positions[k] for k in plan.rest)
    identity = n_out == spec.width and positions == tuple(range(n_out))
    # outlined bodies write their outputs to a row: the output row itself when the layout is
    # the identity, otherwise a scratch row at the end of the work buffer, scattered after
    scatter_outlined = bool(body.functions) and not identity
    work_size = body.work_size + (n_out if scatter_outlined else 0)

    b = ir.IRBuilder(fn.append_basic_block("entry"))
    with for_range(b, n, "point") as i:

        def row(base: ir.Value, stride: ir.Value) -> ir.Value:
            return b.gep(base, [b.mul(i, stride)], source_etype=DOUBLE, inbounds=True)

        rows = (row(x, ir.Constant(I64, tape.n_vars)), row(p, p_stride))
        out_row = row(out, ir.Constant(I64, spec.width))
        store = body.emit(b, rows, work if body.functions else None)
        if scatter_outlined:
            scratch = _slot(b, work, body.work_size)
            store(b, scratch, range(n_out))
        if len(spec.positions) < spec.width:
            # structural zeros: clear the row, then write the nonzeros over it
            memset = lw.module.declare_intrinsic("llvm.memset", [PTR, I64])
            zero_byte, no = ir.Constant(ir.IntType(8), 0), ir.Constant(BOOL, 0)
            b.call(memset, [out_row, zero_byte, ir.Constant(I64, 8 * spec.width), no])
        if scatter_outlined:
            table = _table(lw.module, f"{spec.name}.positions", positions)
            _scatter_loop(b, table, scratch, out_row, n_out)
        else:
            store(b, out_row, positions)
        for index, template in enumerate(plan.templates):
            name = f"{spec.name}.template{index}"
            _emit_template(b, lw, spec.tape, template, spec.positions, rows, out_row, name)
    b.ret_void()
    return work_size


@contextlib.contextmanager
def for_range(b: ir.IRBuilder, count: ir.Value, name: str) -> Iterator[ir.Value]:
    """``for i in range(count)``: emits the loop around the body written in the ``with`` block.

    The builder is left after the loop. ``count`` may be 0 (or negative): then the body never runs.
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
    b: ir.IRBuilder, table: ir.GlobalVariable, src: ir.Value, dest: ir.Value, count: int
) -> None:
    """``dest[table[k]] = src[k]`` for k < count, as a loop (the table can be large)."""
    with for_range(b, ir.Constant(I64, count), "scatter") as k:
        where = b.load(_element(b, table, k), typ=I64)
        value = b.load(b.gep(src, [k], source_etype=DOUBLE, inbounds=True), typ=DOUBLE)
        b.store(value, b.gep(dest, [where], source_etype=DOUBLE, inbounds=True))


@dataclass(frozen=True)
class Lowered:
    """An LLVM module and, per kernel, the number of doubles its ``work`` buffer needs."""

    module: ir.Module
    work_sizes: dict[str, int]
    #: True when some tape was split into outlined chunks (a large module)
    outlined: bool = False


#: instructions per outlined chunk; see :class:`_Body`
CHUNK_SIZE = 256


def lower(
    specs: Sequence[KernelSpec],
    module_name: str = "symjac",
    fastmath: bool = False,
    chunk_size: int = CHUNK_SIZE,
    templates: bool = True,
) -> Lowered:
    """Build an LLVM module with one batched entry point per spec.

    Specs that share a :class:`Tape` object share its outlined chunks. With
    ``templates``, outputs that repeat one small expression shape become loops
    over index tables (:mod:`.templates`).

    >>> from symjac.graph import Graph
    >>> g = Graph(); x = g.var(0)
    >>> tape = Tape.from_graph(g, [g.sin(x)], n_vars=1, n_params=0)
    >>> 'call double @"sin"' in str(lower([KernelSpec("f", tape, 1, (0,))]).module)
    True
    """
    if chunk_size < 1:
        raise ValueError("chunk_size must be positive")
    module = ir.Module(name=module_name)
    lw = _Lowerer(module, fastmath)
    plans: dict[int, _Plan] = {}
    work_sizes: dict[str, int] = {}
    for spec in specs:
        plan = plans.get(id(spec.tape))
        if plan is None:
            tag = f"body{len(plans)}"
            plan = plans[id(spec.tape)] = _plan(lw, spec.tape, chunk_size, tag, templates)
        work_sizes[spec.name] = _emit_kernel(lw, spec, plan)
    outlined = any(plan.body.functions for plan in plans.values())
    return Lowered(module, work_sizes, outlined)
