"""Standalone code (``symjac.emit``): every target against the JIT kernels it was written from.

The emitted kernels are built from the same tapes as the JIT, so on the same
libm they must agree with the scalar LLVM lowering of those tapes **bit for bit**
(``scalar_reference``), at ordinary points and at ±0, ±inf and NaN; against the
compiled object itself (which may run SIMD lanes with a vector libm) they must
agree to the test suite's usual precision. Every op the back ends implement is
exercised: the function lists of ``test_functions.py`` cover all but ``BOOL`` and
``NOT``, which a hand-built tape covers.
"""

from __future__ import annotations

import ctypes
import math
import shutil
import subprocess
import sys
from collections.abc import Sequence
from pathlib import Path

import numpy as np
import pytest
import sympy as sp
import sympy.codegen.cfunctions as cf
from reference import SympyReference, assert_precise_equal, assert_same_float
from symjac.codegen import JitModule, lower
from symjac.codegen.artefact import Artefact, comment_safe
from symjac.codegen.c import supported
from test_functions import (
    ARITHMETIC,
    ATAN2,
    HEAVISIDE_PARAM,
    HEAVISIDE_VARIABLE_H0,
    MAX_MIN,
    PIECEWISE_CHAIN,
    PIECEWISE_LOGIC,
    POWERS,
    SPECIAL,
    UNARY,
    X,
    Y,
    x,
)

import symjac
from symjac.ir.graph import Graph
from symjac.ir.ops import COMPOSITE, Op
from symjac.ir.tape import KernelSpec, Tape
from symjac.standalone import artefact, emit

CC = shutil.which("cc") or shutil.which("gcc")
needs_cc = pytest.mark.skipif(CC is None, reason="no C compiler (cc or gcc) on PATH")
#: the emitted C must compile warning-free under these
STRICT = ["-std=c99", "-O2", "-Wall", "-Wextra", "-Werror", "-pedantic"]

inf, nan = math.inf, math.nan
#: special values every kernel is also evaluated at
SPECIALS = (0.0, -0.0, inf, -inf, nan, 1.0, -1.0, 5e-324, 1e308)


# -- helpers -------------------------------------------------------------------------------


def build_c(directory: Path, names: Sequence[str]) -> ctypes.CDLL:
    """Compile emitted ``NAME.c`` files with the strict flags into one library and load it."""
    assert CC is not None
    lib = directory / "libtest_emit.so"
    sources = [str(directory / f"{name}.c") for name in names]
    subprocess.run(
        [CC, *STRICT, "-fPIC", "-shared", "-o", str(lib), *sources, "-lm"],
        check=True,
        capture_output=True,
        text=True,
    )
    return ctypes.CDLL(str(lib))


def run_kernel(fn, width: int, pts, p=None, work: int = 0) -> np.ndarray:
    """Call a kernel with the batched ABI over points ``pts`` (N, n); shared parameters ``p``."""
    pts = np.ascontiguousarray(pts, dtype=np.float64)
    n = pts.shape[0]
    out = np.full((n, width), -123.0)  # garbage: every entry must be overwritten
    params = None if p is None else np.ascontiguousarray(p, dtype=np.float64)
    scratch = np.empty(max(work, 1))
    fn(
        ctypes.c_void_p(pts.ctypes.data),
        ctypes.c_void_p(None if params is None else params.ctypes.data),
        ctypes.c_void_p(out.ctypes.data),
        ctypes.c_int64(n),
        ctypes.c_int64(0),
        ctypes.c_void_p(scratch.ctypes.data),
    )
    return out


def scalar_reference(specs: Sequence[KernelSpec]):
    """The tapes lowered by ``codegen.lower`` with its scalar defaults and JIT-compiled."""
    lowered = lower(specs)
    jit = JitModule(lowered.module)
    return {s.name: (jit.kernel(s.name), lowered.work_sizes[s.name]) for s in specs}, jit


def check_against_jit(lib: ctypes.CDLL, art: Artefact, pts, p=None, obj=None) -> None:
    """Emitted kernels equal the scalar JIT bit for bit (and ``obj`` to the usual precision)."""
    ref, _keep = scalar_reference(art.specs)
    for spec in art.specs:
        got = run_kernel(getattr(lib, art.symbol(spec)), spec.width, pts, p)
        fn, work = ref[spec.name]
        want = run_kernel(fn, spec.width, pts, p, work)
        assert_same_float(got, want, f"({art.symbol(spec)})")
        if obj is not None:
            via_object = object_rows(obj, spec.name, pts, p)
            assert_precise_equal(got, via_object, f"({art.symbol(spec)} vs the compiled object)")


def object_rows(obj, kernel: str, pts, p=None) -> np.ndarray:
    """What kernel ``kernel`` of ``obj`` writes, computed through the object's public methods."""
    n = len(pts)
    if kernel == "function":
        return obj(pts, p)
    if kernel == "values":
        values = obj.values(pts, p)
        return np.concatenate(values, axis=-1) if isinstance(values, tuple) else values
    if isinstance(obj, symjac.CompiledFunctionAndJacobian):
        f, jac = obj(pts, p)
        return np.concatenate([f, jac.reshape(n, -1)], axis=-1)
    return obj.dense(pts, p).reshape(n, -1)


def grid(points: Sequence[Sequence[float]], n: int) -> np.ndarray:
    """The given points plus every special value in every coordinate."""
    extra = [[v] * n for v in SPECIALS]
    extra += [[v if k == j else 0.5 for k in range(n)] for v in SPECIALS for j in range(n)]
    return np.array([*map(list, points), *extra], dtype=np.float64)


# -- C: every op against the JIT -------------------------------------------------------------


def test_every_backend_op_has_a_c_translation() -> None:
    for op in Op:
        assert supported(op) is (op not in COMPOSITE), op.name


@needs_cc
def test_c_unary_functions_match_the_jit_bit_for_bit(tmp_path: Path) -> None:
    f = symjac.function([case.expr for case in UNARY], [x])
    jac = symjac.jacobian([case.expr for case in UNARY if case.differentiable], [x])
    emit(f, tmp_path, "unary_f")
    emit(jac, tmp_path, "unary_j")
    lib = build_c(tmp_path, ["unary_f", "unary_j"])
    values = sorted({*SPECIALS, *(pt for case in UNARY for pt in case.points)})
    values += sorted({s[1] for s in SPECIAL})
    pts = np.array(values).reshape(-1, 1)
    check_against_jit(lib, artefact(f, "unary_f"), pts, obj=f)
    check_against_jit(lib, artefact(jac, "unary_j"), pts, obj=jac)


PROBLEMS = [
    ARITHMETIC,
    POWERS,
    ATAN2,
    HEAVISIDE_PARAM,
    HEAVISIDE_VARIABLE_H0,
    PIECEWISE_CHAIN,
    PIECEWISE_LOGIC,
    MAX_MIN,
]


@needs_cc
@pytest.mark.parametrize("prob", PROBLEMS, ids=[prob.id for prob in PROBLEMS])
def test_c_problems_match_the_jit_bit_for_bit(tmp_path: Path, prob) -> None:
    p = np.array(prob.pvals) if prob.params else None
    f = symjac.function(list(prob.exprs), prob.wrt, prob.params)
    fj = symjac.function_and_jacobian(list(prob.exprs), prob.wrt, prob.params)
    emit(f, tmp_path, "f")
    emit(fj, tmp_path, "fj")
    lib = build_c(tmp_path, ["f", "fj"])
    pts = grid(prob.points, len(prob.wrt))
    check_against_jit(lib, artefact(f, "f"), pts, p, obj=f)
    check_against_jit(lib, artefact(fj, "fj"), pts, p, obj=fj)


def _logic_and_constants() -> Artefact:
    """A hand-built tape with what SymPy input never produces: BOOL, NOT, odd constants."""
    g = Graph()
    a, b = g.var(0), g.var(1)
    lt = g.make(Op.LT, (a, b))
    outputs = [
        g.select(g.make(Op.NOT, (lt,)), a, b),
        g.select(g.make(Op.AND, (g.boolean(True), g.make(Op.LE, (a, b)))), a, g.const(2.0)),
        g.select(g.make(Op.OR, (g.boolean(False), g.make(Op.NE, (a, b)))), b, g.const(-3.0)),
        *(g.const(c) for c in (inf, -inf, nan, -0.0, 5e-324, 1.7976931348623157e308, 0.1)),
        *(g.powi(a, k) for k in (0, 1, -1, 2, 7, -6, 31)),
        g.make(Op.MAX, (a, b)),
        g.make(Op.MIN, (a, b)),
        g.make(Op.SIGN, (a,)),
        g.make(Op.HEAVISIDE, (a, b)),
    ]
    tape = Tape.from_graph(g, outputs, 2, 0)
    width = len(outputs) + 2  # two structural zeros at the end
    spec = KernelSpec("function", tape, width, tuple(range(len(outputs))))
    return Artefact("logic", "function", (spec,), ("a", "b"), (), (width,))


@needs_cc
def test_c_logic_constants_and_powers_match_the_jit(tmp_path: Path) -> None:
    art = _logic_and_constants()
    from symjac.codegen.c import C_FILES

    for suffix, printer in C_FILES.items():
        (tmp_path / f"logic{suffix}").write_text(printer(art))
    lib = build_c(tmp_path, ["logic"])
    pts = grid([(0.0, -0.0), (-0.0, 0.0), (1.5, 2.5), (2.5, 1.5), (-2.0, -2.0)], 2)
    check_against_jit(lib, art, pts)
    got = run_kernel(lib.logic_function, art.specs[0].width, pts)
    assert_same_float(got[:, -2:], np.zeros((len(pts), 2)))  # structural zeros are written
    # max(+0, -0) = +0 and min = -0 whichever comes first; NaN wins
    assert_same_float(got[:2, 17:19], [[0.0, -0.0], [0.0, -0.0]])


def test_c_constants_are_exact_literals() -> None:
    art = _logic_and_constants()
    from symjac.codegen.c import c_source

    text = c_source(art)
    for literal in ("INFINITY", "(-INFINITY)", "NAN", "-0x0.0p+0", "0x0.0000000000001p-1022"):
        assert f"= {literal};" in text
    assert f"= {float.hex(0.1)};" in text


def _header_define(directory: Path, name: str, define: str) -> int:
    for line in (directory / f"{name}.h").read_text().splitlines():
        if line.startswith(f"#define {define} "):
            return int(line.split()[2])
    raise AssertionError(f"{define} is not defined in {name}.h")


@needs_cc
@pytest.mark.parametrize("stack_work", [4096, 0], ids=["scratch-on-stack", "caller-work"])
def test_c_tapes_split_into_chunks_match_the_jit(tmp_path: Path, monkeypatch, stack_work) -> None:
    from symjac.passes import chunks

    # tiny chunks: registers (truth values included) cross chunks through the scratch array
    monkeypatch.setattr(chunks, "CHUNK_SIZE", 5)
    monkeypatch.setattr(chunks, "STACK_WORK", stack_work)
    prob = PIECEWISE_LOGIC
    fj = symjac.function_and_jacobian(list(prob.exprs), prob.wrt)
    emit(fj, tmp_path, "chunked")
    text = (tmp_path / "chunked.c").read_text()
    assert "chunked_tape0_3(" in text and "CHUNKED_NOINLINE" in text
    lib = build_c(tmp_path, ["chunked"])
    art = artefact(fj, "chunked")
    pts = grid(prob.points, 2)
    ref, _keep = scalar_reference(art.specs)
    for spec in art.specs:
        work = _header_define(tmp_path, "chunked", f"CHUNKED_{spec.name.upper()}_WORK")
        assert (work > 0) is (stack_work == 0)
        got = run_kernel(getattr(lib, art.symbol(spec)), spec.width, pts, None, work)
        fn, jit_work = ref[spec.name]
        assert_same_float(got, run_kernel(fn, spec.width, pts, None, jit_work))


@needs_cc
def test_c_jacobian_agrees_with_sympy(tmp_path: Path) -> None:
    prob = ARITHMETIC
    jac = symjac.jacobian(list(prob.exprs), prob.wrt, prob.params)
    emit(jac, tmp_path, "arith")
    lib = build_c(tmp_path, ["arith"])
    pts, p = np.array(prob.points), np.array(prob.pvals)
    m, n = jac.shape
    got = run_kernel(lib.arith_dense, m * n, pts, p).reshape(-1, m, n)
    want = SympyReference(list(prob.exprs), prob.wrt, prob.params).jacobian(pts, p)
    assert_precise_equal(got, want)
    values = run_kernel(lib.arith_values, jac.nnz, pts, p)
    assert_same_float(values, got[:, jac.pattern.rows, jac.pattern.cols])
    # the pattern arrays are the object's pattern
    for array, want_array in [("rows", jac.pattern.rows), ("indptr", jac.pattern.indptr)]:
        c_array = (ctypes.c_int64 * len(want_array)).in_dll(lib, f"arith_{array}")
        assert list(c_array) == want_array.tolist()


# -- names ------------------------------------------------------------------------------------

HOSTILE = ['x);system("id");double z=(1', "a*/ int evil; /*", "b\n#error boom", "c??/", "d\\"]


@needs_cc
def test_c_hostile_symbol_names_stay_in_comments(tmp_path: Path) -> None:
    syms = [sp.Symbol(name, real=True) for name in HOSTILE]
    exprs = [syms[0] * sp.sin(syms[1]) + syms[2], syms[3] ** 2 - syms[4]]
    jac = symjac.jacobian(exprs, syms[:4], [syms[4]])
    emit(jac, tmp_path, "hostile")
    lib = build_c(tmp_path, ["hostile"])  # -Werror: no comment closed early, no trigraph
    for suffix in (".c", ".h"):
        for line in (tmp_path / f"hostile{suffix}").read_text().splitlines():
            if "system" in line or "evil" in line or "boom" in line:
                assert line.startswith(" *   "), line  # inside the header comment
    assert comment_safe(HOSTILE[1]) in (tmp_path / "hostile.c").read_text()
    undefined = subprocess.run(
        ["nm", "-u", str(tmp_path / "libtest_emit.so")], capture_output=True, text=True
    ).stdout
    assert "system" not in undefined
    pts = np.array([[0.5, 1.0, -2.0, 3.0], [nan, 0.0, inf, -1.0]])
    check_against_jit(lib, artefact(jac, "hostile"), pts, np.array([0.25]), obj=jac)


@pytest.mark.parametrize(
    "bad", ["", "1abc", "_x", "a-b", "a b", "x);system(1", "int", "class", "é", "a" * 64]
)
def test_emit_rejects_names_that_are_not_c_identifiers(tmp_path: Path, bad: str) -> None:
    jac = symjac.jacobian([X * Y], [X, Y])
    with pytest.raises(ValueError, match="name"):
        emit(jac, tmp_path, bad)
    assert not any(tmp_path.iterdir())


def test_emit_rejects_bad_objects_and_targets(tmp_path: Path) -> None:
    jac = symjac.jacobian([X * Y], [X, Y])
    with pytest.raises(TypeError, match="compiled by symjac"):
        emit(sp.Matrix([X]), tmp_path, "m")
    with pytest.raises(TypeError, match="name must be a str"):
        emit(jac, tmp_path, 3)  # type: ignore[arg-type]
    with pytest.raises(ValueError, match="target must be one of"):
        emit(jac, tmp_path, "ok", target="fortran")


# -- determinism ------------------------------------------------------------------------------

_EMIT_ALL = """
import sys, sympy as sp, symjac
from symjac.standalone import TARGETS
x, y, a = sp.symbols("x y a", real=True)
exprs = [x**2 * y + sp.Max(x, a), sp.Piecewise((sp.sin(x * a), x < y), (y**-3, True)), x - y]
objects = {
    "jac": symjac.jacobian(exprs, [x, y], [a]),
    "fun": symjac.function(exprs, [x, y], [a]),
    "hes": symjac.hessian(x**3 * y + a * y**2, [x, y], [a]),
}
for target in TARGETS:
    for label, obj in objects.items():
        symjac.emit(obj, f"{sys.argv[1]}/{target}", label, target=target)
"""


def _tree(root: Path) -> dict[str, bytes]:
    return {
        str(p.relative_to(root)): p.read_bytes()
        for p in sorted(root.rglob("*"))
        if p.is_file() and "__pycache__" not in p.parts
    }


def test_emitted_files_are_byte_identical_across_runs_and_hash_seeds(tmp_path: Path) -> None:
    from symjac.standalone import TARGETS

    trees = []
    for seed in ("0", "12345"):
        out = tmp_path / f"seed{seed}"
        env = {**__import__("os").environ, "PYTHONHASHSEED": seed}
        subprocess.run(
            [sys.executable, "-c", _EMIT_ALL, str(out)], check=True, env=env, timeout=120
        )
        trees.append(_tree(out))
    assert trees[0].keys() == trees[1].keys()
    assert {name.split("/")[0] for name in trees[0]} == set(TARGETS)
    for name in trees[0]:
        assert trees[0][name] == trees[1][name], f"{name} differs between runs"


# -- LLVM IR, object code, shared libraries ------------------------------------------------------

#: ELF e_machine values
EM_X86_64, EM_AARCH64 = 62, 183


def _elf_header(data: bytes) -> tuple[int, int, int]:
    """(class: 2 = 64-bit, e_type: 1 = relocatable, e_machine) of a little-endian ELF file."""
    assert data[:4] == b"\x7fELF", "not an ELF file"
    assert data[5] == 1, "not little-endian"
    return data[4], int.from_bytes(data[16:18], "little"), int.from_bytes(data[18:20], "little")


@pytest.fixture(scope="module")
def unary_jacobian() -> symjac.CompiledJacobian:
    return symjac.jacobian([case.expr for case in UNARY if case.differentiable], [x])


def _unary_points() -> np.ndarray:
    values = sorted({*SPECIALS, *(pt for case in UNARY for pt in case.points)})
    return np.array(values).reshape(-1, 1)


def test_llvm_ir_text_parses_and_runs_like_the_jit(tmp_path: Path, unary_jacobian) -> None:
    import llvmlite.binding as llvm
    from symjac.codegen.llvm.jit import host_target_machine

    (path,) = emit(unary_jacobian, tmp_path, "uj", target="llvm")
    text = path.read_text()
    assert path.name == "uj.ll" and 'define void @"uj_values"(' in text
    assert 'target triple = ""' in text  # portable: llc or clang pick their own
    ref = llvm.parse_assembly(text)
    ref.verify()
    tm = host_target_machine()
    ref.triple = tm.triple
    engine = llvm.create_mcjit_compiler(ref, tm)
    engine.finalize_object()
    art = artefact(unary_jacobian, "uj")
    scalar, _keep = scalar_reference(art.specs)
    pts = _unary_points()
    for spec in art.specs:
        address = engine.get_function_address(art.symbol(spec))
        fn = ctypes.CFUNCTYPE(
            None, *[ctypes.c_void_p] * 3, ctypes.c_int64, ctypes.c_int64, ctypes.c_void_p
        )(address)
        want_fn, work = scalar[spec.name]
        assert_same_float(
            run_kernel(fn, spec.width, pts, None, work),
            run_kernel(want_fn, spec.width, pts, None, work),
        )


def test_llvm_ir_for_a_named_triple_says_so(tmp_path: Path) -> None:
    jac = symjac.jacobian([X * sp.exp(Y)], [X, Y])
    (path,) = emit(jac, tmp_path, "t", target="llvm", triple="aarch64-unknown-linux-gnu")
    assert 'target triple = "aarch64-unknown-linux-gnu"' in path.read_text()


@pytest.mark.parametrize(
    ("triple", "machine"),
    [(None, EM_X86_64), ("aarch64-unknown-linux-gnu", EM_AARCH64), ("x86_64-pc-linux-gnu", 62)],
    ids=["host", "aarch64", "x86_64"],
)
def test_object_code_is_an_elf_for_the_requested_machine(tmp_path: Path, triple, machine) -> None:
    import platform

    if triple is None and (not sys.platform.startswith("linux") or platform.machine() != "x86_64"):
        pytest.skip("the host check expects an x86-64 Linux host")
    jac = symjac.jacobian([X * sp.exp(Y), sp.Max(X, Y)], [X, Y])
    (path,) = emit(jac, tmp_path, "obj", target="object", triple=triple)
    assert path.name == "obj.o"
    data = path.read_bytes()
    assert _elf_header(data) == (2, 1, machine)
    for symbol in (b"obj_values\x00", b"obj_dense\x00"):  # in the string table
        assert symbol in data


def test_object_code_rejects_an_unknown_triple(tmp_path: Path) -> None:
    jac = symjac.jacobian([X * Y], [X, Y])
    with pytest.raises(ValueError, match="triple"):
        emit(jac, tmp_path, "bad", target="object", triple="nonsense-cpu-nowhere")


def _defined_dynamic_symbols(library: Path) -> list[str]:
    nm = shutil.which("nm")
    if nm is None:
        pytest.skip("nm is not installed")
    listing = subprocess.run(
        [nm, "-D", "--defined-only", str(library)], capture_output=True, text=True, check=True
    ).stdout
    return sorted(line.split()[-1] for line in listing.splitlines() if line.strip())


@needs_cc
def test_shared_library_exports_only_the_kernels_and_matches_c_and_jit(
    tmp_path: Path, unary_jacobian
) -> None:
    (library,) = emit(unary_jacobian, tmp_path, "uj", target="shared")
    assert library.name == "libuj.so"
    assert _defined_dynamic_symbols(library) == ["uj_dense", "uj_values"]
    emit(unary_jacobian, tmp_path, "uj", target="c")
    from_c = build_c(tmp_path, ["uj"])
    shared = ctypes.CDLL(str(library))
    art = artefact(unary_jacobian, "uj")
    pts = _unary_points()
    check_against_jit(shared, art, pts, obj=unary_jacobian)
    for spec in art.specs:
        symbol = art.symbol(spec)
        assert_same_float(
            run_kernel(getattr(shared, symbol), spec.width, pts),
            run_kernel(getattr(from_c, symbol), spec.width, pts),
        )


def test_shared_library_without_a_compiler_is_a_clear_error(tmp_path: Path, monkeypatch) -> None:
    monkeypatch.setenv("PATH", str(tmp_path / "empty"))
    monkeypatch.delenv("CC", raising=False)
    jac = symjac.jacobian([X * Y], [X, Y])
    with pytest.raises(RuntimeError, match="no C compiler"):
        emit(jac, tmp_path, "nocc", target="shared")
    with pytest.raises(ValueError, match="for this machine"):
        emit(jac, tmp_path, "cross", target="shared", triple="aarch64-unknown-linux-gnu")


# -- the Python package --------------------------------------------------------------------------


def _c99_objective(x: sp.Symbol, y: sp.Symbol, a: sp.Symbol) -> sp.Expr:
    return (
        cf.expm1(x * y) + cf.log1p(x**2) + cf.Cbrt(x - y) + cf.hypot(x, a)
        + cf.exp2(y) * cf.log10(1 + x**2) + cf.log2(2 + y**2)
        + sp.besselj(1, x) * sp.bessely(2, 3 + y**2) + sp.polygamma(2, 1 + x**2 + a**2)
    )  # fmt: skip


C99_OBJECTIVE = _c99_objective(X, Y, sp.Symbol("a", real=True))


def _objects_of_every_kind() -> dict[str, object]:
    z = sp.Symbol("z", real=True)
    a = sp.Symbol("a", real=True)
    exprs = [X**2 * Y + sp.Max(X, a), sp.Piecewise((sp.sin(X * a), X < Y), (Y**-3, True)), z - Y]
    return {
        "jac": symjac.jacobian(exprs, [X, Y, z], [a]),
        "fun": symjac.function(exprs, [X, Y, z], [a]),
        "fj": symjac.function_and_jacobian(exprs, [X, Y, z], [a]),
        "hes": symjac.hessian(X**3 * Y + a * Y**2 * z, [X, Y, z], [a]),
        "nop": symjac.jacobian([sp.exp(X) * Y], [X, Y]),  # no parameters
        "c99": symjac.hessian(C99_OBJECTIVE, [X, Y], [a]),  # the C99 functions' rows
    }


#: the methods compared between an emitted kernel and its object (where the object has them)
CALLS = ["__call__", "values", "dense"]


def _results(obj, method: str, pts, p) -> list[np.ndarray]:
    if method != "__call__" and not hasattr(obj, method):
        return []
    result = getattr(obj, method)(pts, p) if p is not None else getattr(obj, method)(pts)
    return [np.asarray(r) for r in (result if isinstance(result, tuple) else (result,))]


def _runtime_kernel(obj, name: str):
    """The package runtime (``runtime.calls``) driving scalar JIT kernels instead of a .so."""
    from symjac.codegen import pypackage

    from symjac.runtime import calls

    art = artefact(obj, name)
    scalar, keep = scalar_reference(art.specs)
    work = {spec: w for spec, (_, w) in scalar.items()}
    meta = pypackage.metadata(art, "unused", work)
    kernel = calls.from_metadata(meta, scalar)
    kernel._keep = keep
    return kernel


BAD_ARGUMENTS = [
    ("complex x", lambda n, k: (np.ones(n, dtype=complex), np.ones(k)), {}),
    ("wrong length", lambda n, k: (np.ones(n + 1), np.ones(k)), {}),
    ("3-d x", lambda n, k: (np.ones((2, 2, n)), np.ones(k)), {}),
    ("bool x", lambda n, k: (np.ones(n, dtype=bool), np.ones(k)), {}),
    ("string x", lambda n, k: ("abc", np.ones(k)), {}),
    ("p rows without batch", lambda n, k: (np.ones(n), np.ones((3, k))), {}),
    ("p rows mismatch", lambda n, k: (np.ones((2, n)), np.ones((3, k))), {}),
    ("unknown p name", lambda n, k: (np.ones(n), {"nope": 1.0}), {}),
    ("out wrong dtype", lambda n, k: (np.ones(n), np.ones(k)), {"out": np.ones(1, np.float32)}),
    ("out wrong shape", lambda n, k: (np.ones(n), np.ones(k)), {"out": np.ones(1)}),
    ("out read-only", lambda n, k: (np.ones(n), np.ones(k)), {"out": "readonly"}),
    ("out not contiguous", lambda n, k: (np.ones(n), np.ones(k)), {"out": "strided"}),
    ("out aliasing x", lambda n, k: (np.ones(n), np.ones(k)), {"out": "alias"}),
    ("out a list", lambda n, k: (np.ones(n), np.ones(k)), {"out": [0.0]}),
]


def _bad_call(obj, make, kwargs):
    """Call ``obj.values`` (or the function) with bad arguments; the exception's type name."""
    n, k = len(obj.wrt), len(obj.params)
    x, p = make(n, k)
    method = obj.values if hasattr(obj, "values") else obj
    kw = dict(kwargs)
    good = method(np.ones(n), np.ones(k) if k else None)
    good = np.concatenate(good) if isinstance(good, tuple) else good
    if kw.get("out") == "readonly":
        kw["out"] = np.zeros_like(good)
        kw["out"].flags.writeable = False
    elif kw.get("out") == "strided":
        kw["out"] = np.zeros(2 * good.size)[::2]
    elif kw.get("out") == "alias":
        x = np.zeros(max(n, good.size))
        kw["out"], x = x[: good.size], x[:n]
    try:
        method(x, p if k or not isinstance(p, np.ndarray) else None, **kw)
    except Exception as exc:
        return type(exc).__name__
    return "no error"


def test_package_runtime_matches_the_objects_and_validates_alike() -> None:
    for label, obj in _objects_of_every_kind().items():
        kernel = _runtime_kernel(obj, label)
        k = len(obj.params)
        p = np.linspace(0.3, 0.9, k) if k else None
        pts = grid([(0.5, -1.5, 2.0)[: len(obj.wrt)]], len(obj.wrt))
        for method in CALLS:
            for got, want in zip(_results(kernel, method, pts, p), _results(obj, method, pts, p)):
                assert_precise_equal(got, want, f"({label}.{method})")
        assert kernel.shape == obj.shape
        if hasattr(obj, "pattern"):
            assert kernel.nnz == obj.nnz
            for field in ("rows", "cols", "indptr", "indices"):
                assert (
                    getattr(kernel.pattern, field).tolist() == getattr(obj.pattern, field).tolist()
                )
        for bad, make, kwargs in BAD_ARGUMENTS:
            if not k and bad.startswith("p "):
                continue
            want = _bad_call(obj, make, kwargs)
            assert want != "no error", (label, bad)
            assert _bad_call(kernel, make, kwargs) == want, (label, bad)


class _AlwaysSplit:
    """A split policy that splits every batch (whatever this machine measures)."""

    tiny = 0

    def plan(self, n: int, threads: int) -> int:
        return threads

    def record(self, n: int, used: int, seconds: float, threads: int) -> None:
        self.used = used


@needs_cc
def test_python_package_splits_batches_across_threads_like_the_object(tmp_path: Path) -> None:
    """The package runs the shared runtime's call path, thread pool included."""
    from symjac.runtime import calls

    xs = sp.symbols("x0:12")
    a = sp.Symbol("a")
    exprs = [sp.sin(xs[i]) * xs[(i + 1) % 12] ** 2 + a * sp.exp(-xs[i]) for i in range(12)]
    obj = symjac.jacobian(exprs, list(xs), [a])
    emit(obj, tmp_path, "split", target="python")
    kernel = calls.load(str(tmp_path / "split"))
    pts = np.random.default_rng(3).uniform(-2.0, 2.0, (3001, 12))
    kernel.threads = 1
    serial = kernel.values(pts, [0.7])
    kernel.threads = 2
    policy = _AlwaysSplit()
    kernel._timings["values"] = policy  # type: ignore[assignment]
    split = kernel.values(pts, [0.7])
    assert policy.used == 2  # the batch was split
    assert_precise_equal(split, serial, "(split vs serial)")
    assert_precise_equal(serial, obj.values(pts, [0.7]), "(package vs object)")
    ref = SympyReference(exprs, xs, [a]).jacobian(pts[[0, 1500, 3000]], [0.7])
    dense = kernel.dense(pts[[0, 1500, 3000]], [0.7])
    np.testing.assert_allclose(dense, ref, rtol=1e-13, atol=1e-300)


_USE_PACKAGES = r"""
import importlib, json, sys
for blocked in ("sympy", "llvmlite", "symjac"):
    sys.modules[blocked] = None  # importing them now fails
sys.path.insert(0, sys.argv[1])
import numpy as np

inputs = np.load(sys.argv[2])
results, errors = {}, {}
for label in json.loads(sys.argv[3]):
    kernel = importlib.import_module(label).kernel
    pts, p = inputs["pts_" + label], inputs["p_" + label]
    p = p if p.size else None
    for method in ("__call__", "values", "dense"):
        if method == "__call__" or hasattr(kernel, method):
            out = getattr(kernel, method)(pts, p)
            for i, arr in enumerate(out if isinstance(out, tuple) else (out,)):
                results[f"{label}.{method}.{i}"] = arr
    bad = {
        "complex": lambda: kernel(np.ones(len(kernel.wrt), dtype=complex), p),
        "shape": lambda: kernel(np.ones(len(kernel.wrt) + 1), p),
        "out dtype": lambda: kernel(pts, p, out=np.ones(3, dtype=np.float32)),
    }
    for what, call in bad.items():
        try:
            call()
            errors[f"{label}.{what}"] = "no error"
        except Exception as exc:
            errors[f"{label}.{what}"] = type(exc).__name__
    results[label + ".shape"] = np.array(kernel.shape)
    if hasattr(kernel, "pattern"):
        results[label + ".indptr"] = kernel.pattern.indptr
        results[label + ".names"] = np.array([*kernel.wrt, "|", *kernel.params])
loaded = sorted(m for m, v in sys.modules.items() if v is not None
                and m.split(".")[0] in ("sympy", "llvmlite", "symjac", "mpmath"))
np.savez(sys.argv[4], **results)
print(json.dumps({"errors": errors, "loaded": loaded}))
"""


def _use_packages(directory: Path, inputs: dict[str, np.ndarray], labels: list[str]):
    import json

    np.savez(directory / "inputs.npz", **inputs)
    done = subprocess.run(
        [
            sys.executable,
            "-c",
            _USE_PACKAGES,
            str(directory),
            str(directory / "inputs.npz"),
            json.dumps(labels),
            str(directory / "results.npz"),
        ],
        capture_output=True,
        text=True,
        timeout=60,
    )
    assert done.returncode == 0, done.stderr
    return np.load(directory / "results.npz"), json.loads(done.stdout)


@needs_cc
def test_python_package_runs_without_sympy_llvmlite_or_symjac(tmp_path: Path) -> None:
    objects = _objects_of_every_kind()
    inputs, paths = {}, []
    for label, obj in objects.items():
        paths += emit(obj, tmp_path, label, target="python")
        k = len(obj.params)
        inputs["pts_" + label] = grid([(0.5, -1.5, 2.0)[: len(obj.wrt)]], len(obj.wrt))
        inputs["p_" + label] = np.linspace(0.3, 0.9, k)
    assert {p.name for p in paths if p.parent.name == "jac"} == {
        "__init__.py",
        "_calls.py",
        "_arguments.py",
        "_parallel.py",
        "_abi.py",
        "metadata.json",
        "libjac.so",
    }
    results, report = _use_packages(tmp_path, inputs, list(objects))
    assert report["loaded"] == []
    for label, obj in objects.items():
        pts, p = inputs["pts_" + label], inputs["p_" + label]
        p = p if p.size else None
        for method in CALLS:
            for i, want in enumerate(_results(obj, method, pts, p)):
                assert_precise_equal(results[f"{label}.{method}.{i}"], want, f"({label}.{method})")
        assert tuple(results[label + ".shape"]) == obj.shape
        if hasattr(obj, "pattern"):
            assert results[label + ".indptr"].tolist() == obj.pattern.indptr.tolist()
            names = [str(s) for s in (*obj.wrt, "|", *obj.params)]
            assert results[label + ".names"].tolist() == names
        want_errors = {
            "complex": "TypeError",
            "shape": "ValueError",
            "out dtype": "TypeError",
        }
        for what, error in want_errors.items():
            assert report["errors"][f"{label}.{what}"] == error, (label, what)


@needs_cc
def test_python_package_with_hostile_names(tmp_path: Path) -> None:
    import ast

    syms = [sp.Symbol(name, real=True) for name in HOSTILE]
    jac = symjac.jacobian(
        [syms[0] * sp.sin(syms[1]) + syms[2], syms[3] ** 2 - syms[4]], syms[:4], [syms[4]]
    )
    emit(jac, tmp_path, "hostile", target="python")
    for source in (tmp_path / "hostile").glob("*.py"):
        text = source.read_text()
        ast.parse(text)
        for line in text.splitlines():
            if "system" in line or "evil" in line or "boom" in line:
                assert line.startswith("# "), line
    pts = np.array([[0.5, 1.0, -2.0, 3.0], [nan, 0.0, inf, -1.0]])
    results, report = _use_packages(
        tmp_path, {"pts_hostile": pts, "p_hostile": np.array([0.25])}, ["hostile"]
    )
    assert report["loaded"] == []
    assert results["hostile.names"].tolist() == [*HOSTILE[:4], "|", HOSTILE[4]]
    assert_precise_equal(results["hostile.__call__.0"], jac(pts, [0.25]))


# -- the example ------------------------------------------------------------------------------

EXAMPLE = Path(__file__).resolve().parent.parent / "examples" / "standalone_c"


def _entries(text: str) -> dict[str, float]:
    return {line.split(" = ")[0]: float(line.split(" = ")[1]) for line in text.splitlines()}


@needs_cc
def test_standalone_c_example_builds_runs_and_matches_the_jit(tmp_path: Path) -> None:
    assert CC is not None
    emitted = subprocess.run(
        [sys.executable, str(EXAMPLE / "emit_robertson.py"), str(tmp_path)],
        capture_output=True,
        text=True,
        check=True,
        timeout=60,
    )
    program = tmp_path / "robertson"
    sources = [str(EXAMPLE / "main.c"), str(tmp_path / "robertson.c")]
    subprocess.run(
        [CC, *STRICT, "-I", str(tmp_path), *sources, "-lm", "-o", str(program)],
        check=True,
        capture_output=True,
        text=True,
    )
    sys.path.insert(0, str(EXAMPLE))
    try:
        import emit_robertson as ex
    finally:
        sys.path.remove(str(EXAMPLE))
    jac = symjac.jacobian(ex.RHS, [ex.y1, ex.y2, ex.y3], [ex.k1, ex.k2, ex.k3])
    keys = [f"J[{i}][{j}]" for i, j in zip(jac.pattern.rows, jac.pattern.cols)]
    assert list(_entries(emitted.stdout)) == keys  # the script prints the JIT's values ...
    for point in ([1.0, 2e-5, 0.3], [0.5, 1e-3, 0.2]):
        from_c = subprocess.run(
            [str(program), *map(repr, point)], capture_output=True, text=True, check=True
        ).stdout
        got = _entries(from_c)
        assert list(got) == keys
        assert_same_float(list(got.values()), jac.values(np.array(point), ex.RATES))
        if point == [1.0, 2e-5, 0.3]:  # ... at the program's default point
            assert got == _entries(emitted.stdout)


@needs_cc
def test_c_edge_cases_empty_pattern_constant_outputs_and_fastmath(tmp_path: Path) -> None:
    empty = symjac.jacobian([sp.floor(X), sp.Integer(3)], [X, Y])  # nnz = 0
    constant = symjac.function([sp.Integer(3), X, sp.pi], [X])
    fast = symjac.jacobian([sp.sin(X) * Y], [X, Y], fastmath=True)
    assert empty.nnz == 0
    for name, obj in (("empty", empty), ("constant", constant), ("fast", fast)):
        emit(obj, tmp_path, name)
    assert "-ffast-math would relax it" in (tmp_path / "fast.c").read_text()
    lib = build_c(tmp_path, ["empty", "constant", "fast"])
    pts = grid([(0.5, 2.0)], 2)
    check_against_jit(lib, artefact(empty, "empty"), pts, obj=empty)
    check_against_jit(lib, artefact(constant, "constant"), pts[:, :1], obj=constant)
    check_against_jit(lib, artefact(fast, "fast"), np.array([[0.5, 2.0], [-1.0, 3.0]]))
    assert_same_float(run_kernel(lib.empty_dense, 4, pts), np.zeros((len(pts), 4)))
