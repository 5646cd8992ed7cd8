"""The three examples end to end, in miniature: TensorBoard tags, the run directory, `genphase report DIR`."""

from __future__ import annotations

import importlib.util
from pathlib import Path

import pandas as pd
import pytest

EXAMPLES = Path(__file__).resolve().parents[2] / "examples"
TINY = ["--epochs", "4", "--samples", "8", "--n", "4", "--k", "1", "--baseline-epochs", "2"]


def _run(name: str, argv: list[str]) -> Path:
    spec = importlib.util.spec_from_file_location(f"example_{name}", EXAMPLES / f"{name}.py")
    mod = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(mod)
    return mod.main(argv)


def _check(out: Path, events_under: Path) -> None:
    from tensorboard.backend.event_processing.event_accumulator import EventAccumulator
    from typer.testing import CliRunner

    from genphase.cli import app

    files = list(events_under.rglob("events.out.tfevents.*"))
    assert files, f"no TensorBoard event files under {events_under}"
    ev = EventAccumulator(str(files[0].parent))
    ev.Reload()
    assert {"genphase/h_bar", "genphase/h_bar_test"} <= set(ev.Tags()["scalars"])
    # what TensorBoard shows is what the run directory holds
    hb = pd.read_parquet(out / "metrics" / "h_bar.parquet")
    means = hb[hb["split"] == "test"].groupby("checkpoint")["h_bar"].mean()
    logged = [e.value for e in sorted(ev.Scalars("genphase/h_bar_test"), key=lambda e: e.step)]
    assert logged == pytest.approx(means.sort_index().to_list(), rel=1e-5)  # Lightning's x-axis is the global step
    r = CliRunner().invoke(app, ["report", str(out)])
    assert r.exit_code == 0, r.output
    assert (out / "report.html").stat().st_size > 10_000


@pytest.mark.slow
def test_torch_loop_example(tmp_path):
    out = _run("torch_loop", ["--out", str(tmp_path / "run"), "--every", "2", *TINY])
    _check(out, out / "tensorboard")
    assert sorted(pd.read_parquet(out / "metrics/h_bar.parquet")["checkpoint"].unique()) == [0, 2, 4]


@pytest.mark.slow
def test_lightning_example(tmp_path):
    pytest.importorskip("pytorch_lightning")
    out = _run("lightning_digits", ["--out", str(tmp_path / "run"), "--every", "2", *TINY])
    _check(out, out / "tensorboard")


@pytest.mark.slow
def test_hf_trainer_example(tmp_path):
    pytest.importorskip("transformers")
    out = _run("hf_trainer_text", ["--out", str(tmp_path / "run"), "--epochs", "2", "--samples", "8", "--n", "3",
                                   "--k", "1", "--baseline-epochs", "1", "--train-size", "100",
                                   "--reference-size", "60", "--hidden", "16"])
    _check(out, out / "tensorboard")
    assert any((out / "hf").rglob("events.out.tfevents.*"))  # the Trainer's report_to=tensorboard too
