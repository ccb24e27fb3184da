"""Block-triangular structure of a square sparsity pattern: its diagonal blocks.

A square matrix whose graph ``i → j`` (one edge per nonzero ``J[i, j]``, ``i ≠ j``) splits
into strongly connected components is block-triangular in an order of those components;
:func:`blocks` finds them (Tarjan's algorithm, iteratively). ``symjac.logdet`` uses them.
"""

from __future__ import annotations

from symjac.sparsity.pattern import SparsityPattern


def blocks(pattern: SparsityPattern) -> list[list[int]]:
    """The diagonal blocks of a block-triangular ordering: strongly connected components.

    >>> p = SparsityPattern((3, 3), [(0, 0), (1, 0), (1, 1), (2, 2), (2, 1), (1, 2)])
    >>> sorted(sorted(b) for b in blocks(p))
    [[0], [1, 2]]
    """
    n = pattern.shape[0]
    successors: list[list[int]] = [[] for _ in range(n)]
    for i, j in zip(pattern.rows.tolist(), pattern.cols.tolist()):
        if i != j:
            successors[i].append(j)
    # Tarjan's algorithm, iterative (a system may have thousands of equations)
    index = [-1] * n  # -1: not visited yet
    low = [0] * n
    on_stack = [False] * n
    stack: list[int] = []
    components: list[list[int]] = []
    counter = 0
    for root in range(n):
        if index[root] >= 0:
            continue
        work = [(root, 0)]
        while work:
            v, k = work.pop()
            if k == 0:
                index[v] = low[v] = counter
                counter += 1
                stack.append(v)
                on_stack[v] = True
            for m in range(k, len(successors[v])):
                w = successors[v][m]
                if index[w] < 0:
                    work.append((v, m + 1))
                    work.append((w, 0))
                    break
                if on_stack[w]:
                    low[v] = min(low[v], index[w])
            else:
                if low[v] == index[v]:
                    component = []
                    while True:
                        w = stack.pop()
                        on_stack[w] = False
                        component.append(w)
                        if w == v:
                            break
                    components.append(component)
                if work:
                    parent = work[-1][0]
                    low[parent] = min(low[parent], low[v])
    return components
