"""The stages of ``genphase run``: top-level functions of the config and a node context
(:class:`~genphase.pipeline.worker.NodeContext`: where to read the run directory's finished files and
where to write the stage's own), so that any worker of an executor can run them. They are numbered
from one list, :data:`~genphase.pipeline.logs.STAGES` (train, baselines, extract, analysis, report):

- ``train``: :func:`train_model`, the model under study, each checkpoint committed as soon as it is saved;
- ``baselines``: :func:`train_baseline`, baseline ``k`` on the reference split (or cross-fitted);
- ``extract``: :func:`write_explained` (the explained samples and their variables), :func:`extract_model`
  (AND-OR interactions of one model, a checkpoint or a baseline; optionally a chunk of its samples)
  and :func:`merge_chunks`;
- ``analysis``: :func:`analyse`, the analysis engine (:func:`genphase.analysis.analyse_run`) on the
  run's files (computed on a worker, written by the driver);
- ``report``: :func:`report_run`, ``report.html`` (on the driver, after the graph).

The driver that puts them on a graph is :mod:`genphase.pipeline.driver`; what every stage shares
(data, splits, explained samples, masker) is :func:`genphase.pipeline.inputs.setup_for`.
"""

from __future__ import annotations

import shutil
import time
from pathlib import Path, PurePosixPath
from typing import Any, Callable, Sequence

import numpy as np

from ..rundir import (
    MODEL,
    SAMPLES,
    TRAIN_STATE,
    TRAINING_LOG,
    VARIABLES,
    baseline_name,
    baseline_rel,
    checkpoint_rel,
    chunk_rel,
    interactions_rel,
    null_baseline_name,
)
from .inputs import Setup, setup_for
from .logs import _rate, stage_title

__all__ = ["train_model", "train_baseline", "write_explained", "extract_model", "merge_chunks", "chunk_bounds",
           "analyse", "report_run"]

Log = Callable[[str], None]


def chunk_bounds(n_samples: int, chunk_samples: int | None) -> list[tuple[int, int]]:
    """``[(start, stop), ...]`` of the explained samples' chunks (one chunk when ``chunk_samples`` is None).

    >>> chunk_bounds(10, 4), chunk_bounds(10, None)
    ([(0, 4), (4, 8), (8, 10)], [(0, 10)])
    """
    step = n_samples if not chunk_samples else int(chunk_samples)
    return [(a, min(a + step, n_samples)) for a in range(0, n_samples, max(1, step))]


def _setup_root(ctx: Any, tok_inputs: Sequence[str]) -> Path | None:
    """The run directory as this worker sees it: the run directory itself (shared transfer), or the
    folder its inputs were copied into (object transfer; the tokenizer is among them when there is one)."""
    if ctx.run_dir is not None:
        return Path(ctx.run_dir)
    if tok_inputs:
        rel = tok_inputs[0]
        return ctx.input(rel).parents[len(PurePosixPath(rel).parts) - 1]
    return None


def _sayer(log: Log | None) -> tuple[Log, list[str]]:
    """``say(line)``: to ``log`` at once (the local executor), or kept and sent back to the driver."""
    lines: list[str] = []
    return (log if log is not None else lines.append), lines


def _start(ctx: Any, cfg: Any, threads: int | None, tok_inputs: Sequence[str]) -> tuple[Setup, Any]:
    from .devices import resolve_device, set_threads

    set_threads(threads if threads is not None else cfg.execution.threads)  # the same count on every executor
    return setup_for(cfg, _setup_root(ctx, tok_inputs)), resolve_device(cfg.device)


# ------------------------------------------------------------------ the stages (run on a worker)


def train_model(ctx: Any, cfg: Any, *, threads: int | None = None, tok_inputs: Sequence[str] = (),
                log: Log | None = None) -> dict:
    """Stage ``train`` (1 of 5): train the model under study; commit each checkpoint as it is saved, then the training log.

    The training state (``checkpoints/model/state.pt`` in the run directory when the worker reaches
    it, else the node's scratch directory) lets a killed training continue where it stopped.

    A two-epoch training of a small MLP, run outside a graph (a node context of temporary folders):

    >>> import tempfile
    >>> from genphase.pipeline.config import load_config
    >>> from genphase.pipeline.graph import Resources
    >>> from genphase.pipeline.worker import NodeContext
    >>> cfg = load_config("breast-cancer-mlp", ["training.epochs=2", "checkpoints.schedule=every", "baselines.k=2",
    ...                                          "baselines.epochs=2", "explain.samples=8", "variables.n=4",
    ...                                          "analysis.n_resamples=0"])
    >>> d = Path(tempfile.mkdtemp())
    >>> outs = tuple(checkpoint_rel(e) for e in cfg.checkpoint_epochs()) + ("checkpoints/training_log.json",)
    >>> ctx = NodeContext("train/model", Resources(), d / "run", d / "out", d / "scratch", outputs=outs)
    >>> r = train_model(ctx, cfg, log=lambda line: None)
    >>> r["training_data"]["split"], r["training_data"]["n"]  # what the model learnt from
    ('train', 427)
    >>> sorted(p.name for p in (d / "out" / "checkpoints" / "model").iterdir())  # epoch 0 = initialisation
    ['epoch_0000.pt', 'epoch_0001.pt', 'epoch_0002.pt']
    >>> shutil.rmtree(d)
    """
    from ..rundir.files import save_torch, write_json
    from .config import config_hash
    from .data import _data_fingerprint
    from .hooks import _pause_point
    from .models import build_model_for
    from .training import TrainSpec, train

    say, lines = _sayer(log)
    su, device = _start(ctx, cfg, threads, tok_inputs)
    ds, modality = su.ds, su.modality
    h = config_hash(cfg)
    epochs = cfg.saved_epochs()  # every epoch with checkpoints.refine: the analysis picks which it extracts
    model = build_model_for(cfg, ds, seed=cfg.training.seed, tokenizer=su.tokenizer)
    spec = TrainSpec(**{k: getattr(cfg.training, k) for k in TrainSpec.__dataclass_fields__})

    def save_ckpt(epoch: int, m: Any) -> None:
        rel = checkpoint_rel(epoch)
        if ctx.is_finished(rel):
            return
        save_torch(ctx.output(rel), m.state_dict())
        ctx.commit(rel)
        if not ctx.is_finished(rel):  # committed only when the node returns: keep a copy for a retry that resumes
            shutil.copyfile(ctx.output(rel), ctx.scratch / Path(rel).name)

    last = {"t": time.perf_counter(), "epoch": None}

    def prog(epoch: int, row: dict) -> None:
        _pause_point(f"train:{epoch}")
        if last["epoch"] is None:
            last["epoch"] = epoch - 1
        if epoch % max(1, cfg.training.epochs // 10) == 0 or epoch == cfg.training.epochs:
            now = time.perf_counter()
            rate = _rate(epoch - last["epoch"], now - last["t"], "epochs")
            last.update(t=now, epoch=epoch)
            say(f"  [train] epoch {epoch}/{cfg.training.epochs}: test loss {row['loss']:.4f}, "
                f"test acc {row['accuracy']:.3f} ({rate})")

    state_path = Path(ctx.run_dir) / TRAIN_STATE if ctx.run_dir is not None else ctx.scratch / "state.pt"
    say(f"{stage_title('train')}: the model under study, {cfg.training.epochs} epochs")
    tlog = train(model, modality, ds.x_train, ds.y_train, spec, device, eval_sets=su.eval_sets,
                 checkpoint_epochs=set(epochs), on_checkpoint=save_ckpt, state_path=state_path, progress=prog,
                 state_meta={"config_hash": h, "kind": "training_state", "model": "model"})
    for e in epochs:  # a retry that resumed from the training state: the earlier checkpoints are in scratch
        rel = checkpoint_rel(e)
        if not ctx.is_finished(rel) and not ctx.output(rel).exists():
            shutil.copyfile(ctx.scratch / Path(rel).name, ctx.output(rel))
    write_json(ctx.output(TRAINING_LOG), tlog)
    return {"training_data": _data_fingerprint("train", ds.x_train, ds.y_train), "log": lines}


def train_baseline(ctx: Any, cfg: Any, k: int, *, threads: int | None = None, tok_inputs: Sequence[str] = (),
                   log: Log | None = None, null: bool = False) -> dict:
    """Stage ``baselines`` (2 of 5): train baseline ``k`` (seed ``baselines.seed + k``) on the reference (test) split, or with
    ``baselines.trained_on=crossfit`` on its folds of the training split; with ``baselines.early_stopping``
    stopped on a held-out slice of its own data; scored on the evaluation split. Writes its weights, its
    training log and ``data.npz`` (what it trained and was stopped on, the epoch it kept).

    ``null=True``: null baseline ``k`` (``checkpoints/null_baseline_k/``): the same model, seed, data and training,
    but the labels of the split it learns from permuted (``numpy.random.default_rng([baselines.seed + k, 1])``),
    so that it can learn nothing that transfers: the ``permuted_labels`` chance level of H-bar.

    >>> import tempfile
    >>> from genphase.pipeline.config import load_config
    >>> from genphase.pipeline.graph import Resources
    >>> from genphase.pipeline.worker import NodeContext
    >>> cfg = load_config("breast-cancer-mlp", ["training.epochs=2", "checkpoints.schedule=every", "baselines.k=2",
    ...                                          "baselines.epochs=2", "explain.samples=8", "variables.n=4",
    ...                                          "analysis.n_resamples=0"])
    >>> d = Path(tempfile.mkdtemp())
    >>> outs = tuple(f"checkpoints/baseline_0/{f}" for f in ("data.npz", "training_log.json", "final.pt"))
    >>> ctx = NodeContext("train/baseline_0", Resources(), d / "run", d / "out", d / "scratch", outputs=outs)
    >>> r = train_baseline(ctx, cfg, 0, log=lambda line: None)
    >>> r["training_data"]["split"], r["training_data"]["n"], r["epochs"], r["kept"]  # the 106 reference samples
    ('test', 106, 2, 2)
    >>> with np.load(ctx.output("checkpoints/baseline_0/data.npz")) as z:
    ...     str(z["split"]), z["train_index"].shape, z["holdout_index"].shape
    ('test', (106,), (0,))
    >>> shutil.rmtree(d)
    """
    from ..rundir.files import save_torch, write_json
    from .baselines import _kept_epoch, _write_baseline_data, baseline_data, baseline_design
    from .config import BASELINE_STOP_PATIENCE
    from .data import _data_fingerprint, _take
    from .models import build_model_for
    from .training import TrainSpec, evaluate, train

    say, lines = _sayer(log)
    su, device = _start(ctx, cfg, threads, tok_inputs)
    ds, modality, tokenizer = su.ds, su.modality, su.tokenizer
    spec = TrainSpec(**{k: getattr(cfg.training, k) for k in TrainSpec.__dataclass_fields__})
    # ---- baseline k: on the reference split, or cross-fitted on parts of the training split
    design = baseline_design(cfg, ds)
    bspec = TrainSpec(**{**spec.__dict__, "epochs": cfg.baselines.epochs or cfg.training.epochs, "lr": cfg.training.lr if cfg.baselines.lr is None else cfg.baselines.lr})
    if k == 0 and not null:
        where = ("the reference (test) split" if design is None else
                 f"cross-fitted parts of the training split ({design.K - design.leave_out} of {design.K} folds each)")
        say(f"{stage_title('baselines')}: {cfg.baselines.k} models trained on {where}, {bspec.epochs} epochs each"
            + (" (early stopping on a held-out slice of each one's data)" if cfg.baselines.early_stopping else ""))
    seed = cfg.baselines.seed + k
    bmodel = build_model_for(cfg, ds, seed=seed, tokenizer=tokenizer)
    bsplit, idx, hold = baseline_data(cfg, ds, design, k)
    src_x, src_y = (ds.x_test, ds.y_test) if bsplit == "test" else (ds.x_train, ds.y_train)
    if null:  # the labels of its whole split permuted once: what it trains and is stopped on carries no signal
        src_y = src_y[np.random.default_rng([seed, 1]).permutation(len(src_y))]
        if k == 0:
            say(f"  [baselines] {cfg.baselines.k} null baselines: the same models and data, labels permuted "
                "(the permuted_labels chance level; baselines.null=false skips them)")
    bx, by = _take(src_x, idx), src_y[idx]
    bsets = {"test": (ds.x_test, ds.y_test)}
    stop_on = None
    if hold.size:
        bsets["holdout"] = (_take(src_x, hold), src_y[hold])
        stop_on = ("holdout", BASELINE_STOP_PATIENCE)
    blog = train(bmodel, modality, bx, by, TrainSpec(**{**bspec.__dict__, "seed": seed}), device, eval_sets=bsets,
                 stop_on=stop_on)
    kept = _kept_epoch(blog, "holdout" if stop_on else None)
    ev_loss, ev_acc = evaluate(bmodel, modality, ds.x_eval, ds.y_eval, device)
    blog.append({"epoch": kept, "split": "eval", "loss": ev_loss, "accuracy": ev_acc})
    _write_baseline_data(ctx.output(baseline_rel(k, "data.npz", null=null)), bsplit, idx, hold, kept)
    write_json(ctx.output(baseline_rel(k, "training_log.json", null=null)), blog)
    save_torch(ctx.output(baseline_rel(k, "final.pt", null=null)), bmodel.state_dict())
    return {"training_data": _data_fingerprint(bsplit, bx, by), "epochs": bspec.epochs, "kept": kept,
            "eval_accuracy": ev_acc, "log": lines}


def write_explained(ctx: Any, cfg: Any, *, threads: int | None = None, tok_inputs: Sequence[str] = (),
                    log: Log | None = None) -> dict:
    """Stage ``extract`` (3 of 5), first: the explained samples (``explained/samples.npz``) and their variables (``variables.json``).

    >>> import tempfile
    >>> from genphase.pipeline.config import load_config
    >>> from genphase.pipeline.graph import Resources
    >>> from genphase.pipeline.worker import NodeContext
    >>> cfg = load_config("breast-cancer-mlp", ["training.epochs=2", "checkpoints.schedule=every", "baselines.k=2",
    ...                                          "baselines.epochs=2", "explain.samples=8", "variables.n=4",
    ...                                          "analysis.n_resamples=0"])
    >>> d = Path(tempfile.mkdtemp())
    >>> outs = ("explained/variables.json", "explained/samples.npz")
    >>> ctx = NodeContext("explained", Resources(), d, d / "out", d / "scratch", outputs=outs)
    >>> write_explained(ctx, cfg)
    {'log': []}
    >>> with np.load(ctx.output("explained/samples.npz")) as z:  # 8 training + 8 reference samples
    ...     sorted(z.files), z["inputs"].shape, z["split"][[0, 8]].tolist()
    (['dataset_index', 'inputs', 'labels', 'split'], (16, 30), ['train', 'test'])
    >>> shutil.rmtree(d)
    """
    from ..rundir.files import atomic_write, write_json

    su, _ = _start(ctx, cfg, threads, tok_inputs)
    x_exp, y_exp, split_exp, sel = su.x_exp, su.y_exp, su.split_exp, su.sel
    arr = np.asarray(x_exp) if not isinstance(x_exp, list) else np.asarray(x_exp, dtype=object).astype(str)
    write_json(ctx.output(VARIABLES), su.var_info)
    atomic_write(ctx.output(SAMPLES), lambda fh: np.savez_compressed(
        fh, inputs=arr, labels=y_exp, split=split_exp, dataset_index=np.concatenate([sel[k] for k in sel])))
    return {"log": []}


def _extract(cfg: Any, su: Setup, m: Any, device: Any, timing: dict, rows: tuple[int, int] | None = None) -> Any:
    """The one extraction path (:func:`genphase.extraction.extract`) on the explained samples; each half timed
    (manifest timings).

    Checkpoints and baselines take this same path, with no warm start from the previous
    checkpoint: on a game with tied optima a warm start can pick another optimum, and the model
    would then be measured differently from an identical baseline. ``rows``: only the explained
    samples ``start:stop`` (a chunk; the solver gives each sample the same effects in any batch)."""
    import torch

    from ..extraction import extract
    from ..maskers.base import take_rows
    from .models import _inputs_for

    masker, y_exp, m_inputs = su.masker, su.y_exp, su.m_inputs
    if rows is not None:
        m_inputs, y_exp = take_rows(m_inputs, torch.arange(*rows)), y_exp[rows[0]:rows[1]]
    out = extract(m, _inputs_for(m_inputs, m, masker, su.ds.modality), torch.as_tensor(y_exp), masker,
                  cfg.interactions, solve_device=device, variables=su.var_info["names"])
    timing["masked_forward_s"] += out.masked_forward_s
    timing["solve_s"] += out.solve_s
    return out.interactions


def extract_model(ctx: Any, cfg: Any, model_name: str, epoch: int | None, *, checkpoint: str, root: str = "",
                  threads: int | None = None, tok_inputs: Sequence[str] = (), announce: str | None = None,
                  log: Log | None = None, chunk: tuple[int, int, int] | None = None) -> dict:
    """Stage ``extract`` (3 of 5): AND-OR interactions of one model: the model under study at checkpoint ``epoch``
    (``model_name="model"``) or baseline ``k`` (``model_name="baseline_k"``, ``epoch=None``), read from
    the run file ``checkpoint``. ``chunk=(j, start, stop)``: only the explained samples ``start:stop``,
    written as chunk ``j`` (:func:`merge_chunks` joins the chunks; ``execution.chunk_samples``).

    Here the checkpoint is the model at initialisation, saved by hand:

    >>> import tempfile, torch
    >>> from genphase.io import load_interactions
    >>> from genphase.pipeline.config import load_config
    >>> from genphase.pipeline.graph import Resources
    >>> from genphase.pipeline.worker import NodeContext
    >>> cfg = load_config("breast-cancer-mlp", ["training.epochs=2", "checkpoints.schedule=every", "baselines.k=2",
    ...                                          "baselines.epochs=2", "explain.samples=8", "variables.n=4",
    ...                                          "analysis.n_resamples=0"])
    >>> d = Path(tempfile.mkdtemp())
    >>> ck, rel = "checkpoints/model/epoch_0000.pt", "interactions/model/epoch_0000.npz"
    >>> (d / ck).parent.mkdir(parents=True)
    >>> torch.save(setup_for(cfg, None).model.state_dict(), d / ck)
    >>> ctx = NodeContext("extract", Resources(), d, d / "out", d / "scratch", inputs=(ck,), outputs=(rel,))
    >>> sorted(extract_model(ctx, cfg, "model", 0, checkpoint=ck))
    ['log', 'masked_forward_s', 'solve_s']
    >>> res = load_interactions(ctx.output(rel))  # n = 4 variables, the 16 explained samples
    >>> res.n, res.batch_shape, res.metadata["run_file"]["epoch"]
    (4, (16,), 0)
    >>> shutil.rmtree(d)
    """
    from .._readers import run_file_fix
    from ..io import save_interactions
    from .config import config_hash
    from .models import _load, build_model_for

    say, lines = _sayer(log)
    if announce:
        say(announce)
    su, device = _start(ctx, cfg, threads, tok_inputs)
    h = config_hash(cfg)
    timing = {"masked_forward_s": 0.0, "solve_s": 0.0}
    rows = None if chunk is None else (chunk[1], chunk[2])
    n_masked = (len(su.y_exp) if rows is None else rows[1] - rows[0]) * 2 ** su.masker.n
    seed = cfg.training.seed if epoch is not None else cfg.baselines.seed + int(model_name.rsplit("_", 1)[1])
    ts = time.perf_counter()
    ck = ctx.input(checkpoint)
    res = _extract(cfg, su, _load(build_model_for(cfg, su.ds, seed, su.tokenizer), ck, device,
                                  run_file_fix(Path(root) if root else None)), device, timing, rows)
    res.metadata["run_file"] = {"model": model_name, "epoch": epoch, "config_hash": h}
    took = time.perf_counter() - ts
    if chunk is not None:
        res.metadata["chunk"] = {"index": chunk[0], "start": chunk[1], "stop": chunk[2]}
        save_interactions(res, ctx.output(chunk_rel(model_name, epoch, chunk[0])))
        say(f"  [extract] {model_name if epoch is None else f'epoch {epoch}'}, samples {rows[0]}-{rows[1] - 1}: "
            f"{took:.1f}s ({_rate(n_masked, took, 'masked inputs')})")
        return {**timing, "log": lines}
    save_interactions(res, ctx.output(interactions_rel(model_name, epoch)))
    if epoch is None:
        k = int(model_name.rsplit("_", 1)[1])
        kind = "null baseline" if model_name.startswith("null_") else "baseline"
        say(f"  [extract] {kind} {k + 1}/{cfg.baselines.k}: {took:.1f}s ({_rate(n_masked, took, 'masked inputs')})")
    else:
        say(f"  [extract] epoch {epoch}: {took:.1f}s ({_rate(n_masked, took, 'masked inputs')}), max gap {float(res.gap.max()):.1e}")
    return {**timing, "log": lines}


def merge_chunks(ctx: Any, cfg: Any, model_name: str, epoch: int | None, *, chunks: Sequence[str], root: str = "",
                 threads: int | None = None, tok_inputs: Sequence[str] = (), log: Log | None = None) -> dict:
    """Stage ``extract`` (3 of 5), with ``execution.chunk_samples``: one model's interactions file from its chunks, in the
    order of the explained samples; the metadata is the first chunk's, with ``chunks`` (their count).

    >>> import tempfile, numpy as np
    >>> from genphase import extract_and_or, load_interactions
    >>> from genphase.pipeline.config import load_config
    >>> from genphase.pipeline.graph import Resources
    >>> from genphase.pipeline.worker import NodeContext
    >>> d = Path(tempfile.mkdtemp())
    >>> parts = [f"interactions/baseline_0.chunk_{j:03d}.npz" for j in range(2)]
    >>> for j, rel in enumerate(parts):
    ...     _ = extract_and_or(np.arange(8.0).reshape(2, 4) + j).save(d / rel)
    >>> ctx = NodeContext("merge", Resources(), d, d / "out", d / "scratch", inputs=tuple(parts),
    ...                   outputs=("interactions/baseline_0.npz",))
    >>> _ = merge_chunks(ctx, load_config("digits"), "baseline_0", None, chunks=parts)
    >>> res = load_interactions(ctx.output("interactions/baseline_0.npz"))
    >>> res.batch_shape, res.values[:, 1].tolist(), res.metadata["chunks"]
    ((4,), [1.0, 5.0, 2.0, 6.0], 2)
    >>> shutil.rmtree(d)
    """
    from dataclasses import replace

    from .._interactions_file import ARRAY_FIELDS
    from .._readers import run_file_fix
    from ..io import _load_interactions, save_interactions

    fix = run_file_fix(Path(root) if root else None)
    parts = [_load_interactions(ctx.input(rel), fix) for rel in chunks]
    meta = {k: v for k, v in parts[0].metadata.items() if k != "chunk"}
    meta["chunks"] = len(parts)
    res = replace(parts[0], **{f: np.concatenate([getattr(r, f) for r in parts]) for f in ARRAY_FIELDS}, metadata=meta)
    save_interactions(res, ctx.output(interactions_rel(model_name, epoch)))
    return {"masked_forward_s": 0.0, "solve_s": 0.0, "log": []}


def analyse(ctx: Any, cfg: Any, *, root: str, threads: int | None = None, tok_inputs: Sequence[str] = (),
            log: Log | None = None, epochs: Sequence[int] | None = None) -> dict:
    """Stage ``analysis`` (4 of 5): the metric tables and phases from the run's interactions and training logs.

    ``epochs``: the extracted checkpoints to analyse (default: the schedule's, ``cfg.checkpoint_epochs()``). With
    ``checkpoints.refine``, ``phases.json`` gains ``refinement`` (:func:`genphase.pipeline.refine.refinement`).

    Returns them (``tables``: name -> DataFrame, ``phases``: ``phases.json``'s mapping); the driver
    writes them into ``metrics/`` (:meth:`RunPlan.write_analysis`), every invocation anew.

    Here on the files of a tiny finished run (2 epochs, K = 2; about a second):

    >>> import tempfile
    >>> from genphase.pipeline.driver import RunPlan, make_executor, run_plans
    >>> from genphase.pipeline.config import load_config
    >>> from genphase.pipeline.graph import Resources
    >>> from genphase.pipeline.worker import NodeContext
    >>> cfg = load_config("breast-cancer-mlp", ["training.epochs=2", "checkpoints.schedule=every", "baselines.k=2",
    ...                                          "baselines.epochs=2", "explain.samples=8", "variables.n=4",
    ...                                          "analysis.n_resamples=0"])
    >>> d = Path(tempfile.mkdtemp())
    >>> plan = RunPlan(cfg, d / "run", log=lambda line: None, report=False)
    >>> root = run_plans([plan], make_executor(cfg), log=lambda line: None)[0]
    >>> logs = ["checkpoints/training_log.json"] + [f"checkpoints/baseline_{k}/{f}" for k in range(2)
    ...                                             for f in ("training_log.json", "data.npz")]
    >>> ints = [interactions_rel(name(k)) for k in range(2) for name in (baseline_name, null_baseline_name)] + [
    ...     interactions_rel(MODEL, e) for e in (0, 1, 2)]
    >>> ctx = NodeContext("analyse", Resources(), root, d / "out", d / "scratch", inputs=tuple(logs + ints))
    >>> out = analyse(ctx, cfg, root=str(root))
    >>> out["tables"]["h_bar"].shape  # 3 checkpoints x 16 samples; columns checkpoint, sample, split, h_bar
    (48, 4)
    >>> {"training", "samples", "baselines", "phases"} <= set(out["tables"]), out["phases"]["baselines_trained_on"]
    (True, 'reference')
    >>> shutil.rmtree(d)
    """
    from .._readers import run_file_fix
    from ..analysis import BaselineRecord, analyse_run
    from ..io import _load_interactions
    from ..rundir.files import read_json
    from .baselines import _read_baseline_data
    from .config import config_hash
    from .data import VARIES_PER_SAMPLE
    from .integrity import check_run_file_meta

    say, lines = _sayer(log)
    su, _ = _start(ctx, cfg, threads, tok_inputs)
    h = config_hash(cfg)
    fix = run_file_fix(Path(root))
    K = cfg.baselines.k

    def load_ints(rel: str, model_name: str, epoch: int | None):
        res = _load_interactions(ctx.input(rel), fix)
        check_run_file_meta(Path(root) / rel, res.metadata, {"model": model_name, "epoch": epoch, "config_hash": h}, Path(root))
        return res

    say(f"{stage_title('analysis')}: tables and phases")
    baselines = [load_ints(interactions_rel(baseline_name(k)), f"baseline_{k}", None) for k in range(K)]
    nulls = ([load_ints(interactions_rel(null_baseline_name(k)), null_baseline_name(k), None) for k in range(K)]
             if cfg.baselines.null else None)
    epochs = sorted(int(e) for e in (cfg.checkpoint_epochs() if epochs is None else epochs))
    series = [(e, load_ints(interactions_rel(MODEL, e), "model", e)) for e in epochs]
    records = []
    for k in range(K):
        d = _read_baseline_data(ctx.input(baseline_rel(k, "data.npz")), fix)
        records.append(BaselineRecord(d["split"], d["train_index"], d["holdout_index"], d["epoch"],
                                      read_json(ctx.input(baseline_rel(k, "training_log.json")), fix)))
    out = analyse_run(series, baselines, split=su.split_exp, labels=su.y_exp, settings=cfg.settings, records=records,
                      training=read_json(ctx.input(TRAINING_LOG), fix),
                      dataset_index=np.concatenate([su.sel[k] for k in su.sel]),
                      variables_shared=su.ds.modality not in VARIES_PER_SAMPLE, null_baselines=nulls,
                      null_reason="baselines.null is false: no null baselines were trained",
                      label_flipped=np.concatenate([np.isin(su.sel["train"], su.ds.meta.get("noisy_train_indices", [])),
                                                    np.zeros(su.split_exp.size - len(su.sel["train"]), dtype=bool)]),
                      label_noise=cfg.data.label_noise > 0)
    for w in out.warnings:
        say(f"  warning: {w}")
    phases = out.phases
    if cfg.checkpoints.refine:
        from .refine import refinement

        info = refinement(phases, epochs, cfg.saved_epochs())
        phases = {**phases, "refinement": info}
        b = phases.get("boundaries") or {}
        if info["resolved"] and not phases.get("three_phases") and None not in (b.get("phase1_end"), b.get("phase3_start")):
            between = [e for e in cfg.saved_epochs() if b["phase1_end"] < e < b["phase3_start"]]
            note = (f"resolved to the saved epochs: {len(between)} saved epoch(s) lie between the end of phase 1 and the "
                    f"start of phase 3, so at the resolution of one epoch phase 2 is not observed (phases 1 and 3 "
                    f"meet); only checkpoints within an epoch could show more")
            phases["phase2"] = {**phases.get("phase2", {}), "note": note}
            phases["message"] = phases["reason"] = phases["message"] + f" [{note}]"
    return {"tables": out.tables, "phases": phases, "log": lines}


def report_run(root: str | Path, log: Log = print) -> Path:
    """Stage ``report`` (5 of 5, on the driver): ``report.html`` from the run directory's tables.

    Before any stage has run, the page says that every figure's table is missing:

    >>> import tempfile
    >>> d = Path(tempfile.mkdtemp())
    >>> lines = []
    >>> page = report_run(d, log=lines.append)
    >>> lines == ["stage 5/5 report", f"report: {d / 'report.html'}"], page.is_file()
    (True, True)
    >>> shutil.rmtree(d)
    """
    from ..report import build_report

    log(stage_title("report"))
    page = build_report(Path(root))
    log(f"report: {page}")
    return page


def __getattr__(name: str):
    """The driver's names (``RunPlan``, ``run_plans``...) lived here before: deprecated, see :mod:`genphase.pipeline.driver`."""
    from .._deprecated import moved

    homes = {n: f"genphase.pipeline.driver:{n}" for n in ("RunPlan", "with_execution", "require_executor",
                                                         "make_executor", "run_plans")}
    return moved(__name__, homes)(name)
