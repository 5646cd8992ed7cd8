"""Solver benchmark: per-sample time and objective of genphase's ADMM, the reference SGD recipe
and scipy's HiGHS LP on the same games, for n = 8, 10, 12 (14, 16 with --large).

Games (``--families``; default planted and network):
(1) ``planted``: sparse AND-OR games plus small Gaussian noise (sigma = 0.02 of the scale);
(2) ``network``: the log-odds of a randomly initialised 2-layer MLP over the n binary masking
variables (dense, like a real model's masked outputs);
(3) ``near-sparse-1e-3`` and ``near-sparse-1e-4`` (issue 29): 14 AND and 8 OR terms of order 1-8
(weights N(0, 2^2)) plus Gaussian noise of 1e-3 or 1e-4 of the scale, the regime where the
solver was 10x slower;
(4) ``trained-mlp``: the log-odds of the predicted class of an MLP (64-256-256-10) trained for 40
epochs on scikit-learn's digits (1,200 training images), on test images whose 8x8 pixels are
split into n groups (2x2 patches in row-major order, cut into n contiguous runs) and masked to
the training mean.
Families (1) and (2) share one random stream through the listed n (the games of earlier runs);
(3) and (4) draw from their own streams, seeded by the family and n.

Run:  .venv/bin/python benchmarks/bench_solver.py [--samples 16] [--large] [--device cuda] [--repeats 3]
      [--noise-bound 0.02]   (the default solver runs without the HiGHS fallback here)
      [--ties least-norm]    (the default solver with the tie rule; see benchmarks/bench_ties.py)
      [--solvers admm highs] [--highs-samples 4] [--warm-delta 0.01]
      [--families planted network near-sparse-1e-3 near-sparse-1e-4 trained-mlp] [--size-rule] [--csv FILE]
Prints one row per (n, game, solver): seconds per sample (median of --repeats runs), median
certified gap, objective relative to the best lower bound, and each solver's time as a
multiple of genphase's default solver ("admm"); for the default solver also the median and
largest iteration count and the number of samples that stopped at the iteration cap.
--highs-samples times HiGHS on the first few games only (it takes seconds per game at n = 10).
--warm-delta adds rows "admm-cold" and "admm-warm": the games perturbed by that fraction of
their scale (a nearby checkpoint), solved from zero and warm-started from the first solve.
--size-rule adds a row "admm-size-rule": the default solver with the median and movement
corrections of the rho rule switched off (the rule before issue 29), timed in the same run,
interleaved with "admm". With a noise bound, the exact finish then comes only from 16 times
its first iteration and at the cap (it follows the movement correction before that).
--csv appends one line per row (n, game, solver, seconds per sample, median and largest
iteration count, samples at the cap, load) for benchmarks/plot_solver_families.py.
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


def near_sparse_games(n: int, b: int, rng: np.random.Generator, eps: float, k_and: int = 14, k_or: int = 8,
                      max_order: int = 8) -> np.ndarray:
    """``k_and`` AND and ``k_or`` OR terms on distinct subsets of order 1 to ``max_order``, weights
    N(0, 2^2), plus Gaussian noise of ``eps`` times ``max|v|`` on every value (issue 29's family).

    >>> near_sparse_games(4, 2, np.random.default_rng(0), 1e-3, k_and=2, k_or=1).shape
    (2, 16)
    """
    size = 1 << n
    S = np.arange(size)
    orders = np.array([bin(s).count("1") for s in range(size)])
    cand = np.nonzero((orders >= 1) & (orders <= max_order))[0]
    out = []
    for _ in range(b):
        picks = rng.choice(cand, k_and + k_or, replace=False)
        w = rng.normal(size=k_and + k_or) * 2
        a = np.zeros(size)
        a[picks[:k_and]] = w[:k_and]
        v = zeta(a) + (((S[:, None] & picks[None, k_and:]) != 0) * w[None, k_and:]).sum(-1)
        out.append(v + eps * np.abs(v).max() * rng.normal(size=size))
    return np.stack(out)


_DIGITS_MLP: dict = {}


def _digits_mlp():
    """An MLP 64-256-256-10 trained (Adam, lr 1e-3, batch 32, 40 epochs, seed 0) on 1,200 of
    scikit-learn's digits; returns ``(net, test indices, training mean, images)``. Built once."""
    if not _DIGITS_MLP:
        from sklearn.datasets import load_digits

        d = load_digits()
        x = torch.as_tensor(d.data / 16.0, dtype=torch.float32)
        y = torch.as_tensor(d.target)
        g = torch.Generator().manual_seed(0)
        perm = torch.randperm(len(x), generator=g)
        train, test = perm[:1200], perm[1200:]
        torch.manual_seed(0)
        net = torch.nn.Sequential(torch.nn.Linear(64, 256), torch.nn.ReLU(), torch.nn.Linear(256, 256), torch.nn.ReLU(),
                                  torch.nn.Linear(256, 10))
        opt = torch.optim.Adam(net.parameters(), lr=1e-3)
        for _ in range(40):
            for _ in range(0, 1200, 32):
                idx = train[torch.randperm(1200, generator=g)[:32]]
                loss = torch.nn.functional.cross_entropy(net(x[idx]), y[idx])
                opt.zero_grad()
                loss.backward()
                opt.step()
        _DIGITS_MLP.update(net=net.eval(), test=test, mean=x[train].mean(0), x=x)
    m = _DIGITS_MLP
    return m["net"], m["test"], m["mean"], m["x"]


def trained_mlp_games(n: int, b: int, rng: np.random.Generator) -> np.ndarray:
    """Log-odds of the predicted class of a digits MLP (:func:`_digits_mlp`) on ``b`` test images,
    their pixels in ``n`` groups (2x2 patches in row-major order, cut into ``n`` runs), masked to
    the training mean: ``[b, 2**n]`` in bitmask order."""
    net, test, mean, x = _digits_mlp()
    order = np.array([(2 * pi + di) * 8 + 2 * pj + dj for pi in range(4) for pj in range(4) for di in range(2) for dj in range(2)])
    member = torch.zeros(n, 64)
    for i, group in enumerate(np.array_split(order, n)):
        member[i, group] = 1.0
    keep = (torch.as_tensor(bitmasks_to_masks(np.arange(1 << n), n), dtype=torch.float32) @ member).clamp(max=1.0)
    out = []
    with torch.no_grad():
        for j in test[torch.as_tensor(rng.choice(len(test), b, replace=False))]:
            z = net(keep * x[j] + (1 - keep) * mean).double()
            c = int(z[-1].argmax())
            others = torch.cat([z[:, :c], z[:, c + 1:]], 1)
            out.append((z[:, c] - torch.logsumexp(others, 1)).numpy())
    return np.stack(out)


#: the families drawn from their own random stream (seeded by the family's index here and n)
OWN_STREAM = {
    "near-sparse-1e-3": lambda n, b, rng: near_sparse_games(n, b, rng, 1e-3),
    "near-sparse-1e-4": lambda n, b, rng: near_sparse_games(n, b, rng, 1e-4),
    "trained-mlp": trained_mlp_games,
}


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


def timed_pair(fa, fb, repeats: int = 1):
    """``(results of fa and fb, median wall times)``, the calls interleaved ``fa, fb, fa, fb, ...``."""
    ta, tb = [], []
    for _ in range(repeats):
        t0 = time.perf_counter()
        ra = fa()
        ta.append(time.perf_counter() - t0)
        t0 = time.perf_counter()
        rb = fb()
        tb.append(time.perf_counter() - t0)
    return (ra, rb), (float(np.median(ta)), float(np.median(tb)))


def iteration_note(res) -> str:
    """``med M max X at-cap K``: the median and largest iteration count, the samples at the cap."""
    return f"med {np.median(res.iterations):.0f} max {res.iterations.max()} at-cap {int((~res.converged).sum())}"


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
        out.append((label, t, np.median(res.gap), np.median(res.objective / res.lower_bound - 1), iteration_note(res)))
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
    ap.add_argument("--families", nargs="*", default=["planted", "network"],
                    choices=["planted", "network", *OWN_STREAM], help="game families (docstring)")
    ap.add_argument("--size-rule", action="store_true",
                    help="also time the default solver without the corrections of the rho rule (issue 29)")
    ap.add_argument("--csv", default=None, help="append the rows to this CSV file")
    args = ap.parse_args()
    r = args.noise_bound
    ns = args.ns or ([8, 10, 12] + ([14, 16] if args.large else []))
    rng = np.random.default_rng(0)
    load = os.getloadavg()[0] if hasattr(os, "getloadavg") else float("nan")
    print(
        f"device={args.device} torch={torch.__version__} threads={torch.get_num_threads()} cpus={os.cpu_count()} "
        f"load1={load:.2f} samples={args.samples} noise_bound={r} repeats={args.repeats}"
    )
    print(f"{'n':>3} {'game':>16} {'solver':>14} {'s/sample':>10} {'gap(med)':>10} {'obj/LB-1':>10} {'vs admm':>8}  iterations")
    shared = {"planted": planted_games, "network": network_games}
    for n in ns:
        for name in ["planted", "network", *[f for f in OWN_STREAM if f in args.families]]:
            if name in shared:
                games = shared[name](n, args.samples, rng)  # drawn even if not listed: the stream stays the same
                if name not in args.families:
                    continue
            else:
                games = OWN_STREAM[name](n, args.samples, np.random.default_rng([list(OWN_STREAM).index(name), n]))
            v = torch.as_tensor(games, device=args.device)
            vn = v.cpu().numpy()
            eta = r * np.abs(vn[:, -1] - vn[:, 0])
            def admm():
                out = gp.extract_and_or(v, noise_bound=r, fallback_max_n=0, ties=args.ties)
                if args.device != "cpu":
                    torch.cuda.synchronize()
                return out

            def size_rule():
                from genphase.solvers import halpern

                kappas = halpern._MEDIAN_KAPPA, halpern._MOVE_KAPPA
                halpern._MEDIAN_KAPPA = halpern._MOVE_KAPPA = float("inf")  # neither correction applies
                try:
                    return admm()
                finally:
                    halpern._MEDIAN_KAPPA, halpern._MOVE_KAPPA = kappas

            if args.size_rule:  # interleaved, so that both see the same load
                (res, res0), (t_admm, t_size) = timed_pair(admm, size_rule, args.repeats)
            else:
                res, t_admm = timed(admm, args.repeats)
            lb = res.lower_bound
            rows = [("admm", t_admm, np.median(res.gap), np.median(res.objective / lb - 1), iteration_note(res))]
            if args.size_rule:
                rows.append(("admm-size-rule", t_size, np.median(res0.gap), np.median(res0.objective / res0.lower_bound - 1),
                             iteration_note(res0)))
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
                print(f"{n:>3} {name:>16} {solver:>14} {t / args.samples:>10.4f} {gap:>10.2e} {rel:>10.2e} {speed:>7.1f}x  {note}", flush=True)
                if args.csv and solver.startswith("admm"):
                    its = note.split()
                    with open(args.csv, "a") as f:
                        f.write(f"{n},{name},{solver},{t / args.samples:.6g},{its[1]},{its[3]},{its[5]},{args.noise_bound},{load:.2f}\n")


if __name__ == "__main__":
    main()
