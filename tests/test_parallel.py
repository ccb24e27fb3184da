"""The thread policy: split batches give exactly the serial results; the decision is unit-tested
with injected timings (never timed assertions); calibration survives fork and pickling."""

from __future__ import annotations

import multiprocessing
import pickle
import threading

import numpy as np
import pytest
import sympy as sp

import symjac
from symjac.runtime import parallel

X = sp.symbols("x0:40", real=True)
A = sp.Symbol("a", real=True)
# 40 outputs of 40 inputs: a dense scatter (work buffers: test_each_thread_has_its_own_work_buffer)
EXPRS = [
    sp.sin(X[i]) * X[(i + 1) % 40] ** 2 + A * sp.exp(-X[i] * X[(i + 7) % 40]) for i in range(40)
]


class AlwaysSplit(parallel.Timing):
    """A policy that splits every batch (to test the split path whatever the machine)."""

    def plan(self, n: int, threads: int) -> int:
        return threads


class NeverSplit(parallel.Timing):
    def plan(self, n: int, threads: int) -> int:
        return 1


@pytest.fixture(scope="module")
def jac():
    return symjac.jacobian(EXPRS, X, [A], sparse=False)


def _serial_and_split(compiled, method, *args, **kw):
    """(one thread, always split, default policy) results of the same call."""
    compiled.threads = 1
    serial = getattr(compiled, method)(*args, **kw).copy()
    compiled.threads = 2
    saved = dict(compiled._timings)
    compiled._timings.clear()
    compiled._timings.update({name: AlwaysSplit() for name in ("values", "dense", "jvp")})
    try:
        split = getattr(compiled, method)(*args, **kw).copy()
    finally:
        compiled._timings.clear()
        compiled._timings.update(saved)
    default = getattr(compiled, method)(*args, **kw).copy()
    return serial, split, default


@pytest.mark.parametrize("method", ["values", "dense"])
@pytest.mark.parametrize("n", [1, 7, 63, 64, 65, 129, 1000, 3001])
def test_split_batches_equal_serial_bit_for_bit(jac, method, n):
    rng = np.random.default_rng(n)
    pts, ps = rng.normal(size=(n, 40)), rng.normal(size=(n, 1))
    for p in (ps, [0.25]):
        serial, split, default = _serial_and_split(jac, method, pts, p)
        np.testing.assert_array_equal(serial, split)
        np.testing.assert_array_equal(serial, default)
    # an independent check of a few rows: the single-point path
    for i in {0, n // 2, n - 1}:
        np.testing.assert_array_equal(split[i], getattr(jac, method)(pts[i], [0.25]))


@pytest.mark.parametrize("n", [65, 1000, 4099])
def test_split_fills_out_views_completely_and_only_them(jac, n):
    pts = np.random.default_rng(4).normal(size=(n, 40))
    big = np.full((n + 5, jac.nnz), np.nan)
    view = big[2 : 2 + n]  # C-contiguous, inside a larger buffer
    serial, split, default = _serial_and_split(jac, "values", pts, [0.5], out=view)
    np.testing.assert_array_equal(serial, split)
    np.testing.assert_array_equal(serial, default)
    assert not np.isnan(view).any()
    assert np.isnan(big[:2]).all() and np.isnan(big[2 + n :]).all()


def test_split_directional_and_function_calls_equal_serial(jac):
    rng = np.random.default_rng(5)
    pts, v = rng.normal(size=(777, 40)), rng.normal(size=(777, 40))
    serial, split, default = _serial_and_split(jac, "jvp", pts, v, [0.1])
    np.testing.assert_array_equal(serial, split)
    np.testing.assert_array_equal(serial, default)
    f = symjac.function(EXPRS, X, [A])
    f.threads = 1
    want = f(pts, [0.1])
    f.threads, f._timings["function"] = 2, AlwaysSplit()
    np.testing.assert_array_equal(f(pts, [0.1]), want)


def test_calls_from_many_threads_at_once_share_the_pool(jac):
    rng = np.random.default_rng(6)
    batches = [rng.normal(size=(500 + 64 * i, 40)) for i in range(6)]
    jac.threads = 1
    want = [jac.values(b, [0.3]) for b in batches]
    clone = pickle.loads(pickle.dumps(jac))
    clone.threads, clone._timings["values"] = 2, AlwaysSplit()
    got: dict[int, np.ndarray] = {}

    def work(i: int) -> None:
        for _ in range(5):
            got[i] = clone.values(batches[i], [0.3])

    workers = [threading.Thread(target=work, args=(i,)) for i in range(6)]
    for t in workers:
        t.start()
    for t in workers:
        t.join()
    for i, values in enumerate(want):
        np.testing.assert_array_equal(got[i], values)


# -- the split itself ---------------------------------------------------------------------------


def test_split_covers_every_point_once_on_aligned_boundaries():
    for n in (1, 2, 7, 63, 64, 65, 1000, 65_537):
        for pieces in (1, 2, 3, 8, 100):
            parts = parallel.split(n, pieces)
            covered = [i for start, count in parts for i in range(start, start + count)]
            assert covered == list(range(n))
            assert len(parts) <= pieces and all(count > 0 for _, count in parts)
            assert all(start % parallel.ALIGN == 0 for start, _ in parts)


def _recording_kernel(calls):
    lock = threading.Lock()

    def kernel(x, p, out, count, p_stride, work):
        with lock:
            calls.append((x // 8, count, threading.get_ident()))

    return kernel


def test_run_splits_without_a_policy_and_covers_each_point_once():
    calls: list = []
    parallel.run(_recording_kernel(calls), 10_000, (0, None, 0), (8, 0, 8), 0, 3, threads=2)
    starts = sorted((start, count) for start, count, _ in calls)
    assert starts == parallel.split(10_000, 2 * parallel.CHUNKS_PER_THREAD)
    calls.clear()
    parallel.run(_recording_kernel(calls), 10_000, (0, None, 0), (8, 0, 8), 0, 0, threads=1)
    assert [(s, c) for s, c, _ in calls] == [(0, 10_000)]


def test_each_thread_has_its_own_work_buffer():
    seen: list = []
    lock = threading.Lock()
    gate = threading.Barrier(2, timeout=60)

    def kernel(x, p, out, count, p_stride, work):
        with lock:
            seen.append((threading.get_ident(), work))
        if len(seen) <= 2:
            try:
                gate.wait()  # the first chunks run at once: both threads hold a buffer
            except threading.BrokenBarrierError:
                pass

    parallel.dispatch_overhead()
    parallel.run(kernel, 4096, (0, None, 0), (8, 0, 8), 0, 1000, threads=2)
    assert len(seen) == 8 and all(work for _, work in seen)
    buffers: dict = {}
    for ident, work in seen:
        buffers.setdefault(ident, set()).add(work)
    assert all(len(b) == 1 for b in buffers.values())  # one per thread, reused
    assert len(buffers) == 1 or len(set.union(*buffers.values())) == len(buffers)


def test_run_raises_a_pool_threads_error_and_the_pool_still_works():
    def kernel(x, p, out, count, p_stride, work):
        if x:  # every chunk but the first
            raise RuntimeError("boom")

    with pytest.raises(RuntimeError, match="boom"):
        parallel.run(kernel, 1000, (0, None, 0), (8, 0, 8), 0, 0, threads=2)
    calls: list = []
    parallel.run(_recording_kernel(calls), 1000, (0, None, 0), (8, 0, 8), 0, 0, threads=2)
    assert sum(count for _, count, _ in calls) == 1000


def test_an_interrupted_caller_waits_for_running_chunks_and_skips_the_rest():
    parallel.dispatch_overhead()  # the pool thread exists
    running, release = threading.Event(), threading.Event()
    ran: list = []

    def kernel(start, count, work):
        ran.append(start)
        if start == 0:  # the first chunk (the caller's): let a pool thread take one
            assert running.wait(60)
            raise KeyboardInterrupt
        running.set()
        release.wait(0.2)  # still running when the caller is interrupted

    job = parallel._Job(parallel.split(1000, 8), kernel, 0)
    parallel._hand_out(job, 1)
    with pytest.raises(KeyboardInterrupt):
        try:
            job.drain()
            raise job.error  # type: ignore[misc]
        finally:
            job.finish()
    assert job.done.locked() and len(ran) < 8  # finished, the untaken chunks skipped


# -- the decision, from injected timings ---------------------------------------------------------


class FakeClock:
    """Each reading advances by the next of the given durations (then stays)."""

    def __init__(self, *durations: float):
        self.now, self.durations, self.readings = 0.0, list(durations), 0

    def __call__(self) -> float:
        self.readings += 1
        if self.readings % 2 == 0 and self.durations:  # the end of a timed call
            self.now += self.durations.pop(0)
        return self.now


def test_a_size_class_stays_serial_until_it_has_two_serial_timings():
    t = parallel.Timing(dispatch=lambda: 10e-6)
    assert t.plan(100_000, 2) == 1
    t.record(100_000, 1, 0.01, 2)
    assert t.plan(100_000, 2) == 1
    t.record(100_000, 1, 0.01, 2)
    assert t.plan(100_000, 2) == 2
    assert t.plan(60_000, 2) == 1  # another octave: not measured yet
    assert t.plan(100_000, 1) == 1  # one thread asked for
    assert t.plan(2 * parallel.ALIGN - 1, 2) == 1  # fewer than two chunks


def test_the_crossover_follows_the_measured_speed_and_dispatch_cost():
    # 50 ns per point; a split is assumed to cost 2 x the dispatch until one is measured:
    # split when (25 ns x n + 2 x dispatch) x MARGIN < 50 ns x n
    for dispatch, n, want in [
        (10e-6, 500, 1),  # 25 µs serial: 12.5 + 20 µs split
        (10e-6, 1000, 2),  # 50 µs serial: (25 + 20) x 1.05 = 47.25 µs split
        (100e-6, 2000, 1),  # a slow hand-off: 50 + 200 µs
        (100e-6, 16_000, 2),  # 800 µs serial: 400 + 200 µs
    ]:
        t = parallel.Timing(dispatch=lambda d=dispatch: d)
        for _ in range(2):
            t.record(n, 1, 50e-9 * n, 2)
        assert t.plan(n, 2) == want, (dispatch, n)


def _calls_until(condition) -> int:
    calls = 0
    while not condition(calls):
        calls += 1
    return calls


def test_a_measured_slow_split_turns_the_size_class_serial_and_is_retried_later():
    t = parallel.Timing(dispatch=lambda: 1e-6)
    n, serial = 10_000, 1e-3
    for _ in range(2):
        t.record(n, 1, serial, 2)
    assert t.plan(n, 2) == 2
    t.record(n, 2, 1.3 * serial, 2)  # under load the split took longer than one thread
    assert t.overhead[n.bit_length(), 2] == pytest.approx(0.8 * serial)
    # a split is tried again once the serial calls since have taken 1 / EXPLORE times
    # what it is predicted to lose: 1.3 x MARGIN - 1 serial calls' time
    want = _calls_until(lambda k: k * parallel.EXPLORE > 1.3 * parallel.MARGIN - 1)
    for _ in range(2):
        calls = 0
        while t.plan(n, 2) == 1:
            t.record(n, 1, serial, 2)
            calls += 1
        assert calls == want
        t.record(n, 2, 1.3 * serial, 2)  # still slow: serial again, retried as late
    t.record(n, 2, 0.55 * serial, 2)  # the load has gone: splits from now on
    assert [t.plan(n, 2) for _ in range(5)] == [2] * 5


def test_a_split_that_is_fast_stays_and_serial_is_rechecked_now_and_then():
    t = parallel.Timing(dispatch=lambda: 1e-6)
    n, serial = 10_000, 1e-3
    for _ in range(2):
        t.record(n, 1, serial, 2)
    splits = 0
    while t.plan(n, 2) == 2:
        t.record(n, 2, 0.6 * serial, 2)
        splits += 1
        assert splits < 10_000
    # serial is measured again once the splits have taken 1 / EXPLORE times what a
    # serial call is predicted to lose (0.4 of one)
    assert splits == _calls_until(lambda k: k * 0.6 * parallel.EXPLORE > 0.4)
    t.record(n, 1, serial, 2)  # the same as before: back to splitting at once
    assert t.plan(n, 2) == 2


def test_one_slow_measurement_does_not_change_the_choice():
    t = parallel.Timing(dispatch=lambda: 1e-6)
    n, serial = 10_000, 1e-3
    for _ in range(2):
        t.record(n, 1, serial, 2)
    t.record(n, 2, 0.6 * serial, 2)
    t.record(n, 2, 5 * serial, 2)  # an interruption
    assert t.plan(n, 2) == 2
    t.record(n, 2, 5 * serial, 2)  # twice in a row: a real change
    assert t.plan(n, 2) == 1
    t.record(n, 1, 3 * serial, 2)  # and one slow serial call leaves serial's estimate
    assert t.serial[n.bit_length()] == pytest.approx(serial / n)


def test_an_unmeasured_size_class_borrows_the_nearest_measured_split_overhead():
    t = parallel.Timing(dispatch=lambda: 1e-6)
    for n in (1000, 64_000):
        for _ in range(2):
            t.record(n, 1, 1e-7 * n, 2)
    assert t.plan(64_000, 2) == 2  # 3.2 ms + 2 µs assumed
    t.overhead[10, 2] = 1.0  # as if a split of ~1000 points had been measured very slow
    assert t.plan(64_000, 2) == 1  # octave 16 borrows octave 10's
    t.overhead[20, 2] = 0.0
    assert t.plan(64_000, 2) == 2  # octave 20 is nearer
    t.overhead[16, 2] = 1.0
    assert t.plan(64_000, 2) == 1  # its own measurement wins


def test_calls_shorter_than_a_hand_off_stay_serial():
    t = parallel.Timing(dispatch=lambda: 1e-3)
    for _ in range(2):
        t.record(5000, 1, 0.9e-3, 2)
    t.overhead[13, 2] = 0.0  # even a free split
    assert t.plan(5000, 2) == 1
    t.record(5000, 1, 0.5e-3, 2)  # (0.5 ms < the 1 ms hand-off)
    assert t.plan(5000, 2) == 1
    t = parallel.Timing(dispatch=lambda: 0.4e-3)
    for _ in range(2):
        t.record(5000, 1, 0.9e-3, 2)
    t.overhead[13, 2] = 0.0
    assert t.plan(5000, 2) == 2


def test_run_times_serial_calls_and_learns_to_split():
    clock = FakeClock(0.01, 0.01, 0.006)
    t = parallel.Timing(dispatch=lambda: 1e-5)
    calls: list = []
    kernel = _recording_kernel(calls)
    for _ in range(2):
        parallel.run(kernel, 100_000, (0, None, 0), (8, 0, 8), 0, 0, 2, t, clock)
    assert len(calls) == 2 and t.samples[17] == 2
    assert t.serial[17] == pytest.approx(1e-7)
    parallel.run(kernel, 100_000, (0, None, 0), (8, 0, 8), 0, 0, 2, t, clock)
    assert len(calls) == 2 + 2 * parallel.CHUNKS_PER_THREAD
    assert t.overhead[17, 2] == pytest.approx(0.001)


def test_a_pool_thread_that_is_late_does_not_hold_the_caller():
    parallel.dispatch_overhead()  # the pool thread exists
    release, held = threading.Event(), threading.Event()

    def block(start, count, work):
        held.set()
        release.wait(60)

    blocker = parallel._Job([(0, 0)], block, 0)
    parallel._hand_out(blocker, 1)  # keeps the only pool thread busy
    assert held.wait(60)
    try:
        calls: list = []
        parallel.run(_recording_kernel(calls), 10_000, (0, None, 0), (8, 0, 8), 0, 0, threads=2)
        # the caller ran every chunk itself and returned without waiting for the pool
        assert len({ident for _, _, ident in calls}) == 1
        assert sorted((s, c) for s, c, _ in calls) == parallel.split(10_000, 8)
    finally:
        release.set()
    assert blocker.done.acquire(timeout=60)


def test_one_thread_and_batches_shorter_than_a_hand_off_are_not_timed():
    t = parallel.Timing(dispatch=lambda: 1e-3)
    clock = FakeClock(*[1e-5] * 10)
    calls: list = []
    args = (_recording_kernel(calls), 1000, (0, None, 0), (8, 0, 8), 0, 0)
    parallel.run(*args, 1, t, clock)
    assert clock.readings == 0 and not t.samples  # one thread: nothing to decide
    for _ in range(3):
        parallel.run(*args, 2, t, clock)
    assert t.samples[10] == 3 and t.tiny == 1000  # 10 µs, under the 1 ms hand-off
    readings = clock.readings
    parallel.run(*args, 2, t, clock)
    parallel.run(_recording_kernel(calls), 700, (0, None, 0), (8, 0, 8), 0, 0, 2, t, clock)
    assert clock.readings == readings and len(calls) == 6
    assert all(count in (1000, 700) for _, count, _ in calls)


def test_dispatch_overhead_is_measured_once():
    first = parallel.dispatch_overhead()
    assert 0 < first < 1 and parallel.dispatch_overhead() == first


# -- processes ----------------------------------------------------------------------------------

_INHERITED: dict = {}


def _split_in_child(_: int) -> bool:
    compiled = _INHERITED["jac"]
    pts = np.random.default_rng(8).normal(size=(3000, 40))
    compiled.threads, compiled._timings["values"] = 2, AlwaysSplit()
    split = compiled.values(pts, [0.3])
    compiled.threads = 1
    return bool(np.array_equal(split, compiled.values(pts, [0.3])))


def test_the_pool_works_in_a_forked_child_of_a_process_that_used_it(jac):
    if "fork" not in multiprocessing.get_all_start_methods():
        pytest.skip("no fork on this platform")
    calls: list = []
    parallel.run(_recording_kernel(calls), 1000, (0, None, 0), (8, 0, 8), 0, 0, threads=2)
    assert parallel._threads
    _INHERITED["jac"] = jac
    with multiprocessing.get_context("fork").Pool(1) as pool:
        assert pool.map_async(_split_in_child, [0]).get(timeout=120) == [True]


def test_timings_stay_in_their_process(jac):
    pts = np.random.default_rng(9).normal(size=(2000, 40))
    jac.threads = 2
    for _ in range(3):
        jac.values(pts, [0.3])
    assert jac._timings["values"].samples
    clone = pickle.loads(pickle.dumps(jac))
    assert clone._timings == {}
    np.testing.assert_array_equal(clone.values(pts, [0.3]), jac.values(pts, [0.3]))
    assert "_timings" not in jac.__getstate__()
