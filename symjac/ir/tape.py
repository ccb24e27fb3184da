"""The contract between the symbolic side and the back ends: a flat instruction tape.

A :class:`Tape` is a straight-line program. Instruction ``k`` computes
register ``k`` from older registers; leaves read an input (``VAR``), a
parameter (``PARAM``) or hold a constant. ``outputs`` names the register of
each output. A :class:`KernelSpec` says where each output goes in a row of
the caller's output array; everything a back end needs is in these two
objects, which hold only ints, floats and :class:`~symjac.ir.ops.Op` values.
"""

from __future__ import annotations

import math
from collections import Counter
from collections.abc import Sequence
from dataclasses import dataclass

from symjac.ir.graph import Graph
from symjac.ir.ops import COMPOSITE, LEAVES, Op


@dataclass(frozen=True)
class Tape:
    """A straight-line program over doubles; see the module docstring.

    >>> g = Graph(); x, p = g.var(0), g.param(0)
    >>> tape = Tape.from_graph(g, [g.mul(x, p)], 1, 1)
    >>> len(tape), tape.ops, tape.args, tape.outputs
    (3, (<Op.VAR: 1>, <Op.PARAM: 2>, <Op.MUL: 13>), ((), (), (0, 1)), (2,))
    """

    n_vars: int
    n_params: int
    ops: tuple[Op, ...]
    args: tuple[tuple[int, ...], ...]
    attrs: tuple[object, ...]
    outputs: tuple[int, ...]

    def __len__(self) -> int:
        return len(self.ops)

    def op_counts(self) -> dict[str, int]:
        """How many instructions of each kind, leaves excluded.

        >>> g = Graph(); x = g.var(0)
        >>> Tape.from_graph(g, [g.sin(g.sin(x))], 1, 0).op_counts()
        {'SIN': 2}
        """
        counts = Counter(op.name for op in self.ops if op not in (Op.VAR, Op.PARAM, Op.CONST))
        return dict(sorted(counts.items()))

    def listing(
        self, var_names: Sequence[str] | None = None, param_names: Sequence[str] | None = None
    ) -> str:
        """The program as text, one instruction a line, for reading (and teaching).

        Leaves show the input or parameter they read (named when names are given)
        and constants their exact value; ``-> k`` marks the register of output ``k``.

        >>> g = Graph(); x = g.var(0)
        >>> tape = Tape.from_graph(g, [g.sin(x), g.mul(g.sin(x), g.const(2.0))], 1, 0)
        >>> print(tape.listing(["x"]))
        r0 = VAR 0          # x
        r1 = SIN r0         -> 0
        r2 = CONST 2.0
        r3 = MUL r1 r2      -> 1
        """
        produces: dict[int, list[str]] = {}
        for k, r in enumerate(self.outputs):
            produces.setdefault(r, []).append(str(k))
        lines = []
        for r, (op, args, attr) in enumerate(zip(self.ops, self.args, self.attrs)):
            notes = []
            if op in (Op.VAR, Op.PARAM):
                names = var_names if op is Op.VAR else param_names
                text = f"{op.name} {attr}"
                if names is not None and isinstance(attr, int):
                    notes.append(f"# {names[attr]}")
            else:
                shown = [
                    op.name,
                    *([repr(attr)] if attr is not None else []),
                    *(f"r{a}" for a in args),
                ]
                text = " ".join(shown)
            if r in produces:
                notes.append("-> " + ", ".join(produces[r]))
            line = f"r{r} = {text}"
            lines.append(f"{line:<19} {'  '.join(notes)}" if notes else line)
        return "\n".join(lines)

    def shared_count(self) -> int:
        """How many computed registers are used more than once (shared subexpressions).

        >>> g = Graph(); s = g.sin(g.var(0))
        >>> Tape.from_graph(g, [g.mul(s, s), g.add(s, g.const(1.0))], 1, 0).shared_count()
        1
        """
        uses = Counter(a for args in self.args for a in args)
        uses.update(self.outputs)
        return sum(1 for r, c in uses.items() if c > 1 and self.ops[r] not in LEAVES)

    @classmethod
    def from_graph(
        cls,
        g: Graph,
        roots: Sequence[int],
        n_vars: int,
        n_params: int,
        *,
        allow_composite: bool = False,
    ) -> Tape:
        """The tape computing ``roots``: their cone, renumbered densely in evaluation order.

        The order is :meth:`Graph.schedule`'s: topological, and each output's
        computation contiguous.

        Back ends need ``allow_composite=False`` (the default); a tape kept for
        inspection (``to_sympy``) may hold composite ops.

        >>> g = Graph(); x, y = g.var(0), g.var(1)
        >>> tape = Tape.from_graph(g, [g.sin(y), g.add(x, y)], 2, 0)
        >>> print(tape.listing())
        r0 = VAR 1
        r1 = SIN r0         -> 0
        r2 = VAR 0
        r3 = ADD r2 r0      -> 1
        >>> Tape.from_graph(g, [g.call(Op.DIGAMMA, x)], 2, 0)
        Traceback (most recent call last):
        ...
        ValueError: expand composite ops (symjac.passes.composites) before building a tape
        """
        order = g.schedule(roots)
        register = {node: k for k, node in enumerate(order)}
        for node in order:
            if not allow_composite and g.ops[node] in COMPOSITE:
                raise ValueError(
                    "expand composite ops (symjac.passes.composites) before building a tape"
                )
        return cls(
            n_vars=n_vars,
            n_params=n_params,
            ops=tuple(g.ops[n] for n in order),
            args=tuple(tuple(register[a] for a in g.args[n]) for n in order),
            attrs=tuple(g.attrs[n] for n in order),
            outputs=tuple(register[r] for r in roots),
        )


@dataclass(frozen=True)
class KernelSpec:
    """One entry point: evaluate ``tape`` at each point and store its outputs.

    Output ``k`` of point ``i`` goes to ``out[i * width + positions[k]]``; every
    position of the row that no output names is written with 0.0, so a dense
    output never keeps stale memory.

    >>> g = Graph(); x = g.var(0)
    >>> tape = Tape.from_graph(g, [g.sin(x), g.call(Op.COS, x)], 1, 0)
    >>> spec = KernelSpec("trig", tape, width=3, positions=(0, 2))  # out[1] is written 0.0
    >>> spec.shape
    (3,)
    >>> KernelSpec("trig", tape, width=3, positions=(0, 3))
    Traceback (most recent call last):
    ...
    ValueError: output positions must lie within the row
    """

    name: str
    tape: Tape
    width: int
    positions: tuple[int, ...]
    #: the shape a caller sees for one point's row (``(m, n)`` for a dense Jacobian)
    row_shape: tuple[int, ...] | None = None

    @property
    def shape(self) -> tuple[int, ...]:
        """One point's output shape: ``row_shape``, or ``(width,)``.

        >>> g = Graph(); x, y = g.var(0), g.var(1)
        >>> tape = Tape.from_graph(g, [x, y], 2, 0)
        >>> KernelSpec("f", tape, 4, (0, 3)).shape
        (4,)
        >>> KernelSpec("f", tape, 4, (0, 3), row_shape=(2, 2)).shape
        (2, 2)
        """
        return (self.width,) if self.row_shape is None else self.row_shape

    def __post_init__(self) -> None:
        positions = self.positions
        if len(positions) != len(self.tape.outputs):
            raise ValueError("one position per output is required")
        if len(set(positions)) != len(positions):
            raise ValueError("output positions must be distinct")
        # min/max, not a generator over every position: specs of 10^5 outputs are common
        if positions and (min(positions) < 0 or max(positions) >= self.width):
            raise ValueError("output positions must lie within the row")
        if self.row_shape is not None and math.prod(self.row_shape) != self.width:
            raise ValueError(f"row shape {self.row_shape} does not hold {self.width} values")
        if not self.name.isidentifier() or not self.name.isascii():
            raise ValueError(f"kernel names must be ASCII identifiers, not {self.name!r}")


def replay(tape: Tape, g: Graph, inputs: dict[tuple[Op, int], int] | None = None) -> list[int]:
    """Rebuild ``tape`` inside graph ``g``; returns the nodes of its outputs.

    ``inputs`` may map ``(Op.VAR, i)`` or ``(Op.PARAM, j)`` to other nodes of ``g``.

    >>> g = Graph(); x = g.var(0)
    >>> t = Tape.from_graph(g, [g.sin(x)], 1, 0)
    >>> h = Graph(); replay(t, h) == [h.sin(h.var(0))]
    True
    """
    inputs = inputs or {}
    nodes: list[int] = []
    for op, args, attr in zip(tape.ops, tape.args, tape.attrs):
        if op in (Op.VAR, Op.PARAM):
            node = inputs.get((op, attr))  # type: ignore[arg-type]
            nodes.append(g.intern(op, (), attr) if node is None else node)
        else:
            nodes.append(g.make(op, tuple(nodes[a] for a in args), attr))
    return [nodes[r] for r in tape.outputs]


def select_outputs(tape: Tape, keep: Sequence[int]) -> Tape:
    """The tape that computes only outputs ``keep`` (indices into ``tape.outputs``), pruned.

    >>> g = Graph(); x = g.var(0)
    >>> t = Tape.from_graph(g, [g.sin(x), g.call(Op.COS, x)], 1, 0)
    >>> select_outputs(t, [1]).op_counts()
    {'COS': 1}
    """
    roots = [tape.outputs[k] for k in keep]
    needed = set(roots)
    for r in range(len(tape.ops) - 1, -1, -1):
        if r in needed:
            needed.update(tape.args[r])
    order = sorted(needed)
    register = {r: i for i, r in enumerate(order)}
    return Tape(
        n_vars=tape.n_vars,
        n_params=tape.n_params,
        ops=tuple(tape.ops[r] for r in order),
        args=tuple(tuple(register[a] for a in tape.args[r]) for r in order),
        attrs=tuple(tape.attrs[r] for r in order),
        outputs=tuple(register[r] for r in roots),
    )
