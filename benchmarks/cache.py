"""Warm-cache load against cold compile, each in a fresh process.

    python benchmarks/cache.py [--problem dense50]

Prints the seconds of the LLVM part (cold: parse + optimise + machine code; warm: loading
the cached object) and of the whole ``symjac.jacobian`` call, for one problem of
``benchmarks/problems.py``; the cache is a fresh temporary directory.
"""

from __future__ import annotations

import argparse
import json
import subprocess
import sys
import tempfile
from pathlib import Path

HERE = Path(__file__).resolve().parent

CHILD = """
import json, sys, time
sys.path.insert(0, {here!r})
from problems import kernel_problems
import symjac
exprs, x, p, _ = kernel_problems()[{problem!r}]
t0 = time.perf_counter()
jac = symjac.jacobian(exprs, x, p, cache={cache!r})
total = time.perf_counter() - t0
t = jac.stats.timings
stages = ("cache_load", "llvm_parse", "llvm_optimise", "machine_code")
llvm = sum(t.get(k, 0.0) for k in stages)
print(json.dumps({{"total": total, "llvm": llvm, "hit": "cache_load" in t}}))
"""


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--problem", default="dense50")
    args = parser.parse_args()
    with tempfile.TemporaryDirectory() as cache:
        code = CHILD.format(here=str(HERE), problem=args.problem, cache=cache)
        runs = []
        for _ in range(2):
            out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True)
            out.check_returncode()
            runs.append(json.loads(out.stdout))
    cold, warm = runs
    assert not cold["hit"] and warm["hit"]
    print(
        f"{args.problem}: cold compile {cold['total']:.2f} s (LLVM {cold['llvm']:.2f} s), "
        f"warm cache {warm['total']:.2f} s (loading the object {warm['llvm']:.3f} s)"
    )


if __name__ == "__main__":
    main()
