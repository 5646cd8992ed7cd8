"""What a run's stages (:mod:`genphase.pipeline.stages`) and its driver share: devices and threads,
the data and its three splits, models, the explained samples, the run directory's bookkeeping
(manifest, finished files, pause points for the kill tests), and the baselines' records (what each
learnt from, its evaluation, the tables and warnings built from them).

``genphase run`` itself is :func:`genphase.pipeline.run.run`, which re-exports the public names here.
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
from .._readers import read_torch, run_file_fix
from ..errors import ConfigError, CorruptFileError, GenphaseError, RunDirectoryError
from .config import BASELINE_STOP_FRACTION, BASELINE_STOP_MIN, RunConfig, config_hash
from .integrity import INTEGRITY_VERSION, check_file, record_file, recorded, remove_orphans
from .storage import RunPaths, read_json, write_json
from .training import evaluate

__all__ = ["resolve_device", "load_data", "check_disjoint", "SPLIT_ROLES", "VARIES_PER_SAMPLE", "build_model_for",
           "run_tokenizer", "pick_samples", "select_samples", "default_threads", "set_threads", "baseline_design",
           "baseline_data", "baseline_warnings", "BASELINE_ACCURACY_GAP"]

#: A baseline whose evaluation accuracy is more than this (absolute) below the model's best evaluation accuracy
#: gets a warning (logged, listed in ``phases.json`` ``baseline_warnings``, shown in the report): its interactions
#: may be a poor stand-in for "what a generalizing network encodes".
BASELINE_ACCURACY_GAP = 0.15

Log = Callable[[str], None]

#: What each value of the training log's ``split`` column means (also recorded in manifest.json ``splits``).
SPLIT_ROLES: dict[str, str] = {
    "train": "training split: the model under study is trained on it (label noise, if any, is here only)",
    "test": "reference split (the paper's test split): the K baselines are trained on it; explained 'test' "
            "samples come from it",
    "eval": "evaluation split: held out from train and reference; used only to score a recommended stop",
}

#: Modalities whose input variables differ from sample to sample (the Jaccard similarity is then not applicable).
VARIES_PER_SAMPLE: tuple[str, ...] = ("text", "pointcloud")


def resolve_device(name: str) -> torch.device:
    """The torch device of the ``device`` config key: ``auto`` is CUDA when available, else the CPU; a
    CUDA device that is not available raises :class:`~genphase.errors.ConfigError`.

    >>> resolve_device("cpu")
    device(type='cpu')
    >>> resolve_device("auto").type == ("cuda" if torch.cuda.is_available() else "cpu")
    True
    """
    if name == "auto":
        return torch.device("cuda" if torch.cuda.is_available() else "cpu")
    dev = torch.device(name)
    if dev.type == "cuda" and not torch.cuda.is_available():
        raise ConfigError(f"config key 'device': {name!r} requested but CUDA is not available; use device=cpu or auto")
    return dev


def default_threads() -> int:
    """Torch CPU threads to use: ``OMP_NUM_THREADS`` when set to a positive integer, else the cores
    this process may run on (``os.sched_getaffinity``; ``os.cpu_count()`` where that is missing).

    >>> from unittest import mock
    >>> with mock.patch.dict(os.environ, {"OMP_NUM_THREADS": "3"}):
    ...     default_threads()
    3
    >>> with mock.patch.dict(os.environ, {"OMP_NUM_THREADS": ""}):  # unset: the usable cores
    ...     default_threads() >= 1
    True
    """
    env = os.environ.get("OMP_NUM_THREADS", "").strip()
    if env.isdigit() and int(env) >= 1:
        return int(env)
    try:
        return max(1, len(os.sched_getaffinity(0)))
    except (AttributeError, OSError):  # pragma: no cover - macOS / Windows
        return max(1, os.cpu_count() or 1)


def set_threads(threads: Any = None) -> int:
    """Set torch's intra-op CPU thread count to ``threads`` (default :func:`default_threads`); return it.

    >>> set_threads(1)
    1
    """
    if threads is None:
        n = default_threads()
    else:
        if hasattr(threads, "item") and getattr(threads, "ndim", 0) == 0:
            threads = threads.item()
        if isinstance(threads, bool) or not isinstance(threads, (int, np.integer)) or int(threads) < 1:
            raise ConfigError(f"threads must be a positive integer (torch CPU threads), got {threads!r}")
        n = int(threads)
    if torch.get_num_threads() != n:
        torch.set_num_threads(n)
    return n


def load_data(cfg: RunConfig):
    """The dataset of ``cfg.data`` with its three disjoint splits (seeded; docs/run-directory.md, "Splits").

    ``x_train`` / ``y_train``: the training split (subsampled to ``data.train_size``, then
    ``data.label_noise`` of its labels flipped). The loader's test split, capped at
    ``data.test_subsample``, is divided into ``x_eval`` / ``y_eval``, the *evaluation* split
    (``data.eval_fraction`` of it, stratified, seeded by ``data.seed``), and ``x_test`` / ``y_test``,
    the *reference* split (the rest: the paper's test split, on which the baselines train). Splits
    that share a sample (by content) raise :class:`~genphase.errors.ConfigError`, as does an
    evaluation split of fewer than :data:`~genphase.pipeline.config.MIN_EVAL_SAMPLES` samples.

    >>> from genphase.pipeline.config import load_config
    >>> ds = load_data(load_config("breast-cancer-mlp"))  # bundled with scikit-learn: 427 train / 142 test
    >>> len(ds.y_train), len(ds.y_eval), len(ds.y_test), ds.x_train.shape  # 142 = 36 evaluation + 106 reference
    (427, 36, 106, (427, 30))
    >>> load_data(load_config("breast-cancer-mlp", ["data.eval_fraction=0.1"]))
    Traceback (most recent call last):
    ...
    genphase.errors.ConfigError: config key 'data.eval_fraction': 0.1 of the 142 held-out (test) samples ...
    """
    from ..datasets import add_label_noise, carve_eval, load_dataset, subsample_train
    from .config import MIN_EVAL_SAMPLES

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
    n_eval = int(round(cfg.data.eval_fraction * len(ds.y_test)))
    if n_eval < MIN_EVAL_SAMPLES or len(ds.y_test) - n_eval < 1:
        raise ConfigError(
            f"config key 'data.eval_fraction': {cfg.data.eval_fraction} of the {len(ds.y_test)} held-out (test) samples of "
            f"{cfg.data.name!r} gives an evaluation split of {n_eval} samples and a reference split of "
            f"{len(ds.y_test) - n_eval}; the evaluation split needs at least {MIN_EVAL_SAMPLES} and the reference split "
            "at least 1: change data.eval_fraction (or raise data.test_subsample, or give the loader a larger test split "
            "through data.options)")
    ds = carve_eval(ds, cfg.data.eval_fraction, seed=cfg.data.seed)
    if cfg.data.label_noise > 0:
        ds = add_label_noise(ds, cfg.data.label_noise, seed=cfg.data.seed)
    check_disjoint(ds, cfg.data.name)
    return ds


def check_disjoint(ds, name: str = "") -> None:
    """Raise :class:`~genphase.errors.ConfigError` when two of the train / reference / evaluation splits
    share a sample (equal content: :func:`~genphase.datasets.sample_digests`).

    >>> import dataclasses
    >>> from genphase.datasets import load_breast_cancer
    >>> ds = load_breast_cancer()
    >>> check_disjoint(ds, "breast-cancer")  # disjoint: no error
    >>> leak = dataclasses.replace(ds, x_test=np.concatenate([ds.x_train[:1], ds.x_test[1:]]))
    >>> check_disjoint(leak, "breast-cancer")
    Traceback (most recent call last):
    ...
    genphase.errors.ConfigError: config keys 'data.name' / 'data.options': the train and reference splits of 'breast-cancer' share 1 identical sample(s) (reference positions [0]...); ...
    """
    from ..datasets import sample_digests

    digests = {"train": sample_digests(ds.x_train), "reference": sample_digests(ds.x_test)}
    if ds.y_eval is not None:
        digests["evaluation"] = sample_digests(ds.x_eval)
    names = list(digests)
    for i, a in enumerate(names):
        for b in names[i + 1:]:
            common = np.intersect1d(digests[a], digests[b])
            if common.size:
                where = np.flatnonzero(np.isin(digests[b], common))[:3].tolist()
                raise ConfigError(
                    f"config keys 'data.name' / 'data.options': the {a} and {b} splits of {name or 'the dataset'!r} share "
                    f"{common.size} identical sample(s) ({b} positions {where}...); the splits must be disjoint: use a "
                    "dataset without duplicates (e.g. keep data.options.drop_duplicates=true for rotten-tomatoes) or "
                    "remove them before loading")


def baseline_design(cfg: RunConfig, ds) -> Any:
    """The :class:`~genphase.analysis.CrossfitDesign` of ``baselines.trained_on=crossfit`` (folds of the
    training split, stratified by its labels, seeded by ``baselines.seed``); None for ``reference``.
    A training split too small for the design raises :class:`~genphase.errors.ConfigError`.

    >>> from genphase.pipeline.config import load_config
    >>> from genphase.datasets import load_breast_cancer
    >>> ds = load_breast_cancer()
    >>> baseline_design(load_config("breast-cancer-mlp"), ds) is None  # the paper's design
    True
    >>> d = baseline_design(load_config("breast-cancer-mlp", ["baselines.trained_on=crossfit"]), ds)
    >>> d.K, d.folds.shape, sorted(set(d.folds.tolist()))  # one fold per training sample
    (3, (427,), [0, 1, 2])
    """
    if cfg.baselines.trained_on != "crossfit":
        return None
    from ..analysis import crossfit_design
    from ..errors import InputError

    try:
        return crossfit_design(len(ds.y_train), cfg.baselines.k, labels=ds.y_train, seed=cfg.baselines.seed)
    except InputError as exc:
        raise ConfigError(f"config keys 'baselines.trained_on=crossfit' / 'baselines.k' / 'data.train_size' "
                          f"({len(ds.y_train)} training samples, K = {cfg.baselines.k}): {exc}") from exc


def baseline_data(cfg: RunConfig, ds, design: Any, k: int) -> tuple[str, np.ndarray, np.ndarray]:
    """``(split, train_index, holdout_index)`` of baseline ``k``: the split it learns from ("test": the
    reference split; "train": cross-fitted), the indices into that split it trains on, and (with
    ``baselines.early_stopping``) the held-out slice it is stopped on: ``max(BASELINE_STOP_MIN,
    round(BASELINE_STOP_FRACTION * n))`` of its ``n`` samples, drawn by ``default_rng(baselines.seed + k)``.

    A slice that would leave fewer than ``BASELINE_STOP_MIN`` samples to train on raises ConfigError.

    >>> from genphase.pipeline.config import load_config
    >>> from genphase.datasets import load_breast_cancer
    >>> ds = load_breast_cancer()  # 142 reference ("test") samples
    >>> split, idx, hold = baseline_data(load_config("breast-cancer-mlp"), ds, None, 0)
    >>> split, idx.size, hold.size  # the whole reference split, nothing held out
    ('test', 142, 0)
    >>> split, idx, hold = baseline_data(load_config("breast-cancer-mlp", ["baselines.early_stopping=true"]), ds, None, 1)
    >>> idx.size, hold.size, np.intersect1d(idx, hold).size  # round(0.1 * 142) = 14 held out to stop on
    (128, 14, 0)
    """
    if design is None:
        split, pool = "test", np.arange(len(ds.y_test))
    else:
        split, pool = "train", design.train_indices(k)
    hold = np.zeros(0, dtype=np.int64)
    if cfg.baselines.early_stopping:
        n_hold = max(BASELINE_STOP_MIN, int(round(BASELINE_STOP_FRACTION * pool.size)))
        if pool.size - n_hold < BASELINE_STOP_MIN:
            raise ConfigError(f"config key 'baselines.early_stopping': baseline {k} has {pool.size} training samples, too "
                              f"few to hold out {n_hold} for stopping and still train on {BASELINE_STOP_MIN}; use more "
                              "data or baselines.early_stopping=false")
        perm = np.random.default_rng(cfg.baselines.seed + k).permutation(pool.size)
        hold = np.sort(pool[perm[:n_hold]])
        pool = np.sort(pool[perm[n_hold:]])
    return split, pool.astype(np.int64), hold.astype(np.int64)


def _adopt_baseline(cfg: RunConfig, ds, task, paths: RunPaths, files: "_Files", k: int, tokenizer: Any,
                    device: torch.device, log: Log) -> None:
    """A finished baseline of a run made before ``data.npz`` existed (only ``reference`` without early stopping
    could be: the config hash leaves those defaults out): record what it trained on and score it on the
    evaluation split once, as a new run does."""
    split, idx, hold = baseline_data(cfg, ds, None, k)
    model = _load(build_model_for(cfg, ds, cfg.baselines.seed + k, tokenizer), paths.baseline(k), device, files.fix)
    blog = read_json(paths.baseline_log(k), files.fix)
    kept = _kept_epoch(blog, None)
    loss, acc = evaluate(model, task, ds.x_eval, ds.y_eval, device)
    blog = [r for r in blog if r.get("split") != "eval"] + [{"epoch": kept, "split": "eval", "loss": loss, "accuracy": acc}]
    _write_baseline_data(paths.baseline_data(k), split, idx, hold, kept)
    files.done(paths.baseline_data(k), {"kind": "baseline_data", "model": f"baseline_{k}"}, save=False)
    write_json(paths.baseline_log(k), blog)
    files.done(paths.baseline_log(k), {"kind": "training_log", "model": f"baseline_{k}"})
    log(f"  [baselines] baseline {k + 1}: recorded its training data and scored it on the evaluation split "
        "(a run made before these records)")


def _write_baseline_data(path: Path, split: str, idx: np.ndarray, hold: np.ndarray, kept: int) -> None:
    from .storage import atomic_write

    atomic_write(path, lambda fh: np.savez(fh, split=np.array(split), train_index=idx, holdout_index=hold,
                                           epoch=np.int64(kept)))


def _kept_epoch(blog: list[dict], stop_split: str | None) -> int:
    """The epoch whose weights a baseline keeps: the last one, or the first with the lowest held-out loss."""
    if stop_split is None:
        return int(max(r["epoch"] for r in blog))
    rows = [r for r in blog if r["split"] == stop_split]
    return int(min(rows, key=lambda r: (r["loss"], r["epoch"]))["epoch"])


def build_model_for(cfg: RunConfig, ds, seed: int, tokenizer: Any = None) -> torch.nn.Module:
    """A fresh model of ``cfg.model`` for dataset ``ds`` (initialised from ``seed``).

    ``bert-scratch`` needs a tokenizer: pass the run's (see :func:`run_tokenizer`); without one a
    WordPiece tokenizer is trained on the training texts.

    >>> from genphase.pipeline.config import load_config
    >>> from genphase.datasets import load_breast_cancer
    >>> ds = load_breast_cancer()
    >>> model = build_model_for(load_config("breast-cancer-mlp"), ds, seed=0)
    >>> tuple(model(torch.zeros(5, 30)).shape)  # [batch, classes]
    (5, 2)
    """
    from ..models import build_model

    kw = dict(cfg.model.options)
    if ds.modality == "text" and cfg.model.name == "bert-scratch" and "vocab_size" not in kw and "tokenizer" not in kw:
        if tokenizer is not None:
            kw["tokenizer"] = tokenizer
        elif "texts" not in kw:
            kw["texts"] = list(ds.x_train)
    try:
        return build_model(cfg.model.name, num_classes=ds.num_classes, input_shape=ds.input_shape, seed=seed, **kw)
    except GenphaseError as exc:
        if isinstance(exc, ConfigError) or not isinstance(exc, (ValueError, TypeError)):
            raise
        raise ConfigError(f"config keys 'model.name' / 'model.options' ({cfg.model.name!r}, {dict(cfg.model.options)!r}): {exc}") from exc
    except (TypeError, ValueError) as exc:
        given = ", ".join(f"{k}={v!r}" for k, v in cfg.model.options.items()) or "none"
        raise ConfigError(
            f"config key 'model.options': model {cfg.model.name!r} cannot be built with options {given} "
            f"({type(exc).__name__}: {exc}); check each option's type in the docstring of genphase.models "
            f"(e.g. model.options.hidden=[256,256] for mlp)"
        ) from exc


def run_tokenizer(cfg: RunConfig, ds, root: Path | None) -> Any:
    """The one tokenizer of a ``bert-scratch`` run, trained once and kept in ``checkpoints/tokenizer``.

    WordPiece training is not bit-for-bit repeatable across calls, so every model of a run (and a
    resumed run) must share the saved one. Returns None for other models.

    >>> from genphase.pipeline.config import load_config
    >>> from genphase.datasets import load_breast_cancer
    >>> run_tokenizer(load_config("breast-cancer-mlp"), load_breast_cancer(), None) is None  # not bert-scratch
    True
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
    samples ``usable`` rejects (text: fewer than n eligible words, too long).

    >>> x = np.arange(10) * 10
    >>> pick_samples(x, 3, seed=0, selection="first").tolist()
    [0, 1, 2]
    >>> pick_samples(x, 3, seed=0, selection="first", usable=lambda v: v % 20 == 10).tolist()  # odd positions
    [1, 3, 5]
    >>> sorted(set(pick_samples(x, 3, seed=0).tolist())) == pick_samples(x, 3, seed=0).tolist()  # sorted, distinct
    True
    >>> pick_samples(x, 11, seed=0)
    Traceback (most recent call last):
    ...
    genphase.errors.ConfigError: config key 'explain.samples': 11 exceeds the 10 samples of the split
    """
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
    """Indices of the M training and M reference ("test") samples to explain (see :func:`pick_samples`).

    >>> from genphase.pipeline.config import load_config
    >>> from genphase.datasets import load_breast_cancer
    >>> sel = select_samples(load_config("breast-cancer-mlp", ["explain.samples=8"]), load_breast_cancer())
    >>> {split: idx.size for split, idx in sel.items()}
    {'train': 8, 'test': 8}
    """
    e = cfg.explain
    return {
        split: pick_samples(x, e.samples, seed=e.seed + (split == "test"), selection=e.selection, usable=usable,
                            what="reference (test) split" if split == "test" else "train split")
        for split, x in (("train", ds.x_train), ("test", ds.x_test))
    }


def _take(x, idx):
    return [x[i] for i in idx] if isinstance(x, list) else np.asarray(x)[idx]


def _check_out(root: Path) -> None:
    """``--out`` must be (or become) a directory this process can write."""
    if root.exists() and not root.is_dir():
        raise RunDirectoryError(f"--out {str(root)!r} is a file, not a directory; choose another --out")
    probe = root
    while not probe.exists():
        probe = probe.parent
    if not probe.is_dir():
        raise RunDirectoryError(f"--out {str(root)!r} lies under the file {str(probe)!r}; choose another --out")
    if not os.access(probe, os.W_OK | os.X_OK):
        raise RunDirectoryError(
            f"--out {str(root)!r}: cannot write to {str(probe)!r} (permission denied); choose another --out "
            "or make it writable")


def _prepare_dir(paths: RunPaths, cfg: RunConfig, log: Log = lambda m: None) -> dict:
    h = config_hash(cfg)
    _check_out(paths.root)
    if paths.manifest.exists():
        man = read_json(paths.manifest, fix=(
            "the run's records are lost: move the directory away (or delete it) and rerun into a fresh --out; "
            f"`genphase run --verify {paths.root}` shows what it holds"))
        if not isinstance(man, dict) or not isinstance(man.get("stages", {}), dict):
            raise CorruptFileError(
                f"{str(paths.manifest)!r} is not a genphase manifest (a mapping with config_hash and stages); move the "
                "directory away (or delete it) and rerun into a fresh --out", paths.manifest)
        man.setdefault("stages", {})
        man.setdefault("timings", {})
        gone = remove_orphans(paths.root)
        if gone:
            log(f"removed {len(gone)} temporary file(s) left by an interrupted run: "
                + ", ".join(str(p.relative_to(paths.root)) for p in gone[:5]) + (" ..." if len(gone) > 5 else ""))
        if not paths.config.exists() and man.get("config_hash") == h:  # killed between the two writes
            from .storage import atomic_write

            atomic_write(paths.config, lambda fh: fh.write(cfg.to_yaml()), mode="w")
        fresh = not man.get("stages") and not (paths.root / "checkpoints").exists()
        if man.get("config_hash") != h and fresh:
            # an earlier invocation failed before any work (e.g. a bad config): take the directory over
            paths.manifest.unlink()
            paths.config.unlink(missing_ok=True)
            return _prepare_dir(paths, cfg, log)
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
    remove_orphans(paths.root)
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
        "integrity": INTEGRITY_VERSION,
        "files": {},
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
    (after the first metric table is written). Does nothing unless both variables are set.
    ``GENPHASE_TEST_KILL_AT`` / ``GENPHASE_TEST_KILL_FILE``: the process that reaches the point
    SIGKILLs itself instead (once: it writes the file first, and never kills while the file exists),
    so a test can kill a Ray worker mid-task (tests/pipeline/test_stages_ray.py)."""
    kill = os.environ.get("GENPHASE_TEST_KILL_FILE")
    if kill and os.environ.get("GENPHASE_TEST_KILL_AT") == point and not Path(kill).exists():
        import signal

        Path(kill).write_text(f"{point} {os.getpid()}")
        os.kill(os.getpid(), signal.SIGKILL)
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


class _Files:
    """The manifest's file records, as the run uses them: is a file finished (and intact), record one."""

    def __init__(self, paths: RunPaths, man: dict, log: Log, cfg: RunConfig):
        self.paths, self.man, self.log = paths, man, log
        self.legacy = "files" not in man  # made before integrity records: adopt what exists
        man.setdefault("files", {})
        self.fix = run_file_fix(paths.root)
        if self.legacy:
            from .integrity import expected_files

            adopted = [(paths.root / rel, what) for rel, what, _ in expected_files(cfg) if (paths.root / rel).is_file()]
            for p, what in adopted:
                self.done(p, what, save=False)
            man["integrity"] = INTEGRITY_VERSION
            write_json(paths.manifest, man)
            if adopted:
                log(f"recorded {len(adopted)} existing files in manifest.json (run made before integrity records)")

    def finished(self, path: Path, what: dict[str, Any]) -> bool:
        """True when ``path`` is a finished file of this run (checked against its record); an unrecorded
        leftover of a killed write is removed (False: recompute it)."""
        root = self.paths.root
        if recorded(self.man, root, path):
            check_file(self.man, root, path, what)
            return True
        if not path.exists():
            return False
        if self.legacy:
            self.done(path, what)
            return True
        self.log(f"  {path.relative_to(root)} has no record in manifest.json (a write cut short by a kill): recomputing it")
        path.unlink()
        return False

    def done(self, path: Path, what: dict[str, Any], *, save: bool = True) -> None:
        record_file(self.man, self.paths.root, path, what)
        if save:
            write_json(self.paths.manifest, self.man)

    def need(self, path: Path, what: dict[str, Any]) -> Path:
        """``path``, which must be a finished file of this run (else a CorruptFileError naming it)."""
        if not self.finished(path, what):
            raise CorruptFileError(f"{path.relative_to(self.paths.root)} in {str(self.paths.root)!r} is missing although "
                                   f"its stage is finished; {self.fix}", path)
        return path

    def forget(self, prefix: str) -> None:
        self.man["files"] = {k: v for k, v in self.man["files"].items() if not k.startswith(prefix)}


def _rate(count: float, seconds: float, unit: str) -> str:
    r = count / max(seconds, 1e-9)
    if r >= 1e6:
        return f"{r / 1e6:.2f}M {unit}/s"
    if r >= 1e3:
        return f"{r / 1e3:.1f}k {unit}/s"
    return f"{r:.0f} {unit}/s" if r >= 100 else f"{r:.3g} {unit}/s"


def _read_baseline_data(path: Path, fix: str) -> dict[str, Any]:
    try:
        with np.load(path, allow_pickle=False) as z:
            out = {"split": str(z["split"]), "train_index": z["train_index"].astype(np.int64),
                   "holdout_index": z["holdout_index"].astype(np.int64), "epoch": int(z["epoch"])}
    except (OSError, KeyError, ValueError) as exc:
        raise CorruptFileError(f"{str(path)!r} is not a baseline data record ({exc}); {fix}", path) from exc
    return out


def _eligible(bdata: list[dict[str, Any]], explained_index: np.ndarray, split_exp: np.ndarray) -> np.ndarray | None:
    """``[B, K]``: True where baseline k never saw explained sample i (trained or stopped on it); None when every
    baseline learnt from the reference split (the paper's design: every sample is compared with all K).

    Explained reference ("test") samples are compared with every baseline that did not learn from the reference
    split (under crossfit: all K)."""
    if all(d["split"] == "test" for d in bdata):
        return None
    out = np.ones((explained_index.size, len(bdata)), dtype=bool)
    for k, d in enumerate(bdata):  # over the K baselines (a handful)
        seen = np.union1d(d["train_index"], d["holdout_index"])
        own = split_exp == ("test" if d["split"] == "test" else "train")
        out[:, k] = ~(own & np.isin(explained_index, seen))
    return out


def _baselines_table(cfg: RunConfig, training: Any, bdata: list[dict[str, Any]]) -> Any:
    """``metrics/baselines.parquet``: one row per baseline (docs/run-directory.md)."""
    import pandas as pd

    rows = []
    for k, d in enumerate(bdata):
        ev = training[(training["model"] == f"baseline_{k}") & (training["split"] == "eval")]
        rows.append({"baseline": k, "trained_on": cfg.baselines.trained_on, "n_train": int(d["train_index"].size),
                     "epochs": d["epoch"],
                     "eval_loss": float(ev["loss"].iloc[-1]) if len(ev) else np.nan,
                     "eval_accuracy": float(ev["accuracy"].iloc[-1]) if len(ev) else np.nan})
    return pd.DataFrame(rows, columns=["baseline", "trained_on", "n_train", "epochs", "eval_loss", "eval_accuracy"])


def baseline_warnings(baselines: Any, training: Any, gap: float = BASELINE_ACCURACY_GAP) -> list[str]:
    """One sentence per baseline whose ``eval_accuracy`` lies more than ``gap`` below the model's best
    evaluation accuracy (``training`` rows of model "model", split "eval").

    >>> import pandas as pd
    >>> b = pd.DataFrame({"baseline": [0, 1], "eval_accuracy": [0.9, 0.5]})
    >>> t = pd.DataFrame({"model": "model", "split": "eval", "accuracy": [0.7, 0.92]})
    >>> len(baseline_warnings(b, t))
    1
    """
    ev = training[(training["model"] == "model") & (training["split"] == "eval")]["accuracy"]
    if not len(ev) or not len(baselines):
        return []
    best = float(ev.max())
    out = []
    for b, acc in zip(baselines["baseline"], baselines["eval_accuracy"]):
        if np.isfinite(acc) and acc < best - gap:
            out.append(f"baseline {int(b)} reaches an evaluation accuracy of {acc:.3f}, more than {gap:.2f} below the "
                       f"model's best ({best:.3f}): a weak baseline shares fewer interactions, so H-bar may read low; "
                       "train the baselines longer or on more data (baselines.epochs, baselines.trained_on)")
    return out


def _extra_tables(cfg: RunConfig, series: list, baselines: list, split_exp: np.ndarray, eligible: np.ndarray | None,
                  tables: dict[str, Any], not_computed: dict[str, str]) -> dict[str, Any]:
    """``h_bar_ceiling`` and ``evidence`` (K >= 2), and ``normalized`` in ``h_bar_summary``; the reason in
    ``not_computed`` when K = 1."""
    from ..analysis import evidence_series, h_bar_ceiling, normalize_by_ceiling

    ac, tau = cfg.analysis, cfg.interactions.tau
    out: dict[str, Any] = {}
    if len(baselines) < 2:
        why = (f"needs K >= 2 baselines, the run has K = {len(baselines)}; set baselines.k=2 or more")
        not_computed["h_bar_ceiling"] = "the H-bar ceiling (each baseline against the other K - 1) " + why
        not_computed["evidence"] = "graded evidence (n_agree = 0..K; with K = 1 it is G itself) " + why
        if "h_bar_summary" in tables:
            tables["h_bar_summary"]["normalized"] = np.nan
        return out
    ceiling = h_bar_ceiling(baselines, split=split_exp, tau=tau, eligible=eligible, n_resamples=max(1, ac.n_resamples),
                            level=ac.ci_level, seed=ac.seed)
    if ac.n_resamples == 0:  # intervals skipped, as for h_bar_summary
        ceiling[["ci_low", "ci_high"]] = np.nan
    out["h_bar_ceiling"] = ceiling
    if "h_bar_summary" in tables:
        tables["h_bar_summary"] = normalize_by_ceiling(tables["h_bar_summary"], ceiling)
    out["evidence"] = evidence_series(series, baselines, split=split_exp, tau=tau, eligible=eligible)
    return out


def _load(model: torch.nn.Module, path: Path, device: torch.device, fix: str | None = None) -> torch.nn.Module:
    fix = fix or run_file_fix(path.parent)
    return _apply_state(model, read_torch(path, map_location=device, fix=fix), path, device, fix)


def _apply_state(model: torch.nn.Module, state: Any, path: Path, device: torch.device, fix: str) -> torch.nn.Module:
    """``model`` with the state_dict ``state`` read from ``path`` (a mismatch names the file)."""
    try:
        model.load_state_dict(state)
    except (RuntimeError, TypeError, KeyError, AttributeError, ValueError) as exc:
        raise CorruptFileError(
            f"{str(path)!r} does not hold a state_dict of this model ({' '.join(str(exc).split())[:300]}); {fix}", path) from exc
    return model.to(device).eval()


def _inputs_for(inputs: Any, model: torch.nn.Module, masker: Any, modality: str) -> Any:
    """Text maskers embed with the model's own embedding layer: rebind it per model."""
    if modality == "text" and hasattr(masker, "embedding"):
        masker.embedding = model.model.get_input_embeddings()
    return inputs
