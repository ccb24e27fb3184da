"""What a compiled object does with NumPy: its result layouts and its call path.

One runtime serves both kinds of compiled object. symjac's JIT objects
(:mod:`symjac.compiled`) subclass these classes and add what needs llvmlite or SymPy: the
native one-point method, the SIMD build, sparse results, ``to_sympy`` and ``stages``.
A package written by ``symjac.emit(..., target="python")`` runs these very classes: this
file is copied into it verbatim as ``_calls.py``, beside verbatim copies of
:mod:`.arguments` (``_arguments.py``: validation), :mod:`.parallel` (``_parallel.py``:
batches split across cores) and :mod:`.abi` (``_abi.py``: the kernel signature), a shared
library of the kernels and ``metadata.json`` (read by :func:`load`). So an emitted kernel
accepts, rejects, lays out and threads exactly what the compiled object does. Needs NumPy
and the standard library only.

A call: :meth:`Kernel._run` validates ``x`` (:func:`.arguments.as_points`), then
:meth:`Kernel._execute` validates ``p`` and ``out``, allocates the result and hands the
batch to :meth:`Kernel._launch`, one kernel call per chunk of points
(:func:`.parallel.run`). The layouts — a Jacobian's dense matrix or nonzeros, f and J
as views of one array, a Hessian mirrored from its lower triangle — are the methods of
:class:`Function`, :class:`Jacobian`, :class:`FunctionAndJacobian` and :class:`Hessian`.

The examples below run inside symjac (under ``pytest --doctest-modules``); those that
emit a package need a C compiler.
"""

from __future__ import annotations

import ctypes
import json
import os
import time
from collections.abc import Callable, Mapping, Sequence
from typing import Any

import numpy as np

try:  # inside an emitted package: its own copies of symjac/runtime/*.py
    from . import _parallel as parallel  # type: ignore[attr-defined]
    from ._abi import EXACT, ctypes_argtypes
    from ._arguments import address, as_params, as_points, check_out
except ImportError:  # imported from symjac itself
    from symjac.runtime import parallel
    from symjac.runtime.abi import EXACT, ctypes_argtypes
    from symjac.runtime.arguments import address, as_params, as_points, check_out

#: the metadata file next to an emitted package's library, written by symjac.codegen.pypackage
METADATA = "metadata.json"
#: the version of the metadata layout :func:`load` reads
FORMAT = 1

Array = np.ndarray
#: a kernel: ``(x, p, out, n, p_stride, work)``, addresses and int64s (the kernel ABI)
KernelFn = Callable[..., Any]
#: told ``(points, seconds)`` after a batch ran (the JIT objects' SIMD build is bought by it)
Charge = Callable[[int, float], None]


def _parts(dtype: np.dtype[Any]) -> int:
    """The kernel's scalars per value of ``dtype``: a complex128 kernel is a float64 kernel
    over (re, im) pairs, NumPy's own layout of complex arrays.

    >>> _parts(np.dtype(np.complex128)), _parts(np.dtype(np.float32))
    (2, 1)
    """
    return 2 if dtype.kind == "c" else 1


def _frozen(values: Any) -> Array:
    arr = np.array(values, dtype=np.int64)
    arr.flags.writeable = False
    return arr


class Pattern:
    """Where the structurally nonzero entries are, row-major (CSR order): an emitted
    package's pattern (symjac's objects have the richer :class:`symjac.SparsityPattern`).

    >>> pat = Pattern((2, 3), [0, 0, 1], [0, 2, 1])
    >>> pat.indptr.tolist(), pat.indices.tolist(), pat.nnz
    ([0, 2, 3], [0, 2, 1], 3)
    """

    def __init__(self, shape: tuple[int, int], rows: Any, cols: Any):
        self.shape = (int(shape[0]), int(shape[1]))
        self.rows = _frozen(rows)
        self.cols = _frozen(cols)
        counts = np.bincount(self.rows, minlength=self.shape[0])
        self.indptr = _frozen(np.concatenate([[0], np.cumsum(counts)]))
        self.indices = self.cols

    @property
    def nnz(self) -> int:
        """The number of structurally nonzero entries.

        >>> Pattern((2, 3), [0, 0, 1], [0, 2, 1]).nnz
        3
        """
        return int(self.rows.size)

    def to_dense(self) -> Array:
        """A boolean ``shape`` array, True at the entries that can be nonzero.

        >>> Pattern((2, 3), [0, 0, 1], [0, 2, 1]).to_dense()
        array([[ True, False,  True],
               [False,  True, False]])
        """
        dense = np.zeros(self.shape, dtype=bool)
        dense[self.rows, self.cols] = True
        return dense

    def __repr__(self) -> str:
        return f"<Pattern shape={self.shape} nnz={self.nnz}>"


class Kernel:
    """Compiled kernels behind one call interface: argument checks and the batch call.

    ``wrt`` and ``params`` name the inputs and parameters, in the order ``x`` and ``p``
    give them (SymPy symbols in symjac, strings in an emitted package); ``entries`` maps
    each kernel name (``values``, ``dense``, ``function``) to its function with the kernel
    ABI and its work buffer in values of :attr:`dtype`.

    >>> import sympy as sp, symjac
    >>> x, y, a = sp.symbols("x y a")
    >>> jac = symjac.jacobian([a * x * y, sp.sin(x)], [x, y], [a])
    >>> isinstance(jac, Kernel), jac.wrt, jac.params
    (True, (x, y), (a,))
    >>> jac([0.0, 2.0], {"a": 3.0})  # parameters by position or by name
    array([[6., 0.],
           [1., 0.]])
    """

    #: an emitted package's name (its repr shows it)
    name = ""
    #: what the kernels compute in, and the dtype of every array they take and return
    #: (inputs are converted to it, ``out=`` must have it); set from the compile options or
    #: an emitted package's metadata
    dtype: np.dtype[Any] = np.dtype(np.float64)

    def __init__(
        self,
        wrt: Sequence[Any],
        params: Sequence[Any],
        entries: Mapping[str, tuple[KernelFn, int]] | None = None,
    ):
        self._wrt = tuple(wrt)
        self._params = tuple(params)
        self._param_names = tuple(str(s) for s in params)
        self._functions = dict(entries or {})
        #: threads a large batch may be split across (default: the cores available); 1 = serial
        self.threads = parallel.available_cores()
        # per kernel: its measured batch timings, which decide when to split (parallel.Timing)
        self._timings: dict[str, parallel.Timing] = {}

    @property
    def wrt(self) -> tuple[Any, ...]:
        """The inputs, in the order of ``x``'s columns.

        >>> import sympy as sp, symjac
        >>> x, y, a = sp.symbols("x y a")
        >>> symjac.jacobian([a * x * y], wrt=[x, y], params=[a]).wrt
        (x, y)
        """
        return self._wrt

    @property
    def params(self) -> tuple[Any, ...]:
        """The parameters, in the order of ``p``'s columns.

        >>> import sympy as sp, symjac
        >>> x, y, a = sp.symbols("x y a")
        >>> symjac.jacobian([a * x * y], wrt=[x, y], params=[a]).params
        (a,)
        """
        return self._params

    def _width(self, name: str) -> int:
        """The columns of ``x`` kernel ``name`` takes."""
        return len(self._wrt)

    def _run(
        self, name: str, row_shape: tuple[int, ...], x: Any, p: Any = None, out: Any = None
    ) -> Array:
        """Any call of kernel ``name``: one point or a batch, validated and converted."""
        points, batched = as_points(x, self._width(name), dtype=self.dtype)
        return self._execute(name, row_shape, points, batched, p, out)

    def _execute(
        self,
        name: str,
        row_shape: tuple[int, ...],
        points: Array,
        batched: bool,
        p: Any,
        out: Any,
    ) -> Array:
        """Validate ``p`` and ``out`` and run kernel ``name`` over the validated ``points``."""
        n, dtype = points.shape[0], self.dtype
        params, p_stride = as_params(p, self._params, self._param_names, n, batched, dtype)
        shape = (n, *row_shape) if batched else row_shape
        if out is None:
            result = np.empty(shape, dtype=dtype)
        else:
            result = check_out(out, shape, (points, params), dtype)
        if n:
            size = dtype.itemsize
            self._launch(
                name,
                n,
                (address(points), None if params is None else address(params), address(result)),
                (size * points.shape[1], size * p_stride, size * (result.size // n)),
                p_stride * _parts(dtype),  # the kernel counts in its scalars: (re, im) pairs
            )
            twin = self._twin(name)
            if twin is not None:
                self._recompute(twin, row_shape, points, params, p_stride, result)
        return result

    def _twin(self, name: str) -> str | None:
        """The kernel that computes again the points whose row kernel ``name`` left a NaN
        in (a complex kernel's twin with Annex G's recovery of infinities), or None."""
        twin = name + EXACT
        return twin if twin in self._functions else None

    def _recompute(
        self,
        twin: str,
        row_shape: tuple[int, ...],
        points: Array,
        params: Array | None,
        p_stride: int,
        result: Array,
    ) -> None:
        """Run ``twin`` again on the points whose row of ``result`` holds a NaN."""
        n = points.shape[0]
        rows = result.reshape(n, -1)
        if not np.isnan(rows.sum()):  # one sum finds any NaN (and inf - inf: checked below)
            return
        bad = np.flatnonzero(np.isnan(rows).any(axis=1))
        if bad.size:
            again = params if params is None or not p_stride else params[bad]
            redo = self._execute(twin, row_shape, points[bad], True, again, None)
            rows[bad] = redo.reshape(bad.size, -1)

    def _launch(
        self,
        name: str,
        n: int,
        addresses: tuple[int, int | None, int],
        row_bytes: tuple[int, int, int],
        p_stride: int,
    ) -> None:
        """Run kernel ``name`` over ``n`` points of validated arrays (on several threads
        when measurement says it pays)."""
        function, work, charge = self._entry(name, n)
        scalar = self.dtype.itemsize // _parts(self.dtype)
        work = -(-work * scalar // 8)  # the kernel's scalars -> doubles (parallel)
        start = time.perf_counter()
        parallel.run(
            function, n, addresses, row_bytes, p_stride, work, self.threads, self._timing(name)
        )
        if charge is not None:
            charge(n, time.perf_counter() - start)

    def _entry(self, name: str, n: int) -> tuple[KernelFn, int, Charge | None]:
        """What runs kernel ``name`` on a batch of ``n`` points: the function, its work buffer
        in values of :attr:`dtype`, and what is told the batch's time (None: nothing)."""
        function, work = self._functions[name]
        return function, work, None

    def _timing(self, name: str) -> parallel.Timing:
        """The measured batch timings of kernel ``name`` (made on first use)."""
        timing = self._timings.get(name)
        if timing is None:
            timing = self._timings.setdefault(name, parallel.Timing())
        return timing

    def __repr__(self) -> str:
        label = f"{self.name}: " if self.name else ""
        return f"<{label}{type(self).__name__} of ({', '.join(str(s) for s in self._wrt)})>"


class Function(Kernel):
    """f(x; p): ``(n,)`` → ``(m,)``, ``(N, n)`` → ``(N, m)``.

    >>> import sympy as sp, symjac
    >>> x, y, a = sp.symbols("x y a")
    >>> f = symjac.function([a * x * y, x + y], [x, y], [a])
    >>> isinstance(f, Function), f.shape
    (True, (2,))
    >>> f([1.0, 2.0], [3.0])
    array([6., 3.])
    >>> f([[1.0, 2.0], [0.5, 0.5]], [3.0])  # N points, shared parameters
    array([[6.  , 3.  ],
           [0.75, 1.  ]])
    """

    def __init__(
        self,
        wrt: Sequence[Any],
        params: Sequence[Any],
        m: int,
        entries: Mapping[str, tuple[KernelFn, int]] | None = None,
    ):
        super().__init__(wrt, params, entries)
        self._m = int(m)

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
        """Evaluate at one point ``(n,)`` → ``(m,)`` or a batch ``(N, n)`` → ``(N, m)``.

        >>> import numpy as np, sympy as sp, symjac
        >>> x, a = sp.symbols("x a")
        >>> f = symjac.function([a * x, x**2], wrt=[x], params=[a])
        >>> out = np.empty(2)
        >>> f(np.array([3.0]), [2.0], out=out) is out, out.tolist()
        (True, [6.0, 9.0])
        """
        return self._run("function", (self._m,), x, p, out)


class Jacobian(Kernel):
    """J(x; p): dense ``(m, n)`` / ``(N, m, n)``, or the nonzeros in pattern order.

    >>> import sympy as sp, symjac
    >>> x, y, a = sp.symbols("x y a")
    >>> jac = symjac.jacobian([a * x * y, sp.sin(x)], [x, y], [a])
    >>> isinstance(jac, Jacobian), jac.nnz
    (True, 3)
    >>> jac([0.0, 2.0], [3.0])
    array([[6., 0.],
           [1., 0.]])
    >>> jac.values([0.0, 2.0], [3.0])  # the nonzeros only
    array([6., 0., 1.])
    """

    def __init__(
        self,
        wrt: Sequence[Any],
        params: Sequence[Any],
        pattern: Any,
        entries: Mapping[str, tuple[KernelFn, int]] | None = None,
    ):
        super().__init__(wrt, params, entries)
        self._pattern = pattern
        # kept as plain tuples: every call reads them
        self._shape = (int(pattern.shape[0]), int(pattern.shape[1]))
        self._values_shape = (int(pattern.nnz),)

    @property
    def pattern(self) -> Any:
        """Where the nonzeros are (row-major: ``rows``, ``cols``, ``indptr``, ``indices``);
        :meth:`values` follows this order. A :class:`Pattern` in an emitted package, a
        :class:`symjac.SparsityPattern` in symjac's objects.

        >>> meta = {"format": 1, "name": "demo", "kind": "jacobian", "inputs": ["x", "y"],
        ...         "params": [], "shape": [2, 2], "rows": [0, 0, 1], "cols": [0, 1, 1]}
        >>> pattern = from_metadata(meta, {}).pattern
        >>> pattern, pattern.indptr.tolist()
        (<Pattern shape=(2, 2) nnz=3>, [0, 2, 3])
        """
        return self._pattern

    @property
    def shape(self) -> tuple[int, int]:
        """``(m, n)``: outputs × inputs (the shape of :attr:`pattern`).

        >>> import sympy as sp, symjac
        >>> x, y = sp.symbols("x y")
        >>> symjac.jacobian([x * y, y**2, x], wrt=[x, y]).shape
        (3, 2)
        """
        return self._shape

    @property
    def nnz(self) -> int:
        """The number of structurally nonzero entries: one point's :meth:`values` has this length.

        >>> import sympy as sp, symjac
        >>> x, y = sp.symbols("x y")
        >>> symjac.jacobian([x * y, y**2, x], wrt=[x, y]).nnz
        4
        """
        return self._values_shape[0]

    def __call__(self, x: Any, p: Any = None, *, out: Any = None) -> Any:
        """The Jacobian at one point ``(n,)`` → ``(m, n)`` or a batch ``(N, n)`` → ``(N, m, n)``:
        :meth:`dense` (symjac's objects compiled with ``sparse=True`` return SciPy sparse).

        >>> import numpy as np, sympy as sp, symjac
        >>> x, y = sp.symbols("x y")
        >>> jac = symjac.jacobian([x * y, y**2], wrt=[x, y])
        >>> jac(np.array([2.0, 3.0])).tolist()
        [[3.0, 2.0], [0.0, 6.0]]
        """
        return self.dense(x, p, out=out)

    def dense(self, x: Any, p: Any = None, *, out: Any = None) -> Array:
        """Dense Jacobian ``(m, n)`` or ``(N, m, n)``; every entry is written, zeros included
        (``out``: written there instead).

        >>> import numpy as np, sympy as sp, symjac
        >>> x, y = sp.symbols("x y")
        >>> jac = symjac.jacobian([x * y, y**2], wrt=[x, y], sparse=True)
        >>> jac.dense(np.array([2.0, 3.0])).tolist()  # whatever sparse= says
        [[3.0, 2.0], [0.0, 6.0]]
        >>> out = np.empty((2, 2, 2))
        >>> jac.dense(np.array([[2.0, 3.0], [1.0, 1.0]]), out=out) is out
        True
        """
        return self._run("dense", self._shape, x, p, out)

    def values(self, x: Any, p: Any = None, *, out: Any = None) -> Any:
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


class FunctionAndJacobian(Jacobian):
    """f and J from one kernel that shares their common subexpressions: calling gives
    ``(f, J)``, :meth:`values` ``(f, nonzeros of J)``.

    >>> import sympy as sp, symjac
    >>> x, y, a = sp.symbols("x y a")
    >>> fj = symjac.function_and_jacobian([a * x * y, sp.sin(x)], [x, y], [a])
    >>> isinstance(fj, FunctionAndJacobian), fj([0.0, 2.0], [3.0])
    (True, (array([0., 0.]), array([[6., 0.],
           [1., 0.]])))
    """

    def __call__(self, x: Any, p: Any = None, *, out: Any = None) -> Any:
        """``(f, J)``: f ``(m,)`` and J dense ``(m, n)``; batched: ``(N, ...)``. Both are views
        into one freshly allocated array, so there is no ``out``.

        >>> import numpy as np, sympy as sp, symjac
        >>> x, y = sp.symbols("x y")
        >>> fj = symjac.function_and_jacobian([x * y, sp.exp(x)], wrt=[x, y])
        >>> f, J = fj(np.array([[0.0, 2.0], [1.0, 1.0]]))
        >>> f.shape, J.shape
        ((2, 2), (2, 2, 2))
        """
        if out is not None:
            raise TypeError("function_and_jacobian results have no out=; use values(out=...)")
        m, n = self._shape
        both = self._run("dense", (m + m * n,), x, p, None)
        return both[..., :m], both[..., m:].reshape(*both.shape[:-1], m, n)

    def dense(self, x: Any, p: Any = None, *, out: Any = None) -> Array:
        """J alone, dense, ``(m, n)`` or ``(N, m, n)`` (``out``: written there).

        >>> import numpy as np, sympy as sp, symjac
        >>> x, y = sp.symbols("x y")
        >>> fj = symjac.function_and_jacobian([x * y, sp.exp(x)], wrt=[x, y])
        >>> fj.dense(np.array([0.0, 2.0])).tolist()
        [[2.0, 0.0], [1.0, 0.0]]
        """
        jac = self(x, p)[1]
        if out is None:
            return np.ascontiguousarray(jac)
        target = check_out(out, jac.shape, (), self.dtype)
        target[...] = jac
        return target

    def values(self, x: Any, p: Any = None, *, out: Any = None) -> Any:
        """``(f, nonzeros)``, views into one ``(m + nnz,)`` or ``(N, m + nnz)`` array; ``out``,
        if given, is that whole array.

        >>> import numpy as np, sympy as sp, symjac
        >>> x, y = sp.symbols("x y")
        >>> fj = symjac.function_and_jacobian([x * y, sp.exp(x)], wrt=[x, y])
        >>> out = np.empty(fj.shape[0] + fj.nnz)
        >>> f, nonzeros = fj.values(np.array([0.0, 2.0]), out=out)
        >>> f.tolist(), nonzeros.tolist(), out.tolist()
        ([0.0, 1.0], [2.0, 0.0, 1.0], [0.0, 1.0, 2.0, 0.0, 1.0])
        """
        m = self.shape[0]
        both = self._run("values", (m + self.nnz,), x, p, out)
        return both[..., :m], both[..., m:]


class Hessian(Jacobian):
    """A Hessian: :attr:`pattern` and :meth:`values` are the lower triangle (row ≥ column),
    stored once; calling it gives the full, exactly symmetric matrix.

    >>> import numpy as np, sympy as sp, symjac
    >>> x, y, a = sp.symbols("x y a")
    >>> h = symjac.hessian(a * x**2 * y + y**3, [x, y], [a])
    >>> isinstance(h, Hessian), h.values([1.0, 2.0], [3.0])  # d2/dx2, d2/dydx, d2/dy2
    (True, array([12.,  6., 12.]))
    >>> H = h([[1.0, 2.0], [0.0, 1.0]], [3.0])
    >>> H.shape, bool((H == H.transpose(0, 2, 1)).all())
    ((2, 2, 2), True)
    """

    def dense(self, x: Any, p: Any = None, *, out: Any = None) -> Array:
        """The full symmetric Hessian ``(n, n)`` or ``(N, n, n)``; every entry is written.

        >>> import numpy as np, sympy as sp, symjac
        >>> x, y = sp.symbols("x y")
        >>> h = symjac.hessian(x**2 * y, wrt=[x, y])
        >>> h.dense(np.array([[1.0, 3.0], [2.0, 1.0]])).tolist()
        [[[6.0, 2.0], [2.0, 0.0]], [[2.0, 4.0], [4.0, 0.0]]]
        """
        return symmetric_from_lower(self.values(x, p), self._pattern, out)


def symmetric_from_lower(values: Array, lower: Any, out: Any = None) -> Array:
    """The full symmetric ``(..., n, n)`` matrix from lower-triangle ``values`` in ``lower``'s
    order; every entry is written (``out``, if given, is validated, never converted).

    >>> symmetric_from_lower(np.array([1.0, 2.0, 3.0]), Pattern((2, 2), [0, 1, 1], [0, 0, 1]))
    array([[1., 2.],
           [2., 3.]])
    """
    n = lower.shape[0]
    shape = (*values.shape[:-1], n, n)
    dtype = values.dtype
    result = np.empty(shape, dtype) if out is None else check_out(out, shape, (), dtype)
    result[...] = 0.0
    result[..., lower.cols, lower.rows] = values
    result[..., lower.rows, lower.cols] = values
    return result


#: the class serving each kind of compiled object
KINDS: dict[str, type[Kernel]] = {
    "function": Function,
    "jacobian": Jacobian,
    "function_and_jacobian": FunctionAndJacobian,
    "hessian": Hessian,
}


def from_metadata(meta: Mapping[str, Any], entries: Mapping[str, tuple[KernelFn, int]]) -> Kernel:
    """The object of kind ``meta["kind"]`` over ``entries`` (``{name: (function, work)}``),
    from an emitted package's parsed ``metadata.json``.

    One built from metadata alone (no kernels) has its shape and pattern, but cannot be
    called:

    >>> meta = {"format": 1, "name": "demo", "kind": "jacobian", "inputs": ["x", "y", "z"],
    ...         "params": [], "shape": [2, 3], "rows": [0, 0, 1], "cols": [0, 2, 1]}
    >>> jac = from_metadata(meta, {})
    >>> jac, jac.shape, jac.nnz, jac.pattern.cols.tolist()
    (<demo: Jacobian of (x, y, z)>, (2, 3), 3, [0, 2, 1])
    """
    if meta.get("format") != FORMAT:
        raise ValueError(f"metadata format {meta.get('format')!r}; this runtime reads {FORMAT}")
    cls = KINDS[meta["kind"]]
    wrt, params = tuple(meta["inputs"]), tuple(meta["params"])
    if issubclass(cls, Jacobian):
        m, n = (int(d) for d in meta["shape"])
        obj: Kernel = cls(wrt, params, Pattern((m, n), meta["rows"], meta["cols"]), entries)
    else:
        obj = Function(wrt, params, int(meta["shape"][0]), entries)
    obj.name = str(meta["name"])
    obj.dtype = np.dtype(meta.get("dtype", "float64"))
    return obj


def load(directory: str) -> Kernel:
    """The kernel object of the emitted package in ``directory`` (its library and metadata).

    The emitted ``__init__.py`` calls it on import, as ``kernel = load(<its directory>)``;
    the class depends on what was emitted (:data:`KINDS`).

    >>> import tempfile, sympy as sp, symjac
    >>> x, y = sp.symbols("x y")
    >>> with tempfile.TemporaryDirectory() as d:
    ...     _ = symjac.emit(symjac.function([x * y], [x, y]), d, "demo", target="python")
    ...     package = os.path.join(d, "demo")
    ...     print(sorted(n for n in os.listdir(package) if not n.startswith("libdemo.")))
    ...     kernel = load(package)
    ['__init__.py', '_abi.py', '_arguments.py', '_calls.py', '_parallel.py', 'metadata.json']
    >>> kernel, isinstance(kernel, Function), kernel([2.0, 3.0])
    (<demo: Function of (x, y)>, True, array([6.]))
    """
    with open(os.path.join(directory, METADATA), encoding="utf-8") as f:
        meta = json.load(f)
    library = ctypes.CDLL(os.path.join(directory, meta["library"]))
    entries = {}
    for name, info in meta["kernels"].items():
        fn = getattr(library, info["symbol"])
        fn.argtypes = ctypes_argtypes()
        fn.restype = None
        entries[name] = (fn, int(info["work"]))
    kernel = from_metadata(meta, entries)
    kernel._library = library  # type: ignore[attr-defined]  # keep it loaded
    return kernel
