"""Each bad input of issue 25 (item 6) gets a named error naming the key or file and the fix, before anything
trains where that is possible; Ctrl-C says that the same command resumes. Run as a user does: the CLI through
typer's CliRunner or a subprocess, real presets and config files."""

from __future__ import annotations

from pathlib import Path

from typer.testing import CliRunner

import genphase
from genphase.cli import app

SRC = Path(genphase.__file__).resolve().parents[1]


def _error_line(r) -> str:
    """The one ``error:`` line of a refused command (exit status 2, no traceback)."""
    assert r.exit_code == 2, r.output
    assert "Traceback" not in r.output, r.output
    errors = [ln for ln in r.output.splitlines() if ln.startswith("error:")]
    assert len(errors) == 1 and r.output.strip().splitlines()[-1] == errors[0], r.output
    return errors[0]


def _nothing_trained(out: Path) -> None:
    assert not (out / "checkpoints").exists() and not (out / "metrics").exists(), sorted(out.rglob("*"))


# ---------------------------------------------------------------- data.eval_fraction
def test_eval_fraction_that_empties_the_reference_split_names_eval_fraction(tmp_path):
    out = tmp_path / "run"
    r = CliRunner().invoke(app, ["run", "breast-cancer-mlp", "--quick", "data.eval_fraction=0.99", "--out", str(out)])
    line = _error_line(r)
    assert line.startswith("error: config key 'data.eval_fraction': 0.99 of the 142 held-out (test) samples"), line
    assert "reference split of 1 sample(s), fewer than the 32 explained test samples" in line
    assert "lower data.eval_fraction to at most 0.77" in line
    _nothing_trained(out)


def test_the_largest_eval_fraction_the_message_allows_runs_its_data_stage():
    from genphase.pipeline.config import load_config
    from genphase.pipeline.data import load_data

    ds = load_data(load_config("breast-cancer-mlp", ["data.eval_fraction=0.77"], quick=True))
    assert len(ds.y_test) >= 32 and len(ds.y_eval) >= 20
