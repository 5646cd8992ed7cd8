"""The CLI's one error path: every bad file or directory is one line naming it and exit status 2."""

from __future__ import annotations

import os

import pytest
import torch
from minirun import copy_run, tiny_run_dir
from typer.testing import CliRunner

from genphase.cli import app


def _one_line_error(r, *needles):
    """Exit status 2 and the error as one line (the last; progress lines may come before it)."""
    assert r.exit_code == 2, r.output
    lines = r.output.strip().splitlines()
    text = lines[-1]
    assert text.startswith("error:") and "Traceback" not in r.output, r.output
    assert sum(ln.startswith("error:") for ln in lines) == 1
    for n in needles:
        assert n in text, (n, text)


def _extract(path, tmp_path):
    return CliRunner().invoke(app, ["extract", str(path), "-c", "digits", "variables.n=3", "--samples", "2",
                                    "--out", str(tmp_path / "o.npz")])


@pytest.mark.parametrize("kind", ["zero-byte", "truncated", "random-bytes", "missing", "directory"])
def test_extract_unreadable_checkpoint(tmp_path, kind):
    path = tmp_path / "m.pt"
    if kind == "zero-byte":
        path.write_bytes(b"")
    elif kind == "truncated":
        torch.save({"w": torch.zeros(1000)}, path)
        path.write_bytes(path.read_bytes()[:300])
    elif kind == "random-bytes":
        path.write_bytes(os.urandom(4096))
    elif kind == "directory":
        path.mkdir()
    r = _extract(path, tmp_path)
    _one_line_error(r, "m.pt")
    assert {"zero-byte": "empty", "truncated": "not a readable", "random-bytes": "not a readable",
            "missing": "missing", "directory": "directory"}[kind] in r.output


def test_extract_state_dict_of_another_model(tmp_path):
    torch.save({"w": torch.zeros(3)}, tmp_path / "m.pt")
    _one_line_error(_extract(tmp_path / "m.pt", tmp_path), "m.pt", "does not hold a state_dict")


def test_debug_keeps_the_traceback(tmp_path):
    from genphase.errors import CorruptFileError

    (tmp_path / "m.pt").write_bytes(b"")
    r = CliRunner().invoke(app, ["--debug", "extract", str(tmp_path / "m.pt"), "--samples", "2"])
    assert r.exit_code != 0 and isinstance(r.exception, CorruptFileError)


def test_out_is_a_file_or_read_only(tmp_path, monkeypatch):
    f = tmp_path / "file"
    f.write_text("x")
    _one_line_error(CliRunner().invoke(app, ["run", "digits", "--out", str(f)]), "is a file")
    _one_line_error(CliRunner().invoke(app, ["run", "digits", "--out", str(f / "sub")]), "lies under the file")
    ro = tmp_path / "ro"
    ro.mkdir()
    ro.chmod(0o500)
    try:
        if os.geteuid() == 0:  # root writes anywhere: make the permission check see what a user would
            real = os.access
            monkeypatch.setattr(os, "access", lambda p, mode, **kw: False if str(p) == str(ro) else real(p, mode, **kw))
        _one_line_error(CliRunner().invoke(app, ["run", "digits", "--out", str(ro / "r")]), "permission denied", str(ro))
    finally:
        ro.chmod(0o700)


def test_os_errors_become_one_line(tmp_path, monkeypatch):
    import genphase.pipeline.run as run_mod

    def boom(*a, **k):
        raise PermissionError(13, "Permission denied", str(tmp_path / "x" / ".manifest.json.abc.tmp"))

    monkeypatch.setattr(run_mod, "run", boom)
    _one_line_error(CliRunner().invoke(app, ["run", "digits", "--out", str(tmp_path / "x")]), "Permission denied", "manifest")


def test_corrupt_manifest(tmp_path_factory, tmp_path):
    run_dir = copy_run(tiny_run_dir(tmp_path_factory), tmp_path / "r")
    (run_dir / "manifest.json").write_text('{"stages": {"train')
    _one_line_error(CliRunner().invoke(app, ["run", "digits", "--out", str(run_dir)]), "manifest.json", "not a readable JSON")
    _one_line_error(CliRunner().invoke(app, ["report", str(run_dir)]), "manifest.json")
    v = CliRunner().invoke(app, ["run", "--verify", str(run_dir)])
    assert v.exit_code == 1 and "corrupt" in v.output and "manifest.json" in v.output
    (run_dir / "manifest.json").write_text("[1, 2]")
    _one_line_error(CliRunner().invoke(app, ["run", "digits", "--out", str(run_dir)]), "manifest.json", "not a genphase manifest")


def test_random_bytes_checkpoint_in_a_run(tmp_path_factory, tmp_path):
    from minirun import drop

    run_dir = copy_run(tiny_run_dir(tmp_path_factory), tmp_path / "r")
    drop(run_dir, "interactions/model/epoch_0001.npz", stage="extract")
    (run_dir / "checkpoints" / "model" / "epoch_0001.pt").write_bytes(os.urandom(2048))
    from minirun import TINY

    args = ["run", "digits", *TINY, "--out", str(run_dir), "--no-report"]
    res = CliRunner().invoke(app, args)  # the manifest's hash catches it, and the same command recomputes it
    assert res.exit_code == 0 and "epoch_0001.pt" in res.output and "not the file this run wrote" in res.output
    assert "recomputing train/model" in res.output
    from minirun import rewrite_record

    drop(run_dir, "interactions/model/epoch_0001.npz", stage="extract")
    (run_dir / "checkpoints" / "model" / "epoch_0001.pt").write_bytes(os.urandom(2048))
    rewrite_record(run_dir, "checkpoints/model/epoch_0001.pt")  # past the manifest check: the reader itself
    _one_line_error(CliRunner().invoke(app, args), "epoch_0001.pt", "not a readable torch file", "--verify")


def test_bad_config_values_are_one_line(tmp_path):
    _one_line_error(CliRunner().invoke(app, ["run", "digits", "variables.layout=bogus", "--out", str(tmp_path / "r")]),
                    "variables.layout", "bogus", "random-central")
    bad_yaml = tmp_path / "c.yaml"
    bad_yaml.write_text("data: [unclosed\n")
    _one_line_error(CliRunner().invoke(app, ["run", str(bad_yaml), "--out", str(tmp_path / "r")]), "c.yaml")


def test_no_report_prints_no_report_path(tmp_path, monkeypatch):
    import genphase.pipeline.run as run_mod

    seen = {}

    def fake(cfg, out, *, log, report, threads):
        seen.update(report=report, threads=threads)
        out.mkdir(parents=True)
        return out

    monkeypatch.setattr(run_mod, "run", fake)
    r = CliRunner().invoke(app, ["run", "digits", "--out", str(tmp_path / "r"), "--no-report", "--threads", "1"])
    assert r.exit_code == 0, r.output
    assert seen == {"report": False, "threads": 1}
    assert "report.html" not in r.output and str(tmp_path / "r") in r.output
    r = CliRunner().invoke(app, ["run", "digits", "--out", str(tmp_path / "r2")])
    assert r.output.strip().splitlines()[-1] == str(tmp_path / "r2" / "report.html")
    assert CliRunner().invoke(app, ["run", "digits", "--threads", "0"]).exit_code == 2


def test_thread_count(monkeypatch):
    from genphase.pipeline.run import default_threads, set_threads

    before = torch.get_num_threads()
    try:
        monkeypatch.setenv("OMP_NUM_THREADS", "3")
        assert default_threads() == 3
        monkeypatch.setenv("OMP_NUM_THREADS", "junk")
        monkeypatch.setattr(os, "sched_getaffinity", lambda pid: {0, 5})
        assert default_threads() == 2
        monkeypatch.delenv("OMP_NUM_THREADS")
        assert set_threads() == 2 and torch.get_num_threads() == 2
        assert set_threads(torch.tensor(1)) == 1 and torch.get_num_threads() == 1
        from genphase.errors import ConfigError

        with pytest.raises(ConfigError, match="threads"):
            set_threads(0)
    finally:
        torch.set_num_threads(before)
