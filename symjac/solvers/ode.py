"""ODE right-hand sides for SciPy's integrators: ``symjac.ode(rhs, t, y, params)``.

``solve_ivp`` wants ``fun(t, y, *args)``, and for its stiff methods ``jac(t, y, *args)`` or
at least ``jac_sparsity``; :class:`ODE` has all three, compiled from SymPy, so that ::

    solve_ivp(o.fun, span, y0, method="BDF", jac=o.jac, args=(p,))

works as it stands. The time ``t`` is compiled as the first parameter whether or not the
right-hand side uses it, so autonomous and non-autonomous systems are one case.

f and J are two compiled objects, not one shared kernel: an integrator calls ``fun``
many times per ``jac`` (BDF, measured on examples/05_stiff_ode.py: Robertson 895 f and 9 J
evaluations, the 200-state Brusselator 559 and 2), and a kernel computing both would
compute J at every one of them. The warm-start cache makes a
second run of the same model cost milliseconds.
"""

from __future__ import annotations

from typing import Any

import numpy as np
import sympy as sp

from symjac.api import function, jacobian
from symjac.compiled import CompiledFunction, CompiledJacobian
from symjac.frontend.validate import as_expressions, as_symbols


class ODE:
    """y' = f(t, y; p) and ∂f/∂y, with the call signatures ``scipy.integrate.solve_ivp`` uses.

    >>> import numpy as np, sympy as sp, symjac
    >>> from scipy.integrate import solve_ivp
    >>> t, y, k = sp.symbols("t y k")
    >>> o = symjac.ode([-k * y + sp.sin(t)], t, [y], [k])
    >>> o.fun(0.0, np.array([2.0]), [3.0]).tolist(), o.jac(0.0, np.array([2.0]), [3.0]).tolist()
    ([-6.0], [[-3.0]])
    >>> sol = solve_ivp(o.fun, (0, 1), [2.0], method="BDF", jac=o.jac, args=([3.0],))
    >>> sol.success
    True
    """

    def __init__(self, f: CompiledFunction, jac: CompiledJacobian, n_params: int):
        self._f = f
        self._jac = jac
        self._n_params = n_params

    @property
    def function(self) -> CompiledFunction:
        """The compiled f(y; t, p) (parameters: ``t`` first, then ``params``).

        >>> import sympy as sp, symjac
        >>> t, y = sp.symbols("t y")
        >>> symjac.ode([t * y], t, [y]).function.params
        (t,)
        """
        return self._f

    @property
    def jacobian(self) -> CompiledJacobian:
        """The compiled ∂f/∂y (y; t, p).

        >>> import sympy as sp, symjac
        >>> t, y = sp.symbols("t y")
        >>> symjac.ode([t * y**2], t, [y]).jacobian.to_sympy()
        Matrix([[2*t*y]])
        """
        return self._jac

    @property
    def n(self) -> int:
        """The number of states.

        >>> import sympy as sp, symjac
        >>> t, u, v = sp.symbols("t u v")
        >>> symjac.ode([v, -u], t, [u, v]).n
        2
        """
        return self._jac.shape[1]

    def _params(self, t: Any, args: tuple[Any, ...]) -> np.ndarray:
        """``[t, *p]`` from solve_ivp's ``args``: nothing, or one array-like of the params."""
        k = self._n_params
        if len(args) > 1 or (len(args) == 1) != (k > 0):
            raise TypeError(
                f"expected args=(p,) with the {k} parameters in order"
                if k
                else f"this system has no parameters; got {len(args)} extra arguments"
            )
        p = np.empty(k + 1)
        p[0] = t
        if k:
            given = np.asarray(args[0], dtype=float)
            if given.shape != (k,):
                raise ValueError(f"p must hold the {k} parameters, got shape {given.shape}")
            p[1:] = given
        return p

    def fun(self, t: float, y: Any, *args: Any) -> np.ndarray:
        """f(t, y): ``(n,)`` for ``y`` of shape ``(n,)``; ``(n, k)`` for ``(n, k)`` — the
        layout ``solve_ivp(vectorized=True)`` passes.

        >>> import numpy as np, sympy as sp, symjac
        >>> t, u, v = sp.symbols("t u v")
        >>> o = symjac.ode([v, -u + t], t, [u, v])
        >>> o.fun(1.0, np.array([1.0, 2.0])).tolist()
        [2.0, 0.0]
        >>> o.fun(1.0, np.array([[1.0, 0.0], [2.0, 5.0]])).tolist()  # two columns of states
        [[2.0, 5.0], [0.0, 1.0]]
        """
        p = self._params(t, args)
        y = np.asarray(y, dtype=float)
        if y.ndim == 2:
            if y.shape[0] != self.n:
                raise ValueError(f"y must have shape ({self.n},) or ({self.n}, k), got {y.shape}")
            return self._f(y.T, p).T
        return self._f(y, p)

    def jac(self, t: float, y: Any, *args: Any) -> Any:
        """∂f/∂y at (t, y): a dense ``(n, n)`` array, or a ``scipy.sparse.csr_array`` when the
        Jacobian is large and sparse (the ``sparse=`` rule of :func:`symjac.jacobian`).

        >>> import numpy as np, sympy as sp, symjac
        >>> t, u, v = sp.symbols("t u v")
        >>> symjac.ode([v, -u * t], t, [u, v]).jac(2.0, np.array([1.0, 2.0])).tolist()
        [[0.0, 1.0], [-2.0, 0.0]]
        """
        return self._jac(np.asarray(y, dtype=float), self._params(t, args))

    @property
    def jac_sparsity(self) -> Any:
        """Where ∂f/∂y can be nonzero, as a ``scipy.sparse.csr_array`` of ones
        (``solve_ivp(..., jac_sparsity=o.jac_sparsity)`` then estimates J by grouped finite
        differences instead of calling :meth:`jac`).

        >>> import sympy as sp, symjac
        >>> t, u, v = sp.symbols("t u v")
        >>> symjac.ode([v, -u], t, [u, v]).jac_sparsity.toarray().tolist()
        [[0.0, 1.0], [1.0, 0.0]]
        """
        pattern = self._jac.pattern
        return pattern.to_scipy(np.ones(pattern.nnz))

    def __repr__(self) -> str:
        return f"<symjac.ODE n={self.n}, nnz(J)={self._jac.nnz}, params={self._n_params}>"


def ode(rhs: Any, t: Any, y: Any, params: Any = None, **build_options: Any) -> ODE:
    """Compile y' = rhs(t, y; params) for ``scipy.integrate.solve_ivp``.

    ``rhs`` is one SymPy expression per state, ``t`` the time Symbol (it need not appear),
    ``y`` the state Symbols, ``params`` further Symbols given at call time through
    ``args=(p,)``. ``build_options`` are those of :func:`symjac.jacobian` (``sparse=`` decides
    whether :meth:`ODE.jac` returns dense or sparse; the other options apply to f too).

    >>> import numpy as np, sympy as sp, symjac
    >>> from scipy.integrate import solve_ivp
    >>> t, y = sp.symbols("t y")
    >>> o = symjac.ode([-2 * y + t], t, [y])          # y(t) = (y0 + 1/4) e^(-2t) + t/2 - 1/4
    >>> sol = solve_ivp(o.fun, (0, 2), [1.0], method="Radau", jac=o.jac, rtol=1e-10, atol=1e-12)
    >>> exact = 1.25 * np.exp(-4.0) + 1.0 - 0.25
    >>> bool(abs(sol.y[0, -1] - exact) < 1e-8)
    True
    """
    rhs_list = as_expressions(rhs)
    states = as_symbols(y, "y", allow_empty=False)
    if not isinstance(t, sp.Symbol):
        raise TypeError(f"t must be the time Symbol (it need not appear in rhs), not {t!r}")
    time = t
    if len(rhs_list) != len(states):
        raise ValueError(f"rhs has {len(rhs_list)} expressions for {len(states)} states")
    extra = as_symbols(params, "params", allow_empty=True)
    sparse = build_options.pop("sparse", "auto")
    f = function(rhs_list, states, [time, *extra], **build_options)
    jac = jacobian(rhs_list, states, [time, *extra], sparse=sparse, **build_options)
    return ODE(f, jac, len(extra))
