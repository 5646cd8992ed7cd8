"""`genphase report` on the real miniature run: what the page says is what the run's files say."""

from __future__ import annotations

import base64
import html
import json
import re

import miniature
import pandas as pd
import pytest
from typer.testing import CliRunner

from genphase.cli import app
from genphase.report import FIGURE_SPECS

pytestmark = pytest.mark.slow

FIGURE_RE = re.compile(r'<figure class="fig" id="([a-z_]+)"><h3>(.*?)</h3><img src="data:image/png;base64,'
                       r'([A-Za-z0-9+/=]+)".*?<figcaption>(.*?)</figcaption><div class="files">files: (.*?)</div></figure>',
                       re.S)


def _esc(text: str) -> str:
    return html.escape(text, quote=False)


@pytest.fixture(scope="module")
def reported(mini_run):
    """The miniature run's report rebuilt by `genphase report`: (run dir, page, CLI output).

    The rebuild happens in place (the session's run already has the report the pipeline wrote; the
    new one differs only in its time stamp), so no copy and no extra build are needed.
    """
    page = mini_run / "report.html"
    page.unlink()
    r = CliRunner().invoke(app, ["report", str(mini_run)])
    assert r.exit_code == 0, r.output
    return mini_run, page.read_text(encoding="utf-8"), r.output


def test_genphase_report_writes_the_page_it_prints(reported):
    run, page, output = reported
    assert output.strip() == str(run / "report.html")
    assert page.startswith("<!DOCTYPE html>") and "Figure skipped" not in page


def test_page_shows_the_phase_verdict_the_stop_epoch_and_its_reason(reported):
    run, page, _ = reported
    info = json.loads((run / "metrics" / "phases.json").read_text())
    badge = lambda flag: '<span class="badge yes">yes</span>' if flag else '<span class="badge no">no</span>'  # noqa: E731
    assert f'three phases (phase 2 observed)</td><td class="v">{badge(info["three_phases"])}' in page
    assert f'clear phase-1 peak</td><td class="v">{badge(info["clear"])}' in page
    es = info["early_stopping"]
    ci = f' (95% bootstrap CI [{es["ci"][0]}, {es["ci"][1]}])'
    assert f'recommendation</td><td class="v">epoch {es["epoch"]}{ci}; rule_epoch: {es["rule_epoch"]}, rule: {es["rule"]}' in page
    # the verdict with its intervals: every boundary with its bootstrap interval, and the three-phase support
    for name, value in info["boundaries"].items():
        lo_hi = info["boundaries_ci"][name]
        text = f"{name}: none" if value is None else f"{name}: {value}" + (
            f" (95% bootstrap CI [{lo_hi[0]}, {lo_hi[1]}])" if lo_hi is not None else "")
        assert text in page, text
    assert f'three-phase support</td><td class="v">{info["three_phase_support"]:.2f}: the share of 1000 bootstrap' in page
    assert f'reason</td><td class="v">{_esc(info["reason"])}</td>' in page
    assert es["reason"] != info["reason"]
    assert f'why stop there</td><td class="v">{_esc(es["reason"])}</td>' in page


def test_every_figure_on_the_page_has_its_png_and_pdf(reported):
    run, page, _ = reported
    figs = FIGURE_RE.findall(page)
    # the H-bar figure leads (beside the verdict), the others follow in their order
    specs = sorted(FIGURE_SPECS, key=lambda s: s.key != "h_bar")
    assert [f[0] for f in figs] == [s.key for s in specs]
    for (key, _, b64, _, files), spec in zip(figs, specs):
        png, pdf = files.split(", ")
        assert (png, pdf) == (f"figures/{spec.filename}.png", f"figures/{spec.filename}.pdf")
        assert (run / png).read_bytes() == base64.b64decode(b64), key  # the embedded image is the PNG file
        assert (run / pdf).read_bytes().startswith(b"%PDF"), key


def test_numbers_on_the_page_match_the_tables(reported):
    run, page, _ = reported
    figs = {f[0]: _esc_back(f[3]) for f in FIGURE_RE.findall(page)}
    h = pd.read_parquet(run / "metrics" / "h_bar.parquet")
    ckpts = sorted(h["checkpoint"].unique().tolist())
    assert ckpts == miniature.EPOCHS
    # Fig. 3/4 show 4 evenly spaced of the available checkpoints (here all of them); K from the table
    assert "Checkpoints: epochs 0, 2, 4, 6 (evenly spaced; no clear phases)." in figs["order_strengths"]
    k = int(pd.read_parquet(run / "metrics" / "baseline_ablation.parquet")["k"].max())
    assert k == miniature.K and figs["baseline_ablation"].endswith(f"K = {k}.")
    n_nan = int(h["h_bar"].isna().sum())
    if n_nan:
        assert f"{n_nan} of {len(h)} sample values are NaN" in figs["h_bar"]
    else:
        assert "sample values are NaN" not in figs["h_bar"]
    assert figs["salient_interactions"].endswith(f"Epoch {ckpts[-1]}; top 4 interactions per sample (modality image).")
    # phases.parquet is empty for this run, and the page says so instead of drawing a table
    assert len(pd.read_parquet(run / "metrics" / "phases.parquet")) == 0
    assert "No phases detected (phases.parquet is empty or missing): no clear phases." in page
    # the configuration and manifest cards print the run's own values
    man = json.loads((run / "manifest.json").read_text())
    for key, val in (("interactions.tau", str(miniature.TAU)), ("data.label_noise", str(miniature.LABEL_NOISE)),
                     ("training.epochs", "6"), ("config_hash", man["config_hash"]),
                     ("seeds.baselines", "[1000, 1001, 1002]"), ("genphase_version", man["genphase_version"])):
        assert f'<td class="k">{key}</td><td class="v">{val}</td>' in page, key


def _esc_back(text: str) -> str:
    return html.unescape(text)
