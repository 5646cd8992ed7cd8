"""Compare the tables of two run directories: per metrics table, equal or the largest absolute and relative
difference of its float columns; and whether phases.json agrees (docs/run-directory.md, "Determinism").

    .venv/bin/python benchmarks/compare_runs.py RUN_A RUN_B
"""

from __future__ import annotations

import argparse
import json
from pathlib import Path

import numpy as np
import pandas as pd


def compare(a: Path, b: Path) -> list[str]:
    lines = []
    names = sorted({p.name for p in (a / "metrics").glob("*.parquet")} | {p.name for p in (b / "metrics").glob("*.parquet")})
    for name in names:
        pa, pb = a / "metrics" / name, b / "metrics" / name
        if not pa.exists() or not pb.exists():
            lines.append(f"{name[:-8]:28s} only in {a if pa.exists() else b}")
            continue
        x, y = pd.read_parquet(pa), pd.read_parquet(pb)
        if x.shape != y.shape or list(x.columns) != list(y.columns):
            lines.append(f"{name[:-8]:28s} shapes differ: {x.shape} vs {y.shape}")
            continue
        if x.equals(y):
            lines.append(f"{name[:-8]:28s} identical")
            continue
        worst_abs, worst_rel = 0.0, 0.0
        for c in x.columns:
            if pd.api.types.is_float_dtype(x[c]):
                u, v = x[c].to_numpy(float), y[c].to_numpy(float)
                d = np.abs(u - v)
                worst_abs = max(worst_abs, float(np.nanmax(d)) if d.size else 0.0)
                scale = np.maximum(np.abs(u), np.abs(v))
                ok = scale > 1e-6  # relative differences of values that are essentially zero say nothing
                worst_rel = max(worst_rel, float(np.nanmax(d[ok] / scale[ok])) if ok.any() else 0.0)
            elif not x[c].equals(y[c]):
                lines.append(f"{name[:-8]:28s} column {c!r} differs")
        lines.append(f"{name[:-8]:28s} max abs diff {worst_abs:.2e}, max rel diff {worst_rel:.2e} (values > 1e-6)")
    ja, jb = (json.loads((d / "metrics" / "phases.json").read_text()) for d in (a, b))
    same = {k: ja.get(k) == jb.get(k) for k in ("boundaries", "early_stopping", "phase_count")}
    lines.append("phases.json " + ("identical" if ja == jb else f"differs; agrees on {[k for k, v in same.items() if v]}"))
    return lines


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("a", type=Path)
    ap.add_argument("b", type=Path)
    args = ap.parse_args()
    print("\n".join(compare(args.a, args.b)))


if __name__ == "__main__":
    main()
