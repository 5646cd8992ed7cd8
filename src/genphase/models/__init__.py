"""Model zoo: image, point-cloud, tabular and text classifiers, all mapping a batch to logits ``[B, C]``.

* :class:`MLP` (tabular / flattened inputs), :class:`LeNet`, :class:`VGG`, :class:`ResNet`
  (images ``[B, C, H, W]``, from 8x8 to 32x32 and beyond),
* :class:`PointNet`, :class:`DGCNN` (point clouds ``[B, P, 3]``),
* Hugging Face text classifiers wrapped in :class:`TextClassifier` (ids ``[B, L]``):
  :func:`bert_from_scratch`, :func:`minilm_classifier`, :func:`load_hf_classifier`
  (``transformers`` is imported lazily, only by these),
* :func:`build_model` builds any of them by name.
"""

from __future__ import annotations

from .dgcnn import DGCNN, EdgeConv, edge_features, knn
from .lenet import LeNet
from .mlp import MLP
from .pointnet import PointNet, TNet
from .registry import MODEL_NAMES, build_model, model_names
from .resnet import BasicBlock, ResNet
from .text import (
    TextClassifier,
    bert_from_scratch,
    load_hf_classifier,
    minilm_classifier,
    minilm_model_dir,
    train_wordpiece_tokenizer,
)
from .vgg import VGG

__all__ = [
    "MLP",
    "LeNet",
    "VGG",
    "ResNet",
    "BasicBlock",
    "PointNet",
    "TNet",
    "DGCNN",
    "EdgeConv",
    "knn",
    "edge_features",
    "TextClassifier",
    "bert_from_scratch",
    "minilm_classifier",
    "minilm_model_dir",
    "load_hf_classifier",
    "train_wordpiece_tokenizer",
    "MODEL_NAMES",
    "build_model",
    "model_names",
]
