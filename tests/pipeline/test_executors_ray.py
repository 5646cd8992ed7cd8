"""The Ray executor on one local Ray instance (2 CPUs, started once for this module).

Checked against independent truths: the local executor's files (same graph, same seeds; exact
equality), numbers computed directly with numpy, AND-OR decompositions checked by brute-force
reconstruction of the planted games, and execution counts the node functions write themselves.
"""

from __future__ import annotations

import os
import socket
import threading
import time
from pathlib import Path

import numpy as np
import pytest

ray = pytest.importorskip("ray")

import graph_toys as toys  # noqa: E402

from genphase.errors import ConfigError  # noqa: E402
from genphase.pipeline.executors import LocalExecutor, get_executor  # noqa: E402
from genphase.pipeline.graph import STAGING, Graph, Node, Resources  # noqa: E402
from genphase.pipeline.store import RunStore  # noqa: E402

HERE = Path(__file__).parent


@pytest.fixture(scope="module")
def ray_ex():
    """A local Ray instance started by the executor; its workers import the toys from this folder."""
    if ray.is_initialized():
        pytest.skip("this process already runs a Ray session")
    with pytest.MonkeyPatch.context() as mp:
        mp.setenv("PYTHONPATH", os.pathsep.join(p for p in [str(HERE), os.environ.get("PYTHONPATH", "")] if p))
        mp.setenv("RAY_DEDUP_LOGS", "0")
        mp.delenv("RAY_ADDRESS", raising=False)
        ex = get_executor("ray", num_cpus=2)
    assert ex.started and ray.is_initialized()
    yield ex
    ex.close()
    assert not ray.is_initialized()  # it started the instance, so it stopped it


def _arrays(root: Path) -> dict[str, np.ndarray]:
    out = {}
    for p in sorted(root.rglob("*")):
        if p.suffix == ".npy":
            out[str(p.relative_to(root))] = np.load(p)
        elif p.suffix == ".npz":
            with np.load(p, allow_pickle=False) as z:
                out.update({f"{p.relative_to(root)}:{k}": z[k] for k in z.files if k != "__meta__"})
    return out


def _same_files(a: Path, b: Path) -> None:
    fa, fb = _arrays(a), _arrays(b)
    assert fa.keys() == fb.keys() and fa
    for k in fa:
        np.testing.assert_array_equal(fa[k], fb[k], err_msg=k)


def test_ray_gives_the_local_executor_results(ray_ex, tmp_path):
    """Numeric stages with seeds, and genphase.extract_and_or on planted games in chunks."""
    for make in (toys.numeric_graph, toys.extraction_graph):
        g = make()
        local, remote = tmp_path / f"{make.__name__}-local", tmp_path / f"{make.__name__}-ray"
        rl = LocalExecutor().run(g, RunStore(local))
        rr = ray_ex.run(g, RunStore(remote))
        assert rr.ran == rl.ran == tuple(n.id for n in g)
        assert rr.values == rl.values
        _same_files(local, remote)
        assert not (remote / STAGING).exists()
    np.testing.assert_allclose(np.load(tmp_path / "numeric_graph-ray" / "total.npy"), toys.numeric_truth(), rtol=1e-12)
    # the chunks, merged in order, decompose exactly the planted games (brute-force reconstruction)
    with np.load(tmp_path / "extraction_graph-ray" / "interactions/all.npz") as z:
        a, o, bias, noise, values = (z[k] for k in ("and_effects", "or_effects", "bias", "noise", "values"))
    n = 4
    S = np.arange(1 << n)
    subset = ((S[:, None] & S[None, :]) == S[None, :]).astype(float)  # [S, T]: T subset of S
    meets = ((S[:, None] & S[None, :]) != 0).astype(float)
    np.testing.assert_allclose(values, toys.planted_games(3, n, 10), rtol=0, atol=0)
    np.testing.assert_allclose(bias[:, None] + a @ subset.T + o @ meets.T, values + noise, atol=1e-6)
    np.testing.assert_allclose(noise, 0.0, atol=1e-9)


def test_shared_path_gives_the_same_files(ray_ex, tmp_path):
    g = toys.numeric_graph(seeds=(7, 8), n=200)
    LocalExecutor().run(g, RunStore(tmp_path / "local"))
    shared = get_executor("ray", shared_path=tmp_path)  # joins this process's session
    assert shared.transfer == "shared" and not shared.started
    rep = shared.run(g, RunStore(tmp_path / "shared"))
    shared.close()
    assert ray.is_initialized()  # a session it did not start stays up
    assert rep.ok
    _same_files(tmp_path / "local", tmp_path / "shared")
    outside = tmp_path.parent / f"{tmp_path.name}-outside"
    with pytest.raises(ConfigError, match="is not inside the shared path"):
        get_executor("ray", shared_path=tmp_path / "local").run(g, RunStore(outside))


@pytest.mark.parametrize("transfer", ["object", "shared"])
def test_a_worker_killed_mid_task_is_retried_and_nothing_is_lost(ray_ex, tmp_path, transfer):
    logs, marker = tmp_path / "logs", tmp_path / "killed"
    logs.mkdir()
    ex = ray_ex if transfer == "object" else get_executor("ray", shared_path=tmp_path)
    root = tmp_path / "run"
    rep = ex.run(toys.fault_graph(str(logs), str(marker)), RunStore(root))
    assert marker.exists()  # the first attempt SIGKILLed its worker after writing half its output
    attempts = marker.with_suffix(".attempts").read_text().split()
    assert len(attempts) == 2 and attempts[0] != attempts[1]  # retried in a fresh worker process
    assert rep.ok and rep.values["survivor"] == 7
    assert (root / "survivor.txt").read_text() == "7\n" * 1000  # the whole output, not the dead attempt's half
    assert (root / "s.txt").read_text() == "7" and [toys.runs_of(logs, n) for n in ("a", "b", "s")] == [1, 1, 1]
    assert not (root / STAGING).exists()


def test_ray_resumes_a_node_whose_early_outputs_the_local_executor_committed(ray_ex, tmp_path):
    logs, marker = tmp_path / "logs", tmp_path / "stopped"
    logs.mkdir()
    g = toys.training_graph(str(logs), str(marker))
    with pytest.raises(ConfigError, match="stopped after epoch 2"):
        LocalExecutor().run(g, RunStore(tmp_path / "run"))
    early = {e: (tmp_path / "run" / f"ckpt/{e}.txt").stat().st_mtime_ns for e in range(3)}
    rep = ray_ex.run(g, RunStore(tmp_path / "run"))
    assert rep.ran == ("train",)
    assert {e: (tmp_path / "run" / f"ckpt/{e}.txt").stat().st_mtime_ns for e in range(3)} == early
    (tmp_path / "logs2").mkdir()
    LocalExecutor().run(toys.training_graph(str(tmp_path / "logs2"), str(marker)), RunStore(tmp_path / "clean"))
    for rel in [f"ckpt/{e}.txt" for e in range(5)] + ["log.txt"]:
        assert (tmp_path / "run" / rel).read_text() == (tmp_path / "clean" / rel).read_text()


def test_independent_nodes_run_at_the_same_time(ray_ex, tmp_path):
    a, b = str(tmp_path / "a"), str(tmp_path / "b")
    g = Graph([Node("a", toys.rendezvous, args=(a, b, 60.0), outputs=("a.txt",)),
               Node("b", toys.rendezvous, args=(b, a, 60.0), outputs=("b.txt",))])
    assert ray_ex.run(g, RunStore(tmp_path / "run")).ok


def test_a_node_error_comes_back_as_raised_and_is_not_retried(ray_ex, tmp_path):
    logs = tmp_path / "logs"
    logs.mkdir()
    g = Graph([Node("ok", toys.counted, args=(str(logs), "ok", 1), outputs=("ok.txt",)),
               Node("bad", toys.fails, outputs=("fixed.txt",))])
    with pytest.raises(ConfigError, match="planted failure") as info:
        ray_ex.run(g, RunStore(tmp_path / "run"))
    assert any("raised in a Ray worker" in n for n in info.value.__notes__)
    assert set(info.value.graph_report.failed) == {"bad"}
    assert (tmp_path / "run" / "ok.txt").read_text() == "1" and toys.runs_of(logs, "ok") == 1


def test_resource_requests_reach_ray(ray_ex, tmp_path):
    g = Graph([Node("two", toys.assigned, outputs=("assigned.txt",), resources=Resources(cpus=2))])
    assert ray_ex.run(g, RunStore(tmp_path / "run")).values["two"] == {"CPU": 2.0}
    assert (tmp_path / "run" / "assigned.txt").read_text() == "object None"  # no run directory on the worker
    LocalExecutor().run(g, RunStore(tmp_path / "local"))
    assert (tmp_path / "local" / "assigned.txt").read_text() == f"shared {tmp_path / 'local'}"
    t0 = time.perf_counter()
    for res, what in ((Resources(gpus=1), "asks for 1 gpus but no machine of the Ray cluster has more than 0"),
                      (Resources(cpus=3), "asks for 3 cpus but no machine of the Ray cluster has more than 2")):
        g = Graph([Node("greedy", toys.assigned, outputs=("assigned.txt",), resources=res)])
        with pytest.raises(ConfigError, match=what):  # refused at once instead of waiting forever
            ray_ex.run(g, RunStore(tmp_path / "greedy"))
    assert time.perf_counter() - t0 < 10


def _closed_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def test_unreachable_addresses_fail_within_seconds(monkeypatch):
    port = _closed_port()
    for kw, env, named in (({"address": f"127.0.0.1:{port}"}, None, "--ray-address"),
                           ({}, f"127.0.0.1:{port}", "RAY_ADDRESS"),
                           ({"address": "nohost.invalid:6379"}, None, "does not resolve")):
        if env:
            monkeypatch.setenv("RAY_ADDRESS", env)
        t0 = time.perf_counter()
        with pytest.raises(ConfigError, match="no Ray cluster can be reached there") as info:
            get_executor("ray", **kw)
        assert time.perf_counter() - t0 < 10
        msg = str(info.value)
        assert named in msg and "ray start --head" in msg and (f"127.0.0.1:{port}" in msg or "nohost" in msg)
        monkeypatch.delenv("RAY_ADDRESS", raising=False)


def test_something_that_is_not_ray_is_refused_within_seconds():
    srv = socket.socket()
    srv.bind(("127.0.0.1", 0))
    srv.listen(1)

    def answer():  # an HTTP/1 server, say
        conn, _ = srv.accept()
        with conn:
            conn.recv(64)
            conn.sendall(b"HTTP/1.1 400 Bad Request\r\n\r\n")

    threading.Thread(target=answer, daemon=True).start()
    t0 = time.perf_counter()
    with pytest.raises(ConfigError, match="not a Ray cluster"):
        get_executor("ray", address=f"127.0.0.1:{srv.getsockname()[1]}")
    assert time.perf_counter() - t0 < 10
    srv.close()


def test_joining_the_running_cluster_by_its_address(ray_ex, tmp_path):
    addr = ray.get_runtime_context().gcs_address
    ex = get_executor("ray", address=addr)
    assert not ex.started
    assert ex.run(toys.numeric_graph(seeds=(1,), n=10, k=1), RunStore(tmp_path / "run")).ok
    with pytest.raises(ConfigError, match="already connected to the Ray cluster"):
        get_executor("ray", address="local")


def test_bad_options_are_refused(ray_ex, tmp_path):
    with pytest.raises(ConfigError, match="max_retries"):
        get_executor("ray", max_retries=-1)
    with pytest.raises(ConfigError, match="is not a directory"):
        get_executor("ray", shared_path=tmp_path / "nope")
