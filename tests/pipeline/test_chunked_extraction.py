"""`execution.chunk_samples`: each model's explained samples extracted in chunks (one task each) and
joined give the tables of the unchunked run (tests/miniature.py), and a valid run directory."""

from __future__ import annotations

import json

import miniature
import numpy as np
import pandas as pd
import pytest

from genphase.errors import ConfigError
from genphase.pipeline.config import load_config
from genphase.pipeline.integrity import verify_run
from genphase.pipeline.run import run
from genphase.pipeline.stages import chunk_bounds

pytestmark = pytest.mark.slow


def test_chunked_extraction_gives_the_unchunked_tables(mini_run, tmp_path):
    out = tmp_path / "run"
    logs: list[str] = []
    cfg = miniature.mini_config(["execution.chunk_samples=5"])
    run(cfg, out, log=logs.append, report=False, threads=1)
    n = 2 * miniature.M
    bounds = chunk_bounds(n, 5)
    assert len(bounds) > 1 and bounds[-1][1] == n
    for rel in sorted(p.relative_to(mini_run) for p in (mini_run / "interactions").rglob("*.npz")):
        stem = str(rel)[: -len(".npz")]
        chunks = sorted(out.glob(stem + ".chunk_*.npz"))
        assert len(chunks) == len(bounds), rel  # one file per chunk, kept and recorded
        with np.load(mini_run / rel) as za, np.load(out / rel) as zb:
            for k in za.files:
                if k in ("lower_bound", "gap"):  # the certificate's float32 products round by batch size: to 1e-6
                    np.testing.assert_allclose(zb[k], za[k], rtol=0, atol=1e-6, err_msg=f"{rel}:{k}")
                elif k != "__meta__":
                    np.testing.assert_allclose(zb[k], za[k], rtol=1e-9, atol=1e-12, err_msg=f"{rel}:{k}")
    for name in miniature.TIMING_FREE:
        a = pd.read_parquet(mini_run / "metrics" / f"{name}.parquet")
        b = pd.read_parquet(out / "metrics" / f"{name}.parquet")
        pd.testing.assert_frame_equal(a, b, check_exact=False, rtol=1e-9, atol=1e-12, obj=name)
    assert json.loads((mini_run / "metrics" / "phases.json").read_text()) == json.loads((out / "metrics" / "phases.json").read_text())
    assert {f.status for f in verify_run(out)} == {"ok"}
    assert any("samples 0-4" in line for line in logs)
    # resumed with chunks off: nothing is redone, the joined files stay
    before = {p: p.stat().st_mtime_ns for p in out.rglob("*.npz")}
    run(miniature.mini_config(), out, log=lambda m: None, report=False)
    assert {p: p.stat().st_mtime_ns for p in out.rglob("*.npz")} == before


def test_chunk_samples_below_one_is_refused():
    with pytest.raises(ConfigError, match=r"config key 'execution\.chunk_samples'.*>= 1.*got 0"):
        load_config("digits", ["execution.chunk_samples=0"])
