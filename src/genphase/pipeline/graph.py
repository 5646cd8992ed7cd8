"""A small task graph whose nodes write files of a run directory: the protocol, and the graph itself.

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
``RayExecutor`` on a Ray cluster. Both call :func:`~genphase.pipeline.worker.execute_node` on the
worker side (:mod:`genphase.pipeline.worker`) and :meth:`~genphase.pipeline.store.RunStore.commit` on
the driver (:mod:`genphase.pipeline.store`), so a graph gives the same files on either. This module
holds the graph itself: nodes, their outputs and resources, and which nodes are needed.

>>> import tempfile
>>> from genphase.pipeline.executors import LocalExecutor
>>> from genphase.pipeline.store import RunStore
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

import math
from dataclasses import dataclass, field
from pathlib import PurePosixPath
from typing import Any, Callable, Iterable, Iterator, Mapping

from ..errors import GenphaseError, InputError

__all__ = ["Resources", "Output", "Node", "Graph", "NodeFailedError", "STAGING", "TRANSFERS"]


#: Directory (inside a run directory) of the workers' attempt directories and node scratch space.
STAGING = ".staging"


#: How a worker hands its outputs to the driver: ``"shared"`` (files in the run directory's staging
#: area, which the worker can reach) or ``"object"`` (bytes returned to the driver).
TRANSFERS = ("shared", "object")


class NodeFailedError(GenphaseError, RuntimeError):
    """A node failed without an error of its own: its worker died too often, or it broke its contract
    (an undeclared or missing output). The message names the node and the fix.

    >>> from genphase.pipeline.worker import execute_node
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

    def descendants(self, node_id: str) -> set[str]:
        """Ids of every node that depends on ``node_id``, directly or through others (not ``node_id`` itself).

        >>> g = Graph([Node("a", _is_top_level), Node("b", _is_top_level, deps=("a",)),
        ...            Node("c", _is_top_level, deps=("b",))])
        >>> sorted(g.descendants("a")), g.descendants("c")
        (['b', 'c'], set())
        """
        out: set[str] = set()
        todo = list(self.dependents(node_id))
        while todo:
            d = todo.pop()
            if d not in out:
                out.add(d)
                todo.extend(self.dependents(d))
        return out

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


def __getattr__(name: str):
    """A node's worker side and the driver's store moved to :mod:`.worker` and :mod:`.store` (deprecated here)."""
    from .._deprecated import moved

    return moved(__name__, {'NodeContext': 'genphase.pipeline.worker:NodeContext', 'FileInfo': 'genphase.pipeline.worker:FileInfo', 'NodeResult': 'genphase.pipeline.worker:NodeResult', 'execute_node': 'genphase.pipeline.worker:execute_node', 'GraphReport': 'genphase.pipeline.store:GraphReport', 'RunStore': 'genphase.pipeline.store:RunStore'})(name)
