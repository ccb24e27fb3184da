"""``obj.stages``: every intermediate of a compilation, equal to what the compilation used."""

from __future__ import annotations

import pickle

import llvmlite.binding as llvm
import numpy as np
import pytest
import sympy as sp

import symjac
from symjac.frontend.tosympy import tape_to_sympy
from symjac.ir import scalar

X, Y, A = sp.symbols("x y a", real=True)
EXPRS = [X * sp.sin(Y) + A, sp.digamma(X + 2) * Y]


@pytest.fixture(scope="module")
def objects():
    return {
        "jacobian": symjac.jacobian(EXPRS, [X, Y], [A]),
        "function": symjac.function(EXPRS, [X, Y], [A]),
        "function_and_jacobian": symjac.function_and_jacobian(EXPRS, [X, Y], [A]),
        "hessian": symjac.hessian(EXPRS[0] * EXPRS[1], [X, Y], [A]),
    }


@pytest.mark.parametrize("kind", ["jacobian", "function", "function_and_jacobian", "hessian"])
def test_stages_are_the_compilation_s_own(objects, kind):
    obj = objects[kind]
    st = obj.stages
    assert st.wrt == (X, Y) and st.params == (A,)
    graph, roots = st.graph()
    assert len(graph) == obj.stats.sizes["graph_front_end"]  # the same graph, rebuilt
    assert len(roots) == len(st.sympy)
    # the kept tape is what to_sympy reads, and the kernels compile the expanded one
    assert set(st.kernel_tapes) == {spec.name for spec in obj._kernels.specs}
    for tape in st.kernel_tapes.values():
        assert "DIGAMMA" not in tape.op_counts()
    # the IR as lowered parses and verifies; the optimised IR and the assembly name the kernels
    module = llvm.parse_assembly(st.llvm_ir())
    module.verify()
    for name in st.kernel_tapes:
        assert f'define void @"{name}"(' in st.llvm_ir()
        assert f"@{name}(" in st.optimised_ir()
        assert f"{name}:" in st.assembly()
    outputs = "1 output" if kind == "hessian" else "2 outputs"
    assert st.summary().splitlines()[0] == f"sympy: {outputs} in x, y; parameters a"


def test_derivatives_are_the_jacobian_s_entries(objects):
    jac = objects["jacobian"]
    _, grads = jac.stages.derivatives()
    assert [(i, j) for i, grad in enumerate(grads) for j in sorted(grad)] == list(
        zip(jac.pattern.rows.tolist(), jac.pattern.cols.tolist())
    )
    assert sum(len(g) for g in grads) == jac.stats.sizes["entries"]


def test_a_function_has_no_derivative_stage(objects):
    with pytest.raises(ValueError, match="no derivative stage"):
        objects["function"].stages.derivatives()


def test_the_kept_tape_evaluates_to_the_kernel_s_values(objects):
    jac = objects["jacobian"]
    x, p = np.array([0.7, -1.2]), np.array([0.3])
    want = jac.values(x, p)
    tape = jac.stages.kernel_tapes["values"]
    got = np.array(scalar.run(tape, x.tolist(), p.tolist()))
    np.testing.assert_allclose(got, want, rtol=1e-15)
    assert len(tape_to_sympy(jac.stages.tape, [X, Y], [A])) == jac.nnz


def test_stages_survive_pickling(objects):
    clone = pickle.loads(pickle.dumps(objects["jacobian"]))
    assert clone.stages.sympy == tuple(EXPRS)
    assert len(clone.stages.graph()[0]) == objects["jacobian"].stats.sizes["graph_front_end"]
