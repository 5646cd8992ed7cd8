"""Re-make every generated table of docs/reproduction.md and docs/presets.md from the current code: one command.

    python benchmarks/reproduce.py                      # every part (hours on the 2-core CPU)
    python benchmarks/reproduce.py --part default       # the default study: 5 seeds for each --vary
    python benchmarks/reproduce.py --part quick         # every preset's --quick study, 3 seeds
    python benchmarks/reproduce.py --part history       # the earlier defaults of digits, seed 0, with this code
    python benchmarks/reproduce.py --part sweep         # digits, seeds 0 1 2: tau (relative, absolute), n, K, ties
    python benchmarks/reproduce.py --part sweep --sweeps sweep-n   # one of them
    python benchmarks/reproduce.py --tables-only        # rewrite the tables from the study directories already there

Each part runs ``genphase study`` (resumable: a finished seed is not run again) into ``--out`` (default
``runs/reproduce``), recording the code's commit in ``--out/COMMIT`` (``git rev-parse --short HEAD``, ``+dirty`` when
the tree has uncommitted changes), then rewrites the blocks between ``<!-- BEGIN <name> -->`` and
``<!-- END <name> -->`` in docs/reproduction.md (``quick-timings``: in docs/presets.md). Every block starts with the
command and the commit whose code made the runs (and the commit that wrote the table, when it differs:
``--tables-only``). Prose outside the blocks is not touched.

Blocks: ``default-runs`` (one row per --vary and seed), ``default-replication`` (replication.json per --vary),
``default-claims`` (each claim of ``claims.parquet`` per seed of the ``--vary all`` study), ``quick-runs`` (one row
per preset and seed), ``quick-summary``, ``quick-claims`` (per preset, each claim's verdicts over its seeds),
``quick-timings`` (where each quick study's time went), ``sweep-tau``, ``sweep-tau-absolute``, ``sweep-n``,
``sweep-k``, ``sweep-ties`` (one row per value and seed of each sweep of :data:`SWEEPS`; a sweep's runs record their
commit in its own ``COMMIT``), ``sweep-ties-files`` (what the tie rule changes in the interaction files that both
rules have extracted, partial runs included), ``sweep-summary`` (one row per swept value, over its seeds),
``history`` (the settings the default had before, each run once with the current code: what they show now).
"""

from __future__ import annotations

import argparse
import json
import re
import subprocess
import sys
from pathlib import Path

import numpy as np
import pandas as pd

ROOT = Path(__file__).resolve().parents[1]
DOC = ROOT / "docs" / "reproduction.md"
PRESETS_DOC = ROOT / "docs" / "presets.md"
VARY = ("all", "model", "baselines", "samples")
DEFAULT_SEEDS = (0, 1, 2, 3, 4)
QUICK_SEEDS = (0, 1, 2)
#: The digits default as it was at each commit (docs/reproduction.md, "History of the default"), as overrides of today's.
HISTORY = {
    "14c52c1: 12+12 samples, n=12, no label noise": [
        "explain.samples=12", "variables.n=12", "data.label_noise=0.0", "variables.options.central_fraction=1.0"],
    "446d8c1: 16+16 samples, n=8, 12 checkpoints, no label noise": [
        "explain.samples=16", "variables.n=8", "data.label_noise=0.0", "checkpoints.count=12"],
    "2dcbc0b: 16+16 samples, n=12, no label noise": ["explain.samples=16", "variables.n=12", "data.label_noise=0.0"],
    "f869606 (today's): 128+128 samples, n=10, 20% label noise": [],
}
QUICK = ("digits", "breast-cancer-mlp", "fashion-mnist-lenet", "fashion-mnist-resnet", "pointcloud-dgcnn",
         "pointcloud-pointnet", "rotten-tomatoes-bert", "rotten-tomatoes-minilm")


def commit() -> str:
    sha = subprocess.run(["git", "rev-parse", "--short", "HEAD"], cwd=ROOT, capture_output=True, text=True).stdout.strip()
    dirty = subprocess.run(["git", "status", "--porcelain", "--untracked-files=no"], cwd=ROOT, capture_output=True,
                           text=True).stdout.strip()
    return sha + ("+dirty" if dirty else "")


def genphase() -> str:
    return str(Path(sys.executable).parent / "genphase")


def run_study(preset: str, seeds: tuple[int, ...], out: Path, *, quick: bool = False, vary: str = "all") -> Path:
    cmd = [genphase(), "study", preset, "--seeds", *map(str, seeds), "--out", str(out), "--no-report"]
    if quick:
        cmd.insert(3, "--quick")
    if vary != "all":
        cmd += ["--vary", vary]
    print("$", " ".join(cmd[1:]), flush=True)
    subprocess.run(cmd, check=True)
    return out


def _ci(v, lo, hi) -> str:
    if v is None or (isinstance(v, float) and np.isnan(v)):
        return "–"
    inner = "" if lo is None or pd.isna(lo) else f" [{int(lo)}, {int(hi)}]"
    return f"{int(v)}{inner}"


def _num(v, fmt="{:.2f}") -> str:
    return "–" if v is None or (isinstance(v, float) and np.isnan(v)) else fmt.format(v)


def run_row(run: Path) -> dict:
    """What one run directory says: the verdict (raw and above the order null), H-bar and both nulls at the peak and
    at the end, with intervals."""
    ph = json.loads((run / "metrics" / "phases.json").read_text())
    summ = pd.read_parquet(run / "metrics" / "h_bar_summary.parquet")
    tr = summ[summ["split"] == "train"].sort_values("checkpoint").reset_index(drop=True)
    peak = tr.loc[tr["mean"].idxmax()]
    last = tr.iloc[-1]
    b, ci = ph.get("boundaries") or {}, ph.get("boundaries_ci") or {}
    es = ph.get("early_stopping") or {}
    an = ph.get("above_null") or {}

    def at(row, col):
        return f"{row[col]:+.2f} [{row[col + '_ci_low']:+.2f}, {row[col + '_ci_high']:+.2f}]" if col in row and \
            pd.notna(row[col]) else "–"

    p2 = ph.get("phase2") or {}
    verdict = "three phases" if ph.get("three_phases") else (
        "phases 1, 3 (phase 2 unresolved)" if b.get("phase3_start") is not None and b.get("phase1_end") is not None
        else "phases 1-2" if b.get("phase1_end") is not None else "no clear phases")
    return {
        "verdict": verdict, "support": ph.get("three_phase_support"),
        "phase2_inside": len(p2.get("checkpoints_inside", [])) if p2 else None,
        "phase1_end": _ci(b.get("phase1_end"), *((ci.get("phase1_end") or [None, None]))),
        "phase3_start": _ci(b.get("phase3_start"), *((ci.get("phase3_start") or [None, None]))),
        "stop": _ci(es.get("epoch"), *((es.get("ci") or [None, None]))),
        "peak": f"{peak['mean']:.2f} [{peak['ci_low']:.2f}, {peak['ci_high']:.2f}] at {int(peak['checkpoint'])}",
        "final": f"{last['mean']:.2f} [{last['ci_low']:.2f}, {last['ci_high']:.2f}]",
        "above_order_peak": at(peak, "above_null"), "above_order_final": at(last, "above_null"),
        "above_labels_peak": at(peak, "above_null_labels"), "above_labels_final": at(last, "above_null_labels"),
        "above_null_verdict": ("three phases" if an.get("three_phases") else "not three phases") +
                              ("" if an.get("agrees", True) else " (other boundaries)") if an else "–",
        "phase_count": "–" if ph.get("phase_count") is None else
                       f"{ph['phase_count']} ({_num((ph.get('phase_count_support') or {}).get(str(ph['phase_count'])))})",
        "extracted": len((ph.get("refinement") or {}).get("extracted", [])) or None,
    }


RUN_HEADER = ("| study | seed | verdict (support) | phase 1 ends [95% CI] | phase 3 starts [95% CI] | stop [95% CI] | "
              "peak H-bar [CI] at epoch | final H-bar [CI] | above order null: peak / final | above permuted-labels "
              "null: peak / final | verdict above the order null | phase count (support) | checkpoints |\n"
              "| --- | --- | --- | --- | --- | --- | --- | --- | --- | --- | --- | --- | --- |")


def run_lines(label: str, study: Path, single: bool = False) -> list[str]:
    out = []
    runs = [study] if single else sorted(study.glob("seed_*"), key=lambda p: int(p.name.split("_")[1]))
    for run in runs:
        if not (run / "metrics" / "phases.json").is_file():
            continue
        r = run_row(run)
        out.append(f"| {label} | {0 if single else run.name.split('_')[1]} | {r['verdict']} ({_num(r['support'])}) | {r['phase1_end']} | "
                   f"{r['phase3_start']} | {r['stop']} | {r['peak']} | {r['final']} | {r['above_order_peak']} / "
                   f"{r['above_order_final']} | {r['above_labels_peak']} / {r['above_labels_final']} | "
                   f"{r['above_null_verdict']} | {r['phase_count']} | {r['extracted'] or '–'} |")
    return out


def replication_lines(studies: dict[str, Path]) -> list[str]:
    lines = ["| --vary | seeds | three phases (share) | phase 1 end: median (min-max), sd / bootstrap width | phase 3 "
             "start: median (min-max), sd / width | stop: median (min-max), sd / width | peak H-bar sd | final H-bar sd |",
             "| --- | --- | --- | --- | --- | --- | --- | --- |"]

    def cell(b):
        if not b or b.get("median") is None:
            return "–"
        found = b.get("n_found")
        return (f"{b['median']:g} ({b['min']:g}-{b['max']:g}), {_num(b['sd'])} / {_num(b['bootstrap_width'], '{:g}')}"
                + ("" if found is None else f" (found in {found})"))
    for vary, study in studies.items():
        path = study / "replication.json"
        if not path.is_file():
            continue
        r = json.loads(path.read_text())
        bd = r["boundaries"]
        lines.append(f"| {vary} | {r['n_seeds']} | {_num(r['three_phase_share'])} | {cell(bd['phase1_end'])} | "
                     f"{cell(bd['phase3_start'])} | {cell(bd['stop'])} | {_num(r['peak_h_bar_sd'], '{:.3f}')} | "
                     f"{_num(r['final_h_bar_sd'], '{:.3f}')} |")
    return lines


def reanalysed_claims(run: Path) -> pd.DataFrame:
    """``claims.parquet`` of a finished run, computed by this code's analysis stage (``stages.analyse``) from the
    run's recorded files: for runs made before the claims existed. Nothing in the run directory is changed."""
    import tempfile

    from genphase.pipeline.config import load_config
    from genphase.pipeline.graph import Resources
    from genphase.pipeline.stages import analyse
    from genphase.pipeline.worker import NodeContext

    cfg = load_config(str(run / "config.yaml"))
    man = json.loads((run / "manifest.json").read_text())
    epochs = sorted({*cfg.checkpoint_epochs(), *man.get("refined", [])})
    with tempfile.TemporaryDirectory() as tmp:
        ctx = NodeContext("analyse", Resources(), run, Path(tmp) / "out", Path(tmp) / "scratch",
                          inputs=tuple(man["files"]))
        out = analyse(ctx, cfg, root=str(run), epochs=epochs, log=lambda line: None)
    return out["tables"]["claims"]


def last_claims(t: pd.DataFrame) -> dict[str, pd.Series]:
    """Per claim of a ``claims.parquet`` table, its row at the last checkpoint (a per-run claim: its one row)."""
    out = {}
    for claim in dict.fromkeys(t["claim"]):
        rows = t[t["claim"] == claim]
        out[claim] = rows.iloc[-1] if rows["checkpoint"].isna().all() else rows.loc[rows["checkpoint"].idxmax()]
    return out


def _signed_ci(v, lo, hi) -> str:
    """A claim's statistic as ``+v [lo, hi]`` (``–`` when undecided; no bracket without an interval)."""
    return "–" if pd.isna(v) else f"{v:+.3f}" + ("" if pd.isna(lo) else f" [{lo:+.3f}, {hi:+.3f}]")


def _supported(v) -> str:
    """A claim's ``supported`` as yes / no / ``–`` (undecided)."""
    return "–" if pd.isna(v) else ("yes" if bool(v) else "no")


def claims_lines(label: str, study: Path) -> list[str]:
    """Per seed and claim: the statistic with its interval against its placebo's, and the verdict, at the last
    checkpoint (per-run claims: their one row). A run without ``claims.parquet`` (made before the claims) is
    re-analysed from its files by this code (:func:`reanalysed_claims`)."""
    lines = ["| study | seed | claim | value [95% CI] | placebo [95% CI] | supported | note |",
             "| --- | --- | --- | --- | --- | --- | --- |"]
    for run in sorted(study.glob("seed_*"), key=lambda p: int(p.name.split("_")[1])):
        if not (run / "metrics" / "phases.json").is_file():
            continue
        path = run / "metrics" / "claims.parquet"
        t = pd.read_parquet(path) if path.is_file() else reanalysed_claims(run)
        for claim, r in last_claims(t).items():
            where = "" if pd.isna(r["checkpoint"]) else f" (epoch {int(r['checkpoint'])})"
            sup = _supported(r["supported"])
            note = str(r["note"]).replace("|", "/")
            lines.append(f"| {label} | {run.name.split('_')[1]} | `{claim}`{where} | {_signed_ci(r['value'], r['ci_low'], r['ci_high'])} | "
                         f"{_signed_ci(r['placebo'], r['placebo_ci_low'], r['placebo_ci_high'])} | {sup} | {note} |")
    return lines


#: The sensitivity sweeps of the default (digits, seeds 0 1 2): block name -> (directory under --out, --sweep, overrides).
#: The absolute thresholds are in log-odds: 0.01 is about the relative default's threshold (0.05 x each sample's
#: largest AND or OR effect, median) at the phase boundaries of the default run (epochs 4-9), 0.03 at epoch 36, 0.1
#: above the baselines' (0.07-0.08).
SWEEP_SEEDS = (0, 1, 2)
SWEEPS = {
    "sweep-tau": ("sweep-tau", "interactions.tau=0.02,0.05,0.1", ()),
    "sweep-tau-absolute": ("sweep-tau-absolute", "interactions.tau=0.01,0.03,0.1", ("interactions.tau_mode=absolute",)),
    "sweep-n": ("sweep-n", "variables.n=8,10,12", ()),
    "sweep-k": ("sweep-k", "baselines.k=1,3,5", ()),
    "sweep-ties": ("sweep-ties", "interactions.ties=cold-start,least-norm", ()),
}
#: Short names of the claims (columns ``<claim>_supported`` of sweep.parquet) for the summary.
CLAIM_SHORT = {"removal_closes_gap": "removal", "higher_orders_generalize_less": "orders",
               "h_bar_grows_with_k": "k", "two_phase_turn_aligns_with_gap": "turn/gap",
               "phase1_low_phase3_high": "phase orders", "fall_on_clean_samples": "clean fall"}


def sweep_commit(root: Path) -> str:
    """The commit whose code made a sweep's runs: its own ``COMMIT``, else the one beside it."""
    return runs_commit(root if (root / "COMMIT").is_file() else root.parent)


def verdicts(values) -> list[bool | None]:
    """``supported`` values as True / False / None (undecided: NaN, None or pandas' NA)."""
    return [None if pd.isna(v) else bool(v) for v in values]


def sweep_label(root: Path, key: str, value) -> str:
    """``key = value``, with the overrides the sweep held fixed (its ``sweep.json``) after it."""
    info = root / "sweep.json"
    fixed = json.loads(info.read_text()).get("overrides", []) if info.is_file() else []
    return f"{key} = {value}" + (f" ({', '.join(fixed)})" if fixed else "")


def sweep_lines(root: Path) -> list[str]:
    """One row per value and seed of a sweep directory's ``sweep.parquet``: the verdict, the boundaries with their
    intervals, the stop and its regret, and how many claims were supported / refuted / undecided."""
    path = root / "sweep.parquet"
    if not path.is_file():
        return ["*No sweep.parquet yet.*"]
    f = pd.read_parquet(path)
    sup = [c for c in f.columns if c.endswith("_supported")]
    lines = ["| key = value | seed | three phases (support) | phase 1 ends [95% CI] | phase 3 starts [95% CI] | stop "
             "[95% CI] | regret: interaction / validation | claims supported / refuted / undecided |",
             "| --- | --- | --- | --- | --- | --- | --- | --- |"]
    for _, r in f.iterrows():
        vals = verdicts(r[c] for c in sup)
        yes, no = vals.count(True), vals.count(False)
        lines.append(f"| {sweep_label(root, r['sweep_key'], r['sweep_value'])} | {int(r['seed'])} | "
                     f"{'yes' if r['three_phases'] else 'no'} ({_num(r['three_phase_support'])}) | "
                     f"{_ci(r['phase1_end'], r['phase1_end_ci_low'], r['phase1_end_ci_high'])} | "
                     f"{_ci(r['phase3_start'], r['phase3_start_ci_low'], r['phase3_start_ci_high'])} | "
                     f"{_ci(r['stop_epoch'], r['stop_ci_low'], r['stop_ci_high'])} | "
                     f"{r['regret']:.3f} / {r['baseline_regret']:.3f} | {yes} / {no} / {len(vals) - yes - no} |")
    return lines


TIE_KINDS = {"baseline_": "baselines", "null_baseline_": "null baselines", "model/": "model checkpoints"}


def _tie_pairs(root: Path) -> dict[tuple[int, str], list[tuple[Path, Path]]]:
    """Interactions files that both rules' runs of one seed hold, per (seed, kind of model): the same network and the
    same masked outputs (checked), so only the optimum of Eq. 6 differs."""
    cold, least = root / "interactions.ties=cold-start", root / "interactions.ties=least-norm"
    pairs: dict[tuple[int, str], list[tuple[Path, Path]]] = {}
    for ln in sorted(least.glob("seed_*/interactions/**/*.npz")):
        rel = ln.relative_to(least)
        cs = cold / rel
        if not cs.is_file():
            continue
        name = str(rel.relative_to(rel.parts[0], "interactions"))
        kind = next((k for p, k in TIE_KINDS.items() if name.startswith(p)), None)
        if kind is None:  # not a model's file (none other is written today)
            continue
        pairs.setdefault((int(rel.parts[0].split("_")[1]), kind), []).append((cs, ln))
    return pairs


def tie_file_lines(root: Path) -> list[str]:
    """How much the tie rule moves the interactions themselves, on every file both rules have extracted (a run of
    ``least-norm`` takes hours, so this reads partial runs too). Per seed and kind of model, over the explained
    samples of its files: the share of samples whose tie certificate holds; the salient interactions per sample under
    each rule (the run's threshold, singletons merged as the analysis does); the overlap of the two salient sets
    (Jaccard); the share of the cold-start rule's salient strength that is salient with the same sign under
    least-norm (H-bar with the least-norm answer as the one baseline); the ratio of the L1 objectives. Then, per seed
    whose K baselines both rules have extracted, the agreement between baselines under each rule: for each ordered
    pair, H-bar of one baseline against the other, averaged."""
    from genphase.analysis import generalization_power
    from genphase.io import load_interactions
    from genphase.pipeline.config import load_config

    pairs = _tie_pairs(root)
    if not pairs:
        return ["*No file extracted under both rules yet.*"]
    lines = ["| seed | models | files | samples | least-norm certified | salient per sample: cold-start / least-norm "
             "(median) | overlap of the salient sets (Jaccard): median (min) | cold-start salient strength kept, same "
             "sign: median (min) | L1 objective, least-norm / cold-start: median |",
             "| --- | --- | --- | --- | --- | --- | --- | --- | --- |"]
    agree: dict[int, dict[str, list]] = {}
    for (seed, kind), files in sorted(pairs.items()):
        thr = load_config(str(root / "interactions.ties=cold-start" / f"seed_{seed}" / "config.yaml")).interactions.salience
        cert, n_cs, n_ln, jac, kept, l1 = [], [], [], [], [], []
        for cs_path, ln_path in files:
            cs, ln = load_interactions(cs_path), load_interactions(ln_path)
            if not np.array_equal(cs.values, ln.values):
                raise SystemExit(f"{cs_path} and {ln_path} decompose different games: not one run under two rules")
            power = generalization_power(cs, [ln], **thr)
            a, b = power.model, power.baselines[0]
            inter = (a.mask & b.mask).sum((-2, -1))
            jac.append(inter / np.maximum((a.mask | b.mask).sum((-2, -1)), 1))
            kept.append(power.h_bar())
            n_cs.append(a.mask.sum((-2, -1)))
            n_ln.append(b.mask.sum((-2, -1)))
            cert.append(ln.converged)
            l1.append(ln.objective / cs.objective)
            if kind == "baselines":
                agree.setdefault(seed, {"thr": thr, "cold-start": [], "least-norm": []})
                agree[seed]["cold-start"].append(cs)
                agree[seed]["least-norm"].append(ln)
        cat = np.concatenate
        j, k = cat(jac), cat(kept)
        k = k[np.isfinite(k)]  # a sample without salient interactions (an absolute threshold) keeps no strength share
        lines.append(f"| {seed} | {kind} | {len(files)} | {len(j)} | {cat(cert).mean():.2f} | "
                     f"{np.median(cat(n_cs)):.0f} / {np.median(cat(n_ln)):.0f} | {np.median(j):.2f} ({j.min():.2f}) | "
                     f"{_num(np.median(k) if k.size else None)} ({_num(k.min() if k.size else None)}) | "
                     f"{np.median(cat(l1)):.4f} |")
    full = {s: r for s, r in agree.items() if len(r["cold-start"]) > 1}
    if full:
        lines += ["", "| seed | baselines | agreement between baselines: cold-start | least-norm | difference |",
                  "| --- | --- | --- | --- | --- |"]
        for seed, rules in sorted(full.items()):
            means = []
            for rule in ("cold-start", "least-norm"):
                res = rules[rule]
                means.append(float(np.mean([generalization_power(x, [y], **rules["thr"]).h_bar().mean()
                                            for i, x in enumerate(res) for y in res[:i] + res[i + 1:]])))
            lines.append(f"| {seed} | {len(rules['cold-start'])} | {means[0]:.3f} | {means[1]:.3f} | "
                         f"{means[1] - means[0]:+.3f} |")
    runs = [run_lines(f"interactions.ties = {r}", root / f"interactions.ties={r}") for r in ("cold-start", "least-norm")]
    if runs[1]:  # a least-norm run has finished: every finished run of both rules, side by side, and their claims
        lines += ["", RUN_HEADER.replace("| study | seed |", "| rule | seed |"), *runs[0], *runs[1]]
        lines += ["", "| seed | claim | cold-start: value [95% CI] / placebo [95% CI] | supported | least-norm: value [95% "
                  "CI] / placebo [95% CI] | supported |", "| --- | --- | --- | --- | --- | --- |"]
        for ln_run in sorted((root / "interactions.ties=least-norm").glob("seed_*/metrics/claims.parquet")):
            seed = ln_run.parents[1].name
            cs_run = root / "interactions.ties=cold-start" / seed / "metrics" / "claims.parquet"
            if not cs_run.is_file():
                continue
            last = [last_claims(pd.read_parquet(f)) for f in (cs_run, ln_run)]
            for claim in last[0]:
                cells = []
                for rows in last:
                    r = rows.get(claim)
                    if r is None:
                        cells += ["–", "–"]
                        continue
                    val = _signed_ci(r["value"], r["ci_low"], r["ci_high"])
                    plc = "" if pd.isna(r["placebo"]) else " / " + _signed_ci(r["placebo"], r["placebo_ci_low"],
                                                                             r["placebo_ci_high"])
                    cells += [val + plc, _supported(r["supported"])]
                lines.append(f"| {seed.split('_')[1]} | `{claim}` | " + " | ".join(cells) + " |")
    return lines


def claim_cells(rows: pd.DataFrame) -> list[str]:
    """Per claim of :data:`CLAIM_SHORT`: in how many of ``rows`` (runs: study.parquet rows, last checkpoint) it is
    supported / refuted / undecided, as ``yes/no/undecided``."""
    cells = []
    for claim in CLAIM_SHORT:
        col = rows.get(f"{claim}_supported")
        vals = [] if col is None else verdicts(col)
        cells.append(f"{vals.count(True)}/{vals.count(False)}/{vals.count(None)}")
    return cells


def quick_claims_lines(studies: dict[str, Path]) -> list[str]:
    """One row per quick preset: per claim, in how many seeds it is supported / refuted / undecided at the last
    checkpoint (the per-seed values and notes are in each run's ``metrics/claims.parquet``)."""
    lines = ["| preset | seeds | " + " | ".join(f"{v} (yes/no/–)" for v in CLAIM_SHORT.values()) + " |",
             "| --- " * (2 + len(CLAIM_SHORT)) + "|"]
    for preset, study in studies.items():
        path = study / "study.parquet"
        if path.is_file():
            f = pd.read_parquet(path)
            lines.append(f"| {preset} --quick | {len(f)} | " + " | ".join(claim_cells(f)) + " |")
    return lines


def sweep_summary_lines(roots: dict[str, Path]) -> list[str]:
    """One row per swept key and value, over its seeds: how many runs have three phases, and phases 1 and 3; the
    boundaries and the stop as median (min-max); the mean regrets; per claim, in how many seeds it is supported
    (yes / no / undecided at the last checkpoint). Reading down one key's rows says whether the value moves the
    verdict."""
    lines = ["| key = value | seeds | three phases | phases 1 and 3 | phase 1 ends | phase 3 starts | stop | mean regret: "
             "interaction / validation | " + " | ".join(f"{v} (yes/no/–)" for v in CLAIM_SHORT.values()) + " |",
             "| --- " * (8 + len(CLAIM_SHORT)) + "|"]

    def spread(x: pd.Series) -> str:
        v = pd.to_numeric(x, errors="coerce").dropna()
        return "–" if v.empty else f"{v.median():g} ({v.min():g}-{v.max():g})" + (
            "" if len(v) == len(x) else f", found in {len(v)}")
    for root in roots.values():
        path = root / "sweep.parquet"
        if not path.is_file():
            continue
        f = pd.read_parquet(path)
        for value, g in f.groupby("sweep_value", sort=False):
            both = int((g["phase1_end"].notna() & g["phase3_start"].notna()).sum())
            cells = claim_cells(g)
            lines.append(f"| {sweep_label(root, g['sweep_key'].iloc[0], value)} | {len(g)} | "
                         f"{int(g['three_phases'].sum())} of {len(g)} | "
                         f"{both} of {len(g)} | {spread(g['phase1_end'])} | {spread(g['phase3_start'])} | "
                         f"{spread(g['stop_epoch'])} | {g['regret'].mean():.3f} / {g['baseline_regret'].mean():.3f} | "
                         + " | ".join(cells) + " |")
    return lines


def quick_summary_lines(studies: dict[str, Path]) -> list[str]:
    lines = ["| preset | seeds | three phases | phases 1 and 3 | mean regret: interaction / validation | interaction "
             "minus validation, per seed |", "| --- | --- | --- | --- | --- | --- |"]
    for preset, study in studies.items():
        path = study / "study.parquet"
        if not path.is_file():
            continue
        f = pd.read_parquet(path)
        both = int((f["phase1_end"].notna() & f["phase3_start"].notna()).sum())
        d = f["regret"].to_numpy(float) - f["baseline_regret"].to_numpy(float)
        lines.append(f"| {preset} --quick | {len(f)} | {int(f['three_phases'].sum())} of {len(f)} | {both} of {len(f)} | "
                     f"{f['regret'].mean():.3f} / {f['baseline_regret'].mean():.3f} | "
                     f"{', '.join(f'{v:+.3f}' for v in d)} |")
    return lines


def _durations(values: pd.Series) -> str:
    """Median [min-max] in one unit: seconds below 2 minutes, else minutes."""
    v = values.to_numpy(float)
    div, unit, fmt = (1, "s", "{:.0f}") if v.max() < 120 else (60, "min", "{:.1f}")
    m, lo, hi = (fmt.format(x / div) for x in (np.median(v), v.min(), v.max()))
    return f"{m} [{lo}-{hi}] {unit}"


def quick_timing_lines(studies: dict[str, Path]) -> list[str]:
    """Per quick preset, where its time goes: each seed's ``manifest.json`` timings (``masked_forward_s`` and
    ``solve_s`` add up over invocations, ``timings.extract`` does not) and the study's last invocation."""
    from genphase.pipeline.config import load_config

    lines = [f"| preset | explained samples per split, n | study wall time ({len(QUICK_SEEDS)} seeds, its last invocation) | "
             "per seed, median [range]: train the model | train the K baselines and K null baselines | "
             "masked forward passes | solve |", "| --- | --- | --- | --- | --- | --- | --- |"]
    for preset, study in studies.items():
        runs = sorted(r for r in study.glob("seed_*") if (r / "manifest.json").is_file())
        if not runs:
            continue
        t = pd.DataFrame([json.loads((r / "manifest.json").read_text())["timings"] for r in runs])
        cfg = load_config(str(runs[0] / "config.yaml"))
        per_seed = {
            "train": t["train_model"],
            "baselines": t.filter(regex=r"^(null_)?baseline_\d+$").sum(axis=1),
            "forward": t["masked_forward_s"], "solve": t["solve_s"]}
        cells = [_durations(v) for v in per_seed.values()]
        lines.append(f"| `{preset} --quick` | {cfg.explain.samples}, n = {cfg.variables.n} | "
                     f"{t['total_last_invocation'].max() / 60:.1f} min | " + " | ".join(cells) + " |")
    return lines


def run_history(out: Path, tables_only: bool) -> list[str]:
    rows = [RUN_HEADER.replace("| study | seed |", "| setting | seed |")]
    for i, (label, overrides) in enumerate(HISTORY.items()):
        d = out / f"history-{i}"
        if not tables_only:
            cmd = [genphase(), "run", "digits", *overrides, "--out", str(d), "--no-report"]
            print("$", " ".join(cmd[1:]), flush=True)
            subprocess.run(cmd, check=True)
        if (d / "metrics" / "phases.json").is_file():
            rows += run_lines(label, d, single=True)
    return rows


def runs_commit(out: Path) -> str:
    """The commit whose code made the runs under ``out`` (``out/COMMIT``, written when they are run)."""
    path = out / "COMMIT"
    return path.read_text().strip() if path.is_file() else "unknown (no COMMIT file beside the runs)"


def replace_block(text: str, name: str, body: list[str], command: str, made_at: str, doc: Path = DOC) -> str:
    now = commit()
    stamp = (f"*Made by `{command}` at commit {made_at}.*" if now == made_at else
             f"*Runs made by `{command}` with the code of commit {made_at}; table written at commit {now}.*")
    block = "\n".join([f"<!-- BEGIN {name} -->", stamp, "", *body, f"<!-- END {name} -->"])
    pat = re.compile(rf"<!-- BEGIN {re.escape(name)} -->.*?<!-- END {re.escape(name)} -->", re.S)
    if not pat.search(text):
        raise SystemExit(f"{doc.relative_to(ROOT)} has no block {name!r} (<!-- BEGIN {name} --> ... <!-- END {name} -->)")
    return pat.sub(lambda _: block, text)


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--part", choices=("all", "default", "quick", "history", "sweep"), default="all")
    ap.add_argument("--out", type=Path, default=ROOT / "runs" / "reproduce")
    ap.add_argument("--tables-only", action="store_true", help="rewrite the tables without running anything")
    ap.add_argument("--sweeps", nargs="+", choices=tuple(SWEEPS), default=tuple(SWEEPS),
                    help="with --part sweep: which sweeps to run (every table is rewritten from what is there)")
    args = ap.parse_args()
    text = DOC.read_text()
    cmd = f"python benchmarks/reproduce.py --part {args.part}"
    args.out.mkdir(parents=True, exist_ok=True)
    if not args.tables_only:
        (args.out / "COMMIT").write_text(commit() + "\n")
    made = runs_commit(args.out)
    if args.part in ("all", "default"):
        studies = {v: args.out / f"digits-vary-{v}" for v in VARY}
        if not args.tables_only:
            for v, d in studies.items():
                run_study("digits", DEFAULT_SEEDS, d, vary=v)
        rows = [RUN_HEADER]
        for v, d in studies.items():
            rows += run_lines(f"digits --vary {v}", d)
        text = replace_block(text, "default-runs", rows, cmd, made)
        text = replace_block(text, "default-replication", replication_lines(studies), cmd, made)
        claims = claims_lines("digits --vary all", studies["all"])
        if not all((r / "metrics" / "claims.parquet").is_file() for r in studies["all"].glob("seed_*")):
            claims.insert(0, f"*The runs predate `claims.parquet`: the claims were computed from their recorded files by "
                             f"the analysis stage of commit {commit()} (`reanalysed_claims`).*\n")
        text = replace_block(text, "default-claims", claims, cmd, made)
    if args.part in ("all", "quick"):
        studies = {p: args.out / f"{p}-quick" for p in QUICK}
        if not args.tables_only:
            for p, d in studies.items():
                run_study(p, QUICK_SEEDS, d, quick=True)
        rows = [RUN_HEADER]
        for p, d in studies.items():
            rows += run_lines(f"{p} --quick", d)
        text = replace_block(text, "quick-runs", rows, cmd, made)
        text = replace_block(text, "quick-summary", quick_summary_lines(studies), cmd, made)
        text = replace_block(text, "quick-claims", quick_claims_lines(studies), cmd, made)
        PRESETS_DOC.write_text(replace_block(PRESETS_DOC.read_text(), "quick-timings", quick_timing_lines(studies), cmd,
                                             made, PRESETS_DOC))
    if args.part in ("all", "sweep"):
        roots = {}
        for block, (name, spec, overrides) in SWEEPS.items():
            root = roots[block] = args.out / name
            if not args.tables_only and block in args.sweeps:
                cmd_ = [genphase(), "study", "digits", "--seeds", *map(str, SWEEP_SEEDS), "--sweep", spec, *overrides,
                        "--out", str(root), "--no-report"]
                print("$", " ".join(cmd_[1:]), flush=True)
                subprocess.run(cmd_, check=True)
                (root / "COMMIT").write_text(commit() + "\n")
            text = replace_block(text, block, sweep_lines(root), f"{cmd} --sweeps {block}", sweep_commit(root))
        ties = roots["sweep-ties"]
        text = replace_block(text, "sweep-ties-files", tie_file_lines(ties), f"{cmd} --sweeps sweep-ties", sweep_commit(ties))
        commits = ", ".join(f"{sweep_commit(r)} ({b})" for b, r in roots.items() if (r / "sweep.parquet").is_file())
        text = replace_block(text, "sweep-summary", sweep_summary_lines(roots), cmd, commits or made)
    if args.part in ("all", "history"):
        text = replace_block(text, "history", run_history(args.out, args.tables_only), cmd, made)
    DOC.write_text(text)
    print(f"rewrote the tables of {DOC}" + (f" and {PRESETS_DOC}" if args.part in ("all", "quick") else ""))


if __name__ == "__main__":
    main()
