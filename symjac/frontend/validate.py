"""The input's checks, before anything is converted: the outputs, ``wrt`` and ``params``.

Each error says what was expected (a ``TypeError`` for the wrong kind of object, a
``ValueError`` for the right kind with a wrong value), before any work is done.
"""

from __future__ import annotations

from collections.abc import Iterable, Sequence
from typing import Any

import sympy as sp


def as_expressions(exprs: Any) -> list[sp.Expr]:
    """Validate the outputs: a SymPy expression, or a list/tuple/vector Matrix of them.

    >>> x = sp.Symbol("x")
    >>> as_expressions([x**2, 3])
    [x**2, 3]
    """
    if isinstance(exprs, str):
        raise TypeError("expressions must be SymPy expressions, not a string; use sympy.sympify")
    if isinstance(exprs, sp.MatrixBase):
        if min(exprs.shape) > 1:
            raise ValueError(
                f"expected a vector of expressions, got a {exprs.shape[0]}x{exprs.shape[1]} "
                "matrix; flatten it first (e.g. list(M)) if that is what you mean"
            )
        items = list(exprs)
    elif isinstance(exprs, sp.Basic):
        items = [exprs]
    elif isinstance(exprs, (list, tuple)):
        items = list(exprs)
    else:
        raise TypeError(
            "expressions must be a SymPy expression or a list, tuple or Matrix of them, "
            f"not {type(exprs).__name__}"
        )
    if not items:
        raise ValueError("expected at least one expression")
    out: list[sp.Expr] = []
    for i, item in enumerate(items):
        if isinstance(item, bool) or (
            isinstance(item, sp.logic.boolalg.Boolean) and not isinstance(item, sp.Expr)
        ):  # (a Symbol is both an Expr and a Boolean: it is a valid output)
            raise TypeError(f"output {i} is a truth value ({item!r}); outputs must be real")
        if isinstance(item, (int, float)):
            item = sp.sympify(item)
        if not isinstance(item, sp.Expr):
            raise TypeError(f"output {i} must be a SymPy expression, not {type(item).__name__}")
        out.append(item)
    return out


def as_symbols(symbols: Any, what: str, *, allow_empty: bool) -> list[sp.Symbol]:
    """Validate ``wrt``/``params``: a Symbol or a sequence of distinct Symbols.

    >>> as_symbols(sp.symbols("a b"), "params", allow_empty=True)
    [a, b]
    """
    if symbols is None:
        items: list[Any] = []
    elif isinstance(symbols, sp.Symbol):
        items = [symbols]
    elif isinstance(symbols, (str, bytes)) or not isinstance(symbols, Iterable):
        raise TypeError(f"{what} must be a sequence of SymPy Symbols, not {type(symbols).__name__}")
    else:
        items = list(symbols)
    if not items and not allow_empty:
        raise ValueError(f"{what} must name at least one Symbol")
    seen: set[sp.Symbol] = set()
    for item in items:
        if not isinstance(item, sp.Symbol):
            raise TypeError(
                f"{what} must contain SymPy Symbols only; {item!r} is a {type(item).__name__}"
            )
        if item in seen:
            raise ValueError(f"{what} lists the symbol {item} more than once")
        seen.add(item)
    return items


def check_disjoint(wrt: Sequence[sp.Symbol], params: Sequence[sp.Symbol]) -> None:
    """A symbol is either an input or a parameter, never both.

    >>> x, y, a = sp.symbols("x y a")
    >>> check_disjoint([x, y], [a])
    >>> check_disjoint([x, y], [a, y])
    Traceback (most recent call last):
    ...
    ValueError: symbols appear in both wrt and params: y
    """
    both = [s for s in params if s in set(wrt)]
    if both:
        names = ", ".join(str(s) for s in both)
        raise ValueError(f"symbols appear in both wrt and params: {names}")
