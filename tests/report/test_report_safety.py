"""The report survives what a run directory may hold: names with mathtext characters, a figure that fails."""

from __future__ import annotations

import json
import re

from matplotlib.figure import Figure
from minirun import copy_run, tiny_run_dir

from genphase.report import build_report
from genphase.report.figures import literal


def _sections(page: str) -> dict[str, str]:
    """Figure key -> 'drawn' or 'skipped' (from the page's figure slots)."""
    out = {}
    for m in re.finditer(r'<(figure class="fig"|section class="fig-skipped") id="([a-z_]+)"', page):
        out[m.group(2)] = "drawn" if m.group(1).startswith("figure") else "skipped"
    return out


def test_names_with_dollars_are_drawn_literally(tmp_path_factory, tmp_path):
    run_dir = copy_run(tiny_run_dir(tmp_path_factory), tmp_path / "r")
    vpath = run_dir / "explained" / "variables.json"
    var = json.loads(vpath.read_text())
    # each name is invalid mathtext if parsed; the bar panels show the names
    var.update(names=["$\\frac{$", "a$^$b", "c$_{$"], modality="tabular")
    var.pop("patch_boxes", None)
    vpath.write_text(json.dumps(var))
    page = build_report(run_dir).read_text()
    assert _sections(page)["salient_interactions"] == "drawn"
    assert (run_dir / "figures").is_dir() and any((run_dir / "figures").glob("*salient*.png"))
    assert literal("a$b$c") == r"a\$b\$c"
    fig = Figure()
    fig.text(0.1, 0.5, literal("cost $5 \\frac{ $x$"))
    fig.savefig(tmp_path / "t.png")  # the unescaped string is invalid mathtext and would raise


def test_a_failing_figure_is_a_note_on_the_page(tmp_path_factory, tmp_path, monkeypatch):
    import genphase.report.build as build

    run_dir = copy_run(tiny_run_dir(tmp_path_factory), tmp_path / "r")

    def broken(*args, **kwargs):  # draws fine, fails when saved (as invalid mathtext does)
        fig = Figure()
        fig.text(0.5, 0.5, r"$\frac{$")
        return fig

    monkeypatch.setattr(build, "h_bar_figure", broken)
    page = build_report(run_dir).read_text()
    sections = _sections(page)
    assert sections["h_bar"] == "skipped" and "could not be drawn" in page
    assert sections["training_curves"] == "drawn" and sections["order_strengths"] == "drawn"
    assert not list((run_dir / "figures").glob("*h_bar*"))
