"""The driver side of a graph: :class:`RunStore` commits each node's outputs into the run directory (checked,
atomically, recorded in the manifest last) and knows which nodes are finished; :class:`GraphReport` says what ran
(the protocol: :mod:`genphase.pipeline.graph`)."""

from __future__ import annotations

import hashlib
import os
import shutil
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Callable, Mapping, Sequence

from .._atomic import atomic_write
from ..errors import CorruptFileError, InputError
from .graph import STAGING, Node, NodeFailedError, Output
from .integrity import check_file, record_file, recorded, remove_orphans, sha256_file
from .worker import FileInfo, NodeResult, _node_slug

__all__ = ["GraphReport", "RunStore"]


@dataclass(frozen=True)
class GraphReport:
    """What one invocation did, each in graph order: nodes run (``ran``), not run because they are
    finished or nothing unfinished needs them (``skipped``), failed (id -> message), not started
    because a dependency failed or the run stopped after a failure (``blocked``); return values and
    wall seconds of the nodes it ran; the total wall time.

    >>> GraphReport(ran=("a",), values={"a": 1}).ok
    True
    """

    ran: tuple[str, ...] = ()
    skipped: tuple[str, ...] = ()
    failed: Mapping[str, str] = field(default_factory=dict)
    blocked: tuple[str, ...] = ()
    values: Mapping[str, Any] = field(default_factory=dict)
    seconds: Mapping[str, float] = field(default_factory=dict)
    wall_s: float = 0.0

    @property
    def ok(self) -> bool:
        return not self.failed and not self.blocked


def _default_log(msg: str) -> None:
    pass


class RunStore:
    """The driver's side of one run directory: which outputs are finished, and committing new ones.

    Records live in ``manifest["files"]`` (the format of :mod:`genphase.pipeline.integrity`), and the
    manifest is saved to ``manifest_path`` (default ``root/manifest.json``) after each commit. Pass
    the dict a run already holds as ``manifest`` to share it (the driver changes it in one thread).
    ``on_commit(node, result)`` runs after a node's files are in place and before they are recorded,
    so whatever it adds to the manifest is saved in the same write.

    >>> import tempfile
    >>> store = RunStore(tempfile.mkdtemp())
    >>> def f(ctx):
    ...     pass
    >>> store.finished(Node("x", f, outputs=("x.txt",)))
    False
    """

    def __init__(self, root: str | os.PathLike, *, manifest: dict | None = None, manifest_path: str | os.PathLike | None = None,
                 on_commit: Callable[[Node, NodeResult], None] | None = None, log: Callable[[str], None] = _default_log):
        from .._readers import read_json

        self.root = Path(root)
        self.manifest_path = Path(manifest_path) if manifest_path is not None else self.root / "manifest.json"
        if manifest is None:
            manifest = read_json(self.manifest_path) if self.manifest_path.exists() else {}
            if not isinstance(manifest, dict):
                raise CorruptFileError(f"{str(self.manifest_path)!r} is not a manifest (a JSON mapping); move it away", self.manifest_path)
        manifest.setdefault("files", {})
        self.manifest = manifest
        self.on_commit = on_commit
        self.log = log

    # -- state -------------------------------------------------------------------------------
    def save(self) -> None:
        from ..rundir.files import write_json

        write_json(self.manifest_path, self.manifest)

    def finished_outputs(self, node: Node) -> set[str]:
        """The outputs of ``node`` that are recorded and intact (a changed file is a
        :class:`~genphase.errors.CorruptFileError`); an unrecorded leftover is removed."""
        done = set()
        for out in node.outputs:
            p = self.root / out.path
            if recorded(self.manifest, self.root, p):
                check_file(self.manifest, self.root, p, out.what)
                done.add(out.path)
            elif out.path in self.manifest.get("pruned", ()):  # deleted on purpose once the run no longer needed it
                done.add(out.path)
            elif p.exists():
                self.log(f"  {out.path} has no record in {self.manifest_path.name} (a write cut short by a kill): recomputing it")
                p.unlink()
        return done

    def finished(self, node: Node) -> bool:
        """True when every output of ``node`` is finished (see :meth:`finished_outputs`); never for a
        node without outputs."""
        return bool(node.outputs) and len(self.finished_outputs(node)) == len(node.outputs)

    def input_path(self, path: str, node: Node | None = None) -> Path:
        """``root/path``, which must be a finished file (recorded and intact)."""
        p = self.root / path
        if not recorded(self.manifest, self.root, p):
            who = f"node {node.id!r}" if node is not None else "a node"
            raise InputError(f"{who} reads {path!r}, which is not a finished file of {str(self.root)!r} and no node of the "
                             "graph writes it; finish (and record) it before running the graph, or add the node that makes it")
        check_file(self.manifest, self.root, p)
        return p

    def read_bytes(self, path: str, node: Node | None = None) -> bytes:
        """Bytes of the finished file ``path`` (checked first), for object transfer."""
        return self.input_path(path, node).read_bytes()

    # -- staging ------------------------------------------------------------------------------
    @property
    def staging(self) -> Path:
        return self.root / STAGING

    def _drop_attempts(self) -> None:
        if not self.staging.is_dir():
            return
        for d in self.staging.glob("*/attempt-*"):
            shutil.rmtree(d, ignore_errors=True)
        for d in [*self.staging.glob("*/scratch"), *self.staging.iterdir()]:  # empty scratch, then empty node dirs
            if d.is_dir() and not any(d.iterdir()):
                d.rmdir()
        if not any(self.staging.iterdir()):
            self.staging.rmdir()

    def begin(self) -> None:
        """Before a graph runs: the directory exists; attempts and temporary files of killed writes are gone
        (node scratch directories stay: an unfinished node resumes from them)."""
        self.root.mkdir(parents=True, exist_ok=True)
        self._drop_attempts()
        remove_orphans(self.root)

    def end(self) -> None:
        """After a graph ran: attempt directories are gone."""
        self._drop_attempts()

    # -- commit -------------------------------------------------------------------------------
    def commit(self, node: Node, result: NodeResult, blobs: Sequence[bytes] | None = None) -> None:
        """Put the outputs in ``result`` in place (atomically; checked against the worker's sizes and
        hashes), call ``on_commit``, record them, save the manifest (last), drop the node's staging
        directory. Outputs missing from ``result`` must be finished already (earlier or early commits)."""
        produced = [o for o in node.outputs if o.path in result.files]
        unknown = set(result.files) - {o.path for o in node.outputs}
        lacking = [o.path for o in node.outputs if o.path not in result.files and not recorded(self.manifest, self.root, self.root / o.path)]
        if unknown or lacking:
            raise NodeFailedError(f"node {node.id!r} reported outputs {sorted(result.files)}; unknown {sorted(unknown)}, "
                                  f"missing {lacking}")
        if blobs is not None and len(blobs) != len(produced):
            raise NodeFailedError(f"node {node.id!r}: {len(blobs)} output blobs for {len(produced)} outputs")
        for i, out in enumerate(produced):
            self._place(node, out, result.files[out.path], None if blobs is None else blobs[i])
        if self.on_commit is not None:
            self.on_commit(node, result)
        for out in produced:
            record_file(self.manifest, self.root, self.root / out.path, out.what)
        self.save()
        shutil.rmtree(self.staging / _node_slug(node.id), ignore_errors=True)

    def commit_output(self, node: Node, path: str, staged: Path) -> None:
        """Commit one output of a running node at once (rename into place, record, save the manifest)."""
        out = next(o for o in node.outputs if o.path == path)
        self._place(node, out, FileInfo(staged.stat().st_size, sha256_file(staged), str(staged)), None)
        record_file(self.manifest, self.root, self.root / path, out.what)
        self.save()

    def _place(self, node: Node, out: Output, info: FileInfo, data: bytes | None) -> None:
        target = self.root / out.path
        if data is not None:
            if len(data) != info.size or hashlib.sha256(data).hexdigest() != info.sha256:
                raise NodeFailedError(f"node {node.id!r}: the bytes of {out.path!r} that reached the driver differ "
                                      "from what the worker wrote; run again")
            atomic_write(target, lambda fh: fh.write(data))
            return
        staged = Path(info.staged or "")
        if not staged.is_file() or staged.stat().st_size != info.size or sha256_file(staged) != info.sha256:
            raise NodeFailedError(
                f"node {node.id!r}: its staged output {str(staged)!r} is missing or differs from what the worker "
                f"wrote (size/SHA-256); on a shared path every machine must see the same {str(self.root)!r}; run again")
        target.parent.mkdir(parents=True, exist_ok=True)
        os.replace(staged, target)
