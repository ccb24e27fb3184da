"""Running one batched kernel call on several cores.

The batch is cut into contiguous blocks of points, one per thread; each block
is an ordinary kernel call on offset pointers with its own work buffer.
ctypes releases the GIL during the native call, so the blocks run in
parallel. Small batches stay on the calling thread: starting threads costs
more than it saves.
"""

from __future__ import annotations

import os
import threading
from collections.abc import Callable
from concurrent.futures import ThreadPoolExecutor

import numpy as np

#: below this much work per call (points × (instructions + stored values) per point), one
#: thread is faster: handing a block to a pool thread costs tens of microseconds, and a SIMD
#: kernel gets through ~10^6 such units in about that time
MIN_PARALLEL_WORK = 1 << 19

_lock = threading.Lock()
_pool: ThreadPoolExecutor | None = None
_pool_size = 0


def available_cores() -> int:
    """Cores this process may run on (its CPU affinity where the OS reports it).

    >>> available_cores() >= 1
    True
    """
    try:
        return len(os.sched_getaffinity(0))
    except AttributeError:  # pragma: no cover - not Linux
        return os.cpu_count() or 1


def _executor(threads: int) -> ThreadPoolExecutor:
    global _pool, _pool_size
    with _lock:
        if _pool is None or _pool_size < threads:
            _pool = ThreadPoolExecutor(max_workers=threads, thread_name_prefix="symjac")
            _pool_size = threads
        return _pool


def blocks(n: int, cost: int, threads: int) -> list[tuple[int, int]]:
    """``(start, count)`` of each block of points; one block when the work is small.

    ``cost`` is the work per point (instructions plus stored values).

    >>> blocks(10, 1, 4), blocks(100_000, 8, 2)
    ([(0, 10)], [(0, 50000), (50000, 50000)])
    """
    if threads <= 1 or n < 2 or n * max(cost, 1) < MIN_PARALLEL_WORK:
        return [(0, n)]
    k = min(threads, n)
    edges = [n * i // k for i in range(k + 1)]
    return [(edges[i], edges[i + 1] - edges[i]) for i in range(k)]


def run(
    kernel: Callable[..., None],
    n: int,
    addresses: tuple[int, int | None, int],
    row_bytes: tuple[int, int, int],
    p_stride: int,
    work_size: int,
    threads: int,
    cost: int,
) -> None:
    """Call ``kernel`` over ``n`` points, split into blocks across ``threads`` threads.

    ``cost`` is the work per point (see :func:`blocks`).

    ``kernel`` takes ``(x, p, out, count, p_stride, work)``: addresses (ints) and
    counts, as a compiled kernel's native entry does. A Python stand-in shows the
    blocks: 100,000 points of 8-byte rows, at cost 8, on two threads.

    >>> calls = []
    >>> def kernel(x, p, out, count, p_stride, work):
    ...     calls.append((x, p, out, count))
    >>> run(kernel, 100_000, (0, None, 0), (8, 0, 8), 0, 0, threads=2, cost=8)
    >>> sorted(calls)
    [(0, None, 0, 50000), (400000, None, 400000, 50000)]
    """
    x_addr, p_addr, out_addr = addresses
    x_row, p_row, out_row = row_bytes
    parts = blocks(n, cost, threads)

    def call(start: int, count: int) -> None:
        work = np.empty(work_size) if work_size else None
        kernel(
            x_addr + start * x_row,
            None if p_addr is None else p_addr + start * p_row,
            out_addr + start * out_row,
            count,
            p_stride,
            None if work is None else work.ctypes.data,
        )

    if len(parts) == 1:
        call(0, n)
        return
    futures = [_executor(len(parts)).submit(call, s, c) for s, c in parts]
    for future in futures:
        future.result()
