"""Save/load round trip and format checks."""

from __future__ import annotations

import numpy as np
import pytest

import genphase as gp
from genphase.errors import InputError


def test_round_trip(tmp_path, rng):
    v = rng.normal(size=(3, 32))
    res = gp.extract_and_or(v, noise_bound=0.02, variables=list("abcde"), metadata={"value_function": "log_odds"})
    path = gp.save_interactions(res, tmp_path / "sub" / "res")
    assert path.suffix == ".npz" and path.exists()
    back = gp.load_interactions(path)
    for name in ("and_effects", "or_effects", "bias", "noise", "values", "objective", "gap", "converged"):
        np.testing.assert_array_equal(getattr(back, name), getattr(res, name))
    assert back.variables == tuple("abcde")
    assert back.noise_bound == 0.02 and back.solver == "admm"
    assert back.metadata["value_function"] == "log_odds"
    assert not list(tmp_path.glob("sub/.*tmp"))


def test_load_errors(tmp_path):
    with pytest.raises(InputError, match="no interactions file"):
        gp.load_interactions(tmp_path / "missing.npz")
    np.savez(tmp_path / "other.npz", x=np.zeros(3))
    with pytest.raises(InputError, match="not a genphase"):
        gp.load_interactions(tmp_path / "other.npz")
