"""Rewrite rules as data: small named rules, gathered in named rule sets, applied while
nodes are built.

A :class:`Rule` rewrites one op: a function ``(graph, args, attr) -> node | None``
(``None``: no rewrite) with a one-line doc ``x*1 → x``. A :class:`RuleSet` names a
tuple of rules; :data:`SETS` lists them all and :func:`describe` prints them.
:func:`rewriter` turns a choice of sets into the one function :meth:`Graph.make
<symjac.ir.graph.Graph.make>` calls for every node it builds: constant folding first
(:func:`fold_constants`), then the rules of the node's op, in order, until one fires.
Dispatch is a dict of tuples per op, built once per choice of sets: ``make`` is the hot
path of the whole compiler.

Two sets:

* ``algebraic`` keeps the IEEE value for every input, so none of its rules needs a
  guard: ``x*1 → x`` and ``x-0 → x`` are exact, but ``x*0 → 0`` is not (it is NaN for
  infinite x) and is therefore absent. The single exception is ``x+0 → x``, which may
  turn ``-0.0 + 0.0 = +0.0`` into ``-0.0``; SymPy drops ``+ 0`` the same way, and the
  two zeros compare equal. Each rule's docstring gives its exactness argument.
* ``numeric`` replaces a form that loses accuracy by one that does not:
  ``log(1 + x) → log1p(x)``, ``exp(x) - 1 → expm1(x)``, ``sqrt(x² + y²) → hypot(x, y)``,
  ``log(exp(x)) → x``. These change values — they are closer to the true result, not
  equal to the naive evaluation bit for bit. A rule of this set is used only where the
  cost table :data:`COST`, measured on compiled kernels, says that it does not slow the
  kernel down, one point or SIMD batch, for the vector library in use
  (:meth:`Rule.extra_cost`). ``accurate`` is the same rules whatever they cost.
"""

from __future__ import annotations

import functools
import math
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from typing import TYPE_CHECKING

from symjac.ir import scalar
from symjac.ir.ops import COMPOSITE, INFO, Op

if TYPE_CHECKING:
    from symjac.ir.graph import Graph, Rewrite

#: a rule's function: ``(graph, args, attr)`` → an equivalent node, or None (no rewrite)
RuleFn = Callable[["Graph", tuple[int, ...], object], "int | None"]

_CONST, _BOOL, _NEG, _POWI, _MUL = Op.CONST, Op.BOOL, Op.NEG, Op.POWI, Op.MUL


def fold_constants(g: Graph, op: Op, args: tuple[int, ...], attr: object) -> int | None:
    """Evaluate ``op`` when all its arguments are constants (with the kernel's own libm).

    >>> from symjac.ir.graph import Graph
    >>> g = Graph(); two, x = g.const(2.0), g.var(0)
    >>> g.value(fold_constants(g, Op.SQRT, (two,), None)) == 2.0**0.5
    True
    >>> g.value(fold_constants(g, Op.POWI, (two,), 3))
    8.0
    >>> fold_constants(g, Op.MUL, (two, x), None) is None  # x is not a constant
    True
    """
    ops = g.ops
    for a in args:
        if ops[a] is not Op.CONST and ops[a] is not Op.BOOL:
            return None
    if not args:
        return None
    if op in COMPOSITE:
        return None  # composites: expanded later, folded then
    values = [g.attrs[a] for a in args]
    if op is Op.SELECT:
        return args[1] if values[0] else args[2]
    value = scalar.apply(op, values, attr)
    return g.boolean(value) if INFO[op].result == "bool" else g.const(value)  # type: ignore[arg-type]


_REAL_ARITHMETIC = frozenset({Op.NEG, Op.ADD, Op.SUB, Op.MUL, Op.DIV, Op.POWI})


def fold_complex(g: Graph, op: Op, args: tuple[int, ...], attr: object) -> int | None:
    """:func:`fold_constants` in a complex kernel: arithmetic on real constants stays real
    (and exact as in a real kernel); everything else is complex (``sqrt(-4)`` is ``2i``)
    and left to the kernel where Python raises (:func:`~symjac.ir.scalar.apply_complex`).
    A complex result with imaginary part +0 is a real constant.

    >>> from symjac.ir.graph import Graph
    >>> g = Graph(); m4 = g.const(-4.0)
    >>> [g.value(fold_complex(g, op, (m4,), None)) for op in (Op.SQRT, Op.NEG)]
    [2j, 4.0]
    >>> g.value(fold_complex(g, Op.MUL, (g.const(1j), g.const(1j)), None))
    -1.0
    """
    ops, attrs = g.ops, g.attrs
    if not args or any(ops[a] is not _CONST for a in args):
        return None
    values = [attrs[a] for a in args]
    if op in _REAL_ARITHMETIC and not any(type(v) is complex for v in values):
        return fold_constants(g, op, args, attr)
    value = scalar.apply_complex(op, values, attr)  # type: ignore[arg-type]
    if value is None:
        return None
    real = value.imag == 0.0 and math.copysign(1.0, value.imag) > 0
    return g.const(value.real if real else value)


@dataclass(frozen=True)
class Rule:
    """One named rewrite of one op; ``doc`` is its one line, ``x*1 → x``.

    ``removes`` and ``adds`` are the ops a rewrite of the ``numeric`` set takes out of the
    kernel and puts in, which :meth:`extra_cost` prices.

    >>> from symjac.ir.graph import Graph
    >>> mul_one.op, mul_one.doc
    (<Op.MUL: 13>, 'x*1 → x')
    >>> g = Graph(); x = g.var(0)
    >>> mul_one.fn(g, (x, g.const(1.0)), None) == x
    True
    """

    name: str
    op: Op
    fn: RuleFn
    doc: str
    removes: tuple[Op, ...] = ()
    adds: tuple[Op, ...] = ()

    def extra_cost(self, libm: str = "libmvec") -> tuple[float, float]:
        """Nanoseconds a point this rewrite adds (negative: saves), one point and SIMD
        batch, by the measured :data:`COST` of the ops it removes and adds.

        >>> log_exp.extra_cost()[0] < 0  # two calls fewer
        True
        """
        table = COST[libm]
        return (
            sum(table[op][0] for op in self.adds) - sum(table[op][0] for op in self.removes),
            sum(table[op][1] for op in self.adds) - sum(table[op][1] for op in self.removes),
        )

    def free(self, libm: str = "libmvec") -> bool:
        """Whether the rewrite does not slow a kernel down, one point nor batch: it adds at
        most :data:`COST_NOISE` of the cost of the ops it removes. Rewrites that only
        remove ops (all of ``algebraic``) always pass.

        >>> mul_one.free(), log_exp.free("libm"), expm1_sub.free("libm")
        (True, True, False)
        """
        table = COST[libm]
        extra = self.extra_cost(libm)
        for column in (0, 1):
            replaced = sum(table[op][column] for op in self.removes)
            if extra[column] > COST_NOISE * replaced:
                return False
        return True


def rule(
    op: Op, removes: tuple[Op, ...] = (), adds: tuple[Op, ...] = ()
) -> Callable[[RuleFn], Rule]:
    """Decorator: the function becomes a :class:`Rule` for ``op``, named after it, whose
    doc is the first line of its docstring.

    >>> from symjac.ir.graph import Graph
    >>> @rule(Op.NEG)
    ... def neg_of_zero(g, args, attr):
    ...     '''-(0·x) → 0·x (an example only)'''
    ...     return None
    >>> neg_of_zero.name, neg_of_zero.doc
    ('neg_of_zero', '-(0·x) → 0·x (an example only)')
    """

    def make(fn: RuleFn) -> Rule:
        doc = (fn.__doc__ or "").strip().splitlines()
        return Rule(fn.__name__, op, fn, doc[0] if doc else fn.__name__, removes, adds)

    return make


def _is(g: Graph, node: int, value: float) -> bool:
    return g.ops[node] is _CONST and g.attrs[node] == value


# -- algebraic: value-preserving ---------------------------------------------------------------


@rule(Op.ADD)
def add_zero(g: Graph, args: tuple[int, ...], attr: object) -> int | None:
    """x + 0 → x (either side)

    Exact for ``-0.0``; for ``+0.0`` only at ``x = -0.0`` the result is ``-0.0`` where
    IEEE gives ``+0.0`` (the documented exception: the two compare equal).
    """
    a, b = args
    if _is(g, b, 0.0):
        return a
    if _is(g, a, 0.0):
        return b
    return None


@rule(Op.ADD)
def add_neg(g: Graph, args: tuple[int, ...], attr: object) -> int | None:
    """x + (-y) → x - y (either side)

    IEEE subtraction is addition of the negation, and negation is exact.
    """
    a, b = args
    ops = g.ops
    if ops[b] is _NEG:
        return g.sub(a, g.args[b][0])
    if ops[a] is _NEG:
        return g.sub(b, g.args[a][0])
    return None


@rule(Op.SUB)
def sub_zero(g: Graph, args: tuple[int, ...], attr: object) -> int | None:
    """x - (+0) → x

    Exact for every x; ``x - (-0)`` is ``x + 0``, which turns -0 into +0, so it is kept.
    """
    b = args[1]
    if _is(g, b, 0.0) and math.copysign(1.0, g.attrs[b]) > 0:  # type: ignore[arg-type]
        return args[0]
    return None


@rule(Op.SUB)
def zero_sub(g: Graph, args: tuple[int, ...], attr: object) -> int | None:
    """(-0) - y → -y

    Exact for every y (``+0 - y`` is kept: it is +0, not -0, at y = 0).
    """
    a = args[0]
    if _is(g, a, 0.0) and math.copysign(1.0, g.attrs[a]) < 0:  # type: ignore[arg-type]
        return g.neg(args[1])
    return None


@rule(Op.SUB)
def sub_neg(g: Graph, args: tuple[int, ...], attr: object) -> int | None:
    """x - (-y) → x + y

    Subtraction is addition of the negation; negation is exact.
    """
    a, b = args
    if g.ops[b] is _NEG:
        return g.add(a, g.args[b][0])
    return None


@rule(Op.MUL)
def mul_one(g: Graph, args: tuple[int, ...], attr: object) -> int | None:
    """x*1 → x

    Exact for every x, NaN and infinities included.
    """
    a, b = args
    if _is(g, b, 1.0):
        return a
    if _is(g, a, 1.0):
        return b
    return None


@rule(Op.MUL)
def mul_minus_one(g: Graph, args: tuple[int, ...], attr: object) -> int | None:
    """x*(-1) → -x

    Multiplying by -1 flips the sign bit exactly, as negation does (NaN stays NaN).
    """
    a, b = args
    if _is(g, b, -1.0):
        return g.neg(a)
    if _is(g, a, -1.0):
        return g.neg(b)
    return None


@rule(Op.MUL)
def mul_const_neg(g: Graph, args: tuple[int, ...], attr: object) -> int | None:
    """c*(-x) → (-c)*x, c a constant

    The product's magnitude is the same rounded value; only the sign moves.
    """
    a, b = args
    ops = g.ops
    if ops[a] is _CONST and ops[b] is _NEG:
        return g.mul(g.const(-g.attrs[a]), g.args[b][0])  # type: ignore[operator]
    if ops[b] is _CONST and ops[a] is _NEG:
        return g.mul(g.const(-g.attrs[b]), g.args[a][0])  # type: ignore[operator]
    return None


@rule(Op.MUL)
def mul_neg_neg(g: Graph, args: tuple[int, ...], attr: object) -> int | None:
    """(-x)*(-y) → x*y

    The two sign flips cancel; the magnitude is the same rounded product.
    """
    a, b = args
    ops = g.ops
    if ops[a] is _NEG and ops[b] is _NEG:
        return g.mul(g.args[a][0], g.args[b][0])
    return None


@rule(Op.DIV)
def div_one(g: Graph, args: tuple[int, ...], attr: object) -> int | None:
    """x/1 → x

    Exact for every x.
    """
    return args[0] if _is(g, args[1], 1.0) else None


@rule(Op.DIV)
def div_minus_one(g: Graph, args: tuple[int, ...], attr: object) -> int | None:
    """x/(-1) → -x

    Dividing by -1 flips the sign bit exactly.
    """
    return g.neg(args[0]) if _is(g, args[1], -1.0) else None


@rule(Op.NEG)
def neg_neg(g: Graph, args: tuple[int, ...], attr: object) -> int | None:
    """-(-x) → x

    Negation flips the sign bit; twice is the identity, NaN included.
    """
    a = args[0]
    return g.args[a][0] if g.ops[a] is _NEG else None


@rule(Op.POWI)
def powi_one(g: Graph, args: tuple[int, ...], attr: object) -> int | None:
    """x**1 → x

    The multiply chain of n = 1 is x itself.
    """
    return args[0] if attr == 1 else None


@rule(Op.POWI)
def powi_zero(g: Graph, args: tuple[int, ...], attr: object) -> int | None:
    """x**0 → 1

    IEEE pow(x, 0) is 1 for every x, NaN included, as in SymPy.
    """
    return g.const(1.0) if attr == 0 else None


@rule(Op.POWI)
def powi_minus_one(g: Graph, args: tuple[int, ...], attr: object) -> int | None:
    """x**-1 → 1/x

    The chain of n = -1 is one correctly rounded division, the same.
    """
    return g.div(g.const(1.0), args[0]) if attr == -1 else None


@rule(Op.SELECT)
def select_same(g: Graph, args: tuple[int, ...], attr: object) -> int | None:
    """select(c, x, x) → x

    Both branches are the same node.
    """
    return args[1] if args[1] == args[2] else None


@rule(Op.SELECT)
def select_known(g: Graph, args: tuple[int, ...], attr: object) -> int | None:
    """select(true, x, y) → x, select(false, x, y) → y

    The condition is a constant.
    """
    c = args[0]
    if g.ops[c] is Op.BOOL:
        return args[1] if g.attrs[c] else args[2]
    return None


@rule(Op.SELECT)
def select_not(g: Graph, args: tuple[int, ...], attr: object) -> int | None:
    """select(!c, x, y) → select(c, y, x)

    The same branch is chosen for every c (a comparison with NaN is false, its negation true).
    """
    c, a, b = args
    if g.ops[c] is Op.NOT:
        return g.select(g.args[c][0], b, a)
    return None


@rule(Op.NOT)
def not_not(g: Graph, args: tuple[int, ...], attr: object) -> int | None:
    """!!c → c

    Truth values have no NaN.
    """
    c = args[0]
    return g.args[c][0] if g.ops[c] is Op.NOT else None


# -- numeric: more accurate, not bit for bit -----------------------------------------------------


@rule(Op.LOG, removes=(Op.ADD, Op.LOG), adds=(Op.LOG1P,))
def log1p_add(g: Graph, args: tuple[int, ...], attr: object) -> int | None:
    """log(1 + x) → log1p(x)

    ``1 + x`` rounds away the digits of a small x (at x = 1e-10 the naive result has
    relative error ~1e-7); log1p takes x exactly and is within an ulp or so.
    """
    s = args[0]
    if g.ops[s] is Op.ADD:
        a, b = g.args[s]
        if _is(g, a, 1.0):
            return g.make(Op.LOG1P, (b,))
        if _is(g, b, 1.0):
            return g.make(Op.LOG1P, (a,))
    return None


@rule(Op.LOG, removes=(Op.SUB, Op.LOG), adds=(Op.NEG, Op.LOG1P))
def log1p_sub(g: Graph, args: tuple[int, ...], attr: object) -> int | None:
    """log(1 - x) → log1p(-x)

    The same cancellation as ``log(1 + x)``; the negation is exact.
    """
    s = args[0]
    if g.ops[s] is Op.SUB:
        a, b = g.args[s]
        if _is(g, a, 1.0):
            return g.make(Op.LOG1P, (g.neg(b),))
    return None


@rule(Op.ADD, removes=(Op.EXP, Op.ADD), adds=(Op.EXPM1,))
def expm1_add(g: Graph, args: tuple[int, ...], attr: object) -> int | None:
    """exp(x) + (-1) → expm1(x)

    For small |x|, exp(x) is 1 plus a few digits of x and subtracting 1 cancels the rest
    (at x = 1e-10 relative error ~1e-7); expm1 is within an ulp or so. (SymPy writes
    ``exp(x) - 1`` as this sum.)
    """
    a, b = args
    ops = g.ops
    if ops[a] is Op.EXP and _is(g, b, -1.0):
        return g.make(Op.EXPM1, g.args[a])
    if ops[b] is Op.EXP and _is(g, a, -1.0):
        return g.make(Op.EXPM1, g.args[b])
    return None


@rule(Op.SUB, removes=(Op.EXP, Op.SUB), adds=(Op.EXPM1,))
def expm1_sub(g: Graph, args: tuple[int, ...], attr: object) -> int | None:
    """exp(x) - 1 → expm1(x)

    As ``exp(x) + (-1)``.
    """
    a, b = args
    if g.ops[a] is Op.EXP and _is(g, b, 1.0):
        return g.make(Op.EXPM1, g.args[a])
    return None


@rule(Op.SUB, removes=(Op.EXP, Op.SUB), adds=(Op.EXPM1, Op.NEG))
def expm1_rsub(g: Graph, args: tuple[int, ...], attr: object) -> int | None:
    """1 - exp(x) → -expm1(x)

    As ``exp(x) - 1``; the negation is exact.
    """
    a, b = args
    if g.ops[b] is Op.EXP and _is(g, a, 1.0):
        return g.neg(g.make(Op.EXPM1, g.args[b]))
    return None


def _square_root_of(g: Graph, node: int) -> int | None:
    """x for a node x² (``POWI 2`` or ``x*x``), else None."""
    op = g.ops[node]
    if op is _POWI and g.attrs[node] == 2:
        return g.args[node][0]
    if op is _MUL:
        a, b = g.args[node]
        if a == b:
            return a
    return None


@rule(Op.SQRT, removes=(Op.POWI, Op.POWI, Op.ADD, Op.SQRT), adds=(Op.HYPOT,))
def hypot_squares(g: Graph, args: tuple[int, ...], attr: object) -> int | None:
    """sqrt(x² + y²) → hypot(x, y)

    x² + y² overflows for |x| > 1e154 and underflows below 1e-154, and rounds twice;
    hypot does neither (within an ulp). At an infinite x and a NaN y, hypot is +inf.
    """
    s = args[0]
    if g.ops[s] is Op.ADD:
        a, b = g.args[s]
        x, y = _square_root_of(g, a), _square_root_of(g, b)
        if x is not None and y is not None:
            return g.make(Op.HYPOT, (x, y))
    return None


@rule(Op.SQRT, removes=(Op.POWI, Op.ADD, Op.SQRT), adds=(Op.HYPOT,))
def hypot_square_const(g: Graph, args: tuple[int, ...], attr: object) -> int | None:
    """sqrt(x² + c) → hypot(x, √c), for a constant c whose root is exact (1, 4, 0.25, ...)

    As ``sqrt(x² + y²)``: no overflow of x², one rounding.
    """
    s = args[0]
    if g.ops[s] is Op.ADD:
        for sq, c in (g.args[s], g.args[s][::-1]):
            x = _square_root_of(g, sq)
            if x is not None and g.ops[c] is _CONST:
                value: float = g.attrs[c]  # type: ignore[assignment]
                root = math.sqrt(value) if 0.0 < value < math.inf else math.nan
                if root * root == value:
                    return g.make(Op.HYPOT, (x, g.const(root)))
    return None


@rule(Op.LOG, removes=(Op.EXP, Op.LOG))
def log_exp(g: Graph, args: tuple[int, ...], attr: object) -> int | None:
    """log(exp(x)) → x

    Exact for every real x, where the naive form rounds twice and is ±inf beyond
    |x| ≈ 709 (exp overflows, or underflows to 0).
    """
    a = args[0]
    return g.args[a][0] if g.ops[a] is Op.EXP else None


# -- the cost of ops, measured --------------------------------------------------------------------

#: Nanoseconds an op adds to a kernel per point, (one point, SIMD batch per point), with
#: glibc's vector library (``libmvec``: the default) and with the scalar C library lane by
#: lane (``libm``: ``vector_libm=False`` or ``simd=False``). Measured by
#: ``python benchmarks/numeric_rules.py --ops`` (Xeon with AVX-512, 8 lanes, glibc 2.36):
#: 32 independent copies of the op in one kernel, minus the same kernel without them, / 32;
#: minimum of 7 interleaved repetitions. Arithmetic is below the resolution (about 0.2 ns
#: one point, 0.01 ns batch) and is entered as that; ``POWI`` here is a square, one multiply.
_ARITHMETIC = {op: (0.2, 0.01) for op in (Op.ADD, Op.SUB, Op.NEG, Op.POWI)}
COST: dict[str, dict[Op, tuple[float, float]]] = {
    "libmvec": {
        **_ARITHMETIC,
        Op.SQRT: (3.2, 1.03),
        Op.LOG: (6.7, 0.83),
        Op.LOG1P: (6.8, 0.82),
        Op.EXP: (4.5, 0.54),
        Op.EXPM1: (5.3, 0.69),
        Op.HYPOT: (4.1, 0.49),
    },
    "libm": {
        **_ARITHMETIC,
        Op.SQRT: (3.7, 1.10),
        Op.LOG: (4.1, 4.98),
        Op.LOG1P: (6.8, 8.06),
        Op.EXP: (4.0, 4.57),
        Op.EXPM1: (8.9, 9.34),
        Op.HYPOT: (5.6, 7.10),
    },
}
#: a rewrite within this fraction of the cost of what it replaces is "not slower": the spread
#: of repeated measurements of one op is about 5%
COST_NOISE = 0.05


# -- rule sets ---------------------------------------------------------------------------------


@dataclass(frozen=True)
class RuleSet:
    """A named tuple of rules. ``gated``: use only the rules :meth:`Rule.free` allows.

    >>> ALGEBRAIC.name, ALGEBRAIC.rules[0].doc
    ('algebraic', 'x + 0 → x (either side)')
    >>> [r.name for r in NUMERIC.active("libmvec")] == [r.name for r in NUMERIC.rules if r.free()]
    True
    """

    name: str
    doc: str
    rules: tuple[Rule, ...]
    gated: bool = False

    def active(self, libm: str = "libmvec") -> tuple[Rule, ...]:
        """The rules in use with the vector library ``libm`` ("libmvec" or "libm").

        >>> len(ACCURATE.active("libm")) == len(ACCURATE.rules)  # not gated
        True
        """
        if not self.gated:
            return self.rules
        return tuple(r for r in self.rules if r.free(libm))

    def describe(self, libm: str = "libmvec") -> str:
        """The set's name and doc, then one line per rule (gated rules say what they cost).

        >>> print(RuleSet("tiny", "one rule", (mul_one,)).describe())
        tiny: one rule
          mul_one            x*1 → x
        """
        lines = [f"{self.name}: {self.doc}"]
        active = self.active(libm)
        for r in self.rules:
            note = ""
            if self.gated:
                point, batch = r.extra_cost(libm)
                state = "on" if r in active else "off"
                note = f"  [{state}: {point:+.1f} ns one point, {batch:+.2f} ns batch]"
            lines.append(f"  {r.name:18s} {r.doc}{note}")
        return "\n".join(lines)


ALGEBRAIC = RuleSet(
    "algebraic",
    "value-preserving simplifications (IEEE-exact but for the sign of x + 0 at x = -0)",
    (
        add_zero,
        add_neg,
        sub_zero,
        zero_sub,
        sub_neg,
        mul_one,
        mul_minus_one,
        mul_const_neg,
        mul_neg_neg,
        div_one,
        div_minus_one,
        neg_neg,
        powi_one,
        powi_zero,
        powi_minus_one,
        select_same,
        select_known,
        select_not,
        not_not,
    ),
)
_NUMERIC_RULES = (
    log_exp,
    log1p_add,
    log1p_sub,
    expm1_add,
    expm1_sub,
    expm1_rsub,
    hypot_squares,
    hypot_square_const,
)
NUMERIC = RuleSet(
    "numeric",
    "more accurate forms, where the measured cost table says they are not slower",
    _NUMERIC_RULES,
    gated=True,
)
ACCURATE = RuleSet("accurate", "the numeric rules, whatever they cost", _NUMERIC_RULES)

#: every rule set by name, in the order their rules are tried
SETS: dict[str, RuleSet] = {s.name: s for s in (ALGEBRAIC, NUMERIC, ACCURATE)}
#: the sets :class:`~symjac.options.Options` uses unless told otherwise
DEFAULT_SETS: tuple[str, ...] = ("algebraic", "numeric")
LIBMS = ("libmvec", "libm")


def check_sets(names: Sequence[str]) -> tuple[str, ...]:
    """Validate rule-set names; returns them once each, in :data:`SETS` order.

    >>> check_sets(["numeric", "algebraic", "numeric"])
    ('algebraic', 'numeric')
    >>> check_sets(["fast"])
    Traceback (most recent call last):
    ...
    ValueError: unknown rule set 'fast'; the rule sets are 'algebraic', 'numeric', 'accurate'
    """
    if isinstance(names, str) or not isinstance(names, (tuple, list)):
        raise TypeError(
            f"rules must be a tuple of rule-set names such as {DEFAULT_SETS}, not {names!r}"
        )
    for name in names:
        if name not in SETS:
            known = ", ".join(repr(s) for s in SETS)
            raise ValueError(f"unknown rule set {name!r}; the rule sets are {known}")
    return tuple(s for s in SETS if s in names)


def compose(sets: Sequence[RuleSet], libm: str = "libmvec", fold: Rewrite | None = None) -> Rewrite:
    """One rewrite function for ``sets``: constant folding, then per op the active rules of
    each set in turn (a rule in two sets is tried once). :func:`rewriter` caches these.
    ``fold``: the constant folding (default :func:`fold_constants`).

    >>> from symjac.ir.graph import Graph
    >>> only = compose([RuleSet("one", "x*1 only", (mul_one,))])
    >>> g = Graph(only); x = g.var(0)
    >>> g.mul(x, g.const(1.0)) == x, g.ops[g.mul(x, g.const(-1.0))]
    (True, <Op.MUL: 13>)
    """
    table: dict[Op, list[RuleFn]] = {}
    seen: set[str] = set()
    for rule_set in sets:
        for r in rule_set.active(libm):
            if r.name not in seen:  # "numeric" and "accurate" share their rules
                seen.add(r.name)
                table.setdefault(r.op, []).append(r.fn)
    rules_of = {op: tuple(fns) for op, fns in table.items()}.get
    fold_ = fold or fold_constants

    def composed(g: Graph, op: Op, args: tuple[int, ...], attr: object) -> int | None:
        ops = g.ops
        for a in args:  # fold_constants's own test, inline: most nodes have a variable
            if ops[a] is not _CONST and ops[a] is not _BOOL:
                break
        else:
            node = fold_(g, op, args, attr)
            if node is not None:
                return node
        for fn in rules_of(op, ()):
            node = fn(g, args, attr)
            if node is not None:
                return node
        return None

    return composed


def rewriter(
    names: Sequence[str] = ("algebraic",), libm: str = "libmvec", complex_: bool = False
) -> Rewrite:
    """The function :class:`~symjac.ir.graph.Graph` applies to every node it builds, for
    the rule sets ``names`` with the vector library ``libm`` (which gates ``numeric``).
    Made once per choice. ``complex_``: for a complex kernel's graph — complex constant
    folding (:func:`fold_complex`) and only the ``algebraic`` rules, which hold for complex
    numbers too (the ``numeric`` ones are real forms, priced for real kernels).

    >>> from symjac.ir.graph import Graph
    >>> g = Graph(rewriter(["algebraic", "numeric"])); x = g.var(0)
    >>> g.ops[g.call(Op.LOG, g.add(g.const(1.0), x))]
    <Op.LOG1P: 71>
    >>> rewriter(["algebraic"]) is rewriter(("algebraic",))  # made once
    True
    >>> c = Graph(rewriter(["algebraic", "numeric"], complex_=True)); z = c.var(0)
    >>> c.ops[c.call(Op.LOG, c.add(c.const(1.0), z))], c.value(c.call(Op.SQRT, c.const(-1.0)))
    (<Op.LOG: 21>, 1j)
    """
    if libm not in LIBMS:
        raise ValueError(f"libm must be one of {LIBMS}, not {libm!r}")
    names = check_sets(names)
    if complex_:
        names = tuple(n for n in names if n == "algebraic")
    return _rewriter(names, libm, complex_)


@functools.cache
def _rewriter(names: tuple[str, ...], libm: str, complex_: bool = False) -> Rewrite:
    return compose([SETS[name] for name in names], libm, fold_complex if complex_ else None)


_ALGEBRAIC = rewriter(("algebraic",))


def rewrite(g: Graph, op: Op, args: tuple[int, ...], attr: object) -> int | None:
    """Constant folding, then the ``algebraic`` rules: the value-preserving rewrite, what
    tests compare bit for bit against a graph built without rules.

    >>> from symjac.ir.graph import Graph
    >>> g = Graph(); x, one = g.var(0), g.const(1.0)
    >>> rewrite(g, Op.MUL, (x, one), None) == x  # x*1 -> x
    True
    >>> g.value(rewrite(g, Op.ADD, (one, one), None))  # folded
    2.0
    >>> rewrite(g, Op.LOG, (g.add(x, one),), None) is None  # log(x + 1): not numeric
    True
    """
    return _ALGEBRAIC(g, op, args, attr)


def describe(libm: str = "libmvec") -> str:
    """Every rule set, one line per rule: what ``symjac.passes.rules`` does.

    >>> print(describe().splitlines()[0])
    algebraic: value-preserving simplifications (IEEE-exact but for the sign of x + 0 at x = -0)
    """
    return "\n\n".join(s.describe(libm) for s in SETS.values())
