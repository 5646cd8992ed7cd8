"""Tests of genphase.report: page content, figure files, robustness to missing inputs."""

from __future__ import annotations

import base64
import html
import re
from pathlib import Path

import numpy as np
import pandas as pd
import pytest
from matplotlib.figure import Figure

from genphase.interactions import AndOrInteractions
from genphase.report import CAPTIONS, FIGURE_SPECS, build_report, load_run, summarize_phases
from genphase.report.figures import (
    ExplainedSample,
    phase_spans,
    pick_checkpoints,
    pick_explained_samples,
    salient_interactions_figure,
)

IMG_RE = re.compile(r'<img src="data:image/png;base64,([A-Za-z0-9+/=]+)"')
PNG_MAGIC = b"\x89PNG\r\n\x1a\n"


def _imgs(page: str) -> list[bytes]:
    return [base64.b64decode(m) for m in IMG_RE.findall(page)]


def _check_captions(page: str) -> None:
    for key, caption in CAPTIONS.items():
        assert html.escape(caption, quote=False) in page, f"caption of {key} missing"


def test_full_report_image(run_factory) -> None:
    import torch

    run = run_factory(modality="image")
    out = build_report(run)
    assert out == run / "report.html" and out.is_file()
    page = out.read_text(encoding="utf-8")
    _check_captions(page)
    images = _imgs(page)
    assert len(images) == len(FIGURE_SPECS) == 8
    assert all(img.startswith(PNG_MAGIC) and len(img) > 2000 for img in images)
    assert "Figure skipped" not in page
    # self-contained: no external resources
    assert not re.search(r'(src|href)="(https?:|//|file:)', page)
    assert "<link" not in page and "<script" not in page and "<style>" in page
    # header content: the run's config and manifest, the phases.json summary, the guide
    for text in ('preset</td><td class="v">digits', "versions.torch", torch.__version__, "seeds.baselines",
                 "[1000, 1001, 1002]", "three phases (phase 2 observed)", "What to look for"):
        assert text in page, text
    figs = run / "figures"
    for spec in FIGURE_SPECS:
        png, pdf = figs / f"{spec.filename}.png", figs / f"{spec.filename}.pdf"
        assert png.read_bytes().startswith(PNG_MAGIC)
        assert pdf.read_bytes().startswith(b"%PDF")
    assert not [p for p in run.rglob("*.tmp")], "temporary files left behind"
    # no clear phases in the miniature run: Fig. 3/4 checkpoints are the 4 available ones, evenly spaced
    assert "Checkpoints: epochs 0, 2, 4, 6 (evenly spaced; no clear phases)" in page


def test_planted_phases_choose_the_checkpoints_and_the_shading(run_factory) -> None:
    # planted phase1 = 0-1, phase2 = 2-3, phase3 = 4-6 on checkpoints 0, 2, 4, 6: first -> 0, end of
    # phase 1 (1) -> the latest checkpoint at or before it, 0 (a duplicate, dropped), end of phase 2 (3)
    # -> 2, last -> 6
    run = run_factory(planted_phases=True)
    page = build_report(run).read_text(encoding="utf-8")
    assert "Checkpoints: epochs 0, 2, 6 (first, end of phase 1, end of phase 2, last)" in page
    assert "Shaded: phase1 (epochs 0-1), phase2 (epochs 2-3), phase3 (epochs 4-6)." in page
    assert '<span class="badge yes">yes</span>' in page
    assert "epoch 4" in page and "planted: the test loss stops improving at epoch 4" in page
    assert "phase1_end: 1, phase3_start: 4" in page


def test_tabular_modality_uses_bar_chart(run_factory) -> None:
    run = run_factory(modality="tabular")
    page = build_report(run).read_text(encoding="utf-8")
    assert len(_imgs(page)) == 8
    assert "modality tabular" in page and "top 8 interactions per sample" in page


def test_missing_tables_still_produce_a_page(run_factory) -> None:
    run = run_factory(missing=(
        "metrics/baseline_ablation.parquet",
        "metrics/removal_loss.parquet",
        "metrics/jaccard.parquet",
        "metrics/phases.parquet",
        "metrics/phases.json",
        "interactions",
        "manifest.json",
    ))
    page = build_report(run).read_text(encoding="utf-8")
    _check_captions(page)  # skipped figures keep their caption next to the note
    assert len(_imgs(page)) == 5  # training, h_bar, order strengths, evidence, order distribution (without Jaccard)
    assert page.count("Figure skipped") == 3
    assert "metrics/removal_loss.parquet is missing" in page
    assert "no clear phases" in page.lower()
    assert "jaccard.parquet is missing" in page
    figs = run / "figures"
    assert not (figs / "fig5_removal_loss.png").exists()
    assert (figs / "fig6_order_distribution.pdf").exists()


def test_nearly_empty_run_dir(tmp_path: Path) -> None:
    run = tmp_path / "bare"
    run.mkdir()
    page = build_report(run).read_text(encoding="utf-8")
    _check_captions(page)
    assert page.count("Figure skipped") == 8 and not _imgs(page)


def test_missing_run_dir_raises(tmp_path: Path) -> None:
    with pytest.raises(FileNotFoundError, match="run directory .*nope does not exist"):
        build_report(tmp_path / "nope")


def test_all_nan_h_bar_and_empty_phases(run_factory) -> None:
    run = run_factory(h_bar_all_nan=True)  # the miniature run's phases.parquet is empty (no clear phases)
    assert len(pd.read_parquet(run / "metrics" / "phases.parquet")) == 0
    page = build_report(run).read_text(encoding="utf-8")
    assert len(_imgs(page)) == 8
    assert "no clear phases" in page.lower()
    assert "evenly spaced; no clear phases" in page
    assert "64 of 64 sample values are NaN" in page  # 4 checkpoints x 16 explained samples


def test_rebuild_removes_stale_figures_and_overwrites(run_factory) -> None:
    run = run_factory()
    build_report(run)
    assert (run / "figures" / "fig4_baseline_ablation.png").exists()
    (run / "metrics" / "baseline_ablation.parquet").unlink()
    page = build_report(run).read_text(encoding="utf-8")
    assert not (run / "figures" / "fig4_baseline_ablation.png").exists()
    assert not (run / "figures" / "fig4_baseline_ablation.pdf").exists()
    assert len(_imgs(page)) == 7


def test_corrupt_table_is_a_note_not_a_crash(run_factory) -> None:
    run = run_factory()
    (run / "metrics" / "order_strengths.parquet").write_bytes(b"not parquet")
    pd.DataFrame({"checkpoint": [0], "split": ["train"]}).to_parquet(run / "metrics" / "removal_loss.parquet")
    page = build_report(run).read_text(encoding="utf-8")
    assert "order_strengths.parquet could not be read" in page
    assert "removal_loss.parquet lacks column(s) loss, loss_removed" in page
    assert len(_imgs(page)) == 6


def test_load_run_reports_problems(run_factory) -> None:
    run = run_factory(missing=("config.yaml", "explained"))
    data = load_run(run)
    assert data.config is None and data.samples is None
    assert any("config.yaml is missing" in p for p in data.problems)
    assert data.interactions is not None and data.interactions_epoch == 6  # the last checkpoint


def test_pick_checkpoints() -> None:
    ckpts = [0, 3, 6, 9, 12, 15, 18, 21, 24, 27, 30]
    phases = pd.DataFrame(dict(phase=["phase1", "phase2", "phase3"], start_epoch=[0, 8, 20], end_epoch=[7, 19, 30]))
    assert pick_checkpoints(ckpts, phases) == [0, 6, 18, 30]
    assert pick_checkpoints(ckpts, None) == [0, 9, 21, 30]
    assert pick_checkpoints([5, 6], None) == [5, 6]
    assert pick_checkpoints([], None) == []
    two_only = pd.DataFrame(dict(phase=["two_phase_1", "two_phase_2"], start_epoch=[0, 10], end_epoch=[9, 30]))
    assert pick_checkpoints(ckpts, two_only) == [0, 9, 21, 30]  # two-phase rows do not pick Fig. 2 checkpoints
    assert [s[0] for s in phase_spans(two_only, "three")] == ["two_phase_1", "two_phase_2"]  # fallback for shading


def test_summarize_phases_variants() -> None:
    s = summarize_phases({"clear": False, "recommendation": "no early stop", "reason": "flat H-bar"})
    assert (s.clear, s.recommendation, s.reason) == (False, "no early stop", "flat H-bar")
    s = summarize_phases({"early_stopping": {"stop_epoch": 12, "reason": "gap widens"}, "boundaries": [9, 21]})
    assert s.clear is None and s.recommendation == "epoch 12" and s.reason == "gap widens" and s.boundaries == "[9, 21]"
    assert summarize_phases(None).clear is None
    # the layout detect_phases writes: the phase message at top level, the stop epoch's own reason inside
    s = summarize_phases({"clear": False, "reason": "no clear phase structure",
                          "early_stopping": {"epoch": 6, "rule_epoch": 6, "rule": "phase3_start",
                                             "reason": "fallback: lowest smoothed test loss"}})
    assert s.reason == "no clear phase structure" and s.stop_reason == "fallback: lowest smoothed test loss"
    assert s.recommendation == "epoch 6; rule_epoch: 6, rule: phase3_start"


def test_salient_interactions_figure_without_io() -> None:
    rng = np.random.default_rng(1)
    a, o = rng.normal(size=(4, 16)), rng.normal(size=(4, 16))
    res = AndOrInteractions.from_effects(a, o, 0.0)
    picked = pick_explained_samples(res, ["train", "train", "test", "test"], top_k=3,
                                    inputs=rng.normal(size=(4, 3, 6, 6)), labels=np.arange(4))
    assert [p.split for p in picked] == ["train", "train", "test", "test"]
    assert all(len(p.top) == 3 for p in picked)
    boxes = [[0, 0, 3, 3], [0, 3, 3, 6], [3, 0, 6, 3], [3, 3, 6, 6]]
    fig = salient_interactions_figure(picked, modality="image", variable_names=list("abcd"), patch_boxes=boxes)
    assert isinstance(fig, Figure) and len(fig.axes) == 4 * 4
    bars = salient_interactions_figure(
        [ExplainedSample(index=0, split="train", top=res.top_k(5, sample=0))],
        modality="tabular", variable_names=["age", "income", "height", "weight"],
    )
    labels = [t.get_text() for t in bars.axes[0].get_yticklabels()]
    assert any("&" in lab or "|" in lab or lab.startswith(("AND", "OR")) for lab in labels)


def test_single_checkpoint_and_and_or_only_tables(run_factory) -> None:
    """One checkpoint everywhere, no type="all" rows and no accuracy column still draw every figure."""
    run = run_factory()
    metrics = run / "metrics"
    for name in ("h_bar", "order_strengths", "baseline_ablation", "removal_loss", "order_distribution", "jaccard"):
        df = pd.read_parquet(metrics / f"{name}.parquet")
        df = df[df["checkpoint"] == 6]
        if "type" in df.columns:
            df = df[df["type"] != "all"]
        df.to_parquet(metrics / f"{name}.parquet", index=False)
    pd.read_parquet(metrics / "training.parquet").drop(columns="accuracy").to_parquet(
        metrics / "training.parquet", index=False
    )
    page = build_report(run).read_text(encoding="utf-8")
    assert "Figure skipped" not in page
    assert len(_imgs(page)) == 8
    assert "Checkpoints: epochs 6 (" in page
