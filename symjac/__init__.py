"""symjac: a symbolic-plus-numeric Jacobian compiler.

>>> import numpy as np, sympy as sp, symjac
>>> x, y = sp.symbols("x y")
>>> jac = symjac.jacobian([x**2 * y, sp.sin(x)], wrt=[x, y])
>>> jac(np.array([1.0, 2.0])).round(12).tolist()
[[4.0, 1.0], [0.540302305868, 0.0]]

The public API is loaded lazily, so ``import symjac.codegen`` (the back ends)
does not import SymPy.
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

__version__ = "0.1.0"

_API = {
    "jacobian": "api",
    "function": "api",
    "function_and_jacobian": "api",
    "hessian": "api",
    "logdet": "api",
    "CompiledLogDet": "determinant",
    "CompiledFunctionAndJacobian": "compiled",
    "CompiledHessian": "compiled",
    "CompiledJacobian": "compiled",
    "CompiledFunction": "compiled",
    "SparsityPattern": "sparsity.pattern",
    "emit": "standalone",
    "ode": "solvers.ode",
    "ODE": "solvers.ode",
    "nlp": "solvers.nlp",
    "NLP": "solvers.nlp",
}

__all__ = [
    "NLP",
    "ODE",
    "CompiledFunction",
    "CompiledFunctionAndJacobian",
    "CompiledHessian",
    "CompiledJacobian",
    "CompiledLogDet",
    "SparsityPattern",
    "emit",
    "function",
    "function_and_jacobian",
    "hessian",
    "jacobian",
    "logdet",
    "nlp",
    "ode",
]

if TYPE_CHECKING:
    from symjac.api import function, function_and_jacobian, hessian, jacobian, logdet
    from symjac.compiled import (
        CompiledFunction,
        CompiledFunctionAndJacobian,
        CompiledHessian,
        CompiledJacobian,
    )
    from symjac.determinant import CompiledLogDet
    from symjac.solvers.nlp import NLP, nlp
    from symjac.solvers.ode import ODE, ode
    from symjac.sparsity.pattern import SparsityPattern
    from symjac.standalone import emit


def __getattr__(name: str) -> Any:
    module = _API.get(name)
    if module is None:
        raise AttributeError(f"module 'symjac' has no attribute {name!r}")
    import importlib

    value = getattr(importlib.import_module(f".{module}", __name__), name)
    globals()[name] = value
    return value


def __dir__() -> list[str]:
    return sorted([*globals(), *__all__])
