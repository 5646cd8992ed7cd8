"""Each bad input of issue 25 (item 6) gets a named error naming the key or file and the fix, before anything
trains where that is possible; Ctrl-C says that the same command resumes. Run as a user does: the CLI through
typer's CliRunner or a subprocess, real presets and config files."""

from __future__ import annotations

import os
import signal
import subprocess
import sys
import threading
import time
from pathlib import Path

import pandas as pd
import pytest
from minirun import TINY, copy_run, tiny_run_dir
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


# ---------------------------------------------------------------- encodings
@pytest.mark.parametrize("kind", ["utf-16", "utf-16-le", "binary"])
def test_a_config_that_is_not_utf8_names_the_file(tmp_path, kind):
    cfg = tmp_path / "c.yaml"
    text = "preset: digits\ntraining:\n  epochs: 3\n"
    cfg.write_bytes(text.encode(kind) if kind != "binary" else bytes(range(256)) * 4)
    out = tmp_path / "run"
    line = _error_line(CliRunner().invoke(app, ["run", str(cfg), "--out", str(out)]))
    assert f"config file {str(cfg)!r}" in line and "genphase reads YAML files as UTF-8 text" in line
    assert "UnicodeDecodeError" not in line
    assert {"utf-16": "UTF-16 text (it starts with a UTF-16 byte-order mark)",
            "utf-16-le": "UTF-16LE text without a byte-order mark",
            "binary": "not text"}[kind] in line
    if kind != "binary":
        assert f"iconv -f {'UTF-16' if kind == 'utf-16' else 'UTF-16LE'} -t UTF-8 {cfg} > {tmp_path / 'c-utf8.yaml'}" in line
    assert not out.exists()


def test_a_utf8_config_with_a_byte_order_mark_still_loads(tmp_path):
    from genphase.pipeline.config import load_config

    cfg = tmp_path / "c.yaml"
    cfg.write_bytes("preset: digits\ntraining:\n  epochs: 3  # é\n".encode("utf-8-sig"))
    assert load_config(str(cfg)).training.epochs == 3


def test_verify_names_a_run_directorys_utf16_config(tmp_path_factory, tmp_path):
    run = copy_run(tiny_run_dir(tmp_path_factory), tmp_path / "run")
    (run / "config.yaml").write_bytes((run / "config.yaml").read_text().encode("utf-16"))
    r = CliRunner().invoke(app, ["run", "--verify", str(run)])
    assert r.exit_code == 1 and "config.yaml" in r.output and "UTF-16 text" in r.output, r.output


# ---------------------------------------------------------------- seeds
@pytest.mark.parametrize(("key", "top"), [("data.seed", 2**32 - 1), ("training.seed", 2**32 - 1),
                                          ("baselines.seed", 2**32 - 3), ("explain.seed", 2**32 - 2),
                                          ("variables.seed", 2**32 - 1), ("analysis.seed", 2**32 - 2)])
def test_seeds_outside_32_bits_name_their_key(tmp_path, key, top):
    from genphase.pipeline.config import load_config

    for bad in (2**32, top + 1, -1):
        out = tmp_path / f"run{bad}"
        line = _error_line(CliRunner().invoke(app, ["run", "breast-cancer-mlp", "--quick", f"{key}={bad}", "--out", str(out)]))
        assert line.startswith(f"error: config key '{key}': must be an integer in 0..{top}"), line
        assert f"got {bad}; e.g. {key}=0" in line
        assert not out.exists()
    assert getattr(load_config("breast-cancer-mlp", [f"{key}={top}"]), key.split(".")[0]).seed == top


def test_the_largest_seeds_are_accepted_where_they_are_used():
    """The bound is the real one: scikit-learn and numpy take the largest seed the check lets through."""
    from genphase.pipeline.config import load_config
    from genphase.pipeline.data import load_data, select_samples

    cfg = load_config("breast-cancer-mlp", ["data.seed=4294967295", "explain.seed=4294967294", "data.label_noise=0.1",
                                            "data.train_size=100", "data.test_subsample=100"])
    ds = load_data(cfg)
    assert len(ds.y_train) == 100
    assert select_samples(cfg, ds) is not None


def test_study_seeds_beyond_32_bits_are_refused_before_anything_runs(tmp_path):
    out = tmp_path / "study"
    line = _error_line(CliRunner().invoke(app, ["study", "breast-cancer-mlp", "--quick", "--seeds",
                                                "18446744073709551616", "--out", str(out)]))
    assert line == ("error: --seeds: 18446744073709551616 is too large; seeds are integers in 0..4294967295 (32-bit: "
                    "numpy and scikit-learn refuse larger ones), e.g. --seeds 0 1 2")
    assert not out.exists()
    # a seed in range that shifts a configured seed (the baselines': seed * K) out of range names --seeds too
    line = _error_line(CliRunner().invoke(app, ["study", "breast-cancer-mlp", "--quick", "--seeds", "0", "4294967295",
                                                "--out", str(out)]))
    assert line.startswith("error: --seeds: seed 4294967295 shifts the configuration's seeds out of range "
                           "(config key 'baselines.seed'")
    assert "the largest seed this configuration takes is 1431655431" in line
    assert not out.exists()


# ---------------------------------------------------------------- one explained sample, no bootstrap
def test_one_explained_sample_without_bootstrap_runs_to_the_end(tmp_path):
    """The fix the bootstrap's own message suggests (explain.samples below 8: analysis.n_resamples=0) finishes, with
    point estimates and no intervals, K = 2 so the H-bar ceiling is computed too."""
    out = tmp_path / "run"
    ov = [o for o in TINY if not o.startswith(("explain.samples", "baselines.k"))]
    r = CliRunner().invoke(app, ["run", "digits", *ov, "baselines.k=2", "explain.samples=1", "analysis.n_resamples=0",
                                 "--out", str(out)])
    assert r.exit_code == 0, r.output
    assert (out / "report.html").is_file()
    ceiling = pd.read_parquet(out / "metrics" / "h_bar_ceiling.parquet")
    assert sorted(ceiling["split"]) == ["test", "train"]
    assert ceiling["ci_low"].isna().all() and ceiling["ci_high"].isna().all()
    h = pd.read_parquet(out / "metrics" / "h_bar.parquet")
    assert h.groupby("checkpoint")["sample"].nunique().eq(2).all()  # one training and one reference sample
    assert not (out / "metrics" / "h_bar_summary.parquet").exists()


def test_too_few_samples_for_the_bootstrap_is_still_refused_before_training(tmp_path):
    out = tmp_path / "run"
    line = _error_line(CliRunner().invoke(app, ["run", "digits", "explain.samples=1", "--out", str(out)]))
    assert "config key 'explain.samples'" in line and "analysis.n_resamples=0" in line
    assert not out.exists()


# ---------------------------------------------------------------- genphase report on a file
def test_report_on_a_file_names_the_path_and_the_fix(tmp_path_factory, tmp_path):
    run = copy_run(tiny_run_dir(tmp_path_factory), tmp_path / "run")
    line = _error_line(CliRunner().invoke(app, ["report", str(run / "config.yaml")]))
    assert line == f"error: {str(run / 'config.yaml')!r} is a file, not a run directory; pass the run directory " \
                   f"that holds it: `genphase report {run}`"
    other = tmp_path / "notes.txt"
    other.write_text("x")
    line = _error_line(CliRunner().invoke(app, ["report", str(other)]))
    assert f"{str(other)!r} is a file, not a run directory" in line and "`genphase report DIR`" in line
    line = _error_line(CliRunner().invoke(app, ["report", str(tmp_path / "nope")]))
    assert "does not exist" in line


# ---------------------------------------------------------------- Ctrl-C
def _start(args: list[str]) -> tuple[subprocess.Popen, list[str], threading.Thread]:
    env = {**os.environ, "PYTHONPATH": os.pathsep.join([str(SRC), os.environ.get("PYTHONPATH", "")])}
    # a terminal's Ctrl-C reaches a process whose SIGINT is at its default (a test runner may have it ignored)
    proc = subprocess.Popen([sys.executable, "-m", "genphase.cli", *args], env=env, stdout=subprocess.PIPE,
                            stderr=subprocess.PIPE, text=True,
                            preexec_fn=lambda: signal.signal(signal.SIGINT, signal.SIG_DFL))
    lines: list[str] = []

    def read() -> None:
        assert proc.stderr is not None
        for ln in proc.stderr:
            lines.append(ln)

    reader = threading.Thread(target=read, daemon=True)
    reader.start()
    return proc, lines, reader


def _interrupt_during_training(args: list[str], first_line: str) -> tuple[int, list[str], str]:
    proc, lines, reader = _start(args)
    deadline = time.monotonic() + 300
    while not any(first_line in ln for ln in lines):
        if proc.poll() is not None:
            pytest.fail(f"ended (rc {proc.returncode}) before training:\n{''.join(lines)[-3000:]}")
        assert time.monotonic() < deadline, "did not reach training"
        time.sleep(0.05)
    while not any("[train] epoch" in ln for ln in lines):  # training is under way
        assert proc.poll() is None, "".join(lines)
        assert time.monotonic() < deadline, "".join(lines)
        time.sleep(0.02)
    proc.send_signal(signal.SIGINT)
    for _ in range(3):  # as a user presses Ctrl-C again: Python drops an interrupt that lands in a __del__ or callback
        try:
            rc = proc.wait(timeout=10)
            break
        except subprocess.TimeoutExpired:
            proc.send_signal(signal.SIGINT)
    else:
        rc = proc.wait(timeout=120)
    reader.join(timeout=30)
    assert proc.stdout is not None
    return rc, lines, proc.stdout.read()


SMALL = ["breast-cancer-mlp", "--quick", "baselines.k=2", "baselines.epochs=2", "variables.n=3", "explain.samples=8",
         "analysis.n_resamples=0"]


def test_ctrl_c_during_a_run_says_the_same_command_resumes(tmp_path):
    out = tmp_path / "run"
    args = ["run", *SMALL, "--no-report", "--out", str(out)]
    rc, lines, stdout = _interrupt_during_training(args, "stage 1/5 train")
    assert rc == 130, "".join(lines)
    assert lines[-1] == (f"interrupted: the run stopped (Ctrl-C); the work it finished in {out} is kept: run the same "
                         "command again to resume it\n"), "".join(lines)
    assert "Traceback" not in "".join(lines) and "error:" not in "".join(lines) and stdout == ""
    assert not (out / "metrics").exists()  # it did stop during training
    again = subprocess.run([sys.executable, "-m", "genphase.cli", *args], capture_output=True, text=True, timeout=600,
                           env={**os.environ, "PYTHONPATH": os.pathsep.join([str(SRC), os.environ.get("PYTHONPATH", "")])})
    assert again.returncode == 0, again.stderr[-3000:]
    assert (out / "metrics" / "phases.json").is_file()


def test_ctrl_c_during_a_study_says_the_same_command_resumes(tmp_path):
    out = tmp_path / "study"
    rc, lines, _ = _interrupt_during_training(["study", *SMALL, "--seeds", "0", "--no-report", "--out", str(out)],
                                              "stage 1/5 train")
    assert rc == 130, "".join(lines)
    assert lines[-1] == (f"interrupted: the study stopped (Ctrl-C); the work it finished in {out} is kept: run the "
                         "same command again to resume it\n"), "".join(lines)
    assert "Traceback" not in "".join(lines)


# ---------------------------------------------------------------- memory estimate at batch_size=1
@pytest.mark.parametrize("n", [26, 30])
def test_extract_and_or_checks_memory_whatever_the_batch_size(n):
    """A [1, 2**n] game of stride 0 (no memory behind it): refused by the estimate, never handed to the allocator."""
    import torch

    from genphase import extract_and_or
    from genphase.errors import MemoryEstimateError
    from genphase.solvers import available_memory, estimate_memory

    need = estimate_memory(n, 1, noisy=False)
    if need <= available_memory(torch.device("cpu")) * 0.8:
        pytest.skip(f"this machine has the {need / 2**30:.0f} GiB one sample at n={n} needs")
    values = torch.zeros(1, dtype=torch.float64).expand(1, 2**n)
    for batch_size in (1, 2, None):
        with pytest.raises(MemoryEstimateError) as err:
            extract_and_or(values, batch_size=batch_size)
        msg = str(err.value)
        assert msg.startswith(f"n={n} needs about {need} bytes ({need / 2**30:.2f} GiB) per sample"), msg
        assert "use fewer variables (n=" in msg
        if batch_size is not None:
            assert f"batch_size={batch_size} cannot help: one sample alone needs that much" in msg
