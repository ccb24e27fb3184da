"""Warm starts: the whole result of a compilation, kept on disk by a key of its input.

A second process compiling the same model (a restarted script or notebook, a test
suite, a batch of cluster jobs) skips the front end, differentiation, lowering and
LLVM: it hashes the SymPy input (:mod:`symjac.frontend.fingerprint`, about one walk
of the trees), finds the record of the earlier compilation — the sparsity pattern,
the tapes and kernel specs (:mod:`symjac.ir.serial`), the machine code's entry in the
object cache and what the kernels need at run time — and links the machine code.

The key covers everything that changes the result: the trees with their exact numbers,
the order of ``wrt`` and ``params``, the kind of object and its weights, every option
(but ``progress`` and ``cache``, which do not), symjac's own code (a hash of its source
files' names, sizes and modification times, so an edited checkout never reuses a stale
record), the SymPy, NumPy, llvmlite
and LLVM versions, Python's, and the host's target triple, CPU name and features.
Records live in the object cache's directory and follow its rules
(:class:`~symjac.codegen.cache.ObjectCache`; a record is one file, its metadata on the
first line): no pickle, atomic writes, a checksum checked before use; a damaged or
foreign record is a miss with a warning and is rewritten; a directory that cannot be
written warns once and compilation goes on.
"""

from __future__ import annotations

import functools
import hashlib
import os
import platform
import warnings
from dataclasses import dataclass, fields
from pathlib import Path
from typing import Any

import llvmlite
import numpy as np
import sympy as sp

from symjac.codegen.cache import ObjectCache
from symjac.codegen.llvm.build import Build, Kernels, restore_kernels
from symjac.codegen.llvm.jit import host_description
from symjac.frontend.fingerprint import fingerprint
from symjac.ir import serial
from symjac.ir.tape import Tape
from symjac.passes.complexify import Twin
from symjac.sparsity.pattern import SparsityPattern

#: the record layout this module writes and reads
FORMAT = 1
SUFFIX = ".warm"
#: options that do not change the result
_NOT_KEYED = ("progress", "cache")


@dataclass
class Saved:
    """What a compiled object is made of: its pattern (None for a function, whose number of
    outputs is its symbolic tape's), the symbolic tape (``to_sympy``, ``jvp``), the kernels,
    and the sizes and operation counts :class:`~symjac.stats.Stats` reports.

    >>> import symjac
    >>> x = sp.Symbol("x")
    >>> jac = symjac.jacobian([x**2], [x])
    >>> Saved(jac.pattern, jac._symbolic, jac._kernels).pattern.nnz
    1
    """

    pattern: SparsityPattern | None
    symbolic: Tape
    kernels: Kernels
    sizes: dict[str, int] | None = None
    op_counts: dict[str, int] | None = None


@functools.lru_cache(maxsize=1)
def code_version() -> str:
    """sha256 of symjac's own source files (symjac/ and symjac.codegen): their paths, sizes and
    modification times, read once a process. Any edit or reinstall changes one of them;
    stat-ing the ~70 files costs 0.25 ms where hashing their contents cost 2 ms of a warm
    start.

    >>> len(code_version()), code_version() == code_version()
    (64, True)
    """
    from symjac import codegen

    h = hashlib.sha256()
    # symjac's own directory (this file's) and codegen's, which is installed beside it;
    # os.walk, not Path.rglob: 0.25 ms against 1.4 ms
    for root in (Path(__file__).resolve().parent, Path(codegen.__file__ or "").resolve().parent):
        for directory, subdirectories, files in os.walk(root):
            subdirectories[:] = sorted(d for d in subdirectories if d != "__pycache__")
            for name in sorted(f for f in files if f.endswith(".py")):
                stat = os.stat(os.path.join(directory, name))
                where = os.path.relpath(os.path.join(directory, name), root)
                h.update(f"{where}\0{stat.st_size}\0{stat.st_mtime_ns}\n".encode())
    return h.hexdigest()


def key(
    kind: str,
    outputs: Any,
    wrt: Any,
    params: Any,
    options: Any,
    extra: Any = (),
) -> str:
    """The record's name: a sha256 of the input and of everything else that changes it.

    >>> from symjac.options import Options
    >>> x, y = sp.symbols("x y")
    >>> k = key("jacobian", [x * y], [x, y], [], Options())
    >>> k == key("jacobian", [x * y], [x, y], [], Options(progress=True))  # does not count
    True
    >>> k != key("jacobian", [x * y], [x, y], [], Options(opt_level=2))
    True
    >>> k != key("function", [x * y], [x, y], [], Options())
    True
    """
    opts = tuple((f.name, getattr(options, f.name)) for f in fields(options))
    context = (
        FORMAT,
        kind,
        tuple((name, repr(value)) for name, value in opts if name not in _NOT_KEYED),
        extra,
        code_version(),
        sp.__version__,
        np.__version__,
        llvmlite.__version__,
        platform.python_version(),
        tuple(sorted(host_description().items())),
    )
    return fingerprint(outputs, wrt, params, *context)


def save(cache: ObjectCache, name: str, saved: Saved) -> None:
    """Write ``saved`` under ``name`` (nothing if its machine code is not in ``cache``).

    >>> import tempfile
    >>> from symjac.options import Options
    >>> import symjac
    >>> x = sp.Symbol("x")
    >>> directory = tempfile.mkdtemp()
    >>> jac = symjac.jacobian([sp.sin(x)], [x], cache=directory)  # saves it as it compiles
    >>> sorted(p.suffix for p in Path(directory).iterdir())
    ['.json', '.o', '.warm']
    """
    kernels = saved.kernels.saved()
    if kernels is None:
        return
    pattern = saved.pattern
    extras = {}
    shape = None
    if pattern is not None:
        extras = {"rows": pattern.rows, "cols": pattern.cols}
        shape = list(pattern.shape)
    twins = saved.kernels.deferred  # kept as their complex specs: lowered when needed
    specs = (*saved.kernels.specs, *(t.source for t in twins))
    tapes = list({id(t): t for t in [saved.symbolic, *(s.tape for s in specs)]}.values())
    meta = {
        "format": FORMAT,
        "deferred": len(twins),
        "twin": twins[0].suffix if twins else "",
        "shape": shape,
        "kernels": kernels,
        "sizes": saved.sizes or {},
        "op_counts": saved.op_counts or {},
    }
    cache.store(name, serial.dumps(tapes, specs, meta, extras), suffix=SUFFIX)


def load(cache: ObjectCache, name: str, build: Build) -> Saved | None:
    """The record ``name`` with its kernels linked, or None (a miss: never stored, damaged,
    foreign, or its machine code gone; a damaged record warns, as the object cache does).

    >>> import tempfile
    >>> load(ObjectCache(tempfile.mkdtemp()), "ab" * 32, Build()) is None
    True
    """
    data = cache.load(name, suffix=SUFFIX)
    if data is None:
        return None
    try:
        tapes, specs, meta, extras = serial.loads(data)
        if meta.get("format") != FORMAT:
            raise ValueError("another format")
        pattern = None
        if meta["shape"] is not None:
            m, n = meta["shape"]
            pattern = SparsityPattern.from_arrays((m, n), extras["rows"], extras["cols"])
        symbolic = tapes[0]
        later = int(meta.get("deferred", 0))
        sources = specs[len(specs) - later :]
        specs = specs[: len(specs) - later]
        deferred = [Twin(source, str(meta["twin"])) for source in sources]
    except (ValueError, KeyError, TypeError, IndexError) as exc:
        warnings.warn(
            f"symjac cache: ignoring an unreadable warm-start record {name} ({exc})",
            RuntimeWarning,
            stacklevel=3,
        )
        return None
    kernels = restore_kernels(specs, build, meta["kernels"], cache, deferred)
    if kernels is None:
        return None
    return Saved(pattern, symbolic, kernels, meta["sizes"], meta["op_counts"])
