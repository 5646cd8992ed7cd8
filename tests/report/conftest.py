"""Run directories for the report tests: copies of the real miniature runs written by the pipeline.

The runs themselves are built once per session (fixtures ``mini_run`` and ``tabular_run`` of
tests/conftest.py, settings in tests/miniature.py); each test gets a private copy, optionally with
files removed or tables altered to exercise the report's handling of missing or odd inputs.
"""

from __future__ import annotations

import json
import shutil
from pathlib import Path
from typing import Callable

import miniature
import numpy as np
import pandas as pd
import pytest

#: phases planted by ``planted_phases=True`` (the miniature run itself has no clear phases)
PLANTED = pd.DataFrame(dict(phase=["phase1", "phase2", "phase3"], start_epoch=[0, 2, 4], end_epoch=[1, 3, 6]))


def make_run_dir(
    source: Path,
    root: Path,
    *,
    missing: tuple[str, ...] = (),
    h_bar_all_nan: bool = False,
    planted_phases: bool = False,
) -> Path:
    """A copy of the real run ``source`` under ``root``, then altered.

    ``missing`` names files or folders to remove, relative to the run dir (e.g. ``"metrics/jaccard.parquet"``,
    ``"interactions"``); ``h_bar_all_nan`` sets every H-bar to NaN; ``planted_phases`` writes the
    clear three phases of :data:`PLANTED` into phases.parquet and phases.json.
    """
    run = miniature.copy_run(source, root / "run")
    for p in ("report.html", "figures"):  # a fresh report is built by each test
        q = run / p
        shutil.rmtree(q) if q.is_dir() else q.unlink(missing_ok=True)
    metrics = run / "metrics"
    if h_bar_all_nan:
        df = pd.read_parquet(metrics / "h_bar.parquet")
        df["h_bar"] = np.nan
        df.to_parquet(metrics / "h_bar.parquet", index=False)
    if planted_phases:
        PLANTED.to_parquet(metrics / "phases.parquet", index=False)
        info = json.loads((metrics / "phases.json").read_text())
        info.update(clear=True, reason="planted: H-bar peaks at epoch 1", message="planted: H-bar peaks at epoch 1",
                    phases=PLANTED.to_dict("records"), boundaries={"phase1_end": 1, "phase3_start": 4},
                    early_stopping={"epoch": 4, "rule_epoch": 4, "rule": "phase3_start",
                                    "reason": "planted: the test loss stops improving at epoch 4"})
        (metrics / "phases.json").write_text(json.dumps(info))
    for rel in missing:
        p = run / rel
        shutil.rmtree(p) if p.is_dir() else p.unlink()
    return run


@pytest.fixture
def run_factory(tmp_path: Path, mini_run: Path, request) -> Callable[..., Path]:
    """``run_factory(modality="image"|"tabular", **kwargs)`` -> a private copy of a real run (see :func:`make_run_dir`)."""
    counter = iter(range(1000))

    def make(modality: str = "image", **kwargs) -> Path:
        source = mini_run if modality == "image" else request.getfixturevalue("tabular_run")
        root = tmp_path / f"r{next(counter)}"
        root.mkdir()
        return make_run_dir(source, root, **kwargs)

    return make
