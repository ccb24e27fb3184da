"""The kernel ABI, written once: every compiled or emitted kernel is a C function ::

    void NAME(const double *x, const double *p, double *out, int64_t n,
              int64_t p_stride, double *work);

:data:`KERNEL_ARGS` names its arguments in order, with their C types and meaning.
The LLVM lowering (``KERNEL_TYPE``), the JIT's ctypes signature, the C printer's
prototypes, the object-code docs and the runtime's calls into a shared library
(:mod:`.calls`, in emitted Python packages, which get a verbatim copy of this file as
``_abi.py``) are all made from it. Standard library only.
"""

from __future__ import annotations

import ctypes
from dataclasses import dataclass


@dataclass(frozen=True)
class Argument:
    """One argument of a kernel: its name, C type, and what it holds.

    >>> KERNEL_ARGS[3]
    Argument(name='n', ctype='int64_t', meaning='number of points')
    >>> KERNEL_ARGS[0].pointer, KERNEL_ARGS[3].pointer
    (True, False)
    """

    name: str
    ctype: str
    meaning: str

    @property
    def pointer(self) -> bool:
        """Whether the argument is an address (else a 64-bit integer).

        >>> [a.name for a in KERNEL_ARGS if a.pointer]
        ['x', 'p', 'out', 'work']
        """
        return self.ctype.endswith("*")


#: the kernel's arguments, in order
KERNEL_ARGS = (
    Argument("x", "const double *", "n points, one row of n_vars inputs each"),
    Argument("p", "const double *", "parameters: a row of n_params per point, or one shared"),
    Argument("out", "double *", "n rows of the kernel's width, every entry written"),
    Argument("n", "int64_t", "number of points"),
    Argument("p_stride", "int64_t", "doubles from one point's parameters to the next (0: shared)"),
    Argument("work", "double *", "scratch of the kernel's work size in doubles (NULL if 0)"),
)


#: the suffix of a kernel's twin that computes again the points whose row it left a NaN in
#: (complex kernels: the twin recovers infinities in × and ÷; symjac.passes.complexify)
EXACT = "_exact"


def c_prototype(
    symbol: str, indent: int | None = None, ctype: str = "double", work: str | None = None
) -> str:
    """The C declarator of kernel ``symbol`` (no ``;``), wrapped after ``n`` when the line
    would be long, continuing at ``indent`` spaces (default: under the first argument);
    ``ctype`` is the kernel's number type (its arrays' elements: ``double``, ``float`` or
    ``double complex``), ``work`` its scratch's (default ``ctype``).

    >>> print(c_prototype("demo_values"))
    void demo_values(const double *x, const double *p, double *out, int64_t n,
                     int64_t p_stride, double *work)
    >>> print(c_prototype("f", indent=4, ctype="float"))
    void f(const float *x, const float *p, float *out, int64_t n,
        int64_t p_stride, float *work)
    >>> print(c_prototype("g", indent=4, ctype="double complex", work="double"))
    void g(const double complex *x, const double complex *p, double complex *out, int64_t n,
        int64_t p_stride, double *work)
    """
    kinds = [
        a.ctype.replace("double", (work or ctype) if a.name == "work" else ctype)
        for a in KERNEL_ARGS
    ]
    args = [f"{c}{a.name}" if a.pointer else f"{c} {a.name}" for c, a in zip(kinds, KERNEL_ARGS)]
    indent = len(symbol) + 6 if indent is None else indent
    return f"void {symbol}({', '.join(args[:4])},\n{' ' * indent}{', '.join(args[4:])})"


def ctypes_argtypes() -> list[type]:
    """The kernel's argument types for ctypes: addresses as ``c_void_p``, integers ``c_int64``.

    >>> ctypes_argtypes()[2:4] == [ctypes.c_void_p, ctypes.c_int64]
    True
    """
    return [ctypes.c_void_p if a.pointer else ctypes.c_int64 for a in KERNEL_ARGS]
