"""Every intermediate of one compilation, for inspection and teaching: ``obj.stages``.

The pipeline is SymPy → graph → derivatives → tape → LLVM IR → optimised IR →
machine code (docs/how-it-works.md walks one expression through it). A compiled
object keeps what it runs — its tapes and its JIT module — and the input it was
built from; the graph and the derivative graph are built again when asked for, by
the same deterministic pipeline, so inspection costs a compiled object no memory.

The stages up to the tape are the same for every dtype (their constants are doubles);
from the LLVM IR on, the kernels compute in :attr:`Stages.dtype` (``float`` registers
and ``sinf`` calls for float32), each constant rounded to it once.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any, ClassVar

from symjac.codegen.llvm.build import Kernels, lowered_ir
from symjac.ir.graph import Graph
from symjac.ir.tape import Tape

#: the driver's hook: the graph after the front end, its output nodes, and the derivatives
#: of the outputs (``{column: node}`` per output; None where no derivative was compiled)
Rebuild = Callable[[bool], tuple[Graph, list[int], "list[dict[int, int]] | None"]]


@dataclass(frozen=True)
class Stages:
    """The stages of one compiled object, in pipeline order.

    >>> import sympy as sp, symjac
    >>> x, y = sp.symbols("x y")
    >>> st = symjac.jacobian([x * sp.sin(y)], [x, y]).stages
    >>> st.sympy, st.names
    ((x*sin(y),), ['sympy', 'graph', 'derivatives', 'tape', 'llvm_ir', 'optimised_ir', 'assembly'])
    >>> graph, roots = st.graph()
    >>> graph.ops[roots[0]]
    <Op.MUL: 13>
    >>> graph, grads = st.derivatives()
    >>> [graph.ops[grads[0][j]].name for j in sorted(grads[0])]   # sin(y), x*cos(y)
    ['SIN', 'MUL']
    >>> len(st.tape), 'define void @"values"(' in st.llvm_ir()
    (5, True)
    """

    #: the outputs, validated, as given
    sympy: tuple[Any, ...]
    wrt: tuple[Any, ...]
    params: tuple[Any, ...]
    #: the tape of the outputs before composite functions are expanded (``to_sympy`` reads it)
    tape: Tape
    kernels: Kernels = field(repr=False, compare=False)
    rebuild: Rebuild = field(repr=False, compare=False)
    #: what the caller's arrays hold: the kernels' dtype, or ``"complex128"``, whose kernels
    #: compute float64 over (re, im) pairs (their tapes are :mod:`symjac.passes.complexify`'s)
    values: str = ""

    names: ClassVar[list[str]] = [
        "sympy",
        "graph",
        "derivatives",
        "tape",
        "llvm_ir",
        "optimised_ir",
        "assembly",
    ]

    def graph(self) -> tuple[Graph, list[int]]:
        """The hash-consed graph after the front end, and its output nodes.

        >>> import sympy as sp, symjac
        >>> x = sp.Symbol("x")
        >>> graph, roots = symjac.function([sp.sin(x) + sp.cos(sp.sin(x))], [x]).stages.graph()
        >>> [op.name for op in graph.ops]   # sin(x) is one node, used twice
        ['VAR', 'SIN', 'COS', 'ADD']
        """
        graph, roots, _ = self.rebuild(False)
        return graph, roots

    def derivatives(self) -> tuple[Graph, list[dict[int, int]]]:
        """The graph after differentiation and each output's sparse gradient ``{column: node}``
        (for a Hessian: the first derivatives). ``ValueError`` for a compiled function.

        >>> import sympy as sp, symjac
        >>> x, y = sp.symbols("x y")
        >>> graph, grads = symjac.jacobian([x * y], [x, y]).stages.derivatives()
        >>> sorted(grads[0]), [graph.ops[grads[0][j]].name for j in (0, 1)]   # d/dx = y, d/dy = x
        ([0, 1], ['VAR', 'VAR'])
        """
        graph, _, grads = self.rebuild(True)
        if grads is None:
            raise ValueError("a compiled function has no derivative stage")
        return graph, grads

    @property
    def kernel_tapes(self) -> dict[str, Tape]:
        """What the back ends compile, per kernel: the tape with composites expanded.

        >>> import sympy as sp, symjac
        >>> x = sp.Symbol("x")
        >>> sorted(symjac.jacobian([sp.digamma(x) * x], [x]).stages.kernel_tapes)
        ['dense', 'values']
        """
        return {spec.name: spec.tape for spec in self.kernels.specs}

    def llvm_ir(self) -> str:
        """The LLVM IR as lowered, before LLVM's passes (lowered again: it is not kept).

        >>> import sympy as sp, symjac
        >>> x = sp.Symbol("x")
        >>> 'define void @"function"(' in symjac.function([x + 1], [x]).stages.llvm_ir()
        True
        """
        return lowered_ir(self.kernels)

    def optimised_ir(self) -> str:
        """The LLVM IR after LLVM's passes, as the JIT compiled it.

        >>> import sympy as sp, symjac
        >>> x = sp.Symbol("x")
        >>> "fadd" in symjac.function([x + 1], [x]).stages.optimised_ir()
        True
        """
        return self.kernels.jit.optimised_ir()

    def assembly(self) -> str:
        """This host's assembly of the optimised module.

        >>> import sympy as sp, symjac
        >>> x = sp.Symbol("x")
        >>> "function:" in symjac.function([x + 1], [x]).stages.assembly()
        True
        """
        return self.kernels.jit.assembly()

    @property
    def dtype(self) -> str:
        """The kernel's dtype (``"float64"``, ``"float32"``, ``"complex128"``). From the LLVM
        IR on, float32 kernels compute in ``float``; complex128 ones in ``double`` over
        (re, im) pairs.

        >>> import numpy as np, sympy as sp, symjac
        >>> x = sp.Symbol("x")
        >>> st = symjac.function([sp.sin(x)], [x], dtype=np.float32).stages
        >>> st.dtype, "float" in st.llvm_ir().split("sin")[0]
        ('float32', True)
        >>> symjac.function([sp.sin(x)], [x], dtype=np.complex128).stages.dtype
        'complex128'
        """
        return self.values or self.kernels.build.dtype

    def summary(self) -> str:
        """One line per stage: what it holds.

        >>> import sympy as sp, symjac
        >>> x = sp.Symbol("x")
        >>> print(symjac.function([sp.exp(x) + 1], [x]).stages.summary())  # doctest: +ELLIPSIS
        sympy: 1 output in x
        graph: 4 nodes
        tape: 4 instructions (1 output)
        kernels: function
        ...
        """
        graph, _ = self.graph()
        names = ", ".join(str(s) for s in self.wrt)
        plural = "s" if len(self.sympy) != 1 else ""
        lines = [
            f"sympy: {len(self.sympy)} output{plural} in {names}"
            + (f"; parameters {', '.join(str(s) for s in self.params)}" if self.params else ""),
            f"graph: {len(graph)} nodes",
            f"tape: {len(self.tape)} instructions ({len(self.tape.outputs)} output"
            + ("s)" if len(self.tape.outputs) != 1 else ")"),
            f"kernels: {', '.join(self.kernel_tapes)}",
            f"LLVM: {self.kernels.lanes} lane(s), optimisation level {self.kernels.opt_level}, "
            f"{self.kernels.build.dtype}"
            + (f" over (re, im) pairs of {self.dtype}" if self.values == "complex128" else ""),
        ]
        return "\n".join(lines)
