"""Load any dataset by name: ``load_dataset("digits")``, ``load_dataset("cifar10", root=...)``."""

from __future__ import annotations

import inspect
from collections.abc import Callable
from typing import Any, Literal

from ..errors import InputError
from .base import ArrayDataset
from .bundled import load_breast_cancer, load_digits, load_mnist_5k, load_rotten_tomatoes, load_wine
from .cifar import load_cifar10
from .idx import load_fashion_mnist, load_mnist
from .pointclouds import images_to_pointcloud_dataset, load_primitives
from .sst2 import load_sst2
from .tiny_imagenet import load_tiny_imagenet

__all__ = ["DATASET_NAMES", "dataset_names", "load_dataset", "load_pointcloud_digits"]


def load_pointcloud_digits(
    num_points: int = 64,
    seed: int = 0,
    *,
    test_size: float | int = 0.25,
    z: Literal["intensity", "zero"] = "intensity",
    jitter: float = 0.01,
) -> ArrayDataset:
    """scikit-learn digits turned into point clouds ``[N, num_points, 3]`` (see ``pointclouds_from_images``).

    The image split uses ``seed`` and ``test_size`` like :func:`load_digits`; the point sampling uses ``seed`` too.

    >>> load_pointcloud_digits(num_points=16).summary()
    'pointcloud-digits (pointcloud): 1348 train / 449 test, 10 classes, input_shape=(16, 3)'
    """
    if z not in ("intensity", "zero"):
        raise InputError(f"z must be 'intensity' or 'zero', got {z!r}")
    images = load_digits(test_size=test_size, seed=seed)
    return images_to_pointcloud_dataset(images, num_points, seed, z=z, jitter=jitter)


_LOADERS: dict[str, Callable[..., ArrayDataset]] = {
    "digits": load_digits,
    "fashion-mnist": load_fashion_mnist,
    "mnist-5k": load_mnist_5k,
    "rotten-tomatoes": load_rotten_tomatoes,
    "breast-cancer": load_breast_cancer,
    "wine": load_wine,
    "pointcloud-primitives": load_primitives,
    "pointcloud-digits": load_pointcloud_digits,
    "mnist": load_mnist,
    "cifar10": load_cifar10,
    "tiny-imagenet": load_tiny_imagenet,
    "sst2": load_sst2,
}

#: Names accepted by :func:`load_dataset`.
DATASET_NAMES: tuple[str, ...] = tuple(_LOADERS)


def dataset_names() -> list[str]:
    """The names accepted by :func:`load_dataset`.

    >>> dataset_names()[:4]
    ['digits', 'fashion-mnist', 'mnist-5k', 'rotten-tomatoes']
    """
    return list(DATASET_NAMES)


def load_dataset(name: str, **kwargs: Any) -> ArrayDataset:
    """Load the dataset ``name`` (case-insensitive; ``_`` and ``-`` are equivalent) with its loader's options.

    Bundled (no files needed): ``"digits"``, ``"mnist-5k"``, ``"rotten-tomatoes"``,
    ``"breast-cancer"``, ``"wine"``, ``"pointcloud-primitives"``, ``"pointcloud-digits"``.
    Local files: ``"fashion-mnist"`` (``apt-get install dataset-fashion-mnist``), ``"mnist"``,
    ``"cifar10"``, ``"tiny-imagenet"``, ``"sst2"`` (``root=...``).

    >>> load_dataset("Breast_Cancer", test_size=0.5).summary()
    'breast-cancer (tabular): 285 train / 284 test, 2 classes, input_shape=(30,)'
    """
    key = str(name).strip().lower().replace("_", "-")
    if key not in _LOADERS:
        raise InputError(f"unknown dataset {name!r}; valid names are {', '.join(DATASET_NAMES)}")
    loader = _LOADERS[key]
    params = inspect.signature(loader).parameters
    unknown = sorted(set(kwargs) - set(params))
    if unknown:
        raise InputError(f"unknown option(s) {unknown} for dataset {key!r}; it accepts {sorted(params)}")
    return loader(**kwargs)
