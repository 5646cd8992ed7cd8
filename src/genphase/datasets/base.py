"""The common dataset container and the transformations that provoke over-fitting."""

from __future__ import annotations

import dataclasses
from dataclasses import dataclass, field
from typing import Any, Literal

import numpy as np

from ..errors import InputError

__all__ = [
    "MODALITIES",
    "Modality",
    "ArrayDataset",
    "add_label_noise",
    "stratified_split",
    "subsample",
    "subsample_train",
    "take",
    "carve_eval",
    "sample_digests",
]

Modality = Literal["image", "text", "pointcloud", "tabular"]
#: The modalities an :class:`ArrayDataset` may declare.
MODALITIES: tuple[str, ...] = ("image", "text", "pointcloud", "tabular")


def take(x: np.ndarray | list[str], index: np.ndarray) -> np.ndarray | list[str]:
    """Rows ``index`` of an array, or items ``index`` of a list of strings (returning a list).

    >>> take(np.array([[0, 1], [2, 3], [4, 5]]), np.array([2, 0])).tolist(), take(["a", "b", "c"], np.array([1]))
    ([[4, 5], [0, 1]], ['b'])
    """
    if isinstance(x, np.ndarray):
        return x[index]
    return [x[int(i)] for i in index]


def _length(x: Any) -> int:
    return int(x.shape[0]) if isinstance(x, np.ndarray) else len(x)


@dataclass(frozen=True, eq=False)
class ArrayDataset:
    """A train/test split held in memory, with an optional evaluation split (``x_eval`` / ``y_eval``).

    Shapes (``N`` samples):

    * ``modality="image"``: ``x`` float32 ``[N, C, H, W]`` in ``[0, 1]``, ``input_shape=(C, H, W)``
    * ``"tabular"``: float32 ``[N, D]``, ``input_shape=(D,)``
    * ``"pointcloud"``: float32 ``[N, P, 3]``, ``input_shape=(P, 3)``
    * ``"text"``: ``x`` is a ``list[str]`` of length ``N``, ``input_shape=None``

    Labels ``y_train`` / ``y_test`` are int64 ``[N]`` in ``0 .. num_classes-1``. ``x_eval`` /
    ``y_eval`` (``None`` unless :func:`carve_eval` made them) hold samples held out from both other
    splits, with the same conventions.

    Attributes:
        name: registry name of the dataset (e.g. ``"digits"``).
        feature_names: names of the ``D`` tabular features (``None`` otherwise).
        meta: provenance (source files, seeds, subsampling, noisy label indices, ...).

    >>> ds = ArrayDataset(np.zeros((4, 2), np.float32), np.array([0, 1, 0, 1]), np.ones((2, 2), np.float32),
    ...                   np.array([1, 0]), 2, "tabular", ["no", "yes"], (2,), name="toy")
    >>> ds.summary()
    'toy (tabular): 4 train / 2 test, 2 classes, input_shape=(2,)'
    >>> x, y = ds.tensors("test")
    >>> x.shape, y.tolist()
    (torch.Size([2, 2]), [1, 0])
    """

    x_train: np.ndarray | list[str]
    y_train: np.ndarray
    x_test: np.ndarray | list[str]
    y_test: np.ndarray
    num_classes: int
    modality: Modality
    class_names: list[str]
    input_shape: tuple[int, ...] | None
    name: str = ""
    feature_names: list[str] | None = None
    meta: dict[str, Any] = field(default_factory=dict)
    x_eval: np.ndarray | list[str] | None = None
    y_eval: np.ndarray | None = None

    def __post_init__(self) -> None:
        if self.modality not in MODALITIES:
            raise InputError(f"modality must be one of {MODALITIES}, got {self.modality!r}")
        if len(self.class_names) != self.num_classes:
            raise InputError(
                f"class_names has {len(self.class_names)} entries but num_classes={self.num_classes}"
            )
        if (self.x_eval is None) != (self.y_eval is None):
            raise InputError("x_eval and y_eval must be given together (or both left None)")
        for split in ("train", "test") + (("eval",) if self.y_eval is not None else ()):
            x, y = getattr(self, f"x_{split}"), getattr(self, f"y_{split}")
            if not isinstance(y, np.ndarray) or y.ndim != 1 or not np.issubdtype(y.dtype, np.integer):
                raise InputError(f"y_{split} must be a 1-D integer numpy array")
            if _length(x) != y.shape[0]:
                raise InputError(f"x_{split} has {_length(x)} samples but y_{split} has {y.shape[0]}")
            if y.size and (y.min() < 0 or y.max() >= self.num_classes):
                raise InputError(
                    f"y_{split} holds labels outside 0..{self.num_classes - 1} "
                    f"(min {int(y.min())}, max {int(y.max())})"
                )
            if self.modality == "text":
                if isinstance(x, np.ndarray) or not all(isinstance(t, str) for t in x):
                    raise InputError(f"x_{split} of a text dataset must be a list of str")
            elif not isinstance(x, np.ndarray):
                raise InputError(f"x_{split} of a {self.modality} dataset must be a numpy array")
            elif self.input_shape is not None and tuple(x.shape[1:]) != tuple(self.input_shape):
                raise InputError(
                    f"x_{split} has sample shape {tuple(x.shape[1:])}, input_shape says {self.input_shape}"
                )

    @property
    def n_train(self) -> int:
        """Number of training samples."""
        return int(self.y_train.shape[0])

    @property
    def n_test(self) -> int:
        """Number of test samples."""
        return int(self.y_test.shape[0])

    @property
    def n_eval(self) -> int:
        """Number of evaluation samples (0 without an evaluation split)."""
        return 0 if self.y_eval is None else int(self.y_eval.shape[0])

    def split(self, which: Literal["train", "test", "eval"]) -> tuple[np.ndarray | list[str], np.ndarray]:
        """``(x, y)`` of the ``"train"``, ``"test"`` or ``"eval"`` split."""
        if which not in ("train", "test", "eval"):
            raise InputError(f"split must be 'train', 'test' or 'eval', got {which!r}")
        if which == "eval" and self.y_eval is None:
            raise InputError("this dataset has no evaluation split; make one with carve_eval(ds, fraction)")
        return getattr(self, f"x_{which}"), getattr(self, f"y_{which}")

    def tensors(self, which: Literal["train", "test"]) -> tuple[Any, Any]:
        """``(x, y)`` of a split as torch tensors (float32 / int64); not for text datasets."""
        import torch

        if self.modality == "text":
            raise InputError("a text dataset holds strings; tokenise x_train / x_test instead of tensors()")
        x, y = self.split(which)
        return torch.from_numpy(np.ascontiguousarray(x, dtype=np.float32)), torch.from_numpy(y.astype(np.int64))

    def replace(self, **changes: Any) -> ArrayDataset:
        """A copy with some fields replaced (validated again)."""
        return dataclasses.replace(self, **changes)

    def summary(self) -> str:
        """One line: name, modality, sizes, classes and sample shape."""
        return (
            f"{self.name or 'dataset'} ({self.modality}): {self.n_train} train / {self.n_test} test, "
            f"{self.num_classes} classes, input_shape={self.input_shape}"
        )


def stratified_split(
    y: np.ndarray, test_size: float | int, seed: int
) -> tuple[np.ndarray, np.ndarray]:
    """Seeded stratified split of the indices ``0..N-1`` of labels ``y [N]`` into (train, test) index arrays.

    ``test_size`` is a fraction in ``(0, 1)`` or a number of samples. Both index arrays are sorted.

    >>> y = np.array([0, 0, 0, 0, 1, 1, 1, 1])
    >>> train, test = stratified_split(y, 0.5, seed=0)
    >>> len(train), len(test), np.bincount(y[test]).tolist()  # both classes equally in the test part
    (4, 4, [2, 2])
    >>> sorted(train.tolist() + test.tolist()) == list(range(8))
    True
    """
    n = int(y.shape[0])
    if isinstance(test_size, float) and not isinstance(test_size, bool):
        if not 0.0 < test_size < 1.0:
            raise InputError(f"test_size as a fraction must be in (0, 1), got {test_size!r}")
        n_test = int(round(test_size * n))
    elif isinstance(test_size, (int, np.integer)) and not isinstance(test_size, bool):
        n_test = int(test_size)
    else:
        raise InputError(f"test_size must be a fraction in (0, 1) or a number of samples, got {test_size!r}")
    if not 0 < n_test < n:
        raise InputError(f"test_size={test_size!r} leaves {n_test} of {n} samples for testing; need 1..{n - 1}")
    from sklearn.model_selection import train_test_split

    idx = np.arange(n)
    counts = np.bincount(y)
    n_classes = int(np.count_nonzero(counts))
    feasible = counts[counts > 0].min() >= 2 and min(n_test, n - n_test) >= n_classes
    stratify = y if feasible else None
    train, test = train_test_split(idx, test_size=n_test, random_state=seed, stratify=stratify)
    return np.sort(train), np.sort(test)


def _pick(y: np.ndarray, n: int, seed: int, stratified: bool, what: str) -> np.ndarray:
    total = int(y.shape[0])
    if isinstance(n, bool) or not isinstance(n, (int, np.integer)) or n < 1:
        raise InputError(f"{what} must be a positive number of samples, got {n!r}")
    if n > total:
        raise InputError(f"{what}={n} exceeds the {total} samples available")
    if n == total:
        return np.arange(total)
    rng = np.random.default_rng(seed)
    if not stratified:
        return np.sort(rng.choice(total, size=n, replace=False))
    # Stratified: per class, the largest-remainder share of n, then a seeded choice.
    classes, counts = np.unique(y, return_counts=True)
    share = counts * (n / total)
    k = np.floor(share).astype(int)
    rest = n - int(k.sum())
    if rest:
        k[np.argsort(-(share - k), kind="stable")[:rest]] += 1
    picked = [
        rng.choice(np.flatnonzero(y == c), size=int(kc), replace=False) for c, kc in zip(classes, k) if kc
    ]
    return np.sort(np.concatenate(picked))


def subsample(
    ds: ArrayDataset,
    n_train: int | None = None,
    n_test: int | None = None,
    *,
    seed: int = 0,
    stratified: bool = True,
) -> ArrayDataset:
    """Keep ``n_train`` training and/or ``n_test`` test samples (seeded, class-stratified by default).

    >>> ds = ArrayDataset(np.zeros((8, 1), np.float32), np.array([0, 1] * 4), np.zeros((4, 1), np.float32),
    ...                   np.array([0, 1] * 2), 2, "tabular", ["a", "b"], (1,))
    >>> small = subsample(ds, n_train=4, n_test=2, seed=0)
    >>> small.n_train, small.n_test, np.bincount(small.y_train).tolist()  # class-stratified
    (4, 2, [2, 2])
    """
    changes: dict[str, Any] = {}
    meta = dict(ds.meta)
    for which, n in (("train", n_train), ("test", n_test)):
        if n is None:
            continue
        x, y = ds.split(which)  # type: ignore[arg-type]
        idx = _pick(y, n, seed, stratified, f"n_{which}")
        changes[f"x_{which}"], changes[f"y_{which}"] = take(x, idx), y[idx]
        meta[f"{which}_subsample_indices"] = idx
        if which == "train" and "noisy_train_indices" in meta:
            pos = np.searchsorted(idx, meta["noisy_train_indices"])
            keep = pos < idx.size
            keep[keep] = idx[pos[keep]] == meta["noisy_train_indices"][keep]
            meta["noisy_train_indices"] = pos[keep]
        if which == "train" and "clean_y_train" in meta:
            meta["clean_y_train"] = np.asarray(meta["clean_y_train"])[idx]
    return ds.replace(**changes, meta=meta)


def carve_eval(ds: ArrayDataset, fraction: float, seed: int = 0) -> ArrayDataset:
    """Move ``round(fraction * n_test)`` test samples into a new evaluation split (class-stratified, seeded).

    The remaining test samples stay the test split, in their order. ``meta["eval_index"]`` and
    ``meta["reference_index"]`` record the positions (in the test split given) of the two parts:
    disjoint, sorted, together all of it. Needs at least one sample on each side.

    >>> import numpy as np
    >>> ds = ArrayDataset(np.zeros((4, 2), np.float32), np.array([0, 1, 0, 1]), np.arange(16, dtype=np.float32).reshape(8, 2),
    ...                   np.array([0, 1] * 4), 2, "tabular", ["a", "b"], (2,))
    >>> out = carve_eval(ds, 0.25, seed=0)
    >>> out.n_test, out.n_eval, sorted(out.meta["eval_index"].tolist() + out.meta["reference_index"].tolist())
    (6, 2, [0, 1, 2, 3, 4, 5, 6, 7])
    """
    if ds.y_eval is not None:
        raise InputError("the dataset already has an evaluation split")
    f = float(fraction)
    if not 0.0 < f < 1.0:
        raise InputError(f"fraction must be in (0, 1), got {fraction!r}")
    ref, ev = stratified_split(ds.y_test, f, seed)
    meta = {**ds.meta, "eval_index": ev, "reference_index": ref, "eval_fraction": f, "eval_seed": int(seed)}
    return ds.replace(x_test=take(ds.x_test, ref), y_test=ds.y_test[ref], x_eval=take(ds.x_test, ev),
                      y_eval=ds.y_test[ev], meta=meta)


def sample_digests(x: np.ndarray | list[str]) -> np.ndarray:
    """One SHA-256 hex digest per sample (its bytes; a text's UTF-8), ``[N]``: equal samples, equal digests.

    >>> d = sample_digests(np.array([[1.0, 2.0], [1.0, 2.0], [0.0, 0.0]], dtype=np.float32))
    >>> bool(d[0] == d[1]), bool(d[0] == d[2])
    (True, False)
    """
    import hashlib

    if isinstance(x, np.ndarray):
        rows = np.ascontiguousarray(x).reshape(x.shape[0], -1)
        return np.array([hashlib.sha256(r.tobytes()).hexdigest() for r in rows])  # one hash per sample
    return np.array([hashlib.sha256(str(t).encode()).hexdigest() for t in x])


def subsample_train(ds: ArrayDataset, n: int, seed: int = 0, *, stratified: bool = True) -> ArrayDataset:
    """Keep ``n`` training samples (seeded, class-stratified by default); the test split is unchanged.

    A small training set makes over-fitting (and the third phase of the interaction dynamics) appear early.

    >>> ds = ArrayDataset(np.zeros((8, 1), np.float32), np.array([0, 1] * 4), np.zeros((4, 1), np.float32),
    ...                   np.array([0, 1] * 2), 2, "tabular", ["a", "b"], (1,))
    >>> small = subsample_train(ds, 2, seed=0)
    >>> small.n_train, small.n_test, sorted(small.y_train.tolist())
    (2, 4, [0, 1])
    """
    return subsample(ds, n_train=n, seed=seed, stratified=stratified)


def add_label_noise(ds: ArrayDataset, fraction: float, seed: int = 0) -> ArrayDataset:
    """Replace the labels of ``round(fraction * n_train)`` training samples by a different random class.

    The test labels are untouched. ``meta["noisy_train_indices"]`` (sorted) records the changed
    samples and ``meta["clean_y_train"]`` the original labels.

    >>> ds = ArrayDataset(np.zeros((10, 1), np.float32), np.zeros(10, dtype=np.int64), np.zeros((2, 1), np.float32),
    ...                   np.zeros(2, dtype=np.int64), 3, "tabular", ["a", "b", "c"], (1,))
    >>> noisy = add_label_noise(ds, 0.3, seed=0)
    >>> idx = noisy.meta["noisy_train_indices"]
    >>> len(idx), bool((noisy.y_train[idx] != 0).all()), int((noisy.y_train != 0).sum())  # 3 labels, each changed
    (3, True, 3)
    """
    if not 0.0 <= float(fraction) <= 1.0:
        raise InputError(f"fraction must be in [0, 1], got {fraction!r}")
    if ds.num_classes < 2:
        raise InputError("label noise needs at least 2 classes")
    rng = np.random.default_rng(seed)
    n = int(round(float(fraction) * ds.n_train))
    idx = np.sort(rng.choice(ds.n_train, size=n, replace=False))
    y = ds.y_train.copy()
    # A uniformly random *other* class: shift by 1..C-1 modulo C.
    y[idx] = (y[idx] + rng.integers(1, ds.num_classes, size=n)) % ds.num_classes
    meta = {**ds.meta, "noisy_train_indices": idx, "clean_y_train": ds.y_train.copy(), "label_noise": float(fraction)}
    return ds.replace(y_train=y, meta=meta)

