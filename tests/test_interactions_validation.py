"""Bad solver inputs to extract_and_or get an InputError naming the value (docs/reliability.md)."""

from __future__ import annotations

import numpy as np
import pytest
import torch

import genphase as gp
from genphase.errors import InputError


@pytest.fixture
def v(rng):
    return rng.normal(size=(2, 8))


def test_complex_values_are_refused(v):
    with pytest.raises(InputError, match="must be real, got dtype complex128"):
        gp.extract_and_or(v + 1j * v)
    with pytest.raises(InputError, match="must be real, got a complex tensor"):
        gp.extract_and_or(torch.as_tensor(v + 1j * v))


@pytest.mark.parametrize("tol", [5, 0, -1e-3, 1.0])
def test_tol_outside_zero_one_is_refused(v, tol):
    with pytest.raises(InputError, match=rf"tol is a relative duality gap and must lie in \(0, 1\), got {tol!r}"):
        gp.extract_and_or(v, tol=tol)


@pytest.mark.parametrize("max_iter", [0, -3, 2.5, True])
def test_max_iter_below_one_or_not_integer_is_refused(v, max_iter):
    with pytest.raises(InputError, match=rf"max_iter must be an integer >= 1 .*got {max_iter!r}"):
        gp.extract_and_or(v, max_iter=max_iter)


@pytest.mark.parametrize("bound", [np.float32(0.02), np.float64(0.02), torch.tensor(0.02)])
def test_noise_bound_of_numpy_or_torch_number_is_accepted(v, bound):
    res = gp.extract_and_or(v, noise_bound=bound, solver="highs")
    assert res.noise_bound == pytest.approx(0.02)
    eta = 0.02 * np.abs(v[:, -1] - v[:, 0])
    assert np.all(np.abs(res.noise) <= eta[:, None] * (1 + 1e-6) + 1e-9)


@pytest.mark.parametrize("bound", ["0.02", torch.tensor([0.02, 0.01]), True])
def test_noise_bound_that_is_not_a_number_is_refused(v, bound):
    with pytest.raises(InputError, match="noise_bound must be a"):
        gp.extract_and_or(v, noise_bound=bound)


@pytest.mark.parametrize("solver, option", [("highs", "rho"), ("sgd-reference", "halpern")])
def test_unknown_option_of_highs_or_sgd_is_an_input_error(v, solver, option):
    with pytest.raises(InputError, match=rf"unknown options \['{option}'\] for solver '{solver}'; valid: "):
        gp.extract_and_or(v, solver=solver, **{option: 1})


def test_warm_start_for_other_samples_or_variables_is_refused(v):
    good = gp.extract_and_or(v, variables=list("abc"))
    with pytest.raises(InputError, match="warm_start must be an AndOrInteractions"):
        gp.extract_and_or(v, warm_start=good.and_effects)
    with pytest.raises(InputError, match=r"warm_start has n=3, batch \(2,\); values have n=4, batch \(2,\)"):
        gp.extract_and_or(np.zeros((2, 16)), warm_start=good)
    with pytest.raises(InputError, match=r"warm_start has n=3, batch \(2,\); values have n=3, batch \(3,\)"):
        gp.extract_and_or(np.zeros((3, 8)), warm_start=good)
    with pytest.raises(InputError, match="same variables"):
        gp.extract_and_or(v, warm_start=good, variables=list("xyz"))
    bad = gp.AndOrInteractions.from_effects(np.full((2, 8), np.nan), np.zeros((2, 8)))
    with pytest.raises(InputError, match="warm_start has NaN or inf"):
        gp.extract_and_or(v, warm_start=bad)
    # other values for the same samples and variables are the usual warm start (a previous checkpoint)
    res = gp.extract_and_or(v + 0.1, warm_start=good, variables=list("abc"))
    assert res.converged.all()
