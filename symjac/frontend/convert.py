"""The boundary with SymPy: convert validated SymPy expressions into a :class:`Graph`.

This module, :mod:`symjac.frontend.validate` (the input's checks),
:mod:`symjac.frontend.fingerprint` (the warm-start key) and :mod:`symjac.frontend.tosympy`
are the only places that know SymPy's classes. Conversion walks each expression once,
iteratively (a 10⁵-deep expression is fine), dispatching on the SymPy class through
:data:`_HANDLERS`.

Conventions (documented in ``docs/semantics.md``):

* every symbol is real, whatever its SymPy assumptions;
* numbers become correctly rounded doubles: ``Rational(1, 3)`` is the double
  nearest 1/3, ``pi`` is evaluated to 30 digits and then rounded, and a
  rational coefficient ``p/q`` is applied as ``(p*x)/q`` so ``x/3`` is one
  correctly rounded division, as in C;
* a constant that is not real (``I``, ``log(-2)``, ``zoo``) is NaN, the value a
  real kernel computes for it.

In a complex kernel (``to_graph(..., complex_=True)``) every symbol is complex, constants
keep their imaginary parts (``I`` is the constant ``1j``; a real number stays a real
constant, so ``2*z`` scales both parts), and only holomorphic functions are accepted
(``INFO[op].holomorphic``): ``Abs``, ``re``, ``conjugate``, ``Piecewise``, ``Max`` … have
no complex derivative and raise ``NotImplementedError`` naming them.
"""

from __future__ import annotations

import importlib
import sys
import warnings
from collections.abc import Callable, Sequence
from typing import Any, NoReturn

import sympy as sp
from sympy.functions.elementary.piecewise import ExprCondPair

from symjac.ir.graph import Graph
from symjac.ir.ops import INFO, Op
from symjac.passes.rules import rewrite

# -- conversion ------------------------------------------------------------------------


def _real_constant(expr: sp.Basic) -> float | None:
    """Evaluate a constant SymPy expression to the nearest double (NaN if not real); None
    when SymPy cannot evaluate it (``Cbrt(2)``: sympy.codegen.cfunctions' ``Cbrt`` has no
    numerical evaluation), for the caller to build it as an op of constants instead."""
    value = sp.N(expr, 30)
    if value is sp.nan or value is sp.zoo:
        return float("nan")
    if value.is_real is False or not value.is_Number:
        re_part, im_part = value.as_real_imag()
        if not (re_part.is_Number and im_part.is_Number):
            return None
        if im_part != 0:
            return float("nan")
        value = re_part
    return float(value)


def _complex_constant(expr: sp.Basic) -> float | complex | None:
    """Evaluate a constant SymPy expression to the nearest complex double: a float when its
    imaginary part is zero (a real constant), NaN for ``nan`` and ``zoo``; None when SymPy
    cannot evaluate it (as :func:`_real_constant`)."""
    value = sp.N(expr, 30)
    if value is sp.nan or value is sp.zoo:
        return float("nan")
    re_part, im_part = value.as_real_imag()
    if not (re_part.is_Number and im_part.is_Number):
        return None
    return float(re_part) if im_part == 0 else complex(float(re_part), float(im_part))


#: SymPy functions that have no complex derivative, named in a complex kernel's refusal
_NOT_HOLOMORPHIC = "Abs, re, im, conjugate, arg, sign, floor, ceiling, Min, Max, Heaviside, "
_NOT_HOLOMORPHIC += "Piecewise, relationals, atan2, hypot"


class _Converter:
    """Converts SymPy expressions into nodes of one :class:`Graph`."""

    def __init__(
        self,
        graph: Graph,
        wrt: Sequence[sp.Symbol],
        params: Sequence[sp.Symbol],
        complex_: bool = False,
    ):
        self.g = graph
        self.complex = complex_
        self.constant = _complex_constant if complex_ else _real_constant
        self.symbols: dict[sp.Symbol, int] = {s: graph.var(i) for i, s in enumerate(wrt)}
        self.symbols.update({s: graph.param(i) for i, s in enumerate(params)})
        self.missing: dict[sp.Symbol, None] = {}  # ordered set
        # the symbols' nodes are known up front (their ids stay valid: self.symbols keeps
        # them); an equal symbol that is another object is looked up in _build
        self.memo: dict[int, Any] = {id(s): node for s, node in self.symbols.items()}
        self._keep: list[sp.Basic] = []  # keeps memo keys (ids) alive

    def convert(self, expr: sp.Basic, where: str) -> int:
        memo, stack = self.memo, [(expr, False)]
        pop, push, keep, build = stack.pop, stack.append, self._keep.append, self._build
        while stack:
            node, ready = pop()
            key = id(node)
            if key in memo:
                continue
            if not ready:
                args = node.args
                if args and not node.is_Number:
                    # before its arguments: name the function
                    if self.complex and not _holomorphic(type(node)):
                        _not_holomorphic(node, where)
                    if _lookup(type(node)) is None:
                        _unsupported(node, where)
                    push((node, True))
                    for a in args:
                        if id(a) not in memo:
                            push((a, False))
                    continue
            keep(node)
            memo[key] = build(node, where)
        result = memo[id(expr)]
        if not isinstance(result, int):
            raise TypeError(f"{where} is not a real-valued expression: {expr!r}")
        return result

    def _build(self, node: sp.Basic, where: str) -> Any:
        if isinstance(node, sp.Symbol):
            if node in self.symbols:
                return self.symbols[node]
            self.missing[node] = None
            return self.g.nan()  # placeholder; the caller raises after the walk
        cls = type(node)
        handler = _lookup(cls)
        if handler is None:
            _unsupported(node, where)
        memo = self.memo
        args = [memo[id(a)] for a in node.args]
        # a complex kernel folds functions of constants in the graph (cmath, C99's sides of
        # the branch cuts); SymPy puts asin(2), atanh(3), ... on the other side of the cut
        if args and _folds(cls) and not (self.complex and issubclass(cls, sp.Function)):
            ops = self.g.ops
            for a in args:
                if not isinstance(a, int) or ops[a] is not Op.CONST:
                    break
            else:
                value = self.constant(node)  # e.g. sqrt(2): correctly rounded
                if value is not None:
                    return self.g.const(value)
                # SymPy cannot evaluate it (Cbrt(2)): built from its constant arguments, the
                # graph folds it with the kernel's own function
        return handler(self, node, args)


# -- handlers: one per SymPy class -----------------------------------------------------

Handler = Callable[[_Converter, Any, list[Any]], Any]


def _number(c: _Converter, node: sp.Basic, args: list[Any]) -> int:
    if isinstance(node, sp.Rational):
        return c.g.const(int(node.p) / int(node.q))  # int/int is correctly rounded in Python
    if node is sp.S.ImaginaryUnit:
        if c.complex:
            return c.g.const(1j)
        warnings.warn(
            "the expression contains the imaginary unit I; symjac kernels are real-valued and "
            "compute NaN wherever it contributes (e.g. log(-2) = log(2) + I*pi)",
            RuntimeWarning,
            stacklevel=2,
        )
        return c.g.nan()
    value = c.constant(node)
    return c.g.const(float("nan") if value is None else value)


def _add(c: _Converter, node: sp.Add, args: list[int]) -> int:
    return c.g.sum(args)


def _exact_int(v: int) -> bool:
    return abs(v) <= 2**53


def _mul(c: _Converter, node: sp.Mul, args: list[int]) -> int:
    g = c.g
    numer: list[int] = []
    denom: list[int] = []
    negate = False
    for sym_arg, arg in zip(node.args, args):
        if isinstance(sym_arg, sp.Rational):
            p, q = int(sym_arg.p), int(sym_arg.q)
            if p < 0:
                negate, p = not negate, -p
            if _exact_int(p) and _exact_int(q):
                if p != 1:
                    numer.append(g.const(float(p)))
                if q != 1:
                    denom.append(g.const(float(q)))
            else:
                numer.append(g.const(p / q))
            continue
        if isinstance(sym_arg, sp.Pow) and sym_arg.exp.is_Rational and sym_arg.exp.p < 0:
            base = c.memo[id(sym_arg.base)]
            denom.append(_power(g, base, -sym_arg.exp))
            continue
        numer.append(arg)
    result = g.product(numer)
    if denom:
        result = g.div(result, g.product(denom))
    return g.neg(result) if negate else result


def _power(g: Graph, base: int, exponent: sp.Rational) -> int:
    """``base**exponent`` for a rational exponent: multiply chains and sqrt where exact."""
    if exponent.is_Integer:
        return g.powi(base, int(exponent))
    if exponent == sp.Rational(1, 2):
        return g.call(Op.SQRT, base)
    if exponent == sp.Rational(-1, 2):
        return g.div(g.const(1.0), g.call(Op.SQRT, base))
    return g.call(Op.POW, base, g.const(int(exponent.p) / int(exponent.q)))


def _pow(c: _Converter, node: sp.Pow, args: list[int]) -> int:
    base, exp = args
    if node.exp.is_Rational:
        return _power(c.g, base, node.exp)
    return c.g.call(Op.POW, base, exp)


#: the op behind each function handler (``_call``, ``_reciprocal_of``)
_FUNCTION_OPS: dict[Handler, Op] = {}


def _call(op: Op) -> Handler:
    info = INFO[op]

    def handler(c: _Converter, node: sp.Basic, args: list[int]) -> int:
        if len(args) != info.arity:
            raise NotImplementedError(f"{type(node).__name__} with {len(args)} arguments")
        for i in info.integer_args:
            if not (c.g.is_const(args[i]) and float(c.g.value(args[i])).is_integer()):
                raise NotImplementedError(
                    f"{type(node).__name__}: argument {i + 1} (the order) must be an integer "
                    f"constant, not {node.args[i]}"
                )
        return c.g.call(op, *args)

    _FUNCTION_OPS[handler] = op
    return handler


def _reciprocal_of(op: Op) -> Handler:
    """sec, csc, cot, sech, csch, coth: one over the base function."""

    def handler(c: _Converter, node: sp.Basic, args: list[int]) -> int:
        return c.g.div(c.g.const(1.0), c.g.call(op, args[0]))

    _FUNCTION_OPS[handler] = op
    return handler


def _fold(op: Op) -> Handler:
    def handler(c: _Converter, node: sp.Basic, args: list[int]) -> int:
        result = args[0]
        for a in args[1:]:
            result = c.g.make(op, (result, a))
        return result

    return handler


def _heaviside(c: _Converter, node: sp.Basic, args: list[int]) -> int:
    h0 = args[1] if len(args) > 1 else c.g.const(0.5)
    return c.g.call(Op.HEAVISIDE, args[0], h0)


def _polygamma(c: _Converter, node: sp.Basic, args: list[int]) -> int:
    order = node.args[0]
    if order == 0:
        return c.g.call(Op.DIGAMMA, args[1])
    if not (order.is_Integer and order > 0):
        raise NotImplementedError(
            f"polygamma: the order must be a non-negative integer constant, not {order}"
        )
    return _call(Op.POLYGAMMA)(c, node, args)


def _relation(op: Op, swap: bool) -> Handler:
    def handler(c: _Converter, node: sp.Basic, args: list[int]) -> int:
        a, b = args
        return c.g.make(op, (b, a) if swap else (a, b))

    return handler


def _truth(c: _Converter, node: sp.Basic, args: list[int]) -> int:
    return c.g.boolean(bool(node))


def _expr_cond_pair(c: _Converter, node: ExprCondPair, args: list[int]) -> tuple[int, int]:
    return args[0], args[1]


def _piecewise(c: _Converter, node: sp.Piecewise, args: list[tuple[int, int]]) -> int:
    g = c.g
    result = g.nan()  # no branch matched: NaN
    for value, cond in reversed(args):
        result = g.select(cond, value, result)
    return result


def sympy_function(path: str) -> Any:
    """The SymPy object an op table entry names: ``"sin"`` or ``"module:name"``.

    >>> sympy_function("sin"), sympy_function("sympy.codegen.cfunctions:log1p").__name__
    (sin, 'log1p')
    """
    module, _, name = path.rpartition(":")
    return getattr(importlib.import_module(module) if module else sp, name)


def _table_functions(later: bool) -> dict[type, Op]:
    """SymPy function classes that are one op each (``INFO[op].sympy``): those in SymPy's
    namespace, or (``later``) those of other modules that have been imported (see _lookup)."""
    out: dict[type, Op] = {}
    for op, info in INFO.items():
        for path in info.sympy:
            module = path.rpartition(":")[0]
            if bool(module) is not later or (module and module not in sys.modules):
                continue
            fn = sympy_function(path)
            if isinstance(fn, type):  # sympy.sqrt is a function that builds a Pow: not a class
                out[fn] = op
    return out


_FUNCTIONS = _table_functions(later=False)

_HANDLERS: dict[type, Handler] = {
    sp.Number: _number,
    sp.NumberSymbol: _number,
    sp.core.numbers.ImaginaryUnit: _number,
    sp.core.numbers.ComplexInfinity: _number,
    sp.Add: _add,
    sp.Mul: _mul,
    sp.Pow: _pow,
    **{cls: _call(op) for cls, op in _FUNCTIONS.items()},
    sp.sec: _reciprocal_of(Op.COS),
    sp.csc: _reciprocal_of(Op.SIN),
    sp.cot: _reciprocal_of(Op.TAN),
    sp.sech: _reciprocal_of(Op.COSH),
    sp.csch: _reciprocal_of(Op.SINH),
    sp.coth: _reciprocal_of(Op.TANH),
    sp.Max: _fold(Op.MAX),
    sp.Min: _fold(Op.MIN),
    sp.Heaviside: _heaviside,
    sp.polygamma: _polygamma,
    sp.Piecewise: _piecewise,
    ExprCondPair: _expr_cond_pair,
    sp.StrictLessThan: _relation(Op.LT, swap=False),
    sp.LessThan: _relation(Op.LE, swap=False),
    sp.StrictGreaterThan: _relation(Op.LT, swap=True),
    sp.GreaterThan: _relation(Op.LE, swap=True),
    sp.Equality: _relation(Op.EQ, swap=False),
    sp.Unequality: _relation(Op.NE, swap=False),
    sp.And: _fold(Op.AND),
    sp.Or: _fold(Op.OR),
    sp.Not: _call(Op.NOT),
    sp.logic.boolalg.BooleanTrue: _truth,
    sp.logic.boolalg.BooleanFalse: _truth,
}


def _holomorphic(cls: type) -> bool:
    """Whether a complex kernel accepts SymPy class ``cls``: numbers, arithmetic, and the
    functions whose op is holomorphic (the op table) or built from one (``sec`` …)."""
    handler = _lookup(cls)
    if handler in _ARITHMETIC:
        return True
    op = _FUNCTION_OPS.get(handler)  # type: ignore[arg-type]
    return op is not None and INFO[op].holomorphic


def _not_holomorphic(node: sp.Basic, where: str) -> NoReturn:
    name = getattr(node, "func", type(node)).__name__
    raise NotImplementedError(
        f"complex128 kernels cannot compile {name} (found in {where}: {node}): it has no "
        f"complex derivative, or symjac has no complex form of it; complex kernels take "
        f"holomorphic functions only (not {_NOT_HOLOMORPHIC}); see docs/semantics.md"
    )


#: handlers a complex kernel takes whatever their arguments: numbers and arithmetic
_ARITHMETIC: frozenset[Handler] = frozenset({_number, _add, _mul, _pow})


def _unsupported(node: sp.Basic, where: str) -> NoReturn:
    name = getattr(node, "func", type(node)).__name__
    raise NotImplementedError(
        f"symjac cannot compile {name} (found in {where}: {node}); "
        "see docs/semantics.md for the supported functions"
    )


#: modules of op-table SymPy functions that are not part of SymPy's namespace
_LATER = {p.rpartition(":")[0] for i in INFO.values() for p in i.sympy if ":" in p}
#: resolved lookups: asked twice per node (before and after its arguments), walked once a type
_RESOLVED: dict[type, Handler | None] = {}


def _lookup(cls: type) -> Handler | None:
    """The handler for ``cls`` or its nearest supported base class (e.g. Integer → Number)."""
    try:
        return _RESOLVED[cls]
    except KeyError:
        pass
    if cls not in _RESOLVED and cls.__module__ in _LATER:
        # a class of sympy.codegen.cfunctions exists only once its module is imported: its
        # rows are resolved then (importing it up front would cost every compile 3 ms)
        _LATER.discard(cls.__module__)
        _HANDLERS.update({k: _call(op) for k, op in _table_functions(later=True).items()})
    if cls not in _RESOLVED:
        _RESOLVED[cls] = next((_HANDLERS[b] for b in cls.__mro__ if b in _HANDLERS), None)
    return _RESOLVED[cls]


#: per class: whether a node of it with constant arguments is evaluated as one constant
_FOLDS: dict[type, bool] = {}


def _folds(cls: type) -> bool:
    """A SymPy expression, but not Piecewise, Max or Min (whose values are selected, not
    computed: they are built as nodes and folded by the graph's rules).

    >>> _folds(sp.sin), _folds(sp.Max), _folds(sp.Equality)
    (True, False, False)
    """
    folds = _FOLDS.get(cls)
    if folds is None:
        folds = _FOLDS[cls] = issubclass(cls, sp.Expr) and not issubclass(
            cls, (sp.Piecewise, sp.Max, sp.Min)
        )
    return folds


def to_graph(
    exprs: Sequence[sp.Expr],
    wrt: Sequence[sp.Symbol],
    params: Sequence[sp.Symbol],
    graph: Graph | None = None,
    complex_: bool = False,
) -> tuple[Graph, list[int]]:
    """Convert validated outputs into one shared graph; returns the graph and the output nodes.
    ``complex_``: for a complex kernel (see the module docstring).

    Raises ``ValueError`` naming every free symbol that is neither in ``wrt`` nor ``params``,
    and ``NotImplementedError`` naming an unsupported function and the output it is in.

    >>> x, y = sp.symbols("x y")
    >>> g, roots = to_graph([x * y, sp.sin(x)], [x, y], [])
    >>> len(roots), len(g) >= 4
    (2, True)
    >>> from symjac.passes.rules import rewriter
    >>> g, (root,) = to_graph([sp.I * x + 2], [x], [], Graph(rewriter(complex_=True)), True)
    >>> [a for a in g.attrs if isinstance(a, (float, complex))]  # I*x + 2: complex and real
    [1j, 2.0]
    >>> to_graph([sp.Abs(x)], [x], [], complex_=True)
    Traceback (most recent call last):
    ...
    NotImplementedError: complex128 kernels cannot compile Abs (found in output 0: Abs(x)): ...
    """
    g = graph if graph is not None else Graph(rewrite)
    conv = _Converter(g, wrt, params, complex_)
    roots = [conv.convert(e, f"output {i}") for i, e in enumerate(exprs)]
    if conv.missing:
        missing = sorted(conv.missing, key=str)
        names = ", ".join(str(s) for s in missing)
        hint = _assumption_hint(missing, [*wrt, *params])
        raise ValueError(
            f"the expressions contain symbols that are neither in wrt nor in params: {names}" + hint
        )
    return g, roots


def _assumption_hint(missing: Sequence[sp.Symbol], known: Sequence[sp.Symbol]) -> str:
    names = {str(s) for s in known}
    same = [str(s) for s in missing if str(s) in names]
    if not same:
        return ""
    return (
        f" (a symbol named {same[0]!r} is listed, but with different assumptions: "
        "SymPy treats Symbol('x') and Symbol('x', real=True) as different symbols)"
    )
