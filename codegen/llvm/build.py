"""Compiled kernels: build them from specs (lower, JIT) and keep what rebuilds them.

A :class:`Kernels` owns the JIT module. It also keeps the specs and the build
options, so the same kernels can be written out as standalone code
(:mod:`symjac.emit`) or rebuilt from scratch after unpickling — machine code
and function pointers never leave the process.
"""

from __future__ import annotations

import math
import threading
import time
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from typing import Any

import numpy as np
from symjac.codegen import JitModule, lower
from symjac.codegen.cache import ObjectCache
from symjac.codegen.llvm import pyabi
from symjac.codegen.llvm.jit import host_vector
from symjac.codegen.llvm.lower import Lowered

from symjac.ir.dtypes import DTYPES, DType
from symjac.ir.tape import KernelSpec
from symjac.passes import chunks


@dataclass(frozen=True)
class Build:
    """The options that change the machine code.

    >>> Build()
    Build(fastmath=False, opt_level=3, simd=True, vector_libm=True, dtype='float64')
    >>> Build(fastmath=True) == Build(fastmath=True), Build(opt_level=0) == Build()
    (True, False)
    """

    fastmath: bool = False
    opt_level: int = 3
    simd: bool = True
    vector_libm: bool = True
    #: what the kernels compute in: a name of :data:`symjac.ir.dtypes.DTYPES`
    dtype: str = "float64"

    @property
    def type(self) -> DType:
        """The row of :data:`symjac.ir.dtypes.DTYPES` of :attr:`dtype`.

        >>> Build(dtype="float32").type.ctype
        'float'
        """
        return DTYPES[self.dtype]

    def lanes(self) -> tuple[int, bool]:
        """``(lanes, vector_libm)`` to lower with on this host (lanes of :attr:`dtype`).

        >>> Build(simd=False).lanes()
        (1, False)
        >>> lanes, libm = Build().lanes(); lanes >= 1
        True
        >>> Build(dtype="float32").lanes()[0] == 2 * lanes
        True
        """
        if not self.simd:
            return 1, False
        lanes, has_libmvec = host_vector(self.type)
        return lanes, self.vector_libm and has_libmvec


@dataclass(frozen=True)
class Kernels:
    """A JIT module, the work-buffer size (in doubles) of each kernel, and its source.

    >>> from symjac.ir.graph import Graph
    >>> from symjac.ir.tape import Tape
    >>> g = Graph(); x = g.var(0)
    >>> spec = KernelSpec("f", Tape.from_graph(g, [g.sin(x)], 1, 0), 1, (0,))
    >>> k = build_kernels([spec], Build(opt_level=1))
    >>> [s.name for s in k.specs], k.opt_level, sorted(k.work_sizes) == ["f"]
    (['f'], 1, True)
    """

    jit: JitModule
    work_sizes: dict[str, int]
    specs: tuple[KernelSpec, ...] = ()
    build: Build = Build()
    #: SIMD lanes of these kernels (1: one point at a time)
    lanes: int = 1
    #: SIMD lanes of the host's batch kernels (``lanes`` is 1 until :meth:`batched`)
    simd_lanes: int = 1
    #: the SIMD build of one-lane kernels, made on first use
    _batched: dict[str, Kernels] = field(default_factory=dict, compare=False, repr=False)
    #: whether the SIMD build is kept, once its trial is over (see for_batch)
    _kept: list[bool] = field(default_factory=list, compare=False, repr=False)
    #: the on-disk cache the kernels were built with (the SIMD build uses it too)
    cache: ObjectCache | None = field(default=None, compare=False, repr=False)
    #: seconds these kernels took to build (lower, LLVM, machine code)
    build_seconds: float = field(default=0.0, compare=False, repr=False)
    #: kernels made and compiled on first use only (:meth:`deferred_kernels`), each a
    #: ``name`` and a ``spec()`` that makes its spec: complex kernels' twins that recover
    #: infinities (``symjac.passes.complexify.Twin``), needed only for points with a NaN
    deferred: tuple[Any, ...] = field(default=(), compare=False, repr=False)
    _deferred: dict[str, Kernels] = field(default_factory=dict, compare=False, repr=False)
    #: batches run on these kernels so far: seconds, points, the best seconds per point and
    #: how many batches (see for_batch)
    _rent: list[float] = field(
        default_factory=lambda: [0.0, 0.0, math.inf, 0.0], compare=False, repr=False
    )

    def deferred_kernels(self) -> Kernels:
        """The kernels of :attr:`deferred`, compiled together on first use (then kept), with
        these kernels' build options and cache.

        >>> from symjac.ir.graph import Graph
        >>> from symjac.ir.tape import Tape
        >>> from symjac.passes.complexify import Twin
        >>> g = Graph(); x = g.var(0)
        >>> f = KernelSpec("f", Tape.from_graph(g, [g.sin(x)], 1, 0), 1, (0,))
        >>> later = Twin(KernelSpec("g", Tape.from_graph(g, [g.mul(x, x)], 1, 0), 1, (0,)), "_2")
        >>> k = build_kernels([f], Build(), deferred=[later])
        >>> later_kernels = k.deferred_kernels()
        >>> [s.name for s in later_kernels.specs], k.deferred_kernels() is later_kernels
        (['g_2'], True)
        """
        built = self._deferred.get("")
        if built is None:
            specs = [later.spec() for later in self.deferred]
            built = build_kernels(specs, self.build, cache=self.cache)
            built = self._deferred.setdefault("", built)  # a racing thread's build is dropped
        return built

    def for_batch(self, n: int) -> Kernels:
        """The kernels to run a batch of ``n`` points on: these, or their SIMD build.

        The SIMD build costs several times the one-lane build (AVX-512, measured:
        2.8-10x, 34-350 ms on the corpus) and saves from 1 ns to 500 ns a point,
        so it pays only after 10^5 to 10^8 points. It is bought the way one buys
        skis one rents: once the batches run one lane wide, this one included
        (estimated from the time per point so far), have cost what the build is
        expected to cost, :data:`SIMD_BUILD_RATIO` times the one-lane build. While
        that estimate holds, the batches' total time stays within about twice the
        better choice made in hindsight; a solver calling one point at a time never pays.

        The SIMD build then runs a trial (:data:`SIMD_TRIAL`), and is kept only if its
        best time per point beat the one-lane kernels' best: on systems whose rows are
        tens of thousands of entries the batch is bound by memory, and a SIMD group's
        transpositions through a frame larger than the cache can lose (a 12 288-entry
        stencil, measured: 10.1 µs a point against 8.3 µs one lane wide).

        >>> from symjac.ir.graph import Graph
        >>> from symjac.ir.tape import Tape
        >>> g = Graph(); x = g.var(0)
        >>> spec = KernelSpec("f", Tape.from_graph(g, [g.sin(x)], 1, 0), 1, (0,))
        >>> one = build_kernels([spec], Build())
        >>> one.for_batch(100) is one  # nothing run yet, a short batch: one lane
        True
        >>> one.charge(10_000, 3600.0)  # an hour of batches
        >>> one.for_batch(100) is one.batched()
        True
        """
        if self.lanes == self.simd_lanes or n < SIMD_BATCH:
            return self
        built = self._batched.get("kernels")
        if built is not None:
            return built if self._keep(built) else self
        seconds, points = self._rent[:2]
        per_point = seconds / points if points else _PER_INSTRUCTION * self.cost(self.specs[0].name)
        if seconds + n * per_point >= SIMD_BUILD_RATIO * self.build_seconds:
            return self.batched()
        return self

    def _keep(self, built: Kernels) -> bool:
        """Whether batches run on the SIMD build ``built``: during its trial, and if it won."""
        if not self._kept:
            seconds, _, best, batches = built._rent
            if batches < SIMD_TRIAL or seconds < SIMD_TRIAL_SHARE * built.build_seconds:
                return True
            # never timed one lane wide (the SIMD build was asked for directly): keep it
            self._kept.append(not self._rent[3] or best < self._rent[2])
        return self._kept[0]

    def charge(self, n: int, seconds: float) -> None:
        """Count a batch of ``n`` points that ran ``seconds`` on these kernels (see for_batch).

        >>> from symjac.ir.graph import Graph
        >>> from symjac.ir.tape import Tape
        >>> g = Graph(); x = g.var(0)
        >>> spec = KernelSpec("f", Tape.from_graph(g, [x], 1, 0), 1, (0,))
        >>> k = build_kernels([spec], Build(opt_level=0)); k.charge(100, 0.5); k._rent
        [0.5, 100.0, 0.005, 1.0]
        """
        rent = self._rent
        rent[0] += seconds
        rent[1] += n
        rent[2] = min(rent[2], seconds / n)
        rent[3] += 1

    def batched(self) -> Kernels:
        """These kernels' SIMD build (made once), or these when they are the SIMD build.

        Kernels are built one lane wide first (:func:`build_kernels`): that is
        what single points want (a lone point in SIMD code runs all its lanes and
        transposes: 7-joint arm 1.29 µs against 0.81 µs one-lane), and all that
        a solver calling them point by point ever needs. Their SIMD build is
        compiled when batches have run long enough to pay for it
        (:meth:`for_batch`), and computes every point with the same bits: its elementary
        functions are the vector functions the one-lane code calls on a splat.

        >>> from symjac.ir.graph import Graph
        >>> from symjac.ir.tape import Tape
        >>> g = Graph(); x = g.var(0)
        >>> spec = KernelSpec("f", Tape.from_graph(g, [g.sin(x)], 1, 0), 1, (0,))
        >>> one = build_kernels([spec], Build(), lanes=1)
        >>> one.lanes, one.batched().lanes == one.simd_lanes, one.batched() is one.batched()
        (1, True, True)
        """
        if self.lanes == self.simd_lanes:
            return self
        with _batched_lock:
            built = self._batched.get("kernels")
            if built is None:
                built = build_kernels(
                    self.specs, self.build, cache=self.cache, lanes=self.simd_lanes
                )
                self._batched["kernels"] = built
            return built

    def native(self, name: str, fallback: Callable[..., Any], dtype: Any = None) -> Any:
        """Kernel ``name`` as a native method ``(x, p=None, *, out=None)`` for one point.

        It runs the one-lane kernel on one exact point of the kernels' dtype in about the
        time of a NumPy ufunc call and passes any other call to ``fallback`` unchanged
        (:mod:`symjac.codegen.llvm.pycall`). None when that is not available: SIMD
        kernels, or an object layout the native code does not know. ``dtype``: the arrays'
        (default the kernels'); complex128 for float64 kernels over (re, im) pairs, whose
        inputs, parameters and last output axis then count complex values.

        >>> from symjac.ir.graph import Graph
        >>> from symjac.ir.tape import Tape
        >>> import numpy as np
        >>> g = Graph(); x = g.var(0)
        >>> spec = KernelSpec("f", Tape.from_graph(g, [g.sin(x)], 1, 0), 1, (0,))
        >>> k = build_kernels([spec], Build())
        >>> f = k.native("f", lambda *args, **kw: "the Python path")
        >>> f(np.array([0.0])).tolist(), f([0.0])
        ([0.0], 'the Python path')
        """
        if self.lanes != 1 or not pyabi.layout_ok():
            return None
        spec = next(spec for spec in self.specs if spec.name == name)
        tape = spec.tape
        arrays = self.build.type.numpy if dtype is None else np.dtype(dtype)
        parts = arrays.itemsize // self.build.type.itemsize  # 2: complex over its parts
        return pyabi.native_method(
            self.jit.address(name),
            self.jit,
            tape.n_vars // parts,
            tape.n_params // parts,
            (*spec.shape[:-1], spec.shape[-1] // parts),
            -(-self.work_sizes[name] // parts),
            fallback,
            name,
            arrays,
        )

    def cost(self, name: str) -> int:
        """Work per point of kernel ``name``: its instructions plus the values it stores.

        >>> from symjac.ir.graph import Graph
        >>> from symjac.ir.tape import Tape
        >>> g = Graph(); x = g.var(0)
        >>> spec = KernelSpec("f", Tape.from_graph(g, [g.sin(x)], 1, 0), 1, (0,))
        >>> k = build_kernels([spec], Build(opt_level=0))
        >>> k.cost("f")  # VAR, SIN; one value stored
        3
        >>> k.cost("g")
        Traceback (most recent call last):
        ...
        KeyError: 'g'
        """
        for spec in self.specs:
            if spec.name == name:
                return len(spec.tape) + spec.width
        raise KeyError(name)

    @property
    def fastmath(self) -> bool:
        """Whether the kernels were built with fast-math flags (``build.fastmath``).

        >>> from symjac.ir.graph import Graph
        >>> from symjac.ir.tape import Tape
        >>> g = Graph(); x = g.var(0)
        >>> spec = KernelSpec("f", Tape.from_graph(g, [x], 1, 0), 1, (0,))
        >>> build_kernels([spec], Build(fastmath=True, opt_level=0)).fastmath
        True
        """
        return self.build.fastmath

    @property
    def opt_level(self) -> int:
        """The LLVM optimisation level the kernels were built at (``build.opt_level``).

        >>> from symjac.ir.graph import Graph
        >>> from symjac.ir.tape import Tape
        >>> g = Graph(); x = g.var(0)
        >>> spec = KernelSpec("f", Tape.from_graph(g, [x], 1, 0), 1, (0,))
        >>> build_kernels([spec], Build(opt_level=0)).opt_level
        0
        """
        return self.build.opt_level

    def saved(self) -> dict[str, Any] | None:
        """What :func:`restore_kernels` needs besides the specs, as JSON-able data, or None
        when the machine code is not in an on-disk cache.

        >>> import tempfile
        >>> from symjac.ir.graph import Graph
        >>> from symjac.ir.tape import Tape
        >>> g = Graph(); x = g.var(0)
        >>> spec = KernelSpec("f", Tape.from_graph(g, [g.sin(x)], 1, 0), 1, (0,))
        >>> k = build_kernels([spec], Build(), cache=ObjectCache(tempfile.mkdtemp()))
        >>> sorted(k.saved())
        ['build_seconds', 'codegen', 'lanes', 'lean', 'object', 'opt', 'simd_lanes', 'work_sizes']
        >>> build_kernels([spec], Build()).saved() is None  # built without a cache
        True
        """
        jit = self.jit
        if self.cache is None or jit.cache_key is None:
            return None
        return {
            "object": jit.cache_key,
            "opt": jit._opt_level,
            "lean": jit._lean,
            "codegen": jit.codegen_level,
            "work_sizes": self.work_sizes,
            "lanes": self.lanes,
            "simd_lanes": self.simd_lanes,
            "build_seconds": self.build_seconds,
        }

    def __reduce__(self) -> tuple[Callable[..., Kernels], tuple[Any, ...]]:
        # machine code is process-specific: pickle the source, compile again on load
        return build_kernels, (self.specs, self.build, None, None, None, None, self.deferred)


#: batches of fewer points always run one lane wide
SIMD_BATCH = 64
#: the SIMD build runs at least this many batches, for at least this share of its build
#: time, before it is kept or dropped (see Kernels.for_batch): its first few calls run
#: slower (a 25-entry Jacobian at 10^4 points: 19, 6.8, 5.7 ns a point, then 3.6)
SIMD_TRIAL = 3
SIMD_TRIAL_SHARE = 0.25
#: the SIMD build is expected to cost this many times the one-lane build (measured on the
#: corpus with AVX-512: 2.8x for a planar flow to 10x for a dense 20x20 layer; 4-5x typical)
SIMD_BUILD_RATIO = 4.0
#: seconds per tape instruction and point on one lane, before any batch was timed (measured:
#: 0.2-0.6 ns for tapes of 100-2000 instructions)
_PER_INSTRUCTION = 0.3e-9
#: one-lane kernels of at most this many tape instructions get LLVM's fast code generator
#: (FastISel): measured on this machine, machine code 15.9 -> 2.7 ms for a 82-nonzero
#: kinetics Jacobian, 31 -> 7 ms for a 7-joint arm, at the same single-point latency
#: (0.66 / 0.95 us); a 1 850-instruction tape already ran 6 % slower, a 9 000 one 1.8x
FAST_CODEGEN = 4000
#: instructions per outlined chunk of one-lane code. FastISel's time is linear in the
#: function: a tape up to FAST_CODEGEN is one straight-line function, with no spills; larger
#: one-lane tapes, which get the full code generator, are cut coarsely (measured, against
#: lower's 256: dense60 build 563 -> 372 ms, dense50 952 -> 730 ms, one point the same or
#: faster) but not into FAST_CODEGEN-sized pieces: the full code generator is superlinear in
#: a function's size on select-heavy code (a complex128 power-flow Jacobian, 13 500
#: instructions: machine code 3.3 s in chunks of 4000, 0.55 s in chunks of 1000, one point
#: 7.3 us both; dense50, dense60: the same build time and one-point time either way)
ONE_LANE_CHUNK = 1000
#: instructions per outlined chunk of one-lane code under FastISel: a whole tape up to
#: FAST_CODEGEN is one function
FAST_CHUNK = FAST_CODEGEN
_batched_lock = threading.Lock()


@dataclass(frozen=True)
class Pipeline:
    """How LLVM compiles a module of kernels: chunks to lower with, IR passes, code generator.

    ``ir_level``: :func:`.jit.optimise`'s level (0: no IR passes), ``lean`` its pipeline;
    ``codegen_level``: the target machine's (0: FastISel). The JIT and
    ``emit(target="object")`` both compile by :func:`pipeline`.

    >>> Pipeline(256, 3, True, 3).codegen_level
    3
    """

    chunk_size: int
    ir_level: int
    lean: bool
    codegen_level: int


def pipeline(
    specs: Sequence[KernelSpec], opt_level: int, lanes: int, fast_codegen: bool = True
) -> Pipeline:
    """How ``specs`` are compiled at ``opt_level`` for ``lanes`` points at a time.

    symjac's IR is CSE'd and vectorised already: the lean pass pipeline suffices (see
    :func:`.jit.optimise`). A small one-lane kernel spends its single-point call in the
    call itself: LLVM's fast instruction selection builds it ~6x sooner for the same
    latency, and the IR passes, which find little in symjac's IR, are skipped (4 ms of a
    17 ms build); see :data:`FAST_CODEGEN`. That is the JIT's choice, which moves batches
    to its SIMD build; ``fast_codegen=False`` is emitted object code's, which has no SIMD
    build and is compiled once: FastISel there cost batches 15-35 % a point (robertson
    1.8 -> 2.4 ns, kin7 203 -> 241 ns at 1000 points), so it gets the full code generator.

    >>> from symjac.ir.graph import Graph
    >>> from symjac.ir.tape import Tape
    >>> g = Graph(); x = g.var(0)
    >>> specs = [KernelSpec("f", Tape.from_graph(g, [g.sin(x)], 1, 0), 1, (0,))]
    >>> pipeline(specs, 3, lanes=1)
    Pipeline(chunk_size=4000, ir_level=0, lean=True, codegen_level=0)
    >>> pipeline(specs, 3, lanes=8)
    Pipeline(chunk_size=256, ir_level=3, lean=True, codegen_level=3)
    >>> pipeline(specs, 3, lanes=1, fast_codegen=False)  # emitted object code
    Pipeline(chunk_size=1000, ir_level=3, lean=True, codegen_level=3)
    """
    size = sum(len(tape) for tape in {id(spec.tape): spec.tape for spec in specs}.values())
    codegen = 0 if fast_codegen and lanes == 1 and size <= FAST_CODEGEN else opt_level
    # FastISel: one straight-line function; the full code generator: ONE_LANE_CHUNK pieces
    one_lane = FAST_CHUNK if codegen == 0 else ONE_LANE_CHUNK
    chunk_size = one_lane if lanes == 1 else chunks.CHUNK_SIZE
    return Pipeline(chunk_size, opt_level if codegen else 0, True, codegen)


def _lower(specs: Sequence[KernelSpec], build: Build, lanes: int) -> Lowered:
    """How the JIT lowers ``specs`` for ``lanes`` points at a time on this host."""
    width, vector_libm = build.lanes()
    return lower(
        specs,
        chunk_size=pipeline(specs, build.opt_level, lanes).chunk_size,
        fastmath=build.fastmath,
        lanes=lanes,
        vector_libm=vector_libm,
        libm_width=width,
        packed_tables=True,  # the JIT runs the code on this host (see codegen.lower._table)
        dtype=build.type,
    )


def lowered_ir(kernels: Kernels) -> str:
    """The LLVM IR of ``kernels`` as lowered, before LLVM's passes (lowered again).

    >>> from symjac.ir.graph import Graph
    >>> from symjac.ir.tape import Tape
    >>> g = Graph(); x = g.var(0)
    >>> k = build_kernels([KernelSpec("f", Tape.from_graph(g, [g.sin(x)], 1, 0), 1, (0,))], Build())
    >>> 'define void @"f"(' in lowered_ir(k)
    True
    """
    return str(_lower(kernels.specs, kernels.build, kernels.lanes).module)


def restore_kernels(
    specs: Sequence[KernelSpec],
    build: Build,
    saved: dict[str, Any],
    cache: ObjectCache,
    deferred: Sequence[Any] = (),
) -> Kernels | None:
    """The kernels :meth:`Kernels.saved` described, from their object code in ``cache``
    (nothing lowered or compiled), or None if the object code is gone or damaged.

    >>> import tempfile
    >>> import numpy as np
    >>> from symjac.ir.graph import Graph
    >>> from symjac.ir.tape import Tape
    >>> g = Graph(); x = g.var(0)
    >>> spec = KernelSpec("f", Tape.from_graph(g, [g.sin(x)], 1, 0), 1, (0,))
    >>> cache = ObjectCache(tempfile.mkdtemp())
    >>> first = build_kernels([spec], Build(), cache=cache)
    >>> again = restore_kernels([spec], Build(), first.saved(), cache)
    >>> point = np.array([0.5])
    >>> again.native("f", print)(point) == first.native("f", print)(point), again.lanes
    (array([ True]), 1)
    """
    data = cache.load(saved["object"])
    if data is None:
        return None
    lanes = int(saved["lanes"])

    def source() -> Any:  # the module again, only if someone asks for its IR
        return _lower(specs, build, lanes).module

    jit = JitModule.from_object(
        data, source, int(saved["opt"]), bool(saved["lean"]), int(saved["codegen"])
    )
    return Kernels(
        jit,
        {k: int(v) for k, v in saved["work_sizes"].items()},
        tuple(specs),
        build,
        lanes,
        int(saved["simd_lanes"]),
        cache=cache,
        build_seconds=float(saved["build_seconds"]),
        deferred=tuple(deferred),
    )


def build_kernels(
    specs: Sequence[KernelSpec],
    build: Build,
    say: Callable[[str], None] | None = None,
    timings: dict[str, float] | None = None,
    cache: ObjectCache | None = None,
    lanes: int | None = None,
    deferred: Sequence[Any] = (),
) -> Kernels:
    """Lower ``specs`` to LLVM IR, verify, optimise and JIT them for this host.

    ``lanes``: points per SIMD group; by default 1 (see :meth:`Kernels.batched`).
    ``deferred``: kernels compiled only when asked for (:meth:`Kernels.deferred_kernels`).

    >>> from symjac.ir.graph import Graph
    >>> from symjac.ir.tape import Tape
    >>> g = Graph(); x = g.var(0)
    >>> tape = Tape.from_graph(g, [g.mul(x, x)], 1, 0)
    >>> k = build_kernels([KernelSpec("f", tape, 1, (0,))], Build())
    >>> import numpy as np
    >>> k.native("f", print)(np.array([3.0])).tolist()
    [9.0]
    """
    t0 = time.perf_counter()
    width, vector_libm = build.lanes()
    if lanes is None:  # one lane first: see Kernels.batched
        lanes = 1
    lowered = _lower(specs, build, lanes)
    if timings is not None:
        timings["lower"] = timings.get("lower", 0.0) + time.perf_counter() - t0
    if say is not None:
        say("LLVM: verify, optimise, generate machine code ...")
    context = {"build": repr(build), "lanes": lanes, "libm": vector_libm}
    context["libm_width"] = width
    how = pipeline(specs, build.opt_level, lanes)
    jit = JitModule(
        lowered.module,
        how.ir_level,
        lean=how.lean,
        cache=cache,
        context=context,
        codegen_level=how.codegen_level,
    )
    if timings is not None:
        timings.update(jit.timings)
    seconds = time.perf_counter() - t0
    return Kernels(
        jit,
        lowered.work_sizes,
        tuple(specs),
        build,
        lanes,
        width,
        cache=cache,
        build_seconds=seconds,
        deferred=tuple(deferred),
    )
