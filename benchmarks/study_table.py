"""Markdown tables of finished `genphase study` directories (the tables of docs/reproduction.md).

    python benchmarks/study_table.py runs/study-digits-quick runs/study-breast-cancer-mlp-quick ...

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


def tables(dirs: list[Path]) -> tuple[str, str]:
    per_seed = ["| preset | seed | three phases (support) | phase 1 ends [95% CI] | phase 3 starts [95% CI] | "
                "two-phase turn [95% CI] (share) | interaction stop [95% CI] | validation stop | best | "
                "regret: interaction / validation | accuracy regret: interaction / validation | wall time |",
                "| --- | --- | --- | --- | --- | --- | --- | --- | --- | --- | --- | --- |"]
    summary = ["| preset | three phases found | mean regret: interaction | mean regret: validation | "
               "interaction minus validation, per seed | verdict (loss) | verdict (accuracy) |",
               "| --- | --- | --- | --- | --- | --- | --- |"]
    for d in dirs:
        rows = pd.read_parquet(d / "study.parquet")
        info = json.loads((d / "study.json").read_text())
        name = info["preset"] + (" --quick" if info.get("quick") else "")
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


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("dirs", nargs="+", type=Path, help="study directories (DIR of genphase study --out DIR)")
    a = ap.parse_args()
    per_seed, summary = tables(a.dirs)
    print(per_seed)
    print()
    print(summary)


if __name__ == "__main__":
    main()
