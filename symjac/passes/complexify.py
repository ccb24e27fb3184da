"""Lowering of a complex128 tape to a real float64 tape over (re, im) pairs (issue 14).

Before: a :class:`~symjac.ir.tape.Tape` whose values are complex. ``VAR k`` and
``PARAM k`` are complex numbers; a ``CONST`` holds a Python ``complex`` (a complex
constant) or a ``float`` (a *real operand*: C99 Annex G G.5.1 mixed arithmetic, so
``2*z`` is ``(2x, 2y)`` and ``c + z`` is ``(c + x, y)``). The ops are those of
:data:`LOWERINGS`; any other op raises :class:`NotImplementedError`.

After: a real tape with ``VAR 2k = Re z_k``, ``VAR 2k+1 = Im z_k`` (``PARAM`` likewise) and
outputs ``(re, im)`` interleaved — NumPy's complex128 memory layout, so a caller passes
``z.view(np.float64)``. It uses only ops every back end implements, branch-free (selects),
built in a fresh :class:`~symjac.ir.graph.Graph` (shared subexpressions merged, constant
arithmetic folded, exact rewrites only: no ``x + 0 → x``, whose sign of zero matters here).

Semantics: principal branches, with C99 Annex G (G.6) special values — signed zeros choose
the side of a branch cut, infinities and NaN as its tables say; multiplication and division
recover infinities as C's ``__muldc3``/``__divdc3`` do. docs/semantics.md ("Complex
kernels") has the accuracy measured against mpmath.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from dataclasses import dataclass

from symjac.ir.graph import Graph
from symjac.ir.ops import Op
from symjac.ir.tape import KernelSpec, Tape
from symjac.passes import _complex_arith as ca
from symjac.passes import _complex_functions as cf
from symjac.passes._complex_arith import Cx, Real
from symjac.passes.rules import (
    RuleSet,
    compose,
    div_one,
    mul_one,
    neg_neg,
    select_known,
    select_same,
    sub_zero,
)

#: constant folding and rewrites that keep every bit, signed zeros included
_EXACT = compose(
    [
        RuleSet(
            "exact",
            "bit-exact rewrites",
            (mul_one, div_one, neg_neg, sub_zero, select_known, select_same),
        )
    ]
)

Lowering = Callable[[Real, list[Cx], object], Cx]


def _function(fn: Callable[[Real, int, int], tuple[int, int]]) -> Lowering:
    def lower(r: Real, args: list[Cx], attr: object) -> Cx:
        return Cx(*fn(r, *ca.promote(r, args[0])))

    return lower


def _pow(r: Real, args: list[Cx], attr: object) -> Cx:
    """``z**w = exp(w log z)`` (as C's cpow); a real exponent scales log z componentwise."""
    z, w = args
    return Cx(*cf.exp(r, *ca.promote(r, ca.mul(r, w, Cx(*cf.log(r, *ca.promote(r, z)))))))


#: the one table of complex op semantics: op → its lowering over (re, im) nodes
LOWERINGS: dict[Op, Lowering] = {
    Op.NEG: lambda r, a, attr: ca.neg(r, a[0]),
    Op.ADD: lambda r, a, attr: ca.add(r, *a),
    Op.SUB: lambda r, a, attr: ca.sub(r, *a),
    Op.MUL: lambda r, a, attr: ca.mul(r, *a),
    Op.DIV: lambda r, a, attr: ca.div(r, *a),
    Op.POWI: lambda r, a, attr: ca.powi(r, a[0], int(attr)),  # type: ignore[call-overload]
    Op.POW: _pow,
    Op.SQRT: _function(cf.sqrt),
    Op.EXP: _function(cf.exp),
    Op.EXP2: _function(cf.exp2),
    Op.LOG: _function(cf.log),
    Op.LOG2: _function(cf.log2),
    Op.LOG10: _function(cf.log10),
    Op.SIN: _function(cf.sin),
    Op.COS: _function(cf.cos),
    Op.TAN: _function(cf.tan),
    Op.SINH: _function(cf.sinh),
    Op.COSH: _function(cf.cosh),
    Op.TANH: _function(cf.tanh),
    Op.ASIN: _function(cf.asin),
    Op.ACOS: _function(cf.acos),
    Op.ATAN: _function(cf.atan),
    Op.ASINH: _function(cf.asinh),
    Op.ACOSH: _function(cf.acosh),
    Op.ATANH: _function(cf.atanh),
}


def _refuse(op: Op) -> NotImplementedError:
    # the op table says which ops complex kernels take (the front end refuses the others
    # first, naming the SymPy function): this is the backstop for tapes built by hand
    why = "not a holomorphic op"
    return NotImplementedError(f"{op.name.lower()} is not supported for complex kernels: {why}")


def lower_complex(tape: Tape, recover: bool = True) -> Tape:
    """The real tape over (re, im) pairs that computes the complex tape ``tape``.

    See the module docstring for the contract. ``recover=False``: complex products and
    quotients without Annex G's recovery of infinities (where both parts come out NaN:
    :func:`complex_specs` computes such points again with the recovering tape).
    ``(1+2j)·z`` at z = 3 - 1j:

    >>> from symjac.ir import scalar
    >>> g = Graph(); mul = g.mul(g.var(0), g.var(1))
    >>> t = Tape.from_graph(g, [mul], 2, 0)
    >>> real = lower_complex(t)
    >>> real.n_vars, len(real.outputs)
    (4, 2)
    >>> scalar.run(real, [1.0, 2.0, 3.0, -1.0])  # (1+2j)*(3-1j)
    [5.0, 5.0]
    >>> g = Graph(); lower_complex(Tape.from_graph(g, [g.call(Op.ABS, g.var(0))], 1, 0))
    Traceback (most recent call last):
    ...
    NotImplementedError: abs is not supported for complex kernels: not a holomorphic op
    """
    r = Real(Graph(_EXACT), recover)
    g = r.g
    values: list[Cx] = []
    for op, args, attr in zip(tape.ops, tape.args, tape.attrs):
        if op is Op.VAR or op is Op.PARAM:
            k = 2 * int(attr)  # type: ignore[call-overload]
            values.append(Cx(g.intern(op, (), k), g.intern(op, (), k + 1)))
        elif op is Op.CONST:
            if isinstance(attr, complex):
                values.append(Cx(g.const(attr.real), g.const(attr.imag)))
            else:
                values.append(Cx(g.const(float(attr)), None))  # type: ignore[arg-type]
        elif op in LOWERINGS:
            values.append(LOWERINGS[op](r, [values[a] for a in args], attr))
        else:
            raise _refuse(op)
    roots: list[int] = []
    for out in tape.outputs:
        roots.extend(ca.promote(r, values[out]))
    return Tape.from_graph(g, roots, 2 * tape.n_vars, 2 * tape.n_params)


def _widened(spec: KernelSpec, name: str, tape: Tape) -> KernelSpec:
    """``spec`` over (re, im) pairs: output ``k`` at ``2·pos``, ``2·pos + 1`` of a row twice
    as wide (a complex row, viewed as float64)."""
    positions = tuple(q for p in spec.positions for q in (2 * p, 2 * p + 1))
    shape = spec.row_shape
    if shape is not None:
        shape = (*shape[:-1], 2 * shape[-1])
    return KernelSpec(name, tape, 2 * spec.width, positions, shape)


#: complex ops whose lowering holds Annex G's recovery (complex × and ÷, and what uses them)
_RECOVERING = frozenset({Op.MUL, Op.DIV, Op.POWI, Op.POW})


@dataclass(frozen=True)
class Twin:
    """The recovering twin of complex kernel ``source`` (a complex tape's spec), lowered only
    when :meth:`spec` is first asked for: ``Kernels.deferred`` holds these.

    >>> g = Graph(); z = g.var(0)
    >>> twin = Twin(KernelSpec("f", Tape.from_graph(g, [g.mul(z, z)], 1, 0), 1, (0,)), "_exact")
    >>> twin.name, twin.spec().tape.n_vars, twin.spec().width
    ('f_exact', 2, 2)
    """

    source: KernelSpec
    suffix: str

    @property
    def name(self) -> str:
        """The twin kernel's name: its kernel's and the suffix.

        >>> g = Graph(); z = g.var(0)
        >>> Twin(KernelSpec("values", Tape.from_graph(g, [z], 1, 0), 1, (0,)), "_exact").name
        'values_exact'
        """
        return self.source.name + self.suffix

    def spec(self) -> KernelSpec:
        """The twin's real kernel spec (lowered on each call: ``Kernels`` keeps the compiled
        result): the recovering lowering, widened over (re, im) pairs.

        >>> g = Graph(); z, w = g.var(0), g.var(1)
        >>> twin = Twin(KernelSpec("f", Tape.from_graph(g, [g.div(z, w)], 2, 0), 1, (0,)), "_x")
        >>> spec = twin.spec()
        >>> spec.positions, len(spec.tape) > len(lower_complex(twin.source.tape, False))
        ((0, 1), True)
        """
        return _widened(self.source, self.name, lower_complex(self.source.tape, recover=True))


def complex_specs(specs: Sequence[KernelSpec], twin: str) -> tuple[list[KernelSpec], list[Twin]]:
    """The real kernels that compute complex kernels ``specs``: each distinct tape lowered
    once (a Jacobian's kernels share one), output ``k``'s (re, im) stored at ``2·pos`` and
    ``2·pos + 1`` of a row twice as wide — a complex row, viewed as float64 — and their
    twins, lowered and compiled only once a point needs one (``Kernels.deferred``).

    Annex G's recovery of infinities in complex × and ÷ costs ~60 and ~75 instructions each,
    all computed in branch-free code, for points that almost never need it: so each kernel
    is the tape without it, and where the tape has complex products or quotients, a twin
    ``NAME + twin`` (the runtime's suffix) with it. A point whose row holds a NaN is computed
    again by the twin (the runtime and the emitted C do it): recovery changes only products
    whose parts are both NaN, and a NaN+iNaN stays NaN through every op of the fast tape, so
    a row without NaN is already the recovering tape's, bit for bit.

    >>> g = Graph(); z = g.var(0)
    >>> spec = KernelSpec("f", Tape.from_graph(g, [g.mul(z, z)], 1, 0), 2, (1,), (1, 2))
    >>> [fast], [exact] = complex_specs([spec], "_exact")
    >>> fast.width, fast.positions, fast.row_shape, fast.tape.n_vars, exact.name
    (4, (2, 3), (1, 4), 2, 'f_exact')
    >>> len(fast.tape) < len(exact.spec().tape)
    True
    """
    lowered: dict[int, Tape] = {}
    out, twins = [], []
    for spec in specs:
        tape = lowered.get(id(spec.tape))
        if tape is None:
            tape = lowered[id(spec.tape)] = lower_complex(spec.tape, recover=False)
        out.append(_widened(spec, spec.name, tape))
        if _RECOVERING.intersection(spec.tape.ops):
            twins.append(Twin(spec, twin))
    return out, twins
