"""Recovery that works: a recorded file that is deleted, truncated, edited or swapped is detected when the same
command runs again, recomputed with everything that depends on it, and the run ends with the tables of an
undamaged run (docs/reliability.md)."""

from __future__ import annotations

import json
import shutil

import pandas as pd
import pytest
from minirun import copy_run, tiny_config, tiny_run_dir

from genphase.pipeline.integrity import verify_run
from genphase.pipeline.run import run

KINDS = [
    ("checkpoints/model/epoch_0001.pt", "delete"),
    ("checkpoints/training_log.json", "edit"),
    ("checkpoints/baseline_0/final.pt", "delete"),
    ("checkpoints/baseline_0/data.npz", "truncate"),
    ("checkpoints/baseline_0/training_log.json", "delete"),
    ("explained/samples.npz", "truncate"),
    ("explained/variables.json", "delete"),
    ("interactions/model/epoch_0002.npz", "truncate"),
    ("interactions/baseline_0.npz", "delete"),
    ("interactions/model/epoch_0000.npz", "swap"),
]


def _damage(root, rel, how):
    p = root / rel
    if how == "delete":
        p.unlink()
    elif how == "truncate":
        p.write_bytes(p.read_bytes()[: p.stat().st_size // 2])
    elif how == "edit":
        log = json.loads(p.read_text())
        log[-1]["loss"] += 0.5
        p.write_text(json.dumps(log))
    elif how == "swap":  # another checkpoint's interactions under this name
        shutil.copyfile(p.parent / "epoch_0001.npz", p)


def _tables(root):
    return {p.name: pd.read_parquet(p) for p in sorted((root / "metrics").glob("*.parquet"))}


@pytest.mark.slow
@pytest.mark.parametrize(("rel", "how"), KINDS, ids=[f"{how}-{rel.replace('/', '_')}" for rel, how in KINDS])
def test_a_damaged_file_is_recomputed_by_the_same_command(tmp_path_factory, tmp_path, rel, how):
    undamaged = tiny_run_dir(tmp_path_factory)
    root = copy_run(undamaged, tmp_path / "run")
    _damage(root, rel, how)
    assert any(f.path == rel and f.status in ("missing", "corrupt", "foreign") for f in verify_run(root))
    lines = []
    run(tiny_config(), root, log=lines.append, report=False)
    assert any(rel in line and "recomputing" in line for line in lines), lines
    assert {f.status for f in verify_run(root)} == {"ok"}
    before, after = _tables(undamaged), _tables(root)
    assert sorted(before) == sorted(after)
    for name in before:
        pd.testing.assert_frame_equal(before[name], after[name], check_exact=True, obj=name)
    assert json.loads((undamaged / "metrics/phases.json").read_text()) == json.loads((root / "metrics/phases.json").read_text())


def test_an_edited_config_yaml_is_refused_on_resume(tmp_path_factory, tmp_path):
    """The tables are computed with the recorded configuration: a config.yaml that says otherwise is refused."""
    import yaml

    from genphase.errors import RunDirectoryError

    root = copy_run(tiny_run_dir(tmp_path_factory), tmp_path / "run")
    raw = yaml.safe_load((root / "config.yaml").read_text())
    raw["interactions"]["tau"] = 0.2
    (root / "config.yaml").write_text(yaml.safe_dump(raw, sort_keys=False))
    with pytest.raises(RunDirectoryError, match=r"config.yaml' was edited after the run started: interactions.tau "
                                                r"\(0.2 in the file, 0.05 in the run\); revert it"):
        run(tiny_config(), root, log=lambda m: None, report=False)
    raw["interactions"]["tau"] = 0.05
    raw["executor"] = "ray"  # how it runs is not part of the configuration: accepted
    (root / "config.yaml").write_text(yaml.safe_dump(raw, sort_keys=True))
    run(tiny_config(), root, log=lambda m: None, report=False)
