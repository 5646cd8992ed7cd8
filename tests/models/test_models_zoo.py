"""Image, tabular and point-cloud models of genphase.models: shapes, trainability, invariances, registry."""

from __future__ import annotations

import pytest
import torch
from torch import nn

from genphase.errors import InputError
from genphase.models import (
    DGCNN,
    MLP,
    MODEL_NAMES,
    VGG,
    LeNet,
    PointNet,
    ResNet,
    build_model,
    edge_features,
    knn,
)

IMAGE_SHAPES = [(1, 8, 8), (1, 28, 28), (3, 32, 32)]

SMALL: dict[str, dict] = {
    "mlp": {"hidden": (32,)},
    "lenet": {},
    "vgg": {"depth": 3, "width": 8, "hidden": 32},
    "resnet": {"width": 8, "num_blocks": (1, 1, 1, 1)},
    "pointnet": {"widths": (16, 32), "head": (32,), "dropout": 0.0},
    "dgcnn": {"k": 5, "edge_channels": (16, 16), "emb_dims": 32, "head": (32,), "dropout": 0.0},
}


@pytest.mark.parametrize("name", ["mlp", "lenet", "vgg", "resnet"])
@pytest.mark.parametrize("shape", IMAGE_SHAPES)
def test_image_models_forward_shape(name: str, shape: tuple[int, int, int]) -> None:
    model = build_model(name, num_classes=7, input_shape=shape, seed=0, **SMALL[name])
    out = model(torch.rand(3, *shape))
    assert out.shape == (3, 7)
    assert torch.isfinite(out).all()


def test_default_sized_image_models() -> None:
    for model, shape in [
        (LeNet(1, 10, 28), (1, 28, 28)),
        (LeNet(1, 10, 8), (1, 8, 8)),
        (VGG(3, 10, 32), (3, 32, 32)),
        (VGG(1, 10, 8, depth=4), (1, 8, 8)),
        (ResNet(1, 10), (1, 8, 8)),
        (ResNet(3, 10, width=16), (3, 32, 32)),
        (MLP((1, 28, 28), 10), (1, 28, 28)),
    ]:
        assert model(torch.rand(2, *shape)).shape == (2, 10)


def test_resnet18_parameter_count() -> None:
    # width=64, (2, 2, 2, 2) is ResNet-18 (CIFAR variant: 11.17M parameters with 10 classes).
    n = sum(p.numel() for p in ResNet(3, 10, width=64).parameters())
    assert 11_000_000 < n < 11_300_000


@pytest.mark.parametrize("name", ["pointnet", "dgcnn"])
def test_pointcloud_models_forward_shape(name: str) -> None:
    model = build_model(name, num_classes=6, input_shape=(50, 3), seed=0, **SMALL[name])
    assert model(torch.randn(4, 50, 3)).shape == (4, 6)
    # Any number of points works, also fewer than k.
    assert model(torch.randn(2, 3, 3)).shape == (2, 6)


def test_default_pointcloud_models() -> None:
    pts = torch.randn(2, 64, 3)
    assert PointNet(5).eval()(pts).shape == (2, 5)
    assert PointNet(5, input_transform=True).eval()(pts).shape == (2, 5)
    assert DGCNN(5).eval()(pts).shape == (2, 5)


def _batch(name: str) -> tuple[torch.Tensor, torch.Tensor, tuple[int, ...]]:
    g = torch.Generator().manual_seed(0)
    shape: tuple[int, ...] = (32, 3) if name in ("pointnet", "dgcnn") else (1, 8, 8)
    x = torch.randn(8, *shape, generator=g)
    y = torch.arange(8) % 3
    return x, y, shape


@pytest.mark.parametrize("name", list(SMALL))
def test_few_steps_reduce_loss(name: str) -> None:
    x, y, shape = _batch(name)
    model = build_model(name, num_classes=3, input_shape=shape, seed=0, **SMALL[name])
    opt = torch.optim.Adam(model.parameters(), lr=1e-2)
    loss_fn = nn.CrossEntropyLoss()
    model.train()
    first = loss_fn(model(x), y).item()
    for _ in range(15):
        opt.zero_grad()
        loss = loss_fn(model(x), y)
        loss.backward()
        opt.step()
    assert loss_fn(model(x), y).item() < 0.7 * first


@pytest.mark.parametrize("name", ["pointnet", "dgcnn"])
def test_permutation_invariance(name: str) -> None:
    kwargs = {**SMALL[name], "dropout": 0.5}
    model = build_model(name, num_classes=4, input_shape=(40, 3), seed=1, **kwargs).eval()
    g = torch.Generator().manual_seed(3)
    pts = torch.randn(3, 40, 3, generator=g)
    perm = torch.randperm(40, generator=g)
    with torch.no_grad():
        a, b = model(pts), model(pts[:, perm])
    torch.testing.assert_close(a, b, atol=1e-5, rtol=1e-5)


def test_dgcnn_default_permutation_invariance() -> None:
    model = DGCNN(4).eval()
    pts = torch.randn(2, 48, 3, generator=torch.Generator().manual_seed(0))
    perm = torch.randperm(48)
    with torch.no_grad():
        torch.testing.assert_close(model(pts), model(pts[:, perm]), atol=1e-5, rtol=1e-5)


def test_knn_and_edge_features_match_brute_force() -> None:
    x = torch.randn(2, 3, 10, generator=torch.Generator().manual_seed(0))
    idx = knn(x, 4)
    assert idx.shape == (2, 10, 4)
    for b in range(2):
        d = torch.cdist(x[b].T, x[b].T)
        expected = d.argsort(dim=1)[:, :4]
        assert torch.equal(idx[b].sort(dim=1).values, expected.sort(dim=1).values)
        assert torch.equal(idx[b, :, 0], torch.arange(10))  # each point is its own nearest neighbour
    feat = edge_features(x, idx)
    assert feat.shape == (2, 6, 10, 4)
    b, i, j = 1, 7, 2
    nb = idx[b, i, j]
    torch.testing.assert_close(feat[b, :3, i, j], x[b, :, nb] - x[b, :, i])
    torch.testing.assert_close(feat[b, 3:, i, j], x[b, :, i])


def test_registry_errors_and_seed() -> None:
    with pytest.raises(InputError, match="valid names are .*resnet"):
        build_model("alexnet", num_classes=3, input_shape=(1, 8, 8))
    with pytest.raises(InputError, match="unknown option"):
        build_model("vgg", num_classes=3, input_shape=(1, 8, 8), widht=3)
    with pytest.raises(InputError, match="input_shape"):
        build_model("lenet", num_classes=3, input_shape=None)
    with pytest.raises(InputError, match="num_classes"):
        build_model("mlp", num_classes=0, input_shape=(4,))
    with pytest.raises(InputError, match="vocab_size"):
        build_model("bert-scratch", num_classes=2)
    a = build_model("ResNet", num_classes=3, input_shape=(1, 8, 8), seed=5, width=4)
    b = build_model("resnet", num_classes=3, input_shape=(1, 8, 8), seed=5, width=4)
    for p, q in zip(a.parameters(), b.parameters()):
        assert torch.equal(p, q)
    assert set(MODEL_NAMES) >= {"mlp", "lenet", "vgg", "resnet", "pointnet", "dgcnn", "bert-scratch", "minilm"}


def test_wrong_input_shapes_are_named() -> None:
    with pytest.raises(InputError, match=r"\[B, 1, 28, 28\]"):
        LeNet(1, 10, 28)(torch.rand(2, 1, 8, 8))
    with pytest.raises(InputError, match="64 features"):
        MLP(64, 3)(torch.rand(2, 65))
    with pytest.raises(InputError, match=r"\[B, P, 3\]"):
        PointNet(3)(torch.rand(2, 3, 10, 1))
    with pytest.raises(InputError, match="at least 4x4"):
        LeNet(1, 10, 3)
