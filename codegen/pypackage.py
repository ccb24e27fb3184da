"""The Python target: a package directory that needs only NumPy at run time.

``DIRECTORY/NAME/`` holds

* ``__init__.py`` — fixed text (plus comments): ``kernel = load(this directory)``;
* ``_runtime.py`` — a verbatim copy of :mod:`.pyruntime` (the call interface);
* ``_arguments.py`` — a verbatim copy of :mod:`symjac.runtime.arguments` (input validation),
  so the emitted package validates with the same code as the JIT objects;
* ``libNAME.so`` — the kernels (:mod:`.llvm.native`);
* ``metadata.json`` — kind, shape, pattern, input and parameter names, kernel symbols.

No user-given string becomes Python source: names travel as JSON data, and in
comments only through :func:`.artefact.comment_safe`.
"""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

from symjac.codegen import pyruntime
from symjac.codegen.artefact import Artefact, comment_safe

import symjac.runtime.arguments

INIT = '''"""Kernels written by symjac.emit (target "python"). Needs only NumPy.

``kernel`` has the call interface of the symjac object it was emitted from.
"""

from ._runtime import load as _load

kernel = _load(__path__[0])

__all__ = ["kernel"]
'''


def metadata(art: Artefact, library: str, work: dict[str, int]) -> dict[str, Any]:
    """What :func:`.pyruntime.load` reads: ``work`` is each kernel's work buffer in doubles.

    >>> from symjac.ir.graph import Graph
    >>> from symjac.ir.tape import Tape, KernelSpec
    >>> g = Graph(); x, y = g.var(0), g.var(1)
    >>> spec = KernelSpec("values", Tape.from_graph(g, [y, x], 2, 0), 2, (0, 1))
    >>> art = Artefact("jac", "jacobian", (spec,), ("x", "y"), (), (1, 2), (0, 0), (0, 1))
    >>> meta = metadata(art, "libjac.so", {"values": 0})
    >>> meta["kind"], meta["shape"], meta["rows"], meta["cols"]
    ('jacobian', [1, 2], [0, 0], [0, 1])
    >>> meta["kernels"]
    {'values': {'symbol': 'jac_values', 'width': 2, 'work': 0}}
    """
    return {
        "format": pyruntime.FORMAT,
        "name": art.name,
        "kind": art.kind,
        "library": library,
        "inputs": list(art.inputs),
        "params": list(art.params),
        "shape": list(art.shape),
        "rows": list(art.rows),
        "cols": list(art.cols),
        "kernels": {
            spec.name: {"symbol": art.symbol(spec), "width": spec.width, "work": work[spec.name]}
            for spec in art.specs
        },
    }


def package_files(art: Artefact, library: str, work: dict[str, int]) -> dict[str, str]:
    """The text files of the package, by file name (the library is written separately).

    >>> from symjac.ir.graph import Graph
    >>> from symjac.ir.tape import Tape, KernelSpec
    >>> g = Graph(); x, y = g.var(0), g.var(1)
    >>> spec = KernelSpec("values", Tape.from_graph(g, [y, x], 2, 0), 2, (0, 1))
    >>> art = Artefact("jac", "jacobian", (spec,), ("x", "y"), (), (1, 2), (0, 0), (0, 1))
    >>> files = package_files(art, "libjac.so", {"values": 0})
    >>> sorted(files)
    ['__init__.py', '_arguments.py', '_runtime.py', 'metadata.json']
    >>> files["__init__.py"].splitlines()[0]
    '# jacobian of shape 1 x 2, 2 structural nonzeros'
    >>> json.loads(files["metadata.json"])["library"]
    'libjac.so'
    """
    header = "".join(f"# {comment_safe(line)}\n" for line in art.describe())
    return {
        "__init__.py": header + INIT,
        "_runtime.py": Path(pyruntime.__file__).read_text(encoding="utf-8"),
        "_arguments.py": Path(symjac.runtime.arguments.__file__).read_text(encoding="utf-8"),
        pyruntime.METADATA: json.dumps(metadata(art, library, work), indent=1, sort_keys=True)
        + "\n",
    }
