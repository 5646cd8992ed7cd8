"""Markdown tables of finished `genphase study` directories (the tables of docs/reproduction.md).

    python benchmarks/study_table.py runs/study-digits-quick runs/study-breast-cancer-mlp-quick ...
    python benchmarks/study_table.py --compare REF_DIR:OTHER_DIR [--compare ...]   # two variants of one preset
    python benchmarks/study_table.py --stops DIR [DIR ...]                         # three stops side by side

``--compare``: two studies of the same preset and seeds that differ in one setting (e.g.
``baselines.trained_on=crossfit`` or ``baselines.early_stopping=true``). Per seed: the Spearman rank
correlation of the two mean H-bar curves over the checkpoints (train and test samples), the mean
and signed difference of those curves (other minus reference), phase 1 end, phase 3 start and the interaction stop of each (with their
bootstrap intervals) and the difference (other minus reference), and the baselines' training time (sum of
the manifest's ``timings.baseline_k``) of each. ``--stops``: per seed the interaction stop, validation
stopping (patience on the reference loss) and Label Wave (no held-out data), each with its evaluation loss
regret, plus a mean per study.

Per study directory: one line per seed (phases with their bootstrap intervals, the two-phase turn with
its interval over the resamples that find it and their share, both stops, both regrets),
then one summary line per study. Verdict per study: in how many seeds the interaction stop's regret
is lower than (better), equal to (tied: the same checkpoint, or the same loss) or higher than (worse)
that of validation stopping, on the evaluation loss and on the evaluation accuracy. Wall time per seed: the run's manifest ``timings.total_last_invocation``
(the last invocation that ran it).
"""

from __future__ import annotations

import argparse
import json
import math
from pathlib import Path

import numpy as np
import pandas as pd


def _ci(lo, hi) -> str:
    if lo is None or hi is None or (isinstance(lo, float) and math.isnan(lo)):
        return ""
    return f" [{int(lo)}, {int(hi)}]"


def _epoch(v, lo=None, hi=None) -> str:
    if v is None or (isinstance(v, float) and math.isnan(v)):
        return "–"
    return f"{int(v)}{_ci(lo, hi)}"


def verdict(diff: np.ndarray, tol: float = 1e-9) -> str:
    """Per-seed outcome counts from the differences (interaction minus validation regret; lower is better)."""
    better, worse = int(np.sum(diff < -tol)), int(np.sum(diff > tol))
    return f"{better} better, {len(diff) - better - worse} tied, {worse} worse"


def _label(info: dict) -> str:
    """The table's name of a study: its preset, with ``--quick`` when quick."""
    return info["preset"] + (" --quick" if info.get("quick") else "")


def _study(d: Path) -> tuple[str, pd.DataFrame]:
    """``(label, study.parquet)`` of the study directory ``d``."""
    return _label(json.loads((d / "study.json").read_text())), pd.read_parquet(d / "study.parquet")


def tables(dirs: list[Path]) -> tuple[str, str]:
    per_seed = ["| preset | seed | three phases (support) | phase 1 ends [95% CI] | phase 3 starts [95% CI] | "
                "two-phase turn [95% CI] (share) | interaction stop [95% CI] | validation stop | best | "
                "regret: interaction / validation | accuracy regret: interaction / validation | wall time |",
                "| --- | --- | --- | --- | --- | --- | --- | --- | --- | --- | --- | --- |"]
    summary = ["| preset | three phases found | mean regret: interaction | mean regret: validation | "
               "interaction minus validation, per seed | verdict (loss) | verdict (accuracy) |",
               "| --- | --- | --- | --- | --- | --- | --- |"]
    for d in dirs:
        name, rows = _study(d)
        for r in rows.itertuples(index=False):
            man = json.loads((d / f"seed_{r.seed}" / "manifest.json").read_text())
            ph = json.loads((d / f"seed_{r.seed}" / "metrics" / "phases.json").read_text())
            turn, tci = ph["boundaries"].get("two_phase_turn"), ph["boundaries_ci"].get("two_phase_turn")
            tshare = (ph.get("evidence", {}).get("bootstrap") or {}).get("two_phase_found_share")
            two = (("–" if turn is None else str(turn)) + ("" if tci is None else f" [{tci[0]}, {tci[1]}]")
                   + ("" if tshare is None else f" ({tshare:.2f})"))
            wall = man.get("timings", {}).get("total_last_invocation")
            three = bool(r.clear) and r.phase3_start is not None and not pd.isna(r.phase3_start)
            sup = "–" if r.three_phase_support is None or pd.isna(r.three_phase_support) else f"{r.three_phase_support:.2f}"
            per_seed.append(
                f"| {name} | {r.seed} | {'yes' if three else ('phases 1-2' if r.clear else 'no')} ({sup}) | "
                f"{_epoch(r.phase1_end, r.phase1_end_ci_low, r.phase1_end_ci_high)} | "
                f"{_epoch(r.phase3_start, r.phase3_start_ci_low, r.phase3_start_ci_high)} | {two} | "
                f"{_epoch(r.stop_epoch, r.stop_ci_low, r.stop_ci_high)} | {int(r.baseline_stop_epoch)} | {int(r.best_epoch)} | "
                f"{r.regret:.3f} / {r.baseline_regret:.3f} | {r.accuracy_regret:.3f} / {r.baseline_accuracy_regret:.3f} | "
                f"{'' if wall is None else f'{wall / 60:.1f} min'} |")
        diff = rows["regret"].to_numpy(float) - rows["baseline_regret"].to_numpy(float)
        adiff = rows["accuracy_regret"].to_numpy(float) - rows["baseline_accuracy_regret"].to_numpy(float)
        n3 = int(sum(bool(c) and p is not None and not pd.isna(p) for c, p in zip(rows["clear"], rows["phase3_start"])))
        summary.append(
            f"| {name} | {n3} of {len(rows)} | {rows['regret'].mean():.3f} (sd {rows['regret'].std(ddof=1):.3f}) | "
            f"{rows['baseline_regret'].mean():.3f} (sd {rows['baseline_regret'].std(ddof=1):.3f}) | "
            f"{', '.join(f'{v:+.3f}' for v in diff)} | {verdict(diff)} | {verdict(adiff)} |")
    return "\n".join(per_seed), "\n".join(summary)


def spearman(a: np.ndarray, b: np.ndarray) -> float:
    """Spearman rank correlation (average ranks for ties; NaN pairs dropped; NaN for fewer than 3 points)."""
    ok = np.isfinite(a) & np.isfinite(b)
    a, b = a[ok], b[ok]
    if a.size < 3:
        return math.nan
    ra, rb = pd.Series(a).rank().to_numpy(), pd.Series(b).rank().to_numpy()
    if ra.std() == 0 or rb.std() == 0:
        return math.nan
    return float(np.corrcoef(ra, rb)[0, 1])


def _seed_info(d: Path, seed: int) -> dict:
    run = d / f"seed_{seed}"
    man = json.loads((run / "manifest.json").read_text())
    ph = json.loads((run / "metrics" / "phases.json").read_text())
    hs = pd.read_parquet(run / "metrics" / "h_bar_summary.parquet")
    t = man.get("timings", {})
    base_s = sum(v for k, v in t.items() if k.startswith("baseline_"))
    return {"ph": ph, "hs": hs, "base_s": base_s}


def _val(v) -> float:
    return math.nan if v is None or (isinstance(v, float) and math.isnan(v)) else float(v)


def _diff(a, b) -> str:
    a, b = _val(a), _val(b)
    return "–" if math.isnan(a) or math.isnan(b) else f"{b - a:+.0f}"


def compare_table(pairs: list[tuple[Path, Path]]) -> tuple[str, str]:
    """Per-seed and summary Markdown tables for ``(reference study, other study)`` pairs (``--compare``)."""
    per_seed = ["| preset | other | seed | Spearman H-bar train / test | H-bar other − ref, mean over checkpoints (mean abs) train / test | "
                "phase 1 end: ref → other (diff) | phase 3 start: ref → other (diff) | stop: ref → other (diff) | "
                "baseline training s: ref / other |",
                "| --- | --- | --- | --- | --- | --- | --- | --- | --- |"]
    summary = ["| preset | other | Spearman train (mean, range) | Spearman test (mean, range) | "
               "stop diff per seed | phase 1 end diff per seed | phase 3 start diff per seed | baseline time ratio |",
               "| --- | --- | --- | --- | --- | --- | --- | --- |"]
    for ref, other in pairs:
        ia, ib = json.loads((ref / "study.json").read_text()), json.loads((other / "study.json").read_text())
        name = _label(ia)
        what = " ".join(sorted(set(ib.get("overrides", [])) - set(ia.get("overrides", [])))) or "(same)"
        seeds = sorted(set(ia["seeds"]) & set(ib["seeds"]))
        rho = {"train": [], "test": []}
        sd, p1d, p3d, tr = [], [], [], []
        for s in seeds:
            a, b = _seed_info(ref, s), _seed_info(other, s)
            cells = {}
            for sp in ("train", "test"):
                ca = a["hs"][a["hs"]["split"] == sp].set_index("checkpoint")["mean"]
                cb = b["hs"][b["hs"]["split"] == sp].set_index("checkpoint")["mean"].reindex(ca.index)
                r = spearman(ca.to_numpy(float), cb.to_numpy(float))
                rho[sp].append(r)
                dd = cb.to_numpy(float) - ca.to_numpy(float)
                cells[sp] = (r, float(np.nanmean(dd)), float(np.nanmean(np.abs(dd))))
            pa, pb = a["ph"], b["ph"]

            def bnd(p, key):
                v, ci = p["boundaries"].get(key), (p.get("boundaries_ci") or {}).get(key)
                return v, ci

            def fmt(v, ci):
                return _epoch(v, *(ci if ci else (None, None)))

            row = []
            for key in ("phase1_end", "phase3_start"):
                (va, ca_), (vb, cb_) = bnd(pa, key), bnd(pb, key)
                row.append(f"{fmt(va, ca_)} → {fmt(vb, cb_)} ({_diff(va, vb)})")
                (p1d if key == "phase1_end" else p3d).append(_diff(va, vb))
            ea, eb = pa["early_stopping"], pb["early_stopping"]
            row.append(f"{fmt(ea.get('epoch'), ea.get('ci'))} → {fmt(eb.get('epoch'), eb.get('ci'))} "
                       f"({_diff(ea.get('epoch'), eb.get('epoch'))})")
            sd.append(_diff(ea.get("epoch"), eb.get("epoch")))
            tr.append(b["base_s"] / a["base_s"] if a["base_s"] else math.nan)
            per_seed.append(f"| {name} | {what} | {s} | {cells['train'][0]:.2f} / {cells['test'][0]:.2f} | "
                            f"{cells['train'][1]:+.3f} ({cells['train'][2]:.3f}) / {cells['test'][1]:+.3f} ({cells['test'][2]:.3f}) | " + " | ".join(row)
                            + f" | {a['base_s']:.1f} / {b['base_s']:.1f} |")

        def rng(v):
            v = np.asarray(v, float)
            return "–" if not np.isfinite(v).any() else f"{np.nanmean(v):.2f} ({np.nanmin(v):.2f} to {np.nanmax(v):.2f})"

        summary.append(f"| {name} | {what} | {rng(rho['train'])} | {rng(rho['test'])} | {', '.join(sd)} | "
                       f"{', '.join(p1d)} | {', '.join(p3d)} | {np.nanmedian(tr):.2f}× (median) |")
    return "\n".join(per_seed), "\n".join(summary)


def stops_table(dirs: list[Path]) -> str:
    """Three stops side by side on the evaluation split (``--stops``)."""
    out = ["| preset | seed | interaction stop (regret) | validation stop (regret) | Label Wave stop (regret) | best checkpoint |",
           "| --- | --- | --- | --- | --- | --- |"]
    for d in dirs:
        name, rows = _study(d)
        for r in rows.itertuples(index=False):
            out.append(f"| {name} | {r.seed} | {int(r.stop_epoch)} ({r.regret:.3f}) | {int(r.baseline_stop_epoch)} "
                       f"({r.baseline_regret:.3f}) | {int(r.labelwave_stop_epoch)} ({r.labelwave_regret:.3f}) | "
                       f"{int(r.best_epoch)} |")
        out.append(f"| {name} | mean | {rows['regret'].mean():.3f} | {rows['baseline_regret'].mean():.3f} | "
                   f"{rows['labelwave_regret'].mean():.3f} | |")
    return "\n".join(out)


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("dirs", nargs="*", type=Path, help="study directories (DIR of genphase study --out DIR)")
    ap.add_argument("--compare", action="append", default=[], metavar="REF:OTHER",
                    help="two study directories of one preset and the same seeds, reference first")
    ap.add_argument("--stops", action="store_true", help="the three stops side by side for the dirs")
    a = ap.parse_args()
    if a.compare:
        pairs = [tuple(Path(x) for x in c.split(":", 1)) for c in a.compare]
        per_seed, summary = compare_table(pairs)
        print(per_seed)
        print()
        print(summary)
        return
    if a.stops:
        print(stops_table(a.dirs))
        return
    per_seed, summary = tables(a.dirs)
    print(per_seed)
    print()
    print(summary)


if __name__ == "__main__":
    main()
