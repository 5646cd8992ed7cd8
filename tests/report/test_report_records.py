"""`genphase report` checks each metric table (and phases.json) against the hash manifest.json recorded for it
before plotting (issue 25, item 5): a table edited after the run is marked in red on the page and named in one
warning line on the terminal; a tracker's directory, which records no files, gets no word. On copies of a real
tiny run, through the CLI."""

from __future__ import annotations

import json
import re
from pathlib import Path

import pandas as pd
import torch
from minirun import copy_run, tiny_run_dir
from typer.testing import CliRunner

from genphase.cli import app


def _report(run: Path):
    r = CliRunner().invoke(app, ["report", str(run)])
    assert r.exit_code == 0, r.output
    assert r.stdout.strip() == str(run / "report.html")
    warnings = [ln for ln in r.stderr.splitlines() if ln.strip()]
    return warnings, (run / "report.html").read_text(encoding="utf-8")


def _marked_figures(page: str) -> list[str]:
    """Titles of the figures carrying the red mark."""
    return re.findall(r'<h3>Figure \d+\. ([^<]*)</h3><div class="record-warning">', page)


def _edit_h_bar(run: Path) -> None:
    path = run / "metrics" / "h_bar.parquet"
    tab = pd.read_parquet(path)
    tab["h_bar"] = 0.99  # what someone tidying the numbers might do
    tab.to_parquet(path)


def test_an_untouched_run_has_no_warning(tmp_path_factory, tmp_path):
    run = copy_run(tiny_run_dir(tmp_path_factory), tmp_path / "run")
    warnings, page = _report(run)
    assert warnings == []
    assert 'class="record-warning"' not in page
    assert _marked_figures(page) == []


def test_an_edited_table_is_marked_in_red_and_named_on_the_terminal(tmp_path_factory, tmp_path):
    run = copy_run(tiny_run_dir(tmp_path_factory), tmp_path / "run")
    _edit_h_bar(run)
    warnings, page = _report(run)
    assert len(warnings) == 1, warnings
    line = warnings[0]
    assert line.startswith(f"warning: {run / 'metrics' / 'h_bar.parquet'} differs from the run's record: "), line
    assert "manifest.json recorded" in line and "edited" in line
    assert f"rerun the same `genphase run ... --out {run}` command to recompute it" in line
    # the page: a red block at the top naming the file, and every figure drawn from it marked
    top = page.index('<section id="record-warning" class="record-warning">')
    assert top < page.index('<section id="verdict">')
    block = page[top:page.index("</section>", top)]
    assert "<code>metrics/h_bar.parquet</code>" in block and "manifest.json recorded" in block
    assert _marked_figures(page) == ["Generalization power of interactions (H-bar) through training"]
    assert "#c0392b" in page  # the mark is red


def test_each_edited_file_gets_its_own_line(tmp_path_factory, tmp_path):
    run = copy_run(tiny_run_dir(tmp_path_factory), tmp_path / "run")
    _edit_h_bar(run)
    training = run / "metrics" / "training.parquet"
    training.write_bytes(training.read_bytes()[:-10] + b"0123456789")  # same size, other bytes (unreadable too)
    phases = run / "metrics" / "phases.json"
    info = json.loads(phases.read_text())
    info["clear"] = not info.get("clear")
    phases.write_text(json.dumps(info))
    warnings, page = _report(run)
    named = sorted(re.match(r"warning: (\S+) differs", ln).group(1) for ln in warnings)  # type: ignore[union-attr]
    assert named == sorted(str(run / "metrics" / f) for f in ("h_bar.parquet", "training.parquet", "phases.json"))
    assert any("same size, but not the content" in ln for ln in warnings if "training.parquet" in ln)
    # phases.json feeds the verdict and every figure with shaded phases
    assert '<h2>Verdict</h2><div class="card"><div class="record-warning">' in page
    assert len(_marked_figures(page)) >= 5


def test_a_table_the_run_did_not_write_is_marked(tmp_path_factory, tmp_path):
    run = copy_run(tiny_run_dir(tmp_path_factory), tmp_path / "run")
    # an optional table the run did not make (K = 1: no ceiling), put there by hand
    assert not (run / "metrics" / "h_bar_ceiling.parquet").exists()
    pd.DataFrame({"split": ["train", "test"], "mean": [0.9, 0.8], "ci_low": [0.8, 0.7], "ci_high": [1.0, 0.9]}
                 ).to_parquet(run / "metrics" / "h_bar_ceiling.parquet")
    warnings, page = _report(run)
    assert len(warnings) == 1 and "h_bar_ceiling.parquet differs from the run's record: manifest.json has no record" \
        in warnings[0], warnings
    assert _marked_figures(page) == ["Generalization power of interactions (H-bar) through training"]


def test_a_trackers_directory_gets_no_word(tmp_path):
    from genphase import Tracker

    def net() -> torch.nn.Module:
        return torch.nn.Sequential(torch.nn.Flatten(), torch.nn.Linear(16, 8), torch.nn.ReLU(), torch.nn.Linear(8, 3))

    g = torch.Generator().manual_seed(0)
    x, y = torch.rand(16, 1, 4, 4, generator=g), torch.arange(16) % 3
    root = tmp_path / "tracker"
    tr = Tracker((x[:8], y[:8]), (x[8:], y[8:]), run_dir=root, n=4, model_factory=net, reference_data=(x, y), k=2,
                 baseline_epochs=2, baseline_batch_size=4)
    torch.manual_seed(1)
    model = net()
    for step in (0, 2):
        tr.measure(model, step=step)
    assert json.loads((root / "manifest.json").read_text())["kind"] == "tracker"
    _edit_h_bar(root)  # a tracker records no file hashes: nothing to compare with, so nothing is said
    warnings, page = _report(root)
    assert warnings == [] and _marked_figures(page) == []
