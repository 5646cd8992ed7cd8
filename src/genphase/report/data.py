"""Loading a run directory for the report (see ``docs/run-directory.md``).

Everything here is tolerant: a missing or unreadable optional file becomes ``None`` plus a
human-readable note in :attr:`RunData.problems`, so that the report can skip the affected
figure instead of crashing.
"""

from __future__ import annotations

import json
import re
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd

__all__ = ["RunData", "SampleSet", "TABLES", "OPTIONAL_TABLES", "load_run", "latest_interactions_path",
           "check_records", "find_replication"]

#: Metric tables of the run-directory contract (``metrics/<name>.parquet``).
TABLES: tuple[str, ...] = (
    "training",
    "samples",
    "h_bar",
    "h_bar_summary",
    "order_strengths",
    "baseline_ablation",
    "removal_loss",
    "order_distribution",
    "jaccard",
    "phases",
)

#: Tables a run may lack for a stated reason (K = 1: no ceiling, no evidence; ``phases.json`` ``not_computed``)
#: or because it predates them; their absence is not listed as a problem.
#: ``h_bar_null`` (the chance level of H-bar) and ``claims`` (claims against placebos) came with 0.2.0: a run
#: made before them, or with them switched off, lacks them and the report says which section is unavailable and why.
OPTIONAL_TABLES: tuple[str, ...] = ("h_bar_ceiling", "evidence", "baselines", "h_bar_null", "claims")

_EPOCH_RE = re.compile(r"^epoch_(\d+)\.npz$")


@dataclass
class SampleSet:
    """The explained samples (``explained/samples.npz`` and ``explained/variables.json``).

    Attributes:
        inputs: ``[2M, ...]`` inputs as stored (images ``[2M, C, H, W]``); ``None`` if absent.
        labels: ``[2M]`` labels or ``None``.
        split: ``[2M]`` strings ``"train"``/``"test"``.
        names: names of the ``n`` input variables.
        modality: ``"image"``, ``"text"``, ``"pointcloud"`` or ``"tabular"``.
        patch_boxes: ``[[row0, col0, row1, col1], ...]`` (images only; end exclusive).

    >>> s = SampleSet(inputs=np.zeros((2, 30)), labels=np.array([0, 1]), split=np.array(["train", "test"]),
    ...               names=["x0", "x1"], modality="tabular")
    >>> s.inputs.shape, s.split.tolist(), s.patch_boxes
    ((2, 30), ['train', 'test'], None)
    """

    inputs: np.ndarray | None
    labels: np.ndarray | None
    split: np.ndarray
    names: list[str]
    modality: str
    patch_boxes: list[list[int]] | None = None


@dataclass
class RunData:
    """Everything the report reads from one run directory.

    Tables are ``None`` when the file is missing or unreadable; ``problems`` says why.

    >>> data = RunData(run_dir=Path("runs/digits"), tables={"h_bar": pd.DataFrame({"h_bar": [0.5]})})
    >>> data.table("h_bar").shape, data.table("jaccard"), data.problems
    ((1, 1), None, [])
    """

    run_dir: Path
    tables: dict[str, pd.DataFrame | None] = field(default_factory=dict)
    config: dict[str, Any] | None = None
    config_text: str | None = None
    manifest: dict[str, Any] | None = None
    phases_info: dict[str, Any] | None = None
    samples: SampleSet | None = None
    interactions: Any = None
    interactions_epoch: int | None = None
    problems: list[str] = field(default_factory=list)
    #: Files the report reads that differ from their record in manifest.json (path -> what differs), see
    #: :func:`check_records`; the page marks each in red and ``genphase report`` prints one warning line each.
    differs: dict[str, str] = field(default_factory=dict)
    #: ``replication.json`` (the same study over several seeds), found by :func:`find_replication`; ``None`` if none.
    replication: dict[str, Any] | None = None
    replication_path: Path | None = None
    #: Why a replication.json that exists could not be used (unreadable, not an object).
    replication_problem: str | None = None

    def table(self, name: str) -> pd.DataFrame | None:
        """The metric table ``name`` (``None`` when missing)."""
        return self.tables.get(name)


def check_records(run_dir: str | Path, manifest: Any) -> dict[str, str]:
    """The metric tables and ``metrics/phases.json`` the report reads that differ from the size and SHA-256
    recorded for them in ``manifest.json`` (``manifest["files"]``, see :mod:`genphase.pipeline.integrity`),
    as ``{path: what differs}``: edited, truncated or replaced after the run, or not written by it.

    Nothing is said where there is nothing to check against: no manifest, a manifest without file records
    (a run made before they existed) or a tracker's directory (``"kind": "tracker"``, no file records).
    Missing files are left to :attr:`RunData.problems`.

    >>> import tempfile
    >>> from genphase.rundir.records import record_file
    >>> root = Path(tempfile.mkdtemp())
    >>> (root / "metrics").mkdir()
    >>> pd.DataFrame({"checkpoint": [0], "h_bar": [0.5]}).to_parquet(root / "metrics" / "h_bar.parquet")
    >>> man = {"config_hash": "c0ffee", "files": {}}
    >>> record_file(man, root, root / "metrics" / "h_bar.parquet", {"kind": "table", "name": "h_bar"})
    >>> check_records(root, man)  # as the run wrote it
    {}
    >>> pd.DataFrame({"checkpoint": [0], "h_bar": [0.9]}).to_parquet(root / "metrics" / "h_bar.parquet")
    >>> check_records(root, man)
    {'metrics/h_bar.parquet': 'same size, but not the content whose SHA-256 manifest.json recorded: edited or replaced after the run'}
    >>> check_records(root, {"kind": "tracker"})  # a tracker records no files: nothing to check
    {}
    """
    from ..errors import CorruptFileError
    from ..rundir.records import check_file, recorded

    if not isinstance(manifest, dict) or manifest.get("kind") == "tracker" or not manifest.get("files"):
        return {}
    root = Path(run_dir)
    out: dict[str, str] = {}
    for rel in [*(f"metrics/{name}.parquet" for name in (*TABLES, *OPTIONAL_TABLES)), "metrics/phases.json"]:
        path = root / rel
        if not path.is_file():
            continue
        if not recorded(manifest, root, path):
            out[rel] = "manifest.json has no record of it: the run did not write it (added or copied in after the run)"
            continue
        try:
            check_file(manifest, root, path)
        except CorruptFileError:
            rec = manifest["files"].get(rel) or {}
            size = path.stat().st_size
            if rec.get("config_hash") != manifest.get("config_hash"):
                out[rel] = (f"manifest.json recorded it for another configuration ({rec.get('config_hash')}; this "
                            f"run: {manifest.get('config_hash')})")
            elif size != rec.get("bytes"):
                out[rel] = (f"{size} bytes where manifest.json recorded {rec.get('bytes')}: edited, truncated or "
                            "replaced after the run")
            else:
                out[rel] = ("same size, but not the content whose SHA-256 manifest.json recorded: edited or replaced "
                            "after the run")
    return out


def find_replication(run_dir: Path) -> Path | None:
    """``replication.json`` in the run directory, else beside it (in its parent folder); ``None`` when neither.

    >>> import tempfile
    >>> with tempfile.TemporaryDirectory() as tmp:
    ...     run = Path(tmp) / "seed_0"
    ...     run.mkdir()
    ...     before = find_replication(run)
    ...     _ = (Path(tmp) / "replication.json").write_text("{}")
    ...     after = find_replication(run).name
    >>> before, after
    (None, 'replication.json')
    """
    for p in (Path(run_dir) / "replication.json", Path(run_dir).parent / "replication.json"):
        if p.is_file():
            return p
    return None


def _read_replication(run_dir: Path) -> tuple[dict[str, Any] | None, Path | None, str | None]:
    """``(content, path, problem)`` of the run's replication.json (see :func:`find_replication`); a missing file is no problem."""
    path = find_replication(run_dir)
    if path is None:
        return None, None, None
    try:
        rep = json.loads(path.read_text(encoding="utf-8"))
    except (OSError, ValueError) as exc:
        return None, path, f"{path} could not be read ({exc})"
    if not isinstance(rep, dict):
        return None, path, f"{path} is not a JSON object"
    return rep, path, None


def latest_interactions_path(run_dir: Path) -> tuple[Path, int] | None:
    """Path and epoch of the highest-epoch ``interactions/model/epoch_XXXX.npz`` (``None`` if none).

    >>> import tempfile
    >>> with tempfile.TemporaryDirectory() as tmp:
    ...     folder = Path(tmp) / "interactions" / "model"
    ...     folder.mkdir(parents=True)
    ...     for e in (2, 10):
    ...         _ = (folder / f"epoch_{e:04d}.npz").write_bytes(b"")
    ...     path, epoch = latest_interactions_path(Path(tmp))
    ...     missing = latest_interactions_path(Path(tmp) / "elsewhere")
    >>> path.name, epoch, missing
    ('epoch_0010.npz', 10, None)
    """
    folder = Path(run_dir) / "interactions" / "model"
    if not folder.is_dir():
        return None
    best: tuple[Path, int] | None = None
    for p in folder.iterdir():
        m = _EPOCH_RE.match(p.name)
        if m and p.is_file():
            epoch = int(m.group(1))
            if best is None or epoch > best[1]:
                best = (p, epoch)
    return best


def _read_json(path: Path, problems: list[str], *, label: str | None = None) -> Any:
    """Parse a JSON file; ``None`` (and a note in ``problems``) when missing or invalid."""
    label = label or path.name
    if not path.is_file():
        problems.append(f"{label} is missing")
        return None
    try:
        return json.loads(path.read_text(encoding="utf-8"))
    except (OSError, ValueError) as exc:
        problems.append(f"{label} could not be read ({exc})")
        return None


def _load_samples(run_dir: Path, problems: list[str]) -> SampleSet | None:
    exp = run_dir / "explained"
    var_path = exp / "variables.json"
    npz_path = exp / "samples.npz"
    variables = _read_json(var_path, problems, label="explained/variables.json")
    inputs = labels = split = None
    if npz_path.is_file():
        try:
            with np.load(npz_path, allow_pickle=False) as z:
                inputs = np.asarray(z["inputs"]) if "inputs" in z.files else None
                labels = np.asarray(z["labels"]) if "labels" in z.files else None
                split = np.asarray(z["split"]).astype(str) if "split" in z.files else None
                if inputs is None and labels is None and split is None:
                    problems.append(f"explained/samples.npz holds no inputs, labels or split (its arrays: "
                                    f"{', '.join(z.files) or 'none'}); the sample figures are skipped")
        except (OSError, ValueError, KeyError) as exc:
            problems.append(f"explained/samples.npz could not be read ({exc})")
    else:
        problems.append("explained/samples.npz is missing")
    if variables is None and split is None:
        return None
    variables = variables if isinstance(variables, dict) else {}
    if split is None:
        samples_tab = None
        p = run_dir / "metrics" / "samples.parquet"
        if p.is_file():
            try:
                samples_tab = pd.read_parquet(p)
            except Exception:  # noqa: BLE001 - any unreadable table just means "no split info"
                samples_tab = None
        if samples_tab is not None and {"sample", "split"} <= set(samples_tab.columns):
            split = samples_tab.sort_values("sample")["split"].astype(str).to_numpy()
        else:
            split = np.array([], dtype=str)
    names = [str(x) for x in variables.get("names", [])]
    boxes = variables.get("patch_boxes")
    return SampleSet(
        inputs=inputs,
        labels=labels,
        split=split,
        names=names,
        modality=str(variables.get("modality", "unknown")),
        patch_boxes=[list(map(int, b)) for b in boxes] if boxes else None,
    )


def load_run(run_dir: str | Path) -> RunData:
    """Read a run directory into a :class:`RunData`; never raises for missing optional files.

    Raises:
        FileNotFoundError: ``run_dir`` does not exist or is not a directory.

    >>> import tempfile
    >>> with tempfile.TemporaryDirectory() as tmp:  # an empty directory: every file is missing, nothing raises
    ...     data = load_run(tmp)
    >>> data.table("h_bar") is None, data.problems[:2]
    (True, ['metrics/training.parquet is missing', 'metrics/samples.parquet is missing'])
    >>> load_run("no/such/run")
    Traceback (most recent call last):
    ...
    FileNotFoundError: run directory no/such/run does not exist
    """
    run_dir = Path(run_dir)
    if not run_dir.is_dir():
        raise FileNotFoundError(f"run directory {run_dir} does not exist")
    data = RunData(run_dir=run_dir)
    metrics = run_dir / "metrics"
    for name in (*TABLES, *OPTIONAL_TABLES):
        p = metrics / f"{name}.parquet"
        if not p.is_file():
            data.tables[name] = None
            if name != "phases" and name not in OPTIONAL_TABLES:
                data.problems.append(f"metrics/{name}.parquet is missing")
            continue
        try:
            data.tables[name] = pd.read_parquet(p)
        except Exception as exc:  # noqa: BLE001 - pyarrow raises many types for corrupt files
            data.tables[name] = None
            data.problems.append(f"metrics/{name}.parquet could not be read ({type(exc).__name__}: {exc})")

    cfg_path = run_dir / "config.yaml"
    if cfg_path.is_file():
        try:
            from .._yaml import decode_yaml, parse_yaml

            data.config_text = decode_yaml(cfg_path.read_bytes(), str(cfg_path))
            loaded = parse_yaml(data.config_text, str(cfg_path))
            data.config = loaded if isinstance(loaded, dict) else {"config": loaded}
        except Exception as exc:  # noqa: BLE001 - yaml errors and I/O errors alike
            data.problems.append(f"config.yaml could not be read ({exc})")
    else:
        data.problems.append("config.yaml is missing")

    manifest = _read_json(run_dir / "manifest.json", data.problems)
    data.manifest = manifest if isinstance(manifest, dict) or manifest is None else {"manifest": manifest}
    data.differs = check_records(run_dir, manifest)
    phases_info = _read_json(metrics / "phases.json", data.problems, label="metrics/phases.json")
    data.phases_info = phases_info if isinstance(phases_info, dict) or phases_info is None else {"phases": phases_info}

    data.samples = _load_samples(run_dir, data.problems)
    data.replication, data.replication_path, data.replication_problem = _read_replication(run_dir)

    latest = latest_interactions_path(run_dir)
    if latest is None:
        data.problems.append("no interactions/model/epoch_XXXX.npz files")
    else:
        path, epoch = latest
        try:
            from ..interactions import AndOrInteractions

            data.interactions = AndOrInteractions.load(path)
            data.interactions_epoch = epoch
        except Exception as exc:  # noqa: BLE001 - missing io module, corrupt file, ...
            data.problems.append(f"{path.relative_to(run_dir)} could not be loaded ({type(exc).__name__}: {exc})")
    return data
