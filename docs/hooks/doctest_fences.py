"""Griffe extension for the API reference: every ``>>>`` example of a docstring renders as a Python console block.

The package's docstrings hold doctests as plain paragraphs (``make test`` runs them). Markdown would read
``>>>`` as three nested block quotes, so each doctest block (from its first ``>>>`` line to the next
blank line, the doctest rule) is wrapped in a fenced ``pycon`` block before mkdocstrings renders it, and Sphinx
roles (``:func:`x```) become code spans.
"""

from __future__ import annotations

import re
from typing import Any

import griffe

_ROLE = re.compile(r":(?:py:)?(?:func|class|mod|meth|attr|data|exc|obj|const):`(~?)([^`]+)`")


def plain_roles(text: str) -> str:
    """Sphinx roles as code spans (``:func:`~a.b.c``` -> ```c```, ``:class:`a.B``` -> ```a.B```): Markdown has none.

    >>> plain_roles("See :func:`~genphase.h_bar` and :class:`AndOrInteractions`.")
    'See `h_bar` and `AndOrInteractions`.'
    """
    return _ROLE.sub(lambda m: f"`{m.group(2).rsplit('.', 1)[-1] if m.group(1) else m.group(2)}`", text)


def fence_doctests(text: str) -> str:
    """``text`` with each doctest block fenced as ``pycon`` (blank lines around each fence).

    >>> print(fence_doctests("Sum.\\n\\n>>> 1 + 1\\n2\\n\\nMore."))
    Sum.
    <BLANKLINE>
    ```pycon
    >>> 1 + 1
    2
    ```
    <BLANKLINE>
    More.
    """
    out: list[str] = []
    lines = text.splitlines()
    i, in_fence = 0, False
    while i < len(lines):
        line = lines[i]
        stripped = line.lstrip()
        if stripped.startswith("```"):
            in_fence = not in_fence
        if in_fence or not stripped.startswith(">>>"):
            out.append(line)
            i += 1
            continue
        indent = line[: len(line) - len(stripped)]
        if out and out[-1].strip():
            out.append("")
        out.append(f"{indent}```pycon")
        while i < len(lines) and lines[i].strip():
            out.append(lines[i])
            i += 1
        out.append(f"{indent}```")
        out.append("")
    return "\n".join(out).rstrip("\n")


class DoctestFences(griffe.Extension):
    """Fence the doctests of every loaded object's docstring (before it is parsed and rendered)."""

    def on_instance(self, *, obj: griffe.Object, **kwargs: Any) -> None:
        if obj.docstring is not None:
            obj.docstring.value = fence_doctests(plain_roles(obj.docstring.value))
