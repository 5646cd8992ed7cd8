"""The report's figures: one function per figure, each returning a :class:`matplotlib.figure.Figure`.

The functions take the tidy tables of ``docs/run-directory.md`` as pandas DataFrames (and, for the
salient-interaction figure, small per-sample records) and never touch pyplot: figures are built with
:class:`matplotlib.figure.Figure` directly, so no global backend state is changed and nothing has to be
closed. Saving them as PNG/PDF uses matplotlib's Agg/PDF canvases.

Figures (key, file stem, paper reference):

1. ``training_curves`` -- train/test loss and accuracy with the detected phases shaded.
2. ``h_bar`` -- H-bar through training (mean and its bootstrap interval, train and test samples).
3. ``order_strengths`` -- order-wise total vs generalizable strengths at a few checkpoints (Fig. 2).
4. ``baseline_ablation`` -- H-bar vs the number k of baseline DNNs (Fig. 3).
5. ``removal_loss`` -- loss with and without non-generalizable interactions (Fig. 5).
6. ``order_distribution`` -- strength per order through training and train-test Jaccard (two-phase view).
7. ``salient_interactions`` -- the most salient interactions of a few samples drawn on the input.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any, Iterable, Sequence

import numpy as np
import pandas as pd
from matplotlib.colors import Normalize
from matplotlib.figure import Figure
from matplotlib.lines import Line2D
from matplotlib.patches import Patch, Rectangle
from matplotlib.ticker import MaxNLocator

__all__ = [
    "evidence_figure",
    "FigureSpec",
    "FIGURE_SPECS",
    "CAPTIONS",
    "ExplainedSample",
    "phase_spans",
    "pick_checkpoints",
    "pick_explained_samples",
    "literal",
    "training_curves_figure",
    "h_bar_figure",
    "order_strengths_figure",
    "baseline_ablation_figure",
    "removal_loss_figure",
    "order_distribution_figure",
    "salient_interactions_figure",
]


@dataclass(frozen=True)
class FigureSpec:
    """Identity of one report figure: key, file stem under ``figures/``, title and base caption.

    >>> [(spec.key, spec.filename) for spec in FIGURE_SPECS[:2]]
    [('training_curves', 'fig1_training_curves'), ('h_bar', 'fig2_h_bar')]
    >>> len(FIGURE_SPECS), FIGURE_SPECS[-1].key
    (8, 'salient_interactions')
    """

    key: str
    filename: str
    title: str
    caption: str


#: The report's figures, in page order.
FIGURE_SPECS: tuple[FigureSpec, ...] = (
    FigureSpec(
        "training_curves",
        "fig1_training_curves",
        "Loss and accuracy through training",
        "Loss (left) and accuracy (right) of the model under study at each epoch on the training split, the "
        "reference split ('test': the paper's test split, on which the baselines are trained) and the held-out "
        "evaluation split ('eval', used only to score a stop), with the detected training phases shaded.",
    ),
    FigureSpec(
        "h_bar",
        "fig2_h_bar",
        "Generalization power of interactions (H-bar) through training",
        "H-bar, the share of salient interaction strength that generalizes to the baseline DNNs, at each "
        "checkpoint: mean over the explained train and test samples with its 95% bootstrap interval over "
        "explained samples (h_bar_summary; a band of one standard deviation when that table is missing).",
    ),
    FigureSpec(
        "order_strengths",
        "fig3_order_strengths",
        "Total vs generalizable interaction strength per order (paper Fig. 2)",
        "Strength of salient interactions per order at selected checkpoints, mean over samples: total "
        "positive and negative strength (light bars) vs the generalizable part (dark bars).",
    ),
    FigureSpec(
        "baseline_ablation",
        "fig4_baseline_ablation",
        "Ablation over the number of baseline DNNs (paper Fig. 3)",
        "Mean H-bar when an interaction counts as generalizable if it generalizes to any of the first k "
        "baseline DNNs, for k = 1..K, at selected checkpoints.",
    ),
    FigureSpec(
        "evidence",
        "fig4b_evidence",
        "Graded evidence: salient strength by the number of agreeing baselines",
        "Salient interaction strength of the model (sum of |I| over its salient interactions, all orders and "
        "types, mean over the explained samples of each split) split by n_agree, the number of baselines that "
        "share the interaction (salient, same sign), at each checkpoint. n_agree >= 1 is the any-of-K "
        "generalizable strength behind H-bar; n_agree = K is an all-of-K reading.",
    ),
    FigureSpec(
        "removal_loss",
        "fig5_removal_loss",
        "Loss without non-generalizable interactions (paper Fig. 5)",
        "Cross-entropy loss on explained train and test samples (mean over samples) with and without the "
        "non-generalizable salient interactions removed from v(x), and the resulting train-test gap.",
    ),
    FigureSpec(
        "order_distribution",
        "fig6_order_distribution",
        "Order distribution of interactions through training (two-phase view)",
        "Signed strength of interactions per order at each checkpoint, relative to the mean |v(N) - v(empty)| "
        "(positive and negative separately), and the train-test weighted Jaccard similarity per order.",
    ),
    FigureSpec(
        "salient_interactions",
        "fig7_salient_interactions",
        "Most salient interactions of a few explained samples",
        "The strongest AND-OR interactions of two train and two test samples at the last checkpoint: red = "
        "positive and blue = negative effect, solid = AND and dashed/hatched = OR; singletons merged into AND.",
    ),
)

#: Base caption of each figure, by key (the page may append a data-dependent sentence).
CAPTIONS: dict[str, str] = {spec.key: spec.caption for spec in FIGURE_SPECS}

_SPLIT_COLORS = {"train": "#1f77b4", "test": "#d62728", "eval": "#2ca02c"}
_PHASE_COLORS = {
    "phase1": "#2ca02c",
    "phase2": "#ff7f0e",
    "phase3": "#9467bd",
    "two_phase_1": "#17becf",
    "two_phase_2": "#bcbd22",
}
_PHASE_LABELS = {
    "phase1": "phase 1",
    "phase2": "phase 2",
    "phase3": "phase 3",
    "two_phase_1": "two-phase 1",
    "two_phase_2": "two-phase 2",
}
_POS_LIGHT, _POS_DARK = "#f4a6a6", "#b2182b"
_NEG_LIGHT, _NEG_DARK = "#a6c8f4", "#2166ac"


# ---------------------------------------------------------------------------------------- helpers
def _figure(width: float, height: float) -> Figure:
    """A new constrained-layout figure (no pyplot involved)."""
    return Figure(figsize=(width, height), layout="constrained")


def _int_x(*axes) -> None:
    """Integer-only ticks on the x axes (epochs)."""
    for ax in axes:
        ax.xaxis.set_major_locator(MaxNLocator(integer=True))


def _split_order(splits: Iterable[str]) -> list[str]:
    """Splits in a stable order: train, test, eval, then anything else alphabetically."""
    uniq = list(dict.fromkeys(str(s) for s in splits))
    rank = {"train": 0, "test": 1, "eval": 2}
    return sorted(uniq, key=lambda s: (rank.get(s, 2), s))


def _split_color(split: str) -> str:
    return _SPLIT_COLORS.get(split, "#555555")


def _empty_note(ax, text: str) -> None:
    ax.text(0.5, 0.5, text, ha="center", va="center", transform=ax.transAxes, fontsize=10, color="#666666", wrap=True)


def phase_spans(phases: pd.DataFrame | None, kind: str = "three") -> list[tuple[str, int, int]]:
    """Phase rows as ``(phase, start_epoch, end_epoch)`` sorted by start.

    ``kind="three"`` returns the ``phase1..phase3`` rows, ``kind="two"`` the ``two_phase_*`` rows; when the
    requested kind has no rows the other kind is returned (so a run with only one detection still shades).

    >>> phases = pd.DataFrame({"phase": ["phase2", "phase1", "two_phase_1"], "start_epoch": [3, 0, 0],
    ...                        "end_epoch": [9, 2, 4]})
    >>> phase_spans(phases), phase_spans(phases, "two"), phase_spans(None)
    ([('phase1', 0, 2), ('phase2', 3, 9)], [('two_phase_1', 0, 4)], [])
    """
    if phases is None or len(phases) == 0 or not {"phase", "start_epoch", "end_epoch"} <= set(phases.columns):
        return []
    rows = phases.dropna(subset=["start_epoch", "end_epoch"])
    names = rows["phase"].astype(str)
    two = names.str.startswith("two_phase")
    preferred, other = (rows[two], rows[~two]) if kind == "two" else (rows[~two], rows[two])
    chosen = preferred if len(preferred) else other
    out = [(str(r.phase), int(r.start_epoch), int(r.end_epoch)) for r in chosen.itertuples(index=False)]
    return sorted(out, key=lambda t: (t[1], t[0]))


def _shade_phases(ax, spans: Sequence[tuple[str, int, int]], *, label: bool = True) -> list[Patch]:
    """Shade ``[start - 0.5, end + 0.5]`` of each phase (integer epochs, end inclusive); legend handles."""
    handles: list[Patch] = []
    for name, start, end in spans:
        color = _PHASE_COLORS.get(name, "#999999")
        ax.axvspan(start - 0.5, end + 0.5, color=color, alpha=0.12, lw=0, zorder=0)
        if label:
            handles.append(Patch(facecolor=color, alpha=0.3, label=_PHASE_LABELS.get(name, name)))
    return handles


def _phase_lines(ax, spans: Sequence[tuple[str, int, int]]) -> None:
    """Dashed vertical lines at the phase boundaries (between consecutive phases)."""
    for (_, _, end), (name, start, _) in zip(spans[:-1], spans[1:]):
        x = (end + start) / 2.0 if start > end else start - 0.5
        ax.axvline(x, color=_PHASE_COLORS.get(name, "#333333"), ls="--", lw=1.2)


def pick_checkpoints(
    available: Iterable[int], phases: pd.DataFrame | None = None, count: int = 4
) -> list[int]:
    """Choose ~``count`` checkpoints to show: first, end of phase 1, end of phase 2, last.

    Each target epoch maps to the latest available checkpoint at or before it (the first one if none).
    Without three-phase rows the checkpoints are evenly spaced over the available ones.

    >>> phases = pd.DataFrame({"phase": ["phase1", "phase2", "phase3"], "start_epoch": [0, 3, 6], "end_epoch": [2, 5, 9]})
    >>> pick_checkpoints([0, 1, 2, 4, 8, 9], phases)  # phase 2 ends at 5: the latest checkpoint before is 4
    [0, 2, 4, 9]
    >>> pick_checkpoints(range(10))  # no phases: evenly spaced
    [0, 3, 6, 9]
    """
    ckpts = sorted({int(c) for c in available})
    if not ckpts:
        return []
    spans = [s for s in phase_spans(phases, "three") if s[0].startswith("phase")]
    if spans:
        ends = {name: end for name, _, end in spans}
        targets = [ckpts[0]]
        targets += [ends[p] for p in ("phase1", "phase2") if p in ends]
        targets.append(ckpts[-1])
        arr = np.asarray(ckpts)
        chosen = []
        for t in targets:
            before = arr[arr <= t]
            chosen.append(int(before[-1]) if before.size else int(arr[0]))
        return list(dict.fromkeys(chosen))
    idx = np.unique(np.round(np.linspace(0, len(ckpts) - 1, min(count, len(ckpts)))).astype(int))
    return [ckpts[i] for i in idx]


def _require(df: pd.DataFrame | None, columns: Sequence[str], what: str) -> pd.DataFrame:
    """Raise ``ValueError`` naming the missing columns (the page turns it into a note)."""
    if df is None:
        raise ValueError(f"{what} is missing")
    missing = [c for c in columns if c not in df.columns]
    if missing:
        raise ValueError(f"{what} lacks column(s) {', '.join(missing)}")
    return df


def _select_type(df: pd.DataFrame, value_cols: Sequence[str], keys: Sequence[str]) -> tuple[pd.DataFrame, str]:
    """Rows of type ``"all"`` when present, else the sum of the types (AND + OR) per ``keys``."""
    if "type" not in df.columns:
        return df, "all"
    types = set(df["type"].astype(str))
    if "all" in types:
        return df[df["type"].astype(str) == "all"], "all"
    summed = df.groupby(list(keys), as_index=False, observed=True)[list(value_cols)].sum(min_count=1)
    return summed, "+".join(sorted(types))


# ---------------------------------------------------------------------------------------- figure 1
def training_curves_figure(training: pd.DataFrame, phases: pd.DataFrame | None = None) -> Figure:
    """Figure 1: train/test loss and accuracy per epoch of the model under study, phases shaded.

    Args:
        training: ``training.parquet`` (``model, epoch, split, loss, accuracy``); rows of
            ``model == "model"`` are used (all rows if there is no ``model`` column).
        phases: ``phases.parquet`` (optional); three-phase rows are shaded.

    >>> training = pd.DataFrame({"model": "model", "epoch": [0, 1, 2] * 2, "split": ["train"] * 3 + ["test"] * 3,
    ...                          "loss": [1.0, 0.5, 0.2, 1.0, 0.7, 0.8], "accuracy": [0.5, 0.8, 0.9, 0.5, 0.7, 0.7]})
    >>> fig = training_curves_figure(training)
    >>> [ax.get_title() for ax in fig.axes], [line.get_label() for line in fig.axes[0].get_lines()]
    (['loss', 'accuracy'], ['train', 'test'])
    """
    _require(training, ["epoch", "split", "loss"], "training.parquet")
    df = training
    if "model" in df.columns:
        df = df[df["model"].astype(str) == "model"]
    if len(df) == 0:
        raise ValueError("training.parquet has no rows for model 'model'")
    spans = phase_spans(phases, "three")
    fig = _figure(11, 3.8)
    ax_loss, ax_acc = fig.subplots(1, 2)
    handles: list = []
    for split in _split_order(df["split"]):
        part = df[df["split"].astype(str) == split].groupby("epoch", as_index=False).mean(numeric_only=True)
        part = part.sort_values("epoch")
        color = _split_color(split)
        (h,) = ax_loss.plot(part["epoch"], part["loss"], color=color, marker="." if len(part) < 60 else None, label=split)
        handles.append(h)
        if "accuracy" in part.columns and part["accuracy"].notna().any():
            ax_acc.plot(part["epoch"], part["accuracy"], color=color, marker="." if len(part) < 60 else None, label=split)
    if "accuracy" not in df.columns or not df["accuracy"].notna().any():
        _empty_note(ax_acc, "no accuracy recorded")
    phase_handles = _shade_phases(ax_loss, spans)
    _shade_phases(ax_acc, spans, label=False)
    ep = pd.to_numeric(df["epoch"], errors="coerce").dropna()
    for ax in (ax_loss, ax_acc):
        ax.set_xlim(float(ep.min()) - 0.5, float(ep.max()) + 0.5)
    _int_x(ax_loss, ax_acc)
    ax_loss.set(xlabel="epoch", ylabel="cross-entropy loss", title="loss")
    ax_acc.set(xlabel="epoch", ylabel="accuracy", title="accuracy")
    ax_loss.legend(handles=handles + phase_handles, fontsize=8, loc="best")
    for ax in (ax_loss, ax_acc):
        ax.grid(alpha=0.3)
    return fig


# ---------------------------------------------------------------------------------------- figure 2
def h_bar_figure(h_bar: pd.DataFrame, phases: pd.DataFrame | None = None, summary: pd.DataFrame | None = None,
                 ceiling: pd.DataFrame | None = None, null: pd.DataFrame | None = None) -> Figure:
    """Figure 2: H-bar per checkpoint, mean over samples per split with a band; phases shaded.

    ``ceiling`` (the ``h_bar_ceiling`` table: ``split, mean``): a dashed horizontal line per split at
    the baselines' own H-bar against each other.

    ``null`` (the ``h_bar_null`` table: ``checkpoint, split, null, mean, ci_low, ci_high``): the chance
    level, drawn under the curves as one grey, labelled band per null (its interval; train split).

    The band is the bootstrap interval of ``summary`` (the ``h_bar_summary`` table: ``checkpoint,
    split, mean, ci_low, ci_high``) where it has the split, else +-1 std of the samples. NaN values
    (samples without salient interactions) are left out of the mean; a checkpoint where every
    sample of a split is NaN leaves a gap in the line.

    >>> h_bar = pd.DataFrame({"checkpoint": [0, 0, 5, 5], "sample": [0, 1, 0, 1], "split": ["train", "test"] * 2,
    ...                       "h_bar": [1.0, 1.0, 0.6, np.nan]})
    >>> fig = h_bar_figure(h_bar)
    >>> len(fig.axes), [line.get_label() for line in fig.axes[0].get_lines()]
    (1, ['train samples (+-1 std)', 'test samples (+-1 std)'])
    >>> h_bar_figure(h_bar.drop(columns="split"))
    Traceback (most recent call last):
    ...
    ValueError: h_bar.parquet lacks column(s) split
    """
    _require(h_bar, ["checkpoint", "split", "h_bar"], "h_bar.parquet")
    if len(h_bar) == 0:
        raise ValueError("h_bar.parquet is empty")
    spans = phase_spans(phases, "three")
    fig = _figure(11, 3.8)
    ax = fig.subplots()
    handles: list = []
    df = h_bar.assign(h_bar=pd.to_numeric(h_bar["h_bar"], errors="coerce"))
    for split in _split_order(df["split"]):
        g = df[df["split"].astype(str) == split].groupby("checkpoint")["h_bar"]
        stats = pd.DataFrame({"mean": g.mean(), "std": g.std(ddof=0), "n": g.count()}).sort_index()
        x = stats.index.to_numpy(dtype=float)
        mean = stats["mean"].to_numpy(dtype=float)
        std = np.nan_to_num(stats["std"].to_numpy(dtype=float))
        color = _split_color(split)
        band = None
        if summary is not None and {"checkpoint", "split", "ci_low", "ci_high"} <= set(summary.columns):
            part = summary[summary["split"].astype(str) == split].set_index("checkpoint").sort_index()
            if len(part):
                band = (part["ci_low"].reindex(stats.index).to_numpy(dtype=float),
                        part["ci_high"].reindex(stats.index).to_numpy(dtype=float))
        label = f"{split} samples" + (" (95% bootstrap CI)" if band is not None else " (+-1 std)")
        (h,) = ax.plot(x, mean, color=color, marker="." if len(x) < 60 else None, label=label)
        handles.append(h)
        lo, hi = band if band is not None else (np.clip(mean - std, 0, 1), np.clip(mean + std, 0, 1))
        ax.fill_between(x, lo, hi, color=color, alpha=0.18, lw=0)
        if ceiling is not None and {"split", "mean"} <= set(ceiling.columns):
            c = pd.to_numeric(ceiling.loc[ceiling["split"].astype(str) == split, "mean"], errors="coerce").dropna()
            if len(c):
                handles.append(ax.axhline(float(c.iloc[0]), color=color, ls="--", lw=1.2,
                                          label=f"ceiling, {split} (baselines vs each other)"))
    handles += _null_bands(ax, null)
    ck = pd.to_numeric(df["checkpoint"], errors="coerce").dropna()
    if len(ck):
        ax.set_xlim(float(ck.min()) - 0.5, float(ck.max()) + 0.5)
    _int_x(ax)
    if not df["h_bar"].notna().any():
        _empty_note(ax, "H-bar is undefined at every checkpoint (no salient interactions)")
    handles += _shade_phases(ax, spans)
    ax.set(xlabel="epoch (checkpoint)", ylabel=r"$\bar{H}$", ylim=(-0.02, 1.02), title=r"$\bar{H}$ through training")
    ax.grid(alpha=0.3)
    ax.legend(handles=handles, fontsize=8, loc="best")
    return fig


_NULL_STYLE = {"order_permutation": ("#7f7f7f", "chance: order-permutation null"),
               "permuted_labels": ("#bcbd22", "chance: permuted-labels null")}


def _null_bands(ax: Any, null: pd.DataFrame | None, split: str = "train") -> list:
    """One band per null of the ``h_bar_null`` table (its interval, else its mean as a line) under the curves."""
    if null is None or not len(null) or not {"checkpoint", "split", "null", "mean"} <= set(null.columns):
        return []
    part = null[null["split"].astype(str) == split]
    handles = []
    names = [n for n in _NULL_STYLE if n in set(part["null"].astype(str))]
    names += sorted(set(part["null"].astype(str)) - set(names))
    for i, name in enumerate(names):
        rows = part[part["null"].astype(str) == name].sort_values("checkpoint")
        x = pd.to_numeric(rows["checkpoint"], errors="coerce").to_numpy(dtype=float)
        color, label = _NULL_STYLE.get(name, (("#8c564b", "#e377c2")[i % 2], f"chance: {name}"))
        label += f" ({split})"
        if {"ci_low", "ci_high"} <= set(rows.columns):
            lo = pd.to_numeric(rows["ci_low"], errors="coerce").to_numpy(dtype=float)
            hi = pd.to_numeric(rows["ci_high"], errors="coerce").to_numpy(dtype=float)
            handles.append(ax.fill_between(x, lo, hi, color=color, alpha=0.30, lw=0, zorder=0, hatch="//",
                                           label=label + ", interval"))
        else:
            (h,) = ax.plot(x, pd.to_numeric(rows["mean"], errors="coerce").to_numpy(dtype=float), color=color,
                           ls=":", lw=1.5, zorder=1, label=label)
            handles.append(h)
    return handles


def evidence_figure(evidence: pd.DataFrame) -> Figure:
    """Strength by ``n_agree`` over training (the ``evidence`` table, ``type == "all"``, summed over orders):
    one panel per split, one line per ``n_agree``.

    >>> from genphase import AndOrInteractions
    >>> from genphase.analysis import evidence_series
    >>> m = AndOrInteractions.from_effects(np.array([[0, 0, 0, 2.0], [0, 1.0, 0, 0]]), np.zeros((2, 4)))
    >>> b = AndOrInteractions.from_effects(np.array([[0, 0, 0, 1.0], [0, 1.0, 0, 0]]), np.zeros((2, 4)))
    >>> fig = evidence_figure(evidence_series([(0, b), (5, m)], [b, m], split=["train", "test"]))
    >>> [ax.get_title() for ax in fig.axes], [line.get_label() for line in fig.axes[0].get_lines()]  # K = 2
    (['train samples', 'test samples'], ['n_agree = 0', 'n_agree = 1', 'n_agree = 2'])
    """
    _require(evidence, ["checkpoint", "split", "type", "order", "n_agree", "strength"], "evidence.parquet")
    df = evidence[evidence["type"].astype(str) == "all"]
    if len(df) == 0:
        raise ValueError("evidence.parquet has no rows of type 'all'")
    splits = _split_order(df["split"])
    fig = _figure(11, 3.6)
    axes = np.atleast_1d(fig.subplots(1, len(splits), sharey=True))
    K = int(df["n_agree"].max())
    from matplotlib import colormaps

    cmap = colormaps["viridis"]
    for ax, split in zip(axes, splits):
        g = df[df["split"].astype(str) == split].groupby(["n_agree", "checkpoint"])["strength"].sum()
        for a in range(K + 1):
            if a in g.index.get_level_values(0):
                part = g.loc[a].sort_index()
                ax.plot(part.index.to_numpy(dtype=float), part.to_numpy(dtype=float), marker=".",
                        color=cmap(a / max(K, 1)), label=f"n_agree = {a}")
        ax.set(xlabel="epoch (checkpoint)", title=f"{split} samples")
        _int_x(ax)
        ax.grid(alpha=0.3)
    axes[0].set_ylabel("salient strength, sum of |I|")
    axes[0].legend(fontsize=8, loc="best")
    return fig


# ---------------------------------------------------------------------------------------- figure 3
def order_strengths_figure(order_strengths: pd.DataFrame, checkpoints: Sequence[int]) -> Figure:
    """Figure 3 (paper Fig. 2): per order, total+ / total- bars with generalizable gen+ / gen- overlaid.

    One column per checkpoint, one row per split; values are the mean over the samples of that split
    (a sample without salient interactions of some order counts as 0). Uses ``type == "all"`` rows when
    present, else AND + OR.

    >>> from genphase import AndOrInteractions
    >>> from genphase.analysis import analyze_series
    >>> m = AndOrInteractions.from_effects(np.array([[0, 0, 0, 2.0], [0, 1.0, 0, 0]]), np.array([[0, 0, 0, 1.0], [0, 0, 0, 0]]))
    >>> b = AndOrInteractions.from_effects(np.array([[0, 0, 0, 1.0], [0, 1.0, 0, 0]]), np.zeros((2, 4)))
    >>> tables = analyze_series({0: b, 5: m}, [b, m], split=["train", "test"], n_resamples=0)  # n = 2, K = 2
    >>> fig = order_strengths_figure(tables["order_strengths"], [0, 5])
    >>> [ax.get_title() for ax in fig.axes]
    ['train samples, epoch 0', 'train samples, epoch 5', 'test samples, epoch 0', 'test samples, epoch 5']
    """
    cols = ["checkpoint", "sample", "split", "order", "sign", "total", "generalizable"]
    _require(order_strengths, cols, "order_strengths.parquet")
    df, typ = _select_type(order_strengths, ["total", "generalizable"], ["checkpoint", "sample", "split", "order", "sign"])
    df = df[df["checkpoint"].isin(list(checkpoints))]
    if len(df) == 0 or not len(checkpoints):
        raise ValueError("order_strengths.parquet has no rows at the selected checkpoints")
    n_samples = df.groupby(["checkpoint", "split"])["sample"].nunique()
    sums = df.groupby(["checkpoint", "split", "order", "sign"])[["total", "generalizable"]].sum()
    splits = _split_order(df["split"])
    orders = np.arange(1, int(df["order"].max()) + 1)
    fig = _figure(max(7.0, 2.9 * len(checkpoints)), 2.8 * len(splits) + 0.6)
    axes = np.atleast_2d(fig.subplots(len(splits), len(checkpoints), sharex=True, sharey=True, squeeze=False))
    for r, split in enumerate(splits):
        for c, ck in enumerate(checkpoints):
            ax = axes[r, c]
            denom = n_samples.get((ck, split), 0)
            if not denom:
                _empty_note(ax, "no samples")
                continue
            vals = {}
            for sign in ("+", "-"):
                for col in ("total", "generalizable"):
                    vals[(sign, col)] = np.array(
                        [sums[col].get((ck, split, int(m), sign), 0.0) for m in orders], dtype=float
                    ) / denom
            ax.bar(orders, vals[("+", "total")], width=0.8, color=_POS_LIGHT)
            ax.bar(orders, vals[("-", "total")], width=0.8, color=_NEG_LIGHT)
            ax.bar(orders, vals[("+", "generalizable")], width=0.45, color=_POS_DARK)
            ax.bar(orders, vals[("-", "generalizable")], width=0.45, color=_NEG_DARK)
            ax.axhline(0, color="black", lw=0.6)
            ax.set_title(f"{split} samples, epoch {ck}", fontsize=9)
            ax.grid(axis="y", alpha=0.3)
            if r == len(splits) - 1:
                ax.set_xlabel("order m")
            if c == 0:
                ax.set_ylabel("strength")
    axes[0, 0].set_xticks(orders if len(orders) <= 12 else orders[:: max(1, len(orders) // 8)])
    fig.legend(
        handles=[
            Patch(color=_POS_LIGHT, label="total +"),
            Patch(color=_NEG_LIGHT, label="total -"),
            Patch(color=_POS_DARK, label="generalizable +"),
            Patch(color=_NEG_DARK, label="generalizable -"),
        ],
        loc="outside lower center",
        ncols=4,
        fontsize=8,
    )
    if typ != "all":
        fig.suptitle(f"interaction types summed: {typ}", fontsize=9)
    return fig


# ---------------------------------------------------------------------------------------- figure 4
def baseline_ablation_figure(baseline_ablation: pd.DataFrame, checkpoints: Sequence[int]) -> Figure:
    """Figure 4 (paper Fig. 3): mean H-bar (NaN left out) vs k = 1..K, one line per checkpoint, per split.

    >>> from genphase import AndOrInteractions
    >>> from genphase.analysis import analyze_series
    >>> m = AndOrInteractions.from_effects(np.array([[0, 0, 0, 2.0], [0, 1.0, 0, 0]]), np.array([[0, 0, 0, 1.0], [0, 0, 0, 0]]))
    >>> b = AndOrInteractions.from_effects(np.array([[0, 0, 0, 1.0], [0, 1.0, 0, 0]]), np.zeros((2, 4)))
    >>> tables = analyze_series({0: b, 5: m}, [b, m], split=["train", "test"], n_resamples=0)  # n = 2, K = 2
    >>> fig = baseline_ablation_figure(tables["baseline_ablation"], [0, 5])
    >>> [ax.get_title() for ax in fig.axes], [line.get_label() for line in fig.axes[0].get_lines()]
    (['train samples', 'test samples'], ['epoch 0', 'epoch 5'])
    >>> fig.axes[0].get_lines()[1].get_xdata().tolist()  # k = 1..K
    [1, 2]
    """
    _require(baseline_ablation, ["checkpoint", "k", "split", "h_bar"], "baseline_ablation.parquet")
    df = baseline_ablation[baseline_ablation["checkpoint"].isin(list(checkpoints))]
    if len(df) == 0:
        raise ValueError("baseline_ablation.parquet has no rows at the selected checkpoints")
    splits = _split_order(df["split"])
    fig = _figure(5.2 * len(splits), 3.8)
    axes = np.atleast_1d(fig.subplots(1, len(splits), sharey=True, squeeze=False)[0])
    cmap = _cmap("viridis")
    norm = Normalize(0, max(1, len(checkpoints) - 1))
    ks = sorted(int(k) for k in df["k"].unique())
    for ax, split in zip(axes, splits):
        part = df[df["split"].astype(str) == split]
        for i, ck in enumerate(checkpoints):
            g = part[part["checkpoint"] == ck].groupby("k")["h_bar"].mean().sort_index()
            if len(g):
                ax.plot(g.index, g.to_numpy(dtype=float), marker="o", color=cmap(norm(i)), label=f"epoch {ck}")
        ax.set(xlabel="number of baseline DNNs k", title=f"{split} samples", ylim=(-0.02, 1.02))
        ax.set_xticks(ks if len(ks) <= 12 else ks[:: max(1, len(ks) // 8)])
        ax.grid(alpha=0.3)
    axes[0].set_ylabel(r"mean $\bar{H}$")
    axes[-1].legend(fontsize=8, loc="best")
    return fig


def _cmap(name: str):
    from matplotlib import colormaps

    return colormaps[name]


# ---------------------------------------------------------------------------------------- figure 5
def removal_loss_figure(removal_loss: pd.DataFrame, phases: pd.DataFrame | None = None) -> Figure:
    """Figure 5 (paper Fig. 5): mean loss per split with / without non-generalizable interactions.

    Left: the four loss curves (solid = original ``loss``, dashed = ``loss_removed``); right: the test
    minus train gap of each.

    >>> from genphase import AndOrInteractions
    >>> from genphase.analysis import analyze_series
    >>> m = AndOrInteractions.from_effects(np.array([[0, 0, 0, 2.0], [0, 1.0, 0, 0]]), np.array([[0, 0, 0, 1.0], [0, 0, 0, 0]]))
    >>> b = AndOrInteractions.from_effects(np.array([[0, 0, 0, 1.0], [0, 1.0, 0, 0]]), np.zeros((2, 4)))
    >>> tables = analyze_series({0: b, 5: m}, [b, m], split=["train", "test"], n_resamples=0)  # n = 2, K = 2
    >>> fig = removal_loss_figure(tables["removal_loss"])
    >>> [ax.get_title() for ax in fig.axes]
    ['loss on explained samples', 'train-test loss gap']
    """
    _require(removal_loss, ["checkpoint", "split", "loss", "loss_removed"], "removal_loss.parquet")
    if len(removal_loss) == 0:
        raise ValueError("removal_loss.parquet is empty")
    spans = phase_spans(phases, "three")
    means = removal_loss.groupby(["split", "checkpoint"])[["loss", "loss_removed"]].mean()
    fig = _figure(11, 3.8)
    ax, ax_gap = fig.subplots(1, 2)
    for split in _split_order(removal_loss["split"]):
        part = means.loc[split].sort_index()
        color = _split_color(split)
        ax.plot(part.index, part["loss"], color=color, label=f"{split}")
        ax.plot(part.index, part["loss_removed"], color=color, ls="--", label=f"{split}, non-generalizable removed")
    splits = set(removal_loss["split"].astype(str))
    if {"train", "test"} <= splits:
        tr, te = means.loc["train"], means.loc["test"]
        gap = (te - tr).dropna().sort_index()
        ax_gap.plot(gap.index, gap["loss"], color="black", label="original")
        ax_gap.plot(gap.index, gap["loss_removed"], color="black", ls="--", label="non-generalizable removed")
        ax_gap.axhline(0, color="#888888", lw=0.6)
        ax_gap.legend(fontsize=8, loc="best")
    else:
        _empty_note(ax_gap, "needs both train and test samples")
    handles, _ = ax.get_legend_handles_labels()
    handles += _shade_phases(ax, spans)
    _shade_phases(ax_gap, spans, label=False)
    ck = removal_loss["checkpoint"].astype(float)
    for a in (ax, ax_gap):
        a.set_xlim(ck.min() - 0.5, ck.max() + 0.5)
    _int_x(ax, ax_gap)
    ax.legend(handles=handles, fontsize=8, loc="best")
    ax.set(xlabel="epoch (checkpoint)", ylabel="mean -log sigmoid(v)", title="loss on explained samples")
    ax_gap.set(xlabel="epoch (checkpoint)", ylabel="test loss - train loss", title="train-test loss gap")
    for a in (ax, ax_gap):
        a.grid(alpha=0.3)
    return fig


# ---------------------------------------------------------------------------------------- figure 6
def _edges(x: np.ndarray) -> np.ndarray:
    """Cell edges around sorted centres ``x`` (midpoints; +-0.5 for a single centre)."""
    x = np.asarray(x, dtype=float)
    if x.size == 1:
        return np.array([x[0] - 0.5, x[0] + 0.5])
    mid = (x[1:] + x[:-1]) / 2
    return np.concatenate([[x[0] - (mid[0] - x[0])], mid, [x[-1] + (x[-1] - mid[-1])]])


def order_distribution_figure(
    order_distribution: pd.DataFrame,
    jaccard: pd.DataFrame | None = None,
    phases: pd.DataFrame | None = None,
    *,
    value: str = "strength_rel",
) -> Figure:
    """Figure 6: heatmaps of the per-order strength (``value``; + and - separately) over checkpoints.

    One heatmap row per split (x = epoch, y = order; colour = strength, negative shown by magnitude),
    plus, when ``jaccard`` is given, the train-test weighted Jaccard similarity per order over
    checkpoints. Two-phase boundaries (or three-phase ones if only those exist) are dashed lines.

    >>> from genphase import AndOrInteractions
    >>> from genphase.analysis import analyze_series
    >>> m = AndOrInteractions.from_effects(np.array([[0, 0, 0, 2.0], [0, 1.0, 0, 0]]), np.array([[0, 0, 0, 1.0], [0, 0, 0, 0]]))
    >>> b = AndOrInteractions.from_effects(np.array([[0, 0, 0, 1.0], [0, 1.0, 0, 0]]), np.zeros((2, 4)))
    >>> tables = analyze_series({0: b, 5: m}, [b, m], split=["train", "test"], n_resamples=0)  # n = 2, K = 2
    >>> fig = order_distribution_figure(tables["order_distribution"], tables["jaccard"])
    >>> [ax.get_title() for ax in fig.axes if ax.get_title()]  # + colour bars (untitled axes)
    ['train samples, positive', 'train samples, negative (|strength|)',
     'test samples, positive', 'test samples, negative (|strength|)',
     'train-test Jaccard similarity per order (type all)']
    """
    _require(order_distribution, ["checkpoint", "split", "order", "sign", value], "order_distribution.parquet")
    if len(order_distribution) == 0:
        raise ValueError("order_distribution.parquet is empty")
    df, typ = _select_type(order_distribution, [value], ["checkpoint", "split", "order", "sign"])
    spans = phase_spans(phases, "two")
    splits = _split_order(df["split"])
    ckpts = np.array(sorted(df["checkpoint"].unique()), dtype=float)
    orders = np.arange(1, int(df["order"].max()) + 1)
    grids: dict[tuple[str, str], np.ndarray] = {}
    for split in splits:
        for sign in ("+", "-"):
            part = df[(df["split"].astype(str) == split) & (df["sign"].astype(str) == sign)]
            piv = part.pivot_table(index="order", columns="checkpoint", values=value, aggfunc="sum")
            piv = piv.reindex(index=orders, columns=ckpts)
            grids[(split, sign)] = np.abs(piv.to_numpy(dtype=float))
    has_j = jaccard is not None and {"checkpoint", "order", "jaccard"} <= set(jaccard.columns) and len(jaccard) > 0
    nrows = len(splits) + (1 if has_j else 0)
    fig = _figure(11, 2.6 * nrows + 0.4)
    gs = fig.add_gridspec(nrows, 2)
    x_edges, y_edges = _edges(ckpts), _edges(orders.astype(float))
    vmax = {
        sign: max([np.nanmax(g) for (s, sg), g in grids.items() if sg == sign and np.isfinite(g).any()] or [1.0]) or 1.0
        for sign in ("+", "-")
    }
    label = {"strength_rel": "strength / mean |v(N)-v(empty)|", "strength": "strength", "strength_share": "share"}.get(
        value, value
    )
    for r, split in enumerate(splits):
        for c, (sign, cmap) in enumerate((("+", "Reds"), ("-", "Blues"))):
            ax = fig.add_subplot(gs[r, c])
            mesh = ax.pcolormesh(x_edges, y_edges, np.ma.masked_invalid(grids[(split, sign)]), cmap=cmap,
                                 vmin=0, vmax=vmax[sign], shading="flat")
            _phase_lines(ax, spans)
            ax.set_xlim(x_edges[0], x_edges[-1])
            _int_x(ax)
            ax.set(ylabel="order m", title=f"{split} samples, {'positive' if sign == '+' else 'negative (|strength|)'}")
            ax.set_yticks(orders if len(orders) <= 12 else orders[:: max(1, len(orders) // 8)])
            if r == len(splits) - 1:
                ax.set_xlabel("epoch (checkpoint)")
            fig.colorbar(mesh, ax=ax, label=label if c == 1 else None, shrink=0.9)
    if has_j:
        ax = fig.add_subplot(gs[nrows - 1, :])
        jd = jaccard
        jtyp = "all"
        if "type" in jd.columns:
            types = sorted(set(jd["type"].astype(str)))
            jtyp = "all" if "all" in types else types[0]
            jd = jd[jd["type"].astype(str) == jtyp]
        j_orders = sorted(int(o) for o in jd["order"].unique())
        cmap = _cmap("viridis")
        norm = Normalize(min(j_orders), max(max(j_orders), min(j_orders) + 1))
        for m in j_orders:
            part = jd[jd["order"] == m].groupby("checkpoint")["jaccard"].mean().sort_index()
            ax.plot(part.index, part.to_numpy(dtype=float), color=cmap(norm(m)), marker="." if len(part) < 60 else None,
                    label=f"m = {m}")
        _shade_phases(ax, spans, label=False)
        ax.set_xlim(min(x_edges[0], float(jd["checkpoint"].min()) - 0.5), max(x_edges[-1], float(jd["checkpoint"].max()) + 0.5))
        _int_x(ax)
        ax.set(xlabel="epoch (checkpoint)", ylabel="weighted Jaccard", ylim=(-0.02, 1.02),
               title=f"train-test Jaccard similarity per order (type {jtyp})")
        ax.grid(alpha=0.3)
        ax.legend(fontsize=7, ncols=min(6, len(j_orders)), loc="best")
    if typ != "all":
        fig.suptitle(f"interaction types summed: {typ}", fontsize=9)
    if spans:
        fig.legend(
            handles=[Line2D([], [], color=_PHASE_COLORS.get(n, "#333333"), ls="--", label=f"start of {_PHASE_LABELS.get(n, n)}")
                     for n, _, _ in spans[1:]],
            loc="outside lower center", ncols=3, fontsize=8,
        )
    return fig


# ---------------------------------------------------------------------------------------- figure 7
@dataclass
class ExplainedSample:
    """One explained sample prepared for :func:`salient_interactions_figure`.

    ``top`` is :meth:`AndOrInteractions.top_k` output (``type, mask, order, variables, effect``);
    ``image`` is the input (``[C, H, W]``, ``[H, W]`` or ``[H, W, C]``) for image runs, else ``None``.

    >>> top = pd.DataFrame({"type": ["and"], "mask": [3], "order": [2], "variables": [("x0", "x1")], "effect": [2.0]})
    >>> s = ExplainedSample(index=0, split="train", top=top, label=1)
    >>> s.split, s.image is None
    ('train', True)
    """

    index: int
    split: str
    top: pd.DataFrame
    label: int | None = None
    image: np.ndarray | None = None


def pick_explained_samples(
    interactions,
    split: Sequence[str],
    *,
    per_split: int = 2,
    top_k: int = 4,
    inputs: np.ndarray | None = None,
    labels: np.ndarray | None = None,
) -> list[ExplainedSample]:
    """The first ``per_split`` train and test samples with their ``top_k`` interactions (singletons merged).

    ``interactions`` is an :class:`~genphase.interactions.AndOrInteractions` with batch ``[2M]`` in the
    order of ``split``; samples beyond the shorter of the two are ignored.

    >>> from genphase import AndOrInteractions
    >>> m = AndOrInteractions.from_effects(np.array([[0, 0, 0, 2.0], [0, 1.0, 0, 0]]), np.array([[0, 0, 0, 1.0], [0, 0, 0, 0]]))
    >>> picked = pick_explained_samples(m, ["train", "test"], top_k=2, labels=np.array([1, 0]))
    >>> [(s.split, s.index, s.label) for s in picked]
    [('train', 0, 1), ('test', 1, 0)]
    >>> picked[0].top[["type", "mask", "effect"]].values.tolist()  # strongest first, zero effects dropped
    [['and', 3, 2.0], ['or', 3, 1.0]]
    """
    merged = interactions.merged()
    count = min(len(split), merged.batch_shape[0] if merged.batch_shape else 1)
    out: list[ExplainedSample] = []
    for name in ("train", "test"):
        idx = [i for i in range(count) if str(split[i]) == name][:per_split]
        for i in idx:
            top = merged.top_k(top_k, sample=i)
            top = top[top["effect"] != 0].reset_index(drop=True)
            image = inputs[i] if inputs is not None and i < len(inputs) else None
            label = int(labels[i]) if labels is not None and i < len(labels) else None
            out.append(ExplainedSample(index=i, split=name, top=top, label=label, image=image))
    return out


def _to_rgb(image: np.ndarray) -> np.ndarray:
    """Any ``[C,H,W]``/``[H,W,C]``/``[H,W]`` array as an ``[H,W,3]`` float image in [0, 1] (min-max)."""
    img = np.asarray(image, dtype=float)
    if img.ndim == 3 and img.shape[0] in (1, 3, 4) and img.shape[-1] not in (1, 3, 4):
        img = np.moveaxis(img, 0, -1)
    elif img.ndim == 3 and img.shape[0] in (1, 3, 4) and img.shape[-1] in (1, 3, 4):
        img = np.moveaxis(img, 0, -1)  # ambiguous tiny image: the contract says [C, H, W]
    if img.ndim == 3:
        if img.shape[-1] == 1:
            img = img[..., 0]
        elif img.shape[-1] == 4:
            img = img[..., :3]
        elif img.shape[-1] != 3:
            img = img.mean(-1)
    if img.ndim != 2 and not (img.ndim == 3 and img.shape[-1] == 3):
        raise ValueError(f"cannot display an input of shape {np.shape(image)} as an image")
    img = np.nan_to_num(img)
    lo, hi = float(img.min()), float(img.max())
    img = (img - lo) / (hi - lo) if hi > lo else np.zeros_like(img)
    if img.ndim == 2:
        img = np.repeat(img[..., None], 3, axis=-1)
    return img


def literal(text: object) -> str:
    r"""``text`` as matplotlib shows it verbatim: ``$`` escaped, so that no name is parsed as mathtext.

    >>> print(literal("cost $5 vs $6"))
    cost \$5 vs \$6
    """
    return str(text).replace("$", r"\$")


def _members(mask: int, n: int) -> list[int]:
    return [j for j in range(n) if (int(mask) >> j) & 1]


def _interaction_label(row, names: Sequence[str], width: int = 42) -> str:
    members = [names[j] if j < len(names) else f"x{j}" for j in _members(row.mask, len(names) or 64)]
    joiner = " & " if row.type == "and" else " | "
    text = f"{row.type.upper()}: {joiner.join(str(m) for m in members)}"
    return literal(text if len(text) <= width else text[: width - 1] + "\u2026")


def salient_interactions_figure(
    samples: Sequence[ExplainedSample],
    *,
    modality: str,
    variable_names: Sequence[str],
    patch_boxes: Sequence[Sequence[int]] | None = None,
) -> Figure:
    """Figure 7: the top interactions of a few samples.

    For ``modality == "image"`` with ``patch_boxes`` (``[row0, col0, row1, col1]``, end exclusive) and an
    image per sample: one row per sample, the input then one panel per interaction in which the
    interaction's patches are kept and outlined (red = positive, blue = negative; solid = AND, dashed =
    OR) and the rest is faded. Otherwise: one horizontal bar chart per sample, labelled with the variable
    names (OR bars hatched).

    >>> from genphase import AndOrInteractions
    >>> m = AndOrInteractions.from_effects(np.array([[0, 0, 0, 2.0], [0, 1.0, 0, 0]]), np.array([[0, 0, 0, 1.0], [0, 0, 0, 0]]))
    >>> picked = pick_explained_samples(m, ["train", "test"], top_k=2)
    >>> fig = salient_interactions_figure(picked, modality="tabular", variable_names=["age", "dose"])
    >>> [ax.get_title() for ax in fig.axes], [t.get_text() for t in fig.axes[0].get_yticklabels()]
    (['train sample #0', 'test sample #1'], ['OR: age | dose', 'AND: age & dose'])
    """
    if not samples:
        raise ValueError("no explained samples to draw")
    names = list(variable_names)
    is_image = modality == "image" and patch_boxes and all(s.image is not None for s in samples)
    if is_image:
        return _image_panels(samples, names, [list(map(int, b)) for b in patch_boxes])
    return _bar_panels(samples, names)


def _sample_title(s: ExplainedSample) -> str:
    label = f", label {s.label}" if s.label is not None else ""
    return literal(f"{s.split} sample #{s.index}{label}")


def _image_panels(samples: Sequence[ExplainedSample], names: list[str], boxes: list[list[int]]) -> Figure:
    k = max(1, max(len(s.top) for s in samples))
    fig = _figure(1.9 * (k + 1) + 0.4, 2.1 * len(samples) + 0.5)
    axes = fig.subplots(len(samples), k + 1, squeeze=False)
    for r, s in enumerate(samples):
        rgb = _to_rgb(s.image)
        axes[r, 0].imshow(rgb, interpolation="nearest")
        axes[r, 0].set_title(_sample_title(s), fontsize=8)
        faded = 0.3 * rgb + 0.7
        for c in range(1, k + 1):
            ax = axes[r, c]
            if c - 1 >= len(s.top):
                ax.axis("off")
                continue
            row = s.top.iloc[c - 1]
            members = [j for j in _members(row["mask"], len(boxes)) if j < len(boxes)]
            canvas = faded.copy()
            for j in members:
                r0, c0, r1, c1 = boxes[j]
                canvas[r0:r1, c0:c1] = rgb[r0:r1, c0:c1]
            ax.imshow(canvas, interpolation="nearest")
            color = _POS_DARK if row["effect"] > 0 else _NEG_DARK
            ls = "-" if row["type"] == "and" else "--"
            for j in members:
                r0, c0, r1, c1 = boxes[j]
                ax.add_patch(Rectangle((c0 - 0.5, r0 - 0.5), c1 - c0, r1 - r0, fill=False, edgecolor=color, lw=2, ls=ls))
            ax.set_title(f"{row['type'].upper()} {row['effect']:+.3g} (order {int(row['order'])})", fontsize=8, color=color)
        for ax in axes[r]:
            ax.set_xticks([])
            ax.set_yticks([])
    fig.legend(
        handles=[
            Line2D([], [], color=_POS_DARK, lw=2, label="positive effect"),
            Line2D([], [], color=_NEG_DARK, lw=2, label="negative effect"),
            Line2D([], [], color="black", lw=2, ls="-", label="AND"),
            Line2D([], [], color="black", lw=2, ls="--", label="OR"),
        ],
        loc="outside lower center",
        ncols=4,
        fontsize=8,
    )
    return fig


def _bar_panels(samples: Sequence[ExplainedSample], names: list[str]) -> Figure:
    ncols = 2 if len(samples) > 1 else 1
    nrows = int(np.ceil(len(samples) / ncols))
    k = max(1, max(len(s.top) for s in samples))
    fig = _figure(6.0 * ncols, (0.32 * k + 1.0) * nrows + 0.5)
    axes = fig.subplots(nrows, ncols, squeeze=False)
    for i, ax in enumerate(axes.flat):
        if i >= len(samples):
            ax.axis("off")
            continue
        s = samples[i]
        top = s.top.iloc[::-1]
        y = np.arange(len(top))
        colors = [_POS_DARK if e > 0 else _NEG_DARK for e in top["effect"]]
        bars = ax.barh(y, top["effect"].to_numpy(dtype=float), color=colors)
        for bar, typ in zip(bars, top["type"]):
            if typ == "or":
                bar.set_hatch("//")
                bar.set_edgecolor("white")
        ax.set_yticks(y, [_interaction_label(r, names) for r in top.itertuples(index=False)], fontsize=8)
        ax.axvline(0, color="black", lw=0.6)
        ax.set_title(_sample_title(s), fontsize=9)
        ax.set_xlabel("interaction effect I(T)")
        ax.grid(axis="x", alpha=0.3)
        if len(top) == 0:
            _empty_note(ax, "all interactions are zero")
    fig.legend(
        handles=[
            Patch(color=_POS_DARK, label="positive"),
            Patch(color=_NEG_DARK, label="negative"),
            Patch(facecolor="#777777", label="AND"),
            Patch(facecolor="#777777", hatch="//", edgecolor="white", label="OR"),
        ],
        loc="outside lower center",
        ncols=4,
        fontsize=8,
    )
    return fig
