"""Compiled kernels called from ``numba.njit`` code, with no Python in the loop.

numba calls ctypes function pointers natively, so a compiled object's one-lane kernel —
a ctypes function with the kernel signature (:mod:`symjac.runtime.abi`) ::

    void kernel(const double *x, const double *p, double *out, int64_t n,
                int64_t p_stride, double *work)

— is called from jitted code with array addresses (``arr.ctypes.data``; 0 for a null
``p`` or ``work``). :func:`kernel` hands it over with what a caller needs to know: the
row widths, the work buffer's size, and whether ``n > 1`` points may be passed at once.
Keep the returned :class:`Kernel` (or the compiled object) alive while jitted code may
call it: numba embeds the function's address, and the machine code lives as long as its
owner. Requires numba (``pip install numba``; its llvmlite must be symjac's).
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any


@dataclass(frozen=True)
class Kernel:
    """A kernel for numba: ``function(x, p, out, n, p_stride, work)`` (addresses as ints),
    ``n_vars`` inputs and ``n_params`` parameters per point, ``width`` outputs per point,
    and ``work`` values of scratch the caller provides (0: pass 0); every array holds
    values of ``dtype`` (the object's: ``"float64"``, or ``"float32"``, whose kernels take
    ``float *``).

    >>> import numpy as np, sympy as sp, symjac, symjac.numba
    >>> x, y = sp.symbols("x y")
    >>> k = symjac.numba.kernel(symjac.jacobian([x * y, sp.sin(x)], [x, y]))
    >>> k.n_vars, k.width, k.work, k.dtype
    (2, 3, 0, 'float64')
    """

    function: Any
    n_vars: int
    n_params: int
    width: int
    work: int
    dtype: str = "float64"


def kernel(obj: Any, name: str | None = None) -> Kernel:
    """The one-lane kernel ``name`` of a compiled object (default: ``"values"``, or
    ``"function"`` for :func:`symjac.function`), as a :class:`Kernel` for numba.

    >>> import numpy as np, sympy as sp, symjac, symjac.numba
    >>> import numba
    >>> x, y = sp.symbols("x y")
    >>> jac = symjac.jacobian([x * y, sp.sin(x)], [x, y])
    >>> k = symjac.numba.kernel(jac).function
    >>> @numba.njit
    ... def rows(points, out):
    ...     for i in range(points.shape[0]):  # one call per point, as a solver would
    ...         k(points[i].ctypes.data, 0, out[i].ctypes.data, 1, 0, 0)
    ...     return out
    >>> pts = np.random.default_rng(0).random((4, 2))
    >>> bool(np.array_equal(rows(pts, np.empty((4, 3))), jac.values(pts)))
    True
    """
    kernels = obj._kernels  # one lane: what single points and short loops want
    names = [spec.name for spec in kernels.specs]
    chosen = name if name is not None else ("values" if "values" in names else names[0])
    if chosen not in names:
        raise ValueError(f"no kernel {chosen!r}; this object has {sorted(names)}")
    spec = next(s for s in kernels.specs if s.name == chosen)
    return Kernel(
        kernels.jit.kernel(chosen),
        spec.tape.n_vars,
        spec.tape.n_params,
        spec.width,
        kernels.work_sizes[chosen],
        kernels.build.dtype,
    )
