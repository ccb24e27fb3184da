"""The on-disk caches — object code, and whole compilations for warm starts: hits across
processes, damaged entries, unwritable dirs, racing writers."""

from __future__ import annotations

import json
import os
import subprocess
import sys
import textwrap
import warnings
from pathlib import Path

import numpy as np
import pytest
import sympy as sp
from symjac.codegen.cache import ObjectCache

import symjac

X = sp.symbols("x0:3", real=True)
EXPRS = [sp.sin(X[0] * X[1]) + X[2] ** 2, sp.exp(-X[1]) * sp.cos(X[2]), sp.tanh(X[0])]
PTS = np.random.default_rng(0).uniform(-1, 1, (11, 3))

CHILD = textwrap.dedent(
    """
    import json, sys, numpy as np, sympy as sp, symjac
    X = sp.symbols("x0:3", real=True)
    exprs = [sp.sin(X[0] * X[1]) + X[2] ** 2, sp.exp(-X[1]) * sp.cos(X[2]), sp.tanh(X[0])]
    jac = symjac.jacobian(exprs, X, cache=sys.argv[1])
    pts = np.random.default_rng(0).uniform(-1, 1, (11, 3))
    print(json.dumps({"hit": "cache_load" in jac.stats.timings, "warm": jac.stats.warm,
                      "values": jac.values(pts).tolist()}))
    """
)


def _child(directory: Path) -> dict:
    out = subprocess.run(
        [sys.executable, "-c", CHILD, str(directory)], capture_output=True, text=True, check=True
    )
    return json.loads(out.stdout)


def _entries(directory: Path, suffix: str = ".o") -> list[Path]:
    return sorted(directory.glob(f"*{suffix}"))


def _forget_compilations(directory: Path) -> None:
    """Remove the warm-start records, so the next compile tests the object cache alone."""
    for path in directory.glob("*.warm*"):
        path.unlink()


def test_a_second_process_loads_instead_of_compiling(tmp_path):
    first, second = _child(tmp_path), _child(tmp_path)
    assert not first["warm"] and not first["hit"] and second["warm"]
    assert first["values"] == second["values"]
    assert len(_entries(tmp_path)) == 1 and len(_entries(tmp_path, ".warm")) == 1
    reference = symjac.jacobian(EXPRS, X, cache=False).values(PTS)
    np.testing.assert_array_equal(np.array(second["values"]), reference)
    _forget_compilations(tmp_path)
    third = _child(tmp_path)  # the object cache alone: compiles the front end, links the code
    assert third["hit"] and not third["warm"] and third["values"] == first["values"]


def test_cache_false_neither_reads_nor_writes(tmp_path, monkeypatch):
    monkeypatch.setenv("SYMJAC_CACHE_DIR", str(tmp_path))
    jac = symjac.jacobian(EXPRS, X, cache=False)
    assert "cache_load" not in jac.stats.timings and not _entries(tmp_path)
    assert not jac.stats.warm and "warm_start" not in jac.stats.timings
    symjac.jacobian(EXPRS, X)  # the default: $SYMJAC_CACHE_DIR
    assert len(_entries(tmp_path)) == 1 and len(_entries(tmp_path, ".warm")) == 1
    again = symjac.jacobian(EXPRS, X)
    assert again.stats.warm and "lower" not in again.stats.timings
    # a loaded kernel still shows its IR and assembly, and its native entry points work
    assert "define" in again._kernels.jit.optimised_ir() and again._kernels.jit.assembly()
    assert again._kernels.jit.ir_text == jac._kernels.jit.ir_text  # lowered again on demand
    np.testing.assert_array_equal(again.values(PTS[0]), jac.values(PTS[0]))
    _forget_compilations(tmp_path)
    linked = symjac.jacobian(EXPRS, X)
    assert "cache_load" in linked.stats.timings and not linked.stats.warm


@pytest.mark.parametrize(
    "damage",
    ["truncate", "empty", "garbage", "wrong_sha", "foreign_meta", "missing_object"],
)
@pytest.mark.parametrize("suffix", [".o", ".warm"])
def test_damaged_entries_are_misses_with_a_warning_and_get_rewritten(tmp_path, damage, suffix):
    good = symjac.jacobian(EXPRS, X, cache=tmp_path)
    (obj,) = _entries(tmp_path, suffix)
    if suffix == ".o":
        meta = obj.with_suffix(".json")
        read_meta, write_meta = (
            (lambda: json.loads(meta.read_text())),
            (lambda m: meta.write_text(json.dumps(m))),
        )
    else:  # one file: the metadata is its first line
        head, _, body = obj.read_bytes().partition(b"\n")

        def read_meta():
            return json.loads(head)

        def write_meta(m):
            obj.write_bytes(json.dumps(m).encode() + b"\n" + body)

    if damage == "truncate":
        obj.write_bytes(obj.read_bytes()[: len(obj.read_bytes()) // 2])
    elif damage == "empty":
        obj.write_bytes(b"")
    elif damage == "garbage":
        obj.write_bytes(os.urandom(len(obj.read_bytes())))
    elif damage == "wrong_sha":
        m = read_meta()
        m["sha256"] = "0" * 64
        write_meta(m)
    elif damage == "foreign_meta":
        write_meta({"format": "something else"})
    else:
        obj.unlink()  # object code: its metadata is left behind; a record: simply gone
    warned = not (damage == "missing_object" and suffix == ".warm")
    if suffix == ".o":
        _forget_compilations(tmp_path)  # the object cache alone
    with warnings.catch_warnings(record=True) as caught:
        warnings.simplefilter("always")
        again = symjac.jacobian(EXPRS, X, cache=tmp_path)
    assert any("damaged or foreign" in str(w.message) for w in caught) == warned
    assert not again.stats.warm and "lower" in again.stats.timings  # compiled
    if suffix == ".o":
        assert "cache_load" not in again.stats.timings
    np.testing.assert_array_equal(again.values(PTS), good.values(PTS))
    with warnings.catch_warnings():
        warnings.simplefilter("error")  # rewritten: a clean hit now
        third = symjac.jacobian(EXPRS, X, cache=tmp_path)
    assert third.stats.warm
    np.testing.assert_array_equal(third.values(PTS), good.values(PTS))
    if suffix == ".o":
        _forget_compilations(tmp_path)
        linked = symjac.jacobian(EXPRS, X, cache=tmp_path)
        assert "cache_load" in linked.stats.timings


def test_an_unusable_directory_warns_once_and_compiles_in_memory(tmp_path):
    blocker = tmp_path / "a-file"
    blocker.write_text("not a directory")
    where = blocker / "cache"  # cannot be created: its parent is a file
    with pytest.warns(RuntimeWarning, match="cannot write") as record:
        jac = symjac.jacobian(EXPRS, X, cache=where)
        symjac.jacobian([e + 1 for e in EXPRS], X, cache=where)
    assert len([w for w in record if "cannot write" in str(w.message)]) == 1
    np.testing.assert_array_equal(
        jac.values(PTS), symjac.jacobian(EXPRS, X, cache=False).values(PTS)
    )


def test_eight_processes_racing_on_one_key_leave_one_valid_entry(tmp_path):
    procs = [
        subprocess.Popen(
            [sys.executable, "-c", CHILD, str(tmp_path)], stdout=subprocess.PIPE, text=True
        )
        for _ in range(8)
    ]
    results = [json.loads(p.communicate()[0]) for p in procs]
    assert all(p.returncode == 0 for p in procs)
    assert all(r["values"] == results[0]["values"] for r in results)
    assert sum(r["warm"] for r in results) <= 7  # some process compiled
    (obj,) = _entries(tmp_path)
    assert ObjectCache(tmp_path).load(obj.stem) is not None
    (record,) = _entries(tmp_path, ".warm")
    assert ObjectCache(tmp_path).load(record.stem, suffix=".warm") is not None
    assert _child(tmp_path)["warm"]
    assert not list(tmp_path.glob("*.tmp"))


def test_info_and_clear(tmp_path):
    cache = ObjectCache(tmp_path)
    symjac.jacobian(EXPRS, X, cache=tmp_path)
    info = cache.info()
    assert info["entries"] == 1 and info["bytes"] > 0 and info["directory"] == str(tmp_path)
    assert info["warm_entries"] == 1 and info["warm_bytes"] > 0
    assert cache.clear() == 3 and cache.info()["entries"] == cache.info()["warm_entries"] == 0


def test_bad_cache_argument():
    with pytest.raises(TypeError, match="cache must be"):
        symjac.jacobian(EXPRS, X, cache=3)


def test_the_version_of_the_code_is_part_of_every_key(tmp_path):
    """An entry made by another version of symjac is never used: its key differs."""
    from symjac.codegen import JitModule, lower

    from symjac.ir.graph import Graph
    from symjac.ir.tape import KernelSpec, Tape

    g = Graph()
    tape = Tape.from_graph(g, [g.sin(g.var(0))], 1, 0)
    keys = set()
    for version in ("1.0", "1.0", "2.0"):
        module = lower([KernelSpec("f", tape, 1, (0,))]).module
        keys.add(JitModule(module, 1, cache=ObjectCache(tmp_path, version=version)).cache_key)
    assert len(keys) == 2
    jac = symjac.jacobian([sp.Symbol("x") ** 2], [sp.Symbol("x")], cache=tmp_path)
    assert jac._kernels.cache.version == symjac.__version__
