"""The on-disk object-code cache: hits across processes, damaged entries, unwritable dirs."""

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
    print(json.dumps({"hit": "cache_load" in jac.stats.timings,
                      "values": jac.values(pts).tolist()}))
    """
)


def _child(directory: Path) -> dict:
    out = subprocess.run(
        [sys.executable, "-c", CHILD, str(directory)], capture_output=True, text=True, check=True
    )
    return json.loads(out.stdout)


def _entries(directory: Path) -> list[Path]:
    return sorted(directory.glob("*.o"))


def test_a_second_process_loads_instead_of_compiling(tmp_path):
    first, second = _child(tmp_path), _child(tmp_path)
    assert not first["hit"] and second["hit"]
    assert first["values"] == second["values"]
    assert len(_entries(tmp_path)) == 1
    reference = symjac.jacobian(EXPRS, X, cache=False).values(PTS)
    np.testing.assert_array_equal(np.array(second["values"]), reference)


def test_cache_false_neither_reads_nor_writes(tmp_path, monkeypatch):
    monkeypatch.setenv("SYMJAC_CACHE_DIR", str(tmp_path))
    jac = symjac.jacobian(EXPRS, X, cache=False)
    assert "cache_load" not in jac.stats.timings and not _entries(tmp_path)
    symjac.jacobian(EXPRS, X)  # the default: $SYMJAC_CACHE_DIR
    assert len(_entries(tmp_path)) == 1
    again = symjac.jacobian(EXPRS, X)
    assert "cache_load" in again.stats.timings
    # a loaded kernel still shows its IR and assembly, and its native entry points work
    assert "define" in again._kernels.jit.optimised_ir() and again._kernels.jit.assembly()
    np.testing.assert_array_equal(again.values(PTS[0]), jac.values(PTS[0]))


@pytest.mark.parametrize(
    "damage",
    ["truncate", "empty", "garbage", "wrong_sha", "foreign_meta", "missing_object"],
)
def test_damaged_entries_are_misses_with_a_warning_and_get_rewritten(tmp_path, damage):
    good = symjac.jacobian(EXPRS, X, cache=tmp_path)
    (obj,) = _entries(tmp_path)
    meta = obj.with_suffix(".json")
    data = obj.read_bytes()
    if damage == "truncate":
        obj.write_bytes(data[: len(data) // 2])
    elif damage == "empty":
        obj.write_bytes(b"")
    elif damage == "garbage":
        obj.write_bytes(os.urandom(len(data)))
    elif damage == "wrong_sha":
        m = json.loads(meta.read_text())
        m["sha256"] = "0" * 64
        meta.write_text(json.dumps(m))
    elif damage == "foreign_meta":
        meta.write_text(json.dumps({"format": "something else"}))
    else:
        obj.unlink()
    with pytest.warns(RuntimeWarning, match="damaged or foreign"):
        again = symjac.jacobian(EXPRS, X, cache=tmp_path)
    assert "cache_load" not in again.stats.timings
    np.testing.assert_array_equal(again.values(PTS), good.values(PTS))
    with warnings.catch_warnings():
        warnings.simplefilter("error")  # rewritten: a clean hit now
        third = symjac.jacobian(EXPRS, X, cache=tmp_path)
    assert "cache_load" in third.stats.timings
    np.testing.assert_array_equal(third.values(PTS), good.values(PTS))


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
    (obj,) = _entries(tmp_path)
    assert ObjectCache(tmp_path).load(obj.stem) is not None
    assert not list(tmp_path.glob("*.tmp"))


def test_info_and_clear(tmp_path):
    cache = ObjectCache(tmp_path)
    symjac.jacobian(EXPRS, X, cache=tmp_path)
    info = cache.info()
    assert info["entries"] == 1 and info["bytes"] > 0 and info["directory"] == str(tmp_path)
    assert cache.clear() == 2 and cache.info()["entries"] == 0


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
