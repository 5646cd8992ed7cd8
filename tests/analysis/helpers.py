"""Builders of hand-made interaction sets and synthetic training series for the analysis tests."""

from __future__ import annotations

import numpy as np
import pandas as pd

import genphase as gp


def make(and_terms: dict[int, float] | None = None, or_terms: dict[int, float] | None = None, *, n: int = 3,
         bias: float = 0.0, variables=None) -> gp.AndOrInteractions:
    """One sample with the given AND / OR effects (bitmask -> effect), all other effects 0."""
    a = np.zeros(1 << n)
    o = np.zeros(1 << n)
    for t, w in (and_terms or {}).items():
        a[t] = w
    for t, w in (or_terms or {}).items():
        o[t] = w
    return gp.AndOrInteractions.from_effects(a, o, bias, variables=variables)


def stack(*sets: gp.AndOrInteractions) -> gp.AndOrInteractions:
    """Batch single-sample sets into one AndOrInteractions of batch shape [len(sets)]."""
    a = np.stack([s.and_effects for s in sets])
    o = np.stack([s.or_effects for s in sets])
    b = np.array([float(s.bias) for s in sets])
    return gp.AndOrInteractions.from_effects(a, o, b, variables=sets[0].variables)


def random_set(rng: np.random.Generator, batch=(4,), n: int = 4, bias: float = 0.0) -> gp.AndOrInteractions:
    """Dense random effects (every interaction non-zero), batch shape ``batch``."""
    return gp.AndOrInteractions.from_effects(rng.normal(size=(*batch, 1 << n)), rng.normal(size=(*batch, 1 << n)),
                                             bias)


def series(epochs=None, *, p1: int = 20, p3: int = 60, noise_h: float = 0.0, noise_l: float = 0.0, seed: int = 0,
           h_shape: str = "three", test_shape: str = "plateau", samples: int = 2):
    """Synthetic training log and H-bar table with known boundaries.

    H-bar: rises linearly 0.2 -> 0.7 until ``p1``, then falls linearly to 0.4 at the last epoch
    ("three"); constant 0.5 ("flat"); rising throughout ("rising"). Test loss: 2.0 -> 1.0 until
    ``p1``, 1.0 -> 0.8 until ``p3``, then flat with a slight rise ("plateau"); or linear 2 -> 1
    ("linear"). Train loss: 2 exp(-e/25) + 0.05.
    """
    epochs = np.arange(0, 101) if epochs is None else np.asarray(epochs)
    rng = np.random.default_rng(seed)
    e = epochs.astype(float)
    if h_shape == "three":
        h = np.where(e <= p1, 0.2 + 0.5 * e / p1, 0.7 - 0.3 * (e - p1) / (e[-1] - p1))
    elif h_shape == "flat":
        h = np.full(e.shape, 0.5)
    else:
        h = 0.2 + 0.5 * e / e[-1]
    h = h + rng.normal(0, noise_h, e.shape)
    if test_shape == "plateau":
        test = np.where(e <= p1, 2.0 - e / p1, np.where(e <= p3, 1.0 - 0.2 * (e - p1) / (p3 - p1), 0.8 + 0.001 * (e - p3)))
    else:
        test = 2.0 - e / e[-1]
    train = 2.0 * np.exp(-e / 25) + 0.05
    test = test + rng.normal(0, noise_l, e.shape)
    train = train + rng.normal(0, noise_l, e.shape)
    k = len(e)
    training = pd.DataFrame({"model": "model", "epoch": np.r_[epochs, epochs], "split": ["train"] * k + ["test"] * k,
                             "loss": np.r_[train, test], "accuracy": 0.5})
    h_bar = pd.DataFrame({"checkpoint": np.repeat(epochs, samples), "sample": np.tile(np.arange(samples), k),
                          "split": "train", "h_bar": np.repeat(h, samples)})
    return training, h_bar


def planted_strengths(epochs=None, *, p3: int | None = 60, samples: int = 2, split: str = "train",
                      scale=None) -> pd.DataFrame:
    """Synthetic ``order_strengths`` table whose phase 3 starts at ``p3`` by construction.

    Per sample (``scale[s]`` times, default 1), type "all":
    - order 1, "+": generalizable strength growing by 0.02 per epoch up to ``p3``, 0.002 per epoch after;
    - order 2, "-": non-generalizable noise falling linearly from 1.0 to 0 over epochs 0..20 (removed, not learned);
    - order 3, "-": non-generalizable strength growing by 0.01 per epoch throughout.
    So the strength newly learned per epoch is 1/3 non-generalizable before ``p3`` and 0.01 / 0.012 = 5/6 after
    (``p3=None``: 0.02 per epoch throughout, never mostly non-generalizable).
    """
    epochs = np.arange(0, 101) if epochs is None else np.asarray(epochs)
    e = epochs.astype(float)
    knee = np.inf if p3 is None else float(p3)
    g1 = 0.02 * np.minimum(e, knee) + 0.002 * np.maximum(e - knee, 0.0)
    n2 = np.clip(1.0 - e / 20.0, 0.0, None)
    n3 = 0.01 * e
    scale = np.ones(samples) if scale is None else np.asarray(scale, dtype=float)
    rows = []
    for i, c in enumerate(epochs):
        for s in range(samples):
            k = scale[s]
            for m, sign, tot, gen in ((1, "+", k * g1[i], k * g1[i]), (2, "-", -k * n2[i], 0.0),
                                      (3, "-", -k * n3[i], 0.0), (1, "-", 0.0, 0.0), (2, "+", 0.0, 0.0),
                                      (3, "+", 0.0, 0.0)):
                rows.append({"checkpoint": int(c), "sample": s, "split": split, "type": "all", "order": m, "sign": sign,
                             "total": tot, "generalizable": gen})
    return pd.DataFrame(rows)
