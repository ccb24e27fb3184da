"""What a compilation did: time per stage, sizes after each stage, and progress output."""

from __future__ import annotations

import contextlib
import gc
import sys
import time
from collections.abc import Iterator
from dataclasses import dataclass, field
from typing import TextIO


@dataclass
class Stats:
    """Seconds per stage and sizes after each stage, in the order the stages ran.

    ``timings``: front_end, warm_start (hashing the input and looking for a saved
    compilation of it, :mod:`symjac.warmstart`), differentiate, simplify (level "full"
    only), expand, lower, then llvm_parse, llvm_optimise, machine_code — or cache_load
    instead of those three when the machine code came from the on-disk cache — and
    warm_save (writing the compilation's record for warm starts). ``sizes``: graph
    nodes after the front end and after differentiation, entries of the Jacobian,
    tape instructions, and ``shared`` — tape registers used more than once, i.e.
    the common subexpressions the hash-consed graph found. ``op_counts``: how many
    instructions of each operation the compiled tape holds (inputs and constants
    not counted).

    >>> s = Stats(timings={"front_end": 0.5, "lower": 0.25}, sizes={"tape": 10})
    >>> s.total
    0.75
    """

    timings: dict[str, float] = field(default_factory=dict)
    sizes: dict[str, int] = field(default_factory=dict)
    op_counts: dict[str, int] = field(default_factory=dict)
    #: whether the whole compilation was loaded from the warm-start cache (then ``timings``
    #: holds front_end — the input's validation — and warm_start only; ``sizes`` and
    #: ``op_counts`` are those of the compilation that was saved)
    warm: bool = False

    @property
    def total(self) -> float:
        """Total compile time in seconds.

        >>> Stats(timings={"front_end": 0.5, "lower": 0.25}).total
        0.75
        """
        return sum(self.timings.values())

    @property
    def graph_nodes(self) -> int:
        """Nodes in the graph at its largest (after differentiation, if any).

        >>> Stats(sizes={"graph_front_end": 7, "graph_differentiated": 12}).graph_nodes
        12
        """
        sizes = self.sizes
        return max(sizes.get("graph_front_end", 0), sizes.get("graph_differentiated", 0))

    @property
    def tape_length(self) -> int:
        """Instructions in the compiled tape.

        >>> Stats(sizes={"tape": 10}).tape_length, Stats().tape_length
        (10, 0)
        """
        return self.sizes.get("tape", 0)

    def __str__(self) -> str:
        stages = ", ".join(f"{k} {v * 1e3:.1f} ms" for k, v in self.timings.items())
        sizes = ", ".join(f"{k} {v}" for k, v in self.sizes.items())
        return f"compiled in {self.total:.3f} s ({stages}); sizes: {sizes}"


class Progress:
    """Stage-by-stage progress lines on a stream (stderr), or nothing when disabled.

    >>> import io; stream = io.StringIO()
    >>> Progress(True, stream).say("lowering ...")
    >>> Progress(False, stream).say("not shown")
    >>> stream.getvalue()
    'symjac: lowering ...\\n'
    """

    def __init__(self, enabled: bool | None, stream: TextIO | None = None):
        self.stream = stream if stream is not None else sys.stderr
        self.auto = enabled is None
        self.enabled = bool(enabled)

    def decide(self, work: int, threshold: int = 50_000) -> None:
        """With ``progress=None``: report only big compiles (``work`` nodes), on a terminal.

        >>> import io
        >>> auto = Progress(None, io.StringIO())  # a StringIO is not a terminal
        >>> auto.decide(10**6); auto.enabled
        False
        >>> forced = Progress(True, io.StringIO())
        >>> forced.decide(10); forced.enabled  # only progress=None decides
        True
        """
        if self.auto:
            self.enabled = work > threshold and self.stream.isatty()

    def say(self, text: str) -> None:
        """Write ``symjac: text`` as one line, if enabled.

        >>> import io; stream = io.StringIO()
        >>> Progress(True, stream).say("done")
        >>> stream.getvalue()
        'symjac: done\\n'
        """
        if self.enabled:
            print(f"symjac: {text}", file=self.stream, flush=True)


@contextlib.contextmanager
def paused_gc() -> Iterator[None]:
    """Python's cyclic garbage collector off inside the block, back on after it if it was on.

    >>> import gc
    >>> with paused_gc():
    ...     inside = gc.isenabled()
    >>> inside, gc.isenabled()
    (False, True)
    """
    resume = gc.isenabled()
    if resume:
        gc.disable()
        _PAUSED.append(True)
    try:
        yield
    finally:
        if resume:
            _PAUSED.pop()
            gc.enable()


#: one entry per :func:`paused_gc` block that turned the collector off and is still open
_PAUSED: list[bool] = []


@contextlib.contextmanager
def collecting() -> Iterator[None]:
    """Inside a :func:`paused_gc` block, the collector on again for the inner block (as
    outside it); elsewhere, nothing changes.

    >>> import gc
    >>> with paused_gc():
    ...     with collecting():
    ...         inner = gc.isenabled()
    ...     outer = gc.isenabled()
    >>> inner, outer, gc.isenabled()
    (True, False, True)
    """
    resume = bool(_PAUSED) and not gc.isenabled()
    if resume:
        gc.enable()
    try:
        yield
    finally:
        if resume:
            gc.disable()


class Timer:
    """Times named stages into a :class:`Stats` and reports them through a :class:`Progress`.

    >>> stats = Stats()
    >>> with Timer(stats).stage("parse"):
    ...     pass
    >>> list(stats.timings), stats.timings["parse"] >= 0.0
    (['parse'], True)
    """

    def __init__(self, stats: Stats, progress: Progress | None = None):
        self.stats = stats
        self.progress = progress if progress is not None else Progress(False)

    @contextlib.contextmanager
    def stage(self, name: str, pause_gc: bool = True) -> Iterator[None]:
        """Time the ``with`` block as stage ``name`` (repeated stages add up), saying so.

        ``pause_gc``: Python's cyclic garbage collector is off inside the block (and back
        on after it, if it was on). The stages allocate millions of small tuples and dicts
        without reference cycles, and each collection of the oldest generation walks every
        object alive -- SymPy's input and the graph: at 32 768 states that was a third of
        the front end's time. ``pause_gc=False`` (``simplify``: SymPy makes garbage of its
        own) has it on, even inside a compilation that paused it (:func:`collecting`).

        >>> import gc, io; stream = io.StringIO(); stats = Stats()
        >>> timer = Timer(stats, Progress(True, stream))
        >>> for _ in range(2):
        ...     with timer.stage("lower"):
        ...         paused = not gc.isenabled()
        >>> list(stats.timings), stream.getvalue().count("symjac: lower ..."), paused
        (['lower'], 2, True)
        >>> gc.isenabled()
        True
        """
        t0 = time.perf_counter()
        self.progress.say(f"{name} ...")
        with paused_gc() if pause_gc else collecting():
            yield
        elapsed = time.perf_counter() - t0
        self.stats.timings[name] = self.stats.timings.get(name, 0.0) + elapsed
        self.progress.say(f"{name} done in {elapsed:.2f} s")
