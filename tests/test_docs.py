"""The documentation site's generated parts, without building it (``make docs`` builds and checks the site):
the API reference covers every public name, and doctests are fenced so that they render as code."""

from __future__ import annotations

import importlib
import pkgutil
import sys
from pathlib import Path

import pytest

import genphase

HOOKS = Path(__file__).resolve().parents[1] / "docs" / "hooks"
sys.path.insert(0, str(HOOKS))
api_pages = pytest.importorskip("api_pages", reason="griffe (the docs extra) is not installed")
from doctest_fences import fence_doctests  # noqa: E402


def _runtime_public_modules() -> dict[str, list[str]]:
    out: dict[str, list[str]] = {"genphase": list(genphase.__all__)}
    for info in pkgutil.walk_packages(genphase.__path__, "genphase."):
        if any(part.startswith("_") for part in info.name.split(".")[1:]):
            continue
        try:
            mod = importlib.import_module(info.name)
        except ImportError:  # an optional extra that is not installed: its names are still read from the source
            continue
        if hasattr(mod, "__all__"):
            out[info.name] = list(mod.__all__)
    return out


def test_the_api_reference_documents_every_name_of_every_public_all():
    documented = api_pages.documented_names()
    runtime = _runtime_public_modules()
    assert set(runtime) <= set(documented), sorted(set(runtime) - set(documented))
    for module, names in runtime.items():
        assert set(names) == set(documented[module]), module
    # every name has one home page, a public module that defines it
    homes = {home.rsplit(".", 1)[0] for names in documented.values() for home in names.values()}
    assert homes - {"genphase"} <= set(documented)
    assert documented["genphase"]["extract_and_or"] == "genphase.interactions.extract_and_or"
    pages = api_pages.api_pages()
    assert "api/genphase.interactions.md" in pages and "        - extract_and_or" in pages["api/genphase.interactions.md"]


def test_doctests_are_fenced_as_console_blocks():
    text = "Summary.\n\n>>> x = 1\n>>> x + 1\n2\n\nMore text.\n```\n>>> not a doctest: already fenced\n```"
    out = fence_doctests(text)
    assert out.splitlines()[:7] == ["Summary.", "", "```pycon", ">>> x = 1", ">>> x + 1", "2", "```"]
    assert "```\n>>> not a doctest: already fenced\n```" in out
    assert fence_doctests("A line\n>>> 1\n1") == "A line\n\n```pycon\n>>> 1\n1\n```"
