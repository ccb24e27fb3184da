"""The rest of the derivative family: f and J together, J·v and wᵀ·J, and Hessians.

Each builder reuses the same stages as :mod:`symjac.driver` (front end,
sparse differentiation, composite expansion, one tape, the LLVM back end); what
differs is which nodes become outputs and where they are stored.
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

import sympy as sp

from symjac.driver import Options, Pipeline
from symjac.frontend.convert import as_symbols, check_disjoint
from symjac.ir.graph import Graph
from symjac.ir.tape import KernelSpec, Tape, replay
from symjac.passes.composites import expand_composites
from symjac.runtime.calls import (
    CompiledFunctionAndJacobian,
    CompiledHessian,
    Kernels,
)
from symjac.sparsity.pattern import SparsityPattern


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
    m, n = shape
    g = Graph()
    outs = replay(symbolic, g)
    if kind == "jvp":
        width, direction = m, [g.var(n + j) for j in range(n)]
        terms: list[list[int]] = [[] for _ in range(m)]
        for i, j, k in entries:
            terms[i].append(g.mul(outs[k], direction[j]))
    elif kind == "vjp":
        width, direction = n, [g.var(n + i) for i in range(m)]
        terms = [[] for _ in range(n)]
        for i, j, k in entries:
            terms[j].append(g.mul(direction[i], outs[k]))
    else:
        raise ValueError(f"kind must be 'jvp' or 'vjp', not {kind!r}")
    roots = expand_composites(g, [g.sum(t) for t in terms])
    tape = Tape.from_graph(g, roots, n + len(direction), symbolic.n_params)
    spec = KernelSpec(kind, tape, width, tuple(range(width)))
    return Pipeline(options).machine_code([spec])


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
    prob = pipe.front_end(exprs, wrt, params)
    grads = pipe.simplify_entries(prob, pipe.differentiate(prob, prob.roots))
    m, n = len(prob.roots), len(prob.wrt)
    entries = [(i, j, d) for i, grad in enumerate(grads) for j, d in grad.items()]
    pattern = SparsityPattern((m, n), [(i, j) for i, j, _ in entries])
    symbolic, tape = pipe.tapes(prob, [*prob.roots, *(d for _, _, d in entries)])
    nnz = pattern.nnz
    dense_positions = (*range(m), *(m + int(q) for q in pattern.flat_positions()))
    kernels = pipe.machine_code(
        [
            KernelSpec("values", tape, m + nnz, tuple(range(m + nnz))),
            KernelSpec("dense", tape, m + m * n, dense_positions),
        ]
    )
    return pipe.jacobian_object(CompiledFunctionAndJacobian, kernels, pattern, prob, symbolic)


def _weights(weights: Any, m: int, taken: Sequence[sp.Symbol]) -> list[Any]:
    """Validate ``weights``: m Symbols (runtime parameters) or m real numbers."""
    if isinstance(weights, (sp.Symbol, str)) or not hasattr(weights, "__len__"):
        raise TypeError("weights must be a sequence with one weight per expression")
    items = list(weights)
    if len(items) != m:
        raise ValueError(f"expected {m} weights, one per expression, got {len(items)}")
    if all(isinstance(w, sp.Symbol) for w in items):
        symbols = as_symbols(items, "weights", allow_empty=False)
        check_disjoint(taken, symbols)
        return symbols
    if any(isinstance(w, sp.Basic) and not w.is_Number for w in items):
        raise TypeError("weights must be all Symbols (given at call time) or all numbers")
    return [float(w) for w in items]


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
    prob = pipe.front_end(exprs, wrt, params)
    g, n = prob.graph, len(prob.wrt)
    if weights is None:
        if len(prob.roots) != 1:
            raise ValueError(
                "the Hessian of several expressions needs weights= (one per expression): "
                "it is the Hessian of the weighted sum Σ weights[i]·exprs[i]"
            )
        lagrangian = prob.roots[0]
    else:
        ws = _weights(weights, len(prob.roots), [*prob.wrt, *prob.params])
        if ws and isinstance(ws[0], sp.Symbol):
            first = len(prob.params)
            prob.params.extend(ws)
            scaled = [g.mul(g.param(first + i), r) for i, r in enumerate(prob.roots)]
        else:
            scaled = [g.mul(g.const(w), r) for w, r in zip(ws, prob.roots)]
        lagrangian = g.sum(scaled)
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
    return pipe.jacobian_object(CompiledHessian, kernels, pattern, prob, symbolic)


__all__ = [
    "build_function_and_jacobian",
    "build_hessian",
    "directional_kernel",
]
