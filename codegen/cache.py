"""An on-disk cache of compiled object code, so a second process does not compile again.

An entry is two files named by its key: ``KEY.o`` (the object code MCJIT produced)
and ``KEY.json`` (metadata: the format, the key, the size and sha256 of the
object code). The key is a sha256 of the LLVM IR and of everything else that
changes the machine code (see :func:`key`). The warm-start cache of whole
compilations (:mod:`symjac.warmstart`) keeps its records in the same directory, under
the same rules, as ``KEY.warm``: one file, its metadata on the first line (see
:meth:`ObjectCache.store` for why). No pickle: object code is loaded
only after its size and sha256 match the metadata; anything truncated, empty,
foreign or corrupted is a miss, reported with a warning, and overwritten.
Files are written under a temporary name and renamed into place, so a reader
sees a whole entry or none, and processes racing on one key all succeed.

The directory is ``$SYMJAC_CACHE_DIR``, else ``$XDG_CACHE_HOME/symjac``, else
``~/.cache/symjac``. If it cannot be created or written, compilation goes on in
memory with one warning.
"""

from __future__ import annotations

import hashlib
import json
import os
import tempfile
import warnings
from pathlib import Path
from typing import Any

FORMAT = "symjac-object-cache-1"
#: the kinds of entry: object code, and whole compilations (symjac.warmstart)
SUFFIXES = (".o", ".warm")
_warned: set[str] = set()


def default_directory() -> Path:
    """Where the cache lives unless told otherwise.

    >>> default_directory().name in ("symjac",) or "SYMJAC_CACHE_DIR" in os.environ
    True
    """
    explicit = os.environ.get("SYMJAC_CACHE_DIR")
    if explicit:
        return Path(explicit)
    base = os.environ.get("XDG_CACHE_HOME") or os.path.join(os.path.expanduser("~"), ".cache")
    return Path(base) / "symjac"


def key(ir_text: str, context: dict[str, Any]) -> str:
    """The entry name: sha256 of the IR and the build context (options, versions, host).

    >>> key("x", {"a": 1}) == key("x", {"a": 1}) != key("x", {"a": 2})
    True
    """
    h = hashlib.sha256()
    h.update(json.dumps(context, sort_keys=True).encode())
    h.update(b"\0")
    h.update(ir_text.encode())
    return h.hexdigest()


class ObjectCache:
    """Object code by key in one directory; every failure degrades to "not cached".

    >>> import tempfile
    >>> c = ObjectCache(tempfile.mkdtemp())
    >>> c.load("ab" * 32) is None
    True
    >>> c.store("ab" * 32, b"object code"); c.load("ab" * 32)
    b'object code'
    """

    def __init__(self, directory: str | os.PathLike[str] | None = None, version: str = ""):
        self.directory = Path(directory) if directory is not None else default_directory()
        #: the version of the code that makes the entries, part of every key (given by the
        #: caller: symjac's own version; the back end does not import the package above it)
        self.version = version

    def _paths(self, name: str, suffix: str) -> tuple[Path, Path | None]:
        """The data file and the metadata file (None: the metadata heads the data file)."""
        if suffix not in SUFFIXES:
            raise ValueError(f"suffix must be one of {SUFFIXES}, not {suffix!r}")
        if suffix == ".o":
            return self.directory / f"{name}.o", self.directory / f"{name}.json"
        return self.directory / f"{name}{suffix}", None

    def load(self, name: str, suffix: str = ".o") -> bytes | None:
        """The object code (or, ``suffix=".warm"``, the record) stored under ``name``, or None.

        A damaged or foreign entry is a miss too, with a warning (and is overwritten by
        the next :meth:`store`).

        >>> import tempfile, warnings
        >>> c = ObjectCache(tempfile.mkdtemp())
        >>> c.load("cd" * 32) is None   # never stored
        True
        >>> c.store("cd" * 32, b"object code")
        >>> c.load("cd" * 32)
        b'object code'
        >>> _ = (c.directory / ("cd" * 32 + ".o")).write_bytes(b"tampered")
        >>> with warnings.catch_warnings(record=True) as caught:
        ...     warnings.simplefilter("always")
        ...     c.load("cd" * 32) is None, [str(w.category.__name__) for w in caught]
        (True, ['RuntimeWarning'])
        """
        data_path, meta_path = self._paths(name, suffix)
        shown = data_path if meta_path is None else meta_path
        if not data_path.exists() and (meta_path is None or not meta_path.exists()):
            return None
        try:
            if meta_path is None:  # one file: a line of JSON metadata, then the data
                head, _, data = data_path.read_bytes().partition(b"\n")
                meta = json.loads(head)
            else:
                meta = json.loads(meta_path.read_text())
                data = data_path.read_bytes()
            ok = (
                isinstance(meta, dict)
                and meta.get("format") == FORMAT
                and meta.get("key") == name
                and meta.get("size") == len(data)
                and meta.get("sha256") == hashlib.sha256(data).hexdigest()
                and len(data) > 0
            )
        except (OSError, ValueError):
            ok = False
        if not ok:
            warnings.warn(
                f"symjac cache: ignoring a damaged or foreign entry {shown} (recompiling)",
                RuntimeWarning,
                stacklevel=3,
            )
            return None
        return data

    def store(self, name: str, data: bytes, suffix: str = ".o") -> None:
        """Write an entry atomically; a cache that cannot be written warns once and is skipped.

        Object code is two files, written data first: racing writers of one key write the
        same bytes (the same IR gives the same code), so any pair a reader sees matches. A
        warm-start record differs between writers (it holds each one's build time), so it
        is one file, its metadata on the first line: one rename publishes all of it.

        >>> import tempfile
        >>> c = ObjectCache(tempfile.mkdtemp())
        >>> c.store("ef" * 32, b"object code"); c.store("ab" * 32, b"record", suffix=".warm")
        >>> sorted(p.suffix for p in c.directory.iterdir())
        ['.json', '.o', '.warm']
        >>> c.load("ef" * 32), c.load("ab" * 32, suffix=".warm")
        (b'object code', b'record')
        """
        data_path, meta_path = self._paths(name, suffix)
        meta = json.dumps(
            {
                "format": FORMAT,
                "key": name,
                "size": len(data),
                "sha256": hashlib.sha256(data).hexdigest(),
            }
        ).encode()
        try:
            self.directory.mkdir(parents=True, exist_ok=True)
            if meta_path is None:
                _atomic_write(data_path, meta + b"\n" + data)
            else:
                # object code first, metadata last: a reader that sees metadata sees its object
                _atomic_write(data_path, data)
                _atomic_write(meta_path, meta)
        except OSError as exc:
            where = str(self.directory)
            if where not in _warned:
                _warned.add(where)
                warnings.warn(
                    f"symjac cache: cannot write to {where} ({exc.strerror or exc}); "
                    "compiling in memory only",
                    RuntimeWarning,
                    stacklevel=3,
                )

    def info(self) -> dict[str, Any]:
        """Directory, number of entries and their total size in bytes (``symjac cache info``):
        object code, and whole compilations kept for warm starts.

        >>> import os, tempfile
        >>> d = tempfile.mkdtemp()
        >>> c = ObjectCache(d)
        >>> c.store("01" * 32, b"1234"); c.store("23" * 32, b"567")
        >>> c.store("45" * 32, b"12", suffix=".warm")
        >>> info = c.info()
        >>> info["directory"] == d, info["entries"], info["bytes"], info["warm_entries"]
        (True, 2, 7, 1)
        >>> ObjectCache(os.path.join(d, "not-created-yet")).info()["entries"]
        0
        """
        found = {}
        for suffix in SUFFIXES:
            paths = list(self.directory.glob(f"*{suffix}")) if self.directory.is_dir() else []
            found[suffix] = (len(paths), sum(p.stat().st_size for p in paths))
        (objects, size), (warm, warm_size) = found[".o"], found[".warm"]
        return {
            "directory": str(self.directory),
            "entries": objects,
            "bytes": size,
            "warm_entries": warm,
            "warm_bytes": warm_size,
        }

    def clear(self) -> int:
        """Remove every entry; returns how many files were removed (``symjac cache clear``).

        Only the cache's own files (``.o``, ``.warm``, ``.json``, ``.tmp``) are removed.

        >>> import tempfile
        >>> c = ObjectCache(tempfile.mkdtemp())
        >>> c.store("01" * 32, b"1234"); c.store("23" * 32, b"567")
        >>> _ = (c.directory / "notes.txt").write_text("kept")
        >>> c.clear(), c.info()["entries"]   # two entries, two files each
        (4, 0)
        >>> [p.name for p in c.directory.iterdir()]
        ['notes.txt']
        """
        removed = 0
        if self.directory.is_dir():
            for p in self.directory.iterdir():
                if p.suffix in (*SUFFIXES, ".json", ".tmp") and p.is_file():
                    p.unlink(missing_ok=True)
                    removed += 1
        return removed


def _atomic_write(path: Path, data: bytes) -> None:
    fd, tmp = tempfile.mkstemp(dir=path.parent, prefix=path.name, suffix=".tmp")
    try:
        with os.fdopen(fd, "wb") as f:
            f.write(data)
        os.replace(tmp, path)
    except BaseException:
        Path(tmp).unlink(missing_ok=True)
        raise
