"""Independent references for symjac's compiled kernels (helpers, not a test module).

* :class:`SympyReference` — SymPy's own ``Matrix(exprs).jacobian(wrt)`` (and the
  expressions themselves) evaluated with mpmath at 50 significant digits at the
  exact double inputs, then rounded to float64. A result with a nonzero
  imaginary part becomes NaN: symjac kernels are real and return NaN where the
  real function is undefined.
* :func:`central_difference` — a fourth-order central finite difference of a
  compiled :func:`symjac.function`, an independent check of the Jacobian that
  shares nothing with SymPy's differentiation.
* :meth:`SympyReference.decided_by_rounding` — which entries take a branch (Heaviside,
  sign, floor, ceiling, a Piecewise condition, a Max/Min tie, atan2's cut) that rounding at
  a given precision could decide the other way: property tests leave those out.
* :func:`assert_precise_equal` — an ulp/relative-tolerance comparison in the
  spirit of numba's ``assertPreciseEqual``: NaN equals NaN, an infinity only
  equals the same infinity, finite values must agree to ``rtol`` scaled by their
  magnitude plus a small absolute term relative to the size of their row.

The reference follows symjac's documented conventions wherever they are a
*choice* rather than mathematics (docs/semantics.md):

* every symbol is real, whatever its SymPy assumptions;
* ``sign``, ``floor``, ``ceiling`` and ``Heaviside`` have derivative 0 (the
  Dirac part of a jump is dropped); ``Heaviside(x, h0)`` has derivative
  ``[x == 0]`` with respect to ``h0``;
* ``loggamma`` is the real branch ``log(gamma(x))`` (NaN where Γ(x) < 0);
* SymPy's derivative of ``Max``/``Min`` is ``Σ Heaviside(a_i - max of the others)·da_i``
  with ``Heaviside(0) = 1/2`` — at a two-way tie the mean of the one-sided
  derivatives — which is symjac's documented convention too.
"""

from __future__ import annotations

import math
from collections.abc import Callable, Sequence
from typing import Any

import mpmath
import numpy as np
import sympy as sp
from sympy.codegen.cfunctions import Cbrt, log2
from sympy.core.relational import Relational

import symjac

REFERENCE_DPS = 50

# -- compiling -------------------------------------------------------------------------
#
# The tests compile through these two helpers. (They once kept every kernel alive to work
# around a use-after-free of the cached LLVM TargetMachine, now fixed in codegen/llvm/jit.py and
# covered by test_functions.py::test_freeing_a_compiled_kernel_does_not_break_later_compilations;
# a single place to hook compilation is still handy.)


def compile_jacobian(exprs: Any, wrt: Any, params: Any = None, **kw: Any) -> Any:
    """``symjac.jacobian(exprs, wrt, params, **kw)``."""
    return symjac.jacobian(exprs, wrt, params, **kw)


def compile_function(exprs: Any, wrt: Any, params: Any = None, **kw: Any) -> Any:
    """``symjac.function(exprs, wrt, params, **kw)``."""
    return symjac.function(exprs, wrt, params, **kw)


# -- symjac's conventions, expressed in SymPy ------------------------------------------


class _Step(sp.Function):
    """A piecewise-constant function whose derivative is taken as 0 (jumps dropped)."""

    nargs = 1

    def fdiff(self, argindex: int = 1) -> sp.Expr:
        return sp.S.Zero


class RefSign(_Step):
    """``sign`` with derivative 0."""


class RefFloor(_Step):
    """``floor`` with derivative 0."""


class RefCeiling(_Step):
    """``ceiling`` with derivative 0."""


class RefHeaviside(sp.Function):
    """``Heaviside(x, h0)``: 0, h0, 1 for x <0, =0, >0; d/dx = 0, d/dh0 = [x == 0]."""

    nargs = 2

    def fdiff(self, argindex: int = 1) -> sp.Expr:
        if argindex == 1:
            return sp.S.Zero
        return sp.Piecewise((sp.S.One, sp.Eq(self.args[0], 0)), (sp.S.Zero, True))


def _mp_heaviside(x: Any, h0: Any) -> Any:
    if mpmath.isnan(x):
        return mpmath.nan
    if x < 0:
        return mpmath.mpf(0)
    if x > 0:
        return mpmath.mpf(1)
    return h0


_MPMATH_EXTRA = {
    # named here so that lambdify calls them instead of rewriting them (and, with them,
    # their whole argument) in terms of exp/log, which introduces complex intermediates
    "sec": mpmath.sec,
    "csc": mpmath.csc,
    "cot": mpmath.cot,
    "sech": mpmath.sech,
    "csch": mpmath.csch,
    "coth": mpmath.coth,
    "acot": mpmath.acot,  # acot(0) = pi/2, acot(-x) = -acot(x): SymPy's convention
    # C99 functions (sympy.codegen.cfunctions), by their mpmath definitions
    "expm1": mpmath.expm1,
    "log1p": mpmath.log1p,
    "exp2": lambda x: mpmath.power(2, x),
    "log10": mpmath.log10,
    "hypot": mpmath.hypot,
    "RefSign": mpmath.sign,
    "RefFloor": mpmath.floor,
    "RefCeiling": mpmath.ceil,
    "RefHeaviside": _mp_heaviside,
}


def realify(exprs: Sequence[sp.Expr], symbols: Sequence[sp.Symbol]) -> tuple[list, list]:
    """Replace every symbol by a real symbol of the same name (symjac's convention)."""
    # plain Symbols with fresh names, not Dummies: lambdify re-substitutes Dummy arguments,
    # which re-evaluates (slowly) the whole expression
    real = [sp.Symbol(f"_ref{i}", real=True) for i in range(len(symbols))]
    mapping = dict(zip(symbols, real))
    return [sp.sympify(e).xreplace(mapping) for e in exprs], real


def with_symjac_conventions(expr: sp.Expr) -> sp.Expr:
    """Rewrite ``expr`` so that SymPy's derivative follows symjac's documented conventions."""
    expr = expr.replace(sp.sign, RefSign)
    expr = expr.replace(sp.floor, RefFloor)
    expr = expr.replace(sp.ceiling, RefCeiling)
    expr = expr.replace(
        lambda e: isinstance(e, sp.Heaviside),
        lambda e: RefHeaviside(e.args[0], e.args[1] if len(e.args) > 1 else sp.S.Half),
    )
    expr = expr.replace(sp.loggamma, lambda u: sp.log(sp.gamma(u)))
    # the real cube root (SymPy's derivative of Cbrt, u**(-2/3)/3, is complex for u < 0)
    expr = expr.replace(Cbrt, lambda u: RefSign(u) * sp.Abs(u) ** sp.Rational(1, 3))
    # SymPy 1.14's lambdify prints log2(u)**2 as log(u)/log(2)**2 (no parentheses)
    expr = expr.replace(log2, lambda u: sp.log(u) / sp.log(2))
    return expr.xreplace({sp.zoo: sp.nan})  # complex infinity: not a real number


def _check_evaluable(expr: sp.Expr) -> None:
    bad = expr.atoms(sp.Derivative, sp.Subs, sp.DiracDelta)
    if bad:
        raise AssertionError(f"the reference cannot evaluate {bad} (in {expr})")


# -- evaluation with mpmath ------------------------------------------------------------


def mp_to_float(value: Any) -> float:
    """An mpmath/Python result as float64: NaN when undefined or not real."""
    if value is None:  # a Piecewise in which no condition holds
        return math.nan
    if isinstance(value, (bool, int, float)):
        return float(value)
    if not isinstance(value, (mpmath.mpf, mpmath.mpc)) and hasattr(value, "_mpf_"):
        value = mpmath.mpf(value)  # an mpmath constant such as mpmath.pi
    if isinstance(value, mpmath.mpc):
        re, im = value.real, value.imag
        if im != 0 and abs(im) > mpmath.mpf(10) ** (-(mpmath.mp.dps - 10)) * max(1, abs(re)):
            return math.nan
        value = re
    if isinstance(value, mpmath.mpf):
        return float(value)  # correctly rounded; overflows to ±inf
    if isinstance(value, complex):
        return value.real if value.imag == 0 else math.nan
    raise TypeError(f"unexpected value {value!r} of type {type(value).__name__}")


def _evaluate(fn: Callable[..., Any], args: Sequence[float]) -> float:
    try:
        return mp_to_float(fn(*[mpmath.mpf(float(a)) for a in args]))
    except (ZeroDivisionError, ValueError, OverflowError):
        # poles (mpmath raises where the exact result is a complex infinity)
        return math.nan
    except (TypeError, AttributeError):
        # a complex intermediate reached a real-only operation (atan2, floor, a comparison):
        # the real function is undefined there
        return math.nan


def without_cancellation(expr: sp.Expr) -> sp.Expr:
    """``log(1 + u)`` as ``log1p(u)`` and ``exp(u) - 1`` as ``expm1(u)``: the same values, but
    50 digits are not enough for ``1 + u`` at u = 1e-239 (symjac's ``numeric`` rules are).

    >>> x = sp.Symbol("x")
    >>> without_cancellation(sp.log(1 + x**2) * (sp.exp(x) - 1))
    expm1(x)*log1p(x**2)
    """
    from sympy.codegen.cfunctions import expm1, log1p

    def one_plus(e: sp.Expr) -> bool:
        return isinstance(e, sp.log) and e.args[0].is_Add and sp.S.One in e.args[0].args

    def exp_minus_one(e: sp.Expr) -> bool:
        return e.is_Add and len(e.args) == 2 and sp.S.NegativeOne in e.args and e.has(sp.exp)

    def as_expm1(e: sp.Expr) -> sp.Expr:
        (other,) = (t for t in e.args if t != -1)
        return expm1(other.args[0]) if isinstance(other, sp.exp) else e

    expr = expr.replace(one_plus, lambda e: log1p(e.args[0] - 1))
    expr = expr.replace(exp_minus_one, as_expm1)
    return expr


#: functions whose value jumps where their argument crosses 0
_JUMPS_AT_ZERO = (sp.Heaviside, RefHeaviside, sp.sign, RefSign)
#: functions whose value jumps where their argument crosses an integer
_JUMPS_AT_INTEGERS = (sp.floor, sp.ceiling, RefFloor, RefCeiling)


def branch_points(expr: sp.Expr) -> set[tuple[str, tuple[sp.Expr, ...]]]:
    """The quantities that choose a branch of ``expr``, each as ``(kind, args)``: ``("zero",
    (g,))`` where the value jumps as ``g`` crosses 0 (Heaviside, sign), ``("integer", (g,))``
    as ``g`` crosses an integer (floor, ceiling), ``("compare", (lhs, rhs))`` as a Piecewise
    condition's two sides cross, ``("atan2", (y, x))`` as ``y`` crosses 0 with ``x <= 0``
    (atan2's cut, where a kernel's signed zeros, which mpmath does not have, decide).
    (Max/Min: see :func:`extremum_points`.)

    >>> x, y = sp.symbols("x y", real=True)
    >>> sorted(branch_points(sp.Piecewise((x, x + y > 1), (y, True)) + sp.floor(y)))
    [('compare', (x + y, 1)), ('integer', (y,))]
    """
    found = set()
    for node in sp.preorder_traversal(expr):
        if isinstance(node, _JUMPS_AT_ZERO):
            found.add(("zero", (node.args[0],)))
        elif isinstance(node, _JUMPS_AT_INTEGERS):
            found.add(("integer", (node.args[0],)))
        elif isinstance(node, sp.Piecewise):
            for _, cond in node.args:
                for rel in cond.atoms(Relational):
                    found.add(("compare", (rel.lhs, rel.rhs)))
        elif isinstance(node, sp.atan2):
            found.add(("atan2", tuple(node.args)))
    return found


def extremum_points(expr: sp.Expr, wrt: Sequence[sp.Symbol]) -> list[set]:
    """For each symbol of ``wrt``, the Max/Min of ``expr`` that depend on it, as ``("max" |
    "min", operands)``: the derivative of ``expr`` with respect to the symbol takes, through
    the Heaviside weights of SymPy's ``d Max = Σ Heaviside(a_i - max of the others)·da_i``, the
    branch of the operand that wins (a kernel compares the operands as computed; SymPy's
    Heaviside argument, flattened into one sum, can cancel a common term exactly).

    >>> x, y = sp.symbols("x y", real=True)
    >>> extremum_points(sp.sin(sp.Max(x, x * y)) + y, [x, y])
    [{('max', (x, x*y))}, {('max', (x, x*y))}]
    """
    found = [set() for _ in wrt]
    for node in sp.preorder_traversal(expr):
        if isinstance(node, (sp.Max, sp.Min)):
            kind = "max" if isinstance(node, sp.Max) else "min"
            for j, symbol in enumerate(wrt):
                if node.has(symbol):
                    found[j].add((kind, tuple(node.args)))
    return found


def _mp_real(fn: Callable[..., Any], args: Sequence[Any]) -> Any:
    """``fn(*args)`` as a real mpf, or None where it is undefined or not real."""
    try:
        value = fn(*args)
    except (ZeroDivisionError, ValueError, OverflowError, TypeError, AttributeError):
        return None  # as in _evaluate
    if value is None:
        return None
    if isinstance(value, (bool, int, float)):
        return mpmath.mpf(value)
    if not isinstance(value, (mpmath.mpf, mpmath.mpc)) and hasattr(value, "_mpf_"):
        value = mpmath.mpf(value)
    if isinstance(value, mpmath.mpc):
        if value.imag != 0 and abs(value.imag) > mpmath.mpf(2) ** (10 - mpmath.mp.prec) * max(
            1, abs(value.real)
        ):
            return None
        value = value.real
    return value if isinstance(value, mpmath.mpf) else None


def _near_jump(kind: str, exact: Any, low: list, safety: float, tiny: float) -> bool:
    """Whether a jump of ``kind`` (``"zero"``: at 0, ``"integer"``: at the integers) at the
    exact value ``exact`` may be decided by rounding, given the same quantity evaluated at
    lower precisions (``low``): one of them is on the other side, or ``exact`` is within
    ``safety`` times their largest error of the jump, or (at 0) nonzero but smaller than
    ``tiny``, the smallest normal number of the kernel's type (mpmath's exponents do not
    underflow; ``y**3`` at y = -3e-281 is -0.0 in doubles). An exact tie (every evaluation
    exactly at the jump) is decided, not a near-tie; an undefined value (None, inf, NaN) is
    near."""
    if exact is None or any(v is None for v in low):
        return True
    if not mpmath.isfinite(exact) or not all(mpmath.isfinite(v) for v in low):
        return True
    error = max(abs(v - exact) for v in low)
    if kind == "zero":
        if any(mpmath.sign(v) != mpmath.sign(exact) for v in low):
            return True
        gap = abs(exact)
        if 0 < gap < tiny:
            return True
    else:
        floor, ceil = mpmath.floor(exact), mpmath.ceil(exact)
        if any(mpmath.floor(v) != floor or mpmath.ceil(v) != ceil for v in low):
            return True
        gap = abs(exact - mpmath.nint(exact))
    return bool(error > 0 and gap <= safety * error)


def _branch_near(kind: str, exact: list, low: list[list], safety: float, tiny: float) -> bool:
    """:func:`_near_jump` for a branch point of :func:`branch_points` or
    :func:`extremum_points`, from its operands' exact values and their values at lower
    precisions (``low[k]``: all operands at the k-th precision); two computed operands are
    compared exactly, as a kernel compares them."""
    if any(v is None or not mpmath.isfinite(v) for v in [*exact, *(u for lo in low for u in lo)]):
        return True
    if kind in ("zero", "integer"):
        return _near_jump(kind, exact[0], [lo[0] for lo in low], safety, tiny)
    if kind == "compare":
        return any(  # either side may underflow
            _near_jump("zero", v, [lo[k] for lo in low], safety, tiny)
            for k, v in enumerate(exact)
            if 0 < abs(v) < tiny
        ) or _near_jump("zero", exact[0] - exact[1], [lo[0] - lo[1] for lo in low], safety, tiny)
    if kind == "atan2":  # the cut: y = 0 with x < 0, or x = ±0 (on it, ±0 decides: ±pi)
        y_near = exact[0] == 0 or _near_jump("zero", exact[0], [lo[0] for lo in low], safety, tiny)
        x_near = _near_jump("zero", exact[1], [lo[1] for lo in low], safety, tiny)
        return y_near and (exact[1] <= 0 or x_near)
    # max/min: the winner against each other operand
    pick = max if kind == "max" else min
    top = exact.index(pick(exact))
    return any(
        _near_jump("zero", exact[top] - exact[k], [lo[top] - lo[k] for lo in low], safety, tiny)
        for k in range(len(exact))
        if k != top
    )


class SympyReference:
    """SymPy's function and Jacobian of ``exprs``, evaluated with mpmath.

    >>> x = sp.Symbol("x")
    >>> ref = SympyReference([x**2], [x])
    >>> ref.jacobian(np.array([[3.0]])).tolist()
    [[[6.0]]]
    """

    def __init__(self, exprs: Any, wrt: Sequence[sp.Symbol], params: Sequence[sp.Symbol] = ()):
        if isinstance(exprs, sp.Basic):
            exprs = [exprs]
        wrt, params = list(wrt), list(params or ())
        real_exprs, real_syms = realify(list(exprs), [*wrt, *params])
        self.n_vars, self.n_params = len(wrt), len(params)
        self.symbols = real_syms  # the real stand-ins for wrt + params, in order
        self.exprs = [with_symjac_conventions(e) for e in real_exprs]
        real_wrt = real_syms[: len(wrt)]
        self.jac = sp.Matrix(self.exprs).jacobian(real_wrt)
        self.shape = self.jac.shape
        for e in [*self.exprs, *self.jac]:
            _check_evaluable(e)
        modules = [_MPMATH_EXTRA, "mpmath"]
        exact = [without_cancellation(e) for e in [*self.exprs, *self.jac]]
        self._f = [sp.lambdify(real_syms, e, modules=modules) for e in exact[: len(self.exprs)]]
        self._j = [sp.lambdify(real_syms, e, modules=modules) for e in exact[len(self.exprs) :]]
        self._written: tuple[list, list] | None = None  # lambdified as SymPy writes them, lazily
        self._branches: list[set] | None = None  # branch_points of each entry, lazily

    def _lambdify(self, exprs: Sequence[sp.Expr]) -> list:
        return [sp.lambdify(self.symbols, e, modules=[_MPMATH_EXTRA, "mpmath"]) for e in exprs]

    def _as_written(self) -> tuple[list, list]:
        if self._written is None:
            m = len(self.exprs)
            fns = self._lambdify([*self.exprs, *self.jac])
            self._written = fns[:m], fns[m:]
        return self._written

    def _rows(self, x: Any, p: Any) -> tuple[np.ndarray, np.ndarray]:
        x = np.atleast_2d(np.asarray(x, dtype=np.float64))
        n = x.shape[0]
        if self.n_params:
            p = np.asarray(p, dtype=np.float64)
            p = np.broadcast_to(p, (n, self.n_params)) if p.ndim == 1 else p
        else:
            p = np.zeros((n, 0))
        return x, p

    def _eval(self, fns: list, x: Any, p: Any, dps: int) -> np.ndarray:
        x, p = self._rows(x, p)
        out = np.empty((x.shape[0], len(fns)))
        with mpmath.workdps(dps):
            for i, (xi, pi) in enumerate(zip(x, p)):
                args = [*xi.tolist(), *pi.tolist()]
                out[i] = [_evaluate(fn, args) for fn in fns]
        return out

    def function(
        self, x: Any, p: Any = None, *, dps: int = REFERENCE_DPS, as_written: bool = False
    ) -> np.ndarray:
        """``(N, m)`` values at the points ``x`` ``(N, n)``.

        With ``as_written``, SymPy's expressions exactly as written, without the rewrites
        of :func:`without_cancellation`: at low ``dps``, what a kernel that evaluates them
        naively computes at best (``exp(u) - 1`` cancels where ``expm1(u)`` does not).
        """
        return self._eval(self._as_written()[0] if as_written else self._f, x, p, dps)

    def jacobian(
        self, x: Any, p: Any = None, *, dps: int = REFERENCE_DPS, as_written: bool = False
    ) -> np.ndarray:
        """``(N, m, n)`` Jacobians at the points ``x`` ``(N, n)`` (``as_written``: as in
        :meth:`function`)."""
        flat = self._eval(self._as_written()[1] if as_written else self._j, x, p, dps)
        return flat.reshape(flat.shape[0], *self.shape)

    def decided_by_rounding(
        self, x: Any, p: Any = None, *, dtype: Any = np.float64, safety: float = 8.0
    ) -> tuple[np.ndarray, np.ndarray]:
        """Masks ``(N, m)`` of the values and ``(N, m, n)`` of the Jacobian entries whose
        branch (:func:`branch_points`: Heaviside, sign, floor, ceiling, a Piecewise
        condition, atan2's cut; :func:`extremum_points`: which Max/Min operand wins, for the
        derivatives) arithmetic in ``dtype`` could take the other way than the exact value
        does.

        Each branch point is evaluated exactly (at 50 digits) and, as written, with every
        operation rounded to ``prec``, ``prec - 1``, ..., ``prec - 3`` bits, ``prec`` the
        precision of ``dtype`` (the inputs are exact); it is decided by rounding when one of
        those lands on the other side of the jump, or the exact value is within ``safety``
        times their largest error of it, or is a nonzero value that underflows ``dtype`` — at
        a near-tie of Max/Min arguments, a Heaviside argument that cancels to ~0, a floor of
        a value next to an integer. Such an entry is not an error of the kernel whichever
        side it takes. Exact ties (every evaluation exactly at the jump, as at ``x = 0`` in
        ``Max(x, x**2)``) are decided, and stay in.

        >>> x, y = sp.symbols("x y")
        >>> ref = SympyReference([x * sp.Heaviside(sp.exp(x + y) - sp.exp(x))], [x, y])
        >>> pts = [[0.0, 1e-30], [0.0, 1e-3], [0.0, 0.0]]  # exp(1e-30) is 1 in doubles
        >>> values, jac = ref.decided_by_rounding(pts)
        >>> values.tolist(), jac.tolist()
        ([[True], [False], [False]], [[[True, False]], [[False, False]], [[False, False]]])
        """
        if self._branches is None:
            m, n = self.shape
            branches = [branch_points(e) for e in [*self.exprs, *self.jac]]
            for i, e in enumerate(self.exprs):
                for j, extrema in enumerate(extremum_points(e, self.symbols[:n])):
                    branches[m + i * n + j] |= extrema
            self._branches = branches
        points = sorted(set().union(*self._branches), key=sp.default_sort_key)
        exact_fns = [self._lambdify([without_cancellation(g) for g in args]) for _, args in points]
        written_fns = [self._lambdify(args) for _, args in points]
        info = np.finfo(dtype)
        prec, tiny = int(info.nmant) + 1, float(info.tiny)
        x, p = self._rows(x, p)
        decided = np.zeros((x.shape[0], len(self._branches)), dtype=bool)
        for i, (xi, pi) in enumerate(zip(x, p)):
            with mpmath.workprec(64):  # the inputs, exactly
                args = [mpmath.mpf(float(v)) for v in [*xi.tolist(), *pi.tolist()]]
            near = set()
            for point, exact_fn, written_fn in zip(points, exact_fns, written_fns):
                with mpmath.workdps(REFERENCE_DPS):
                    exact = [_mp_real(fn, args) for fn in exact_fn]
                low = []
                for bits in range(prec, prec - 4, -1):
                    with mpmath.workprec(bits):
                        low.append([_mp_real(fn, args) for fn in written_fn])
                with mpmath.workdps(REFERENCE_DPS):
                    if _branch_near(point[0], exact, low, safety, tiny):
                        near.add(point)
            decided[i] = [bool(near & entry) for entry in self._branches]
        m = len(self.exprs)
        return decided[:, :m], decided[:, m:].reshape(x.shape[0], *self.shape)

    def is_structurally_zero(self) -> np.ndarray:
        """``(m, n)`` mask of the entries SymPy's Jacobian has as the exact symbol 0."""
        m, n = self.shape
        return np.array([[self.jac[i, j] == 0 for j in range(n)] for i in range(m)])


def reference_jacobian(exprs: Any, wrt: Any, params: Any, x: Any, p: Any = None) -> np.ndarray:
    """One-shot :meth:`SympyReference.jacobian`."""
    return SympyReference(exprs, wrt, params or ()).jacobian(x, p)


def reference_function(exprs: Any, wrt: Any, params: Any, x: Any, p: Any = None) -> np.ndarray:
    """One-shot :meth:`SympyReference.function`."""
    return SympyReference(exprs, wrt, params or ()).function(x, p)


def exact_float(value: Any) -> float:
    """The double nearest a SymPy constant (50-digit mpmath evaluation, then rounded)."""
    value = with_symjac_conventions(sp.sympify(value))
    with mpmath.workdps(REFERENCE_DPS):
        return mp_to_float(sp.lambdify([], value, modules=[_MPMATH_EXTRA, "mpmath"])())


# -- finite differences ----------------------------------------------------------------


def central_difference(f: Any, x: Any, p: Any = None, *, rel_step: float = 1e-3) -> np.ndarray:
    """Fourth-order central difference ``(m, n)`` of a compiled function ``f`` at one point.

    ``(-f(x+2h) + 8 f(x+h) - 8 f(x-h) + f(x-2h)) / 12h`` per column, with
    ``h = rel_step * |x_j|`` (``rel_step`` at 0): truncation error O(h⁴), rounding
    error O(ε/h) — about 1e-10 relative for smooth, well-scaled functions.
    """
    x = np.asarray(x, dtype=np.float64)
    n = x.size
    cols = []
    for j in range(n):
        h = rel_step * (abs(float(x[j])) or 1.0)
        # make h exactly representable as a difference of the shifted points
        h = float((x[j] + h) - x[j])
        shifted = np.tile(x, (4, 1))
        shifted[:, j] += np.array([2 * h, h, -h, -2 * h])
        vals = f(shifted, p) if p is not None else f(shifted)
        with np.errstate(invalid="ignore", over="ignore"):
            cols.append((-vals[0] + 8 * vals[1] - 8 * vals[2] + vals[3]) / (12 * h))
    return np.stack(cols, axis=-1)


# -- comparison ------------------------------------------------------------------------


def ulp_distance(a: Any, b: Any) -> np.ndarray:
    """Number of doubles between ``a`` and ``b`` (0 for equal values, ±0 included)."""
    a = np.asarray(a, dtype=np.float64)
    b = np.asarray(b, dtype=np.float64)

    def ordered(v: np.ndarray) -> np.ndarray:
        i = v.view(np.int64).astype(object)
        return np.where(i < 0, -(i & 0x7FFFFFFFFFFFFFFF), i)

    return np.abs(ordered(a) - ordered(b))


def precise_mismatches(
    actual: Any,
    expected: Any,
    *,
    rtol: float = 1e-12,
    row_atol: float = 1e-14,
    atol: float = 0.0,
    ulps: int = 2,
    signed_zeros: bool = False,
    where: Any = True,
) -> np.ndarray:
    """Boolean mask of the entries where ``actual`` and ``expected`` disagree.

    Rules (numba's ``assertPreciseEqual`` spirit):

    * NaN equals NaN and nothing else;
    * an infinity equals only the infinity of the same sign;
    * finite values agree when ``|a - e| <= rtol*|e| + atol + row_atol*row_scale``
      or when they are at most ``ulps`` doubles apart; ``row_scale`` is the largest
      finite ``|e|`` along the last axis (the row of a Jacobian or the outputs
      of a function), which absorbs rounding in entries that cancel;
    * with ``signed_zeros``, ``-0.0`` and ``+0.0`` differ;
    * only entries where ``where`` holds are compared (the row scale still comes from
      the whole row of ``expected``).
    """
    a = np.asarray(actual, dtype=np.float64)
    e = np.asarray(expected, dtype=np.float64)
    if a.shape != e.shape:
        raise AssertionError(f"shape mismatch: actual {a.shape}, expected {e.shape}")
    nan_a, nan_e = np.isnan(a), np.isnan(e)
    inf_a, inf_e = np.isinf(a), np.isinf(e)
    finite_e = np.where(np.isfinite(e), np.abs(e), 0.0)
    row_scale = finite_e.max(axis=-1, keepdims=True, initial=0.0) if e.ndim else finite_e
    bad = nan_a != nan_e
    either_inf = (inf_a | inf_e) & ~nan_a & ~nan_e
    bad |= either_inf & (a != e)
    both_finite = np.isfinite(a) & np.isfinite(e)
    with np.errstate(invalid="ignore", over="ignore"):
        err = np.abs(a - e)
        tol = rtol * np.abs(e) + atol + row_atol * row_scale
        close = (err <= tol) | (
            ulp_distance(np.where(both_finite, a, 0), np.where(both_finite, e, 0)) <= ulps
        )
    bad |= both_finite & ~close
    if signed_zeros:
        bad |= both_finite & (a == 0) & (e == 0) & (np.signbit(a) != np.signbit(e))
    return bad & np.asarray(where, dtype=bool)


def assert_precise_equal(actual: Any, expected: Any, err_msg: str = "", **tol: Any) -> None:
    """Fail with a readable report when :func:`precise_mismatches` finds any disagreement."""
    a = np.asarray(actual, dtype=np.float64)
    e = np.asarray(expected, dtype=np.float64)
    bad = precise_mismatches(a, e, **tol)
    if not bad.any():
        return
    shown = {k: v for k, v in tol.items() if k != "where"}
    lines = [f"{int(bad.sum())} of {bad.size} entries differ {shown or ''} {err_msg}".rstrip()]
    for index in list(zip(*np.nonzero(bad)))[:12]:
        ai, ei = float(a[index]), float(e[index])
        if math.isfinite(ai) and math.isfinite(ei):
            rel = abs(ai - ei) / abs(ei) if ei else math.inf
            ulp = int(ulp_distance(ai, ei))
            detail = f"rel err {rel:.3g}, {ulp} ulp"
        else:
            detail = "non-finite mismatch"
        idx = tuple(int(i) for i in index)
        lines.append(f"  at {idx}: got {ai!r}, expected {ei!r} ({detail})")
    raise AssertionError("\n".join(lines))


def assert_same_float(actual: Any, expected: Any, err_msg: str = "") -> None:
    """Bit-for-bit equality (NaN equals NaN; -0.0 differs from +0.0)."""
    assert_precise_equal(
        actual, expected, err_msg, rtol=0.0, row_atol=0.0, ulps=0, signed_zeros=True
    )


def sympy_jacobian(exprs, wrt):
    """SymPy's Jacobian with symjac's documented jump convention: Dirac parts dropped."""
    jac = sp.Matrix(exprs).jacobian(list(wrt))
    jac = jac.replace(sp.DiracDelta, lambda *args: sp.S.Zero)
    return jac.replace(
        lambda e: isinstance(e, sp.Derivative) and isinstance(e.expr, (sp.floor, sp.ceiling)),
        lambda e: sp.S.Zero,
    )


def lambdified_jacobian(exprs, wrt, params=()):
    """SymPy's own Jacobian, evaluated with NumPy at one point (n,) or a batch (N, n)."""
    fn = sp.lambdify((list(wrt), list(params)), sympy_jacobian(exprs, wrt), "numpy")

    def evaluate(pts, p=()):
        pts = np.asarray(pts, dtype=float)
        if pts.ndim == 1:
            return np.asarray(fn(list(pts), list(p)), dtype=float)
        return np.array([np.asarray(fn(list(q), list(p)), dtype=float) for q in pts])

    return evaluate
