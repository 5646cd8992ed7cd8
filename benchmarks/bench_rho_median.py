"""Where the median correction of the rho rule fires (docs/solver.md, "Game families"; issue 29).

For each family of ``bench_solver.py`` (the same games for the same ``--ns`` and ``--samples``),
the noise-free default solver runs to the first check at or after iteration 100. Printed per
family: how many games the correction fired on (``0.25 / median|effect|`` above 4x the current
rho) and the range of that ratio. The correction keeps planted, network and trained-MLP games on
the size rule's path only if their ratio stays below 4.

Run:  .venv/bin/python benchmarks/bench_rho_median.py [--ns 10 12] [--samples 16]
"""

from __future__ import annotations

import argparse

import numpy as np
import torch
from bench_solver import OWN_STREAM, network_games, normalise, planted_games

import genphase.solvers.halpern as halpern
from genphase.solvers.admm import ADMMOptions, solve_admm


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--ns", type=int, nargs="*", default=[10, 12])
    ap.add_argument("--samples", type=int, default=16)
    args = ap.parse_args()
    seen: list = []
    median_target = halpern._median_target

    def record(prob, s, rho0):
        target = median_target(prob, s, rho0)
        seen.append((target / prob.rho).numpy().copy())
        return target

    halpern._median_target = record
    rng = np.random.default_rng(0)
    for n in args.ns:
        shared = {"planted": planted_games(n, args.samples, rng), "network": network_games(n, args.samples, rng)}
        for name in ["planted", "network", *OWN_STREAM]:
            games = shared[name] if name in shared else OWN_STREAM[name](
                n, args.samples, np.random.default_rng([list(OWN_STREAM).index(name), n]))
            vb, _ = normalise(games)
            seen.clear()
            solve_admm(vb, torch.zeros(len(vb), dtype=vb.dtype), ADMMOptions(max_iter=halpern._MEDIAN_AT))
            ratio = seen[0]
            fired = int((ratio > halpern._MEDIAN_KAPPA).sum())
            print(f"n={n:>2} {name:>16}: fired on {fired:>2} of {len(ratio)}; 0.25/median over the current rho "
                  f"{ratio.min():.2f}-{ratio.max():.2f}", flush=True)


if __name__ == "__main__":
    main()
