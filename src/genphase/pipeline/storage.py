"""Deprecated: the run directory's files moved to :mod:`genphase.rundir` (``files`` and ``layout``)."""

from .._deprecated import moved

__getattr__ = moved(__name__, {
    **{n: f"genphase.rundir.files:{n}" for n in ("atomic_write", "write_json", "read_json", "write_parquet", "save_torch")},
    "RunPaths": "genphase.rundir.layout:RunPaths",
})
