"""Exceptions raised by genphase, each carrying a message that names the bad value and the fix."""

from __future__ import annotations

__all__ = [
    "GenphaseError",
    "InputError",
    "MemoryEstimateError",
    "ConfigError",
    "RunDirectoryError",
    "MissingDependencyError",
    "DatasetNotFoundError",
    "CorruptFileError",
    "UnsafePickleError",
    "ConvergenceWarning",
]


class GenphaseError(Exception):
    """Base class of every error genphase raises on purpose.

    >>> try:
    ...     raise ConfigError("unknown key 'lr'; did you mean 'training.lr'?")
    ... except GenphaseError as exc:  # catches every error genphase raises on purpose
    ...     print(type(exc).__name__, "-", exc)
    ConfigError - unknown key 'lr'; did you mean 'training.lr'?
    """


class InputError(GenphaseError, ValueError):
    """A value given by the user is malformed (shape, NaN, range...).

    >>> from genphase.transforms import num_variables
    >>> try:
    ...     num_variables(6)
    ... except ValueError as exc:  # an InputError is also a ValueError
    ...     print(type(exc).__name__)
    InputError
    """


class MemoryEstimateError(GenphaseError, MemoryError):
    """The requested computation would need more memory than is available.

    >>> issubclass(MemoryEstimateError, MemoryError), issubclass(MemoryEstimateError, GenphaseError)
    (True, True)
    """


class ConfigError(GenphaseError, ValueError):
    """A run configuration has an unknown key, a wrong type or an impossible value.

    >>> isinstance(ConfigError("epochs must be >= 1, got 0"), ValueError)
    True
    """


class RunDirectoryError(GenphaseError, RuntimeError):
    """A run directory belongs to another configuration or version.

    >>> str(RunDirectoryError("runs/x belongs to another config; pass a new --out"))
    'runs/x belongs to another config; pass a new --out'
    """


class MissingDependencyError(GenphaseError, ImportError):
    """An optional dependency is not installed.

    >>> try:
    ...     require("genphase_no_such_module", "text", "this example")
    ... except ImportError as exc:  # a MissingDependencyError is also an ImportError
    ...     print(exc)
    this example needs the optional dependency 'genphase_no_such_module', which is not installed. Install it with: pip install 'genphase[text]'
    """


class DatasetNotFoundError(GenphaseError, FileNotFoundError):
    """A dataset's files are missing; the message says how to install them.

    >>> isinstance(DatasetNotFoundError("no MNIST under /data"), FileNotFoundError)
    True
    """


class CorruptFileError(InputError):
    """A file cannot be used: truncated, not in the expected format, or not the file it should be.

    ``path`` is the file; the message says what is wrong with it and how to fix it.

    >>> err = CorruptFileError("truncated parquet file; delete it and rerun", path="runs/x/h_bar.parquet")
    >>> err.path, isinstance(err, InputError)
    ('runs/x/h_bar.parquet', True)
    """

    def __init__(self, message: str, path: object = None):
        super().__init__(message)
        self.path = path


class UnsafePickleError(CorruptFileError):
    """A torch file holds pickled Python objects (code could run on loading), which genphase refuses.

    >>> issubclass(UnsafePickleError, CorruptFileError)
    True
    """


class ConvergenceWarning(UserWarning):
    """A solver stopped before reaching its certified tolerance (as scikit-learn's warning of the
    same name); the result is still feasible and carries its certified gap.

    >>> import warnings
    >>> with warnings.catch_warnings(record=True) as w:
    ...     warnings.simplefilter("always")
    ...     warnings.warn("gap 2e-3 > tol", ConvergenceWarning)
    >>> issubclass(w[0].category, UserWarning)
    True
    """


def require(module: str, extra: str, purpose: str):
    """Import an optional dependency lazily, or raise an error naming the extra to install.

    >>> require("math", "test", "this example").sqrt(4.0)
    2.0
    """
    import importlib

    try:
        return importlib.import_module(module)
    except ImportError as exc:  # pragma: no cover - depends on environment
        raise MissingDependencyError(
            f"{purpose} needs the optional dependency {module!r}, which is not installed. "
            f"Install it with: pip install 'genphase[{extra}]'"
        ) from exc
