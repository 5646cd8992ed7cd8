"""Atomic file writes and the run-directory manifest (nothing half-written is ever read as finished)."""

from __future__ import annotations

import json
import os
from pathlib import Path
from typing import Any

from .._atomic import atomic_write

__all__ = ["atomic_write", "write_json", "read_json", "write_parquet", "save_torch", "RunPaths"]


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


class RunPaths:
    """Paths inside a run directory (see docs/run-directory.md).

    >>> p = RunPaths("runs/digits")
    >>> p.checkpoint(4).as_posix(), p.interactions(4).as_posix()
    ('runs/digits/checkpoints/model/epoch_0004.pt', 'runs/digits/interactions/model/epoch_0004.npz')
    >>> p.table("h_bar").as_posix()
    'runs/digits/metrics/h_bar.parquet'
    """

    def __init__(self, root: str | os.PathLike):
        self.root = Path(root)

    config = property(lambda self: self.root / "config.yaml")
    manifest = property(lambda self: self.root / "manifest.json")
    report = property(lambda self: self.root / "report.html")
    figures = property(lambda self: self.root / "figures")
    metrics = property(lambda self: self.root / "metrics")
    samples = property(lambda self: self.root / "explained" / "samples.npz")
    variables = property(lambda self: self.root / "explained" / "variables.json")
    train_state = property(lambda self: self.root / "checkpoints" / "model" / "state.pt")
    training_log = property(lambda self: self.root / "checkpoints" / "training_log.json")

    def checkpoint(self, epoch: int) -> Path:
        return self.root / "checkpoints" / "model" / f"epoch_{epoch:04d}.pt"

    def baseline(self, k: int) -> Path:
        return self.root / "checkpoints" / f"baseline_{k}" / "final.pt"

    def baseline_log(self, k: int) -> Path:
        return self.root / "checkpoints" / f"baseline_{k}" / "training_log.json"

    def baseline_data(self, k: int) -> Path:
        """Which samples baseline ``k`` trained on and was stopped on (``split``, ``train_index``, ``holdout_index``)."""
        return self.root / "checkpoints" / f"baseline_{k}" / "data.npz"

    def interactions(self, epoch: int) -> Path:
        return self.root / "interactions" / "model" / f"epoch_{epoch:04d}.npz"

    def baseline_interactions(self, k: int) -> Path:
        return self.root / "interactions" / f"baseline_{k}.npz"

    def table(self, name: str) -> Path:
        return self.metrics / f"{name}.parquet"
