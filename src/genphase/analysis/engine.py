"""The one analysis engine: a series of extractions -> every table of a run directory and the verdict.

``genphase run`` (its ``analyse`` stage, after reading the run's files) and :class:`genphase.Tracker`
(after each measurement) both call it, so they cannot disagree: the same interactions, baselines,
labels, training log and settings give the same tables, bit for bit.

- :func:`analyse_run` is the functional core: the whole series in one call.
- :class:`SeriesAnalysis` is the same computation fed one checkpoint at a time (:meth:`~SeriesAnalysis.add`,
  then :meth:`~SeriesAnalysis.result` at any point); :func:`analyse_run` is exactly that loop. The
  per-checkpoint tables are computed once per checkpoint; what spans the series (the bootstrap summary,
  the ceiling's normalisation, the phases, the phase count) is recomputed by each ``result()``.

The tables (docs/run-directory.md): the per-checkpoint tables of :func:`~genphase.analysis.analyze_checkpoint`
with a leading ``checkpoint`` column, ``h_bar_summary`` (when ``analysis.n_resamples > 0``), ``training``,
``samples``, ``baselines``, ``h_bar_ceiling`` and ``evidence`` (K >= 2) and ``phases``; the verdict is
``phases.json``'s mapping (:attr:`RunAnalysis.phases`).
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any, Iterable, Mapping, Sequence

import numpy as np
import pandas as pd

from ..errors import InputError
from ..interactions import AndOrInteractions
from ..settings import Settings
from ._common import MIN_COVERAGE
from .bootstrap import bootstrap_h_bar
from .ceiling import h_bar_ceiling, normalize_by_ceiling
from .checkpoint import _flatten, analyze_checkpoint, concat_checkpoints
from .claims import PLACEBO_DRAWS, ClaimParts, claim_parts, claims_table
from .evidence import EVIDENCE_COLUMNS, graded_evidence
from .generalization import generalization_power
from .null import NULL_COLUMNS, above_null, null_summary
from .order_distribution import checkpoint_items
from .phase_count import PhaseCount, count_phases
from .phases import PhaseReport, detect_phases

__all__ = [
    "BaselineRecord",
    "RunAnalysis",
    "SeriesAnalysis",
    "analyse_run",
    "eligibility",
    "baselines_table",
    "baseline_warnings",
    "coverage_warnings",
    "training_table",
    "samples_table",
    "TRAINING_COLUMNS",
    "SAMPLES_COLUMNS",
    "BASELINES_COLUMNS",
    "BASELINE_ACCURACY_GAP",
    "MIN_COVERAGE",
]

#: Columns of ``metrics/training.parquet``: the training logs of the model and of every baseline.
TRAINING_COLUMNS: tuple[str, ...] = ("model", "epoch", "split", "loss", "accuracy", "prediction_changes")
#: Columns of ``metrics/samples.parquet``: the explained samples.
SAMPLES_COLUMNS: tuple[str, ...] = ("sample", "split", "dataset_index", "label", "label_flipped")
#: Columns of ``metrics/baselines.parquet``: one row per baseline.
BASELINES_COLUMNS: tuple[str, ...] = ("baseline", "trained_on", "n_train", "epochs", "eval_loss", "eval_accuracy")

#: A baseline whose evaluation accuracy is more than this (absolute) below the model's best evaluation accuracy
#: gets a warning (logged, listed in ``phases.json`` ``baseline_warnings``, shown in the report): its interactions
#: may be a poor stand-in for "what a generalizing network encodes".
BASELINE_ACCURACY_GAP = 0.15


@dataclass(frozen=True, eq=False)
class BaselineRecord:
    """What one baseline learnt from, and its training log.

    - ``split``: the split it trained on, "test" (the reference split, the paper's design) or "train"
      (cross-fitted on part of the training split).
    - ``train_index`` / ``holdout_index``: indices into that split it trained on and was stopped on
      (``None``: all of the split, nothing held out).
    - ``epoch``: the epoch whose weights it kept (``None``: unknown, e.g. a baseline given trained).
    - ``log``: its training-log rows (``epoch, split, loss, accuracy``; a row of split "eval" is its
      score on the evaluation split).

    >>> r = BaselineRecord(train_index=np.arange(100), epoch=30)
    >>> r.split, r.n_train, r.seen.size
    ('test', 100, 100)
    """

    split: str = "test"
    train_index: np.ndarray | None = None
    holdout_index: np.ndarray | None = None
    epoch: int | None = None
    log: Sequence[Mapping[str, Any]] = ()

    @property
    def n_train(self) -> int | None:
        """Samples it trained on (None when unknown)."""
        return None if self.train_index is None else int(np.asarray(self.train_index).size)

    @property
    def seen(self) -> np.ndarray:
        """Indices of its split it trained or was stopped on."""
        parts = [np.asarray(a, dtype=np.int64) for a in (self.train_index, self.holdout_index) if a is not None]
        return np.union1d(*parts) if len(parts) == 2 else (parts[0] if parts else np.zeros(0, dtype=np.int64))


def eligibility(records: Sequence[BaselineRecord], dataset_index: np.ndarray | None, split: np.ndarray) -> np.ndarray | None:
    """``[B, K]``: True where baseline k never saw explained sample i (trained or stopped on it); None when every
    baseline learnt from the reference split (the paper's design: every sample is compared with all K).

    Explained reference ("test") samples are compared with every baseline that did not learn from the
    reference split (under crossfit: all K). ``dataset_index``: each explained sample's index in its split.

    >>> recs = [BaselineRecord("train", np.array([0, 1])), BaselineRecord("train", np.array([2, 3]))]
    >>> eligibility(recs, np.array([0, 2, 0]), np.array(["train", "train", "test"])).tolist()
    [[False, True], [True, False], [True, True]]
    >>> eligibility([BaselineRecord()], None, np.array(["train"])) is None
    True
    """
    if all(r.split == "test" for r in records):
        return None
    if dataset_index is None:
        raise InputError("cross-fitted baselines (split 'train') need the explained samples' dataset_index (each "
                         "sample's index in its split) to tell which baseline saw which sample")
    idx = np.asarray(dataset_index)
    out = np.ones((idx.size, len(records)), dtype=bool)
    for k, r in enumerate(records):  # over the K baselines (a handful)
        own = split == ("test" if r.split == "test" else "train")
        out[:, k] = ~(own & np.isin(idx, r.seen))
    return out


def training_table(model_log: Any, records: Sequence[BaselineRecord] = ()) -> pd.DataFrame:
    """``metrics/training.parquet``: the model's training-log rows (``model`` = "model"), then each baseline's
    (``baseline_k``), with the columns :data:`TRAINING_COLUMNS` (``prediction_changes`` nullable).

    >>> t = training_table([{"epoch": 0, "split": "test", "loss": 2.3, "accuracy": 0.1}],
    ...                    [BaselineRecord(log=[{"epoch": 5, "split": "eval", "loss": 0.4, "accuracy": 0.9}])])
    >>> t[["model", "epoch", "split"]].values.tolist(), str(t["prediction_changes"].dtype)
    ([['model', 0, 'test'], ['baseline_0', 5, 'eval']], 'Int64')
    """
    rows = [{"model": "model", **r} for r in _rows(model_log)]
    for k, rec in enumerate(records):
        rows += [{"model": f"baseline_{k}", **r} for r in _rows(rec.log)]
    tab = pd.DataFrame(rows, columns=None if rows else list(TRAINING_COLUMNS))
    missing = sorted({"epoch", "split", "loss", "accuracy"} - set(tab.columns))
    if missing:
        raise InputError(f"training-log rows need the keys epoch, split, loss and accuracy; missing {missing}")
    if "prediction_changes" not in tab.columns:
        tab["prediction_changes"] = np.nan
    tab["prediction_changes"] = tab["prediction_changes"].astype("Int64")
    return tab[list(TRAINING_COLUMNS)]


def _rows(log: Any) -> list[dict[str, Any]]:
    if log is None:
        return []
    if isinstance(log, pd.DataFrame):
        return log.drop(columns=[c for c in ("model",) if c in log.columns]).to_dict("records")
    return [dict(r) for r in log]


def samples_table(split: np.ndarray, labels: np.ndarray, dataset_index: np.ndarray | None = None,
                  label_flipped: np.ndarray | None = None) -> pd.DataFrame:
    """``metrics/samples.parquet``: one row per explained sample (``dataset_index`` defaults to the position
    within its split); ``label_flipped``: True for a training sample whose label was flipped (label noise), NA for
    the other splits and when unknown.

    >>> samples_table(np.array(["train", "train", "test"]), np.array([3, 1, 4]))["dataset_index"].tolist()
    [0, 1, 0]
    >>> samples_table(np.array(["train", "test"]), np.array([3, 4]), label_flipped=np.array([True, False]))[
    ...     "label_flipped"].tolist()
    [True, <NA>]
    """
    if dataset_index is None:
        dataset_index = np.zeros(split.size, dtype=np.int64)
        for s in np.unique(split):
            dataset_index[split == s] = np.arange(int((split == s).sum()))
    flipped = pd.array([pd.NA] * split.size, dtype="boolean")
    if label_flipped is not None:
        tr = np.asarray(split).astype(str) == "train"
        flipped[tr] = np.asarray(label_flipped, dtype=bool)[tr]
    return pd.DataFrame({"sample": np.arange(split.size), "split": split, "dataset_index": np.asarray(dataset_index),
                         "label": np.asarray(labels), "label_flipped": flipped})[list(SAMPLES_COLUMNS)]


def baselines_table(records: Sequence[BaselineRecord], trained_on: str, training: pd.DataFrame) -> pd.DataFrame:
    """``metrics/baselines.parquet``: per baseline, its design, size, kept epoch and evaluation-split score (the
    last "eval" row of its training log; NaN when it has none).

    >>> tr = training_table([], [BaselineRecord(log=[{"epoch": 5, "split": "eval", "loss": 0.4, "accuracy": 0.9}])])
    >>> baselines_table([BaselineRecord(train_index=np.arange(10), epoch=5)], "reference", tr).to_dict("records")
    [{'baseline': 0, 'trained_on': 'reference', 'n_train': 10, 'epochs': 5, 'eval_loss': 0.4, 'eval_accuracy': 0.9}]
    """
    rows = []
    for k, rec in enumerate(records):
        ev = training[(training["model"] == f"baseline_{k}") & (training["split"] == "eval")]
        rows.append({"baseline": k, "trained_on": trained_on, "n_train": rec.n_train, "epochs": rec.epoch,
                     "eval_loss": float(ev["loss"].iloc[-1]) if len(ev) else np.nan,
                     "eval_accuracy": float(ev["accuracy"].iloc[-1]) if len(ev) else np.nan})
    return pd.DataFrame(rows, columns=list(BASELINES_COLUMNS))


def baseline_warnings(baselines: pd.DataFrame, training: pd.DataFrame, gap: float = BASELINE_ACCURACY_GAP) -> list[str]:
    """One sentence per baseline whose ``eval_accuracy`` lies more than ``gap`` below the model's best
    evaluation accuracy (``training`` rows of model "model", split "eval").

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


def coverage_warnings(h_bar: pd.DataFrame, verdict: Mapping[str, Any] | None = None,
                      min_share: float = MIN_COVERAGE) -> tuple[dict[str, Any], list[str]]:
    """Checkpoints where H-bar is defined on fewer than ``min_share`` of the explained training samples (the others
    have no salient interaction there, as early in training with ``interactions.tau_mode=absolute``): the mean
    H-bar of such a checkpoint, and a peak or boundary found at it, describes a few samples only.

    Returns ``phases.json``'s ``coverage`` (``of``: training samples; ``thin``: ``[{checkpoint, n_samples}]``;
    ``min_share``) and the warnings (none when every checkpoint is covered). ``verdict``: the phases mapping, to say
    when the end of phase 1, the start of phase 3 or the peak the phase rules found lies at a thin checkpoint.

    >>> hb = pd.DataFrame({"checkpoint": [0, 0, 0, 1, 1, 1], "sample": [0, 1, 2] * 2, "split": "train",
    ...                    "h_bar": [np.nan, 0.9, np.nan, 0.5, 0.4, 0.6]})
    >>> cov, w = coverage_warnings(hb, {"boundaries": {"phase1_end": 0}})
    >>> cov["thin"], len(w)
    ([{'checkpoint': 0, 'n_samples': 1}], 1)
    """
    tr = h_bar[h_bar["split"].astype(str) == "train"]
    of = int(tr["sample"].nunique())
    n = tr.assign(ok=np.isfinite(tr["h_bar"].to_numpy(float))).groupby("checkpoint")["ok"].sum()
    thin = [{"checkpoint": int(c), "n_samples": int(k)} for c, k in n.items() if of and k < min_share * of]
    cov = {"of": of, "min_share": float(min_share), "thin": thin}
    if not thin:
        return cov, []
    where = ", ".join(f"{t['checkpoint']} ({t['n_samples']})" for t in thin)
    msg = (f"H-bar is defined on fewer than {min_share:.0%} of the {of} explained training samples at epoch(s) {where}: "
           "the others have no salient interaction there (with interactions.tau_mode=absolute, early effects can all "
           "lie below tau), so the mean H-bar of those checkpoints describes a few samples only")
    b = (verdict or {}).get("boundaries") or {}
    epochs = {"end of phase 1": b.get("phase1_end"), "start of phase 3": b.get("phase3_start"),
              "peak of the mean H-bar": (((verdict or {}).get("evidence") or {}).get("h_bar") or {}).get("peak_epoch")}
    thin_at = {t["checkpoint"] for t in thin}
    at = [f"{label} (epoch {e})" for label, e in epochs.items() if e is not None and int(e) in thin_at]
    if at:
        msg += f"; the verdict's {' and '.join(at)} lies at such a checkpoint"
    return cov, [msg + "; a lower tau, or tau_mode=relative, covers more samples"]


@dataclass
class RunAnalysis:
    """What the engine concludes: ``tables`` (name -> DataFrame, every ``metrics/*.parquet``), ``phases``
    (the mapping of ``metrics/phases.json``), and the objects behind them: ``report`` (the
    :class:`~genphase.analysis.PhaseReport`), ``count`` (the :class:`~genphase.analysis.PhaseCount`),
    ``warnings`` (one sentence per weak baseline, and one when some checkpoints' H-bar covers few samples:
    :func:`coverage_warnings`)."""

    tables: dict[str, pd.DataFrame]
    phases: dict[str, Any]
    report: PhaseReport
    count: PhaseCount
    warnings: list[str] = field(default_factory=list)


class SeriesAnalysis:
    """The engine fed one checkpoint at a time; ``result()`` equals :func:`analyse_run` on the checkpoints added.

    Args:
        baselines: the K baselines' interactions on the explained samples.
        split: ``[B]`` "train" / "test" per explained sample.
        labels: ``[B]`` their labels.
        settings: the :class:`~genphase.settings.Settings` (``interactions.tau``, ``baselines.trained_on``,
            the ``analysis`` section); validated here.
        records: one :class:`BaselineRecord` per baseline (default: trained on the reference split, no log).
        dataset_index: ``[B]`` each explained sample's index in its split (the ``samples`` table; needed
            to tell which cross-fitted baseline saw which sample).
        variables_shared: False when each sample has its own variables (text, point clouds).
        null_baselines: the K *null* baselines' interactions (trained on permuted labels; the ``permuted_labels``
            chance level), or None (then ``null_reason`` says why, in ``phases.json``).
        label_flipped: ``[B]`` True for explained training samples whose label was flipped (label noise), or None
            when unknown; ``label_noise``: whether the training labels were flipped at all (default: any flipped).

    >>> m = AndOrInteractions.from_effects(np.array([[0, 0, 0, 2.0], [0, 1.0, 0, 0]]),
    ...                                    np.array([[0, 0, 0, 1.0], [0, 0, 0, 0]]))
    >>> base = AndOrInteractions.from_effects(np.array([[0, 0, 0, 1.0], [0, 1.0, 0, 0]]), np.zeros((2, 4)))
    >>> from genphase.settings import AnalysisConfig
    >>> acc = SeriesAnalysis([base], split=np.array(["train", "test"]), labels=np.array([0, 1]),
    ...                      settings=Settings(analysis=AnalysisConfig(n_resamples=0)))
    >>> acc.add(0, base); acc.add(5, m)
    >>> log = [{"epoch": e, "split": "test", "loss": 1.0, "accuracy": 0.5} for e in (0, 5)]
    >>> acc.result(log).tables["h_bar"]["h_bar"].round(4).tolist()
    [1.0, 1.0, 0.6667, 1.0]
    """

    def __init__(self, baselines: Sequence[AndOrInteractions], *, split: Any, labels: Any, settings: Settings,
                 records: Sequence[BaselineRecord] | None = None, dataset_index: Any = None,
                 variables_shared: bool = True, null_baselines: Sequence[AndOrInteractions] | None = None,
                 null_reason: str = "no null baselines were given (null_baselines=None)",
                 label_flipped: Any = None, label_noise: bool | None = None) -> None:
        if not isinstance(settings, Settings):
            raise InputError(f"settings must be a genphase.settings.Settings, got {type(settings).__name__}")
        settings.validate()
        self.settings = settings
        self.baselines = list(baselines) if not isinstance(baselines, AndOrInteractions) else [baselines]
        if not self.baselines:
            raise InputError("the engine needs at least one baseline's interactions (K >= 1)")
        self.split = np.asarray(split).reshape(-1)
        self.labels = np.asarray(labels).reshape(-1)
        if self.split.size != self.labels.size:
            raise InputError(f"split has {self.split.size} entries but labels has {self.labels.size}; one per explained sample")
        self.records = list(records) if records is not None else [BaselineRecord() for _ in self.baselines]
        if len(self.records) != len(self.baselines):
            raise InputError(f"{len(self.records)} baseline records for {len(self.baselines)} baselines; give one per baseline")
        self.dataset_index = None if dataset_index is None else np.asarray(dataset_index).reshape(-1)
        self.variables_shared = bool(variables_shared)
        self.eligible = eligibility(self.records, self.dataset_index, self.split)
        self.null_baselines = None if null_baselines is None else [_flatten(b) for b in null_baselines]
        if self.null_baselines is not None and len(self.null_baselines) != len(self.baselines):
            raise InputError(f"{len(self.null_baselines)} null baselines for {len(self.baselines)} baselines; the "
                             "permuted-labels null needs one per baseline (same models, seeds and data)")
        self.null_reason = null_reason
        self.label_flipped = None if label_flipped is None else np.asarray(label_flipped, dtype=bool).reshape(-1)
        if self.label_flipped is not None and self.label_flipped.size != self.split.size:
            raise InputError(f"label_flipped has {self.label_flipped.size} entries for {self.split.size} explained samples")
        self.label_noise = (bool(self.label_flipped.any()) if label_noise is None and self.label_flipped is not None
                            else label_noise)
        self._per_checkpoint: dict[int, dict[str, pd.DataFrame]] = {}
        self._null: dict[int, pd.DataFrame] = {}
        self._parts: dict[int, ClaimParts] = {}
        self._ceiling: pd.DataFrame | None = None

    @property
    def checkpoints(self) -> list[int]:
        """The checkpoints added so far, in order."""
        return sorted(self._per_checkpoint)

    def add(self, checkpoint: int, interactions: AndOrInteractions) -> None:
        """Analyse one checkpoint (its per-checkpoint tables; a checkpoint added again replaces the old one)."""
        sal = self.settings.interactions.salience
        tables = analyze_checkpoint(interactions, self.baselines, split=self.split, labels=self.labels, **sal,
                                    variables_shared=self.variables_shared, eligible=self.eligible)
        if len(self.baselines) >= 2:
            tables["evidence"] = graded_evidence(interactions, self.baselines, split=self.split, checkpoint=None,
                                                 **sal, eligible=self.eligible)
        self._per_checkpoint[int(checkpoint)] = tables
        a = self.settings.analysis
        model = _flatten(interactions)
        parts = claim_parts(model, self.baselines, **sal, draws=a.null_draws or PLACEBO_DRAWS, seed=a.seed,
                            eligible=self.eligible)
        self._parts[int(checkpoint)] = parts
        self._null[int(checkpoint)] = self._null_samples(int(checkpoint), model, parts)

    def _null_samples(self, checkpoint: int, model: AndOrInteractions, parts: ClaimParts) -> pd.DataFrame:
        """Per-sample H-bar of this checkpoint (``model``: its interactions, flat over samples) under each null (the
        long frame of :data:`NULL_SAMPLE_COLUMNS`); the order-permutation null is ``parts.null_all`` (the same
        permutations as the claims' placebos)."""
        sal, a = self.settings.interactions.salience, self.settings.analysis
        frames = []
        B = self.split.size

        def frame(name: str, values: np.ndarray) -> pd.DataFrame:  # values [D, B]
            D = values.shape[0]
            return pd.DataFrame({"checkpoint": checkpoint, "sample": np.tile(np.arange(B), D),
                                 "split": np.tile(self.split, D), "null": name, "draw": np.repeat(np.arange(D), B),
                                 "h_bar": values.reshape(-1)})
        if a.null_draws:
            frames.append(frame("order_permutation", parts.null_all))
        if self.null_baselines is not None:
            gp = generalization_power(model, self.null_baselines, **sal, eligible=self.eligible)
            frames.append(frame("permuted_labels", gp.h_bar().reshape(1, -1)))
        return pd.concat(frames, ignore_index=True) if frames else pd.DataFrame()

    def drop_after(self, checkpoint: int) -> None:
        """Forget the checkpoints after ``checkpoint`` (a series resumed from an earlier state)."""
        for c in [c for c in self._per_checkpoint if c > checkpoint]:
            del self._per_checkpoint[c]
            self._null.pop(c, None)
            self._parts.pop(c, None)

    def _ceiling_table(self) -> pd.DataFrame:
        if self._ceiling is None:
            a = self.settings.analysis
            ceiling = h_bar_ceiling(self.baselines, split=self.split, **self.settings.interactions.salience,
                                    eligible=self.eligible, n_resamples=a.n_resamples, level=a.ci_level,
                                    seed=a.seed)  # n_resamples 0: intervals skipped (NaN), as for h_bar_summary
            self._ceiling = ceiling
        return self._ceiling

    def result(self, training: Any = None) -> RunAnalysis:
        """Every table and the verdict for the checkpoints added so far.

        ``training``: the model's training-log rows (``epoch, split, loss, accuracy`` and optionally
        ``prediction_changes``; a list of mappings or a DataFrame); the baselines' rows come from their records.
        """
        if not self._per_checkpoint:
            raise InputError("no checkpoint analysed yet; add() at least one before result()")
        a, b = self.settings.analysis, self.settings.baselines
        K = len(self.baselines)
        tables = concat_checkpoints((c, self._per_checkpoint[c]) for c in self.checkpoints)
        evidence = tables.pop("evidence", None)
        if a.n_resamples:
            tables["h_bar_summary"] = bootstrap_h_bar(tables["h_bar"], n_resamples=a.n_resamples, level=a.ci_level,
                                                      seed=a.seed)
        tables["training"] = training_table(training, self.records)
        tables["samples"] = samples_table(self.split, self.labels, self.dataset_index, self.label_flipped)
        tables["baselines"] = baselines_table(self.records, b.trained_on, tables["training"])
        not_computed: dict[str, str] = {}
        if K < 2:
            why = f"needs K >= 2 baselines, the run has K = {K}; set baselines.k=2 or more"
            not_computed["h_bar_ceiling"] = "the H-bar ceiling (each baseline against the other K - 1) " + why
            not_computed["evidence"] = "graded evidence (n_agree = 0..K; with K = 1 it is G itself) " + why
            if "h_bar_summary" in tables:
                tables["h_bar_summary"]["normalized"] = np.nan
        else:
            tables["h_bar_ceiling"] = self._ceiling_table()
            if "h_bar_summary" in tables:
                tables["h_bar_summary"] = normalize_by_ceiling(tables["h_bar_summary"], tables["h_bar_ceiling"])
            tables["evidence"] = evidence[list(EVIDENCE_COLUMNS)].reset_index(drop=True)
        model_rows = tables["training"][tables["training"]["model"] == "model"]
        report = detect_phases(model_rows, tables["h_bar"], tables.get("order_strengths"),
                               order_distribution=tables["order_distribution_samples"], n_resamples=a.n_resamples,
                               ci_level=a.ci_level, seed=a.seed, early_stopping=a.early_stopping)
        tables["phases"] = report.to_frame()
        count = count_phases(tables["h_bar"], split="train", n_resamples=a.n_resamples, seed=a.seed)
        warnings_ = baseline_warnings(tables["baselines"], tables["training"])
        frames = [f for f in (self._null[c] for c in self.checkpoints) if len(f)]
        null_samples = pd.concat(frames, ignore_index=True) if frames else None
        nulls = self._null_tables(tables, model_rows, not_computed, null_samples)
        if "h_bar_summary" in tables and self.label_noise and self.label_flipped is not None:
            tables["h_bar_summary"] = self._clean_and_flipped(tables["h_bar"], tables["h_bar_summary"])
        verdict = report.to_dict()
        tables["claims"] = claims_table(self._parts, split=self.split, phases=verdict, h_bar=tables["h_bar"],
                                        null_samples=null_samples,
                                        label_flipped=self.label_flipped, label_noise=self.label_noise,
                                        n_resamples=a.n_resamples, level=a.ci_level, seed=a.seed)
        if nulls["above_null"] is not None:
            v = nulls["above_null"]
            same = (v["three_phases"] == report.three_phases
                    and all(v.get("boundaries", {}).get(k) == report.boundaries.get(k) for k in ("phase1_end", "phase3_start")))
            v["agrees"] = bool(same)
            v["message"] = ("the same verdict as on the raw curve: " if same else
                            "NOT the verdict of the raw curve: ") + v["message"]
        coverage, thin = coverage_warnings(tables["h_bar"], verdict)
        phases = {**verdict, **count.to_dict(), "baselines_trained_on": b.trained_on,
                  "baseline_warnings": warnings_, "coverage": coverage, "coverage_warnings": thin,
                  "not_computed": not_computed, **nulls}
        return RunAnalysis(tables=tables, phases=phases, report=report, count=count, warnings=warnings_ + thin)


    def _clean_and_flipped(self, h_bar: pd.DataFrame, summary: pd.DataFrame) -> pd.DataFrame:
        """``h_bar_summary`` with rows of split ``train_clean`` and ``train_flipped``: the training samples whose
        label was kept and those whose label was flipped, apart (same bootstrap, ``normalized`` NaN)."""
        a = self.settings.analysis
        tr = h_bar[h_bar["split"].astype(str) == "train"]
        flipped = self.label_flipped[tr["sample"].to_numpy()]
        per_sample = self.label_flipped[np.unique(tr["sample"].to_numpy())]
        if per_sample.sum() < 2 or (~per_sample).sum() < 2:  # the bootstrap needs 2 samples of each
            return summary
        part = tr.assign(split=np.where(flipped, "train_flipped", "train_clean"))
        extra = bootstrap_h_bar(part, n_resamples=a.n_resamples, level=a.ci_level, seed=a.seed)
        return pd.concat([summary, extra], ignore_index=True).sort_values(["checkpoint", "split"], kind="stable") \
            .reset_index(drop=True)

    def _null_tables(self, tables: dict[str, pd.DataFrame], model_rows: pd.DataFrame, not_computed: dict[str, str],
                     null_samples: pd.DataFrame | None) -> dict[str, Any]:
        """``h_bar_null`` and the ``above_null*`` columns of ``h_bar_summary`` (in ``tables``), and the
        ``phases.json`` entries ``nulls`` and ``above_null`` (the phase rules on H-bar minus the order null), from
        the per-sample null frame of every checkpoint (None: no null computed)."""
        a = self.settings.analysis
        samples = null_samples if null_samples is not None else pd.DataFrame(columns=["null"])
        have = set(samples["null"].astype(str))
        info: dict[str, Any] = {
            "order_permutation": ({"draws": a.null_draws, "seed": a.seed} if "order_permutation" in have else
                                  {"skipped": "analysis.null_draws is 0"}),
            "permuted_labels": ({"k": len(self.null_baselines or ())} if "permuted_labels" in have else
                                {"skipped": self.null_reason}),
        }
        if not have:
            not_computed["h_bar_null"] = ("neither null was computed: analysis.null_draws is 0 and "
                                          + self.null_reason)
            return {"nulls": info, "above_null": None}
        kw = dict(n_resamples=a.n_resamples, level=a.ci_level, seed=a.seed)
        tables["h_bar_null"] = null_summary(samples, **kw)[list(NULL_COLUMNS)]
        per = {name: samples[samples["null"].astype(str) == name] for name in have}
        if "h_bar_summary" in tables:
            summ = tables["h_bar_summary"]
            for name, col in (("order_permutation", "above_null"), ("permuted_labels", "above_null_labels")):
                if name not in per:
                    summ[col] = summ[f"{col}_ci_low"] = summ[f"{col}_ci_high"] = np.nan
                    continue
                d = above_null(tables["h_bar"], per[name], **kw).set_index(["checkpoint", "split"])
                key = pd.MultiIndex.from_frame(summ[["checkpoint", "split"]])
                for src, dst in (("mean", col), ("ci_low", f"{col}_ci_low"), ("ci_high", f"{col}_ci_high")):
                    summ[dst] = d[src].reindex(key).to_numpy()
        verdict = None
        if "order_permutation" in per:  # the same rules on the curve above the null (per sample: H-bar - null)
            o = per["order_permutation"].groupby(["checkpoint", "sample"])["h_bar"].mean()
            hb = tables["h_bar"]
            idx = pd.MultiIndex.from_frame(hb[["checkpoint", "sample"]])
            above = hb.assign(h_bar=hb["h_bar"].to_numpy() - o.reindex(idx).to_numpy())
            try:
                rep = detect_phases(model_rows, above, tables.get("order_strengths"), n_resamples=a.n_resamples,
                                    ci_level=a.ci_level, seed=a.seed, early_stopping=a.early_stopping)
                verdict = {"three_phases": rep.three_phases, "clear": rep.clear, "message": rep.message,
                           "boundaries": rep.boundaries, "boundaries_ci": rep.boundaries_ci,
                           "three_phase_support": rep.three_phase_support, "stop_epoch": rep.early_stopping["epoch"]}
            except InputError as exc:
                verdict = {"three_phases": False, "clear": False, "message": f"not computed: {exc}"}
        return {"nulls": info, "above_null": verdict}


def analyse_run(
    series: Mapping[int, AndOrInteractions] | Iterable[tuple[int, AndOrInteractions]],
    baselines: Sequence[AndOrInteractions],
    *,
    split: Any,
    labels: Any,
    training: Any = None,
    settings: Settings | None = None,
    records: Sequence[BaselineRecord] | None = None,
    dataset_index: Any = None,
    variables_shared: bool = True,
    null_baselines: Sequence[AndOrInteractions] | None = None,
    null_reason: str = "no null baselines were given (null_baselines=None)",
    label_flipped: Any = None,
    label_noise: bool | None = None,
) -> RunAnalysis:
    """Every table of a run directory and the verdict, from the model's interactions at each checkpoint
    (``{epoch: res}`` or ``[(epoch, res), ...]``), the baselines' and the training log (see
    :class:`SeriesAnalysis` for the arguments; ``settings`` defaults to :class:`~genphase.settings.Settings`()).

    >>> import genphase as gp
    >>> from genphase.settings import AnalysisConfig
    >>> rng = np.random.default_rng(0)
    >>> base = [gp.extract_and_or(rng.normal(size=(16, 8))) for _ in range(2)]  # K = 2, 16 samples, n = 3
    >>> series = {e: gp.extract_and_or(rng.normal(size=(16, 8))) for e in (0, 1, 2)}
    >>> log = [{"epoch": e, "split": s, "loss": 1.0 / (e + 1), "accuracy": 0.5} for e in (0, 1, 2) for s in ("train", "test")]
    >>> out = analyse_run(series, base, split=np.repeat(["train", "test"], 8), labels=np.zeros(16, int), training=log,
    ...                   settings=Settings(analysis=AnalysisConfig(n_resamples=50)))
    >>> sorted(out.tables)[:6]
    ['ablation_strengths', 'baseline_ablation', 'baselines', 'claims', 'evidence', 'h_bar']
    >>> out.tables["h_bar"].shape, out.phases["baselines_trained_on"]
    ((48, 4), 'reference')
    """
    acc = SeriesAnalysis(baselines, split=split, labels=labels, settings=settings if settings is not None else Settings(),
                         records=records, dataset_index=dataset_index, variables_shared=variables_shared,
                         null_baselines=null_baselines, null_reason=null_reason, label_flipped=label_flipped,
                         label_noise=label_noise)
    for checkpoint, res in checkpoint_items(series):
        acc.add(checkpoint, res)
    return acc.result(training)
