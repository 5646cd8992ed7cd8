"""The report leads with the answer (issue 28): the verdict with its intervals, the chance level, the replication
status and the H-bar figure first; the claims table; the other figures; configuration and manifest last, collapsed,
without the per-file hash table. Optional inputs (``h_bar_null``, ``claims``, ``replication.json``) are drawn from
small fixture tables in their schemas; a run without them says which section is unavailable and why."""

from __future__ import annotations

import json
import re
from pathlib import Path

import numpy as np
import pandas as pd
from minirun import copy_run, tiny_run_dir
from typer.testing import CliRunner

from genphase.cli import app
from genphase.report.data import check_records, load_run
from genphase.report.figures import h_bar_figure
from genphase.report.html import SECTION_ORDER
from genphase.rundir.records import record_file


def _report(run: Path) -> tuple[list[str], str]:
    r = CliRunner().invoke(app, ["report", str(run)])
    assert r.exit_code == 0, r.output
    return [ln for ln in r.stderr.splitlines() if ln.strip()], (run / "report.html").read_text(encoding="utf-8")


def _positions(page: str) -> list[int]:
    return [page.index(f'id="{ident}"') for ident in SECTION_ORDER]


def _add_table(run: Path, name: str, df: pd.DataFrame) -> None:
    """Write ``metrics/<name>.parquet`` and record it in manifest.json, as a run that made it would."""
    path = run / "metrics" / f"{name}.parquet"
    df.to_parquet(path, index=False)
    man = json.loads((run / "manifest.json").read_text())
    record_file(man, run, path, {"kind": "table", "name": name})
    (run / "manifest.json").write_text(json.dumps(man))


def _fixtures(run: Path) -> dict:
    """h_bar_null, claims, above_null columns of h_bar_summary and replication.json, in their schemas."""
    summary = pd.read_parquet(run / "metrics" / "h_bar_summary.parquet")
    ckpts = sorted(summary["checkpoint"].unique().tolist())
    rows = [dict(checkpoint=c, split=s, null=n, mean=m, ci_low=m - 0.05, ci_high=m + 0.05)
            for c in ckpts for s in ("train", "test")
            for n, m in (("order_permutation", 0.21), ("permuted_labels", 0.12))]
    _add_table(run, "h_bar_null", pd.DataFrame(rows))
    summary = summary.assign(above_null=summary["mean"] - 0.21, above_null_ci_low=summary["mean"] - 0.3,
                             above_null_ci_high=summary["mean"] - 0.1, above_null_labels=summary["mean"] - 0.12,
                             above_null_labels_ci_low=summary["mean"] - 0.2,
                             above_null_labels_ci_high=summary["mean"] - 0.05)
    _add_table(run, "h_bar_summary", summary)
    claims = pd.DataFrame({
        "claim": ["H-bar rises in phase 1", "removal closes the gap"], "checkpoint": [ckpts[-1], ckpts[-1]],
        "statistic": ["rise", "gap_closed"], "value": [0.25, 0.61], "ci_low": [0.2, 0.4], "ci_high": [0.3, 0.8],
        "placebo": [0.01, 0.05], "placebo_ci_low": [-0.02, -0.1], "placebo_ci_high": [0.04, 0.2],
        "supported": [True, False], "note": ["", "placebo interval overlaps"]})
    _add_table(run, "claims", claims)
    rep = {"vary": "training.seed", "n_seeds": 3, "three_phase_share": 0.67,
           "boundaries": {"phase1_end": {"median": 2, "min": 2, "max": 4, "sd": 0.94, "bootstrap_width": 2.0},
                          "phase3_start": {"median": 4, "min": 4, "max": 6, "sd": 0.94, "bootstrap_width": 2.0},
                          "stop": {"median": 4, "min": 4, "max": 6, "sd": 0.94, "bootstrap_width": 2.0}},
           "peak_h_bar_sd": 0.031, "final_h_bar_sd": 0.024}
    (run / "replication.json").write_text(json.dumps(rep))
    return {"last": ckpts[-1]}


def test_sections_lead_with_the_answer_and_end_with_the_inputs(tmp_path_factory, tmp_path):
    run = copy_run(tiny_run_dir(tmp_path_factory), tmp_path / "run")
    warnings, page = _report(run)
    assert warnings == []
    pos = _positions(page)
    assert pos == sorted(pos), dict(zip(SECTION_ORDER, pos))
    # the verdict and the H-bar figure come before the configuration; both inputs are collapsed
    assert page.index('id="verdict"') < page.index('id="h_bar"') < page.index('id="config"')
    for ident in ("config", "manifest"):
        section = page[page.index(f'<section id="{ident}">'):]
        section = section[:section.index("</section>")]
        assert "<details>" in section and "<table" not in section.split("<details>")[0], ident
    # no per-file hash table: a link to manifest.json instead
    man = json.loads((run / "manifest.json").read_text())
    assert man["files"] and not any(rec["sha256"] in page for rec in man["files"].values())
    assert f'of the run&#39;s {len(man["files"])} files are in <a href="manifest.json">manifest.json</a>' in page


def test_a_run_without_the_optional_tables_says_which_section_is_unavailable_and_why(tmp_path_factory, tmp_path):
    run = copy_run(tiny_run_dir(tmp_path_factory), tmp_path / "run")
    man = json.loads((run / "manifest.json").read_text())
    for rel in ("metrics/h_bar_null.parquet", "metrics/claims.parquet"):  # a run without them (an older genphase)
        (run / rel).unlink(missing_ok=True)
        man["files"].pop(rel, None)
    (run / "manifest.json").write_text(json.dumps(man))
    version = man["genphase_version"]
    warnings, page = _report(run)
    assert warnings == [] and check_records(run, json.loads((run / "manifest.json").read_text())) == {}
    assert not any("h_bar_null" in p or "claims" in p for p in load_run(run).problems)  # optional, not a problem
    for section, rel in (("Chance level", "metrics/h_bar_null.parquet"), ("Claims table", "metrics/claims.parquet")):
        line = re.search(rf'<p class="unavailable">{section} unavailable: {re.escape(rel)} is not in this run: ([^<]*)</p>',
                         page)
        assert line, section
        assert f"genphase {version}" in line.group(1)
    assert "Replication unavailable: no replication.json in this run directory or beside it" in page
    # a configuration that switched the null off (`baselines: {null: false}`) is named as the reason
    data = load_run(run)
    data.config.setdefault("baselines", {})["null"] = False
    from genphase.report.lead import chance_html

    assert "baselines.null is false in its config.yaml" in chance_html(data)


def test_chance_level_claims_and_replication_are_shown_when_the_run_has_them(tmp_path_factory, tmp_path):
    run = copy_run(tiny_run_dir(tmp_path_factory), tmp_path / "run")
    last = _fixtures(run)["last"]
    warnings, page = _report(run)
    assert warnings == []  # the fixture tables are recorded like a run's own
    chance = page[page.index('<section id="chance">'):page.index('<section id="replication">')]
    assert f"last, epoch {last}" in chance
    assert "order-permutation null" in chance and "permuted-labels null" in chance
    assert "0.210 [0.160, 0.260]" in chance and "0.120 [0.070, 0.170]" in chance
    assert chance.count("H-bar above it") == 2
    rep = page[page.index('<section id="replication">'):page.index('id="h_bar"')]
    assert "3 seeds, varying training.seed" in rep and "0.67 of the seeds" in rep
    assert "2 (range 2-4, sd 0.94, median within-run bootstrap CI width 2.00)" in rep and "0.031" in rep
    claims = page[page.index('<section id="claims">'):page.index('<section id="figures">')]
    assert "H-bar rises in phase 1" in claims and "0.250 [0.200, 0.300]" in claims and "0.010 [-0.020, 0.040]" in claims
    assert '<span class="badge yes">yes</span>' in claims and '<span class="badge no">no</span>' in claims
    assert "placebo interval overlaps" in claims
    assert "Hatched bands: the chance level of H-bar on the train split" in page
    pos = _positions(page)
    assert pos == sorted(pos)


def test_the_h_bar_figure_draws_each_null_as_a_labelled_band():
    h_bar = pd.DataFrame({"checkpoint": [0, 0, 5, 5], "sample": [0, 1, 0, 1], "split": ["train", "test"] * 2,
                          "h_bar": [0.3, 0.3, 0.6, 0.5]})
    null = pd.DataFrame({"checkpoint": [0, 5, 0, 5, 0, 5], "split": ["train"] * 4 + ["test"] * 2,
                         "null": ["order_permutation"] * 2 + ["permuted_labels"] * 2 + ["order_permutation"] * 2,
                         "mean": 0.2, "ci_low": 0.15, "ci_high": 0.25})
    fig = h_bar_figure(h_bar, null=null)
    labels = [t.get_text() for t in fig.axes[0].get_legend().get_texts()]
    assert "chance: order-permutation null (train), interval" in labels
    assert "chance: permuted-labels null (train), interval" in labels
    bands = [c for c in fig.axes[0].collections if c.get_label().startswith("chance")]
    assert len(bands) == 2  # the train split only
    ys = np.concatenate([p.vertices[:, 1] for b in bands for p in b.get_paths()])
    assert np.isclose(ys.min(), 0.15) and np.isclose(ys.max(), 0.25)
