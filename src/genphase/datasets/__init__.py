"""Datasets as in-memory train/test splits (:class:`ArrayDataset`), for every modality genphase studies.

* bundled, no download: :func:`load_digits`, :func:`load_mnist_5k`, :func:`load_rotten_tomatoes`,
  :func:`load_breast_cancer`, :func:`load_wine`, :func:`load_primitives`, point clouds from
  images (:func:`pointclouds_from_images`, :func:`images_to_pointcloud_dataset`);
* local files: :func:`load_fashion_mnist` (``apt-get install dataset-fashion-mnist``),
  :func:`load_mnist`, :func:`load_cifar10`, :func:`load_tiny_imagenet`, :func:`load_sst2`;
* over-fitting knobs: :func:`subsample_train`, :func:`add_label_noise`;
* a held-out evaluation split: :func:`carve_eval` (and :func:`sample_digests` to check splits are disjoint);
* :func:`load_dataset` loads any of them by name.
"""

from __future__ import annotations

from .base import (
    MODALITIES,
    ArrayDataset,
    Modality,
    add_label_noise,
    carve_eval,
    sample_digests,
    stratified_split,
    subsample,
    subsample_train,
)
from .bundled import load_breast_cancer, load_digits, load_mnist_5k, load_rotten_tomatoes, load_wine, standardize
from .cifar import CIFAR10_CLASSES, load_cifar10
from .idx import FASHION_MNIST_CLASSES, FASHION_MNIST_ROOT, load_fashion_mnist, load_mnist, read_idx, write_idx
from .paths import DATA_DIR_ENV, data_dir
from .pointclouds import (
    PRIMITIVES,
    images_to_pointcloud_dataset,
    load_primitives,
    pointclouds_from_images,
    random_rotations,
    sample_primitive,
)
from .registry import DATASET_NAMES, dataset_names, load_dataset, load_pointcloud_digits
from .sst2 import load_sst2
from .tiny_imagenet import load_tiny_imagenet

__all__ = [
    "MODALITIES",
    "Modality",
    "ArrayDataset",
    "stratified_split",
    "subsample",
    "subsample_train",
    "add_label_noise",
    "carve_eval",
    "sample_digests",
    "standardize",
    "load_digits",
    "load_mnist_5k",
    "load_rotten_tomatoes",
    "load_breast_cancer",
    "load_wine",
    "FASHION_MNIST_ROOT",
    "FASHION_MNIST_CLASSES",
    "load_fashion_mnist",
    "load_mnist",
    "read_idx",
    "write_idx",
    "CIFAR10_CLASSES",
    "load_cifar10",
    "load_tiny_imagenet",
    "load_sst2",
    "PRIMITIVES",
    "pointclouds_from_images",
    "images_to_pointcloud_dataset",
    "load_primitives",
    "sample_primitive",
    "random_rotations",
    "load_pointcloud_digits",
    "DATA_DIR_ENV",
    "data_dir",
    "DATASET_NAMES",
    "dataset_names",
    "load_dataset",
]
