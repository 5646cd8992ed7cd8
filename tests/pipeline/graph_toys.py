"""Node functions and graphs for the executor tests (importable by Ray workers: top-level, picklable).

Each function follows the node contract of genphase.pipeline.graph: ``fn(ctx, *args)`` writes every
declared output to ``ctx.output(path)`` and returns a small value.
"""

from __future__ import annotations

import os
import signal
import time
from pathlib import Path

import numpy as np

from genphase.errors import ConfigError
from genphase.pipeline.graph import Graph, Node, Output, Resources

# ---------------------------------------------------------------- numeric stages with seeds


def draw(ctx, seed: int, n: int) -> float:
    """``n`` standard normals from ``seed``."""
    x = np.random.default_rng(seed).normal(size=n)
    np.save(ctx.output(f"draw/{seed}.npy"), x)
    return float(x.sum())


def moments(ctx, seed: int, k: int) -> list[float]:
    """Sums of x**1 .. x**k of one draw."""
    x = np.load(ctx.input(f"draw/{seed}.npy"))
    m = np.array([np.sum(x ** p) for p in range(1, k + 1)])
    np.save(ctx.output(f"moments/{seed}.npy"), m)
    return m.tolist()


def total(ctx, seeds: list[int]) -> list[float]:
    """Moment sums added over all draws."""
    m = sum(np.load(ctx.input(f"moments/{s}.npy")) for s in seeds)
    np.save(ctx.output("total.npy"), m)
    return m.tolist()


def numeric_graph(seeds=(0, 1, 2, 3), n: int = 1000, k: int = 3) -> Graph:
    g = Graph()
    for s in seeds:
        g.add(Node(f"draw/{s}", draw, args=(s, n), outputs=(Output(f"draw/{s}.npy", {"kind": "draw", "seed": s}),)))
        g.add(Node(f"moments/{s}", moments, args=(s, k), deps=(f"draw/{s}",), inputs=(f"draw/{s}.npy",),
                   outputs=(f"moments/{s}.npy",)))
    g.add(Node("total", total, args=(list(seeds),), deps=tuple(f"moments/{s}" for s in seeds),
               inputs=tuple(f"moments/{s}.npy" for s in seeds), outputs=("total.npy",)))
    return g


def numeric_truth(seeds=(0, 1, 2, 3), n: int = 1000, k: int = 3) -> np.ndarray:
    """The total computed directly, without a graph."""
    xs = [np.random.default_rng(s).normal(size=n) for s in seeds]
    return np.array([sum(np.sum(x ** p) for x in xs) for p in range(1, k + 1)])


# ---------------------------------------------------------------- AND-OR extraction in chunks


def planted_games(seed: int, n: int, batch: int) -> np.ndarray:
    """``batch`` sparse AND-OR games on ``n`` variables, built by brute force from random planted terms."""
    rng = np.random.default_rng(seed)
    S = np.arange(1 << n)
    out = np.empty((batch, 1 << n))
    for b in range(batch):
        v = np.full(1 << n, rng.normal())
        for kind in ("and", "or"):
            for T in rng.choice(np.arange(1, 1 << n), 3, replace=False):
                w = rng.uniform(0.5, 2.0) * rng.choice([-1.0, 1.0])
                v += w * (((S & T) == T) if kind == "and" else ((S & T) != 0))
        out[b] = v
    return out


def games(ctx, seed: int, n: int, batch: int) -> None:
    np.save(ctx.output("games.npy"), planted_games(seed, n, batch))


def extract_chunk(ctx, lo: int, hi: int) -> float:
    """AND-OR interactions of games ``lo:hi`` (genphase.extract_and_or), saved as an interactions file."""
    import torch

    import genphase

    torch.set_num_threads(max(1, int(ctx.cpus)))
    values = np.load(ctx.input("games.npy"))[lo:hi]
    res = genphase.extract_and_or(values, solver="admm", tol=1e-6)
    genphase.save_interactions(res, ctx.output(f"interactions/chunk_{lo:03d}.npz"))
    return float(res.gap.max())


def merge_chunks(ctx, los: list[int]) -> int:
    """One array file of all chunks' effects, in sample order."""
    import genphase

    parts = [genphase.load_interactions(ctx.input(f"interactions/chunk_{lo:03d}.npz")) for lo in los]
    np.savez(ctx.output("interactions/all.npz"), **{f: np.concatenate([getattr(p, f) for p in parts])
                                                    for f in ("and_effects", "or_effects", "bias", "noise", "values")})
    return sum(int(np.prod(p.batch_shape)) for p in parts)


def extraction_graph(seed: int = 3, n: int = 4, batch: int = 10, chunk: int = 4) -> Graph:
    g = Graph()
    g.add(Node("games", games, args=(seed, n, batch), outputs=("games.npy",)))
    los = list(range(0, batch, chunk))
    for lo in los:
        g.add(Node(f"extract/{lo}", extract_chunk, args=(lo, min(lo + chunk, batch)), deps=("games",), inputs=("games.npy",),
                   outputs=(Output(f"interactions/chunk_{lo:03d}.npz", {"kind": "interactions", "chunk": lo}),)))
    g.add(Node("merge", merge_chunks, args=(los,), deps=tuple(f"extract/{lo}" for lo in los),
               inputs=tuple(f"interactions/chunk_{lo:03d}.npz" for lo in los), outputs=("interactions/all.npz",)))
    return g


# ---------------------------------------------------------------- faults and bookkeeping


def counted(ctx, log_dir: str, name: str, value: int) -> int:
    """Write ``value``; append one line to ``log_dir/name`` per execution (how often a node ran)."""
    with open(Path(log_dir) / name, "a") as fh:
        fh.write(f"{os.getpid()}\n")
    ctx.output(f"{name}.txt").write_text(str(value))
    return value


def counted_sum(ctx, log_dir: str, name: str, parts: list[str]) -> int:
    with open(Path(log_dir) / name, "a") as fh:
        fh.write(f"{os.getpid()}\n")
    s = sum(int(ctx.input(f"{p}.txt").read_text()) for p in parts)
    ctx.output(f"{name}.txt").write_text(str(s))
    return s


def dies_once(ctx, marker: str, value: int) -> int:
    """First attempt: write half of the output, record the attempt in ``marker``, SIGKILL this worker.
    Later attempts (``marker`` exists) write the whole output."""
    out = ctx.output("survivor.txt")
    payload = ("%d\n" % value) * 1000
    with open(Path(marker).with_suffix(".attempts"), "a") as fh:
        fh.write(f"{os.getpid()}\n")
    if not Path(marker).exists():
        out.write_text(payload[: len(payload) // 2])
        Path(marker).write_text(str(os.getpid()))
        os.kill(os.getpid(), signal.SIGKILL)
    out.write_text(payload)
    return value


def fails(ctx, marker: str | None = None) -> None:
    """Raise a ConfigError (while ``marker`` is absent, when one is given)."""
    if marker is None or not Path(marker).exists():
        raise ConfigError("config key 'toy': planted failure; create the marker file to fix it")
    ctx.output("fixed.txt").write_text("fixed")


def pauses(ctx, marker: str, log_dir: str) -> int:
    """Write half an output, then ``marker``, then sleep (a test kills the driver here) unless the marker exists."""
    with open(Path(log_dir) / "pauser", "a") as fh:
        fh.write(f"{os.getpid()}\n")
    out = ctx.output("paused.txt")
    if not Path(marker).exists():
        out.write_text("half")
        Path(marker).write_text("reached")
        time.sleep(120)
    out.write_text("whole")
    return 1


def no_output(ctx) -> None:
    """Returns without writing its declared output."""


def undeclared(ctx) -> None:
    ctx.output("not-declared.txt").write_text("x")


def assigned(ctx) -> dict:
    """The resources Ray granted this task (empty outside Ray)."""
    ctx.output("assigned.txt").write_text(f"{ctx.transfer} {ctx.run_dir}")
    try:
        import ray

        return dict(ray.get_runtime_context().get_assigned_resources())
    except Exception:  # noqa: BLE001
        return {}


def fault_graph(log_dir: str, marker: str) -> Graph:
    """a, b independent; dies_once depends on a; s sums a and b."""
    g = Graph()
    g.add(Node("a", counted, args=(log_dir, "a", 2), outputs=("a.txt",)))
    g.add(Node("b", counted, args=(log_dir, "b", 5), outputs=("b.txt",)))
    g.add(Node("survivor", dies_once, args=(marker, 7), deps=("a",), outputs=("survivor.txt",)))
    g.add(Node("s", counted_sum, args=(log_dir, "s", ["a", "b"]), deps=("a", "b"), inputs=("a.txt", "b.txt"),
               outputs=("s.txt",), resources=Resources(cpus=0.5)))
    return g


def runs_of(log_dir: str | Path, name: str) -> int:
    """How often node ``name`` of the counted toys ran."""
    p = Path(log_dir) / name
    return len(p.read_text().splitlines()) if p.exists() else 0


def resumes_from_scratch(ctx) -> int:
    """First attempt: leave a state in ctx.scratch and fail; later attempts: finish from that state."""
    state = ctx.scratch / "state.txt"
    if not state.exists():
        state.write_text("41")
        raise ConfigError("config key 'toy': interrupted after saving a state; run again")
    value = int(state.read_text()) + 1
    ctx.output("resumed.txt").write_text(str(value))
    return value


def rendezvous(ctx, me: str, other: str, timeout: float = 60.0) -> float:
    """Leave ``me``, then wait for ``other``: both finish only when they run at the same time."""
    Path(me).write_text("here")
    t0 = time.monotonic()
    while not Path(other).exists():
        if time.monotonic() - t0 > timeout:
            raise TimeoutError(f"{other} never appeared: the two nodes did not run at the same time")
        time.sleep(0.01)
    ctx.output(f"{Path(me).name}.txt").write_text("met")
    return time.monotonic() - t0


def trains(ctx, epochs: int, stop_at: int, marker: str, log_dir: str) -> int:
    """A toy training: checkpoint ``ckpt/E.txt`` after each epoch (committed at once where the executor can),
    its state in ctx.scratch. The first time (no ``marker``) it stops with an error after epoch ``stop_at``."""
    state = ctx.scratch / "state.txt"
    start = int(state.read_text()) if state.exists() else 0
    for e in range(start, epochs):
        with open(Path(log_dir) / "epochs", "a") as fh:
            fh.write(f"{e}\n")
        if not ctx.is_finished(f"ckpt/{e}.txt"):
            ctx.output(f"ckpt/{e}.txt").write_text(str(e * e))
            ctx.commit(f"ckpt/{e}.txt")
        state.write_text(str(e + 1))
        if e == stop_at and not Path(marker).exists():
            Path(marker).write_text("stopped")
            raise ConfigError(f"config key 'toy': stopped after epoch {e}")
    ctx.output("log.txt").write_text(" ".join(str(e * e) for e in range(epochs)))
    return epochs


def training_graph(log_dir: str, marker: str, epochs: int = 5, stop_at: int = 2) -> Graph:
    outs = tuple(Output(f"ckpt/{e}.txt", {"kind": "checkpoint", "epoch": e}) for e in range(epochs)) + ("log.txt",)
    return Graph([Node("train", trains, args=(epochs, stop_at, marker, log_dir), outputs=outs)])


def slow_state(ctx, seconds: float, started: str) -> int:
    """Write a state file in the node's scratch space the way training does (temporary file, then an
    atomic rename) 8 times over ``seconds``, after touching the file ``started``; then the output."""
    from genphase._atomic import atomic_write

    def slow_write(fh, step: int) -> None:  # a large state takes a while to write
        fh.write(str(step).encode())
        time.sleep(seconds / 8)

    Path(started).touch()
    for step in range(8):
        atomic_write(ctx.scratch / "state.txt", lambda fh, s=step: slow_write(fh, s))
    ctx.output("out.txt").write_text("done")
    return 8
