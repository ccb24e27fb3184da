"""The objects users call: compiled functions and Jacobians.

Each object owns the :class:`~symjac.codegen.JitModule` whose machine code it
calls, validates every argument (:mod:`symjac.runtime.arguments`) and runs the native
batch loop through ctypes, which releases the GIL during the call.
"""

from __future__ import annotations

import functools
import time
from collections.abc import Callable, Sequence
from typing import Any

import numpy as np
import numpy.typing as npt

from symjac.codegen.llvm.build import SIMD_BATCH, Kernels
from symjac.ir.tape import Tape
from symjac.runtime import parallel
from symjac.runtime.arguments import F64, Array, address, as_params, as_points, check_out
from symjac.sparsity.pattern import SparsityPattern
from symjac.stages import Stages
from symjac.stats import Stats

#: the builder's hook for derived kernels: ``(symbolic tape, entries (row, col, k), shape,
#: "jvp" | "vjp")`` → kernels (:func:`symjac.driver.directional_kernel` with the options)
Derive = Callable[[Tape, Sequence[tuple[int, int, int]], tuple[int, int], str], Kernels]


def _abbreviate(names: list[str], keep: int = 6) -> str:
    """``a, b, c, ..., z (26)`` for long lists of names."""
    if len(names) <= keep:
        return ", ".join(names)
    return ", ".join(names[:3]) + f", ..., {names[-1]} ({len(names)})"


#: not yet looked up in ``_Compiled._natives``
_UNMADE = object()


class _Compiled:
    """Shared runtime: argument handling and the native call."""

    def __init__(
        self,
        kernels: Kernels,
        wrt: Sequence[Any],
        params: Sequence[Any],
        symbolic: Tape,
        stats: Stats,
        stages: Stages | None = None,
    ):
        self._kernels = kernels
        self._stages = stages
        #: kernel name → its native method for one point (made on first use), or None
        self._natives: dict[str, Any] = {}
        self._wrt = tuple(wrt)
        self._params = tuple(params)
        self._param_names = tuple(str(s) for s in params)
        self._symbolic = symbolic
        self.stats = stats
        #: threads a large batch may be split across (default: the cores available); 1 = serial
        self.threads = parallel.available_cores()
        # per kernel: its measured batch timings, which decide when to split (parallel.Timing)
        self._timings: dict[str, parallel.Timing] = {}

    @property
    def stages(self) -> Stages:
        """Every intermediate of the compilation, in pipeline order, for inspection: the
        SymPy input, the graph, the derivatives, the tape, the LLVM IR before and after
        optimisation, the assembly (:class:`symjac.stages.Stages`).

        >>> import sympy as sp, symjac
        >>> x = sp.Symbol("x")
        >>> jac = symjac.jacobian([sp.sin(x) ** 2], [x])
        >>> jac.stages.sympy, len(jac.stages.tape) > 0
        ((sin(x)**2,), True)
        """
        if self._stages is None:
            raise ValueError("this object was not built by symjac's driver: no stages kept")
        return self._stages

    @property
    def wrt(self) -> tuple[Any, ...]:
        """The input symbols, in the order of ``x``'s columns.

        >>> import sympy as sp, symjac
        >>> x, y, a = sp.symbols("x y a")
        >>> symjac.jacobian([a * x * y], wrt=[x, y], params=[a]).wrt
        (x, y)
        """
        return self._wrt

    @property
    def params(self) -> tuple[Any, ...]:
        """The parameter symbols, in the order of ``p``'s columns.

        >>> import sympy as sp, symjac
        >>> x, y, a = sp.symbols("x y a")
        >>> symjac.jacobian([a * x * y], wrt=[x, y], params=[a]).params
        (a,)
        """
        return self._params

    @property
    def n_vars(self) -> int:
        """Number of inputs ``n``, the length of one point: ``len(wrt)``.

        >>> import sympy as sp, symjac
        >>> x, y, a = sp.symbols("x y a")
        >>> symjac.jacobian([a * x * y], wrt=[x, y], params=[a]).n_vars
        2
        """
        return len(self._wrt)

    @property
    def n_params(self) -> int:
        """Number of parameters ``k``: ``len(params)``.

        >>> import sympy as sp, symjac
        >>> x, y, a = sp.symbols("x y a")
        >>> symjac.jacobian([a * x * y], wrt=[x, y], params=[a]).n_params
        1
        """
        return len(self._params)

    def tape_listing(self, kernel: str | None = None) -> str:
        """The instruction tape a kernel runs per point, as text (default: the first kernel).

        The stage between the symbolic graph and LLVM IR: what every back end compiles.

        >>> import sympy as sp, symjac
        >>> x, y = sp.symbols("x y")
        >>> print(symjac.jacobian([x * sp.sin(y)], wrt=[x, y]).tape_listing())
        r0 = VAR 1          # y
        r1 = SIN r0         -> 0
        r2 = VAR 0          # x
        r3 = COS r0
        r4 = MUL r2 r3      -> 1
        """
        specs = {spec.name: spec for spec in self._kernels.specs}
        if kernel is not None and kernel not in specs:
            raise ValueError(f"no kernel {kernel!r}; this object has {sorted(specs)}")
        spec = specs[kernel] if kernel is not None else self._kernels.specs[0]
        return spec.tape.listing([str(s) for s in self._wrt], list(self._param_names))

    def llvm_ir(self) -> str:
        """The optimised LLVM IR of this object's kernels, as the JIT compiled it.

        >>> import sympy as sp, symjac
        >>> x = sp.Symbol("x")
        >>> "@llvm.sqrt.f64" in symjac.function([sp.sqrt(x)], wrt=[x]).llvm_ir()
        True
        """
        return self._kernels.jit.optimised_ir()

    def assembly(self) -> str:
        """The host machine code of this object's kernels, as assembly text.

        >>> import sympy as sp, symjac
        >>> x = sp.Symbol("x")
        >>> "function:" in symjac.function([x * x], wrt=[x]).assembly()
        True
        """
        return self._kernels.jit.assembly()

    def _run(self, name: str, row_shape: tuple[int, ...], x: Any, p: Any, out: Any) -> Array:
        # one point, exactly as the kernel takes it, is checked and run natively (~0.1 µs
        # of overhead); the native method calls _general for anything else
        native = self._natives.get(name, _UNMADE)
        if native is _UNMADE:
            native = self._native(self._kernels, name, row_shape)
        if native is not None:
            return native(x, p, out=out)
        return self._general(self._kernels, name, row_shape, x, p, out=out)

    def _native(self, kernels: Kernels, name: str, row_shape: tuple[int, ...]) -> Any:
        """Make (once) the native method of kernel ``name``, whose fallback is :meth:`_general`."""
        spec = next(spec for spec in kernels.specs if spec.name == name)
        native = None
        if spec.shape == row_shape:
            fallback = functools.partial(self._general, kernels, name, row_shape)
            native = kernels.native(name, fallback)
        self._natives[name] = native
        return native

    def _general(
        self,
        kernels: Kernels,
        name: str,
        row_shape: tuple[int, ...],
        x: Any,
        p: Any = None,
        *,
        out: Any = None,
    ) -> Array:
        """Any call: one point or a batch, validated and converted (:mod:`.arguments`)."""
        spec = next(spec for spec in kernels.specs if spec.name == name)
        points, batched = as_points(x, spec.tape.n_vars)
        return self._execute(kernels, name, row_shape, points, batched, p, out)

    def __getstate__(self) -> dict[str, Any]:
        state = self.__dict__.copy()
        # native methods and timings stay in their process
        del state["_natives"], state["_timings"]
        return state

    def __setstate__(self, state: dict[str, Any]) -> None:
        self.__dict__.update(state)
        self._timings = {}
        self._natives = {}

    def _execute(
        self,
        kernels: Kernels,
        name: str,
        row_shape: tuple[int, ...],
        points: Array,
        batched: bool,
        p: Any,
        out: Any,
    ) -> Array:
        """Validate ``p`` and ``out`` and run kernel ``name`` over the validated ``points``."""
        n = points.shape[0]
        kernels = kernels.for_batch(n)  # the SIMD build, once batches have paid for it
        params, p_stride = as_params(p, self._params, self._param_names, n, batched)
        shape = (n, *row_shape) if batched else row_shape
        if out is None:
            result = np.empty(shape, dtype=np.float64)
        else:
            result = check_out(out, shape, (points, params))
        if n:
            start = time.perf_counter()
            parallel.run(
                kernels.jit.kernel(name),
                n,
                (address(points), None if params is None else address(params), address(result)),
                (8 * points.shape[1], 8 * p_stride, 8 * (result.size // n)),
                p_stride,
                kernels.work_sizes[name],
                self.threads,
                self._timing(name),
            )
            if n >= SIMD_BATCH:  # what the SIMD build is bought and kept by (see for_batch)
                kernels.charge(n, time.perf_counter() - start)
        return result

    def _timing(self, name: str) -> parallel.Timing:
        """The measured batch timings of kernel ``name`` (made on first use)."""
        timing = self._timings.get(name)
        if timing is None:
            timing = self._timings.setdefault(name, parallel.Timing())
        return timing

    def _signature(self) -> str:
        args = _abbreviate([str(s) for s in self._wrt])
        if self._params:
            args += "; " + _abbreviate(list(self._param_names))
        return args


class CompiledFunction(_Compiled):
    """A compiled vector function f(x; p), from :func:`symjac.function`.

    >>> import numpy as np, sympy as sp, symjac
    >>> x, a = sp.symbols("x a")
    >>> f = symjac.function([a * x, x**2], wrt=[x], params=[a])
    >>> f(np.array([3.0]), [2.0]).tolist()
    [6.0, 9.0]
    """

    def __init__(self, kernels: Kernels, m: int, **kw: Any):
        super().__init__(kernels, **kw)
        self._m = m

    @property
    def shape(self) -> tuple[int]:
        """``(m,)``: the number of outputs.

        >>> import sympy as sp, symjac
        >>> x, y = sp.symbols("x y")
        >>> symjac.function([x * y, x + y, x], wrt=[x, y]).shape
        (3,)
        """
        return (self._m,)

    def __call__(self, x: Any, p: Any = None, *, out: Any = None) -> Array:
        """Evaluate at one point ``(n,)`` → ``(m,)`` or a batch ``(N, n)`` → ``(N, m)``."""
        return self._run("function", (self._m,), x, p, out)

    def to_sympy(self) -> Any:
        """The compiled outputs as a SymPy column Matrix (after symjac's front end).

        >>> import sympy as sp, symjac
        >>> x, y = sp.symbols("x y")
        >>> print(symjac.function([x * y, sp.sin(x)], wrt=[x, y]).to_sympy())
        Matrix([[x*y], [sin(x)]])
        """
        import sympy as sp

        from symjac.frontend.tosympy import tape_to_sympy

        return sp.Matrix(tape_to_sympy(self._symbolic, self._wrt, self._params))

    def __repr__(self) -> str:
        return f"<symjac.CompiledFunction f({self._signature()}) -> R^{self._m}>"


class CompiledJacobian(_Compiled):
    """A compiled Jacobian J = ∂f/∂x (x; p), from :func:`symjac.jacobian`.

    >>> import numpy as np, sympy as sp, symjac
    >>> x, y = sp.symbols("x y")
    >>> jac = symjac.jacobian([x * y, y**2], wrt=[x, y])
    >>> jac(np.array([2.0, 3.0])).tolist()
    [[3.0, 2.0], [0.0, 6.0]]
    >>> jac.values(np.array([2.0, 3.0])).tolist(), jac.nnz
    ([3.0, 2.0, 6.0], 3)
    """

    def __init__(
        self,
        kernels: Kernels,
        pattern: SparsityPattern,
        sparse_output: bool = False,
        derive: Derive | None = None,
        **kw: Any,
    ):
        super().__init__(kernels, **kw)
        self._pattern = pattern
        self._values_shape = (pattern.nnz,)
        self._sparse_output = sparse_output
        #: builds J·v / wᵀ·J kernels from this object's tape and entries (the builder's hook)
        self._derive = derive
        self._directional: dict[str, Kernels] = {}

    @property
    def sparse_output(self) -> bool:
        """Whether calling the object returns a SciPy sparse matrix (see ``sparse=``).

        >>> import numpy as np, sympy as sp, symjac
        >>> x, y = sp.symbols("x y")
        >>> jac = symjac.jacobian([x * y, y**2], wrt=[x, y], sparse=True)
        >>> jac.sparse_output, type(jac(np.array([2.0, 3.0]))).__name__
        (True, 'csr_array')
        """
        return self._sparse_output

    @property
    def pattern(self) -> SparsityPattern:
        """Where the nonzeros are (row-major); :meth:`values` follows this order.

        >>> import sympy as sp, symjac
        >>> x, y = sp.symbols("x y")
        >>> jac = symjac.jacobian([x * y, y**2], wrt=[x, y])
        >>> jac.pattern
        SparsityPattern(shape=(2, 2), nnz=3, density=0.75)
        >>> print(jac.pattern)
        ##
        .#
        """
        return self._pattern

    @property
    def shape(self) -> tuple[int, int]:
        """``(m, n)``: outputs × inputs.

        >>> import sympy as sp, symjac
        >>> x, y = sp.symbols("x y")
        >>> symjac.jacobian([x * y, y**2, x], wrt=[x, y]).shape
        (3, 2)
        """
        return self._pattern.shape

    @property
    def nnz(self) -> int:
        """Number of structurally nonzero entries.

        >>> import sympy as sp, symjac
        >>> x, y = sp.symbols("x y")
        >>> symjac.jacobian([x * y, y**2, x], wrt=[x, y]).nnz
        4
        """
        return self._pattern.nnz

    def __call__(self, x: Any, p: Any = None, *, out: Any = None) -> Any:
        """The Jacobian at one point ``(n,)`` → ``(m, n)`` or a batch ``(N, n)`` → ``(N, m, n)``.

        Dense by default; compiled with ``sparse=True`` (or ``"auto"`` for a large,
        sparse Jacobian) it returns :meth:`sparse` instead, for one point only.
        """
        if self._sparse_output:
            if out is not None:
                raise TypeError("out= is not available for sparse output; use values(out=...)")
            return self.sparse(x, p)
        return self.dense(x, p, out=out)

    def dense(self, x: Any, p: Any = None, *, out: Any = None) -> Array:
        """Dense Jacobian ``(m, n)`` or ``(N, m, n)``; every entry is written, zeros included.

        Available whatever ``sparse=`` the object was compiled with.

        >>> import numpy as np, sympy as sp, symjac
        >>> x, y = sp.symbols("x y")
        >>> jac = symjac.jacobian([x * y, y**2], wrt=[x, y], sparse=True)
        >>> jac.dense(np.array([2.0, 3.0])).tolist()
        [[3.0, 2.0], [0.0, 6.0]]
        """
        return self._run("dense", self._pattern.shape, x, p, out)

    def sparse(self, x: Any, p: Any = None, format: str = "csr") -> Any:
        """The Jacobian at one point as a ``scipy.sparse.csr_array`` (or ``"csc"``).

        For a batch of points use :meth:`values`, which returns ``(N, nnz)``.

        >>> import numpy as np, sympy as sp, symjac
        >>> x, y = sp.symbols("x y")
        >>> jac = symjac.jacobian([x * y, y**2], wrt=[x, y])
        >>> S = jac.sparse(np.array([2.0, 3.0]))
        >>> S.format, S.nnz, S.toarray().tolist()
        ('csr', 3, [[3.0, 2.0], [0.0, 6.0]])
        >>> jac.sparse(np.array([2.0, 3.0]), format="csc").format
        'csc'
        """
        return self._pattern.to_scipy(self._nonzeros(self._one_point(x), p), format=format)

    def _one_point(self, x: Any) -> Array:
        """``x`` validated as a single point; sparse results have no batch form."""
        points, batched = as_points(x, self.n_vars)
        if batched:
            raise ValueError(
                "sparse output takes one point (n,); for a batch use values(), which returns "
                "(N, nnz) in pattern order"
            )
        return points[0]

    def _nonzeros(self, point: Array, p: Any) -> Array:
        """The pattern's values at one point (subclasses return more from ``values``)."""
        return self.values(point, p)

    def _matrix(self, entries: Sequence[Any]) -> Any:
        """A SymPy matrix with ``entries`` at the pattern's positions, zero elsewhere."""
        import sympy as sp

        matrix = sp.zeros(*self._pattern.shape)
        for i, j, e in zip(self._pattern.rows, self._pattern.cols, entries):
            matrix[int(i), int(j)] = e
        return matrix

    def values(self, x: Any, p: Any = None, *, out: Any = None) -> Array:
        """The nonzeros only, in :attr:`pattern` order: ``(nnz,)`` or ``(N, nnz)``.

        >>> import numpy as np, sympy as sp, symjac
        >>> x, y = sp.symbols("x y")
        >>> jac = symjac.jacobian([x * y, y**2], wrt=[x, y])
        >>> jac.pattern.rows.tolist(), jac.pattern.cols.tolist()
        ([0, 0, 1], [0, 1, 1])
        >>> jac.values(np.array([[2.0, 3.0], [1.0, 1.0]])).tolist()
        [[3.0, 2.0, 6.0], [1.0, 1.0, 2.0]]
        """
        return self._run("values", self._values_shape, x, p, out)

    def _entries(self) -> list[tuple[int, int, int]]:
        """``(row, col, k)``: entry (row, col) is output ``k`` of the symbolic tape."""
        return [
            (int(i), int(j), k)
            for k, (i, j) in enumerate(zip(self._pattern.rows, self._pattern.cols))
        ]

    def _direction_kernels(self, kind: str) -> Kernels:
        kernels = self._directional.get(kind)
        if kernels is None:  # compiled on first use
            if self._derive is None or self._symbolic is None:
                raise NotImplementedError(f"{kind} needs an object made by symjac's builders")
            kernels = self._derive(self._symbolic, self._entries(), self.shape, kind)
            self._directional[kind] = kernels
        return kernels

    def _directional_call(self, kind: str, x: Any, d: Any, p: Any, out: Any) -> Array:
        m, n = self.shape
        length, width = (n, m) if kind == "jvp" else (m, n)  # of the direction, of the result
        kernels = self._direction_kernels(kind)
        if (  # one float64 point: the kernel's native method checks p and out (~1 µs)
            type(x) is np.ndarray
            and type(d) is np.ndarray
            and x.dtype == F64
            and d.dtype == F64
            and x.shape == (n,)
            and d.shape == (length,)
        ):
            native = self._natives.get(kind, _UNMADE)
            if native is _UNMADE:
                native = self._native(kernels, kind, (width,))
            if native is not None:
                return native(np.concatenate((x, d)), p, out=out)
        points, batched = as_points(x, n)
        direction, d_batched = as_points(d, length, what="v" if kind == "jvp" else "w")
        if d_batched and not batched:
            raise ValueError("a batch of directions needs a batch of points")
        if d_batched and direction.shape[0] != points.shape[0]:
            raise ValueError(
                f"{direction.shape[0]} directions for {points.shape[0]} points; "
                "they pair row by row"
            )
        if not d_batched:
            direction = np.broadcast_to(direction, (points.shape[0], length))
        combined = np.concatenate([points, direction], axis=1)
        return self._execute(kernels, kind, (width,), combined, batched, p, out)

    def jvp(self, x: Any, v: Any, p: Any = None, *, out: Any = None) -> Array:
        """J(x)·v without storing J: ``(m,)``, or ``(N, m)`` for a batch of points.

        ``v`` is ``(n,)`` (the same direction for every point) or ``(N, n)``.
        The kernel is compiled on the first call.

        >>> import numpy as np, sympy as sp, symjac
        >>> x, y = sp.symbols("x y")
        >>> jac = symjac.jacobian([x * y, x + y], wrt=[x, y])
        >>> jac.jvp(np.array([2.0, 3.0]), np.array([1.0, 0.0])).tolist()
        [3.0, 1.0]
        """
        return self._directional_call("jvp", x, v, p, out)

    def vjp(self, x: Any, w: Any, p: Any = None, *, out: Any = None) -> Array:
        """wᵀ·J(x) without storing J: ``(n,)``, or ``(N, n)`` for a batch of points.

        ``w`` is ``(m,)`` or ``(N, m)``. The kernel is compiled on the first call.

        >>> import numpy as np, sympy as sp, symjac
        >>> x, y = sp.symbols("x y")
        >>> jac = symjac.jacobian([x * y, x + y], wrt=[x, y])
        >>> jac.vjp(np.array([2.0, 3.0]), np.array([1.0, 0.0])).tolist()
        [3.0, 2.0]
        """
        return self._directional_call("vjp", x, w, p, out)

    def to_sympy(self) -> Any:
        """The derived Jacobian as a SymPy Matrix, for inspection.

        Symbols are treated as real, so ``Abs(x)`` differentiates to ``sign(x)``.

        >>> import sympy as sp, symjac
        >>> x, y = sp.symbols("x y")
        >>> print(symjac.jacobian([x * y, y**2], wrt=[x, y]).to_sympy())
        Matrix([[y, x], [0, 2*y]])
        """
        from symjac.frontend.tosympy import tape_to_sympy

        return self._matrix(tape_to_sympy(self._symbolic, self._wrt, self._params))

    def __repr__(self) -> str:
        m, n = self._pattern.shape
        return (
            f"<symjac.CompiledJacobian d({m} outputs)/d({self._signature()}): "
            f"shape=({m}, {n}), nnz={self.nnz}, density={self._pattern.density:.3g}>"
        )


class CompiledFunctionAndJacobian(CompiledJacobian):
    """f and J from one kernel that shares their common subexpressions.

    From :func:`symjac.function_and_jacobian`. Calling it returns ``(f, J)``;
    :meth:`values` returns ``(f, nonzeros of J)``.

    >>> import numpy as np, sympy as sp, symjac
    >>> x, y = sp.symbols("x y")
    >>> fj = symjac.function_and_jacobian([x * y, sp.exp(x)], wrt=[x, y])
    >>> f, J = fj(np.array([0.0, 2.0]))
    >>> f.tolist(), J.tolist()
    ([0.0, 1.0], [[2.0, 0.0], [1.0, 0.0]])
    """

    def _entries(self) -> list[tuple[int, int, int]]:
        m = self.shape[0]
        return [(i, j, m + k) for i, j, k in super()._entries()]

    def __call__(self, x: Any, p: Any = None, *, out: Any = None) -> Any:
        """``(f, J)``: f ``(m,)`` and J dense ``(m, n)`` (or sparse); batched: ``(N, ...)``.

        Both are views into one freshly allocated array.
        """
        if out is not None:
            raise TypeError("function_and_jacobian results have no out=; use values(out=...)")
        m, n = self.shape
        if self._sparse_output:
            f, values = self.values(self._one_point(x), p)
            return f, self._pattern.to_scipy(values)
        both = self._run("dense", (m + m * n,), x, p, None)
        return both[..., :m], both[..., m:].reshape(*both.shape[:-1], m, n)

    def _nonzeros(self, point: Array, p: Any) -> Array:
        return self.values(point, p)[1]

    def dense(self, x: Any, p: Any = None, *, out: Any = None) -> Array:
        """J alone, dense; see :meth:`CompiledJacobian.dense`.

        >>> import numpy as np, sympy as sp, symjac
        >>> x, y = sp.symbols("x y")
        >>> fj = symjac.function_and_jacobian([x * y, sp.exp(x)], wrt=[x, y])
        >>> fj.dense(np.array([0.0, 2.0])).tolist()
        [[2.0, 0.0], [1.0, 0.0]]
        """
        m, n = self.shape
        both = self._run("dense", (m + m * n,), x, p, None)
        jac = both[..., m:].reshape(*both.shape[:-1], m, n)
        if out is None:
            return np.ascontiguousarray(jac)
        target = check_out(out, jac.shape, ())
        target[...] = jac
        return target

    def values(self, x: Any, p: Any = None, *, out: Any = None) -> Any:
        """``(f, nonzeros)``, views into one array of shape ``(m + nnz,)`` or ``(N, m + nnz)``.

        ``out``, if given, is that whole array.

        >>> import numpy as np, sympy as sp, symjac
        >>> x, y = sp.symbols("x y")
        >>> fj = symjac.function_and_jacobian([x * y, sp.exp(x)], wrt=[x, y])
        >>> f, nonzeros = fj.values(np.array([0.0, 2.0]))
        >>> f.tolist(), nonzeros.tolist()
        ([0.0, 1.0], [2.0, 0.0, 1.0])
        """
        m = self.shape[0]
        both = self._run("values", (m + self.nnz,), x, p, out)
        return both[..., :m], both[..., m:]

    def to_sympy(self) -> Any:
        """``(f, J)`` as SymPy matrices.

        >>> import sympy as sp, symjac
        >>> x, y = sp.symbols("x y")
        >>> f, J = symjac.function_and_jacobian([x * y, sp.exp(x)], wrt=[x, y]).to_sympy()
        >>> print(f, J)
        Matrix([[x*y], [exp(x)]]) Matrix([[y, x], [exp(x), 0]])
        """
        import sympy as sp

        from symjac.frontend.tosympy import tape_to_sympy

        m = self.shape[0]
        exprs = tape_to_sympy(self._symbolic, self._wrt, self._params)
        return sp.Matrix(exprs[:m]), self._matrix(exprs[m:])

    def __repr__(self) -> str:
        return super().__repr__().replace("CompiledJacobian", "CompiledFunctionAndJacobian")


class CompiledHessian(CompiledJacobian):
    """A compiled Hessian, from :func:`symjac.hessian`.

    The :attr:`pattern` is the lower triangle (row ≥ column), stored once;
    :meth:`values` follows it. Calling the object gives the full symmetric
    matrix, exactly symmetric. :meth:`jvp` is the Hessian-vector product.

    >>> import numpy as np, sympy as sp, symjac
    >>> x, y = sp.symbols("x y")
    >>> h = symjac.hessian(x**2 * y, wrt=[x, y])
    >>> h(np.array([1.0, 3.0])).tolist()
    [[6.0, 2.0], [2.0, 0.0]]
    >>> h.pattern.rows.tolist(), h.pattern.cols.tolist()
    ([0, 1], [0, 0])
    """

    def _entries(self) -> list[tuple[int, int, int]]:
        lower = super()._entries()
        return lower + [(j, i, k) for i, j, k in lower if i != j]

    @functools.cached_property
    def full_pattern(self) -> SparsityPattern:
        """Both triangles: where the full symmetric matrix can be nonzero.

        >>> import sympy as sp, symjac
        >>> x, y = sp.symbols("x y")
        >>> h = symjac.hessian(x**2 * y, wrt=[x, y])
        >>> h.pattern.nnz, h.full_pattern.nnz
        (2, 3)
        >>> print(h.full_pattern)
        ##
        #.
        """
        rows, cols = self._pattern.rows.tolist(), self._pattern.cols.tolist()
        return SparsityPattern(self._pattern.shape, [*zip(rows, cols), *zip(cols, rows)])

    @functools.cached_property
    def _full_from_lower(self) -> npt.NDArray[np.int64]:
        """For each entry of :attr:`full_pattern`, its index in the lower-triangle values."""
        lower = {(i, j): k for k, (i, j) in enumerate(zip(self._pattern.rows, self._pattern.cols))}
        full = self.full_pattern
        return np.array([lower[max(i, j), min(i, j)] for i, j in zip(full.rows, full.cols)])

    def dense(self, x: Any, p: Any = None, *, out: Any = None) -> Array:
        """The full symmetric Hessian ``(n, n)`` or ``(N, n, n)``; every entry is written.

        >>> import numpy as np, sympy as sp, symjac
        >>> x, y = sp.symbols("x y")
        >>> h = symjac.hessian(x**2 * y, wrt=[x, y])
        >>> h.dense(np.array([[1.0, 3.0], [2.0, 1.0]])).tolist()
        [[[6.0, 2.0], [2.0, 0.0]], [[2.0, 4.0], [4.0, 0.0]]]
        """
        values = self.values(x, p)
        n = self.shape[0]
        shape = (*values.shape[:-1], n, n)
        result = np.empty(shape) if out is None else check_out(out, shape, ())
        result[...] = 0.0
        rows, cols = self._pattern.rows, self._pattern.cols
        result[..., cols, rows] = values
        result[..., rows, cols] = values
        return result

    def _nonzeros(self, point: Array, p: Any) -> Array:
        return self.values(point, p)[self._full_from_lower]

    def sparse(self, x: Any, p: Any = None, format: str = "csr") -> Any:
        """The full symmetric Hessian at one point as a SciPy sparse matrix (no dense n×n).

        >>> import numpy as np, sympy as sp, symjac
        >>> x, y = sp.symbols("x y")
        >>> h = symjac.hessian(x**2 * y, wrt=[x, y])
        >>> S = h.sparse(np.array([1.0, 3.0]))
        >>> S.nnz, S.toarray().tolist()
        (3, [[6.0, 2.0], [2.0, 0.0]])
        """
        return self.full_pattern.to_scipy(self._nonzeros(self._one_point(x), p), format=format)

    def to_sympy(self) -> Any:
        """The full symmetric Hessian as a SymPy Matrix.

        >>> import sympy as sp, symjac
        >>> x, y = sp.symbols("x y")
        >>> print(symjac.hessian(x**2 * y, wrt=[x, y]).to_sympy())
        Matrix([[2*y, 2*x], [2*x, 0]])
        """
        matrix = super().to_sympy()
        n = self.shape[0]
        for i in range(n):
            for j in range(i):
                matrix[j, i] = matrix[i, j]
        return matrix

    def __repr__(self) -> str:
        n = self.shape[0]
        return (
            f"<symjac.CompiledHessian d²/d({self._signature()})²: shape=({n}, {n}), "
            f"lower-triangle nnz={self.nnz}>"
        )
