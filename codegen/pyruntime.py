"""The runtime of a Python package written by ``symjac.emit(..., target="python")``.

This file is copied verbatim into every emitted package as ``_runtime.py``, next to
a verbatim copy of :mod:`symjac.arguments` (``_arguments.py``), the shared library
of the kernels and ``metadata.json``. It needs only NumPy: no SymPy, no llvmlite,
no symjac. Arguments are validated and converted by the very code the JIT objects
use (the copied module), so an emitted kernel accepts and rejects exactly what
the compiled object does. Inside symjac it is imported as
``symjac.codegen.pyruntime`` and unit-tested with JIT kernels in place of the
library (:class:`Kernel` takes any callables with the kernel ABI).
"""

from __future__ import annotations

import ctypes
import json
import os
from collections.abc import Callable, Mapping
from typing import Any

import numpy as np

try:  # inside an emitted package: its own copy of symjac/arguments.py
    from ._arguments import address, as_params, as_points, check_out
except ImportError:  # imported from symjac itself, where this file is tested
    from symjac.arguments import address, as_params, as_points, check_out

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
        return int(self.rows.size)

    def to_dense(self) -> Array:
        """A boolean ``shape`` array, True at the entries that can be nonzero."""
        dense = np.zeros(self.shape, dtype=bool)
        dense[self.rows, self.cols] = True
        return dense

    def __repr__(self) -> str:
        return f"<Pattern shape={self.shape} nnz={self.nnz}>"


class Kernel:
    """Compiled kernels behind the same call interface as symjac's objects.

    ``meta`` is the parsed ``metadata.json``; ``functions`` maps each kernel name
    (``values``, ``dense``, ``function``) to a callable with the kernel ABI.
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
    """f(x; p): ``(n,)`` → ``(m,)``, ``(N, n)`` → ``(N, m)``."""

    def __init__(self, meta: Mapping[str, Any], functions: Mapping[str, KernelFn]):
        super().__init__(meta, functions)
        self.shape: tuple[int, ...] = (int(meta["shape"][0]),)

    def __call__(self, x: Any, p: Any = None, *, out: Any = None) -> Array:
        return self._run("function", self.shape, x, p, out)


class Jacobian(Kernel):
    """J(x; p): dense ``(m, n)`` / ``(N, m, n)``, or the nonzeros in pattern order."""

    def __init__(self, meta: Mapping[str, Any], functions: Mapping[str, KernelFn]):
        super().__init__(meta, functions)
        m, n = (int(d) for d in meta["shape"])
        self.pattern = Pattern((m, n), meta["rows"], meta["cols"])

    @property
    def shape(self) -> tuple[int, int]:
        return self.pattern.shape

    @property
    def nnz(self) -> int:
        return self.pattern.nnz

    def __call__(self, x: Any, p: Any = None, *, out: Any = None) -> Array:
        """The dense Jacobian (an emitted package has no SciPy sparse output)."""
        return self.dense(x, p, out=out)

    def dense(self, x: Any, p: Any = None, *, out: Any = None) -> Array:
        return self._run("dense", self.shape, x, p, out)

    def values(self, x: Any, p: Any = None, *, out: Any = None) -> Any:
        """The nonzeros only, in :attr:`pattern` order: ``(nnz,)`` or ``(N, nnz)``."""
        return self._run("values", (self.nnz,), x, p, out)


class FunctionAndJacobian(Jacobian):
    """f and J from one kernel: calling gives ``(f, J)``, :meth:`values` ``(f, nonzeros)``."""

    def __call__(self, x: Any, p: Any = None, *, out: Any = None) -> Any:
        if out is not None:
            raise TypeError("function_and_jacobian results have no out=; use values(out=...)")
        m, n = self.shape
        both = self._run("dense", (m + m * n,), x, p, None)
        return both[..., :m], both[..., m:].reshape(*both.shape[:-1], m, n)

    def dense(self, x: Any, p: Any = None, *, out: Any = None) -> Array:
        jac = self(x, p)[1]
        if out is None:
            return np.ascontiguousarray(jac)
        target = check_out(out, jac.shape, ())
        target[...] = jac
        return target

    def values(self, x: Any, p: Any = None, *, out: Any = None) -> Any:
        """``(f, nonzeros)``, views into one ``(m + nnz,)`` or ``(N, m + nnz)`` array (``out``)."""
        m = self.shape[0]
        both = self._run("values", (m + self.nnz,), x, p, out)
        return both[..., :m], both[..., m:]


class Hessian(Jacobian):
    """A Hessian: :attr:`pattern` and :meth:`values` are the lower triangle; calling it
    gives the full, exactly symmetric matrix."""

    def dense(self, x: Any, p: Any = None, *, out: Any = None) -> Array:
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

#: (x, p, out, n, p_stride, work), as codegen.jit.KERNEL_CFUNC (which needs llvmlite)
_ARGTYPES = [*[ctypes.c_void_p] * 3, ctypes.c_int64, ctypes.c_int64, ctypes.c_void_p]


def load(directory: str) -> Kernel:
    """The kernel object of the package in ``directory`` (its library and metadata)."""
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
