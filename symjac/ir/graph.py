"""The hash-consed expression DAG.

A :class:`Graph` is an append-only table of nodes. A node is an ``int``: its
row in the table. Structurally equal nodes are the same row (each new node is
looked up by ``(op, args, attr)`` before it is added), so common
subexpressions are shared the moment they are built, equality is ``==`` on
ints, and the row order is already a topological order: a node's arguments
are always older than the node.

:meth:`Graph.make` applies the graph's rewrite function before interning: constant
folding and the rule sets of :mod:`symjac.passes.rules` (``x*1 → x``, ``log(1 + x) →
log1p(x)``, ...) that the driver chose from its options, or none.
Nothing here is recursive, so graphs of millions of nodes are fine.
"""

from __future__ import annotations

import itertools
import math
import struct
from collections.abc import Callable, Iterable, Sequence

from symjac.ir.ops import INFO, Op

#: a rule set: ``(graph, op, args, attr)`` → an equivalent existing node, or None
Rewrite = Callable[["Graph", Op, tuple[int, ...], object], "int | None"]

_DOUBLE = struct.Struct("<d")
_COMPLEX = struct.Struct("<dd")
_CONST = Op.CONST
#: per op, (arity, commutative): what :meth:`Graph.intern` checks, one lookup per node
_SHAPE: dict[Op, tuple[int, bool]] = {op: (i.arity, i.commutative) for op, i in INFO.items()}


def float_key(value: float | complex) -> bytes:
    """The bit pattern of a double (or of a complex constant's two): distinguishes -0.0
    from 0.0, a real constant from a complex one, and keeps NaN hashable.

    >>> float_key(0.0) == float_key(-0.0), float_key(1.0) == float_key(1 + 0j)
    (False, False)
    """
    if type(value) is complex:
        return _COMPLEX.pack(value.real, value.imag)
    return _DOUBLE.pack(value)


class Graph:
    """An interning table of IR nodes; see the module docstring.

    >>> g = Graph()
    >>> x = g.var(0)
    >>> g.add(x, g.const(1.0)) == g.add(g.const(1.0), x)
    True
    """

    __slots__ = ("_index", "_made", "args", "attrs", "ops", "rules")

    def __init__(self, rules: Rewrite | None = None) -> None:
        #: the rule set :meth:`make` applies before interning (e.g.
        #: :func:`symjac.passes.rules.rewrite`, which the driver hands down); None builds
        #: expressions as written
        self.rules = rules
        self.ops: list[Op] = []
        self.args: list[tuple[int, ...]] = []
        self.attrs: list[object] = []
        self._index: dict[tuple[object, ...], int] = {}
        self._made: dict[tuple[object, ...], int] = {}

    def __len__(self) -> int:
        return len(self.ops)

    def __repr__(self) -> str:
        return f"<Graph: {len(self.ops)} nodes>"

    # -- raw interning -----------------------------------------------------------------
    def intern(self, op: Op, args: tuple[int, ...] = (), attr: object = None) -> int:
        """Return the node ``(op, args, attr)``, adding it if it is new. No rewriting.

        >>> g = Graph(); x = g.var(0); one = g.const(1.0)
        >>> g.intern(Op.MUL, (x, one)) == x  # no rewriting: x*1 stays a node
        False
        >>> g.intern(Op.MUL, (x, one)) == g.intern(Op.MUL, (one, x))
        True
        """
        arity, commutative = _SHAPE[op]
        if len(args) != arity:
            raise ValueError(f"{op.name} takes {arity} arguments, got {len(args)}")
        if commutative and args[0] > args[1]:
            args = (args[1], args[0])
        key = (op, args, float_key(attr) if op is _CONST else attr)  # type: ignore[arg-type]
        index = self._index
        node = index.get(key)
        if node is None:
            ops = self.ops
            node = len(ops)
            ops.append(op)
            self.args.append(args)
            self.attrs.append(attr)
            index[key] = node
        return node

    def make(self, op: Op, args: tuple[int, ...] = (), attr: object = None) -> int:
        """Build ``op(args)`` after the graph's rules; the usual way to add a node.

        >>> from symjac.passes.rules import rewrite  # the driver's rule set
        >>> g = Graph(rewrite); x = g.var(0)
        >>> g.make(Op.MUL, (x, g.const(1.0))) == x
        True
        >>> h = Graph(); y = h.var(0)
        >>> h.make(Op.MUL, (y, h.const(1.0))) == y  # no rules: built as written
        False
        """
        key = (op, args, float_key(attr) if op is _CONST else attr)  # type: ignore[arg-type]
        made = self._made
        node = made.get(key)
        if node is None:  # rules are deterministic: each request is rewritten once
            rules = self.rules
            if rules is not None:
                node = rules(self, op, args, attr)
            if node is None:
                node = self.intern(op, args, attr)
            made[key] = node
        return node

    # -- leaves ------------------------------------------------------------------------
    def const(self, value: float | complex) -> int:
        """A double constant, or (a Python ``complex``) a complex one, which only complex
        kernels hold (a float there is a real constant: ``2*z`` scales both parts).

        >>> g = Graph(); c = g.const(2)
        >>> g.ops[c], g.value(c), g.value(g.const(1j))
        (<Op.CONST: 0>, 2.0, 1j)
        """
        if isinstance(value, complex):  # np.complex128 too: stored as Python's complex
            return self.intern(Op.CONST, (), complex(value))
        return self.intern(Op.CONST, (), float(value))

    def var(self, index: int) -> int:
        """Input variable ``x[index]``.

        >>> g = Graph(); x = g.var(3)
        >>> g.ops[x], g.attrs[x], g.var(3) == x
        (<Op.VAR: 1>, 3, True)
        """
        return self.intern(Op.VAR, (), int(index))

    def param(self, index: int) -> int:
        """Parameter ``p[index]``.

        >>> g = Graph(); p = g.param(0)
        >>> g.ops[p], p == g.var(0)
        (<Op.PARAM: 2>, False)
        """
        return self.intern(Op.PARAM, (), int(index))

    def boolean(self, value: bool) -> int:
        """A truth-value constant.

        >>> g = Graph(); t = g.boolean(True)
        >>> g.ops[t], g.attrs[t]
        (<Op.BOOL: 3>, True)
        """
        return self.intern(Op.BOOL, (), bool(value))

    # -- queries -----------------------------------------------------------------------
    def is_const(self, node: int, value: float | None = None) -> bool:
        """True if ``node`` is a constant (equal to ``value``, when given, sign of zero aside).

        >>> g = Graph(); z = g.const(-0.0)
        >>> g.is_const(z), g.is_const(z, 0.0), g.is_const(z, 1.0), g.is_const(g.var(0))
        (True, True, False, False)
        """
        if self.ops[node] is not Op.CONST:
            return False
        return value is None or self.attrs[node] == value

    def value(self, node: int) -> float:  # complex in complex kernels
        """The value of a constant node.

        >>> from symjac.passes.rules import rewrite  # the driver's rule set
        >>> g = Graph(rewrite)
        >>> g.value(g.add(g.const(1.5), g.const(2.0)))  # folded while built
        3.5
        """
        assert self.ops[node] is Op.CONST
        return self.attrs[node]  # type: ignore[return-value]

    def cone(self, roots: Iterable[int]) -> list[int]:
        """All nodes reachable from ``roots``, in increasing (topological) order.

        >>> g = Graph(); x = g.var(0); y = g.sin(x)
        >>> g.cone([g.mul(y, y)]) == [x, y, g.mul(y, y)]
        True
        """
        args = self.args
        seen = bytearray(len(args))  # one flag per node: the nodes in order come free
        stack = list(roots)
        pop, extend = stack.pop, stack.extend
        while stack:
            node = pop()
            if not seen[node]:
                seen[node] = 1
                extend(args[node])
        return list(itertools.compress(range(len(seen)), seen))

    def schedule(self, roots: Iterable[int]) -> list[int]:
        """The cone of ``roots`` in evaluation order: depth-first, one root after another.

        Still topological, but each root's computation is contiguous, so a back end
        that splits a long program into pieces moves few values between pieces.

        >>> g = Graph(); x, y = g.var(0), g.var(1)
        >>> a, b = g.sin(x), g.sin(y)
        >>> g.schedule([b, a]) == [y, b, x, a]
        True
        """
        args = self.args
        done = bytearray(len(args))
        order: list[int] = []
        append = order.append
        for root in roots:
            if done[root]:
                continue
            stack = [root]  # a node to expand, or ~node: its arguments are done, emit it
            pop, push = stack.pop, stack.append
            while stack:
                node = pop()
                if node < 0:
                    node = ~node
                    if not done[node]:
                        done[node] = 1
                        append(node)
                    continue
                if done[node]:
                    continue
                push(~node)
                for a in reversed(args[node]):
                    if not done[a]:
                        push(a)
        return order

    # -- smart constructors ------------------------------------------------------------
    def add(self, a: int, b: int) -> int:
        """``a + b`` (commutative: the arguments are stored in a canonical order).

        >>> from symjac.passes.rules import rewrite  # the driver's rule set
        >>> g = Graph(rewrite); x, y = g.var(0), g.var(1)
        >>> g.add(x, y) == g.add(y, x), g.add(x, g.const(0.0)) == x
        (True, True)
        """
        return self.make(Op.ADD, (a, b))

    def sub(self, a: int, b: int) -> int:
        """``a - b``.

        >>> from symjac.passes.rules import rewrite  # the driver's rule set
        >>> g = Graph(rewrite); x, y = g.var(0), g.var(1)
        >>> g.sub(x, g.neg(y)) == g.add(x, y)
        True
        """
        return self.make(Op.SUB, (a, b))

    def mul(self, a: int, b: int) -> int:
        """``a * b`` (commutative).

        >>> from symjac.passes.rules import rewrite  # the driver's rule set
        >>> g = Graph(rewrite); x = g.var(0)
        >>> g.mul(x, g.const(1.0)) == x, g.mul(x, g.const(-1.0)) == g.neg(x)
        (True, True)
        """
        return self.make(Op.MUL, (a, b))

    def div(self, a: int, b: int) -> int:
        """``a / b``.

        >>> from symjac.passes.rules import rewrite  # the driver's rule set
        >>> g = Graph(rewrite); x = g.var(0)
        >>> g.div(x, g.const(1.0)) == x, g.ops[g.div(x, g.var(1))]
        (True, <Op.DIV: 14>)
        """
        return self.make(Op.DIV, (a, b))

    def neg(self, a: int) -> int:
        """``-a``.

        >>> from symjac.passes.rules import rewrite  # the driver's rule set
        >>> g = Graph(rewrite); x = g.var(0)
        >>> g.neg(g.neg(x)) == x, g.value(g.neg(g.const(2.0)))
        (True, -2.0)
        """
        return self.make(Op.NEG, (a,))

    def powi(self, a: int, n: int) -> int:
        """``a ** n`` for an integer ``n`` (the exponent is the node's ``attr``).

        >>> from symjac.passes.rules import rewrite  # the driver's rule set
        >>> g = Graph(rewrite); x = g.var(0); c = g.powi(x, 3)
        >>> g.ops[c], g.attrs[c], g.powi(x, 1) == x
        (<Op.POWI: 15>, 3, True)
        """
        return self.make(Op.POWI, (a,), int(n))

    def sq(self, a: int) -> int:
        """``a ** 2``.

        >>> g = Graph(); x = g.var(0)
        >>> g.sq(x) == g.powi(x, 2)
        True
        """
        return self.powi(a, 2)

    def sin(self, a: int) -> int:
        """``sin(a)``.

        >>> from symjac.passes.rules import rewrite  # the driver's rule set
        >>> g = Graph(rewrite)
        >>> g.ops[g.sin(g.var(0))], g.value(g.sin(g.const(0.0)))
        (<Op.SIN: 22>, 0.0)
        """
        return self.make(Op.SIN, (a,))

    def call(self, op: Op, *args: int) -> int:
        """Any operation without an attribute, by name: ``g.call(Op.ATAN2, y, x)``.

        >>> g = Graph(); x, y = g.var(0), g.var(1)
        >>> a = g.call(Op.ATAN2, y, x)
        >>> g.ops[a], g.args[a] == (y, x)
        (<Op.ATAN2: 38>, True)
        """
        return self.make(op, tuple(args))

    def select(self, cond: int, if_true: int, if_false: int) -> int:
        """``if_true if cond else if_false``, with ``cond`` a truth-value node.

        >>> from symjac.passes.rules import rewrite  # the driver's rule set
        >>> g = Graph(rewrite); x, y = g.var(0), g.var(1)
        >>> s = g.select(g.call(Op.LT, x, y), x, y)
        >>> g.ops[s], g.select(g.boolean(False), x, y) == y
        (<Op.SELECT: 67>, True)
        """
        return self.make(Op.SELECT, (cond, if_true, if_false))

    def sum(self, terms: Sequence[int]) -> int:
        """Sum of ``terms`` as a balanced tree (shallower than a chain; 0 when empty).

        >>> g = Graph(); a, b, c, d = (g.var(i) for i in range(4))
        >>> g.sum([a, b, c, d]) == g.add(g.add(a, b), g.add(c, d))
        True
        >>> g.value(g.sum([]))
        0.0
        """
        return self._balanced(Op.ADD, list(terms), 0.0)

    def product(self, factors: Sequence[int]) -> int:
        """Product of ``factors`` as a balanced tree (1 when empty).

        >>> g = Graph(); a, b, c = g.var(0), g.var(1), g.var(2)
        >>> g.product([a, b, c]) == g.mul(g.mul(a, b), c)
        True
        >>> g.value(g.product([]))
        1.0
        """
        return self._balanced(Op.MUL, list(factors), 1.0)

    def _balanced(self, op: Op, items: list[int], empty: float) -> int:
        if len(items) <= 2:  # the common cases, as the loop below builds them
            if len(items) == 2:
                return self.make(op, (items[0], items[1]))
            return items[0] if items else self.const(empty)
        while len(items) > 1:
            paired = [self.make(op, (items[i], items[i + 1])) for i in range(0, len(items) - 1, 2)]
            if len(items) % 2:
                paired.append(items[-1])
            items = paired
        return items[0]

    def nan(self) -> int:
        """A NaN constant (interned once: NaN nodes are keyed by their bits).

        >>> g = Graph()
        >>> g.nan() == g.nan(), g.value(g.nan())
        (True, nan)
        """
        return self.const(math.nan)
