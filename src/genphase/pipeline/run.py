"""The main job: train with checkpoints, train K baselines (on the reference split, or cross-fitted),
extract AND-OR interactions of the explained samples at every checkpoint and for every baseline,
analyse, report.

Every stage writes its outputs atomically and is skipped when they exist, so running the same
command again resumes where a killed run stopped (see docs/run-directory.md). The stages are in
:mod:`genphase.pipeline.stages`, the driver that runs them as a graph in :mod:`genphase.pipeline.driver`;
the public names of devices, data, models and baselines are re-exported here, where they always were.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any, Callable

# re-exported here, where they always were importable from
from .baselines import baseline_data, baseline_design
from .config import RunConfig
from .data import SPLIT_ROLES, VARIES_PER_SAMPLE, check_disjoint, load_data, pick_samples, select_samples
from .devices import default_threads, resolve_device, set_threads
from .models import build_model_for, run_tokenizer

Log = Callable[[str], None]

__all__ = ["run", "resolve_device", "load_data", "check_disjoint", "SPLIT_ROLES", "VARIES_PER_SAMPLE", "build_model_for",
           "run_tokenizer", "pick_samples", "select_samples", "default_threads", "set_threads", "baseline_design",
           "baseline_data"]



def run(cfg: RunConfig, out: str | Path, *, log: Log = print, report: bool = True, threads: int | None = None,
        executor: Any = None) -> Path:
    """Run (or resume) the whole job into ``out``; return the run directory.

    ``threads``: torch CPU threads of every stage (default ``execution.threads``, 1; the same count gives
    the same numbers on every executor, whatever ``OMP_NUM_THREADS`` says). Every finished file is recorded in the manifest and checked
    before a resumed run uses it (see :mod:`genphase.pipeline.integrity`).

    The stages run as a graph (:mod:`genphase.pipeline.stages`) on ``executor`` (an
    :class:`~genphase.pipeline.executors.Executor`, left open), by default on the one ``cfg.executor``
    names (``local``: in this process; ``ray``: docs/scaling.md), started after the run directory is
    prepared and closed at the end.

    A full run trains models; here ``out`` is refused before anything is loaded or trained:

    >>> import tempfile
    >>> from genphase.pipeline.config import load_config
    >>> with tempfile.TemporaryDirectory() as tmp:
    ...     _ = (Path(tmp) / "notes.txt").write_text("not a run")
    ...     run(load_config("breast-cancer-mlp", quick=True), tmp, log=lambda msg: None)
    Traceback (most recent call last):
    ...
    genphase.errors.RunDirectoryError: '...' exists and is not a genphase run directory (no manifest.json); choose another --out
    """
    from .driver import RunPlan, make_executor, require_executor, run_plans

    name = executor.name if executor is not None else cfg.executor
    require_executor(name)
    plan = RunPlan(cfg, out, log=log, report=report, threads=threads, executor=name,
                   in_process=getattr(executor, "in_process", None) if executor is not None else None)
    try:
        ex = executor if executor is not None else make_executor(cfg)
        try:
            return run_plans([plan], ex, log=log)[0]
        finally:
            if executor is None:
                ex.close()
    finally:
        plan.close()  # the run directory's lock, however the run ended


def __getattr__(name: str):
    """``baseline_warnings`` and ``BASELINE_ACCURACY_GAP`` moved to :mod:`genphase.analysis.engine` (deprecated here)."""
    from .._deprecated import moved

    return moved(__name__, {n: f"genphase.analysis.engine:{n}" for n in ("baseline_warnings", "BASELINE_ACCURACY_GAP")})(name)
