"""Overhead of genphase.Tracker inside a training loop: seconds per measurement against seconds per epoch.

The digits MLP of examples/torch_loop.py (400 training images with 20% label noise, MLP 256-256,
SGD, batch 32), n = 10 patches, 64 + 64 explained samples, K = 3 baselines trained by the tracker
(a one-off cost, reported apart). The model is measured after epochs 1, 5, 10 and 20; each
measurement is split into the masked forward passes, the solver and the rest (analysis, tables,
writes). Medians are quoted; the machine may be shared, so compare the ratio, not the seconds.

    .venv/bin/python benchmarks/bench_tracker.py [--samples 64] [--n 10] [--threads 1] [--out DIR]

On a machine shared with other jobs, ``--threads 1`` avoids OpenMP threads spinning against each
other (which can slow small-model training by an order of magnitude).
"""

from __future__ import annotations

import argparse
import os
import statistics
import tempfile
import time

import torch


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--samples", type=int, default=64)
    ap.add_argument("--n", type=int, default=10)
    ap.add_argument("--k", type=int, default=3)
    ap.add_argument("--epochs", type=int, default=20)
    ap.add_argument("--at", type=int, nargs="+", default=[1, 5, 10, 20], help="epochs after which to measure")
    ap.add_argument("--out", default=None)
    ap.add_argument("--threads", type=int, default=None, help="torch.set_num_threads (default: torch's choice)")
    args = ap.parse_args()
    if args.threads is not None:
        torch.set_num_threads(args.threads)

    from genphase import Tracker
    from genphase.datasets import add_label_noise, load_digits, subsample_train
    from genphase.models import MLP

    torch.manual_seed(0)
    ds = add_label_noise(subsample_train(load_digits(test_size=0.5), 400), 0.2)
    x_tr, y_tr = torch.as_tensor(ds.x_train), torch.as_tensor(ds.y_train)
    x_te, y_te = torch.as_tensor(ds.x_test), torch.as_tensor(ds.y_test)
    g = torch.Generator().manual_seed(0)
    a = torch.randperm(len(y_tr), generator=g)[: args.samples]
    b = torch.randperm(len(y_te), generator=g)[: args.samples]

    def make():
        return MLP((1, 8, 8), 10, hidden=(256, 256))

    out = args.out or tempfile.mkdtemp(prefix="bench_tracker.")
    tracker = Tracker((x_tr[a], y_tr[a]), (x_te[b], y_te[b]), run_dir=out, n=args.n, background=x_tr,
                      model_factory=make, reference_data=(x_te, y_te), k=args.k, baseline_epochs=30,
                      baseline_optimizer="sgd", baseline_lr=0.05, baseline_batch_size=32)
    model = make()
    t0 = time.perf_counter()
    tracker.setup(model)
    setup_s = time.perf_counter() - t0
    opt = torch.optim.SGD(model.parameters(), lr=0.05, momentum=0.9)
    loader = torch.utils.data.DataLoader(torch.utils.data.TensorDataset(x_tr, y_tr), batch_size=32, shuffle=True)
    epoch_s, meas = [], []
    for epoch in range(1, args.epochs + 1):
        t = time.perf_counter()
        model.train()
        for xb, yb in loader:
            loss = torch.nn.functional.cross_entropy(model(xb), yb)
            opt.zero_grad()
            loss.backward()
            opt.step()
        epoch_s.append(time.perf_counter() - t)
        if epoch in args.at:
            tracker.measure(model, step=epoch)
            tm = dict(tracker.last_timing)
            meas.append(tm)
            print(f"epoch {epoch:3d}: measurement {tm['total_s']:.2f} s (masked forward {tm['masked_forward_s']:.2f} s, "
                  f"solve {tm['solve_s']:.2f} s, rest {tm['total_s'] - tm['masked_forward_s'] - tm['solve_s']:.2f} s)")
    med = {k: statistics.median(m[k] for m in meas) for k in meas[0]}
    ep = statistics.median(epoch_s)
    print(f"load average {os.getloadavg()[0]:.1f} on {os.cpu_count()} CPUs; torch threads {torch.get_num_threads()}")
    print(f"one-off set-up (K={args.k} baselines trained and extracted): {setup_s:.1f} s")
    print(f"median per measurement at n={args.n}, {args.samples}+{args.samples} samples: {med['total_s']:.2f} s "
          f"(masked forward {med['masked_forward_s']:.2f} s, solve {med['solve_s']:.2f} s)")
    print(f"median training epoch: {ep:.3f} s; one measurement = {med['total_s'] / ep:.0f} epochs of training")


if __name__ == "__main__":
    main()
