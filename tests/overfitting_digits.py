"""The over-fitting setting the integration tests stop with the real phase rule: an MLP 256-256 on 400 digits
with 20% of the training labels flipped, a tracker explaining 16 + 16 samples with n = 6 patches every 3 epochs
against K = 2 baselines it trains on the reference half (measured: phase 3 within 30 epochs)."""

from __future__ import annotations

import torch

from genphase import Tracker
from genphase.datasets import add_label_noise, load_digits, subsample_train


def digits_and_tracker(run_dir, model_factory):
    """``(x_train, y_train, tracker)``: the noisy training split and a tracker of that setting."""
    ds = add_label_noise(subsample_train(load_digits(test_size=0.5), 400), 0.2)
    x_tr, y_tr = torch.as_tensor(ds.x_train), torch.as_tensor(ds.y_train)
    x_te, y_te = torch.as_tensor(ds.x_test), torch.as_tensor(ds.y_test)
    g = torch.Generator().manual_seed(0)
    pick_tr, pick_te = torch.randperm(len(y_tr), generator=g)[:16], torch.randperm(len(y_te), generator=g)[:16]
    tracker = Tracker((x_tr[pick_tr], y_tr[pick_tr]), (x_te[pick_te], y_te[pick_te]), run_dir=run_dir, n=6,
                      background=x_tr, model_factory=model_factory, reference_data=(x_te, y_te), k=2,
                      baseline_epochs=20, baseline_optimizer="sgd", baseline_lr=0.05, baseline_batch_size=32,
                      every_n_epochs=3)
    return x_tr, y_tr, tracker
