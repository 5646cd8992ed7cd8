"""Config validation: unknown keys, wrong types and impossible values fail before training."""

from __future__ import annotations

import pytest

from genphase.errors import ConfigError
from genphase.pipeline.config import load_config
from genphase.pipeline.presets import PRESETS, preset_dict


@pytest.mark.parametrize("name", list(PRESETS))
@pytest.mark.parametrize("quick", [False, True])
def test_every_preset_is_a_valid_config(name, quick):
    cfg = load_config(name, quick=quick)
    assert cfg.preset == name
    eps = cfg.checkpoint_epochs()
    assert eps[0] == 0 and eps[-1] == cfg.training.epochs and eps == sorted(set(eps))


def test_required_presets_exist():
    for name in ("digits", "fashion-mnist-lenet", "fashion-mnist-resnet", "rotten-tomatoes-bert",
                 "rotten-tomatoes-minilm", "pointcloud-dgcnn", "breast-cancer-mlp"):
        assert name in PRESETS


@pytest.mark.parametrize(
    "overrides, match",
    [
        (["training.epochs=0"], "training.epochs"),
        (["training.epochz=3"], "unknown config key 'training.epochz'"),
        (["training.lr=fast"], "training.lr.*expected float"),
        (["baselines.k=0"], "baselines.k"),
        (["variables.n=40"], "variables.n"),
        (["interactions.tau=2"], "interactions.tau"),
        (["interactions.solver=magic"], "interactions.solver"),
        (["checkpoints.schedule=sometimes"], "checkpoints.schedule"),
        (["bogus=1"], "unknown config key 'bogus'"),
        (["training=3"], "expected a mapping"),
        (["noequals"], "section.key=value"),
        (["interactions.value_function=nosuch"], "interactions.value_function"),
        (["baselines.lr=-1"], "baselines.lr"),
        (["training.momentum=-1"], "training.momentum"),
        (["explain.selection=correct"], "explain.selection"),
        (["interactions.noise_bound=.inf"], "interactions.noise_bound"),
    ],
)
def test_bad_overrides_name_the_key(overrides, match):
    with pytest.raises(ConfigError, match=match):
        load_config("digits", overrides)


def test_yaml_file_with_preset_base(tmp_path):
    p = tmp_path / "c.yaml"
    p.write_text("preset: digits\ntraining:\n  epochs: 7\n")
    cfg = load_config(p)
    assert cfg.training.epochs == 7 and cfg.data.name == "digits"
    p.write_text("- a\n- b\n")
    with pytest.raises(ConfigError, match="mapping"):
        load_config(p)
    with pytest.raises(ConfigError, match="neither a preset"):
        load_config(tmp_path / "missing.yaml")


def test_log_schedule():
    cfg = load_config("digits", ["checkpoints.schedule=log", "checkpoints.count=5", "training.epochs=100"])
    eps = cfg.checkpoint_epochs()
    assert eps[0] == 0 and eps[-1] == 100 and len(eps) <= 6
    assert preset_dict("digits")["data"]["name"] == "digits"
