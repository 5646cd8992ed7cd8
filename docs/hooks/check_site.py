"""Check the built site (``make docs`` runs this after ``mkdocs build --strict``).

- ``site/index.html`` exists;
- every name of every public ``__all__`` has its anchor on the page that documents it
  (:func:`api_pages.documented_names`);
- every ``>>>`` line of every documented docstring shows on that page, so each example renders;
- in particular the page of ``genphase.extract_and_or`` shows its example.

Usage: ``python docs/hooks/check_site.py [SITE_DIR]``; exit status 1 with one line per problem.
"""

from __future__ import annotations

import html
import re
import sys
from pathlib import Path

import griffe

sys.path.insert(0, str(Path(__file__).resolve().parent))
from api_pages import PACKAGE, SRC, documented_names  # noqa: E402

TAG = re.compile(r"<[^>]+>")


def page_text(path: Path) -> str:
    """The visible text of a built page (tags removed, entities decoded)."""
    return html.unescape(TAG.sub("", path.read_text(encoding="utf-8")))


def check(site: Path) -> tuple[list[str], dict[str, int]]:
    problems: list[str] = []
    if not (site / "index.html").is_file():
        problems.append(f"{site / 'index.html'} is missing")
    root = griffe.load(PACKAGE, search_paths=[str(SRC)], allow_inspection=False)
    names = documented_names(root)
    raw: dict[str, str] = {}
    text: dict[str, str] = {}
    shown: dict[str, int] = {}
    for module, entries in names.items():
        for name, home in entries.items():
            if home == f"{PACKAGE}.__version__":
                continue
            owner = home.rsplit(".", 1)[0]
            page = site / "api" / owner / "index.html"
            if owner not in raw:
                if not page.is_file():
                    problems.append(f"{page} is missing (documents {home})")
                    raw[owner] = text[owner] = ""
                    continue
                raw[owner], text[owner] = page.read_text(encoding="utf-8"), page_text(page)
            if f'id="{home}"' not in raw[owner]:
                problems.append(f"{module}.{name}: no anchor {home} in {page}")
                continue
            if home != f"{module}.{name}" or home in shown:
                continue
            obj = root[home[len(PACKAGE) + 1:]]
            doc = obj.docstring.value if obj.docstring is not None else ""
            examples = [ln.strip() for ln in doc.splitlines() if ln.strip().startswith(">>>")]
            missing = [ln for ln in examples if ln not in text[owner]]
            if missing:
                problems.append(f"{home}: {len(missing)} of {len(examples)} example lines do not show in {page}, "
                                f"e.g. {missing[0]!r}")
            shown[home] = len(examples)
    if not shown.get("genphase.interactions.extract_and_or"):
        problems.append("the API page of extract_and_or does not show its example")
    return problems, shown


def main() -> int:
    site = Path(sys.argv[1] if len(sys.argv) > 1 else "site")
    problems, shown = check(site)
    for p in problems:
        print(f"docs: {p}", file=sys.stderr)
    if problems:
        return 1
    page = site / "api" / "genphase.interactions" / "index.html"
    print(f"docs: {len(shown)} public names documented, {sum(shown.values())} example lines shown; "
          f"extract_and_or: {page}#genphase.interactions.extract_and_or "
          f"({shown['genphase.interactions.extract_and_or']} example lines)")
    return 0


if __name__ == "__main__":
    sys.exit(main())
