"""The pipeline, stage by stage: SymPy → graph → derivatives → tape → LLVM → machine code.

:class:`Pipeline` runs one compilation: each method is one stage, timed into
:class:`~symjac.stats.Stats`. :func:`build_jacobian` reads top to bottom like
the pipeline it runs; :mod:`symjac.family` builds the other kernels from the
same stages.
"""

from __future__ import annotations

import os
import warnings
from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any, TypeVar

import sympy as sp

from symjac.codegen.cache import ObjectCache
from symjac.codegen.llvm.build import Build, Kernels, build_kernels
from symjac.frontend.convert import as_expressions, as_symbols, check_disjoint, to_graph
from symjac.ir.graph import Graph
from symjac.ir.tape import KernelSpec, Tape
from symjac.passes.composites import expand_composites
from symjac.passes.diff import Grad, gradients
from symjac.runtime.calls import CompiledFunction, CompiledJacobian
from symjac.sparsity.pattern import SparsityPattern
from symjac.stats import Progress, Stats, Timer

JacobianT = TypeVar("JacobianT", bound=CompiledJacobian)

#: ``sparse="auto"`` returns SciPy sparse matrices above this many entries ...
AUTO_SPARSE_SIZE = 10_000
#: ... when at most this fraction of them can be nonzero
AUTO_SPARSE_DENSITY = 0.25
#: ``simplify="full"`` warns above this many expressions: sympy.simplify costs
#: from milliseconds to seconds per expression
FULL_SIMPLIFY_WARN = 200

SIMPLIFY_LEVELS = ("auto", "none", "cheap", "full")


@dataclass(frozen=True)
class Options:
    """Compilation options, validated once.

    ``simplify``: ``"none"`` builds the graph exactly as written (no rewrite
    rules; hash-consing still shares equal subexpressions); ``"cheap"`` applies
    the value-preserving graph rules of :mod:`symjac.passes.rules` as nodes are built
    (constant folding, ``x*1``, ``x+0``, ``--x``, ...) — fast, linear;
    ``"full"`` also runs ``sympy.simplify`` on every output before
    differentiation and on every Jacobian entry after (seconds per entry: for
    small systems only); ``"auto"`` is ``"cheap"``.

    ``fastmath`` lets LLVM reassociate and assume no NaN/inf (off by default:
    results are IEEE). ``opt_level`` is LLVM's optimisation level, 0–3.
    ``sparse`` chooses what calling a Jacobian returns: ``False`` dense arrays,
    ``True`` SciPy sparse matrices, ``"auto"`` sparse when the Jacobian has more
    than 10 000 entries of which less than a quarter can be nonzero.
    ``progress``: print each stage to stderr (``None``: only for big compiles
    on a terminal).
    ``cache``: reuse machine code compiled before, in any process, from an
    on-disk cache (``True``: ``$SYMJAC_CACHE_DIR`` or ``~/.cache/symjac``; a
    path; ``False``: always compile). See :mod:`symjac.codegen.cache`.
    ``simd`` computes several points at once in SIMD lanes (8 with AVX-512, 4
    with AVX2); ``vector_libm`` lets those lanes call glibc's libmvec for
    elementary functions (documented error ≤ 4 ulp instead of libm's < 1 ulp;
    ``False`` calls the scalar C library lane by lane). Either way a point's
    result does not depend on its position in a batch.

    >>> Options(sparse=True, opt_level=2).opt_level
    2
    >>> Options(opt_level=4)
    Traceback (most recent call last):
    ...
    ValueError: opt_level must be 0, 1, 2 or 3, not 4
    """

    fastmath: bool = False
    opt_level: int = 3
    sparse: bool | str = "auto"
    simplify: str = "auto"
    progress: bool | None = None
    simd: bool = True
    vector_libm: bool = True
    cache: bool | str | os.PathLike[str] = True

    def object_cache(self) -> ObjectCache | None:
        """The on-disk cache to use: the default directory, a given one, or none.

        >>> Options(cache=False).object_cache() is None
        True
        >>> str(Options(cache="/tmp/symjac-cache").object_cache().directory)
        '/tmp/symjac-cache'
        """
        if self.cache is False:
            return None
        return ObjectCache(None if self.cache is True else self.cache)

    def build(self) -> Build:
        """The options that change the machine code.

        >>> Options(fastmath=True, sparse=True, progress=False).build()
        Build(fastmath=True, opt_level=3, simd=True, vector_libm=True)
        """
        return Build(self.fastmath, self.opt_level, self.simd, self.vector_libm)

    def __post_init__(self) -> None:
        if not isinstance(self.cache, (bool, str, os.PathLike)):
            raise TypeError(f"cache must be True, False or a directory, not {self.cache!r}")
        if not (self.sparse is True or self.sparse is False or self.sparse == "auto"):
            raise ValueError(f"sparse must be True, False or 'auto', not {self.sparse!r}")
        if not isinstance(self.opt_level, int) or isinstance(self.opt_level, bool):
            raise TypeError(f"opt_level must be an int 0-3, not {self.opt_level!r}")
        if not isinstance(self.fastmath, bool):
            raise TypeError(f"fastmath must be True or False, not {self.fastmath!r}")
        if self.opt_level not in (0, 1, 2, 3) or isinstance(self.opt_level, bool):
            raise ValueError(f"opt_level must be 0, 1, 2 or 3, not {self.opt_level!r}")
        if self.simplify not in SIMPLIFY_LEVELS:
            raise ValueError(f"simplify must be one of {SIMPLIFY_LEVELS}, not {self.simplify!r}")
        for flag in ("simd", "vector_libm"):
            if not isinstance(getattr(self, flag), bool):
                raise TypeError(f"{flag} must be True or False, not {getattr(self, flag)!r}")
        if not (self.progress is None or isinstance(self.progress, bool)):
            raise TypeError(f"progress must be None, True or False, not {self.progress!r}")

    def sparse_output(self, pattern: SparsityPattern) -> bool:
        """Resolve ``sparse="auto"``: sparse when the matrix is big and mostly zeros.

        >>> diagonal = SparsityPattern((200, 200), [(i, i) for i in range(200)])
        >>> small = SparsityPattern((2, 2), [(0, 0)])
        >>> Options().sparse_output(diagonal), Options().sparse_output(small)
        (True, False)
        >>> Options(sparse=True).sparse_output(small)
        True
        """
        if self.sparse == "auto":
            m, n = pattern.shape
            return m * n > AUTO_SPARSE_SIZE and pattern.density < AUTO_SPARSE_DENSITY
        return bool(self.sparse)


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
        with self.timer.stage("front_end"):
            outputs = as_expressions(exprs)
            wrt_list = as_symbols(wrt, "wrt", allow_empty=False)
            param_list = as_symbols(params, "params", allow_empty=True)
            check_disjoint(wrt_list, param_list)
        if self.options.simplify == "full":
            with self.timer.stage("simplify"):
                outputs = _sympy_simplify(outputs)
        with self.timer.stage("front_end"):
            graph = Graph(rules=self.options.simplify != "none")
            graph, roots = to_graph(outputs, wrt_list, param_list, graph)
        self.stats.sizes["graph_front_end"] = len(graph)
        self.timer.progress.decide(len(graph))
        return Problem(graph, roots, wrt_list, param_list)

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
            grads = gradients(prob.graph, roots, len(prob.wrt))
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

        with self.timer.stage("simplify"):
            g, n, k = prob.graph, len(prob.wrt), len(prob.params)
            keys = [(i, j) for i, grad in enumerate(grads) for j in grad]
            nodes = [grads[i][j] for i, j in keys]
            tape = Tape.from_graph(g, nodes, n, k, allow_composite=True)
            exprs = _sympy_simplify(tape_to_sympy(tape, prob.wrt, prob.params))
            out: list[Grad] = [{} for _ in grads]
            for (i, j), e in zip(keys, exprs):
                if e != 0:
                    _, (node,) = to_graph([e], prob.wrt, prob.params, g)
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
        symbolic = Tape.from_graph(g, nodes, n, k, allow_composite=True)
        with self.timer.stage("expand"):
            tape = Tape.from_graph(g, expand_composites(g, nodes), n, k)
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
        """
        say = self.timer.progress.say
        say("lower ...")
        cache = self.options.object_cache()
        kernels = build_kernels(specs, self.options.build(), say, self.stats.timings, cache)
        self.timer.progress.say(f"done in {self.stats.total:.2f} s")
        return kernels

    def jacobian_object(
        self,
        cls: type[JacobianT],
        kernels: Kernels,
        pattern: SparsityPattern,
        prob: Problem,
        symbolic: Tape,
    ) -> JacobianT:
        """The runtime object (a :class:`CompiledJacobian` or subclass) for compiled kernels.

        The last step of :func:`build_jacobian`, which shows the whole sequence:

        >>> x, y = sp.symbols("x y")
        >>> jac = build_jacobian([x * y], [x, y], [], Options())
        >>> type(jac).__name__, jac.shape, jac([2.0, 3.0]).tolist()
        ('CompiledJacobian', (1, 2), [[3.0, 2.0]])
        """
        return cls(
            kernels,
            pattern,
            sparse_output=self.options.sparse_output(pattern),
            options=self.options,
            wrt=prob.wrt,
            params=prob.params,
            symbolic=symbolic,
            stats=self.stats,
        )


def _sympy_simplify(exprs: Sequence[sp.Expr]) -> list[sp.Expr]:
    if len(exprs) > FULL_SIMPLIFY_WARN:
        warnings.warn(
            f"simplify='full' runs sympy.simplify on {len(exprs)} expressions, which can take "
            "minutes; 'cheap' is linear in the size of the graph",
            stacklevel=4,
        )
    return [sp.simplify(e) for e in exprs]


def build_jacobian(exprs: Any, wrt: Any, params: Any, options: Options) -> CompiledJacobian:
    """Compile the Jacobian of ``exprs`` with respect to ``wrt``; see :func:`symjac.jacobian`.

    >>> x, y = sp.symbols("x y")
    >>> jac = build_jacobian([x * y], [x, y], [], Options())
    >>> jac([2.0, 3.0]).tolist()
    [[3.0, 2.0]]
    """
    pipe = Pipeline(options)
    # 1. front end: validate, convert SymPy into the hash-consed graph
    prob = pipe.front_end(exprs, wrt, params)
    # 2. differentiate on the graph; the gradients' keys are the sparsity pattern
    grads = pipe.simplify_entries(prob, pipe.differentiate(prob, prob.roots))
    entries = [(i, j, d) for i, grad in enumerate(grads) for j, d in grad.items()]
    pattern = SparsityPattern((len(prob.roots), len(prob.wrt)), [(i, j) for i, j, _ in entries])
    nodes = [d for _, _, d in entries]  # row-major: rows ascend, keys are sorted
    # 3. expand composite functions into primitive ops; one tape for both kernels
    symbolic, tape = pipe.tapes(prob, nodes)
    # 4. the values kernel and the dense kernel, lowered to LLVM and JIT-compiled together
    m, n = pattern.shape
    kernels = pipe.machine_code(
        [
            KernelSpec("values", tape, pattern.nnz, tuple(range(pattern.nnz))),
            KernelSpec(
                "dense", tape, m * n, tuple(int(q) for q in pattern.flat_positions()), (m, n)
            ),
        ]
    )
    return pipe.jacobian_object(CompiledJacobian, kernels, pattern, prob, symbolic)


def build_function(exprs: Any, wrt: Any, params: Any, options: Options) -> CompiledFunction:
    """Compile the vector function ``exprs`` itself; see :func:`symjac.function`.

    >>> x, y = sp.symbols("x y")
    >>> f = build_function([x * y, x + y], [x, y], [], Options())
    >>> f([2.0, 3.0]).tolist()
    [6.0, 5.0]
    """
    pipe = Pipeline(options)
    prob = pipe.front_end(exprs, wrt, params)
    symbolic, tape = pipe.tapes(prob, prob.roots)
    m = len(prob.roots)
    kernels = pipe.machine_code([KernelSpec("function", tape, m, tuple(range(m)))])
    return CompiledFunction(
        kernels, m, wrt=prob.wrt, params=prob.params, symbolic=symbolic, stats=pipe.stats
    )
