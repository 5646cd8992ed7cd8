"""Integrity of a run directory: what each finished file is, checks on resume, ``genphase run --verify``.

Every file a run finishes is recorded in ``manifest.json`` under ``files`` (path relative to the
run directory) with what it is (``kind``, ``model``, ``epoch``), the run's config hash, its size and
its SHA-256. A resumed run checks a file against its record before using it; a mismatch is a
:class:`~genphase.errors.CorruptFileError` naming the file. Interactions files also carry their
``model``/``epoch``/``config_hash`` in their own metadata (``metadata["run_file"]``), and the
training state ``checkpoints/model/state.pt`` carries them inside (it is rewritten every epoch, so
it is not recorded in the manifest).

A file that exists but has no record was cut off by a kill between its rename and the manifest
update: the run removes and recomputes it. Orphan temporary files of killed atomic writes
(``.NAME.XXXX.tmp``, ``.tokenizer.XXXX/``) are removed when a run starts.
"""

from __future__ import annotations

import os
import shutil
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from .._readers import read_json, run_file_fix
from ..errors import CorruptFileError
from ..rundir.records import (  # the records themselves belong to the run directory (the report reads them too)
    INTEGRITY_VERSION,
    _rel,
    check_file,
    record_file,
    recorded,
    sha256_file,
)

__all__ = [
    "INTEGRITY_VERSION",
    "sha256_file",
    "record_file",
    "recorded",
    "check_file",
    "check_run_file_meta",
    "remove_orphans",
    "Finding",
    "verify_run",
    "summarize",
    "expected_files",
]

def check_run_file_meta(path: Path, meta: dict[str, Any] | None, expected: dict[str, Any], root: Path) -> None:
    """Check the ``run_file`` entry an interactions file carries against what it should be.

    >>> import pathlib
    >>> root = pathlib.Path("runs/x")
    >>> meta = {"run_file": {"model": "model", "epoch": 4, "config_hash": "c0ffee"}}
    >>> check_run_file_meta(root / "interactions/model/epoch_0004.npz", meta,
    ...                     {"model": "model", "epoch": 4, "config_hash": "c0ffee"}, root)  # passes silently
    >>> check_run_file_meta(root / "interactions/model/epoch_0008.npz", meta,
    ...                     {"model": "model", "epoch": 8, "config_hash": "c0ffee"}, root)  # doctest: +ELLIPSIS
    Traceback (most recent call last):
    ...
    genphase.errors.CorruptFileError: interactions/model/epoch_0008.npz in 'runs/x' holds model epoch 4 of config c0ffee, expected model epoch 8 of config c0ffee (a file copied from elsewhere?); ...
    """
    rf = (meta or {}).get("run_file")
    if rf is None:
        return  # written before integrity records (older run): the manifest hash is the check
    wrong = {k: (rf.get(k), v) for k, v in expected.items() if rf.get(k) != v}
    if wrong:
        raise CorruptFileError(
            f"{_rel(root, path)} in {str(root)!r} holds {rf.get('model')} epoch {rf.get('epoch')} of config "
            f"{rf.get('config_hash')}, expected {expected.get('model')} epoch {expected.get('epoch')} of config "
            f"{expected.get('config_hash')} (a file copied from elsewhere?); {run_file_fix(root)}", path)


def _orphans(root: Path) -> list[Path]:
    found = [p for p in root.rglob(".*.tmp") if p.is_file()]
    ck = root / "checkpoints"
    if ck.is_dir():
        found += [p for p in ck.glob(".tokenizer.*") if p.is_dir()]
    return sorted(found)


def remove_orphans(root: str | os.PathLike) -> list[Path]:
    """Remove temporary files and folders left by killed atomic writes under ``root``; return them.

    >>> import tempfile, pathlib
    >>> root = pathlib.Path(tempfile.mkdtemp())
    >>> _ = (root / ".h_bar.parquet.x1y2.tmp").write_bytes(b"half")  # left by a killed atomic write
    >>> _ = (root / "h_bar.parquet").write_bytes(b"done")
    >>> [p.name for p in remove_orphans(root)], sorted(p.name for p in root.iterdir())
    (['.h_bar.parquet.x1y2.tmp'], ['h_bar.parquet'])
    """
    gone = _orphans(Path(root))
    for p in gone:
        if p.is_dir():
            shutil.rmtree(p, ignore_errors=True)
        else:
            p.unlink(missing_ok=True)
    return gone


@dataclass(frozen=True)
class Finding:
    """One verdict of :func:`verify_run`: ``status`` is ok, missing, pending, corrupt, foreign or orphan.

    >>> f = Finding("explained/samples.npz", "pending", "not computed yet")
    >>> f.status, summarize([f, Finding("config.yaml", "ok"), Finding("manifest.json", "ok")])
    ('pending', '2 ok, 1 pending')
    """

    path: str
    status: str
    detail: str = ""


def expected_files(cfg) -> list[tuple[str, dict[str, Any], str]]:
    """``(relative path, what, stage)`` of every file a finished run of ``cfg`` has (tables: see the records).

    >>> from genphase.pipeline.config import RunConfig
    >>> from genphase.pipeline.presets import preset_dict
    >>> files = expected_files(RunConfig.from_dict(preset_dict("digits", quick=True)))
    >>> files[0]
    ('checkpoints/model/epoch_0000.pt', {'kind': 'checkpoint', 'model': 'model', 'epoch': 0}, 'train_model')
    >>> sorted({stage for _, _, stage in files})
    ['baselines', 'extract', 'train_model']
    """
    from ..rundir.layout import expected_files as layout_files

    return layout_files(cfg.checkpoint_epochs(), cfg.baselines.k, null=cfg.baselines.null)


#: Files of a run directory that are rewritten freely and therefore not recorded.
_UNRECORDED = ("manifest.json", "config.yaml", "report.html", "checkpoints/model/state.pt", ".lock")


def verify_run(root: str | os.PathLike) -> list[Finding]:
    """Check a whole run directory; one :class:`Finding` per file that is not ``ok`` plus a summary.

    Reports what is missing (a finished stage lacks a file), pending (a stage not run yet), corrupt
    (unreadable, or its bytes differ from the manifest record), foreign (another run's or another
    epoch's file, or a file that is not part of this run) and orphan temporary files.

    >>> import tempfile
    >>> verify_run(tempfile.mkdtemp())[0].status
    'missing'
    """
    from ..io import _load_interactions
    from .config import RunConfig, config_hash

    root = Path(root)
    fix = run_file_fix(root)
    if not root.is_dir():
        return [Finding(str(root), "missing", "not a directory")]
    try:
        man = read_json(root / "manifest.json", fix="this is not a usable run directory; rerun `genphase run` into a new --out")
    except CorruptFileError as exc:
        status = "missing" if not (root / "manifest.json").exists() else "corrupt"
        return [Finding("manifest.json", status, str(exc))]
    if not isinstance(man, dict) or "config_hash" not in man:
        return [Finding("manifest.json", "corrupt", "not a genphase manifest (no config_hash)")]
    findings: list[Finding] = []
    from .._readers import read_yaml

    try:
        cfg = RunConfig.from_dict(read_yaml(root / "config.yaml", fix=fix) or {})
    except Exception as exc:  # noqa: BLE001 - unreadable or invalid config: nothing else can be checked
        return [Finding("config.yaml", "corrupt", " ".join(str(exc).split()))]
    if config_hash(cfg) != man["config_hash"]:
        findings.append(Finding("config.yaml", "foreign", f"its hash {config_hash(cfg)} differs from the manifest's {man['config_hash']}"))
    stages = man.get("stages", {})
    files = man.get("files")
    legacy = files is None
    files = files or {}
    expected = expected_files(cfg)
    names = {rel for rel, _, _ in expected}
    for rel, what, stage in expected:
        p = root / rel
        done = stages.get(stage) == "done" if stage != "baselines" else stages.get("extract") == "done"
        if not p.exists():
            if done or rel in files:
                findings.append(Finding(rel, "missing", f"stage {stage!r} is finished but the file is absent; {fix}"))
            else:
                findings.append(Finding(rel, "pending", "not computed yet; `genphase run` resumes"))
            continue
        if rel not in files:
            if legacy:
                findings.append(Finding(rel, "ok", "no record (run made before integrity records)"))
            else:
                findings.append(Finding(rel, "corrupt", "exists but has no record in manifest.json (a write cut short by a kill); "
                                                      "the next `genphase run` removes and recomputes it"))
            continue
        try:
            check_file(man, root, p, what)
            if rel.startswith("interactions/"):
                res = _load_interactions(p, fix)
                check_run_file_meta(p, res.metadata, {**{k: what.get(k) for k in ("model", "epoch")}, "config_hash": man["config_hash"]}, root)
        except CorruptFileError as exc:
            msg = str(exc)
            foreign = "holds" in msg or "recorded for config" in msg or "manifest record" in msg
            findings.append(Finding(rel, "foreign" if foreign else "corrupt", msg))
            continue
        findings.append(Finding(rel, "ok"))
    for rel in sorted(files):
        if rel not in names and not (root / rel).is_file():
            findings.append(Finding(rel, "missing", f"recorded in manifest.json but absent; {fix}"))
        elif rel not in names:
            try:
                check_file(man, root, root / rel)
                findings.append(Finding(rel, "ok"))
            except CorruptFileError as exc:
                findings.append(Finding(rel, "corrupt", str(exc)))
    for p in sorted(root.rglob("*")):
        rel = _rel(root, p)
        if p.is_file() and rel not in names and rel not in files and rel not in _UNRECORDED \
                and not rel.startswith(("figures/", "checkpoints/tokenizer/", "checkpoints/.tokenizer.")) \
                and not p.name.endswith(".tmp") and not rel.startswith(".staging/") \
                and not (legacy and rel.startswith("metrics/")):
            findings.append(Finding(rel, "foreign", "not a file of this run (no record in manifest.json)"))
    findings.extend(Finding(_rel(root, p), "orphan", "temporary file of a killed write; removed by the next `genphase run`")
                    for p in _orphans(root))
    return findings


def summarize(findings: list[Finding]) -> str:
    """One line counting the findings by status (``"12 ok, 1 corrupt"``).

    >>> summarize([Finding("a.npz", "ok"), Finding("b.npz", "corrupt", "truncated"), Finding("c.npz", "ok")])
    '2 ok, 1 corrupt'
    """
    counts: dict[str, int] = {}
    for f in findings:
        counts[f.status] = counts.get(f.status, 0) + 1
    return ", ".join(f"{n} {s}" for s, n in sorted(counts.items(), key=lambda kv: kv[0] != "ok"))
