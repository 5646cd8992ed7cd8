"""Settings shared by the test suite (tests/) and the docstring examples (src/genphase, --doctest-modules).

pytest loads this file before it imports any test module or package module, so the variables below are
set before torch, transformers or matplotlib is imported.
"""

from __future__ import annotations

import os

os.environ.setdefault("HF_HUB_OFFLINE", "1")
os.environ.setdefault("TRANSFORMERS_OFFLINE", "1")
os.environ.setdefault("MPLBACKEND", "Agg")
# before torch is imported: idle OpenMP threads sleep instead of spinning (the CLI does the same; see
# docs/reliability.md), which keeps a busy 2-core machine from slowing every test down many times
os.environ.setdefault("OMP_WAIT_POLICY", "PASSIVE")
# one torch/OpenMP thread in every test process (and the Ray workers and CLI subprocesses they start): runs
# are compared exactly across executors and processes, and a Ray task uses one thread
# (execution.cpus_per_task = 1); the floating-point order of a reduction depends on the thread count
os.environ.setdefault("OMP_NUM_THREADS", "1")
