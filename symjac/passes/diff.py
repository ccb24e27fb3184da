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
_ADD, _MUL, _CONST = Op.ADD, Op.MUL, Op.CONST
#: ops whose gradient is empty (the variables' own are set apart): leaves, truth values
_NO_GRADIENT = frozenset(op for op in Op if op in LEAVES or is_bool(op))
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


def _partials_complex(g: Graph, node: int, args: tuple[int, ...]) -> list[int | None]:
    """A complex kernel's formulas where the op table gives them (``INFO[op].d_complex``)."""
    env = dict(zip("ab", args), f=node)
    return [None if d is None else build(g, d, env) for d in INFO[g.ops[node]].d_complex]


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
#: the same for complex kernels (holomorphic ops only reach them)
COMPLEX_PARTIALS: dict[Op, Partials] = {
    **PARTIALS,
    **{op: _partials_complex for op, info in INFO.items() if info.d_complex},
}


def _combine(g: Graph, partials: Sequence[int | None], grads: Sequence[Grad]) -> Grad:
    """Chain rule: Σ_k partials[k] · grads[k], sparse in the variables; keys ascending."""
    out: Grad = {}
    merged = False  # one term per key so far: the keys are in their gradient's order
    make = g.make
    for partial, grad in zip(partials, grads):
        if partial is None or not grad:
            continue
        if not out:
            out = {v: make(_MUL, (partial, d)) for v, d in grad.items()}
            continue
        merged = True
        for v, d in grad.items():
            term = make(_MUL, (partial, d))
            prev = out.get(v)
            out[v] = term if prev is None else make(_ADD, (prev, term))
    return dict(sorted(out.items())) if merged else out


def _gradient(
    g: Graph, node: int, grads: Sequence[Grad], rules: dict[Op, Partials] = PARTIALS
) -> Grad:
    """The sparse gradient of ``node`` from its arguments' gradients, keys ascending.

    It may be one of ``grads`` itself (``d(a + c) = da``): gradients are never mutated.
    """
    op = g.ops[node]
    args = g.args[node]
    if op is Op.ADD or op is Op.SUB:
        da, db = grads
        if not db:
            return da
        if not da:
            return db if op is Op.ADD else {v: g.neg(d) for v, d in db.items()}
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
        return _combine(g, [b, a], grads)
    if op is Op.DIV:
        a, b = args
        # d(a/b) = (da - (a/b)·db) / b, reusing the quotient node
        da, db = grads
        out = {}
        for v in sorted(da.keys() | db.keys()) if da and db else da or db:
            num = da.get(v)
            if v in db:
                t = g.mul(node, db[v])
                num = g.neg(t) if num is None else g.sub(num, t)
            out[v] = g.div(num, b)  # type: ignore[arg-type]
        return out
    if op is Op.SELECT:
        return _select_rule(g, node, grads)
    partials = rules.get(op, _partials_table if INFO[op].d else None)
    if partials is not None:
        return _combine(g, partials(g, node, args), grads)
    raise NotImplementedError(f"no derivative rule for {op.name}")  # pragma: no cover


def _is_zero(g: Graph, node: int) -> bool:
    return g.ops[node] is Op.CONST and g.attrs[node] == 0.0


def gradients(g: Graph, roots: Sequence[int], n_vars: int, complex_: bool = False) -> list[Grad]:
    """Sparse gradients of ``roots`` with respect to variables ``0..n_vars-1``.

    Returns one ``{variable: derivative node}`` per root, keys ascending; an
    entry that folds to the constant 0 is dropped (it is exactly zero).
    ``complex_``: a complex kernel's graph, whose derivatives are the complex ones
    (:data:`COMPLEX_PARTIALS`).

    >>> g = Graph(); x, y = g.var(0), g.var(1)
    >>> (grad,) = gradients(g, [g.mul(x, g.sin(x))], 2)
    >>> sorted(grad)
    [0]
    >>> (d,) = gradients(g, [g.call(Op.ASINH, x)], 1, complex_=True)[0].values()
    >>> [g.ops[n].name for n in g.cone([d]) if g.ops[n] in (Op.HYPOT, Op.COSH)]  # 1/cosh(f)
    ['COSH']
    """
    rules = COMPLEX_PARTIALS if complex_ else PARTIALS
    order = g.cone(roots)
    ops, g_args, attrs, make = g.ops, g.args, g.attrs, g.make
    # how many times each node is still needed, so finished gradients can be freed
    uses = [0] * len(g)
    for node in order:
        for a in g_args[node]:
            uses[a] += 1
    keep = set(roots)
    # an n-ary Max/Min differentiates over all its operands, so keep their gradients
    flat = {n: operands(g, n) for n in order if ops[n] in (Op.MAX, Op.MIN)}
    for ops_ in flat.values():
        keep.update(ops_)
    empty: Grad = {}
    grads: list[Grad] = [empty] * len(g)  # the cone's entries are filled in order
    for node in order:
        op = ops[node]
        if op in _NO_GRADIENT:
            if op is Op.VAR and attrs[node] < n_vars:  # type: ignore[operator]
                grads[node] = {attrs[node]: g.const(1.0)}  # type: ignore[dict-item]
            continue
        args = g_args[node]
        arg_grads = [grads[a] for a in args]
        if any(arg_grads):
            if op is _MUL and not (arg_grads[0] and arg_grads[1]):
                # one factor depends on the variables: its gradient times the other factor
                # (what _combine builds, without its generality; most products are so)
                other, grad = (args[1], arg_grads[0]) if arg_grads[0] else (args[0], arg_grads[1])
                grad = {v: make(_MUL, (other, d)) for v, d in grad.items()}
            elif node in flat:
                grad = _extremum(g, node, flat[node], [grads[a] for a in flat[node]])
            else:
                grad = _gradient(g, node, arg_grads, rules)
            for d in grad.values():  # drop the entries that folded to 0 (rarely any)
                if ops[d] is _CONST and attrs[d] == 0.0:
                    grad = {v: d for v, d in grad.items() if not _is_zero(g, d)}
                    break
            grads[node] = grad
        for a in args:
            uses[a] -= 1
            if uses[a] == 0 and a not in keep:
                grads[a] = empty
    # fresh dicts: inside, equal gradients may be one object (d(a + c) is da's dict)
    return [dict(grads[r]) for r in roots]
