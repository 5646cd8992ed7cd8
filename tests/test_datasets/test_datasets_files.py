"""Loaders of local datasets, on tiny files written here in the real formats."""

from __future__ import annotations

import gzip
import pickle
import struct
import tarfile
from pathlib import Path

import numpy as np
import pytest
from system_deps import require_fashion_mnist

from genphase.datasets import (
    load_cifar10,
    load_dataset,
    load_fashion_mnist,
    load_mnist,
    load_sst2,
    load_tiny_imagenet,
    read_idx,
    write_idx,
)
from genphase.errors import DatasetNotFoundError, InputError


def _idx_bytes(a: np.ndarray) -> bytes:
    """IDX encoding written independently of genphase: magic 0 0 0x08 ndim, big-endian sizes, data."""
    assert a.dtype == np.uint8
    return bytes([0, 0, 0x08, a.ndim]) + struct.pack(f">{a.ndim}I", *a.shape) + a.tobytes()


def _write_mnist_like(root: Path, n_train: int, n_test: int, gz: bool, rng: np.random.Generator) -> dict:
    root.mkdir(parents=True, exist_ok=True)
    arrays = {
        "train-images-idx3-ubyte": rng.integers(0, 256, (n_train, 28, 28), dtype=np.uint8),
        "train-labels-idx1-ubyte": (np.arange(n_train) % 10).astype(np.uint8),
        "t10k-images-idx3-ubyte": rng.integers(0, 256, (n_test, 28, 28), dtype=np.uint8),
        "t10k-labels-idx1-ubyte": (np.arange(n_test) % 10).astype(np.uint8)[::-1].copy(),
    }
    for name, a in arrays.items():
        data = _idx_bytes(a)
        (root / (name + (".gz" if gz else ""))).write_bytes(gzip.compress(data) if gz else data)
    return arrays


@pytest.mark.parametrize("gz", [True, False])
def test_fashion_mnist_from_idx_files(tmp_path: Path, gz: bool) -> None:
    arrays = _write_mnist_like(tmp_path, 20, 10, gz, np.random.default_rng(0))
    ds = load_fashion_mnist(tmp_path)
    assert ds.x_train.shape == (20, 1, 28, 28) and ds.x_test.shape == (10, 1, 28, 28)
    assert ds.x_train.dtype == np.float32
    np.testing.assert_allclose(ds.x_train[:, 0] * 255.0, arrays["train-images-idx3-ubyte"], atol=1e-3)
    assert np.array_equal(ds.y_test, arrays["t10k-labels-idx1-ubyte"])
    assert ds.class_names[0] == "T-shirt/top" and ds.class_names[9] == "Ankle boot"
    assert ds.name == "fashion-mnist" and ds.modality == "image"


def test_missing_fashion_mnist_names_the_install_command(tmp_path: Path) -> None:
    with pytest.raises(DatasetNotFoundError, match="apt-get install dataset-fashion-mnist") as info:
        load_fashion_mnist(tmp_path / "nowhere")
    assert "train-images-idx3-ubyte.gz" in str(info.value)
    assert isinstance(info.value, FileNotFoundError)


def test_mnist_torchvision_layout_and_registry(tmp_path: Path) -> None:
    _write_mnist_like(tmp_path / "MNIST" / "raw", 10, 5, False, np.random.default_rng(1))
    ds = load_dataset("mnist", root=tmp_path)
    assert ds.n_train == 10 and ds.n_test == 5 and ds.class_names == [str(d) for d in range(10)]
    with pytest.raises(DatasetNotFoundError, match="mnist-5k"):
        load_mnist(tmp_path / "empty")


def test_mnist_default_root_from_env(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    _write_mnist_like(tmp_path / "mnist", 10, 5, True, np.random.default_rng(2))
    monkeypatch.setenv("GENPHASE_DATA_DIR", str(tmp_path))
    assert load_mnist().n_train == 10


def test_idx_errors_and_roundtrip(tmp_path: Path) -> None:
    bad = tmp_path / "bad-idx3-ubyte"
    bad.write_bytes(b"\x01\x02\x03\x04junk")
    with pytest.raises(InputError, match="not an IDX file"):
        read_idx(bad)
    short = tmp_path / "short"
    short.write_bytes(_idx_bytes(np.zeros((4, 2, 2), dtype=np.uint8))[:-3])
    with pytest.raises(InputError, match="truncated"):
        read_idx(short)
    for dtype in (np.uint8, np.int16, np.float32, np.float64):
        a = np.arange(24, dtype=dtype).reshape(2, 3, 4)
        assert np.array_equal(read_idx(write_idx(tmp_path / f"a_{np.dtype(dtype).name}.gz", a)), a)


def test_real_fashion_mnist_package() -> None:
    require_fashion_mnist()  # skips locally, fails with CI=true
    ds = load_fashion_mnist()
    assert ds.n_train == 60000 and ds.n_test == 10000
    assert np.all(np.bincount(ds.y_test) == 1000)


def _cifar_batch(rng: np.random.Generator, n: int, offset: int) -> dict:
    return {
        b"batch_label": b"batch",
        b"labels": [int(i) for i in (np.arange(n) + offset) % 10],
        b"data": rng.integers(0, 256, (n, 3072), dtype=np.uint8),
        b"filenames": [b"x.png"] * n,
    }


def _write_cifar(directory: Path, rng: np.random.Generator) -> dict[str, dict]:
    directory.mkdir(parents=True, exist_ok=True)
    batches = {f"data_batch_{i}": _cifar_batch(rng, 4, i) for i in range(1, 6)}
    batches["test_batch"] = _cifar_batch(rng, 3, 0)
    meta = {b"label_names": [b"airplane", b"automobile", b"bird", b"cat", b"deer", b"dog", b"frog", b"horse",
                             b"ship", b"truck"], b"num_vis": 3072}  # fmt: skip
    for name, obj in {**batches, "batches.meta": meta}.items():
        (directory / name).write_bytes(pickle.dumps(obj, protocol=2))
    return batches


def test_cifar10_from_batches(tmp_path: Path) -> None:
    batches = _write_cifar(tmp_path / "cifar-10-batches-py", np.random.default_rng(0))
    ds = load_cifar10(tmp_path)
    assert ds.x_train.shape == (20, 3, 32, 32) and ds.x_test.shape == (3, 3, 32, 32)
    first = batches["data_batch_1"][b"data"][0]
    # Row layout: 1024 red, 1024 green, 1024 blue values, each 32x32 row-major.
    np.testing.assert_allclose(ds.x_train[0] * 255.0, first.reshape(3, 32, 32), atol=1e-3)
    assert ds.y_train[:4].tolist() == [1, 2, 3, 4] and ds.class_names[1] == "automobile"


def test_cifar10_from_tarball_and_errors(tmp_path: Path) -> None:
    src = tmp_path / "src"
    _write_cifar(src / "cifar-10-batches-py", np.random.default_rng(1))
    root = tmp_path / "root"
    root.mkdir()
    with tarfile.open(root / "cifar-10-python.tar.gz", "w:gz") as tar:
        tar.add(src / "cifar-10-batches-py", arcname="cifar-10-batches-py")
    assert load_dataset("cifar10", root=root).n_train == 20
    with pytest.raises(DatasetNotFoundError, match="data_batch_1"):
        load_cifar10(tmp_path / "none")
    evil = tmp_path / "evil"
    _write_cifar(evil, np.random.default_rng(2))
    (evil / "test_batch").write_bytes(pickle.dumps({b"data": Path("x"), b"labels": []}))
    with pytest.raises(InputError, match="not allowed"):
        load_cifar10(evil)


def _write_tiny_imagenet(root: Path, wnids: list[str], per_class: int, rng: np.random.Generator) -> None:
    from PIL import Image

    (root / "val" / "images").mkdir(parents=True)
    (root / "wnids.txt").write_text("\n".join(wnids) + "\n")
    (root / "words.txt").write_text("".join(f"{w}\tname of {w}, synonym\n" for w in wnids) + "n00000000\tunused\n")
    lines = []
    for c, w in enumerate(wnids):
        folder = root / "train" / w / "images"
        folder.mkdir(parents=True)
        (root / "train" / w / f"{w}_boxes.txt").write_text("")
        for i in range(per_class):
            mode = "L" if i == 0 else "RGB"  # Tiny-ImageNet has a few grayscale JPEGs
            shape = (64, 64) if mode == "L" else (64, 64, 3)
            Image.fromarray(rng.integers(0, 256, shape, dtype=np.uint8), mode).save(folder / f"{w}_{i}.JPEG")
        name = f"val_{c}.JPEG"
        Image.fromarray(np.full((64, 64, 3), 40 * c, dtype=np.uint8)).save(root / "val" / "images" / name)
        lines.append(f"{name}\t{w}\t0\t0\t63\t63")
    (root / "val" / "val_annotations.txt").write_text("\n".join(lines) + "\n")


def test_tiny_imagenet_layout(tmp_path: Path) -> None:
    pytest.importorskip("PIL")
    wnids = ["n01443537", "n01629819", "n01641577"]
    _write_tiny_imagenet(tmp_path / "tiny-imagenet-200", wnids, 3, np.random.default_rng(0))
    ds = load_tiny_imagenet(tmp_path)
    assert ds.x_train.shape == (9, 3, 64, 64) and ds.x_test.shape == (3, 3, 64, 64)
    assert ds.y_train.tolist() == [0, 0, 0, 1, 1, 1, 2, 2, 2] and ds.y_test.tolist() == [0, 1, 2]
    assert ds.class_names[0] == "name of n01443537, synonym"
    assert abs(float(ds.x_test[2].mean()) - 80 / 255) < 0.02  # JPEG is lossy, flat images survive
    small = load_dataset("tiny-imagenet", root=tmp_path, num_classes=2, max_train_per_class=2, image_size=32)
    assert small.x_train.shape == (4, 3, 32, 32) and small.num_classes == 2 and small.n_test == 2
    assert load_tiny_imagenet(tmp_path, classes=["n01641577"]).y_test.tolist() == [0]
    with pytest.raises(InputError, match="wnids"):
        load_tiny_imagenet(tmp_path, classes=["n99999999"])
    with pytest.raises(DatasetNotFoundError, match="val_annotations.txt"):
        load_tiny_imagenet(tmp_path / "missing")


def test_sst2_tsv(tmp_path: Path) -> None:
    d = tmp_path / "SST-2"
    d.mkdir()
    (d / "train.tsv").write_text('sentence\tlabel\nhide new secretions \t0\nthe " best " film \t1\ngreat\t1\n')
    (d / "dev.tsv").write_text("sentence\tlabel\nit 's a charming journey . \t1\n")
    (d / "test.tsv").write_text("index\tsentence\n0\tunlabelled\n")
    ds = load_sst2(tmp_path)
    assert ds.x_train == ["hide new secretions", 'the " best " film', "great"]
    assert ds.y_train.tolist() == [0, 1, 1] and ds.y_test.tolist() == [1]
    assert ds.modality == "text" and ds.class_names == ["negative", "positive"]
    (d / "dev.tsv").write_text("sentence\tlabel\nno label here\n")
    with pytest.raises(InputError, match="line 2"):
        load_sst2(tmp_path)


def _write_arrow_stream(path: Path, sentences: list[str], labels: list[int]) -> None:
    import pyarrow as pa

    table = pa.table({"sentence": sentences, "label": labels, "idx": list(range(len(labels)))})
    path.parent.mkdir(parents=True, exist_ok=True)
    with pa.OSFile(str(path), "wb") as sink, pa.ipc.new_stream(sink, table.schema) as writer:
        writer.write_table(table)


def test_sst2_hugging_face_files(tmp_path: Path) -> None:
    pa = pytest.importorskip("pyarrow")
    import pyarrow.parquet as pq

    # datasets' save_to_disk layout ...
    disk = tmp_path / "disk"
    _write_arrow_stream(disk / "train" / "data-00000-of-00001.arrow", ["good", "bad"], [1, 0])
    _write_arrow_stream(disk / "validation" / "data-00000-of-00001.arrow", ["fine"], [1])
    _write_arrow_stream(disk / "test" / "data-00000-of-00001.arrow", ["?"], [-1])
    ds = load_sst2(disk)
    assert ds.x_train == ["good", "bad"] and ds.y_train.tolist() == [1, 0] and ds.x_test == ["fine"]
    # ... its cache layout (glue/sst2/<version>/<hash>/glue-train.arrow) ...
    cache = tmp_path / "cache" / "glue" / "sst2" / "1.0.0" / "abc123"
    _write_arrow_stream(cache / "glue-train.arrow", ["a", "b", "c"], [0, 1, 0])
    _write_arrow_stream(cache / "glue-validation.arrow", ["d"], [0])
    assert load_dataset("sst2", root=tmp_path / "cache").n_train == 3
    # ... and the hub's parquet files.
    pqdir = tmp_path / "parquet" / "data"
    pqdir.mkdir(parents=True)
    pq.write_table(pa.table({"idx": [0], "sentence": ["x"], "label": [1]}), pqdir / "train-00000-of-00001.parquet")
    pq.write_table(pa.table({"idx": [0], "sentence": ["y"], "label": [0]}), pqdir / "validation-00000-of-00001.parquet")
    assert load_sst2(tmp_path / "parquet").y_test.tolist() == [0]
    with pytest.raises(DatasetNotFoundError, match="dev.tsv"):
        load_sst2(tmp_path / "nothing")


def test_gzip_detected_by_content(tmp_path: Path) -> None:
    a = np.arange(6, dtype=np.uint8).reshape(2, 3)
    p = tmp_path / "plain-name"
    p.write_bytes(gzip.compress(_idx_bytes(a)))
    assert np.array_equal(read_idx(p), a)
