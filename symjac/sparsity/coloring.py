"""Column coloring of a sparsity pattern (distance-2 / Curtis–Powell–Reid).

Two columns may share a color when no row has a nonzero in both. Then one
directional derivative along the sum of a color's unit vectors recovers every
entry of those columns: ``J @ seed`` (``m × n_colors``) holds the whole
Jacobian in compressed form. This is what ``solve_ivp(jac_sparsity=...)`` and
``least_squares(jac_sparsity=...)`` do internally with finite differences.

The coloring is greedy: DSatur (which finds the optimal 5 colors for a 2-D
5-point stencil and 3 for a tridiagonal matrix) and largest-first are both
run, and the coloring with fewer colors is kept.
"""

from __future__ import annotations

import heapq
from dataclasses import dataclass

import numpy as np
import numpy.typing as npt

IntArray = npt.NDArray[np.int64]


@dataclass(frozen=True)
class Coloring:
    """A column coloring: ``colors[j]`` is the color of column ``j``.

    >>> from symjac.sparsity.pattern import SparsityPattern
    >>> band = [(i, j) for i in range(4) for j in range(4) if abs(i - j) <= 1]
    >>> c = SparsityPattern((4, 4), band).coloring()
    >>> c.n_colors, c.colors.tolist()
    (3, [2, 0, 1, 2])
    """

    colors: IntArray
    n_colors: int
    rows: IntArray
    cols: IntArray
    shape: tuple[int, int]

    def seed(self) -> npt.NDArray[np.float64]:
        """The ``n × n_colors`` 0/1 seed matrix S; ``J @ S`` is the compressed Jacobian.

        >>> from symjac.sparsity.pattern import SparsityPattern
        >>> band = [(i, j) for i in range(4) for j in range(4) if abs(i - j) <= 1]
        >>> p = SparsityPattern((4, 4), band)
        >>> c = p.coloring()
        >>> c.colors.tolist(), c.seed().tolist()
        ([2, 0, 1, 2], [[0.0, 0.0, 1.0], [1.0, 0.0, 0.0], [0.0, 1.0, 0.0], [0.0, 0.0, 1.0]])
        """
        n = self.shape[1]
        s = np.zeros((n, self.n_colors))
        s[np.arange(n), self.colors] = 1.0
        return s

    def decompress(self, compressed: npt.ArrayLike) -> npt.NDArray[np.float64]:
        """The nonzeros, in pattern order, from ``J @ seed()`` (shape ``m × n_colors``).

        >>> from symjac.sparsity.pattern import SparsityPattern
        >>> band = [(i, j) for i in range(4) for j in range(4) if abs(i - j) <= 1]
        >>> p = SparsityPattern((4, 4), band)
        >>> c = p.coloring()
        >>> J = p.to_scipy(np.arange(1.0, 11.0)).toarray()   # nonzeros 1..10 in pattern order
        >>> c.decompress(J @ c.seed()).tolist()
        [1.0, 2.0, 3.0, 4.0, 5.0, 6.0, 7.0, 8.0, 9.0, 10.0]
        """
        c = np.asarray(compressed, dtype=np.float64)
        if c.shape != (self.shape[0], self.n_colors):
            raise ValueError(
                f"compressed Jacobian must have shape {(self.shape[0], self.n_colors)}, "
                f"got {c.shape}"
            )
        return c[self.rows, self.colors[self.cols]]


def _adjacency(
    shape: tuple[int, int], rows: IntArray, cols: IntArray
) -> tuple[list[IntArray], list[IntArray]]:
    """Columns of each row and rows of each column."""
    m, n = shape
    csr = np.lexsort((cols, rows))
    csc = np.lexsort((rows, cols))
    cols_csr, rows_csc = cols[csr], rows[csc]
    row_ptr = np.searchsorted(rows[csr], np.arange(m + 1))
    col_ptr = np.searchsorted(cols[csc], np.arange(n + 1))
    row_cols = [cols_csr[row_ptr[i] : row_ptr[i + 1]] for i in range(m)]
    col_rows = [rows_csc[col_ptr[j] : col_ptr[j + 1]] for j in range(n)]
    return row_cols, col_rows


def _neighbours(row_cols: list[IntArray], col_rows: list[IntArray], n: int) -> list[list[int]]:
    """The column intersection graph: columns sharing a row with column j (j excluded)."""
    out = []
    for j in range(n):
        if len(col_rows[j]):
            nb = np.unique(np.concatenate([row_cols[i] for i in col_rows[j]]))
            out.append(nb[nb != j].tolist())
        else:
            out.append([])
    return out


def _largest_first(nbrs: list[list[int]]) -> list[int]:
    n = len(nbrs)
    colors = [-1] * n
    for j in sorted(range(n), key=lambda j: -len(nbrs[j])):
        used = {colors[k] for k in nbrs[j]}
        c = 0
        while c in used:
            c += 1
        colors[j] = c
    return colors


def _dsatur(nbrs: list[list[int]]) -> list[int]:
    """Brélaz's DSatur: color next the column whose neighbours already use the most colors."""
    n = len(nbrs)
    colors = [-1] * n
    saturation: list[set[int]] = [set() for _ in range(n)]
    heap = [(0, -len(nbrs[j]), j) for j in range(n)]
    heapq.heapify(heap)
    while heap:
        sat, _, j = heapq.heappop(heap)
        if colors[j] >= 0 or -sat != len(saturation[j]):
            continue  # stale entry
        c = 0
        while c in saturation[j]:
            c += 1
        colors[j] = c
        for k in nbrs[j]:
            if colors[k] < 0 and c not in saturation[k]:
                saturation[k].add(c)
                heapq.heappush(heap, (-len(saturation[k]), -len(nbrs[k]), k))
    return colors


_METHODS = {"dsatur": _dsatur, "largest_first": _largest_first}


def color_columns(
    shape: tuple[int, int],
    rows: IntArray,
    cols: IntArray,
    *,
    methods: tuple[str, ...] = ("dsatur", "largest_first"),
) -> Coloring:
    """Greedy distance-2 coloring of the columns of the pattern ``(rows, cols)``.

    Each method in ``methods`` is run and the coloring with the fewest colors kept.
    ``SparsityPattern.coloring()`` calls this with the pattern's rows and columns.

    >>> rows = np.array([0, 0, 1, 1, 2, 2])   # a 3 × 4 bidiagonal pattern
    >>> cols = np.array([0, 1, 1, 2, 2, 3])
    >>> c = color_columns((3, 4), rows, cols)
    >>> c.n_colors, c.colors.tolist()   # columns 0, 2 share no row, nor do 1, 3
    (2, [1, 0, 1, 0])
    >>> color_columns((3, 4), rows, cols, methods=("largest_first",)).n_colors
    2
    """
    unknown = [m for m in methods if m not in _METHODS]
    if unknown or not methods:
        raise ValueError(f"methods must be a non-empty subset of {sorted(_METHODS)}, got {methods}")
    row_cols, col_rows = _adjacency(shape, rows, cols)
    nbrs = _neighbours(row_cols, col_rows, shape[1])
    best: list[int] | None = None
    for name in methods:
        colors = _METHODS[name](nbrs)
        if best is None or max(colors, default=-1) < max(best, default=-1):
            best = colors
    assert best is not None
    arr = np.array(best, dtype=np.int64)
    return Coloring(arr, int(arr.max(initial=-1)) + 1, rows, cols, shape)


@dataclass(frozen=True)
class StarColoring:
    """A star coloring of a symmetric pattern: fewer colors than a column coloring.

    Every path on four vertices of the adjacency graph uses at least three
    colors, which is what direct recovery of a symmetric matrix from
    ``H @ seed()`` needs (Gebremedhin, Manne and Pothen, SIAM Review 2005).
    ``rows``/``cols`` are the lower-triangle entries (row ≥ column) in order.

    >>> arrow = [(i, 0) for i in range(5)] + [(i, i) for i in range(5)]
    >>> c = star_color(5, np.array([i for i, _ in arrow]), np.array([j for _, j in arrow]))
    >>> c.n_colors   # an arrowhead: hub plus one shared color for the rest
    2
    """

    colors: IntArray
    n_colors: int
    rows: IntArray
    cols: IntArray
    neighbours: tuple[tuple[int, ...], ...]

    def seed(self) -> npt.NDArray[np.float64]:
        """The ``n × n_colors`` 0/1 seed matrix S; ``H @ S`` is the compressed Hessian.

        >>> from symjac.sparsity.pattern import SparsityPattern
        >>> lower = SparsityPattern((3, 3), [(0, 0), (1, 0), (1, 1), (2, 1), (2, 2)])
        >>> c = lower.star_coloring()
        >>> c.colors.tolist(), c.seed().tolist()
        ([1, 0, 1], [[0.0, 1.0], [1.0, 0.0], [0.0, 1.0]])
        """
        n = len(self.colors)
        s = np.zeros((n, self.n_colors))
        s[np.arange(n), self.colors] = 1.0
        return s

    def decompress(self, compressed: npt.ArrayLike) -> npt.NDArray[np.float64]:
        """The lower-triangle entries, in pattern order, from ``H @ seed()``.

        >>> from symjac.sparsity.pattern import SparsityPattern
        >>> lower = SparsityPattern((3, 3), [(0, 0), (1, 0), (1, 1), (2, 1), (2, 2)])
        >>> c = lower.star_coloring()
        >>> H = np.array([[1.0, 2.0, 0.0], [2.0, 3.0, 4.0], [0.0, 4.0, 5.0]])
        >>> c.decompress(H @ c.seed()).tolist()   # H[0,0], H[1,0], H[1,1], H[2,1], H[2,2]
        [1.0, 2.0, 3.0, 4.0, 5.0]
        """
        c = np.asarray(compressed, dtype=np.float64)
        n = len(self.colors)
        if c.shape != (n, self.n_colors):
            raise ValueError(f"compressed Hessian must have shape {(n, self.n_colors)}")
        colors = self.colors
        out = np.empty(len(self.rows))
        for k, (i, j) in enumerate(zip(self.rows.tolist(), self.cols.tolist())):
            # H[i, j] is alone in row i among its color, or H[j, i] is alone in row j
            if sum(1 for q in self.neighbours[i] if colors[q] == colors[j]) == 1:
                out[k] = c[i, colors[j]]
            else:
                out[k] = c[j, colors[i]]
        return out


def star_color(n: int, rows: IntArray, cols: IntArray) -> StarColoring:
    """Star coloring of the symmetric pattern whose lower triangle is ``(rows, cols)``.

    Greedy star coloring (largest degree first) and the distance-2 coloring of
    the full pattern are both computed; the one with fewer colors is kept.
    ``SparsityPattern.star_coloring()`` calls this with the pattern's lower triangle.

    >>> rows = np.array([0, 1, 1, 2, 2])   # lower triangle of a tridiagonal 3 × 3 Hessian
    >>> cols = np.array([0, 0, 1, 1, 2])
    >>> c = star_color(3, rows, cols)
    >>> c.n_colors, c.colors.tolist(), c.neighbours
    (2, [1, 0, 1], ((0, 1), (0, 1, 2), (1, 2)))
    """
    adj: list[set[int]] = [set() for _ in range(n)]
    for i, j in zip(rows.tolist(), cols.tolist()):
        if i != j:
            adj[i].add(j)
            adj[j].add(i)
    colors = [-1] * n
    order = sorted(range(n), key=lambda v: -len(adj[v]))
    for v in order:
        forbidden: set[int] = set()
        for w in adj[v]:
            cw = colors[w]
            if cw >= 0:
                forbidden.add(cw)
            for x in adj[w]:
                cx = colors[x]
                if x == v or cx < 0:
                    continue
                if cw < 0:
                    forbidden.add(cx)  # v - w - x: v and x would be a two-colored pair
                elif any(colors[y] == cw for y in adj[x] if y != w):
                    forbidden.add(cx)  # v - w - x - y would be a bicolored path
        c = 0
        while c in forbidden:
            c += 1
        colors[v] = c
    # a distance-2 coloring is a star coloring too; keep whichever has fewer colors
    full_rows = np.concatenate([rows, cols[rows != cols]])
    full_cols = np.concatenate([cols, rows[rows != cols]])
    d2 = color_columns((n, n), full_rows, full_cols).colors.tolist()
    if max(d2, default=-1) < max(colors, default=-1):
        colors = d2
    arr = np.array(colors, dtype=np.int64)
    neighbours = tuple(tuple(sorted(adj[i] | {i})) for i in range(n))
    return StarColoring(arr, int(arr.max(initial=-1)) + 1, rows, cols, neighbours)
