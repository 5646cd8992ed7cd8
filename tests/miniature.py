"""The miniature real runs shared by the pipeline, report and CLI tests (built once per test session).

``MINI`` shrinks the digits preset to a run of a few seconds that still goes through every stage:
6 epochs (checkpoints 0, 2, 4, 6), K = 3 baselines of 4 epochs, 8 + 8 explained samples, n = 4
patches. Two settings differ from the preset on purpose, so that their wiring can be seen in the
output: ``data.label_noise=0.2`` (24 of the 120 training labels flipped) and ``interactions.tau=0.1``
(not the 0.05 default, so a pipeline that ignored the configured tau would be caught).

``TABULAR`` is the breast-cancer preset shrunk the same way (a non-image run for the report's bar charts).
"""

from __future__ import annotations

import shutil
from pathlib import Path

import numpy as np

from genphase.pipeline.config import RunConfig, load_config
from genphase.pipeline.run import run

TAU = 0.1
LABEL_NOISE = 0.2
TRAIN_SIZE = 120
M = 8  # explained samples per split (the bootstrap needs >= 8)
K = 3  # baselines
N_VARS = 4
EPOCHS = [0, 2, 4, 6]

MINI = ["training.epochs=6", "baselines.epochs=4", "checkpoints.schedule=every", "checkpoints.every=2",
        f"explain.samples={M}", f"variables.n={N_VARS}", f"data.train_size={TRAIN_SIZE}",
        f"data.label_noise={LABEL_NOISE}", f"interactions.tau={TAU}", "device=cpu", "checkpoints.refine=false"]
TABULAR = ["training.epochs=6", "baselines.epochs=4", "checkpoints.schedule=every", "checkpoints.every=2",
           f"explain.samples={M}", f"variables.n={N_VARS}", "device=cpu", "checkpoints.refine=false"]

#: metric tables that hold no timings: equal between an interrupted-and-resumed run and an uninterrupted one
TIMING_FREE = ["training", "samples", "h_bar", "order_strengths", "baseline_ablation", "removal_loss",
               "order_distribution", "jaccard", "phases"]


def mini_config(extra: list[str] | tuple[str, ...] = ()) -> RunConfig:
    return load_config("digits", [*MINI, *extra])


def build(root: Path, preset: str = "digits", overrides: list[str] = MINI, *, report: bool = True) -> Path:
    """Run the real pipeline on ``preset`` + ``overrides`` into ``root`` (removed first)."""
    shutil.rmtree(root, ignore_errors=True)
    return run(load_config(preset, overrides), root, log=lambda m: None, report=report)


def copy_run(src: Path, dst: Path) -> Path:
    """A private copy of a cached run directory (tests that modify a run work on one)."""
    shutil.copytree(src, dst)
    return dst


def run_data(run: Path):
    """The dataset (three splits) of a finished run, loaded again from its config.yaml."""
    from genphase.pipeline.run import load_data

    return load_data(load_config(str(run / "config.yaml")))


def data_sha(x, y) -> str:
    """docs/run-directory.md, manifest ``training_data``: SHA-256 of the input bytes, then the int64 labels."""
    import hashlib

    import numpy as np

    h = hashlib.sha256(np.ascontiguousarray(x).tobytes())
    h.update(np.ascontiguousarray(y, dtype=np.int64).tobytes())
    return h.hexdigest()


def merged_effects(res) -> np.ndarray:
    """``[B, 2, 2**n]`` effects, one-variable OR added to the AND of the same variable, empty set 0
    (written with a loop, independent of the package's merged view)."""
    a, o = res.and_effects.copy(), res.or_effects.copy()
    for i in range(res.n):
        a[:, 1 << i] += o[:, 1 << i]
        o[:, 1 << i] = 0.0
    a[:, 0] = o[:, 0] = 0.0
    return np.stack([a, o], axis=1)
