"""Command-line interface: ``genphase run | study | report | extract | presets``.

Errors: every :class:`~genphase.errors.GenphaseError` and every ``OSError`` (and any other
failure) becomes one line ``error: ...`` on stderr and a non-zero exit status (2), never a
traceback; ``genphase --debug COMMAND ...`` (or ``GENPHASE_DEBUG=1``) shows the traceback instead.
Ctrl-C (SIGINT) is one line ``interrupted: ...`` (for ``run`` and ``study``: the work finished so far is
kept and the same command resumes it) and exit status 130 (:data:`INTERRUPTED`).
"""

from __future__ import annotations

import functools
import os
import sys
from pathlib import Path
from typing import Any, Callable, List, Optional

import click
import typer

# OpenMP worker threads that spin while they wait make torch many times slower on a busy machine
# (docs/reliability.md, benchmarks/bench_threads.py); this must be set before torch is imported.
os.environ.setdefault("OMP_WAIT_POLICY", "PASSIVE")

app = typer.Typer(
    add_completion=False,
    no_args_is_help=False,
    rich_markup_mode="rich",
    pretty_exceptions_enable=False,
    help=(
        "genphase measures how the generalization power of a DNN's AND-OR interactions changes through "
        "training (rises, falls, stays low: the three phases).\n\n"
        "Start with [bold]genphase run[/bold] (the embedded digits default, a few minutes on a 2-core CPU: the README "
        "times it) and open RUN_DIR/report.html. [bold]genphase presets[/bold] lists the other studies; "
        "[bold]genphase study PRESET --seeds 0 1 2[/bold] scores the recommended stop on held-out data over seeds."
    ),
)

_STATE: dict[str, Any] = {"debug": False, "on_interrupt": None}

#: Exit status of a command stopped by Ctrl-C (SIGINT), as a shell reports it: 128 + signal number 2.
INTERRUPTED = 130


def _print_version(value: bool) -> None:
    if value:
        from . import __version__

        typer.echo(f"genphase {__version__}")
        raise typer.Exit()


@app.callback()
def _main(
    debug: bool = typer.Option(False, "--debug", help="Show the full traceback of an error instead of a one-line message."),
    version: bool = typer.Option(False, "--version", callback=_print_version, is_eager=True,
                                 help="Print genphase's version (the installed package's) and exit."),
) -> None:
    _STATE["debug"] = debug or os.environ.get("GENPHASE_DEBUG", "") not in ("", "0")
    _STATE["on_interrupt"] = None


def _console():
    from rich.console import Console

    return Console(stderr=True)


def _one_line(exc: BaseException) -> str:
    text = " ".join(str(exc).split())
    return text or type(exc).__name__


def _fail(exc: BaseException) -> None:
    from rich.markup import escape

    from .errors import GenphaseError

    known = isinstance(exc, (GenphaseError, OSError, FloatingPointError))
    what = "" if known else f"{type(exc).__name__}: "
    hint = "" if known else " (unexpected: rerun with `genphase --debug ...` for the traceback and report it)"
    _console().print(f"[bold red]error:[/bold red] {escape(what + _one_line(exc) + hint)}", soft_wrap=True, highlight=False)
    raise typer.Exit(code=2)


def _from_interrupt(exc: BaseException) -> bool:
    """Whether ``exc`` was raised because of a KeyboardInterrupt (one in its chain of causes and contexts).

    >>> try:
    ...     try:
    ...         raise KeyboardInterrupt
    ...     except KeyboardInterrupt as ki:
    ...         raise RuntimeError("Error calling __set_name__") from ki
    ... except RuntimeError as err:
    ...     _from_interrupt(err), _from_interrupt(ValueError("x"))
    (True, False)
    """
    seen: set[int] = set()
    cur: BaseException | None = exc
    while cur is not None and id(cur) not in seen:
        if isinstance(cur, KeyboardInterrupt):
            return True
        seen.add(id(cur))
        cur = cur.__cause__ or cur.__context__
    return False


def _interrupted() -> None:
    """Ctrl-C: one line on stderr (what stopped, and how to resume where that applies) and exit status 130."""
    from rich.markup import escape

    what = _STATE["on_interrupt"] or "stopped by Ctrl-C"
    _console().print(f"[bold yellow]interrupted:[/bold yellow] {escape(what)}", soft_wrap=True, highlight=False)
    # CPython flags an interrupt that leaves code run by exec() on a string (dataclasses build their methods so,
    # e.g. in a module imported lazily mid-run) as unhandled, even once it is caught, and then ends the process
    # with SIGINT instead of our status (seen in 1 of 5 interrupted runs). exec() of a string clears that flag.
    exec("pass")  # noqa: S102 - a constant string, run only to clear the flag
    raise typer.Exit(code=INTERRUPTED)


def _guarded(fn: Callable[..., Any]) -> Callable[..., Any]:
    """Run a command; turn any failure into one line and exit status 2 (``--debug``: re-raise)."""

    @functools.wraps(fn)
    def wrapper(*args: Any, **kwargs: Any) -> Any:
        try:
            return fn(*args, **kwargs)
        except (typer.Exit, typer.Abort, click.ClickException):
            raise
        except KeyboardInterrupt:
            if _STATE["debug"]:
                raise
            _interrupted()
        except Exception as exc:  # noqa: BLE001 - the one error path of the CLI
            if _STATE["debug"]:
                raise
            if _from_interrupt(exc):  # Ctrl-C inside code that wraps it (class creation: "Error calling __set_name__")
                _interrupted()
            _fail(exc)

    return wrapper


def _executor_option() -> Any:
    return typer.Option(None, "--executor", help="local (this process, the default) or ray (Ray tasks; see "
                                                 "docs/scaling.md). Overrides the config key 'executor'.")


def _ray_address_option() -> Any:
    return typer.Option(None, "--ray-address", help="Ray cluster to join (HOST:6379 or ray://HOST:10001; default "
                                                    "$RAY_ADDRESS, else a local Ray instance). Needs --executor ray.")


def _shared_path_option() -> Any:
    return typer.Option(None, "--shared-path", help="A directory every Ray machine mounts at the same path (the run "
                                                    "directory must be inside it): files travel through it instead of "
                                                    "Ray's object store. Needs --executor ray.")


@app.command()
@_guarded
def run(
    preset_or_config: str = typer.Argument("digits", help="A preset name (see `genphase presets`) or a YAML config file."),
    overrides: Optional[List[str]] = typer.Argument(None, help="Overrides like training.epochs=10 variables.n=8."),
    out: Optional[Path] = typer.Option(None, "--out", "-o", help="Run directory (default: runs/<preset>)."),
    quick: bool = typer.Option(False, "--quick", help="The preset's quick setting (a 2-core CPU finishes it in minutes)."),
    device: Optional[str] = typer.Option(None, help="cpu, cuda, cuda:1 or auto (overrides the config)."),
    no_report: bool = typer.Option(False, "--no-report", help="Skip building report.html."),
    threads: Optional[int] = typer.Option(
        None, "--threads", min=1,
        help="Torch CPU threads of every stage (default: config key execution.threads, 1). The same count gives "
             "the same numbers on every executor and machine; see docs/run-directory.md, 'Determinism'."),
    executor: Optional[str] = _executor_option(),
    ray_address: Optional[str] = _ray_address_option(),
    shared_path: Optional[Path] = _shared_path_option(),
    verify: Optional[Path] = typer.Option(
        None, "--verify", metavar="RUN_DIR",
        help="Check a run directory instead of running: report every file that is missing, corrupt or foreign "
             "(exit status 1 if any; unfinished stages and leftover temporary files are only listed)."),
) -> None:
    """Train with checkpoints, train K baselines on the test split, extract interactions, analyse and report.

    Running the same command again resumes: finished work is not redone, and every finished file is
    checked against the manifest before it is used. Example:

        genphase run fashion-mnist-lenet training.epochs=40 --out runs/fm
    \f
    (``--help`` stops at the form feed above: the examples below are for the docs and doctests.)
    A bad preset is one line on stderr and exit status 2; ``--verify`` lists what a directory lacks:

    >>> import tempfile
    >>> from typer.testing import CliRunner
    >>> res = CliRunner().invoke(app, ["run", "nope"])
    >>> res.exit_code, res.stderr
    (2, "error: 'nope' is neither a preset (digits, ...) nor an existing config file\\n")
    >>> with tempfile.TemporaryDirectory() as tmp:
    ...     res = CliRunner().invoke(app, ["run", "--verify", tmp])
    >>> res.exit_code, res.stdout.endswith(": 1 missing\\n"), res.stderr.split()[:2]
    (1, True, ['missing', 'manifest.json:'])
    """
    if verify is not None:
        _verify(verify)
        return
    from .pipeline.config import load_config
    from .pipeline.driver import with_execution
    from .pipeline.run import run as run_job

    ov = list(overrides or [])
    if device:
        ov.append(f"device={device}")
    cfg = with_execution(load_config(preset_or_config, ov, quick=quick), executor, ray_address,
                         None if shared_path is None else str(shared_path))
    name = Path(preset_or_config).stem if preset_or_config.endswith((".yaml", ".yml")) else preset_or_config
    target = out or Path("runs") / (name + ("-quick" if quick else ""))
    _STATE["on_interrupt"] = (f"the run stopped (Ctrl-C); the work it finished in {target} is kept: run the same "
                              "command again to resume it")
    console = _console()
    from rich.markup import escape

    root = run_job(cfg, target, log=lambda msg: console.print(escape(msg), highlight=False, soft_wrap=True), report=not no_report, threads=threads)
    report_path = Path(root) / "report.html"
    if no_report:
        console.print(f"report skipped (--no-report); build it with `genphase report {escape(str(root))}`", highlight=False)
        typer.echo(str(root))
    else:
        typer.echo(str(report_path))


@app.command()
@_guarded
def study(
    preset_or_config: str = typer.Argument(..., help="A preset name (see `genphase presets`) or a YAML config file."),
    overrides: Optional[List[str]] = typer.Argument(
        None, help="Overrides like training.epochs=10 (bare integers after --seeds are more seeds)."),
    seeds: Optional[List[str]] = typer.Option(
        None, "--seeds", help="Seeds to run, e.g. --seeds 0 1 2 (seed 0 is the preset itself)."),
    quick: bool = typer.Option(False, "--quick", help="The preset's quick setting."),
    out: Optional[Path] = typer.Option(None, "--out", "-o", help="Study directory (default: runs/study-<preset>[-quick])."),
    patience: int = typer.Option(3, "--patience", min=1,
                                 help="Patience (checkpoints) of the validation early stopping the interaction stop is "
                                      "compared with."),
    device: Optional[str] = typer.Option(None, help="cpu, cuda, cuda:1 or auto (overrides the config)."),
    no_report: bool = typer.Option(False, "--no-report", help="Skip every report.html and study.html."),
    threads: Optional[int] = typer.Option(None, "--threads", min=1, help="Torch CPU threads (default as for `genphase run`)."),
    executor: Optional[str] = _executor_option(),
    ray_address: Optional[str] = _ray_address_option(),
    shared_path: Optional[Path] = _shared_path_option(),
    vary: str = typer.Option("all", "--vary", help="Which randomness the seeds change: all (every seed of the "
                             "configuration), model (initialisation, batch order), baselines, or samples (which are "
                             "explained)."),
    sweep_spec: Optional[str] = typer.Option(None, "--sweep", help="One config key and its values, e.g. "
                                             "--sweep interactions.tau=0.02,0.05,0.1: one study per value (DIR/KEY=V/) "
                                             "and DIR/sweep.parquet."),
) -> None:
    """Run a preset once per seed and score its interaction-based stop on held-out data.

    Each seed is a normal, resumable run directory DIR/seed_<s>/ (every seed of the configuration is
    shifted by s: data split and label noise, training, baselines, explained samples, variables,
    bootstrap; --vary model|baselines|samples shifts only that source). Writes DIR/study.parquet (one row per
    seed: phases, stop, regret against validation early stopping), DIR/replication.json (how far the boundaries
    move between seeds) and DIR/study.html (the per-seed curves overlaid). Example:

        genphase study digits --seeds 0 1 2 --vary model
        genphase study digits --seeds 0 1 2 --sweep interactions.tau=0.02,0.05,0.1
    \f
    (``--help`` stops at the form feed above.) Seeds are checked before anything runs:

    >>> from typer.testing import CliRunner
    >>> res = CliRunner().invoke(app, ["study", "digits", "0", "1"])
    >>> res.exit_code, res.stderr
    (2, 'error: 0 1: seeds go after --seeds, e.g. --seeds 0 1 2\\n')
    >>> CliRunner().invoke(app, ["study", "digits", "--seeds", "0", "0"]).stderr
    'error: --seeds: seed(s) [0] given twice; ...\\n'
    """
    from .errors import ConfigError
    from .pipeline.study import check_seeds, check_sweep, check_vary
    from .pipeline.study import study as run_study
    from .pipeline.study import sweep as run_sweep

    check_vary(vary)

    rest = list(overrides or [])
    extra = [x for x in rest if x.strip().lstrip("-").isdigit() and "=" not in x]
    ov = [x for x in rest if x not in extra]
    if extra and not seeds:
        raise ConfigError(f"{' '.join(extra)}: seeds go after --seeds, e.g. --seeds 0 1 2")
    all_seeds = check_seeds(list(seeds or []) + extra)
    if device:
        ov.append(f"device={device}")
    name = Path(preset_or_config).stem if preset_or_config.endswith((".yaml", ".yml")) else preset_or_config
    where = out or Path("runs") / f"study-{name}{'-quick' if quick else ''}"  # study()'s default
    _STATE["on_interrupt"] = (f"the study stopped (Ctrl-C); the work it finished in {where} is kept: run the same "
                              "command again to resume it")
    console = _console()
    from rich.markup import escape

    kw = dict(quick=quick, out=out, overrides=ov, patience=patience,
              log=lambda msg: console.print(escape(msg), highlight=False, soft_wrap=True), report=not no_report,
              threads=threads, executor=executor, ray_address=ray_address, shared_path=shared_path, vary=vary)
    if sweep_spec is not None:
        check_sweep(sweep_spec, preset_or_config, ov, quick)  # every value checked before anything trains
        root = run_sweep(preset_or_config, all_seeds, sweep_spec, **kw)
        typer.echo(str(Path(root) / "sweep.parquet"))
        return
    root = run_study(preset_or_config, all_seeds, **kw)
    typer.echo(str(Path(root) / ("study.parquet" if no_report else "study.html")))


def _verify(run_dir: Path) -> None:
    from rich.markup import escape

    from .pipeline.integrity import summarize, verify_run

    findings = verify_run(run_dir)
    console = _console()
    bad = [f for f in findings if f.status not in ("ok", "pending", "orphan")]
    for f in findings:
        if f.status != "ok":
            colour = {"pending": "yellow", "orphan": "yellow"}.get(f.status, "red")
            console.print(f"[{colour}]{f.status:8s}[/{colour}] {escape(f.path)}: {escape(' '.join(f.detail.split()))}",
                          soft_wrap=True, highlight=False)
    typer.echo(f"{run_dir}: {summarize(findings)}")
    if bad:
        raise typer.Exit(code=1)


@app.command()
@_guarded
def report(run_dir: Path = typer.Argument(..., help="A run directory written by `genphase run`.")) -> None:
    """(Re)build RUN_DIR/report.html and RUN_DIR/figures/ from the run's tables.

    Each metric table is first checked against the hash manifest.json recorded for it: a table edited
    after the run is marked in red on the page and named in one warning line here.\f

    (``--help`` stops at the form feed above.) A directory without a finished analysis is refused:

    >>> import tempfile
    >>> from typer.testing import CliRunner
    >>> with tempfile.TemporaryDirectory() as tmp:
    ...     res = CliRunner().invoke(app, ["report", tmp])
    >>> res.exit_code, res.stderr
    (2, "error: '...' has no finished analysis (manifest stage 'analysis'); run or resume it with ...")
    >>> with tempfile.NamedTemporaryFile(suffix=".html") as page:  # a file, not a directory
    ...     CliRunner().invoke(app, ["report", page.name]).stderr
    "error: '....html' is a file, not a run directory; pass the directory a run wrote ...`genphase report DIR`\\n"
    """
    from .errors import RunDirectoryError
    from .report import build_report
    from .rundir.files import read_json

    if run_dir.is_file():
        holder = next((p for p in run_dir.parents if (p / "manifest.json").is_file()), None)
        fix = (f"pass the run directory that holds it: `genphase report {holder}`" if holder is not None else
               "pass the directory a run wrote (`genphase run ... --out DIR`; it holds manifest.json): "
               "`genphase report DIR`")
        raise RunDirectoryError(f"{str(run_dir)!r} is a file, not a run directory; {fix}")
    if not run_dir.exists():
        raise RunDirectoryError(f"{str(run_dir)!r} does not exist; pass the directory a run wrote "
                                "(`genphase run ... --out DIR`): `genphase report DIR`")
    manifest = run_dir / "manifest.json"
    man = read_json(manifest, fix=f"check the directory with `genphase run --verify {run_dir}`") if manifest.exists() else {}
    stages = man.get("stages", {}) if isinstance(man, dict) else {}
    if stages.get("analysis") != "done":
        raise RunDirectoryError(
            f"{str(run_dir)!r} has no finished analysis (manifest stage 'analysis'); run or resume it with "
            f"`genphase run <preset or config> --out {run_dir}` first")
    console = _console()
    from rich.markup import escape

    from .rundir import RunLock

    def warn(line: str) -> None:  # one line per table that differs from the run's record
        console.print(f"[bold red]warning:[/bold red] {escape(line)}", soft_wrap=True, highlight=False)

    with RunLock(run_dir, f"genphase report {run_dir}"):  # not while a run writes the tables
        page = build_report(run_dir, warn=warn)
    typer.echo(str(page))


@app.command()
@_guarded
def extract(
    checkpoint: Path = typer.Argument(
        ..., help="A state_dict (.pt) of a model built by the preset/config (a whole pickled nn.Module needs --trust-pickle)."),
    preset_or_config: str = typer.Option("digits", "--config", "-c", help="Preset or YAML config naming data, model and variables."),
    overrides: Optional[List[str]] = typer.Argument(None, help="Config overrides (key=value)."),
    split: str = typer.Option("test", help="train or test (the reference split of a run): which split the samples come from."),
    samples: int = typer.Option(16, help="Number of samples to explain."),
    out: Path = typer.Option(Path("interactions.npz"), "--out", "-o", help="Output .npz (AndOrInteractions)."),
    device: Optional[str] = typer.Option(None, help="cpu, cuda or auto."),
    quick: bool = typer.Option(False, "--quick", help="Use the preset's quick setting (as the run that made the checkpoint)."),
    trust_pickle: bool = typer.Option(
        False, "--trust-pickle",
        help="Also accept a whole pickled nn.Module. RISK: unpickling runs code stored in the file, so a malicious "
             "checkpoint can do anything your user account can; use only files you made or whose author you trust. "
             "Without it only tensors and plain data are read and pickled code never runs."),
    threads: Optional[int] = typer.Option(None, "--threads", min=1, help="Torch CPU threads (default as for `genphase run`)."),
) -> None:
    """Extract AND-OR interactions of one model checkpoint on chosen samples (for your own training loops).\f

    (``--help`` stops at the form feed above.) Bad options and missing files are one line on stderr:

    >>> from typer.testing import CliRunner
    >>> CliRunner().invoke(app, ["extract", "model.pt", "--split", "valid"]).stderr
    "error: --split must be train or test, got 'valid'\\n"
    >>> res = CliRunner().invoke(app, ["extract", "no-such-file.pt", "--config", "breast-cancer-mlp", "--samples", "4"])
    >>> res.exit_code, res.stderr
    (2, "error: 'no-such-file.pt' is missing (expected a torch file (.pt)); check the path, or write the file again\\n")
    """
    import numpy as np
    import torch

    from .errors import ConfigError, CorruptFileError
    from .extraction import extract as extract_interactions
    from .io import load_checkpoint, save_interactions
    from .pipeline.config import load_config
    from .pipeline.data import load_data, pick_samples
    from .pipeline.devices import resolve_device, set_threads
    from .pipeline.modality import make_modality
    from .pipeline.models import _apply_state, build_model_for, run_tokenizer

    # no bootstrap here (one checkpoint, no phases): the explained-sample floor of the phase analysis does not apply
    ov = list(overrides or []) + [f"explain.samples={samples}", "analysis.n_resamples=0"] + (
        [f"device={device}"] if device else [])
    if split not in ("train", "test"):
        raise ConfigError(f"--split must be train or test, got {split!r}")
    cfg = load_config(preset_or_config, ov, quick=quick)
    set_threads(threads)
    ds = load_data(cfg)
    dev = resolve_device(cfg.device)
    fix = "pass a state_dict saved with torch.save(model.state_dict(), path) by a model of this preset/config"
    obj = load_checkpoint(checkpoint, map_location=dev, trust_pickle=trust_pickle)
    if isinstance(obj, torch.nn.Module):
        model = obj
    elif isinstance(obj, dict):
        # a bert-scratch checkpoint needs its run's tokenizer (RUN_DIR/checkpoints/tokenizer)
        from .rundir import TOKENIZER_DIR

        root = next((p for p in checkpoint.resolve().parents if (p / TOKENIZER_DIR).is_dir()), None)
        tok = run_tokenizer(cfg, ds, root)
        model = _apply_state(build_model_for(cfg, ds, seed=cfg.training.seed, tokenizer=tok), obj, checkpoint, dev, fix)
    else:
        raise CorruptFileError(f"{str(checkpoint)!r} holds a {type(obj).__name__}, not a state_dict; {fix}", checkpoint)
    model = model.to(dev).eval()
    x, y = (ds.x_train, ds.y_train) if split == "train" else (ds.x_test, ds.y_test)
    task = make_modality(ds.modality, cfg)
    idx = pick_samples(x, samples, seed=cfg.explain.seed, selection=cfg.explain.selection,
                       usable=task.usable(model), what="reference (test) split" if split == "test" else "train split")
    xs = [x[i] for i in idx] if isinstance(x, list) else np.asarray(x)[idx]
    masker, inputs, info = task.masker_and_inputs(model, ds, xs)
    res = extract_interactions(model, inputs, torch.as_tensor(y[idx]), masker, cfg.interactions, variables=info["names"],
                               metadata={"dataset_index": idx.tolist(), "split": split, "checkpoint": str(checkpoint)},
                               progress=True).interactions
    path = save_interactions(res, out)
    typer.echo(f"{path}: {res}")


@app.command()
@_guarded
def presets() -> None:
    """List the presets of `genphase run`, one line each.\f

    >>> from typer.testing import CliRunner
    >>> res = CliRunner().invoke(app, ["presets"])
    >>> res.exit_code, res.stdout.split()[:3]  # a header row, then one row per preset
    (0, ['preset', 'what', 'it'])
    >>> "breast-cancer-mlp" in res.stdout
    True
    """
    from rich.console import Console
    from rich.table import Table

    from .pipeline.presets import preset_descriptions

    table = Table("preset", "what it runs", box=None)
    for name, about in preset_descriptions().items():
        table.add_row(name, about)
    Console().print(table)


def main() -> None:
    """Entry point of the ``genphase`` console script (it parses ``sys.argv`` and exits).

    >>> import contextlib, io
    >>> from unittest import mock
    >>> with mock.patch.object(sys, "argv", ["genphase", "presets"]), contextlib.redirect_stdout(io.StringIO()) as buf:
    ...     try:
    ...         main()
    ...     except SystemExit as exc:
    ...         code = exc.code
    >>> code, "digits" in buf.getvalue()
    (0, True)
    """
    app()


if __name__ == "__main__":  # pragma: no cover
    sys.exit(main())
