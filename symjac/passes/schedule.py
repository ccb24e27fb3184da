"""The order in which a kernel computes a tape: steps of straight-line code and template loops.

:func:`.templates.classify` cuts the tape into trees at its holes; every
register that is a hole of some tree (a shared value) or an output is
*materialised*: computed once, by straight-line code or by a template loop,
and stored — outputs to their column, values that later trees read to a
spill slot of the frame. A tree may only read values computed before it, so
materialised registers get a *level*: outputs are level 0, and a value read
by a tree of level L is of level L + 1 or more. Steps run from the deepest
level to level 0; in each, registers of one shape (at least
:data:`.templates.MIN_GROUP` of them) are one loop, the rest straight-line
code. Each operation belongs to exactly one tree, so the kernel does exactly
the tape's arithmetic, with or without loops. How each step's straight-line
code is cut into functions is :mod:`.chunks`' plan, which every back end renders.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass

from symjac.ir.ops import LEAVES
from symjac.ir.tape import Tape
from symjac.passes.templates import MIN_GROUP, Node, _holes, _kind, _program, _value, classify

#: the regions a kernel writes: an output column, or a spill slot of the frame
OUT, SPILL = 2, 3

#: a value to store: (register, region, column or slot)
Item = tuple[int, int, int]


@dataclass(frozen=True)
class Loop:
    """Registers ``registers`` all compute the tree ``program``; member t stores to ``slots[t]``.

    ``kinds``, ``bindings`` and ``program`` are as in :class:`.templates.Template`;
    every member stores to ``region``.

    >>> from symjac.ir.graph import Graph
    >>> g = Graph()
    >>> outs = [g.mul(g.var(i), g.sin(g.var(i + 1))) for i in range(200)]
    >>> (step,) = schedule(Tape.from_graph(g, outs, 201, 0)).steps
    >>> (loop,) = step.loops
    >>> loop.kinds, loop.region == OUT, loop.slots[:3]   # x_i · sin(x_i+1) into columns 0, 1, 2
    (('x', 'x'), True, (0, 1, 2))
    """

    registers: tuple[int, ...]
    kinds: tuple[str, ...]
    bindings: tuple[tuple[object, ...], ...]
    program: tuple[Node, ...]
    region: int
    slots: tuple[int, ...]


@dataclass(frozen=True)
class Step:
    """Straight-line code for ``items`` (expanding the trees of ``computes``), then ``loops``.

    >>> from symjac.ir.graph import Graph
    >>> g = Graph(); x = g.var(0)
    >>> (step,) = schedule(Tape.from_graph(g, [g.sin(x), x], 1, 0)).steps
    >>> step.items, sorted(step.computes), step.loops   # too few outputs for a loop
    (((0, 2, 1), (1, 2, 0)), [1], ())
    """

    items: tuple[Item, ...]
    computes: frozenset[int]
    loops: tuple[Loop, ...]


@dataclass(frozen=True)
class Schedule:
    """The steps of a kernel in execution order, and where materialised values live.

    ``slots[r]`` is the spill slot of a value that later steps read;
    ``is_hole[r]`` says where trees are cut (a hole that is not computed by
    the current step is read from its slot).

    >>> from symjac.ir.graph import Graph
    >>> g = Graph()
    >>> sines = [g.sin(g.var(i)) for i in range(300)]
    >>> outs = [g.mul(s, s) for s in sines]              # sin(x_i), each used twice
    >>> s = schedule(Tape.from_graph(g, outs, 300, 0))
    >>> [len(step.loops) for step in s.steps], len(s.slots)   # sines, then products
    ([1, 1], 300)
    """

    steps: tuple[Step, ...]
    slots: dict[int, int]
    is_hole: tuple[bool, ...]


def straight_line(tape: Tape) -> Schedule:
    """One step of straight-line code for every output: no loops, nothing materialised.

    >>> from symjac.ir.graph import Graph
    >>> g = Graph(); x = g.var(0)
    >>> s = straight_line(Tape.from_graph(g, [x, g.sin(x)], 1, 0))
    >>> s.steps[0].items, s.slots
    (((0, 2, 0), (1, 2, 1)), {})
    """
    items = tuple((r, OUT, k) for k, r in enumerate(tape.outputs))
    computes = frozenset(r for r in tape.outputs if tape.ops[r] not in LEAVES)
    is_hole = tuple(op in LEAVES for op in tape.ops)
    return Schedule((Step(items, computes, ()),), {}, is_hole)


def schedule(tape: Tape) -> Schedule:
    """Levels, loops and straight-line steps for ``tape``; see the module docstring.

    >>> from symjac.ir.graph import Graph
    >>> g = Graph()
    >>> pair = [g.add(g.var(i), g.var(i + 1)) for i in range(300)]
    >>> outs = [g.mul(g.sin(p), p) for p in pair]    # each pair is read twice
    >>> plan = schedule(Tape.from_graph(g, outs, 301, 0))
    >>> [[loop.region == SPILL for loop in step.loops] for step in plan.steps]
    [[True], [False]]
    """
    shapes = classify(tape)
    is_hole = shapes.is_hole
    n = len(tape.ops)
    level = [-1] * n
    consumed = [False] * n
    columns: dict[int, list[int]] = {}
    for k, r in enumerate(tape.outputs):
        columns.setdefault(r, []).append(k)
        if tape.ops[r] not in LEAVES:
            level[r] = 0
    for r in range(n - 1, -1, -1):  # consumers come after what they read: levels are final here
        if level[r] < 0:
            continue
        stack = list(tape.args[r])
        while stack:
            a = stack.pop()
            if tape.ops[a] in LEAVES:
                continue
            if is_hole[a]:
                level[a] = max(level[a], level[r] + 1)
                consumed[a] = True
            else:
                stack.extend(tape.args[a])
    slots: dict[int, int] = {}
    primary: dict[int, tuple[int, int]] = {}
    for r in range(n):
        if level[r] < 0:
            continue
        if consumed[r] or len(columns.get(r, ())) > 1:
            slots[r] = len(slots)
            primary[r] = (SPILL, slots[r])
        else:
            primary[r] = (OUT, columns[r][0])
    by_level: dict[int, list[int]] = {}
    for r in range(n):
        if level[r] >= 0:
            by_level.setdefault(level[r], []).append(r)
    steps = []
    for lev in sorted(by_level, reverse=True):
        groups: dict[tuple[int, int], list[int]] = {}
        items: list[Item] = []
        for r in by_level[lev]:
            region, slot = primary[r]
            if shapes.own[r] >= 0:
                groups.setdefault((shapes.own[r], region), []).append(r)
            else:
                items.append((r, region, slot))
        loops = []
        for (_, region), members in groups.items():
            if len(members) < MIN_GROUP:  # never a loop (see _worth_a_loop): no program needed
                items.extend((r, *primary[r]) for r in members)
                continue
            program, kinds = _program(tape, is_hole, members[0])
            if not _worth_a_loop(len(members), program):
                items.extend((r, *primary[r]) for r in members)
                continue
            bindings = tuple(tuple(_holes(tape, is_hole, r)) for r in members)
            where = tuple(primary[r][1] for r in members)
            loops.append(Loop(tuple(members), kinds, bindings, program, region, where))
        computes = frozenset(r for r, _, _ in items)
        if lev == 0:  # outputs that copy an input, a constant or a value kept in a slot
            copies = [
                (r, k)
                for k, r in enumerate(tape.outputs)
                if tape.ops[r] in LEAVES or primary[r] != (OUT, k)
            ]
            loops.extend(_copy_loops(tape, copies, items))
        items.sort()
        steps.append(Step(tuple(items), computes, tuple(loops)))
    steps, slots = _prune(tape, is_hole, _merge(steps))
    if not steps:  # every output is an input or a constant
        copies = list((r, k) for k, r in enumerate(tape.outputs))
        items = []
        loops = _copy_loops(tape, copies, items)
        steps.append(Step(tuple(items), frozenset(), tuple(loops)))
    return Schedule(tuple(steps), slots, tuple(is_hole))


#: least straight-line code (members × operations, or copies) a loop must replace: below it,
#: straight-line code keeps its values in registers and is faster (a 7-joint arm's Jacobian,
#: 909 instructions, ran 1.0 µs a point straight against 3.0 µs as loops of 43-212 members);
#: its compile time is already small
LOOP_MIN_WORK = 256


def _worth_a_loop(count: int, program: Sequence[Node]) -> bool:
    ops = sum(op is not None for op, _, _ in program)
    return count >= MIN_GROUP and count * max(ops, 1) >= LOOP_MIN_WORK


def _merge(steps: list[Step]) -> list[Step]:
    """Join each step without loops to the next: one straight-line run (a deep chain is one)."""
    merged: list[Step] = []
    items: list[Item] = []
    computes: set[int] = set()
    for step in steps:
        items.extend(step.items)
        computes |= step.computes
        if step.loops or step is steps[-1]:
            merged.append(Step(tuple(sorted(items)), frozenset(computes), step.loops))
            items, computes = [], set()
    return merged


def trees(tape: Tape, is_hole: Sequence[bool], roots: frozenset[int]) -> list[int]:
    """The registers of the trees of ``roots`` (cut at holes), in tape order.

    >>> from symjac.ir.graph import Graph
    >>> g = Graph(); s = g.sin(g.var(0))
    >>> tape = Tape.from_graph(g, [g.mul(s, s)], 1, 0)
    >>> trees(tape, [True, True, False], frozenset({2}))   # sin(x) is a hole of x*x's tree
    [2]
    """
    seen = set(roots)
    stack = list(roots)
    while stack:
        r = stack.pop()
        for a in tape.args[r]:
            if a not in seen and not is_hole[a]:
                seen.add(a)
                stack.append(a)
    return sorted(seen)


def _prune(
    tape: Tape, is_hole: Sequence[bool], steps: list[Step]
) -> tuple[list[Step], dict[int, int]]:
    """Keep spill slots only for values read from memory: by loops, or by later steps.

    A value computed and used by the same straight-line step stays in registers.
    """
    needed: set[int] = set()
    for step in steps:
        for loop in step.loops:
            at = [h for h, kind in enumerate(loop.kinds) if kind in ("r", "b")]
            needed.update(int(binding[h]) for binding in loop.bindings for h in at)  # type: ignore[call-overload]
        for r in trees(tape, is_hole, step.computes):
            needed.update(
                a
                for a in tape.args[r]
                if is_hole[a] and a not in step.computes and tape.ops[a] not in LEAVES
            )
        needed.update(
            r for r, _, _ in step.items if r not in step.computes and tape.ops[r] not in LEAVES
        )
    slots = {r: s for s, r in enumerate(sorted(needed))}
    pruned = []
    for step in steps:
        items = tuple(
            (r, region, slots[r] if region == SPILL else slot)
            for r, region, slot in step.items
            if region != SPILL or r in slots
        )
        loops = tuple(
            loop
            if loop.region != SPILL
            else Loop(
                loop.registers,
                loop.kinds,
                loop.bindings,
                loop.program,
                SPILL,
                tuple(slots[r] for r in loop.registers),
            )
            for loop in step.loops
        )
        pruned.append(Step(items, step.computes, loops))
    return pruned, slots


def _copy_loops(tape: Tape, copies: Sequence[tuple[int, int]], items: list[Item]) -> list[Loop]:
    """Copy loops for output columns that repeat a value; the few left over go to ``items``."""
    by_kind: dict[str, list[tuple[int, int]]] = {}
    for r, k in copies:
        by_kind.setdefault(_kind(tape, r), []).append((r, k))
    loops = []
    for kind, members in by_kind.items():
        if not _worth_a_loop(len(members), ((None, 0, ()),)):
            items.extend((r, OUT, k) for r, k in members)
            continue
        registers = tuple(r for r, _ in members)
        bindings = tuple((_value(tape, r),) for r in registers)
        program: tuple[Node, ...] = ((None, 0, ()),)
        loops.append(Loop(registers, (kind,), bindings, program, OUT, tuple(k for _, k in members)))
    return loops
