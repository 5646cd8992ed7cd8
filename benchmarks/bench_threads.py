"""Torch CPU threads under contention: a fixed genphase-like workload with N threads vs 1 thread,
with and without CPU hogs (busy processes, one per core), run side by side.

    python benchmarks/bench_threads.py [--reps 3] [--hogs N] [--threads 1,2]

Each thread count > 1 is measured twice: with OpenMP's wait policy as inherited (unset: the
runtime spins while waiting for work) and with ``OMP_WAIT_POLICY=PASSIVE`` (what the ``genphase``
CLI sets unless you set it yourself).

Workload (one child process per measurement, so that each gets a fresh thread pool): 30 SGD steps
of the digits preset's MLP ([256, 256]) on batches of 256, then masked forward passes of 2 samples
x 2^12 masks through the same MLP (what extraction does). Prints the median seconds per setting and
the ratio to 1 thread; timings are noisy, compare the ratios of one invocation.
"""

from __future__ import annotations

import argparse
import multiprocessing as mp
import os
import statistics
import subprocess
import sys
import time

CHILD = r"""
import sys, time, torch
torch.set_num_threads(int(sys.argv[1]))
torch.manual_seed(0)
net = torch.nn.Sequential(torch.nn.Flatten(), torch.nn.Linear(64, 256), torch.nn.ReLU(), torch.nn.Linear(256, 256),
                          torch.nn.ReLU(), torch.nn.Linear(256, 10))
opt = torch.optim.SGD(net.parameters(), lr=0.05, momentum=0.9)
x, y = torch.randn(256, 1, 8, 8), torch.randint(0, 10, (256,))
t = time.perf_counter()
for _ in range(30):
    loss = torch.nn.functional.cross_entropy(net(x), y)
    opt.zero_grad(); loss.backward(); opt.step()
with torch.no_grad():
    masked = torch.randn(2 * 4096, 1, 8, 8)
    for lo in range(0, masked.shape[0], 1024):
        net(masked[lo:lo + 1024])
print(time.perf_counter() - t)
"""


def _hog(stop) -> None:  # pragma: no cover - runs in a child process
    while not stop.is_set():
        sum(i * i for i in range(10_000))


def _once(threads: int, policy: str | None) -> float:
    env = {k: v for k, v in os.environ.items() if k != "OMP_WAIT_POLICY"}
    if policy:
        env["OMP_WAIT_POLICY"] = policy
    out = subprocess.run([sys.executable, "-c", CHILD, str(threads)], capture_output=True, text=True, check=True, env=env)
    return float(out.stdout.strip())


def main() -> None:
    cores = len(os.sched_getaffinity(0)) if hasattr(os, "sched_getaffinity") else os.cpu_count() or 1
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--reps", type=int, default=3)
    ap.add_argument("--hogs", type=int, default=cores, help="busy processes in the contended setting (default: one per core)")
    ap.add_argument("--threads", default=f"1,{cores}", help="comma-separated thread counts to compare")
    args = ap.parse_args()
    counts = sorted({int(t) for t in args.threads.split(",")})
    settings = [(t, None) for t in counts] + [(t, "PASSIVE") for t in counts if t > 1]
    print(f"cores available: {cores}; load average before: {os.getloadavg()[0]:.2f}")
    for hogs in (0, args.hogs):
        stop = mp.Event()
        procs = [mp.Process(target=_hog, args=(stop,), daemon=True) for _ in range(hogs)]
        for p in procs:
            p.start()
        time.sleep(0.5 if hogs else 0)
        times: dict[tuple, list[float]] = {s: [] for s in settings}
        for _ in range(args.reps):  # interleaved, so that drifting load hits every setting alike
            for s in settings:
                times[s].append(_once(*s))
        stop.set()
        for p in procs:
            p.join()
        base = statistics.median(times[settings[0]])
        for (t, policy), ts in times.items():
            med = statistics.median(ts)
            print(f"hogs={hogs} threads={t} OMP_WAIT_POLICY={policy or 'unset'}: median {med:.3f}s over {args.reps} "
                  f"({med / base:.2f}x threads={counts[0]})", flush=True)


if __name__ == "__main__":
    main()
