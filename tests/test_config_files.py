"""Config files as a user writes them: a key given twice is refused (naming the file, the key, its lines and
the fix) wherever genphase reads a config YAML, before anything trains (issue 25, item 5)."""

from __future__ import annotations

import pytest
from minirun import copy_run, tiny_run_dir
from typer.testing import CliRunner

from genphase.cli import app


def _run(*args: str):
    return CliRunner().invoke(app, ["run", *args])


def _error_line(r) -> str:
    """The one ``error:`` line of a refused command (exit status 2, no traceback)."""
    assert r.exit_code == 2, r.output
    assert "Traceback" not in r.output, r.output
    lines = [ln for ln in r.output.splitlines() if ln.strip()]
    assert len(lines) == 1 and lines[0].startswith("error:"), r.output
    return lines[0]


def test_two_training_sections_are_refused_with_both_lines(tmp_path):
    cfg = tmp_path / "study.yaml"
    cfg.write_text("preset: digits\ntraining:\n  epochs: 3\nexplain:\n  samples: 8\ntraining:\n  lr: 0.1\n")
    out = tmp_path / "run"
    line = _error_line(_run(str(cfg), "--out", str(out)))
    assert str(cfg) in line
    assert "key 'training' is given twice (lines 2 and 6)" in line
    assert "keep one 'training:' section and move the keys of the others into it" in line
    assert not out.exists()  # refused before the run directory is made, let alone trained


def test_a_key_given_twice_inside_a_section_is_refused(tmp_path):
    cfg = tmp_path / "c.yaml"
    cfg.write_text("preset: digits\ntraining:\n  epochs: 3\n  lr: 0.1\n  epochs: 5\n")
    line = _error_line(_run(str(cfg), "--out", str(tmp_path / "run")))
    assert str(cfg) in line and "key 'training.epochs' is given twice (lines 3 and 5)" in line
    assert "keep one 'epochs:' line and delete the others" in line


def test_study_refuses_the_duplicate_too(tmp_path):
    cfg = tmp_path / "c.yaml"
    cfg.write_text("preset: digits\nvariables:\n  n: 3\nvariables:\n  n: 4\n")
    r = CliRunner().invoke(app, ["study", str(cfg), "--seeds", "0", "--out", str(tmp_path / "s")])
    assert "key 'variables' is given twice (lines 2 and 4)" in _error_line(r)
    assert not (tmp_path / "s").exists()


def test_a_duplicate_inside_an_override_value_is_refused(tmp_path):
    r = _run("digits", "model.options={hidden: [3], hidden: [4]}", "--out", str(tmp_path / "run"))
    line = _error_line(r)
    assert "model.options={hidden: [3], hidden: [4]}" in line and "key 'hidden' is given twice (both on line 1)" in line


def test_merge_keys_may_still_be_overridden(tmp_path):
    """``<<: {...}`` then a key of the merged mapping is an override, not a duplicate."""
    from genphase.pipeline.config import load_config

    cfg = tmp_path / "c.yaml"
    cfg.write_text("preset: digits\ntraining:\n  <<: {epochs: 3, lr: 0.1}\n  epochs: 4\n")
    got = load_config(str(cfg))
    assert (got.training.epochs, got.training.lr) == (4, 0.1)


def test_verify_names_a_run_directorys_config_yaml_with_a_duplicate(tmp_path_factory, tmp_path):
    run = copy_run(tiny_run_dir(tmp_path_factory), tmp_path / "run")
    text = (run / "config.yaml").read_text()
    (run / "config.yaml").write_text(text + "training:\n  epochs: 9\n")
    r = CliRunner().invoke(app, ["run", "--verify", str(run)])
    assert r.exit_code == 1
    assert "config.yaml" in r.output and "key 'training' is given twice" in r.output


@pytest.mark.parametrize("text", ["training:\n  epochs: 3\n", "training: {}\n", ""])
def test_files_without_duplicates_still_load(tmp_path, text):
    from genphase.pipeline.config import load_config

    cfg = tmp_path / "c.yaml"
    cfg.write_text("preset: digits\n" + text)
    assert load_config(str(cfg)).data.name == "digits"
