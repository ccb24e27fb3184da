"""Native entry points that take NumPy arrays as Python objects: one-point calls in ~0.5 µs.

Calling a kernel from Python costs little; getting the data pointers of the
arrays does not (``arr.ctypes.data`` alone is ~1.7 µs). So each kernel gets a
second entry point (``work`` is the kernel's scratch buffer, or NULL when it
needs none)::

    int NAME.py(PyObject *x, PyObject *p, PyObject *out, double *work)

called through ctypes with the arrays themselves (``ctypes.py_object``: no
conversion). It reads NumPy's public ``PyArrayObject`` fields (data, nd,
dimensions, descr, flags) and evaluates *one point* only when every argument
is exactly what the kernel needs: an exact ``ndarray`` of the canonical
float64 dtype, C-contiguous and aligned, of the right shape; ``p`` is ``None``
when there are no parameters; ``out`` is also writeable and overlaps neither
input. Then it returns 0; anything else returns 1 without touching memory,
and the caller takes the general (validating, converting) path.

The field offsets are those of NumPy's C API; :func:`symjac.pyabi.layout`
checks them against a real array at run time before any entry point is used.
The addresses of ``numpy.ndarray``, the float64 descriptor and ``None`` are
process-specific, so they are read from module globals set after JIT
compilation (:data:`GLOBALS`), which keeps the IR identical across processes.
"""

from __future__ import annotations

from collections.abc import Iterable

from llvmlite import ir

from symjac.tape import KernelSpec

from .emitter import I64, PTR

I32 = ir.IntType(32)

#: byte offsets of PyArrayObject fields (NumPy ≥ 1.7 and 2.x, 64-bit)
OFFSETS = {"type": 8, "data": 16, "nd": 24, "dimensions": 32, "descr": 56, "flags": 64}
#: NPY_ARRAY_C_CONTIGUOUS | NPY_ARRAY_ALIGNED, and NPY_ARRAY_WRITEABLE
READABLE, WRITEABLE = 0x0001 | 0x0100, 0x0400
#: names of the globals the runtime fills in: addresses of ndarray, the float64 dtype, None
GLOBALS = ("symjac.ndarray", "symjac.float64", "symjac.none")

ENTRY_TYPE = ir.FunctionType(I32, [PTR, PTR, PTR, PTR])


def entry_name(kernel: str) -> str:
    """The symbol of ``kernel``'s Python-object entry point.

    >>> entry_name("values")
    'values.py'
    """
    return f"{kernel}.py"


def add_entries(module: ir.Module, specs: Iterable[KernelSpec]) -> list[str]:
    """Add an entry point to ``module`` for each kernel; returns their kernels' names.

    The kernels must already be in ``module`` (:func:`.lower.lower`); the entry points
    share the :data:`GLOBALS`, added once.

    >>> from symjac.graph import Graph
    >>> from symjac.tape import Tape
    >>> from symjac.codegen.lower import lower
    >>> g = Graph(); x = g.var(0)
    >>> spec = KernelSpec("f", Tape.from_graph(g, [g.sin(x)], 1, 0), 1, (0,))
    >>> module = lower([spec]).module
    >>> add_entries(module, [spec]), add_entries(module, [])
    (['f'], [])
    >>> text = str(module)
    >>> 'define i32 @"f.py"(ptr' in text and '@"symjac.ndarray" = global i64 0' in text
    True
    """
    specs = list(specs)
    if not specs:
        return []
    refs = []
    for name in GLOBALS:
        var = ir.GlobalVariable(module, I64, name)
        var.initializer = ir.Constant(I64, 0)
        refs.append(var)
    for spec in specs:
        _entry(module, spec, refs)
    return [s.name for s in specs]


def _entry(module: ir.Module, spec: KernelSpec, refs: list[ir.GlobalVariable]) -> None:
    kernel = module.get_global(spec.name)
    fn = ir.Function(module, ENTRY_TYPE, entry_name(spec.name))
    x, p, out, work = fn.args
    b = ir.IRBuilder(fn.append_basic_block("entry"))
    reject = fn.append_basic_block("reject")
    ndarray, float64, none = (b.load(ref, typ=I64) for ref in refs)

    def require(condition: ir.Value) -> None:
        ok = fn.append_basic_block("ok")
        b.cbranch(condition, ok, reject)
        b.position_at_end(ok)

    def field(obj: ir.Value, name: str, typ: ir.Type) -> ir.Value:
        at = b.gep(obj, [ir.Constant(I64, OFFSETS[name])], source_etype=ir.IntType(8))
        return b.load(at, typ=typ)

    def array(obj: ir.Value, shape: tuple[int, ...], flags: int) -> tuple[ir.Value, ir.Value]:
        """Check ``obj`` and return (start, end) of its data as integers."""
        require(b.icmp_unsigned("==", b.ptrtoint(field(obj, "type", PTR), I64), ndarray))
        require(b.icmp_unsigned("==", b.ptrtoint(field(obj, "descr", PTR), I64), float64))
        have = field(obj, "flags", I32)
        require(
            b.icmp_unsigned("==", b.and_(have, ir.Constant(I32, flags)), ir.Constant(I32, flags))
        )
        require(b.icmp_signed("==", field(obj, "nd", I32), ir.Constant(I32, len(shape))))
        dims = field(obj, "dimensions", PTR)
        for axis, extent in enumerate(shape):
            dim = b.load(b.gep(dims, [ir.Constant(I64, axis)], source_etype=I64), typ=I64)
            require(b.icmp_signed("==", dim, ir.Constant(I64, extent)))
        start = b.ptrtoint(field(obj, "data", PTR), I64)
        size = 8 * max(1, _product(shape))
        return start, b.add(start, ir.Constant(I64, size))

    n_vars, n_params = spec.tape.n_vars, spec.tape.n_params
    x_start, x_end = array(x, (n_vars,), READABLE)
    if n_params:
        p_start, p_end = array(p, (n_params,), READABLE)
        p_data = b.inttoptr(p_start, PTR)
    else:  # None, or an empty float64 array
        p_data = ir.Constant(PTR, None)
        no_p = fn.append_basic_block("no_p")
        empty_p = fn.append_basic_block("empty_p")
        b.cbranch(b.icmp_unsigned("==", b.ptrtoint(p, I64), none), no_p, empty_p)
        b.position_at_end(empty_p)
        array(p, (0,), 0)
        b.branch(no_p)
        b.position_at_end(no_p)
    out_start, out_end = array(out, spec.shape, READABLE | WRITEABLE)

    def disjoint(start: ir.Value, end: ir.Value) -> None:
        before = b.icmp_unsigned("<=", out_end, start)
        after = b.icmp_unsigned("<=", end, out_start)
        require(b.or_(before, after))

    disjoint(x_start, x_end)
    if n_params:
        disjoint(p_start, p_end)
    zero = ir.Constant(I64, 0)
    args = [b.inttoptr(x_start, PTR), p_data, b.inttoptr(out_start, PTR), ir.Constant(I64, 1)]
    b.call(kernel, [*args, zero, work])
    b.ret(ir.Constant(I32, 0))
    b.position_at_end(reject)
    b.ret(ir.Constant(I32, 1))


def _product(shape: tuple[int, ...]) -> int:
    result = 1
    for extent in shape:
        result *= extent
    return result
