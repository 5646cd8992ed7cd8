"""`genphase run` directory guards and early config errors (kills and resumption: test_resume.py)."""

from __future__ import annotations

import pytest
from miniature import MINI

from genphase.errors import RunDirectoryError
from genphase.pipeline.config import load_config
from genphase.pipeline.run import run


def test_other_config_in_run_dir_is_refused(tmp_path):
    cfg = load_config("digits", MINI)
    from genphase.pipeline.records import _prepare_dir
    from genphase.rundir import RunPaths

    _prepare_dir(RunPaths(tmp_path / "r"), cfg)
    (tmp_path / "r" / "checkpoints").mkdir()  # work has started: the directory is no longer free
    with pytest.raises(RunDirectoryError, match=r"holds a run of another configuration \(hash [0-9a-f]{16} vs [0-9a-f]{16}; "
                                                 r"differing keys: training.epochs\); choose another --out or delete it"):
        run(load_config("digits", MINI + ["training.epochs=7"]), tmp_path / "r", log=lambda m: None)
    (tmp_path / "x").mkdir()
    (tmp_path / "x" / "file.txt").write_text("mine")
    with pytest.raises(RunDirectoryError, match=r"exists and is not a genphase run directory \(no manifest.json\); choose another --out"):
        run(cfg, tmp_path / "x", log=lambda m: None)


def test_config_errors_fail_before_training(tmp_path):
    from genphase.errors import ConfigError

    # digits keeps 400 training samples (data.train_size), checked before the 898 test samples
    with pytest.raises(ConfigError, match=r"config key 'explain.samples': 100000 exceeds the 400 samples of the train split"):
        run(load_config("digits", ["explain.samples=100000"]), tmp_path / "r", log=lambda m: None)
    assert not (tmp_path / "r" / "checkpoints").exists()


def test_cli_presets_and_help():
    from typer.testing import CliRunner

    from genphase.cli import app

    r = CliRunner().invoke(app, ["presets"])
    assert r.exit_code == 0
    from genphase.pipeline.presets import PRESETS

    # one row per preset, in order (wrapped descriptions continue on indented lines)
    listed = [line.split()[0] for line in r.output.splitlines()[1:] if line[:2].strip()]
    assert listed == list(PRESETS)
    r = CliRunner().invoke(app, ["run", "--help"])
    assert r.exit_code == 0 and "resumes" in r.output


def test_directory_of_a_run_that_failed_before_any_work_is_taken_over(tmp_path):
    from genphase.errors import GenphaseError

    bad = load_config("digits", MINI + ["data.options.foo=1"])
    with pytest.raises(GenphaseError, match=r"unknown option\(s\) \['foo'\] for dataset 'digits'"):
        run(bad, tmp_path / "r", log=lambda m: None, report=False)
    out = run(load_config("digits", MINI), tmp_path / "r", log=lambda m: None, report=False)
    assert (out / "metrics" / "h_bar.parquet").exists()
    assert oct((out / "manifest.json").stat().st_mode & 0o777) != oct(0o600)
