"""Safe readers for every file format genphase opens (torch, npz, JSON, YAML, Parquet).

One error path: whatever goes wrong (missing, empty, truncated, random bytes, wrong format,
pickled code), the reader raises :class:`~genphase.errors.CorruptFileError` whose message names
the file, says what is wrong with it and how to fix it. Nothing here ever executes pickled code:
torch files are read with ``weights_only`` unless the caller explicitly trusts the file, and
``.npz`` files with pickling disabled. Shared by all layers (like :mod:`genphase._atomic`).
"""

from __future__ import annotations

import os
import re
from pathlib import Path
from typing import Any

from .errors import CorruptFileError, UnsafePickleError

__all__ = ["run_file_fix", "read_torch", "read_npz", "read_json", "read_yaml", "read_parquet", "DEFAULT_FIX"]

#: Fix suggested for a file the user gave (not part of a run directory).
DEFAULT_FIX = "check the path, or write the file again"


def run_file_fix(root: str | os.PathLike | None = None) -> str:
    """The fix for a broken file of a run directory: rerun the same command, which recomputes it; or verify the run."""
    where = str(root) if root is not None else "RUN_DIR"
    return (f"rerun the same `genphase run ... --out {where}` command: it recomputes a damaged file and what depends "
            f"on it; `genphase run --verify {where}` lists every damaged file")


def _first_line(exc: BaseException, limit: int = 160) -> str:
    """The informative part of an exception's message: the line naming a bad byte, else the first sentence."""
    raw = str(exc)
    lines = [ln for ln in raw.splitlines() if any(g.lower() in ln.lower() for g in _GARBAGE)]
    text = " ".join((lines[0] if lines else raw).split()) or type(exc).__name__
    text = text.split(". ")[0]
    return text if len(text) <= limit else text[: limit - 3] + "..."


def _check_present(path: Path, kind: str, fix: str) -> None:
    if not path.exists():
        raise CorruptFileError(f"{str(path)!r} is missing (expected a {kind}); {fix}", path)
    if path.is_dir():
        raise CorruptFileError(f"{str(path)!r} is a directory, not a {kind}; {fix}", path)
    if path.stat().st_size == 0:
        raise CorruptFileError(f"{str(path)!r} is empty (0 bytes; a write was cut short?), not a {kind}; {fix}", path)


def _broken(path: Path, kind: str, exc: BaseException, fix: str) -> CorruptFileError:
    return CorruptFileError(
        f"{str(path)!r} is not a readable {kind} ({type(exc).__name__}: {_first_line(exc)}); it is truncated, "
        f"corrupted or of another format; {fix}",
        path,
    )


_GLOBAL_RE = re.compile(r"GLOBAL ([\w.]+)")
_GARBAGE = ("Unsupported operand", "unregistered extension", "invalid load key", "truncated", "ran out of input")


def read_torch(
    path: str | os.PathLike, *, map_location: Any = None, trust_pickle: bool = False, fix: str = DEFAULT_FIX
) -> Any:
    """``torch.load`` that never runs pickled code unless ``trust_pickle`` (then it may: only for trusted files).

    Tensors, state dicts, optimizer states, numbers, strings, lists and dicts load as usual. A file
    that needs anything else (a pickled ``nn.Module``, a ``__reduce__`` payload) raises
    :class:`~genphase.errors.UnsafePickleError` before any of its code runs.
    """
    import pickle

    import torch

    path = Path(path)
    _check_present(path, "torch file (.pt)", fix)
    try:
        return torch.load(path, map_location=map_location, weights_only=not trust_pickle)
    except pickle.UnpicklingError as exc:
        text = str(exc)
        if "Weights only load failed" in text and not any(g.lower() in text.lower() for g in _GARBAGE):
            m = _GLOBAL_RE.search(text)
            what = f" ({m.group(1)})" if m else ""
            raise UnsafePickleError(
                f"{str(path)!r} holds pickled Python objects beyond tensors{what}; loading it could run code "
                "from whoever made the file, so genphase refused to load it. Save a state_dict instead "
                "(torch.save(model.state_dict(), path)), or, only if you trust the file's author, pass "
                "--trust-pickle (API: trust_pickle=True)",
                path,
            ) from exc
        raise _broken(path, "torch file (.pt)", exc, fix) from exc
    except Exception as exc:  # noqa: BLE001 - torch raises RuntimeError, EOFError, ValueError... for bad bytes
        raise _broken(path, "torch file (.pt)", exc, fix) from exc


def read_npz(path: str | os.PathLike, *, fix: str = DEFAULT_FIX) -> dict[str, Any]:
    """All arrays of an ``.npz`` file (pickled object arrays are refused), as a dict of numpy arrays."""
    import numpy as np

    path = Path(path)
    _check_present(path, ".npz file", fix)
    try:
        with np.load(path, allow_pickle=False) as data:
            if not hasattr(data, "files"):
                raise ValueError("a single .npy array, not an .npz archive")
            return {k: np.asarray(data[k]) for k in data.files}
    except Exception as exc:  # noqa: BLE001 - BadZipFile, zlib.error, EOFError, ValueError (pickled arrays)...
        raise _broken(path, ".npz file", exc, fix) from exc


def read_json(path: str | os.PathLike, *, fix: str = DEFAULT_FIX) -> Any:
    """The parsed content of a JSON file."""
    import json

    path = Path(path)
    _check_present(path, "JSON file", fix)
    try:
        return json.loads(path.read_text(encoding="utf-8"))
    except Exception as exc:  # noqa: BLE001 - JSONDecodeError, UnicodeDecodeError, OSError
        raise _broken(path, "JSON file", exc, fix) from exc


def read_yaml(path: str | os.PathLike, *, fix: str = DEFAULT_FIX) -> Any:
    """The parsed content of a YAML file (``yaml.SafeLoader``: no Python objects are built; a key given twice
    in one mapping is refused, see :mod:`genphase._yaml`).

    >>> import tempfile
    >>> path = Path(tempfile.mkdtemp()) / "c.yaml"
    >>> _ = path.write_text("training:\\n  epochs: 3\\n")
    >>> read_yaml(path)
    {'training': {'epochs': 3}}
    >>> _ = path.write_text("training:\\n  epochs: 3\\n  epochs: 5\\n")
    >>> read_yaml(path)
    Traceback (most recent call last):
    ...
    genphase.errors.CorruptFileError: '.../c.yaml': key 'training.epochs' is given twice (lines 2 and 3); ...
    """
    from ._yaml import DuplicateKeyError, NotUtf8Error, decode_yaml, parse_yaml

    path = Path(path)
    if not path.exists():
        raise CorruptFileError(f"{str(path)!r} is missing (expected a YAML file); {fix}", path)
    try:
        return parse_yaml(decode_yaml(path.read_bytes(), str(path)), str(path))
    except (DuplicateKeyError, NotUtf8Error) as exc:
        raise CorruptFileError(f"{str(path)!r}: {exc}; or {fix}", path) from exc
    except Exception as exc:  # noqa: BLE001 - YAMLError, UnicodeDecodeError, OSError
        raise _broken(path, "YAML file", exc, fix) from exc


def read_parquet(path: str | os.PathLike, *, fix: str = DEFAULT_FIX):
    """A Parquet file as a pandas DataFrame."""
    import pandas as pd

    path = Path(path)
    _check_present(path, "Parquet table", fix)
    try:
        return pd.read_parquet(path)
    except Exception as exc:  # noqa: BLE001 - pyarrow raises ArrowInvalid, OSError...
        raise _broken(path, "Parquet table", exc, fix) from exc
