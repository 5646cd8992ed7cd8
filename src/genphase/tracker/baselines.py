"""The baselines a Tracker trains itself: K fresh models of the user's factory, trained on the reference data."""

from __future__ import annotations

from typing import Any, Mapping

import numpy as np
import torch

from ..errors import InputError
from .forward import _call, _to

__all__: list[str] = []


_OPTIMIZERS = ("adam", "adamw", "sgd")


def _split_batch(batch: Any) -> tuple[Any, torch.Tensor]:
    if isinstance(batch, Mapping):
        b = dict(batch)
        for key in ("labels", "label", "y"):
            if key in b:
                return b, torch.as_tensor(b.pop(key))
        raise InputError(f"a reference batch given as a mapping needs a 'labels' entry, got keys {sorted(b)}")
    if isinstance(batch, (tuple, list)) and len(batch) == 2:
        return batch[0], torch.as_tensor(batch[1])
    raise InputError(f"reference batches must be (inputs, labels) pairs or mappings with 'labels', got {type(batch).__name__}")


def _train_baseline(model: torch.nn.Module, data: Any, spec: Mapping[str, Any], seed: int,
                   device: torch.device) -> list[dict[str, Any]]:
    """Train ``model`` on ``data`` (a DataLoader or an ``(x, y)`` pair) with cross-entropy as ``spec`` says
    (``epochs``, ``lr``, ``optimizer``, ``batch_size``), seeded; its training log (split "test": the reference data)."""
    from ..models._common import seeded

    with seeded(seed), torch.inference_mode(False), torch.enable_grad():
        if isinstance(data, (tuple, list)) and len(data) == 2 and not isinstance(data, torch.utils.data.DataLoader):
            x, y = data
            xt = x if isinstance(x, torch.Tensor) else torch.as_tensor(np.asarray(x))
            ds = torch.utils.data.TensorDataset(xt.float() if xt.is_floating_point() else xt, torch.as_tensor(np.asarray(y)).long())
            g = torch.Generator().manual_seed(seed)
            loader = torch.utils.data.DataLoader(ds, batch_size=spec["batch_size"], shuffle=True, generator=g)
        else:
            loader = data
        opt_cls = {"adam": torch.optim.Adam, "adamw": torch.optim.AdamW, "sgd": torch.optim.SGD}[spec["optimizer"]]
        opt = opt_cls(model.parameters(), lr=spec["lr"], **({"momentum": 0.9} if spec["optimizer"] == "sgd" else {}))
        model.train()
        log = []
        for epoch in range(1, spec["epochs"] + 1):
            tot, correct, count = 0.0, 0, 0
            for batch in loader:
                x, y = _split_batch(batch)
                x, y = _to(x, device), y.to(device).long()
                out = _call(model, x)
                loss = torch.nn.functional.cross_entropy(out, y)
                opt.zero_grad(set_to_none=True)
                loss.backward()
                opt.step()
                tot += float(loss.detach()) * len(y)
                correct += int((out.argmax(1) == y).sum())
                count += len(y)
            if count == 0:
                raise InputError("reference_data yielded no batches; pass a non-empty DataLoader or (x, y) pair")
            log.append({"epoch": epoch, "split": "test", "loss": tot / count, "accuracy": correct / count})
        model.eval()
    return log

