"""log|det J| of a square system, using the structure its sparsity pattern shows.

Change of variables and normalising flows need ``log|det ∂f/∂x|``. Its cost
depends on structure that symjac knows exactly: if the graph ``i → j`` (for
each nonzero ``J[i, j]``, ``i ≠ j``) has no cycle, ``J`` is triangular up to a
permutation and the determinant is the product of the diagonal; if it splits
into strongly connected components, ``J`` is block-triangular and the
determinant is the product of the blocks' determinants; otherwise one LU
(NumPy's ``slogdet``) of the whole matrix.
"""

from __future__ import annotations

from typing import Any

import numpy as np
import numpy.typing as npt

from symjac.sparsity.blocks import blocks
from symjac.sparsity.pattern import SparsityPattern


class CompiledLogDet:
    """``(sign, log|det J|)`` at one point or a batch, like :func:`numpy.linalg.slogdet`.

    From :func:`symjac.logdet`; ``structure`` says how the determinant is computed
    (``"triangular"``, ``"block-triangular"`` or ``"general"``) and ``jacobian`` is the
    compiled Jacobian it evaluates.

    >>> import numpy as np, sympy as sp, symjac
    >>> x, y = sp.symbols("x y")
    >>> ld = symjac.logdet([x * y, x + y], [x, y])   # det J = y - x
    >>> ld
    <symjac.CompiledLogDet (2, 2), general>
    >>> sign, value = ld(np.array([[1.0, 3.0], [1.0, 1.0]]))   # det 2, then singular
    >>> sign.tolist(), bool(np.isclose(value[0], np.log(2.0))), float(value[1])
    ([1.0, 0.0], True, -inf)
    """

    def __init__(self, jac: Any):
        m, n = jac.shape
        if m != n:
            raise ValueError(f"log|det J| needs a square Jacobian, this one is {m} x {n}")
        self.jacobian = jac
        pattern: SparsityPattern = jac.pattern
        # each block in the original order, so a "general" system is exactly J for slogdet
        self._blocks = [sorted(b) for b in blocks(pattern)]
        where = {(int(i), int(j)): k for k, (i, j) in enumerate(zip(pattern.rows, pattern.cols))}
        self._where = where
        if len(self._blocks) == n:
            self.structure = "triangular"
        elif len(self._blocks) > 1:
            self.structure = "block-triangular"
        else:
            self.structure = "general"

    def __call__(self, x: Any, p: Any = None) -> tuple[npt.NDArray[Any], npt.NDArray[Any]]:
        """Sign (±1, or 0 when singular) and log|det J| (``-inf`` when singular).

        >>> import numpy as np, sympy as sp, symjac
        >>> x, y = sp.symbols("x y")
        >>> ld = symjac.logdet([sp.exp(x), x * y + y**3], [x, y])
        >>> ld.structure
        'triangular'
        >>> sign, value = ld(np.array([0.5, 1.0]))
        >>> float(sign), round(float(value), 12), round(float(np.log(np.exp(0.5) * 3.5)), 12)
        (1.0, 1.752762968495, 1.752762968495)
        """
        values = np.asarray(self.jacobian.values(x, p))
        batched = values.ndim == 2
        rows = values if batched else values[None, :]
        dtype = values.dtype  # the Jacobian's: float32 kernels give float32 determinants
        sign = np.ones(len(rows), dtype)
        log = np.zeros(len(rows), dtype)
        for block in self._blocks:
            size = len(block)
            dense = np.zeros((len(rows), size, size), dtype)
            for a, i in enumerate(block):
                for b, j in enumerate(block):
                    k = self._where.get((i, j))
                    if k is not None:
                        dense[:, a, b] = rows[:, k]
            s, v = np.linalg.slogdet(dense)
            sign *= s
            log += v
        log = np.where(sign == 0, -np.inf, log)
        return (sign, log) if batched else (sign[0], log[0])

    def __repr__(self) -> str:
        return f"<symjac.CompiledLogDet {self.jacobian.shape}, {self.structure}>"
