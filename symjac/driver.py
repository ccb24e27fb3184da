"""The pipeline, stage by stage: SymPy → graph → derivatives → tape → LLVM → machine code.

:class:`Pipeline` runs one compilation: each method is one stage, timed into
:class:`~symjac.stats.Stats`. Every builder is here, one function each, reading top to
bottom like the pipeline it runs: :func:`build_jacobian`, :func:`build_function`,
:func:`build_function_and_jacobian`, :func:`build_hessian`, and :func:`directional_kernel`
(J·v and wᵀ·J), which compiled objects reach only through the hook the builders hand
them — the runtime never calls up into the driver. What differs between builders is
which nodes become outputs and where they are stored.
"""

from __future__ import annotations

import functools
import math
import warnings
from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any, TypeVar

import numpy as np
import sympy as sp

from symjac import warmstart
from symjac.codegen.llvm.build import Kernels, build_kernels
from symjac.compiled import (
    CompiledFunction,
    CompiledFunctionAndJacobian,
    CompiledHessian,
    CompiledJacobian,
)
from symjac.determinant import CompiledLogDet
from symjac.frontend.convert import to_graph
from symjac.frontend.validate import as_expressions, as_symbols, check_disjoint
from symjac.ir.dtypes import DTYPES
from symjac.ir.graph import Graph
from symjac.ir.ops import COMPOSITE
from symjac.ir.tape import KernelSpec, Tape
from symjac.options import Options
from symjac.passes.composites import expand_composites
from symjac.passes.diff import Grad, gradients
from symjac.passes.directional import directional_tape
from symjac.passes.rules import rewrite, rewriter
from symjac.runtime.abi import EXACT
from symjac.sparsity.pattern import SparsityPattern
from symjac.stages import Stages
from symjac.stats import Progress, Stats, Timer, paused_gc
from symjac.warmstart import Saved

JacobianT = TypeVar("JacobianT", bound=CompiledJacobian)

#: ``simplify="full"`` warns above this many expressions: sympy.simplify costs
#: from milliseconds to seconds per expression
FULL_SIMPLIFY_WARN = 200


@dataclass
class Inputs:
    """The validated input: outputs, ``wrt`` and ``params`` (SymPy objects, as given).

    >>> x = sp.Symbol("x")
    >>> Inputs([x**2], [x], []).wrt
    [x]
    """

    outputs: list[Any]
    wrt: list[Any]
    params: list[Any]


@dataclass
class Problem:
    """The validated input, converted: one graph and its output nodes.

    >>> x, y = sp.symbols("x y")
    >>> prob = Pipeline(Options()).front_end([x * y, sp.sin(x)], [x, y], [])
    >>> len(prob.roots), prob.wrt, prob.params
    (2, [x, y], [])
    >>> g = Graph(); Problem(g, [g.var(0)], [x], []).roots
    [0]
    """

    graph: Graph
    roots: list[int]
    wrt: list[Any]
    params: list[Any]


class Pipeline:
    """One compilation; each method is a stage, timed into :attr:`stats`.

    >>> x, y = sp.symbols("x y")
    >>> pipe = Pipeline(Options())
    >>> prob = pipe.front_end([x * y], [x, y], [])
    >>> [sorted(grad) for grad in pipe.differentiate(prob, prob.roots)]  # d/dx, d/dy
    [[0, 1]]
    >>> list(pipe.stats.timings)
    ['front_end', 'differentiate']
    """

    def __init__(self, options: Options):
        self.options = options
        self.stats = Stats()
        self.timer = Timer(self.stats, Progress(options.progress))
        #: the validated outputs, wrt and params (the first stage of :meth:`stages`)
        self.inputs: tuple[tuple[Any, ...], tuple[Any, ...], tuple[Any, ...]] = ((), (), ())
        #: the warm-start key :meth:`recall` computed, under which :meth:`remember` saves
        self.warm_key: str | None = None

    def stages(self, symbolic: Tape, kernels: Kernels, derivatives: bool) -> Stages:
        """What ``obj.stages`` shows: the input, kept; the graph and the derivatives, built
        again on demand (:func:`rebuild_stages`); the tape and the kernels, kept.

        >>> x = sp.Symbol("x")
        >>> pipe = Pipeline(Options())
        >>> prob = pipe.front_end([sp.cos(x)], [x], [])
        >>> symbolic, tape = pipe.tapes(prob, prob.roots)
        >>> kernels = pipe.machine_code([KernelSpec("f", tape, 1, (0,))])
        >>> pipe.stages(symbolic, kernels, derivatives=False).sympy
        (cos(x),)
        """
        outputs, wrt, params = self.inputs
        rebuild = functools.partial(rebuild_stages, outputs, wrt, params, self.options, derivatives)
        return Stages(outputs, wrt, params, symbolic, kernels, rebuild, self.options.dtype)

    def front_end(self, exprs: Any, wrt: Any, params: Any) -> Problem:
        """Validate the input and convert it into the hash-consed graph.

        >>> x, a = sp.symbols("x a")
        >>> pipe = Pipeline(Options())
        >>> prob = pipe.front_end([a * sp.sin(x), sp.sin(x)], [x], [a])
        >>> prob.params, prob.graph.ops[prob.roots[1]]  # sin(x) is one shared node
        ([a], <Op.SIN: 22>)
        >>> pipe.stats.sizes
        {'graph_front_end': 4}
        >>> pipe.front_end([x], [x], [x])
        Traceback (most recent call last):
        ...
        ValueError: symbols appear in both wrt and params: x
        """
        return self.convert(self.validate(exprs, wrt, params))

    def validate(self, exprs: Any, wrt: Any, params: Any) -> Inputs:
        """Check the outputs, ``wrt`` and ``params`` (cheap: nothing is converted yet).

        >>> x, a = sp.symbols("x a")
        >>> Pipeline(Options()).validate(a * x, [x], [a])
        Inputs(outputs=[a*x], wrt=[x], params=[a])
        """
        with self.timer.stage("front_end"):
            outputs = as_expressions(exprs)
            wrt_list = as_symbols(wrt, "wrt", allow_empty=False)
            param_list = as_symbols(params, "params", allow_empty=True)
            check_disjoint(wrt_list, param_list)
        self.inputs = (tuple(outputs), tuple(wrt_list), tuple(param_list))
        return Inputs(outputs, wrt_list, param_list)

    def convert(self, inputs: Inputs) -> Problem:
        """The validated input as nodes of one graph (after ``sympy.simplify`` at level
        "full").

        >>> x = sp.Symbol("x")
        >>> pipe = Pipeline(Options())
        >>> prob = pipe.convert(pipe.validate([x + 1], [x], []))
        >>> prob.graph.ops[prob.roots[0]]
        <Op.ADD: 11>
        """
        outputs = inputs.outputs
        if self.options.simplify == "full":
            with self.timer.stage("simplify", pause_gc=False):
                outputs = _sympy_simplify(outputs)
        with self.timer.stage("front_end"):
            # the rule sets, applied as nodes are built (differentiation relies on them:
            # d(x*1) is not built as x*0 + 1*1), unless simplification is off
            graph = Graph(self.options.rewriter())
            graph, roots = to_graph(
                outputs, inputs.wrt, inputs.params, graph, self.options.is_complex
            )
        self.stats.sizes["graph_front_end"] = len(graph)
        self.timer.progress.decide(len(graph))
        return Problem(graph, roots, list(inputs.wrt), list(inputs.params))

    def recall(self, kind: str, inputs: Inputs, extra: Any = ()) -> Saved | None:
        """Warm start: the saved result of an earlier compilation of exactly this input
        (any process), or None (:mod:`symjac.warmstart`; off with ``cache=False``).

        >>> import tempfile
        >>> x = sp.Symbol("x")
        >>> options = Options(cache=tempfile.mkdtemp())
        >>> _ = build_jacobian([sp.sin(x)], [x], [], options)  # compiles and saves
        >>> pipe = Pipeline(options)
        >>> pipe.recall("jacobian", pipe.validate([sp.sin(x)], [x], [])).pattern
        SparsityPattern(shape=(1, 1), nnz=1, density=1)
        >>> list(pipe.stats.timings)
        ['front_end', 'warm_start']
        """
        cache = self.options.object_cache()
        if cache is None:
            return None
        with self.timer.stage("warm_start"):
            self.warm_key = warmstart.key(
                kind, inputs.outputs, inputs.wrt, inputs.params, self.options, extra
            )
            saved = warmstart.load(cache, self.warm_key, self.options.build())
        if saved is not None:
            self.stats.warm = True
            self.stats.sizes.update(saved.sizes or {})
            self.stats.op_counts = dict(saved.op_counts or {})
        return saved

    def remember(self, saved: Saved) -> Saved:
        """Save a fresh compilation's result for warm starts (under :meth:`recall`'s key).

        >>> import tempfile
        >>> from pathlib import Path
        >>> x = sp.Symbol("x")
        >>> options = Options(cache=tempfile.mkdtemp())
        >>> pipe = Pipeline(options)
        >>> prob = pipe.convert(pipe.validate([x**3], [x], []))
        >>> pipe.recall("function", Inputs([x**3], [x], [])) is None  # nothing saved yet
        True
        >>> symbolic, tape = pipe.tapes(prob, prob.roots)
        >>> kernels = pipe.machine_code([KernelSpec("function", tape, 1, (0,))])
        >>> _ = pipe.remember(Saved(None, symbolic, kernels))
        >>> sorted(p.suffix for p in Path(options.cache).glob("*.warm"))
        ['.warm']
        """
        cache = self.options.object_cache()
        name = self.warm_key
        if cache is not None and name is not None:
            saved.sizes, saved.op_counts = dict(self.stats.sizes), dict(self.stats.op_counts)
            with self.timer.stage("warm_save"):
                warmstart.save(cache, name, saved)
        return saved

    def differentiate(self, prob: Problem, roots: Sequence[int]) -> list[Grad]:
        """Sparse gradients of ``roots``; their keys are the exact structural pattern.

        >>> x, y = sp.symbols("x y")
        >>> pipe = Pipeline(Options())
        >>> prob = pipe.front_end([x * y, sp.sin(x)], [x, y], [])
        >>> grads = pipe.differentiate(prob, prob.roots)
        >>> [sorted(grad) for grad in grads], pipe.stats.sizes["entries"]
        ([[0, 1], [0]], 3)
        >>> prob.graph.ops[grads[1][0]]  # d sin(x)/dx
        <Op.COS: 23>
        """
        with self.timer.stage("differentiate"):
            grads = gradients(prob.graph, roots, len(prob.wrt), self.options.is_complex)
        self.stats.sizes["graph_differentiated"] = len(prob.graph)
        self.stats.sizes["entries"] = sum(len(g) for g in grads)
        return grads

    def simplify_entries(self, prob: Problem, grads: list[Grad]) -> list[Grad]:
        """Level "full": ``sympy.simplify`` each entry; entries that become 0 are dropped.

        >>> x, y = sp.symbols("x y")
        >>> prob = Pipeline(Options()).front_end([sp.sin(x) ** 2 + sp.cos(x) ** 2 + y], [x, y], [])
        >>> grads = Pipeline(Options()).differentiate(prob, prob.roots)
        >>> [sorted(grad) for grad in grads]  # d/dx is 0, but not structurally
        [[0, 1]]
        >>> full = Pipeline(Options(simplify="full"))
        >>> [sorted(grad) for grad in full.simplify_entries(prob, grads)]
        [[1]]
        >>> Pipeline(Options()).simplify_entries(prob, grads) is grads  # other levels: as is
        True
        """
        if self.options.simplify != "full":
            return grads
        from symjac.frontend.tosympy import tape_to_sympy

        with self.timer.stage("simplify", pause_gc=False):
            g, n, k = prob.graph, len(prob.wrt), len(prob.params)
            keys = [(i, j) for i, grad in enumerate(grads) for j in grad]
            nodes = [grads[i][j] for i, j in keys]
            tape = Tape.from_graph(g, nodes, n, k, allow_composite=True)
            exprs = _sympy_simplify(tape_to_sympy(tape, prob.wrt, prob.params))
            out: list[Grad] = [{} for _ in grads]
            for (i, j), e in zip(keys, exprs):
                if e != 0:
                    _, (node,) = to_graph([e], prob.wrt, prob.params, g, self.options.is_complex)
                    out[i][j] = node
        return out

    def tapes(self, prob: Problem, nodes: Sequence[int]) -> tuple[Tape, Tape]:
        """The tape kept for inspection (``to_sympy``) and the tape the back end compiles.

        >>> x = sp.Symbol("x")
        >>> pipe = Pipeline(Options())
        >>> prob = pipe.front_end([sp.digamma(x)], [x], [])
        >>> symbolic, tape = pipe.tapes(prob, prob.roots)
        >>> symbolic.op_counts()  # composite ops kept for inspection ...
        {'DIGAMMA': 1}
        >>> "DIGAMMA" in tape.op_counts(), pipe.stats.sizes["tape"] == len(tape)  # ... expanded
        (False, True)
        """
        g, n, k = prob.graph, len(prob.wrt), len(prob.params)
        with self.timer.stage("expand"):
            symbolic = Tape.from_graph(g, nodes, n, k, allow_composite=True)
            if any(op in COMPOSITE for op in symbolic.ops):
                tape = Tape.from_graph(g, expand_composites(g, nodes), n, k)
            else:  # nothing to expand: the same tape (building it again took 5 % at scale)
                tape = symbolic
        self.stats.sizes["tape"] = len(tape)
        self.stats.sizes["shared"] = tape.shared_count()
        self.stats.op_counts = tape.op_counts()
        return symbolic, tape

    def machine_code(self, specs: Sequence[KernelSpec]) -> Kernels:
        """Lower to LLVM IR, verify, optimise, JIT.

        >>> g = Graph(); x = g.var(0)
        >>> spec = KernelSpec("f", Tape.from_graph(g, [g.sin(x)], 1, 0), 1, (0,))
        >>> pipe = Pipeline(Options(opt_level=0))
        >>> kernels = pipe.machine_code([spec])
        >>> kernels.opt_level, "lower" in pipe.stats.timings
        (0, True)

        A complex kernel's tapes are lowered to real ones over (re, im) pairs first
        (:func:`symjac.passes.complexify.complex_specs`), so the back ends see real kernels.
        """
        deferred: list[Any] = []
        if self.options.is_complex:
            from symjac.passes.complexify import complex_specs

            with self.timer.stage("complexify"):
                specs, deferred = complex_specs(specs, EXACT)
        say = self.timer.progress.say
        say("lower ...")
        cache = self.options.object_cache()
        with paused_gc():  # as in every stage: see Timer.stage
            kernels = build_kernels(
                specs, self.options.build(), say, self.stats.timings, cache, deferred=deferred
            )
        self.timer.progress.say(f"done in {self.stats.total:.2f} s")
        return kernels

    def jacobian_object(self, cls: type[JacobianT], saved: Saved, inputs: Inputs) -> JacobianT:
        """The runtime object (a :class:`CompiledJacobian` or subclass) for compiled kernels.

        The last step of :func:`build_jacobian`, which shows the whole sequence:

        >>> x, y = sp.symbols("x y")
        >>> jac = build_jacobian([x * y], [x, y], [], Options())
        >>> type(jac).__name__, jac.shape, jac([2.0, 3.0]).tolist()
        ('CompiledJacobian', (1, 2), [[3.0, 2.0]])
        """
        assert saved.pattern is not None
        return cls(
            saved.kernels,
            saved.pattern,
            sparse_output=self.options.sparse_output(saved.pattern),
            derive=functools.partial(directional_kernel, options=self.options),
            wrt=inputs.wrt,
            params=inputs.params,
            symbolic=saved.symbolic,
            stats=self.stats,
            stages=self.stages(saved.symbolic, saved.kernels, derivatives=True),
            dtype=self.options.dtype,
        )


def rebuild_stages(
    outputs: Sequence[Any],
    wrt: Sequence[Any],
    params: Sequence[Any],
    options: Options,
    derivatives: bool,
    differentiate: bool,
) -> tuple[Graph, list[int], list[Grad] | None]:
    """The front end again, and (``differentiate`` and ``derivatives``) the first derivatives:
    the same graph a compilation built, since every stage is deterministic.

    >>> x = sp.Symbol("x")
    >>> graph, roots, grads = rebuild_stages([x**2], [x], [], Options(), True, True)
    >>> graph.ops[grads[0][0]]
    <Op.MUL: 13>
    """
    pipe = Pipeline(options)
    prob = pipe.front_end(list(outputs), list(wrt), list(params))
    grads = None
    if differentiate and derivatives:
        grads = pipe.simplify_entries(prob, pipe.differentiate(prob, prob.roots))
    return prob.graph, prob.roots, grads


def _pattern(m: int, n: int, entries: Sequence[tuple[int, int, int]]) -> SparsityPattern:
    """The pattern of ``entries`` ``(row, col, node)``, which differentiation lists row-major
    (rows ascend, columns ascend within a row) — checked with NumPy, not sorted in Python
    (0.25 s of a 196 608-entry Jacobian's compile). The values kernel stores the entries in
    this order, so an entry out of order is an error, never re-sorted behind its back.

    >>> _pattern(2, 3, [(0, 0, 7), (0, 2, 8), (1, 1, 9)]).cols.tolist()
    [0, 2, 1]
    """
    rows = np.fromiter((i for i, _, _ in entries), np.int64, len(entries))
    cols = np.fromiter((j for _, j, _ in entries), np.int64, len(entries))
    return SparsityPattern.from_arrays((m, n), rows, cols)


def _sympy_simplify(exprs: Sequence[sp.Expr]) -> list[sp.Expr]:
    if len(exprs) > FULL_SIMPLIFY_WARN:
        warnings.warn(
            f"simplify='full' runs sympy.simplify on {len(exprs)} expressions, which can take "
            "minutes; 'cheap' is linear in the size of the graph",
            stacklevel=4,
        )
    return [sp.simplify(e) for e in exprs]


@paused_gc()  # the whole compilation: see Timer.stage
def build_jacobian(exprs: Any, wrt: Any, params: Any, options: Options) -> CompiledJacobian:
    """Compile the Jacobian of ``exprs`` with respect to ``wrt``; see :func:`symjac.jacobian`.

    >>> x, y = sp.symbols("x y")
    >>> jac = build_jacobian([x * y], [x, y], [], Options())
    >>> jac([2.0, 3.0]).tolist()
    [[3.0, 2.0]]
    """
    pipe = Pipeline(options)
    # 1. validate the input; a warm start finds the result of an earlier compilation of it
    inputs = pipe.validate(exprs, wrt, params)
    saved = pipe.recall("jacobian", inputs)
    if saved is None:
        # 2. front end: convert SymPy into the hash-consed graph
        prob = pipe.convert(inputs)
        # 3. differentiate on the graph; the gradients' keys are the sparsity pattern
        grads = pipe.simplify_entries(prob, pipe.differentiate(prob, prob.roots))
        entries = [(i, j, d) for i, grad in enumerate(grads) for j, d in grad.items()]
        m, n = len(prob.roots), len(prob.wrt)
        pattern = _pattern(m, n, entries)
        nodes = [d for _, _, d in entries]  # row-major: rows ascend, keys are sorted
        # 4. expand composite functions into primitive ops; one tape for both kernels
        symbolic, tape = pipe.tapes(prob, nodes)
        # 5. the values kernel and the dense kernel, lowered to LLVM and JIT-compiled together
        kernels = pipe.machine_code(
            [
                KernelSpec("values", tape, pattern.nnz, tuple(range(pattern.nnz))),
                KernelSpec(
                    "dense", tape, m * n, tuple(int(q) for q in pattern.flat_positions()), (m, n)
                ),
            ]
        )
        saved = pipe.remember(Saved(pattern, symbolic, kernels))
    return pipe.jacobian_object(CompiledJacobian, saved, inputs)


@paused_gc()  # the whole compilation: see Timer.stage
def build_function(exprs: Any, wrt: Any, params: Any, options: Options) -> CompiledFunction:
    """Compile the vector function ``exprs`` itself; see :func:`symjac.function`.

    >>> x, y = sp.symbols("x y")
    >>> f = build_function([x * y, x + y], [x, y], [], Options())
    >>> f([2.0, 3.0]).tolist()
    [6.0, 5.0]
    """
    pipe = Pipeline(options)
    inputs = pipe.validate(exprs, wrt, params)
    saved = pipe.recall("function", inputs)
    if saved is None:
        prob = pipe.convert(inputs)
        symbolic, tape = pipe.tapes(prob, prob.roots)
        m = len(prob.roots)
        kernels = pipe.machine_code([KernelSpec("function", tape, m, tuple(range(m)))])
        saved = pipe.remember(Saved(None, symbolic, kernels))
    return CompiledFunction(
        saved.kernels,
        len(saved.symbolic.outputs),
        wrt=inputs.wrt,
        params=inputs.params,
        symbolic=saved.symbolic,
        stats=pipe.stats,
        stages=pipe.stages(saved.symbolic, saved.kernels, derivatives=False),
        dtype=options.dtype,
    )


@paused_gc()  # the whole compilation: see Timer.stage
def directional_kernel(
    symbolic: Tape,
    entries: Sequence[tuple[int, int, int]],
    shape: tuple[int, int],
    kind: str,
    options: Options,
) -> Kernels:
    """Compile ``J·v`` (``kind="jvp"``) or ``wᵀ·J`` (``"vjp"``) from a Jacobian's entries.

    ``entries`` lists ``(row, col, k)``: entry (row, col) of J is output ``k`` of
    ``symbolic``. The direction is appended to the inputs: the kernel reads rows
    ``[x, v]`` (``n + n`` values) or ``[x, w]`` (``n + m``). J itself is never stored.

    For ``f = x0 * x1``, J = ``[x1, x0]``: entry (0, 0) is output 0, (0, 1) output 1.

    >>> import numpy as np
    >>> g = Graph(); x0, x1 = g.var(0), g.var(1)
    >>> symbolic = Tape.from_graph(g, [x1, x0], 2, 0)
    >>> k = directional_kernel(symbolic, [(0, 0, 0), (0, 1, 1)], (1, 2), "jvp", Options())
    >>> k.native("jvp", print)(np.array([2.0, 3.0, 1.0, 10.0])).tolist()
    [23.0]
    """
    # the products J[i, j]·v[j] (or w[i]·J[i, j]) summed per row (column), on a new graph
    rules = options.rewriter() or (rewriter(complex_=True) if options.is_complex else rewrite)
    tape = directional_tape(symbolic, entries, shape, kind, rules)
    spec = KernelSpec(kind, tape, len(tape.outputs), tuple(range(len(tape.outputs))))
    return Pipeline(options).machine_code([spec])


@paused_gc()  # the whole compilation: see Timer.stage
def build_function_and_jacobian(
    exprs: Any, wrt: Any, params: Any, options: Options
) -> CompiledFunctionAndJacobian:
    """One kernel computing f and J together, sharing their common subexpressions.

    >>> x, y = sp.symbols("x y")
    >>> fj = build_function_and_jacobian([x * y], [x, y], [], Options())
    >>> f, jac = fj([2.0, 3.0])
    >>> f.tolist(), jac.tolist()
    ([6.0], [[3.0, 2.0]])
    """
    pipe = Pipeline(options)
    inputs = pipe.validate(exprs, wrt, params)
    saved = pipe.recall("function_and_jacobian", inputs)
    if saved is None:
        prob = pipe.convert(inputs)
        grads = pipe.simplify_entries(prob, pipe.differentiate(prob, prob.roots))
        m, n = len(prob.roots), len(prob.wrt)
        entries = [(i, j, d) for i, grad in enumerate(grads) for j, d in grad.items()]
        pattern = _pattern(m, n, entries)
        symbolic, tape = pipe.tapes(prob, [*prob.roots, *(d for _, _, d in entries)])
        nnz = pattern.nnz
        dense_positions = (*range(m), *(m + int(q) for q in pattern.flat_positions()))
        kernels = pipe.machine_code(
            [
                KernelSpec("values", tape, m + nnz, tuple(range(m + nnz))),
                KernelSpec("dense", tape, m + m * n, dense_positions),
            ]
        )
        saved = pipe.remember(Saved(pattern, symbolic, kernels))
    return pipe.jacobian_object(CompiledFunctionAndJacobian, saved, inputs)


def _weights(weights: Any, m: int, taken: Sequence[sp.Symbol], complex_: bool = False) -> list[Any]:
    """Validate ``weights``: m Symbols (runtime parameters) or m numbers (real, or complex
    for a complex kernel)."""
    if isinstance(weights, (sp.Symbol, str)) or not hasattr(weights, "__len__"):
        raise TypeError("weights must be a sequence with one weight per expression")
    items = list(weights)
    if len(items) != m:
        raise ValueError(f"expected {m} weights, one per expression, got {len(items)}")
    if all(isinstance(w, sp.Symbol) for w in items):
        symbols = as_symbols(items, "weights", allow_empty=False)
        check_disjoint(taken, symbols)
        return symbols
    if any(isinstance(w, sp.Basic) and not w.is_number for w in items):
        raise TypeError("weights must be all Symbols (given at call time) or all numbers")
    if not complex_:
        return [float(w) for w in items]
    values = [complex(w) for w in items]  # a real weight is a real operand
    return [v.real if v.imag == 0 and math.copysign(1.0, v.imag) > 0 else v for v in values]


@paused_gc()  # the whole compilation: see Timer.stage
def build_hessian(
    exprs: Any, wrt: Any, params: Any, weights: Any, options: Options
) -> CompiledHessian:
    """∇²f of a scalar f, or ∇²(Σ λᵢ fᵢ) with weights λ; see :func:`symjac.hessian`.

    >>> x, y = sp.symbols("x y")
    >>> hess = build_hessian([x**2 * y], [x, y], [], None, Options())
    >>> hess([2.0, 3.0]).tolist()
    [[6.0, 4.0], [4.0, 0.0]]
    """
    pipe = Pipeline(options)
    inputs = pipe.validate(exprs, wrt, params)
    if weights is None:
        if len(inputs.outputs) != 1:
            raise ValueError(
                "the Hessian of several expressions needs weights= (one per expression): "
                "it is the Hessian of the weighted sum Σ weights[i]·exprs[i]"
            )
        ws: list[Any] = []
    else:
        taken = [*inputs.wrt, *inputs.params]
        ws = _weights(weights, len(inputs.outputs), taken, options.is_complex)
    symbolic_weights = bool(ws) and isinstance(ws[0], sp.Symbol)
    # weights given as symbols are parameters after the others (p = [params..., weights...])
    numbers = tuple(w for w in ws if isinstance(w, (float, complex)))
    extra = ("weights", len(ws), symbolic_weights, numbers)
    keyed = Inputs(
        inputs.outputs, inputs.wrt, [*inputs.params, *ws] if symbolic_weights else inputs.params
    )
    saved = pipe.recall("hessian", keyed, extra)
    if saved is None:
        prob = pipe.convert(inputs)
        g, n = prob.graph, len(prob.wrt)
        if weights is None:
            lagrangian = prob.roots[0]
        elif symbolic_weights:
            first = len(prob.params)
            prob.params.extend(ws)
            lagrangian = g.sum([g.mul(g.param(first + i), r) for i, r in enumerate(prob.roots)])
        else:
            lagrangian = g.sum([g.mul(g.const(w), r) for w, r in zip(ws, prob.roots)])
        (grad,) = pipe.differentiate(prob, [lagrangian])
        cols = list(grad)
        second = pipe.simplify_entries(prob, pipe.differentiate(prob, [grad[j] for j in cols]))
        lower: dict[tuple[int, int], int] = {}
        for j, row in zip(cols, second):
            for i, d in row.items():
                key = (max(i, j), min(i, j))
                # one triangle serves both halves, so the result is exactly symmetric
                if key not in lower or j == key[0]:
                    lower[key] = d
        keys = sorted(lower)
        pattern = SparsityPattern((n, n), keys)
        symbolic, tape = pipe.tapes(prob, [lower[key] for key in keys])
        # the dense form mirrors the lower triangle in NumPy (see CompiledHessian.dense)
        kernels = pipe.machine_code(
            [KernelSpec("values", tape, pattern.nnz, tuple(range(pattern.nnz)))]
        )
        saved = pipe.remember(Saved(pattern, symbolic, kernels))
    return pipe.jacobian_object(CompiledHessian, saved, keyed)


def build_logdet(exprs: Any, wrt: Any, params: Any, options: Options) -> CompiledLogDet:
    """log|det J| of a square system, on J's nonzeros; see :func:`symjac.logdet`.

    >>> import numpy as np
    >>> x, y = sp.symbols("x y")
    >>> ld = build_logdet([sp.exp(x), x * y], [x, y], [], Options(sparse=False))
    >>> sign, value = ld(np.array([1.0, 2.0]))   # det J = e^x · x
    >>> ld.structure, float(sign), round(float(value), 12)
    ('triangular', 1.0, 1.0)
    """
    if not DTYPES[options.dtype].real:  # slogdet's sign is ±1 only for real matrices
        raise TypeError(f"logdet takes float64 or float32 kernels, not {options.dtype}")
    return CompiledLogDet(build_jacobian(exprs, wrt, params, options))


__all__ = [
    "build_function_and_jacobian",
    "build_hessian",
    "build_logdet",
    "directional_kernel",
]
