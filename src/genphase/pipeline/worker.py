"""The worker side of a node: its context (where to read inputs and write outputs, its scratch space) and
:func:`execute_node`, which runs it in a private attempt directory (or memory) so that a dead or retried attempt
leaves nothing that could be read as finished (the protocol: :mod:`genphase.pipeline.graph`)."""

from __future__ import annotations

import hashlib
import re
import shutil
import tempfile
import time
import uuid
from contextlib import contextmanager
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Callable, Iterable, Iterator, Mapping

from ..errors import InputError
from .graph import STAGING, TRANSFERS, Node, NodeFailedError, Resources
from .integrity import sha256_file

__all__ = ["NodeContext", "FileInfo", "NodeResult", "execute_node"]


def _node_slug(node_id: str) -> str:
    """A file-name-safe, collision-free name for ``node_id`` (its staging directory)."""
    safe = re.sub(r"[^A-Za-z0-9_.-]+", "_", node_id).strip("._")[:80] or "node"
    return f"{safe}-{hashlib.sha1(node_id.encode()).hexdigest()[:8]}"


@dataclass
class NodeContext:
    """What a node's function gets: where to read its inputs and write its outputs.

    ``cpus``/``gpus``: what the node asked for (a function that wants a fixed torch thread count
    uses ``int(ctx.cpus)``, so that every executor computes alike). ``scratch``: a directory for
    state kept across attempts of this node (e.g. a training state to resume from): in the run
    directory's staging area with shared transfer (removed when the node is committed), on the
    worker's machine with object transfer (removed when the node succeeds).

    >>> import tempfile
    >>> from pathlib import Path
    >>> d = Path(tempfile.mkdtemp())
    >>> ctx = NodeContext("n", Resources(), d, d / "out", d / "scratch", inputs=(), outputs=("a/b.txt",))
    >>> ctx.output("a/b.txt").parent.is_dir()
    True
    """

    node_id: str
    resources: Resources
    _in_dir: Path
    _out_dir: Path
    _scratch: Path
    inputs: tuple[str, ...] = ()
    outputs: tuple[str, ...] = ()
    _finished: set[str] = field(default_factory=set)
    _on_output: Callable[[str, Path], None] | None = None
    transfer: str = "shared"

    @property
    def run_dir(self) -> Path | None:
        """The run directory, when this worker reaches it (shared transfer; None with object transfer): only
        for files a stage keeps unrecorded beside its outputs, such as a training state to resume from."""
        return self._in_dir if self.transfer == "shared" else None

    @property
    def scratch(self) -> Path:
        """This node's scratch directory (created on first use)."""
        self._scratch.mkdir(parents=True, exist_ok=True)
        return self._scratch

    @property
    def cpus(self) -> float:
        return self.resources.cpus

    @property
    def gpus(self) -> float:
        return self.resources.gpus

    def input(self, path: str) -> Path:
        """Local path of the declared input ``path`` (a finished file)."""
        if path not in self.inputs:
            raise InputError(f"node {self.node_id!r} reads {path!r}, which is not among its inputs {list(self.inputs)}; "
                             "declare it in Node(inputs=...)")
        return self._in_dir / path

    def output(self, path: str) -> Path:
        """Where to write the declared output ``path`` (its folder exists); the driver commits it."""
        self._declared(path)
        p = self._out_dir / path
        p.parent.mkdir(parents=True, exist_ok=True)
        return p

    def _declared(self, path: str) -> None:
        if path not in self.outputs:
            raise InputError(f"node {self.node_id!r} writes {path!r}, which is not among its outputs {list(self.outputs)}; "
                             "declare it in Node(outputs=...)")

    def is_finished(self, path: str) -> bool:
        """Whether output ``path`` is finished already (an earlier attempt committed it): it need not be
        written again, and anything written there is ignored."""
        self._declared(path)
        return path in self._finished

    def commit(self, path: str) -> None:
        """Output ``path`` is complete (written to :meth:`output`): where the executor can (the local
        one), it is committed now, so that a kill later in the node keeps it (e.g. each checkpoint of
        a long training); elsewhere it is committed with the others when the node returns."""
        self._declared(path)
        if path in self._finished:
            return
        p = self._out_dir / path
        if not p.is_file():
            raise InputError(f"node {self.node_id!r} commits {path!r} before writing it to ctx.output({path!r})")
        if self._on_output is not None:
            self._on_output(path, p)
            self._finished.add(path)


@dataclass(frozen=True)
class FileInfo:
    """An output as the worker wrote it: size, SHA-256 and, with shared transfer, where it was staged.

    >>> FileInfo(3, "ba7816bf8f01cfea414140de5dae2223b00361a396177a9cb410ff61f20015ad").staged is None
    True
    """

    size: int
    sha256: str
    staged: str | None = None


@dataclass(frozen=True)
class NodeResult:
    """What a worker sends back (beside the output bytes with object transfer): the function's return
    value, its wall time and each output's :class:`FileInfo`.

    >>> def hello(ctx):
    ...     ctx.output("hello.txt").write_text("hi")
    ...     return 42
    >>> result, blobs = execute_node(Node("hello", hello, outputs=("hello.txt",)), "object", "unused")
    >>> result.value, result.files["hello.txt"].size, blobs
    (42, 2, [b'hi'])
    """

    value: Any
    seconds: float
    files: Mapping[str, FileInfo]


def _scratch_for(transfer: str, root: str, slug: str) -> Path:
    if transfer == "shared":
        return Path(root) / STAGING / slug / "scratch"
    run_id = hashlib.sha1(str(root).encode()).hexdigest()[:12]
    return Path(tempfile.gettempdir()) / "genphase-scratch" / run_id / slug


@contextmanager
def _scratch_lock(scratch: Path) -> Iterator[None]:
    """Hold this machine's exclusive lock on a node's scratch directory while an attempt runs.

    An attempt that outlives its driver (a worker of a killed run, still training) would otherwise
    share the scratch directory with the resumed run's attempt, and whichever finishes first removes
    the other's files. The second attempt waits for the first; it then finds the scratch space it
    left (none, if it finished). The lock file lives outside the run directory, in the temporary
    directory; it serialises attempts on one machine only (where ``fcntl`` exists).

    >>> import tempfile
    >>> with _scratch_lock(Path(tempfile.mkdtemp()) / "scratch"):
    ...     pass
    """
    try:
        import fcntl
    except ImportError:  # not POSIX: no lock
        yield
        return
    locks = Path(tempfile.gettempdir()) / "genphase-locks"
    locks.mkdir(parents=True, exist_ok=True)
    with open(locks / f"{hashlib.sha1(str(scratch.resolve()).encode()).hexdigest()[:16]}.lock", "a") as fh:
        fcntl.flock(fh, fcntl.LOCK_EX)
        try:
            yield
        finally:
            fcntl.flock(fh, fcntl.LOCK_UN)


def execute_node(node: Node, transfer: str, root: str, inputs: Mapping[str, bytes] | None = None, *,
                 finished: Iterable[str] = (), on_output: Callable[[str, Path], None] | None = None
                 ) -> tuple[NodeResult, list[bytes] | None]:
    """Run ``node`` on a worker; return its :class:`NodeResult` and (object transfer) its outputs' bytes.

    ``transfer="shared"``: the worker reaches the run directory ``root``; inputs are read there and
    outputs written into a fresh attempt directory ``root/.staging/<node>/attempt-<uuid>/``, which
    the driver checks and renames into place. ``transfer="object"``: ``inputs`` maps each input
    path to its bytes; everything happens in a temporary directory and the outputs' bytes are
    returned. Either way a killed attempt leaves no finished file.

    ``finished``: outputs committed by an earlier attempt (not collected again). ``on_output(path,
    file)``: commits one output at once when the node calls ``ctx.commit(path)`` (the local
    executor passes it; the file is then not collected either). The result lists the other outputs,
    in ``node.outputs`` order, and the bytes come in that order.

    >>> def shout(ctx):
    ...     text = ctx.input("in.txt").read_text()
    ...     ctx.output("out.txt").write_text(text.upper())
    >>> node = Node("shout", shout, inputs=("in.txt",), outputs=("out.txt",))
    >>> result, blobs = execute_node(node, "object", "unused", {"in.txt": b"hi"})  # inputs and outputs as bytes
    >>> blobs, result.files["out.txt"].staged
    ([b'HI'], None)
    """
    if transfer not in TRANSFERS:
        raise InputError(f"transfer must be one of {TRANSFERS}, got {transfer!r}")
    slug = _node_slug(node.id)
    scratch = _scratch_for(transfer, root, slug)
    tmp: Path | None = None
    if transfer == "shared":
        in_dir = Path(root)
        out_dir = Path(root) / STAGING / slug / f"attempt-{uuid.uuid4().hex}"
    else:
        tmp = Path(tempfile.mkdtemp(prefix="genphase-node-"))
        in_dir, out_dir = tmp / "in", tmp / "out"
        given = dict(inputs or {})
        absent = [rel for rel in node.inputs if rel not in given]
        if absent:
            raise NodeFailedError(f"node {node.id!r}: the driver sent no bytes for its inputs {absent}")
        for rel in node.inputs:
            p = in_dir / rel
            p.parent.mkdir(parents=True, exist_ok=True)
            p.write_bytes(given[rel])
    out_dir.mkdir(parents=True, exist_ok=True)
    ctx = NodeContext(node.id, node.resources, in_dir, out_dir, scratch, inputs=node.inputs,
                      outputs=tuple(o.path for o in node.outputs), _finished=set(finished), _on_output=on_output,
                      transfer=transfer)
    try:
        with _scratch_lock(scratch):
            return _run_node(node, ctx, out_dir, scratch, transfer)
    finally:
        if tmp is not None:
            shutil.rmtree(tmp, ignore_errors=True)


def _run_node(node: Node, ctx: NodeContext, out_dir: Path, scratch: Path, transfer: str
              ) -> tuple[NodeResult, list[bytes] | None]:
    """The body of :func:`execute_node` once the context is set up (under the scratch lock)."""
    t0 = time.perf_counter()
    value = node.fn(ctx, *node.args, **node.kwargs)
    seconds = time.perf_counter() - t0
    files: dict[str, FileInfo] = {}
    blobs: list[bytes] | None = None if transfer == "shared" else []
    for out in node.outputs:
        if out.path in ctx._finished:
            continue
        p = out_dir / out.path
        if not p.is_file():
            raise NodeFailedError(f"node {node.id!r} returned without writing its output {out.path!r}; "
                                  f"its function must write it to ctx.output({out.path!r})")
        if blobs is None:
            files[out.path] = FileInfo(p.stat().st_size, sha256_file(p), str(p))
        else:
            data = p.read_bytes()
            blobs.append(data)
            files[out.path] = FileInfo(len(data), hashlib.sha256(data).hexdigest())
    if transfer == "object":
        shutil.rmtree(scratch, ignore_errors=True)
    return NodeResult(value, seconds, files), blobs
