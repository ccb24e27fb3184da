"""float32 against float64 kernels: Jacobian values per second on the benchmark corpus.

For each problem of ``benchmarks/problems.py`` the same Jacobian is compiled twice
(``dtype=np.float64`` and ``dtype=np.float32``), both SIMD builds are made and run through
their trial (the steady state a long-running user sees), and ``jac.values(X, p, out=buf)``
is timed at N points (10⁵, or fewer when the float64 output would exceed 400 MB), inputs
already in each kernel's dtype. Timing: after warm-up, the minimum over interleaved
repetitions (float64 then float32 in each), with one thread and with the default threads.
Run from the repository root::

    python benchmarks/float32_speed.py [--problems robertson hires ...] [--repeats 7]

Prints a Markdown table (the one in the README) and writes
``benchmarks/results/float32_speed.json``.
"""

from __future__ import annotations

import argparse
import json
import time
from pathlib import Path

import numpy as np
from problems import CORPUS, corpus_problems

import symjac

#: the output of one batch (float64) is kept under this many bytes
MAX_BYTES = 400e6


def _steady(jac, pts, p, out) -> None:
    """Make the SIMD build and run its trial, so timings are of the kernels kept."""
    jac._kernels.batched()
    for _ in range(8):
        jac.values(pts, p, out=out)


def measure(name: str, n_max: int, repeats: int) -> dict[str, float | int | str]:
    exprs, x, p, scale = corpus_problems([name])[name]
    jacs = {t: symjac.jacobian(exprs, x, p, dtype=t, sparse=False) for t in ("float64", "float32")}
    nnz = jacs["float64"].nnz
    n = int(min(n_max, MAX_BYTES // (8 * nnz)))
    rng = np.random.default_rng(0)
    pts64 = rng.uniform(0.1, 1.0, (n, len(x))) * scale
    par64 = rng.uniform(0.1, 1.0, len(p))
    args = {
        "float64": (pts64, par64, np.empty((n, nnz))),
        "float32": (pts64.astype(np.float32), par64.astype(np.float32), np.empty((n, nnz), "f4")),
    }
    for t, jac in jacs.items():
        _steady(jac, *args[t])
    result: dict[str, float | int | str] = {"problem": name, "nnz": nnz, "N": n}
    for threads in (1, None):
        best = {t: np.inf for t in jacs}
        for t, jac in jacs.items():
            jac.threads = threads or symjac.runtime.parallel.available_cores()
            jac.values(*args[t][:2], out=args[t][2])  # warm-up at this thread count
        for _ in range(repeats):
            for t, jac in jacs.items():
                start = time.perf_counter()
                jac.values(*args[t][:2], out=args[t][2])
                best[t] = min(best[t], time.perf_counter() - start)
        label = "1t" if threads == 1 else "def"
        for t in jacs:
            result[f"{t} {label} Mpts/s"] = n / best[t] / 1e6
        result[f"speed-up {label}"] = best["float64"] / best["float32"]
    result["lanes"] = f"{jacs['float64']._kernels.simd_lanes}/{jacs['float32']._kernels.simd_lanes}"
    kept = [jac._kernels.for_batch(n).lanes for jac in jacs.values()]
    result["lanes used"] = f"{kept[0]}/{kept[1]}"
    return result


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--problems", nargs="*", default=list(CORPUS))
    parser.add_argument("--points", type=int, default=100_000)
    parser.add_argument("--repeats", type=int, default=7)
    args = parser.parse_args()
    rows = []
    columns = ["problem", "nnz", "N", "lanes used"]
    columns += [f"{t} {k} Mpts/s" for k in ("1t", "def") for t in ("float64", "float32")]
    columns += ["speed-up 1t", "speed-up def"]
    print("| " + " | ".join(columns) + " |")
    print("|" + "---|" * len(columns))
    for name in args.problems:
        row = measure(name, args.points, args.repeats)
        rows.append(row)
        cells = [f"{row[c]:.3g}" if isinstance(row[c], float) else str(row[c]) for c in columns]
        print("| " + " | ".join(cells) + " |", flush=True)
    out = Path(__file__).parent / "results" / "float32_speed.json"
    out.write_text(json.dumps(rows, indent=1) + "\n")


if __name__ == "__main__":
    main()
