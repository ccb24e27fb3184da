"""The documentation is true: docs/api.md is current, and every Python block in it runs.

* ``docs/api.md`` must equal what ``docs/gen_api.py`` generates from the docstrings now
  (``python docs/gen_api.py`` regenerates it).
* Every fenced block whose info string is exactly ``python`` in ``README.md`` and
  ``docs/*.md`` is a test case of its own, ``FILE:LINE``. The blocks of one file run in order
  in one shared namespace, in a temporary working directory of that file's own (files they
  write go there), with the compile cache in a temporary directory. Tracebacks point at the
  Markdown file's lines. Running a single case first runs the earlier blocks of its file.
* A block is skipped when the last non-blank line before its opening fence is the marker
  :data:`NOT_RUN`, ``<!-- not run -->``: use it only for blocks that cannot run (they need a
  particular compiler or path, or show a fragment with placeholders). Other fences (``sh``,
  ``c``, ``pycon``, ...) never run; ``docs/api.md`` is generated, and its ``pycon`` examples
  are the docstrings' doctests, which ``pytest --doctest-modules`` runs.
* Relative links between the Markdown files resolve (files, and anchors to headings).
"""

from __future__ import annotations

import functools
import importlib.util
import os
import re
import sys
import traceback
from dataclasses import dataclass, field
from pathlib import Path
from types import ModuleType
from typing import Any

import pytest

ROOT = Path(__file__).resolve().parent.parent
NOT_RUN = "<!-- not run -->"
DOC_FILES = [ROOT / "README.md", *sorted((ROOT / "docs").glob("*.md"))]
_FENCE = re.compile(r"^(`{3,}|~{3,})\s*([\w+-]*)")


@dataclass(frozen=True)
class Block:
    """One fenced ``python`` block: where it is, its source, whether it is marked not run."""

    path: Path
    line: int  # 1-based line of the first line of code
    index: int  # position among the file's python blocks
    source: str
    skipped: bool

    @property
    def id(self) -> str:
        return f"{self.path.relative_to(ROOT).as_posix()}:{self.line}"


def python_blocks(path: Path) -> list[Block]:
    """The ``python`` blocks of a Markdown file, in order."""
    lines = path.read_text(encoding="utf-8").splitlines()
    blocks: list[Block] = []
    i = 0
    while i < len(lines):
        match = _FENCE.match(lines[i])
        if not match:
            i += 1
            continue
        fence, info = match.group(1), match.group(2)
        end = i + 1
        while end < len(lines) and not lines[end].startswith(fence[0] * len(fence)):
            end += 1
        if info == "python":
            previous = next((s.strip() for s in reversed(lines[:i]) if s.strip()), "")
            skipped = previous == NOT_RUN
            source = "\n".join(lines[i + 1 : end])
            blocks.append(Block(path, i + 2, len(blocks), source, skipped))
        i = end + 1
    return blocks


ALL_BLOCKS = [b for path in DOC_FILES for b in python_blocks(path)]


def _cases() -> list[Any]:
    cases = []
    for block in ALL_BLOCKS:
        marks = [pytest.mark.skip(reason=f"marked {NOT_RUN}")] if block.skipped else []
        cases.append(pytest.param(block, id=block.id, marks=marks))
    return cases


@dataclass
class _FileRun:
    """What the blocks of one file share: namespace, directory, imports, failures."""

    directory: Path
    namespace: dict[str, Any] = field(default_factory=lambda: {"__name__": "__docs__"})
    sys_path: list[str] = field(default_factory=lambda: sys.path[:])
    modules: dict[str, ModuleType] = field(default_factory=dict)
    ran: set[int] = field(default_factory=set)
    failed: list[str] = field(default_factory=list)


_RUNS: dict[Path, _FileRun] = {}


def _inside(module: ModuleType, directory: Path) -> bool:
    file = getattr(module, "__file__", None)
    if not file:
        return False
    return Path(file).resolve().is_relative_to(directory.resolve())


def _execute(block: Block, run: _FileRun) -> None:
    """Run one block in its file's namespace; imports from its directory stay with the file."""
    code = compile("\n" * (block.line - 1) + block.source, str(block.path), "exec")
    saved_path, saved_modules = sys.path[:], set(sys.modules)
    saved_environ = dict(os.environ)
    sys.path[:] = run.sys_path
    sys.modules.update(run.modules)
    failure = None
    try:
        exec(code, run.namespace)
    except Exception as exc:
        run.failed.append(block.id)
        # the block's own frames (and what they called), not the whole file up to the error
        tb = exc.__traceback__.tb_next if exc.__traceback__ else None
        failure = "".join(traceback.format_exception(type(exc), exc, tb))
    finally:
        run.ran.add(block.index)
        run.sys_path = sys.path[:]
        for name, module in list(sys.modules.items()):
            if name not in saved_modules and _inside(module, run.directory):
                run.modules[name] = module
        for name in run.modules:
            sys.modules.pop(name, None)
        sys.path[:] = saved_path
        if dict(os.environ) != saved_environ:
            os.environ.clear()
            os.environ.update(saved_environ)
    if failure is not None:
        pytest.fail(f"{block.id} failed:\n{failure}", pytrace=False)


@pytest.mark.parametrize("block", _cases())
def test_block_runs(
    block: Block, tmp_path_factory: pytest.TempPathFactory, monkeypatch: pytest.MonkeyPatch
) -> None:
    run = _RUNS.get(block.path)
    if run is None:
        run = _RUNS[block.path] = _FileRun(tmp_path_factory.mktemp(block.path.stem))
    monkeypatch.chdir(run.directory)
    cache = os.environ.get("SYMJAC_CACHE_DIR") or str(tmp_path_factory.mktemp("cache"))
    monkeypatch.setenv("SYMJAC_CACHE_DIR", cache)  # conftest.py points it at a temporary dir
    for earlier in python_blocks(block.path)[: block.index]:
        if not earlier.skipped and earlier.index not in run.ran:
            _execute(earlier, run)  # this case was selected alone: set up its namespace
    if run.failed:
        print(f"note: earlier blocks of this file failed: {', '.join(run.failed)}")
    _execute(block, run)


def test_documentation_has_python_blocks() -> None:
    ids = [b.id for b in ALL_BLOCKS]
    assert any(i.startswith("README.md:") for i in ids)
    assert any(i.startswith("docs/guide.md:") for i in ids)


@functools.lru_cache(maxsize=1)
def _generator() -> ModuleType:
    spec = importlib.util.spec_from_file_location("gen_api", ROOT / "docs" / "gen_api.py")
    assert spec is not None and spec.loader is not None
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


def test_api_reference_is_current() -> None:
    diff = _generator().check()
    assert not diff, "docs/api.md is stale; run: python docs/gen_api.py\n" + "\n".join(diff[:80])


_LINK = re.compile(r"\[[^\]]*\]\(([^)\s]+)\)")


@functools.cache
def _anchors(path: Path) -> set[str]:
    gen = _generator()
    text = re.sub(r"^```.*?^```", "", path.read_text(encoding="utf-8"), flags=re.M | re.S)
    return {gen.anchor(m.group(1)) for m in re.finditer(r"^#+\s+(.*)$", text, re.M)}


@pytest.mark.parametrize("path", DOC_FILES, ids=lambda p: p.relative_to(ROOT).as_posix())
def test_relative_links_resolve(path: Path) -> None:
    text = re.sub(r"^```.*?^```", "", path.read_text(encoding="utf-8"), flags=re.M | re.S)
    broken = []
    for target in _LINK.findall(text):
        if re.match(r"[a-z]+:", target):
            continue  # http:, https:, mailto:
        file, _, fragment = target.partition("#")
        linked = (path.parent / file).resolve() if file else path
        if not linked.exists():
            broken.append(target)
        elif fragment and linked.suffix == ".md" and fragment not in _anchors(linked):
            broken.append(target)
    assert not broken, f"broken links in {path.name}: {broken}"
