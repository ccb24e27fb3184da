"""The ``symjac`` command line: compile a model file to standalone code, or inspect it.

A model file is Python that defines ``exprs`` and ``wrt`` (and optionally
``params``), or a function ``model()`` returning ``(exprs, wrt)`` or
``(exprs, wrt, params)``. **Loading it runs it**: only use model files you trust.

    symjac compile MODEL.py --target c -o build/      # also python, shared, llvm, object
    symjac inspect MODEL.py [--ir | --asm]

Errors are one line on stderr and exit status 1 (2 for bad usage); ``--debug``
shows the traceback.
"""

from __future__ import annotations

import argparse
import keyword
import os
import re
import runpy
import sys
import traceback
from collections.abc import Sequence
from pathlib import Path
from typing import Any

from symjac.ir.dtypes import DTYPES

KINDS = ("jacobian", "function", "function_and_jacobian")


class UsageError(Exception):
    """A problem with what the user asked for: reported as one line, no traceback.

    >>> load_model("no-such-model.py")
    Traceback (most recent call last):
    ...
    symjac.cli.UsageError: no such model file: no-such-model.py
    """


def load_model(path: str | Path) -> tuple[Any, Any, Any]:
    """``(exprs, wrt, params)`` from a model file (which is executed).

    >>> import tempfile, os
    >>> with tempfile.NamedTemporaryFile("w", suffix=".py", delete=False) as f:
    ...     _ = f.write("import sympy as sp\\nx = sp.Symbol('x')\\nexprs = [x**2]\\nwrt = [x]\\n")
    >>> exprs, wrt, params = load_model(f.name); os.unlink(f.name)
    >>> exprs, wrt, params
    ([x**2], [x], None)
    """
    path = Path(path)
    if not path.is_file():
        raise UsageError(f"no such model file: {path}")
    namespace = runpy.run_path(str(path), run_name="__symjac_model__")
    if callable(namespace.get("model")):
        result = namespace["model"]()
        if not isinstance(result, tuple) or len(result) not in (2, 3):
            raise UsageError(f"{path}: model() must return (exprs, wrt) or (exprs, wrt, params)")
        exprs, wrt, params = (*result, None) if len(result) == 2 else result
        return exprs, wrt, params
    missing = [name for name in ("exprs", "wrt") if name not in namespace]
    if missing:
        raise UsageError(f"{path} defines neither model() nor {' and '.join(missing)}")
    return namespace["exprs"], namespace["wrt"], namespace.get("params")


def default_name(path: str | Path) -> str:
    """A C identifier from a file name.

    >>> default_name("models/2d-heat.py"), default_name("robot_arm.py")
    ('m_2d_heat', 'robot_arm')
    """
    name = re.sub(r"\W", "_", Path(path).stem.lower())
    if not name or name[0].isdigit() or name[0] == "_" or keyword.iskeyword(name):
        name = f"m_{name.lstrip('_')}"
    return name[:63]


def _compile(path: str, kind: str, simplify: str, quiet: bool, dtype: str) -> Any:
    import symjac

    exprs, wrt, params = load_model(path)
    progress = False if quiet else None  # None: only long compiles on a terminal
    build = getattr(symjac, kind)
    options = {"simplify": simplify, "progress": progress, "dtype": dtype}
    if kind == "function":
        return build(exprs, wrt, params, **options)
    return build(exprs, wrt, params, **options, sparse=False)


def _cmd_compile(args: argparse.Namespace) -> int:
    import symjac

    compiled = _compile(args.model, args.kind, args.simplify, args.quiet, args.dtype)
    name = args.name or default_name(args.model)
    paths = symjac.emit(compiled, args.output, name, target=args.target)
    if not args.quiet:
        for p in paths:
            print(p)
    return 0


def _cmd_inspect(args: argparse.Namespace) -> int:
    compiled = _compile(args.model, args.kind, args.simplify, args.quiet, args.dtype)
    out = sys.stdout
    print(repr(compiled), file=out)
    pattern = getattr(compiled, "pattern", None)
    if pattern is not None:
        m, n = pattern.shape
        print(f"shape {m} x {n}, nnz {pattern.nnz}, density {pattern.density:.4g}", file=out)
        coloring = pattern.coloring()
        print(f"column coloring: {coloring.n_colors} colors for {n} columns", file=out)
        print("sparsity pattern:", file=out)
        print(pattern.spy(), file=out)
    else:
        print(f"outputs {compiled.shape[0]}, inputs {compiled.n_vars}", file=out)
    print(f"stats: {compiled.stats}", file=out)
    print(f"op counts: {compiled.stats.op_counts}", file=out)
    if args.ir:
        print(compiled.llvm_ir(), file=out)
    if args.asm:
        print(compiled.assembly(), file=out)
    return 0


def _cmd_cache(args: argparse.Namespace) -> int:
    from symjac.codegen.cache import ObjectCache

    cache = ObjectCache()
    if args.action == "clear":
        print(f"removed {cache.clear()} files from {cache.directory}")
    else:
        info = cache.info()
        print(
            f"{info['directory']}: {info['entries']} object-code entries, {info['bytes']} bytes; "
            f"{info['warm_entries']} warm-start entries, {info['warm_bytes']} bytes"
        )
    return 0


def parser() -> argparse.ArgumentParser:
    """The argument parser of ``symjac``.

    >>> args = parser().parse_args(["compile", "model.py", "-o", "out", "--target", "c"])
    >>> args.command, args.model, args.output, args.kind, args.simplify
    ('compile', 'model.py', 'out', 'jacobian', 'auto')
    >>> parser().parse_args(["cache", "info"]).action
    'info'
    """
    from symjac.standalone import TARGETS

    top = argparse.ArgumentParser(prog="symjac", description=__doc__.splitlines()[0])
    top.add_argument("--debug", action="store_true", help="show tracebacks on errors")
    sub = top.add_subparsers(dest="command", required=True)

    def common(p: argparse.ArgumentParser) -> None:
        p.add_argument("model", help="Python file defining exprs, wrt[, params] or model()")
        p.add_argument("--kind", choices=KINDS, default="jacobian")
        p.add_argument("--simplify", choices=("auto", "none", "cheap", "full"), default="auto")
        p.add_argument("--quiet", action="store_true", help="no progress or file list")
        p.add_argument(
            "--dtype",
            choices=tuple(DTYPES),
            default="float64",
            help="what the kernels compute in (complex128: holomorphic functions only)",
        )

    c = sub.add_parser("compile", help="write the compiled kernels as standalone code")
    common(c)
    c.add_argument("--target", choices=TARGETS, default="c")
    c.add_argument("-o", "--output", required=True, help="output directory")
    c.add_argument("--name", help="symbol prefix (default: from the model file name)")
    c.set_defaults(run=_cmd_compile)
    i = sub.add_parser("inspect", help="shape, sparsity, coloring, stats, IR or assembly")
    common(i)
    i.add_argument("--ir", action="store_true", help="print the optimised LLVM IR")
    i.add_argument("--asm", action="store_true", help="print the host assembly")
    i.set_defaults(run=_cmd_inspect)
    k = sub.add_parser("cache", help="the on-disk compile cache ($SYMJAC_CACHE_DIR)")
    k.add_argument("action", choices=("info", "clear"))
    k.set_defaults(run=_cmd_cache)
    return top


def main(argv: Sequence[str] | None = None) -> int:
    """Run the command line; returns the exit status.

    >>> main(["inspect", "no-such-model.py"])
    1
    """
    args = parser().parse_args(argv)
    try:
        return int(args.run(args))
    except BrokenPipeError:  # `symjac inspect m.py --ir | head`: the reader left, stop quietly
        os.dup2(os.open(os.devnull, os.O_WRONLY), sys.stdout.fileno())  # no error at exit flush
        return 1
    except Exception as exc:  # one clear line, not a traceback, unless --debug
        if args.debug:
            traceback.print_exc()
        else:
            print(f"symjac: error: {exc}", file=sys.stderr)
        return 1


if __name__ == "__main__":  # pragma: no cover
    sys.exit(main())
