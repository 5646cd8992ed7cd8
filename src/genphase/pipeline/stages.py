"""A run as a small graph of stages, run by an executor (``local`` or ``ray``; docs/scaling.md).

The stages of ``genphase run`` are top-level functions of the config and a node context
(:class:`~genphase.pipeline.graph.NodeContext`: where to read the run directory's finished files
and where to write the stage's own), so that any worker of an executor can run them:

- :func:`train_model`: the model under study, each checkpoint committed as soon as it is saved;
- :func:`train_baseline`: baseline ``k`` on the reference (test) split;
- :func:`write_explained`: the explained samples and their variables;
- :func:`extract_model`: AND-OR interactions of one model (a checkpoint or a baseline);
- :func:`analyse`: the metric tables and phases (computed on a worker, written by the driver);
- :func:`report_run`: ``report.html`` (on the driver, after the graph).

:class:`RunPlan` is the driver's side of one run directory: it prepares the directory (manifest,
config, tokenizer, splits), adds the run's nodes to a graph and, as each node is committed, keeps
the manifest's stages and timings and prints the run's log lines. ``genphase run`` is one plan on
one graph; ``genphase study`` puts every seed's plan on one graph (:func:`run_plans`).

A worker recomputes what every stage shares (data, splits, explained samples, masker) from the
config, once per process (:func:`setup_for`); the driver computes it first, so a bad config fails
before any work starts.
"""

from __future__ import annotations

import shutil
import time
from dataclasses import dataclass
from pathlib import Path, PurePosixPath
from typing import Any, Callable, Sequence

import numpy as np

from .graph import Graph, Node, NodeResult, Output, Resources, RunStore

__all__ = ["Setup", "setup_for", "with_execution", "train_model", "train_baseline", "write_explained", "extract_model",
           "merge_chunks", "chunk_bounds", "analyse",
           "report_run", "RunPlan", "require_executor", "make_executor", "run_plans"]

Log = Callable[[str], None]

TOKENIZER_DIR = "checkpoints/tokenizer/"


def _ckpt_rel(epoch: int) -> str:
    return f"checkpoints/model/epoch_{epoch:04d}.pt"


def _ints_rel(model_name: str, epoch: int | None) -> str:
    return f"interactions/{model_name}.npz" if epoch is None else f"interactions/model/epoch_{epoch:04d}.npz"


def _chunk_rel(model_name: str, epoch: int | None, j: int) -> str:
    """Run file of chunk ``j`` of one model's interactions (``execution.chunk_samples``)."""
    return _ints_rel(model_name, epoch)[: -len(".npz")] + f".chunk_{j:03d}.npz"


def chunk_bounds(n_samples: int, chunk_samples: int | None) -> list[tuple[int, int]]:
    """``[(start, stop), ...]`` of the explained samples' chunks (one chunk when ``chunk_samples`` is None).

    >>> chunk_bounds(10, 4), chunk_bounds(10, None)
    ([(0, 4), (4, 8), (8, 10)], [(0, 10)])
    """
    step = n_samples if not chunk_samples else int(chunk_samples)
    return [(a, min(a + step, n_samples)) for a in range(0, n_samples, max(1, step))]


def _ckpt_what(e: int) -> dict:
    return {"kind": "checkpoint", "model": "model", "epoch": e}


def _ints_what(model_name: str, epoch: int | None) -> dict:
    return {"kind": "interactions", "model": model_name, **({} if epoch is None else {"epoch": epoch})}


# ------------------------------------------------------------------ what every stage shares


@dataclass
class Setup:
    """Data, task, tokenizer, a fresh model (initialisation only), explained samples and masker of a run.

    The explained samples are ``explain.samples`` training samples, then as many reference ("test") ones:

    >>> from genphase.pipeline.config import load_config
    >>> su = setup_for(load_config("breast-cancer-mlp", ["explain.samples=8", "variables.n=4"]), None)
    >>> su.x_exp.shape, su.y_exp.shape, su.split_exp[[0, 8]].tolist(), su.masker.n, sorted(su.eval_sets)
    ((16, 30), (16,), ['train', 'test'], 4, ['eval', 'test', 'train'])
    """

    ds: Any
    task: Any
    tokenizer: Any
    model: Any
    sel: dict
    x_exp: Any
    y_exp: np.ndarray
    split_exp: np.ndarray
    eval_sets: dict
    masker: Any
    m_inputs: Any
    var_info: dict


_SETUPS: dict[tuple, Setup] = {}
_MAX_SETUPS = 8


def setup_for(cfg: Any, root: Path | None) -> Setup:
    """What the stages of ``cfg`` share, computed once per process and run directory ``root`` (where the
    run's tokenizer lies, for ``bert-scratch``; None when this worker has no tokenizer to read).

    >>> from genphase.pipeline.config import load_config
    >>> su = setup_for(load_config("breast-cancer-mlp", ["explain.samples=8", "variables.n=4"]), None)
    >>> su.y_exp.shape, su.var_info["modality"]
    ((16,), 'tabular')
    """
    from .config import config_hash
    from .shared import _take, build_model_for, load_data, run_tokenizer, select_samples
    from .tasks import make_task

    tok_id = None
    if root is not None:
        tok = Path(root) / TOKENIZER_DIR / "tokenizer.json"
        tok_id = (str(root), tok.stat().st_mtime_ns if tok.exists() else None)
    key = (config_hash(cfg), cfg.device, tok_id)
    if key in _SETUPS:
        return _SETUPS[key]
    ds = load_data(cfg)
    task = make_task(ds.modality, cfg)
    tokenizer = run_tokenizer(cfg, ds, root)
    model = build_model_for(cfg, ds, seed=cfg.training.seed, tokenizer=tokenizer)
    sel = select_samples(cfg, ds, usable=task.usable(model))
    x_exp = _take(ds.x_train, sel["train"]) + _take(ds.x_test, sel["test"]) if isinstance(ds.x_train, list) else np.concatenate(
        [_take(ds.x_train, sel["train"]), _take(ds.x_test, sel["test"])]
    )
    y_exp = np.concatenate([ds.y_train[sel["train"]], ds.y_test[sel["test"]]]).astype(np.int64)
    split_exp = np.array(["train"] * len(sel["train"]) + ["test"] * len(sel["test"]))
    # the model is scored on all three splits (training log `split`: train, test = the reference split, eval);
    # "test" last: the progress line below reads the last row of an epoch
    eval_sets = {"train": (ds.x_train, ds.y_train), "eval": (ds.x_eval, ds.y_eval), "test": (ds.x_test, ds.y_test)}
    # the masker is built before any training: bad variables fail first
    masker, m_inputs, var_info = task.masker_and_inputs(model, ds, x_exp)
    su = Setup(ds, task, tokenizer, model, sel, x_exp, y_exp, split_exp, eval_sets, masker, m_inputs, var_info)
    if len(_SETUPS) >= _MAX_SETUPS:
        _SETUPS.pop(next(iter(_SETUPS)))
    _SETUPS[key] = su
    return su


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
    from .shared import resolve_device, set_threads

    set_threads(threads)
    return setup_for(cfg, _setup_root(ctx, tok_inputs)), resolve_device(cfg.device)


# ------------------------------------------------------------------ the stages (run on a worker)


def train_model(ctx: Any, cfg: Any, *, threads: int | None = None, tok_inputs: Sequence[str] = (),
                log: Log | None = None) -> dict:
    """Stage 1: train the model under study; commit each checkpoint as it is saved, then the training log.

    The training state (``checkpoints/model/state.pt`` in the run directory when the worker reaches
    it, else the node's scratch directory) lets a killed training continue where it stopped.

    A two-epoch training of a small MLP, run outside a graph (a node context of temporary folders):

    >>> import tempfile
    >>> from genphase.pipeline.config import load_config
    >>> from genphase.pipeline.graph import NodeContext, Resources
    >>> cfg = load_config("breast-cancer-mlp", ["training.epochs=2", "checkpoints.schedule=every", "baselines.k=2",
    ...                                          "baselines.epochs=2", "explain.samples=8", "variables.n=4",
    ...                                          "analysis.n_resamples=0"])
    >>> d = Path(tempfile.mkdtemp())
    >>> outs = tuple(_ckpt_rel(e) for e in cfg.checkpoint_epochs()) + ("checkpoints/training_log.json",)
    >>> ctx = NodeContext("train/model", Resources(), d / "run", d / "out", d / "scratch", outputs=outs)
    >>> r = train_model(ctx, cfg, log=lambda line: None)
    >>> r["training_data"]["split"], r["training_data"]["n"]  # what the model learnt from
    ('train', 427)
    >>> sorted(p.name for p in (d / "out" / "checkpoints" / "model").iterdir())  # epoch 0 = initialisation
    ['epoch_0000.pt', 'epoch_0001.pt', 'epoch_0002.pt']
    >>> shutil.rmtree(d)
    """
    from .config import config_hash
    from .shared import _data_fingerprint, _pause_point, _rate, build_model_for
    from .storage import save_torch, write_json
    from .training import TrainSpec, train

    say, lines = _sayer(log)
    su, device = _start(ctx, cfg, threads, tok_inputs)
    ds, task = su.ds, su.task
    h = config_hash(cfg)
    epochs = cfg.checkpoint_epochs()
    model = build_model_for(cfg, ds, seed=cfg.training.seed, tokenizer=su.tokenizer)
    spec = TrainSpec(**{k: getattr(cfg.training, k) for k in TrainSpec.__dataclass_fields__})

    def save_ckpt(epoch: int, m: Any) -> None:
        rel = _ckpt_rel(epoch)
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

    state_path = Path(ctx.run_dir) / "checkpoints" / "model" / "state.pt" if ctx.run_dir is not None else ctx.scratch / "state.pt"
    say(f"stage 1/5 train: the model under study, {cfg.training.epochs} epochs")
    tlog = train(model, task, ds.x_train, ds.y_train, spec, device, eval_sets=su.eval_sets,
                 checkpoint_epochs=set(epochs), on_checkpoint=save_ckpt, state_path=state_path, progress=prog,
                 state_meta={"config_hash": h, "kind": "training_state", "model": "model"})
    for e in epochs:  # a retry that resumed from the training state: the earlier checkpoints are in scratch
        rel = _ckpt_rel(e)
        if not ctx.is_finished(rel) and not ctx.output(rel).exists():
            shutil.copyfile(ctx.scratch / Path(rel).name, ctx.output(rel))
    write_json(ctx.output("checkpoints/training_log.json"), tlog)
    return {"training_data": _data_fingerprint("train", ds.x_train, ds.y_train), "log": lines}


def train_baseline(ctx: Any, cfg: Any, k: int, *, threads: int | None = None, tok_inputs: Sequence[str] = (),
                   log: Log | None = None) -> dict:
    """Stage 2: train baseline ``k`` (seed ``baselines.seed + k``) on the reference (test) split, or with
    ``baselines.trained_on=crossfit`` on its folds of the training split; with ``baselines.early_stopping``
    stopped on a held-out slice of its own data; scored on the evaluation split. Writes its weights, its
    training log and ``data.npz`` (what it trained and was stopped on, the epoch it kept).

    >>> import tempfile
    >>> from genphase.pipeline.config import load_config
    >>> from genphase.pipeline.graph import NodeContext, Resources
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
    from .config import BASELINE_STOP_PATIENCE
    from .shared import (
        _data_fingerprint,
        _kept_epoch,
        _take,
        _write_baseline_data,
        baseline_data,
        baseline_design,
        build_model_for,
    )
    from .storage import save_torch, write_json
    from .training import TrainSpec, evaluate, train

    say, lines = _sayer(log)
    su, device = _start(ctx, cfg, threads, tok_inputs)
    ds, task, tokenizer = su.ds, su.task, su.tokenizer
    spec = TrainSpec(**{k: getattr(cfg.training, k) for k in TrainSpec.__dataclass_fields__})
    # ---- baseline k: on the reference split, or cross-fitted on parts of the training split
    design = baseline_design(cfg, ds)
    bspec = TrainSpec(**{**spec.__dict__, "epochs": cfg.baselines.epochs or cfg.training.epochs, "lr": cfg.training.lr if cfg.baselines.lr is None else cfg.baselines.lr})
    if k == 0:
        where = ("the reference (test) split" if design is None else
                 f"cross-fitted parts of the training split ({design.K - design.leave_out} of {design.K} folds each)")
        say(f"stage 2/5 baselines: {cfg.baselines.k} models trained on {where}, {bspec.epochs} epochs each"
            + (" (early stopping on a held-out slice of each one's data)" if cfg.baselines.early_stopping else ""))
    seed = cfg.baselines.seed + k
    bmodel = build_model_for(cfg, ds, seed=seed, tokenizer=tokenizer)
    bsplit, idx, hold = baseline_data(cfg, ds, design, k)
    src_x, src_y = (ds.x_test, ds.y_test) if bsplit == "test" else (ds.x_train, ds.y_train)
    bx, by = _take(src_x, idx), src_y[idx]
    bsets = {"test": (ds.x_test, ds.y_test)}
    stop_on = None
    if hold.size:
        bsets["holdout"] = (_take(src_x, hold), src_y[hold])
        stop_on = ("holdout", BASELINE_STOP_PATIENCE)
    blog = train(bmodel, task, bx, by, TrainSpec(**{**bspec.__dict__, "seed": seed}), device, eval_sets=bsets,
                 stop_on=stop_on)
    kept = _kept_epoch(blog, "holdout" if stop_on else None)
    ev_loss, ev_acc = evaluate(bmodel, task, ds.x_eval, ds.y_eval, device)
    blog.append({"epoch": kept, "split": "eval", "loss": ev_loss, "accuracy": ev_acc})
    _write_baseline_data(ctx.output(f"checkpoints/baseline_{k}/data.npz"), bsplit, idx, hold, kept)
    write_json(ctx.output(f"checkpoints/baseline_{k}/training_log.json"), blog)
    save_torch(ctx.output(f"checkpoints/baseline_{k}/final.pt"), bmodel.state_dict())
    return {"training_data": _data_fingerprint(bsplit, bx, by), "epochs": bspec.epochs, "kept": kept,
            "eval_accuracy": ev_acc, "log": lines}


def write_explained(ctx: Any, cfg: Any, *, threads: int | None = None, tok_inputs: Sequence[str] = (),
                    log: Log | None = None) -> dict:
    """Stage 3: the explained samples (``explained/samples.npz``) and their variables (``variables.json``).

    >>> import tempfile
    >>> from genphase.pipeline.config import load_config
    >>> from genphase.pipeline.graph import NodeContext, Resources
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
    from .storage import atomic_write, write_json

    su, _ = _start(ctx, cfg, threads, tok_inputs)
    x_exp, y_exp, split_exp, sel = su.x_exp, su.y_exp, su.split_exp, su.sel
    arr = np.asarray(x_exp) if not isinstance(x_exp, list) else np.asarray(x_exp, dtype=object).astype(str)
    write_json(ctx.output("explained/variables.json"), su.var_info)
    atomic_write(ctx.output("explained/samples.npz"), lambda fh: np.savez_compressed(
        fh, inputs=arr, labels=y_exp, split=split_exp, dataset_index=np.concatenate([sel["train"], sel["test"]])))
    return {"log": []}


def _extract(cfg: Any, su: Setup, m: Any, device: Any, timing: dict, rows: tuple[int, int] | None = None) -> Any:
    """Masked forward passes, then the solver; each timed separately (manifest timings).

    Checkpoints and baselines take this same path, with no warm start from the previous
    checkpoint: on a game with tied optima a warm start can pick another optimum, and the model
    would then be measured differently from an identical baseline. ``rows``: only the explained
    samples ``start:stop`` (a chunk; the solver gives each sample the same effects in any batch)."""
    import torch

    from ..interactions import extract_and_or
    from ..masked_outputs import masked_values
    from ..maskers.base import take_rows
    from .shared import _inputs_for

    ic = cfg.interactions
    masker, y_exp, var_info, m_inputs = su.masker, su.y_exp, su.var_info, su.m_inputs
    if rows is not None:
        m_inputs, y_exp = take_rows(m_inputs, torch.arange(*rows)), y_exp[rows[0]:rows[1]]
    ts = time.perf_counter()
    values = masked_values(m, _inputs_for(m_inputs, m, masker, su.ds.modality), torch.as_tensor(y_exp), masker,
                           value_fn=ic.value_function, chunk_size=ic.chunk_size)
    tm = time.perf_counter()
    ties = {"ties": ic.ties} if ic.ties != "cold-start" else {}
    res = extract_and_or(values, noise_bound=ic.noise_bound, solver=ic.solver, tol=ic.tol,
                         variables=var_info["names"], device=device, **ties,
                         metadata={"value_function": ic.value_function, "masker": masker.describe()})
    timing["masked_forward_s"] += tm - ts
    timing["solve_s"] += time.perf_counter() - tm
    return res


def extract_model(ctx: Any, cfg: Any, model_name: str, epoch: int | None, *, checkpoint: str, root: str = "",
                  threads: int | None = None, tok_inputs: Sequence[str] = (), announce: str | None = None,
                  log: Log | None = None, chunk: tuple[int, int, int] | None = None) -> dict:
    """Stage 4: AND-OR interactions of one model: the model under study at checkpoint ``epoch``
    (``model_name="model"``) or baseline ``k`` (``model_name="baseline_k"``, ``epoch=None``), read from
    the run file ``checkpoint``. ``chunk=(j, start, stop)``: only the explained samples ``start:stop``,
    written as chunk ``j`` (:func:`merge_chunks` joins the chunks; ``execution.chunk_samples``).

    Here the checkpoint is the model at initialisation, saved by hand:

    >>> import tempfile, torch
    >>> from genphase.io import load_interactions
    >>> from genphase.pipeline.config import load_config
    >>> from genphase.pipeline.graph import NodeContext, Resources
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
    from .shared import _load, _rate, build_model_for

    say, lines = _sayer(log)
    if announce:
        say(announce)
    su, device = _start(ctx, cfg, threads, tok_inputs)
    h = config_hash(cfg)
    timing = {"masked_forward_s": 0.0, "solve_s": 0.0}
    rows = None if chunk is None else (chunk[1], chunk[2])
    n_masked = (len(su.y_exp) if rows is None else rows[1] - rows[0]) * 2 ** su.masker.n
    seed = cfg.training.seed if epoch is not None else cfg.baselines.seed + int(model_name.split("_")[1])
    ts = time.perf_counter()
    ck = ctx.input(checkpoint)
    res = _extract(cfg, su, _load(build_model_for(cfg, su.ds, seed, su.tokenizer), ck, device,
                                  run_file_fix(Path(root) if root else None)), device, timing, rows)
    res.metadata["run_file"] = {"model": model_name, "epoch": epoch, "config_hash": h}
    took = time.perf_counter() - ts
    if chunk is not None:
        res.metadata["chunk"] = {"index": chunk[0], "start": chunk[1], "stop": chunk[2]}
        save_interactions(res, ctx.output(_chunk_rel(model_name, epoch, chunk[0])))
        say(f"  [extract] {model_name if epoch is None else f'epoch {epoch}'}, samples {rows[0]}-{rows[1] - 1}: "
            f"{took:.1f}s ({_rate(n_masked, took, 'masked inputs')})")
        return {**timing, "log": lines}
    save_interactions(res, ctx.output(_ints_rel(model_name, epoch)))
    if epoch is None:
        k = int(model_name.split("_")[1])
        say(f"  [extract] baseline {k + 1}/{cfg.baselines.k}: {took:.1f}s ({_rate(n_masked, took, 'masked inputs')})")
    else:
        say(f"  [extract] epoch {epoch}: {took:.1f}s ({_rate(n_masked, took, 'masked inputs')}), max gap {float(res.gap.max()):.1e}")
    return {**timing, "log": lines}


def merge_chunks(ctx: Any, cfg: Any, model_name: str, epoch: int | None, *, chunks: Sequence[str], root: str = "",
                 threads: int | None = None, tok_inputs: Sequence[str] = (), log: Log | None = None) -> dict:
    """Stage 4b (``execution.chunk_samples``): one model's interactions file from its chunks, in the
    order of the explained samples; the metadata is the first chunk's, with ``chunks`` (their count).

    >>> import tempfile, numpy as np
    >>> from genphase import extract_and_or, load_interactions
    >>> from genphase.pipeline.config import load_config
    >>> from genphase.pipeline.graph import NodeContext, Resources
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
    save_interactions(res, ctx.output(_ints_rel(model_name, epoch)))
    return {"masked_forward_s": 0.0, "solve_s": 0.0, "log": []}


def analyse(ctx: Any, cfg: Any, *, root: str, threads: int | None = None, tok_inputs: Sequence[str] = (),
            log: Log | None = None) -> dict:
    """Stage 5: the metric tables and phases from the run's interactions and training logs.

    Returns them (``tables``: name -> DataFrame, ``phases``: ``phases.json``'s mapping); the driver
    writes them into ``metrics/`` (:meth:`RunPlan.write_analysis`), every invocation anew.

    Here on the files of a tiny finished run (2 epochs, K = 2; about a second):

    >>> import tempfile
    >>> from genphase.pipeline.config import load_config
    >>> from genphase.pipeline.graph import NodeContext, Resources
    >>> cfg = load_config("breast-cancer-mlp", ["training.epochs=2", "checkpoints.schedule=every", "baselines.k=2",
    ...                                          "baselines.epochs=2", "explain.samples=8", "variables.n=4",
    ...                                          "analysis.n_resamples=0"])
    >>> d = Path(tempfile.mkdtemp())
    >>> plan = RunPlan(cfg, d / "run", log=lambda line: None, report=False)
    >>> root = run_plans([plan], make_executor(cfg), log=lambda line: None)[0]
    >>> logs = ["checkpoints/training_log.json"] + [f"checkpoints/baseline_{k}/{f}" for k in range(2)
    ...                                             for f in ("training_log.json", "data.npz")]
    >>> ints = [_ints_rel(f"baseline_{k}", None) for k in range(2)] + [_ints_rel("model", e) for e in (0, 1, 2)]
    >>> ctx = NodeContext("analyse", Resources(), root, d / "out", d / "scratch", inputs=tuple(logs + ints))
    >>> out = analyse(ctx, cfg, root=str(root))
    >>> out["tables"]["h_bar"].shape  # 3 checkpoints x 16 samples; columns checkpoint, sample, split, h_bar
    (48, 4)
    >>> {"training", "samples", "baselines", "phases"} <= set(out["tables"]), out["phases"]["baselines_trained_on"]
    (True, 'reference')
    >>> shutil.rmtree(d)
    """
    import pandas as pd

    from .._readers import run_file_fix
    from ..analysis import analyze_series, count_phases, detect_phases
    from ..io import _load_interactions
    from .config import config_hash
    from .integrity import check_run_file_meta
    from .shared import VARIES_PER_SAMPLE, _baselines_table, _eligible, _extra_tables, _read_baseline_data, baseline_warnings
    from .storage import read_json

    say, lines = _sayer(log)
    su, _ = _start(ctx, cfg, threads, tok_inputs)
    ds, y_exp, split_exp, sel = su.ds, su.y_exp, su.split_exp, su.sel
    h = config_hash(cfg)
    fix = run_file_fix(Path(root))
    epochs = cfg.checkpoint_epochs()
    ic = cfg.interactions

    def load_ints(rel: str, model_name: str, epoch: int | None):
        p = ctx.input(rel)
        res = _load_interactions(p, fix)
        check_run_file_meta(Path(root) / rel, res.metadata, {"model": model_name, "epoch": epoch, "config_hash": h}, Path(root))
        return res

    # ---- analysis
    say("stage 4/5 analysis: tables and phases")
    baselines = [load_ints(_ints_rel(f"baseline_{k}", None), f"baseline_{k}", None) for k in range(cfg.baselines.k)]
    series = [(e, load_ints(_ints_rel("model", e), "model", e)) for e in epochs]
    ac = cfg.analysis
    bdata = [_read_baseline_data(ctx.input(f"checkpoints/baseline_{k}/data.npz"), fix) for k in range(cfg.baselines.k)]
    explained_index = np.concatenate([sel["train"], sel["test"]])
    eligible = _eligible(bdata, explained_index, split_exp)
    shared = ds.modality not in VARIES_PER_SAMPLE  # text and point clouds: each sample has its own variables
    tables = analyze_series(series, baselines, split=split_exp, labels=y_exp, tau=ic.tau, variables_shared=shared,
                            n_resamples=ac.n_resamples, ci_level=ac.ci_level, seed=ac.seed, eligible=eligible)
    rows = [{"model": "model", **r} for r in read_json(ctx.input("checkpoints/training_log.json"), fix)]
    for k in range(cfg.baselines.k):
        blog_path = ctx.input(f"checkpoints/baseline_{k}/training_log.json")
        rows += [{"model": f"baseline_{k}", **r} for r in read_json(blog_path, fix)]
    training = pd.DataFrame(rows)
    if "prediction_changes" not in training.columns:
        training["prediction_changes"] = np.nan
    training["prediction_changes"] = training["prediction_changes"].astype("Int64")
    tables["training"] = training[["model", "epoch", "split", "loss", "accuracy", "prediction_changes"]]
    tables["samples"] = pd.DataFrame({
        "sample": np.arange(len(y_exp)), "split": split_exp,
        "dataset_index": explained_index, "label": y_exp,
    })
    tables["baselines"] = _baselines_table(cfg, tables["training"], bdata)
    not_computed: dict[str, str] = {}
    tables.update(_extra_tables(cfg, series, baselines, split_exp, eligible, tables, not_computed))
    phases = detect_phases(tables["training"][tables["training"]["model"] == "model"], tables["h_bar"],
                           tables.get("order_strengths"), order_distribution=tables["order_distribution_samples"],
                           n_resamples=ac.n_resamples, ci_level=ac.ci_level, seed=ac.seed,
                           early_stopping=ac.early_stopping)
    tables["phases"] = phases.to_frame()
    pcount = count_phases(tables["h_bar"], split="train", n_resamples=ac.n_resamples, seed=ac.seed)
    warnings_ = baseline_warnings(tables["baselines"], tables["training"])
    for w in warnings_:
        say(f"  warning: {w}")
    phases_json = {**phases.to_dict(), **pcount.to_dict(), "baselines_trained_on": cfg.baselines.trained_on,
                   "baseline_warnings": warnings_, "not_computed": not_computed}
    return {"tables": tables, "phases": phases_json, "log": lines}


def report_run(cfg: Any, plan: "RunPlan") -> None:
    """Stage 6 (on the driver): ``report.html`` from the run directory's tables.

    Before the graph has run, the page says that every figure's table is missing:

    >>> import tempfile
    >>> from genphase.pipeline.config import load_config
    >>> cfg = load_config("breast-cancer-mlp", ["training.epochs=2", "checkpoints.schedule=every", "baselines.k=2",
    ...                                          "baselines.epochs=2", "explain.samples=8", "variables.n=4",
    ...                                          "analysis.n_resamples=0"])
    >>> d = Path(tempfile.mkdtemp())
    >>> lines = []
    >>> report_run(cfg, RunPlan(cfg, d / "run", log=lines.append))
    >>> lines[-2:] == ["stage 5/5 report", f"report: {d / 'run' / 'report.html'}"], (d / "run" / "report.html").is_file()
    (True, True)
    >>> shutil.rmtree(d)
    """
    from ..report import build_report

    plan.log("stage 5/5 report")
    build_report(plan.paths.root)
    plan.log(f"report: {plan.paths.report}")


# ------------------------------------------------------------------ the driver's side


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

    >>> import tempfile
    >>> from genphase.pipeline.config import load_config
    >>> cfg = load_config("breast-cancer-mlp", ["training.epochs=2", "checkpoints.schedule=every", "baselines.k=2",
    ...                                          "baselines.epochs=2", "explain.samples=8", "variables.n=4",
    ...                                          "analysis.n_resamples=0"])
    >>> d = Path(tempfile.mkdtemp())
    >>> plan = RunPlan(cfg, d / "run", log=lambda line: None)
    >>> plan.epochs, sorted(p.name for p in (d / "run").iterdir())
    ([0, 1, 2], ['config.yaml', 'manifest.json'])
    >>> graph = Graph()
    >>> plan.add_nodes(graph)
    >>> len(graph), graph["analyse"].deps[:4]  # 1 + K trainings, the samples, K + 3 extractions, the analysis
    (10, ('train/model', 'train/baseline_0', 'train/baseline_1', 'explained'))
    >>> shutil.rmtree(d)
    """

    def __init__(self, cfg: Any, out: str | Path, *, log: Log = print, report: bool = True, threads: int | None = None,
                 executor: str = "local", prefix: str = "", store: str = ""):
        from .. import __version__
        from .integrity import recorded
        from .shared import (
            SPLIT_ROLES,
            _data_fingerprint,
            _Files,
            _prepare_dir,
            baseline_data,
            baseline_design,
            resolve_device,
            set_threads,
        )
        from .storage import RunPaths, write_json

        self.cfg, self.log, self.report, self.prefix, self.store_name = cfg, log, report, prefix, store
        self.local = executor == "local"
        self.t0 = time.perf_counter()
        paths = self.paths = RunPaths(out)
        man = self.man = _prepare_dir(paths, cfg, log)
        files = self.files = _Files(paths, man, log, cfg)
        self.h = man["config_hash"]
        if "train_model" not in man["stages"]:  # training unfinished: it runs (from its saved state), its log anew
            man["files"].pop("checkpoints/training_log.json", None)
        device = resolve_device(cfg.device) if self.local or not cfg.device.startswith("cuda") else cfg.device
        n_threads = set_threads(threads)
        self.threads = n_threads if self.local else (threads or max(1, int(cfg.execution.cpus_per_task)))
        for rel in [k for k in man["files"] if k.startswith(TOKENIZER_DIR)]:
            files.need(paths.root / rel, {"kind": "tokenizer"})
        su = self.setup = setup_for(cfg, paths.root)
        ds = su.ds
        design = baseline_design(cfg, ds)  # a crossfit or early-stopping setting that cannot work fails before training
        for k in range(cfg.baselines.k):
            baseline_data(cfg, ds, design, k)
        tok_dir = paths.root / "checkpoints" / "tokenizer"
        if su.tokenizer is not None:
            new = [p for p in sorted(tok_dir.rglob("*")) if p.is_file() and not recorded(man, paths.root, p)]
            for p in new:
                files.done(p, {"kind": "tokenizer"}, save=False)
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
        self.epochs = epochs = cfg.checkpoint_epochs()
        log(f"genphase {__version__}: {cfg.preset or 'custom'} on {ds.name} ({ds.modality}), {len(ds.y_train)} train / "
            f"{len(ds.y_test)} reference (test) / {ds.n_eval} evaluation samples, device {device}, {n_threads} CPU "
            f"thread(s), checkpoints {epochs}")
        self.timing = {"masked_forward_s": 0.0, "solve_s": 0.0}
        self.store = _PlanStore(self)

    def _adopt_old_baselines(self) -> None:
        """Finished baselines of a run made before ``data.npz`` existed: recorded and scored here, on the
        driver, once (nothing is retrained); their nodes are then finished."""
        import torch

        from .integrity import recorded
        from .shared import _adopt_baseline, resolve_device
        from .storage import write_json

        paths, man, su = self.paths, self.man, self.setup
        device = resolve_device(self.cfg.device) if self.local else torch.device("cpu")
        for k in range(self.cfg.baselines.k):
            if recorded(man, paths.root, paths.baseline(k)) and not recorded(man, paths.root, paths.baseline_data(k)):
                self.files.need(paths.baseline_log(k), {"kind": "training_log", "model": f"baseline_{k}"})
                _adopt_baseline(self.cfg, su.ds, su.task, paths, self.files, k, su.tokenizer, device, self.log)
                write_json(paths.manifest, man)

    # -- the graph ---------------------------------------------------------------------------
    def add_nodes(self, graph: Graph) -> None:
        """Add this run's nodes to ``graph``, in the order the local executor runs them."""
        from .integrity import recorded

        cfg, p, man, root = self.cfg, self.prefix, self.man, self.paths.root
        K = cfg.baselines.k
        gpus = 1.0 if str(cfg.device).startswith("cuda") and not self.local else 0.0
        res = Resources(cpus=cfg.execution.cpus_per_task if not self.local else 1.0, gpus=gpus)
        common = {"threads": self.threads, "tok_inputs": self.tok_inputs, "log": self.log if self.local else None}
        toks = self.tok_inputs

        def add(nid: str, fn: Callable[..., Any], args: tuple = (), deps: tuple = (), inputs: tuple = (),
                outputs: tuple = (), **kw: Any) -> None:
            graph.add(Node(p + nid, fn, args=(cfg, *args), kwargs={**common, **kw}, deps=tuple(p + d for d in deps),
                           inputs=toks + tuple(inputs), outputs=outputs, resources=res, store=self.store_name))

        ckpts = tuple(Output(_ckpt_rel(e), _ckpt_what(e)) for e in self.epochs)
        add("train/model", train_model, outputs=ckpts + (
            Output("checkpoints/training_log.json", {"kind": "training_log", "model": "model"}),))
        for k in range(K):
            add(f"train/baseline_{k}", train_baseline, (k,), outputs=(
                Output(f"checkpoints/baseline_{k}/data.npz", {"kind": "baseline_data", "model": f"baseline_{k}"}),
                Output(f"checkpoints/baseline_{k}/training_log.json", {"kind": "training_log", "model": f"baseline_{k}"}),
                Output(f"checkpoints/baseline_{k}/final.pt", {"kind": "checkpoint", "model": f"baseline_{k}"})))
        add("explained", write_explained, outputs=(Output("explained/variables.json", {"kind": "variables"}),
                                                   Output("explained/samples.npz", {"kind": "samples"})))
        su = self.setup
        todo = sum(not recorded(man, root, root / _ints_rel(f"baseline_{k}", None)) for k in range(K)) + sum(
            not recorded(man, root, root / _ints_rel("model", e)) for e in self.epochs)
        announce = (f"stage 3/5 extract: AND-OR interactions of {todo} models, {len(su.y_exp)} samples x 2^{su.masker.n} "
                    "masks each") if todo else None
        extract_ids = []
        bounds = chunk_bounds(len(su.y_exp), cfg.execution.chunk_samples)  # the same for every model
        for name, epoch, ck, dep in [(f"baseline_{k}", None, f"checkpoints/baseline_{k}/final.pt", f"train/baseline_{k}")
                                     for k in range(K)] + [("model", e, _ckpt_rel(e), "train/model") for e in self.epochs]:
            rel = _ints_rel(name, epoch)
            first = announce is not None and not recorded(man, root, root / rel)
            nid = f"extract/{name}" if epoch is None else f"extract/model/epoch_{epoch:04d}"
            if len(bounds) == 1:
                add(nid, extract_model, (name, epoch), deps=(dep,), inputs=(ck,),
                    outputs=(Output(rel, _ints_what(name, epoch)),), checkpoint=ck, root=str(root),
                    announce=announce if first else None)
            else:  # one task per chunk of explained samples, then one that joins them
                parts = tuple(_chunk_rel(name, epoch, j) for j in range(len(bounds)))
                for j, (a, b) in enumerate(bounds):
                    add(f"{nid}/chunk_{j:03d}", extract_model, (name, epoch), deps=(dep,), inputs=(ck,),
                        outputs=(Output(parts[j], {**_ints_what(name, epoch), "kind": "interactions_chunk", "chunk": j}),),
                        checkpoint=ck, root=str(root), announce=announce if first and j == 0 else None, chunk=(j, a, b))
                add(nid, merge_chunks, (name, epoch), deps=tuple(f"{nid}/chunk_{j:03d}" for j in range(len(bounds))),
                    inputs=parts, outputs=(Output(rel, _ints_what(name, epoch)),), chunks=parts, root=str(root))
            if first:
                announce = None
            extract_ids.append(nid)
        logs = ("checkpoints/training_log.json",) + tuple(f"checkpoints/baseline_{k}/training_log.json" for k in range(K)) + tuple(
            f"checkpoints/baseline_{k}/data.npz" for k in range(K))
        ints = tuple(_ints_rel(f"baseline_{k}", None) for k in range(K)) + tuple(_ints_rel("model", e) for e in self.epochs)
        add("analyse", analyse, deps=("train/model", *(f"train/baseline_{k}" for k in range(K)), "explained", *extract_ids),
            inputs=logs + ints, root=str(root))

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
        elif kind.startswith("train/baseline_"):
            k = kind.split("_")[-1]
            man.setdefault("training_data", {})[f"baseline_{k}"] = v["training_data"]
            man["timings"][f"baseline_{k}"] = round(result.seconds, 3)
        elif kind.startswith("extract/"):
            for key in self.timing:  # this invocation's share (a resumed run adds only what it did)
                self.timing[key] += v[key]
                man["timings"][key] = round(man["timings"].get(key, 0.0) + v[key], 3)

    def after_commit(self, node: Node, result: NodeResult) -> None:
        """After the node's files are recorded: log lines, test pause points, the analysis written."""
        from .shared import _pause_point, _rate

        kind, v = self._kind(node), result.value
        if not self.local:
            for line in v.get("log", ()):
                self.log(line)
        if kind.startswith("train/baseline_"):
            k = int(kind.split("_")[-1])
            _pause_point(f"baseline:{k}")
            took = result.seconds
            self.log(f"  [baselines] baseline {k + 1}/{self.cfg.baselines.k} trained in {took:.1f}s "
                     f"({_rate(v['epochs'], took, 'epochs')}), kept epoch {v['kept']}, eval accuracy {v['eval_accuracy']:.3f}")
        elif kind.startswith("extract/model/epoch_") and "/chunk_" not in kind:
            _pause_point(f"extract:{int(kind.rsplit('_', 1)[1])}")
        elif kind == "analyse":
            self.write_analysis(v["tables"], v["phases"], result.seconds)

    def write_analysis(self, tables: dict, phases: dict, seconds: float) -> None:
        """Mark extraction finished, then write the analysis tables and ``phases.json`` into ``metrics/``."""
        from .shared import _mark, _pause_point
        from .storage import write_json, write_parquet

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
        for name, fr in tables.items():
            write_parquet(paths.table(name), fr)
            files.done(paths.table(name), {"kind": "table", "name": name}, save=False)
            _pause_point("analysis")
        write_json(paths.metrics / "phases.json", phases)
        files.done(paths.metrics / "phases.json", {"kind": "table", "name": "phases.json"}, save=False)
        _mark(paths, man, "analysis", seconds + time.perf_counter() - ts)

    def finish(self) -> Path:
        """After the graph: the report (unless off), this invocation's total time."""
        from .storage import write_json

        if self.report:
            report_run(self.cfg, self)
        self.man["timings"]["total_last_invocation"] = round(time.perf_counter() - self.t0, 3)
        write_json(self.paths.manifest, self.man)
        return self.paths.root


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
        return get_executor("local")
    e = cfg.execution
    opts: dict[str, Any] = {"max_retries": e.max_retries}
    if e.shared_path:
        opts["shared_path"] = e.shared_path
    return get_executor("ray", address=e.address, **opts)


def run_plans(plans: Sequence[RunPlan], executor: Any, *, log: Log = print) -> list[Path]:
    """Run every plan's nodes as one graph on ``executor``, then finish each plan (reports); the run directories.

    A tiny run (2 epochs, K = 2; about a second) without its report:

    >>> import json, tempfile
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
    graph = Graph()
    for plan in plans:
        plan.add_nodes(graph)
    stores = {plan.store_name: plan.store for plan in plans}
    local = getattr(executor, "name", "") == "local"
    report = executor.run(graph, stores, progress=False if local else None, log=None if local else log)
    for plan in plans:
        plan.graph_report = report  # what ran, each node's seconds, the graph's wall time (benchmarks/)
    return [plan.finish() for plan in plans]
