"""The run directory's file records: what each finished file is (``kind``, ``model``, ``epoch``), its size and
SHA-256, kept in ``manifest.json`` under ``files``; recording a file and checking it against its record.

``genphase run`` records and checks through these (:mod:`genphase.pipeline.integrity` adds the whole-run
verification), and ``genphase report`` checks the tables it draws against them.
"""

from __future__ import annotations

import hashlib
import os
from pathlib import Path
from typing import Any

from .._readers import read_npz, run_file_fix
from ..errors import CorruptFileError

__all__ = ["INTEGRITY_VERSION", "sha256_file", "record_file", "recorded", "check_file"]

#: Version of the ``files`` records in ``manifest.json``.
INTEGRITY_VERSION = 1


def sha256_file(path: str | os.PathLike, chunk: int = 1 << 20) -> str:
    """Hex SHA-256 of a file's bytes.

    >>> import tempfile, pathlib
    >>> p = pathlib.Path(tempfile.mkdtemp()) / "a.txt"
    >>> _ = p.write_bytes(b"abc")
    >>> sha256_file(p)[:16]
    'ba7816bf8f01cfea'
    """
    h = hashlib.sha256()
    with open(path, "rb") as fh:
        for block in iter(lambda: fh.read(chunk), b""):
            h.update(block)
    return h.hexdigest()


def _rel(root: Path, path: Path) -> str:
    return Path(os.path.relpath(path, root)).as_posix()


def record_file(man: dict, root: Path, path: Path, what: dict[str, Any]) -> None:
    """Record the finished file ``path`` (what it is, config hash, size, SHA-256) in ``man["files"]``.

    >>> import tempfile, pathlib
    >>> root = pathlib.Path(tempfile.mkdtemp())
    >>> _ = (root / "a.txt").write_bytes(b"abc")
    >>> man = {"config_hash": "c0ffee"}
    >>> record_file(man, root, root / "a.txt", {"kind": "samples"})
    >>> rec = man["files"]["a.txt"]
    >>> rec["kind"], rec["config_hash"], rec["bytes"], rec["sha256"][:16]
    ('samples', 'c0ffee', 3, 'ba7816bf8f01cfea')
    """
    man.setdefault("files", {})[_rel(root, path)] = {
        **what,
        "config_hash": man.get("config_hash"),
        "bytes": path.stat().st_size,
        "sha256": sha256_file(path),
    }


def recorded(man: dict, root: Path, path: Path) -> bool:
    """Whether ``path`` has a record in the manifest.

    >>> import tempfile, pathlib
    >>> root = pathlib.Path(tempfile.mkdtemp())
    >>> _ = (root / "a.txt").write_bytes(b"abc")
    >>> man = {"config_hash": "c0ffee"}
    >>> before = recorded(man, root, root / "a.txt")
    >>> record_file(man, root, root / "a.txt", {"kind": "samples"})
    >>> before, recorded(man, root, root / "a.txt")
    (False, True)
    """
    return _rel(root, path) in man.get("files", {})


def _describe_npz(path: Path) -> str:
    """What an interactions file says it is (``"model epoch 52"``), or "" when it cannot be told."""
    try:
        import json

        meta = json.loads(bytes(read_npz(path)["__meta__"]).decode())
        rf = (meta.get("metadata") or {}).get("run_file") or {}
    except Exception:  # noqa: BLE001 - purely informative
        return ""
    if not rf:
        return ""
    where = f"{rf.get('model')}" + (f" epoch {rf['epoch']}" if rf.get("epoch") is not None else "")
    return where + ("" if rf.get("config_hash") is None else f" of config {rf['config_hash']}")


def check_file(man: dict, root: Path, path: Path, what: dict[str, Any] | None = None) -> None:
    """Check a recorded file before use: present, same size and SHA-256, the expected ``what``.

    Raises :class:`~genphase.errors.CorruptFileError` naming the file and the fix.

    >>> import tempfile, pathlib
    >>> root = pathlib.Path(tempfile.mkdtemp())
    >>> _ = (root / "a.txt").write_bytes(b"abc")
    >>> man = {"config_hash": "c0ffee"}
    >>> record_file(man, root, root / "a.txt", {"kind": "samples"})
    >>> check_file(man, root, root / "a.txt", {"kind": "samples"})  # passes silently
    >>> _ = (root / "a.txt").write_bytes(b"abd")  # same size, other bytes
    >>> check_file(man, root, root / "a.txt")  # doctest: +ELLIPSIS
    Traceback (most recent call last):
    ...
    genphase.errors.CorruptFileError: a.txt in '...' is not the file this run wrote (size 3 vs 3 bytes, or content hash differs from manifest.json: ...
    """
    rel = _rel(root, path)
    rec = man.get("files", {}).get(rel)
    fix = run_file_fix(root)
    if rec is None:
        raise CorruptFileError(f"{rel} in {str(root)!r} has no record in manifest.json; {fix}", path)
    if not path.is_file():
        raise CorruptFileError(f"{rel} in {str(root)!r} is missing although manifest.json records it as finished; {fix}", path)
    if what is not None:
        wrong = {k: (rec.get(k), v) for k, v in what.items() if rec.get(k) != v}
        if wrong:
            raise CorruptFileError(f"{rel} in {str(root)!r}: manifest record {wrong} (recorded, expected) does not match; {fix}", path)
    if rec.get("config_hash") != man.get("config_hash"):
        raise CorruptFileError(
            f"{rel} in {str(root)!r} was recorded for config {rec.get('config_hash')}, not this run's "
            f"{man.get('config_hash')}; {fix}", path)
    size = path.stat().st_size
    if size != rec.get("bytes") or sha256_file(path) != rec.get("sha256"):
        told = _describe_npz(path) if path.suffix == ".npz" else ""
        extra = f"; it holds {told}" if told else ""
        raise CorruptFileError(
            f"{rel} in {str(root)!r} is not the file this run wrote (size {size} vs {rec.get('bytes')} bytes, or "
            f"content hash differs from manifest.json: changed, truncated or replaced{extra}); {fix}", path)
