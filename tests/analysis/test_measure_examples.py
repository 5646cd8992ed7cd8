"""The ``>>>`` examples of the cross-fitting, ceiling, evidence, phase-count and Label Wave modules run and hold."""

from __future__ import annotations

import doctest
import importlib

import pytest

MODULES = ["crossfit", "ceiling", "evidence", "phase_count", "labelwave", "generalization"]


@pytest.mark.parametrize("name", MODULES)
def test_examples(name):
    mod = importlib.import_module(f"genphase.analysis.{name}")
    res = doctest.testmod(mod, optionflags=doctest.NORMALIZE_WHITESPACE)
    assert res.attempted > 0
    assert res.failed == 0
