"""Point-cloud datasets and the over-fitting knobs (subsampling, label noise)."""

from __future__ import annotations

import numpy as np
import pytest

from genphase.datasets import (
    PRIMITIVES,
    add_label_noise,
    load_dataset,
    load_digits,
    load_primitives,
    pointclouds_from_images,
    random_rotations,
    sample_primitive,
    subsample,
    subsample_train,
)
from genphase.errors import InputError


def test_primitives_seeded_and_shaped() -> None:
    a = load_primitives(num_per_class=8, num_points=64, seed=3)
    b = load_primitives(num_per_class=8, num_points=64, seed=3)
    c = load_primitives(num_per_class=8, num_points=64, seed=4)
    assert a.x_train.shape == (36, 64, 3) and a.x_test.shape == (12, 64, 3)
    assert a.x_train.dtype == np.float32 and a.input_shape == (64, 3)
    assert a.class_names == list(PRIMITIVES) and a.num_classes == 6
    assert np.array_equal(a.x_train, b.x_train) and np.array_equal(a.y_test, b.y_test)
    assert not np.allclose(a.x_train, c.x_train)
    assert set(np.unique(a.y_test)) == set(range(6))


def _canonical_stats(kind: str) -> np.ndarray:
    # Rotation-invariant signature: sorted eigenvalues of the covariance and radial quantiles.
    pts = sample_primitive(kind, 20, 512, np.random.default_rng(0), noise=0.0, scale_range=(1.0, 1.0))
    r = np.linalg.norm(pts, axis=-1)
    cov = np.einsum("npi,npj->nij", pts - pts.mean(1, keepdims=True), pts - pts.mean(1, keepdims=True)) / 512
    eig = np.sort(np.linalg.eigvalsh(cov), axis=1)
    return np.concatenate([eig.mean(0), np.quantile(r, [0.05, 0.5, 0.95])])


def test_primitive_classes_differ() -> None:
    stats = {k: _canonical_stats(k) for k in PRIMITIVES}
    for i, a in enumerate(PRIMITIVES):
        for b in PRIMITIVES[i + 1 :]:
            assert np.abs(stats[a] - stats[b]).max() > 0.05, (a, b)
    sphere = sample_primitive("sphere", 2, 100, np.random.default_rng(0), noise=0.0, scale_range=(1.0, 1.0))
    np.testing.assert_allclose(np.linalg.norm(sphere, axis=-1), 1.0, atol=1e-9)
    rng = np.random.default_rng(0)
    cube = sample_primitive("cube", 2, 100, rng, noise=0.0, scale_range=(1.0, 1.0), rotation="none")
    np.testing.assert_allclose(np.abs(cube).max(axis=-1), 1.0, atol=1e-12)  # every point on a face
    with pytest.raises(InputError, match="unknown primitive"):
        sample_primitive("teapot", 1, 10, np.random.default_rng(0))


def test_random_rotations_are_rotations() -> None:
    for axis in ("so3", "z"):
        r = random_rotations(50, np.random.default_rng(0), axis)
        np.testing.assert_allclose(r @ r.transpose(0, 2, 1), np.broadcast_to(np.eye(3), (50, 3, 3)), atol=1e-12)
        np.testing.assert_allclose(np.linalg.det(r), 1.0, atol=1e-12)
    np.testing.assert_allclose(r[:, 2], np.broadcast_to([0.0, 0.0, 1.0], (50, 3)))  # z axis fixed
    z_only = load_primitives(num_per_class=2, num_points=32, rotation="z", noise=0.0, scale_range=(1.0, 1.0))
    cyl = z_only.x_train[z_only.y_train == PRIMITIVES.index("cylinder")]
    np.testing.assert_allclose(np.abs(cyl[..., 2]).max(), 1.0, atol=1e-6)


def test_pointclouds_from_images_follow_intensity() -> None:
    images = np.zeros((3, 1, 8, 8), dtype=np.float32)
    images[0, 0, 0, 0] = 1.0  # top-left pixel only
    images[1, 0, 7, 7] = 0.5  # bottom-right pixel only
    # images[2] is all zero -> uniform
    pts, y = pointclouds_from_images(images, np.array([0, 1, 2]), num_points=50, seed=0, jitter=0.0)
    assert pts.shape == (3, 50, 3) and pts.dtype == np.float32 and y.dtype == np.int64
    assert np.all((pts[0, :, 0] >= -1) & (pts[0, :, 0] <= -0.75) & (pts[0, :, 1] >= 0.75))
    assert np.all((pts[1, :, 0] >= 0.75) & (pts[1, :, 1] <= -0.75))
    np.testing.assert_allclose(pts[0, :, 2], 1.0)  # z = intensity / max
    np.testing.assert_allclose(pts[2, :, 2], 0.0)
    assert pts[2, :, 0].std() > 0.3
    flat, _ = pointclouds_from_images(images[:, 0], np.array([0, 1, 2]), num_points=50, seed=0, z="zero")
    assert np.abs(flat[..., 2]).max() < 0.1
    again, _ = pointclouds_from_images(images, np.array([0, 1, 2]), num_points=50, seed=0, jitter=0.0)
    assert np.array_equal(pts, again)
    with pytest.raises(InputError, match="non-negative"):
        pointclouds_from_images(-images, np.array([0, 1, 2]), 10, 0)


def test_pointcloud_digits() -> None:
    ds = load_dataset("pointcloud-digits", num_points=32, seed=0)
    assert ds.modality == "pointcloud" and ds.input_shape == (32, 3)
    assert ds.n_train + ds.n_test == 1797 and ds.num_classes == 10


def test_subsample_train_and_label_noise() -> None:
    ds = load_digits()
    small = subsample_train(ds, 100, seed=1)
    assert small.n_train == 100 and small.n_test == ds.n_test
    assert np.bincount(small.y_train, minlength=10).min() >= 9  # stratified
    assert np.array_equal(small.y_train, subsample_train(ds, 100, seed=1).y_train)
    noisy = add_label_noise(small, 0.3, seed=2)
    changed = np.flatnonzero(noisy.y_train != small.y_train)
    assert np.array_equal(changed, noisy.meta["noisy_train_indices"]) and changed.size == 30
    assert np.array_equal(noisy.meta["clean_y_train"], small.y_train)
    assert np.array_equal(noisy.y_test, ds.y_test)
    both = subsample(noisy, n_train=50, n_test=40, seed=0)
    assert both.n_train == 50 and both.n_test == 40
    assert np.array_equal(np.flatnonzero(both.y_train != both.meta["clean_y_train"]), both.meta["noisy_train_indices"])
    with pytest.raises(InputError, match="exceeds"):
        subsample_train(ds, 10_000)
    with pytest.raises(InputError, match="fraction"):
        add_label_noise(ds, 1.5)
