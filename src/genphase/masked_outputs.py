"""From a model and a masker to the game ``v[b, S] = v(x_S)`` of each sample, and to interactions.

* :func:`masked_values` -- the ``2**n`` masked forward passes of each sample, batched in chunks;
  returns ``[B, 2**n]`` float64 on the CPU, in bitmask order.
* :func:`explain` -- :func:`masked_values` followed by :func:`genphase.interactions.extract_and_or`.

Row ``r = b * 2**n + S`` of the flattened work list is sample ``b`` under mask ``S``; a chunk of
``chunk_size`` consecutive rows is built with one gather (``index_select``) of the masker's
prepared inputs plus one call of ``masker.mask``, then one forward pass. There is no Python
loop over subsets or samples, only over chunks.
"""

from __future__ import annotations

import contextlib
import warnings
from typing import Any, Mapping

import numpy as np
import torch

from ._system import free_memory
from .errors import InputError, MemoryEstimateError
from .maskers.base import Masker, MaskerInputs, ModelInputs, as_tensor, batch_size_of, take_rows, to_device
from .value_functions import ValueFunction, ValueFunctionLike, get_value_function

__all__ = ["masked_values", "model_device", "model_outputs", "MAX_VARIABLES"]

#: Largest n accepted: beyond it 2**n forward passes per sample are out of reach anyway.
MAX_VARIABLES = 30


def model_device(model: Any) -> torch.device | None:
    """Device of a model's first parameter (or buffer); ``None`` for parameter-free callables.

    >>> model_device(torch.nn.Linear(2, 1)), model_device(lambda x: x)
    (device(type='cpu'), None)
    """
    if isinstance(model, torch.nn.Module):
        for t in model.parameters():
            return t.device
        for t in model.buffers():
            return t.device
    return None


def model_outputs(out: Any) -> torch.Tensor:
    """Unwrap a model's return value into the class-score tensor.

    Accepts a tensor, an object with ``.logits`` (Hugging Face ``ModelOutput``), a mapping with
    ``"logits"``, or a tuple / list (its first element).

    >>> logits = torch.tensor([[0.5, -0.5]])
    >>> model_outputs((logits, "hidden states")).tolist(), model_outputs({"logits": logits}).tolist()
    ([[0.5, -0.5]], [[0.5, -0.5]])
    """
    if isinstance(out, torch.Tensor):
        return out
    logits = getattr(out, "logits", None)
    if isinstance(logits, torch.Tensor):
        return logits
    if isinstance(out, Mapping) and isinstance(out.get("logits"), torch.Tensor):
        return out["logits"]
    if isinstance(out, (tuple, list)) and out:
        return model_outputs(out[0])
    raise InputError(
        f"the model returned {type(out).__name__}; expected a tensor, a tuple whose first element is the "
        "logits, or an object with .logits -- wrap the model to return logits [B, C]"
    )


def _call_model(model: Any, x: ModelInputs) -> torch.Tensor:
    if isinstance(x, Mapping):
        return model_outputs(model(**x))
    if isinstance(x, tuple):
        return model_outputs(model(*x))
    return model_outputs(model(x))


def _autocast_ctx(autocast: Any, device: torch.device):
    if autocast is None:
        return contextlib.nullcontext()
    names = {"bf16": torch.bfloat16, "bfloat16": torch.bfloat16, "fp16": torch.float16, "float16": torch.float16,
             "half": torch.float16}
    dtype = names.get(autocast) if isinstance(autocast, str) else autocast
    if not isinstance(dtype, torch.dtype):
        raise InputError(f"autocast must be a torch dtype (e.g. torch.bfloat16) or one of {sorted(names)}, got {autocast!r}")
    return torch.autocast(device_type=device.type, dtype=dtype)


def _available_bytes(device: torch.device) -> int | None:
    return free_memory(device) if device.type in ("cpu", "cuda") else None


def _row_bytes(prepared: MaskerInputs) -> int:
    ts = [prepared] if isinstance(prepared, torch.Tensor) else list(prepared.values())
    return sum(t[:1].numel() * t.element_size() for t in ts)


def _gib(x: float) -> str:
    return f"{x / 2**30:.2f} GiB"


def _check_memory(n: int, batch: int, chunk: int, row_bytes: int, device: torch.device, max_memory: int | None) -> None:
    """Raise :class:`MemoryEstimateError` when the values plus one chunk of masked inputs do not fit."""
    size = 1 << n
    values = batch * size * 8 * (2 if device.type != "cpu" else 1)  # device buffer (+ CPU copy)
    rows = min(chunk, batch * size)
    inputs = rows * row_bytes * 3  # gathered rows, masked copy, masks / indices (rough)
    need = values + inputs
    avail = max_memory if max_memory is not None else _available_bytes(device)
    if avail is not None and need > avail:
        raise MemoryEstimateError(
            f"n={n} variables need 2**{n} = {size:,} masked forward passes per sample: about {_gib(need)} on {device} "
            f"({batch} samples x {size:,} masks x 8 bytes for the values = {_gib(values)}, plus a chunk of {rows:,} "
            f"masked inputs x {row_bytes:,} bytes x 3 = {_gib(inputs)}; the model's activations come on top), "
            f"but about {_gib(avail)} is available. Lower chunk_size, explain fewer samples per call, or use fewer "
            "variables (n = 10..12 is typical)."
        )


def _progress(total: int, enabled: bool):
    if not enabled:
        return None
    from rich.progress import Progress

    prog = Progress(transient=True)
    prog.start()
    task = prog.add_task("masked forward passes", total=total)
    return prog, task


def _masked_values(
    model: Any,
    inputs: Any,
    labels: Any,
    masker: Masker,
    *,
    value_fn: ValueFunctionLike,
    chunk_size: int,
    autocast: Any,
    device: Any,
    progress: bool,
    max_memory: int | None,
) -> tuple[torch.Tensor, torch.Tensor, ValueFunction]:
    """Implementation of :func:`masked_values`; also returns the labels used and the value function."""
    vf = get_value_function(value_fn)
    if not callable(model):
        raise InputError(f"model must be callable (a torch module or function), got {type(model).__name__}")
    n = getattr(masker, "n", None)
    if not isinstance(n, (int, np.integer)) or isinstance(n, bool) or n < 0 or not callable(getattr(masker, "mask", None)):
        raise InputError(
            f"masker must have an integer attribute n >= 0 and a method mask(rows, masks) (see genphase.maskers.Masker), "
            f"got {type(masker).__name__} with n={n!r}"
        )
    n = int(n)
    if n > MAX_VARIABLES:
        raise MemoryEstimateError(
            f"n={n} variables means 2**{n} = {2 ** n:,} masked forward passes per sample; genphase accepts n <= "
            f"{MAX_VARIABLES} (n = 10..12 is typical, 20 is the edge). Use fewer variables."
        )
    if isinstance(chunk_size, bool) or not isinstance(chunk_size, (int, np.integer)) or chunk_size < 1:
        raise InputError(f"chunk_size must be a positive integer (masked inputs per forward pass), got {chunk_size!r}")
    chunk_size = int(chunk_size)

    if device is not None:
        dev = torch.device(device)
    else:
        dev = model_device(model)
        if dev is None:
            first = inputs if not isinstance(inputs, Mapping) else next(iter(inputs.values()), None)
            dev = first.device if isinstance(first, torch.Tensor) else torch.device("cpu")
    if isinstance(inputs, (list, tuple)) and not isinstance(inputs, torch.Tensor):
        inputs = as_tensor(inputs, "inputs")
    inputs = to_device(inputs, dev)
    b = batch_size_of(inputs)
    if b == 0:
        raise InputError("inputs is an empty batch (batch size 0); pass at least one sample to explain")
    size = 1 << n

    if labels is not None:
        lab = as_tensor(labels, "labels")
        if lab.dtype == torch.bool:
            lab = lab.long()
        if lab.is_floating_point() or lab.is_complex():
            raise InputError(f"labels must be integer class indices, got dtype {lab.dtype}")
        if lab.ndim == 0:
            lab = lab.expand(b)  # one class for every sample
        if lab.shape != (b,):
            raise InputError(f"labels must have shape [B] = [{b}] (one per sample), got {tuple(lab.shape)}")
        lab = lab.to(dev).long()
    elif not vf.uses_prediction:
        raise InputError(
            f"value function {vf.name!r} needs labels [B]; pass labels, or use value_fn='predicted_log_odds' "
            "to explain the class the model predicts"
        )
    else:
        lab = None

    is_module = isinstance(model, torch.nn.Module)
    restore: list[tuple[torch.nn.Module, bool]] = []
    if is_module and model.training:
        warnings.warn(
            f"{type(model).__name__} was in training mode; switching it to eval mode for the masked forward passes "
            "(dropout / batch-norm statistics would make v(x_S) random) and restoring training mode afterwards",
            UserWarning,
            stacklevel=3,
        )
        restore = [(m, m.training) for m in model.modules()]
        model.eval()

    acc_dtype = torch.float32 if dev.type == "mps" else torch.float64
    try:
        with torch.no_grad():
            prepare = getattr(masker, "prepare", None)
            prepared = prepare(inputs) if callable(prepare) else inputs
            if batch_size_of(prepared, "prepared inputs") != b:
                raise InputError(
                    f"{type(masker).__name__}.prepare changed the batch size from {b} to {batch_size_of(prepared)}"
                )
            _check_memory(n, b, chunk_size, _row_bytes(prepared), dev, max_memory)
            _autocast_ctx(autocast, dev)  # validate the dtype before any forward pass

            def run(index: torch.Tensor, masks: torch.Tensor) -> torch.Tensor:
                with _autocast_ctx(autocast, dev):
                    return _call_model(model, masker.mask(take_rows(prepared, index), masks))

            # Full inputs first (B of the B * 2**n passes): gives the predicted classes of the
            # predicted_* value functions and validates outputs and labels per *sample* (so errors
            # name the sample) before the long masked run.
            full_out = []
            for lo in range(0, b, chunk_size):
                idx = torch.arange(lo, min(lo + chunk_size, b), device=dev)
                full_out.append(run(idx, torch.ones(idx.shape[0], n, dtype=torch.bool, device=dev)))
            if vf.uses_prediction:
                lab = torch.cat([vf.labels_from_full(o) for o in full_out]).to(dev).long()
            if isinstance(full_out[0], torch.Tensor) and all(o.shape[1:] == full_out[0].shape[1:] for o in full_out):
                vf(torch.cat(full_out), lab)
            else:  # pragma: no cover - ragged outputs; the value function sees them chunk by chunk
                for lo, o in zip(range(0, b, chunk_size), full_out):
                    vf(o, lab[lo : lo + o.shape[0]])  # type: ignore[index]
            del full_out

            total = b * size
            out = torch.empty(total, dtype=acc_dtype, device=dev)
            bits = torch.arange(n, device=dev)
            bar = _progress((total + chunk_size - 1) // chunk_size, progress)
            try:
                for lo in range(0, total, chunk_size):
                    rows = torch.arange(lo, min(lo + chunk_size, total), device=dev)
                    sample = rows >> n
                    masks = ((rows & (size - 1))[:, None] >> bits & 1).bool()
                    logits = run(sample, masks)
                    out[lo : lo + rows.shape[0]] = vf(logits, lab[sample])  # type: ignore[index]
                    if bar is not None:
                        bar[0].advance(bar[1])
            finally:
                if bar is not None:
                    bar[0].stop()
    finally:
        for m, flag in restore:
            m.training = flag
    return out.reshape(b, size).to("cpu", torch.float64), lab.cpu(), vf  # type: ignore[union-attr]


def masked_values(
    model: Any,
    inputs: Any,
    labels: Any,
    masker: Masker,
    *,
    value_fn: ValueFunctionLike = "log_odds",
    chunk_size: int = 4096,
    autocast: Any = None,
    device: Any = None,
    progress: bool = False,
    max_memory: int | None = None,
) -> torch.Tensor:
    """The game ``v[b, S] = value_fn(model(x_S))`` of every sample, ``[B, 2**n]`` float64 on the CPU.

    Args:
        model: a ``torch.nn.Module`` or callable; called as ``model(x)``, ``model(**kwargs)`` or
            ``model(*args)`` depending on what ``masker.mask`` returns. Its return value may be a
            tensor, a tuple (first element) or have ``.logits``.
        inputs: the ``B`` samples, as the masker expects (a tensor ``[B, ...]`` or a mapping of
            ``[B, ...]`` tensors); moved to the model's device.
        labels: long ``[B]``, the class explained per sample (``None`` allowed for
            ``predicted_*`` value functions, which use the class predicted on the full input).
        masker: a :class:`genphase.maskers.Masker` with ``n`` variables.
        value_fn: name (see :mod:`genphase.value_functions`) or callable ``f(outputs, labels) -> v``.
        chunk_size: masked inputs per forward pass.
        autocast: optional dtype (``torch.bfloat16``, ``"bf16"``, ...) for ``torch.autocast`` on the device.
        device: run here instead of the model's device (the model must already be there).
        progress: show a progress bar over chunks.
        max_memory: bytes available for the estimate (default: what the device reports free).

    The model runs under ``torch.no_grad`` in eval mode: a model in training mode triggers a
    warning, is switched to eval and restored afterwards (module by module). The ``B`` full
    inputs are run first (``B`` extra passes out of ``B * 2**n``): they give the predicted class of
    ``predicted_*`` value functions and check outputs and labels before the long run.
    ``chunk_size`` changes nothing but speed and memory (values agree to floating-point batching
    effects, ~1e-16 relative).

    Raises:
        InputError: empty batch, labels missing / out of range, inputs that do not fit the masker,
            model outputs that are not class scores.
        MemoryEstimateError: ``n`` too large, or the values plus one chunk do not fit in memory
            (the message gives the estimate).

    >>> from genphase.maskers import TabularMasker
    >>> def model(x):  # log-odds of class 1 = x0 * x1: an AND of the two features
    ...     return torch.stack([torch.zeros(len(x)), x[:, 0] * x[:, 1]], 1)
    >>> masker = TabularMasker(torch.zeros(2))  # a masked feature takes the baseline 0
    >>> masked_values(model, torch.tensor([[2.0, 3.0]]), torch.tensor([1]), masker).tolist()
    [[0.0, 0.0, 0.0, 6.0]]
    """
    values, _, _ = _masked_values(
        model, inputs, labels, masker, value_fn=value_fn, chunk_size=chunk_size, autocast=autocast,
        device=device, progress=progress, max_memory=max_memory,
    )
    return values


def _describe(masker: Any) -> dict[str, Any]:
    describe = getattr(masker, "describe", None)
    if callable(describe):
        return dict(describe())
    return {"type": type(masker).__name__, "n": int(masker.n)}


def __getattr__(name: str):
    """``explain`` moved to :mod:`genphase.extraction` (deprecated here)."""
    from ._deprecated import moved

    return moved(__name__, {"explain": "genphase.extraction:explain"})(name)
