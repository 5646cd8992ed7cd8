"""Datasets of the presets, loaded offline, as :class:`ArrayDataset` train/test splits.

:func:`load_dataset` maps registry names to loaders; options are passed through.
"""

from __future__ import annotations

from typing import Any, Callable

from ..errors import InputError
from .base import ArrayDataset, add_label_noise, stratified_split, subsample, subsample_train

__all__ = ["ArrayDataset", "load_dataset", "dataset_names", "subsample", "subsample_train", "add_label_noise", "stratified_split"]


def _loaders() -> dict[str, Callable[..., ArrayDataset]]:
    from . import bundled, idx

    return {
        "digits": bundled.load_digits,
        "breast-cancer": bundled.load_breast_cancer,
        "wine": bundled.load_wine,
        "mnist-5k": bundled.load_mnist_5k,
        "rotten-tomatoes": bundled.load_rotten_tomatoes,
        "fashion-mnist": idx.load_fashion_mnist,
        "mnist": idx.load_mnist,
    }


def dataset_names() -> list[str]:
    """Registry names accepted by :func:`load_dataset`."""
    return list(_loaders())


def load_dataset(name: str, **options: Any) -> ArrayDataset:
    """Load dataset ``name`` (see :func:`dataset_names`) with loader ``options``."""
    loaders = _loaders()
    if name not in loaders:
        raise InputError(f"unknown dataset {name!r}; available: {', '.join(loaders)}")
    try:
        return loaders[name](**options)
    except TypeError as exc:
        raise InputError(f"bad options {sorted(options)} for dataset {name!r}: {exc}") from exc
