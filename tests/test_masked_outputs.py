"""masked_values / explain: closed-form models, brute force, chunking, modes, errors."""

from __future__ import annotations

import warnings
from types import SimpleNamespace

import numpy as np
import pytest
import torch

from genphase.errors import InputError, MemoryEstimateError
from genphase.extraction import explain
from genphase.masked_outputs import MAX_VARIABLES, masked_values, model_outputs
from genphase.maskers import ImagePatchMasker, Masker, PointCloudMasker, TabularMasker
from genphase.value_functions import log_odds


class Additive(torch.nn.Module):
    """logits = [w . x, 0]: the log-odds of class 0 is w . x (additive game)."""

    def __init__(self, w: torch.Tensor):
        super().__init__()
        self.w = torch.nn.Parameter(w.clone())

    def forward(self, x):
        s = x @ self.w
        return torch.stack([s, torch.zeros_like(s)], 1)


def _members_mask(s: int, n: int) -> list[bool]:
    return [bool((s >> i) & 1) for i in range(n)]


def test_additive_model_closed_form():
    torch.manual_seed(0)
    w = torch.randn(5, dtype=torch.float64)
    base = torch.randn(5, dtype=torch.float64)
    x = torch.randn(4, 5, dtype=torch.float64)
    masker = TabularMasker(base)
    v = masked_values(Additive(w).eval(), x, torch.zeros(4, dtype=torch.long), masker)
    assert v.shape == (4, 32) and v.dtype == torch.float64 and v.device.type == "cpu"
    for s in range(32):
        keep = torch.tensor([(s >> i) & 1 for i in range(5)], dtype=torch.bool)
        want = (torch.where(keep, x, base) * w).sum(1)
        assert torch.allclose(v[:, s], want, rtol=0, atol=1e-12)
    # label 1 flips the sign of the two-class log-odds
    v1 = masked_values(Additive(w).eval(), x, torch.ones(4, dtype=torch.long), masker)
    assert torch.allclose(v1, -v, rtol=0, atol=1e-12)


def _tiny_cnn():
    torch.manual_seed(1)
    return torch.nn.Sequential(
        torch.nn.Conv2d(2, 4, 3, padding=1), torch.nn.ReLU(), torch.nn.Flatten(), torch.nn.Linear(4 * 8 * 8, 3)
    ).double().eval()


def test_image_values_match_brute_force_and_chunking_is_exact():
    model = _tiny_cnn()
    torch.manual_seed(2)
    masker = ImagePatchMasker.from_data(torch.rand(10, 2, 8, 8, dtype=torch.float64), patch_size=2, n=4)
    x = torch.rand(3, 2, 8, 8, dtype=torch.float64)
    y = torch.tensor([0, 2, 1])
    v = masked_values(model, x, y, masker)
    with torch.no_grad():
        for s in range(16):
            want = log_odds(model(masker(x, s)), y)
            assert torch.allclose(v[:, s], want, rtol=0, atol=1e-12)
    for chunk in (1, 7, 16, 48):
        vc = masked_values(model, x, y, masker, chunk_size=chunk)
        assert torch.allclose(vc, v, rtol=0, atol=1e-13), chunk
    assert torch.equal(masked_values(model, x, y, masker, chunk_size=16, progress=True), v)


def test_point_cloud_values_match_brute_force():
    torch.manual_seed(3)
    pts = torch.randn(2, 20, 3, dtype=torch.float64)
    lin = torch.nn.Sequential(torch.nn.Flatten(), torch.nn.Linear(60, 4)).double().eval()
    masker = PointCloudMasker(3)
    y = torch.tensor([3, 1])
    v = masked_values(lin, pts, y, masker, chunk_size=5)
    with torch.no_grad():
        for s in range(8):
            assert torch.allclose(v[:, s], log_odds(lin(masker(pts, s)), y), rtol=0, atol=1e-12)


def test_train_mode_warns_switches_and_restores():
    model = torch.nn.Sequential(torch.nn.Linear(3, 8), torch.nn.Dropout(0.9), torch.nn.Linear(8, 2)).double()
    model.train()
    model[1].eval()  # a submodule deliberately in eval: its own flag must be restored too
    x = torch.randn(2, 3, dtype=torch.float64)
    masker = TabularMasker(torch.zeros(3, dtype=torch.float64))
    with pytest.warns(UserWarning, match="training mode"):
        v1 = masked_values(model, x, torch.tensor([0, 1]), masker)
    assert model.training and model[0].training and not model[1].training and model[2].training
    model[1].train()
    with pytest.warns(UserWarning, match="training mode"):
        v2 = masked_values(model, x, torch.tensor([0, 1]), masker)
    assert torch.equal(v1, v2)  # dropout off during the passes: deterministic
    model.eval()
    with warnings.catch_warnings():
        warnings.simplefilter("error")
        masked_values(model, x, torch.tensor([0, 1]), masker)
    assert not model.training


def test_predicted_class_comes_from_full_input():
    # class scores [x0 + x1, 1.5]: full input (1, 1) predicts class 0; masking flips the argmax
    def model(x):
        return torch.stack([x[:, 0] + x[:, 1], torch.full_like(x[:, 0], 1.5)], 1)

    x = torch.tensor([[1.0, 1.0], [0.5, 0.5]], dtype=torch.float64)
    masker = TabularMasker(torch.zeros(2, dtype=torch.float64))
    v = masked_values(model, x, None, masker, value_fn="predicted_log_odds")
    # sample 0: predicted class 0 on the full input, v[S] = sum_S x - 1.5 for every S
    assert v[0].tolist() == [-1.5, -0.5, -0.5, 0.5]
    # sample 1: predicted class 1, v[S] = 1.5 - sum_S x
    assert v[1].tolist() == [1.5, 1.0, 1.0, 0.5]
    res = explain(model, x, None, masker, value_fn="predicted_log_odds", tol=1e-6)
    assert res.metadata["labels"] == [0, 1] and res.metadata["label_source"] == "predicted"


class _HFLike(torch.nn.Module):
    """Takes keyword inputs and returns an object with .logits, like a Hugging Face model."""

    def __init__(self):
        super().__init__()
        self.lin = torch.nn.Linear(3, 2).double()

    def forward(self, *, features, scale):
        return SimpleNamespace(logits=self.lin(features) * scale[:, None], hidden_states=None)


class _KwargsMasker(Masker):
    n = 3

    def mask(self, rows, masks):
        return {"features": torch.where(masks, rows["features"], 0.0), "scale": rows["scale"]}


def test_output_forms_and_kwargs_maskers():
    torch.manual_seed(4)
    hf = _HFLike().eval()
    x = torch.randn(2, 3, dtype=torch.float64)
    scale = torch.tensor([1.0, 2.0], dtype=torch.float64)
    y = torch.tensor([1, 0])
    v = masked_values(hf, {"features": x, "scale": scale}, y, _KwargsMasker(), chunk_size=3)
    tab = TabularMasker(torch.zeros(3, dtype=torch.float64))
    with torch.no_grad():
        for s in range(8):
            keep = torch.tensor(_members_mask(s, 3))
            z = hf(features=torch.where(keep, x, 0.0), scale=scale).logits
            assert torch.allclose(v[:, s], log_odds(z, y), rtol=0, atol=1e-12)
        as_tensor = masked_values(hf.lin, x, y, tab)
        as_tuple = masked_values(lambda t: (hf.lin(t), "extra"), x, y, tab)
        as_dict = masked_values(lambda t: {"logits": hf.lin(t)}, x, y, tab)
    assert torch.equal(as_tuple, as_tensor)
    assert torch.equal(as_tuple, as_dict)
    assert model_outputs([torch.ones(1)]).tolist() == [1.0]
    with pytest.raises(InputError, match="wrap the model"):
        masked_values(lambda t: "nope", x, y, tab)


def test_autocast_bfloat16_on_cpu():
    torch.manual_seed(5)
    model = torch.nn.Sequential(torch.nn.Linear(4, 16), torch.nn.Tanh(), torch.nn.Linear(16, 3)).eval()
    x = torch.randn(2, 4)
    masker = TabularMasker(torch.zeros(4))
    ref = masked_values(model, x, torch.tensor([0, 2]), masker)
    bf = masked_values(model, x, torch.tensor([0, 2]), masker, autocast=torch.bfloat16, device="cpu")
    assert bf.dtype == torch.float64
    assert torch.allclose(bf, ref, atol=0.1) and not torch.equal(bf, ref)
    with pytest.raises(InputError, match="autocast"):
        masked_values(model, x, torch.tensor([0, 2]), masker, autocast="int8")


def test_errors_are_helpful():
    model = torch.nn.Linear(3, 4).eval()
    masker = TabularMasker(torch.zeros(3))
    x = torch.randn(2, 3)
    with pytest.raises(InputError, match="empty batch"):
        masked_values(model, torch.zeros(0, 3), torch.zeros(0, dtype=torch.long), masker)
    with pytest.raises(InputError, match=r"label 7 \(sample 1\).*4 classes"):
        masked_values(model, x, torch.tensor([0, 7]), masker)
    with pytest.raises(InputError, match=r"labels must have shape \[B\] = \[2\]"):
        masked_values(model, x, torch.tensor([0, 1, 2]), masker)
    with pytest.raises(InputError, match="needs labels"):
        masked_values(model, x, None, masker)
    with pytest.raises(InputError, match=r"\[B, F=3\].*\(2, 5\)"):
        masked_values(model, torch.randn(2, 5), torch.tensor([0, 1]), masker)
    with pytest.raises(InputError, match="chunk_size"):
        masked_values(model, x, torch.tensor([0, 1]), masker, chunk_size=0)
    with pytest.raises(InputError, match="unknown value function"):
        masked_values(model, x, torch.tensor([0, 1]), masker, value_fn="nope")
    with pytest.raises(InputError, match="integer attribute n"):
        masked_values(model, x, torch.tensor([0, 1]), object())

    class Huge(Masker):
        n = MAX_VARIABLES + 1

        def mask(self, rows, masks):  # pragma: no cover - never reached
            return rows

    with pytest.raises(MemoryEstimateError, match=r"2\*\*31"):
        masked_values(model, x, torch.tensor([0, 1]), Huge())

    wide = TabularMasker(torch.zeros(20))
    with pytest.raises(MemoryEstimateError, match=r"2\*\*20 = 1,048,576.*0.02 GiB.*available") as err:
        masked_values(torch.nn.Linear(20, 2).eval(), torch.zeros(2, 20), torch.tensor([0, 1]), wide, max_memory=1000)
    assert "Lower chunk_size" in str(err.value)


def test_explain_universal_matching():
    torch.manual_seed(6)
    model = torch.nn.Sequential(torch.nn.Linear(4, 8), torch.nn.ReLU(), torch.nn.Linear(8, 2)).double().eval()
    masker = TabularMasker.from_data(torch.randn(30, 4, dtype=torch.float64), names=["a", "b", "c", "d"])
    x = torch.randn(3, 4, dtype=torch.float64)
    y = torch.tensor([0, 1, 1])
    values = masked_values(model, x, y, masker)
    for r in (0.0, 0.03):
        res = explain(model, x, y, masker, noise_bound=r, tol=1e-4, metadata={"note": "t"})
        assert res.batch_shape == (3,) and res.n == 4
        np.testing.assert_allclose(res.values, values.numpy(), rtol=0, atol=1e-12)
        np.testing.assert_allclose(res.reconstruct(), res.values + res.noise, rtol=0, atol=1e-8)
        span = np.abs(res.values[:, -1] - res.values[:, 0])
        assert (np.abs(res.noise) <= r * span[:, None] + 1e-9).all()
        assert res.variables == ("a", "b", "c", "d")
        assert res.metadata["value_function"] == "log_odds"
        assert res.metadata["labels"] == [0, 1, 1]
        assert res.metadata["masker"]["type"] == "TabularMasker"
        assert res.metadata["note"] == "t"
