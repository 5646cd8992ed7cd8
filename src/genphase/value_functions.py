"""Value functions: map a batch of model outputs and labels to the scalar game value ``v`` ``[B]``.

Every value function has the signature ``f(outputs, labels) -> v``:

* ``outputs``: the model's class scores (logits) ``[B, C]`` (``[B]`` or ``[B, 1]`` for
  single-logit binary models), already unwrapped from tuples / ``.logits``;
* ``labels``: long ``[B]``, the class each row is explained for;
* ``v``: ``[B]``, returned as float64 (computed in float64 whatever the outputs' dtype).

Built-in names (see :data:`VALUE_FUNCTIONS`, :func:`get_value_function`):

* ``"log_odds"`` (default): ``z_y - logsumexp_{c != y} z_c``, the log-odds of class ``y``,
  computed stably from logits (finite even when ``p(y) -> 1``).
* ``"logit"``: ``z_y``.
* ``"binary_logit"``: single-logit binary model, ``v = z`` if ``y == 1`` else ``-z`` (the log-odds of ``y``).
* ``"predicted_log_odds"``, ``"predicted_logit"``, ``"predicted_binary_logit"``: the same, for the
  class the model predicts on the *full* (unmasked) input instead of a label. Callers that run
  masked inputs (:func:`genphase.masked_outputs.masked_values`) take that class from the full
  input once per sample and use it for every mask.

Any callable ``f(outputs, labels) -> v`` can be passed instead of a name.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Callable, Union

import torch

from .errors import InputError

__all__ = [
    "ValueFunction",
    "ValueFunctionLike",
    "log_odds",
    "logit",
    "binary_logit",
    "predicted_log_odds",
    "predicted_classes",
    "VALUE_FUNCTIONS",
    "get_value_function",
    "register_value_function",
]


def _float(t: torch.Tensor) -> torch.Tensor:
    return t.to(torch.float32 if t.device.type == "mps" else torch.float64)


def _class_scores(outputs: torch.Tensor, *, min_classes: int, name: str) -> torch.Tensor:
    """Validate class scores ``[B, C]`` and return them in float64."""
    if not isinstance(outputs, torch.Tensor):
        raise InputError(
            f"{name} needs model outputs as a tensor of class scores [B, C], got {type(outputs).__name__}; "
            "wrap the model so it returns logits, or pass a custom value function"
        )
    if not (outputs.is_floating_point()):
        raise InputError(f"{name} needs floating-point class scores [B, C], got dtype {outputs.dtype}")
    if outputs.ndim == 1 or (outputs.ndim == 2 and outputs.shape[1] == 1 and min_classes >= 2):
        raise InputError(
            f"{name} needs class scores [B, C] with C >= {min_classes}, got shape {tuple(outputs.shape)} "
            "(a single logit per sample); use value_fn='binary_logit' for single-logit binary models"
        )
    if outputs.ndim != 2:
        raise InputError(
            f"{name} needs a class-score vector per sample, outputs of shape [B, C], got {tuple(outputs.shape)} "
            "(e.g. per-token logits); reduce the outputs to [B, C] in a model wrapper or pass a custom value function"
        )
    if outputs.shape[1] < min_classes:
        raise InputError(f"{name} needs at least {min_classes} classes, got outputs of shape {tuple(outputs.shape)}")
    return _float(outputs)


def _check_labels(labels: torch.Tensor | None, batch: int, num_classes: int, *, name: str) -> torch.Tensor:
    """Validate labels ``[B]`` (integer, in ``[0, num_classes)``) and return them as long."""
    if labels is None:
        raise InputError(f"{name} needs labels (the class to explain); pass labels or use a 'predicted_*' value function")
    if not isinstance(labels, torch.Tensor):
        labels = torch.as_tensor(labels)
    if labels.dtype == torch.bool:
        labels = labels.long()
    if labels.is_floating_point() or labels.is_complex():
        raise InputError(f"labels must be integer class indices, got dtype {labels.dtype}")
    if labels.ndim == 2 and labels.shape[1] == 1:
        labels = labels[:, 0]
    if labels.shape != (batch,):
        raise InputError(f"labels must have shape [B] = [{batch}] (one class index per sample), got {tuple(labels.shape)}")
    labels = labels.long()
    bad = (labels < 0) | (labels >= num_classes)
    if batch and bool(bad.any()):
        i = int(bad.nonzero()[0, 0])
        raise InputError(
            f"label {int(labels[i])} (sample {i}) is out of range for a model with {num_classes} classes; "
            f"labels must be integers in [0, {num_classes - 1}]"
        )
    return labels


def log_odds(outputs: torch.Tensor, labels: torch.Tensor) -> torch.Tensor:
    """Log-odds of class ``y``: ``z_y - logsumexp_{c != y} z_c`` (float64 ``[B]``).

    Equals ``log p_y / (1 - p_y)`` under a softmax, but is computed from the logits directly so that
    it stays finite and exact when ``p_y`` rounds to 1 (logits ``[1000, 0]``, ``y=0`` give 1000).

    >>> log_odds(torch.tensor([[1000.0, 0.0], [0.0, 0.0]]), torch.tensor([0, 1])).tolist()  # finite when p -> 1
    [1000.0, 0.0]
    """
    z = _class_scores(outputs, min_classes=2, name="log_odds")
    y = _check_labels(labels, z.shape[0], z.shape[1], name="log_odds").to(z.device)
    zy = z.gather(1, y[:, None])[:, 0]
    others = z.scatter(1, y[:, None], float("-inf"))
    return zy - torch.logsumexp(others, dim=1)


def logit(outputs: torch.Tensor, labels: torch.Tensor) -> torch.Tensor:
    """Logit of class ``y``: ``z_y`` (float64 ``[B]``).

    >>> logit(torch.tensor([[2.0, -1.0]]), torch.tensor([1])).tolist()
    [-1.0]
    """
    z = _class_scores(outputs, min_classes=1, name="logit")
    y = _check_labels(labels, z.shape[0], z.shape[1], name="logit").to(z.device)
    return z.gather(1, y[:, None])[:, 0]


def _single_logit(outputs: torch.Tensor, name: str) -> torch.Tensor:
    if not isinstance(outputs, torch.Tensor) or not outputs.is_floating_point():
        raise InputError(f"{name} needs a floating-point tensor [B] or [B, 1], got {getattr(outputs, 'dtype', type(outputs).__name__)}")
    if outputs.ndim == 2 and outputs.shape[1] == 1:
        outputs = outputs[:, 0]
    if outputs.ndim != 1:
        raise InputError(
            f"{name} needs one logit per sample, outputs [B] or [B, 1], got {tuple(outputs.shape)}; "
            "for class scores [B, C] use value_fn='log_odds'"
        )
    return _float(outputs)


def binary_logit(outputs: torch.Tensor, labels: torch.Tensor) -> torch.Tensor:
    """Single-logit binary model (``p(1) = sigmoid(z)``): ``v = z`` if ``y == 1`` else ``-z`` -- the log-odds of ``y``.

    >>> binary_logit(torch.tensor([1.5, 1.5]), torch.tensor([1, 0])).tolist()  # one logit per sample
    [1.5, -1.5]
    """
    z = _single_logit(outputs, "binary_logit")
    y = _check_labels(labels, z.shape[0], 2, name="binary_logit").to(z.device)
    return torch.where(y == 1, z, -z)


def predicted_classes(outputs: torch.Tensor) -> torch.Tensor:
    """The predicted class of class scores ``[B, C]``: ``argmax`` (first maximum on ties), long ``[B]``.

    >>> predicted_classes(torch.tensor([[0.1, 2.0, 0.3], [1.0, 1.0, 0.0]])).tolist()  # first maximum on ties
    [1, 0]
    """
    return _class_scores(outputs, min_classes=1, name="predicted_classes").argmax(1)


def _predicted_binary(outputs: torch.Tensor) -> torch.Tensor:
    return (_single_logit(outputs, "predicted_binary_logit") > 0).long()


def predicted_log_odds(
    outputs: torch.Tensor, labels: torch.Tensor | None = None, *, full_outputs: torch.Tensor | None = None
) -> torch.Tensor:
    """Log-odds of the class predicted on the full input (``labels`` are ignored).

    ``full_outputs`` ``[B, C]`` are the outputs on the full (unmasked) inputs; when omitted,
    ``outputs`` are taken to be those. For masked inputs always pass ``full_outputs`` (or use
    :func:`genphase.masked_outputs.masked_values`, which does): the class must not change with the mask.

    >>> full = torch.tensor([[0.0, 2.0]])  # the full input predicts class 1
    >>> predicted_log_odds(torch.tensor([[1.0, 0.0]]), full_outputs=full).tolist()  # a masked input, still class 1
    [-1.0]
    """
    ref = outputs if full_outputs is None else full_outputs
    return log_odds(outputs, predicted_classes(ref).to(outputs.device))


@dataclass(frozen=True)
class ValueFunction:
    """A named value function ``fn(outputs, labels) -> v [B]``.

    ``predict``: when set, labels are not given by the user but are the classes predicted on the
    full input, ``predict(full_outputs) -> labels [B]``, computed once per sample.

    >>> vf = ValueFunction("margin", lambda z, y: z[:, 1] - z[:, 0])
    >>> vf(torch.tensor([[1.0, 3.0]]), torch.tensor([1])).tolist(), vf.uses_prediction
    ([2.0], False)
    """

    name: str
    fn: Callable[[torch.Tensor, torch.Tensor], torch.Tensor]
    predict: Callable[[torch.Tensor], torch.Tensor] | None = None

    @property
    def uses_prediction(self) -> bool:
        """Whether the labels come from the model's prediction on the full input."""
        return self.predict is not None

    def labels_from_full(self, full_outputs: torch.Tensor) -> torch.Tensor:
        """Labels to explain, from the outputs on the full inputs (only for ``uses_prediction``)."""
        if self.predict is None:
            raise InputError(f"value function {self.name!r} uses given labels, not predictions")
        return self.predict(full_outputs)

    def __call__(self, outputs: torch.Tensor, labels: torch.Tensor) -> torch.Tensor:
        """``v`` ``[B]`` (float64) of a batch; checks the function's result shape."""
        v = self.fn(outputs, labels)
        b = outputs.shape[0] if isinstance(outputs, torch.Tensor) and outputs.ndim else None
        if not isinstance(v, torch.Tensor):
            v = torch.as_tensor(v)
        if v.ndim == 2 and v.shape[1] == 1:
            v = v[:, 0]
        if v.ndim != 1 or (b is not None and v.shape[0] != b):
            raise InputError(
                f"value function {self.name!r} returned shape {tuple(v.shape)}; it must return one scalar per "
                f"sample, shape [B]" + (f" = [{b}]" if b is not None else "")
            )
        return _float(v)


#: Names accepted by :func:`get_value_function` (extend with :func:`register_value_function`).
VALUE_FUNCTIONS: dict[str, ValueFunction] = {
    "log_odds": ValueFunction("log_odds", log_odds),
    "logit": ValueFunction("logit", logit),
    "binary_logit": ValueFunction("binary_logit", binary_logit),
    "predicted_log_odds": ValueFunction("predicted_log_odds", log_odds, predict=predicted_classes),
    "predicted_logit": ValueFunction("predicted_logit", logit, predict=predicted_classes),
    "predicted_binary_logit": ValueFunction("predicted_binary_logit", binary_logit, predict=_predicted_binary),
}

ValueFunctionLike = Union[str, ValueFunction, Callable[[torch.Tensor, torch.Tensor], torch.Tensor]]


def get_value_function(value_fn: ValueFunctionLike) -> ValueFunction:
    """Resolve a registered name, a :class:`ValueFunction` or a callable ``f(outputs, labels) -> v``.

    The plain function :func:`predicted_log_odds` resolves to the registered
    ``"predicted_log_odds"`` (class taken from the full input).

    >>> vf = get_value_function("predicted_log_odds")
    >>> vf.name, vf.uses_prediction, get_value_function(log_odds).name
    ('predicted_log_odds', True, 'log_odds')
    """
    if isinstance(value_fn, ValueFunction):
        return value_fn
    if isinstance(value_fn, str):
        vf = VALUE_FUNCTIONS.get(value_fn)
        if vf is None:
            raise InputError(
                f"unknown value function {value_fn!r}; choose one of {', '.join(sorted(VALUE_FUNCTIONS))} "
                "or pass a callable f(outputs, labels) -> v"
            )
        return vf
    if value_fn is predicted_log_odds:
        return VALUE_FUNCTIONS["predicted_log_odds"]
    if callable(value_fn):
        for vf in VALUE_FUNCTIONS.values():
            if vf.fn is value_fn and vf.predict is None:
                return vf
        return ValueFunction(getattr(value_fn, "__name__", type(value_fn).__name__), value_fn)
    raise InputError(
        f"value_fn must be a name ({', '.join(sorted(VALUE_FUNCTIONS))}) or a callable f(outputs, labels) -> v, "
        f"got {type(value_fn).__name__}"
    )


def register_value_function(
    name: str,
    fn: Callable[[torch.Tensor, torch.Tensor], torch.Tensor],
    *,
    predict: Callable[[torch.Tensor], torch.Tensor] | None = None,
    overwrite: bool = False,
) -> ValueFunction:
    """Register ``fn`` under ``name`` (see :class:`ValueFunction` for ``predict``); returns it.

    >>> vf = register_value_function("example_margin", lambda z, y: z[:, 1] - z[:, 0], overwrite=True)
    >>> get_value_function("example_margin") is vf
    True
    >>> del VALUE_FUNCTIONS["example_margin"]  # keep the registry as it was
    """
    if not isinstance(name, str) or not name:
        raise InputError(f"a value function name must be a non-empty str, got {name!r}")
    if name in VALUE_FUNCTIONS and not overwrite:
        raise InputError(f"value function {name!r} is already registered; pass overwrite=True to replace it")
    if not callable(fn):
        raise InputError(f"fn must be callable f(outputs, labels) -> v, got {type(fn).__name__}")
    vf = ValueFunction(name, fn, predict=predict)
    VALUE_FUNCTIONS[name] = vf
    return vf
