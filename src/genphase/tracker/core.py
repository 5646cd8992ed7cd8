"""The :class:`Tracker`: a thin shell that measures a model during the user's training through the shared extraction
path, analysis engine and run-directory layout of ``genphase run`` (the package docstring tells the whole story)."""

from __future__ import annotations

import copy
import dataclasses
import json
import math
import platform
import sys
import time
import warnings
from pathlib import Path
from typing import Any, Callable, Mapping, Sequence

import numpy as np
import torch

from ..analysis.engine import BaselineRecord, RunAnalysis, SeriesAnalysis
from ..errors import ConfigError, GenphaseError, InputError, RunDirectoryError
from ..rundir import RunPaths
from ..settings import Settings, check_bootstrap_samples, check_variables
from .baselines import _OPTIMIZERS, _train_baseline
from .forward import _call, _chunks, _EvalMode, _param_signature, _rows_of, _to
from .inputs import (
    _dataset_index,
    _default_masker,
    _describe,
    _describe_inputs,
    _embedding_of,
    _fingerprint,
    _infer_modality,
    _is_texts,
    _masker_modality,
    _pair,
    _training_rows,
)
from .verdict import PhaseRule, Verdict, verdict_of

__all__ = ["Tracker", "SCALAR_KEYS", "CONFIDENCE"]


#: Keys of the dict returned by :meth:`Tracker.measure` (besides ``step``).
SCALAR_KEYS: tuple[str, ...] = (
    "h_bar", "h_bar_low", "h_bar_high", "h_bar_test", "h_bar_test_low", "h_bar_test_high",
    "high_order_nongen", "high_order_nongen_test", "phase", "stop", "seconds",
)


#: Default level of the H-bar intervals (``analysis.ci_level``: seeded percentile bootstrap over explained samples).
CONFIDENCE = 0.95


_FORMAT = "genphase.Tracker/1"


#: Defaults of the baselines a tracker trains itself (a run's default to the model's training settings instead).
_TRACKER_BASELINE_EPOCHS = 20


_TRACKER_BASELINE_LR = 1e-3


class Tracker:
    """Measure H-bar and the phase of a model's interactions during training; append to a run directory.

    A thin shell over the code ``genphase run`` uses: the settings are :class:`genphase.settings.Settings`
    (a run config's ``interactions``, ``baselines`` and ``analysis`` sections, validated here, before any
    baseline trains), each measurement goes through the one extraction path
    (:func:`genphase.extraction.extract`) and the one analysis engine
    (:class:`genphase.analysis.SeriesAnalysis`), and the run directory is written through
    :mod:`genphase.rundir`: the same checkpoints, baselines, samples and masker give the tables of a run.

    Args:
        train_samples: ``(inputs, labels)`` explained samples from the training data: a tensor /
            array ``[M, ...]`` (images ``[M, C, H, W]``, tabular ``[M, F]``, point clouds
            ``[M, P, 3]``) or a list of ``M`` texts, and ``M`` integer labels. Split ``"train"``.
        reference_samples: the same from the reference (the paper's test) data. Split ``"test"``.
        run_dir: the run directory (created; one that holds another configuration is refused).
        masker: a :class:`genphase.maskers.Masker`; or leave it out and give ``n``.
        n: number of input variables of the modality's default masker: image patches
            (:class:`~genphase.maskers.ImagePatchMasker`, ``random-central`` cells of
            ``patch_size`` = a quarter of the shorter side, baseline = mean of ``background``),
            the first ``n`` tabular features (baseline = mean of ``background``), ``n`` point
            clusters, or the first ``n`` eligible words of each text, masked with the model's own
            ``[MASK]`` embedding.
        background: data whose mean is the baseline of the default image / tabular masker
            (default: the explained training samples).
        tokenizer: text only: the model's (fast) tokenizer; default ``model.tokenizer`` or what
            an integration passes at the start of training.
        settings: a :class:`~genphase.settings.Settings` (a run's config gives one: ``cfg.settings``);
            the keyword arguments below override its fields.
        value_fn, tau, noise_bound, solver, tol, chunk_size: ``interactions.*`` (value function name
            or callable, see :mod:`genphase.value_functions`; :func:`genphase.extract_and_or`).
        baselines: K trained models of the same architecture (trained on the reference data); or
        model_factory: ``() -> nn.Module`` a fresh untrained model, and
        reference_data: a DataLoader of ``(x, y)`` pairs or of mappings with ``labels`` (Hugging
            Face style), or an ``(x, y)`` pair of tensors: the tracker trains ``k`` baselines on it
            on first use (seed ``baseline_seed + k``), saves them under ``checkpoints/baseline_k``
            and reuses them afterwards.
        k, baseline_epochs, baseline_lr, baseline_seed: ``baselines.k``, ``.epochs`` (default 20),
            ``.lr`` (default 1e-3), ``.seed`` (default 1000).
        baseline_optimizer, baseline_batch_size: how the tracker trains its baselines (cross-entropy;
            ``"adam"``, ``"adamw"`` or ``"sgd"``).
        baseline_records: with ``baselines``: one :class:`~genphase.analysis.BaselineRecord` each (what it
            learnt from, its training log), for the ``baselines`` and ``training`` tables.
        null_baselines: with ``baselines``: K *null* baselines, the same models trained on the reference data with
            its labels permuted: the ``permuted_labels`` chance level of ``metrics/h_bar_null.parquet``. Without
            them only the ``order_permutation`` null is computed (the tracker trains no null baselines itself).
        dataset_index: ``(train_index, reference_index)``: each explained sample's index in its data
            set (the ``samples`` table; default its position).
        label_flipped: one bool per training sample, True where its label was flipped (label noise you added):
            ``samples.parquet`` ``label_flipped``, clean and flipped samples apart in ``h_bar_summary``, and the claim
            ``fall_on_clean_samples`` (without it the claim says the flips are unknown).
        n_resamples, seed: ``analysis.n_resamples`` (bootstrap resamples of the intervals; 0 skips them)
            and ``analysis.seed`` (also the default masker's cell choice).
        every_n_epochs: how often the integrations measure (``due(epoch)``), >= 1.
        autocast: autocast dtype of the masked forward passes (:func:`genphase.masked_values`).
        phase_rule: a verdict rule ``(training, h_bar, order_strengths) -> Verdict`` in place of the
            engine's (the tables and ``phases.json`` stay the engine's).
        writer: anything with ``add_scalar(tag, value, global_step)`` (a TensorBoard
            ``SummaryWriter``): every measurement is written as ``genphase/<key>``.
        strict: re-raise a failed measurement instead of warning and skipping it.

    >>> import torch, tempfile
    >>> from genphase import Tracker
    >>> net = lambda: torch.nn.Sequential(torch.nn.Flatten(), torch.nn.Linear(16, 3))
    >>> x, y = torch.rand(8, 1, 4, 4), torch.arange(8) % 3
    >>> tr = Tracker((x[:4], y[:4]), (x[4:], y[4:]), run_dir=tempfile.mkdtemp(), n=4, n_resamples=0,
    ...              model_factory=net, reference_data=(x, y), k=1, baseline_epochs=1)
    >>> sorted(tr.measure(net(), step=0))[:3]
    ['h_bar', 'h_bar_high', 'h_bar_low']
    >>> Tracker((x[:4], y[:4]), (x[4:], y[4:]), run_dir=tempfile.mkdtemp(), n=4, tau=1.5, baselines=[net()])
    Traceback (most recent call last):
    ...
    genphase.errors.ConfigError: config key 'interactions.tau': relative tau must be in [0, 1], got 1.5
    """

    def __init__(
        self,
        train_samples: tuple[Any, Any],
        reference_samples: tuple[Any, Any],
        *,
        run_dir: str | Path,
        masker: Any = None,
        n: int | None = None,
        background: Any = None,
        tokenizer: Any = None,
        settings: Settings | None = None,
        value_fn: Any = None,
        baselines: Sequence[torch.nn.Module] | None = None,
        model_factory: Callable[[], torch.nn.Module] | None = None,
        reference_data: Any = None,
        k: int | None = None,
        baseline_epochs: int | None = None,
        baseline_lr: float | None = None,
        baseline_optimizer: str = "adam",
        baseline_batch_size: int = 64,
        baseline_seed: int | None = None,
        baseline_records: Sequence[BaselineRecord] | None = None,
        null_baselines: Sequence[torch.nn.Module] | None = None,
        dataset_index: tuple[Any, Any] | None = None,
        label_flipped: Any = None,
        every_n_epochs: int = 1,
        tau: float | None = None,
        noise_bound: float | None = None,
        solver: str | None = None,
        tol: float | None = None,
        chunk_size: int | None = None,
        n_resamples: int | None = None,
        autocast: Any = None,
        phase_rule: PhaseRule | None = None,
        writer: Any = None,
        strict: bool = False,
        seed: int | None = None,
        max_length: int = 64,
    ) -> None:
        from ..value_functions import get_value_function

        # ---- settings: the run config's sections, validated before anything else
        self.settings = _settings(settings, baselines, value_fn=value_fn, tau=tau, noise_bound=noise_bound,
                                  solver=solver, tol=tol, chunk_size=chunk_size, k=k, baseline_epochs=baseline_epochs,
                                  baseline_lr=baseline_lr, baseline_seed=baseline_seed, n_resamples=n_resamples,
                                  seed=seed)
        self.settings.validate()
        if masker is None and n is not None:
            check_variables(n)
        if isinstance(every_n_epochs, bool) or not isinstance(every_n_epochs, (int, np.integer)) or every_n_epochs < 1:
            raise InputError(f"every_n_epochs must be an int >= 1 (measure every that many epochs), got {every_n_epochs!r}")
        self.every_n_epochs = int(every_n_epochs)
        ic, bc = self.settings.interactions, self.settings.baselines
        self.value_fn = get_value_function(ic.value_function)
        self.tau = float(ic.tau)
        self.seed, self.max_length, self.autocast = int(self.settings.analysis.seed), int(max_length), autocast

        # ---- explained samples
        x_tr, y_tr = _pair(train_samples, "train_samples")
        x_te, y_te = _pair(reference_samples, "reference_samples")
        if _is_texts(x_tr) != _is_texts(x_te) or (not _is_texts(x_tr) and x_tr.shape[1:] != x_te.shape[1:]):
            raise InputError("train_samples and reference_samples must be of the same kind and shape per sample, got "
                             f"{_describe_inputs(x_tr)} and {_describe_inputs(x_te)}")
        check_bootstrap_samples(min(len(y_tr), len(y_te)), self.settings.analysis.n_resamples)
        self.modality = _infer_modality(x_tr)
        self._texts: list[str] | None = (x_tr + x_te) if self.modality == "text" else None
        self._x = None if self.modality == "text" else torch.cat([x_tr, x_te])
        self.labels = np.concatenate([y_tr, y_te])
        self.split = np.array(["train"] * len(y_tr) + ["test"] * len(y_te))
        self.dataset_index = _dataset_index(dataset_index, len(y_tr), len(y_te))
        if label_flipped is not None:
            flips = np.asarray(label_flipped).reshape(-1)
            if flips.size != len(y_tr) or flips.dtype != bool:
                raise InputError(f"label_flipped must be one bool per training sample ({len(y_tr)}), got "
                                 f"{flips.size} values of dtype {flips.dtype}")
            label_flipped = np.concatenate([flips, np.zeros(len(y_te), dtype=bool)])
        self._label_flipped = label_flipped
        self.phase_rule: PhaseRule | None = phase_rule
        self.writer, self.strict = writer, bool(strict)
        self.tokenizer = tokenizer
        self._text_default = False

        # ---- masker
        if masker is None:
            if n is None or isinstance(n, bool) or not isinstance(n, (int, np.integer)):
                raise InputError(f"give a masker, or n (a positive int: the number of input variables), got n={n!r}")
            self._text_default = self.modality == "text"  # rebuilt in _prepare_text with the tokenizer's [MASK] id
            masker = _default_masker(self.modality, self._x, self.split, int(n), background, self.seed)
        else:
            mm = _masker_modality(masker)
            if mm is not None and mm != self.modality:
                raise InputError(f"the masker is a {type(masker).__name__} (for {mm} inputs) but the explained samples "
                                 f"are {self.modality} ({_describe_inputs(x_tr)}); use a masker for {self.modality} "
                                 "inputs, or pass n= for the default one")
            if n is not None and int(n) != int(masker.n):
                raise InputError(f"n={n} differs from the masker's n={masker.n}; pass one of them")
        self.masker = masker
        self.n = int(masker.n)
        if self.modality != "text":
            try:
                masker.prepare(self._x)
            except InputError as exc:
                raise InputError(f"the explained samples do not fit the masker: {exc}") from exc

        # ---- baselines
        if (baselines is None) == (model_factory is None):
            raise InputError("give either baselines=[K trained models] or model_factory=... with reference_data=... "
                             "(the tracker then trains K baselines itself), not both or neither")
        if model_factory is not None:
            if reference_data is None:
                raise InputError("model_factory needs reference_data (a DataLoader or an (x, y) pair) to train the baselines on")
            if not callable(model_factory):
                raise InputError(f"model_factory must be a callable returning a fresh model, got {type(model_factory).__name__}")
            if baseline_optimizer not in _OPTIMIZERS:
                raise InputError(f"baseline_optimizer must be one of {list(_OPTIMIZERS)}, got {baseline_optimizer!r}")
            if baseline_records is not None:
                raise InputError("baseline_records describe given baselines; the tracker records the ones it trains")
        else:
            baselines = list(baselines)
            if not baselines or not all(isinstance(b, torch.nn.Module) for b in baselines):
                raise InputError("baselines must be a non-empty list of trained torch modules (the K baselines)")
            if baseline_records is not None and len(baseline_records) != len(baselines):
                raise InputError(f"{len(baseline_records)} baseline_records for {len(baselines)} baselines; give one each")
        if null_baselines is not None:
            null_baselines = list(null_baselines)
            if baselines is None or len(null_baselines) != len(baselines) or not all(
                    isinstance(b, torch.nn.Module) for b in null_baselines):
                raise InputError(f"null_baselines must be one trained torch module per baseline, given with baselines=[...] "
                                 f"({len(null_baselines)} given for {len(baselines or ())} baselines)")
        self.k = int(bc.k)
        self._given_baselines = baselines
        self._given_records = list(baseline_records) if baseline_records is not None else None
        self._given_nulls = null_baselines
        self._factory, self._reference = model_factory, reference_data
        self._bspec = {"epochs": int(bc.epochs), "lr": float(bc.lr), "optimizer": baseline_optimizer,
                       "batch_size": int(baseline_batch_size), "seed": int(bc.seed)}

        # ---- run directory
        self.paths = RunPaths(run_dir)
        self.config = self._config()
        self.config_hash = _fingerprint(self.config)
        self._manifest = self._prepare_dir()

        self._records: list[dict[str, Any]] = []
        self._failures: list[dict[str, Any]] = []
        self._ready = False
        self._series: SeriesAnalysis | None = None
        self._analysis: RunAnalysis | None = None
        self._verdict_now: Verdict | None = None
        self._baseline_models: list[torch.nn.Module] = []
        self._inputs: Any = None
        self._var_info: dict[str, Any] = {}
        self._signature: list[tuple[int, ...]] | None = None
        self._num_classes: int | None = None
        self._warned_fresh = False
        #: seconds of the last measurement: masked_forward_s, solve_s (extraction) and total_s
        self.last_timing: dict[str, float] = {}

    # -------------------------------------------------------------------------------- construction
    def _config(self) -> dict[str, Any]:
        inputs_fp = _fingerprint(self._texts) if self._texts is not None else _fingerprint(self._x)
        masker_desc = _describe(self.masker)
        if self._text_default:
            masker_desc = {"type": "EmbeddingMasker", "n": self.n, "baseline": "the tokenizer's [MASK] token (else [PAD])"}
        s = self.settings
        if self._given_baselines is not None:
            base = {"source": "given", "k": self.k,
                    "fingerprints": [_fingerprint({k: _fingerprint(v) for k, v in b.state_dict().items()})
                                     for b in self._given_baselines]}
        else:
            ref = self._reference
            if isinstance(ref, (tuple, list)) and len(ref) == 2:
                ref_fp = [_fingerprint(torch.as_tensor(np.asarray(r)) if not isinstance(r, torch.Tensor) else r) for r in ref]
            else:  # a DataLoader: its size (the batches themselves may be random)
                ref_fp = {"type": type(ref).__name__, "samples": len(getattr(ref, "dataset", ()) or ())}
            base = {"source": "trained", **dataclasses.asdict(s.baselines), **self._bspec, "reference_data": ref_fp}
        return {
            "kind": "tracker",
            "modality": self.modality,
            "explain": {"samples_train": int((self.split == "train").sum()), "samples_test": int((self.split == "test").sum()),
                        "inputs": inputs_fp, "labels": _fingerprint(self.labels),
                        "dataset_index": _fingerprint(self.dataset_index)},
            "variables": {"n": self.n, "masker": json.loads(json.dumps(masker_desc, default=str))},
            "interactions": {**dataclasses.asdict(s.interactions), "value_function": self.value_fn.name},
            "baselines": base,
            "analysis": dataclasses.asdict(s.analysis),
            "every_n_epochs": self.every_n_epochs,
            "max_length": self.max_length if self.modality == "text" else None,
        }

    def _prepare_dir(self) -> dict[str, Any]:
        import yaml

        from .. import __version__
        from ..rundir import atomic_write, read_json, write_json

        p = self.paths
        if p.manifest.exists():
            man = read_json(p.manifest)
            if man.get("config_hash") != self.config_hash:
                what = "a `genphase run`" if man.get("kind") != "tracker" else "a tracker run"
                raise RunDirectoryError(
                    f"run directory {str(p.root)!r} holds {what} of another configuration (hash "
                    f"{man.get('config_hash')} vs {self.config_hash}); choose another run_dir or delete it")
            if man.get("genphase_version") != __version__:
                raise RunDirectoryError(f"run directory {str(p.root)!r} was made by genphase {man.get('genphase_version')}, "
                                        f"this is {__version__}; choose another run_dir or delete it")
            return man
        man = {
            "kind": "tracker",
            "genphase_version": __version__,
            "config_hash": self.config_hash,
            "versions": {"python": sys.version.split()[0], "torch": torch.__version__, "numpy": np.__version__,
                         "platform": platform.platform()},
            "seeds": {"baselines": [self._bspec["seed"] + i for i in range(self.k)] if self._factory else None,
                      "bootstrap": self.seed},
            "stages": {},
            "timings": {},
        }
        write_json(p.manifest, man)
        atomic_write(p.config, lambda fh: fh.write(yaml.safe_dump(self.config, sort_keys=False)), mode="w")
        return man

    # -------------------------------------------------------------------------------- properties
    def due(self, epoch: int) -> bool:
        """Whether ``epoch`` is a measuring epoch (``epoch % every_n_epochs == 0``)."""
        return int(epoch) % self.every_n_epochs == 0

    @property
    def history(self) -> list[dict[str, float]]:
        """The scalars of every measurement so far, in order (each like :meth:`measure`'s result)."""
        return [dict(r["scalars"]) for r in self._records]

    @property
    def steps(self) -> list[int]:
        """The steps measured so far."""
        return [int(r["step"]) for r in self._records]

    @property
    def failures(self) -> list[dict[str, Any]]:
        """Measurements that failed and were skipped: ``{"step", "error"}``."""
        return list(self._failures)

    @property
    def verdict(self) -> Verdict | None:
        """The verdict on the series so far (``None`` before the first measurement)."""
        return self._verdict_now

    @property
    def analysis(self) -> RunAnalysis | None:
        """The analysis engine's result on the series so far: every table and ``phases.json``'s mapping."""
        return self._analysis

    # -------------------------------------------------------------------------------- setup
    def setup(self, model: torch.nn.Module, *, tokenizer: Any = None) -> None:
        """Validate ``model`` against the explained samples and the baselines; train / load / extract
        the baselines. Called by the first :meth:`measure` (the integrations call it before training,
        so bad input fails before the first epoch). Raises :class:`~genphase.errors.InputError`."""
        if self._ready:
            return
        with _EvalMode(None):
            self._setup(model, tokenizer)
        self._ready = True

    def _setup(self, model: Any, tokenizer: Any) -> None:
        from ..masked_outputs import model_device

        device = model_device(model) or torch.device("cpu")
        if self.modality == "text":
            self._prepare_text(model, tokenizer)
        else:
            self._inputs = self._x
            self._var_info = {"modality": self.modality, "names": list(self.masker.variable_names)}
            if self.modality == "image" and hasattr(self.masker, "patch_boxes"):
                self._var_info["patch_boxes"] = [list(map(int, b)) for b in self.masker.patch_boxes]
                self._var_info["image_shape"] = [int(s) for s in self._x.shape[1:]]
        c = self._num_outputs(model, "the model")
        if int(self.labels.max()) >= c:
            raise InputError(f"the explained samples have label {int(self.labels.max())} but the model has only {c} "
                             "outputs (classes); pass labels in [0, C)")
        self._num_classes = c
        if isinstance(model, torch.nn.Module):
            self._signature = _param_signature(model)
        self._write_samples()
        baseline_res, records = self._ensure_baselines(device)
        from ..analysis.engine import SeriesAnalysis

        self._series = SeriesAnalysis(baseline_res, split=self.split, labels=self.labels, settings=self.settings,
                                      records=records, dataset_index=self.dataset_index,
                                      label_flipped=self._label_flipped,
                                      variables_shared=self.modality not in ("text", "pointcloud"),
                                      null_baselines=self._ensure_null_baselines(),
                                      null_reason="no null baselines were given to the Tracker (null_baselines=[...])")
        self._replay_records()

    def _prepare_text(self, model: Any, tokenizer: Any) -> None:
        from ..errors import require
        from ..maskers import collate_text, word_variables

        require("transformers", "transformers", "text tracking")
        tok = self.tokenizer or tokenizer or getattr(model, "tokenizer", None)
        if tok is None:
            raise InputError("text samples need the model's tokenizer: pass Tracker(..., tokenizer=tok) (the "
                             "integrations pass the Trainer's processing_class)")
        self.tokenizer = tok
        items, bad = [], []
        for i, text in enumerate(self._texts):
            try:
                items.append(word_variables(tok, text, self.n, max_length=self.max_length))
            except InputError as exc:
                bad.append((i, str(exc)))
        if bad:
            i, why = bad[0]
            raise InputError(f"{len(bad)} explained text(s) cannot give n={self.n} word variables, e.g. sample {i} "
                             f"({self.split[i]}): {why}; choose texts with enough words or lower n")
        self._inputs = collate_text(items, pad_token_id=tok.pad_token_id or 0)
        if self._text_default:
            from ..maskers import EmbeddingMasker

            mid = getattr(tok, "mask_token_id", None)
            self.masker = EmbeddingMasker(_embedding_of, self.n, baseline=int(mid if mid is not None else tok.pad_token_id or 0))
        self._var_info = {"modality": "text", "names": [f"w{i}" for i in range(self.n)],
                          "words": [list(it.words) for it in items]}

    def _bind(self, model: Any) -> None:
        """Text maskers embed with the measured model's own embedding layer."""
        if self.modality == "text" and hasattr(self.masker, "embedding"):
            self.masker.embedding = _embedding_of(model)

    def _full_logits(self, model: Any) -> torch.Tensor:
        """Model outputs ``[2M, C]`` on the unmasked explained samples (eval mode, no grad)."""
        from ..masked_outputs import model_device

        device = model_device(model) or torch.device("cpu")
        self._bind(model)
        size = len(self.labels)
        outs = []
        with _EvalMode(model):
            for part in _chunks(self._inputs, size, max(1, min(self.settings.interactions.chunk_size, 256))):
                part = _to(part, device)
                keep = torch.ones(_rows_of(part), self.n, dtype=torch.bool, device=device)
                outs.append(_call(model, self.masker(part, keep)).float())
        return torch.cat(outs)

    def _num_outputs(self, model: Any, what: str) -> int:
        try:
            out = self._full_logits(model)
        except GenphaseError as exc:
            raise InputError(f"{what} cannot run on the explained samples ({_describe_inputs(self._inputs)}): {exc}") from exc
        except Exception as exc:  # noqa: BLE001 - any framework error means the shapes do not fit
            raise InputError(f"{what} cannot run on the explained samples ({_describe_inputs(self._inputs)}): "
                             f"{type(exc).__name__}: {exc}; pass samples of the shape the model takes") from exc
        if out.ndim != 2 or out.shape[0] != len(self.labels):
            raise InputError(f"{what} returned shape {tuple(out.shape)} on {len(self.labels)} explained samples; "
                             "expected class scores [B, C]")
        return int(out.shape[1])

    # -------------------------------------------------------------------------------- baselines
    def _ensure_baselines(self, device: torch.device) -> tuple[list[Any], list[BaselineRecord]]:
        """The K baselines trained (or loaded, or given), checked against the model, and their interactions."""
        from ..models._common import seeded
        from ..rundir import read_json, save_torch, write_json

        models, records = [], []
        for i in range(self.k):
            if self._given_baselines is not None:
                bm = self._given_baselines[i]
                rec = self._given_records[i] if self._given_records is not None else BaselineRecord()
            else:
                with seeded(self._bspec["seed"] + i):
                    bm = self._factory()
                if not isinstance(bm, torch.nn.Module):
                    raise InputError(f"model_factory returned {type(bm).__name__}, not a torch module")
                bm = bm.to(device)
                if self.paths.baseline(i).exists():
                    bm.load_state_dict(torch.load(self.paths.baseline(i), map_location=device, weights_only=True))
                    log = read_json(self.paths.baseline_log(i)) if self.paths.baseline_log(i).exists() else []
                else:
                    t0 = time.perf_counter()
                    log = _train_baseline(bm, self._reference, self._bspec, self._bspec["seed"] + i, device)
                    write_json(self.paths.baseline_log(i), log)
                    save_torch(self.paths.baseline(i), bm.state_dict())
                    self._timing(f"baseline_{i}", time.perf_counter() - t0)
                ref = self._reference
                n_ref = len(ref[1]) if isinstance(ref, (tuple, list)) and len(ref) == 2 else len(getattr(ref, "dataset", ()) or ())
                rec = BaselineRecord("test", np.arange(n_ref) if n_ref else None, None, self._bspec["epochs"], log)
            c = self._num_outputs(bm, f"baseline {i}")
            if c != self._num_classes:
                raise InputError(f"baseline {i} produces {c} classes but the model produces {self._num_classes}; "
                                 "train the baselines on the same task")
            if self._signature is not None and isinstance(bm, torch.nn.Module) and _param_signature(bm) != self._signature:
                raise InputError(f"baseline {i} ({type(bm).__name__}, {sum(p.numel() for p in bm.parameters())} parameters) "
                                 f"has another architecture than the model ({sum(math.prod(s) for s in self._signature)} "
                                 "parameters); the baselines must be the model's architecture trained on the reference data")
            models.append(bm)
            records.append(rec)
        self._baseline_models = models
        return [self._interactions_of(bm, self.paths.baseline_interactions(i)) for i, bm in enumerate(models)], records

    def _interactions_of(self, model: Any, path: Path) -> Any:
        """A fixed model's interactions on the explained samples: read from ``path``, or extracted once and kept there."""
        from ..io import load_interactions, save_interactions

        if path.exists():
            return load_interactions(path)
        res = self._extract(model).interactions
        save_interactions(res, path)
        return res

    def _ensure_null_baselines(self) -> list[Any] | None:
        """The given null baselines' interactions (extracted once, kept under ``interactions/null_baseline_k.npz``)."""
        from ..rundir import interactions_rel, null_baseline_name

        if self._given_nulls is None:
            return None
        for i, bm in enumerate(self._given_nulls):
            c = self._num_outputs(bm, f"null baseline {i}")
            if c != self._num_classes:
                raise InputError(f"null baseline {i} produces {c} classes but the model produces {self._num_classes}")
        return [self._interactions_of(bm, self.paths / interactions_rel(null_baseline_name(i)))
                for i, bm in enumerate(self._given_nulls)]

    # -------------------------------------------------------------------------------- measuring
    def _extract(self, model: Any) -> Any:
        """The one extraction path (:func:`genphase.extraction.extract`), cold for every model."""
        from ..extraction import extract
        from ..masked_outputs import model_device

        device = model_device(model) or torch.device("cpu")
        self._bind(model)
        with _EvalMode(model):
            out = extract(model, self._inputs, torch.as_tensor(self.labels), self.masker, self._extract_settings(),
                          device=device, autocast=self.autocast, variables=self._var_info["names"])
        self.last_timing = {"masked_forward_s": out.masked_forward_s, "solve_s": out.solve_s}
        return out

    def _extract_settings(self) -> Any:
        """The interaction settings with the resolved value function (a callable may stand in for a name)."""
        return dataclasses.replace(self.settings.interactions, value_function=self.value_fn)

    def measure(
        self,
        model: torch.nn.Module,
        step: int | None = None,
        *,
        training: Sequence[Mapping[str, Any]] | None = None,
        train_loss: float | None = None,
        test_loss: float | None = None,
        train_accuracy: float | None = None,
        test_accuracy: float | None = None,
    ) -> dict[str, float] | None:
        """Measure ``model`` at ``step`` (an int that grows; default: the next multiple of
        ``every_n_epochs``) and append everything to the run directory.

        Returns ``{"step", "h_bar", "h_bar_low", "h_bar_high", "h_bar_test", "h_bar_test_low",
        "h_bar_test_high", "high_order_nongen", "high_order_nongen_test", "phase", "stop",
        "stop_epoch", "seconds"}``: mean H-bar over the explained train / test samples with its
        bootstrap interval (the ``h_bar_summary`` table: ``analysis.n_resamples`` resamples of the
        explained samples at level ``analysis.ci_level``; NaN when ``n_resamples`` is 0; samples
        without a salient interaction are left out), the mean per sample of the salient
        non-generalizable strength ``sum |I - I_generalizable|`` over orders ``>= max(2, ceil(n/2))``
        (AND and OR together), the verdict (``phase`` 0-3, ``stop`` 1.0 / 0.0, ``stop_epoch`` or NaN)
        and the wall time of the measurement.

        The training table gets ``training`` (the model's training-log rows since the last
        measurement: ``epoch, split, loss, accuracy`` and optionally ``prediction_changes``), or
        else one row per split at ``step``: loss and accuracy of the model on the explained samples,
        unless ``train_loss`` / ``test_loss`` (and accuracies) are given.

        Bad input raises; a measurement that fails (e.g. out of memory) warns and returns ``None``
        unless the tracker is ``strict``.
        """
        self.setup(model)
        if step is None:
            step = 0 if not self._records else (self.steps[-1] // self.every_n_epochs + 1) * self.every_n_epochs
        if isinstance(step, bool) or not isinstance(step, (int, np.integer)) or step < 0:
            raise InputError(f"step must be an int >= 0 (the epoch), got {step!r}")
        step = int(step)
        if self._records and step <= self.steps[-1]:
            raise InputError(f"step {step} is not after the last measured step {self.steps[-1]}; steps must increase "
                             "(after resuming, load_state_dict drops what a resumed fit will measure again)")
        rows = _training_rows(training, step) if training is not None else None
        if not self._records and not self._warned_fresh:
            self._warned_fresh = True
            old = self.paths.model_interactions()
            if old:
                warnings.warn(f"genphase: {self.paths.root} holds {len(old)} measurements of an earlier series; starting "
                              "a new one (load_state_dict continues an old series)", UserWarning, stacklevel=2)
        try:
            t0 = time.perf_counter()
            with torch.inference_mode(False):
                out = self._measure(model, step, rows, {"train": (train_loss, train_accuracy),
                                                        "test": (test_loss, test_accuracy)}, t0)
        except Exception as exc:  # noqa: BLE001 - never kill the user's training unless strict
            if self.strict:
                raise
            if torch.cuda.is_available():
                torch.cuda.empty_cache()
            self._failures.append({"step": step, "error": f"{type(exc).__name__}: {exc}"})
            warnings.warn(f"genphase: the measurement at step {step} failed ({type(exc).__name__}: {exc}); it is skipped "
                          "and training continues (Tracker(strict=True) raises instead)", RuntimeWarning, stacklevel=2)
            return None
        return out

    def _own_rows(self, model: Any, step: int, given: dict[str, tuple[Any, Any]]) -> list[dict[str, Any]]:
        """Loss and accuracy of ``model`` on the explained samples of each split (unless given)."""
        logits = self._full_logits(model).double().cpu()
        lab = torch.as_tensor(self.labels)
        ce = torch.nn.functional.cross_entropy(logits, lab, reduction="none").numpy()
        hit = (logits.argmax(1) == lab).numpy()
        rows = []
        for sp in ("train", "test"):
            sel = self.split == sp
            loss, acc = given[sp]
            rows.append({"epoch": step, "split": sp, "loss": float(ce[sel].mean()) if loss is None else float(loss),
                         "accuracy": float(hit[sel].mean()) if acc is None else float(acc)})
        return rows

    def _measure(self, model: Any, step: int, rows: list[dict[str, Any]] | None, given: dict[str, tuple[Any, Any]],
                 t0: float) -> dict[str, float]:
        from ..io import save_interactions
        from ..rundir import write_analysis

        res = self._extract(model).interactions  # cold, as the baselines: one path for all (docs/solver.md, 'Ties')
        record = {"step": step, "training": rows if rows is not None else self._own_rows(model, step, given), "scalars": {}}
        self._series.add(step, res)
        self._records.append(record)
        try:
            analysis = self._series.result(self._training())
        except BaseException:
            self._records.pop()
            self._series.drop_after(self.steps[-1] if self._records else -1)
            raise
        self._analysis = analysis
        verdict = self._verdict_now = self._verdict(analysis)
        sc = _scalars(analysis, step, self.n)
        sc["phase"] = float(verdict.phase)
        sc["stop"] = 1.0 if verdict.stop else 0.0
        sc["stop_epoch"] = float(verdict.stop_epoch) if verdict.stop_epoch is not None else math.nan
        for e, p in self.paths.model_interactions():  # an earlier series' later measurements
            if e >= step:
                p.unlink()
        save_interactions(res, self.paths.interactions(step))
        write_analysis(self.paths, analysis.tables, analysis.phases)
        sc["seconds"] = time.perf_counter() - t0
        self.last_timing = {**self.last_timing, "total_s": sc["seconds"]}
        record["scalars"] = {"step": step, **sc}
        self._write_state()
        self._timing("measure", sc["seconds"], add=True)
        if self.writer is not None:
            for key, val in sc.items():
                if math.isfinite(val):
                    self.writer.add_scalar(f"genphase/{key}", val, step)
        return {"step": step, **sc}

    def _training(self) -> list[dict[str, Any]]:
        return [row for r in self._records for row in r["training"]]

    # -------------------------------------------------------------------------------- verdict & files
    def _verdict(self, analysis: RunAnalysis) -> Verdict:
        if self.phase_rule is None:
            return verdict_of(analysis.report)
        t = analysis.tables
        return self.phase_rule(t["training"][t["training"]["model"] == "model"], t["h_bar"], t.get("order_strengths"))

    def _write_samples(self) -> None:
        from ..rundir import atomic_write, write_json

        p = self.paths
        arr = np.asarray(self._texts, dtype=str) if self._texts is not None else self._x.numpy()
        write_json(p.variables, self._var_info)
        atomic_write(p.samples, lambda fh: np.savez_compressed(fh, inputs=arr, labels=self.labels, split=self.split,
                                                              dataset_index=self.dataset_index))

    def _write_state(self) -> None:
        from ..rundir import write_json

        v = self._verdict_now
        write_json(self.paths.tracker_state, {**self.state_dict(), "verdict": None if v is None else {
            "phase": v.phase, "stop": v.stop, "stop_epoch": v.stop_epoch, "message": v.message, "steps": self.steps}})

    def _timing(self, key: str, seconds: float, add: bool = False) -> None:
        from ..rundir import write_json

        t = self._manifest.setdefault("timings", {})
        t[key] = round((t.get(key, 0.0) if add else 0.0) + seconds, 3)
        if add:  # after a measurement: the series so far is extracted and analysed (genphase report checks this)
            t["measurements"] = len(self._records)
            self._manifest.setdefault("stages", {}).update({"extract": "done", "analysis": "done"})
        write_json(self.paths.manifest, self._manifest)

    # -------------------------------------------------------------------------------- state
    def state_dict(self) -> dict[str, Any]:
        """What has been measured (JSON-serialisable): the configuration hash, every record's
        scalars and training-table rows, and the failures."""
        return {"format": _FORMAT, "config_hash": self.config_hash, "run_dir": str(self.paths.root),
                "records": json.loads(json.dumps(self._records)), "failures": list(self._failures)}

    def load_state_dict(self, state: Mapping[str, Any]) -> None:
        """Continue the series of :meth:`state_dict` (e.g. after resuming a fit from a checkpoint).

        Measurements on disk after the last step in ``state`` are dropped when the next one is made;
        the interactions of the steps in ``state`` are read back from the run directory and analysed again.
        """
        if not isinstance(state, Mapping) or state.get("format") != _FORMAT:
            raise InputError(f"not a genphase Tracker state (format {state.get('format') if isinstance(state, Mapping) else None!r}, "
                             f"expected {_FORMAT!r})")
        if state.get("config_hash") != self.config_hash:
            raise RunDirectoryError(f"the state belongs to a tracker of another configuration (hash {state.get('config_hash')} "
                                    f"vs {self.config_hash}); build the tracker as it was built for that run")
        self._records = [{"step": int(r["step"]), "training": _training_rows(r.get("training", []), int(r["step"])),
                          "scalars": dict(r.get("scalars", {}))} for r in state.get("records", [])]
        self._failures = list(state.get("failures", []))
        self._warned_fresh = True
        if self._ready:
            self._replay_records()

    def _replay_records(self) -> None:
        """The engine fed again with the recorded steps' interactions (after load_state_dict)."""
        from ..io import load_interactions

        series = self._series
        series.drop_after(-1)
        missing = [s for s in self.steps if not self.paths.interactions(s).exists()]
        if missing:
            warnings.warn(f"genphase: the run directory has no interactions for steps {missing[:5]} of the loaded state; "
                          "they are left out of the series", UserWarning, stacklevel=3)
            self._records = [r for r in self._records if r["step"] not in missing]
        for s in self.steps:
            series.add(s, load_interactions(self.paths.interactions(s)))
        if self._records:
            self._analysis = series.result(self._training())
            self._verdict_now = self._verdict(self._analysis)

    def report(self) -> Path:
        """Build ``report.html`` of the run directory (same as ``genphase report RUN_DIR``)."""
        from ..report import build_report

        return build_report(self.paths.root)

    def __repr__(self) -> str:
        return (f"Tracker(modality={self.modality!r}, n={self.n}, samples={int((self.split == 'train').sum())}+"
                f"{int((self.split == 'test').sum())}, k={self.k}, measured={len(self._records)}, run_dir={str(self.paths.root)!r})")


def _settings(settings: Settings | None, baselines: Any, **kw: Any) -> Settings:
    """The tracker's :class:`Settings`: ``settings`` (default all defaults) with the keyword arguments given."""
    if settings is not None and not isinstance(settings, Settings):
        raise ConfigError(f"settings must be a genphase.settings.Settings (a run config's cfg.settings), got "
                          f"{type(settings).__name__}")
    s = copy.deepcopy(settings) if settings is not None else Settings()
    ic, bc, ac = s.interactions, s.baselines, s.analysis
    for key, field_ in (("value_fn", "value_function"), ("tau", "tau"), ("noise_bound", "noise_bound"), ("solver", "solver"),
                        ("tol", "tol"), ("chunk_size", "chunk_size")):
        if kw[key] is not None:
            setattr(ic, field_, kw[key])
    for key, field_ in (("k", "k"), ("baseline_epochs", "epochs"), ("baseline_lr", "lr"), ("baseline_seed", "seed")):
        if kw[key] is not None:
            setattr(bc, field_, kw[key])
    if baselines is not None and kw["k"] is None and isinstance(baselines, (list, tuple)):
        bc.k = len(baselines)  # given baselines: K is how many
    bc.epochs = _TRACKER_BASELINE_EPOCHS if bc.epochs is None else bc.epochs
    bc.lr = _TRACKER_BASELINE_LR if bc.lr is None else bc.lr
    if kw["n_resamples"] is not None:
        ac.n_resamples = kw["n_resamples"]
    if kw["seed"] is not None:
        ac.seed = kw["seed"]
    return s


def _scalars(analysis: RunAnalysis, step: int, n: int) -> dict[str, float]:
    """The measurement's scalars at ``step``, read off the engine's tables."""
    t = analysis.tables
    hb = t["h_bar"][t["h_bar"]["checkpoint"] == step]
    summary = t.get("h_bar_summary")
    ost = t["order_strengths"]
    m0 = max(2, math.ceil(n / 2))
    hi = ost[(ost["checkpoint"] == step) & (ost["type"] == "all") & (ost["order"] >= m0)]
    nongen = (hi["total"] - hi["generalizable"]).abs().groupby(hi["sample"]).sum()
    sc: dict[str, float] = {}
    for sp, suffix in (("train", ""), ("test", "_test")):
        samples = hb[hb["split"] == sp]
        vals = samples["h_bar"].to_numpy(dtype=float)
        sc[f"h_bar{suffix}"] = float(np.nanmean(vals)) if np.isfinite(vals).any() else math.nan
        row = None if summary is None else summary[(summary["checkpoint"] == step) & (summary["split"] == sp)]
        ok = row is not None and len(row)
        sc[f"h_bar{suffix}_low"] = float(row["ci_low"].iloc[0]) if ok else math.nan
        sc[f"h_bar{suffix}_high"] = float(row["ci_high"].iloc[0]) if ok else math.nan
        sc[f"high_order_nongen{suffix}"] = float(nongen.reindex(samples["sample"], fill_value=0.0).mean())
    return sc
