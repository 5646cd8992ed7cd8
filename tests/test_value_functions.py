"""Value functions against closed forms, stability at p -> 1, and error messages."""

from __future__ import annotations

import math

import numpy as np
import pytest
import torch

from genphase.errors import InputError
from genphase.value_functions import (
    VALUE_FUNCTIONS,
    ValueFunction,
    binary_logit,
    get_value_function,
    log_odds,
    logit,
    predicted_classes,
    predicted_log_odds,
    register_value_function,
)


@pytest.mark.parametrize("c", [2, 3, 7])
def test_log_odds_closed_form(c):
    rng = np.random.default_rng(c)
    z = rng.normal(scale=3.0, size=(6, c))
    y = rng.integers(0, c, size=6)
    p = np.exp(z - z.max(1, keepdims=True))
    p /= p.sum(1, keepdims=True)
    py = p[np.arange(6), y]
    want = np.log(py / (1 - py))
    got = log_odds(torch.tensor(z), torch.tensor(y))
    assert got.dtype == torch.float64
    np.testing.assert_allclose(got.numpy(), want, rtol=1e-10, atol=1e-10)
    if c == 2:
        np.testing.assert_allclose(got.numpy(), z[np.arange(6), y] - z[np.arange(6), 1 - y], rtol=0, atol=1e-12)


def test_log_odds_finite_when_p_is_one():
    z = torch.tensor([[1000.0, 0.0], [0.0, 1000.0], [1000.0, 0.0], [200.0, -300.0]])
    got = log_odds(z, torch.tensor([0, 0, 1, 0]))
    assert torch.isfinite(got).all()
    assert got.tolist() == [1000.0, -1000.0, -1000.0, 500.0]
    three = log_odds(torch.tensor([[1000.0, 0.0, 0.0]]), torch.tensor([0]))
    assert three.item() == pytest.approx(1000.0 - math.log(2.0), abs=1e-12)
    # low-precision logits are promoted to float64 before the arithmetic
    bf = log_odds(torch.tensor([[3.0, 1.0]], dtype=torch.bfloat16), torch.tensor([0]))
    assert bf.dtype == torch.float64 and bf.item() == 2.0


def test_logit_and_binary_logit():
    z = torch.tensor([[1.0, -2.0, 0.5], [0.0, 4.0, 3.0]])
    assert logit(z, torch.tensor([2, 1])).tolist() == [0.5, 4.0]
    s = torch.tensor([2.0, -1.5, 0.25])
    y = torch.tensor([1, 0, 0])
    assert binary_logit(s, y).tolist() == [2.0, 1.5, -0.25]
    assert binary_logit(s[:, None], y).tolist() == [2.0, 1.5, -0.25]
    # equals the log-odds of class y under p(1) = sigmoid(z)
    p1 = torch.sigmoid(s.double())
    py = torch.where(y == 1, p1, 1 - p1)
    assert torch.allclose(binary_logit(s, y), torch.log(py / (1 - py)))
    assert binary_logit(s, torch.tensor([True, False, False])).tolist() == [2.0, 1.5, -0.25]
    with pytest.raises(InputError, match="log_odds"):
        binary_logit(torch.zeros(3, 2), y)
    with pytest.raises(InputError, match="label 2 .*2 classes"):
        binary_logit(s, torch.tensor([1, 2, 0]))


def test_predicted_uses_full_outputs():
    full = torch.tensor([[2.0, 0.0], [0.0, 1.0]])
    masked = torch.tensor([[0.0, 3.0], [5.0, 0.0]])
    assert predicted_classes(full).tolist() == [0, 1]
    got = predicted_log_odds(masked, full_outputs=full)
    assert got.tolist() == [-3.0, -5.0]
    assert predicted_log_odds(full).tolist() == [2.0, 1.0]
    vf = get_value_function(predicted_log_odds)
    assert vf.name == "predicted_log_odds" and vf.uses_prediction
    assert vf.labels_from_full(full).tolist() == [0, 1]
    assert VALUE_FUNCTIONS["predicted_binary_logit"].labels_from_full(torch.tensor([0.3, -0.2])).tolist() == [1, 0]


def test_label_and_output_errors():
    z = torch.zeros(3, 4)
    with pytest.raises(InputError, match=r"label 4 \(sample 1\) is out of range for a model with 4 classes.*\[0, 3\]"):
        log_odds(z, torch.tensor([0, 4, 1]))
    with pytest.raises(InputError, match=r"label -1 \(sample 2\)"):
        logit(z, torch.tensor([0, 1, -1]))
    with pytest.raises(InputError, match="integer"):
        log_odds(z, torch.tensor([0.0, 1.0, 1.0]))
    with pytest.raises(InputError, match=r"shape \[B\] = \[3\]"):
        log_odds(z, torch.tensor([0, 1]))
    with pytest.raises(InputError, match="binary_logit"):
        log_odds(torch.zeros(3), torch.tensor([0, 1, 1]))
    with pytest.raises(InputError, match="binary_logit"):
        log_odds(torch.zeros(3, 1), torch.tensor([0, 0, 0]))
    with pytest.raises(InputError, match=r"\[B, C\].*\(3, 5, 4\)"):
        log_odds(torch.zeros(3, 5, 4), torch.tensor([0, 1, 1]))
    with pytest.raises(InputError, match="floating"):
        log_odds(torch.zeros(3, 4, dtype=torch.long), torch.tensor([0, 1, 1]))
    with pytest.raises(InputError, match="needs labels"):
        log_odds(z, None)


def test_registry_and_callables():
    assert get_value_function("log_odds").fn is log_odds
    assert get_value_function(log_odds).name == "log_odds"
    assert set(VALUE_FUNCTIONS) >= {"log_odds", "logit", "predicted_log_odds", "binary_logit"}
    with pytest.raises(InputError, match="unknown value function 'logodds'.*log_odds"):
        get_value_function("logodds")
    with pytest.raises(InputError, match="callable"):
        get_value_function(3)

    def margin(outputs, labels):
        return outputs[:, 0] - outputs[:, 1]

    vf = get_value_function(margin)
    assert isinstance(vf, ValueFunction) and vf.name == "margin" and not vf.uses_prediction
    out = vf(torch.tensor([[3.0, 1.0]], dtype=torch.float32), torch.tensor([0]))
    assert out.dtype == torch.float64 and out.tolist() == [2.0]
    bad = get_value_function(lambda o, y: o)
    with pytest.raises(InputError, match=r"returned shape \(1, 2\).*\[B\] = \[1\]"):
        bad(torch.tensor([[3.0, 1.0]]), torch.tensor([0]))

    name = "test_only_margin"
    try:
        reg = register_value_function(name, margin)
        assert get_value_function(name) is reg
        with pytest.raises(InputError, match="already registered"):
            register_value_function(name, margin)
        register_value_function(name, margin, overwrite=True)
    finally:
        VALUE_FUNCTIONS.pop(name, None)
