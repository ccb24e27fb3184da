"""Generate docs/api.md, the API reference, from the docstrings of symjac's public API.

    python docs/gen_api.py            # rewrite docs/api.md
    python docs/gen_api.py --check    # exit 1 (and show a diff) if docs/api.md is stale

What is documented, in a fixed order:

* every name in ``symjac.__all__`` (grouped: building, compiled objects, sparsity,
  standalone code; a name added to ``__all__`` later lands in "Other" until it is grouped);
* the symjac classes public calls hand back (:data:`RETURNED`);
* the modules :mod:`symjac.dask` and :mod:`symjac.plotting` (when it is importable):
  their docstring and the functions and classes they define.

For a function: its signature (``inspect.signature``, type hints as written in the source)
and docstring. For a class: its constructor signature, docstring, the attributes its
``__init__`` documents with ``#:`` comments, and each public method and property (and
``__call__``) defined by the class itself or by a private base class; members it inherits
from another documented class are listed with a link. Docstring ``>>>`` examples become
```` ```pycon ```` blocks (pytest's ``--doctest-modules`` runs them), reST roles become code.
The output depends only on the source: no addresses, no dates, no environment.
"""

from __future__ import annotations

import argparse
import dataclasses
import difflib
import functools
import importlib
import inspect
import re
import sys
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

ROOT = Path(__file__).resolve().parent.parent
API_MD = ROOT / "docs" / "api.md"

#: sections for the names of ``symjac.__all__``, in this order
GROUPS: tuple[tuple[str, tuple[str, ...]], ...] = (
    ("Building", ("jacobian", "function", "function_and_jacobian", "hessian", "logdet")),
    (
        "Compiled objects",
        (
            "CompiledJacobian",
            "CompiledFunction",
            "CompiledFunctionAndJacobian",
            "CompiledHessian",
            "CompiledLogDet",
        ),
    ),
    ("Sparsity", ("SparsityPattern",)),
    ("Standalone code", ("emit",)),
)
#: classes that public calls return but that are not in ``symjac.__all__``
RETURNED = ("symjac.sparsity.coloring.Coloring", "symjac.sparsity.coloring.StarColoring", "symjac.stats.Stats")
#: modules documented as a whole; optional ones are skipped when they cannot be imported
MODULES: tuple[tuple[str, bool], ...] = (("symjac.dask", False), ("symjac.plotting", True))

_ADDRESS = re.compile(r" at 0x[0-9a-fA-F]+")
_ROLE = re.compile(r":(?:py:)?(?:func|class|meth|attr|mod|data|obj|exc|const):`(~?)([^`]+)`")
_DOUBLE = re.compile(r"``([^`]+)``")


class _Shown:
    """An annotation exactly as written in the source (``inspect`` would quote a string)."""

    def __init__(self, text: str):
        self.text = text

    def __repr__(self) -> str:
        return self.text


def _annotation(value: Any) -> Any:
    if value is inspect.Parameter.empty:
        return value
    if isinstance(value, str):
        return _Shown(value)
    return _Shown(inspect.formatannotation(value))


def signature(obj: Callable[..., Any], name: str, *, drop_self: bool = False) -> str:
    """``name(params) -> return``, one parameter per line when it gets long."""
    try:
        sig = inspect.signature(obj)
    except (TypeError, ValueError):
        return f"{name}(...)"
    params = list(sig.parameters.values())
    if drop_self and params and params[0].name in ("self", "cls"):
        params = params[1:]
    params = [p.replace(annotation=_annotation(p.annotation)) for p in params]
    ret = sig.return_annotation
    if inspect.isclass(obj):
        ret = inspect.Signature.empty  # a constructor: "-> None" says nothing
    sig = sig.replace(parameters=params, return_annotation=_annotation(ret))
    text = _ADDRESS.sub("", f"{name}{sig}")
    if len(text) <= 96:
        return text
    # one parameter per line: split the rendered signature at its top-level commas
    inner = _ADDRESS.sub("", str(sig))
    close = _matching_paren(inner)
    parts = _split_top_level(inner[1:close])
    tail = inner[close + 1 :]
    lines = [f"{name}("] + [f"    {part.strip()}," for part in parts] + [f"){tail}"]
    return "\n".join(lines)


def _matching_paren(text: str) -> int:
    depth = 0
    for i, ch in enumerate(text):
        if ch in "([{":
            depth += 1
        elif ch in ")]}":
            depth -= 1
            if depth == 0:
                return i
    raise ValueError(f"unbalanced signature: {text}")


def _split_top_level(text: str) -> list[str]:
    parts, depth, start, quote = [], 0, 0, ""
    for i, ch in enumerate(text):
        if quote:
            if ch == quote:
                quote = ""
        elif ch in "'\"":
            quote = ch
        elif ch in "([{":
            depth += 1
        elif ch in ")]}":
            depth -= 1
        elif ch == "," and depth == 0:
            parts.append(text[start:i])
            start = i + 1
    if text[start:].strip():
        parts.append(text[start:])
    return parts


def docstring(obj: Any) -> str:
    """The docstring as Markdown: doctests and literal blocks fenced, roles as code."""
    doc = inspect.getdoc(obj)
    if not doc:
        return "*(no docstring)*"
    out: list[str] = []
    lines = doc.splitlines()
    i = 0
    while i < len(lines):
        line = lines[i]
        if line.lstrip().startswith(">>>"):
            indent = len(line) - len(line.lstrip())
            block = []
            while i < len(lines) and lines[i].strip():
                block.append(lines[i][indent:] if lines[i][:indent].isspace() else lines[i])
                i += 1
            out += ["```pycon", *block, "```"]
            continue
        if line.rstrip().endswith("::") and i + 1 < len(lines):
            # reST literal block: the indented lines after "::" (and a blank line)
            text = line.rstrip()[:-1]
            out.append(_inline(text[:-1] if text.endswith(" :") else text))
            i += 1
            block = []
            while i < len(lines) and (not lines[i].strip() or lines[i].startswith(" ")):
                block.append(lines[i])
                i += 1
            while block and not block[-1].strip():
                block.pop()
            while block and not block[0].strip():
                block.pop(0)
            if block:
                width = min(len(b) - len(b.lstrip()) for b in block if b.strip())
                out += ["", "```", *(b[width:] for b in block), "```", ""]
            continue
        out.append(_inline(line))
        i += 1
    return _ADDRESS.sub("", "\n".join(out).strip())


def _inline(line: str) -> str:
    def role(match: re.Match[str]) -> str:
        target = match.group(2)
        if match.group(1):
            target = target.rsplit(".", 1)[-1]
        return f"`{target}`"

    line = _ROLE.sub(role, line)
    line = _DOUBLE.sub(r"`\1`", line)
    if line.startswith("#"):
        line = "\\" + line  # not a heading
    return line


def anchor(heading: str) -> str:
    """The anchor GitHub generates for a heading."""
    text = heading.strip().lower().replace("`", "")
    text = re.sub(r"[^\w\- ]", "", text)
    return text.replace(" ", "-")


def _is_symjac(cls: type) -> bool:
    module = getattr(cls, "__module__", "") or ""
    return module == "symjac" or module.startswith("symjac.")


def _member_kind(value: Any) -> str | None:
    if isinstance(value, (property, functools.cached_property)):
        return "property"
    if isinstance(value, staticmethod):
        return "staticmethod"
    if isinstance(value, classmethod):
        return "classmethod"
    if inspect.isfunction(value):
        return "method"
    return None


def _public(attr: str) -> bool:
    return not attr.startswith("_") or attr == "__call__"


def _members(cls: type) -> Iterator[tuple[str, type, Any, str]]:
    """``(name, defining class, value, kind)`` of the public members from symjac classes."""
    seen: set[str] = set()
    for klass in cls.__mro__:
        if not _is_symjac(klass):
            continue
        for attr, value in vars(klass).items():
            if attr in seen:
                continue
            seen.add(attr)
            kind = _member_kind(value)
            if kind is not None and _public(attr):
                yield attr, klass, value, kind


_ATTRIBUTE = re.compile(r"((?:^[ \t]*#:.*\n)+)[ \t]*self\.(\w+)\s*(?::[^=\n]+)?=", re.M)


def _documented_attributes(cls: type) -> list[tuple[str, str]]:
    """Instance attributes set in ``__init__`` under a ``#:`` comment, base classes first."""
    found: dict[str, str] = {}
    for klass in reversed(cls.__mro__):
        init = vars(klass).get("__init__")
        if init is None or not _is_symjac(klass) or not inspect.isfunction(init):
            continue
        try:
            source = inspect.getsource(init)
        except (OSError, TypeError):
            continue
        for comment, attr in _ATTRIBUTE.findall(source):
            if not attr.startswith("_"):
                text = " ".join(c.strip()[2:].strip() for c in comment.strip().splitlines())
                found[attr] = text
    return list(found.items())


class Writer:
    """Accumulates the Markdown of api.md."""

    def __init__(self) -> None:
        self.parts: list[str] = []
        self.toc: list[tuple[int, str]] = []
        #: documented classes → the anchor prefix of their members
        self.classes: dict[type, str] = {}

    def heading(self, level: int, text: str) -> None:
        self.parts.append(f"{'#' * level} {text}\n")
        if level <= 3:
            self.toc.append((level, text))

    def para(self, text: str) -> None:
        self.parts.append(text.rstrip() + "\n")

    def code(self, text: str) -> None:
        self.parts.append(f"```py\n{text}\n```\n")

    def function(self, obj: Any, name: str) -> None:
        self.heading(3, f"`{name}`")
        self.code(signature(obj, name))
        self.para(docstring(obj))

    def klass(self, cls: type, name: str) -> None:
        short = cls.__name__
        self.heading(3, f"`{name}`")
        bases = [b.__name__ for b in cls.__bases__ if b is not object]
        kind = "dataclass" if dataclasses.is_dataclass(cls) else "class"
        self.para(
            f"*{kind}*" + (f" — bases: {', '.join(f'`{b}`' for b in bases)}" if bases else "")
        )
        self.code(signature(cls, name))
        self.para(docstring(cls))
        attributes = _documented_attributes(cls)
        if attributes:
            self.para(
                "Attributes:\n\n" + "\n".join(f"* `{attr}` — {text}" for attr, text in attributes)
            )
        inherited: dict[type, list[str]] = {}
        for attr, owner, value, kind in _members(cls):
            documented = self._documented_ancestor(cls, owner, attr)
            if documented is not None:
                inherited.setdefault(documented, []).append(attr)
                continue
            self.heading(4, f"`{short}.{attr}`")
            if kind == "property":
                fget = value.func if isinstance(value, functools.cached_property) else value.fget
                ret = inspect.signature(fget).return_annotation
                shown = "" if ret is inspect.Signature.empty else f": {_annotation(ret)!r}"
                self.code(f"{short}.{attr}{shown}  # property")
                self.para(docstring(fget))
            else:
                func = value.__func__ if kind in ("staticmethod", "classmethod") else value
                prefix = "" if kind == "method" else f"@{kind}\n"
                self.code(
                    prefix + signature(func, f"{short}.{attr}", drop_self=kind != "staticmethod")
                )
                self.para(docstring(func))
        for base, attrs in inherited.items():
            links = ", ".join(
                f"[`{attr}`](#{anchor(f'{base.__name__}.{attr}')})" for attr in sorted(attrs)
            )
            self.para(f"Inherited from `{base.__name__}`: {links}.")
        self.classes[cls] = short

    def _documented_ancestor(self, cls: type, owner: type, attr: str) -> type | None:
        """The documented base class whose entry already shows ``attr``, if any."""
        if owner is cls:
            return None
        for base in cls.__mro__[1:]:
            if base in self.classes and hasattr(base, attr):
                return base
            if base is owner:
                break
        return None

    def entry(self, obj: Any, name: str) -> None:
        if inspect.isclass(obj):
            self.klass(obj, name)
        else:
            self.function(obj, name)

    def text(self) -> str:
        toc = ["## Contents\n"]
        for level, text in self.toc:
            if level == 1:
                continue
            indent = "  " * (level - 2)
            toc.append(f"{indent}* [{text}](#{anchor(text)})")
        header = [
            "# API reference",
            "",
            "<!-- Generated by docs/gen_api.py from the docstrings; do not edit by hand. "
            "Regenerate with `python docs/gen_api.py`. -->",
            "",
            "The public API of symjac: the names in `symjac.__all__`, the objects public calls "
            "return, and the modules `symjac.dask` and `symjac.plotting`. The user guide is "
            "[guide.md](guide.md). Signatures show the type hints as written in the source; "
            "the `>>>` examples are run by the test suite (`pytest --doctest-modules`).",
            "",
        ]
        body = "\n".join(self.parts)
        return "\n".join(header) + "\n" + "\n".join(toc) + "\n\n" + body.rstrip() + "\n"


def _resolve(dotted: str) -> Any:
    module, _, attr = dotted.rpartition(".")
    return getattr(importlib.import_module(module), attr)


def _module_members(module: Any) -> list[tuple[str, Any]]:
    """Public functions and classes a module defines, in source order."""
    names = getattr(module, "__all__", None)
    items = []
    for attr, value in vars(module).items():
        if names is not None and attr not in names:
            continue
        if attr.startswith("_") or not (inspect.isfunction(value) or inspect.isclass(value)):
            continue
        if getattr(value, "__module__", None) != module.__name__:
            continue  # imported, not defined here
        items.append((attr, value))
    return items


def render() -> str:
    """The text of docs/api.md for the code as it is now."""
    import symjac

    w = Writer()
    exported = list(symjac.__all__)
    placed: set[str] = set()
    for title, names in GROUPS:
        present = [n for n in names if n in exported]
        if not present:
            continue
        w.heading(2, title)
        for n in present:
            w.entry(getattr(symjac, n), f"symjac.{n}")
            placed.add(n)
    rest = sorted(n for n in exported if n not in placed)
    if rest:
        w.heading(2, "Other")
        for n in rest:
            w.entry(getattr(symjac, n), f"symjac.{n}")
    w.heading(2, "Returned objects")
    w.para("Classes that public calls return, not exported from `symjac` itself.")
    for dotted in RETURNED:
        w.entry(_resolve(dotted), dotted)
    for module_name, optional in MODULES:
        try:
            module = importlib.import_module(module_name)
        except ModuleNotFoundError as exc:
            if optional and exc.name == module_name:
                continue
            raise
        w.heading(2, f"`{module_name}`")
        w.para(docstring(module))
        for attr, value in _module_members(module):
            w.entry(value, f"{module_name}.{attr}")
    return w.text()


def check(path: Path = API_MD) -> list[str]:
    """A unified diff from ``path`` to what :func:`render` produces; empty when current."""
    current = path.read_text(encoding="utf-8") if path.exists() else ""
    wanted = render()
    if current == wanted:
        return []
    return list(
        difflib.unified_diff(
            current.splitlines(),
            wanted.splitlines(),
            fromfile=f"{path.name} (on disk)",
            tofile=f"{path.name} (from the docstrings)",
            lineterm="",
        )
    ) or ["(the files differ only in line endings or a final newline)"]


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--check", action="store_true", help="exit 1 if docs/api.md is stale")
    args = parser.parse_args(argv)
    if args.check:
        diff = check()
        if diff:
            print(
                f"{API_MD.relative_to(ROOT)} is stale; run: python docs/gen_api.py", file=sys.stderr
            )
            print("\n".join(diff[:200]), file=sys.stderr)
            if len(diff) > 200:
                print(f"... ({len(diff) - 200} more diff lines)", file=sys.stderr)
            return 1
        print(f"{API_MD.relative_to(ROOT)} is current")
        return 0
    API_MD.write_text(render(), encoding="utf-8", newline="\n")
    print(f"wrote {API_MD.relative_to(ROOT)}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
