"""Every setting is validated where it is read: the error names the value and the allowed choices."""

from __future__ import annotations

import numpy as np
import pytest
import torch

from genphase.errors import ConfigError, InputError
from genphase.pipeline.config import LAYOUTS, load_config


def test_unknown_layout_names_the_value_and_the_choices():
    with pytest.raises(ConfigError, match=r"variables.layout.*'bogus'.*random-central"):
        load_config("digits", ["variables.layout=bogus"])


@pytest.mark.parametrize("preset, layout", [("breast-cancer-mlp", "all"), ("pointcloud-pointnet", "first"),
                                            ("digits", "first")])
def test_layout_of_another_modality_is_refused_where_it_is_read(preset, layout):
    from genphase.pipeline.modality import make_modality
    from genphase.pipeline.run import build_model_for, load_data

    cfg = load_config(preset, [f"variables.layout={layout}", "variables.n=4"], quick=True)
    ds = load_data(cfg)
    model = build_model_for(cfg, ds, seed=0)
    with pytest.raises(ConfigError, match=rf"variables.layout.*'{layout}'.*{ds.modality} data.*choose one of "
                                          + ", ".join(LAYOUTS[ds.modality])):
        make_modality(ds.modality, cfg).masker_and_inputs(model, ds, np.asarray(ds.x_test[:2]))


def test_unknown_variables_option_is_refused():
    from genphase.pipeline.modality import make_modality
    from genphase.pipeline.run import build_model_for, load_data

    cfg = load_config("digits", ["variables.options.centre_fraction=0.5"])
    ds = load_data(cfg)
    with pytest.raises(ConfigError, match=r"variables.options.*centre_fraction.*central_fraction"):
        make_modality("image", cfg).masker_and_inputs(build_model_for(cfg, ds, seed=0), ds, ds.x_test[:2])
    cfg = load_config("digits", ["variables.options.central_fraction=7"])
    with pytest.raises(ConfigError, match=r"variables.*central_fraction must be in \(0, 1\], got 7"):
        make_modality("image", cfg).masker_and_inputs(build_model_for(cfg, ds, seed=0), ds, ds.x_test[:2])


@pytest.mark.parametrize("value", ["abc", "[a, b]", "-3", "{x: 1}"])
def test_bad_model_option_is_a_config_error(value):
    from genphase.pipeline.run import build_model_for, load_data

    cfg = load_config("digits", [f"model.options.hidden={value}"])
    with pytest.raises(ConfigError, match=r"model.options.*hidden"):
        build_model_for(cfg, load_data(cfg), seed=0)
    cfg = load_config("digits", ["model.options.hiden=[3]"])
    with pytest.raises(ConfigError, match=r"model.options.*hiden.*hidden"):
        build_model_for(cfg, load_data(cfg), seed=0)


def test_numpy_and_torch_numbers_are_accepted_where_a_number_is():
    raw = {"preset": "digits", "data": {"name": "digits", "label_noise": np.float32(0.25)},
           "model": {"name": "mlp", "options": {"hidden": [np.int64(16)], "dropout": torch.tensor(0.5)}},
           "training": {"epochs": np.int64(3), "lr": torch.tensor(0.1), "momentum": np.float16(0.5)},
           "interactions": {"noise_bound": np.float32(0.0), "tau": np.float64(0.1), "tol": torch.tensor(1e-4)}}
    cfg = load_config(raw)
    assert cfg.training.epochs == 3 and type(cfg.training.epochs) is int
    assert type(cfg.training.lr) is float and cfg.training.lr == pytest.approx(0.1)
    assert cfg.interactions.noise_bound == 0.0 and cfg.data.label_noise == 0.25
    assert cfg.model.options == {"hidden": [16], "dropout": 0.5}
    assert "numpy" not in cfg.to_yaml() and "torch" not in cfg.to_yaml()
    assert load_config("digits", ["interactions.tol=1e-4"]).interactions.tol == 1e-4  # YAML reads 1e-4 as a string
    with pytest.raises(ConfigError, match="training.epochs.*expected int.*2.5"):
        load_config("digits", ["training.epochs=2.5"])
    with pytest.raises(ConfigError, match="training.lr.*NaN"):
        load_config("digits", ["training.lr=.nan"])
    with pytest.raises(ConfigError, match="training.lr.*expected float.*'fast'"):
        load_config("digits", ["training.lr=fast"])


@pytest.mark.parametrize("override, key", [
    ("device=cudax", "device"), ("device=gpu", "device"), ("variables.patch_size=0", "variables.patch_size"),
    ("training.optimizer=rmsprop", "training.optimizer"), ("checkpoints.schedule=weekly", "checkpoints.schedule"),
    ("explain.selection=best", "explain.selection"), ("interactions.solver=cplex", "interactions.solver"),
    ("interactions.value_function=logodds", "interactions.value_function"), ("interactions.tol=5", "interactions.tol"),
    ("interactions.ties=least-l2", "interactions.ties"),
])
def test_enum_and_range_settings_name_the_value(override, key):
    with pytest.raises(ConfigError, match=key.replace(".", r"\.")) as info:
        load_config("digits", [override])
    assert override.split("=")[1] in str(info.value)


def test_tie_rule_needs_the_exact_solver():
    assert load_config("digits", ["interactions.ties=least-norm", "interactions.solver=hpr"]).interactions.ties == "least-norm"
    with pytest.raises(ConfigError, match=r"interactions\.ties.*'highs'.*interactions\.solver=hpr"):
        load_config("digits", ["interactions.ties=least-norm", "interactions.solver=highs"])


def test_complex_inputs_are_refused_by_the_maskers():
    from genphase.maskers import TabularMasker

    with pytest.raises(InputError, match="complex"):
        TabularMasker.from_data(np.ones((4, 3), dtype=complex))
    with pytest.raises(InputError, match="complex"):
        TabularMasker.from_data(torch.ones(4, 3, dtype=torch.complex64))
