"""A tiny finished run directory (digits, 2 epochs, 1 baseline, n = 3), made once per test module and
copied per test, for the safety and integrity tests."""

from __future__ import annotations

import shutil
from pathlib import Path

TINY = ["training.epochs=2", "baselines.k=1", "baselines.epochs=1", "checkpoints.schedule=every", "checkpoints.every=1",
        "explain.samples=8", "variables.n=3", "data.train_size=60"]


def tiny_config(extra: list[str] | None = None):
    from genphase.pipeline.config import load_config

    return load_config("digits", TINY + list(extra or []))


def make_tiny_run(root: Path, *, report: bool = False) -> Path:
    from genphase.pipeline.run import run

    return run(tiny_config(), root, log=lambda m: None, report=report)


def copy_run(src: Path, dst: Path) -> Path:
    shutil.copytree(src, dst)
    return dst


def evil_payload(marker: Path):
    """An object whose unpickling writes ``marker`` (what a malicious checkpoint would do)."""

    class Evil:
        def __reduce__(self):
            return (exec, (f"open({str(marker)!r}, 'w').write('pwned')",))

    return Evil()


_CACHE: dict[str, Path] = {}


def tiny_run_dir(tmp_path_factory) -> Path:
    """The finished tiny run, built once per test session (copy it before changing anything)."""
    if "run" not in _CACHE or not _CACHE["run"].exists():
        _CACHE["run"] = make_tiny_run(tmp_path_factory.mktemp("tiny") / "run")
    return _CACHE["run"]


def rewrite_record(run_dir: Path, rel: str) -> None:
    """Make manifest.json agree with the current bytes of ``rel`` (an attacker who edits the manifest too)."""
    import json

    from genphase.pipeline.integrity import sha256_file

    man_path = run_dir / "manifest.json"
    man = json.loads(man_path.read_text())
    rec = man["files"][rel]
    rec["sha256"] = sha256_file(run_dir / rel)
    rec["bytes"] = (run_dir / rel).stat().st_size
    man_path.write_text(json.dumps(man))


def drop(run_dir: Path, rel: str, *, stage: str | None = None) -> None:
    """Delete ``rel`` and its record (and un-finish ``stage``), as if that work had not been done yet."""
    import json

    man_path = run_dir / "manifest.json"
    man = json.loads(man_path.read_text())
    man["files"].pop(rel, None)
    if stage:
        man["stages"].pop(stage, None)
    man_path.write_text(json.dumps(man))
    (run_dir / rel).unlink(missing_ok=True)
