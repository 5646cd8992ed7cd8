"""One version: pyproject.toml sets it, the package metadata carries it, and the API, the CLI and the changelog agree."""

from __future__ import annotations

import re
import tomllib
from importlib.metadata import version
from pathlib import Path

from typer.testing import CliRunner

import genphase
from genphase.cli import app

ROOT = Path(__file__).resolve().parents[1]


def test_version_is_the_package_metadata() -> None:
    assert genphase.__version__ == version("genphase")
    result = CliRunner().invoke(app, ["--version"])
    assert result.exit_code == 0
    assert result.output.strip() == f"genphase {genphase.__version__}"


def test_changelog_leads_with_the_pyproject_version() -> None:
    declared = tomllib.loads((ROOT / "pyproject.toml").read_text())["project"]["version"]
    first = re.search(r"^## (\S+) \((.+)\)$", (ROOT / "CHANGELOG.md").read_text(), re.M)
    assert first is not None, "CHANGELOG.md has no '## VERSION (DATE)' entry"
    assert first.group(1) == declared, "the newest changelog entry is not pyproject.toml's version"
    assert re.fullmatch(r"\d{4}-\d{2}-\d{2}", first.group(2)), f"the release {declared} is not dated: {first.group(2)}"
