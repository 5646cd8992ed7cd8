"""The driver of ``genphase run`` and ``genphase study``: each run directory's :class:`RunPlan` (the directory
prepared, the run's stage nodes added to a graph, the manifest kept as nodes are committed), and
:func:`run_plans`, which runs the plans' graph on an executor (``local`` or ``ray``; docs/scaling.md).
"""

from __future__ import annotations

import time
from pathlib import Path
from typing import Any, Callable, Sequence

from ..rundir import (
    MODEL,
    SAMPLES,
    TOKENIZER_DIR,
    TRAINING_LOG,
    VARIABLES,
    baseline_name,
    baseline_rel,
    checkpoint_rel,
    chunk_rel,
    epoch_of,
    interactions_rel,
    null_baseline_name,
    what,
    write_json,
)
from .graph import Graph, Node, Output, Resources
from .inputs import setup_for
from .logs import _rate, stage_title
from .stages import analyse, chunk_bounds, extract_model, merge_chunks, report_run, train_baseline, train_model, write_explained
from .store import RunStore
from .worker import NodeResult

__all__ = ["RunPlan", "with_execution", "require_executor", "make_executor", "run_plans"]

Log = Callable[[str], None]


class _PlanStore(RunStore):
    """A run directory's store that tells its plan about each node after the node is committed."""

    def __init__(self, plan: "RunPlan", **kw: Any):
        super().__init__(plan.paths.root, manifest=plan.man, on_commit=plan.on_commit, log=plan.log, **kw)
        self.plan = plan

    def commit(self, node: Node, result: NodeResult, blobs: Sequence[bytes] | None = None) -> None:
        super().commit(node, result, blobs)
        self.plan.after_commit(node, result)


class RunPlan:
    """The driver's side of one run: the run directory prepared, the run's nodes, and what happens as
    each is committed (manifest stages and timings, log lines, the analysis written).

    ``live_log``: the stages print through ``log`` as they go (only where they run in this process,
    the local executor); otherwise their lines are printed when each node is committed.
    ``prefix``/``store``: node ids' prefix and the store name, when one graph holds several runs.

    Preparing a plan writes the manifest and config and checks the settings, but trains nothing:

    >>> import shutil, tempfile
    >>> from genphase.pipeline.config import load_config
    >>> cfg = load_config("breast-cancer-mlp", ["training.epochs=2", "checkpoints.schedule=every", "baselines.k=2",
    ...                                          "baselines.epochs=2", "explain.samples=8", "variables.n=4",
    ...                                          "analysis.n_resamples=0"])
    >>> d = Path(tempfile.mkdtemp())
    >>> plan = RunPlan(cfg, d / "run", log=lambda line: None)
    >>> plan.epochs, sorted(p.name for p in (d / "run").iterdir())  # .lock: the plan holds the directory
    ([0, 1, 2], ['.lock', 'config.yaml', 'manifest.json'])
    >>> graph = Graph()
    >>> plan.add_nodes(graph)
    >>> len(graph), graph["analyse"].deps[:5]  # 1 + 2K trainings (K null), the samples, 2K + 3 extractions, the analysis
    (14, ('train/model', 'train/baseline_0', 'train/baseline_1', 'train/null_baseline_0', 'train/null_baseline_1'))
    >>> plan.close(); (d / "run" / ".lock").exists()
    False
    >>> shutil.rmtree(d)
    """

    def __init__(self, cfg: Any, out: str | Path, *, log: Log = print, report: bool = True, threads: int | None = None,
                 executor: str = "local", prefix: str = "", store: str = "", in_process: bool | None = None):
        import sys

        from ..rundir import RunLock, RunPaths
        from .records import _check_out

        self.cfg, self.log, self.report, self.prefix, self.store_name = cfg, log, report, prefix, store
        self.local = executor == "local"
        # nodes run in this process (they may print as they go); else their lines come back with their results
        self.in_process = self.local and (cfg.execution.workers == 1 if in_process is None else in_process)
        self.t0 = time.perf_counter()
        self.paths = RunPaths(out)
        _check_out(self.paths.root)
        # one writer per run directory, from before anything in it is read or cleaned up until close()
        self.lock = RunLock(self.paths.root, " ".join([Path(sys.argv[0]).name, *sys.argv[1:]])).acquire()
        try:
            self._prepare(threads)
        except BaseException:
            self.close()
            raise

    def close(self) -> None:
        """Release the run directory's lock (:meth:`finish` does; a failed run's caller must)."""
        self.lock.release()

    def _prepare(self, threads: int | None) -> None:
        from .. import __version__
        from .baselines import baseline_data, baseline_design
        from .data import SPLIT_ROLES, _data_fingerprint
        from .devices import resolve_device, set_threads
        from .integrity import recorded
        from .records import _Files, _prepare_dir

        cfg, log, paths = self.cfg, self.log, self.paths
        man = self.man = _prepare_dir(paths, cfg, log)
        files = self.files = _Files(paths, man, log, cfg)
        self.h = man["config_hash"]
        if "train_model" not in man["stages"]:  # training unfinished: it runs (from its saved state), its log anew
            man["files"].pop(TRAINING_LOG, None)
        device = resolve_device(cfg.device) if self.local or not cfg.device.startswith("cuda") else cfg.device
        # every stage computes with the same number of torch threads on every executor (execution.threads)
        self.threads = n_threads = int(threads if threads is not None else cfg.execution.threads)
        if self.local:
            set_threads(n_threads)
        stage_threads = {"train_model": n_threads, "baselines": n_threads, "extract": n_threads, "analysis": n_threads}
        if man.get("threads") not in (None, stage_threads):
            log(f"note: this invocation's stages compute with {n_threads} torch thread(s); earlier ones used "
                f"{man['threads']}: what they finished stays as they computed it (equal up to rounding)")
        man["threads"] = stage_threads
        write_json(paths.manifest, man)
        for rel in [k for k in man["files"] if k.startswith(TOKENIZER_DIR)]:
            files.need(paths.root / rel, what("tokenizer"))
        su = self.setup = setup_for(cfg, paths.root)
        ds = su.ds
        design = baseline_design(cfg, ds)  # a crossfit or early-stopping setting that cannot work fails before training
        for k in range(cfg.baselines.k):
            baseline_data(cfg, ds, design, k)
        if su.tokenizer is not None:
            new = [p for p in sorted(paths.tokenizer.rglob("*")) if p.is_file() and not recorded(man, paths.root, p)]
            for p in new:
                files.done(p, what("tokenizer"), save=False)
            if new:
                write_json(paths.manifest, man)
        self.tok_inputs = tuple(sorted(k for k in man["files"] if k.startswith(TOKENIZER_DIR)))
        self._adopt_old_baselines()
        splits = {"train": _data_fingerprint("train", ds.x_train, ds.y_train),
                  "test": _data_fingerprint("test", ds.x_test, ds.y_test),
                  "eval": _data_fingerprint("eval", ds.x_eval, ds.y_eval)}
        for name, role in SPLIT_ROLES.items():
            splits[name]["role"] = role
        if man.get("splits") != splits:
            man["splits"] = splits
            write_json(paths.manifest, man)
        # the schedule's checkpoints, and those a refinement added (checkpoints.refine; kept in the manifest)
        self.epochs = epochs = sorted(set(cfg.checkpoint_epochs()) | {int(e) for e in man.get("refined", [])})
        log(f"genphase {__version__}: {cfg.preset or 'custom'} on {ds.name} ({ds.modality}), {len(ds.y_train)} train / "
            f"{len(ds.y_test)} reference (test) / {ds.n_eval} evaluation samples, device {device}, {n_threads} CPU "
            f"thread(s), checkpoints {epochs}")
        self.timing = {"masked_forward_s": 0.0, "solve_s": 0.0}
        self.phases: dict | None = None
        self.store = _PlanStore(self)

    def _adopt_old_baselines(self) -> None:
        """Finished baselines of a run made before ``data.npz`` existed: recorded and scored here, on the
        driver, once (nothing is retrained); their nodes are then finished."""
        import torch

        from .baselines import _adopt_baseline
        from .devices import resolve_device
        from .integrity import recorded

        paths, man, su = self.paths, self.man, self.setup
        device = resolve_device(self.cfg.device) if self.local else torch.device("cpu")
        for k in range(self.cfg.baselines.k):
            if recorded(man, paths.root, paths.baseline(k)) and not recorded(man, paths.root, paths.baseline_data(k)):
                self.files.need(paths.baseline_log(k), what("training_log", baseline_name(k)))
                _adopt_baseline(self.cfg, su.ds, su.modality, paths, self.files, k, su.tokenizer, device, self.log)
                write_json(paths.manifest, man)

    # -- the graph ---------------------------------------------------------------------------
    def add_nodes(self, graph: Graph) -> None:
        """Add this run's nodes to ``graph``, in the order the local executor runs them."""
        from .integrity import recorded

        cfg, p, man, root = self.cfg, self.prefix, self.man, self.paths.root
        K = cfg.baselines.k
        gpus = 1.0 if str(cfg.device).startswith("cuda") and not self.local else 0.0
        res = Resources(cpus=max(cfg.execution.cpus_per_task, self.threads) if not self.local else 1.0, gpus=gpus)
        common = {"threads": self.threads, "tok_inputs": self.tok_inputs, "log": self.log if self.in_process else None}
        toks = self.tok_inputs

        def add(nid: str, fn: Callable[..., Any], args: tuple = (), deps: tuple = (), inputs: tuple = (),
                outputs: tuple = (), **kw: Any) -> None:
            graph.add(Node(p + nid, fn, args=(cfg, *args), kwargs={**common, **kw}, deps=tuple(p + d for d in deps),
                           inputs=toks + tuple(inputs), outputs=outputs, resources=res, store=self.store_name))

        add("train/model", train_model, outputs=tuple(Output(checkpoint_rel(e), what("checkpoint", MODEL, e))
                                                      for e in cfg.saved_epochs()) + (Output(TRAINING_LOG, what("training_log", MODEL)),))
        for k in range(K):
            add(f"train/{baseline_name(k)}", train_baseline, (k,), outputs=(
                Output(baseline_rel(k, "data.npz"), what("baseline_data", baseline_name(k))),
                Output(baseline_rel(k, "training_log.json"), what("training_log", baseline_name(k))),
                Output(baseline_rel(k, "final.pt"), what("checkpoint", baseline_name(k)))))
        nulls = range(K) if cfg.baselines.null else range(0)
        for k in nulls:  # the permuted_labels chance level: the same models and data, labels permuted
            add(f"train/{null_baseline_name(k)}", train_baseline, (k,), null=True, outputs=tuple(
                Output(baseline_rel(k, f, null=True), what(kind, null_baseline_name(k))) for f, kind in (
                    ("data.npz", "baseline_data"), ("training_log.json", "training_log"), ("final.pt", "checkpoint"))))
        add("explained", write_explained, outputs=(Output(VARIABLES, what("variables")), Output(SAMPLES, what("samples"))))
        su = self.setup
        models = [(baseline_name(k), None, baseline_rel(k, "final.pt"), f"train/{baseline_name(k)}") for k in range(K)] + [
            (MODEL, e, checkpoint_rel(e), "train/model") for e in self.epochs] + [
            (null_baseline_name(k), None, baseline_rel(k, "final.pt", null=True), f"train/{null_baseline_name(k)}")
            for k in nulls]
        todo = sum(not recorded(man, root, root / interactions_rel(name, epoch)) for name, epoch, _, _ in models)
        announce = (f"{stage_title('extract')}: AND-OR interactions of {todo} models, {len(su.y_exp)} samples x "
                    f"2^{su.masker.n} masks each") if todo else None
        extract_ids = []
        bounds = chunk_bounds(len(su.y_exp), cfg.execution.chunk_samples)  # the same for every model
        for name, epoch, ck, dep in models:
            rel = interactions_rel(name, epoch)
            done_as = what("interactions", name, epoch)
            first = announce is not None and not recorded(man, root, root / rel)
            nid = "extract/" + rel[len("interactions/"):-len(".npz")]  # extract/baseline_0, extract/model/epoch_0004
            if len(bounds) == 1:
                add(nid, extract_model, (name, epoch), deps=(dep,), inputs=(ck,), outputs=(Output(rel, done_as),),
                    checkpoint=ck, root=str(root), announce=announce if first else None)
            else:  # one task per chunk of explained samples, then one that joins them
                parts = tuple(chunk_rel(name, epoch, j) for j in range(len(bounds)))
                for j, (a, b) in enumerate(bounds):
                    add(f"{nid}/chunk_{j:03d}", extract_model, (name, epoch), deps=(dep,), inputs=(ck,),
                        outputs=(Output(parts[j], {**done_as, "kind": "interactions_chunk", "chunk": j}),),
                        checkpoint=ck, root=str(root), announce=announce if first and j == 0 else None, chunk=(j, a, b))
                add(nid, merge_chunks, (name, epoch), deps=tuple(f"{nid}/chunk_{j:03d}" for j in range(len(bounds))),
                    inputs=parts, outputs=(Output(rel, done_as),), chunks=parts, root=str(root))
            if first:
                announce = None
            extract_ids.append(nid)
        logs = (TRAINING_LOG,) + tuple(baseline_rel(k, f) for f in ("training_log.json", "data.npz") for k in range(K))
        ints = tuple(interactions_rel(name, epoch) for name, epoch, _, _ in models)
        add("analyse", analyse, deps=("train/model", *(f"train/{baseline_name(k)}" for k in range(K)),
                                      *(f"train/{null_baseline_name(k)}" for k in nulls), "explained", *extract_ids),
            inputs=logs + ints, root=str(root), epochs=tuple(self.epochs))
        self.repair(graph)

    def refine(self) -> bool:
        """After a round: the saved epochs around each unresolved boundary of the analysis just written are added to
        the checkpoints to extract (``checkpoints.refine``); True when there are any (the driver runs another round)."""
        from .refine import next_epochs

        info = (self.phases or {}).get("refinement")
        if not self.cfg.checkpoints.refine or info is None:
            return False
        pruned = {int(epoch_of(Path(rel).name)) for rel in self.man.get("pruned", [])}
        new = [e for e in next_epochs(info) if e not in self.epochs and e not in pruned]
        if not new:
            return False
        where = ", ".join(f"{k} {v['epoch']}" for k, v in info["boundaries"].items() if not v["resolved"])
        self.log(f"refine: extracting the saved epochs {new} around {where}")
        self.epochs = sorted({*self.epochs, *new})
        self.man["refined"] = sorted({*self.man.get("refined", []), *new})
        write_json(self.paths.manifest, self.man)
        return True

    def prune(self) -> list[str]:
        """Delete the saved checkpoints that were never extracted (``checkpoints.refine``), listed in the manifest's
        ``pruned``: a run keeps only the weights it read. Returns their paths."""
        from .integrity import recorded

        if not self.cfg.checkpoints.refine or self.man["stages"].get("analysis") != "done":
            return []
        gone = []
        for e in self.cfg.saved_epochs():
            rel = checkpoint_rel(e)
            if e in self.epochs or not recorded(self.man, self.paths.root, self.paths.root / rel):
                continue
            self.man["files"].pop(rel, None)
            (self.paths.root / rel).unlink(missing_ok=True)
            gone.append(rel)
        if gone:
            self.man["pruned"] = sorted({*self.man.get("pruned", []), *gone})
            write_json(self.paths.manifest, self.man)
            self.log(f"refine: kept the {len(self.epochs)} extracted checkpoints, deleted {len(gone)} saved ones never read")
        return gone

    def repair(self, graph: Graph) -> list[str]:
        """Recorded files of this run that are missing, truncated, edited or swapped: each one's node is run
        again, with every node that depends on it (their records and files are dropped first), so the run ends
        with the tables of an undamaged one. A damaged training output retrains from epoch 0 (its training state
        goes too: the saved state is past the damaged epoch). Returns the lines logged."""
        from ..errors import CorruptFileError
        from .integrity import check_file, recorded

        root, man = self.paths.root, self.man
        mine = [n for n in graph if n.id.startswith(self.prefix) and n.store == self.store_name]
        damaged: dict[str, str] = {}
        for node in mine:
            for out in node.outputs:
                p = root / out.path
                if not recorded(man, root, p):
                    continue
                try:
                    check_file(man, root, p, out.what)
                except CorruptFileError as exc:
                    damaged.setdefault(node.id, _why(exc))
        if not damaged:
            return []
        redo = set(damaged).union(*(graph.descendants(nid) for nid in damaged))  # and everything downstream
        lines = []
        for nid, why in damaged.items():
            lines.append(f"  {why}: recomputing {nid[len(self.prefix):]} and the {len(redo) - 1} step(s) that depend on it"
                         if len(damaged) == 1 else f"  {why}: recomputing {nid[len(self.prefix):]}")
        for node in mine:
            if node.id not in redo:
                continue
            for out in node.outputs:
                man["files"].pop(out.path, None)
                (root / out.path).unlink(missing_ok=True)
            if node.id == self.prefix + "train/model":  # retrain from epoch 0: the saved state is past the damage
                self.paths.train_state.unlink(missing_ok=True)
                man["stages"].pop("train_model", None)
        man["stages"].pop("extract", None)
        man["stages"].pop("analysis", None)
        write_json(self.paths.manifest, man)
        for line in lines:
            self.log(line)
        return lines

    def _kind(self, node: Node) -> str:
        return node.id[len(self.prefix):]

    # -- as nodes are committed ----------------------------------------------------------------
    def on_commit(self, node: Node, result: NodeResult) -> None:
        """Before the node's files are recorded: what goes into the same manifest write."""
        kind, man, v = self._kind(node), self.man, result.value
        if kind == "train/model":
            man.setdefault("training_data", {})["model"] = v["training_data"]
            man["stages"]["train_model"] = "done"
            man["timings"]["train_model"] = round(result.seconds, 3)
        elif kind.startswith(("train/baseline_", "train/null_baseline_")):
            name = kind[len("train/"):]
            man.setdefault("training_data", {})[name] = v["training_data"]
            man["timings"][name] = round(result.seconds, 3)
        elif kind.startswith("extract/"):
            for key in self.timing:  # this invocation's share (a resumed run adds only what it did)
                self.timing[key] += v[key]
                man["timings"][key] = round(man["timings"].get(key, 0.0) + v[key], 3)

    def after_commit(self, node: Node, result: NodeResult) -> None:
        """After the node's files are recorded: log lines, test pause points, the analysis written."""
        from .hooks import _pause_point

        kind, v = self._kind(node), result.value
        if not self.in_process:
            for line in v.get("log", ()):
                self.log(line)
        if kind.startswith(("train/baseline_", "train/null_baseline_")):
            k = int(kind.split("_")[-1])
            null = kind.startswith("train/null_")
            if not null:
                _pause_point(f"baseline:{k}")
            took = result.seconds
            self.log(f"  [baselines] {'null baseline' if null else 'baseline'} {k + 1}/{self.cfg.baselines.k} trained in {took:.1f}s "
                     f"({_rate(v['epochs'], took, 'epochs')}), kept epoch {v['kept']}, eval accuracy {v['eval_accuracy']:.3f}")
        elif kind.startswith("extract/model/epoch_") and "/chunk_" not in kind:
            _pause_point(f"extract:{int(kind.rsplit('_', 1)[1])}")
        elif kind == "analyse":
            self.write_analysis(v["tables"], v["phases"], result.seconds)

    def write_analysis(self, tables: dict, phases: dict, seconds: float) -> None:
        """Mark extraction finished, then write the analysis tables and ``phases.json`` into ``metrics/``."""
        from ..rundir.files import write_analysis
        from .hooks import _pause_point
        from .records import _mark

        paths, man, files = self.paths, self.man, self.files
        ts = time.perf_counter()
        man["timings"].setdefault("masked_forward_s", 0.0)
        man["timings"].setdefault("solve_s", 0.0)
        _mark(paths, man, "extract", self.timing["masked_forward_s"] + self.timing["solve_s"])
        # the tables are rewritten on every invocation: unmark the stage first, so that a kill in between
        # leaves "analysis not finished" rather than records that no longer match
        man["stages"].pop("analysis", None)
        files.forget("metrics/")
        write_json(paths.manifest, man)

        def record(path: Path, name: str) -> None:
            files.done(path, what("table", name=name), save=False)
            if name != "phases.json":
                _pause_point("analysis")

        write_analysis(paths, tables, phases, after_each=record)
        self.phases = phases
        _mark(paths, man, "analysis", seconds + time.perf_counter() - ts)

    def finish(self) -> Path:
        """After the graph: unread checkpoints deleted, the report (unless off), this invocation's total time."""
        self.prune()
        if self.report:
            report_run(self.paths.root, self.log)
        self.man["timings"]["total_last_invocation"] = round(time.perf_counter() - self.t0, 3)
        write_json(self.paths.manifest, self.man)
        self.close()
        return self.paths.root


def _why(exc: Exception) -> str:
    """The first clause of a damaged-file error: which file, and what is wrong with it."""
    return str(exc).split("; ")[0]


def with_execution(cfg: Any, executor: str | None = None, address: str | None = None,
                   shared_path: str | None = None) -> Any:
    """``cfg`` with the executor options of the command line applied (those left None keep the config's);
    checked like the config (:class:`~genphase.errors.ConfigError` naming the value and the fix).

    >>> from genphase.pipeline.config import load_config
    >>> with_execution(load_config("digits"), "ray", address="localhost:6379").execution.address
    'localhost:6379'
    """
    import copy

    from ..errors import ConfigError

    cfg = copy.deepcopy(cfg)
    if executor is not None:
        key = executor.strip().lower() if isinstance(executor, str) else executor
        if key not in ("local", "ray"):
            raise ConfigError(f"--executor {executor!r} is not known; choose local or ray")
        cfg.executor = key
    if address is not None:
        if cfg.executor != "ray":
            raise ConfigError(f"--ray-address {address!r} applies to the Ray executor only; add --executor ray")
        cfg.execution.address = address
    if shared_path is not None:
        if cfg.executor != "ray":
            raise ConfigError(f"--shared-path {str(shared_path)!r} applies to the Ray executor only; add --executor ray")
        cfg.execution.shared_path = str(shared_path)
    cfg.validate()
    return cfg


def require_executor(name: str) -> None:
    """Refuse, before any work, an executor whose extra is not installed (``ray``: ``pip install 'genphase[ray]'``).

    >>> require_executor("local")
    """
    if name == "ray":
        from ..errors import require

        require("ray", "ray", "the Ray executor (--executor ray)")


def make_executor(cfg: Any) -> Any:
    """The executor ``cfg.executor`` names, with ``cfg.execution``'s options (Ray: address, shared path, retries).

    >>> from genphase.pipeline.config import load_config
    >>> make_executor(load_config("digits")).name
    'local'
    """
    from .executors import get_executor

    if cfg.executor == "local":
        return get_executor("local", workers=cfg.execution.workers)
    e = cfg.execution
    opts: dict[str, Any] = {"max_retries": e.max_retries}
    if e.shared_path:
        opts["shared_path"] = e.shared_path
    return get_executor("ray", address=e.address, **opts)


def run_plans(plans: Sequence[RunPlan], executor: Any, *, log: Log = print) -> list[Path]:
    """Run every plan's nodes as one graph on ``executor``, then finish each plan (reports); the run directories.

    A tiny run (2 epochs, K = 2; about a second) without its report:

    >>> import json, shutil, tempfile
    >>> from genphase.pipeline.config import load_config
    >>> cfg = load_config("breast-cancer-mlp", ["training.epochs=2", "checkpoints.schedule=every", "baselines.k=2",
    ...                                          "baselines.epochs=2", "explain.samples=8", "variables.n=4",
    ...                                          "analysis.n_resamples=0"])
    >>> d = Path(tempfile.mkdtemp())
    >>> [root] = run_plans([RunPlan(cfg, d / "run", log=lambda line: None, report=False)], make_executor(cfg),
    ...                    log=lambda line: None)
    >>> json.loads((root / "manifest.json").read_text())["stages"]
    {'train_model': 'done', 'extract': 'done', 'analysis': 'done'}
    >>> sorted(p.name for p in (root / "interactions" / "model").iterdir())
    ['epoch_0000.npz', 'epoch_0001.npz', 'epoch_0002.npz']
    >>> shutil.rmtree(d)
    """
    from .refine import MAX_ROUNDS

    stores = {plan.store_name: plan.store for plan in plans}
    local = getattr(executor, "name", "") == "local"
    for _ in range(1 + MAX_ROUNDS):  # the schedule's checkpoints, then refinement rounds (checkpoints.refine)
        graph = Graph()
        for plan in plans:
            plan.add_nodes(graph)
        report = executor.run(graph, stores, progress=False if local else None, log=None if local else log)
        for plan in plans:
            plan.graph_report = report  # what ran, each node's seconds, the graph's wall time (benchmarks/)
        if not [plan for plan in plans if plan.refine()]:  # every plan asked, none has more to extract
            break
    return [plan.finish() for plan in plans]
