"""What a standalone artefact holds: the kernel specs and the facts that describe them.

:class:`Artefact` is what every emission back end (C, LLVM IR, object code,
shared library, Python package) takes: the same :class:`~symjac.ir.tape.KernelSpec`
objects the JIT compiled, plus the shape, the sparsity pattern and the names
of the inputs. It holds only ints, strings and specs — the symbolic side
(:mod:`symjac.standalone`) fills it in, so nothing here imports SymPy.

User-given names (symbol names) are never pasted into generated source as
code: identifiers are generated (``x[0]``, ``p[3]``, ``NAME_values``), and the
names appear only in comments, through :func:`comment_safe`, or as JSON data.
"""

from __future__ import annotations

import keyword
import re
from collections.abc import Sequence
from dataclasses import dataclass

from symjac.ir.dtypes import DTYPES, DType
from symjac.ir.tape import KernelSpec

#: what the compiled object was: decides which metadata and Python methods an artefact has
KINDS = ("function", "jacobian", "function_and_jacobian", "hessian")

_C_KEYWORDS = frozenset(
    "auto break case char const continue default do double else enum extern float for goto if "
    "inline int long register restrict return short signed sizeof static struct switch typedef "
    "union unsigned void volatile while _Bool _Complex _Imaginary".split()
)
_IDENTIFIER = re.compile(r"[A-Za-z][A-Za-z0-9_]{0,62}")


def check_name(name: object) -> str:
    """``name`` if it can prefix C symbols and name a Python package; ``ValueError`` otherwise.

    A letter, then letters, digits and underscores (at most 63 characters, no C or
    Python keyword): a leading underscore would reach into names C reserves.

    >>> check_name("robertson_jac")
    'robertson_jac'
    >>> check_name("x);system(1")
    Traceback (most recent call last):
    ...
    ValueError: name must be a C identifier (a letter, then letters, digits or _), not 'x);system(1'
    """
    if not isinstance(name, str):
        raise TypeError(f"name must be a str, not {type(name).__name__}")
    if not _IDENTIFIER.fullmatch(name):
        raise ValueError(
            f"name must be a C identifier (a letter, then letters, digits or _), not {name!r}"
        )
    if name in _C_KEYWORDS or keyword.iskeyword(name):
        raise ValueError(f"name {name!r} is a C or Python keyword")
    return name


_SAFE = frozenset(
    "abcdefghijklmnopqrstuvwxyzABCDEFGHIJKLMNOPQRSTUVWXYZ0123456789 _.,:;+-=()[]{}<>!#%&|^~'\"@$"
)


def comment_safe(text: str) -> str:
    r"""``text`` made safe inside any comment (C ``/* */``, LLVM ``;``, Python ``#``).

    Printable ASCII letters, digits and punctuation stay; everything else — newlines,
    control and non-ASCII characters, ``*``, ``/``, ``?``, ``\`` (which could end a C
    comment, start a nested one, form a trigraph or splice lines) — becomes a
    ``\xNN``/``\uNNNN`` escape, so the result is one harmless line.

    >>> comment_safe("a*/ b\nc")
    'a\\x2a\\x2f b\\x0ac'
    >>> comment_safe("α_1")
    '\\u03b1_1'
    """
    out = []
    for ch in text:
        code = ord(ch)
        if ch in _SAFE:
            out.append(ch)
        elif code < 0x100:
            out.append(f"\\x{code:02x}")
        elif code < 0x10000:
            out.append(f"\\u{code:04x}")
        else:
            out.append(f"\\U{code:08x}")
    return "".join(out)


@dataclass(frozen=True)
class Artefact:
    """The kernels to emit and what they compute.

    ``specs`` are the compiled object's kernel specs, unrenamed (``values``,
    ``dense``, ``function``, ...); back ends prefix them with ``name``.
    ``shape`` is ``(m,)`` for a function and ``(m, n)`` for the Jacobian-like
    kinds; ``rows``/``cols`` the sparsity pattern in row-major order (empty for
    a function). ``inputs``/``params`` are the user's names, for comments and
    metadata only.

    The Jacobian of ``f = [x*y]`` with respect to ``(x, y)``, whose nonzeros are ``(y, x)``:

    >>> from symjac.ir.graph import Graph
    >>> from symjac.ir.tape import Tape, KernelSpec
    >>> g = Graph(); x, y = g.var(0), g.var(1)
    >>> spec = KernelSpec("values", Tape.from_graph(g, [y, x], 2, 0), 2, (0, 1))
    >>> art = Artefact("jac", "jacobian", (spec,), ("x", "y"), (), (1, 2), (0, 0), (0, 1))
    >>> art.nnz, art.indptr, art.symbol(spec)
    (2, (0, 2), 'jac_values')
    >>> Artefact("jac", "hessian", (), ("x", "y"), (), (2, 2))
    Traceback (most recent call last):
    ...
    ValueError: an artefact needs at least one kernel
    """

    name: str
    kind: str
    specs: tuple[KernelSpec, ...]
    inputs: tuple[str, ...]
    params: tuple[str, ...]
    shape: tuple[int, ...]
    rows: tuple[int, ...] = ()
    cols: tuple[int, ...] = ()
    fastmath: bool = False
    opt_level: int = 3
    #: what the kernels compute in and read and write (a name of ``symjac.ir.dtypes.DTYPES``)
    dtype: str = "float64"

    @property
    def type(self) -> DType:
        """The row of :data:`symjac.ir.dtypes.DTYPES` of :attr:`dtype`.

        >>> from symjac.ir.graph import Graph
        >>> from symjac.ir.tape import Tape, KernelSpec
        >>> g = Graph(); x = g.var(0)
        >>> spec = KernelSpec("function", Tape.from_graph(g, [x], 1, 0), 1, (0,))
        >>> Artefact("f", "function", (spec,), ("x",), (), (1,), dtype="float32").type.ctype
        'float'
        """
        return DTYPES[self.dtype]

    @property
    def scalar(self) -> DType:
        """What the kernels compute in: :attr:`type`, or for complex128 float64, over
        (re, im) pairs (its specs are :func:`symjac.passes.complexify.complex_specs`'s).

        >>> from symjac.ir.graph import Graph
        >>> from symjac.ir.tape import Tape, KernelSpec
        >>> g = Graph(); x = g.var(0)
        >>> spec = KernelSpec("function", Tape.from_graph(g, [x, x], 2, 0), 2, (0, 1))
        >>> Artefact("f", "function", (spec,), ("z",), (), (1,), dtype="complex128").scalar.ctype
        'double'
        """
        return self.type.scalar

    def __post_init__(self) -> None:
        check_name(self.name)
        if self.dtype not in DTYPES:
            raise ValueError(f"dtype must be one of {', '.join(DTYPES)}, not {self.dtype!r}")
        if self.kind not in KINDS:
            raise ValueError(f"kind must be one of {KINDS}, not {self.kind!r}")
        if not self.specs:
            raise ValueError("an artefact needs at least one kernel")
        if len(self.rows) != len(self.cols):
            raise ValueError("rows and cols must have the same length")
        parts = self.type.parts  # a complex input is two of the kernel's scalars
        for spec in self.specs:
            inputs = (spec.tape.n_vars, spec.tape.n_params)
            if inputs != (parts * len(self.inputs), parts * len(self.params)):
                raise ValueError(f"kernel {spec.name} does not match the inputs and parameters")

    @property
    def nnz(self) -> int:
        """Number of structurally nonzero entries (0 for a function).

        >>> from symjac.ir.graph import Graph
        >>> from symjac.ir.tape import Tape, KernelSpec
        >>> g = Graph(); x = g.var(0)
        >>> spec = KernelSpec("function", Tape.from_graph(g, [g.sin(x)], 1, 0), 1, (0,))
        >>> Artefact("f", "function", (spec,), ("x",), (), (1,)).nnz
        0
        """
        return len(self.rows)

    @property
    def indptr(self) -> tuple[int, ...]:
        """CSR row pointer of the pattern (empty for a function).

        Row ``i``'s entries are ``indptr[i]`` up to ``indptr[i + 1]``; here rows 0 and 2
        have one entry each and row 1 none:

        >>> from symjac.ir.graph import Graph
        >>> from symjac.ir.tape import Tape, KernelSpec
        >>> g = Graph(); x = g.var(0)
        >>> spec = KernelSpec("values", Tape.from_graph(g, [x, x], 1, 0), 2, (0, 1))
        >>> Artefact("j", "jacobian", (spec,), ("x",), (), (3, 1), (0, 2), (0, 0)).indptr
        (0, 1, 1, 2)
        """
        if self.kind == "function":
            return ()
        counts = [0] * (self.shape[0] + 1)
        for r in self.rows:
            counts[r + 1] += 1
        for i in range(self.shape[0]):
            counts[i + 1] += counts[i]
        return tuple(counts)

    def symbol(self, spec: KernelSpec) -> str:
        """The exported symbol of a kernel: ``NAME_values``, ``NAME_function``, ...

        >>> from symjac.ir.graph import Graph
        >>> from symjac.ir.tape import Tape, KernelSpec
        >>> g = Graph(); x = g.var(0)
        >>> spec = KernelSpec("function", Tape.from_graph(g, [g.sin(x)], 1, 0), 1, (0,))
        >>> Artefact("wave", "function", (spec,), ("x",), (), (1,)).symbol(spec)
        'wave_function'
        """
        return f"{self.name}_{spec.name}"

    def describe(self) -> list[str]:
        """Lines saying what was compiled, for the comment header of generated files.

        Names are passed through :func:`comment_safe`.

        >>> from symjac.ir.graph import Graph
        >>> from symjac.ir.tape import Tape, KernelSpec
        >>> g = Graph(); x = g.var(0)
        >>> spec = KernelSpec("function", Tape.from_graph(g, [g.sin(x)], 1, 0), 1, (0,))
        >>> for line in Artefact("wave", "function", (spec,), ("x*/",), (), (1,)).describe():
        ...     print(line)
        function of shape 1
        inputs x[0..1) per point, in this order:
          x[0] = x\\x2a\\x2f
        parameters p[0..0) per point (or shared), in this order:
          (none)
        kernels (one row of out per point):
          wave_function: the m outputs f(x; p)
        IEEE-754 double precision; no fast-math
        """
        shape = " x ".join(str(d) for d in self.shape)
        lines = [
            f"{self.kind} of shape {shape}"
            + (f", {self.nnz} structural nonzeros" if self.kind != "function" else ""),
            f"inputs x[0..{len(self.inputs)}) per point, in this order:",
            *_numbered("x", self.inputs),
            f"parameters p[0..{len(self.params)}) per point (or shared), in this order:",
            *_numbered("p", self.params),
            "kernels (one row of out per point):",
            *(f"  {self.symbol(s)}: {self._writes(s)}" for s in self.specs),
            f"IEEE-754 {self.type.precision}; "
            + ("compiled with fast-math" if self.fastmath else "no fast-math"),
        ]
        return lines

    def _writes(self, spec: KernelSpec) -> str:
        return _OUTPUTS[self.kind].get(spec.name, f"{spec.width} values")


def _numbered(letter: str, names: Sequence[str]) -> list[str]:
    if not names:
        return ["  (none)"]
    return [f"  {letter}[{k}] = {comment_safe(name)}" for k, name in enumerate(names)]


#: what each kernel writes, per kind, for the header comment
_OUTPUTS = {
    "function": {"function": "the m outputs f(x; p)"},
    "jacobian": {
        "values": "the nnz nonzeros of J, in pattern order (row-major, CSR)",
        "dense": "the m x n Jacobian, row-major, zeros included",
    },
    "function_and_jacobian": {
        "values": "the m outputs f, then the nnz nonzeros of J in pattern order",
        "dense": "the m outputs f, then the m x n Jacobian, row-major",
    },
    "hessian": {"values": "the nnz nonzeros of the lower triangle (row >= col), row-major"},
}
