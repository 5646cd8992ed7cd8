"""PyTorch Lightning: :class:`GenphaseCallback` measures a :class:`genphase.Tracker` during ``Trainer.fit``.

It measures in ``on_validation_epoch_end`` (in ``on_train_epoch_end`` when no validation ran in
that epoch), every ``every_n_epochs`` epochs, and logs ``genphase/<key>`` with ``pl_module.log``, so
every logger (TensorBoard, W&B, MLflow, CSV) records the values and
``EarlyStopping(monitor="genphase/...")`` works unchanged. The measurement after epoch ``e``
(0-based ``trainer.current_epoch``) is step ``e + 1``; step 0 is the initial model, measured in
``on_fit_start``. The tracker's state is saved in Lightning checkpoints (``state_dict`` /
``load_state_dict`` of the callback), so ``fit(ckpt_path=...)`` continues the series. Under DDP only
global rank 0 measures; the result (or the error) is broadcast with ``trainer.strategy.broadcast``,
so every rank logs the same values and takes the same stop decision.

Needs ``lightning`` or ``pytorch-lightning``: ``pip install 'genphase[lightning]'``.
"""

from __future__ import annotations

import math
from typing import Any, Callable

from ..errors import InputError, MissingDependencyError


def _lightning() -> Any:
    try:
        import lightning.pytorch as pl  # the unified package, when installed
    except ImportError:
        try:
            import pytorch_lightning as pl
        except ImportError as exc:
            raise MissingDependencyError(
                "genphase.integrations.lightning needs PyTorch Lightning, which is not installed. "
                "Install it with: pip install 'genphase[lightning]'"
            ) from exc
    return pl


_pl = _lightning()

__all__ = ["GenphaseCallback"]


class GenphaseCallback(_pl.Callback):
    """Measure ``tracker`` during ``Trainer.fit`` and log ``genphase/*`` metrics.

    Args:
        tracker: a :class:`genphase.Tracker` (its ``every_n_epochs`` sets how often).
        measure_init: also measure the initial model (step 0) in ``on_fit_start``.
        stop_on_phase3: set ``trainer.should_stop`` once the tracker advises stopping (phase 3).
        model: ``pl_module -> nn.Module`` to measure (default: the LightningModule itself).
        prog_bar: show ``genphase/h_bar`` in the progress bar.

    Logged keys: ``genphase/`` + each key of :meth:`genphase.Tracker.measure` (NaN values are
    not logged). Stop on the tracker's advice with ``stop_on_phase3=True``, or with Lightning's own
    ``EarlyStopping(monitor="genphase/stop", mode="min", divergence_threshold=0.5, patience=10**6)``;
    any other ``genphase/*`` metric can be monitored too. With ``every_n_epochs > 1`` the metrics
    exist only on measuring epochs: give ``EarlyStopping(strict=False)`` or
    ``check_val_every_n_epoch=every_n_epochs``.

    >>> import tempfile, torch
    >>> from genphase import Tracker
    >>> pl = _lightning()  # lightning.pytorch or pytorch_lightning, whichever is installed
    >>> net = lambda: torch.nn.Sequential(torch.nn.Flatten(), torch.nn.Linear(16, 3))
    >>> x, y = torch.rand(8, 1, 4, 4), torch.arange(8) % 3
    >>> tracker = Tracker((x[:4], y[:4]), (x[4:], y[4:]), run_dir=tempfile.mkdtemp(), n=4, n_resamples=0,
    ...                   model_factory=net, reference_data=(x, y), k=1, baseline_epochs=1)
    >>> class Module(pl.LightningModule):
    ...     def __init__(self):
    ...         super().__init__()
    ...         self.net = net()
    ...     def forward(self, x):
    ...         return self.net(x)
    ...     def training_step(self, batch, _):
    ...         return torch.nn.functional.cross_entropy(self(batch[0]), batch[1])
    ...     def configure_optimizers(self):
    ...         return torch.optim.SGD(self.parameters(), lr=0.1)
    >>> loader = torch.utils.data.DataLoader(torch.utils.data.TensorDataset(x, y), batch_size=4)
    >>> trainer = pl.Trainer(callbacks=[GenphaseCallback(tracker)], max_epochs=2, log_every_n_steps=1,
    ...                      logger=pl.loggers.CSVLogger(tempfile.mkdtemp()), enable_checkpointing=False,
    ...                      enable_progress_bar=False, enable_model_summary=False)
    >>> trainer.fit(Module(), loader)
    >>> [m["step"] for m in tracker.history]  # the initial model, then after each epoch
    [0, 1, 2]
    >>> "genphase/h_bar" in trainer.callback_metrics
    True
    """

    def __init__(
        self,
        tracker: Any,
        *,
        measure_init: bool = True,
        stop_on_phase3: bool = False,
        model: Callable[[Any], Any] | None = None,
        prog_bar: bool = False,
    ) -> None:
        from ..tracker import Tracker

        if not isinstance(tracker, Tracker):
            raise InputError(f"GenphaseCallback needs a genphase.Tracker, got {type(tracker).__name__}")
        if model is not None and not callable(model):
            raise InputError(f"model must be a callable pl_module -> nn.Module, got {type(model).__name__}")
        self.tracker = tracker
        self.measure_init = bool(measure_init)
        self.stop_on_phase3 = bool(stop_on_phase3)
        self._model = model
        self.prog_bar = bool(prog_bar)
        self._val_epoch: int | None = None
        self.last: dict[str, float] | None = None

    @property
    def state_key(self) -> str:
        return f"GenphaseCallback[{self.tracker.config_hash}]"

    def _target(self, pl_module: Any) -> Any:
        return pl_module if self._model is None else self._model(pl_module)

    def _on_rank0(self, trainer: Any, fn: Callable[[], Any]) -> Any:
        """Run ``fn`` on global rank 0 only; broadcast its result (or its error) to every rank."""
        payload = None
        if trainer.is_global_zero:
            try:
                payload = ("ok", fn())
            except Exception as exc:  # noqa: BLE001 - re-raised on every rank below
                payload = ("error", exc)
        if trainer.world_size > 1:
            if payload is not None and payload[0] == "error":
                payload = ("error", f"{type(payload[1]).__name__}: {payload[1]}")
            payload = trainer.strategy.broadcast(payload, src=0)
        if payload[0] == "error":
            err = payload[1]
            if isinstance(err, BaseException):
                raise err
            raise InputError(f"genphase measurement on rank 0 failed: {err}")
        return payload[1]

    # ---------------------------------------------------------------------------- hooks
    def on_fit_start(self, trainer: Any, pl_module: Any) -> None:
        model = self._target(pl_module)
        self._on_rank0(trainer, lambda: self.tracker.setup(model))
        if self.measure_init and not self.tracker.steps and trainer.current_epoch == 0:
            res = self._on_rank0(trainer, lambda: self.tracker.measure(model, step=0))
            if res is not None:
                self.last = res
                metrics = {f"genphase/{k}": v for k, v in res.items() if k != "step" and math.isfinite(v)}
                for logger in trainer.loggers:
                    logger.log_metrics(metrics, step=trainer.global_step)

    def on_validation_epoch_end(self, trainer: Any, pl_module: Any) -> None:
        if trainer.sanity_checking or trainer.state.fn != "fit":
            return  # the sanity check and trainer.validate() are not training epochs
        self._val_epoch = trainer.current_epoch
        self._measure(trainer, pl_module)

    def on_train_epoch_end(self, trainer: Any, pl_module: Any) -> None:
        if self._val_epoch == trainer.current_epoch:
            return  # measured in this epoch's validation
        self._measure(trainer, pl_module)

    def _measure(self, trainer: Any, pl_module: Any) -> None:
        step = trainer.current_epoch + 1
        tr = self.tracker
        if not tr.due(step) or (tr.steps and step <= tr.steps[-1]):
            return
        model = self._target(pl_module)
        res = self._on_rank0(trainer, lambda: tr.measure(model, step=step))
        if res is None:  # failed and skipped (the tracker warned)
            return
        self.last = res
        for key, val in res.items():
            if key == "step" or not math.isfinite(val):
                continue
            pl_module.log(f"genphase/{key}", float(val), on_step=False, on_epoch=True, logger=True,
                          prog_bar=self.prog_bar and key == "h_bar", sync_dist=False)
        if self.stop_on_phase3 and res.get("stop", 0.0) >= 0.5:
            trainer.should_stop = True

    # ---------------------------------------------------------------------------- checkpoints
    def state_dict(self) -> dict[str, Any]:
        return {"tracker": self.tracker.state_dict()}

    def load_state_dict(self, state_dict: dict[str, Any]) -> None:
        if "tracker" in state_dict:
            self.tracker.load_state_dict(state_dict["tracker"])
