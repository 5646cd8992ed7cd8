"""Seeded, resumable training with per-epoch train/test loss and accuracy.

Prediction changes (for Label Wave, :mod:`genphase.analysis.labelwave`): the log rows of split
``"train"`` from epoch 1 on also hold ``prediction_changes``, the number of examples of
``eval_sets["train"]`` whose predicted class (argmax of the logits, model in eval mode after the
epoch) differs from the previous epoch's; no other row has the key. The previous epoch's predictions
are saved with the training state, so a resumed run counts exactly as an uninterrupted one.

Determinism: parameters are initialised from ``seed``; mini-batches are shuffled by a
``numpy.random.Generator(seed)`` whose state is saved with every epoch state, as are torch's
global RNG states (dropout). A run resumed from a saved state continues exactly as an
uninterrupted one on the same machine.
"""

from __future__ import annotations

import math
from dataclasses import dataclass
from pathlib import Path
from typing import Any, Callable

import numpy as np
import torch
import torch.nn.functional as F

from .._readers import read_torch, run_file_fix
from ..errors import CorruptFileError
from ..rundir.files import save_torch
from .modality import Modality, TextModality

__all__ = ["TrainSpec", "train", "evaluate"]


@dataclass
class TrainSpec:
    """Optimiser settings of one training (the ``training`` section, or a baseline's own epochs and lr).

    >>> spec = TrainSpec(epochs=3, optimizer="sgd", lr=0.5, momentum=0.9, weight_decay=0.0, batch_size=8, seed=0)
    >>> spec.epochs, spec.optimizer
    (3, 'sgd')
    """

    epochs: int
    optimizer: str
    lr: float
    momentum: float
    weight_decay: float
    batch_size: int
    seed: int


def _optimizer(model: torch.nn.Module, spec: TrainSpec) -> torch.optim.Optimizer:
    params = [p for p in model.parameters() if p.requires_grad]
    if spec.optimizer == "sgd":
        return torch.optim.SGD(params, lr=spec.lr, momentum=spec.momentum, weight_decay=spec.weight_decay)
    if spec.optimizer == "adam":
        return torch.optim.Adam(params, lr=spec.lr, weight_decay=spec.weight_decay)
    return torch.optim.AdamW(params, lr=spec.lr, weight_decay=spec.weight_decay)


def _batch(modality: Modality, x: Any, idx: np.ndarray, device: torch.device, model: torch.nn.Module):
    if isinstance(modality, TextModality):
        return modality.batch(x, idx, device, model=model)
    return modality.batch(x, idx, device)


@torch.no_grad()
def _evaluate(model: torch.nn.Module, modality: Modality, x: Any, y: np.ndarray, device: torch.device,
              batch_size: int = 512) -> tuple[float, float, torch.Tensor]:
    """Mean cross-entropy, accuracy and the predicted classes ``[n]`` (int64, CPU) of ``model`` on ``(x, y)``."""
    was = model.training
    model.eval()
    n = len(y)
    loss, correct = 0.0, 0
    preds = []
    for lo in range(0, n, batch_size):
        idx = np.arange(lo, min(n, lo + batch_size))
        logits = modality.forward(model, _batch(modality, x, idx, device, model)).float()
        yt = torch.as_tensor(y[idx], device=device)
        loss += float(F.cross_entropy(logits, yt, reduction="sum"))
        p = logits.argmax(-1)
        correct += int((p == yt).sum())
        preds.append(p.to("cpu", torch.int64))
    model.train(was)
    pred = torch.cat(preds) if preds else torch.zeros(0, dtype=torch.int64)
    return loss / max(n, 1), correct / max(n, 1), pred


def evaluate(model: torch.nn.Module, modality: Modality, x: Any, y: np.ndarray, device: torch.device, batch_size: int = 512) -> tuple[float, float]:
    """Mean cross-entropy and accuracy of ``model`` on ``(x, y)``.

    A model with all-zero logits has loss log 2 on two classes, and its argmax (class 0) is right on the zeros:

    >>> from genphase.pipeline.config import load_config
    >>> from genphase.pipeline.modality import make_modality
    >>> modality = make_modality("tabular", load_config("breast-cancer-mlp"))
    >>> model = torch.nn.Linear(4, 2)
    >>> _ = torch.nn.init.zeros_(model.weight), torch.nn.init.zeros_(model.bias)
    >>> x, y = np.ones((4, 4), dtype=np.float32), np.array([0, 0, 0, 1])
    >>> loss, acc = evaluate(model, modality, x, y, torch.device("cpu"))
    >>> round(loss, 4) == round(math.log(2), 4), acc
    (True, 0.75)
    """
    loss, acc, _ = _evaluate(model, modality, x, y, device, batch_size)
    return loss, acc


def train(
    model: torch.nn.Module,
    modality: Modality,
    x: Any,
    y: np.ndarray,
    spec: TrainSpec,
    device: torch.device,
    *,
    eval_sets: dict[str, tuple[Any, np.ndarray]],
    checkpoint_epochs: set[int] = frozenset(),
    on_checkpoint: Callable[[int, torch.nn.Module], None] | None = None,
    state_path: Path | None = None,
    progress: Callable[[int, dict], None] | None = None,
    state_meta: dict[str, Any] | None = None,
    stop_on: tuple[str, int] | None = None,
) -> list[dict]:
    """Train ``model`` in place; return the log (one dict per epoch and split, epoch 0 = init).

    ``stop_on=(split, patience)``: early stopping on the loss of ``eval_sets[split]``; training ends after
    ``patience`` epochs in a row without a lower loss, and the model gets back the weights of the epoch with
    the lowest loss (the first such epoch; the log keeps every epoch trained). Not used with ``state_path``.

    Rows of split ``"train"`` from epoch 1 on also hold ``prediction_changes`` (see the module docstring).

    With ``state_path``, the full training state is saved after every epoch and a run finds
    and continues from it. ``on_checkpoint(epoch, model)`` is called at ``checkpoint_epochs``.
    ``state_meta`` (JSON-like: the run's config hash...) is stored in the state and must match
    when it is read back; a state file that is unreadable, holds pickled code (it is read with
    ``weights_only``) or belongs to another run raises :class:`~genphase.errors.CorruptFileError`.

    >>> from genphase.pipeline.config import load_config
    >>> from genphase.pipeline.modality import make_modality
    >>> modality = make_modality("tabular", load_config("breast-cancer-mlp"))
    >>> x = np.random.default_rng(0).normal(size=(40, 4)).astype(np.float32)
    >>> y = (x[:, 0] > 0).astype(np.int64)  # a linearly separable toy problem
    >>> model = torch.nn.Linear(4, 2)
    >>> spec = TrainSpec(epochs=3, optimizer="sgd", lr=0.5, momentum=0.9, weight_decay=0.0, batch_size=8, seed=0)
    >>> log = train(model, modality, x, y, spec, torch.device("cpu"), eval_sets={"train": (x, y)})
    >>> [(r["epoch"], r["split"]) for r in log], sorted(log[1])  # epoch 0 = initialisation
    ([(0, 'train'), (1, 'train'), (2, 'train'), (3, 'train')], ['accuracy', 'epoch', 'loss', 'prediction_changes', 'split'])
    >>> log[-1]["loss"] < log[0]["loss"], "prediction_changes" in log[0]
    (True, False)
    """
    model.to(device)
    opt = _optimizer(model, spec)
    rng = np.random.default_rng(spec.seed)
    log: list[dict] = []
    start = 0
    prev: dict[str, torch.Tensor] = {}  # the "train" predictions of the previous epoch
    if state_path is not None and state_path.exists():
        in_run = state_path.parent.parent.name == "checkpoints"  # RUN_DIR/checkpoints/model/state.pt
        fix = run_file_fix(state_path.parent.parent.parent if in_run else None) + " (training then restarts from epoch 0)"
        st = read_torch(state_path, map_location=device, fix=fix)
        keys = ("model", "optimizer", "rng", "torch_rng", "log", "epoch")
        if not isinstance(st, dict) or any(k not in st for k in keys):
            raise CorruptFileError(f"{str(state_path)!r} is not a genphase training state (needs {', '.join(keys)}); {fix}", state_path)
        if state_meta is not None and st.get("genphase", state_meta) != state_meta:  # absent: older genphase
            raise CorruptFileError(
                f"{str(state_path)!r} is the training state of another run ({st.get('genphase')!r}, this run is "
                f"{state_meta!r}); {fix}", state_path)
        try:
            model.load_state_dict(st["model"])
            opt.load_state_dict(st["optimizer"])
            rng.bit_generator.state = st["rng"]
            torch.set_rng_state(st["torch_rng"])
        except (RuntimeError, ValueError, TypeError, KeyError) as exc:
            raise CorruptFileError(f"{str(state_path)!r} does not fit this model and optimizer ({exc}); {fix}", state_path) from exc
        if st.get("cuda_rng") is not None and torch.cuda.is_available():
            torch.cuda.set_rng_state_all(st["cuda_rng"])
        log = st["log"]
        start = int(st["epoch"])
        if "train" in eval_sets:
            saved = st.get("train_predictions")
            if isinstance(saved, torch.Tensor) and saved.numel() == len(eval_sets["train"][1]):
                prev["train"] = saved.to(torch.int64)
            else:  # a state saved before predictions were kept: the state's model gives them exactly
                prev["train"] = _evaluate(model, modality, *eval_sets["train"], device)[2]
    else:
        torch.manual_seed(spec.seed)
        _record(log, 0, model, modality, eval_sets, device, prev)
        if on_checkpoint is not None and 0 in checkpoint_epochs:
            on_checkpoint(0, model)
    n = len(y)
    if stop_on is not None:
        if state_path is not None or stop_on[0] not in eval_sets:
            raise ValueError(f"stop_on={stop_on!r} needs its split in eval_sets and no state_path")
        import copy

        best = {"loss": _last_loss(log, stop_on[0]), "state": copy.deepcopy(model.state_dict()), "wait": 0}
    for epoch in range(start + 1, spec.epochs + 1):
        model.train()
        perm = rng.permutation(n)
        for lo in range(0, n, spec.batch_size):
            idx = perm[lo : lo + spec.batch_size]
            logits = modality.forward(model, _batch(modality, x, idx, device, model))
            loss = F.cross_entropy(logits.float(), torch.as_tensor(y[idx], device=device))
            if not math.isfinite(float(loss.detach())):
                raise FloatingPointError(
                    f"training loss became {float(loss)} at epoch {epoch}; lower training.lr (now {spec.lr})"
                )
            opt.zero_grad(set_to_none=True)
            loss.backward()
            opt.step()
        _record(log, epoch, model, modality, eval_sets, device, prev)
        if on_checkpoint is not None and epoch in checkpoint_epochs:
            on_checkpoint(epoch, model)
        if state_path is not None:
            save_torch(
                state_path,
                {
                    "model": model.state_dict(),
                    "optimizer": opt.state_dict(),
                    "rng": rng.bit_generator.state,
                    "torch_rng": torch.get_rng_state(),
                    "cuda_rng": torch.cuda.get_rng_state_all() if torch.cuda.is_available() else None,
                    "log": log,
                    "epoch": epoch,
                    "genphase": state_meta,
                    "train_predictions": prev.get("train"),
                },
            )
        if progress is not None:
            progress(epoch, log[-1])
        if stop_on is not None:
            loss_now = _last_loss(log, stop_on[0])
            if loss_now < best["loss"]:
                best.update(loss=loss_now, state=copy.deepcopy(model.state_dict()), wait=0)
            else:
                best["wait"] += 1
                if best["wait"] >= stop_on[1]:
                    break
    if stop_on is not None:
        model.load_state_dict(best["state"])
    model.eval()
    return log


def _last_loss(log: list[dict], split: str) -> float:
    return float(next(r["loss"] for r in reversed(log) if r["split"] == split))


def _record(log: list[dict], epoch: int, model, modality, eval_sets, device, prev: dict[str, torch.Tensor]) -> None:
    """Append one row per eval set; the "train" row of epochs >= 1 gets ``prediction_changes``."""
    for split, (xs, ys) in eval_sets.items():
        loss, acc, pred = _evaluate(model, modality, xs, ys, device)
        row: dict[str, Any] = {"epoch": epoch, "split": split, "loss": loss, "accuracy": acc}
        if split == "train":
            if epoch >= 1 and "train" in prev:
                row["prediction_changes"] = int((pred != prev["train"]).sum())
            prev["train"] = pred
        log.append(row)
