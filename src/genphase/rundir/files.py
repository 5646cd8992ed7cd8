"""Reading and writing a run directory's files: atomic writes (nothing half-written is ever read as finished)
and reads whose every failure names the file and the fix."""

from __future__ import annotations

import json
import os
from pathlib import Path
from typing import Any, Callable

from .._atomic import atomic_write
from .layout import RunPaths

__all__ = ["atomic_write", "write_json", "read_json", "write_parquet", "save_torch", "write_analysis"]


def write_json(path: str | os.PathLike, obj: Any) -> Path:
    """Write ``obj`` as indented JSON, atomically (numpy scalars and arrays and paths become JSON values).

    >>> import tempfile
    >>> import numpy as np
    >>> path = write_json(tempfile.mkdtemp() + "/m.json", {"epochs": np.int64(3), "h": np.array([0.5])})
    >>> read_json(path)  # numpy values are written as plain JSON
    {'epochs': 3, 'h': [0.5]}
    """
    text = json.dumps(obj, indent=2, sort_keys=False, default=_json_default)
    return atomic_write(path, lambda fh: fh.write(text), mode="w")


def _json_default(o: Any) -> Any:
    import numpy as np

    if isinstance(o, np.generic):
        return o.item()
    if isinstance(o, np.ndarray):
        return o.tolist()
    if isinstance(o, Path):
        return str(o)
    raise TypeError(f"not JSON serialisable: {type(o).__name__}")


def read_json(path: str | os.PathLike, fix: str | None = None) -> Any:
    """Parse a JSON file; any problem is a :class:`~genphase.errors.CorruptFileError` naming the file.

    >>> import tempfile, pathlib
    >>> bad = pathlib.Path(tempfile.mkdtemp()) / "manifest.json"
    >>> _ = bad.write_text("{truncated")
    >>> read_json(bad, fix="delete it and rerun")  # doctest: +ELLIPSIS
    Traceback (most recent call last):
    ...
    genphase.errors.CorruptFileError: ...manifest.json... delete it and rerun
    """
    from .._readers import read_json as _read
    from .._readers import run_file_fix

    return _read(path, fix=fix or run_file_fix())


def write_parquet(path: str | os.PathLike, frame) -> Path:
    """Write a pandas DataFrame as Parquet, atomically.

    >>> import tempfile, pandas as pd
    >>> frame = pd.DataFrame({"checkpoint": [0, 1], "h_bar": [0.2, 0.4]})
    >>> path = write_parquet(tempfile.mkdtemp() + "/h_bar.parquet", frame)
    >>> pd.read_parquet(path)["h_bar"].tolist()
    [0.2, 0.4]
    """
    return atomic_write(path, lambda fh: frame.to_parquet(fh, index=False))


def save_torch(path: str | os.PathLike, obj: Any) -> Path:
    """``torch.save(obj)`` to ``path``, atomically.

    >>> import tempfile, torch
    >>> path = save_torch(tempfile.mkdtemp() + "/state.pt", {"w": torch.ones(2)})
    >>> torch.load(path)["w"].tolist()
    [1.0, 1.0]
    """
    import torch

    return atomic_write(path, lambda fh: torch.save(obj, fh))


def write_analysis(paths: RunPaths, tables: dict[str, Any], phases: dict[str, Any],
                   after_each: Callable[[Path, str], None] | None = None) -> None:
    """Write the analysis engine's result into ``metrics/``: each table as ``<name>.parquet``, then ``phases.json``;
    ``after_each(path, name)`` runs after each file (``genphase run`` records it in the manifest there).

    >>> import tempfile, pandas as pd
    >>> p = RunPaths(tempfile.mkdtemp())
    >>> write_analysis(p, {"h_bar": pd.DataFrame({"h_bar": [0.5]})}, {"clear": False})
    >>> sorted(f.name for f in p.metrics.iterdir())
    ['h_bar.parquet', 'phases.json']
    """
    for name, frame in tables.items():
        write_parquet(paths.table(name), frame)
        if after_each is not None:
            after_each(paths.table(name), name)
    write_json(paths.phases, phases)
    if after_each is not None:
        after_each(paths.phases, "phases.json")
