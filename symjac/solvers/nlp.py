"""Nonlinear programs for IPOPT and SciPy: ``symjac.nlp(objective, wrt, constraints, params)``.

    minimise f(x; p)  subject to  cl ≤ c(x; p) ≤ cu,  lb ≤ x ≤ ub

:class:`NLP` implements cyipopt's problem protocol — ``objective``, ``gradient``,
``constraints``, ``jacobian`` with ``jacobianstructure``, ``hessian`` with
``hessianstructure`` — from four compiled objects: f, ∇f, c with its sparse Jacobian, and
the Hessian of the Lagrangian σ∇²f + Σ λᵢ∇²cᵢ (its lower triangle, σ and λ compiled as
parameters after ``params``), so IPOPT runs with exact sparse second derivatives.
:meth:`NLP.solve` runs IPOPT (``symjac[ipopt]``) or SciPy's ``trust-constr`` with the same
derivatives. Multipliers follow IPOPT's convention: at a solution
``∇f + Jᵀλ − z_L + z_U = 0``.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

import numpy as np
import sympy as sp

from symjac.api import function, hessian, jacobian
from symjac.frontend.validate import as_expressions, as_symbols


@dataclass
class Result:
    """What :meth:`NLP.solve` found: ``x``, ``fun`` = f(x), ``success``, ``message``, ``nit``
    (iterations), ``multipliers`` λ of the constraints, ``z_lower``/``z_upper`` of the
    bounds (IPOPT's convention: ``∇f + Jᵀλ − z_lower + z_upper = 0``), and the solver.

    >>> Result(np.zeros(1), 0.0, True, "ok", 3, np.zeros(0), np.zeros(1), np.zeros(1), "ipopt").nit
    3
    """

    x: np.ndarray
    fun: float
    success: bool
    message: str
    nit: int
    multipliers: np.ndarray
    z_lower: np.ndarray
    z_upper: np.ndarray
    solver: str


def _text(message: Any) -> str:
    return message.decode() if isinstance(message, bytes) else str(message)


def _bounds(values: Any, n: int, default: float, what: str) -> np.ndarray:
    if values is None:
        return np.full(n, default)
    arr = np.asarray(values, dtype=float)
    if arr.ndim == 0:
        arr = np.full(n, float(arr))
    if arr.shape != (n,):
        raise ValueError(f"{what} must have {n} entries (or be one number), got shape {arr.shape}")
    if np.isnan(arr).any():
        raise ValueError(f"{what} must not hold NaN (±inf means no bound)")
    return arr


class NLP:
    """A nonlinear program with exact sparse derivatives, for IPOPT (cyipopt's problem
    protocol) and SciPy's ``trust-constr``; made by :func:`nlp`.

    >>> import numpy as np, sympy as sp, symjac
    >>> x, y = sp.symbols("x y")
    >>> prob = symjac.nlp((x - 1) ** 2 + (y - 2) ** 2, [x, y], [x + y])
    >>> res = prob.solve([0.0, 0.0], cu=[1.0])   # x + y <= 1, with IPOPT
    >>> np.round(res.x, 6).tolist(), round(res.fun, 6), np.round(res.multipliers, 6).tolist()
    ([0.0, 1.0], 2.0, [2.0])
    """

    def __init__(self, wrt: list[Any], params: list[Any], m: int, parts: dict[str, Any]):
        self._wrt, self._params, self._m = wrt, params, m
        self._f, self._grad = parts["f"], parts["grad"]
        self._c, self._jac = parts.get("c"), parts.get("jac")
        self._hess = parts["hess"]
        #: the parameter values the protocol methods use (set by :meth:`solve`'s ``p``)
        self.p: np.ndarray = np.zeros(0)
        self._iterations = 0

    @property
    def n(self) -> int:
        """Number of variables.

        >>> import sympy as sp, symjac
        >>> x, y = sp.symbols("x y")
        >>> symjac.nlp(x**2 + y**2, [x, y]).n, symjac.nlp(x**2 + y**2, [x, y]).m
        (2, 0)
        """
        return len(self._wrt)

    @property
    def m(self) -> int:
        """Number of constraints.

        >>> import sympy as sp, symjac
        >>> x, y = sp.symbols("x y")
        >>> symjac.nlp(x**2 + y**2, [x, y], [x * y, x - y]).m
        2
        """
        return self._m

    def _args(self) -> np.ndarray | None:
        return self.p if len(self._params) else None

    def objective(self, x: Any) -> float:
        """f(x).

        >>> import sympy as sp, symjac
        >>> x, y = sp.symbols("x y")
        >>> symjac.nlp(x**2 + 3 * y, [x, y]).objective([2.0, 1.0])
        7.0
        """
        return float(self._f(np.asarray(x, dtype=float), self._args())[0])

    def gradient(self, x: Any) -> np.ndarray:
        """∇f(x), dense ``(n,)``.

        >>> import sympy as sp, symjac
        >>> x, y = sp.symbols("x y")
        >>> symjac.nlp(x**2 + 3 * y, [x, y]).gradient([2.0, 1.0]).tolist()
        [4.0, 3.0]
        """
        return self._grad.dense(np.asarray(x, dtype=float), self._args())[0]

    def constraints(self, x: Any) -> np.ndarray:
        """c(x), ``(m,)``.

        >>> import sympy as sp, symjac
        >>> x, y = sp.symbols("x y")
        >>> symjac.nlp(x**2, [x, y], [x * y, x - y]).constraints([2.0, 1.0]).tolist()
        [2.0, 1.0]
        """
        if self._c is None:
            return np.zeros(0)
        return self._c(np.asarray(x, dtype=float), self._args())

    def jacobianstructure(self) -> tuple[np.ndarray, np.ndarray]:
        """``(rows, cols)`` of the constraint Jacobian's structural nonzeros (row-major).

        >>> import sympy as sp, symjac
        >>> x, y = sp.symbols("x y")
        >>> rows, cols = symjac.nlp(x**2, [x, y], [x * y, x]).jacobianstructure()
        >>> rows.tolist(), cols.tolist()
        ([0, 0, 1], [0, 1, 0])
        """
        if self._jac is None:
            return np.zeros(0, dtype=np.int64), np.zeros(0, dtype=np.int64)
        return self._jac.pattern.rows, self._jac.pattern.cols

    def jacobian(self, x: Any) -> np.ndarray:
        """The constraint Jacobian's nonzeros, in :meth:`jacobianstructure` order.

        >>> import sympy as sp, symjac
        >>> x, y = sp.symbols("x y")
        >>> symjac.nlp(x**2, [x, y], [x * y, x]).jacobian([2.0, 3.0]).tolist()
        [3.0, 2.0, 1.0]
        """
        if self._jac is None:
            return np.zeros(0)
        return self._jac.values(np.asarray(x, dtype=float), self._args())

    def hessianstructure(self) -> tuple[np.ndarray, np.ndarray]:
        """``(rows, cols)`` of the Lagrangian Hessian's lower triangle (row ≥ col).

        >>> import sympy as sp, symjac
        >>> x, y = sp.symbols("x y")
        >>> rows, cols = symjac.nlp(x**2 * y, [x, y], [y**3]).hessianstructure()
        >>> rows.tolist(), cols.tolist()
        ([0, 1, 1], [0, 0, 1])
        """
        return self._hess.pattern.rows, self._hess.pattern.cols

    def _weights(self, lagrange: Any, obj_factor: float) -> np.ndarray:
        lam = np.asarray(lagrange, dtype=float).reshape(-1)
        if lam.shape != (self._m,):
            raise ValueError(f"lagrange must have {self._m} entries, got {lam.shape}")
        return np.concatenate([self.p, [float(obj_factor)], lam])

    def hessian(self, x: Any, lagrange: Any, obj_factor: float) -> np.ndarray:
        """The lower triangle of σ∇²f + Σ λᵢ∇²cᵢ (σ = ``obj_factor``, λ = ``lagrange``), in
        :meth:`hessianstructure` order.

        >>> import sympy as sp, symjac
        >>> x, y = sp.symbols("x y")
        >>> symjac.nlp(x**2 * y, [x, y], [y**3]).hessian([1.0, 2.0], [10.0], 1.0).tolist()
        [4.0, 2.0, 120.0]
        """
        return self._hess.values(np.asarray(x, dtype=float), self._weights(lagrange, obj_factor))

    def _full_hessian(self, x: Any, lagrange: Any, obj_factor: float) -> Any:
        """σ∇²f + Σ λᵢ∇²cᵢ, both triangles, as a SciPy sparse matrix (for trust-constr)."""
        return self._hess.sparse(np.asarray(x, dtype=float), self._weights(lagrange, obj_factor))

    def solve(
        self,
        x0: Any,
        lb: Any = None,
        ub: Any = None,
        cl: Any = None,
        cu: Any = None,
        p: Any = None,
        solver: str = "ipopt",
        options: dict[str, Any] | None = None,
    ) -> Result:
        """Minimise from ``x0``; bounds default to none (±inf), ``cl == cu`` is an equality.

        ``solver="ipopt"`` needs cyipopt (``pip install "symjac[ipopt]"``); ``"trust-constr"``
        is ``scipy.optimize.minimize(method="trust-constr")`` with the same exact
        derivatives. ``options`` go to the solver (IPOPT's option names, or minimize's
        ``options``).

        >>> import numpy as np, sympy as sp, symjac
        >>> x, y = sp.symbols("x y")
        >>> rosen = symjac.nlp((1 - x) ** 2 + 100 * (y - x**2) ** 2, [x, y])
        >>> res = rosen.solve([-1.2, 1.0], solver="trust-constr")
        >>> res.success, np.round(res.x, 5).tolist()
        (True, [1.0, 1.0])
        """
        n, m = self.n, self._m
        x0 = _bounds(x0, n, 0.0, "x0")
        lb, ub = _bounds(lb, n, -np.inf, "lb"), _bounds(ub, n, np.inf, "ub")
        cl, cu = _bounds(cl, m, -np.inf, "cl"), _bounds(cu, m, np.inf, "cu")
        if (lb > ub).any():
            raise ValueError(f"lb > ub for the variables {np.flatnonzero(lb > ub).tolist()}")
        if (cl > cu).any():
            raise ValueError(f"cl > cu for the constraints {np.flatnonzero(cl > cu).tolist()}")
        k = len(self._params)
        if k:
            if p is None:
                names = ", ".join(map(str, self._params))
                raise ValueError(f"this problem needs p: values for {names}")
            self.p = _bounds(p, k, 0.0, "p")
        elif p is not None and np.size(p):
            raise ValueError("this problem has no parameters; p must be None")
        if solver == "ipopt":
            return self._ipopt(x0, lb, ub, cl, cu, options or {})
        if solver == "trust-constr":
            return self._trust_constr(x0, lb, ub, cl, cu, options or {})
        raise ValueError(f"solver must be 'ipopt' or 'trust-constr', not {solver!r}")

    def _ipopt(self, x0, lb, ub, cl, cu, options: dict[str, Any]) -> Result:
        try:
            import cyipopt
        except ImportError as exc:
            raise ImportError(
                'solver="ipopt" needs cyipopt: pip install "symjac[ipopt]" '
                '(or use solver="trust-constr")'
            ) from exc
        problem = cyipopt.Problem(n=self.n, m=self._m, problem_obj=self, lb=lb, ub=ub, cl=cl, cu=cu)
        self._iterations = 0
        problem.add_option("print_level", 0)
        problem.add_option("sb", "yes")  # no banner
        for name, value in options.items():
            problem.add_option(name, value)
        x, info = problem.solve(x0)
        return Result(
            x=np.asarray(x),
            fun=float(info["obj_val"]),
            success=info["status"] in (0, 1),
            message=_text(info["status_msg"]),
            nit=self._iterations,
            multipliers=np.asarray(info["mult_g"]),
            z_lower=np.asarray(info["mult_x_L"]),
            z_upper=np.asarray(info["mult_x_U"]),
            solver="ipopt",
        )

    def _trust_constr(self, x0, lb, ub, cl, cu, options: dict[str, Any]) -> Result:
        from scipy.optimize import Bounds, NonlinearConstraint, minimize

        zeros = np.zeros(self._m)
        constraints = []
        jac = self._jac
        if jac is not None:
            constraints.append(
                NonlinearConstraint(
                    self.constraints,
                    cl,
                    cu,
                    jac=lambda x: jac.sparse(np.asarray(x, dtype=float), self._args()),
                    hess=lambda x, v: self._full_hessian(x, v, 0.0),
                )
            )
        bounds = Bounds(lb, ub) if np.isfinite(lb).any() or np.isfinite(ub).any() else None
        # tighter than minimize's defaults (which stop ~1e-4 off an active inequality)
        settings = {"gtol": 1e-12, "xtol": 1e-15, "barrier_tol": 1e-12, "maxiter": 5000, **options}
        res = minimize(
            self.objective,
            x0,
            jac=self.gradient,
            hess=lambda x: self._full_hessian(x, zeros, 1.0),
            bounds=bounds,
            constraints=constraints,
            method="trust-constr",
            options=settings,
        )
        # scipy's v has IPOPT's sign for the constraints, and is z_U − z_L for the bounds
        # (checked against IPOPT's multipliers in tests/test_nlp.py)
        lam = np.asarray(res.v[0]) if self._m else np.zeros(0)
        z = np.asarray(res.v[-1]) if bounds is not None else np.zeros(self.n)
        return Result(
            x=np.asarray(res.x),
            fun=float(res.fun),
            success=bool(res.success),
            message=str(res.message),
            nit=int(res.nit),
            multipliers=lam,
            z_lower=np.maximum(-z, 0.0),
            z_upper=np.maximum(z, 0.0),
            solver="trust-constr",
        )

    def intermediate(self, alg_mod: int, iter_count: int, *args: Any) -> bool:
        """IPOPT's per-iteration callback (cyipopt's protocol): counts the iterations.

        >>> import sympy as sp, symjac
        >>> x = sp.Symbol("x")
        >>> prob = symjac.nlp((x - 3) ** 2, [x])
        >>> prob.intermediate(0, 4), prob._iterations
        (True, 4)
        """
        self._iterations = iter_count
        return True

    def __repr__(self) -> str:
        return f"<symjac.NLP n={self.n}, m={self._m}, params={len(self._params)}>"


def nlp(
    objective: Any,
    wrt: Any,
    constraints: Any = None,
    params: Any = None,
    **build_options: Any,
) -> NLP:
    """Compile min f(x) s.t. cl ≤ c(x) ≤ cu, lb ≤ x ≤ ub with exact sparse first and second
    derivatives; ``build_options`` as for :func:`symjac.jacobian` (but ``sparse``).

    >>> import numpy as np, sympy as sp, symjac
    >>> x = sp.symbols("x0:4")
    >>> hs071 = symjac.nlp(x[0] * x[3] * (x[0] + x[1] + x[2]) + x[2], x,
    ...                    [x[0] * x[1] * x[2] * x[3], sum(xi**2 for xi in x)])
    >>> res = hs071.solve([1, 5, 5, 1], lb=1, ub=5, cl=[25, 40], cu=[np.inf, 40],
    ...                   solver="trust-constr")
    >>> round(res.fun, 4)
    17.014
    """
    if "sparse" in build_options:
        raise TypeError("nlp() takes no 'sparse' option: its Jacobians are always sparse")
    outputs = as_expressions(objective)
    if len(outputs) != 1:
        raise ValueError(f"the objective must be one scalar expression, got {len(outputs)}")
    cons = [] if constraints is None else as_expressions(constraints)
    xs = as_symbols(wrt, "wrt", allow_empty=False)
    ps = as_symbols(params, "params", allow_empty=True)
    # σ and λ: parameters after params (plain Symbols, so the warm-start key is stable)
    weights = [sp.Symbol("_symjac_sigma"), *sp.symbols(f"_symjac_lambda0:{len(cons)}")]
    parts: dict[str, Any] = {
        "f": function(outputs, xs, ps, **build_options),
        "grad": jacobian(outputs, xs, ps, sparse=False, **build_options),
        "hess": hessian([*outputs, *cons], xs, ps, weights=weights, **build_options),
    }
    if cons:
        parts["c"] = function(cons, xs, ps, **build_options)
        parts["jac"] = jacobian(cons, xs, ps, sparse=True, **build_options)
    return NLP(xs, ps, len(cons), parts)
