"""JIT compilation with llvmlite: verify, optimise (new pass manager), MCJIT for the host.

A :class:`JitModule` owns its execution engine. Function pointers into it are
only handed out as ctypes functions that hold a reference back to the
:class:`JitModule`, so the machine code cannot be freed while anything can
still call it.
"""

from __future__ import annotations

import ctypes
import ctypes.util
import functools
import time
from collections.abc import Callable
from typing import Any

import llvmlite
import llvmlite.binding as llvm
from llvmlite import ir
from symjac.codegen.cache import ObjectCache, key
from symjac.codegen.llvm.emitter import vector_symbol

from symjac.ir.dtypes import FLOAT64, DType
from symjac.runtime.abi import ctypes_argtypes

#: ctypes signature of every kernel (:mod:`symjac.runtime.abi`): (x, p, out, n, p_stride, work)
KERNEL_CFUNC = ctypes.CFUNCTYPE(None, *ctypes_argtypes())


@functools.lru_cache(maxsize=1)
def _initialise() -> None:
    try:  # required before llvmlite 0.45's automatic initialisation, an error after it
        llvm.initialize()
    except RuntimeError:
        pass
    llvm.initialize_native_target()
    llvm.initialize_native_asmprinter()
    # the kernels call libm; make sure MCJIT can resolve it even if Python did not load it
    libm = _library("m")
    if libm:
        llvm.load_library_permanently(libm)


#: glibc's sonames, tried before ctypes.util.find_library (which runs ldconfig or a compiler:
#: ~7 ms of a fresh process's first compile)
_SONAMES = {"m": "libm.so.6", "mvec": "libmvec.so.1"}


def _library(name: str) -> str | None:
    """A loadable file name of the C library ``name`` (``m``, ``mvec``), or None."""
    soname = _SONAMES.get(name)
    if soname is not None:
        try:
            ctypes.CDLL(soname)
            return soname
        except OSError:
            pass
    return ctypes.util.find_library(name)


@functools.lru_cache(maxsize=1)
@functools.cache
def host_vector(dtype: DType = FLOAT64) -> tuple[int, bool]:
    """``(lanes, vector_libm)``: SIMD width in values of ``dtype`` for this CPU, and whether
    libmvec is usable for it.

    AVX-512 registers hold 512 bits (8 doubles, 16 floats), AVX2 256, otherwise 128
    (SSE2 / NEON). glibc's libmvec is used for elementary functions on x86-64 when it
    is installed and has the variants for that width and dtype (``_ZGVeN8v_sin``,
    ``_ZGVeN16v_sinf``); it is loaded into the process so MCJIT resolves it.

    >>> lanes, vector_libm = host_vector()
    >>> lanes in (2, 4, 8) and isinstance(vector_libm, bool)
    True
    >>> from symjac.ir.dtypes import FLOAT32
    >>> host_vector(FLOAT32)[0] == 2 * lanes
    True
    """
    _initialise()
    features = llvm.get_host_cpu_features()
    bits = 512 if features.get("avx512f") else 256 if features.get("avx2") else 128
    lanes = dtype.lanes(bits)
    if not llvm.get_process_triple().startswith("x86_64") or bits == 128:
        return lanes, False
    path = _library("mvec")
    try:
        library = ctypes.CDLL(path) if path else None
    except OSError:
        library = None
    if library is None or not hasattr(library, vector_symbol("sin", lanes, 1, dtype)):
        return lanes, False
    llvm.load_library_permanently(path)
    return lanes, True


def host_target_machine(opt_level: int = 3) -> llvm.TargetMachine:
    """A new target machine for this CPU (name and features detected by LLVM).

    Never cache one: an execution engine takes ownership of its target machine
    and frees it when the engine goes.

    >>> host_target_machine(opt_level=2).triple == llvm.get_process_triple()
    True
    """
    triple, cpu, features = _host()
    return llvm.Target.from_triple(triple).create_target_machine(
        cpu=cpu, features=features, opt=opt_level, jit=True
    )


@functools.lru_cache(maxsize=1)
def _host() -> tuple[str, str, str]:
    """Triple, CPU name and features of this host (asking LLVM costs ~0.25 ms a compile)."""
    _initialise()
    features = llvm.get_host_cpu_features().flatten()
    return llvm.get_process_triple(), llvm.get_host_cpu_name(), features


def host_description() -> dict[str, str]:
    """What the machine code is specialised for (part of any cache key).

    >>> sorted(host_description())
    ['cpu', 'features', 'llvm', 'llvmlite', 'triple']
    """
    triple, cpu, features = _host()
    return {
        "triple": triple,
        "cpu": cpu,
        "features": features,
        "llvm": ".".join(map(str, llvm.llvm_version_info)),
        "llvmlite": llvmlite.__version__,
    }


def optimise(
    module_ref: llvm.ModuleRef, tm: llvm.TargetMachine, opt_level: int, lean: bool = False
) -> None:
    """Run LLVM's ``O<opt_level>`` pipeline through the new pass manager.

    ``lean`` runs only SROA, instcombine, GVN and CFG simplification instead, which
    is what symjac's kernels use. Their IR is already CSE'd, constant-folded
    and vectorised across points, and the full pipeline (a) costs up to ~10x
    the time for no faster code (Gray–Scott N=32: 2.4 s vs 0.24 s of
    optimisation; Robertson, HIRES, arm6, nn_layer20, dense50: throughput
    within noise) and (b) leaks ~50–80 KB of native memory per run in
    llvmlite 0.50 (measured; the lean pipeline leaks ~5 KB, inside instcombine).

    ``opt_level=0`` leaves the module alone; either pipeline folds ``x * 1.0`` to ``x``:

    >>> ref = llvm.parse_assembly(
    ...     "define double @f(double %x) {\\n  %a = fmul double %x, 1.0\\n  ret double %a\\n}\\n"
    ... )
    >>> optimise(ref, host_target_machine(), 0); "fmul" in str(ref)
    True
    >>> optimise(ref, host_target_machine(), 3, lean=True); "ret double %x" in str(ref)
    True
    """
    if opt_level <= 0:
        return
    pto = llvm.create_pipeline_tuning_options(speed_level=opt_level)
    # The point loop reads and writes rows of interleaved (array-of-structs) data; LLVM's loop
    # vectoriser turns that into AVX-512 gathers and scatters, which measured 1.6-3x slower
    # than the scalar loop here (Zen 4: HIRES 16 vs 52 Mpts/s). SLP within a point stays on.
    pto.loop_vectorization = False
    pto.slp_vectorization = True
    builder = llvm.create_pass_builder(tm, pto)
    if lean:
        pm = llvm.create_new_module_pass_manager()
        pm.add_sroa_pass()  # a SIMD group's small stack frame into registers
        pm.add_instruction_combine_pass()
        pm.add_new_gvn_pass()
        pm.add_simplify_cfg_pass()
        pm.run(module_ref, builder)
        return
    builder.getModulePassManager().run(module_ref, builder)


def _text(module: ir.Module, tm: llvm.TargetMachine) -> str:
    """``module``'s IR for target machine ``tm`` (its triple and data layout set)."""
    module.triple = tm.triple
    module.data_layout = str(tm.target_data)
    return str(module)


class JitModule:
    """Compiled machine code for an LLVM module, owned for as long as this object lives.

    >>> from llvmlite import ir
    >>> m = ir.Module("demo")
    >>> fn = ir.Function(m, ir.FunctionType(ir.VoidType(), []), "nothing")
    >>> _ = ir.IRBuilder(fn.append_basic_block()).ret_void()
    >>> JitModule(m).address("nothing") != 0
    True
    """

    def __init__(
        self,
        module: ir.Module,
        opt_level: int = 3,
        lean: bool = False,
        cache: ObjectCache | None = None,
        context: dict[str, Any] | None = None,
        codegen_level: int | None = None,
    ):
        """``cache``: reuse object code compiled earlier (any process) for the same IR and
        ``context`` (whatever else changes the machine code; the host is added here).
        ``codegen_level``: the code generator's optimisation level (default ``opt_level``);
        0 selects instructions fast (FastISel) and allocates registers simply."""
        if opt_level not in (0, 1, 2, 3):
            raise ValueError(f"opt_level must be 0, 1, 2 or 3, not {opt_level!r}")
        codegen_level = opt_level if codegen_level is None else codegen_level
        if codegen_level not in (0, 1, 2, 3):
            raise ValueError(f"codegen_level must be 0, 1, 2 or 3, not {codegen_level!r}")
        tm = host_target_machine(codegen_level)
        self._tm, self._opt_level, self._lean = tm, opt_level, lean
        self._ref: llvm.ModuleRef | None = None  # the optimised module, derived for inspection
        self._cfuncs: dict[object, Any] = {}
        self._source: Callable[[], ir.Module] | None = None
        t0 = time.perf_counter()
        self._ir_text: str | None = _text(module, tm)
        self.cache_key: str | None = None
        self.codegen_level = codegen_level
        if cache is not None:
            full = {**(context or {}), **host_description(), "opt": opt_level, "lean": lean}
            full["version"] = cache.version
            full["codegen"] = codegen_level
            self.cache_key = key(self.ir_text, full)
            data = cache.load(self.cache_key)
            if data is not None:
                # a hit: no parsing, optimising or code generation, just linking the object
                self._link(data)
                self.timings = {"cache_load": time.perf_counter() - t0}
                return
        ref = llvm.parse_assembly(self.ir_text)
        ref.verify()
        t1 = time.perf_counter()
        optimise(ref, tm, opt_level, lean)
        t2 = time.perf_counter()
        self._engine = llvm.create_mcjit_compiler(ref, tm)
        produced: list[bytes] = []
        if cache is not None:
            self._engine.set_object_cache(lambda _module, data: produced.append(bytes(data)))
        self._engine.finalize_object()
        t3 = time.perf_counter()
        if cache is not None and produced and self.cache_key is not None:
            cache.store(self.cache_key, produced[0])
        self.timings = {"llvm_parse": t1 - t0, "llvm_optimise": t2 - t1, "machine_code": t3 - t2}

    @classmethod
    def from_object(
        cls,
        data: bytes,
        source: Callable[[], ir.Module],
        opt_level: int,
        lean: bool,
        codegen_level: int,
    ) -> JitModule:
        """Machine code from object code made earlier by a :class:`JitModule` with these
        levels (the warm-start cache); ``source`` makes the module again, only if the IR
        is asked for (:attr:`ir_text`, :meth:`optimised_ir`, :meth:`assembly`).

        >>> from llvmlite import ir
        >>> def source():
        ...     m = ir.Module("demo")
        ...     fn = ir.Function(m, ir.FunctionType(ir.VoidType(), []), "nothing")
        ...     _ = ir.IRBuilder(fn.append_basic_block()).ret_void()
        ...     return m
        >>> import tempfile
        >>> cache = ObjectCache(tempfile.mkdtemp())
        >>> first = JitModule(source(), 1, cache=cache)
        >>> again = JitModule.from_object(cache.load(first.cache_key), source, 1, False, 1)
        >>> again.address("nothing") != 0, again.ir_text == first.ir_text
        (True, True)
        """
        self = cls.__new__(cls)
        host_vector()  # loads libmvec, which the object code may call (as lowering does)
        self._tm = host_target_machine(codegen_level)
        self._opt_level, self._lean, self.codegen_level = opt_level, lean, codegen_level
        self._ref, self._cfuncs, self._source, self._ir_text = None, {}, source, None
        self.cache_key = None
        t0 = time.perf_counter()
        self._link(data)
        self.timings = {"cache_load": time.perf_counter() - t0}
        return self

    def _link(self, data: bytes) -> None:
        """An engine holding nothing but the object code ``data``, linked."""
        empty = llvm.parse_assembly(f'target triple = "{self._tm.triple}"\n')
        self._engine = llvm.create_mcjit_compiler(empty, self._tm)
        self._engine.add_object_file(llvm.ObjectFileRef.from_data(data))
        self._engine.finalize_object()

    @property
    def ir_text(self) -> str:
        """The module's LLVM IR as given (before optimisation).

        >>> from llvmlite import ir
        >>> m = ir.Module("demo")
        >>> "demo" in JitModule(m, opt_level=0).ir_text
        True
        """
        if self._ir_text is None:
            assert self._source is not None
            self._ir_text = _text(self._source(), self._tm)
        return self._ir_text

    def _optimised(self) -> llvm.ModuleRef:
        # derived again, whether the code came from the cache or not: MCJIT's code generator
        # rewrites the module it compiled (loop strength reduction, CodeGenPrepare)
        if self._ref is None:
            ref = llvm.parse_assembly(self.ir_text)
            optimise(ref, self._tm, self._opt_level, self._lean)
            self._ref = ref
        return self._ref

    def address(self, name: str) -> int:
        """Address of a compiled function; valid only while this object is alive.

        >>> from llvmlite import ir
        >>> m = ir.Module("demo")
        >>> fn = ir.Function(m, ir.FunctionType(ir.VoidType(), []), "nothing")
        >>> _ = ir.IRBuilder(fn.append_basic_block()).ret_void()
        >>> jit = JitModule(m, opt_level=0)
        >>> jit.address("nothing") > 0
        True
        >>> jit.address("something")
        Traceback (most recent call last):
        ...
        KeyError: "no function named 'something' in this module"
        """
        addr = int(self._engine.get_function_address(name))
        if not addr:
            raise KeyError(f"no function named {name!r} in this module")
        return addr

    def kernel(self, name: str) -> Any:
        """The kernel ``name`` as a ctypes function that keeps this module alive.

        ctypes releases the GIL for the duration of the call.

        >>> import numpy as np
        >>> from symjac.ir.graph import Graph
        >>> from symjac.ir.tape import Tape, KernelSpec
        >>> from symjac.codegen.llvm.lower import lower
        >>> g = Graph(); x = g.var(0)
        >>> spec = KernelSpec("sq", Tape.from_graph(g, [g.mul(x, x)], 1, 0), 1, (0,))
        >>> jit = JitModule(lower([spec]).module, opt_level=0)
        >>> xs, out = np.array([1.0, 2.0, 3.0]), np.empty(3)
        >>> jit.kernel("sq")(xs.ctypes.data, None, out.ctypes.data, 3, 0, None)  # 3 points
        >>> out.tolist()
        [1.0, 4.0, 9.0]
        """
        fn = self._cfuncs.get(name)
        if fn is None:
            fn = KERNEL_CFUNC(self.address(name))
            fn._owner = self  # type: ignore[attr-defined]  # the engine must outlive every pointer into it
            self._cfuncs[name] = fn
        return fn

    def set_global(self, name: str, value: int) -> None:
        """Store the 64-bit integer ``value`` in the module's global variable ``name``.

        >>> from llvmlite import ir
        >>> m = ir.Module("demo")
        >>> ir.GlobalVariable(m, ir.IntType(64), "counter").initializer = ir.Constant(
        ...     ir.IntType(64), 0
        ... )
        >>> fn = ir.Function(m, ir.FunctionType(ir.IntType(64), []), "read")
        >>> b = ir.IRBuilder(fn.append_basic_block())
        >>> _ = b.ret(b.load(m.get_global("counter"), typ=ir.IntType(64)))
        >>> import ctypes
        >>> jit = JitModule(m, opt_level=0)
        >>> read = ctypes.CFUNCTYPE(ctypes.c_int64)(jit.address("read"))
        >>> jit.set_global("counter", 42); read()
        42
        >>> jit.set_global("nothing", 1)
        Traceback (most recent call last):
        ...
        KeyError: "no global named 'nothing' in this module"
        """
        address = int(self._engine.get_global_value_address(name))
        if not address:
            raise KeyError(f"no global named {name!r} in this module")
        ctypes.c_uint64.from_address(address).value = value

    def optimised_ir(self) -> str:
        """The LLVM IR after optimisation, for inspection.

        A compiled object's module is ``obj._kernels.jit`` (``symjac inspect`` prints this).

        >>> import sympy as sp, symjac
        >>> x, y = sp.symbols("x y")
        >>> ir_text = symjac.jacobian([x * y], [x, y])._kernels.jit.optimised_ir()
        >>> "define void @values(" in ir_text and "define void @dense(" in ir_text
        True
        """
        return str(self._optimised())

    def assembly(self) -> str:
        """The host assembly of the optimised module, for inspection.

        >>> import sympy as sp, symjac
        >>> x, y = sp.symbols("x y")
        >>> asm = symjac.jacobian([x * y], [x, y])._kernels.jit.assembly()
        >>> "values:" in asm and "dense:" in asm   # a label per kernel
        True
        """
        return str(self._tm.emit_assembly(self._optimised()))
