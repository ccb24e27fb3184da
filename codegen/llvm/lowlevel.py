"""Kernels behind other C signatures: ``double f(int n, double *xx, void *user_data)``.

SciPy's ``quad``, ``dblquad`` and ``nquad`` call a ``scipy.LowLevelCallable`` of that
signature without Python in the loop. :func:`point_function` JIT-compiles a small wrapper
that calls a compiled kernel (the kernel ABI, :mod:`symjac.runtime.abi`) on the one point
``xx`` with the parameters ``user_data`` and returns one of its outputs; the output row
and the work buffer live on the wrapper's stack, so the wrapper is reentrant. A call with
``n`` other than the kernel's number of inputs returns NaN (a C callback cannot raise).
"""

from __future__ import annotations

import ctypes
from typing import Any

from llvmlite import ir
from symjac.codegen.llvm.emitter import DOUBLE, I32, I64, PTR
from symjac.codegen.llvm.jit import JitModule
from symjac.codegen.llvm.lower import KERNEL_TYPE

#: ``double (int, double *, void *)``, as ``scipy.LowLevelCallable`` names it
POINT_CFUNC = ctypes.CFUNCTYPE(
    ctypes.c_double, ctypes.c_int, ctypes.POINTER(ctypes.c_double), ctypes.c_void_p
)


def point_function(address: int, n_vars: int, width: int, output: int, work: int) -> Any:
    """A ctypes function ``double (int n, double *xx, void *p)`` returning output ``output``
    of the kernel at ``address`` (``n_vars`` inputs, ``width`` outputs, ``work`` doubles of
    scratch) at the point ``xx``; it keeps its module alive (``._owner``).

    >>> import numpy as np
    >>> from symjac.ir.graph import Graph
    >>> from symjac.ir.tape import KernelSpec, Tape
    >>> from symjac.codegen.llvm.build import Build, build_kernels
    >>> g = Graph(); x, y, a = g.var(0), g.var(1), g.param(0)
    >>> spec = KernelSpec("f", Tape.from_graph(g, [g.mul(x, y), g.mul(a, x)], 2, 1), 2, (0, 1))
    >>> k = build_kernels([spec], Build())
    >>> f = point_function(k.jit.address("f"), 2, 2, 1, k.work_sizes["f"])
    >>> p = (ctypes.c_double * 1)(10.0)
    >>> f(2, (ctypes.c_double * 2)(3.0, 4.0), ctypes.cast(p, ctypes.c_void_p))  # a·x
    30.0
    >>> bool(np.isnan(f(3, (ctypes.c_double * 2)(3.0, 4.0), None)))  # wrong n: NaN
    True
    """
    if not 0 <= output < width:
        raise ValueError(f"output must be in 0..{width - 1}, not {output}")
    module = ir.Module("lowlevel")
    fn = ir.Function(module, ir.FunctionType(DOUBLE, [I32, PTR, PTR]), "point")
    n, xx, user_data = fn.args
    entry = fn.append_basic_block("entry")
    call = fn.append_basic_block("call")
    wrong = fn.append_basic_block("wrong_n")
    b = ir.IRBuilder(entry)
    b.cbranch(b.icmp_signed("==", n, ir.Constant(I32, n_vars)), call, wrong)
    b.position_at_end(wrong)
    b.ret(ir.Constant(DOUBLE, float("nan")))
    b.position_at_end(call)
    out = b.alloca(DOUBLE, width, name="out")
    scratch = b.alloca(DOUBLE, work, name="work") if work else ir.Constant(PTR, None)
    kernel = b.inttoptr(ir.Constant(I64, address), KERNEL_TYPE.as_pointer())
    b.call(kernel, [xx, user_data, out, ir.Constant(I64, 1), ir.Constant(I64, 0), scratch])
    b.ret(b.load(b.gep(out, [ir.Constant(I64, output)], source_etype=DOUBLE), typ=DOUBLE))
    jit = JitModule(module, opt_level=2)
    function = POINT_CFUNC(jit.address("point"))
    function._owner = jit  # type: ignore[attr-defined]  # the engine outlives the pointer
    return function
