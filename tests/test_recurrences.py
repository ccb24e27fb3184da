"""Recurrences (``symjac.passes.recurrences``): a run of one body repeated instance after
instance is one loop whose carried values are phis; the kernel computes the same bits as
the straight-line code, one lane wide and in SIMD lanes."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest
from symjac.codegen import JitModule, lower
from symjac.codegen.artefact import Artefact
from symjac.codegen.c import C_FILES
from symjac.codegen.llvm.build import Build
from test_emit import STRICT, build_c, needs_cc, run_kernel

from symjac.ir.graph import Graph
from symjac.ir.ops import Op
from symjac.ir.tape import KernelSpec, Tape
from symjac.passes import chunks, recurrences


def chain(
    depth: int, invariant: bool = False, also: tuple[int, ...] = (), power: bool = False
) -> Tape:
    """``s <- sin(s)`` (``sin(s) * y`` with ``invariant``) ``depth`` times and its derivative
    ``d <- d * cos(s)``, interleaved as the driver's tapes are; ``also``: levels whose
    intermediate ``s`` is an output too (read outside the run); ``power``: ``s <- sin(s)**3``."""
    g = Graph()
    x, y = g.var(0), g.var(1)
    s, d = x, g.const(1.0)
    kept = []
    for level in range(depth):
        d = g.mul(d, g.call(Op.COS, s))
        s = g.mul(g.sin(s), y) if invariant else g.sin(s)
        if power:
            s = g.powi(s, 3)
        if level in also:
            kept.append(s)
    return Tape.from_graph(g, [d, s, g.add(s, y), *kept], 2, 0)


def runs(tape: Tape, chunk_size: int = chunks.CHUNK_SIZE) -> list[recurrences.Run]:
    plan = chunks.plan(tape, chunk_size, recurrences=True)
    return [run for body in plan.bodies for chunk in body.chunks for run in chunk.runs]


POINTS = np.random.default_rng(7).uniform(-3, 3, size=(37, 2))
POINTS[0] = (np.nan, 1.0)
POINTS[1] = (0.0, -0.0)


def evaluate(tape: Tape, lanes: int, on: bool, chunk_size: int) -> np.ndarray:
    width, libm = Build().lanes() if lanes > 1 else (1, False)
    spec = KernelSpec("f", tape, len(tape.outputs), tuple(range(len(tape.outputs))))
    low = lower(
        [spec],
        chunk_size=chunk_size,
        lanes=lanes,
        vector_libm=libm,
        libm_width=width,
        recurrences=on,
    )
    jit = JitModule(low.module)  # verifies the module
    return run_kernel(jit.kernel("f"), len(tape.outputs), POINTS, work=low.work_sizes["f"])


def lane_counts() -> list[int]:
    width, _ = Build().lanes()
    return [1, width] if width > 1 else [1]


@pytest.mark.parametrize("lanes", lane_counts())
@pytest.mark.parametrize(
    "depth, invariant, also, chunk_size",
    [
        (1, False, (), 256),
        (2, False, (), 256),
        (3, True, (), 256),
        (40, False, (), 256),
        (200, False, (), 256),
        (200, True, (), 256),
        (200, False, (0, 1, 57, 58, 120), 256),
        (300, True, (150,), 64),  # the runs' seeds and last values cross chunks
    ],
)
def test_runs_compute_the_straight_line_bits(
    monkeypatch, lanes: int, depth: int, invariant: bool, also: tuple[int, ...], chunk_size: int
) -> None:
    monkeypatch.setattr(recurrences, "MIN_COUNT", 1)  # runs of one and two instances too
    monkeypatch.setattr(recurrences, "MIN_WORK", 1)
    tape = chain(depth, invariant, also)
    found = runs(tape, chunk_size)
    if depth >= 3:
        assert found
        if len(also) > 1:  # levels 57 and 58 escape: a run of one instance between
            assert min(run.count for run in found) <= 2
    looped = evaluate(tape, lanes, True, chunk_size)
    straight = evaluate(tape, lanes, False, chunk_size)
    assert np.array_equal(looped.view(np.int64), straight.view(np.int64))


def test_a_value_read_elsewhere_ends_the_run() -> None:
    tape = chain(400, also=(200,))
    found = runs(tape)
    assert len(found) == 2
    first, second = found
    assert first.count * first.period < 3 * 400 and second.count >= recurrences.MIN_COUNT


def test_a_deep_chain_is_one_loop_in_the_ir() -> None:
    tape = chain(5000)
    (run,) = runs(tape, 4000)
    assert run.period == 3 and run.count > 4900
    spec = KernelSpec("f", tape, len(tape.outputs), tuple(range(len(tape.outputs))))
    text = str(lower([spec], chunk_size=4000).module)
    assert text.count('call double @"sin"') <= 4  # the first instances, and the loop's body
    assert text.count("phi ") >= 3  # the counter and the carried values


def test_plans_have_no_runs_unless_asked() -> None:
    plan = chunks.plan(chain(500))
    assert all(not chunk.runs for body in plan.bodies for chunk in body.chunks)


@needs_cc
@pytest.mark.parametrize(
    "depth, invariant, also, power",
    [(300, True, (150,), False), (200, False, (0, 1, 57, 58, 120), False), (90, False, (), True)],
)
def test_c_renders_runs_as_loops_with_the_jits_bits(
    monkeypatch, tmp_path: Path, depth: int, invariant: bool, also: tuple[int, ...], power: bool
) -> None:
    monkeypatch.setattr(recurrences, "MIN_COUNT", 1)
    monkeypatch.setattr(recurrences, "MIN_WORK", 1)
    tape = chain(depth, invariant, also, power)
    assert runs(tape)
    width = len(tape.outputs)
    spec = KernelSpec("values", tape, width, tuple(range(width)))
    art = Artefact("chain", "function", (spec,), ("x", "y"), (), (width,))
    for suffix, printer in C_FILES.items():
        (tmp_path / f"chain{suffix}").write_text(printer(art))
    assert "for (int64_t k = 0; k < " in (tmp_path / "chain.c").read_text()
    lib = build_c(tmp_path, ["chain"])
    assert "-Werror" in STRICT
    got = run_kernel(lib.chain_values, width, POINTS)
    want = evaluate(tape, 1, False, chunks.CHUNK_SIZE)
    assert np.array_equal(got.view(np.int64), want.view(np.int64))
