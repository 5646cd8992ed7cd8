"""Executors: run a :class:`~genphase.pipeline.graph.Graph` here (``local``) or on a Ray cluster (``ray``).

Every executor shares one driver loop (:meth:`Executor.run`): it skips finished nodes, hands each
node to a worker as soon as its dependencies are committed, commits each result on the driver
(:meth:`~genphase.pipeline.store.RunStore.commit`: atomic writes, records, manifest last) and
draws one progress bar. Executors differ only in where a node runs and how its files travel:

- :class:`LocalExecutor`: in this process, one node at a time, in graph order; or, with ``workers > 1``,
  in that many worker processes on this machine, side by side.
- ``RayExecutor`` (:mod:`genphase.pipeline.executors.ray`, extra ``genphase[ray]``): Ray tasks with
  resource requests; outputs travel through Ray's object store, or a shared path.

Nothing here imports ray; :func:`get_executor` imports the Ray module only when asked for it.
"""

from __future__ import annotations

import heapq
from abc import ABC, abstractmethod
from dataclasses import dataclass
from pathlib import Path
from typing import Any, Callable, ClassVar, Mapping, Sequence

from ...errors import ConfigError, InputError, require
from ..graph import Graph, Node
from ..store import GraphReport, RunStore
from ..worker import NodeResult, execute_node
from .progress import GraphProgress

__all__ = ["Executor", "LocalExecutor", "get_executor", "EXECUTORS", "GraphProgress", "Outcome"]

#: Names accepted by :func:`get_executor` (``--executor`` / config key ``executor``).
EXECUTORS = ("local", "ray")


@dataclass
class Outcome:
    """One node back from a worker: its result and (object transfer) output bytes and their handles, or
    the error it raised.

    >>> ok, failed = Outcome(result=NodeResult(7, 0.1, {})), Outcome(error=RuntimeError("worker died"))
    >>> ok.result.value, ok.error, str(failed.error)
    (7, None, 'worker died')
    """

    result: NodeResult | None = None
    blobs: Sequence[bytes] | None = None
    handles: Sequence[Any] | None = None
    error: BaseException | None = None


class Executor(ABC):
    """Runs a graph; subclasses say how one node is submitted and how finished nodes come back.

    ``transfer`` is ``"shared"`` (workers read and write the run directory) or ``"object"`` (inputs
    and outputs travel as bytes through handles, e.g. Ray object references). Use as a context
    manager, or call :meth:`close`, to release what the executor holds (a Ray instance it started).

    >>> with get_executor("local") as ex:
    ...     ex.name
    'local'
    """

    name: ClassVar[str] = ""
    transfer: str = "shared"
    #: Most nodes handed out at once (None: all that are ready; the workers' resources decide).
    max_in_flight: int | None = None

    # -- what subclasses provide -------------------------------------------------------------
    @abstractmethod
    def _submit(self, node: Node, root: str, inputs: Mapping[str, Any], finished: frozenset[str],
                commit_output: Callable[[str, Path], None]) -> Any:
        """Start ``node``; return a hashable handle. ``inputs``: input path -> handle (object transfer
        only); ``finished``: its outputs committed already; ``commit_output(path, file)`` commits one
        output at once (for executors whose nodes can reach the driver's store)."""

    @abstractmethod
    def _wait(self, handles: list[Any]) -> list[tuple[Any, Outcome]]:
        """Block until at least one of ``handles`` is back; return those that are, with their outcome."""

    def _put(self, data: bytes) -> Any:
        """A handle for bytes read on the driver (object transfer)."""
        raise NotImplementedError

    def _cancel(self, handles: list[Any]) -> None:
        """Stop what is still running (the driver is interrupted)."""

    def _check_stores(self, stores: Mapping[str, RunStore]) -> None:
        """Refuse stores this executor cannot reach (e.g. outside a shared path)."""

    def _check_nodes(self, nodes: Sequence[Node]) -> None:
        """Refuse nodes no worker can ever run (e.g. a GPU request on a cluster without GPUs)."""

    def close(self) -> None:
        """Release what the executor holds."""

    def __enter__(self) -> "Executor":
        return self

    def __exit__(self, *exc: Any) -> None:
        self.close()

    # -- the driver loop ---------------------------------------------------------------------
    def run(self, graph: Graph, store: RunStore | Mapping[str, RunStore], *, keep_going: bool = False,
            progress: bool | GraphProgress | None = None, log: Callable[[str], None] | None = None) -> GraphReport:
        """Run the unfinished nodes of ``graph`` that are needed; commit each on the driver.

        ``store``: the run directory (:class:`~genphase.pipeline.store.RunStore`), or a mapping
        from ``Node.store`` names to run directories when the graph spans several. A node starts
        as soon as its dependencies are committed. When a node fails, nothing new starts (with
        ``keep_going``: nothing that depends on it) while running nodes finish and are committed;
        then the first failure (in graph order) is raised as it was raised by the node, with a note
        listing the others and the :class:`~genphase.pipeline.store.GraphReport` as
        ``exc.graph_report``. Running the same graph again resumes. ``progress``: None draws a bar
        when stderr is a terminal; ``log`` receives one line per failure.
        """
        stores = _stores_for(graph, store)
        self._check_stores(stores)
        t0 = _now()
        for s in stores.values():
            s.begin()
        done_outputs = {n.id: frozenset(stores[n.store].finished_outputs(n)) for n in graph}
        finished = {n.id for n in graph if n.outputs and len(done_outputs[n.id]) == len(n.outputs)}
        needed = graph.needed(finished)
        need_ids = {n.id for n in needed}
        for n in needed:  # inputs made outside this invocation must be finished files now
            for rel in n.inputs:
                prod = graph.producer(rel, n.store)
                if prod is None or prod.id not in need_ids:
                    stores[n.store].input_path(rel, n)
        self._check_nodes(needed)
        skipped = tuple(n.id for n in graph if n.id not in need_ids)
        readers: dict[tuple[str, str], int] = {}  # object transfer: handles are dropped after their last reader
        for n in needed:
            for rel in n.inputs:
                readers[(n.store, rel)] = readers.get((n.store, rel), 0) + 1
        order = {n.id: i for i, n in enumerate(graph)}
        waiting = {n.id: sum(d in need_ids for d in n.deps) for n in needed}
        ready = [(order[nid], nid) for nid, w in waiting.items() if w == 0]
        heapq.heapify(ready)
        prog = progress if isinstance(progress, GraphProgress) else GraphProgress(
            len(needed), skipped=len(skipped), enabled=progress)
        in_flight: dict[Any, Node] = {}
        failures: dict[str, BaseException] = {}
        blocked: set[str] = set()
        ran: list[str] = []
        values: dict[str, Any] = {}
        seconds: dict[str, float] = {}
        handles: dict[tuple[str, str], Any] = {}
        stop = False
        try:
            while True:
                while ready and not stop and (self.max_in_flight is None or len(in_flight) < self.max_in_flight):
                    node = graph[heapq.heappop(ready)[1]]
                    inputs = {rel: self._input(handles, stores, node, rel) for rel in node.inputs} \
                        if self.transfer == "object" else {}
                    prog.started(node.id)
                    st = stores[node.store]
                    in_flight[self._submit(node, str(st.root), inputs, done_outputs[node.id],
                                           lambda path, file, st=st, node=node: st.commit_output(node, path, file))] = node
                    for rel in node.inputs:  # the submitted task holds its inputs now
                        readers[(node.store, rel)] -= 1
                        if not readers[(node.store, rel)]:
                            handles.pop((node.store, rel), None)
                if not in_flight:
                    break
                for h, out in self._wait(list(in_flight)):
                    node = in_flight.pop(h)
                    err = out.error
                    if err is None:
                        try:
                            stores[node.store].commit(node, out.result, out.blobs)
                        except Exception as exc:  # noqa: BLE001 - a failed commit is the node's failure
                            err = exc
                    if err is None:
                        ran.append(node.id)
                        values[node.id] = out.result.value
                        seconds[node.id] = out.result.seconds
                        for path, hd in zip(out.result.files, out.handles or ()):
                            if readers.get((node.store, path)):
                                handles[(node.store, path)] = hd
                        prog.finished(node.id)
                        for d in graph.dependents(node.id):
                            if d in waiting:
                                waiting[d] -= 1
                                if waiting[d] == 0 and d not in blocked:
                                    heapq.heappush(ready, (order[d], d))
                        continue
                    failures[node.id] = err
                    prog.failed(node.id)
                    if log is not None:
                        log(f"  node {node.id} failed: {type(err).__name__}: {_first_line(err)}")
                    below = graph.descendants(node.id) & need_ids - blocked
                    blocked |= below
                    prog.block(len(below))
                    if not keep_going:
                        stop = True
            if stop:
                rest = need_ids - set(ran) - set(failures) - blocked
                blocked |= rest
                prog.block(len(rest))
        except BaseException:
            self._cancel(list(in_flight))
            raise
        finally:
            prog.close()
            for s in stores.values():
                s.end()
        ran.sort(key=order.__getitem__)
        report = GraphReport(ran=tuple(ran), skipped=skipped, failed={k: f"{type(v).__name__}: {_first_line(v)}" for k, v in failures.items()},
                             blocked=tuple(n.id for n in graph if n.id in blocked),
                             values={k: values[k] for k in ran}, seconds={k: seconds[k] for k in ran},
                             wall_s=_now() - t0)
        if failures:
            first = min(failures, key=order.__getitem__)
            exc = failures[first]
            others = [k for k in failures if k != first]
            exc.add_note(
                f"genphase graph: node {first!r} failed"
                + (f"; {len(others)} other node(s) failed too: {', '.join(others[:5])}{' ...' if len(others) > 5 else ''}" if others else "")
                + f"; {len(report.blocked)} node(s) did not run; the {len(ran)} node(s) that finished are committed, "
                  "and running the same command again resumes from them")
            exc.graph_report = report  # type: ignore[attr-defined]
            raise exc
        return report

    def _input(self, handles: dict, stores: Mapping[str, RunStore], node: Node, rel: str) -> Any:
        key = (node.store, rel)
        if key not in handles:
            handles[key] = self._put(stores[node.store].read_bytes(rel, node))
        return handles[key]


def _now() -> float:
    import time

    return time.perf_counter()


def _first_line(exc: BaseException, limit: int = 300) -> str:
    text = " ".join(str(exc).split()) or type(exc).__name__
    return text if len(text) <= limit else text[: limit - 3] + "..."


def _stores_for(graph: Graph, store: RunStore | Mapping[str, RunStore]) -> dict[str, RunStore]:
    stores = {"": store} if isinstance(store, RunStore) else dict(store)
    for name, s in stores.items():
        if not isinstance(s, RunStore):
            raise InputError(f"store {name!r} must be a RunStore, got {type(s).__name__}")
    missing = sorted({n.store for n in graph} - set(stores))
    if missing:
        raise InputError(f"nodes of the graph belong to run directories {missing}, which have no store; "
                         f"pass a mapping with these names (have {sorted(stores)})")
    roots = [s.root.resolve() for s in stores.values()]
    if len(set(roots)) != len(roots):
        raise InputError("two stores share one run directory; give each run its own directory")
    return stores


class LocalExecutor(Executor):
    """Run nodes on this machine: in this process, one at a time, in graph order (``workers=1``, the default),
    or in ``workers`` worker processes side by side, each node as soon as its dependencies are committed
    (``execution.workers``; resource requests are not enforced). Either way every node computes with the
    thread count its stage is given, so the files are the same (docs/run-directory.md, "Determinism").

    >>> LocalExecutor().transfer, LocalExecutor(workers=2).max_in_flight
    ('shared', 2)
    """

    name = "local"
    transfer = "shared"

    def __init__(self, workers: int = 1) -> None:
        if isinstance(workers, bool) or not isinstance(workers, int) or workers < 1:
            raise ConfigError(f"config key 'execution.workers': must be an integer >= 1 (processes running stages side "
                              f"by side on this machine), got {workers!r}")
        self.workers = workers
        self.max_in_flight = workers
        self._done: dict[int, Outcome] = {}
        self._next = 0
        self._pool: Any = None

    @property
    def in_process(self) -> bool:
        """Whether nodes run in this process (so a node may print and commit outputs as it goes)."""
        return self.workers == 1

    def _submit(self, node: Node, root: str, inputs: Mapping[str, Any], finished: frozenset[str],
                commit_output: Callable[[str, Path], None]) -> Any:
        if not self.in_process:
            if self._pool is None:
                import multiprocessing
                from concurrent.futures import ProcessPoolExecutor

                # spawn: a fresh interpreter per worker (forking a process that holds torch's thread pools is unsafe)
                self._pool = ProcessPoolExecutor(self.workers, mp_context=multiprocessing.get_context("spawn"))
            return self._pool.submit(execute_node, node, "shared", root, finished=finished)
        self._next += 1
        try:
            result, _ = execute_node(node, "shared", root, finished=finished, on_output=commit_output)
            self._done[self._next] = Outcome(result=result)
        except Exception as exc:  # noqa: BLE001 - the node's failure, handled by the driver loop
            self._done[self._next] = Outcome(error=exc)
        return self._next

    def _wait(self, handles: list[Any]) -> list[tuple[Any, Outcome]]:
        if self.in_process:
            return [(h, self._done.pop(h)) for h in handles]
        from concurrent.futures import FIRST_COMPLETED, wait

        done, _ = wait(handles, return_when=FIRST_COMPLETED)
        out = []
        for fut in done:
            try:
                out.append((fut, Outcome(result=fut.result()[0])))
            except Exception as exc:  # noqa: BLE001 - the node's failure (or its worker's death), handled by the loop
                from concurrent.futures.process import BrokenProcessPool

                if isinstance(exc, BrokenProcessPool):
                    from ..graph import NodeFailedError

                    exc = NodeFailedError(
                        "a worker process of the local executor died (execution.workers > 1). Started from a script, "
                        "worker processes import that script again: put its work under `if __name__ == \"__main__\":`, "
                        "or set execution.workers=1 (stages in this process)")
                out.append((fut, Outcome(error=exc)))
        return out

    def _cancel(self, handles: list[Any]) -> None:
        for fut in handles:
            if not isinstance(fut, int):
                fut.cancel()

    def close(self) -> None:
        if self._pool is not None:
            self._pool.shutdown(wait=True, cancel_futures=True)
            self._pool = None


def get_executor(name: str = "local", address: str | None = None, **options: Any) -> Executor:
    """The executor called ``name`` (``"local"`` or ``"ray"``).

    ``address`` (Ray only; default the ``RAY_ADDRESS`` environment variable) joins an existing Ray
    cluster; without it a local Ray instance is started with this machine's CPUs. ``options`` go to
    ``RayExecutor`` (``shared_path``, ``max_retries``, ``num_cpus``...). ``"ray"`` without the
    extra raises :class:`~genphase.errors.MissingDependencyError` naming
    ``pip install 'genphase[ray]'``.

    >>> get_executor("local").name
    'local'
    """
    key = name.strip().lower() if isinstance(name, str) else name
    if key not in EXECUTORS:
        raise ConfigError(f"executor {name!r} is not known; choose one of {', '.join(EXECUTORS)} (--executor / config key 'executor')")
    if key == "local":
        if address is not None:
            raise ConfigError(f"--ray-address {address!r} applies to the Ray executor only; add --executor ray or drop the address")
        workers = options.pop("workers", 1)
        if options:
            raise ConfigError(f"the local executor takes only workers, got {sorted(options)}; they apply to --executor ray")
        return LocalExecutor(workers=workers)
    require("ray", "ray", "the Ray executor (--executor ray)")
    from .ray import RayExecutor

    return RayExecutor(address=address, **options)

