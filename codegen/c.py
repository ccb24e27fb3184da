"""C99 printer over the tape: the same kernels as the JIT, as ``NAME.c`` + ``NAME.h``.

Each tape is evaluated at one point as its :func:`symjac.passes.chunks.plan` says, the
plan the LLVM lowering renders too: per step, straight-line chunks — one C statement per
instruction, register ``k`` in a local ``r<k>`` — then template loops over index tables,
each a ``static`` function, values shared between them in the plan's scratch slots;
output ``k`` is stored at ``out[pos[k]]``. Each kernel is the JIT's batched entry point
around them, with the same ABI (:mod:`.abi`)::

    void NAME_values(const double *x, const double *p, double *out, int64_t n,
                     int64_t p_stride, double *work);

Every op means exactly what :mod:`.llvm.emitter` lowers it to (docs/semantics.md):
IEEE arithmetic, ``POWI`` by the same square-and-multiply chain, libm for the
elementary functions, ``llvm.maximum``/``minimum`` semantics for max/min (NaN if
either argument is NaN, −0 < +0), ordered comparisons except ``!=``. One statement
per instruction also means no contraction into FMA under C's default
``FP_CONTRACT`` rules. Constants are hexadecimal float literals (exact).

A float32 artefact (``Artefact.dtype``) is the same code in ``float``: ``float``
arrays, locals and tables, ``f``-suffixed literals (each constant rounded to float
once, as the JIT rounds it, so the literal is exact), and the C library's float
functions (``sinf``, ``powf``, ``jnf``, ...). C evaluates float arithmetic in float
(``FLT_EVAL_METHOD`` 0 on x86-64 SSE and AArch64), as the JIT does.

Only ``<math.h>``, ``<stdint.h>`` and ``<stddef.h>`` are needed (and POSIX's ``jn``/``yn``
from ``<math.h>`` for Bessel functions, asked for with ``_XOPEN_SOURCE``); the only
external symbols are the kernels and the pattern arrays, all prefixed ``NAME_``.
"""

from __future__ import annotations

import functools
import math
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from typing import Any

from symjac.codegen.artefact import Artefact

from symjac.ir.dtypes import FLOAT64, DType
from symjac.ir.ops import INFO, LEAVES, Op, is_bool, powi_chain
from symjac.ir.tape import KernelSpec, Tape
from symjac.passes import chunks
from symjac.passes.chunks import CHUNK_SIZE, Chunk
from symjac.passes.chunks import plan as chunk_plan
from symjac.passes.recurrences import Run
from symjac.passes.schedule import OUT, Loop
from symjac.runtime.abi import EXACT, c_prototype

_ARITH = {Op.ADD: "+", Op.SUB: "-", Op.MUL: "*", Op.DIV: "/"}
_COMPARE = {Op.LT: "<", Op.LE: "<=", Op.EQ: "==", Op.NE: "!="}
_LOGIC = {Op.AND: "&", Op.OR: "|"}
#: ops whose C library function C99 lacks: the emitted C asks <math.h> for POSIX's
_POSIX = frozenset({Op.BESSELJ, Op.BESSELY})

#: IEEE 754-2019 maximum/minimum, as LLVM's llvm.maximum/llvm.minimum (the JIT's lowering)
_HELPERS = {
    Op.MAX: (
        "maximum",
        "/* IEEE 754-2019 maximum (as LLVM's llvm.maximum): NaN if either argument is NaN,\n"
        "   and +0 > -0. C's fmax would ignore a NaN. */\n"
        "static {real} {prefix}_maximum({real} a, {real} b)\n"
        "{{\n"
        "    if (isnan(a) || isnan(b)) return a + b;\n"
        "    if (a == b) return signbit(a) ? b : a;\n"
        "    return a > b ? a : b;\n"
        "}}\n",
    ),
    Op.MIN: (
        "minimum",
        "/* IEEE 754-2019 minimum (as LLVM's llvm.minimum): NaN if either argument is NaN,\n"
        "   and -0 < +0. */\n"
        "static {real} {prefix}_minimum({real} a, {real} b)\n"
        "{{\n"
        "    if (isnan(a) || isnan(b)) return a + b;\n"
        "    if (a == b) return signbit(a) ? a : b;\n"
        "    return a < b ? a : b;\n"
        "}}\n",
    ),
}


def c_double(value: float) -> str:
    """An exact C99 literal for a double: a hexadecimal float, or a ``<math.h>`` macro.

    >>> c_double(3.0), c_double(-0.0), c_double(0.1)
    ('0x1.8000000000000p+1', '-0x0.0p+0', '0x1.999999999999ap-4')
    >>> c_double(float("-inf")), c_double(float("nan"))
    ('(-INFINITY)', 'NAN')
    """
    if math.isnan(value):
        return "(-NAN)" if math.copysign(1.0, value) < 0 else "NAN"
    if math.isinf(value):
        return "INFINITY" if value > 0 else "(-INFINITY)"
    return float.hex(value)


def c_literal(value: float, dtype: DType = FLOAT64) -> str:
    """An exact C99 literal of ``dtype`` for a double rounded once to ``dtype``.

    >>> from symjac.ir.dtypes import FLOAT32
    >>> c_literal(0.1, FLOAT32), c_literal(0.1), c_literal(1e39, FLOAT32)
    ('0x1.99999a0000000p-4f', '0x1.999999999999ap-4', 'INFINITY')
    """
    value = dtype.round(value)
    if math.isnan(value) or math.isinf(value):  # NAN and INFINITY are floats: exact anywhere
        return c_double(value)
    return dtype.literal(c_double(value))


def _reg(r: int) -> str:
    return f"r{r}"


def _powi(r: int, base: str, n: int, dt: DType) -> list[str]:
    """Statements computing ``r<r> = base**n`` by :func:`symjac.ir.ops.powi_chain`."""
    chain = powi_chain(n)
    names, lines, one = [base], [], dt.literal("1.0")
    for k, (i, j) in enumerate(chain.steps):
        names.append(f"t{r}_{k}")
        lines.append(f"    const {dt.ctype} {names[-1]} = {names[i]} * {names[j]};")
    if chain.result is None:
        value = one
    else:
        value = f"{one} / {names[chain.result]}" if chain.reciprocal else names[chain.result]
    lines.append(f"    const {dt.ctype} {_reg(r)} = {value};")
    return lines


def _expression(prefix: str, op: Op, a: Sequence[str], attr: object, dt: DType = FLOAT64) -> str:
    """The C expression of one instruction (not ``POWI``) over argument registers ``a``,
    in type ``dt``."""
    one, zero = dt.literal("1.0"), dt.literal("0.0")
    if op is Op.CONST:
        return c_literal(float(attr), dt)  # type: ignore[arg-type]
    if op is Op.BOOL:
        return "1" if attr else "0"
    if op is Op.VAR:
        return f"x[{int(attr)}]"  # type: ignore[call-overload]
    if op is Op.PARAM:
        return f"p[{int(attr)}]"  # type: ignore[call-overload]
    if op in _ARITH:
        return f"{a[0]} {_ARITH[op]} {a[1]}"
    if op is Op.NEG:
        return f"-{a[0]}"
    if op in _COMPARE:  # C's < <= == are false for NaN and != is true, as the JIT's fcmp
        return f"{a[0]} {_COMPARE[op]} {a[1]}"
    if op in _LOGIC:
        return f"{a[0]} {_LOGIC[op]} {a[1]}"
    if op is Op.NOT:
        return f"!{a[0]}"
    if op is Op.SELECT:
        return f"{a[0]} ? {a[1]} : {a[2]}"
    if op is Op.SIGN:  # ±0 and NaN pass through unchanged
        return f"({a[0]} > {zero}) ? {one} : (({a[0]} < {zero}) ? -{one} : {a[0]})"
    if op is Op.HEAVISIDE:  # 1 above 0, 0 below, the given value at ±0, NaN for NaN
        x, h0 = a
        return (
            f"({x} > {zero}) ? {one} : (({x} < {zero}) ? {zero} : (({x} == {zero}) ? {h0} : {x}))"
        )
    if op in _HELPERS:
        return f"{prefix}_{_HELPERS[op][0]}({', '.join(a)})"
    libm, ints = INFO[op].libm, INFO[op].integer_args
    if libm is not None:
        args = ", ".join(f"(int){v}" if i in ints else v for i, v in enumerate(a))
        return f"{dt.libm(libm)}({args})"
    raise NotImplementedError(f"the C back end has no translation for {op.name}")


def supported(op: Op) -> bool:
    """Whether the C printer translates ``op`` (every op a back end must implement).

    >>> from symjac.ir.ops import COMPOSITE
    >>> all(supported(op) for op in Op if op not in COMPOSITE), supported(Op.DIGAMMA)
    (True, False)
    """
    if op is Op.POWI:
        return True
    try:
        _expression("f", op, ["a", "b", "c"][: INFO[op].arity], 1.0)
    except NotImplementedError:
        return False
    return True


@dataclass
class TapeCode:
    """A tape as C: chunk functions run in order, and the scratch doubles they share.

    >>> from symjac.ir.graph import Graph
    >>> g = Graph(); x = g.var(0)
    >>> body = tape_code("f", "tape0", Tape.from_graph(g, [g.sin(x)], 1, 0))
    >>> body.chunks, body.scratch
    (['f_tape0_0'], 0)
    """

    code: str
    chunks: list[str]
    scratch: int


def tape_code(
    prefix: str,
    tag: str,
    tape: Tape,
    chunk_size: int = CHUNK_SIZE,
    templates: bool = True,
    dtype: DType = FLOAT64,
) -> TapeCode:
    """``static`` C functions evaluating ``tape`` at one point in ``dtype`` and storing output
    ``k`` at ``out[pos[k]]``: the :func:`symjac.passes.chunks.plan` of the tape, as the JIT's.

    Each step is its straight-line chunks, a function each, then its template loops, a
    function each (:func:`_loop`). Registers live in C locals; one that a later chunk,
    step or loop reads is also kept in the plan's slot ``w[s]`` of the scratch array
    (truth values as 0.0/1.0). Leaves are re-read in each chunk.

    >>> from symjac.ir.graph import Graph
    >>> g = Graph(); x, y = g.var(0), g.var(1)
    >>> body = tape_code("f", "tape0", Tape.from_graph(g, [g.mul(x, y)], 2, 0))
    >>> print(body.code)
    static void f_tape0_0(const double *x, const double *p, double *w,
                          double *out, const int64_t *pos)
    {
        (void)x; (void)p; (void)w; (void)out; (void)pos;
        const double r0 = x[0];
        const double r1 = x[1];
        const double r2 = r0 * r1;
        out[pos[0]] = r2;
    }
    <BLANKLINE>

    One instruction per chunk: ``sin(x)``, needed by the second chunk, crosses in ``w[0]``.

    >>> s = g.sin(x)
    >>> body = tape_code("f", "t", Tape.from_graph(g, [g.mul(s, s)], 1, 0), chunk_size=1)
    >>> body.chunks, body.scratch
    (['f_t_0', 'f_t_1'], 1)
    >>> "const double r2 = w[0] * w[0];" in body.code
    True
    """
    plan = chunk_plan(tape, chunk_size, templates, recurrences=True)
    parts: list[tuple[str, Chunk | Loop]] = []
    for step, body in zip(plan.schedule.steps, plan.bodies):
        members: list[Chunk | Loop] = [*body.chunks, *step.loops]
        for part in members:
            parts.append((f"{prefix}_{tag}_{len(parts)}", part))
    if not parts:  # no outputs: one empty function, so the kernel reads its arguments
        parts.append((f"{prefix}_{tag}_0", Chunk((), ())))
    # called once per point in order; inlining them back would undo the split
    attribute = f"{prefix.upper()}_NOINLINE " if len(parts) > 1 else ""
    owner = {id(chunk): body for body in plan.bodies for chunk in body.chunks}
    code, real = [], dtype.ctype
    for name, part in parts:
        lines = [
            f"static {attribute}void {name}(const {real} *x, const {real} *p, {real} *w,",
            f"{' ' * (len(name) + 13 + len(attribute))}{real} *out, const int64_t *pos)",
            "{",
            "    (void)x; (void)p; (void)w; (void)out; (void)pos;",
        ]
        if isinstance(part, Loop):
            tables = _loop(prefix, name, tape, plan.schedule.slots, part, lines, dtype)
            code.append(tables)
        else:
            spills = owner[id(part)].spills if id(part) in owner else {}
            _chunk(prefix, tape, {**plan.schedule.slots, **spills}, spills, part, lines, dtype)
        lines.append("}")
        code.append("\n".join(lines) + "\n")
    return TapeCode("\n".join(c for c in code if c), [name for name, _ in parts], plan.slots)


def _chunk(
    prefix: str,
    tape: Tape,
    slots: dict[int, int],
    spills: dict[int, int],
    chunk: Chunk,
    lines: list[str],
    dt: DType,
) -> None:
    """The statements of one chunk: its registers, then its stores, appended to ``lines``."""
    local: set[int] = set()
    value = functools.partial(_value, prefix, tape, slots, local, lines, dt)
    runs = {run.start: run for run in chunk.runs}
    i = 0
    while i < len(chunk.registers):
        run = runs.get(i)
        if run is not None:
            i = run.end
            later = {a for r in chunk.registers[i:] for a in tape.args[r]}
            later.update(r for r, _, _ in chunk.stores)
            last = [r for r in chunk.registers[i - run.period : i] if r in later or r in spills]
            _run(prefix, tape, chunk.registers, run, value, lines, set(last), dt)
            for r in last:  # the last instance's values read after the loop
                local.add(r)
                if r in spills:
                    lines.append(f"    w[{spills[r]}] = {_as_real(tape, r, _reg(r), dt)};")
            continue
        r = chunk.registers[i]
        i += 1
        _statement(prefix, tape, r, [value(q) for q in tape.args[r]], lines, "    ", dt)
        local.add(r)
        if r in spills:
            lines.append(f"    w[{spills[r]}] = {_as_real(tape, r, _reg(r), dt)};")
    for r, region, k in chunk.stores:
        target = f"out[pos[{k}]]" if region == OUT else f"w[{k}]"
        lines.append(f"    {target} = {_as_real(tape, r, value(r), dt)};")


def _statement(
    prefix: str, tape: Tape, r: int, a: Sequence[str], lines: list[str], indent: str, dt: DType
) -> None:
    """``const <type> r<r> = ...;`` (several statements for an integer power)."""
    op, attr = tape.ops[r], tape.attrs[r]
    if op is Op.POWI:
        lines.extend(indent[4:] + line for line in _powi(r, a[0], int(attr), dt))  # type: ignore[call-overload]
    else:
        ctype = "int" if is_bool(op) else dt.ctype
        expr = _expression(prefix, op, a, attr, dt)
        lines.append(f"{indent}const {ctype} {_reg(r)} = {expr};")


def _run(
    prefix: str,
    tape: Tape,
    registers: Sequence[int],
    run: Run,
    value: Callable[[int], str],
    lines: list[str],
    needed: set[int],
    dt: DType,
) -> None:
    """A :class:`~symjac.passes.recurrences.Run` as a ``for`` loop whose body is its first
    instance (its registers block-local), the values the next instance reads carried in
    ``c<first>_<q>``; afterwards ``r<r>`` of the last instance's registers in ``needed``
    are declared.

    As the JIT's loop: the same operations on the same operands as straight-line code.
    """
    first = registers[run.start : run.start + run.period]
    tag = first[0]
    current = set(first)
    previous = {r: q for q, r in enumerate(run.previous)}
    carried = sorted({previous[a] for r in first for a in tape.args[r] if a in previous})
    ctype = {r: "int" if is_bool(tape.ops[r]) else dt.ctype for r in (*run.previous, *first)}
    seeds = {q: value(run.previous[q]) for q in carried}
    invariant = {
        a: value(a) for r in first for a in tape.args[r] if a not in current and a not in previous
    }
    last = registers[run.end - run.period : run.end]
    kept = [q for q, r in enumerate(last) if r in needed]
    for q in carried:
        lines.append(f"    {ctype[run.previous[q]]} c{tag}_{q} = {seeds[q]};")
    for q in kept:
        lines.append(f"    {ctype[first[q]]} v{tag}_{q} = 0;")
    lines.append(f"    for (int64_t k = 0; k < {run.count}; ++k) {{")
    for r in first:
        a = [
            _reg(q) if q in current else f"c{tag}_{previous[q]}" if q in previous else invariant[q]
            for q in tape.args[r]
        ]
        _statement(prefix, tape, r, a, lines, " " * 8, dt)
    for q in kept:
        lines.append(f"        v{tag}_{q} = {_reg(first[q])};")
    for q in carried:
        lines.append(f"        c{tag}_{q} = {_reg(first[q])};")
    lines.append("    }")
    for q in kept:
        lines.append(f"    const {ctype[first[q]]} {_reg(last[q])} = v{tag}_{q};")


def _loop(
    prefix: str,
    name: str,
    tape: Tape,
    slots: dict[int, int],
    loop: Loop,
    lines: list[str],
    dt: DType,
) -> str:
    """A template loop's statements appended to ``lines``; returns the index and constant
    tables it reads (file-scope arrays). As in the JIT, a column that is an arithmetic
    sequence (a stencil's cells in order) or one constant is computed from ``t`` instead."""
    tables: list[str] = []

    def column(label: str, values: Sequence[Any], ctype: str) -> str:
        if ctype == "real":
            if all(float(v).hex() == float(values[0]).hex() for v in values):  # bit for bit
                return c_literal(float(values[0]), dt)
        else:
            start, step = values[0], (values[1] - values[0] if len(values) > 1 else 0)
            if all(v == start + step * k for k, v in enumerate(values)):
                terms = [str(start)] * bool(start or not step)
                terms += ["t" if step == 1 else f"{step} * t"] * bool(step)
                return " + ".join(terms)
        table = f"{name}_{label}"
        if ctype == "real":
            tables.append(_real_array(table, values, dt))
        else:
            tables.append(_array("int64_t", table, values, static=True))
        return f"{table}[t]"

    where = column("at", loop.slots, "int64_t")
    holes = []
    for h, kind in enumerate(loop.kinds):
        entries: list[Any] = [binding[h] for binding in loop.bindings]
        if kind in ("r", "b"):  # shared values: their scratch slots
            entries = [slots[v] for v in entries]
        value = column(f"hole{h}", entries, "real" if kind == "c" else "int64_t")
        holes.append(
            value
            if kind == "c"
            else {"x": f"x[{value}]", "p": f"p[{value}]", "r": f"w[{value}]"}.get(
                kind, f"(w[{value}] != {dt.literal('0.0')})"
            )
        )
    lines += ["    int64_t t;", f"    for (t = 0; t < {len(loop.registers)}; ++t) {{"]
    body: list[str] = []
    for i, (op, attr, args) in enumerate(loop.program):
        if op is None:
            kind = loop.kinds[int(attr)]  # type: ignore[call-overload]
            ctype = "int" if kind == "b" else dt.ctype
            body.append(f"    const {ctype} {_reg(i)} = {holes[int(attr)]};")  # type: ignore[call-overload]
        elif op is Op.POWI:
            body.extend(_powi(i, _reg(args[0]), int(attr), dt))  # type: ignore[call-overload]
        else:
            ctype = "int" if is_bool(op) else dt.ctype
            expr = _expression(prefix, op, [_reg(a) for a in args], attr, dt)
            body.append(f"    const {ctype} {_reg(i)} = {expr};")
    root, last = loop.program[-1][0], _reg(len(loop.program) - 1)
    boolean = is_bool(root) if root is not None else loop.kinds[0] == "b"
    result = _truth(last, dt) if boolean else last
    target = f"out[pos[{where}]]" if loop.region == OUT else f"w[{where}]"
    lines += ["    " + line for line in body]
    lines += [f"        {target} = {result};", "    }"]
    return "".join(tables)


def _real_array(name: str, values: Sequence[float], dt: DType) -> str:
    """A static const table of exact literals of type ``dt``."""
    items = [c_literal(float(v), dt) for v in values]
    body = ",\n".join("    " + ", ".join(items[i : i + 4]) for i in range(0, len(items), 4))
    return f"static const {dt.ctype} {name}[{len(items)}] = {{\n{body}\n}};\n"


def _value(
    prefix: str,
    tape: Tape,
    slots: dict[int, int],
    local: set[int],
    lines: list[str],
    dt: DType,
    r: int,
) -> str:
    """Register ``r`` inside the current chunk: a local, a leaf read here, or a scratch slot."""
    if r in local:
        return _reg(r)
    op = tape.ops[r]
    if op in LEAVES:
        local.add(r)
        ctype = "int" if is_bool(op) else dt.ctype
        expr = _expression(prefix, op, (), tape.attrs[r], dt)
        lines.append(f"    const {ctype} {_reg(r)} = {expr};")
        return _reg(r)
    # computed by an earlier chunk
    return f"(w[{slots[r]}] != {dt.literal('0.0')})" if is_bool(op) else f"w[{slots[r]}]"


def _truth(expr: str, dt: DType) -> str:
    """A truth value as the real 1.0 or 0.0 (how the scratch slots hold them)."""
    return f"({expr} ? {dt.literal('1.0')} : {dt.literal('0.0')})"


def _as_real(tape: Tape, r: int, expr: str, dt: DType) -> str:
    return _truth(expr, dt) if is_bool(tape.ops[r]) else expr


def _array(ctype: str, name: str, values: Sequence[int], static: bool) -> str:
    """A const C array; an empty one gets one dummy element (ISO C has no empty arrays)."""
    items = list(values) or [0]
    body = ",\n".join(
        "    " + ", ".join(str(v) for v in items[i : i + 12]) for i in range(0, len(items), 12)
    )
    storage = "static const" if static else "const"
    return f"{storage} {ctype} {name}[{len(items)}] = {{\n{body}\n}};\n"


def _twin(art: Artefact, spec: KernelSpec) -> KernelSpec | None:
    """The kernel that computes again the points ``spec`` leaves a NaN in (complex kernels:
    the twin that recovers infinities in × and ÷; ``symjac.passes.complexify``)."""
    return next((s for s in art.specs if s.name == spec.name + EXACT), None)


def _body(art: Artefact, spec: KernelSpec, bodies: dict[int, TapeCode]) -> TapeCode:
    """``spec``'s C, with the scratch its twin needs too (the kernel runs both)."""
    body, twin = bodies[id(spec.tape)], _twin(art, spec)
    if twin is None:
        return body
    return TapeCode(body.code, body.chunks, max(body.scratch, bodies[id(twin.tape)].scratch))


def _kernel(art: Artefact, spec: KernelSpec, body: TapeCode, bodies: dict[int, TapeCode]) -> str:
    symbol = art.symbol(spec)
    tape, dt = spec.tape, art.scalar
    real = dt.ctype
    x, p, out = "x", "p", "out"
    lines = [c_prototype(symbol, ctype=art.type.ctype, work=real), "{", "    int64_t i;"]
    if not art.type.real:  # computed on the parts: a complex is two reals, (re, im) (C99 6.2.5)
        x, p, out = "xs", "ps", "outs"
        lines.append(f"    const {real} *xs = (const {real} *)x;")
        lines.append(f"    const {real} *ps = (const {real} *)p;")
        lines.append(f"    {real} *outs = ({real} *)out;")
    p_row = f"{p} + i * p_stride" if tape.n_params else p
    if body.scratch and not work_size(body):
        lines += [f"    {real} w[{body.scratch}];", "    (void)work;"]
    else:  # no scratch needed, or the caller's (NAME_<KERNEL>_WORK values)
        lines.append(f"    {real} *w = work;")
    if not tape.n_params:
        lines.append("    (void)p_stride;")
    lines.append("    for (i = 0; i < n; ++i) {")
    lines.append(f"        const {real} *xi = {x} + i * {tape.n_vars};")
    lines.append(f"        const {real} *pi = {p_row};")
    lines.append(f"        {real} *row = {out} + i * {spec.width};")
    if len(spec.positions) < spec.width:  # structural zeros: every entry of the row is written
        lines.append("        int64_t k;")
        lines.append(f"        for (k = 0; k < {spec.width}; ++k) row[k] = {dt.literal('0.0')};")
    for chunk in body.chunks:
        lines.append(f"        {chunk}(xi, pi, w, row, {symbol}_positions);")
    twin = _twin(art, spec)
    if twin is not None:  # a NaN in the row: computed again, recovering infinities
        if len(spec.positions) == spec.width:
            lines.append("        int64_t k;")
        lines.append(f"        for (k = 0; k < {spec.width} && !isnan(row[k]); ++k) {{}}")
        lines.append(f"        if (k < {spec.width}) {{")
        for chunk in bodies[id(twin.tape)].chunks:
            lines.append(f"            {chunk}(xi, pi, w, row, {art.symbol(twin)}_positions);")
        lines.append("        }")
    lines.append("    }")
    lines.append("}")
    return "\n".join(lines) + "\n"


def work_size(body: TapeCode) -> int:
    """Values of ``work`` the caller must pass (0: the kernel's stack is enough), by
    :func:`symjac.passes.chunks.work_size`.

    >>> work_size(TapeCode("", [], 10)), work_size(TapeCode("", [], chunks.STACK_WORK + 1))
    (0, 4097)
    """
    return chunks.work_size(body.scratch)


def _comment(art: Artefact, what: str) -> str:
    lines = [f"Generated by symjac.emit (target {what}); do not edit.", "", *art.describe()]
    if art.fastmath:  # the C printer emits IEEE code whatever the JIT was allowed
        lines.append("this C is IEEE code all the same; -ffast-math would relax it like the JIT")
    return "/*\n" + "".join(f" * {line}\n".replace(" \n", "\n") for line in lines) + " */\n"


def _constants(art: Artefact) -> list[tuple[str, int]]:
    """``#define``d sizes: ``NAME_N_VARS``, ``NAME_M``, ``NAME_NNZ``; per kernel, the row
    width and the values of ``work`` it needs."""
    upper = art.name.upper()
    consts = [(f"{upper}_N_VARS", len(art.inputs)), (f"{upper}_N_PARAMS", len(art.params))]
    consts.append((f"{upper}_M", art.shape[0]))
    if art.kind != "function":
        consts.append((f"{upper}_N", art.shape[1]))
        consts.append((f"{upper}_NNZ", art.nnz))
    bodies = _bodies(art)
    for spec in art.specs:
        consts.append((f"{art.symbol(spec).upper()}_WIDTH", spec.width))
        consts.append((f"{art.symbol(spec).upper()}_WORK", work_size(_body(art, spec, bodies))))
    return consts


def _pattern_arrays(art: Artefact) -> list[tuple[str, Sequence[int]]]:
    if art.kind == "function":
        return []
    return [
        (f"{art.name}_rows", art.rows),
        (f"{art.name}_cols", art.cols),
        (f"{art.name}_indptr", art.indptr),
        (f"{art.name}_indices", art.cols),
    ]


def c_header(art: Artefact) -> str:
    """``NAME.h``: sizes, pattern arrays and kernel prototypes.

    >>> from symjac.ir.graph import Graph
    >>> g = Graph(); x, y = g.var(0), g.var(1)
    >>> spec = KernelSpec("values", Tape.from_graph(g, [y, x], 2, 0), 2, (0, 1))
    >>> art = Artefact("jac", "jacobian", (spec,), ("x", "y"), (), (1, 2), (0, 0), (0, 1))
    >>> header = c_header(art)
    >>> "#define JAC_NNZ 2" in header and "extern const int64_t jac_indptr[2];" in header
    True
    >>> "void jac_values(const double *x, const double *p, double *out, int64_t n," in header
    True
    """
    guard = f"SYMJAC_{art.name.upper()}_H"
    out = [_comment(art, '"c"'), f"#ifndef {guard}\n#define {guard}\n\n#include <stdint.h>\n"]
    if not art.type.real:
        out.append("#include <complex.h>\n")
    out.append("".join(f"#define {name} {value}\n" for name, value in _constants(art)))
    out.append('\n#ifdef __cplusplus\nextern "C" {\n#endif\n\n')
    if art.kind != "function":
        out.append(
            "/* the sparsity pattern, row-major (CSR); an empty pattern has one dummy element */\n"
        )
        for name, values in _pattern_arrays(art):
            out.append(f"extern const int64_t {name}[{max(len(values), 1)}];\n")
        out.append("\n")
    scalar = art.scalar.ctype
    out.append(
        "/* point i reads x[i*N_VARS ...] and p[i*p_stride ...] (p_stride 0: shared\n"
        "   parameters) and writes row i of out, every entry of it; out must not overlap\n"
        f"   x or p; work: NULL when the kernel's _WORK is 0, else that many {scalar}s */\n"
    )
    if not art.type.real:
        out.append(
            "/* complex kernels: p_stride and _WIDTH count doubles (a double complex is\n"
            "   two: re, im), as do _WORK values; N_VARS and N_PARAMS count complex values */\n"
        )
    for spec in art.specs:
        prototype = c_prototype(art.symbol(spec), indent=4, ctype=art.type.ctype, work=scalar)
        out.append(prototype + ";\n")
    out.append(f"\n#ifdef __cplusplus\n}}\n#endif\n\n#endif /* {guard} */\n")
    return "".join(out)


def c_source(art: Artefact) -> str:
    """``NAME.c``: the kernels; needs only ``<math.h>``, ``<stdint.h>`` and ``<stddef.h>``.

    >>> from symjac.ir.graph import Graph
    >>> g = Graph(); x = g.var(0)
    >>> spec = KernelSpec("function", Tape.from_graph(g, [g.sin(x)], 1, 0), 1, (0,))
    >>> source = c_source(Artefact("wave", "function", (spec,), ("x",), (), (1,)))
    >>> '#include "wave.h"' in source and "const double r1 = sin(r0);" in source
    True
    >>> "void wave_function(const double *x, const double *p, double *out, int64_t n," in source
    True
    """
    used = {op for spec in art.specs for op in spec.tape.ops}
    out = [_comment(art, '"c"')]
    posix = sorted(art.scalar.libm(str(INFO[op].libm)) for op in used & _POSIX)
    if posix and not art.scalar.libm_suffix:
        out.append(f"/* {', '.join(posix)}: POSIX (XSI), not C99 */\n#define _XOPEN_SOURCE 700\n")
    elif posix:  # jnf, ynf: not even POSIX; glibc and the BSDs declare them by default
        out.append(
            f"/* {', '.join(posix)}: GNU/BSD extensions, not C99 */\n#define _DEFAULT_SOURCE\n"
        )
    out.append(f'#include <math.h>\n#include <stdint.h>\n#include "{art.name}.h"\n\n')
    for name, values in _pattern_arrays(art):
        out.append(_array("int64_t", name, values, static=False))
    for op, (_, template) in _HELPERS.items():
        if op in used:
            out.append("\n" + template.format(prefix=art.name, real=art.scalar.ctype))
    bodies = _bodies(art)
    if any(len(body.chunks) > 1 for body in bodies.values()):
        out.append(_NOINLINE.format(upper=art.name.upper()))
    emitted: set[int] = set()
    for spec in art.specs:  # every tape's functions and positions first: a kernel runs its twin's
        body = bodies[id(spec.tape)]
        if id(spec.tape) not in emitted:  # specs sharing a tape share its functions
            emitted.add(id(spec.tape))
            out.append("\n" + body.code)
        out.append("\n" + _array("int64_t", f"{art.symbol(spec)}_positions", spec.positions, True))
    for spec in art.specs:
        out.append("\n" + _kernel(art, spec, _body(art, spec, bodies), bodies))
    return "".join(out)


def _bodies(art: Artefact) -> dict[int, TapeCode]:
    """The C of each distinct tape of the artefact, by ``id`` of the tape."""
    bodies: dict[int, TapeCode] = {}
    for spec in art.specs:
        if id(spec.tape) not in bodies:
            tag = f"tape{len(bodies)}"
            bodies[id(spec.tape)] = tape_code(
                art.name, tag, spec.tape, chunks.CHUNK_SIZE, dtype=art.scalar
            )
    return bodies


_NOINLINE = """
#if defined(__GNUC__) || defined(__clang__)
#define {upper}_NOINLINE __attribute__((noinline))
#elif defined(_MSC_VER)
#define {upper}_NOINLINE __declspec(noinline)
#else
#define {upper}_NOINLINE
#endif
"""

#: what the C target writes: file name suffix → printer
C_FILES: dict[str, Callable[[Artefact], str]] = {".h": c_header, ".c": c_source}
