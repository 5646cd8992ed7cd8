"""The integration tests run the real Hugging Face Trainer under pytest.

pytest puts ``tests/`` on ``sys.path`` (``pythonpath = ["tests"]``), so ``tests/datasets`` is found
as a namespace package named ``datasets``; transformers' ``is_datasets_available()`` (a cached
``find_spec``) then takes it for the Hugging Face ``datasets`` library and the Trainer crashes on
``datasets.Dataset``. Settle that check once with ``tests/`` left out of the path.
"""

from __future__ import annotations

import sys
from pathlib import Path

_TESTS = str(Path(__file__).resolve().parents[1])


def _settle_datasets_check() -> None:
    try:
        from transformers.utils import import_utils
    except ImportError:
        return
    shadow = sys.modules.get("datasets")
    if shadow is not None and getattr(shadow, "__file__", None) is None:
        del sys.modules["datasets"]  # the namespace package, not the library
    saved = list(sys.path)
    sys.path[:] = [p for p in sys.path if str(Path(p or ".").resolve()) != _TESTS]
    try:
        for fn in (import_utils._is_package_available, import_utils.is_datasets_available):
            getattr(fn, "cache_clear", lambda: None)()
        import_utils.is_datasets_available()
    finally:
        sys.path[:] = saved


_settle_datasets_check()
