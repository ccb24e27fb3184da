"""The chunk plan: one partition of a kernel's straight-line code, rendered by every back end.

A :class:`.schedule.Schedule` says *what* each step computes; :func:`plan` says
*how it is cut up*: each step's instructions, in tape order, into chunks of about
:data:`CHUNK_SIZE` instructions plus stores, each chunk a function of its own
(compilers are superlinear in the size of a function), which stores it does,
which registers cross from one chunk to a later one and the frame slot each
crosses in, and how many slots the frame needs. The LLVM lowering
(``codegen/llvm/lower.py``) and the C printer (``codegen/c.py``) both render
this plan, so they cut a tape at the same places and spill the same registers
to the same slots; :func:`work_size` is their one rule for where the frame
lives (the kernel's stack up to :data:`STACK_WORK` doubles, else the caller's
``work``).

The C printer renders the whole plan, template loops included (a loop over
index tables per :class:`.schedule.Loop`, as the JIT's), not one statement per
instruction: gcc is superlinear in a function's size and slow on long straight-line
code, and a stencil's thousands of entries of one shape are easier to read as one
loop. Measured, CPU seconds of ``gcc -std=c99 -O2 -c`` on the emitted ``.c`` of a
Jacobian (best of three, interleaved), C-only chunks before this plan / the plan's
straight-line chunks / the plan with its loops: stencil20k (20 480 nonzeros) 22.8 /
17.4 / 0.16 s, dense60 (3 600 nonzeros) 2.3 / 2.25 / 0.92 s. (One chunk of 4 000
instructions, the JIT's one-lane size, took them to 24.9 and 3.1 s: C keeps
:data:`CHUNK_SIZE`.)
"""

from __future__ import annotations

import weakref
from collections.abc import Sequence
from dataclasses import dataclass

from symjac.ir.tape import Tape
from symjac.passes.recurrences import Run, find_runs, uses
from symjac.passes.schedule import Item, Schedule, schedule, straight_line, trees

#: instructions (and stores) per chunk: LLVM's and gcc's time grows faster than linearly
#: in the size of a function (gcc -O2 on one 40 000-statement function: 97 s; chunked: linear)
CHUNK_SIZE = 256
#: a kernel's scratch frame lives on its stack up to this many doubles (32 KB); beyond,
#: the caller passes a ``work`` buffer of that many doubles
STACK_WORK = 4096


@dataclass(frozen=True)
class Chunk:
    """Registers computed by one chunk (in tape order) and the values it stores.

    >>> from symjac.ir.graph import Graph
    >>> g = Graph(); x = g.var(0)
    >>> (body,) = plan(Tape.from_graph(g, [g.sin(x)], 1, 0)).bodies
    >>> body.chunks
    (Chunk(registers=(1,), stores=((1, 2, 0),), runs=()),)
    """

    registers: tuple[int, ...]
    stores: tuple[Item, ...]
    #: recurrences among ``registers`` (``start``: a position in them), each rendered as a loop
    runs: tuple[Run, ...] = ()


@dataclass(frozen=True)
class Body:
    """One step's straight-line code as chunks; ``spills[r]``: the frame slot of a register
    that a later chunk reads (slots after the schedule's own, which earlier steps fill).

    >>> from symjac.ir.graph import Graph
    >>> g = Graph(); s = g.sin(g.var(0))
    >>> (body,) = plan(Tape.from_graph(g, [g.mul(s, s)], 1, 0), chunk_size=1).bodies
    >>> [c.registers for c in body.chunks], body.spills, body.slots   # sin(x) crosses in slot 0
    ([(1,), (2,)], {1: 0}, 1)
    """

    chunks: tuple[Chunk, ...]
    spills: dict[int, int]
    #: frame slots this step uses: the schedule's, then its own spills
    slots: int

    @property
    def computed(self) -> tuple[int, ...]:
        """Every register the step computes, in order.

        >>> from symjac.ir.graph import Graph
        >>> g = Graph(); x = g.var(0)
        >>> plan(Tape.from_graph(g, [g.sq(g.sin(x))], 1, 0)).bodies[0].computed
        (1, 2)
        """
        return tuple(r for chunk in self.chunks for r in chunk.registers)


@dataclass(frozen=True)
class Plan:
    """A tape's schedule and, per step, its straight-line body; what every back end renders.

    ``outlined``: the chunks are separate functions (the whole exceeds one chunk);
    otherwise each body is one chunk, inlined into the kernel.

    >>> from symjac.ir.graph import Graph
    >>> g = Graph(); x = g.var(0)
    >>> p = plan(Tape.from_graph(g, [g.sin(x), g.sq(x)], 1, 0))
    >>> len(p.bodies), p.outlined, p.slots
    (1, False, 0)
    """

    schedule: Schedule
    bodies: tuple[Body, ...]
    outlined: bool

    @property
    def slots(self) -> int:
        """Frame slots the kernel needs for one point: the most any step uses.

        >>> from symjac.ir.graph import Graph
        >>> g = Graph(); s = g.sin(g.var(0))
        >>> plan(Tape.from_graph(g, [g.mul(s, s)], 1, 0), chunk_size=1).slots
        1
        """
        return max([len(self.schedule.slots), *(body.slots for body in self.bodies)])


def plan(
    tape: Tape, chunk_size: int = CHUNK_SIZE, templates: bool = True, recurrences: bool = False
) -> Plan:
    """Schedule ``tape`` (with template loops, or straight-line only) and cut each step's
    straight-line code into chunks of about ``chunk_size`` instructions and stores.

    With ``recurrences``, runs of one body repeated instance after instance
    (:mod:`.recurrences`) are marked in their chunk (``Chunk.runs``), each costing its
    chunk one instance: the LLVM lowering and the C printer render them as loops.

    A register computed by one chunk and read by a later one gets a frame slot, numbered
    in the order the later chunks first read them.

    >>> from symjac.ir.graph import Graph
    >>> g = Graph(); x = g.var(0)
    >>> chain = x
    >>> for _ in range(600):
    ...     chain = g.sin(chain)
    >>> p = plan(Tape.from_graph(g, [chain], 1, 0), templates=False)
    >>> p.outlined, [len(c.registers) for c in p.bodies[0].chunks], p.bodies[0].spills
    (True, [256, 256, 88], {256: 0, 512: 1})
    """
    if chunk_size < 1:
        raise ValueError("chunk_size must be positive")
    sched, steps = _steps(tape, templates, recurrences)
    parts = []
    size = 0
    for step, (computed, runs) in zip(sched.steps, steps):
        chunks, cost = _partition(tape, computed, step.items, chunk_size, runs)
        parts.append(chunks)
        size += cost
    bodies = tuple(_body(tape, chunks, len(sched.slots)) for chunks in parts)
    return Plan(sched, bodies, outlined=size > chunk_size)


#: what :func:`_steps` found for a tape still alive, by id: the tape (weakly), its schedule and
#: per step its straight-line registers and runs. The one-lane build and the SIMD build of
#: the same kernels plan with different chunk sizes, and need not schedule twice (a 10^5-deep
#: chain: 1.2 s each)
_STEPS: dict[
    tuple[int, bool, bool],
    tuple[weakref.ref[Tape], Schedule, list[tuple[list[int], list[Run]]]],
] = {}


def _steps(
    tape: Tape, templates: bool, recurrences: bool
) -> tuple[Schedule, list[tuple[list[int], list[Run]]]]:
    """The schedule of ``tape`` and per step its registers in order and its runs (cached).

    >>> from symjac.ir.graph import Graph
    >>> g = Graph(); tape = Tape.from_graph(g, [g.sin(g.var(0))], 1, 0)
    >>> sched, steps = _steps(tape, True, True); steps, _steps(tape, True, True)[0] is sched
    ([([1], [])], True)
    """
    key = (id(tape), templates, recurrences)
    hit = _STEPS.get(key)
    if hit is not None and hit[0]() is tape:
        return hit[1], hit[2]
    sched = schedule(tape) if templates else straight_line(tape)
    used = uses(tape) if recurrences else []
    steps = []
    for step in sched.steps:
        computed = trees(tape, sched.is_hole, step.computes)
        steps.append((computed, find_runs(tape, computed, used) if recurrences else []))
    ref = weakref.ref(tape, lambda _: _STEPS.pop(key, None))
    _STEPS[key] = (ref, sched, steps)
    return sched, steps


#: one chunk as :func:`_partition` builds it: registers, stores, runs
_Part = tuple[list[int], list[Item], list[Run]]


def _body(tape: Tape, chunks: list[_Part], first: int) -> Body:
    """The chunks as a :class:`Body`, with slots from ``first`` on for registers that cross."""
    owner = {r: c for c, (registers, _, _) in enumerate(chunks) for r in registers}
    spills: dict[int, int] = {}
    for c, (registers, _, _) in enumerate(chunks):
        for r in registers:
            for a in tape.args[r]:
                if owner.get(a, c) != c and a not in spills:
                    spills[a] = first + len(spills)
    parts = tuple(Chunk(tuple(r), tuple(s), tuple(u)) for r, s, u in chunks)
    return Body(parts, spills, first + len(spills))


def _partition(
    tape: Tape,
    computed: Sequence[int],
    items: Sequence[Item],
    chunk_size: int,
    runs: Sequence[Run] = (),
) -> tuple[list[_Part], int]:
    """Split ``computed`` (in order) into chunks of about ``chunk_size`` instructions + stores.

    Returns per chunk its registers, the items it stores and its ``runs`` (each whole in
    one chunk, costing one instance, its start made a position in the chunk), and the
    total cost. An item is stored by the chunk that computes its register; one whose value
    comes from elsewhere (an input, a constant, an earlier step) goes with the item before
    it, so stores stay spread out.

    >>> from symjac.ir.graph import Graph
    >>> g = Graph(); x = g.var(0)
    >>> tape = Tape.from_graph(g, [x, g.sin(x), g.sq(x)], 1, 0)
    >>> _partition(tape, [1, 2], [(0, 2, 0), (1, 2, 1), (2, 2, 2)], 2)
    ([([1], [(0, 2, 0), (1, 2, 1)], []), ([2], [(2, 2, 2)], [])], 5)
    """
    here = set(computed)
    anchored: dict[int, list[Item]] = {}
    anchor = -1
    for item in items:
        if item[0] in here:
            anchor = item[0]
        anchored.setdefault(anchor, []).append(item)
    chunks: list[_Part] = [([], list(anchored.get(-1, [])), [])]
    cost = total = len(chunks[0][1])
    starts = {run.start: run for run in runs}
    i = 0
    while i < len(computed):
        if cost >= chunk_size:
            chunks.append(([], [], []))
            cost = 0
        run = starts.get(i)
        if run is None:
            r = computed[i]
            mine = anchored.get(r, [])
            chunks[-1][0].append(r)
            chunks[-1][1].extend(mine)
            cost += 1 + len(mine)
            total += 1 + len(mine)
            i += 1
            continue
        registers, stores, found = chunks[-1]
        found.append(Run(len(registers), run.period, run.count, run.previous))
        for r in computed[i : run.end]:  # only the last instance's registers are stored
            registers.append(r)
            stores.extend(anchored.get(r, []))
        cost += 2 * run.period
        total += 2 * run.period
        i = run.end
    if not computed and not chunks[0][1]:
        return [], 0
    return chunks, total


def work_size(doubles: int) -> int:
    """Doubles of ``work`` the caller must pass for a frame of ``doubles`` (0: on the stack).

    >>> work_size(0), work_size(STACK_WORK), work_size(STACK_WORK + 1)
    (0, 0, 4097)
    """
    return doubles if doubles > STACK_WORK else 0
