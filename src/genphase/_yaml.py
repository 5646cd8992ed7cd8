"""The one YAML loader of genphase: ``yaml.SafeLoader`` that refuses a key given twice in one mapping.

Plain ``yaml.safe_load`` keeps the last of two equal keys without a word, so a config file with two
``training:`` sections silently loses the first. Every config YAML genphase reads (a config file, the
``config.yaml`` of a run directory, the value of a ``key=value`` override) goes through :func:`parse_yaml`,
which raises :class:`DuplicateKeyError` (a ``yaml.YAMLError``) naming the key's full path and both lines.
Keys brought in by a merge (``<<: *base``) may still be overridden: that is what merges are for.
"""

from __future__ import annotations

from pathlib import PurePath
from typing import Any

import yaml
from yaml.nodes import MappingNode, Node, ScalarNode, SequenceNode

__all__ = ["DuplicateKeyError", "NotUtf8Error", "UniqueKeyLoader", "parse_yaml", "decode_yaml"]

_MERGE_TAG = "tag:yaml.org,2002:merge"


class DuplicateKeyError(yaml.YAMLError):
    """A YAML mapping gives the same key twice; ``key`` is its dotted path, ``lines`` the 1-based lines.

    >>> err = DuplicateKeyError("training", [2, 6])
    >>> print(err)
    key 'training' is given twice (lines 2 and 6); YAML would silently keep only the last, so it is refused: keep one 'training:' section and move the keys of the others into it
    >>> err.key, err.lines
    ('training', [2, 6])
    """

    def __init__(self, key: str, lines: list[int], *, section: bool = True):
        self.key = key
        self.lines = list(lines)
        leaf = key.rsplit(".", 1)[-1]
        where = (f"lines {' and '.join(str(n) for n in self.lines)}" if len(set(self.lines)) > 1
                 else f"both on line {self.lines[0]}")
        times = "twice" if len(self.lines) == 2 else f"{len(self.lines)} times"
        fix = (f"keep one {leaf + ':'!r} section and move the keys of the others into it" if section
               else f"keep one {leaf + ':'!r} line and delete the others")
        super().__init__(f"key {key!r} is given {times} ({where}); YAML would silently keep only the last, "
                         f"so it is refused: {fix}")


class NotUtf8Error(yaml.YAMLError):
    """A YAML file's bytes are not UTF-8 text (UTF-16 or UTF-32 with or without a byte-order mark, or binary).

    >>> print(NotUtf8Error("UTF-16 text (it starts with a UTF-16 byte-order mark)"))
    it is UTF-16 text (it starts with a UTF-16 byte-order mark), not UTF-8; genphase reads YAML files as UTF-8 text: save it as UTF-8 (most editors: "Save with encoding" > UTF-8; or `iconv -f UTF-16 -t UTF-8 FILE > FILE-utf8.yaml`)
    """

    def __init__(self, what: str, name: str = "FILE"):
        self.what = what
        enc = what.split()[0]
        src = PurePath(str(name))
        new = src.with_name(f"{src.stem}-utf8{src.suffix or '.yaml'}")
        super().__init__(
            f"it is {what}, not UTF-8; genphase reads YAML files as UTF-8 text: save it as UTF-8 (most editors: "
            f"\"Save with encoding\" > UTF-8; or `iconv -f {enc} -t UTF-8 {name} > {new}`)"
            if what.startswith("UTF-") else
            f"it is {what}; genphase reads YAML files as UTF-8 text: check the path (is it a config file?), or save "
            "it as UTF-8")


_BOMS = ((b"\xff\xfe\x00\x00", "UTF-32 text (it starts with a UTF-32 byte-order mark)"),
         (b"\x00\x00\xfe\xff", "UTF-32 text (it starts with a UTF-32 byte-order mark)"),
         (b"\xff\xfe", "UTF-16 text (it starts with a UTF-16 byte-order mark)"),
         (b"\xfe\xff", "UTF-16 text (it starts with a UTF-16 byte-order mark)"))


def decode_yaml(data: bytes, name: str = "FILE") -> str:
    """The text of a YAML file's bytes (UTF-8, with or without a byte-order mark), or :class:`NotUtf8Error`
    saying what the bytes look like instead (UTF-16, UTF-32, binary).

    >>> decode_yaml("epochs: 3  # é".encode())
    'epochs: 3  # é'
    >>> decode_yaml("epochs: 3".encode("utf-16"), "c.yaml")
    Traceback (most recent call last):
    ...
    genphase._yaml.NotUtf8Error: it is UTF-16 text (it starts with a UTF-16 byte-order mark), not UTF-8; ... `iconv -f UTF-16 -t UTF-8 c.yaml > c-utf8.yaml`)
    >>> decode_yaml(bytes([0x89, 0x50, 0x4E, 0x47, 0x0D, 0x0A, 0x1A, 0x0A]))  # a PNG image
    Traceback (most recent call last):
    ...
    genphase._yaml.NotUtf8Error: it is not text (byte 0x89 at offset 0 is not UTF-8: a binary file?); ...
    """
    for bom, what in _BOMS:
        if data.startswith(bom):
            raise NotUtf8Error(what, name)
    head = data[:4096]
    for zeros, other, order in ((head[1::2], head[0::2], "LE"), (head[0::2], head[1::2], "BE")):
        if len(head) >= 4 and zeros.count(0) >= 0.9 * len(zeros) and other.count(0) <= 0.1 * len(other):
            raise NotUtf8Error(f"UTF-16{order} text without a byte-order mark (every other byte is zero)", name)
    try:
        text = data.decode("utf-8-sig")
    except UnicodeDecodeError as exc:
        raise NotUtf8Error(f"not text (byte 0x{data[exc.start]:02x} at offset {exc.start} is not UTF-8: a binary "
                           "file?)", name) from exc
    if "\x00" in text:
        raise NotUtf8Error("not text (it holds NUL bytes: a binary file?)", name)
    return text


class UniqueKeyLoader(yaml.SafeLoader):
    """``yaml.SafeLoader`` (no Python objects are built) that raises :class:`DuplicateKeyError` for a key
    given twice in one mapping, at any depth.

    >>> yaml.load("a: 1\\nb: {c: 2}", Loader=UniqueKeyLoader)
    {'a': 1, 'b': {'c': 2}}
    >>> yaml.load("a: 1\\nb:\\n  c: 2\\n  c: 3\\n", Loader=UniqueKeyLoader)
    Traceback (most recent call last):
    ...
    genphase._yaml.DuplicateKeyError: key 'b.c' is given twice (lines 3 and 4); ...
    """

    def construct_document(self, node: Node) -> Any:
        _check_unique(self, node, "", set())
        return super().construct_document(node)


def _key_text(loader: yaml.SafeLoader, node: Node) -> Any:
    """The constructed value of a scalar key (``1`` and ``01`` are the same key), else None (not compared)."""
    if not isinstance(node, ScalarNode):
        return None
    try:
        value = loader.construct_object(node, deep=True)
        hash(value)
    except (yaml.YAMLError, TypeError):
        return None
    return value


def _check_unique(loader: yaml.SafeLoader, node: Node, prefix: str, seen: set[int]) -> None:
    if id(node) in seen:  # an alias shares its anchor's node: checked once
        return
    seen.add(id(node))
    if isinstance(node, SequenceNode):
        for i, child in enumerate(node.value):
            _check_unique(loader, child, f"{prefix}[{i}]", seen)
        return
    if not isinstance(node, MappingNode):
        return
    lines: dict[Any, list[int]] = {}
    sections: dict[Any, bool] = {}
    for key_node, value_node in node.value:
        if key_node.tag == _MERGE_TAG:
            continue
        key = _key_text(loader, key_node)
        path = f"{prefix}.{key}" if prefix else str(key)
        if key is not None:
            lines.setdefault(key, []).append(key_node.start_mark.line + 1)
            sections[key] = sections.get(key, True) and isinstance(value_node, MappingNode)
        _check_unique(loader, value_node, path if key is not None else prefix, seen)
    for key, where in lines.items():
        if len(where) > 1:
            raise DuplicateKeyError(f"{prefix}.{key}" if prefix else str(key), where, section=sections[key])


def parse_yaml(text: str, name: str = "<string>") -> Any:
    """``yaml.safe_load(text)`` that refuses duplicate keys; ``name`` (a file name) appears in YAML's error marks.

    >>> parse_yaml("training:\\n  epochs: 3\\n")
    {'training': {'epochs': 3}}
    >>> parse_yaml("training:\\n  epochs: 3\\ntraining:\\n  lr: 0.1\\n", "c.yaml")
    Traceback (most recent call last):
    ...
    genphase._yaml.DuplicateKeyError: key 'training' is given twice (lines 1 and 3); ...
    """
    loader = UniqueKeyLoader(text)
    loader.name = name  # the marks of YAML's own errors name the file instead of "<unicode string>"
    try:
        return loader.get_single_data()
    finally:
        loader.dispose()
