"""The layout of a run directory, defined once: every file's name, what each recorded file is, the tables.

``genphase run`` (its stages, driver and integrity checks), :class:`genphase.Tracker` and the report
name files only through this module (docs/run-directory.md describes the same layout)::

    RUN/config.yaml, manifest.json, report.html
    RUN/checkpoints/model/epoch_0004.pt         the model at epoch 4 (state.pt: its training state)
    RUN/checkpoints/training_log.json
    RUN/checkpoints/baseline_1/final.pt, training_log.json, data.npz
    RUN/explained/samples.npz, variables.json
    RUN/interactions/model/epoch_0004.npz       its AND-OR interactions
    RUN/interactions/baseline_1.npz
    RUN/metrics/<table>.parquet, phases.json     the engine's tables (genphase.analysis.engine)

Paths are relative (POSIX strings, as the manifest records them) from the functions, and absolute
from :class:`RunPaths`.

>>> checkpoint_rel(4), interactions_rel("model", 4), interactions_rel("baseline_1")
('checkpoints/model/epoch_0004.pt', 'interactions/model/epoch_0004.npz', 'interactions/baseline_1.npz')
>>> epoch_of("epoch_0012.npz"), epoch_of("baseline_0.npz")
(12, None)
"""

from __future__ import annotations

import os
import re
from pathlib import Path
from typing import Any

__all__ = [
    "MODEL",
    "CONFIG",
    "MANIFEST",
    "REPORT",
    "TRAINING_LOG",
    "TRAIN_STATE",
    "TOKENIZER_DIR",
    "SAMPLES",
    "VARIABLES",
    "PHASES_JSON",
    "TRACKER_STATE",
    "RUN_TABLES",
    "baseline_name",
    "null_baseline_name",
    "checkpoint_rel",
    "interactions_rel",
    "chunk_rel",
    "baseline_rel",
    "table_rel",
    "epoch_of",
    "what",
    "expected_files",
    "RunPaths",
]

#: The model under study (its files and training-log rows); baseline ``k`` is :func:`baseline_name` ``(k)``.
MODEL = "model"
CONFIG = "config.yaml"
MANIFEST = "manifest.json"
REPORT = "report.html"
TRAINING_LOG = "checkpoints/training_log.json"
#: The model's training state, rewritten every epoch (not recorded in the manifest).
TRAIN_STATE = "checkpoints/model/state.pt"
#: A ``bert-scratch`` run's one tokenizer (a folder).
TOKENIZER_DIR = "checkpoints/tokenizer/"
SAMPLES = "explained/samples.npz"
VARIABLES = "explained/variables.json"
PHASES_JSON = "metrics/phases.json"
#: A Tracker's series (what :meth:`genphase.Tracker.state_dict` returns).
TRACKER_STATE = "metrics/tracker_state.json"

#: Every table of ``metrics/`` the analysis engine writes (:func:`genphase.analysis.analyse_run`), in order;
#: ``h_bar_summary`` only with bootstrap intervals, ``h_bar_ceiling`` and ``evidence`` only with K >= 2, ``h_bar_null``
#: unless both nulls are off (``analysis.null_draws=0``, no null baselines).
RUN_TABLES: tuple[str, ...] = (
    "h_bar", "order_strengths", "baseline_ablation", "removal_loss", "order_distribution", "order_distribution_samples",
    "jaccard", "removal_summary", "ablation_strengths", "h_bar_summary", "training", "samples", "baselines",
    "h_bar_ceiling", "evidence", "phases", "h_bar_null", "claims",
)

_EPOCH = re.compile(r"^epoch_(\d+)\.(npz|pt)$")


def baseline_name(k: int) -> str:
    """``"baseline_k"``: baseline ``k``'s name in file names, training-log rows and the manifest.

    >>> baseline_name(2)
    'baseline_2'
    """
    return f"baseline_{int(k)}"


def null_baseline_name(k: int) -> str:
    """``"null_baseline_k"``: null baseline ``k`` (baseline ``k``'s model, seed and data, its labels permuted).

    >>> null_baseline_name(2)
    'null_baseline_2'
    """
    return f"null_baseline_{int(k)}"


def checkpoint_rel(epoch: int) -> str:
    """The model's weights at ``epoch`` (0 = initialisation).

    >>> checkpoint_rel(0)
    'checkpoints/model/epoch_0000.pt'
    """
    return f"checkpoints/{MODEL}/epoch_{int(epoch):04d}.pt"


def interactions_rel(model: str = MODEL, epoch: int | None = None) -> str:
    """The interactions file of the model at ``epoch``, or of a baseline (``model="baseline_k"``, no epoch).

    >>> interactions_rel(epoch=3)
    'interactions/model/epoch_0003.npz'
    """
    if model == MODEL:
        if epoch is None:
            raise ValueError("the model's interactions file needs its epoch")
        return f"interactions/{MODEL}/epoch_{int(epoch):04d}.npz"
    return f"interactions/{model}.npz"


def chunk_rel(model: str, epoch: int | None, j: int) -> str:
    """Chunk ``j`` of one model's interactions (``execution.chunk_samples``), beside the file it is merged into.

    >>> chunk_rel("baseline_0", None, 2)
    'interactions/baseline_0.chunk_002.npz'
    """
    return interactions_rel(model, epoch)[: -len(".npz")] + f".chunk_{int(j):03d}.npz"


def baseline_rel(k: int, name: str, *, null: bool = False) -> str:
    """A file of baseline ``k`` (of null baseline ``k`` with ``null=True``): ``final.pt`` (its weights),
    ``training_log.json``, ``data.npz`` (what it learnt from).

    >>> baseline_rel(1, "final.pt"), baseline_rel(1, "data.npz", null=True)
    ('checkpoints/baseline_1/final.pt', 'checkpoints/null_baseline_1/data.npz')
    """
    if name not in ("final.pt", "training_log.json", "data.npz"):
        raise ValueError(f"a baseline has final.pt, training_log.json and data.npz, not {name!r}")
    return f"checkpoints/{null_baseline_name(k) if null else baseline_name(k)}/{name}"


def table_rel(name: str) -> str:
    """A table of ``metrics/``.

    >>> table_rel("h_bar")
    'metrics/h_bar.parquet'
    """
    return f"metrics/{name}.parquet"


def epoch_of(name: str | os.PathLike) -> int | None:
    """The epoch of a model file name (``epoch_0004.npz`` or ``.pt``; a path's last part), else None.

    >>> epoch_of("runs/x/interactions/model/epoch_0040.npz"), epoch_of("state.pt")
    (40, None)
    """
    m = _EPOCH.match(Path(name).name)
    return int(m.group(1)) if m else None


def what(kind: str, model: str | None = None, epoch: int | None = None, **extra: Any) -> dict[str, Any]:
    """What a recorded file is (its manifest record's ``kind``, ``model``, ``epoch``).

    >>> what("checkpoint", MODEL, 4), what("interactions", "baseline_0")
    ({'kind': 'checkpoint', 'model': 'model', 'epoch': 4}, {'kind': 'interactions', 'model': 'baseline_0'})
    """
    out: dict[str, Any] = {"kind": kind}
    if model is not None:
        out["model"] = model
    if epoch is not None:
        out["epoch"] = int(epoch)
    return {**out, **extra}


def expected_files(epochs: list[int], k: int, *, null: bool = False) -> list[tuple[str, dict[str, Any], str]]:
    """``(relative path, what, stage)`` of every recorded file of a finished run with checkpoints ``epochs`` and
    ``k`` baselines, and ``k`` null baselines with ``null=True`` (the tables are recorded as they are written; see
    :data:`RUN_TABLES`).

    >>> files = expected_files([0, 5], 1)
    >>> files[0], len(files), len(expected_files([0, 5], 1, null=True))
    (('checkpoints/model/epoch_0000.pt', {'kind': 'checkpoint', 'model': 'model', 'epoch': 0}, 'train_model'), 11, 15)
    """
    out: list[tuple[str, dict[str, Any], str]] = []
    for e in epochs:
        out.append((checkpoint_rel(e), what("checkpoint", MODEL, e), "train_model"))
    out.append((TRAINING_LOG, what("training_log", MODEL), "train_model"))
    kinds = (False, True) if null else (False,)
    for is_null in kinds:
        for b in range(k):
            name = null_baseline_name(b) if is_null else baseline_name(b)
            out.append((baseline_rel(b, "training_log.json", null=is_null), what("training_log", name), "baselines"))
            out.append((baseline_rel(b, "final.pt", null=is_null), what("checkpoint", name), "baselines"))
            out.append((baseline_rel(b, "data.npz", null=is_null), what("baseline_data", name), "baselines"))
    out.append((SAMPLES, what("samples"), "extract"))
    out.append((VARIABLES, what("variables"), "extract"))
    for is_null in kinds:
        for b in range(k):
            name = null_baseline_name(b) if is_null else baseline_name(b)
            out.append((interactions_rel(name), what("interactions", name), "extract"))
    for e in epochs:
        out.append((interactions_rel(MODEL, e), what("interactions", MODEL, e), "extract"))
    return out


class RunPaths:
    """Absolute paths inside a run directory ``root`` (the same names as the functions above).

    >>> p = RunPaths("runs/digits")
    >>> p.checkpoint(4).as_posix(), p.interactions(4).as_posix()
    ('runs/digits/checkpoints/model/epoch_0004.pt', 'runs/digits/interactions/model/epoch_0004.npz')
    >>> p.table("h_bar").as_posix(), p.phases.as_posix()
    ('runs/digits/metrics/h_bar.parquet', 'runs/digits/metrics/phases.json')
    """

    def __init__(self, root: str | os.PathLike):
        self.root = Path(root)

    def __truediv__(self, rel: str) -> Path:
        return self.root / rel

    config = property(lambda self: self.root / CONFIG)
    manifest = property(lambda self: self.root / MANIFEST)
    report = property(lambda self: self.root / REPORT)
    figures = property(lambda self: self.root / "figures")
    metrics = property(lambda self: self.root / "metrics")
    samples = property(lambda self: self.root / SAMPLES)
    variables = property(lambda self: self.root / VARIABLES)
    train_state = property(lambda self: self.root / TRAIN_STATE)
    training_log = property(lambda self: self.root / TRAINING_LOG)
    tokenizer = property(lambda self: self.root / TOKENIZER_DIR)
    phases = property(lambda self: self.root / PHASES_JSON)
    tracker_state = property(lambda self: self.root / TRACKER_STATE)

    def checkpoint(self, epoch: int) -> Path:
        return self.root / checkpoint_rel(epoch)

    def baseline(self, k: int) -> Path:
        return self.root / baseline_rel(k, "final.pt")

    def baseline_log(self, k: int) -> Path:
        return self.root / baseline_rel(k, "training_log.json")

    def baseline_data(self, k: int) -> Path:
        """Which samples baseline ``k`` trained on and was stopped on (``split``, ``train_index``, ``holdout_index``)."""
        return self.root / baseline_rel(k, "data.npz")

    def interactions(self, epoch: int) -> Path:
        return self.root / interactions_rel(MODEL, epoch)

    def baseline_interactions(self, k: int) -> Path:
        return self.root / interactions_rel(baseline_name(k))

    def model_interactions(self) -> list[tuple[int, Path]]:
        """``(epoch, path)`` of every model interactions file present, by epoch."""
        folder = self.root / "interactions" / MODEL
        found = [(epoch_of(p), p) for p in folder.glob("epoch_*.npz")] if folder.is_dir() else []
        return sorted((e, p) for e, p in found if e is not None)

    def table(self, name: str) -> Path:
        return self.root / table_rel(name)
