"""Training, checkpoints, runs and storage of the main job (``genphase run``)."""

from .config import RunConfig, apply_overrides, config_hash, load_config
from .presets import PRESETS, preset_descriptions, preset_dict

__all__ = ["RunConfig", "load_config", "apply_overrides", "config_hash", "PRESETS", "preset_dict", "preset_descriptions", "run"]


def __getattr__(name: str):
    if name == "run":
        from .run import run

        return run
    raise AttributeError(name)
