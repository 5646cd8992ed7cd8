"""Words as variables: the tokens of a masked word get a baseline input embedding (e.g. [MASK])."""

from __future__ import annotations

import string
import unicodedata
from dataclasses import dataclass
from typing import Any, Callable, Iterable, Mapping, Sequence

import numpy as np
import torch

from .._typing import ArrayLike
from ..errors import InputError, require
from .base import (
    Masker,
    MaskerInputs,
    _BaselineCache,
    _keep_rows,
    as_tensor,
    batch_size_of,
)

__all__ = ["EmbeddingMasker", "WordVariables", "word_variables", "collate_text", "DEFAULT_STOP_WORDS"]


#: Default stop words of :func:`word_variables` (lower case). Negations ("not", "no", "nor",
#: "never") are deliberately *not* stop words: they carry sentiment.
DEFAULT_STOP_WORDS: frozenset[str] = frozenset(
    """a an the and or but if then else so than that this these those there here of in on at by for with
    about against between into through during before after above below to from up down out off over under
    again further once is am are was were be been being have has had having do does did doing i me my myself
    we our ours ourselves you your yours yourself yourselves he him his himself she her hers herself it its
    itself they them their theirs themselves what which who whom whose when where why how all any both each
    few more most other some such only own same too very s t can will just should would could may might must
    shall as until while because also ll re ve d m o y""".split()
)


@dataclass(frozen=True)
class WordVariables:
    """One tokenized sentence and its ``n`` word variables (see :func:`word_variables`).

    ``groups[i]`` are the token positions of variable ``i`` (all sub-tokens of one word),
    ``words[i]`` the word as it appears in ``text``; variables are in text order.

    >>> wv = WordVariables(text="a good film", words=("good", "film"), groups=((2,), (3,)),
    ...                    input_ids=(2, 5, 40, 41, 3), attention_mask=(1, 1, 1, 1, 1))
    >>> wv.n, wv.variable_index  # [CLS] a good film [SEP]
    (2, [-1, -1, 0, 1, -1])
    """

    text: str
    words: tuple[str, ...]
    groups: tuple[tuple[int, ...], ...]
    input_ids: tuple[int, ...]
    attention_mask: tuple[int, ...]
    token_type_ids: tuple[int, ...] | None = None

    @property
    def n(self) -> int:
        return len(self.groups)

    @property
    def variable_index(self) -> list[int]:
        """Per token: the variable it belongs to, ``-1`` for tokens of no variable."""
        out = [-1] * len(self.input_ids)
        for i, g in enumerate(self.groups):
            for pos in g:
                out[pos] = i
        return out


def _is_punctuation(word: str) -> bool:
    return all(unicodedata.category(ch)[0] in "PS" or ch in string.punctuation for ch in word)


def word_variables(
    tokenizer: Any,
    text: str,
    n: int,
    *,
    stop_words: Iterable[str] = DEFAULT_STOP_WORDS,
    max_length: int | None = None,
    choose: str = "first",
    seed: int = 0,
) -> WordVariables:
    """Tokenize ``text`` and pick ``n`` words as variables.

    Words are the tokenizer's pre-tokenized words (``encoding.word_ids()``, so a fast Hugging Face
    tokenizer is needed); all sub-tokens of a word form one variable. Special tokens, stop words
    (case-insensitive match against ``stop_words``) and punctuation/symbol-only words are never
    chosen. Among the eligible words, ``choose="first"`` takes the first ``n`` in text order;
    ``choose="random"`` draws ``n`` without replacement with ``numpy.random.default_rng(seed)``.
    Either way the variables are numbered in text order.

    ``max_length`` defaults to ``tokenizer.model_max_length``; longer texts raise an
    :class:`InputError` (no silent truncation, which could drop chosen words).

    >>> from genphase.models.text import train_wordpiece_tokenizer
    >>> tok = train_wordpiece_tokenizer(["not a good film", "a truly great movie"], vocab_size=100, min_frequency=1)
    >>> wv = word_variables(tok, "not a good film", 3)  # "a" is a stop word; "not" is kept (a negation)
    >>> wv.words, wv.variable_index  # per token of [CLS] not a good film [SEP]
    (('not', 'good', 'film'), [-1, 0, -1, 1, 2, -1])
    """
    require("transformers", "text", "word_variables (text variables)")
    if choose not in ("first", "random"):
        raise InputError(f"choose must be 'first' or 'random', got {choose!r}")
    if int(n) != n or n < 1:
        raise InputError(f"n must be a positive integer, got {n!r}")
    if not isinstance(text, str):
        raise InputError(f"text must be a str, got {type(text).__name__}")
    try:
        enc = tokenizer(text, add_special_tokens=True, truncation=False, return_offsets_mapping=True)
        word_ids = enc.word_ids()
    except (NotImplementedError, ValueError, AttributeError) as exc:
        raise InputError(
            f"{type(tokenizer).__name__} cannot map tokens to words (word_ids()); use a fast tokenizer "
            "(AutoTokenizer.from_pretrained(..., use_fast=True))"
        ) from exc
    ids = list(enc["input_ids"])
    if max_length is None:
        ml = getattr(tokenizer, "model_max_length", None)
        max_length = int(ml) if ml is not None and ml < 1_000_000 else None
    if max_length is not None and len(ids) > max_length:
        raise InputError(
            f"the text has {len(ids)} tokens, more than the model's max_length={max_length}; "
            "shorten the text (or pass a larger max_length if the model allows it)"
        )
    offsets = enc["offset_mapping"]
    groups: dict[int, list[int]] = {}
    for pos, w in enumerate(word_ids):
        if w is not None:
            groups.setdefault(int(w), []).append(pos)
    stop = {s.lower() for s in stop_words}
    eligible: list[tuple[int, str]] = []
    all_words = []
    for w, positions in groups.items():
        lo = min(offsets[p][0] for p in positions)
        hi = max(offsets[p][1] for p in positions)
        word = text[lo:hi]
        all_words.append(word)
        if word and word.lower() not in stop and not _is_punctuation(word):
            eligible.append((w, word))
    if len(eligible) < n:
        raise InputError(
            f"the text has {len(eligible)} eligible words (not stop words or punctuation), fewer than n={n}: "
            f"{[e[1] for e in eligible]}; lower n, use a longer text, or pass a smaller stop_words set"
        )
    if choose == "first":
        picked = eligible[:n]
    else:
        rng = np.random.default_rng(seed)
        sel = sorted(int(i) for i in rng.choice(len(eligible), size=n, replace=False))
        picked = [eligible[i] for i in sel]
    tti = enc.get("token_type_ids")
    return WordVariables(
        text=text,
        words=tuple(word for _, word in picked),
        groups=tuple(tuple(groups[w]) for w, _ in picked),
        input_ids=tuple(int(i) for i in ids),
        attention_mask=tuple(int(i) for i in enc.get("attention_mask", [1] * len(ids))),
        token_type_ids=tuple(int(i) for i in tti) if tti is not None else None,
    )


def collate_text(items: Sequence[WordVariables], *, pad_token_id: int = 0) -> dict[str, torch.Tensor]:
    """Pad a list of :class:`WordVariables` (same ``n``) into the inputs of :class:`EmbeddingMasker`.

    Returns ``input_ids``, ``attention_mask`` (0 on padding), ``variable_index`` (``-1`` for tokens
    of no variable and padding) and, when every item has them, ``token_type_ids``; each ``[B, L]``
    long, right-padded to the longest item.

    >>> from genphase.models.text import train_wordpiece_tokenizer
    >>> tok = train_wordpiece_tokenizer(["not a good film", "a truly great movie"], vocab_size=100, min_frequency=1)
    >>> batch = collate_text([word_variables(tok, "good film", 2), word_variables(tok, "a truly great movie", 2)])
    >>> sorted(batch), batch["variable_index"].tolist()  # right-padded to the longest item
    (['attention_mask', 'input_ids', 'variable_index'], [[-1, 0, 1, -1, -1, -1], [-1, -1, 0, 1, -1, -1]])
    >>> batch["attention_mask"].tolist()
    [[1, 1, 1, 1, 0, 0], [1, 1, 1, 1, 1, 1]]
    """
    if len(items) == 0:
        raise InputError("collate_text got no items; pass at least one WordVariables")
    ns = {it.n for it in items}
    if len(ns) != 1:
        raise InputError(f"all items must have the same number of variables n, got {sorted(ns)}")
    length = max(len(it.input_ids) for it in items)
    b = len(items)
    ids = torch.full((b, length), int(pad_token_id), dtype=torch.long)
    att = torch.zeros(b, length, dtype=torch.long)
    var = torch.full((b, length), -1, dtype=torch.long)
    with_tt = all(it.token_type_ids is not None for it in items)
    tt = torch.zeros(b, length, dtype=torch.long)
    for r, it in enumerate(items):  # collation of token lists (not on the masking hot path)
        m = len(it.input_ids)
        ids[r, :m] = torch.tensor(it.input_ids)
        att[r, :m] = torch.tensor(it.attention_mask)
        var[r, :m] = torch.tensor(it.variable_index)
        if with_tt:
            tt[r, :m] = torch.tensor(it.token_type_ids)
    out = {"input_ids": ids, "attention_mask": att, "variable_index": var}
    if with_tt:
        out["token_type_ids"] = tt
    return out


class EmbeddingMasker(Masker):
    """Text: variables are groups of token positions; masking replaces their input embeddings.

    Inputs: a mapping with ``input_ids`` ``[B, L]`` (or precomputed ``inputs_embeds``
    ``[B, L, D]``), ``variable_index`` ``[B, L]`` (variable of each token, ``-1`` for none; see
    :func:`word_variables` and :func:`collate_text`) and optionally ``attention_mask`` and any
    other per-token tensors (``token_type_ids``, ...), which are passed through unchanged.

    Output (``mask``): ``{"inputs_embeds": [R, L, D], "attention_mask": [R, L], ...}``, for
    ``model(**kwargs)`` of a Hugging Face model. Masked tokens get the ``baseline`` vector as word
    embedding (the model still adds position / token-type embeddings); attention is unchanged,
    so for BERT-like models masking with the ``[MASK]`` embedding equals replacing the token ids by
    ``[MASK]``.

    Args:
        embedding: the model's input embedding (``model.get_input_embeddings()``), a module or
            callable mapping ids ``[B, L]`` to ``[B, L, D]``.
        n: number of variables per sample.
        baseline: a token id (its embedding is used, e.g. ``tokenizer.mask_token_id``), a vector
            ``[D]``, or ``"zeros"``. :meth:`for_model` resolves ``"mask"`` / ``"pad"`` / ``"unk"``.

    >>> emb = torch.nn.Embedding(10, 3)
    >>> masker = EmbeddingMasker(emb, 2)  # masked tokens get the zero vector
    >>> inputs = {"input_ids": torch.tensor([[1, 4, 5, 2]]), "variable_index": torch.tensor([[-1, 0, 1, -1]])}
    >>> out = masker(inputs, [False, True])  # mask variable 0 (token 1)
    >>> sorted(out), out["inputs_embeds"].shape, out["inputs_embeds"][0, 1].tolist()
    (['attention_mask', 'inputs_embeds'], torch.Size([1, 4, 3]), [0.0, 0.0, 0.0])
    """

    def __init__(self, embedding: Callable[[torch.Tensor], torch.Tensor], n: int, *, baseline: int | ArrayLike | str = "zeros"):
        if int(n) != n or n < 1:
            raise InputError(f"n must be a positive integer, got {n!r}")
        if not callable(embedding):
            raise InputError(f"embedding must be a module or callable ids -> embeddings, got {type(embedding).__name__}")
        self.embedding = embedding
        self.n = int(n)
        self._baseline_kind: str
        self._baseline_vec: _BaselineCache | None = None
        self._baseline_id: int | None = None
        if isinstance(baseline, str):
            if baseline != "zeros":
                raise InputError(
                    f"baseline {baseline!r} needs a tokenizer: use EmbeddingMasker.for_model(model, tokenizer, n, "
                    f"baseline={baseline!r}), or pass a token id, a vector [D] or 'zeros'"
                )
            self._baseline_kind = "zeros"
        elif isinstance(baseline, (int, np.integer)):
            self._baseline_kind = "token"
            self._baseline_id = int(baseline)
        else:
            vec = as_tensor(baseline, "baseline").detach().cpu()
            if vec.ndim != 1:
                raise InputError(f"a baseline vector must have shape [D] (embedding size), got {tuple(vec.shape)}")
            self._baseline_kind = "vector"
            self._baseline_vec = _BaselineCache(vec)

    @classmethod
    def for_model(cls, model: Any, tokenizer: Any, n: int, *, baseline: str | int | ArrayLike = "mask") -> "EmbeddingMasker":
        """Masker using ``model.get_input_embeddings()``; ``baseline`` is ``"mask"`` (default),
        ``"pad"``, ``"unk"``, ``"zeros"``, a token id or a vector."""
        if not hasattr(model, "get_input_embeddings"):
            raise InputError(
                f"{type(model).__name__} has no get_input_embeddings(); pass the embedding module to EmbeddingMasker directly"
            )
        if isinstance(baseline, str) and baseline != "zeros":
            attr = {"mask": "mask_token_id", "pad": "pad_token_id", "unk": "unk_token_id"}.get(baseline)
            if attr is None:
                raise InputError(f"unknown baseline {baseline!r}; choose 'mask', 'pad', 'unk', 'zeros', a token id or a vector")
            tid = getattr(tokenizer, attr, None)
            if tid is None:
                raise InputError(
                    f"the tokenizer has no {attr} (no [{baseline.upper()}] token); choose another baseline "
                    "('pad', 'unk', 'zeros', a token id or a vector)"
                )
            baseline = int(tid)
        return cls(model.get_input_embeddings(), n, baseline=baseline)

    @property
    def variable_names(self) -> tuple[str, ...]:
        return tuple(f"w{i}" for i in range(self.n))

    def _baseline_like(self, e: torch.Tensor) -> torch.Tensor:
        d = e.shape[-1]
        if self._baseline_kind == "zeros":
            return e.new_zeros(d)
        if self._baseline_kind == "vector":
            vec = self._baseline_vec.like(e)  # type: ignore[union-attr]
        else:
            ids = torch.tensor([[self._baseline_id]], dtype=torch.long, device=e.device)
            vec = self.embedding(ids)[0, 0].to(e.dtype)
        if vec.shape != (d,):
            raise InputError(f"baseline vector has shape {tuple(vec.shape)} but the embeddings have size D={d}")
        return vec

    def prepare(self, inputs: MaskerInputs) -> dict[str, torch.Tensor]:
        if not isinstance(inputs, Mapping):
            raise InputError(
                "EmbeddingMasker needs a mapping with input_ids [B, L] and variable_index [B, L] "
                f"(see genphase.maskers.collate_text), got {type(inputs).__name__}"
            )
        b = batch_size_of(inputs)
        if "variable_index" not in inputs:
            raise InputError("text inputs need 'variable_index' [B, L] (variable of each token, -1 for none); see collate_text")
        var = inputs["variable_index"].long()
        if "inputs_embeds" in inputs:
            emb = inputs["inputs_embeds"]
        elif "input_ids" in inputs:
            ids = inputs["input_ids"]
            if ids.ndim != 2:
                raise InputError(f"input_ids must have shape [B, L], got {tuple(ids.shape)}")
            emb = self.embedding(ids)
        else:
            raise InputError("text inputs need 'input_ids' [B, L] (or 'inputs_embeds' [B, L, D])")
        if emb.ndim != 3 or var.shape != emb.shape[:2]:
            raise InputError(
                f"variable_index must have shape [B, L] = {list(emb.shape[:2])} (one entry per token), got {list(var.shape)}"
            )
        if var.numel() and (int(var.min()) < -1 or int(var.max()) >= self.n):
            raise InputError(
                f"variable_index values must be -1 (no variable) or in [0, {self.n - 1}] for n={self.n}, "
                f"got range [{int(var.min())}, {int(var.max())}]"
            )
        present = torch.zeros(b, self.n + 1, dtype=torch.bool, device=var.device)
        present.scatter_(1, torch.where(var < 0, self.n, var), True)
        missing = ~present[:, : self.n]
        if bool(missing.any()):
            s, v = (int(i) for i in missing.nonzero()[0])
            raise InputError(
                f"sample {s} has no token for variable {v}; every one of the n={self.n} variables needs at least "
                "one token (build the inputs with word_variables(..., n) and collate_text)"
            )
        out = {k: v for k, v in inputs.items() if k not in ("input_ids", "inputs_embeds", "variable_index")}
        if "attention_mask" not in out:
            out["attention_mask"] = torch.ones(var.shape, dtype=torch.long, device=var.device)
        for k, v in out.items():
            if tuple(v.shape[:2]) != tuple(var.shape):
                raise InputError(f"{k} must have shape [B, L] = {list(var.shape)} like input_ids, got {list(v.shape)}")
        out["inputs_embeds"] = emb
        out["variable_index"] = var
        return out

    def mask(self, rows: MaskerInputs, masks: torch.Tensor) -> dict[str, torch.Tensor]:
        e = rows["inputs_embeds"]  # type: ignore[index]
        keep = _keep_rows(masks, rows["variable_index"])  # type: ignore[index]  # [R, L]
        out = {k: v for k, v in rows.items() if k not in ("inputs_embeds", "variable_index")}  # type: ignore[union-attr]
        out["inputs_embeds"] = torch.where(keep[..., None], e, self._baseline_like(e))
        return out

    def describe(self) -> dict[str, Any]:
        base: Any = self._baseline_kind
        if self._baseline_kind == "token":
            base = {"token_id": self._baseline_id}
        return {**super().describe(), "baseline": base}

