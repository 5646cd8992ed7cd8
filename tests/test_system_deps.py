"""The CI guard of tests/system_deps.py: a missing system package skips locally and fails with CI=true."""

from __future__ import annotations

import pytest
from system_deps import require


def test_missing_package_skips_outside_ci(monkeypatch):
    monkeypatch.delenv("CI", raising=False)
    with pytest.raises(pytest.skip.Exception, match="chromium is not installed"):
        require(False, "chromium")


def test_missing_package_fails_in_ci(monkeypatch):
    monkeypatch.setenv("CI", "true")
    with pytest.raises(pytest.fail.Exception, match="chromium is missing but CI=true: .ci/run must install it"):
        require(False, "chromium")
    require(True, "chromium")  # present: nothing happens
