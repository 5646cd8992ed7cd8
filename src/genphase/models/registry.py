"""Build any model of the zoo by name: ``build_model("resnet", num_classes=10, input_shape=(3, 32, 32))``."""

from __future__ import annotations

import inspect
from collections.abc import Callable, Sequence
from typing import Any

from torch import nn

from ..errors import InputError
from ._common import check_positive, seeded
from .dgcnn import DGCNN
from .lenet import LeNet
from .mlp import MLP
from .pointnet import PointNet
from .resnet import ResNet
from .text import bert_from_scratch, load_hf_classifier, minilm_classifier, train_wordpiece_tokenizer
from .vgg import VGG

__all__ = ["MODEL_NAMES", "build_model", "model_names"]


def _shape(input_shape: Sequence[int] | None, name: str, expected: str, lengths: tuple[int, ...]) -> tuple[int, ...]:
    if input_shape is None:
        raise InputError(f"model {name!r} needs input_shape={expected}, got None")
    try:
        shape = tuple(int(s) for s in input_shape)
    except TypeError as exc:
        raise InputError(f"model {name!r} needs input_shape={expected}, got {input_shape!r}") from exc
    if len(shape) not in lengths or min(shape, default=0) < 1:
        raise InputError(f"model {name!r} needs input_shape={expected} of positive ints, got {input_shape!r}")
    return shape


def _check_kwargs(name: str, fn: Callable[..., Any], kwargs: dict[str, Any], handled: Sequence[str]) -> None:
    params = inspect.signature(fn).parameters
    allowed = sorted(p for p in params if p not in handled and p != "self")
    unknown = sorted(set(kwargs) - set(allowed))
    if unknown:
        raise InputError(f"unknown option(s) {unknown} for model {name!r}; it accepts {allowed}")


def _image(cls: type[nn.Module], name: str, sized: bool) -> Callable[..., nn.Module]:
    def build(num_classes: int, input_shape: Sequence[int] | None, kwargs: dict[str, Any]) -> nn.Module:
        shape = _shape(input_shape, name, "(C, H, W) or (H, W)", (2, 3))
        c, h, w = (1, *shape) if len(shape) == 2 else shape
        handled = ("in_channels", "num_classes", "image_size")
        _check_kwargs(name, cls.__init__, kwargs, handled)
        if sized:
            return cls(c, num_classes, (h, w), **kwargs)
        return cls(c, num_classes, **kwargs)

    return build


def _points(cls: type[nn.Module], name: str) -> Callable[..., nn.Module]:
    def build(num_classes: int, input_shape: Sequence[int] | None, kwargs: dict[str, Any]) -> nn.Module:
        dims = 3 if input_shape is None else _shape(input_shape, name, "(P, D)", (2,))[1]
        _check_kwargs(name, cls.__init__, kwargs, ("num_classes", "in_dims"))
        return cls(num_classes, dims, **kwargs)

    return build


def _mlp(num_classes: int, input_shape: Sequence[int] | None, kwargs: dict[str, Any]) -> nn.Module:
    shape = _shape(input_shape, "mlp", "(D,) or (C, H, W) or (P, D)", (1, 2, 3, 4))
    _check_kwargs("mlp", MLP.__init__, kwargs, ("in_features", "num_classes"))
    return MLP(shape, num_classes, **kwargs)


def _bert(num_classes: int, input_shape: Sequence[int] | None, kwargs: dict[str, Any]) -> nn.Module:
    kwargs = dict(kwargs)
    texts = kwargs.pop("texts", None)
    min_frequency = kwargs.pop("min_frequency", 2)
    sources = [k for k in ("vocab", "tokenizer") if k in kwargs]
    if texts is not None and not sources:
        # Train a WordPiece tokenizer on the given (training) texts; vocab_size caps its vocabulary.
        size = kwargs.pop("vocab_size", 8000)
        vocab: Any = train_wordpiece_tokenizer(texts, vocab_size=size, min_frequency=min_frequency)
    else:
        sources += ["vocab_size"] if "vocab_size" in kwargs else []
        if len(sources) != 1:
            raise InputError(
                "model 'bert-scratch' needs exactly one of vocab_size=<int>, tokenizer=<tokenizer> "
                "(e.g. from genphase.models.train_wordpiece_tokenizer) or texts=<training sentences> "
                f"(a WordPiece tokenizer is trained on them), got {sources or 'none'}"
            )
        vocab = kwargs.pop(sources[0])
    if input_shape is not None and "max_position" not in kwargs:
        kwargs["max_position"] = max(_shape(input_shape, "bert-scratch", "(L,)", (1,))[0], 8)
    _check_kwargs("bert-scratch", bert_from_scratch, kwargs, ("vocab", "num_labels", "seed"))
    return bert_from_scratch(vocab, num_classes, **kwargs)


def _minilm(num_classes: int, input_shape: Sequence[int] | None, kwargs: dict[str, Any]) -> nn.Module:
    _check_kwargs("minilm", minilm_classifier, kwargs, ("num_labels", "seed"))
    return minilm_classifier(num_classes)


def _hf(num_classes: int, input_shape: Sequence[int] | None, kwargs: dict[str, Any]) -> nn.Module:
    if "path" not in kwargs:
        raise InputError("model 'hf' needs path=<local Hugging Face model directory>")
    _check_kwargs("hf", load_hf_classifier, kwargs, ("num_labels", "seed"))
    return load_hf_classifier(kwargs["path"], num_classes)


_BUILDERS: dict[str, Callable[[int, Sequence[int] | None, dict[str, Any]], nn.Module]] = {
    "mlp": _mlp,
    "lenet": _image(LeNet, "lenet", sized=True),
    "vgg": _image(VGG, "vgg", sized=True),
    "resnet": _image(ResNet, "resnet", sized=False),
    "pointnet": _points(PointNet, "pointnet"),
    "dgcnn": _points(DGCNN, "dgcnn"),
    "bert-scratch": _bert,
    "minilm": _minilm,
    "hf": _hf,
}

#: Names accepted by :func:`build_model`.
MODEL_NAMES: tuple[str, ...] = tuple(_BUILDERS)


def model_names() -> list[str]:
    """The names accepted by :func:`build_model`.

    >>> model_names()
    ['mlp', 'lenet', 'vgg', 'resnet', 'pointnet', 'dgcnn', 'bert-scratch', 'minilm', 'hf']
    """
    return list(MODEL_NAMES)


def build_model(
    name: str,
    *,
    num_classes: int,
    input_shape: Sequence[int] | None = None,
    seed: int | None = None,
    **kwargs: Any,
) -> nn.Module:
    """Build a classifier of the zoo; every model maps a batch to class scores ``[B, num_classes]``.

    Args:
        name: one of :data:`MODEL_NAMES` (case-insensitive, ``_`` and ``-`` equivalent):
            ``"mlp"`` (any shape, flattened), ``"lenet"``, ``"vgg"``, ``"resnet"`` (images
            ``(C, H, W)``), ``"pointnet"``, ``"dgcnn"`` (point clouds ``(P, D)``),
            ``"bert-scratch"`` (needs ``tokenizer=``, ``vocab_size=`` or ``texts=``: training
            sentences to train a WordPiece tokenizer of at most ``vocab_size`` (default 8000)
            tokens on, with ``min_frequency`` (default 2); ``input_shape=(L,)`` sets the maximum
            length), ``"minilm"`` (bundled all-MiniLM-L6-v2) and ``"hf"``
            (needs ``path=`` to a local Hugging Face model directory).
        num_classes: number of classes ``C``.
        input_shape: shape of one sample, without the batch axis (``None`` for text models).
        seed: seed the parameter initialisation (``None``: torch's global RNG).
        **kwargs: options of the model's constructor (e.g. ``width=32`` for ``"resnet"``).

    >>> import torch
    >>> net = build_model("mlp", num_classes=3, input_shape=(4,), hidden=(8,), seed=0)
    >>> net(torch.zeros(2, 4)).shape
    torch.Size([2, 3])
    >>> build_model("LeNet", num_classes=10, input_shape=(8, 8), seed=0)(torch.zeros(1, 1, 8, 8)).shape
    torch.Size([1, 10])
    """
    key = str(name).strip().lower().replace("_", "-")
    if key not in _BUILDERS:
        raise InputError(f"unknown model {name!r}; valid names are {', '.join(MODEL_NAMES)}")
    num_classes = check_positive("num_classes", num_classes)
    with seeded(seed):
        return _BUILDERS[key](num_classes, input_shape, kwargs)
