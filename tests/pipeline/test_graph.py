"""The task graph and the local executor: wiring rules, commit and resume rules, failures, progress.

Truths are independent of the graph machinery: numbers computed directly with numpy
(graph_toys.numeric_truth), execution counts written by the node functions themselves, file
contents and manifest records read back from disk.
"""

from __future__ import annotations

import doctest
import io
import json
import os
import signal
import subprocess
import sys
import time
from pathlib import Path

import graph_toys as toys
import numpy as np
import pytest

from genphase.errors import ConfigError, CorruptFileError, InputError, MissingDependencyError
from genphase.pipeline.executors import GraphProgress, LocalExecutor, get_executor
from genphase.pipeline.graph import STAGING, Graph, Node, NodeFailedError, Output, Resources
from genphase.pipeline.store import RunStore

HERE = Path(__file__).parent
SRC = HERE.parents[1] / "src"


def _run(graph, root, **kw):
    return LocalExecutor().run(graph, RunStore(root), **kw)


def _manifest(root) -> dict:
    return json.loads((Path(root) / "manifest.json").read_text())


# ---------------------------------------------------------------- wiring


def test_graph_refuses_bad_wiring():
    g = Graph([Node("a", toys.counted, outputs=("a.txt",))])
    with pytest.raises(InputError, match="'a' is already in the graph"):
        g.add(Node("a", toys.counted))
    with pytest.raises(InputError, match=r"depends on \['zz'\].*add them first"):
        g.add(Node("b", toys.counted, deps=("zz",)))
    with pytest.raises(InputError, match="both write 'a.txt'"):
        g.add(Node("c", toys.counted, outputs=("a.txt",)))
    with pytest.raises(InputError, match="reads 'a.txt', which node 'a' writes; add 'a' to its deps"):
        g.add(Node("d", toys.counted, inputs=("a.txt",)))
    with pytest.raises(InputError, match="top-level function"):
        Node("e", lambda ctx: None)
    for bad in ("/abs/x", "../x", "a/../b", ".hidden", "a/.tmp", "", "a//b", "./a"):
        with pytest.raises(InputError, match="relative path|non-empty"):
            Node("f", toys.counted, outputs=(bad,))
    with pytest.raises(InputError, match="reads and writes"):
        Node("g", toys.counted, inputs=("x",), outputs=("x",))
    with pytest.raises(InputError, match="sequence of strings"):
        Node("h", toys.counted, deps="a")
    for bad in (-1, float("nan"), "2", True):
        with pytest.raises(InputError, match="Resources.cpus"):
            Resources(cpus=bad)
    assert len(g) == 1 and "a" in g and g["a"].outputs == (Output("a.txt"),)


def test_needed_prunes_what_finished_files_no_longer_need():
    g = toys.numeric_graph(seeds=(0, 1))
    assert [n.id for n in g.needed(set())] == [n.id for n in g]
    # total finished: nothing upstream is needed even though it is unfinished
    assert g.needed({"total"}) == []
    # one branch finished up to its moments: only the other branch and total remain
    assert [n.id for n in g.needed({"moments/0"})] == ["draw/1", "moments/1", "total"]


# ---------------------------------------------------------------- running, committing, resuming


def test_local_run_matches_direct_computation_and_records_every_file(tmp_path):
    root = tmp_path / "run"
    rep = _run(toys.numeric_graph(), root)
    np.testing.assert_allclose(np.load(root / "total.npy"), toys.numeric_truth(), rtol=1e-12)
    assert rep.ok and rep.skipped == () and len(rep.ran) == 9
    assert rep.values["draw/2"] == pytest.approx(float(np.random.default_rng(2).normal(size=1000).sum()), rel=1e-12)
    files = _manifest(root)["files"]
    assert set(files) == {f"draw/{s}.npy" for s in range(4)} | {f"moments/{s}.npy" for s in range(4)} | {"total.npy"}
    assert files["draw/1.npy"]["kind"] == "draw" and files["draw/1.npy"]["seed"] == 1
    import hashlib

    assert files["total.npy"]["sha256"] == hashlib.sha256((root / "total.npy").read_bytes()).hexdigest()
    assert not (root / STAGING).exists()
    assert not [p for p in root.rglob("*") if p.name.endswith(".tmp")]


def test_finished_nodes_are_skipped_on_resume(tmp_path):
    logs = tmp_path / "logs"
    logs.mkdir()
    g = toys.fault_graph(str(logs), str(tmp_path / "marker"))
    (tmp_path / "marker").write_text("no kill here")  # dies_once writes its output straight away
    root = tmp_path / "run"
    _run(g, root)
    rep = _run(g, root)
    assert rep.ran == () and rep.skipped == ("a", "b", "survivor", "s")
    assert [toys.runs_of(logs, n) for n in ("a", "b", "s")] == [1, 1, 1]
    assert (root / "s.txt").read_text() == "7"


def test_unrecorded_leftover_is_recomputed_and_a_changed_file_is_refused(tmp_path):
    logs = tmp_path / "logs"
    logs.mkdir()
    (tmp_path / "marker").write_text("x")
    g = toys.fault_graph(str(logs), str(tmp_path / "marker"))
    root = tmp_path / "run"
    _run(g, root)
    # a kill between the rename and the manifest write leaves a file without a record
    man = _manifest(root)
    del man["files"]["s.txt"]
    (root / "manifest.json").write_text(json.dumps(man))
    (root / "s.txt").write_text("999")
    rep = _run(g, root)
    assert rep.ran == ("s",) and (root / "s.txt").read_text() == "7" and toys.runs_of(logs, "s") == 2
    # a finished file changed behind the run's back stops it, naming the file
    (root / "b.txt").write_text("6")
    with pytest.raises(CorruptFileError, match="b.txt"):
        _run(g, root)


def test_node_inputs_made_outside_the_graph_must_be_finished(tmp_path):
    g = Graph([Node("m", toys.moments, args=(0, 2), inputs=("draw/0.npy",), outputs=("moments/0.npy",))])
    with pytest.raises(InputError, match="'draw/0.npy', which is not a finished file"):
        _run(g, tmp_path / "run")
    # finished by an earlier graph (recorded in the same manifest): fine
    _run(Graph([Node("d", toys.draw, args=(0, 50), outputs=("draw/0.npy",))]), tmp_path / "run")
    rep = _run(g, tmp_path / "run")
    x = np.random.default_rng(0).normal(size=50)
    assert rep.values["m"] == pytest.approx([x.sum(), (x ** 2).sum()], rel=1e-12)


def test_node_contract_violations_name_the_node(tmp_path):
    with pytest.raises(NodeFailedError, match="'lazy' returned without writing its output 'out.txt'"):
        _run(Graph([Node("lazy", toys.no_output, outputs=("out.txt",))]), tmp_path / "a")
    with pytest.raises(InputError, match="'not-declared.txt', which is not among its outputs"):
        _run(Graph([Node("sneaky", toys.undeclared, outputs=("out.txt",))]), tmp_path / "b")
    assert not (tmp_path / "a" / "out.txt").exists() and not (tmp_path / "a" / STAGING).exists()


def test_failure_stops_new_work_commits_finished_work_and_resumes(tmp_path):
    logs = tmp_path / "logs"
    logs.mkdir()
    marker = tmp_path / "fixed"
    g = Graph()
    g.add(Node("a", toys.counted, args=(str(logs), "a", 1), outputs=("a.txt",)))
    g.add(Node("bad", toys.fails, args=(str(marker),), deps=("a",), outputs=("fixed.txt",)))
    g.add(Node("after", toys.counted, args=(str(logs), "after", 2), deps=("bad",), outputs=("after.txt",)))
    g.add(Node("other", toys.counted, args=(str(logs), "other", 3), deps=("a",), outputs=("other.txt",)))
    root = tmp_path / "run"
    with pytest.raises(ConfigError, match="planted failure") as info:
        _run(g, root)
    rep = info.value.graph_report
    assert rep.ran == ("a",) and set(rep.failed) == {"bad"} and rep.blocked == ("after", "other")
    assert any("node 'bad' failed" in n for n in info.value.__notes__)
    assert set(_manifest(root)["files"]) == {"a.txt"} and not (root / STAGING).exists()
    # keep_going: independent work still runs, the failed node's dependents do not
    with pytest.raises(ConfigError):
        _run(g, root, keep_going=True)
    assert (root / "other.txt").read_text() == "3" and not (root / "after.txt").exists()
    # fixed: only what is left runs
    marker.write_text("ok")
    rep = _run(g, root)
    assert rep.ran == ("bad", "after") and rep.skipped == ("a", "other")
    assert [toys.runs_of(logs, n) for n in ("a", "other", "after")] == [1, 1, 1]


def test_one_graph_over_several_run_directories(tmp_path):
    g = Graph()
    for run in ("seed_0", "seed_1"):
        s = int(run[-1])
        g.add(Node(f"{run}/draw", toys.draw, args=(s, 20), outputs=(f"draw/{s}.npy",), store=run))
        g.add(Node(f"{run}/moments", toys.moments, args=(s, 2), deps=(f"{run}/draw",), inputs=(f"draw/{s}.npy",),
                   outputs=(f"moments/{s}.npy",), store=run))
    stores = {run: RunStore(tmp_path / run) for run in ("seed_0", "seed_1")}
    LocalExecutor().run(g, stores)
    for s in (0, 1):
        x = np.random.default_rng(s).normal(size=20)
        np.testing.assert_allclose(np.load(tmp_path / f"seed_{s}" / f"moments/{s}.npy"), [x.sum(), (x ** 2).sum()], rtol=1e-12)
        assert set(_manifest(tmp_path / f"seed_{s}")["files"]) == {f"draw/{s}.npy", f"moments/{s}.npy"}
    with pytest.raises(InputError, match=r"run directories \['seed_1'\], which have no store"):
        LocalExecutor().run(g, {"seed_0": stores["seed_0"]})


def test_on_commit_sees_the_result_before_the_manifest_is_saved(tmp_path):
    seen = []

    def note(node, result):
        store.manifest.setdefault("values", {})[node.id] = result.value
        seen.append(node.id)

    store = RunStore(tmp_path / "run", on_commit=note)
    LocalExecutor().run(toys.numeric_graph(seeds=(5,), n=10, k=1), store)
    assert seen == ["draw/5", "moments/5", "total"]
    assert _manifest(tmp_path / "run")["values"]["total"] == pytest.approx([np.random.default_rng(5).normal(size=10).sum()])


DRIVER = """
import sys
sys.path[:0] = [{tests!r}]
import graph_toys as toys
from genphase.pipeline.executors import LocalExecutor
from genphase.pipeline.graph import Graph, Node
from genphase.pipeline.store import RunStore
logs, marker, root = sys.argv[1:4]
g = Graph()
g.add(Node("a", toys.counted, args=(logs, "a", 2), outputs=("a.txt",)))
g.add(Node("b", toys.counted, args=(logs, "b", 5), outputs=("b.txt",)))
g.add(Node("p", toys.pauses, args=(marker, logs), deps=("a",), outputs=("paused.txt",)))
g.add(Node("s", toys.counted_sum, args=(logs, "s", ["a", "b"]), deps=("a", "b", "p"), inputs=("a.txt", "b.txt"),
           outputs=("s.txt",)))
LocalExecutor().run(g, RunStore(root))
"""


def test_a_killed_driver_resumes_from_the_run_directory(tmp_path):
    logs, marker, root = tmp_path / "logs", tmp_path / "reached", tmp_path / "run"
    logs.mkdir()
    script = tmp_path / "driver.py"
    script.write_text(DRIVER.format(tests=str(HERE)))
    env = {**os.environ, "PYTHONPATH": os.pathsep.join([str(SRC), os.environ.get("PYTHONPATH", "")])}
    proc = subprocess.Popen([sys.executable, str(script), str(logs), str(marker), str(root)], env=env,
                            stdout=subprocess.DEVNULL, stderr=subprocess.PIPE, text=True)
    deadline = time.monotonic() + 120
    while not marker.exists():
        if proc.poll() is not None:
            pytest.fail(f"driver ended (rc {proc.returncode}) before the pause:\n{proc.stderr.read()[-3000:]}")
        assert time.monotonic() < deadline, "driver did not reach the pause"
        time.sleep(0.02)
    os.kill(proc.pid, signal.SIGKILL)
    proc.wait(timeout=60)
    proc.stderr.close()
    assert proc.returncode == -signal.SIGKILL
    # killed mid-node: its half-written output sits in an attempt directory, never at the finished path
    assert not (root / "paused.txt").exists()
    assert [p.read_text() for p in (root / STAGING).rglob("paused.txt")] == ["half"]
    assert set(_manifest(root)["files"]) == {"a.txt", "b.txt"}
    sys.path.insert(0, str(HERE))
    g = Graph()
    g.add(Node("a", toys.counted, args=(str(logs), "a", 2), outputs=("a.txt",)))
    g.add(Node("b", toys.counted, args=(str(logs), "b", 5), outputs=("b.txt",)))
    g.add(Node("p", toys.pauses, args=(str(marker), str(logs)), deps=("a",), outputs=("paused.txt",)))
    g.add(Node("s", toys.counted_sum, args=(str(logs), "s", ["a", "b"]), deps=("a", "b", "p"), inputs=("a.txt", "b.txt"),
               outputs=("s.txt",)))
    rep = _run(g, root)
    assert rep.ran == ("p", "s") and rep.skipped == ("a", "b")
    assert [toys.runs_of(logs, n) for n in ("a", "b", "pauser", "s")] == [1, 1, 2, 1]
    assert (root / "paused.txt").read_text() == "whole" and (root / "s.txt").read_text() == "7"
    assert not (root / STAGING).exists()


# ---------------------------------------------------------------- progress


def test_progress_counts_and_draws_one_bar(tmp_path):
    from rich.console import Console

    buf = io.StringIO()
    console = Console(file=buf, force_terminal=True, width=150)
    g = toys.numeric_graph(seeds=(0,), n=5, k=1)
    prog = GraphProgress(len(g), enabled=None, console=console)
    LocalExecutor().run(g, RunStore(tmp_path / "run"), progress=prog)
    assert prog.counts == {"total": 3, "done": 3, "running": 0, "failed": 0, "blocked": 0, "skipped": 0}
    assert "3 done, 0 running, 0 failed" in buf.getvalue()


def test_progress_is_quiet_when_stderr_is_not_a_terminal(tmp_path, capfd):
    _run(toys.numeric_graph(seeds=(0,), n=5, k=1), tmp_path / "run")
    assert capfd.readouterr().err == ""


# ---------------------------------------------------------------- choosing an executor


def test_get_executor_refuses_bad_choices():
    with pytest.raises(ConfigError, match="executor 'dask' is not known; choose one of local, ray"):
        get_executor("dask")
    with pytest.raises(ConfigError, match="--ray-address 'h:1' applies to the Ray executor only"):
        get_executor("local", address="h:1")
    with pytest.raises(ConfigError, match="takes only workers"):
        get_executor("local", shared_path="/x")
    assert isinstance(get_executor(" Local "), LocalExecutor)


def test_ray_executor_without_ray_names_the_extra(monkeypatch):
    monkeypatch.setitem(sys.modules, "ray", None)  # `import ray` now fails as if it were not installed
    monkeypatch.delitem(sys.modules, "genphase.pipeline.executors.ray", raising=False)
    with pytest.raises(MissingDependencyError, match=r"pip install 'genphase\[ray\]'"):
        get_executor("ray")


def test_importing_genphase_never_imports_ray(tmp_path):
    code = (
        "import sys, tempfile\n"
        "import genphase, genphase.pipeline, genphase.pipeline.graph, genphase.pipeline.executors\n"
        "import genphase.pipeline.executors.progress\n"
        f"sys.path.insert(0, {str(HERE)!r})\n"
        "import graph_toys\n"
        "from genphase.pipeline.store import RunStore\n"
        "genphase.pipeline.executors.get_executor('local').run(graph_toys.numeric_graph(n=5), RunStore(tempfile.mkdtemp()))\n"
        "print(sorted(m for m in sys.modules if m == 'ray' or m.startswith('ray.')))\n"
    )
    env = {**os.environ, "PYTHONPATH": os.pathsep.join([str(SRC), os.environ.get("PYTHONPATH", "")])}
    out = subprocess.run([sys.executable, "-c", code], env=env, capture_output=True, text=True, timeout=120)
    assert out.returncode == 0, out.stderr[-3000:]
    assert out.stdout.strip() == "[]"


@pytest.mark.parametrize("module", ["genphase.pipeline.graph", "genphase.pipeline.executors",
                                    "genphase.pipeline.executors.progress"])
def test_docstring_examples_run(module):
    import importlib

    res = doctest.testmod(importlib.import_module(module), optionflags=doctest.ELLIPSIS)
    assert res.attempted > 0 and res.failed == 0


def test_scratch_state_survives_a_failed_attempt_and_goes_with_the_commit(tmp_path):
    g = Graph([Node("r", toys.resumes_from_scratch, outputs=("resumed.txt",))])
    root = tmp_path / "run"
    with pytest.raises(ConfigError, match="interrupted"):
        _run(g, root)
    assert [p.read_text() for p in (root / STAGING).rglob("state.txt")] == ["41"]
    assert not list((root / STAGING).glob("*/attempt-*"))
    assert _run(g, root).values == {"r": 42}
    assert not (root / STAGING).exists()


def test_outputs_committed_early_survive_a_failure_and_are_not_redone(tmp_path):
    logs, marker, root = tmp_path / "logs", tmp_path / "stopped", tmp_path / "run"
    logs.mkdir()
    g = toys.training_graph(str(logs), str(marker))
    with pytest.raises(ConfigError, match="stopped after epoch 2"):
        _run(g, root)
    # each checkpoint was committed when written: a kill after epoch 2 keeps epochs 0-2
    assert sorted(_manifest(root)["files"]) == ["ckpt/0.txt", "ckpt/1.txt", "ckpt/2.txt"]
    assert _manifest(root)["files"]["ckpt/1.txt"] == {**_manifest(root)["files"]["ckpt/1.txt"], "kind": "checkpoint", "epoch": 1}
    early = {p.name: p.stat().st_mtime_ns for p in (root / "ckpt").iterdir()}
    rep = _run(g, root)
    assert rep.ran == ("train",) and rep.values["train"] == 5
    # resumed from its scratch state at epoch 3; the early checkpoints were not written again
    assert (logs / "epochs").read_text().split() == ["0", "1", "2", "3", "4"]
    assert {p.name: p.stat().st_mtime_ns for p in (root / "ckpt").iterdir() if p.name in early} == early
    assert [(root / f"ckpt/{e}.txt").read_text() for e in range(5)] == ["0", "1", "4", "9", "16"]
    assert (root / "log.txt").read_text() == "0 1 4 9 16"
    assert len(_manifest(root)["files"]) == 6 and not (root / STAGING).exists()


def test_two_attempts_of_a_node_never_share_its_scratch_space(tmp_path):
    # a worker of a killed run (still running the node) and the resumed run's attempt of the same
    # node on the same machine: the second waits, so neither removes the other's files (without the
    # lock, the first one's clean-up of the scratch space made the second's writes fail)
    code = ("import sys; sys.path.insert(0, sys.argv[1]); import graph_toys as toys; "
            "from genphase.pipeline.graph import Node, Output; from genphase.pipeline.worker import execute_node; "
            "node = Node('slow', toys.slow_state, (float(sys.argv[3]), sys.argv[4]), outputs=(Output('out.txt'),)); "
            "print(execute_node(node, 'object', sys.argv[2])[0].value)")
    env = {**os.environ, "PYTHONPATH": str(SRC)}
    root, started = str(tmp_path / "run"), tmp_path / "started"
    first = subprocess.Popen([sys.executable, "-c", code, str(HERE), root, "4", str(started)], env=env,
                             stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)
    deadline = time.monotonic() + 60
    while not started.exists():
        assert first.poll() is None and time.monotonic() < deadline, first.communicate()[1]
        time.sleep(0.02)
    second = subprocess.run([sys.executable, "-c", code, str(HERE), root, "4", str(tmp_path / "again")], env=env,
                            capture_output=True, text=True, timeout=120)
    out, err = first.communicate(timeout=120)
    assert first.returncode == 0 and out.strip() == "8", err
    assert second.returncode == 0 and second.stdout.strip() == "8", second.stderr
