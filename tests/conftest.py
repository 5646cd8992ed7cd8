"""Shared fixtures and ground-truth games for genphase's tests."""

from __future__ import annotations

import numpy as np
import pytest

# the environment (offline Hugging Face, Agg backend, passive OpenMP, one OpenMP thread) is set in the repository's root
# conftest.py, so that the docstring examples under src/genphase run under the same settings


@pytest.fixture
def rng() -> np.random.Generator:
    return np.random.default_rng(12345)


@pytest.fixture(scope="session")
def mini_run(tmp_path_factory):
    """A real miniature digits run (tests/miniature.py), report included, built once per session.

    Read-only (only tests/report/test_report_real.py rebuilds its report.html in place): a test that
    modifies a run works on ``miniature.copy_run(mini_run, tmp_path / ...)``.
    """
    import miniature

    return miniature.build(tmp_path_factory.mktemp("mini") / "run")


@pytest.fixture(scope="session")
def tabular_run(tmp_path_factory):
    """A real miniature breast-cancer run (tabular modality), without report; read-only."""
    import miniature

    return miniature.build(tmp_path_factory.mktemp("tabular") / "run", "breast-cancer-mlp", miniature.TABULAR,
                           report=False)
