"""genphase inside PyTorch Lightning: ``GenphaseCallback`` on an MLP for scikit-learn's 8x8 digits.

    python examples/lightning_digits.py --out runs/lightning_digits
    genphase report runs/lightning_digits            # -> runs/lightning_digits/report.html
    tensorboard --logdir runs/lightning_digits       # tags genphase/h_bar, genphase/h_bar_test, ...

The callback measures after every validation epoch and logs ``genphase/*`` with ``self.log``, so
the TensorBoard logger records them and ``EarlyStopping`` can monitor them: here the fit stops
once genphase advises stopping (phase 3), through ``EarlyStopping(monitor="genphase/stop")``.
"""

from __future__ import annotations

import argparse
from pathlib import Path

import torch


def main(argv: list[str] | None = None) -> Path:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--out", required=True, type=Path, help="run directory (TensorBoard events go to OUT/tensorboard)")
    ap.add_argument("--epochs", type=int, default=30)
    ap.add_argument("--every", type=int, default=3, help="measure every that many epochs")
    ap.add_argument("--samples", type=int, default=32, help="explained samples per split")
    ap.add_argument("--n", type=int, default=8, help="input variables (image patches)")
    ap.add_argument("--k", type=int, default=3, help="baselines")
    ap.add_argument("--baseline-epochs", type=int, default=30)
    ap.add_argument("--train-size", type=int, default=400)
    ap.add_argument("--label-noise", type=float, default=0.2)
    args = ap.parse_args(argv)

    try:
        import lightning.pytorch as pl
        from lightning.pytorch.callbacks import EarlyStopping
        from lightning.pytorch.loggers import TensorBoardLogger
    except ImportError:
        import pytorch_lightning as pl
        from pytorch_lightning.callbacks import EarlyStopping
        from pytorch_lightning.loggers import TensorBoardLogger

    from genphase import Tracker
    from genphase.datasets import add_label_noise, load_digits, subsample_train
    from genphase.integrations.lightning import GenphaseCallback
    from genphase.models import MLP

    class Digits(pl.LightningModule):
        def __init__(self) -> None:
            super().__init__()
            self.net = MLP((1, 8, 8), 10, hidden=(256, 256))

        def forward(self, x: torch.Tensor) -> torch.Tensor:
            return self.net(x)

        def training_step(self, batch, _):
            x, y = batch
            loss = torch.nn.functional.cross_entropy(self(x), y)
            self.log("train_loss", loss, on_epoch=True, on_step=False)
            return loss

        def validation_step(self, batch, _):
            x, y = batch
            out = self(x)
            self.log("val_loss", torch.nn.functional.cross_entropy(out, y))
            self.log("val_acc", (out.argmax(1) == y).float().mean())

        def configure_optimizers(self):
            return torch.optim.SGD(self.parameters(), lr=0.05, momentum=0.9)

    pl.seed_everything(0, verbose=False)
    ds = add_label_noise(subsample_train(load_digits(test_size=0.5), args.train_size), args.label_noise)
    x_tr, y_tr = torch.as_tensor(ds.x_train), torch.as_tensor(ds.y_train)
    x_te, y_te = torch.as_tensor(ds.x_test), torch.as_tensor(ds.y_test)
    # the reference split (the paper's test split) trains the baselines; validation uses half of it
    g = torch.Generator().manual_seed(0)
    pick_tr = torch.randperm(len(y_tr), generator=g)[: args.samples]
    pick_te = torch.randperm(len(y_te), generator=g)[: args.samples]
    tracker = Tracker(
        (x_tr[pick_tr], y_tr[pick_tr]), (x_te[pick_te], y_te[pick_te]),
        run_dir=args.out, n=args.n, background=x_tr,
        model_factory=Digits, reference_data=(x_te, y_te), k=args.k,
        baseline_epochs=args.baseline_epochs, baseline_optimizer="sgd", baseline_lr=0.05, baseline_batch_size=32,
        every_n_epochs=args.every,
    )
    train = torch.utils.data.DataLoader(torch.utils.data.TensorDataset(x_tr, y_tr), batch_size=32, shuffle=True)
    val = torch.utils.data.DataLoader(torch.utils.data.TensorDataset(x_te, y_te), batch_size=256)
    trainer = pl.Trainer(
        max_epochs=args.epochs, accelerator="cpu", devices=1, check_val_every_n_epoch=args.every,
        logger=TensorBoardLogger(str(args.out), name="tensorboard"), default_root_dir=str(args.out / "lightning"),
        callbacks=[GenphaseCallback(tracker),
                   EarlyStopping(monitor="genphase/stop", mode="min", divergence_threshold=0.5, patience=10**6)],
        enable_progress_bar=False, enable_model_summary=False,
    )
    trainer.fit(Digits(), train, val)
    for res in tracker.history:
        print(f"epoch {res['step']:3d}: H-bar train {res['h_bar']:.3f}  test {res['h_bar_test']:.3f}  phase {int(res['phase'])}")
    print(f"run directory: {args.out}  (genphase report {args.out})")
    return args.out


if __name__ == "__main__":
    main()
