"""Tapes and kernel specs as bytes and back: what the warm-start cache stores.

No pickle: a record is a JSON header (sizes, names, shapes) followed by flat
little-endian NumPy arrays (ops, argument counts and registers, attribute kinds and
values), so loading one can only ever build tapes — whatever the bytes hold. Floats
keep their exact bits (NaN payloads and signed zeros included); attributes are
``None``, ``bool``, ``int``, ``float`` or ``complex`` (two doubles), the kinds a graph
holds.
"""

from __future__ import annotations

import json
from collections.abc import Sequence
from typing import Any

import numpy as np

from symjac.ir.ops import Op
from symjac.ir.tape import KernelSpec, Tape

#: attribute kinds, as stored
_NONE, _BOOL, _INT, _FLOAT, _COMPLEX = 0, 1, 2, 3, 4
#: each op at its number (None where no op has that number)
_OP_BY_INT: list[Op | None] = [None] * (max(int(op) for op in Op) + 1)
for _op in Op:
    _OP_BY_INT[int(_op)] = _op
#: whether each number is an op's
_KNOWN = np.array([op is not None for op in _OP_BY_INT])
#: arrays in a record: name -> dtype (little-endian, fixed width)
_DTYPES = {
    "ops": "<i2",
    "arity": "<u1",
    "args": "<i8",
    "kinds": "<u1",
    "ints": "<i8",
    "floats": "<f8",
    "outputs": "<i8",
    "positions": "<i8",
}


def _attr_kind(value: object) -> int:
    if value is None:
        return _NONE
    if isinstance(value, bool):
        return _BOOL
    if isinstance(value, int):
        return _INT
    if isinstance(value, float):
        return _FLOAT
    if isinstance(value, complex):
        return _COMPLEX
    raise TypeError(
        f"a tape attribute must be None, bool, int, float or complex, not {type(value)}"
    )


def _doubles(attrs: Sequence[object], kinds: Sequence[int]) -> list[float]:
    """The float attributes, and each complex one as its two parts, in tape order."""
    out: list[float] = []
    for a, k in zip(attrs, kinds):
        if k == _FLOAT:
            out.append(a)  # type: ignore[arg-type]
        elif k == _COMPLEX:
            out += (a.real, a.imag)  # type: ignore[attr-defined]
    return out


def _tape_arrays(tape: Tape) -> dict[str, np.ndarray]:
    kinds = [_attr_kind(a) for a in tape.attrs]
    return {
        "ops": np.fromiter((int(op) for op in tape.ops), _DTYPES["ops"], len(tape)),
        "arity": np.fromiter((len(a) for a in tape.args), _DTYPES["arity"], len(tape)),
        "args": np.array([r for a in tape.args for r in a], _DTYPES["args"]),
        "kinds": np.array(kinds, _DTYPES["kinds"]),
        "ints": np.array(
            [int(a) for a, k in zip(tape.attrs, kinds) if k in (_BOOL, _INT)],  # type: ignore[call-overload]
            _DTYPES["ints"],
        ),
        "floats": np.array(_doubles(tape.attrs, kinds), _DTYPES["floats"]),
        "outputs": np.array(tape.outputs, _DTYPES["outputs"]),
    }


class _LazyTape(Tape):
    """A tape whose ops, args and attrs are built from its arrays on first use.

    A warm start needs a compiled object's tapes only if it rebuilds kernels (SIMD),
    shows them (``to_sympy``, ``stages``) or derives from them (``jvp``): building the
    tuples costs 9 ms of a 2 048-state stencil's 33 ms warm start, so it waits. The record
    is validated when loaded (:func:`_checked`); ``n_vars``, ``n_params`` and ``outputs``
    are set at once (kernel specs read them).
    """

    def __init__(self, n_vars: int, n_params: int, arrays: dict[str, np.ndarray]):
        set_ = object.__setattr__  # a frozen dataclass: fields are set around __setattr__
        set_(self, "n_vars", n_vars)
        set_(self, "n_params", n_params)
        set_(self, "outputs", tuple(arrays["outputs"].tolist()))
        set_(self, "_arrays", arrays)

    def __getattr__(self, name: str) -> Any:
        # called only for attributes not set yet: ops, args, attrs before the first use
        if name not in ("ops", "args", "attrs"):
            raise AttributeError(name)
        ops, args, attrs = _decode(self.__dict__.pop("_arrays"))
        object.__setattr__(self, "ops", ops)
        object.__setattr__(self, "args", args)
        object.__setattr__(self, "attrs", attrs)
        return getattr(self, name)

    def __reduce__(self) -> tuple[Any, ...]:
        return (Tape, self._fields())

    def _fields(self) -> tuple[Any, ...]:
        return (self.n_vars, self.n_params, self.ops, self.args, self.attrs, self.outputs)

    def __eq__(self, other: object) -> bool:
        # equal to the Tape it stands for (the dataclass's __eq__ wants the same class)
        if not isinstance(other, Tape):
            return NotImplemented
        fields = (other.n_vars, other.n_params, other.ops, other.args, other.attrs, other.outputs)
        return self._fields() == fields

    __hash__ = Tape.__hash__


def _checked(arrays: dict[str, np.ndarray]) -> dict[str, np.ndarray]:
    """``arrays`` if they are a tape: known ops, every argument an earlier register, every
    output a register (NumPy only: cheap enough for every load)."""
    ops = arrays["ops"]
    if ops.size and (ops.min() < 0 or ops.max() >= len(_OP_BY_INT) or not _KNOWN[ops].all()):
        raise ValueError("an unknown operation")  # (np.unique would import numpy.ma: 14 ms)
    owner = np.repeat(np.arange(ops.size), arrays["arity"])
    flat, outputs = arrays["args"], arrays["outputs"]
    if owner.size != flat.size or np.any(flat < 0) or np.any(flat >= owner):
        raise ValueError("arguments must be earlier registers")
    if np.any(outputs < 0) or np.any(outputs >= ops.size):
        raise ValueError("outputs must be registers")
    kinds = arrays["kinds"]
    if kinds.size != ops.size or np.any(kinds > _COMPLEX):
        raise ValueError("attribute kinds must be one per instruction")
    if int(np.count_nonzero((kinds == _INT) | (kinds == _BOOL))) != arrays["ints"].size:
        raise ValueError("integer attributes do not match their kinds")
    doubles = np.count_nonzero(kinds == _FLOAT) + 2 * np.count_nonzero(kinds == _COMPLEX)
    if int(doubles) != arrays["floats"].size:
        raise ValueError("float attributes do not match their kinds")
    return arrays


def _decode(
    arrays: dict[str, np.ndarray],
) -> tuple[tuple[Op, ...], tuple[Any, ...], tuple[Any, ...]]:
    """ops, args and attrs of checked arrays: one pass each, with bound methods and no
    slicing (a 12 288-entry stencil's two tapes: 17 -> 9 ms)."""
    ops = tuple(map(_OP_BY_INT.__getitem__, arrays["ops"].tolist()))
    take = iter(arrays["args"].tolist()).__next__
    args: list[tuple[int, ...]] = []
    put = args.append
    for count in arrays["arity"].tolist():
        if count == 2:
            put((take(), take()))
        elif count == 1:
            put((take(),))
        elif count == 0:
            put(())
        else:
            put(tuple(take() for _ in range(count)))
    ints = iter(arrays["ints"].tolist()).__next__
    floats = iter(arrays["floats"].tolist()).__next__
    attrs: list[object] = []
    keep = attrs.append
    for kind in arrays["kinds"].tolist():
        if kind == _NONE:
            keep(None)
        elif kind == _INT:
            keep(ints())
        elif kind == _FLOAT:
            keep(floats())
        elif kind == _COMPLEX:
            keep(complex(floats(), floats()))
        else:
            keep(bool(ints()))
    return ops, tuple(args), tuple(attrs)  # type: ignore[return-value]  # checked: no None


def dumps(
    tapes: Sequence[Tape],
    specs: Sequence[KernelSpec],
    meta: dict[str, Any],
    extras: dict[str, np.ndarray] | None = None,
) -> bytes:
    """``tapes``, ``specs`` (whose tapes must be among ``tapes``), a JSON-able ``meta`` and
    integer arrays ``extras`` as one record.

    >>> from symjac.ir.graph import Graph
    >>> g = Graph(); x = g.var(0)
    >>> tape = Tape.from_graph(g, [g.sin(x), g.powi(x, 3), g.const(-0.0)], 1, 0)
    >>> spec = KernelSpec("f", tape, 3, (0, 1, 2))
    >>> record = dumps([tape], [spec], {"kind": "demo"}, {"rows": np.arange(3)})
    >>> got_tapes, got_specs, meta, extras = loads(record)
    >>> got_tapes == [tape], got_specs == [spec], got_specs[0].tape is got_tapes[0], meta
    (True, True, True, {'kind': 'demo'})
    >>> extras["rows"].tolist()
    [0, 1, 2]
    """
    index = {id(t): i for i, t in enumerate(tapes)}
    blobs: list[bytes] = []
    layout: list[dict[str, Any]] = []

    def put(arrays: dict[str, np.ndarray]) -> dict[str, int]:
        sizes = {}
        for name, arr in arrays.items():
            blobs.append(np.ascontiguousarray(arr, _DTYPES[name]).tobytes())
            sizes[name] = int(arr.size)
        return sizes

    for tape in tapes:
        layout.append({"n_vars": tape.n_vars, "n_params": tape.n_params, **put(_tape_arrays(tape))})
    spec_meta = []
    for spec in specs:
        sizes = put({"positions": np.array(spec.positions, _DTYPES["positions"])})
        spec_meta.append(
            {
                "name": spec.name,
                "tape": index[id(spec.tape)],
                "width": spec.width,
                "row_shape": None if spec.row_shape is None else list(spec.row_shape),
                **sizes,
            }
        )
    extra_sizes = {}
    for name, arr in (extras or {}).items():
        blobs.append(np.ascontiguousarray(arr, "<i8").tobytes())
        extra_sizes[name] = int(arr.size)
    header = json.dumps(
        {"tapes": layout, "specs": spec_meta, "meta": meta, "extras": extra_sizes}
    ).encode()
    return len(header).to_bytes(8, "little") + header + b"".join(blobs)


def loads(
    data: bytes,
) -> tuple[list[Tape], list[KernelSpec], dict[str, Any], dict[str, np.ndarray]]:
    """The tapes, specs, meta and extras of a record made by :func:`dumps`; ``ValueError``
    if the bytes are not one.

    >>> loads(b"not a record")
    Traceback (most recent call last):
    ...
    ValueError: not a tape record
    """
    try:
        size = int.from_bytes(data[:8], "little")
        header = json.loads(data[8 : 8 + size])
        offset = 8 + size

        def take(kind: str, count: int) -> np.ndarray:
            nonlocal offset
            dtype = np.dtype(kind)
            end = offset + count * dtype.itemsize
            if end > len(data):
                raise ValueError("truncated")
            arr = np.frombuffer(data, dtype, count, offset)
            offset = end
            return arr

        tapes: list[Tape] = []
        for t in header["tapes"]:
            arrays = {n: take(_DTYPES[n], t[n]) for n in _DTYPES if n != "positions"}
            tapes.append(_LazyTape(t["n_vars"], t["n_params"], _checked(arrays)))
        specs = []
        for s in header["specs"]:
            positions = tuple(take(_DTYPES["positions"], s["positions"]).tolist())
            row_shape = None if s["row_shape"] is None else tuple(s["row_shape"])
            specs.append(KernelSpec(s["name"], tapes[s["tape"]], s["width"], positions, row_shape))
        extras = {name: take("<i8", count) for name, count in header["extras"].items()}
        if offset != len(data):
            raise ValueError("trailing bytes")
        return tapes, specs, header["meta"], extras
    except (ValueError, KeyError, TypeError, IndexError, StopIteration, RuntimeError) as exc:
        raise ValueError("not a tape record") from exc
