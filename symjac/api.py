"""The public entry points: jacobian, function, function_and_jacobian, hessian, logdet."""

from __future__ import annotations

import os
from typing import Any

import numpy as np

from symjac.compiled import (
    CompiledFunction,
    CompiledFunctionAndJacobian,
    CompiledHessian,
    CompiledJacobian,
)
from symjac.determinant import CompiledLogDet
from symjac.driver import (
    build_function,
    build_function_and_jacobian,
    build_hessian,
    build_jacobian,
    build_logdet,
)
from symjac.options import Options
from symjac.passes.rules import DEFAULT_SETS


def jacobian(
    exprs: Any,
    wrt: Any,
    params: Any = None,
    *,
    fastmath: bool = False,
    opt_level: int = 3,
    sparse: bool | str = "auto",
    simplify: str = "auto",
    progress: bool | None = None,
    simd: bool = True,
    vector_libm: bool = True,
    cache: bool | str | os.PathLike[str] = True,
    rules: tuple[str, ...] = DEFAULT_SETS,
    dtype: Any = np.float64,
) -> CompiledJacobian:
    """Compile the Jacobian ∂exprs/∂wrt into a native kernel.

    ``exprs`` is a SymPy expression or a list/tuple/vector Matrix of them;
    ``wrt`` the input Symbols (the columns); ``params`` the Symbols that are
    inputs but not differentiated (constants, rate coefficients, ...). Every
    free symbol must be in one of the two. Symbols are treated as real.

    ``sparse`` decides what calling the result returns: ``False`` a dense
    ndarray, ``True`` a ``scipy.sparse.csr_array`` (one point at a time),
    ``"auto"`` (default) sparse only for a Jacobian with more than 10 000
    entries of which less than 25% can be nonzero — so a huge dense array is
    never built by accident. ``jac.dense()``, ``jac.sparse()`` and
    ``jac.values()`` are always available.

    ``simplify`` is ``"auto"`` (= ``"cheap"``: value-preserving graph rules,
    linear time), ``"none"`` or ``"full"`` (also ``sympy.simplify`` on every
    output and entry: slow, for small systems). ``progress=True`` prints each
    stage to stderr (default: only for big compiles on a terminal).
    ``fastmath=True`` allows LLVM's fast-math (off: IEEE results).
    ``opt_level`` is LLVM's optimisation level (3). ``simd=True`` (default)
    evaluates batches several points at a time in SIMD lanes, with elementary
    functions from glibc's libmvec (≤ 4 ulp) unless ``vector_libm=False``
    (then the scalar C library, lane by lane). ``cache=True`` reuses machine
    code from an on-disk cache (``$SYMJAC_CACHE_DIR``, default ``~/.cache/symjac``;
    a path, or ``False`` to always compile). ``rules`` names the rule sets applied
    as the graph is built: ``"algebraic"`` (value-preserving) and ``"numeric"``
    (``log(1 + x) → log1p(x)`` and other more accurate forms, where measured not to be
    slower); ``("algebraic",)`` keeps values bit for bit as written. ``dtype`` is
    what the kernel computes in and takes and returns: ``np.float64`` (default) or
    ``np.float32`` (every operation in float32, inputs rounded to float32; see
    docs/semantics.md). Options are described in :class:`symjac.options.Options`.

    >>> import numpy as np, sympy as sp, symjac
    >>> x, y, a = sp.symbols("x y a")
    >>> jac = symjac.jacobian([x**2 * y, sp.sin(a * x) + sp.exp(y)], wrt=[x, y], params=[a])
    >>> jac.shape, jac.nnz
    ((2, 2), 4)
    >>> jac(np.array([1.0, 0.0]), [0.0]).tolist()
    [[0.0, 1.0], [0.0, 1.0]]
    >>> jac(np.zeros((1000, 2)), [0.5]).shape
    (1000, 2, 2)
    """
    options = Options(
        fastmath, opt_level, sparse, simplify, progress, simd, vector_libm, cache, rules, dtype
    )
    return build_jacobian(exprs, wrt, params, options)


def function(
    exprs: Any,
    wrt: Any,
    params: Any = None,
    *,
    fastmath: bool = False,
    opt_level: int = 3,
    simplify: str = "auto",
    progress: bool | None = None,
    simd: bool = True,
    vector_libm: bool = True,
    cache: bool | str | os.PathLike[str] = True,
    rules: tuple[str, ...] = DEFAULT_SETS,
    dtype: Any = np.float64,
) -> CompiledFunction:
    """Compile the vector function ``exprs`` itself, with the same calling convention.

    >>> import numpy as np, sympy as sp, symjac
    >>> x, y = sp.symbols("x y")
    >>> f = symjac.function([x * y, x + y], wrt=[x, y])
    >>> f(np.array([[1.0, 2.0], [3.0, 4.0]])).tolist()
    [[2.0, 3.0], [12.0, 7.0]]
    """
    options = Options(
        fastmath,
        opt_level,
        simplify=simplify,
        progress=progress,
        simd=simd,
        vector_libm=vector_libm,
        cache=cache,
        rules=rules,
        dtype=dtype,
    )
    return build_function(exprs, wrt, params, options)


def function_and_jacobian(
    exprs: Any,
    wrt: Any,
    params: Any = None,
    *,
    fastmath: bool = False,
    opt_level: int = 3,
    sparse: bool | str = "auto",
    simplify: str = "auto",
    progress: bool | None = None,
    simd: bool = True,
    vector_libm: bool = True,
    cache: bool | str | os.PathLike[str] = True,
    rules: tuple[str, ...] = DEFAULT_SETS,
    dtype: Any = np.float64,
) -> CompiledFunctionAndJacobian:
    """Compile f and its Jacobian into one kernel that shares their subexpressions.

    Calling the result returns ``(f, J)`` — what a Newton iteration needs.

    >>> import numpy as np, sympy as sp, symjac
    >>> x = sp.Symbol("x")
    >>> fj = symjac.function_and_jacobian([sp.exp(2 * x)], wrt=[x])
    >>> f, J = fj(np.array([0.0]))
    >>> f.tolist(), J.tolist()
    ([1.0], [[2.0]])
    """
    options = Options(
        fastmath, opt_level, sparse, simplify, progress, simd, vector_libm, cache, rules, dtype
    )
    return build_function_and_jacobian(exprs, wrt, params, options)


def hessian(
    exprs: Any,
    wrt: Any,
    params: Any = None,
    *,
    weights: Any = None,
    fastmath: bool = False,
    opt_level: int = 3,
    sparse: bool | str = "auto",
    simplify: str = "auto",
    progress: bool | None = None,
    simd: bool = True,
    vector_libm: bool = True,
    cache: bool | str | os.PathLike[str] = True,
    rules: tuple[str, ...] = DEFAULT_SETS,
    dtype: Any = np.float64,
) -> CompiledHessian:
    """Compile the Hessian ∇²f of a scalar expression, or of a weighted sum Σ λᵢ fᵢ.

    With several expressions, ``weights`` is required: either numbers, or
    Symbols that become extra parameters after ``params`` (given at call time,
    as an optimiser's Lagrange multipliers are). The result stores the lower
    triangle once (:attr:`~CompiledHessian.pattern`) and returns the full,
    exactly symmetric matrix when called.

    >>> import numpy as np, sympy as sp, symjac
    >>> x, y, l0, l1 = sp.symbols("x y l0 l1")
    >>> h = symjac.hessian([x**2, x * y], wrt=[x, y], weights=[l0, l1])
    >>> h(np.array([1.0, 1.0]), [1.0, 3.0]).tolist()
    [[2.0, 3.0], [3.0, 0.0]]
    """
    options = Options(
        fastmath, opt_level, sparse, simplify, progress, simd, vector_libm, cache, rules, dtype
    )
    return build_hessian(exprs, wrt, params, weights, options)


def logdet(exprs: Any, wrt: Any, params: Any = None, **options: Any) -> CompiledLogDet:
    """Compile ``log|det ∂exprs/∂wrt|`` for a square system (options as :func:`symjac.jacobian`).

    ``sparse`` is not an option: the determinant always reads J's nonzeros.

    >>> import numpy as np, sympy as sp, symjac
    >>> r, t = sp.symbols("r t")
    >>> polar = symjac.logdet([r * sp.cos(t), r * sp.sin(t)], [r, t])
    >>> sign, value = polar(np.array([2.0, 0.3]))   # |det J| = r
    >>> float(sign), round(float(np.exp(value)), 12)
    (1.0, 2.0)
    """
    if "sparse" in options:
        raise TypeError("logdet() takes no 'sparse' option: it always works on J's nonzeros")
    unknown = sorted(set(options) - {f for f in Options.__dataclass_fields__})
    if unknown:
        raise TypeError(f"logdet() got unexpected keyword arguments: {', '.join(unknown)}")
    return build_logdet(exprs, wrt, params, Options(**options, sparse=False))
