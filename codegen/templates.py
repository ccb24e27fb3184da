"""Repeated expression templates: thousands of outputs with the same shape, as one loop.

A stencil or a reaction network gives thousands of Jacobian entries that are
the same small expression applied to different inputs (``-4·Du - v_c² - F``
for every cell c). Emitting each as straight-line code makes compile time grow
with nnz; emitting one loop over an index table makes it grow with the number
of distinct shapes.

An output is a candidate when its expression, unfolded into a tree, has at
most :data:`MAX_NODES` nodes. Its *shape* is the tree with every input ``x[i]``
replaced by a hole; its *binding* is the list of input indices that fill the
holes, left to right. Outputs with the same shape form a :class:`Template`
when there are at least :data:`MIN_GROUP` of them.

The tree is re-evaluated per output, so sharing between templated outputs is
given up; the size limit keeps that cheap.
"""

from __future__ import annotations

from dataclasses import dataclass

from symjac.graph import float_key
from symjac.ops import Op
from symjac.tape import Tape

#: largest expression tree (nodes, leaves included) that may become a template
MAX_NODES = 24
#: fewest outputs with one shape worth a loop
MIN_GROUP = 32


@dataclass(frozen=True)
class Template:
    """Outputs ``outputs`` of a tape all compute the tree rooted at ``root`` (a register).

    ``bindings[t]`` are the input indices that fill the tree's ``x`` holes, in
    left-to-right order, for output ``outputs[t]``.

    >>> t = Template(root=5, outputs=(0, 1), bindings=((0, 1), (1, 2)))
    >>> t.holes
    2
    """

    root: int
    outputs: tuple[int, ...]
    bindings: tuple[tuple[int, ...], ...]

    @property
    def holes(self) -> int:
        """How many ``x`` holes the tree has (the length of each binding).

        >>> from symjac.graph import Graph
        >>> g = Graph()
        >>> outs = [g.mul(g.var(i), g.sin(g.var(i + 1))) for i in range(40)]
        >>> find_templates(Tape.from_graph(g, outs, 41, 0))[0].holes
        2
        """
        return len(self.bindings[0])


def find_templates(tape: Tape) -> list[Template]:
    """Group the tape's outputs by shape; returns the groups big enough to loop over.

    >>> from symjac.graph import Graph
    >>> g = Graph()
    >>> outs = [g.mul(g.var(i), g.sin(g.var(i + 1))) for i in range(40)]
    >>> (t,) = find_templates(Tape.from_graph(g, outs, 41, 0))
    >>> len(t.outputs), t.bindings[3]
    (40, (3, 4))
    """
    n = len(tape.ops)
    shape: list[int] = [0] * n  # interned shape id; -1 = too big
    size: list[int] = [0] * n
    holes: list[tuple[int, ...]] = [()] * n
    interned: dict[tuple[object, ...], int] = {}
    for r, (op, args, attr) in enumerate(zip(tape.ops, tape.args, tape.attrs)):
        if op is Op.VAR:
            key: tuple[object, ...] = (op,)
            holes[r] = (attr,)  # type: ignore[assignment]
            size[r] = 1
        elif op is Op.CONST:
            key = (op, float_key(attr))  # type: ignore[arg-type]
            size[r] = 1
        elif not args:
            key = (op, attr)
            size[r] = 1
        else:
            total = 1 + sum(size[a] for a in args)
            if total > MAX_NODES or any(shape[a] < 0 for a in args):
                shape[r], size[r] = -1, MAX_NODES + 1
                continue
            key = (op, attr, *(shape[a] for a in args))
            size[r] = total
            holes[r] = tuple(i for a in args for i in holes[a])
        shape[r] = interned.setdefault(key, len(interned))
    groups: dict[int, list[int]] = {}
    for k, r in enumerate(tape.outputs):
        if shape[r] >= 0:
            groups.setdefault(shape[r], []).append(k)
    templates = []
    for members in groups.values():
        if len(members) >= MIN_GROUP:
            root = tape.outputs[members[0]]
            bindings = tuple(holes[tape.outputs[k]] for k in members)
            templates.append(Template(root, tuple(members), bindings))
    return templates
