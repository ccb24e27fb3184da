"""The runtime of a Python package written by ``symjac.emit(..., target="python")``.

This file is copied verbatim into every emitted package as ``_runtime.py``, next to
a verbatim copy of :mod:`symjac.runtime.arguments` (``_arguments.py``), the shared library
of the kernels and ``metadata.json``. It needs only NumPy: no SymPy, no llvmlite,
no symjac. Arguments are validated and converted by the very code the JIT objects
use (the copied module), so an emitted kernel accepts and rejects exactly what
the compiled object does. Inside symjac it is imported as
``symjac.codegen.pyruntime`` and unit-tested with JIT kernels in place of the
library (:class:`Kernel` takes any callables with the kernel ABI).

The examples below run there (under ``pytest --doctest-modules``): most of them write a
package with ``symjac.emit(..., target="python")``, which needs a C compiler, and load it
with :func:`load` — what the package's ``__init__.py`` does on import.
"""

from __future__ import annotations

import ctypes
import json
import os
from collections.abc import Callable, Mapping
from typing import Any

import numpy as np

try:  # inside an emitted package: its own copy of symjac/runtime/arguments.py
    from ._arguments import address, as_params, as_points, check_out
except ImportError:  # imported from symjac itself, where this file is tested
    from symjac.runtime.arguments import address, as_params, as_points, check_out

#: the metadata file next to the library, written by symjac.codegen.pypackage
METADATA = "metadata.json"
#: the version of the metadata layout this runtime reads
FORMAT = 1

Array = np.ndarray
KernelFn = Callable[..., Any]  # (x, p, out, n, p_stride, work) with addresses and int64s


def _frozen(values: Any) -> Array:
    arr = np.array(values, dtype=np.int64)
    arr.flags.writeable = False
    return arr


class Pattern:
    """Where the structurally nonzero entries are, row-major (CSR order).

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
    """Compiled kernels behind the same call interface as symjac's objects.

    ``meta`` is the parsed ``metadata.json``; ``functions`` maps each kernel name
    (``values``, ``dense``, ``function``) to a callable with the kernel ABI.
    :func:`load` builds the right subclass for a package; ``wrt`` and ``params`` name
    the inputs and parameters, in the order ``x`` and ``p`` give them.

    >>> import tempfile, sympy as sp, symjac
    >>> x, y, a = sp.symbols("x y a")
    >>> with tempfile.TemporaryDirectory() as d:
    ...     _ = symjac.emit(symjac.jacobian([a * x * y, sp.sin(x)], [x, y], [a]), d, "demo",
    ...                     target="python")
    ...     kernel = load(os.path.join(d, "demo"))
    >>> kernel, isinstance(kernel, Kernel), kernel.wrt, kernel.params
    (<demo: Jacobian of (x, y)>, True, ('x', 'y'), ('a',))
    >>> kernel([0.0, 2.0], {"a": 3.0})  # parameters by position or by name
    array([[6., 0.],
           [1., 0.]])
    """

    def __init__(self, meta: Mapping[str, Any], functions: Mapping[str, KernelFn]):
        if meta.get("format") != FORMAT:
            raise ValueError(f"metadata format {meta.get('format')!r}; this runtime reads {FORMAT}")
        self.name: str = meta["name"]
        #: names of the inputs (columns of x) and of the parameters (columns of p)
        self.wrt: tuple[str, ...] = tuple(meta["inputs"])
        self.params: tuple[str, ...] = tuple(meta["params"])
        self._functions = dict(functions)
        self._work = {k: int(v["work"]) for k, v in meta["kernels"].items()}

    def _run(self, name: str, row_shape: tuple[int, ...], x: Any, p: Any, out: Any) -> Array:
        """Validate like the JIT objects (``_arguments``), then one native call for all points."""
        points, batched = as_points(x, len(self.wrt))
        n = points.shape[0]
        params, p_stride = as_params(p, self.params, self.params, n, batched)
        shape = (n, *row_shape) if batched else row_shape
        if out is None:
            result = np.empty(shape, dtype=np.float64)
        else:
            result = check_out(out, shape, (points, params))
        if n:
            work = np.empty(self._work[name]) if self._work[name] else None
            self._functions[name](
                address(points),
                None if params is None else address(params),
                address(result),
                n,
                p_stride,
                None if work is None else address(work),
            )
        return result

    def __repr__(self) -> str:
        return f"<{self.name}: {type(self).__name__} of ({', '.join(self.wrt)})>"


class Function(Kernel):
    """f(x; p): ``(n,)`` → ``(m,)``, ``(N, n)`` → ``(N, m)``.

    >>> import tempfile, sympy as sp, symjac
    >>> x, y, a = sp.symbols("x y a")
    >>> with tempfile.TemporaryDirectory() as d:
    ...     _ = symjac.emit(symjac.function([a * x * y, x + y], [x, y], [a]), d, "f",
    ...                     target="python")
    ...     f = load(os.path.join(d, "f"))
    >>> f, f.shape
    (<f: Function of (x, y)>, (2,))
    >>> f([1.0, 2.0], [3.0])
    array([6., 3.])
    >>> f([[1.0, 2.0], [0.5, 0.5]], [3.0])  # N points, shared parameters
    array([[6.  , 3.  ],
           [0.75, 1.  ]])
    """

    def __init__(self, meta: Mapping[str, Any], functions: Mapping[str, KernelFn]):
        super().__init__(meta, functions)
        self.shape: tuple[int, ...] = (int(meta["shape"][0]),)

    def __call__(self, x: Any, p: Any = None, *, out: Any = None) -> Array:
        return self._run("function", self.shape, x, p, out)


class Jacobian(Kernel):
    """J(x; p): dense ``(m, n)`` / ``(N, m, n)``, or the nonzeros in pattern order.

    >>> import tempfile, sympy as sp, symjac
    >>> x, y, a = sp.symbols("x y a")
    >>> with tempfile.TemporaryDirectory() as d:
    ...     _ = symjac.emit(symjac.jacobian([a * x * y, sp.sin(x)], [x, y], [a]), d, "jac",
    ...                     target="python")
    ...     jac = load(os.path.join(d, "jac"))
    >>> jac, jac.pattern
    (<jac: Jacobian of (x, y)>, <Pattern shape=(2, 2) nnz=3>)
    >>> jac([0.0, 2.0], [3.0])
    array([[6., 0.],
           [1., 0.]])
    >>> jac.values([0.0, 2.0], [3.0])  # the nonzeros only
    array([6., 0., 1.])
    """

    def __init__(self, meta: Mapping[str, Any], functions: Mapping[str, KernelFn]):
        super().__init__(meta, functions)
        m, n = (int(d) for d in meta["shape"])
        self.pattern = Pattern((m, n), meta["rows"], meta["cols"])

    @property
    def shape(self) -> tuple[int, int]:
        """``(m, n)``: m outputs by n inputs (the shape of :attr:`pattern`).

        :func:`load` builds a Jacobian from the package's ``metadata.json``; one built
        from metadata alone (no kernels) has its shape and pattern, but cannot be called:

        >>> meta = {"format": 1, "name": "demo", "inputs": ["x", "y", "z"], "params": [],
        ...         "shape": [2, 3], "rows": [0, 0, 1], "cols": [0, 2, 1], "kernels": {}}
        >>> Jacobian(meta, {}).shape
        (2, 3)
        """
        return self.pattern.shape

    @property
    def nnz(self) -> int:
        """The number of structurally nonzero entries: one point's :meth:`values` has this length.

        >>> meta = {"format": 1, "name": "demo", "inputs": ["x", "y", "z"], "params": [],
        ...         "shape": [2, 3], "rows": [0, 0, 1], "cols": [0, 2, 1], "kernels": {}}
        >>> jac = Jacobian(meta, {})
        >>> jac.nnz, jac.pattern.rows.tolist(), jac.pattern.cols.tolist()
        (3, [0, 0, 1], [0, 2, 1])
        """
        return self.pattern.nnz

    def __call__(self, x: Any, p: Any = None, *, out: Any = None) -> Array:
        """The dense Jacobian (an emitted package has no SciPy sparse output)."""
        return self.dense(x, p, out=out)

    def dense(self, x: Any, p: Any = None, *, out: Any = None) -> Array:
        """The dense Jacobian, ``(m, n)`` or ``(N, m, n)``; ``out``: write it there instead.

        >>> import tempfile, sympy as sp, symjac
        >>> x, y, a = sp.symbols("x y a")
        >>> with tempfile.TemporaryDirectory() as d:
        ...     _ = symjac.emit(symjac.jacobian([a * x * y, sp.sin(x)], [x, y], [a]), d, "jac",
        ...                     target="python")
        ...     jac = load(os.path.join(d, "jac"))
        >>> jac.dense([[0.0, 2.0], [1.0, 1.0]], [3.0]).shape  # N = 2 points
        (2, 2, 2)
        >>> out = np.empty((2, 2))
        >>> jac.dense([0.0, 2.0], [3.0], out=out) is out
        True
        >>> out
        array([[6., 0.],
               [1., 0.]])
        """
        return self._run("dense", self.shape, x, p, out)

    def values(self, x: Any, p: Any = None, *, out: Any = None) -> Any:
        """The nonzeros only, in :attr:`pattern` order: ``(nnz,)`` or ``(N, nnz)``.

        >>> import tempfile, sympy as sp, symjac
        >>> x, y, a = sp.symbols("x y a")
        >>> with tempfile.TemporaryDirectory() as d:
        ...     _ = symjac.emit(symjac.jacobian([a * x * y, sp.sin(x)], [x, y], [a]), d, "jac",
        ...                     target="python")
        ...     jac = load(os.path.join(d, "jac"))
        >>> jac.pattern.rows.tolist(), jac.pattern.cols.tolist()
        ([0, 0, 1], [0, 1, 0])
        >>> jac.values([0.0, 2.0], [3.0])
        array([6., 0., 1.])
        >>> jac.values([[0.0, 2.0], [0.0, 1.0]], [[3.0], [2.0]])  # a parameter row per point
        array([[6., 0., 1.],
               [2., 0., 1.]])
        """
        return self._run("values", (self.nnz,), x, p, out)


class FunctionAndJacobian(Jacobian):
    """f and J from one kernel: calling gives ``(f, J)``, :meth:`values` ``(f, nonzeros)``.

    >>> import tempfile, sympy as sp, symjac
    >>> x, y, a = sp.symbols("x y a")
    >>> with tempfile.TemporaryDirectory() as d:
    ...     obj = symjac.function_and_jacobian([a * x * y, sp.sin(x)], [x, y], [a])
    ...     _ = symjac.emit(obj, d, "fj", target="python")
    ...     fj = load(os.path.join(d, "fj"))
    >>> fj
    <fj: FunctionAndJacobian of (x, y)>
    >>> f, J = fj([0.0, 2.0], [3.0])
    >>> f
    array([0., 0.])
    >>> J
    array([[6., 0.],
           [1., 0.]])
    """

    def __call__(self, x: Any, p: Any = None, *, out: Any = None) -> Any:
        if out is not None:
            raise TypeError("function_and_jacobian results have no out=; use values(out=...)")
        m, n = self.shape
        both = self._run("dense", (m + m * n,), x, p, None)
        return both[..., :m], both[..., m:].reshape(*both.shape[:-1], m, n)

    def dense(self, x: Any, p: Any = None, *, out: Any = None) -> Array:
        """The dense Jacobian alone, ``(m, n)`` or ``(N, m, n)`` (``out``: written there).

        >>> import tempfile, sympy as sp, symjac
        >>> x, y, a = sp.symbols("x y a")
        >>> with tempfile.TemporaryDirectory() as d:
        ...     obj = symjac.function_and_jacobian([a * x * y, sp.sin(x)], [x, y], [a])
        ...     _ = symjac.emit(obj, d, "fj", target="python")
        ...     fj = load(os.path.join(d, "fj"))
        >>> fj.dense([0.0, 2.0], [3.0])
        array([[6., 0.],
               [1., 0.]])
        """
        jac = self(x, p)[1]
        if out is None:
            return np.ascontiguousarray(jac)
        target = check_out(out, jac.shape, ())
        target[...] = jac
        return target

    def values(self, x: Any, p: Any = None, *, out: Any = None) -> Any:
        """``(f, nonzeros)``, views into one ``(m + nnz,)`` or ``(N, m + nnz)`` array (``out``).

        >>> import tempfile, sympy as sp, symjac
        >>> x, y, a = sp.symbols("x y a")
        >>> with tempfile.TemporaryDirectory() as d:
        ...     obj = symjac.function_and_jacobian([a * x * y, sp.sin(x)], [x, y], [a])
        ...     _ = symjac.emit(obj, d, "fj", target="python")
        ...     fj = load(os.path.join(d, "fj"))
        >>> out = np.empty(fj.shape[0] + fj.nnz)
        >>> f, nonzeros = fj.values([0.0, 2.0], [3.0], out=out)
        >>> f, nonzeros
        (array([0., 0.]), array([6., 0., 1.]))
        >>> out
        array([0., 0., 6., 0., 1.])
        """
        m = self.shape[0]
        both = self._run("values", (m + self.nnz,), x, p, out)
        return both[..., :m], both[..., m:]


class Hessian(Jacobian):
    """A Hessian: :attr:`pattern` and :meth:`values` are the lower triangle; calling it
    gives the full, exactly symmetric matrix.

    >>> import tempfile, sympy as sp, symjac
    >>> x, y, a = sp.symbols("x y a")
    >>> with tempfile.TemporaryDirectory() as d:
    ...     _ = symjac.emit(symjac.hessian(a * x**2 * y + y**3, [x, y], [a]), d, "hes",
    ...                     target="python")
    ...     hes = load(os.path.join(d, "hes"))
    >>> hes, hes.pattern.rows.tolist(), hes.pattern.cols.tolist()
    (<hes: Hessian of (x, y)>, [0, 1, 1], [0, 0, 1])
    >>> hes.values([1.0, 2.0], [3.0])  # d2/dx2, d2/dydx, d2/dy2
    array([12.,  6., 12.])
    >>> hes([1.0, 2.0], [3.0])
    array([[12.,  6.],
           [ 6., 12.]])
    """

    def dense(self, x: Any, p: Any = None, *, out: Any = None) -> Array:
        """The full symmetric matrix, ``(n, n)`` or ``(N, n, n)``, from the lower triangle.

        >>> import tempfile, sympy as sp, symjac
        >>> x, y, a = sp.symbols("x y a")
        >>> with tempfile.TemporaryDirectory() as d:
        ...     _ = symjac.emit(symjac.hessian(a * x**2 * y + y**3, [x, y], [a]), d, "hes",
        ...                     target="python")
        ...     hes = load(os.path.join(d, "hes"))
        >>> H = hes.dense([[1.0, 2.0], [0.0, 1.0]], [3.0])
        >>> H.shape, bool((H == H.transpose(0, 2, 1)).all())
        ((2, 2, 2), True)
        >>> H[1]
        array([[6., 0.],
               [0., 6.]])
        """
        return symmetric_from_lower(self.values(x, p), self.pattern, out)


def symmetric_from_lower(values: Array, lower: Pattern, out: Any = None) -> Array:
    """The full symmetric ``(..., n, n)`` matrix from lower-triangle ``values`` in ``lower``'s
    order; every entry is written (``out``, if given, is validated, never converted).

    >>> symmetric_from_lower(np.array([1.0, 2.0, 3.0]), Pattern((2, 2), [0, 1, 1], [0, 0, 1]))
    array([[1., 2.],
           [2., 3.]])
    """
    n = lower.shape[0]
    shape = (*values.shape[:-1], n, n)
    result = np.empty(shape) if out is None else check_out(out, shape, ())
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

#: (x, p, out, n, p_stride, work), as codegen.llvm.jit.KERNEL_CFUNC (which needs llvmlite)
_ARGTYPES = [*[ctypes.c_void_p] * 3, ctypes.c_int64, ctypes.c_int64, ctypes.c_void_p]


def load(directory: str) -> Kernel:
    """The kernel object of the package in ``directory`` (its library and metadata).

    The emitted ``__init__.py`` calls it on import, as ``kernel = load(<its directory>)``;
    the class depends on what was emitted (:data:`KINDS`).

    >>> import tempfile, sympy as sp, symjac
    >>> x, y = sp.symbols("x y")
    >>> with tempfile.TemporaryDirectory() as d:
    ...     _ = symjac.emit(symjac.function([x * y], [x, y]), d, "demo", target="python")
    ...     package = os.path.join(d, "demo")
    ...     print(sorted(n for n in os.listdir(package) if not n.startswith("libdemo.")))
    ...     kernel = load(package)
    ['__init__.py', '_arguments.py', '_runtime.py', 'metadata.json']
    >>> type(kernel).__name__, kernel([2.0, 3.0])
    ('Function', array([6.]))
    """
    with open(os.path.join(directory, METADATA), encoding="utf-8") as f:
        meta = json.load(f)
    library = ctypes.CDLL(os.path.join(directory, meta["library"]))
    functions = {}
    for name, info in meta["kernels"].items():
        fn = getattr(library, info["symbol"])
        fn.argtypes = _ARGTYPES
        fn.restype = None
        functions[name] = fn
    kernel = KINDS[meta["kind"]](meta, functions)
    kernel._library = library  # type: ignore[attr-defined]  # keep it loaded
    return kernel
