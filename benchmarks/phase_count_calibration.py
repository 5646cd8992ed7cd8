"""Calibration of ``count_phases`` (issues #18 and #26): how often each number of phases is the most supported one,
on synthetic per-sample H-bar tables whose truth is known.

Truths (t = x rescaled to [0, 1], x = log(1 + epoch), knots off the checkpoints):
"line": 0.3 + 0.4 t (1 phase); "saturating": 0.15 + 0.65 (1 - exp(-t / 0.15)), a smooth rise that levels off and
never falls (at most 2); "rise-fall": rise to t = 0.5, then fall (2); "rise-fall-plateau": 0.15 -> 0.78 at t = 0.4,
-> 0.32 at t = 0.75, flat (3, the default run's shape). Checkpoints: the default run's (``digits``: 10 log-spaced epochs
in 0..60, epoch 0 first). Per-sample H-bar = truth + N(0, sd) noise, ``samples`` samples (the default run explains
128 training samples; its per-sample sd is about 0.15); ``count_phases`` with ``n_resamples`` resamples; ``reps``
seeded replicates per cell. Prints, per truth, how many replicates got 1, 2, 3 phases, and the false-positive rate
(more phases than the truth has), and the time per call.

Run: .venv/bin/python benchmarks/phase_count_calibration.py [--reps 40] [--resamples 200] [--samples 128]
"""

from __future__ import annotations

import argparse
import time

import numpy as np
import pandas as pd

from genphase.analysis import count_phases
from genphase.pipeline.config import load_config

TRUTHS = {"line": 1, "saturating": 2, "rise-fall": 2, "rise-fall-plateau": 3}


def curve(kind: str, x: np.ndarray) -> np.ndarray:
    t = (x - x[0]) / (x[-1] - x[0])
    if kind == "line":
        return 0.3 + 0.4 * t
    if kind == "saturating":
        return 0.15 + 0.65 * (1 - np.exp(-t / 0.15))
    if kind == "rise-fall":
        return np.where(t < 0.5, 0.2 + 0.5 * t / 0.5, 0.7 - 0.3 * (t - 0.5) / 0.5)
    return np.interp(t, [0.0, 0.4, 0.75, 1.0], [0.15, 0.78, 0.32, 0.32])


def table(y: np.ndarray, epochs: np.ndarray, samples: int, sd: float, seed: int) -> pd.DataFrame:
    h = y[None, :] + np.random.default_rng(seed).normal(0.0, sd, (samples, epochs.size))
    return pd.DataFrame({"checkpoint": np.tile(epochs, samples), "sample": np.repeat(np.arange(samples), epochs.size),
                         "split": "train", "h_bar": h.reshape(-1)})


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--reps", type=int, default=40)
    ap.add_argument("--resamples", type=int, default=200)
    ap.add_argument("--samples", type=int, default=128)
    args = ap.parse_args()
    e = np.array(load_config("digits").checkpoint_epochs())  # the default run's checkpoints
    print(f"{args.samples} samples, {args.reps} replicates per cell, {args.resamples} resamples each; checkpoints (the "
          f"default run's): {e.tolist()}")
    print("| C | sd | truth (phases) | got 1 / 2 / 3 | more than the truth |")
    print("| --- | --- | --- | --- | --- |")
    times = []
    for C in (e.size,):
        x = np.log1p(e)
        for sd in (0.15, 0.25):
            for kind, truth in TRUTHS.items():
                got = []
                for s in range(args.reps):
                    t0 = time.perf_counter()
                    got.append(count_phases(table(curve(kind, x), e, args.samples, sd, s), n_resamples=args.resamples,
                                            seed=s).phase_count)
                    times.append(time.perf_counter() - t0)
                n = np.bincount(got, minlength=4)[1:]
                fp = int(n[truth:].sum())
                print(f"| {C} | {sd} | {kind} ({truth}) | {' / '.join(map(str, n.tolist()))} | "
                      f"{fp} of {args.reps} ({fp / args.reps:.0%}) |", flush=True)
    print(f"median time per count_phases call: {np.median(times) * 1e3:.1f} ms ({args.resamples} resamples)")


if __name__ == "__main__":
    main()
