"""The default solver (ties="cold-start") follows the same path for a sample whatever batch it is in:
the float32 -> float64 hand-over is decided per sample, so a sample solved alone and inside a
mixed batch takes the same iterations and returns the same effects."""

from __future__ import annotations

import numpy as np
import torch
from test_ties import planted_tie_games

import genphase as gp
from genphase.transforms import bitmasks_to_masks


def mlp_games(n: int, count: int, rng: np.random.Generator) -> np.ndarray:
    """Log-odds of random 2-layer MLPs over the n masked inputs (dense games, slow to certify)."""
    torch.manual_seed(int(rng.integers(1 << 31)))
    masks = torch.as_tensor(bitmasks_to_masks(np.arange(1 << n), n), dtype=torch.float32)
    out = []
    for _ in range(count):
        net = torch.nn.Sequential(torch.nn.Linear(n, 64), torch.nn.ReLU(), torch.nn.Linear(64, 2))
        with torch.no_grad():
            z = net(masks * (torch.randn(n) * 2))
        out.append((z[:, 1] - z[:, 0]).double().numpy() * 3)
    return np.stack(out)


def test_sample_alone_and_in_a_mixed_batch_take_the_same_path():
    # games with planted ties next to dense parts, and other dense games that stall in float32 at
    # other times; tol = 1e-4 makes float32 round-off matter (the hand-over to float64 happens).
    # Before the hand-over was decided per sample, game 0 took 575 iterations in this batch and
    # 625 alone.
    rng = np.random.default_rng(1)
    n = 7
    games = planted_tie_games(rng, n, 4) + 0.3 * mlp_games(n, 4, rng)
    mixed = np.concatenate([games, mlp_games(n, 8, rng)])
    in_batch = gp.extract_and_or(mixed, tol=1e-4, fallback_max_n=0)
    alone = gp.extract_and_or(games, tol=1e-4, batch_size=1, fallback_max_n=0)
    assert np.all(in_batch.converged) and np.all(alone.converged)
    np.testing.assert_array_equal(in_batch.iterations[:4], alone.iterations)
    a = in_batch.effects().reshape(len(mixed), -1)[:4]
    b = alone.effects().reshape(len(games), -1)
    assert np.all(np.abs(a - b).max(-1) <= 0.01 * np.abs(b).max(-1))
