"""A small task graph whose nodes write files of a run directory, and the driver's side of committing them.

A :class:`Node` is one unit of work: a stable ``id``, the ids it depends on, a picklable top-level
function with its arguments, a resource request (:class:`Resources`), the run-directory files it
reads (``inputs``) and the files it finishes (``outputs``). The function is called as
``fn(ctx, *args, **kwargs)`` with a :class:`NodeContext` that says where to read each input and
where to write each output; its return value (picklable, small) comes back to the driver.

Finished means committed by the driver: a node's outputs are written into the run directory
atomically (temporary name, fsync, rename) and then recorded in the store's manifest (path, what
it is, size, SHA-256; :mod:`genphase.pipeline.integrity`), the manifest last. A node is finished
when every output has a record and matches it; such a node is skipped when the graph runs again
(resume). A file without a record was cut off by a kill between its rename and the manifest
update: it is removed and its node runs again. A worker never writes a finished path itself: it
writes into a private attempt directory (or memory), so a dead or retried attempt leaves nothing
that could be read as finished. Nodes without outputs are never finished (they run every time).
Outputs are finished one by one: a node may commit an output before it returns (``ctx.commit``;
the local executor commits it at once, so a long training keeps each checkpoint), and a node run
again is told which of its outputs are finished already (``ctx.is_finished``) and need not write
them again.

An unfinished node runs only when something still needs it: it is a sink (nothing depends on it),
or an unfinished node that runs depends on it. So intermediate files may be deleted once the
files made from them are finished.

Executors (:mod:`genphase.pipeline.executors`) run a graph: ``LocalExecutor`` in this process,
``RayExecutor`` on a Ray cluster. Both call :func:`execute_node` on the worker side and
:meth:`RunStore.commit` on the driver, so a graph gives the same files on either.

>>> import tempfile
>>> from genphase.pipeline.executors import LocalExecutor
>>> def square(ctx, x):
...     ctx.output("square.txt").write_text(str(x * x))
...     return x * x
>>> def plus_one(ctx):
...     y = int(ctx.input("square.txt").read_text()) + 1
...     ctx.output("result.txt").write_text(str(y))
...     return y
>>> g = Graph()
>>> _ = g.add(Node("square", square, args=(7,), outputs=("square.txt",)))
>>> _ = g.add(Node("plus_one", plus_one, deps=("square",), inputs=("square.txt",), outputs=("result.txt",)))
>>> store = RunStore(tempfile.mkdtemp())
>>> LocalExecutor().run(g, store).values
{'square': 49, 'plus_one': 50}
>>> (store.root / "result.txt").read_text()
'50'
>>> LocalExecutor().run(g, store).skipped  # resume: both are finished
('square', 'plus_one')
"""

from __future__ import annotations

import hashlib
import math
import os
import re
import shutil
import tempfile
import time
import uuid
from contextlib import contextmanager
from dataclasses import dataclass, field
from pathlib import Path, PurePosixPath
from typing import Any, Callable, Iterable, Iterator, Mapping, Sequence

from .._atomic import atomic_write
from ..errors import CorruptFileError, GenphaseError, InputError
from .integrity import check_file, record_file, recorded, remove_orphans, sha256_file

__all__ = [
    "Resources",
    "Output",
    "Node",
    "Graph",
    "NodeContext",
    "FileInfo",
    "NodeResult",
    "GraphReport",
    "RunStore",
    "NodeFailedError",
    "execute_node",
    "STAGING",
]

#: Directory (inside a run directory) of the workers' attempt directories and node scratch space.
STAGING = ".staging"

#: How a worker hands its outputs to the driver: ``"shared"`` (files in the run directory's staging
#: area, which the worker can reach) or ``"object"`` (bytes returned to the driver).
TRANSFERS = ("shared", "object")


class NodeFailedError(GenphaseError, RuntimeError):
    """A node failed without an error of its own: its worker died too often, or it broke its contract
    (an undeclared or missing output). The message names the node and the fix.

    >>> def forgetful(ctx):  # declares an output but never writes it
    ...     return 1
    >>> execute_node(Node("forgetful", forgetful, outputs=("a.txt",)), "object", "unused")  # doctest: +ELLIPSIS
    Traceback (most recent call last):
    ...
    genphase.pipeline.graph.NodeFailedError: node 'forgetful' returned without writing its output 'a.txt'; ...
    """


@dataclass(frozen=True)
class Resources:
    """What one node asks of a worker: ``cpus`` (may be fractional) and ``gpus``.

    >>> Resources(cpus=2).gpus
    0.0
    >>> Resources(gpus=1).cpus
    1.0
    """

    cpus: float = 1.0
    gpus: float = 0.0

    def __post_init__(self) -> None:
        for name in ("cpus", "gpus"):
            v = getattr(self, name)
            if isinstance(v, bool) or not isinstance(v, (int, float)) or not math.isfinite(v) or v < 0:
                raise InputError(f"Resources.{name} must be a finite number >= 0, got {v!r}")
            object.__setattr__(self, name, float(v))


def _check_rel(path: Any, what: str) -> str:
    """A run-directory path: relative, POSIX, no ``..``, no hidden component (reserved for temporary files)."""
    if not isinstance(path, str) or not path:
        raise InputError(f"{what}: a path must be a non-empty string relative to the run directory, got {path!r}")
    p = PurePosixPath(path)
    if p.is_absolute() or "\\" in path or any(part in ("..", ".") or part.startswith(".") for part in p.parts) \
            or p.as_posix() != path:
        raise InputError(
            f"{what}: {path!r} must be a normalised relative path inside the run directory (like 'interactions/model/"
            "epoch_0004.npz'): no leading '/', no '..' or '.', no component starting with '.' (reserved for temporary files)")
    return path


@dataclass(frozen=True)
class Output:
    """One file a node finishes: ``path`` relative to the run directory and ``what`` it is (recorded in
    the manifest and checked on resume, e.g. ``{"kind": "checkpoint", "model": "model", "epoch": 4}``).

    >>> Output("checkpoints/model/epoch_0004.pt", {"kind": "checkpoint"}).path
    'checkpoints/model/epoch_0004.pt'
    """

    path: str
    what: Mapping[str, Any] = field(default_factory=dict)

    def __post_init__(self) -> None:
        _check_rel(self.path, "Output.path")
        if not isinstance(self.what, Mapping):
            raise InputError(f"Output.what of {self.path!r} must be a mapping (kind, model, epoch...), got {self.what!r}")
        object.__setattr__(self, "what", dict(self.what))


def _is_top_level(fn: Any) -> bool:
    qual = getattr(fn, "__qualname__", "")
    return callable(fn) and bool(qual) and "<" not in qual and getattr(fn, "__module__", None) is not None


@dataclass(frozen=True)
class Node:
    """One unit of work of a :class:`Graph`.

    Args:
        id: stable, unique name (e.g. ``"extract/model/epoch_0004"``); the same work keeps the same id
            across invocations, which is what resume relies on.
        fn: picklable top-level function called as ``fn(ctx, *args, **kwargs)`` with a
            :class:`NodeContext`; it writes each output to ``ctx.output(path)`` and may return a small
            picklable value.
        args, kwargs: its arguments (picklable).
        deps: ids of the nodes it needs to be finished first (added to the graph before it).
        inputs: run-directory files it reads: outputs of its ``deps``, or files finished before the
            graph runs.
        outputs: files it finishes (:class:`Output` or plain paths).
        resources: what a worker must grant it.
        store: name of the run directory its files belong to, when one graph spans several (a study).

    >>> def hello(ctx):
    ...     ctx.output("hello.txt").write_text("hi")
    >>> Node("hello", hello, outputs=("hello.txt",)).outputs[0].path
    'hello.txt'
    """

    id: str
    fn: Callable[..., Any]
    args: tuple = ()
    kwargs: Mapping[str, Any] = field(default_factory=dict)
    deps: tuple[str, ...] = ()
    inputs: tuple[str, ...] = ()
    outputs: tuple[Output, ...] = ()
    resources: Resources = field(default_factory=Resources)
    store: str = ""

    def __post_init__(self) -> None:
        if not isinstance(self.id, str) or not self.id.strip():
            raise InputError(f"Node.id must be a non-empty string, got {self.id!r}")
        if not _is_top_level(self.fn):
            raise InputError(
                f"node {self.id!r}: fn must be a top-level function (picklable, so that a worker can import it), "
                f"got {self.fn!r}; define it at module level instead of as a lambda or a nested function")
        object.__setattr__(self, "args", tuple(self.args))
        object.__setattr__(self, "kwargs", dict(self.kwargs))
        for name in ("deps", "inputs"):
            val = getattr(self, name)
            if isinstance(val, str):
                raise InputError(f"node {self.id!r}: {name} must be a sequence of strings, got the string {val!r}; "
                                 f"write {name}=({val!r},)")
            object.__setattr__(self, name, tuple(val))
        outs = self.outputs
        if isinstance(outs, (str, Output)):
            outs = (outs,)
        outs = tuple(o if isinstance(o, Output) else Output(o) for o in outs)
        object.__setattr__(self, "outputs", outs)
        for rel in self.inputs:
            _check_rel(rel, f"node {self.id!r} inputs")
        paths = [o.path for o in outs]
        if len(set(paths)) != len(paths):
            raise InputError(f"node {self.id!r} lists an output twice: {paths}")
        if set(paths) & set(self.inputs):
            raise InputError(f"node {self.id!r} reads and writes {sorted(set(paths) & set(self.inputs))}; "
                             "a node must write new files")
        if len(set(self.deps)) != len(self.deps) or self.id in self.deps:
            raise InputError(f"node {self.id!r}: deps {list(self.deps)} repeat an id or name the node itself")
        if not isinstance(self.resources, Resources):
            raise InputError(f"node {self.id!r}: resources must be a Resources(cpus=..., gpus=...), got {self.resources!r}")
        if not isinstance(self.store, str):
            raise InputError(f"node {self.id!r}: store must be a string (a run directory's name), got {self.store!r}")


class Graph:
    """Nodes in the order they were added; a node's deps must be added before it (so no cycle can form).

    >>> def f(ctx):
    ...     pass
    >>> g = Graph([Node("a", f), Node("b", f, deps=("a",))])
    >>> [n.id for n in g], g.dependents("a")
    (['a', 'b'], ('b',))
    """

    def __init__(self, nodes: Iterable[Node] = ()):
        self._nodes: dict[str, Node] = {}
        self._dependents: dict[str, list[str]] = {}
        self._producers: dict[tuple[str, str], str] = {}
        for n in nodes:
            self.add(n)

    def add(self, node: Node) -> Node:
        """Add ``node`` (its deps first); return it."""
        if not isinstance(node, Node):
            raise InputError(f"Graph.add takes a Node, got {type(node).__name__}")
        if node.id in self._nodes:
            raise InputError(f"node id {node.id!r} is already in the graph; node ids must be unique")
        missing = [d for d in node.deps if d not in self._nodes]
        if missing:
            raise InputError(f"node {node.id!r} depends on {missing}, which are not in the graph yet; add them first")
        for out in node.outputs:
            other = self._producers.get((node.store, out.path))
            if other is not None:
                raise InputError(f"nodes {other!r} and {node.id!r} both write {out.path!r}; each file has one producer")
        for rel in node.inputs:
            prod = self._producers.get((node.store, rel))
            if prod is not None and prod not in node.deps:
                raise InputError(f"node {node.id!r} reads {rel!r}, which node {prod!r} writes; add {prod!r} to its deps")
        self._nodes[node.id] = node
        self._dependents[node.id] = []
        for d in node.deps:
            self._dependents[d].append(node.id)
        for out in node.outputs:
            self._producers[(node.store, out.path)] = node.id
        return node

    def __iter__(self) -> Iterator[Node]:
        return iter(self._nodes.values())

    def __len__(self) -> int:
        return len(self._nodes)

    def __contains__(self, node_id: object) -> bool:
        return node_id in self._nodes

    def __getitem__(self, node_id: str) -> Node:
        try:
            return self._nodes[node_id]
        except KeyError:
            raise InputError(f"no node {node_id!r} in the graph") from None

    def dependents(self, node_id: str) -> tuple[str, ...]:
        """Ids of the nodes that depend directly on ``node_id``."""
        return tuple(self._dependents[self[node_id].id])

    def producer(self, path: str, store: str = "") -> Node | None:
        """The node that writes ``path`` of run directory ``store`` (None: a file made outside the graph)."""
        pid = self._producers.get((store, path))
        return None if pid is None else self._nodes[pid]

    def needed(self, finished: set[str]) -> list[Node]:
        """Unfinished nodes that must run, in graph order: sinks, and deps of nodes that run.

        >>> def f(ctx):
        ...     pass
        >>> g = Graph([Node("a", f), Node("b", f, deps=("a",)), Node("c", f)])
        >>> [n.id for n in g.needed({"b"})]  # b is finished, so nothing needs a
        ['c']
        """
        need: set[str] = set()
        for nid in reversed(list(self._nodes)):
            if nid in finished:
                continue
            deps_of = self._dependents[nid]
            if not deps_of or any(d in need for d in deps_of):
                need.add(nid)
        return [n for n in self._nodes.values() if n.id in need]


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
