"""Running one batched kernel call on several cores, when measurement says it pays.

The batch is cut into contiguous chunks of points; the calling thread and pool threads
take chunks in turn until none are left, each chunk an ordinary kernel call on offset
pointers (ctypes releases the GIL during the native call, so they run in parallel). A
point's result does not depend on the chunk it falls in, so the split never changes
results, only the time.

Whether to split is decided per kernel from timings taken on this machine
(:class:`Timing`): serial calls measure seconds per point, one per size class (octave of
the batch size); split calls measure what a split costs beyond the ideal
``serial / threads`` (waking the pool, handing chunks over, sharing memory bandwidth).
A split is chosen only when its predicted time beats the serial time by :data:`MARGIN`;
until a size class has :data:`MIN_SERIAL_SAMPLES` serial timings, its calls stay serial.
The way not taken is measured again now and then, at a bounded cost (:data:`EXPLORE`), so
a choice made under load (another process busy on the other core) is revisited.
"""

from __future__ import annotations

import itertools
import os
import queue
import threading
import time
from collections.abc import Callable

import numpy as np

#: a split must be predicted this much faster than one thread (parallel x MARGIN < serial)
MARGIN = 1.05
#: serial timings a size class needs before a split is considered for it
MIN_SERIAL_SAMPLES = 2
#: chunk boundaries fall on multiples of this many points (whole SIMD blocks)
ALIGN = 64
#: chunks per thread: a late-starting pool thread leaves its share to the others
CHUNKS_PER_THREAD = 4
#: an estimate is the minimum of this many latest measurements
WINDOW = 2
#: at most about this fraction of the time goes into re-measuring the way not taken
EXPLORE = 0.02

_Clock = Callable[[], float]


def available_cores() -> int:
    """Cores this process may run on (its CPU affinity where the OS reports it).

    >>> available_cores() >= 1
    True
    """
    try:
        return len(os.sched_getaffinity(0))
    except AttributeError:  # pragma: no cover - not Linux
        return os.cpu_count() or 1


def split(n: int, pieces: int, align: int = ALIGN) -> list[tuple[int, int]]:
    """``(start, count)`` of at most ``pieces`` contiguous chunks covering ``n`` points.

    Every chunk but the last holds a multiple of ``align`` points.

    >>> split(1000, 4)
    [(0, 256), (256, 256), (512, 256), (768, 232)]
    >>> split(100, 8), split(10, 3, align=1)
    ([(0, 64), (64, 36)], [(0, 3), (3, 3), (6, 4)])
    """
    units = max(1, -(-n // align))
    pieces = max(1, min(pieces, units))
    edges = [min(n, units * i // pieces * align) for i in range(pieces)] + [n]
    return [(edges[i], edges[i + 1] - edges[i]) for i in range(pieces)]


def _latest(seen: list[float], value: float) -> float:
    """Keep the last :data:`WINDOW` measurements in ``seen``; the estimate is their minimum.

    Timings are only ever slowed by noise, so the minimum of the last few follows a real
    change within :data:`WINDOW` calls and ignores a single interruption.
    """
    seen.append(value)
    del seen[:-WINDOW]
    return min(seen)


class Timing:
    """Measured cost of one kernel's batch calls on this machine: the thread policy.

    ``serial[c]`` is seconds per point of serial calls of size class ``c`` (an octave of
    batch sizes: ``n.bit_length()``); ``overhead[c, k]`` is how much longer a split over ``k``
    threads took than ``serial[c] * n / k``; each is the minimum of its last :data:`WINDOW`
    measurements. A split is chosen when ``(serial / k + overhead) * MARGIN < serial``. The
    way not taken is measured again once the calls since it was last measured have taken
    ``1 / EXPLORE`` times what it is predicted to lose, so a choice made under load (another
    process busy on the other core) is revisited at a bounded cost. ``dispatch`` gives the
    pool's measured hand-off time (default :func:`dispatch_overhead`): calls shorter than that
    stay serial, and twice that is the overhead assumed for a split never measured at any
    size. Not locked: concurrent updates may lose one, never break it.

    Two serial calls of 10,000 points at 10 µs per point (0.1 s each), then a split over
    two threads that took 0.06 s, 0.01 s more than half:

    >>> t = Timing(dispatch=lambda: 20e-6)
    >>> t.plan(10_000, 2)  # nothing measured yet: serial
    1
    >>> t.record(10_000, 1, 0.1, 2); t.record(10_000, 1, 0.1, 2)
    >>> t.plan(10_000, 2)  # 0.05 + 2 x 20 µs, well under 0.1 / MARGIN
    2
    >>> t.record(10_000, 2, 0.06, 2)
    >>> round(t.overhead[14, 2], 6), t.plan(10_000, 2)
    (0.01, 2)
    """

    def __init__(self, dispatch: Callable[[], float] | None = None) -> None:
        self.serial: dict[int, float] = {}
        self.samples: dict[int, int] = {}
        self.overhead: dict[tuple[int, int], float] = {}
        self._serial_seen: dict[int, list[float]] = {}
        self._overhead_seen: dict[tuple[int, int], list[float]] = {}
        # seconds spent one way since the other way was last measured
        self._since_serial: dict[int, float] = {}
        self._since_split: dict[tuple[int, int], float] = {}
        self._dispatch = dispatch
        #: batches of at most this many points run serially, untimed: too small to split
        #: (fewer than two chunks, or measured shorter than a hand-off to the pool)
        self.tiny = 2 * ALIGN - 1

    def _split_overhead(self, size: int, threads: int) -> float:
        own = self.overhead.get((size, threads))
        if own is not None:
            return own
        known = [c for c, k in self.overhead if k == threads]
        if known:  # the nearest size class measured (the larger on a tie)
            return self.overhead[min(known, key=lambda c: (abs(c - size), -c)), threads]
        return 2 * (self._dispatch or dispatch_overhead)()

    def plan(self, n: int, threads: int) -> int:
        """How many threads to run ``n`` points on: 1, or up to ``threads`` (a split).

        >>> t = Timing(dispatch=lambda: 20e-6)
        >>> for _ in range(2):
        ...     t.record(400, 1, 40e-6, 2)  # 0.1 µs per point: 40 µs per call
        >>> t.plan(400, 2)  # 20 µs + 2 x 20 µs is more than 40 µs
        1
        """
        k = min(threads, n // ALIGN)
        if k <= 1:
            return 1
        size = n.bit_length()
        if self.samples.get(size, 0) < MIN_SERIAL_SAMPLES:
            return 1
        serial = self.serial[size] * n
        if serial < (self._dispatch or dispatch_overhead)():
            self.tiny = max(self.tiny, n)  # done before a pool thread could wake
            return 1
        split = serial / k + self._split_overhead(size, k)
        if split * MARGIN < serial:  # split, but now and then measure serial again
            return 1 if self._since_serial.get(size, 0.0) * EXPLORE > serial - split else k
        key = (size, k)
        if key in self.overhead and self._since_split.get(key, 0.0) * EXPLORE > (
            split * MARGIN - serial
        ):
            return k  # try a split again
        return 1

    def record(self, n: int, used: int, seconds: float, threads: int) -> None:
        """Take the time of one call of ``n`` points run on ``used`` of ``threads`` threads.

        >>> t = Timing(dispatch=lambda: 20e-6)
        >>> t.record(1000, 1, 1e-3, 2)
        >>> t.serial[10], t.samples[10]
        (1e-06, 1)
        >>> t.record(1000, 1, 3e-3, 2)  # slower: the minimum of the last two stays
        >>> t.serial[10], t.samples[10]
        (1e-06, 2)
        """
        if n < ALIGN:
            return
        size = n.bit_length()
        if used <= 1:
            seen = self._serial_seen.setdefault(size, [])
            self.serial[size] = _latest(seen, seconds / n)
            self.samples[size] = self.samples.get(size, 0) + 1
            self._since_serial[size] = 0.0
            key = (size, min(threads, n // ALIGN))
            if key in self.overhead:
                self._since_split[key] = self._since_split.get(key, 0.0) + seconds
            return
        per_point = self.serial.get(size)
        if per_point is None:  # a split forced from outside the policy: nothing to compare
            return
        key = (size, used)
        excess = max(0.0, seconds - per_point * n / used)
        self.overhead[key] = _latest(self._overhead_seen.setdefault(key, []), excess)
        self._since_split[key] = 0.0
        self._since_serial[size] = self._since_serial.get(size, 0.0) + seconds


class _Job:
    """One split call: its chunks, taken in turn by whichever threads get to them.

    Each chunk runs once (``next()`` on a counter is atomic under the GIL); the thread
    that completes the last one releases ``done``. A pool thread that wakes after all
    chunks are taken finds nothing to do, so the caller never waits for a late one.
    """

    def __init__(
        self,
        parts: list[tuple[int, int]],
        call: Callable[[int, int, int | None], None],
        work_size: int,
    ) -> None:
        self.parts, self.call, self.work_size = parts, call, work_size
        self.taken = itertools.count()
        self.completed = itertools.count(1)
        self.done = threading.Lock()
        self.done.acquire()
        self.error: BaseException | None = None
        self.cancelled = False

    def drain(self) -> None:
        work, address = None, None  # this thread's scratch buffer, made on its first chunk
        for i in self.taken:
            if i >= len(self.parts):
                return
            try:
                if not self.cancelled:
                    if work is None and self.work_size:
                        work = np.empty(self.work_size)
                        address = work.ctypes.data
                    self.call(*self.parts[i], address)
            except BaseException as error:  # raised in the calling thread; the rest skipped
                self.error, self.cancelled = error, True
            finally:
                if next(self.completed) == len(self.parts):
                    self.done.release()

    def finish(self) -> None:
        """Skip the chunks nobody has taken and wait for those running (even when the
        caller was interrupted: the arrays must outlive every chunk that writes them)."""
        self.cancelled = True
        self.drain()
        self.done.acquire()


_jobs: queue.SimpleQueue[_Job] = queue.SimpleQueue()
_threads: list[threading.Thread] = []
_dispatch: float | None = None


def _serve(jobs: queue.SimpleQueue[_Job]) -> None:
    while True:
        jobs.get().drain()


def _reset_after_fork() -> None:
    # a forked child has none of the parent's threads: start afresh when first needed
    global _jobs, _threads
    _jobs, _threads = queue.SimpleQueue(), []


if hasattr(os, "register_at_fork"):
    os.register_at_fork(after_in_child=_reset_after_fork)


def _hand_out(job: _Job, helpers: int) -> None:
    """Offer ``job`` to ``helpers`` pool threads (started on first need)."""
    while len(_threads) < helpers:
        thread = threading.Thread(
            target=_serve, args=(_jobs,), name=f"symjac-{len(_threads)}", daemon=True
        )
        thread.start()
        _threads.append(thread)
    for _ in range(helpers):
        _jobs.put(job)


def dispatch_overhead(clock: _Clock = time.perf_counter) -> float:
    """Seconds to hand an empty task to a pool thread and have it back (measured once).

    The fastest of five round trips (what a split costs at least, when the pool thread's
    core is free), taken the first time it is asked for in a process.

    >>> 0 < dispatch_overhead() < 1
    True
    """
    global _dispatch
    if _dispatch is None:
        trips = []
        for _ in range(5):
            job = _Job([(0, 0)], lambda start, count, work: None, 0)
            start = clock()
            _hand_out(job, 1)
            job.done.acquire()
            trips.append(clock() - start)
        _dispatch = min(trips)
    return _dispatch


def run(
    kernel: Callable[..., None],
    n: int,
    addresses: tuple[int, int | None, int],
    row_bytes: tuple[int, int, int],
    p_stride: int,
    work_size: int,
    threads: int,
    timing: Timing | None = None,
    clock: _Clock = time.perf_counter,
) -> None:
    """Call ``kernel`` over ``n`` points, on one thread or split across ``threads``.

    ``timing`` decides (:meth:`Timing.plan`) and is given the call's time
    (:meth:`Timing.record`, measured with ``clock``), except for one thread or a batch of at
    most ``timing.tiny`` points, which just run; without a ``timing``, the batch is always
    split when ``threads > 1`` and nothing is timed. The calling thread takes chunks too.

    ``kernel`` takes ``(x, p, out, count, p_stride, work)``: addresses (ints) and
    counts, as a compiled kernel's native entry does. A Python stand-in shows the
    chunks: 1,000 points of 8-byte rows on two threads, four chunks each.

    >>> calls = []
    >>> def kernel(x, p, out, count, p_stride, work):
    ...     calls.append((x // 8, count))
    >>> run(kernel, 1000, (0, None, 0), (8, 0, 8), 0, 0, threads=2)
    >>> sorted(calls)
    [(0, 128), (128, 128), (256, 128), (384, 128), (512, 128), (640, 128), (768, 128), (896, 104)]
    """
    x_addr, p_addr, out_addr = addresses
    x_row, p_row, out_row = row_bytes

    def call(start: int, count: int, work: int | None) -> None:
        kernel(
            x_addr + start * x_row,
            None if p_addr is None else p_addr + start * p_row,
            out_addr + start * out_row,
            count,
            p_stride,
            work,
        )

    if timing is not None and (threads <= 1 or n <= timing.tiny):
        work = np.empty(work_size) if work_size else None  # nothing to decide
        call(0, n, None if work is None else work.ctypes.data)
        return
    use = min(threads, max(1, n // ALIGN)) if timing is None else timing.plan(n, threads)
    start = clock()
    if use <= 1:
        work = np.empty(work_size) if work_size else None
        call(0, n, None if work is None else work.ctypes.data)
    else:
        job = _Job(split(n, use * CHUNKS_PER_THREAD), call, work_size)
        _hand_out(job, use - 1)
        try:
            job.drain()
        finally:
            job.finish()  # the last chunk is complete, whoever ran it
        if job.error is not None:
            raise job.error
    if timing is not None:
        timing.record(n, use, clock() - start, threads)
