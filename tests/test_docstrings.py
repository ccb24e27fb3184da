"""Every public function, class, method and property has an example that runs as a doctest.

The public API, as enumerated here:

* every name in ``symjac.__all__``;
* the public functions of :mod:`symjac.dask`;
* the public names of :mod:`symjac.plotting`, when that module exists;
* the symjac classes that public calls hand back (:data:`RETURNED`: the colorings from
  ``pattern.coloring()`` / ``pattern.star_coloring()``, ``jac.stats``, ``symjac.logdet(...)``);
* the runtime of packages written by ``symjac.emit(..., target="python")``
  (:data:`MODULES`: every public function and class of :mod:`symjac.runtime.calls`,
  which is what ``import NAME; NAME.kernel`` is);
* other user-facing objects outside ``symjac.__all__`` (:data:`OTHERS`: the object cache
  behind ``symjac cache info|clear``, the coloring functions, ``sparsity.blocks.blocks``) and
  single members users are pointed at (:data:`MEMBERS`: ``jac._kernels.jit.assembly()``);
* every public function and class defined in every module of the packages in
  :data:`WALKED_PACKAGES` (modules found by ``pkgutil``; names starting with ``_`` and the
  subpackages in :data:`WALK_SKIPPED` are left out), internal modules included;
* for each class among them, every public method and property it gets from a class defined
  in symjac — its own or inherited (so ``CompiledHessian.wrt``, defined on the shared base
  class, counts), never what comes from ``object`` or other libraries.

"Has an example" means two things: the docstring has a ``>>>`` line, and doctest's finder —
the one ``pytest --doctest-modules`` uses, run over the defining module — collects a test
with examples under the object's name. So a ``>>>`` the suite would never run does not count.
"""

from __future__ import annotations

import doctest
import functools
import importlib
import importlib.util
import inspect
import pkgutil
import sys
import types
from collections.abc import Iterable, Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import symjac

#: symjac classes returned by public calls; test_returned_classes_are_what_calls_return
#: checks that the calls do return them
RETURNED = (
    "symjac.sparsity.coloring.Coloring",
    "symjac.sparsity.coloring.StarColoring",
    "symjac.stats.Stats",
    "symjac.determinant.CompiledLogDet",
)
#: modules whose public functions and classes (``__all__``, or what they define) all count
MODULES = ("symjac.runtime.calls",)
#: further functions and classes (a class with its public members)
OTHERS = (
    "symjac.codegen.cache.ObjectCache",
    "symjac.sparsity.coloring.color_columns",
    "symjac.sparsity.coloring.star_color",
    "symjac.sparsity.blocks.blocks",
)
#: single methods and properties of classes that are not public as a whole
MEMBERS = (
    "symjac.codegen.llvm.jit.JitModule.optimised_ir",
    "symjac.codegen.llvm.jit.JitModule.assembly",
)

#: packages whose every module is walked: each public function and class a module defines
#: (``obj.__module__`` is the module) counts, with its public methods and properties
WALKED_PACKAGES = ("symjac", "symjac.codegen")  # codegen/ is not inside symjac/ on disk
#: subpackages not walked (none: symjac.codegen is walked too)
WALK_SKIPPED: tuple[str, ...] = ()


@dataclass(frozen=True)
class Item:
    """One public object: the name users reach it by, and where doctest collects it."""

    name: str  # e.g. symjac.CompiledHessian.jvp
    doctest_name: str  # e.g. symjac.compiled.CompiledJacobian.jvp
    module: str  # the module that defines it
    doc: str | None


def _resolve(dotted: str) -> Any:
    module, _, attr = dotted.rpartition(".")
    return getattr(importlib.import_module(module), attr)


def _is_symjac(module: str | None) -> bool:
    return module is not None and (module == "symjac" or module.startswith("symjac."))


def _members(cls: type, public: str) -> Iterator[Item]:
    """Public methods and properties of ``cls`` defined by symjac classes in its MRO."""
    seen: set[str] = set()
    for klass in cls.__mro__:
        for attr, value in vars(klass).items():
            if attr in seen:
                continue  # overridden by a class earlier in the MRO
            seen.add(attr)
            if attr.startswith("_") or not _is_symjac(klass.__module__):
                continue
            if isinstance(value, (staticmethod, classmethod)):
                value = value.__func__
            if not (
                inspect.isfunction(value)
                or isinstance(value, (property, functools.cached_property))
            ):
                continue  # data (dataclass defaults, constants), not a method or property
            yield Item(
                f"{public}.{attr}",
                f"{klass.__module__}.{klass.__qualname__}.{attr}",
                klass.__module__,
                value.__doc__,
            )


def _member(dotted: str) -> Item:
    """The item for ``module.Class.attr``, a method or property of a symjac class."""
    owner = dotted.rpartition(".")[0]
    cls = _resolve(owner)
    (item,) = (item for item in _members(cls, owner) if item.name == dotted)
    return item


def _items(named: Iterable[tuple[str, Any]]) -> Iterator[Item]:
    """Items for functions and classes (with their members), under the given public names."""
    for public, obj in named:
        if not (inspect.isfunction(obj) or inspect.isclass(obj)):
            continue  # constants and re-exported modules carry no docstring of their own
        yield Item(public, f"{obj.__module__}.{obj.__qualname__}", obj.__module__, obj.__doc__)
        if inspect.isclass(obj):
            yield from _members(obj, public)


def _module_public(module: types.ModuleType) -> Iterator[tuple[str, Any]]:
    """``__all__``, or else the public functions and classes the module itself defines."""
    names = getattr(module, "__all__", None)
    if names is None:
        names = [
            n
            for n, v in vars(module).items()
            if not n.startswith("_")
            and (inspect.isfunction(v) or inspect.isclass(v))
            and v.__module__ == module.__name__
        ]
    for n in names:
        yield f"{module.__name__}.{n}", getattr(module, n)


def walked_modules() -> list[str]:
    """Every public module of :data:`WALKED_PACKAGES`, minus :data:`WALK_SKIPPED`."""
    names: set[str] = set()
    for package_name in WALKED_PACKAGES:
        package = importlib.import_module(package_name)
        names.add(package_name)
        for info in pkgutil.walk_packages(package.__path__, f"{package_name}."):
            parts = info.name.split(".")
            if any(part.startswith("_") for part in parts):
                continue
            if any(info.name == s or info.name.startswith(f"{s}.") for s in WALK_SKIPPED):
                continue
            names.add(info.name)
    return sorted(names)


def _defined_in(module: types.ModuleType) -> Iterator[tuple[str, Any]]:
    """The public functions and classes ``module`` itself defines (``__all__`` aside)."""
    for n, v in vars(module).items():
        if (
            not n.startswith("_")
            and (inspect.isfunction(v) or inspect.isclass(v))
            and v.__module__ == module.__name__
        ):
            yield f"{module.__name__}.{n}", v


def public_items() -> list[Item]:
    """The whole public API (see the module docstring), each object once, in a stable order."""
    import symjac.dask

    named: list[tuple[str, Any]] = [(f"symjac.{n}", getattr(symjac, n)) for n in symjac.__all__]
    named += _module_public(symjac.dask)
    if importlib.util.find_spec("symjac.plotting") is not None:
        named += _module_public(importlib.import_module("symjac.plotting"))
    named += [(dotted, _resolve(dotted)) for dotted in RETURNED]
    for module in MODULES:
        named += _module_public(importlib.import_module(module))
    named += [(dotted, _resolve(dotted)) for dotted in OTHERS]
    for module in walked_modules():
        named += _defined_in(importlib.import_module(module))
    # an object reached under two public names (CompiledLogDet) is listed under the first
    first: dict[int, tuple[str, Any]] = {}
    for public, obj in named:
        first.setdefault(id(obj), (public, obj))
    items = [*_items(first.values()), *(_member(dotted) for dotted in MEMBERS)]
    return sorted(items, key=lambda item: item.name)


class _Finder(doctest.DocTestFinder):
    """doctest's finder as ``pytest --doctest-modules`` runs it on Python < 3.13.

    pytest overrides ``_from_module`` so ``functools.cached_property`` members are
    collected (cpython issue 107995); without that their examples would never run.
    """

    def _from_module(self, module: Any, object: Any) -> bool:
        if isinstance(object, functools.cached_property):
            object = object.func
        return super()._from_module(module, object)  # type: ignore[misc]


def collected(modules: Iterable[str]) -> dict[str, int]:
    """Doctest name → examples that run (not ``+SKIP``), for every doctest in ``modules``."""
    finder = _Finder()
    found: dict[str, int] = {}
    for name in sorted(set(modules)):
        module = importlib.import_module(name)
        for test in finder.find(module, module.__name__):
            if test.examples:  # pytest collects exactly these
                found[test.name] = sum(not e.options.get(doctest.SKIP) for e in test.examples)
    return found


def problems(items: Iterable[Item]) -> list[str]:
    """One line per item without a runnable example, saying what is missing."""
    items = list(items)
    found = collected(item.module for item in items)
    out = []
    for item in items:
        if not item.doc or not item.doc.strip():
            out.append(f"{item.name}: no docstring")
        elif not any(line.lstrip().startswith(">>>") for line in item.doc.splitlines()):
            out.append(f"{item.name}: docstring has no >>> example")
        elif item.doctest_name not in found:
            out.append(
                f"{item.name}: has >>> but doctest collects no example as {item.doctest_name}"
            )
        elif not found[item.doctest_name]:
            out.append(f"{item.name}: every example is marked +SKIP")
    return out


def test_every_public_item_has_a_doctest_example():
    items = public_items()
    missing = problems(items)
    assert not missing, (
        f"{len(missing)} of {len(items)} public items lack a runnable docstring example:\n  "
        + "\n  ".join(missing)
    )


def test_the_suite_collects_doctests_from_every_defining_module(pytestconfig):
    # the examples above run only because pytest collects doctests from these files
    assert "--doctest-modules" in pytestconfig.getini("addopts")
    roots = [(pytestconfig.rootpath / p).resolve() for p in pytestconfig.getini("testpaths")]
    for module in sorted({item.module for item in public_items()}):
        path = Path(inspect.getfile(importlib.import_module(module))).resolve()
        assert any(path.is_relative_to(root) for root in roots), (module, path, roots)


def test_enumeration_covers_inherited_members_and_returned_classes():
    names = {item.name for item in public_items()}
    expected = {
        "symjac.jacobian",
        "symjac.dask.values",
        "symjac.CompiledJacobian.jvp",
        "symjac.CompiledHessian.jvp",  # inherited from CompiledJacobian
        "symjac.CompiledHessian.wrt",  # inherited from the shared runtime base class
        "symjac.CompiledHessian.full_pattern",  # a cached_property
        "symjac.SparsityPattern.csc_order",
        "symjac.sparsity.coloring.Coloring.decompress",
        "symjac.sparsity.coloring.StarColoring.seed",
        "symjac.stats.Stats.total",
        "symjac.runtime.calls.load",  # the emitted package's runtime
        "symjac.runtime.calls.Jacobian.values",
        "symjac.runtime.calls.FunctionAndJacobian.nnz",  # inherited from Jacobian
        "symjac.runtime.calls.Pattern.to_dense",
        "symjac.codegen.cache.ObjectCache.clear",
        "symjac.codegen.llvm.jit.JitModule.assembly",
        "symjac.sparsity.coloring.star_color",
        "symjac.sparsity.blocks.blocks",
        "symjac.ir.graph.Graph.add",  # walked: an internal module of symjac
        "symjac.ir.tape.Tape",
        "symjac.stats.Timer.stage",
    }
    assert expected <= names, sorted(expected - names)
    assert not any(n.rpartition(".")[2].startswith("_") for n in names)
    assert not any(n.endswith((".mro", ".copy", ".count")) for n in names)


def test_walk_covers_every_public_module_of_the_package():
    modules = walked_modules()
    assert {"symjac", "symjac.ir.graph", "symjac.cli", "symjac.driver"} <= set(modules)
    assert {
        "symjac.codegen.llvm.lower",
        "symjac.codegen.llvm.emitter",
        "symjac.codegen.llvm.jit",
    } <= set(modules)
    assert not any(part.startswith("_") for m in modules for part in m.split("."))


def test_returned_classes_are_what_calls_return():
    import sympy as sp

    pattern = symjac.SparsityPattern((2, 2), [(0, 0), (1, 0), (1, 1)])
    x, y = sp.symbols("x y")
    ld = symjac.logdet([sp.exp(x), x * y], [x, y])
    returned = {
        type(pattern.coloring()),
        type(pattern.star_coloring()),
        type(ld.jacobian.stats),
        type(ld),
    }
    assert {f"{c.__module__}.{c.__qualname__}" for c in returned} == set(RETURNED)


def _fake_module() -> types.ModuleType:
    """Functions and members with and without examples, one ``>>>`` doctest never collects."""
    source = '''
import functools

def good():
    """Returns one.

    >>> good()
    1
    """
    return 1

def bare():
    """No example."""

def skipped():
    """Never run.

    >>> skipped()  # doctest: +SKIP
    """

class Thing:
    """A thing.

    >>> Thing().value
    2
    """

    @property
    def value(self):
        return 2

    @functools.cached_property
    def cached(self):
        """Cached.

        >>> Thing().cached
        3
        """
        return 3

    def method(self):
        pass

    hidden = functools.partial(print)
    hidden.__doc__ = """>>> 1 + 1
2
"""
'''
    module = types.ModuleType("symjac_fake_docstring_module")
    exec(compile(source, "<fake>", "exec"), module.__dict__)
    return module


def test_the_check_can_fail(monkeypatch):
    module = _fake_module()
    monkeypatch.setitem(sys.modules, module.__name__, module)
    items = [
        Item(f"fake.{n}", f"{module.__name__}.{n}", module.__name__, getattr(module, n).__doc__)
        for n in ("good", "bare", "skipped", "Thing")
    ]
    for attr in ("value", "cached", "method", "hidden"):  # hidden: a partial, not a routine
        doc = vars(module.Thing)[attr].__doc__
        items.append(
            Item(f"fake.Thing.{attr}", f"{module.__name__}.Thing.{attr}", module.__name__, doc)
        )
    assert problems(items) == [
        "fake.bare: docstring has no >>> example",
        "fake.skipped: every example is marked +SKIP",
        "fake.Thing.value: no docstring",
        "fake.Thing.method: no docstring",
        f"fake.Thing.hidden: has >>> but doctest collects no example as {module.__name__}"
        ".Thing.hidden",
    ]
