"""The pipeline, stage by stage: SymPy → graph → derivatives → tape → LLVM → machine code.

Each stage is one call and one timing in :class:`~symjac.runtime.Stats`;
:func:`build` reads top to bottom like the pipeline it runs.
"""

from __future__ import annotations

import contextlib
import time
from collections.abc import Iterator, Sequence
from dataclasses import dataclass
from typing import Any

from .codegen import JitModule, lower
from .diff import gradients
from .frontend import as_expressions, as_symbols, check_disjoint, to_graph
from .graph import Graph
from .pattern import SparsityPattern
from .runtime import CompiledFunction, CompiledJacobian, Kernels, Stats
from .special import expand_composites
from .tape import KernelSpec, Tape

#: ``sparse="auto"`` returns SciPy sparse matrices above this many entries ...
AUTO_SPARSE_SIZE = 10_000
#: ... when at most this fraction of them can be nonzero
AUTO_SPARSE_DENSITY = 0.25


@dataclass(frozen=True)
class Options:
    """Compilation options, validated once.

    ``fastmath`` lets LLVM reassociate and assume no NaN/inf (off by default:
    results are IEEE). ``opt_level`` is LLVM's optimisation level, 0–3.
    ``sparse`` chooses what calling a Jacobian returns: ``False`` dense arrays,
    ``True`` SciPy sparse matrices, ``"auto"`` sparse when the Jacobian has more
    than 10 000 entries of which at most a quarter can be nonzero.
    """

    fastmath: bool = False
    opt_level: int = 3
    sparse: bool | str = "auto"

    def sparse_output(self, pattern: SparsityPattern) -> bool:
        """Resolve ``sparse="auto"``: sparse when the matrix is big and mostly zeros."""
        if self.sparse == "auto":
            m, n = pattern.shape
            return m * n > AUTO_SPARSE_SIZE and pattern.density < AUTO_SPARSE_DENSITY
        return bool(self.sparse)

    def __post_init__(self) -> None:
        if self.sparse not in (True, False, "auto"):
            raise ValueError(f"sparse must be True, False or 'auto', not {self.sparse!r}")
        if not isinstance(self.fastmath, bool):
            raise TypeError(f"fastmath must be True or False, not {self.fastmath!r}")
        if self.opt_level not in (0, 1, 2, 3) or isinstance(self.opt_level, bool):
            raise ValueError(f"opt_level must be 0, 1, 2 or 3, not {self.opt_level!r}")


class Timer:
    def __init__(self, stats: Stats):
        self.stats = stats

    @contextlib.contextmanager
    def stage(self, name: str) -> Iterator[None]:
        t0 = time.perf_counter()
        yield
        self.stats.timings[name] = self.stats.timings.get(name, 0.0) + time.perf_counter() - t0


@dataclass
class _Problem:
    graph: Graph
    roots: list[int]
    wrt: list[Any]
    params: list[Any]


def front_end(exprs: Any, wrt: Any, params: Any) -> _Problem:
    outputs = as_expressions(exprs)
    wrt_list = as_symbols(wrt, "wrt", allow_empty=False)
    param_list = as_symbols(params, "params", allow_empty=True)
    check_disjoint(wrt_list, param_list)
    graph, roots = to_graph(outputs, wrt_list, param_list)
    return _Problem(graph, roots, wrt_list, param_list)


def machine_code(specs: Sequence[KernelSpec], options: Options, timer: Timer) -> Kernels:
    with timer.stage("lower"):
        lowered = lower(specs, fastmath=options.fastmath)
    jit = JitModule(lowered.module, opt_level=options.opt_level)
    timer.stats.timings.update(jit.timings)
    return Kernels(jit, lowered.work_sizes)


def build_jacobian(exprs: Any, wrt: Any, params: Any, options: Options) -> CompiledJacobian:
    """Compile the Jacobian of ``exprs`` with respect to ``wrt``; see :func:`symjac.jacobian`."""
    stats = Stats()
    timer = Timer(stats)
    # 1. front end: validate, convert SymPy into the hash-consed graph
    with timer.stage("front_end"):
        prob = front_end(exprs, wrt, params)
    g, n, k = prob.graph, len(prob.wrt), len(prob.params)
    # 2. differentiate on the graph; the gradients' keys are the sparsity pattern
    with timer.stage("differentiate"):
        grads = gradients(g, prob.roots, n)
        entries = [(i, j, d) for i, grad in enumerate(grads) for j, d in grad.items()]
        pattern = SparsityPattern((len(prob.roots), n), [(i, j) for i, j, _ in entries])
        nodes = [d for _, _, d in entries]  # already row-major: rows ascend, keys sorted
    symbolic = Tape.from_graph(g, nodes, n, k, allow_composite=True)
    # 3. expand composite functions into primitive ops; build the tape
    with timer.stage("expand"):
        tape = Tape.from_graph(g, expand_composites(g, nodes), n, k)
    stats.graph_nodes, stats.tape_length, stats.op_counts = len(g), len(tape), tape.op_counts()
    # 4. lower the values kernel and the dense kernel, then JIT both
    m_by_n = pattern.shape[0] * pattern.shape[1]
    specs = [
        KernelSpec("values", tape, pattern.nnz, tuple(range(pattern.nnz))),
        KernelSpec("dense", tape, m_by_n, tuple(int(q) for q in pattern.flat_positions())),
    ]
    kernels = machine_code(specs, options, timer)
    return CompiledJacobian(
        kernels,
        pattern,
        sparse_output=options.sparse_output(pattern),
        options=options,
        wrt=prob.wrt,
        params=prob.params,
        symbolic=symbolic,
        stats=stats,
    )


def build_function(exprs: Any, wrt: Any, params: Any, options: Options) -> CompiledFunction:
    """Compile the vector function ``exprs`` itself; see :func:`symjac.function`."""
    stats = Stats()
    timer = Timer(stats)
    with timer.stage("front_end"):
        prob = front_end(exprs, wrt, params)
    g, n, k = prob.graph, len(prob.wrt), len(prob.params)
    symbolic = Tape.from_graph(g, prob.roots, n, k, allow_composite=True)
    with timer.stage("expand"):
        tape = Tape.from_graph(g, expand_composites(g, prob.roots), n, k)
    stats.graph_nodes, stats.tape_length, stats.op_counts = len(g), len(tape), tape.op_counts()
    m = len(prob.roots)
    kernels = machine_code([KernelSpec("function", tape, m, tuple(range(m)))], options, timer)
    return CompiledFunction(
        kernels, m, wrt=prob.wrt, params=prob.params, symbolic=symbolic, stats=stats
    )
