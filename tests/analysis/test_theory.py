"""The (reconstructed) noisy-triggering-function regression on set functions built from known terms."""

from __future__ import annotations

import numpy as np
import pandas as pd
import pytest

import genphase as gp
from genphase.analysis import TriggeringRegression, default_sigma2_grid, fit_noise_schedule
from genphase.errors import InputError
from genphase.transforms import kron_apply, subset_orders, superset_zeta, zeta

N = 5
TERMS = np.zeros(1 << N)
TERMS[[0b00001, 0b00110, 0b11100, 0b11111]] = [1.0, -1.5, 2.0, 1.0]  # orders 1, 2, 3, 5
Y = zeta(TERMS) + 0.25  # v[S] = 0.25 + sum_{T subset S} terms[T]


@pytest.mark.parametrize("s2", [0.0, 0.1, 2.0, 50.0])
def test_one_variable_closed_form(s2):
    # J = [[1, 0], [1, 1]], J^T J = [[2, 1], [1, 1]], penalty 2 * diag(0, s2):
    # w0 = (y0 + 2 s2 (y0 + y1)) / (1 + 4 s2), w1 = (y1 - y0) / (1 + 4 s2)
    y0, y1 = 0.3, 1.7
    w = TriggeringRegression(np.array([y0, y1])).interactions(s2)
    np.testing.assert_allclose(w, [(y0 + 2 * s2 * (y0 + y1)) / (1 + 4 * s2), (y1 - y0) / (1 + 4 * s2)])


def test_zero_noise_recovers_the_known_terms():
    w = TriggeringRegression(Y).interactions(0.0)
    expect = TERMS.copy()
    expect[0] = 0.25
    np.testing.assert_allclose(w, expect, atol=1e-12)
    res = gp.AndOrInteractions.from_effects(TERMS, np.zeros_like(TERMS), 0.25)
    np.testing.assert_allclose(TriggeringRegression(res).interactions(0.0), expect, atol=1e-12)


def test_solution_satisfies_the_normal_equations():
    rng = np.random.default_rng(3)
    n = 9
    y = rng.normal(size=(3, 1 << n))
    model = TriggeringRegression(y, method="cg")
    for s2 in (1e-6, 1e-2, 3.0):
        w = model.interactions(s2)
        d = (1 << n) * ((1 + s2) ** subset_orders(n) - 1)
        lhs = kron_apply(w, np.array([[2.0, 1.0], [1.0, 1.0]])) + d * w
        rhs = superset_zeta(y)
        assert np.abs(lhs - rhs).max() <= 1e-8 * np.abs(rhs).max()
        assert model.last_info[-1]["iterations"] < 60  # the Kronecker-pencil preconditioner works


def test_cg_matches_dense():
    rng = np.random.default_rng(4)
    y = rng.normal(size=(2, 1 << 7))
    s2 = np.array([30.0, 0.5, 1e-3, 1e-6])
    wd = TriggeringRegression(y, method="dense").interactions(s2)
    wc = TriggeringRegression(y, method="cg", tol=1e-12).interactions(s2)
    assert wd.shape == (4, 2, 128)
    np.testing.assert_allclose(wc, wd, rtol=0, atol=1e-6 * np.abs(wd).max())


def test_order_distribution_moves_up_as_noise_shrinks():
    pred = TriggeringRegression(Y).predict(default_sigma2_grid(46))
    mo = pred.mean_order()
    assert mo[0] < 1.1  # large noise: almost only first-order terms survive
    assert mo[-1] == pytest.approx((1 * 1.0 + 2 * 1.5 + 3 * 2.0 + 5 * 1.0) / 5.5, rel=1e-3)  # the known terms
    assert np.all(np.diff(mo) >= -0.01)  # (near-)monotone rise: the two-phase model's second phase
    np.testing.assert_allclose(pred.share[-1], [1 / 5.5, 1.5 / 5.5, 2 / 5.5, 0.0, 1 / 5.5], atol=1e-3)
    fr = pred.to_frame()
    assert list(fr.columns) == ["sigma2", "order", "sign", "metric", "value"]


def _measured(sigma2: np.ndarray) -> np.ndarray:
    return np.abs(TriggeringRegression(Y).predict(sigma2).strength).sum(-1)


def test_fit_recovers_a_known_schedule():
    grid = np.logspace(1, -6, 29)
    true = grid[[2, 6, 10, 10, 16, 24]]
    fit = fit_noise_schedule(Y, 3.0 * _measured(true), checkpoints=[0, 10, 20, 30, 40, 50], sigma2_grid=grid)
    np.testing.assert_allclose(fit.sigma2, true)
    assert fit.mean_distance < 1e-9 and fit.r2 == pytest.approx(1.0)
    assert fit.spearman < -0.9
    assert fit.constant_distance.mean() > 0.05  # one noise level for all checkpoints fits much worse
    s = fit.summary()
    assert "reconstruction" in s["model"] and s["schedule"][50] == pytest.approx(true[-1])
    fr = fit.to_frame()
    assert {"checkpoint", "sigma2", "order", "metric", "value"} <= set(fr.columns)


def test_fit_with_noisy_measurements_stays_close():
    rng = np.random.default_rng(7)
    grid = np.logspace(1, -6, 29)
    idx = np.array([2, 6, 10, 16, 24])
    meas = _measured(grid[idx]) * rng.uniform(0.95, 1.05, size=(5, N))
    fit = fit_noise_schedule(Y, meas, sigma2_grid=grid)
    got = np.searchsorted(-grid, -fit.sigma2)
    assert np.all(np.abs(got - idx) <= 2)
    assert fit.mean_distance < 0.05


def test_monotone_constraint():
    grid = np.logspace(1, -6, 29)
    meas = _measured(grid[[20, 10, 4]])  # noise growing over training
    free = fit_noise_schedule(Y, meas, sigma2_grid=grid, monotone=False)
    np.testing.assert_allclose(free.sigma2, grid[[20, 10, 4]])
    mono = fit_noise_schedule(Y, meas, sigma2_grid=grid)
    assert np.all(np.diff(mono.sigma2) <= 0)
    assert mono.mean_distance >= free.mean_distance


def test_sign_split_and_table_input():
    grid = np.logspace(1, -6, 15)
    pred = TriggeringRegression(Y).predict(grid[[1, 7, 13]])
    fit = fit_noise_schedule(Y, pred.strength, sigma2_grid=grid, sign_split=True)
    np.testing.assert_allclose(fit.sigma2, grid[[1, 7, 13]])
    assert fit.measured.shape == (3, N, 2)
    rows = [{"checkpoint": c, "split": "train", "type": "all", "order": m + 1, "sign": sg, "strength": pred.strength[i, m, j]}
            for i, c in enumerate([0, 4, 9]) for m in range(N) for j, sg in enumerate("+-")]
    table = pd.DataFrame(rows + [{**r, "type": "and", "strength": 123.0} for r in rows])
    fit2 = fit_noise_schedule(Y, table, sigma2_grid=grid, type="all")
    np.testing.assert_allclose(fit2.sigma2, grid[[1, 7, 13]])
    assert fit2.checkpoints.tolist() == [0, 4, 9]


def test_custom_penalty_and_bad_input():
    lin = TriggeringRegression(Y, penalty=lambda m, s2: s2 * m)  # any non-negative order penalty
    assert lin.interactions(0.1).shape == (1 << N,)
    with pytest.raises(InputError, match="penalty"):
        TriggeringRegression(Y, penalty=lambda m, s2: -m * 1.0).interactions(0.1)
    with pytest.raises(InputError, match="sigma2"):
        TriggeringRegression(Y).interactions(-1.0)
    with pytest.raises(InputError, match="NaN"):
        TriggeringRegression(np.full(8, np.nan))
    with pytest.raises(InputError, match="2\\*\\*n"):
        TriggeringRegression(np.zeros(6))
    with pytest.raises(InputError, match="method"):
        TriggeringRegression(Y, method="lu")
    with pytest.raises(InputError, match="n=5"):
        fit_noise_schedule(Y, np.ones((2, 4)))
    with pytest.raises(InputError, match="shape"):
        fit_noise_schedule(Y, np.ones(5))
    with pytest.raises(InputError, match="all zero"):
        fit_noise_schedule(Y, np.zeros((2, N)))
    with pytest.raises(InputError, match="non-negative"):
        fit_noise_schedule(Y, -np.ones((2, N)))


def test_harsanyi_distribution_and_predicted_vs_measured_table():
    from genphase.analysis import THEORY_COLUMNS, harsanyi_order_distribution

    # two samples whose masked outputs are Y and 2 Y: the dividends are TERMS and 2 TERMS (brute force: zeta^-1)
    vals = np.stack([Y, 2.0 * Y])
    one = gp.AndOrInteractions.from_effects(np.stack([TERMS, 2 * TERMS]), np.zeros((2, 1 << N)), np.array([0.25, 0.5]))
    np.testing.assert_allclose(one.values, vals)
    tab = harsanyi_order_distribution({0: one, 5: one}, split=["train", "test"])
    row = tab[(tab["checkpoint"] == 5) & (tab["split"] == "test")].set_index(["order", "sign"])["strength"]
    assert row[(1, "+")] == pytest.approx(2.0) and row[(2, "-")] == pytest.approx(-3.0)
    assert row[(3, "+")] == pytest.approx(4.0) and row[(5, "+")] == pytest.approx(2.0) and row[(4, "+")] == 0.0
    assert set(tab["type"]) == {"and"}
    # at sigma^2 = 0 the theory's w are exactly the dividends: that grid point fits exactly
    grid = np.r_[np.logspace(1, -8, 10), 0.0]
    fit = fit_noise_schedule(vals[:1], tab, sigma2_grid=grid)
    assert np.all(fit.sigma2 == 0.0) and fit.distance.max() < 1e-9
    t = fit.to_table()
    assert tuple(t.columns) == THEORY_COLUMNS and len(t) == 2 * N
    np.testing.assert_allclose(t["measured"], t["predicted"], atol=1e-6)
    assert t.groupby("checkpoint")["measured"].sum().to_numpy() == pytest.approx([1.0, 1.0])
