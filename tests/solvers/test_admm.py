"""Both iterations of genphase.solvers.admm, without the HiGHS fallback, against the HiGHS LP
optimum (an independent exact solver) and against planted games with a known sparsest form."""

from __future__ import annotations

import numpy as np
import pytest
import torch
from games import planted_game, random_planted

import genphase as gp
from genphase.errors import InputError
from genphase.solvers.admm import ADMMOptions, solve_admm
from genphase.solvers.lp import solve_lp_highs
from genphase.transforms import zeta

PATHS = {
    "halpern-float32": dict(iterate_dtype="float32"),
    "halpern-float64": dict(iterate_dtype="float64"),
    "admm": dict(halpern=False),
}


def _normalised(v: np.ndarray) -> torch.Tensor:
    v = v - v[:, :1]
    return torch.as_tensor(v / np.abs(v).max(-1, keepdims=True))


def _games(rng, n: int) -> np.ndarray:
    dense = rng.normal(size=(2, 1 << n))
    k = 3 if n >= 4 else n - 1  # planted terms of order >= 2 need enough subsets
    planted = [planted_game(n, *random_planted(rng, n, k, k, min_order=min(2, n)), bias=0.3) + 0.02 * rng.normal(size=1 << n) for _ in range(2)]
    return np.concatenate([dense, np.stack(planted)])


@pytest.mark.parametrize("path", sorted(PATHS))
@pytest.mark.parametrize("n", [1, 3, 5, 7, 9])
@pytest.mark.parametrize("noise_bound", [0.0, 0.03])
def test_certificate_brackets_the_lp_optimum(path, n, noise_bound, rng):
    # the Gauss-Seidel ADMM can stall on noise-bounded games (HiGHS finishes those samples in
    # genphase.solvers.solve); there only the certificate's validity is required
    legacy_noisy = path == "admm" and noise_bound > 0
    vb = _normalised(_games(rng, n))
    eta = noise_bound * (vb[:, -1] - vb[:, 0]).abs()
    res = solve_admm(vb, eta, ADMMOptions(max_iter=5000 if legacy_noisy else 20000, **PATHS[path]))
    _, _, _, opt = solve_lp_highs(vb.numpy(), eta.numpy())
    obj, lb = res.objective.numpy(), res.lower_bound.numpy()
    if legacy_noisy:
        obj, lb = obj[res.converged.numpy()], lb[res.converged.numpy()]
        assert np.all(res.lower_bound.numpy() <= opt * (1 + 1e-8) + 1e-10)
        opt = opt[res.converged.numpy()]
    else:
        assert res.converged.all(), res.gap
    assert np.all(lb <= opt * (1 + 1e-8) + 1e-10), (lb, opt)  # a valid lower bound
    assert np.all(obj >= opt * (1 - 1e-8) - 1e-10)  # a feasible point
    assert np.all(obj <= lb * (1 + 1e-3) + 1e-10)  # certified within tol
    # the returned effects rebuild the noisy game exactly (float64), whatever dtype the iterates had
    a, o, q = res.and_effects.numpy(), res.or_effects.numpy(), res.noise.numpy()
    assert np.all(np.abs(q) <= eta.numpy()[:, None] + 1e-12)
    rebuilt = zeta(a) + or_transform_inverse_no_bias(o)
    np.testing.assert_allclose(rebuilt, vb.numpy() + q - q[:, :1], atol=1e-12)
    # Eq. 6 as written
    np.testing.assert_allclose(res.objective.numpy(), np.abs(a[:, 1:]).sum(-1) + np.abs(o[:, 1:]).sum(-1), rtol=1e-12)


def or_transform_inverse_no_bias(o: np.ndarray) -> np.ndarray:
    """v_or[S] = sum_{T meets S} o[T] for T != {}, by the definition (o[{}] ignored)."""
    size = o.shape[-1]
    S = np.arange(size)
    meets = ((S[:, None] & S[None, :]) != 0).astype(float)  # [S, T]
    return o @ meets.T


def test_float32_stall_switches_to_float64_and_still_certifies(rng):
    # planted games with small dense noise: float32 round-off alone leaves their certified gap
    # near 2e-3 (measured at n = 10); the solver must notice and finish in float64
    n = 10
    games = [planted_game(n, *random_planted(rng, n, 6, 6), bias=0.0) for _ in range(4)]
    vb = _normalised(np.stack(games) + 0.02 * rng.normal(size=(4, 1 << n)))
    res = solve_admm(vb, torch.zeros(4, dtype=vb.dtype), ADMMOptions(max_iter=6000, iterate_dtype="float32"))
    assert res.converged.all() and (res.gap <= 1e-3).all(), res.gap


def test_planted_sparse_game_recovered_by_each_path(rng):
    n = 8
    and_terms, or_terms = random_planted(rng, n, 3, 3)
    v = planted_game(n, and_terms, or_terms)[None]
    l1 = sum(map(abs, and_terms.values())) + sum(map(abs, or_terms.values()))
    for path, kw in PATHS.items():
        res = solve_admm(torch.as_tensor(v), torch.zeros(1, dtype=torch.float64), ADMMOptions(tol=1e-6, max_iter=50000, **kw))
        assert res.converged.all(), path
        np.testing.assert_allclose(res.objective.numpy(), l1, rtol=2e-6, err_msg=path)
        for t, w in and_terms.items():
            assert abs(res.and_effects[0, t].item() - w) <= 1e-3 * l1, path
        for t, w in or_terms.items():
            assert abs(res.or_effects[0, t].item() - w) <= 1e-3 * l1, path


def test_same_input_same_effects(rng):
    # the tie rule is the deterministic trajectory: repeated solves agree bit for bit
    vb = _normalised(rng.normal(size=(3, 64)))
    r1 = solve_admm(vb, torch.zeros(3, dtype=vb.dtype))
    r2 = solve_admm(vb, torch.zeros(3, dtype=vb.dtype))
    assert torch.equal(r1.and_effects, r2.and_effects) and torch.equal(r1.or_effects, r2.or_effects)


def test_warm_start_from_the_optimum_converges_faster(rng):
    vb = _normalised(rng.normal(size=(4, 256)))
    zero = torch.zeros(4, dtype=vb.dtype)
    cold = solve_admm(vb, zero, ADMMOptions(check_every=5))
    warm = solve_admm(vb, zero, ADMMOptions(check_every=5), init=cold.and_effects)
    assert warm.converged.all()
    assert warm.iterations.sum() < cold.iterations.sum()


def test_zero_variables():
    # n = 0: one mask, nothing to explain
    res = gp.extract_and_or(np.array([[1.0], [2.0]]))
    assert res.and_effects.shape == (2, 1) and np.all(res.objective == 0) and np.all(res.converged)
    np.testing.assert_allclose(res.bias, [1.0, 2.0])


def test_bad_iterate_dtype_is_explained():
    with pytest.raises(InputError, match="iterate_dtype"):
        gp.extract_and_or(np.zeros(8), iterate_dtype="float16")


def test_sample_alone_or_in_a_batch_agrees_within_the_certificate(rng):
    # the batch can change round-off and the float32 -> float64 switch, never the certified answer
    n = 8
    games = np.stack([rng.integers(-2, 3, 1 << n).astype(float)]
                     + [planted_game(n, *random_planted(rng, n, 3, 3)) + 0.02 * rng.normal(size=1 << n) for _ in range(6)])
    vb = _normalised(games)
    zero = torch.zeros(len(vb), dtype=vb.dtype)
    alone = solve_admm(vb[:1], zero[:1])
    batch = solve_admm(vb, zero)
    assert alone.converged.all() and batch.converged.all()
    for r in (alone, batch):
        assert r.lower_bound[0] <= batch.objective[0] and r.lower_bound[0] <= alone.objective[0]
    np.testing.assert_allclose(alone.objective[0].item(), batch.objective[0].item(), rtol=1e-3)
