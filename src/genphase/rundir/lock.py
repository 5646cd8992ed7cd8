"""One writer per run directory: ``RUN/.lock``, held by the process that runs or reports on it.

The lock file holds its holder (PID, host, since when, the command) and is locked with ``flock`` while the
holder lives: the kernel releases it when the process dies, however it dies (SIGKILL included), so a
lock left by a dead process on this machine is taken over by the next one without asking anybody. A
second process that finds the lock held is refused at once with a message naming the holder.

On a file system that does not share ``flock`` between machines (some NFS set-ups), a holder on another
host cannot be seen alive or dead: its lock is respected until it is released, and the message says
how to remove it when that host's process is known to be gone.

>>> import tempfile
>>> root = tempfile.mkdtemp()
>>> with RunLock(root, "genphase run digits"):
...     RunLock(root, "genphase report").acquire()
Traceback (most recent call last):
...
genphase.errors.RunDirectoryError: run directory '...' is in use by PID ... on ... since ... (genphase run digits); ...
>>> (Path(root) / LOCK_FILE).exists()  # released: the file is gone
False
"""

from __future__ import annotations

import json
import os
import socket
import time
from pathlib import Path
from typing import Any

from ..errors import RunDirectoryError

__all__ = ["LOCK_FILE", "RunLock"]

#: The lock file, directly under the run directory.
LOCK_FILE = ".lock"


class RunLock:
    """The lock of run directory ``root`` (created if missing), for ``command`` (said to a refused second process).

    Use as a context manager, or :meth:`acquire` / :meth:`release`. :meth:`acquire` raises
    :class:`~genphase.errors.RunDirectoryError` when another live process holds it.

    >>> import tempfile
    >>> lock = RunLock(tempfile.mkdtemp(), "genphase run").acquire()
    >>> lock.holder()["pid"] == os.getpid()
    True
    >>> lock.release()
    """

    def __init__(self, root: str | os.PathLike, command: str = "genphase") -> None:
        self.root = Path(root)
        self.path = self.root / LOCK_FILE
        self.command = command
        self._fd: int | None = None

    def holder(self) -> dict[str, Any]:
        """What the lock file says of its holder (empty when it says nothing readable)."""
        try:
            info = json.loads(self.path.read_text(encoding="utf-8") or "{}")
        except (OSError, ValueError):
            return {}
        return info if isinstance(info, dict) else {}

    def acquire(self) -> "RunLock":
        """Take the lock, or raise :class:`~genphase.errors.RunDirectoryError` naming the live holder."""
        import fcntl

        if self._fd is not None:
            return self
        self.root.mkdir(parents=True, exist_ok=True)
        while True:
            fd = os.open(self.path, os.O_RDWR | os.O_CREAT, 0o644)
            try:
                fcntl.flock(fd, fcntl.LOCK_EX | fcntl.LOCK_NB)
            except OSError:
                os.close(fd)
                raise RunDirectoryError(self._refusal(self.holder())) from None
            try:  # a holder that released between our open and flock removed the file we locked: again
                if os.fstat(fd).st_ino == os.stat(self.path).st_ino:
                    break
            except FileNotFoundError:
                pass
            os.close(fd)
        info = self.holder()
        here = socket.gethostname()
        if info.get("host") not in (None, here) and not _released(info):
            # a holder on another machine: flock may not reach across hosts, so its word is respected
            fcntl.flock(fd, fcntl.LOCK_UN)
            os.close(fd)
            raise RunDirectoryError(self._refusal(info, remote=True))
        record = {"pid": os.getpid(), "host": here, "since": time.strftime("%Y-%m-%d %H:%M:%S %Z"),
                  "command": self.command}
        os.ftruncate(fd, 0)
        os.write(fd, json.dumps(record).encode())
        os.fsync(fd)
        self._fd = fd
        return self

    def release(self) -> None:
        """Give the lock back and remove the lock file (a second call does nothing)."""
        import fcntl

        if self._fd is None:
            return
        try:
            self.path.unlink(missing_ok=True)
        finally:
            fcntl.flock(self._fd, fcntl.LOCK_UN)
            os.close(self._fd)
            self._fd = None

    def __enter__(self) -> "RunLock":
        return self.acquire()

    def __exit__(self, *exc: Any) -> None:
        self.release()

    def _refusal(self, info: dict[str, Any], remote: bool = False) -> str:
        who = (f"PID {info.get('pid', '?')} on {info.get('host', '?')} since {info.get('since', '?')}"
               f" ({info.get('command', 'genphase')})")
        msg = f"run directory {str(self.root)!r} is in use by {who}; wait for it to finish, or use another --out"
        if remote:
            msg += (f"; that process runs on another machine, so whether it is alive cannot be checked from here: "
                    f"if it is gone, delete {str(self.path)!r} and rerun")
        return msg


def _released(info: dict[str, Any]) -> bool:
    """A lock file whose holder wrote nothing usable (a process killed between open and write)."""
    return not info.get("pid")
