"""The Python target: a package directory that needs only NumPy at run time.

``DIRECTORY/NAME/`` holds

* ``__init__.py`` — fixed text (plus comments): ``kernel = load(this directory)``;
* ``_calls.py``, ``_arguments.py``, ``_parallel.py``, ``_abi.py`` — verbatim copies of
  :mod:`symjac.runtime`'s modules (result layouts and call path, input validation,
  batches split across cores, the kernel signature): the package runs the very code the
  JIT objects run;
* ``libNAME.so`` — the kernels (:mod:`.llvm.native`);
* ``metadata.json`` — kind, shape, pattern, input and parameter names, kernel symbols.

No user-given string becomes Python source: names travel as JSON data, and in
comments only through :func:`.artefact.comment_safe`.
"""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

from symjac.codegen.artefact import Artefact, comment_safe

from symjac.runtime import abi, arguments, calls, parallel

#: the package's copies of the runtime's modules: file name → module
RUNTIME = {"_calls.py": calls, "_arguments.py": arguments, "_parallel.py": parallel, "_abi.py": abi}

INIT = '''"""Kernels written by symjac.emit (target "python"). Needs only NumPy.

``kernel`` has the call interface of the symjac object it was emitted from.
"""

from ._calls import load as _load

kernel = _load(__path__[0])

__all__ = ["kernel"]
'''


def metadata(art: Artefact, library: str, work: dict[str, int]) -> dict[str, Any]:
    """What :func:`symjac.runtime.calls.load` reads (``work``: each kernel's work buffer in
    values of the artefact's dtype).

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
        "format": calls.FORMAT,
        "name": art.name,
        "kind": art.kind,
        "dtype": art.dtype,
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
    ['__init__.py', '_abi.py', '_arguments.py', '_calls.py', '_parallel.py', 'metadata.json']
    >>> files["__init__.py"].splitlines()[0]
    '# jacobian of shape 1 x 2, 2 structural nonzeros'
    >>> json.loads(files["metadata.json"])["library"]
    'libjac.so'
    """
    header = "".join(f"# {comment_safe(line)}\n" for line in art.describe())
    return {
        "__init__.py": header + INIT,
        **{
            name: Path(module.__file__ or "").read_text(encoding="utf-8")
            for name, module in RUNTIME.items()
        },
        calls.METADATA: json.dumps(metadata(art, library, work), indent=1, sort_keys=True) + "\n",
    }
