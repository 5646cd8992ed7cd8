"""A run directory's records as ``genphase run`` keeps them: claiming the directory (manifest and config), the
stages marked finished, and every finished file recorded and checked (:mod:`genphase.pipeline.integrity`)."""

from __future__ import annotations

import os
import platform
import sys
from pathlib import Path
from typing import Any, Callable

import numpy as np
import torch

from .. import __version__
from .._readers import run_file_fix
from ..errors import CorruptFileError, GenphaseError, RunDirectoryError
from ..rundir import LOCK_FILE, RunPaths, read_json, write_json
from .config import RunConfig, config_hash
from .hooks import _pause_point
from .integrity import INTEGRITY_VERSION, check_file, record_file, recorded, remove_orphans

__all__: list[str] = []

Log = Callable[[str], None]


def _check_out(root: Path) -> None:
    """``--out`` must be (or become) a directory this process can write."""
    if root.exists() and not root.is_dir():
        raise RunDirectoryError(f"--out {str(root)!r} is a file, not a directory; choose another --out")
    probe = root
    while not probe.exists():
        probe = probe.parent
    if not probe.is_dir():
        raise RunDirectoryError(f"--out {str(root)!r} lies under the file {str(probe)!r}; choose another --out")
    if not os.access(probe, os.W_OK | os.X_OK):
        raise RunDirectoryError(
            f"--out {str(root)!r}: cannot write to {str(probe)!r} (permission denied); choose another --out "
            "or make it writable")


def _prepare_dir(paths: RunPaths, cfg: RunConfig, log: Log = lambda m: None) -> dict:
    h = config_hash(cfg)
    _check_out(paths.root)
    if paths.manifest.exists():
        man = read_json(paths.manifest, fix=(
            "the run's records are lost: move the directory away (or delete it) and rerun into a fresh --out; "
            f"`genphase run --verify {paths.root}` shows what it holds"))
        if not isinstance(man, dict) or not isinstance(man.get("stages", {}), dict):
            raise CorruptFileError(
                f"{str(paths.manifest)!r} is not a genphase manifest (a mapping with config_hash and stages); move the "
                "directory away (or delete it) and rerun into a fresh --out", paths.manifest)
        man.setdefault("stages", {})
        man.setdefault("timings", {})
        gone = remove_orphans(paths.root)
        if gone:
            log(f"removed {len(gone)} temporary file(s) left by an interrupted run: "
                + ", ".join(str(p.relative_to(paths.root)) for p in gone[:5]) + (" ..." if len(gone) > 5 else ""))
        if not paths.config.exists() and man.get("config_hash") == h:  # killed between the two writes
            from ..rundir.files import atomic_write

            atomic_write(paths.config, lambda fh: fh.write(cfg.to_yaml()), mode="w")
        fresh = not man.get("stages") and not (paths.root / "checkpoints").exists()
        if man.get("config_hash") != h and fresh:
            # an earlier invocation failed before any work (e.g. a bad config): take the directory over
            paths.manifest.unlink()
            paths.config.unlink(missing_ok=True)
            return _prepare_dir(paths, cfg, log)
        if man.get("config_hash") != h:
            keys = _changed_keys(paths, cfg)
            if "checkpoints.refine" in keys and cfg.checkpoints.refine:
                raise RunDirectoryError(
                    f"checkpoints.refine=true needs the model saved at every epoch, but the run in {str(paths.root)!r} "
                    "was made with checkpoints.refine=false and saved only its schedule's epochs; run the refinement "
                    "into another --out, or set checkpoints.refine=false to resume this run")
            raise RunDirectoryError(
                f"run directory {str(paths.root)!r} holds a run of another configuration "
                f"(hash {man.get('config_hash')} vs {h}"
                + (f"; differing keys: {', '.join(keys[:6])}" if keys else "") + "); choose another --out or delete it"
            )
        _check_recorded_config(paths, cfg, h)
        if man.get("genphase_version") != __version__:
            raise RunDirectoryError(
                f"run directory {str(paths.root)!r} was made by genphase {man.get('genphase_version')}, "
                f"this is {__version__}; choose another --out or delete it"
            )
        return man
    if paths.root.exists() and any(not q.name.startswith(".manifest.json.") and q.name != LOCK_FILE
                                   for q in paths.root.iterdir()):
        raise RunDirectoryError(
            f"{str(paths.root)!r} exists and is not a genphase run directory (no manifest.json); choose another --out"
        )
    paths.root.mkdir(parents=True, exist_ok=True)
    remove_orphans(paths.root)
    from ..rundir.files import atomic_write

    man = {
        "genphase_version": __version__,
        "config_hash": h,
        "versions": {"python": sys.version.split()[0], "torch": torch.__version__, "numpy": np.__version__, "platform": platform.platform()},
        "seeds": {
            "data": cfg.data.seed,
            "training": cfg.training.seed,
            "baselines": [cfg.baselines.seed + k for k in range(cfg.baselines.k)],
            "explain": cfg.explain.seed,
            "variables": cfg.variables.seed,
        },
        "stages": {},
        "timings": {},
        "integrity": INTEGRITY_VERSION,
        "files": {},
    }
    write_json(paths.manifest, man)  # first: a directory with a manifest is ours, whatever else is missing
    _pause_point("prepare")
    atomic_write(paths.config, lambda fh: fh.write(cfg.to_yaml()), mode="w")
    return man


def _mark(paths: RunPaths, man: dict, stage: str, seconds: float) -> None:
    man["stages"][stage] = "done"
    man["timings"][stage] = round(seconds, 3)
    write_json(paths.manifest, man)


class _Files:
    """The manifest's file records, as the run uses them: is a file finished (and intact), record one."""

    def __init__(self, paths: RunPaths, man: dict, log: Log, cfg: RunConfig):
        self.paths, self.man, self.log = paths, man, log
        self.legacy = "files" not in man  # made before integrity records: adopt what exists
        man.setdefault("files", {})
        self.fix = run_file_fix(paths.root)
        if self.legacy:
            from .integrity import expected_files

            adopted = [(paths.root / rel, what) for rel, what, _ in expected_files(cfg) if (paths.root / rel).is_file()]
            for p, what in adopted:
                self.done(p, what, save=False)
            man["integrity"] = INTEGRITY_VERSION
            write_json(paths.manifest, man)
            if adopted:
                log(f"recorded {len(adopted)} existing files in manifest.json (run made before integrity records)")

    def finished(self, path: Path, what: dict[str, Any]) -> bool:
        """True when ``path`` is a finished file of this run (checked against its record); an unrecorded
        leftover of a killed write is removed (False: recompute it)."""
        root = self.paths.root
        if recorded(self.man, root, path):
            check_file(self.man, root, path, what)
            return True
        if not path.exists():
            return False
        if self.legacy:
            self.done(path, what)
            return True
        self.log(f"  {path.relative_to(root)} has no record in manifest.json (a write cut short by a kill): recomputing it")
        path.unlink()
        return False

    def done(self, path: Path, what: dict[str, Any], *, save: bool = True) -> None:
        record_file(self.man, self.paths.root, path, what)
        if save:
            write_json(self.paths.manifest, self.man)

    def need(self, path: Path, what: dict[str, Any]) -> Path:
        """``path``, which must be a finished file of this run (else a CorruptFileError naming it)."""
        if not self.finished(path, what):
            raise CorruptFileError(f"{path.relative_to(self.paths.root)} in {str(self.paths.root)!r} is missing although "
                                   f"its stage is finished; {self.fix}", path)
        return path

    def forget(self, prefix: str) -> None:
        self.man["files"] = {k: v for k, v in self.man["files"].items() if not k.startswith(prefix)}


def _check_recorded_config(paths: RunPaths, cfg: RunConfig, h: str) -> None:
    """Refuse a ``config.yaml`` edited after the run started: the run resumes with the configuration its
    manifest records, so a file that says otherwise would mislabel every table (and the report)."""
    from .._readers import read_yaml
    from .config import RunConfig

    if not paths.config.exists():
        return
    fix = (f"revert it (the run's configuration is that of the command that made it; `genphase run --verify "
           f"{paths.root}`), or run the edited configuration into another --out")
    try:
        on_disk = RunConfig.from_dict(read_yaml(paths.config, fix=fix) or {})
    except GenphaseError as exc:
        raise RunDirectoryError(f"{str(paths.config)!r} no longer holds this run's configuration ({exc}); {fix}") from exc
    if config_hash(on_disk) == h:
        return
    ours, theirs = _flat(cfg.to_dict()), _flat(on_disk.to_dict())
    keys = [k for k in sorted(set(ours) | set(theirs)) if ours.get(k) != theirs.get(k) and not k.startswith(
        ("device", "executor", "execution."))]
    changed = ", ".join(f"{k} ({theirs.get(k)!r} in the file, {ours.get(k)!r} in the run)" for k in keys[:4])
    raise RunDirectoryError(f"{str(paths.config)!r} was edited after the run started: {changed or 'its content differs'}; "
                            f"{fix}")


def _changed_keys(paths: RunPaths, cfg: RunConfig) -> list[str]:
    """The config keys (dotted) in which ``cfg`` differs from the run directory's ``config.yaml`` (empty when
    that file is missing or unreadable)."""
    from .._readers import read_yaml

    try:
        on_disk = RunConfig.from_dict(read_yaml(paths.config) or {})
    except (GenphaseError, OSError):
        return []
    ours, theirs = _flat(cfg.to_dict()), _flat(on_disk.to_dict())
    return [k for k in sorted(set(ours) | set(theirs)) if ours.get(k) != theirs.get(k)
            and not k.startswith(("device", "executor", "execution."))]


def _flat(d: dict, prefix: str = "") -> dict:
    out = {}
    for k, v in d.items():
        if isinstance(v, dict) and k != "options":
            out.update(_flat(v, f"{prefix}{k}."))
        else:
            out[f"{prefix}{k}"] = v
    return out
