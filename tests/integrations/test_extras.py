"""A missing extra gets an error naming the pip install line (frameworks hidden in a subprocess)."""

from __future__ import annotations

import subprocess
import sys

import pytest

_CODE = r'''
import sys
class Hide:
    def find_spec(self, name, path=None, target=None):
        if name.split(".")[0] in {hidden!r}:
            raise ImportError(f"hidden: {{name}}")
        return None
sys.meta_path.insert(0, Hide())
import genphase
try:
    import {module}
except genphase.errors.MissingDependencyError as exc:
    print("MISSING:", exc)
'''


@pytest.mark.parametrize("module, hidden, extra", [
    ("genphase.integrations.lightning", ("lightning", "pytorch_lightning"), "lightning"),
    ("genphase.integrations.transformers", ("transformers",), "transformers"),
])
def test_missing_extra_names_the_pip_install_line(module, hidden, extra):
    code = _CODE.format(module=module, hidden=set(hidden))
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, timeout=120)
    assert out.returncode == 0, out.stderr
    assert f"pip install 'genphase[{extra}]'" in out.stdout
