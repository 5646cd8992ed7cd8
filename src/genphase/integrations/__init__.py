"""Training-loop integrations of :class:`genphase.Tracker`.

* :mod:`genphase.integrations.lightning` -- :class:`~genphase.integrations.lightning.GenphaseCallback`
  for PyTorch Lightning (extra ``genphase[lightning]``).
* :mod:`genphase.integrations.transformers` --
  :class:`~genphase.integrations.transformers.GenphaseTrainerCallback` for the Hugging Face
  ``Trainer`` (extra ``genphase[transformers]``).

Neither framework is imported by ``import genphase``; importing one of these modules without its
extra raises :class:`~genphase.errors.MissingDependencyError` with the ``pip install`` line.
"""

__all__: list[str] = []
