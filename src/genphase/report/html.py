"""Assembly of the self-contained report page (inline CSS, figures as base64 PNG data URIs)."""

from __future__ import annotations

import base64
import html
import json
from dataclasses import dataclass, field
from importlib import resources
from typing import Any, Iterable, Mapping, Sequence

import pandas as pd

from .data import RunData
from .figures import FigureSpec

__all__ = ["RenderedFigure", "PhaseSummary", "summarize_phases", "render_page", "WHAT_TO_LOOK_FOR", "SECTION_ORDER"]

#: Short guide printed on the page (docs/science.md, sections 7-10).
WHAT_TO_LOOK_FOR: tuple[str, ...] = (
    "At initialisation the interactions are noise: a spindle-shaped order distribution (mostly middle orders, "
    "positive and negative effects cancelling) and a low H-bar.",
    "Phase 1: high-order noise is removed and low-order, generalizable interactions are learned, so H-bar rises "
    "and the low orders dominate the order distribution.",
    "Phase 2: higher and higher orders are learned; these generalize less, so H-bar falls while the test loss "
    "still improves slowly and the train loss falls faster.",
    "Phase 3: mostly high-order, non-generalizable interactions are added; the train-test loss gap widens and the "
    "test loss stays flat or rises. Stopping near the end of phase 2 is the usual recommendation.",
    "Removing the non-generalizable interactions from v(x) should close most of the train-test loss gap, mainly "
    "by raising the train loss (Fig. 5 of the paper); higher orders should show less generalizable strength "
    "than lower orders (Fig. 2), and H-bar should grow with the number of baseline DNNs k (Fig. 3).",
)


@dataclass
class RenderedFigure:
    """One figure slot of the page: either a PNG to embed or the reason it was skipped.

    >>> from genphase.report.figures import FIGURE_SPECS
    >>> slot = RenderedFigure(spec=FIGURE_SPECS[0], caption="", skipped="metrics/training.parquet is missing")
    >>> slot.png is None, slot.files
    (True, [])
    """

    spec: FigureSpec
    caption: str
    png: bytes | None = None
    files: list[str] = field(default_factory=list)
    skipped: str | None = None
    #: Inputs of this figure that differ from their record in manifest.json (``RunData.differs``): marked in red.
    differs: list[str] = field(default_factory=list)


@dataclass
class PhaseSummary:
    """The phase / early-stopping summary read from ``metrics/phases.json`` (fields ``None`` if absent).

    >>> PhaseSummary().clear is None, PhaseSummary(clear=True).recommendation is None
    (True, True)
    """

    clear: bool | None = None
    boundaries: str | None = None
    recommendation: str | None = None
    reason: str | None = None
    stop_reason: str | None = None
    support: str | None = None
    three_phases: bool | None = None
    above_null: str | None = None


def _first(mapping: Mapping[str, Any], keys: Iterable[str]) -> Any:
    for k in keys:
        if k in mapping and mapping[k] is not None:
            return mapping[k]
    return None


def _compact(value: Any) -> str:
    if isinstance(value, str):
        return value
    if isinstance(value, Mapping):
        return ", ".join(f"{k}: {_compact(v)}" for k, v in value.items())
    if isinstance(value, (list, tuple)):
        return "[" + ", ".join(_compact(v) for v in value) + "]"
    return json.dumps(value, default=str)


def summarize_phases(info: Mapping[str, Any] | None) -> PhaseSummary:
    """Pick the clear flag, boundaries, recommendation and reason out of ``phases.json``.

    Accepted spellings: ``clear`` / ``clear_phases`` / ``is_clear`` / ``three_phase_clear``; ``boundaries`` /
    ``phase_boundaries``; ``recommendation`` / ``early_stopping`` (a string, or a mapping whose ``epoch`` /
    ``stop_epoch`` / ``recommended_epoch`` and ``reason`` are read); ``reason`` at top level.
    ``stop_reason`` is the recommendation's own ``reason`` (why stop at that epoch), kept apart from the
    phase verdict's top-level ``reason``.

    >>> s = summarize_phases({"clear": True, "boundaries": {"phase1_end": 3, "phase3_start": 8},
    ...                       "boundaries_ci": {"phase1_end": [2, 4], "phase3_start": None},
    ...                       "recommendation": {"epoch": 8, "reason": "phase 3 starts"}})
    >>> s.clear, s.boundaries, s.recommendation, s.stop_reason
    (True, 'phase1_end: 3 (95% bootstrap CI [2, 4]), phase3_start: 8', 'epoch 8', 'phase 3 starts')
    >>> summarize_phases(None) == PhaseSummary()  # no phases.json: nothing stated
    True
    """
    if not info:
        return PhaseSummary()
    clear = _first(info, ("clear", "clear_phases", "is_clear", "three_phase_clear", "phases_clear"))
    boundaries = _first(info, ("boundaries", "phase_boundaries"))
    boot = ((info.get("evidence") or {}).get("bootstrap") or {}) if isinstance(info.get("evidence"), Mapping) else {}
    level = boot.get("level", 0.95) if isinstance(boot, Mapping) else 0.95
    pct = f"{100 * float(level):g}%" if isinstance(level, (int, float)) else "95%"
    cis = info.get("boundaries_ci")
    if isinstance(boundaries, Mapping) and isinstance(cis, Mapping):  # the layout detect_phases writes
        boundaries = ", ".join(
            f"{k}: {'none' if v is None else v}"
            + (f" ({pct} bootstrap CI {_compact(cis[k])})" if v is not None and cis.get(k) is not None else "")
            for k, v in boundaries.items())
    rec = _first(info, ("recommendation", "early_stopping", "early_stop", "recommended"))
    reason = _first(info, ("reason", "recommendation_reason"))
    rec_text: str | None = None
    stop_reason: Any = None
    if isinstance(rec, Mapping):
        stop_reason = rec.get("reason")
        epoch = _first(rec, ("epoch", "stop_epoch", "recommended_epoch", "checkpoint"))
        action = _first(rec, ("action", "recommendation", "decision", "summary"))
        parts = [str(action)] if action is not None else []
        if epoch is not None:
            ci = rec.get("ci")
            parts.append(f"epoch {epoch}" + (f" ({pct} bootstrap CI {_compact(ci)})" if ci is not None else ""))
        rest = {k: v for k, v in rec.items()
                if k not in {"epoch", "stop_epoch", "recommended_epoch", "checkpoint", "action", "recommendation",
                             "decision", "summary", "reason", "ci"}}
        if rest:
            parts.append(_compact(rest))
        rec_text = "; ".join(parts) if parts else None
        if reason is None and rec.get("reason") is not None:
            reason = rec["reason"]
    elif rec is not None:
        rec_text = _compact(rec)
    sup = info.get("three_phase_support")
    support = None
    if isinstance(sup, (int, float)) and not isinstance(sup, bool):
        n_res = boot.get("n_resamples") if isinstance(boot, Mapping) else None
        support = (f"{float(sup):.2f}: the share of {n_res or 'the'} bootstrap resamples of the explained samples in which "
                   "phase 1 ends clearly and phase 3 starts with at least 2 extracted checkpoints between them")
    three = info.get("three_phases")
    above = info.get("above_null")
    above_text = None
    if isinstance(above, Mapping) and above.get("message"):
        above_text = str(above["message"])
    return PhaseSummary(
        three_phases=bool(three) if isinstance(three, bool) else None,
        above_null=above_text,
        support=support,
        clear=bool(clear) if clear is not None else None,
        boundaries=_compact(boundaries) if boundaries is not None else None,
        recommendation=rec_text,
        reason=_compact(reason) if reason is not None else None,
        stop_reason=_compact(stop_reason) if stop_reason is not None else None,
    )


def _esc(value: Any) -> str:
    return html.escape(str(value), quote=False)


def _flatten(obj: Any, prefix: str = "") -> list[tuple[str, str]]:
    """Nested mappings as ``(dotted.key, value)`` rows; lists of scalars joined, long values cut."""
    rows: list[tuple[str, str]] = []
    if isinstance(obj, Mapping):
        for k, v in obj.items():
            key = f"{prefix}.{k}" if prefix else str(k)
            if isinstance(v, Mapping) and v:
                rows.extend(_flatten(v, key))
            else:
                rows.append((key, _short(v)))
    else:
        rows.append((prefix or "value", _short(obj)))
    return rows


def _short(v: Any, width: int = 160) -> str:
    text = _compact(v) if not isinstance(v, str) else v
    return text if len(text) <= width else text[: width - 1] + "\u2026"


def _kv_table(rows: Sequence[tuple[str, str]], limit: int = 40) -> str:
    if not rows:
        return '<p class="sub">nothing recorded</p>'
    body = "".join(f'<tr><td class="k">{_esc(k)}</td><td class="v">{_esc(v)}</td></tr>' for k, v in rows[:limit])
    more = f'<p class="sub">{len(rows) - limit} more entries in the full file below.</p>' if len(rows) > limit else ""
    return f'<table class="kv">{body}</table>{more}'


def _data_table(df: pd.DataFrame) -> str:
    head = "".join(f"<th>{_esc(c)}</th>" for c in df.columns)
    body = "".join("<tr>" + "".join(f"<td>{_esc(v)}</td>" for v in row) + "</tr>" for row in df.itertuples(index=False))
    return f'<table class="data"><tr>{head}</tr>{body}</table>'


def _badge(flag: bool | None) -> str:
    if flag is None:
        return '<span class="badge unknown">not stated</span>'
    return '<span class="badge yes">yes</span>' if flag else '<span class="badge no">no</span>'


def _css() -> str:
    try:
        return resources.files("genphase.report").joinpath("style.css").read_text(encoding="utf-8")
    except (FileNotFoundError, ModuleNotFoundError, OSError):  # pragma: no cover - broken install
        return "body{font-family:sans-serif;max-width:1180px;margin:auto}img{max-width:100%}"


def _config_rows(data: RunData) -> list[tuple[str, str]]:
    return _flatten(data.config) if data.config else []


def _manifest_rows(data: RunData) -> list[tuple[str, str]]:
    """The manifest as rows, without the per-file records (``files``: size and SHA-256 of every file)."""
    if not data.manifest:
        return []
    rows = _flatten({k: v for k, v in data.manifest.items() if k != "files"})
    rank = ("version", "seed", "hash", "stage")
    return sorted(rows, key=lambda kv: next((i for i, w in enumerate(rank) if w in kv[0].lower()), len(rank)))


def _differs_note(paths: Sequence[str]) -> str:
    """The red mark of a figure or section drawn from files that differ from the run's record."""
    if not paths:
        return ""
    names = ", ".join(f"<code>{_esc(p)}</code>" for p in paths)
    return (f'<div class="record-warning"><strong>Not the run&#39;s record:</strong> drawn from {names}, which '
            "differ(s) from the hash recorded in manifest.json when the run wrote it (see the top of the page).</div>")


def _differs_section(differs: Mapping[str, str], run_dir: Any) -> str:
    """The red block at the top of the page: one line per file that differs from its record in manifest.json."""
    if not differs:
        return ""
    items = "".join(f"<li><code>{_esc(p)}</code>: {_esc(why)}</li>" for p, why in differs.items())
    return (
        '<section id="record-warning" class="record-warning"><h2>Files that differ from the run&#39;s record</h2>'
        f"<p>These files are not the ones the run wrote, so the figures and numbers drawn from them (marked in red "
        f"below) may not be the run&#39;s results:</p><ul>{items}</ul><p>To plot the run&#39;s own results, restore "
        f"the files, or rerun the same <code>genphase run ... --out {_esc(run_dir)}</code> command: it recomputes "
        "them.</p></section>")


def _figure_html(number: int, fig: RenderedFigure) -> str:
    anchor = f'id="{fig.spec.key}"'
    title = f"<h3>Figure {number}. {_esc(fig.spec.title)}</h3>" + _differs_note(fig.differs)
    if fig.png is None:
        return (
            f'<section class="fig-skipped" {anchor}>{title}<div class="note"><strong>Figure skipped:</strong> '
            f"{_esc(fig.skipped or 'no data')}</div><p class=\"sub\">{_esc(fig.caption)}</p></section>"
        )
    b64 = base64.b64encode(fig.png).decode("ascii")
    files = ", ".join(_esc(f) for f in fig.files)
    return (
        f'<figure class="fig" {anchor}>{title}'
        f'<img src="data:image/png;base64,{b64}" alt="{html.escape(fig.spec.title)}">'
        f"<figcaption>{_esc(fig.caption)}</figcaption>"
        + (f'<div class="files">files: {files}</div>' if files else "")
        + "</figure>"
    )


def _issue18_rows(info: Mapping[str, Any] | None) -> list[str]:
    """Rows next to the verdict: the phase count (or why not), where the baselines trained, their warnings."""
    if not info:
        return []
    rows = []
    sup = info.get("phase_count_support")
    if "phase_count" in info:
        if info.get("phase_count") is not None and isinstance(sup, Mapping):
            text = (f"{info['phase_count']} (share of bootstrap resamples choosing 1 / 2 / 3 linear segments of mean "
                    f"train H-bar over log(1 + epoch) by BIC: "
                    + " / ".join(f"{float(sup.get(k, 0.0)):.2f}" for k in ("1", "2", "3")) + ")")
        else:
            text = ((info.get("phase_count_evidence") or {}).get("reason")) or "not computed"
        rows.append(f'<tr><td class="k">phase count</td><td class="v">{_esc(text)}</td></tr>')
    where = info.get("baselines_trained_on")
    if where == "crossfit":
        rows.append('<tr><td class="k">baselines</td><td class="v">Cross-fitted: trained on parts of the training split; '
                    'each explained training sample is compared only with baselines that never saw it (reference '
                    'samples: with all K)</td></tr>')
    elif where is not None:
        rows.append('<tr><td class="k">baselines</td><td class="v">trained on the reference split</td></tr>')
    for w in [*(info.get("baseline_warnings") or []), *(info.get("coverage_warnings") or [])]:
        rows.append(f'<tr><td class="k">warning</td><td class="v">{_esc(w)}</td></tr>')
    for key, why in (info.get("not_computed") or {}).items():
        rows.append(f'<tr><td class="k">{_esc(key)}</td><td class="v">not computed: {_esc(why)}</td></tr>')
    return rows


def _verdict_rows(summary: PhaseSummary) -> list[str]:
    head = ([f'<tr><td class="k">three phases (phase 2 observed)</td><td class="v">{_badge(summary.three_phases)}</td></tr>',
             f'<tr><td class="k">clear phase-1 peak</td><td class="v">{_badge(summary.clear)}</td></tr>']
            if summary.three_phases is not None else  # a run made before the phase-2 rule: its clear flag only
            [f'<tr><td class="k">clear three-phase pattern</td><td class="v">{_badge(summary.clear)}</td></tr>'])
    rows = [
        *head,
        *([f'<tr><td class="k">three-phase support</td><td class="v">{_esc(summary.support)}</td></tr>']
          if summary.support is not None else []),
        f'<tr><td class="k">boundaries</td><td class="v">{_esc(summary.boundaries or "not stated")}</td></tr>',
        f'<tr><td class="k">recommendation</td><td class="v">{_esc(summary.recommendation or "not stated")}</td></tr>',
        f'<tr><td class="k">reason</td><td class="v">{_esc(summary.reason or "not stated")}</td></tr>',
        *([f'<tr><td class="k">verdict above the order-permutation null</td><td class="v">{_esc(summary.above_null)}</td></tr>']
          if summary.above_null else []),
    ]
    return rows


def _section(ident: str, title: str, *body: str, cls: str = "") -> str:
    klass = f' class="{cls}"' if cls else ""
    return f'<section id="{ident}"{klass}><h2>{_esc(title)}</h2>' + "".join(body) + "</section>"


#: The page's sections, in order (ids): the answer first, the run's inputs last. A test checks the order.
SECTION_ORDER: tuple[str, ...] = ("verdict", "chance", "replication", "h_bar", "claims", "figures", "look",
                                  "phase-details", "config", "manifest")


def render_page(data: RunData, figures: Sequence[RenderedFigure], *, generated: str, version: str) -> str:
    """The complete HTML document (a string) for ``data`` and its rendered figures.

    The answer comes first (:data:`SECTION_ORDER`): the verdict with its intervals, the chance level and
    the replication status, beside the H-bar figure; then the claims table, the remaining figures, the
    details of the phase detection, and last, collapsed, the configuration and the manifest (without its
    per-file hashes: the page links to ``manifest.json``).

    >>> import tempfile
    >>> from genphase.report.data import load_run
    >>> from genphase.report.figures import FIGURE_SPECS
    >>> slot = RenderedFigure(spec=FIGURE_SPECS[0], caption="", skipped="metrics/training.parquet is missing")
    >>> with tempfile.TemporaryDirectory() as tmp:  # an empty run directory: every table is missing
    ...     page = render_page(load_run(tmp), [slot], generated="2024-01-01 00:00 UTC", version="0.0")
    >>> page.startswith("<!DOCTYPE html>"), "metrics/training.parquet is missing" in page, page.rstrip().endswith("</html>")
    (True, True, True)
    >>> page.index('id="verdict"') < page.index('id="claims"') < page.index('id="config"')
    True
    """
    from .lead import chance_html, claims_html, replication_html

    summary = summarize_phases(data.phases_info)
    phases_tab = data.table("phases")
    lead_fig = next((f for f in figures if f.spec.key == "h_bar"), None)
    rest = [f for f in figures if f is not lead_fig]
    numbers = {id(f): i + 1 for i, f in enumerate(figures)}
    phases_differ = _differs_note([p for p in data.differs if p in ("metrics/phases.json", "metrics/phases.parquet")])
    verdict = _section(
        "verdict", "Verdict", '<div class="card">', phases_differ,
        '<table class="kv">', *_verdict_rows(summary), "</table>",
        "" if data.phases_info is not None else '<p class="unavailable">metrics/phases.json is missing: no verdict.</p>',
        "</div>")
    chance = _section("chance", "Chance level", chance_html(data))
    replication = _section("replication", "Replication", replication_html(data))
    if lead_fig is not None:
        figure = _figure_html(numbers[id(lead_fig)], lead_fig)
    else:
        figure = ('<section class="fig-skipped" id="h_bar"><div class="note">The H-bar figure was not drawn.</div>'
                  "</section>")
    parts: list[str] = [
        "<!DOCTYPE html>",
        '<html lang="en"><head><meta charset="utf-8">',
        '<meta name="viewport" content="width=device-width, initial-scale=1">',
        f"<title>genphase report: {_esc(data.run_dir.name)}</title>",
        f"<style>{_css()}</style></head><body><main>",
        '<header class="page">',
        f"<h1>genphase report: {_esc(data.run_dir.name)}</h1>",
        f'<div class="sub">run directory <code>{_esc(data.run_dir)}</code> &middot; generated {_esc(generated)} '
        f"by genphase {_esc(version)}</div>",
        "</header>",
        _differs_section(data.differs, data.run_dir),
        f'<div class="lead"><div class="lead-text">{verdict}{chance}{replication}</div>'
        f'<div class="lead-figure">{figure}</div></div>',
        _section("claims", "Claims", claims_html(data)),
        '<section id="figures"><h2>Figures</h2>',
        *(_figure_html(numbers[id(f)], f) for f in rest),
        "</section>",
        _section("look", "What to look for", *(f"<p>{_esc(p)}</p>" for p in WHAT_TO_LOOK_FOR), cls="look"),
        '<section id="phase-details"><h2>How the verdict was reached</h2><div class="card">',
        phases_differ,
        '<table class="kv">',
        *([f'<tr><td class="k">why stop there</td><td class="v">{_esc(summary.stop_reason)}</td></tr>']
          if summary.stop_reason is not None and summary.stop_reason != summary.reason else []),
        *_issue18_rows(data.phases_info),
        "</table>",
    ]
    base_tab = data.table("baselines")
    if base_tab is not None and len(base_tab):
        parts.append("<h3>Baselines (baselines.parquet; eval = the evaluation split)</h3>" + _data_table(base_tab))
    if phases_tab is not None and len(phases_tab):
        parts.append("<h3>Detected phases (phases.parquet)</h3>" + _data_table(phases_tab))
    else:
        parts.append('<p class="sub">No phases detected (phases.parquet is empty or missing): no clear phases.</p>')
    if data.phases_info is None:
        parts.append('<p class="sub">metrics/phases.json is missing.</p>')
    else:
        parts.append(f"<details><summary>metrics/phases.json</summary>"
                     f"<pre>{_esc(json.dumps(data.phases_info, indent=2, default=str))}</pre></details>")
    parts.append("</div></section>")
    if data.problems:
        parts.append('<section id="problems"><h2>Missing or unreadable inputs</h2><ul class="problems">')
        parts.extend(f"<li>{_esc(p)}</li>" for p in data.problems)
        parts.append("</ul></section>")
    parts.append('<section id="config"><h2>Configuration</h2>')
    if data.config_text is not None:
        parts.append(f'<details><summary>config.yaml ({len(_config_rows(data))} settings)</summary>'
                     f"{_kv_table(_config_rows(data), limit=10_000)}<pre>{_esc(data.config_text)}</pre></details>")
    else:
        parts.append('<p class="sub">config.yaml is missing.</p>')
    parts.append("</section>")
    parts.append('<section id="manifest"><h2>Manifest</h2>')
    if data.manifest is not None:
        n_files = len(data.manifest.get("files") or {}) if isinstance(data.manifest.get("files"), Mapping) else 0
        link = ('<p class="sub">The size and SHA-256 of each of the run&#39;s '
                f'{n_files} files are in <a href="manifest.json">manifest.json</a>.</p>' if n_files else "")
        parts.append(f"<details><summary>manifest.json (versions, seeds, stages)</summary>"
                     f"{_kv_table(_manifest_rows(data), limit=10_000)}</details>{link}")
    else:
        parts.append('<p class="sub">manifest.json is missing.</p>')
    parts.append("</section>")
    parts.append("<footer>Self-contained page: every figure is embedded; PNG and PDF copies are in figures/.</footer>")
    parts.append("</main></body></html>")
    return "\n".join(parts)
