"""Repeated expression templates: thousands of outputs with the same shape, as one loop.

A stencil or a reaction network gives thousands of Jacobian entries that are
the same small expression applied to different values (``-4·Du - v_c² - F``
for every cell c). Emitting each as straight-line code makes compile time grow
with nnz; emitting one loop over index tables makes it grow with the number
of distinct shapes.

An output's *tree* is its expression cut at *holes*: inputs, parameters,
constants, and registers the tape uses more than once (shared
subexpressions). Its *shape* is the tree with the holes left blank; its
*binding* is what fills the holes, left to right (an input or parameter
index, a constant's value, or a shared register). Outputs with the same shape
form a :class:`Template` when there are at least :data:`MIN_GROUP` of them and
the tree has at most :data:`MAX_NODES` nodes.

Cutting at shared registers is the cost model: every operation inside a tree
is used by that output alone, so the loop does exactly the arithmetic the
straight-line tape does for those outputs, never more. Shared values are
computed once, by the straight-line part of the kernel, and the loop reads
them back from memory.
"""

from __future__ import annotations

from collections import Counter
from dataclasses import dataclass

from symjac.ir.ops import Op, is_bool
from symjac.ir.tape import Tape

#: largest tree (nodes, holes included) that may become a template
MAX_NODES = 24
#: fewest outputs with one shape worth a loop
MIN_GROUP = 32

#: hole kinds: an input, a parameter, a constant, a shared register, a shared truth value
HOLE_KINDS = ("x", "p", "c", "r", "b")

#: one node of a template's tree: (op, attr, argument nodes); ``op is None`` is hole ``attr``
Node = tuple[Op | None, object, tuple[int, ...]]


@dataclass(frozen=True)
class Template:
    """Outputs ``outputs`` of a tape all compute one tree; ``program`` is that tree.

    ``program`` lists the tree's nodes children first (the root last); a node
    ``(None, h, ())`` is hole ``h``. ``kinds[h]`` says what fills hole ``h``
    (one of :data:`HOLE_KINDS`) and ``bindings[t][h]`` the value for output
    ``outputs[t]``: an input or parameter index, a constant, or a register.
    ``root`` is the register of the first output.

    >>> t = Template(5, (0, 1), ("x", "x"), ((0, 1), (1, 2)), ((None, 0, ()),))
    >>> t.holes
    2
    """

    root: int
    outputs: tuple[int, ...]
    kinds: tuple[str, ...]
    bindings: tuple[tuple[object, ...], ...]
    program: tuple[Node, ...]

    @property
    def holes(self) -> int:
        """How many holes the tree has (the length of each binding).

        >>> from symjac.ir.graph import Graph
        >>> g = Graph()
        >>> outs = [g.mul(g.var(i), g.sin(g.var(i + 1))) for i in range(40)]
        >>> find_templates(Tape.from_graph(g, outs, 41, 0))[0].holes
        2
        """
        return len(self.kinds)

    def registers(self) -> set[int]:
        """The shared registers some member reads (kinds ``r`` and ``b``).

        >>> from symjac.ir.graph import Graph
        >>> g = Graph(); s = g.sin(g.var(0))
        >>> outs = [g.mul(s, g.var(i)) for i in range(1, 41)]
        >>> tape = Tape.from_graph(g, outs, 41, 0)
        >>> (t,) = find_templates(tape); [tape.ops[r].name for r in t.registers()]
        ['SIN']
        """
        at = [h for h, kind in enumerate(self.kinds) if kind in ("r", "b")]
        return {int(binding[h]) for binding in self.bindings for h in at}  # type: ignore[call-overload]


_LEAF_KINDS = {Op.VAR: "x", Op.PARAM: "p", Op.CONST: "c"}


@dataclass
class _Shapes:
    """Every register's shape as its users see it, given which shapes are cut into holes."""

    shape: list[int]  # interned shape id as seen by users; -1: too big
    own: list[int]  # the register's own tree's shape (a hole's too); -1: too big or a leaf
    is_hole: list[bool]
    cut: set[int]  # the shapes that have a shared instance and an unshared one


def _shapes(
    tape: Tape, uses: list[int], cut: set[int], interned: dict[tuple[object, ...], int]
) -> _Shapes:
    """One pass: shapes with holes at leaves, shared registers and registers of a ``cut`` shape.

    ``interned`` numbers the shapes; it is kept across passes so that ids stay comparable.
    """
    n = len(tape.ops)
    seen = [-1] * n
    owns = [-1] * n
    size = [0] * n
    work = [0] * n  # operations in the register's tree (holes cost nothing)
    is_hole = [False] * n
    shared: set[int] = set()
    unshared: set[int] = set()
    hole_ids = {kind: interned.setdefault(("hole", kind), len(interned)) for kind in HOLE_KINDS}
    for r, (op, args, attr) in enumerate(zip(tape.ops, tape.args, tape.attrs)):
        kind = _LEAF_KINDS.get(op)
        if kind is None:
            own = -1
            if not args:  # a truth-value constant: part of the tree
                own, total = interned.setdefault((op, attr), len(interned)), 1
            else:
                total = 1
                for a in args:
                    total += size[a]
                if total <= MAX_NODES and all(seen[a] >= 0 for a in args):
                    own = interned.setdefault((op, attr, *[seen[a] for a in args]), len(interned))
            owns[r] = own
            ops = 1 + sum(work[a] for a in args)
            if uses[r] > 1:
                if own >= 0 and ops > 1:  # see CUT_PASSES: one operation is not worth a cut
                    shared.add(own)
                kind = "b" if is_bool(op) else "r"
            elif own in cut:
                kind = "b" if is_bool(op) else "r"
            else:
                unshared.add(own)
                seen[r] = own
                size[r] = total if own >= 0 else MAX_NODES + 1
                work[r] = ops
                continue
        is_hole[r] = True
        seen[r] = hole_ids[kind]
        size[r] = 1
    return _Shapes(seen, owns, is_hole, cut | (shared & unshared))


#: passes of cutting shapes that have a shared instance (each pass can expose more). Only
#: shapes of two operations or more are cut: an instance of a one-operation shape costs its
#: members one operation inline, but a load from a slot (and a store by its producer) when
#: cut — cutting ``a_ij * x_i`` in a dense 60x60 Jacobian made 3 480 products go through
#: memory (one point 10.5 us, straight-line code 3.6 us)
CUT_PASSES = 4


def find_templates(tape: Tape) -> list[Template]:
    """Group the tape's outputs by shape; returns the groups big enough to loop over.

    Shared registers are holes; so is every register whose tree has the shape
    of some shared register, so that sharing does not split one shape in two
    (a stencil's partial sums are shared by some cells and not by others). The
    straight-line body computes each such register once.

    >>> from symjac.ir.graph import Graph
    >>> g = Graph()
    >>> outs = [g.mul(g.var(i), g.sin(g.var(i + 1))) for i in range(40)]
    >>> (t,) = find_templates(Tape.from_graph(g, outs, 41, 0))
    >>> len(t.outputs), t.kinds, t.bindings[3]
    (40, ('x', 'x'), (3, 4))
    """
    shapes = classify(tape)
    groups: dict[int, list[int]] = {}
    for k, r in enumerate(tape.outputs):
        if shapes.shape[r] >= 0 and tape.ops[r] is not Op.BOOL:
            groups.setdefault(shapes.shape[r], []).append(k)
    templates = []
    for members in groups.values():
        if len(members) >= MIN_GROUP:
            roots = [tape.outputs[k] for k in members]
            if shapes.is_hole[roots[0]]:  # a copy of an input, a constant, a shared value
                program: tuple[Node, ...] = ((None, 0, ()),)
                kinds: tuple[str, ...] = (_kind(tape, roots[0]),)
                bindings: tuple[tuple[object, ...], ...] = tuple((_value(tape, r),) for r in roots)
            else:
                program, kinds = _program(tape, shapes.is_hole, roots[0])
                bindings = tuple(tuple(_holes(tape, shapes.is_hole, r)) for r in roots)
            templates.append(Template(roots[0], tuple(members), kinds, bindings, program))
    return templates


def classify(tape: Tape) -> _Shapes:
    """Which registers are holes, and every register's shape (see :func:`find_templates`).

    >>> from symjac.ir.graph import Graph
    >>> g = Graph(); s = g.sin(g.var(0))
    >>> shapes = classify(Tape.from_graph(g, [g.mul(s, s)], 1, 0))
    >>> shapes.is_hole   # x, and sin(x), used twice; the product is not a hole
    [True, True, False]
    """
    counts: Counter[int] = Counter(a for args in tape.args for a in args)
    counts.update(tape.outputs)
    uses = [counts[r] for r in range(len(tape.ops))]
    cut: set[int] = set()
    interned: dict[tuple[object, ...], int] = {}
    for _ in range(CUT_PASSES):
        shapes = _shapes(tape, uses, cut, interned)
        if shapes.cut == cut:
            break
        cut = shapes.cut
    return shapes


def _kind(tape: Tape, r: int) -> str:
    op = tape.ops[r]
    return _LEAF_KINDS.get(op) or ("b" if is_bool(op) else "r")


def _holes(tape: Tape, is_hole: list[bool], root: int) -> list[object]:
    """What fills the holes of ``root``'s tree, left to right (as :func:`_program` numbers them)."""
    found, stack = [], list(reversed(tape.args[root]))
    while stack:
        r = stack.pop()
        if is_hole[r]:
            found.append(r)
        else:
            stack.extend(reversed(tape.args[r]))
    return [_value(tape, r) for r in found]


def _value(tape: Tape, r: int) -> object:
    """What fills a hole that register ``r`` is: an input or parameter index, a constant, ``r``."""
    return tape.attrs[r] if tape.ops[r] in _LEAF_KINDS else r


def _program(
    tape: Tape, is_hole: list[bool], root: int
) -> tuple[tuple[Node, ...], tuple[str, ...]]:
    """The tree under ``root`` as nodes, children first, and the kinds of its holes in order."""
    nodes: list[Node] = []
    kinds: list[str] = []
    # iterative post-order, left to right like _holes
    stack: list[tuple[int, bool]] = [(root, False)]
    done: list[int] = []
    while stack:
        r, expanded = stack.pop()
        if r != root and is_hole[r]:
            nodes.append((None, len(kinds), ()))
            kinds.append(_kind(tape, r))
            done.append(len(nodes) - 1)
        elif not expanded and tape.args[r]:
            stack.append((r, True))
            stack.extend((a, False) for a in reversed(tape.args[r]))
        else:
            arity = len(tape.args[r])
            args = tuple(done[len(done) - arity :]) if arity else ()
            del done[len(done) - arity :]
            nodes.append((tape.ops[r], tape.attrs[r], args))
            done.append(len(nodes) - 1)
    return tuple(nodes), tuple(kinds)
