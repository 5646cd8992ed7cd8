"""Run configuration of ``genphase run``: typed sections, strict validation, YAML I/O, overrides.

A configuration is a YAML mapping with the sections below (every key optional except
``data.name`` and ``model.name``, which presets fill). Unknown keys, wrong types and
impossible values raise :class:`~genphase.errors.ConfigError` naming the key and the fix,
before any training starts.

(At about 550 lines this module is a little over the house's 500: it is the one schema of a run's YAML,
each run-only section with its doctest, the cross-section checks and the YAML I/O with overrides; the
sections a Tracker shares live in :mod:`genphase.settings`.)
"""

from __future__ import annotations

import copy
import dataclasses
import hashlib
import json
import math
import numbers
import re
import types
import typing
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Mapping

from ..errors import ConfigError
from ..settings import (  # the sections a Tracker shares (one definition, one validate() each)
    BASELINE_SOURCES,
    BASELINE_STOP_FRACTION,
    BASELINE_STOP_MIN,
    BASELINE_STOP_PATIENCE,
    MIN_BOOTSTRAP_SAMPLES,
    AnalysisConfig,
    BaselineConfig,
    InteractionConfig,
    Settings,
    check_bootstrap_samples,
    check_seed,
    check_variables,
)
from .presets import PRESETS, merge_config, preset_dict

__all__ = [
    "DataConfig",
    "ModelConfig",
    "TrainingConfig",
    "CheckpointConfig",
    "BaselineConfig",
    "ExplainConfig",
    "VariablesConfig",
    "InteractionConfig",
    "AnalysisConfig",
    "ExecutionConfig",
    "EXECUTOR_KEYS",
    "RunConfig",
    "load_config",
    "apply_overrides",
    "config_hash",
    "LAYOUTS",
    "BASELINE_SOURCES",
    "BASELINE_STOP_FRACTION",
    "BASELINE_STOP_MIN",
    "BASELINE_STOP_PATIENCE",
    "Settings",
    "MIN_BOOTSTRAP_SAMPLES",
    "MIN_EVAL_SAMPLES",
]

#: Fewest samples of the evaluation split (it scores a recommended stop; fewer make its loss too noisy).
MIN_EVAL_SAMPLES = 20

#: ``variables.layout`` values per modality. ``random-central`` is the default of every modality:
#: images draw random patches from the central region; tabular data draws random features; text
#: takes the first eligible words; point clouds ignore the layout (variables are clusters).
LAYOUTS: dict[str, tuple[str, ...]] = {
    "image": ("random-central", "fixed", "all"),
    "tabular": ("random-central", "random", "first"),
    "text": ("random-central", "first", "random"),
    "pointcloud": ("random-central",),
}


@dataclass
class DataConfig:
    """Dataset and its three disjoint splits (docs/run-directory.md, "Splits").

    The loader gives a training and a test split. ``train_size`` subsamples the training split (to
    provoke over-fitting); ``label_noise`` flips that fraction of its labels. ``test_subsample``
    caps the loader's test split (faster quick runs); ``eval_fraction`` of it is then carved out as
    the *evaluation* split (stratified by class, seeded by ``seed``; used only to score a
    recommended stop), and the rest is the *reference* split (the paper's test split: the K
    baselines train on it, explained "test" samples come from it). ``options`` go to the dataset
    loader.

    >>> d = DataConfig(name="digits", train_size=400)
    >>> d.eval_fraction, d.test_subsample, d.label_noise  # a quarter of the test split scores the stop
    (0.25, None, 0.0)
    """

    name: str = ""
    train_size: int | None = None
    test_subsample: int | None = None
    eval_fraction: float = 0.25
    label_noise: float = 0.0
    seed: int = 0
    options: dict[str, Any] = field(default_factory=dict)


@dataclass
class ModelConfig:
    """Model family (see ``genphase.models.build_model``) and its keyword options.

    >>> ModelConfig("mlp", {"hidden": [32]})
    ModelConfig(name='mlp', options={'hidden': [32]})
    """

    name: str = ""
    options: dict[str, Any] = field(default_factory=dict)


@dataclass
class TrainingConfig:
    """Training of the model under study (and defaults for baselines).

    >>> t = TrainingConfig(epochs=10)
    >>> t.epochs, t.optimizer, t.lr, t.batch_size
    (10, 'sgd', 0.05, 64)
    """

    epochs: int = 30
    optimizer: str = "sgd"
    lr: float = 0.05
    momentum: float = 0.9
    weight_decay: float = 0.0
    batch_size: int = 64
    seed: int = 0


@dataclass
class CheckpointConfig:
    """Checkpoint schedule: ``every`` k epochs, or ``log`` (``count`` log-spaced epochs); epoch 0 always.

    ``refine``: save the model at every epoch, extract the schedule first, then the saved epochs around each
    boundary the analysis reports, until its neighbours are consecutive saved epochs; the saved epochs never
    extracted are deleted when the run finishes (docs/analysis.md, "Resolved boundaries").

    >>> cfg = load_config("digits", ["training.epochs=60", "checkpoints.schedule=every", "checkpoints.every=20"])
    >>> cfg.checkpoints, cfg.checkpoint_epochs(), len(cfg.saved_epochs())
    (CheckpointConfig(schedule='every', every=20, count=10, refine=True), [0, 20, 40, 60], 61)
    """

    schedule: str = "every"
    every: int = 1
    count: int = 12
    refine: bool = False


@dataclass
class ExplainConfig:
    """Explained samples: ``samples`` training + ``samples`` testing samples.

    ``unseen``: also explain that many samples of the evaluation split, as split ``unseen``: neither the model nor
    any baseline trained on them. Their H-bar is reported (``h_bar_summary``); no stop rule reads them.

    >>> e = ExplainConfig(samples=8)
    >>> e.samples, e.selection
    (8, 'random')
    >>> load_config("digits", ["explain.samples=4"])  # too few for the bootstrap of the intervals
    Traceback (most recent call last):
    ...
    genphase.errors.ConfigError: config key 'explain.samples': 4 explained samples per split are fewer ...
    """

    samples: int = 16
    selection: str = "random"
    seed: int = 0
    unseen: int = 0


@dataclass
class VariablesConfig:
    """Input variables: ``n`` and the modality's layout options (patch size, layout rule...).

    >>> v = load_config("digits").variables
    >>> v.n, v.layout, v.patch_size
    (10, 'random-central', 2)
    >>> load_config("digits", ["variables.n=25"])
    Traceback (most recent call last):
    ...
    genphase.errors.ConfigError: config key 'variables.n': must be in 1..20 (2**n masked forward passes per sample), got 25
    """

    n: int = 12
    layout: str = "random-central"
    patch_size: int | None = None
    seed: int = 0
    options: dict[str, Any] = field(default_factory=dict)


@dataclass
class ExecutionConfig:
    """Where the stages run (``executor: ray``; docs/scaling.md). Not part of the config hash: a run
    directory can be resumed on another executor.

    ``address``: a Ray cluster to join (``HOST:6379`` or ``ray://HOST:10001``; default ``RAY_ADDRESS``,
    else a local Ray instance); ``shared_path``: a directory every machine mounts at the same path,
    through which files travel instead of Ray's object store (the run directory must lie inside it);
    ``max_retries``: retries of a task whose worker died; ``cpus_per_task``: CPUs each task asks for
    (at least ``threads``); ``threads``: torch CPU threads of every stage, on every executor (default 1:
    a stage computes the same numbers wherever it runs; docs/run-directory.md, "Determinism"); ``workers``:
    processes the local executor runs stages in, side by side (default 1: in this process, in order);
    ``chunk_samples``: explained samples per extraction task (None: one task per
    model and checkpoint; otherwise each model's samples are split into chunks, extracted as separate
    tasks and joined into its interactions file).

    >>> load_config("digits", ["executor=ray", "execution.address=head:6379"]).execution.address
    'head:6379'
    >>> load_config("digits", ["execution.address=head:6379"])  # the local executor has no address
    Traceback (most recent call last):
    ...
    genphase.errors.ConfigError: config key 'execution.address': 'head:6379' applies to the Ray executor only ...
    """

    address: str | None = None
    shared_path: str | None = None
    max_retries: int = 3
    cpus_per_task: float = 1.0
    threads: int = 1
    workers: int = 1
    chunk_samples: int | None = None


#: Top-level config keys that say how a run executes, not what it computes (left out of the config hash).
EXECUTOR_KEYS = ("executor", "execution")


@dataclass
class RunConfig:
    """Everything ``genphase run`` needs; ``to_dict`` / ``from_dict`` round-trip through YAML.

    >>> cfg = RunConfig.from_dict({"data": {"name": "digits"}, "model": {"name": "mlp"}})
    >>> cfg.training.epochs, cfg.device, cfg.executor
    (30, 'auto', 'local')
    >>> RunConfig.from_dict(cfg.to_dict()) == cfg
    True
    >>> RunConfig().validate()
    Traceback (most recent call last):
    ...
    genphase.errors.ConfigError: config key 'data.name': missing; name a dataset (see `genphase presets`)
    """

    preset: str | None = None
    data: DataConfig = field(default_factory=DataConfig)
    model: ModelConfig = field(default_factory=ModelConfig)
    training: TrainingConfig = field(default_factory=TrainingConfig)
    checkpoints: CheckpointConfig = field(default_factory=CheckpointConfig)
    baselines: BaselineConfig = field(default_factory=BaselineConfig)
    explain: ExplainConfig = field(default_factory=ExplainConfig)
    variables: VariablesConfig = field(default_factory=VariablesConfig)
    interactions: InteractionConfig = field(default_factory=InteractionConfig)
    analysis: AnalysisConfig = field(default_factory=AnalysisConfig)
    device: str = "auto"
    executor: str = "local"
    execution: ExecutionConfig = field(default_factory=ExecutionConfig)

    @property
    def settings(self) -> Settings:
        """The ``interactions``, ``baselines`` and ``analysis`` sections, as a :class:`~genphase.settings.Settings`
        (the same objects: a Tracker takes and validates these).

        >>> load_config("digits").settings.interactions.tau
        0.05
        """
        return Settings(interactions=self.interactions, baselines=self.baselines, analysis=self.analysis)

    # -------------------------------------------------------------- conversion
    def to_dict(self) -> dict[str, Any]:
        return dataclasses.asdict(self)

    @classmethod
    def from_dict(cls, raw: Mapping[str, Any]) -> "RunConfig":
        cfg = _build(cls, raw, "")
        cfg.validate()
        return cfg

    def to_yaml(self) -> str:
        import yaml

        return yaml.safe_dump(self.to_dict(), sort_keys=False)

    # -------------------------------------------------------------- checks
    def validate(self) -> None:
        """Check values that types alone cannot (ranges, names); raise ConfigError."""
        def need(cond: bool, key: str, msg: str) -> None:
            if not cond:
                raise ConfigError(f"config key '{key}': {msg}")

        need(bool(self.data.name), "data.name", "missing; name a dataset (see `genphase presets`)")
        need(bool(self.model.name), "model.name", "missing; name a model family")
        need(self.data.test_subsample is None or self.data.test_subsample >= 1, "data.test_subsample", "must be >= 1")
        need(self.data.train_size is None or self.data.train_size >= 1, "data.train_size", f"must be >= 1, got {self.data.train_size}")
        need(0.0 <= self.data.label_noise < 1.0, "data.label_noise", f"must be in [0, 1), got {self.data.label_noise}")
        need(0.0 < self.data.eval_fraction < 1.0, "data.eval_fraction",
             f"must be in (0, 1), got {self.data.eval_fraction}: the evaluation split (held out from the training and "
             "reference splits, used only to score a recommended stop) cannot be missing; e.g. data.eval_fraction=0.25")
        t = self.training
        need(t.epochs >= 1, "training.epochs", f"must be >= 1, got {t.epochs}")
        need(t.lr > 0, "training.lr", f"must be > 0, got {t.lr}")
        need(t.momentum >= 0, "training.momentum", f"must be >= 0, got {t.momentum}")
        need(t.weight_decay >= 0, "training.weight_decay", f"must be >= 0, got {t.weight_decay}")
        need(self.baselines.lr is None or self.baselines.lr > 0, "baselines.lr", f"must be > 0, got {self.baselines.lr}")
        need(t.batch_size >= 1, "training.batch_size", f"must be >= 1, got {t.batch_size}")
        need(t.optimizer in ("sgd", "adam", "adamw"), "training.optimizer", f"must be sgd, adam or adamw, got {t.optimizer!r}")
        c = self.checkpoints
        need(c.schedule in ("every", "log"), "checkpoints.schedule", f"must be 'every' or 'log', got {c.schedule!r}")
        need(c.every >= 1, "checkpoints.every", f"must be >= 1, got {c.every}")
        need(c.count >= 2, "checkpoints.count", f"must be >= 2, got {c.count}")
        need(isinstance(c.refine, bool), "checkpoints.refine",
             f"must be true (save every epoch and extract around each boundary) or false, got {c.refine!r}")
        check_seed(self.data.seed, "data.seed")
        check_seed(self.training.seed, "training.seed")
        self.settings.validate()  # baselines.seed and analysis.seed among the rest
        check_seed(self.explain.seed, "explain.seed", uses=2, why="the reference split's samples use seed + 1")
        check_seed(self.variables.seed, "variables.seed")
        need(self.explain.samples >= 1, "explain.samples", f"must be >= 1, got {self.explain.samples}")
        need(self.explain.unseen == 0 or self.explain.unseen >= 8, "explain.unseen",
             f"must be 0 (none) or >= 8 (the bootstrap of their H-bar needs 8 or more), got {self.explain.unseen}")
        check_bootstrap_samples(self.explain.samples, self.analysis.n_resamples)
        need(self.explain.selection in ("random", "first"), "explain.selection",
             f"must be random or first, got {self.explain.selection!r}")
        every = sorted({x for v in LAYOUTS.values() for x in v})
        per = "; ".join(m + ": " + ", ".join(v) for m, v in LAYOUTS.items())
        need(self.variables.layout in every, "variables.layout",
             f"unknown layout {self.variables.layout!r}; choose one of {', '.join(every)} (per modality: {per})")
        need(self.variables.patch_size is None or self.variables.patch_size >= 1, "variables.patch_size",
             f"must be >= 1 pixels, got {self.variables.patch_size}")
        check_variables(self.variables.n)
        need(re.fullmatch(r"auto|cpu|cuda(:\d+)?|mps", self.device) is not None, "device",
             f"must be auto, cpu, cuda, cuda:<index> or mps, got {self.device!r}")
        x = self.execution
        need(self.executor in ("local", "ray"), "executor",
             f"must be local or ray, got {self.executor!r} (e.g. executor=ray, or --executor ray)")
        need(x.max_retries >= 0, "execution.max_retries",
             f"must be an integer >= 0 (retries of a task whose worker died), got {x.max_retries}")
        need(math.isfinite(x.cpus_per_task) and x.cpus_per_task > 0, "execution.cpus_per_task",
             f"must be a number > 0 (CPUs each Ray task asks for), got {x.cpus_per_task}")
        need(x.threads >= 1, "execution.threads",
             f"must be an integer >= 1 (torch CPU threads of every stage, the same on every executor), got {x.threads}")
        need(x.workers >= 1, "execution.workers",
             f"must be an integer >= 1 (processes running stages side by side on this machine), got {x.workers}")
        need(x.chunk_samples is None or x.chunk_samples >= 1, "execution.chunk_samples",
             f"must be an integer >= 1 (explained samples per extraction task), got {x.chunk_samples}; or leave it "
             "unset (one task per model and checkpoint)")
        for key in ("address", "shared_path"):
            val = getattr(x, key)
            need(val is None or (bool(val.strip()) and self.executor == "ray"), f"execution.{key}",
                 f"{val!r} applies to the Ray executor only and must not be empty; set executor=ray (--executor ray) "
                 f"or leave execution.{key} out")

    def checkpoint_epochs(self) -> list[int]:
        """Epochs at which the model is checkpointed and explained (0 = initialisation)."""
        e = self.training.epochs
        if self.checkpoints.schedule == "every":
            eps = list(range(0, e + 1, self.checkpoints.every))
        else:
            import numpy as np

            eps = sorted({0, *np.unique(np.round(np.geomspace(1, e, self.checkpoints.count - 1)).astype(int)).tolist()})
        if eps[-1] != e:
            eps.append(e)
        return eps

    def saved_epochs(self) -> list[int]:
        """Epochs whose weights training saves: every epoch with ``checkpoints.refine``, else the schedule's."""
        return list(range(self.training.epochs + 1)) if self.checkpoints.refine else self.checkpoint_epochs()


def _strip_optional(tp: Any) -> tuple[Any, bool]:
    if typing.get_origin(tp) in (typing.Union, types.UnionType):
        args = [a for a in typing.get_args(tp) if a is not type(None)]
        return (args[0] if len(args) == 1 else tp), True
    return tp, False


def _build(cls: type, raw: Any, prefix: str):
    if not isinstance(raw, Mapping):
        raise ConfigError(f"config key '{prefix.rstrip('.') or '<root>'}': expected a mapping, got {type(raw).__name__}")
    hints = typing.get_type_hints(cls)
    names = [f.name for f in dataclasses.fields(cls)]
    kwargs = {}
    for key, val in raw.items():
        path = f"{prefix}{key}"
        if key not in names:
            raise ConfigError(f"unknown config key '{path}'; valid keys here: {', '.join(names)}")
        tp, optional = _strip_optional(hints[key])
        if dataclasses.is_dataclass(tp):
            kwargs[key] = _build(tp, val if val is not None else {}, path + ".")
        else:
            kwargs[key] = _coerce(val, tp, optional, path)
    return cls(**kwargs)


def _scalar(val: Any) -> Any:
    """numpy scalars and one-element (0-d) tensors/arrays as plain Python numbers; other values unchanged."""
    if isinstance(val, (bool, int, float, str)) or val is None:
        return val
    if hasattr(val, "item") and (getattr(val, "ndim", None) == 0 or getattr(val, "shape", None) == ()):
        try:
            return val.item()
        except (TypeError, ValueError, RuntimeError):
            return val
    return val


def _coerce(val: Any, tp: Any, optional: bool, path: str) -> Any:
    val = _scalar(val)
    if val is None:
        if optional:
            return None
        raise ConfigError(f"config key '{path}': may not be null")
    origin = typing.get_origin(tp) or tp
    if origin is float and isinstance(val, str):
        try:  # YAML 1.1 reads 1e-4 (no dot) as a string
            val = float(val.strip())
        except ValueError:
            pass
    is_int = isinstance(val, numbers.Integral) and not isinstance(val, bool)
    ok = {
        bool: isinstance(val, bool),
        int: is_int,
        float: isinstance(val, numbers.Real) and not isinstance(val, bool),
        str: isinstance(val, str),
        dict: isinstance(val, Mapping),
    }.get(origin, True)
    if not ok:
        name = getattr(origin, "__name__", str(tp))
        hint = " (a mapping: section.key.sub=value or YAML {...})" if origin is dict else ""
        raise ConfigError(f"config key '{path}': expected {name}{hint}, got {val!r} ({type(val).__name__})")
    if origin is float:
        val = float(val)
        if math.isnan(val):
            raise ConfigError(f"config key '{path}': got NaN; give a number")
        return val
    if origin is int:
        return int(val)
    if origin is dict:
        return _plain(val)
    return val


def _plain(val: Any) -> Any:
    """Nested mappings / lists of numpy or torch scalars as plain Python values (YAML- and JSON-safe)."""
    val = _scalar(val)
    if isinstance(val, Mapping):
        return {k: _plain(v) for k, v in val.items()}
    if isinstance(val, (list, tuple)):
        return [_plain(v) for v in val]
    return val


def load_config(
    source: str | Path | Mapping[str, Any], overrides: list[str] | None = None, *, quick: bool = False
) -> RunConfig:
    """Build a config from a preset name, a YAML file or a mapping, then apply ``key=value`` overrides.

    ``quick`` applies the preset's quick setting (for a YAML file: of the preset it names).

    >>> cfg = load_config("digits", ["training.epochs=5", "explain.samples=8"])
    >>> cfg.preset, cfg.data.name, cfg.training.epochs, cfg.explain.samples
    ('digits', 'digits', 5, 8)
    >>> load_config("digits", quick=True).training.epochs
    40
    >>> load_config("digits", ["training.epoch=5"])
    Traceback (most recent call last):
    ...
    genphase.errors.ConfigError: unknown config key 'training.epoch'; valid keys here: epochs, optimizer, ...
    """
    if isinstance(source, Mapping):
        raw = copy.deepcopy(dict(source))
    else:
        s = str(source)
        if s in PRESETS:
            raw = preset_dict(s, quick=quick)
        else:
            p = Path(s)
            if not p.exists():
                raise ConfigError(
                    f"{s!r} is neither a preset ({', '.join(PRESETS)}) nor an existing config file"
                )
            raw = _read_config_file(p)
            if not isinstance(raw, dict):
                raise ConfigError(f"config file {s!r} must hold a mapping of sections, got {type(raw).__name__}")
            base = raw.pop("preset", None)
            if base is not None:
                if base not in PRESETS:
                    raise ConfigError(f"config key 'preset': unknown preset {base!r}; choose one of {', '.join(PRESETS)}")
                raw = merge_config(preset_dict(base, quick=quick), raw)
    raw = apply_overrides(raw, overrides or [])
    return RunConfig.from_dict(raw)


def _read_config_file(path: Path) -> Any:
    """The parsed YAML of a config file (``{}`` if empty); a key given twice or bad YAML is a ConfigError."""
    import yaml

    from .._yaml import DuplicateKeyError, NotUtf8Error, decode_yaml, parse_yaml

    try:
        return parse_yaml(decode_yaml(path.read_bytes(), str(path)), str(path)) or {}
    except (DuplicateKeyError, NotUtf8Error) as exc:
        raise ConfigError(f"config file {str(path)!r}: {exc}") from exc
    except yaml.YAMLError as exc:
        raise ConfigError(f"config file {str(path)!r} is not valid YAML: {exc}") from exc


def apply_overrides(raw: dict, overrides: list[str]) -> dict:
    """Apply ``section.key=value`` overrides (values parsed as YAML scalars) to a raw mapping.

    >>> apply_overrides({"training": {"epochs": 3}}, ["training.lr=0.01", "model.options.hidden=[8, 8]"])
    {'training': {'epochs': 3, 'lr': 0.01}, 'model': {'options': {'hidden': [8, 8]}}}
    """
    import yaml

    from .._yaml import parse_yaml

    out = copy.deepcopy(raw)
    for item in overrides:
        if "=" not in item:
            raise ConfigError(f"override {item!r} must look like section.key=value (e.g. training.epochs=10)")
        key, _, text = item.partition("=")
        parts = [p for p in key.strip().split(".") if p]
        if not parts:
            raise ConfigError(f"override {item!r} has an empty key")
        try:
            value = parse_yaml(text) if text.strip() else None
        except yaml.YAMLError as exc:
            raise ConfigError(f"override {item!r}: cannot parse value: {exc}") from exc
        node = out
        for p in parts[:-1]:
            nxt = node.setdefault(p, {})
            if not isinstance(nxt, dict):
                raise ConfigError(f"override {item!r}: '{p}' is not a section")
            node = nxt
        node[parts[-1]] = value
    return out


def config_hash(cfg: RunConfig) -> str:
    """Stable hash of the scientific content of a config (device, executor and execution excluded; keys added
    later are left out while they hold their default, so a run made before they existed keeps its hash).

    >>> h = config_hash(load_config("digits"))
    >>> len(h), h == config_hash(load_config("digits", ["device=cpu", "executor=ray"]))
    (16, True)
    >>> h == config_hash(load_config("digits", ["training.epochs=5"]))
    False
    """
    d = cfg.to_dict()
    d.pop("device", None)
    for key in EXECUTOR_KEYS:  # how it runs, not what it computes: a run resumes on another executor
        d.pop(key, None)
    for section, key, default in (("baselines", "trained_on", "reference"), ("baselines", "early_stopping", False),
                                  ("baselines", "null", True), ("analysis", "null_draws", 20),
                                  ("checkpoints", "refine", False), ("interactions", "tau_mode", "relative"),
                                  ("explain", "unseen", 0)):
        if d[section].get(key) == default:
            d[section].pop(key)
    return hashlib.sha256(json.dumps(d, sort_keys=True, default=str).encode()).hexdigest()[:16]
