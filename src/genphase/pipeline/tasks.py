"""Deprecated: the modality adapters moved to :mod:`genphase.pipeline.modality` (``Task`` is now ``Modality``)."""

from .._deprecated import moved

__getattr__ = moved(__name__, {"Task": "genphase.pipeline.modality:Modality",
                               "ArrayTask": "genphase.pipeline.modality:ArrayModality",
                               "TextTask": "genphase.pipeline.modality:TextModality",
                               "make_task": "genphase.pipeline.modality:make_modality"})
