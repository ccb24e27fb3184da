"""Formulas over the graph, written as text: the derivative column of the op table.

A formula such as ``"1/sqrt(1 - a^2)"`` is parsed once into a small tree and
then built on a :class:`Graph` for given arguments, so a rule reads as the
mathematics it states. The grammar is deliberately small:

* numbers (``2``, ``0.5``) and ``pi``; a minus directly before a number is part
  of it, so ``-2/sqrt(pi)`` folds to one constant;
* ``a``, ``b``: the op's arguments; ``f``: the op's own value (``d exp = f``);
* ``+ - * /`` left-associative, unary ``-``, ``^`` with an integer exponent
  (a multiply chain, :meth:`Graph.powi`), parentheses;
* ``name(args)`` for every op of :class:`Op` by its lower-case name
  (``cos``, ``hypot``, ``select``, ``eq``, ...).

Constants fold as the graph is built (with the kernels' own libm), so ``log(2)``
is the double the kernel would compute.
"""

from __future__ import annotations

import functools
import math
import re
from typing import cast

from symjac.ir.graph import Graph
from symjac.ir.ops import INFO, Op

#: a parsed formula: ("num", value), ("var", name), ("neg", tree), ("^", tree, n),
#: (operator, left, right) or ("call", Op, trees)
Tree = tuple[object, ...]
Env = dict[str, int]

_TOKEN = re.compile(r"\s*(?:(\d+(?:\.\d*)?(?:e[+-]?\d+)?)|([a-z_][a-z0-9_]*)|(\S))")
_VARIABLES = ("a", "b", "f")
_CONSTANTS = {"pi": math.pi}


def _tokens(text: str) -> list[str]:
    out: list[str] = []
    pos = 0
    text = text.strip()
    while pos < len(text):
        m = _TOKEN.match(text, pos)
        if m is None:  # pragma: no cover - \S matches any character
            raise ValueError(f"cannot read {text[pos:]!r}")
        out.append(m.group(m.lastindex or 0))
        pos = m.end()
    return out


class _Parser:
    def __init__(self, text: str):
        self.text = text
        self.toks = _tokens(text)
        self.i = 0

    def error(self, what: str) -> ValueError:
        return ValueError(f"formula {self.text!r}: {what}")

    def peek(self) -> str | None:
        return self.toks[self.i] if self.i < len(self.toks) else None

    def take(self, expected: str | None = None) -> str:
        tok = self.peek()
        if tok is None or (expected is not None and tok != expected):
            raise self.error(f"expected {expected or 'more'}, found {tok or 'the end'}")
        self.i += 1
        return tok

    def parse(self) -> Tree:
        tree = self.sum()
        if self.peek() is not None:
            raise self.error(f"unexpected {self.peek()!r}")
        return tree

    def sum(self) -> Tree:
        tree = self.product()
        while self.peek() in ("+", "-"):
            tree = (self.take(), tree, self.product())
        return tree

    def product(self) -> Tree:
        tree = self.unary()
        while self.peek() in ("*", "/"):
            tree = (self.take(), tree, self.unary())
        return tree

    def unary(self) -> Tree:
        if self.peek() != "-":
            return self.power()
        self.take("-")
        operand = self.unary()
        if operand[0] == "num":
            return ("num", -operand[1])  # type: ignore[operator]
        return ("neg", operand)

    def power(self) -> Tree:
        base = self.atom()
        if self.peek() != "^":
            return base
        self.take("^")
        exponent = self.take()
        if not exponent.isdigit():
            raise self.error(f"the exponent after ^ must be an integer, not {exponent!r}")
        return ("^", base, int(exponent))

    def atom(self) -> Tree:
        tok = self.take()
        if tok == "(":
            tree = self.sum()
            self.take(")")
            return tree
        if tok[0].isdigit():
            return ("num", float(tok))
        if tok in _CONSTANTS:
            return ("num", _CONSTANTS[tok])
        if tok in _VARIABLES:
            return ("var", tok)
        if not tok[0].isalpha():
            raise self.error(f"unexpected {tok!r}")
        try:
            op = Op[tok.upper()]
        except KeyError:
            raise self.error(f"no op named {tok!r}") from None
        self.take("(")
        args = [self.sum()]
        while self.peek() == ",":
            self.take(",")
            args.append(self.sum())
        self.take(")")
        if len(args) != INFO[op].arity:
            raise self.error(f"{tok} takes {INFO[op].arity} arguments, not {len(args)}")
        return ("call", op, tuple(args))


@functools.cache
def parse(text: str) -> Tree:
    """The tree of ``text``, parsed once (raises ``ValueError`` naming what is wrong).

    >>> parse("-2/sqrt(pi)")
    ('/', ('num', -2.0), ('call', <Op.SQRT: 17>, (('num', 3.141592653589793),)))
    >>> parse("1 + f^2")
    ('+', ('num', 1.0), ('^', ('var', 'f'), 2))
    """
    return _Parser(text).parse()


_BINARY = {"+": Graph.add, "-": Graph.sub, "*": Graph.mul, "/": Graph.div}


def build(g: Graph, text: str, env: Env) -> int:
    """The node of formula ``text`` with ``a``, ``b``, ``f`` bound by ``env``.

    >>> from symjac.passes.rules import rewrite
    >>> g = Graph(rewrite); x = g.var(0)
    >>> build(g, "cos(a)", {"a": x}) == g.call(Op.COS, x)
    True
    >>> g.value(build(g, "log(2)", {}))
    0.6931471805599453
    """
    # iterative post-order: formulas are small, but the rest of symjac never recurses either
    stack: list[tuple[Tree, bool]] = [(parse(text), False)]
    values: list[int] = []
    while stack:
        tree, ready = stack.pop()
        kind = tree[0]
        if kind == "num":
            values.append(g.const(tree[1]))  # type: ignore[arg-type]
        elif kind == "var":
            if tree[1] not in env:
                raise ValueError(f"formula {text!r} uses {tree[1]!r}, which is not bound here")
            values.append(env[str(tree[1])])
        elif not ready:
            stack.append((tree, True))
            operands = (
                tree[2] if kind == "call" else tree[1:2] if kind in ("neg", "^") else tree[1:]
            )
            children = cast("tuple[Tree, ...]", operands)
            stack.extend((c, False) for c in reversed(children))
        elif kind == "call":
            n = len(tree[2])  # type: ignore[arg-type]
            args = values[-n:]
            del values[-n:]
            values.append(g.make(tree[1], tuple(args)))  # type: ignore[arg-type]
        elif kind == "neg":
            values.append(g.neg(values.pop()))
        elif kind == "^":
            values.append(g.powi(values.pop(), tree[2]))  # type: ignore[arg-type]
        else:
            right = values.pop()
            values.append(_BINARY[kind](g, values.pop(), right))  # type: ignore[index]
    (node,) = values
    return node
