"""Hugging Face: :class:`GenphaseTrainerCallback` measures a :class:`genphase.Tracker` inside ``Trainer.train``.

* It measures in ``on_evaluate`` (``measure_on="evaluate"``, default) or in ``on_epoch_end``
  (``measure_on="epoch"``), on the tracker's ``every_n_epochs``. The step is the epoch when the
  Trainer evaluates per epoch (or ``measure_on="epoch"``), else the global step; step 0, the
  initial model, is measured in ``on_train_begin``.
* It adds ``eval_genphase_<key>`` to the evaluation metrics (so ``metric_for_best_model`` and
  ``EarlyStoppingCallback`` placed after it see them) and, once attached to the Trainer
  (:meth:`GenphaseTrainerCallback.attach`), logs them through ``Trainer.log``, i.e. to every
  ``report_to`` tracker (TensorBoard shows them as ``eval/genphase_<key>``).
* ``stop_on_phase3=True`` sets ``control.should_training_stop`` when the tracker advises stopping.
* Its state is written next to every checkpoint (``checkpoint-N/genphase_tracker.json`` in
  ``on_save``) and read back in ``on_train_begin`` when training resumes from ``checkpoint-N``.
* Text explained samples are masked at the word level with the Trainer's tokenizer
  (``processing_class``) and the model's own input embedding.
* In distributed training only the world process zero measures; the result is broadcast.

Needs ``transformers``: ``pip install 'genphase[transformers]'``.
"""

from __future__ import annotations

import json
import math
from pathlib import Path
from typing import Any

from ..errors import InputError, MissingDependencyError

try:
    import transformers as _tf
except ImportError as exc:  # pragma: no cover - depends on the environment
    raise MissingDependencyError(
        "genphase.integrations.transformers needs transformers, which is not installed. "
        "Install it with: pip install 'genphase[transformers]'"
    ) from exc

__all__ = ["GenphaseTrainerCallback", "STATE_FILE"]

#: Name of the tracker state written into each ``checkpoint-N`` directory.
STATE_FILE = "genphase_tracker.json"
_MEASURE_ON = ("evaluate", "epoch")


class GenphaseTrainerCallback(_tf.TrainerCallback):
    """Measure ``tracker`` during ``Trainer.train``; add ``eval_genphase_*`` metrics; optionally stop in phase 3.

    Args:
        tracker: a :class:`genphase.Tracker`.
        stop_on_phase3: set ``control.should_training_stop`` once the tracker advises stopping.
        measure_on: ``"evaluate"`` (each evaluation) or ``"epoch"`` (each epoch end).
        measure_init: also measure the initial model (step 0) in ``on_train_begin``.
        trainer: the Trainer, to log through its ``report_to`` trackers (or call :meth:`attach`).

    >>> import tempfile, torch
    >>> from genphase import Tracker
    >>> net = lambda: torch.nn.Sequential(torch.nn.Flatten(), torch.nn.Linear(16, 3))
    >>> x, y = torch.rand(8, 1, 4, 4), torch.arange(8) % 3
    >>> tracker = Tracker((x[:4], y[:4]), (x[4:], y[4:]), run_dir=tempfile.mkdtemp(), n=4, n_resamples=0,
    ...                   model_factory=net, reference_data=(x, y), k=1, baseline_epochs=1)
    >>> cb = GenphaseTrainerCallback(tracker, stop_on_phase3=True)
    >>> cb.measure_on, cb.stop_on_phase3
    ('evaluate', True)
    >>> GenphaseTrainerCallback(tracker, measure_on="step")
    Traceback (most recent call last):
    ...
    genphase.errors.InputError: measure_on must be one of ['evaluate', 'epoch'], got 'step'

    With a ``transformers.Trainer`` (not run here: it needs a model and datasets):

    >>> cb = GenphaseTrainerCallback(tracker, stop_on_phase3=True).attach(trainer)  # doctest: +SKIP
    >>> trainer.train()                                                           # doctest: +SKIP
    """

    def __init__(self, tracker: Any, *, stop_on_phase3: bool = False, measure_on: str = "evaluate",
                 measure_init: bool = True, trainer: Any = None) -> None:
        from ..tracker import Tracker

        if not isinstance(tracker, Tracker):
            raise InputError(f"GenphaseTrainerCallback needs a genphase.Tracker, got {type(tracker).__name__}")
        if measure_on not in _MEASURE_ON:
            raise InputError(f"measure_on must be one of {list(_MEASURE_ON)}, got {measure_on!r}")
        self.tracker = tracker
        self.stop_on_phase3 = bool(stop_on_phase3)
        self.measure_on = measure_on
        self.measure_init = bool(measure_init)
        self._trainer = trainer
        self.last: dict[str, float] | None = None
        self.resumed_from: str | None = None

    def attach(self, trainer: Any) -> "GenphaseTrainerCallback":
        """Add this callback to ``trainer`` (if not there yet) and log through it; returns ``self``."""
        self._trainer = trainer
        if self not in trainer.callback_handler.callbacks:
            trainer.add_callback(self)
        return self

    # ---------------------------------------------------------------------------- helpers
    def _unit(self, args: Any) -> str:
        strategy = getattr(args, "eval_strategy", getattr(args, "evaluation_strategy", "no"))
        return "epoch" if self.measure_on == "epoch" or str(getattr(strategy, "value", strategy)) == "epoch" else "step"

    def _step(self, args: Any, state: Any) -> int:
        return int(round(state.epoch or 0)) if self._unit(args) == "epoch" else int(state.global_step)

    def _run(self, state: Any, fn):
        """Run ``fn`` on the world process zero; broadcast the result when distributed."""
        payload = None
        if state.is_world_process_zero:
            try:
                payload = ("ok", fn())
            except Exception as exc:  # noqa: BLE001 - re-raised on every process
                payload = ("error", exc)
        import torch.distributed as dist

        if dist.is_available() and dist.is_initialized() and dist.get_world_size() > 1:
            box = [None if payload is None else (payload[0], payload[1] if payload[0] == "ok" else repr(payload[1]))]
            dist.broadcast_object_list(box, src=0)
            payload = box[0]
        if payload[0] == "error":
            if isinstance(payload[1], BaseException):
                raise payload[1]
            raise InputError(f"genphase measurement on process 0 failed: {payload[1]}")
        return payload[1]

    def _measure(self, args: Any, state: Any, model: Any, step: int) -> dict[str, float] | None:
        tr = self.tracker
        if model is None or not tr.due(step) or (tr.steps and step <= tr.steps[-1]):
            return None
        res = self._run(state, lambda: tr.measure(model, step=step))
        if res is not None:
            self.last = res
        return res

    @staticmethod
    def _keys(res: dict[str, float]) -> dict[str, float]:
        return {f"eval_genphase_{k}": float(v) for k, v in res.items() if k != "step" and math.isfinite(v)}

    def _publish(self, state: Any, control: Any, res: dict[str, float], metrics: dict | None) -> None:
        keys = self._keys(res)
        if metrics is not None:
            metrics.update(keys)
        if self._trainer is not None:
            self._trainer.log(dict(keys))
        elif metrics is not None and state.log_history and any(k.startswith("eval_") for k in state.log_history[-1]):
            state.log_history[-1].update(keys)  # not attached: at least trainer_state.json holds them
        if self.stop_on_phase3 and res.get("stop", 0.0) >= 0.5:
            control.should_training_stop = True

    def _checkpoint_dir(self, args: Any, state: Any) -> Path:
        return Path(args.output_dir) / f"checkpoint-{state.global_step}"

    # ---------------------------------------------------------------------------- events
    def on_train_begin(self, args: Any, state: Any, control: Any, model: Any = None, processing_class: Any = None,
                       **kwargs: Any) -> None:
        if state.global_step > 0:  # resumed from a checkpoint
            cands = [getattr(args, "resume_from_checkpoint", None), str(self._checkpoint_dir(args, state))]
            for c in cands:  # resume_from_checkpoint may also be True (the latest checkpoint): then the second
                if isinstance(c, str) and c and (Path(c) / STATE_FILE).is_file():
                    with open(Path(c) / STATE_FILE) as fh:
                        self.tracker.load_state_dict(json.load(fh))
                    self.resumed_from = str(c)
                    break
        tokenizer = processing_class if callable(processing_class) else getattr(processing_class, "tokenizer", None)
        self._run(state, lambda: self.tracker.setup(model, tokenizer=tokenizer))
        if self.measure_init and not self.tracker.steps and state.global_step == 0:
            res = self._measure(args, state, model, 0)
            if res is not None and self._trainer is not None:
                self._trainer.log(self._keys(res))

    def on_evaluate(self, args: Any, state: Any, control: Any, metrics: dict | None = None, model: Any = None,
                    **kwargs: Any) -> Any:
        if self.measure_on != "evaluate":
            return control
        res = self._measure(args, state, model, self._step(args, state))
        if res is not None:
            self._publish(state, control, res, metrics)
        return control

    def on_epoch_end(self, args: Any, state: Any, control: Any, model: Any = None, **kwargs: Any) -> Any:
        if self.measure_on != "epoch":
            return control
        res = self._measure(args, state, model, self._step(args, state))
        if res is not None:
            self._publish(state, control, res, None)
        return control

    def on_save(self, args: Any, state: Any, control: Any, **kwargs: Any) -> None:
        if not state.is_world_process_zero:
            return
        target = self._checkpoint_dir(args, state)
        if target.is_dir():
            from .._atomic import atomic_write

            text = json.dumps(self.tracker.state_dict())
            atomic_write(target / STATE_FILE, lambda fh: fh.write(text), mode="w")
