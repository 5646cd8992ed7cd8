"""The main job: train with checkpoints, train K baselines on the test split, extract AND-OR
interactions of the explained samples at every checkpoint and for every baseline, analyse, report.

Every stage writes its outputs atomically and is skipped when they exist, so running the same
command again resumes where a killed run stopped (see docs/run-directory.md).
"""

from __future__ import annotations

import hashlib
import os
import platform
import sys
import time
from pathlib import Path
from typing import Any, Callable

import numpy as np
import torch

from .. import __version__
from ..errors import ConfigError, RunDirectoryError
from .config import RunConfig, config_hash
from .storage import RunPaths, read_json, save_torch, write_json, write_parquet
from .tasks import make_task
from .training import TrainSpec, train

__all__ = ["run", "resolve_device", "load_data", "build_model_for", "run_tokenizer", "pick_samples", "select_samples"]

Log = Callable[[str], None]


def resolve_device(name: str) -> torch.device:
    if name == "auto":
        return torch.device("cuda" if torch.cuda.is_available() else "cpu")
    dev = torch.device(name)
    if dev.type == "cuda" and not torch.cuda.is_available():
        raise ConfigError(f"config key 'device': {name!r} requested but CUDA is not available; use device=cpu or auto")
    return dev


def load_data(cfg: RunConfig):
    """The dataset of ``cfg.data``, subsampled / label-noised as configured (seeded)."""
    from ..datasets import add_label_noise, load_dataset, subsample_train

    ds = load_dataset(cfg.data.name, **cfg.data.options)
    if cfg.data.train_size is not None:
        if cfg.data.train_size > len(ds.y_train):
            raise ConfigError(
                f"config key 'data.train_size': {cfg.data.train_size} exceeds the {len(ds.y_train)} training samples of {cfg.data.name!r}"
            )
        ds = subsample_train(ds, cfg.data.train_size, seed=cfg.data.seed)
    if cfg.data.test_subsample is not None and cfg.data.test_subsample < len(ds.y_test):
        from ..datasets import subsample

        ds = subsample(ds, n_test=cfg.data.test_subsample, seed=cfg.data.seed)
    if cfg.data.label_noise > 0:
        ds = add_label_noise(ds, cfg.data.label_noise, seed=cfg.data.seed)
    return ds


def build_model_for(cfg: RunConfig, ds, seed: int, tokenizer: Any = None) -> torch.nn.Module:
    """A fresh model of ``cfg.model`` for dataset ``ds`` (initialised from ``seed``).

    ``bert-scratch`` needs a tokenizer: pass the run's (see :func:`run_tokenizer`); without one a
    WordPiece tokenizer is trained on the training texts.
    """
    from ..models import build_model

    kw = dict(cfg.model.options)
    if ds.modality == "text" and cfg.model.name == "bert-scratch" and "vocab_size" not in kw and "tokenizer" not in kw:
        if tokenizer is not None:
            kw["tokenizer"] = tokenizer
        elif "texts" not in kw:
            kw["texts"] = list(ds.x_train)
    return build_model(cfg.model.name, num_classes=ds.num_classes, input_shape=ds.input_shape, seed=seed, **kw)


def run_tokenizer(cfg: RunConfig, ds, root: Path | None) -> Any:
    """The one tokenizer of a ``bert-scratch`` run, trained once and kept in ``checkpoints/tokenizer``.

    WordPiece training is not bit-for-bit repeatable across calls, so every model of a run (and a
    resumed run) must share the saved one. Returns None for other models.
    """
    if ds.modality != "text" or cfg.model.name != "bert-scratch" or "vocab_size" in cfg.model.options:
        return None
    from transformers import PreTrainedTokenizerFast

    target = None if root is None else Path(root) / "checkpoints" / "tokenizer"
    if target is not None and (target / "tokenizer.json").exists():
        return PreTrainedTokenizerFast.from_pretrained(str(target))
    tok = build_model_for(cfg, ds, seed=cfg.training.seed).tokenizer
    if target is not None:
        import shutil
        import tempfile

        target.parent.mkdir(parents=True, exist_ok=True)
        tmp = Path(tempfile.mkdtemp(dir=target.parent, prefix=".tokenizer."))
        tok.save_pretrained(str(tmp))
        if target.exists():
            shutil.rmtree(target)
        tmp.rename(target)
    return tok


def pick_samples(
    x: Any, m: int, *, seed: int, selection: str = "random", usable: Callable[[Any], bool] | None = None, what: str = "split"
) -> np.ndarray:
    """Sorted indices of ``m`` samples of ``x``: the first ones or a seeded permutation, skipping
    samples ``usable`` rejects (text: fewer than n eligible words, too long)."""
    size = len(x)
    if m > size:
        raise ConfigError(f"config key 'explain.samples': {m} exceeds the {size} samples of the {what}")
    order = np.arange(size) if selection == "first" else np.random.default_rng(seed).permutation(size)
    if usable is None:
        return np.sort(order[:m])
    picked = []
    for i in order:  # stops after m usable samples; not a hot path
        if usable(x[int(i)]):
            picked.append(int(i))
            if len(picked) == m:
                break
    if len(picked) < m:
        raise ConfigError(
            f"config key 'explain.samples': only {len(picked)} samples of the {what} can be explained with "
            "these variables; lower variables.n or explain.samples"
        )
    return np.sort(np.asarray(picked))


def select_samples(cfg: RunConfig, ds, usable: Callable[[Any], bool] | None = None) -> dict[str, np.ndarray]:
    """Indices of the M training and M testing samples to explain (see :func:`pick_samples`)."""
    e = cfg.explain
    return {
        split: pick_samples(x, e.samples, seed=e.seed + (split == "test"), selection=e.selection, usable=usable,
                            what=f"{split} split")
        for split, x in (("train", ds.x_train), ("test", ds.x_test))
    }


def _take(x, idx):
    return [x[i] for i in idx] if isinstance(x, list) else np.asarray(x)[idx]


def _prepare_dir(paths: RunPaths, cfg: RunConfig) -> dict:
    h = config_hash(cfg)
    if paths.manifest.exists():
        man = read_json(paths.manifest)
        if not paths.config.exists() and man.get("config_hash") == h:  # killed between the two writes
            from .storage import atomic_write

            atomic_write(paths.config, lambda fh: fh.write(cfg.to_yaml()), mode="w")
        fresh = not man.get("stages") and not (paths.root / "checkpoints").exists()
        if man.get("config_hash") != h and fresh:
            # an earlier invocation failed before any work (e.g. a bad config): take the directory over
            paths.manifest.unlink()
            paths.config.unlink(missing_ok=True)
            return _prepare_dir(paths, cfg)
        if man.get("config_hash") != h:
            raise RunDirectoryError(
                f"run directory {str(paths.root)!r} holds a run of another configuration "
                f"(hash {man.get('config_hash')} vs {h}); choose another --out or delete it"
            )
        if man.get("genphase_version") != __version__:
            raise RunDirectoryError(
                f"run directory {str(paths.root)!r} was made by genphase {man.get('genphase_version')}, "
                f"this is {__version__}; choose another --out or delete it"
            )
        return man
    if paths.root.exists() and any(not q.name.startswith(".manifest.json.") for q in paths.root.iterdir()):
        raise RunDirectoryError(
            f"{str(paths.root)!r} exists and is not a genphase run directory (no manifest.json); choose another --out"
        )
    paths.root.mkdir(parents=True, exist_ok=True)
    from .storage import atomic_write

    man = {
        "genphase_version": __version__,
        "config_hash": h,
        "versions": {"python": sys.version.split()[0], "torch": torch.__version__, "numpy": np.__version__, "platform": platform.platform()},
        "seeds": {
            "data": cfg.data.seed,
            "training": cfg.training.seed,
            "baselines": [cfg.baselines.seed + k for k in range(cfg.baselines.k)],
            "explain": cfg.explain.seed,
            "variables": cfg.variables.seed,
        },
        "stages": {},
        "timings": {},
    }
    write_json(paths.manifest, man)  # first: a directory with a manifest is ours, whatever else is missing
    _pause_point("prepare")
    atomic_write(paths.config, lambda fh: fh.write(cfg.to_yaml()), mode="w")
    return man


def _pause_point(point: str) -> None:
    """Test-only hook: when ``GENPHASE_TEST_PAUSE_AT == point`` and ``GENPHASE_TEST_PAUSE_FILE`` names a
    file, write ``point`` to that file and sleep (120 s), so a test can SIGKILL the run exactly here
    (tests/pipeline/test_resume.py). Points: ``prepare`` (between the manifest and config writes),
    ``train:<epoch>`` (after that epoch's training state is saved), ``baseline:<k>`` (after baseline k
    is saved), ``extract:<epoch>`` (after that checkpoint's interactions are saved), ``analysis``
    (after the first metric table is written). Does nothing unless both variables are set."""
    marker = os.environ.get("GENPHASE_TEST_PAUSE_FILE")
    if not marker or os.environ.get("GENPHASE_TEST_PAUSE_AT") != point:
        return
    Path(marker).write_text(point)
    time.sleep(120)


def _data_fingerprint(split: str, x: Any, y: np.ndarray) -> dict:
    """Provenance of the data a model was trained on: split name, size and a SHA-256 of inputs and labels."""
    h = hashlib.sha256()
    if isinstance(x, list):
        h.update("\x00".join(x).encode())
    else:
        h.update(np.ascontiguousarray(x).tobytes())
    h.update(np.ascontiguousarray(y, dtype=np.int64).tobytes())
    return {"split": split, "n": int(len(y)), "sha256": h.hexdigest()}


def _mark(paths: RunPaths, man: dict, stage: str, seconds: float) -> None:
    man["stages"][stage] = "done"
    man["timings"][stage] = round(seconds, 3)
    write_json(paths.manifest, man)


def run(cfg: RunConfig, out: str | Path, *, log: Log = print, report: bool = True) -> Path:
    """Run (or resume) the whole job into ``out``; return the run directory."""
    import pandas as pd

    paths = RunPaths(out)
    man = _prepare_dir(paths, cfg)
    device = resolve_device(cfg.device)
    torch.set_num_threads(max(1, torch.get_num_threads()))
    t0 = time.perf_counter()
    ds = load_data(cfg)
    task = make_task(ds.modality, cfg)
    tokenizer = run_tokenizer(cfg, ds, paths.root)
    model = build_model_for(cfg, ds, seed=cfg.training.seed, tokenizer=tokenizer)
    sel = select_samples(cfg, ds, usable=task.usable(model))
    x_exp = _take(ds.x_train, sel["train"]) + _take(ds.x_test, sel["test"]) if isinstance(ds.x_train, list) else np.concatenate(
        [_take(ds.x_train, sel["train"]), _take(ds.x_test, sel["test"])]
    )
    y_exp = np.concatenate([ds.y_train[sel["train"]], ds.y_test[sel["test"]]]).astype(np.int64)
    split_exp = np.array(["train"] * len(sel["train"]) + ["test"] * len(sel["test"]))
    eval_sets = {"train": (ds.x_train, ds.y_train), "test": (ds.x_test, ds.y_test)}
    epochs = cfg.checkpoint_epochs()
    log(f"genphase {__version__}: {cfg.preset or 'custom'} on {ds.name} ({ds.modality}), {len(ds.y_train)} train / "
        f"{len(ds.y_test)} test, device {device}, checkpoints {epochs}")

    # ---- 1. model under study (the masker is built first: bad variables fail before training)
    spec = TrainSpec(**{k: getattr(cfg.training, k) for k in TrainSpec.__dataclass_fields__})
    masker, m_inputs, var_info = task.masker_and_inputs(model, ds, x_exp)
    if "train_model" not in man["stages"]:
        ts = time.perf_counter()

        def save_ckpt(epoch: int, m: torch.nn.Module) -> None:
            save_torch(paths.checkpoint(epoch), m.state_dict())

        def prog(epoch: int, row: dict) -> None:
            _pause_point(f"train:{epoch}")
            if epoch % max(1, cfg.training.epochs // 10) == 0 or epoch == cfg.training.epochs:
                log(f"  epoch {epoch}/{cfg.training.epochs}: test loss {row['loss']:.4f}, test acc {row['accuracy']:.3f}")

        log("training the model under study")
        tlog = train(model, task, ds.x_train, ds.y_train, spec, device, eval_sets=eval_sets,
                     checkpoint_epochs=set(epochs), on_checkpoint=save_ckpt, state_path=paths.train_state, progress=prog)
        write_json(paths.training_log, tlog)
        man.setdefault("training_data", {})["model"] = _data_fingerprint("train", ds.x_train, ds.y_train)
        _mark(paths, man, "train_model", time.perf_counter() - ts)

    # ---- 2. baselines on the test split
    bspec = TrainSpec(**{**spec.__dict__, "epochs": cfg.baselines.epochs or cfg.training.epochs, "lr": cfg.training.lr if cfg.baselines.lr is None else cfg.baselines.lr})
    for k in range(cfg.baselines.k):
        if paths.baseline(k).exists():
            continue
        ts = time.perf_counter()
        log(f"training baseline {k + 1}/{cfg.baselines.k} on the test split")
        seed = cfg.baselines.seed + k
        bmodel = build_model_for(cfg, ds, seed=seed, tokenizer=tokenizer)
        bx, by = ds.x_test, ds.y_test
        blog = train(bmodel, task, bx, by, TrainSpec(**{**bspec.__dict__, "seed": seed}), device,
                     eval_sets={"test": (ds.x_test, ds.y_test)})
        write_json(paths.baseline_log(k), blog)
        save_torch(paths.baseline(k), bmodel.state_dict())
        man.setdefault("training_data", {})[f"baseline_{k}"] = _data_fingerprint("test", bx, by)
        man["timings"][f"baseline_{k}"] = round(time.perf_counter() - ts, 3)
        write_json(paths.manifest, man)
        _pause_point(f"baseline:{k}")

    # ---- 3. explained samples and variables
    if not (paths.samples.exists() and paths.variables.exists()):
        from .storage import atomic_write

        arr = np.asarray(x_exp) if not isinstance(x_exp, list) else np.asarray(x_exp, dtype=object).astype(str)
        write_json(paths.variables, var_info)
        atomic_write(paths.samples, lambda fh: np.savez_compressed(
            fh, inputs=arr, labels=y_exp, split=split_exp, dataset_index=np.concatenate([sel["train"], sel["test"]])))

    # ---- 4. extraction
    from ..interactions import extract_and_or
    from ..masked_outputs import masked_values

    ic = cfg.interactions

    timing = {"masked_forward_s": 0.0, "solve_s": 0.0}

    def extract(m: torch.nn.Module, warm=None):
        """Masked forward passes, then the solver; each timed separately (manifest timings)."""
        ts = time.perf_counter()
        values = masked_values(m, _inputs_for(m_inputs, m, masker, ds.modality), torch.as_tensor(y_exp), masker,
                               value_fn=ic.value_function, chunk_size=ic.chunk_size)
        tm = time.perf_counter()
        res = extract_and_or(values, noise_bound=ic.noise_bound, solver=ic.solver, tol=ic.tol, warm_start=warm,
                             variables=var_info["names"], device=device,
                             metadata={"value_function": ic.value_function, "masker": masker.describe()})
        timing["masked_forward_s"] += tm - ts
        timing["solve_s"] += time.perf_counter() - tm
        return res

    from ..io import load_interactions, save_interactions

    for k in range(cfg.baselines.k):
        if not paths.baseline_interactions(k).exists():
            log(f"extracting interactions of baseline {k + 1}/{cfg.baselines.k}")
            save_interactions(extract(_load(build_model_for(cfg, ds, cfg.baselines.seed + k, tokenizer), paths.baseline(k), device)),
                              paths.baseline_interactions(k))
    prev = None
    for e in epochs:
        p = paths.interactions(e)
        if p.exists():
            prev = load_interactions(p)
            continue
        ts = time.perf_counter()
        res = extract(_load(build_model_for(cfg, ds, cfg.training.seed, tokenizer), paths.checkpoint(e), device), warm=prev)
        save_interactions(res, p)
        _pause_point(f"extract:{e}")
        prev = res
        log(f"  interactions at epoch {e}: {time.perf_counter() - ts:.1f}s, max gap {float(res.gap.max()):.1e}")
    for key, val in timing.items():  # this invocation's share (a resumed run adds only what it did)
        man["timings"][key] = round(man["timings"].get(key, 0.0) + val, 3)
    _mark(paths, man, "extract", timing["masked_forward_s"] + timing["solve_s"])

    # ---- 5. analysis
    from ..analysis import analyze_series, detect_phases

    baselines = [load_interactions(paths.baseline_interactions(k)) for k in range(cfg.baselines.k)]
    series = [(e, load_interactions(paths.interactions(e))) for e in epochs]
    tables = analyze_series(series, baselines, split=split_exp, labels=y_exp, tau=ic.tau)
    rows = [{"model": "model", **r} for r in read_json(paths.training_log)]
    for k in range(cfg.baselines.k):
        rows += [{"model": f"baseline_{k}", **r} for r in read_json(paths.baseline_log(k))]
    tables["training"] = pd.DataFrame(rows)[["model", "epoch", "split", "loss", "accuracy"]]
    tables["samples"] = pd.DataFrame({
        "sample": np.arange(len(y_exp)), "split": split_exp,
        "dataset_index": np.concatenate([sel["train"], sel["test"]]), "label": y_exp,
    })
    phases = detect_phases(tables["training"][tables["training"]["model"] == "model"], tables["h_bar"], tables.get("order_strengths"))
    tables["phases"] = phases.to_frame()
    for name, fr in tables.items():
        write_parquet(paths.table(name), fr)
        _pause_point("analysis")
    write_json(paths.metrics / "phases.json", phases.to_dict())
    _mark(paths, man, "analysis", 0.0)

    # ---- 6. report
    if report:
        from ..report import build_report

        build_report(paths.root)
        log(f"report: {paths.report}")
    man["timings"]["total_last_invocation"] = round(time.perf_counter() - t0, 3)
    write_json(paths.manifest, man)
    return paths.root


def _load(model: torch.nn.Module, path: Path, device: torch.device) -> torch.nn.Module:
    model.load_state_dict(torch.load(path, map_location=device, weights_only=True))
    return model.to(device).eval()


def _inputs_for(inputs: Any, model: torch.nn.Module, masker: Any, modality: str) -> Any:
    """Text maskers embed with the model's own embedding layer: rebind it per model."""
    if modality == "text" and hasattr(masker, "embedding"):
        masker.embedding = model.model.get_input_embeddings()
    return inputs
