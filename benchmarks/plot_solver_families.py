"""Figure of the solver benchmark per game family: median iterations and seconds per sample against n,
from the CSV that ``bench_solver.py --csv FILE`` appends to (docs/solver.md, "Game families").

Run:  .venv/bin/python benchmarks/plot_solver_families.py FILE [--out docs/solver_families.png] [--title TEXT]
Solid lines: the default solver ("admm"); dashed: the rule before issue 29 ("admm-size-rule"), if
the CSV has it. The CSV columns: n, game, solver, seconds per sample, median and largest iteration
count, samples at the cap, noise bound, load.
"""

from __future__ import annotations

import argparse
import csv

__all__ = ["read_rows", "plot"]


def read_rows(path: str) -> list[dict]:
    """The benchmark rows of ``path`` (no header), typed.

    >>> import tempfile, os
    >>> with tempfile.NamedTemporaryFile("w", suffix=".csv", delete=False) as f:
    ...     _ = f.write("12,planted,admm,0.05,375,425,0,0.0,1.00\\n")
    >>> read_rows(f.name)[0]["iterations"], os.unlink(f.name)
    (375.0, None)
    """
    keys = ["n", "game", "solver", "seconds", "iterations", "max_iterations", "at_cap", "noise_bound", "load"]
    rows = []
    with open(path) as f:
        for rec in csv.reader(f):
            row = dict(zip(keys, rec))
            for k in ("n", "at_cap"):
                row[k] = int(row[k])
            for k in ("seconds", "iterations", "max_iterations", "noise_bound", "load"):
                row[k] = float(row[k])
            rows.append(row)
    return rows


def plot(rows: list[dict], out: str, title: str = "") -> None:
    """Two panels (median iterations, seconds per sample; log scale) against n, one colour per family.

    >>> import tempfile, os
    >>> rows = [dict(n=n, game="planted", solver="admm", seconds=0.01 * n, iterations=300.0) for n in (10, 12)]
    >>> out = os.path.join(tempfile.mkdtemp(), "f.png")
    >>> plot(rows, out); os.path.getsize(out) > 0
    True
    """
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    games = list(dict.fromkeys(r["game"] for r in rows))
    colours = dict(zip(games, plt.rcParams["axes.prop_cycle"].by_key()["color"]))
    fig, axes = plt.subplots(1, 2, figsize=(10, 4))
    for ax, key, label in ((axes[0], "iterations", "median iterations to a certified gap of 1e-3"),
                           (axes[1], "seconds", "seconds per sample")):
        for game in games:
            for solver, style in (("admm", "-o"), ("admm-size-rule", "--x")):
                pts = sorted((r["n"], r[key]) for r in rows if r["game"] == game and r["solver"] == solver)
                if pts:
                    tag = game if solver == "admm" else f"{game} (size rule only)"
                    ax.plot(*zip(*pts), style, color=colours[game], label=tag, alpha=1.0 if solver == "admm" else 0.6)
        ax.set_yscale("log")
        ax.set_xlabel("n (players)")
        ax.set_ylabel(label)
        ax.grid(True, which="both", alpha=0.3)
    axes[0].legend(fontsize=7)
    if title:
        fig.suptitle(title, fontsize=9)
    fig.tight_layout()
    fig.savefig(out, dpi=120)
    plt.close(fig)


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("csv")
    ap.add_argument("--out", default="docs/solver_families.png")
    ap.add_argument("--title", default="")
    args = ap.parse_args()
    plot(read_rows(args.csv), args.out, args.title)


if __name__ == "__main__":
    main()
