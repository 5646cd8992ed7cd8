"""MkDocs hook: the API reference, one page per public module of genphase, generated from the docstrings.

A module is public when no part of its dotted name starts with ``_`` and it declares ``__all__``; every
name of its ``__all__`` is documented on its page, except a name re-exported from another public module
that documents it: that one is a link to its home page. ``genphase`` itself (its names are imported
lazily) gets a table of links. Nothing is written into ``docs/``: the pages are generated in memory
(:func:`api_pages`) and put in the navigation under "API reference". ``docs/hooks/check_site.py``
checks the built site against ``__all__`` (``make docs`` runs it).
"""

from __future__ import annotations

import ast
from pathlib import Path
from typing import Any

import griffe

SRC = Path(__file__).resolve().parents[2] / "src"
PACKAGE = "genphase"


def _public_modules(root: griffe.Module) -> list[griffe.Module]:
    out: list[griffe.Module] = []

    def walk(mod: griffe.Module) -> None:
        if any(part.startswith("_") for part in mod.path.split(".")[1:]):
            return
        if mod.exports is not None:
            out.append(mod)
        for member in mod.modules.values():
            if not member.is_alias:
                walk(member)

    walk(root)
    return sorted(out, key=lambda m: m.path)


def _exports(mod: griffe.Module) -> list[str]:
    return [str(e) for e in (mod.exports or []) if isinstance(e, str)]


def _top_level_exports() -> dict[str, str]:
    """``genphase._EXPORTS`` (name -> defining module), read from the source without importing genphase."""
    tree = ast.parse((SRC / PACKAGE / "__init__.py").read_text(encoding="utf-8"))
    for node in tree.body:
        if isinstance(node, ast.AnnAssign) and isinstance(node.target, ast.Name) and node.target.id == "_EXPORTS":
            return ast.literal_eval(node.value)
    raise RuntimeError("genphase/__init__.py has no _EXPORTS table")


def documented_names(loader_root: griffe.Module | None = None) -> dict[str, dict[str, str]]:
    """For each public module: ``{name: where it is documented}`` (its own dotted path, or its home's).

    Every name of every public ``__all__`` appears; ``where`` is the anchor id the built page carries.
    """
    root = loader_root or griffe.load(PACKAGE, search_paths=[str(SRC)], allow_inspection=False)
    modules = _public_modules(root)
    public = {m.path: set(_exports(m)) for m in modules}
    out: dict[str, dict[str, str]] = {}
    for mod in modules:
        names: dict[str, str] = {}
        for name in _exports(mod):
            member = mod.members.get(name)
            home = f"{mod.path}.{name}"
            if member is not None and not member.is_alias and member.is_module and name in member.members:
                # `from .salience import salience`: the package's name is the function, griffe sees the submodule
                member = member.members[name]
                if not member.is_alias and name in public.get(member.parent.path, set()):
                    home = member.path
            elif member is not None and member.is_alias:
                try:
                    target = member.final_target
                    parent = target.parent.path if target.parent is not None else ""
                    if parent != mod.path and target.name in public.get(parent, set()) and not target.is_alias:
                        home = target.path
                except (griffe.AliasResolutionError, griffe.CyclicAliasError):
                    pass
            names[name] = home
        out[mod.path] = names
    top = _top_level_exports()
    out[PACKAGE] = {name: out.get(module, {}).get(name, f"{PACKAGE}.{name}") for name, module in top.items()}
    out[PACKAGE]["__version__"] = f"{PACKAGE}.__version__"
    return out


def _summary(mod: griffe.Module) -> str:
    doc = mod.docstring.value.strip().splitlines()[0] if mod.docstring is not None and mod.docstring.value.strip() else ""
    return doc.replace("|", "\\|")


def api_pages() -> dict[str, str]:
    """``{path under docs/: markdown}`` of the API reference."""
    root = griffe.load(PACKAGE, search_paths=[str(SRC)], allow_inspection=False)
    names = documented_names(root)
    modules = {m.path: m for m in _public_modules(root)}
    pages: dict[str, str] = {}
    index = ["# API reference", "",
             "Every public name of genphase, one page per public module, generated from the docstrings; each "
             "`>>>` example is a doctest that `make test` runs.", "",
             "## The package: `import genphase`", "", "| name | defined in |", "| --- | --- |"]
    for name, home in names[PACKAGE].items():
        if name == "__version__":
            continue
        index.append(f"| [`genphase.{name}`][{home}] | `{home.rsplit('.', 1)[0]}` |")
    index += ["", "`genphase.__version__` is the installed package's version (`genphase --version` prints it).", "",
              "## Modules", "", "| module | what it holds |", "| --- | --- |"]
    for path in sorted(names):
        if path == PACKAGE:
            continue
        index.append(f"| [`{path}`]({path}.md) | {_summary(modules[path])} |")
    pages["api/index.md"] = "\n".join(index) + "\n"
    for path, entries in names.items():
        if path == PACKAGE:
            continue
        local = [n for n, home in entries.items() if home == f"{path}.{n}"]
        elsewhere = {n: home for n, home in entries.items() if home != f"{path}.{n}"}
        lines = [f"# `{path}`", "", f"::: {path}", "    options:", "      show_root_heading: false",
                 "      show_root_toc_entry: false", "      heading_level: 2"]
        lines.append("      members:" + ("" if local else " false"))
        lines += [f"        - {n}" for n in local]
        if elsewhere:
            lines += ["", "## Also exported here", "",
                      "Documented where they are defined:", ""]
            lines += [f"- [`{n}`][{home}] (`{home}`)" for n, home in elsewhere.items()]
        pages[f"api/{path}.md"] = "\n".join(lines) + "\n"
    return pages


_PAGES: dict[str, str] = {}


def on_config(config: Any, **kwargs: Any) -> Any:
    _PAGES.clear()
    _PAGES.update(api_pages())
    nav = config.get("nav")
    if nav is not None:
        nav.append({"API reference": api_nav(_PAGES)})
    return config


def api_nav(pages: dict[str, str]) -> list[Any]:
    """The navigation of the API reference: the index, then one section per top-level module (its pages sorted,
    the package first); a module alone is one entry."""
    groups: dict[str, list[str]] = {}
    for uri in pages:
        if uri != "api/index.md":
            path = uri[len("api/"):-len(".md")]
            groups.setdefault(".".join(path.split(".")[:2]), []).append(path)
    entries: list[Any] = ["api/index.md"]
    for top in sorted(groups):
        paths = sorted(groups[top], key=lambda p: (p != top, p))
        items = [{p: f"api/{p}.md"} for p in paths]
        entries += items if len(items) == 1 else [{top: items}]
    return entries


def on_files(files: Any, config: Any, **kwargs: Any) -> Any:
    from mkdocs.structure.files import File

    for uri, text in _PAGES.items():
        files.append(File.generated(config, uri, content=text))
    return files
