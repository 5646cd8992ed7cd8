"""Issue #3's GPU budget: per-sample cost of the solver at n = 12, batched, against the 4,096
masked forward passes that produce one sample's game (ResNet-18 on 32x32 inputs, bf16 autocast).

The games are real: the log-odds of a randomly initialised ResNet-18 over n = 12 patches of
4x4 pixels (seeded random central layout, baseline 0), computed with genphase's own masker.
Both sides are timed on the same device, with synchronisation, as medians of --repeats runs
after one warm-up.

Run on a GPU:   .venv/bin/python benchmarks/bench_gpu_budget.py --device cuda --samples 256
CPU smoke test: .venv/bin/python benchmarks/bench_gpu_budget.py --device cpu --samples 4 --width 8 --repeats 1
"""

from __future__ import annotations

import argparse

import numpy as np
import torch
from bench_solver import timed  # benchmarks/ is on sys.path when run as a script

import genphase as gp
from genphase.masked_outputs import masked_values
from genphase.maskers import ImagePatchMasker
from genphase.models.resnet import ResNet


def _median_time(fn, device: torch.device, repeats: int):
    """:func:`bench_solver.timed` after one warm-up (kernels, autotuning, caches), synchronised."""

    def synced():
        out = fn()
        if device.type == "cuda":
            torch.cuda.synchronize(device)
        return out

    synced()
    return timed(synced, repeats)


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--device", default="cuda" if torch.cuda.is_available() else "cpu")
    ap.add_argument("--samples", type=int, default=256, help="games solved in one batch")
    ap.add_argument("--n", type=int, default=12)
    ap.add_argument("--width", type=int, default=64, help="64 = ResNet-18; smaller for a CPU smoke test")
    ap.add_argument("--repeats", type=int, default=3)
    ap.add_argument("--autocast", default="bf16", help="bf16, fp16 or none")
    args = ap.parse_args()
    device = torch.device(args.device)
    torch.manual_seed(0)
    model = ResNet(3, 10, width=args.width, num_blocks=(2, 2, 2, 2)).to(device).eval()
    autocast = None if args.autocast == "none" else args.autocast
    masker = ImagePatchMasker(0.0, image_shape=(3, 32, 32), patch_size=4, n=args.n, seed=0)
    images = torch.randn(args.samples, 3, 32, 32, device=device)
    labels = torch.randint(0, 10, (args.samples,), device=device)
    size = 1 << args.n
    print(f"device={device} torch={torch.__version__} n={args.n} samples={args.samples} width={args.width} autocast={autocast}")

    # one sample's 2^n masked forward passes, in one chunk
    one = images[:1]

    def forward_one():
        return masked_values(model, one, labels[:1], masker, chunk_size=size, autocast=autocast, device=device)

    _, t_fwd = _median_time(forward_one, device, args.repeats)

    # the batch's games (computed once), then the solver on the device, batched
    values = masked_values(model, images, labels, masker, chunk_size=size, autocast=autocast, device=device)
    v_dev = values.to(device)

    def solve():
        return gp.extract_and_or(v_dev, batch_size=args.samples)

    res, t_solve = _median_time(solve, device, args.repeats)
    per_sample = t_solve / args.samples
    print(f"masked forward passes, one sample ({size}): {t_fwd * 1e3:9.2f} ms")
    print(f"solver, per sample (batch of {args.samples}): {per_sample * 1e3:9.2f} ms "
          f"(max gap {float(np.max(res.gap)):.2e}, median iterations {float(np.median(res.iterations)):.0f})")
    verdict = "within" if per_sample < t_fwd else "over"
    print(f"solver / forward = {per_sample / t_fwd:.3f}  ({verdict} the budget)")


if __name__ == "__main__":
    main()
