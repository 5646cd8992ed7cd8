"""``genphase study``: one preset run once per seed, and the interaction stop scored on held-out data.

Each seed is a normal, resumable run directory ``DIR/seed_<s>/`` (see docs/run-directory.md). Seed
``s`` shifts every seed of the configuration by ``s`` (``seed_config``): the data seed (which training
samples are kept, which labels are flipped, which held-out samples form the evaluation and reference
splits), the training seed (initialisation, batch order), the baselines' seeds (by ``s * K``, so no
two runs share a baseline), the explained samples, the input variables (e.g. which image patches) and
the bootstrap. Seed 0 is the preset itself. The loader's own train/test partition is not reseeded.

``DIR/study.json`` names the study (preset, ``--quick``, overrides, the base configuration's hash,
the seeds run so far); a directory holding another study is refused, so studies never mix.
``DIR/study.parquet`` has one row per finished seed (:data:`~genphase.analysis.evaluation.STUDY_COLUMNS`,
from :func:`~genphase.analysis.evaluation.study_row` on each run's ``metrics/phases.json`` and training
log, restricted to the checkpoints, then :data:`LABELWAVE_COLUMNS` from :func:`labelwave_row`) and ``DIR/study.html`` overlays the per-seed curves.
"""

from __future__ import annotations

import copy
import os
from pathlib import Path
from typing import Any, Callable, Sequence

import numpy as np

from .. import __version__
from ..errors import ConfigError, RunDirectoryError
from ..rundir.files import read_json, write_json, write_parquet
from ..settings import MAX_SEED
from .config import RunConfig, config_hash, load_config

__all__ = ["STUDY_FILE", "REPLICATION_FILE", "SWEEP_FILE", "VARY", "CLAIM_STUDY_COLUMNS", "check_vary", "check_sweep",
           "claims_row", "replication", "sweep", "DEFAULT_PATIENCE", "LABELWAVE_COLUMNS", "labelwave_row", "check_seeds", "seed_config", "study", "study_rows", "study_dir"]

#: The file that names a study directory's study.
STUDY_FILE = "study.json"
#: The file of a study's replication summary (:func:`replication`).
REPLICATION_FILE = "replication.json"
#: What ``--vary`` may name (:func:`seed_config`).
VARY: tuple[str, ...] = ("all", "model", "baselines", "samples")

#: Patience of the validation early stopping the interaction stop is compared with, in checkpoints.
DEFAULT_PATIENCE = 3

#: Columns ``study.parquet`` adds after :data:`~genphase.analysis.evaluation.STUDY_COLUMNS` (:func:`labelwave_row`).
LABELWAVE_COLUMNS: tuple[str, ...] = ("labelwave_stop_epoch", "labelwave_regret")
#: Then, per claim of ``claims.parquet``, its value and verdict at the last checkpoint (:func:`claims_row`).
CLAIM_STUDY_COLUMNS: tuple[str, ...] = tuple(f"{c}_{x}" for c in (
    "removal_closes_gap", "higher_orders_generalize_less", "h_bar_grows_with_k", "two_phase_turn_aligns_with_gap",
    "phase1_low_phase3_high", "fall_on_clean_samples") for x in ("value", "supported"))
#: The file of a sweep directory (:func:`sweep`), and its table.
SWEEP_FILE = "sweep.json"

Log = Callable[[str], None]


def labelwave_row(training: Any, checkpoints: Any, evaluation_split: str = "eval") -> dict[str, Any]:
    """The Label Wave columns of a ``study.parquet`` row from the model's training log.

    The stop is :func:`~genphase.analysis.label_wave_stop` on the prediction changes of every epoch (it
    needs no saved model to decide, only the training examples' predictions); ``labelwave_regret`` is the
    evaluation loss at that epoch minus the lowest evaluation loss over the checkpoints and that epoch, so
    it is measured against the same best as ``regret`` (the checkpoints) and is never negative.

    >>> import pandas as pd
    >>> log = pd.DataFrame({"epoch": [0, 1, 2, 3] * 2, "split": ["train"] * 4 + ["eval"] * 4,
    ...                     "loss": [2.0, 1.0, 0.5, 0.2, 2.0, 1.0, 1.2, 1.5],
    ...                     "prediction_changes": [None, 10, 12, 15, None, None, None, None]})
    >>> labelwave_row(log, [0, 2, 3])["labelwave_stop_epoch"]
    1
    """
    import numpy as np

    from ..analysis import label_wave_stop
    from ..analysis.evaluation import score_stop

    st = label_wave_stop(training)
    keep = {int(e) for e in np.asarray(checkpoints).reshape(-1)} | {int(st.epoch)}
    sc = score_stop(training[training["epoch"].isin(sorted(keep))], st.epoch, split=evaluation_split)
    return {"labelwave_stop_epoch": int(st.epoch), "labelwave_regret": float(sc.regret)}


def check_seeds(seeds: Any) -> list[int]:
    """The seeds as a list of ints >= 0; :class:`~genphase.errors.ConfigError` for none, duplicates or bad values.

    >>> check_seeds([0, 1, 2])
    [0, 1, 2]
    >>> check_seeds(["18446744073709551616"])
    Traceback (most recent call last):
    ...
    genphase.errors.ConfigError: --seeds: 18446744073709551616 is too large; seeds are integers in 0..4294967295 ...
    """
    if seeds is None or (hasattr(seeds, "__len__") and len(seeds) == 0):
        raise ConfigError("--seeds: no seeds given; name at least one, e.g. --seeds 0 1 2")
    out = []
    for s in seeds:
        if hasattr(s, "item") and getattr(s, "ndim", 0) == 0:
            s = s.item()
        if isinstance(s, str) and s.strip().isdigit():
            s = int(s.strip())
        if isinstance(s, bool) or not isinstance(s, (int, np.integer)) or int(s) < 0:
            raise ConfigError(f"--seeds: {s!r} is not a seed; seeds are integers >= 0, e.g. --seeds 0 1 2")
        if int(s) > MAX_SEED:
            raise ConfigError(f"--seeds: {int(s)} is too large; seeds are integers in 0..{MAX_SEED} (32-bit: numpy and "
                              "scikit-learn refuse larger ones), e.g. --seeds 0 1 2")
        out.append(int(s))
    dup = sorted({s for s in out if out.count(s) > 1})
    if dup:
        raise ConfigError(f"--seeds: seed(s) {dup} given twice; each seed is one run, name it once (e.g. --seeds 0 1 2)")
    return out


def check_vary(vary: Any) -> str:
    """``--vary``: which source of randomness a study's seeds change; :class:`~genphase.errors.ConfigError` otherwise.

    >>> check_vary("model")
    'model'
    >>> check_vary("data")
    Traceback (most recent call last):
    ...
    genphase.errors.ConfigError: --vary: 'data' is not a source of randomness genphase varies; use one of all, model, baselines, samples ...
    """
    if vary not in VARY:
        raise ConfigError(f"--vary: {vary!r} is not a source of randomness genphase varies; use one of {', '.join(VARY)} "
                          "(all: every seed of the configuration; model: the model's initialisation and batch order; "
                          "baselines: the baselines' seeds; samples: which samples are explained)")
    return str(vary)


def seed_config(base: RunConfig, seed: int, vary: str = "all") -> RunConfig:
    """``base`` with the seeds of ``vary`` shifted by ``seed``; seed 0 returns a copy.

    - ``all``: every seed (data split and label noise, training, baselines by ``seed * K`` so no two runs share a
      baseline, explained samples, variables, bootstrap).
    - ``model``: ``training.seed`` only (the model's initialisation and batch order).
    - ``baselines``: ``baselines.seed`` only (by ``seed * K``).
    - ``samples``: ``explain.seed`` only (which samples are explained).

    >>> from genphase.pipeline.config import load_config
    >>> cfg = seed_config(load_config("digits"), 2)
    >>> cfg.training.seed, cfg.data.seed, cfg.baselines.seed, cfg.explain.seed
    (2, 2, 1006, 2)
    >>> cfg = seed_config(load_config("digits"), 2, vary="model")
    >>> cfg.training.seed, cfg.data.seed, cfg.baselines.seed, cfg.explain.seed
    (2, 0, 1000, 0)
    """
    vary = check_vary(vary)
    cfg = copy.deepcopy(base)
    s = int(seed)
    if vary == "all":
        cfg.data.seed += s
        cfg.variables.seed += s
        cfg.analysis.seed += s
    if vary in ("all", "model"):
        cfg.training.seed += s
    if vary in ("all", "baselines"):
        cfg.baselines.seed += s * cfg.baselines.k
    if vary in ("all", "samples"):
        cfg.explain.seed += s
    cfg.validate()
    return cfg


def _seed_config(base: RunConfig, seed: int, vary: str = "all") -> RunConfig:
    """:func:`seed_config`, whose error names ``--seeds`` (the seed shifted a configured seed out of range)."""
    try:
        return seed_config(base, seed, vary)
    except ConfigError as exc:
        k = max(int(base.baselines.k), 1)
        largest = min(MAX_SEED - base.data.seed, MAX_SEED - base.training.seed, MAX_SEED - base.variables.seed,
                      MAX_SEED - 1 - base.explain.seed, MAX_SEED - 1 - base.analysis.seed,
                      (MAX_SEED - (k - 1) - base.baselines.seed) // k)
        raise ConfigError(f"--seeds: seed {seed} shifts the configuration's seeds out of range ({exc}); the largest "
                          f"seed this configuration takes is {largest}, e.g. --seeds 0 1 2") from exc


def study_dir(root: str | os.PathLike, seed: int) -> Path:
    """The run directory of ``seed`` inside a study directory.

    >>> study_dir("runs/study-digits", 3).as_posix()
    'runs/study-digits/seed_3'
    """
    return Path(root) / f"seed_{int(seed)}"


def _identity(preset: str, quick: bool, overrides: Sequence[str], base: RunConfig, vary: str = "all") -> dict[str, Any]:
    return {"preset": str(preset), "quick": bool(quick), "overrides": list(overrides), "base_config_hash": config_hash(base),
            "vary": vary}


def _claim(root: Path, ident: dict[str, Any], seeds: list[int]) -> dict[str, Any]:
    """Read or create ``root/study.json``; refuse a directory that holds anything else."""
    from .records import _check_out

    _check_out(root)
    path = root / STUDY_FILE
    if path.exists():
        info = read_json(path, fix=f"move {str(root)!r} away (or delete it) and rerun the study into a fresh --out")
        if not isinstance(info, dict) or "preset" not in info:
            raise RunDirectoryError(f"{str(path)!r} is not a genphase study file; choose another --out")
        theirs = {k: info.get(k, "all" if k == "vary" else None) for k in ident}  # studies before --vary: all
        if theirs != ident:
            diff = ", ".join(f"{k} {theirs[k]!r} (this study: {ident[k]!r})" for k in ident if theirs[k] != ident[k])
            raise RunDirectoryError(
                f"{str(root)!r} holds another study ({diff}); studies are never mixed: choose another --out")
        info["seeds"] = sorted(set(info.get("seeds", [])) | set(seeds))
    else:
        if root.exists() and any(root.iterdir()):
            raise RunDirectoryError(f"{str(root)!r} exists and is not a genphase study directory (no {STUDY_FILE}); "
                                    "choose another --out")
        info = {**ident, "genphase_version": __version__, "seeds": sorted(seeds)}
    root.mkdir(parents=True, exist_ok=True)
    write_json(path, info)
    return info


def claims_row(run_dir: str | os.PathLike) -> dict[str, Any]:
    """The claims columns of a ``study.parquet`` row (:data:`CLAIM_STUDY_COLUMNS`): per claim, its ``value`` and
    ``supported`` at the run's last checkpoint (per-run claims: their one row); None without ``claims.parquet``.

    >>> claims_row("nowhere")["removal_closes_gap_supported"] is None
    True
    """
    import pandas as pd

    from ..analysis.claims import CLAIMS

    out: dict[str, Any] = {c: None for c in CLAIM_STUDY_COLUMNS}
    path = Path(run_dir) / "metrics" / "claims.parquet"
    if not path.is_file():
        return out
    t = pd.read_parquet(path)
    for claim in CLAIMS:
        rows = t[t["claim"] == claim]
        if not len(rows):
            continue
        last = rows.iloc[-1] if rows["checkpoint"].isna().all() else rows.loc[rows["checkpoint"].idxmax()]
        out[f"{claim}_value"] = None if pd.isna(last["value"]) else float(last["value"])
        out[f"{claim}_supported"] = None if pd.isna(last["supported"]) else bool(last["supported"])
    return out


def study_rows(root: str | os.PathLike, seeds: Sequence[int], preset: str, *, patience: int = DEFAULT_PATIENCE) -> Any:
    """``study.parquet``'s frame: one row per seed whose run finished its analysis, from the run directories.

    Seeds without a finished run are left out (here: none has run), the columns stay:

    >>> import tempfile
    >>> from genphase.analysis.evaluation import STUDY_COLUMNS
    >>> with tempfile.TemporaryDirectory() as tmp:
    ...     frame = study_rows(tmp, [0, 1], "digits")
    >>> len(frame), list(frame.columns) == [*STUDY_COLUMNS, *LABELWAVE_COLUMNS, *CLAIM_STUDY_COLUMNS]
    (0, True)
    """
    import pandas as pd

    from ..analysis.evaluation import STUDY_COLUMNS, study_row

    rows = []
    for s in sorted(seeds):
        run_dir = study_dir(root, s)
        man_path = run_dir / "manifest.json"
        if not man_path.exists() or (read_json(man_path).get("stages") or {}).get("analysis") != "done":
            continue
        phases = read_json(run_dir / "metrics" / "phases.json")
        training = pd.read_parquet(run_dir / "metrics" / "training.parquet")
        training = training[training["model"] == "model"]
        checkpoints = pd.read_parquet(run_dir / "metrics" / "h_bar.parquet", columns=["checkpoint"])["checkpoint"].unique()
        row = study_row(phases, training, preset=preset, seed=s, patience=patience, epochs=checkpoints)
        rows.append({**row, **labelwave_row(training, checkpoints), **claims_row(run_dir)})
    frame = pd.DataFrame(rows, columns=[*STUDY_COLUMNS, *LABELWAVE_COLUMNS, *CLAIM_STUDY_COLUMNS])
    for col in ("clear", "three_phases"):
        frame[col] = frame[col].astype(bool)
    return frame


def replication(root: str | os.PathLike, frame: Any, vary: str = "all") -> dict[str, Any]:
    """``replication.json``: how much the verdict moves between seeds, beside the within-run intervals.

    ``frame``: ``study.parquet``'s rows. Keys: ``vary``, ``n_seeds`` (seeds with a finished analysis),
    ``three_phase_share`` (share of them with resolved three phases, ``phases.json`` ``three_phases``),
    ``boundaries``: for ``phase1_end``, ``phase3_start`` and ``stop``, the between-seed ``median``, ``min``,
    ``max`` and ``sd`` (over the seeds where it was found; ``n_found``) and ``bootstrap_width``, the median width
    of the within-run bootstrap intervals; ``peak_h_bar_sd`` and ``final_h_bar_sd``, the between-seed SD of the
    peak and the final mean H-bar of the training samples (``metrics/h_bar_summary.parquet``), with ``peak_h_bar`` and
    ``final_h_bar`` per seed. SDs are sample SDs (ddof 1), None with fewer than 2 values.

    >>> import pandas as pd
    >>> rows = pd.DataFrame({"seed": [0, 1], "three_phases": [True, False], "phase1_end": [5, 3],
    ...                      "phase1_end_ci_low": [5, 3], "phase1_end_ci_high": [5, 5], "phase3_start": [8, None],
    ...                      "phase3_start_ci_low": [8, None], "phase3_start_ci_high": [8, None], "stop_epoch": [8, 60],
    ...                      "stop_ci_low": [8, 40], "stop_ci_high": [8, 60]})
    >>> r = replication("nowhere", rows, "model")
    >>> r["three_phase_share"], r["boundaries"]["phase1_end"]["median"], r["boundaries"]["stop"]["bootstrap_width"]
    (0.5, 4.0, 10.0)
    """
    import pandas as pd

    def spread(values: Any) -> dict[str, Any]:
        v = pd.to_numeric(pd.Series(values), errors="coerce").dropna().to_numpy(dtype=float)
        return {"median": float(np.median(v)) if v.size else None, "min": float(v.min()) if v.size else None,
                "max": float(v.max()) if v.size else None, "sd": float(v.std(ddof=1)) if v.size >= 2 else None,
                "n_found": int(v.size)}

    def width(lo: str, hi: str) -> float | None:
        if lo not in frame.columns:
            return None
        w = (pd.to_numeric(frame[hi], errors="coerce") - pd.to_numeric(frame[lo], errors="coerce")).dropna()
        return float(w.median()) if len(w) else None

    bounds = {}
    for name, col, lo, hi in (("phase1_end", "phase1_end", "phase1_end_ci_low", "phase1_end_ci_high"),
                              ("phase3_start", "phase3_start", "phase3_start_ci_low", "phase3_start_ci_high"),
                              ("stop", "stop_epoch", "stop_ci_low", "stop_ci_high")):
        bounds[name] = {**spread(frame[col] if col in frame.columns else []), "bootstrap_width": width(lo, hi)}
    peaks, finals = {}, {}
    for s in frame["seed"].tolist() if "seed" in frame.columns else []:
        path = study_dir(root, int(s)) / "metrics" / "h_bar_summary.parquet"
        if path.is_file():
            summ = pd.read_parquet(path)
            tr = summ[summ["split"] == "train"].sort_values("checkpoint")
            if len(tr):
                peaks[int(s)], finals[int(s)] = float(tr["mean"].max()), float(tr["mean"].iloc[-1])
    n = int(len(frame))
    share = float(frame["three_phases"].astype(bool).mean()) if n and "three_phases" in frame.columns else None
    return {"vary": vary, "n_seeds": n, "three_phase_share": share, "boundaries": bounds,
            "peak_h_bar_sd": spread(list(peaks.values()))["sd"], "final_h_bar_sd": spread(list(finals.values()))["sd"],
            "peak_h_bar": peaks, "final_h_bar": finals}


def study(
    preset: str,
    seeds: Sequence[int],
    *,
    quick: bool = False,
    out: str | os.PathLike | None = None,
    overrides: Sequence[str] = (),
    patience: int = DEFAULT_PATIENCE,
    log: Log = print,
    report: bool = True,
    threads: int | None = None,
    executor: str | None = None,
    ray_address: str | None = None,
    shared_path: str | os.PathLike | None = None,
    vary: str = "all",
) -> Path:
    """Run ``preset`` once per seed into ``out/seed_<s>/`` (resumable) and write ``study.parquet``, ``replication.json``
    (:func:`replication`) and ``study.html``.

    ``vary``: which source of randomness the seeds change (:func:`seed_config`: all, model, baselines, samples).

    ``preset``: a preset name or a YAML config (as ``genphase run``); ``overrides``: ``key=value``
    applied to every seed; ``patience``: of the validation early stopping compared with (checkpoints).
    Returns the study directory (default ``runs/study-<preset>[-quick]``).

    All seeds' stages run as one graph on the executor of the configuration, or ``executor``
    (``local`` or ``ray``; ``ray_address``, ``shared_path``: docs/scaling.md).

    A one-seed study of a tiny breast-cancer run (2 epochs, K = 2; about a second), without its page:

    >>> import shutil, tempfile
    >>> import pandas as pd
    >>> tiny = ["training.epochs=2", "checkpoints.schedule=every", "baselines.k=2", "baselines.epochs=2",
    ...         "explain.samples=8", "variables.n=4", "analysis.n_resamples=0"]
    >>> d = Path(tempfile.mkdtemp())
    >>> root = study("breast-cancer-mlp", [0], out=d / "study", overrides=tiny, log=lambda line: None, report=False)
    >>> sorted(p.name for p in root.iterdir())
    ['replication.json', 'seed_0', 'study.json', 'study.parquet']
    >>> pd.read_parquet(root / "study.parquet")[["preset", "seed", "patience"]].values.tolist()
    [['breast-cancer-mlp', 0, 3]]
    >>> study("breast-cancer-mlp", [0, 0], out=d / "other", log=lambda line: None)
    Traceback (most recent call last):
    ...
    genphase.errors.ConfigError: --seeds: seed(s) [0] given twice; each seed is one run, name it once (e.g. --seeds 0 1 2)
    >>> shutil.rmtree(d)
    """
    from .driver import RunPlan, make_executor, require_executor, run_plans, with_execution

    seeds = check_seeds(seeds)
    vary = check_vary(vary)
    if isinstance(patience, bool) or not isinstance(patience, (int, np.integer)) or patience < 1:
        raise ConfigError(f"--patience must be an integer >= 1 (checkpoints without improvement), got {patience!r}")
    overrides = list(overrides)
    base = with_execution(load_config(preset, overrides, quick=quick), executor, ray_address,
                          None if shared_path is None else str(shared_path))
    name = Path(preset).stem if str(preset).endswith((".yaml", ".yml")) else str(preset)
    root = Path(out) if out is not None else Path("runs") / f"study-{name}{'-quick' if quick else ''}"
    require_executor(base.executor)  # before the study directory is claimed
    cfgs = {s: _seed_config(base, s, vary) for s in seeds}  # all validated before any run starts
    info = _claim(root, _identity(str(preset), quick, overrides, base, vary), seeds)
    plans = []
    try:
        for i, s in enumerate(seeds):
            log(f"study {name}{' --quick' if quick else ''}{'' if vary == 'all' else f' --vary {vary}'}: seed {s} "
                f"({i + 1}/{len(seeds)}) -> {study_dir(root, s)}")
            plans.append(RunPlan(cfgs[s], study_dir(root, s), log=log, report=report, threads=threads,
                                 executor=base.executor, prefix=f"seed_{s}/", store=f"seed_{s}"))
        ex = make_executor(base)
        try:
            run_plans(plans, ex, log=log)
        finally:
            ex.close()
    finally:
        for plan in plans:  # each seed's run-directory lock, however the study ended
            plan.close()
    frame = study_rows(root, info["seeds"], name, patience=patience)
    write_parquet(root / "study.parquet", frame)
    write_json(root / REPLICATION_FILE, replication(root, frame, vary))
    if report:
        from ..report.study import build_study_report

        build_study_report(root)
    return root


def check_sweep(spec: str, preset: str, overrides: Sequence[str] = (), quick: bool = False) -> tuple[str, list[str]]:
    """``--sweep KEY=V1,V2,...``: the key and its values, each checked by loading the configuration with it, so a
    key that does not exist or a value of the wrong type is refused before anything trains.

    >>> check_sweep("interactions.tau=0.02,0.05", "digits")
    ('interactions.tau', ['0.02', '0.05'])
    >>> check_sweep("interactions.taus=0.1,0.2", "digits")
    Traceback (most recent call last):
    ...
    genphase.errors.ConfigError: --sweep interactions.taus=0.1: ...
    """
    if not isinstance(spec, str) or "=" not in spec:
        raise ConfigError(f"--sweep {spec!r}: give one key and its values, e.g. --sweep interactions.tau=0.02,0.05,0.1")
    key, _, raw = spec.partition("=")
    key = key.strip()
    values = [v.strip() for v in raw.split(",") if v.strip()]
    if not key or len(values) < 2:
        raise ConfigError(f"--sweep {spec!r}: name one config key and at least two values, e.g. "
                          "--sweep interactions.tau=0.02,0.05,0.1")
    if len(set(values)) != len(values):
        raise ConfigError(f"--sweep {spec!r}: a value is given twice; name each once")
    for v in values:
        try:
            load_config(preset, [*overrides, f"{key}={v}"], quick=quick)
        except ConfigError as exc:
            raise ConfigError(f"--sweep {key}={v}: {exc}") from exc
    return key, values


def sweep(preset: str, seeds: Sequence[int], spec: str, *, quick: bool = False, out: str | os.PathLike | None = None,
          overrides: Sequence[str] = (), log: Log = print, report: bool = True, **kw: Any) -> Path:
    """``genphase study ... --sweep KEY=V1,V2``: one study per value (``out/KEY=V/``, each a normal study directory),
    then ``out/sweep.parquet``: every study's rows with ``sweep_key`` and ``sweep_value`` in front (the verdict, the
    boundaries, the stop and the claims per value and seed), and ``out/sweep.json``.

    Every value is checked (:func:`check_sweep`) before anything runs:

    >>> sweep("digits", [0], "interactions.tau=0.1,abc", out="nowhere")
    Traceback (most recent call last):
    ...
    genphase.errors.ConfigError: --sweep interactions.tau=abc: ...
    """
    import pandas as pd

    key, values = check_sweep(spec, preset, overrides, quick)
    seeds = check_seeds(seeds)
    name = Path(preset).stem if str(preset).endswith((".yaml", ".yml")) else str(preset)
    root = Path(out) if out is not None else Path("runs") / f"sweep-{name}-{key}"
    info_path = root / SWEEP_FILE
    ident = {"preset": str(preset), "quick": bool(quick), "overrides": list(overrides), "key": key, "values": values}
    if info_path.is_file():
        theirs = read_json(info_path)
        if {k: theirs.get(k) for k in ident} != ident:
            raise RunDirectoryError(f"{str(root)!r} holds another sweep; choose another --out")
    elif root.exists() and any(root.iterdir()):
        raise RunDirectoryError(f"{str(root)!r} exists and is not a genphase sweep directory; choose another --out")
    root.mkdir(parents=True, exist_ok=True)
    write_json(info_path, {**ident, "seeds": sorted(set(seeds) | set(read_json(info_path).get("seeds", [])
                                                                       if info_path.is_file() else []))})
    frames = []
    for v in values:
        log(f"sweep {key}: {v}")
        sub = study(preset, seeds, quick=quick, out=root / f"{key}={v}", overrides=[*overrides, f"{key}={v}"], log=log,
                    report=report, **kw)
        f = pd.read_parquet(sub / "study.parquet")
        f.insert(0, "sweep_value", v)
        f.insert(0, "sweep_key", key)
        frames.append(f)
    write_parquet(root / "sweep.parquet", pd.concat(frames, ignore_index=True))
    return root
