"""Old import paths of renamed or moved names: each still works, with a DeprecationWarning naming the new one."""

from __future__ import annotations

import importlib
import warnings
from typing import Any, Callable, Mapping

__all__ = ["moved"]


def moved(old_module: str, names: Mapping[str, str]) -> Callable[[str], Any]:
    """A module ``__getattr__`` for ``old_module``: ``names`` maps each old name to ``"new.module:new_name"``.

    >>> getattr_ = moved("genphase.old", {"f": "genphase.settings:check_variables"})
    >>> import warnings
    >>> with warnings.catch_warnings(record=True) as seen:
    ...     warnings.simplefilter("always")
    ...     getattr_("f")(3), str(seen[0].message)
    (3, 'genphase.old.f moved to genphase.settings.check_variables; import it from there (the old path will be removed)')
    """

    def __getattr__(name: str) -> Any:
        target = names.get(name)
        if target is None:
            raise AttributeError(f"module {old_module!r} has no attribute {name!r}")
        module, _, new = target.partition(":")
        warnings.warn(f"{old_module}.{name} moved to {module}.{new}; import it from there (the old path will be removed)",
                      DeprecationWarning, stacklevel=2)
        return getattr(importlib.import_module(module), new)

    return __getattr__
