"""Test-only pause and kill points of a run (the kill-and-resume tests stop a run exactly there)."""

from __future__ import annotations

import os
import time
from pathlib import Path

__all__: list[str] = []


def _pause_point(point: str) -> None:
    """Test-only hook: when ``GENPHASE_TEST_PAUSE_AT == point`` and ``GENPHASE_TEST_PAUSE_FILE`` names a
    file, write ``point`` to that file and sleep (120 s), so a test can SIGKILL the run exactly here
    (tests/pipeline/test_resume.py). Points: ``prepare`` (between the manifest and config writes),
    ``train:<epoch>`` (after that epoch's training state is saved), ``baseline:<k>`` (after baseline k
    is saved), ``extract:<epoch>`` (after that checkpoint's interactions are saved), ``analysis``
    (after the first metric table is written). Does nothing unless both variables are set.
    ``GENPHASE_TEST_KILL_AT`` / ``GENPHASE_TEST_KILL_FILE``: the process that reaches the point
    SIGKILLs itself instead (once: it writes the file first, and never kills while the file exists),
    so a test can kill a Ray worker mid-task (tests/pipeline/test_stages_ray.py)."""
    kill = os.environ.get("GENPHASE_TEST_KILL_FILE")
    if kill and os.environ.get("GENPHASE_TEST_KILL_AT") == point and not Path(kill).exists():
        import signal

        Path(kill).write_text(f"{point} {os.getpid()}")
        os.kill(os.getpid(), signal.SIGKILL)
    marker = os.environ.get("GENPHASE_TEST_PAUSE_FILE")
    if not marker or os.environ.get("GENPHASE_TEST_PAUSE_AT") != point:
        return
    Path(marker).write_text(point)
    time.sleep(120)
