"""The command line: ``python -m symjac compile|inspect`` end to end, in subprocesses."""

from __future__ import annotations

import json
import os
import shutil
import subprocess
import sys
import textwrap
from pathlib import Path

import numpy as np
import pytest
import sympy as sp

import symjac
from symjac.cli import default_name, load_model

MODEL = textwrap.dedent(
    """
    import sympy as sp
    y = sp.symbols("y0:3", real=True)
    k = sp.symbols("k1:4", real=True)
    exprs = [-k[0]*y[0] + k[2]*y[1]*y[2], k[0]*y[0] - k[1]*y[1]**2 - k[2]*y[1]*y[2],
             k[1]*y[1]**2 + sp.sin(y[0])]
    wrt = list(y)
    params = list(k)
    """
)


def run(*args: str, cwd: Path) -> subprocess.CompletedProcess:
    return subprocess.run(
        [sys.executable, "-m", "symjac", *args], cwd=cwd, capture_output=True, text=True
    )


@pytest.fixture
def model(tmp_path: Path) -> Path:
    path = tmp_path / "rober-tson.py"
    path.write_text(MODEL)
    return path


def test_inspect_reports_shape_pattern_coloring_and_stats(model):
    result = run("inspect", model.name, "--ir", cwd=model.parent)
    assert result.returncode == 0, result.stderr
    out = result.stdout
    assert "shape 3 x 3, nnz 8" in out
    assert "column coloring: 3 colors" in out
    assert "###\n###\n##." in out  # the spy plot of the pattern
    assert "op counts:" in out and "define void @values(" in out
    exprs, wrt, params = load_model(model)
    jac = symjac.jacobian(exprs, wrt, params)
    assert f"nnz {jac.nnz}" in out


def test_a_reader_that_stops_early_gets_no_error(tmp_path):
    """``symjac inspect m.py --ir --asm | head -1``: no 'Broken pipe' message, no traceback."""
    (tmp_path / "big.py").write_text(
        "import sympy as sp\n"
        'x = sp.symbols("x0:40", real=True)\n'
        "exprs = [sp.sin(x[i] * x[(i + 1) % 40]) * sp.exp(x[i]) for i in range(40)]\n"
        "wrt = list(x)\n"
    )
    child = subprocess.Popen(
        [sys.executable, "-m", "symjac", "inspect", "big.py", "--ir", "--asm"],
        cwd=tmp_path,
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
    )
    assert child.stdout is not None and child.stderr is not None
    assert child.stdout.readline().startswith(b"<symjac.CompiledJacobian")
    child.stdout.close()  # ~110 KB follow: more than a pipe holds, so the writer hits EPIPE
    stderr = child.stderr.read().decode()
    assert child.wait(timeout=120) == 1
    assert stderr == "", stderr


def test_compile_python_package_gives_the_jit_values(model):
    out_dir = model.parent / "build"
    result = run("compile", model.name, "--target", "python", "-o", str(out_dir), cwd=model.parent)
    assert result.returncode == 0, result.stderr
    name = default_name(model)
    assert name == "rober_tson" and (out_dir / name / "__init__.py").is_file()
    point, k = [0.3, 0.2, 0.1], [0.04, 3e7, 1e4]
    code = f"import json, {name}; print(json.dumps({name}.kernel.values({point}, {k}).tolist()))"
    child = subprocess.run(
        [sys.executable, "-c", code], cwd=out_dir, capture_output=True, text=True
    )
    assert child.returncode == 0, child.stderr
    exprs, wrt, params = load_model(model)
    expected = symjac.jacobian(exprs, wrt, params).values(np.array(point), k)
    np.testing.assert_allclose(json.loads(child.stdout), expected, rtol=1e-14)


@pytest.mark.skipif(
    shutil.which("cc") is None and shutil.which("gcc") is None, reason="no C compiler"
)
def test_compile_c_builds_warning_free(model):
    out_dir = model.parent / "c"
    result = run(
        "compile", model.name, "--target", "c", "-o", str(out_dir), "--name", "rb", cwd=model.parent
    )
    assert result.returncode == 0, result.stderr
    assert sorted(p.name for p in out_dir.iterdir()) == ["rb.c", "rb.h"]
    cc = shutil.which("cc") or shutil.which("gcc")
    flags = ["-std=c99", "-O2", "-Wall", "-Wextra", "-Werror", "-pedantic", "-c"]
    build = subprocess.run([cc, *flags, "rb.c"], cwd=out_dir, capture_output=True, text=True)
    assert build.returncode == 0, build.stderr


def test_function_kind_and_model_function(tmp_path):
    path = tmp_path / "f.py"
    path.write_text(
        "import sympy as sp\n"
        "def model():\n"
        "    x, y = sp.symbols('x y')\n"
        "    return [x * y, sp.exp(x)], [x, y]\n"
    )
    result = run("inspect", "f.py", "--kind", "function", cwd=tmp_path)
    assert result.returncode == 0, result.stderr
    assert "outputs 2, inputs 2" in result.stdout
    _, wrt, params = load_model(path)
    assert params is None and wrt == list(sp.symbols("x y"))


@pytest.mark.parametrize(
    "content, args, message",
    [
        (None, ["inspect", "missing.py"], "no such model file: missing.py"),
        ("x = 1\n", ["inspect", "m.py"], "defines neither model() nor exprs and wrt"),
        (
            "import sympy as sp\nx = sp.Symbol('x')\nexprs = [x*z]\nwrt = [x]\n",
            ["inspect", "m.py"],
            "NameError",
        ),
    ],
)
def test_errors_are_one_line_and_a_nonzero_status(tmp_path, content, args, message):
    if content is not None:
        (tmp_path / "m.py").write_text(content)
    result = run(*args, cwd=tmp_path)
    assert result.returncode == 1
    assert result.stderr.startswith("symjac: error:") and result.stderr.count("\n") == 1
    assert message in result.stderr or message == "NameError"
    assert "Traceback" not in result.stderr
    debug = run("--debug", *args, cwd=tmp_path)
    assert debug.returncode == 1 and "Traceback" in debug.stderr


def test_bad_usage_exits_2(tmp_path):
    result = run("compile", "m.py", "--target", "fortran", "-o", "x", cwd=tmp_path)
    assert result.returncode == 2 and "invalid choice" in result.stderr


def test_cache_info_and_clear(tmp_path, model):
    env = {**os.environ, "SYMJAC_CACHE_DIR": str(tmp_path / "c")}

    def cli(*args: str) -> str:
        done = subprocess.run(
            [sys.executable, "-m", "symjac", *args],
            cwd=model.parent,
            env=env,
            capture_output=True,
            text=True,
        )
        assert done.returncode == 0, done.stderr
        return done.stdout

    assert "0 object-code entries" in cli("cache", "info")
    cli("inspect", model.name)
    info = cli("cache", "info")
    assert "1 object-code entries" in info and "1 warm-start entries" in info
    assert "removed 3 files" in cli("cache", "clear")  # .o, .json, .warm
    assert "0 object-code entries" in cli("cache", "info")


def test_compile_float32_c(tmp_path: Path) -> None:
    (tmp_path / "m.py").write_text(MODEL)
    result = run("compile", "m.py", "-o", "o", "--dtype", "float32", "--quiet", cwd=tmp_path)
    assert result.returncode == 0, result.stderr
    assert "const float *x" in (tmp_path / "o" / "m.h").read_text()
    inspect = run("inspect", "m.py", "--dtype", "float32", cwd=tmp_path)
    assert inspect.returncode == 0 and "dtype=float32" in inspect.stdout
    wrong = run("compile", "m.py", "-o", "o", "--dtype", "float16", cwd=tmp_path)
    assert wrong.returncode == 2 and "float16" in wrong.stderr


def test_compile_complex128_c(tmp_path: Path) -> None:
    (tmp_path / "m.py").write_text(MODEL)
    result = run("compile", "m.py", "-o", "o", "--dtype", "complex128", "--quiet", cwd=tmp_path)
    assert result.returncode == 0, result.stderr
    assert "const double complex *x" in (tmp_path / "o" / "m.h").read_text()
    inspect = run("inspect", "m.py", "--dtype", "complex128", cwd=tmp_path)
    assert inspect.returncode == 0 and "dtype=complex128" in inspect.stdout
