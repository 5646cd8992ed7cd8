"""Solver benchmark: per-sample time and objective of genphase's ADMM, the reference SGD recipe
and scipy's HiGHS LP on the same games, for n = 8, 10, 12 (14, 16 with --large).

Games: (1) planted sparse AND-OR games plus small Gaussian noise (sigma = 0.02 of the scale),
(2) "network" games: the log-odds of a randomly initialised 2-layer MLP over the n binary
masking variables (dense, like a real model's masked outputs).

Run:  .venv/bin/python benchmarks/bench_solver.py [--samples 16] [--large] [--device cuda] [--repeats 3]
      [--noise-bound 0.02]   (the default solver runs without the HiGHS fallback here)
      [--ties least-norm]    (the default solver with the tie rule; see benchmarks/bench_ties.py)
      [--solvers admm highs] [--highs-samples 4] [--warm-delta 0.01]
Prints one row per (n, game, solver): seconds per sample (median of --repeats runs), median
certified gap, objective relative to the best lower bound, and each solver's time as a
multiple of genphase's default solver ("admm"); for the default solver also the median and
largest iteration count and the number of samples that stopped at the iteration cap.
--highs-samples times HiGHS on the first few games only (it takes seconds per game at n = 10).
--warm-delta adds rows "admm-cold" and "admm-warm": the games perturbed by that fraction of
their scale (a nearby checkpoint), solved from zero and warm-started from the first solve.
The machine and its load are printed first: the timings of a shared machine are noisy, so
compare the ratios within one run.
"""

from __future__ import annotations

import argparse
import os
import time

import numpy as np
import torch

import genphase as gp
from genphase.solvers.lp import solve_lp_highs
from genphase.transforms import bitmasks_to_masks, zeta


def normalise(v) -> tuple[torch.Tensor, torch.Tensor]:
    """Games ``[B, 2**n]`` (numpy or torch) in the solver's units: ``(v - v[{}]) / scale`` and the
    per-sample ``scale = max|v - v[{}]|``, as :func:`genphase.solvers.solve` normalises them."""
    v = torch.as_tensor(v)
    v0 = v - v[:, :1]
    sc = v0.abs().amax(-1).clamp(min=1e-300)
    return v0 / sc[:, None], sc


def planted_games(n: int, b: int, rng: np.random.Generator) -> np.ndarray:
    size = 1 << n
    out = []
    S = np.arange(size)
    for _ in range(b):
        a = np.zeros(size)
        a[rng.choice(np.arange(1, size), 6, replace=False)] = rng.normal(size=6) * 2
        v = zeta(a)
        for T in rng.choice(np.arange(1, size), 6, replace=False):
            v += rng.normal() * 2 * ((S & T) != 0)
        out.append(v + 0.02 * np.abs(v).max() * rng.normal(size=size))
    return np.stack(out)


def network_games(n: int, b: int, rng: np.random.Generator) -> np.ndarray:
    torch.manual_seed(int(rng.integers(1 << 31)))
    masks = torch.as_tensor(bitmasks_to_masks(np.arange(1 << n), n), dtype=torch.float32)
    out = []
    for _ in range(b):
        net = torch.nn.Sequential(torch.nn.Linear(n, 64), torch.nn.ReLU(), torch.nn.Linear(64, 2))
        with torch.no_grad():
            x = torch.randn(n) * 2
            z = net(masks * x)
            out.append((z[:, 1] - z[:, 0]).double().numpy() * 3)
    return np.stack(out)


def timed(fn, repeats: int = 1):
    """Result of ``fn`` and the median wall time over ``repeats`` calls (machines here are noisy)."""
    times = []
    for _ in range(repeats):
        t0 = time.perf_counter()
        res = fn()
        times.append(time.perf_counter() - t0)
    return res, float(np.median(times))


def warm_rows(v: torch.Tensor, first, r: float, args, rng: np.random.Generator) -> list:
    """Cold and warm-started L1 solves of the games ``v`` perturbed by ``args.warm_delta`` of their
    scale (as the next checkpoint of a slowly moving model); the warm start is ``first``. The L1
    iteration is called directly: ``extract_and_or`` uses a warm start only with
    ``ties="least-norm"`` (its first stage), since the default rule is the cold path's optimum."""
    from genphase.solvers.admm import ADMMOptions, solve_admm

    scale = (v - v[:, :1]).abs().amax(-1, keepdim=True)
    near = v + args.warm_delta * scale * torch.as_tensor(rng.normal(size=tuple(v.shape)), dtype=v.dtype, device=v.device)
    vb, sc = normalise(near)
    eta = r * (vb[:, -1] - vb[:, 0]).abs()
    out = []
    for label, ws in (("admm-cold", None), ("admm-warm", first)):
        a0 = None if ws is None else torch.as_tensor(ws.and_effects, dtype=v.dtype, device=v.device) / sc[:, None]
        res, t = timed(lambda: solve_admm(vb, eta, ADMMOptions(), init=a0).numpy(), args.repeats)
        its = f"med {np.median(res.iterations):.0f} max {res.iterations.max()} at-cap {int((~res.converged).sum())}"
        out.append((label, t, np.median(res.gap), np.median(res.objective / res.lower_bound - 1), its))
    return out


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--samples", type=int, default=4)
    ap.add_argument("--ns", type=int, nargs="*", default=None)
    ap.add_argument("--large", action="store_true", help="also n = 14 and 16")
    ap.add_argument("--sgd-steps", type=int, default=10000)
    ap.add_argument("--highs-max-n", type=int, default=10)
    ap.add_argument("--device", default="cpu")
    ap.add_argument("--repeats", type=int, default=3, help="median of this many timed runs per solver")
    ap.add_argument("--noise-bound", type=float, default=0.0, help="r of docs/science.md, the noise bound (all solvers)")
    ap.add_argument("--ties", default="cold-start", choices=["cold-start", "least-norm"], help="tie rule of the default solver (benchmarks/bench_ties.py compares both)")
    ap.add_argument("--solvers", nargs="*", default=["admm", "sgd-reference", "highs"],
                    help="which solvers to time besides the default one (admm is always run)")
    ap.add_argument("--highs-samples", type=int, default=None, help="time HiGHS on this many games only")
    ap.add_argument("--warm-delta", type=float, default=0.0,
                    help="also time cold vs warm-started solves of the games perturbed by this fraction")
    args = ap.parse_args()
    r = args.noise_bound
    ns = args.ns or ([8, 10, 12] + ([14, 16] if args.large else []))
    rng = np.random.default_rng(0)
    load = os.getloadavg()[0] if hasattr(os, "getloadavg") else float("nan")
    print(
        f"device={args.device} torch={torch.__version__} threads={torch.get_num_threads()} cpus={os.cpu_count()} "
        f"load1={load:.2f} samples={args.samples} noise_bound={r} repeats={args.repeats}"
    )
    print(f"{'n':>3} {'game':>8} {'solver':>14} {'s/sample':>10} {'gap(med)':>10} {'obj/LB-1':>10} {'vs admm':>8}  iterations")
    for n in ns:
        for name, make in (("planted", planted_games), ("network", network_games)):
            v = torch.as_tensor(make(n, args.samples, rng), device=args.device)
            vn = v.cpu().numpy()
            eta = r * np.abs(vn[:, -1] - vn[:, 0])
            def admm():
                out = gp.extract_and_or(v, noise_bound=r, fallback_max_n=0, ties=args.ties)
                if args.device != "cpu":
                    torch.cuda.synchronize()
                return out

            res, t_admm = timed(admm, args.repeats)
            lb = res.lower_bound
            its = f"med {np.median(res.iterations):.0f} max {res.iterations.max()} at-cap {int((~res.converged).sum())}"
            rows = [("admm", t_admm, np.median(res.gap), np.median(res.objective / lb - 1), its)]
            if "sgd-reference" in args.solvers and (n <= 12 or args.sgd_steps <= 2000):
                ref, t_sgd = timed(
                    lambda: gp.extract_and_or(v, solver="sgd-reference", steps=args.sgd_steps, certify=False, noise_bound=r), args.repeats
                )
                rows.append(("sgd-reference", t_sgd, np.median(ref.objective / lb - 1), np.median(ref.objective / lb - 1), ""))
            if "highs" in args.solvers and n <= args.highs_max_n:
                k = min(args.samples, args.highs_samples or args.samples)
                (a, o, q, obj), t_lp = timed(lambda: solve_lp_highs(vn[:k], eta[:k]), args.repeats)
                t_lp *= args.samples / k  # per-sample time below divides by --samples
                rows.append(("highs", t_lp, 0.0, np.median(obj / lb[:k] - 1), f"on {k} games"))
            if args.warm_delta > 0:
                rows += warm_rows(v, res, r, args, np.random.default_rng(n))
            for solver, t, gap, rel, note in rows:
                speed = (t / t_admm) if solver != "admm" else 1.0
                print(f"{n:>3} {name:>8} {solver:>14} {t / args.samples:>10.4f} {gap:>10.2e} {rel:>10.2e} {speed:>7.1f}x  {note}", flush=True)


if __name__ == "__main__":
    main()
