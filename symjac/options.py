"""Compilation options: what the builders accept, validated once.

:class:`Options` is what every builder of :mod:`symjac.driver` reads, and what the
on-disk cache and the LLVM build are keyed by.
"""

from __future__ import annotations

import os
from dataclasses import dataclass
from typing import Any

from symjac import __version__
from symjac.codegen.cache import ObjectCache
from symjac.codegen.llvm.build import Build
from symjac.ir import dtypes
from symjac.ir.graph import Rewrite
from symjac.passes import rules as _rules
from symjac.sparsity.pattern import SparsityPattern

#: ``sparse="auto"`` returns SciPy sparse matrices above this many entries ...
AUTO_SPARSE_SIZE = 10_000
#: ... when at most this fraction of them can be nonzero
AUTO_SPARSE_DENSITY = 0.25

SIMPLIFY_LEVELS = ("auto", "none", "cheap", "full")


@dataclass(frozen=True)
class Options:
    """Compilation options, validated once.

    ``simplify``: ``"none"`` builds the graph exactly as written (no rewrite
    rules; hash-consing still shares equal subexpressions); ``"cheap"`` applies
    the value-preserving graph rules of :mod:`symjac.passes.rules` as nodes are built
    (constant folding, ``x*1``, ``x+0``, ``--x``, ...) — fast, linear;
    ``"full"`` also runs ``sympy.simplify`` on every output before
    differentiation and on every Jacobian entry after (seconds per entry: for
    small systems only); ``"auto"`` is ``"cheap"``.

    ``rules``: the rule sets of :mod:`symjac.passes.rules` that levels other than
    ``"none"`` apply: ``"algebraic"`` (value-preserving: ``x*1 → x``, ...),
    ``"numeric"`` (more accurate forms — ``log(1 + x) → log1p(x)``, ``log(exp(x)) → x``,
    ... — each only where the measured cost table says it is not slower with the vector
    library in use) and ``"accurate"`` (the numeric rules whatever they cost). Default:
    ``("algebraic", "numeric")``.

    ``fastmath`` lets LLVM reassociate and assume no NaN/inf (off by default:
    results are IEEE). ``opt_level`` is LLVM's optimisation level, 0–3.
    ``sparse`` chooses what calling a Jacobian returns: ``False`` dense arrays,
    ``True`` SciPy sparse matrices, ``"auto"`` sparse when the Jacobian has more
    than 10 000 entries of which less than a quarter can be nonzero.
    ``progress``: print each stage to stderr (``None``: only for big compiles
    on a terminal).
    ``cache``: reuse machine code compiled before, in any process, from an
    on-disk cache (``True``: ``$SYMJAC_CACHE_DIR`` or ``~/.cache/symjac``; a
    path; ``False``: always compile). See :mod:`symjac.codegen.cache`.
    ``simd`` computes several points at once in SIMD lanes (8 with AVX-512, 4
    with AVX2); ``vector_libm`` lets those lanes call glibc's libmvec for
    elementary functions (documented error ≤ 4 ulp instead of libm's < 1 ulp;
    ``False`` calls the scalar C library lane by lane). Either way a point's
    result does not depend on its position in a batch.

    ``dtype``: what the kernels compute in and take and return — ``float64``
    (default), ``float32`` or ``complex128`` (not built yet), spelled any way NumPy
    accepts (``np.float32``, ``"float32"``, ``np.dtype("f4")``) and kept as its
    canonical name. float32 kernels compute every operation in float32 (elementary
    functions: the C library's ``sinf``, ... and libmvec's float variants, 16 SIMD lanes
    with AVX-512); each constant, folded in double precision at compile time, is
    rounded to float32 once (docs/semantics.md).

    >>> import numpy as np
    >>> Options(dtype=np.float32).dtype, Options(dtype=np.dtype("f4")).dtype
    ('float32', 'float32')
    >>> Options(dtype="int8")
    Traceback (most recent call last):
    ...
    ValueError: dtype must be one of float64, float32, complex128, not 'int8'
    >>> Options(sparse=True, opt_level=2).opt_level
    2
    >>> Options(opt_level=4)
    Traceback (most recent call last):
    ...
    ValueError: opt_level must be 0, 1, 2 or 3, not 4
    >>> Options(rules=["numeric", "algebraic"]).rules
    ('algebraic', 'numeric')
    """

    fastmath: bool = False
    opt_level: int = 3
    sparse: bool | str = "auto"
    simplify: str = "auto"
    progress: bool | None = None
    simd: bool = True
    vector_libm: bool = True
    cache: bool | str | os.PathLike[str] = True
    rules: tuple[str, ...] = _rules.DEFAULT_SETS
    dtype: Any = "float64"

    def object_cache(self) -> ObjectCache | None:
        """The on-disk cache to use: the default directory, a given one, or none.

        >>> Options(cache=False).object_cache() is None
        True
        >>> str(Options(cache="/tmp/symjac-cache").object_cache().directory)
        '/tmp/symjac-cache'
        """
        if self.cache is False:
            return None
        return ObjectCache(None if self.cache is True else self.cache, version=__version__)

    def build(self) -> Build:
        """The options that change the machine code.

        >>> Options(fastmath=True, sparse=True, progress=False).build()
        Build(fastmath=True, opt_level=3, simd=True, vector_libm=True, dtype='float64')
        """
        # a complex kernel is a float64 kernel over (re, im) pairs: the back end sees float64
        scalar = dtypes.DTYPES[self.dtype].scalar.name
        return Build(self.fastmath, self.opt_level, self.simd, self.vector_libm, scalar)

    def rewriter(self) -> Rewrite | None:
        """What the graph applies to each node it builds: constant folding and the rule sets
        :attr:`rules`, gated for the vector library in use; None at ``simplify="none"``.

        >>> from symjac.passes.rules import rewriter
        >>> Options(rules=("algebraic",)).rewriter() is rewriter(["algebraic"])
        True
        >>> Options(simplify="none").rewriter() is None
        True
        """
        if self.simplify == "none":
            return None
        libm = "libmvec" if self.build().lanes()[1] else "libm"
        return _rules.rewriter(self.rules, libm, self.is_complex)

    @property
    def is_complex(self) -> bool:
        """Whether kernels are complex (``dtype=complex128``): complex symbols, holomorphic
        functions, complex derivatives.

        >>> Options().is_complex, Options(dtype="complex128").is_complex
        (False, True)
        """
        return self.dtype == "complex128"

    def __post_init__(self) -> None:
        # one spelling per choice: sets once each, in the order their rules are tried
        object.__setattr__(self, "rules", _rules.check_sets(self.rules))
        # one spelling per dtype: its canonical name (the cache keys see that)
        object.__setattr__(self, "dtype", dtypes.dtype(self.dtype).name)
        if not isinstance(self.cache, (bool, str, os.PathLike)):
            raise TypeError(f"cache must be True, False or a directory, not {self.cache!r}")
        if not (self.sparse is True or self.sparse is False or self.sparse == "auto"):
            raise ValueError(f"sparse must be True, False or 'auto', not {self.sparse!r}")
        if not isinstance(self.opt_level, int) or isinstance(self.opt_level, bool):
            raise TypeError(f"opt_level must be an int 0-3, not {self.opt_level!r}")
        if not isinstance(self.fastmath, bool):
            raise TypeError(f"fastmath must be True or False, not {self.fastmath!r}")
        if self.opt_level not in (0, 1, 2, 3) or isinstance(self.opt_level, bool):
            raise ValueError(f"opt_level must be 0, 1, 2 or 3, not {self.opt_level!r}")
        if self.simplify not in SIMPLIFY_LEVELS:
            raise ValueError(f"simplify must be one of {SIMPLIFY_LEVELS}, not {self.simplify!r}")
        for flag in ("simd", "vector_libm"):
            if not isinstance(getattr(self, flag), bool):
                raise TypeError(f"{flag} must be True or False, not {getattr(self, flag)!r}")
        if not (self.progress is None or isinstance(self.progress, bool)):
            raise TypeError(f"progress must be None, True or False, not {self.progress!r}")

    def sparse_output(self, pattern: SparsityPattern) -> bool:
        """Resolve ``sparse="auto"``: sparse when the matrix is big and mostly zeros.

        >>> diagonal = SparsityPattern((200, 200), [(i, i) for i in range(200)])
        >>> small = SparsityPattern((2, 2), [(0, 0)])
        >>> Options().sparse_output(diagonal), Options().sparse_output(small)
        (True, False)
        >>> Options(sparse=True).sparse_output(small)
        True
        """
        if self.sparse == "auto":
            m, n = pattern.shape
            return m * n > AUTO_SPARSE_SIZE and pattern.density < AUTO_SPARSE_DENSITY
        return bool(self.sparse)
