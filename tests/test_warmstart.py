"""Warm starts: whole compilations found again by a key of their input.

The key must change whenever the result could, and must not change between runs of the
same program; a hit must give the cold result bit for bit, in another process too. The
cache's own safety (damaged entries, racing writers, unwritable directories) is tested
for both kinds of entry in test_cache.py.
"""

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
from reference import SympyReference, assert_precise_equal
from symjac.codegen.cache import ObjectCache

import symjac
from symjac import warmstart
from symjac.frontend.fingerprint import fingerprint
from symjac.options import Options

x, y, z, a, b = sp.symbols("x y z a b", real=True)
EXPRS = [sp.exp(-a * x) * sp.sin(y) + z**3, x * y * z + b * sp.log(1 + x**2)]


DEFAULT = Options()


def key(exprs=EXPRS, wrt=(x, y, z), params=(a, b), options=DEFAULT, kind="jacobian"):
    return warmstart.key(kind, list(exprs), list(wrt), list(params), options)


BASE = key()


@pytest.mark.parametrize(
    "changed",
    [
        pytest.param(
            lambda: key(exprs=[e.subs(x, sp.Symbol("w", real=True)) for e in EXPRS]), id="renamed"
        ),
        pytest.param(lambda: key(exprs=[EXPRS[0], EXPRS[1] + 0.1]), id="float"),
        pytest.param(
            lambda: key(exprs=[EXPRS[0], EXPRS[1] + float(np.nextafter(0.1, 1.0))]),
            id="float-last-bit",
        ),
        pytest.param(lambda: key(exprs=[EXPRS[0], EXPRS[1] + sp.Rational(1, 10)]), id="rational"),
        pytest.param(lambda: key(exprs=[EXPRS[0] * sp.Float(0.5)]), id="float-half"),
        pytest.param(lambda: key(exprs=[EXPRS[0] * sp.Rational(1, 2)]), id="rational-half"),
        pytest.param(lambda: key(wrt=(y, x, z)), id="wrt-order"),
        pytest.param(lambda: key(wrt=(x, y, z, a), params=(b,)), id="param-into-wrt"),
        pytest.param(lambda: key(params=(b, a)), id="params-order"),
        pytest.param(
            lambda: key(
                exprs=[e.subs(x, sp.Symbol("x")) for e in EXPRS], wrt=(sp.Symbol("x"), y, z)
            ),
            id="assumptions",
        ),
        pytest.param(lambda: key(kind="function_and_jacobian"), id="kind"),
        pytest.param(lambda: key(options=Options(opt_level=2)), id="opt_level"),
        pytest.param(lambda: key(options=Options(fastmath=True)), id="fastmath"),
        pytest.param(lambda: key(options=Options(simd=False)), id="simd"),
        pytest.param(lambda: key(options=Options(vector_libm=False)), id="vector_libm"),
        pytest.param(lambda: key(options=Options(simplify="none")), id="simplify"),
        pytest.param(lambda: key(options=Options(sparse=True)), id="sparse"),
        pytest.param(lambda: key(options=Options(rules=("algebraic",))), id="rules"),
    ],
)
def test_the_key_changes_with_anything_that_changes_the_result(changed) -> None:
    assert changed() != BASE


def test_the_key_ignores_what_does_not_change_the_result() -> None:
    assert key(options=Options(progress=True)) == BASE
    assert key(options=Options(cache="/somewhere/else")) == BASE
    # the same trees built again (new objects, SymPy's cache cleared) give the same key
    sp.core.cache.clear_cache()
    fresh = sp.symbols("x y z a b", real=True)
    X, Y, Z, A, B = fresh
    again = [sp.exp(-A * X) * sp.sin(Y) + Z**3, X * Y * Z + B * sp.log(1 + X**2)]
    assert key(exprs=again, wrt=(X, Y, Z), params=(A, B)) == BASE


def test_the_key_changes_with_a_version(monkeypatch) -> None:
    monkeypatch.setattr(sp, "__version__", sp.__version__ + ".dev")
    assert key() != BASE
    monkeypatch.undo()
    warmstart.code_version.cache_clear()
    monkeypatch.setattr(warmstart, "code_version", lambda: "0" * 64)
    assert key() != BASE


KEY_CHILD = textwrap.dedent(
    """
    import sympy as sp
    from symjac import warmstart
    from symjac.options import Options
    x, y, z, a, b = sp.symbols("x y z a b", real=True)
    exprs = [sp.exp(-a * x) * sp.sin(y) + z**3, x * y * z + b * sp.log(1 + x**2)]
    print(warmstart.key("jacobian", exprs, [x, y, z], [a, b], Options()))
    """
)


def test_the_key_is_the_same_in_every_process_and_hash_seed() -> None:
    keys = set()
    for seed in ("0", "1", "12345", "random"):
        env = {**os.environ, "PYTHONHASHSEED": seed}
        done = subprocess.run(
            [sys.executable, "-c", KEY_CHILD], env=env, capture_output=True, text=True, check=True
        )
        keys.add(done.stdout.strip())
    assert keys == {BASE}


def test_deep_and_wide_inputs_hash_without_recursion() -> None:
    limit = sys.getrecursionlimit()
    deep = x
    for _ in range(3 * limit):
        deep = sp.sin(deep, evaluate=False)
    wide = sp.Add(
        *[sp.Mul(sp.Integer(k), x, evaluate=False) for k in range(1, 20_001)], evaluate=False
    )
    first = fingerprint([deep, wide], [x], [])
    assert sys.getrecursionlimit() == limit
    assert first == fingerprint([deep, wide], [x], []) != fingerprint([wide, deep], [x], [])


PTS = np.random.default_rng(7).uniform(-1.5, 1.5, (9, 3))
P = np.array([0.7, -0.3])


def _every_kind(cache: Path) -> dict[str, object]:
    return {
        "jacobian": symjac.jacobian(EXPRS, [x, y, z], [a, b], cache=cache),
        "function": symjac.function(EXPRS, [x, y, z], [a, b], cache=cache),
        "fj": symjac.function_and_jacobian(EXPRS, [x, y, z], [a, b], cache=cache, sparse=False),
        "hessian": symjac.hessian(EXPRS[0], [x, y, z], [a, b], cache=cache),
        "weighted": symjac.hessian(
            EXPRS, [x, y, z], [a, b], weights=sp.symbols("l1 l2"), cache=cache
        ),
        "numeric_weights": symjac.hessian(
            EXPRS, [x, y, z], [a, b], weights=[2.0, -1.0], cache=cache
        ),
    }


def _results(obj, kind: str) -> list[np.ndarray]:
    p = P if kind != "weighted" else np.array([0.7, -0.3, 1.25, -0.5])
    out = (
        obj(PTS, p)
        if kind != "fj"
        else np.concatenate([r.reshape(len(PTS), -1) for r in obj(PTS, p)], 1)
    )
    results = [np.asarray(out)]
    if hasattr(obj, "values"):
        values = obj.values(PTS, p)
        results.append(np.concatenate(values, 1) if isinstance(values, tuple) else values)
    if hasattr(obj, "jvp"):
        results.append(obj.jvp(PTS, np.ones(3), p))
    return results


def test_a_warm_hit_gives_the_cold_results_bit_for_bit_for_every_kind(tmp_path) -> None:
    cold = _every_kind(tmp_path)
    warm = _every_kind(tmp_path)
    for kind in cold:
        assert not cold[kind].stats.warm and warm[kind].stats.warm, kind
        assert "lower" not in warm[kind].stats.timings, kind
        for got, want in zip(_results(warm[kind], kind), _results(cold[kind], kind)):
            assert_precise_equal(got, want, f"({kind})")
        assert warm[kind].stats.sizes == cold[kind].stats.sizes
        assert str(warm[kind].to_sympy()) == str(cold[kind].to_sympy())
    # and both are right: the Jacobian against SymPy's, at 50 digits
    ref = SympyReference(EXPRS, [x, y, z], [a, b]).jacobian(PTS, P)
    np.testing.assert_allclose(warm["jacobian"](PTS, P), ref, rtol=1e-13, atol=1e-300)


WARM_CHILD = textwrap.dedent(
    """
    import json, sys, numpy as np, sympy as sp, symjac
    x, y, z, a, b = sp.symbols("x y z a b", real=True)
    exprs = [sp.exp(-a * x) * sp.sin(y) + z**3, x * y * z + b * sp.log(1 + x**2)]
    jac = symjac.function_and_jacobian(exprs, [x, y, z], [a, b], cache=sys.argv[1], sparse=False)
    pts = np.random.default_rng(7).uniform(-1.5, 1.5, (9, 3))
    f, J = jac(pts, [0.7, -0.3])
    one = jac.values(pts[0], [0.7, -0.3])
    print(json.dumps({"warm": jac.stats.warm, "f": f.tolist(), "J": J.tolist(),
                      "one": [v.tolist() for v in one], "bits": J.tobytes().hex()}))
    """
)


def test_a_warm_hit_in_another_process_gives_the_cold_results_bit_for_bit(tmp_path) -> None:
    def child() -> dict:
        done = subprocess.run(
            [sys.executable, "-c", WARM_CHILD, str(tmp_path)],
            capture_output=True,
            text=True,
            check=True,
        )
        return json.loads(done.stdout)

    cold, warm = child(), child()
    assert not cold["warm"] and warm["warm"]
    assert cold["bits"] == warm["bits"] and cold["one"] == warm["one"] and cold["f"] == warm["f"]


def test_a_record_that_is_not_one_is_a_miss_with_a_warning_and_is_rewritten(tmp_path) -> None:
    good = symjac.jacobian(EXPRS, [x, y, z], [a, b], cache=tmp_path)
    (record,) = tmp_path.glob("*.warm")
    # a well-formed entry (right size and checksum) whose content is not a record
    ObjectCache(tmp_path).store(record.stem, b"\x05\x00\x00\x00\x00\x00\x00\x00hello", ".warm")
    with pytest.warns(RuntimeWarning, match="unreadable warm-start record"):
        again = symjac.jacobian(EXPRS, [x, y, z], [a, b], cache=tmp_path)
    assert not again.stats.warm
    np.testing.assert_array_equal(again.values(PTS, P), good.values(PTS, P))
    with warnings.catch_warnings():
        warnings.simplefilter("error")
        third = symjac.jacobian(EXPRS, [x, y, z], [a, b], cache=tmp_path)
    assert third.stats.warm


def test_a_record_whose_machine_code_is_gone_compiles_again(tmp_path) -> None:
    symjac.jacobian(EXPRS, [x, y, z], [a, b], cache=tmp_path)
    for path in tmp_path.glob("*.o"):
        path.unlink()
    with pytest.warns(RuntimeWarning, match="damaged or foreign"):  # its metadata is left
        again = symjac.jacobian(EXPRS, [x, y, z], [a, b], cache=tmp_path)
    assert not again.stats.warm and "machine_code" in again.stats.timings


def test_cache_false_neither_keys_nor_saves(tmp_path, monkeypatch) -> None:
    monkeypatch.setenv("SYMJAC_CACHE_DIR", str(tmp_path))
    jac = symjac.jacobian(EXPRS, [x, y, z], [a, b], cache=False)
    assert "warm_start" not in jac.stats.timings and not list(tmp_path.iterdir())


def test_records_decode_lazily_to_the_same_tapes_and_reject_bad_arrays() -> None:
    from symjac.ir import serial
    from symjac.ir.graph import Graph
    from symjac.ir.tape import KernelSpec, Tape

    g = Graph()
    u, v = g.var(0), g.var(1)
    tape = Tape.from_graph(g, [g.sin(g.mul(u, v)), g.powi(u, 3), g.const(-0.0)], 2, 0)
    spec = KernelSpec("f", tape, 3, (0, 1, 2))
    record = serial.dumps([tape], [spec], {})
    (got,), (got_spec,), _, _ = serial.loads(record)
    assert "ops" not in got.__dict__  # not decoded yet: a warm start may never need it
    assert got == tape and got_spec == spec and hash(got) == hash(tape)
    assert got.ops == tape.ops and got.attrs[-1] == 0.0 and str(got.attrs[-1]) == "-0.0"
    # an op number no op has, or an argument that is not an earlier register: refused at load
    ops_at = record.index(np.array([int(op) for op in tape.ops], "<i2").tobytes())
    bad = bytearray(record)
    bad[ops_at : ops_at + 2] = (999).to_bytes(2, "little")
    with pytest.raises(ValueError, match="not a tape record"):
        serial.loads(bytes(bad))


def test_the_key_does_not_depend_on_which_equal_subtrees_are_one_object() -> None:
    # SymPy shares equal subtrees as one object or not depending on its cache and the hash
    # seed; a 32 768-state model once missed its own record in a second process
    def inner():
        return sp.sin(sp.Add(x, sp.Integer(1), evaluate=False), evaluate=False)

    shared = inner()
    one = sp.Add(sp.Mul(shared, y, evaluate=False), sp.Mul(shared, z, evaluate=False),
                 evaluate=False)  # fmt: skip
    sp.core.cache.clear_cache()
    first = inner()
    sp.core.cache.clear_cache()
    second = inner()
    assert first is not second and first == second
    two = sp.Add(sp.Mul(first, y, evaluate=False), sp.Mul(second, z, evaluate=False),
                 evaluate=False)  # fmt: skip
    assert fingerprint([one], [x, y, z], []) == fingerprint([two], [x, y, z], [])
    other = sp.Add(sp.Mul(first, y, evaluate=False), sp.Mul(sp.cos(x + 1), z, evaluate=False),
                   evaluate=False)  # fmt: skip
    assert fingerprint([other], [x, y, z], []) != fingerprint([two], [x, y, z], [])
