"""System packages some tests need (.ci/run installs them with apt-get): skip locally, fail in CI.

With ``CI=true`` in the environment (set by .ci/run) a missing package fails the test instead of
skipping it, so CI cannot pass green without the browser and Fashion-MNIST tests having run.
"""

from __future__ import annotations

import os
import shutil
from pathlib import Path

import pytest

from genphase.datasets import FASHION_MNIST_ROOT

CHROMIUM = next((p for p in (os.environ.get("CHROMIUM"), "/usr/bin/chromium", shutil.which("chromium"),
                             shutil.which("chromium-browser")) if p and Path(p).is_file()), None)


def require(available: bool, what: str) -> None:
    """Skip (or, with CI=true, fail) the calling test unless ``available``; ``what`` names the package."""
    if available:
        return
    if os.environ.get("CI", "").lower() == "true":
        pytest.fail(f"{what} is missing but CI=true: .ci/run must install it (apt-get install failed?)")
    pytest.skip(f"{what} is not installed")


def require_chromium() -> str:
    require(CHROMIUM is not None, "headless Chromium (/usr/bin/chromium; apt-get install chromium)")
    return CHROMIUM


def require_fashion_mnist() -> None:
    require(Path(FASHION_MNIST_ROOT).is_dir(), f"Fashion-MNIST ({FASHION_MNIST_ROOT}; apt-get install dataset-fashion-mnist)")
