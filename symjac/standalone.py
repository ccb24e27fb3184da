"""Standalone code: write a compiled object's kernels out as C, LLVM IR, object code, ...

:func:`emit` takes the kernel specs the object was compiled from
(``obj._kernels.specs``, the same tapes the JIT lowered) and hands them to a
back end in :mod:`symjac.codegen`: one IR, many targets, no second symbolic
path. This module is the only part that knows SymPy symbols: it turns them
into plain names (used in comments and metadata only) and builds the
:class:`~symjac.codegen.artefact.Artefact` every back end takes.
"""

from __future__ import annotations

import os
from collections.abc import Callable
from pathlib import Path
from typing import Any

from symjac.codegen.artefact import Artefact, check_name
from symjac.codegen.c import C_FILES
from symjac.codegen.llvm.native import link_shared, llvm_ir, object_code, shared_suffix
from symjac.codegen.pypackage import package_files
from symjac.compiled import (
    CompiledFunction,
    CompiledFunctionAndJacobian,
    CompiledHessian,
    CompiledJacobian,
)
from symjac.ir import dtypes

#: the compiled classes emit accepts, most specific first, and the kind each one is
_KINDS: tuple[tuple[type, str], ...] = (
    (CompiledHessian, "hessian"),
    (CompiledFunctionAndJacobian, "function_and_jacobian"),
    (CompiledJacobian, "jacobian"),
    (CompiledFunction, "function"),
)


def artefact(obj: Any, name: str, dtype: Any = None) -> Artefact:
    """The :class:`Artefact` describing compiled object ``obj`` under the symbol prefix ``name``,
    in ``dtype`` (default: the object's own; its tapes are the same in any dtype).

    >>> import sympy as sp, symjac
    >>> x, a = sp.symbols("x a")
    >>> art = artefact(symjac.jacobian([a * x**2], [x], [a]), "demo")
    >>> art.kind, art.shape, art.inputs, art.params, [art.symbol(s) for s in art.specs]
    ('jacobian', (1, 1), ('x',), ('a',), ['demo_values', 'demo_dense'])
    >>> art.dtype, artefact(symjac.jacobian([a * x**2], [x], [a]), "demo", "float32").dtype
    ('float64', 'float32')
    """
    check_name(name)
    kind = next((k for cls, k in _KINDS if isinstance(obj, cls)), None)
    if kind is None:
        raise TypeError(
            "emit takes an object compiled by symjac.jacobian, function, function_and_jacobian "
            f"or hessian, not {type(obj).__name__}"
        )
    kernels = obj._kernels
    if not kernels.specs:
        raise ValueError("this compiled object does not carry its kernel specs")
    build = getattr(kernels, "build", kernels)  # the build options, if grouped
    pattern = getattr(obj, "pattern", None)
    return Artefact(
        name=name,
        kind=kind,
        specs=(*kernels.specs, *(t.spec() for t in getattr(kernels, "deferred", ()))),
        inputs=tuple(str(s) for s in obj.wrt),
        params=tuple(str(s) for s in obj.params),
        shape=tuple(obj.shape),
        rows=() if pattern is None else tuple(int(r) for r in pattern.rows),
        cols=() if pattern is None else tuple(int(c) for c in pattern.cols),
        fastmath=bool(build.fastmath),
        opt_level=int(build.opt_level),
        dtype=_dtype(obj, dtype),
    )


def _dtype(obj: Any, dtype: Any) -> str:
    """The artefact's dtype: the object's, or another real one for a real object (the tapes
    are the same); a complex object's tapes are over (re, im) pairs, only complex."""
    own = dtypes.dtype(getattr(obj, "dtype", "float64"))
    wanted = own if dtype is None else dtypes.dtype(dtype)
    if wanted.real != own.real:
        raise ValueError(
            f"a {own.name} object is emitted as {own.name}, not {wanted.name}: complex kernels "
            "are compiled from the complex derivative; compile it with dtype=np.complex128"
        )
    return wanted.name


def _write(path: Path, content: str | bytes) -> Path:
    data = content.encode("utf-8") if isinstance(content, str) else content
    path.write_bytes(data)  # bytes: no platform newline translation, identical everywhere
    return path


def _emit_c(art: Artefact, directory: Path, options: dict[str, Any]) -> list[Path]:
    return [_write(directory / f"{art.name}{suffix}", fn(art)) for suffix, fn in C_FILES.items()]


def _emit_llvm(art: Artefact, directory: Path, options: dict[str, Any]) -> list[Path]:
    return [_write(directory / f"{art.name}.ll", llvm_ir(art, options["triple"]))]


def _emit_object(art: Artefact, directory: Path, options: dict[str, Any]) -> list[Path]:
    compiled = object_code(art, options["triple"], options["cpu"], options["features"])
    return [_write(directory / f"{art.name}.o", compiled.code)]


def _shared_library(
    art: Artefact, directory: Path, options: dict[str, Any]
) -> tuple[Path, dict[str, int]]:
    """Link the kernels into ``libNAME.so``; returns it and each kernel's work size."""
    if options["triple"] is not None:
        raise ValueError(
            "a shared library is linked for this machine; for another triple emit "
            "target='object' and link it with that platform's tools"
        )
    compiled = object_code(art, None, options["cpu"], options["features"])
    exports = [art.symbol(spec) for spec in art.specs]
    path = directory / f"lib{art.name}{shared_suffix()}"
    return link_shared(compiled.code, exports, path, options["compiler"]), compiled.work


def _emit_shared(art: Artefact, directory: Path, options: dict[str, Any]) -> list[Path]:
    return [_shared_library(art, directory, options)[0]]


def _emit_python(art: Artefact, directory: Path, options: dict[str, Any]) -> list[Path]:
    package = directory / art.name
    package.mkdir(exist_ok=True)
    library, work = _shared_library(art, package, options)
    files = package_files(art, library.name, work)
    return [*(_write(package / name, text) for name, text in files.items()), library]


_TARGETS: dict[str, Callable[[Artefact, Path, dict[str, Any]], list[Path]]] = {
    "c": _emit_c,
    "llvm": _emit_llvm,
    "object": _emit_object,
    "shared": _emit_shared,
    "python": _emit_python,
}
#: the targets :func:`emit` writes
TARGETS = tuple(_TARGETS)


def emit(
    obj: Any,
    directory: str | os.PathLike[str],
    name: str,
    target: str = "c",
    *,
    triple: str | None = None,
    cpu: str = "",
    features: str = "",
    compiler: str | None = None,
    dtype: Any = None,
) -> list[Path]:
    """Write the kernels of ``obj`` to ``directory`` as standalone code; returns the paths.

    ``name`` prefixes every exported symbol (``NAME_values``, ``NAME_dense``,
    ``NAME_function``) and must be a C identifier. ``target``:

    * ``"c"``: ``NAME.c`` and ``NAME.h``, C99 needing only ``<math.h>``; the kernels
      have the JIT's batched ABI (docs/emit.md).
    * ``"llvm"``: ``NAME.ll``, the LLVM IR the JIT compiles (scalar, unoptimised).
    * ``"object"``: ``NAME.o``, that IR optimised and compiled by LLVM for ``triple``
      (default: this machine; any triple LLVM supports, e.g. ``"aarch64-unknown-linux-gnu"``),
      for the generic ``cpu`` unless one is named, position independent.
    * ``"shared"``: ``libNAME.so`` (``.dylib``), that object linked by the system C compiler
      (``compiler``, ``$CC`` or ``cc``), exporting the kernels only.
    * ``"python"``: a package ``NAME/`` (that library, ``metadata.json``, a small runtime)
      needing only NumPy: ``import NAME; NAME.kernel(x, p)`` behaves like ``obj(x, p)``.

    ``dtype``: the kernels' number type, ``np.float64`` or ``np.float32`` (default: the
    object's, ``obj.dtype``). Emitting another dtype than the object's lowers the same
    tapes in it: float32 code computes in ``float`` with the C library's float functions,
    each constant rounded to float once (docs/emit.md).

    >>> import tempfile, sympy as sp, symjac
    >>> x, y = sp.symbols("x y")
    >>> jac = symjac.jacobian([x * y, sp.sin(x)], [x, y])
    >>> with tempfile.TemporaryDirectory() as d:
    ...     [p.name for p in emit(jac, d, "demo", target="c")]
    ['demo.h', 'demo.c']
    """
    art = artefact(obj, name, dtype)
    if not isinstance(target, str) or target not in _TARGETS:
        raise ValueError(f"target must be one of {sorted(_TARGETS)}, not {target!r}")
    path = Path(directory)
    path.mkdir(parents=True, exist_ok=True)
    options = {"triple": triple, "cpu": cpu, "features": features, "compiler": compiler}
    return _TARGETS[target](art, path, options)
