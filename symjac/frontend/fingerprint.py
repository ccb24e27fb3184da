"""A canonical fingerprint of SymPy input: the key of the warm-start cache.

Two inputs get the same fingerprint exactly when they are the same trees: the same
classes in the same argument order, symbols of the same name and assumptions, numbers
of the same exact value and kind (``Rational(1, 2)`` is not ``Float(0.5)``; a Float's
full binary mantissa, exponent and precision count). Nothing in it depends on the
process: not ``id``, not Python's salted string hashes, so it is stable across runs
and ``PYTHONHASHSEED``\\ s (the order of ``Add``/``Mul`` arguments is SymPy's canonical
one, which sorts by structure, not by hash).

The walk is iterative (no recursion limit on deep trees) and visits each distinct
object once, so it costs about one walk of the trees (see :class:`Fingerprint`).
"""

from __future__ import annotations

import hashlib
import marshal
from collections.abc import Sequence
from typing import Any

import sympy as sp

#: Basic's own ``args`` property; classes that keep it have their arguments in ``_args``
_BASIC_ARGS = sp.Basic.args
#: per class: whether ``node._args`` may be read directly (a property call saved per node)
_PLAIN_ARGS: dict[type, bool] = {}


def _atom(node: sp.Basic) -> tuple[Any, ...]:
    """What identifies a leaf: its class and exact value."""
    if isinstance(node, sp.Symbol):
        # assumptions are part of a symbol's identity: Symbol("x", real=True) != Symbol("x")
        extra = tuple(sorted(node._assumptions_orig.items()))
        if isinstance(node, sp.Dummy):  # each Dummy is its own symbol, whatever its name
            extra += (("dummy_index", node.dummy_index),)
        return (type(node).__name__, node.name, extra)
    if isinstance(node, sp.Float):
        return ("Float", node._mpf_, node._prec)
    if isinstance(node, sp.Rational):
        return (type(node).__name__, node.p, node.q)
    return (type(node).__name__, str(node))


class Fingerprint:
    """The input as one token stream, then hashed.

    Each tree is written in pre-order: a node with arguments as its class name and the
    number of its arguments, a leaf as its description (:func:`_atom`); a subtree met
    before, anywhere in the input, as the int number of its first visit. "Met before" is
    structural (SymPy's ``==``: same classes, arguments, exact numbers and assumptions),
    not object identity: which equal subtrees SymPy builds as one shared object varies
    between processes with the hash seed (a 32 768-state model missed its own record in a
    second process), and the key must not. Objects are remembered by ``id`` too, so a
    shared object costs one dict lookup however often it is met. Such a stream decodes to
    exactly one expression DAG, so different inputs never share a stream.

    >>> x, y = sp.symbols("x y")
    >>> fp = Fingerprint()
    >>> fp.add(sp.sin(x) * y); fp.tokens
    ['Mul', 2, ('Symbol', 'y', ()), 'sin', 1, ('Symbol', 'x', ())]
    >>> fp.add(y); fp.tokens[-1]  # y: the stream's node 1
    1
    >>> a = sp.Add(sp.sin(x), sp.Integer(1), evaluate=False)
    >>> b = sp.Add(sp.sin(x), sp.Integer(1), evaluate=False)  # equal, maybe not the same object
    >>> fp.add(a, b); fp.tokens[-1]  # b: a back-reference to a (node 4), whatever the objects
    4
    """

    def __init__(self) -> None:
        self.tokens: list[Any] = []
        self._seen: dict[int, int] = {}  # id(object) -> its number, in order of first visit
        self._equal: dict[sp.Basic, int] = {}  # a structure -> its number (SymPy's == and hash)
        self._alive: list[Any] = []  # the roots: they keep the objects behind those ids alive

    def add(self, *roots: Any) -> None:
        """Append the trees of ``roots``, in order, to the stream (one walk for all of them:
        a call per root cost more than the walk on systems of thousands of outputs).

        >>> fp = Fingerprint(); fp.add(sp.Float(0.1), sp.Rational(1, 10))
        >>> fp.tokens[0] != fp.tokens[1]
        True
        """
        for root in roots:
            if not isinstance(root, sp.Basic):
                raise TypeError(f"expected a SymPy object, not {type(root).__name__}")
        # the roots keep every node under them alive, so no id is reused while they are held
        self._alive.extend(roots)
        seen, equal, tokens, plain = self._seen, self._equal, self.tokens, _PLAIN_ARGS
        push = tokens.append
        count = len(equal)
        stack = list(roots)
        stack.reverse()
        while stack:
            node = stack.pop()
            key = id(node)
            number = seen.get(key)
            if number is None:
                # new object: its structure's number, or this one's if the structure is new
                # (one hash and lookup: setdefault, not get then set)
                number = seen[key] = equal.setdefault(node, count)
                if number == count:
                    count += 1
                    number = None
            if number is not None:
                push(number)
                continue
            cls = type(node)
            direct = plain.get(cls)
            if direct is None:  # once per class: does it keep its arguments as Basic does?
                direct = plain[cls] = getattr(cls, "args", None) is _BASIC_ARGS
            args = node._args if direct else node.args
            if args:
                push(cls.__name__)
                push(len(args))
                stack.extend(args[::-1])
            else:
                push(_atom(node))

    def digest(self, *parts: Any) -> str:
        """sha256 of the stream and ``parts`` (anything whose ``repr`` is exact and stable).

        Atoms hold only str, int, bool and tuples, which marshal writes exactly.

        >>> x = sp.Symbol("x")
        >>> fp = Fingerprint(); fp.add(x**2)
        >>> len(fp.digest()), fp.digest(1) == fp.digest(1) != fp.digest(2)
        (64, True)
        """
        h = hashlib.sha256()
        # marshal version 2 writes values, never references to objects seen before (those
        # came with version 3), so equal streams give equal bytes in any process; 3x
        # faster than repr
        h.update(marshal.dumps(self.tokens, 2))
        h.update(b"\0")
        h.update(repr(parts).encode())
        return h.hexdigest()


def fingerprint(
    outputs: Sequence[Any], wrt: Sequence[Any], params: Sequence[Any], *context: Any
) -> str:
    """The key of a compilation of ``outputs`` in ``wrt`` with ``params``, and ``context``
    (the kind of object, its options, versions, the host: whatever else changes the result).

    >>> x, y = sp.symbols("x y")
    >>> fingerprint([x * y], [x, y], []) == fingerprint([y * x], [x, y], [])  # the same tree
    True
    >>> fingerprint([x * y], [x, y], []) != fingerprint([x * y], [y, x], [])  # wrt's order
    True
    >>> fingerprint([x * y], [x], [y]) != fingerprint([x * y], [x, y], [])
    True
    >>> fingerprint([x / 2], [x], []) != fingerprint([x * 0.5], [x], [])  # exact vs float
    True
    """
    fp = Fingerprint()
    fp.add(*outputs, *wrt, *params)
    return fp.digest([len(outputs), len(wrt), len(params)], context)
