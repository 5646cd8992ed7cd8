"""The study page ``DIR/study.html`` of ``genphase study``: every seed's curves overlaid, and the study table.

Two figures, one colour per seed: mean H-bar of the explained training samples with its bootstrap
band (``h_bar_summary``) and the evaluation / reference / training losses, each with the interaction
stop (solid vertical line) and the validation-stopping baseline (dotted) marked; then the rows of
``study.parquet``. Everything is embedded (base64 PNG, inline CSS); PNG and PDF copies go to
``DIR/figures/``.
"""

from __future__ import annotations

import base64
import html
import json
import os
from datetime import datetime, timezone
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd

__all__ = ["build_study_report", "study_figures"]

_COLORS = ("#1f77b4", "#d62728", "#2ca02c", "#9467bd", "#ff7f0e", "#8c564b", "#e377c2", "#17becf", "#7f7f7f", "#bcbd22")


def _esc(value: Any) -> str:
    return html.escape(str(value), quote=False)


def _seed_data(root: Path, seed: int) -> dict[str, Any]:
    """What the figures need from one seed's run directory (missing files: None)."""
    run = root / f"seed_{seed}" / "metrics"
    out: dict[str, Any] = {}
    for name in ("h_bar_summary", "training"):
        p = run / f"{name}.parquet"
        out[name] = pd.read_parquet(p) if p.is_file() else None
    p = run / "phases.json"
    out["phases"] = json.loads(p.read_text(encoding="utf-8")) if p.is_file() else None
    return out


def study_figures(root: str | os.PathLike, rows: pd.DataFrame) -> list[tuple[str, str, Any]]:
    """``(file stem, caption, matplotlib Figure)`` of the study page, from the seeds in ``rows``.

    ``rows``: the study table (``seed``, ``stop_epoch``, ``baseline_stop_epoch``, ``best_epoch``...); each seed's
    ``metrics/h_bar_summary.parquet`` and ``metrics/training.parquet`` are read from ``root/seed_<s>/``.

    >>> import tempfile
    >>> tmp = tempfile.TemporaryDirectory()
    >>> metrics = Path(tmp.name) / "seed_0" / "metrics"
    >>> metrics.mkdir(parents=True)
    >>> pd.DataFrame({"checkpoint": [0, 1, 2], "split": "train", "mean": [0.2, 0.6, 0.4], "ci_low": [0.1, 0.5, 0.3],
    ...               "ci_high": [0.3, 0.7, 0.5]}).to_parquet(metrics / "h_bar_summary.parquet")
    >>> pd.DataFrame({"model": "model", "epoch": [0, 1, 2] * 3, "split": ["train"] * 3 + ["test"] * 3 + ["eval"] * 3,
    ...               "loss": [1.0, 0.5, 0.2, 1.0, 0.7, 0.8, 1.0, 0.6, 0.7]}).to_parquet(metrics / "training.parquet")
    >>> rows = pd.DataFrame({"seed": [0], "stop_epoch": [1], "baseline_stop_epoch": [2], "best_epoch": [1]})
    >>> [(stem, len(fig.axes)) for stem, _, fig in study_figures(tmp.name, rows)]
    [('study_h_bar', 1), ('study_losses', 2)]
    >>> tmp.cleanup()
    """
    from .figures import _figure, _int_x

    root = Path(root)
    seeds = [int(s) for s in rows["seed"]]
    data = {s: _seed_data(root, s) for s in seeds}
    row = {int(r.seed): r for r in rows.itertuples(index=False)}

    def stops(ax, s: int, color: str) -> None:
        ax.axvline(row[s].stop_epoch, color=color, lw=1.2, ls="-", alpha=0.8)
        ax.axvline(row[s].baseline_stop_epoch, color=color, lw=1.2, ls=":", alpha=0.9)
        lw = getattr(row[s], "labelwave_stop_epoch", None)
        if lw is not None and np.isfinite(lw):
            ax.axvline(lw, color=color, lw=1.2, ls="-.", alpha=0.8)

    fig1 = _figure(11, 4.0)
    ax = fig1.subplots()
    for i, s in enumerate(seeds):
        c = _COLORS[i % len(_COLORS)]
        hs = data[s]["h_bar_summary"]
        if hs is None or hs.empty:
            continue
        part = hs[hs["split"].astype(str) == "train"].sort_values("checkpoint")
        x = part["checkpoint"].to_numpy(float)
        ax.plot(x, part["mean"].to_numpy(float), color=c, marker=".", label=f"seed {s}")
        ax.fill_between(x, part["ci_low"].to_numpy(float), part["ci_high"].to_numpy(float), color=c, alpha=0.15, lw=0)
        stops(ax, s, c)
    ax.plot([], [], color="k", ls="-", label="interaction stop")
    ax.plot([], [], color="k", ls=":", label="validation stop (patience)")
    ax.plot([], [], color="k", ls="-.", label="Label Wave stop (no held-out data)")
    _int_x(ax)
    ax.set(xlabel="epoch (checkpoint)", ylabel=r"$\bar{H}$ (explained training samples)", ylim=(-0.02, 1.02),
           title=r"mean $\bar{H}$ per seed with its 95% bootstrap band")
    ax.grid(alpha=0.3)
    ax.legend(fontsize=8, loc="best")

    fig2 = _figure(11, 4.0)
    ax_e, ax_r = fig2.subplots(1, 2)
    for i, s in enumerate(seeds):
        c = _COLORS[i % len(_COLORS)]
        tr = data[s]["training"]
        if tr is None or tr.empty:
            continue
        tr = tr[tr["model"].astype(str) == "model"]
        for ax_, split, ls in ((ax_e, "eval", "-"), (ax_r, "test", "--"), (ax_r, "train", ":")):
            part = tr[tr["split"].astype(str) == split].sort_values("epoch")
            ax_.plot(part["epoch"], part["loss"], color=c, ls=ls, lw=1.2, label=f"seed {s}" if split == "eval" else None)
        ev = tr[tr["split"].astype(str) == "eval"].set_index("epoch")["loss"]
        for e, marker in ((row[s].stop_epoch, "o"), (row[s].baseline_stop_epoch, "x"), (row[s].best_epoch, "*"),
                          (getattr(row[s], "labelwave_stop_epoch", None), "^")):
            if e in ev.index:
                ax_e.plot([e], [ev.loc[e]], marker=marker, color=c, ms=9, mfc="none" if marker == "o" else c, ls="")
        stops(ax_r, s, c)
    for m, lab in (("o", "interaction stop"), ("x", "validation stop"), ("*", "best checkpoint"),
                   ("^", "Label Wave stop")):
        ax_e.plot([], [], marker=m, color="k", ls="", label=lab)
    ax_r.plot([], [], color="k", ls="--", label="reference (test) loss")
    ax_r.plot([], [], color="k", ls=":", label="training loss")
    _int_x(ax_e, ax_r)
    ax_e.set(xlabel="epoch", ylabel="cross-entropy", title="evaluation loss (held out; scores the stops)")
    ax_r.set(xlabel="epoch", ylabel="cross-entropy", title="reference and training loss; lines: the stops")
    for ax_ in (ax_e, ax_r):
        ax_.grid(alpha=0.3)
        ax_.legend(fontsize=8, loc="best")
    return [
        ("study_h_bar", "Mean H-bar of the explained training samples per seed, with its 95% percentile bootstrap band "
                        "over explained samples (h_bar_summary). Solid lines: the interaction stop; dotted: validation "
                        "early stopping on the reference loss; dash-dotted: the Label Wave stop (prediction changes on the "
                        "training examples; no held-out data).", fig1),
        ("study_losses", "Losses per seed. Left: the evaluation loss (held out from training and reference), with the "
                         "interaction stop (circle), the validation stop (cross), the Label Wave stop (triangle) and the best "
                         "checkpoint (star). Right: "
                         "reference (dashed) and training (dotted) loss.", fig2),
    ]


def _table_html(rows: pd.DataFrame) -> str:
    def fmt(v: Any) -> str:
        if v is None or (isinstance(v, float) and not np.isfinite(v)):
            return "&ndash;"
        if isinstance(v, (float, np.floating)):
            return f"{float(v):.4g}"
        return _esc(v)

    head = "".join(f"<th>{_esc(c)}</th>" for c in rows.columns)
    body = "".join("<tr>" + "".join(f"<td>{fmt(v)}</td>" for v in r) + "</tr>" for r in rows.itertuples(index=False))
    return f'<table class="data"><tr>{head}</tr>{body}</table>'


def _summary_html(rows: pd.DataFrame) -> str:
    if rows.empty:
        return "<p>No seed has finished its analysis yet.</p>"
    d = rows["regret"].to_numpy(float) - rows["baseline_regret"].to_numpy(float)
    n = len(rows)
    parts = [
        f"<p>{n} seed(s). A clear phase-1 peak in {int(rows['clear'].sum())} of {n}; "
        f"phase 3 reached in {int(rows['phase3_start'].notna().sum())} of {n}; three phases, phase 2 resolved (at least "
        f"2 extracted checkpoints inside it), in "
        + (f"{int(rows['three_phases'].sum())} of {n}" if "three_phases" in rows.columns else "(not recorded by this "
           "study's genphase version)") + ". Bootstrap support for three phases: "
        + ", ".join("&ndash;" if pd.isna(v) else f"{float(v):.2f}" for v in rows["three_phase_support"]) + ".</p>",
        f"<p>Regret on the evaluation split (loss at the stop minus the best checkpoint's): interaction stop mean "
        f"{np.mean(rows['regret']):.4f} (per seed {', '.join(f'{v:.4f}' for v in rows['regret'])}); validation stop "
        f"mean {np.mean(rows['baseline_regret']):.4f} (per seed {', '.join(f'{v:.4f}' for v in rows['baseline_regret'])}). "
        f"Interaction minus validation regret per seed: {', '.join(f'{v:+.4f}' for v in d)}.</p>",
    ]
    if "labelwave_regret" in rows.columns:
        lw = rows["labelwave_regret"].to_numpy(float)
        parts.append(f"<p>Label Wave stop (no held-out data; epochs {', '.join(str(int(e)) for e in rows['labelwave_stop_epoch'])}"
                     f"): regret mean {np.nanmean(lw):.4f} (per seed {', '.join(f'{v:.4f}' for v in lw)}).</p>")
    return "".join(parts)


def build_study_report(root: str | os.PathLike, *, dpi: int = 110) -> Path:
    """Write ``DIR/study.html`` (and ``DIR/figures/study_*.png|pdf``) from ``DIR/study.parquet`` and the seed runs.

    A study none of whose seeds has finished (``study.parquet`` without rows) gets a page that says so:

    >>> import tempfile
    >>> from genphase.pipeline.study import study_rows
    >>> with tempfile.TemporaryDirectory() as tmp:
    ...     study_rows(tmp, [0], "digits").to_parquet(Path(tmp) / "study.parquet")
    ...     _ = (Path(tmp) / "study.json").write_text(json.dumps({"preset": "digits", "quick": True, "overrides": []}))
    ...     page = build_study_report(tmp).read_text()
    >>> "<title>genphase study: digits --quick</title>" in page, "No seed has finished its analysis yet." in page
    (True, True)
    """
    from .. import __version__
    from .._atomic import atomic_write
    from .build import _figure_bytes
    from .html import _css

    root = Path(root)
    rows = pd.read_parquet(root / "study.parquet")
    info = json.loads((root / "study.json").read_text(encoding="utf-8"))
    figs_html = []
    if len(rows):
        fig_dir = root / "figures"
        for stem, caption, fig in study_figures(root, rows):
            png, pdf = _figure_bytes(fig, "png", dpi), _figure_bytes(fig, "pdf", dpi)
            atomic_write(fig_dir / f"{stem}.png", lambda fh, b=png: fh.write(b))
            atomic_write(fig_dir / f"{stem}.pdf", lambda fh, b=pdf: fh.write(b))
            b64 = base64.b64encode(png).decode("ascii")
            figs_html.append(f'<figure class="fig"><img src="data:image/png;base64,{b64}" alt="{_esc(stem)}">'
                             f"<figcaption>{_esc(caption)}</figcaption></figure>")
    title = f"genphase study: {info.get('preset')}{' --quick' if info.get('quick') else ''}"
    generated = datetime.now(timezone.utc).strftime("%Y-%m-%d %H:%M UTC")
    page = "\n".join([
        "<!DOCTYPE html>", '<html lang="en"><head><meta charset="utf-8">', f"<title>{_esc(title)}</title>",
        f"<style>{_css()}</style></head><body><main>",
        f'<header class="page"><h1>{_esc(title)}</h1><div class="sub">study directory <code>{_esc(root)}</code> &middot; '
        f"generated {_esc(generated)} by genphase {_esc(__version__)} &middot; overrides "
        f"{_esc(' '.join(info.get('overrides') or []) or 'none')}</div></header>",
        '<section id="summary"><h2>Summary</h2>', _summary_html(rows), "</section>",
        '<section id="figures"><h2>Per-seed curves</h2>', *figs_html, "</section>",
        '<section id="table"><h2>study.parquet</h2>', _table_html(rows), "</section>",
        "<footer>Each seed's own report: seed_&lt;s&gt;/report.html.</footer></main></body></html>",
    ])
    out = root / "study.html"
    atomic_write(out, lambda fh: fh.write(page.encode("utf-8")))
    return out
