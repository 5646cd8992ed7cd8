"""solver="sgd-reference" follows the original code: its loss sums |I| over all subsets, the
empty one included (checked against the loss written out from the definitions), so with a noise
bound it spends q[{}] on the raw v[{}]."""

from __future__ import annotations

import numpy as np
import torch

import genphase as gp
from genphase.solvers.lp import solve_lp_highs
from genphase.solvers.sgd import reference_loss


def original_loss(v: np.ndarray, gamma: np.ndarray, q: np.ndarray) -> float:
    """sum_S |I_and(S)| + |I_or(S)| over all S, by the definitions of the original code:
    I_and(S) = sum_{L subset S} (-1)^(|S|-|L|) o_and(L); I_or({}) = o_or({}) and, for S != {},
    I_or(S) = -sum_{L subset S} (-1)^(|S|-|L|) o_or(N \\ L)."""
    size = v.size
    full = size - 1
    o_and = 0.5 * (v + q) + gamma
    o_or = 0.5 * (v + q) - gamma
    total = 0.0
    for S in range(size):
        i_and = sum((-1) ** (bin(S).count("1") - bin(L).count("1")) * o_and[L] for L in range(size) if L & S == L)
        if S == 0:
            i_or = o_or[0]
        else:
            i_or = -sum((-1) ** (bin(S).count("1") - bin(L).count("1")) * o_or[full & ~L] for L in range(size) if L & S == L)
        total += abs(i_and) + abs(i_or)
    return total


def test_loss_includes_the_empty_set_terms(rng):
    for n in (1, 2, 4):
        v, gamma, q = (rng.normal(size=1 << n) for _ in range(3))
        v[0] += 3.0  # a raw game: v[{}] != 0
        got = reference_loss(*(torch.as_tensor(x)[None] for x in (v, gamma, q)))
        np.testing.assert_allclose(got.item(), original_loss(v, gamma, q), rtol=1e-12)


def test_noise_is_spent_on_the_raw_empty_value(rng):
    # the same game shifted by +4 and -4: Eq. 6 does not see the shift, the recipe does. Its
    # empty-set terms add >= |v[{}] + q[{}]|, so q[{}] goes to -sign(v[{}]) * eta and the
    # effects drift (the recipe without those terms gives both rows the same q and effects)
    n = 4
    base = rng.normal(size=1 << n)
    base -= base[0]
    v = np.stack([base + 4.0, base - 4.0])
    ref = gp.extract_and_or(v, solver="sgd-reference", steps=3000, lr=1e-3, noise_bound=0.05, certify=False)
    eta = 0.05 * np.abs(v[:, -1] - v[:, 0])
    assert ref.noise[0, 0] < -0.5 * eta[0] and ref.noise[1, 0] > 0.5 * eta[1]
    assert np.abs(ref.and_effects[0] - ref.and_effects[1]).max() > 1e-4
    np.testing.assert_allclose(ref.bias, v[:, 0] + ref.noise[:, 0])
    np.testing.assert_allclose(ref.reconstruct(), v + ref.noise, atol=1e-9)


def test_without_noise_the_certificate_still_holds(rng):
    n = 5
    v = rng.normal(size=(3, 1 << n)) + 2.0
    ref = gp.extract_and_or(v, solver="sgd-reference", steps=500)
    _, _, _, opt = solve_lp_highs(v)
    assert np.all(ref.lower_bound <= opt * (1 + 1e-8))
    assert np.all(ref.objective >= opt * (1 - 1e-9))
    assert np.all(ref.gap >= (ref.objective - opt) / opt - 1e-9)
    np.testing.assert_allclose(ref.noise, 0.0)
    np.testing.assert_allclose(ref.reconstruct(), v, atol=1e-9)
