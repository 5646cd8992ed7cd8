"""A synthetic run directory (docs/run-directory.md) for the report tests."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Callable

import numpy as np
import pandas as pd
import pytest

from genphase.interactions import AndOrInteractions

N_VARS = 4
EPOCHS = list(range(0, 31, 3))  # checkpoints 0, 3, ..., 30
TRAIN_EPOCHS = list(range(0, 31))
M = 3  # explained samples per split
K = 3  # baseline DNNs


def _orders(n: int) -> np.ndarray:
    return np.array([bin(s).count("1") for s in range(1 << n)])


def _write_parquet(path: Path, rows: list[dict] | pd.DataFrame) -> None:
    path.parent.mkdir(parents=True, exist_ok=True)
    df = rows if isinstance(rows, pd.DataFrame) else pd.DataFrame(rows)
    df.to_parquet(path, index=False)


def _interactions(rng: np.random.Generator, scale: float) -> AndOrInteractions:
    size = 1 << N_VARS
    a = rng.normal(0, 1, (2 * M, size)) * scale
    o = rng.normal(0, 0.5, (2 * M, size)) * scale
    a[:, 0] = o[:, 0] = 0.0
    a[:, 3] = 2.5  # a strong positive AND {x0, x1}
    o[:, 12] = -1.5  # a strong negative OR {x2, x3}
    return AndOrInteractions.from_effects(a, o, rng.normal(0, 0.1, 2 * M))


def make_run_dir(
    root: Path,
    *,
    modality: str = "image",
    missing: tuple[str, ...] = (),
    h_bar_all_nan: bool = False,
    empty_phases: bool = False,
) -> Path:
    """Write a complete synthetic run directory under ``root`` and return it.

    ``missing`` names files to leave out, relative to the run dir (e.g. ``"metrics/jaccard.parquet"``,
    ``"interactions"``, ``"metrics/phases.json"``).
    """
    rng = np.random.default_rng(0)
    run = root / "run"
    metrics = run / "metrics"
    metrics.mkdir(parents=True)
    splits = ["train"] * M + ["test"] * M
    labels = np.array([0, 1, 0, 1, 0, 1])
    samples = list(range(2 * M))

    (run / "config.yaml").write_text(
        "preset: mnist-lenet\nseed: 7\nmodel:\n  name: lenet\n  width: 32\n"
        "training:\n  epochs: 30\n  lr: 0.01\n  optimizer: sgd\ninteractions:\n  n_variables: 4\n  tau: 0.05\n"
        "  solver: admm\nbaselines:\n  count: 3\n",
        encoding="utf-8",
    )
    (run / "manifest.json").write_text(
        json.dumps(
            {
                "versions": {"genphase": "0.1.0", "torch": "2.13.0", "numpy": "2.1.0"},
                "seeds": {"model": 7, "baselines": [11, 12, 13], "samples": 3},
                "config_hash": "abc123",
                "stages": ["train", "extract", "metrics"],
            }
        ),
        encoding="utf-8",
    )

    # training.parquet
    rows = []
    for model in ("model", "baseline_0"):
        for e in TRAIN_EPOCHS:
            tr = 2.3 * np.exp(-e / 6) + 0.02
            te = 2.3 * np.exp(-e / 8) + 0.4 + 0.01 * max(0, e - 20)
            rows.append(dict(model=model, epoch=e, split="train", loss=tr, accuracy=1 - 0.9 * np.exp(-e / 5)))
            rows.append(dict(model=model, epoch=e, split="test", loss=te, accuracy=0.85 - 0.75 * np.exp(-e / 6)))
    _write_parquet(metrics / "training.parquet", rows)
    _write_parquet(
        metrics / "samples.parquet",
        dict(sample=samples, split=splits, dataset_index=[10 * i for i in samples], label=labels.tolist()),
    )

    # h_bar.parquet: rises to epoch 9, then falls; a few NaN
    rows = []
    for c in EPOCHS:
        base = 0.2 + 0.6 * min(c, 9) / 9 - 0.4 * max(0, c - 9) / 21
        for s in samples:
            val = np.nan if h_bar_all_nan or (c == 0 and s == 0) or (c == 3 and s >= M) else base + rng.normal(0, 0.05)
            rows.append(dict(checkpoint=c, sample=s, split=splits[s], h_bar=val))
    _write_parquet(metrics / "h_bar.parquet", rows)

    # order_strengths.parquet
    rows = []
    for c in EPOCHS:
        for s in samples:
            for typ in ("and", "or", "all"):
                for m in range(1, N_VARS + 1):
                    w = 1.0 if typ == "all" else 0.5
                    tot_p = w * (1 + c / 10) / m
                    tot_n = -w * 0.6 * (1 + c / 15) / m
                    frac = max(0.0, 1 - 0.2 * m)
                    rows.append(dict(checkpoint=c, sample=s, split=splits[s], type=typ, order=m, sign="+",
                                     total=tot_p, generalizable=tot_p * frac))
                    rows.append(dict(checkpoint=c, sample=s, split=splits[s], type=typ, order=m, sign="-",
                                     total=tot_n, generalizable=tot_n * frac))
    _write_parquet(metrics / "order_strengths.parquet", rows)

    rows = [
        dict(checkpoint=c, k=k, sample=s, split=splits[s], h_bar=min(1.0, 0.3 + 0.15 * k + 0.01 * c))
        for c in EPOCHS for k in range(1, K + 1) for s in samples
    ]
    _write_parquet(metrics / "baseline_ablation.parquet", rows)

    rows = []
    for c in EPOCHS:
        for s in samples:
            v = 0.5 + 0.2 * c if splits[s] == "train" else 0.5 + 0.08 * c
            vt = v - (0.1 * c if splits[s] == "train" else 0.01 * c)
            rows.append(dict(checkpoint=c, sample=s, split=splits[s], label=int(labels[s]), v=v, v_tilde=vt,
                             loss=float(np.log1p(np.exp(-v))), loss_removed=float(np.log1p(np.exp(-vt)))))
    _write_parquet(metrics / "removal_loss.parquet", rows)

    rows = []
    for c in EPOCHS:
        for split in ("train", "test"):
            for typ in ("and", "or", "all"):
                strengths = {}
                for m in range(1, N_VARS + 1):
                    spindle = np.exp(-((m - 2.5) ** 2)) * np.exp(-c / 10)
                    learned = (1 - np.exp(-c / (3 * m)))
                    strengths[(m, "+")] = spindle + learned
                    strengths[(m, "-")] = -(spindle + 0.3 * learned)
                total = sum(abs(x) for x in strengths.values())
                for (m, sign), val in strengths.items():
                    rows.append(dict(checkpoint=c, split=split, type=typ, order=m, sign=sign, strength=val,
                                     strength_rel=val / 2.0, strength_share=abs(val) / total))
    _write_parquet(metrics / "order_distribution.parquet", rows)

    rows = [dict(checkpoint=c, type=typ, order=m, jaccard=float(np.clip(0.9 - 0.15 * m - 0.005 * c, 0, 1)))
            for c in EPOCHS for typ in ("and", "or", "all") for m in range(1, N_VARS + 1)]
    _write_parquet(metrics / "jaccard.parquet", rows)

    if empty_phases:
        phases = pd.DataFrame({"phase": pd.Series([], dtype=str), "start_epoch": pd.Series([], dtype="int64"),
                               "end_epoch": pd.Series([], dtype="int64")})
        info = {"clear": False, "boundaries": {}, "recommendation": None, "reason": "H-bar has no clear peak"}
    else:
        phases = pd.DataFrame(dict(
            phase=["phase1", "phase2", "phase3", "two_phase_1", "two_phase_2"],
            start_epoch=[0, 10, 22, 0, 13],
            end_epoch=[9, 21, 30, 12, 30],
        ))
        info = {
            "clear": True,
            "boundaries": {"phase1_end": 9, "phase3_start": 22},
            "recommendation": {"epoch": 21, "reason": "test loss stops improving after epoch 21"},
            "evidence": {"h_bar_peak_epoch": 9},
        }
    _write_parquet(metrics / "phases.parquet", phases)
    (metrics / "phases.json").write_text(json.dumps(info), encoding="utf-8")

    # explained samples
    exp = run / "explained"
    exp.mkdir()
    if modality == "image":
        inputs = rng.normal(0, 1, (2 * M, 1, 8, 8)).astype(np.float32)
        inputs[:, :, 2:6, 2:6] += 3.0
        variables = dict(names=[f"patch{i}" for i in range(N_VARS)], modality="image",
                         patch_boxes=[[0, 0, 4, 4], [0, 4, 4, 8], [4, 0, 8, 4], [4, 4, 8, 8]], image_shape=[1, 8, 8])
    else:
        inputs = rng.normal(0, 1, (2 * M, N_VARS)).astype(np.float32)
        variables = dict(names=["good", "morning", "not", "bad"], modality=modality)
    np.savez(exp / "samples.npz", inputs=inputs, labels=labels, split=np.array(splits),
             dataset_index=np.array([10 * i for i in samples]))
    (exp / "variables.json").write_text(json.dumps(variables), encoding="utf-8")

    inter = run / "interactions" / "model"
    inter.mkdir(parents=True)
    for e, scale in ((0, 1.0), (30, 0.2)):
        res = _interactions(rng, scale)
        path = inter / f"epoch_{e:04d}.npz"
        res.save(path)

    import shutil

    for rel in missing:
        p = run / rel
        if p.is_dir():
            shutil.rmtree(p)
        else:
            p.unlink()
    return run


@pytest.fixture
def run_factory(tmp_path: Path) -> Callable[..., Path]:
    """``run_factory(**kwargs)`` -> a fresh synthetic run directory (see :func:`make_run_dir`)."""
    counter = iter(range(1000))

    def make(**kwargs) -> Path:
        root = tmp_path / f"r{next(counter)}"
        root.mkdir()
        return make_run_dir(root, **kwargs)

    return make
