"""Symbolic differentiation on the graph: forward accumulation with structural sparsity.

Each node of the outputs' cone is visited once, in topological order, and gets
a sparse gradient: a dict ``{variable index: derivative node}`` holding only
the variables the node can depend on. A product ``a*b`` whose factors depend
on disjoint variables therefore never builds a ``0*...`` term, and the keys of
each output's gradient are its exact structural sparsity pattern. Derivatives
reuse the primal nodes (``d exp(a) = exp(a)·da``), so sharing carries over.

Conventions at kinks and jumps (the same everywhere; docs/semantics.md):

* where a function has a kink, the derivative is the mean of the one-sided
  derivatives: ``d|x|/dx = sign(x)`` (0 at 0), ``d max(a, b)`` at a tie is
  ``(da + db)/2`` — SymPy's ``Heaviside(0) = 1/2`` convention;
* jumps contribute 0 (the Dirac part is dropped): ``sign``, ``floor``,
  ``ceiling`` and ``Heaviside`` have derivative 0 everywhere, and their
  entries are structural zeros; so do ``atan2(a, 0)`` in ``a`` and
  ``atan2(0, b)`` in ``b``;
* a ``Piecewise`` differentiates branch by branch, the selected branch's
  derivative at the point (SymPy does the same).
"""

from __future__ import annotations

from collections.abc import Callable, Sequence

from symjac.ir.graph import Graph
from symjac.ir.ops import INFO, LEAVES, Op, is_bool
from symjac.passes.formula import build

Grad = dict[int, int]
#: local derivative rule: (graph, node, args) -> one partial derivative node per argument
Partials = Callable[[Graph, int, tuple[int, ...]], Sequence[int | None]]


def _partials_pow(g: Graph, node: int, args: tuple[int, ...]) -> list[int | None]:
    a, b = args
    if g.is_const(b):
        # b * a**(b-1), spelled pow so that negative bases keep IEEE semantics
        return [g.mul(b, g.call(Op.POW, a, g.const(g.value(b) - 1.0))), None]
    return [g.mul(b, g.div(node, a)), g.mul(node, g.call(Op.LOG, a))]


def _partials_powi(g: Graph, node: int, args: tuple[int, ...]) -> list[int | None]:
    (a,) = args
    n: int = g.attrs[node]  # type: ignore[assignment]
    return [g.mul(g.const(float(n)), g.powi(a, n - 1))]


def _partials_table(g: Graph, node: int, args: tuple[int, ...]) -> list[int | None]:
    """The op table's formulas (``INFO[op].d``) with ``a``, ``b`` the arguments, ``f`` the node."""
    env = dict(zip("ab", args), f=node)
    return [None if d is None else build(g, d, env) for d in INFO[g.ops[node]].d]


def operands(g: Graph, node: int) -> list[int]:
    """The arguments of an n-ary Max/Min that the front end folded into nested binary nodes.

    >>> g = Graph(); x, y, z = g.var(0), g.var(1), g.var(2)
    >>> sorted(operands(g, g.call(Op.MAX, g.call(Op.MAX, x, y), z))) == [x, y, z]
    True
    """
    op, out, stack = g.ops[node], [], [node]
    while stack:
        n = stack.pop()
        if g.ops[n] is op:
            stack.extend(reversed(g.args[n]))
        else:
            out.append(n)
    return out


def _extremum(g: Graph, node: int, args: list[int], grads: Sequence[Grad]) -> Grad:
    """Gradient of Max/Min(a_1..a_n) as SymPy has it: Σ H(a_i - extremum of the others)·da_i.

    H(0) = 1/2, so a two-way tie gives the mean of the two derivatives; NaN gives NaN.
    """
    op = g.ops[node]
    c = g.const
    out: Grad = {}
    for i, (a, grad) in enumerate(zip(args, grads)):
        if not grad:
            continue
        others = [o for k, o in enumerate(args) if k != i]
        rest = others[0]
        for o in others[1:]:
            rest = g.make(op, (rest, o))
        wins, loses = (rest, a), (a, rest)
        if op is Op.MIN:
            wins, loses = loses, wins
        weight = g.select(
            g.make(Op.LT, wins),
            c(1.0),
            g.select(
                g.call(Op.EQ, a, rest), c(0.5), g.select(g.make(Op.LT, loses), c(0.0), g.nan())
            ),
        )
        for v, d in grad.items():
            term = g.mul(weight, d)
            out[v] = term if v not in out else g.add(out[v], term)
    return dict(sorted(out.items()))


def _select_rule(g: Graph, node: int, grads: Sequence[Grad]) -> Grad:
    cond, a, b = g.args[node]
    _, da, db = grads
    # a branch that does not depend on the variable has derivative 0 -- except the NaN a
    # Piecewise takes when no condition holds, whose derivative is NaN as well
    missing_a = g.nan() if _is_nan(g, a) else g.const(0.0)
    missing_b = g.nan() if _is_nan(g, b) else g.const(0.0)
    return {
        v: g.select(cond, da.get(v, missing_a), db.get(v, missing_b))
        for v in sorted(da.keys() | db.keys())
    }


def _is_nan(g: Graph, node: int) -> bool:
    value = g.attrs[node]
    return g.ops[node] is Op.CONST and value != value


def _partials_atan2(g: Graph, node: int, args: tuple[int, ...]) -> list[int | None]:
    """The table's formulas, except where an argument is the constant ±0: atan2(a, ±0) is
    piecewise constant in a (±π/2, a jump at 0) and atan2(±0, b) in b (±0 or ±π), so their
    derivatives are structurally zero, as for ``sign`` (where the formula would give 0/0)."""
    a, b = args
    partials = _partials_table(g, node, args)
    if g.is_const(b, 0.0):
        partials[0] = None
    if g.is_const(a, 0.0):
        partials[1] = None
    return partials


#: partial derivatives written as code (the rest are the op table's formulas)
PARTIALS: dict[Op, Partials] = {
    Op.POW: _partials_pow,
    Op.POWI: _partials_powi,
    Op.ATAN2: _partials_atan2,
}


def _combine(g: Graph, partials: Sequence[int | None], grads: Sequence[Grad]) -> Grad:
    """Chain rule: Σ_k partials[k] · grads[k], sparse in the variables."""
    out: Grad = {}
    for partial, grad in zip(partials, grads):
        if partial is None or not grad:
            continue
        for v, d in grad.items():
            term = g.mul(partial, d)
            prev = out.get(v)
            out[v] = term if prev is None else g.add(prev, term)
    return out


def _gradient(g: Graph, node: int, grads: Sequence[Grad]) -> Grad:
    """The sparse gradient of ``node`` from its arguments' gradients."""
    op = g.ops[node]
    args = g.args[node]
    if op is Op.ADD or op is Op.SUB:
        da, db = grads
        out = dict(da)
        for v, d in db.items():
            prev = out.get(v)
            if op is Op.ADD:
                out[v] = d if prev is None else g.add(prev, d)
            else:
                out[v] = g.neg(d) if prev is None else g.sub(prev, d)
        return dict(sorted(out.items()))
    if op is Op.MUL:
        a, b = args
        return dict(sorted(_combine(g, [b, a], grads).items()))
    if op is Op.DIV:
        a, b = args
        # d(a/b) = (da - (a/b)·db) / b, reusing the quotient node
        da, db = grads
        out = {}
        for v in sorted(da.keys() | db.keys()):
            num = da.get(v)
            if v in db:
                t = g.mul(node, db[v])
                num = g.neg(t) if num is None else g.sub(num, t)
            out[v] = g.div(num, b)  # type: ignore[arg-type]
        return out
    if op is Op.SELECT:
        return _select_rule(g, node, grads)
    partials = PARTIALS.get(op, _partials_table if INFO[op].d else None)
    if partials is not None:
        return dict(sorted(_combine(g, partials(g, node, args), grads).items()))
    raise NotImplementedError(f"no derivative rule for {op.name}")  # pragma: no cover


def _is_zero(g: Graph, node: int) -> bool:
    return g.ops[node] is Op.CONST and g.attrs[node] == 0.0


def gradients(g: Graph, roots: Sequence[int], n_vars: int) -> list[Grad]:
    """Sparse gradients of ``roots`` with respect to variables ``0..n_vars-1``.

    Returns one ``{variable: derivative node}`` per root, keys ascending; an
    entry that folds to the constant 0 is dropped (it is exactly zero).

    >>> g = Graph(); x, y = g.var(0), g.var(1)
    >>> (grad,) = gradients(g, [g.mul(x, g.sin(x))], 2)
    >>> sorted(grad)
    [0]
    """
    order = g.cone(roots)
    # how many times each node is still needed, so finished gradients can be freed
    uses: dict[int, int] = {}
    for node in order:
        for a in g.args[node]:
            uses[a] = uses.get(a, 0) + 1
    keep = set(roots)
    # an n-ary Max/Min differentiates over all its operands, so keep their gradients
    flat = {n: operands(g, n) for n in order if g.ops[n] in (Op.MAX, Op.MIN)}
    for ops_ in flat.values():
        keep.update(ops_)
    grads: dict[int, Grad] = {}
    empty: Grad = {}
    for node in order:
        op = g.ops[node]
        if op in LEAVES or is_bool(op):
            if op is Op.VAR and g.attrs[node] < n_vars:  # type: ignore[operator]
                grads[node] = {g.attrs[node]: g.const(1.0)}  # type: ignore[dict-item]
            else:
                grads[node] = empty
            continue
        args = g.args[node]
        arg_grads = [grads[a] for a in args]
        if not any(arg_grads):
            grads[node] = empty
        else:
            if node in flat:
                grad = _extremum(g, node, flat[node], [grads[a] for a in flat[node]])
            else:
                grad = _gradient(g, node, arg_grads)
            grads[node] = {v: d for v, d in grad.items() if not _is_zero(g, d)}
        for a in args:
            uses[a] -= 1
            if uses[a] == 0 and a not in keep:
                del grads[a]
    return [grads[r] for r in roots]
