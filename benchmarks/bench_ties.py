"""Cost of the least-norm tie rule: the default solver's L1 stage alone (the default rule's
answer, from the cold start) against the full solve with the tie stage (docs/solver.md, "Ties"),
side by side on the same games, plus how far a warm-started solve lands from the cold one (the
L1 stage warm-started, which the default rule never does, against the least-norm rule).

Run:  .venv/bin/python benchmarks/bench_ties.py [--ns 8 10 12] [--samples 8] [--noise-bound 0.02]
Prints per (n, game): median iterations and seconds per sample of the L1 stage alone
(``solve_admm``, no HiGHS fallback) and of ``extract_and_or`` (L1 stage + tie stage), their
ratio, and the largest difference between a cold solve and one warm-started from the solution
of a perturbed game, as a fraction of max|effect| (L1 stage alone vs with the tie stage).
"""

from __future__ import annotations

import argparse
import time

import numpy as np
import torch
from bench_solver import network_games, normalise, planted_games

import genphase as gp
from genphase.solvers.admm import ADMMOptions, solve_admm
from genphase.solvers.ties import split_singletons_evenly


def _spread(a: gp.AndOrInteractions, b: gp.AndOrInteractions) -> float:
    x, y = a.effects().reshape(len(a), -1), b.effects().reshape(len(b), -1)
    return float(np.max(np.abs(x - y).max(-1) / np.abs(x).max(-1)))


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--ns", type=int, nargs="*", default=[8, 10, 12])
    ap.add_argument("--samples", type=int, default=8)
    ap.add_argument("--noise-bound", type=float, default=0.0)
    ap.add_argument("--repeats", type=int, default=1)
    ap.add_argument("--tiebreak", type=float, default=None, help="mu of the tie rule (default: genphase's)")
    ap.add_argument("--tie-tol", type=float, default=None, help="certified distance to x_mu (default: genphase's)")
    args = ap.parse_args()
    r = args.noise_bound
    kw = {"ties": "least-norm", **{k: v for k, v in (("tiebreak", args.tiebreak), ("tie_tol", args.tie_tol)) if v is not None}}
    rng = np.random.default_rng(0)
    print(f"torch={torch.__version__} threads={torch.get_num_threads()} samples={args.samples} noise_bound={r} {kw}")
    print(f"{'n':>3} {'game':>8} | {'L1 its':>7} {'s/smp':>7} | {'tie its':>7} {'s/smp':>7} | {'ratio':>5} | {'warm spread L1':>14} {'with ties':>9}")
    for n in args.ns:
        for name, make in (("planted", planted_games), ("network", network_games)):
            v = make(n, args.samples, rng)
            vb, sc = normalise(v)
            eta = r * (vb[:, -1] - vb[:, 0]).abs()
            t1 = []
            for _ in range(args.repeats):
                t0 = time.perf_counter()
                base = solve_admm(vb, eta, ADMMOptions())
                t1.append(time.perf_counter() - t0)
            t2 = []
            for _ in range(args.repeats):
                t0 = time.perf_counter()
                full = gp.extract_and_or(v, noise_bound=r, fallback_max_n=0, **kw)
                t2.append(time.perf_counter() - t0)
            # warm start from the solution of a perturbed game (as a previous checkpoint would be)
            vp = v + 0.05 * np.abs(v).max(-1, keepdims=True) * rng.normal(size=v.shape)
            prev = gp.extract_and_or(vp, noise_bound=r, fallback_max_n=0, **kw)
            warm = gp.extract_and_or(v, noise_bound=r, fallback_max_n=0, warm_start=prev, **kw)
            # the L1 stage alone, cold and warm (today's answers)
            w0 = torch.as_tensor(prev.and_effects) / sc[:, None]
            warm_base = solve_admm(vb, eta, ADMMOptions(), init=w0)
            for res in (base, warm_base):  # one-variable pairs split evenly, as extract_and_or reports them
                split_singletons_evenly(res, n)
            bx = torch.cat([base.and_effects, base.or_effects], -1)
            wx = torch.cat([warm_base.and_effects, warm_base.or_effects], -1)
            spread_l1 = float(((bx - wx).abs().amax(-1) / bx.abs().amax(-1)).max())
            m1, m2 = np.median(t1) / args.samples, np.median(t2) / args.samples
            print(
                f"{n:>3} {name:>8} | {int(np.median(base.iterations.numpy())):>7} {m1:>7.4f} | "
                f"{int(np.median(full.iterations)):>7} {m2:>7.4f} | {m2 / m1:>5.1f} | {spread_l1:>14.2e} {_spread(full, warm):>9.2e}",
                flush=True,
            )


if __name__ == "__main__":
    main()
