"""``build_report``: figures (PNG + PDF under ``figures/``) and the self-contained ``report.html``."""

from __future__ import annotations

import io
import logging
import os
import warnings
from datetime import datetime, timezone
from pathlib import Path
from typing import Callable

import pandas as pd
from matplotlib.figure import Figure

from .._atomic import atomic_write
from .data import RunData, load_run
from .figures import (
    FIGURE_SPECS,
    FigureSpec,
    baseline_ablation_figure,
    evidence_figure,
    h_bar_figure,
    order_distribution_figure,
    order_strengths_figure,
    phase_spans,
    pick_checkpoints,
    pick_explained_samples,
    removal_loss_figure,
    salient_interactions_figure,
    training_curves_figure,
)
from .html import RenderedFigure, render_page, summarize_phases

__all__ = ["build_report", "render_figures", "atomic_write_bytes", "figure_differs", "FIGURE_INPUTS"]

_log = logging.getLogger(__name__)


#: The metric files each figure is drawn from (a file that differs from the run's record marks the figure in red).
FIGURE_INPUTS: dict[str, tuple[str, ...]] = {
    "training_curves": ("training", "phases"),
    "h_bar": ("h_bar", "h_bar_summary", "h_bar_ceiling", "h_bar_null", "phases"),
    "order_strengths": ("order_strengths", "phases"),
    "baseline_ablation": ("baseline_ablation", "phases"),
    "evidence": ("evidence",),
    "removal_loss": ("removal_loss", "phases"),
    "order_distribution": ("order_distribution", "jaccard", "phases"),
    "salient_interactions": (),  # explained/ and interactions/, not metric tables
}


def figure_differs(data: RunData, key: str) -> list[str]:
    """The files figure ``key`` is drawn from that differ from their record in manifest.json (``data.differs``).

    >>> data = RunData(run_dir=Path("runs/x"), differs={"metrics/h_bar.parquet": "edited"})
    >>> figure_differs(data, "h_bar"), figure_differs(data, "training_curves")
    (['metrics/h_bar.parquet'], [])
    """
    names = FIGURE_INPUTS.get(key, ())
    used = [f"metrics/{n}.parquet" for n in names] + (["metrics/phases.json"] if "phases" in names else [])
    return [p for p in used if p in data.differs]


class _Skip(Exception):
    """A figure cannot be drawn because an input is missing (the message goes on the page)."""


def atomic_write_bytes(path: Path, payload: bytes) -> None:
    """Write ``payload`` to ``path`` atomically (see :func:`genphase._atomic.atomic_write`).

    >>> import tempfile
    >>> with tempfile.TemporaryDirectory() as tmp:
    ...     atomic_write_bytes(Path(tmp) / "figures" / "a.png", b"png")  # the folder is created
    ...     (Path(tmp) / "figures" / "a.png").read_bytes(), sorted(p.name for p in (Path(tmp) / "figures").iterdir())
    (b'png', ['a.png'])
    """
    atomic_write(path, lambda fh: fh.write(payload))


def _figure_bytes(fig: Figure, fmt: str, dpi: int) -> bytes:
    buf = io.BytesIO()
    fig.savefig(buf, format=fmt, dpi=dpi, facecolor="white")
    return buf.getvalue()


def _close(fig: Figure) -> None:
    """Free a figure's memory (figures are built without pyplot, so clearing suffices)."""
    try:
        fig.clear()
    except Exception:  # noqa: BLE001 - best effort
        pass


def _need(data: RunData, name: str) -> pd.DataFrame:
    df = data.table(name)
    if df is None:
        raise _Skip(f"metrics/{name}.parquet is missing or unreadable")
    if len(df) == 0:
        raise _Skip(f"metrics/{name}.parquet is empty")
    return df


def _phase_note(data: RunData) -> str:
    phases = data.table("phases")
    spans = phase_spans(phases, "three")
    clear = summarize_phases(data.phases_info).clear
    if not spans:
        return "No clear phases were detected (phases.parquet is empty or missing), so nothing is shaded."
    if clear is False:
        return "Detection reported no clear phases; the shaded spans are tentative."
    return "Shaded: " + ", ".join(f"{n} (epochs {a}-{b})" for n, a, b in spans) + "."


def _checkpoint_choice(data: RunData) -> tuple[list[int], str]:
    for name in ("order_strengths", "baseline_ablation", "h_bar"):
        df = data.table(name)
        if df is not None and "checkpoint" in df.columns and len(df):
            available = df["checkpoint"].dropna().astype(int).unique()
            chosen = pick_checkpoints(available, data.table("phases"))
            how = (
                "first, end of phase 1, end of phase 2, last"
                if [s for s in phase_spans(data.table("phases"), "three") if s[0].startswith("phase")]
                else "evenly spaced; no clear phases"
            )
            return chosen, how
    return [], ""


def render_figures(
    data: RunData, *, per_split: int = 2, top_k: int | None = None
) -> list[tuple[FigureSpec, Figure | None, str]]:
    """Draw every report figure for ``data``.

    ``top_k`` interactions are drawn per sample in the salient-interaction figure (default: 4 image
    panels per sample for images, 8 bars otherwise).

    Returns ``(spec, figure, text)`` per figure in page order: ``text`` is the full caption when the
    figure was drawn, else the reason it was skipped (``figure`` is then ``None``).

    >>> import tempfile
    >>> with tempfile.TemporaryDirectory() as tmp:  # no tables: every figure is skipped, with its reason
    ...     out = render_figures(load_run(tmp))
    >>> len(out), [fig is None for _, fig, _ in out] == [True] * len(out)
    (8, True)
    >>> out[0][0].key, out[0][2]
    ('training_curves', 'metrics/training.parquet is missing or unreadable')
    """
    phases = data.table("phases")
    note = _phase_note(data)
    ckpts, how = _checkpoint_choice(data)
    ck_note = f"Checkpoints: epochs {', '.join(map(str, ckpts))} ({how})." if ckpts else ""

    def fig1() -> tuple[Figure, str]:
        return training_curves_figure(_need(data, "training"), phases), note

    def fig2() -> tuple[Figure, str]:
        df = _need(data, "h_bar")
        n_nan = int(pd.to_numeric(df["h_bar"], errors="coerce").isna().sum()) if "h_bar" in df.columns else 0
        extra = f" {n_nan} of {len(df)} sample values are NaN (no salient interaction) and left out." if n_nan else ""
        summary = data.table("h_bar_summary")
        band = "" if summary is not None and len(summary) else (
            " The band is +-1 std: metrics/h_bar_summary.parquet (the bootstrap intervals) is missing.")
        ceiling = data.table("h_bar_ceiling")
        why = ((data.phases_info or {}).get("not_computed") or {}).get("h_bar_ceiling")
        ceil_note = (" Dashed: the ceiling, each baseline's H-bar against the other K - 1 (h_bar_ceiling)."
                     if ceiling is not None and len(ceiling) else f" No ceiling line: {why}." if why else "")
        null = data.table("h_bar_null")
        null_note = (" Hatched bands: the chance level of H-bar on the train split, one per null "
                     "(metrics/h_bar_null.parquet; numbers in the verdict)." if null is not None and len(null) else "")
        return h_bar_figure(df, phases, summary, ceiling, null), note + extra + band + ceil_note + null_note

    def fig4b() -> tuple[Figure, str]:
        ev = data.table("evidence")
        if ev is None or not len(ev):
            why = ((data.phases_info or {}).get("not_computed") or {}).get("evidence")
            raise _Skip(why or "metrics/evidence.parquet is missing")
        return evidence_figure(ev), ""

    def fig3() -> tuple[Figure, str]:
        return order_strengths_figure(_need(data, "order_strengths"), ckpts), ck_note

    def fig4() -> tuple[Figure, str]:
        df = _need(data, "baseline_ablation")
        k_max = int(df["k"].max()) if "k" in df.columns else 0
        return baseline_ablation_figure(df, ckpts), f"{ck_note} K = {k_max}."

    def fig5() -> tuple[Figure, str]:
        return removal_loss_figure(_need(data, "removal_loss"), phases), note

    def fig6() -> tuple[Figure, str]:
        jac = data.table("jaccard")
        extra = "" if jac is not None and len(jac) else " The Jaccard panel is missing (jaccard.parquet is missing or empty)."
        spans = phase_spans(phases, "two")
        lines = " Dashed lines: phase boundaries." if len(spans) > 1 else ""
        return order_distribution_figure(_need(data, "order_distribution"), jac, phases), lines + extra

    def fig7() -> tuple[Figure, str]:
        if data.samples is None:
            raise _Skip("explained/samples.npz and explained/variables.json are missing")
        if data.interactions is None:
            raise _Skip("the last checkpoint's interactions (interactions/model/epoch_XXXX.npz) could not be loaded")
        s = data.samples
        k = top_k if top_k is not None else (4 if s.modality == "image" else 8)
        picked = pick_explained_samples(
            data.interactions, s.split, per_split=per_split, top_k=k, inputs=s.inputs, labels=s.labels
        )
        names = s.names or list(data.interactions.variable_names)
        fig = salient_interactions_figure(picked, modality=s.modality, variable_names=names, patch_boxes=s.patch_boxes)
        return fig, f"Epoch {data.interactions_epoch}; top {k} interactions per sample (modality {s.modality})."

    makers: dict[str, Callable[[], tuple[Figure, str]]] = {
        "training_curves": fig1,
        "h_bar": fig2,
        "order_strengths": fig3,
        "baseline_ablation": fig4,
        "evidence": fig4b,
        "removal_loss": fig5,
        "order_distribution": fig6,
        "salient_interactions": fig7,
    }
    out: list[tuple[FigureSpec, Figure | None, str]] = []
    for spec in FIGURE_SPECS:
        try:
            fig, extra = makers[spec.key]()
            out.append((spec, fig, f"{spec.caption} {extra}".strip()))
        except _Skip as exc:
            out.append((spec, None, str(exc)))
        except Exception as exc:  # noqa: BLE001 - a malformed table must not sink the whole report
            _log.warning("report figure %s failed", spec.key, exc_info=True)
            out.append((spec, None, f"could not be drawn ({type(exc).__name__}: {exc})"))
    return out


def build_report(
    run_dir: str | os.PathLike[str], *, per_split: int = 2, top_k: int | None = None, dpi: int = 110,
    warn: Callable[[str], None] | None = None,
) -> Path:
    """Write ``RUN_DIR/report.html`` (self-contained) and ``RUN_DIR/figures/*.png|pdf``; return the page's path.

    Args:
        run_dir: a run directory laid out as in ``docs/run-directory.md``. Missing optional tables only
            skip the figures that need them (the page says so).
        per_split: explained samples per split drawn in the salient-interaction figure.
        top_k: interactions shown per sample in that figure (default 4 for images, 8 otherwise).
        dpi: resolution of the PNG files (also the embedded images).
        warn: called with one line per metric table (or ``metrics/phases.json``) that differs from the hash
            recorded in ``manifest.json`` (:func:`~genphase.report.data.check_records`); default
            :func:`warnings.warn`. The page marks each such file, and every figure drawn from it, in red.

    Every file is written atomically (temporary file, then ``os.replace``). A figure that is skipped
    has its stale PNG/PDF from an earlier report removed.

    >>> import tempfile
    >>> with tempfile.TemporaryDirectory() as tmp:  # an empty run directory still gets a page that says so
    ...     page = build_report(tmp)
    ...     page.name, "metrics/h_bar.parquet is missing" in page.read_text()
    ('report.html', True)
    """
    from .. import __version__

    data = load_run(run_dir)
    for rel, why in data.differs.items():
        line = (f"{data.run_dir / rel} differs from the run's record: {why}; the report marks it and its figures in "
                f"red (restore it, or rerun the same `genphase run ... --out {data.run_dir}` command to recompute it)")
        if warn is None:
            warnings.warn(line, UserWarning, stacklevel=2)
        else:
            warn(line)
    fig_dir = data.run_dir / "figures"
    rendered: list[RenderedFigure] = []
    for spec, fig, text in render_figures(data, per_split=per_split, top_k=top_k):
        png_path, pdf_path = fig_dir / f"{spec.filename}.png", fig_dir / f"{spec.filename}.pdf"
        differs = figure_differs(data, spec.key)
        if fig is None:
            for p in (png_path, pdf_path):
                p.unlink(missing_ok=True)
            rendered.append(RenderedFigure(spec=spec, caption=spec.caption, skipped=text, differs=differs))
            continue
        try:  # drawing happens here (text layout, mathtext...): one figure's failure must not stop the page
            png = _figure_bytes(fig, "png", dpi)
            pdf = _figure_bytes(fig, "pdf", dpi)
            atomic_write_bytes(png_path, png)
            atomic_write_bytes(pdf_path, pdf)
        except Exception as exc:  # noqa: BLE001 - a visible note on the page instead of a crash
            _log.warning("report figure %s could not be saved", spec.key, exc_info=True)
            for p in (png_path, pdf_path):
                p.unlink(missing_ok=True)
            msg = " ".join(str(exc).split())[:300]
            rendered.append(RenderedFigure(spec=spec, caption=spec.caption,
                                           skipped=f"could not be drawn ({type(exc).__name__}: {msg})", differs=differs))
            continue
        finally:
            _close(fig)
        rendered.append(
            RenderedFigure(spec=spec, caption=text, png=png, files=[f"figures/{png_path.name}", f"figures/{pdf_path.name}"],
                           differs=differs)
        )
    generated = datetime.now(timezone.utc).strftime("%Y-%m-%d %H:%M UTC")
    page = render_page(data, rendered, generated=generated, version=__version__)
    out = data.run_dir / "report.html"
    atomic_write_bytes(out, page.encode("utf-8"))
    return out
