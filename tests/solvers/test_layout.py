"""The solver package's contracts: typed result, ConvergenceWarning, solver names and the names
``genphase.solvers.admm`` exported before the split by algorithm."""

from __future__ import annotations

import numpy as np
import pytest
import torch

import genphase as gp
from genphase.errors import ConvergenceWarning
from genphase.interactions import SOLVERS
from genphase.solvers import SolveResult, solve


def test_solve_returns_a_typed_numpy_result(rng):
    v = torch.as_tensor(rng.normal(size=(3, 16)))
    res = solve(v)
    assert isinstance(res, SolveResult)
    for name, arr in res.arrays().items():
        assert isinstance(arr, np.ndarray), name
        assert arr.shape[0] == 3, name
    assert res.and_effects.shape == (3, 16) and res.converged.dtype == bool


def test_non_convergence_warns_with_convergence_warning(rng):
    v = rng.normal(size=(2, 256))
    with pytest.warns(ConvergenceWarning, match="did not reach the certified gap"):
        res = gp.extract_and_or(v, max_iter=25, fallback_max_n=0)
    assert not res.converged.all()
    assert issubclass(ConvergenceWarning, UserWarning)


def test_hpr_is_the_default_solver_under_its_own_name(rng):
    v = rng.normal(size=(2, 32))
    assert "admm" in SOLVERS and "hpr" in SOLVERS
    a = gp.extract_and_or(v)
    b = gp.extract_and_or(v, solver="hpr")
    np.testing.assert_array_equal(a.and_effects, b.and_effects)
    assert b.solver == "hpr" and a.solver == "admm"


def test_old_admm_names_stay_importable():
    from genphase.solvers import admm

    for name in ("ADMMOptions", "SolveResult", "solve_admm", "default_rho", "halpern_rho", "dual_lower_bound", "or_from_and", "t_vector"):
        assert hasattr(admm, name), name
    from genphase.solvers.halpern import solve_halpern

    assert admm.solve_admm is not solve_halpern  # the entry point dispatches on options.halpern
