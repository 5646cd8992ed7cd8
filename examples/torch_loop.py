"""genphase inside a plain PyTorch training loop: an MLP on scikit-learn's 8x8 digits.

    python examples/torch_loop.py --out runs/torch_loop
    genphase report runs/torch_loop          # -> runs/torch_loop/report.html
    tensorboard --logdir runs/torch_loop     # tags genphase/h_bar, genphase/h_bar_test, ...

The model trains on 400 digits with 20% of their labels flipped (so that it over-fits); the other
half of the data is the reference split, on which the tracker trains its K baselines itself.
32 + 32 samples are explained with n = 8 image patches every 3 epochs (``--samples 64 --n 10``
is the setting of the overhead measured in docs/integrations.md; it costs several times more).
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

    from torch.utils.tensorboard import SummaryWriter

    from genphase import Tracker
    from genphase.datasets import add_label_noise, load_digits, subsample_train
    from genphase.models import MLP

    torch.manual_seed(0)
    ds = add_label_noise(subsample_train(load_digits(test_size=0.5), args.train_size), args.label_noise)
    x_tr, y_tr = torch.as_tensor(ds.x_train), torch.as_tensor(ds.y_train)
    x_te, y_te = torch.as_tensor(ds.x_test), torch.as_tensor(ds.y_test)

    def make_model() -> torch.nn.Module:
        return MLP((1, 8, 8), 10, hidden=(256, 256))

    writer = SummaryWriter(log_dir=str(args.out / "tensorboard"))
    g = torch.Generator().manual_seed(0)
    pick_tr = torch.randperm(len(y_tr), generator=g)[: args.samples]
    pick_te = torch.randperm(len(y_te), generator=g)[: args.samples]
    tracker = Tracker(
        (x_tr[pick_tr], y_tr[pick_tr]), (x_te[pick_te], y_te[pick_te]),
        run_dir=args.out, n=args.n, background=x_tr,
        model_factory=make_model, reference_data=(x_te, y_te), k=args.k,
        baseline_epochs=args.baseline_epochs, baseline_optimizer="sgd", baseline_lr=0.05, baseline_batch_size=32,
        every_n_epochs=args.every, writer=writer,
    )

    model = make_model()
    opt = torch.optim.SGD(model.parameters(), lr=0.05, momentum=0.9)
    loader = torch.utils.data.DataLoader(torch.utils.data.TensorDataset(x_tr, y_tr), batch_size=32, shuffle=True)
    tracker.measure(model, step=0)  # the initial model
    for epoch in range(1, args.epochs + 1):
        model.train()
        total = 0.0
        for xb, yb in loader:
            loss = torch.nn.functional.cross_entropy(model(xb), yb)
            opt.zero_grad()
            loss.backward()
            opt.step()
            total += loss.item() * len(yb)
        writer.add_scalar("train/loss", total / len(y_tr), epoch)
        if tracker.due(epoch):
            res = tracker.measure(model, step=epoch)
            if res is not None:
                print(f"epoch {epoch:3d}: H-bar train {res['h_bar']:.3f} [{res['h_bar_low']:.3f}, {res['h_bar_high']:.3f}]"
                      f"  test {res['h_bar_test']:.3f}  phase {int(res['phase'])}  ({res['seconds']:.1f} s)")
                if res["stop"]:
                    print(f"phase 3 has begun: genphase advises stopping (keep epoch {int(res['stop_epoch'])})")
                    break
    writer.close()
    print(f"run directory: {args.out}  (genphase report {args.out})")
    return args.out


if __name__ == "__main__":
    main()
