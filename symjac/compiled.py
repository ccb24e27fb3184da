"""The objects users call: compiled functions and Jacobians.

Their result layouts and call path are the shared runtime's (:mod:`symjac.runtime.calls`,
which emitted Python packages run too); what is added here needs llvmlite or SymPy. Each
object owns the :class:`~symjac.codegen.JitModule` whose machine code it calls, runs one
point of its dtype through the kernel's native method (~0.1 µs) and anything else through the
runtime's Python path, buys the SIMD build once batches have paid for it, and offers
sparse results, ``jvp``/``vjp`` (compiled on first use through the driver's hook),
``to_sympy`` and ``stages``.
"""

from __future__ import annotations

import functools
from collections.abc import Callable, Sequence
from typing import Any

import numpy as np
import numpy.typing as npt

from symjac.codegen.llvm.build import SIMD_BATCH, Kernels
from symjac.ir.tape import Tape
from symjac.runtime.abi import EXACT
from symjac.runtime.arguments import Array, as_params, as_points
from symjac.runtime.calls import (
    Charge,
    Function,
    FunctionAndJacobian,
    Hessian,
    Jacobian,
    Kernel,
    KernelFn,
)
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


class _Compiled(Kernel):
    """What symjac's objects add to the shared runtime (:class:`symjac.runtime.calls.Kernel`):
    the JIT module they own, the native one-point method, the SIMD build, inspection."""

    def _setup(
        self,
        kernels: Kernels,
        symbolic: Tape,
        stats: Stats,
        stages: Stages | None = None,
        dtype: Any = None,
    ) -> None:
        self._kernels = kernels
        #: what the kernels compute in, and every array's dtype (``dtype=`` of the builder;
        #: a complex128 object's kernels are float64 ones over (re, im) pairs)
        self.dtype = kernels.build.type.numpy if dtype is None else np.dtype(dtype)
        self._stages = stages
        #: kernel name → its native method for one point (made on first use), or None
        self._natives: dict[str, Any] = {}
        #: J·v / wᵀ·J kernels, by name, compiled on first use (CompiledJacobian)
        self._directional: dict[str, Kernels] = {}
        #: kernel name → its twin's (complex kernels), or None; filled on first use
        self._twins: dict[str, str | None] = {}
        self._symbolic = symbolic
        self.stats = stats

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

    def _kernels_for(self, name: str) -> Kernels:
        """The kernels that hold kernel ``name``: the object's, a directional pair's, or (a
        complex kernel's twin, compiled on first use) their deferred kernels'."""
        kernels = self._directional.get(name)
        if kernels is not None:
            return kernels
        if name.endswith(EXACT):
            return self._kernels_for(name[: -len(EXACT)]).deferred_kernels()
        return self._kernels

    def _width(self, name: str) -> int:
        kernels = self._directional.get(name)
        if kernels is None:
            return len(self._wrt)
        n_vars = next(spec for spec in kernels.specs if spec.name == name).tape.n_vars
        return n_vars // (2 if self.dtype.kind == "c" else 1)  # complex: (re, im) pairs

    def _run(
        self, name: str, row_shape: tuple[int, ...], x: Any, p: Any = None, out: Any = None
    ) -> Array:
        # one point, exactly as the kernel takes it, is checked and run natively (~0.1 µs
        # of overhead); the native method calls the Python path for anything else
        native = self._natives.get(name, _UNMADE)
        if native is _UNMADE:
            native = self._native(name, row_shape)
        if native is not None:
            return native(x, p, out=out)
        return super()._run(name, row_shape, x, p, out)

    def _native(self, name: str, row_shape: tuple[int, ...]) -> Any:
        """Make (once) the native method of kernel ``name``, whose fallback is the Python path."""
        kernels = self._kernels_for(name)
        spec = next(spec for spec in kernels.specs if spec.name == name)
        native = None
        parts = self.dtype.itemsize // kernels.build.type.itemsize  # complex: (re, im)
        if spec.shape == (*row_shape[:-1], parts * row_shape[-1]):
            fallback = functools.partial(super()._run, name, row_shape)
            native = kernels.native(name, fallback, self.dtype)
            if native is not None and self._twin(name) is not None:
                native = self._checked(native, fallback)
        self._natives[name] = native
        return native

    @staticmethod
    def _checked(native: Any, general: Callable[..., Array]) -> Callable[..., Array]:
        """``native``, then the general path for a point it left a NaN in: a complex kernel's
        twin recomputes it with Annex G's recovery (real kernels' natives are not wrapped)."""

        def run(x: Any, p: Any = None, *, out: Any = None) -> Array:
            result = native(x, p, out=out)
            if np.isnan(result.sum()):
                return general(x, p, result)
            return result

        return run

    def _twin(self, name: str) -> str | None:
        try:
            return self._twins[name]
        except KeyError:  # looked up once per kernel: every call asks
            twin: str | None = name + EXACT
            if not any(spec.name == twin for spec in self._kernels_for(name).deferred):
                twin = None
            return self._twins.setdefault(name, twin)

    def _entry(self, name: str, n: int) -> tuple[KernelFn, int, Charge | None]:
        kernels = self._kernels_for(name).for_batch(n)  # the SIMD build, once batches paid
        # batches of SIMD size are what the SIMD build is bought and kept by (see for_batch)
        charge = kernels.charge if n >= SIMD_BATCH else None
        return kernels.jit.kernel(name), kernels.work_sizes[name], charge

    def __getstate__(self) -> dict[str, Any]:
        state = self.__dict__.copy()
        # native methods and timings stay in their process
        del state["_natives"], state["_timings"]
        return state

    def __setstate__(self, state: dict[str, Any]) -> None:
        self.__dict__.update(state)
        self._timings = {}
        self._natives = {}

    def _signature(self) -> str:
        args = _abbreviate([str(s) for s in self._wrt])
        if self._params:
            args += "; " + _abbreviate(list(self._param_names))
        return args

    def _dtype_note(self) -> str:
        """``, dtype=float32`` in a repr, for kernels that are not float64 (the default)."""
        return "" if self.dtype == np.float64 else f", dtype={self.dtype}"


class CompiledFunction(_Compiled, Function):
    """A compiled vector function f(x; p), from :func:`symjac.function`.

    >>> import numpy as np, sympy as sp, symjac
    >>> x, a = sp.symbols("x a")
    >>> f = symjac.function([a * x, x**2], wrt=[x], params=[a])
    >>> f(np.array([3.0]), [2.0]).tolist()
    [6.0, 9.0]
    """

    def __init__(
        self, kernels: Kernels, m: int, *, wrt: Sequence[Any], params: Sequence[Any], **kw: Any
    ):
        Function.__init__(self, wrt, params, m)
        self._setup(kernels, **kw)

    def low_level_callable(self, p: Any = None, output: int = 0) -> Any:
        """Output ``output`` at one point as a ``scipy.LowLevelCallable`` of signature
        ``double (int, double *, void *)``, which ``scipy.integrate.quad``, ``dblquad`` and
        ``nquad`` call without Python in the loop. The point is given in ``wrt`` order; the
        parameters ``p`` are bound now (a copy, kept alive with the callable).

        >>> import numpy as np, sympy as sp, symjac
        >>> from scipy.integrate import quad
        >>> x, a = sp.symbols("x a")
        >>> f = symjac.function([sp.exp(-a * x**2)], wrt=[x], params=[a])
        >>> value, err = quad(f.low_level_callable([1.0]), -np.inf, np.inf)
        >>> bool(abs(value - np.sqrt(np.pi)) < 1e-12)
        True
        """
        import ctypes

        from scipy import LowLevelCallable

        from symjac.codegen.llvm.lowlevel import point_function

        if self.dtype != np.float64:  # SciPy's integrators call double (int, double *, void *)
            raise TypeError(f"low_level_callable needs a float64 function, not {self.dtype}")
        if isinstance(output, bool) or not isinstance(output, int) or not 0 <= output < self._m:
            raise ValueError(f"output must be an int in 0..{self._m - 1}, not {output!r}")
        params, _ = as_params(p, self._params, self._param_names, 1, False)
        kernels = self._kernels  # one lane: the wrapper computes one point
        function = point_function(
            kernels.jit.address("function"),
            len(self._wrt),
            self._m,
            output,
            kernels.work_sizes["function"],
        )
        function._kernels = kernels  # their engine, kept alive with it
        if params is None:
            return LowLevelCallable(function)
        values = (ctypes.c_double * len(params))(*params.tolist())
        # cast keeps `values` alive in the result's _objects, which LowLevelCallable holds
        return LowLevelCallable(function, ctypes.cast(values, ctypes.c_void_p))

    def to_sympy(self) -> Any:
        """The compiled outputs as a SymPy column Matrix (after symjac's front end).

        The expressions are exact, whatever :attr:`dtype` the kernel computes in: a float32
        kernel evaluates them in float32, each constant rounded to float32 once.

        >>> import sympy as sp, symjac
        >>> x, y = sp.symbols("x y")
        >>> print(symjac.function([x * y, sp.sin(x)], wrt=[x, y]).to_sympy())
        Matrix([[x*y], [sin(x)]])
        """
        import sympy as sp

        from symjac.frontend.tosympy import tape_to_sympy

        return sp.Matrix(tape_to_sympy(self._symbolic, self._wrt, self._params))

    def __repr__(self) -> str:
        return (
            f"<symjac.CompiledFunction f({self._signature()}) -> R^{self._m}{self._dtype_note()}>"
        )


class CompiledJacobian(_Compiled, Jacobian):
    """A compiled Jacobian J = ∂f/∂x (x; p), from :func:`symjac.jacobian`.

    >>> import numpy as np, sympy as sp, symjac
    >>> x, y = sp.symbols("x y")
    >>> jac = symjac.jacobian([x * y, y**2], wrt=[x, y])
    >>> jac(np.array([2.0, 3.0])).tolist()
    [[3.0, 2.0], [0.0, 6.0]]
    >>> jac.values(np.array([2.0, 3.0])).tolist(), jac.nnz
    ([3.0, 2.0, 6.0], 3)
    """

    _pattern: SparsityPattern

    def __init__(
        self,
        kernels: Kernels,
        pattern: SparsityPattern,
        sparse_output: bool = False,
        derive: Derive | None = None,
        *,
        wrt: Sequence[Any],
        params: Sequence[Any],
        **kw: Any,
    ):
        Jacobian.__init__(self, wrt, params, pattern)
        self._setup(kernels, **kw)
        self._sparse_output = sparse_output
        #: builds J·v / wᵀ·J kernels from this object's tape and entries (the builder's hook)
        self._derive = derive

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

    def __call__(self, x: Any, p: Any = None, *, out: Any = None) -> Any:
        """The Jacobian at one point ``(n,)`` → ``(m, n)`` or a batch ``(N, n)`` → ``(N, m, n)``.

        Dense by default; compiled with ``sparse=True`` (or ``"auto"`` for a large,
        sparse Jacobian) it returns :meth:`sparse` instead, for one point only.
        """
        if self._sparse_output:
            if out is not None:
                raise TypeError("out= is not available for sparse output; use values(out=...)")
            return self.sparse(x, p)
        return super().__call__(x, p, out=out)

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
        points, batched = as_points(x, self.n_vars, dtype=self.dtype)
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
        self._direction_kernels(kind)
        if (  # one point of the dtype: one array for the kernel's native method (~1 µs)
            type(x) is np.ndarray
            and type(d) is np.ndarray
            and x.dtype == self.dtype
            and d.dtype == self.dtype
            and x.shape == (n,)
            and d.shape == (length,)
        ):
            return self._run(kind, (width,), np.concatenate((x, d)), p, out)
        points, batched = as_points(x, n, dtype=self.dtype)
        what = "v" if kind == "jvp" else "w"
        direction, d_batched = as_points(d, length, what=what, dtype=self.dtype)
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
        return self._execute(kind, (width,), combined, batched, p, out)

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

        Symbols are treated as real, so ``Abs(x)`` differentiates to ``sign(x)``. The
        entries are exact, whatever :attr:`dtype` the kernel computes them in (a float32
        kernel: in float32, each constant rounded to float32 once).

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
            f"shape=({m}, {n}), nnz={self.nnz}, density={self._pattern.density:.3g}"
            f"{self._dtype_note()}>"
        )


class CompiledFunctionAndJacobian(CompiledJacobian, FunctionAndJacobian):
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
        """``(f, J)``: f ``(m,)`` and J dense ``(m, n)`` (or sparse, for one point);
        batched: ``(N, ...)``. Both are views into one freshly allocated array.

        >>> import numpy as np, sympy as sp, symjac
        >>> x, y = sp.symbols("x y")
        >>> fj = symjac.function_and_jacobian([x * y, sp.exp(x)], wrt=[x, y], sparse=True)
        >>> f, J = fj(np.array([0.0, 2.0]))
        >>> f.tolist(), J.format, J.toarray().tolist()
        ([0.0, 1.0], 'csr', [[2.0, 0.0], [1.0, 0.0]])
        """
        if self._sparse_output and out is None:
            f, values = self.values(self._one_point(x), p)
            return f, self._pattern.to_scipy(values)
        return FunctionAndJacobian.__call__(self, x, p, out=out)

    def _nonzeros(self, point: Array, p: Any) -> Array:
        return self.values(point, p)[1]

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


class CompiledHessian(CompiledJacobian, Hessian):
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
            f"lower-triangle nnz={self.nnz}{self._dtype_note()}>"
        )
