"""How well the default tie rule (ties="cold-start") names one answer (docs/solver.md, "The default rule").

The default rule reports the optimum the iteration reaches from its fixed cold start. This
script measures, as the largest difference in effects over max|effect| per sample (median and
largest over the games), how far that answer moves with what must not matter, and how far it is
from the answer at a 100x smaller tolerance (the point the rule names):

- ``f64``: float64 iterates instead of float32;
- ``alone``: each game solved alone instead of in the batch;
- ``tol/100``: tol = 1e-5 instead of 1e-3 (the limit the cold path converges to);
- ``L1 warm``: for contrast, the L1 iteration warm-started from the solution of a perturbed game
  (5% noise; the former default, which could land on another tied optimum);
- ``least-norm``: the distance to the other rule's answer (``--least-norm``; slow).

Run:  .venv/bin/python benchmarks/bench_cold_start.py [--ns 8 10 12] [--samples 16] [--noise-bound 0.02]
      .venv/bin/python benchmarks/bench_cold_start.py --run RUN_DIR [--samples 64]
With ``--run``, the games are the stored values of a run directory's checkpoints and baselines
(e.g. the default run's); it also prints mean H-bar from the cold answers and from L1 warm starts
along the checkpoints (the model warm-started from the previous checkpoint, the baselines cold).
"""

from __future__ import annotations

import argparse
from dataclasses import replace
from pathlib import Path

import numpy as np
import torch
from bench_solver import network_games, normalise, planted_games

import genphase as gp
from genphase.solvers.admm import ADMMOptions, solve_admm
from genphase.solvers.ties import split_singletons_evenly


def spread(a: gp.AndOrInteractions, b: gp.AndOrInteractions) -> np.ndarray:
    """``max|x_a - x_b| / max|x_a|`` per sample."""
    x, y = (np.concatenate([r.and_effects, r.or_effects], -1).reshape(len(r), -1) for r in (a, b))
    return np.abs(x - y).max(-1) / np.abs(x).max(-1)


def l1_warm(v: np.ndarray, start: gp.AndOrInteractions, r: float) -> gp.AndOrInteractions:
    """The L1 iteration on ``v`` warm-started from ``start``'s AND effects, as an AndOrInteractions."""
    vb, sc = normalise(v)
    res = solve_admm(vb, r * (vb[:, -1] - vb[:, 0]).abs(), ADMMOptions(), init=torch.as_tensor(start.and_effects) / sc[:, None])
    split_singletons_evenly(res, vb.shape[-1].bit_length() - 1)  # as extract_and_or reports them
    return gp.AndOrInteractions.from_effects((res.and_effects * sc[:, None]).numpy(), (res.or_effects * sc[:, None]).numpy())


def fmt(s: np.ndarray) -> str:
    return f"{np.median(s):.1e} / {s.max():.1e}"


def games_table(args) -> None:
    rng = np.random.default_rng(0)
    r = args.noise_bound
    kw = {"noise_bound": r, "fallback_max_n": 0}
    cols = ["f64", "alone", "tol/100", "L1 warm"] + (["least-norm"] if args.least_norm else [])
    print(f"noise_bound={r} samples={args.samples}; cells: median / largest of max|diff| / max|effect|")
    print(f"{'n':>3} {'game':>8} | " + " | ".join(f"{c:>17}" for c in cols))
    for n in args.ns:
        for name, make in (("planted", planted_games), ("network", network_games)):
            v = make(n, args.samples, rng)
            cold = gp.extract_and_or(v, **kw)
            vp = v + 0.05 * np.abs(v).max(-1, keepdims=True) * rng.normal(size=v.shape)
            row = [
                spread(cold, gp.extract_and_or(v, iterate_dtype="float64", **kw)),
                spread(cold, gp.extract_and_or(v, batch_size=1, **kw)),
                spread(gp.extract_and_or(v, tol=1e-5, max_iter=200000, **kw), cold),
                spread(cold, l1_warm(v, gp.extract_and_or(vp, **kw), r)),
            ]
            if args.least_norm:
                row.append(spread(gp.extract_and_or(v, ties="least-norm", **kw), cold))
            print(f"{n:>3} {name:>8} | " + " | ".join(f"{fmt(s):>17}" for s in row), flush=True)


def run_table(args) -> None:
    from genphase.analysis.generalization import generalization_power

    d = Path(args.run) / "interactions"
    load = lambda p: np.load(p)["values"][: args.samples]  # noqa: E731
    ckpts = sorted((d / "model").glob("epoch_*.npz"))
    bvals = [load(p) for p in sorted(d.glob("baseline_*.npz"))]
    bases = [gp.extract_and_or(v) for v in bvals]
    print(f"{args.run}: {len(ckpts)} checkpoints, {len(bases)} baselines, {args.samples} samples each")
    for k, v in enumerate(bvals):
        print(f"baseline {k}: f64 {fmt(spread(bases[k], gp.extract_and_or(v, iterate_dtype='float64')))}")
    print(f"{'checkpoint':>12} | {'f64':>17} | {'alone':>17} | {'L1 warm':>17} | H-bar cold | H-bar L1 warm")
    prev = None
    for p in ckpts:
        v = load(p)
        cold = gp.extract_and_or(v)
        cells = [spread(cold, gp.extract_and_or(v, iterate_dtype="float64")), spread(cold, gp.extract_and_or(v, batch_size=1))]
        hb = lambda m: float(np.nanmean(generalization_power(m, bases).h_bar()))  # noqa: E731
        if prev is None:
            warm, w = "-", "-"
        else:
            wres = l1_warm(v, prev, 0.0)
            warm = fmt(spread(cold, wres))
            w = f"{hb(replace(cold, and_effects=wres.and_effects, or_effects=wres.or_effects)):.4f}"
        print(f"{p.stem:>12} | {fmt(cells[0]):>17} | {fmt(cells[1]):>17} | {warm:>17} | {hb(cold):>10.4f} | {w:>13}", flush=True)
        prev = cold


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--ns", type=int, nargs="*", default=[8, 10, 12])
    ap.add_argument("--samples", type=int, default=16)
    ap.add_argument("--noise-bound", type=float, default=0.0)
    ap.add_argument("--least-norm", action="store_true", help="also the distance to ties='least-norm' (slow)")
    ap.add_argument("--run", default=None, help="a run directory: use its stored games instead")
    args = ap.parse_args()
    print(f"torch={torch.__version__} threads={torch.get_num_threads()}")
    run_table(args) if args.run else games_table(args)


if __name__ == "__main__":
    main()
