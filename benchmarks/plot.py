"""Plot the kernel benchmark: symjac's speed-up over each peer, from ``results/corpus.json``.

Run after ``benchmarks/kernels.py``::

    python benchmarks/plot.py            # writes docs/kernels.png

(``--results benchmarks/results/kernels.json`` plots the older seven-problem results.)

Two panels on a log scale: single-point latency ratio (peer time / symjac time)
and batched throughput ratio at the largest batch size (symjac / peer), one
group of bars per problem, one bar per peer. Bars above 1 mean symjac is faster.
"""

from __future__ import annotations

import argparse
import json
import sys
from pathlib import Path

HERE = Path(__file__).resolve().parent
sys.path.insert(0, str(HERE))

from kernels import speedups  # noqa: E402


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--results", type=Path, default=HERE / "results" / "corpus.json")
    parser.add_argument("--output", type=Path, default=HERE.parent / "docs" / "kernels.png")
    args = parser.parse_args()
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt
    import numpy as np

    rows = json.loads(args.results.read_text())
    if isinstance(rows, dict):  # corpus.json: {"meta": ..., "results": [...]}
        rows = rows["results"]
    peers = sorted({k[: -len("_latency_us")] for r in rows for k in r if k.endswith("_latency_us")})
    known = ("sympy", "symengine", "symbolica", "casadi", "casadi_c", "jax")
    peers = [t for t in known if t in peers]
    sizes = sorted({int(k.split("_")[-4]) for r in rows for k in r if k.endswith("_pts_per_s")})
    big = sizes[-1]
    problems = [str(r["problem"]) for r in rows]
    ratios = [speedups(r, peers, sizes) for r in rows]
    fig, axes = plt.subplots(1, 2, figsize=(13, 4.8), sharey=False)
    width = 0.8 / len(peers)
    x = np.arange(len(problems))
    for ax, key, title in (
        (axes[0], "latency", "single point: peer time / symjac time"),
        (axes[1], big, f"{big:,} points: symjac throughput / peer throughput"),
    ):
        for k, peer in enumerate(peers):
            values = [r.get((peer, key), np.nan) for r in ratios]
            ax.bar(x + (k - (len(peers) - 1) / 2) * width, values, width, label=peer)
        ax.axhline(1.0, color="black", linewidth=0.8)
        ax.set_yscale("log")
        ax.set_xticks(x, problems, rotation=30, ha="right")
        ax.set_title(title)
        ax.grid(axis="y", which="both", alpha=0.3)
    axes[0].set_ylabel("symjac speed-up (log scale, > 1: symjac faster)")
    axes[1].legend(loc="upper left", fontsize="small")
    fig.tight_layout()
    args.output.parent.mkdir(parents=True, exist_ok=True)
    fig.savefig(args.output, dpi=110)
    print(f"wrote {args.output}")


if __name__ == "__main__":
    main()
