"""The number types kernels compute in, and every fact a stage needs about each: one table.

A kernel computes in one dtype (``Options.dtype``): its inputs, parameters, outputs,
registers and constants all have it. The tape does not: its constants stay the doubles
the front end and constant folding made, and each back end rounds them to the kernel's
dtype once, as it emits them (:meth:`DType.round`). Everything that differs between
dtypes — the NumPy dtype, the C and LLVM type names, the C library's suffix, the SIMD
lanes a vector register holds, how a constant is rounded, the machine epsilon — is a
column of :data:`DTYPES`, so a back end reads the row rather than testing names.

A ``complex128`` kernel is a float64 kernel over (re, im) pairs
(:mod:`symjac.passes.complexify` lowers its tape): the back ends compile its
:attr:`DType.scalar` type, float64, and only the runtime and the emitted signatures see
the complex type.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

import numpy as np


@dataclass(frozen=True)
class DType:
    """One row of :data:`DTYPES`: a kernel number type.

    >>> FLOAT32.ctype, FLOAT32.llvm, FLOAT32.libm("sin"), FLOAT32.lanes(512)
    ('float', 'float', 'sinf', 16)
    >>> FLOAT64.libm("sin"), FLOAT64.lanes(256), FLOAT64.literal("1.0")
    ('sin', 4, '1.0')
    """

    #: the canonical name, NumPy's (``np.dtype(name)`` is the array dtype)
    name: str
    #: bytes per value
    itemsize: int
    #: whether values are real (a complex value is two of :attr:`scalar`)
    real: bool
    #: the C type (``float``, ``double``)
    ctype: str
    #: the LLVM scalar type's name (``float``, ``double``); None: no LLVM lowering yet
    llvm: str | None
    #: what C99 appends to a <math.h> function's name for this type (``sinf``)
    libm_suffix: str
    #: what a C floating literal needs to have this type (``1.0f``)
    literal_suffix: str
    #: LLVM's name of the type in intrinsics (``llvm.sqrt.f32``, ``llvm.masked.load.v16f32``)
    intrinsic: str
    #: the machine epsilon: the gap between 1 and the next larger value
    epsilon: float
    #: how generated files' comments name the arithmetic
    precision: str
    #: the real type the back ends compute in (its own name for real types)
    scalar_name: str = ""

    @property
    def scalar(self) -> DType:
        """The row the back ends compile: this one, or a complex type's part type.

        >>> COMPLEX128.scalar is FLOAT64, FLOAT32.scalar is FLOAT32
        (True, True)
        """
        return DTYPES[self.scalar_name or self.name]

    @property
    def parts(self) -> int:
        """Scalars per value: 2 for a complex type ((re, im), NumPy's layout), else 1.

        >>> COMPLEX128.parts, FLOAT64.parts
        (2, 1)
        """
        return 1 if self.real else 2

    @property
    def numpy(self) -> np.dtype[Any]:
        """The NumPy dtype of this type's arrays.

        >>> FLOAT32.numpy
        dtype('float32')
        """
        return np.dtype(self.name)

    def libm(self, name: str) -> str:
        """The C library function computing C99 function ``name`` in this type.

        >>> FLOAT32.libm("atan2"), FLOAT64.libm("atan2")
        ('atan2f', 'atan2')
        """
        return name + self.libm_suffix

    def literal(self, text: str) -> str:
        """A C floating literal ``text`` (``"1.0"``, a hexadecimal float) of this type.

        >>> FLOAT32.literal("0x1.8p+1")
        '0x1.8p+1f'
        """
        return text + self.literal_suffix

    def lanes(self, vector_bits: int) -> int:
        """How many values a SIMD register of ``vector_bits`` bits holds.

        >>> FLOAT64.lanes(512), FLOAT32.lanes(512), FLOAT32.lanes(256)
        (8, 16, 8)
        """
        return vector_bits // (8 * self.itemsize)

    def round(self, value: float) -> float:
        """``value`` (a double) rounded to the nearest value of this type, as a double.

        Rounded once, to nearest (ties to even), as an IEEE conversion does: what a
        constant becomes in a kernel of this type. Beyond the type's range: ±inf.

        >>> FLOAT32.round(0.1), FLOAT64.round(0.1)
        (0.10000000149011612, 0.1)
        >>> FLOAT32.round(1e39), FLOAT32.round(3.4028235e38) == float(np.finfo(np.float32).max)
        (inf, True)
        """
        if self.name == "float64" or not self.real:
            return float(value)
        with np.errstate(over="ignore"):  # overflow to ±inf is the conversion's result
            return float(self.numpy.type(value))


FLOAT64 = DType("float64", 8, True, "double", "double", "", "", "f64", 2.0**-52, "double precision")
FLOAT32 = DType(
    "float32", 4, True, "float", "float", "f", "f", "f32", 2.0**-23, "single precision (float32)"
)
COMPLEX128 = DType(
    "complex128", 16, False, "double complex", None, "", "", "", 2.0**-52, "complex double",
    "float64",
)  # fmt: skip

#: every kernel dtype, by canonical name; the first is the default
DTYPES: dict[str, DType] = {t.name: t for t in (FLOAT64, FLOAT32, COMPLEX128)}


def dtype(spelling: Any) -> DType:
    """The row of a dtype spelled any way NumPy accepts (``np.float32``, ``"float32"``,
    ``np.dtype("f4")``, ``"single"``); ``TypeError``/``ValueError`` naming the choices else.

    >>> dtype(np.float32) is dtype("f4") is dtype(np.dtype("float32")) is FLOAT32
    True
    >>> dtype(float).name, dtype("complex128").name
    ('float64', 'complex128')
    >>> dtype("int32")
    Traceback (most recent call last):
    ...
    ValueError: dtype must be one of float64, float32, complex128, not 'int32'
    """
    if isinstance(spelling, DType):
        return spelling
    choices = ", ".join(DTYPES)
    if spelling is None or isinstance(spelling, bool):  # NumPy reads None as float64
        raise TypeError(f"dtype must be one of {choices}, not {spelling!r}")
    try:
        numpy = np.dtype(spelling)
    except TypeError:
        raise TypeError(f"dtype must be one of {choices}, not {spelling!r}") from None
    row = DTYPES.get(numpy.name)
    if row is None or not numpy.isnative:
        raise ValueError(f"dtype must be one of {choices}, not {spelling!r}")
    return row
