"""Command-line interface: ``genphase run | report | extract | presets``."""

from __future__ import annotations

import sys
from pathlib import Path
from typing import List, Optional

import typer

app = typer.Typer(
    add_completion=False,
    no_args_is_help=False,
    rich_markup_mode="rich",
    help=(
        "genphase measures how the generalization power of a DNN's AND-OR interactions changes through "
        "training (rises, falls, stays low: the three phases).\n\n"
        "Start with [bold]genphase run[/bold] (the embedded digits default, ~3 min on a CPU) and open "
        "RUN_DIR/report.html. [bold]genphase presets[/bold] lists the other studies."
    ),
)


def _console():
    from rich.console import Console

    return Console(stderr=True)


def _fail(exc: Exception) -> None:
    _console().print(f"[bold red]error:[/bold red] {exc}")
    raise typer.Exit(code=2)


@app.command()
def run(
    preset_or_config: str = typer.Argument("digits", help="A preset name (see `genphase presets`) or a YAML config file."),
    overrides: Optional[List[str]] = typer.Argument(None, help="Overrides like training.epochs=10 variables.n=8."),
    out: Optional[Path] = typer.Option(None, "--out", "-o", help="Run directory (default: runs/<preset>)."),
    quick: bool = typer.Option(False, "--quick", help="The preset's quick setting (a 2-core CPU finishes it in minutes)."),
    device: Optional[str] = typer.Option(None, help="cpu, cuda, cuda:1 or auto (overrides the config)."),
    no_report: bool = typer.Option(False, "--no-report", help="Skip building report.html."),
) -> None:
    """Train with checkpoints, train K baselines on the test split, extract interactions, analyse and report.

    Running the same command again resumes: finished work is not redone. Example:

        genphase run fashion-mnist-lenet training.epochs=40 --out runs/fm
    """
    from .errors import GenphaseError
    from .pipeline.config import load_config
    from .pipeline.run import run as run_job

    ov = list(overrides or [])
    if device:
        ov.append(f"device={device}")
    try:
        cfg = load_config(preset_or_config, ov, quick=quick)
        name = Path(preset_or_config).stem if preset_or_config.endswith((".yaml", ".yml")) else preset_or_config
        target = out or Path("runs") / (name + ("-quick" if quick else ""))
        console = _console()
        run_job(cfg, target, log=lambda msg: console.print(msg), report=not no_report)
    except GenphaseError as exc:
        _fail(exc)
    typer.echo(str(Path(target) / "report.html"))


@app.command()
def report(run_dir: Path = typer.Argument(..., help="A run directory written by `genphase run`.")) -> None:
    """(Re)build RUN_DIR/report.html and RUN_DIR/figures/ from the run's tables."""
    from .errors import GenphaseError
    from .report import build_report

    import json

    manifest = run_dir / "manifest.json"
    stages = json.loads(manifest.read_text()).get("stages", {}) if manifest.exists() else {}
    if stages.get("analysis") != "done":
        _fail(FileNotFoundError(
            f"{str(run_dir)!r} has no finished analysis (manifest stage 'analysis'); run or resume it with "
            f"`genphase run <preset or config> --out {run_dir}` first"))
    try:
        path = build_report(run_dir)
    except GenphaseError as exc:
        _fail(exc)
    typer.echo(str(path))


@app.command()
def extract(
    checkpoint: Path = typer.Argument(..., help="A state_dict (.pt) of a model built by the preset/config, or a whole pickled nn.Module."),
    preset_or_config: str = typer.Option("digits", "--config", "-c", help="Preset or YAML config naming data, model and variables."),
    overrides: Optional[List[str]] = typer.Argument(None, help="Config overrides (key=value)."),
    split: str = typer.Option("test", help="train or test: which split the samples come from."),
    samples: int = typer.Option(16, help="Number of samples to explain."),
    out: Path = typer.Option(Path("interactions.npz"), "--out", "-o", help="Output .npz (AndOrInteractions)."),
    device: Optional[str] = typer.Option(None, help="cpu, cuda or auto."),
    quick: bool = typer.Option(False, "--quick", help="Use the preset's quick setting (as the run that made the checkpoint)."),
) -> None:
    """Extract AND-OR interactions of one model checkpoint on chosen samples (for your own training loops)."""
    import numpy as np
    import torch

    from .errors import GenphaseError
    from .io import save_interactions
    from .masked_outputs import explain
    from .pipeline.config import load_config
    from .pipeline.run import build_model_for, load_data, pick_samples, resolve_device, run_tokenizer
    from .pipeline.tasks import make_task

    ov = list(overrides or []) + [f"explain.samples={samples}"] + ([f"device={device}"] if device else [])
    try:
        if split not in ("train", "test"):
            raise ValueError(f"--split must be train or test, got {split!r}")
        cfg = load_config(preset_or_config, ov, quick=quick)
        ds = load_data(cfg)
        dev = resolve_device(cfg.device)
        obj = torch.load(checkpoint, map_location=dev, weights_only=False)
        if isinstance(obj, torch.nn.Module):
            model = obj
        else:
            # a bert-scratch checkpoint needs its run's tokenizer (RUN_DIR/checkpoints/tokenizer)
            root = next((p for p in checkpoint.resolve().parents if (p / "checkpoints" / "tokenizer").is_dir()), None)
            tok = run_tokenizer(cfg, ds, root)
            model = build_model_for(cfg, ds, seed=cfg.training.seed, tokenizer=tok)
            model.load_state_dict(obj)
        model = model.to(dev).eval()
        x, y = (ds.x_train, ds.y_train) if split == "train" else (ds.x_test, ds.y_test)
        task = make_task(ds.modality, cfg)
        idx = pick_samples(x, samples, seed=cfg.explain.seed, selection=cfg.explain.selection,
                           usable=task.usable(model), what=f"{split} split")
        xs = [x[i] for i in idx] if isinstance(x, list) else np.asarray(x)[idx]
        masker, inputs, info = task.masker_and_inputs(model, ds, xs)
        ic = cfg.interactions
        res = explain(model, inputs, torch.as_tensor(y[idx]), masker, value_fn=ic.value_function, noise_bound=ic.noise_bound,
                      chunk_size=ic.chunk_size, solver=ic.solver, tol=ic.tol, variables=info["names"],
                      metadata={"dataset_index": idx.tolist(), "split": split, "checkpoint": str(checkpoint)}, progress=True)
        path = save_interactions(res, out)
    except (GenphaseError, ValueError, FileNotFoundError, RuntimeError) as exc:
        _fail(exc)
    typer.echo(f"{path}: {res}")


@app.command()
def presets() -> None:
    """List the presets of `genphase run`, one line each."""
    from rich.console import Console
    from rich.table import Table

    from .pipeline.presets import preset_descriptions

    table = Table("preset", "what it runs", box=None)
    for name, about in preset_descriptions().items():
        table.add_row(name, about)
    Console().print(table)


def main() -> None:
    """Entry point of the ``genphase`` console script."""
    app()


if __name__ == "__main__":  # pragma: no cover
    sys.exit(main())
