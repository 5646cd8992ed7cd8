"""Analysis layer over extracted AND-OR interactions (pure, vectorised numpy; no plotting).

One module per concept; every function takes :class:`~genphase.AndOrInteractions` batches (any
batch shape ``B``, one entry per sample) or tidy tables, and every result has a long-form
``to_frame()`` view:

* :mod:`.salience` -- salient interactions, relative (``tau * max|I|``) or absolute threshold.
* :mod:`.generalization` -- G against one (Eq. 7) or K baselines (Eq. 10), the k = 1..K ablation.
* :mod:`.strengths` -- order-wise strengths (Eq. 8, 9) and H-bar (Eq. 11), per sample and aggregated.
* :mod:`.removal` -- loss without non-generalizable interactions (Eq. 12, 13).
* :mod:`.order_distribution` -- order distribution over checkpoints and the weighted Jaccard similarity.
* :mod:`.phase_rules` -- one function per phase rule (batched), each returning a frozen dataclass of its evidence.
* :mod:`.phases` -- three-phase / two-phase detection, its bootstrap, and the early-stopping recommendation.
* :mod:`.bootstrap` -- bootstrap intervals of mean H-bar per checkpoint and split (``h_bar_summary``).
* :mod:`.evaluation` -- scoring a stop on the held-out evaluation split; validation stopping with patience.
* :mod:`.theory` -- the (reconstructed) noisy-triggering-function regression model.
* :mod:`.checkpoint` -- the per-checkpoint metric tables of docs/run-directory.md.
* :mod:`.engine` -- THE engine: a series of extractions -> every table of a run directory and the verdict
  (``genphase run`` and :class:`genphase.Tracker` both call :func:`analyse_run` / :class:`SeriesAnalysis`).
* :mod:`.tables` -- long-form helpers and the table contracts.
* :mod:`.crossfit` -- the cross-fitting design (baselines on parts of the training split) and its eligibility mask.
* :mod:`.ceiling` -- the H-bar ceiling (each baseline against the other K - 1) and ``normalized`` H-bar.
* :mod:`.evidence` -- graded evidence: salient strength by the number of agreeing baselines (``n_agree``).
* :mod:`.phase_count` -- how many linear phases mean H-bar supports (BIC per bootstrap resample).
* :mod:`.labelwave` -- the Label Wave stop from the recorded prediction changes (no held-out data).
* :mod:`.null` -- the chance level of H-bar without training: the order-permutation null.

Conventions: one-variable terms are merged into AND by default (``merge_singletons=True``);
a sample without salient interactions has H-bar NaN; mismatched inputs raise
:class:`~genphase.errors.InputError`.
"""

from .bootstrap import H_BAR_SUMMARY_COLUMNS, bootstrap_h_bar
from .ceiling import H_BAR_CEILING_COLUMNS, baseline_h_bar, h_bar_ceiling, normalize_by_ceiling
from .checkpoint import TABLE_NAMES, analyze_checkpoint, analyze_series, concat_checkpoints
from .crossfit import CrossfitDesign, crossfit_design
from .engine import (
    BASELINE_ACCURACY_GAP,
    BASELINES_COLUMNS,
    SAMPLES_COLUMNS,
    TRAINING_COLUMNS,
    BaselineRecord,
    RunAnalysis,
    SeriesAnalysis,
    analyse_run,
    baseline_warnings,
    baselines_table,
    coverage_warnings,
    eligibility,
    samples_table,
    training_table,
)
from .evaluation import STUDY_COLUMNS, PatienceStop, StopScore, patience_stop, score_stop, study_row
from .evidence import EVIDENCE_COLUMNS, evidence_series, evidence_strength, graded_evidence
from .generalization import (
    BaselineAblation,
    GeneralizationPower,
    baseline_ablation,
    check_eligible,
    generalization_power,
    generalizes,
)
from .labelwave import LabelWaveStop, label_wave_stop, label_wave_study
from .null import ORDER_NULL_DRAWS, order_permutation_null, order_permutations, permute_effects
from .order_distribution import (
    JACCARD_NOT_SHARED,
    NORMALIZATIONS,
    OrderDistribution,
    order_distribution,
    order_distribution_samples,
    order_distribution_series,
    order_jaccard,
    order_jaccard_by_class,
    order_strength,
    output_range,
    weighted_jaccard,
)
from .phase_count import PhaseCount, SegmentFits, count_phases, segment_fits
from .phase_rules import (
    GapEvidence,
    Phase1Evidence,
    Phase3Evidence,
    PhaseRules,
    StopEvidence,
    TwoPhaseEvidence,
    gap_onset_rule,
    new_strength,
    noise_level,
    phase1_end_rule,
    phase3_start_rule,
    smooth,
    stop_rule,
    two_phase_rule,
    two_phase_turns,
)
from .phases import Phase, PhaseReport, detect_phases
from .removal import RemovalResult, cross_entropy, neg_log_sigmoid, removal_loss
from .salience import Salience, salience, salience_threshold
from .strengths import OrderStrengths, h_bar, h_bar_by_type, h_bar_summary, order_strengths
from .tables import LONG_COLUMNS, TABLE_COLUMNS, long_form
from .theory import (
    THEORY_COLUMNS,
    NoiseScheduleFit,
    TheoryPrediction,
    TriggeringRegression,
    default_penalty,
    default_sigma2_grid,
    fit_noise_schedule,
    harsanyi_order_distribution,
)

__all__ = [
    # salience
    "Salience", "salience", "salience_threshold",
    # generalization
    "GeneralizationPower", "BaselineAblation", "generalization_power", "generalizes", "baseline_ablation",
    # strengths / H-bar
    "OrderStrengths", "order_strengths", "h_bar", "h_bar_by_type", "h_bar_summary",
    # removal
    "RemovalResult", "removal_loss", "neg_log_sigmoid", "cross_entropy",
    # order distribution / Jaccard
    "NORMALIZATIONS", "OrderDistribution", "order_strength", "output_range", "order_distribution",
    "order_distribution_series", "order_distribution_samples", "weighted_jaccard", "order_jaccard", "order_jaccard_by_class", "JACCARD_NOT_SHARED",
    # phases
    "PhaseRules", "Phase", "PhaseReport", "detect_phases", "smooth", "noise_level",
    "Phase1Evidence", "Phase3Evidence", "TwoPhaseEvidence", "GapEvidence", "StopEvidence",
    "phase1_end_rule", "phase3_start_rule", "two_phase_rule", "gap_onset_rule", "stop_rule", "new_strength", "two_phase_turns",
    # bootstrap
    "bootstrap_h_bar", "H_BAR_SUMMARY_COLUMNS",
    # evaluation of a stop
    "PatienceStop", "StopScore", "patience_stop", "score_stop", "study_row", "STUDY_COLUMNS",
    # theory
    "TriggeringRegression", "TheoryPrediction", "NoiseScheduleFit", "fit_noise_schedule", "default_penalty",
    "default_sigma2_grid", "harsanyi_order_distribution", "THEORY_COLUMNS",
    # tables / pipeline
    "LONG_COLUMNS", "TABLE_COLUMNS", "TABLE_NAMES", "long_form", "analyze_checkpoint", "analyze_series",
    "concat_checkpoints",
    # the engine (one for `genphase run` and the Tracker)
    "analyse_run", "SeriesAnalysis", "RunAnalysis", "BaselineRecord", "eligibility", "training_table",
    "samples_table", "baselines_table", "baseline_warnings", "coverage_warnings", "TRAINING_COLUMNS", "SAMPLES_COLUMNS",
    "BASELINES_COLUMNS", "BASELINE_ACCURACY_GAP",
    # cross-fitting (baselines on parts of the training split)
    "CrossfitDesign", "crossfit_design", "check_eligible",
    # the H-bar ceiling
    "H_BAR_CEILING_COLUMNS", "baseline_h_bar", "h_bar_ceiling", "normalize_by_ceiling",
    # graded evidence
    "EVIDENCE_COLUMNS", "evidence_strength", "graded_evidence", "evidence_series",
    # how many phases
    "PhaseCount", "SegmentFits", "count_phases", "segment_fits",
    # Label Wave
    "LabelWaveStop", "label_wave_stop", "label_wave_study",
    # chance level
    "order_permutation_null", "order_permutations", "permute_effects", "ORDER_NULL_DRAWS",
]
