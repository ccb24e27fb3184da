"""Native methods: one-point calls from Python in about the time of ``np.add(a, b, out=c)``.

Calling a kernel through ctypes costs ~0.5 µs before it starts, and reading an
array's data pointer from Python (``arr.ctypes.data``) ~1.7 µs. So a compiled
object's hot methods (``jac.values``, ``jac.dense``, ``f(x)``) are *builtin
functions* whose C implementation is JIT-compiled: CPython calls them with its
vectorcall convention, like any method written in C::

    PyObject *symjac.method(PyObject *self, PyObject *const *args, Py_ssize_t nargs,
                            PyObject *kwnames)       /* METH_FASTCALL | METH_KEYWORDS */

One such function serves every kernel of the process; it is compiled once
(:func:`caller_module`). What differs between methods is ``self``, a tuple
made by :func:`symjac.codegen.llvm.pyabi.native_method`:

``(descriptor, fallback, shape, dtype, ...)``
    ``descriptor`` is an int64 NumPy array of :data:`FIELDS` (the kernel's
    address, its sizes, the address of its dtype's ``numpy.dtype`` object and that
    dtype's item size, its scratch buffer and that buffer's busy flag);
    ``fallback`` is the Python method to call instead; ``shape`` and ``dtype``
    the result's, the arguments of ``numpy.empty`` (adjacent in the tuple, so
    they are passed as its vectorcall arguments in place).

The method evaluates *one point* natively only when the call is exactly what
the kernel takes: ``(x)`` or ``(x, p)``, optionally ``out=`` by keyword; every
array an exact ``ndarray`` of the kernel's canonical dtype (float64, float32: the
builtin dtype object, so native byte order), C-contiguous and
aligned, of the right shape; ``p`` ``None`` (or empty) when there are no
parameters; ``out`` writeable and overlapping neither input. The result is
``out``, or a new array from ``numpy.empty(shape, dtype)``. Anything else — a list, a batch,
another dtype, an unknown keyword, a scratch buffer in use — is passed,
untouched, to ``fallback``, which validates, converts or raises as the
Python method always did. The kernel runs holding the GIL (a point takes
microseconds at most); a scratch buffer is taken with an atomic
compare-and-swap, so two threads never share one even without a GIL.

The field offsets of ``ndarray``, ``tuple`` and the flag bits are those of
NumPy's and CPython's C APIs; :func:`symjac.codegen.llvm.pyabi.layout_ok` checks them on
real objects before any native method is made. The addresses of the objects
and C functions compared against or called (:data:`GLOBALS`) are stored into
the module's globals after compilation, so the IR is the same in every process.
"""

from __future__ import annotations

from llvmlite import ir
from symjac.codegen.llvm.emitter import I64, PTR
from symjac.codegen.llvm.lower import KERNEL_TYPE

I32 = ir.IntType(32)

#: byte offsets of PyArrayObject fields (NumPy ≥ 1.7 and 2.x, 64-bit)
OFFSETS = {"type": 8, "data": 16, "nd": 24, "dimensions": 32, "descr": 56, "flags": 64}
#: byte offsets in a tuple (PyTupleObject, 64-bit): its length and its first item
TUPLE_SIZE, TUPLE_ITEMS = 16, 24
#: NPY_ARRAY_C_CONTIGUOUS | NPY_ARRAY_ALIGNED, and NPY_ARRAY_WRITEABLE
READABLE, WRITEABLE = 0x0001 | 0x0100, 0x0400
#: the int64 fields of a method's descriptor, in order
FIELDS = (
    "kernel",
    "n_vars",
    "n_params",
    "out_nd",
    "dim0",
    "dim1",
    "dtype",
    "itemsize",
    "work",
    "busy",
)
#: items of a native method's ``self`` tuple the compiled code reads
SELF_ITEMS = ("descriptor", "fallback", "shape", "dtype")
#: the addresses the code compares against or calls, stored after compilation (in order):
#: ``numpy.ndarray``, ``None``, the interned string ``"out"``,
#: ``numpy.empty``, ``Py_IncRef``, ``PyObject_Vectorcall``
GLOBALS = (
    "symjac.ndarray",
    "symjac.none",
    "symjac.out",
    "symjac.empty",
    "symjac.incref",
    "symjac.vectorcall",
)
#: the compiled function's symbol
METHOD = "symjac.method"

METHOD_TYPE = ir.FunctionType(PTR, [PTR, PTR, I64, PTR])
#: PyObject_Vectorcall(callable, args, nargsf, kwnames) has the method's own C signature
VECTORCALL_TYPE = METHOD_TYPE
INCREF_TYPE = ir.FunctionType(ir.VoidType(), [PTR])


def _i64(value: int) -> ir.Constant:
    return ir.Constant(I64, value)


def caller_module() -> ir.Module:
    """The module of the one native method function every compiled object shares.

    >>> text = str(caller_module())
    >>> 'define ptr @"symjac.method"(ptr' in text and '@"symjac.vectorcall" = global i64 0' in text
    True
    """
    module = ir.Module("symjac.native")
    refs = {}
    for name in GLOBALS:
        var = ir.GlobalVariable(module, I64, name)
        var.initializer = _i64(0)
        refs[name] = var
    fn = ir.Function(module, METHOD_TYPE, METHOD)
    _Method(fn, refs).emit()
    return module


class _Method:
    """The body of :data:`METHOD`: parse the call, check the arrays, run one point."""

    def __init__(self, fn: ir.Function, refs: dict[str, ir.GlobalVariable]):
        self.fn = fn
        self.b = ir.IRBuilder(fn.append_basic_block("entry"))
        self.fallback = fn.append_basic_block("fallback")
        self.g = {name: self.b.load(ref, typ=I64) for name, ref in refs.items()}

    # -- helpers ----------------------------------------------------------------------------

    def require(self, condition: ir.Value) -> None:
        """Continue only if ``condition``; otherwise call the fallback."""
        ok = self.fn.append_basic_block("ok")
        self.b.cbranch(condition, ok, self.fallback)
        self.b.position_at_end(ok)

    def at(self, base: ir.Value, offset: int | ir.Value, typ: ir.Type) -> ir.Value:
        """The ``typ`` at byte ``offset`` of ``base``."""
        return self.b.load(self.slot(base, offset), typ=typ)

    def slot(self, base: ir.Value, offset: int | ir.Value) -> ir.Value:
        """The address ``base + offset`` (bytes)."""
        index = _i64(offset) if isinstance(offset, int) else offset
        return self.b.gep(base, [index], source_etype=ir.IntType(8))

    def is_(self, obj: ir.Value, name: str) -> ir.Value:
        """Whether ``obj`` is the object whose address is in global ``name``."""
        return self.equal(self.b.ptrtoint(obj, I64), self.g[name])

    def equal(self, a: ir.Value, b: ir.Value) -> ir.Value:
        return self.b.icmp_unsigned("==", a, b)

    def array(self, obj: ir.Value, flags: int, nd: ir.Value, descr: ir.Value) -> ir.Value:
        """Require an ndarray of dtype ``descr`` (an address) with ``flags`` and ``nd`` axes;
        returns its dimensions."""
        b = self.b
        self.require(self.is_(self.at(obj, OFFSETS["type"], PTR), "symjac.ndarray"))
        self.require(self.equal(b.ptrtoint(self.at(obj, OFFSETS["descr"], PTR), I64), descr))
        have = b.and_(self.at(obj, OFFSETS["flags"], I32), ir.Constant(I32, flags))
        self.require(self.equal(have, ir.Constant(I32, flags)))
        self.require(self.equal(b.sext(self.at(obj, OFFSETS["nd"], I32), I64), nd))
        return self.at(obj, OFFSETS["dimensions"], PTR)

    def data(self, obj: ir.Value) -> ir.Value:
        """An array's data pointer, as an integer."""
        return self.b.ptrtoint(self.at(obj, OFFSETS["data"], PTR), I64)

    def disjoint(self, start: ir.Value, end: ir.Value, start2: ir.Value, end2: ir.Value) -> None:
        """Require two byte ranges not to overlap (contiguous arrays overlap when these do)."""
        b = self.b
        self.require(b.or_(b.icmp_unsigned("<=", end, start2), b.icmp_unsigned("<=", end2, start)))

    def call(self, address: ir.Value, fnty: ir.FunctionType, args: list[ir.Value]) -> ir.Value:
        """Call the C function at ``address`` (an integer) with signature ``fnty``."""
        return self.b.call(self.b.inttoptr(address, fnty.as_pointer()), args)

    # -- the body ---------------------------------------------------------------------------

    def emit(self) -> None:
        b, g = self.b, self.g
        me, args, nargs, kwnames = self.fn.args
        items = {name: self.at(me, TUPLE_ITEMS + 8 * k, PTR) for k, name in enumerate(SELF_ITEMS)}
        descriptor = b.inttoptr(self.data(items["descriptor"]), PTR)
        field = {name: self.at(descriptor, 8 * k, I64) for k, name in enumerate(FIELDS)}
        none = b.inttoptr(g["symjac.none"], PTR)
        null = ir.Constant(PTR, None)

        # (x) or (x, p), and at most the keyword out=
        self.require(b.icmp_signed(">=", nargs, _i64(1)))
        self.require(b.icmp_signed("<=", nargs, _i64(2)))
        x = b.load(args, typ=PTR)
        with b.if_else(b.icmp_signed("==", nargs, _i64(2))) as (two, one):
            with two:  # read args[1] only when it is there
                p_given = self.at(args, 8, PTR)
                from_two = b.block
            with one:
                from_one = b.block
        p = b.phi(PTR)
        p.add_incoming(p_given, from_two)
        p.add_incoming(none, from_one)
        with b.if_else(self.equal(b.ptrtoint(kwnames, I64), _i64(0))) as (bare, keyword):
            with bare:
                from_bare = b.block
            with keyword:
                self.require(self.equal(self.at(kwnames, TUPLE_SIZE, I64), _i64(1)))
                self.require(self.is_(self.at(kwnames, TUPLE_ITEMS, PTR), "symjac.out"))
                given = self.at(args, b.mul(nargs, _i64(8)), PTR)
                from_keyword = b.block
        out = b.phi(PTR)
        out.add_incoming(none, from_bare)
        out.add_incoming(given, from_keyword)

        # x: (n_vars,)
        descr, size = field["dtype"], field["itemsize"]
        dims = self.array(x, READABLE, _i64(1), descr)
        self.require(self.equal(self.at(dims, 0, I64), field["n_vars"]))
        x_start = self.data(x)
        x_end = b.add(x_start, b.mul(field["n_vars"], size))

        # p: (n_params,); with no parameters None, or an empty array (p_start 0: no data)
        with b.if_else(b.icmp_signed(">", field["n_params"], _i64(0))) as (some, no_params):
            with some:
                dims = self.array(p, READABLE, _i64(1), descr)
                self.require(self.equal(self.at(dims, 0, I64), field["n_params"]))
                p_data = self.data(p)
                from_some = b.block
            with no_params:
                with b.if_then(b.not_(self.is_(p, "symjac.none"))):
                    dims = self.array(p, 0, _i64(1), descr)
                    self.require(self.equal(self.at(dims, 0, I64), _i64(0)))
                from_none = b.block
        p_start = b.phi(I64)
        p_start.add_incoming(p_data, from_some)
        p_start.add_incoming(_i64(0), from_none)
        p_end = b.add(p_start, b.mul(field["n_params"], size))

        # out: (dim0,) or (dim0, dim1), writeable, overlapping neither input
        out_is_none = self.is_(out, "symjac.none")
        with b.if_then(b.not_(out_is_none)):
            dims = self.array(out, READABLE | WRITEABLE, field["out_nd"], descr)
            self.require(self.equal(self.at(dims, 0, I64), field["dim0"]))
            with b.if_then(b.icmp_signed("==", field["out_nd"], _i64(2))):
                self.require(self.equal(self.at(dims, 8, I64), field["dim1"]))
            o_start = self.data(out)
            o_end = b.add(o_start, b.mul(b.mul(field["dim0"], field["dim1"]), size))
            self.disjoint(o_start, o_end, x_start, x_end)
            self.disjoint(o_start, o_end, p_start, p_end)

        # the scratch buffer, if the kernel needs one: taken atomically, or the fallback
        busy = self.slot(descriptor, 8 * FIELDS.index("busy"))
        work = field["work"]
        with b.if_then(b.icmp_unsigned("!=", work, _i64(0))):
            taken = b.cmpxchg(busy, _i64(0), _i64(1), "acquire", "monotonic")
            self.require(b.extract_value(taken, 1))

        # the result: out (a new reference), or numpy.empty(shape, dtype); NULL (an exception)
        # is passed on
        with b.if_else(out_is_none) as (fresh, given_out):
            with fresh:
                shape = self.slot(me, TUPLE_ITEMS + 8 * SELF_ITEMS.index("shape"))
                empty = b.inttoptr(g["symjac.empty"], PTR)
                made = self.call(
                    g["symjac.vectorcall"], VECTORCALL_TYPE, [empty, shape, _i64(2), null]
                )
                with b.if_then(self.equal(b.ptrtoint(made, I64), _i64(0)), likely=False):
                    self.release(busy, work)
                    b.ret(null)
                from_fresh = b.block
            with given_out:
                self.call(g["symjac.incref"], INCREF_TYPE, [out])
                from_given = b.block
        result = b.phi(PTR)
        result.add_incoming(made, from_fresh)
        result.add_incoming(out, from_given)

        # one point
        pointers = [b.inttoptr(v, PTR) for v in (x_start, p_start, self.data(result), work)]
        self.call(field["kernel"], KERNEL_TYPE, [*pointers[:3], _i64(1), _i64(0), pointers[3]])
        self.release(busy, work)
        b.ret(result)

        # anything else: the Python method, with the arguments as they came
        b.position_at_end(self.fallback)
        fallback = [items["fallback"], args, nargs, kwnames]
        b.ret(self.call(g["symjac.vectorcall"], VECTORCALL_TYPE, fallback))

    def release(self, busy: ir.Value, work: ir.Value) -> None:
        """Give the scratch buffer back (nothing to do when the kernel has none)."""
        with self.b.if_then(self.b.icmp_unsigned("!=", work, _i64(0))):
            self.b.atomic_rmw("xchg", busy, _i64(0), "release")
