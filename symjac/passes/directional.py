"""J·v and wᵀ·J as tapes of their own, from the entries of a Jacobian's tape.

J itself is never stored: each entry of the symbolic tape is replayed on a new graph and
multiplied by its direction's component, and the products are summed per output row
(J·v) or per input column (wᵀ·J). The direction is appended to the inputs, so the
kernel reads rows ``[x, v]`` (``n + n`` values) or ``[x, w]`` (``n + m``).
"""

from __future__ import annotations

from collections.abc import Sequence

from symjac.ir.graph import Graph, Rewrite
from symjac.ir.tape import Tape, replay
from symjac.passes.composites import expand_composites


def directional_tape(
    symbolic: Tape,
    entries: Sequence[tuple[int, int, int]],
    shape: tuple[int, int],
    kind: str,
    rules: Rewrite | None,
) -> Tape:
    """The tape of ``J·v`` (``kind="jvp"``) or ``wᵀ·J`` (``"vjp"``), built with ``rules``.

    ``entries`` lists ``(row, col, k)``: entry (row, col) of J is output ``k`` of
    ``symbolic``. For ``f = x0 * x1``, J = ``[x1, x0]``:

    >>> g = Graph(); x0, x1 = g.var(0), g.var(1)
    >>> symbolic = Tape.from_graph(g, [x1, x0], 2, 0)
    >>> tape = directional_tape(symbolic, [(0, 0, 0), (0, 1, 1)], (1, 2), "jvp", None)
    >>> tape.n_vars, len(tape.outputs)  # reads [x0, x1, v0, v1], one output
    (4, 1)
    >>> directional_tape(symbolic, [], (1, 2), "hvp", None)
    Traceback (most recent call last):
    ...
    ValueError: kind must be 'jvp' or 'vjp', not 'hvp'
    """
    m, n = shape
    g = Graph(rules)
    outs = replay(symbolic, g)
    if kind == "jvp":
        direction = [g.var(n + j) for j in range(n)]
        terms: list[list[int]] = [[] for _ in range(m)]
        for i, j, k in entries:
            terms[i].append(g.mul(outs[k], direction[j]))
    elif kind == "vjp":
        direction = [g.var(n + i) for i in range(m)]
        terms = [[] for _ in range(n)]
        for i, j, k in entries:
            terms[j].append(g.mul(direction[i], outs[k]))
    else:
        raise ValueError(f"kind must be 'jvp' or 'vjp', not {kind!r}")
    roots = expand_composites(g, [g.sum(t) for t in terms])
    return Tape.from_graph(g, roots, n + len(direction), symbolic.n_params)
