"""The Ray executor: each node of a graph becomes a Ray task with a resource request (extra ``genphase[ray]``).

The only module of genphase that imports ray. Where Ray runs:

- ``address`` (or the ``RAY_ADDRESS`` environment variable): join that cluster, e.g. the head
  started with ``ray start --head`` (``HOST:6379``) or a Ray Client address (``ray://HOST:10001``).
  An address where no Ray cluster answers fails within ``connect_timeout`` seconds with a
  :class:`~genphase.errors.ConfigError` naming it and the fix.
- no address: start a local Ray instance with this machine's CPUs (``num_cpus``) and stop it on
  :meth:`RayExecutor.close`; a Ray session this process already had is used and left running.

How files travel: by default through Ray's object store (a node's inputs are passed as object
references, its outputs come back as separate return objects, so a downstream task pulls only the
files it reads, from the node that made them; the driver writes each output into the run
directory). With ``shared_path``, a directory every machine mounts at the same path, workers read
the run directory and write their outputs into its staging area, and the driver checks (size,
SHA-256) and renames them into place.

Faults: a task whose worker dies is retried up to ``max_retries`` times (an exception the node
raises is not retried: it would be raised again); a dead attempt's partial files are never
committed.
"""

from __future__ import annotations

import logging
import os
import socket
from pathlib import Path
from typing import Any, Callable, Mapping, Sequence

import ray

from ...errors import ConfigError
from ..graph import Node, NodeFailedError
from ..store import RunStore
from ..worker import execute_node
from . import Executor, Outcome

__all__ = ["RayExecutor", "probe_address"]

_H2_PREFACE = b"PRI * HTTP/2.0\r\n\r\nSM\r\n\r\n" + b"\x00\x00\x00\x04\x00\x00\x00\x00\x00"  # + an empty SETTINGS frame


def _remote_execute(node: Node, transfer: str, root: str, finished: frozenset[str], names: list[str], *blobs: bytes) -> Any:
    result, out = execute_node(node, transfer, root, dict(zip(names, blobs)), finished=finished)
    return (result, *out) if out else result


_REMOTE = ray.remote(_remote_execute)


def probe_address(address: str, timeout: float = 5.0) -> str | None:
    """Why no Ray cluster answers at ``address`` (``HOST:PORT`` or ``ray://HOST:PORT``), or None when one does.

    Opens a TCP connection and checks that a gRPC (HTTP/2) server replies, as Ray's head does,
    all within ``timeout`` seconds.

    >>> probe_address("localhost:1", timeout=1.0)
    'connection refused: nothing listens on that port'
    """
    client = address.startswith("ray://")
    target = address[len("ray://"):] if client else address
    host, sep, port_s = target.rpartition(":")
    if not sep:
        host, port_s = target, "10001" if client else "6379"
    host = host.strip("[]")
    try:
        port = int(port_s)
    except ValueError:
        return f"its port {port_s!r} is not a number"
    if not host:
        return "it names no host"
    try:
        with socket.create_connection((host, port), timeout=timeout) as s:
            s.settimeout(timeout)
            s.sendall(_H2_PREFACE)
            head = b""
            while len(head) < 9:
                chunk = s.recv(9 - len(head))
                if not chunk:
                    break
                head += chunk
    except socket.gaierror:
        return f"the host name {host!r} does not resolve"
    except (socket.timeout, TimeoutError):
        return f"nothing answered within {timeout:g} s"
    except ConnectionRefusedError:
        return "connection refused: nothing listens on that port"
    except OSError as exc:
        return exc.strerror or str(exc) or type(exc).__name__
    if len(head) < 9 or head[3] != 0x4:  # the server's first frame must be SETTINGS
        return "something answers there, but it is not a Ray cluster (no gRPC reply)"
    return None


def _same_address(a: str, b: str) -> bool:
    def norm(x: str) -> tuple[str, str]:
        host, _, port = x.rpartition(":")
        try:
            host = socket.gethostbyname(host.strip("[]"))
        except OSError:
            pass
        return host, port

    return norm(a) == norm(b)


class RayExecutor(Executor):
    """Run each node as a Ray task (``num_gpus`` when it asks for GPUs, ``num_cpus`` always).

    Args:
        address: a Ray cluster to join (default ``RAY_ADDRESS``; none: start a local instance).
        shared_path: a directory every machine of the cluster mounts at this same path; when
            given, run directories must lie inside it and files travel through it instead of
            Ray's object store.
        max_retries: how often a task whose worker died is run again.
        num_cpus, num_gpus: of a local instance this executor starts (default: all CPUs this process
            may use; the GPUs Ray detects).
        connect_timeout: seconds to wait for the cluster at ``address`` to answer.
        log_to_driver: show the workers' output on this terminal.

    >>> RayExecutor(max_retries=-1)  # the arguments are checked before Ray starts
    Traceback (most recent call last):
    ...
    genphase.errors.ConfigError: max_retries must be an integer >= 0 (retries of a task whose worker died), got -1

    Running a graph (not run here: it starts a Ray instance, which takes seconds and many processes):

    >>> with RayExecutor(num_cpus=2) as ex:  # doctest: +SKIP
    ...     ex.run(graph, RunStore("runs/demo"))
    """

    name = "ray"

    def __init__(self, address: str | None = None, *, shared_path: str | os.PathLike | None = None, max_retries: int = 3,
                 num_cpus: int | None = None, num_gpus: int | None = None, connect_timeout: float = 5.0,
                 log_to_driver: bool = False):
        if isinstance(max_retries, bool) or not isinstance(max_retries, int) or max_retries < 0:
            raise ConfigError(f"max_retries must be an integer >= 0 (retries of a task whose worker died), got {max_retries!r}")
        if isinstance(connect_timeout, bool) or not isinstance(connect_timeout, (int, float)) or not connect_timeout > 0:
            raise ConfigError(f"connect_timeout must be a number of seconds > 0, got {connect_timeout!r}")
        for name, val in (("num_cpus", num_cpus), ("num_gpus", num_gpus)):
            if val is not None and (isinstance(val, bool) or not isinstance(val, int) or val < (1 if name == "num_cpus" else 0)):
                raise ConfigError(f"{name} must be a whole number ({'>= 1' if name == 'num_cpus' else '>= 0'}), got {val!r}")
        self.max_retries = max_retries
        self.shared_path: Path | None = None
        if shared_path is not None:
            sp = Path(shared_path).expanduser()
            if not sp.is_dir():
                raise ConfigError(f"shared path {str(shared_path)!r} is not a directory; give a directory that every machine "
                                  "of the cluster mounts at this same path (NFS, a cluster file system), or leave it out to "
                                  "send files through Ray's object store")
            self.shared_path = sp.resolve()
        self.transfer = "object" if self.shared_path is None else "shared"
        source = "--ray-address"
        if address is None and os.environ.get("RAY_ADDRESS", "").strip():
            address, source = os.environ["RAY_ADDRESS"].strip(), "RAY_ADDRESS"
        self.address = address
        self._connected = False  # we called ray.init (and so call ray.shutdown)
        self.started = False  # ... and it started a local instance
        self._blob_refs: dict[Any, tuple[str, list[Any]]] = {}
        self._connect(address, source, num_cpus, num_gpus, float(connect_timeout), log_to_driver)

    # -- connection ---------------------------------------------------------------------------
    def _connect(self, address: str | None, source: str, num_cpus: int | None, num_gpus: int | None, timeout: float,
                 log_to_driver: bool) -> None:
        fix = ("start one with `ray start --head` on the head machine and pass the address it prints (HOST:6379), "
               "check the host, port and firewall, or leave out --ray-address and RAY_ADDRESS to start a local Ray instance")
        if address is not None and address not in ("auto", "local"):
            why = probe_address(address, timeout)
            if why is not None:
                raise ConfigError(f"{source} {address!r}: no Ray cluster can be reached there ({why}); {fix}")
        if ray.is_initialized():
            if address in (None, "auto"):
                return  # this process's own Ray session: use it, leave it running
            current = ray.get_runtime_context().gcs_address
            if address != "local" and _same_address(address.removeprefix("ray://"), current):
                return
            raise ConfigError(f"{source} {address!r}: this process is already connected to the Ray cluster at {current!r}; "
                              "use that address, or run genphase in a fresh process")
        quiet: dict[str, Any] = {"log_to_driver": log_to_driver, "logging_level": logging.WARNING}
        if address in (None, "local"):
            if num_cpus is None:
                try:
                    num_cpus = len(os.sched_getaffinity(0))
                except (AttributeError, OSError):  # pragma: no cover - macOS / Windows
                    num_cpus = os.cpu_count() or 1
            ray.init(address="local", num_cpus=num_cpus, num_gpus=num_gpus, include_dashboard=False, **quiet)
            self._connected = self.started = True
            return
        try:
            ray.init(address=address, **quiet)
        except (ConnectionError, RuntimeError, ValueError, TimeoutError) as exc:
            raise ConfigError(f"{source} {address!r}: joining the Ray cluster failed ({type(exc).__name__}: "
                              f"{' '.join(str(exc).split())[:300]}); {fix}") from exc
        self._connected = True

    def close(self) -> None:
        """Disconnect; a local instance this executor started is stopped. Safe to call twice."""
        if self._connected:
            self._connected = False
            ray.shutdown()

    # -- the executor interface ------------------------------------------------------------------
    def _check_stores(self, stores: Mapping[str, RunStore]) -> None:
        if self.shared_path is None:
            return
        for s in stores.values():
            root = s.root.resolve()
            if root != self.shared_path and self.shared_path not in root.parents:
                raise ConfigError(f"run directory {str(s.root)!r} is not inside the shared path {str(self.shared_path)!r}; "
                                  "put the run directory (--out) on the shared path, or leave the shared path out")

    def _check_nodes(self, nodes: Sequence[Node]) -> None:
        alive = [n.get("Resources", {}) for n in ray.nodes() if n.get("Alive")]
        for key, what in (("CPU", "cpus"), ("GPU", "gpus")):
            most = max((float(r.get(key, 0.0)) for r in alive), default=0.0)
            greedy = [n for n in nodes if getattr(n.resources, what) > most]
            if greedy:
                n = greedy[0]
                raise ConfigError(
                    f"node {n.id!r} asks for {getattr(n.resources, what):g} {what} but no machine of the Ray cluster has more "
                    f"than {most:g} ({len(greedy)} node(s) alike); it would wait forever: "
                    + ("use device=cpu, or add machines with GPUs to the cluster (`ray start --address HEAD:6379` on each)"
                       if key == "GPU" else "ask for fewer CPUs per task (threads), or add larger machines to the cluster"))

    def _submit(self, node: Node, root: str, inputs: Mapping[str, Any], finished: frozenset[str],
                commit_output: Callable[[str, Path], None]) -> Any:
        names = list(inputs)
        k = len([o for o in node.outputs if o.path not in finished]) if self.transfer == "object" else 0
        opts: dict[str, Any] = {"num_cpus": node.resources.cpus, "max_retries": self.max_retries,
                                "retry_exceptions": False, "num_returns": 1 + k, "name": node.id}
        if node.resources.gpus > 0:
            opts["num_gpus"] = node.resources.gpus
        ret = _REMOTE.options(**opts).remote(node, self.transfer, root, finished, names, *(inputs[n] for n in names))
        meta, blobs = (ret, []) if k == 0 else (ret[0], list(ret[1:]))
        self._blob_refs[meta] = (node.id, blobs)
        return meta

    def _wait(self, handles: list[Any]) -> list[tuple[Any, Outcome]]:
        ready, rest = ray.wait(handles, num_returns=1)
        if rest:
            more, _ = ray.wait(rest, num_returns=len(rest), timeout=0)
            ready = list(ready) + list(more)
        out: list[tuple[Any, Outcome]] = []
        for h in ready:
            node_id, blob_refs = self._blob_refs.pop(h)
            try:
                result = ray.get(h)
                blobs = ray.get(blob_refs) if blob_refs else None
                out.append((h, Outcome(result=result, blobs=blobs, handles=blob_refs or None)))
            except ray.exceptions.RayError as exc:
                _drain(blob_refs)
                if isinstance(exc, ray.exceptions.RayTaskError):
                    out.append((h, Outcome(error=_unwrap(exc))))
                    continue
                out.append((h, Outcome(error=NodeFailedError(
                    f"node {node_id!r}: its Ray task failed without an error of its own ({type(exc).__name__}: "
                    f"{' '.join(str(exc).split())[:300]}), after up to {self.max_retries} retries; its partial output was "
                    "not committed: check the cluster (memory, lost nodes) and run the same command again to resume"))))
        return out

    def _put(self, data: bytes) -> Any:
        return ray.put(data)

    def _cancel(self, handles: list[Any]) -> None:
        for h in handles:
            try:
                ray.cancel(h, force=True)
            except Exception:  # noqa: BLE001 - best effort while the driver stops
                pass
        self._blob_refs.clear()


def _drain(refs: list[Any]) -> None:
    """Fetch the other return objects of a failed task (they hold its error), so Ray does not report them
    as unhandled errors when they are released."""
    for r in refs:
        try:
            ray.get(r)
        except Exception:  # noqa: BLE001 - the same error as the task's first return object
            pass


def _unwrap(exc: BaseException) -> BaseException:
    """The exception the node raised in its worker, with the worker's traceback as a note."""
    cause = getattr(exc, "cause", None)
    if not isinstance(cause, BaseException):
        return exc
    tb = str(exc).strip()
    if tb:
        cause.add_note("raised in a Ray worker:\n" + (tb if len(tb) <= 4000 else "..." + tb[-4000:]))
    return cause
