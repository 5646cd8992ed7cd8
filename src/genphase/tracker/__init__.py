"""``genphase.Tracker``: measure the generalization power of a model's interactions inside the user's own training.

The tracker is built once, before training, with the explained samples (some from the training
data, some from the reference data, with labels), a masker (or ``n`` and the modality's default
masker), a value function and the baselines: either K trained models, or a model factory plus a
reference data set, from which it trains K baselines itself on first use (seeded, saved in the run
directory, reused by later runs of the same configuration).

``tracker.measure(model, step=epoch)`` then extracts the AND-OR interactions of every explained
sample through the one extraction path of ``genphase run`` (:func:`genphase.extraction.extract`), feeds
them to the one analysis engine (:class:`genphase.analysis.SeriesAnalysis`) and returns a small dict of
scalars (see :meth:`Tracker.measure`). The engine's tables and ``phases.json`` are written into a run
directory of the layout of :mod:`genphase.rundir` (docs/run-directory.md), so ``genphase report DIR``
works on it, and replaying a finished ``genphase run`` through a tracker gives its tables exactly.
``state_dict()`` / ``load_state_dict()`` make it resumable.

The settings are a run config's sections (:class:`genphase.settings.Settings`), checked at construction
with the same errors as a config. The verdict is the engine's (:func:`verdict_of` its phase report);
``phase_rule(training, h_bar, order_strengths) -> Verdict`` may replace it.

The integrations :mod:`genphase.integrations.lightning` and :mod:`genphase.integrations.transformers`
drive a tracker from PyTorch Lightning and the Hugging Face ``Trainer``.

The package: :mod:`.core` is the Tracker; :mod:`.verdict` reads the phase and the stop advice off the engine's report;
:mod:`.inputs`, :mod:`.forward` and :mod:`.baselines` take what the user gives (samples, models, reference
data) to what the shared extraction path and analysis engine take.
"""

from .core import CONFIDENCE, SCALAR_KEYS, Tracker
from .verdict import PhaseRule, Verdict, default_phase_rule, verdict_of

__all__ = ["Tracker", "Verdict", "PhaseRule", "default_phase_rule", "verdict_of", "SCALAR_KEYS", "CONFIDENCE"]
