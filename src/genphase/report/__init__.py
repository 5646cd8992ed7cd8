"""The run report: paper figures from a run directory's metric tables, in one self-contained HTML page.

``build_report(run_dir)`` reads ``RUN_DIR`` (layout: ``docs/run-directory.md``), draws the figures of
:mod:`genphase.report.figures` with matplotlib (no pyplot; Agg/PDF canvases), writes a PNG and a PDF
of each to ``RUN_DIR/figures/`` and the page, with every image embedded as a base64 PNG data URI and
inline CSS, to ``RUN_DIR/report.html``. Missing optional tables skip their figure with a note.
"""

from __future__ import annotations

from .build import build_report, render_figures
from .data import RunData, SampleSet, load_run
from .figures import CAPTIONS, FIGURE_SPECS, FigureSpec
from .html import WHAT_TO_LOOK_FOR, summarize_phases

__all__ = [
    "build_report",
    "render_figures",
    "load_run",
    "RunData",
    "SampleSet",
    "FigureSpec",
    "FIGURE_SPECS",
    "CAPTIONS",
    "WHAT_TO_LOOK_FOR",
    "summarize_phases",
]
