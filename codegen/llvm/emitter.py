"""Instruction emission for a group of points evaluated together in SIMD lanes.

An :class:`Emitter` with ``lanes = 1`` emits scalar code for one point, in the
kernel's dtype (:mod:`symjac.ir.dtypes`: ``double`` or ``float``); with
``lanes = W`` every tape register becomes a ``<W x double>`` (``<W x float>``)
holding the same register for W points, so each instruction works on W
points at once. Inputs are gathered lane by lane from the callers' rows (the
caller's arrays are rows of points, array-of-structs) and outputs scattered
back the same way; everything in between is vector code.

Elementary functions are the hard part of vectorising: LLVM splits a vector
``sin`` back into one libm call per lane. With ``vector_libm`` they call
glibc's libmvec instead (x86-64 vector function ABI: ``_ZGVeN8v_sin`` for
AVX-512, ``_ZGVdN4v_sin`` for AVX2; ``_ZGVeN16v_sinf`` and ``_ZGVdN8v_sinf`` in
float32), whose documented error bound is 4 ulp;
functions libmvec lacks, or all of them without it, are called lane by lane
from the scalar C library, which gives exactly the scalar results. One-lane
code in a SIMD kernel calls the vector function on a splat, so a point's bits
never depend on whether it was computed in a lane or alone.
"""

from __future__ import annotations

import contextlib
from collections.abc import Callable, Iterator, Sequence
from typing import NamedTuple

from llvmlite import ir

from symjac.ir.dtypes import FLOAT64, DType
from symjac.ir.ops import INFO, Op, powi_chain

DOUBLE = ir.DoubleType()
FLOAT = ir.FloatType()
BOOL = ir.IntType(1)
I32 = ir.IntType(32)
I64 = ir.IntType(64)
PTR = ir.PointerType()

_INTRINSICS = {
    Op.SQRT: "llvm.sqrt",
    Op.ABS: "llvm.fabs",
    Op.FLOOR: "llvm.floor",
    Op.CEIL: "llvm.ceil",
    Op.MAX: "llvm.maximum",  # IEEE 754-2019: NaN-propagating, -0 < +0
    Op.MIN: "llvm.minimum",
    Op.COPYSIGN: "llvm.copysign",  # a sign-bit operation, not a libm call
}
_ARITH = {Op.ADD: "fadd", Op.SUB: "fsub", Op.MUL: "fmul", Op.DIV: "fdiv"}
_COMPARE = {Op.LT: "<", Op.LE: "<=", Op.EQ: "=="}

#: the x86-64 vector function ABI's ISA letter for each vector register size (in bits)
VECTOR_ISA = {128: "b", 256: "d", 512: "e"}
#: LLVM's scalar type of each dtype's ``llvm`` column
_SCALAR = {"double": DOUBLE, "float": FLOAT}


def scalar_type(dtype: DType) -> ir.Type:
    """The LLVM type of one value of ``dtype``.

    >>> from symjac.ir.dtypes import FLOAT32
    >>> str(scalar_type(FLOAT32)), str(scalar_type(FLOAT64))
    ('float', 'double')
    """
    if dtype.llvm is None:
        raise NotImplementedError(f"the LLVM back end has no {dtype.name} kernels")
    return _SCALAR[dtype.llvm]


def vector_symbol(name: str, lanes: int, arity: int, dtype: DType = FLOAT64) -> str:
    """The libmvec symbol of C function ``name`` on ``lanes`` values of ``dtype``.

    >>> from symjac.ir.dtypes import FLOAT32
    >>> vector_symbol("sin", 8, 1), vector_symbol("pow", 4, 2), vector_symbol("sin", 16, 1, FLOAT32)
    ('_ZGVeN8v_sin', '_ZGVdN4vv_pow', '_ZGVeN16v_sinf')
    """
    isa = VECTOR_ISA[lanes * dtype.itemsize * 8]
    return f"_ZGV{isa}N{lanes}{'v' * arity}_{dtype.libm(name)}"


def vector_widths(dtype: DType = FLOAT64) -> tuple[int, ...]:
    """The lane counts libmvec has functions for in ``dtype`` (one per register size).

    >>> from symjac.ir.dtypes import FLOAT32
    >>> vector_widths(), vector_widths(FLOAT32)
    ((2, 4, 8), (4, 8, 16))
    """
    return tuple(dtype.lanes(bits) for bits in VECTOR_ISA)


class Soa(NamedTuple):
    """Inputs already transposed for a group: ``base[index * lanes + lane]``.

    >>> m = ir.Module(); e = Emitter(m, fastmath=False, lanes=4)
    >>> fn = ir.Function(m, ir.FunctionType(ir.VoidType(), [PTR]), "g")
    >>> b = ir.IRBuilder(fn.append_basic_block())
    >>> v = e.load(b, Soa(fn.args[0]), ir.Constant(I64, 3))   # x[3] of 4 points: one load
    >>> str(v.type), "i64 12" in str(m), str(m).count("load")   # at 3 * 4
    ('<4 x double>', True, 1)
    """

    base: ir.Value


#: where a group's inputs are: one row pointer per lane (the caller's layout), or a Soa buffer
Rows = Sequence[ir.Value] | Soa


class Emitter:
    """Emits tape instructions for ``lanes`` points at once; shared by a module's kernels.

    >>> m = ir.Module("demo")
    >>> fn = ir.Function(m, ir.FunctionType(DOUBLE, [DOUBLE]), "f")
    >>> b = ir.IRBuilder(fn.append_basic_block())
    >>> e = Emitter(m, fastmath=False)
    >>> _ = b.ret(e.instruction(b, Op.SIN, fn.args, None, ((), ())))
    >>> 'call double @"sin"(double' in str(m), str(Emitter(m, False, lanes=4).ty)
    (True, '<4 x double>')
    """

    def __init__(
        self,
        module: ir.Module,
        fastmath: bool,
        lanes: int = 1,
        vector_libm: int = 0,
        dtype: DType = FLOAT64,
    ):
        """``vector_libm``: width of the libmvec functions to call (0: the scalar C library).

        It is ``lanes``, or — for the one-lane code of a SIMD kernel — the SIMD
        width, so a lone point calls the same function (on a splat) as a lane does.
        ``dtype``: what the registers hold (:mod:`symjac.ir.dtypes`).
        """
        if lanes < 1:
            raise ValueError(f"lanes must be positive, not {lanes}")
        widths = vector_widths(dtype)
        if vector_libm and (vector_libm not in widths or lanes not in (1, vector_libm)):
            raise ValueError(f"libmvec has no {vector_libm}-lane functions for {lanes} lanes")
        self.module = module
        self.lanes = lanes
        self.vector_libm = vector_libm
        self.dtype = dtype
        self.flags: tuple[str, ...] = ("fast",) if fastmath else ()
        #: one value, and a register (``lanes`` values)
        self.scalar: ir.Type = scalar_type(dtype)
        self.ty: ir.Type = self.scalar if lanes == 1 else ir.VectorType(self.scalar, lanes)
        self.bool_ty: ir.Type = BOOL if lanes == 1 else ir.VectorType(BOOL, lanes)

    # -- values ---------------------------------------------------------------------------

    def const(self, value: float) -> ir.Constant:
        """``value`` in every lane, rounded once to the dtype (``DType.round``).

        >>> str(Emitter(ir.Module(), False).const(1.5))
        'double 0x3ff8000000000000'
        >>> str(Emitter(ir.Module(), False, lanes=2).const(1.5))
        '<2 x double> <double 0x3ff8000000000000, double 0x3ff8000000000000>'
        >>> from symjac.ir.dtypes import FLOAT32
        >>> str(Emitter(ir.Module(), False, dtype=FLOAT32).const(0.1))   # the float nearest 0.1
        'float 0x3fb99999a0000000'
        """
        value = self.dtype.round(value)
        if self.lanes == 1:
            return ir.Constant(self.scalar, value)
        return ir.Constant(self.ty, [value] * self.lanes)

    def bool_const(self, value: bool) -> ir.Constant:
        """The truth value ``value`` in every lane.

        >>> str(Emitter(ir.Module(), False).bool_const(True))
        'i1 1'
        >>> str(Emitter(ir.Module(), False, lanes=2).bool_const(False))
        '<2 x i1> <i1 0, i1 0>'
        """
        if self.lanes == 1:
            return ir.Constant(BOOL, int(value))
        return ir.Constant(self.bool_ty, [int(value)] * self.lanes)

    def lane(self, b: ir.IRBuilder, value: ir.Value, lane: int) -> ir.Value:
        """The scalar in lane ``lane`` of ``value`` (``value`` itself for one lane).

        >>> m = ir.Module(); e = Emitter(m, fastmath=False, lanes=4)
        >>> fn = ir.Function(m, ir.FunctionType(ir.VoidType(), [PTR, PTR]), "g")
        >>> b = ir.IRBuilder(fn.append_basic_block())
        >>> v = e.lane(b, e.const(2.0), 3)
        >>> v.opname, str(v.type)
        ('extractelement', 'double')
        """
        return value if self.lanes == 1 else b.extract_element(value, ir.Constant(I32, lane))

    def pack(self, b: ir.IRBuilder, scalars: Sequence[ir.Value]) -> ir.Value:
        """One value holding ``scalars[lane]`` in each lane (the scalar itself for one lane).

        >>> m = ir.Module(); e = Emitter(m, fastmath=False, lanes=4)
        >>> fn = ir.Function(m, ir.FunctionType(ir.VoidType(), [PTR, PTR]), "g")
        >>> b = ir.IRBuilder(fn.append_basic_block())
        >>> v = e.pack(b, [ir.Constant(DOUBLE, float(k)) for k in range(4)])
        >>> v.opname, str(v.type), str(m).count("insertelement")
        ('insertelement', '<4 x double>', 4)
        """
        if self.lanes == 1:
            return scalars[0]
        vector: ir.Value = ir.Constant(self.ty, ir.Undefined)
        for lane, s in enumerate(scalars):
            vector = b.insert_element(vector, s, ir.Constant(I32, lane))
        return vector

    def load(self, b: ir.IRBuilder, rows: Rows, index: ir.Value) -> ir.Value:
        """``row[index]`` of every lane's row, as one value.

        Rows given as one pointer per lane are gathered lane by lane:

        >>> m = ir.Module(); e = Emitter(m, fastmath=False, lanes=2)
        >>> fn = ir.Function(m, ir.FunctionType(ir.VoidType(), [PTR, PTR]), "g")
        >>> b = ir.IRBuilder(fn.append_basic_block())
        >>> v = e.load(b, fn.args, ir.Constant(I64, 1))
        >>> str(v.type), str(m).count("load double"), str(m).count("insertelement")
        ('<2 x double>', 2, 2)
        """
        if isinstance(rows, Soa):
            at = self._at(b, rows.base, self._scaled(b, index))
            return b.load(at, typ=self.ty, align=self.dtype.itemsize)
        return self.pack(b, [b.load(self._at(b, row, index), typ=self.scalar) for row in rows])

    def store(self, b: ir.IRBuilder, value: ir.Value, rows: Rows, index: ir.Value) -> None:
        """``row[index] = value`` in every lane's row.

        >>> m = ir.Module(); e = Emitter(m, fastmath=False, lanes=2)
        >>> fn = ir.Function(m, ir.FunctionType(ir.VoidType(), [PTR, PTR]), "g")
        >>> b = ir.IRBuilder(fn.append_basic_block())
        >>> e.store(b, e.const(1.0), fn.args, ir.Constant(I64, 5))
        >>> str(m).count("store double"), str(m).count("i64 5")
        (2, 2)
        """
        if isinstance(rows, Soa):
            at = self._at(b, rows.base, self._scaled(b, index))
            b.store(value, at, align=self.dtype.itemsize)
            return
        for lane, row in enumerate(rows):
            b.store(self.lane(b, value, lane), self._at(b, row, index))

    def _at(self, b: ir.IRBuilder, base: ir.Value, index: ir.Value) -> ir.Value:
        """The address of value ``index`` of an array of this dtype."""
        return element_at(b, base, index, self.scalar)

    def splat(self, b: ir.IRBuilder, scalar: ir.Value) -> ir.Value:
        """``scalar`` (one value) in every lane.

        >>> m = ir.Module(); e = Emitter(m, fastmath=False, lanes=4)
        >>> fn = ir.Function(m, ir.FunctionType(ir.VoidType(), [DOUBLE]), "g")
        >>> b = ir.IRBuilder(fn.append_basic_block())
        >>> v = e.splat(b, fn.args[0]); v.opname, str(v.type)
        ('shufflevector', '<4 x double>')
        """
        if self.lanes == 1:
            return scalar
        one = b.insert_element(ir.Constant(self.ty, ir.Undefined), scalar, _lane0)
        return b.shuffle_vector(
            one, one, ir.Constant(ir.VectorType(I32, self.lanes), [0] * self.lanes)
        )

    def _scaled(self, b: ir.IRBuilder, index: ir.Value) -> ir.Value:
        """``index * lanes``: where slot ``index`` starts in a buffer of ``lanes``-value slots."""
        if isinstance(index, ir.Constant):
            return ir.Constant(I64, index.constant * self.lanes)
        return index if self.lanes == 1 else b.mul(index, ir.Constant(I64, self.lanes))

    def spill(self, b: ir.IRBuilder, value: ir.Value, base: ir.Value, slot: int, boolean: bool):
        """Store a register in slot ``slot`` of a scratch buffer (``lanes`` values per slot).

        >>> m = ir.Module(); e = Emitter(m, fastmath=False, lanes=4)
        >>> fn = ir.Function(m, ir.FunctionType(ir.VoidType(), [PTR, PTR]), "g")
        >>> b = ir.IRBuilder(fn.append_basic_block())
        >>> e.spill(b, e.bool_const(True), fn.args[1], 2, boolean=True)   # slot 2: doubles 8..11
        >>> text = str(m)
        >>> "uitofp <4 x i1>" in text and "i64 8" in text and "store <4 x double>" in text
        True
        """
        if boolean:  # truth values travel through memory as 0.0 / 1.0
            value = b.uitofp(value, self.ty)
        b.store(value, self._slot(b, base, slot), align=self.dtype.itemsize)

    def unspill(self, b: ir.IRBuilder, base: ir.Value, slot: int, boolean: bool) -> ir.Value:
        """Load the register :meth:`spill` stored in slot ``slot`` (truth values: ``!= 0.0``).

        >>> m = ir.Module(); e = Emitter(m, fastmath=False, lanes=4)
        >>> fn = ir.Function(m, ir.FunctionType(ir.VoidType(), [PTR, PTR]), "g")
        >>> b = ir.IRBuilder(fn.append_basic_block())
        >>> v = e.unspill(b, fn.args[1], 2, boolean=True)
        >>> v.opname, str(v.type), "load <4 x double>" in str(m)
        ('fcmp', '<4 x i1>', True)
        """
        value = b.load(self._slot(b, base, slot), typ=self.ty, align=self.dtype.itemsize)
        if boolean:
            value = b.fcmp_unordered("!=", value, self.const(0.0))
        return value

    def _slot(self, b: ir.IRBuilder, base: ir.Value, slot: int) -> ir.Value:
        return self._at(b, base, ir.Constant(I64, slot * self.lanes))

    # -- instructions ---------------------------------------------------------------------

    def instruction(
        self,
        b: ir.IRBuilder,
        op: Op,
        vals: Sequence[ir.Value],
        attr: object,
        rows: tuple[Rows, Rows],
    ) -> ir.Value:
        """Register value of ``op`` applied to ``vals``; leaves read ``rows`` (x rows, p rows).

        >>> m = ir.Module(); e = Emitter(m, fastmath=True)
        >>> fn = ir.Function(m, ir.FunctionType(ir.VoidType(), [PTR, PTR]), "g")
        >>> b = ir.IRBuilder(fn.append_basic_block())
        >>> rows = ([fn.args[0]], [fn.args[1]])   # one lane: one x row, one p row
        >>> x = e.instruction(b, Op.VAR, (), 0, rows)
        >>> p = e.instruction(b, Op.PARAM, (), 1, rows)
        >>> s = e.instruction(b, Op.ADD, (x, p), None, rows)
        >>> "fadd fast double" in str(m), str(e.instruction(b, Op.CONST, (), 2.0, rows))
        (True, 'double 0x4000000000000000')
        """
        f = self.flags
        if op is Op.CONST:
            return self.const(attr)  # type: ignore[arg-type]
        if op is Op.BOOL:
            return self.bool_const(bool(attr))
        if op is Op.VAR or op is Op.PARAM:
            return self.load(b, rows[0] if op is Op.VAR else rows[1], ir.Constant(I64, attr))
        if op in _ARITH:
            return getattr(b, _ARITH[op])(vals[0], vals[1], flags=f)
        if op is Op.NEG:
            return b.fneg(vals[0], flags=f)
        if op is Op.POWI:
            return self.powi(b, vals[0], int(attr))  # type: ignore[call-overload]
        if op in _INTRINSICS:
            return b.call(self._intrinsic(_INTRINSICS[op], len(vals)), list(vals), fastmath=f)
        if op in _INLINE:
            return _INLINE[op](self, b, vals)
        info = INFO[op]
        if info.libm is not None:
            return self._libm_call(b, info.libm, vals, info.vector, info.integer_args)
        raise NotImplementedError(f"the LLVM back end has no lowering for {op.name}")

    def powi(self, b: ir.IRBuilder, base: ir.Value, n: int) -> ir.Value:
        """Square-and-multiply by :func:`symjac.ir.ops.powi_chain` (not ``llvm.powi``).

        ``x**-5``: ``x²``, ``x⁴``, ``x⁴·x``, then one division.

        >>> m = ir.Module(); e = Emitter(m, fastmath=False)
        >>> fn = ir.Function(m, ir.FunctionType(DOUBLE, [DOUBLE]), "f")
        >>> b = ir.IRBuilder(fn.append_basic_block())
        >>> _ = b.ret(e.powi(b, fn.args[0], -5))
        >>> str(m).count("fmul double"), str(m).count("fdiv double")
        (3, 1)
        """
        chain = powi_chain(n)
        if chain.result is None:
            return self.const(1.0)
        values = [base]
        for i, j in chain.steps:
            values.append(b.fmul(values[i], values[j], flags=self.flags))
        result = values[chain.result]
        return b.fdiv(self.const(1.0), result, flags=self.flags) if chain.reciprocal else result

    def _declare(
        self, name: str, ty: ir.Type, arity: int, pure: bool, ints: Sequence[int] = ()
    ) -> ir.Function:
        fn = self.module.globals.get(name)  # the module's emitters share declarations
        if fn is None:
            args = [I32 if i in ints else ty for i in range(arity)]  # C int: an order
            fn = ir.Function(self.module, ir.FunctionType(ty, args), name)
            if pure:
                # these only read their arguments (we never look at errno): lets LLVM CSE and hoist
                fn.attributes.add("nounwind")
                fn.attributes.add("readnone")
        return fn

    def _intrinsic(self, name: str, arity: int) -> ir.Function:
        kind = self.dtype.intrinsic
        suffix = kind if self.lanes == 1 else f"v{self.lanes}{kind}"
        return self._declare(f"{name}.{suffix}", self.ty, arity, pure=False)

    def _libm_call(
        self,
        b: ir.IRBuilder,
        name: str,
        vals: Sequence[ir.Value],
        vector: bool,
        ints: Sequence[int] = (),
    ) -> ir.Value:
        """``name`` from libmvec where ``vector`` (the op table says it has it), else libm —
        in the dtype's variant (``sinf`` for float32); arguments ``ints`` are passed as C
        ints (jn's order), converted from their values."""
        arity, width = len(vals), self.vector_libm
        if width and vector:
            vtype = ir.VectorType(self.scalar, width)
            symbol = vector_symbol(name, width, arity, self.dtype)
            fn = self._declare(symbol, vtype, arity, True)
            if self.lanes == width:
                return b.call(fn, list(vals), fastmath=self.flags)
            # one lane: the same function on a splat, so the bits match a lane's
            splats = [b.insert_element(ir.Constant(vtype, ir.Undefined), v, _lane0) for v in vals]
            splats = [
                b.shuffle_vector(v, v, ir.Constant(ir.VectorType(I32, width), [0] * width))
                for v in splats
            ]
            return b.extract_element(b.call(fn, splats, fastmath=self.flags), _lane0)
        scalar = self._declare(self.dtype.libm(name), self.scalar, arity, True, ints)

        def args(lane: int) -> list[ir.Value]:
            out = [self.lane(b, v, lane) for v in vals]
            return [b.fptosi(v, I32) if i in ints else v for i, v in enumerate(out)]

        if self.lanes == 1:
            return b.call(scalar, args(0), fastmath=self.flags)
        lanes = [b.call(scalar, args(lane), fastmath=self.flags) for lane in range(self.lanes)]
        return self.pack(b, lanes)


_lane0 = ir.Constant(I32, 0)


def element_at(
    b: ir.IRBuilder, base: ir.Value, index: ir.Value, element: ir.Type = DOUBLE
) -> ir.Value:
    """The address of ``base[index]`` in an array of ``element`` (doubles by default).

    >>> m = ir.Module()
    >>> fn = ir.Function(m, ir.FunctionType(ir.VoidType(), [PTR]), "g")
    >>> b = ir.IRBuilder(fn.append_basic_block())
    >>> at = element_at(b, fn.args[0], ir.Constant(I64, 7))
    >>> at.opname, "getelementptr inbounds double" in str(m)
    ('getelementptr', True)
    """
    return b.gep(base, [index], source_etype=element, inbounds=True)


def index(b: ir.IRBuilder, *terms: tuple[ir.Value | int, int]) -> ir.Value:
    """``sum(value * scale for value, scale in terms)`` as an i64, folded where it is constant.

    SROA keeps a stack frame in registers only where every access has a constant
    offset, and it runs before any pass that folds ``mul i64 0, 8``: so offsets
    known here are computed here.

    >>> m = ir.Module()
    >>> fn = ir.Function(m, ir.FunctionType(ir.VoidType(), [I64]), "g")
    >>> b = ir.IRBuilder(fn.append_basic_block())
    >>> str(index(b, (2, 8), (3, 1)))
    'i64 19'
    >>> index(b, (fn.args[0], 8), (3, 1)).opname
    'add'
    """
    constant, parts = 0, []
    for value, scale in terms:
        if isinstance(value, int):
            constant += value * scale
        elif isinstance(value, ir.Constant):
            constant += int(value.constant) * scale
        elif scale:
            parts.append(value if scale == 1 else b.mul(value, ir.Constant(I64, scale)))
    total: ir.Value | None = None
    for part in parts:
        total = part if total is None else b.add(total, part)
    if total is None:
        return ir.Constant(I64, constant)
    return b.add(total, ir.Constant(I64, constant)) if constant else total


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


def _cmp(b: ir.IRBuilder, op: str, a: ir.Value, c: ir.Value) -> ir.Value:
    return b.fcmp_ordered(op, a, c)


def _sign(e: Emitter, b: ir.IRBuilder, vals: Sequence[ir.Value]) -> ir.Value:
    (x,) = vals
    zero = e.const(0.0)
    # ±0 and NaN pass through unchanged
    inner = b.select(_cmp(b, "<", x, zero), e.const(-1.0), x)
    return b.select(_cmp(b, ">", x, zero), e.const(1.0), inner)


def _heaviside(e: Emitter, b: ir.IRBuilder, vals: Sequence[ir.Value]) -> ir.Value:
    x, h0 = vals
    zero = e.const(0.0)
    at_zero = b.select(_cmp(b, "==", x, zero), h0, x)  # NaN stays NaN
    below = b.select(_cmp(b, "<", x, zero), zero, at_zero)
    return b.select(_cmp(b, ">", x, zero), e.const(1.0), below)


_INLINE: dict[Op, Callable[[Emitter, ir.IRBuilder, Sequence[ir.Value]], ir.Value]] = {
    Op.SIGN: _sign,
    Op.HEAVISIDE: _heaviside,
    **{op: (lambda s: lambda e, b, v: _cmp(b, s, v[0], v[1]))(sym) for op, sym in _COMPARE.items()},
    Op.NE: lambda e, b, v: b.fcmp_unordered("!=", v[0], v[1]),  # true for NaN, as in C
    Op.AND: lambda e, b, v: b.and_(v[0], v[1]),
    Op.OR: lambda e, b, v: b.or_(v[0], v[1]),
    Op.NOT: lambda e, b, v: b.not_(v[0]),
    Op.SELECT: lambda e, b, v: b.select(v[0], v[1], v[2]),
}
