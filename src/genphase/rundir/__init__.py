"""The run directory, owned in one place: its layout (:mod:`.layout`: every file name, what each recorded
file is, the tables), how its files are written and read (:mod:`.files`: atomic writes, checked reads), and
its one writer at a time (:mod:`.lock`).

``genphase run``, :class:`genphase.Tracker` and the report reach the directory only through here.
"""

from .files import atomic_write, read_json, save_torch, write_analysis, write_json, write_parquet
from .layout import (
    CONFIG,
    MANIFEST,
    MODEL,
    PHASES_JSON,
    REPORT,
    RUN_TABLES,
    SAMPLES,
    TOKENIZER_DIR,
    TRACKER_STATE,
    TRAIN_STATE,
    TRAINING_LOG,
    VARIABLES,
    RunPaths,
    baseline_name,
    baseline_rel,
    checkpoint_rel,
    chunk_rel,
    epoch_of,
    expected_files,
    interactions_rel,
    null_baseline_name,
    table_rel,
    what,
)
from .lock import LOCK_FILE, RunLock

__all__ = [
    "LOCK_FILE", "RunLock", "atomic_write", "read_json", "save_torch", "write_analysis", "write_json", "write_parquet",
    "CONFIG", "MANIFEST", "MODEL", "PHASES_JSON", "REPORT", "RUN_TABLES", "SAMPLES", "TOKENIZER_DIR", "TRACKER_STATE",
    "TRAIN_STATE", "TRAINING_LOG", "VARIABLES", "RunPaths", "baseline_name", "baseline_rel", "checkpoint_rel",
    "chunk_rel", "epoch_of", "expected_files", "interactions_rel", "null_baseline_name", "table_rel", "what",
]
