"""Deprecated: what the stages and the driver shared now lives in modules named for their jobs:
:mod:`.devices`, :mod:`.data`, :mod:`.baselines`, :mod:`.models`, :mod:`.records`, and (the baselines'
tables and warnings) :mod:`genphase.analysis.engine`."""

from .._deprecated import moved

_HOMES = {
    "genphase.pipeline.devices": ("resolve_device", "default_threads", "set_threads"),
    "genphase.pipeline.data": ("SPLIT_ROLES", "VARIES_PER_SAMPLE", "load_data", "check_disjoint", "pick_samples",
                               "select_samples", "_take", "_data_fingerprint"),
    "genphase.pipeline.baselines": ("baseline_design", "baseline_data", "_adopt_baseline", "_write_baseline_data",
                                    "_read_baseline_data", "_kept_epoch"),
    "genphase.pipeline.models": ("build_model_for", "run_tokenizer", "_load", "_apply_state", "_inputs_for"),
    "genphase.pipeline.records": ("_check_out", "_prepare_dir", "_mark", "_Files"),
    "genphase.pipeline.hooks": ("_pause_point",),
    "genphase.analysis.engine": ("baseline_warnings", "BASELINE_ACCURACY_GAP"),
}
__getattr__ = moved(__name__, {n: f"{mod}:{n}" for mod, names in _HOMES.items() for n in names})
