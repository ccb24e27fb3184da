"""The hash-consed expression DAG.

A :class:`Graph` is an append-only table of nodes. A node is an ``int``: its
row in the table. Structurally equal nodes are the same row (each new node is
looked up by ``(op, args, attr)`` before it is added), so common
subexpressions are shared the moment they are built, equality is ``==`` on
ints, and the row order is already a topological order: a node's arguments
are always older than the node.

:meth:`Graph.make` applies the cheap, value-preserving rules of
:mod:`symjac.rules` (constant folding, ``x*1 → x``, ...) before interning.
Nothing here is recursive, so graphs of millions of nodes are fine.
"""

from __future__ import annotations

import math
import struct
from collections.abc import Iterable, Sequence

from .ops import INFO, Op
from .rules import rewrite

_DOUBLE = struct.Struct("<d")


def float_key(value: float) -> bytes:
    """The bit pattern of a double: distinguishes -0.0 from 0.0 and keeps NaN hashable.

    >>> float_key(0.0) == float_key(-0.0)
    False
    """
    return _DOUBLE.pack(value)


class Graph:
    """An interning table of IR nodes; see the module docstring.

    >>> g = Graph()
    >>> x = g.var(0)
    >>> g.add(x, g.const(1.0)) == g.add(g.const(1.0), x)
    True
    """

    __slots__ = ("_index", "_made", "args", "attrs", "ops", "rules")

    def __init__(self, rules: bool = True) -> None:
        #: apply :mod:`symjac.rules` in :meth:`make`; False builds expressions as written
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
        """Return the node ``(op, args, attr)``, adding it if it is new. No rewriting."""
        info = INFO[op]
        if len(args) != info.arity:
            raise ValueError(f"{op.name} takes {info.arity} arguments, got {len(args)}")
        if info.commutative and args[0] > args[1]:
            args = (args[1], args[0])
        key_attr = float_key(attr) if op is Op.CONST else attr  # type: ignore[arg-type]
        key = (op, args, key_attr)
        node = self._index.get(key)
        if node is None:
            node = len(self.ops)
            self.ops.append(op)
            self.args.append(args)
            self.attrs.append(attr)
            self._index[key] = node
        return node

    def make(self, op: Op, args: tuple[int, ...] = (), attr: object = None) -> int:
        """Build ``op(args)`` after the cheap rewrite rules; the usual way to add a node."""
        key = (op, args, float_key(attr) if op is Op.CONST else attr)  # type: ignore[arg-type]
        node = self._made.get(key)
        if node is None:  # rules are deterministic: each request is rewritten once
            node = rewrite(self, op, args, attr) if self.rules else None
            if node is None:
                node = self.intern(op, args, attr)
            self._made[key] = node
        return node

    # -- leaves ------------------------------------------------------------------------
    def const(self, value: float) -> int:
        """A double constant."""
        return self.intern(Op.CONST, (), float(value))

    def var(self, index: int) -> int:
        """Input variable ``x[index]``."""
        return self.intern(Op.VAR, (), int(index))

    def param(self, index: int) -> int:
        """Parameter ``p[index]``."""
        return self.intern(Op.PARAM, (), int(index))

    def boolean(self, value: bool) -> int:
        """A truth-value constant."""
        return self.intern(Op.BOOL, (), bool(value))

    # -- queries -----------------------------------------------------------------------
    def is_const(self, node: int, value: float | None = None) -> bool:
        """True if ``node`` is a constant (equal to ``value``, when given, sign of zero aside)."""
        if self.ops[node] is not Op.CONST:
            return False
        return value is None or self.attrs[node] == value

    def value(self, node: int) -> float:
        """The value of a constant node."""
        assert self.ops[node] is Op.CONST
        return self.attrs[node]  # type: ignore[return-value]

    def cone(self, roots: Iterable[int]) -> list[int]:
        """All nodes reachable from ``roots``, in increasing (topological) order.

        >>> g = Graph(); x = g.var(0); y = g.sin(x)
        >>> g.cone([g.mul(y, y)]) == [x, y, g.mul(y, y)]
        True
        """
        seen: set[int] = set()
        stack = [r for r in roots]
        args = self.args
        while stack:
            node = stack.pop()
            if node in seen:
                continue
            seen.add(node)
            stack.extend(a for a in args[node] if a not in seen)
        return sorted(seen)

    def schedule(self, roots: Iterable[int]) -> list[int]:
        """The cone of ``roots`` in evaluation order: depth-first, one root after another.

        Still topological, but each root's computation is contiguous, so a back end
        that splits a long program into pieces moves few values between pieces.

        >>> g = Graph(); x, y = g.var(0), g.var(1)
        >>> a, b = g.sin(x), g.sin(y)
        >>> g.schedule([b, a]) == [y, b, x, a]
        True
        """
        done: set[int] = set()
        order: list[int] = []
        args = self.args
        for root in roots:
            if root in done:
                continue
            stack = [(root, False)]
            while stack:
                node, expanded = stack.pop()
                if node in done:
                    continue
                if expanded:
                    done.add(node)
                    order.append(node)
                    continue
                stack.append((node, True))
                stack.extend((a, False) for a in reversed(args[node]) if a not in done)
        return order

    # -- smart constructors ------------------------------------------------------------
    def add(self, a: int, b: int) -> int:
        return self.make(Op.ADD, (a, b))

    def sub(self, a: int, b: int) -> int:
        return self.make(Op.SUB, (a, b))

    def mul(self, a: int, b: int) -> int:
        return self.make(Op.MUL, (a, b))

    def div(self, a: int, b: int) -> int:
        return self.make(Op.DIV, (a, b))

    def neg(self, a: int) -> int:
        return self.make(Op.NEG, (a,))

    def powi(self, a: int, n: int) -> int:
        return self.make(Op.POWI, (a,), int(n))

    def sq(self, a: int) -> int:
        return self.powi(a, 2)

    def sin(self, a: int) -> int:
        return self.make(Op.SIN, (a,))

    def call(self, op: Op, *args: int) -> int:
        """Any operation without an attribute, by name: ``g.call(Op.ATAN2, y, x)``."""
        return self.make(op, tuple(args))

    def select(self, cond: int, if_true: int, if_false: int) -> int:
        return self.make(Op.SELECT, (cond, if_true, if_false))

    def sum(self, terms: Sequence[int]) -> int:
        """Sum of ``terms`` as a balanced tree (shallower than a chain; 0 when empty)."""
        return self._balanced(Op.ADD, list(terms), 0.0)

    def product(self, factors: Sequence[int]) -> int:
        """Product of ``factors`` as a balanced tree (1 when empty)."""
        return self._balanced(Op.MUL, list(factors), 1.0)

    def _balanced(self, op: Op, items: list[int], empty: float) -> int:
        if not items:
            return self.const(empty)
        while len(items) > 1:
            paired = [self.make(op, (items[i], items[i + 1])) for i in range(0, len(items) - 1, 2)]
            if len(items) % 2:
                paired.append(items[-1])
            items = paired
        return items[0]

    def nan(self) -> int:
        return self.const(math.nan)
