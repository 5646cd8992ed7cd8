"""Moved public names keep their old import path, with a DeprecationWarning naming the new one."""

from __future__ import annotations

import importlib

import pytest

MOVED = [
    ("genphase.pipeline.shared", "load_data", "genphase.pipeline.data", "load_data"),
    ("genphase.pipeline.shared", "resolve_device", "genphase.pipeline.devices", "resolve_device"),
    ("genphase.pipeline.shared", "build_model_for", "genphase.pipeline.models", "build_model_for"),
    ("genphase.pipeline.shared", "baseline_data", "genphase.pipeline.baselines", "baseline_data"),
    ("genphase.pipeline.shared", "baseline_warnings", "genphase.analysis.engine", "baseline_warnings"),
    ("genphase.pipeline.run", "BASELINE_ACCURACY_GAP", "genphase.analysis.engine", "BASELINE_ACCURACY_GAP"),
    ("genphase.pipeline.storage", "RunPaths", "genphase.rundir.layout", "RunPaths"),
    ("genphase.pipeline.storage", "write_json", "genphase.rundir.files", "write_json"),
    ("genphase.pipeline.tasks", "make_task", "genphase.pipeline.modality", "make_modality"),
    ("genphase.pipeline.tasks", "ArrayTask", "genphase.pipeline.modality", "ArrayModality"),
    ("genphase.pipeline.stages", "RunPlan", "genphase.pipeline.driver", "RunPlan"),
    ("genphase.pipeline.stages", "with_execution", "genphase.pipeline.driver", "with_execution"),
    ("genphase.pipeline.graph", "RunStore", "genphase.pipeline.store", "RunStore"),
    ("genphase.pipeline.graph", "NodeContext", "genphase.pipeline.worker", "NodeContext"),
    ("genphase.masked_outputs", "explain", "genphase.extraction", "explain"),
]


@pytest.mark.parametrize(("old", "name", "new", "new_name"), MOVED)
def test_an_old_path_still_works_and_says_where_the_name_went(old, name, new, new_name):
    with pytest.warns(DeprecationWarning, match=rf"{old}\.{name} moved to {new}\.{new_name}"):
        obj = getattr(importlib.import_module(old), name)
    assert obj is getattr(importlib.import_module(new), new_name)


def test_an_unknown_name_is_still_an_attribute_error():
    with pytest.raises(AttributeError, match="has no attribute 'nothing'"):
        _ = importlib.import_module("genphase.pipeline.shared").nothing
