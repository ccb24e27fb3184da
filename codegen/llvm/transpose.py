"""Moving a group of points between the caller's rows and SIMD registers, a vector at a time.

The caller's arrays hold points as rows (array of structs); a SIMD kernel
wants one register per field holding that field for ``W`` points (structure
of arrays). Gathering lane by lane costs one scalar load and one insert per
field per lane, and LLVM's code generator pays for every one of them in
compile time as well. Instead a block of ``W`` fields of ``W`` rows is loaded
as ``W`` whole vectors, transposed in registers with ``W·log2 W`` shuffles
(the 4×4 / 8×8 tile transposes of SIMD libraries), and stored as ``W``
vectors; the way out is the same in reverse. Full blocks run in a loop, so
the code is the same size for 8 fields or 8 000; the last, partial block uses
masked loads and stores (``llvm.masked.*``), which never touch the lanes they
leave out, so nothing outside the caller's rows is read or written.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence

from llvmlite import ir
from symjac.codegen.llvm.emitter import (
    BOOL,
    I32,
    I64,
    PTR,
    element_at,
    for_range,
    index,
    scalar_type,
)

from symjac.ir.dtypes import FLOAT64, DType


def transpose(b: ir.IRBuilder, rows: Sequence[ir.Value]) -> list[ir.Value]:
    """The transpose of a ``W × W`` tile held as ``W`` vectors of ``W`` doubles.

    Stage ``k`` (1, 2, 4, ...) swaps bit ``k`` of the row and column indices:
    two shuffles per pair of rows.

    >>> m = ir.Module(); v4 = ir.VectorType(ir.DoubleType(), 4)
    >>> fn = ir.Function(m, ir.FunctionType(ir.VoidType(), [v4] * 4), "t")
    >>> b = ir.IRBuilder(fn.append_basic_block())
    >>> cols = transpose(b, fn.args)
    >>> len(cols), str(m).count("shufflevector")   # 4 lanes: 2 stages of 4 shuffles
    (4, 8)
    """
    rows = list(rows)
    width = len(rows)
    k = 1
    while k < width:
        lo = [j if not j & k else width + j - k for j in range(width)]
        hi = [j + k if not j & k else width + j for j in range(width)]
        lo_mask = ir.Constant(ir.VectorType(I32, width), lo)
        hi_mask = ir.Constant(ir.VectorType(I32, width), hi)
        for i in range(width):
            if i & k:
                continue
            a, c = rows[i], rows[i + k]
            rows[i], rows[i + k] = b.shuffle_vector(a, c, lo_mask), b.shuffle_vector(a, c, hi_mask)
        k *= 2
    return rows


def _masked(module: ir.Module, kind: str, lanes: int, dtype: DType) -> ir.Function:
    name = f"llvm.masked.{kind}.v{lanes}{dtype.intrinsic}.p0"
    fn = module.globals.get(name)
    if fn is None:
        vec, mask = ir.VectorType(scalar_type(dtype), lanes), ir.VectorType(BOOL, lanes)
        if kind == "load":
            fnty = ir.FunctionType(vec, [PTR, I32, mask, vec])
        else:
            fnty = ir.FunctionType(ir.VoidType(), [vec, PTR, I32, mask])
        fn = ir.Function(module, fnty, name)
    return fn


def _mask(lanes: int, count: int) -> ir.Constant:
    return ir.Constant(ir.VectorType(BOOL, lanes), [int(j < count) for j in range(lanes)])


def load_row(
    b: ir.IRBuilder, at: ir.Value, lanes: int, count: int, dtype: DType = FLOAT64
) -> ir.Value:
    """``lanes`` values of ``dtype`` from ``at``, only the first ``count`` read (the rest 0.0).

    >>> m = ir.Module()
    >>> fn = ir.Function(m, ir.FunctionType(ir.VoidType(), [PTR]), "g")
    >>> b = ir.IRBuilder(fn.append_basic_block())
    >>> load_row(b, fn.args[0], 4, 4).opname, load_row(b, fn.args[0], 4, 3).opname
    ('load', 'call')
    >>> "<4 x i1> <i1 1, i1 1, i1 1, i1 0>" in str(m)   # the fourth double is never read
    True
    """
    vec, align = ir.VectorType(scalar_type(dtype), lanes), dtype.itemsize
    if count >= lanes:
        return b.load(at, typ=vec, align=align)
    zero = ir.Constant(vec, [0.0] * lanes)
    fn = _masked(b.module, "load", lanes, dtype)
    return b.call(fn, [at, ir.Constant(I32, align), _mask(lanes, count), zero])


def store_row(
    b: ir.IRBuilder, value: ir.Value, at: ir.Value, lanes: int, count: int, dtype: DType = FLOAT64
) -> None:
    """Store the first ``count`` lanes of ``value`` at ``at``; nothing else is written.

    >>> m = ir.Module(); v2 = ir.VectorType(ir.DoubleType(), 2)
    >>> fn = ir.Function(m, ir.FunctionType(ir.VoidType(), [v2, PTR]), "g")
    >>> b = ir.IRBuilder(fn.append_basic_block())
    >>> store_row(b, fn.args[0], fn.args[1], 2, 1)
    >>> 'llvm.masked.store.v2f64.p0"(' in str(m), "<2 x i1> <i1 1, i1 0>" in str(m)
    (True, True)
    """
    align = dtype.itemsize
    if count >= lanes:
        b.store(value, at, align=align)
        return
    fn = _masked(b.module, "store", lanes, dtype)
    b.call(fn, [value, at, ir.Constant(I32, align), _mask(lanes, count)])


#: up to this many full blocks are emitted one after another instead of as a loop
UNROLLED = 4


def blocks(
    b: ir.IRBuilder, count: int, lanes: int, name: str, emit: Callable[[ir.Value, int], None]
) -> None:
    """Call ``emit(block_index, fields_in_block)`` for each block of ``lanes`` of ``count`` fields.

    Full blocks share one loop body; a partial last block is emitted once, after it.

    >>> m = ir.Module()
    >>> fn = ir.Function(m, ir.FunctionType(ir.VoidType(), []), "g")
    >>> b = ir.IRBuilder(fn.append_basic_block())
    >>> seen = []
    >>> blocks(b, 19, 8, "demo", lambda i, fields: seen.append(fields))
    >>> seen   # two full blocks, then the partial block
    [8, 8, 3]
    """
    full, rest = divmod(count, lanes)
    if full <= UNROLLED:  # constant offsets: LLVM can keep a small frame in registers
        for i in range(full):
            emit(ir.Constant(I64, i), lanes)
    else:
        with for_range(b, ir.Constant(I64, full), name) as i:
            emit(i, lanes)
    if rest:
        emit(ir.Constant(I64, full), rest)


def rows_to_soa(
    b: ir.IRBuilder,
    rows: Sequence[ir.Value],
    soa: ir.Value,
    count: int,
    name: str,
    dtype: DType = FLOAT64,
) -> None:
    """``soa[f * W + lane] = rows[lane][f]`` for ``f < count`` (``W = len(rows)``), values of
    ``dtype``.

    >>> m = ir.Module()
    >>> fn = ir.Function(m, ir.FunctionType(ir.VoidType(), [PTR] * 5), "g")
    >>> b = ir.IRBuilder(fn.append_basic_block())
    >>> rows_to_soa(b, fn.args[:4], fn.args[4], 6, "in")   # one full block of 4, then 2 fields
    >>> _ = b.ret_void()
    >>> text = str(m)
    >>> text.count("load <4 x double>"), text.count('llvm.masked.load.v4f64.p0"(')
    (4, 5)
    """
    lanes, element = len(rows), scalar_type(dtype)

    def block(i: ir.Value, fields: int) -> None:
        first = index(b, (i, lanes))
        at = [element_at(b, row, first, element) for row in rows]
        vectors = [load_row(b, a, lanes, fields, dtype) for a in at]
        for f, column in enumerate(transpose(b, vectors)[:fields]):
            slot = index(b, (i, lanes * lanes), (f, lanes))
            b.store(column, element_at(b, soa, slot, element), align=dtype.itemsize)

    blocks(b, count, lanes, name, block)


def soa_to_rows(
    b: ir.IRBuilder,
    soa: ir.Value,
    rows: Sequence[ir.Value],
    count: int,
    name: str,
    dtype: DType = FLOAT64,
    tiles: bool = False,
) -> None:
    """``rows[lane][f] = soa[f * W + lane]`` for ``f < count``: the inverse of :func:`rows_to_soa`.

    Each block is transposed in place (its slots then hold rows), and the rows are
    then written one after another: the caller's memory sees sequential stores
    (writing the ``W`` rows block by block, eight streams at once, ran 1.7x slower
    on a 82-entry Jacobian at 10^4 points). ``soa`` must hold whole blocks
    (``count`` rounded up to ``W`` slots); only the first ``count`` fields of
    each row are stored.

    With ``tiles``, each block is transposed in registers and stored straight to the ``W``
    rows instead (``W`` streams at once): ``soa`` is read once and never written, which
    wins when it is too large for the L2 cache (``lower.TILED_BYTES``).

    >>> m = ir.Module()
    >>> fn = ir.Function(m, ir.FunctionType(ir.VoidType(), [PTR] * 9), "g")
    >>> b = ir.IRBuilder(fn.append_basic_block())
    >>> soa_to_rows(b, fn.args[8], fn.args[:8], 3, "out")   # 3 fields of 8 points
    >>> _ = b.ret_void()
    >>> str(m).count('llvm.masked.store.v8f64.p0"(')
    9
    >>> m = ir.Module()
    >>> fn = ir.Function(m, ir.FunctionType(ir.VoidType(), [PTR] * 9), "g")
    >>> b = ir.IRBuilder(fn.append_basic_block())
    >>> soa_to_rows(b, fn.args[8], fn.args[:8], 11, "out", tiles=True)
    >>> _ = b.ret_void()
    >>> text = str(m)   # a full tile, then one of 3 fields: 8 stores each, no store to soa
    >>> text.count("store <8 x double>"), text.count('call void @"llvm.masked.store')
    (8, 8)
    """
    lanes, element, align = len(rows), scalar_type(dtype), dtype.itemsize
    vec = ir.VectorType(element, lanes)

    def slot(i: ir.Value, k: int) -> ir.Value:
        return element_at(b, soa, index(b, (i, lanes * lanes), (k, lanes)), element)

    def transpose_block(i: ir.Value, fields: int) -> None:
        columns = [b.load(slot(i, f), typ=vec, align=align) for f in range(lanes)]
        for lane, value in enumerate(transpose(b, columns)):
            b.store(value, slot(i, lane), align=align)

    def store_tile(i: ir.Value, fields: int) -> None:
        columns = [b.load(slot(i, f), typ=vec, align=align) for f in range(lanes)]
        for lane, value in enumerate(transpose(b, columns)):
            at = element_at(b, rows[lane], index(b, (i, lanes)), element)
            store_row(b, value, at, lanes, fields, dtype)

    if tiles:
        blocks(b, count, lanes, f"{name}.tiles", store_tile)
        return
    blocks(b, count, lanes, f"{name}.transpose", transpose_block)
    for lane, row in enumerate(rows):

        def store_block(i: ir.Value, fields: int, lane: int = lane, row: ir.Value = row) -> None:
            value = b.load(slot(i, lane), typ=vec, align=align)
            at = element_at(b, row, index(b, (i, lanes)), element)
            store_row(b, value, at, lanes, fields, dtype)

        blocks(b, count, lanes, f"{name}.row{lane}", store_block)
