"""Maskers: build the masked inputs ``x_S`` of a batch of samples, one module per modality.

- :mod:`.base`: the :class:`Masker` protocol and the helpers every masker shares.
- :mod:`.tabular`: :class:`TabularMasker` (features).
- :mod:`.image`: :class:`ImagePatchMasker` (patches).
- :mod:`.pointcloud`: :class:`PointCloudMasker` (point clusters).
- :mod:`.text`: :class:`EmbeddingMasker`, :func:`word_variables`, :func:`collate_text` (words).

Conventions are in :mod:`genphase.maskers.base` and docs/science.md (section 2).
"""

from __future__ import annotations

from .base import (
    Masker,
    MaskerInputs,
    ModelInputs,
    all_masks,
    as_bool_masks,
    as_tensor,
    batch_size_of,
    take_rows,
    to_device,
)
from .image import IMAGE_LAYOUTS, ImagePatchMasker
from .pointcloud import PointCloudMasker
from .tabular import TabularMasker
from .text import (
    DEFAULT_STOP_WORDS,
    EmbeddingMasker,
    WordVariables,
    collate_text,
    word_variables,
)

__all__ = [
    "Masker",
    "MaskerInputs",
    "ModelInputs",
    "TabularMasker",
    "ImagePatchMasker",
    "IMAGE_LAYOUTS",
    "EmbeddingMasker",
    "PointCloudMasker",
    "WordVariables",
    "word_variables",
    "collate_text",
    "DEFAULT_STOP_WORDS",
    "all_masks",
    "as_bool_masks",
    "as_tensor",
    "batch_size_of",
    "take_rows",
    "to_device",
]
