"""The sparsity pattern of a Jacobian: which entries can be nonzero.

A :class:`SparsityPattern` is immutable and hashable. Entries are kept in
row-major (CSR) order; ``values`` kernels return the nonzeros in exactly this
order.
"""

from __future__ import annotations

from collections.abc import Iterable
from typing import Any

import numpy as np
import numpy.typing as npt


def _frozen(a: npt.ArrayLike) -> npt.NDArray[np.int64]:
    arr = np.array(a, dtype=np.int64)
    arr.flags.writeable = False
    return arr


class SparsityPattern:
    """Positions of the structurally nonzero entries of an ``m × n`` matrix.

    >>> p = SparsityPattern((2, 3), [(0, 0), (1, 2), (0, 1)])
    >>> p.rows.tolist(), p.cols.tolist(), p.nnz
    ([0, 0, 1], [0, 1, 2], 3)
    >>> p.indptr.tolist(), p.indices.tolist()
    ([0, 2, 3], [0, 1, 2])
    """

    __slots__ = ("_cols", "_hash", "_rows", "_shape")

    def __init__(self, shape: tuple[int, int], entries: Iterable[tuple[int, int]]):
        m, n = int(shape[0]), int(shape[1])
        if m < 0 or n < 0:
            raise ValueError(f"shape must be non-negative, got {shape}")
        pairs = sorted({(int(i), int(j)) for i, j in entries})
        for i, j in pairs:
            if not (0 <= i < m and 0 <= j < n):
                raise ValueError(f"entry ({i}, {j}) lies outside a {m}x{n} matrix")
        self._shape = (m, n)
        self._rows = _frozen([i for i, _ in pairs])
        self._cols = _frozen([j for _, j in pairs])
        self._hash = hash((self._shape, self._rows.tobytes(), self._cols.tobytes()))

    @classmethod
    def from_arrays(
        cls, shape: tuple[int, int], rows: npt.ArrayLike, cols: npt.ArrayLike
    ) -> SparsityPattern:
        """The pattern whose entries, already in row-major order, are ``(rows[k], cols[k])``
        (checked with NumPy: no Python loop over the entries).

        >>> SparsityPattern.from_arrays((2, 3), [0, 0, 1], [0, 2, 1]) == SparsityPattern(
        ...     (2, 3), [(1, 1), (0, 2), (0, 0)])
        True
        >>> SparsityPattern.from_arrays((2, 3), [0, 0], [2, 1])
        Traceback (most recent call last):
        ...
        ValueError: entries must be distinct and in row-major order, inside a 2x3 matrix
        """
        m, n = int(shape[0]), int(shape[1])
        r = np.asarray(rows, dtype=np.int64)
        c = np.asarray(cols, dtype=np.int64)
        flat = r * n + c
        if (
            m < 0
            or n < 0
            or r.shape != c.shape
            or r.ndim != 1
            or (r.size and (r.min() < 0 or r.max() >= m or c.min() < 0 or c.max() >= n))
            or bool(np.any(np.diff(flat) <= 0))
        ):
            raise ValueError(
                f"entries must be distinct and in row-major order, inside a {m}x{n} matrix"
            )
        self = cls.__new__(cls)
        self._shape = (m, n)
        self._rows, self._cols = _frozen(r), _frozen(c)
        self._hash = hash((self._shape, self._rows.tobytes(), self._cols.tobytes()))
        return self

    @property
    def shape(self) -> tuple[int, int]:
        """``(m, n)``: outputs × inputs.

        >>> p = SparsityPattern((2, 3), [(0, 0), (1, 2), (0, 1)])
        >>> p.shape
        (2, 3)
        """
        return self._shape

    @property
    def nnz(self) -> int:
        """Number of structurally nonzero entries.

        >>> p = SparsityPattern((2, 3), [(0, 0), (1, 2), (0, 1)])
        >>> p.nnz
        3
        """
        return int(self._rows.size)

    @property
    def rows(self) -> npt.NDArray[np.int64]:
        """Row index of each nonzero, row-major order (read-only).

        >>> p = SparsityPattern((2, 3), [(0, 0), (1, 2), (0, 1)])
        >>> p.rows.tolist(), p.rows.flags.writeable
        ([0, 0, 1], False)
        """
        return self._rows

    @property
    def cols(self) -> npt.NDArray[np.int64]:
        """Column index of each nonzero, row-major order (read-only).

        >>> p = SparsityPattern((2, 3), [(0, 0), (1, 2), (0, 1)])
        >>> p.cols.tolist(), p.cols.flags.writeable
        ([0, 1, 2], False)
        """
        return self._cols

    @property
    def indptr(self) -> npt.NDArray[np.int64]:
        """CSR row pointer: the nonzeros of row ``i`` are ``indptr[i]:indptr[i+1]``.

        >>> p = SparsityPattern((2, 3), [(0, 0), (1, 2), (0, 1)])
        >>> p.indptr.tolist()
        [0, 2, 3]
        """
        counts = np.bincount(self._rows, minlength=self._shape[0])
        return _frozen(np.concatenate([[0], np.cumsum(counts)]))

    @property
    def indices(self) -> npt.NDArray[np.int64]:
        """CSR column indices (the same as :attr:`cols`).

        >>> p = SparsityPattern((2, 3), [(0, 0), (1, 2), (0, 1)])
        >>> p.indices.tolist()
        [0, 1, 2]
        """
        return self._cols

    @property
    def density(self) -> float:
        """nnz / (m·n); 0 for an empty matrix.

        >>> p = SparsityPattern((2, 3), [(0, 0), (1, 2), (0, 1)])
        >>> p.density, SparsityPattern((0, 3), []).density
        (0.5, 0.0)
        """
        m, n = self._shape
        return self.nnz / (m * n) if m * n else 0.0

    @property
    def csc_order(self) -> npt.NDArray[np.int64]:
        """Permutation from pattern (CSR) order to column-major (CSC) order.

        ``values[csc_order]`` are the nonzeros column by column.

        >>> p = SparsityPattern((2, 2), [(0, 0), (0, 1), (1, 0)])
        >>> p.csc_order.tolist()
        [0, 2, 1]
        >>> values = np.array([1.0, 2.0, 3.0])   # in pattern order: (0, 0), (0, 1), (1, 0)
        >>> values[p.csc_order].tolist()
        [1.0, 3.0, 2.0]
        """
        return _frozen(np.lexsort((self._rows, self._cols)))

    @property
    def csc_indptr(self) -> npt.NDArray[np.int64]:
        """CSC column pointer: column ``j`` holds ``csc_indptr[j]:csc_indptr[j+1]``.

        >>> p = SparsityPattern((2, 2), [(0, 0), (0, 1), (1, 0)])
        >>> p.csc_indptr.tolist()
        [0, 2, 3]
        """
        counts = np.bincount(self._cols, minlength=self._shape[1])
        return _frozen(np.concatenate([[0], np.cumsum(counts)]))

    @property
    def csc_indices(self) -> npt.NDArray[np.int64]:
        """CSC row indices, column by column.

        >>> p = SparsityPattern((2, 2), [(0, 0), (0, 1), (1, 0)])
        >>> p.csc_indices.tolist()
        [0, 1, 0]
        """
        return _frozen(self._rows[self.csc_order])

    def to_scipy(self, values: npt.ArrayLike | None = None, format: str = "csr") -> Any:
        """A ``scipy.sparse.csr_array`` (or ``csc_array``) with ``values`` in pattern order.

        Without ``values`` the matrix holds ones: the pattern itself, e.g. for
        ``scipy.integrate.solve_ivp(jac_sparsity=...)``. Needs SciPy.

        >>> p = SparsityPattern((2, 2), [(0, 0), (1, 0)])
        >>> p.to_scipy([1.5, 2.5]).toarray().tolist()
        [[1.5, 0.0], [2.5, 0.0]]
        >>> p.to_scipy(np.array([1j, 2.0])).dtype   # a complex kernel's values stay complex
        dtype('complex128')
        """
        try:
            import scipy.sparse
        except ImportError as exc:  # pragma: no cover - depends on the environment
            raise ImportError("to_scipy needs SciPy: pip install scipy") from exc
        data = np.ones(self.nnz) if values is None else np.asarray(values)
        if data.dtype.kind not in "fc":  # float32 and complex kernels keep their dtype
            data = data.astype(np.float64)
        if data.shape != (self.nnz,):
            raise ValueError(f"values must have shape ({self.nnz},), got {data.shape}")
        if format == "csr":
            return scipy.sparse.csr_array(
                (data, self._cols.copy(), self.indptr.copy()), shape=self._shape
            )
        if format == "csc":
            order = self.csc_order
            return scipy.sparse.csc_array(
                (data[order], self._rows[order], self.csc_indptr.copy()), shape=self._shape
            )
        raise ValueError(f"format must be 'csr' or 'csc', not {format!r}")

    def coloring(self, methods: tuple[str, ...] = ("dsatur", "largest_first")) -> Any:
        """Greedy distance-2 column coloring; see :mod:`symjac.sparsity.coloring`.

        >>> p = SparsityPattern((3, 3), [(i, i) for i in range(3)])
        >>> p.coloring().n_colors
        1
        """
        from symjac.sparsity.coloring import color_columns

        return color_columns(self._shape, self._rows, self._cols, methods=methods)

    def star_coloring(self) -> Any:
        """Star coloring for a symmetric matrix whose lower triangle this pattern is.

        Fewer colors than :meth:`coloring` for Hessians; ``decompress`` recovers the
        lower triangle directly. See :class:`symjac.sparsity.coloring.StarColoring`.

        >>> p = SparsityPattern((3, 3), [(0, 0), (1, 0), (1, 1), (2, 1), (2, 2)])
        >>> p.star_coloring().n_colors
        2
        """
        from symjac.sparsity.coloring import star_color

        m, n = self._shape
        if m != n or np.any(self._rows < self._cols):
            raise ValueError("star coloring needs the lower triangle of a square pattern")
        return star_color(n, self._rows, self._cols)

    def spy(self, max_size: int = 64) -> str:
        """A text spy plot, ``#`` where a block holds a nonzero, downsampled to ``max_size``.

        >>> print(SparsityPattern((2, 3), [(0, 0), (1, 2)]).spy())
        #..
        ..#
        """
        m, n = self._shape
        bm, bn = max(1, -(-m // max_size)), max(1, -(-n // max_size))
        grid = np.zeros((-(-m // bm), -(-n // bn)), dtype=bool)
        grid[self._rows // bm, self._cols // bn] = True
        return "\n".join("".join("#" if v else "." for v in row) for row in grid)

    def plot(self, ax: Any = None, **kwargs: Any) -> Any:
        """A matplotlib spy plot of the pattern (needs matplotlib); returns the axes.

        >>> from matplotlib.figure import Figure
        >>> ax = SparsityPattern((2, 3), [(0, 0), (1, 2)]).plot(Figure().subplots())
        >>> ax.get_title()
        '2x3, nnz=2'
        """
        import matplotlib.pyplot as plt

        if ax is None:
            _, ax = plt.subplots()
        ax.spy(self.to_dense(), **{"markersize": 2, **kwargs})
        ax.set_title(f"{self._shape[0]}x{self._shape[1]}, nnz={self.nnz}")
        return ax

    def flat_positions(self) -> npt.NDArray[np.int64]:
        """Row-major offset ``i*n + j`` of each nonzero in a dense ``m × n`` array.

        >>> p = SparsityPattern((2, 3), [(0, 0), (1, 2), (0, 1)])
        >>> p.flat_positions().tolist()
        [0, 1, 5]
        """
        return self._rows * self._shape[1] + self._cols

    def to_dense(self) -> npt.NDArray[np.bool_]:
        """Boolean mask, True where an entry can be nonzero.

        >>> p = SparsityPattern((2, 3), [(0, 0), (1, 2), (0, 1)])
        >>> p.to_dense().tolist()
        [[True, True, False], [False, False, True]]
        """
        mask = np.zeros(self._shape, dtype=bool)
        mask[self._rows, self._cols] = True
        return mask

    def __eq__(self, other: object) -> bool:
        if not isinstance(other, SparsityPattern):
            return NotImplemented
        return (
            self._shape == other._shape
            and np.array_equal(self._rows, other._rows)
            and np.array_equal(self._cols, other._cols)
        )

    def __hash__(self) -> int:
        return self._hash

    def __repr__(self) -> str:
        m, n = self._shape
        return f"SparsityPattern(shape=({m}, {n}), nnz={self.nnz}, density={self.density:.3g})"

    def __str__(self) -> str:
        """A text spy plot: ``#`` marks a nonzero (downsampled beyond 64 rows or columns)."""
        return self.spy()
