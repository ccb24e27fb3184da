"""Evaluate compiled objects on Dask arrays: one native batch call per block of rows.

Compiled objects pickle (as their tapes, re-JIT-compiled on load), so the same
code runs with Dask's threaded scheduler, its process scheduler or a
distributed cluster. Only row chunking is used: each block holds whole points.
"""

from __future__ import annotations

from typing import Any

import numpy as np


def _rows(x: Any, n_vars: int) -> Any:
    import dask.array as da

    x = da.asarray(x)
    if x.ndim != 2 or x.shape[1] != n_vars:
        raise ValueError(f"expected a dask array of shape (N, {n_vars}), got {x.shape}")
    return x.rechunk({1: -1})


def values(compiled: Any, x: Any, p: Any = None) -> Any:
    """``compiled.values`` (or ``compiled(x)`` for a function) over a Dask array of points.

    ``x`` is ``(N, n)``; ``p`` is shared by all points (array-like ``(k,)``) or a
    Dask array ``(N, k)`` paired row by row with ``x``. Returns a lazy ``(N, width)`` array.

    >>> import numpy as np, sympy as sp, dask.array as da, symjac, symjac.dask
    >>> x, y = sp.symbols("x y")
    >>> jac = symjac.jacobian([x * y, sp.sin(x)], [x, y])
    >>> X = da.from_array(np.arange(8.0).reshape(4, 2), chunks=(2, 2))
    >>> symjac.dask.values(jac, X).compute()[1].round(12).tolist()   # the point (2, 3)
    [3.0, 2.0, -0.416146836547]
    """
    import dask.array as da

    evaluate = getattr(compiled, "values", compiled)
    x = _rows(x, compiled.n_vars)
    probe = evaluate(np.zeros((1, compiled.n_vars)), _first(p))
    width = probe.shape[1]
    if isinstance(p, da.Array):
        p = p.rechunk((x.chunks[0], -1))
        return da.map_blocks(
            lambda xb, pb: evaluate(xb, pb),
            x,
            p,
            chunks=(x.chunks[0], (width,)),
            dtype=probe.dtype,
        )
    return x.map_blocks(
        lambda xb: evaluate(xb, p), chunks=(x.chunks[0], (width,)), dtype=probe.dtype
    )


def _first(p: Any) -> Any:
    """A parameter argument valid for one probe point."""
    import dask.array as da

    if isinstance(p, da.Array):
        return p[:1].compute()
    return p
