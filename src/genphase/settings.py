"""The settings a measurement shares with a run: the ``interactions``, ``baselines`` and ``analysis``
sections of a run's config, each validated in one place (its ``validate()``).

``genphase run`` reads them from its YAML config (:class:`genphase.pipeline.config.RunConfig` holds
these very classes), and :class:`genphase.Tracker` builds them from its keyword arguments; both call
the same ``validate()``, so a bad setting gets the same :class:`~genphase.errors.ConfigError`, naming
the config key and the fix, before any model is trained.

>>> s = Settings(interactions=InteractionConfig(tau=0.1))
>>> s.interactions.tau, s.baselines.k, s.analysis.n_resamples
(0.1, 3, 1000)
>>> Settings(interactions=InteractionConfig(tau=1.5)).validate()
Traceback (most recent call last):
...
genphase.errors.ConfigError: config key 'interactions.tau': relative tau must be in [0, 1], got 1.5
"""

from __future__ import annotations

import math
from dataclasses import dataclass, field
from typing import Any

from ._vocabulary import EXACT_SOLVERS, SOLVER_NAMES, STOP_RULES, TIE_RULES
from .errors import ConfigError

__all__ = [
    "InteractionConfig",
    "BaselineConfig",
    "AnalysisConfig",
    "Settings",
    "BASELINE_SOURCES",
    "BASELINE_STOP_FRACTION",
    "BASELINE_STOP_MIN",
    "BASELINE_STOP_PATIENCE",
    "MIN_BOOTSTRAP_SAMPLES",
    "MAX_VARIABLES",
    "MAX_SEED",
    "check_seed",
    "check_variables",
    "check_bootstrap_samples",
]

#: ``baselines.trained_on`` values: where the K baselines get their training data.
BASELINE_SOURCES: tuple[str, ...] = ("reference", "crossfit")

#: ``baselines.early_stopping``: the share of each baseline's own training data held out to stop it, the
#: fewest samples that slice may have, and the patience in epochs (docs/run-directory.md, "Baselines").
BASELINE_STOP_FRACTION = 0.1
BASELINE_STOP_MIN = 8
BASELINE_STOP_PATIENCE = 3

#: Fewest explained samples per split the bootstrap accepts: ``m`` samples allow only ``C(2m - 1, m)``
#: distinct resamples (m = 3: 10; m = 7: 1,716; m = 8: 6,435), and the default 1,000 resamples need
#: several times that many to be more than repeats.
MIN_BOOTSTRAP_SAMPLES = 8

#: Most input variables a run or a tracker takes (``2**n`` masked forward passes per sample).
MAX_VARIABLES = 20


#: Largest seed a config takes: numpy's legacy generators and scikit-learn accept seeds in 0..2**32 - 1 only.
MAX_SEED = 2**32 - 1


def _need(cond: bool, key: str, msg: str) -> None:
    if not cond:
        raise ConfigError(f"config key '{key}': {msg}")


def _is_int(v: Any) -> bool:
    return isinstance(v, int) and not isinstance(v, bool) or type(v).__name__.startswith(("int", "uint"))


def check_variables(n: Any) -> int:
    """``n`` (``variables.n``, the number of input variables) as an int, or the ConfigError of a run's config.

    >>> check_variables(10)
    10
    >>> check_variables(0)
    Traceback (most recent call last):
    ...
    genphase.errors.ConfigError: config key 'variables.n': must be in 1..20 (2**n masked forward passes per sample), got 0
    """
    _need(_is_int(n) and 1 <= int(n) <= MAX_VARIABLES, "variables.n",
          f"must be in 1..{MAX_VARIABLES} (2**n masked forward passes per sample), got {n!r}")
    return int(n)


def check_seed(seed: Any, key: str, *, uses: int = 1, why: str = "") -> int:
    """``seed`` (the value of config key ``key``) as an int, or the ConfigError naming the key and the valid range.

    A seed is an integer in ``0..MAX_SEED`` (scikit-learn refuses larger ones). ``uses`` seeds
    ``seed, seed + 1, ...`` are derived from it (the baselines' ``seed + k``), so the last must be
    in range too; ``why`` says which.

    >>> check_seed(7, "data.seed")
    7
    >>> check_seed(2**32, "data.seed")
    Traceback (most recent call last):
    ...
    genphase.errors.ConfigError: config key 'data.seed': must be an integer in 0..4294967295 (seeds are 32-bit: ...), got 4294967296; e.g. data.seed=0
    >>> check_seed(2**32 - 2, "baselines.seed", uses=3, why="the K = 3 baselines use seed + 0..2")
    Traceback (most recent call last):
    ...
    genphase.errors.ConfigError: config key 'baselines.seed': must be an integer in 0..4294967293 (the K = 3 baselines use seed + 0..2; ...
    """
    top = MAX_SEED - (int(uses) - 1)
    reason = (why + "; " if why else "") + "seeds are 32-bit: numpy and scikit-learn refuse larger ones"
    _need(_is_int(seed) and 0 <= int(seed) <= top, key,
          f"must be an integer in 0..{top} ({reason}), got {seed!r}; e.g. {key}=0")
    return int(seed)


def check_bootstrap_samples(per_split: int, n_resamples: int) -> None:
    """Refuse fewer than :data:`MIN_BOOTSTRAP_SAMPLES` explained samples per split when intervals are wanted.

    >>> check_bootstrap_samples(8, 1000); check_bootstrap_samples(4, 0)  # enough; no intervals asked
    >>> check_bootstrap_samples(4, 1000)
    Traceback (most recent call last):
    ...
    genphase.errors.ConfigError: config key 'explain.samples': 4 explained samples per split are fewer ...
    """
    _need(n_resamples == 0 or per_split >= MIN_BOOTSTRAP_SAMPLES, "explain.samples",
          f"{per_split} explained samples per split are fewer than the bootstrap needs ({MIN_BOOTSTRAP_SAMPLES}: m "
          f"samples allow only C(2m-1, m) distinct resamples); raise explain.samples to >= {MIN_BOOTSTRAP_SAMPLES}, or set "
          "analysis.n_resamples=0 to skip the intervals (a Tracker: pass more samples of each split, or n_resamples=0)")


@dataclass
class InteractionConfig:
    """Value function, salience and solver: how each model's interactions are extracted and which are salient.

    ``value_function`` is a name of :data:`genphase.value_functions.VALUE_FUNCTIONS` (a Tracker also
    takes a :class:`~genphase.value_functions.ValueFunction` or a callable); ``tau``: salience threshold,
    relative to each model's and sample's ``max|I|`` (``tau_mode="relative"``, the paper's) or, with
    ``tau_mode="absolute"``, one fixed value in the units of the value function (log-odds by default) for every
    sample, checkpoint and baseline, so an interaction cannot "appear" only because the largest effect changed;
    ``solver``, ``tol``, ``noise_bound``: :func:`genphase.extract_and_or`;
    ``chunk_size``: masked inputs per forward pass; ``ties``: which optimum of Eq. 6 among ties,
    "cold-start" (the cold path's) or "least-norm" (docs/science.md, section 6; exact solver only).

    >>> i = InteractionConfig()
    >>> i.value_function, i.tau, i.solver, i.ties
    ('log_odds', 0.05, 'admm', 'cold-start')
    >>> InteractionConfig(solver="sgd-reference", ties="least-norm").validate()
    Traceback (most recent call last):
    ...
    genphase.errors.ConfigError: config key 'interactions.ties': least-norm needs the exact solver (admm or hpr), ...
    """

    value_function: str = "log_odds"  # or, in a Tracker, a ValueFunction / callable
    tau: float = 0.05
    tau_mode: str = "relative"
    solver: str = "admm"
    tol: float = 1e-3
    noise_bound: float = 0.0
    chunk_size: int = 4096
    ties: str = "cold-start"

    @property
    def salience(self) -> dict[str, float | None]:
        """The salience arguments of every analysis function: ``{"tau": ..., "absolute": ...}``.

        >>> InteractionConfig().salience, InteractionConfig(tau=0.3, tau_mode="absolute").salience
        ({'tau': 0.05, 'absolute': None}, {'tau': 0.05, 'absolute': 0.3})
        """
        if self.tau_mode == "absolute":
            return {"tau": 0.05, "absolute": float(self.tau)}
        return {"tau": float(self.tau), "absolute": None}

    def validate(self) -> None:
        """Raise :class:`~genphase.errors.ConfigError` naming ``interactions.<key>`` and the fix."""
        from .value_functions import VALUE_FUNCTIONS

        _need(self.tau_mode in ("relative", "absolute"), "interactions.tau_mode",
              f"must be relative (tau times each sample's max|I|) or absolute (tau itself, in the value function's "
              f"units), got {self.tau_mode!r}")
        if self.tau_mode == "relative":
            _need(isinstance(self.tau, (int, float)) and 0.0 <= self.tau <= 1.0, "interactions.tau",
                  f"relative tau must be in [0, 1], got {self.tau}")
        else:
            _need(isinstance(self.tau, (int, float)) and math.isfinite(self.tau) and self.tau > 0.0, "interactions.tau",
                  f"an absolute tau must be a finite number > 0 in the value function's units (log-odds), got {self.tau}")
        _need(isinstance(self.noise_bound, (int, float)) and math.isfinite(self.noise_bound) and self.noise_bound >= 0.0,
              "interactions.noise_bound", f"must be a finite number >= 0, got {self.noise_bound}")
        vf = self.value_function
        _need(vf in VALUE_FUNCTIONS if isinstance(vf, str) else callable(vf), "interactions.value_function",
              f"unknown {vf!r}; choose one of {', '.join(VALUE_FUNCTIONS)}")
        _need(self.solver in SOLVER_NAMES, "interactions.solver",
              f"must be one of {', '.join(SOLVER_NAMES)}, got {self.solver!r}")
        _need(self.ties in TIE_RULES, "interactions.ties", f"must be cold-start or least-norm, got {self.ties!r}")
        _need(self.ties == "cold-start" or self.solver in EXACT_SOLVERS, "interactions.ties",
              f"least-norm needs the exact solver (admm or hpr), not {self.solver!r}; set interactions.solver=hpr")
        _need(isinstance(self.tol, (int, float)) and 0 < self.tol < 1, "interactions.tol",
              f"must be in (0, 1), got {self.tol}")
        _need(_is_int(self.chunk_size) and self.chunk_size >= 1, "interactions.chunk_size",
              f"must be an integer >= 1 (masked inputs per forward pass), got {self.chunk_size!r}")

    def solver_options(self) -> dict[str, Any]:
        """The keyword arguments of :func:`genphase.extract_and_or` these settings name.

        >>> InteractionConfig(tol=1e-4).solver_options()
        {'noise_bound': 0.0, 'solver': 'admm', 'tol': 0.0001}
        >>> InteractionConfig(solver="hpr", ties="least-norm").solver_options()["ties"]
        'least-norm'
        """
        out: dict[str, Any] = {"noise_bound": self.noise_bound, "solver": self.solver, "tol": self.tol}
        if self.ties != "cold-start":  # the default of extract_and_or: left out, as a run always did
            out["ties"] = self.ties
        return out


@dataclass
class BaselineConfig:
    """K baseline models, with seeds ``seed + k``.

    ``trained_on``: "reference" (default, the paper's design: each trains on the whole reference split)
    or "crossfit" (each trains on part of the *training* split, :func:`genphase.analysis.crossfit_design`
    seeded by ``seed``; each explained training sample is compared only with baselines that never saw it;
    needs ``k >= 3``). ``early_stopping``: hold out :data:`BASELINE_STOP_FRACTION` of each baseline's own
    training data and keep the epoch with the lowest loss there (patience :data:`BASELINE_STOP_PATIENCE`).
    ``epochs`` and ``lr`` default to the model's training settings (a Tracker: 20 epochs, lr 1e-3).
    ``null``: also train K *null* baselines, the same models, seeds and training on the same data with its labels
    permuted (seeded by ``seed + k``): the ``permuted_labels`` chance level of H-bar (``metrics/h_bar_null.parquet``;
    False skips them, and ``phases.json`` says so).

    >>> b = BaselineConfig()
    >>> b.k, b.trained_on, [b.seed + k for k in range(b.k)]  # the baselines' seeds
    (3, 'reference', [1000, 1001, 1002])
    >>> BaselineConfig(trained_on="crossfit", k=2).validate()
    Traceback (most recent call last):
    ...
    genphase.errors.ConfigError: config key 'baselines.k': baselines.trained_on=crossfit needs K >= 3 baselines, ...
    """

    k: int = 3
    epochs: int | None = None
    lr: float | None = None
    seed: int = 1000
    trained_on: str = "reference"
    early_stopping: bool = False
    null: bool = True

    def validate(self) -> None:
        """Raise :class:`~genphase.errors.ConfigError` naming ``baselines.<key>`` and the fix."""
        _need(_is_int(self.k) and self.k >= 1, "baselines.k",
              f"must be >= 1 (K baseline models are needed for G and H-bar), got {self.k!r}")
        _need(self.epochs is None or (_is_int(self.epochs) and self.epochs >= 1), "baselines.epochs",
              f"must be >= 1, got {self.epochs!r}")
        _need(self.lr is None or (isinstance(self.lr, (int, float)) and self.lr > 0), "baselines.lr",
              f"must be > 0, got {self.lr}")
        _need(isinstance(self.null, bool), "baselines.null",
              f"must be true (train K null baselines on permuted labels: the permuted_labels chance level) or false, "
              f"got {self.null!r}")
        check_seed(self.seed, "baselines.seed", uses=self.k, why=f"the K = {self.k} baselines use seed + 0..{self.k - 1}")
        _need(self.trained_on in BASELINE_SOURCES, "baselines.trained_on",
              f"must be reference (the K baselines train on the reference split) or crossfit (they train on parts of "
              f"the training split), got {self.trained_on!r}")
        _need(self.trained_on != "crossfit" or self.k >= 3, "baselines.k",
              f"baselines.trained_on=crossfit needs K >= 3 baselines, got baselines.k={self.k}: each explained "
              "training sample must be compared with at least two baselines that never saw it, and each baseline must "
              "still train on something; set baselines.k=3 or more (or baselines.trained_on=reference)")


@dataclass
class AnalysisConfig:
    """Phase detection and its bootstrap (see :class:`genphase.analysis.PhaseRules`).

    ``n_resamples`` bootstrap resamples of the explained samples (seeded by ``seed``; 0 skips the
    intervals), percentile intervals at ``ci_level``; ``early_stopping`` is the stop rule
    ("phase3_start": from the interactions, the default; "min_test_loss": the loss-based alternative;
    "h_bar_peak"); ``null_draws`` permutations of the order-permutation null of H-bar per checkpoint (its chance
    level, ``metrics/h_bar_null.parquet``; 0 skips it).

    >>> a = AnalysisConfig()
    >>> a.n_resamples, a.ci_level, a.early_stopping
    (1000, 0.95, 'phase3_start')
    """

    n_resamples: int = 1000
    ci_level: float = 0.95
    seed: int = 0
    early_stopping: str = "phase3_start"
    null_draws: int = 20

    def validate(self) -> None:
        """Raise :class:`~genphase.errors.ConfigError` naming ``analysis.<key>`` and the fix."""
        _need(_is_int(self.null_draws) and (self.null_draws == 0 or self.null_draws >= 20), "analysis.null_draws",
              f"must be 0 (no order-permutation null) or >= 20 (permutations averaged per checkpoint), "
              f"got {self.null_draws!r}")
        _need(_is_int(self.n_resamples) and self.n_resamples >= 0, "analysis.n_resamples",
              f"must be >= 0 (0 skips the intervals), got {self.n_resamples!r}")
        _need(isinstance(self.ci_level, (int, float)) and 0.0 < self.ci_level < 1.0, "analysis.ci_level",
              f"must be in (0, 1), e.g. 0.95, got {self.ci_level}")
        check_seed(self.seed, "analysis.seed", uses=2, why="a second bootstrap uses seed + 1")
        _need(self.early_stopping in STOP_RULES, "analysis.early_stopping",
              f"must be one of {', '.join(STOP_RULES)}, got {self.early_stopping!r}")


@dataclass
class Settings:
    """The three sections a measurement needs, validated together (a run's config: ``cfg.settings``).

    >>> Settings().validate()
    >>> Settings(analysis=AnalysisConfig(ci_level=95)).validate()
    Traceback (most recent call last):
    ...
    genphase.errors.ConfigError: config key 'analysis.ci_level': must be in (0, 1), e.g. 0.95, got 95
    """

    interactions: InteractionConfig = field(default_factory=InteractionConfig)
    baselines: BaselineConfig = field(default_factory=BaselineConfig)
    analysis: AnalysisConfig = field(default_factory=AnalysisConfig)

    def validate(self) -> None:
        """Each section's ``validate()``, in the order of a run's config."""
        for section, cls in (("baselines", BaselineConfig), ("interactions", InteractionConfig),
                             ("analysis", AnalysisConfig)):
            value = getattr(self, section)
            if not isinstance(value, cls):
                raise ConfigError(f"config section '{section}': expected a genphase.settings.{cls.__name__}, got "
                                  f"{type(value).__name__}")
            value.validate()
