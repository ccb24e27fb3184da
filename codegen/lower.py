"""Lowering: :class:`~symjac.tape.KernelSpec` → LLVM IR, built with ``llvmlite.ir``.

Each kernel becomes one function with the C signature::

    void NAME(const double *x, const double *p, double *out, int64_t n, int64_t p_stride)

It loops over the ``n`` points natively: point ``i`` reads
``x[i*n_vars : (i+1)*n_vars]`` and ``p[i*p_stride : i*p_stride + n_params]``
(``p_stride`` is 0 when all points share one parameter vector) and writes the
``width`` doubles of ``out`` row ``i`` — every one of them, zeros included.
``out`` must not overlap ``x`` or ``p`` (the runtime checks; the IR says
``noalias``).

Floating-point semantics are IEEE unless ``fastmath`` is asked for: no
fast-math flags, no FTZ/DAZ, no change of rounding mode. Elementary functions
are calls into the C math library, declared ``readnone`` (we never read
``errno``), which lets LLVM share and hoist them.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence

from llvmlite import ir

from symjac.ops import INFO, Op
from symjac.tape import KernelSpec, Tape

DOUBLE = ir.DoubleType()
BOOL = ir.IntType(1)
I64 = ir.IntType(64)
PTR = ir.PointerType()

#: the kernel signature: (x, p, out, n, p_stride)
KERNEL_TYPE = ir.FunctionType(ir.VoidType(), [PTR, PTR, PTR, I64, I64])

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

    def intrinsic(self, name: str) -> ir.Function:
        fn = self._functions.get(name)
        if fn is None:
            fn = self.module.declare_intrinsic(name, [DOUBLE])
            self._functions[name] = fn
        return fn

    def point(self, b: ir.IRBuilder, tape: Tape, x_row: ir.Value, p_row: ir.Value) -> list:
        """Emit the tape for one point; returns the LLVM value of every register."""
        regs: list[ir.Value] = []
        for op, args, attr in zip(tape.ops, tape.args, tape.attrs):
            vals = [regs[a] for a in args]
            regs.append(self.instruction(b, op, vals, attr, x_row, p_row))
        return regs

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
            return b.call(self.intrinsic(_INTRINSICS[op]), list(vals), fastmath=f)
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


def _emit_kernel(lw: _Lowerer, spec: KernelSpec) -> None:
    fn = ir.Function(lw.module, KERNEL_TYPE, spec.name)
    x, p, out, n, p_stride = fn.args
    for arg, name in zip(fn.args, ("x", "p", "out", "n", "p_stride")):
        arg.name = name
    out.add_attribute("noalias")
    tape = spec.tape

    entry = fn.append_basic_block("entry")
    loop = fn.append_basic_block("loop")
    done = fn.append_basic_block("done")
    b = ir.IRBuilder(entry)
    b.cbranch(b.icmp_signed(">", n, ir.Constant(I64, 0)), loop, done)

    b.position_at_end(loop)
    i = b.phi(I64, name="i")
    i.add_incoming(ir.Constant(I64, 0), entry)

    def row(base: ir.Value, stride: ir.Value) -> ir.Value:
        return b.gep(base, [b.mul(i, stride)], source_etype=DOUBLE, inbounds=True)

    x_row = row(x, ir.Constant(I64, tape.n_vars))
    p_row = row(p, p_stride)
    out_row = row(out, ir.Constant(I64, spec.width))
    regs = lw.point(b, tape, x_row, p_row)

    if len(spec.positions) < spec.width:
        # structural zeros: clear the row, then store the nonzeros over it (LLVM drops the
        # redundant part of the memset for small rows)
        b.call(
            lw.module.declare_intrinsic("llvm.memset", [PTR, I64]),
            [
                out_row,
                ir.Constant(ir.IntType(8), 0),
                ir.Constant(I64, 8 * spec.width),
                ir.Constant(BOOL, 0),
            ],
        )
    for reg, pos in zip(tape.outputs, spec.positions):
        addr = b.gep(out_row, [ir.Constant(I64, pos)], source_etype=DOUBLE, inbounds=True)
        b.store(regs[reg], addr)

    i_next = b.add(i, ir.Constant(I64, 1), name="i_next")
    i.add_incoming(i_next, b.block)
    b.cbranch(b.icmp_signed("<", i_next, n), loop, done)

    b.position_at_end(done)
    b.ret_void()


def lower(
    specs: Sequence[KernelSpec], module_name: str = "symjac", fastmath: bool = False
) -> ir.Module:
    """Build an LLVM module with one batched entry point per spec.

    >>> from symjac.graph import Graph
    >>> g = Graph(); x = g.var(0)
    >>> tape = Tape.from_graph(g, [g.sin(x)], n_vars=1, n_params=0)
    >>> "@sin" in str(lower([KernelSpec("f", tape, 1, (0,))]))
    True
    """
    module = ir.Module(name=module_name)
    lw = _Lowerer(module, fastmath)
    for spec in specs:
        _emit_kernel(lw, spec)
    return module
