"""SST-2 (GLUE binary sentiment) from local files: GLUE TSVs or Hugging Face arrow / parquet files."""

from __future__ import annotations

import os
from pathlib import Path

import numpy as np

from ..errors import DatasetNotFoundError, InputError
from .base import ArrayDataset

__all__ = ["load_sst2"]


def _read_tsv(path: Path) -> tuple[list[str], np.ndarray]:
    lines = path.read_text(encoding="utf-8").splitlines()
    if not lines:
        raise InputError(f"{path} is empty; expected a header 'sentence<TAB>label' and one sentence per line")
    header = lines[0].split("\t")
    if header != ["sentence", "label"]:
        raise InputError(f"{path}: expected the header 'sentence<TAB>label' of GLUE SST-2, got {lines[0]!r}")
    texts: list[str] = []
    labels: list[int] = []
    for num, line in enumerate(lines[1:], start=2):
        if not line.strip():
            continue
        sentence, sep, label = line.rpartition("\t")
        if not sep or label.strip() not in ("0", "1"):
            raise InputError(f"{path}, line {num}: expected 'sentence<TAB>0|1', got {line[:80]!r}")
        texts.append(sentence.strip())
        labels.append(int(label))
    return texts, np.asarray(labels, dtype=np.int64)


def _read_table(paths: list[Path]) -> tuple[list[str], np.ndarray]:
    import pyarrow as pa
    import pyarrow.parquet as pq

    tables = []
    for path in paths:
        if path.suffix == ".parquet":
            tables.append(pq.read_table(path, columns=["sentence", "label"]))
            continue
        try:  # datasets writes arrow *streams*; accept the file format too
            with pa.memory_map(str(path)) as source:
                tables.append(pa.ipc.open_stream(source).read_all())
        except pa.ArrowInvalid:
            with pa.memory_map(str(path)) as source:
                tables.append(pa.ipc.open_file(source).read_all())
    table = pa.concat_tables([t.select(["sentence", "label"]) for t in tables]) if tables else None
    if table is None:
        raise InputError("no table files")
    texts = [str(s).strip() for s in table.column("sentence").to_pylist()]
    labels = np.asarray(table.column("label").to_pylist(), dtype=np.int64)
    if labels.size and (labels.min() < 0 or labels.max() > 1):
        raise InputError(f"{paths[0]}: SST-2 labels must be 0/1 (unlabelled test split?), got {np.unique(labels)}")
    return texts, labels


def _table_files(root: Path, split: str) -> list[Path]:
    found: list[Path] = []
    for ext in ("arrow", "parquet"):
        found += [p for p in root.rglob(f"*.{ext}") if split in p.name or p.parent.name == split]
        if found:
            break
    return sorted(found)


def load_sst2(root: str | os.PathLike[str] | None = None) -> ArrayDataset:
    """SST-2 sentences (lists of str), labels negative (0) / positive (1); the dev / validation split is the test split.

    ``root`` (``None``: ``$GENPHASE_DATA_DIR/sst2``) is either

    * GLUE's ``SST-2`` directory with ``train.tsv`` and ``dev.tsv`` (header ``sentence\\tlabel``),
      directly or in ``SST-2/``; or
    * a Hugging Face datasets directory (``save_to_disk`` output or a cache directory such as
      ``~/.cache/huggingface/datasets/glue/sst2/...``) with ``*train*.arrow`` and
      ``*validation*.arrow`` files, or parquet files named likewise; read with pyarrow
      (the ``datasets`` package is not needed). Columns ``sentence`` and ``label``.

    >>> import tempfile, pathlib
    >>> root = pathlib.Path(tempfile.mkdtemp())
    >>> _ = (root / "train.tsv").write_text("sentence\\tlabel\\na gem of a film\\t1\\ndull and long\\t0\\n")
    >>> _ = (root / "dev.tsv").write_text("sentence\\tlabel\\nwonderful\\t1\\n")
    >>> ds = load_sst2(root)
    >>> ds.summary(), ds.x_test, ds.y_train.tolist()
    ('sst2 (text): 2 train / 1 test, 2 classes, input_shape=None', ['wonderful'], [1, 0])
    """
    from .paths import default_root

    base = default_root("sst2") if root is None else Path(root).expanduser()
    for d in (base, base / "SST-2"):
        if (d / "train.tsv").is_file() and (d / "dev.tsv").is_file():
            x_train, y_train = _read_tsv(d / "train.tsv")
            x_test, y_test = _read_tsv(d / "dev.tsv")
            source = str(d)
            break
    else:
        train_files = _table_files(base, "train") if base.is_dir() else []
        test_files = _table_files(base, "validation") if base.is_dir() else []
        if not train_files or not test_files:
            raise DatasetNotFoundError(
                f"SST-2 not found under {str(base)!r}: expected train.tsv and dev.tsv (GLUE's SST-2 "
                "folder, from https://dl.fbaipublicfiles.com/glue/data/SST-2.zip) or Hugging Face "
                "*train*.arrow / *validation*.arrow files (datasets' cache or save_to_disk output). "
                "Copy one of them there on a connected machine, or pass root=..."
            )
        x_train, y_train = _read_table(train_files)
        x_test, y_test = _read_table(test_files)
        source = str(base)
    return ArrayDataset(
        x_train=x_train,
        y_train=y_train,
        x_test=x_test,
        y_test=y_test,
        num_classes=2,
        modality="text",
        class_names=["negative", "positive"],
        input_shape=None,
        name="sst2",
        meta={"source": source},
    )
