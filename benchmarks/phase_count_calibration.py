"""Calibration of ``count_phases`` (issue #18, item 5): how often the planted number of linear segments of
mean H-bar over log(1 + epoch) is the most supported one, on synthetic per-sample H-bar tables.

Truths (t = x rescaled to [0, 1], x = log(1 + epoch), knots off the checkpoints):
1 segment: 0.3 + 0.4 t; 2 segments: rise to t = 0.5, then fall; 3 segments: rise to t = 0.35, fall to
t = 0.7, flat. Checkpoints: C log-spaced epochs in 0..60 (epoch 0 first). Per-sample H-bar = truth +
N(0, sd) noise, ``samples`` samples; ``count_phases`` with ``n_resamples`` resamples; ``reps`` seeded
replicates per cell. Prints the counts of the chosen number (1, 2, 3) per truth, and the time per call.

Run: .venv/bin/python benchmarks/phase_count_calibration.py [--reps 40] [--resamples 200]
"""

from __future__ import annotations

import argparse
import time

import numpy as np
import pandas as pd

from genphase.analysis import count_phases


def curve(kind: int, x: np.ndarray) -> np.ndarray:
    t = (x - x[0]) / (x[-1] - x[0])
    if kind == 1:
        return 0.3 + 0.4 * t
    if kind == 2:
        return np.where(t < 0.5, 0.2 + 0.5 * t / 0.5, 0.7 - 0.3 * (t - 0.5) / 0.5)
    return np.where(t < 0.35, 0.2 + 0.5 * t / 0.35, np.where(t < 0.7, 0.7 - 0.3 * (t - 0.35) / 0.35, 0.4))


def schedule(C: int) -> np.ndarray:
    e = np.r_[0, np.unique(np.round(np.geomspace(1, 60, C - 1)).astype(int))]
    while e.size < C:
        e = np.unique(np.r_[e, e[-1] + 1])
    return e


def table(y: np.ndarray, epochs: np.ndarray, samples: int, sd: float, seed: int) -> pd.DataFrame:
    h = y[None, :] + np.random.default_rng(seed).normal(0.0, sd, (samples, epochs.size))
    return pd.DataFrame({"checkpoint": np.tile(epochs, samples), "sample": np.repeat(np.arange(samples), epochs.size),
                         "split": "train", "h_bar": h.reshape(-1)})


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--reps", type=int, default=40)
    ap.add_argument("--resamples", type=int, default=200)
    ap.add_argument("--samples", type=int, default=16)
    args = ap.parse_args()
    print("| C | sd | truth 1 -> (1, 2, 3) | truth 2 -> | truth 3 -> |")
    print("| --- | --- | --- | --- | --- |")
    times = []
    for C in (8, 12):
        e = schedule(C)
        x = np.log1p(e)
        for sd in (0.05, 0.1, 0.2):
            cells = []
            for kind in (1, 2, 3):
                got = []
                for s in range(args.reps):
                    t0 = time.perf_counter()
                    got.append(count_phases(table(curve(kind, x), e, args.samples, sd, s), n_resamples=args.resamples,
                                            seed=s).phase_count)
                    times.append(time.perf_counter() - t0)
                cells.append(str(tuple(np.bincount(got, minlength=4)[1:].tolist())))
            print(f"| {C} | {sd} | " + " | ".join(cells) + " |", flush=True)
    print(f"median time per count_phases call: {np.median(times) * 1e3:.1f} ms ({args.resamples} resamples)")


if __name__ == "__main__":
    main()
