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
# No OMP_NUM_THREADS here: a run's stages compute with execution.threads (default 1) whatever the environment
# says, and tests/pipeline/test_determinism.py checks that in subprocesses without it. A test that compares
# numbers computed in its own process with a run's sets the thread count itself and says why.
