"""Recurrences: long runs of straight-line code that repeat one small body, as one loop.

A 10^5-deep chain ``sin(sin(...sin(x)))`` and its derivative is the same three
instructions, ``c = cos(s); s' = sin(s); d' = d * c``, repeated with each
repetition reading the previous one's values: one *instance* after another.
Template loops (:mod:`.templates`) group independent instances of a shape;
these instances depend on each other, so they become one loop whose body is
one instance, the previous instance's values carried from iteration to
iteration (in registers: LLVM phis).

A :class:`Run` is found in a step's straight-line registers (in tape order):
``count`` consecutive windows of ``period`` registers, each the same
instructions as the window before, whose arguments are either at the same
distance (in the list) inside the current or the previous window, or one
fixed register computed before the run (a loop invariant: an input, a constant,
a shared value). Only the last instance's values may be read after the run
(or stored): where an instance's value is read elsewhere, the run ends with
that instance and the next one starts after it. The instance before the run
(``previous``) is straight-line code that seeds the carried values. The loop
computes every register with the same operations on the same operands as the
straight-line code: the same bits.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass

from symjac.ir.tape import Tape

#: longest body (instructions per instance) a run may have
MAX_PERIOD = 32
#: arguments further back than this (in the step's list) are loop invariants, not carried
WINDOW = 2 * MAX_PERIOD
#: least straight-line code (instances × period) worth a loop, and fewest instances
MIN_WORK = 256
MIN_COUNT = 8


@dataclass(frozen=True)
class Run:
    """Registers ``start`` to ``start + period * count`` (positions in a step's list) are
    ``count`` instances of one body; ``previous``: the registers of the instance before.

    >>> Run(3, 3, 100, (0, 1, 2)).end
    303
    """

    start: int
    period: int
    count: int
    previous: tuple[int, ...]

    @property
    def end(self) -> int:
        """The position after the run's last register.

        >>> Run(5, 3, 97, (4, 5, 6)).end
        296
        """
        return self.start + self.period * self.count


def uses(tape: Tape) -> list[int]:
    """How many times each register is read: by instructions and as an output.

    >>> from symjac.ir.graph import Graph
    >>> g = Graph(); x = g.var(0); s = g.sin(x)
    >>> uses(Tape.from_graph(g, [g.mul(s, s), s], 1, 0))
    [1, 3, 1]
    """
    count = [0] * len(tape.ops)
    for args in tape.args:
        for a in args:
            count[a] += 1
    for r in tape.outputs:
        count[r] += 1
    return count


def find_runs(tape: Tape, computed: Sequence[int], used: Sequence[int]) -> list[Run]:
    """The runs of ``computed`` (a step's registers in tape order), in order, disjoint.

    ``used``: :func:`uses` of the tape; a register read more often than ``computed``
    reads it is read elsewhere (an output, a later step, a template loop).

    >>> from symjac.ir.graph import Graph
    >>> from symjac.ir.ops import Op
    >>> g = Graph(); x = g.var(0); s, d = x, g.call(Op.COS, x)
    >>> for _ in range(100):
    ...     d = g.mul(d, g.call(Op.COS, s)); s = g.sin(s)
    >>> tape = Tape.from_graph(g, [d, s], 1, 0)
    >>> computed = [r for r in range(len(tape.ops)) if tape.args[r]]
    >>> [(run.start, run.period, run.count) for run in find_runs(tape, computed, uses(tape))]
    [(6, 3, 98)]
    """
    n = len(computed)
    pos = {r: i for i, r in enumerate(computed)}
    interned: dict[tuple[object, ...], int] = {}
    keys = [0] * n
    last: dict[int, int] = {}
    period = [0] * n
    inside = [0] * n  # reads of each register by ``computed``
    final = [-1] * n  # the last position that reads it
    for i, r in enumerate(computed):
        shape: list[object] = [tape.ops[r], tape.attrs[r]]
        for a in tape.args[r]:
            t = pos.get(a)
            if t is not None:
                inside[t] += 1
                final[t] = i
            shape.append(("r", i - t) if t is not None and i - t <= WINDOW else a)
        key = keys[i] = interned.setdefault(tuple(shape), len(interned))
        j = last.get(key)
        if j is not None and i - j <= MAX_PERIOD:
            period[i] = i - j
        last[key] = i
    runs: list[Run] = []
    i = 0
    while i < n:
        p = period[i]
        if not p:
            i += 1
            continue
        j = i
        while j < n and keys[j] == keys[j - p]:
            j += 1
        runs.extend(_split(tape, computed, i, p, (j - i) // p, used, inside, final, pos))
        i = max(j, i + 1)
    return runs


def _split(
    tape: Tape,
    computed: Sequence[int],
    start: int,
    p: int,
    count: int,
    used: Sequence[int],
    inside: Sequence[int],
    final: Sequence[int],
    pos: dict[int, int],
) -> list[Run]:
    """The runs of ``count`` matching instances from ``start``: cut after every instance
    whose values are read outside the run, kept when long enough."""
    if count < 1 or start < p:
        return []
    # instance 0 may read only itself and the previous instance (positions start - p on)
    for i in range(start, start + p):
        for a in tape.args[computed[i]]:
            t = pos.get(a)
            if t is not None and i - t <= WINDOW and t < start - p:
                return []
    end = start + p * count
    runs = []
    first = 0  # the current run's first instance
    for k in range(count):
        at = start + k * p
        escapes = k == count - 1 or any(
            used[computed[i]] != inside[i] or final[i] >= end for i in range(at, at + p)
        )
        if escapes:
            instances = k + 1 - first
            if instances >= MIN_COUNT and instances * p >= MIN_WORK:
                begin = start + first * p
                previous = tuple(computed[begin - p : begin])
                runs.append(Run(begin, p, instances, previous))
            first = k + 1
    return runs
