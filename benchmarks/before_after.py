"""symjac against an earlier symjac: compile time, one point and batches, on the corpus.

Measures two checkouts of symjac in the same run — the one installed (``after``) and an
earlier one given by its source tree (``--before DIR``, e.g. a ``git worktree`` of an older
commit) — each problem in a fresh process per checkout, the checkouts alternating::

    git worktree add /tmp/before 789b6bd
    python benchmarks/before_after.py --before /tmp/before

Per problem and checkout: compile (SymPy → first point, ``cache=False``, minimum of three, in
a warm process), one point (``jac.values(x, p, out=buf)``), and batch throughput with
``out=`` at each N, one thread and the default. Batches are warmed up for about a second
first, and then measured in their steady state: a build made on first use, or once batches
have paid for it (symjac's SIMD build), is made first. The
values of both checkouts are compared before anything is timed. Minimum over interleaved
repetitions; Markdown table on stdout, JSON to ``results/before_after.json``.
"""

from __future__ import annotations

import argparse
import functools
import json
import os
import subprocess
import sys
import time
from pathlib import Path

import numpy as np

HERE = Path(__file__).resolve().parent
sys.path.insert(0, str(HERE))

from problems import corpus_problems  # noqa: E402

SIZES = (1_000, 10_000, 100_000)
#: largest output (doubles) of one batch
MAX_OUTPUT = 1 << 27


def _best(fn, sample: float = 0.05, reps: int = 7) -> float:
    fn()
    t0 = time.perf_counter()
    fn()
    once = max(time.perf_counter() - t0, 1e-9)
    number = max(1, int(sample / once))
    best = once
    for _ in range(reps):
        t0 = time.perf_counter()
        for _ in range(number):
            fn()
        best = min(best, (time.perf_counter() - t0) / number)
    return best


def child(problem: str, values_file: str) -> None:
    """Measure one problem with the symjac this process imports; print JSON."""
    import symjac

    exprs, x, p, scale = corpus_problems([problem])[problem]
    rng = np.random.default_rng(0)
    pt = rng.uniform(0.1, 1.0, len(x)) * scale
    par = rng.uniform(0.1, 1.0, len(p))
    compile_s = []
    for _ in range(3):
        t0 = time.perf_counter()
        jac = symjac.jacobian(exprs, x, p, cache=False)
        out = np.empty(jac.nnz)
        jac.values(pt, par, out=out)
        compile_s.append(time.perf_counter() - t0)
    row: dict[str, object] = {"compile": min(compile_s), "nnz": int(jac.nnz)}
    np.save(values_file, out)
    row["one_point"] = _best(lambda: jac.values(pt, par, out=out))
    for n in SIZES:
        if n * jac.nnz > MAX_OUTPUT:
            continue
        pts = rng.uniform(0.1, 1.0, (n, len(x))) * scale
        buf = np.empty((n, jac.nnz))
        t0 = time.perf_counter()
        while time.perf_counter() - t0 < 1.0:  # warm-up: builds made on first use or paid for
            jac.values(pts, par, out=buf)
        if hasattr(jac._kernels, "batched"):  # steady state: the SIMD build, once paid for
            jac._kernels.batched()
            jac.values(pts, par, out=buf)
            t0 = time.perf_counter()  # ... and kept if its trial beat one lane (_kept)
            while not getattr(jac._kernels, "_kept", True) and time.perf_counter() - t0 < 10:
                jac.values(pts, par, out=buf)
        for threads, key in ((1, "1t"), (None, "def")):
            jac.threads = threads or symjac.runtime.parallel.available_cores()
            call = functools.partial(jac.values, pts, par, out=buf)
            row[f"{key}@{n}"] = n / _best(call, sample=0.1)
    print(json.dumps(row))


def run(checkout: str | None, problem: str, values_file: str) -> dict[str, object]:
    env = dict(os.environ)
    if checkout:
        env["PYTHONPATH"] = checkout
    cmd = [sys.executable, __file__, "--child", problem, values_file]
    out = subprocess.run(cmd, capture_output=True, text=True, env=env, timeout=1800)
    if out.returncode:
        return {"error": (out.stderr.strip().splitlines() or ["?"])[-1][:200]}
    return json.loads(out.stdout.strip().splitlines()[-1])  # type: ignore[no-any-return]


def _fmt(v: object) -> str:
    if not isinstance(v, float):
        return str(v)
    return f"{v:.3g}"


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--before", help="source tree of the earlier symjac (required)")
    parser.add_argument("--problems", nargs="+", default=None)
    parser.add_argument("--output", type=Path, default=HERE / "results" / "before_after.json")
    parser.add_argument("--child", nargs=2, help=argparse.SUPPRESS)
    args = parser.parse_args()
    if args.child:
        child(*args.child)
        return
    if not args.before:
        parser.error("--before DIR is required")
    before = str(Path(args.before).resolve())
    link = Path(before) / "symjac" / "codegen"  # installed as symjac.codegen: make it so here
    if not link.exists():
        link.symlink_to(Path(before) / "codegen")
    problems = args.problems or list(corpus_problems())
    results: dict[str, dict[str, object]] = {}
    tmp = Path(os.environ.get("TMPDIR", "/tmp"))
    for problem in problems:
        files = {k: str(tmp / f"before_after_{problem}_{k}.npy") for k in ("before", "after")}
        after = run(None, problem, files["after"])
        earlier = run(before, problem, files["before"])
        if "error" not in after and "error" not in earlier:
            a, b = np.load(files["after"]), np.load(files["before"])
            after["max_rel_diff"] = float(np.max(np.abs(a - b) / np.maximum(np.abs(b), 1e-300)))
        results[problem] = {"before": earlier, "after": after}
        print(problem, json.dumps(results[problem]), file=sys.stderr, flush=True)
    args.output.write_text(json.dumps(results, indent=1))
    keys = ["compile", "one_point"] + [f"{t}@{n}" for n in SIZES for t in ("1t", "def")]
    print("| problem | nnz | " + " | ".join(f"{k} before | after | ratio" for k in keys) + " |")
    print("|---|---|" + "---|---|---|" * len(keys))
    for problem, both in results.items():
        cells = [problem, _fmt(both["after"].get("nnz", "-"))]
        for k in keys:
            b, a = both["before"].get(k), both["after"].get(k)
            ratio = "-"
            if isinstance(a, float) and isinstance(b, float):
                ratio = f"{a / b:.2f}"  # after / before: times < 1, throughputs > 1 is better
            cells += [_fmt(b if b is not None else "-"), _fmt(a if a is not None else "-"), ratio]
        print("| " + " | ".join(cells) + " |")


if __name__ == "__main__":
    main()
