"""One progress bar on the driver for a whole graph: tasks done, running and failed, across all workers."""

from __future__ import annotations

from typing import Any

__all__ = ["GraphProgress"]


class GraphProgress:
    """Counts of a graph's tasks, drawn as one rich progress bar on stderr.

    ``total`` is the number of tasks this invocation will run; ``skipped`` those already finished
    (shown, not counted in the bar). ``running`` counts tasks handed to the executor and not yet
    back (with Ray some may still wait for a free worker). ``enabled=None`` draws the bar only when
    stderr is a terminal, so tests and logs stay quiet; ``console`` replaces rich's stderr console.

    >>> p = GraphProgress(3, enabled=False)
    >>> p.started("a"); p.finished("a"); p.started("b"); p.failed("b")
    >>> p.counts
    {'total': 3, 'done': 1, 'running': 0, 'failed': 1, 'blocked': 0, 'skipped': 0}
    >>> p.close()
    """

    def __init__(self, total: int, *, skipped: int = 0, enabled: bool | None = None, console: Any = None,
                 description: str = "tasks"):
        self.total, self.skipped = int(total), int(skipped)
        self.done = self.running = self.n_failed = self.blocked = 0
        self.description = description
        self._progress = None
        self._task = None
        if enabled is None or enabled:
            from rich.console import Console

            console = console if console is not None else Console(stderr=True)
            enabled = console.is_terminal if enabled is None else True
        if enabled and self.total > 0:
            from rich.progress import BarColumn, MofNCompleteColumn, Progress, TextColumn, TimeElapsedColumn

            self._progress = Progress(TextColumn("{task.description}"), BarColumn(), MofNCompleteColumn(),
                                      TextColumn("{task.fields[stats]}"), TimeElapsedColumn(), console=console)
            self._task = self._progress.add_task(description, total=self.total, stats=self._stats())
            self._progress.start()

    @property
    def counts(self) -> dict[str, int]:
        return {"total": self.total, "done": self.done, "running": self.running, "failed": self.n_failed,
                "blocked": self.blocked, "skipped": self.skipped}

    def _stats(self) -> str:
        parts = [f"{self.done} done", f"{self.running} running", f"{self.n_failed} failed"]
        if self.blocked:
            parts.append(f"{self.blocked} blocked")
        if self.skipped:
            parts.append(f"{self.skipped} already finished")
        return ", ".join(parts)

    def _refresh(self) -> None:
        if self._progress is not None:
            self._progress.update(self._task, completed=self.done + self.n_failed + self.blocked, stats=self._stats())

    def started(self, node_id: str) -> None:
        self.running += 1
        self._refresh()

    def finished(self, node_id: str) -> None:
        self.running -= 1
        self.done += 1
        self._refresh()

    def failed(self, node_id: str) -> None:
        self.running -= 1
        self.n_failed += 1
        self._refresh()

    def block(self, n: int) -> None:
        """``n`` tasks will not run (a dependency failed, or the run stops after a failure)."""
        self.blocked += n
        self._refresh()

    def print(self, message: str) -> None:
        """Print a line above the bar (or nothing when the bar is off)."""
        if self._progress is not None:
            self._progress.console.print(message, markup=False, highlight=False)

    def close(self) -> None:
        if self._progress is not None:
            self._refresh()
            self._progress.stop()
            self._progress = None
