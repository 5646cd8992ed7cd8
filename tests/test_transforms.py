"""Fast transforms against brute-force definitions (docs/science.md, sections 2-3)."""

from __future__ import annotations

import numpy as np
import pytest
import torch
from hypothesis import given, settings
from hypothesis import strategies as st
from hypothesis.extra.numpy import arrays

from genphase.errors import InputError
from genphase.transforms import (
    bitmasks_to_masks,
    inverse_or_transform,
    kron_operator,
    masks_to_bitmasks,
    moebius,
    num_variables,
    or_transform,
    reverse,
    subset_orders,
    superset_moebius,
    superset_zeta,
    zeta,
)


def brute_moebius(f):
    size = f.shape[-1]
    out = np.zeros_like(f)
    for T in range(size):
        for L in range(size):
            if L & T == L:
                out[..., T] += (-1) ** (bin(T).count("1") - bin(L).count("1")) * f[..., L]
    return out


def brute_zeta(f):
    size = f.shape[-1]
    return np.stack([sum(f[..., T] for T in range(size) if T & S == T) for S in range(size)], -1)


def brute_superset_zeta(f):
    size = f.shape[-1]
    return np.stack([sum(f[..., T] for T in range(size) if T & U == U) for U in range(size)], -1)


def brute_or(f):
    size = f.shape[-1]
    full = size - 1
    out = np.zeros_like(f)
    for T in range(size):
        for L in range(size):
            if L & T == L:
                out[..., T] -= (-1) ** (bin(T).count("1") - bin(L).count("1")) * f[..., full & ~L]
    return out


games = st.integers(0, 5).flatmap(
    lambda n: arrays(np.float64, (2, 1 << n), elements=st.floats(-100, 100, allow_nan=False))
)


@settings(max_examples=40, deadline=None)
@given(games)
def test_transforms_match_brute_force(f):
    np.testing.assert_allclose(moebius(f), brute_moebius(f), atol=1e-8)
    np.testing.assert_allclose(zeta(f), brute_zeta(f), atol=1e-8)
    np.testing.assert_allclose(superset_zeta(f), brute_superset_zeta(f), atol=1e-8)
    np.testing.assert_allclose(or_transform(f), brute_or(f), atol=1e-8)


@settings(max_examples=40, deadline=None)
@given(games)
def test_transforms_invert_each_other(f):
    np.testing.assert_allclose(zeta(moebius(f)), f, atol=1e-7)
    np.testing.assert_allclose(moebius(zeta(f)), f, atol=1e-7)
    np.testing.assert_allclose(superset_moebius(superset_zeta(f)), f, atol=1e-7)
    np.testing.assert_allclose(inverse_or_transform(or_transform(f)), f, atol=1e-7)


@pytest.mark.parametrize("n", [7, 13])
def test_large_n_chunked_path_matches_composition(n, rng):
    # beyond one chunk (6 bits): zeta(moebius) must still be the identity, torch == numpy
    f = rng.normal(size=(3, 1 << n))
    np.testing.assert_allclose(zeta(moebius(f)), f, atol=1e-9)
    t = torch.as_tensor(f)
    np.testing.assert_allclose(moebius(t).numpy(), moebius(f), atol=1e-12)
    # one variable at a time: the Moebius transform of an indicator of "i in S" is e_{ {i} }
    S = np.arange(1 << n)
    ind = ((S >> (n - 1)) & 1).astype(float)
    m = moebius(ind)
    expected = np.zeros(1 << n)
    expected[1 << (n - 1)] = 1.0
    np.testing.assert_allclose(m, expected, atol=1e-12)


def test_batched_leading_axes_and_dtype_kept(rng):
    f = rng.normal(size=(2, 3, 16)).astype(np.float32)
    out = moebius(f)
    assert out.shape == (2, 3, 16) and out.dtype == np.float32
    t = torch.as_tensor(f)
    out_t = moebius(t)
    assert isinstance(out_t, torch.Tensor) and out_t.shape == (2, 3, 16)
    np.testing.assert_allclose(out_t.numpy(), out, atol=1e-5)
    np.testing.assert_allclose(reverse(f)[..., 0], f[..., -1])


def test_orders_and_mask_conversion():
    assert list(subset_orders(3)) == [0, 1, 1, 2, 1, 2, 2, 3]
    masks = bitmasks_to_masks(np.array([0, 5, 7]), 3)
    assert masks.tolist() == [[False, False, False], [True, False, True], [True, True, True]]
    assert masks_to_bitmasks(masks).tolist() == [0, 5, 7]


@pytest.mark.parametrize("size", [0, 3, 6, 100])
def test_bad_sizes_are_named(size):
    with pytest.raises(InputError, match=str(size)):
        num_variables(size)


@settings(max_examples=30, deadline=None)
@given(st.integers(1, 9), st.integers(1, 3), st.sampled_from([torch.float32, torch.float64]), st.integers(0, 2**31 - 1))
def test_kron_operator_matches_dense_kronecker(n, batch, dtype, seed):
    rng = np.random.default_rng(seed)
    m = rng.normal(size=(2, 2))
    x = rng.normal(size=(batch, 1 << n))
    dense = np.ones((1, 1))
    for _ in range(n):
        dense = np.kron(m, dense)  # variable 0 is the fastest-varying bit
    op = kron_operator(m, n, dtype=dtype)
    out = op(torch.as_tensor(x, dtype=dtype))
    assert out.dtype == dtype and out.shape == (batch, 1 << n)
    tol = 1e-4 if dtype == torch.float32 else 1e-10
    np.testing.assert_allclose(out.double().numpy(), x @ dense.T, rtol=tol, atol=tol * np.abs(dense).sum())


def test_kron_operator_rejects_n0():
    with pytest.raises(InputError, match="n >= 1"):
        kron_operator(np.eye(2), 0, dtype=torch.float64)
