"""The top of the report: the verdict with its intervals, the chance level, the replication status, and the
claims table.

Each piece reads an optional input: ``metrics/h_bar_null.parquet`` (the chance level of H-bar),
``h_bar_summary``'s ``above_null*`` columns (H-bar above it, with intervals), ``replication.json`` (the
same study over several seeds) and ``metrics/claims.parquet`` (the run's claims against placebos). A run
without one gets a line that names the file and says why it is not there (:func:`absent_reason`), never
an error.
"""

from __future__ import annotations

import html
import math
from pathlib import Path
from typing import Any, Mapping

import pandas as pd

from .data import RunData

__all__ = ["NULL_LABELS", "absent_reason", "chance_html", "replication_html", "claims_html"]

#: How each null of ``metrics/h_bar_null.parquet`` is named on the page (and in the H-bar figure's legend).
NULL_LABELS: dict[str, str] = {
    "order_permutation": "order-permutation null (baseline effects moved to random subsets of the same order)",
    "permuted_labels": "permuted-labels null (baselines trained on shuffled labels)",
}

#: ``h_bar_summary`` columns giving H-bar above each null (value, low, high of the interval).
_ABOVE: dict[str, tuple[str, str, str]] = {
    "order_permutation": ("above_null", "above_null_ci_low", "above_null_ci_high"),
    "permuted_labels": ("above_null_labels", "above_null_labels_ci_low", "above_null_labels_ci_high"),
}


def _esc(value: Any) -> str:
    return html.escape(str(value), quote=False)


def _num(v: Any) -> float | None:
    try:
        f = float(v)
    except (TypeError, ValueError):
        return None
    return None if math.isnan(f) else f


def _fmt(v: Any, lo: Any = None, hi: Any = None, *, signed: bool = False) -> str:
    """``0.62 [0.55, 0.68]`` (the interval left out when absent; ``n/a`` for a missing value)."""
    x = _num(v)
    if x is None:
        return "n/a"
    text = f"{x:+.3f}" if signed else f"{x:.3f}"
    a, b = _num(lo), _num(hi)
    return text + (f" [{a:.3f}, {b:.3f}]" if a is not None and b is not None else "")


def _version_tuple(v: Any) -> tuple[int, ...] | None:
    try:
        return tuple(int(p) for p in str(v).split("+")[0].split(".")[:3])
    except ValueError:
        return None


def absent_reason(data: RunData, rel: str) -> str:
    """Why the optional file ``rel`` (e.g. ``"metrics/h_bar_null.parquet"``) is not in the run, in one sentence.

    In order: the reason ``metrics/phases.json`` records under ``not_computed``; a switch in ``config.yaml``
    that turns it off (``baselines.null: false`` for the null table); a tracker's directory; a run made by
    genphase before 0.2.0 (which wrote neither optional table); otherwise that the run did not write it.

    >>> data = RunData(run_dir=Path("runs/x"), manifest={"genphase_version": "0.1.0"})
    >>> absent_reason(data, "metrics/h_bar_null.parquet")
    'metrics/h_bar_null.parquet is not in this run: it was made by genphase 0.1.0, which did not write this table'
    >>> data.config = {"baselines": {"null": False}}
    >>> absent_reason(data, "metrics/h_bar_null.parquet")
    'metrics/h_bar_null.parquet is not in this run: baselines.null is false in its config.yaml'
    >>> data.phases_info = {"not_computed": {"claims": "K = 1: no placebo"}}
    >>> absent_reason(data, "metrics/claims.parquet")
    'metrics/claims.parquet is not in this run: not computed (K = 1: no placebo)'
    """
    head = f"{rel} is not in this run: "
    name = Path(rel).stem
    why = ((data.phases_info or {}).get("not_computed") or {}).get(name)
    if why:
        return head + f"not computed ({why})"
    if name == "h_bar_null" and isinstance(data.config, Mapping):
        base = data.config.get("baselines")
        if isinstance(base, Mapping) and base.get("null") is False:
            return head + "baselines.null is false in its config.yaml"
    man = data.manifest or {}
    if man.get("kind") == "tracker":
        return head + "a Tracker's run directory, which does not write it"
    version = man.get("genphase_version")
    parsed = _version_tuple(version) if version is not None else None
    if parsed is not None and parsed < (0, 2, 0):
        return head + f"it was made by genphase {version}, which did not write this table"
    if not man:
        return head + "the run did not write it (no manifest.json says which genphase made the run)"
    return head + f"the run (genphase {version or 'of unknown version'}) did not write it"


def _peak_checkpoint(data: RunData) -> int | None:
    """End of phase 1 (phases.json), else the checkpoint of the highest mean train H-bar (h_bar_summary)."""
    end = ((data.phases_info or {}).get("boundaries") or {})
    if isinstance(end, Mapping) and _num(end.get("phase1_end")) is not None:
        return int(end["phase1_end"])
    summary = data.table("h_bar_summary")
    if summary is not None and {"checkpoint", "split", "mean"} <= set(summary.columns):
        train = summary[summary["split"].astype(str) == "train"]
        means = pd.to_numeric(train["mean"], errors="coerce")
        if means.notna().any():
            return int(train.loc[means.idxmax(), "checkpoint"])
    return None


def _row_at(df: pd.DataFrame | None, checkpoint: int, **match: str) -> pd.Series | None:
    if df is None or "checkpoint" not in df.columns:
        return None
    sel = pd.to_numeric(df["checkpoint"], errors="coerce") == checkpoint
    for col, val in match.items():
        if col not in df.columns:
            return None
        sel &= df[col].astype(str) == val
    rows = df[sel]
    return rows.iloc[0] if len(rows) else None


def chance_html(data: RunData, split: str = "train") -> str:
    """The chance level of H-bar next to the model's: at the peak (end of phase 1) and the last checkpoint.

    Rows: the model's mean H-bar (``h_bar_summary``), each null of ``metrics/h_bar_null.parquet`` (mean and
    interval) and, where ``h_bar_summary`` has the ``above_null*`` columns, H-bar above that null. Without
    the null table, one line says why.

    >>> summary = pd.DataFrame({"checkpoint": [0, 2, 9], "split": "train", "mean": [0.3, 0.6, 0.4],
    ...                         "ci_low": [0.2, 0.5, 0.3], "ci_high": [0.4, 0.7, 0.5], "above_null": [0.0, 0.3, 0.1],
    ...                         "above_null_ci_low": [-0.1, 0.2, 0.0], "above_null_ci_high": [0.1, 0.4, 0.2]})
    >>> null = pd.DataFrame({"checkpoint": [0, 2, 9], "split": "train", "null": "order_permutation",
    ...                      "mean": 0.3, "ci_low": 0.25, "ci_high": 0.35})
    >>> page = chance_html(RunData(run_dir=Path("r"), tables={"h_bar_summary": summary, "h_bar_null": null}))
    >>> "peak, epoch 2" in page, "0.300 [0.250, 0.350]" in page, "+0.300 [0.200, 0.400]" in page
    (True, True, True)
    >>> "at the peak, epoch 2 +0.300 [0.200, 0.400]: above it" in page
    True
    >>> chance_html(RunData(run_dir=Path("r")))
    '<p class="unavailable">Chance level unavailable: metrics/h_bar_null.parquet is not in this run: ...</p>'
    """
    null = data.table("h_bar_null")
    if null is None or not len(null):
        why = absent_reason(data, "metrics/h_bar_null.parquet") if null is None else "metrics/h_bar_null.parquet is empty"
        return f'<p class="unavailable">Chance level unavailable: {_esc(why)}.</p>'
    need = {"checkpoint", "split", "null", "mean"}
    if not need <= set(null.columns):
        missing = ", ".join(sorted(need - set(null.columns)))
        return f'<p class="unavailable">Chance level unavailable: metrics/h_bar_null.parquet lacks column(s) {missing}.</p>'
    null = null[null["split"].astype(str) == split]
    ck = pd.to_numeric(null["checkpoint"], errors="coerce").dropna().astype(int)
    if not len(ck):
        return f'<p class="unavailable">Chance level unavailable: metrics/h_bar_null.parquet has no {split} rows.</p>'
    last, peak = int(ck.max()), _peak_checkpoint(data)
    cols = [(peak, f"peak, epoch {peak}")] if peak is not None and peak != last and peak in set(ck) else []
    cols.append((last, f"last, epoch {last}"))
    summary = data.table("h_bar_summary")
    head = f'<tr><th>{_esc(split)} split</th>{"".join(f"<th>{_esc(t)}</th>" for _, t in cols)}</tr>'
    rows = []
    cells = []
    for c, _ in cols:
        r = _row_at(summary, c, split=split)
        cells.append(_fmt(r.get("mean"), r.get("ci_low"), r.get("ci_high")) if r is not None else "n/a")
    rows.append(("model's H-bar", cells))
    names = [n for n in NULL_LABELS if n in set(null["null"].astype(str))]
    names += sorted(set(null["null"].astype(str)) - set(names))
    for name in names:
        part = null[null["null"].astype(str) == name]
        cells = []
        for c, _ in cols:
            r = _row_at(part, c)
            cells.append(_fmt(r.get("mean"), r.get("ci_low"), r.get("ci_high")) if r is not None else "n/a")
        rows.append((NULL_LABELS.get(name, name), cells))
        value, lo, hi = _ABOVE.get(name, ("", "", ""))
        if summary is not None and value in summary.columns:
            cells = []
            for c, _ in cols:
                r = _row_at(summary, c, split=split)
                cells.append(_fmt(r.get(value), r.get(lo), r.get(hi), signed=True) if r is not None else "n/a")
            rows.append(("H-bar above it", cells))
    body = "".join(f'<tr><td class="k">{_esc(k)}</td>{"".join(f"<td>{_esc(v)}</td>" for v in vals)}</tr>'
                   for k, vals in rows)
    words = []
    for name in names:
        value, lo, hi = _ABOVE.get(name, ("", "", ""))
        if summary is None or value not in summary.columns:
            continue
        parts = []
        for c, label in cols:
            r = _row_at(summary, c, split=split)
            if r is None or _num(r.get(value)) is None:
                continue
            a, b = _num(r.get(lo)), _num(r.get(hi))
            where = ("above" if a is not None and a > 0 else "below" if b is not None and b < 0 else
                     "not distinguishable from")
            parts.append(f"at the {label} {_fmt(r.get(value), r.get(lo), r.get(hi), signed=True)}: {where} it")
        if parts:
            words.append(f"Against the {name.replace('_', '-')} null, the model's H-bar is " + "; ".join(parts) + ".")
    said = f'<p class="sub">{_esc(" ".join(words))}</p>' if words else ""
    return (f'<table class="data chance">{head}{body}</table>{said}<p class="sub">Mean over the explained {_esc(split)} '
            "samples with its interval [low, high] (metrics/h_bar_null.parquet; h_bar_summary).</p>")


def _spread(stat: Any) -> str:
    if not isinstance(stat, Mapping):
        return _esc(stat)
    med = stat.get("median")
    text = "none" if med is None else f"{_num(med):g}" if _num(med) is not None else str(med)
    extra = []
    if _num(stat.get("min")) is not None and _num(stat.get("max")) is not None:
        extra.append(f"range {_num(stat['min']):g}-{_num(stat['max']):g}")
    if _num(stat.get("sd")) is not None:
        extra.append(f"sd {_num(stat['sd']):.2f}")
    if _num(stat.get("bootstrap_width")) is not None:
        extra.append(f"median within-run bootstrap CI width {_num(stat['bootstrap_width']):.2f}")
    return _esc(text + (f" ({', '.join(extra)})" if extra else ""))


def replication_html(data: RunData) -> str:
    """The replication status from ``replication.json`` (:func:`~genphase.report.data.find_replication`), or a line saying why none.

    >>> rep = {"vary": "training.seed", "n_seeds": 3, "three_phase_share": 0.67, "peak_h_bar_sd": 0.031,
    ...        "boundaries": {"phase1_end": {"median": 2, "min": 2, "max": 4, "sd": 0.94}}}
    >>> page = replication_html(RunData(run_dir=Path("r"), replication=rep))
    >>> "3 seeds, varying training.seed" in page, "2 (range 2-4, sd 0.94)" in page
    (True, True)
    >>> replication_html(RunData(run_dir=Path("r")))
    '<p class="unavailable">Replication unavailable: no replication.json in this run directory or beside it: ...</p>'
    """
    rep = data.replication
    if not isinstance(rep, Mapping):
        why = data.replication_problem or ("no replication.json in this run directory or beside it: this run was not "
                                           "replicated over seeds")
        return f'<p class="unavailable">Replication unavailable: {_esc(why)}.</p>'
    rows = [("seeds", f"{rep.get('n_seeds', '?')} seeds, varying {rep.get('vary', '?')}")]
    share = _num(rep.get("three_phase_share"))
    if share is not None:
        rows.append(("three phases in", f"{share:.2f} of the seeds"))
    names = {"phase1_end": "end of phase 1 (epoch)", "phase3_start": "start of phase 3 (epoch)", "stop": "stop (epoch)"}
    for key, stat in (rep.get("boundaries") or {}).items():
        rows.append((names.get(key, key), _spread(stat)))
    for key, label in (("peak_h_bar_sd", "sd of peak H-bar over seeds"), ("final_h_bar_sd", "sd of final H-bar over seeds")):
        if _num(rep.get(key)) is not None:
            rows.append((label, f"{_num(rep[key]):.3f}"))
    body = "".join(f'<tr><td class="k">{_esc(k)}</td><td class="v">{v if k.endswith("(epoch)") else _esc(v)}</td></tr>'
                   for k, v in rows)
    src = data.replication_path.name if data.replication_path is not None else "replication.json"
    return f'<table class="kv replication">{body}</table><p class="sub">From {_esc(src)}.</p>'


_CLAIM_COLUMNS = ("claim", "checkpoint", "statistic", "value", "ci_low", "ci_high", "placebo", "placebo_ci_low",
                  "placebo_ci_high", "supported", "note")


def claims_html(data: RunData) -> str:
    """The claims table (``metrics/claims.parquet``): each claim's statistic with its interval, the placebo's,
    and whether it is supported; or a line saying why the table is unavailable.

    >>> claims = pd.DataFrame({"claim": ["H-bar rises in phase 1"], "checkpoint": [2], "statistic": ["rise"],
    ...                        "value": [0.25], "ci_low": [0.2], "ci_high": [0.3], "placebo": [0.01],
    ...                        "placebo_ci_low": [-0.02], "placebo_ci_high": [0.04], "supported": [True], "note": [""]})
    >>> page = claims_html(RunData(run_dir=Path("r"), tables={"claims": claims}))
    >>> "0.250 [0.200, 0.300]" in page, '<span class="badge yes">yes</span>' in page
    (True, True)
    >>> claims_html(RunData(run_dir=Path("r"), manifest={"genphase_version": "0.1.0"}))
    '<p class="unavailable">Claims table unavailable: metrics/claims.parquet is not in this run: it was made by ...</p>'
    """
    claims = data.table("claims")
    if claims is None:
        return f'<p class="unavailable">Claims table unavailable: {_esc(absent_reason(data, "metrics/claims.parquet"))}.</p>'
    if not len(claims):
        return '<p class="unavailable">Claims table unavailable: metrics/claims.parquet is empty.</p>'
    cols = set(claims.columns)
    head = "<tr><th>claim</th><th>epoch</th><th>statistic</th><th>value [interval]</th><th>placebo [interval]</th>" \
           "<th>supported</th><th>note</th></tr>"
    body = []
    for record in claims.to_dict("records"):
        def get(c: str, r: dict = record) -> Any:
            return r.get(c)
        sup = get("supported")
        badge = ('<span class="badge unknown">n/a</span>' if sup is None or (isinstance(sup, float) and math.isnan(sup))
                 else '<span class="badge yes">yes</span>' if bool(sup) else '<span class="badge no">no</span>')
        ck = _num(get("checkpoint"))
        note = get("note")
        body.append(
            f"<tr><td>{_esc(get('claim') or '')}</td><td>{'' if ck is None else int(ck)}</td>"
            f"<td>{_esc(get('statistic') or '')}</td><td>{_esc(_fmt(get('value'), get('ci_low'), get('ci_high')))}</td>"
            f"<td>{_esc(_fmt(get('placebo'), get('placebo_ci_low'), get('placebo_ci_high')))}</td><td>{badge}</td>"
            f"<td>{_esc('' if note is None or (isinstance(note, float) and math.isnan(note)) else note)}</td></tr>")
    missing = [c for c in _CLAIM_COLUMNS if c not in cols]
    extra = (f'<p class="sub">metrics/claims.parquet lacks column(s) {", ".join(missing)}: shown as blank or n/a.</p>'
             if missing else "")
    return f'<table class="data claims">{head}{"".join(body)}</table>{extra}'
